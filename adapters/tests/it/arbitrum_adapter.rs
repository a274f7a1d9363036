//! The Arbitrum adapter against the local Arbitrum: the real nitro-contracts Bridge, Inbox and
//! Outbox on the L1 anvil, an L2 anvil with the precompile stand-ins, the sequencer/validator
//! loop. An L2 → L1 message is proven by the Outbox's posted root (storage proof) and a Merkle
//! path built from the L2's logs, and the real Outbox executes it into the Hub once; an L1 → L2
//! message is quoted, forwarded as a retryable ticket and delivered by its automatic redeem;
//! forged exits are refused by the Outbox and the Hub.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    sol_types::SolCall,
};
use eyre::Result;
use xroute_adapters::{
    BlockRef, Call, ChainAdapter, Entry, Exit, L1,
    evm::{
        ArbitrumAdapter, HubChainAdapter,
        arbitrum::{ARB_SYS, outbox_root_key},
    },
    hub,
};
use xroute_config::{ChainConfig, Config};
use xroute_proofs::envelope::Envelope;
use xroute_tests::{
    LocalNet, XrouteStack,
    arbitrum::ArbitrumOptions,
    artifacts::evm::{Hub, LocalArbSys, SampleApp},
    localnet::L1_KIT_ACCOUNT,
    router::{RouterOptions, write_config},
    stack::{L1_DOMAIN, L2_KIT_ACCOUNT},
};

/// The hub chain (read-only) and the Arbitrum adapter (with the L2 account 1), built from the
/// config a router of this network gets (`router::write_config`).
async fn adapters(
    net: &LocalNet,
    stack: &XrouteStack,
    dir: &std::path::Path,
) -> Result<(HubChainAdapter, ArbitrumAdapter)> {
    let l1 = HubChainAdapter::new(
        "ethereum",
        L1_DOMAIN,
        net.l1.endpoint().parse()?,
        stack.hub,
        0,
    )?;
    let path = write_config(dir, net, stack, 7397, &RouterOptions::default())?;
    let config = Config::load(&path)?;
    let Some(ChainConfig::Arbitrum(chain)) = config.chains.iter().find(|c| c.name() == "arbitrum")
    else {
        panic!("no arbitrum chain in {}", path.display());
    };
    let rollup = ArbitrumAdapter::connect(chain).await?;
    Ok((l1, rollup))
}

/// The `L2ToL1Tx` among a receipt's logs (ArbSys may emit `SendMerkleUpdate`s before it).
fn l2_to_l1_tx(
    logs: &[alloy::rpc::types::Log],
) -> xroute_adapters::evm::arbitrum::ArbSys::L2ToL1Tx {
    logs.iter()
        .filter(|l| l.address() == ARB_SYS)
        .find_map(|l| {
            l.log_decode::<xroute_adapters::evm::arbitrum::ArbSys::L2ToL1Tx>()
                .ok()
        })
        .expect("an L2ToL1Tx log")
        .inner
        .data
}

async fn l1_view(l1: &HubChainAdapter) -> Result<BlockRef> {
    Ok(l1.head().await?)
}

/// Sends `call` on L1 from the kit's account; returns whether it succeeded.
async fn send_l1(net: &LocalNet, call: &Call) -> Result<bool> {
    net.send_l1(call.evm_to(), call.data.clone(), call.value)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrum_exits_are_proven_by_the_real_outbox_and_entries_arrive_as_retryables()
-> Result<()> {
    let net = LocalNet::start_with(0, Some(ArbitrumOptions::default())).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let dir = tempfile::tempdir()?;
    let (l1, rollup) = adapters(&net, &stack, dir.path()).await?;
    let arb = net.arbitrum()?;
    let d = stack.arbitrum()?;
    let l1_state = l1.as_l1().unwrap();

    // ---- Arbitrum → L1 ----
    let recipient = B256::left_padding_from(stack.l1_app.as_slice());
    // Two other sends first, so the message is not the only leaf.
    let ids = stack
        .send_from_arbitrum(
            &net,
            L1_DOMAIN,
            recipient,
            &[
                vec![U256::from(1)],
                vec![U256::from(2)],
                vec![U256::from(77)],
            ],
        )
        .await?;
    let head = rollup.head().await?.number;
    let sent = rollup.sent_messages(0, head).await?;
    assert_eq!(sent.len(), 3);
    let envelope = sent[2].envelope.clone();
    assert_eq!(envelope.id(), ids[2]);
    assert_eq!(envelope.payload, vec![B256::with_last_byte(77)]);
    let view = L1 {
        state: l1_state,
        finalized: l1_view(&l1).await?,
    };
    // No send root posted yet: not proven.
    assert_eq!(
        rollup
            .exit(&envelope, sent[2].block.number, &view, &Bytes::new())
            .await?,
        Exit::NotYet
    );
    net.step_arbitrum().await?; // the snapshot
    tokio::time::sleep(ArbitrumOptions::default().confirm_after).await;
    let report = net.step_arbitrum().await?;
    assert_eq!(report.roots_posted, 1);
    let view = L1 {
        state: l1_state,
        finalized: l1_view(&l1).await?,
    };
    let Exit::Ready {
        proof,
        call,
        prepaid,
    } = rollup
        .exit(&envelope, sent[2].block.number, &view, &Bytes::new())
        .await?
    else {
        panic!("not proven after the root was posted");
    };
    assert!(proof.contains("Outbox.roots["), "{proof}");
    assert!(proof.contains("leaf 2 of 3"), "{proof}");
    assert_eq!(prepaid, U256::ZERO);
    let reader = net.l1.provider(L1_KIT_ACCOUNT)?;
    let app = SampleApp::new(stack.l1_app, &reader);
    let before = app.totalReceived().call().await?;
    assert!(send_l1(&net, &call).await?, "relayFromArbitrum reverted");
    assert_eq!(app.totalReceived().call().await?, before + U256::from(1));
    let sender = B256::left_padding_from(d.app.as_slice());
    assert_eq!(
        app.lastPayload(d.domain, sender).call().await?,
        vec![U256::from(77)]
    );
    let hub_contract = Hub::new(stack.hub, &reader);
    assert!(
        hub_contract
            .isProcessed(envelope.src_domain, envelope.nonce)
            .call()
            .await?
    );
    // Consumed once, by the real Outbox's spent bitmap.
    let outbox = arb.outbox(&reader);
    assert!(outbox.isSpent(U256::from(2)).call().await?);
    assert!(!outbox.isSpent(U256::from(0)).call().await?);
    assert!(
        !send_l1(&net, &call).await?,
        "a replay of the relay must revert"
    );
    // The storage slot the adapter proves is the real Outbox's `roots` mapping.
    let tree = LocalArbSys::new(ARB_SYS, arb.l2.provider(0)?)
        .sendMerkleTreeState()
        .call()
        .await?;
    let slot = reader
        .get_storage_at(
            arb.bridge.outbox,
            U256::from_be_bytes(outbox_root_key(tree.root).0),
        )
        .await?;
    assert_ne!(
        slot,
        U256::ZERO,
        "roots[root] at the slot the adapter reads"
    );
    assert_eq!(
        B256::from(slot),
        outbox.roots(tree.root).call().await?,
        "slot value is roots[root]"
    );
    // Executing the same leaf on the Outbox directly reverts AlreadySpent.
    let calldata = hub::Hub::relayFromArbitrumCall::abi_decode(&call.data)?;
    let e = calldata.e;
    let err = outbox
        .executeTransaction(
            e.proof.clone(),
            e.index,
            d.endpoint,
            stack.hub,
            e.l2Block,
            e.l1Block,
            e.l2Timestamp,
            U256::ZERO,
            Hub::receiveFromArbitrumCall {
                words: e.words.clone(),
            }
            .abi_encode()
            .into(),
        )
        .call()
        .await
        .err()
        .expect("the Outbox call must revert");
    let data = err.as_revert_data().unwrap_or_default();
    assert_eq!(
        &data[..4],
        &[0x97, 0x15, 0xb8, 0xd3],
        "AlreadySpent(uint256)"
    );

    // ---- Forged exits ----
    // A proof against a root the rollup never posted: the Outbox refuses (UnknownRoot).
    let mut forged = e.clone();
    forged.index = U256::from(0);
    forged.words = hub::envelope_words(&sent[0].envelope.to_words());
    forged.proof[0] = B256::repeat_byte(0x66);
    let forged_call =
        xroute_adapters::evm::arbitrum::relay_from_arbitrum(stack.hub, forged, &Bytes::new());
    assert!(
        !send_l1(&net, &forged_call).await?,
        "a forged proof must revert"
    );
    // Anyone calling the Hub's Outbox entry directly is not the Bridge.
    let direct = Call::evm(
        stack.hub,
        Hub::receiveFromArbitrumCall {
            words: e.words.clone(),
        }
        .abi_encode()
        .into(),
        U256::ZERO,
    );
    assert!(!send_l1(&net, &direct).await?);
    // An L2 account that is not the endpoint sends a forged envelope through ArbSys; the root
    // covers it, the Outbox executes it, and the Hub refuses it (the L2 sender is not the endpoint).
    let mut fake = sent[0].envelope.clone();
    fake.nonce = 999;
    fake.payload = vec![B256::with_last_byte(0xee)];
    let fake_data = Hub::receiveFromArbitrumCall {
        words: hub::envelope_words(&fake.to_words()),
    }
    .abi_encode();
    let l2 = arb.l2.provider(L2_KIT_ACCOUNT)?;
    let receipt = LocalArbSys::new(ARB_SYS, &l2)
        .sendTxToL1(stack.hub, fake_data.clone().into())
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let fake_block = receipt.block_number.unwrap_or_default();
    net.step_arbitrum().await?;
    tokio::time::sleep(ArbitrumOptions::default().confirm_after).await;
    assert_eq!(net.step_arbitrum().await?.roots_posted, 1);
    let view = L1 {
        state: l1_state,
        finalized: l1_view(&l1).await?,
    };
    // The router never sees it as a message (not the endpoint's), so never relays it.
    let head = rollup.head().await?.number;
    assert_eq!(rollup.sent_messages(0, head).await?.len(), 3);
    assert_eq!(
        rollup.exit(&fake, fake_block, &view, &Bytes::new()).await?,
        Exit::NotYet
    );
    // Executed by hand with a valid path, the Hub reverts it.
    let state = LocalArbSys::new(ARB_SYS, arb.l2.provider(0)?)
        .sendMerkleTreeState()
        .call()
        .await?;
    assert_eq!(state.size, U256::from(4));
    let tx = l2_to_l1_tx(receipt.inner.logs());
    let sends: Vec<B256> = {
        // The four leaves: the endpoint's three and the forged one.
        let mut v = Vec::new();
        for s in &sent {
            let r = arb
                .l2
                .provider(0)?
                .get_transaction_receipt(B256::from(s.tx_hash))
                .await?
                .unwrap();
            v.push(B256::from(l2_to_l1_tx(r.inner.logs()).hash));
        }
        v.push(B256::from(tx.hash));
        v
    };
    let path = xroute_proofs::arbitrum::outbox_proof(&sends, 3)?;
    assert_eq!(xroute_proofs::arbitrum::outbox_root(&sends), state.root);
    let err = outbox
        .executeTransaction(
            path,
            U256::from(3),
            arb.l2.address(L2_KIT_ACCOUNT)?,
            stack.hub,
            tx.arbBlockNum,
            tx.ethBlockNum,
            tx.timestamp,
            U256::ZERO,
            fake_data.into(),
        )
        .call()
        .await
        .err()
        .expect("the Outbox call must revert");
    let data = err.as_revert_data().unwrap_or_default();
    let unknown = Hub::UnknownEndpoint {
        domain: d.domain,
        endpoint: U256::from_be_slice(arb.l2.address(L2_KIT_ACCOUNT)?.as_slice()),
    };
    assert_eq!(
        data.as_ref(),
        alloy::sol_types::SolError::abi_encode(&unknown).as_slice(),
        "the Hub names the L2 sender it refused"
    );
    assert!(
        !hub_contract
            .isProcessed(fake.src_domain, fake.nonce)
            .call()
            .await?
    );

    // ---- L1 → Arbitrum ----
    let to_l2 = Envelope {
        src_domain: L1_DOMAIN,
        nonce: hub_contract.nonce().call().await?,
        sender: B256::left_padding_from(stack.l1_app.as_slice()),
        dst_domain: d.domain,
        recipient: B256::left_padding_from(d.app.as_slice()),
        payload: vec![B256::with_last_byte(5), B256::with_last_byte(6)],
    };
    let view = L1 {
        state: l1_state,
        finalized: l1_view(&l1).await?,
    };
    // A recipient without code is refused before anything is paid.
    let mut nowhere = to_l2.clone();
    nowhere.recipient = B256::left_padding_from(Address::repeat_byte(0x42).as_slice());
    let Entry::Refused(why) = rollup.entry(&nowhere, &view).await? else {
        panic!("an undeployed recipient must be refused");
    };
    assert!(why.contains("has no code"), "{why}");
    // A payload the recipient would reject (the L1 app as recipient on L2: not a contract there).
    let Entry::Accepted { fee, terms } = rollup.entry(&to_l2, &view).await? else {
        panic!("the L2 sample app must accept it");
    };
    assert!(fee > U256::ZERO);
    assert_eq!(terms.len(), 128);
    let id = stack
        .send_from_l1(
            &net,
            d.domain,
            to_l2.recipient,
            vec![U256::from(5), U256::from(6)],
            0,
        )
        .await?;
    assert_eq!(id, to_l2.id());
    let view = L1 {
        state: l1_state,
        finalized: l1_view(&l1).await?,
    };
    let Exit::Ready { mut call, .. } = l1.exit(&to_l2, 0, &view, &terms).await? else {
        panic!("the Hub holds the L1 app's message");
    };
    call.value = fee;
    assert!(
        send_l1(&net, &call).await?,
        "relayFromL1 into Arbitrum reverted"
    );
    assert!(!rollup.is_delivered(&to_l2).await?);
    let report = net.step_arbitrum().await?;
    assert_eq!(report.retryables, 1);
    assert_eq!(report.auto_redeemed, 1);
    assert!(
        rollup.is_delivered(&to_l2).await?,
        "the automatic redeem delivered it"
    );
    let l2_app = SampleApp::new(d.app, arb.l2.provider(0)?);
    assert_eq!(
        l2_app.lastPayload(L1_DOMAIN, to_l2.sender).call().await?,
        vec![U256::from(5), U256::from(6)]
    );
    // Nothing to follow up: the ticket is gone.
    assert_eq!(rollup.follow_up(&to_l2, None, &view).await?, None);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_node_interface_answers_the_proofs_the_rust_builder_makes() -> Result<()> {
    use xroute_adapters::evm::arbitrum::{NODE_INTERFACE, NodeInterface};
    use xroute_proofs::arbitrum::{outbox_proof, outbox_root};
    let net = LocalNet::start_with(0, Some(ArbitrumOptions::default())).await?;
    let arb = net.arbitrum()?;
    let l2 = arb.l2.provider(L2_KIT_ACCOUNT)?;
    // Seven sends: sizes 1 to 7 cover full trees, odd sizes and every padding case.
    let mut sends = Vec::new();
    for n in 0..7u8 {
        let receipt = LocalArbSys::new(ARB_SYS, &l2)
            .sendTxToL1(
                Address::repeat_byte(0x11),
                Bytes::from(vec![n; usize::from(n)]),
            )
            .send()
            .await?
            .get_receipt()
            .await?;
        assert!(receipt.status());
        sends.push(B256::from(l2_to_l1_tx(receipt.inner.logs()).hash));
    }
    let node = NodeInterface::new(NODE_INTERFACE, &l2);
    for size in 1..=sends.len() {
        let tree = &sends[..size];
        for leaf in 0..size {
            let answer = node
                .constructOutboxProof(size as u64, leaf as u64)
                .call()
                .await?;
            assert_eq!(answer.send, tree[leaf], "send of leaf {leaf} of {size}");
            assert_eq!(answer.root, outbox_root(tree), "root of {size}");
            assert_eq!(
                answer.proof,
                outbox_proof(tree, leaf as u64)?,
                "path of leaf {leaf} of {size}"
            );
        }
    }
    // The whole tree's root is ArbSys's own.
    let state = LocalArbSys::new(ARB_SYS, &l2)
        .sendMerkleTreeState()
        .call()
        .await?;
    assert_eq!(state.root, outbox_root(&sends));
    // A leaf outside the tree is refused.
    assert!(node.constructOutboxProof(3, 3).call().await.is_err());
    assert!(node.constructOutboxProof(8, 0).call().await.is_err());
    Ok(())
}
