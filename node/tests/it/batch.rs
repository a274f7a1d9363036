#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Relays batched into one L1 transaction, end to end: the `xroute` binary over a real anvil and
//! devnet. Everything is read back from L1: the relayer's transactions and the hops their
//! receipts show, the L1 app's counters, the parked message's reason.

use std::{path::Path, sync::Arc, time::Duration};

use alloy::primitives::{B256, U256};
use eyre::{Result, bail};
use starknet_rust::core::types::Felt;
use xroute_proofs::envelope::MessageId;
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::SampleApp,
    localnet::L1_KIT_ACCOUNT,
    process::free_port,
    router::{
        Flusher, RouterOptions, RouterProcess, check_each_hop_once, relay_transactions,
        write_config,
    },
    stack::L1_DOMAIN,
};

use super::store_backup::wait_delivered;

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");

/// Waits until the router has sent every relay (nothing `sent` or `proven` is left) and some are
/// still in flight (`relaying`).
async fn wait_all_sent(router: &mut RouterProcess, ids: &[MessageId]) -> Result<()> {
    let start = std::time::Instant::now();
    loop {
        router.check_running()?;
        // Every one of `ids` indexed and its relay sent (a message the router has not indexed
        // yet is in no stage, so counting stages alone could end the wait early).
        let mut all = true;
        for id in ids {
            let m = router.get(&format!("/messages/{id}")).await?;
            all &= matches!(
                m["stage"].as_str(),
                Some("relaying" | "relayed" | "delivered")
            );
            if !all {
                break;
            }
        }
        if all {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(180) {
            let stats = router.stats().await?;
            bail!(
                "relays not all sent after 180 s: {stats}\nrouter log:\n{}",
                router.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// 64 Starknet → L1 messages become consumable in one state update: the router relays them in at
/// most 4 L1 transactions, each hop once. A 65th message of the same update, to an L1 address
/// without code, would revert: the simulation leaves it out and it is parked with its reason,
/// while the batch delivers the others. Then 64 more, and the router is SIGKILLed while their
/// batches are mined but not final: after the restart nothing is lost or made twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ready_relays_go_in_batches_and_a_kill_mid_batch_loses_and_doubles_nothing() -> Result<()> {
    let net = Arc::new(LocalNet::start(1).await?);
    let stack = XrouteStack::deploy(&net).await?;
    let l1_app = B256::left_padding_from(stack.l1_app.as_slice());
    let payloads = |from: u64, n: u64| -> Vec<Vec<Felt>> {
        (from..from + n)
            .map(|i| vec![Felt::from(i), Felt::TWO])
            .collect()
    };
    // All sent before any state update, then one update makes them consumable together.
    let mut ids = stack
        .send_from_starknet(&net, 0, L1_DOMAIN, l1_app, &payloads(0, 32))
        .await?;
    let nowhere = B256::left_padding_from(&[0xde, 0xad, 0xbe, 0xef]);
    let bad = stack
        .send_from_starknet(&net, 0, L1_DOMAIN, nowhere, &[vec![Felt::ONE]])
        .await?[0];
    ids.extend(
        stack
            .send_from_starknet(&net, 0, L1_DOMAIN, l1_app, &payloads(32, 32))
            .await?,
    );
    net.flush(0).await?;
    net.l1.mine().await?;

    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let options = RouterOptions::default();
    let config = write_config(dir.path(), &net, &stack, port, &options)?;
    let mut router = RouterProcess::start(Path::new(XROUTE), &config, port).await?;
    let mut flusher = Flusher::start(net.clone(), Duration::from_millis(300));
    wait_delivered(&mut router, &mut flusher, &ids).await?;
    let m = router.get(&format!("/messages/{bad}")).await?;
    assert_eq!(m["stage"], "parked", "{m:#}");
    assert!(
        m["reason"]
            .as_str()
            .unwrap_or("")
            .contains("is not a contract on L1"),
        "{m:#}"
    );
    let app = SampleApp::new(stack.l1_app, net.l1.provider(L1_KIT_ACCOUNT)?);
    assert_eq!(app.totalReceived().call().await?, U256::from(64));
    let relayer = net.l1.address(options.l1_account)?;
    let txs = relay_transactions(&net, &[relayer], stack.hub).await?;
    check_each_hop_once(&txs, 64)
        .map_err(|e| eyre::eyre!("{e}\nrouter log:\n{}", router.log_tail()))?;
    eprintln!(
        "64 hops in {} L1 transactions: {:?}",
        txs.len(),
        txs.iter()
            .map(|t| (t.hops.len(), t.gas_used))
            .collect::<Vec<_>>()
    );
    assert!(txs.len() <= 4, "{txs:?}");
    // Each record names its batch transaction.
    let m = router.get(&format!("/messages/{}", ids[0])).await?;
    let notes: Vec<&str> = m["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["note"].as_str())
        .collect();
    assert!(notes.iter().any(|n| n.contains("batch of")), "{notes:?}");

    // The metrics count the batches.
    let text = reqwest::get(format!("{}/metrics", router.api))
        .await?
        .text()
        .await?;
    assert!(
        text.lines()
            .any(|l| l.starts_with("xroute_relay_batch_members_total") && !l.ends_with(" 0")),
        "{text}"
    );

    // 64 more, ready at once; the postman is held back after their update so the batches are
    // mined but never final before the kill.
    flusher.stop().await?;
    let more = stack
        .send_from_starknet(&net, 0, L1_DOMAIN, l1_app, &payloads(100, 64))
        .await?;
    net.flush(0).await?;
    net.l1.mine().await?;
    wait_all_sent(&mut router, &more).await?;
    let before_kill = relay_transactions(&net, &[relayer], stack.hub).await?;
    assert!(
        before_kill.len() > txs.len(),
        "the batches went out before the kill"
    );
    router.kill_and_restart().await?;
    let mut flusher = Flusher::start(net.clone(), Duration::from_millis(300));
    wait_delivered(&mut router, &mut flusher, &more).await?;
    assert_eq!(app.totalReceived().call().await?, U256::from(128));
    let after = relay_transactions(&net, &[relayer], stack.hub).await?;
    check_each_hop_once(&after, 128)?;
    assert_eq!(
        after.len(),
        before_kill.len(),
        "the restarted router sent nothing new: {after:?}"
    );
    // (The postman posts the update's messages over several L1 blocks, and a running router
    // proves each block's as it becomes final: these batches are smaller.)
    eprintln!(
        "64 more hops in {} L1 transactions: {:?}",
        after.len() - txs.len(),
        after[txs.len()..]
            .iter()
            .map(|t| t.hops.len())
            .collect::<Vec<_>>()
    );
    assert!(after[txs.len()..].iter().any(|t| t.hops.len() > 1));
    let stats = router.stats().await?;
    assert_eq!(stats["delivered"], 128, "{stats}");
    assert_eq!(stats["parked"], 1, "{stats}");
    flusher.stop().await?;
    Ok(())
}
