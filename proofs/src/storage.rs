//! Ethereum storage proofs: verify an `eth_getProof` answer against a block's state root, and
//! derive the storage slots of the Starknet messaging contract's message maps.
//!
//! A router never trusts one RPC's word that an L2 → L1 message is consumable: it reads
//! `l2ToL1Messages[h]` through a storage proof checked against the state root of a block whose
//! hash it knows.

use alloy_primitives::{Address, B256, Bytes, U64, U256, keccak256};
use alloy_trie::{Nibbles, TrieAccount, proof::verify_proof};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// An `eth_getProof` answer (EIP-1186).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountProof {
    /// The account.
    pub address: Address,
    /// Its balance.
    pub balance: U256,
    /// Its code hash.
    pub code_hash: B256,
    /// Its nonce.
    pub nonce: U64,
    /// Its storage root.
    pub storage_hash: B256,
    /// Trie nodes from the state root to the account.
    pub account_proof: Vec<Bytes>,
    /// One entry per requested slot.
    pub storage_proof: Vec<StorageProof>,
}

/// One slot of an [`AccountProof`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageProof {
    /// The slot, as requested (nodes may return it unpadded).
    pub key: U256,
    /// The value in the slot.
    pub value: U256,
    /// Trie nodes from the storage root to the slot.
    pub proof: Vec<Bytes>,
}

impl AccountProof {
    /// Checks the account part against `state_root`.
    pub fn verify_account(&self, state_root: B256) -> Result<()> {
        let account = TrieAccount {
            nonce: self.nonce.to(),
            balance: self.balance,
            storage_root: self.storage_hash,
            code_hash: self.code_hash,
        };
        verify_proof(
            state_root,
            Nibbles::unpack(keccak256(self.address)),
            Some(alloy_rlp::encode(account)),
            &self.account_proof,
        )
        .map_err(|e| Error::TrieProof {
            what: "account proof",
            root: state_root,
            reason: e.to_string(),
        })
    }

    /// Verifies the account against `state_root`, then `slot` against the account's storage root,
    /// and returns the proven value (zero when the proof shows the slot is empty).
    pub fn verify_slot(&self, state_root: B256, slot: B256) -> Result<U256> {
        self.verify_account(state_root)?;
        let entry = self
            .storage_proof
            .iter()
            .find(|p| B256::from(p.key) == slot)
            .ok_or_else(|| {
                Error::ProofMismatch(format!("the answer holds no proof for slot {slot}"))
            })?;
        let key = Nibbles::unpack(keccak256(slot));
        let check = |expected: Option<Vec<u8>>| {
            verify_proof(self.storage_hash, key, expected, &entry.proof).map_err(|e| {
                Error::TrieProof {
                    what: "storage proof",
                    root: self.storage_hash,
                    reason: e.to_string(),
                }
            })
        };
        if entry.value != U256::ZERO {
            check(Some(alloy_rlp::encode(entry.value)))?;
        } else {
            // Ethereum clients delete a zeroed slot from the trie, so zero is usually proven by
            // absence; anvil keeps a leaf holding RLP(0). Both mean zero.
            check(None)
                .or_else(|absent| check(Some(alloy_rlp::encode(U256::ZERO))).map_err(|_| absent))?;
        }
        Ok(entry.value)
    }

    /// Like [`Self::verify_slot`], and also checks the answer is about `address`.
    pub fn verify_slot_of(&self, address: Address, state_root: B256, slot: B256) -> Result<U256> {
        if self.address != address {
            return Err(Error::ProofMismatch(format!(
                "the answer is about account {}, not {address}",
                self.address
            )));
        }
        self.verify_slot(state_root, slot)
    }
}

/// The base slot of a `NamedStorage` mapping: `keccak256(tag)`.
pub fn named_mapping_base(tag: &str) -> B256 {
    keccak256(tag.as_bytes())
}

/// The slot of `mapping[key]` for a mapping at `base`: `keccak256(key ‖ base)`.
pub fn mapping_slot(key: B256, base: B256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(key.as_slice());
    buf[32..].copy_from_slice(base.as_slice());
    keccak256(buf)
}

/// Where a version of `StarknetMessaging` keeps its message maps. The tags changed between
/// versions of the contract, so which layout a deployment uses is configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagingLayout {
    /// `NamedStorage` tag of `l1ToL2Messages`.
    pub l1_to_l2_tag: String,
    /// `NamedStorage` tag of `l2ToL1Messages`.
    pub l2_to_l1_tag: String,
}

/// `l2ToL1Messages`' tag in every released StarknetMessaging.
pub const L2_TO_L1_TAG: &str = "STARKNET_1.0_MSGING_L2TOL1_MAPPPING";
/// `l1ToL2Messages`' tag since the fee-carrying version (the one Starknet mainnet runs).
pub const L1_TO_L2_TAG_V2: &str = "STARKNET_1.0_MSGING_L1TOL2_MAPPPING_V2";
/// `l1ToL2Messages`' tag before it.
pub const L1_TO_L2_TAG_V1: &str = "STARKNET_1.0_MSGING_L1TOL2_MAPPPING";

impl MessagingLayout {
    /// The layout of the StarknetMessaging Starknet mainnet runs.
    pub fn current() -> Self {
        Self {
            l1_to_l2_tag: L1_TO_L2_TAG_V2.into(),
            l2_to_l1_tag: L2_TO_L1_TAG.into(),
        }
    }

    /// The layout of the first StarknetMessaging.
    pub fn v1() -> Self {
        Self {
            l1_to_l2_tag: L1_TO_L2_TAG_V1.into(),
            l2_to_l1_tag: L2_TO_L1_TAG.into(),
        }
    }

    /// The slot of `l2ToL1Messages[message_hash]`.
    pub fn l2_to_l1_slot(&self, message_hash: B256) -> B256 {
        mapping_slot(message_hash, named_mapping_base(&self.l2_to_l1_tag))
    }

    /// The slot of `l1ToL2Messages[message_hash]`.
    pub fn l1_to_l2_slot(&self, message_hash: B256) -> B256 {
        mapping_slot(message_hash, named_mapping_base(&self.l1_to_l2_tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_keccak_of_key_then_named_base() {
        let h = B256::repeat_byte(0xab);
        let base = keccak256(L2_TO_L1_TAG.as_bytes());
        let mut buf = h.to_vec();
        buf.extend_from_slice(base.as_slice());
        assert_eq!(MessagingLayout::current().l2_to_l1_slot(h), keccak256(&buf));
        assert_ne!(
            MessagingLayout::current().l1_to_l2_slot(h),
            MessagingLayout::v1().l1_to_l2_slot(h)
        );
    }

    #[test]
    fn an_empty_proof_does_not_prove_an_account() {
        let proof = AccountProof {
            address: Address::repeat_byte(1),
            balance: U256::from(1),
            code_hash: B256::ZERO,
            nonce: U64::from(1),
            storage_hash: B256::ZERO,
            account_proof: vec![],
            storage_proof: vec![],
        };
        assert!(matches!(
            proof.verify_account(B256::repeat_byte(7)),
            Err(Error::TrieProof { .. })
        ));
    }
}
