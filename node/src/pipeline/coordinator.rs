//! How the pipeline works with the other routers of a set, or without them: one small trait,
//! [`Coordinator`], implemented by the router network (`crate::network::Network`) and by
//! [`Alone`]. The pipeline never asks which one it has.

use xroute_adapters::BlockRef;

use crate::{model::MessageRecord, store::StoreError};

/// What a `Proven` message waits for before its relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Nothing: relay now (a router alone).
    Open,
    /// A quorum certificate that is not there yet.
    Closed,
    /// A quorum certified it: it becomes `Attested`, with this note for its history.
    Certified(String),
    /// A quorum certified its L1 checkpoint (issue 16): it becomes `Attested`, with this note,
    /// and its record keeps its place in the checkpoint.
    CheckpointCertified {
        /// For its history.
        note: String,
        /// Where it is in the checkpoint.
        place: crate::model::CheckpointPlace,
    },
}

/// What a router does about an `Attested` message's hop now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// Not now; why (for logs).
    Wait(String),
    /// This router claimed the hop; it relays once the claim has settled.
    Claimed,
    /// Send the relay transaction.
    Relay,
}

/// The pipeline's view of the router set.
pub trait Coordinator: Send + Sync + std::fmt::Debug {
    /// This router's own storage proofs took `records` to `Proven` in this tick, at L1 block `l1`
    /// of the hub chain `hub_domain`: attest them.
    fn proven(
        &self,
        records: &[MessageRecord],
        hub_domain: u32,
        l1: BlockRef,
    ) -> Result<(), StoreError>;

    /// Whether `record` (`Proven`) may go on to its relay.
    fn gate(&self, record: &MessageRecord) -> Result<Gate, StoreError>;

    /// Whose turn it is to relay `record`'s hop, `Attested` here since `attested_at` (ms).
    fn turn(&self, record: &MessageRecord, attested_at: u64, now: u64) -> Turn;

    /// This router's relay of `record`'s hop is in flight (called every tick until it is final).
    fn relaying(&self, record: &MessageRecord, now: u64);

    /// `record` left `Attested`/`Relaying` (its hop made, given up or parked): whatever was held
    /// for its hop can go.
    fn released(&self, record: &MessageRecord);

    /// The tick is over: send what it produced.
    fn flush(&self);

    /// `record` became `Attested` through [`Gate::CheckpointCertified`] (its place is stored).
    fn attested(&self, _record: &MessageRecord) {}
}

/// A router that works alone: nothing to attest, nobody to wait for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Alone;

impl Coordinator for Alone {
    fn proven(&self, _: &[MessageRecord], _: u32, _: BlockRef) -> Result<(), StoreError> {
        Ok(())
    }

    fn gate(&self, _: &MessageRecord) -> Result<Gate, StoreError> {
        Ok(Gate::Open)
    }

    fn turn(&self, _: &MessageRecord, _: u64, _: u64) -> Turn {
        Turn::Relay
    }

    fn relaying(&self, _: &MessageRecord, _: u64) {}

    fn released(&self, _: &MessageRecord) {}

    fn flush(&self) {}
}
