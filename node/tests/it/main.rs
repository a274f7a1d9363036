//! The router's integration tests: its command line, end-to-end runs on real local chains (one
//! router, a network of routers, the demo), crash and restart, resilience, attestation catch-up.
//!
//! One binary: the tests of every file share the test threads, instead of one file after
//! another (each file's heavy tests used to leave a thread idle at its end).

mod accounts;
mod batch;
mod cli_check;
mod cli_keys;
mod cli_proofs;
mod cli_relay;
mod cli_router;
mod demo;
mod deploy;
mod e2e_arbitrum;
mod e2e_network;
mod e2e_relay;
mod explorer;
mod failpoints;
mod faults;
mod handler_fails;
mod network_catch_up;
mod payments;
mod pool;
mod public_chains;
mod reorg;
mod resilience;
mod resume;
mod store_backup;
mod store_migration;
mod token;

/// Runs the `xroute` binary with `args`, its keystores unlocked by `XROUTE_KEYSTORE_PASSWORD` =
/// `passphrase`: (exit code, stdout, stderr).
#[allow(clippy::panic)]
pub(crate) async fn run_xroute(args: Vec<String>, passphrase: &str) -> (i32, String, String) {
    let passphrase = passphrase.to_string();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_xroute"))
            .args(&args)
            .env("XROUTE_KEYSTORE_PASSWORD", passphrase)
            .output()
            .unwrap_or_else(|e| panic!("running xroute: {e}"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap_or_else(|e| panic!("xroute's task: {e}"))
}
