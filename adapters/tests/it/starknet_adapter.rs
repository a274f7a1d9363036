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

/// Issue 16's checkpoints, from real chains: the L1 blocks of devnet's flush list exactly the
/// messages the Endpoint sent, in order, computed from L1 logs alone by an adapter that never
/// reads Starknet; the blocks before list none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_from_l1_lists_what_the_state_update_made_consumable() -> Result<()> {
    use xroute_adapters::{BlockRef, evm::HubChainAdapter};
    use xroute_proofs::storage::MessagingLayout;
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let sn = stack.starknets[0];
    let devnet = &net.starknets[0].devnet;
    let reader = StarknetAdapter::new(
        "starknet",
        sn.domain,
        devnet.rpc_url().clone(),
        sn.endpoint,
        0,
    )?;
    // The adapter that computes checkpoints never reads Starknet.
    let adapter = StarknetAdapter::new(
        "starknet",
        sn.domain,
        "http://127.0.0.1:9".parse()?,
        sn.endpoint,
        0,
    )?
    .with_l1_messaging(net.starknets[0].messaging, MessagingLayout::current());
    let l1 = HubChainAdapter::new(
        "ethereum",
        L1_DOMAIN,
        net.l1.endpoint().parse()?,
        stack.hub,
        0,
    )?;

    let start = reader.head().await?.number;
    let l1_app = Felt::from_bytes_be_slice(stack.l1_app.as_slice());
    for n in 0u8..4 {
        let calldata = vec![Felt::from(L1_DOMAIN), l1_app, Felt::ONE, Felt::from(n)];
        devnet.invoke(0, sn.app, "send", calldata).await?;
    }
    let sent = reader
        .sent_messages(start, reader.head().await?.number)
        .await?;
    let ids: Vec<_> = sent.iter().map(|m| m.envelope.id()).collect();
    assert_eq!(ids.len(), 4);

    let before = l1.head().await?.number;
    let report = net.flush(0).await?;
    assert_eq!(report.messages_to_l1.len(), 4);
    let after = l1.head().await?.number;
    let mut found = Vec::new();
    for number in before..=after {
        let block = BlockRef {
            number,
            hash: l1.block_hash(number).await?,
        };
        if let Some(cp) = adapter.checkpoint(&l1, block).await? {
            found.push((block, cp));
        }
    }
    // The kit's state update, like a real one, makes all four consumable in one L1 transaction:
    // one checkpoint of four.
    assert_eq!(found.len(), 1, "one checkpoint: {found:?}");
    assert_eq!(found[0].1.ids, ids, "the Endpoint's messages, in order");
    let ranged_txs: std::collections::HashSet<[u8; 32]> = adapter
        .checkpoints(&l1, before, after)
        .await?
        .unwrap_or_default()
        .iter()
        .flat_map(|c| c.messages.iter().map(|m| m.tx_hash))
        .collect();
    assert_eq!(ranged_txs.len(), 1, "one L1 transaction carried them");
    for (block, cp) in &found {
        assert_eq!(cp.claim.domain, sn.domain);
        assert_eq!(cp.claim.count as usize, cp.ids.len());
        assert_eq!(cp.claim.l1_block, block.number);
        assert_eq!(cp.claim.l1_block_hash.0, block.hash);
        for i in 0..cp.ids.len() {
            cp.inclusion(i)?.verify(&cp.claim)?;
        }
        // Asked again (another router), the same claim.
        let again = adapter.checkpoint(&l1, *block).await?.unwrap();
        assert_eq!(again.claim, cp.claim);
    }
    // The range read (what a router's scan makes, one eth_getLogs) finds the same checkpoints,
    // with each message's envelope and the L1 transaction that carried it.
    assert!(adapter.checkpointed());
    let ranged = adapter
        .checkpoints(&l1, before, after)
        .await?
        .expect("a Starknet chain with its messaging contract is checkpointed");
    assert_eq!(ranged.len(), found.len());
    for (r, (_, cp)) in ranged.iter().zip(&found) {
        assert_eq!(r.checkpoint.claim, cp.claim);
        let envelopes: Vec<_> = r.messages.iter().map(|m| m.envelope.id()).collect();
        assert_eq!(envelopes, cp.ids);
        assert!(
            r.messages
                .iter()
                .all(|m| m.block.number == cp.claim.l1_block)
        );
        assert!(r.messages.iter().all(|m| m.tx_hash != [0; 32]));
    }
    let (block, _) = &found[0];
    // A hash that is not that block's: the L1 node knows no such block, and the error says so.
    let wrong = BlockRef {
        number: block.number,
        hash: [0x42; 32],
    };
    let err = adapter
        .checkpoint(&l1, wrong)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("eth_getLogs"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_queries_stay_within_a_providers_range_limit() -> Result<()> {
    use xroute_tests::range_proxy::RangeLimitProxy;
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let sn = stack.starknets[0];
    let devnet = &net.starknets[0].devnet;
    let l1_app = Felt::from_bytes_be_slice(stack.l1_app.as_slice());
    for n in 0u8..4 {
        let calldata = vec![Felt::from(L1_DOMAIN), l1_app, Felt::ONE, Felt::from(n)];
        devnet.invoke(0, sn.app, "send", calldata).await?;
        devnet.create_blocks(30).await?;
    }
    let proxy = RangeLimitProxy::start(devnet.rpc_url().as_str(), 10).await?;
    let config = xroute_config::StarknetChain {
        name: "starknet".into(),
        domain: sn.domain,
        rpc: xroute_config::RpcUrl::new(proxy.url()).map_err(|e| eyre::eyre!(e))?,
        confirmations: 0,
        chain_id: None,
        endpoint: xroute_config::Felt(alloy::primitives::U256::from_be_bytes(
            sn.endpoint.to_bytes_be(),
        )),
        tank: None,
        l1_messaging: alloy::primitives::Address::ZERO,
        messaging_layout: Default::default(),
        account: xroute_config::Felt(alloy::primitives::U256::ZERO),
        account_key_file: std::path::PathBuf::new(),
        transport: xroute_config::TransportConfig {
            max_log_range: 64,
            ..Default::default()
        },
    };
    let adapter = StarknetAdapter::read_only(&config)?;
    let head = adapter.head().await?.number;
    assert!(head > 120, "the chain spans {head} blocks");
    let through_proxy = adapter.sent_messages(0, head).await?;
    let direct = StarknetAdapter::new(
        "starknet",
        sn.domain,
        devnet.rpc_url().clone(),
        sn.endpoint,
        0,
    )?
    .sent_messages(0, head)
    .await?;
    assert_eq!(through_proxy.len(), 4, "every send, across the gaps");
    assert_eq!(through_proxy, direct, "the same as the node's own answer");
    assert!(
        proxy.refused() > 0,
        "the proxy refused the configured 64-block windows, and they shrank"
    );
    Ok(())
}
