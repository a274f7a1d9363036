//! What `xroute check` asks of a Starknet-family chain: the node answers with the configured chain
//! id, the endpoint and the router's account are deployed, the chain's messaging contract is
//! deployed on L1 and answers as a StarknetMessaging whose storage matches the configured layout
//! (on a pending L1 → L2 message, when there is one), and the account key loads.

use alloy::{
    primitives::{Bytes, U256},
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
use starknet_rust::{
    core::types::{BlockId, BlockTag, Felt},
    providers::Provider,
};
use xroute_config::StarknetChain;

use super::{StarknetAdapter, layout_of};
use crate::{CheckProblem, L1State, check_l1_code, keys};

/// How far back (L1 blocks) `check` looks for a pending L1 → L2 message to confirm a Starknet
/// messaging contract's storage layout with.
const LAYOUT_SCAN_BLOCKS: u64 = 2_000;

alloy::sol! {
    interface IStarknetMessagingProbe {
        event LogMessageToL2(address indexed fromAddress, uint256 indexed toAddress, uint256 indexed selector, uint256[] payload, uint256 nonce, uint256 fee);
        function l1ToL2Messages(bytes32 msgHash) external view returns (uint256);
        function l1ToL2MessageNonce() external view returns (uint256);
    }
}

type Checked<T> = std::result::Result<T, CheckProblem>;

/// A Starknet chain id as configured: 0x-hex, or its short string (`SN_SEPOLIA`).
pub(super) fn chain_id_felt(s: &str) -> Option<Felt> {
    if let Some(hex) = s.strip_prefix("0x") {
        return Felt::from_hex(&format!("0x{hex}")).ok();
    }
    (s.len() <= 31 && s.is_ascii()).then(|| Felt::from_bytes_be_slice(s.as_bytes()))
}

pub(super) async fn check(chain: &StarknetAdapter, l1: Option<&dyn L1State>) -> Checked<String> {
    let Some(c) = &chain.config else {
        return Err(CheckProblem::new(
            "endpoint",
            "this reader was built without the chain's config",
        ));
    };
    let id = chain
        .provider
        .chain_id()
        .await
        .map_err(|e| CheckProblem::new("rpc", format!("the node does not answer: {e}")))?;
    if let Some(want) = &c.chain_id {
        let Some(want_felt) = chain_id_felt(want) else {
            return Err(CheckProblem::new(
                "chain_id",
                format!("{want:?} is neither 0x-hex nor a short string"),
            ));
        };
        if want_felt != id {
            return Err(CheckProblem::new(
                "chain_id",
                format!("configured {want} ({want_felt:#x}), the node at rpc answers {id:#x}"),
            ));
        }
    }
    let latest = BlockId::Tag(BlockTag::Latest);
    for (field, value) in [("endpoint", c.endpoint.0), ("account", c.account.0)] {
        let address = Felt::from_bytes_be(&value.to_be_bytes::<32>());
        chain
            .provider
            .get_class_hash_at(latest, address)
            .await
            .map_err(|e| {
                CheckProblem::new(
                    field,
                    format!("no contract at {address:#x} on {}: {e}", c.name),
                )
            })?;
    }
    let Some(l1) = l1 else {
        return Err(CheckProblem::new(
            "l1_messaging",
            "the hub chain's RPC cannot be built, so the messaging contract cannot be checked",
        ));
    };
    check_l1_code(l1, c.l1_messaging, "l1_messaging").await?;
    let layout = check_layout(l1, c).await?;
    const KEY: &str = "account_key_file";
    let named = format!("chains.{}.{KEY}", c.name);
    let format =
        keys::format_of(&named, &c.account_key_file).map_err(|e| CheckProblem::key(KEY, e))?;
    keys::felt(&named, &c.account_key_file).map_err(|e| CheckProblem::key(KEY, e))?;
    Ok(format!(
        "chain id {id:#x}; endpoint and account deployed; messaging contract {} deployed on L1; \
         {layout}; account key loads ({})",
        c.l1_messaging,
        format.as_str()
    ))
}

/// A view call of the messaging contract, decoded.
async fn view<C: SolCall>(l1: &dyn L1State, c: &StarknetChain, call: C) -> Checked<C::Return> {
    let out = l1
        .call(c.l1_messaging, Bytes::from(call.abi_encode()))
        .await
        .map_err(|e| CheckProblem::new("l1_messaging", e.to_string()))?;
    C::abi_decode_returns(&out).map_err(|e| CheckProblem::new("l1_messaging", e.to_string()))
}

/// Whether the messaging contract answers as a StarknetMessaging, and whether the configured
/// storage layout holds what its view `l1ToL2Messages` answers for a pending L1 → L2 message of
/// the last [`LAYOUT_SCAN_BLOCKS`] blocks (storage proofs read those slots).
async fn check_layout(l1: &dyn L1State, c: &StarknetChain) -> Checked<String> {
    let nonce = view(l1, c, IStarknetMessagingProbe::l1ToL2MessageNonceCall {})
        .await
        .map_err(|e| {
            CheckProblem::new(
                "l1_messaging",
                format!(
                    "{} does not answer l1ToL2MessageNonce(), so it is not a StarknetMessaging \
                     contract: {}",
                    c.l1_messaging, e.problem
                ),
            )
        })?;
    let layout = layout_of(c.messaging_layout);
    let name = format!("{:?}", c.messaging_layout).to_lowercase();
    let head = l1
        .latest_block()
        .await
        .map_err(|e| CheckProblem::new("l1_messaging", format!("cannot read L1's head: {e}")))?;
    let filter = Filter::new()
        .address(c.l1_messaging)
        .event_signature(IStarknetMessagingProbe::LogMessageToL2::SIGNATURE_HASH)
        .from_block(head.saturating_sub(LAYOUT_SCAN_BLOCKS))
        .to_block(head);
    let Ok(logs) = l1.logs(&filter).await else {
        return Ok(format!(
            "messaging answers (nonce {nonce}); layout `{name}` not confirmed: the node refused \
             the log query"
        ));
    };
    for log in logs.iter().rev().take(20) {
        let Ok(event) = IStarknetMessagingProbe::LogMessageToL2::decode_log(&log.inner) else {
            continue;
        };
        let felt = |v: U256| xroute_proofs::starknet::Felt::from_bytes_be(&v.to_be_bytes::<32>());
        let payload: Vec<_> = event.payload.iter().copied().map(felt).collect();
        let hash = xroute_proofs::starknet::l1_to_l2_message_hash(
            event.fromAddress,
            felt(event.toAddress),
            felt(event.selector),
            event.nonce,
            &payload,
        );
        let Ok(pending) = view(
            l1,
            c,
            IStarknetMessagingProbe::l1ToL2MessagesCall { msgHash: hash },
        )
        .await
        else {
            continue;
        };
        if pending.is_zero() {
            continue;
        }
        let stored = l1
            .storage(c.l1_messaging, layout.l1_to_l2_slot(hash))
            .await
            .map_err(|e| CheckProblem::new("l1_messaging", format!("cannot read storage: {e}")))?;
        if stored != pending {
            return Err(CheckProblem::new(
                "messaging_layout",
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
