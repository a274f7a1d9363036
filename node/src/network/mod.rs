//! The router network on top of [`crate::p2p`] (which only carries bytes): who is in the set,
//! what their gossip is and means, and who relays. It is the pipeline's [`Coordinator`] in a
//! network. By concern, each with its own state:
//!
//! - [`wire`]: the gossip wire format (JSON, versioned topics, bounded decoding) and the decoded
//!   message waiting for its verdict.
//! - [`verdict`]: what the set decides about a received message ([`Verdict`], a typed
//!   [`Rejection`]), handed to the p2p layer as a transport verdict.
//! - [`members`]: the configured set (attestation address and peer id each), the EIP-712 domain
//!   and this router's key.
//! - [`evidence`]: what a router's attestation of a message is (its own signature, or a leaf of
//!   its batch attestation), how it is checked, and quorum certificates (`threshold` distinct
//!   signers). Kept in sled.
//! - `attest`: signing this router's attestations after its own storage proof, one signature
//!   per message or one per tick (a batch); an outbox of single attestations gossiped in bundles.
//! - `catch_up`: a router whose message has no certificate a while after its attestation went
//!   out asks the set for what it misses (a [`Want`](crate::network::wire::Want)), and answers others' asks from its store.
//! - `validate`: gossip is accepted only from a configured peer whose attestation address
//!   matches what the message says; rejections carry a typed [`Rejection`]; a failure of our own
//!   store is *ignore*, never *reject*.
//! - `liveness`: heartbeats with every router's heads; a router whose finalized block hash
//!   differs from ours is flagged in `GET /peers`.
//! - [`assign`]: relay assignment as a pure function: rendezvous ranking per hop, windowed
//!   failover, claim, settle, relay (see [`assign::Assignment::decide`]).
//! - [`checkpoints`]: certificates per L1 checkpoint (issue 16): what one finalized L1 block made
//!   consumable from one domain, computed from L1 by every router, signed and certified as a
//!   unit; messages of the checkpointed domains are `Attested` by their checkpoint's certificate.
//! - [`claims`]: relay claims heard and made, and the claims this router holds while its relay is
//!   in flight, kept fresh on the network's own timer (not the pipeline's tick).

pub mod assign;
mod attest;
mod catch_up;
pub mod checkpoints;
pub mod claims;
pub mod evidence;
mod liveness;
pub mod members;
mod validate;
pub mod verdict;
pub mod wire;

use std::sync::Arc;

use alloy::{dyn_abi::Eip712Domain, signers::local::PrivateKeySigner};
use alloy_primitives::{Address, B256};
use libp2p::PeerId;
use tokio::sync::mpsc;
use xroute_adapters::BlockRef;
use xroute_proofs::{attestation::Claim, envelope::MessageId};

pub use assign::Decision;
pub use catch_up::{REPUBLISH_MAX_MS, REPUBLISH_MS};
pub use checkpoints::{
    ChainsCheckpoints, CheckpointCertificate, CheckpointSource, RecordedCheckpoints,
    StoredCheckpoint,
};
pub use evidence::{Certificate, Evidence};
pub use liveness::{PeersView, RouterView};
pub use verdict::{Rejected, Rejection, Verdict};

use crate::{
    model::MessageRecord,
    network::wire::BatchAttestation,
    p2p::P2pHandle,
    pipeline::{Coordinator, Gate, Turn},
    store::{Store, StoreError},
};

/// The hop a router relays and claims: a message's one L1 transaction (the Hub consumes it and
/// forwards it into its destination in the same transaction). Claims carry a hop number on the
/// wire so that their format stays the same if a route is ever relayed in two.
const L1_HOP: u8 = 0;

/// Most messages in one batch attestation (keeps it well under the gossip size bound).
pub const MAX_BATCH: usize = 1_000;

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

/// One router's membership in the network.
#[derive(Debug)]
pub struct Network {
    p2p: P2pHandle,
    store: Store,
    members: members::Members,
    assignment: assign::Assignment,
    heartbeat_ms: u64,
    batch_attestations: bool,
    outbox: attest::Outbox,
    catch_up: catch_up::CatchUp,
    claims: claims::Claims,
    liveness: liveness::Liveness,
    checkpoints: checkpoints::Book,
    certified: Option<mpsc::UnboundedSender<(MessageId, u64)>>,
}

impl Network {
    /// Joins the network through `p2p`, as the router signing with `settings.signer`, for the Hub
    /// whose EIP-712 domain is `domain`.
    pub fn new(
        p2p: P2pHandle,
        store: Store,
        settings: NetworkSettings,
        domain: Eip712Domain,
    ) -> Result<Self, String> {
        let members = members::Members::new(
            settings.signer,
            settings.members,
            settings.threshold,
            domain,
            p2p.peer_id(),
        )?;
        let assignment = assign::Assignment {
            me: members.me(),
            routers: members.addresses(),
            window_ms: settings.relay_window_ms,
            settle_ms: settings.claim_settle_ms,
        };
        Ok(Self {
            p2p,
            store,
            claims: claims::Claims::new(members.me(), settings.relay_window_ms),
            members,
            assignment,
            heartbeat_ms: settings.heartbeat_ms,
            batch_attestations: settings.batch_attestations,
            outbox: attest::Outbox::default(),
            catch_up: catch_up::CatchUp::default(),
            liveness: liveness::Liveness::default(),
            checkpoints: checkpoints::Book::default(),
            certified: None,
        })
    }

    /// Reports every certificate formed here as (message, ms since the epoch) (benchmarks).
    pub fn with_certificate_hook(mut self, hook: mpsc::UnboundedSender<(MessageId, u64)>) -> Self {
        self.certified = Some(hook);
        self
    }

    /// The store this router keeps its messages and evidence in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This router's attestation address.
    pub fn me(&self) -> Address {
        self.members.me()
    }

    /// The claim every router signs for `record`: bound to its source block, which every
    /// router sees identically, so the signatures aggregate.
    pub fn claim_of(record: &MessageRecord) -> Claim {
        evidence::claim_of(record)
    }

    /// The certificate of `id`, if a quorum signed.
    pub fn certificate(&self, id: &MessageId) -> Result<Option<Certificate>, StoreError> {
        self.store.certificate(id)
    }

    /// The distinct set members of `certificate` whose stored evidence checks out now.
    pub fn signers(&self, certificate: &Certificate) -> Result<Vec<Address>, StoreError> {
        evidence::signers(&self.store, &self.members, certificate)
    }

    /// Forms and keeps the certificate of `id` if a quorum's evidence is stored.
    fn try_certify(&self, id: &MessageId) -> Result<(), StoreError> {
        if evidence::certify(&self.store, &self.members, id)? {
            self.catch_up.certified(id);
            if let Some(hook) = &self.certified {
                let _ = hook.send((*id, crate::time::now_ms()));
            }
        }
        Ok(())
    }

    /// This router's rank for `id` in the configured set (0 = relays first).
    pub fn rank(&self, id: &MessageId) -> usize {
        self.assignment.rank(id)
    }

    /// What this router does about `record`'s current hop now, given when it became attested
    /// here (see [`assign::Assignment::decide`]).
    pub fn turn(&self, record: &MessageRecord, attested_at: u64, now: u64) -> Decision {
        let claims = self.claims.of(&record.id, L1_HOP);
        self.assignment
            .decide(&record.id, &claims, attested_at, now)
    }

    /// Gossips that this router will relay `record`'s hop once the claim has settled.
    pub fn claim(&self, record: &MessageRecord) {
        let claim = self.claims.claim(record.id, L1_HOP, crate::time::now_ms());
        (crate::network::wire::Gossip::Claim(claim)).publish(&self.p2p);
    }

    /// Holds `record`'s hop: our claim of it stays fresh (renewed by [`Self::run_claims`], and at
    /// once when it is a window old or missing, as after a restart) while our relay waits for a
    /// block, so the others do not relay it a second time.
    pub fn hold_claim(&self, record: &MessageRecord, now: u64) {
        if let Some(claim) = self.claims.hold(record.id, L1_HOP, now) {
            tracing::debug!(id = %record.id, hop = L1_HOP, "claiming the hop again");
            (crate::network::wire::Gossip::Claim(claim)).publish(&self.p2p);
        }
    }

    /// Keeps the claims this router holds fresh, every quarter window, until the pipeline stops
    /// confirming them (see [`claims::Claims::renewals`]). Runs for the router's lifetime.
    pub async fn run_claims(self: Arc<Self>) {
        let period = std::time::Duration::from_millis((self.assignment.window_ms / 4).max(50));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for claim in self.claims.renewals(crate::time::now_ms()) {
                (crate::network::wire::Gossip::Claim(claim)).publish(&self.p2p);
            }
        }
    }

    /// Gossips what the tick produced (the pipeline calls this at the end of every tick): our
    /// new single attestations, up to a bundle to a message, then the request for what we miss.
    pub fn flush(&self) {
        self.flush_outbox();
        self.flush_wants();
    }

    /// Our stored batch attestation with root `root`.
    fn own_batch(&self, root: &B256) -> Result<Option<BatchAttestation>, StoreError> {
        self.store
            .batch::<BatchAttestation>(root, &self.members.me())
    }
}

impl Coordinator for Network {
    fn proven(
        &self,
        records: &[MessageRecord],
        hub_domain: u32,
        l1: BlockRef,
    ) -> Result<(), StoreError> {
        // A checkpointed domain's messages are attested by their checkpoint, not one by one.
        let owned: Vec<MessageRecord>;
        let records = if records
            .iter()
            .any(|r| self.checkpointed(r.envelope.src_domain))
        {
            owned = records
                .iter()
                .filter(|r| !self.checkpointed(r.envelope.src_domain))
                .cloned()
                .collect();
            &owned[..]
        } else {
            records
        };
        match records {
            [] => Ok(()),
            [one] => self.attest(one),
            many if self.batch_attestations => {
                self.attest_batch(many, hub_domain, (l1.number, B256::from(l1.hash)))
            }
            many => many.iter().try_for_each(|r| self.attest(r)),
        }
    }

    /// `Attested` requires a certificate whose signers' evidence, checked again now, still makes
    /// a quorum.
    fn gate(&self, record: &MessageRecord) -> Result<Gate, StoreError> {
        if let Some(gate) = self.checkpoint_gate(record)? {
            return Ok(gate);
        }
        let Some(qc) = self.certificate(&record.id)? else {
            self.catch_up(record)?;
            return Ok(Gate::Closed);
        };
        let signers = self.signers(&qc)?;
        if signers.len() < self.members.threshold() {
            tracing::warn!(id = %record.id, signers = signers.len(), "a stored certificate no longer holds a quorum");
            return Ok(Gate::Closed);
        }
        Ok(Gate::Certified(format!(
            "quorum certificate: {} of the set signed ({})",
            signers.len(),
            listed(&signers)
        )))
    }

    fn turn(&self, record: &MessageRecord, attested_at: u64, now: u64) -> Turn {
        match Network::turn(self, record, attested_at, now) {
            Decision::Wait(why) => Turn::Wait(why),
            Decision::Claim => {
                self.claim(record);
                Turn::Claimed
            }
            Decision::Relay => {
                // From here until the hop is made our claim must not lapse, whatever the tick.
                self.hold_claim(record, now);
                Turn::Relay
            }
        }
    }

    fn relaying(&self, record: &MessageRecord, now: u64) {
        self.hold_claim(record, now);
    }

    fn released(&self, record: &MessageRecord) {
        self.claims.release(&record.id, L1_HOP);
    }

    fn flush(&self) {
        Network::flush(self);
    }

    fn attested(&self, record: &MessageRecord) {
        self.checkpoint_attested(record);
    }
}

/// Addresses as a comma-separated list (certificate notes).
fn listed<'a>(addresses: impl IntoIterator<Item = &'a Address>) -> String {
    addresses
        .into_iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
