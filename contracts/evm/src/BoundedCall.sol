// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title BoundedCall
/// @notice A call into code we do not trust that copies at most `MAX_RETURN` bytes of what it
/// returns or reverts with. Solidity's own calls copy all of it: a callee that reverts with
/// megabytes makes its caller pay quadratic memory for the copy (and again for each frame that
/// bubbles it up), which is how one member could sink a whole `relayBatch`.
library BoundedCall {
    /// @notice The most return or revert data a caller keeps.
    uint256 internal constant MAX_RETURN = 1024;

    /// @notice A callee reverted with more than `MAX_RETURN` bytes (`size`), starting `selector`.
    error RevertDataTooLong(address callee, uint256 size, bytes4 selector);

    /// @notice Calls `to` with `value` and `data`, with all the gas but what the 1/64 rule keeps.
    /// Returns whether it succeeded, the first `MAX_RETURN` bytes of what it returned (or of its
    /// revert data) and that data's whole size.
    function call(address to, uint256 value, bytes memory data)
        internal
        returns (bool ok, bytes memory head, uint256 size)
    {
        assembly ("memory-safe") {
            ok := call(gas(), to, value, add(data, 0x20), mload(data), 0, 0)
            size := returndatasize()
            let n := size
            if gt(n, MAX_RETURN) { n := MAX_RETURN }
            head := mload(0x40)
            mstore(head, n)
            returndatacopy(add(head, 0x20), 0, n)
            mstore(0x40, add(add(head, 0x20), and(add(n, 31), not(31))))
        }
    }

    /// @notice Reverts as the callee `to` did: with its own revert data when it was at most
    /// `MAX_RETURN` bytes, else with `RevertDataTooLong`.
    function bubble(address to, bytes memory head, uint256 size) internal pure {
        if (size > MAX_RETURN) {
            bytes4 selector;
            assembly ("memory-safe") {
                selector := mload(add(head, 0x20))
            }
            revert RevertDataTooLong(to, size, selector);
        }
        assembly ("memory-safe") {
            revert(add(head, 0x20), mload(head))
        }
    }
}
