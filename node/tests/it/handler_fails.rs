//! Issue 30: a handler that fails on the destination. An L1 → Starknet message whose L1 handler
//! reverts there (its recipient has no `on_message`) and a Starknet → L1 message whose L1 app
//! reverts (the recipient is a contract without `onMessage`) are parked with the destination's
//! reason once their attempts are spent, nothing is paid for them, `xroute status` and the API say
//! what can be done, and `xroute retry` re-attempts them (refused again: parked again). The
//! Arbitrum test has a recipient that refuses before the Hub forwards and one that refuses only
//! when its retryable is redeemed.

use std::time::Duration;

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
};
use eyre::{Result, ensure};
use starknet_rust::core::types::Felt;
use xroute_proofs::envelope::MessageId;
use xroute_tests::{
    anvil::Anvil,
    arbitrum::ArbitrumOptions,
    artifacts::evm::{ArbitrumEndpoint, Hub, SampleApp},
    localnet::L1_KIT_ACCOUNT,
    router::{Flusher, check_each_hop_once},
    rpc,
    stack::{L1_DOMAIN, L2_KIT_ACCOUNT},
};

use crate::e2e_relay::{DELIVERY, Env, word};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_refuses_parks_the_message_with_its_reason_and_retry_tries_again()
-> Result<()> {
    let mut env = Env::start().await?;
    let sn = env.stack.starknets[0];
    // The Starknet Endpoint has no `on_message`: its L1 handler's call to it fails.
    let to_starknet = env
        .send_from_l1(sn.domain, word(sn.endpoint), vec![U256::from(1)], 0)
        .await?;
    // The Hub has no `onMessage`: the L1 delivery reverts.
    let hub = B256::left_padding_from(env.stack.hub.as_slice());
    let to_l1 = env
        .send_from_starknet(0, L1_DOMAIN, hub, &[vec![Felt::TWO]])
        .await?[0];
    // A good one beside them.
    let good = env
        .send_from_l1(sn.domain, word(sn.app), vec![U256::from(3)], 0)
        .await?;
    env.wait_for(&[good], "delivered", DELIVERY).await?;
    env.wait_for(&[to_starknet, to_l1], "parked", DELIVERY)
        .await?;
    for (id, says) in [
        (to_starknet, "starknet_estimateMessageFee failed (revert)"),
        (to_l1, "relay would revert"),
    ] {
        let m = env.message(&id).await?;
        let reason = m["reason"].as_str().unwrap_or_default();
        ensure!(reason.contains(says), "{id}: {m:#}");
        let advice = m["what_to_do"].as_str().unwrap_or_default();
        ensure!(
            advice.contains("The destination refuses the message")
                && advice.contains(&format!("xroute retry {id}")),
            "{m:#}"
        );
        let (code, out, err) = env.cli(&["status", &id.to_string()])?;
        ensure!(code == 0, "{err}");
        ensure!(out.contains("to do     The destination refuses"), "{out}");
    }
    // Nothing paid for the refused ones: the only L1 relay is the good one's.
    check_each_hop_once(&env.relay_receipts().await?, 1)?;
    // Retry: tried again from the start, refused again, parked again with the same reason.
    let (code, out, err) = env.cli(&["retry", &to_l1.to_string()])?;
    ensure!(code == 0 && out.contains("stage     sent"), "{out}{err}");
    env.wait_for(&[to_l1], "parked", DELIVERY).await?;
    let m = env.message(&to_l1).await?;
    let retried = m["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|t| t["note"] == "retried by operator")
                .count()
        })
        .unwrap_or(0);
    ensure!(retried == 1, "{m:#}");
    check_each_hop_once(&env.relay_receipts().await?, 1)?;
    env.flusher.stop().await?;
    Ok(())
}

/// Issue 30: an Arbitrum destination that refuses. A recipient that refuses when the router looks
/// (the Arbitrum Endpoint itself: no `onMessage`) is parked before the Hub pays for a retryable.
/// One that starts refusing after the router forwarded it (the app's code swapped for one that
/// reverts before the sequencer executes the ticket) makes the automatic redeem revert in
/// `receiveMessage`, and the ticket stays: the router finds the ticket's retry would revert, parks
/// the message with that reason without paying for a redeem, and says what to do. Once the app
/// accepts again, `xroute retry` redeems the ticket and the message is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arbitrum_recipient_that_refuses_is_parked_before_or_after_the_redeem() -> Result<()> {
    let mut env = Env::start_with(Some(ArbitrumOptions::default())).await?;
    let arb = env.stack.arbitrum()?;
    let net = env.net.clone();
    let hub = Hub::new(env.stack.hub, net.l1.provider(L1_KIT_ACCOUNT)?);
    let l2_chain = &net.arbitrum()?.l2;
    let l2 = l2_chain.provider(L2_KIT_ACCOUNT)?;
    let endpoint = ArbitrumEndpoint::new(arb.endpoint, &l2);

    // Refusing when the router looks: parked, never forwarded.
    let refused = env
        .send_from_l1(
            arb.domain,
            B256::left_padding_from(arb.endpoint.as_slice()),
            vec![U256::from(1)],
            0,
        )
        .await?;
    env.wait_for(&[refused], "parked", DELIVERY).await?;
    let m = env.message(&refused).await?;
    let reason = m["reason"].as_str().unwrap_or_default();
    ensure!(reason.contains("would reject it"), "{m:#}");
    ensure!(
        hub.outbound(refused.0).call().await? == U256::from(1),
        "not forwarded: no retryable paid"
    );

    // Refusing after the forward.
    let (later, code) = refused_at_the_redeem(&mut env, &[2]).await?;
    let later = later[0];
    ensure!(!endpoint.delivered(later.0).call().await?, "not delivered");
    let m = env.message(&later).await?;
    let reason = m["reason"].as_str().unwrap_or_default();
    ensure!(
        reason.contains("the ticket's retry") && reason.contains("revert"),
        "{m:#}"
    );
    let advice = m["what_to_do"].as_str().unwrap_or_default();
    ensure!(
        advice.contains("The destination refuses the message")
            && advice.contains(&format!("xroute retry {later}")),
        "{m:#}"
    );
    let redeems = |m: &serde_json::Value| {
        m["relays"]
            .as_array()
            .map(|r| r.iter().filter(|r| r["chain"] == "arbitrum").count())
            .unwrap_or(0)
    };
    ensure!(
        redeems(&m) == 0,
        "no redeem paid while it would revert: {m:#}"
    );

    // The app accepts again: `xroute retry` redeems the ticket once.
    set_code(l2_chain, arb.app, &code).await?;
    let (code, out, err) = env.cli(&["retry", &later.to_string()])?;
    ensure!(code == 0, "{out}{err}");
    env.wait_for(&[later], "delivered", DELIVERY).await?;
    ensure!(endpoint.delivered(later.0).call().await?, "delivered");
    let app = SampleApp::new(arb.app, &l2);
    let l1_app = B256::left_padding_from(env.stack.l1_app.as_slice());
    ensure!(
        app.receivedFrom(L1_DOMAIN, l1_app).call().await? == U256::from(1)
            && app.lastPayload(L1_DOMAIN, l1_app).call().await? == vec![U256::from(2)],
        "the app received the message once"
    );
    let m = env.message(&later).await?;
    ensure!(redeems(&m) == 1, "one redeem: {m:#}");
    env.flusher.stop().await?;
    Ok(())
}

/// Sends one L1 → Arbitrum message to the L2 sample app per payload word, with the kit's
/// sequencer held back until the Hub forwarded them all; then swaps the app's code for one that
/// reverts everything, lets the sequencer make the tickets (their automatic redeems revert in
/// `receiveMessage`) and waits until the router parks each. Returns the ids and the app's code
/// (what [`set_code`] puts back for the app to accept again).
pub(crate) async fn refused_at_the_redeem(
    env: &mut Env,
    words: &[u64],
) -> Result<(Vec<MessageId>, Bytes)> {
    let arb = env.stack.arbitrum()?;
    let net = env.net.clone();
    let hub = Hub::new(env.stack.hub, net.l1.provider(L1_KIT_ACCOUNT)?);
    let l2_chain = &net.arbitrum()?.l2;
    std::mem::replace(&mut env.flusher, Flusher::idle())
        .stop()
        .await?;
    let mut ids = Vec::with_capacity(words.len());
    for word in words {
        ids.push(
            env.send_from_l1(
                arb.domain,
                B256::left_padding_from(arb.app.as_slice()),
                vec![U256::from(*word)],
                0,
            )
            .await?,
        );
    }
    let start = std::time::Instant::now();
    for id in &ids {
        while !hub.outbound(id.0).call().await?.is_zero() {
            env.router.check_running()?;
            ensure!(start.elapsed() < DELIVERY, "{id} not forwarded");
            net.l1.mine().await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let code = l2_chain.provider(0)?.get_code_at(arb.app).await?;
    // PUSH1 0 PUSH1 0 REVERT: every call reverts.
    set_code(l2_chain, arb.app, &[0x60, 0x00, 0x60, 0x00, 0xfd]).await?;
    let report = net.step_arbitrum().await?;
    ensure!(
        report.retryables == ids.len() && report.auto_redeemed == ids.len(),
        "{report:?}"
    );
    env.flusher = Flusher::start(net.clone(), Duration::from_millis(300));
    env.wait_for(&ids, "parked", DELIVERY).await?;
    // On disk too (`/ready` flushes the store): a test that kills the router next finds them
    // parked after the restart (sled writes its log every 500 ms).
    let ready = reqwest::get(format!("{}/ready", env.router.api)).await?;
    ensure!(ready.status().is_success(), "/ready: {}", ready.status());
    Ok((ids, code))
}

/// `anvil_setCode` of `address` on `anvil`.
pub(crate) async fn set_code(anvil: &Anvil, address: Address, code: &[u8]) -> Result<()> {
    rpc::call(
        &reqwest::Client::new(),
        anvil.endpoint(),
        "anvil_setCode",
        serde_json::json!([address, alloy::primitives::hex::encode_prefixed(code)]),
    )
    .await?;
    Ok(())
}
