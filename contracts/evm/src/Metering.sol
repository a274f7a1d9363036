// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice One relay receipt, as the Hub's `RelaysMetered` event recorded it and as a settlement
/// presents it to a rollup's tank: message `id` was relayed by `relayer` at `time` (the L1
/// block's timestamp), at `gasPrice`, costing `gas` L1 gas and `fee` wei toward its next leg.
struct MeteredReceipt {
    bytes32 id;
    address relayer;
    uint64 gas;
    uint256 gasPrice;
    uint128 fee;
    uint32 time;
}

/// @title Metering
/// @notice The commitment the Hub keeps per source domain over its relay receipts, and that each
/// tank checks a settlement against: a 256-bit word whose high 192 bits are a hash chain
/// (head' = keccak256(abi.encode(head, receipt)) >> 64) and whose low 64 bits count the receipts.
/// A receipt hashes abi.encode(id, srcDomain, relayer, gas, gasPrice, fee, time).
library Metering {
    function hash(bytes32 id, uint32 src, address relayer, uint256 gas, uint256 gasPrice, uint256 fee, uint256 time)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(id, src, relayer, gas, gasPrice, fee, time));
    }

    /// @dev `meter` with one more receipt.
    function fold(uint256 meter, bytes32 receipt) internal pure returns (uint256) {
        uint256 head = uint256(keccak256(abi.encode(meter >> 64, receipt))) >> 64;
        return (head << 64) | (uint64(meter) + 1);
    }

    /// @dev `meter` with the receipts of `rs` (of source domain `src`) folded in, in order.
    function foldAll(uint256 meter, uint32 src, MeteredReceipt[] calldata rs) internal pure returns (uint256) {
        for (uint256 i = 0; i < rs.length; i++) {
            MeteredReceipt calldata r = rs[i];
            meter = fold(meter, hash(r.id, src, r.relayer, r.gas, r.gasPrice, r.fee, r.time));
        }
        return meter;
    }
}
