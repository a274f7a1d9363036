//! The router network's logic on top of [`crate::p2p`]: who is in the set, what their gossip
//! means, and who relays.
//!
//! - **Attest**: when this router's own storage proof takes a message to `Proven`, it signs an
//!   EIP-712 claim ("message M, sent in block B of its source chain, is proven") and gossips it.
//!   Attestations of the set's members are kept in sled; `threshold` of them for the same claim
//!   form a [`QuorumCertificate`], verified and persisted. `Attested` requires it.
//! - **Validate**: gossip is accepted only from a configured peer whose mapped attestation address
//!   matches what the message says (the signer of an attestation, the router of a claim or
//!   heartbeat). Everything else is rejected, which penalises the sending peer.
//! - **Assign**: per hop, the routers of the set are ranked by rendezvous hashing of (message
//!   id, router address); every router computes the same order. The first relays at once; the
//!   k-th only after k × `relay_window_ms`, and only if no other router claimed the hop recently
//!   and the Hub has not processed it. A router gossips its claim, waits `claim_settle_ms`, and
//!   sends the relay transaction only if no router claimed the hop before it: two routers that
//!   claim at about the same moment (a first router whose certificate came late, and the second,
//!   whose window just ran out) agree on which one relays. See [`Network::turn`].
//!   Liveness (heartbeats) is shown, not used for ranking: see [`Network::rank`].
//! - **Heartbeats** carry each router's head and finalized head per chain; a router whose
//!   finalized block hash differs from ours at the same height is logged and flagged in the API.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy::{dyn_abi::Eip712Domain, signers::local::PrivateKeySigner};
use alloy_primitives::{Address, B256, keccak256};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use xroute_proofs::{
    attestation::{Batch, BatchClaim, Claim, RouterSet, Signed, Stage as AttestedStage},
    envelope::MessageId,
};

use xroute_adapters::{BlockRef, ChainAdapter, ChainAdapterExt};

use crate::{
    p2p::{
        Inbound, P2pHandle, PeerInfo, Verdict,
        wire::{
            Attestation, BatchAttestation, ChainView, Gossip, Heartbeat, MAX_BUNDLE, RelayClaim,
            Want, Wanted,
        },
    },
    pipeline::{Coordinator, Gate, Turn as PipelineTurn},
    store::{MessageRecord, Store, StoreError},
    time::now_ms,
};

/// How long a heartbeat may lag behind our clock before it is stale (ignored).
const STALE_MS: u64 = 60_000;
/// How long a message may wait for its certificate after our attestation went out before this
/// router asks the set for the attestations it misses (a [`Want`]; they were lost to a full
/// queue, or sent while we were away). Each further ask waits twice as long, up to
/// [`REPUBLISH_MAX_MS`]: when the whole set is behind, asking for everything every few seconds
/// would only add to the load. Also the least time between two answers for one attestation.
pub const REPUBLISH_MS: u64 = 5_000;
/// The longest wait between two asks for one message.
pub const REPUBLISH_MAX_MS: u64 = 60_000;
/// Catch-up bookkeeping untouched this long is forgotten (the message left `Proven`).
const FORGET_MS: u64 = 600_000;
/// Finalized heights remembered per chain for divergence checks.
const VIEW_HISTORY: usize = 512;

/// The batch of `ids` (all `Proven`) as `body` describes it: its root is recomputed.
fn batch_of(ids: &[MessageId], body: &BatchClaim) -> Result<Batch, String> {
    let items = ids.iter().map(|id| (*id, AttestedStage::Proven)).collect();
    Batch::new(items, body.domain, body.block_number, body.block_hash).map_err(|e| e.to_string())
}

/// One router's evidence that a message is proven: its own attestation of the message, or a
/// reference to its batch attestation (kept once in the store) and the message's leaf index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// A signed single claim.
    Single(Signed<Claim>),
    /// Leaf `index` of the batch with Merkle root `root` this signer signed.
    Batch {
        /// The batch's root.
        root: B256,
        /// The message's leaf index.
        index: u32,
    },
}

/// A batch attestation as stored once per (root, signer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBatch {
    /// The signature over the batch claim.
    pub signed: Signed<BatchClaim>,
    /// The leaves' messages, in order.
    pub message_ids: Vec<MessageId>,
}

/// A message's quorum certificate: the set members whose evidence (kept in the store, checked
/// when stored and again by [`Network::signers`]) says it is proven; at least `threshold`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The message.
    pub message_id: MessageId,
    /// Distinct signers.
    pub signers: Vec<Address>,
}

/// What the network settings say (already parsed and checked).
#[derive(Debug, Clone)]
pub struct NetworkSettings {
    /// This router's attestation key.
    pub signer: PrivateKeySigner,
    /// The set: (attestation address, peer id).
    pub members: Vec<(Address, PeerId)>,
    /// t of n.
    pub threshold: usize,
    /// Failover window.
    pub relay_window_ms: u64,
    /// How long a router waits between gossiping its claim and relaying.
    pub claim_settle_ms: u64,
    /// Heartbeat period.
    pub heartbeat_ms: u64,
    /// Sign what one tick proved with one batch attestation instead of one signature each.
    pub batch_attestations: bool,
}

/// Most messages in one batch attestation (keeps it well under the gossip size bound).
pub const MAX_BATCH: usize = 1_000;

/// What a router does about a hop now: see [`Network::turn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// Not now; why (for logs).
    Wait(String),
    /// Gossip a claim of the hop, then wait for it to settle.
    Claim,
    /// Send the relay transaction.
    Relay,
}

#[derive(Debug, Clone)]
struct Seen {
    heartbeat: Heartbeat,
    received_ms: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Relay claims heard or made, at most one per router and message (the newest).
    claims: HashMap<MessageId, Vec<RelayClaim>>,
    /// When expired claims were last dropped.
    claims_pruned_ms: u64,
    heartbeats: HashMap<Address, Seen>,
    divergent: HashMap<Address, String>,
    own_finalized: HashMap<String, BTreeMap<u64, B256>>,
    /// Messages without a certificate here: when our attestation went out or we last asked for
    /// the others', and how many times.
    waiting: HashMap<MessageId, Waiting>,
    /// Messages due to be asked for at the next [`Network::flush`].
    wants: BTreeSet<MessageId>,
    /// Our single attestations due to be gossiped at the next [`Network::flush`].
    outbox: Vec<Attestation>,
    /// When we last answered a [`Want`] with our attestation (by message id, or batch root).
    answered: HashMap<B256, u64>,
    /// When the bookkeeping above was last pruned.
    pruned_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct Waiting {
    at_ms: u64,
    times: u32,
}

impl Waiting {
    fn due(&self, now: u64) -> bool {
        let wait = REPUBLISH_MS
            .saturating_mul(1 << self.times.saturating_sub(1).min(16))
            .min(REPUBLISH_MAX_MS);
        now.saturating_sub(self.at_ms) >= wait
    }
}

/// One router's membership in the network.
#[derive(Debug)]
pub struct Network {
    p2p: P2pHandle,
    store: Store,
    me: Address,
    signer: PrivateKeySigner,
    domain: Eip712Domain,
    set: RouterSet,
    by_peer: HashMap<PeerId, Address>,
    /// Each router's bit in a [`Want`]: its position in address order.
    bit: HashMap<Address, u32>,
    members: Vec<(Address, PeerId)>,
    relay_window_ms: u64,
    claim_settle_ms: u64,
    heartbeat_ms: u64,
    batch_attestations: bool,
    state: Mutex<State>,
    certified: Option<mpsc::UnboundedSender<(MessageId, u64)>>,
}

/// A router of the set as `GET /peers` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RouterView {
    /// Attestation address.
    pub address: Address,
    /// Peer id.
    pub peer_id: String,
    /// This router.
    pub me: bool,
    /// Heard from within three heartbeats.
    pub live: bool,
    /// Milliseconds since its last heartbeat.
    pub last_heartbeat_ms_ago: Option<u64>,
    /// Its last view of every chain.
    pub chains: Vec<ChainView>,
    /// Why its view differs from ours, if it does.
    pub divergent: Option<String>,
}

/// `GET /peers`.
#[derive(Debug, Clone, Serialize)]
pub struct PeersView {
    /// This router's peer id.
    pub peer_id: String,
    /// Its p2p listen addresses.
    pub listen: Vec<String>,
    /// Quorum threshold.
    pub threshold: usize,
    /// The router set.
    pub routers: Vec<RouterView>,
    /// Every peer the p2p layer knows (configured or not), with its counters.
    pub connections: Vec<PeerInfo>,
}

impl Network {
    /// Joins the network through `p2p`, as the router signing with `settings.signer`, for the Hub
    /// on chain `chain_id` (the EIP-712 domain).
    pub fn new(
        p2p: P2pHandle,
        store: Store,
        settings: NetworkSettings,
        domain: Eip712Domain,
    ) -> Result<Self, String> {
        let addresses: Vec<Address> = settings.members.iter().map(|(a, _)| *a).collect();
        let set = RouterSet::new(addresses, settings.threshold).map_err(|e| e.to_string())?;
        let me = settings.signer.address();
        if !set.contains(&me) {
            return Err(format!(
                "this router's attestation address {me} is not in p2p.routers"
            ));
        }
        if let Some((_, peer)) = settings.members.iter().find(|(a, _)| *a == me)
            && *peer != p2p.peer_id()
        {
            return Err(format!(
                "p2p.routers lists peer id {peer} for this router ({me}), but its key file is \
                 peer {}",
                p2p.peer_id()
            ));
        }
        if settings.members.len() > 64 {
            return Err(format!(
                "p2p.routers lists {} routers; a set has at most 64",
                settings.members.len()
            ));
        }
        let mut sorted: Vec<Address> = settings.members.iter().map(|(a, _)| *a).collect();
        sorted.sort();
        Ok(Self {
            bit: sorted
                .iter()
                .enumerate()
                .map(|(i, a)| (*a, i as u32))
                .collect(),
            by_peer: settings.members.iter().map(|(a, p)| (*p, *a)).collect(),
            members: settings.members,
            p2p,
            store,
            me,
            signer: settings.signer,
            domain,
            set,
            relay_window_ms: settings.relay_window_ms,
            claim_settle_ms: settings.claim_settle_ms,
            heartbeat_ms: settings.heartbeat_ms,
            batch_attestations: settings.batch_attestations,
            state: Mutex::new(State::default()),
            certified: None,
        })
    }

    /// Reports every certificate formed here as (message, ms since the epoch) (benchmarks).
    pub fn with_certificate_hook(mut self, hook: mpsc::UnboundedSender<(MessageId, u64)>) -> Self {
        self.certified = Some(hook);
        self
    }

    /// This router's attestation address.
    pub fn me(&self) -> Address {
        self.me
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The claim every router signs for `record`: bound to its source block, which every
    /// router sees identically, so the signatures aggregate.
    pub fn claim_of(record: &MessageRecord) -> Claim {
        Claim {
            message_id: record.id,
            stage: AttestedStage::Proven,
            domain: record.envelope.src_domain,
            block_number: record.source.block_number,
            block_hash: record.source.block_hash,
        }
    }

    /// Signs and keeps this router's attestation of `record` (after its own proof); it is
    /// gossiped at the next [`Network::flush`], with the others of the tick. Safe to call again:
    /// the signature is deterministic.
    pub fn attest(&self, record: &MessageRecord) -> Result<(), StoreError> {
        let claim = Self::claim_of(record);
        let signed = match Signed::sign(&self.signer, &self.domain, claim) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(id = %record.id, error = %e, "cannot sign an attestation");
                return Ok(());
            }
        };
        self.store
            .put_attestation(&record.id, &self.me, &Evidence::Single(signed))?;
        self.try_certify(&record.id)?;
        // Gossiped even when we hold a certificate already: others may lack ours.
        self.state().outbox.push(signed);
        if self.store.certificate::<Certificate>(&record.id)?.is_none() {
            self.note_sent(&[record.id], now_ms());
        }
        Ok(())
    }

    /// Signs and gossips one batch attestation for `records` (all proven by this router at the
    /// L1 block `l1_block`, on the hub chain `hub_domain`), in batches of at most [`MAX_BATCH`].
    /// One signature instead of one per message: what a burst needs.
    pub fn attest_batch(
        &self,
        records: &[MessageRecord],
        hub_domain: u32,
        l1_block: (u64, B256),
    ) -> Result<(), StoreError> {
        for chunk in records.chunks(MAX_BATCH) {
            let ids: Vec<MessageId> = chunk.iter().map(|r| r.id).collect();
            let items = ids.iter().map(|id| (*id, AttestedStage::Proven)).collect();
            let batch = match Batch::new(items, hub_domain, l1_block.0, l1_block.1) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot build a batch");
                    continue;
                }
            };
            let signed = match Signed::sign(&self.signer, &self.domain, batch.claim) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot sign a batch attestation");
                    continue;
                }
            };
            self.store.put_batch(
                &batch.claim.root,
                &self.me,
                &StoredBatch {
                    signed,
                    message_ids: ids.clone(),
                },
            )?;
            for (i, id) in ids.iter().enumerate() {
                let evidence = Evidence::Batch {
                    root: batch.claim.root,
                    index: i as u32,
                };
                self.store.put_attestation(id, &self.me, &evidence)?;
                self.try_certify(id)?;
            }
            // Not queued (the p2p task is far behind): `catch_up` sends it later.
            if self.p2p.publish(Gossip::BatchAttestation(BatchAttestation {
                signed,
                message_ids: ids.clone(),
            })) {
                self.note_sent(&ids, now_ms());
            }
        }
        Ok(())
    }

    /// Notes that our attestations of `ids` were gossiped, or others' asked for, at `now`.
    fn note_sent(&self, ids: &[MessageId], now: u64) {
        let mut state = self.state();
        for id in ids {
            let entry = state.waiting.entry(*id).or_insert(Waiting {
                at_ms: now,
                times: 0,
            });
            entry.at_ms = now;
            entry.times = entry.times.saturating_add(1);
        }
        if now.saturating_sub(state.pruned_ms) >= REPUBLISH_MAX_MS {
            state.pruned_ms = now;
            let fresh = |at: u64| now.saturating_sub(at) < FORGET_MS;
            state.waiting.retain(|_, p| fresh(p.at_ms));
            state.answered.retain(|_, at| fresh(*at));
        }
    }

    /// Our stored batch attestation with root `root`.
    fn own_batch(&self, root: &B256) -> Result<Option<BatchAttestation>, StoreError> {
        Ok(self
            .store
            .batch::<StoredBatch>(root, &self.me)?
            .map(|stored| BatchAttestation {
                signed: stored.signed,
                message_ids: stored.message_ids,
            }))
    }

    /// Sends the set what it asked for: our attestation of each id in `want`, each (or its
    /// batch, loaded once) at most once per [`REPUBLISH_MS`], however many routers ask. Stops
    /// when the p2p queue is full: the asker asks again.
    fn answer(&self, want: &Want) -> Result<(), StoreError> {
        let now = now_ms();
        let mine = self.bit.get(&self.me).map_or(0, |b| 1u64 << b);
        let answerable = |key: &B256| {
            self.state()
                .answered
                .get(key)
                .is_none_or(|at| now.saturating_sub(*at) >= REPUBLISH_MS)
        };
        let mut roots = BTreeSet::new();
        let mut singles = Vec::new();
        for Wanted { id, have } in &want.wanted {
            if have & mine != 0 {
                continue; // it has ours
            }
            match self.store.attestation::<Evidence>(id, &self.me)? {
                None => {}
                Some(Evidence::Batch { root, .. }) => {
                    roots.insert(root);
                }
                Some(Evidence::Single(signed)) if answerable(&id.0) => singles.push(signed),
                Some(Evidence::Single(_)) => {} // sent moments ago, for another asker
            }
        }
        tracing::debug!(
            asker = %want.router,
            wanted = want.wanted.len(),
            singles = singles.len(),
            batches = roots.len(),
            "answering a request for attestations"
        );
        for bundle in singles.chunks(MAX_BUNDLE) {
            if !self.p2p.publish(Gossip::Attestations {
                attestations: bundle.to_vec(),
            }) {
                return Ok(());
            }
            let mut state = self.state();
            for signed in bundle {
                state.answered.insert(signed.body.message_id.0, now);
            }
        }
        for root in roots {
            if !answerable(&root) {
                continue;
            }
            let Some(batch) = self.own_batch(&root)? else {
                continue;
            };
            if !self.p2p.publish(Gossip::BatchAttestation(batch)) {
                return Ok(());
            }
            self.state().answered.insert(root, now);
        }
        Ok(())
    }

    /// Gossips what the tick produced (the pipeline calls this at the end of every tick): our
    /// new single attestations, up to [`MAX_BUNDLE`] to a message, then the request for what we
    /// miss.
    pub fn flush(&self) {
        self.flush_outbox();
        self.flush_wants();
    }

    /// Gossips our queued single attestations. What does not fit the p2p queue stays for the next
    /// call.
    fn flush_outbox(&self) {
        let outbox = std::mem::take(&mut self.state().outbox);
        for (i, bundle) in outbox.chunks(MAX_BUNDLE).enumerate() {
            if !self.p2p.publish(Gossip::Attestations {
                attestations: bundle.to_vec(),
            }) {
                let mut state = self.state();
                let newer = std::mem::take(&mut state.outbox);
                state.outbox = outbox[i * MAX_BUNDLE..].to_vec();
                state.outbox.extend(newer);
                return;
            }
        }
    }

    /// Asks the set for the attestations found missing since the last call: at most
    /// [`MAX_BATCH`] ids per call, the lowest first, so that the answers to one round fit the
    /// peers' queues and routers missing the same messages ask for the same ones (each is
    /// answered once for all). The rest stay due for the next call.
    fn flush_wants(&self) {
        let ids: Vec<MessageId> = {
            let mut state = self.state();
            let ids = state.wants.iter().take(MAX_BATCH).copied().collect();
            state.wants.clear();
            ids
        };
        if ids.is_empty() {
            return;
        }
        let now = now_ms();
        let mut wanted = Vec::with_capacity(ids.len());
        for id in &ids {
            let signers = match self.store.attestation_signers(id) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(%id, error = %e, "cannot read attestations");
                    continue;
                }
            };
            let have = signers
                .iter()
                .filter_map(|s| self.bit.get(s))
                .fold(0u64, |mask, b| mask | 1 << b);
            wanted.push(Wanted { id: *id, have });
        }
        tracing::debug!(count = ids.len(), "asking the set for missing attestations");
        if self.p2p.publish(Gossip::Want(Want {
            router: self.me,
            wanted,
            at_ms: now,
        })) {
            self.note_sent(&ids, now);
        }
    }

    /// Checks `signer`'s stored `evidence` that message `id` is proven.
    fn check_evidence(
        &self,
        id: &MessageId,
        signer: &Address,
        evidence: &Evidence,
    ) -> Result<(), String> {
        let recovered = match evidence {
            Evidence::Single(signed) => {
                if signed.body.message_id != *id || signed.body.stage != AttestedStage::Proven {
                    return Err("the claim is not \"this message is proven\"".into());
                }
                signed.signer(&self.domain).map_err(|e| e.to_string())?
            }
            Evidence::Batch { root, index } => {
                let stored: StoredBatch = self
                    .store
                    .batch(root, signer)
                    .map_err(|e| e.to_string())?
                    .ok_or("the batch it points to is not stored")?;
                let body = stored.signed.body;
                let batch = batch_of(&stored.message_ids, &body)?;
                let claim = batch
                    .inclusion(*index as usize)
                    .and_then(|inc| inc.verify(&body))
                    .map_err(|e| e.to_string())?;
                if claim.message_id != *id {
                    return Err("the leaf is another message".into());
                }
                stored
                    .signed
                    .signer(&self.domain)
                    .map_err(|e| e.to_string())?
            }
        };
        if recovered != *signer {
            return Err(format!("signed by {recovered}, stored as {signer}'s"));
        }
        Ok(())
    }

    /// Catches `record` up while it waits for its certificate (the pipeline calls this every
    /// tick): our attestation goes out if it never did (the p2p queue was full, or the router
    /// restarted), and once it has waited [`REPUBLISH_MS`] (doubling) the set is asked for what we
    /// miss. Nothing is signed again; a batch attestation stays one message.
    pub fn catch_up(&self, record: &MessageRecord) -> Result<(), StoreError> {
        let id = record.id;
        let now = now_ms();
        // Called for every waiting message every tick: the cheap check first.
        let entry = self.state().waiting.get(&id).copied();
        if entry.is_some_and(|p| !p.due(now)) {
            return Ok(());
        }
        if self.store.certificate::<Certificate>(&id)?.is_some() {
            self.state().waiting.remove(&id);
            return Ok(());
        }
        if entry.is_some() {
            self.state().wants.insert(id);
            return Ok(());
        }
        tracing::debug!(%id, "gossiping our attestation again");
        match self.store.attestation::<Evidence>(&id, &self.me)? {
            None => self.attest(record)?,
            Some(Evidence::Single(signed)) => {
                self.state().outbox.push(signed);
                self.note_sent(&[id], now);
            }
            Some(Evidence::Batch { root, .. }) => {
                if let Some(batch) = self.own_batch(&root)? {
                    let ids = batch.message_ids.clone();
                    // Noted even if the queue is full: then the others ask for it, rather than
                    // every message of the batch loading and queueing it again here.
                    self.p2p.publish(Gossip::BatchAttestation(batch));
                    self.note_sent(&ids, now);
                }
            }
        }
        Ok(())
    }

    /// The certificate of `id`, if a quorum signed.
    pub fn certificate(&self, id: &MessageId) -> Result<Option<Certificate>, StoreError> {
        self.store.certificate(id)
    }

    /// The distinct set members of `certificate` whose stored evidence checks out now.
    pub fn signers(&self, certificate: &Certificate) -> Result<Vec<Address>, StoreError> {
        let id = &certificate.message_id;
        let stored: Vec<(Address, Evidence)> = self.store.attestations(id)?;
        let mut out = Vec::new();
        for signer in &certificate.signers {
            let ok = stored.iter().any(|(s, e)| {
                s == signer && self.set.contains(s) && self.check_evidence(id, s, e).is_ok()
            });
            if ok && !out.contains(signer) {
                out.push(*signer);
            }
        }
        Ok(out)
    }

    fn try_certify(&self, id: &MessageId) -> Result<(), StoreError> {
        // Evidence is checked before it is stored (signer, set membership, inclusion), one key
        // per signer: counting keys is enough to know whether a quorum may exist.
        if self.store.attestation_count(id) < self.set.threshold()
            || self.store.certificate::<Certificate>(id)?.is_some()
        {
            return Ok(());
        }
        // Checked when stored: one key per signer, the key's signer is the evidence's.
        let signers: Vec<Address> = self
            .store
            .attestations::<Evidence>(id)?
            .into_iter()
            .map(|(signer, _)| signer)
            .filter(|signer| self.set.contains(signer))
            .collect();
        if signers.len() < self.set.threshold() {
            return Ok(());
        }
        let certificate = Certificate {
            message_id: *id,
            signers,
        };
        if self.store.put_certificate(id, &certificate)? {
            self.state().waiting.remove(id);
            tracing::debug!(%id, signers = certificate.signers.len(), "quorum certificate formed");
            if let Some(hook) = &self.certified {
                let _ = hook.send((*id, now_ms()));
            }
        }
        Ok(())
    }

    /// Validates received gossip, reports the verdict to the p2p layer and keeps what is valid.
    pub async fn run_inbound(self: Arc<Self>, mut inbound: mpsc::Receiver<Inbound>) {
        while let Some(message) = inbound.recv().await {
            let verdict = match self.validate(&message) {
                Ok(v) => v,
                Err(reason) => {
                    tracing::debug!(peer = %message.from, %reason, "gossip rejected");
                    Verdict::Reject
                }
            };
            self.p2p.verdict(&message, verdict).await;
        }
    }

    fn validate(&self, message: &Inbound) -> Result<Verdict, String> {
        let author = message.author.ok_or("unsigned gossip")?;
        let member = *self
            .by_peer
            .get(&author)
            .ok_or_else(|| format!("peer {author} is not in the router set"))?;
        let now = now_ms();
        match &message.gossip {
            Gossip::Attestations {
                attestations: bundle,
            } => {
                if bundle.is_empty() || bundle.len() > MAX_BUNDLE {
                    return Err(format!(
                        "{} attestations in one message (1 to {MAX_BUNDLE})",
                        bundle.len()
                    ));
                }
                let mut new = false;
                for (i, signed) in bundle.iter().enumerate() {
                    let id = signed.body.message_id;
                    // A replay costs a store lookup, not a signature recovery: evidence is stored
                    // under its checked signer, who must be the publishing peer's member.
                    if self
                        .store
                        .has_attestation(&id, &member)
                        .map_err(|e| e.to_string())?
                    {
                        continue;
                    }
                    let signer = signed
                        .signer(&self.domain)
                        .map_err(|e| format!("attestation {i}: {e}"))?;
                    if signer != member {
                        return Err(format!(
                            "attestation {i} signed by {signer}, published by {member}'s peer"
                        ));
                    }
                    if signed.body.stage != AttestedStage::Proven {
                        return Err(format!("attestation {i}: only Proven claims are gossiped"));
                    }
                    if self
                        .store
                        .put_attestation(&id, &signer, &Evidence::Single(*signed))
                        .map_err(|e| e.to_string())?
                    {
                        new = true;
                        self.try_certify(&id).map_err(|e| e.to_string())?;
                    }
                }
                Ok(if new {
                    Verdict::Accept
                } else {
                    Verdict::Ignore // all replays
                })
            }
            Gossip::BatchAttestation(b) => {
                let signer = b
                    .signed
                    .signer(&self.domain)
                    .map_err(|e| format!("batch attestation: {e}"))?;
                if signer != member {
                    return Err(format!(
                        "batch attestation signed by {signer}, published by {member}'s peer"
                    ));
                }
                if b.message_ids.len() > MAX_BATCH {
                    return Err(format!("{} ids in one batch", b.message_ids.len()));
                }
                if self
                    .store
                    .batch::<StoredBatch>(&b.signed.body.root, &signer)
                    .map_err(|e| e.to_string())?
                    .is_some()
                {
                    return Ok(Verdict::Ignore); // a replay
                }
                let body = b.signed.body;
                let batch = batch_of(&b.message_ids, &body).map_err(|e| format!("batch: {e}"))?;
                if batch.claim != body {
                    return Err("the ids do not hash to the signed root".into());
                }
                self.store
                    .put_batch(
                        &body.root,
                        &signer,
                        &StoredBatch {
                            signed: b.signed,
                            message_ids: b.message_ids.clone(),
                        },
                    )
                    .map_err(|e| e.to_string())?;
                let mut new = false;
                for (i, id) in b.message_ids.iter().enumerate() {
                    let evidence = Evidence::Batch {
                        root: body.root,
                        index: i as u32,
                    };
                    if self
                        .store
                        .put_attestation(id, &signer, &evidence)
                        .map_err(|e| e.to_string())?
                    {
                        new = true;
                        self.try_certify(id).map_err(|e| e.to_string())?;
                    }
                }
                Ok(if new {
                    Verdict::Accept
                } else {
                    Verdict::Ignore
                })
            }
            Gossip::Want(want) => {
                if want.router != member {
                    return Err(format!(
                        "attestation request for {}, published by {member}'s peer",
                        want.router
                    ));
                }
                if want.wanted.len() > MAX_BATCH {
                    return Err(format!(
                        "{} ids in one attestation request",
                        want.wanted.len()
                    ));
                }
                if want.at_ms + STALE_MS < now {
                    return Ok(Verdict::Ignore);
                }
                self.answer(want).map_err(|e| e.to_string())?;
                Ok(Verdict::Accept)
            }
            Gossip::Claim(claim) => {
                if claim.router != member {
                    return Err(format!(
                        "claim for {}, published by {member}'s peer",
                        claim.router
                    ));
                }
                if claim.at_ms + STALE_MS < now || claim.at_ms > now + STALE_MS {
                    return Ok(Verdict::Ignore);
                }
                self.note_claim(*claim);
                Ok(Verdict::Accept)
            }
            Gossip::Heartbeat(hb) => {
                if hb.router != member {
                    return Err(format!(
                        "heartbeat for {}, published by {member}'s peer",
                        hb.router
                    ));
                }
                if hb.at_ms + STALE_MS < now || hb.at_ms > now + STALE_MS {
                    return Ok(Verdict::Ignore);
                }
                self.heard(hb.clone(), now);
                Ok(Verdict::Accept)
            }
        }
    }

    fn heard(&self, hb: Heartbeat, now: u64) {
        let mut state = self.state();
        let mut divergence = None;
        for view in &hb.chains {
            if let Some(ours) = state
                .own_finalized
                .get(&view.chain)
                .and_then(|m| m.get(&view.finalized))
                && *ours != view.finalized_hash
            {
                divergence = Some(format!(
                    "{} block {}: {} has {}, we have {ours}",
                    view.chain, view.finalized, hb.router, view.finalized_hash
                ));
            }
        }
        match divergence {
            Some(d) => {
                if state.divergent.get(&hb.router) != Some(&d) {
                    tracing::warn!(router = %hb.router, divergence = %d, "a router sees a different chain");
                }
                state.divergent.insert(hb.router, d);
            }
            None => {
                state.divergent.remove(&hb.router);
            }
        }
        state.heartbeats.insert(
            hb.router,
            Seen {
                heartbeat: hb,
                received_ms: now,
            },
        );
    }

    /// Rendezvous score of `router` for message `id` (higher relays first).
    fn score(id: &MessageId, router: &Address) -> B256 {
        let mut buf = [0u8; 52];
        buf[..32].copy_from_slice(id.0.as_slice());
        buf[32..].copy_from_slice(router.as_slice());
        keccak256(buf)
    }

    /// This router's rank for `id` in the configured set (0 = relays first). Liveness is not
    /// used: two routers whose heartbeat views differ for a moment (one heartbeat late under
    /// load) would both rank themselves first and pay twice, which the tests saw. A dead
    /// router costs its successors one window instead.
    pub fn rank(&self, id: &MessageId) -> usize {
        self.rank_of(id, &self.me)
    }

    /// What this router does about `record`'s current hop now, given when the message became
    /// attested here:
    /// - another router's claim of the hop younger than two windows, and none of ours: wait
    ///   (the claimant relays; if it dies, its claim expires);
    /// - no claim of ours, and `rank × relay_window_ms` has not passed since `attested_at`:
    ///   wait for the routers ranked before us;
    /// - no claim of ours otherwise: [`Turn::Claim`];
    /// - our claim, and another router's claim came first: wait (it relays). Claims are ordered
    ///   by time, then by rank;
    /// - our claim, `claim_settle_ms` old: [`Turn::Relay`].
    ///
    /// Why this never pays twice: a router relays at `t + settle` having heard every claim made
    /// before `t + settle - latency`; a claim it has not heard was made after `t`, so it comes
    /// second, and its router, deciding at its own claim time + settle, has heard ours by then.
    /// This holds while gossip latency plus clock skew between routers stays under
    /// `claim_settle_ms`.
    pub fn turn(&self, record: &MessageRecord, attested_at: u64, now: u64) -> Turn {
        let fresh = |c: &&RelayClaim| {
            c.hop == record.hop && now.saturating_sub(c.at_ms) < self.claim_ttl_ms()
        };
        let state = self.state();
        let claims: Vec<&RelayClaim> = state
            .claims
            .get(&record.id)
            .map(|cs| cs.iter().filter(fresh).collect())
            .unwrap_or_default();
        let rank = self.rank(&record.id);
        let mine = claims.iter().find(|c| c.router == self.me);
        let others = claims.iter().filter(|c| c.router != self.me);
        match mine {
            None => {
                if let Some(other) = others.clone().next() {
                    return Turn::Wait(format!("{} claimed the hop", other.router));
                }
                let at = attested_at + rank as u64 * self.relay_window_ms;
                if now < at {
                    return Turn::Wait(format!("rank {rank}: acts at {at}"));
                }
                Turn::Claim
            }
            Some(mine) => {
                let ours = (mine.at_ms, rank);
                if let Some(first) = others
                    .clone()
                    .find(|c| (c.at_ms, self.rank_of(&record.id, &c.router)) < ours)
                {
                    return Turn::Wait(format!("{} claimed the hop first", first.router));
                }
                let at = mine.at_ms + self.claim_settle_ms;
                if now < at {
                    return Turn::Wait(format!("claimed; relays at {at}"));
                }
                Turn::Relay
            }
        }
    }

    /// How long a claim holds the other routers back: two windows.
    fn claim_ttl_ms(&self) -> u64 {
        2 * self.relay_window_ms
    }

    /// `router`'s rank for `id` (0 = relays first).
    fn rank_of(&self, id: &MessageId, router: &Address) -> usize {
        let theirs = Self::score(id, router);
        self.members
            .iter()
            .filter(|(a, _)| a != router && Self::score(id, a) > theirs)
            .count()
    }

    /// Gossips that this router will relay `record`'s hop once the claim has settled.
    pub fn claim(&self, record: &MessageRecord) {
        let claim = RelayClaim {
            message_id: record.id,
            hop: record.hop,
            router: self.me,
            at_ms: now_ms(),
        };
        self.note_claim(claim);
        self.p2p.publish(Gossip::Claim(claim));
    }

    /// Gossips our claim of `record`'s hop again once it is a window old (or if we have none, as
    /// after a restart): while our relay transaction waits for a block, the others keep seeing
    /// a fresh claim and do not relay the hop a second time. Claims expire after two windows,
    /// which an L1 block time can exceed.
    pub fn hold_claim(&self, record: &MessageRecord, now: u64) {
        let held = self.state().claims.get(&record.id).is_some_and(|cs| {
            cs.iter().any(|c| {
                c.router == self.me
                    && c.hop == record.hop
                    && now.saturating_sub(c.at_ms) < self.relay_window_ms
            })
        });
        if !held {
            tracing::debug!(id = %record.id, hop = record.hop, "claiming the hop again");
            self.claim(record);
        }
    }

    /// Keeps `claim` (replacing an older one of the same router for the message), and now and
    /// then drops the claims too old to matter.
    fn note_claim(&self, claim: RelayClaim) {
        let expired = self.claim_ttl_ms();
        let mut state = self.state();
        let claims = state.claims.entry(claim.message_id).or_default();
        match claims.iter_mut().find(|c| c.router == claim.router) {
            Some(c) if c.at_ms < claim.at_ms => *c = claim,
            Some(_) => {}
            None => claims.push(claim),
        }
        let now = now_ms();
        if now.saturating_sub(state.claims_pruned_ms) >= expired {
            state.claims_pruned_ms = now;
            state.claims.retain(|_, cs| {
                cs.retain(|c| now.saturating_sub(c.at_ms) < expired);
                !cs.is_empty()
            });
        }
    }

    /// Publishes a heartbeat every `heartbeat_ms` with this router's view of every chain.
    pub async fn run_heartbeats(self: Arc<Self>, chains: Vec<Arc<dyn ChainAdapter>>) {
        let mut tick = tokio::time::interval(Duration::from_millis(self.heartbeat_ms));
        loop {
            tick.tick().await;
            let mut views = Vec::new();
            for adapter in &chains {
                let (Ok(head), Ok(fin)) = (adapter.head().await, adapter.finalized_head().await)
                else {
                    continue;
                };
                views.push(ChainView {
                    chain: adapter.name().to_string(),
                    head: head.number,
                    finalized: fin.number,
                    finalized_hash: B256::from(fin.hash),
                });
            }
            {
                let mut state = self.state();
                for v in &views {
                    let history = state.own_finalized.entry(v.chain.clone()).or_default();
                    history.insert(v.finalized, v.finalized_hash);
                    while history.len() > VIEW_HISTORY {
                        history.pop_first();
                    }
                }
            }
            self.p2p.publish(Gossip::Heartbeat(Heartbeat {
                router: self.me,
                at_ms: now_ms(),
                chains: views,
            }));
        }
    }

    /// What `GET /peers` shows.
    pub async fn peers(&self) -> PeersView {
        let now = now_ms();
        let connections = self.p2p.peers().await;
        let listen = self
            .p2p
            .listen_addrs()
            .await
            .iter()
            .map(|a| a.to_string())
            .collect();
        let state = self.state();
        let routers = self
            .members
            .iter()
            .map(|(address, peer)| {
                let seen = state.heartbeats.get(address);
                RouterView {
                    address: *address,
                    peer_id: peer.to_string(),
                    me: *address == self.me,
                    live: *address == self.me
                        || seen.is_some_and(|s| {
                            now.saturating_sub(s.received_ms) <= 3 * self.heartbeat_ms
                        }),
                    last_heartbeat_ms_ago: seen.map(|s| now.saturating_sub(s.received_ms)),
                    chains: seen.map(|s| s.heartbeat.chains.clone()).unwrap_or_default(),
                    divergent: state.divergent.get(address).cloned(),
                }
            })
            .collect();
        PeersView {
            peer_id: self.p2p.peer_id().to_string(),
            listen,
            threshold: self.set.threshold(),
            routers,
            connections,
        }
    }
}

impl Coordinator for Network {
    fn proven(
        &self,
        records: &[MessageRecord],
        hub_domain: u32,
        l1: BlockRef,
    ) -> Result<(), StoreError> {
        match records {
            [] => Ok(()),
            [one] => self.attest(one),
            many if self.batch_attestations => {
                self.attest_batch(many, hub_domain, (l1.number, B256::from(l1.hash)))
            }
            many => many.iter().try_for_each(|r| self.attest(r)),
        }
    }

    fn gate(&self, record: &MessageRecord) -> Result<Gate, StoreError> {
        let Some(qc) = self.certificate(&record.id)? else {
            self.catch_up(record)?;
            return Ok(Gate::Closed);
        };
        let signers = self.signers(&qc)?;
        if signers.len() < self.set.threshold() {
            tracing::warn!(id = %record.id, signers = signers.len(), "a stored certificate no longer holds a quorum");
            return Ok(Gate::Closed);
        }
        Ok(Gate::Certified(format!(
            "quorum certificate: {} of the set signed ({})",
            signers.len(),
            signers
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    fn turn(&self, record: &MessageRecord, attested_at: u64, now: u64) -> PipelineTurn {
        match Network::turn(self, record, attested_at, now) {
            Turn::Wait(why) => PipelineTurn::Wait(why),
            Turn::Claim => {
                self.claim(record);
                PipelineTurn::Claimed
            }
            Turn::Relay => PipelineTurn::Relay,
        }
    }

    fn relaying(&self, record: &MessageRecord, now: u64) {
        self.hold_claim(record, now);
    }

    fn flush(&self) {
        Network::flush(self);
    }
}

#[cfg(test)]
mod tests {
    use libp2p::identity::Keypair;
    use xroute_proofs::attestation::Batch;

    use super::*;
    use crate::p2p::{self, P2pSettings};

    struct Member {
        key: PrivateKeySigner,
        node_key: Keypair,
        peer: PeerId,
    }

    fn member() -> Member {
        let node_key = Keypair::generate_ed25519();
        Member {
            key: PrivateKeySigner::random(),
            peer: node_key.public().to_peer_id(),
            node_key,
        }
    }

    fn inbound(author: PeerId, gossip: Gossip) -> Inbound {
        Inbound {
            from: author,
            author: Some(author),
            id: libp2p::gossipsub::MessageId::from("x"),
            gossip,
        }
    }

    fn claim(id: u8) -> Claim {
        Claim {
            message_id: MessageId(B256::repeat_byte(id)),
            stage: AttestedStage::Proven,
            domain: 2,
            block_number: 9,
            block_hash: B256::repeat_byte(0xbb),
        }
    }

    /// A router (`me`) of a set of three with threshold 2, on a real sled store and a real
    /// (unconnected) libp2p swarm. The directory must outlive the network.
    struct Fixture {
        _dir: tempfile::TempDir,
        network: Network,
        a: Member,
        b: Member,
        domain: Eip712Domain,
    }

    const WINDOW_MS: u64 = 1000;
    const SETTLE_MS: u64 = 200;

    fn domain() -> Eip712Domain {
        xroute_proofs::attestation::domain(1, Address::repeat_byte(1))
    }

    /// `me`'s router in the set `members` (threshold 2), with its own sled store and an
    /// unconnected libp2p swarm.
    fn network_of(me: &Member, members: &[&Member]) -> (tempfile::TempDir, Network) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (handle, _inbound) = p2p::spawn(
            me.node_key.clone(),
            P2pSettings {
                listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
                bootnodes: vec![],
                max_connections: 4,
                heartbeat: Duration::from_secs(1),
                max_frame: p2p::default_max_frame(),
            },
        )
        .unwrap();
        let network = Network::new(
            handle,
            store,
            NetworkSettings {
                signer: me.key.clone(),
                members: members.iter().map(|m| (m.key.address(), m.peer)).collect(),
                threshold: 2,
                relay_window_ms: WINDOW_MS,
                claim_settle_ms: SETTLE_MS,
                heartbeat_ms: 1000,
                batch_attestations: true,
            },
            domain(),
        )
        .unwrap();
        (dir, network)
    }

    fn fixture() -> Fixture {
        let (a, b, me) = (member(), member(), member());
        let (dir, network) = network_of(&me, &[&a, &b, &me]);
        Fixture {
            _dir: dir,
            network,
            a,
            b,
            domain: domain(),
        }
    }

    /// What a set member, not an outsider, can send wrongly; and what is right.
    #[tokio::test]
    async fn gossip_from_members_is_checked_against_what_it_claims() {
        let Fixture {
            _dir,
            network,
            a,
            b,
            domain,
        } = fixture();
        let sign = |who: &Member, c: Claim| Signed::sign(&who.key, &domain, c).unwrap();

        // A's own attestation: accepted once, a replay ignored.
        let good = Gossip::Attestations {
            attestations: vec![sign(&a, claim(1))],
        };
        assert_eq!(
            network.validate(&inbound(a.peer, good.clone())),
            Ok(Verdict::Accept)
        );
        assert_eq!(
            network.validate(&inbound(a.peer, good)),
            Ok(Verdict::Ignore)
        );
        // A publishing B's signature, or a body changed after signing.
        let bs = Gossip::Attestations {
            attestations: vec![sign(&b, claim(2))],
        };
        assert!(network.validate(&inbound(a.peer, bs)).is_err());
        let mut forged = sign(&a, claim(3));
        forged.body.block_number += 1;
        assert!(
            network
                .validate(&inbound(
                    a.peer,
                    Gossip::Attestations {
                        attestations: vec![forged]
                    }
                ))
                .is_err()
        );
        // An outsider, even with a valid signature of a member.
        let outsider = Keypair::generate_ed25519().public().to_peer_id();
        let again = Gossip::Attestations {
            attestations: vec![sign(&a, claim(4))],
        };
        assert!(network.validate(&inbound(outsider, again)).is_err());
        // Bundles: empty, over the bound, or with another member's signature among A's.
        let none = Gossip::Attestations {
            attestations: vec![],
        };
        assert!(network.validate(&inbound(a.peer, none)).is_err());
        let over = Gossip::Attestations {
            attestations: vec![sign(&a, claim(5)); MAX_BUNDLE + 1],
        };
        assert!(network.validate(&inbound(a.peer, over)).is_err());
        let mixed = Gossip::Attestations {
            attestations: vec![sign(&a, claim(6)), sign(&b, claim(7))],
        };
        assert!(network.validate(&inbound(a.peer, mixed)).is_err());
        // A bundle with one known and two new attestations: the new ones are kept.
        let bundle = Gossip::Attestations {
            attestations: vec![sign(&a, claim(1)), sign(&a, claim(8)), sign(&a, claim(9))],
        };
        assert_eq!(
            network.validate(&inbound(a.peer, bundle)),
            Ok(Verdict::Accept)
        );
        for c in [8, 9] {
            let id = claim(c).message_id;
            assert!(
                network
                    .store
                    .has_attestation(&id, &a.key.address())
                    .unwrap()
            );
        }
        // A batch whose ids do not hash to the signed root.
        let ids: Vec<MessageId> = (10..14).map(|i| MessageId(B256::repeat_byte(i))).collect();
        let batch = Batch::new(
            ids.iter().map(|i| (*i, AttestedStage::Proven)).collect(),
            1,
            5,
            B256::repeat_byte(5),
        )
        .unwrap();
        let signed = Signed::sign(&a.key, &domain, batch.claim).unwrap();
        let mut tampered = ids.clone();
        tampered.swap(0, 1);
        let bad = Gossip::BatchAttestation(BatchAttestation {
            signed,
            message_ids: tampered,
        });
        assert!(network.validate(&inbound(a.peer, bad)).is_err());
        let ok = Gossip::BatchAttestation(BatchAttestation {
            signed,
            message_ids: ids.clone(),
        });
        assert_eq!(network.validate(&inbound(a.peer, ok)), Ok(Verdict::Accept));
        // With B's batch too, the threshold (2) is met for every id of the batch.
        let signed_b = Signed::sign(&b.key, &domain, batch.claim).unwrap();
        let ok_b = Gossip::BatchAttestation(BatchAttestation {
            signed: signed_b,
            message_ids: ids.clone(),
        });
        assert_eq!(
            network.validate(&inbound(b.peer, ok_b)),
            Ok(Verdict::Accept)
        );
        for id in &ids {
            let cert = network.certificate(id).unwrap().expect("certified");
            let mut signers = network.signers(&cert).unwrap();
            signers.sort();
            let mut want = vec![a.key.address(), b.key.address()];
            want.sort();
            assert_eq!(signers, want);
        }
        // An attestation request in another router's name, or longer than a batch.
        let wanted: Vec<Wanted> = ids.iter().map(|id| Wanted { id: *id, have: 0 }).collect();
        let want_for_b = Gossip::Want(Want {
            router: b.key.address(),
            wanted: wanted.clone(),
            at_ms: now_ms(),
        });
        assert!(network.validate(&inbound(a.peer, want_for_b)).is_err());
        let too_many = Gossip::Want(Want {
            router: a.key.address(),
            wanted: vec![wanted[0]; MAX_BATCH + 1],
            at_ms: now_ms(),
        });
        assert!(network.validate(&inbound(a.peer, too_many)).is_err());
        // A claim or heartbeat in another router's name; a stale heartbeat.
        let claim_for_b = Gossip::Claim(RelayClaim {
            message_id: ids[0],
            hop: 0,
            router: b.key.address(),
            at_ms: now_ms(),
        });
        assert!(network.validate(&inbound(a.peer, claim_for_b)).is_err());
        let stale = Gossip::Heartbeat(Heartbeat {
            router: a.key.address(),
            at_ms: now_ms() - 10 * STALE_MS,
            chains: vec![],
        });
        assert_eq!(
            network.validate(&inbound(a.peer, stale)),
            Ok(Verdict::Ignore)
        );
    }

    /// A member whose finalized block differs from ours at a height we know is shown as
    /// divergent in `GET /peers`, and no longer once it agrees.
    #[tokio::test]
    async fn a_member_with_another_finalized_block_is_shown_as_divergent() {
        let Fixture {
            _dir,
            network,
            a,
            b,
            ..
        } = fixture();
        let ours = B256::repeat_byte(0x11);
        network
            .state()
            .own_finalized
            .entry("starknet".into())
            .or_default()
            .insert(40, ours);
        let heartbeat = |router: Address, finalized: u64, hash: B256| {
            Gossip::Heartbeat(Heartbeat {
                router,
                at_ms: now_ms(),
                chains: vec![ChainView {
                    chain: "starknet".into(),
                    head: finalized + 2,
                    finalized,
                    finalized_hash: hash,
                }],
            })
        };
        let other = B256::repeat_byte(0x22);
        let view_of = |peers: &PeersView, who: Address| {
            peers
                .routers
                .iter()
                .find(|r| r.address == who)
                .cloned()
                .expect("a member")
        };
        assert_eq!(
            network.validate(&inbound(a.peer, heartbeat(a.key.address(), 40, other))),
            Ok(Verdict::Accept)
        );
        // B is at a height we never saw finalized: nothing to compare, not divergent.
        assert_eq!(
            network.validate(&inbound(b.peer, heartbeat(b.key.address(), 41, other))),
            Ok(Verdict::Accept)
        );
        let peers = network.peers().await;
        let seen_a = view_of(&peers, a.key.address());
        let why = seen_a.divergent.expect("A diverges");
        assert!(why.contains("starknet block 40"), "{why}");
        assert!(
            why.contains(&other.to_string()) && why.contains(&ours.to_string()),
            "{why}"
        );
        assert!(seen_a.live);
        assert_eq!(seen_a.chains[0].finalized_hash, other);
        let seen_b = view_of(&peers, b.key.address());
        assert!(seen_b.live && seen_b.divergent.is_none());

        // A's next heartbeat agrees with us.
        assert_eq!(
            network.validate(&inbound(a.peer, heartbeat(a.key.address(), 40, ours))),
            Ok(Verdict::Accept)
        );
        assert!(
            view_of(&network.peers().await, a.key.address())
                .divergent
                .is_none()
        );
    }

    fn record(nonce: u64, hop: u8) -> MessageRecord {
        let envelope = xroute_proofs::envelope::Envelope {
            src_domain: 2,
            nonce,
            sender: B256::with_last_byte(1),
            dst_domain: 1,
            recipient: B256::with_last_byte(2),
            payload: vec![],
        };
        let source = crate::store::SourceRef {
            chain: "starknet".into(),
            block_number: 10,
            block_hash: B256::repeat_byte(3),
            tx_hash: B256::repeat_byte(4),
        };
        let mut record = MessageRecord::new(envelope, source, 0);
        record.hop = hop;
        record
    }

    /// Every router of a set ranks the same hop differently (exactly one is first), the work is
    /// spread over all of them, the k-th waits k windows, a fresh claim by another router holds
    /// the others back until it is two windows old, and of two routers that claim at the same
    /// moment only the better ranked one relays.
    #[tokio::test]
    async fn relay_assignment_has_one_first_router_per_hop_and_bounded_takeover() {
        let members: Vec<Member> = (0..4).map(|_| member()).collect();
        let all: Vec<&Member> = members.iter().collect();
        let routers: Vec<(tempfile::TempDir, Network)> =
            members.iter().map(|m| network_of(m, &all)).collect();
        let mut first = [0usize; 4];
        for nonce in 0..400 {
            let id = record(nonce, 0).id;
            let mut ranks: Vec<usize> = routers.iter().map(|(_, n)| n.rank(&id)).collect();
            first[ranks.iter().position(|r| *r == 0).unwrap()] += 1;
            ranks.sort();
            assert_eq!(ranks, vec![0, 1, 2, 3], "message {id}");
        }
        assert!(
            first.iter().all(|n| *n >= 50),
            "first relayer counts {first:?}"
        );

        let t0 = now_ms();
        let hop = record(7, 1);
        let by_rank = |rank: usize| {
            routers
                .iter()
                .position(|(_, n)| n.rank(&hop.id) == rank)
                .unwrap()
        };
        let wait = |turn: Turn| match turn {
            Turn::Wait(why) => why,
            other => panic!("expected to wait, got {other:?}"),
        };
        for rank in 0..4 {
            let n = &routers[by_rank(rank)].1;
            let at = t0 + rank as u64 * WINDOW_MS;
            if rank > 0 {
                wait(n.turn(&hop, t0, at - 1));
            }
            assert_eq!(n.turn(&hop, t0, at), Turn::Claim, "rank {rank} on time");
        }
        let hear = |to: usize, claim: RelayClaim| {
            let from = members.iter().find(|m| m.key.address() == claim.router);
            let verdict = routers[to]
                .1
                .validate(&inbound(from.unwrap().peer, Gossip::Claim(claim)));
            assert_eq!(verdict, Ok(Verdict::Accept));
        };
        let claim_of = |who: usize| routers[who].1.state().claims[&hop.id][0];

        // The first router claims the hop; it relays once the claim has settled.
        let (first, second) = (by_rank(0), by_rank(1));
        routers[first].1.claim(&hop);
        let claimed = claim_of(first);
        assert_eq!(claimed.router, members[first].key.address());
        let n = &routers[first].1;
        let why = wait(n.turn(&hop, t0, claimed.at_ms + SETTLE_MS - 1));
        assert!(why.contains("claimed; relays at"), "{why}");
        assert_eq!(n.turn(&hop, t0, claimed.at_ms + SETTLE_MS), Turn::Relay);
        // The second hears it in its window and holds back.
        hear(second, claimed);
        let n = &routers[second].1;
        let why = wait(n.turn(&hop, t0, claimed.at_ms + WINDOW_MS));
        assert!(why.contains("claimed the hop"), "{why}");
        // Two windows without the relay: the claimant is taken for dead.
        assert_eq!(n.turn(&hop, t0, claimed.at_ms + 2 * WINDOW_MS), Turn::Claim);
        // A claim for the previous hop does not hold back the next one.
        let next = record(7, 2);
        assert_eq!(n.turn(&next, t0, claimed.at_ms + WINDOW_MS), Turn::Claim);

        // Races: two routers claim before hearing each other; once the claims have crossed,
        // exactly one relays, whatever order they arrived in.
        let race = |nonce: u64, at: [(usize, u64); 2], winner: usize| {
            let hop = record(nonce, 1);
            let by_rank = |rank: usize| {
                routers
                    .iter()
                    .position(|(_, n)| n.rank(&hop.id) == rank)
                    .unwrap()
            };
            let claims: Vec<(usize, RelayClaim)> = at
                .iter()
                .map(|(rank, at_ms)| {
                    let who = by_rank(*rank);
                    let claim = RelayClaim {
                        message_id: hop.id,
                        hop: hop.hop,
                        router: members[who].key.address(),
                        at_ms: *at_ms,
                    };
                    routers[who].1.note_claim(claim);
                    (who, claim)
                })
                .collect();
            hear(claims[0].0, claims[1].1);
            hear(claims[1].0, claims[0].1);
            let settled = claims[0].1.at_ms.max(claims[1].1.at_ms) + SETTLE_MS;
            for (rank, _) in at {
                let turn = routers[by_rank(rank)].1.turn(&hop, t0, settled);
                if rank == winner {
                    assert_eq!(turn, Turn::Relay, "rank {rank}");
                } else {
                    let why = wait(turn);
                    assert!(why.contains("claimed the hop first"), "{why}");
                }
            }
            // Each router keeps both claims; hearing one again changes nothing.
            hear(claims[0].0, claims[1].1);
            assert_eq!(routers[claims[0].0].1.state().claims[&hop.id].len(), 2);
        };
        let now = now_ms();
        // The first router's certificate came late: it claims in the same millisecond as the
        // third, whose window ran out. The better ranked one relays.
        race(8, [(2, now), (0, now)], 0);
        // The first router was frozen past the second's window: the second claimed and
        // relayed long before the first, waking up, claimed without having heard it.
        race(9, [(1, now), (0, now + 3 * SETTLE_MS)], 1);
    }
}
