// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {IStarknetMessaging} from "./IStarknetMessaging.sol";

/// @title MessagingProbe
/// @notice The smallest L1 contract that exercises Starknet's native messaging in both directions:
/// it sends L1 -> L2 messages and consumes L2 -> L1 messages addressed to itself. Used by the test
/// kit's round trip; the Hub contract builds on the same calls.
contract MessagingProbe {
    IStarknetMessaging public immutable messaging;
    uint256 public consumedCount;

    event SentToL2(bytes32 indexed msgHash, uint256 nonce);
    event ConsumedFromL2(bytes32 indexed msgHash, uint256 indexed fromAddress);

    constructor(IStarknetMessaging messaging_) {
        messaging = messaging_;
    }

    /// @notice Sends `payload` to the L1 handler `selector` of L2 contract `toAddress`; msg.value pays the L2 fee.
    function sendToL2(uint256 toAddress, uint256 selector, uint256[] calldata payload)
        external
        payable
        returns (bytes32 msgHash, uint256 nonce)
    {
        (msgHash, nonce) = messaging.sendMessageToL2{value: msg.value}(toAddress, selector, payload);
        emit SentToL2(msgHash, nonce);
    }

    /// @notice Consumes an L2 -> L1 message sent to this contract by `fromAddress`; reverts if none is pending.
    function consumeFromL2(uint256 fromAddress, uint256[] calldata payload) external returns (bytes32 msgHash) {
        msgHash = messaging.consumeMessageFromL2(fromAddress, payload);
        consumedCount += 1;
        emit ConsumedFromL2(msgHash, fromAddress);
    }
}
