//! `xroute token audit --config FILE [--ledger ADDRESS]`: reads the L1 TokenLedger (the config's
//! `[token] ledger` unless `--ledger` names another) and the token's total supply on every
//! configured chain (each chain's adapter reads it: `ChainAdapter::token_supply`), and says
//! whether they add up. An auditor runs it without a router: it only reads, and reads no key.
//!
//! What must hold (TokenLedger.sol): `sum(supply) + queuedTotal == initialSupply` at one L1 block;
//! on L1 the token's `totalSupply == supply[L1]` at that block; on every other chain
//! `totalSupply ≤ supply[chain]`, the difference being in flight (burned there and not yet taken
//! by L1, or taken by L1 and not yet minted there). The rollups are read first and L1 at its head
//! afterwards: a mint a rollup shows was ordered by an L1 transaction already in that L1 block, and
//! a burn L1 counted is on its rollup already, so a reading in between never shows more on a chain
//! than the ledger gives it. (A finalized L1 block read after a rollup's head could miss the L1
//! transaction behind a mint the rollup shows, and report a false excess.) `--settled` also
//! requires nothing in flight.

use std::{path::PathBuf, process::ExitCode};

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
};
use clap::{Args, Subcommand};
use xroute_adapters::{build_reader, transport};
use xroute_config::{ChainConfig, Config};

use super::{EXIT_FAILED, EXIT_USAGE};

alloy::sol! {
    #[sol(rpc)]
    interface ILedgerAudit {
        function token() external view returns (address);
        function localDomain() external view returns (uint32);
        function initialSupply() external view returns (uint256);
        function queuedTotal() external view returns (uint256);
        function supply(uint32 domain) external view returns (uint256);
        function chains(uint32 domain) external view returns (uint8 kind, bytes32 router, bool paused);
    }

    #[sol(rpc)]
    interface ITotalSupply {
        function totalSupply() external view returns (uint256);
    }
}

/// `xroute token`.
#[derive(Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Check the L1 ledger against every chain's totalSupply.
    Audit {
        /// Chains and RPCs, as a router's config (keys are not read).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The TokenLedger on L1 (default: the config's `[token] ledger`).
        #[arg(long, value_name = "ADDRESS")]
        ledger: Option<String>,
        /// Also require that nothing is in flight.
        #[arg(long)]
        settled: bool,
        /// Print one JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Put the token on a chain of a deployment: its router deployed and told the ledger and
    /// every other chain, registered on the ledger, and every other router told the new chain.
    AddChain {
        /// The deployment file (with `[token]` and the chain's block).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// The chain's name in the file.
        #[arg(long, value_name = "NAME")]
        chain: String,
    },
}

/// One chain's figures.
#[derive(Debug, serde::Serialize)]
struct ChainAudit {
    chain: String,
    domain: u32,
    ledger: String,
    total_supply: String,
    in_flight: String,
    ok: bool,
    problem: Option<String>,
}

pub(crate) fn run(args: TokenArgs) -> ExitCode {
    let (config, ledger, settled, json) = match args.command {
        TokenCommand::Audit {
            config,
            ledger,
            settled,
            json,
        } => (config, ledger, settled, json),
        TokenCommand::AddChain { file, chain } => {
            return super::deploy::add_chain(&file, &chain, super::deploy::Only::Token, None);
        }
    };
    let given = match ledger
        .map(|l| l.parse::<Address>().map_err(|_| l))
        .transpose()
    {
        Ok(given) => given,
        Err(l) => {
            eprintln!("error: --ledger: {l:?} is not a 20-byte 0x-hex address");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let (config, runtime) = match super::config_and_runtime(&config) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let Some(ledger) = given.or(config.token.as_ref().map(|t| t.ledger)) else {
        eprintln!(
            "error: --ledger: not given, and the config has no `[token] ledger` to read it from"
        );
        return ExitCode::from(EXIT_USAGE);
    };
    match runtime.block_on(audit(&config, ledger, settled)) {
        Ok((report, ok)) => {
            if json {
                println!("{report:#}");
            } else {
                print_report(&report);
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAILED)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn print_report(r: &serde_json::Value) {
    println!(
        "ledger {} at L1 block {}: initial supply {}, queued {}",
        r["ledger"].as_str().unwrap_or_default(),
        r["l1_block"],
        r["initial_supply"].as_str().unwrap_or_default(),
        r["queued"].as_str().unwrap_or_default()
    );
    for c in r["chains"].as_array().into_iter().flatten() {
        println!(
            "{}  {} ({}): ledger {}, totalSupply {}, in flight {}{}",
            if c["ok"] == true { "ok  " } else { "FAIL" },
            c["chain"].as_str().unwrap_or_default(),
            c["domain"],
            c["ledger"].as_str().unwrap_or_default(),
            c["total_supply"].as_str().unwrap_or_default(),
            c["in_flight"].as_str().unwrap_or_default(),
            c["problem"]
                .as_str()
                .map(|p| format!(": {p}"))
                .unwrap_or_default()
        );
    }
    println!(
        "{}  ledger + queued = {} of {}",
        if r["sum_ok"] == true { "ok  " } else { "FAIL" },
        r["sum"].as_str().unwrap_or_default(),
        r["initial_supply"].as_str().unwrap_or_default()
    );
    println!(
        "{}",
        if r["ok"] == true {
            "the token adds up"
        } else {
            "the token does NOT add up"
        }
    );
}

async fn audit(
    config: &Config,
    ledger: Address,
    settled: bool,
) -> Result<(serde_json::Value, bool), String> {
    let hub = &config
        .hub_chain()
        .ok_or("the config has no hub chain (family = \"ethereum\")")?
        .chain;
    let l1 = transport::evm_provider(&hub.name, hub.rpc.expose(), &hub.transport)
        .map_err(|e| e.to_string())?;
    let book = ILedgerAudit::new(ledger, &l1);
    let local = book
        .localDomain()
        .call()
        .await
        .map_err(|e| format!("--ledger {ledger}: does not answer as a TokenLedger: {e}"))?;
    // The rollups first.
    let mut rollups = Vec::new();
    for chain in &config.chains {
        if chain.domain() == local {
            continue;
        }
        let entry = book
            .chains(chain.domain())
            .call()
            .await
            .map_err(|e| format!("TokenLedger.chains({}): {e}", chain.domain()))?;
        if entry.kind == 0 {
            continue; // the token is not on this chain
        }
        let total = total_supply(chain, entry.router.0).await;
        rollups.push((chain.name().to_string(), chain.domain(), total));
    }
    // Then L1, at its head: every mint the rollups showed is counted there.
    let block = l1.get_block_number().await.map_err(|e| e.to_string())?;
    let at = alloy::eips::BlockId::number(block);
    let initial = book
        .initialSupply()
        .block(at)
        .call()
        .await
        .map_err(|e| e.to_string())?;
    let queued = book
        .queuedTotal()
        .block(at)
        .call()
        .await
        .map_err(|e| e.to_string())?;
    let token = book
        .token()
        .block(at)
        .call()
        .await
        .map_err(|e| e.to_string())?;
    let l1_total = ITotalSupply::new(token, &l1)
        .totalSupply()
        .block(at)
        .call()
        .await
        .map_err(|e| e.to_string())?;
    let supply_at = |domain: u32| {
        let book = &book;
        async move {
            book.supply(domain)
                .block(at)
                .call()
                .await
                .map_err(|e| e.to_string())
        }
    };
    let mut chains = Vec::new();
    let mut sum = queued;
    let l1_supply = supply_at(local).await?;
    sum += l1_supply;
    chains.push(judge(
        &hub.name,
        local,
        l1_supply,
        Ok(l1_total),
        true,
        settled,
    ));
    for (name, domain, total) in rollups {
        let s = supply_at(domain).await?;
        sum += s;
        chains.push(judge(&name, domain, s, total, false, settled));
    }
    let sum_ok = sum == initial;
    let ok = sum_ok && chains.iter().all(|c| c.ok);
    let report = serde_json::json!({
        "ledger": ledger.to_string(),
        "l1_block": block,
        "initial_supply": initial.to_string(),
        "queued": queued.to_string(),
        "sum": sum.to_string(),
        "sum_ok": sum_ok,
        "chains": chains,
        "ok": ok,
    });
    Ok((report, ok))
}

/// One chain's verdict: on L1 the totalSupply equals the ledger; elsewhere it is at most the
/// ledger (the rest in flight), and with `settled` equal.
fn judge(
    name: &str,
    domain: u32,
    ledger: U256,
    total: Result<U256, String>,
    on_l1: bool,
    settled: bool,
) -> ChainAudit {
    let (total, mut problem) = match total {
        Ok(t) => (Some(t), None),
        Err(e) => (None, Some(e)),
    };
    let in_flight = total.map(|t| ledger.checked_sub(t));
    if let Some(t) = total {
        if t > ledger {
            problem = Some(format!(
                "totalSupply {t} exceeds what the ledger says the chain holds ({ledger})"
            ));
        } else if (on_l1 || settled) && t != ledger {
            problem = Some(if on_l1 {
                format!("totalSupply {t} differs from the ledger's {ledger} at the same block")
            } else {
                format!("{} in flight, --settled asks for none", ledger - t)
            });
        }
    }
    ChainAudit {
        chain: name.to_string(),
        domain,
        ledger: ledger.to_string(),
        total_supply: total.map(|t| t.to_string()).unwrap_or_else(|| "?".into()),
        in_flight: in_flight
            .flatten()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "?".into()),
        ok: problem.is_none(),
        problem,
    }
}

/// The token's total supply on `chain` at its latest block; `router` is the token there.
async fn total_supply(chain: &ChainConfig, router: [u8; 32]) -> Result<U256, String> {
    build_reader(chain)
        .map_err(|e| e.to_string())?
        .token_supply(B256::from(router))
        .await
        .map_err(|e| e.to_string())
}
