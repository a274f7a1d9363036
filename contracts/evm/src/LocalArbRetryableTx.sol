// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {LocalAliasForwarder} from "./LocalAliasForwarder.sol";

/// @title LocalArbRetryableTx
/// @notice The local Arbitrum's ArbRetryableTx, etched at 0x6e of the L2 anvil. Tickets are made
/// by the local sequencer (playing ArbOS, from `ARBOS`) as it executes each retryable it reads
/// on L1, with nitro's lifetime (7 days) and events. A retry (the automatic one when the ticket is
/// made, or one `redeem` schedules, donating the rest of its transaction's gas) runs in the same
/// transaction, as the ticket's aliased sender (through the `LocalAliasForwarder` etched there);
/// a retry that succeeds deletes the ticket, one that fails leaves it redeemable until it
/// expires. Storage only (etched code runs no constructor).
contract LocalArbRetryableTx {
    address public constant ARBOS = address(0xA4B05);
    uint256 public constant LIFETIME = 7 days;
    /// @dev Gas `redeem` keeps for itself after measuring what it donates.
    uint256 internal constant REDEEM_RESERVE = 10_000;

    struct Ticket {
        address from;
        address to;
        uint256 callvalue;
        address beneficiary;
        uint64 timeout;
        uint64 tries;
        bytes data;
    }

    mapping(bytes32 => Ticket) internal tickets;

    event TicketCreated(bytes32 indexed ticketId);
    event LifetimeExtended(bytes32 indexed ticketId, uint256 newTimeout);
    event RedeemScheduled(
        bytes32 indexed ticketId,
        bytes32 indexed retryTxHash,
        uint64 indexed sequenceNum,
        uint64 donatedGas,
        address gasDonor,
        uint256 maxRefund,
        uint256 submissionFeeRefund
    );
    event Canceled(bytes32 indexed ticketId);
    event Redeemed(bytes32 indexed userTxHash);

    error NoTicketWithID();
    error NotCallable();
    error NotArbOS(address caller);
    error NotBeneficiary(address caller, address beneficiary);

    modifier onlyArbOS() {
        if (msg.sender != ARBOS) revert NotArbOS(msg.sender);
        _;
    }

    // ---- what Arbitrum's ArbRetryableTx offers ----

    /// @notice Schedules a retry of ticket `ticketId`, donating this transaction's remaining gas.
    function redeem(bytes32 ticketId) external returns (bytes32 retryTxHash) {
        Ticket storage t = _live(ticketId);
        uint64 sequenceNum = ++t.tries;
        retryTxHash = keccak256(abi.encode(ticketId, sequenceNum));
        uint256 left = gasleft();
        uint64 donated = left > REDEEM_RESERVE ? uint64(left - REDEEM_RESERVE) : 0;
        emit RedeemScheduled(ticketId, retryTxHash, sequenceNum, donated, msg.sender, 0, 0);
        _retry(ticketId, t, donated);
    }

    function getLifetime() external pure returns (uint256) {
        return LIFETIME;
    }

    function getTimeout(bytes32 ticketId) external view returns (uint256) {
        return _live(ticketId).timeout;
    }

    function keepalive(bytes32 ticketId) external returns (uint256) {
        Ticket storage t = _live(ticketId);
        t.timeout += uint64(LIFETIME);
        emit LifetimeExtended(ticketId, t.timeout);
        return t.timeout;
    }

    function getBeneficiary(bytes32 ticketId) external view returns (address) {
        return _live(ticketId).beneficiary;
    }

    function cancel(bytes32 ticketId) external {
        Ticket storage t = _live(ticketId);
        if (msg.sender != t.beneficiary) revert NotBeneficiary(msg.sender, t.beneficiary);
        delete tickets[ticketId];
        emit Canceled(ticketId);
    }

    function getCurrentRedeemer() external pure returns (address) {
        return address(0);
    }

    function submitRetryable(
        bytes32,
        uint256,
        uint256,
        uint256,
        uint256,
        uint64,
        uint256,
        address,
        address,
        address,
        bytes calldata
    ) external pure {
        revert NotCallable();
    }

    // ---- what the local sequencer does as ArbOS ----

    /// @notice Creates ticket `ticketId` (the retryable's submission); when `autoRedeemGas` is
    /// non-zero the auto-redeem is scheduled with that much gas (sequence number 0).
    function createTicket(
        bytes32 ticketId,
        address from,
        address to,
        uint256 callvalue,
        address beneficiary,
        bytes calldata data,
        uint64 autoRedeemGas
    ) external onlyArbOS {
        tickets[ticketId] = Ticket({
            from: from,
            to: to,
            callvalue: callvalue,
            beneficiary: beneficiary,
            timeout: uint64(block.timestamp + LIFETIME),
            tries: 0,
            data: data
        });
        emit TicketCreated(ticketId);
        if (autoRedeemGas != 0) {
            emit RedeemScheduled(ticketId, keccak256(abi.encode(ticketId, uint64(0))), 0, autoRedeemGas, from, 0, 0);
            _retry(ticketId, tickets[ticketId], autoRedeemGas);
        }
    }

    /// @notice A live ticket's retry: who it runs as, what it calls.
    function ticket(bytes32 ticketId)
        external
        view
        returns (address from, address to, uint256 callvalue, bytes memory data)
    {
        Ticket storage t = _live(ticketId);
        return (t.from, t.to, t.callvalue, t.data);
    }

    /// @dev Runs the ticket's call as its sender with `gas`; a success ends the ticket.
    function _retry(bytes32 ticketId, Ticket storage t, uint256 gas) internal {
        bool ok;
        try LocalAliasForwarder(payable(t.from)).retry{gas: gas}(t.to, t.callvalue, t.data) returns (bool r) {
            ok = r;
        } catch {
            ok = false;
        }
        if (ok) {
            // Only the timeout is cleared (the ticket is then gone for `_live`): deleting the
            // stored data would cost the redeem gas by the data's length, which ArbOS does not.
            t.timeout = 0;
            emit Redeemed(ticketId);
        }
    }

    function _live(bytes32 ticketId) internal view returns (Ticket storage t) {
        t = tickets[ticketId];
        if (t.timeout == 0 || t.timeout < block.timestamp) revert NoTicketWithID();
    }
}
