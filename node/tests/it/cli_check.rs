#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `xroute check --config FILE` against the local network (anvil, a Starknet devnet, the local
//! Arbitrum): a good config passes with one `ok` line per chain; a wrong chain id, a wrong
//! contract address and an unfunded key each fail with a line naming the field, exit 1.

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
    let out = std::process::Command::new(XROUTE)
        .args(["check", "--relays", "5", "--config"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn evm(config: &mut Config, i: usize) -> &mut xroute_config::EvmChain {
    match &mut config.chains[i] {
        ChainConfig::Evm(c) => c,
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
    evm(&mut config, 0).hub = Some(Address::repeat_byte(0x42));
    evm(&mut config, 2).arbitrum.as_mut().unwrap().outbox = Address::repeat_byte(0x43);
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
        out.contains("FAIL  arbitrum: chains[2].arbitrum.outbox: no contract at 0x4343"),
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
