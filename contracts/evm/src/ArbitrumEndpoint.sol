// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Envelope} from "./Envelope.sol";
import {IArbSys, IArbitrumEndpoint, IHubFromArbitrum} from "./IArbitrum.sol";
import {IXrouteReceiver} from "./IXrouteReceiver.sol";
import {ArbitrumTank} from "./ArbitrumTank.sol";
import {GasTank} from "./GasTank.sol";

/// @title ArbitrumEndpoint
/// @notice xroute's endpoint on an Arbitrum-family L2. `send` assigns the nonce, emits the
/// envelope and hands it to ArbSys (`sendTxToL1` toward the Hub, which the rollup's Outbox
/// executes on L1 once a send root covering it is confirmed). `receiveMessage` is what a
/// retryable ticket from the Hub calls: only the Hub's aliased address may call it, each id once.
contract ArbitrumEndpoint is IArbitrumEndpoint {
    IArbSys internal constant ARB_SYS = IArbSys(address(0x64));
    /// @dev nitro's L1 → L2 address alias offset (AddressAliasHelper).
    uint160 internal constant ALIAS_OFFSET = uint160(0x1111000000000000000000000000000000001111);

    /// @notice This chain's xroute domain id.
    uint32 public immutable localDomain;
    /// @notice The Hub on L1.
    address public immutable hub;
    /// @notice The address the Hub acts as on this L2.
    address public immutable hubAlias;
    /// @notice Nonce of the next message sent from this chain.
    uint64 public nonce;
    /// @notice Envelope ids delivered to their recipient here.
    mapping(bytes32 => bool) public delivered;

    event MessageSent(
        bytes32 indexed id, uint32 indexed dstDomain, address indexed sender, uint64 nonce, bytes32 recipient, uint256[] words
    );
    event MessageDelivered(bytes32 indexed id, uint32 indexed srcDomain, address indexed recipient);

    error NotHub(address caller);
    error WrongDestination(uint32 dstDomain);
    error AlreadyDelivered(bytes32 id);
    error BadRecipient(bytes32 recipient);

    constructor(uint32 localDomain_, address hub_) {
        localDomain = localDomain_;
        hub = hub_;
        unchecked {
            hubAlias = address(uint160(hub_) + ALIAS_OFFSET);
        }
    }

    /// @notice Sends `payload` to `recipient` on `dstDomain` through the Hub. Returns the id.
    function send(uint32 dstDomain, bytes32 recipient, uint256[] calldata payload) external returns (bytes32 id) {
        return _send(dstDomain, recipient, payload);
    }

    /// @notice `send`, and pays for the message's relay in `tank` on `terms` in the same call:
    /// msg.value is deposited there for the caller, who is the payer.
    function sendPaid(
        uint32 dstDomain,
        bytes32 recipient,
        uint256[] calldata payload,
        ArbitrumTank tank,
        GasTank.Terms calldata terms
    ) external payable returns (bytes32 id) {
        id = _send(dstDomain, recipient, payload);
        tank.payFor{value: msg.value}(id, msg.sender, dstDomain, terms);
    }

    function _send(uint32 dstDomain, bytes32 recipient, uint256[] calldata payload) internal returns (bytes32 id) {
        if (dstDomain == localDomain) revert WrongDestination(dstDomain);
        uint64 n = nonce++;
        Envelope.Header memory h = Envelope.Header({
            srcDomain: localDomain,
            nonce: n,
            sender: bytes32(uint256(uint160(msg.sender))),
            dstDomain: dstDomain,
            recipient: recipient
        });
        uint256[] memory words = Envelope.encode(h, payload);
        id = Envelope.id(words);
        emit MessageSent(id, dstDomain, msg.sender, n, recipient, words);
        ARB_SYS.sendTxToL1(hub, abi.encodeCall(IHubFromArbitrum.receiveFromArbitrum, (words)));
    }

    /// @notice Delivers a message the Hub forwarded (a retryable ticket's call, from the Hub's
    /// alias) to its recipient's `onMessage`.
    function receiveMessage(uint256[] calldata words) external {
        if (msg.sender != hubAlias) revert NotHub(msg.sender);
        (Envelope.Header memory h, uint256[] calldata payload) = Envelope.decode(words);
        if (h.dstDomain != localDomain) revert WrongDestination(h.dstDomain);
        bytes32 id = Envelope.id(words);
        if (delivered[id]) revert AlreadyDelivered(id);
        if (uint256(h.recipient) >> 160 != 0) revert BadRecipient(h.recipient);
        address recipient = address(uint160(uint256(h.recipient)));
        if (recipient.code.length == 0) revert BadRecipient(h.recipient);
        delivered[id] = true;
        IXrouteReceiver(recipient).onMessage(h.srcDomain, h.sender, payload);
        emit MessageDelivered(id, h.srcDomain, recipient);
    }
}
