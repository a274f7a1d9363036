// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Envelope, EnvelopeCodec} from "../src/Envelope.sol";

/// The envelope codec under arbitrary input: what it encodes decodes back to the same header and
/// payload, and any words either decode to a header that encodes back to the same words or are
/// refused with one of the codec's own errors (never a panic, never another revert).
contract EnvelopeFuzz {
    EnvelopeCodec internal codec = new EnvelopeCodec();

    function testFuzz_encodeThenDecodeIsTheIdentity(
        uint32 src,
        uint64 nonce,
        bytes32 sender,
        uint32 dst,
        bytes32 recipient,
        uint256[] calldata payload
    ) external view {
        Envelope.Header memory h =
            Envelope.Header({srcDomain: src, nonce: nonce, sender: sender, dstDomain: dst, recipient: recipient});
        uint256[] memory words = codec.encode(h, payload);
        (Envelope.Header memory back, uint256[] memory out) = codec.decode(words);
        require(keccak256(abi.encode(back)) == keccak256(abi.encode(h)), "header changed");
        require(keccak256(abi.encode(out)) == keccak256(abi.encode(payload)), "payload changed");
        require(codec.id(words) == keccak256(abi.encodePacked(words)), "id is not keccak of the words");
    }

    function testFuzz_anyWordsDecodeFaithfullyOrAreRefusedByName(uint256[] calldata words) external view {
        try codec.decode(words) returns (Envelope.Header memory h, uint256[] memory payload) {
            uint256[] memory again = codec.encode(h, payload);
            require(keccak256(abi.encode(again)) == keccak256(abi.encode(words)), "decoded words re-encode differently");
        } catch (bytes memory err) {
            bytes4 sel = err.length >= 4 ? bytes4(err) : bytes4(0);
            require(
                sel == Envelope.EnvelopeTruncated.selector || sel == Envelope.EnvelopeReservedBits.selector
                    || sel == Envelope.EnvelopeVersion.selector || sel == Envelope.EnvelopeLength.selector,
                "refused without one of the codec's errors"
            );
        }
    }
}
