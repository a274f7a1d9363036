//! Reading the router's keys from their files, in one place: the EVM relayer key, a
//! Starknet-family account key, the attestation key, the libp2p node key.
//!
//! A key file is either an **encrypted keystore** (Web3 Secret Storage v3, scrypt, the format
//! `geth`, alloy and starknet-rs read; `xroute init` and `xroute keys new|import` write it) or a
//! **plain** file holding one 0x-hex key (surrounding whitespace ignored), which still loads with a
//! warning. The keystores' passphrase is asked once per process: set by the command line
//! (`--password-file`), or from `XROUTE_KEYSTORE_PASSWORD_FILE` / `XROUTE_KEYSTORE_PASSWORD`, or
//! prompted for on a terminal. Errors name the config field and the file, never the key.

use std::{
    collections::HashSet,
    io::IsTerminal,
    path::{Path, PathBuf},
    sync::Mutex,
};

use alloy::signers::local::PrivateKeySigner;
use starknet_rust::core::types::Felt;
use zeroize::Zeroizing;

use crate::{AdapterError, Result};

/// The environment variable naming a file that holds the keystores' passphrase.
pub const PASSWORD_FILE_ENV: &str = "XROUTE_KEYSTORE_PASSWORD_FILE";
/// The environment variable holding the keystores' passphrase itself.
pub const PASSWORD_ENV: &str = "XROUTE_KEYSTORE_PASSWORD";

/// The passphrase, once known (from [`set_passphrase`], the environment or the prompt).
static PASSPHRASE: Mutex<Option<Zeroizing<String>>> = Mutex::new(None);
/// Plain key files already warned about.
static WARNED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// How a key file stores its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// Web3 Secret Storage (scrypt + AES-128-CTR), passphrase needed.
    Keystore,
    /// One 0x-hex key in the clear.
    Plain,
}

impl KeyFormat {
    /// `keystore` or `plain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keystore => "keystore",
            Self::Plain => "plain",
        }
    }
}

/// The passphrase for every keystore this process opens (e.g. from `--password-file`).
pub fn set_passphrase(passphrase: Zeroizing<String>) {
    *PASSPHRASE.lock().unwrap_or_else(|e| e.into_inner()) = Some(passphrase);
}

/// Whether [`set_passphrase`] (or an earlier prompt) already gave the passphrase.
pub fn passphrase_is_set() -> bool {
    PASSPHRASE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some()
}

/// The passphrase held in `path`: its first line, without the line break.
pub fn read_passphrase_file(path: &Path) -> std::io::Result<Zeroizing<String>> {
    let text = Zeroizing::new(std::fs::read_to_string(path)?);
    let line = text.lines().next().unwrap_or_default();
    Ok(Zeroizing::new(line.to_string()))
}

/// The keystores' passphrase: set, from the environment, or prompted for on a terminal.
/// `field` and `path` name the keystore that needs it.
pub fn passphrase(field: &str, path: &Path) -> Result<Zeroizing<String>> {
    let mut held = PASSPHRASE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = held.as_ref() {
        return Ok(p.clone());
    }
    let found = if let Some(file) = std::env::var_os(PASSWORD_FILE_ENV) {
        read_passphrase_file(Path::new(&file)).map_err(|e| {
            AdapterError::config(
                PASSWORD_FILE_ENV,
                format!(
                    "cannot read the passphrase file {}: {e}",
                    Path::new(&file).display()
                ),
            )
        })?
    } else if let Ok(p) = std::env::var(PASSWORD_ENV) {
        Zeroizing::new(p)
    } else if std::io::stdin().is_terminal() {
        Zeroizing::new(
            rpassword::prompt_password(format!("passphrase for {}: ", path.display())).map_err(
                |e| AdapterError::config(field, format!("cannot read the passphrase: {e}")),
            )?,
        )
    } else {
        return Err(AdapterError::config(
            field,
            format!(
                "{} is an encrypted keystore and no passphrase was given: pass \
                 --password-file, set {PASSWORD_FILE_ENV} or {PASSWORD_ENV}, or run on a terminal",
                path.display()
            ),
        ));
    };
    *held = Some(found.clone());
    Ok(found)
}

/// The text of key file `path` (configured as `field`).
fn read(field: &str, path: &Path) -> Result<Zeroizing<String>> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|e| {
            AdapterError::config(
                field,
                format!("cannot read key file {}: {e}", path.display()),
            )
        })
}

fn is_keystore(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// How `path` stores its key.
pub fn format_of(field: &str, path: &Path) -> Result<KeyFormat> {
    Ok(if is_keystore(&read(field, path)?) {
        KeyFormat::Keystore
    } else {
        KeyFormat::Plain
    })
}

/// The most work a keystore's key derivation may ask for: scrypt up to N = 2^20 with r ≤ 8 and
/// p ≤ 4 (1 GiB at most; geth's "standard" is 2^18, 256 MiB), PBKDF2 up to 10,000,000 rounds. A
/// file asking for more would make the router allocate or compute without bound before the
/// passphrase is even checked.
const MAX_SCRYPT_LOG_N: u32 = 20;
const MAX_SCRYPT_R: u64 = 8;
const MAX_SCRYPT_P: u64 = 4;
const MAX_PBKDF2_ROUNDS: u64 = 10_000_000;

/// Checks, before anything is derived, that `text` is a keystore whose key derivation stays
/// within the bounds above and whose derived key and ciphertext have the sizes of a key.
pub fn check_keystore_bounds(text: &str) -> std::result::Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let crypto = v
        .get("crypto")
        .or_else(|| v.get("Crypto"))
        .ok_or("no `crypto` object")?;
    let params = &crypto["kdfparams"];
    let number = |name: &str| -> std::result::Result<u64, String> {
        params[name]
            .as_u64()
            .ok_or_else(|| format!("kdfparams.{name} is not a whole number"))
    };
    if number("dklen")? != 32 {
        return Err("kdfparams.dklen is not 32".into());
    }
    match crypto["kdf"].as_str() {
        Some("scrypt") => {
            let n = number("n")?;
            if !n.is_power_of_two() || n < 2 || n.trailing_zeros() > MAX_SCRYPT_LOG_N {
                return Err(format!(
                    "kdfparams.n = {n} is not a power of two from 2 to 2^{MAX_SCRYPT_LOG_N}"
                ));
            }
            let (r, p) = (number("r")?, number("p")?);
            if r == 0 || r > MAX_SCRYPT_R || p == 0 || p > MAX_SCRYPT_P {
                return Err(format!(
                    "kdfparams r = {r}, p = {p} are outside 1..={MAX_SCRYPT_R} and 1..={MAX_SCRYPT_P}"
                ));
            }
        }
        Some("pbkdf2") => {
            let c = number("c")?;
            if c == 0 || c > MAX_PBKDF2_ROUNDS {
                return Err(format!(
                    "kdfparams.c = {c} is outside 1..={MAX_PBKDF2_ROUNDS}"
                ));
            }
        }
        other => return Err(format!("kdf {other:?} is neither scrypt nor pbkdf2")),
    }
    let ciphertext = crypto["ciphertext"].as_str().ok_or("no ciphertext")?;
    if ciphertext.len() > 128 {
        return Err(format!(
            "the ciphertext is {} hex characters, more than a key's",
            ciphertext.len()
        ));
    }
    Ok(())
}

/// The secret bytes of the keystore at `path`, decrypted with the process's passphrase.
fn decrypt(field: &str, path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let text = read(field, path)?;
    check_keystore_bounds(&text).map_err(|reason| {
        AdapterError::config(
            field,
            format!(
                "{} is not a keystore this router reads: {reason}",
                path.display()
            ),
        )
    })?;
    let passphrase = passphrase(field, path)?;
    eth_keystore::decrypt_key(path, passphrase.as_bytes())
        .map(Zeroizing::new)
        .map_err(|e| {
            let reason = match e {
                eth_keystore::KeystoreError::MacMismatch => {
                    format!("wrong passphrase for keystore {}", path.display())
                }
                other => format!(
                    "{} is not a readable Web3 Secret Storage keystore: {other}",
                    path.display()
                ),
            };
            AdapterError::config(field, reason)
        })
}

fn warn_plain(field: &str, path: &Path) {
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned.get_or_insert_default().insert(path.to_path_buf()) {
        tracing::warn!(
            field,
            file = %path.display(),
            "key file holds a plain key; encrypt it with `xroute keys import`"
        );
    }
}

/// The 32 secret bytes of the key at `path`: a keystore's content, or a plain file's hex.
/// `parse_plain` turns a plain file's text into the bytes (it differs per key kind).
fn secret32(
    field: &str,
    path: &Path,
    kind: &str,
    parse_plain: impl Fn(&str) -> Option<[u8; 32]>,
) -> Result<Zeroizing<[u8; 32]>> {
    let text = read(field, path)?;
    if is_keystore(&text) {
        let bytes = decrypt(field, path)?;
        let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            AdapterError::config(
                field,
                format!(
                    "keystore {} holds {} bytes, not a 32-byte {kind} key",
                    path.display(),
                    bytes.len()
                ),
            )
        })?;
        return Ok(Zeroizing::new(array));
    }
    let parsed = parse_plain(text.trim()).ok_or_else(|| {
        AdapterError::config(
            field,
            format!(
                "key file {} does not hold a 0x-hex {kind} key",
                path.display()
            ),
        )
    })?;
    warn_plain(field, path);
    Ok(Zeroizing::new(parsed))
}

fn plain_secp256k1(text: &str) -> Option<[u8; 32]> {
    let signer: PrivateKeySigner = text.parse().ok()?;
    Some(signer.to_bytes().0)
}

fn plain_felt(text: &str) -> Option<[u8; 32]> {
    Felt::from_hex(text).ok().map(|f| f.to_bytes_be())
}

/// A secp256k1 key (an EVM account, or the attestation key) from `path`.
pub fn secp256k1(field: &str, path: &Path) -> Result<PrivateKeySigner> {
    let secret = secret32(field, path, "secp256k1", plain_secp256k1)?;
    PrivateKeySigner::from_slice(secret.as_slice()).map_err(|_| {
        AdapterError::config(
            field,
            format!("{} does not hold a valid secp256k1 key", path.display()),
        )
    })
}

/// A Starknet signing key (a felt) from `path`.
pub fn felt(field: &str, path: &Path) -> Result<Felt> {
    let secret = secret32(field, path, "Starknet", plain_felt)?;
    let key = Felt::from_bytes_be(&secret);
    if key == Felt::ZERO || key.to_bytes_be() != *secret {
        return Err(AdapterError::config(
            field,
            format!(
                "{} does not hold a Starknet key (zero, or not below the field prime)",
                path.display()
            ),
        ));
    }
    Ok(key)
}

/// The 32-byte ed25519 secret of a libp2p node key kept in the keystore at `path`.
pub fn ed25519_secret(field: &str, path: &Path) -> Result<Zeroizing<[u8; 32]>> {
    secret32(field, path, "ed25519", |_| None)
}

/// Writes `secret` as a new keystore at `path` (mode 0600), encrypted with `passphrase`. Never
/// replaces an existing file: the keystore is written beside it and linked into place only if
/// `path` is still free.
pub fn write_keystore(path: &Path, secret: &[u8; 32], passphrase: &str) -> Result<()> {
    let fail = |reason: String| AdapterError::config(path.display().to_string(), reason);
    if path.exists() {
        return Err(fail("already exists; keys are never overwritten".into()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| fail(format!("cannot create its folder: {e}")))?;
    let name = path
        .file_name()
        .ok_or_else(|| fail("is not a file name".into()))?
        .to_string_lossy()
        .into_owned();
    let temp = format!(".{name}.{}.tmp", std::process::id());
    let mut rng = rand08::rngs::OsRng;
    eth_keystore::encrypt_key(&dir, &mut rng, secret, passphrase, Some(&temp))
        .map_err(|e| fail(format!("cannot write the keystore: {e}")))?;
    let temp = dir.join(temp);
    let placed = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::hard_link(&temp, path))
    };
    let _ = std::fs::remove_file(&temp);
    placed.map_err(|e| fail(format!("cannot put the keystore in place: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keystore_asking_for_unbounded_work_is_refused_before_any_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        write_keystore(&path, &[7u8; 32], "pass").unwrap();
        let good = std::fs::read_to_string(&path).unwrap();
        assert_eq!(check_keystore_bounds(&good), Ok(()));
        let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
        // N = 2^40: terabytes of scrypt memory if it were derived.
        v["crypto"]["kdfparams"]["n"] = serde_json::json!(1u64 << 40);
        let hostile = dir.path().join("hostile.json");
        std::fs::write(&hostile, v.to_string()).unwrap();
        // Refused before the passphrase is asked for (none is needed to see it).
        let err = secp256k1("chains[0].signer_key_file", &hostile)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains(
                "hostile.json is not a keystore this router reads: kdfparams.n = 1099511627776"
            ),
            "{err}"
        );
        for (field, value, says) in [
            (
                "r",
                serde_json::json!(1u64 << 30),
                "kdfparams r = 1073741824",
            ),
            ("dklen", serde_json::json!(64), "dklen is not 32"),
        ] {
            let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
            v["crypto"]["kdfparams"][field] = value;
            let why = check_keystore_bounds(&v.to_string()).unwrap_err();
            assert!(why.contains(says), "{why}");
        }
    }

    #[test]
    fn a_key_file_that_is_not_a_key_is_named_and_its_content_is_not_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
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
        let missing = secp256k1("p2p.attestation_key_file", &dir.path().join("none.key"))
            .map_or_else(|e| e.to_string(), |_| String::new());
        assert!(
            missing.starts_with("p2p.attestation_key_file: cannot read key file"),
            "{missing}"
        );
        let good = dir.path().join("good.key");
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
        assert_eq!(format_of("k", &good).ok(), Some(KeyFormat::Plain));
    }

    /// One test owns the process-wide passphrase: a keystore written with it decrypts to the same
    /// key, is mode 0600 and not overwritten; a wrong passphrase is one line naming the file.
    #[test]
    fn keystores_round_trip_and_a_wrong_passphrase_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l1.json");
        let key: [u8; 32] =
            alloy::hex::decode("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
                .unwrap()
                .try_into()
                .unwrap();
        write_keystore(&path, &key, "right horse").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"scrypt\"") && !text.contains("ac0974bec"),
            "{text}"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(write_keystore(&path, &key, "x").is_err());
        assert_eq!(format_of("k", &path).ok(), Some(KeyFormat::Keystore));

        set_passphrase(Zeroizing::new("wrong".into()));
        let err = secp256k1("chains.ethereum.signer_key_file", &path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "chains.ethereum.signer_key_file: wrong passphrase for keystore {}",
                path.display()
            )
        );
        set_passphrase(Zeroizing::new("right horse".into()));
        let signer = secp256k1("k", &path).unwrap();
        assert_eq!(
            signer.address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        let stark = dir.path().join("stark.json");
        let felt_key = Felt::from_hex("0x71d7bb07b9a64f6f78ac4c816aff4da9").unwrap();
        write_keystore(&stark, &felt_key.to_bytes_be(), "right horse").unwrap();
        assert_eq!(felt("k", &stark).unwrap(), felt_key);
    }
}
