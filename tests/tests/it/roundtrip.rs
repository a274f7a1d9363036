//! The first real round trip: our Solidity and Cairo probes exchange messages through a real anvil
//! and a real starknet-devnet, with devnet's postman playing the Starknet state updates.

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloy::{
    primitives::{Address, U256},
    sol_types::SolEvent,
};
use eyre::{Result, ensure};
use starknet_rust::core::{types::Felt, utils::get_selector_from_name};
use xroute_proofs::starknet::{felt_to_u256, l1_to_l2_message_hash, l2_to_l1_message_hash};
use xroute_tests::{
    LocalNet,
    artifacts::{
        MESSAGING_PROBE,
        evm::{IStarknetMessaging, MessagingProbe},
    },
    localnet::L1_KIT_ACCOUNT,
};

/// Fee paid for the L2 side of an L1 → L2 message (devnet's mock needs 0 < fee ≤ 1 ether).
const L2_FEE_WEI: u64 = 1_000_000_000_000;

fn address_felt(address: Address) -> Felt {
    Felt::from_bytes_be_slice(address.as_slice())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l1_to_l2_message_is_executed_by_the_l1_handler() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let sn = net.starknet();
    let l2_probe = sn.devnet.deploy(0, &MESSAGING_PROBE, vec![]).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let l1_probe = MessagingProbe::deploy(&l1, sn.messaging).await?;
    let messaging = IStarknetMessaging::new(sn.messaging, &l1);

    // The handler takes `payload: Array<felt252>`, serialized as [len, items…].
    let items = [Felt::from(7u8), Felt::from_hex("0x1234abcd")?];
    let l1_payload: Vec<U256> = std::iter::once(U256::from(items.len()))
        .chain(items.iter().map(|f| felt_to_u256(*f)))
        .collect();
    let selector = get_selector_from_name("receive_from_l1")?;
    let nonce = messaging.l1ToL2MessageNonce().call().await?;
    let receipt = l1_probe
        .sendToL2(
            felt_to_u256(l2_probe),
            felt_to_u256(selector),
            l1_payload.clone(),
        )
        .value(U256::from(L2_FEE_WEI))
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(receipt.status(), "sendToL2 reverted: {receipt:?}");

    // Our hash of the message equals the one the messaging contract computed, and it is pending.
    let sent = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| MessagingProbe::SentToL2::decode_log(&log.inner).ok())
        .ok_or_else(|| eyre::eyre!("no SentToL2 event in {receipt:?}"))?;
    assert_eq!(sent.nonce, nonce);
    let l1_payload_felts: Vec<Felt> = l1_payload
        .iter()
        .map(|w| Felt::from_bytes_be(&w.to_be_bytes::<32>()))
        .collect();
    let expected = l1_to_l2_message_hash(
        *l1_probe.address(),
        l2_probe,
        selector,
        nonce,
        &l1_payload_felts,
    );
    assert_eq!(sent.msgHash, expected);
    assert_eq!(
        messaging.l1ToL2Messages(expected).call().await?,
        U256::from(L2_FEE_WEI + 1)
    );

    // Before the state update the L2 contract has seen nothing.
    assert_eq!(
        sn.devnet.call(l2_probe, "received_count", vec![]).await?,
        vec![Felt::ZERO]
    );

    let report = net.flush(0).await?;
    assert_eq!(report.messages_to_l2.len(), 1, "{report:?}");
    assert_eq!(report.generated_l2_transactions.len(), 1, "{report:?}");
    sn.devnet
        .wait_for_success(report.generated_l2_transactions[0])
        .await?;

    assert_eq!(
        sn.devnet.call(l2_probe, "received_count", vec![]).await?,
        vec![Felt::ONE]
    );
    let last = sn.devnet.call(l2_probe, "last_received", vec![]).await?;
    let mut want = vec![address_felt(*l1_probe.address()), Felt::from(items.len())];
    want.extend(items);
    assert_eq!(last, want, "L2 storage holds the sender and payload");

    // A second state update does not deliver the message again.
    let again = net.flush(0).await?;
    assert!(again.generated_l2_transactions.is_empty(), "{again:?}");
    assert_eq!(
        sn.devnet.call(l2_probe, "received_count", vec![]).await?,
        vec![Felt::ONE]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l2_to_l1_message_is_consumed_exactly_once() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let sn = net.starknet();
    let l2_probe = sn.devnet.deploy(0, &MESSAGING_PROBE, vec![]).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let l1_probe = MessagingProbe::deploy(&l1, sn.messaging).await?;
    let messaging = IStarknetMessaging::new(sn.messaging, &l1);

    let payload = [Felt::from(3u8), Felt::from_hex("0xdeadbeef")?, Felt::MAX];
    let mut calldata = vec![address_felt(*l1_probe.address()), Felt::from(payload.len())];
    calldata.extend(payload);
    sn.devnet
        .invoke(0, l2_probe, "send_to_l1", calldata)
        .await?;

    let hash = l2_to_l1_message_hash(l2_probe, *l1_probe.address(), &payload);
    assert_eq!(
        messaging.l2ToL1Messages(hash).call().await?,
        U256::ZERO,
        "not before the state update"
    );

    let report = net.flush(0).await?;
    assert_eq!(report.messages_to_l1.len(), 1, "{report:?}");
    assert_eq!(report.messages_to_l1[0].payload, payload);
    assert_eq!(
        messaging.l2ToL1Messages(hash).call().await?,
        U256::from(1),
        "consumable on L1"
    );

    let words: Vec<U256> = payload.iter().map(|f| felt_to_u256(*f)).collect();
    let receipt = l1_probe
        .consumeFromL2(felt_to_u256(l2_probe), words.clone())
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(receipt.status(), "consumeFromL2 reverted: {receipt:?}");
    let consumed = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| MessagingProbe::ConsumedFromL2::decode_log(&log.inner).ok())
        .ok_or_else(|| eyre::eyre!("no ConsumedFromL2 event in {receipt:?}"))?;
    assert_eq!(consumed.msgHash, hash);
    assert_eq!(
        messaging.l2ToL1Messages(hash).call().await?,
        U256::ZERO,
        "slot cleared"
    );
    assert_eq!(l1_probe.consumedCount().call().await?, U256::from(1));

    let second = l1_probe
        .consumeFromL2(felt_to_u256(l2_probe), words)
        .send()
        .await;
    let error = second
        .expect_err("a second consume must revert")
        .to_string();
    assert!(
        error.contains("INVALID_MESSAGE_TO_CONSUME"),
        "unexpected error: {error}"
    );
    assert_eq!(l1_probe.consumedCount().call().await?, U256::from(1));
    Ok(())
}
