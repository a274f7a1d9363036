//! Issue 30: reorgs under the router's cursor, one test per family (L1, the Arbitrum L2, a
//! Starknet devnet; each test says what it does).
//!
//! L1: two L1 messages to Starknet are indexed and proven while Starknet's node is down (so
//! neither is relayed yet); then `anvil_reorg` replaces their blocks: the new branch holds the
//! first one's transaction in another block and not the second's. The router rewinds, follows
//! the first to its new block, parks the second with the reason, takes the same message sent
//! again on the new branch in its place, and delivers each once when Starknet is back.

use std::time::Duration;

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
};
use eyre::{Result, bail, ensure};
use serde_json::json;
use starknet_rust::core::types::Felt;
use xroute_proofs::envelope::MessageId;
use xroute_tests::{
    anvil::Anvil,
    arbitrum::ArbitrumOptions,
    devnet::DevnetOptions,
    fault_proxy::FaultProxy,
    router::{Flusher, check_each_hop_once, set_rpcs},
    rpc,
    stack::L1_DOMAIN,
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
    let first_block = block_of(&l1, moved_tx).await?;
    ensure!(before["source_block"] == first_block, "{before:#}");

    reorg_keeping(&env.net.l1, first_block, moved_tx).await?;

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
    let new_block = block_of(&l1, moved_tx).await?;
    ensure!(
        after["source_block"].as_u64() == Some(new_block),
        "{after:#}"
    );

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
    ensure!(
        reorgs_seen(&env, "ethereum").await? >= 1,
        "a reorg counted on ethereum"
    );
    env.flusher.stop().await?;
    Ok(())
}

/// Issue 30: a Starknet block abort under the router's cursor. Two Starknet → L1 messages are
/// indexed before any state update (the kit's postman held back); then devnet aborts both their
/// blocks, so the chain's head falls below the router's cursor. The router waits (it does not
/// fail on the missing blocks); the first message is sent again on the new branch (the Endpoint's
/// nonce went back with the abort: the same message) and blocks are made past the old cursor. The
/// router finds the changed blocks, parks the second with the reason, keeps the first, and
/// delivers the first once when state updates resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starknet_block_abort_under_the_cursor_parks_what_left_and_delivers_what_came_back()
-> Result<()> {
    let mut env = Env::start_with_devnets(
        None,
        DevnetOptions {
            state_archive: true,
            ..DevnetOptions::default()
        },
    )
    .await?;
    let sn = env.stack.starknets[0];
    let net = env.net.clone();
    let devnet = &net.starknets[0].devnet;
    std::mem::replace(&mut env.flusher, Flusher::idle())
        .stop()
        .await?;
    let l1_app = B256::left_padding_from(env.stack.l1_app.as_slice());
    let kept = env
        .send_from_starknet(0, L1_DOMAIN, l1_app, &[vec![Felt::from(7u8)]])
        .await?[0];
    let gone = env
        .send_from_starknet(0, L1_DOMAIN, l1_app, &[vec![Felt::from(8u8)]])
        .await?[0];
    let mut blocks = Vec::new();
    for id in [kept, gone] {
        let m = wait_until(&mut env, &id, "indexed", |m| m["source_block"].is_u64()).await?;
        blocks.push(m["source_block"].as_u64().unwrap_or_default());
    }
    let head_before = devnet.block_number().await?;
    let aborted = devnet.abort_blocks(blocks[0]).await?;
    ensure!(
        aborted.len() as u64 == head_before + 1 - blocks[0],
        "aborted {aborted:?} from {} with the head at {head_before}",
        blocks[0]
    );
    // The head is below the router's cursor: for three seconds (15 polls) the router keeps
    // indexing Starknet (its passes finish: the chain is not silent) and both messages stay
    // where they were.
    tokio::time::sleep(Duration::from_secs(3)).await;
    env.router.check_running()?;
    let ready: serde_json::Value = reqwest::get(format!("{}/ready", env.router.api))
        .await?
        .json()
        .await?;
    let silent = ready["chains_silent_ms"]["starknet"].as_u64();
    ensure!(
        silent.is_some_and(|ms| ms < 1_500),
        "Starknet's indexing passes stopped finishing under the cursor: {ready:#}"
    );
    for id in [kept, gone] {
        let m = env.message(&id).await?;
        ensure!(m["stage"] != "parked", "{m:#}");
    }

    // The first message again on the new branch: the same id (the nonce went back).
    let again = env
        .send_from_starknet(0, L1_DOMAIN, l1_app, &[vec![Felt::from(7u8)]])
        .await?[0];
    ensure!(again == kept, "sent again as {again}, first as {kept}");
    devnet
        .create_blocks(head_before + 2 - devnet.block_number().await?)
        .await?;

    let parked = wait_until(&mut env, &gone, "parked", |m| m["stage"] == "parked").await?;
    let reason = parked["reason"].as_str().unwrap_or("");
    ensure!(
        reason.starts_with("its source transaction left the chain in a reorg"),
        "{parked:#}"
    );
    // State updates resume: the first is delivered once, the second stays parked.
    env.flusher = Flusher::start(env.net.clone(), Duration::from_millis(300));
    env.wait_for(&[kept], "delivered", DELIVERY).await?;
    let app = env.l1_app()?;
    let sender = word(sn.app);
    ensure!(
        app.receivedFrom(sn.domain, sender).call().await? == U256::from(1),
        "the L1 app received one message from Starknet"
    );
    ensure!(
        app.lastPayload(sn.domain, sender).call().await? == vec![U256::from(7)],
        "the kept message's payload"
    );
    let m = env.message(&gone).await?;
    ensure!(m["stage"] == "parked", "{m:#}");
    check_each_hop_once(&env.relay_receipts().await?, 1)?;
    ensure!(
        reorgs_seen(&env, "starknet").await? >= 1,
        "a reorg counted on starknet"
    );
    env.flusher.stop().await?;
    Ok(())
}

/// `xroute_reorg_depth_blocks_count` of `chain` on the router's metrics.
async fn reorgs_seen(env: &Env, chain: &str) -> Result<u64> {
    let metrics = reqwest::get(format!("{}/metrics", env.router.api))
        .await?
        .text()
        .await?;
    let prefix = format!("xroute_reorg_depth_blocks_count{{chain=\"{chain}\"}}");
    Ok(metrics
        .lines()
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0))
}

/// `anvil_reorg`: every block of `anvil` from `from` on is replaced by as many new ones; the new
/// branch holds transaction `keep` (in its second block) and none of the others. Two more blocks
/// are mined after it.
async fn reorg_keeping(anvil: &Anvil, from: u64, keep: B256) -> Result<()> {
    let provider = anvil.provider(0)?;
    let depth = provider.get_block_number().await? - from + 1;
    let raw = provider
        .raw_request::<_, Option<alloy::primitives::Bytes>>(
            "eth_getRawTransactionByHash".into(),
            (keep,),
        )
        .await?
        .ok_or_else(|| eyre::eyre!("no raw transaction {keep}"))?;
    rpc::call(
        &reqwest::Client::new(),
        anvil.endpoint(),
        "anvil_reorg",
        json!([depth, [[raw, 1]]]),
    )
    .await?;
    anvil.mine_blocks(2).await
}

/// The block `tx` is in on `provider`'s chain.
async fn block_of(provider: &impl Provider, tx: B256) -> Result<u64> {
    provider
        .get_transaction_receipt(tx)
        .await?
        .and_then(|r| r.block_number)
        .ok_or_else(|| eyre::eyre!("no receipt for {tx}"))
}

/// Issue 30: a reorg of the Arbitrum L2 before its send root. Two Arbitrum → L1 messages are
/// indexed while the kit's validator posts no send root (so neither can be relayed); then
/// `anvil_reorg` on the L2 replaces their blocks, keeping the first's transaction in another block
/// and dropping the second's. The router follows the first, parks the second with the reason,
/// takes the same message sent again in its place, and once send roots of the new branch reach
/// the real Outbox delivers each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arbitrum_reorg_before_the_send_root_moves_parks_and_takes_the_message_sent_again()
-> Result<()> {
    let mut env = Env::start_with(Some(ArbitrumOptions::default())).await?;
    let arb = env.stack.arbitrum()?;
    std::mem::replace(&mut env.flusher, Flusher::idle())
        .stop()
        .await?;
    let net = env.net.clone();
    let l2_chain = &net.arbitrum()?.l2;
    let l2 = l2_chain.provider(0)?;
    let l1_app = B256::left_padding_from(env.stack.l1_app.as_slice());
    let moved = env
        .stack
        .send_from_arbitrum(&net, L1_DOMAIN, l1_app, &[vec![U256::from(7)]])
        .await?[0];
    let orphaned = env
        .stack
        .send_from_arbitrum(&net, L1_DOMAIN, l1_app, &[vec![U256::from(8)]])
        .await?[0];
    for id in [moved, orphaned] {
        wait_until(&mut env, &id, "indexed", |m| m["source_block"].is_u64()).await?;
    }
    let before = env.message(&moved).await?;
    let moved_tx: B256 = before["source_tx"].as_str().unwrap_or_default().parse()?;
    let first_block = block_of(&l2, moved_tx).await?;
    ensure!(before["source_block"] == first_block, "{before:#}");

    // A few rounds pass first: the router looks at both exits and remembers their sends (of the
    // branch the reorg replaces) before it happens.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    reorg_keeping(l2_chain, first_block, moved_tx).await?;

    let parked = wait_until(&mut env, &orphaned, "parked", |m| m["stage"] == "parked").await?;
    let reason = parked["reason"].as_str().unwrap_or("");
    ensure!(
        reason.starts_with("its source transaction left the chain in a reorg"),
        "{parked:#}"
    );
    let new_block = block_of(&l2, moved_tx).await?;
    ensure!(new_block != first_block, "the transaction moved");
    let after = wait_until(&mut env, &moved, "in its new block", |m| {
        m["source_block"].as_u64() == Some(new_block)
    })
    .await?;
    ensure!(after["stage"] != "parked", "{after:#}");

    let again = env
        .stack
        .send_from_arbitrum(&net, L1_DOMAIN, l1_app, &[vec![U256::from(8)]])
        .await?[0];
    ensure!(
        again == orphaned,
        "sent again as {again}, parked as {orphaned}"
    );
    wait_until(&mut env, &orphaned, "sent again", |m| {
        m["stage"] != "parked"
    })
    .await?;

    // Send roots resume (of the new branch only): each delivered once.
    env.flusher = Flusher::start(env.net.clone(), Duration::from_millis(300));
    env.wait_for(&[moved, orphaned], "delivered", DELIVERY)
        .await?;
    let app = env.l1_app()?;
    let sender = B256::left_padding_from(arb.app.as_slice());
    ensure!(
        app.receivedFrom(arb.domain, sender).call().await? == U256::from(2),
        "the L1 app received each once"
    );
    check_each_hop_once(&env.relay_receipts().await?, 2)?;
    ensure!(
        reorgs_seen(&env, "arbitrum").await? >= 1,
        "a reorg counted on arbitrum"
    );
    env.flusher.stop().await?;
    Ok(())
}
