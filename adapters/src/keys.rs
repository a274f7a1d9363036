//! Reading the router's keys from their files, in one place: the EVM relayer key, a
//! Starknet-family account key, the attestation key. A key file holds one 0x-hex key (surrounding
//! whitespace ignored). Errors name the config field and the file, never the key.

use std::path::Path;

use alloy::signers::local::PrivateKeySigner;
use starknet_rust::core::types::Felt;

use crate::{AdapterError, Result};

/// The text of key file `path` (configured as `field`).
fn read(field: &str, path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        AdapterError::config(
            field,
            format!("cannot read key file {}: {e}", path.display()),
        )
    })
}

/// A secp256k1 key (an EVM account, or the attestation key) from `path`.
pub fn secp256k1(field: &str, path: &Path) -> Result<PrivateKeySigner> {
    read(field, path)?.trim().parse().map_err(|_| {
        AdapterError::config(
            field,
            format!(
                "key file {} does not hold a 0x-hex secp256k1 key",
                path.display()
            ),
        )
    })
}

/// A Starknet signing key (a felt) from `path`.
pub fn felt(field: &str, path: &Path) -> Result<Felt> {
    Felt::from_hex(read(field, path)?.trim()).map_err(|_| {
        AdapterError::config(
            field,
            format!(
                "key file {} does not hold a 0x-hex Starknet key",
                path.display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_that_is_not_a_key_is_named_and_its_content_is_not_printed() {
        let dir = std::env::temp_dir().join(format!("xroute-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("bad.key");
        std::fs::write(&path, "0xnotakeyatall-secret\n").unwrap_or_default();
        for err in [
            secp256k1("chains[0].signer_key_file", &path).map(|_| ()),
            felt("chains[1].account_key_file", &path).map(|_| ()),
        ] {
            let text = err.map_or_else(|e| e.to_string(), |()| String::new());
            assert!(
                text.contains("bad.key") && text.contains("key_file"),
                "{text}"
            );
            assert!(!text.contains("secret"), "{text}");
        }
        let missing = secp256k1("p2p.attestation_key_file", &dir.join("none.key"))
            .map_or_else(|e| e.to_string(), |_| String::new());
        assert!(
            missing.starts_with("p2p.attestation_key_file: cannot read key file"),
            "{missing}"
        );
        let good = dir.join("good.key");
        std::fs::write(
            &good,
            " 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 \n",
        )
        .unwrap_or_default();
        let signer = secp256k1("k", &good).map(|s| s.address().to_string());
        assert_eq!(
            signer.ok().as_deref(),
            Some("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
