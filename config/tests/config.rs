//! Every example parses and validates; every invalid fixture fails with an error that names what
//! is wrong (each fixture's first line: `# expect: <text the error must contain>`).

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use xroute_config::{ChainConfig, Config, MessagingLayout};

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .toml in {}", dir.display());
    files
}

/// The public-network examples name the keystores `xroute init` creates beside them, so they load
/// only there (node/tests/it/cli_keys.rs); here they parse.
const PUBLIC: [&str; 2] = ["sepolia.toml", "mainnet.toml"];

#[test]
fn every_example_loads() {
    for path in files("examples") {
        if PUBLIC.iter().any(|p| path.ends_with(p)) {
            continue;
        }
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.hub_chain().is_some(), "{}", path.display());
    }
}

/// The public networks' chain ids and rollup contracts, as the examples carry them (their
/// sources are named in the files); what an operator supplies is a placeholder.
#[test]
fn the_public_network_examples_carry_the_live_contracts() {
    let expect = [
        (
            "sepolia.toml",
            11155111,
            "SN_SEPOLIA",
            "0xE2Bb56ee936fd6433DC0F6e7e3b8365C906AA057",
            421614,
            [
                "0xaAe29B0366299461418F5324a79Afc425BE5ae21",
                "0x38f918D0E9F1b721EDaA41302E399fa1B79333a9",
                "0x65f07C7D521164a4d5DaC6eB8Fac8DA067A3B78F",
            ],
        ),
        (
            "mainnet.toml",
            1,
            "SN_MAIN",
            "0xc662c410C0ECf747543f5bA90660f6ABeBD9C8c4",
            42161,
            [
                "0x4Dbd4fc535Ac27206064B68FfCf827b0A60BAB3f",
                "0x8315177aB297bA92A06054cE80a67Ed4DBd7ed3a",
                "0x0B9857ae2D4A3DBe74ffE1d7DF045bb7F96E4840",
            ],
        ),
    ];
    for (file, l1_id, sn_id, core, arb_id, [inbox, bridge, outbox]) in expect {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let config = Config::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        let [
            ChainConfig::Ethereum(l1),
            ChainConfig::Starknet(sn),
            ChainConfig::Arbitrum(arb),
        ] = &config.chains[..]
        else {
            panic!("{file}: chains are not ethereum, starknet, arbitrum");
        };
        assert_eq!(l1.chain.chain_id, Some(l1_id), "{file}");
        assert!(config.chains[0].is_hub(), "{file}: the hub chain");
        assert_eq!(sn.chain_id.as_deref(), Some(sn_id), "{file}");
        assert_eq!(
            sn.l1_messaging,
            core.parse::<alloy_primitives::Address>().unwrap()
        );
        assert_eq!(sn.messaging_layout, MessagingLayout::Current, "{file}");
        assert_eq!(arb.chain.chain_id, Some(arb_id), "{file}");
        let a = &arb.contracts;
        for (got, want) in [(a.inbox, inbox), (a.bridge, bridge), (a.outbox, outbox)] {
            assert_eq!(
                got,
                want.parse::<alloy_primitives::Address>().unwrap(),
                "{file}"
            );
        }
        for chain in &config.chains {
            assert!(
                chain.rpc().to_string().contains(".invalid"),
                "{file}: an RPC URL is the operator's to supply"
            );
        }
        assert!(text.matches("REQUIRED").count() >= 7, "{file}");
    }
}

#[test]
fn the_local_example_describes_the_local_network() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/local.toml");
    let config = Config::load(&path).unwrap();
    let domains: Vec<u32> = config.chains.iter().map(ChainConfig::domain).collect();
    assert_eq!(domains, [1, 2, 3, 10]);
    assert_eq!(config.hub_chain().unwrap().chain.name, "ethereum");
    assert!(
        config.node.store.starts_with(path.parent().unwrap()),
        "store resolved against the file"
    );
    match &config.chains[2] {
        ChainConfig::Starknet(c) => {
            assert_eq!(
                c.messaging_layout,
                MessagingLayout::Current,
                "the default layout"
            );
            assert_eq!(c.confirmations, 0);
            assert!(
                c.account_key_file.is_absolute()
                    || c.account_key_file.starts_with(path.parent().unwrap())
            );
        }
        other => panic!("chain 3 is {other:?}"),
    }
    match &config.chains[3] {
        ChainConfig::Arbitrum(c) => {
            assert_eq!(
                c.contracts.outbox,
                "0x2279B7A0a67DB372996a5FaB50D91eAA73d2eBe6"
                    .parse::<alloy_primitives::Address>()
                    .unwrap()
            );
        }
        other => panic!("chain 10 is {other:?}"),
    }
    // Printing the config never shows a key file's content, and URLs print redacted.
    let printed = format!("{config:?}");
    assert!(
        !printed.contains("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
    );
}

#[test]
fn every_invalid_fixture_is_refused_with_its_reason() {
    for path in files("tests/invalid") {
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", path.display()));
        let err = match Config::load(&path) {
            Ok(_) => panic!("{} was accepted", path.display()),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(expect),
            "{}: error {err:?} should contain {expect:?}",
            path.display()
        );
        assert!(
            err.starts_with(&path.display().to_string()),
            "the error names the file: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let err = Config::load(Path::new("/nonexistent/xroute.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("/nonexistent/xroute.toml: cannot read"),
        "{err}"
    );
}

/// A config serialised (as the test kit and `xroute init` write one) parses back the same: the
/// role-tagged chain blocks round-trip.
#[test]
fn a_serialised_config_parses_back_the_same() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/local.toml");
    let config = Config::load(&path).unwrap();
    let text = toml::to_string(&config).unwrap();
    assert!(text.contains("family = \"arbitrum\""), "{text}");
    assert_eq!(Config::parse(&path, &text).unwrap(), config);
}

/// The deployment file example parses, and names the same live rollup contracts as the router
/// example of its network.
#[test]
fn the_deploy_example_names_the_live_contracts_of_its_network() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let path = dir.join("deploy/sepolia.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let file = xroute_config::DeployFile::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let router_path = dir.join("sepolia.toml");
    let router = Config::parse(
        &router_path,
        &std::fs::read_to_string(&router_path).unwrap(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for chain in &router.chains {
        match chain {
            ChainConfig::Starknet(s) => {
                let d = file.starknet.iter().find(|d| d.domain == s.domain).unwrap();
                assert_eq!(d.l1_messaging, s.l1_messaging, "{}", s.name);
            }
            ChainConfig::Arbitrum(a) => {
                let d = file
                    .arbitrum
                    .iter()
                    .find(|d| d.domain == a.chain.domain)
                    .unwrap();
                assert_eq!(
                    (d.inbox, d.bridge, d.outbox),
                    (a.contracts.inbox, a.contracts.bridge, a.contracts.outbox)
                );
            }
            ChainConfig::Ethereum(h) => assert_eq!(file.l1.domain, h.chain.domain),
        }
    }
}

/// The deployment example's commented `[token]` and `[pool]` sections, uncommented, parse, and
/// the pool names rollups of the file.
#[test]
fn the_deploy_examples_optional_sections_parse_when_uncommented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deploy/sepolia.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    // From `# [token]` on, every commented key or table (not `mint_to`'s placeholder).
    let at = text.find("# [token]").expect("a commented [token]");
    let optional: String = text[at..]
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if (rest.starts_with('[') || rest.contains(" = "))
                    && !rest.starts_with("mint_to") =>
            {
                format!("{rest}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let uncommented = format!("{}{optional}", &text[..at]);
    let file =
        xroute_config::DeployFile::parse(&path, &uncommented).unwrap_or_else(|e| panic!("{e}"));
    let token = file.token.expect("[token]");
    assert!(token.initial_supply.parse::<u128>().is_ok());
    let pool = file.pool.expect("[pool]");
    for chain in &pool.chains {
        assert!(
            file.starknet.iter().any(|s| &s.name == chain)
                || file.arbitrum.iter().any(|a| &a.name == chain),
            "{chain}"
        );
    }
}
