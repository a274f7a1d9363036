// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {StorageProof} from "../src/StorageProof.sol";

/// The proof checker as a contract, so that reverts can be caught.
contract Prover {
    function slotAt(bytes32 root, address account, bytes32 slot, bytes[] calldata a, bytes[] calldata s)
        external
        pure
        returns (uint256)
    {
        return StorageProof.slotAt(root, account, slot, a, s);
    }

    function stateRoot(bytes calldata header) external pure returns (bytes32 root, bytes32 hash) {
        return StorageProof.stateRoot(header);
    }
}

/// `StorageProof` on tries built here (one leaf each: the account's in the state trie, the slot's
/// in its storage trie): a held slot reads its value, a slot or an account the trie does not hold
/// reads 0, a changed byte anywhere is refused. Under arbitrary bytes (a node that is the root, a
/// header) it reads something or refuses with `BadProof`, never a panic.
contract StorageProofFuzz {
    Prover internal prover = new Prover();

    /// RLP of a string of `b` (any length).
    function _str(bytes memory b) internal pure returns (bytes memory) {
        if (b.length == 1 && uint8(b[0]) < 0x80) return b;
        return abi.encodePacked(_len(0x80, b.length), b);
    }

    /// RLP of a list whose items' encodings are `payload`.
    function _list(bytes memory payload) internal pure returns (bytes memory) {
        return abi.encodePacked(_len(0xc0, payload.length), payload);
    }

    function _len(uint8 base, uint256 n) internal pure returns (bytes memory) {
        if (n < 56) return abi.encodePacked(uint8(base + n));
        if (n < 256) return abi.encodePacked(uint8(base + 56), uint8(n));
        return abi.encodePacked(uint8(base + 57), uint16(n));
    }

    /// RLP of `v` as a minimal big-endian integer.
    function _uint(uint256 v) internal pure returns (bytes memory) {
        if (v == 0) return hex"80";
        uint256 n = 0;
        for (uint256 x = v; x != 0; x >>= 8) n++;
        bytes memory b = new bytes(n);
        for (uint256 i = 0; i < n; i++) {
            b[n - 1 - i] = bytes1(uint8(v >> (8 * i)));
        }
        return _str(b);
    }

    /// A trie of one leaf: `key` → `value`.
    function _leaf(bytes32 key, bytes memory value) internal pure returns (bytes memory) {
        return _list(abi.encodePacked(_str(abi.encodePacked(hex"20", key)), _str(value)));
    }

    /// The state trie (one account) and the storage trie (one slot) holding `value`.
    function _tries(address account, bytes32 slot, uint256 value)
        internal
        pure
        returns (bytes32 root, bytes[] memory a, bytes[] memory s)
    {
        s = new bytes[](1);
        s[0] = _leaf(keccak256(abi.encodePacked(slot)), _uint(value));
        bytes memory acct = _list(
            abi.encodePacked(
                _uint(1), _uint(0), _str(abi.encodePacked(keccak256(s[0]))), _str(abi.encodePacked(keccak256("")))
            )
        );
        a = new bytes[](1);
        a[0] = _leaf(keccak256(abi.encodePacked(account)), acct);
        root = keccak256(a[0]);
    }

    function testFuzz_aHeldSlotReadsItsValueAndOthersReadZero(address account, bytes32 slot, uint256 value, bytes32 other)
        external
        view
    {
        (bytes32 root, bytes[] memory a, bytes[] memory s) = _tries(account, slot, value);
        require(prover.slotAt(root, account, slot, a, s) == value, "the held slot");
        if (other != slot) {
            require(prover.slotAt(root, account, other, a, s) == 0, "a slot not held");
        }
        address stranger = address(uint160(uint256(other)));
        if (stranger != account) {
            require(prover.slotAt(root, stranger, slot, a, s) == 0, "an account not held");
        }
    }

    function testFuzz_aChangedByteIsRefused(address account, bytes32 slot, uint256 value, uint256 where, uint8 flip)
        external
        view
    {
        if (flip == 0) flip = 1;
        (bytes32 root, bytes[] memory a, bytes[] memory s) = _tries(account, slot, value);
        bool inAccount = where % 2 == 0;
        bytes memory node = inAccount ? a[0] : s[0];
        node[(where / 2) % node.length] ^= bytes1(flip);
        try prover.slotAt(root, account, slot, a, s) returns (uint256) {
            revert("a changed proof was taken");
        } catch (bytes memory reason) {
            require(bytes4(reason) == StorageProof.BadProof.selector, "refused with BadProof");
        }
    }

    function testFuzz_anyRootNodeIsReadOrRefused(bytes calldata node, address account, bytes32 slot) external view {
        bytes[] memory proof = new bytes[](1);
        proof[0] = node;
        try prover.slotAt(keccak256(node), account, slot, proof, proof) returns (uint256) {}
        catch (bytes memory reason) {
            require(bytes4(reason) == StorageProof.BadProof.selector, "refused with BadProof, not a panic");
        }
    }

    function testFuzz_anyHeaderIsReadOrRefused(bytes calldata header) external view {
        try prover.stateRoot(header) returns (bytes32, bytes32 hash) {
            require(hash == keccak256(header), "the header's hash");
        } catch (bytes memory reason) {
            require(bytes4(reason) == StorageProof.BadProof.selector, "refused with BadProof, not a panic");
        }
    }
}
