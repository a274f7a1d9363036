#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `xroute init` and `xroute keys` with the binary: init writes a config that loads and four
//! encrypted keystores (mode 0600) whose addresses `keys list` and `keys address` agree on; it never
//! overwrites; a wrong passphrase is one line naming the file; an imported plain key keeps its
//! address and its secret is never printed.

use std::{os::unix::fs::PermissionsExt, path::Path};

use xroute_config::Config;

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");

fn xroute(args: &[&str], password_file: Option<&Path>) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(XROUTE);
    cmd.args(args)
        .env_remove("XROUTE_KEYSTORE_PASSWORD")
        .env_remove("XROUTE_KEYSTORE_PASSWORD_FILE")
        .stdin(std::process::Stdio::null());
    if let Some(p) = password_file {
        cmd.arg("--password-file").arg(p);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The second column of the output line starting with `kind` (what `init` prints per key).
fn identity_of(out: &str, kind: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{kind}  ")))
        .unwrap_or_else(|| panic!("no {kind} line in {out}"));
    line.splitn(3, "  ").nth(2).unwrap().trim().to_string()
}

#[test]
fn init_writes_a_loadable_config_and_encrypted_keys_for_each_network() {
    let tmp = tempfile::tempdir().unwrap();
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "a long operator passphrase\n").unwrap();
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "not it\n").unwrap();

    for network in ["sepolia", "mainnet", "local"] {
        let dir = tmp.path().join(network);
        let d = dir.to_str().unwrap();
        let (code, out, err) = xroute(&["init", "--network", network, "--dir", d], Some(&pass));
        assert_eq!(code, 0, "{network}: {err}");
        let config_path = dir.join("xroute.toml");
        let config = Config::load(&config_path).unwrap_or_else(|e| panic!("{network}: {e}"));
        assert!(config.hub_chain().is_some());
        for name in ["ethereum", "starknet", "attestation", "p2p"] {
            let file = dir.join("keys").join(format!("{name}.json"));
            let text = std::fs::read_to_string(&file).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(json["crypto"]["kdf"], "scrypt", "{}", file.display());
            assert_eq!(
                std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let evm = identity_of(&out, "evm");
        assert!(evm.starts_with("0x") && evm.len() == 42, "{out}");

        // keys list: every key of the config, decrypted, the same addresses init printed.
        let c = config_path.to_str().unwrap();
        let (code, list, err) = xroute(&["keys", "list", "--config", c], Some(&pass));
        assert_eq!(code, 0, "{err}");
        assert!(
            list.contains(&format!(
                "chains.ethereum.signer_key_file  evm  keystore  {}",
                dir.join("keys/ethereum.json").display()
            )) && list.contains(&evm),
            "{list}"
        );
        assert!(list.contains(&identity_of(&out, "starknet")), "{list}");
        for kind in ["attestation", "p2p", "starknet"] {
            let file = dir.join("keys").join(format!("{kind}.json"));
            let (code, shown, err) = xroute(
                &[
                    "keys",
                    "address",
                    "--kind",
                    kind,
                    "--file",
                    file.to_str().unwrap(),
                ],
                Some(&pass),
            );
            assert_eq!(code, 0, "{err}");
            assert_eq!(shown.trim(), identity_of(&out, kind));
        }

        // A wrong passphrase: one line per key, naming the field and the file; exit 1.
        let (code, list, _) = xroute(&["keys", "list", "--config", c], Some(&wrong));
        assert_eq!(code, 1);
        assert!(
            list.contains(&format!(
                "chains.ethereum.signer_key_file  FAIL  wrong passphrase for keystore {}",
                dir.join("keys/ethereum.json").display()
            )),
            "{list}"
        );
        // No passphrase and no terminal: says how to give one.
        let (code, list, _) = xroute(&["keys", "list", "--config", c], None);
        assert_eq!(code, 1);
        assert!(list.contains("no passphrase was given"), "{list}");

        // Never overwrites: a second init into the folder changes nothing.
        let before = std::fs::read(dir.join("keys/ethereum.json")).unwrap();
        let (code, _, err) = xroute(&["init", "--network", network, "--dir", d], Some(&pass));
        assert_eq!(code, 1);
        assert!(err.contains("never overwrites"), "{err}");
        assert_eq!(
            std::fs::read(dir.join("keys/ethereum.json")).unwrap(),
            before
        );
    }

    // Import: a plain key becomes a keystore with the same address; the secret is never printed.
    let secret = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    let plain = tmp.path().join("plain.key");
    std::fs::write(&plain, format!("{secret}\n")).unwrap();
    let sealed = tmp.path().join("sealed.json");
    let (code, out, err) = xroute(
        &[
            "keys",
            "import",
            "--kind",
            "evm",
            "--from",
            plain.to_str().unwrap(),
            "--file",
            sealed.to_str().unwrap(),
        ],
        Some(&pass),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    let stored = std::fs::read_to_string(&sealed).unwrap();
    for text in [&out, &err, &stored] {
        assert!(!text.contains(&secret[2..]), "the secret leaked: {text}");
    }
    let (code, out, _) = xroute(
        &[
            "keys",
            "address",
            "--kind",
            "evm",
            "--file",
            sealed.to_str().unwrap(),
        ],
        Some(&pass),
    );
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    // `keys new` makes a fresh key and refuses an existing file.
    let fresh = tmp.path().join("fresh.json");
    let args = [
        "keys",
        "new",
        "--kind",
        "starknet",
        "--file",
        fresh.to_str().unwrap(),
    ];
    let (code, out, err) = xroute(&args, Some(&pass));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("public key 0x"), "{out}");
    let (code, _, err) = xroute(&args, Some(&pass));
    assert_eq!(code, 1);
    assert!(err.contains("never overwritten"), "{err}");
}
