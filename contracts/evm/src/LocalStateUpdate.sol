// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice What devnet's MockStarknetMessaging offers to play an L2 → L1 message.
interface IMockStarknetMessaging {
    function mockSendMessageFromL2(uint256 fromAddress, uint256 toAddress, uint256[] calldata payload) external;
}

/// @title LocalStateUpdate
/// @notice The local network's Starknet state update (test kit only): every L2 → L1 message of one
/// update made consumable on L1 in one transaction, as Starknet's `updateState` does, through
/// devnet's MockStarknetMessaging (its `LogMessageToL1` events then share one L1 block and one
/// transaction, so a checkpoint holds all of them). devnet's own postman sends one transaction
/// per message.
contract LocalStateUpdate {
    /// @notice One state update of `messaging`'s chain: message i from `fromAddresses[i]` to
    /// `toAddresses[i]` with `payloads[i]`.
    function update(
        IMockStarknetMessaging messaging,
        uint256[] calldata fromAddresses,
        uint256[] calldata toAddresses,
        uint256[][] calldata payloads
    ) external {
        require(fromAddresses.length == toAddresses.length && toAddresses.length == payloads.length, "lengths");
        for (uint256 i = 0; i < payloads.length; i++) {
            messaging.mockSendMessageFromL2(fromAddresses[i], toAddresses[i], payloads[i]);
        }
    }
}
