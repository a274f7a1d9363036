// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title StorageProof
/// @notice Reads an account's storage slot at an L1 block from what `eth_getProof` answers: the
/// block's header (RLP) gives the state root, the account proof (the state trie's nodes from the
/// root down, keyed by keccak(address)) gives the account's storage root, and the storage proof
/// (keyed by keccak(slot)) gives the slot's value. Both exclusion and inclusion are proven: a
/// slot (or an account) the trie does not hold reads 0. Every length is checked against the bytes
/// it is read from; anything else reverts with `BadProof(why)`.
library StorageProof {
    error BadProof(string why);

    /// @notice keccak256 of RLP("") : the root of an empty trie.
    bytes32 internal constant EMPTY_TRIE = 0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421;

    /// @notice The state root of `header` (its 4th field), and the header's hash.
    function stateRoot(bytes memory header) internal pure returns (bytes32 root, bytes32 hash) {
        (bool list, uint256 start, uint256 len) = _item(header, 0, header.length);
        if (!list || start + len != header.length) revert BadProof("header is not one RLP list");
        uint256 at = start;
        for (uint256 i = 0; i < 3; i++) {
            at = _next(header, at, start + len);
        }
        root = _word(header, at, start + len, "header state root");
        hash = keccak256(header);
    }

    /// @notice The value of `slot` in `account`'s storage under state root `root`.
    function slotAt(
        bytes32 root,
        address account,
        bytes32 slot,
        bytes[] memory accountProof,
        bytes[] memory storageProof
    ) internal pure returns (uint256 value) {
        (bool found, bytes memory node, uint256 start, uint256 len) =
            _get(root, keccak256(abi.encodePacked(account)), accountProof);
        if (!found) return 0;
        // The account: RLP [nonce, balance, storageRoot, codeHash].
        (bool list, uint256 s, uint256 l) = _item(node, start, start + len);
        if (!list || s + l != start + len) revert BadProof("account is not one RLP list");
        uint256 at = _next(node, _next(node, s, s + l), s + l);
        bytes32 storageRoot = _word(node, at, s + l, "account storage root");
        if (storageRoot == EMPTY_TRIE) return 0;
        (found, node, start, len) = _get(storageRoot, keccak256(abi.encodePacked(slot)), storageProof);
        if (!found) return 0;
        (list, s, l) = _item(node, start, start + len);
        if (list || s + l != start + len || l > 32) revert BadProof("slot value is not a word");
        for (uint256 i = 0; i < l; i++) {
            value = (value << 8) | uint8(node[s + i]);
        }
    }

    /// @notice Where a walk down a trie is: the node being read (bytes[start:end] of `node`), how
    /// many nibbles of the key it has used and how many proof nodes.
    struct Walk {
        bytes node;
        uint256 start;
        uint256 end;
        uint256 nib;
        uint256 used;
    }

    /// @notice Walks the trie of root `root` along `key` (64 nibbles) through `proof`: whether the
    /// key is held, and if so its value as (bytes, start, length) of the RLP string in them.
    function _get(bytes32 root, bytes32 key, bytes[] memory proof)
        private
        pure
        returns (bool found, bytes memory node, uint256 start, uint256 len)
    {
        if (proof.length == 0) revert BadProof("empty proof");
        if (keccak256(proof[0]) != root) revert BadProof("first node is not the root");
        Walk memory w = Walk(proof[0], 0, proof[0].length, 0, 1);
        for (uint256 depth = 0; depth < 130; depth++) {
            (uint256[17] memory at, uint256 count) = _items(w);
            uint256 child;
            if (count == 17) {
                if (w.nib == 64) revert BadProof("branch value in a 32-byte-key trie");
                child = at[_nibble(key, w.nib)];
                w.nib += 1;
            } else if (count == 2) {
                (bool matched, bool leaf) = _followPath(w, at[0], key);
                if (!matched) return (false, w.node, 0, 0);
                if (leaf) {
                    if (w.used != proof.length) revert BadProof("nodes after the leaf");
                    (bool vl, uint256 vs, uint256 vlen) = _item(w.node, at[1], w.end);
                    if (vl) revert BadProof("leaf value is not a string");
                    return (true, w.node, vs, vlen);
                }
                child = at[1];
            } else {
                revert BadProof("node is neither branch nor leaf/extension");
            }
            if (!_descend(w, child, proof)) return (false, w.node, 0, 0);
        }
        revert BadProof("proof deeper than a key");
    }

    /// @notice Where each item of the node `w` is at starts, and how many there are (2 or 17 in
    /// a well-formed trie; more than 17 reverts).
    function _items(Walk memory w) private pure returns (uint256[17] memory at, uint256 count) {
        (bool list, uint256 s, uint256 l) = _item(w.node, w.start, w.end);
        if (!list || s + l != w.end) revert BadProof("node is not one RLP list");
        for (uint256 p = s; p < w.end; p = _next(w.node, p, w.end)) {
            if (count == 17) revert BadProof("node has more than 17 items");
            at[count++] = p;
        }
    }

    /// @notice Nibble `i` of `key`.
    function _nibble(bytes32 key, uint256 i) private pure returns (uint256) {
        return (uint8(key[i / 2]) >> (i % 2 == 0 ? 4 : 0)) & 0xf;
    }

    /// @notice Reads the hex-prefixed path at `at` of a leaf or extension against the key from
    /// `w.nib`: whether it matches (`w.nib` moved past it) and whether the node is a leaf. A leaf
    /// matches only if it ends the key.
    function _followPath(Walk memory w, uint256 at, bytes32 key) private pure returns (bool matched, bool leaf) {
        (bool pl, uint256 ps, uint256 plen) = _item(w.node, at, w.end);
        if (pl || plen == 0) revert BadProof("node path is not a string");
        uint256 flag = uint8(w.node[ps]) >> 4;
        if (flag > 3) revert BadProof("bad hex-prefix flag");
        leaf = flag >= 2;
        // The path's nibbles after the flag: from nibble 1 (odd length) or 2 (even) of its bytes.
        uint256 skip = flag % 2 == 1 ? 1 : 2;
        uint256 nibbles = 2 * plen - skip;
        if (w.nib + nibbles > 64) return (false, leaf);
        for (uint256 i = 0; i < nibbles; i++) {
            if (_nibbleAt(w.node, ps, i + skip) != _nibble(key, w.nib + i)) return (false, leaf);
        }
        w.nib += nibbles;
        matched = !leaf || w.nib == 64;
    }

    /// @notice Nibble `q` of the bytes of `b` from `start`.
    function _nibbleAt(bytes memory b, uint256 start, uint256 q) private pure returns (uint256) {
        return (uint8(b[start + q / 2]) >> (q % 2 == 0 ? 4 : 0)) & 0xf;
    }

    /// @notice Moves `w` to the child referenced at `child`: an embedded node, or the next proof
    /// node once it hashes to the reference. `false` for an empty child (the key is not held).
    function _descend(Walk memory w, uint256 child, bytes[] memory proof) private pure returns (bool) {
        (bool cl, uint256 cs, uint256 clen) = _item(w.node, child, w.end);
        if (!cl && clen == 0) {
            if (w.used != proof.length) revert BadProof("nodes after an empty child");
            return false;
        }
        if (cl) {
            // A node shorter than 32 bytes, embedded in its parent.
            w.start = child;
            w.end = cs + clen;
            return true;
        }
        if (clen != 32) revert BadProof("child reference is not 32 bytes");
        bytes32 want;
        bytes memory node = w.node;
        assembly ("memory-safe") {
            want := mload(add(add(node, 0x20), cs))
        }
        if (w.used >= proof.length) revert BadProof("proof ends before the key");
        w.node = proof[w.used];
        w.used += 1;
        if (keccak256(w.node) != want) revert BadProof("node does not hash to its reference");
        w.start = 0;
        w.end = w.node.length;
        return true;
    }

    /// @notice The RLP item at `at`, read within `[at, end)`: whether it is a list, and where its
    /// payload starts and how long it is.
    function _item(bytes memory b, uint256 at, uint256 end)
        private
        pure
        returns (bool list, uint256 start, uint256 len)
    {
        if (at >= end || end > b.length) revert BadProof("item out of bounds");
        uint8 p = uint8(b[at]);
        if (p < 0x80) return (false, at, 1);
        if (p <= 0xb7) {
            (list, start, len) = (false, at + 1, p - 0x80);
        } else if (p < 0xc0) {
            (list, start, len) = (false, at + 1 + (p - 0xb7), _length(b, at + 1, p - 0xb7, end));
        } else if (p <= 0xf7) {
            (list, start, len) = (true, at + 1, p - 0xc0);
        } else {
            (list, start, len) = (true, at + 1 + (p - 0xf7), _length(b, at + 1, p - 0xf7, end));
        }
        if (start > end || len > end - start) revert BadProof("item longer than its bytes");
    }

    /// @notice A big-endian length of `n` bytes (at most 4) at `at`.
    function _length(bytes memory b, uint256 at, uint256 n, uint256 end) private pure returns (uint256 len) {
        if (n > 4 || at + n > end) revert BadProof("length of length");
        for (uint256 i = 0; i < n; i++) {
            len = (len << 8) | uint8(b[at + i]);
        }
    }

    /// @notice Where the item after the one at `at` starts.
    function _next(bytes memory b, uint256 at, uint256 end) private pure returns (uint256) {
        (, uint256 start, uint256 len) = _item(b, at, end);
        return start + len;
    }

    /// @notice The 32-byte string at `at`.
    function _word(bytes memory b, uint256 at, uint256 end, string memory what) private pure returns (bytes32 w) {
        (bool list, uint256 start, uint256 len) = _item(b, at, end);
        if (list || len != 32) revert BadProof(what);
        assembly ("memory-safe") {
            w := mload(add(add(b, 0x20), start))
        }
    }
}
