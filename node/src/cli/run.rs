//! `xroute run --config FILE`: the router. Indexes, proves, relays; serves the HTTP API; on
//! Ctrl-C (or SIGTERM) finishes the tick in progress, flushes the store and exits 0.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::Args;
use xroute::router::Router;
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
    Router::from_config(&config)
        .await?
        .run(shutdown_signal())
        .await?;
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
