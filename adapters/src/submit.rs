//! Sending transactions on a chain, whatever its family: [`Submitter`] and the [`Lease`] it hands
//! out.
//!
//! The router records a transaction before it leaves the process, so sending is split in two under
//! one nonce lock: [`Submitter::lease`] takes the lock; [`Lease::sign`] builds and signs the
//! transaction (its hash and raw bytes are known before anything is sent); the caller persists it;
//! [`Lease::broadcast`] sends it and, only if the node accepted it, moves the nonce on. A refused
//! transaction, or a crash between signing and sending, leaves no nonce gap, and a persisted raw
//! transaction can be sent again unchanged ([`Submitter::rebroadcast`]).

use alloy::primitives::{B256, Bytes, U256};
use async_trait::async_trait;

use crate::{Call, Result};

/// A transaction's fee bounds: at most `gas_limit` units at at most `max_fee_per_gas` each, of
/// which `max_priority_fee_per_gas` is the tip. (An EVM transaction's EIP-1559 fields; a
/// Starknet invoke's L2 gas bounds and tip.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// Gas limit.
    pub gas_limit: u64,
    /// Max fee per gas unit.
    pub max_fee_per_gas: u128,
    /// Priority fee (tip) per gas unit.
    pub max_priority_fee_per_gas: u128,
}

impl Fees {
    /// The fees of a replacement for a stuck transaction: both prices up by a quarter (nodes
    /// require at least a tenth to replace a transaction), at least the current market `floor`.
    pub fn bumped(&self, floor: Option<Fees>) -> Fees {
        let up = |v: u128| v.saturating_add(v / 4).max(v.saturating_add(1));
        let mut out = Fees {
            gas_limit: self.gas_limit,
            max_fee_per_gas: up(self.max_fee_per_gas),
            max_priority_fee_per_gas: up(self.max_priority_fee_per_gas),
        };
        if let Some(floor) = floor {
            out.max_fee_per_gas = out.max_fee_per_gas.max(floor.max_fee_per_gas);
            out.max_priority_fee_per_gas = out
                .max_priority_fee_per_gas
                .max(floor.max_priority_fee_per_gas);
        }
        out.max_priority_fee_per_gas = out.max_priority_fee_per_gas.min(out.max_fee_per_gas);
        out
    }
}

/// A signed transaction, not yet (or not known to be) sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// Its hash.
    pub hash: B256,
    /// The sender's nonce it uses.
    pub nonce: u64,
    /// What the node is sent (an EIP-2718 envelope; a Starknet broadcasted invoke as JSON): kept
    /// to send it again unchanged after a restart, and to re-sign the same call when it is stuck.
    pub raw: Bytes,
    /// Its fee bounds (a replacement starts from them).
    pub fees: Fees,
}

/// The outcome of a mined transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mined {
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Whether it succeeded.
    pub success: bool,
    /// Gas used.
    pub gas_used: u64,
    /// What the transaction cost its sender: `gasUsed × effectiveGasPrice` on an EVM chain, the
    /// actual fee on a Starknet-family chain.
    pub fee_paid: U256,
}

/// What a revert means for the message whose call it is, read from the revert data by the chain
/// that knows the contracts' errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revert {
    /// The call was already made (the Hub processed the id): nothing to pay for.
    AlreadyDone(String),
    /// The call can never pass as it is (bad recipient, unknown domain, a non-felt word…): park
    /// the message with this reason.
    Permanent(String),
    /// Anything else (not consumable yet, out of gas, an unknown error): try again later.
    Transient(String),
}

/// What [`Submitter::estimate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Estimate {
    /// The call succeeds with these fees.
    Ok(Fees),
    /// The call reverts.
    Reverts(Revert),
}

/// Sends transactions on one chain from one account.
#[async_trait]
pub trait Submitter: Send + Sync + std::fmt::Debug {
    /// The sending account (32 bytes: an EVM address is left-padded).
    fn sender(&self) -> B256;

    /// Fee bounds (with headroom) for `call` at today's prices, or what its revert means.
    async fn estimate(&self, call: &Call) -> Result<Estimate>;

    /// Takes the nonce lock. Hold the lease only as long as sign → persist → broadcast takes.
    async fn lease(&self) -> Box<dyn Lease + '_>;

    /// Sends an already signed transaction again (after a restart, or while it is pending). A
    /// node that already has it, or already mined its nonce, is not an error: [`Self::receipt`]
    /// tells what became of it.
    async fn rebroadcast(&self, tx: &SignedTx) -> Result<()>;

    /// The outcome of transaction `hash`, once mined.
    async fn receipt(&self, hash: B256) -> Result<Option<Mined>>;

    /// The nonce of the next transaction the chain would mine from this account.
    async fn mined_nonce(&self) -> Result<u64>;
}

/// The right to send the next transaction of a [`Submitter`], held across sign → persist →
/// broadcast.
#[async_trait]
pub trait Lease: Send {
    /// Signs `call` with `fees` under the lease's next nonce. Nothing is sent.
    async fn sign(&mut self, call: &Call, fees: Fees) -> Result<SignedTx>;

    /// Signs a replacement of `stuck` (the same call under the same nonce) with higher fees, at
    /// least today's market. Nothing is sent.
    async fn replace(&mut self, stuck: &SignedTx) -> Result<SignedTx>;

    /// Sends `tx`. If the node accepts it (or already has it) the nonce moves on; if it refuses
    /// it, the nonce stays for the next transaction.
    async fn broadcast(&mut self, tx: &SignedTx) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_raises_both_prices_by_at_least_a_tenth_and_respects_the_floor() {
        let fees = Fees {
            gas_limit: 100_000,
            max_fee_per_gas: 1_000,
            max_priority_fee_per_gas: 100,
        };
        let bumped = fees.bumped(None);
        assert_eq!(bumped.max_fee_per_gas, 1_250);
        assert_eq!(bumped.max_priority_fee_per_gas, 125);
        assert_eq!(bumped.gas_limit, 100_000);
        let floor = Fees {
            gas_limit: 0,
            max_fee_per_gas: 5_000,
            max_priority_fee_per_gas: 7_000,
        };
        let bumped = fees.bumped(Some(floor));
        assert_eq!(bumped.max_fee_per_gas, 5_000);
        assert_eq!(bumped.max_priority_fee_per_gas, 5_000);
        // Zero prices still move.
        let zero = Fees {
            gas_limit: 1,
            max_fee_per_gas: 0,
            max_priority_fee_per_gas: 0,
        };
        assert_eq!(zero.bumped(None).max_fee_per_gas, 1);
    }
}
