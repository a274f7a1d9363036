//! `xroute send`: sends a message from a source chain's xroute contract (the Hub on L1, an
//! endpoint on a rollup) with the key the config names for that chain (a keystore or a plain
//! key file), waits until it is mined and prints the message id. Relay it with `xroute relay
//! <id> --from CHAIN` (or let a router do it).

use std::{path::PathBuf, process::ExitCode};

use alloy::primitives::{B256, U256};
use clap::Args;

use super::{EXIT_FAILED, EXIT_USAGE};

/// `xroute send` arguments.
#[derive(Args)]
pub(crate) struct SendArgs {
    /// Chains and keys, as a router's config.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The chain to send from (a chain name of the config).
    #[arg(long, value_name = "CHAIN")]
    from: String,
    /// The destination: a chain name of the config, or a domain number.
    #[arg(long, value_name = "CHAIN|DOMAIN")]
    to: String,
    /// The recipient as a 0x-hex word of at most 32 bytes (an EVM address, a Starknet felt).
    #[arg(long, value_name = "0xWORD")]
    recipient: String,
    /// Payload words, decimal or 0x-hex, comma-separated or the flag repeated.
    #[arg(long, value_name = "WORDS", value_delimiter = ',')]
    payload: Vec<String>,
    /// Wei sent along toward the destination's fee (a message from L1 to a rollup).
    #[arg(long, default_value = "0", value_name = "WEI")]
    value: String,
    /// Give up waiting for the transaction after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

fn word(s: &str) -> Option<U256> {
    match s.strip_prefix("0x") {
        Some(hex) if !hex.is_empty() && hex.len() <= 64 => U256::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None => U256::from_str_radix(s, 10).ok(),
    }
}

pub(crate) fn send(args: SendArgs) -> ExitCode {
    let usage = |msg: String| {
        eprintln!("error: {msg}");
        ExitCode::from(EXIT_USAGE)
    };
    let Some(recipient) = args
        .recipient
        .strip_prefix("0x")
        .filter(|h| !h.is_empty() && h.len() <= 64)
        .and_then(|h| U256::from_str_radix(h, 16).ok())
        .map(|w| B256::from(w.to_be_bytes::<32>()))
    else {
        return usage(format!(
            "--recipient: {:?} is not a 0x-hex word of at most 32 bytes",
            args.recipient
        ));
    };
    let mut payload = Vec::with_capacity(args.payload.len());
    for (i, w) in args.payload.iter().enumerate() {
        match word(w.trim()) {
            Some(v) => payload.push(v),
            None => {
                return usage(format!(
                    "--payload word {i}: {w:?} is not a decimal or 0x-hex 256-bit word"
                ));
            }
        }
    }
    let Some(value) = word(&args.value) else {
        return usage(format!("--value: {:?} is not an amount of wei", args.value));
    };
    let (config, runtime) = match super::config_and_runtime(&args.config) {
        Ok(both) => both,
        Err(code) => return code,
    };
    match runtime.block_on(run(&config, &args, recipient, &payload, value)) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            eprintln!("error: {e}");
            ExitCode::from(code)
        }
    }
}

async fn run(
    config: &xroute_config::Config,
    args: &SendArgs,
    recipient: B256,
    payload: &[U256],
    value: U256,
) -> Result<(), (u8, String)> {
    let dst = super::domain_of(config, &args.to, "--to")?;
    send_words(
        config,
        &args.from,
        dst,
        recipient,
        payload,
        value,
        args.timeout,
    )
    .await
}

/// Sends `payload` to `recipient` on `dst` from chain `from` of `config` with its key, waits up
/// to `timeout` seconds until it is mined, and prints the message ids (what `xroute send` and
/// `xroute account call` do).
pub(crate) async fn send_words(
    config: &xroute_config::Config,
    from: &str,
    dst: u32,
    recipient: B256,
    payload: &[U256],
    value: U256,
    timeout: u64,
) -> Result<(), (u8, String)> {
    let failed = |e: String| (EXIT_FAILED, e);
    let (_chains, src) = super::connect_from(config, from, "--from").await?;
    let call = src
        .send_call(dst, recipient, payload, value)
        .map_err(|e| (EXIT_USAGE, e.to_string()))?;
    let submitter = src
        .submitter()
        .ok_or_else(|| failed(format!("{from}: no key to send with")))?;
    let (tx, mined) = super::submit_and_wait(submitter, &call, from, timeout).await?;
    let sent = src
        .sent_messages(mined.block_number, mined.block_number)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let ids: Vec<_> = sent
        .iter()
        .filter(|m| m.tx_hash == tx.hash.0)
        .map(|m| m.envelope.id())
        .collect();
    if ids.is_empty() {
        return Err(failed(format!(
            "tx {} (block {}) emitted no MessageSent",
            tx.hash, mined.block_number
        )));
    }
    for id in ids {
        println!("{id}");
    }
    eprintln!(
        "in block {} of {from}; relay it with `xroute relay <id> --from {from} --config FILE`",
        mined.block_number
    );
    Ok(())
}
