//! Canonical-token messages as the API shows them: what a message to or from the L1
//! `TokenLedger` moves (TokenLedger.sol's formats), and what the ledger did with a transfer in this
//! router's L1 relay, read from its events.

use serde::{Deserialize, Serialize};

use super::AppState;
use crate::model::MessageRecord;

alloy::sol! {
    /// The TokenLedger's events `GET /messages/{id}` reads a transfer's outcome from.
    interface ITokenLedgerEvents {
        event Transferred(uint32 indexed src, uint32 indexed dst, bytes32 from, bytes32 to, uint256 amount);
        event Refunded(uint32 indexed src, uint32 indexed dst, bytes32 from, bytes32 to, uint256 amount, string reason);
        event Queued(uint256 indexed id, uint32 indexed src, uint32 indexed dst, bytes32 from, bytes32 to, uint256 amount);
    }
}

/// A canonical-token message, decoded (TokenLedger.sol's formats).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TransferView {
    /// `transfer` (a router to the ledger), `cancel` (of a queued transfer), `mint` (the ledger to
    /// a router).
    pub kind: String,
    /// Amount in the token's smallest unit (decimal); none for a cancel.
    pub amount: Option<String>,
    /// The sender of the transfer (a word on its source chain).
    pub from: String,
    /// The recipient (a word on `to_domain`); none for a cancel.
    pub to: Option<String>,
    /// The transfer's source chain.
    pub from_domain: u32,
    /// Where the tokens go: the transfer's destination, or the chain minted on.
    pub to_domain: Option<u32>,
    /// For a mint: `transfer`, `refund` (the destination could not take it) or `cancelled`.
    pub why: Option<String>,
    /// For a transfer whose L1 hop this router made: what the ledger did (`forwarded to domain
    /// D`, `queued on L1 as #N`, `refunded to the sender: <reason>`).
    pub outcome: Option<String>,
    /// For a transfer-and-call (operation 3): the words the recipient's `onTokens` gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<String>>,
}

/// The token message `r` carries, if it is one: to the ledger (from a chain's router) or from it.
pub(super) fn transfer_of(
    app: &AppState,
    ledger: alloy_primitives::Address,
    r: &MessageRecord,
) -> Option<TransferView> {
    let hub = app.pipeline.chains().hub_domain();
    let e = &r.envelope;
    let word = ledger.into_word();
    let p: Vec<alloy_primitives::U256> = e
        .payload
        .iter()
        .map(|w| alloy_primitives::U256::from_be_bytes(w.0))
        .collect();
    let small = |v: alloy_primitives::U256| u32::try_from(v).ok();
    let one = alloy_primitives::U256::from(1);
    let three = alloy_primitives::U256::from(3);
    // Operation 1 has exactly its words; operation 3 (and call) carries data after them.
    let data = |op: &alloy_primitives::U256,
                rest: &[alloy_primitives::U256]|
     -> Option<Option<Vec<String>>> {
        if *op == one && rest.is_empty() {
            Some(None)
        } else if *op == three {
            Some(Some(rest.iter().map(|w| w.to_string()).collect()))
        } else {
            None
        }
    };
    if e.dst_domain == hub && e.recipient == word {
        return match p.as_slice() {
            [op, dst, _, amount, _, rest @ ..] if data(op, rest).is_some() => Some(TransferView {
                kind: "transfer".into(),
                amount: Some(amount.to_string()),
                from: e.payload[4].to_string(),
                to: Some(e.payload[2].to_string()),
                from_domain: e.src_domain,
                to_domain: small(*dst),
                why: None,
                outcome: None,
                data: data(op, rest).flatten(),
            }),
            [op, _, _] if *op == alloy_primitives::U256::from(2) => Some(TransferView {
                kind: "cancel".into(),
                amount: None,
                from: e.payload[2].to_string(),
                to: None,
                from_domain: e.src_domain,
                to_domain: None,
                why: Some(format!("queued transfer #{}", p[1])),
                outcome: None,
                data: None,
            }),
            _ => None,
        };
    }
    if e.src_domain == hub
        && e.sender == word
        && let [op, _, amount, origin, _, why, rest @ ..] = p.as_slice()
        && let Some(words) = data(op, rest)
    {
        return Some(TransferView {
            kind: "mint".into(),
            amount: Some(amount.to_string()),
            from: e.payload[4].to_string(),
            to: Some(e.payload[1].to_string()),
            from_domain: small(*origin).unwrap_or_default(),
            to_domain: Some(e.dst_domain),
            why: Some(
                // A word a broken router sent may be anything: no conversion that can panic.
                match u64::try_from(*why).ok() {
                    Some(0) => "transfer",
                    Some(1) => "refund",
                    Some(2) => "cancelled",
                    _ => "unknown",
                }
                .into(),
            ),
            outcome: None,
            data: words,
        });
    }
    None
}

/// What the ledger did with transfer `r` in the L1 relay this router made, read from the ledger's
/// events in that transaction.
pub(super) async fn transfer_outcome(
    app: &AppState,
    ledger: alloy_primitives::Address,
    r: &MessageRecord,
) -> Option<String> {
    use alloy::sol_types::SolEvent;
    let chains = app.pipeline.chains();
    let relay = r
        .relays
        .iter()
        .rev()
        .find(|a| a.domain == chains.hub_domain())?;
    let mined = chains
        .l1_submitter()
        .ok()?
        .receipt(relay.tx_hash)
        .await
        .ok()??;
    if !mined.success {
        return None;
    }
    let filter = alloy::rpc::types::Filter::new()
        .address(ledger)
        .from_block(mined.block_number)
        .to_block(mined.block_number);
    let logs = chains.hub().as_l1()?.logs(&filter).await.ok()?;
    for log in logs
        .iter()
        .filter(|l| l.transaction_hash == Some(relay.tx_hash))
    {
        if let Ok(q) = ITokenLedgerEvents::Queued::decode_log(&log.inner) {
            return Some(format!("queued on L1 as #{}", q.data.id));
        }
        if let Ok(f) = ITokenLedgerEvents::Refunded::decode_log(&log.inner) {
            return Some(format!("refunded to the sender: {}", f.data.reason));
        }
        if let Ok(t) = ITokenLedgerEvents::Transferred::decode_log(&log.inner) {
            return Some(format!("forwarded to domain {}", t.data.dst));
        }
    }
    None
}
