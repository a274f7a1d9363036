// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {IXrouteReceiver} from "./IXrouteReceiver.sol";
import {IXrouteTokenReceiver} from "./IXrouteTokenReceiver.sol";
import {BoundedCall} from "./BoundedCall.sol";
import {WordCodec} from "./WordCodec.sol";
import {StorageProof} from "./StorageProof.sol";

interface IMessenger {
    function send(uint32 dstDomain, bytes32 recipient, uint256[] calldata payload) external returns (bytes32);
}

/// @title Replier
/// @notice What the account router and the reader share: a request names up to `MAX_REPLIES`
/// (domain, recipient) pairs its answer is sent to, through `messenger` (the Hub on L1, the
/// Endpoint on an Arbitrum chain). A reply that cannot be sent (an unknown domain, a recipient the
/// Hub refuses) is skipped with `ReplyFailed`: it never undoes what the request did.
abstract contract Replier {
    uint256 public constant MAX_REPLIES = 4;

    address public immutable messenger;

    event ReplyFailed(uint32 indexed domain, bytes32 recipient, bytes reason);

    error OnlyMessenger(address caller);
    error BadRequest(string why);

    constructor(address messenger_) {
        messenger = messenger_;
    }

    /// @notice The replies at `payload[at]` (their count, then the pairs) and the index after them.
    function _replies(uint256[] calldata payload, uint256 at)
        internal
        pure
        returns (uint32[] memory domains, bytes32[] memory recipients, uint256 next)
    {
        if (at >= payload.length) revert BadRequest("no reply count");
        uint256 k = payload[at];
        if (k > MAX_REPLIES) revert BadRequest("more than 4 replies");
        if (at + 1 + 2 * k > payload.length) revert BadRequest("truncated replies");
        domains = new uint32[](k);
        recipients = new bytes32[](k);
        for (uint256 i = 0; i < k; i++) {
            uint256 d = payload[at + 1 + 2 * i];
            if (d > type(uint32).max) revert BadRequest("a reply domain is not a uint32");
            domains[i] = uint32(d);
            recipients[i] = bytes32(payload[at + 2 + 2 * i]);
        }
        next = at + 1 + 2 * k;
    }

    /// @notice Sends `answer` to each reply; one that fails is skipped with `ReplyFailed`.
    function _reply(uint32[] memory domains, bytes32[] memory recipients, uint256[] memory answer) internal {
        for (uint256 i = 0; i < domains.length; i++) {
            try IMessenger(messenger).send(domains[i], recipients[i], answer) {}
            catch (bytes memory reason) {
                emit ReplyFailed(domains[i], recipients[i], reason);
            }
        }
    }
}

/// @title InterchainAccount
/// @notice One owner's account (an address on another chain), made by its `AccountRouter` on
/// first use as an EIP-1167 clone of the router's one implementation (what `router` names is
/// that implementation's immutable, so every clone answers only to its router). It runs the calls
/// its router hands it, all or none: the first that fails reverts them all with
/// `CallFailed(index, reason)`.
contract InterchainAccount {
    struct Call {
        address target;
        uint256 value;
        bytes data;
    }

    address public immutable router;

    error OnlyRouter(address caller);
    error CallFailed(uint256 index, bytes reason);

    constructor() {
        router = msg.sender;
    }

    /// @notice Runs `calls` in order; returns each one's return data (at most
    /// `BoundedCall.MAX_RETURN` bytes of it). A call with data to an address without code fails.
    function execute(Call[] calldata calls) external returns (bytes[] memory results) {
        if (msg.sender != router) revert OnlyRouter(msg.sender);
        results = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            Call calldata c = calls[i];
            if (c.data.length != 0 && c.target.code.length == 0) revert CallFailed(i, bytes("no code at the target"));
            (bool ok, bytes memory head,) = BoundedCall.call(c.target, c.value, c.data);
            if (!ok) revert CallFailed(i, head);
            results[i] = head;
        }
    }

    receive() external payable {}
}

/// @title AccountRouter
/// @notice Interchain accounts (issue 31): one `InterchainAccount` per (source domain, owner),
/// made on its owner's first message at an address anyone computes beforehand (`accountOf`:
/// CREATE2 from this router, salt keccak256(abi.encode(domain, owner)), the EIP-1167 clone code of
/// `implementation`). Only the owner's messages command it: the owner is the sender the Hub proved (or, for a
/// transfer-and-call of the canonical token, the sender the ledger names). A message's calls run
/// all or none, and the result goes to the domains the message names.
///
/// Request (message payload, or a transfer-and-call's data; every word below 2^251):
///   [1 CALLS, tag, k, (domain, recipient) × k, outputs, n, (target, value, data) × n]
///   where data is a byte string in `WordCodec` words (length, then 31 bytes a word), 1 ≤ n ≤ 16,
///   and bit i of `outputs` asks for call i's return data in the result.
/// Result (sent to each of the k replies):
///   [2 RESULT, tag, srcDomain, owner, ok, failedIndex, m, bytes × m]
///   ok: the return data of the calls `outputs` names, in order (failedIndex = n); not ok: the
///   failing call's index and its revert data (m = 1). Answers stay short because a message's
///   cost on its destination grows with its words (on starknet-devnet 0.10.1 an L1 → Starknet
///   message of more than 15 words to the sample app cannot even be estimated).
/// A transfer-and-call funds the account with the tokens first: they stay there whatever the
/// calls do. A request that does not parse reverts (the Hub's relay fails and the router parks
/// the message with the reason; a transfer-and-call is refunded by the ledger).
contract AccountRouter is Replier, IXrouteReceiver, IXrouteTokenReceiver {
    uint256 public constant OP_CALLS = 1;
    uint256 public constant OP_RESULT = 2;
    uint256 public constant MAX_CALLS = 16;

    /// @notice Who may call `onTokens` (the token ledger on L1); zero without the token.
    address public immutable tokenRouter;
    /// @notice The token a transfer-and-call delivers (XToken on L1).
    address public immutable token;
    /// @notice The code every account runs (made by this router, so answering to it only).
    address public immutable implementation;

    event AccountCreated(uint32 indexed domain, bytes32 indexed owner, address account);
    event Executed(
        uint32 indexed domain, bytes32 indexed owner, uint256 indexed tag, address account, bool ok, uint256 failedIndex
    );

    error OnlyTokenRouter(address caller);
    error FundingFailed(address account, uint256 amount);

    constructor(address messenger_, address tokenRouter_, address token_) Replier(messenger_) {
        tokenRouter = tokenRouter_;
        token = token_;
        implementation = address(new InterchainAccount());
    }

    /// @notice The account of `owner` on `domain`, made or not.
    function accountOf(uint32 domain, bytes32 owner) public view returns (address) {
        return Clones.predictDeterministicAddress(implementation, _salt(domain, owner));
    }

    /// @inheritdoc IXrouteReceiver
    function onMessage(uint32 srcDomain, bytes32 sender, uint256[] calldata payload) external {
        if (msg.sender != messenger) revert OnlyMessenger(msg.sender);
        _run(srcDomain, sender, payload);
    }

    /// @inheritdoc IXrouteTokenReceiver
    function onTokens(uint32 srcDomain, bytes32 from, uint256 amount, uint256 why, uint256[] calldata data) external {
        if (tokenRouter == address(0) || msg.sender != tokenRouter) revert OnlyTokenRouter(msg.sender);
        address account = _account(srcDomain, from);
        if (amount != 0 && !IERC20(token).transfer(account, amount)) revert FundingFailed(account, amount);
        // A refund or a cancelled transfer only credits the account.
        if (why != 0 || data.length == 0) return;
        _run(srcDomain, from, data);
    }

    function _salt(uint32 domain, bytes32 owner) internal pure returns (bytes32) {
        return keccak256(abi.encode(domain, owner));
    }

    /// @notice `owner`'s account, made if it is not yet.
    function _account(uint32 domain, bytes32 owner) internal returns (address account) {
        account = accountOf(domain, owner);
        if (account.code.length == 0) {
            address made = Clones.cloneDeterministic(implementation, _salt(domain, owner));
            assert(made == account);
            emit AccountCreated(domain, owner, account);
        }
    }

    function _run(uint32 srcDomain, bytes32 owner, uint256[] calldata payload) internal {
        if (payload.length < 4 || payload[0] != OP_CALLS) revert BadRequest("not a calls request");
        uint256 tag = payload[1];
        (uint32[] memory domains, bytes32[] memory recipients, uint256 at) = _replies(payload, 2);
        if (at >= payload.length) revert BadRequest("no outputs mask");
        uint256 mask = payload[at];
        InterchainAccount.Call[] memory calls = _calls(payload, at + 1);
        address account = _account(srcDomain, owner);
        bool ok;
        uint256 failed = calls.length;
        bytes[] memory outs;
        try InterchainAccount(payable(account)).execute(calls) returns (bytes[] memory results) {
            ok = true;
            outs = _picked(results, mask);
        } catch (bytes memory err) {
            bytes memory reason = err;
            if (err.length >= 4 && bytes4(err) == InterchainAccount.CallFailed.selector) {
                bytes memory args = new bytes(err.length - 4);
                for (uint256 i = 0; i < args.length; i++) {
                    args[i] = err[i + 4];
                }
                (failed, reason) = abi.decode(args, (uint256, bytes));
            }
            outs = new bytes[](1);
            outs[0] = reason;
        }
        emit Executed(srcDomain, owner, tag, account, ok, failed);
        uint256[] memory result = new uint256[](7);
        result[0] = OP_RESULT;
        result[1] = tag;
        result[2] = srcDomain;
        result[3] = uint256(owner);
        result[4] = ok ? 1 : 0;
        result[5] = failed;
        result[6] = outs.length;
        for (uint256 i = 0; i < outs.length; i++) {
            result = WordCodec.append(result, WordCodec.encode(outs[i]));
        }
        _reply(domains, recipients, result);
    }

    /// @notice The results whose bit is set in `mask`, in order.
    function _picked(bytes[] memory results, uint256 mask) internal pure returns (bytes[] memory out) {
        uint256 m;
        for (uint256 i = 0; i < results.length; i++) {
            if ((mask >> i) & 1 == 1) m++;
        }
        out = new bytes[](m);
        m = 0;
        for (uint256 i = 0; i < results.length; i++) {
            if ((mask >> i) & 1 == 1) out[m++] = results[i];
        }
    }

    /// @notice The calls at `payload[at]` (their count, then each call); the request must end there.
    function _calls(uint256[] calldata payload, uint256 at)
        internal
        pure
        returns (InterchainAccount.Call[] memory calls)
    {
        if (at >= payload.length) revert BadRequest("no call count");
        uint256 n = payload[at];
        if (n == 0 || n > MAX_CALLS) revert BadRequest("1 to 16 calls");
        calls = new InterchainAccount.Call[](n);
        at += 1;
        for (uint256 i = 0; i < n; i++) {
            if (at + 2 > payload.length) revert BadRequest("truncated call");
            if (payload[at] >> 160 != 0) revert BadRequest("a call's target is not an address");
            calls[i].target = address(uint160(payload[at]));
            calls[i].value = payload[at + 1];
            (calls[i].data, at) = WordCodec.decode(payload, at + 2);
        }
        if (at != payload.length) revert BadRequest("words after the last call");
    }
}

/// @title L1Reader
/// @notice Reads of L1 state for apps on other chains (issue 31): a request lists view calls
/// (target, calldata) that this contract runs (`staticcall`) when the request is relayed, at that
/// block, and the answers go to every domain the request names, each proven there by its own
/// messaging. A read that reverts answers its revert data with ok = 0.
///
/// A read of a past block's storage is answered by proof instead: the request names the block and
/// (account, slot) pairs; it is kept when relayed (the block's hash pinned if L1 still has it), and
/// anyone may then answer it with the block's header and `eth_getProof`'s proofs, which this
/// contract checks against the block's hash ([`StorageProof`]) before sending the values.
///
/// Request: [3 READ, tag, k, (domain, recipient) × k, n, (target, data) × n], 1 ≤ n ≤ 16.
/// Request: [5 STORAGE, tag, k, (domain, recipient) × k, block, n, (account, slotHigh, slotLow) × n],
///          1 ≤ n ≤ 16 (a slot's 128-bit halves, so every word is a felt).
/// Answer:  [4 ANSWER, tag, srcDomain, requester, blockNumber, n, (ok, bytes) × n]; a storage
///          read's bytes are the slot's 32-byte word, ok = 1.
contract L1Reader is Replier, IXrouteReceiver {
    uint256 public constant OP_READ = 3;
    uint256 public constant OP_ANSWER = 4;
    uint256 public constant OP_STORAGE = 5;
    uint256 public constant MAX_READS = 16;

    /// @notice Storage reads waiting for their proofs: id → keccak256(srcDomain, requester, request).
    mapping(uint256 => bytes32) public pendingStorage;
    /// @notice How many storage reads were kept (the last one's id).
    uint256 public storageReads;
    /// @notice Block hashes pinned while L1 still had them (`blockhash` reaches 256 blocks back).
    mapping(uint256 => bytes32) public pinned;

    event Answered(uint32 indexed domain, bytes32 indexed requester, uint256 indexed tag, uint256 blockNumber);
    event StorageReadKept(uint256 indexed id, uint32 domain, bytes32 requester, uint256 blockNumber, uint256[] request);
    event BlockPinned(uint256 indexed blockNumber, bytes32 hash);

    error UnknownStorageRead(uint256 id);
    error BlockHashUnknown(uint256 blockNumber);
    error HeaderMismatch(uint256 blockNumber, bytes32 expected, bytes32 got);

    constructor(address messenger_) Replier(messenger_) {}

    /// @notice Pins the hash of block `number` (one of the last 256), so a storage read of it can
    /// be proven later.
    function pin(uint256 number) public returns (bytes32 hash) {
        hash = blockhash(number);
        if (hash == bytes32(0)) revert BlockHashUnknown(number);
        if (pinned[number] == bytes32(0)) {
            pinned[number] = hash;
            emit BlockPinned(number, hash);
        }
    }

    /// @notice The hash of block `number`, from L1 (the last 256 blocks) or as pinned; 0 if neither.
    function hashOf(uint256 number) public view returns (bytes32) {
        bytes32 live = blockhash(number);
        return live != bytes32(0) ? live : pinned[number];
    }

    /// @inheritdoc IXrouteReceiver
    function onMessage(uint32 srcDomain, bytes32 sender, uint256[] calldata payload) external {
        if (msg.sender != messenger) revert OnlyMessenger(msg.sender);
        if (payload.length >= 4 && payload[0] == OP_STORAGE) return _keepStorageRead(srcDomain, sender, payload);
        if (payload.length < 4 || payload[0] != OP_READ) revert BadRequest("not a read request");
        (uint32[] memory domains, bytes32[] memory recipients, uint256 at) = _replies(payload, 2);
        if (at >= payload.length) revert BadRequest("no read count");
        uint256 n = payload[at];
        if (n == 0 || n > MAX_READS) revert BadRequest("1 to 16 reads");
        at += 1;
        uint256[] memory answer = new uint256[](6);
        answer[0] = OP_ANSWER;
        answer[1] = payload[1];
        answer[2] = srcDomain;
        answer[3] = uint256(sender);
        answer[4] = block.number;
        answer[5] = n;
        for (uint256 i = 0; i < n; i++) {
            if (at >= payload.length) revert BadRequest("truncated read");
            if (payload[at] >> 160 != 0) revert BadRequest("a read's target is not an address");
            address target = address(uint160(payload[at]));
            bytes memory data;
            (data, at) = WordCodec.decode(payload, at + 1);
            (bool ok, bytes memory out) = _read(target, data);
            uint256[] memory head = new uint256[](1);
            head[0] = ok ? 1 : 0;
            answer = WordCodec.append(answer, WordCodec.append(head, WordCodec.encode(out)));
        }
        if (at != payload.length) revert BadRequest("words after the last read");
        emit Answered(srcDomain, sender, payload[1], block.number);
        _reply(domains, recipients, answer);
    }

    /// @notice Checks a storage read and keeps it for its proofs. Its block must be one whose hash
    /// this contract will know: pinned now (one of the last 256 blocks), already pinned, or not
    /// yet made.
    function _keepStorageRead(uint32 srcDomain, bytes32 sender, uint256[] calldata payload) internal {
        (,, uint256 at) = _replies(payload, 2);
        (uint256 number,) = _storageShape(payload, at);
        if (number < block.number && pinned[number] == bytes32(0)) {
            if (blockhash(number) == bytes32(0)) revert BadRequest("block older than 256 blocks and not pinned");
            pin(number);
        }
        uint256 id = ++storageReads;
        pendingStorage[id] = keccak256(abi.encode(srcDomain, sender, payload));
        emit StorageReadKept(id, srcDomain, sender, number, payload);
    }

    /// @notice A storage request's block and read count (at `at`, after its replies), its shape
    /// checked.
    function _storageShape(uint256[] calldata payload, uint256 at) internal pure returns (uint256 number, uint256 n) {
        if (at + 2 > payload.length) revert BadRequest("no block or read count");
        number = payload[at];
        n = payload[at + 1];
        if (n == 0 || n > MAX_READS) revert BadRequest("1 to 16 reads");
        if (payload.length != at + 2 + 3 * n) revert BadRequest("not 3 words per storage read");
        for (uint256 i = 0; i < n; i++) {
            uint256 w = at + 2 + 3 * i;
            if (payload[w] >> 160 != 0) revert BadRequest("a read's account is not an address");
            if (payload[w + 1] >> 128 != 0 || payload[w + 2] >> 128 != 0) revert BadRequest("a slot half over 128 bits");
        }
    }

    /// @notice A kept storage read as `StorageReadKept` logged it.
    struct StorageRead {
        uint32 domain;
        bytes32 requester;
        uint256[] request;
    }

    /// @notice What answers a storage read: its block's RLP header and, per read, `eth_getProof`'s
    /// account proof and storage proof at that block.
    struct Proofs {
        bytes header;
        bytes[][] account;
        bytes[][] slot;
    }

    /// @notice Answers kept storage read `id` with `proofs`, checked against the block's hash.
    /// Anyone may call it; a read is answered once.
    function answerStorage(uint256 id, StorageRead calldata read, Proofs calldata proofs) external {
        bytes32 kept = pendingStorage[id];
        if (kept == bytes32(0) || kept != keccak256(abi.encode(read.domain, read.requester, read.request))) {
            revert UnknownStorageRead(id);
        }
        delete pendingStorage[id];
        (uint32[] memory domains, bytes32[] memory recipients, uint256 at) = _replies(read.request, 2);
        (bytes32 root, uint256 number, uint256 n) = _provenRoot(read.request, at, proofs.header);
        if (proofs.account.length != n || proofs.slot.length != n) revert BadRequest("one proof pair per read");
        uint256[] memory answer = new uint256[](6);
        answer[0] = OP_ANSWER;
        answer[1] = read.request[1];
        answer[2] = read.domain;
        answer[3] = uint256(read.requester);
        answer[4] = number;
        answer[5] = n;
        answer = WordCodec.append(answer, _provenValues(read.request, at + 2, root, proofs));
        emit Answered(read.domain, read.requester, read.request[1], number);
        _reply(domains, recipients, answer);
    }

    /// @notice The state root of the request's block, from `header` once it hashes to the block's
    /// hash; with the block and the read count.
    function _provenRoot(uint256[] calldata request, uint256 at, bytes calldata header)
        internal
        view
        returns (bytes32 root, uint256 number, uint256 n)
    {
        (number, n) = _storageShape(request, at);
        bytes32 expected = hashOf(number);
        if (expected == bytes32(0)) revert BlockHashUnknown(number);
        bytes32 got;
        (root, got) = StorageProof.stateRoot(header);
        if (got != expected) revert HeaderMismatch(number, expected, got);
    }

    /// @notice Per read from `request[at]` on, (1, the slot's word) as the answer carries it,
    /// each value proven under `root`.
    function _provenValues(
        uint256[] calldata request,
        uint256 at,
        bytes32 root,
        Proofs calldata proofs
    ) internal pure returns (uint256[] memory words) {
        uint256[] memory ok = new uint256[](1);
        ok[0] = 1;
        words = new uint256[](0);
        for (uint256 i = 0; i < proofs.account.length; i++) {
            uint256 w = at + 3 * i;
            bytes32 slot = bytes32((request[w + 1] << 128) | request[w + 2]);
            uint256 value =
                StorageProof.slotAt(root, address(uint160(request[w])), slot, proofs.account[i], proofs.slot[i]);
            words = WordCodec.append(words, WordCodec.append(ok, WordCodec.encode(abi.encode(value))));
        }
    }

    /// @notice `target.staticcall(data)`, at most `BoundedCall.MAX_RETURN` bytes of what it
    /// returns or reverts with.
    function _read(address target, bytes memory data) internal view returns (bool ok, bytes memory out) {
        uint256 max = BoundedCall.MAX_RETURN;
        assembly ("memory-safe") {
            ok := staticcall(gas(), target, add(data, 0x20), mload(data), 0, 0)
            let n := returndatasize()
            if gt(n, max) { n := max }
            out := mload(0x40)
            mstore(out, n)
            returndatacopy(add(out, 0x20), 0, n)
            mstore(0x40, add(add(out, 0x20), and(add(n, 31), not(31))))
        }
    }
}
