//! Every RPC request the adapters make, counted per chain and method: requests, failures by
//! kind, and latency (a logical request: its transport retries included); and per chain, the tries
//! that waited for a connection (`transport.max_connections`) and how long. One process-wide set,
//! which the router's `/metrics` registers ([`RpcMetrics::global`]).

use std::{sync::OnceLock, time::Duration};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    chain: String,
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChainLabels {
    chain: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    chain: String,
    method: String,
    kind: String,
}

/// How an RPC request ended, for the failure counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcOutcome {
    /// Answered (a JSON-RPC error answer included: the node is up and said something).
    Answered,
    /// The node answered with a JSON-RPC error (a revert, an unknown block…).
    ErrorAnswer,
    /// No answer within the timeout, after the retries.
    Timeout,
    /// No connection, a broken one, or an HTTP error status, after the retries.
    Unavailable,
    /// Anything else (an answer that does not decode).
    Other,
}

impl RpcOutcome {
    fn kind(self) -> Option<&'static str> {
        match self {
            Self::Answered => None,
            Self::ErrorAnswer => Some("error_answer"),
            Self::Timeout => Some("timeout"),
            Self::Unavailable => Some("unavailable"),
            Self::Other => Some("other"),
        }
    }
}

/// Requests, failures and latency per (chain, method).
#[derive(Debug, Clone)]
pub struct RpcMetrics {
    requests: Family<MethodLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
    connection_waits: Family<ChainLabels, Counter>,
    connection_wait: Family<ChainLabels, Histogram>,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl RpcMetrics {
    /// The process's set.
    pub fn global() -> &'static RpcMetrics {
        static METRICS: OnceLock<RpcMetrics> = OnceLock::new();
        METRICS.get_or_init(|| RpcMetrics {
            requests: Family::default(),
            failures: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            connection_waits: Family::default(),
            connection_wait: Family::new_with_constructor(latency_histogram),
        })
    }

    /// Adds the five families to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "xroute_rpc_requests",
            "RPC requests the router made, per chain and method",
            self.requests.clone(),
        );
        registry.register(
            "xroute_rpc_failures",
            "RPC requests that failed, per chain, method and kind (timeout, unavailable, \
             error_answer, other)",
            self.failures.clone(),
        );
        registry.register(
            "xroute_rpc_latency_seconds",
            "Time an RPC request took, its retries included",
            self.latency.clone(),
        );
        registry.register(
            "xroute_rpc_connection_waits",
            "Tries that found all of the chain's transport.max_connections in use and waited",
            self.connection_waits.clone(),
        );
        registry.register(
            "xroute_rpc_connection_wait_seconds",
            "How long a try that waited for one of the chain's connections waited",
            self.connection_wait.clone(),
        );
    }

    /// Tries on `chain` so far that waited for a connection.
    pub fn connection_waits(&self, chain: &str) -> u64 {
        self.connection_waits
            .get_or_create(&ChainLabels {
                chain: chain.to_string(),
            })
            .get()
    }

    /// Records one try on `chain` that found every connection in use and waited `waited`.
    pub fn observe_connection_wait(&self, chain: &str, waited: Duration) {
        let labels = ChainLabels {
            chain: chain.to_string(),
        };
        self.connection_waits.get_or_create(&labels).inc();
        self.connection_wait
            .get_or_create(&labels)
            .observe(waited.as_secs_f64());
    }

    /// Requests of `method` made on `chain` so far.
    pub fn requests(&self, chain: &str, method: &str) -> u64 {
        self.requests
            .get_or_create(&MethodLabels {
                chain: chain.to_string(),
                method: method.to_string(),
            })
            .get()
    }

    /// Records one request of `method` on `chain` that took `elapsed` and ended as `outcome`.
    pub fn observe(&self, chain: &str, method: &str, elapsed: Duration, outcome: RpcOutcome) {
        let labels = MethodLabels {
            chain: chain.to_string(),
            method: method.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        if let Some(kind) = outcome.kind() {
            self.failures
                .get_or_create(&FailureLabels {
                    chain: labels.chain,
                    method: labels.method,
                    kind: kind.to_string(),
                })
                .inc();
        }
    }
}
