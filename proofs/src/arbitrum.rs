//! Arbitrum (nitro) ⇄ Ethereum: address aliasing, retryable ticket ids, L2 → L1 send hashes and
//! outbox Merkle proofs.

use alloy_primitives::{Address, B256, Bytes, U160, U256, keccak256};
use alloy_rlp::{Encodable, Header};

use crate::{Error, Result, merkle};

/// The offset nitro adds to an L1 contract's address when it acts on L2.
pub const ALIAS_OFFSET: U160 =
    U160::from_limbs([0x0000_0000_0000_1111, 0x0000_0000_0000_0000, 0x1111_0000]);

/// The L2 address an L1 contract acts as: `l1 + 0x1111000000000000000000000000000000001111` mod 2^160.
pub fn alias(l1: Address) -> Address {
    Address::from(
        U160::from_be_bytes(l1.0.0)
            .wrapping_add(ALIAS_OFFSET)
            .to_be_bytes(),
    )
}

/// The L1 address behind an aliased L2 sender.
pub fn unalias(l2: Address) -> Address {
    Address::from(
        U160::from_be_bytes(l2.0.0)
            .wrapping_sub(ALIAS_OFFSET)
            .to_be_bytes(),
    )
}

/// The fields of a retryable ticket as the L2 sees them (`ArbitrumSubmitRetryableTx`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryableTicket {
    /// L2 chain id.
    pub chain_id: u64,
    /// The inbox message number (`InboxMessageDelivered.messageNum`).
    pub message_number: U256,
    /// The aliased L1 sender.
    pub from: Address,
    /// L1 base fee at submission.
    pub l1_base_fee: U256,
    /// Deposit value.
    pub deposit: U256,
    /// Max fee per L2 gas.
    pub max_fee_per_gas: U256,
    /// L2 gas limit.
    pub gas_limit: u64,
    /// Destination (zero for contract creation).
    pub to: Address,
    /// Value passed to the L2 call.
    pub l2_call_value: U256,
    /// Refund address for the call value.
    pub call_value_refund_address: Address,
    /// Max submission cost.
    pub max_submission_cost: U256,
    /// Refund address for excess fees.
    pub excess_fee_refund_address: Address,
    /// Calldata.
    pub data: Bytes,
}

/// The ticket type byte of `ArbitrumSubmitRetryableTx`.
pub const SUBMIT_RETRYABLE_TX_TYPE: u8 = 0x69;

impl RetryableTicket {
    /// The ticket id, which is the L2 transaction hash of the submission:
    /// `keccak256(0x69 ‖ rlp([chainId, pad32(messageNum), from, l1BaseFee, deposit, maxFeePerGas,
    /// gasLimit, to or empty, l2CallValue, callValueRefund, maxSubmissionCost, excessFeeRefund,
    /// data]))`.
    pub fn id(&self) -> B256 {
        let mut fields = Vec::with_capacity(256 + self.data.len());
        U256::from(self.chain_id).encode(&mut fields);
        B256::from(self.message_number).encode(&mut fields);
        self.from.encode(&mut fields);
        self.l1_base_fee.encode(&mut fields);
        self.deposit.encode(&mut fields);
        self.max_fee_per_gas.encode(&mut fields);
        self.gas_limit.encode(&mut fields);
        if self.to == Address::ZERO {
            Bytes::new().encode(&mut fields);
        } else {
            self.to.encode(&mut fields);
        }
        self.l2_call_value.encode(&mut fields);
        self.call_value_refund_address.encode(&mut fields);
        self.max_submission_cost.encode(&mut fields);
        self.excess_fee_refund_address.encode(&mut fields);
        self.data.encode(&mut fields);
        let mut out = Vec::with_capacity(fields.len() + 10);
        out.push(SUBMIT_RETRYABLE_TX_TYPE);
        Header {
            list: true,
            payload_length: fields.len(),
        }
        .encode(&mut out);
        out.extend_from_slice(&fields);
        keccak256(out)
    }
}

/// The words before the call data in a retryable's `InboxMessageDelivered.data`.
const RETRYABLE_HEADER_WORDS: usize = 9;

impl RetryableTicket {
    /// The ticket a retryable's inbox message describes: `data` is `InboxMessageDelivered.data`,
    /// `abi.encodePacked(to, l2CallValue, deposit, maxSubmissionCost, excessFeeRefund,
    /// callValueRefund, gasLimit, maxFeePerGas, data.length, data)`; `from` (already aliased)
    /// and `l1_base_fee` come from the Bridge's `MessageDelivered` of the same message number.
    pub fn from_inbox_message(
        chain_id: u64,
        message_number: U256,
        from: Address,
        l1_base_fee: U256,
        data: &[u8],
    ) -> Result<Self> {
        const WHAT: &str = "retryable inbox message";
        let need = RETRYABLE_HEADER_WORDS * 32;
        if data.len() < need {
            return Err(Error::Truncated {
                what: WHAT,
                need,
                got: data.len(),
            });
        }
        let word = |i: usize| U256::from_be_slice(&data[i * 32..(i + 1) * 32]);
        let address = |i: usize| -> Result<Address> {
            let w = word(i);
            if w >> 160 != U256::ZERO {
                return Err(Error::Malformed {
                    what: WHAT,
                    reason: format!("word {i} ({w:#x}) is not an address"),
                });
            }
            Ok(Address::from_word(B256::from(w)))
        };
        let length = word(8);
        let body = &data[need..];
        if U256::from(body.len()) != length {
            return Err(Error::Malformed {
                what: WHAT,
                reason: format!(
                    "declares {length} bytes of call data, carries {}",
                    body.len()
                ),
            });
        }
        let gas_limit = u64::try_from(word(6)).map_err(|_| Error::Malformed {
            what: WHAT,
            reason: format!("gas limit {} does not fit 64 bits", word(6)),
        })?;
        Ok(Self {
            chain_id,
            message_number,
            from,
            l1_base_fee,
            deposit: word(2),
            max_fee_per_gas: word(7),
            gas_limit,
            to: address(0)?,
            l2_call_value: word(1),
            call_value_refund_address: address(5)?,
            max_submission_cost: word(3),
            excess_fee_refund_address: address(4)?,
            data: Bytes::copy_from_slice(body),
        })
    }
}

/// The least submission cost the Inbox accepts for a retryable with `data_len` bytes of call
/// data at L1 base fee `base_fee`: `(1400 + 6 · data_len) · base_fee`.
pub fn submission_fee(data_len: usize, base_fee: U256) -> U256 {
    U256::from(1400 + 6 * data_len as u64).saturating_mul(base_fee)
}

/// An L2 → L1 message as ArbSys's `L2ToL1Tx` event describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2ToL1Send {
    /// The L2 contract that called `sendTxToL1`.
    pub caller: Address,
    /// The L1 destination.
    pub destination: Address,
    /// L2 block number.
    pub arb_block_num: U256,
    /// L1 block number as the L2 saw it.
    pub eth_block_num: U256,
    /// L2 timestamp.
    pub timestamp: U256,
    /// Call value.
    pub value: U256,
    /// Calldata for L1.
    pub data: Bytes,
}

impl L2ToL1Send {
    /// `keccak256(caller ‖ destination ‖ arbBlockNum ‖ ethBlockNum ‖ timestamp ‖ value ‖ data)`.
    pub fn hash(&self) -> B256 {
        let mut buf = Vec::with_capacity(40 + 128 + self.data.len());
        buf.extend_from_slice(self.caller.as_slice());
        buf.extend_from_slice(self.destination.as_slice());
        for word in [
            self.arb_block_num,
            self.eth_block_num,
            self.timestamp,
            self.value,
        ] {
            buf.extend_from_slice(&word.to_be_bytes::<32>());
        }
        buf.extend_from_slice(&self.data);
        keccak256(buf)
    }
}

/// The outbox leaf of a send: `keccak256(sendHash)`.
pub fn outbox_leaf(send_hash: B256) -> B256 {
    keccak256(send_hash)
}

/// The outbox root a proof leads to (`Outbox.calculateMerkleRoot(proof, index, sendHash)`).
pub fn outbox_root_from_proof(send_hash: B256, index: u64, proof: &[B256]) -> Result<B256> {
    merkle::root_from_proof(outbox_leaf(send_hash), index, proof)
}

/// The send root after `sends` (ArbSys's accumulator root, what the rollup posts to the Outbox).
pub fn outbox_root(sends: &[B256]) -> B256 {
    let leaves: Vec<B256> = sends.iter().map(|s| outbox_leaf(*s)).collect();
    merkle::root(&leaves)
}

/// The proof for send `index` in an accumulator of `sends` (what
/// `NodeInterface.constructOutboxProof(sends.len(), index)` returns).
pub fn outbox_proof(sends: &[B256], index: u64) -> Result<Vec<B256>> {
    let leaves: Vec<B256> = sends.iter().map(|s| outbox_leaf(*s)).collect();
    merkle::proof(&leaves, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn u256(v: &Value) -> U256 {
        v.as_str().unwrap().parse().unwrap()
    }

    #[test]
    fn retryable_ticket_id_matches_public_vectors() {
        let vectors = crate::test_vectors();
        let cases = vectors["arbitrum_retryable"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let from: Address = case["aliased_sender"].as_str().unwrap().parse().unwrap();
            let l1: Address = case["l1_sender"].as_str().unwrap().parse().unwrap();
            assert_eq!(alias(l1), from, "alias of the L1 sender");
            assert_eq!(unalias(from), l1);
            let ticket = RetryableTicket {
                chain_id: case["chain_id"].as_u64().unwrap(),
                message_number: u256(&case["message_number"]),
                from,
                l1_base_fee: u256(&case["l1_base_fee"]),
                deposit: u256(&case["deposit"]),
                max_fee_per_gas: u256(&case["max_fee_per_gas"]),
                gas_limit: u256(&case["gas_limit"]).to(),
                to: case["to"].as_str().unwrap().parse().unwrap(),
                l2_call_value: u256(&case["l2_call_value"]),
                call_value_refund_address: case["call_value_refund_address"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
                max_submission_cost: u256(&case["max_submission_cost"]),
                excess_fee_refund_address: case["excess_fee_refund_address"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
                data: case["data"].as_str().unwrap().parse().unwrap(),
            };
            assert_eq!(
                ticket.id(),
                case["retryable_ticket_id"]
                    .as_str()
                    .unwrap()
                    .parse::<B256>()
                    .unwrap(),
                "{}",
                case["source"]
            );
        }
    }

    #[test]
    fn an_inbox_message_decodes_to_its_ticket() {
        let ticket = RetryableTicket {
            chain_id: 412346,
            message_number: U256::from(7),
            from: alias(Address::repeat_byte(0x11)),
            l1_base_fee: U256::from(1_000),
            deposit: U256::from(5_000_000),
            max_fee_per_gas: U256::from(200),
            gas_limit: 90_000,
            to: Address::repeat_byte(0x22),
            l2_call_value: U256::ZERO,
            call_value_refund_address: Address::repeat_byte(0x33),
            max_submission_cost: U256::from(4_000),
            excess_fee_refund_address: Address::repeat_byte(0x44),
            data: Bytes::from(vec![1, 2, 3, 4, 5]),
        };
        let mut data = Vec::new();
        for w in [
            ticket.to.into_word().into(),
            ticket.l2_call_value,
            ticket.deposit,
            ticket.max_submission_cost,
            ticket.excess_fee_refund_address.into_word().into(),
            ticket.call_value_refund_address.into_word().into(),
            U256::from(ticket.gas_limit),
            ticket.max_fee_per_gas,
            U256::from(ticket.data.len()),
        ] {
            data.extend_from_slice(&B256::from(w).0);
        }
        data.extend_from_slice(&ticket.data);
        let decoded = RetryableTicket::from_inbox_message(
            ticket.chain_id,
            ticket.message_number,
            ticket.from,
            ticket.l1_base_fee,
            &data,
        )
        .unwrap();
        assert_eq!(decoded, ticket);
        let err = RetryableTicket::from_inbox_message(
            1,
            U256::ZERO,
            Address::ZERO,
            U256::ZERO,
            &data[..data.len() - 1],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("declares 5 bytes of call data, carries 4"),
            "{err}"
        );
        assert!(
            RetryableTicket::from_inbox_message(
                1,
                U256::ZERO,
                Address::ZERO,
                U256::ZERO,
                &data[..100]
            )
            .is_err()
        );
        assert_eq!(submission_fee(5, U256::from(10)), U256::from(14_300));
    }

    #[test]
    fn alias_wraps_around() {
        let max = Address::repeat_byte(0xff);
        assert_eq!(unalias(alias(max)), max);
        assert_eq!(
            alias(Address::ZERO),
            "0x1111000000000000000000000000000000001111"
                .parse::<Address>()
                .unwrap()
        );
    }

    #[test]
    fn outbox_proofs_lead_to_the_accumulator_root() {
        let sends: Vec<B256> = (0u8..11).map(|i| keccak256([i])).collect();
        let root = outbox_root(&sends);
        for i in 0..sends.len() as u64 {
            let proof = outbox_proof(&sends, i).unwrap();
            assert_eq!(
                outbox_root_from_proof(sends[i as usize], i, &proof).unwrap(),
                root
            );
        }
    }
}
