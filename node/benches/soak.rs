#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The soak (issue 30): the real `xroute` binary on the local network for `--minutes` (30 by
//! default) at a steady mixed load (every two seconds one message Starknet → L1, one L1 →
//! Starknet and one Starknet → appchain), every node behind the kit's fault proxy failing
//! `--fault-rate` of its requests (0.3), the router SIGKILLed and restarted every
//! `--restart-every` minutes (5). Each minute: the router's RSS (and of it, its private memory
//! and its mapped files' pages), its open file descriptors (by kind: connections to the nodes,
//! other sockets, files, the rest), its store's size on disk and the messages delivered. At the
//! end every message sent must be delivered; the table, the growth after warm-up (the first
//! restart unless `--warm-up`) and the trends are printed.
//!
//! ```sh
//! cargo bench -p xroute --bench soak -- --minutes 30
//! ```

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{B256, U256};
use clap::Parser;
use starknet_rust::core::types::Felt;
use xroute_tests::{
    LocalNet, XrouteStack,
    fault_proxy::{Fault, FaultProxy, route_through},
    process::free_port,
    router::{Flusher, RouterOptions, RouterProcess, write_config},
    stack::L1_DOMAIN,
};

#[derive(Parser)]
struct Args {
    /// How long the load runs, minutes.
    #[arg(long, default_value_t = 30)]
    minutes: u64,
    /// Minutes between two SIGKILLs of the router.
    #[arg(long, default_value_t = 5)]
    restart_every: u64,
    /// The minute growth is measured from (the first restart's unless set; with
    /// `--keep-delivered-s`, a minute once the store holds a full window of records).
    #[arg(long)]
    warm_up: Option<u64>,
    /// The share of each node's requests that fail.
    #[arg(long, default_value_t = 0.3)]
    fault_rate: f64,
    /// The router's `node.store_cache_mb` (the store's page cache).
    #[arg(long, default_value_t = xroute_config::DEFAULT_STORE_CACHE_MB)]
    store_cache_mb: u64,
    /// The router's `node.keep_delivered_s` (how long a delivered message's record is kept; 0:
    /// forever).
    #[arg(long, default_value_t = xroute_config::DEFAULT_KEEP_DELIVERED_S)]
    keep_delivered_s: u64,
    /// The program run as the router (`<program> run --config …`) instead of the `xroute` binary
    /// built with this bench: e.g. a script that `exec`s it under a heap profiler.
    #[arg(long)]
    router_binary: Option<PathBuf>,
    /// (cargo bench passes this.)
    #[arg(long, hide = true)]
    bench: bool,
}

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");

fn word(f: Felt) -> B256 {
    XrouteStack::felt_word(f)
}

/// Process `pid`'s open file descriptors, by what they are.
#[derive(Default, Clone, Copy)]
struct Fds {
    /// All of them.
    total: usize,
    /// TCP connections to the nodes (through their proxies).
    rpc: usize,
    /// Other sockets: listeners (API, gossip), gossip connections, API clients, UDP, Unix.
    sockets: usize,
    /// Files and directories (the store).
    files: usize,
    /// The rest: epoll, eventfd, pipes, timers.
    other: usize,
}

/// The remote ports of the TCP sockets (by inode) of the network namespace of `pid`.
fn tcp_remote_ports(pid: u32) -> std::collections::HashMap<u64, u16> {
    let mut ports = std::collections::HashMap::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(inode)) = (cols.get(2), cols.get(9)) else {
                continue;
            };
            let port = remote
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if let (Some(port), Ok(inode)) = (port, inode.parse()) {
                ports.insert(inode, port);
            }
        }
    }
    ports
}

fn fds(pid: u32, rpc_ports: &[u16]) -> Fds {
    let ports = tcp_remote_ports(pid);
    let mut fds = Fds::default();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return fds;
    };
    for entry in dir.filter_map(Result::ok) {
        fds.total += 1;
        let Ok(target) = std::fs::read_link(entry.path()) else {
            fds.other += 1;
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
            .and_then(|t| t.parse::<u64>().ok())
        {
            match ports.get(&inode) {
                Some(port) if rpc_ports.contains(port) => fds.rpc += 1,
                _ => fds.sockets += 1,
            }
        } else if target.starts_with('/') {
            fds.files += 1;
        } else {
            fds.other += 1;
        }
    }
    fds
}

/// Bytes under `dir`.
fn disk(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

struct Sample {
    minute: u64,
    rss_mib: f64,
    /// Private memory (heap and anonymous mappings).
    anon_mib: f64,
    /// Mapped files' pages (the executable's code, shared and reclaimable).
    file_mib: f64,
    fds: Fds,
    store_mib: f64,
    delivered: u64,
    sent: u64,
}

impl Sample {
    /// Its row of the table.
    fn row(&self) -> String {
        format!(
            "| {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {:.1} | {} / {} |",
            self.minute,
            self.rss_mib,
            self.anon_mib,
            self.file_mib,
            self.fds.total,
            self.fds.rpc,
            self.fds.sockets,
            self.fds.files,
            self.fds.other,
            self.store_mib,
            self.delivered,
            self.sent
        )
    }
}

async fn sample(
    router: &RouterProcess,
    store: &Path,
    rpc_ports: &[u16],
    minute: u64,
    sent: u64,
) -> Sample {
    let delivered = router
        .stats()
        .await
        .ok()
        .and_then(|s| s["delivered"].as_u64())
        .unwrap_or(0);
    Sample {
        minute,
        rss_mib: router.rss_kib().unwrap_or(0) as f64 / 1024.0,
        anon_mib: router.status_kib("RssAnon").unwrap_or(0) as f64 / 1024.0,
        file_mib: router.status_kib("RssFile").unwrap_or(0) as f64 / 1024.0,
        fds: fds(router.pid(), rpc_ports),
        store_mib: disk(store) as f64 / (1024.0 * 1024.0),
        delivered,
        sent,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let net = Arc::new(LocalNet::start(2).await.unwrap());
    let stack = XrouteStack::deploy(&net).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let config = write_config(dir.path(), &net, &stack, port, &RouterOptions::default()).unwrap();
    let targets = [
        ("ethereum", net.l1.endpoint().to_string()),
        ("starknet", net.starknets[0].devnet.rpc_url().to_string()),
        ("appchain1", net.starknets[1].devnet.rpc_url().to_string()),
    ];
    let mut proxies = Vec::new();
    for (i, (name, url)) in targets.iter().enumerate() {
        let proxy = FaultProxy::start(url, args.fault_rate, &Fault::ALL, 60 + i as u64)
            .await
            .unwrap();
        proxies.push((name.to_string(), proxy));
    }
    route_through(&config, &proxies).unwrap();
    xroute_tests::router::edit_config(&config, |c| {
        c.node.store_cache_mb = args.store_cache_mb;
        c.node.keep_delivered_s = args.keep_delivered_s;
    })
    .unwrap();
    let binary = args
        .router_binary
        .clone()
        .unwrap_or_else(|| PathBuf::from(XROUTE));
    let rpc_ports: Vec<u16> = proxies.iter().map(|(_, p)| p.port()).collect();
    let mut router = RouterProcess::start(&binary, &config, port).await.unwrap();
    let flusher = Flusher::start(net.clone(), Duration::from_millis(500));
    let store: PathBuf = dir.path().join("store");
    let sn = stack.starknets[0];
    let app3 = stack.starknets[1];
    let l1_recipient = B256::left_padding_from(stack.l1_app.as_slice());

    let started = Instant::now();
    let total = Duration::from_secs(args.minutes * 60);
    let mut sent = 0u64;
    let mut samples = vec![sample(&router, &store, &rpc_ports, 0, 0).await];
    let mut next_minute = 1;
    let mut n = 0u64;
    while started.elapsed() < total {
        n += 1;
        stack
            .send_from_starknet(&net, 0, L1_DOMAIN, l1_recipient, &[vec![Felt::from(n)]])
            .await
            .unwrap();
        stack
            .send_from_l1(&net, sn.domain, word(sn.app), vec![U256::from(n)], 0)
            .await
            .unwrap();
        stack
            .send_from_starknet(&net, 0, app3.domain, word(app3.app), &[vec![Felt::from(n)]])
            .await
            .unwrap();
        sent += 3;
        tokio::time::sleep(Duration::from_secs(2)).await;
        router.check_running().unwrap();
        if started.elapsed() >= Duration::from_secs(next_minute * 60) {
            let s = sample(&router, &store, &rpc_ports, next_minute, sent).await;
            eprintln!("{}", s.row());
            samples.push(s);
            if next_minute % args.restart_every == 0 && started.elapsed() < total {
                router.kill_and_restart().await.unwrap();
            }
            next_minute += 1;
        }
    }
    // Every message delivered.
    let drain = Instant::now();
    loop {
        let delivered = router.stats().await.unwrap()["delivered"]
            .as_u64()
            .unwrap_or(0);
        if delivered >= sent {
            break;
        }
        assert!(
            drain.elapsed() < Duration::from_secs(600),
            "{delivered} of {sent} delivered 10 minutes after the load stopped"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    flusher.stop().await.unwrap();

    println!(
        "| minute | RSS MiB | of it private (anon) | of it mapped files | open fds | of them RPC connections | other sockets | files | other | store MiB | delivered / sent |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for s in &samples {
        println!("{}", s.row());
    }
    // Growth after warm-up: each later sample against the warm-up minute's.
    let warm_up = args.warm_up.unwrap_or(args.restart_every);
    if let Some(base) = samples.iter().find(|s| s.minute == warm_up) {
        let later: Vec<&Sample> = samples.iter().filter(|s| s.minute > base.minute).collect();
        let max_rss = later.iter().map(|s| s.rss_mib).fold(base.rss_mib, f64::max);
        let max_fds = later
            .iter()
            .map(|s| s.fds.total)
            .max()
            .unwrap_or(base.fds.total);
        let rest = |s: &Sample| s.fds.total - s.fds.rpc;
        let max_rest = later.iter().map(|s| rest(s)).max().unwrap_or(rest(base));
        let max_rpc = samples.iter().map(|s| s.fds.rpc).max().unwrap_or(0);
        let max_anon = later
            .iter()
            .map(|s| s.anon_mib)
            .fold(base.anon_mib, f64::max);
        println!(
            "after warm-up (minute {}): private memory {:.1} MiB, at most {:.1} later ({:+.1} %)",
            base.minute,
            base.anon_mib,
            max_anon,
            (max_anon / base.anon_mib - 1.0) * 100.0
        );
        println!(
            "after warm-up (minute {}): RSS {:.1} MiB, at most {:.1} later ({:+.1} %); fds {}, at most {} later ({:+.1} %)",
            base.minute,
            base.rss_mib,
            max_rss,
            (max_rss / base.rss_mib - 1.0) * 100.0,
            base.fds.total,
            max_fds,
            (max_fds as f64 / base.fds.total.max(1) as f64 - 1.0) * 100.0
        );
        println!(
            "after warm-up (minute {}): fds other than RPC connections {}, at most {} later ({:+.1} %); RPC connections at most {max_rpc} in any minute",
            base.minute,
            rest(base),
            max_rest,
            (max_rest as f64 / rest(base).max(1) as f64 - 1.0) * 100.0
        );
    }
    // The trend, less noisy than a peak: the mean of the five minutes after warm-up against the
    // mean of the last five.
    let mean = |from: u64, to: u64, f: &dyn Fn(&Sample) -> f64| {
        let picked: Vec<f64> = samples
            .iter()
            .filter(|s| s.minute >= from && s.minute <= to)
            .map(f)
            .collect();
        picked.iter().sum::<f64>() / picked.len().max(1) as f64
    };
    let last = samples.last().map_or(0, |s| s.minute);
    if last >= warm_up + 10 {
        for (what, f) in [
            ("RSS", &(|s: &Sample| s.rss_mib) as &dyn Fn(&Sample) -> f64),
            ("private memory", &|s: &Sample| s.anon_mib),
            ("open fds", &|s: &Sample| s.fds.total as f64),
            ("fds other than RPC connections", &|s: &Sample| {
                (s.fds.total - s.fds.rpc) as f64
            }),
        ] {
            let early = mean(warm_up + 1, warm_up + 5, f);
            let late = mean(last - 4, last, f);
            println!(
                "trend of {what}: mean of minutes {}-{} {early:.1}, of minutes {}-{last} {late:.1} ({:+.1} %)",
                warm_up + 1,
                warm_up + 5,
                last - 4,
                (late / early - 1.0) * 100.0
            );
        }
    }
    for (name, p) in &proxies {
        println!(
            "{name}: forwarded {}, failed on purpose {:?}",
            p.forwarded(),
            p.counts()
        );
    }
    println!("all {sent} messages delivered");
}
