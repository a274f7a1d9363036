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
        uint256 n = (data.length + CHUNK - 1) / CHUNK;
        words = new uint256[](n + 1);
        words[0] = data.length;
        for (uint256 i = 0; i < n; i++) {
            uint256 w;
            for (uint256 j = 0; j < CHUNK; j++) {
                uint256 k = i * CHUNK + j;
                uint256 b = k < data.length ? uint8(data[k]) : 0;
                w = (w << 8) | b;
            }
            words[i + 1] = w;
        }
    }

    /// @notice Reads the byte string at `words[at]` (its length) and after; returns it and the
    /// index after its last word.
    function decode(uint256[] calldata words, uint256 at) internal pure returns (bytes memory data, uint256 next) {
        if (at >= words.length) revert Truncated(at, 1, words.length);
        uint256 len = words[at];
        uint256 n = (len + CHUNK - 1) / CHUNK;
        if (len > words.length * CHUNK || at + 1 + n > words.length) {
            revert Truncated(at, n + 1, words.length - at);
        }
        data = new bytes(len);
        for (uint256 i = 0; i < n; i++) {
            uint256 w = words[at + 1 + i];
            if (w >> (8 * CHUNK) != 0) revert NotAChunk(at + 1 + i);
            for (uint256 j = 0; j < CHUNK; j++) {
                uint256 k = i * CHUNK + j;
                if (k < len) data[k] = bytes1(uint8(w >> (8 * (CHUNK - 1 - j))));
            }
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
