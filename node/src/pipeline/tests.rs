//! Every outcome of a step, on scripted chains (`xroute_adapters::testing`) and a real sled
//! store: nothing here starts a node. What each test checks is what the store then holds (stage,
//! history, reason, relay attempts) and what was asked of the submitter (signed, broadcast,
//! re-broadcast transactions).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use alloy::primitives::{B256, Bytes, U256};
use xroute_adapters::{
    Call, ChainAdapter, Entry, ErrorKind, Estimate, Exit, Revert,
    testing::{FAKE_HUB, FakeChain},
};
use xroute_config::RelayConfig;
use xroute_proofs::envelope::{Envelope, MessageId};

use super::{Chains, Pipeline};
use crate::{
    model::{Change, MessageRecord, SourceRef, Stage},
    router::Router,
    time::{Clock, ManualClock},
};

const L1: u32 = 1;
const ROLLUP: u32 = 2;

struct Setup {
    _dir: tempfile::TempDir,
    pipeline: Arc<Pipeline>,
    hub: Arc<FakeChain>,
    rollup: Arc<FakeChain>,
}

async fn setup(relay: RelayConfig) -> Setup {
    setup_with(relay, None).await
}

/// A setup whose pipeline reads the time from `clock`, if given.
async fn setup_with(relay: RelayConfig, clock: Option<Arc<ManualClock>>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let hub = FakeChain::hub("ethereum", L1);
    let rollup = FakeChain::rollup("starknet", ROLLUP);
    let mut by_domain: BTreeMap<u32, Arc<dyn ChainAdapter>> = BTreeMap::new();
    by_domain.insert(L1, hub.clone());
    by_domain.insert(ROLLUP, rollup.clone());
    let chains = Chains::new(L1, by_domain).unwrap();
    let mut builder = Router::builder(relay).chains(chains).store_at(dir.path());
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    let router = builder.build().await.unwrap();
    Setup {
        _dir: dir,
        pipeline: router.pipeline().clone(),
        hub,
        rollup,
    }
}

/// Retries at once (a millisecond of backoff), bumps a stuck relay at once.
fn quick() -> RelayConfig {
    RelayConfig {
        max_attempts: 4,
        backoff_initial_ms: 1,
        backoff_max_ms: 1,
        poll_interval_ms: 1,
        bump_after_ms: 60_000,
        ..RelayConfig::default()
    }
}

/// A message from the rollup to L1, stored `Sent`.
fn stored(s: &Setup, nonce: u64) -> MessageId {
    let envelope = Envelope {
        src_domain: ROLLUP,
        nonce,
        sender: B256::with_last_byte(1),
        dst_domain: L1,
        recipient: B256::with_last_byte(2),
        payload: vec![B256::with_last_byte(3)],
    };
    let record = MessageRecord::new(
        envelope,
        SourceRef {
            domain: ROLLUP,
            block_number: 5,
            block_hash: B256::repeat_byte(5),
            tx_hash: B256::repeat_byte(6),
        },
        0,
    );
    s.pipeline.store().insert_new(&record).unwrap();
    record.id
}

/// A message from an L1 app to the rollup, stored `Sent`, waiting in the Hub with `prepaid` wei
/// (its exit is ready at once).
fn from_l1(s: &Setup, nonce: u64, prepaid: u64) -> MessageId {
    let envelope = Envelope {
        src_domain: L1,
        nonce,
        sender: B256::with_last_byte(1),
        dst_domain: ROLLUP,
        recipient: B256::with_last_byte(9),
        payload: vec![],
    };
    let record = MessageRecord::new(
        envelope,
        SourceRef {
            domain: L1,
            block_number: 3,
            block_hash: B256::repeat_byte(3),
            tx_hash: B256::repeat_byte(4),
        },
        0,
    );
    s.pipeline.store().insert_new(&record).unwrap();
    s.hub.set_exit(
        record.id,
        Exit::Ready {
            proof: format!("Hub.outbound[id] = {}", prepaid + 1),
            call: Call::evm(FAKE_HUB, Bytes::new(), U256::ZERO),
            prepaid: U256::from(prepaid),
        },
    );
    record.id
}

/// The rollup shows message `id` proven on L1 (in a new L1 block), consumed by a Hub call.
fn ready(s: &Setup, id: MessageId) -> Call {
    let call = Call::evm(FAKE_HUB, Bytes::from(id.0.to_vec()), U256::ZERO);
    s.hub.next_block();
    s.rollup.set_exit(
        id,
        Exit::Ready {
            proof: "l2ToL1Messages[h] = 1 at L1 block 10 (storage proof)".into(),
            call: call.clone(),
            prepaid: U256::ZERO,
        },
    );
    call
}

async fn tick(s: &Setup) {
    s.pipeline.tick().await.unwrap();
    // Past any backoff of a millisecond.
    tokio::time::sleep(Duration::from_millis(3)).await;
}

fn record(s: &Setup, id: &MessageId) -> MessageRecord {
    s.pipeline.store().get(id).unwrap().unwrap()
}

fn notes(r: &MessageRecord) -> Vec<String> {
    r.history.iter().map(|t| t.note.clone()).collect()
}

#[tokio::test]
async fn a_proven_message_is_relayed_persisted_before_broadcast_and_delivered() {
    let s = setup(quick()).await;
    let id = stored(&s, 1);
    tick(&s).await;
    assert_eq!(record(&s, &id).stage, Stage::Sent, "not proven yet");
    let call = ready(&s, id);
    tick(&s).await; // Sent → Proven → (alone) Relaying, in one tick
    let r = record(&s, &id);
    assert_eq!(r.stage, Stage::Relaying, "{r:#?}");
    let l1 = s.hub.fake_submitter();
    let signed = l1.signed();
    assert_eq!(signed.len(), 1);
    assert_eq!(signed[0].1, call, "the exit's call");
    assert_eq!(r.relays[0].tx_hash, signed[0].0.hash, "persisted");
    assert_eq!(l1.broadcasts(), [signed[0].0.hash]);
    l1.mine(signed[0].0.hash, 9, true);
    tick(&s).await;
    assert_eq!(record(&s, &id).stage, Stage::Relayed);
    s.hub.deliver(id);
    tick(&s).await;
    let r = record(&s, &id);
    assert_eq!(r.stage, Stage::Delivered);
    assert!(notes(&r).iter().any(|n| n.contains("storage proof")));
    assert_eq!(l1.signed().len(), 1, "one transaction in all");
}

#[tokio::test]
async fn a_message_the_hub_already_processed_is_not_relayed() {
    let s = setup(quick()).await;
    let id = stored(&s, 2);
    s.hub.deliver(id);
    tick(&s).await;
    let r = record(&s, &id);
    assert!(
        matches!(r.stage, Stage::Relayed | Stage::Delivered),
        "{r:#?}"
    );
    assert!(notes(&r).contains(&"the Hub already processed it".to_string()));
    assert!(s.hub.fake_submitter().signed().is_empty());
}

#[tokio::test]
async fn each_revert_class_of_the_estimate_has_its_outcome() {
    let s = setup(quick()).await;
    let l1 = s.hub.fake_submitter();
    // Already done: the hop is made, nothing is paid.
    let done = stored(&s, 3);
    ready(&s, done);
    l1.next_estimate(Estimate::Reverts(Revert::AlreadyDone(
        "AlreadyProcessed(0x…)".into(),
    )));
    tick(&s).await;
    let r = record(&s, &done);
    assert_eq!(r.stage, Stage::Relayed);
    assert!(notes(&r).contains(&"hop already made (AlreadyProcessed(0x…))".to_string()));
    // Permanent: parked with the reason.
    let never = stored(&s, 4);
    ready(&s, never);
    l1.next_estimate(Estimate::Reverts(Revert::Permanent(
        "recipient 0x02 is not a contract on L1".into(),
    )));
    tick(&s).await;
    let r = record(&s, &never);
    assert_eq!(r.stage, Stage::Parked);
    assert_eq!(
        r.reason.as_deref(),
        Some("recipient 0x02 is not a contract on L1")
    );
    // Transient: retried after a backoff, stage kept, then relayed once it passes.
    let later = stored(&s, 5);
    ready(&s, later);
    l1.next_estimate(Estimate::Reverts(Revert::Transient("out of gas".into())));
    tick(&s).await;
    let r = record(&s, &later);
    assert_eq!(r.stage, Stage::Proven);
    assert_eq!(r.attempts, 1);
    assert_eq!(r.reason.as_deref(), Some("relay would revert: out of gas"));
    assert!(l1.signed().is_empty(), "none of the three was signed yet");
    tick(&s).await;
    assert_eq!(record(&s, &later).stage, Stage::Relaying);
    assert_eq!(l1.signed().len(), 1);
}

#[tokio::test]
async fn a_refused_entry_parks_the_message_before_any_transaction() {
    let s = setup(quick()).await;
    // From L1 to the rollup, whose recipient is not deployed.
    let id = from_l1(&s, 0, 0);
    s.rollup.set_entry(
        id,
        Entry::Refused("recipient 0x9 is not deployed on starknet".into()),
    );
    tick(&s).await;
    let r = record(&s, &id);
    assert_eq!(r.stage, Stage::Parked);
    assert_eq!(
        r.reason.as_deref(),
        Some("recipient 0x9 is not deployed on starknet")
    );
    assert!(s.hub.fake_submitter().signed().is_empty());
}

#[tokio::test]
async fn the_entry_fee_less_what_was_prepaid_is_the_relay_value() {
    let s = setup(quick()).await;
    let id = from_l1(&s, 7, 300);
    s.rollup.set_entry(id, Entry::fee(U256::from(1_000)));
    tick(&s).await;
    let signed = s.hub.fake_submitter().signed();
    assert_eq!(signed[0].1.value, U256::from(700));
    assert_eq!(record(&s, &id).relays[0].value, U256::from(700));
}

/// What the destination's entry asks the Hub to pass on (an Arbitrum retryable's gas and refund
/// address) reaches the source's exit call.
#[tokio::test]
async fn the_entry_terms_go_into_the_exit_call() {
    let s = setup(quick()).await;
    let id = from_l1(&s, 8, 0);
    let terms = Bytes::from(vec![0xab; 128]);
    s.rollup.set_entry(
        id,
        Entry::Accepted {
            fee: U256::from(5),
            terms: terms.clone(),
        },
    );
    tick(&s).await;
    let signed = s.hub.fake_submitter().signed();
    assert_eq!(signed.len(), 1);
    assert_eq!(
        signed[0].1.data, terms,
        "the double appends the terms to its call"
    );
    assert_eq!(signed[0].1.value, U256::from(5));
}

#[tokio::test]
async fn a_stuck_relay_is_replaced_under_its_nonce_and_the_replacement_counts() {
    let s = setup(RelayConfig {
        bump_after_ms: 0,
        ..quick()
    })
    .await;
    let id = stored(&s, 6);
    ready(&s, id);
    tick(&s).await;
    let l1 = s.hub.fake_submitter();
    let first = l1.signed()[0].0.clone();
    tick(&s).await; // not mined: replaced at once (bump_after_ms = 0)
    let signed = l1.signed();
    assert_eq!(signed.len(), 2);
    let replacement = &signed[1].0;
    assert_eq!(replacement.nonce, first.nonce, "same nonce");
    assert!(replacement.fees.max_fee_per_gas > first.fees.max_fee_per_gas);
    assert_eq!(signed[1].1, signed[0].1, "same call");
    let r = record(&s, &id);
    assert_eq!(r.stage, Stage::Relaying);
    assert_eq!(r.relays.len(), 2, "the replacement is persisted too");
    assert_eq!(l1.broadcasts(), [first.hash, replacement.hash]);
    l1.mine(replacement.hash, 9, true);
    tick(&s).await;
    let r = record(&s, &id);
    assert_eq!(r.stage, Stage::Relayed);
    assert!(
        notes(&r)
            .iter()
            .any(|n| n.contains(&replacement.hash.to_string())),
        "{:?}",
        notes(&r)
    );
}

#[tokio::test]
async fn a_relay_whose_nonce_another_transaction_took_is_made_again() {
    let s = setup(quick()).await;
    let id = stored(&s, 7);
    ready(&s, id);
    tick(&s).await;
    let l1 = s.hub.fake_submitter();
    let first = l1.signed()[0].0.clone();
    l1.take_nonce(); // mined elsewhere, our transaction never will be
    tick(&s).await;
    // The hop goes back to be made again (within this tick or the next: the backoff is a
    // jittered millisecond).
    let r = record(&s, &id);
    let back = r
        .history
        .iter()
        .find(|t| t.from == Stage::Relaying && t.to == Stage::Proven)
        .unwrap_or_else(|| panic!("{r:#?}"));
    assert_eq!(
        back.note,
        format!("nonce {} was used by another transaction", first.nonce)
    );
    if r.stage == Stage::Proven {
        tick(&s).await;
    }
    let signed = l1.signed();
    assert_eq!(signed.len(), 2);
    assert!(signed[1].0.nonce > first.nonce, "a fresh nonce");
    assert_eq!(record(&s, &id).stage, Stage::Relaying);
}

#[tokio::test]
async fn a_refused_broadcast_sends_the_hop_back_to_be_made_again() {
    let s = setup(quick()).await;
    let id = stored(&s, 8);
    ready(&s, id);
    let l1 = s.hub.fake_submitter();
    l1.refuse_next_broadcast();
    tick(&s).await;
    let r = record(&s, &id);
    assert_eq!(r.stage, Stage::Proven);
    assert!(
        r.reason.as_deref().is_some_and(|r| r.contains("refused")),
        "{r:#?}"
    );
    assert!(l1.broadcasts().is_empty());
    tick(&s).await;
    assert_eq!(record(&s, &id).stage, Stage::Relaying);
    assert_eq!(l1.broadcasts().len(), 1);
}

#[tokio::test]
async fn after_a_crash_between_persist_and_broadcast_the_same_bytes_are_sent() {
    let s = setup(quick()).await;
    let id = stored(&s, 9);
    let call = ready(&s, id);
    let l1 = s.hub.fake_submitter();
    // The process signed and persisted the relay, then died before broadcasting it.
    let tx = {
        let mut lease = xroute_adapters::Submitter::lease(l1.as_ref()).await;
        lease
            .sign(&call, xroute_adapters::testing::FEES)
            .await
            .unwrap()
    };
    let store = s.pipeline.store();
    store
        .transition(
            &id,
            Stage::Sent,
            Stage::Proven,
            1,
            "test",
            Change::default(),
        )
        .unwrap();
    store
        .transition(
            &id,
            Stage::Proven,
            Stage::Relaying,
            2,
            "test",
            Change::default().relay(crate::model::RelayAttempt {
                domain: L1,
                tx_hash: tx.hash,
                nonce: tx.nonce,
                sent_at_ms: crate::time::now_ms(),
                raw: tx.raw.clone(),
                gas_limit: tx.fees.gas_limit,
                max_fee_per_gas: tx.fees.max_fee_per_gas,
                max_priority_fee_per_gas: tx.fees.max_priority_fee_per_gas,
                value: U256::ZERO,
                batch: None,
            }),
        )
        .unwrap();
    assert!(l1.broadcasts().is_empty());
    // The restarted router: the persisted transaction goes out unchanged, no second one.
    tick(&s).await;
    assert_eq!(l1.rebroadcasts(), [tx.hash]);
    assert_eq!(l1.signed().len(), 1, "nothing new signed");
    l1.mine(tx.hash, 9, true);
    tick(&s).await;
    assert_eq!(record(&s, &id).stage, Stage::Relayed);
}

#[tokio::test]
async fn a_timed_out_rpc_keeps_the_stage_and_the_step_resumes_when_it_answers() {
    let s = setup(quick()).await;
    let id = stored(&s, 10);
    ready(&s, id);
    tick(&s).await;
    let l1 = s.hub.fake_submitter();
    assert_eq!(record(&s, &id).stage, Stage::Relaying);
    // L1 stops answering: the round fails, naming the timeout; the relay in flight stays in
    // flight (not sent back to be made again), and nothing new is signed.
    s.hub.fail_with(Some(ErrorKind::Timeout));
    let err = s.pipeline.tick().await.unwrap_err().to_string();
    assert!(err.contains("(timeout)"), "{err}");
    let r = record(&s, &id);
    assert_eq!((r.stage, r.relays.len()), (Stage::Relaying, 1));
    s.hub.fail_with(None);
    l1.mine(l1.signed()[0].0.hash, 9, true);
    tick(&s).await;
    assert_eq!(record(&s, &id).stage, Stage::Relayed);
    assert_eq!(l1.signed().len(), 1);

    // The rollup's node stops answering: a message to it keeps its stage, with the reason, and
    // goes on once the node answers again. Its node's fault spends none of its attempts, however
    // many rounds it lasts (`quick` parks after 4).
    let to_rollup = from_l1(&s, 11, 0);
    s.rollup.fail_with(Some(ErrorKind::Timeout));
    for _ in 0..quick().max_attempts * 2 {
        tick(&s).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = record(&s, &to_rollup);
    assert_eq!(r.stage, Stage::Proven, "its entry cannot be checked");
    assert_eq!(r.attempts, 0, "{r:#?}");
    assert_eq!(
        r.reason.as_deref(),
        Some("waiting for starknet's node (timeout)")
    );
    let text = s.pipeline.metrics().encode(&[], None);
    let faults = text
        .lines()
        .find(|l| l.starts_with("xroute_node_faults_total{chain=\"starknet\",kind=\"timeout\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(faults >= 2, "{text}");
    // A bad answer is not a node that is away: it spends an attempt.
    s.rollup.fail_with(Some(ErrorKind::BadAnswer));
    tokio::time::sleep(Duration::from_millis(5)).await;
    tick(&s).await;
    assert_eq!(record(&s, &to_rollup).attempts, 1);
    s.rollup.fail_with(None);
    tokio::time::sleep(Duration::from_millis(5)).await;
    tick(&s).await;
    assert_eq!(record(&s, &to_rollup).stage, Stage::Relaying);
}

#[tokio::test]
async fn a_follow_up_the_destination_asks_for_is_sent_there_once_and_delivery_follows() {
    let s = setup(quick()).await;
    let id = from_l1(&s, 12, 0);
    tick(&s).await;
    let l1 = s.hub.fake_submitter();
    l1.mine(l1.signed()[0].0.hash, 9, true);
    tick(&s).await;
    assert_eq!(record(&s, &id).stage, Stage::Relayed);
    // The rollup did not execute it on its own (an auto-redeem that failed): it asks for a call.
    let redeem = Call {
        to: B256::with_last_byte(0x6e),
        data: Bytes::from(vec![0xee; 36]),
        value: U256::ZERO,
        min_gas: 500_000,
    };
    s.rollup.set_follow_up(id, redeem.clone());
    tick(&s).await;
    let on_rollup = s.rollup.fake_submitter();
    let sent = on_rollup.signed();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, redeem);
    let r = record(&s, &id);
    assert_eq!(r.stage, Stage::Relayed);
    assert_eq!(
        r.relays.last().map(|a| a.domain),
        Some(ROLLUP),
        "sent on the rollup"
    );
    assert_eq!(on_rollup.broadcasts(), [sent[0].0.hash]);
    // While it waits for a block it is not sent again.
    tick(&s).await;
    assert_eq!(on_rollup.signed().len(), 1);
    on_rollup.mine(sent[0].0.hash, 11, true);
    s.rollup.deliver(id);
    tick(&s).await;
    assert_eq!(record(&s, &id).stage, Stage::Delivered);
    assert_eq!(on_rollup.signed().len(), 1, "one follow-up in all");
}

#[tokio::test]
async fn a_follow_up_that_keeps_reverting_parks_the_message() {
    let (s, id) = relayed_asking_for_a_redeem(13).await;
    let on_rollup = s.rollup.fake_submitter();
    for _ in 0..10 {
        tick(&s).await;
        if let Some((tx, _)) = on_rollup.signed().last() {
            on_rollup.mine(tx.hash, 11, false); // every follow-up reverts on chain
        }
        if record(&s, &id).stage == Stage::Parked {
            break;
        }
    }
    let r = record(&s, &id);
    assert_eq!(r.stage, Stage::Parked, "{r:#?}");
    assert!(
        r.reason
            .as_deref()
            .is_some_and(|r| r.contains("reverted on starknet")),
        "{r:#?}"
    );
    assert_eq!(on_rollup.signed().len(), 3, "one per attempt, then parked");
}

/// A pipeline (3 attempts) whose L1 app message `nonce` was relayed and whose destination asks
/// for a redeem.
async fn relayed_asking_for_a_redeem(nonce: u64) -> (Setup, MessageId) {
    let s = setup(RelayConfig {
        max_attempts: 3,
        ..quick()
    })
    .await;
    let id = from_l1(&s, nonce, 0);
    tick(&s).await;
    let l1 = s.hub.fake_submitter();
    l1.mine(l1.signed()[0].0.hash, 9, true);
    tick(&s).await;
    s.rollup.set_follow_up(id, redeem_call());
    (s, id)
}

fn redeem_call() -> Call {
    Call {
        to: B256::with_last_byte(0x6e),
        data: Bytes::from(vec![0xee; 36]),
        value: U256::ZERO,
        min_gas: 0,
    }
}

/// A follow-up that is mined but does not deliver (a redeem whose retry failed again: the
/// destination still asks for it) counts as a failed attempt: sent again, then parked.
#[tokio::test]
async fn a_follow_up_mined_without_delivering_is_sent_again_then_parks() {
    let (s, id) = relayed_asking_for_a_redeem(14).await;
    let on_rollup = s.rollup.fake_submitter();
    tick(&s).await;
    assert_eq!(on_rollup.signed().len(), 1);
    on_rollup.mine(on_rollup.signed()[0].0.hash, 11, true);
    tick(&s).await;
    assert_eq!(
        on_rollup.signed().len(),
        2,
        "mined, not delivered: sent again"
    );
    for _ in 0..10 {
        if let Some((tx, _)) = on_rollup.signed().last() {
            on_rollup.mine(tx.hash, 12, true);
        }
        tick(&s).await;
        if record(&s, &id).stage == Stage::Parked {
            break;
        }
    }
    let r = record(&s, &id);
    assert_eq!(r.stage, Stage::Parked, "{r:#?}");
    assert!(
        r.reason
            .as_deref()
            .is_some_and(|r| r.contains("did not deliver it")),
        "{r:#?}"
    );
    assert_eq!(on_rollup.signed().len(), 3, "one per attempt, then parked");
}

/// A pipeline whose hub chain offers batches, with `relay`.
async fn batching(relay: RelayConfig) -> Setup {
    let s = setup(relay).await;
    s.hub.enable_batches();
    s
}

/// `n` rollup → L1 messages from nonce `first`, stored and proven on L1: their ids and calls.
fn ready_many(s: &Setup, first: u64, n: u64) -> (Vec<MessageId>, Vec<Bytes>) {
    let mut ids = Vec::new();
    let mut calls = Vec::new();
    for nonce in first..first + n {
        let id = stored(s, nonce);
        calls.push(ready(s, id).data);
        ids.push(id);
    }
    (ids, calls)
}

/// The members of each transaction the hub's submitter signed, in order (0: a single relay).
fn batch_sizes(s: &Setup) -> Vec<usize> {
    s.hub
        .fake_submitter()
        .signed()
        .iter()
        .map(|(_, c)| xroute_adapters::testing::batch_members(c).len())
        .collect()
}

#[tokio::test]
async fn relays_ready_together_go_in_one_batch_persisted_with_every_member() {
    let s = batching(quick()).await;
    let (ids, calls) = ready_many(&s, 100, 3);
    tick(&s).await;
    let l1 = s.hub.fake_submitter();
    let signed = l1.signed();
    assert_eq!(signed.len(), 1, "one transaction for the three");
    let (tx, call) = &signed[0];
    let mut members = xroute_adapters::testing::batch_members(call);
    members.sort();
    let mut want = calls.clone();
    want.sort();
    assert_eq!(members, want, "the batch carries the three exits' calls");
    assert_eq!(l1.broadcasts(), [tx.hash]);
    for id in &ids {
        let r = record(&s, id);
        assert_eq!(r.stage, Stage::Relaying, "{r:#?}");
        assert_eq!(r.relays.len(), 1);
        assert_eq!(r.relays[0].batch, Some(tx.hash));
        assert!(r.relays[0].raw.is_empty(), "the batch holds the bytes");
        assert!(notes(&r).iter().any(|n| n.contains("batch of 3")));
    }
    let batch = s.pipeline.store().relay_batch(&tx.hash).unwrap().unwrap();
    assert_eq!(batch.attempts[0].raw, tx.raw);
    let mut members = batch.members.clone();
    members.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(members, want);

    // Mined and final, the Hub showing every hop made: all relayed (and, L1 being their
    // destination, delivered in the same round), the batch forgotten.
    l1.mine(tx.hash, 9, true);
    for id in &ids {
        s.hub.deliver(*id);
    }
    tick(&s).await;
    for id in &ids {
        let r = record(&s, id);
        assert_eq!(r.stage, Stage::Delivered, "{r:#?}");
        assert!(
            notes(&r).iter().any(|n| n.contains("(batch of 3, gas")),
            "{:?}",
            notes(&r)
        );
    }
    tick(&s).await;
    assert!(s.pipeline.store().relay_batch(&tx.hash).unwrap().is_none());
    assert_eq!(l1.signed().len(), 1, "one transaction in all");
}

#[tokio::test]
async fn a_member_the_simulation_refuses_is_judged_alone_and_the_rest_still_batch() {
    let s = batching(quick()).await;
    let (ids, calls) = ready_many(&s, 200, 4);
    s.hub.simulate_member(
        calls[0].clone(),
        xroute_adapters::Simulated::Reverts(Revert::Permanent(
            "recipient 0x… is not a contract on L1".into(),
        )),
    );
    s.hub.simulate_member(
        calls[1].clone(),
        xroute_adapters::Simulated::Reverts(Revert::AlreadyDone("AlreadyProcessed(…)".into())),
    );
    tick(&s).await;
    let r = record(&s, &ids[0]);
    assert_eq!(r.stage, Stage::Parked);
    assert_eq!(
        r.reason.as_deref(),
        Some("recipient 0x… is not a contract on L1")
    );
    let r = record(&s, &ids[1]);
    assert_eq!(r.stage, Stage::Relayed, "made already: nothing to pay");
    assert!(r.relays.is_empty());
    let signed = s.hub.fake_submitter().signed();
    assert_eq!(signed.len(), 1);
    let mut members = xroute_adapters::testing::batch_members(&signed[0].1);
    members.sort();
    let mut want = vec![calls[2].clone(), calls[3].clone()];
    want.sort();
    assert_eq!(members, want, "the two that pass, in one batch");
}

#[tokio::test]
async fn batches_keep_to_batch_max_and_the_gas_budget_and_a_lone_one_goes_alone() {
    // Five ready, at most two per batch: 2 + 2 + a single relay.
    let s = batching(RelayConfig {
        batch_max: 2,
        ..quick()
    })
    .await;
    let (_, calls) = ready_many(&s, 300, 5);
    tick(&s).await;
    let signed = s.hub.fake_submitter().signed();
    assert_eq!(batch_sizes(&s), [2, 2, 0], "{signed:?}");
    assert!(
        calls.contains(&signed[2].1.data),
        "the last goes as its own call"
    );

    // A budget that holds two members (each counted at 50,000 × 1.25 + 25,000 = 87,500, plus
    // 60,000 for the batch): 3 ready → 2 + 1.
    let s = batching(RelayConfig {
        batch_gas: 240_000,
        ..quick()
    })
    .await;
    ready_many(&s, 400, 3);
    tick(&s).await;
    assert_eq!(batch_sizes(&s), [2, 0]);
}

#[tokio::test]
async fn a_ready_relay_waits_for_others_at_most_batch_wait_ms() {
    let s = batching(RelayConfig {
        batch_wait_ms: 300,
        ..quick()
    })
    .await;
    let (first, _) = ready_many(&s, 500, 1);
    tick(&s).await;
    let l1 = s.hub.fake_submitter();
    assert!(l1.signed().is_empty(), "held for a fuller batch");
    assert_eq!(record(&s, &first[0]).stage, Stage::Proven);
    // A second one joins while the first waits; both go together once the first waited enough.
    let (second, _) = ready_many(&s, 501, 1);
    tick(&s).await;
    assert!(l1.signed().is_empty());
    tokio::time::sleep(Duration::from_millis(320)).await;
    tick(&s).await;
    let signed = l1.signed();
    assert_eq!(signed.len(), 1);
    assert_eq!(
        xroute_adapters::testing::batch_members(&signed[0].1).len(),
        2
    );
    for id in [first[0], second[0]] {
        assert_eq!(record(&s, &id).stage, Stage::Relaying);
    }
    // A lone one is not held longer than the wait either.
    let (lone, call) = ready_many(&s, 502, 1);
    tick(&s).await;
    assert_eq!(l1.signed().len(), 1);
    tokio::time::sleep(Duration::from_millis(320)).await;
    tick(&s).await;
    let signed = l1.signed();
    assert_eq!(signed.len(), 2);
    assert_eq!(signed[1].1.data, call[0], "alone, its own call");
    assert_eq!(record(&s, &lone[0]).stage, Stage::Relaying);
}

#[tokio::test]
async fn a_member_the_mined_batch_did_not_make_is_retried_and_a_stuck_batch_is_replaced_as_one() {
    let s = batching(RelayConfig {
        bump_after_ms: 0,
        ..quick()
    })
    .await;
    let (ids, _) = ready_many(&s, 600, 2);
    tick(&s).await;
    let l1 = s.hub.fake_submitter();
    let first = l1.signed()[0].0.clone();
    // Not mined: the next round replaces the batch under its nonce, once, for both members.
    tick(&s).await;
    let signed = l1.signed();
    assert_eq!(signed.len(), 2, "one replacement");
    assert_eq!(signed[1].0.nonce, first.nonce);
    let batch = s
        .pipeline
        .store()
        .relay_batch(&first.hash)
        .unwrap()
        .unwrap();
    assert_eq!(batch.attempts.len(), 2);
    assert_eq!(batch.attempts[1].tx_hash, signed[1].0.hash);
    // The replacement is mined; the Hub made only the first member's hop.
    l1.mine(signed[1].0.hash, 9, true);
    s.hub.deliver(ids[0]);
    tick(&s).await;
    assert_eq!(record(&s, &ids[0]).stage, Stage::Delivered);
    // The other goes back to be made again (after a backoff of at most a millisecond, so possibly
    // already alone, in the same round).
    let r = record(&s, &ids[1]);
    assert!(
        matches!(r.stage, Stage::Proven | Stage::Relaying),
        "to be made again: {r:#?}"
    );
    assert!(
        notes(&r)
            .iter()
            .any(|n| n.contains("did not make this hop: the member reverted in the batch")),
        "{r:#?}"
    );
    assert!(r.relays.iter().skip(1).all(|a| a.batch.is_none()));
}

/// The chain calls of a round, both chains together.
fn calls(s: &Setup) -> u64 {
    s.hub.calls() + s.rollup.calls()
}

#[tokio::test]
async fn a_message_waiting_for_its_exit_costs_no_chain_call_until_l1_names_it() {
    let s = setup(quick()).await;
    s.rollup.announce_exits();
    let ids: Vec<MessageId> = (1..=3).map(|n| stored(&s, n)).collect();
    // The first round looks at each once.
    tick(&s).await;
    assert_eq!(s.rollup.calls_of("exit"), 3);
    for id in &ids {
        assert_eq!(record(&s, id).stage, Stage::Sent);
    }
    // A round with L1 where it was: no read at all for them.
    let before = calls(&s);
    tick(&s).await;
    let idle = calls(&s) - before;
    assert_eq!(idle, 2, "an idle round reads each chain's head once");
    // L1 moves on, twice, with nothing for them: per round, the hub's index of its new block
    // (its cursor's hash, the block's sends) and one events read of the rollup, and no call per
    // message.
    for _ in 0..2 {
        s.hub.next_block();
        let before = calls(&s);
        tick(&s).await;
        assert_eq!(
            calls(&s) - before,
            idle + 3,
            "a new L1 block costs three calls, not 2 × n"
        );
    }
    assert_eq!(
        s.rollup.calls_of("exit"),
        3,
        "no message was looked at again"
    );
    assert_eq!(s.rollup.calls_of("exits"), 2);
    // An event in L1 block 13 names the second message: it alone is looked at, and proven.
    s.hub.next_block();
    let call = Call::evm(FAKE_HUB, Bytes::from(ids[1].0.to_vec()), U256::ZERO);
    s.rollup.exit_in(
        ids[1],
        13,
        Exit::Ready {
            proof: "l2ToL1Messages[h] = 1 at L1 block 13 (storage proof)".into(),
            call,
            prepaid: U256::ZERO,
        },
    );
    tick(&s).await;
    assert_eq!(
        s.rollup.calls_of("exit"),
        3 + 2,
        "its proof, then its relay's call"
    );
    assert_ne!(record(&s, &ids[1]).stage, Stage::Sent);
    assert_eq!(record(&s, &ids[0]).stage, Stage::Sent);
    assert_eq!(record(&s, &ids[2]).stage, Stage::Sent);
    // /metrics counts the two still waiting.
    let text = s.pipeline.metrics().encode(&[], None);
    assert!(
        text.contains(r#"xroute_messages_waiting_for_exit{chain="starknet"} 2"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_chain_that_cannot_name_exits_has_its_waiting_messages_looked_at_when_l1_moves() {
    let s = setup(quick()).await;
    let id = stored(&s, 1);
    tick(&s).await;
    tick(&s).await;
    assert_eq!(
        s.rollup.calls_of("exit"),
        1,
        "L1 did not move: nothing new to see"
    );
    s.hub.next_block();
    tick(&s).await;
    assert_eq!(
        s.rollup.calls_of("exit"),
        2,
        "`Unknown` wakes every waiting message"
    );
    assert_eq!(record(&s, &id).stage, Stage::Sent);
}

#[tokio::test]
async fn a_backoff_passes_when_the_driven_clock_says_so() {
    let clock = ManualClock::at(1_000_000);
    let relay = RelayConfig {
        backoff_initial_ms: 60_000,
        backoff_max_ms: 60_000,
        ..quick()
    };
    let s = setup_with(relay, Some(clock.clone())).await;
    let id = stored(&s, 1);
    ready(&s, id);
    // A bad answer (a node's timeout would spend no attempt; its wait is the first backoff).
    s.rollup.fail_with(Some(ErrorKind::BadAnswer));
    tick(&s).await;
    let r = record(&s, &id);
    assert_eq!((r.stage, r.attempts), (Stage::Sent, 1), "{r:#?}");
    assert!(r.next_attempt_at_ms > clock.now_ms(), "{r:#?}");
    s.rollup.fail_with(None);
    tick(&s).await;
    assert_eq!(
        s.rollup.calls_of("exit"),
        1,
        "not looked at before its wake-up time"
    );
    clock.advance(r.next_attempt_at_ms - clock.now_ms());
    tick(&s).await;
    assert_ne!(
        record(&s, &id).stage,
        Stage::Sent,
        "looked at, once the clock passed it"
    );
}

#[tokio::test]
async fn a_relayed_message_not_delivered_yet_is_asked_again_only_after_its_wait() {
    let clock = ManualClock::at(1_000_000);
    let relay = RelayConfig {
        poll_interval_ms: 1_000,
        ..quick()
    };
    let s = setup_with(relay, Some(clock.clone())).await;
    let id = stored(&s, 1);
    ready(&s, id);
    tick(&s).await;
    let l1 = s.hub.fake_submitter();
    let hash = l1.signed()[0].0.hash;
    l1.mine(hash, 9, true);
    tick(&s).await;
    assert_eq!(record(&s, &id).stage, Stage::Relayed);
    let asked = s.hub.calls_of("is_delivered");
    // Rounds within its wait (one poll, a quarter of the time since the relay): not asked.
    for _ in 0..3 {
        tick(&s).await;
    }
    assert_eq!(
        s.hub.calls_of("is_delivered"),
        asked,
        "not asked within its wait"
    );
    // Past it, asked once more; delivered, it moves on.
    s.hub.deliver(id);
    clock.advance(1_000);
    tick(&s).await;
    assert_eq!(s.hub.calls_of("is_delivered"), asked + 1);
    assert_eq!(record(&s, &id).stage, Stage::Delivered);
}
