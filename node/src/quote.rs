//! Quotes (issue 27): what a payer should offer for a message's relay on a route, from the
//! chains' prices now: `xroute quote` and `GET /quote`.

use alloy::primitives::{B256, U256};
use serde::{Deserialize, Serialize};
use xroute_adapters::{AdapterError, ChainAdapterExt, Entry, Terms};
use xroute_proofs::envelope::Envelope;

use crate::pipeline::Chains;

/// A suggested payment for one message's relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quote {
    /// L1 gas to pay for (the source's metered relay, measured, with headroom).
    pub gas_limit: u64,
    /// L1 unix time the relay must happen by (an hour from now).
    pub deadline: u64,
    /// The highest L1 base fee to pay: `base_fee_factor` × the base fee now (wei).
    pub max_base_fee: String,
    /// The priority fee on top (wei).
    pub max_priority_fee: String,
    /// The destination's entry fee now (a Starknet message fee, an Arbitrum retryable), wei.
    pub leg_budget: String,
    /// What a payment on these terms reserves (wei).
    pub worst_case: String,
    /// L1's base fee now (wei).
    pub base_fee: String,
}

/// What a quote is asked for.
#[derive(Debug, Clone)]
pub struct QuoteRequest {
    /// Source domain.
    pub src: u32,
    /// Destination domain.
    pub dst: u32,
    /// The recipient on the destination (its entry is quoted for it).
    pub recipient: B256,
    /// The payload's words.
    pub payload: Vec<B256>,
    /// The cap on the base fee, as a multiple of today's.
    pub base_fee_factor: u64,
    /// The priority fee (wei).
    pub priority_fee: u128,
}

/// Why there is no quote.
#[derive(Debug, thiserror::Error)]
pub enum QuoteError {
    /// No chain of the router has this domain.
    #[error("no chain with domain {0}")]
    UnknownDomain(u32),
    /// The destination refuses the message (its recipient, a word it cannot carry).
    #[error("the destination refuses it: {0}")]
    Refused(String),
    /// A chain did not answer.
    #[error(transparent)]
    Chain(#[from] AdapterError),
}

/// The quote for `req` over `chains`.
pub async fn quote(chains: &Chains, req: &QuoteRequest) -> Result<Quote, QuoteError> {
    let src = chains
        .get(req.src)
        .ok_or(QuoteError::UnknownDomain(req.src))?;
    let dst = chains
        .get(req.dst)
        .ok_or(QuoteError::UnknownDomain(req.dst))?;
    let hub = chains.hub();
    let l1_state = hub
        .as_l1()
        .ok_or_else(|| AdapterError::config("chains", "the hub chain cannot serve as L1"))?;
    let (base_fee, now) = l1_state.fee_and_time().await?;
    let envelope = Envelope {
        src_domain: req.src,
        nonce: 0,
        sender: B256::with_last_byte(1),
        dst_domain: req.dst,
        recipient: req.recipient,
        payload: req.payload.clone(),
    };
    let leg = if req.dst == chains.hub_domain() {
        U256::ZERO
    } else {
        let l1 = chains.l1(hub.finalized_head().await?)?;
        match dst.entry(&envelope, &l1).await? {
            Entry::Accepted { fee, .. } => fee,
            Entry::Refused(why) => return Err(QuoteError::Refused(why)),
        }
    };
    let cap = base_fee.saturating_mul(U256::from(req.base_fee_factor.max(1)));
    let terms = Terms {
        gas_limit: src.relay_gas_hint(req.payload.len()),
        deadline: now + 3600,
        max_base_fee: cap.saturating_to(),
        max_priority_fee: req.priority_fee,
        leg_budget: leg.saturating_to(),
    };
    Ok(Quote {
        gas_limit: terms.gas_limit,
        deadline: terms.deadline,
        max_base_fee: terms.max_base_fee.to_string(),
        max_priority_fee: terms.max_priority_fee.to_string(),
        leg_budget: terms.leg_budget.to_string(),
        worst_case: terms.worst_case().to_string(),
        base_fee: base_fee.to_string(),
    })
}
