#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The router's command line without chains: clear errors for a bad config, an unreachable
//! router and bad arguments, each with its exit code.

use std::process::Command;

fn xroute(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xroute"))
        .args(args)
        .env_remove("XROUTE_API")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const ID: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

#[test]
fn client_commands_say_when_no_router_answers() {
    let port = xroute_tests::process::free_port().unwrap();
    let api = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["status", ID],
        vec!["messages"],
        vec!["retry", ID],
        vec!["drop", ID, "--reason", "x"],
    ] {
        let mut full = args.clone();
        full.extend(["--api", &api]);
        let (code, _, err) = xroute(&full);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("no xroute router answering at {api}")),
            "{err}"
        );
    }
}

#[test]
fn bad_arguments_and_configs_are_named() {
    let (code, _, err) = xroute(&["run", "--config", "/nonexistent/router.toml"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent/router.toml"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("router.toml");
    std::fs::write(&path, "[node]\nstore = \"s\"\nbogus = 1\n").unwrap();
    let (code, _, err) = xroute(&["run", "--config", path.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("bogus"), "{err}");

    let (code, _, err) = xroute(&["drop", ID, "--reason", "  "]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--reason"), "{err}");
    let (code, _, err) = xroute(&["messages", "--limit", "0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--limit"), "{err}");
    let (code, _, err) = xroute(&["retry", "nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is not a message id"), "{err}");

    // An API moved beyond loopback on the command line, without a token for its write routes.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/local.toml");
    let (code, _, err) = xroute(&["run", "--config", example, "--api", "0.0.0.0:7301"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--api 0.0.0.0:7301") && err.contains("node.api_token_file"),
        "{err}"
    );
}
