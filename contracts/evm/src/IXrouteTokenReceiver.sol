// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice What an L1 contract implements to receive a transfer-and-call of the canonical token
/// (`TokenLedger`'s operation 3). The tokens are minted to it first; if this reverts, the mint is
/// undone and the ledger sends the amount back to the sender on its source chain, with `data`.
interface IXrouteTokenReceiver {
    /// @param srcDomain the chain the transfer comes from (for a refund: the chain it could not reach)
    /// @param from the sender on `srcDomain` (a word)
    /// @param amount what was minted to this contract
    /// @param why 0 a transfer, 1 a refund, 2 a cancelled queued transfer (TokenLedger's WHY_*)
    /// @param data the sender's words, unchanged
    function onTokens(uint32 srcDomain, bytes32 from, uint256 amount, uint256 why, uint256[] calldata data) external;
}
