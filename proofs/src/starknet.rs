//! Starknet ⇄ Ethereum native messaging (the core contract's `StarknetMessaging`).
//!
//! Both hashes are keccak256 over 32-byte big-endian words, exactly as the L1 contract packs them,
//! so a value computed here can be looked up in `l1ToL2Messages` / `l2ToL1Messages` on L1.

use alloy_primitives::{Address, B256, U256, keccak256};
use starknet_rust_core::crypto::compute_hash_on_elements;
pub use starknet_rust_core::types::Felt;

use crate::{Error, Result};

/// `"l1_handler"` as a felt: the L1-handler transaction hash prefix.
pub const L1_HANDLER_PREFIX: Felt = Felt::from_hex_unchecked("0x6c315f68616e646c6572");
/// Starknet mainnet's chain id, `"SN_MAIN"`.
pub const SN_MAIN: Felt = Felt::from_hex_unchecked("0x534e5f4d41494e");
/// Starknet Sepolia's chain id, `"SN_SEPOLIA"`.
pub const SN_SEPOLIA: Felt = Felt::from_hex_unchecked("0x534e5f5345504f4c4941");

/// keccak256(from_l1_address ‖ to_l2_address ‖ nonce ‖ selector ‖ payload.len ‖ payload…): the key of
/// `l1ToL2Messages` for a message sent with `sendMessageToL2`.
pub fn l1_to_l2_message_hash(
    from_l1: Address,
    to_l2: Felt,
    selector: Felt,
    nonce: U256,
    payload: &[Felt],
) -> B256 {
    let mut words = Vec::with_capacity(32 * (5 + payload.len()));
    words.extend_from_slice(from_l1.into_word().as_slice());
    words.extend_from_slice(&to_l2.to_bytes_be());
    words.extend_from_slice(&nonce.to_be_bytes::<32>());
    words.extend_from_slice(&selector.to_bytes_be());
    push_payload(&mut words, payload);
    keccak256(words)
}

/// keccak256(from_l2_address ‖ to_l1_address ‖ payload.len ‖ payload…): the key of `l2ToL1Messages`,
/// which `consumeMessageFromL2` decrements when `to_l1` (the caller) consumes the message.
pub fn l2_to_l1_message_hash(from_l2: Felt, to_l1: Address, payload: &[Felt]) -> B256 {
    let mut words = Vec::with_capacity(32 * (3 + payload.len()));
    words.extend_from_slice(&from_l2.to_bytes_be());
    words.extend_from_slice(to_l1.into_word().as_slice());
    push_payload(&mut words, payload);
    keccak256(words)
}

/// The hash of the L1-handler transaction (version 0) that executes an L1 → L2 message on L2:
/// `H(["l1_handler", 0, to_l2, selector, H([from_l1, …payload]), 0, chain_id, nonce])` where `H` is
/// Starknet's Pedersen hash chain over a list (`compute_hash_on_elements`).
pub fn l1_handler_tx_hash(
    from_l1: Address,
    to_l2: Felt,
    selector: Felt,
    nonce: Felt,
    payload: &[Felt],
    chain_id: Felt,
) -> Felt {
    let mut calldata = Vec::with_capacity(1 + payload.len());
    calldata.push(Felt::from_bytes_be_slice(from_l1.as_slice()));
    calldata.extend_from_slice(payload);
    compute_hash_on_elements(&[
        L1_HANDLER_PREFIX,
        Felt::ZERO,
        to_l2,
        selector,
        compute_hash_on_elements(&calldata),
        Felt::ZERO,
        chain_id,
        nonce,
    ])
}

fn push_payload(words: &mut Vec<u8>, payload: &[Felt]) {
    words.extend_from_slice(&U256::from(payload.len()).to_be_bytes::<32>());
    for word in payload {
        words.extend_from_slice(&word.to_bytes_be());
    }
}

/// A 32-byte word as a felt; `what` names the input in the error when the word is ≥ the prime.
pub fn felt_from_word(what: &'static str, word: B256) -> Result<Felt> {
    felt_from_u256(what, U256::from_be_bytes(word.0))
}

/// An L1 `uint256` as a felt; `what` names the input in the error when the word is ≥ the prime.
pub fn felt_from_u256(what: &'static str, value: U256) -> Result<Felt> {
    let bytes = value.to_be_bytes::<32>();
    let felt = Felt::from_bytes_be(&bytes);
    // Felt::from_bytes_be reduces modulo the prime; a round trip tells whether it had to.
    if felt.to_bytes_be() == bytes {
        Ok(felt)
    } else {
        Err(Error::NotAFelt {
            what,
            value: format!("{value:#x}"),
        })
    }
}

/// A felt as the L1 `uint256` word it is packed as.
pub fn felt_to_u256(value: Felt) -> U256 {
    U256::from_be_bytes(value.to_bytes_be())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        crate::test_vectors()
    }

    fn felt(v: &Value) -> Felt {
        Felt::from_hex(v.as_str().unwrap()).unwrap()
    }

    fn felts(v: &Value) -> Vec<Felt> {
        v.as_array().unwrap().iter().map(felt).collect()
    }

    fn b256(v: &Value) -> B256 {
        v.as_str().unwrap().parse().unwrap()
    }

    #[test]
    fn l1_to_l2_hash_matches_public_vectors() {
        let vectors = vectors();
        let cases = vectors["starknet_l1_to_l2"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let hash = l1_to_l2_message_hash(
                case["from_address"].as_str().unwrap().parse().unwrap(),
                felt(&case["to_address"]),
                felt(&case["selector"]),
                U256::from(case["nonce"].as_u64().unwrap()),
                &felts(&case["payload"]),
            );
            assert_eq!(hash, b256(&case["message_hash"]), "{}", case["source"]);
        }
    }

    #[test]
    fn l2_to_l1_hash_matches_public_vectors() {
        let vectors = vectors();
        let cases = vectors["starknet_l2_to_l1"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let hash = l2_to_l1_message_hash(
                felt(&case["from_address"]),
                case["to_address"].as_str().unwrap().parse().unwrap(),
                &felts(&case["payload"]),
            );
            assert_eq!(hash, b256(&case["message_hash"]), "{}", case["source"]);
        }
    }

    #[test]
    fn l1_handler_tx_hash_matches_public_vectors() {
        let vectors = vectors();
        for case in vectors["starknet_l1_to_l2"].as_array().unwrap() {
            let hash = l1_handler_tx_hash(
                case["from_address"].as_str().unwrap().parse().unwrap(),
                felt(&case["to_address"]),
                felt(&case["selector"]),
                Felt::from(case["nonce"].as_u64().unwrap()),
                &felts(&case["payload"]),
                felt(&case["chain_id"]),
            );
            assert_eq!(
                hash,
                felt(&case["l1_handler_tx_hash"]),
                "{}",
                case["source"]
            );
        }
    }

    proptest::proptest! {
        // Cross-check against the starknet-rs family's own message types.
        #[test]
        fn hashes_agree_with_starknet_rs(
            from in proptest::array::uniform20(proptest::num::u8::ANY),
            to in proptest::array::uniform31(proptest::num::u8::ANY),
            selector in proptest::array::uniform31(proptest::num::u8::ANY),
            nonce in proptest::num::u64::ANY,
            payload in proptest::collection::vec(proptest::array::uniform31(proptest::num::u8::ANY), 0..8),
        ) {
            use starknet_rust_core::types::{EthAddress, MsgToL1, MsgToL2};
            let to = Felt::from_bytes_be_slice(&to);
            let selector = Felt::from_bytes_be_slice(&selector);
            let payload: Vec<Felt> = payload.iter().map(|p| Felt::from_bytes_be_slice(p)).collect();
            let from_l1 = Address::from(from);
            let theirs = MsgToL2 {
                from_address: EthAddress::from_bytes(from),
                to_address: to,
                selector,
                payload: payload.clone(),
                nonce,
            };
            proptest::prop_assert_eq!(
                l1_to_l2_message_hash(from_l1, to, selector, U256::from(nonce), &payload).0,
                theirs.hash().as_bytes().to_owned()
            );
            let theirs = MsgToL1 { from_address: to, to_address: Felt::from_bytes_be_slice(&from), payload: payload.clone() };
            proptest::prop_assert_eq!(
                l2_to_l1_message_hash(to, from_l1, &payload).0,
                theirs.hash().as_bytes().to_owned()
            );
        }
    }

    #[test]
    fn felt_from_u256_rejects_words_at_or_above_the_prime() {
        let prime = U256::from(1u8) << 251 | U256::from(17u8) << 192 | U256::from(1u8);
        assert_eq!(
            felt_from_u256("w", prime - U256::from(1u8)).unwrap(),
            Felt::MAX
        );
        let err = felt_from_u256("payload[3]", prime).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("payload[3]: 0x8000000000000110"),
            "{err}"
        );
        assert!(felt_from_u256("w", U256::MAX).is_err());
    }
}
