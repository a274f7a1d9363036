#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Router network benchmark: N routers, each a separate process of this binary on 127.0.0.1 with
//! the real p2p stack, store (sled on disk) and attestation code; a burst of M messages that every
//! router proves at the same moment; how long until every router holds a quorum certificate of
//! every message.
//!
//! ```sh
//! cargo bench -p xroute --bench network -- --routers 4,8,16 --messages 10000 --modes single,batch,checkpoint
//! cargo bench -p xroute --bench network -- --routers 4,16 --messages 200 --modes single,checkpoint --trickle-ms 20
//! ```
//!
//! Modes: `single` (one signature per message), `batch` (one per tick's proven messages),
//! `checkpoint` (issue 16: one per L1 checkpoint, which every router computes from the same
//! recorded L1 list: a burst is one L1 block that made all M messages consumable). With
//! `--trickle-ms T` the messages come one at a time, one every T ms (in `checkpoint` mode, one L1
//! block each), on a schedule every router shares.
//!
//! Reported per (mode, N): latency from the last router's `Proven` of a message (in `checkpoint`
//! mode: the last router's reading of the L1 block that made it consumable) to the moment the
//! last router holds its certificate (p50, p99), messages certified per second at every router,
//! CPU seconds per router from the start of the schedule to its last certificate, and peak RSS
//! per router (mean and max; of the whole process). The chains are left out on purpose: this
//! measures the network, and `Proven` is what the pipeline hands it.

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, B256, keccak256};
use libp2p::{PeerId, identity::Keypair};
use serde::{Deserialize, Serialize};
use xroute::{
    model::{MessageRecord, SourceRef, Stage},
    network::{Network, NetworkSettings, RecordedCheckpoints},
    p2p,
    store::Store,
};
use xroute_proofs::envelope::Envelope;

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn p2p_key(i: usize) -> Keypair {
    let mut seed = [0u8; 32];
    seed[0] = 0xb0;
    seed[1] = i as u8;
    seed[31] = 1;
    Keypair::ed25519_from_bytes(seed).expect("32-byte seed")
}

fn attestation_key(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(format!("xroute bench router {i}"))).expect("key")
}

fn threshold(n: usize) -> usize {
    2 * n / 3 + 1
}

/// One router's report.
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    /// When it proved each message (µs since the epoch), by message index.
    proven_us: Vec<u64>,
    /// When it held each certificate.
    certified_us: Vec<u64>,
    cpu_ms: u64,
    peak_rss_kb: u64,
}

fn message(k: usize) -> MessageRecord {
    let envelope = Envelope {
        src_domain: 2,
        nonce: k as u64,
        sender: B256::with_last_byte(1),
        dst_domain: 1,
        recipient: B256::with_last_byte(2),
        payload: vec![B256::from(alloy_primitives::U256::from(k))],
    };
    let mut record = MessageRecord::new(
        envelope,
        SourceRef {
            domain: 2,
            block_number: 100 + (k / 50) as u64,
            block_hash: keccak256((k / 50).to_be_bytes()),
            tx_hash: B256::ZERO,
        },
        0,
    );
    record.stage = Stage::Proven;
    record
}

fn cpu_and_rss() -> (u64, u64) {
    // SAFETY: getrusage fills the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
    let cpu = ms(usage.ru_utime) + ms(usage.ru_stime);
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    (cpu, rss)
}

/// A router process: `--node i n m mode ports store`.
async fn node(args: &[String]) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // As `xroute run`: gossipsub's per-message queue-full warnings would swamp it.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,libp2p_gossipsub=error")
                }),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let i: usize = args[0].parse().expect("index");
    let n: usize = args[1].parse().expect("n");
    let m: usize = args[2].parse().expect("messages");
    let mode = args[3].clone();
    let trickle_ms: u64 = args[6].parse().expect("trickle ms");
    let ports: Vec<u16> = args[4]
        .split(',')
        .map(|p| p.parse().expect("port"))
        .collect();
    let store = Store::open(&PathBuf::from(&args[5])).expect("store");
    let members: Vec<(Address, PeerId)> = (0..n)
        .map(|j| {
            (
                attestation_key(j).address(),
                p2p_key(j).public().to_peer_id(),
            )
        })
        .collect();
    let bootnodes = (0..n)
        .filter(|j| *j != i)
        .map(|j| {
            format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", ports[j], members[j].1)
                .parse()
                .expect("multiaddr")
        })
        .collect();
    let (handle, inbound) = p2p::spawn(
        p2p_key(i),
        xroute::network::wire::p2p_settings(
            format!("/ip4/127.0.0.1/tcp/{}", ports[i])
                .parse()
                .expect("listen"),
            bootnodes,
            64,
            Duration::from_millis(500),
        ),
    )
    .expect("p2p");
    let records: Vec<MessageRecord> = (0..m).map(message).collect();
    // L1 as a recorded list: the checkpoints of domain 2, all in one block (a burst) or one
    // message per block; final up to what the schedule says.
    let envelopes: Vec<_> = records.iter().map(|r| r.envelope.clone()).collect();
    let l1 = Arc::new(RecordedCheckpoints::new(
        RecordedCheckpoints::of_messages(2, &envelopes, if trickle_ms > 0 { 1 } else { m }),
        0,
    ));
    if mode == "checkpoint" {
        // As indexed before the burst: the router knows the messages (learning them is the
        // case of a router whose indexer is behind).
        for r in &records {
            store.insert_new(r).expect("store");
        }
    }
    let (hook, mut certified) = tokio::sync::mpsc::unbounded_channel();
    let domain = xroute_proofs::attestation::domain(31337, Address::repeat_byte(0x42));
    let mut network = Network::new(
        handle.clone(),
        store,
        NetworkSettings {
            signer: attestation_key(i),
            members,
            threshold: threshold(n),
            relay_window_ms: 5_000,
            claim_settle_ms: 1_000,
            heartbeat_ms: 1_000,
            batch_attestations: true,
        },
        domain,
    )
    .expect("network")
    .with_certificate_hook(hook);
    if mode == "checkpoint" {
        network = network.with_checkpoints(l1.clone());
    }
    let network = Arc::new(network);
    tokio::spawn(network.clone().run_inbound(inbound));
    // Ready once connected to every other router and the mesh had a heartbeat to form.
    let waiting = Instant::now();
    loop {
        let connected = handle.peers().await.iter().filter(|p| p.connected).count();
        if connected >= n - 1 {
            break;
        }
        if waiting.elapsed() > Duration::from_secs(60) {
            eprintln!(
                "router {i}: connected to {connected} of {} after 60 s; giving up",
                n - 1
            );
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("go");
    // Every router's schedule starts at the same instant (µs since the epoch).
    let start_us: u64 = line
        .trim()
        .strip_prefix("go ")
        .and_then(|t| t.parse().ok())
        .expect("go <start µs>");
    while now_us() < start_us {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    // CPU from here: the set-up (connections, the records stored before) is not the burst's.
    let (cpu_at_start, _) = cpu_and_rss();

    let index: std::collections::HashMap<_, _> =
        records.iter().enumerate().map(|(k, r)| (r.id, k)).collect();
    let mut proven_us = vec![0u64; m];
    // What is due by now, on the shared schedule (all of it in a burst).
    let due = |now: u64| -> usize {
        if trickle_ms == 0 {
            m
        } else {
            ((now.saturating_sub(start_us) / (trickle_ms * 1000)) as usize + 1).min(m)
        }
    };
    let mut sent = 0usize;
    // Takes what is due to `Proven` (this router's own proof) or, in checkpoint mode, reads the
    // L1 blocks now final; returns how many are out.
    let step = async |sent: &mut usize, proven_us: &mut Vec<u64>| {
        let now = now_us();
        let upto = due(now);
        if upto <= *sent {
            return;
        }
        match mode.as_str() {
            "checkpoint" => {
                let blocks = if trickle_ms > 0 { upto } else { 1 };
                l1.set_finalized(blocks as u64);
                network.checkpoint_round().await.expect("checkpoint round");
                for t in &mut proven_us[*sent..upto] {
                    *t = now;
                }
            }
            "batch" => {
                // As the pipeline does: what one tick proved, under one signature per MAX_BATCH.
                for chunk in records[*sent..upto].chunks(xroute::network::MAX_BATCH) {
                    let at = now_us();
                    for r in chunk {
                        proven_us[index[&r.id]] = at;
                    }
                    network
                        .attest_batch(chunk, 1, (7, B256::repeat_byte(7)))
                        .expect("attest");
                }
            }
            _ => {
                for r in &records[*sent..upto] {
                    proven_us[index[&r.id]] = now_us();
                    network.attest(r).expect("attest");
                }
                network.flush(); // as the pipeline's tick ends
            }
        }
        *sent = upto;
    };
    step(&mut sent, &mut proven_us).await;
    let mut certified_us = vec![0u64; m];
    let mut done = 0;
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut schedule = tokio::time::interval(Duration::from_millis(trickle_ms.max(1)));
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_report = Instant::now();
    while done < m && Instant::now() < deadline {
        tokio::select! {
            got = certified.recv() => match got {
                Some((id, _ms)) => {
                    if let Some(k) = index.get(&id)
                        && certified_us[*k] == 0
                    {
                        certified_us[*k] = now_us();
                        done += 1;
                    }
                }
                None => break,
            },
            _ = schedule.tick(), if sent < m => step(&mut sent, &mut proven_us).await,
            // As the pipeline's tick does for every message still waiting in `Proven`: our
            // attestation goes out if it never did, and the set is asked for what we miss (in
            // checkpoint mode, the round asks for the checkpoints without a certificate).
            _ = tick.tick() => {
                if mode == "checkpoint" {
                    network.checkpoint_round().await.expect("checkpoint round");
                } else {
                    for (k, r) in records[..sent].iter().enumerate() {
                        if certified_us[k] == 0 {
                            network.catch_up(r).expect("catch up");
                        }
                    }
                    network.flush();
                }
                if last_report.elapsed() >= Duration::from_secs(30) {
                    eprintln!("router {i}: {done} of {m} certified");
                    last_report = Instant::now();
                }
            }
        }
    }
    let (cpu_now, peak_rss_kb) = cpu_and_rss();
    let cpu_ms = cpu_now - cpu_at_start;
    let report = Report {
        proven_us,
        certified_us,
        cpu_ms,
        peak_rss_kb,
    };
    println!("{}", serde_json::to_string(&report).expect("json"));
    // Stay in the set until every router is done: the others may still ask for our attestations
    // (a router that left early would strand them below the threshold).
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
}

struct Row {
    mode: String,
    n: usize,
    m: usize,
    p50_ms: f64,
    p99_ms: f64,
    per_sec: f64,
    cpu_mean_s: f64,
    cpu_max_s: f64,
    rss_mean_mb: f64,
    rss_max_mb: f64,
    complete: bool,
}

fn run(n: usize, m: usize, mode: &str, trickle_ms: u64) -> Row {
    let exe = std::env::current_exe().expect("exe");
    // Below the ephemeral range: a port from it can be taken by a router's outgoing dial before
    // the router planned for it listens (then two routers never meet).
    let ports: Vec<String> = (0..n)
        .map(|_| {
            xroute_tests::process::free_port()
                .expect("port")
                .to_string()
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut children: Vec<Child> = (0..n)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--node",
                    &i.to_string(),
                    &n.to_string(),
                    &m.to_string(),
                    mode,
                ])
                .arg(ports.join(","))
                .arg(dir.path().join(format!("r{i}")))
                .arg(trickle_ms.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn router")
        })
        .collect();
    let mut readers: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().expect("stdout")))
        .collect();
    for r in &mut readers {
        let mut line = String::new();
        r.read_line(&mut line).expect("ready");
        assert_eq!(line.trim(), "ready");
    }
    let start_us = now_us() + 500_000;
    for c in &mut children {
        c.stdin
            .as_mut()
            .expect("stdin")
            .write_all(format!("go {start_us}\n").as_bytes())
            .expect("go");
    }
    // Each router reports when it holds every certificate (or gives up), then keeps serving the
    // others until told to stop: read the reports side by side, then stop them all.
    let reports: Vec<Report> = std::thread::scope(|s| {
        let readers: Vec<_> = readers
            .iter_mut()
            .map(|r| {
                s.spawn(move || {
                    let mut line = String::new();
                    r.read_line(&mut line).expect("report");
                    serde_json::from_str::<Report>(&line).expect("report json")
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|h| h.join().expect("report reader"))
            .collect()
    });
    for mut c in children {
        let _ = c.stdin.as_mut().expect("stdin").write_all(b"stop\n");
        let _ = c.wait();
    }
    let complete = reports
        .iter()
        .all(|r| r.certified_us.iter().all(|t| *t > 0));
    let mut latencies: Vec<f64> = (0..m)
        .map(|k| {
            let proven = reports.iter().map(|r| r.proven_us[k]).max().unwrap_or(0);
            let certified = reports.iter().map(|r| r.certified_us[k]).max().unwrap_or(0);
            certified.saturating_sub(proven) as f64 / 1000.0
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    let first = reports
        .iter()
        .flat_map(|r| r.proven_us.iter())
        .min()
        .copied()
        .unwrap_or(0);
    let last = reports
        .iter()
        .flat_map(|r| r.certified_us.iter())
        .max()
        .copied()
        .unwrap_or(0);
    let cpu: Vec<f64> = reports.iter().map(|r| r.cpu_ms as f64 / 1000.0).collect();
    let rss: Vec<f64> = reports
        .iter()
        .map(|r| r.peak_rss_kb as f64 / 1024.0)
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    Row {
        mode: if trickle_ms > 0 {
            format!("{mode}, one every {trickle_ms} ms")
        } else {
            mode.into()
        },
        n,
        m,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        per_sec: m as f64 / ((last.saturating_sub(first)) as f64 / 1e6),
        cpu_mean_s: mean(&cpu),
        cpu_max_s: max(&cpu),
        rss_mean_mb: mean(&rss),
        rss_max_mb: max(&rss),
        complete,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--node") {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(node(&args[1..]));
        return;
    }
    let value = |flag: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let routers: Vec<usize> = value("--routers", "4,8,16")
        .split(',')
        .map(|s| s.parse().expect("--routers: comma-separated numbers"))
        .collect();
    let messages: usize = value("--messages", "10000")
        .parse()
        .expect("--messages: a number");
    let modes = value("--modes", "single,batch,checkpoint");
    let trickle_ms: u64 = value("--trickle-ms", "0")
        .parse()
        .expect("--trickle-ms: a number");
    println!(
        "| mode | routers (t) | messages | p50 ms | p99 ms | msgs/s | CPU s/router (mean/max) | peak RSS MiB/router (mean/max) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for mode in modes.split(',') {
        for &n in &routers {
            let row = run(n, messages, mode, trickle_ms);
            println!(
                "| {} | {} ({}) | {} | {:.0} | {:.0} | {:.0} | {:.1} / {:.1} | {:.0} / {:.0} |{}",
                row.mode,
                row.n,
                threshold(row.n),
                row.m,
                row.p50_ms,
                row.p99_ms,
                row.per_sec,
                row.cpu_mean_s,
                row.cpu_max_s,
                row.rss_mean_mb,
                row.rss_max_mb,
                if row.complete { "" } else { " INCOMPLETE" }
            );
        }
    }
}
