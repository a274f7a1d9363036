//! Catching up on attestations lost to a full queue, or sent while this router was away.
//!
//! A message waiting for its certificate [`REPUBLISH_MS`] after our attestation went out is due
//! to be asked for: the next flush sends the set a [`Want`] (at most [`MAX_BATCH`] ids, lowest
//! first, each with a mask of the signers we hold), and each router whose attestation we lack
//! answers from its store, at most once per [`REPUBLISH_MS`] per attestation, however many
//! routers ask. Nothing is signed again; a batch attestation stays one message.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Mutex,
};

use alloy_primitives::B256;
use xroute_proofs::envelope::MessageId;

use super::{Certificate, MAX_BATCH, Network, evidence::Evidence};
use crate::{
    model::MessageRecord,
    network::wire::{Gossip, MAX_BUNDLE, Want, Wanted},
    store::StoreError,
    time::now_ms,
};

/// How long a message may wait for its certificate after our attestation went out before this
/// router asks the set for the attestations it misses (a [`Want`]). Each further ask waits twice
/// as long, up to [`REPUBLISH_MAX_MS`]: when the whole set is behind, asking for everything every
/// few seconds would only add to the load. Also the least time between two answers for one
/// attestation.
pub const REPUBLISH_MS: u64 = 5_000;
/// The longest wait between two asks for one message.
pub const REPUBLISH_MAX_MS: u64 = 60_000;
/// Catch-up bookkeeping untouched this long is forgotten (the message left `Proven`).
const FORGET_MS: u64 = 600_000;

/// Something waiting for its certificate: when our attestation went out or we last asked for the
/// others', and how many times.
#[derive(Debug, Clone, Copy)]
pub(super) struct Waiting {
    pub(super) at_ms: u64,
    pub(super) times: u32,
}

impl Waiting {
    /// Whether it is due to be asked for again at `now`.
    pub(super) fn due(&self, now: u64) -> bool {
        let wait = REPUBLISH_MS
            .saturating_mul(1 << self.times.saturating_sub(1).min(16))
            .min(REPUBLISH_MAX_MS);
        now.saturating_sub(self.at_ms) >= wait
    }
}

#[derive(Debug, Default)]
struct State {
    /// Messages without a certificate here: when our attestation went out or we last asked for
    /// the others', and how many times.
    waiting: HashMap<MessageId, Waiting>,
    /// Messages due to be asked for at the next flush.
    wants: BTreeSet<MessageId>,
    /// When we last answered a [`Want`] with our attestation (by message id, or batch root).
    answered: HashMap<B256, u64>,
    /// When the bookkeeping above was last pruned.
    pruned_ms: u64,
}

/// The catch-up bookkeeping.
#[derive(Debug, Default)]
pub(super) struct CatchUp {
    state: Mutex<State>,
}

impl CatchUp {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Our attestations of `ids` were gossiped, or others' asked for, at `now`.
    pub(super) fn sent(&self, ids: &[MessageId], now: u64) {
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

    /// `id` has its certificate: nothing more to ask for.
    pub(super) fn certified(&self, id: &MessageId) {
        self.state().waiting.remove(id);
    }

    /// Whether our attestation (or batch) keyed `key` may be sent again to an asker at `now`.
    fn answerable(&self, key: &B256, now: u64) -> bool {
        self.state()
            .answered
            .get(key)
            .is_none_or(|at| now.saturating_sub(*at) >= REPUBLISH_MS)
    }

    fn answered(&self, keys: impl IntoIterator<Item = B256>, now: u64) {
        let mut state = self.state();
        for key in keys {
            state.answered.insert(key, now);
        }
    }
}

impl Network {
    /// Catches `record` up while it waits for its certificate (the pipeline calls this every
    /// tick): our attestation goes out if it never did (the p2p queue was full, or the router
    /// restarted), and once it has waited [`REPUBLISH_MS`] (doubling) the set is asked for what we
    /// miss.
    pub fn catch_up(&self, record: &MessageRecord) -> Result<(), StoreError> {
        let id = record.id;
        let now = now_ms();
        // Called for every waiting message every tick: the cheap check first.
        let entry = self.catch_up.state().waiting.get(&id).copied();
        if entry.is_some_and(|p| !p.due(now)) {
            return Ok(());
        }
        if self.store.certificate::<Certificate>(&id)?.is_some() {
            self.catch_up.certified(&id);
            return Ok(());
        }
        if entry.is_some() {
            self.catch_up.state().wants.insert(id);
            return Ok(());
        }
        tracing::debug!(%id, "gossiping our attestation again");
        match self
            .store
            .attestation::<Evidence>(&id, &self.members.me())?
        {
            None => self.attest(record)?,
            Some(Evidence::Single(signed)) => {
                self.outbox.push(signed);
                self.catch_up.sent(&[id], now);
            }
            Some(Evidence::Batch { root, .. }) => {
                if let Some(batch) = self.own_batch(&root)? {
                    let ids = batch.message_ids.clone();
                    // Noted even if the queue is full: then the others ask for it, rather than
                    // every message of the batch loading and queueing it again here.
                    (Gossip::BatchAttestation(batch)).publish(&self.p2p);
                    self.catch_up.sent(&ids, now);
                }
            }
        }
        Ok(())
    }

    /// Sends the set what it asked for: our attestation of each id in `want`, each (or its
    /// batch, loaded once) at most once per [`REPUBLISH_MS`], however many routers ask. Stops
    /// when the p2p queue is full: the asker asks again.
    pub(super) fn answer(&self, want: &Want) -> Result<(), StoreError> {
        let now = now_ms();
        let me = self.members.me();
        let mine = self.members.bit(&me).map_or(0, |b| 1u64 << b);
        let mut roots = BTreeSet::new();
        let mut singles = Vec::new();
        for Wanted { id, have } in &want.wanted {
            if have & mine != 0 {
                continue; // it has ours
            }
            match self.store.attestation::<Evidence>(id, &me)? {
                None => {}
                Some(Evidence::Batch { root, .. }) => {
                    roots.insert(root);
                }
                Some(Evidence::Single(signed)) if self.catch_up.answerable(&id.0, now) => {
                    singles.push(signed)
                }
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
            if !(Gossip::Attestations {
                attestations: bundle.to_vec(),
            })
            .publish(&self.p2p)
            {
                return Ok(());
            }
            self.catch_up
                .answered(bundle.iter().map(|s| s.body.message_id.0), now);
        }
        for root in roots {
            if !self.catch_up.answerable(&root, now) {
                continue;
            }
            let Some(batch) = self.own_batch(&root)? else {
                continue;
            };
            if !(Gossip::BatchAttestation(batch)).publish(&self.p2p) {
                return Ok(());
            }
            self.catch_up.answered([root], now);
        }
        Ok(())
    }

    /// Asks the set for the attestations found missing since the last call: at most
    /// [`MAX_BATCH`] ids per call, the lowest first, so that the answers to one round fit the
    /// peers' queues and routers missing the same messages ask for the same ones (each is
    /// answered once for all). The rest stay due for the next call.
    pub(super) fn flush_wants(&self) {
        let ids: Vec<MessageId> = {
            let mut state = self.catch_up.state();
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
            wanted.push(Wanted {
                id: *id,
                have: self.members.mask(&signers),
            });
        }
        tracing::debug!(count = ids.len(), "asking the set for missing attestations");
        if (Gossip::Want(Want {
            router: self.members.me(),
            wanted,
            at_ms: now,
        }))
        .publish(&self.p2p)
        {
            self.catch_up.sent(&ids, now);
        }
    }
}
