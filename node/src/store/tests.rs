use std::{collections::BTreeSet, sync::Arc};

use alloy_primitives::B256;
use proptest::prelude::*;
use xroute_proofs::envelope::Envelope;

use super::*;
use crate::model::{RelayAttempt, SourceRef};

fn envelope(nonce: u64) -> Envelope {
    Envelope {
        src_domain: 2,
        nonce,
        sender: B256::with_last_byte(1),
        dst_domain: 1,
        recipient: B256::with_last_byte(2),
        payload: vec![B256::with_last_byte(nonce as u8)],
    }
}

fn record(nonce: u64) -> MessageRecord {
    let source = SourceRef {
        domain: 2,
        block_number: 10 + nonce,
        block_hash: B256::repeat_byte(3),
        tx_hash: B256::repeat_byte(4),
    };
    MessageRecord::new(envelope(nonce), source, 1_000)
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    (dir, store)
}

#[test]
fn insert_is_idempotent_and_indexed() {
    let (_dir, store) = open();
    let r = record(1);
    assert!(store.insert_new(&r).unwrap());
    let mut again = r.clone();
    again.attempts = 9;
    assert!(
        !store.insert_new(&again).unwrap(),
        "a re-scan does not overwrite"
    );
    assert_eq!(store.get(&r.id).unwrap().unwrap(), r);
    assert_eq!(store.ids_in(Stage::Sent, 10).unwrap(), vec![r.id]);
    assert_eq!(store.count_in(Stage::Sent), 1);
}

#[test]
fn transitions_move_the_record_and_the_index_together() {
    let (_dir, store) = open();
    let r = record(1);
    store.insert_new(&r).unwrap();
    let moved = store
        .transition(
            &r.id,
            Stage::Sent,
            Stage::Proven,
            2_000,
            "proof at block 12",
            |rec| rec.attempts = 0,
        )
        .unwrap();
    assert_eq!(moved.stage, Stage::Proven);
    assert_eq!(
        moved.history,
        vec![Transition {
            from: Stage::Sent,
            to: Stage::Proven,
            at_ms: 2_000,
            note: "proof at block 12".into()
        }]
    );
    assert!(store.ids_in(Stage::Sent, 10).unwrap().is_empty());
    assert_eq!(store.ids_in(Stage::Proven, 10).unwrap(), vec![r.id]);

    // The same step again finds the message already moved, and changes nothing.
    let err = store
        .transition(&r.id, Stage::Sent, Stage::Proven, 3_000, "again", |_| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::StageMismatch {
                expected: Stage::Sent,
                found: Stage::Proven,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.get(&r.id).unwrap().unwrap().history.len(), 1);

    // Moves the lifecycle does not have are refused before touching the store.
    let err = store
        .transition(&r.id, Stage::Proven, Stage::Delivered, 3_000, "", |_| {})
        .unwrap_err();
    assert!(matches!(err, StoreError::IllegalTransition { .. }), "{err}");
    let err = store
        .transition(
            &MessageId(B256::ZERO),
            Stage::Sent,
            Stage::Proven,
            0,
            "",
            |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownMessage(_)), "{err}");
}

#[test]
fn parked_messages_are_retried_or_dropped() {
    let (_dir, store) = open();
    let r = record(1);
    store.insert_new(&r).unwrap();
    store
        .transition(
            &r.id,
            Stage::Sent,
            Stage::Parked,
            1,
            "unknown destination domain 99",
            |rec| rec.reason = Some("unknown destination domain 99".into()),
        )
        .unwrap();
    assert_eq!(store.ids_in(Stage::Parked, 10).unwrap(), vec![r.id]);
    assert!(!Stage::Parked.can_move_to(Stage::Relaying));
    store
        .transition(
            &r.id,
            Stage::Parked,
            Stage::Sent,
            2,
            "retry by operator",
            |rec| {
                rec.reason = None;
                rec.attempts = 0;
            },
        )
        .unwrap();
    store
        .transition(&r.id, Stage::Sent, Stage::Parked, 3, "again", |_| {})
        .unwrap();
    let dropped = store
        .transition(
            &r.id,
            Stage::Parked,
            Stage::Dropped,
            4,
            "dropped: bad app",
            |rec| rec.reason = Some("bad app".into()),
        )
        .unwrap();
    assert_eq!(dropped.history.len(), 4);
    for to in Stage::ALL {
        assert!(!Stage::Dropped.can_move_to(to) && !Stage::Delivered.can_move_to(to));
    }
}

#[test]
fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let r = record(7);
    {
        let store = Store::open(&path).unwrap();
        store.insert_new(&r).unwrap();
        store
            .transition(&r.id, Stage::Sent, Stage::Proven, 5, "", |_| {})
            .unwrap();
        store
            .update(&r.id, |rec| {
                rec.relays.push(RelayAttempt {
                    domain: 1,
                    tx_hash: B256::repeat_byte(9),
                    nonce: 3,
                    sent_at_ms: 6,
                    raw: vec![0x02, 0xaa].into(),
                    gas_limit: 21_000,
                    max_fee_per_gas: 7,
                    max_priority_fee_per_gas: 1,
                    value: alloy_primitives::U256::from(5u8),
                    batch: None,
                })
            })
            .unwrap();
        store
            .set_cursor(
                2,
                &Cursor {
                    block_number: 42,
                    block_hash: B256::repeat_byte(5),
                },
            )
            .unwrap();
        store.flush().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let back = store.get(&r.id).unwrap().unwrap();
    assert_eq!((back.stage, back.relays.len()), (Stage::Proven, 1));
    assert_eq!(store.ids_in(Stage::Proven, 10).unwrap(), vec![r.id]);
    assert_eq!(store.cursor(2).unwrap().unwrap().block_number, 42);
    assert_eq!(store.cursor(1).unwrap(), None);
}

#[test]
fn a_corrupt_record_is_a_typed_error_naming_its_key() {
    let (_dir, store) = open();
    let good = record(1);
    store.insert_new(&good).unwrap();
    let bad = record(2).id;
    store
        .messages
        .insert(bad.0.as_slice(), &b"{not json"[..])
        .unwrap();
    let err = store.get(&bad).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { key, .. } if *key == bad.to_string()),
        "{err}"
    );
    assert_eq!(
        store.get(&good.id).unwrap().unwrap(),
        good,
        "other records are untouched"
    );
    // A record stored under another message's key is caught too.
    store
        .messages
        .insert(bad.0.as_slice(), codec::encode(&good).unwrap())
        .unwrap();
    assert!(matches!(store.get(&bad), Err(StoreError::Corrupt { .. })));
}

#[test]
fn of_two_racing_relayers_exactly_one_wins() {
    let (_dir, store) = open();
    let r = record(1);
    store.insert_new(&r).unwrap();
    store
        .transition(&r.id, Stage::Sent, Stage::Proven, 1, "", |_| {})
        .unwrap();
    let store = Arc::new(store);
    let wins: usize = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            let id = r.id;
            std::thread::spawn(move || {
                store
                    .transition(
                        &id,
                        Stage::Proven,
                        Stage::Relaying,
                        2,
                        &format!("relayer {i}"),
                        |_| {},
                    )
                    .is_ok()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| usize::from(h.join().unwrap()))
        .sum();
    assert_eq!(wins, 1);
    assert_eq!(store.get(&r.id).unwrap().unwrap().history.len(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn the_status_index_always_matches_the_records(steps in proptest::collection::vec((0u64..6, 0usize..8, 0usize..8), 1..60)) {
        let (_dir, store) = open();
        let ids: Vec<MessageId> = (0..6).map(|n| { let r = record(n); store.insert_new(&r).unwrap(); r.id }).collect();
        for (m, from, to) in steps {
            let id = ids[m as usize];
            let _ = store.transition(&id, Stage::ALL[from], Stage::ALL[to], 1, "", |_| {});
        }
        for stage in Stage::ALL {
            let indexed: BTreeSet<MessageId> = store.ids_in(stage, 100).unwrap().into_iter().collect();
            let actual: BTreeSet<MessageId> = ids.iter().copied().filter(|id| store.get(id).unwrap().unwrap().stage == stage).collect();
            // The kept count is the index's own count.
            prop_assert_eq!(store.count_in(stage), store.status.scan_prefix([stage as u8]).count());
            prop_assert_eq!(indexed, actual);
        }
        prop_assert_eq!(Stage::ALL.iter().map(|s| store.count_in(*s)).sum::<usize>(), ids.len());
    }
}

/// A store another handle keeps open is refused (after waiting out a closing handle), with an
/// error naming the folder; once that handle is gone, it opens.
#[test]
fn a_store_in_use_is_refused_and_opens_once_released() {
    let (dir, store) = open();
    let path = dir.path().join("db");
    let started = std::time::Instant::now();
    let err = Store::open(&path).unwrap_err().to_string();
    assert!(started.elapsed() >= super::LOCK_WAIT, "it waited");
    assert!(
        err.contains(&path.display().to_string()) && err.contains("is another router using it?"),
        "{err}"
    );
    drop(store);
    let again = Store::open(&path).unwrap();
    assert_eq!(again.count_in(Stage::Sent), 0);
}

#[test]
fn a_backup_is_a_store_with_every_record_index_and_cursor() {
    let (dir, store) = open();
    for n in 0..5 {
        store.insert_new(&record(n)).unwrap();
    }
    let moved = record(3).id;
    store
        .transition(&moved, Stage::Sent, Stage::Proven, 2_000, "proven", |_| {})
        .unwrap();
    let cursor = Cursor {
        block_number: 42,
        block_hash: B256::repeat_byte(9),
    };
    store.set_cursor(2, &cursor).unwrap();
    let to = dir.path().join("backup");
    let report = store.backup_to(&to).unwrap();
    assert_eq!(report.messages, 5);
    assert_eq!(report.cursors, 1);
    // Writes go on in the original while (and after) it is copied.
    store.insert_new(&record(9)).unwrap();
    let backup = Store::open(&to).unwrap();
    assert_eq!(backup.count_in(Stage::Sent), 4);
    assert_eq!(backup.ids_in(Stage::Proven, 10).unwrap(), vec![moved]);
    assert_eq!(backup.get(&moved).unwrap(), store.get(&moved).unwrap());
    assert_eq!(backup.cursor(2).unwrap(), Some(cursor));
    assert!(backup.get(&record(9).id).unwrap().is_none());
    // Never over something.
    drop(backup);
    let err = store.backup_to(&to).unwrap_err().to_string();
    assert!(err.contains("exists and is not empty"), "{err}");
}

/// The per-stage counts: counted from the index when a store opens without saved counts (after a
/// crash, or an old store), read back when a clean stop saved them, and never stale after a change
/// that followed the save.
#[test]
fn stage_counts_are_saved_on_a_clean_stop_and_counted_otherwise() {
    let (dir, store) = open();
    let path = dir.path().join("db");
    let ids: Vec<MessageId> = (0..5)
        .map(|n| {
            let r = record(n);
            store.insert_new(&r).unwrap();
            r.id
        })
        .collect();
    store
        .transition(&ids[0], Stage::Sent, Stage::Proven, 1, "", |_| {})
        .unwrap();
    store
        .transition(&ids[1], Stage::Sent, Stage::Proven, 1, "", |_| {})
        .unwrap();
    store
        .transition(&ids[1], Stage::Proven, Stage::Attested, 1, "", |_| {})
        .unwrap();
    // Seen again, and a move from the wrong stage: no count changes.
    assert!(!store.insert_new(&record(0)).unwrap());
    assert!(
        store
            .transition(&ids[2], Stage::Proven, Stage::Attested, 1, "", |_| {})
            .is_err()
    );
    let counts = |s: &Store| {
        [
            Stage::Sent,
            Stage::Proven,
            Stage::Attested,
            Stage::Delivered,
        ]
        .map(|st| s.count_in(st))
    };
    assert_eq!(counts(&store), [3, 1, 1, 0]);
    // No clean stop: counted from the index on open.
    store.flush().unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(counts(&store), [3, 1, 1, 0]);
    // A clean stop: the next open reads the saved counts (a forged one shows they are read, not
    // counted) and takes the mark away.
    store.save_counts().unwrap();
    store
        .status
        .insert(count_key(Stage::Delivered), &7u64.to_be_bytes())
        .unwrap();
    store.flush().unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(counts(&store), [3, 1, 1, 7]);
    assert!(store.status.get(COUNTED).unwrap().is_none());
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(counts(&store), [3, 1, 1, 0], "no mark: counted again");
    // Saved, then changed, then stopped without saving: counted, not the stale save.
    store.save_counts().unwrap();
    store
        .transition(&ids[2], Stage::Sent, Stage::Proven, 1, "", |_| {})
        .unwrap();
    assert_eq!(counts(&store), [2, 2, 1, 0]);
    store.flush().unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(counts(&store), [2, 2, 1, 0]);
}
