#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The headless demo (`xroute-demo --json`, what `scripts/demo --json` runs), with this crate's
//! `xroute` binary as its router: real nodes, a router child process, a JSON summary.

use std::time::Duration;

use xroute_tests::demo::{DemoOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_demo_delivers_every_message_and_summarizes_per_route() {
    let dir = tempfile::tempdir().unwrap();
    let (delivered, summary) = run(DemoOptions {
        messages: 7,
        json: true,
        timeout: Duration::from_secs(300),
        dir: Some(dir.path().to_path_buf()),
        xroute: env!("CARGO_BIN_EXE_xroute").into(),
    })
    .await
    .unwrap();
    assert!(delivered, "{summary}");
    assert_eq!(summary["sent"], 7, "{summary}");
    assert_eq!(summary["delivered"], 7, "{summary}");
    assert_eq!(summary["parked"], 0);
    let routes = summary["routes"].as_object().unwrap();
    assert_eq!(routes["starknet → ethereum"]["delivered"], 3);
    assert_eq!(routes["ethereum → starknet"]["delivered"], 2);
    assert_eq!(routes["starknet → appchain1"]["delivered"], 2);
    // The router it ran kept its store and config where asked.
    assert!(dir.path().join("router.toml").is_file());
    assert!(dir.path().join("store").is_dir());
}
