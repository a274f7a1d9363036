#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The Starknet submitter on a real devnet: an invoke from a configured account lands (the
//! Endpoint emits the message the adapter then finds), a failing call is refused before it is
//! sent, and an address without an account is a clear error.

use eyre::Result;
use starknet_rust::core::{
    types::{Call, Felt},
    utils::get_selector_from_name,
};
use xroute_adapters::{
    ChainAdapter,
    starknet::{
        StarknetAdapter,
        submit::{InvokeStatus, StarknetSubmitter},
    },
};
use xroute_tests::{LocalNet, XrouteStack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invokes_from_the_configured_account() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let sn = stack.starknets[0];
    let devnet = &net.starknets[0].devnet;
    // Predeployed account 1: not the one the kit deployed with.
    let account = devnet.predeployed_accounts()[1].clone();
    let rpc = devnet.rpc_url().clone();
    let submitter = StarknetSubmitter::new(
        "starknet",
        rpc.clone(),
        account.address,
        account.private_key,
    )
    .await?;
    assert_eq!(submitter.address(), account.address);

    let send = |payload: Felt| Call {
        to: sn.app,
        selector: get_selector_from_name("send").unwrap(),
        calldata: vec![Felt::ONE, Felt::from(0xabcu32), Felt::ONE, payload],
    };
    let tx = submitter.invoke(vec![send(Felt::from(77u8))]).await?;
    let mut status = InvokeStatus::Pending;
    for _ in 0..50 {
        status = submitter.status(tx).await?;
        if status != InvokeStatus::Pending {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let InvokeStatus::Succeeded { block } = status else {
        panic!("invoke did not succeed: {status:?}");
    };
    let adapter = StarknetAdapter::new("starknet", sn.domain, rpc.clone(), sn.endpoint, 0)?;
    let sent = adapter.sent_messages(block, block).await?;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].envelope.payload,
        vec![XrouteStack::felt_word(Felt::from(77u8))]
    );
    assert_eq!(sent[0].tx_hash, tx.to_bytes_be());

    // A call that fails (no such function) is refused at the estimate: nothing is sent.
    let bad = Call {
        to: sn.app,
        selector: get_selector_from_name("no_such_function").unwrap(),
        calldata: vec![],
    };
    let err = submitter.invoke(vec![bad]).await.unwrap_err().to_string();
    assert!(
        err.starts_with("starknet: starknet_addInvokeTransaction failed"),
        "{err}"
    );

    // An address with no account contract.
    let err = StarknetSubmitter::new("starknet", rpc, Felt::from(0x1234u32), account.private_key)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no account contract is deployed at 0x1234"),
        "{err}"
    );
    Ok(())
}
