//! What the router set decides about one received gossip message: accept it, reject it with a
//! [`Rejection`] (what the sender did wrong), or ignore it (a duplicate, stale, or not checkable
//! here now). The p2p layer gets the decision as a transport verdict ([`crate::p2p::Verdict`]:
//! forward or not, and a reason label it counts per peer).

use serde::Serialize;

use crate::p2p;

/// The router set's verdict on one received gossip message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: keep it and forward it.
    Accept,
    /// Invalid, for this reason: drop it and penalise the sender.
    Reject(Rejection),
    /// Not useful (a duplicate, stale), or not checkable here now (our own store failed): drop
    /// it, no penalty.
    Ignore,
}

impl From<Verdict> for p2p::Verdict {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Accept => Self::Accept,
            Verdict::Reject(reason) => Self::Reject(reason.label()),
            Verdict::Ignore => Self::Ignore,
        }
    }
}

/// Why gossip was rejected: what the sender did wrong (never a failure of ours). `GET /peers`
/// counts each peer's rejections by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Bytes that do not decode as gossip of the topic (or are over the size bound).
    Malformed,
    /// No gossipsub author.
    Unsigned,
    /// The author is not a router of the configured set.
    Stranger,
    /// A signature that does not recover, or was made for another network or schema.
    BadSignature,
    /// Signed by, or in the name of, another router than the one that published it.
    Impersonation,
    /// Empty, or more items than one message may carry.
    OutOfBounds,
    /// A batch whose ids do not hash to the signed root, or a claim of a stage that is not
    /// gossiped.
    BadClaim,
    /// A checkpoint attestation whose claim (root, count, block hash) is not what the L1 events
    /// of its block give, recomputed here.
    WrongCheckpoint,
}

impl Rejection {
    /// Every reason.
    pub const ALL: [Rejection; 8] = [
        Rejection::Malformed,
        Rejection::Unsigned,
        Rejection::Stranger,
        Rejection::BadSignature,
        Rejection::Impersonation,
        Rejection::OutOfBounds,
        Rejection::BadClaim,
        Rejection::WrongCheckpoint,
    ];

    /// The reason's name as `GET /peers` and the metrics show it (`wrong_checkpoint`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Unsigned => "unsigned",
            Self::Stranger => "stranger",
            Self::BadSignature => "bad_signature",
            Self::Impersonation => "impersonation",
            Self::OutOfBounds => "out_of_bounds",
            Self::BadClaim => "bad_claim",
            Self::WrongCheckpoint => "wrong_checkpoint",
        }
    }
}

/// Why a message was rejected: the reason the p2p layer counts, and the detail for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The reason.
    pub reason: Rejection,
    /// What exactly was wrong.
    pub detail: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.reason, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labels are the reasons' serde names (what `GET /peers` has always shown).
    #[test]
    fn labels_are_the_serde_names() {
        for r in Rejection::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.label());
        }
    }
}
