//! The test kit's own tests and the contract-level integration tests on real anvil and devnet
//! nodes.
//!
//! One binary: the tests of every file share the test threads, instead of one file after
//! another (each file's heavy tests used to leave a thread idle at its end).

mod artifacts;
mod attestation_ecrecover;
mod cross_language;
mod demo_cli;
mod hub_attacks;
mod hub_contracts;
mod hub_metering;
mod kit;
mod ledger_attacks;
mod ledger_calls;
mod roundtrip;
mod storage_proof;
mod tank_settlement;
mod token_erc20;
mod uniswap;
