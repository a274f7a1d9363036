#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `xroute store backup | restore` with the `xroute` binary on a real local network: a backup
//! taken while the router relays, restored into a fresh store folder after the router was
//! SIGKILLed and its store lost; the restored router resumes without losing or doubling a
//! message (counted from the L1 app and the relay transactions on chain).

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
    router::{Flusher, RouterOptions, RouterProcess, relay_transactions, write_config},
    stack::L1_DOMAIN,
};

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");

fn xroute(args: &[&str], config: &Path) -> (i32, String, String) {
    let out = std::process::Command::new(XROUTE)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until every id is delivered (fails at once on a parked or dropped one, or after 180 s).
pub(crate) async fn wait_delivered(
    router: &mut RouterProcess,
    flusher: &mut Flusher,
    ids: &[MessageId],
) -> Result<()> {
    let start = std::time::Instant::now();
    for id in ids {
        loop {
            router.check_running()?;
            flusher.check().await?;
            let m = router.get(&format!("/messages/{id}")).await?;
            match m["stage"].as_str().unwrap_or("") {
                "delivered" => break,
                "parked" | "dropped" => bail!("{m:#}"),
                _ => {}
            }
            if start.elapsed() > Duration::from_secs(180) {
                bail!("{id} not delivered: {m:#}\n{}", router.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_running_restores_a_router_that_loses_and_doubles_nothing()
-> Result<()> {
    let net = Arc::new(LocalNet::start(1).await?);
    let stack = XrouteStack::deploy(&net).await?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let options = RouterOptions {
        api_token: Some("backup-test-token-0123456789".into()),
        keystore_passphrase: Some("backup test passphrase".into()),
        ..RouterOptions::default()
    };
    let config = write_config(dir.path(), &net, &stack, port, &options)?;
    // The router's keys are encrypted keystores; `run` reads the passphrase from --password-file.
    let pass = dir.path().join("keystore.pass");
    let run_args = ["--password-file", pass.to_str().unwrap()];
    let mut router =
        RouterProcess::start_with_args(Path::new(XROUTE), &config, port, &run_args).await?;
    let mut flusher = Flusher::start(net.clone(), Duration::from_millis(300));
    let l1_app = B256::left_padding_from(stack.l1_app.as_slice());
    let payloads = |from: u64, n: u64| -> Vec<Vec<Felt>> {
        (from..from + n).map(|i| vec![Felt::from(i)]).collect()
    };
    let mut ids = stack
        .send_from_starknet(&net, 0, L1_DOMAIN, l1_app, &payloads(0, 10))
        .await?;
    wait_delivered(&mut router, &mut flusher, &ids).await?;
    // More in flight while the running router makes the copy (through its API, with the token).
    ids.extend(
        stack
            .send_from_starknet(&net, 0, L1_DOMAIN, l1_app, &payloads(10, 10))
            .await?,
    );
    let backup = dir.path().join("backup");
    let (code, out, err) = xroute(
        &["store", "backup", "--to", backup.to_str().unwrap()],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("the running router copied its store"),
        "{out}"
    );
    // A second backup never overwrites the first.
    let (code, _, err) = xroute(
        &["store", "backup", "--to", backup.to_str().unwrap()],
        &config,
    );
    assert_eq!(code, 1);
    assert!(err.contains("exists and is not empty"), "{err}");

    // The router dies and its store is lost; a restore into a running router's store is refused.
    let (code, _, err) = xroute(
        &["store", "restore", "--from", backup.to_str().unwrap()],
        &config,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("stop the router") || err.contains("already holds"),
        "{err}"
    );
    router.kill()?;
    std::fs::remove_dir_all(dir.path().join("store"))?;
    let (code, out, err) = xroute(
        &["store", "restore", "--from", backup.to_str().unwrap()],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("restored "), "{out}");
    let mut router =
        RouterProcess::start_with_args(Path::new(XROUTE), &config, port, &run_args).await?;
    ids.extend(
        stack
            .send_from_starknet(&net, 0, L1_DOMAIN, l1_app, &payloads(20, 5))
            .await?,
    );
    wait_delivered(&mut router, &mut flusher, &ids).await?;
    assert_eq!(ids.len(), 25);
    let app = SampleApp::new(stack.l1_app, net.l1.provider(L1_KIT_ACCOUNT)?);
    assert_eq!(
        app.totalReceived().call().await?,
        U256::from(25),
        "each once"
    );
    let relayer = net.l1.address(options.l1_account)?;
    let txs = relay_transactions(&net, &[relayer], stack.hub).await?;
    assert_eq!(
        xroute_tests::router::hop_counts(&txs).1,
        25,
        "one successful relay per message: {txs:?}"
    );
    // Stopped: the backup is taken directly from the store folder.
    router.interrupt().await?;
    let second = dir.path().join("backup-2");
    let (code, out, err) = xroute(
        &["store", "backup", "--to", second.to_str().unwrap()],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("copied the stopped router's store") && out.contains(": 25 messages"),
        "{out}"
    );
    flusher.stop().await?;
    Ok(())
}

/// `node.keep_delivered_s`: a router keeping delivered records 2 s relays a Starknet → L1
/// message; once it was delivered longer than that, its record is pruned. `GET /messages/{id}`
/// answers 410 naming the delivery, `/stats` still counts it delivered, the metric counts one
/// pruned record, the L1 app received it once, and after a restart on the same store `/stats`
/// still counts it delivered with nothing sent. (That a re-scan of its block does not take it for
/// new is the store test's: `insert_new` refuses a pruned id.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_record_is_pruned_after_its_time_and_the_message_stays_known() -> Result<()> {
    let mut env = crate::e2e_relay::Env::start().await?;
    xroute_tests::router::edit_config(env.router.config(), |c| c.node.keep_delivered_s = 2)?;
    env.router.kill_and_restart().await?;
    let l1_app = B256::left_padding_from(env.stack.l1_app.as_slice());
    let payload = vec![Felt::from(41u32)];
    let ids = env
        .send_from_starknet(0, L1_DOMAIN, l1_app, std::slice::from_ref(&payload))
        .await?;
    env.wait_for(&ids, "delivered", crate::e2e_relay::DELIVERY)
        .await?;
    let url = format!("{}/messages/{}", env.router.api, ids[0]);
    let start = std::time::Instant::now();
    let gone = loop {
        let resp = reqwest::get(&url).await?;
        if resp.status().as_u16() == 410 {
            break resp.json::<serde_json::Value>().await?;
        }
        if start.elapsed() > Duration::from_secs(20) {
            bail!(
                "message {} still whole after 20 s: {}",
                ids[0],
                resp.status()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let said = gone["error"].as_str().unwrap_or_default();
    if !said.contains("was delivered") || !said.contains("keep_delivered_s") {
        bail!("the 410 does not say what happened: {gone}");
    }
    let delivered = |s: &serde_json::Value| s["delivered"].as_u64();
    let stats = env.router.stats().await?;
    if delivered(&stats) != Some(1) {
        bail!("a pruned message still counts as delivered: {stats}");
    }
    let metrics = reqwest::get(format!("{}/metrics", env.router.api))
        .await?
        .text()
        .await?;
    if !metrics
        .lines()
        .any(|l| l == "xroute_pruned_records_total 1")
    {
        bail!("xroute_pruned_records_total is not 1");
    }
    // A restart on the same store: still delivered, nothing new.
    env.router.get("/ready").await?;
    env.router.kill_and_restart().await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = env.router.stats().await?;
    if delivered(&stats) != Some(1) || stats["sent"].as_u64() != Some(0) {
        bail!("after a restart: {stats}");
    }
    let l1 = env.net.l1.provider(L1_KIT_ACCOUNT)?;
    let from = crate::e2e_relay::word(env.stack.starknets[0].app);
    let got = SampleApp::new(env.stack.l1_app, &l1)
        .receivedFrom(env.stack.starknets[0].domain, from)
        .call()
        .await?;
    if got != U256::from(1) {
        bail!("the L1 app received {got} messages, not 1");
    }
    env.flusher.stop().await?;
    Ok(())
}
