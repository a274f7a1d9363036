//! Judging received checkpoint attestations against our own L1.

use std::time::Duration;

use super::{CheckpointCertificate, Local, MAX_AHEAD_BLOCKS, NOT_FINAL_WAIT_MS, StoredCheckpoint};
use crate::network::{
    Network,
    verdict::{Rejected, Rejection, Verdict},
    wire::{Gossip, Inbound, MAX_BUNDLE},
};

impl Network {
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
        self.adopt(source.l1_domain(), f)
            .map_err(|e| e.to_string())?;
        // Our attestation goes out now, not at the next round (which may have just flushed).
        self.flush_checkpoints();
        Ok(Local::Claim(claim))
    }

    /// Judges received checkpoint attestations (asynchronous: a claim is checked against our own
    /// L1, which may mean reading it, or waiting for its block to be final here).
    pub(in crate::network) async fn judge_checkpoints(
        &self,
        message: &Inbound,
    ) -> Result<Verdict, Rejected> {
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
}
