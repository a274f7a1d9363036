// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {LocalArbSys} from "./LocalArbSys.sol";

/// @title LocalNodeInterface
/// @notice The local Arbitrum's NodeInterface, etched at 0xc8 of the L2 anvil: on a real nitro
/// node a virtual contract answering `eth_call`s only. Here it answers `constructOutboxProof`
/// from the accumulator LocalArbSys (0x64) keeps (../shared/ARBITRUM.md).
contract LocalNodeInterface {
    /// @notice ArbSys's address.
    LocalArbSys public constant ARB_SYS = LocalArbSys(address(0x64));

    /// @notice The proof of send `leaf` in the send accumulator of `size` sends: its send hash,
    /// the root, and the Merkle path bottom-up (what the Outbox's `executeTransaction` takes).
    function constructOutboxProof(uint64 size, uint64 leaf)
        external
        view
        returns (bytes32 send, bytes32 root, bytes32[] memory proof)
    {
        return ARB_SYS.constructOutboxProof(size, leaf);
    }
}
