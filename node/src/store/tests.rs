use std::{collections::BTreeSet, sync::Arc};

use alloy_primitives::B256;
use proptest::prelude::*;
use xroute_proofs::envelope::Envelope;

use super::*;
use crate::model::{Change, RelayAttempt, SourceRef, Transition};

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
            Change::step_done(),
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
        .transition(
            &r.id,
            Stage::Sent,
            Stage::Proven,
            3_000,
            "again",
            Change::default(),
        )
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
        .transition(
            &r.id,
            Stage::Proven,
            Stage::Delivered,
            3_000,
            "",
            Change::default(),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::IllegalTransition { .. }), "{err}");
    let err = store
        .transition(
            &MessageId(B256::ZERO),
            Stage::Sent,
            Stage::Proven,
            0,
            "",
            Change::default(),
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
            Change::default().reason(Some("unknown destination domain 99".into())),
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
            Change::step_done(),
        )
        .unwrap();
    store
        .transition(
            &r.id,
            Stage::Sent,
            Stage::Parked,
            3,
            "again",
            Change::default(),
        )
        .unwrap();
    let dropped = store
        .transition(
            &r.id,
            Stage::Parked,
            Stage::Dropped,
            4,
            "dropped: bad app",
            Change::default().reason(Some("bad app".into())),
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
            .transition(&r.id, Stage::Sent, Stage::Proven, 5, "", Change::default())
            .unwrap();
        store
            .update(
                &r.id,
                Change::default().relay(RelayAttempt {
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
                }),
            )
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
    let bad = record(2);
    store.insert_new(&bad).unwrap();
    let named = |err: &StoreError, what: &str| {
        matches!(err, StoreError::Corrupt { key, what: w, .. }
            if *key == bad.id.to_string() && *w == what)
    };
    // A state that does not decode.
    let state = store.states.get(bad.id.0.as_slice()).unwrap().unwrap();
    store
        .states
        .insert(bad.id.0.as_slice(), &b"\x01\x09"[..])
        .unwrap();
    let err = store.get(&bad.id).unwrap_err();
    assert!(named(&err, "message state"), "{err}");
    assert_eq!(
        store.get(&good.id).unwrap().unwrap(),
        good,
        "other records are untouched"
    );
    assert!(
        store
            .transition(
                &bad.id,
                Stage::Sent,
                Stage::Proven,
                1,
                "",
                Change::default()
            )
            .is_err(),
        "a corrupt record does not move"
    );
    store.states.insert(bad.id.0.as_slice(), state).unwrap();
    assert_eq!(store.get(&bad.id).unwrap().unwrap(), bad, "restored");
    // A body that does not decode, and one stored under another message's key.
    let body = store.bodies.get(bad.id.0.as_slice()).unwrap().unwrap();
    store
        .bodies
        .insert(bad.id.0.as_slice(), &b"{not json"[..])
        .unwrap();
    assert!(named(&store.get(&bad.id).unwrap_err(), "message body"));
    let other = store.bodies.get(good.id.0.as_slice()).unwrap().unwrap();
    store.bodies.insert(bad.id.0.as_slice(), other).unwrap();
    assert!(named(&store.get(&bad.id).unwrap_err(), "message body"));
    store.bodies.insert(bad.id.0.as_slice(), body).unwrap();
    // A history the state counts but that is not there.
    store
        .transition(
            &bad.id,
            Stage::Sent,
            Stage::Proven,
            1,
            "",
            Change::default(),
        )
        .unwrap();
    store
        .history
        .remove(records::entry_key(&bad.id, 0).as_slice())
        .unwrap();
    assert!(named(&store.get(&bad.id).unwrap_err(), "history entry"));
}

#[test]
fn a_stage_change_writes_only_the_state_one_history_entry_and_the_index() {
    let (_dir, store) = open();
    let r = record(1);
    store.insert_new(&r).unwrap();
    let body = store.bodies.get(r.id.0.as_slice()).unwrap().unwrap();
    let sizes = |store: &Store| {
        [&store.bodies, &store.states, &store.history, &store.relays]
            .map(|t| t.iter().map(|e| e.unwrap().1.len()).sum::<usize>())
    };
    let before = sizes(&store);
    store
        .transition(
            &r.id,
            Stage::Sent,
            Stage::Proven,
            2,
            "proven",
            Change::default(),
        )
        .unwrap();
    let after = sizes(&store);
    assert_eq!(
        store.bodies.get(r.id.0.as_slice()).unwrap().unwrap(),
        body,
        "the body is not rewritten"
    );
    assert_eq!(after[0], before[0]);
    assert_eq!(
        after[2] - before[2],
        records::encode_transition(&Transition {
            from: Stage::Sent,
            to: Stage::Proven,
            at_ms: 2,
            note: "proven".into()
        })
        .len(),
        "one history entry appended"
    );
    assert_eq!(after[3], before[3], "no relay entry");
    assert!(
        after[1] < 64,
        "the state is small: {} bytes, the body {}",
        after[1],
        body.len()
    );
}

#[test]
fn a_rounds_moves_commit_together_each_from_its_own_stage() {
    let (_dir, store) = open();
    let records: Vec<MessageRecord> = (0..5).map(record).collect();
    for r in &records {
        store.insert_new(r).unwrap();
    }
    // One of them moved on elsewhere since the round read it; another moved with a change.
    store
        .transition(
            &records[1].id,
            Stage::Sent,
            Stage::Parked,
            1,
            "",
            Change::default(),
        )
        .unwrap();
    store
        .update(
            &records[2].id,
            Change::default().reason(Some("held".into())),
        )
        .unwrap();
    let moves: Vec<(MessageRecord, Move)> = records
        .iter()
        .map(|r| {
            let m = Move {
                id: r.id,
                from: Stage::Sent,
                to: Stage::Proven,
                at_ms: 9,
                note: "proven".into(),
                change: Change::step_done(),
            };
            (r.clone(), m)
        })
        .collect();
    let results = store.transition_all(&moves).unwrap();
    assert!(matches!(
        results[1],
        Err(StoreError::StageMismatch {
            found: Stage::Parked,
            ..
        })
    ));
    for (i, result) in results.iter().enumerate() {
        if i == 1 {
            continue;
        }
        let moved = result.as_ref().unwrap();
        assert_eq!(moved, &store.get(&records[i].id).unwrap().unwrap());
        assert_eq!(
            (moved.stage, moved.reason.as_deref()),
            (Stage::Proven, None)
        );
    }
    assert_eq!(store.count_in(Stage::Proven), 4);
    assert_eq!(store.ids_in(Stage::Proven, 10).unwrap().len(), 4);
    assert_eq!(store.count_in(Stage::Sent), 0);
}

#[test]
fn of_two_racing_relayers_exactly_one_wins() {
    let (_dir, store) = open();
    let r = record(1);
    store.insert_new(&r).unwrap();
    store
        .transition(&r.id, Stage::Sent, Stage::Proven, 1, "", Change::default())
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
                        Change::default(),
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
            let _ = store.transition(&id, Stage::ALL[from], Stage::ALL[to], 1, "", Change::default());
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
        .transition(
            &moved,
            Stage::Sent,
            Stage::Proven,
            2_000,
            "proven",
            Change::default(),
        )
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
        .transition(
            &ids[0],
            Stage::Sent,
            Stage::Proven,
            1,
            "",
            Change::default(),
        )
        .unwrap();
    store
        .transition(
            &ids[1],
            Stage::Sent,
            Stage::Proven,
            1,
            "",
            Change::default(),
        )
        .unwrap();
    store
        .transition(
            &ids[1],
            Stage::Proven,
            Stage::Attested,
            1,
            "",
            Change::default(),
        )
        .unwrap();
    // Seen again, and a move from the wrong stage: no count changes.
    assert!(!store.insert_new(&record(0)).unwrap());
    assert!(
        store
            .transition(
                &ids[2],
                Stage::Proven,
                Stage::Attested,
                1,
                "",
                Change::default()
            )
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
        .transition(
            &ids[2],
            Stage::Sent,
            Stage::Proven,
            1,
            "",
            Change::default(),
        )
        .unwrap();
    assert_eq!(counts(&store), [2, 2, 1, 0]);
    store.flush().unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(counts(&store), [2, 2, 1, 0]);
}

#[test]
fn a_schema_2_store_of_whole_records_is_split_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    // Schema 2 as the previous release wrote it: each record one JSON value in `messages_v1`,
    // the status index beside it, the schema mark 2.
    let mut records: Vec<MessageRecord> = (0..3).map(record).collect();
    records[1].stage = Stage::Relaying;
    records[1].history.push(Transition {
        from: Stage::Sent,
        to: Stage::Proven,
        at_ms: 5,
        note: "proven".into(),
    });
    records[1].history.push(Transition {
        from: Stage::Proven,
        to: Stage::Relaying,
        at_ms: 6,
        note: "relay".into(),
    });
    records[1].relays.push(RelayAttempt {
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
    });
    records[2].stage = Stage::Parked;
    records[2].reason = Some("recipient is not a contract".into());
    records[2].checkpoint = Some(crate::model::CheckpointPlace {
        domain: 2,
        l1_block: 40,
        index: 3,
    });
    records[2].relayed_in = Some(41);
    {
        let db = sled::open(&path).unwrap();
        let messages = db.open_tree(MESSAGES).unwrap();
        let status = db.open_tree(STATUS).unwrap();
        for r in &records {
            messages
                .insert(r.id.0.as_slice(), serde_json::to_vec(r).unwrap())
                .unwrap();
            status
                .insert(status_key(r.stage, &r.id).as_slice(), &[][..])
                .unwrap();
        }
        db.open_tree(META)
            .unwrap()
            .insert(SCHEMA_KEY, &2u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema().unwrap(), 3);
    for r in &records {
        assert_eq!(&store.get(&r.id).unwrap().unwrap(), r);
    }
    assert!(
        !store
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == MESSAGES.as_bytes()),
        "messages_v1 is dropped once split"
    );
    assert_eq!(store.count_in(Stage::Relaying), 1);
    // It moves on as any record does.
    let moved = store
        .transition(
            &records[0].id,
            Stage::Sent,
            Stage::Proven,
            7,
            "proven",
            Change::default(),
        )
        .unwrap();
    assert_eq!(moved.history.len(), 1);
}

/// Delivers `r` through every stage, the last move at `at_ms`.
fn deliver(store: &Store, r: &MessageRecord, at_ms: u64) {
    let path = [
        Stage::Sent,
        Stage::Proven,
        Stage::Attested,
        Stage::Relaying,
        Stage::Relayed,
        Stage::Delivered,
    ];
    for pair in path.windows(2) {
        let change = if pair[1] == Stage::Relaying {
            Change::default().relay(RelayAttempt {
                domain: 1,
                tx_hash: B256::repeat_byte(9),
                nonce: 1,
                sent_at_ms: at_ms,
                raw: vec![0x02].into(),
                gas_limit: 21_000,
                max_fee_per_gas: 2,
                max_priority_fee_per_gas: 1,
                value: alloy_primitives::U256::ZERO,
                batch: None,
            })
        } else {
            Change::default()
        };
        store
            .transition(&r.id, pair[0], pair[1], at_ms, "step", change)
            .unwrap();
    }
}

/// Entries of `tree` under `id`.
fn under(tree: &sled::Tree, id: &MessageId) -> usize {
    tree.scan_prefix(id.0.as_slice()).count()
}

#[test]
fn delivered_records_are_pruned_after_their_time_leaving_the_message_known() {
    let (dir, store) = open();
    let (old, new, pending) = (record(1), record(2), record(3));
    for r in [&old, &new, &pending] {
        store.insert_new(r).unwrap();
    }
    deliver(&store, &old, 5_000);
    deliver(&store, &new, 9_000);
    let signer = alloy_primitives::Address::repeat_byte(7);
    for r in [&old, &new] {
        store.put_attestation(&r.id, &signer, &"att").unwrap();
        store.put_certificate(&r.id, &"qc").unwrap();
    }
    assert_eq!(under(&store.history, &old.id), 5);
    assert_eq!(under(&store.relays, &old.id), 1);

    // Only what was delivered before the cut goes.
    assert_eq!(store.prune_delivered(9_000, 100).unwrap(), 1);
    assert_eq!(store.get(&old.id).unwrap(), None);
    assert_eq!(store.pruned(&old.id).unwrap(), Some(5_000));
    let kept = store.states.get(old.id.0.as_slice()).unwrap().unwrap();
    assert_eq!(kept.len(), 31, "what stays of a pruned message");
    for tree in [
        &store.bodies,
        &store.history,
        &store.relays,
        &store.attestations,
    ] {
        assert_eq!(under(tree, &old.id), 0);
    }
    assert!(store.certificate::<String>(&old.id).unwrap().is_none());
    // The later one and the undelivered one are whole.
    assert_eq!(store.get(&new.id).unwrap().unwrap().history.len(), 5);
    assert_eq!(store.attestation_count(&new.id), 1);
    assert_eq!(store.pruned(&new.id).unwrap(), None);
    assert_eq!(store.get(&pending.id).unwrap().unwrap(), pending);
    // Still known and still counted as delivered: a re-scan does not take it for new.
    assert!(!store.insert_new(&old).unwrap());
    assert_eq!(store.get(&old.id).unwrap(), None);
    assert_eq!(store.count_in(Stage::Delivered), 2);
    // The delivered index lists the whole record only, so a listing's limit is not spent on the
    // pruned one; rebuilt counts still count both.
    assert_eq!(store.ids_in(Stage::Delivered, 10).unwrap(), vec![new.id]);
    store.recount().unwrap();
    assert_eq!(store.count_in(Stage::Delivered), 2);
    // A pass finds nothing more before the cut, and the rest later.
    assert_eq!(store.prune_delivered(9_000, 100).unwrap(), 0);
    assert_eq!(store.prune_delivered(9_001, 100).unwrap(), 1);
    assert_eq!(store.pruned(&new.id).unwrap(), Some(9_000));
    // A pruned message cannot move again.
    assert!(
        store
            .transition(
                &old.id,
                Stage::Delivered,
                Stage::Sent,
                1,
                "",
                Change::default()
            )
            .is_err()
    );

    // A backup keeps what pruning left, and the counts.
    let copy = dir.path().join("copy");
    store.backup_to(&copy).unwrap();
    drop(store);
    let restored = Store::open(&copy).unwrap();
    assert_eq!(restored.pruned(&old.id).unwrap(), Some(5_000));
    assert!(!restored.insert_new(&old).unwrap());
    assert_eq!(restored.count_in(Stage::Delivered), 2);
    assert_eq!(restored.count_in(Stage::Sent), 1);
}

#[test]
fn a_record_restored_delivered_is_scheduled_from_its_delivery() {
    let (dir, store) = open();
    let r = record(1);
    store.insert_new(&r).unwrap();
    deliver(&store, &r, 7_000);
    let copy = dir.path().join("copy");
    store.backup_to(&copy).unwrap();
    drop(store);
    let restored = Store::open(&copy).unwrap();
    assert_eq!(restored.prune_delivered(7_000, 10).unwrap(), 0);
    assert_eq!(restored.prune_delivered(7_001, 10).unwrap(), 1);
    assert_eq!(restored.pruned(&r.id).unwrap(), Some(7_000));
}
