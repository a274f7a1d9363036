// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Envelope} from "./Envelope.sol";
import {IStarknetMessaging} from "./IStarknetMessaging.sol";
import {IArbBridge, IArbInbox, IArbOutbox, IArbitrumEndpoint, IHubFromArbitrum} from "./IArbitrum.sol";
import {IXrouteReceiver} from "./IXrouteReceiver.sol";
import {BoundedCall} from "./BoundedCall.sol";
import {GasTank} from "./GasTank.sol";
import {Metering, MeteredReceipt} from "./Metering.sol";

/// @title Hub
/// @notice xroute's L1 hub. A message leaves its rollup through that rollup's native messaging
/// (proven by the rollup's own proof system), is consumed here, and is forwarded by its envelope's
/// destination: to an L1 app directly, into a Starknet-family rollup through its messaging
/// contract, or into an Arbitrum-family rollup as a retryable ticket through its Inbox. L1 apps
/// send with `send`. Every envelope is processed at most once: a bit per (source endpoint, nonce),
/// so the messages of one source share a storage slot per 256 nonces. `relayBatch` makes many
/// relays in one transaction, each member isolated (one that reverts is skipped and its fee
/// returned). Who may do what, and what is trusted: docs/security.md.
contract Hub is GasTank, IHubFromArbitrum {
    /// @dev The Starknet field prime: every word sent to a Starknet-family chain must be below it.
    uint256 internal constant FELT_PRIME = 0x800000000000011000000000000000000000000000000000000000000000001;
    /// @notice The most an L1 → L2 message into a Starknet-family chain may pay: Starknet's
    /// messaging contract refuses more (`MAX_L1_MSG_FEE_EXCEEDED`), so an escrow above it could
    /// never be forwarded.
    uint256 public constant MAX_STARKNET_FEE = 1 ether;
    /// @notice What a retryable into an Arbitrum domain must at least offer, unless the owner set
    /// other floors: gas for the L2 call (ArbOS skips the automatic redeem below 21,000, and the
    /// endpoint's own work is above that) and a fee cap (ArbOS skips it below the L2 base fee;
    /// 0.01 gwei is Arbitrum One's floor).
    uint64 public constant DEFAULT_RETRYABLE_GAS = 50_000;
    uint192 public constant DEFAULT_RETRYABLE_FEE_CAP = 10_000_000;

    // Metering (`relayBatchMetered`): what the EVM charges a relay transaction outside the stretch
    // the Hub measures with `gasleft()`, calibrated on anvil (docs/gas.md, "Metering"): the 21,000
    // of every transaction, the call's dispatch before the first measurement, and per receipt the
    // event and the return after the last.
    uint256 internal constant TX_BASE = 21_000;
    uint256 internal constant BATCH_PRE = 400;
    uint256 internal constant BATCH_POST = 2_778;
    uint256 internal constant BATCH_PER_RECEIPT = 2_556;
    /// @dev EIP-3529's refund for clearing a slot that was set before the transaction, and for
    /// restoring a slot that was zero before it.
    uint256 internal constant CLEAR_REFUND = 4_800;
    uint256 internal constant RESTORE_REFUND = 19_900;
    /// @dev What settling a paid receipt at once costs besides its storage writes (the payment's
    /// reads, the arithmetic, the `Settled` event), calibrated like the above.
    uint256 internal constant SETTLE_BASE = 9_000;
    /// @dev What executing an Arbitrum exit through nitro's Outbox earns back by restoring its
    /// L2 → L1 context (two slots set to their original non-zero values: 2,800 each), measured
    /// on nitro-contracts 3.2.0 (docs/gas.md).
    uint256 internal constant OUTBOX_RESTORE_REFUND = 5_600;
    /// @dev What `settle` costs outside its measurement (the call's dispatch and ABI decoding
    /// before it, the check and the return after), calibrated like the above, a little low: a
    /// settler is never paid more than its transaction cost.
    uint256 internal constant SETTLE_PRE = 1_750;

    enum Family {
        Unregistered,
        Starknet,
        Arbitrum
    }

    /// @notice A rollup domain. Starknet family: `messaging` is the core messaging contract, and
    /// `endpoint` the L2 endpoint's address (a felt). Arbitrum family: `messaging` is the rollup's
    /// Inbox, `bridge` its Bridge (the L1 caller of every L2 → L1 message, and whose active Outbox
    /// names the L2 sender during the call), `outbox` the Outbox the router executes through,
    /// `endpoint` the L2 endpoint's address.
    struct Domain {
        Family family;
        address messaging;
        uint256 endpoint;
        address bridge;
        address outbox;
    }

    /// @notice One member of `relayBatch`: the calldata of one of this hub's relay functions
    /// (`relayFromStarknet`, `relayFromArbitrum`, `relayFromL1`) and the fee it pays toward the
    /// next leg (what msg.value would be in a single relay).
    struct Member {
        bytes call;
        uint256 fee;
    }

    /// @notice What became of one member of `relayBatch`: whether it succeeded, the gas it used
    /// (call included), and its return data (the id) or revert data.
    struct MemberResult {
        bool ok;
        uint256 gasUsed;
        bytes data;
    }

    /// @notice An Arbitrum L2 → L1 message as the Outbox executes it: the Merkle proof of its leaf
    /// under a send root the rollup posted, its leaf index, and the L2 context ArbSys recorded.
    struct ArbitrumExit {
        uint32 srcDomain;
        bytes32[] proof;
        uint256 index;
        uint256 l2Block;
        uint256 l1Block;
        uint256 l2Timestamp;
        uint256[] words;
    }

    /// @notice How a retryable ticket into an Arbitrum domain is paid (the `entry` argument of the
    /// relay functions, ABI-encoded; empty for other destinations). The router quotes it; the
    /// fee sent along must cover `maxSubmissionCost + gasLimit * maxFeePerGas`.
    struct RetryableEntry {
        uint256 gasLimit;
        uint256 maxFeePerGas;
        uint256 maxSubmissionCost;
        address refundTo;
    }

    /// @notice The least terms a retryable into an Arbitrum domain is created with.
    struct RetryableFloor {
        uint64 gasLimit;
        uint192 maxFeePerGas;
    }

    /// @notice This chain's xroute domain id.
    uint32 public immutable localDomain;
    /// @notice Selector of the endpoints' L1 handler, `receive_message`.
    uint256 public immutable receiveSelector;
    address public owner;
    /// @notice Nonce of the next message an L1 app sends.
    uint64 public nonce;
    mapping(uint32 => Domain) public domains;
    /// @notice Messages this hub has processed (delivered to an L1 app, or forwarded into a
    /// rollup's inbox), one bit per nonce of a source: `processedBits[source][nonce >> 8]` has bit
    /// `nonce & 255`, where `source` is keccak256(abi.encode(domain, endpoint)) (this hub for L1
    /// apps' messages). Set once; a replay reverts. Read with `isProcessed`.
    mapping(bytes32 => mapping(uint256 => uint256)) internal processedBits;
    /// @notice Messages L1 apps sent toward a rollup that no router has forwarded yet: id → the
    /// fee the app escrowed + 1 (0 = not pending). Routers read it with a storage proof.
    mapping(bytes32 => uint256) public outbound;
    /// @dev The fee of the `relayBatch` member being executed (a member's call carries no value:
    /// the batch's msg.value stays here and each member takes its own).
    uint256 internal transient memberFee;
    /// @notice The source (keccak256(abi.encode(domain, endpoint))) of a message that arrived
    /// through a rollup's Outbox and waits in `outbound`: its nonce belongs to the endpoint that
    /// sent it, whatever endpoint the domain has when it is forwarded.
    mapping(bytes32 => bytes32) public outboundSource;
    /// @dev The message `relayFromArbitrum` is executing through the Outbox and forwards in the
    /// same transaction (its source need not be kept).
    bytes32 internal transient forwardingNow;
    /// @notice Per Arbitrum domain, the least `entry` terms the Hub forwards with: terms below
    /// them would skip the automatic redeem and leave the message to a ticket nobody may redeem.
    mapping(uint32 => RetryableFloor) public retryableFloors;
    /// @notice Per source domain, the commitment to every relay receipt (`RelayMetered`) of its
    /// messages: the high 192 bits are a hash chain, head' = keccak256(abi.encode(head, receipt))
    /// truncated, the low 64 bits how many receipts it holds.
    mapping(uint32 => uint256) public meters;
    /// @notice Per source domain, the gas tank on that rollup (its address as a word) that
    /// settlements of its receipts go to.
    mapping(uint32 => bytes32) public tanks;
    /// @notice Per source domain, the value `meters[src]` had when it was last sent to its tank
    /// (`settle`): the receipts after it are the pending ones.
    mapping(uint32 => uint256) public settledMeters;
    /// @dev Set while `relayBatchMetered` runs: its members report what they relayed.
    bool internal transient meteringNow;
    /// @dev What the `relayBatchMetered` member being executed relayed, for the batch to meter it.
    bytes32 internal transient meteredId;
    uint32 internal transient meteredSrc;
    uint256 internal transient meteredFee;
    uint256 internal transient meteredRefund;
    /// @dev The gas refund the relay being executed earns by clearing storage (EIP-3529).
    uint256 internal transient pendingRefund;
    /// @dev The message whose escrow slot `receiveFromArbitrum` set in this transaction.
    bytes32 internal transient receivedNow;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event DomainRegistered(
        uint32 indexed domain, Family family, address messaging, uint256 endpoint, address bridge, address outbox
    );
    event MessageSent(
        bytes32 indexed id, uint32 indexed dstDomain, address indexed sender, uint64 nonce, bytes32 recipient, uint256[] words
    );
    event MessageReceived(bytes32 indexed id, uint32 indexed srcDomain, uint32 indexed dstDomain);
    event MessageDelivered(bytes32 indexed id, address indexed recipient);
    event MessageForwarded(bytes32 indexed id, uint32 indexed dstDomain, bytes32 l2MessageHash, uint256 l2Nonce);
    /// @notice A member of a batch reverted: it was skipped, its fee returned to the caller
    /// (`reason`: its revert data, at most `BoundedCall.MAX_RETURN` bytes of it).
    event BatchMemberFailed(uint256 indexed index, bytes reason);
    event RetryableFloorSet(uint32 indexed domain, uint64 gasLimit, uint192 maxFeePerGas);
    /// @notice The L1 app that sent a waiting message took it back, with its escrow.
    event MessageReclaimed(bytes32 indexed id, address indexed sender, uint256 amount);
    /// @notice What the relays of one transaction cost `relayer` at `gasPrice` (the
    /// transaction's), at `time` (the block's timestamp): two words per relayed message, its id,
    /// then
    /// `srcDomain << 224 | index << 192 | gas << 128 | nextLegFee`. `gas` is the relay's own
    /// execution, measured, plus its share of the transaction's fixed costs (and of a batch's
    /// loop); `nextLegFee` the wei the relayer paid toward the next leg; `index` the receipt's place
    /// in `meters[srcDomain]`, which hashes abi.encode(id, srcDomain, relayer, gas, gasPrice,
    /// nextLegFee, time) with `time` the block's timestamp (`Metering`).
    event RelaysMetered(address indexed relayer, uint256 gasPrice, uint256 time, bytes32[] receipts);
    event TankRegistered(uint32 indexed domain, bytes32 tank);
    /// @notice `domain`'s commitment over its receipts `from` to `to` (exclusive), `meter`, went
    /// to its tank as message `id`, which `settler` paid for.
    event CommitmentSent(
        uint32 indexed domain, bytes32 indexed id, address indexed settler, uint64 from, uint64 to, uint256 meter
    );

    error NotOwner(address caller);
    error UnknownDomain(uint32 domain);
    error NotStarknetDomain(uint32 domain);
    error NotArbitrumDomain(uint32 domain);
    error NotBridge(address caller, address bridge);
    error BadEntry(uint32 domain, uint256 length);
    error UnknownEndpoint(uint32 domain, uint256 endpoint);
    error WrongSourceDomain(uint32 declared, uint32 relayedFrom);
    error AlreadyProcessed(bytes32 id);
    error BadRecipient(bytes32 recipient);
    error WordNotAFelt(uint256 index, uint256 word);
    error FeeMismatch(uint256 expected, uint256 paid);
    error NotPending(bytes32 id);
    error BadBatchMember(uint256 index);
    error BatchOutOfGas(uint256 index, uint256 given, uint256 left);
    error RefundFailed(address to, uint256 amount);
    error EntryBelowFloor(uint32 domain, uint256 gasLimit, uint256 maxFeePerGas);
    error FeeAboveCap(uint32 domain, uint256 cap, uint256 fee);
    error NotTheSender(bytes32 id, address caller);
    error NoTank(uint32 domain);
    error NothingToSettle(uint32 domain);
    error SettleGasAboveCost(uint256 claimed, uint256 measured);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    constructor(uint32 localDomain_, uint256 receiveSelector_) {
        localDomain = localDomain_;
        receiveSelector = receiveSelector_;
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Registers (or updates) a Starknet-family domain: its messaging contract on L1 and
    /// its xroute endpoint on L2. An appchain joins with this call and a config block.
    function registerStarknetDomain(uint32 domain, IStarknetMessaging messaging, uint256 endpoint) external onlyOwner {
        _register(
            domain,
            Domain({
                family: Family.Starknet,
                messaging: address(messaging),
                endpoint: endpoint,
                bridge: address(0),
                outbox: address(0)
            })
        );
    }

    /// @notice Registers (or updates) an Arbitrum-family domain: the rollup's Inbox and Outbox on
    /// L1 (the Bridge is read from the Inbox; the Outbox must be one the Bridge allows) and
    /// xroute's endpoint on the L2.
    function registerArbitrumDomain(uint32 domain, IArbInbox inbox, address outbox, address endpoint)
        external
        onlyOwner
    {
        if (retryableFloors[domain].gasLimit == 0) {
            _setRetryableFloor(domain, DEFAULT_RETRYABLE_GAS, DEFAULT_RETRYABLE_FEE_CAP);
        }
        _register(
            domain,
            Domain({
                family: Family.Arbitrum,
                messaging: address(inbox),
                endpoint: uint256(uint160(endpoint)),
                bridge: inbox.bridge(),
                outbox: outbox
            })
        );
    }

    /// @notice Sets the least terms a retryable into Arbitrum domain `domain` is created with
    /// (the chain's minimum gas price, what its endpoint needs).
    function setRetryableFloor(uint32 domain, uint64 gasLimit, uint192 maxFeePerGas) external onlyOwner {
        if (domains[domain].family != Family.Arbitrum) revert NotArbitrumDomain(domain);
        _setRetryableFloor(domain, gasLimit, maxFeePerGas);
    }

    function _setRetryableFloor(uint32 domain, uint64 gasLimit, uint192 maxFeePerGas) internal {
        if (gasLimit < 21_000 || maxFeePerGas < 2) revert EntryBelowFloor(domain, gasLimit, maxFeePerGas);
        retryableFloors[domain] = RetryableFloor(gasLimit, maxFeePerGas);
        emit RetryableFloorSet(domain, gasLimit, maxFeePerGas);
    }

    function _register(uint32 domain, Domain memory d) internal {
        if (domain == localDomain) revert UnknownDomain(domain);
        domains[domain] = d;
        emit DomainRegistered(domain, d.family, d.messaging, d.endpoint, d.bridge, d.outbox);
    }

    /// @notice Sends a message from an L1 app. To an L1 recipient it is delivered at once. Toward
    /// a rollup it is recorded in `outbound` with msg.value escrowed as (part of) the L2 fee, and a
    /// router forwards it with `relayFromL1`: the router checks it first (an undeployed
    /// recipient) and parks what cannot arrive, instead of paying for it; the sender may
    /// `reclaim` it. Toward a Starknet-family chain, what its messaging contract would refuse is
    /// refused here: an escrow above `MAX_STARKNET_FEE`, a word that is not a felt.
    function send(uint32 dstDomain, bytes32 recipient, uint256[] calldata payload)
        external
        payable
        returns (bytes32 id)
    {
        return _send(dstDomain, recipient, payload, msg.sender, "");
    }

    /// @dev `send` from `sender`, msg.value escrowed: an L1 app's message waits in `outbound`
    /// for a router; this Hub's own (a settlement) is forwarded at once on `entry`, like one to
    /// an L1 app.
    function _send(uint32 dstDomain, bytes32 recipient, uint256[] memory payload, address sender, bytes memory entry)
        internal
        returns (bytes32 id)
    {
        Family family = domains[dstDomain].family;
        if (dstDomain != localDomain && family == Family.Unregistered) revert UnknownDomain(dstDomain);
        if (family == Family.Starknet && msg.value > MAX_STARKNET_FEE) {
            revert FeeAboveCap(dstDomain, MAX_STARKNET_FEE, msg.value);
        }
        uint64 n = nonce++;
        Envelope.Header memory h = Envelope.Header({
            srcDomain: localDomain,
            nonce: n,
            sender: bytes32(uint256(uint160(sender))),
            dstDomain: dstDomain,
            recipient: recipient
        });
        uint256[] memory words = Envelope.encode(h, payload);
        if (family == Family.Starknet) _checkFelts(words);
        id = Envelope.id(words);
        emit MessageSent(id, dstDomain, sender, n, recipient, words);
        if (dstDomain == localDomain || sender == address(this)) {
            _markProcessed(_sourceKey(localDomain, uint256(uint160(address(this)))), n, id);
            _forward(id, h, words, payload, msg.value, entry, address(0));
        } else {
            outbound[id] = msg.value + 1;
        }
    }

    /// @notice Forwards a message waiting in `outbound` into its rollup: one an L1 app sent, or
    /// one that arrived from an Arbitrum domain through its Outbox without being forwarded in the
    /// same transaction (anyone may execute an Outbox message). The fee paid to the rollup's
    /// inbox is the escrow plus msg.value; `entry` says how to pay it (see `RetryableEntry`; the
    /// refunds of a message with an escrow go to its sender, whatever `entry.refundTo` says).
    function relayFromL1(uint256[] calldata words, bytes calldata entry) external payable returns (bytes32 id) {
        (Envelope.Header memory h, uint256[] calldata payload) = Envelope.decode(words);
        id = Envelope.id(words);
        uint256 fee = _fee();
        _forwardPending(id, h, words, payload, entry, fee);
        _meter(id, h.srcDomain, fee);
    }

    /// @notice Consumes a message the Starknet-family domain `srcDomain` proved to L1 (sent by its
    /// endpoint to this hub) and forwards it. msg.value pays the next leg's L2 fee, if any.
    function relayFromStarknet(uint32 srcDomain, uint256 endpoint, uint256[] calldata words, bytes calldata entry)
        external
        payable
        returns (bytes32 id)
    {
        uint256 fee = _fee();
        id = _relay(srcDomain, endpoint, words, fee, entry);
        _meter(id, srcDomain, fee);
    }

    /// @notice Executes an Arbitrum domain's L2 → L1 message through the rollup's registered Outbox
    /// (which checks the Merkle proof against a send root the rollup posted, and spends the leaf
    /// index once) and forwards it in the same transaction. The Outbox calls back
    /// `receiveFromArbitrum` through the Bridge. msg.value pays the next leg's fee, if any.
    function relayFromArbitrum(ArbitrumExit calldata e, bytes calldata entry) external payable returns (bytes32 id) {
        uint256 fee = _fee();
        id = Envelope.id(e.words);
        (Envelope.Header memory h, uint256[] calldata payload) = Envelope.decode(e.words);
        // A message waiting in `outbound` is judged by the source it was received from (below).
        if (outbound[id] == 0) {
            bytes32 source = _sourceKey(h.srcDomain, domains[h.srcDomain].endpoint);
            if (_isProcessed(source, h.nonce)) revert AlreadyProcessed(id);
            forwardingNow = id;
            _executeOutbox(e);
            // The Outbox (and its Bridge) set their L2 → L1 context for the call and restore it
            // after: what that earns back (EIP-3529) is the relay's, for the metering.
            if (meteringNow) pendingRefund += OUTBOX_RESTORE_REFUND;
            forwardingNow = bytes32(0);
            if (_isProcessed(source, h.nonce)) {
                // Delivered to its L1 app inside the Outbox's call.
                if (fee != 0) revert FeeMismatch(0, fee);
                _meter(id, h.srcDomain, 0);
                return id;
            }
        }
        _forwardPending(id, h, e.words, payload, entry, fee);
        _meter(id, h.srcDomain, fee);
    }

    function _executeOutbox(ArbitrumExit calldata e) internal {
        Domain storage src = domains[e.srcDomain];
        if (src.family != Family.Arbitrum) revert NotArbitrumDomain(e.srcDomain);
        (Envelope.Header memory h,) = Envelope.decode(e.words);
        if (h.srcDomain != e.srcDomain) revert WrongSourceDomain(h.srcDomain, e.srcDomain);
        IArbOutbox(src.outbox).executeTransaction(
            e.proof,
            e.index,
            address(uint160(src.endpoint)),
            address(this),
            e.l2Block,
            e.l1Block,
            e.l2Timestamp,
            0,
            abi.encodeCall(IHubFromArbitrum.receiveFromArbitrum, (e.words))
        );
    }

    /// @notice Called by an Arbitrum domain's Bridge while its Outbox executes an L2 → L1 message:
    /// accepted only from the registered Bridge, while the Outbox names the registered L2
    /// endpoint as the L2 sender. An L1-bound message is delivered at once; any other waits in
    /// `outbound` (msg.value, the L2 sender's call value, escrowed) until it is forwarded.
    function receiveFromArbitrum(uint256[] calldata words) external payable returns (bytes32 id) {
        (Envelope.Header memory h, uint256[] calldata payload) = Envelope.decode(words);
        Domain storage src = domains[h.srcDomain];
        if (src.family != Family.Arbitrum) revert NotArbitrumDomain(h.srcDomain);
        if (msg.sender != src.bridge) revert NotBridge(msg.sender, src.bridge);
        address l2Sender = IArbOutbox(IArbBridge(src.bridge).activeOutbox()).l2ToL1Sender();
        if (uint256(uint160(l2Sender)) != src.endpoint) revert UnknownEndpoint(h.srcDomain, uint256(uint160(l2Sender)));
        id = Envelope.id(words);
        bytes32 source = _sourceKey(h.srcDomain, src.endpoint);
        if (outbound[id] != 0 || _isProcessed(source, h.nonce)) revert AlreadyProcessed(id);
        emit MessageReceived(id, h.srcDomain, h.dstDomain);
        if (h.dstDomain == localDomain) {
            _markProcessed(source, h.nonce, id);
            _forward(id, h, words, payload, msg.value, "", address(0));
        } else {
            outbound[id] = msg.value + 1;
            if (forwardingNow != id) outboundSource[id] = source;
            else if (meteringNow) receivedNow = id;
        }
    }

    function _forwardPending(
        bytes32 id,
        Envelope.Header memory h,
        uint256[] calldata words,
        uint256[] calldata payload,
        bytes calldata entry,
        uint256 fee
    ) internal {
        uint256 escrow = outbound[id];
        if (escrow == 0) revert NotPending(id);
        // Clearing the escrow slot: a refund for one set before this transaction, a larger one
        // for one set in it (the Outbox's call just now), for the metering.
        uint256 refund = receivedNow == id ? RESTORE_REFUND : CLEAR_REFUND;
        bool metering = meteringNow;
        bytes32 source = outboundSource[id];
        if (source == bytes32(0)) {
            // An L1 app's send (this hub is its endpoint), or a message forwarded in the
            // transaction that received it (the domain's endpoint did not change in between).
            uint256 endpoint =
                h.srcDomain == localDomain ? uint256(uint160(address(this))) : domains[h.srcDomain].endpoint;
            source = _sourceKey(h.srcDomain, endpoint);
        } else {
            delete outboundSource[id];
            refund += CLEAR_REFUND;
        }
        if (metering) pendingRefund += refund;
        _markProcessed(source, h.nonce, id);
        outbound[id] = 0;
        // Someone else's escrow: its refunds go back to whoever paid it, not to the relayer; a
        // message paid in this tank: where its payer chose.
        address payer = escrow > 1 ? address(uint160(uint256(h.sender))) : _refundAddress(id);
        _forward(id, h, words, payload, escrow - 1 + fee, entry, payer);
    }

    /// @dev Where a next leg's overpayment for message `id` goes when it is paid here (and the
    /// payer's choice is an address), else 0 (the relay's `entry` says).
    function _refundAddress(bytes32 id) internal view returns (address) {
        Payment storage p = payments[id];
        if (!_payable(p, block.timestamp)) return address(0);
        uint256 to = uint256(refundAddressOf(p.payer));
        return to >> 160 == 0 ? address(uint160(to)) : p.payer;
    }

    /// @notice Takes back a message the caller (an L1 app) sent with `send` that no router
    /// forwarded (it waits in `outbound`, e.g. parked: its recipient does not exist): the message
    /// is marked processed, so it can never be forwarded, and its escrow is paid back to the
    /// caller. Returns the escrow.
    function reclaim(uint256[] calldata words) external returns (uint256 amount) {
        (Envelope.Header memory h,) = Envelope.decode(words);
        bytes32 id = Envelope.id(words);
        uint256 escrow = outbound[id];
        if (escrow == 0) revert NotPending(id);
        if (h.srcDomain != localDomain || h.sender != bytes32(uint256(uint160(msg.sender)))) {
            revert NotTheSender(id, msg.sender);
        }
        _markProcessed(_sourceKey(localDomain, uint256(uint160(address(this)))), h.nonce, id);
        outbound[id] = 0;
        amount = escrow - 1;
        emit MessageReclaimed(id, msg.sender, amount);
        if (amount != 0) {
            (bool sent,) = msg.sender.call{value: amount}("");
            if (!sent) revert RefundFailed(msg.sender, amount);
        }
    }

    /// @notice Registers the gas tank of rollup `domain` (its address there, as a word).
    function registerTank(uint32 domain, bytes32 tank) external onlyOwner {
        if (domains[domain].family == Family.Unregistered) revert UnknownDomain(domain);
        tanks[domain] = tank;
        emit TankRegistered(domain, tank);
    }

    /// @notice Sends source domain `src`'s commitment over its pending receipts (every receipt
    /// since the last settlement) to that rollup's tank, as a message from this Hub forwarded in
    /// this transaction; msg.value is its L1 → L2 fee and `entry` its terms toward an Arbitrum
    /// domain (as in `relayFromL1`). The tank then settles those receipts when someone presents
    /// them (they hash to the commitment). The settlement's own cost is shared by the payments it
    /// settles: `claimedGas` (at most what this transaction measures, else
    /// `SettleGasAboveCost(claimed, measured)`: an `eth_call` with a large claim reverts with the
    /// measured gas) at this transaction's gas price, plus msg.value. Anyone may send it. The
    /// payload, every word a felt: `[1, from, to, head, settler, claimedGas, gasPrice, msg.value]`
    /// (`from`..`to` the receipts' places, `head` the chain's 192 bits).
    function settle(uint32 src, uint64 claimedGas, bytes calldata entry) external payable returns (bytes32 id) {
        uint256 start = gasleft();
        bytes32 tank = tanks[src];
        if (tank == bytes32(0)) revert NoTank(src);
        uint256 meter = meters[src];
        uint256 last = settledMeters[src];
        if (meter == last) revert NothingToSettle(src);
        settledMeters[src] = meter;
        uint256[] memory payload = new uint256[](8);
        payload[0] = 1;
        payload[1] = uint64(last);
        payload[2] = uint64(meter);
        payload[3] = meter >> 64;
        payload[4] = uint160(msg.sender);
        payload[5] = claimedGas;
        payload[6] = tx.gasprice;
        payload[7] = msg.value;
        id = _send(src, tank, payload, address(this), entry);
        emit CommitmentSent(src, id, msg.sender, uint64(last), uint64(meter), meter);
        uint256 measured = TX_BASE + _calldataGas() + SETTLE_PRE + (start - gasleft());
        if (claimedGas > measured) revert SettleGasAboveCost(claimedGas, measured);
    }

    function _route(uint32 src, uint32 dst) internal view override returns (bool) {
        return _known(src) && _known(dst) && src != dst;
    }

    function _known(uint32 domain) internal view returns (bool) {
        return domain == localDomain || domains[domain].family != Family.Unregistered;
    }

    /// @notice Makes several relays in one transaction. Each member is one of this hub's relay
    /// calls, made as a call to this hub carrying no value (its fee is taken from the batch's
    /// msg.value, which must be the sum of the members' fees). A member that reverts changes
    /// nothing, is reported (`BatchMemberFailed`, and in the results) and its fee is returned to
    /// the caller; the others go on. A member that runs out of the gas it was given (all but a
    /// 64th of what is left) reverts the whole batch (`BatchOutOfGas`) instead: the transaction was
    /// sent with too little gas, and an estimate of the batch then covers every member. Run as an
    /// `eth_call` it is the router's simulation: which members would pass, and the gas each uses.
    function relayBatch(Member[] calldata members) external payable returns (MemberResult[] memory results) {
        return _relayBatch(members, false, 0);
    }

    /// @notice `relayBatch`, metered: each landed member's cost is recorded as a receipt
    /// (`RelaysMetered`) and folded into its source domain's commitment (`meters`), which a
    /// settlement is checked against. A relayer uses it for messages someone paid for (a batch of
    /// one for a single message); the metering's own cost is in what it records.
    function relayBatchMetered(Member[] calldata members)
        external
        payable
        returns (MemberResult[] memory results)
    {
        uint256 start = gasleft();
        // A metered batch an L1 app starts from inside a member leaves the outer one metered.
        bool outer = meteringNow;
        meteringNow = true;
        results = _relayBatch(members, true, start);
        meteringNow = outer;
    }

    function _relayBatch(Member[] calldata members, bool metered, uint256 start)
        internal
        returns (MemberResult[] memory results)
    {
        uint256 total;
        for (uint256 i = 0; i < members.length; i++) {
            total += members[i].fee;
        }
        if (total != msg.value) revert FeeMismatch(total, msg.value);
        results = new MemberResult[](members.length);
        Receipt[] memory receipts = new Receipt[](metered ? members.length : 0);
        uint256 refund;
        for (uint256 i = 0; i < members.length; i++) {
            Member calldata m = members[i];
            bytes4 selector = m.call.length < 4 ? bytes4(0) : bytes4(m.call[:4]);
            if (
                selector != this.relayFromStarknet.selector && selector != this.relayFromArbitrum.selector
                    && selector != this.relayFromL1.selector
            ) revert BadBatchMember(i);
            memberFee = m.fee;
            // What the member reports is its own (nothing is left from an earlier member).
            if (metered) meteredId = bytes32(0);
            uint256 before = gasleft();
            (bool ok, bytes memory data,) = BoundedCall.call(address(this), 0, m.call);
            uint256 left = gasleft();
            // Out of gas: what a call keeps back (a 64th) is about all that is left.
            if (!ok && left <= before / 63) revert BatchOutOfGas(i, before, left);
            results[i] = MemberResult({ok: ok, gasUsed: before - left, data: data});
            memberFee = 0;
            if (!ok) {
                refund += m.fee;
                emit BatchMemberFailed(i, data);
            } else if (metered && meteredId != bytes32(0)) {
                receipts[i] = Receipt(meteredId, meteredSrc, meteredFee, before - left, meteredRefund);
            }
        }
        if (refund != 0) {
            (bool sent,) = msg.sender.call{value: refund}("");
            if (!sent) revert RefundFailed(msg.sender, refund);
        }
        if (metered) _meterBatch(receipts, results, start);
    }

    /// @dev One landed member of a batch, as the batch meters it.
    struct Receipt {
        bytes32 id;
        uint32 src;
        uint256 fee;
        /// The member's call, measured around it.
        uint256 gas;
        /// What its storage clears earn back (EIP-3529).
        uint256 refund;
    }

    /// @dev Meters the landed members of a batch: each its own measured gas, plus an equal share
    /// of everything else the transaction costs but the failed members (the relayer's own loss).
    function _meterBatch(Receipt[] memory receipts, MemberResult[] memory results, uint256 start) internal {
        (uint256 landed, uint256 shared) = _shared(receipts, results, start);
        if (landed == 0) return;
        bytes32[] memory out = new bytes32[](2 * landed);
        uint256 share = shared / landed;
        uint256 rest = shared % landed;
        Settling memory settling = Settling(new address[](landed), 0, false);
        uint256 k;
        for (uint256 i = 0; i < receipts.length; i++) {
            if (receipts[i].id == bytes32(0)) continue;
            _meterOne(out, k++, receipts[i], share + rest, settling);
            rest = 0;
        }
        emit RelaysMetered(msg.sender, tx.gasprice, block.timestamp, out);
    }

    /// @dev How many members of a batch landed, and the gas the batch's transaction costs beyond
    /// what they used themselves and what its failed members burned (to share among the landed).
    function _shared(Receipt[] memory receipts, MemberResult[] memory results, uint256 start)
        internal
        view
        returns (uint256 landed, uint256 shared)
    {
        uint256 own;
        uint256 failed;
        uint256 stores;
        // The first update of a domain's meter in the transaction is cold (and sets the slot if
        // it was never set), the later ones warm.
        uint32[] memory seen = new uint32[](receipts.length);
        uint256 distinct;
        for (uint256 i = 0; i < receipts.length; i++) {
            if (!results[i].ok) {
                failed += results[i].gasUsed;
                continue;
            }
            // (A member that landed without reporting a message has no receipt.)
            if (receipts[i].id == bytes32(0)) continue;
            landed += 1;
            own += receipts[i].gas;
            uint32 src = receipts[i].src;
            uint256 j = 0;
            while (j < distinct && seen[j] != src) j++;
            if (j < distinct) {
                stores += 100;
            } else {
                seen[distinct++] = src;
                stores += meters[src] == 0 ? 22_100 : 5_000;
            }
        }
        shared = TX_BASE + _calldataGas() + BATCH_PRE + BATCH_POST + landed * BATCH_PER_RECEIPT + stores
            + (start - gasleft()) - own - failed;
    }

    /// @dev Who a batch's settlements have written to so far (the first write of a balance in a
    /// transaction is cold).
    struct Settling {
        address[] payers;
        uint256 count;
        bool relayer;
    }

    /// @dev Records landed member `r` (its own gas and its `share`) as receipt `k` of `out`, and
    /// settles its payment, if any: a paid receipt also carries what settling it costs.
    function _meterOne(bytes32[] memory out, uint256 k, Receipt memory r, uint256 share, Settling memory settling)
        internal
    {
        uint256 gas = r.gas - r.refund + share;
        Payment storage p = payments[r.id];
        bool paid = _payable(p, block.timestamp);
        if (paid) gas += _settleGas(p, settling);
        _record(out, k, r.id, r.src, gas, r.fee);
        if (paid) _settle(r.id, p, msg.sender, gas, tx.gasprice, r.fee, address(0), 0);
    }


    /// @dev What settling payment `p` in this batch costs: `SETTLE_BASE`, and the storage writes
    /// (its reservation, the payer's and the relayer's balances) as EIP-2929/3529 price them.
    function _settleGas(Payment storage p, Settling memory settling) internal view returns (uint256 gas) {
        // The reservation's slot keeps the leg budget: cleared (a refund) only when that is 0.
        gas = SETTLE_BASE + 2_900;
        if (p.legBudget == 0) gas -= CLEAR_REFUND;
        address payer = p.payer;
        uint256 j = 0;
        while (j < settling.count && settling.payers[j] != payer) j++;
        if (j < settling.count) {
            gas += 200;
        } else {
            settling.payers[settling.count++] = payer;
            gas += balances[payer] == 0 ? 22_100 : 5_000;
        }
        if (payer == msg.sender) return gas;
        if (settling.relayer) {
            gas += 200;
        } else {
            settling.relayer = true;
            gas += balances[msg.sender] == 0 ? 22_100 : 5_000;
        }
    }

    /// @notice Whether this hub processed the message of nonce `nonce` from domain `srcDomain`'s
    /// registered endpoint (this hub itself for the local domain).
    function isProcessed(uint32 srcDomain, uint64 nonce) external view returns (bool) {
        uint256 endpoint = srcDomain == localDomain ? uint256(uint160(address(this))) : domains[srcDomain].endpoint;
        return _isProcessed(_sourceKey(srcDomain, endpoint), nonce);
    }

    /// @dev Inside `relayBatchMetered`: tells the batch what this member relayed (message `id`
    /// from `src`, `fee` paid toward the next leg, `pendingRefund` gas earned back by clearing
    /// storage). Otherwise nothing.
    function _meter(bytes32 id, uint32 src, uint256 fee) internal {
        if (!meteringNow) return;
        (meteredId, meteredSrc, meteredFee, meteredRefund) = (id, src, fee, pendingRefund);
        pendingRefund = 0;
    }

    /// @dev Folds receipt (id, src, msg.sender, gas, tx.gasprice, fee, block.timestamp) into
    /// `meters[src]` and
    /// writes its two words at `out[2k]`.
    function _record(bytes32[] memory out, uint256 k, bytes32 id, uint32 src, uint256 gas, uint256 fee)
        internal
    {
        uint256 meter = meters[src];
        uint256 index = uint64(meter);
        meters[src] = Metering.fold(meter, Metering.hash(id, src, msg.sender, gas, tx.gasprice, fee, block.timestamp));
        out[2 * k] = id;
        out[2 * k + 1] = bytes32(
            (uint256(src) << 224) | (uint256(uint32(index)) << 192) | (uint256(uint64(gas)) << 128) | uint128(fee)
        );
    }

    /// @dev The calldata's gas (EIP-2028: 16 per non-zero byte, 4 per zero byte), a word at a time.
    function _calldataGas() internal pure returns (uint256 g) {
        assembly ("memory-safe") {
            let len := calldatasize()
            let ones := 0x0101010101010101010101010101010101010101010101010101010101010101
            let nonzero := 0
            // Two words a turn (calldata reads past the end are zero: counted as nothing).
            for { let p := 0 } lt(p, len) { p := add(p, 64) } {
                let x := calldataload(p)
                let y := calldataload(add(p, 32))
                // Bit 0 of each byte becomes the OR of that byte's bits; then count those bits.
                x := or(x, shr(4, x))
                y := or(y, shr(4, y))
                x := or(x, shr(2, x))
                y := or(y, shr(2, y))
                x := or(x, shr(1, x))
                y := or(y, shr(1, y))
                nonzero := add(nonzero, byte(0, mul(add(and(x, ones), and(y, ones)), ones)))
            }
            g := add(mul(nonzero, 16), mul(sub(len, nonzero), 4))
        }
    }

    /// @dev What a relay pays toward the next leg: msg.value, or inside `relayBatch` the member's
    /// fee (taken once).
    function _fee() internal returns (uint256 fee) {
        fee = msg.value;
        if (msg.sender == address(this)) {
            fee += memberFee;
            memberFee = 0;
        }
    }

    function _sourceKey(uint32 domain, uint256 endpoint) internal pure returns (bytes32) {
        return keccak256(abi.encode(domain, endpoint));
    }

    function _isProcessed(bytes32 source, uint64 nonce) internal view returns (bool) {
        return processedBits[source][nonce >> 8] & (uint256(1) << (nonce & 255)) != 0;
    }

    function _markProcessed(bytes32 source, uint64 nonce, bytes32 id) internal {
        uint256 word = processedBits[source][nonce >> 8];
        uint256 bit = uint256(1) << (nonce & 255);
        if (word & bit != 0) revert AlreadyProcessed(id);
        processedBits[source][nonce >> 8] = word | bit;
    }

    function _relay(uint32 srcDomain, uint256 endpoint, uint256[] calldata words, uint256 fee, bytes calldata entry)
        internal
        returns (bytes32 id)
    {
        Domain storage src = domains[srcDomain];
        if (src.family != Family.Starknet) revert NotStarknetDomain(srcDomain);
        if (endpoint != src.endpoint) revert UnknownEndpoint(srcDomain, endpoint);
        (Envelope.Header memory h, uint256[] calldata payload) = Envelope.decode(words);
        if (h.srcDomain != srcDomain) revert WrongSourceDomain(h.srcDomain, srcDomain);
        id = Envelope.id(words);
        _markProcessed(_sourceKey(srcDomain, endpoint), h.nonce, id);
        // Reverts unless the rollup's state update made this message consumable by this hub.
        IStarknetMessaging(src.messaging).consumeMessageFromL2(endpoint, words);
        emit MessageReceived(id, srcDomain, h.dstDomain);
        _forward(id, h, words, payload, fee, entry, address(0));
    }

    function _forward(
        bytes32 id,
        Envelope.Header memory h,
        uint256[] memory words,
        uint256[] memory payload,
        uint256 fee,
        bytes memory entry,
        address payer
    ) internal {
        if (h.dstDomain == localDomain) {
            if (fee != 0) revert FeeMismatch(0, fee);
            if (uint256(h.recipient) >> 160 != 0) revert BadRecipient(h.recipient);
            address recipient = address(uint160(uint256(h.recipient)));
            if (recipient.code.length == 0) revert BadRecipient(h.recipient);
            // The app's revert data is copied bounded: a megabyte of it must not sink a batch.
            (bool ok, bytes memory head, uint256 size) = BoundedCall.call(
                recipient, 0, abi.encodeCall(IXrouteReceiver.onMessage, (h.srcDomain, h.sender, payload))
            );
            if (!ok) BoundedCall.bubble(recipient, head, size);
            emit MessageDelivered(id, recipient);
            return;
        }
        Domain storage dst = domains[h.dstDomain];
        if (dst.family == Family.Arbitrum) {
            uint256 messageNum = _createRetryable(dst, h.dstDomain, words, fee, entry, payer);
            emit MessageForwarded(id, h.dstDomain, bytes32(0), messageNum);
            return;
        }
        if (dst.family != Family.Starknet) revert UnknownDomain(h.dstDomain);
        _checkFelts(words);
        if (fee > MAX_STARKNET_FEE) revert FeeAboveCap(h.dstDomain, MAX_STARKNET_FEE, fee);
        (bytes32 l2Hash, uint256 l2Nonce) =
            IStarknetMessaging(dst.messaging).sendMessageToL2{value: fee}(dst.endpoint, receiveSelector, words);
        emit MessageForwarded(id, h.dstDomain, l2Hash, l2Nonce);
    }

    /// @dev The terms of `entry` for Arbitrum domain `dstDomain`, refused below its floor, their
    /// refund address `payer` unless that is 0.
    function _terms(uint32 dstDomain, bytes memory entry, address payer)
        internal
        view
        returns (RetryableEntry memory r)
    {
        if (entry.length != 128) revert BadEntry(dstDomain, entry.length);
        r = abi.decode(entry, (RetryableEntry));
        RetryableFloor memory floor = retryableFloors[dstDomain];
        if (r.gasLimit < floor.gasLimit || r.maxFeePerGas < floor.maxFeePerGas) {
            revert EntryBelowFloor(dstDomain, r.gasLimit, r.maxFeePerGas);
        }
        if (payer != address(0)) r.refundTo = payer;
    }

    function _checkFelts(uint256[] memory words) internal pure {
        for (uint256 i = 0; i < words.length; i++) {
            if (words[i] >= FELT_PRIME) revert WordNotAFelt(i, words[i]);
        }
    }

    /// @dev A retryable ticket into Arbitrum domain `dst` whose L2 call is the endpoint's handler
    /// (the L2 sees this hub aliased); returns the Inbox's message number. Terms below the
    /// domain's floor are refused. The ticket's refunds go to `payer` when the fee is (partly)
    /// someone else's escrow, else where the caller says (`entry.refundTo`).
    function _createRetryable(
        Domain storage dst,
        uint32 dstDomain,
        uint256[] memory words,
        uint256 fee,
        bytes memory entry,
        address payer
    ) internal returns (uint256) {
        RetryableEntry memory r = _terms(dstDomain, entry, payer);
        return IArbInbox(dst.messaging).createRetryableTicket{value: fee}(
            address(uint160(dst.endpoint)),
            0,
            r.maxSubmissionCost,
            r.refundTo,
            r.refundTo,
            r.gasLimit,
            r.maxFeePerGas,
            abi.encodeCall(IArbitrumEndpoint.receiveMessage, (words))
        );
    }
}
