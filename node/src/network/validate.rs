//! Gossip validation: every received message is judged before gossipsub forwards it.
//!
//! Accepted only from a configured peer whose attestation address matches what the message says
//! (the signer of an attestation, the router of a claim, a heartbeat or a request). Everything
//! else is rejected with a typed [`Rejection`], which penalises the sending peer and is counted
//! by reason in `GET /peers`. A failure of our own (the store could not be read or written) says
//! nothing about the sender: the message is *ignored*, never rejected, so a disk error here
//! cannot get an honest peer banned.

use std::sync::Arc;

use tokio::sync::mpsc;
use xroute_proofs::attestation::AttestedStage;

use super::{
    MAX_BATCH, Network,
    evidence::{Evidence, batch_of},
    verdict::{Rejected, Rejection, Verdict},
    wire::{BatchAttestation, Gossip, Inbound, MAX_BUNDLE},
};
use crate::{p2p, store::StoreError, time::now_ms};

/// How long a heartbeat, claim or request may lag behind (or run ahead of) our clock before it is
/// stale (ignored).
pub(super) const STALE_MS: u64 = 60_000;

/// Why validation stopped.
enum Fault {
    /// The sender is at fault.
    Rejected(Rejected),
    /// We are (our store failed).
    Local(StoreError),
}

impl From<StoreError> for Fault {
    fn from(e: StoreError) -> Self {
        Self::Local(e)
    }
}

fn reject(reason: Rejection, detail: impl Into<String>) -> Fault {
    Fault::Rejected(Rejected {
        reason,
        detail: detail.into(),
    })
}

impl Network {
    /// Decodes and validates received gossip, reports the verdict to the p2p layer and keeps
    /// what is valid. Bytes that do not decode as gossip of their topic are rejected as
    /// [`Rejection::Malformed`].
    pub async fn run_inbound(self: Arc<Self>, mut inbound: mpsc::Receiver<p2p::Received>) {
        while let Some(received) = inbound.recv().await {
            let message = match Inbound::decode(&received) {
                Ok(message) => message,
                Err(e) => {
                    tracing::debug!(peer = %received.from, reason = %e, "invalid gossip");
                    self.report(
                        &received.id,
                        received.from,
                        Verdict::Reject(Rejection::Malformed),
                    )
                    .await;
                    continue;
                }
            };
            if matches!(message.gossip, Gossip::Checkpoints { .. }) {
                // Checked against our own L1, which may take a read or a wait: apart, so the
                // rest of the gossip is not held up; at most MAX_JUDGING at once.
                use std::sync::atomic::Ordering;
                let judging = &self.checkpoints.judging;
                if judging.fetch_add(1, Ordering::Relaxed) >= super::checkpoints::MAX_JUDGING {
                    judging.fetch_sub(1, Ordering::Relaxed);
                    self.report(&message.id, message.from, Verdict::Ignore)
                        .await;
                    continue;
                }
                let network = self.clone();
                tokio::spawn(async move {
                    let verdict = match network.judge_checkpoints(&message).await {
                        Ok(v) => v,
                        Err(rejected) => {
                            tracing::warn!(peer = %message.from, %rejected, "checkpoint attestation rejected");
                            Verdict::Reject(rejected.reason)
                        }
                    };
                    network.report(&message.id, message.from, verdict).await;
                    network.checkpoints.judging.fetch_sub(1, Ordering::Relaxed);
                });
                continue;
            }
            let verdict = match self.validate(&message) {
                Ok(v) => v,
                Err(rejected) => {
                    tracing::debug!(peer = %message.from, %rejected, "gossip rejected");
                    Verdict::Reject(rejected.reason)
                }
            };
            self.report(&message.id, message.from, verdict).await;
        }
    }

    /// Hands the verdict on message `id` (forwarded to us by `from`) to the p2p layer.
    async fn report(
        &self,
        id: &libp2p::gossipsub::MessageId,
        from: libp2p::PeerId,
        verdict: Verdict,
    ) {
        self.p2p.verdict(id, from, verdict.into()).await;
    }

    /// The verdict on gossip received as `received`: what [`Network::run_inbound`] decides for
    /// it, without reporting it to the p2p layer (bytes that do not decode: `Malformed`).
    /// Checkpoint attestations, judged against L1 apart, are ignored here. The fuzz bench feeds
    /// hostile bytes through it.
    pub fn verdict_on(&self, received: &p2p::Received) -> Verdict {
        match Inbound::decode(received) {
            Err(_) => Verdict::Reject(Rejection::Malformed),
            Ok(message) => self
                .validate(&message)
                .unwrap_or_else(|rejected| Verdict::Reject(rejected.reason)),
        }
    }

    /// The verdict on `message`: `Err` when the sender is at fault.
    pub(crate) fn validate(&self, message: &Inbound) -> Result<Verdict, Rejected> {
        match self.judge(message) {
            Ok(verdict) => Ok(verdict),
            Err(Fault::Rejected(r)) => Err(r),
            Err(Fault::Local(e)) => {
                tracing::error!(peer = %message.from, error = %e, "cannot check gossip: the store failed; ignoring it");
                Ok(Verdict::Ignore)
            }
        }
    }

    fn judge(&self, message: &Inbound) -> Result<Verdict, Fault> {
        let author = message
            .author
            .ok_or_else(|| reject(Rejection::Unsigned, "unsigned gossip"))?;
        let member = self.members.of_peer(&author).ok_or_else(|| {
            reject(
                Rejection::Stranger,
                format!("peer {author} is not in the router set"),
            )
        })?;
        let now = now_ms();
        let fresh = |at: u64| at + STALE_MS >= now && at <= now + STALE_MS;
        let impersonation = |what: &str, named: &alloy_primitives::Address| {
            reject(
                Rejection::Impersonation,
                format!("{what} for {named}, published by {member}'s peer"),
            )
        };
        match &message.gossip {
            Gossip::Attestations {
                attestations: bundle,
            } => {
                if bundle.is_empty() || bundle.len() > MAX_BUNDLE {
                    return Err(reject(
                        Rejection::OutOfBounds,
                        format!(
                            "{} attestations in one message (1 to {MAX_BUNDLE})",
                            bundle.len()
                        ),
                    ));
                }
                let mut new = false;
                for (i, signed) in bundle.iter().enumerate() {
                    let id = signed.body.message_id;
                    // A replay costs a store lookup, not a signature recovery: evidence is stored
                    // under its checked signer, who must be the publishing peer's member.
                    if self.store.has_attestation(&id, &member)? {
                        continue;
                    }
                    let signer = signed.signer(self.members.domain()).map_err(|e| {
                        reject(Rejection::BadSignature, format!("attestation {i}: {e}"))
                    })?;
                    if signer != member {
                        return Err(reject(
                            Rejection::Impersonation,
                            format!(
                                "attestation {i} signed by {signer}, published by {member}'s peer"
                            ),
                        ));
                    }
                    if signed.body.stage != AttestedStage::Proven {
                        return Err(reject(
                            Rejection::BadClaim,
                            format!("attestation {i}: only Proven claims are gossiped"),
                        ));
                    }
                    if self
                        .store
                        .put_attestation(&id, &signer, &Evidence::Single(*signed))?
                    {
                        new = true;
                        self.try_certify(&id)?;
                    }
                }
                Ok(if new {
                    Verdict::Accept
                } else {
                    Verdict::Ignore // all replays
                })
            }
            Gossip::BatchAttestation(b) => self.judge_batch(b, member),
            // Judged apart, in `run_inbound` (it may read L1).
            Gossip::Checkpoints { .. } => Ok(Verdict::Ignore),
            Gossip::CheckpointWant(want) => {
                if want.router != member {
                    return Err(impersonation("checkpoint request", &want.router));
                }
                if want.wanted.len() > MAX_BATCH {
                    return Err(reject(
                        Rejection::OutOfBounds,
                        format!("{} checkpoints in one request", want.wanted.len()),
                    ));
                }
                if want.at_ms + STALE_MS < now {
                    return Ok(Verdict::Ignore);
                }
                self.answer_checkpoints(want)?;
                Ok(Verdict::Accept)
            }
            Gossip::Want(want) => {
                if want.router != member {
                    return Err(impersonation("attestation request", &want.router));
                }
                if want.wanted.len() > MAX_BATCH {
                    return Err(reject(
                        Rejection::OutOfBounds,
                        format!("{} ids in one attestation request", want.wanted.len()),
                    ));
                }
                if want.at_ms + STALE_MS < now {
                    return Ok(Verdict::Ignore);
                }
                self.answer(want)?;
                Ok(Verdict::Accept)
            }
            Gossip::Claim(claim) => {
                if claim.router != member {
                    return Err(impersonation("claim", &claim.router));
                }
                if !fresh(claim.at_ms) {
                    return Ok(Verdict::Ignore);
                }
                self.claims.note(*claim);
                Ok(Verdict::Accept)
            }
            Gossip::Heartbeat(hb) => {
                if hb.router != member {
                    return Err(impersonation("heartbeat", &hb.router));
                }
                if !fresh(hb.at_ms) {
                    return Ok(Verdict::Ignore);
                }
                self.liveness.heard(hb.clone(), now);
                Ok(Verdict::Accept)
            }
        }
    }

    fn judge_batch(
        &self,
        b: &BatchAttestation,
        member: alloy_primitives::Address,
    ) -> Result<Verdict, Fault> {
        let signer = b
            .signed
            .signer(self.members.domain())
            .map_err(|e| reject(Rejection::BadSignature, format!("batch attestation: {e}")))?;
        if signer != member {
            return Err(reject(
                Rejection::Impersonation,
                format!("batch attestation signed by {signer}, published by {member}'s peer"),
            ));
        }
        if b.message_ids.len() > MAX_BATCH {
            return Err(reject(
                Rejection::OutOfBounds,
                format!("{} ids in one batch", b.message_ids.len()),
            ));
        }
        let body = b.signed.body;
        if self
            .store
            .batch::<BatchAttestation>(&body.root, &signer)?
            .is_some()
        {
            return Ok(Verdict::Ignore); // a replay
        }
        let batch = batch_of(&b.message_ids, &body)
            .map_err(|e| reject(Rejection::BadClaim, format!("batch: {e}")))?;
        if batch.claim != body {
            return Err(reject(
                Rejection::BadClaim,
                "the ids do not hash to the signed root",
            ));
        }
        self.store.put_batch(&body.root, &signer, b)?;
        let mut new = false;
        for (i, id) in b.message_ids.iter().enumerate() {
            let evidence = Evidence::Batch {
                root: body.root,
                index: i as u32,
            };
            if self.store.put_attestation(id, &signer, &evidence)? {
                new = true;
                self.try_certify(id)?;
            }
        }
        Ok(if new {
            Verdict::Accept
        } else {
            Verdict::Ignore
        })
    }
}
