//! `xroute account`: interchain accounts (issue 31, docs/accounts.md).

use std::{path::PathBuf, process::ExitCode};

use alloy_primitives::{Address, B256, U256};
use clap::{Args, Subcommand};
use xroute_adapters::transport;

use super::{EXIT_FAILED, EXIT_USAGE, parse};

#[derive(Args)]
pub(crate) struct AccountArgs {
    #[command(subcommand)]
    command: AccountCommand,
}

#[derive(Subcommand)]
enum AccountCommand {
    /// The address of an owner's account on L1, made or not yet; printed alone as 0x-hex.
    Address {
        /// The owner: a 32-byte word (a Starknet account's address, an EVM address's number).
        #[arg(long, value_parser = parse::word)]
        owner: B256,
        /// The owner's domain.
        #[arg(long, value_parser = parse::u64_number)]
        from_domain: u64,
        /// The AccountRouter on L1.
        #[arg(long, value_parser = parse::address)]
        router: Address,
        /// The router's account code (what its `implementation()` answers).
        #[arg(long, value_parser = parse::address)]
        implementation: Address,
    },
    /// Answer a kept storage read of an L1Reader: its block's header and `eth_getProof`'s proofs
    /// at that block, sent from the config's L1 key; the reader checks them against the block's
    /// hash and sends the values to the request's replies. Prints the values, one per line.
    AnswerStorage {
        /// Chains and keys, as a router's config (its L1 chain and key are used).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The L1Reader.
        #[arg(long, value_parser = parse::address)]
        reader: Address,
        /// The read's id (`StorageReadKept`'s).
        #[arg(long, value_parser = parse::u64_number)]
        id: u64,
        /// Give up waiting for the transaction after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
}

pub(crate) fn run(args: AccountArgs) -> ExitCode {
    match args.command {
        AccountCommand::Address {
            owner,
            from_domain,
            router,
            implementation,
        } => {
            let Ok(domain) = u32::try_from(from_domain) else {
                eprintln!("error: --from-domain: {from_domain} is not a 32-bit domain");
                return ExitCode::from(EXIT_USAGE);
            };
            let account =
                xroute_proofs::accounts::account_address(router, implementation, domain, owner);
            println!("{account:#x}");
            ExitCode::SUCCESS
        }
        AccountCommand::AnswerStorage {
            config,
            reader,
            id,
            timeout,
        } => {
            let (config, runtime) = match super::config_and_runtime(&config) {
                Ok(both) => both,
                Err(code) => return code,
            };
            match runtime.block_on(answer_storage(&config, reader, id, timeout)) {
                Ok(values) => {
                    for v in values {
                        println!("{v:#x}");
                    }
                    ExitCode::SUCCESS
                }
                Err((code, e)) => {
                    eprintln!("error: {e}");
                    ExitCode::from(code)
                }
            }
        }
    }
}

/// Answers kept storage read `id` of `reader` ([`xroute::reads`]) from the config's L1 key; the
/// values proven.
async fn answer_storage(
    config: &xroute_config::Config,
    reader: Address,
    id: u64,
    timeout: u64,
) -> Result<Vec<U256>, (u8, String)> {
    let failed = |e: String| (EXIT_FAILED, e);
    let hub = &config
        .hub_chain()
        .ok_or((
            EXIT_USAGE,
            "the config has no L1 chain (family = \"ethereum\")".to_string(),
        ))?
        .chain;
    let l1 = transport::evm_provider(&hub.name, hub.rpc.expose(), &hub.transport)
        .map_err(|e| failed(e.to_string()))?;
    let answer = xroute::reads::storage_answer(&l1, reader, id)
        .await
        .map_err(|e| match e {
            xroute::reads::ReadError::NotKept { .. } => (EXIT_USAGE, format!("--id {id}: {e}")),
            e => failed(e.to_string()),
        })?;
    let (_chains, src) = super::connect_from(config, &hub.name, "the L1 chain").await?;
    let submitter = src
        .submitter()
        .ok_or_else(|| failed(format!("{}: no key to send with", hub.name)))?;
    let call = xroute_adapters::Call::evm(reader, answer.calldata().into(), U256::ZERO);
    let (tx, mined) = super::submit_and_wait(submitter, &call, &hub.name, timeout).await?;
    eprintln!(
        "answered storage read {id} (block {}) in tx {} (block {}, gas {})",
        answer.block, tx.hash, mined.block_number, mined.gas_used
    );
    Ok(answer.values)
}
