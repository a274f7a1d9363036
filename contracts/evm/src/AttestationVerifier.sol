// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title AttestationVerifier
/// @notice Checks xroute router attestations on chain: EIP-712 typed data signed with secp256k1,
/// domain {name "xroute", version "1", chainId, verifyingContract = this contract}. No other
/// contract uses it (the Hub trusts no router signature: docs/security.md); it is deployed alone in
/// tests to prove that what routers sign off chain recovers on chain.
contract AttestationVerifier {
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant ATTESTATION_TYPEHASH =
        keccak256("Attestation(bytes32 messageId,uint8 stage,uint32 domain,uint64 blockNumber,bytes32 blockHash)");
    bytes32 public constant BATCH_ATTESTATION_TYPEHASH =
        keccak256("BatchAttestation(bytes32 root,uint32 count,uint32 domain,uint64 blockNumber,bytes32 blockHash)");
    /// @dev secp256k1n / 2: signatures with a higher s are malleable copies and are rejected.
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    error BadSignatureLength(uint256 length);
    error MalleableSignature();
    error InvalidSignature();

    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256("xroute"), keccak256("1"), block.chainid, address(this)));
    }

    /// @notice The router that signed "message `messageId` reached `stage` on `domain` at block
    /// `blockNumber` with hash `blockHash`".
    function attestationSigner(
        bytes32 messageId,
        uint8 stage,
        uint32 domain,
        uint64 blockNumber,
        bytes32 blockHash,
        bytes calldata signature
    ) public view returns (address) {
        bytes32 structHash = keccak256(abi.encode(ATTESTATION_TYPEHASH, messageId, stage, domain, blockNumber, blockHash));
        return _recover(structHash, signature);
    }

    /// @notice The router that signed a batch attestation over `root` of `count` leaves.
    function batchSigner(
        bytes32 root,
        uint32 count,
        uint32 domain,
        uint64 blockNumber,
        bytes32 blockHash,
        bytes calldata signature
    ) public view returns (address) {
        bytes32 structHash =
            keccak256(abi.encode(BATCH_ATTESTATION_TYPEHASH, root, count, domain, blockNumber, blockHash));
        return _recover(structHash, signature);
    }

    /// @notice Whether (messageId, stage) is leaf `index` of the batch tree with `root`: leaf =
    /// keccak256(0x00 ‖ messageId ‖ stage); an empty subtree hashes to zero.
    function batchIncludes(bytes32 root, bytes32 messageId, uint8 stage, uint256 index, bytes32[] calldata proof)
        public
        pure
        returns (bool)
    {
        bytes32 h = keccak256(abi.encodePacked(bytes1(0x00), messageId, stage));
        for (uint256 i = 0; i < proof.length; i++) {
            h = (index >> i) & 1 == 0 ? keccak256(abi.encodePacked(h, proof[i])) : keccak256(abi.encodePacked(proof[i], h));
        }
        return index >> proof.length == 0 && h == root;
    }

    function _recover(bytes32 structHash, bytes calldata signature) internal view returns (address signer) {
        if (signature.length != 65) revert BadSignatureLength(signature.length);
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        if (uint256(s) > HALF_ORDER) revert MalleableSignature();
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
    }
}
