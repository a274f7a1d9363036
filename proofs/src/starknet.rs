//! Starknet ⇄ Ethereum native messaging (the core contract's `StarknetMessaging`).
//!
//! Both hashes are keccak256 over 32-byte big-endian words, exactly as the L1 contract packs them,
//! so a value computed here can be looked up in `l1ToL2Messages` / `l2ToL1Messages` on L1.

use alloy_primitives::{Address, B256, U256, keccak256};
pub use starknet_rust_core::types::Felt;

use crate::{Error, Result};

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

fn push_payload(words: &mut Vec<u8>, payload: &[Felt]) {
    words.extend_from_slice(&U256::from(payload.len()).to_be_bytes::<32>());
    for word in payload {
        words.extend_from_slice(&word.to_bytes_be());
    }
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
        let path = std::env::var("XROUTE_VECTORS").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/vectors/public.json"
            )
            .to_string()
        });
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading test vectors {path}: {e} (set XROUTE_VECTORS)"));
        serde_json::from_str(&text).unwrap()
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
