//! xroute-adapters: the chain side of a router.
//!
//! One `ChainAdapter` trait and one implementation per chain family (EVM on alloy, Starknet on
//! the starknet-rs family) will live here: indexing from a persisted cursor, proof fetching, fee
//! quotes, transaction submission. This crate is a placeholder until the first relay issue builds
//! it; nothing in it is used yet.
