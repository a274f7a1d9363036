// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// The Starknet core contract's messaging, as a test drives it: the test posts L2 → L1 messages
/// (the same one twice if it likes, as a rollup may), the hub consumes them; messages to L2 are
/// counted with the value they carry.
contract MockStarknetMessaging {
    mapping(bytes32 => uint256) public l2ToL1Messages;
    uint256 public sentValue;
    uint256 public sentCount;

    function hashOf(uint256 from, address to, uint256[] memory payload) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(from, uint256(uint160(to)), payload.length, payload));
    }

    function post(uint256 from, address to, uint256[] memory payload) external {
        l2ToL1Messages[hashOf(from, to, payload)] += 1;
    }

    function consumeMessageFromL2(uint256 from, uint256[] calldata payload) external returns (bytes32 h) {
        h = hashOf(from, msg.sender, payload);
        require(l2ToL1Messages[h] > 0, "INVALID_MESSAGE_TO_CONSUME");
        l2ToL1Messages[h] -= 1;
    }

    function sendMessageToL2(uint256, uint256, uint256[] calldata) external payable returns (bytes32, uint256) {
        sentValue += msg.value;
        sentCount += 1;
        return (bytes32(sentCount), sentCount);
    }
}
