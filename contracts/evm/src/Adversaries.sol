// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {IXrouteReceiver} from "./IXrouteReceiver.sol";
import {IXrouteTokenReceiver} from "./IXrouteTokenReceiver.sol";

/// @title RevertBomb
/// @notice An adversary of the attack tests (docs/security.md), deployed only by the test kit: an
/// L1 app whose `onMessage` reverts with `size` bytes of revert data, so that whoever copies it
/// pays for the memory.
contract RevertBomb is IXrouteReceiver {
    uint256 public immutable size;

    constructor(uint256 size_) {
        size = size_;
    }

    function onMessage(uint32, bytes32, uint256[] calldata) external view {
        uint256 n = size;
        assembly {
            revert(0, n)
        }
    }
}

/// @title HungryReceiver
/// @notice An adversary's victim of the attack tests, deployed only by the test kit: a token
/// receiver whose `onTokens` needs about `need` gas (writing fresh storage slots) before it
/// accepts; it counts what it accepted.
contract HungryReceiver is IXrouteTokenReceiver {
    uint256 public immutable need;
    uint256 public received;
    uint256 public calls;
    mapping(uint256 => uint256) internal scratch;

    constructor(uint256 need_) {
        need = need_;
    }

    function onTokens(uint32, bytes32, uint256 amount, uint256, uint256[] calldata) external {
        uint256 start = gasleft();
        uint256 base = calls * 1_000_000;
        for (uint256 i = 0; start - gasleft() < need; i++) {
            scratch[base + i] = i + 1;
        }
        received += amount;
        calls += 1;
    }
}
