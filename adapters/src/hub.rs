//! xroute's L1 Hub contract, as every family sees it: bindings generated from the committed
//! artifact (`contracts/evm/out/Hub.json`, built by `contracts/build`), what all families share
//! (`outbound[id]`, `relayFromL1`, `relayBatch`, the envelope's words) and what the Hub's own
//! reverts mean ([`classify_revert`]). A family's own relay call (`relayFromStarknet`,
//! `relayFromArbitrum`) and what its rollup bridge reverts with are built and read in the
//! family's module; the hub chain's adapter is handed those readers ([`BridgeReverts`]).

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    sol_types::{SolCall, SolInterface},
};

use crate::{Call, Revert};

mod bindings {
    #![allow(missing_docs, unreachable_pub)]
    alloy::sol!(
        #[sol(rpc, all_derives)]
        Hub,
        "../contracts/evm/out/Hub.json"
    );
}
pub use bindings::{GasTank, Hub};

// Rebuild this crate when the artifact changes (the `sol!` above reads it, untracked).
const _: &[u8] = include_bytes!("../../contracts/evm/out/Hub.json");

/// Storage slot of the Hub's `outbound` mapping (solc's layout, recorded in the artifact's
/// `storage`; a unit test compares, and an integration test reads it by proof).
pub const OUTBOUND_SLOT: u64 = 6;

/// The storage key of `outbound[id]`.
pub fn outbound_key(id: B256) -> B256 {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(id.as_slice());
    key[32..].copy_from_slice(&U256::from(OUTBOUND_SLOT).to_be_bytes::<32>());
    keccak256(key)
}

fn words(words: &[B256]) -> Vec<U256> {
    words.iter().map(|w| U256::from_be_bytes(w.0)).collect()
}

/// `Hub.relayFromL1(words, entry)`: forwards a message waiting in `outbound` (an L1 app's, or one
/// that arrived from an Arbitrum domain) into its rollup.
pub fn relay_from_l1(hub: Address, envelope: &[B256], entry: &Bytes) -> Call {
    let data = Hub::relayFromL1Call {
        words: words(envelope),
        entry: entry.clone(),
    }
    .abi_encode();
    Call::evm(hub, Bytes::from(data), U256::ZERO)
}

/// `Hub.relayBatch(members)`, or `relayBatchMetered` when `metered`: the relay calls `members`
/// (each the Hub's own, with the fee it pays as its value) in one transaction; the value is the
/// sum of the fees.
pub fn relay_batch(hub: Address, members: &[Call], metered: bool) -> Call {
    let members: Vec<Hub::Member> = members
        .iter()
        .map(|m| Hub::Member {
            call: m.data.clone(),
            fee: m.value,
        })
        .collect();
    let value = members
        .iter()
        .fold(U256::ZERO, |sum, m| sum.saturating_add(m.fee));
    let data = if metered {
        Hub::relayBatchMeteredCall { members }.abi_encode()
    } else {
        Hub::relayBatchCall { members }.abi_encode()
    };
    Call::evm(hub, Bytes::from(data), value)
}

/// `Hub.settle(src, claimedGas, entry)`, `value` its L1 → L2 fee: sends source domain `src`'s
/// receipt commitment to that rollup's gas tank, claiming `claimed_gas` for the settlement.
pub fn settle(hub: Address, src: u32, claimed_gas: u64, entry: &Bytes, value: U256) -> Call {
    let data = Hub::settleCall {
        src,
        claimedGas: claimed_gas,
        entry: entry.clone(),
    }
    .abi_encode();
    Call::evm(hub, Bytes::from(data), value)
}

/// The Hub's `RelaysMetered` events (every receipt of every metered relay), in blocks
/// `from..=to`.
pub fn receipts_filter(hub: Address, from: u64, to: u64) -> alloy::rpc::types::Filter {
    use alloy::sol_types::SolEvent;
    alloy::rpc::types::Filter::new()
        .address(hub)
        .event_signature(Hub::RelaysMetered::SIGNATURE_HASH)
        .from_block(from)
        .to_block(to)
}

/// The receipts of `RelaysMetered` logs, in log order (logs of other events are skipped).
pub fn receipts_of(
    logs: &[alloy::rpc::types::Log],
) -> Vec<xroute_proofs::metering::MeteredReceipt> {
    use alloy::sol_types::SolEvent;
    logs.iter()
        .filter_map(|log| Hub::RelaysMetered::decode_log(&log.inner).ok())
        .flat_map(|e| {
            let e = e.data;
            xroute_proofs::metering::MeteredReceipt::unpack(
                e.relayer,
                e.gasPrice,
                e.time.saturating_to(),
                &e.receipts,
            )
        })
        .collect()
}

/// What a settlement claims below what its `eth_call` measured: the claim's calldata, shorter
/// than the probe's `u64::MAX`, costs up to 8 × 12 gas less.
pub const SETTLE_CLAIM_MARGIN: u64 = 100;

/// The gas `Hub.settle` measured, from the revert of an `eth_call` that claimed more
/// (`SettleGasAboveCost`); `None` for any other revert.
pub fn settle_measured(data: &[u8]) -> Option<u64> {
    match Hub::HubErrors::abi_decode(data) {
        Ok(Hub::HubErrors::SettleGasAboveCost(e)) => u64::try_from(e.measured).ok(),
        _ => None,
    }
}

/// What a simulation of `Hub.relayBatch` answered (`out`: the call's return data): per member,
/// whether it passes and its gas, or what its revert means (`bridges`: see [`classify_revert`]).
pub fn batch_results(
    out: &[u8],
    bridges: &[BridgeReverts],
) -> Result<Vec<crate::Simulated>, alloy::sol_types::Error> {
    let results = Hub::relayBatchCall::abi_decode_returns(out)?;
    Ok(results
        .into_iter()
        .map(|r| {
            if r.ok {
                crate::Simulated::Passes {
                    gas: u64::try_from(r.gasUsed).unwrap_or(u64::MAX),
                }
            } else {
                crate::Simulated::Reverts(classify_revert(&r.data, "", bridges))
            }
        })
        .collect())
}

/// The words of an envelope as the Hub's ABI takes them.
pub fn envelope_words(envelope: &[B256]) -> Vec<U256> {
    words(envelope)
}

/// What a rollup bridge's error, bubbled up through the Hub, means for the message (`None`: not
/// one of that bridge's errors). Each family whose relays call into a bridge has one.
pub type BridgeReverts = fn(data: &[u8]) -> Option<Revert>;

/// What a Hub revert means for the message: `data` is the revert data, `message` the node's text;
/// data that is not a Hub error is read by each of `bridges` in turn.
pub fn classify_revert(data: &[u8], message: &str, bridges: &[BridgeReverts]) -> Revert {
    use Hub::HubErrors as E;
    let Ok(error) = E::abi_decode(data) else {
        if let Some(revert) = bridges.iter().find_map(|read| read(data)) {
            return revert;
        }
        let reason = alloy::sol_types::decode_revert_reason(data)
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| message.to_string());
        return Revert::Transient(reason);
    };
    match error {
        E::AlreadyProcessed(e) => Revert::AlreadyDone(format!("AlreadyProcessed({})", e.id)),
        E::NotPending(e) => Revert::AlreadyDone(format!("NotPending({})", e.id)),
        E::UnknownDomain(e) => Revert::Permanent(format!(
            "the Hub does not know destination domain {}",
            e.domain
        )),
        E::NotStarknetDomain(e) => Revert::Permanent(format!(
            "the Hub has no Starknet-family source domain {}",
            e.domain
        )),
        E::UnknownEndpoint(e) => Revert::Permanent(format!(
            "endpoint {:#x} is not the Hub's endpoint of domain {}",
            e.endpoint, e.domain
        )),
        E::WrongSourceDomain(e) => Revert::Permanent(format!(
            "the envelope says source domain {}, relayed from {}",
            e.declared, e.relayedFrom
        )),
        E::BadRecipient(e) => {
            Revert::Permanent(format!("recipient {} is not a contract on L1", e.recipient))
        }
        E::WordNotAFelt(e) => Revert::Permanent(format!(
            "word {} ({:#x}) is not a Starknet felt",
            e.index, e.word
        )),
        E::EnvelopeLength(_)
        | E::EnvelopeReservedBits(_)
        | E::EnvelopeTruncated(_)
        | E::EnvelopeVersion(_) => {
            Revert::Permanent(format!("the Hub refuses the envelope: {error:?}"))
        }
        E::FeeMismatch(e) => Revert::Transient(format!(
            "fee mismatch: expected {}, paid {}",
            e.expected, e.paid
        )),
        E::NotOwner(e) => Revert::Transient(format!("NotOwner({})", e.caller)),
        E::NotArbitrumDomain(e) => Revert::Permanent(format!(
            "the Hub has no Arbitrum-family domain {}",
            e.domain
        )),
        E::NotBridge(e) => Revert::Permanent(format!(
            "{} is not the Bridge {} of the message's source domain",
            e.caller, e.bridge
        )),
        E::BadEntry(e) => Revert::Permanent(format!(
            "the entry terms for domain {} are {} bytes, not 128",
            e.domain, e.length
        )),
        // The batch's own errors, not a member's: the router sends the members alone.
        E::BadBatchMember(e) => {
            Revert::Transient(format!("batch member {} is not a relay call", e.index))
        }
        E::BatchOutOfGas(e) => Revert::Transient(format!(
            "batch member {} ran out of gas ({} given, {} left)",
            e.index, e.given, e.left
        )),
        E::RefundFailed(e) => {
            Revert::Transient(format!("refund of {} to {} failed", e.amount, e.to))
        }
        // The owner raised the floor since the quote: quote again.
        E::EntryBelowFloor(e) => Revert::Transient(format!(
            "the retryable terms (gas limit {}, fee cap {}) are below the Hub's floor for domain {}",
            e.gasLimit, e.maxFeePerGas, e.domain
        )),
        E::FeeAboveCap(e) => Revert::Permanent(format!(
            "the fee {} toward domain {} is above its cap {}",
            e.fee, e.domain, e.cap
        )),
        E::NotTheSender(e) => {
            Revert::Permanent(format!("{} did not send message {}", e.caller, e.id))
        }
        // The L1 gas tank's errors: not a relay's.
        E::ZeroGasLimit(_)
        | E::DeadlinePassed(_)
        | E::InsufficientBalance(_)
        | E::AlreadyPaid(_)
        | E::NotPaid(_)
        | E::NotThePayer(_)
        | E::NotReleasable(_)
        | E::WithdrawFailed(_)
        | E::UnknownRoute(_)
        | E::NoTank(_)
        | E::NothingToSettle(_)
        | E::SettleGasAboveCost(_) => {
            Revert::Permanent(format!("the Hub's gas tank refuses: {error:?}"))
        }
        // An L1 recipient's revert, too long to keep: what an app's revert means is its own.
        E::RevertDataTooLong(e) => Revert::Transient(format!(
            "the recipient {} reverted with {} bytes (selector {})",
            e.callee, e.size, e.selector
        )),
    }
}

#[cfg(test)]
mod tests {
    use alloy::sol_types::SolError;

    use super::*;

    #[test]
    fn the_outbound_slot_is_the_one_the_artifact_records() {
        let artifact: serde_json::Value =
            serde_json::from_str(include_str!("../../contracts/evm/out/Hub.json")).unwrap();
        let slot = artifact["storage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["label"] == "outbound")
            .map(|v| v["slot"].as_str().unwrap().parse::<u64>().unwrap());
        assert_eq!(slot, Some(OUTBOUND_SLOT));
    }

    #[test]
    fn reverts_are_classified_by_the_hub_error() {
        let id = B256::repeat_byte(7);
        let done = Hub::AlreadyProcessed { id }.abi_encode();
        assert!(
            matches!(classify_revert(&done, "", &[]), Revert::AlreadyDone(r) if r.contains("AlreadyProcessed"))
        );
        let bad = Hub::BadRecipient { recipient: id }.abi_encode();
        assert!(
            matches!(classify_revert(&bad, "", &[]), Revert::Permanent(r) if r.contains("not a contract on L1"))
        );
        let fee = Hub::FeeMismatch {
            expected: U256::from(2),
            paid: U256::from(1),
        }
        .abi_encode();
        assert!(matches!(
            classify_revert(&fee, "", &[]),
            Revert::Transient(_)
        ));
        assert_eq!(
            classify_revert(&[], "out of gas", &[]),
            Revert::Transient("out of gas".into())
        );
    }
}
