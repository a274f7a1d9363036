//! The router's integration tests: its command line, end-to-end runs on real local chains (one
//! router, a network of routers, the demo), crash and restart, resilience, attestation catch-up.
//!
//! One binary: the tests of every file share the test threads, instead of one file after
//! another (each file's heavy tests used to leave a thread idle at its end).

mod batch;
mod cli_check;
mod cli_keys;
mod cli_proofs;
mod cli_relay;
mod cli_router;
mod demo;
mod e2e_arbitrum;
mod e2e_network;
mod e2e_relay;
mod explorer;
mod network_catch_up;
mod payments;
mod pool;
mod resilience;
mod resume;
mod store_backup;
mod store_migration;
mod token;
