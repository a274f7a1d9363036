#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The EVM submitter on a real anvil: the nonce lease only moves when the node accepts a
//! transaction, a stuck transaction is replaced under the same nonce with higher gas prices and
//! only the replacement is mined, and a revert is reported with its data before anything is sent.

use alloy::{
    primitives::{Address, Bytes, U256},
    providers::Provider,
};
use eyre::Result;
use xroute_adapters::{
    Revert, Submitter,
    evm::submit::{Estimate, EvmSubmitter, Fees},
    hub::{classify_revert, relay_from_l1},
};
use xroute_tests::{Anvil, LocalNet, XrouteStack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonces_bumps_and_reverts() -> Result<()> {
    let anvil = Anvil::start().await?;
    let provider = anvil.provider(0)?;
    let node_id = provider.get_chain_id().await?;
    // A node that answers another chain's id than the config's is not signed for.
    let wrong = EvmSubmitter::new(
        "ethereum",
        provider.clone(),
        anvil.signer(3)?,
        hub_reverts(),
        Some(node_id + 1),
    )
    .await
    .err()
    .ok_or_else(|| eyre::eyre!("a wrong chain id was accepted"))?;
    assert!(wrong.is_transient(), "{wrong}");
    assert!(
        wrong.to_string().contains(&format!(
            "the node answered chain id {node_id}, the config says {}",
            node_id + 1
        )),
        "{wrong}"
    );
    let submitter = EvmSubmitter::new(
        "ethereum",
        provider.clone(),
        anvil.signer(3)?,
        hub_reverts(),
        Some(node_id),
    )
    .await?;
    let to = Address::repeat_byte(0x42);
    let Estimate::Ok(fees) = submitter.estimate(to, &Bytes::new(), U256::from(1)).await? else {
        panic!("a plain transfer does not revert");
    };

    // A transaction the node refuses (it cannot pay for its gas) leaves the nonce where it was.
    let mut lease = submitter.lock().await;
    let greedy = Fees {
        gas_limit: 21_000,
        max_fee_per_gas: u128::MAX / 21_000 / 2,
        max_priority_fee_per_gas: 1,
    };
    let refused = lease
        .sign(to, Bytes::new(), U256::ZERO, greedy, None)
        .await?;
    assert_eq!(refused.nonce, 0);
    assert!(lease.broadcast(&refused).await.is_err());
    assert_eq!(
        lease.nonce().await?,
        0,
        "a refused transaction uses no nonce"
    );
    drop(lease);

    // Stop mining: the next transaction gets stuck in the pool.
    let _: serde_json::Value = provider
        .raw_request("evm_setAutomine".into(), (false,))
        .await?;
    let mut lease = submitter.lock().await;
    let stuck = lease
        .sign(to, Bytes::new(), U256::from(1), fees, None)
        .await?;
    lease.broadcast(&stuck).await?;
    assert_eq!(lease.nonce().await?, 1, "accepted: the nonce moved on");
    // The replacement: same nonce, prices up by a quarter.
    let bumped_fees = stuck.fees.bumped(Some(submitter.market_fees().await?));
    assert!(bumped_fees.max_fee_per_gas > stuck.fees.max_fee_per_gas);
    let replacement = lease
        .sign(
            to,
            Bytes::new(),
            U256::from(1),
            bumped_fees,
            Some(stuck.nonce),
        )
        .await?;
    assert_eq!(replacement.nonce, stuck.nonce);
    assert_ne!(replacement.hash, stuck.hash);
    lease.broadcast(&replacement).await?;
    assert_eq!(
        lease.nonce().await?,
        1,
        "a replacement does not move the nonce"
    );
    drop(lease);
    // Re-sending either is harmless.
    submitter.rebroadcast(&replacement).await?;
    anvil.mine().await?;
    let mined = submitter
        .receipt(replacement.hash)
        .await?
        .expect("the replacement is mined");
    assert!(mined.success);
    assert_eq!(
        submitter.receipt(stuck.hash).await?,
        None,
        "the stuck one never is"
    );
    assert_eq!(submitter.mined_nonce().await?, 1);
    assert_eq!(provider.get_balance(to).await?, U256::from(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_would_revert_is_classified_before_sending() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let submitter = EvmSubmitter::new(
        "ethereum",
        net.l1.provider(0)?,
        net.l1.signer(2)?,
        hub_reverts(),
        None,
    )
    .await?;
    // Words of an L1 message with no pending entry in the Hub. A router only relays after proving
    // `outbound[id] ≥ 1`, so for it this revert means another relayer already forwarded it.
    let envelope = xroute_proofs::envelope::Envelope {
        src_domain: 1,
        nonce: 7,
        sender: Default::default(),
        dst_domain: 2,
        recipient: Default::default(),
        payload: vec![],
    };
    let call = relay_from_l1(stack.hub, &envelope.to_words(), &Default::default());
    let Estimate::Reverts(revert) = submitter
        .estimate(stack.hub, &call.data, U256::ZERO)
        .await?
    else {
        panic!("relaying an unknown message must revert");
    };
    assert_eq!(
        classify_revert(&revert.data, &revert.message, &[]),
        Revert::AlreadyDone(format!("NotPending({})", envelope.id()))
    );
    // The same through the chain-independent trait: the submitter reads the Hub's errors.
    assert_eq!(
        Submitter::estimate(&submitter, &call).await?,
        xroute_adapters::Estimate::Reverts(Revert::AlreadyDone(format!(
            "NotPending({})",
            envelope.id()
        )))
    );
    assert_eq!(submitter.mined_nonce().await?, 0, "nothing was sent");
    Ok(())
}

/// Reverts read as the Hub's.
fn hub_reverts() -> xroute_adapters::evm::submit::RevertReader {
    std::sync::Arc::new(|data: &[u8], message: &str| {
        xroute_adapters::hub::classify_revert(data, message, &[])
    })
}
