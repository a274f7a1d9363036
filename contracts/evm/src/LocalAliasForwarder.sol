// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title LocalAliasForwarder
/// @notice What the local Arbitrum etches at an aliased L1 sender's L2 address, so that a
/// retryable's call runs with `msg.sender` = that alias, as ArbOS runs it, inside the very
/// transaction that redeems the ticket (nitro runs a retry in the block of its redeem). Only the
/// local ArbRetryableTx (0x6e) may use it; it holds the ETH ArbOS mints to the alias.
contract LocalAliasForwarder {
    address internal constant RETRYABLE_TX = address(0x6e);

    error NotRetryableTx(address caller);

    /// @notice Calls `to` with `data` and `value` as this address; reports whether it succeeded.
    function retry(address to, uint256 value, bytes calldata data) external returns (bool ok) {
        if (msg.sender != RETRYABLE_TX) revert NotRetryableTx(msg.sender);
        (ok,) = to.call{value: value}(data);
    }

    receive() external payable {}
}
