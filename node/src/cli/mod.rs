//! The command line: argument parsing with one-line errors, and dispatch.

mod account;
mod check;
mod client;
mod deploy;
mod init_deployment;
mod keys;
mod parse;
mod proofs;
mod quote;
mod relay;
mod run;
mod send;
mod store;
mod tank;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand, error::ContextKind, error::ErrorKind};

/// Exit code for bad input (a missing flag, bad hex, a wrong length, a felt ≥ the prime).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code for valid input whose check failed (a proof that does not verify).
pub(crate) const EXIT_FAILED: u8 = 1;

/// xroute: a cross-rollup messaging router with Ethereum as the hub.
#[derive(Parser)]
#[command(name = "xroute", version, about, propagate_version = true)]
struct Cli {
    /// A file whose first line is the passphrase of the router's encrypted keystores (else
    /// XROUTE_KEYSTORE_PASSWORD_FILE, XROUTE_KEYSTORE_PASSWORD, or a prompt on a terminal).
    #[arg(long, global = true, value_name = "FILE")]
    password_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a commented config for a network and create the router's keys in encrypted keystores.
    Init(keys::InitArgs),
    /// The router's keys: list a config's keys, create, import (encrypt) a plain key, show one.
    Keys(keys::KeysArgs),
    /// Run the router: index, prove, relay, serve the HTTP API (Ctrl-C drains and flushes).
    Run(run::RunArgs),
    /// Check a config against the chains: nodes, chain ids, contracts, keys, relayer funds.
    Check(check::CheckArgs),
    /// Show one message of a running router.
    Status(client::StatusArgs),
    /// List a running router's messages.
    Messages(client::MessagesArgs),
    /// Send a message from a chain's xroute contract with the config's key for it; prints its id.
    Send(send::SendArgs),
    /// Relay your own message hop by hop from your own keys, without a router (the escape hatch).
    Relay(relay::RelayArgs),
    /// Start a parked message over.
    Retry(client::RetryArgs),
    /// Drop a parked message for good, with a reason.
    Drop(client::DropArgs),
    /// List a running router's network: the router set, heartbeats, p2p peers.
    Peers(client::PeersArgs),
    /// Back up a router's store (running or stopped), or restore a backup.
    Store(store::StoreArgs),
    /// A chain's gas tank: deposit, withdraw, balance, pay for a message, top up, claim.
    Tank(tank::TankArgs),
    /// Suggest payment terms for a message's relay on a route, from the chains' prices now.
    Quote(quote::QuoteArgs),
    /// The canonical token: `xroute token audit` checks the L1 ledger against every chain.
    Token(token::TokenArgs),
    /// Deploy an xroute network from a deployment file (the Hub, the endpoints, their
    /// registrations) and keep its record; `deploy status` checks the record against the chains.
    Deploy(deploy::DeployArgs),
    /// A chain joins a deployed network: `appchain add` deploys its endpoint and registers it.
    Appchain(deploy::AppchainArgs),
    /// Create a libp2p node key file (if missing) and print its peer id.
    P2pKey(P2pKeyArgs),
    /// Interchain accounts: `account address` computes an owner's account on L1.
    Account(account::AccountArgs),
    /// Compute protocol hashes and check proofs; prints the result alone on stdout as 0x-hex.
    Proofs(Box<proofs::ProofsArgs>),
}

/// The domain `s` names (a chain name of `config`, or a domain number), or an error naming `flag`.
pub(crate) fn domain_of(
    config: &xroute_config::Config,
    s: &str,
    flag: &str,
) -> Result<u32, (u8, String)> {
    if let Ok(d) = s.parse::<u32>() {
        return Ok(d);
    }
    config
        .chains
        .iter()
        .find(|c| c.name() == s)
        .map(|c| c.domain())
        .ok_or_else(|| {
            let names: Vec<&str> = config.chains.iter().map(|c| c.name()).collect();
            (
                EXIT_USAGE,
                format!(
                    "{flag}: {s:?} is neither a domain number nor a chain of the config ({})",
                    names.join(", ")
                ),
            )
        })
}

/// Sends `call` on chain `chain` from `submitter` (estimated, signed, broadcast) and waits up to
/// `timeout` seconds until it is mined successfully; the transaction and its receipt, or the
/// error and its exit code.
pub(crate) async fn submit_and_wait(
    submitter: &dyn xroute_adapters::Submitter,
    call: &xroute_adapters::Call,
    chain: &str,
    timeout: u64,
) -> Result<(xroute_adapters::SignedTx, xroute_adapters::Mined), (u8, String)> {
    use xroute_adapters::{Estimate, Revert};
    let failed = |e: String| (EXIT_FAILED, e);
    let fees = match submitter
        .estimate(call)
        .await
        .map_err(|e| failed(e.to_string()))?
    {
        Estimate::Ok(fees) => fees,
        Estimate::Reverts(
            Revert::AlreadyDone(why) | Revert::Permanent(why) | Revert::Transient(why),
        ) => {
            return Err(failed(format!(
                "the transaction on {chain} would revert: {why}"
            )));
        }
    };
    let tx = {
        let mut lease = submitter.lease().await;
        let tx = lease
            .sign(call, fees)
            .await
            .map_err(|e| failed(e.to_string()))?;
        lease
            .broadcast(&tx)
            .await
            .map_err(|e| failed(e.to_string()))?;
        tx
    };
    eprintln!("sent tx {} on {chain} (nonce {})", tx.hash, tx.nonce);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout);
    let mined = loop {
        if let Some(mined) = submitter
            .receipt(tx.hash)
            .await
            .map_err(|e| failed(e.to_string()))?
        {
            break mined;
        }
        if std::time::Instant::now() > deadline {
            return Err(failed(format!(
                "tx {} not mined after {timeout} s",
                tx.hash
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    if !mined.success {
        return Err(failed(format!(
            "tx {} reverted in block {}",
            tx.hash, mined.block_number
        )));
    }
    Ok((tx, mined))
}

/// The config at `path`, or its error printed as one line and the usage exit code.
pub(crate) fn load_config(path: &std::path::Path) -> Result<xroute_config::Config, ExitCode> {
    xroute_config::Config::load(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// The config at `path` and a runtime to run the command's work on, or the error printed.
pub(crate) fn config_and_runtime(
    path: &std::path::Path,
) -> Result<(xroute_config::Config, tokio::runtime::Runtime), ExitCode> {
    Ok((load_config(path)?, runtime()?))
}

/// Connects to the chains of `config` and picks the one named `name` (the argument `flag`): a
/// name the config does not have is a usage error listing the names it has.
pub(crate) async fn connect_from(
    config: &xroute_config::Config,
    name: &str,
    flag: &str,
) -> Result<
    (
        xroute::pipeline::Chains,
        std::sync::Arc<dyn xroute_adapters::ChainAdapter>,
    ),
    (u8, String),
> {
    use xroute_adapters::ChainAdapterExt;
    let names: Vec<&str> = config.chains.iter().map(|c| c.name()).collect();
    if !names.contains(&name) {
        return Err((
            EXIT_USAGE,
            format!(
                "{flag}: no chain named {name:?} in the config (its chains: {})",
                names.join(", ")
            ),
        ));
    }
    let chains = xroute::pipeline::Chains::connect(&config.chains)
        .await
        .map_err(|e| (EXIT_FAILED, e.to_string()))?;
    let src = chains
        .adapters()
        .into_iter()
        .find(|a| a.name() == name)
        .ok_or_else(|| (EXIT_FAILED, format!("chain {name} did not connect")))?;
    Ok((chains, src))
}

/// A tokio runtime for a command, or why not printed and the failure exit code.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        ExitCode::from(EXIT_FAILED)
    })
}

/// Parses arguments and runs the command.
pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    if let Some(path) = &cli.password_file {
        match xroute_adapters::keys::read_passphrase_file(path) {
            Ok(p) => xroute_adapters::keys::set_passphrase(p),
            Err(e) => {
                eprintln!(
                    "error: --password-file {}: cannot read it: {e}",
                    path.display()
                );
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    match cli.command {
        Command::Init(args) => match args.deployment() {
            Some((dir, record, keys_of, api)) => init_deployment::init(dir, record, keys_of, api),
            None => keys::init(args),
        },
        Command::Keys(args) => keys::run(args),
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::check(args),
        Command::Status(args) => client::status(args),
        Command::Messages(args) => client::messages(args),
        Command::Retry(args) => client::retry(args),
        Command::Relay(args) => relay::relay(args),
        Command::Send(args) => send::send(args),
        Command::Drop(args) => client::drop(args),
        Command::Peers(args) => client::peers(args),
        Command::P2pKey(args) => p2p_key(args),
        Command::Store(args) => store::run(args),
        Command::Token(args) => token::run(args),
        Command::Deploy(args) => deploy::deploy(args),
        Command::Appchain(args) => deploy::appchain(args),
        Command::Tank(args) => tank::tank(args),
        Command::Quote(args) => quote::quote(args),
        Command::Proofs(args) => proofs::run(*args),
        Command::Account(args) => account::run(args),
    }
}

/// Prints a clap error as one line naming the argument, or help/version as clap renders them.
fn usage_error(err: &clap::Error) -> ExitCode {
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            return if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = match err.get(ContextKind::InvalidArg) {
                Some(clap::error::ContextValue::Strings(args)) => args
                    .iter()
                    .map(|a| a.split_whitespace().next().unwrap_or(a).to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                Some(other) => other.to_string(),
                None => "an argument".to_string(),
            };
            eprintln!("error: missing required argument {missing}");
        }
        _ => {
            let rendered = err.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("error: invalid arguments");
            eprintln!("{}", first.trim_end());
        }
    }
    ExitCode::from(EXIT_USAGE)
}

/// `xroute p2p-key` arguments.
#[derive(clap::Args)]
struct P2pKeyArgs {
    /// The key file (created with mode 0600 if missing; an existing one is only read).
    #[arg(long, value_name = "FILE")]
    file: std::path::PathBuf,
}

fn p2p_key(args: P2pKeyArgs) -> ExitCode {
    match xroute::p2p::load_or_create_key(&args.file) {
        Ok(key) => {
            println!("{}", key.public().to_peer_id());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
