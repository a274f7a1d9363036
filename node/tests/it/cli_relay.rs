#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `xroute relay`, the escape hatch, with no router running: a user relays their own Starknet →
//! L1 and Starknet → appchain messages from their own keys and sees each step; the outcome is read
//! on the destination chains and in the user's relay transactions.

use std::{path::PathBuf, sync::Arc, time::Duration};

use alloy::primitives::{B256, U256};
use starknet_rust::core::types::Felt;
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::SampleApp,
    localnet::L1_KIT_ACCOUNT,
    router::{Flusher, RouterOptions, relay_transactions, router_config, write_config_file},
    stack::L1_DOMAIN,
};

/// The user's keys are in encrypted keystores; `xroute relay` gets the passphrase from
/// `XROUTE_KEYSTORE_PASSWORD`, as a service would.
const USER_PASSPHRASE: &str = "the user's own passphrase";

async fn relay(config: PathBuf, tx: Felt) -> (i32, String, String) {
    relay_within(config, tx, 180).await
}

async fn relay_within(config: PathBuf, tx: Felt, timeout: u64) -> (i32, String, String) {
    let tx = format!("{tx:#066x}");
    let timeout = timeout.to_string();
    let config = config.display().to_string();
    xroute(&[
        "relay",
        &tx,
        "--from",
        "starknet",
        "--timeout",
        &timeout,
        "--config",
        &config,
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_relays_their_own_messages_without_a_router() {
    let net = Arc::new(LocalNet::start(2).await.unwrap());
    let stack = XrouteStack::deploy(&net).await.unwrap();
    let flusher = Flusher::start(net.clone(), Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    // The user's own keys, in keystores: L1 dev account 3, the devnets' account 0.
    let options = RouterOptions {
        l1_account: 3,
        keystore_passphrase: Some(USER_PASSPHRASE.into()),
        ..RouterOptions::default()
    };
    let config = router_config(dir.path(), &net, &stack, 7398, &options).unwrap();
    let path = write_config_file(dir.path(), "user.toml", &config).unwrap();
    let sn = stack.starknets[0];
    let app3 = stack.starknets[1];
    let devnet = &net.starknets[0].devnet;

    // Starknet → L1.
    let l1_app = B256::left_padding_from(stack.l1_app.as_slice());
    let tx = app_send(
        devnet,
        sn.app,
        L1_DOMAIN,
        Felt::from_bytes_be(&l1_app.0),
        77,
    )
    .await;
    let (code, out, err) = relay(path.clone(), tx).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("(starknet → ethereum): sent in block"),
        "{out}"
    );
    for step in [
        "sent → proven",
        "proven → relaying",
        "relaying → relayed",
        "→ delivered",
    ] {
        assert!(out.contains(step), "{step} missing:\n{out}");
    }
    let app = SampleApp::new(stack.l1_app, net.l1.provider(L1_KIT_ACCOUNT).unwrap());
    assert_eq!(
        app.lastPayload(sn.domain, XrouteStack::felt_word(sn.app))
            .call()
            .await
            .unwrap(),
        vec![U256::from(77)]
    );

    // Starknet → appchain.
    let tx = app_send(devnet, sn.app, app3.domain, app3.app, 88).await;
    let (code, out, err) = relay(path.clone(), tx).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("(starknet → appchain1)"), "{out}");
    let received = net.starknets[1]
        .devnet
        .call(
            app3.app,
            "last_payload",
            vec![Felt::from(sn.domain), sn.app],
        )
        .await
        .unwrap();
    assert_eq!(received, vec![Felt::ONE, Felt::from(88u8)]);

    // Exactly the user's two relays, from the user's own L1 account, both successful.
    let user = net.l1.address(options.l1_account).unwrap();
    let txs = relay_transactions(&net, &[user], stack.hub).await.unwrap();
    assert_eq!(txs.len(), 2, "{txs:?}");
    assert!(txs.iter().all(|t| t.ok), "{txs:?}");

    // Relaying it again finds it delivered on chain and sends nothing.
    let (code, out, err) = relay(path.clone(), tx).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        relay_transactions(&net, &[user], stack.hub)
            .await
            .unwrap()
            .len(),
        2
    );
    // A hash the chain knows neither as a transaction nor as a message is named after the timeout.
    let (code, _, err) = relay_within(path.clone(), Felt::from(0x1234u64), 2).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("is neither a transaction in a final block of starknet nor a message sent"),
        "{err}"
    );

    // `xroute send` from the user's own Starknet account, then `xroute relay <message id>`.
    let account = devnet.predeployed_accounts()[0].address;
    let (code, out, err) = xroute(&[
        "send",
        "--from",
        "starknet",
        "--to",
        "ethereum",
        "--recipient",
        &stack.l1_app.to_string(),
        "--payload",
        "5,0x6",
        "--config",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_string();
    assert!(id.starts_with("0x") && id.len() == 66, "{out}");
    let (code, out, err) = xroute(&[
        "relay",
        &id,
        "--from",
        "starknet",
        "--timeout",
        "180",
        "--config",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!("message {id}: sent by transaction 0x")),
        "{out}"
    );
    assert!(out.ends_with("delivered\n"), "{out}");
    assert_eq!(
        app.lastPayload(sn.domain, XrouteStack::felt_word(account))
            .call()
            .await
            .unwrap(),
        vec![U256::from(5), U256::from(6)]
    );

    // And from L1: `xroute send` through the Hub, relayed into Starknet by message id.
    let (code, out, err) = xroute(&[
        "send",
        "--from",
        "ethereum",
        "--to",
        "2",
        "--recipient",
        &format!("{:#x}", sn.app),
        "--payload",
        "41",
        "--config",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_string();
    let (code, out, err) = xroute(&[
        "relay",
        &id,
        "--from",
        "ethereum",
        "--timeout",
        "180",
        "--config",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("(ethereum → starknet)"), "{out}");
    let received = devnet
        .call(
            sn.app,
            "last_payload",
            vec![
                Felt::from(L1_DOMAIN),
                Felt::from_bytes_be_slice(user.as_slice()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        received,
        vec![Felt::ONE, Felt::from(41u8)],
        "length, then the words"
    );
    // The user's L1 transactions: the two relays above, one more relay, the Hub send, its relay.
    let txs = relay_transactions(&net, &[user], stack.hub).await.unwrap();
    assert_eq!(txs.len(), 5, "{txs:?}");
    assert!(txs.iter().all(|t| t.ok), "{txs:?}");

    // Bad input is named before anything is sent.
    let (code, _, err) = xroute(&[
        "send",
        "--from",
        "starknet",
        "--to",
        "nowhere",
        "--recipient",
        "0x1",
        "--config",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 2);
    assert!(
        err.contains("--to: \"nowhere\" is neither a domain number nor a chain"),
        "{err}"
    );
    let (code, _, err) = xroute(&[
        "send",
        "--from",
        "starknet",
        "--to",
        "ethereum",
        "--recipient",
        "0x1",
        "--payload",
        "0x1z",
        "--config",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("--payload word 0: \"0x1z\""), "{err}");
    flusher.stop().await.unwrap();
}

/// The user (devnet account 0) sends the one-word payload `word` from the sample app `app` to
/// `recipient` on `dst`; returns the transaction hash.
async fn app_send(
    devnet: &xroute_tests::StarknetDevnet,
    app: Felt,
    dst: u32,
    recipient: Felt,
    word: u8,
) -> Felt {
    devnet
        .invoke(
            0,
            app,
            "send",
            vec![Felt::from(dst), recipient, Felt::ONE, Felt::from(word)],
        )
        .await
        .unwrap()
}

async fn xroute(args: &[&str]) -> (i32, String, String) {
    super::run_xroute(
        args.iter().map(|s| s.to_string()).collect(),
        USER_PASSPHRASE,
    )
    .await
}
