//! Value parsers for the command line: numbers in decimal or 0x-hex, felts below the field prime,
//! fixed-length hex, comma-separated lists. Each error says what is wrong with the value; clap
//! adds the argument's name.

use alloy_primitives::{Address, B256, Bytes, U256};
use xroute_proofs::starknet::{Felt, SN_MAIN, SN_SEPOLIA, felt_from_u256};

/// A non-negative integer, decimal or 0x-hex, up to 2^256 − 1.
pub(crate) fn number(s: &str) -> Result<U256, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty value; expected a decimal or 0x-hex number".into());
    }
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => {
            if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("{s:?} is not valid 0x-hex"));
            }
            if hex.len() > 64 {
                return Err(format!(
                    "{s:?} has {} hex digits; at most 64 fit in 256 bits",
                    hex.len()
                ));
            }
            U256::from_str_radix(hex, 16)
        }
        None => {
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "{s:?} is not a number (use decimal digits or 0x-hex)"
                ));
            }
            U256::from_str_radix(s, 10)
        }
    };
    parsed.map_err(|_| format!("{s:?} does not fit in 256 bits"))
}

/// An integer that fits in 64 bits.
pub(crate) fn u64_number(s: &str) -> Result<u64, String> {
    let n = number(s)?;
    u64::try_from(n).map_err(|_| format!("{s:?} does not fit in 64 bits"))
}

/// A Starknet field element: a number below 2^251 + 17·2^192 + 1.
pub(crate) fn felt(s: &str) -> Result<Felt, String> {
    let n = number(s)?;
    felt_from_u256("value", n)
        .map_err(|_| format!("{s:?} is not below the Starknet field prime 2^251 + 17·2^192 + 1"))
}

/// A Starknet chain id: a felt, or `SN_MAIN` / `SN_SEPOLIA`.
pub(crate) fn chain_id(s: &str) -> Result<Felt, String> {
    match s.trim() {
        "SN_MAIN" => Ok(SN_MAIN),
        "SN_SEPOLIA" => Ok(SN_SEPOLIA),
        other => felt(other).map_err(|e| format!("{e} (or use SN_MAIN / SN_SEPOLIA)")),
    }
}

fn fixed_hex(s: &str, len: usize, what: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| format!("{s:?} must start with 0x ({what})"))?;
    let bytes = decode_hex(hex).map_err(|e| format!("{s:?}: {e}"))?;
    if bytes.len() != len {
        return Err(format!(
            "{s:?} is {} bytes; {what} is {len} bytes",
            bytes.len()
        ));
    }
    Ok(bytes)
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", hex.len()));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(hex.get(i..i + 2).unwrap_or(""), 16)
                .map_err(|_| format!("invalid hex digit at position {i}"))
        })
        .collect()
}

/// A 20-byte 0x-hex Ethereum address.
pub(crate) fn address(s: &str) -> Result<Address, String> {
    Ok(Address::from_slice(&fixed_hex(s, 20, "an address")?))
}

/// A 32-byte 0x-hex hash.
pub(crate) fn hash(s: &str) -> Result<B256, String> {
    Ok(B256::from_slice(&fixed_hex(s, 32, "a hash")?))
}

/// 0x-hex bytes of any length (`0x` alone is empty).
pub(crate) fn hex_bytes(s: &str) -> Result<Bytes, String> {
    let s = s.trim();
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| format!("{s:?} must start with 0x"))?;
    decode_hex(hex)
        .map(Bytes::from)
        .map_err(|e| format!("{s:?}: {e}"))
}

/// A 32-byte word given as a number (decimal or 0x-hex).
pub(crate) fn word(s: &str) -> Result<B256, String> {
    number(s).map(B256::from)
}

/// A comma-separated list; an empty string is an empty list. Errors name the element.
pub(crate) fn list<T>(s: &str, item: fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .enumerate()
        .map(|(i, part)| item(part).map_err(|e| format!("element {i}: {e}")))
        .collect()
}

/// A parsed comma-separated list (a newtype, so clap takes it as one value, not repeated flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct List<T>(pub(crate) Vec<T>);

/// A list of felts.
pub(crate) fn felts(s: &str) -> Result<List<Felt>, String> {
    list(s, felt).map(List)
}

/// A list of 32-byte hashes.
pub(crate) fn hashes(s: &str) -> Result<List<B256>, String> {
    list(s, hash).map(List)
}

/// A list of 32-byte words given as numbers.
pub(crate) fn words(s: &str) -> Result<List<B256>, String> {
    list(s, word).map(List)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_take_decimal_and_hex() {
        assert_eq!(number("255").unwrap(), U256::from(255));
        assert_eq!(number("0xff").unwrap(), U256::from(255));
        assert!(number("0x").is_err());
        assert!(number("12a").is_err());
        assert!(number(&format!("0x1{}", "0".repeat(64))).is_err());
        assert!(u64_number("18446744073709551616").is_err());
    }

    #[test]
    fn felts_are_checked_against_the_prime() {
        let p = "0x800000000000011000000000000000000000000000000000000000000000001";
        assert!(felt(p).unwrap_err().contains("field prime"));
        assert!(felt("0x800000000000011000000000000000000000000000000000000000000000000").is_ok());
        assert_eq!(chain_id("SN_MAIN").unwrap(), SN_MAIN);
    }

    #[test]
    fn hex_lengths_are_checked() {
        assert!(
            address("0x1234")
                .unwrap_err()
                .contains("2 bytes; an address is 20 bytes")
        );
        assert!(
            address("1234567890123456789012345678901234567890")
                .unwrap_err()
                .contains("0x")
        );
        assert!(hash("0xzz").is_err());
        assert_eq!(hex_bytes("0x").unwrap().len(), 0);
        assert!(felts("1,2,0xnope").unwrap_err().starts_with("element 2:"));
        assert!(felts("").unwrap().0.is_empty());
    }
}
