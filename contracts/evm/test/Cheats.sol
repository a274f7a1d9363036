// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// The few forge cheatcodes these tests use (no forge-std: npm's copy is old and unofficial).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function deal(address who, uint256 amount) external;
    function warp(uint256 timestamp) external;
    function prank(address sender) external;
    function txGasPrice(uint256 price) external;
}

abstract contract Cheats {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
}
