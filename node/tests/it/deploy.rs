#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue 29: an operator's journey on a bare local network (anvil, a devnet, the local Arbitrum;
//! nothing of xroute deployed), every step the `xroute` binary as a user types it: `deploy` with
//! an unfunded key fails before sending anything, `deploy` (Hub, Starknet Endpoint, Arbitrum
//! endpoint, registrations), `deploy status`, `init --deployment`, `check`, `run`, `send` on three
//! routes, each delivered (read from the chains), a second `deploy` that sends nothing (nonces
//! read from the chains), `appchain add` for a second devnet and a message to it delivered, and
//! a tampered record refused naming its entry.

use std::{path::Path, sync::Arc, time::Duration};

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use starknet_rust::core::types::{BlockId, BlockTag, Felt};
use starknet_rust::providers::Provider as _;
use xroute_adapters::deploy::Record;
use xroute_tests::{
    LocalNet,
    arbitrum::ArbitrumOptions,
    artifacts::{
        POOL, SAMPLE_APP,
        evm::{Hub, Pool, PoolManager, PoolVault, SampleApp, TokenLedger, TokenRouter, XToken},
    },
    process::free_port,
    router::{Flusher, RouterProcess},
};

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");
/// The token's whole supply, minted on L1 by the deployment.
const SUPPLY: u128 = 1_000_000_000_000_000_000_000_000;
/// The pool's epoch length (seconds) and size (base units).
const POOL_PERIOD: u64 = 3600;
const POOL_SIZE: u128 = 40_000_000_000_000_000_000;

async fn xroute(args: &[&str]) -> (i32, String, String) {
    super::run_xroute(args.iter().map(|s| s.to_string()).collect(), "").await
}

fn key_file(dir: &Path, name: &str, hex: String) -> String {
    let path = dir.join(name);
    std::fs::write(&path, hex).unwrap();
    path.display().to_string()
}

/// The nonces of the three deployers, read from the chains.
async fn nonces(
    net: &LocalNet,
    l1: Address,
    arb: Address,
    starknet_account: Felt,
) -> (u64, u64, Felt) {
    let l1_nonce = net
        .l1
        .provider(0)
        .unwrap()
        .get_transaction_count(l1)
        .await
        .unwrap();
    let arb_nonce = net
        .arbitrum()
        .unwrap()
        .l2
        .provider(0)
        .unwrap()
        .get_transaction_count(arb)
        .await
        .unwrap();
    let sn_nonce = net.starknets[0]
        .devnet
        .provider()
        .get_nonce(BlockId::Tag(BlockTag::Latest), starknet_account)
        .await
        .unwrap();
    (l1_nonce, arb_nonce, sn_nonce)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_deploys_a_network_with_commands_and_routes_messages_on_it() {
    let net = Arc::new(
        LocalNet::start_with(2, Some(ArbitrumOptions::default()))
            .await
            .unwrap(),
    );
    let arb = net.arbitrum().unwrap();
    let devnet = &net.starknets[0].devnet;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    // The operator's keys: L1 dev account 2, the L2's dev account 1, the devnet's account 0.
    let l1_signer = net.l1.signer(2).unwrap();
    let arb_signer = arb.l2.signer(1).unwrap();
    let account = devnet.predeployed_accounts()[0].clone();
    let l1_key = key_file(&keys, "l1.key", l1_signer.to_bytes().to_string());
    let arb_key = key_file(&keys, "arb.key", arb_signer.to_bytes().to_string());
    let sn_key = key_file(&keys, "sn.key", format!("{:#x}", account.private_key));
    let deploy_toml = |l1_key: &str| {
        format!(
            "name = \"journey\"\n\n[l1]\nname = \"ethereum\"\ndomain = 1\nrpc = \"{}\"\n\
             deployer_key_file = \"{l1_key}\"\n\n[[starknet]]\nname = \"starknet\"\ndomain = 2\n\
             rpc = \"{}\"\nl1_messaging = \"{}\"\naccount = \"{:#x}\"\naccount_key_file = \"{sn_key}\"\n\n\
             [[arbitrum]]\nname = \"arbitrum\"\ndomain = 10\nrpc = \"{}\"\ninbox = \"{}\"\n\
             bridge = \"{}\"\noutbox = \"{}\"\ndeployer_key_file = \"{arb_key}\"\n\n\
             [token]\nname = \"xroute Token\"\nsymbol = \"XRT\"\ninitial_supply = \"{SUPPLY}\"\n\n\
             [pool]\nvault_name = \"xroute Vault\"\nvault_symbol = \"xvXRT\"\nperiod = {POOL_PERIOD}\n\
             size = \"{POOL_SIZE}\"\nchains = [\"starknet\", \"arbitrum\"]\n",
            net.l1.endpoint(),
            devnet.rpc_url(),
            net.starknets[0].messaging,
            account.address,
            arb.l2.endpoint(),
            arb.bridge.inbox,
            arb.bridge.bridge,
            arb.bridge.outbox,
        )
    };

    // An unfunded L1 key: refused before anything is sent, naming the address and the amount.
    let broke = PrivateKeySigner::random();
    let broke_key = key_file(&keys, "broke.key", broke.to_bytes().to_string());
    let broke_dir = dir.path().join("broke");
    std::fs::create_dir_all(&broke_dir).unwrap();
    let broke_file = broke_dir.join("deploy.toml");
    std::fs::write(&broke_file, deploy_toml(&broke_key)).unwrap();
    let before = nonces(&net, broke.address(), arb_signer.address(), account.address).await;
    let (code, out, err) = xroute(&["deploy", "--file", broke_file.to_str().unwrap()]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains(&broke.address().to_string()), "{err}");
    assert!(err.contains("needs about") && err.contains("wei"), "{err}");
    assert_eq!(
        nonces(&net, broke.address(), arb_signer.address(), account.address).await,
        before,
        "nothing sent on any chain"
    );
    assert!(!broke_dir.join("deployments/journey.json").exists());

    // The operator's nonces on the three chains, read from the chains.
    let operator_nonces = || {
        nonces(
            &net,
            l1_signer.address(),
            arb_signer.address(),
            account.address,
        )
    };

    // The deployment.
    let file = dir.path().join("deploy.toml");
    std::fs::write(&file, deploy_toml(&l1_key)).unwrap();
    let file_arg = file.to_str().unwrap();
    let (code, out, err) = xroute(&["deploy", "--file", file_arg, "--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("dry run: nothing sent"), "{out}");
    let (code, out, err) = xroute(&["deploy", "--file", file_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    let record_path = dir.path().join("deployments/journey.json");
    let record = Record::load(&record_path).unwrap();
    let hub_address = record.l1.as_ref().unwrap().hub.as_ref().unwrap().address;
    let sn_endpoint = record.starknet["starknet"]
        .endpoint
        .as_ref()
        .unwrap()
        .address;
    let arb_endpoint = record.arbitrum["arbitrum"]
        .endpoint
        .as_ref()
        .unwrap()
        .address;
    // Read from the chains: the Hub registers both with the endpoints the record names.
    let l1 = net.l1.provider(2).unwrap();
    let hub = Hub::new(hub_address, &l1);
    let sn_domain = hub.domains(2).call().await.unwrap();
    assert_eq!(sn_domain.endpoint, U256::from_be_bytes(sn_endpoint.0));
    assert_eq!(sn_domain.messaging, net.starknets[0].messaging);
    let arb_domain = hub.domains(10).call().await.unwrap();
    assert_eq!(
        arb_domain.endpoint,
        U256::from_be_slice(arb_endpoint.as_slice())
    );
    assert_eq!(arb_domain.messaging, arb.bridge.inbox);
    assert_eq!(hub.owner().call().await.unwrap(), l1_signer.address());
    // The token: the supply minted once on L1 to the deployer, each router registered on the
    // ledger and naming every other chain as a destination.
    let token = record.token.as_ref().unwrap();
    let xtoken = XToken::new(token.token.as_ref().unwrap().address, &l1);
    assert_eq!(
        xtoken.totalSupply().call().await.unwrap(),
        U256::from(SUPPLY)
    );
    assert_eq!(
        xtoken.balanceOf(l1_signer.address()).call().await.unwrap(),
        U256::from(SUPPLY)
    );
    let ledger = TokenLedger::new(token.ledger.as_ref().unwrap().address, &l1);
    let sn_router = token.routers["starknet"].address;
    let arb_router = token.routers["arbitrum"].address;
    assert_eq!(ledger.chains(2).call().await.unwrap().router, sn_router);
    assert_eq!(ledger.chains(10).call().await.unwrap().router, arb_router);
    let l2_reader = arb.l2.provider(1).unwrap();
    let arb_token_router = TokenRouter::new(Address::from_word(arb_router), &l2_reader);
    assert_eq!(arb_token_router.destinations(1).call().await.unwrap(), 1);
    assert_eq!(arb_token_router.destinations(2).call().await.unwrap(), 2);
    let sn_dest = devnet
        .call(
            Felt::from_bytes_be(&sn_router.0),
            "destination",
            vec![Felt::from(10u8)],
        )
        .await
        .unwrap();
    assert_eq!(sn_dest.first(), Some(&Felt::ONE));
    // The pool: the vault over the token, the manager over the ledger and the vault, a pool on
    // each rollup over its token router, each registered with the manager.
    let pools = record.pool.as_ref().unwrap();
    let vault = PoolVault::new(pools.vault.as_ref().unwrap().address, &l1);
    let manager = PoolManager::new(pools.manager.as_ref().unwrap().address, &l1);
    assert_eq!(vault.asset().call().await.unwrap(), *xtoken.address());
    assert_eq!(manager.vault().call().await.unwrap(), *vault.address());
    assert_eq!(manager.ledger().call().await.unwrap(), *ledger.address());
    let sn_pool = pools.pools["starknet"].address;
    let arb_pool = pools.pools["arbitrum"].address;
    assert_eq!(manager.pools(2).call().await.unwrap(), sn_pool);
    assert_eq!(manager.pools(10).call().await.unwrap(), arb_pool);
    let sn_class = devnet
        .provider()
        .get_class_hash_at(
            BlockId::Tag(BlockTag::Latest),
            Felt::from_bytes_be(&sn_pool.0),
        )
        .await
        .unwrap();
    assert_eq!(sn_class, POOL.class_hash().unwrap());
    let sn_pool = Felt::from_bytes_be(&sn_pool.0);
    assert_eq!(
        devnet.call(sn_pool, "config", vec![]).await.unwrap(),
        vec![
            Felt::from_bytes_be(&sn_router.0),
            Felt::from_bytes_be_slice(manager.address().as_slice()),
            Felt::ONE
        ]
    );
    assert_eq!(
        devnet.call(sn_pool, "rules", vec![]).await.unwrap(),
        vec![Felt::from(POOL_PERIOD), Felt::from(POOL_SIZE), Felt::ZERO]
    );
    let arb_pool = Pool::new(Address::from_word(arb_pool), &l2_reader);
    assert_eq!(
        arb_pool.token().call().await.unwrap(),
        Address::from_word(arb_router)
    );
    assert_eq!(
        arb_pool.manager().call().await.unwrap(),
        manager.address().into_word()
    );
    assert_eq!(arb_pool.period().call().await.unwrap(), POOL_PERIOD);
    assert_eq!(arb_pool.size().call().await.unwrap(), U256::from(POOL_SIZE));

    let (code, out, err) = xroute(&["deploy", "status", "--file", file_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    // 5 for the Hub, the endpoints and their registrations; 8 for the token; 6 for the pool.
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok")).count(),
        19,
        "{out}"
    );

    // A second run changes nothing: no transaction on any chain.
    let before = operator_nonces().await;
    let (code, out, err) = xroute(&["deploy", "--file", file_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("nothing to do"), "{out}");
    assert_eq!(operator_nonces().await, before);

    // The router's config from the record, checked, run.
    let port = free_port().unwrap();
    let router_dir = dir.path().join("router");
    let api = format!("127.0.0.1:{port}");
    let (code, out, err) = xroute(&[
        "init",
        "--deployment",
        record_path.to_str().unwrap(),
        "--keys-of",
        file_arg,
        "--api",
        &api,
        "--dir",
        router_dir.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let config = router_dir.join("xroute.toml");
    let config_arg = config.to_str().unwrap();
    let (code, out, err) = xroute(&["check", "--config", config_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        xroute_config::Config::load(&config)
            .unwrap()
            .token
            .map(|t| t.ledger),
        Some(*ledger.address()),
        "the router knows the token's ledger"
    );

    // The apps that receive (the user's own contracts).
    let l1_app = *SampleApp::deploy(&l1, hub_address).await.unwrap().address();
    let sn_app = devnet
        .deploy(0, &SAMPLE_APP, vec![Felt::from_bytes_be(&sn_endpoint.0)])
        .await
        .unwrap();
    let l2 = arb.l2.provider(1).unwrap();
    let arb_app = *SampleApp::deploy(&l2, arb_endpoint)
        .await
        .unwrap()
        .address();

    let flusher = Flusher::start(net.clone(), Duration::from_millis(300));
    let mut router = RouterProcess::start(Path::new(XROUTE), &config, port)
        .await
        .unwrap();
    let sends: [(&str, &str, String, &str); 3] = [
        ("ethereum", "starknet", format!("{sn_app:#x}"), "41"),
        ("starknet", "ethereum", l1_app.to_string(), "42"),
        ("ethereum", "arbitrum", arb_app.to_string(), "43"),
    ];
    let mut ids = Vec::new();
    for (from, to, recipient, payload) in &sends {
        let (code, out, err) = xroute(&[
            "send",
            "--from",
            from,
            "--to",
            to,
            "--recipient",
            recipient,
            "--payload",
            payload,
            "--config",
            config_arg,
        ])
        .await;
        assert_eq!(code, 0, "send {from} → {to}: {out}{err}");
        ids.push(out.trim().to_string());
    }
    let start = std::time::Instant::now();
    loop {
        let mut all = true;
        for id in &ids {
            let m = router.get(&format!("/messages/{id}")).await.unwrap();
            all &= m["stage"] == "delivered";
        }
        if all {
            break;
        }
        router.check_running().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "not all delivered: {}",
            router.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Each payload on its destination, read from the chain.
    let l1_word = B256::left_padding_from(l1_signer.address().as_slice());
    let got = devnet
        .call(
            sn_app,
            "last_payload",
            vec![Felt::ONE, Felt::from_bytes_be(&l1_word.0)],
        )
        .await
        .unwrap();
    assert_eq!(got.last(), Some(&Felt::from(41u8)), "{got:?}");
    let sn_sender = B256::from(account.address.to_bytes_be());
    let got = SampleApp::new(l1_app, &l1)
        .lastPayload(2, sn_sender)
        .call()
        .await
        .unwrap();
    assert_eq!(got, vec![U256::from(42u8)]);
    let got = SampleApp::new(arb_app, &l2)
        .lastPayload(1, l1_word)
        .call()
        .await
        .unwrap();
    assert_eq!(got, vec![U256::from(43u8)]);
    router.interrupt().await.unwrap();

    // An appchain joins: its block in the deployment file, `appchain add` deploys and registers
    // its Endpoint and adds it to the router's config; a message to it is delivered.
    let appchain = &net.starknets[1];
    let app_account = appchain.devnet.predeployed_accounts()[0].clone();
    let app_key = key_file(
        &keys,
        "appchain.key",
        format!("{:#x}", app_account.private_key),
    );
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!(
        "\n[[starknet]]\nname = \"appchain\"\ndomain = 3\nrpc = \"{}\"\nl1_messaging = \"{}\"\n\
         account = \"{:#x}\"\naccount_key_file = \"{app_key}\"\n",
        appchain.devnet.rpc_url(),
        appchain.messaging,
        app_account.address
    ));
    std::fs::write(&file, text).unwrap();
    // The chain's team deploys its Endpoint; the Hub's owner registers it and adds the chain to
    // the router's config (here one operator holds both keys).
    let (code, out, err) = xroute(&[
        "appchain", "add", "--file", file_arg, "--chain", "appchain", "--part", "endpoint",
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let record = Record::load(&record_path).unwrap();
    assert!(record.starknet["appchain"].endpoint.is_some(), "{out}");
    assert!(record.starknet["appchain"].registered.is_none(), "{out}");
    assert_eq!(
        hub.domains(3).call().await.unwrap().family,
        0,
        "not registered by the endpoint part"
    );
    // A run that stopped after sending the Endpoint, before recording it: the next run finds it
    // at its address and records it, sending nothing.
    let sent = record.starknet["appchain"].endpoint.clone().unwrap();
    let mut lost = record.clone();
    lost.starknet.get_mut("appchain").unwrap().endpoint = None;
    lost.save(&record_path).unwrap();
    let app_nonce = || async {
        appchain
            .devnet
            .provider()
            .get_nonce(BlockId::Tag(BlockTag::Latest), app_account.address)
            .await
            .unwrap()
    };
    let nonce_before = app_nonce().await;
    let (code, out, err) = xroute(&[
        "appchain", "add", "--file", file_arg, "--chain", "appchain", "--part", "endpoint",
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let found = Record::load(&record_path).unwrap().starknet["appchain"]
        .endpoint
        .clone()
        .unwrap();
    assert_eq!(found.address, sent.address);
    assert_eq!(found.tx, B256::ZERO, "found, not sent");
    assert_eq!(app_nonce().await, nonce_before, "nothing sent");
    let (code, out, err) = xroute(&[
        "appchain",
        "add",
        "--file",
        file_arg,
        "--chain",
        "appchain",
        "--part",
        "registration",
        "--config",
        config_arg,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    // The token comes to the appchain with its own command.
    let (code, out, err) = xroute(&[
        "token",
        "add-chain",
        "--file",
        file_arg,
        "--chain",
        "appchain",
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let record = Record::load(&record_path).unwrap();
    let app_endpoint = record.starknet["appchain"]
        .endpoint
        .as_ref()
        .unwrap()
        .address;
    let app3 = hub.domains(3).call().await.unwrap();
    assert_eq!(app3.endpoint, U256::from_be_bytes(app_endpoint.0));
    assert_eq!(app3.messaging, appchain.messaging);
    let (code, out, err) = xroute(&["deploy", "status", "--file", file_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    // The appchain's Endpoint, its registration and its token router, registered and with
    // its destinations; every other router names the appchain too.
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok")).count(),
        24,
        "{out}"
    );
    let record = Record::load(&record_path).unwrap();
    let token = record.token.as_ref().unwrap();
    assert_eq!(
        ledger.chains(3).call().await.unwrap().router,
        token.routers["appchain"].address
    );
    assert_eq!(arb_token_router.destinations(3).call().await.unwrap(), 2);
    let app3_app = appchain
        .devnet
        .deploy(0, &SAMPLE_APP, vec![Felt::from_bytes_be(&app_endpoint.0)])
        .await
        .unwrap();
    let mut router = RouterProcess::start(Path::new(XROUTE), &config, port)
        .await
        .unwrap();
    let (code, out, err) = xroute(&[
        "send",
        "--from",
        "ethereum",
        "--to",
        "appchain",
        "--recipient",
        &format!("{app3_app:#x}"),
        "--payload",
        "44",
        "--config",
        config_arg,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let start = std::time::Instant::now();
    loop {
        let got = appchain
            .devnet
            .call(
                app3_app,
                "last_payload",
                vec![Felt::ONE, Felt::from_bytes_be(&l1_word.0)],
            )
            .await
            .unwrap();
        if got.last() == Some(&Felt::from(44u8)) {
            break;
        }
        router.check_running().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "not delivered to the appchain: {}",
            router.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    router.interrupt().await.unwrap();
    flusher.stop().await.unwrap();

    // The Hub, the PoolManager and the PoolVault handed over: the file names an owner, and a run
    // sends those three transactions.
    let owner = net.l1.address(3).unwrap();
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        &format!("deployer_key_file = \"{l1_key}\"\n"),
        &format!("deployer_key_file = \"{l1_key}\"\nowner = \"{owner}\"\n"),
        1,
    );
    std::fs::write(&file, text).unwrap();
    let (l1_before, _, _) = operator_nonces().await;
    let (code, out, err) = xroute(&["deploy", "--file", file_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("l1.owner_set"), "{out}");
    assert_eq!(hub.owner().call().await.unwrap(), owner);
    assert_eq!(manager.owner().call().await.unwrap(), owner);
    assert_eq!(vault.owner().call().await.unwrap(), owner);
    let (l1_after, _, _) = operator_nonces().await;
    assert_eq!(
        l1_after,
        l1_before + 3,
        "three transactions: transferOwnership each"
    );
    let (code, out, err) = xroute(&["deploy", "status", "--file", file_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines()
            .filter(|l| l.starts_with("ok") && l.contains("l1.owner"))
            .count()
            == 2,
        "{out}"
    );

    // A tampered record (the Hub at another address) is refused, naming the entry.
    let mut tampered = Record::load(&record_path).unwrap();
    tampered.l1.as_mut().unwrap().hub.as_mut().unwrap().address = l1_app;
    tampered.save(&record_path).unwrap();
    let before = operator_nonces().await;
    let (code, out, err) = xroute(&["deploy", "status", "--file", file_arg]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("DRIFT") && l.contains("l1.hub")),
        "{out}"
    );
    let (code, out, err) = xroute(&["deploy", "--file", file_arg]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("l1.hub"), "{err}");
    assert_eq!(operator_nonces().await, before, "nothing sent");
}

/// `init --deployment` without `--keys-of`: new keystores for the router, every address from the
/// record, and the router's Starknet account left for the operator, which `check` names.
#[tokio::test]
async fn init_from_a_record_writes_new_keystores_and_leaves_the_starknet_account_to_fill() {
    use xroute_adapters::deploy::{EvmContract, L1Record, Sent, StarknetContract, StarknetRecord};
    let dir = tempfile::tempdir().unwrap();
    let hub = Address::repeat_byte(0x11);
    let endpoint = B256::with_last_byte(0x22);
    let mut record = Record {
        name: "rec".into(),
        l1: Some(L1Record {
            name: "ethereum".into(),
            domain: 1,
            chain_id: 31337,
            rpc: "http://127.0.0.1:1".into(),
            hub: Some(EvmContract {
                address: hub,
                code_hash: B256::repeat_byte(1),
                tx: B256::repeat_byte(2),
                block: 3,
            }),
            owner_set: None,
        }),
        ..Record::default()
    };
    record.starknet.insert(
        "starknet".into(),
        StarknetRecord {
            domain: 2,
            rpc: "http://127.0.0.1:2/rpc".into(),
            l1_messaging: Address::repeat_byte(0x33),
            endpoint_class: Some(B256::repeat_byte(4)),
            declared: None,
            endpoint: Some(StarknetContract {
                address: endpoint,
                class_hash: B256::repeat_byte(4),
                tx: B256::repeat_byte(5),
                block: 6,
            }),
            registered: Some(Sent {
                tx: B256::repeat_byte(7),
                block: 8,
            }),
        },
    );
    let record_path = dir.path().join("rec.json");
    record.save(&record_path).unwrap();
    let out_dir = dir.path().join("router");
    let (code, out, err) = super::run_xroute(
        [
            "init",
            "--deployment",
            record_path.to_str().unwrap(),
            "--dir",
            out_dir.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec(),
        "a passphrase",
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    for key in ["keys/ethereum.json", "keys/starknet.json"] {
        let text = std::fs::read_to_string(out_dir.join(key)).unwrap();
        assert!(text.contains("\"crypto\""), "{key} is a keystore");
    }
    let config = std::fs::read_to_string(out_dir.join("xroute.toml")).unwrap();
    assert!(config.contains(&hub.to_string()), "{config}");
    assert!(config.contains(&endpoint.to_string()), "{config}");
    assert!(config.contains("account = \"REQUIRED"), "{config}");
    let (code, out, err) = super::run_xroute(
        [
            "check",
            "--config",
            out_dir.join("xroute.toml").to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec(),
        "a passphrase",
    )
    .await;
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("account"), "{err}");
    // A second init into the same folder never overwrites.
    let (code, _, err) = super::run_xroute(
        [
            "init",
            "--deployment",
            record_path.to_str().unwrap(),
            "--dir",
            out_dir.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec(),
        "a passphrase",
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("never overwrites"), "{err}");
}
