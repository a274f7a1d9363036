//! Issue 30: a handler that fails on the destination. An L1 → Starknet message whose L1 handler
//! reverts there (its recipient has no `on_message`) and a Starknet → L1 message whose L1 app
//! reverts (the recipient is a contract without `onMessage`) are parked with the destination's
//! reason once their attempts are spent, nothing is paid for them, `xroute status` and the API say
//! what can be done, and `xroute retry` re-attempts them (refused again: parked again).

use alloy::primitives::{B256, U256};
use eyre::{Result, ensure};
use starknet_rust::core::types::Felt;
use xroute_tests::{router::check_each_hop_once, stack::L1_DOMAIN};

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
