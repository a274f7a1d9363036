#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `xroute check --config FILE` against the local network (anvil, a Starknet devnet, the local
//! Arbitrum): a good config passes with one `ok` line per chain; a wrong chain id, a wrong
//! contract address, a wrong messaging layout and an unfunded key each fail with a line naming the
//! field, exit 1. Keystores: a config whose keys are all encrypted passes with the passphrase and
//! fails with a wrong one, one line per key naming it.

use std::path::Path;

use alloy::primitives::Address;
use xroute_config::{ChainConfig, Config, Felt};
use xroute_tests::{
    LocalNet, XrouteStack,
    arbitrum::ArbitrumOptions,
    router::{RouterOptions, router_config, write_config_file},
};

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");

fn check(path: &Path) -> (i32, String) {
    check_with(path, &[])
}

fn check_with(path: &Path, extra: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(XROUTE)
        .args(["check", "--relays", "5", "--config"])
        .arg(path)
        .args(extra)
        .env_remove("XROUTE_KEYSTORE_PASSWORD")
        .env_remove("XROUTE_KEYSTORE_PASSWORD_FILE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn evm(config: &mut Config, i: usize) -> &mut xroute_config::EvmChain {
    match &mut config.chains[i] {
        ChainConfig::Ethereum(c) => &mut c.chain,
        ChainConfig::Arbitrum(c) => &mut c.chain,
        other => panic!("chain {i} is {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_a_good_config_and_names_each_bad_field() {
    let net = LocalNet::start_with(1, Some(ArbitrumOptions::default()))
        .await
        .unwrap();
    let stack = XrouteStack::deploy(&net).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = router_config(dir.path(), &net, &stack, 7399, &RouterOptions::default()).unwrap();
    let names: Vec<&str> = good.chains.iter().map(ChainConfig::name).collect();
    assert_eq!(names, ["ethereum", "starknet", "arbitrum"]);

    // A pending L1 -> Starknet message, straight into the messaging contract (nothing flushes it),
    // for check to confirm the storage layout on.
    let messaging = xroute_tests::artifacts::evm::IStarknetMessaging::new(
        net.starknets[0].messaging,
        net.l1.provider(0).unwrap(),
    );
    messaging
        .sendMessageToL2(
            alloy::primitives::U256::from(0x1234u64),
            alloy::primitives::U256::from(0x5678u64),
            vec![alloy::primitives::U256::from(7u64)],
        )
        .value(alloy::primitives::U256::from(1_000_000_000_000u64))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    // Good: one ok line per chain, chain ids as configured.
    let mut config = good.clone();
    evm(&mut config, 0).chain_id = Some(net.l1.chain_id());
    let path = write_config_file(dir.path(), "good.toml", &config).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    for name in names {
        assert!(out.contains(&format!("ok    {name}: ")), "{out}");
    }
    assert!(
        out.contains("Hub ") && out.contains("Outbox deployed on L1"),
        "{out}"
    );
    assert!(
        out.contains("messaging layout `current` confirmed on pending message 0x"),
        "{out}"
    );
    assert!(out.contains("(plain key) holds"), "{out}");

    // The wrong messaging layout: storage proofs would read the wrong slots.
    let mut config = good.clone();
    if let ChainConfig::Starknet(c) = &mut config.chains[1] {
        c.messaging_layout = xroute_config::MessagingLayout::V1;
    }
    let path = write_config_file(dir.path(), "layout.toml", &config).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "FAIL  starknet: chains[1].messaging_layout: `v1` does not match the contract"
        ),
        "{out}"
    );

    // Every key in an encrypted keystore: passes with the passphrase, one line per key without it
    // or with a wrong one.
    let sealed = tempfile::tempdir().unwrap();
    let options = RouterOptions {
        keystore_passphrase: Some("correct horse battery".into()),
        ..RouterOptions::default()
    };
    let mut config = router_config(sealed.path(), &net, &stack, 7399, &options).unwrap();
    evm(&mut config, 0).chain_id = Some(net.l1.chain_id());
    let path = write_config_file(sealed.path(), "sealed.toml", &config).unwrap();
    let pass = sealed.path().join("keystore.pass");
    let (code, out) = check_with(&path, &["--password-file", pass.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(keystore key) holds") && out.contains("account key loads (keystore)"),
        "{out}"
    );
    let wrong = sealed.path().join("wrong.pass");
    std::fs::write(&wrong, "battery horse correct\n").unwrap();
    let (code, out) = check_with(&path, &["--password-file", wrong.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    for (name, field) in [
        ("ethereum", "chains[0].signer_key_file"),
        ("starknet", "chains[1].account_key_file"),
        ("arbitrum", "chains[2].signer_key_file"),
    ] {
        assert!(
            out.contains(&format!(
                "FAIL  {name}: {field}: wrong passphrase for keystore"
            )),
            "{out}"
        );
    }
    let (code, out) = check_with(&path, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no passphrase was given"), "{out}");

    // A wrong chain id.
    let mut config = good.clone();
    evm(&mut config, 0).chain_id = Some(1);
    let path = write_config_file(dir.path(), "chain_id.toml", &config).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "FAIL  ethereum: chains[0].chain_id: configured 1, the node at rpc answers {}",
            net.l1.chain_id()
        )),
        "{out}"
    );
    assert!(
        out.contains("ok    starknet: "),
        "the other chains are still checked: {out}"
    );

    // Wrong contract addresses: the Hub, the Arbitrum Outbox, the Starknet endpoint.
    let mut config = good.clone();
    if let ChainConfig::Ethereum(c) = &mut config.chains[0] {
        c.hub = Address::repeat_byte(0x42);
    }
    if let ChainConfig::Arbitrum(c) = &mut config.chains[2] {
        c.contracts.outbox = Address::repeat_byte(0x43);
    }
    if let ChainConfig::Starknet(c) = &mut config.chains[1] {
        c.endpoint = Felt(alloy::primitives::U256::from(0x1234u64));
    }
    let path = write_config_file(dir.path(), "contracts.toml", &config).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  ethereum: chains[0].hub: no contract at 0x4242"),
        "{out}"
    );
    assert!(
        out.contains("FAIL  starknet: chains[1].endpoint: no contract at 0x1234"),
        "{out}"
    );
    assert!(
        out.contains("FAIL  arbitrum: chains[2].outbox: no contract at 0x4343"),
        "{out}"
    );

    // An unfunded relayer key.
    let mut config = good.clone();
    std::fs::write(
        dir.path().join("empty.key"),
        format!(
            "{:#x}\n",
            alloy::signers::local::PrivateKeySigner::random().to_bytes()
        ),
    )
    .unwrap();
    evm(&mut config, 0).signer_key_file = "empty.key".into();
    let path = write_config_file(dir.path(), "unfunded.toml", &config).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  ethereum: chains[0].signer_key_file: its account 0x")
            && out.contains("holds 0 wei, less than 5 transactions"),
        "{out}"
    );
}
