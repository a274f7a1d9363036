#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Attestation catch-up over real libp2p sockets on 127.0.0.1, with real sled stores: a router
//! that missed the others' attestations (gossiped to the set before it joined) asks the set for
//! them (`Want`) and forms its certificates.

use std::{sync::Arc, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, B256};
use libp2p::{PeerId, identity::Keypair};
use xroute::{
    model::{MessageRecord, SourceRef, Stage},
    network::{Network, NetworkSettings, REPUBLISH_MS, RecordedCheckpoints},
    p2p,
    store::Store,
};
use xroute_proofs::envelope::{Envelope, MessageId};

fn record(k: u64) -> MessageRecord {
    let envelope = Envelope {
        src_domain: 2,
        nonce: k,
        sender: B256::with_last_byte(1),
        dst_domain: 1,
        recipient: B256::with_last_byte(2),
        payload: vec![B256::with_last_byte(k as u8)],
    };
    let mut r = MessageRecord::new(
        envelope,
        SourceRef {
            domain: 2,
            block_number: 7,
            block_hash: B256::repeat_byte(7),
            tx_hash: B256::ZERO,
        },
        0,
    );
    r.stage = Stage::Proven;
    r
}

struct Router {
    network: Arc<Network>,
    handle: p2p::P2pHandle,
    _dir: tempfile::TempDir,
}

fn start(
    i: usize,
    keys: &[(PrivateKeySigner, Keypair)],
    ports: &[u16],
    bootnodes: &[usize],
) -> Router {
    start_with(i, keys, ports, bootnodes, 2, None)
}

/// Router `i` of the set `keys` (threshold `threshold`), certifying per checkpoint of `l1` if
/// given.
fn start_with(
    i: usize,
    keys: &[(PrivateKeySigner, Keypair)],
    ports: &[u16],
    bootnodes: &[usize],
    threshold: usize,
    l1: Option<Arc<RecordedCheckpoints>>,
) -> Router {
    let members: Vec<(Address, PeerId)> = keys
        .iter()
        .map(|(s, k)| (s.address(), k.public().to_peer_id()))
        .collect();
    let bootnodes = bootnodes
        .iter()
        .map(|j| {
            format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", ports[*j], members[*j].1)
                .parse()
                .unwrap()
        })
        .collect();
    let (handle, inbound) = p2p::spawn(
        keys[i].1.clone(),
        xroute::network::wire::p2p_settings(
            format!("/ip4/127.0.0.1/tcp/{}", ports[i]).parse().unwrap(),
            bootnodes,
            16,
            Duration::from_millis(200),
        ),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut network = Network::new(
        handle.clone(),
        Store::open(dir.path()).unwrap(),
        NetworkSettings {
            signer: keys[i].0.clone(),
            members,
            threshold,
            relay_window_ms: 1_000,
            claim_settle_ms: 250,
            heartbeat_ms: 1_000,
            batch_attestations: true,
        },
        xroute_proofs::attestation::domain(31337, Address::repeat_byte(0x42)),
    )
    .unwrap();
    if let Some(l1) = l1 {
        network = network.with_checkpoints(l1);
    }
    let network = Arc::new(network);
    tokio::spawn(network.clone().run_inbound(inbound));
    Router {
        network,
        handle,
        _dir: dir,
    }
}

/// Waits until `r` is connected and subscriptions are exchanged, then attests `singles` one by
/// one and `batched` as one batch.
async fn connected_then_attest(
    r: &Router,
    name: &str,
    singles: &[MessageRecord],
    batched: &[MessageRecord],
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while r.handle.peers().await.iter().all(|p| !p.connected) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never connected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // subscriptions exchanged
    for record in singles {
        r.network.attest(record).unwrap();
    }
    r.network.flush(); // as the pipeline's tick ends
    r.network
        .attest_batch(batched, 1, (9, B256::repeat_byte(9)))
        .unwrap();
}

/// `n` routers' keys (attestation, libp2p) and free ports.
fn set_of(n: usize) -> (Vec<(PrivateKeySigner, Keypair)>, Vec<u16>) {
    let keys = (0..n)
        .map(|_| (PrivateKeySigner::random(), Keypair::generate_ed25519()))
        .collect();
    let ports = (0..n)
        .map(|_| xroute_tests::process::free_port().unwrap())
        .collect();
    (keys, ports)
}

/// Waits until `r` is connected to `n` peers.
async fn wait_connected(r: &Router, name: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while r
        .handle
        .peers()
        .await
        .iter()
        .filter(|p| p.connected)
        .count()
        < n
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never connected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn certified(r: &Router, ids: &[MessageId]) -> usize {
    ids.iter()
        .filter(|id| r.network.certificate(id).unwrap().is_some())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_that_missed_the_attestations_asks_for_them_and_certifies() {
    let (keys, ports) = set_of(3);
    let singles: Vec<MessageRecord> = (0..5).map(record).collect();
    let batched: Vec<MessageRecord> = (5..25).map(record).collect();
    let all: Vec<MessageId> = singles.iter().chain(&batched).map(|r| r.id).collect();

    // Routers A and C are up; A proves and attests, and its gossip reaches C only.
    let c = start(2, &keys, &ports, &[]);
    let a = start(0, &keys, &ports, &[2]);
    connected_then_attest(&a, "A", &singles, &batched).await;
    assert_eq!(certified(&a, &all), 0, "one signature is not a quorum of 2");
    let a_peer = keys[0].1.public().to_peer_id().to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let at_c = c.handle.peers().await;
        if at_c.iter().any(|p| p.peer_id == a_peer && p.accepted >= 2) {
            break; // C holds A's 5 singles (one message) and its batch
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "C never got A's gossip"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Router B joins later and proves the same messages; its attestations reach A, which
    // certifies, but A's went out before B listened.
    let b = start(1, &keys, &ports, &[0]);
    connected_then_attest(&b, "B", &singles, &batched).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while certified(&a, &all) < all.len() {
        assert!(tokio::time::Instant::now() < deadline, "A never certified");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(certified(&b, &all), 0, "B has only its own signatures");

    // B runs its pipeline ticks: nothing is asked before REPUBLISH_MS, then the set is asked
    // and A answers with what it stored (five singles in one message, and one batch).
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_millis(REPUBLISH_MS) + Duration::from_secs(20);
    while certified(&b, &all) < all.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "B certified only {} of {}",
            certified(&b, &all),
            all.len()
        );
        for r in singles.iter().chain(&batched) {
            b.network.catch_up(r).unwrap();
        }
        b.network.flush();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(REPUBLISH_MS - 1_000),
        "asked before the attestations had a chance to arrive"
    );
    for id in &all {
        let cert = b.network.certificate(id).unwrap().unwrap();
        let mut signers = b.network.signers(&cert).unwrap();
        signers.sort();
        let mut want = vec![keys[0].0.address(), keys[1].0.address()];
        want.sort();
        assert_eq!(signers, want, "{id}");
    }
    // Nothing A sent was rejected by B.
    let seen_by_b = b.handle.peers().await;
    let from_a = seen_by_b
        .iter()
        .find(|p| p.peer_id == keys[0].1.public().to_peer_id().to_string())
        .expect("A is B's peer");
    assert_eq!(from_a.rejected, 0);
    assert!(
        from_a.accepted >= 2,
        "A's 5 singles (one message) and its batch"
    );
}

/// Issue 16 over real sockets: three honest routers and a rogue member (threshold 3). The rogue
/// signs a checkpoint whose root L1 does not give: the honest routers refuse it and penalise the
/// peer. The third honest router joins after the others signed: its catch-up asks for the
/// checkpoint (not for message ids), and every honest router ends with one certificate of the
/// whole checkpoint, signed by the honest three only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rogue_checkpoint_root_is_refused_and_a_late_router_catches_up_by_checkpoint() {
    let (keys, ports) = set_of(4);
    let envelopes: Vec<Envelope> = (0..40).map(|k| record(k).envelope).collect();
    // What L1 says: 40 messages made consumable at L1 block 1. The rogue's list has one id
    // changed (another root).
    let honest_l1 = || {
        Arc::new(RecordedCheckpoints::new(
            RecordedCheckpoints::of_messages(2, &envelopes, 40),
            1,
        ))
    };
    let mut forged = envelopes.clone();
    forged[3].nonce = 1_000;
    let rogue_l1 = Arc::new(RecordedCheckpoints::new(
        RecordedCheckpoints::of_messages(2, &forged, 40),
        1,
    ));
    let ids: Vec<MessageId> = envelopes.iter().map(|e| e.id()).collect();
    let a = start_with(0, &keys, &ports, &[], 3, Some(honest_l1()));
    let b = start_with(1, &keys, &ports, &[0], 3, Some(honest_l1()));
    let rogue = start_with(3, &keys, &ports, &[0, 1], 3, Some(rogue_l1));
    for (name, r) in [("A", &a), ("B", &b), ("rogue", &rogue)] {
        wait_connected(r, name, 2).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // subscriptions exchanged
    // The rogue first: once it has refused the honest attestations (it disagrees with them),
    // its score of their senders falls below gossipsub's publish threshold and it reaches no one.
    for r in [&rogue, &a, &b] {
        // Adopted by the round, or by judging another's attestation just before it.
        r.network.checkpoint_round().await.unwrap();
        assert!(r.network.checkpoint_place(&ids[0]).is_some());
    }
    let rogue_peer = keys[3].1.public().to_peer_id().to_string();
    let refused = |r: &Router| {
        let handle = r.handle.clone();
        let rogue_peer = rogue_peer.clone();
        async move {
            handle
                .peers()
                .await
                .iter()
                .find(|p| p.peer_id == rogue_peer)
                .map(|p| {
                    p.rejected_by
                        .get(xroute::network::Rejection::WrongCheckpoint.label())
                        .copied()
                        .unwrap_or(0)
                })
                .unwrap_or(0)
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while refused(&a).await == 0 || refused(&b).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rogue's root was not refused: A sees {:?}, B sees {:?}, the rogue {:?}",
            a.handle.peers().await,
            b.handle.peers().await,
            rogue.handle.peers().await,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two honest signatures of three needed: nothing is certified yet.
    let record_of = |r: &Router, id: &MessageId| r.network.store().get(id).unwrap().unwrap();
    assert!(
        a.network
            .checkpoint_certificate(&record_of(&a, &ids[0]))
            .unwrap()
            .is_none()
    );

    // C joins late, signs the same checkpoint, and asks for what it lacks.
    let c = start_with(2, &keys, &ports, &[0, 1, 3], 3, Some(honest_l1()));
    wait_connected(&c, "C", 3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let honest: Vec<Address> = keys[..3].iter().map(|(k, _)| k.address()).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(4 * REPUBLISH_MS + 20_000);
    loop {
        for r in [&a, &b, &c] {
            r.network.checkpoint_round().await.unwrap();
        }
        let certs: Vec<_> = [&a, &b, &c]
            .iter()
            .map(|r| {
                r.network
                    .checkpoint_certificate(&record_of(r, &ids[39]))
                    .unwrap()
            })
            .collect();
        if certs.iter().all(|c| c.is_some()) {
            for (place, cert) in certs.into_iter().flatten() {
                assert_eq!((place.l1_block, place.index, cert.claim.count), (1, 39, 40));
                let mut signers = cert.signers.clone();
                signers.sort();
                let mut want = honest.clone();
                want.sort();
                assert_eq!(signers, want, "signed by the honest three only");
            }
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every honest router certified the checkpoint"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
