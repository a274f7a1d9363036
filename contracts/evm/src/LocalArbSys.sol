// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title LocalArbSys
/// @notice The local Arbitrum's ArbSys, etched at 0x64 of the L2 anvil (no Nitro node exists in
/// any package registry; ../shared/ARBITRUM.md). It follows nitro's `precompiles/ArbSys.go` and
/// `arbos/merkleAccumulator` exactly where xroute depends on them: the send hash
/// `keccak256(caller ‖ destination ‖ l2Block ‖ l1Block ‖ l2Timestamp ‖ value ‖ data)`, the leaf
/// `keccak256(sendHash)`, the accumulator's partials and root, and the `L2ToL1Tx` /
/// `SendMerkleUpdate` events. Storage only (etched code runs no constructor). It also keeps every
/// send hash and every complete subtree's root, so that [`constructOutboxProof`] can answer what
/// nitro's `NodeInterface.constructOutboxProof` (0xc8) answers on a real node (nitro finds the same
/// nodes in the `SendMerkleUpdate` logs; `LocalNodeInterface` at 0xc8 forwards here).
contract LocalArbSys {
    /// @notice The ArbOS version this stand-in answers for (`arbOSVersion()` = 55 + it).
    uint256 public constant ARBOS_VERSION = 32;
    /// @notice The address the local sequencer acts as when it plays ArbOS.
    address public constant ARBOS = address(0xA4B05);

    uint256 internal sendCount;
    mapping(uint256 => bytes32) internal partials;
    /// @notice The L1 block number as this L2 last saw it (set by the local sequencer).
    uint256 public l1BlockNumber;
    /// @dev Leaf index → its send hash.
    mapping(uint256 => bytes32) internal sendHashes;
    /// @dev Level (≥ 1) → index → the root of that complete subtree (2^level leaves).
    mapping(uint256 => mapping(uint256 => bytes32)) internal completeNodes;

    event L2ToL1Tx(
        address caller,
        address indexed destination,
        uint256 indexed hash,
        uint256 indexed position,
        uint256 arbBlockNum,
        uint256 ethBlockNum,
        uint256 timestamp,
        uint256 callvalue,
        bytes data
    );
    event SendMerkleUpdate(uint256 indexed reserved, bytes32 indexed hash, uint256 indexed position);

    error NotArbOS(address caller);
    /// @notice `constructOutboxProof` asked for a leaf outside the tree, or a tree larger than the
    /// sends so far.
    error LeafDoesNotExist(uint64 leaf, uint64 size, uint256 sends);

    function arbBlockNumber() external view returns (uint256) {
        return block.number;
    }

    function arbChainID() external view returns (uint256) {
        return block.chainid;
    }

    function arbOSVersion() external pure returns (uint256) {
        return 55 + ARBOS_VERSION;
    }

    /// @notice Set by the local sequencer as it reads L1 (what real ArbOS learns from L1 messages).
    function setL1BlockNumber(uint256 number) external {
        if (msg.sender != ARBOS) revert NotArbOS(msg.sender);
        l1BlockNumber = number;
    }

    /// @notice Queues an L2 → L1 call: returns its leaf index in the send accumulator.
    function sendTxToL1(address destination, bytes calldata data) external payable returns (uint256 leafNum) {
        bytes32 sendHash = keccak256(
            abi.encodePacked(msg.sender, destination, block.number, l1BlockNumber, block.timestamp, msg.value, data)
        );
        leafNum = _append(sendHash);
        emit L2ToL1Tx(
            msg.sender, destination, uint256(sendHash), leafNum, block.number, l1BlockNumber, block.timestamp, msg.value, data
        );
    }

    /// @notice The accumulator: number of sends, root, and partials (level order).
    function sendMerkleTreeState() external view returns (uint256 size, bytes32 root, bytes32[] memory parts) {
        size = sendCount;
        uint256 levels = _bitLength(size);
        parts = new bytes32[](levels);
        for (uint256 i = 0; i < levels; i++) {
            parts[i] = partials[i];
        }
        root = _root(size);
    }

    /// @notice The proof of leaf `leaf` in the accumulator of its first `size` sends: the leaf's
    /// send hash, the root, and the path bottom-up (`NodeInterface.constructOutboxProof`'s answer;
    /// the Outbox's `executeTransaction` takes it). An empty subtree is 32 zero bytes, unhashed.
    function constructOutboxProof(uint64 size, uint64 leaf)
        external
        view
        returns (bytes32 send, bytes32 root, bytes32[] memory proof)
    {
        if (leaf >= size || size > sendCount) revert LeafDoesNotExist(leaf, size, sendCount);
        uint256 levels = _bitLength(uint256(size) - 1);
        proof = new bytes32[](levels);
        for (uint256 level = 0; level < levels; level++) {
            proof[level] = _node(level, (uint256(leaf) >> level) ^ 1, size);
        }
        send = sendHashes[leaf];
        root = _node(levels, 0, size);
    }

    /// @dev The node at `level` and `index` of the tree of the first `size` leaves: zero when it
    /// covers none of them, the stored root when it covers 2^level of them, else the hash of its
    /// children.
    function _node(uint256 level, uint256 index, uint256 size) internal view returns (bytes32) {
        uint256 first = index << level;
        if (first >= size) return bytes32(0);
        if (first + (uint256(1) << level) <= size) {
            return level == 0 ? keccak256(abi.encodePacked(sendHashes[index])) : completeNodes[level][index];
        }
        return keccak256(abi.encodePacked(_node(level - 1, 2 * index, size), _node(level - 1, 2 * index + 1, size)));
    }

    function _append(bytes32 sendHash) internal returns (uint256 leafNum) {
        leafNum = sendCount;
        uint256 levels = _bitLength(leafNum);
        sendCount = leafNum + 1;
        sendHashes[leafNum] = sendHash;
        bytes32 soFar = keccak256(abi.encodePacked(sendHash));
        for (uint256 level = 0;; level++) {
            if (level == levels) {
                partials[level] = soFar;
                return leafNum;
            }
            bytes32 here = partials[level];
            if (here == bytes32(0)) {
                partials[level] = soFar;
                return leafNum;
            }
            soFar = keccak256(abi.encodePacked(here, soFar));
            partials[level] = bytes32(0);
            completeNodes[level + 1][leafNum >> (level + 1)] = soFar;
            emit SendMerkleUpdate(0, soFar, ((level + 1) << 192) + leafNum);
        }
    }

    function _root(uint256 size) internal view returns (bytes32 hashSoFar) {
        if (size == 0) return bytes32(0);
        bool started;
        uint256 capacityInHash;
        uint256 capacity = 1;
        uint256 levels = _bitLength(size);
        for (uint256 level = 0; level < levels; level++) {
            bytes32 partial_ = partials[level];
            if (partial_ != bytes32(0)) {
                if (!started) {
                    hashSoFar = partial_;
                    capacityInHash = capacity;
                    started = true;
                } else {
                    while (capacityInHash < capacity) {
                        hashSoFar = keccak256(abi.encodePacked(hashSoFar, bytes32(0)));
                        capacityInHash *= 2;
                    }
                    hashSoFar = keccak256(abi.encodePacked(partial_, hashSoFar));
                    capacityInHash = 2 * capacity;
                }
            }
            capacity *= 2;
        }
    }

    function _bitLength(uint256 x) internal pure returns (uint256 n) {
        while (x != 0) {
            n++;
            x >>= 1;
        }
    }
}
