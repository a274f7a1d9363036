//! `xroute tank`: a chain's gas tank (issue 27) from a keystore, as a user or an operator uses it:
//! `deposit`, `withdraw`, `balance`, `pay` for a message, `top-up` a payment, `claim` a relayer's
//! credits. The chain's key is the config's (a keystore or a plain key file); the tank is the
//! chain's `tank` (the Hub on the hub chain).

use std::{path::PathBuf, process::ExitCode};

use alloy::primitives::{B256, U256};
use clap::{Args, Subcommand};
use xroute_adapters::{ChainAdapterExt, TankAction, Terms};
use xroute_proofs::envelope::MessageId;

use super::{EXIT_FAILED, EXIT_USAGE};

/// `xroute tank` arguments.
#[derive(Args)]
pub(crate) struct TankArgs {
    #[command(subcommand)]
    command: TankCommand,
}

#[derive(Subcommand)]
enum TankCommand {
    /// Add to an account's balance in the chain's tank (default: your own).
    Deposit {
        #[command(flatten)]
        chain: ChainArgs,
        /// How much: wei, or with a unit (`0.1eth`, `20gwei`).
        #[arg(long, value_name = "AMOUNT")]
        amount: String,
        /// Whose balance (an address of the chain, 0x-hex).
        #[arg(long, value_name = "0xADDRESS")]
        account: Option<String>,
    },
    /// Send part of your balance (not reserved) out.
    Withdraw {
        #[command(flatten)]
        chain: ChainArgs,
        /// How much: wei, or with a unit.
        #[arg(long, value_name = "AMOUNT")]
        amount: String,
        /// Where (default: your own address).
        #[arg(long, value_name = "0xADDRESS")]
        to: Option<String>,
    },
    /// An account's balance and, for an L1 relayer's address, what it may claim.
    Balance {
        #[command(flatten)]
        chain: ChainArgs,
        /// Whose (default: your own address on the chain).
        #[arg(long, value_name = "0xADDRESS")]
        account: Option<String>,
    },
    /// Pay for relaying a message sent from the chain.
    Pay {
        #[command(flatten)]
        chain: ChainArgs,
        /// The message id.
        #[arg(long, value_name = "0xID")]
        id: String,
        /// Its destination: a chain name of the config, or a domain number.
        #[arg(long, value_name = "CHAIN|DOMAIN")]
        to: String,
        #[command(flatten)]
        terms: TermsArgs,
    },
    /// Replace the terms of your payment for a message (a later deadline, a higher cap).
    TopUp {
        #[command(flatten)]
        chain: ChainArgs,
        /// The message id.
        #[arg(long, value_name = "0xID")]
        id: String,
        #[command(flatten)]
        terms: TermsArgs,
    },
    /// Pay a relayer's credits out: on a Starknet-family chain to the address the relayer's L1
    /// account bound (`bind_payout`); on an EVM chain your whole balance to yourself.
    Claim {
        #[command(flatten)]
        chain: ChainArgs,
        /// The relayer's L1 address (default: the config's hub chain key's).
        #[arg(long, value_name = "0xADDRESS")]
        relayer: Option<String>,
    },
}

#[derive(Args)]
struct ChainArgs {
    /// Chains and keys, as a router's config.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The chain whose tank (a chain name of the config).
    #[arg(long, value_name = "CHAIN")]
    chain: String,
    /// Give up waiting for a transaction after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// A payment's terms on the command line.
#[derive(Args)]
pub(crate) struct TermsArgs {
    /// L1 gas paid for at most.
    #[arg(long, default_value_t = 400_000)]
    gas_limit: u64,
    /// The highest L1 base fee paid: wei, or with a unit (`20gwei`).
    #[arg(long, value_name = "AMOUNT")]
    max_base_fee: String,
    /// The highest priority fee on top.
    #[arg(long, default_value = "2gwei", value_name = "AMOUNT")]
    max_priority_fee: String,
    /// Wei toward the next leg's entry fee (a Starknet message fee, an Arbitrum retryable).
    #[arg(long, default_value = "0", value_name = "AMOUNT")]
    leg_budget: String,
    /// Seconds from now (L1 time) the relay must happen by.
    #[arg(long, default_value_t = 3600)]
    deadline_in: u64,
}

/// `s` in wei: a whole number of wei, or a decimal with a unit (`wei`, `gwei`, `eth`).
pub(crate) fn parse_wei(s: &str) -> Option<U256> {
    let s = s.trim();
    let (number, decimals) = if let Some(n) = s.strip_suffix("gwei") {
        (n, 9u32)
    } else if let Some(n) = s.strip_suffix("eth") {
        (n, 18)
    } else if let Some(n) = s.strip_suffix("wei") {
        (n, 0)
    } else {
        (s, 0)
    };
    let (whole, frac) = number.trim().split_once('.').unwrap_or((number.trim(), ""));
    if whole.is_empty() && frac.is_empty() || frac.len() as u32 > decimals {
        return None;
    }
    let digits = format!("{whole}{frac:0<width$}", width = decimals as usize);
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    U256::from_str_radix(&digits, 10).ok()
}

/// A 32-byte word (decimal or 0x-hex), or a usage error naming `flag`.
fn word(s: &str, flag: &str) -> Result<B256, (u8, String)> {
    super::parse::word(s).map_err(|e| (EXIT_USAGE, format!("{flag}: {e}")))
}

fn wei(s: &str, flag: &str) -> Result<U256, (u8, String)> {
    parse_wei(s).ok_or_else(|| {
        (
            EXIT_USAGE,
            format!("{flag}: {s:?} is not an amount (wei, or a number with gwei or eth)"),
        )
    })
}

fn small(v: U256, flag: &str) -> Result<u128, (u8, String)> {
    u128::try_from(v).map_err(|_| (EXIT_USAGE, format!("{flag}: {v} is above 2^128")))
}

impl TermsArgs {
    /// The terms, their deadline `now` + `deadline_in`.
    fn terms(&self, now: u64) -> Result<Terms, (u8, String)> {
        if self.gas_limit == 0 {
            return Err((EXIT_USAGE, "--gas-limit: must be at least 1".into()));
        }
        Ok(Terms {
            gas_limit: self.gas_limit,
            deadline: now + self.deadline_in,
            max_base_fee: small(wei(&self.max_base_fee, "--max-base-fee")?, "--max-base-fee")?,
            max_priority_fee: small(
                wei(&self.max_priority_fee, "--max-priority-fee")?,
                "--max-priority-fee",
            )?,
            leg_budget: small(wei(&self.leg_budget, "--leg-budget")?, "--leg-budget")?,
        })
    }
}

pub(crate) fn tank(args: TankArgs) -> ExitCode {
    let chain = match &args.command {
        TankCommand::Deposit { chain, .. }
        | TankCommand::Withdraw { chain, .. }
        | TankCommand::Balance { chain, .. }
        | TankCommand::Pay { chain, .. }
        | TankCommand::TopUp { chain, .. }
        | TankCommand::Claim { chain, .. } => chain,
    };
    let (config, runtime) = match super::config_and_runtime(&chain.config) {
        Ok(both) => both,
        Err(code) => return code,
    };
    match runtime.block_on(run(&config, &args.command, chain)) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            eprintln!("error: {e}");
            ExitCode::from(code)
        }
    }
}

async fn run(
    config: &xroute_config::Config,
    command: &TankCommand,
    chain: &ChainArgs,
) -> Result<(), (u8, String)> {
    let failed = |e: String| (EXIT_FAILED, e);
    let (chains, adapter) = super::connect_from(config, &chain.chain, "--chain").await?;
    let me = adapter.submitter().map(|s| s.sender());
    let own = |given: &Option<String>, flag: &str| -> Result<B256, (u8, String)> {
        match given {
            Some(s) => word(s, flag),
            None => me.ok_or_else(|| {
                (
                    EXIT_USAGE,
                    format!("{flag}: {} has no key in the config; name one", chain.chain),
                )
            }),
        }
    };
    let l1_now = || async {
        let l1 = chains
            .hub()
            .as_l1()
            .ok_or_else(|| failed("the hub chain is not L1".into()))?;
        l1.fee_and_time()
            .await
            .map(|(_, t)| t)
            .map_err(|e| failed(e.to_string()))
    };
    let action = match command {
        TankCommand::Balance { account, .. } => {
            let account = own(account, "--account")?;
            let b = adapter
                .tank_balance(account)
                .await
                .map_err(|e| failed(e.to_string()))?;
            println!("balance {} wei", b.balance);
            if !b.claimable.is_zero() {
                println!(
                    "claimable {} wei (credits of the L1 relayer {account})",
                    b.claimable
                );
            }
            return Ok(());
        }
        TankCommand::Deposit {
            amount, account, ..
        } => TankAction::Deposit {
            account: own(account, "--account")?,
            amount: wei(amount, "--amount")?,
        },
        TankCommand::Withdraw { amount, to, .. } => TankAction::Withdraw {
            amount: wei(amount, "--amount")?,
            to: own(to, "--to")?,
        },
        TankCommand::Pay { id, to, terms, .. } => TankAction::Pay {
            id: MessageId(super::parse::hash(id).map_err(|e| (EXIT_USAGE, format!("--id: {e}")))?),
            src: adapter.domain(),
            dst: super::domain_of(config, to, "--to")?,
            terms: terms.terms(l1_now().await?)?,
        },
        TankCommand::TopUp { id, terms, .. } => TankAction::TopUp {
            id: MessageId(super::parse::hash(id).map_err(|e| (EXIT_USAGE, format!("--id: {e}")))?),
            terms: terms.terms(l1_now().await?)?,
        },
        TankCommand::Claim { relayer, .. } => TankAction::Claim {
            relayer: match relayer {
                Some(s) => word(s, "--relayer")?,
                None => chains
                    .hub()
                    .submitter()
                    .map(|s| s.sender())
                    .ok_or_else(|| {
                        (
                            EXIT_USAGE,
                            "--relayer: the hub chain has no key; name the relayer".to_string(),
                        )
                    })?,
            },
        },
    };
    let Some(caller) = me else {
        return Err((EXIT_USAGE, format!("{}: no key to send with", chain.chain)));
    };
    let calls = adapter
        .tank_calls(&action, caller)
        .await
        .map_err(|e| (EXIT_USAGE, e.to_string()))?;
    let submitter = adapter
        .submitter()
        .ok_or_else(|| failed(format!("{}: no key to send with", chain.chain)))?;
    for call in &calls {
        let (tx, mined) =
            super::submit_and_wait(submitter, call, &chain.chain, chain.timeout).await?;
        println!("{}", tx.hash);
        eprintln!("mined in block {} of {}", mined.block_number, chain.chain);
    }
    if let TankAction::Pay { terms, .. } | TankAction::TopUp { terms, .. } = &action {
        eprintln!(
            "reserved {} wei (gas limit {} × (max base fee {} + max priority fee {}) + leg budget {}), deadline {}",
            terms.worst_case(),
            terms.gas_limit,
            terms.max_base_fee,
            terms.max_priority_fee,
            terms.leg_budget,
            terms.deadline
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_in_wei_gwei_and_eth() {
        assert_eq!(parse_wei("123"), Some(U256::from(123u8)));
        assert_eq!(parse_wei("20gwei"), Some(U256::from(20_000_000_000u64)));
        assert_eq!(
            parse_wei("0.1eth"),
            Some(U256::from(100_000_000_000_000_000u64))
        );
        assert_eq!(parse_wei("1.5 gwei"), Some(U256::from(1_500_000_000u64)));
        assert_eq!(parse_wei("0.0000000001gwei"), None, "below a wei");
        assert_eq!(parse_wei("ten"), None);
        assert_eq!(parse_wei(""), None);
        assert_eq!(parse_wei("-1"), None);
    }
}
