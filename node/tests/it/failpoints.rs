//! Issue 30: kills at every persisted step. For each fail point a mixed run reaches (after a store
//! write, before a broadcast), the router is SIGKILLed, six messages are sent over three routes
//! while it is down, and it is started with that point armed: it aborts there (nothing after it
//! runs, nothing is flushed). Restarted plainly, it must deliver everything once.

use std::time::Duration;

use alloy::primitives::{B256, U256};
use eyre::{Result, ensure};
use starknet_rust::core::types::Felt;
use xroute::failpoint;
use xroute_proofs::envelope::MessageId;
use xroute_tests::{router::check_each_hop_once, stack::L1_DOMAIN};

use crate::e2e_relay::{DELIVERY, Env, word};

/// The points a run of these three routes reaches, in the order they are armed. (The others are
/// on paths this run does not take: `store.update` (a retry's attempts or reason, a bumped
/// relay), a follow-up on a destination, a settlement, a stuck batch's replacement.)
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
async fn abort_at(env: &mut Env, point: &str) -> Result<String> {
    env.router
        .kill_and_spawn_with_env(&[(failpoint::ENV, point)])?;
    let status = env.router.wait_exit(Duration::from_secs(120)).await?;
    let log = env.router.log_tail();
    ensure!(
        log.contains(&format!("fail point {point} reached")),
        "{point}: exited with {status} without reaching it:\n{log}"
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
            aborted.push((*point, abort_at(&mut env, point).await?));
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
        aborted.push((*point, abort_at(&mut env, point).await?));
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
