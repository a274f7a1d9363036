//! One router, wired in one place: the store (converted from an earlier release's layout when
//! needed), the chains, the metrics that observe the store, the pipeline, the router network that
//! coordinates it (`[p2p]`), the HTTP API, and the named critical tasks that run them.
//!
//! `xroute run` is [`Router::from_config`] then [`Router::run`]; `xroute relay`, the benches and
//! the tests build the parts they need with [`Router::builder`] (scripted chains, a store of
//! their own, a coordinator of their own, no API) and nothing else wires these parts together.

use std::{future::Future, net::SocketAddr, path::PathBuf, pin::Pin, sync::Arc};

use tokio::sync::{mpsc, watch};
use xroute_adapters::ChainAdapterExt;
use xroute_config::{ChainConfig, Config, P2pConfig, PaymentsConfig, RelayConfig};

use crate::{
    api,
    metrics::Metrics,
    network::{ChainsCheckpoints, Network, NetworkSettings, wire},
    p2p::{self, Received},
    pipeline::{Chains, Coordinator, Pipeline, PipelineError},
    store::{Store, StoreError},
    tasks::{Ended, Tasks},
};

/// Why a router could not be built or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The store could not be opened or converted.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The chains could not be connected, or do not make a router.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A setting cannot be used; the field is named.
    #[error("{field}: {problem}")]
    Config {
        /// The config field.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The API could not listen.
    #[error("cannot listen on {addr} (node.api): {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A critical task ended.
    #[error(transparent)]
    Task(#[from] crate::tasks::TaskExit),
}

fn config_error(field: impl Into<String>, problem: impl std::fmt::Display) -> RouterError {
    RouterError::Config {
        field: field.into(),
        problem: problem.to_string(),
    }
}

/// What the HTTP API serves with.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Listen address.
    pub addr: SocketAddr,
    /// The bearer token the write routes require, if any.
    pub token: Option<String>,
    /// The canonical token's L1 ledger, for transfer views.
    pub ledger: Option<alloy_primitives::Address>,
}

/// A joined router network whose tasks have not started.
struct Joined {
    network: Arc<Network>,
    inbound: mpsc::Receiver<Received>,
    swarm: Pin<Box<dyn Future<Output = ()> + Send>>,
    checkpoints: bool,
    poll_ms: u64,
}

/// One router: its parts, ready to run.
pub struct Router {
    store: Store,
    chains: Chains,
    metrics: Arc<Metrics>,
    pipeline: Arc<Pipeline>,
    joined: Option<Joined>,
    network: Option<Arc<Network>>,
    api: Option<(tokio::net::TcpListener, ApiSettings)>,
    keep_delivered: Option<std::time::Duration>,
    clock: Arc<dyn crate::time::Clock>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("chains", &self.chains)
            .field("network", &self.network.is_some())
            .field("api", &self.api.as_ref().map(|(_, s)| s.addr))
            .finish_non_exhaustive()
    }
}

enum StoreFrom {
    Given(Store),
    At(PathBuf),
}

enum ChainsFrom {
    Given(Chains),
    Config(Vec<ChainConfig>),
}

/// How a [`Router`] is built: its parts from a config, or given.
pub struct RouterBuilder {
    relay: RelayConfig,
    payments: PaymentsConfig,
    store: Option<StoreFrom>,
    chains: Option<ChainsFrom>,
    coordinator: Option<Arc<dyn Coordinator>>,
    clock: Option<Arc<dyn crate::time::Clock>>,
    p2p: Option<P2pConfig>,
    api: Option<ApiSettings>,
    keep_delivered: Option<std::time::Duration>,
}

impl RouterBuilder {
    /// Prunes the records of messages delivered longer ago than `keep` (`node.keep_delivered_s`;
    /// none: records are kept forever).
    pub fn keep_delivered(mut self, keep: Option<std::time::Duration>) -> Self {
        self.keep_delivered = keep;
        self
    }

    /// The store in `path` (created if missing; an earlier release's converted with the chains'
    /// names).
    pub fn store_at(mut self, path: impl Into<PathBuf>) -> Self {
        self.store = Some(StoreFrom::At(path.into()));
        self
    }

    /// An open store.
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(StoreFrom::Given(store));
        self
    }

    /// The chains of `configs`, connected when the router is built.
    pub fn chains_from(mut self, configs: &[ChainConfig]) -> Self {
        self.chains = Some(ChainsFrom::Config(configs.to_vec()));
        self
    }

    /// Connected chains (scripted ones in tests and benches).
    pub fn chains(mut self, chains: Chains) -> Self {
        self.chains = Some(ChainsFrom::Given(chains));
        self
    }

    /// A coordinator of the caller's (a bench's or a test's) instead of working alone or in the
    /// `[p2p]` network.
    pub fn coordinator(mut self, coordinator: Arc<dyn Coordinator>) -> Self {
        self.coordinator = Some(coordinator);
        self
    }

    /// Relays and settles by `payments` (default: relay everything, settle every 32 receipts or
    /// 10 minutes).
    pub fn payments(mut self, payments: PaymentsConfig) -> Self {
        self.payments = payments;
        self
    }

    /// Reads the time from `clock` (a test's [`crate::time::ManualClock`]) instead of the
    /// system's: backoffs and wake-up times pass when it says.
    pub fn clock(mut self, clock: Arc<dyn crate::time::Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Joins the router network of `p2p` when the router is built.
    pub fn network(mut self, p2p: Option<P2pConfig>) -> Self {
        self.p2p = p2p;
        self
    }

    /// Serves the HTTP API with `settings` (bound when the router is built).
    pub fn api(mut self, settings: ApiSettings) -> Self {
        self.api = Some(settings);
        self
    }

    /// Connects and opens everything: chains, store, metrics observing it, pipeline, network,
    /// the API's listener. Nothing runs until [`Router::run`].
    pub async fn build(self) -> Result<Router, RouterError> {
        let chains = match self.chains {
            Some(ChainsFrom::Given(chains)) => chains,
            Some(ChainsFrom::Config(configs)) => Chains::connect(&configs).await?,
            None => return Err(config_error("chains", "no chain is configured")),
        };
        let names: Vec<(String, u32)> = chains
            .adapters()
            .iter()
            .map(|c| (c.name().to_string(), c.domain()))
            .collect();
        let metrics = Metrics::new(names.iter().map(|(n, d)| (*d, n.clone())).collect());
        let store = match self.store {
            Some(StoreFrom::Given(store)) => store,
            Some(StoreFrom::At(path)) => {
                let names: Vec<(&str, u32)> = names.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                Store::open_migrating(&path, &names)?
            }
            None => return Err(config_error("node.store", "no store is configured")),
        }
        .with_observer(metrics.clone());
        let mut pipeline = Pipeline::new(
            store.clone(),
            chains.clone(),
            self.relay.clone(),
            metrics.clone(),
        )
        .with_payments(self.payments.clone());
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(crate::time::SystemClock));
        pipeline = pipeline.with_clock(clock.clone());
        let mut joined = None;
        if let Some(p2p) = &self.p2p {
            let j = join_network(p2p, store.clone(), &chains, self.relay.poll_interval_ms).await?;
            pipeline = pipeline.with_coordinator(j.network.clone());
            joined = Some(j);
        }
        if let Some(coordinator) = self.coordinator {
            pipeline = pipeline.with_coordinator(coordinator);
        }
        let api = match self.api {
            Some(settings) => {
                let listener =
                    tokio::net::TcpListener::bind(settings.addr)
                        .await
                        .map_err(|source| RouterError::Listen {
                            addr: settings.addr,
                            source,
                        })?;
                Some((listener, settings))
            }
            None => None,
        };
        Ok(Router {
            store,
            chains,
            metrics,
            pipeline: Arc::new(pipeline),
            network: joined.as_ref().map(|j| j.network.clone()),
            joined,
            api,
            keep_delivered: self.keep_delivered,
            clock,
        })
    }
}

impl Router {
    /// A router whose parts the caller chooses, with `relay` settings.
    pub fn builder(relay: RelayConfig) -> RouterBuilder {
        RouterBuilder {
            relay,
            payments: PaymentsConfig::default(),
            store: None,
            chains: None,
            coordinator: None,
            clock: None,
            p2p: None,
            api: None,
            keep_delivered: None,
        }
    }

    /// The router `config` describes (`xroute run`): its chains, its store, its network, its API.
    pub async fn from_config(config: &Config) -> Result<Self, RouterError> {
        let token = config
            .node
            .api_token()
            .map_err(|e| config_error("node.api_token_file", e))?;
        crate::store::set_cache_bytes(config.node.store_cache_mb << 20);
        Self::builder(config.relay.clone())
            .payments(config.payments.clone())
            .chains_from(&config.chains)
            .store_at(&config.node.store)
            .network(config.p2p.clone())
            .keep_delivered(
                (config.node.keep_delivered_s > 0)
                    .then(|| std::time::Duration::from_secs(config.node.keep_delivered_s)),
            )
            .api(ApiSettings {
                addr: config.node.api,
                token,
                ledger: config.token.as_ref().map(|t| t.ledger),
            })
            .build()
            .await
    }

    /// The store (observed by the metrics).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The chains.
    pub fn chains(&self) -> &Chains {
        &self.chains
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// The router network, when it joined one.
    pub fn network(&self) -> Option<&Arc<Network>> {
        self.network.as_ref()
    }

    /// The HTTP API over this router's parts, as [`Router::run`] serves it (its token and ledger
    /// from the API settings, none without), for a caller that serves it without the rest.
    pub fn api_app(&self) -> axum::Router {
        let settings = self.api.as_ref().map(|(_, s)| s);
        api::router(
            self.pipeline.clone(),
            self.network.clone(),
            settings.and_then(|s| s.token.clone()),
            settings.and_then(|s| s.ledger),
        )
    }

    /// Where the API listens, when it serves one.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Runs every part as a named critical task until `stop` resolves (then the pipeline finishes
    /// its tick and flushes the store, the API closes, the rest stops: `Ok`) or a critical task
    /// ends (then the pipeline gets a moment to finish its tick, everything stops, and the task
    /// is the error).
    pub async fn run(mut self, stop: impl Future<Output = ()>) -> Result<(), RouterError> {
        let mut tasks = Tasks::default();
        let api_addr = self.api_addr();
        if let Some(j) = self.joined.take() {
            let Joined {
                network,
                inbound,
                swarm,
                checkpoints,
                poll_ms,
            } = j;
            tasks.spawn("p2p", async move {
                swarm.await;
                Err("the swarm stopped".to_string())
            });
            if checkpoints {
                tasks.spawn("checkpoints", {
                    let network = network.clone();
                    async move {
                        network
                            .run_checkpoints(std::time::Duration::from_millis(poll_ms))
                            .await;
                        Ok(())
                    }
                });
            }
            tasks.spawn("gossip validation", {
                let network = network.clone();
                async move {
                    network.run_inbound(inbound).await;
                    Err("the p2p layer stopped handing over gossip".to_string())
                }
            });
            tasks.spawn("claims", {
                let network = network.clone();
                async move {
                    network.run_claims().await;
                    Ok(())
                }
            });
            tasks.spawn("heartbeats", {
                let adapters = self.chains.adapters();
                async move {
                    network.run_heartbeats(adapters).await;
                    Ok(())
                }
            });
        }
        let relayer = self
            .chains
            .l1_submitter()
            .map(|s| s.sender().to_string())
            .unwrap_or_default();
        tracing::info!(
            api = ?api_addr,
            %relayer,
            chains = self.chains.adapters().len(),
            "router started"
        );
        if let Some((point, at)) = crate::failpoint::armed() {
            tracing::warn!(
                point,
                at,
                "fail point armed: the router aborts when it reaches it"
            );
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        if let Some(keep) = self.keep_delivered {
            tasks.spawn("prune", {
                let store = self.store.clone();
                let metrics = self.metrics.clone();
                let clock = self.clock.clone();
                let stop = stop_rx.clone();
                async move {
                    prune_delivered(store, metrics, clock, keep, stop).await;
                    Ok(())
                }
            });
        }
        tasks.spawn("pipeline", {
            let pipeline = self.pipeline.clone();
            let stop = stop_rx.clone();
            async move { pipeline.run(stop).await.map_err(|e| e.to_string()) }
        });
        if let Some((listener, settings)) = self.api {
            tasks.spawn("api", {
                let mut stop = stop_rx.clone();
                let app = api::router(
                    self.pipeline.clone(),
                    self.network.clone(),
                    settings.token,
                    settings.ledger,
                );
                async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop.wait_for(|stop| *stop).await;
                        })
                        .await
                        .map_err(|e| e.to_string())
                }
            });
        }
        tokio::select! {
            () = stop => {
                tracing::info!("shutting down: finishing the current tick");
                let _ = stop_tx.send(true);
            }
            exit = tasks.next_exit() => {
                let _ = stop_tx.send(true);
                let exit = exit.ok_or_else(|| config_error("tasks", "no task was running"))?;
                tracing::error!("{exit}; stopping the router");
                drain(&mut tasks).await;
                return Err(exit.into());
            }
        }
        // The pipeline finishes its tick and flushes the store; the API closes; then the rest
        // stops.
        while tasks
            .running()
            .iter()
            .any(|t| *t == "pipeline" || *t == "api")
        {
            let Some(exit) = tasks.next_exit().await else {
                break;
            };
            if exit.ended != Ended::Returned {
                tracing::error!("{exit}");
                drain(&mut tasks).await;
                return Err(exit.into());
            }
        }
        tasks.shutdown().await;
        tracing::info!("router stopped cleanly");
        Ok(())
    }
}

/// After a critical task ended: the pipeline gets a moment to finish its tick (its steps persist
/// before they act, so cutting it is safe), then everything stops.
async fn drain(tasks: &mut Tasks) {
    let wait = async {
        while tasks.running().contains(&"pipeline") {
            if tasks.next_exit().await.is_none() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), wait).await;
    tasks.shutdown().await;
}

/// Starts the p2p node and joins the router network of `[p2p]` (its tasks start with the router).
async fn join_network(
    p2p: &P2pConfig,
    store: Store,
    chains: &Chains,
    poll_ms: u64,
) -> Result<Joined, RouterError> {
    let l1 = chains
        .hub()
        .as_l1()
        .ok_or_else(|| config_error("chains", "the hub chain cannot serve as L1"))?;
    let domain = xroute_proofs::attestation::domain(
        l1.chain_id().await.map_err(PipelineError::from)?,
        l1.hub(),
    );
    let listen = p2p
        .listen
        .parse()
        .map_err(|_| config_error("p2p.listen", format!("{:?} is not a multiaddr", p2p.listen)))?;
    let bootnodes = p2p
        .bootnodes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            b.parse().map_err(|_| {
                config_error(
                    format!("p2p.bootnodes[{i}]"),
                    format!("{b:?} is not a multiaddr"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let members = p2p
        .routers
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let peer = m.peer_id.parse().map_err(|_| {
                config_error(
                    format!("p2p.routers[{i}].peer_id"),
                    format!("{:?} is not a peer id", m.peer_id),
                )
            })?;
            Ok((m.address, peer))
        })
        .collect::<Result<Vec<_>, RouterError>>()?;
    let signer =
        xroute_adapters::keys::secp256k1("p2p.attestation_key_file", &p2p.attestation_key_file)
            .map_err(PipelineError::from)?;
    let key =
        p2p::load_or_create_key(&p2p.key_file).map_err(|e| config_error("p2p.key_file", e))?;
    let (handle, inbound, swarm) = p2p::start(
        key,
        wire::p2p_settings(listen, bootnodes, 64, std::time::Duration::from_millis(500)),
    )
    .map_err(|e| config_error("p2p", e))?;
    let settings = NetworkSettings {
        signer,
        members,
        threshold: p2p.threshold,
        relay_window_ms: p2p.relay_window_ms,
        claim_settle_ms: p2p.claim_settle_ms,
        heartbeat_ms: p2p.heartbeat_ms,
        batch_attestations: p2p.batch_attestations,
    };
    let mut network =
        Network::new(handle, store, settings, domain).map_err(|e| config_error("p2p", e))?;
    if p2p.checkpoints {
        network = network.with_checkpoints(Arc::new(ChainsCheckpoints::new(chains.clone())));
    }
    tracing::info!(attester = %network.me(), "joined the router network");
    Ok(Joined {
        network: Arc::new(network),
        inbound,
        swarm: Box::pin(swarm),
        checkpoints: p2p.checkpoints,
        poll_ms,
    })
}

/// How often the records of delivered messages past `node.keep_delivered_s` are pruned at most
/// (every half of that time when it is shorter), and the most pruned per pass (a backlog is
/// worked off a pass at a time).
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
const PRUNE_PER_PASS: usize = 10_000;

/// Until `stop`: at start and then every [`PRUNE_EVERY`] (or half of `keep`, if shorter), prunes
/// the records of messages delivered longer than `keep` ago. A failed pass is logged and tried
/// again at the next.
async fn prune_delivered(
    store: Store,
    metrics: Arc<Metrics>,
    clock: Arc<dyn crate::time::Clock>,
    keep: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let keep_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
    let every = PRUNE_EVERY.min(keep / 2);
    loop {
        let before = clock.now_ms().saturating_sub(keep_ms);
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.prune_delivered(before, PRUNE_PER_PASS)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                metrics.pruned(n as u64);
                tracing::info!(pruned = n, "pruned the records of delivered messages");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "pruning delivered records failed"),
            Err(e) => tracing::warn!(error = %e, "pruning delivered records stopped"),
        }
        give_back_freed_memory();
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Returns the memory glibc's allocator holds free back to the system (`malloc_trim(0)`): what a
/// pass freed, and what the router's rounds freed since, would otherwise stay in its arenas and
/// count as the process's memory.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only walks the allocator's own arenas under their
    // locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
