#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The crash window the lifecycle is built around, reproduced exactly with the library: the relay
//! transaction (or a batch of them) is signed and persisted (`Relaying`), and the process dies
//! before broadcasting it. A new pipeline on the same store must send those same bytes, not a
//! second transaction.

use std::sync::Arc;

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
};
use xroute::{
    model::{Change, MessageRecord, RelayAttempt, SourceRef, Stage},
    pipeline::{Chains, Pipeline},
    router::Router,
    store::Store,
};
use xroute_adapters::{Estimate, SignedTx, hub::relay_from_l1};
use xroute_config::Config;
use xroute_proofs::envelope::Envelope;
use xroute_tests::{
    LocalNet, XrouteStack,
    process::free_port,
    router::{RouterOptions, write_config},
    stack::L1_DOMAIN,
};

/// The local network with the stack deployed, `n` messages sent by the L1 sample app to the
/// Starknet app (payload [i], each escrowing an L2 fee), and a router config with no L1
/// confirmations: the envelopes as the Hub emitted them, and the config.
async fn sent_from_l1(
    n: u8,
) -> (
    Arc<LocalNet>,
    XrouteStack,
    Vec<Envelope>,
    Config,
    tempfile::TempDir,
) {
    let net = Arc::new(LocalNet::start(1).await.unwrap());
    let stack = XrouteStack::deploy(&net).await.unwrap();
    let sn = stack.starknets[0];
    let mut envelopes = Vec::new();
    for i in 0..n {
        let id = stack
            .send_from_l1(
                &net,
                sn.domain,
                XrouteStack::felt_word(sn.app),
                vec![U256::from(i)],
                10u64.pow(15),
            )
            .await
            .unwrap();
        // The envelope as the Hub emitted it (nonce i: the Hub's i-th L1 send).
        let envelope = Envelope {
            src_domain: L1_DOMAIN,
            nonce: u64::from(i),
            sender: B256::left_padding_from(stack.l1_app.as_slice()),
            dst_domain: sn.domain,
            recipient: XrouteStack::felt_word(sn.app),
            payload: vec![B256::with_last_byte(i)],
        };
        assert_eq!(envelope.id(), id);
        envelopes.push(envelope);
    }
    let dir = tempfile::tempdir().unwrap();
    let options = RouterOptions {
        l1_confirmations: 0,
        ..RouterOptions::default()
    };
    let path = write_config(dir.path(), &net, &stack, free_port().unwrap(), &options).unwrap();
    let config = Config::load(&path).unwrap();
    (net, stack, envelopes, config, dir)
}

/// Stores `envelope` as seen and proven.
fn store_proven(store: &Store, envelope: &Envelope) {
    let source = SourceRef {
        domain: 1,
        block_number: 1,
        block_hash: B256::ZERO,
        tx_hash: B256::ZERO,
    };
    store
        .insert_new(&MessageRecord::new(envelope.clone(), source, 0))
        .unwrap();
    store
        .transition(
            &envelope.id(),
            Stage::Sent,
            Stage::Proven,
            1,
            "test",
            Change::default(),
        )
        .unwrap();
}

/// Signs `call` from the router's relayer under the next nonce, sending nothing, and the relay
/// attempt a router would persist for it.
async fn sign(chains: &Chains, call: &xroute_adapters::Call) -> (SignedTx, RelayAttempt) {
    let submitter = chains.l1_submitter().unwrap();
    let Estimate::Ok(fees) = submitter.estimate(call).await.unwrap() else {
        panic!("the relay must not revert");
    };
    let mut lease = submitter.lease().await;
    let tx = lease.sign(call, fees).await.unwrap();
    let attempt = RelayAttempt {
        domain: 1,
        tx_hash: tx.hash,
        nonce: tx.nonce,
        sent_at_ms: xroute::pipeline::now_ms(),
        raw: tx.raw.clone(),
        gas_limit: fees.gas_limit,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        value: U256::ZERO,
        batch: None,
    };
    (tx, attempt)
    // The lease is dropped: the nonce is not taken, as in a crash before the broadcast.
}

/// After the "crash": checks nothing was broadcast, restarts a pipeline on the same store, ticks
/// it until every envelope is `Relayed`, and checks that `signed` (those same bytes) was mined and
/// was the relayer's only transaction. Returns the pipeline.
async fn restart_and_relay(
    net: &LocalNet,
    config: &Config,
    envelopes: &[Envelope],
    signed: &SignedTx,
) -> Arc<Pipeline> {
    let l1 = net.l1.provider(0).unwrap();
    assert!(
        l1.get_transaction_receipt(signed.hash)
            .await
            .unwrap()
            .is_none()
    );
    let router = Router::builder(config.relay.clone())
        .chains_from(&config.chains)
        .store_at(&config.node.store)
        .build()
        .await
        .unwrap();
    let relayer =
        alloy::primitives::Address::from_word(router.chains().l1_submitter().unwrap().sender());
    let pipeline = router.pipeline().clone();
    let relayed = |p: &Pipeline| {
        envelopes
            .iter()
            .all(|e| p.store().get(&e.id()).unwrap().unwrap().stage == Stage::Relayed)
    };
    for _ in 0..20 {
        pipeline.tick().await.unwrap();
        if relayed(&pipeline) {
            break;
        }
        net.l1.mine().await.unwrap();
    }
    let receipt = l1
        .get_transaction_receipt(signed.hash)
        .await
        .unwrap()
        .expect("the persisted tx was mined");
    assert!(receipt.status());
    assert_eq!(
        l1.get_transaction_count(relayer).await.unwrap(),
        signed.nonce + 1,
        "exactly one transaction from the relayer"
    );
    for e in envelopes {
        let record = pipeline.store().get(&e.id()).unwrap().unwrap();
        assert_eq!(record.stage, Stage::Relayed, "{record:#?}");
        assert_eq!(
            record.relays.len(),
            1,
            "no second transaction: {:?}",
            record.relays
        );
    }
    pipeline
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persisted_but_unsent_relay_is_sent_unchanged_after_a_restart() {
    let (net, stack, envelopes, config, _dir) = sent_from_l1(1).await;
    let envelope = &envelopes[0];
    // "Before the crash": the message is proven, its relay signed and persisted, never sent.
    let signed = {
        let store = Store::open(&config.node.store).unwrap();
        let chains = Chains::connect(&config.chains).await.unwrap();
        store_proven(&store, envelope);
        let call = relay_from_l1(stack.hub, &envelope.to_words(), &Default::default());
        let (tx, attempt) = sign(&chains, &call).await;
        store
            .transition(
                &envelope.id(),
                Stage::Proven,
                Stage::Relaying,
                2,
                "test",
                Change::default().relay(attempt.clone()),
            )
            .unwrap();
        store.flush().unwrap();
        tx
        // The process "dies" here: store and chains dropped, nothing broadcast.
    };
    restart_and_relay(&net, &config, &envelopes, &signed).await;
}

/// The same crash window for a batch: two hops signed into one `relayBatch` and persisted with
/// both members' moves to `Relaying` (one store transaction), never broadcast. After the
/// restart the pipeline sends those bytes, before any new transaction takes the nonce, and both
/// members are relayed by that one transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persisted_but_unsent_batch_is_sent_unchanged_after_a_restart() {
    use xroute::model::RelayBatch;
    let (net, stack, envelopes, config, _dir) = sent_from_l1(2).await;
    let signed = {
        let store = Store::open(&config.node.store).unwrap();
        let chains = Chains::connect(&config.chains).await.unwrap();
        for envelope in &envelopes {
            store_proven(&store, envelope);
        }
        let members: Vec<_> = envelopes
            .iter()
            .map(|e| relay_from_l1(stack.hub, &e.to_words(), &Default::default()))
            .collect();
        let call = chains.hub().batcher().unwrap().batch(&members, false);
        let (tx, attempt) = sign(&chains, &call).await;
        let batch = RelayBatch {
            key: tx.hash,
            members: envelopes.iter().map(Envelope::id).collect(),
            attempts: vec![attempt],
        };
        let moves: Vec<_> = envelopes.iter().map(|e| (e.id(), Stage::Proven)).collect();
        store
            .start_batch(&batch, &moves, 2, "relay tx (test), batch of 2")
            .unwrap();
        store.flush().unwrap();
        tx
        // The process "dies" here: nothing broadcast.
    };
    let pipeline = restart_and_relay(&net, &config, &envelopes, &signed).await;
    let hub = xroute_tests::artifacts::evm::Hub::new(stack.hub, net.l1.provider(0).unwrap());
    for e in &envelopes {
        let record = pipeline.store().get(&e.id()).unwrap().unwrap();
        assert_eq!(record.relays[0].batch, Some(signed.hash));
        assert!(hub.outbound(e.id().0).call().await.unwrap().is_zero());
    }
}
