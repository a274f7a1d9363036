//! Certificates per L1 checkpoint (issue 16, ADR 0010).
//!
//! What becomes consumable on L1 is decided by L1: for each checkpointed source domain and each
//! finalized L1 block, the [`CheckpointSource`] lists the messages that block made consumable
//! (a Starknet state update's `LogMessageToL1` logs, the Hub's own `MessageSent` logs). Every
//! honest router computes the same list, so they all sign the same root:
//!
//! - **Scan.** Each round, every checkpointed domain is read from its cursor up to the finalized L1
//!   block ([`RANGE`] blocks per call). Each checkpoint found is stored with each message's place
//!   in it, signed by this router whether or not it indexed the messages, and gossiped; a message
//!   this router had not indexed is learned from it (recorded `Sent`, with the L1 transaction
//!   that carried it as its source).
//! - **Validation.** A received checkpoint attestation counts once its signer is the publishing
//!   member and its claim equals the checkpoint this router computed for (domain, block) from its
//!   own L1. One that differs is rejected ([`Rejection::WrongCheckpoint`]) and penalises the peer.
//!   A block not final here yet is waited for (up to [`NOT_FINAL_WAIT_MS`]), then ignored.
//! - **Certificates.** `threshold` distinct members' attestations of one checkpoint form one
//!   certificate, stored once; a message of it is `Attested` by that certificate and its place.
//! - **Catch-up** asks for checkpoints (domain, block), not message ids.
//!
//! A domain that is not checkpointed (an Arbitrum rollup's sends) keeps the per-message path.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Mutex, OnceLock},
    time::Duration,
};

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use xroute_adapters::FoundCheckpoint;
use xroute_proofs::{attestation::Signed, checkpoint::CheckpointClaim, envelope::MessageId};

use super::{Network, catch_up::Waiting};
use crate::{
    model::{CheckpointPlace, Cursor, MessageRecord, SourceRef},
    network::wire::CheckpointAttestation,
    pipeline::Gate,
    store::StoreError,
    time::now_ms,
};

/// L1 blocks per checkpoint read.
pub const RANGE: u64 = 1_000;
/// How long a received attestation of a block that is not final here yet waits for it.
pub const NOT_FINAL_WAIT_MS: u64 = 60_000;
/// How far past our finalized L1 block a block may be and still be waited for (further is
/// ignored at once: no honest router signs a block that far ahead of another's view).
pub const MAX_AHEAD_BLOCKS: u64 = 64;
/// Most checkpoint gossip messages judged at once (each may wait for a block); past it, more are
/// ignored, so a member that floods the topic cannot grow this router's memory.
pub const MAX_JUDGING: usize = 1_024;

mod catch_up;
mod judge;
mod source;

pub use source::{ChainsCheckpoints, CheckpointSource, RecordedCheckpoints};

/// A checkpoint as this router computed it from L1 (`checkpoints_v1`; its ids are kept apart,
/// see [`crate::store::Store::checkpoint_ids`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// What every router signs.
    pub claim: CheckpointClaim,
}

/// The certificate of one checkpoint: `threshold` or more members signed its claim (their
/// attestations are stored beside it, each checked against our own checkpoint before it was
/// kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointCertificate {
    /// The certified claim (equal to our own checkpoint's).
    pub claim: CheckpointClaim,
    /// Distinct signers.
    pub signers: Vec<Address>,
}

/// What this router's L1 says of (domain, block).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Local {
    /// The block is not final here yet.
    NotFinal,
    /// It made no message of the domain consumable.
    Nothing,
    /// Its checkpoint.
    Claim(CheckpointClaim),
}

#[derive(Debug, Default)]
struct State {
    /// Our attestations to gossip at the next flush.
    outbox: Vec<CheckpointAttestation>,
    /// Checkpoints without a certificate here.
    waiting: HashMap<(u32, u64), Waiting>,
    /// When we last answered a request with our attestation of a checkpoint.
    answered: HashMap<(u32, u64), u64>,
    /// Where each message that has not passed its gate here sits (rebuilt from the live
    /// checkpoints when the router starts).
    places: HashMap<MessageId, CheckpointPlace>,
    /// How many messages of each live checkpoint have not passed their gate here.
    remaining: HashMap<(u32, u64), usize>,
}

/// The checkpoint side of one router's network membership.
#[derive(Debug)]
pub(super) struct Book {
    source: OnceLock<std::sync::Arc<dyn CheckpointSource>>,
    domains: OnceLock<BTreeSet<u32>>,
    /// The finalized L1 block as the last round saw it.
    finalized: watch::Sender<u64>,
    /// One computation of a missing checkpoint at a time (the others then find it stored).
    fetch: tokio::sync::Mutex<()>,
    /// Checkpoint gossip messages being judged now.
    pub(super) judging: std::sync::atomic::AtomicUsize,
    state: Mutex<State>,
}

impl Default for Book {
    fn default() -> Self {
        Self {
            source: OnceLock::new(),
            domains: OnceLock::new(),
            finalized: watch::channel(0).0,
            fetch: tokio::sync::Mutex::new(()),
            judging: 0.into(),
            state: Mutex::default(),
        }
    }
}

impl Book {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn cursor_at(block: u64) -> Cursor {
    Cursor {
        block_number: block,
        block_hash: B256::ZERO, // final blocks only: nothing to detect
    }
}

impl Network {
    /// Certifies the messages of `source`'s domains per L1 checkpoint (run
    /// [`Self::run_checkpoints`] too); the other domains keep the per-message path.
    pub fn with_checkpoints(self, source: std::sync::Arc<dyn CheckpointSource>) -> Self {
        let _ = self
            .checkpoints
            .domains
            .set(source.domains().into_iter().collect());
        let _ = self.checkpoints.source.set(source);
        if let Err(e) = self.index_live_checkpoints() {
            tracing::error!(error = %e, "cannot read the live checkpoints; their messages wait for a restart");
        }
        self
    }

    /// Rebuilds the index of message → place from the live checkpoints (after a restart): every
    /// message of them that has not passed its gate here.
    pub(super) fn index_live_checkpoints(&self) -> Result<(), StoreError> {
        for (domain, block) in self.store.live_checkpoints()? {
            let ids = self.store.checkpoint_ids(domain, block)?;
            let mut open = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let waiting = match self.store.get(id)? {
                    None => true,
                    Some(r) => {
                        r.checkpoint.is_none()
                            && matches!(
                                r.stage,
                                crate::model::Stage::Sent | crate::model::Stage::Proven
                            )
                    }
                };
                if waiting {
                    open.push((*id, i as u32));
                }
            }
            if open.is_empty() {
                self.store.retire_checkpoint(domain, block)?;
                continue;
            }
            let mut state = self.checkpoints.state();
            state.remaining.insert((domain, block), open.len());
            for (id, index) in open {
                state.places.insert(
                    id,
                    CheckpointPlace {
                        domain,
                        l1_block: block,
                        index,
                    },
                );
            }
        }
        Ok(())
    }

    /// Forgets the in-memory index of places, as a restart does (tests).
    #[cfg(test)]
    pub(super) fn forget_places(&self) {
        let mut state = self.checkpoints.state();
        state.places.clear();
        state.remaining.clear();
    }

    /// Where message `id` sits in a checkpoint, while it waits for its gate here.
    pub fn checkpoint_place(&self, id: &MessageId) -> Option<CheckpointPlace> {
        self.checkpoints.state().places.get(id).copied()
    }

    /// `record` passed its gate (its place is in its record now): once every message of its
    /// checkpoint has, the checkpoint is no longer live.
    pub(super) fn checkpoint_attested(&self, record: &MessageRecord) {
        let retire = {
            let mut state = self.checkpoints.state();
            let Some(place) = state.places.remove(&record.id) else {
                return;
            };
            let key = (place.domain, place.l1_block);
            match state.remaining.get_mut(&key) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    None
                }
                Some(_) => {
                    state.remaining.remove(&key);
                    Some(key)
                }
                None => None,
            }
        };
        if let Some((domain, block)) = retire
            && let Err(e) = self.store.retire_checkpoint(domain, block)
        {
            tracing::error!(domain, l1_block = block, error = %e, "cannot retire a checkpoint");
        }
    }

    /// Whether messages from `domain` are certified per checkpoint.
    pub fn checkpointed(&self, domain: u32) -> bool {
        self.checkpoints
            .domains
            .get()
            .is_some_and(|d| d.contains(&domain))
    }

    /// Reads, signs and gossips checkpoints every `period`, for the router's lifetime.
    pub async fn run_checkpoints(self: std::sync::Arc<Self>, period: Duration) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.checkpoint_round().await {
                tracing::warn!(error = %e, "reading checkpoints failed; the next round retries");
            }
        }
    }

    /// One round: every checkpointed domain from its cursor up to the finalized L1 block (at most
    /// [`RANGE`] blocks each), then our new attestations and requests go out. Returns how many
    /// checkpoints were new here.
    pub async fn checkpoint_round(&self) -> Result<usize, String> {
        let Some(source) = self.checkpoints.source.get() else {
            return Ok(0);
        };
        let finalized = source.finalized().await.map_err(|e| e.to_string())?;
        self.checkpoints.finalized.send_if_modified(|f| {
            let newer = finalized.number > *f;
            *f = (*f).max(finalized.number);
            newer
        });
        let mut new = 0;
        for domain in source.domains() {
            let from = match self
                .store
                .checkpoint_cursor(domain)
                .map_err(|e| e.to_string())?
            {
                Some(c) => c.block_number + 1,
                None => 0,
            };
            if from > finalized.number {
                continue;
            }
            let to = (from + RANGE - 1).min(finalized.number);
            let found = source
                .checkpoints(domain, from, to)
                .await
                .map_err(|e| e.to_string())?;
            for f in found {
                if self
                    .adopt(source.l1_domain(), f)
                    .map_err(|e| e.to_string())?
                {
                    new += 1;
                }
            }
            self.store
                .set_checkpoint_cursor(domain, &cursor_at(to))
                .map_err(|e| e.to_string())?;
        }
        self.flush_checkpoints();
        Ok(new)
    }

    /// Keeps `found` (computed from our L1), learns its messages we had not indexed, signs it
    /// and queues our attestation. `false` if it was stored already.
    fn adopt(&self, l1_domain: u32, found: FoundCheckpoint) -> Result<bool, StoreError> {
        let claim = found.checkpoint.claim;
        let (domain, block) = (claim.domain, claim.l1_block);
        let stored = StoredCheckpoint { claim };
        let new = self
            .store
            .put_checkpoint(domain, block, &found.checkpoint.ids, &stored)?;
        if new {
            let mut state = self.checkpoints.state();
            state
                .remaining
                .insert((domain, block), found.checkpoint.ids.len());
            for (i, id) in found.checkpoint.ids.iter().enumerate() {
                state.places.insert(
                    *id,
                    CheckpointPlace {
                        domain,
                        l1_block: block,
                        index: i as u32,
                    },
                );
            }
        } else {
            // Stored by a validation that computed it first: sign it if we have not.
            if self
                .store
                .has_checkpoint_signature(domain, block, &self.members.me())?
            {
                return Ok(false);
            }
        }
        let now = now_ms();
        for m in found.messages {
            if self.store.contains(&m.envelope.id())? {
                continue; // indexed already (the usual case): no write
            }
            let record = MessageRecord::new(
                m.envelope,
                SourceRef {
                    domain: l1_domain,
                    block_number: m.block.number,
                    block_hash: B256::from(m.block.hash),
                    tx_hash: B256::from(m.tx_hash),
                },
                now,
            );
            if self.store.insert_new(&record)? {
                tracing::info!(id = %record.id, domain, l1_block = block, "message learned from an L1 checkpoint");
            }
        }
        let signed = match Signed::sign(self.members.signer(), self.members.domain(), claim) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(domain, l1_block = block, error = %e, "cannot sign a checkpoint");
                return Ok(true);
            }
        };
        self.store
            .put_checkpoint_signature(domain, block, &self.members.me(), &signed)?;
        tracing::debug!(domain, l1_block = block, count = claim.count, root = %claim.root, "checkpoint signed");
        {
            let mut state = self.checkpoints.state();
            state.outbox.push(signed);
            state.waiting.insert(
                (domain, block),
                Waiting {
                    at_ms: now,
                    times: 1,
                },
            );
        }
        self.try_certify_checkpoint(domain, block)?;
        Ok(true)
    }

    /// Forms and keeps the certificate of (`domain`, `block`) once `threshold` members'
    /// attestations of our checkpoint are stored; `true` if this call formed it.
    fn try_certify_checkpoint(&self, domain: u32, block: u64) -> Result<bool, StoreError> {
        if self
            .store
            .checkpoint_certificate::<CheckpointCertificate>(domain, block)?
            .is_some()
        {
            return Ok(false);
        }
        let Some(ours) = self.store.checkpoint::<StoredCheckpoint>(domain, block)? else {
            return Ok(false);
        };
        let signers: Vec<Address> = self
            .store
            .checkpoint_signatures::<CheckpointAttestation>(domain, block)?
            .into_iter()
            .filter(|(s, a)| self.members.contains(s) && a.body == ours.claim)
            .map(|(s, _)| s)
            .collect();
        if signers.len() < self.members.threshold() {
            return Ok(false);
        }
        let certificate = CheckpointCertificate {
            claim: ours.claim,
            signers,
        };
        if !self
            .store
            .put_checkpoint_certificate(domain, block, &certificate)?
        {
            return Ok(false);
        }
        tracing::debug!(
            domain,
            l1_block = block,
            count = ours.claim.count,
            signers = certificate.signers.len(),
            "checkpoint certificate formed"
        );
        self.checkpoints.state().waiting.remove(&(domain, block));
        if let Some(hook) = &self.certified {
            let at = now_ms();
            for id in &self.store.checkpoint_ids(domain, block)? {
                let _ = hook.send((*id, at));
            }
        }
        Ok(true)
    }

    /// The checkpoint certificate covering `record`, with its place, if one was formed.
    pub fn checkpoint_certificate(
        &self,
        record: &MessageRecord,
    ) -> Result<Option<(CheckpointPlace, CheckpointCertificate)>, StoreError> {
        let Some(place) = record
            .checkpoint
            .or_else(|| self.checkpoint_place(&record.id))
        else {
            return Ok(None);
        };
        Ok(self
            .store
            .checkpoint_certificate::<CheckpointCertificate>(place.domain, place.l1_block)?
            .map(|c| (place, c)))
    }

    /// The gate of a message from a checkpointed domain: its checkpoint's certificate, whose
    /// signers must still be a quorum of the configured set. `None` for the other domains.
    pub(super) fn checkpoint_gate(
        &self,
        record: &MessageRecord,
    ) -> Result<Option<Gate>, StoreError> {
        if !self.checkpointed(record.envelope.src_domain) {
            return Ok(None);
        }
        // Its record keeps the place once a certificate was found (a later hop), else the index.
        let Some(place) = record
            .checkpoint
            .or_else(|| self.checkpoint_place(&record.id))
        else {
            return Ok(Some(Gate::Closed)); // the scan has not reached its L1 block
        };
        let Some(cert) = self
            .store
            .checkpoint_certificate::<CheckpointCertificate>(place.domain, place.l1_block)?
        else {
            self.want_checkpoint(place.domain, place.l1_block);
            return Ok(Some(Gate::Closed));
        };
        let signers: Vec<&Address> = cert
            .signers
            .iter()
            .filter(|s| self.members.contains(s))
            .collect();
        if signers.len() < self.members.threshold() {
            tracing::warn!(id = %record.id, signers = signers.len(), "a stored checkpoint certificate no longer holds a quorum of the set");
            return Ok(Some(Gate::Closed));
        }
        let note = format!(
            "checkpoint certificate: leaf {} of {} of domain {} at L1 block {} (root {}), {} of the set signed ({})",
            place.index,
            cert.claim.count,
            place.domain,
            place.l1_block,
            cert.claim.root,
            signers.len(),
            super::listed(signers.iter().copied())
        );
        Ok(Some(Gate::CheckpointCertified { note, place }))
    }

    /// Notes that (`domain`, `block`) has no certificate here (after a restart the waiting list
    /// is empty; the gate refills it).
    fn want_checkpoint(&self, domain: u32, block: u64) {
        self.checkpoints
            .state()
            .waiting
            .entry((domain, block))
            .or_insert(Waiting { at_ms: 0, times: 1 });
    }
}
