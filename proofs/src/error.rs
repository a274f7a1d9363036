//! Errors of the proofs crate: each names the input that was wrong and why.

use alloy_primitives::{Address, B256};

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong turning raw inputs into protocol values, or checking a proof or signature.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A 32-byte word does not fit in a Starknet field element.
    #[error(
        "{what}: {value} is not a Starknet field element (must be below the prime 2^251 + 17·2^192 + 1)"
    )]
    NotAFelt {
        /// Which input the word came from.
        what: &'static str,
        /// The word, as 0x-hex.
        value: String,
    },
    /// A payload word does not fit in a Starknet field element.
    #[error(
        "envelope payload word {index}: {value} is not a Starknet field element (must be below 2^251 + 17·2^192 + 1)"
    )]
    PayloadWordNotAFelt {
        /// Index of the word in the payload.
        index: usize,
        /// The word, as 0x-hex.
        value: String,
    },
    /// Input ended early.
    #[error("{what}: truncated: need at least {need} bytes, got {got}")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// Input is structurally wrong.
    #[error("{what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A version this code does not speak.
    #[error("{what}: version {got} is not supported (this build speaks version {want})")]
    UnsupportedVersion {
        /// What carried the version.
        what: &'static str,
        /// The version found.
        got: u16,
        /// The version expected.
        want: u16,
    },
    /// A Merkle proof does not lead to the expected root.
    #[error("{what}: proof leads to root {computed}, expected {expected}")]
    RootMismatch {
        /// Which proof.
        what: &'static str,
        /// The root the proof computes.
        computed: B256,
        /// The root it had to match.
        expected: B256,
    },
    /// An index outside the tree.
    #[error("{what}: index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange {
        /// Which tree.
        what: &'static str,
        /// The index asked for.
        index: u64,
        /// The number of leaves.
        size: u64,
    },
    /// An Ethereum Merkle-Patricia proof failed.
    #[error("{what}: proof does not verify against root {root}: {reason}")]
    TrieProof {
        /// Account or storage proof.
        what: &'static str,
        /// The root it was checked against.
        root: B256,
        /// What the verifier said.
        reason: String,
    },
    /// An `eth_getProof` answer that is not about what was asked.
    #[error("storage proof: {0}")]
    ProofMismatch(String),
    /// A signature that does not parse or recover.
    #[error("signature {index}: {reason}")]
    BadSignature {
        /// Position of the signature in its list (0 for a single one).
        index: usize,
        /// Why it was rejected.
        reason: String,
    },
    /// A signature by an address outside the router set.
    #[error("signature {index}: signer {signer} is not in the router set")]
    UnknownSigner {
        /// Position of the signature.
        index: usize,
        /// Who signed.
        signer: Address,
    },
    /// Two signatures by one router.
    #[error("signature {index}: signer {signer} already signed this certificate")]
    DuplicateSigner {
        /// Position of the second signature.
        index: usize,
        /// Who signed twice.
        signer: Address,
    },
    /// Fewer distinct valid signers than the threshold.
    #[error("quorum not reached: {have} distinct signers, threshold {need}")]
    BelowThreshold {
        /// Distinct valid signers.
        have: usize,
        /// The threshold.
        need: usize,
    },
    /// A signature made for another EIP-712 domain (other chain, contract or name).
    #[error("signed for domain separator {got}, expected {expected}")]
    WrongDomainSeparator {
        /// The separator the signer claims.
        got: B256,
        /// The separator of this router network.
        expected: B256,
    },
    /// A router set that cannot reach a quorum.
    #[error("router set: {0}")]
    InvalidRouterSet(String),
}
