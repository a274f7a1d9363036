//! This router's own attestations: signed once its own storage proof took a message to `Proven`,
//! kept in sled as its evidence, and gossiped: single attestations through an outbox that the end
//! of every tick sends in bundles, a batch attestation (one signature for all a tick proved) at
//! once.

use std::sync::Mutex;

use alloy_primitives::B256;
use xroute_proofs::{
    attestation::{AttestedStage, Batch, Signed},
    envelope::MessageId,
};

use super::{MAX_BATCH, Network, evidence::Evidence};
use crate::{
    model::MessageRecord,
    network::wire::{Attestation, BatchAttestation, Gossip, MAX_BUNDLE},
    store::StoreError,
    time::now_ms,
};

/// Our single attestations due to be gossiped at the next [`Network::flush`].
#[derive(Debug, Default)]
pub(super) struct Outbox {
    queued: Mutex<Vec<Attestation>>,
}

impl Outbox {
    pub(super) fn push(&self, attestation: Attestation) {
        self.queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(attestation);
    }

    fn take(&self) -> Vec<Attestation> {
        std::mem::take(&mut *self.queued.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Puts back what did not fit the p2p queue, before anything queued since.
    fn put_back(&self, unsent: &[Attestation]) {
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        let newer = std::mem::take(&mut *queued);
        *queued = unsent.to_vec();
        queued.extend(newer);
    }
}

impl Network {
    /// Signs and keeps this router's attestation of `record` (after its own proof); it is
    /// gossiped at the next [`Network::flush`], with the others of the tick. Safe to call again:
    /// the signature is deterministic.
    pub fn attest(&self, record: &MessageRecord) -> Result<(), StoreError> {
        let claim = Network::claim_of(record);
        let signed = match Signed::sign(self.members.signer(), self.members.domain(), claim) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(id = %record.id, error = %e, "cannot sign an attestation");
                return Ok(());
            }
        };
        self.store
            .put_attestation(&record.id, &self.members.me(), &Evidence::Single(signed))?;
        self.try_certify(&record.id)?;
        // Gossiped even when we hold a certificate already: others may lack ours.
        self.outbox.push(signed);
        if self
            .store
            .certificate::<super::Certificate>(&record.id)?
            .is_none()
        {
            self.catch_up.sent(&[record.id], now_ms());
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
        let me = self.members.me();
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
            let signed =
                match Signed::sign(self.members.signer(), self.members.domain(), batch.claim) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot sign a batch attestation");
                        continue;
                    }
                };
            let attestation = BatchAttestation {
                signed,
                message_ids: ids.clone(),
            };
            self.store.put_batch(&batch.claim.root, &me, &attestation)?;
            for (i, id) in ids.iter().enumerate() {
                let evidence = Evidence::Batch {
                    root: batch.claim.root,
                    index: i as u32,
                };
                self.store.put_attestation(id, &me, &evidence)?;
                self.try_certify(id)?;
            }
            // Not queued (the p2p task is far behind): `catch_up` sends it later.
            if (Gossip::BatchAttestation(attestation)).publish(&self.p2p) {
                self.catch_up.sent(&ids, now_ms());
            }
        }
        Ok(())
    }

    /// Gossips our queued single attestations. What does not fit the p2p queue stays for the next
    /// call.
    pub(super) fn flush_outbox(&self) {
        let outbox = self.outbox.take();
        for (i, bundle) in outbox.chunks(MAX_BUNDLE).enumerate() {
            if !(Gossip::Attestations {
                attestations: bundle.to_vec(),
            })
            .publish(&self.p2p)
            {
                self.outbox.put_back(&outbox[i * MAX_BUNDLE..]);
                return;
            }
        }
    }
}
