//! What routers gossip, and its one encoding (JSON, versioned by topic). Decoding untrusted bytes
//! is bounded by [`MAX_GOSSIP_BYTES`] and never panics. The p2p layer carries these as bytes on
//! their topics; the router set encodes and decodes them here.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use xroute_proofs::{
    attestation::{BatchClaim, Claim, Signed},
    checkpoint::CheckpointClaim,
    envelope::MessageId,
};

/// Versioned topic names (one place; a new layout gets a new version).
pub mod topics {
    /// Signed attestations and batch attestations, and requests for them.
    pub const ATTESTATIONS: &str = "/xroute/1/attestations";
    /// Relay claims: "I am relaying this hop".
    pub const CLAIMS: &str = "/xroute/1/claims";
    /// Heads per chain.
    pub const HEARTBEATS: &str = "/xroute/1/heartbeats";
    /// All of them.
    pub const ALL: [&str; 3] = [ATTESTATIONS, CLAIMS, HEARTBEATS];
}

/// Largest gossip message accepted or sent (bytes). A batch attestation of 1,000 ids is ~80 KiB.
pub const MAX_GOSSIP_BYTES: usize = 256 * 1024;

/// One router's signed statement that one message is proven.
pub type Attestation = Signed<Claim>;

/// Most attestations in one [`Gossip::Attestations`] message (~120 KiB of JSON, under
/// [`MAX_GOSSIP_BYTES`]). Each keeps its own signature; they travel together because a burst of
/// one gossip message per attestation costs every router a gossipsub signature check, an id and
/// a queue slot for each copy the mesh delivers, and overflows the queues.
pub const MAX_BUNDLE: usize = 256;

/// Many messages proven on one domain at one block, under one signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAttestation {
    /// The signed batch claim (Merkle root of the leaves).
    pub signed: Signed<BatchClaim>,
    /// The leaves' message ids, in leaf order (stage: Proven); the root is recomputed from them.
    pub message_ids: Vec<MessageId>,
}

/// "I have no certificate of these messages yet: send me the attestations I lack." Answered by
/// each router whose own attestation the asker lacks, at most once per id per re-gossip period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Want {
    /// The asking router's attestation address.
    pub router: Address,
    /// What it misses (at most `network::MAX_BATCH`).
    pub wanted: Vec<Wanted>,
    /// When (ms since the epoch).
    pub at_ms: u64,
}

/// One message of a [`Want`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wanted {
    /// The message.
    pub id: MessageId,
    /// Bit i set: the asker holds the attestation of the i-th router of the set, routers ordered
    /// by attestation address (a set has at most 64 routers).
    pub have: u64,
}

/// One router's signed statement of what one finalized L1 block made consumable from one source
/// domain (issue 16). The ids are not sent: every receiver computes them from L1.
pub type CheckpointAttestation = Signed<CheckpointClaim>;

/// "I have no certificate of these checkpoints yet": answered like a [`Want`], by each router
/// whose checkpoint attestation the asker lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointWant {
    /// The asking router's attestation address.
    pub router: Address,
    /// What it misses (at most `network::MAX_BATCH`).
    pub wanted: Vec<WantedCheckpoint>,
    /// When (ms since the epoch).
    pub at_ms: u64,
}

/// One checkpoint of a [`CheckpointWant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedCheckpoint {
    /// The source domain.
    pub domain: u32,
    /// The L1 block.
    pub l1_block: u64,
    /// The signers the asker holds, as in [`Wanted::have`].
    pub have: u64,
}

/// "I am relaying this hop now."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayClaim {
    /// The message.
    pub message_id: MessageId,
    /// The hop.
    pub hop: u8,
    /// The claiming router's attestation address.
    pub router: Address,
    /// When (ms since the epoch).
    pub at_ms: u64,
}

/// One chain's heads as a router sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainView {
    /// Chain name.
    pub chain: String,
    /// Latest block number.
    pub head: u64,
    /// Finalized block number.
    pub finalized: u64,
    /// Finalized block hash.
    #[schema(value_type = String)]
    pub finalized_hash: B256,
}

/// A router's periodic "alive, and this is what I see".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The router's attestation address.
    pub router: Address,
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Its view per chain.
    pub chains: Vec<ChainView>,
}

/// Everything that travels on the topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Gossip {
    /// On [`topics::ATTESTATIONS`]: one router's own attestations, 1 to [`MAX_BUNDLE`].
    Attestations {
        /// Each with its own signature, all by the publishing router.
        attestations: Vec<Attestation>,
    },
    /// On [`topics::ATTESTATIONS`].
    BatchAttestation(BatchAttestation),
    /// On [`topics::ATTESTATIONS`].
    Want(Want),
    /// On [`topics::ATTESTATIONS`]: one router's own checkpoint attestations, 1 to
    /// [`MAX_BUNDLE`].
    Checkpoints {
        /// Each with its own signature, all by the publishing router.
        attestations: Vec<CheckpointAttestation>,
    },
    /// On [`topics::ATTESTATIONS`].
    CheckpointWant(CheckpointWant),
    /// On [`topics::CLAIMS`].
    Claim(RelayClaim),
    /// On [`topics::HEARTBEATS`].
    Heartbeat(Heartbeat),
}

/// Why gossip bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Too large.
    #[error("{size} bytes is over the {MAX_GOSSIP_BYTES}-byte bound")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Not a gossip message.
    #[error("not an xroute gossip message: {0}")]
    Malformed(String),
    /// A message on the wrong topic.
    #[error("a {kind} does not belong on {topic}")]
    WrongTopic {
        /// The message kind.
        kind: &'static str,
        /// The topic.
        topic: String,
    },
}

/// The gossipsub frame bound routers use: the largest valid gossip message plus gossipsub's
/// envelope.
pub fn max_frame() -> usize {
    MAX_GOSSIP_BYTES + 4096
}

/// What a router's p2p node carries: the gossip topics and the frame bound.
pub fn p2p_settings(
    listen: libp2p::Multiaddr,
    bootnodes: Vec<libp2p::Multiaddr>,
    max_connections: u32,
    heartbeat: std::time::Duration,
) -> crate::p2p::P2pSettings {
    crate::p2p::P2pSettings {
        listen,
        bootnodes,
        max_connections,
        heartbeat,
        max_frame: max_frame(),
        topics: topics::ALL.to_vec(),
    }
}

/// A received gossip message, decoded, waiting for its verdict.
#[derive(Debug)]
pub struct Inbound {
    /// The peer that forwarded it to us.
    pub from: libp2p::PeerId,
    /// The peer that signed it (gossipsub's author).
    pub author: Option<libp2p::PeerId>,
    /// Its content-addressed id (for the verdict).
    pub id: libp2p::gossipsub::MessageId,
    /// The decoded message.
    pub gossip: Gossip,
}

impl Inbound {
    /// Decodes what the p2p layer received.
    pub fn decode(received: &crate::p2p::Received) -> Result<Self, WireError> {
        Ok(Self {
            from: received.from,
            author: received.author,
            id: received.id.clone(),
            gossip: Gossip::decode(&received.topic, &received.data)?,
        })
    }
}

impl Gossip {
    /// Publishes this message through the p2p layer; `false` when it was dropped there.
    pub fn publish(self, p2p: &crate::p2p::P2pHandle) -> bool {
        p2p.publish(self.topic(), self.encode())
    }

    /// The topic this message travels on.
    pub fn topic(&self) -> &'static str {
        match self {
            Self::Attestations { .. }
            | Self::BatchAttestation(_)
            | Self::Want(_)
            | Self::Checkpoints { .. }
            | Self::CheckpointWant(_) => topics::ATTESTATIONS,
            Self::Claim(_) => topics::CLAIMS,
            Self::Heartbeat(_) => topics::HEARTBEATS,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Attestations { .. } => "attestations",
            Self::BatchAttestation(_) => "batch attestation",
            Self::Want(_) => "attestation request",
            Self::Checkpoints { .. } => "checkpoint attestations",
            Self::CheckpointWant(_) => "checkpoint request",
            Self::Claim(_) => "relay claim",
            Self::Heartbeat(_) => "heartbeat",
        }
    }

    /// Encodes for the wire.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|e| {
            // Only a type that JSON cannot express gets here (a bug, caught by the tests).
            tracing::error!(kind = self.kind(), error = %e, "cannot encode gossip");
            Vec::new()
        })
    }

    /// Decodes bytes received on `topic`.
    pub fn decode(topic: &str, bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > MAX_GOSSIP_BYTES {
            return Err(WireError::TooLarge { size: bytes.len() });
        }
        let gossip: Self =
            serde_json::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
        if gossip.topic() != topic {
            return Err(WireError::WrongTopic {
                kind: gossip.kind(),
                topic: topic.to_string(),
            });
        }
        Ok(gossip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bytes_are_typed_errors_never_panics() {
        assert!(matches!(
            Gossip::decode(topics::CLAIMS, b"\xff\x00garbage"),
            Err(WireError::Malformed(_))
        ));
        let big = vec![b' '; MAX_GOSSIP_BYTES + 1];
        assert!(matches!(
            Gossip::decode(topics::CLAIMS, &big),
            Err(WireError::TooLarge { .. })
        ));
        let claim = Gossip::Claim(RelayClaim {
            message_id: MessageId(B256::repeat_byte(1)),
            hop: 0,
            router: Address::repeat_byte(2),
            at_ms: 3,
        });
        let bytes = claim.encode();
        assert_eq!(Gossip::decode(topics::CLAIMS, &bytes).unwrap(), claim);
        assert!(matches!(
            Gossip::decode(topics::HEARTBEATS, &bytes),
            Err(WireError::WrongTopic { .. })
        ));
    }

    #[test]
    fn a_full_bundle_of_attestations_fits_one_message() {
        let key = alloy::signers::local::PrivateKeySigner::random();
        let domain = xroute_proofs::attestation::domain(u64::MAX, Address::repeat_byte(0xff));
        let bundle: Vec<Attestation> = (0..MAX_BUNDLE)
            .map(|i| {
                let claim = Claim {
                    message_id: MessageId(B256::repeat_byte(0xee)),
                    stage: xroute_proofs::attestation::AttestedStage::Proven,
                    domain: u32::MAX,
                    block_number: u64::MAX - i as u64,
                    block_hash: B256::repeat_byte(0xdd),
                };
                Signed::sign(&key, &domain, claim).unwrap()
            })
            .collect();
        let gossip = Gossip::Attestations {
            attestations: bundle,
        };
        let bytes = gossip.encode();
        assert!(
            bytes.len() <= MAX_GOSSIP_BYTES,
            "{} attestations are {} bytes",
            MAX_BUNDLE,
            bytes.len()
        );
        assert_eq!(
            Gossip::decode(topics::ATTESTATIONS, &bytes).unwrap(),
            gossip
        );
    }
}
