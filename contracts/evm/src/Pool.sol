// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IXrouteTokenReceiver} from "./IXrouteTokenReceiver.sol";

interface ITokenRouterForPools {
    function transferRemoteCall(uint32 dstDomain, bytes32 recipient, uint256 amount, uint256[] calldata data)
        external
        returns (bytes32);
}

/// @title Pool
/// @notice The DeFi pool of an EVM rollup: the Solidity twin of `contracts/starknet/src/pool.cairo`
/// (same epochs, messages, claims and rounding; ADR 0009). Users `deposit` the canonical token
/// (the rollup's `TokenRouter`) and `requestWithdrawal` of their pool shares into the current
/// epoch; anyone may `closeEpoch` once it is older than `period` or holds at least `size`: its
/// deposits D cross to the L1 `PoolManager` as one transfer-and-call with `[epoch, W, entriesHash]`.
/// The answer `[epoch, S_D, A_W, D, W, totalAssets, totalSupply]` comes back with A_W tokens;
/// `claim` then gives `amount × S_D / D` shares per deposit and `shares × A_W / W` tokens per
/// withdrawal, floored (the remainder stays here, counted in `claimedShares`/`claimedAssets`).
/// A refund of the epoch (the vault refused) gives every deposit and every share back.
contract Pool is IXrouteTokenReceiver {
    using SafeERC20 for IERC20;

    enum State {
        Open,
        Sent,
        Settled,
        Refunded
    }

    struct Epoch {
        State state;
        uint64 openedAt;
        uint32 entries;
        bytes32 entriesHash;
        uint256 deposits;
        uint256 withdrawals;
        uint256 depositShares;
        uint256 withdrawalAssets;
        uint256 totalAssets;
        uint256 totalSupply;
        uint256 claimedShares;
        uint256 claimedAssets;
    }

    uint256 internal constant AMOUNT_BOUND = 1 << 128;

    /// @notice The canonical token's router on this chain.
    address public immutable token;
    /// @notice The L1 PoolManager (an address as a word).
    bytes32 public immutable manager;
    uint32 public immutable l1Domain;
    uint64 public immutable period;
    uint256 public immutable size;

    uint64 public currentEpoch = 1;
    mapping(uint64 => Epoch) public epochs;
    mapping(uint64 => mapping(address => uint256)) public deposited;
    mapping(uint64 => mapping(address => uint256)) public withdrawing;
    mapping(uint64 => mapping(address => bool)) public claimed;
    mapping(address => uint256) public sharesOf;
    /// @notice The pool shares users hold (claimed, not asked back).
    uint256 public totalShares;

    event Deposited(uint64 indexed epoch, address indexed account, uint256 amount);
    event WithdrawalRequested(uint64 indexed epoch, address indexed account, uint256 shares);
    event EpochClosed(uint64 indexed epoch, uint256 deposits, uint256 withdrawals, uint32 entries, bytes32 entriesHash);
    event EpochSettled(uint64 indexed epoch, uint256 depositShares, uint256 withdrawalAssets);
    event EpochRefunded(uint64 indexed epoch, uint256 amount);
    event Claimed(uint64 indexed epoch, address indexed account, uint256 shares, uint256 amount);

    error ZeroAmount();
    error AmountTooLarge(uint256 amount);
    /// @notice The entry would bring the epoch's deposits or withdrawals to 2^128 or more, which
    /// the ledger refuses to move: the epoch could never close.
    error EpochFull(uint64 epoch, uint256 total);
    error InsufficientShares(uint256 shares, uint256 held);
    error EpochEmpty(uint64 epoch);
    error EpochNotDue(uint64 epoch, uint256 age, uint256 deposits);
    error OnlyToken(address caller);
    error NotFromL1(uint32 srcDomain);
    error EpochNotSent(uint64 epoch);
    error NotFromManager(bytes32 from);
    error NotOurEpoch(bytes32 from);
    error BadAnswer(uint64 epoch);
    error EpochNotSettled(uint64 epoch);
    error AlreadyClaimed(uint64 epoch, address account);
    error NothingToClaim(uint64 epoch, address account);

    constructor(address token_, bytes32 manager_, uint32 l1Domain_, uint64 period_, uint256 size_) {
        token = token_;
        manager = manager_;
        l1Domain = l1Domain_;
        period = period_;
        size = size_;
        epochs[1].openedAt = uint64(block.timestamp);
    }

    /// @notice Takes `amount` of the caller's tokens (approved to the pool) into the current epoch.
    function deposit(uint256 amount) external {
        uint64 epoch = currentEpoch;
        _entry(epoch, 1, amount);
        uint256 total = epochs[epoch].deposits + amount;
        if (total >= AMOUNT_BOUND) revert EpochFull(epoch, total);
        deposited[epoch][msg.sender] += amount;
        epochs[epoch].deposits = total;
        emit Deposited(epoch, msg.sender, amount);
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Takes `shares` of the caller's pool shares into the current epoch's withdrawals.
    function requestWithdrawal(uint256 shares) external {
        uint64 epoch = currentEpoch;
        uint256 held = sharesOf[msg.sender];
        if (shares > held) revert InsufficientShares(shares, held);
        _entry(epoch, 2, shares);
        uint256 total = epochs[epoch].withdrawals + shares;
        if (total >= AMOUNT_BOUND) revert EpochFull(epoch, total);
        sharesOf[msg.sender] = held - shares;
        totalShares -= shares;
        withdrawing[epoch][msg.sender] += shares;
        epochs[epoch].withdrawals = total;
        emit WithdrawalRequested(epoch, msg.sender, shares);
    }

    /// @notice Closes the current epoch and sends it to L1; returns the message id.
    function closeEpoch() external returns (bytes32) {
        uint64 epoch = currentEpoch;
        Epoch storage e = epochs[epoch];
        if (e.deposits == 0 && e.withdrawals == 0) revert EpochEmpty(epoch);
        uint256 age = block.timestamp - e.openedAt;
        if (age < period && e.deposits < size) revert EpochNotDue(epoch, age, e.deposits);
        e.state = State.Sent;
        currentEpoch = epoch + 1;
        epochs[epoch + 1].openedAt = uint64(block.timestamp);
        emit EpochClosed(epoch, e.deposits, e.withdrawals, e.entries, e.entriesHash);
        uint256[] memory data = new uint256[](3);
        data[0] = epoch;
        data[1] = e.withdrawals;
        data[2] = uint256(e.entriesHash);
        return ITokenRouterForPools(token).transferRemoteCall(l1Domain, manager, e.deposits, data);
    }

    /// @inheritdoc IXrouteTokenReceiver
    function onTokens(uint32 srcDomain, bytes32 from, uint256 amount, uint256 why, uint256[] calldata data)
        external
    {
        if (msg.sender != token) revert OnlyToken(msg.sender);
        if (srcDomain != l1Domain) revert NotFromL1(srcDomain);
        if (data.length < 3 || data[0] > type(uint64).max) revert BadAnswer(0);
        uint64 epoch = uint64(data[0]);
        Epoch storage e = epochs[epoch];
        if (e.state != State.Sent) revert EpochNotSent(epoch);
        if (why == 0) {
            if (from != manager) revert NotFromManager(from);
            if (data.length != 7 || amount != data[2] || data[3] != e.deposits || data[4] != e.withdrawals) {
                revert BadAnswer(epoch);
            }
            e.depositShares = data[1];
            e.withdrawalAssets = data[2];
            e.totalAssets = data[5];
            e.totalSupply = data[6];
            e.state = State.Settled;
            emit EpochSettled(epoch, data[1], data[2]);
        } else {
            if (from != bytes32(uint256(uint160(address(this))))) revert NotOurEpoch(from);
            if (data.length != 3 || amount != e.deposits) revert BadAnswer(epoch);
            e.state = State.Refunded;
            emit EpochRefunded(epoch, amount);
        }
    }

    /// @notice Credits the caller's entries of a settled or refunded `epoch`.
    function claim(uint64 epoch) external returns (uint256 shares, uint256 amount) {
        Epoch storage e = epochs[epoch];
        if (e.state != State.Settled && e.state != State.Refunded) revert EpochNotSettled(epoch);
        if (claimed[epoch][msg.sender]) revert AlreadyClaimed(epoch, msg.sender);
        uint256 d = deposited[epoch][msg.sender];
        uint256 w = withdrawing[epoch][msg.sender];
        if (d == 0 && w == 0) revert NothingToClaim(epoch, msg.sender);
        claimed[epoch][msg.sender] = true;
        if (e.state == State.Settled) {
            shares = d == 0 ? 0 : (d * e.depositShares) / e.deposits;
            amount = w == 0 ? 0 : (w * e.withdrawalAssets) / e.withdrawals;
            e.claimedShares += shares;
            e.claimedAssets += amount;
        } else {
            (shares, amount) = (w, d);
        }
        sharesOf[msg.sender] += shares;
        totalShares += shares;
        emit Claimed(epoch, msg.sender, shares, amount);
        if (amount != 0) IERC20(token).safeTransfer(msg.sender, amount);
    }

    function _entry(uint64 epoch, uint256 kind, uint256 amount) internal {
        if (amount == 0) revert ZeroAmount();
        if (amount >= AMOUNT_BOUND) revert AmountTooLarge(amount);
        Epoch storage e = epochs[epoch];
        e.entriesHash = keccak256(abi.encode(e.entriesHash, msg.sender, kind, amount));
        e.entries += 1;
    }
}
