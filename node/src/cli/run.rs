//! `xroute run --config FILE`: the router. Indexes, proves, relays; serves the HTTP API; on
//! Ctrl-C (or SIGTERM) finishes the tick in progress, flushes the store and exits 0.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use clap::Args;
use tokio::sync::watch;
use xroute::{
    api,
    network::{ChainsCheckpoints, Network},
    p2p::Inbound,
    pipeline::{Chains, Pipeline},
    store::Store,
    tasks::{Ended, Tasks},
};
use xroute_config::Config;

use super::{EXIT_FAILED, EXIT_USAGE};

/// `xroute run` arguments.
#[derive(Args)]
pub(crate) struct RunArgs {
    /// The router's TOML config (see config/examples/local.toml).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Listen address of the HTTP API (overrides `node.api`).
    #[arg(long, value_name = "ADDR")]
    api: Option<SocketAddr>,
    /// Log lines as text (for people) or as one JSON object per line (for log shippers).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "XROUTE_LOG_FORMAT")]
    log_format: LogFormat,
}

/// How `xroute run` writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (timestamp, level, target, message and fields).
    Json,
}

pub(crate) fn run(args: RunArgs) -> ExitCode {
    init_tracing(args.log_format);
    let mut config = match super::load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(api) = args.api {
        if !api.ip().is_loopback() && config.node.api_token_file.is_none() {
            eprintln!(
                "error: --api {api}: an API beyond loopback needs node.api_token_file (the token \
                 its write routes require)"
            );
            return ExitCode::from(EXIT_USAGE);
        }
        config.node.api = api;
    }
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with the cause (a task that ended was also logged where it ended).
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Logs to stderr; `RUST_LOG` filters (default: info for xroute, error for gossipsub, warn for
/// the rest).
pub(crate) fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // gossipsub logs a multi-kilobyte warning per message and peer when a send queue is
        // full (gigabytes in a burst, and the logging then costs more than the gossip).
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,xroute=info,libp2p_gossipsub=error")
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn serve(config: Config) -> eyre::Result<()> {
    use eyre::WrapErr;
    let store = Store::open(&config.node.store)
        .wrap_err_with(|| format!("opening the store at {}", config.node.store.display()))?;
    let chains = Chains::connect(&config).await?;
    let api_token = config
        .node
        .api_token()
        .map_err(|e| eyre::eyre!("node.api_token_file: {e}"))?;
    let listener = tokio::net::TcpListener::bind(config.node.api)
        .await
        .wrap_err_with(|| format!("cannot listen on {} (node.api)", config.node.api))?;
    let mut tasks = Tasks::default();
    let mut pipeline = Pipeline::new(store.clone(), chains.clone(), config.relay.clone());
    let mut network = None;
    if let Some(p2p) = &config.p2p {
        let l1 = chains
            .hub()
            .as_l1()
            .ok_or_else(|| eyre::eyre!("the hub chain cannot serve as L1"))?;
        let domain = xroute_proofs::attestation::domain(l1.chain_id().await?, l1.hub());
        let (joined, inbound) = join_network(p2p, store, &chains, domain, &mut tasks)?;
        if p2p.checkpoints {
            tasks.spawn("checkpoints", {
                let network = joined.clone();
                let period = std::time::Duration::from_millis(config.relay.poll_interval_ms);
                async move {
                    network.run_checkpoints(period).await;
                    Ok(())
                }
            });
        }
        pipeline = pipeline.with_coordinator(joined.clone());
        tasks.spawn("gossip validation", {
            let network = joined.clone();
            async move {
                network.run_inbound(inbound).await;
                Err("the p2p layer stopped handing over gossip".to_string())
            }
        });
        tasks.spawn("claims", {
            let network = joined.clone();
            async move {
                network.run_claims().await;
                Ok(())
            }
        });
        tasks.spawn("heartbeats", {
            let network = joined.clone();
            let adapters = chains.adapters();
            async move {
                network.run_heartbeats(adapters).await;
                Ok(())
            }
        });
        network = Some(joined);
    }
    let pipeline = Arc::new(pipeline);
    tracing::info!(
        api = %config.node.api,
        store = %config.node.store.display(),
        relayer = %chains.l1_submitter()?.sender(),
        chains = chains.adapters().len(),
        "router started"
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    tasks.spawn("pipeline", {
        let pipeline = pipeline.clone();
        let stop = stop_rx.clone();
        async move { pipeline.run(stop).await.map_err(|e| e.to_string()) }
    });
    tasks.spawn("api", {
        let mut stop = stop_rx.clone();
        let app = api::router(
            pipeline.clone(),
            network.clone(),
            api_token.clone(),
            config.token.as_ref().map(|t| t.ledger),
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
    tokio::select! {
        () = shutdown_signal() => {
            tracing::info!("shutting down: finishing the current tick");
            let _ = stop_tx.send(true);
        }
        exit = tasks.next_exit() => {
            let _ = stop_tx.send(true);
            let exit = exit.ok_or_else(|| eyre::eyre!("no task was running"))?;
            tracing::error!("{exit}; stopping the router");
            drain(&mut tasks).await;
            return Err(exit.into());
        }
    }
    // The pipeline finishes its tick and flushes the store; the API closes; then the rest stops.
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

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Starts the p2p node (its swarm as the critical task `p2p`) and joins the router network of
/// `[p2p]`.
fn join_network(
    p2p: &xroute_config::P2pConfig,
    store: Store,
    chains: &Chains,
    domain: alloy::dyn_abi::Eip712Domain,
    tasks: &mut Tasks,
) -> eyre::Result<(Arc<Network>, tokio::sync::mpsc::Receiver<Inbound>)> {
    use eyre::WrapErr;
    use xroute::{network::NetworkSettings, p2p};
    let listen = p2p
        .listen
        .parse()
        .wrap_err_with(|| format!("p2p.listen: {:?} is not a multiaddr", p2p.listen))?;
    let bootnodes = p2p
        .bootnodes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            b.parse()
                .wrap_err_with(|| format!("p2p.bootnodes[{i}]: {b:?} is not a multiaddr"))
        })
        .collect::<eyre::Result<Vec<_>>>()?;
    let members = p2p
        .routers
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let peer = m.peer_id.parse().wrap_err_with(|| {
                format!("p2p.routers[{i}].peer_id: {:?} is not a peer id", m.peer_id)
            })?;
            Ok((m.address, peer))
        })
        .collect::<eyre::Result<Vec<_>>>()?;
    let signer =
        xroute_adapters::keys::secp256k1("p2p.attestation_key_file", &p2p.attestation_key_file)?;
    let key = p2p::load_or_create_key(&p2p.key_file)?;
    let (handle, inbound, swarm) = p2p::start(
        key,
        p2p::P2pSettings {
            listen,
            bootnodes,
            max_connections: 64,
            heartbeat: std::time::Duration::from_millis(500),
            max_frame: p2p::default_max_frame(),
        },
    )?;
    tasks.spawn("p2p", async move {
        swarm.await;
        Err("the swarm stopped".to_string())
    });
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
        Network::new(handle, store, settings, domain).map_err(|e| eyre::eyre!("p2p: {e}"))?;
    if p2p.checkpoints {
        network = network.with_checkpoints(Arc::new(ChainsCheckpoints::new(chains.clone())));
    }
    tracing::info!(attester = %network.me(), "joined the router network");
    Ok((Arc::new(network), inbound))
}
