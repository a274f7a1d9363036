// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice The L1 interface of Starknet's core messaging contract (StarknetMessaging), which
/// devnet's MockStarknetMessaging also implements.
interface IStarknetMessaging {
    function sendMessageToL2(uint256 toAddress, uint256 selector, uint256[] calldata payload)
        external
        payable
        returns (bytes32, uint256);

    function consumeMessageFromL2(uint256 fromAddress, uint256[] calldata payload) external returns (bytes32);

    function l2ToL1Messages(bytes32 msgHash) external view returns (uint256);

    function l1ToL2Messages(bytes32 msgHash) external view returns (uint256);
}
