#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! One router alone: how many messages per second its pipeline takes `Sent → Proven → Attested`
//! through the real store (sled on disk), the chains replaced by a recorded list of proven
//! messages (the scripted chains of `xroute_adapters::testing`: every exit ready, nothing
//! delivered) and the router set by a coordinator that certifies what is proven. Side by side, in
//! the same run: raw sled batched inserts of the same records (each record written at each of its
//! three stages, with the status index), the floor the store could reach.
//!
//! ```sh
//! cargo bench -p xroute --bench router -- --messages 20000
//! ```

mod common;

use std::time::Instant;

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

/// Messages per second of raw sled batched inserts of the same records: each written at its three
/// stages (JSON, as the store encodes it) with the status index moved, 1,000 records per batch.
fn raw_sled_run(n: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path()).unwrap();
    let messages = db.open_tree("messages").unwrap();
    let status = db.open_tree("status").unwrap();
    let mut records: Vec<MessageRecord> = (0..n).map(record).collect();
    let key = |stage: Stage, r: &MessageRecord| {
        let mut k = vec![stage as u8];
        k.extend_from_slice(r.id.0.as_slice());
        k
    };
    for r in &records {
        messages
            .insert(r.id.0.as_slice(), serde_json::to_vec(r).unwrap())
            .unwrap();
        status.insert(key(Stage::Sent, r), &[][..]).unwrap();
    }
    let start = Instant::now();
    for (from, to) in [
        (Stage::Sent, Stage::Proven),
        (Stage::Proven, Stage::Attested),
    ] {
        for chunk in records.chunks_mut(1_000) {
            let mut m = sled::Batch::default();
            let mut s = sled::Batch::default();
            for r in chunk.iter_mut() {
                r.stage = to;
                r.history.push(xroute::model::Transition {
                    from,
                    to,
                    at_ms: 2,
                    note: "l2ToL1Messages[h] = 1 at L1 block 10 (storage proof)".into(),
                });
                m.insert(r.id.0.as_slice(), serde_json::to_vec(&*r).unwrap());
                s.remove(key(from, r));
                s.insert(key(to, r), &[][..]);
            }
            messages.apply_batch(m).unwrap();
            status.apply_batch(s).unwrap();
        }
    }
    db.flush().unwrap();
    n as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut pipeline = Vec::new();
    let mut raw = Vec::new();
    for _ in 0..args.runs {
        pipeline.push(pipeline_run(args.messages).await);
        raw.push(raw_sled_run(args.messages));
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
        "| raw sled batched inserts, same records | {:.0} | {} |",
        best(&raw),
        fmt(&raw)
    );
    println!("raw sled / pipeline: {:.1}×", best(&raw) / best(&pipeline));
}
