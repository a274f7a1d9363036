#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End to end with the local Arbitrum: the real nitro-contracts bridge on the L1 anvil, an L2
//! anvil, the sequencer/validator loop, Starknet and the appchain on devnets, and the `xroute`
//! binary as a process. Every Arbitrum route goes through the Hub on L1, each hop proven by the
//! rollup's own L1 contracts; outcomes are read from the chains.

use std::{path::Path, time::Duration};

use alloy::{
    consensus::Transaction as _,
    primitives::{B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use eyre::{Result, bail};
use starknet_rust::core::types::Felt;
use xroute_proofs::envelope::MessageId;
use xroute_tests::{
    LocalNet, XrouteStack,
    arbitrum::ArbitrumOptions,
    artifacts::evm::{ArbitrumEndpoint, Hub, SampleApp},
    localnet::L1_KIT_ACCOUNT,
    process::free_port,
    router::{RouterOptions, RouterProcess, check_each_hop_once, write_config},
    stack::{L1_DOMAIN, L2_KIT_ACCOUNT},
};

use super::e2e_relay::{DELIVERY, Env, word};

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");

fn address_word(a: alloy::primitives::Address) -> B256 {
    B256::left_padding_from(a.as_slice())
}

/// The `Hub.relayFromArbitrum` call of the router's relay transaction for `id`: the transaction's
/// own call, or its member in a `relayBatch`.
async fn relay_call_of(env: &Env, id: &MessageId) -> Result<Hub::relayFromArbitrumCall> {
    let m = env.message(id).await?;
    let hash: B256 = m["relays"][0]["tx_hash"].as_str().unwrap().parse()?;
    let tx = env
        .net
        .l1
        .provider(L1_KIT_ACCOUNT)?
        .get_transaction_by_hash(hash)
        .await?
        .unwrap();
    if let Ok(call) = Hub::relayFromArbitrumCall::abi_decode(tx.input()) {
        return Ok(call);
    }
    let batch = Hub::relayBatchCall::abi_decode(tx.input())?;
    for member in batch.members {
        if let Ok(call) = Hub::relayFromArbitrumCall::abi_decode(&member.call) {
            let words: Vec<u8> = call
                .e
                .words
                .iter()
                .flat_map(|w| w.to_be_bytes::<32>())
                .collect();
            if alloy::primitives::keccak256(&words) == id.0 {
                return Ok(call);
            }
        }
    }
    eyre::bail!("relay tx {hash} carries no relayFromArbitrum of {id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_arbitrum_route_is_delivered_once_through_the_hub() -> Result<()> {
    let mut env = Env::start_with(Some(ArbitrumOptions::default())).await?;
    let arb = env.stack.arbitrum()?;
    let sn = env.stack.starknets[0];
    let app3 = env.stack.starknets[1];
    let l1_recipient = address_word(env.stack.l1_app);

    // Arbitrum → L1, Arbitrum → Starknet, Arbitrum → appchain (leaves 0, 1, 2 of the L2's sends).
    let from_arb = env
        .stack
        .send_from_arbitrum(
            &env.net,
            L1_DOMAIN,
            l1_recipient,
            &[vec![U256::from(7), U256::from(8)]],
        )
        .await?;
    let arb_to_sn = env
        .stack
        .send_from_arbitrum(&env.net, sn.domain, word(sn.app), &[vec![U256::from(31)]])
        .await?;
    let arb_to_app3 = env
        .stack
        .send_from_arbitrum(
            &env.net,
            app3.domain,
            word(app3.app),
            &[vec![U256::from(41)]],
        )
        .await?;
    // L1 → Arbitrum (the app escrows nothing: the router quotes and pays the retryable).
    let l1_to_arb = env
        .send_from_l1(
            arb.domain,
            address_word(arb.app),
            vec![U256::from(11), U256::from(12)],
            0,
        )
        .await?;
    // Starknet → Arbitrum.
    let sn_to_arb = env
        .send_from_starknet(
            0,
            arb.domain,
            address_word(arb.app),
            &[vec![Felt::from(21u8)]],
        )
        .await?;
    let all = [
        from_arb[0],
        arb_to_sn[0],
        arb_to_app3[0],
        l1_to_arb,
        sn_to_arb[0],
    ];
    env.wait_for(&all, "delivered", DELIVERY).await?;

    // Payloads where they were sent to, each once.
    let arb_sender = address_word(arb.app);
    let app = env.l1_app()?;
    assert_eq!(
        app.lastPayload(arb.domain, arb_sender).call().await?,
        vec![U256::from(7), U256::from(8)]
    );
    assert_eq!(
        app.receivedFrom(arb.domain, arb_sender).call().await?,
        U256::from(1)
    );
    let l2 = env.net.arbitrum()?.l2.provider(L2_KIT_ACCOUNT)?;
    let l2_app = SampleApp::new(arb.app, &l2);
    assert_eq!(
        l2_app
            .lastPayload(L1_DOMAIN, address_word(env.stack.l1_app))
            .call()
            .await?,
        vec![U256::from(11), U256::from(12)]
    );
    assert_eq!(
        l2_app.lastPayload(sn.domain, word(sn.app)).call().await?,
        vec![U256::from(21)]
    );
    assert_eq!(l2_app.totalReceived().call().await?, U256::from(2));
    let endpoint = ArbitrumEndpoint::new(arb.endpoint, &l2);
    assert!(endpoint.delivered(l1_to_arb.0).call().await?);
    assert!(endpoint.delivered(sn_to_arb[0].0).call().await?);
    let devnet = &env.net.starknets[0].devnet;
    let from = vec![
        Felt::from(arb.domain),
        Felt::from_bytes_be_slice(arb.app.as_slice()),
    ];
    assert_eq!(
        devnet.call(sn.app, "last_payload", from.clone()).await?,
        vec![Felt::ONE, Felt::from(31u8)]
    );
    let appchain = &env.net.starknets[1].devnet;
    assert_eq!(
        appchain.call(app3.app, "received_from", from).await?,
        vec![Felt::ONE]
    );
    let m = env.message(&from_arb[0]).await?;
    assert_eq!(m["route"], "arbitrum → ethereum", "{m:#}");

    // Consumed once: each Arbitrum exit's leaf is spent in the real Outbox, and executing it
    // again reverts AlreadySpent.
    let l1 = env.net.l1.provider(L1_KIT_ACCOUNT)?;
    let outbox = env.net.arbitrum()?.outbox(&l1);
    for id in [from_arb[0], arb_to_sn[0], arb_to_app3[0]] {
        let relay = relay_call_of(&env, &id).await?;
        assert!(outbox.isSpent(relay.e.index).call().await?, "leaf of {id}");
        let again = TransactionRequest::default()
            .to(env.net.arbitrum()?.bridge.outbox)
            .input(
                xroute_tests::arbitrum::IOutbox::executeTransactionCall {
                    proof: relay.e.proof.clone(),
                    index: relay.e.index,
                    l2Sender: arb.endpoint,
                    to: env.stack.hub,
                    l2Block: relay.e.l2Block,
                    l1Block: relay.e.l1Block,
                    l2Timestamp: relay.e.l2Timestamp,
                    value: U256::ZERO,
                    data: Hub::receiveFromArbitrumCall {
                        words: relay.e.words.clone(),
                    }
                    .abi_encode()
                    .into(),
                }
                .abi_encode()
                .into(),
            );
        let err = l1.call(again).await.unwrap_err();
        let data = err
            .as_error_resp()
            .and_then(|e| e.as_revert_data())
            .unwrap_or_default();
        assert_eq!(
            &data[..4],
            &[0x97, 0x15, 0xb8, 0xd3],
            "AlreadySpent for {id}"
        );
    }
    // Every hop through the Hub made once, in successful relay transactions (batched or not).
    let receipts = env.relay_receipts().await?;
    check_each_hop_once(&receipts, all.len())?;
    eprintln!(
        "{} hops in {} relay transactions: {:?}",
        all.len(),
        receipts.len(),
        receipts.iter().map(|t| t.hops.len()).collect::<Vec<_>>()
    );
    env.flusher.stop().await?;
    Ok(())
}

/// Waits (mining L1 blocks and stepping the local Arbitrum) until message `id` is in `stage`.
async fn wait_stage(
    router: &mut RouterProcess,
    net: &LocalNet,
    id: &MessageId,
    stage: &str,
) -> Result<serde_json::Value> {
    let start = std::time::Instant::now();
    loop {
        router.check_running()?;
        let m = router.get(&format!("/messages/{id}")).await?;
        let now = m["stage"].as_str().unwrap_or("").to_string();
        if now == stage {
            return Ok(m);
        }
        if ["delivered", "parked", "dropped"].contains(&now.as_str()) {
            bail!("message is {now}, expected {stage}: {m:#}");
        }
        if start.elapsed() > DELIVERY {
            bail!("not {stage}: {m:#}\nrouter log:\n{}", router.log_tail());
        }
        net.l1.mine().await?;
        net.step_arbitrum().await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A retryable whose automatic redeem runs out of gas (the L2 app got costlier between the
/// router's quote and the ticket's execution) is noticed by the router; while its retry cannot
/// pass it is parked with the reason, and after `xroute retry` the router redeems it from its L2
/// account and it is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retryable_whose_auto_redeem_fails_is_redeemed_by_the_router() -> Result<()> {
    let net = LocalNet::start_with(0, Some(ArbitrumOptions::default())).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let arb = stack.arbitrum()?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    // With an API token: the write routes (retry below) need it.
    let token = "arb-redeem-test-token-0123456789";
    let options = RouterOptions {
        api_token: Some(token.into()),
        ..RouterOptions::default()
    };
    let config = write_config(dir.path(), &net, &stack, port, &options)?;
    let mut router = RouterProcess::start(Path::new(XROUTE), &config, port).await?;
    let l2 = net.arbitrum()?.l2.provider(L2_KIT_ACCOUNT)?;
    let l2_app = SampleApp::new(arb.app, &l2);

    let id = stack
        .send_from_l1(
            &net,
            arb.domain,
            address_word(arb.app),
            vec![U256::from(3)],
            0,
        )
        .await?;
    // The router forwards it (the Hub creates the retryable) ...
    let hub = Hub::new(stack.hub, net.l1.provider(L1_KIT_ACCOUNT)?);
    let start = std::time::Instant::now();
    // (`outbound[id]` goes to 0 when the Hub forwards it.)
    while !hub.outbound(id.0).call().await?.is_zero() {
        router.check_running()?;
        if start.elapsed() > DELIVERY {
            bail!("not forwarded; router log:\n{}", router.log_tail());
        }
        net.l1.mine().await?; // L1 blocks go on (the router waits for one confirmation)
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ... then the app gets far costlier before the sequencer executes the ticket: the automatic
    // redeem runs out of gas and leaves the ticket, and so would any redeem (its retry does not
    // fit in a block).
    let receipt = l2_app
        .setWork(U256::from(40_000))
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let report = net.step_arbitrum().await?;
    assert_eq!(report.retryables, 1);
    assert_eq!(
        report.auto_redeemed, 1,
        "the automatic redeem ran (and failed)"
    );
    let endpoint = ArbitrumEndpoint::new(arb.endpoint, &l2);
    assert!(!endpoint.delivered(id.0).call().await?);
    // The router notices (ticket alive, no delivery), finds its retry cannot pass, and parks the
    // message with the reason after its attempts instead of paying for redeems.
    let parked = wait_stage(&mut router, &net, &id, "parked").await?;
    let reason = parked["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("the ticket's retry"), "{parked:#}");
    // The app is fixed (cheaper, still costlier than the quote); `xroute retry` redeems again.
    let receipt = l2_app
        .setWork(U256::from(3_000))
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    // Without the token (or with a wrong one) the write route refuses, and nothing changes.
    let url = format!("{}/messages/{id}/retry", router.api);
    let client = reqwest::Client::new();
    assert_eq!(client.post(&url).send().await?.status(), 401);
    let wrong = client
        .post(&url)
        .bearer_auth("not-the-token-0123456789")
        .send()
        .await?;
    assert_eq!(wrong.status(), 401);
    let out = std::process::Command::new(XROUTE)
        .args(["retry", &id.to_string(), "--api", &router.api])
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs the API token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = router.get(&format!("/messages/{id}")).await?;
    assert_eq!(
        m["stage"], "parked",
        "refused requests changed nothing: {m:#}"
    );
    // `xroute retry --config` reads the token from the router's config and sends it.
    let out = std::process::Command::new(XROUTE)
        .args(["retry", &id.to_string(), "--config"])
        .arg(&config)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_stage(&mut router, &net, &id, "delivered").await?;
    assert!(endpoint.delivered(id.0).call().await?);
    assert_eq!(
        l2_app
            .receivedFrom(L1_DOMAIN, address_word(stack.l1_app))
            .call()
            .await?,
        U256::from(1),
        "delivered once"
    );
    assert_ne!(
        l2_app.workDone().call().await?,
        B256::ZERO,
        "the work was done"
    );
    // One redeem, from the router's L2 account to ArbRetryableTx.
    let router_l2 = net.arbitrum()?.l2.address(options.l1_account)?;
    let m = router.get(&format!("/messages/{id}")).await?;
    let redeems: Vec<&serde_json::Value> = m["relays"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["chain"] == "arbitrum")
        .collect();
    assert_eq!(redeems.len(), 1, "{m:#}");
    let hash: B256 = redeems[0]["tx_hash"].as_str().unwrap().parse()?;
    let tx = l2.get_transaction_by_hash(hash).await?.unwrap();
    assert_eq!(tx.inner.signer(), router_l2);
    assert_eq!(
        tx.to(),
        Some(xroute_adapters::evm::arbitrum::ARB_RETRYABLE_TX)
    );
    Ok(())
}
