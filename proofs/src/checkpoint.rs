//! Checkpoints (issue 16): what one finalized L1 block made consumable from one source domain,
//! computed from L1 alone, so that every honest router computes the same list and signs the same
//! root.
//!
//! A [`Checkpoint`] is (source domain, L1 block number and hash, the ordered message ids). Its
//! root is the [`merkle`] root of `keccak256(0x01 ‖ id)` leaves (33 bytes: never a batch leaf,
//! which is 34, nor a 64-byte node). A router signs the [`CheckpointClaim`] as EIP-712
//! `CheckpointAttestation`. A message is then covered by the checkpoint's certificate plus its
//! [`CheckpointInclusion`].
//!
//! The builders read decoded L1 logs, in the block's log order:
//! - [`starknet_checkpoint`]: the core contract's `LogMessageToL1` events of the block whose
//!   sender is the domain's endpoint and whose recipient is the Hub (one per message a state update
//!   makes consumable);
//! - [`hub_checkpoint`]: the Hub's own `MessageSent` events of the block, for messages that leave
//!   L1.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, sol};
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    envelope::{Envelope, MessageId},
    merkle,
};

sol! {
    /// EIP-712 type of a checkpoint attestation.
    #[derive(Debug, PartialEq, Eq)]
    struct CheckpointAttestation {
        bytes32 root;
        uint32 count;
        uint32 domain;
        uint64 l1Block;
        bytes32 l1BlockHash;
    }
}

/// One leaf of a checkpoint: `keccak256(0x01 ‖ messageId)`.
pub fn checkpoint_leaf(id: MessageId) -> B256 {
    let mut buf = [0u8; 33];
    buf[0] = 1;
    buf[1..].copy_from_slice(id.0.as_slice());
    keccak256(buf)
}

/// What a checkpoint attestation signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointClaim {
    /// Merkle root of the leaves ([`checkpoint_leaf`]).
    pub root: B256,
    /// Number of messages.
    pub count: u32,
    /// The source domain.
    pub domain: u32,
    /// The finalized L1 block that made them consumable.
    pub l1_block: u64,
    /// Its hash.
    pub l1_block_hash: B256,
}

impl CheckpointClaim {
    /// The EIP-712 digest a router signs for this checkpoint.
    pub fn signing_hash(&self, domain: &Eip712Domain) -> B256 {
        CheckpointAttestation {
            root: self.root,
            count: self.count,
            domain: self.domain,
            l1Block: self.l1_block,
            l1BlockHash: self.l1_block_hash,
        }
        .eip712_signing_hash(domain)
    }
}

/// The messages one L1 block made consumable from one domain, with the tree over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The signed part.
    pub claim: CheckpointClaim,
    /// The messages, in L1 log order.
    pub ids: Vec<MessageId>,
    leaves: Vec<B256>,
}

/// The proof that a message is in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInclusion {
    /// The message.
    pub message_id: MessageId,
    /// Its leaf index.
    pub index: u32,
    /// Sibling hashes.
    pub proof: Vec<B256>,
}

impl Checkpoint {
    /// The checkpoint of `ids` (in L1 log order) from `domain` at an L1 block.
    pub fn new(
        domain: u32,
        l1_block: u64,
        l1_block_hash: B256,
        ids: Vec<MessageId>,
    ) -> Result<Self> {
        let count = u32::try_from(ids.len()).map_err(|_| Error::Malformed {
            what: "checkpoint",
            reason: format!("{} messages is too many", ids.len()),
        })?;
        if count == 0 {
            return Err(Error::Malformed {
                what: "checkpoint",
                reason: "a checkpoint needs at least one message".into(),
            });
        }
        let leaves: Vec<B256> = ids.iter().map(|id| checkpoint_leaf(*id)).collect();
        Ok(Self {
            claim: CheckpointClaim {
                root: merkle::root(&leaves),
                count,
                domain,
                l1_block,
                l1_block_hash,
            },
            ids,
            leaves,
        })
    }

    /// The inclusion proof of message `index`.
    pub fn inclusion(&self, index: usize) -> Result<CheckpointInclusion> {
        let message_id = *self.ids.get(index).ok_or(Error::IndexOutOfRange {
            what: "checkpoint",
            index: index as u64,
            size: self.ids.len() as u64,
        })?;
        Ok(CheckpointInclusion {
            message_id,
            index: index as u32,
            proof: merkle::proof(&self.leaves, index as u64)?,
        })
    }
}

impl CheckpointInclusion {
    /// Checks this inclusion against a checkpoint claim.
    pub fn verify(&self, claim: &CheckpointClaim) -> Result<()> {
        if self.index >= claim.count {
            return Err(Error::IndexOutOfRange {
                what: "checkpoint",
                index: self.index.into(),
                size: claim.count.into(),
            });
        }
        let depth = merkle::depth(claim.count.into());
        if self.proof.len() != depth {
            return Err(Error::Malformed {
                what: "checkpoint inclusion",
                reason: format!(
                    "proof has {} levels, a checkpoint of {} has {depth}",
                    self.proof.len(),
                    claim.count
                ),
            });
        }
        merkle::verify(
            "checkpoint inclusion",
            checkpoint_leaf(self.message_id),
            self.index.into(),
            &self.proof,
            claim.root,
        )
    }
}

/// A Starknet core contract's `LogMessageToL1(fromAddress, toAddress, payload)`, decoded, with its
/// place in the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageToL1Log {
    /// The log's index in its block.
    pub log_index: u64,
    /// The L2 sender (a felt).
    pub from_address: U256,
    /// The L1 recipient.
    pub to_address: Address,
    /// The payload: for the xroute endpoint, the envelope's words.
    pub payload: Vec<U256>,
}

/// The Hub's `MessageSent(id, …)` with its place in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubSentLog {
    /// The log's index in its block.
    pub log_index: u64,
    /// The message id the Hub emitted.
    pub id: MessageId,
}

/// The checkpoint of Starknet-family `domain` at an L1 block, from that block's
/// `LogMessageToL1` logs of its core contract: those sent by `endpoint` to `hub`, in log order.
/// A payload that is not an envelope of `domain` is left out (the endpoint never sends one, and
/// every router leaves out the same). `None` when the block made no message consumable.
pub fn starknet_checkpoint(
    domain: u32,
    l1_block: u64,
    l1_block_hash: B256,
    hub: Address,
    endpoint: U256,
    logs: &[MessageToL1Log],
) -> Result<Option<Checkpoint>> {
    let mut logs: Vec<&MessageToL1Log> = logs
        .iter()
        .filter(|l| l.to_address == hub && l.from_address == endpoint)
        .collect();
    logs.sort_by_key(|l| l.log_index);
    let ids: Vec<MessageId> = logs
        .iter()
        .filter_map(|l| {
            let words: Vec<B256> = l.payload.iter().map(|w| B256::from(*w)).collect();
            Envelope::from_words(&words)
                .ok()
                .filter(|e| e.src_domain == domain)
                .map(|e| e.id())
        })
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    Checkpoint::new(domain, l1_block, l1_block_hash, ids).map(Some)
}

/// The checkpoint of the Hub's own sends (`domain` is the hub's) at an L1 block, in log order.
pub fn hub_checkpoint(
    domain: u32,
    l1_block: u64,
    l1_block_hash: B256,
    logs: &[HubSentLog],
) -> Result<Option<Checkpoint>> {
    let mut logs = logs.to_vec();
    logs.sort_by_key(|l| l.log_index);
    let ids: Vec<MessageId> = logs.iter().map(|l| l.id).collect();
    if ids.is_empty() {
        return Ok(None);
    }
    Checkpoint::new(domain, l1_block, l1_block_hash, ids).map(Some)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    const HUB: Address = Address::repeat_byte(0x11);
    const ENDPOINT: u64 = 0xe0d;

    fn envelope(domain: u32, nonce: u64) -> Envelope {
        Envelope {
            src_domain: domain,
            dst_domain: 1,
            nonce,
            sender: B256::repeat_byte(7),
            recipient: B256::repeat_byte(9),
            payload: vec![B256::from(U256::from(nonce * 3))],
        }
    }

    fn log(index: u64, e: &Envelope) -> MessageToL1Log {
        MessageToL1Log {
            log_index: index,
            from_address: U256::from(ENDPOINT),
            to_address: HUB,
            payload: e
                .to_words()
                .into_iter()
                .map(|w| U256::from_be_bytes(w.0))
                .collect(),
        }
    }

    fn build(logs: &[MessageToL1Log]) -> Option<Checkpoint> {
        starknet_checkpoint(
            2,
            100,
            B256::repeat_byte(1),
            HUB,
            U256::from(ENDPOINT),
            logs,
        )
        .unwrap()
    }

    #[test]
    fn only_the_endpoints_messages_to_the_hub_count_in_log_order() {
        let a = envelope(2, 0);
        let b = envelope(2, 1);
        let mut other_sender = log(1, &b);
        other_sender.from_address = U256::from(0xbad);
        let mut other_recipient = log(2, &b);
        other_recipient.to_address = Address::repeat_byte(0x22);
        let mut not_an_envelope = log(3, &b);
        not_an_envelope.payload.truncate(2);
        let other_domain = log(4, &envelope(3, 0));
        let logs = [
            log(7, &b),
            other_sender,
            other_recipient,
            not_an_envelope,
            other_domain,
            log(5, &a),
        ];
        let cp = build(&logs).unwrap();
        assert_eq!(cp.ids, vec![a.id(), b.id()]);
        assert_eq!(cp.claim.count, 2);
        assert_eq!((cp.claim.domain, cp.claim.l1_block), (2, 100));
        assert!(build(&logs[1..5]).is_none());
    }

    #[test]
    fn every_inclusion_verifies_and_a_wrong_one_does_not() {
        let envelopes: Vec<Envelope> = (0..5).map(|n| envelope(2, n)).collect();
        let logs: Vec<_> = envelopes
            .iter()
            .enumerate()
            .map(|(i, e)| log(i as u64, e))
            .collect();
        let cp = build(&logs).unwrap();
        for i in 0..5 {
            cp.inclusion(i).unwrap().verify(&cp.claim).unwrap();
        }
        let mut wrong = cp.inclusion(1).unwrap();
        wrong.message_id = envelope(2, 9).id();
        assert!(wrong.verify(&cp.claim).is_err());
        let mut short = cp.inclusion(1).unwrap();
        short.proof.pop();
        assert!(short.verify(&cp.claim).is_err());
        assert!(cp.inclusion(5).is_err());
    }

    #[test]
    fn the_signed_digest_covers_every_field() {
        let cp = hub_checkpoint(
            1,
            7,
            B256::ZERO,
            &[HubSentLog {
                log_index: 0,
                id: envelope(1, 0).id(),
            }],
        )
        .unwrap()
        .unwrap();
        let d = crate::attestation::domain(31337, HUB);
        let base = cp.claim.signing_hash(&d);
        let mut c = cp.claim;
        c.l1_block += 1;
        assert_ne!(c.signing_hash(&d), base);
        let mut c = cp.claim;
        c.domain += 1;
        assert_ne!(c.signing_hash(&d), base);
        let mut c = cp.claim;
        c.count += 1;
        assert_ne!(c.signing_hash(&d), base);
        // Not a batch attestation's digest over the same fields.
        let batch = crate::attestation::BatchClaim {
            root: cp.claim.root,
            count: cp.claim.count,
            domain: cp.claim.domain,
            block_number: cp.claim.l1_block,
            block_hash: cp.claim.l1_block_hash,
        };
        assert_ne!(batch.signing_hash(&d), base);
    }

    proptest! {
        /// Routers that saw the same logs (in any order of arrival) sign the same root; a log
        /// missing or one extra gives another root.
        #[test]
        fn same_logs_same_root_and_any_difference_changes_it(
            nonces in proptest::collection::btree_set(0u64..1_000, 1..40),
            shuffle in any::<u64>(),
            drop_at in any::<usize>(),
            extra in 1_000u64..2_000,
        ) {
            let logs: Vec<_> = nonces.iter().enumerate().map(|(i, n)| log(i as u64 * 2, &envelope(2, *n))).collect();
            let mut shuffled = logs.clone();
            let len = shuffled.len();
            shuffled.rotate_left((shuffle as usize) % len);
            if shuffle % 2 == 1 { shuffled.reverse(); }
            let a = build(&logs).unwrap();
            let b = build(&shuffled).unwrap();
            prop_assert_eq!(a.claim, b.claim);
            prop_assert_eq!(&a.ids, &b.ids);

            let mut missing = logs.clone();
            missing.remove(drop_at % len);
            if let Some(m) = build(&missing) {
                prop_assert_ne!(m.claim.root, a.claim.root);
            }
            let mut more = logs.clone();
            more.push(log(1, &envelope(2, extra)));
            prop_assert_ne!(build(&more).unwrap().claim.root, a.claim.root);
        }
    }
}
