// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice What xroute calls of Arbitrum's L1 bridge (nitro-contracts 3.x `IInbox`, `IBridge`,
/// `IOutbox`) and of the L2 precompiles (`ArbSys` at 0x64, `ArbRetryableTx` at 0x6e). Signatures
/// as in ../shared/ARBITRUM.md; the contracts themselves are Offchain Labs' (BUSL-1.1), installed
/// by the bootstrap, never part of this repository.
interface IArbInbox {
    function bridge() external view returns (address);

    function createRetryableTicket(
        address to,
        uint256 l2CallValue,
        uint256 maxSubmissionCost,
        address excessFeeRefundAddress,
        address callValueRefundAddress,
        uint256 gasLimit,
        uint256 maxFeePerGas,
        bytes calldata data
    ) external payable returns (uint256);
}

interface IArbBridge {
    function activeOutbox() external view returns (address);
}

interface IArbOutbox {
    function l2ToL1Sender() external view returns (address);

    function executeTransaction(
        bytes32[] calldata proof,
        uint256 index,
        address l2Sender,
        address to,
        uint256 l2Block,
        uint256 l1Block,
        uint256 l2Timestamp,
        uint256 value,
        bytes calldata data
    ) external;
}

interface IArbSys {
    function arbBlockNumber() external view returns (uint256);

    function arbChainID() external view returns (uint256);

    function arbOSVersion() external view returns (uint256);

    function sendTxToL1(address destination, bytes calldata data) external payable returns (uint256);
}

/// @notice The Hub's entry point that Arbitrum's Outbox calls (through its Bridge).
interface IHubFromArbitrum {
    function receiveFromArbitrum(uint256[] calldata words) external payable returns (bytes32);
}

/// @notice The L2 handler of xroute's Arbitrum endpoint, which a retryable ticket calls.
interface IArbitrumEndpoint {
    function receiveMessage(uint256[] calldata words) external;
}
