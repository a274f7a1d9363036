//! Issue 30: faults on purpose. The router runs with every one of its nodes (L1, Starknet, the
//! appchain, the local Arbitrum) behind a [`FaultProxy`] that fails 30 % of the requests (HTTP
//! 503, rate limits, internal errors, hangs, truncated and garbled bodies, slow answers, another
//! chain's id, stale heads), while 1,000 messages cross every route and the router is SIGKILLed
//! twice. Each message must be delivered exactly once, counted on the chains.

use std::{collections::HashSet, time::Duration};

use alloy::primitives::{B256, U256};
use eyre::{Result, bail};
use starknet_rust::core::types::Felt;
use xroute_tests::{
    arbitrum::ArbitrumOptions,
    artifacts::evm::SampleApp,
    fault_proxy::{Fault, FaultProxy, route_through},
    router::{RouterProcess, check_each_hop_once, edit_config},
    stack::L1_DOMAIN,
};

use crate::e2e_relay::{Env, word};

/// The share of each node's requests that fail.
const FAULT_RATE: f64 = 0.3;

/// `GET /ready`'s status code.
async fn ready_code(router: &RouterProcess) -> Result<u16> {
    Ok(reqwest::get(format!("{}/ready", router.api))
        .await?
        .status()
        .as_u16())
}

/// Waits until `GET /ready` answers `code`, the router running all along.
async fn wait_ready_code(env: &mut Env, code: u16, timeout: Duration) -> Result<Duration> {
    let start = std::time::Instant::now();
    loop {
        env.router.check_running()?;
        if ready_code(&env.router).await? == code {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            bail!(
                "/ready did not answer {code} within {timeout:?}; router log:\n{}",
                env.router.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The value of the metric line starting with `prefix` in the router's `/metrics` (summed over
/// the lines that match).
async fn metric(router: &RouterProcess, prefix: &str) -> Result<f64> {
    let text = reqwest::get(format!("{}/metrics", router.api))
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// 1,000 messages over every route (Starknet → L1, L1 → Starknet, Starknet → appchain, and the
/// five Arbitrum routes: to and from L1, Starknet → Arbitrum, Arbitrum → Starknet, Arbitrum →
/// appchain), every node of the router behind a proxy failing 30 % of its requests, the router
/// SIGKILLed twice and its nodes all down for a while, with two attempts per message (a node's
/// fault must spend none): the router never exits on its own, its
/// `/ready` goes 503 while its nodes are down and 200 once they answer, no message is parked,
/// every message is delivered exactly once (counted from the recipients on their chains), and
/// each hop is made by exactly one successful L1 relay transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_messages_over_every_route_survive_failing_nodes_and_two_sigkills() -> Result<()>
{
    let mut env = Env::start_with(Some(ArbitrumOptions::default())).await?;
    let sn = env.stack.starknets[0];
    let app3 = env.stack.starknets[1];
    let arb = env.stack.arbitrum()?;
    let arb_app = B256::left_padding_from(arb.app.as_slice());
    let l1_recipient = B256::left_padding_from(env.stack.l1_app.as_slice());

    // A proxy in front of each of the router's nodes; the router restarted onto them with the
    // faults already on (its start-up must ride them out too).
    let targets = [
        ("ethereum", env.net.l1.endpoint().to_string()),
        (
            "starknet",
            env.net.starknets[0].devnet.rpc_url().to_string(),
        ),
        (
            "appchain1",
            env.net.starknets[1].devnet.rpc_url().to_string(),
        ),
        ("arbitrum", env.net.arbitrum()?.l2.endpoint().to_string()),
    ];
    let mut proxies = Vec::new();
    for (i, (name, url)) in targets.iter().enumerate() {
        proxies.push((
            name.to_string(),
            FaultProxy::start(url, FAULT_RATE, &Fault::ALL, 30 + i as u64).await?,
        ));
    }
    route_through(env.router.config(), &proxies)?;
    // Two attempts: a message that spent one on each of two node faults would park.
    edit_config(env.router.config(), |c| c.relay.max_attempts = 2)?;
    env.router.kill_and_restart().await?;

    let mut ids = Vec::new();
    // Messages per recipient: the L1 app, Starknet's app, the appchain's app, Arbitrum's app.
    let (mut to_l1, mut to_sn, mut to_app3, mut to_arb) = (0u64, 0u64, 0u64, 0u64);
    let mut in_flight_at_kill = Vec::new();
    let mut down_for = None;
    for round in 0..4u64 {
        // 250 per round over eight routes.
        let payloads: Vec<Vec<Felt>> = (0..32).map(|i| vec![Felt::from(round * 100 + i)]).collect();
        ids.extend(
            env.send_from_starknet(0, L1_DOMAIN, l1_recipient, &payloads)
                .await?,
        );
        to_l1 += 32;
        for i in 0..32u64 {
            ids.push(
                env.send_from_l1(sn.domain, word(sn.app), vec![U256::from(i)], 0)
                    .await?,
            );
        }
        to_sn += 32;
        let payloads: Vec<Vec<Felt>> = (0..32).map(|i| vec![Felt::from(i), Felt::TWO]).collect();
        ids.extend(
            env.send_from_starknet(0, app3.domain, word(app3.app), &payloads)
                .await?,
        );
        to_app3 += 32;
        let words = |n: u64| -> Vec<Vec<U256>> {
            (0..n)
                .map(|i| vec![U256::from(round), U256::from(i)])
                .collect()
        };
        ids.extend(
            env.stack
                .send_from_arbitrum(&env.net, L1_DOMAIN, l1_recipient, &words(31))
                .await?,
        );
        to_l1 += 31;
        for i in 0..31u64 {
            ids.push(
                env.send_from_l1(arb.domain, arb_app, vec![U256::from(i)], 0)
                    .await?,
            );
        }
        to_arb += 31;
        let payloads: Vec<Vec<Felt>> = (0..31).map(|i| vec![Felt::from(i)]).collect();
        ids.extend(
            env.send_from_starknet(0, arb.domain, arb_app, &payloads)
                .await?,
        );
        to_arb += 31;
        ids.extend(
            env.stack
                .send_from_arbitrum(&env.net, sn.domain, word(sn.app), &words(31))
                .await?,
        );
        to_sn += 31;
        ids.extend(
            env.stack
                .send_from_arbitrum(&env.net, app3.domain, word(app3.app), &words(30))
                .await?,
        );
        to_app3 += 30;
        if round == 1 || round == 3 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let stats = env.router.stats().await?;
            let delivered = stats["delivered"].as_u64().unwrap_or(0);
            in_flight_at_kill.push(ids.len() as u64 - delivered);
            env.router.kill_and_restart().await?;
        }
        if round == 2 {
            // Every node down: not ready, still running; ready again once they answer.
            for (_, p) in &proxies {
                p.set_down(true);
            }
            let took = wait_ready_code(&mut env, 503, Duration::from_secs(90)).await?;
            for (_, p) in &proxies {
                p.set_down(false);
            }
            wait_ready_code(&mut env, 200, Duration::from_secs(120)).await?;
            down_for = Some(took);
        }
    }
    assert_eq!(ids.len(), 1_000);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1_000);
    eprintln!(
        "messages not yet delivered at each SIGKILL: {in_flight_at_kill:?}; /ready went 503 \
         {down_for:?} after the nodes went down"
    );
    assert!(
        in_flight_at_kill.iter().any(|n| *n > 0),
        "{in_flight_at_kill:?}"
    );
    env.wait_for(&ids, "delivered", Duration::from_secs(1_500))
        .await?;

    // Recipient counts equal messages sent.
    assert_eq!(
        env.l1_app()?.totalReceived().call().await?,
        U256::from(to_l1)
    );
    assert_eq!(env.total_received_on(0).await?, to_sn);
    assert_eq!(env.total_received_on(1).await?, to_app3);
    let l2_app = SampleApp::new(arb.app, env.net.arbitrum()?.l2.provider(0)?);
    assert_eq!(l2_app.totalReceived().call().await?, U256::from(to_arb));
    // One hop through the Hub per message, each made once, in relay transactions that all
    // succeeded.
    let receipts = env.relay_receipts().await?;
    check_each_hop_once(&receipts, 1_000)?;
    let stats = env.router.stats().await?;
    assert_eq!(stats["delivered"], 1_000, "{stats}");
    // The faults happened, every kind of them, and the router saw its steps fail on them
    // without spending the messages' attempts (none parked: `wait_for` fails on a parked one).
    for (name, p) in &proxies {
        let counts = p.counts();
        eprintln!("{name}: forwarded {}, failed {counts:?}", p.forwarded());
        for fault in Fault::ALL {
            assert!(
                counts.get(fault.name()).copied().unwrap_or(0) > 0,
                "{name}: no {} fault: {counts:?}",
                fault.name()
            );
        }
    }
    let faults = metric(&env.router, "xroute_node_faults_total").await?;
    eprintln!("steps that waited on a node since the last restart: {faults}");
    env.flusher.stop().await?;
    Ok(())
}
