//! A message as the API shows it (`GET /messages`, `GET /messages/{id}`), and stage names.

use serde::{Deserialize, Serialize};

use super::{
    AppState,
    transfer::{TransferView, transfer_of},
};
use crate::model::{MessageRecord, Stage, Transition};

/// A message as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct MessageView {
    /// Envelope id.
    pub id: String,
    /// Stage, lowercase.
    pub stage: String,
    /// "source → destination" chain names.
    pub route: String,
    /// Source domain.
    pub src_domain: u32,
    /// Destination domain.
    pub dst_domain: u32,
    /// Source nonce.
    pub nonce: u64,
    /// Sender word.
    pub sender: String,
    /// Recipient word.
    pub recipient: String,
    /// Payload length in words.
    pub payload_words: usize,
    /// What the payload is when it reads whole as an interchain-account or L1-read message
    /// (`xroute_proofs::accounts::describe`): the calls asked for, what they came to, a storage
    /// read, an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Failed attempts of the current step.
    pub attempts: u32,
    /// Why it is parked or dropped, or the last retried error.
    pub reason: Option<String>,
    /// What the sender or the operator can do about it (parked or waiting), when there is
    /// something to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what_to_do: Option<String>,
    /// Source transaction.
    pub source_tx: String,
    /// The source block it is in (it changes when a reorg moves the transaction).
    #[serde(default)]
    pub source_block: u64,
    /// When this router first saw it on the source chain (ms since the epoch).
    #[serde(default)]
    pub seen_at_ms: u64,
    /// Relay transactions, oldest first.
    pub relays: Vec<RelayView>,
    /// Stage changes, oldest first.
    pub history: Vec<Transition>,
    /// The quorum certificate's signers (attestation addresses), in a router network.
    #[serde(default)]
    pub certificate_signers: Option<Vec<String>>,
    /// The L1 checkpoint that certifies it, when its chain is checkpointed and a quorum signed.
    #[serde(default)]
    pub checkpoint: Option<CheckpointView>,
    /// What it moves, when it is a canonical-token message and the config names the ledger.
    #[serde(default)]
    pub transfer: Option<TransferView>,
    /// Its open payment in its source chain's gas tank (issue 27), read live by
    /// `GET /messages/{id}`: none if nobody paid, or once settled or released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentView>,
    /// How its payment was settled, once it was (read live by `GET /messages/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<SettlementView>,
}

/// How a message's payment was settled (wei, as decimal strings).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SettlementView {
    /// Who relayed it (its L1 address, a 0x-hex word).
    pub relayer: String,
    /// What the relayer was credited.
    pub charge: String,
    /// Who sent the settlement (zero when settled in the relay itself).
    pub settler: String,
    /// The settler's share of the settlement's cost.
    pub share: String,
    /// What went back to the payer.
    pub refund: String,
}

impl From<xroute_adapters::Settlement> for SettlementView {
    fn from(s: xroute_adapters::Settlement) -> Self {
        Self {
            relayer: s.relayer.to_string(),
            charge: s.charge.to_string(),
            settler: s.settler.to_string(),
            share: s.share.to_string(),
            refund: s.refund.to_string(),
        }
    }
}

/// A message's open payment (its terms and what it reserves; amounts in wei, as decimal strings).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PaymentView {
    /// Who paid (an address of the source chain, 0x-hex word).
    pub payer: String,
    /// L1 gas paid for at most.
    pub gas_limit: u64,
    /// L1 unix time the relay must happen by.
    pub deadline: u64,
    /// The highest L1 base fee paid.
    pub max_base_fee: String,
    /// The highest priority fee on top.
    pub max_priority_fee: String,
    /// Toward the next leg's entry fee.
    pub leg_budget: String,
    /// What it reserves (its worst case).
    pub reserved: String,
    /// Where the payer wants a next leg's overpayment to go, if it chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_to: Option<String>,
}

impl From<xroute_adapters::Payment> for PaymentView {
    fn from(p: xroute_adapters::Payment) -> Self {
        Self {
            payer: p.payer.to_string(),
            gas_limit: p.gas_limit,
            deadline: p.deadline,
            max_base_fee: p.max_base_fee.to_string(),
            max_priority_fee: p.max_priority_fee.to_string(),
            leg_budget: p.leg_budget.to_string(),
            reserved: p.reserved.to_string(),
            refund_to: p.refund_to.map(|t| t.to_string()),
        }
    }
}

/// A message's L1 checkpoint (issue 16) as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CheckpointView {
    /// The source domain.
    pub domain: u32,
    /// The finalized L1 block that made the checkpoint's messages consumable.
    pub l1_block: u64,
    /// That block's hash.
    pub l1_block_hash: String,
    /// The Merkle root every signer signed.
    pub root: String,
    /// Messages in the checkpoint.
    pub count: u32,
    /// This message's leaf index.
    pub index: u32,
}

/// A relay transaction as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RelayView {
    /// Chain.
    pub chain: String,
    /// Hash.
    pub tx_hash: String,
    /// Nonce.
    pub nonce: u64,
    /// When sent (ms since the epoch).
    pub sent_at_ms: u64,
    /// L2 fee carried, wei (decimal).
    pub value: String,
}

/// Lowercase name of a stage.
pub fn stage_name(stage: Stage) -> String {
    format!("{stage:?}").to_lowercase()
}

/// Parses a stage name (any case).
pub fn parse_stage(s: &str) -> Option<Stage> {
    Stage::ALL
        .into_iter()
        .find(|st| stage_name(*st) == s.to_lowercase())
}

pub(super) fn view(app: &AppState, r: &MessageRecord) -> MessageView {
    MessageView {
        id: r.id.to_string(),
        stage: stage_name(r.stage),
        route: app.pipeline.metrics().route(r),
        src_domain: r.envelope.src_domain,
        dst_domain: r.envelope.dst_domain,
        nonce: r.envelope.nonce,
        sender: r.envelope.sender.to_string(),
        recipient: r.envelope.recipient.to_string(),
        payload_words: r.envelope.payload.len(),
        account: {
            let words: Vec<alloy_primitives::U256> = r
                .envelope
                .payload
                .iter()
                .map(|w| alloy_primitives::U256::from_be_bytes(w.0))
                .collect();
            xroute_proofs::accounts::describe(&words)
        },
        attempts: r.attempts,
        reason: r.reason.clone(),
        what_to_do: super::advice::what_to_do(r),
        source_tx: r.source.tx_hash.to_string(),
        source_block: r.source.block_number,
        seen_at_ms: r.seen_at_ms,
        relays: r
            .relays
            .iter()
            .map(|a| RelayView {
                chain: app
                    .pipeline
                    .chains()
                    .name_of(a.domain)
                    .map_or_else(|| format!("domain {}", a.domain), str::to_string),
                tx_hash: a.tx_hash.to_string(),
                nonce: a.nonce,
                sent_at_ms: a.sent_at_ms,
                value: a.value.to_string(),
            })
            .collect(),
        history: r.history.clone(),
        certificate_signers: app.network.as_ref().and_then(|n| {
            if let Some((_, cp)) = n.checkpoint_certificate(r).ok().flatten() {
                return Some(cp.signers.iter().map(|a| a.to_string()).collect());
            }
            let qc = n.certificate(&r.id).ok().flatten()?;
            let signers = n.signers(&qc).ok()?;
            Some(signers.iter().map(|a| a.to_string()).collect())
        }),
        checkpoint: app.network.as_ref().and_then(|n| {
            let (place, cp) = n.checkpoint_certificate(r).ok().flatten()?;
            Some(CheckpointView {
                domain: place.domain,
                l1_block: place.l1_block,
                l1_block_hash: cp.claim.l1_block_hash.to_string(),
                root: cp.claim.root.to_string(),
                count: cp.claim.count,
                index: place.index,
            })
        }),
        transfer: app.ledger.and_then(|ledger| transfer_of(app, ledger, r)),
        payment: None,
        settlement: None,
    }
}
