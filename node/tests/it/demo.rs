#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The headless demo (`xroute-demo --json`, what `scripts/demo --json` runs), with this crate's
//! `xroute` binary as its router: real nodes, a router child process, a JSON summary.

use std::time::Duration;

use xroute_tests::demo::{DemoOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_demo_delivers_every_message_and_summarizes_per_route() {
    let dir = tempfile::tempdir().unwrap();
    let (delivered, summary) = run(DemoOptions {
        messages: 10,
        json: true,
        timeout: Duration::from_secs(300),
        dir: Some(dir.path().to_path_buf()),
        xroute: env!("CARGO_BIN_EXE_xroute").into(),
    })
    .await
    .unwrap();
    assert!(delivered, "{summary}");
    assert_eq!(summary["sent"], 10, "{summary}");
    assert_eq!(summary["delivered"], 10, "{summary}");
    assert_eq!(summary["parked"], 0);
    let routes = summary["routes"].as_object().unwrap();
    // Every route, the first two twice (10 messages round-robin over 8 routes), each with the
    // L1 gas of its relay measured from the receipt.
    assert_eq!(routes.len(), xroute_tests::demo::ROUTES.len(), "{summary}");
    for (i, route) in xroute_tests::demo::ROUTES.iter().enumerate() {
        let want = if i < 2 { 2 } else { 1 };
        assert_eq!(routes[*route]["delivered"], want, "{route}: {summary}");
        assert_eq!(
            routes[*route]["relay_transactions"], want,
            "{route}: {summary}"
        );
        assert!(
            routes[*route]["relay_gas_mean"].as_u64().unwrap() > 21_000,
            "{route}"
        );
    }
    // The canonical token went around every chain, and every chain's totalSupply is its ledger
    // entry.
    let token = &summary["token"];
    assert_eq!(token["adds_up"], true, "{summary}");
    assert_eq!(token["hops"].as_array().unwrap().len(), 4, "{summary}");
    assert_eq!(token["chains"].as_array().unwrap().len(), 4, "{summary}");
    // One epoch of the pool: every user's claim is its deposit × S_D / D (the demo reads S_D and
    // D from the pool and checks the manager holds S_D on L1).
    let pool = &summary["pool"];
    assert_eq!(pool["claims_match"], true, "{summary}");
    assert_eq!(pool["claims"].as_array().unwrap().len(), 8, "{summary}");
    assert_eq!(pool["manager_shares"], pool["shares_bought"], "{summary}");
    // The gas tank: three paid messages held while L1's base fee was above their cap, then
    // relayed and settled by the router: what it may claim and what the payer kept add up to the
    // deposit (the demo reads both from the Starknet tank).
    // Issue 31: a Starknet user's account on L1 swapped on Uniswap V2; the answer on Starknet
    // and the account's WETH equal getAmountOut (the demo reads both).
    assert_eq!(summary["account"]["matches"], true, "{summary}");
    let tank = &summary["gas_tank"];
    assert_eq!(tank["held_seen"], true, "{summary}");
    assert!(
        tank["held_reason"]
            .as_str()
            .is_some_and(|r| r.contains("above the payer's cap 20 gwei")),
        "{summary}"
    );
    assert_eq!(tank["adds_up"], true, "{summary}");
    assert_ne!(tank["router_claimable"], "0", "{summary}");
    // The router it ran kept its store and config where asked.
    assert!(dir.path().join("router.toml").is_file());
    assert!(dir.path().join("store").is_dir());
}
