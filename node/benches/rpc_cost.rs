#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What a router's RPC requests cost on the local network (issue 28), read from its own
//! `xroute_rpc_requests_total`: the real `xroute` binary over a real anvil (L1, one block a
//! second) and a real devnet, state updates held back. Side by side in one run:
//!
//! - idle (nothing stored), then with W messages Starknet → L1 waiting for their state update,
//!   for each W: requests per second and per L1 block, per chain;
//! - then one state update makes the last W consumable: seconds until all are delivered, and the
//!   requests in that time (per message).
//!
//! ```sh
//! cargo bench -p xroute --bench rpc_cost -- --waiting 100,500 --window-secs 20
//! ```

use std::{
    collections::BTreeMap,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::B256;
use clap::Parser;
use starknet_rust::core::types::Felt;
use xroute_tests::{
    LocalNet, XrouteStack,
    router::{RouterOptions, RouterProcess, write_config},
    stack::L1_DOMAIN,
};

#[derive(Parser)]
struct Args {
    /// Numbers of waiting messages, comma-separated (each adds to those before).
    #[arg(long, value_delimiter = ',', default_value = "100,500")]
    waiting: Vec<u64>,
    /// Seconds each sample lasts.
    #[arg(long, default_value_t = 20)]
    window_secs: u64,
    /// The router's poll interval, ms (the kit's default is 200; L1 makes a block a second).
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
    /// (cargo bench passes this.)
    #[arg(long, hide = true)]
    bench: bool,
}

/// `xroute_rpc_requests_total` per chain and method, and the count of messages per stage (and of
/// those waiting for their exit), from `/metrics`.
async fn sample(port: u16) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut requests = BTreeMap::new();
    let mut stages = BTreeMap::new();
    for line in text.lines() {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let label = |key: &str| {
            name.split(&format!("{key}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_string)
        };
        if name.starts_with("xroute_rpc_requests_total{") {
            let key = format!("{} {}", label("chain").unwrap(), label("method").unwrap());
            *requests.entry(key).or_insert(0.0) += value;
        } else if name.starts_with("xroute_messages{")
            && let Some(stage) = label("stage")
        {
            *stages.entry(stage).or_insert(0.0) += value;
        } else if name.starts_with("xroute_messages_waiting_for_exit{") {
            *stages.entry("waiting_for_exit".into()).or_insert(0.0) += value;
        }
    }
    (requests, stages)
}

/// What each counter of `after` added since `before`.
fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .collect()
}

/// Requests per second in all, per chain, and per L1 block; then each method's share.
fn show(d: &BTreeMap<String, f64>, secs: f64, blocks: u64) -> String {
    let total: f64 = d.values().sum();
    let mut chains: BTreeMap<&str, f64> = BTreeMap::new();
    for (key, v) in d {
        *chains.entry(key.split(' ').next().unwrap()).or_insert(0.0) += v;
    }
    let chains: Vec<String> = chains
        .iter()
        .map(|(k, v)| format!("{k} {:.1}/s", v / secs))
        .collect();
    let methods: Vec<String> = d
        .iter()
        .filter(|(_, v)| **v > 0.0)
        .map(|(k, v)| format!("{k} {:.2}/s", v / secs))
        .collect();
    format!(
        "{:.1}/s ({}); {:.1} per L1 block | {} |",
        total / secs,
        chains.join(", "),
        total / blocks.max(1) as f64,
        methods.join(", ")
    )
}

async fn wait_stage(port: u16, stage: &str, n: f64, timeout: Duration) {
    let start = Instant::now();
    loop {
        let (_, stages) = sample(port).await;
        if stages.get(stage).copied().unwrap_or(0.0) >= n {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "{n} messages not {stage} after {timeout:?}: {stages:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let net = Arc::new(LocalNet::start(1).await.unwrap());
    let stack = XrouteStack::deploy(&net).await.unwrap();
    net.set_l1_block_time(1).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = xroute_tests::process::free_port().unwrap();
    let options = RouterOptions {
        poll_interval_ms: args.poll_ms,
        ..RouterOptions::default()
    };
    let config = write_config(dir.path(), &net, &stack, port, &options).unwrap();
    let mut router = RouterProcess::start(Path::new(env!("CARGO_BIN_EXE_xroute")), &config, port)
        .await
        .unwrap();
    let window = Duration::from_secs(args.window_secs);
    let measure = |label: String| {
        let net = net.clone();
        async move {
            let (before, _) = sample(port).await;
            let b0 = net.l1.block_number().await.unwrap();
            tokio::time::sleep(window).await;
            let (after, _) = sample(port).await;
            let b1 = net.l1.block_number().await.unwrap();
            println!(
                "| {label} | {}",
                show(&delta(&before, &after), window.as_secs_f64(), b1 - b0)
            );
        }
    };
    println!(
        "router polls every {} ms; L1 makes a block a second",
        args.poll_ms
    );
    println!(
        "| waiting for their state update | RPC requests (router's own count) | by chain and method |"
    );
    println!("|---|---|---|");
    tokio::time::sleep(Duration::from_secs(3)).await;
    measure("0 (idle)".into()).await;
    let recipient = B256::left_padding_from(stack.l1_app.as_slice());
    let mut sent = 0u64;
    for &w in &args.waiting {
        let payloads: Vec<Vec<Felt>> = (sent..w).map(|n| vec![Felt::from(n)]).collect();
        stack
            .send_from_starknet(&net, 0, L1_DOMAIN, recipient, &payloads)
            .await
            .unwrap();
        sent = w;
        // Each was looked at once and now waits for L1's events.
        wait_stage(port, "waiting_for_exit", w as f64, Duration::from_secs(300)).await;
        measure(format!("{w}")).await;
    }
    // One state update makes all of them consumable.
    let (before, _) = sample(port).await;
    let start = Instant::now();
    let report = net.flush(0).await.unwrap();
    assert_eq!(report.messages_to_l1.len() as u64, sent);
    wait_stage(port, "delivered", sent as f64, Duration::from_secs(600)).await;
    let secs = start.elapsed().as_secs_f64();
    let (after, _) = sample(port).await;
    let spent_by = delta(&before, &after);
    let spent: f64 = spent_by.values().sum();
    println!();
    println!(
        "one state update made {sent} consumable: all delivered in {secs:.1} s, {spent:.0} RPC requests in that time ({:.2} per message)",
        spent / sent as f64
    );
    let methods: Vec<String> = spent_by
        .iter()
        .filter(|(_, v)| **v > 0.0)
        .map(|(k, v)| format!("{k} {v:.0}"))
        .collect();
    println!("by chain and method: {}", methods.join(", "));
    router.interrupt().await.unwrap();
}
