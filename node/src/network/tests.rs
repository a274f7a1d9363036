use std::time::Duration;

use alloy::{dyn_abi::Eip712Domain, signers::local::PrivateKeySigner};
use alloy_primitives::{Address, B256};
use libp2p::{PeerId, identity::Keypair};
use xroute_proofs::{
    attestation::{AttestedStage, Batch, Claim, Signed},
    envelope::MessageId,
};

use super::{Decision as Turn, checkpoints::MAX_AHEAD_BLOCKS, *};
use crate::pipeline::{Coordinator, Gate};
use crate::{
    network::{
        verdict::{Rejection, Verdict},
        wire::{
            BatchAttestation, ChainView, Gossip, Heartbeat, Inbound, MAX_BUNDLE, RelayClaim, Want,
            Wanted,
        },
    },
    p2p,
    store::Store,
    time::now_ms,
};

struct Member {
    key: PrivateKeySigner,
    node_key: Keypair,
    peer: PeerId,
}

fn member() -> Member {
    let node_key = Keypair::generate_ed25519();
    Member {
        key: PrivateKeySigner::random(),
        peer: node_key.public().to_peer_id(),
        node_key,
    }
}

fn inbound(author: PeerId, gossip: Gossip) -> Inbound {
    Inbound {
        from: author,
        author: Some(author),
        id: libp2p::gossipsub::MessageId::from("x"),
        gossip,
    }
}

fn claim(id: u8) -> Claim {
    Claim {
        message_id: MessageId(B256::repeat_byte(id)),
        stage: AttestedStage::Proven,
        domain: 2,
        block_number: 9,
        block_hash: B256::repeat_byte(0xbb),
    }
}

/// A router (`me`) of a set of three with threshold 2, on a real sled store and a real
/// (unconnected) libp2p swarm. The directory must outlive the network.
struct Fixture {
    _dir: tempfile::TempDir,
    network: Network,
    a: Member,
    b: Member,
    domain: Eip712Domain,
}

const WINDOW_MS: u64 = 1000;
const SETTLE_MS: u64 = 200;

fn domain() -> Eip712Domain {
    xroute_proofs::attestation::domain(1, Address::repeat_byte(1))
}

/// `me`'s router in the set `members` (threshold 2), with its own sled store and an
/// unconnected libp2p swarm.
fn network_of(me: &Member, members: &[&Member]) -> (tempfile::TempDir, Network) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (handle, _inbound) = p2p::spawn(
        me.node_key.clone(),
        crate::network::wire::p2p_settings(
            "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            vec![],
            4,
            Duration::from_secs(1),
        ),
    )
    .unwrap();
    let network = Network::new(
        handle,
        store,
        NetworkSettings {
            signer: me.key.clone(),
            members: members.iter().map(|m| (m.key.address(), m.peer)).collect(),
            threshold: 2,
            relay_window_ms: WINDOW_MS,
            claim_settle_ms: SETTLE_MS,
            heartbeat_ms: 1000,
            batch_attestations: true,
        },
        domain(),
    )
    .unwrap();
    (dir, network)
}

/// `who`'s signed batch attestation of messages `range` (one byte each), and the same batch
/// with two ids swapped (they no longer hash to the signed root).
fn batch_by(
    who: &Member,
    domain: &Eip712Domain,
    range: std::ops::Range<u8>,
) -> (
    Vec<MessageId>,
    Batch,
    Signed<xroute_proofs::attestation::BatchClaim>,
    Gossip,
) {
    let ids: Vec<MessageId> = range.map(|i| MessageId(B256::repeat_byte(i))).collect();
    let batch = Batch::new(
        ids.iter().map(|i| (*i, AttestedStage::Proven)).collect(),
        1,
        5,
        B256::repeat_byte(5),
    )
    .unwrap();
    let signed = Signed::sign(&who.key, domain, batch.claim).unwrap();
    let mut swapped = ids.clone();
    swapped.swap(0, 1);
    let tampered = Gossip::BatchAttestation(BatchAttestation {
        signed,
        message_ids: swapped,
    });
    (ids, batch, signed, tampered)
}

fn fixture() -> Fixture {
    let (a, b, me) = (member(), member(), member());
    let (dir, network) = network_of(&me, &[&a, &b, &me]);
    Fixture {
        _dir: dir,
        network,
        a,
        b,
        domain: domain(),
    }
}

/// What a set member, not an outsider, can send wrongly; and what is right.
#[tokio::test]
async fn gossip_from_members_is_checked_against_what_it_claims() {
    let Fixture {
        _dir,
        network,
        a,
        b,
        domain,
    } = fixture();
    let sign = |who: &Member, c: Claim| Signed::sign(&who.key, &domain, c).unwrap();

    // A's own attestation: accepted once, a replay ignored.
    let good = Gossip::Attestations {
        attestations: vec![sign(&a, claim(1))],
    };
    assert_eq!(
        network.validate(&inbound(a.peer, good.clone())),
        Ok(Verdict::Accept)
    );
    assert_eq!(
        network.validate(&inbound(a.peer, good)),
        Ok(Verdict::Ignore)
    );
    // A publishing B's signature, or a body changed after signing.
    let bs = Gossip::Attestations {
        attestations: vec![sign(&b, claim(2))],
    };
    assert!(network.validate(&inbound(a.peer, bs)).is_err());
    let mut forged = sign(&a, claim(3));
    forged.body.block_number += 1;
    assert!(
        network
            .validate(&inbound(
                a.peer,
                Gossip::Attestations {
                    attestations: vec![forged]
                }
            ))
            .is_err()
    );
    // An outsider, even with a valid signature of a member.
    let outsider = Keypair::generate_ed25519().public().to_peer_id();
    let again = Gossip::Attestations {
        attestations: vec![sign(&a, claim(4))],
    };
    assert!(network.validate(&inbound(outsider, again)).is_err());
    // Bundles: empty, over the bound, or with another member's signature among A's.
    let none = Gossip::Attestations {
        attestations: vec![],
    };
    assert!(network.validate(&inbound(a.peer, none)).is_err());
    let over = Gossip::Attestations {
        attestations: vec![sign(&a, claim(5)); MAX_BUNDLE + 1],
    };
    assert!(network.validate(&inbound(a.peer, over)).is_err());
    let mixed = Gossip::Attestations {
        attestations: vec![sign(&a, claim(6)), sign(&b, claim(7))],
    };
    assert!(network.validate(&inbound(a.peer, mixed)).is_err());
    // A bundle with one known and two new attestations: the new ones are kept.
    let bundle = Gossip::Attestations {
        attestations: vec![sign(&a, claim(1)), sign(&a, claim(8)), sign(&a, claim(9))],
    };
    assert_eq!(
        network.validate(&inbound(a.peer, bundle)),
        Ok(Verdict::Accept)
    );
    for c in [8, 9] {
        let id = claim(c).message_id;
        assert!(
            network
                .store
                .has_attestation(&id, &a.key.address())
                .unwrap()
        );
    }
    // A batch whose ids do not hash to the signed root.
    let (ids, batch, signed, bad) = batch_by(&a, &domain, 10..14);
    assert!(network.validate(&inbound(a.peer, bad)).is_err());
    let ok = Gossip::BatchAttestation(BatchAttestation {
        signed,
        message_ids: ids.clone(),
    });
    assert_eq!(network.validate(&inbound(a.peer, ok)), Ok(Verdict::Accept));
    // With B's batch too, the threshold (2) is met for every id of the batch.
    let signed_b = Signed::sign(&b.key, &domain, batch.claim).unwrap();
    let ok_b = Gossip::BatchAttestation(BatchAttestation {
        signed: signed_b,
        message_ids: ids.clone(),
    });
    assert_eq!(
        network.validate(&inbound(b.peer, ok_b)),
        Ok(Verdict::Accept)
    );
    for id in &ids {
        let cert = network.certificate(id).unwrap().expect("certified");
        let mut signers = network.signers(&cert).unwrap();
        signers.sort();
        let mut want = vec![a.key.address(), b.key.address()];
        want.sort();
        assert_eq!(signers, want);
    }
    // An attestation request in another router's name, or longer than a batch.
    let wanted: Vec<Wanted> = ids.iter().map(|id| Wanted { id: *id, have: 0 }).collect();
    let want_for_b = Gossip::Want(Want {
        router: b.key.address(),
        wanted: wanted.clone(),
        at_ms: now_ms(),
    });
    assert!(network.validate(&inbound(a.peer, want_for_b)).is_err());
    let too_many = Gossip::Want(Want {
        router: a.key.address(),
        wanted: vec![wanted[0]; MAX_BATCH + 1],
        at_ms: now_ms(),
    });
    assert!(network.validate(&inbound(a.peer, too_many)).is_err());
    // A claim or heartbeat in another router's name; a stale heartbeat.
    let claim_for_b = Gossip::Claim(RelayClaim {
        message_id: ids[0],
        hop: 0,
        router: b.key.address(),
        at_ms: now_ms(),
    });
    assert!(network.validate(&inbound(a.peer, claim_for_b)).is_err());
    let stale = Gossip::Heartbeat(Heartbeat {
        router: a.key.address(),
        at_ms: now_ms() - 10 * validate::STALE_MS,
        chains: vec![],
    });
    assert_eq!(
        network.validate(&inbound(a.peer, stale)),
        Ok(Verdict::Ignore)
    );
}

/// A member whose finalized block differs from ours at a height we know is shown as
/// divergent in `GET /peers`, and no longer once it agrees.
#[tokio::test]
async fn a_member_with_another_finalized_block_is_shown_as_divergent() {
    let Fixture {
        _dir,
        network,
        a,
        b,
        ..
    } = fixture();
    let ours = B256::repeat_byte(0x11);
    network.liveness.saw_finalized("starknet", 40, ours);
    let heartbeat = |router: Address, finalized: u64, hash: B256| {
        Gossip::Heartbeat(Heartbeat {
            router,
            at_ms: now_ms(),
            chains: vec![ChainView {
                chain: "starknet".into(),
                head: finalized + 2,
                finalized,
                finalized_hash: hash,
            }],
        })
    };
    let other = B256::repeat_byte(0x22);
    let view_of = |peers: &PeersView, who: Address| {
        peers
            .routers
            .iter()
            .find(|r| r.address == who)
            .cloned()
            .expect("a member")
    };
    assert_eq!(
        network.validate(&inbound(a.peer, heartbeat(a.key.address(), 40, other))),
        Ok(Verdict::Accept)
    );
    // B is at a height we never saw finalized: nothing to compare, not divergent.
    assert_eq!(
        network.validate(&inbound(b.peer, heartbeat(b.key.address(), 41, other))),
        Ok(Verdict::Accept)
    );
    let peers = network.peers().await;
    let seen_a = view_of(&peers, a.key.address());
    let why = seen_a.divergent.expect("A diverges");
    assert!(why.contains("starknet block 40"), "{why}");
    assert!(
        why.contains(&other.to_string()) && why.contains(&ours.to_string()),
        "{why}"
    );
    assert!(seen_a.live);
    assert_eq!(seen_a.chains[0].finalized_hash, other);
    let seen_b = view_of(&peers, b.key.address());
    assert!(seen_b.live && seen_b.divergent.is_none());

    // A's next heartbeat agrees with us.
    assert_eq!(
        network.validate(&inbound(a.peer, heartbeat(a.key.address(), 40, ours))),
        Ok(Verdict::Accept)
    );
    assert!(
        view_of(&network.peers().await, a.key.address())
            .divergent
            .is_none()
    );
}

fn record(nonce: u64) -> MessageRecord {
    let envelope = xroute_proofs::envelope::Envelope {
        src_domain: 2,
        nonce,
        sender: B256::with_last_byte(1),
        dst_domain: 1,
        recipient: B256::with_last_byte(2),
        payload: vec![],
    };
    let source = crate::model::SourceRef {
        domain: 2,
        block_number: 10,
        block_hash: B256::repeat_byte(3),
        tx_hash: B256::repeat_byte(4),
    };
    MessageRecord::new(envelope, source, 0)
}

/// Every router of a set ranks the same hop differently (exactly one is first), the work is
/// spread over all of them, the k-th waits k windows, a fresh claim by another router holds
/// the others back until it is two windows old, and of two routers that claim at the same
/// moment only the better ranked one relays.
#[tokio::test]
async fn relay_assignment_has_one_first_router_per_hop_and_bounded_takeover() {
    let members: Vec<Member> = (0..4).map(|_| member()).collect();
    let all: Vec<&Member> = members.iter().collect();
    let routers: Vec<(tempfile::TempDir, Network)> =
        members.iter().map(|m| network_of(m, &all)).collect();
    let mut first = [0usize; 4];
    for nonce in 0..400 {
        let id = record(nonce).id;
        let mut ranks: Vec<usize> = routers.iter().map(|(_, n)| n.rank(&id)).collect();
        first[ranks.iter().position(|r| *r == 0).unwrap()] += 1;
        ranks.sort();
        assert_eq!(ranks, vec![0, 1, 2, 3], "message {id}");
    }
    assert!(
        first.iter().all(|n| *n >= 50),
        "first relayer counts {first:?}"
    );

    let t0 = now_ms();
    let hop = record(7);
    let by_rank = |rank: usize| {
        routers
            .iter()
            .position(|(_, n)| n.rank(&hop.id) == rank)
            .unwrap()
    };
    let wait = |turn: Turn| match turn {
        Turn::Wait(why) => why,
        other => panic!("expected to wait, got {other:?}"),
    };
    for rank in 0..4 {
        let n = &routers[by_rank(rank)].1;
        let at = t0 + rank as u64 * WINDOW_MS;
        if rank > 0 {
            wait(n.turn(&hop, t0, at - 1));
        }
        assert_eq!(n.turn(&hop, t0, at), Turn::Claim, "rank {rank} on time");
    }
    let hear = |to: usize, claim: RelayClaim| {
        let from = members.iter().find(|m| m.key.address() == claim.router);
        let verdict = routers[to]
            .1
            .validate(&inbound(from.unwrap().peer, Gossip::Claim(claim)));
        assert_eq!(verdict, Ok(Verdict::Accept));
    };
    let claim_of = |who: usize| {
        let seen = routers[who].1.claims.of(&hop.id, 0)[0];
        RelayClaim {
            message_id: hop.id,
            hop: seen.hop,
            router: seen.router,
            at_ms: seen.last_ms,
        }
    };

    // The first router claims the hop; it relays once the claim has settled.
    let (first, second) = (by_rank(0), by_rank(1));
    routers[first].1.claim(&hop);
    let claimed = claim_of(first);
    assert_eq!(claimed.router, members[first].key.address());
    let n = &routers[first].1;
    let why = wait(n.turn(&hop, t0, claimed.at_ms + SETTLE_MS - 1));
    assert!(why.contains("claimed; relays at"), "{why}");
    assert_eq!(n.turn(&hop, t0, claimed.at_ms + SETTLE_MS), Turn::Relay);
    // The second hears it in its window and holds back.
    hear(second, claimed);
    let n = &routers[second].1;
    let why = wait(n.turn(&hop, t0, claimed.at_ms + WINDOW_MS));
    assert!(why.contains("claimed the hop"), "{why}");
    // Two windows without the relay: the claimant is taken for dead.
    assert_eq!(n.turn(&hop, t0, claimed.at_ms + 2 * WINDOW_MS), Turn::Claim);

    // Races: two routers claim before hearing each other; once the claims have crossed,
    // exactly one relays, whatever order they arrived in.
    let race = |nonce: u64, at: [(usize, u64); 2], winner: usize| {
        let hop = record(nonce);
        let by_rank = |rank: usize| {
            routers
                .iter()
                .position(|(_, n)| n.rank(&hop.id) == rank)
                .unwrap()
        };
        let claims: Vec<(usize, RelayClaim)> = at
            .iter()
            .map(|(rank, at_ms)| {
                let who = by_rank(*rank);
                let claim = RelayClaim {
                    message_id: hop.id,
                    hop: 0,
                    router: members[who].key.address(),
                    at_ms: *at_ms,
                };
                routers[who].1.claims.note(claim);
                (who, claim)
            })
            .collect();
        hear(claims[0].0, claims[1].1);
        hear(claims[1].0, claims[0].1);
        let settled = claims[0].1.at_ms.max(claims[1].1.at_ms) + SETTLE_MS;
        for (rank, _) in at {
            let turn = routers[by_rank(rank)].1.turn(&hop, t0, settled);
            if rank == winner {
                assert_eq!(turn, Turn::Relay, "rank {rank}");
            } else {
                let why = wait(turn);
                assert!(why.contains("claimed the hop first"), "{why}");
            }
        }
        // Each router keeps both claims; hearing one again changes nothing.
        hear(claims[0].0, claims[1].1);
        assert_eq!(routers[claims[0].0].1.claims.of(&hop.id, 0).len(), 2);
    };
    let now = now_ms();
    // The first router's certificate came late: it claims in the same millisecond as the
    // third, whose window ran out. The better ranked one relays.
    race(8, [(2, now), (0, now)], 0);
    // The first router was frozen past the second's window: the second claimed and
    // relayed long before the first, waking up, claimed without having heard it.
    race(9, [(1, now), (0, now + 3 * SETTLE_MS)], 1);
}

/// What the sender did wrong is named in the rejection; a failure of our own store is *ignore*
/// (no penalty for the sender), never *reject*.
#[tokio::test]
async fn rejections_carry_their_reason_and_a_local_store_failure_is_ignored() {
    let Fixture {
        _dir,
        network,
        a,
        b,
        domain,
    } = fixture();
    let sign = |who: &Member, c: Claim| Signed::sign(&who.key, &domain, c).unwrap();
    let reason = |r: Result<Verdict, Rejected>| r.unwrap_err().reason;
    let bs = Gossip::Attestations {
        attestations: vec![sign(&b, claim(2))],
    };
    assert_eq!(
        reason(network.validate(&inbound(a.peer, bs.clone()))),
        Rejection::Impersonation
    );
    let outsider = Keypair::generate_ed25519().public().to_peer_id();
    assert_eq!(
        reason(network.validate(&inbound(outsider, bs.clone()))),
        Rejection::Stranger
    );
    let mut unsigned = inbound(a.peer, bs);
    unsigned.author = None;
    assert_eq!(reason(network.validate(&unsigned)), Rejection::Unsigned);
    let none = Gossip::Attestations {
        attestations: vec![],
    };
    assert_eq!(
        reason(network.validate(&inbound(a.peer, none))),
        Rejection::OutOfBounds
    );
    let mut other_domain = sign(&a, claim(3));
    other_domain.domain_separator = B256::repeat_byte(0xdd);
    assert_eq!(
        reason(network.validate(&inbound(
            a.peer,
            Gossip::Attestations {
                attestations: vec![other_domain]
            }
        ))),
        Rejection::BadSignature
    );
    let (ids, batch, signed, tampered) = batch_by(&a, &domain, 40..44);
    assert_eq!(
        reason(network.validate(&inbound(a.peer, tampered))),
        Rejection::BadClaim
    );

    // A's valid batch, while the record we hold under its root cannot be read.
    network
        .store
        .corrupt_batch(&batch.claim.root, &a.key.address())
        .unwrap();
    let ok = Gossip::BatchAttestation(BatchAttestation {
        signed,
        message_ids: ids.clone(),
    });
    assert_eq!(
        network.validate(&inbound(a.peer, ok)),
        Ok(Verdict::Ignore),
        "our store failed, not A"
    );
}

/// A hop this router decided to relay is held: its claim is renewed by the network's own timer
/// while the pipeline is busy elsewhere, so the next router does not take it over.
#[tokio::test]
async fn a_relayed_hop_stays_claimed_without_the_pipeline() {
    let members: Vec<Member> = (0..2).map(|_| member()).collect();
    let all: Vec<&Member> = members.iter().collect();
    let routers: Vec<(tempfile::TempDir, Network)> =
        members.iter().map(|m| network_of(m, &all)).collect();
    let hop = record(11);
    let first = routers
        .iter()
        .position(|(_, n)| n.rank(&hop.id) == 0)
        .unwrap();
    let t0 = now_ms();
    let n = &routers[first].1;
    assert_eq!(
        crate::pipeline::Coordinator::turn(n, &hop, t0, t0),
        crate::pipeline::Turn::Claimed
    );
    let claimed = n.claims.of(&hop.id, 0)[0].first_ms;
    assert_eq!(
        crate::pipeline::Coordinator::turn(n, &hop, t0, claimed + SETTLE_MS),
        crate::pipeline::Turn::Relay
    );
    // Long after the claim would have expired (two windows), the timer has renewed it.
    let later = claimed + 3 * WINDOW_MS;
    let renewed = n.claims.renewals(later);
    assert_eq!(renewed.len(), 1, "the held hop is claimed again");
    let other = &routers[1 - first].1;
    other.claims.note(renewed[0]);
    assert!(
        matches!(other.turn(&hop, t0, later), Turn::Wait(why) if why.contains("claimed the hop")),
        "the other router waits"
    );
}

/// Issue 16's L1 as a recorded list: checkpoints of domain 2 at `blocks` (L1 block, messages),
/// final up to `finalized`.
fn recorded_l1(blocks: &[(u64, u64)], finalized: u64) -> RecordedCheckpoints {
    let mut nonce = 0;
    let mut found = Vec::new();
    for (block, n) in blocks {
        let envelopes: Vec<_> = (0..*n)
            .map(|_| {
                nonce += 1;
                record(nonce).envelope
            })
            .collect();
        let mut one = RecordedCheckpoints::of_messages(2, &envelopes, envelopes.len());
        // At block `block` (of_messages numbers from 1).
        let f = &mut one[0];
        f.checkpoint = xroute_proofs::checkpoint::Checkpoint::new(
            2,
            *block,
            B256::repeat_byte(*block as u8),
            f.checkpoint.ids.clone(),
        )
        .unwrap();
        found.extend(one);
    }
    RecordedCheckpoints::new(found, finalized)
}

fn claim_at(l1: &RecordedCheckpoints, block: u64) -> xroute_proofs::checkpoint::CheckpointClaim {
    l1.found()
        .iter()
        .find(|f| f.checkpoint.claim.l1_block == block)
        .unwrap()
        .checkpoint
        .claim
}

/// Issue 16: a router signs the checkpoint it computes from L1 and learns its messages; another
/// member's attestation counts only when it is the same claim, and two make the certificate that
/// opens every message's gate; a root that L1 does not give (or a block where L1 made nothing
/// consumable) is rejected as a wrong checkpoint; a block not final here yet is waited for.
#[tokio::test]
async fn checkpoint_attestations_count_only_when_they_match_our_l1() {
    use std::sync::Arc;
    let f = fixture();
    let l1 = Arc::new(recorded_l1(&[(5, 3), (7, 2)], 6));
    let network = Arc::new(f.network.with_checkpoints(l1.clone()));
    assert!(network.checkpointed(2) && !network.checkpointed(3));

    // Our round: block 5 is final and has a checkpoint of three; block 7 is not final yet.
    assert_eq!(network.checkpoint_round().await.unwrap(), 1);
    let ours = claim_at(&l1, 5);
    let learned: Vec<MessageRecord> = l1.found()[0]
        .messages
        .iter()
        .map(|m| {
            network
                .store
                .get(&m.envelope.id())
                .unwrap()
                .expect("learned")
        })
        .collect();
    assert!(learned.iter().all(|r| r.stage == crate::model::Stage::Sent));
    assert_eq!(
        learned[0].source.domain, 1,
        "learned from the (recorded) L1"
    );
    assert_eq!(
        network.checkpoint_place(&learned[2].id).unwrap(),
        crate::model::CheckpointPlace {
            domain: 2,
            l1_block: 5,
            index: 2
        }
    );
    // A second round adds nothing (the cursor moved past block 6).
    assert_eq!(network.checkpoint_round().await.unwrap(), 0);
    // Our own signature alone is not a quorum of 2; the per-message path signs nothing.
    assert!(matches!(network.gate(&learned[0]).unwrap(), Gate::Closed));
    network
        .proven(
            &learned,
            1,
            xroute_adapters::BlockRef {
                number: 6,
                hash: [6; 32],
            },
        )
        .unwrap();
    assert!(
        !network
            .store
            .has_attestation(&learned[0].id, &network.me())
            .unwrap()
    );

    let judge = |who: &Member, claim| {
        let network = network.clone();
        let signed = Signed::sign(&who.key, &f.domain, claim).unwrap();
        let message = inbound(
            who.peer,
            Gossip::Checkpoints {
                attestations: vec![signed],
            },
        );
        async move { network.judge_checkpoints(&message).await }
    };
    // A rogue root, a wrong count, another block hash: each is a wrong checkpoint.
    let mut rogue = ours;
    rogue.root = B256::repeat_byte(0xee);
    let mut fewer = ours;
    fewer.count = 2;
    let mut other_hash = ours;
    other_hash.l1_block_hash = B256::repeat_byte(0x99);
    for bad in [rogue, fewer, other_hash] {
        let e = judge(&f.a, bad).await.unwrap_err();
        assert_eq!(e.reason, Rejection::WrongCheckpoint, "{e}");
        assert!(e.detail.contains("but L1 gives root"), "{e}");
    }
    // A claim of messages at a final block where L1 made none consumable.
    let mut empty = ours;
    empty.l1_block = 6;
    let e = judge(&f.a, empty).await.unwrap_err();
    assert_eq!(e.reason, Rejection::WrongCheckpoint);
    assert!(e.detail.contains("made none consumable"), "{e}");
    // The same claim signed by a key outside the set, or published by another member's peer.
    let outsider = member();
    assert_eq!(
        judge(&outsider, ours).await.unwrap_err().reason,
        Rejection::Stranger
    );
    let by_b = Signed::sign(&f.b.key, &f.domain, ours).unwrap();
    let impersonated = inbound(
        f.a.peer,
        Gossip::Checkpoints {
            attestations: vec![by_b],
        },
    );
    assert_eq!(
        network
            .judge_checkpoints(&impersonated)
            .await
            .unwrap_err()
            .reason,
        Rejection::Impersonation
    );
    assert!(
        network
            .checkpoint_certificate(&learned[0])
            .unwrap()
            .is_none()
    );

    // b signs what L1 gives: accepted, and with ours a certificate of the whole checkpoint.
    assert_eq!(judge(&f.b, ours).await.unwrap(), Verdict::Accept);
    let (place, cert) = network
        .checkpoint_certificate(&learned[1])
        .unwrap()
        .unwrap();
    assert_eq!((place.l1_block, place.index), (5, 1));
    assert_eq!(cert.claim, ours);
    let mut signers = cert.signers.clone();
    signers.sort();
    let mut expected = vec![network.me(), f.b.key.address()];
    expected.sort();
    assert_eq!(signers, expected);
    for r in &learned {
        match network.gate(r).unwrap() {
            Gate::CheckpointCertified { note, .. } => {
                assert!(note.contains("checkpoint certificate"), "{note}");
                assert!(note.contains("L1 block 5"), "{note}");
            }
            other => panic!("{other:?}"),
        }
    }
    // A replay costs no signature recovery and is ignored.
    assert_eq!(judge(&f.b, ours).await.unwrap(), Verdict::Ignore);

    // A block far past our finalized one is not waited for.
    let mut far = claim_at(&l1, 7);
    far.l1_block = 6 + MAX_AHEAD_BLOCKS + 1;
    let quick = tokio::time::timeout(Duration::from_secs(1), judge(&f.a, far)).await;
    assert_eq!(quick.expect("not waited for").unwrap(), Verdict::Ignore);
    // Block 7 is not final here: a's attestation of it waits until our L1 gets there.
    let early = tokio::spawn(judge(&f.a, claim_at(&l1, 7)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !early.is_finished(),
        "judged before its block was final here"
    );
    l1.set_finalized(8);
    assert_eq!(network.checkpoint_round().await.unwrap(), 1);
    let verdict = tokio::time::timeout(Duration::from_secs(5), early)
        .await
        .expect("judged once final")
        .unwrap();
    assert_eq!(verdict.unwrap(), Verdict::Accept);
    let id7 = l1.found()[1].messages[0].envelope.id();
    let record7 = network.store.get(&id7).unwrap().unwrap();
    let (_, cert7) = network.checkpoint_certificate(&record7).unwrap().unwrap();
    assert_eq!(cert7.claim, claim_at(&l1, 7));

    // A message that passes its gate keeps its place in its record; after a restart the index
    // of places is rebuilt from the live checkpoints without it, and a checkpoint whose messages
    // all passed is retired.
    let attest = |r: &MessageRecord| {
        let place = network.checkpoint_place(&r.id).unwrap();
        network
            .store
            .transition(
                &r.id,
                crate::model::Stage::Sent,
                crate::model::Stage::Proven,
                1,
                "proven",
                crate::model::Change::default(),
            )
            .unwrap();
        let done = network
            .store
            .transition(
                &r.id,
                crate::model::Stage::Proven,
                crate::model::Stage::Attested,
                2,
                "attested",
                crate::model::Change::default().checkpoint(Some(place)),
            )
            .unwrap();
        network.checkpoint_attested(&done);
        done
    };
    let first = attest(&learned[0]);
    attest(&learned[1]);
    let (place0, _) = network.checkpoint_certificate(&first).unwrap().unwrap();
    assert_eq!((place0.l1_block, place0.index), (5, 0));
    network.forget_places();
    network.index_live_checkpoints().unwrap();
    assert_eq!(network.checkpoint_place(&learned[0].id), None);
    // Its gate (a later hop) goes by the place its record keeps.
    assert!(matches!(
        network.gate(&first).unwrap(),
        Gate::CheckpointCertified { place, .. } if place == place0
    ));
    assert_eq!(network.checkpoint_place(&learned[2].id).unwrap().index, 2);
    assert_eq!(
        network.store.live_checkpoints().unwrap(),
        vec![(2, 5), (2, 7)]
    );
    attest(&learned[2]);
    assert_eq!(network.store.live_checkpoints().unwrap(), vec![(2, 7)]);
}
