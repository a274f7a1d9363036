//! The L1 Hub, the Starknet Endpoint and the sample apps on real chains, with the test playing
//! the relayer: Starknet → L1, L1 → Starknet and Starknet → appchain through the Hub, replays
//! rejected, and the typed reverts a router turns into `Parked` reasons.

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloy::primitives::{B256, U256};
use eyre::Result;
use starknet_rust::core::{types::Felt, utils::get_selector_from_name};
use xroute_proofs::{
    envelope::Envelope,
    starknet::{felt_to_u256, l2_to_l1_message_hash},
};
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::{Hub, IStarknetMessaging, MessagingProbe, SampleApp},
    localnet::L1_KIT_ACCOUNT,
    stack::{L1_DOMAIN, hub_sent},
};

/// L2 fee paid for a leg into a Starknet-family chain.
const L2_FEE: u64 = 1_000_000_000_000;

fn word(f: Felt) -> B256 {
    B256::from(f.to_bytes_be())
}

fn words(e: &Envelope) -> Vec<U256> {
    e.to_words()
        .iter()
        .map(|w| U256::from_be_bytes(w.0))
        .collect()
}

/// Sends from the Starknet sample app of devnet `chain` and returns the envelope it sent.
async fn send_from_starknet(
    net: &LocalNet,
    stack: &XrouteStack,
    chain: usize,
    nonce: u64,
    dst_domain: u32,
    recipient: B256,
    payload: &[Felt],
) -> Result<Envelope> {
    let d = stack.starknets[chain];
    let mut calldata = vec![
        Felt::from(dst_domain),
        Felt::from_bytes_be(&recipient.0),
        Felt::from(payload.len()),
    ];
    calldata.extend_from_slice(payload);
    net.starknets[chain]
        .devnet
        .invoke(0, d.app, "send", calldata)
        .await?;
    Ok(Envelope {
        src_domain: d.domain,
        nonce,
        sender: word(d.app),
        dst_domain,
        recipient,
        payload: payload.iter().map(|f| word(*f)).collect(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_through_the_hub_in_every_direction() -> Result<()> {
    let net = LocalNet::start(2).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let hub = Hub::new(stack.hub, &l1);
    let l1_app = SampleApp::new(stack.l1_app, &l1);
    let (sn, app3) = (stack.starknets[0], stack.starknets[1]);

    // Starknet app → L1 app.
    let payload = [Felt::from(7u8), Felt::from_hex("0xabcdef")?];
    let e = send_from_starknet(
        &net,
        &stack,
        0,
        0,
        L1_DOMAIN,
        B256::left_padding_from(stack.l1_app.as_slice()),
        &payload,
    )
    .await?;
    let report = net.flush(0).await?;
    assert_eq!(report.messages_to_l1.len(), 1);
    assert_eq!(
        report.messages_to_l1[0].payload,
        e.to_felts()?,
        "the endpoint sent the canonical envelope"
    );
    assert_eq!(report.messages_to_l1[0].to_address, stack.hub);
    let messaging = IStarknetMessaging::new(net.starknets[0].messaging, &l1);
    let l2_hash = l2_to_l1_message_hash(sn.endpoint, stack.hub, &e.to_felts()?);
    assert_eq!(
        messaging.l2ToL1Messages(l2_hash).call().await?,
        U256::from(1)
    );
    let receipt = hub
        .relayFromStarknet(
            sn.domain,
            felt_to_u256(sn.endpoint),
            words(&e),
            Default::default(),
        )
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    assert_eq!(
        l1_app.receivedFrom(sn.domain, word(sn.app)).call().await?,
        U256::from(1)
    );
    let got: Vec<U256> = l1_app.lastPayload(sn.domain, word(sn.app)).call().await?;
    assert_eq!(
        got,
        payload.iter().map(|f| felt_to_u256(*f)).collect::<Vec<_>>()
    );
    assert!(hub.isProcessed(e.src_domain, e.nonce).call().await?);
    assert_eq!(
        messaging.l2ToL1Messages(l2_hash).call().await?,
        U256::ZERO,
        "consumed"
    );
    // A replay reverts and delivers nothing.
    assert!(
        hub.relayFromStarknet(
            sn.domain,
            felt_to_u256(sn.endpoint),
            words(&e),
            Default::default()
        )
        .send()
        .await
        .is_err()
    );
    assert_eq!(l1_app.totalReceived().call().await?, U256::from(1));

    // L1 app → Starknet app.
    let l1_payload = vec![U256::from(11), U256::from(12), U256::from(13)];
    let receipt = l1_app
        .send(sn.domain, word(sn.app), l1_payload.clone())
        .value(U256::from(L2_FEE))
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let sent = hub_sent(&receipt)?;
    assert_eq!(hub.outbound(sent.id).call().await?, U256::from(L2_FEE + 1));
    // Nothing reaches Starknet before a router forwards it.
    assert!(net.flush(0).await?.generated_l2_transactions.is_empty());
    let receipt = hub
        .relayFromL1(sent.words.clone(), Default::default())
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    assert_eq!(hub.outbound(sent.id).call().await?, U256::ZERO);
    assert!(hub.isProcessed(L1_DOMAIN, sent.nonce).call().await?);
    let err = hub
        .relayFromL1(sent.words.clone(), Default::default())
        .call()
        .await
        .unwrap_err();
    assert!(matches!(
        err.as_decoded_interface_error::<Hub::HubErrors>(),
        Some(Hub::HubErrors::NotPending(_))
    ));
    let report = net.flush(0).await?;
    assert_eq!(report.generated_l2_transactions.len(), 1);
    net.starknets[0]
        .devnet
        .wait_for_success(report.generated_l2_transactions[0])
        .await?;
    let l1_sender = Felt::from_bytes_be_slice(stack.l1_app.as_slice());
    let devnet = &net.starknets[0].devnet;
    assert_eq!(
        devnet
            .call(
                sn.app,
                "received_from",
                vec![Felt::from(L1_DOMAIN), l1_sender]
            )
            .await?,
        vec![Felt::ONE]
    );
    let last = devnet
        .call(
            sn.app,
            "last_payload",
            vec![Felt::from(L1_DOMAIN), l1_sender],
        )
        .await?;
    assert_eq!(
        last,
        vec![
            Felt::THREE,
            Felt::from(11u8),
            Felt::from(12u8),
            Felt::from(13u8)
        ]
    );

    // Starknet app → appchain app: two hops through the Hub.
    let payload = [Felt::from(99u8)];
    let e = send_from_starknet(&net, &stack, 0, 1, app3.domain, word(app3.app), &payload).await?;
    net.flush(0).await?;
    let receipt = hub
        .relayFromStarknet(
            sn.domain,
            felt_to_u256(sn.endpoint),
            words(&e),
            Default::default(),
        )
        .value(U256::from(L2_FEE))
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let forwarded = receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| l.log_decode::<Hub::MessageForwarded>().ok())
        .expect("MessageForwarded");
    assert_eq!(forwarded.inner.data.id, e.id().0);
    let report = net.flush(1).await?;
    assert_eq!(report.generated_l2_transactions.len(), 1);
    net.starknets[1]
        .devnet
        .wait_for_success(report.generated_l2_transactions[0])
        .await?;
    let appchain = &net.starknets[1].devnet;
    let from = vec![Felt::from(sn.domain), sn.app];
    assert_eq!(
        appchain
            .call(app3.app, "received_from", from.clone())
            .await?,
        vec![Felt::ONE]
    );
    assert_eq!(
        appchain.call(app3.app, "last_payload", from).await?,
        vec![Felt::ONE, Felt::from(99u8)]
    );
    let mut id = vec![];
    let e_id = e.id().0;
    id.push(Felt::from_bytes_be_slice(&e_id[16..]));
    id.push(Felt::from_bytes_be_slice(&e_id[..16]));
    assert_eq!(
        appchain.call(app3.endpoint, "is_delivered", id).await?,
        vec![Felt::ONE]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_revert_with_typed_errors_and_the_endpoint_trusts_only_the_hub() -> Result<()>
{
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let hub = Hub::new(stack.hub, &l1);
    let l1_app = SampleApp::new(stack.l1_app, &l1);
    let sn = stack.starknets[0];

    let decode = |e: alloy::contract::Error| e.as_decoded_interface_error::<Hub::HubErrors>();
    // Unknown destination domain.
    let err = l1_app
        .send(99, word(sn.app), vec![U256::from(1)])
        .call()
        .await
        .unwrap_err();
    assert!(matches!(decode(err), Some(Hub::HubErrors::UnknownDomain(e)) if e.domain == 99));
    // A word ≥ 2^251 toward Starknet: refused at send (it could never be forwarded), naming the
    // word.
    let big = U256::from(1) << 252;
    let err = l1_app
        .send(sn.domain, word(sn.app), vec![U256::from(1), big])
        .value(U256::from(L2_FEE))
        .call()
        .await
        .unwrap_err();
    assert!(
        matches!(decode(err), Some(Hub::HubErrors::WordNotAFelt(e)) if e.index == U256::from(5) && e.word == big)
    );
    // A Starknet → L1 message whose recipient is not a contract: the relay reverts, the message
    // stays consumable on L1 (nothing is lost; the router parks it with this reason).
    let nobody = B256::left_padding_from(&[0xde, 0xad]);
    let e = send_from_starknet(&net, &stack, 0, 0, L1_DOMAIN, nobody, &[Felt::ONE]).await?;
    net.flush(0).await?;
    let err = hub
        .relayFromStarknet(
            sn.domain,
            felt_to_u256(sn.endpoint),
            words(&e),
            Default::default(),
        )
        .call()
        .await
        .unwrap_err();
    assert!(matches!(decode(err), Some(Hub::HubErrors::BadRecipient(_))));
    // Relaying it as if from another endpoint is refused too.
    let err = hub
        .relayFromStarknet(sn.domain, U256::from(12345), words(&e), Default::default())
        .call()
        .await
        .unwrap_err();
    assert!(matches!(
        decode(err),
        Some(Hub::HubErrors::UnknownEndpoint(_))
    ));
    // Only the owner registers domains.
    let stranger = Hub::new(stack.hub, net.l1.provider(3)?);
    let err = stranger
        .registerStarknetDomain(7, net.starknets[0].messaging, U256::from(1))
        .call()
        .await
        .err()
        .expect("a stranger cannot register a domain");
    assert!(matches!(decode(err), Some(Hub::HubErrors::NotOwner(_))));

    // An L1 contract other than the Hub cannot deliver through the Endpoint.
    let probe = MessagingProbe::deploy(&l1, net.starknets[0].messaging).await?;
    let forged = Envelope {
        src_domain: L1_DOMAIN,
        nonce: 0,
        sender: B256::left_padding_from(probe.address().as_slice()),
        dst_domain: sn.domain,
        recipient: word(sn.app),
        payload: vec![B256::with_last_byte(1)],
    };
    probe
        .sendToL2(
            felt_to_u256(sn.endpoint),
            felt_to_u256(get_selector_from_name("receive_message")?),
            words(&forged),
        )
        .value(U256::from(L2_FEE))
        .send()
        .await?
        .get_receipt()
        .await?;
    let report = net.flush(0).await?;
    assert_eq!(report.generated_l2_transactions.len(), 1);
    let err = net.starknets[0]
        .devnet
        .wait_for_success(report.generated_l2_transactions[0])
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("ONLY_HUB") || text.contains("0x4f4e4c595f485542"),
        "{text}"
    );
    let devnet = &net.starknets[0].devnet;
    assert_eq!(
        devnet.call(sn.app, "total_received", vec![]).await?,
        vec![Felt::ZERO]
    );
    Ok(())
}

/// `relayBatch`: each member is isolated. A member that reverts (a replay, a forward no longer
/// pending) is skipped with its reason and its fee returned to the caller; the others land; the
/// simulation (`eth_call`) reports the same per member; a call that is not a relay, or fees that
/// do not add up, revert the whole batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_skips_a_failing_member_returns_its_fee_and_delivers_the_rest() -> Result<()> {
    use alloy::{providers::Provider, sol_types::SolCall};
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let hub = Hub::new(stack.hub, &l1);
    let l1_app = SampleApp::new(stack.l1_app, &l1);
    let sn = stack.starknets[0];
    let to_l1 = send_from_starknet(
        &net,
        &stack,
        0,
        0,
        L1_DOMAIN,
        B256::left_padding_from(stack.l1_app.as_slice()),
        &[Felt::from(5u8)],
    )
    .await?;
    net.flush(0).await?;
    let receipt = l1_app
        .send(sn.domain, word(sn.app), vec![U256::from(9)])
        .value(U256::from(L2_FEE))
        .send()
        .await?
        .get_receipt()
        .await?;
    let to_sn = hub_sent(&receipt)?;
    let consume = Hub::relayFromStarknetCall {
        srcDomain: sn.domain,
        endpoint: felt_to_u256(sn.endpoint),
        words: words(&to_l1),
        entry: Default::default(),
    }
    .abi_encode();
    let forward = Hub::relayFromL1Call {
        words: to_sn.words.clone(),
        entry: Default::default(),
    }
    .abi_encode();
    let extra = U256::from(7_000u64);
    let member = |call: &[u8], fee: U256| Hub::Member {
        call: call.to_vec().into(),
        fee,
    };
    // consume, the same consume again, the forward with an extra fee, the forward again.
    let members = vec![
        member(&consume, U256::ZERO),
        member(&consume, U256::ZERO),
        member(&forward, extra),
        member(&forward, extra),
    ];
    let value = extra * U256::from(2);
    let simulated = hub.relayBatch(members.clone()).value(value).call().await?;
    assert_eq!(
        simulated.iter().map(|r| r.ok).collect::<Vec<_>>(),
        [true, false, true, false]
    );
    assert_eq!(
        simulated[1].data.as_ref(),
        alloy::sol_types::SolError::abi_encode(&Hub::AlreadyProcessed { id: to_l1.id().0 })
            .as_slice()
    );
    assert_eq!(
        simulated[3].data.as_ref(),
        alloy::sol_types::SolError::abi_encode(&Hub::NotPending { id: to_sn.id }).as_slice()
    );
    assert!(simulated.iter().all(|r| r.gasUsed > U256::ZERO));

    let caller = net.l1.address(L1_KIT_ACCOUNT)?;
    let before = l1.get_balance(caller).await?;
    let messaging_before = l1.get_balance(net.starknets[0].messaging).await?;
    let receipt = hub
        .relayBatch(members.clone())
        .value(value)
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let paid = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    // Only the member that landed kept its fee.
    assert_eq!(before - l1.get_balance(caller).await?, paid + extra);
    assert_eq!(l1.get_balance(stack.hub).await?, U256::ZERO);
    assert_eq!(
        l1.get_balance(net.starknets[0].messaging).await? - messaging_before,
        U256::from(L2_FEE) + extra,
        "the forward paid the escrow and its member's fee into Starknet's inbox"
    );
    let failed: Vec<U256> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|l| l.log_decode::<Hub::BatchMemberFailed>().ok())
        .map(|e| e.inner.data.index)
        .collect();
    assert_eq!(failed, [U256::from(1), U256::from(3)]);
    assert_eq!(l1_app.totalReceived().call().await?, U256::from(1));
    assert_eq!(hub.outbound(to_sn.id).call().await?, U256::ZERO);
    assert!(
        hub.isProcessed(to_l1.src_domain, to_l1.nonce)
            .call()
            .await?
    );
    assert!(hub.isProcessed(L1_DOMAIN, to_sn.nonce).call().await?);
    // Everything made now: the same batch again lands nothing and keeps no fee.
    let again = hub.relayBatch(members.clone()).value(value).call().await?;
    assert!(again.iter().all(|r| !r.ok));

    // A member that is not a relay call, or fees that do not add up, revert the batch.
    let owner_call = Hub::transferOwnershipCall { newOwner: caller }.abi_encode();
    let err = hub
        .relayBatch(vec![member(&owner_call, U256::ZERO)])
        .call()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_revert_data().unwrap_or_default().as_ref(),
        alloy::sol_types::SolError::abi_encode(&Hub::BadBatchMember { index: U256::ZERO })
            .as_slice()
    );
    let err = hub
        .relayBatch(members)
        .value(U256::from(1))
        .call()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_revert_data().unwrap_or_default().as_ref(),
        alloy::sol_types::SolError::abi_encode(&Hub::FeeMismatch {
            expected: value,
            paid: U256::from(1)
        })
        .as_slice()
    );
    Ok(())
}
