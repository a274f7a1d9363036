//! `xroute deploy`: deploys an xroute network from a deployment file (`deploy.toml`) and keeps
//! its record (`deployments/NAME.json`); `xroute deploy status` checks the record against the
//! chains. The work is [`xroute_adapters::deploy::Deployer`]'s; this reads the keys, prints the
//! plan with its costs before sending anything, and prints each step as it goes.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Subcommand};
use xroute_adapters::deploy::{DeployKeys, Deployer, Plan, Record};
use xroute_config::DeployFile;

use super::{EXIT_FAILED, EXIT_USAGE};

/// `xroute deploy` arguments.
#[derive(Args)]
pub(crate) struct DeployArgs {
    /// The deployment file (`deploy.toml`).
    #[arg(long, value_name = "FILE", global = true)]
    file: Option<PathBuf>,
    /// Print the plan and its cost; send nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(subcommand)]
    action: Option<DeployAction>,
}

#[derive(Subcommand)]
enum DeployAction {
    /// The record against the chains: one line per item; exit 1 on drift.
    Status,
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

/// The keys the file names, read from their files (keystores ask the passphrase once).
fn keys(file: &DeployFile) -> Result<DeployKeys, String> {
    use xroute_adapters::keys;
    let l1 = keys::secp256k1("l1.deployer_key_file", &file.l1.deployer_key_file)
        .map_err(|e| e.to_string())?;
    let starknet = file
        .starknet
        .iter()
        .enumerate()
        .map(|(i, s)| {
            keys::felt(
                &format!("starknet[{i}].account_key_file"),
                &s.account_key_file,
            )
            .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let arbitrum = file
        .arbitrum
        .iter()
        .enumerate()
        .map(|(i, a)| {
            keys::secp256k1(
                &format!("arbitrum[{i}].deployer_key_file"),
                &a.deployer_key_file,
            )
            .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DeployKeys {
        l1,
        starknet,
        arbitrum,
    })
}

/// `amount` of `unit` (wei, or fri of STRK) as ETH or STRK with 6 decimals, and exactly.
pub(crate) fn money(amount: alloy::primitives::U256, unit: &str) -> String {
    let coin = if unit == "fri" { "STRK" } else { "ETH" };
    let micro = amount / alloy::primitives::U256::from(1_000_000_000_000u64);
    let whole = micro / alloy::primitives::U256::from(1_000_000u64);
    let frac = micro % alloy::primitives::U256::from(1_000_000u64);
    format!("{whole}.{frac:0>6} {coin} ({amount} {unit})")
}

fn print_plan(plan: &Plan) {
    for entry in &plan.present {
        println!("  ok    {entry}");
    }
    for step in &plan.steps {
        let cost = if step.cost.is_zero() {
            "cost known once the step before it is done".to_string()
        } else {
            format!("about {}", money(step.cost, step.unit))
        };
        println!(
            "  todo  {}: {} ({cost} on {})",
            step.entry, step.action, step.chain
        );
    }
    let mut chains: Vec<(&str, &str)> = Vec::new();
    for s in &plan.steps {
        if !chains.iter().any(|(c, _)| *c == s.chain) {
            chains.push((s.chain.as_str(), s.unit));
        }
    }
    for (chain, unit) in chains {
        let total = plan
            .steps
            .iter()
            .filter(|s| s.chain == chain)
            .fold(alloy::primitives::U256::ZERO, |sum, s| sum + s.cost);
        println!("  estimated on {chain}: {}", money(total, unit));
    }
}

pub(crate) fn deploy(args: DeployArgs) -> ExitCode {
    let Some(path) = args.file else {
        return fail(
            EXIT_USAGE,
            "--file: the deployment file (deploy.toml) is required",
        );
    };
    let file = match DeployFile::load(&path) {
        Ok(f) => f,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let record_path = file.record_path();
    let keys = match keys(&file) {
        Ok(k) => k,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let deployer = match Deployer::connect(file, keys).await {
            Ok(d) => d,
            Err(e) => return fail(EXIT_FAILED, e),
        };
        if matches!(args.action, Some(DeployAction::Status)) {
            let record = match Record::load(&record_path) {
                Ok(r) => r,
                Err(e) => return fail(EXIT_USAGE, e),
            };
            let lines = deployer.status(&record).await;
            for l in &lines {
                println!(
                    "{}  {}: {}",
                    if l.ok { "ok   " } else { "DRIFT" },
                    l.entry,
                    l.detail
                );
            }
            return if lines.iter().all(|l| l.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAILED)
            };
        }
        let name = deployer.file().name.clone();
        let mut record = match Record::load_or_new(&record_path, &name) {
            Ok(r) => r,
            Err(e) => return fail(EXIT_USAGE, e),
        };
        println!("deployment {name} (record {})", record_path.display());
        for (chain, address) in deployer.deployers() {
            println!("  deployer on {chain}: {address}");
        }
        let plan = match deployer.plan(&record).await {
            Ok(p) => p,
            Err(e) => return fail(EXIT_FAILED, e),
        };
        print_plan(&plan);
        if plan.steps.is_empty() {
            println!("nothing to do: every item is deployed as recorded");
            return ExitCode::SUCCESS;
        }
        if args.dry_run {
            println!("dry run: nothing sent");
            return ExitCode::SUCCESS;
        }
        if let Err(e) = deployer.check_funds(&plan).await {
            return fail(EXIT_FAILED, e);
        }
        let total = plan.steps.len();
        let mut n = 0;
        let result = deployer
            .execute(
                &plan,
                &mut record,
                |step| {
                    n += 1;
                    println!("[{n}/{total}] {}", step.action);
                },
                |record| record.save(&record_path),
            )
            .await;
        match result {
            Ok(paid) => {
                for (step, paid) in plan.steps.iter().zip(paid) {
                    println!(
                        "  paid  {}: {} on {}",
                        step.entry,
                        money(paid, step.unit),
                        step.chain
                    );
                }
                println!("done: {total} steps; record {}", record_path.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(
                EXIT_FAILED,
                format!(
                    "{e} (what was done is in {}; run again to go on)",
                    record_path.display()
                ),
            ),
        }
    })
}

/// `xroute appchain` arguments.
#[derive(Args)]
pub(crate) struct AppchainArgs {
    #[command(subcommand)]
    action: AppchainAction,
}

#[derive(Subcommand)]
enum AppchainAction {
    /// Deploy a chain's endpoint and register it on the Hub (the chain's block is in the
    /// deployment file); with --config, the router config gains the chain.
    Add {
        /// The deployment file, with the new chain's `[[starknet]]` or `[[arbitrum]]` block.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// The chain's name in the file.
        #[arg(long, value_name = "NAME")]
        chain: String,
        /// Only this part: `endpoint` (the chain's team: declare and deploy its endpoint) or
        /// `registration` (the Hub's owner: register the recorded endpoint). By default both, and
        /// with `[token]` what `xroute token add-chain` does.
        #[arg(long, value_enum)]
        part: Option<Part>,
        /// A router config to add the chain to (signing with the file's keys for it).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Part {
    Endpoint,
    Registration,
}

/// Which of a chain's steps [`add_chain`] makes.
#[derive(Clone, Copy)]
pub(crate) enum Only {
    /// Everything of the chain, and the token's with `[token]`.
    All,
    /// The chain's endpoint.
    Endpoint,
    /// The Hub's registration.
    Registration,
    /// The token's steps: the chain's router, its registration, every router's destinations.
    Token,
}

pub(crate) fn appchain(args: AppchainArgs) -> ExitCode {
    let AppchainAction::Add {
        file,
        chain,
        part,
        config,
    } = args.action;
    let only = match part {
        None => Only::All,
        Some(Part::Endpoint) => Only::Endpoint,
        Some(Part::Registration) => Only::Registration,
    };
    add_chain(&file, &chain, only, config)
}

/// Makes the steps of chain `chain` of the deployment file at `path` that `only` names, then adds
/// the chain to the router config `config`, if given.
pub(crate) fn add_chain(
    path: &std::path::Path,
    chain: &str,
    only: Only,
    config: Option<PathBuf>,
) -> ExitCode {
    let chain = chain.to_string();
    let file = match DeployFile::load(path) {
        Ok(f) => f,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let prefix = if file.starknet.iter().any(|s| s.name == chain) {
        format!("starknet.{chain}.")
    } else if file.arbitrum.iter().any(|a| a.name == chain) {
        format!("arbitrum.{chain}.")
    } else {
        return fail(
            EXIT_USAGE,
            format!(
                "--chain: {} has no [[starknet]] or [[arbitrum]] block named {chain:?}",
                path.display()
            ),
        );
    };
    let record_path = file.record_path();
    let keys = match keys(&file) {
        Ok(k) => k,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let signers = super::init_deployment::signers_of(&file);
    runtime.block_on(async move {
        let mut record = match Record::load(&record_path) {
            Ok(r) => r,
            Err(e) => {
                return fail(
                    EXIT_USAGE,
                    format!("{e} (deploy the Hub first: xroute deploy)"),
                );
            }
        };
        let deployer = match Deployer::connect(file, keys).await {
            Ok(d) => d,
            Err(e) => return fail(EXIT_FAILED, e),
        };
        let mut plan = match deployer.plan(&record).await {
            Ok(p) => p,
            Err(e) => return fail(EXIT_FAILED, e),
        };
        // The chain's own steps, and with `[token]` its token router, its registration on the
        // ledger and every router's destinations (the others learn the new chain).
        let token_prefix = format!("token.{prefix}");
        let is_token = |entry: &str| {
            entry.starts_with(&token_prefix)
                || (entry.starts_with("token.") && entry.ends_with(".destinations"))
        };
        plan.steps.retain(|s| match only {
            Only::All => s.entry.starts_with(&prefix) || is_token(&s.entry),
            Only::Endpoint => s.entry.starts_with(&prefix) && !s.entry.ends_with(".registered"),
            Only::Registration => s.entry.starts_with(&prefix) && s.entry.ends_with(".registered"),
            Only::Token => is_token(&s.entry),
        });
        plan.present
            .retain(|e| e.starts_with(&prefix) || e.starts_with(&token_prefix));
        print_plan(&plan);
        if !plan.steps.is_empty() {
            if let Err(e) = deployer.check_funds(&plan).await {
                return fail(EXIT_FAILED, e);
            }
            let result = deployer
                .execute(
                    &plan,
                    &mut record,
                    |step| println!("{}", step.action),
                    |record| record.save(&record_path),
                )
                .await;
            if let Err(e) = result {
                return fail(EXIT_FAILED, e);
            }
        }
        let Some(config) = config else {
            println!("{chain}: done; record {}", record_path.display());
            return ExitCode::SUCCESS;
        };
        match add_to_config(&config, &record, &signers, &chain) {
            Ok(true) => println!("{chain}: added to {}", config.display()),
            Ok(false) => println!("{chain}: {} has it already", config.display()),
            Err(e) => return fail(EXIT_FAILED, e),
        }
        ExitCode::SUCCESS
    })
}

/// Appends `chain`'s `[[chains]]` block to the router config at `path` unless it has the chain;
/// a config that does not load with it is put back as it was.
fn add_to_config(
    path: &std::path::Path,
    record: &Record,
    signers: &super::init_deployment::Signers,
    chain: &str,
) -> Result<bool, String> {
    let before = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = xroute_config::Config::load(path).map_err(|e| e.to_string())?;
    if config.chains.iter().any(|c| c.name() == chain) {
        return Ok(false);
    }
    let block = super::init_deployment::chain_blocks(record, signers, Some(chain))?;
    std::fs::write(path, format!("{before}\n{block}"))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if let Err(e) = xroute_config::Config::load(path) {
        let _ = std::fs::write(path, before);
        return Err(format!("{e} (the config is as it was)"));
    }
    Ok(true)
}
