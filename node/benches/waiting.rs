#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What messages waiting for their state update cost a router in chain calls (issue 28), on the
//! scripted chains of `xroute_adapters::testing` (every call counted) and the real store. Side by
//! side in one run, for each number of waiting messages:
//!
//! - **per message** (the baseline: a chain that cannot name its exits, so every waiting message
//!   is looked at again whenever L1 moves, as every router round did before issue 28);
//! - **events** (the rollup names, from L1's events, the messages a block made consumable).
//!
//! Figures: chain calls per round in which L1 moved one block and nothing became ready; chain
//! calls per idle round (L1 did not move), per chain; then one L1 block makes every message
//! consumable: rounds, wall time and chain calls until all are `Attested`.
//!
//! ```sh
//! cargo bench -p xroute --bench waiting -- --waiting 100,10000
//! ```

mod common;

use std::time::Instant;

use alloy_primitives::{Bytes, U256};
use clap::Parser;
use common::{record, router_over};
use xroute::{model::Stage, store::Store};
use xroute_adapters::{
    Call, Exit,
    testing::{FAKE_HUB, FakeChain},
};

#[derive(Parser)]
struct Args {
    /// Numbers of waiting messages, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,10000")]
    waiting: Vec<u64>,
    /// Rounds in which L1 moves with nothing ready, averaged.
    #[arg(long, default_value_t = 10)]
    rounds: u64,
    /// (cargo bench passes this.)
    #[arg(long, hide = true)]
    bench: bool,
}

struct Figures {
    per_l1_block: f64,
    idle_hub: f64,
    idle_rollup: f64,
    ready_rounds: u64,
    ready_ms: u128,
    ready_calls: u64,
}

async fn run(n: u64, events: bool, rounds: u64) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hub = FakeChain::hub("ethereum", 1);
    let rollup = FakeChain::rollup("starknet", 2);
    if events {
        rollup.announce_exits();
    }
    let records: Vec<_> = (0..n).map(record).collect();
    for r in &records {
        store.insert_new(r).unwrap();
    }
    let router = router_over(store, hub.clone(), rollup.clone()).await;
    let pipeline = router.pipeline();
    let calls = || hub.calls() + rollup.calls();
    // The first round looks at each message once.
    pipeline.tick().await.unwrap();
    // L1 moves, nothing becomes ready.
    let before = calls();
    for _ in 0..rounds {
        hub.next_block();
        pipeline.tick().await.unwrap();
    }
    let per_l1_block = (calls() - before) as f64 / rounds as f64;
    // Idle: L1 where it was.
    let (h, r) = (hub.calls(), rollup.calls());
    for _ in 0..rounds {
        pipeline.tick().await.unwrap();
    }
    let idle_hub = (hub.calls() - h) as f64 / rounds as f64;
    let idle_rollup = (rollup.calls() - r) as f64 / rounds as f64;
    // One L1 block makes every message consumable.
    hub.next_block();
    let l1_block = {
        use xroute_adapters::ChainAdapterExt;
        hub.finalized_head().await.unwrap().number
    };
    for r in &records {
        rollup.exit_in(
            r.id,
            l1_block,
            Exit::Ready {
                proof: format!("l2ToL1Messages[h] = 1 at L1 block {l1_block} (storage proof)"),
                call: Call::evm(FAKE_HUB, Bytes::from(r.id.0.to_vec()), U256::ZERO),
                prepaid: U256::ZERO,
            },
        );
    }
    let before = calls();
    let start = Instant::now();
    let mut ready_rounds = 0;
    while pipeline.store().count_in(Stage::Attested) < n as usize {
        pipeline.tick().await.unwrap();
        ready_rounds += 1;
    }
    Figures {
        per_l1_block,
        idle_hub,
        idle_rollup,
        ready_rounds,
        ready_ms: start.elapsed().as_millis(),
        ready_calls: calls() - before,
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    println!(
        "| waiting | mode | calls per round with a new L1 block | idle round: calls on L1 / on the rollup | all made consumable: rounds, time, calls (per message) |"
    );
    println!("|---|---|---|---|---|");
    for &n in &args.waiting {
        for events in [false, true] {
            let f = run(n, events, args.rounds).await;
            println!(
                "| {n} | {} | {:.1} | {:.1} / {:.1} | {} rounds, {} ms, {} calls ({:.2}) |",
                if events {
                    "events"
                } else {
                    "per message (baseline)"
                },
                f.per_l1_block,
                f.idle_hub,
                f.idle_rollup,
                f.ready_rounds,
                f.ready_ms,
                f.ready_calls,
                f.ready_calls as f64 / n as f64,
            );
        }
    }
}
