//! What a router knows about messages, as every part of the node reads it: a message's
//! [`MessageRecord`] moving forward through the [`Stage`]s of DESIGN.md's lifecycle, its relay
//! transactions, where it was seen, its place in an L1 checkpoint, and each chain's indexing
//! [`Cursor`]. The store keeps these, the pipeline and the network move them, metrics count and
//! the API shows them; this module depends on none of those. Chains are named by their xroute
//! **domain** here, never by their config name, so renaming a chain in the config changes
//! nothing stored.
//!
//! A change of stage is reported to a [`StageObserver`] (metrics implements it), which the store
//! is given when it is opened.

use alloy_primitives::{B256, Bytes, U256};
use serde::{Deserialize, Serialize};
use xroute_proofs::envelope::{Envelope, MessageId};

/// Where a message is in its lifecycle. The byte value orders the status index.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[repr(u8)]
pub enum Stage {
    /// Seen on the source chain after its confirmations.
    Sent = 1,
    /// The hub-side proof exists, checked with a storage proof.
    Proven = 2,
    /// A quorum of routers signed that it is proven.
    Attested = 3,
    /// A relay transaction for the current hop is in flight.
    Relaying = 4,
    /// The current hop is mined and final.
    Relayed = 5,
    /// The destination endpoint executed it.
    Delivered = 6,
    /// Stopped with a reason; an operator retries or drops it.
    Parked = 7,
    /// Dropped by an operator, with a reason. Final.
    Dropped = 8,
}

impl Stage {
    /// Whether the lifecycle allows `self → to`. Messages move forward; a relay that has to be
    /// made again (reverted, or its nonce taken) goes back from `Relaying` to `Proven`; any live
    /// stage can be parked, and a parked message can be retried from `Sent` or dropped. A message
    /// has one L1 hop a router relays (the Hub consumes it and forwards it into the destination in
    /// the same transaction), so `Relayed` leads only to `Delivered`.
    pub fn can_move_to(self, to: Stage) -> bool {
        use Stage::*;
        match (self, to) {
            (Delivered | Dropped, _) => false,
            (Parked, Sent | Dropped) => true,
            (Parked, _) => false,
            (_, Parked) => true,
            (Sent, Proven) | (Proven, Attested) | (Proven, Relaying) | (Attested, Relaying) => true,
            // The hop was already made (by another relayer, or by a transaction this router
            // sent before a crash): nothing to pay for.
            (Proven, Relayed) | (Attested, Relayed) => true,
            (Relaying, Relayed) | (Relaying, Proven) => true,
            (Relayed, Delivered) => true,
            _ => false,
        }
    }

    /// All stages, in index order.
    pub const ALL: [Stage; 8] = [
        Stage::Sent,
        Stage::Proven,
        Stage::Attested,
        Stage::Relaying,
        Stage::Relayed,
        Stage::Delivered,
        Stage::Parked,
        Stage::Dropped,
    ];

    /// The stage whose byte value is `byte`.
    pub fn from_byte(byte: u8) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| *s as u8 == byte)
    }
}

/// One recorded stage change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transition {
    /// From.
    pub from: Stage,
    /// To.
    pub to: Stage,
    /// When, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Why (a parked reason, the proof block, the relay tx).
    pub note: String,
}

/// A transaction this router sent for a message: its L1 relay, or a follow-up on the
/// destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayAttempt {
    /// The domain of the chain it was sent on.
    pub domain: u32,
    /// Its hash.
    pub tx_hash: B256,
    /// The sender's nonce (EVM) or account nonce (Starknet).
    pub nonce: u64,
    /// When it was sent.
    pub sent_at_ms: u64,
    /// The signed transaction (EIP-2718 bytes), to re-broadcast it unchanged after a restart.
    #[serde(default)]
    pub raw: Bytes,
    /// Its gas limit.
    #[serde(default)]
    pub gas_limit: u64,
    /// Its max fee per gas, wei (a bump starts from it).
    #[serde(default)]
    pub max_fee_per_gas: u128,
    /// Its priority fee per gas, wei.
    #[serde(default)]
    pub max_priority_fee_per_gas: u128,
    /// The value it carried (the next leg's L2 fee), wei.
    #[serde(default)]
    pub value: U256,
    /// The batch it belongs to (the key of a [`RelayBatch`]), when the hop went out in one: the
    /// batch then holds the signed transaction and its replacements, and `raw` is empty here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<B256>,
}

/// One L1 transaction making several messages' hops (the Hub's `relayBatch`), kept apart from
/// its members' records: it is re-sent or replaced as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayBatch {
    /// Its key: the hash of its first transaction.
    pub key: B256,
    /// The members, in the batch's order.
    pub members: Vec<MessageId>,
    /// Its transactions under one nonce, oldest first: the first and its replacements (each with
    /// its raw bytes).
    pub attempts: Vec<RelayAttempt>,
}

/// Where the message was seen on its source chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// The source chain's domain.
    pub domain: u32,
    /// Block number.
    pub block_number: u64,
    /// Block hash (reorg detection).
    pub block_hash: B256,
    /// The sending transaction.
    pub tx_hash: B256,
}

/// Everything the router knows about one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The envelope id.
    pub id: MessageId,
    /// The envelope.
    pub envelope: Envelope,
    /// Where it was seen.
    pub source: SourceRef,
    /// Current stage.
    pub stage: Stage,
    /// Failed attempts of the current step.
    pub attempts: u32,
    /// Earliest time of the next attempt (backoff), ms since the epoch.
    pub next_attempt_at_ms: u64,
    /// Why it is parked or dropped.
    pub reason: Option<String>,
    /// Relay transactions sent.
    pub relays: Vec<RelayAttempt>,
    /// Every stage change.
    pub history: Vec<Transition>,
    /// When this router first saw it on its source chain (ms since the epoch; 0 in records
    /// stored before it was kept).
    #[serde(default)]
    pub seen_at_ms: u64,
    /// The L1 checkpoint whose certificate attested it (issue 16), set with `Attested`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointPlace>,
    /// The L1 block this router's relay of the current hop was mined in, set with `Relayed`
    /// (what the destination's follow-up looks for from: the hop's logs are not older).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed_in: Option<u64>,
}

impl MessageRecord {
    /// A fresh record in stage `Sent`.
    pub fn new(envelope: Envelope, source: SourceRef, at_ms: u64) -> Self {
        Self {
            id: envelope.id(),
            envelope,
            source,
            stage: Stage::Sent,
            attempts: 0,
            next_attempt_at_ms: at_ms,
            reason: None,
            relays: Vec::new(),
            history: Vec::new(),
            seen_at_ms: at_ms,
            checkpoint: None,
            relayed_in: None,
        }
    }
}

/// What a change in the store sets on a record besides its stage; a field left `None` stays as it
/// is. The store writes only what a change names: a stage change is the message's small state, one
/// history entry, a relay entry when `relay` is set, and two status keys, never the whole record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// Failed attempts of the current step.
    pub attempts: Option<u32>,
    /// Earliest time of the next attempt.
    pub next_attempt_at_ms: Option<u64>,
    /// Why it waits, is parked or dropped (`Some(None)` clears it).
    pub reason: Option<Option<String>>,
    /// Its place in an L1 checkpoint.
    pub checkpoint: Option<Option<CheckpointPlace>>,
    /// The L1 block its relay of the current hop was mined in.
    pub relayed_in: Option<Option<u64>>,
    /// A relay transaction to append to [`MessageRecord::relays`].
    pub relay: Option<RelayAttempt>,
}

impl Change {
    /// A step done: no failed attempt, no reason.
    pub fn step_done() -> Self {
        Self {
            attempts: Some(0),
            reason: Some(None),
            ..Self::default()
        }
    }

    /// Sets (or, with `None`, clears) the reason.
    #[must_use]
    pub fn reason(mut self, reason: Option<String>) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Sets the failed attempts and the earliest next attempt.
    #[must_use]
    pub fn attempts(mut self, attempts: u32, next_attempt_at_ms: u64) -> Self {
        self.attempts = Some(attempts);
        self.next_attempt_at_ms = Some(next_attempt_at_ms);
        self
    }

    /// Sets the checkpoint place.
    #[must_use]
    pub fn checkpoint(mut self, place: Option<CheckpointPlace>) -> Self {
        self.checkpoint = Some(place);
        self
    }

    /// Sets the L1 block the relay was mined in.
    #[must_use]
    pub fn relayed_in(mut self, block: Option<u64>) -> Self {
        self.relayed_in = Some(block);
        self
    }

    /// Appends a relay transaction.
    #[must_use]
    pub fn relay(mut self, attempt: RelayAttempt) -> Self {
        self.relay = Some(attempt);
        self
    }

    /// `record` with this change made (its stage and history untouched).
    pub fn apply(&self, record: &mut MessageRecord) {
        if let Some(n) = self.attempts {
            record.attempts = n;
        }
        if let Some(at) = self.next_attempt_at_ms {
            record.next_attempt_at_ms = at;
        }
        if let Some(reason) = &self.reason {
            record.reason.clone_from(reason);
        }
        if let Some(place) = self.checkpoint {
            record.checkpoint = place;
        }
        if let Some(block) = self.relayed_in {
            record.relayed_in = block;
        }
        if let Some(attempt) = &self.relay {
            record.relays.push(attempt.clone());
        }
    }
}

/// How far a chain has been indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Last fully processed block.
    pub block_number: u64,
    /// Its hash, to detect a reorg below the cursor.
    pub block_hash: B256,
}

/// Where a message sits in an L1 checkpoint (issue 16).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct CheckpointPlace {
    /// The source domain.
    pub domain: u32,
    /// The L1 block.
    pub l1_block: u64,
    /// The message's leaf index.
    pub index: u32,
}

/// Told of every change of stage once it is committed (metrics count them).
pub trait StageObserver: Send + Sync + std::fmt::Debug {
    /// `record` (as committed) moved `from → to` at `at_ms`.
    fn moved(&self, record: &MessageRecord, from: Stage, to: Stage, at_ms: u64);
}
