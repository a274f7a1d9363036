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
use xroute_adapters::{AdapterError, BlockRef, ChainAdapter, ChainAdapterExt, FoundCheckpoint};
use xroute_proofs::{attestation::Signed, checkpoint::CheckpointClaim, envelope::MessageId};

use super::{MAX_BATCH, Network, Rejected, catch_up::Waiting};
use crate::{
    p2p::{
        Inbound, Rejection, Verdict,
        wire::{CheckpointAttestation, CheckpointWant, Gossip, MAX_BUNDLE, WantedCheckpoint},
    },
    pipeline::{Chains, Gate},
    store::{CheckpointPlace, Cursor, MessageRecord, SourceRef, StoreError},
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

/// Where a router's checkpoints come from: L1 through the router's chains, or a recorded list
/// (benchmarks).
#[async_trait::async_trait]
pub trait CheckpointSource: Send + Sync + std::fmt::Debug {
    /// The checkpointed source domains.
    fn domains(&self) -> Vec<u32>;

    /// The name learned messages record as their source chain (L1's).
    fn l1_name(&self) -> String;

    /// The L1 block this router treats as final.
    async fn finalized(&self) -> Result<BlockRef, AdapterError>;

    /// The checkpoints of `domain` in the L1 blocks `from..=to` (at most the finalized block), in
    /// block order.
    async fn checkpoints(
        &self,
        domain: u32,
        from: u64,
        to: u64,
    ) -> Result<Vec<FoundCheckpoint>, AdapterError>;
}

/// The router's chains as its checkpoint source: every chain whose adapter is checkpointed, read
/// from the hub chain's L1.
#[derive(Debug, Clone)]
pub struct ChainsCheckpoints {
    chains: Chains,
}

impl ChainsCheckpoints {
    /// Over `chains`.
    pub fn new(chains: Chains) -> Self {
        Self { chains }
    }
}

#[async_trait::async_trait]
impl CheckpointSource for ChainsCheckpoints {
    fn domains(&self) -> Vec<u32> {
        self.chains
            .adapters()
            .iter()
            .filter(|c| c.checkpointed())
            .map(|c| c.domain())
            .collect()
    }

    fn l1_name(&self) -> String {
        self.chains.hub().name().to_string()
    }

    async fn finalized(&self) -> Result<BlockRef, AdapterError> {
        self.chains.hub().finalized_head().await
    }

    async fn checkpoints(
        &self,
        domain: u32,
        from: u64,
        to: u64,
    ) -> Result<Vec<FoundCheckpoint>, AdapterError> {
        let not = |why: &str| AdapterError::config(format!("domain {domain}"), why.to_string());
        let chain: &dyn ChainAdapter = self
            .chains
            .get(domain)
            .ok_or_else(|| not("no chain of this domain is configured"))?
            .as_ref();
        let l1 = self
            .chains
            .hub()
            .as_l1()
            .ok_or_else(|| not("the hub chain cannot serve as L1"))?;
        chain
            .checkpoints(l1, from, to)
            .await?
            .ok_or_else(|| not("this chain is not checkpointed"))
    }
}

/// L1's checkpoints as a recorded list: what a router reads from a capture of L1 (the network
/// benchmark, tests), final up to a block its owner moves.
#[derive(Debug)]
pub struct RecordedCheckpoints {
    finalized: std::sync::atomic::AtomicU64,
    found: Vec<FoundCheckpoint>,
}

impl RecordedCheckpoints {
    /// `found`, final up to L1 block `finalized`.
    pub fn new(found: Vec<FoundCheckpoint>, finalized: u64) -> Self {
        Self {
            finalized: finalized.into(),
            found,
        }
    }

    /// The checkpoints of domain `domain` over `messages`, `per_block` to an L1 block from
    /// block 1 (block hashes made up from their numbers).
    pub fn of_messages(
        domain: u32,
        messages: &[xroute_proofs::envelope::Envelope],
        per_block: usize,
    ) -> Vec<FoundCheckpoint> {
        messages
            .chunks(per_block.max(1))
            .enumerate()
            .filter_map(|(b, chunk)| {
                let number = b as u64 + 1;
                let hash = alloy_primitives::keccak256(number.to_be_bytes());
                let checkpoint = xroute_proofs::checkpoint::Checkpoint::new(
                    domain,
                    number,
                    hash,
                    chunk.iter().map(|e| e.id()).collect(),
                )
                .ok()?;
                let messages = chunk
                    .iter()
                    .map(|e| xroute_adapters::SentMessage {
                        envelope: e.clone(),
                        block: BlockRef {
                            number,
                            hash: hash.0,
                        },
                        tx_hash: [0xcc; 32],
                    })
                    .collect();
                Some(FoundCheckpoint {
                    checkpoint,
                    messages,
                })
            })
            .collect()
    }

    /// Makes L1 final up to `block`.
    pub fn set_finalized(&self, block: u64) {
        self.finalized
            .store(block, std::sync::atomic::Ordering::Relaxed);
    }

    /// The recorded checkpoints.
    pub fn found(&self) -> &[FoundCheckpoint] {
        &self.found
    }
}

#[async_trait::async_trait]
impl CheckpointSource for RecordedCheckpoints {
    fn domains(&self) -> Vec<u32> {
        let mut d: Vec<u32> = self
            .found
            .iter()
            .map(|f| f.checkpoint.claim.domain)
            .collect();
        d.sort_unstable();
        d.dedup();
        d
    }

    fn l1_name(&self) -> String {
        "l1".into()
    }

    async fn finalized(&self) -> Result<BlockRef, AdapterError> {
        Ok(BlockRef {
            number: self.finalized.load(std::sync::atomic::Ordering::Relaxed),
            hash: [0; 32],
        })
    }

    async fn checkpoints(
        &self,
        domain: u32,
        from: u64,
        to: u64,
    ) -> Result<Vec<FoundCheckpoint>, AdapterError> {
        Ok(self
            .found
            .iter()
            .filter(|f| {
                let c = f.checkpoint.claim;
                c.domain == domain && (from..=to).contains(&c.l1_block)
            })
            .cloned()
            .collect())
    }
}

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
                                crate::store::Stage::Sent | crate::store::Stage::Proven
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
                    .adopt(&source.l1_name(), f)
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
    fn adopt(&self, l1_name: &str, found: FoundCheckpoint) -> Result<bool, StoreError> {
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
                    chain: l1_name.to_string(),
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

    /// What our L1 says of (`domain`, `block`): stored, or computed now from the source when the
    /// block is final here but the scan has not reached it.
    async fn local_checkpoint(&self, domain: u32, block: u64) -> Result<Local, String> {
        let known = |net: &Self| -> Result<Option<Local>, String> {
            // The cursor first: a checkpoint is stored before the scan moves past its block, so
            // a block under the cursor read here without a checkpoint read after it has none.
            // (The other order races a round storing it.)
            let cursor = net
                .store
                .checkpoint_cursor(domain)
                .map_err(|e| e.to_string())?;
            if let Some(cp) = net
                .store
                .checkpoint::<StoredCheckpoint>(domain, block)
                .map_err(|e| e.to_string())?
            {
                return Ok(Some(Local::Claim(cp.claim)));
            }
            Ok(cursor
                .is_some_and(|c| c.block_number >= block)
                .then_some(Local::Nothing))
        };
        if let Some(local) = known(self)? {
            return Ok(local);
        }
        if *self.checkpoints.finalized.borrow() < block {
            return Ok(Local::NotFinal);
        }
        let Some(source) = self.checkpoints.source.get() else {
            return Ok(Local::NotFinal);
        };
        let _one = self.checkpoints.fetch.lock().await;
        if let Some(local) = known(self)? {
            return Ok(local);
        }
        let found = source
            .checkpoints(domain, block, block)
            .await
            .map_err(|e| e.to_string())?;
        let Some(f) = found
            .into_iter()
            .find(|f| f.checkpoint.claim.l1_block == block)
        else {
            // Not stored: the scan records "nothing here" by moving its cursor past the block.
            return Ok(Local::Nothing);
        };
        let claim = f.checkpoint.claim;
        self.adopt(&source.l1_name(), f)
            .map_err(|e| e.to_string())?;
        // Our attestation goes out now, not at the next round (which may have just flushed).
        self.flush_checkpoints();
        Ok(Local::Claim(claim))
    }

    /// Judges received checkpoint attestations (asynchronous: a claim is checked against our own
    /// L1, which may mean reading it, or waiting for its block to be final here).
    pub(super) async fn judge_checkpoints(&self, message: &Inbound) -> Result<Verdict, Rejected> {
        let reject = |reason, detail: String| Rejected { reason, detail };
        let Gossip::Checkpoints { attestations } = &message.gossip else {
            return Ok(Verdict::Ignore);
        };
        let author = message
            .author
            .ok_or_else(|| reject(Rejection::Unsigned, "unsigned gossip".into()))?;
        let member = self.members.of_peer(&author).ok_or_else(|| {
            reject(
                Rejection::Stranger,
                format!("peer {author} is not in the router set"),
            )
        })?;
        if attestations.is_empty() || attestations.len() > MAX_BUNDLE {
            return Err(reject(
                Rejection::OutOfBounds,
                format!(
                    "{} checkpoint attestations in one message (1 to {MAX_BUNDLE})",
                    attestations.len()
                ),
            ));
        }
        let local_fault = |e: String| {
            tracing::error!(peer = %message.from, error = %e, "cannot check a checkpoint attestation: our L1 or store failed; ignoring it");
            Ok(Verdict::Ignore)
        };
        let mut new = false;
        for (i, signed) in attestations.iter().enumerate() {
            let claim = signed.body;
            let (domain, block) = (claim.domain, claim.l1_block);
            match self.store.has_checkpoint_signature(domain, block, &member) {
                Ok(true) => continue, // a replay: no signature recovery
                Ok(false) => {}
                Err(e) => return local_fault(e.to_string()),
            }
            // Certified here already: one more signature adds nothing, so none is recovered (the
            // cost per router is `threshold` recoveries per checkpoint, not one per member).
            match self
                .store
                .checkpoint_certificate::<CheckpointCertificate>(domain, block)
            {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => return local_fault(e.to_string()),
            }
            let signer = signed.signer(self.members.domain()).map_err(|e| {
                reject(
                    Rejection::BadSignature,
                    format!("checkpoint attestation {i}: {e}"),
                )
            })?;
            if signer != member {
                return Err(reject(
                    Rejection::Impersonation,
                    format!(
                        "checkpoint attestation {i} signed by {signer}, published by {member}'s peer"
                    ),
                ));
            }
            if !self.checkpointed(domain) {
                continue; // not ours to judge (a set whose configs differ)
            }
            let mut local = match self.local_checkpoint(domain, block).await {
                Ok(l) => l,
                Err(e) => return local_fault(e),
            };
            if local == Local::NotFinal {
                if block
                    > self
                        .checkpoints
                        .finalized
                        .borrow()
                        .saturating_add(MAX_AHEAD_BLOCKS)
                {
                    continue; // far ahead of our L1: not waited for
                }
                let mut finalized = self.checkpoints.finalized.subscribe();
                let final_here = matches!(
                    tokio::time::timeout(
                        Duration::from_millis(NOT_FINAL_WAIT_MS),
                        finalized.wait_for(|f| *f >= block),
                    )
                    .await,
                    Ok(Ok(_))
                );
                if !final_here {
                    tracing::debug!(domain, l1_block = block, %member, "checkpoint of a block not final here; ignored");
                    continue;
                }
                local = match self.local_checkpoint(domain, block).await {
                    Ok(l) => l,
                    Err(e) => return local_fault(e),
                };
            }
            match local {
                Local::Claim(ours) if ours == claim => {}
                Local::Claim(ours) => {
                    return Err(reject(
                        Rejection::WrongCheckpoint,
                        format!(
                            "checkpoint attestation {i} of domain {domain} at L1 block {block}: root {} of {} messages (block hash {}), but L1 gives root {} of {} (block hash {})",
                            claim.root,
                            claim.count,
                            claim.l1_block_hash,
                            ours.root,
                            ours.count,
                            ours.l1_block_hash
                        ),
                    ));
                }
                Local::Nothing => {
                    return Err(reject(
                        Rejection::WrongCheckpoint,
                        format!(
                            "checkpoint attestation {i} claims {} messages of domain {domain} at L1 block {block}, where L1 made none consumable",
                            claim.count
                        ),
                    ));
                }
                Local::NotFinal => continue,
            }
            match self
                .store
                .put_checkpoint_signature(domain, block, &signer, signed)
                .and_then(|stored| {
                    if stored {
                        self.try_certify_checkpoint(domain, block)?;
                    }
                    Ok(stored)
                }) {
                Ok(stored) => new |= stored,
                Err(e) => return local_fault(e.to_string()),
            }
        }
        Ok(if new {
            Verdict::Accept
        } else {
            Verdict::Ignore
        })
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

    /// Answers a request for checkpoint attestations with ours, each at most once per
    /// `REPUBLISH_MS` however many routers ask.
    pub(super) fn answer_checkpoints(&self, want: &CheckpointWant) -> Result<(), StoreError> {
        let now = now_ms();
        let me = self.members.me();
        let mine = self.members.bit(&me).map_or(0, |b| 1u64 << b);
        let mut ours = Vec::new();
        for w in &want.wanted {
            if w.have & mine != 0 {
                continue;
            }
            let answerable = self
                .checkpoints
                .state()
                .answered
                .get(&(w.domain, w.l1_block))
                .is_none_or(|at| now.saturating_sub(*at) >= super::REPUBLISH_MS);
            if !answerable {
                continue;
            }
            if let Some((_, signed)) = self
                .store
                .checkpoint_signatures::<CheckpointAttestation>(w.domain, w.l1_block)?
                .into_iter()
                .find(|(s, _)| *s == me)
            {
                ours.push(signed);
            }
        }
        for bundle in ours.chunks(MAX_BUNDLE) {
            if !self.p2p.publish(Gossip::Checkpoints {
                attestations: bundle.to_vec(),
            }) {
                return Ok(());
            }
            let mut state = self.checkpoints.state();
            for s in bundle {
                state.answered.insert((s.body.domain, s.body.l1_block), now);
            }
        }
        Ok(())
    }

    /// Gossips our new checkpoint attestations, then asks for the checkpoints still without a
    /// certificate whose wait is over (our own attestation goes out again with the request).
    pub(super) fn flush_checkpoints(&self) {
        let now = now_ms();
        let (outbox, due) = {
            let mut state = self.checkpoints.state();
            let outbox = std::mem::take(&mut state.outbox);
            let mut due: Vec<(u32, u64)> = state
                .waiting
                .iter()
                .filter(|(_, w)| w.due(now))
                .map(|(k, _)| *k)
                .collect();
            // The lowest first, so that routers missing the same ask for the same.
            due.sort_unstable();
            due.truncate(MAX_BATCH);
            (outbox, due)
        };
        for (i, bundle) in outbox.chunks(MAX_BUNDLE).enumerate() {
            if !self.p2p.publish(Gossip::Checkpoints {
                attestations: bundle.to_vec(),
            }) {
                self.checkpoints
                    .state()
                    .outbox
                    .extend_from_slice(&outbox[i * MAX_BUNDLE..]);
                break;
            }
        }
        if due.is_empty() {
            return;
        }
        let me = self.members.me();
        let mut wanted = Vec::with_capacity(due.len());
        let mut again = Vec::new();
        for (domain, block) in &due {
            let signed = match self
                .store
                .checkpoint_signatures::<CheckpointAttestation>(*domain, *block)
            {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(domain, l1_block = block, error = %e, "cannot read checkpoint attestations");
                    continue;
                }
            };
            let signers: Vec<Address> = signed.iter().map(|(s, _)| *s).collect();
            if let Some((_, own)) = signed.into_iter().find(|(s, _)| *s == me) {
                again.push(own);
            }
            wanted.push(WantedCheckpoint {
                domain: *domain,
                l1_block: *block,
                have: self.members.mask(&signers),
            });
        }
        tracing::debug!(
            count = wanted.len(),
            "asking the set for missing checkpoint attestations"
        );
        for bundle in again.chunks(MAX_BUNDLE) {
            self.p2p.publish(Gossip::Checkpoints {
                attestations: bundle.to_vec(),
            });
        }
        if self.p2p.publish(Gossip::CheckpointWant(CheckpointWant {
            router: me,
            wanted,
            at_ms: now,
        })) {
            let mut state = self.checkpoints.state();
            for key in &due {
                if let Some(w) = state.waiting.get_mut(key) {
                    w.at_ms = now;
                    w.times = w.times.saturating_add(1);
                }
            }
        }
    }
}
