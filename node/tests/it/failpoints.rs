//! Issue 30: kills at every persisted step. For each fail point a mixed run reaches (after a store
//! write, before a broadcast), the router is SIGKILLed, six messages are sent over three routes
//! while it is down, and it is started with that point armed: it aborts there (nothing after it
//! runs, nothing is flushed). Restarted plainly, it must deliver everything once.

use std::time::Duration;

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
};
use eyre::{Result, ensure};
use starknet_rust::core::types::Felt;
use xroute::failpoint;
use xroute_proofs::envelope::MessageId;
use xroute_tests::{
    arbitrum::ArbitrumOptions,
    artifacts::evm::{ArbitrumEndpoint, SampleApp},
    router::{Flusher, RouterProcess, check_each_hop_once, edit_config},
    stack::{L1_DOMAIN, L2_KIT_ACCOUNT},
};

use crate::{
    e2e_relay::{DELIVERY, Env, word},
    handler_fails::{refused_at_the_redeem, set_code},
};

/// The points a run of these three routes reaches, in the order they are armed. (The redeem test
/// below takes `store.update` and `follow_up.before_broadcast`, the stuck-batch test
/// `store.batch_attempt`, and the payments test `settle.before_broadcast`.)
const REACHED: &[&str] = &[
    "store.insert",
    "store.cursor",
    "store.move",
    "relay.before_broadcast",
    "store.batch",
    "batch.before_broadcast",
];

/// Starts the (stopped) router with `point` armed and waits until it aborts there; its exit
/// status.
pub(crate) async fn abort_at(router: &mut RouterProcess, point: &str) -> Result<String> {
    router.kill_and_spawn_with_env(&[(failpoint::ENV, point)])?;
    wait_abort(router, point).await
}

/// Waits until the router started with `point` armed aborts there; its exit status.
async fn wait_abort(router: &mut RouterProcess, point: &str) -> Result<String> {
    let point = point.split(':').next().unwrap_or(point);
    let status = router.wait_exit(Duration::from_secs(120)).await?;
    let log = router.log_tail();
    ensure!(
        log.contains(&format!("fail point {point} reached")),
        "{point}: exited with {status} without reaching it:\n{log}"
    );
    let lines: Vec<&str> = log.lines().collect();
    let before = &lines[lines.len().saturating_sub(4)..];
    eprintln!(
        "aborted at {point}; the router's last lines:\n{}",
        before.join("\n")
    );
    Ok(status.to_string())
}

#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the fail points: scripts/test builds with --features xroute/failpoints"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_aborted_at_each_fail_point_delivers_everything_once_after_restart() -> Result<()>
{
    for point in REACHED {
        ensure!(
            failpoint::POINTS.contains(point),
            "{point} is not a fail point"
        );
    }
    let mut env = Env::start().await?;
    let sn = env.stack.starknets[0];
    let app3 = env.stack.starknets[1];
    let l1_recipient = B256::left_padding_from(env.stack.l1_app.as_slice());
    let mut ids: Vec<MessageId> = Vec::new();
    let (mut to_l1, mut to_sn, mut to_app3) = (0u64, 0u64, 0u64);
    let mut aborted = Vec::new();
    for (round, point) in REACHED.iter().enumerate() {
        env.router.kill()?;
        let r = round as u64;
        if *point == "relay.before_broadcast" {
            // A hop relayed alone: the only message of its round.
            ids.push(
                env.send_from_l1(sn.domain, word(sn.app), vec![U256::from(r * 10)], 0)
                    .await?,
            );
            to_sn += 1;
            aborted.push((*point, abort_at(&mut env.router, point).await?));
            env.router.restart().await?;
            env.wait_for(&ids, "delivered", DELIVERY).await?;
            continue;
        }
        // Sent while it is down, so the armed router finds them all at once (batched hops).
        let payloads = vec![vec![Felt::from(r)], vec![Felt::from(r + 100)]];
        ids.extend(
            env.send_from_starknet(0, L1_DOMAIN, l1_recipient, &payloads)
                .await?,
        );
        to_l1 += 2;
        for i in 0..2u64 {
            ids.push(
                env.send_from_l1(sn.domain, word(sn.app), vec![U256::from(r * 10 + i)], 0)
                    .await?,
            );
        }
        to_sn += 2;
        ids.extend(
            env.send_from_starknet(0, app3.domain, word(app3.app), &payloads)
                .await?,
        );
        to_app3 += 2;
        // Both L1 sends final before the armed router starts: their two hops are ready in its
        // first round together, so the batch points do not hang on timing.
        env.net.l1.mine_blocks(2).await?;
        aborted.push((*point, abort_at(&mut env.router, point).await?));
        env.router.restart().await?;
        env.wait_for(&ids, "delivered", DELIVERY).await?;
    }
    eprintln!("aborted at: {aborted:?}");
    ensure!(aborted.len() == REACHED.len());
    // Each message once: the recipients' counters, and one successful L1 relay per hop.
    ensure!(
        env.l1_app()?.totalReceived().call().await? == U256::from(to_l1),
        "L1 app"
    );
    ensure!(env.total_received_on(0).await? == to_sn, "Starknet app");
    ensure!(env.total_received_on(1).await? == to_app3, "appchain app");
    check_each_hop_once(&env.relay_receipts().await?, ids.len())?;
    env.flusher.stop().await?;
    Ok(())
}

/// A redeem of an Arbitrum ticket is a follow-up on the destination. Two L1 → Arbitrum messages
/// whose automatic redeems reverted (the app refused) are parked; the app accepts again; for each,
/// the router is started with a point armed and the message retried: it aborts at the first
/// `store.update` (a change written) or before the redeem's broadcast (its transaction signed and
/// recorded, not sent). Restarted plainly, each ticket is redeemed by one successful transaction
/// and each message reaches the app once.
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the fail points: scripts/test builds with --features xroute/failpoints"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_aborted_around_a_redeem_redeems_once_after_restart() -> Result<()> {
    let mut env = Env::start_with(Some(ArbitrumOptions::default())).await?;
    let arb = env.stack.arbitrum()?;
    let (ids, code) = refused_at_the_redeem(&mut env, &[1, 2]).await?;
    let net = env.net.clone();
    let l2_chain = &net.arbitrum()?.l2;
    set_code(l2_chain, arb.app, &code).await?;
    for (id, point) in ids
        .iter()
        .zip(["store.update", "follow_up.before_broadcast"])
    {
        env.router
            .kill_and_spawn_with_env(&[(failpoint::ENV, point)])?;
        // Retried once the armed router takes it (unless it aborted before): asked again while
        // the router refuses or cannot be reached, until it answers or aborts.
        let start = std::time::Instant::now();
        let mut answers = Vec::new();
        while env.router.check_running().is_ok() {
            let (code, out, err) = env.cli(&["retry", &id.to_string()])?;
            if code == 0 {
                break;
            }
            ensure!(
                !err.contains("only parked messages can be retried"),
                "{id} is not parked: {:#}",
                env.message(id).await?
            );
            answers.push(format!("{code}: {out}{err}"));
            ensure!(
                start.elapsed() < DELIVERY,
                "the armed router never took the retry: {answers:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        wait_abort(&mut env.router, point).await?;
        env.router.restart().await?;
        if env.message(id).await?["stage"] == "parked" {
            let (code, out, err) = env.cli(&["retry", &id.to_string()])?;
            ensure!(code == 0, "{out}{err}");
        }
        env.wait_for(&[*id], "delivered", DELIVERY).await?;
    }
    let l2 = l2_chain.provider(L2_KIT_ACCOUNT)?;
    let endpoint = ArbitrumEndpoint::new(arb.endpoint, &l2);
    for id in &ids {
        ensure!(endpoint.delivered(id.0).call().await?, "{id} delivered");
        // One successful redeem per ticket, whatever the router recorded.
        let m = env.message(id).await?;
        let mut succeeded = 0;
        for relay in m["relays"].as_array().into_iter().flatten() {
            if relay["chain"] != "arbitrum" {
                continue;
            }
            let hash: B256 = relay["tx_hash"].as_str().unwrap_or_default().parse()?;
            if let Some(r) = l2.get_transaction_receipt(hash).await?
                && r.status()
            {
                succeeded += 1;
            }
        }
        ensure!(
            succeeded == 1,
            "{id}: {succeeded} successful redeems: {m:#}"
        );
    }
    let app = SampleApp::new(arb.app, &l2);
    let l1_app = B256::left_padding_from(env.stack.l1_app.as_slice());
    ensure!(
        app.receivedFrom(L1_DOMAIN, l1_app).call().await? == U256::from(ids.len()),
        "the app received each once"
    );
    env.flusher.stop().await?;
    Ok(())
}

/// A stuck relay batch's replacement. Two Starknet → L1 messages are relayed in one L1 batch
/// while L1 mines nothing; after `relay.bump_after_ms` the router persists the replacement (the
/// same nonce, higher fees) and aborts there, before broadcasting it. L1 mines again and the
/// router is restarted plainly: each message is delivered once, by one successful relay.
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the fail points: scripts/test builds with --features xroute/failpoints"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_aborted_at_a_stuck_batch_replacement_delivers_once_after_restart() -> Result<()> {
    let mut env = Env::start().await?;
    edit_config(env.router.config(), |c| c.relay.bump_after_ms = 1_000)?;
    env.router.kill()?;
    let l1_recipient = B256::left_padding_from(env.stack.l1_app.as_slice());
    let ids = env
        .send_from_starknet(
            0,
            L1_DOMAIN,
            l1_recipient,
            &[vec![Felt::from(1u8)], vec![Felt::from(2u8)]],
        )
        .await?;
    // Their state update on L1 and final, then L1 stops mining.
    env.flusher.rounds(2).await?;
    env.net.l1.mine_blocks(2).await?;
    std::mem::replace(&mut env.flusher, Flusher::idle())
        .stop()
        .await?;
    env.net.l1.set_automine(false).await?;
    abort_at(&mut env.router, "store.batch_attempt").await?;
    env.net.l1.set_automine(true).await?;
    env.net.l1.mine().await?;
    env.flusher = Flusher::start(env.net.clone(), Duration::from_millis(300));
    env.router.restart().await?;
    env.wait_for(&ids, "delivered", DELIVERY).await?;
    ensure!(
        env.l1_app()?.totalReceived().call().await? == U256::from(ids.len()),
        "the L1 app received each once"
    );
    check_each_hop_once(&env.relay_receipts().await?, ids.len())?;
    env.flusher.stop().await?;
    Ok(())
}
