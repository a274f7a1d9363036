// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice What an L1 app implements to receive xroute messages from the Hub.
interface IXrouteReceiver {
    /// @param srcDomain the xroute domain the message comes from
    /// @param sender the sending app on that domain (an L2 address as a 32-byte word)
    /// @param payload the app payload
    function onMessage(uint32 srcDomain, bytes32 sender, uint256[] calldata payload) external;
}
