//! xroute-proofs: the pure domain code every router relies on to decide that a message is real.
//!
//! What lives here: message hashes of each rollup's native messaging (Starknet today; Arbitrum,
//! Piltover, the xroute envelope, storage proofs and attestations as they land). What does not:
//! I/O of any kind, async runtimes, RPC clients. Everything is a deterministic function of its
//! inputs, so it can be tested against public vectors and property tests and reused by the node,
//! the adapters, the CLI and the test kit alike.

pub mod error;
pub mod starknet;

pub use error::{Error, Result};
