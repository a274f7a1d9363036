//! `xroute check --config FILE`: connects to every configured chain and says, one line per chain,
//! whether the router could run on it: the node answers, with the configured chain id; the
//! contracts are deployed where the config says; the keys load; the relayer holds enough for
//! `--relays` relays at today's gas price. Exit 1 on any problem; each problem names the field.

use std::{path::PathBuf, process::ExitCode};

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
};
use clap::Args;
use starknet_rust::{
    core::types::{BlockId, BlockTag, Felt},
    providers::Provider as _,
};
use xroute_adapters::{keys, transport};
use xroute_config::{ChainConfig, Config, EvmChain, StarknetChain};

use super::EXIT_FAILED;

/// How far back (L1 blocks) `check` looks for a pending L1 → L2 message to confirm a Starknet
/// messaging contract's storage layout with.
const LAYOUT_SCAN_BLOCKS: u64 = 2_000;

alloy::sol! {
    #[sol(rpc)]
    interface IStarknetMessagingProbe {
        event LogMessageToL2(address indexed fromAddress, uint256 indexed toAddress, uint256 indexed selector, uint256[] payload, uint256 nonce, uint256 fee);
        function l1ToL2Messages(bytes32 msgHash) external view returns (uint256);
        function l1ToL2MessageNonce() external view returns (uint256);
    }
}

/// Gas one L1 relay costs at most (docs/gas.md: the costliest route is under 240,000).
const RELAY_GAS: u64 = 300_000;
/// Gas one Arbitrum redeem of the router's may cost (its retry included).
const REDEEM_GAS: u64 = 500_000;

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
        .hub_chain()
        .and_then(|hub| transport::evm_provider(&hub.name, hub.rpc.expose(), &hub.transport).ok());
    let mut out = Vec::with_capacity(config.chains.len());
    for (i, chain) in config.chains.iter().enumerate() {
        let field = |f: &str| format!("chains[{i}].{f}");
        let verdict = match chain {
            ChainConfig::Evm(c) => check_evm(c, l1.as_ref(), relays, &field).await,
            ChainConfig::Starknet(c) => check_starknet(c, l1.as_ref(), &field).await,
        };
        out.push((chain.name().to_string(), verdict));
    }
    out
}

fn problem(field: String, text: impl Into<String>) -> (String, String) {
    (field, text.into())
}

/// A key that does not load, as a problem of `field` (the reason alone: the field is named once).
fn key_problem(field: &str, e: xroute_adapters::AdapterError) -> (String, String) {
    let reason = match e {
        xroute_adapters::AdapterError::Config { reason, .. } => reason,
        other => other.to_string(),
    };
    (field.to_string(), reason)
}

async fn has_code(
    provider: &DynProvider,
    address: Address,
    field: String,
    on: &str,
) -> Result<(), (String, String)> {
    let code = provider
        .get_code_at(address)
        .await
        .map_err(|e| problem(field.clone(), format!("cannot read code on {on}: {e}")))?;
    if code.is_empty() {
        return Err(problem(field, format!("no contract at {address} on {on}")));
    }
    Ok(())
}

async fn check_evm(
    c: &EvmChain,
    l1: Option<&DynProvider>,
    relays: u64,
    field: &dyn Fn(&str) -> String,
) -> Verdict {
    let provider = transport::evm_provider(&c.name, c.rpc.expose(), &c.transport)
        .map_err(|e| problem(field("rpc"), e.to_string()))?;
    let id = provider
        .get_chain_id()
        .await
        .map_err(|e| problem(field("rpc"), format!("the node does not answer: {e}")))?;
    if let Some(want) = c.chain_id
        && want != id
    {
        return Err(problem(
            field("chain_id"),
            format!("configured {want}, the node at rpc answers {id}"),
        ));
    }
    let mut found = vec![format!("chain id {id}")];
    let gas = match (&c.hub, &c.arbitrum) {
        (Some(hub), _) => {
            has_code(&provider, *hub, field("hub"), &c.name).await?;
            found.push(format!("Hub {hub} deployed"));
            RELAY_GAS
        }
        (None, Some(a)) => {
            has_code(&provider, a.endpoint, field("arbitrum.endpoint"), &c.name).await?;
            let Some(l1) = l1 else {
                return Err(problem(
                    field("arbitrum"),
                    "the hub chain's RPC cannot be built, so the L1 bridge cannot be checked",
                ));
            };
            for (f, address) in [
                ("arbitrum.inbox", a.inbox),
                ("arbitrum.bridge", a.bridge),
                ("arbitrum.outbox", a.outbox),
            ] {
                has_code(l1, address, field(f), "L1").await?;
            }
            found.push(format!(
                "endpoint {} deployed; Inbox, Bridge and Outbox deployed on L1",
                a.endpoint
            ));
            REDEEM_GAS
        }
        (None, None) => {
            return Err(problem(field("hub"), "neither `hub` nor [chains.arbitrum]"));
        }
    };
    let key_field = field("signer_key_file");
    let format =
        keys::format_of(&key_field, &c.signer_key_file).map_err(|e| key_problem(&key_field, e))?;
    let signer =
        keys::secp256k1(&key_field, &c.signer_key_file).map_err(|e| key_problem(&key_field, e))?;
    let who = signer.address();
    let balance = provider.get_balance(who).await.map_err(|e| {
        problem(
            field("rpc"),
            format!("cannot read the balance of {who}: {e}"),
        )
    })?;
    let price = provider
        .get_gas_price()
        .await
        .map_err(|e| problem(field("rpc"), format!("cannot read the gas price: {e}")))?;
    let need = U256::from(relays) * U256::from(gas) * U256::from(price);
    if balance < need {
        return Err(problem(
            key_field,
            format!(
                "its account {who} holds {balance} wei, less than {relays} transactions of \
                 {gas} gas need at {price} wei/gas ({need} wei)"
            ),
        ));
    }
    found.push(format!(
        "account {who} ({} key) holds {balance} wei (≥ {relays} × {gas} gas at {price} wei/gas)",
        format.as_str()
    ));
    Ok(found.join("; "))
}

/// A Starknet chain id as configured: 0x-hex, or its short string (`SN_SEPOLIA`).
fn chain_id_felt(s: &str) -> Option<Felt> {
    if let Some(hex) = s.strip_prefix("0x") {
        return Felt::from_hex(&format!("0x{hex}")).ok();
    }
    (s.len() <= 31 && s.is_ascii()).then(|| Felt::from_bytes_be_slice(s.as_bytes()))
}

async fn check_starknet(
    c: &StarknetChain,
    l1: Option<&DynProvider>,
    field: &dyn Fn(&str) -> String,
) -> Verdict {
    let client = transport::starknet_client(&c.name, c.rpc.expose(), &c.transport)
        .map_err(|e| problem(field("rpc"), e.to_string()))?;
    let id = client
        .chain_id()
        .await
        .map_err(|e| problem(field("rpc"), format!("the node does not answer: {e}")))?;
    if let Some(want) = &c.chain_id {
        let Some(want_felt) = chain_id_felt(want) else {
            return Err(problem(
                field("chain_id"),
                format!("{want:?} is neither 0x-hex nor a short string"),
            ));
        };
        if want_felt != id {
            return Err(problem(
                field("chain_id"),
                format!("configured {want} ({want_felt:#x}), the node at rpc answers {id:#x}"),
            ));
        }
    }
    let latest = BlockId::Tag(BlockTag::Latest);
    for (f, value) in [("endpoint", c.endpoint.0), ("account", c.account.0)] {
        let address = Felt::from_bytes_be(&value.to_be_bytes::<32>());
        client
            .get_class_hash_at(latest, address)
            .await
            .map_err(|e| {
                problem(
                    field(f),
                    format!("no contract at {address:#x} on {}: {e}", c.name),
                )
            })?;
    }
    let Some(l1) = l1 else {
        return Err(problem(
            field("l1_messaging"),
            "the hub chain's RPC cannot be built, so the messaging contract cannot be checked",
        ));
    };
    has_code(l1, c.l1_messaging, field("l1_messaging"), "L1").await?;
    let layout = check_layout(l1, c, field).await?;
    let key_field = field("account_key_file");
    let format =
        keys::format_of(&key_field, &c.account_key_file).map_err(|e| key_problem(&key_field, e))?;
    keys::felt(&key_field, &c.account_key_file).map_err(|e| key_problem(&key_field, e))?;
    Ok(format!(
        "chain id {id:#x}; endpoint and account deployed; messaging contract {} deployed on L1; \
         {layout}; account key loads ({})",
        c.l1_messaging,
        format.as_str()
    ))
}

/// Whether the messaging contract answers as a StarknetMessaging, and whether the configured
/// storage layout holds what its view `l1ToL2Messages` answers for a pending L1 → L2 message of
/// the last [`LAYOUT_SCAN_BLOCKS`] blocks (storage proofs read those slots).
async fn check_layout(
    l1: &DynProvider,
    c: &StarknetChain,
    field: &dyn Fn(&str) -> String,
) -> Result<String, (String, String)> {
    let messaging = IStarknetMessagingProbe::new(c.l1_messaging, l1);
    let nonce = messaging.l1ToL2MessageNonce().call().await.map_err(|e| {
        problem(
            field("l1_messaging"),
            format!(
                "{} does not answer l1ToL2MessageNonce(), so it is not a StarknetMessaging \
                 contract: {e}",
                c.l1_messaging
            ),
        )
    })?;
    let layout = match c.messaging_layout {
        xroute_config::MessagingLayout::Current => {
            xroute_proofs::storage::MessagingLayout::current()
        }
        xroute_config::MessagingLayout::V1 => xroute_proofs::storage::MessagingLayout::v1(),
    };
    let name = format!("{:?}", c.messaging_layout).to_lowercase();
    let head = l1
        .get_block_number()
        .await
        .map_err(|e| problem(field("l1_messaging"), format!("cannot read L1's head: {e}")))?;
    let logs = messaging
        .LogMessageToL2_filter()
        .from_block(head.saturating_sub(LAYOUT_SCAN_BLOCKS))
        .to_block(head)
        .query()
        .await;
    let Ok(logs) = logs else {
        return Ok(format!(
            "messaging answers (nonce {nonce}); layout `{name}` not confirmed: the node refused \
             the log query"
        ));
    };
    for (event, _) in logs.iter().rev().take(20) {
        let felt = |v: U256| xroute_proofs::starknet::Felt::from_bytes_be(&v.to_be_bytes::<32>());
        let payload: Vec<_> = event.payload.iter().copied().map(felt).collect();
        let hash = xroute_proofs::starknet::l1_to_l2_message_hash(
            event.fromAddress,
            felt(event.toAddress),
            felt(event.selector),
            event.nonce,
            &payload,
        );
        let Ok(pending) = messaging.l1ToL2Messages(hash).call().await else {
            continue;
        };
        if pending.is_zero() {
            continue;
        }
        let slot = layout.l1_to_l2_slot(hash);
        let stored = l1
            .get_storage_at(c.l1_messaging, slot.into())
            .await
            .map_err(|e| problem(field("l1_messaging"), format!("cannot read storage: {e}")))?;
        if stored != pending {
            return Err(problem(
                field("messaging_layout"),
                format!(
                    "`{name}` does not match the contract: l1ToL2Messages({hash}) answers \
                     {pending} but the `{name}` slot holds {stored}"
                ),
            ));
        }
        return Ok(format!(
            "messaging layout `{name}` confirmed on pending message {hash}"
        ));
    }
    Ok(format!(
        "messaging answers (nonce {nonce}); layout `{name}` not confirmed: no pending L1 → L2 \
         message in the last {LAYOUT_SCAN_BLOCKS} blocks"
    ))
}
