//! `xroute account`: interchain accounts (issue 31, docs/accounts.md).

use std::process::ExitCode;

use alloy_primitives::{Address, B256};
use clap::{Args, Subcommand};

use super::{EXIT_USAGE, parse};

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
    }
}
