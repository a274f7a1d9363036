// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title Envelope
/// @notice The xroute envelope v1 (docs/envelope.md): 32-byte words
///   [header, sender, recipient, payload length, payload...], header = version(8) | srcDomain(32) |
///   dstDomain(32) | nonce(64), right-aligned. The message id is keccak256 of the words.
library Envelope {
    uint8 internal constant VERSION = 1;
    uint256 internal constant HEADER_WORDS = 4;

    error EnvelopeTruncated(uint256 words);
    error EnvelopeReservedBits(uint256 header);
    error EnvelopeVersion(uint8 version);
    error EnvelopeLength(uint256 declared, uint256 present);

    struct Header {
        uint32 srcDomain;
        uint64 nonce;
        bytes32 sender;
        uint32 dstDomain;
        bytes32 recipient;
    }

    function encode(Header memory h, uint256[] memory payload) internal pure returns (uint256[] memory words) {
        words = new uint256[](HEADER_WORDS + payload.length);
        words[0] = (uint256(VERSION) << 128) | (uint256(h.srcDomain) << 96) | (uint256(h.dstDomain) << 64)
            | uint256(h.nonce);
        words[1] = uint256(h.sender);
        words[2] = uint256(h.recipient);
        words[3] = payload.length;
        for (uint256 i = 0; i < payload.length; i++) {
            words[HEADER_WORDS + i] = payload[i];
        }
    }

    function id(uint256[] memory words) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(words));
    }

    function decode(uint256[] calldata words) internal pure returns (Header memory h, uint256[] calldata payload) {
        if (words.length < HEADER_WORDS) revert EnvelopeTruncated(words.length);
        uint256 header = words[0];
        if (header >> 136 != 0) revert EnvelopeReservedBits(header);
        uint8 version = uint8(header >> 128);
        if (version != VERSION) revert EnvelopeVersion(version);
        if (words[3] != words.length - HEADER_WORDS) revert EnvelopeLength(words[3], words.length - HEADER_WORDS);
        h = Header({
            srcDomain: uint32(header >> 96),
            nonce: uint64(header),
            sender: bytes32(words[1]),
            dstDomain: uint32(header >> 64),
            recipient: bytes32(words[2])
        });
        payload = words[HEADER_WORDS:];
    }
}

/// @title EnvelopeCodec
/// @notice Exposes the Envelope library for off-chain tools and for the cross-language tests.
contract EnvelopeCodec {
    function encode(Envelope.Header calldata h, uint256[] calldata payload) external pure returns (uint256[] memory) {
        return Envelope.encode(h, payload);
    }

    function id(uint256[] calldata words) external pure returns (bytes32) {
        return Envelope.id(words);
    }

    function decode(uint256[] calldata words)
        external
        pure
        returns (Envelope.Header memory h, uint256[] memory payload)
    {
        return Envelope.decode(words);
    }
}
