#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A router restarting on a big store (issue 16's restart row): `--messages` delivered messages
//! (1,000,000 by default) and `--pending` just sent, in a real sled store on disk. Each
//! measurement runs in a fresh child process, so its peak RSS is the restart's alone:
//! - the time to open the store;
//! - the time until the HTTP API answers (`GET /health`), then one `GET /stats` (checked: the
//!   counts are right) and a second;
//! - the time until the pipeline's first round took the pending messages to `Attested` (all
//!   times from the start of the restart);
//! - VmHWM and VmRSS.
//!
//! The chains are the scripted ones of `xroute_adapters::testing`: every pending exit is ready. The
//! router set is a coordinator that certifies what is proven. Three restarts in one run: the big
//! store after a clean stop (its per-stage counts saved), the same store again after a **real
//! SIGKILL** of a router process that was storing and stepping new messages on it (its counts
//! not saved: the store counts its index on open; nothing it had stored is lost), and, side by
//! side, a store that holds only the pending messages.
//!
//! ```sh
//! cargo bench -p xroute --bench restart -- --messages 1000000
//! ```

mod common;

use std::{path::Path, time::Instant};

use clap::Parser;
use common::{certifying_router, record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xroute::{
    model::{MessageRecord, Stage, Transition},
    store::Store,
};

#[derive(Parser)]
struct Args {
    /// Delivered messages in the big store.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Messages just sent, in both stores.
    #[arg(long, default_value_t = 1_000)]
    pending: u64,
    /// (internal) measure a restart on this store, print one JSON line.
    #[arg(long, hide = true)]
    measure: Option<std::path::PathBuf>,
    /// (internal) store and step new messages on this store until killed.
    #[arg(long, hide = true)]
    run_until_killed: Option<std::path::PathBuf>,
    /// (cargo bench passes this.)
    #[arg(long, hide = true)]
    bench: bool,
}

/// A record as a delivered message's: its whole history.
fn delivered(nonce: u64) -> MessageRecord {
    let mut r = record(nonce);
    let stages = [
        (
            Stage::Sent,
            Stage::Proven,
            "l2ToL1Messages[h] = 1 at L1 block 10 (storage proof)",
        ),
        (Stage::Proven, Stage::Attested, "quorum certificate: 3 of 4"),
        (Stage::Attested, Stage::Relaying, "relay 0x… sent"),
        (
            Stage::Relaying,
            Stage::Relayed,
            "mined in block 12 (gas 80154)",
        ),
        (Stage::Relayed, Stage::Delivered, "delivered"),
    ];
    for (from, to, note) in stages {
        r.history.push(Transition {
            from,
            to,
            at_ms: 2,
            note: note.into(),
        });
    }
    r.stage = Stage::Delivered;
    r
}

/// Writes `pending` sent messages through the store, then `delivered` delivered ones straight
/// into its trees (the store's own encoding, 10,000 per sled batch).
fn fill(dir: &Path, pending: u64, delivered_n: u64) {
    {
        let store = Store::open(dir).unwrap();
        for n in 0..pending {
            store.insert_new(&record(n)).unwrap();
        }
        store.flush().unwrap();
    }
    let db = sled::open(dir).unwrap();
    // The store's trees (node/src/store/mod.rs); a wrong name shows as a wrong count below.
    let messages = db.open_tree("messages_v1").unwrap();
    let status = db.open_tree("status_v1").unwrap();
    let mut n = pending;
    while n < pending + delivered_n {
        let end = (n + 10_000).min(pending + delivered_n);
        let mut m = sled::Batch::default();
        let mut s = sled::Batch::default();
        for nonce in n..end {
            let r = delivered(nonce);
            m.insert(r.id.0.as_slice(), serde_json::to_vec(&r).unwrap());
            let mut k = vec![Stage::Delivered as u8];
            k.extend_from_slice(r.id.0.as_slice());
            s.insert(k, &[][..]);
        }
        messages.apply_batch(m).unwrap();
        status.apply_batch(s).unwrap();
        n = end;
    }
    db.flush().unwrap();
    drop((messages, status, db));
    // Opened without saved counts, the store counts its index; then a clean stop saves them.
    let store = Store::open(dir).unwrap();
    assert_eq!(store.count_in(Stage::Delivered) as u64, delivered_n);
    store.save_counts().unwrap();
}

fn proc_status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `GET path` on 127.0.0.1:`port`: (status, body).
async fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    let code = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    Ok((code, body))
}

/// One restart on `dir` (`pending` of its messages just sent): prints a JSON line.
async fn measure(dir: &Path, pending: u64) {
    let start = Instant::now();
    let store = Store::open(dir).unwrap();
    let open_ms = start.elapsed().as_secs_f64() * 1e3;
    let router = certifying_router(store, (0..pending).map(|n| record(n).id)).await;
    let pipeline = router.pipeline().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = router.api_app();
    tokio::spawn(async move { axum::serve(listener, app).await });
    while !matches!(get(port, "/health").await, Ok((200, _))) {
        tokio::task::yield_now().await;
    }
    let api_ms = start.elapsed().as_secs_f64() * 1e3;
    let first = Instant::now();
    let (code, stats) = get(port, "/stats").await.unwrap();
    assert_eq!(code, 200, "{stats}");
    let stats_first_ms = first.elapsed().as_secs_f64() * 1e3;
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    let again = Instant::now();
    get(port, "/stats").await.unwrap();
    let stats_ms = again.elapsed().as_secs_f64() * 1e3;
    pipeline.step_round().await.unwrap();
    let tick_ms = start.elapsed().as_secs_f64() * 1e3;
    let attested = pipeline.store().count_in(Stage::Attested);
    println!(
        "{}",
        serde_json::json!({
            "open_ms": open_ms,
            "api_ms": api_ms,
            "stats_first_ms": stats_first_ms,
            "stats_ms": stats_ms,
            "first_round_ms": tick_ms,
            "attested_after_round": attested,
            "delivered": stats["delivered"],
            "sent": stats["sent"],
            "hwm_kib": proc_status("VmHWM:"),
            "rss_kib": proc_status("VmRSS:"),
        })
    );
}

/// A router at work on `dir` until it is killed: it stores new sent messages (nonces from
/// 10,000,000 on), 500 at a time, and steps each batch to `Attested`; it prints how many it
/// stored after each batch.
async fn run_until_killed(dir: &Path) {
    let store = Store::open(dir).unwrap();
    let mut next = 10_000_000u64;
    let ids: Vec<_> = (next..next + 1_000_000).map(|n| record(n).id).collect();
    let router = certifying_router(store, ids).await;
    let pipeline = router.pipeline().clone();
    loop {
        for n in next..next + 500 {
            pipeline.store().insert_new(&record(n)).unwrap();
        }
        next += 500;
        pipeline.step_round().await.unwrap();
        println!("{}", next - 10_000_000);
    }
}

/// Starts a router at work on `dir` in a child process and kills it with SIGKILL once it stored
/// `at_least` new messages: how many it had reported stored.
fn kill_while_writing(dir: &Path, at_least: u64) -> u64 {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--run-until-killed")
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stored = 0;
    while stored < at_least {
        stored = lines.next().unwrap().unwrap().trim().parse().unwrap();
    }
    child.kill().unwrap(); // SIGKILL: no drain, no flush, no saved counts
    child.wait().unwrap();
    stored
}

fn run_child(dir: &Path, pending: u64) -> serde_json::Value {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--measure")
        .arg(dir)
        .args(["--pending", &pending.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.lines().last().unwrap()).unwrap()
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dir_size(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Some(dir) = &args.measure {
        measure(dir, args.pending).await;
        return;
    }
    if let Some(dir) = &args.run_until_killed {
        run_until_killed(dir).await;
        return;
    }
    let big = tempfile::tempdir().unwrap();
    let small = tempfile::tempdir().unwrap();
    let filled = Instant::now();
    fill(big.path(), args.pending, args.messages);
    let fill_s = filled.elapsed().as_secs_f64();
    fill(small.path(), args.pending, 0);
    // The first restart on the big store opens it after a clean stop (counts saved). Then a
    // router process works on it and is killed with SIGKILL, so the second restart counts the
    // index on open (the pending messages are already attested by then).
    let rows = [
        (
            format!(
                "{} delivered + {} sent, after a clean stop",
                args.messages, args.pending
            ),
            big.path(),
        ),
        (
            "the same, after a SIGKILL while storing and stepping (counted on open)".to_string(),
            big.path(),
        ),
        (
            format!("{} sent only (baseline)", args.pending),
            small.path(),
        ),
    ];
    println!(
        "restart of one router; store filled in {fill_s:.0} s ({} MiB on disk)",
        dir_size(big.path()) >> 20
    );
    println!(
        "| store | open | API answers (/health) | first /stats | second /stats | first round done (pending → Attested) | peak RSS | RSS after |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, (name, dir)) in rows.into_iter().enumerate() {
        let mut stored_by_killed = 0;
        if i == 1 {
            stored_by_killed = kill_while_writing(dir, 5_000);
        }
        let m = run_child(dir, args.pending);
        let want = if dir == big.path() { args.messages } else { 0 };
        assert_eq!(m["delivered"], want, "{m}");
        // What was stored before the kill's last flush survives (sled writes its log every
        // 500 ms; a step after a restart re-reads the chains, so a lost recent write is redone).
        let found = m["attested_after_round"].as_u64().unwrap();
        assert!(found >= args.pending, "{m}");
        if i == 1 {
            println!(
                "(killed after reporting {stored_by_killed} new messages stored and attested; {} attested after the restart's first round)",
                found - args.pending
            );
        }
        println!(
            "| {name} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {} MiB | {} MiB |",
            m["open_ms"].as_f64().unwrap(),
            m["api_ms"].as_f64().unwrap(),
            m["stats_first_ms"].as_f64().unwrap(),
            m["stats_ms"].as_f64().unwrap(),
            m["first_round_ms"].as_f64().unwrap(),
            m["hwm_kib"].as_u64().unwrap() >> 10,
            m["rss_kib"].as_u64().unwrap() >> 10,
        );
    }
}
