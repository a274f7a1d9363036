//! `xroute account`: interchain accounts (issue 31, docs/accounts.md).

use std::{path::PathBuf, process::ExitCode};

use alloy_primitives::{Address, B256, U256};
use clap::{Args, Subcommand};
use xroute_adapters::transport;
use xroute_proofs::accounts;

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
    /// The address of an owner's account behind a Starknet-family AccountRouter, made or not
    /// yet; printed alone as 0x-hex.
    StarknetAddress {
        /// The owner: a 32-byte word (an EVM address's number, a Starknet account's address).
        #[arg(long, value_parser = parse::word)]
        owner: B256,
        /// The owner's domain.
        #[arg(long, value_parser = parse::u64_number)]
        from_domain: u64,
        /// The AccountRouter on the Starknet-family chain (a felt).
        #[arg(long, value_parser = parse::word)]
        router: B256,
        /// Its accounts' class hash (what its `account_class()` answers).
        #[arg(long, value_parser = parse::word)]
        account_class: B256,
    },
    /// Send a list of calls to the sender's account behind an AccountRouter (a message from the
    /// config's key on `--from`); its calls run all or none and the result goes to `--reply`.
    /// Prints the message id.
    Call {
        /// Chains and keys, as a router's config (the key of `--from` sends).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The chain the owner sends from (a chain name of the config).
        #[arg(long, value_name = "CHAIN")]
        from: String,
        /// The AccountRouter's chain: a chain name of the config or a domain number.
        #[arg(long, value_name = "CHAIN|DOMAIN")]
        to: String,
        /// The AccountRouter there.
        #[arg(long, value_parser = parse::address)]
        router: Address,
        /// A call: `TARGET[:VALUE_WEI[:0xDATA]]`, in order; repeat the flag for each (1 to 16).
        #[arg(long = "call", value_name = "TARGET[:WEI[:0xDATA]]", required = true)]
        calls: Vec<String>,
        /// Where the result goes: `CHAIN|DOMAIN:0xRECIPIENT`; repeat for each (at most 4).
        #[arg(long = "reply", value_name = "CHAIN|DOMAIN:0xRECIPIENT")]
        replies: Vec<String>,
        /// A call whose return data the result carries (its index from 0); repeatable.
        #[arg(long = "output", value_name = "INDEX")]
        outputs: Vec<usize>,
        /// The request's tag, echoed in its result.
        #[arg(long, default_value_t = 0)]
        tag: u64,
        /// Give up waiting for the transaction after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
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
        AccountCommand::StarknetAddress {
            owner,
            from_domain,
            router,
            account_class,
        } => {
            let Ok(domain) = u32::try_from(from_domain) else {
                eprintln!("error: --from-domain: {from_domain} is not a 32-bit domain");
                return ExitCode::from(EXIT_USAGE);
            };
            let felt = |flag: &str, w: B256| {
                let f = starknet_rust::core::types::Felt::from_bytes_be(&w.0);
                (B256::from(f.to_bytes_be()) == w)
                    .then_some(f)
                    .ok_or_else(|| {
                        eprintln!(
                            "error: {flag}: {w} is not a felt (it is 2^251 + 17·2^192 or more)"
                        );
                        ExitCode::from(EXIT_USAGE)
                    })
            };
            let (owner, router, class) = match (
                felt("--owner", owner),
                felt("--router", router),
                felt("--account-class", account_class),
            ) {
                (Ok(o), Ok(r), Ok(c)) => (o, r, c),
                (Err(code), _, _) | (_, Err(code), _) | (_, _, Err(code)) => return code,
            };
            let account =
                xroute_proofs::accounts::starknet_account_address(router, class, domain, owner);
            println!("{account:#066x}");
            ExitCode::SUCCESS
        }
        AccountCommand::Call {
            config,
            from,
            to,
            router,
            calls,
            replies,
            outputs,
            tag,
            timeout,
        } => {
            let (config, runtime) = match super::config_and_runtime(&config) {
                Ok(both) => both,
                Err(code) => return code,
            };
            let request = CallRequest {
                from: &from,
                to: &to,
                router,
                calls: &calls,
                replies: &replies,
                outputs: &outputs,
                tag,
                timeout,
            };
            match runtime.block_on(send_calls(&config, &request)) {
                Ok(()) => ExitCode::SUCCESS,
                Err((code, e)) => {
                    eprintln!("error: {e}");
                    ExitCode::from(code)
                }
            }
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

/// `xroute account call`'s arguments, as given.
struct CallRequest<'a> {
    from: &'a str,
    to: &'a str,
    router: Address,
    calls: &'a [String],
    replies: &'a [String],
    outputs: &'a [usize],
    tag: u64,
    timeout: u64,
}

/// `TARGET[:WEI[:0xDATA]]` (the `--call` number `i`).
fn parse_call(i: usize, s: &str) -> Result<accounts::Call, (u8, String)> {
    let usage = |why: String| (EXIT_USAGE, format!("--call {i} ({s:?}): {why}"));
    let mut parts = s.split(':');
    let target = parts.next().unwrap_or_default();
    let target = parse::address(target).map_err(usage)?;
    let value = match parts.next() {
        None | Some("") => U256::ZERO,
        Some(v) => U256::from_str_radix(v, 10)
            .map_err(|_| usage(format!("{v:?} is not an amount of wei (decimal)")))?,
    };
    let data = match parts.next() {
        None => Vec::new(),
        Some(d) => d
            .strip_prefix("0x")
            .and_then(|h| alloy_primitives::hex::decode(h).ok())
            .ok_or_else(|| usage(format!("{d:?} is not 0x-hex calldata")))?,
    };
    if parts.next().is_some() {
        return Err(usage("more than TARGET:WEI:0xDATA".into()));
    }
    Ok(accounts::Call {
        target,
        value,
        data,
    })
}

/// Builds the calls request and sends it from `--from` to the account router.
async fn send_calls(
    config: &xroute_config::Config,
    r: &CallRequest<'_>,
) -> Result<(), (u8, String)> {
    let usage = |e: String| (EXIT_USAGE, e);
    let calls = r
        .calls
        .iter()
        .enumerate()
        .map(|(i, c)| parse_call(i, c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut replies = Vec::new();
    for (i, reply) in r.replies.iter().enumerate() {
        let (chain, recipient) = reply.rsplit_once(':').ok_or_else(|| {
            usage(format!(
                "--reply {i} ({reply:?}): not CHAIN|DOMAIN:0xRECIPIENT"
            ))
        })?;
        let domain = super::domain_of(config, chain, &format!("--reply {i}"))?;
        let recipient =
            parse::word(recipient).map_err(|e| usage(format!("--reply {i} ({reply:?}): {e}")))?;
        replies.push(accounts::Reply { domain, recipient });
    }
    let payload = accounts::calls_request(U256::from(r.tag), &replies, r.outputs, &calls)
        .map_err(|e| usage(e.to_string()))?;
    let dst = super::domain_of(config, r.to, "--to")?;
    super::send::send_words(
        config,
        r.from,
        dst,
        r.router.into_word(),
        &payload,
        U256::ZERO,
        r.timeout,
    )
    .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_target_value_and_data_and_a_bad_part_is_named() {
        let c = parse_call(0, "0x00000000000000000000000000000000000000aa:5:0x0102").unwrap();
        assert_eq!(c.target, Address::with_last_byte(0xaa));
        assert_eq!((c.value, c.data), (U256::from(5), vec![1, 2]));
        let bare = parse_call(1, "0x00000000000000000000000000000000000000aa").unwrap();
        assert_eq!((bare.value, bare.data.len()), (U256::ZERO, 0));
        let (_, e) = parse_call(2, "0xaa:5").unwrap_err();
        assert!(e.starts_with("--call 2 (\"0xaa:5\"):"), "{e}");
        let (_, e) =
            parse_call(3, "0x00000000000000000000000000000000000000aa:x:0x01").unwrap_err();
        assert!(e.contains("\"x\" is not an amount of wei"), "{e}");
        let (_, e) = parse_call(4, "0x00000000000000000000000000000000000000aa:0:zz").unwrap_err();
        assert!(e.contains("\"zz\" is not 0x-hex calldata"), "{e}");
    }
}
