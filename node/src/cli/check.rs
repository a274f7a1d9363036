//! `xroute check --config FILE`: connects to every configured chain and says, one line per chain,
//! whether the router could run on it: the node answers, with the configured chain id; the
//! contracts are deployed where the config says; the keys load; the relayer holds enough for
//! `--relays` relays at today's gas price. Exit 1 on any problem; each problem names the field.
//! What is checked on a chain is its adapter's answer (`ChainAdapter::check`), so this command
//! names no chain family.

use std::{path::PathBuf, process::ExitCode};

use clap::Args;
use xroute_adapters::build_reader;
use xroute_config::Config;

use super::EXIT_FAILED;

/// `xroute check` arguments.
#[derive(Args)]
pub(crate) struct CheckArgs {
    /// The router's TOML config.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// How many relays (on L1; redeems on an Arbitrum chain) the relayer must be able to pay for.
    #[arg(long, default_value_t = 10)]
    relays: u64,
}

/// One chain's verdict: `Ok(what was found)` or `Err(field, problem)`.
type Verdict = Result<String, (String, String)>;

pub(crate) fn check(args: CheckArgs) -> ExitCode {
    let (config, runtime) = match super::config_and_runtime(&args.config) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let verdicts = runtime.block_on(check_all(&config, args.relays));
    let mut failed = false;
    for (name, verdict) in verdicts {
        match verdict {
            Ok(found) => println!("ok    {name}: {found}"),
            Err((field, problem)) => {
                failed = true;
                println!("FAIL  {name}: {field}: {problem}");
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

async fn check_all(config: &Config, relays: u64) -> Vec<(String, Verdict)> {
    let l1 = config
        .chains
        .iter()
        .find(|c| c.is_hub())
        .and_then(|hub| build_reader(hub).ok());
    let l1 = l1.as_ref().and_then(|hub| hub.as_l1());
    let mut out = Vec::with_capacity(config.chains.len());
    for (i, chain) in config.chains.iter().enumerate() {
        let field = |f: &str| format!("chains[{i}].{f}");
        let verdict = match build_reader(chain) {
            Ok(adapter) => adapter
                .check(l1, relays)
                .await
                .map_err(|p| (field(&p.field), p.problem)),
            Err(e) => Err((field("rpc"), e.to_string())),
        };
        out.push((chain.name().to_string(), verdict));
    }
    out
}
