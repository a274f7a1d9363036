//! The Hub's relay receipts and the commitment it keeps over them per source domain
//! (`contracts/evm/src/Metering.sol`), which each rollup's gas tank checks a settlement against.
//!
//! A receipt is what one metered relay cost: message `id` from domain `src`, relayed by `relayer`
//! at `time` (the L1 block's timestamp) and `gas_price`, costing `gas` L1 gas and `fee` wei
//! toward its next leg. The commitment is a 256-bit word: the high 192 bits a hash chain,
//! `head' = keccak256(abi.encode(head, keccak256(abi.encode(id, src, relayer, gas, gas_price,
//! fee, time)))) >> 64`, the low 64 bits the number of receipts folded in.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::SolValue;

/// One relay receipt, as the Hub's `RelaysMetered` event records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeteredReceipt {
    /// The relayed message.
    pub id: B256,
    /// Its source domain.
    pub src: u32,
    /// Its place in the source domain's commitment (0 for the first receipt ever).
    pub index: u32,
    /// Who relayed it (the transaction's sender).
    pub relayer: Address,
    /// The L1 gas it cost, its share of the transaction's fixed costs included.
    pub gas: u64,
    /// The transaction's gas price.
    pub gas_price: U256,
    /// Wei paid toward the next leg.
    pub fee: u128,
    /// The L1 block's timestamp.
    pub time: u64,
}

impl MeteredReceipt {
    /// The receipts of one `RelaysMetered` event: `words` in pairs, the id then
    /// `src << 224 | index << 192 | gas << 128 | fee`.
    pub fn unpack(relayer: Address, gas_price: U256, time: u64, words: &[B256]) -> Vec<Self> {
        words
            .chunks_exact(2)
            .map(|pair| {
                let w = pair[1].0;
                let word = |range: std::ops::Range<usize>| {
                    w[range]
                        .iter()
                        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
                };
                Self {
                    id: pair[0],
                    src: word(0..4) as u32,
                    index: word(4..8) as u32,
                    relayer,
                    gas: word(8..16) as u64,
                    gas_price,
                    fee: word(16..32),
                    time,
                }
            })
            .collect()
    }

    /// keccak256(abi.encode(id, src, relayer, gas, gas_price, fee, time)).
    pub fn hash(&self) -> B256 {
        keccak256(
            (
                self.id,
                U256::from(self.src),
                self.relayer,
                U256::from(self.gas),
                self.gas_price,
                U256::from(self.fee),
                U256::from(self.time),
            )
                .abi_encode(),
        )
    }
}

/// `meter` with `receipt` folded in.
pub fn fold(meter: U256, receipt: &MeteredReceipt) -> U256 {
    let head = U256::from_be_bytes(keccak256((meter >> 64usize, receipt.hash()).abi_encode()).0)
        >> 64usize;
    (head << 64usize) | U256::from(count(meter) + 1)
}

/// How many receipts `meter` holds.
pub fn count(meter: U256) -> u64 {
    (meter & U256::from(u64::MAX)).to::<u64>()
}

/// The commitment's 192-bit hash chain.
pub fn head(meter: U256) -> U256 {
    meter >> 64usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(n: u8) -> MeteredReceipt {
        MeteredReceipt {
            id: B256::repeat_byte(n),
            src: 7,
            index: u32::from(n),
            relayer: Address::repeat_byte(0xab),
            gas: 50_000 + u64::from(n),
            gas_price: U256::from(3_000_000_000u64),
            fee: 12,
            time: 1_700_000_000,
        }
    }

    #[test]
    fn a_packed_pair_unpacks_to_its_fields() {
        let r = receipt(3);
        let mut w = [0u8; 32];
        w[0..4].copy_from_slice(&r.src.to_be_bytes());
        w[4..8].copy_from_slice(&r.index.to_be_bytes());
        w[8..16].copy_from_slice(&r.gas.to_be_bytes());
        w[16..32].copy_from_slice(&r.fee.to_be_bytes());
        let got = MeteredReceipt::unpack(r.relayer, r.gas_price, r.time, &[r.id, B256::from(w)]);
        assert_eq!(got, vec![r]);
    }

    #[test]
    fn folding_counts_and_depends_on_every_field_and_the_order() {
        let (a, b) = (receipt(1), receipt(2));
        let ab = fold(fold(U256::ZERO, &a), &b);
        assert_eq!(count(ab), 2);
        assert_ne!(ab, fold(fold(U256::ZERO, &b), &a));
        assert!(head(ab) < U256::from(1u8) << 192usize);
        let mut later = b;
        later.time += 1;
        assert_ne!(ab, fold(fold(U256::ZERO, &a), &later));
    }
}
