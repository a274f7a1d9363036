//! Issue 30: a reorg of L1 under the router's cursor. Two L1 messages to Starknet are indexed
//! and proven while Starknet's node is down (so neither is relayed yet); then `anvil_reorg`
//! replaces their blocks: the new branch holds the first one's transaction in another block and
//! not the second's. The router rewinds, follows the first to its new block, parks the second
//! with the reason, takes the same message sent again on the new branch in its place, and
//! delivers each once when Starknet is back.

use std::time::Duration;

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
};
use eyre::{Result, bail, ensure};
use serde_json::json;
use xroute_proofs::envelope::MessageId;
use xroute_tests::{
    fault_proxy::FaultProxy,
    router::{Flusher, check_each_hop_once, set_rpcs},
    rpc,
};

use crate::e2e_relay::{DELIVERY, Env, word};

/// Waits until `check(message)` holds for `id`, the router running all along.
async fn wait_until(
    env: &mut Env,
    id: &MessageId,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> Result<serde_json::Value> {
    let start = std::time::Instant::now();
    loop {
        env.router.check_running()?;
        let m = env.message(id).await?;
        if check(&m) {
            return Ok(m);
        }
        if start.elapsed() > DELIVERY {
            bail!(
                "{id}: not {what} after {DELIVERY:?}: {m:#}\nrouter log:\n{}",
                env.router.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_reorg_under_the_cursor_moves_parks_and_takes_the_message_sent_again() -> Result<()> {
    let mut env = Env::start().await?;
    let sn = env.stack.starknets[0];
    // Starknet behind a proxy the test can take down: an L1 message to it is proven, not relayed.
    let proxy =
        FaultProxy::start(env.net.starknets[0].devnet.rpc_url().as_str(), 0.0, &[], 1).await?;
    let url = proxy.url();
    set_rpcs(
        env.router.config(),
        |name, rpc| {
            if name == "starknet" {
                url.clone()
            } else {
                rpc.to_string()
            }
        },
        Default::default(),
    )?;
    env.router.kill_and_restart().await?;
    // No flushes from here to the reorg: the blocks it replaces hold only this test's sends.
    std::mem::replace(&mut env.flusher, Flusher::idle())
        .stop()
        .await?;
    proxy.set_down(true);

    let l1 = env.net.l1.provider(0)?;
    let moved = env
        .send_from_l1(sn.domain, word(sn.app), vec![U256::from(7)], 0)
        .await?;
    let orphaned = env
        .send_from_l1(sn.domain, word(sn.app), vec![U256::from(8)], 0)
        .await?;
    env.net.l1.mine_blocks(2).await?;
    for id in [moved, orphaned] {
        wait_until(&mut env, &id, "proven", |m| m["stage"] == "proven").await?;
    }
    let before = env.message(&moved).await?;
    let moved_tx: B256 = before["source_tx"].as_str().unwrap_or_default().parse()?;
    let first_block = l1
        .get_transaction_receipt(moved_tx)
        .await?
        .and_then(|r| r.block_number)
        .ok_or_else(|| eyre::eyre!("no receipt for {moved_tx}"))?;
    ensure!(before["source_block"] == first_block, "{before:#}");

    // The reorg: every block from the first send's on, replaced; the new branch holds the first
    // send's transaction (in its second block), not the second's.
    let head = l1.get_block_number().await?;
    let depth = head - first_block + 1;
    let raw = l1
        .raw_request::<_, Option<alloy::primitives::Bytes>>(
            "eth_getRawTransactionByHash".into(),
            (moved_tx,),
        )
        .await?
        .ok_or_else(|| eyre::eyre!("no raw transaction {moved_tx}"))?;
    rpc::call(
        &reqwest::Client::new(),
        env.net.l1.endpoint(),
        "anvil_reorg",
        json!([depth, [[raw, 1]]]),
    )
    .await?;
    env.net.l1.mine_blocks(2).await?;

    let parked = wait_until(&mut env, &orphaned, "parked", |m| m["stage"] == "parked").await?;
    let reason = parked["reason"].as_str().unwrap_or("");
    ensure!(
        reason.starts_with("its source transaction left the chain in a reorg"),
        "{parked:#}"
    );
    let after = wait_until(&mut env, &moved, "in its new block", |m| {
        m["source_block"].as_u64().is_some_and(|b| b != first_block)
    })
    .await?;
    ensure!(after["stage"] == "proven", "{after:#}");
    let new_block = l1
        .get_transaction_receipt(moved_tx)
        .await?
        .and_then(|r| r.block_number);
    ensure!(after["source_block"].as_u64() == new_block, "{after:#}");

    // The same message sent again on the new branch (same nonce, same envelope): it takes the
    // parked one's place.
    let again = env
        .send_from_l1(sn.domain, word(sn.app), vec![U256::from(8)], 0)
        .await?;
    ensure!(
        again == orphaned,
        "sent again as {again}, parked as {orphaned}"
    );
    env.net.l1.mine_blocks(2).await?;
    let resent = wait_until(&mut env, &orphaned, "sent again", |m| {
        m["stage"] != "parked"
    })
    .await?;
    eprintln!("sent again: {resent:#}");

    // Starknet back: each delivered once.
    proxy.set_down(false);
    env.flusher = Flusher::start(env.net.clone(), Duration::from_millis(300));
    env.wait_for(&[moved, orphaned], "delivered", DELIVERY)
        .await?;
    ensure!(
        env.total_received_on(0).await? == 2,
        "Starknet's app received each once"
    );
    check_each_hop_once(&env.relay_receipts().await?, 2)?;
    let metrics = reqwest::get(format!("{}/metrics", env.router.api))
        .await?
        .text()
        .await?;
    let reorgs = metrics
        .lines()
        .find(|l| l.starts_with("xroute_reorg_depth_blocks_count{chain=\"ethereum\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0);
    ensure!(reorgs >= 1, "{metrics}");
    env.flusher.stop().await?;
    Ok(())
}
