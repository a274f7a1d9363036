#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `xroute demo --json`, as a user runs it: real nodes, a router child process, a JSON summary.

use std::process::Command;

#[test]
fn the_headless_demo_delivers_every_message_and_summarizes_per_route() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xroute"))
        .args([
            "demo",
            "--messages",
            "7",
            "--json",
            "--timeout-secs",
            "300",
            "--dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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

#[test]
fn bad_demo_arguments_name_the_argument() {
    let out = Command::new(env!("CARGO_BIN_EXE_xroute"))
        .args(["demo", "--messages", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--messages"));
}
