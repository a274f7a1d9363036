//! The router's Prometheus metrics (`GET /metrics`, text exposition format, `prometheus-client`)
//! and what `GET /ready` decides from.
//!
//! - `xroute_messages{stage}`: messages in each stage (read from the store at scrape time).
//! - `xroute_transitions_total{from,to,route}`: stage changes, counted where the store makes them.
//! - `xroute_delivery_seconds{route}`: from the router first seeing a message on its source chain
//!   to `Delivered`.
//! - `xroute_certificate_seconds{route}`: in a router network, from this router's own `Proven` to
//!   the quorum certificate (`Attested`).
//! - `xroute_rpc_requests_total{chain,method}`, `xroute_rpc_failures_total{chain,method,kind}`,
//!   `xroute_rpc_latency_seconds{chain,method}`: every RPC request of the adapters
//!   ([`xroute_adapters::rpc_metrics`]); `xroute_rpc_connection_waits_total{chain}` and
//!   `xroute_rpc_connection_wait_seconds{chain}`: tries that found the chain's
//!   `transport.max_connections` all in use, and how long they waited.
//! - `xroute_relay_transactions_total{chain,outcome}`: transactions the router signed and sent
//!   (`sent`, `replaced` with higher fees) and how the mined ones ended (`succeeded`,
//!   `reverted`), per chain (relays on L1, follow-ups on a destination).
//! - `xroute_relay_gas_used_total{chain}`, `xroute_relay_value_wei_total{chain}`: gas of the
//!   router's mined successful relays, and the value (entry fees) they carried.
//! - `xroute_chain_head{chain}`, `xroute_scan_lag_blocks{chain}` (head − indexed cursor),
//!   `xroute_chain_answered_seconds{chain}` (unix time of the chain's last answer to the indexer).
//! - `xroute_reorg_depth_blocks{chain}`: reorgs found under the indexer's cursor, by depth.
//! - `xroute_pruned_records_total`: delivered messages whose records were pruned
//!   (`node.keep_delivered_s`).
//! - `xroute_node_faults_total{chain,kind}`: message steps that failed because a node did (no
//!   attempt of the message spent).
//! - `xroute_p2p_peers` (connected libp2p peers) and `xroute_gossip_messages{verdict,reason}`
//!   (gossip accepted / rejected by reason), in a router network, read at scrape time.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::{
    model::{MessageRecord, Stage, StageObserver},
    time::now_ms,
};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransitionLabels {
    from: String,
    to: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WaitLabels {
    why: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChainLabels {
    chain: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TxLabels {
    chain: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabels {
    chain: String,
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GossipLabels {
    verdict: &'static str,
    reason: String,
}

type DeliveryHistogram = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn certificate_histogram() -> Histogram {
    // 5 ms … ~82 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

fn reorg_histogram() -> Histogram {
    // 1 … 128 blocks.
    Histogram::new(exponential_buckets(1.0, 2.0, 8))
}

fn delivery_histogram() -> Histogram {
    // 0.25 s … ~68 min.
    Histogram::new(exponential_buckets(0.25, 2.0, 15))
}

/// What a transaction of the router came to, for `xroute_relay_transactions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxOutcome {
    /// Signed, persisted and broadcast.
    Sent,
    /// Replaced under its nonce with higher fees.
    Replaced,
    /// Mined and succeeded.
    Succeeded,
    /// Mined and reverted.
    Reverted,
}

impl TxOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Replaced => "replaced",
            Self::Succeeded => "succeeded",
            Self::Reverted => "reverted",
        }
    }
}

/// The router's metrics. Cheap to update from any task.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    messages: Family<StageLabels, Gauge>,
    transitions: Family<TransitionLabels, Counter>,
    delivery: DeliveryHistogram,
    certificate: DeliveryHistogram,
    txs: Family<TxLabels, Counter>,
    gas: Family<ChainLabels, Counter>,
    batches: Family<ChainLabels, Counter>,
    batch_members: Family<ChainLabels, Counter>,
    settlements: Family<ChainLabels, Counter>,
    spend: Family<RouteLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    revenue: Family<RouteLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    margin: Family<RouteLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    receipts_settled: Family<ChainLabels, Counter>,
    waiting: Family<WaitLabels, Gauge>,
    waiting_exit: Family<ChainLabels, Gauge>,
    value: Family<ChainLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    head: Family<ChainLabels, Gauge>,
    lag: Family<ChainLabels, Gauge>,
    answered: Family<ChainLabels, Gauge>,
    peers: Gauge,
    gossip: Family<GossipLabels, Gauge>,
    node_faults: Family<FaultLabels, Counter>,
    reorgs: Family<ChainLabels, Histogram, fn() -> Histogram>,
    pruned: Counter,
    /// Domain → chain name, for route labels.
    names: BTreeMap<u32, String>,
    /// Per chain, when it last answered the indexer (ms since the epoch).
    last_answer: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Metrics for a router over the chains `names` (domain → name).
    pub fn new(names: BTreeMap<u32, String>) -> Arc<Self> {
        let m = Self {
            registry: Mutex::new(Registry::default()),
            messages: Family::default(),
            transitions: Family::default(),
            delivery: Family::new_with_constructor(delivery_histogram),
            certificate: Family::new_with_constructor(certificate_histogram),
            txs: Family::default(),
            gas: Family::default(),
            batches: Family::default(),
            batch_members: Family::default(),
            settlements: Family::default(),
            spend: Family::default(),
            revenue: Family::default(),
            margin: Family::default(),
            receipts_settled: Family::default(),
            waiting: Family::default(),
            waiting_exit: Family::default(),
            value: Family::default(),
            head: Family::default(),
            lag: Family::default(),
            answered: Family::default(),
            peers: Gauge::default(),
            gossip: Family::default(),
            node_faults: Family::default(),
            reorgs: Family::new_with_constructor(reorg_histogram),
            pruned: Counter::default(),
            names,
            last_answer: Mutex::new(BTreeMap::new()),
        };
        {
            let mut r = m.registry.lock().unwrap_or_else(|p| p.into_inner());
            r.register(
                "xroute_messages",
                "Messages in each stage",
                m.messages.clone(),
            );
            r.register(
                "xroute_transitions",
                "Stage changes of messages",
                m.transitions.clone(),
            );
            r.register(
                "xroute_delivery_seconds",
                "Time from first seeing a message on its source chain to Delivered",
                m.delivery.clone(),
            );
            r.register(
                "xroute_certificate_seconds",
                "Time from this router's Proven to a quorum certificate (Attested)",
                m.certificate.clone(),
            );
            r.register(
                "xroute_relay_transactions",
                "Transactions the router sent, and how the mined ones ended",
                m.txs.clone(),
            );
            r.register(
                "xroute_relay_gas_used",
                "Gas used by the router's successful relay transactions",
                m.gas.clone(),
            );
            r.register(
                "xroute_relay_batches",
                "Batch transactions (several hops in one L1 transaction) the router sent",
                m.batches.clone(),
            );
            r.register(
                "xroute_relay_batch_members",
                "Hops the router sent inside batch transactions",
                m.batch_members.clone(),
            );
            r.register(
                "xroute_settlements",
                "Commitments over a chain's receipts the router sent to its gas tank (Hub.settle)",
                m.settlements.clone(),
            );
            r.register(
                "xroute_route_spend_wei",
                "What the router's relays of a route cost it on L1: each relay's share of its transaction's fee, plus the value it carried toward the next leg",
                m.spend.clone(),
            );
            r.register(
                "xroute_route_revenue_wei",
                "What the router was credited for a route's relays: each paid relay's charge on its payer's terms (at settlement: in the relay for an L1 payer, when the router presents the receipts for a rollup's)",
                m.revenue.clone(),
            );
            r.register(
                "xroute_route_margin_wei",
                "Revenue less spend, per route (unpaid relays count as spend only)",
                m.margin.clone(),
            );
            r.register(
                "xroute_receipts_settled",
                "Receipts the router presented to a chain's gas tank",
                m.receipts_settled.clone(),
            );
            r.register(
                "xroute_messages_waiting_for_payment",
                "Messages whose relay waits on their payment, by why: held (the L1 base fee above the payer's cap, or more gas than paid for), unpaid, underpaid",
                m.waiting.clone(),
            );
            r.register(
                "xroute_messages_waiting_for_exit",
                "Messages waiting, without any chain call, until L1's events show their exit, per source chain",
                m.waiting_exit.clone(),
            );
            r.register(
                "xroute_relay_value_wei",
                "Value (entry fees) carried by the router's successful relay transactions",
                m.value.clone(),
            );
            r.register(
                "xroute_chain_head",
                "Latest block of the chain",
                m.head.clone(),
            );
            r.register(
                "xroute_scan_lag_blocks",
                "Blocks between the chain's head and the router's indexed cursor",
                m.lag.clone(),
            );
            r.register(
                "xroute_chain_answered_seconds",
                "Unix time of the chain's last answer to the router's indexer",
                m.answered.clone(),
            );
            r.register(
                "xroute_p2p_peers",
                "Connected libp2p peers",
                m.peers.clone(),
            );
            r.register(
                "xroute_gossip_messages",
                "Gossip messages accepted and rejected (by reason) from all peers",
                m.gossip.clone(),
            );
            r.register(
                "xroute_node_faults",
                "Message steps that failed because a chain's node did (timed out, refused, rate limited, answered garbage): tried again, no attempt of the message spent",
                m.node_faults.clone(),
            );
            r.register(
                "xroute_reorg_depth_blocks",
                "Reorgs the indexer found under its cursor, per chain, by depth (blocks from the cursor down to the newest block both branches share); its _count is the number of reorgs",
                m.reorgs.clone(),
            );
            r.register(
                "xroute_pruned_records",
                "Delivered messages whose records were pruned after node.keep_delivered_s (31 bytes of each stay)",
                m.pruned.clone(),
            );
            xroute_adapters::rpc_metrics::RpcMetrics::global().register(&mut r);
        }
        Arc::new(m)
    }

    /// "source → destination" by chain names.
    pub fn route(&self, record: &MessageRecord) -> String {
        let name = |d: u32| {
            self.names
                .get(&d)
                .cloned()
                .unwrap_or_else(|| format!("domain {d}"))
        };
        format!(
            "{} → {}",
            name(record.envelope.src_domain),
            name(record.envelope.dst_domain)
        )
    }

    /// The indexer found a reorg `depth` blocks deep under its cursor on `chain`.
    pub fn reorg(&self, chain: &str, depth: u64) {
        self.reorgs
            .get_or_create(&ChainLabels {
                chain: chain.to_string(),
            })
            .observe(depth as f64);
    }

    /// `n` delivered messages' records were pruned.
    pub fn pruned(&self, n: u64) {
        self.pruned.inc_by(n);
    }

    /// A message's step failed because `chain`'s node did (`kind`).
    pub fn node_fault(&self, chain: &str, kind: xroute_adapters::ErrorKind) {
        self.node_faults
            .get_or_create(&FaultLabels {
                chain: chain.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }

    /// A transaction on `chain` came to `outcome`.
    pub fn transaction(&self, chain: &str, outcome: TxOutcome) {
        self.txs
            .get_or_create(&TxLabels {
                chain: chain.to_string(),
                outcome: outcome.label(),
            })
            .inc();
    }

    /// The relay of `record` cost the router `wei`.
    pub fn spent(&self, record: &MessageRecord, wei: alloy::primitives::U256) {
        let labels = RouteLabels {
            route: self.route(record),
        };
        let wei = f64::from(wei);
        self.spend.get_or_create(&labels).inc_by(wei);
        self.margin.get_or_create(&labels).dec_by(wei);
    }

    /// The router was credited `wei` for relaying `record`.
    pub fn earned(&self, record: &MessageRecord, wei: alloy::primitives::U256) {
        let labels = RouteLabels {
            route: self.route(record),
        };
        let wei = f64::from(wei);
        self.revenue.get_or_create(&labels).inc_by(wei);
        self.margin.get_or_create(&labels).inc_by(wei);
    }

    /// A commitment over `chain`'s receipts was sent to its tank.
    pub fn settlement_sent(&self, chain: &str) {
        self.settlements
            .get_or_create(&ChainLabels {
                chain: chain.to_string(),
            })
            .inc();
    }

    /// `count` receipts were presented to `chain`'s tank.
    pub fn receipts_settled(&self, chain: &str, count: u64) {
        self.receipts_settled
            .get_or_create(&ChainLabels {
                chain: chain.to_string(),
            })
            .inc_by(count);
    }

    /// How many messages wait on their payment, by why (`held`, `unpaid`, `underpaid`).
    pub fn waiting_for_payment(&self, why: &str, count: u64) {
        self.waiting
            .get_or_create(&WaitLabels {
                why: why.to_string(),
            })
            .set(count as i64);
    }

    /// How many messages from `chain` wait for L1's events to show their exit.
    pub fn waiting_for_exit(&self, chain: &str, count: u64) {
        self.waiting_exit
            .get_or_create(&ChainLabels {
                chain: chain.to_string(),
            })
            .set(count as i64);
    }

    /// A batch of `members` hops was sent on `chain`.
    pub fn batch_sent(&self, chain: &str, members: usize) {
        let labels = ChainLabels {
            chain: chain.to_string(),
        };
        self.batches.get_or_create(&labels).inc();
        self.batch_members
            .get_or_create(&labels)
            .inc_by(members as u64);
    }

    /// A successful relay on `chain` used `gas` and carried `value_wei`.
    pub fn relay_mined(&self, chain: &str, gas: u64, value_wei: f64) {
        let labels = ChainLabels {
            chain: chain.to_string(),
        };
        self.gas.get_or_create(&labels).inc_by(gas);
        self.value.get_or_create(&labels).inc_by(value_wei);
    }

    /// The indexer read `chain` up to `cursor` with the chain's head at `head`.
    pub fn scanned(&self, chain: &str, head: u64, cursor: u64) {
        let labels = ChainLabels {
            chain: chain.to_string(),
        };
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.head.get_or_create(&labels).set(gauge(head));
        self.lag
            .get_or_create(&labels)
            .set(gauge(head.saturating_sub(cursor)));
        let now = now_ms();
        self.answered.get_or_create(&labels).set(gauge(now / 1000));
        self.last_answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(chain.to_string(), now);
    }

    /// Per configured chain, how long ago it last answered the indexer (`None`: never).
    pub fn chain_silence_ms(&self) -> BTreeMap<String, Option<u64>> {
        let last = self.last_answer.lock().unwrap_or_else(|p| p.into_inner());
        let now = now_ms();
        self.names
            .values()
            .map(|name| (name.clone(), last.get(name).map(|t| now.saturating_sub(*t))))
            .collect()
    }

    /// The text exposition of every metric, with the store-derived and network-derived gauges
    /// set from `counts` (messages per stage) and `network` (peers, gossip verdict counters).
    pub fn encode(&self, counts: &[(Stage, usize)], network: Option<&NetworkSample>) -> String {
        for (stage, n) in counts {
            self.messages
                .get_or_create(&StageLabels {
                    stage: stage_label(*stage),
                })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        if let Some(n) = network {
            self.peers.set(i64::try_from(n.peers).unwrap_or(i64::MAX));
            for ((verdict, reason), count) in &n.gossip {
                self.gossip
                    .get_or_create(&GossipLabels {
                        verdict,
                        reason: reason.clone(),
                    })
                    .set(i64::try_from(*count).unwrap_or(i64::MAX));
            }
        }
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// The classic Prometheus text format (0.0.4) of an OpenMetrics exposition, for scrapers and
/// tools that read only that (`promtool check metrics`): a counter's family is named as its
/// samples are (`…_total`), and the OpenMetrics-only lines (`# EOF`, `# UNIT`) are left out.
pub fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// What the network contributes to a scrape.
#[derive(Debug, Clone, Default)]
pub struct NetworkSample {
    /// Connected libp2p peers.
    pub peers: usize,
    /// (verdict, reason) → count, summed over peers.
    pub gossip: BTreeMap<(&'static str, String), u64>,
}

/// Metrics count the stage changes the store commits.
impl StageObserver for Metrics {
    /// A stage change the store made.
    fn moved(&self, record: &MessageRecord, from: Stage, to: Stage, at_ms: u64) {
        let route = self.route(record);
        self.transitions
            .get_or_create(&TransitionLabels {
                from: stage_label(from),
                to: stage_label(to),
                route: route.clone(),
            })
            .inc();
        if to == Stage::Attested
            && let Some(proven) = record.history.iter().rev().find(|t| t.to == Stage::Proven)
        {
            let seconds = at_ms.saturating_sub(proven.at_ms) as f64 / 1000.0;
            self.certificate
                .get_or_create(&RouteLabels {
                    route: route.clone(),
                })
                .observe(seconds);
        }
        if to == Stage::Delivered && record.seen_at_ms > 0 {
            let seconds = at_ms.saturating_sub(record.seen_at_ms) as f64 / 1000.0;
            self.delivery
                .get_or_create(&RouteLabels { route })
                .observe(seconds);
        }
    }
}

fn stage_label(stage: Stage) -> String {
    format!("{stage:?}").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_each_family_with_its_labels() {
        let names = BTreeMap::from([(1, "ethereum".to_string()), (2, "starknet".to_string())]);
        let m = Metrics::new(names);
        m.transaction("ethereum", TxOutcome::Sent);
        m.transaction("ethereum", TxOutcome::Sent);
        m.transaction("ethereum", TxOutcome::Succeeded);
        m.relay_mined("ethereum", 98_000, 1.5e15);
        m.scanned("starknet", 120, 100);
        let text = m.encode(&[(Stage::Delivered, 3), (Stage::Sent, 1)], None);
        for line in [
            "xroute_messages{stage=\"delivered\"} 3",
            "xroute_messages{stage=\"sent\"} 1",
            "xroute_relay_transactions_total{chain=\"ethereum\",outcome=\"sent\"} 2",
            "xroute_relay_transactions_total{chain=\"ethereum\",outcome=\"succeeded\"} 1",
            "xroute_relay_gas_used_total{chain=\"ethereum\"} 98000",
            "xroute_chain_head{chain=\"starknet\"} 120",
            "xroute_scan_lag_blocks{chain=\"starknet\"} 20",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        let silence = m.chain_silence_ms();
        assert_eq!(silence["ethereum"], None, "never scanned");
        assert!(silence["starknet"].is_some_and(|ms| ms < 5_000));
    }

    /// The classic text names each counter family as its samples, and has no OpenMetrics-only
    /// line; every other line is kept.
    #[test]
    fn the_classic_text_names_counters_as_their_samples() {
        let m = Metrics::new(BTreeMap::from([(1, "ethereum".to_string())]));
        m.transaction("ethereum", TxOutcome::Sent);
        let open = m.encode(&[(Stage::Sent, 1)], None);
        let classic = prometheus_text(&open);
        assert!(open.contains("# TYPE xroute_relay_transactions counter"));
        assert!(classic.contains("# TYPE xroute_relay_transactions_total counter"));
        assert!(classic.contains("# HELP xroute_relay_transactions_total Transactions"));
        assert!(classic.contains("# TYPE xroute_messages gauge"));
        assert!(!classic.contains("# EOF"));
        let samples = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples(&open), samples(&classic));
    }
}
