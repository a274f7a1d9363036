//! `xroute quote`: suggests payment terms for a message's relay on a route, from the chains'
//! prices now (the L1 base fee, the destination's entry fee), as JSON on stdout; pay with
//! `xroute tank pay` and these terms.

use std::{path::PathBuf, process::ExitCode};

use clap::Args;

use super::{EXIT_FAILED, EXIT_USAGE};

/// `xroute quote` arguments.
#[derive(Args)]
pub(crate) struct QuoteArgs {
    /// Chains, as a router's config.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The source: a chain name of the config, or a domain number.
    #[arg(long, value_name = "CHAIN|DOMAIN")]
    from: String,
    /// The destination: a chain name of the config, or a domain number.
    #[arg(long, value_name = "CHAIN|DOMAIN")]
    to: String,
    /// The recipient on the destination, a 0x-hex word (its entry fee is quoted for it).
    #[arg(long, value_name = "0xWORD")]
    recipient: String,
    /// Payload words, decimal or 0x-hex, comma-separated.
    #[arg(long, value_name = "WORDS", value_delimiter = ',')]
    payload: Vec<String>,
    /// The cap on the L1 base fee, as a multiple of today's.
    #[arg(long, default_value_t = 2)]
    base_fee_factor: u64,
    /// The priority fee on top: wei, or with a unit.
    #[arg(long, default_value = "2gwei", value_name = "AMOUNT")]
    priority_fee: String,
}

pub(crate) fn quote(args: QuoteArgs) -> ExitCode {
    let usage = |msg: String| {
        eprintln!("error: {msg}");
        ExitCode::from(EXIT_USAGE)
    };
    let recipient = match super::parse::word(&args.recipient) {
        Ok(w) => w,
        Err(e) => return usage(format!("--recipient: {e}")),
    };
    let mut payload = Vec::new();
    for (i, w) in args.payload.iter().enumerate() {
        match super::parse::word(w) {
            Ok(v) => payload.push(v),
            Err(e) => return usage(format!("--payload word {i}: {e}")),
        }
    }
    let Some(priority) =
        super::tank::parse_wei(&args.priority_fee).and_then(|v| u128::try_from(v).ok())
    else {
        return usage(format!(
            "--priority-fee: {:?} is not an amount",
            args.priority_fee
        ));
    };
    let (config, runtime) = match super::config_and_runtime(&args.config) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let run = async {
        let src = super::domain_of(&config, &args.from, "--from")?;
        let dst = super::domain_of(&config, &args.to, "--to")?;
        let chains = xroute::pipeline::Chains::connect(&config.chains)
            .await
            .map_err(|e| (EXIT_FAILED, e.to_string()))?;
        let req = xroute::quote::QuoteRequest {
            src,
            dst,
            recipient,
            payload,
            base_fee_factor: args.base_fee_factor,
            priority_fee: priority,
        };
        xroute::quote::quote(&chains, &req)
            .await
            .map_err(|e| (EXIT_FAILED, e.to_string()))
    };
    match runtime.block_on(run) {
        Ok(q) => {
            println!("{}", serde_json::to_string_pretty(&q).unwrap_or_default());
            eprintln!(
                "pay with: xroute tank pay --config {} --chain {} --id <id> --to {} --gas-limit {} --max-base-fee {} --max-priority-fee {} --leg-budget {}",
                args.config.display(),
                args.from,
                args.to,
                q.gas_limit,
                q.max_base_fee,
                q.max_priority_fee,
                q.leg_budget
            );
            ExitCode::SUCCESS
        }
        Err((code, e)) => {
            eprintln!("error: {e}");
            ExitCode::from(code)
        }
    }
}
