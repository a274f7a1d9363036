#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `xroute-demo`'s bad arguments: one line naming the argument, exit code 2, before any node
//! starts.

use std::process::Command;

#[test]
fn bad_demo_arguments_name_the_argument() {
    let out = Command::new(env!("CARGO_BIN_EXE_xroute-demo"))
        .args(["--messages", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--messages"));

    let out = Command::new(env!("CARGO_BIN_EXE_xroute-demo"))
        .args(["--xroute", "/nonexistent/xroute"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--xroute") && err.contains("/nonexistent/xroute"),
        "{err}"
    );
}
