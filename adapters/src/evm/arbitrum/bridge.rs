//! What xroute calls and reads of an Arbitrum rollup's bridge and precompiles: the ABI of
//! nitro's Outbox, Inbox, Bridge, ArbSys and ArbRetryableTx as xroute uses them, the Hub's
//! Arbitrum calls (`relayFromArbitrum`, the retryable entry terms), and what their reverts mean.

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    sol_types::{SolCall, SolInterface},
};
use xroute_proofs::envelope::Envelope;

use crate::{
    Call, Revert,
    hub::{self, Hub},
};

mod bindings {
    #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
    alloy::sol!(
        #[sol(rpc, all_derives)]
        ArbitrumEndpoint,
        "../contracts/evm/out/ArbitrumEndpoint.json"
    );

    alloy::sol! {
        /// ArbSys (0x64), as nitro-contracts' `src/precompiles/ArbSys.sol` declares it.
        #[sol(rpc)]
        interface ArbSys {
            event L2ToL1Tx(address caller, address indexed destination, uint256 indexed hash, uint256 indexed position, uint256 arbBlockNum, uint256 ethBlockNum, uint256 timestamp, uint256 callvalue, bytes data);
            function sendMerkleTreeState() external view returns (uint256 size, bytes32 root, bytes32[] memory partials);
        }

        /// NodeInterface (0xc8), as nitro-contracts' `src/node-interface/NodeInterface.sol`: a
        /// virtual contract a nitro node answers `eth_call`s to.
        #[sol(rpc)]
        interface NodeInterface {
            function constructOutboxProof(uint64 size, uint64 leaf) external view returns (bytes32 send, bytes32 root, bytes32[] memory proof);
        }

        /// ArbRetryableTx (0x6e), as nitro-contracts' `src/precompiles/ArbRetryableTx.sol`.
        #[sol(rpc)]
        interface ArbRetryableTx {
            function redeem(bytes32 ticketId) external returns (bytes32);
            function getTimeout(bytes32 ticketId) external view returns (uint256);
            event TicketCreated(bytes32 indexed ticketId);
            event RedeemScheduled(bytes32 indexed ticketId, bytes32 indexed retryTxHash, uint64 indexed sequenceNum, uint64 donatedGas, address gasDonor, uint256 maxRefund, uint256 submissionFeeRefund);
            error NoTicketWithID();
            error NotCallable();
        }

        /// What xroute reads of nitro's Outbox, Inbox and Bridge (src/bridge/, src/libraries/Error.sol).
        #[sol(all_derives)]
        interface ArbBridgeContracts {
            event SendRootUpdated(bytes32 indexed outputRoot, bytes32 indexed l2BlockHash);
            event InboxMessageDelivered(uint256 indexed messageNum, bytes data);
            event MessageDelivered(uint256 indexed messageIndex, bytes32 indexed beforeInboxAcc, address inbox, uint8 kind, address sender, bytes32 messageDataHash, uint256 baseFeeL1, uint64 timestamp);
            error AlreadySpent(uint256 index);
            error UnknownRoot(bytes32 root);
            error ProofTooLong(uint256 proofLength);
            error PathNotMinimal(uint256 index, uint256 maxIndex);
            error BridgeCallFailed();
            error InsufficientValue(uint256 expected, uint256 actual);
            error InsufficientSubmissionCost(uint256 expected, uint256 actual);
        }
    }
}
pub use bindings::{ArbBridgeContracts, ArbRetryableTx, ArbSys, ArbitrumEndpoint, NodeInterface};

// Rebuild this crate when the artifact changes (the `sol!` above reads it, untracked).
const _: &[u8] = include_bytes!("../../../../contracts/evm/out/ArbitrumEndpoint.json");

/// ArbSys, the precompile every L2 → L1 message goes through.
pub const ARB_SYS: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64,
]);
/// NodeInterface, the node's virtual contract (outbox proofs).
pub const NODE_INTERFACE: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc8,
]);
/// ArbRetryableTx, the precompile that holds retryable tickets.
pub const ARB_RETRYABLE_TX: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x6e,
]);
/// Storage slot of the Outbox's `roots` mapping (nitro-contracts 3.x `AbsOutbox`: `rollup`,
/// `bridge`, `spent`, `roots`; an integration test reads it on the real bytecode).
pub const OUTBOX_ROOTS_SLOT: u64 = 3;
/// The Bridge's message kind of a retryable ticket (`L1MessageType_submitRetryableTx`).
pub const KIND_SUBMIT_RETRYABLE: u8 = 9;

/// The storage key of the Outbox's `roots[root]`.
pub fn outbox_root_key(root: B256) -> B256 {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(root.as_slice());
    key[32..].copy_from_slice(&U256::from(OUTBOX_ROOTS_SLOT).to_be_bytes::<32>());
    keccak256(key)
}

/// The L2 call a retryable from the Hub makes: `receiveMessage(words)` of the endpoint.
pub fn receive_call(envelope: &Envelope) -> Bytes {
    Bytes::from(
        ArbitrumEndpoint::receiveMessageCall {
            words: hub::envelope_words(&envelope.to_words()),
        }
        .abi_encode(),
    )
}

/// `Hub.relayFromArbitrum(exit, entry)`: executes an Arbitrum domain's L2 → L1 message through
/// the rollup's Outbox and forwards it.
pub fn relay_from_arbitrum(hub: Address, exit: Hub::ArbitrumExit, entry: &Bytes) -> Call {
    let data = Hub::relayFromArbitrumCall {
        e: exit,
        entry: entry.clone(),
    }
    .abi_encode();
    Call::evm(hub, Bytes::from(data), U256::ZERO)
}

/// The `entry` terms of a retryable ticket into an Arbitrum domain (`Hub.RetryableEntry`).
pub fn retryable_entry(
    gas_limit: u64,
    max_fee_per_gas: U256,
    max_submission_cost: U256,
    refund_to: Address,
) -> Bytes {
    use alloy::sol_types::SolValue;
    // abi.encode(RetryableEntry): four static words.
    Bytes::from(
        (
            U256::from(gas_limit),
            max_fee_per_gas,
            max_submission_cost,
            refund_to,
        )
            .abi_encode(),
    )
}

/// `terms` (a retryable's entry, as [`retryable_entry`] encodes it) with its refunds going to
/// `to` when `to` is an address; else `terms` as they are.
pub(super) fn with_refund_to(terms: &Bytes, to: B256) -> Bytes {
    use alloy::sol_types::SolValue;
    if to.0[..12] != [0u8; 12] || to == B256::ZERO {
        return terms.clone();
    }
    match <(U256, U256, U256, Address)>::abi_decode(terms) {
        Ok((gas_limit, max_fee, submission, _)) => retryable_entry(
            u64::try_from(gas_limit).unwrap_or(u64::MAX),
            max_fee,
            submission,
            Address::from_word(to),
        ),
        Err(_) => terms.clone(),
    }
}

/// The envelope in a `receiveFromArbitrum(words)` call, if it is one.
pub(super) fn envelope_of(data: &[u8]) -> Option<Envelope> {
    let call = Hub::receiveFromArbitrumCall::abi_decode(data).ok()?;
    let words: Vec<B256> = call.words.iter().map(|w| B256::from(*w)).collect();
    Envelope::from_words(&words).ok()
}

/// An endpoint revert in words.
pub(super) fn endpoint_revert(data: &[u8], message: &str) -> String {
    match ArbitrumEndpoint::ArbitrumEndpointErrors::abi_decode(data) {
        Ok(e) => format!("{e:?}"),
        Err(_) => alloy::sol_types::decode_revert_reason(data)
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| message.to_string()),
    }
}

/// What a revert of a transaction on an Arbitrum L2 means (the router sends redeems there).
pub fn classify_l2_revert(data: &[u8], message: &str) -> Revert {
    use ArbRetryableTx::ArbRetryableTxErrors as E;
    match E::abi_decode(data) {
        Ok(E::NoTicketWithID(_)) => {
            Revert::AlreadyDone("NoTicketWithID: the ticket was redeemed (or expired)".into())
        }
        Ok(E::NotCallable(_)) => Revert::Permanent("NotCallable".into()),
        Err(_) => Revert::Transient(
            alloy::sol_types::decode_revert_reason(data)
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| message.to_string()),
        ),
    }
}

/// What a revert of the rollup's Outbox or Inbox (bubbling up through the Hub) means.
pub fn classify_bridge_revert(data: &[u8]) -> Option<Revert> {
    use ArbBridgeContracts::ArbBridgeContractsErrors as E;
    Some(match E::abi_decode(data).ok()? {
        E::AlreadySpent(e) => {
            Revert::AlreadyDone(format!("the Outbox already executed leaf {}", e.index))
        }
        E::UnknownRoot(e) => Revert::Transient(format!(
            "the Outbox has no send root {} (not posted, or the proof is wrong)",
            e.root
        )),
        e @ (E::ProofTooLong(_) | E::PathNotMinimal(_)) => {
            Revert::Permanent(format!("the Outbox refuses the proof: {e:?}"))
        }
        E::BridgeCallFailed(_) => Revert::Transient("the Bridge's call failed".into()),
        E::InsufficientValue(e) => Revert::Transient(format!(
            "the Inbox wants {} wei for the retryable, got {}",
            e.expected, e.actual
        )),
        E::InsufficientSubmissionCost(e) => Revert::Transient(format!(
            "the Inbox wants a submission cost of {}, got {}",
            e.expected, e.actual
        )),
    })
}
