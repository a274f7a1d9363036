#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! One router alone: how many messages per second its pipeline takes `Sent → Proven → Attested`
//! through the real store (sled on disk), the chains replaced by a recorded list of proven
//! messages (the scripted chains of `xroute_adapters::testing`: every exit ready, nothing
//! delivered) and the router set by a coordinator that certifies what is proven. Side by side, in
//! the same run, the fair baseline: raw sled over the same trees, each message read whole and
//! each stage change made with the same compare-and-set and writes as the store, one transaction
//! per 1,000 (what the store could reach with nothing of its own around it).
//!
//! ```sh
//! cargo bench -p xroute --bench router -- --messages 20000
//! ```

mod common;

use std::time::Instant;

use sled::Transactional;

use clap::Parser;
use common::{certifying_router, record};
use xroute::{
    model::{MessageRecord, Stage},
    store::Store,
};

#[derive(Parser)]
struct Args {
    /// Messages per run.
    #[arg(long, default_value_t = 20_000)]
    messages: u64,
    /// Runs of each (the best is reported, and every run's figure).
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// (cargo bench passes this.)
    #[arg(long, hide = true)]
    bench: bool,
}

/// Messages per second through the pipeline, `Sent` to `Attested`.
async fn pipeline_run(n: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let records: Vec<MessageRecord> = (0..n).map(record).collect();
    for r in &records {
        store.insert_new(r).unwrap();
    }
    // The recorded list: every message proven on L1.
    let router = certifying_router(store, records.iter().map(|r| r.id)).await;
    let pipeline = router.pipeline();
    let start = Instant::now();
    // One round takes Sent → Proven and Proven → Attested.
    while pipeline.store().count_in(Stage::Attested) < n as usize {
        pipeline.step_round().await.unwrap();
    }
    pipeline.store().flush().unwrap();
    n as f64 / start.elapsed().as_secs_f64()
}

/// The trees of the store's layout (schema 3), opened in a raw sled database.
struct RawTrees {
    db: sled::Db,
    bodies: sled::Tree,
    states: sled::Tree,
    history: sled::Tree,
    status: sled::Tree,
}

/// The store's state layout: format, stage, attempts, next attempt, history and relay entries,
/// flags (none set).
fn raw_state(stage: Stage, history: u32) -> Vec<u8> {
    let mut v = vec![1, stage as u8];
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&0u64.to_be_bytes());
    v.extend_from_slice(&history.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.push(0);
    v
}

fn entry_key(id: &[u8], n: u32) -> Vec<u8> {
    let mut k = id.to_vec();
    k.extend_from_slice(&n.to_be_bytes());
    k
}

fn status_key(stage: Stage, id: &[u8]) -> Vec<u8> {
    let mut k = vec![stage as u8];
    k.extend_from_slice(id);
    k
}

/// Messages per second of the fair baseline: the same records in the same trees as the store
/// (body, state, history, status), in sled configured as the store configures it, each stage change made as the store makes it, with nothing
/// else: per chunk of 1,000, each message read (state, body, history entries) and then one sled
/// transaction that reads its state, compares its stage and writes the new state, one history
/// entry and the two status keys.
fn fair_baseline_run(n: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let db = xroute::store::sled_config(dir.path()).open().unwrap();
    let t = RawTrees {
        bodies: db.open_tree("bodies").unwrap(),
        states: db.open_tree("states").unwrap(),
        history: db.open_tree("history").unwrap(),
        status: db.open_tree("status").unwrap(),
        db,
    };
    let records: Vec<MessageRecord> = (0..n).map(record).collect();
    for r in &records {
        let id = r.id.0.as_slice();
        let body = serde_json::json!({
            "id": r.id, "envelope": r.envelope, "source": r.source, "seen_at_ms": r.seen_at_ms,
        });
        t.bodies
            .insert(id, serde_json::to_vec(&body).unwrap())
            .unwrap();
        t.states.insert(id, raw_state(Stage::Sent, 0)).unwrap();
        t.status
            .insert(status_key(Stage::Sent, id), &[][..])
            .unwrap();
    }
    let note = "l2ToL1Messages[h] = 1 at L1 block 10 (storage proof)";
    let start = Instant::now();
    for (from, to, history) in [
        (Stage::Sent, Stage::Proven, 0u32),
        (Stage::Proven, Stage::Attested, 1),
    ] {
        for chunk in records.chunks(1_000) {
            // The round's reads: each message whole, as a step sees it.
            for r in chunk {
                let id = r.id.0.as_slice();
                let state = t.states.get(id).unwrap().unwrap();
                assert_eq!(state[1], from as u8);
                let body = t.bodies.get(id).unwrap().unwrap();
                let _: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let entries = t.history.scan_prefix(id).count();
                assert_eq!(entries as u32, history);
            }
            // The round's moves, committed together.
            (&t.states, &t.history, &t.status)
                .transaction(|(states, hist, status)| {
                    for r in chunk {
                        let id = r.id.0.as_slice();
                        let state = states.get(id)?.unwrap();
                        if state[1] != from as u8 {
                            continue;
                        }
                        let mut entry = vec![from as u8, to as u8];
                        entry.extend_from_slice(&2u64.to_be_bytes());
                        entry.extend_from_slice(note.as_bytes());
                        hist.insert(entry_key(id, history), entry)?;
                        states.insert(id, raw_state(to, history + 1))?;
                        status.remove(status_key(from, id))?;
                        status.insert(status_key(to, id), &[][..])?;
                    }
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
                .unwrap();
        }
    }
    t.db.flush().unwrap();
    n as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut pipeline = Vec::new();
    let mut raw = Vec::new();
    for _ in 0..args.runs {
        pipeline.push(pipeline_run(args.messages).await);
        raw.push(fair_baseline_run(args.messages));
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "{} messages, {} runs each, Sent → Proven → Attested",
        args.messages, args.runs
    );
    println!("| path | messages/s (best) | every run |");
    println!("|---|---|---|");
    println!(
        "| router pipeline, one router, real store | {:.0} | {} |",
        best(&pipeline),
        fmt(&pipeline)
    );
    println!(
        "| fair baseline: raw sled, the store's trees, same reads and compare-and-set, one transaction per 1,000 | {:.0} | {} |",
        best(&raw),
        fmt(&raw)
    );
    println!(
        "pipeline / fair baseline: {:.2}×",
        best(&pipeline) / best(&raw)
    );
}
