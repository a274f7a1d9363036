// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IXrouteReceiver} from "./IXrouteReceiver.sol";
import {IXrouteTokenReceiver} from "./IXrouteTokenReceiver.sol";

interface IEndpointSend {
    function send(uint32 dstDomain, bytes32 recipient, uint256[] calldata payload) external returns (bytes32);
}

/// @title TokenRouter
/// @notice The canonical xroute token on an EVM rollup, and its router: OpenZeppelin's ERC-20
/// (18 decimals) that only this contract mints and burns. `transferRemote` burns the caller's
/// tokens and sends one message to the L1 `TokenLedger`; a MINT message from the ledger (through
/// the rollup's xroute endpoint) mints to its recipient. Message formats: `TokenLedger`.
contract TokenRouter is ERC20, IXrouteReceiver {
    uint256 internal constant AMOUNT_BOUND = 1 << 128;
    uint256 internal constant STARKNET_BOUND = 1 << 251;
    uint256 internal constant EVM_BOUND = 1 << 160;
    uint8 public constant KIND_EVM = 1;
    uint8 public constant KIND_STARKNET = 2;

    address public immutable endpoint;
    uint32 public immutable l1Domain;
    address public owner;
    /// @notice The L1 TokenLedger (a 20-byte address as a word).
    bytes32 public ledger;
    /// @notice The destinations a transfer may go to, and how their addresses look.
    mapping(uint32 => uint8) public destinations;

    event SentRemote(bytes32 indexed id, uint32 indexed dstDomain, bytes32 recipient, address indexed from, uint256 amount);
    event ReceivedRemote(uint32 indexed srcDomain, bytes32 from, address indexed to, uint256 amount, uint256 why);

    error OnlyOwner(address caller);
    error OnlyEndpoint(address caller);
    error NotFromLedger(uint32 srcDomain, bytes32 sender);
    error ZeroAmount();
    error AmountTooLarge(uint256 amount);
    error UnknownDestination(uint32 domain);
    error BadRecipient(uint32 domain, bytes32 recipient);
    error BadPayload(uint256 words);

    constructor(string memory name_, string memory symbol_, address endpoint_, uint32 l1Domain_)
        ERC20(name_, symbol_)
    {
        endpoint = endpoint_;
        l1Domain = l1Domain_;
        owner = msg.sender;
    }

    function setLedger(bytes32 ledger_) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        ledger = ledger_;
    }

    function setDestination(uint32 domain, uint8 kind) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        destinations[domain] = kind;
    }

    /// @notice Burns `amount` of the caller's tokens and sends them to `recipient` on `dstDomain`.
    function transferRemote(uint32 dstDomain, bytes32 recipient, uint256 amount) external returns (bytes32 id) {
        if (amount == 0) revert ZeroAmount();
        id = _sendRemote(dstDomain, recipient, amount, false, new uint256[](0));
    }

    /// @notice Like `transferRemote`, and the recipient (a contract) then gets
    /// `onTokens(srcDomain, from, amount, why, data)` (IXrouteTokenReceiver; `on_tokens` on a
    /// Starknet chain). `amount` may be 0. The caller must be a contract that implements
    /// `onTokens` too: a refund comes back to it as a call (why = 1) with the same data.
    function transferRemoteCall(uint32 dstDomain, bytes32 recipient, uint256 amount, uint256[] calldata data)
        external
        returns (bytes32 id)
    {
        id = _sendRemote(dstDomain, recipient, amount, true, data);
    }

    function _sendRemote(uint32 dstDomain, bytes32 recipient, uint256 amount, bool call, uint256[] memory data)
        internal
        returns (bytes32 id)
    {
        if (amount >= AMOUNT_BOUND) revert AmountTooLarge(amount);
        uint8 kind = destinations[dstDomain];
        if (kind == 0) revert UnknownDestination(dstDomain);
        uint256 word = uint256(recipient);
        if (word == 0 || (kind == KIND_EVM && word >= EVM_BOUND) || (kind == KIND_STARKNET && word >= STARKNET_BOUND)) {
            revert BadRecipient(dstDomain, recipient);
        }
        _burn(msg.sender, amount);
        uint256[] memory words = new uint256[](5 + (call ? data.length : 0));
        words[0] = call ? 3 : 1;
        words[1] = dstDomain;
        words[2] = word;
        words[3] = amount;
        words[4] = uint256(uint160(msg.sender));
        for (uint256 i = 5; i < words.length; i++) {
            words[i] = data[i - 5];
        }
        id = IEndpointSend(endpoint).send(l1Domain, ledger, words);
        emit SentRemote(id, dstDomain, recipient, msg.sender, amount);
    }

    /// @notice Asks the ledger to cancel queued transfer `queueId` the caller sent: the amount
    /// comes back here.
    function cancelQueued(uint256 queueId) external returns (bytes32) {
        uint256[] memory words = new uint256[](3);
        words[0] = 2;
        words[1] = queueId;
        words[2] = uint256(uint160(msg.sender));
        return IEndpointSend(endpoint).send(l1Domain, ledger, words);
    }

    function onMessage(uint32 srcDomain, bytes32 sender, uint256[] calldata payload) external {
        if (msg.sender != endpoint) revert OnlyEndpoint(msg.sender);
        if (srcDomain != l1Domain || sender != ledger) revert NotFromLedger(srcDomain, sender);
        bool call = payload.length >= 6 && payload[0] == 3;
        if ((payload.length != 6 || payload[0] != 1) && !call) revert BadPayload(payload.length);
        if (payload[1] >= EVM_BOUND || payload[3] > type(uint32).max) revert BadPayload(payload.length);
        address to = address(uint160(payload[1]));
        _mint(to, payload[2]);
        emit ReceivedRemote(uint32(payload[3]), bytes32(payload[4]), to, payload[2], payload[5]);
        if (call) IXrouteTokenReceiver(to).onTokens(uint32(payload[3]), bytes32(payload[4]), payload[2], payload[5], payload[6:]);
    }
}
