// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title WordCodec
/// @notice Bytes carried in message words that every chain can send: 31 bytes per word (so each
/// word is below 2^248, a Starknet felt), big-endian, the last word's unused low bytes zero. A
/// byte string travels as its length in bytes, then ceil(length / 31) such words.
library WordCodec {
    uint256 internal constant CHUNK = 31;

    error Truncated(uint256 at, uint256 needed, uint256 have);
    error NotAChunk(uint256 at);

    /// @notice The words of `data` (its length first).
    function encode(bytes memory data) internal pure returns (uint256[] memory words) {
        uint256 len = data.length;
        uint256 n = (len + CHUNK - 1) / CHUNK;
        words = new uint256[](n + 1);
        words[0] = len;
        for (uint256 i = 0; i < n; i++) {
            uint256 w;
            // 32 bytes from the chunk's start, shifted to its 31 (what follows `data` in memory
            // is cut off below, for the last chunk).
            assembly ("memory-safe") {
                w := shr(8, mload(add(add(data, 0x20), mul(i, 31))))
            }
            uint256 kept = len - i * CHUNK;
            if (kept < CHUNK) {
                uint256 cut = 8 * (CHUNK - kept);
                w = (w >> cut) << cut;
            }
            words[i + 1] = w;
        }
    }

    /// @notice Reads the byte string at `words[at]` (its length) and after; returns it and the
    /// index after its last word.
    function decode(uint256[] calldata words, uint256 at) internal pure returns (bytes memory data, uint256 next) {
        if (at >= words.length) revert Truncated(at, 1, words.length);
        uint256 len = words[at];
        // Bounded before any arithmetic on it: a length near 2^256 must be refused, not overflow.
        if (len > (words.length - at - 1) * CHUNK) revert Truncated(at, len / CHUNK + 1, words.length - at);
        uint256 n = (len + CHUNK - 1) / CHUNK;
        // Room for every chunk's 32-byte store and a zero word after the string.
        data = new bytes(n * CHUNK + 32);
        for (uint256 i = 0; i < n; i++) {
            uint256 w = words[at + 1 + i];
            if (w >> (8 * CHUNK) != 0) revert NotAChunk(at + 1 + i);
            assembly ("memory-safe") {
                mstore(add(add(data, 0x20), mul(i, 31)), shl(8, w))
            }
        }
        assembly ("memory-safe") {
            mstore(add(add(data, 0x20), len), 0)
            mstore(data, len)
        }
        next = at + 1 + n;
    }

    /// @notice `out` with `more` appended.
    function append(uint256[] memory out, uint256[] memory more) internal pure returns (uint256[] memory all) {
        all = new uint256[](out.length + more.length);
        for (uint256 i = 0; i < out.length; i++) {
            all[i] = out[i];
        }
        for (uint256 i = 0; i < more.length; i++) {
            all[out.length + i] = more[i];
        }
    }
}
