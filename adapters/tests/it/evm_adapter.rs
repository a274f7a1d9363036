//! The EVM adapter against a real anvil with the xroute contracts and a devnet: Hub sends are
//! found and checked, and an L2 → L1 message is proven through a storage proof against a header
//! whose hash the adapter recomputes.

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloy::primitives::{B256, U256};
use eyre::Result;
use starknet_rust::core::types::Felt;
use xroute_adapters::{
    AdapterError, BlockRef, ChainAdapter, ChainAdapterExt, L1State, evm::HubChainAdapter,
};
use xroute_proofs::{
    envelope::Envelope,
    starknet::{felt_to_u256, l2_to_l1_message_hash},
    storage::MessagingLayout,
};
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::{Hub, SampleApp},
    localnet::L1_KIT_ACCOUNT,
    stack::L1_DOMAIN,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_hub_sends_and_proves_l2_to_l1_messages() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let sn = stack.starknets[0];
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let adapter = HubChainAdapter::new(
        "ethereum",
        L1_DOMAIN,
        net.l1.endpoint().parse()?,
        stack.hub,
        0,
    )?;
    let start = adapter.head().await?.number;

    // An L1 app's send is found as a checked envelope.
    SampleApp::new(stack.l1_app, &l1)
        .send(sn.domain, sn.app.to_bytes_be().into(), vec![U256::from(42)])
        .value(U256::from(1_000_000_000_000u64))
        .send()
        .await?
        .get_receipt()
        .await?;
    let sent = adapter
        .sent_messages(start, adapter.head().await?.number)
        .await?;
    assert_eq!(sent.len(), 1);
    let want = Envelope {
        src_domain: L1_DOMAIN,
        nonce: 0,
        sender: B256::left_padding_from(stack.l1_app.as_slice()),
        dst_domain: sn.domain,
        recipient: sn.app.to_bytes_be().into(),
        payload: vec![B256::with_last_byte(42)],
    };
    assert_eq!(sent[0].envelope, want);
    let id = want.id();
    assert!(!adapter.is_delivered(&want).await?, "waiting for a router");
    // Hub.outbound[id], read by storage proof at the head (this pins HUB_OUTBOUND_SLOT to the
    // getter), is the escrowed fee + 1 until a router forwards it, then 0.
    let head = adapter.head().await?;
    let escrow = U256::from(1_000_000_000_001u64);
    assert_eq!(adapter.proven_outbound(&id, head).await?, escrow);
    let hub = xroute_tests::artifacts::evm::Hub::new(stack.hub, &l1);
    assert_eq!(hub.outbound(id.0).call().await?, escrow);
    let words: Vec<U256> = want
        .to_words()
        .iter()
        .map(|w| U256::from_be_bytes(w.0))
        .collect();
    assert!(
        hub.relayFromL1(words, Default::default())
            .send()
            .await?
            .get_receipt()
            .await?
            .status()
    );
    assert!(adapter.is_delivered(&want).await?, "the Hub forwarded it");
    let head = adapter.head().await?;
    assert_eq!(adapter.proven_outbound(&id, head).await?, U256::ZERO);

    // With confirmations, the final block is that many below the head, with its own hash.
    let deep = HubChainAdapter::new(
        "ethereum",
        L1_DOMAIN,
        net.l1.endpoint().parse()?,
        stack.hub,
        2,
    )?;
    let head = deep.head().await?;
    let fin = deep.finalized_head().await?;
    assert_eq!(fin.number, head.number - 2);
    assert_eq!(fin.hash, deep.block_hash(head.number - 2).await?);
    assert_ne!(fin.hash, head.hash);

    // A Starknet → L1 message: not proven before the state update, proven after, and 0 again
    // once the Hub consumed it.
    let devnet = &net.starknets[0].devnet;
    let l1_app = Felt::from_bytes_be_slice(stack.l1_app.as_slice());
    devnet
        .invoke(
            0,
            sn.app,
            "send",
            vec![Felt::from(L1_DOMAIN), l1_app, Felt::ONE, Felt::from(77u8)],
        )
        .await?;
    let e = Envelope {
        src_domain: sn.domain,
        nonce: 0,
        sender: sn.app.to_bytes_be().into(),
        dst_domain: L1_DOMAIN,
        recipient: l1_app.to_bytes_be().into(),
        payload: vec![B256::with_last_byte(77)],
    };
    let h = l2_to_l1_message_hash(sn.endpoint, stack.hub, &e.to_felts()?);
    let layout = MessagingLayout::current();
    let messaging = net.starknets[0].messaging;
    let before = adapter.finalized_head().await?;
    assert_eq!(
        adapter
            .proven_l2_to_l1(messaging, &layout, h, before)
            .await?,
        U256::ZERO
    );
    net.flush(0).await?;
    let after = adapter.finalized_head().await?;
    assert_eq!(
        adapter
            .proven_l2_to_l1(messaging, &layout, h, after)
            .await?,
        U256::from(1)
    );
    assert_eq!(
        adapter
            .proven_l2_to_l1(messaging, &layout, h, before)
            .await?,
        U256::ZERO,
        "history is provable too"
    );

    // A round's exits proven together: many slots at one block in one eth_getProof, each the
    // value a proof of it alone gives.
    let together = HubChainAdapter::new(
        "l1-slots-together",
        L1_DOMAIN,
        net.l1.endpoint().parse()?,
        stack.hub,
        0,
    )?;
    let slots = [
        layout.l2_to_l1_slot(h),
        layout.l2_to_l1_slot(B256::repeat_byte(0x5e)),
        layout.l2_to_l1_slot(h),
    ];
    let proofs = || {
        xroute_adapters::rpc_metrics::RpcMetrics::global()
            .requests("l1-slots-together", "eth_getProof")
    };
    let asked = proofs();
    together.prove_slots(messaging, &slots, after).await?;
    for slot in slots {
        assert_eq!(
            together.proven_slot(messaging, slot, after).await?,
            adapter.proven_slot(messaging, slot, after).await?,
        );
    }
    assert_eq!(proofs() - asked, 1, "one request for all of them");
    assert_eq!(
        together.proven_slot(messaging, slots[0], after).await?,
        U256::from(1)
    );

    let words: Vec<U256> = e
        .to_words()
        .iter()
        .map(|w| U256::from_be_bytes(w.0))
        .collect();
    let receipt = Hub::new(stack.hub, &l1)
        .relayFromStarknet(
            sn.domain,
            felt_to_u256(sn.endpoint),
            words,
            Default::default(),
        )
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let consumed = adapter.finalized_head().await?;
    assert_eq!(
        adapter
            .proven_l2_to_l1(messaging, &layout, h, consumed)
            .await?,
        U256::ZERO
    );
    assert!(adapter.is_delivered(&e).await?);

    // A block reference whose hash is not the header's is refused, whatever the node says.
    let forged = BlockRef {
        number: after.number,
        hash: [7u8; 32],
    };
    let err = adapter
        .proven_l2_to_l1(messaging, &layout, h, forged)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            AdapterError::BadData {
                what: "block header",
                ..
            }
        ),
        "{err}"
    );
    // The wrong layout proves an empty slot, not the message.
    assert_eq!(
        adapter
            .proven_l2_to_l1(
                messaging,
                &MessagingLayout {
                    l2_to_l1_tag: "other".into(),
                    ..layout.clone()
                },
                h,
                after
            )
            .await?,
        U256::ZERO
    );
    Ok(())
}

/// Issue 16's checkpoint of the hub chain, on a real anvil: three L1 sends mined in one block are
/// that block's checkpoint, in log order, ids checked against the envelopes; the block before is
/// none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_checkpoint_of_a_block_lists_its_sends_in_log_order() -> Result<()> {
    use alloy::providers::Provider;
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let sn = stack.starknets[0];
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let adapter = HubChainAdapter::new(
        "ethereum",
        L1_DOMAIN,
        net.l1.endpoint().parse()?,
        stack.hub,
        0,
    )?;
    let app = SampleApp::new(stack.l1_app, &l1);
    // Three sends in one block: mining held, then one block mined.
    let _: serde_json::Value = l1.raw_request("evm_setAutomine".into(), (false,)).await?;
    let mut pending = Vec::new();
    for n in 0..3u64 {
        let tx = app
            .send(sn.domain, sn.app.to_bytes_be().into(), vec![U256::from(n)])
            .value(U256::from(1_000_000_000_000u64))
            .nonce(
                l1.get_transaction_count(net.l1.address(L1_KIT_ACCOUNT)?)
                    .await?
                    + n,
            )
            .send()
            .await?;
        pending.push(tx);
    }
    let _: serde_json::Value = l1.raw_request("evm_mine".into(), ()).await?;
    let _: serde_json::Value = l1.raw_request("evm_setAutomine".into(), (true,)).await?;
    let mut blocks = Vec::new();
    for tx in pending {
        let r = tx.get_receipt().await?;
        assert!(r.status());
        blocks.push(r.block_number.unwrap());
    }
    assert!(blocks.iter().all(|b| *b == blocks[0]), "{blocks:?}");
    let number = blocks[0];
    let block = BlockRef {
        number,
        hash: adapter.block_hash(number).await?,
    };
    let sent = adapter.sent_messages(number, number).await?;
    assert_eq!(sent.len(), 3);
    let cp = adapter.checkpoint(block).await?.expect("a checkpoint");
    let ids: Vec<_> = sent.iter().map(|m| m.envelope.id()).collect();
    assert_eq!(cp.ids, ids);
    let nonces: Vec<_> = sent.iter().map(|m| m.envelope.nonce).collect();
    assert_eq!(nonces, [0, 1, 2], "log order is nonce order here");
    assert_eq!(
        (cp.claim.count, cp.claim.domain, cp.claim.l1_block),
        (3, L1_DOMAIN, number)
    );
    for i in 0..3 {
        cp.inclusion(i)?.verify(&cp.claim)?;
    }
    let before = BlockRef {
        number: number - 1,
        hash: adapter.block_hash(number - 1).await?,
    };
    assert!(adapter.checkpoint(before).await?.is_none());
    // The range read finds it alone, with the sends themselves.
    let l1 = adapter.as_l1().expect("the hub chain is L1");
    let ranged = adapter
        .checkpoints(l1, number - 1, number)
        .await?
        .expect("the hub chain is checkpointed");
    assert_eq!(ranged.len(), 1);
    assert_eq!(ranged[0].checkpoint.claim, cp.claim);
    assert_eq!(ranged[0].messages, sent);
    Ok(())
}

/// Log queries stay within a provider's range limit (issue 28): behind a proxy that refuses
/// `eth_getLogs` over more than 100 blocks, the hub chain's adapter (windows of 2,000 by default)
/// halves its window until the node answers, and finds every `MessageSent` of L1 sends spread
/// over 2,800 blocks, the same logs as one direct query of the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_queries_stay_within_a_providers_range_limit() -> Result<()> {
    use xroute_tests::range_proxy::RangeLimitProxy;
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let sn = stack.starknets[0];
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    for n in 0..4u64 {
        SampleApp::new(stack.l1_app, &l1)
            .send(sn.domain, sn.app.to_bytes_be().into(), vec![U256::from(n)])
            .value(U256::from(1_000_000_000_000u64))
            .send()
            .await?
            .get_receipt()
            .await?;
        net.l1.mine_blocks(700).await?;
    }
    let proxy = RangeLimitProxy::start(net.l1.endpoint(), 100).await?;
    let adapter = HubChainAdapter::new("ethereum", L1_DOMAIN, proxy.url().parse()?, stack.hub, 0)?;
    let head = adapter.head().await?.number;
    assert!(head > 2_800, "the chain spans {head} blocks");
    let filter = alloy::rpc::types::Filter::new()
        .address(stack.hub)
        .event_signature(<Hub::MessageSent as alloy::sol_types::SolEvent>::SIGNATURE_HASH)
        .from_block(0);
    let found = adapter
        .as_l1()
        .expect("the hub chain serves as L1")
        .logs(&filter)
        .await?;
    let direct = alloy::providers::Provider::get_logs(&l1, &filter.clone().to_block(head)).await?;
    assert_eq!(found.len(), 4, "every send, across the gaps");
    assert_eq!(found, direct, "the same logs as one query of the node");
    assert!(
        proxy.refused() > 0,
        "the proxy refused the first, wider windows"
    );
    // The router's indexing ranges go through the same client.
    let sent = adapter.sent_messages(0, head).await?;
    assert_eq!(sent.len(), 4);
    Ok(())
}
