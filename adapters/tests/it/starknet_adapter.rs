//! The Starknet adapter against a real devnet with the xroute contracts deployed: it finds the
//! messages the Endpoint sent, rebuilds their envelopes (ids checked), and sees deliveries.

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use eyre::Result;
use starknet_rust::core::types::Felt;
use xroute_adapters::{ChainAdapter, ChainAdapterExt, starknet::StarknetAdapter};
use xroute_proofs::envelope::Envelope;
use xroute_tests::{
    LocalNet, XrouteStack, artifacts::evm::SampleApp, localnet::L1_KIT_ACCOUNT, stack::L1_DOMAIN,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_sent_messages_and_sees_deliveries() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let sn = stack.starknets[0];
    let devnet = &net.starknets[0].devnet;
    let adapter = StarknetAdapter::new(
        "starknet",
        sn.domain,
        devnet.rpc_url().clone(),
        sn.endpoint,
        0,
    )?;
    let start = adapter.head().await?.number;

    let l1_app = Felt::from_bytes_be_slice(stack.l1_app.as_slice());
    for n in 0u8..3 {
        let calldata = vec![
            Felt::from(L1_DOMAIN),
            l1_app,
            Felt::TWO,
            Felt::from(n),
            Felt::from(100 + u64::from(n)),
        ];
        devnet.invoke(0, sn.app, "send", calldata).await?;
    }
    let head = adapter.head().await?;
    assert!(head.number >= start + 3);
    assert_eq!(
        adapter.finalized_head().await?,
        head,
        "0 confirmations: the head is final"
    );

    let sent = adapter.sent_messages(start, head.number).await?;
    assert_eq!(sent.len(), 3);
    for (n, m) in sent.iter().enumerate() {
        let want = Envelope {
            src_domain: sn.domain,
            nonce: n as u64,
            sender: sn.app.to_bytes_be().into(),
            dst_domain: L1_DOMAIN,
            recipient: l1_app.to_bytes_be().into(),
            payload: vec![
                Felt::from(n as u8).to_bytes_be().into(),
                Felt::from(100 + n as u64).to_bytes_be().into(),
            ],
        };
        assert_eq!(m.envelope, want);
        assert_eq!(m.block.hash, adapter.block_hash(m.block.number).await?);
        assert!(!adapter.is_delivered(&m.envelope).await?);
    }
    // A range without sends finds nothing; an empty range is fine.
    assert!(
        adapter
            .sent_messages(0, start.saturating_sub(1))
            .await?
            .is_empty()
    );

    // An L1 → Starknet message: delivered after the state update.
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let app = SampleApp::new(stack.l1_app, &l1);
    let receipt = app
        .send(
            sn.domain,
            sn.app.to_bytes_be().into(),
            vec![alloy::primitives::U256::from(5)],
        )
        .value(alloy::primitives::U256::from(1_000_000_000_000u64))
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let nonce = 0u64; // the Hub's first L1 send
    let delivered = Envelope {
        src_domain: L1_DOMAIN,
        nonce,
        sender: alloy::primitives::B256::left_padding_from(stack.l1_app.as_slice()),
        dst_domain: sn.domain,
        recipient: sn.app.to_bytes_be().into(),
        payload: vec![alloy::primitives::B256::with_last_byte(5)],
    };
    assert!(!adapter.is_delivered(&delivered).await?);
    // What a router checks before forwarding: the recipient exists, and the L2 fee of the leg.
    assert!(adapter.is_deployed(sn.app).await?);
    assert!(!adapter.is_deployed(Felt::from(0x1234u32)).await?);
    let fee = adapter
        .quote_message_fee(stack.hub.into_array(), &delivered.to_felts()?)
        .await?;
    assert!(fee > 0, "the L1 handler costs something");
    // A router forwards it (the test plays the router here).
    let words = delivered
        .to_words()
        .iter()
        .map(|w| alloy::primitives::U256::from_be_bytes(w.0))
        .collect();
    let hub = xroute_tests::artifacts::evm::Hub::new(stack.hub, net.l1.provider(0)?);
    assert!(
        hub.relayFromL1(words, Default::default())
            .send()
            .await?
            .get_receipt()
            .await?
            .status()
    );
    let report = net.flush(0).await?;
    devnet
        .wait_for_success(report.generated_l2_transactions[0])
        .await?;
    assert!(adapter.is_delivered(&delivered).await?);
    let other = Envelope {
        nonce: delivered.nonce + 1,
        ..delivered.clone()
    };
    assert!(!adapter.is_delivered(&other).await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_errors_name_the_chain_and_method() {
    let adapter = StarknetAdapter::new(
        "offline",
        9,
        "http://127.0.0.1:9/rpc".parse().unwrap(),
        Felt::ONE,
        0,
    )
    .unwrap();
    let err = adapter.head().await.unwrap_err().to_string();
    assert!(
        err.starts_with("offline: starknet_blockHashAndNumber failed"),
        "{err}"
    );
}
