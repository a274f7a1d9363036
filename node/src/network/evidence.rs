//! A router's evidence that a message is proven, and quorum certificates.
//!
//! Evidence is a router's own signed claim of the message, or a leaf of its batch attestation
//! (the batch is stored once, per (root, signer), as the [`BatchAttestation`] that was gossiped).
//! Evidence is checked before it is stored (signer, set membership, inclusion), one key per
//! signer; a certificate lists the signers once `threshold` of them are stored, and every use of a
//! certificate checks the signers' evidence again ([`signers`]).

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use xroute_proofs::{
    attestation::{AttestedStage, Batch, BatchClaim, Claim, Signed},
    envelope::MessageId,
};

use super::members::Members;
use crate::{
    model::MessageRecord,
    network::wire::BatchAttestation,
    store::{Store, StoreError},
};

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

/// A message's quorum certificate: the set members whose evidence (kept in the store, checked
/// when stored and again by [`signers`]) says it is proven; at least `threshold`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The message.
    pub message_id: MessageId,
    /// Distinct signers.
    pub signers: Vec<Address>,
}

/// The claim every router signs for `record`: bound to its source block, which every router sees
/// identically, so the signatures aggregate.
pub fn claim_of(record: &MessageRecord) -> Claim {
    Claim {
        message_id: record.id,
        stage: AttestedStage::Proven,
        domain: record.envelope.src_domain,
        block_number: record.source.block_number,
        block_hash: record.source.block_hash,
    }
}

/// The batch of `ids` (all `Proven`) as `body` describes it: its root is recomputed.
pub fn batch_of(ids: &[MessageId], body: &BatchClaim) -> Result<Batch, String> {
    let items = ids.iter().map(|id| (*id, AttestedStage::Proven)).collect();
    Batch::new(items, body.domain, body.block_number, body.block_hash).map_err(|e| e.to_string())
}

/// Checks `signer`'s stored `evidence` that message `id` is proven. `Ok(Err(why))` when it does
/// not hold; `Err` when the store could not be read.
pub fn check(
    store: &Store,
    members: &Members,
    id: &MessageId,
    signer: &Address,
    evidence: &Evidence,
) -> Result<Result<(), String>, StoreError> {
    let recovered = match evidence {
        Evidence::Single(signed) => {
            if signed.body.message_id != *id || signed.body.stage != AttestedStage::Proven {
                return Ok(Err("the claim is not \"this message is proven\"".into()));
            }
            signed.signer(members.domain()).map_err(|e| e.to_string())
        }
        Evidence::Batch { root, index } => {
            let Some(stored) = store.batch::<BatchAttestation>(root, signer)? else {
                return Ok(Err("the batch it points to is not stored".into()));
            };
            let body = stored.signed.body;
            batch_of(&stored.message_ids, &body)
                .and_then(|batch| {
                    batch
                        .inclusion(*index as usize)
                        .and_then(|inc| inc.verify(&body))
                        .map_err(|e| e.to_string())
                })
                .and_then(|claim| {
                    if claim.message_id == *id {
                        Ok(())
                    } else {
                        Err("the leaf is another message".to_string())
                    }
                })
                .and_then(|()| {
                    stored
                        .signed
                        .signer(members.domain())
                        .map_err(|e| e.to_string())
                })
        }
    };
    Ok(match recovered {
        Ok(r) if r == *signer => Ok(()),
        Ok(r) => Err(format!("signed by {r}, stored as {signer}'s")),
        Err(e) => Err(e),
    })
}

/// The distinct set members of `certificate` whose stored evidence checks out now.
pub fn signers(
    store: &Store,
    members: &Members,
    certificate: &Certificate,
) -> Result<Vec<Address>, StoreError> {
    let id = &certificate.message_id;
    let stored: Vec<(Address, Evidence)> = store.attestations(id)?;
    let mut out = Vec::new();
    for signer in &certificate.signers {
        if out.contains(signer) || !members.contains(signer) {
            continue;
        }
        for (s, e) in &stored {
            if s == signer && check(store, members, id, s, e)?.is_ok() {
                out.push(*signer);
                break;
            }
        }
    }
    Ok(out)
}

/// Forms and stores the certificate of `id` when a quorum's evidence is stored; `true` if this
/// call formed it.
pub fn certify(store: &Store, members: &Members, id: &MessageId) -> Result<bool, StoreError> {
    // Evidence is checked before it is stored, one key per signer: counting keys is enough to
    // know whether a quorum may exist.
    if store.attestation_count(id) < members.threshold()
        || store.certificate::<Certificate>(id)?.is_some()
    {
        return Ok(false);
    }
    let signers: Vec<Address> = store
        .attestation_signers(id)?
        .into_iter()
        .filter(|signer| members.contains(signer))
        .collect();
    if signers.len() < members.threshold() {
        return Ok(false);
    }
    let certificate = Certificate {
        message_id: *id,
        signers,
    };
    let formed = store.put_certificate(id, &certificate)?;
    if formed {
        tracing::debug!(%id, signers = certificate.signers.len(), "quorum certificate formed");
    }
    Ok(formed)
}
