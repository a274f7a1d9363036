// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {BoundedCall} from "./BoundedCall.sol";

/// @title GasTank
/// @notice Payments for relaying messages (issue 27), the same on L1 (the Hub) and on a rollup
/// (`ArbitrumTank`): an account deposits, pays for a message on terms (an L1 gas limit, a cap on
/// the L1 gas price, a budget for the next leg's entry fee, a deadline) whose worst case is
/// reserved from its balance, and a settlement charges the relay's metered cost within the terms
/// and gives the rest back, to the wei. Anyone may pay for any message; only its payer changes
/// the terms (`topUp`) or, after the deadline and `SETTLE_GRACE`, takes an unsettled payment back
/// (`release`). Relayers' charges are credited to their balance here and withdrawn like any.
abstract contract GasTank {
    /// @notice After a payment's deadline, how long a settlement may still come before its payer
    /// may `release` it.
    uint256 public constant SETTLE_GRACE = 1 days;

    /// @notice What a payer offers for relaying one message: at most `gasLimit` L1 gas at a gas
    /// price of at most `maxBaseFee + maxPriorityFee` (a relay while the base fee is above
    /// `maxBaseFee` is charged at most that), at most `legBudget` wei toward the next leg's entry
    /// fee, relayed by `deadline` (unix seconds, L1 time).
    struct Terms {
        uint64 gasLimit;
        uint32 deadline;
        uint128 maxBaseFee;
        uint128 maxPriorityFee;
        uint128 legBudget;
    }

    /// @notice A payment for one message: `reserved` is the worst case of its terms, taken from
    /// the payer's balance; 0 once settled or released.
    struct Payment {
        address payer;
        uint64 gasLimit;
        uint32 deadline;
        uint128 maxBaseFee;
        uint128 maxPriorityFee;
        uint128 legBudget;
        uint128 reserved;
    }

    /// @notice Wei each account deposited (or was paid, or refunded) and has not reserved for a
    /// payment nor withdrawn.
    mapping(address => uint256) public balances;
    /// @notice Payments for messages, by message id.
    mapping(bytes32 => Payment) public payments;
    /// @notice Where each payer wants a next leg's overpayment to go (an Arbitrum retryable's
    /// excess fee and call-value refunds), as a word of the destination's addresses; 0: the
    /// payer's own address.
    mapping(address => bytes32) public refundAddresses;

    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, address to, uint256 amount);
    /// @notice `payer` reserved `reserved` wei (the worst case of `terms`) for relaying message
    /// `id`, or changed its terms (`topUp`).
    event Paid(bytes32 indexed id, address indexed payer, Terms terms, uint256 reserved);
    /// @notice A settlement charged the payment for message `id`: `charge` to `relayer` for the
    /// relay, `share` to `settler` for its part of the settlement's own cost, `refund` back to the
    /// payer. charge + share + refund is what was reserved.
    event Settled(
        bytes32 indexed id, address indexed relayer, uint256 charge, address settler, uint256 share, uint256 refund
    );
    /// @notice `payer` chose where a next leg's overpayment for its messages goes.
    event RefundAddressSet(address indexed payer, bytes32 to);
    /// @notice The payer took back an unsettled payment after its deadline and grace.
    event Released(bytes32 indexed id, address indexed payer, uint256 amount);

    error ZeroGasLimit();
    error DeadlinePassed(uint256 deadline, uint256 now_);
    error InsufficientBalance(uint256 balance, uint256 needed);
    error AlreadyPaid(bytes32 id, address payer);
    error NotPaid(bytes32 id);
    error NotThePayer(bytes32 id, address caller);
    error NotReleasable(bytes32 id, uint256 from);
    error WithdrawFailed(address to, uint256 amount);
    error UnknownRoute(uint32 srcDomain, uint32 dstDomain);

    /// @notice Adds msg.value to `account`'s balance.
    function deposit(address account) external payable {
        balances[account] += msg.value;
        emit Deposited(account, msg.value);
    }

    /// @notice Sends `amount` of the caller's balance (not reserved) to `to`.
    function withdraw(uint256 amount, address to) external {
        uint256 balance = balances[msg.sender];
        if (amount > balance) revert InsufficientBalance(balance, amount);
        balances[msg.sender] = balance - amount;
        emit Withdrawn(msg.sender, to, amount);
        (bool ok,,) = BoundedCall.call(to, amount, "");
        if (!ok) revert WithdrawFailed(to, amount);
    }

    /// @notice The caller pays for relaying message `id` (from `srcDomain` to `dstDomain`) on
    /// `terms`: their worst case is reserved from the caller's balance. Anyone may pay for any
    /// message, once; its payer changes the terms with `topUp`.
    function pay(bytes32 id, uint32 srcDomain, uint32 dstDomain, Terms calldata terms) external {
        if (!_route(srcDomain, dstDomain)) revert UnknownRoute(srcDomain, dstDomain);
        address payer = payments[id].payer;
        if (payer != address(0)) revert AlreadyPaid(id, payer);
        _reserve(id, msg.sender, terms, 0);
    }

    /// @notice The payer of message `id` replaces its terms (a later deadline, a higher cap or
    /// budget), reserving the difference from (or returning it to) its balance.
    function topUp(bytes32 id, Terms calldata terms) external {
        Payment storage p = payments[id];
        if (p.reserved == 0) revert NotPaid(id);
        if (p.payer != msg.sender) revert NotThePayer(id, msg.sender);
        _reserve(id, msg.sender, terms, p.reserved);
    }

    /// @notice After a payment's deadline and `SETTLE_GRACE`, its payer takes the reservation back.
    function release(bytes32 id) external {
        Payment storage p = payments[id];
        if (p.reserved == 0) revert NotPaid(id);
        if (p.payer != msg.sender) revert NotThePayer(id, msg.sender);
        uint256 from = uint256(p.deadline) + SETTLE_GRACE;
        if (block.timestamp <= from) revert NotReleasable(id, from);
        uint256 amount = p.reserved;
        p.reserved = 0;
        balances[msg.sender] += amount;
        emit Released(id, msg.sender, amount);
    }

    /// @notice Where a next leg's overpayment for the caller's paid messages goes (0: its own
    /// address).
    function setRefundAddress(bytes32 to) external {
        refundAddresses[msg.sender] = to;
        emit RefundAddressSet(msg.sender, to);
    }

    /// @notice Where a next leg's overpayment for `payer`'s messages goes.
    function refundAddressOf(address payer) public view returns (bytes32) {
        bytes32 to = refundAddresses[payer];
        return to == bytes32(0) ? bytes32(uint256(uint160(payer))) : to;
    }

    /// @notice The worst case of `terms`: what a payment on them reserves.
    function worstCase(Terms calldata terms) public pure returns (uint256) {
        return uint256(terms.gasLimit) * (uint256(terms.maxBaseFee) + terms.maxPriorityFee) + terms.legBudget;
    }

    /// @dev Whether this tank takes payments for messages from `src` to `dst`.
    function _route(uint32 src, uint32 dst) internal view virtual returns (bool);

    /// @dev Sets `payer`'s payment for `id` to `terms`, its reservation the terms' worst case,
    /// of which `held` is already reserved.
    function _reserve(bytes32 id, address payer, Terms calldata terms, uint256 held) internal {
        if (terms.gasLimit == 0) revert ZeroGasLimit();
        if (terms.deadline <= block.timestamp) revert DeadlinePassed(terms.deadline, block.timestamp);
        uint256 worst = worstCase(terms);
        uint256 balance = balances[payer] + held;
        if (worst > balance) revert InsufficientBalance(balance, worst);
        balances[payer] = balance - worst;
        payments[id] = Payment({
            payer: payer,
            gasLimit: terms.gasLimit,
            deadline: terms.deadline,
            maxBaseFee: terms.maxBaseFee,
            maxPriorityFee: terms.maxPriorityFee,
            legBudget: terms.legBudget,
            reserved: uint128(worst)
        });
        emit Paid(id, payer, terms, worst);
    }

    /// @dev Whether payment `p` is open for a relay made at `time`.
    function _payable(Payment storage p, uint256 time) internal view returns (bool) {
        return p.reserved != 0 && time <= p.deadline;
    }

    /// @dev Settles open payment `p` for message `id`, whose relay by `relayer` cost `gas` at
    /// `gasPrice` and `fee` wei toward the next leg: `relayer` is credited
    /// `min(gas, gasLimit) × min(gasPrice, cap) + min(fee, legBudget)`, `settler` up to `share` of
    /// what is left, the payer the rest of the reservation.
    function _settle(
        bytes32 id,
        Payment storage p,
        address relayer,
        uint256 gas,
        uint256 gasPrice,
        uint256 fee,
        address settler,
        uint256 share
    ) internal {
        uint256 cap = uint256(p.maxBaseFee) + p.maxPriorityFee;
        if (gasPrice > cap) gasPrice = cap;
        if (gas > p.gasLimit) gas = p.gasLimit;
        if (fee > p.legBudget) fee = p.legBudget;
        uint256 charge = gas * gasPrice + fee;
        uint256 rest = p.reserved - charge;
        if (share > rest) share = rest;
        p.reserved = 0;
        balances[relayer] += charge;
        if (share != 0) balances[settler] += share;
        balances[p.payer] += rest - share;
        emit Settled(id, relayer, charge, settler, share, rest - share);
    }
}
