// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {IXrouteReceiver} from "./IXrouteReceiver.sol";

interface IHubSend {
    function send(uint32 dstDomain, bytes32 recipient, uint256[] calldata payload) external payable returns (bytes32);
}

/// @title SampleApp
/// @notice The sample app of the tests and the demo, on L1 (behind the Hub) and on an Arbitrum L2
/// (behind its endpoint): sends through `hub`, and keeps a count and the last payload per
/// (source domain, sender) of what it receives. `work` makes receiving cost more gas (a test
/// knob of its deployer: an app whose cost changed after a relay was quoted).
contract SampleApp is IXrouteReceiver {
    address public immutable hub;
    address public immutable deployer;
    /// @notice keccak rounds each received message costs.
    uint256 public work;
    /// @notice The result of the last message's work (kept, so that the work is done).
    bytes32 public workDone;
    uint256 public totalReceived;
    mapping(uint32 => mapping(bytes32 => uint256)) public receivedFrom;
    mapping(uint32 => mapping(bytes32 => uint256[])) internal lastPayloads;

    event Received(uint32 indexed srcDomain, bytes32 indexed sender, uint256 count, uint256[] payload);

    error OnlyHub(address caller);
    error OnlyDeployer(address caller);

    constructor(address hub_) {
        hub = hub_;
        deployer = msg.sender;
    }

    function setWork(uint256 rounds) external {
        if (msg.sender != deployer) revert OnlyDeployer(msg.sender);
        work = rounds;
    }

    function onMessage(uint32 srcDomain, bytes32 sender, uint256[] calldata payload) external {
        if (msg.sender != hub) revert OnlyHub(msg.sender);
        bytes32 h;
        for (uint256 i = 0; i < work; i++) {
            h = keccak256(abi.encode(h, i));
        }
        if (h != bytes32(0)) workDone = h;
        uint256 count = ++receivedFrom[srcDomain][sender];
        totalReceived += 1;
        lastPayloads[srcDomain][sender] = payload;
        emit Received(srcDomain, sender, count, payload);
    }

    function lastPayload(uint32 srcDomain, bytes32 sender) external view returns (uint256[] memory) {
        return lastPayloads[srcDomain][sender];
    }

    /// @notice Sends `payload` to `recipient` on `dstDomain`; msg.value pays the L2 fee, if any.
    function send(uint32 dstDomain, bytes32 recipient, uint256[] calldata payload) external payable returns (bytes32) {
        return IHubSend(hub).send{value: msg.value}(dstDomain, recipient, payload);
    }
}
