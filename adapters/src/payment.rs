//! Payments for relays (issue 27) as the chains' gas tanks hold them: a message's payment and its
//! terms, a settlement, a tank's state and balances, and what `xroute tank` asks of a tank.

use alloy::primitives::{B256, U256};
use serde::{Deserialize, Serialize};
use xroute_proofs::{envelope::MessageId, metering::MeteredReceipt};

/// A payment for relaying one message (issue 27), as the gas tank of the message's source chain
/// holds it (the Hub's own for an L1 app's message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Who paid (an address of the tank's chain, as a word).
    pub payer: B256,
    /// L1 gas paid for at most.
    pub gas_limit: u64,
    /// L1 unix time the relay must happen by.
    pub deadline: u64,
    /// The highest L1 base fee the payer pays (wei).
    pub max_base_fee: u128,
    /// The highest priority fee on top (wei).
    pub max_priority_fee: u128,
    /// Wei toward the next leg's entry fee.
    pub leg_budget: u128,
    /// What the payment reserves: its worst case.
    pub reserved: U256,
    /// Where the payer wants a next leg's overpayment to go (a word of the destination's
    /// addresses), if it chose (on an EVM tank, its own address by default).
    #[serde(default)]
    pub refund_to: Option<B256>,
}

impl Payment {
    /// The highest gas price the payer pays.
    pub fn cap(&self) -> U256 {
        self.terms().cap()
    }

    /// Its terms.
    pub fn terms(&self) -> Terms {
        Terms {
            gas_limit: self.gas_limit,
            deadline: self.deadline,
            max_base_fee: self.max_base_fee,
            max_priority_fee: self.max_priority_fee,
            leg_budget: self.leg_budget,
        }
    }
}

/// The terms of a payment (what `pay` and `top_up` take).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// L1 gas paid for at most.
    pub gas_limit: u64,
    /// L1 unix time the relay must happen by.
    pub deadline: u64,
    /// The highest L1 base fee the payer pays (wei).
    pub max_base_fee: u128,
    /// The highest priority fee on top (wei).
    pub max_priority_fee: u128,
    /// Wei toward the next leg's entry fee.
    pub leg_budget: u128,
}

impl Terms {
    /// The highest gas price paid.
    pub fn cap(&self) -> U256 {
        U256::from(self.max_base_fee) + U256::from(self.max_priority_fee)
    }

    /// What a payment on these terms reserves.
    pub fn worst_case(&self) -> U256 {
        U256::from(self.gas_limit) * self.cap() + U256::from(self.leg_budget)
    }

    /// What a relay that cost `r` is charged on these terms (the tanks' formula:
    /// `min(gas, gas_limit) × min(gas price, cap) + min(fee, leg_budget)`).
    pub fn charge(&self, r: &MeteredReceipt) -> U256 {
        U256::from(r.gas.min(self.gas_limit)) * r.gas_price.min(self.cap())
            + U256::from(r.fee.min(self.leg_budget))
    }
}

/// What a user does with a chain's gas tank (`xroute tank`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TankAction {
    /// Adds `amount` of the caller's native token (the fee token on a Starknet-family chain) to
    /// `account`'s balance.
    Deposit {
        /// Whose balance.
        account: B256,
        /// How much.
        amount: U256,
    },
    /// Sends `amount` of the caller's balance to `to`.
    Withdraw {
        /// How much.
        amount: U256,
        /// Where.
        to: B256,
    },
    /// Pays for relaying message `id` from `src` to `dst` on `terms`.
    Pay {
        /// The message.
        id: MessageId,
        /// Its source domain.
        src: u32,
        /// Its destination domain.
        dst: u32,
        /// The terms.
        terms: Terms,
    },
    /// The payer replaces the terms of its payment for `id`.
    TopUp {
        /// The message.
        id: MessageId,
        /// The new terms.
        terms: Terms,
    },
    /// Pays a relayer's credits out: on a Starknet-family chain to the address L1 account
    /// `relayer` bound; on an EVM chain the caller's whole balance to itself.
    Claim {
        /// The relayer's L1 address (Starknet-family chains).
        relayer: B256,
    },
}

/// Where an account stands in a chain's gas tank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TankBalance {
    /// Its balance (not reserved).
    pub balance: U256,
    /// What it earned as an L1 relayer and has not claimed (Starknet-family chains; on an EVM
    /// chain a relayer's credits are its balance).
    pub claimable: U256,
}

/// How a payment was settled: what the relayer was charged, the settler's share of the
/// settlement's cost, and what went back to the payer (wei).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Who relayed (an L1 address, as a word).
    pub relayer: B256,
    /// What the relayer was credited.
    pub charge: U256,
    /// Who sent the settlement (zero when settled in the relay itself).
    pub settler: B256,
    /// Its share of the settlement's cost.
    pub share: U256,
    /// What went back to the payer.
    pub refund: U256,
}

/// Where a chain's gas tank stands, for its settlements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TankState {
    /// The commitment over the receipts settled there (head << 64 | count).
    pub settled: U256,
    /// The end (exclusive) of the commitment from the Hub that waits there to be settled from
    /// the count of `settled`, if one arrived.
    pub waiting_to: Option<u64>,
}
