//! `xroute store backup | restore`: a copy of a router's store, taken while it runs (through its
//! API) or while it is stopped (directly), and put back into an empty store folder.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Subcommand};
use xroute::store::{BackupReport, Store, StoreError};
use xroute_config::Config;

use super::{EXIT_FAILED, EXIT_USAGE};

/// `xroute store` arguments.
#[derive(Args)]
pub(crate) struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy the router's store (`node.store`) into a new folder; while the router runs, through
    /// its API (`POST /store/backup`, with `node.api_token_file`'s token).
    Backup {
        /// The router's TOML config.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Where the copy goes (must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Put a backup into the router's store folder (`node.store`), which must not exist or be
    /// empty; stop the router first.
    Restore {
        /// The router's TOML config.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The backup folder.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
    },
}

pub(crate) fn run(args: StoreArgs) -> ExitCode {
    let (config_path, result) = match args.command {
        StoreCommand::Backup { config, to } => {
            let r = load(&config).and_then(|c| backup(&c, to));
            (config, r)
        }
        StoreCommand::Restore { config, from } => {
            let r = load(&config).and_then(|c| restore(&c, from));
            (config, r)
        }
    };
    match result {
        Ok((how, report)) => {
            println!(
                "{how}: {} messages, {} cursors, {} attestations/batches/certificates",
                report.messages, report.cursors, report.other
            );
            ExitCode::SUCCESS
        }
        Err((code, e)) => {
            eprintln!("error: {e} (config {})", config_path.display());
            ExitCode::from(code)
        }
    }
}

type Outcome = Result<(String, BackupReport), (u8, String)>;

fn load(path: &std::path::Path) -> Result<Config, (u8, String)> {
    Config::load(path).map_err(|e| (EXIT_USAGE, e.to_string()))
}

/// The config's chains, (name, domain): what an earlier release's store is converted with.
fn chain_names(config: &Config) -> Vec<(&str, u32)> {
    config
        .chains
        .iter()
        .map(|c| (c.name(), c.domain()))
        .collect()
}

fn absolute(path: PathBuf) -> Result<PathBuf, (u8, String)> {
    std::path::absolute(&path).map_err(|e| (EXIT_USAGE, format!("{}: {e}", path.display())))
}

fn backup(config: &Config, to: PathBuf) -> Outcome {
    let to = absolute(to)?;
    match Store::open_migrating(&config.node.store, &chain_names(config)) {
        Ok(store) => {
            let report = store
                .backup_to(&to)
                .map_err(|e| (EXIT_FAILED, e.to_string()))?;
            Ok((
                format!("copied the stopped router's store to {}", to.display()),
                report,
            ))
        }
        // The router holds the store: it makes the copy itself.
        Err(StoreError::Open { .. }) => backup_through_api(config, &to),
        Err(e) => Err((EXIT_FAILED, e.to_string())),
    }
}

fn backup_through_api(config: &Config, to: &std::path::Path) -> Outcome {
    let token = config
        .node
        .api_token()
        .map_err(|e| (EXIT_USAGE, format!("node.api_token_file: {e}")))?;
    let url = format!("http://{}/store/backup", config.node.api);
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| (EXIT_FAILED, format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let mut request = reqwest::Client::new()
            .post(&url)
            .json(&serde_json::json!({ "to": to }));
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            (
                EXIT_FAILED,
                format!(
                    "the store at {} is in use and no router answers at {url}: {e}",
                    config.node.store.display()
                ),
            )
        })?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| (EXIT_FAILED, format!("{url}: answer is not JSON: {e}")))?;
        if !status.is_success() {
            let error = body["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_string();
            return Err((EXIT_FAILED, format!("{url}: {error}")));
        }
        let report: BackupReport = serde_json::from_value(body)
            .map_err(|e| (EXIT_FAILED, format!("{url}: unexpected answer: {e}")))?;
        Ok((
            format!("the running router copied its store to {}", to.display()),
            report,
        ))
    })
}

fn restore(config: &Config, from: PathBuf) -> Outcome {
    let from = absolute(from)?;
    if !from.join("db").exists() && !from.join("conf").exists() {
        return Err((
            EXIT_USAGE,
            format!("--from: {} is not a store backup", from.display()),
        ));
    }
    // A backup an earlier release made is converted with the config's chains first.
    let backup = Store::open_migrating(&from, &chain_names(config))
        .map_err(|e| (EXIT_FAILED, e.to_string()))?;
    let report = backup.backup_to(&config.node.store).map_err(|e| match e {
        StoreError::BackupTarget { .. } => (
            EXIT_FAILED,
            format!(
                "node.store {} already holds a store: stop the router and move it away first",
                config.node.store.display()
            ),
        ),
        StoreError::Open { .. } => (
            EXIT_FAILED,
            format!(
                "node.store {} is in use: stop the router first",
                config.node.store.display()
            ),
        ),
        other => (EXIT_FAILED, other.to_string()),
    })?;
    Ok((
        format!(
            "restored {} into {}",
            from.display(),
            config.node.store.display()
        ),
        report,
    ))
}
