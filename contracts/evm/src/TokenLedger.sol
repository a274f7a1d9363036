// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IXrouteReceiver} from "./IXrouteReceiver.sol";
import {XToken} from "./XToken.sol";

interface IHubForLedger {
    function send(uint32 dstDomain, bytes32 recipient, uint256[] calldata payload) external payable returns (bytes32);
    function localDomain() external view returns (uint32);
}

/// @title TokenLedger
/// @notice The L1 side of the canonical token: its router on L1 (burns and mints the L1 `XToken`)
/// and the ledger of how much of the token lives on every chain. Every transfer that leaves a
/// rollup reaches L1 as a message its rollup proved, and is accepted only if the source chain
/// holds that much (`supply[src]`); a chain whose token contract is broken cannot take out more
/// than was sent to it. A transfer the destination could not take (unknown chain, a recipient
/// that is not an address there, the destination paused) is sent back to the sender on the source
/// instead. Per route, outbound and inbound rate limits refill linearly over `window`; a transfer
/// over a limit is queued here, completed by anyone once the capacity is back, or cancelled by its
/// sender (which returns the amount on the source chain).
///
/// Messages (payload words):
///   rollup router → ledger: [1 TRANSFER, dstDomain, recipient, amount, sender]
///                           [2 CANCEL, queueId, sender]
///   ledger → rollup router: [1 MINT, recipient, amount, srcDomain, sender, why]
///                           why: 0 a transfer, 1 a refund, 2 a cancelled queued transfer
///
/// A message the ledger refuses reverts with a readable reason (`Error(string)`, naming the
/// refusal: `ExceedsSupply: …`), so the relay fails and the router parks the message with it.
///
/// Invariant: sum(supply) + queuedTotal == the initial supply, at every block; and on every
/// chain the token's totalSupply ≤ supply[chain] (the difference is in flight), equal once
/// nothing is in flight. `xroute token audit` checks both from the chains.
contract TokenLedger is IXrouteReceiver {
    uint256 public constant OP_TRANSFER = 1;
    uint256 public constant OP_CANCEL = 2;
    uint256 public constant OP_MINT = 1;
    uint256 public constant WHY_TRANSFER = 0;
    uint256 public constant WHY_REFUND = 1;
    uint256 public constant WHY_CANCELLED = 2;
    uint256 internal constant AMOUNT_BOUND = 1 << 128;
    uint256 internal constant STARKNET_BOUND = 1 << 251;
    uint256 internal constant EVM_BOUND = 1 << 160;

    /// @notice How a chain's addresses look.
    enum Kind {
        Unknown,
        Evm,
        Starknet
    }

    struct Chain {
        Kind kind;
        /// The token router on that chain (its address as a word); this contract on L1.
        bytes32 router;
        bool paused;
    }

    /// @notice A rate limit: `capacity` per `window`, refilled linearly; capacity 0 is no limit.
    struct Bucket {
        uint128 capacity;
        uint128 available;
        uint64 updated;
    }

    struct Pending {
        uint32 src;
        uint32 dst;
        bool open;
        uint64 queuedAt;
        uint128 amount;
        bytes32 from;
        bytes32 to;
        /// Wei an L1 sender paid toward the destination's entry fee, kept for the forward.
        uint256 fee;
    }

    IHubForLedger public immutable hub;
    XToken public immutable token;
    uint32 public immutable localDomain;
    address public owner;
    /// @notice The rate limits' refill period, seconds.
    uint64 public window = 1 days;
    bool public initialized;
    uint256 public initialSupply;

    mapping(uint32 => Chain) public chains;
    /// @notice How much of the token lives on each chain (in flight toward it included).
    mapping(uint32 => uint256) public supply;
    mapping(uint32 => Bucket) public outbound;
    mapping(uint32 => Bucket) public inbound;
    mapping(uint256 => Pending) public queued;
    uint256 public lastQueueId;
    /// @notice Queued amounts: on no chain until completed or cancelled.
    uint256 public queuedTotal;

    event ChainRegistered(uint32 indexed domain, Kind kind, bytes32 router);
    event ChainPaused(uint32 indexed domain, bool paused);
    event LimitsSet(uint32 indexed domain, uint128 outboundCapacity, uint128 inboundCapacity);
    event WindowSet(uint64 window);
    event Transferred(uint32 indexed src, uint32 indexed dst, bytes32 from, bytes32 to, uint256 amount);
    event Refunded(uint32 indexed src, uint32 indexed dst, bytes32 from, bytes32 to, uint256 amount, string reason);
    event Queued(uint256 indexed id, uint32 indexed src, uint32 indexed dst, bytes32 from, bytes32 to, uint256 amount);
    event Completed(uint256 indexed id);
    event Cancelled(uint256 indexed id);

    error OnlyHub(address caller);
    error OnlyOwner(address caller);
    error AlreadyInitialized();
    error ZeroAmount();
    error AmountTooLarge(uint256 amount);
    error UnknownDestination(uint32 domain);
    error BadRecipient(uint32 domain, bytes32 recipient);
    error DestinationPaused(uint32 domain);
    error NotQueued(uint256 id);
    error NotTheSender(uint256 id, bytes32 caller);
    error StillLimited(uint256 id, uint256 outboundAvailable, uint256 inboundAvailable);

    constructor(address hub_, address token_) {
        hub = IHubForLedger(hub_);
        token = XToken(token_);
        localDomain = IHubForLedger(hub_).localDomain();
        owner = msg.sender;
        chains[localDomain] = Chain({kind: Kind.Evm, router: bytes32(uint256(uint160(address(this)))), paused: false});
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        _;
    }

    /// @notice Mints the whole initial supply on L1 to `to`, once (the token's router must be this).
    function initialize(address to, uint256 amount) external onlyOwner {
        if (initialized) revert AlreadyInitialized();
        initialized = true;
        initialSupply = amount;
        supply[localDomain] = amount;
        token.mint(to, amount);
    }

    /// @notice Registers (or updates) chain `domain` with its token router.
    function registerChain(uint32 domain, Kind kind, bytes32 router) external onlyOwner {
        if (domain == localDomain || kind == Kind.Unknown) revert UnknownDestination(domain);
        chains[domain].kind = kind;
        chains[domain].router = router;
        emit ChainRegistered(domain, kind, router);
    }

    function setPaused(uint32 domain, bool paused) external onlyOwner {
        chains[domain].paused = paused;
        emit ChainPaused(domain, paused);
    }

    /// @notice Sets a chain's rate limits (0: none); the available amount starts full.
    function setLimits(uint32 domain, uint128 outboundCapacity, uint128 inboundCapacity) external onlyOwner {
        outbound[domain] = Bucket(outboundCapacity, outboundCapacity, uint64(block.timestamp));
        inbound[domain] = Bucket(inboundCapacity, inboundCapacity, uint64(block.timestamp));
        emit LimitsSet(domain, outboundCapacity, inboundCapacity);
    }

    function setWindow(uint64 seconds_) external onlyOwner {
        if (seconds_ == 0) revert ZeroAmount();
        window = seconds_;
        emit WindowSet(seconds_);
    }

    /// @notice Moves `amount` of the caller's L1 tokens to `recipient` on `dstDomain`; msg.value
    /// pays toward the destination's entry fee. Returns the queue id when it was queued (0: sent).
    function transfer(uint32 dstDomain, bytes32 recipient, uint256 amount) external payable returns (uint256) {
        if (amount == 0) revert ZeroAmount();
        if (amount >= AMOUNT_BOUND) revert AmountTooLarge(amount);
        if (dstDomain == localDomain || chains[dstDomain].kind == Kind.Unknown) revert UnknownDestination(dstDomain);
        if (!_fits(dstDomain, recipient)) revert BadRecipient(dstDomain, recipient);
        if (chains[dstDomain].paused) revert DestinationPaused(dstDomain);
        token.burn(msg.sender, amount);
        supply[localDomain] -= amount;
        return _route(localDomain, dstDomain, bytes32(uint256(uint160(msg.sender))), recipient, amount, msg.value);
    }

    /// @notice A message from a chain's token router, delivered by the Hub.
    function onMessage(uint32 srcDomain, bytes32 sender, uint256[] calldata payload) external {
        if (msg.sender != address(hub)) revert OnlyHub(msg.sender);
        if (srcDomain == localDomain || chains[srcDomain].router != sender || sender == bytes32(0)) {
            revert(
                string.concat(
                    "UnknownRouter: ",
                    Strings.toHexString(uint256(sender), 32),
                    " is not the token router of domain ",
                    Strings.toString(srcDomain)
                )
            );
        }
        uint256 op = payload.length > 0 ? payload[0] : 0;
        if (op == OP_TRANSFER && payload.length == 5) {
            if (payload[1] > type(uint32).max) revert("BadPayload: the destination is not a uint32");
            uint32 dst = uint32(payload[1]);
            bytes32 to = bytes32(payload[2]);
            uint256 amount = payload[3];
            bytes32 from = bytes32(payload[4]);
            if (amount == 0 || amount >= AMOUNT_BOUND) {
                revert(string.concat("BadAmount: ", Strings.toString(amount), " is zero or not below 2^128"));
            }
            if (amount > supply[srcDomain]) {
                revert(
                    string.concat(
                        "ExceedsSupply: domain ",
                        Strings.toString(srcDomain),
                        " holds ",
                        Strings.toString(supply[srcDomain]),
                        " on the ledger, the transfer moves ",
                        Strings.toString(amount)
                    )
                );
            }
            supply[srcDomain] -= amount;
            string memory why = _undeliverable(dst, to);
            if (bytes(why).length != 0) {
                _mintOn(srcDomain, from, amount, WHY_REFUND, dst, from, 0);
                emit Refunded(srcDomain, dst, from, to, amount, why);
                return;
            }
            _route(srcDomain, dst, from, to, amount, 0);
        } else if (op == OP_CANCEL && payload.length == 3) {
            uint256 id = payload[1];
            Pending storage q = queued[id];
            if (!q.open || q.src != srcDomain) {
                revert(string.concat("NotQueued: no open queued transfer ", Strings.toString(id), " from this domain"));
            }
            if (q.from != bytes32(payload[2])) {
                revert(string.concat("NotTheSender: queued transfer ", Strings.toString(id), " is someone else's"));
            }
            _cancel(id);
        } else {
            revert(
                string.concat(
                    "BadPayload: operation ", Strings.toString(op), " with ", Strings.toString(payload.length), " words"
                )
            );
        }
    }

    /// @notice Completes queued transfer `id` once both limits have room; anyone may call it.
    function complete(uint256 id) external {
        Pending storage q = queued[id];
        if (!q.open) revert NotQueued(id);
        Bucket storage out = outbound[q.src];
        Bucket storage into = inbound[q.dst];
        _refill(out);
        _refill(into);
        if (_over(out, q.amount) || _over(into, q.amount)) revert StillLimited(id, out.available, into.available);
        _take(out, q.amount);
        _take(into, q.amount);
        q.open = false;
        queuedTotal -= q.amount;
        _mintOn(q.dst, q.to, q.amount, WHY_TRANSFER, q.src, q.from, q.fee);
        emit Completed(id);
        emit Transferred(q.src, q.dst, q.from, q.to, q.amount);
    }

    /// @notice Cancels queued transfer `id` sent from L1 by the caller: the amount returns to them.
    function cancel(uint256 id) external {
        Pending storage q = queued[id];
        if (!q.open || q.src != localDomain) revert NotQueued(id);
        bytes32 caller = bytes32(uint256(uint160(msg.sender)));
        if (q.from != caller) revert NotTheSender(id, caller);
        _cancel(id);
    }

    /// @notice Whether `recipient` is an address on `domain`.
    function _fits(uint32 domain, bytes32 recipient) internal view returns (bool) {
        Kind kind = chains[domain].kind;
        uint256 word = uint256(recipient);
        if (word == 0) return false;
        if (kind == Kind.Evm) return word < EVM_BOUND;
        if (kind == Kind.Starknet) return word < STARKNET_BOUND;
        return false;
    }

    /// @notice Why a transfer to `recipient` on `dst` cannot arrive, or "".
    function _undeliverable(uint32 dst, bytes32 recipient) internal view returns (string memory) {
        if (chains[dst].kind == Kind.Unknown) return "unknown destination";
        if (!_fits(dst, recipient)) return "recipient is not an address on the destination";
        if (chains[dst].paused) return "destination paused";
        return "";
    }

    /// @notice Delivers now, or queues when a limit has no room.
    function _route(uint32 src, uint32 dst, bytes32 from, bytes32 to, uint256 amount, uint256 fee)
        internal
        returns (uint256 id)
    {
        Bucket storage out = outbound[src];
        Bucket storage into = inbound[dst];
        _refill(out);
        _refill(into);
        if (_over(out, amount) || _over(into, amount)) {
            id = ++lastQueueId;
            queued[id] = Pending({
                src: src,
                dst: dst,
                open: true,
                queuedAt: uint64(block.timestamp),
                amount: uint128(amount),
                from: from,
                to: to,
                fee: fee
            });
            queuedTotal += amount;
            emit Queued(id, src, dst, from, to, amount);
            return id;
        }
        _take(out, amount);
        _take(into, amount);
        _mintOn(dst, to, amount, WHY_TRANSFER, src, from, fee);
        emit Transferred(src, dst, from, to, amount);
        return 0;
    }

    function _cancel(uint256 id) internal {
        Pending storage q = queued[id];
        q.open = false;
        queuedTotal -= q.amount;
        _mintOn(q.src, q.from, q.amount, WHY_CANCELLED, q.dst, q.from, q.fee);
        emit Cancelled(id);
    }

    /// @notice Counts `amount` on `dst` and mints it there: on L1 directly, elsewhere by a message
    /// to the chain's token router (fee: wei toward its entry fee).
    function _mintOn(uint32 dst, bytes32 to, uint256 amount, uint256 why, uint32 src, bytes32 from, uint256 fee)
        internal
    {
        supply[dst] += amount;
        if (dst == localDomain) {
            token.mint(address(uint160(uint256(to))), amount);
            if (fee != 0) {
                (bool ok,) = address(uint160(uint256(to))).call{value: fee}("");
                ok; // a fee returned to an L1 address that refuses it stays here
            }
            return;
        }
        uint256[] memory words = new uint256[](6);
        words[0] = OP_MINT;
        words[1] = uint256(to);
        words[2] = amount;
        words[3] = src;
        words[4] = uint256(from);
        words[5] = why;
        hub.send{value: fee}(dst, chains[dst].router, words);
    }

    function _refill(Bucket storage b) internal {
        if (b.capacity == 0) return;
        uint256 elapsed = block.timestamp - b.updated;
        uint256 refill = (uint256(b.capacity) * elapsed) / window;
        uint256 available = uint256(b.available) + refill;
        b.available = available > b.capacity ? b.capacity : uint128(available);
        b.updated = uint64(block.timestamp);
    }

    function _over(Bucket storage b, uint256 amount) internal view returns (bool) {
        return b.capacity != 0 && amount > b.available;
    }

    function _take(Bucket storage b, uint256 amount) internal {
        if (b.capacity != 0) b.available -= uint128(amount);
    }
}
