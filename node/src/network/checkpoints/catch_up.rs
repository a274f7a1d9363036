//! Catch-up by checkpoint: our attestations gossiped, and requests for the attestations we lack
//! asked and answered.

use alloy_primitives::Address;

use crate::{
    network::wire::{CheckpointAttestation, CheckpointWant, Gossip, MAX_BUNDLE, WantedCheckpoint},
    network::{MAX_BATCH, Network, REPUBLISH_MS},
    store::StoreError,
    time::now_ms,
};

impl Network {
    /// Answers a request for checkpoint attestations with ours, each at most once per
    /// `REPUBLISH_MS` however many routers ask.
    pub(in crate::network) fn answer_checkpoints(
        &self,
        want: &CheckpointWant,
    ) -> Result<(), StoreError> {
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
                .is_none_or(|at| now.saturating_sub(*at) >= REPUBLISH_MS);
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
            if !(Gossip::Checkpoints {
                attestations: bundle.to_vec(),
            })
            .publish(&self.p2p)
            {
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
            if !(Gossip::Checkpoints {
                attestations: bundle.to_vec(),
            })
            .publish(&self.p2p)
            {
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
            (Gossip::Checkpoints {
                attestations: bundle.to_vec(),
            })
            .publish(&self.p2p);
        }
        if (Gossip::CheckpointWant(CheckpointWant {
            router: me,
            wanted,
            at_ms: now,
        }))
        .publish(&self.p2p)
        {
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
