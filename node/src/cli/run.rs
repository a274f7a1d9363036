//! `xroute run --config FILE`: the router. Indexes, proves, relays; serves the HTTP API; on
//! Ctrl-C (or SIGTERM) finishes the tick in progress, flushes the store and exits 0.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use clap::Args;
use tokio::sync::watch;
use xroute::{
    api,
    pipeline::{Chains, Pipeline},
    store::Store,
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
}

pub(crate) fn run(args: RunArgs) -> ExitCode {
    init_tracing();
    let mut config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(api) = args.api {
        config.node.api = api;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("router stopped: {e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Logs to stderr; `RUST_LOG` filters (default: info for xroute, error for gossipsub, warn for
/// the rest).
pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // gossipsub logs a multi-kilobyte warning per message and peer when a send queue is
        // full (gigabytes in a burst, and the logging then costs more than the gossip).
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,xroute=info,libp2p_gossipsub=error")
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn serve(config: Config) -> eyre::Result<()> {
    use eyre::WrapErr;
    let store = Store::open(&config.node.store)
        .wrap_err_with(|| format!("opening the store at {}", config.node.store.display()))?;
    let chains = Chains::connect(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.node.api)
        .await
        .wrap_err_with(|| format!("cannot listen on {} (node.api)", config.node.api))?;
    let mut pipeline = Pipeline::new(store.clone(), chains, config.relay.clone());
    let mut network_tasks = None;
    if let Some(p2p) = &config.p2p {
        let chain_id = pipeline.chains().hub.submitter.chain_id();
        let hub = pipeline.chains().hub.adapter.hub();
        let (network, inbound) = join_network(p2p, store, chain_id, hub)?;
        pipeline = pipeline.with_network(network.clone(), p2p.batch_attestations);
        network_tasks = Some((network, inbound));
    }
    let pipeline = Arc::new(pipeline);
    if let Some((network, inbound)) = network_tasks {
        tokio::spawn(network.clone().run_inbound(inbound));
        tokio::spawn(network.run_heartbeats(pipeline.clone()));
    }
    tracing::info!(
        api = %config.node.api,
        store = %config.node.store.display(),
        relayer = %pipeline.chains().hub.submitter.address(),
        chains = pipeline.chains().adapters().len(),
        "router started"
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut pipeline_task = tokio::spawn(pipeline.clone().run(stop_rx.clone()));
    let mut api_stop = stop_rx.clone();
    let mut api_task = tokio::spawn(async move {
        axum::serve(listener, api::router(pipeline))
            .with_graceful_shutdown(async move {
                let _ = api_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    let signal = shutdown_signal();
    tokio::select! {
        () = signal => {
            tracing::info!("shutting down: finishing the current tick");
            let _ = stop_tx.send(true);
        }
        done = &mut pipeline_task => {
            let _ = stop_tx.send(true);
            let _ = (&mut api_task).await;
            return match done {
                Ok(Ok(())) => Err(eyre::eyre!("the pipeline stopped on its own")),
                Ok(Err(e)) => Err(e).wrap_err("the pipeline failed"),
                Err(e) => Err(eyre::eyre!("the pipeline task died: {e}")),
            };
        }
        done = &mut api_task => {
            let _ = stop_tx.send(true);
            let _ = (&mut pipeline_task).await;
            return Err(eyre::eyre!("the HTTP API stopped: {done:?}"));
        }
    }
    pipeline_task
        .await
        .map_err(|e| eyre::eyre!("the pipeline task died: {e}"))??;
    api_task
        .await
        .map_err(|e| eyre::eyre!("the API task died: {e}"))??;
    tracing::info!("router stopped cleanly");
    Ok(())
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

/// Starts the p2p node and joins the router network of `[p2p]`.
fn join_network(
    p2p: &xroute_config::P2pConfig,
    store: Store,
    chain_id: u64,
    hub: alloy::primitives::Address,
) -> eyre::Result<(
    Arc<xroute::network::Network>,
    tokio::sync::mpsc::Receiver<xroute::p2p::Inbound>,
)> {
    use eyre::WrapErr;
    use xroute::{network::*, p2p};
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
    let text = std::fs::read_to_string(&p2p.attestation_key_file)
        .wrap_err_with(|| format!("reading {}", p2p.attestation_key_file.display()))?;
    let signer = text.trim().parse().map_err(|_| {
        eyre::eyre!(
            "p2p.attestation_key_file: {} does not hold a 0x-hex secp256k1 key",
            p2p.attestation_key_file.display()
        )
    })?;
    let key = p2p::load_or_create_key(&p2p.key_file)?;
    let (handle, inbound) = p2p::spawn(
        key,
        p2p::P2pSettings {
            listen,
            bootnodes,
            max_connections: 64,
            heartbeat: std::time::Duration::from_millis(500),
            max_frame: p2p::default_max_frame(),
        },
    )?;
    let settings = NetworkSettings {
        signer,
        members,
        threshold: p2p.threshold,
        relay_window_ms: p2p.relay_window_ms,
        claim_settle_ms: p2p.claim_settle_ms,
        heartbeat_ms: p2p.heartbeat_ms,
    };
    let domain = xroute_proofs::attestation::domain(chain_id, hub);
    let network =
        Network::new(handle, store, settings, domain).map_err(|e| eyre::eyre!("p2p: {e}"))?;
    tracing::info!(attester = %network.me(), "joined the router network");
    Ok((Arc::new(network), inbound))
}
