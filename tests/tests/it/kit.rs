//! The kit's process handling: children die with their handle, logs are kept in files.

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use xroute_tests::process::ManagedProcess;

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; its state is Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.split_whitespace().nth(2).is_none_or(|s| s != "Z"))
        .unwrap_or(false)
}

#[test]
fn a_dropped_process_is_killed_and_its_log_removed() {
    let mut process = ManagedProcess::spawn(
        "sleeper",
        std::path::Path::new("/bin/sh"),
        &[
            "-c".to_string(),
            "echo hello from the child; exec sleep 600".to_string(),
        ],
    )
    .unwrap();
    let pid = process.pid();
    let log = process.log_path().to_path_buf();
    std::thread::sleep(Duration::from_millis(300));
    process.check_running().unwrap();
    assert!(alive(pid));
    assert!(process.log_tail().contains("hello from the child"));
    drop(process);
    assert!(!alive(pid), "child {pid} survived its handle");
    // Unless the run asked to keep every log.
    let keep = std::env::var_os("XROUTE_KEEP_LOGS").is_some_and(|v| !v.is_empty());
    assert_eq!(
        log.exists(),
        keep,
        "log of a passing test is cleaned up (kept: {keep})"
    );
    if keep {
        std::fs::remove_file(&log).unwrap();
    }
}

#[test]
fn an_exited_process_is_reported_with_its_log() {
    let mut process = ManagedProcess::spawn(
        "failing",
        std::path::Path::new("/bin/sh"),
        &[
            "-c".to_string(),
            "echo cannot bind port >&2; exit 3".to_string(),
        ],
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let error = process.check_running().unwrap_err().to_string();
    assert!(error.contains("failing exited early"), "{error}");
    assert!(error.contains("cannot bind port"), "{error}");
}
