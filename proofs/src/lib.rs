//! xroute-proofs: the pure domain code every router relies on to decide that a message is real.
//!
//! What lives here: the xroute [`envelope`] and its id; each rollup's native messaging hashes
//! ([`starknet`], [`arbitrum`], [`piltover`]); Ethereum storage proofs ([`storage`]); router
//! [`attestation`]s, quorum certificates and batch attestations; L1 [`checkpoint`]s; the Merkle
//! tree they share ([`merkle`]). What does not: I/O of any kind, async runtimes, RPC clients. Everything is a
//! deterministic function of its inputs, so it can be tested against public vectors and property
//! tests and reused by the node, the adapters, the CLI and the test kit alike.

pub mod accounts;
pub mod arbitrum;
pub mod attestation;
pub mod checkpoint;
pub mod envelope;
pub mod error;
pub mod merkle;
pub mod metering;
pub mod piltover;
pub mod starknet;
pub mod storage;

pub use error::{Error, Result};

/// The public protocol vectors (`$XROUTE_VECTORS`, else `../shared/vectors/public.json`).
#[cfg(test)]
pub(crate) fn test_vectors() -> serde_json::Value {
    let path = std::env::var("XROUTE_VECTORS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/vectors/public.json"
        )
        .to_string()
    });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading test vectors {path}: {e} (set XROUTE_VECTORS)"));
    serde_json::from_str(&text).unwrap()
}
