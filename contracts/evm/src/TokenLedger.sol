// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IXrouteReceiver} from "./IXrouteReceiver.sol";
import {IXrouteTokenReceiver} from "./IXrouteTokenReceiver.sol";
import {XToken} from "./XToken.sol";
import {BoundedCall} from "./BoundedCall.sol";

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
/// over a limit is queued here, completed by anyone once the capacity is back (and the
/// destination is not paused), or cancelled by its sender (which returns the amount on the source
/// chain). A transfer larger than a route's whole capacity could never complete: from L1 it is
/// refused, from a rollup sent back at once, and a queued one that a lowered capacity left above
/// it is sent back by `complete`.
///
/// Messages (payload words):
///   rollup router → ledger: [1 TRANSFER, dstDomain, recipient, amount, sender]
///                           [2 CANCEL, queueId, sender]
///                           [3 TRANSFER_CALL, dstDomain, recipient, amount, sender, data…]
///   ledger → rollup router: [1 MINT, recipient, amount, srcDomain, sender, why]
///                           [3 MINT_CALL, recipient, amount, srcDomain, sender, why, data…]
///                           why: 0 a transfer, 1 a refund, 2 a cancelled queued transfer
///
/// A transfer-and-call (operation 3, `transferCall` on L1) mints to the recipient and then calls
/// its `onTokens(srcDomain, sender, amount, why, data)` (IXrouteTokenReceiver; on a rollup, the
/// router's `on_tokens`). On L1 a callback that reverts undoes the mint, and the amount goes back
/// to the sender with the same data and why = 1, so the sender can tell what came back. A call
/// may carry amount 0 (data only). A refund or a cancellation of a call is a call too.
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
    uint256 public constant OP_TRANSFER_CALL = 3;
    uint256 public constant OP_MINT = 1;
    uint256 public constant OP_MINT_CALL = 3;
    uint256 public constant WHY_TRANSFER = 0;
    uint256 public constant WHY_REFUND = 1;
    uint256 public constant WHY_CANCELLED = 2;
    uint256 internal constant AMOUNT_BOUND = 1 << 128;
    uint256 internal constant STARKNET_BOUND = 1 << 251;
    uint256 internal constant EVM_BOUND = 1 << 160;
    uint256 internal constant FELT_PRIME = 0x800000000000011000000000000000000000000000000000000000000000001;
    /// @notice The most an L1 sender may pay toward a Starknet chain's entry fee (the Hub's cap).
    uint256 public constant MAX_STARKNET_FEE = 1 ether;

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
    /// @notice Whether queued transfer `id` is a transfer-and-call, and its data.
    mapping(uint256 => bool) public queuedCall;
    mapping(uint256 => uint256[]) internal queuedData;
    /// @notice Wei owed to L1 accounts whose fee could not be returned (they refused ETH);
    /// `withdrawOwed` pays it out.
    mapping(address => uint256) public owed;

    /// @notice One transfer on its way through the ledger.
    struct Leg {
        uint32 src;
        uint32 dst;
        bytes32 from;
        bytes32 to;
        uint256 amount;
        /// Wei an L1 sender paid toward the destination's entry fee.
        uint256 fee;
        /// A transfer-and-call: the recipient's `onTokens` gets `data`.
        bool call;
        uint256[] data;
    }

    event ChainRegistered(uint32 indexed domain, Kind kind, bytes32 router);
    event ChainPaused(uint32 indexed domain, bool paused);
    event LimitsSet(uint32 indexed domain, uint128 outboundCapacity, uint128 inboundCapacity);
    event WindowSet(uint64 window);
    event Transferred(uint32 indexed src, uint32 indexed dst, bytes32 from, bytes32 to, uint256 amount);
    event Refunded(uint32 indexed src, uint32 indexed dst, bytes32 from, bytes32 to, uint256 amount, string reason);
    event Queued(uint256 indexed id, uint32 indexed src, uint32 indexed dst, bytes32 from, bytes32 to, uint256 amount);
    event Completed(uint256 indexed id);
    event Cancelled(uint256 indexed id);
    event FeeOwed(address indexed account, uint256 amount);

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
    error OnlySelf(address caller);
    error AboveCapacity(uint32 domain, uint256 capacity, uint256 amount);
    error FeeAboveCap(uint32 domain, uint256 cap, uint256 fee);
    error CallbackOutOfGas();
    error NothingOwed(address account);
    error PayoutFailed(address to, uint256 amount);

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
        return _transferFromL1(dstDomain, recipient, amount, false, new uint256[](0));
    }

    /// @notice Like `transfer`, and the recipient's router calls the recipient's `on_tokens` with
    /// `data` (each word must fit the destination: a felt on a Starknet chain). `amount` may be 0.
    function transferCall(uint32 dstDomain, bytes32 recipient, uint256 amount, uint256[] calldata data)
        external
        payable
        returns (uint256)
    {
        return _transferFromL1(dstDomain, recipient, amount, true, data);
    }

    function _transferFromL1(uint32 dstDomain, bytes32 recipient, uint256 amount, bool call, uint256[] memory data)
        internal
        returns (uint256)
    {
        if (amount >= AMOUNT_BOUND) revert AmountTooLarge(amount);
        if (dstDomain == localDomain || chains[dstDomain].kind == Kind.Unknown) revert UnknownDestination(dstDomain);
        if (!_fits(dstDomain, recipient)) revert BadRecipient(dstDomain, recipient);
        if (chains[dstDomain].paused) revert DestinationPaused(dstDomain);
        if (chains[dstDomain].kind == Kind.Starknet && msg.value > MAX_STARKNET_FEE) {
            revert FeeAboveCap(dstDomain, MAX_STARKNET_FEE, msg.value);
        }
        Leg memory leg = Leg({
            src: localDomain,
            dst: dstDomain,
            from: bytes32(uint256(uint160(msg.sender))),
            to: recipient,
            amount: amount,
            fee: msg.value,
            call: call,
            data: data
        });
        string memory why = _undeliverable(leg);
        if (bytes(why).length != 0) revert(string.concat("BadData: ", why));
        (uint32 limited, uint256 capacity) = _aboveCapacity(leg.src, leg.dst, amount);
        if (capacity != 0) revert AboveCapacity(limited, capacity, amount);
        token.burn(msg.sender, amount);
        supply[localDomain] -= amount;
        return _route(leg);
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
        bool call = op == OP_TRANSFER_CALL && payload.length >= 5;
        if ((op == OP_TRANSFER && payload.length == 5) || call) {
            if (payload[1] > type(uint32).max) revert("BadPayload: the destination is not a uint32");
            uint32 dst = uint32(payload[1]);
            bytes32 to = bytes32(payload[2]);
            uint256 amount = payload[3];
            bytes32 from = bytes32(payload[4]);
            if ((amount == 0 && !call) || amount >= AMOUNT_BOUND) {
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
            Leg memory leg = Leg({
                src: srcDomain, dst: dst, from: from, to: to, amount: amount, fee: 0, call: call, data: payload[5:]
            });
            string memory why = _undeliverable(leg);
            if (bytes(why).length != 0) {
                _refund(leg, why);
                return;
            }
            (, uint256 capacity) = _aboveCapacity(srcDomain, dst, amount);
            if (capacity != 0) {
                _refund(leg, string.concat("above the route's capacity of ", Strings.toString(capacity)));
                return;
            }
            _route(leg);
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

    /// @notice Completes queued transfer `id` once both limits have room and its destination is
    /// not paused; anyone may call it. One that a route's capacity (lowered since) can never
    /// take is sent back to its sender instead (why = 1, an L1 sender's fee with it).
    function complete(uint256 id) external {
        Pending storage q = queued[id];
        if (!q.open) revert NotQueued(id);
        if (chains[q.dst].paused) revert DestinationPaused(q.dst);
        (, uint256 capacity) = _aboveCapacity(q.src, q.dst, q.amount);
        if (capacity != 0) {
            _close(id, WHY_REFUND);
            emit Refunded(q.src, q.dst, q.from, q.to, q.amount, "above the route's capacity");
            return;
        }
        Bucket storage out = outbound[q.src];
        Bucket storage into = inbound[q.dst];
        _refill(out);
        _refill(into);
        if (_over(out, q.amount) || _over(into, q.amount)) revert StillLimited(id, out.available, into.available);
        _take(out, q.amount);
        _take(into, q.amount);
        q.open = false;
        queuedTotal -= q.amount;
        Leg memory leg = _queuedLeg(id);
        emit Completed(id);
        _deliver(leg);
    }

    /// @notice Cancels queued transfer `id` sent from L1 by the caller: the amount returns to them.
    function cancel(uint256 id) external {
        Pending storage q = queued[id];
        if (!q.open || q.src != localDomain) revert NotQueued(id);
        bytes32 caller = bytes32(uint256(uint160(msg.sender)));
        if (q.from != caller) revert NotTheSender(id, caller);
        _cancel(id);
    }

    /// @notice Pays the caller the fees it is `owed` (returned while it refused ETH) to `to`.
    function withdrawOwed(address to) external {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed(msg.sender);
        owed[msg.sender] = 0;
        (bool ok,,) = BoundedCall.call(to, amount, "");
        if (!ok) revert PayoutFailed(to, amount);
    }

    /// @notice The ledger's own call for a transfer-and-call to L1: mints and calls the recipient's
    /// `onTokens`, so that a callback that reverts undoes the mint with it. A callback that ran
    /// out of gas is told apart here, where it ran (`CallbackOutOfGas`): the 1/64 of gas this
    /// frame keeps would hide it from the ledger's frame above.
    function mintAndCall(Leg calldata leg) external {
        if (msg.sender != address(this)) revert OnlySelf(msg.sender);
        supply[localDomain] += leg.amount;
        address account = address(uint160(uint256(leg.to)));
        token.mint(account, leg.amount);
        // A call to an address without code would "succeed" doing nothing: refuse it (refunded).
        if (account.code.length == 0) revert("the recipient has no code");
        uint256 before = gasleft();
        (bool ok, bytes memory head, uint256 size) = BoundedCall.call(
            account,
            0,
            abi.encodeCall(IXrouteTokenReceiver.onTokens, (leg.src, leg.from, leg.amount, WHY_TRANSFER, leg.data))
        );
        if (ok) return;
        if (gasleft() <= before / 63) revert CallbackOutOfGas();
        BoundedCall.bubble(account, head, size);
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

    /// @notice Why `leg` cannot arrive, or "": its recipient, and a call's data on a Starknet chain.
    function _undeliverable(Leg memory leg) internal view returns (string memory) {
        string memory why = _undeliverable(leg.dst, leg.to);
        if (bytes(why).length != 0 || !leg.call || chains[leg.dst].kind != Kind.Starknet) return why;
        for (uint256 i = 0; i < leg.data.length; i++) {
            if (leg.data[i] >= FELT_PRIME) return string.concat("data word ", Strings.toString(i), " is not a felt");
        }
        return "";
    }

    /// @notice Delivers now, or queues when a limit has no room.
    function _route(Leg memory leg) internal returns (uint256 id) {
        Bucket storage out = outbound[leg.src];
        Bucket storage into = inbound[leg.dst];
        _refill(out);
        _refill(into);
        if (_over(out, leg.amount) || _over(into, leg.amount)) {
            id = ++lastQueueId;
            queued[id] = Pending({
                src: leg.src,
                dst: leg.dst,
                open: true,
                queuedAt: uint64(block.timestamp),
                amount: uint128(leg.amount),
                from: leg.from,
                to: leg.to,
                fee: leg.fee
            });
            if (leg.call) {
                queuedCall[id] = true;
                queuedData[id] = leg.data;
            }
            queuedTotal += leg.amount;
            emit Queued(id, leg.src, leg.dst, leg.from, leg.to, leg.amount);
            return id;
        }
        _take(out, leg.amount);
        _take(into, leg.amount);
        _deliver(leg);
        return 0;
    }

    /// @notice Mints `leg` on its destination. A call to an L1 recipient whose `onTokens` reverts
    /// is sent back to its sender instead (unless the callback ran out of gas: then the relay
    /// reverts, so that a relayer cannot force a refund by starving it).
    function _deliver(Leg memory leg) internal {
        if (leg.dst == localDomain && leg.call) {
            uint256 before = gasleft();
            try this.mintAndCall(leg) {}
            catch Error(string memory reason) {
                _outOfGas(before);
                _refund(leg, string.concat("onTokens reverted: ", reason));
                return;
            } catch (bytes memory raw) {
                _outOfGas(before);
                if (raw.length == 4 && bytes4(raw) == CallbackOutOfGas.selector) {
                    revert("OutOfGas: the recipient's onTokens ran out of gas");
                }
                _refund(
                    leg,
                    string.concat(
                        "onTokens reverted: ",
                        raw.length >= 4 ? Strings.toHexString(uint32(bytes4(raw)), 4) : "without a reason",
                        raw.length >= 4 ? string.concat(" (", Strings.toString(raw.length), " bytes)") : ""
                    )
                );
                return;
            }
        } else {
            _mintOn(leg.dst, leg.to, leg.src, WHY_TRANSFER, leg);
        }
        emit Transferred(leg.src, leg.dst, leg.from, leg.to, leg.amount);
    }

    function _outOfGas(uint256 before) internal view {
        if (gasleft() <= before / 63) revert("OutOfGas: the recipient's onTokens ran out of gas");
    }

    /// @notice Sends `leg` back to its sender on its source chain, with `why`.
    function _refund(Leg memory leg, string memory why) internal {
        leg.fee = 0;
        _mintOn(leg.src, leg.from, leg.dst, WHY_REFUND, leg);
        emit Refunded(leg.src, leg.dst, leg.from, leg.to, leg.amount, why);
    }

    function _queuedLeg(uint256 id) internal view returns (Leg memory) {
        Pending storage q = queued[id];
        return Leg({
            src: q.src,
            dst: q.dst,
            from: q.from,
            to: q.to,
            amount: q.amount,
            fee: q.fee,
            call: queuedCall[id],
            data: queuedData[id]
        });
    }

    function _cancel(uint256 id) internal {
        _close(id, WHY_CANCELLED);
        emit Cancelled(id);
    }

    /// @notice Closes queued transfer `id` and returns it to its sender on its source chain.
    function _close(uint256 id, uint256 why) internal {
        Pending storage q = queued[id];
        q.open = false;
        queuedTotal -= q.amount;
        Leg memory leg = _queuedLeg(id);
        delete queuedData[id];
        _mintOn(leg.src, leg.from, leg.dst, why, leg);
    }

    /// @notice Whether `amount` exceeds the whole capacity of the route `src` → `dst` (an
    /// outbound or inbound limit it can never fit): the limited domain and that capacity, or
    /// capacity 0 when it fits.
    function _aboveCapacity(uint32 src, uint32 dst, uint256 amount) internal view returns (uint32, uint256) {
        uint256 out = outbound[src].capacity;
        if (out != 0 && amount > out) return (src, out);
        uint256 into = inbound[dst].capacity;
        if (into != 0 && amount > into) return (dst, into);
        return (0, 0);
    }

    /// @notice Counts `leg.amount` on `chain` and mints it to `to` there (`origin`: the chain on
    /// the other end): on L1 directly (calling a call's recipient, for a transfer), elsewhere by a
    /// MINT or MINT_CALL message to the chain's token router (the leg's fee: wei toward its entry
    /// fee).
    function _mintOn(uint32 chain, bytes32 to, uint32 origin, uint256 why, Leg memory leg) internal {
        supply[chain] += leg.amount;
        if (chain == localDomain) {
            address account = address(uint160(uint256(to)));
            token.mint(account, leg.amount);
            if (leg.fee != 0) {
                (bool ok,,) = BoundedCall.call(account, leg.fee, "");
                if (!ok) {
                    // Kept for the account, which may `withdrawOwed` it to an address that takes it.
                    owed[account] += leg.fee;
                    emit FeeOwed(account, leg.fee);
                }
            }
            // A transfer-and-call to L1 is minted and called by `mintAndCall`; a refund or a
            // cancellation to an L1 sender is minted only (its sender called us).
            return;
        }
        uint256[] memory words = new uint256[](leg.call ? 6 + leg.data.length : 6);
        words[0] = leg.call ? OP_MINT_CALL : OP_MINT;
        words[1] = uint256(to);
        words[2] = leg.amount;
        words[3] = origin;
        words[4] = uint256(leg.from);
        words[5] = why;
        for (uint256 i = 0; i < words.length - 6; i++) {
            words[6 + i] = leg.data[i];
        }
        hub.send{value: leg.fee}(chain, chains[chain].router, words);
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
