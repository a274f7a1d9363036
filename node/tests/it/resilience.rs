#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What a router does when something under it fails, with the `xroute` binary as a process on a
//! real local network:
//! - its L1 RPC stops answering (a proxy that accepts connections and never replies): the API
//!   keeps answering, nothing is relayed, and once the RPC answers again the waiting message is
//!   delivered, with one relay transaction per message (read from the chain);
//! - one of its critical tasks panics: it stops with a non-zero exit and a line naming the task.

use std::{
    net::SocketAddr,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::primitives::B256;
use eyre::{Result, bail};
use starknet_rust::core::types::Felt;
use xroute_config::TransportConfig;
use xroute_proofs::envelope::MessageId;
use xroute_tests::{
    LocalNet, XrouteStack,
    process::free_port,
    proxy::StallProxy,
    router::{
        Flusher, NetworkPlan, RouterOptions, RouterProcess, relay_transactions, write_config,
    },
    stack::L1_DOMAIN,
};

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");

async fn stage(router: &RouterProcess, id: &MessageId) -> Result<String> {
    let m = router.get(&format!("/messages/{id}")).await?;
    Ok(m["stage"].as_str().unwrap_or("not indexed").to_string())
}

async fn wait_delivered(
    router: &mut RouterProcess,
    flusher: &mut Flusher,
    id: &MessageId,
) -> Result<()> {
    let start = Instant::now();
    loop {
        router.check_running()?;
        flusher.check().await?;
        match stage(router, id).await?.as_str() {
            "delivered" => return Ok(()),
            s @ ("parked" | "dropped") => bail!("message {id} is {s}"),
            _ => {}
        }
        if start.elapsed() > Duration::from_secs(180) {
            bail!(
                "message {id} not delivered; router log:\n{}",
                router.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `GET /ready`: (status code, body).
async fn ready_status(router: &RouterProcess) -> Result<(u16, serde_json::Value)> {
    let resp = reqwest::get(format!("{}/ready", router.api)).await?;
    let code = resp.status().as_u16();
    Ok((code, resp.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_whose_l1_rpc_hangs_keeps_serving_and_resumes_when_it_answers() -> Result<()> {
    let net = Arc::new(LocalNet::start(1).await?);
    let stack = XrouteStack::deploy(&net).await?;
    let anvil: SocketAddr = net
        .l1
        .endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()?;
    let proxy = StallProxy::start(anvil).await?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let options = RouterOptions {
        l1_rpc: Some(proxy.url()),
        transport: Some(TransportConfig {
            timeout_ms: 1_000,
            retries: 1,
            retry_backoff_ms: 100,
            ..TransportConfig::default()
        }),
        ..RouterOptions::default()
    };
    let config = write_config(dir.path(), &net, &stack, port, &options)?;
    let mut router = RouterProcess::start(Path::new(XROUTE), &config, port).await?;
    let mut flusher = Flusher::start(net.clone(), Duration::from_millis(300));
    let l1_app = B256::left_padding_from(stack.l1_app.as_slice());
    let send = |n: u8| {
        let stack = &stack;
        let net = &net;
        async move {
            Ok::<_, eyre::Report>(
                stack
                    .send_from_starknet(net, 0, L1_DOMAIN, l1_app, &[vec![Felt::from(n)]])
                    .await?[0],
            )
        }
    };
    let first = send(1).await?;
    wait_delivered(&mut router, &mut flusher, &first).await?;
    let ready = ready_status(&router).await?;
    assert_eq!(ready.0, 200, "ready while every chain answers: {}", ready.1);

    // The L1 node stops answering; a message is sent meanwhile (Starknet and the postman still
    // work: they reach anvil directly).
    proxy.stall();
    let second = send(2).await?;
    let hung = Instant::now();
    while hung.elapsed() < Duration::from_secs(6) {
        let asked = Instant::now();
        let health = tokio::time::timeout(Duration::from_secs(2), router.get("/health")).await;
        assert!(
            matches!(&health, Ok(Ok(v)) if v["status"] == "ok"),
            "the API must answer while L1 hangs: {health:?}"
        );
        let s = tokio::time::timeout(Duration::from_secs(2), stage(&router, &second)).await??;
        assert_ne!(s, "delivered", "nothing can be relayed while L1 hangs");
        assert!(asked.elapsed() < Duration::from_secs(2));
        router.check_running()?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Not ready, naming the silent chain (its indexer has not finished a pass for > 5 s).
    let (code, body) = ready_status(&router).await?;
    assert_eq!(code, 503, "{body}");
    let problems = body["problems"].to_string();
    assert!(problems.contains("ethereum: no indexing pass"), "{body}");
    assert!(!problems.contains("starknet"), "{body}");
    let relayer = net.l1.address(options.l1_account)?;
    let before = relay_transactions(&net, &[relayer], stack.hub).await?;
    assert_eq!(
        before.len(),
        1,
        "only the first message's relay: {before:?}"
    );

    // The node answers again: the router, still running, relays the waiting message.
    proxy.resume();
    wait_delivered(&mut router, &mut flusher, &second).await?;
    let after = relay_transactions(&net, &[relayer], stack.hub).await?;
    assert_eq!(after.len(), 2, "one relay per message: {after:?}");
    let (code, body) = ready_status(&router).await?;
    assert_eq!(code, 200, "ready again once L1 answers: {body}");
    // What the metrics say of it: two relays sent and succeeded on L1, two delivered.
    let text = reqwest::get(format!("{}/metrics", router.api))
        .await?
        .text()
        .await?;
    for line in [
        "xroute_relay_transactions_total{chain=\"ethereum\",outcome=\"sent\"} 2",
        "xroute_relay_transactions_total{chain=\"ethereum\",outcome=\"succeeded\"} 2",
        "xroute_messages{stage=\"delivered\"} 2",
        "xroute_transitions_total{from=\"relayed\",to=\"delivered\",route=\"starknet → ethereum\"} 2",
        "xroute_delivery_seconds_count{route=\"starknet → ethereum\"} 2",
    ] {
        assert!(text.contains(line), "{line} missing from /metrics:\n{text}");
    }
    assert!(after.iter().all(|t| t.ok), "{after:?}");
    // RPC per chain and method: the hang shows as L1 timeouts, Starknet had none, both chains'
    // event scans were counted and timed.
    let sum = |prefix: &str, contains: &[&str]| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix) && contains.iter().all(|c| l.contains(c)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let timeouts = "kind=\"timeout\"";
    assert!(
        sum("xroute_rpc_failures_total{chain=\"ethereum\"", &[timeouts]) >= 1.0,
        "{text}"
    );
    assert_eq!(
        sum("xroute_rpc_failures_total{chain=\"starknet\"", &[timeouts]),
        0.0
    );
    for (chain, method) in [
        ("ethereum", "eth_getLogs"),
        ("starknet", "starknet_getEvents"),
    ] {
        let labels = format!("{{chain=\"{chain}\",method=\"{method}\"}}");
        assert!(
            sum(&format!("xroute_rpc_requests_total{labels}"), &[]) >= 2.0,
            "{chain} {method}: {text}"
        );
        assert!(
            sum(&format!("xroute_rpc_latency_seconds_count{labels}"), &[]) >= 2.0,
            "{chain} {method}: {text}"
        );
    }
    let log = router.log_tail();
    assert!(
        log.contains("(timeout)"),
        "the hang is logged as a timeout:\n{log}"
    );
    flusher.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_task_that_panics_stops_the_router_naming_it() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let base = tempfile::tempdir()?;
    // A network of one router (threshold 1), so that the network's tasks run too.
    let members = NetworkPlan::members(Path::new(XROUTE), base.path(), 1)?;
    let dir = members[0].dir.clone();
    let options = RouterOptions {
        network: Some(NetworkPlan {
            members,
            me: 0,
            threshold: 1,
            relay_window_ms: 2_000,
            batch_attestations: true,
            checkpoints: true,
        }),
        ..RouterOptions::default()
    };
    let config = write_config(&dir, &net, &stack, free_port()?, &options)?;
    for task in ["heartbeats", "gossip validation", "pipeline"] {
        let run = tokio::process::Command::new(XROUTE)
            .args(["run", "--config"])
            .arg(&config)
            .env("XROUTE_FAIL_TASK", task)
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), run).await??;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{task}: {stderr}");
        let line = format!("critical task `{task}` panicked");
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&line) && l.contains("stopping the router")),
            "{task}: {stderr}"
        );
    }
    Ok(())
}

/// A router far behind a chain (here 2,500 blocks mined before it starts) says how far its
/// catch-up got, range by range; with `--log-format json` every line is one JSON object with the
/// level, the message and the fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_logs_its_progress_as_json_lines() -> Result<()> {
    let net = LocalNet::start(0).await?;
    let stack = XrouteStack::deploy(&net).await?;
    xroute_tests::rpc::call(
        &reqwest::Client::new(),
        net.l1.endpoint(),
        "anvil_mine",
        serde_json::json!(["0x9c4"]),
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let config = write_config(dir.path(), &net, &stack, port, &RouterOptions::default())?;
    let mut router =
        RouterProcess::start_with_args(Path::new(XROUTE), &config, port, &["--log-format", "json"])
            .await?;
    let start = Instant::now();
    let lines = loop {
        router.check_running()?;
        let log = router.log_tail();
        if log.contains("(100%)") {
            break log;
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("no finished catch-up in the log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let progress: Vec<serde_json::Value> = lines
        .lines()
        .filter(|l| l.contains("catching up"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // The announcement, then one line per 1,000-block range (blocks 0..=2,500 and a few).
    assert!(progress.len() >= 4, "{progress:#?}");
    assert!(
        progress[0]["fields"]["message"]
            .as_str()
            .unwrap()
            .starts_with("catching up: indexing"),
        "{progress:#?}"
    );
    assert_eq!(progress[1]["fields"]["block"], 999, "{progress:#?}");
    for p in &progress {
        assert_eq!(p["level"], "INFO");
        assert_eq!(p["fields"]["chain"], "ethereum");
    }
    let last = progress.last().unwrap();
    assert_eq!(last["fields"]["block"], last["fields"]["of"]);
    Ok(())
}
