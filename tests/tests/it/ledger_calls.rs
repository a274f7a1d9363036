//! The TokenLedger's transfer-and-call from L1 on a real anvil (ADR 0009): data bound for a
//! Starknet chain must be felts, refused before anything burns; a call above a route's whole
//! capacity is refused, one over what is left of it queued with its data, and cancelling it
//! returns the tokens to the L1 sender (minted, not called).

use alloy::primitives::{B256, U256};
use eyre::Result;
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::{TokenLedger, XToken},
    localnet::L1_KIT_ACCOUNT,
    token::TokenStack,
};

/// The Starknet prime: the smallest word that is not a felt.
const FELT_PRIME: &str = "0x800000000000011000000000000000000000000000000000000000000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l1_transfer_and_call_checks_its_data_and_queues_it_whole() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let initial = U256::from(1_000_000u64);
    let token = TokenStack::deploy(&net, &stack, initial).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let me = net.l1.address(L1_KIT_ACCOUNT)?;
    let ledger = TokenLedger::new(token.ledger, &l1);
    let xtoken = XToken::new(token.token, &l1);
    let (sn, router) = token.starknets[0];
    let to = B256::from(router.to_bytes_be());

    // A word that is not a felt: refused with the word's index, nothing burned.
    let bad = vec![U256::from(7), FELT_PRIME.parse::<U256>()?];
    let err = ledger
        .transferCall(sn, to, U256::from(5), bad)
        .call()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("BadData: data word 1 is not a felt"), "{err}");
    assert_eq!(xtoken.balanceOf(me).call().await?, initial);

    // Above the whole inbound capacity of the destination: refused (it could never complete).
    let r = ledger
        .setLimits(sn, 0, 60)
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(r.status());
    let data = vec![U256::from(1), U256::from(2), U256::from(3)];
    let err = ledger
        .transferCall(sn, to, U256::from(61), data.clone())
        .call()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.as_decoded_interface_error::<TokenLedger::TokenLedgerErrors>(),
            Some(TokenLedger::TokenLedgerErrors::AboveCapacity(e))
                if e.domain == sn && e.capacity == U256::from(60) && e.amount == U256::from(61)
        ),
        "{err}"
    );
    // Within it, after a transfer took 20 of the 60: queued, with its data kept.
    // (With gas to spare: an estimate made in the previous block's second refills no bucket and
    // so writes less.)
    let r = ledger
        .transfer(sn, to, U256::from(20))
        .gas(1_000_000)
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(r.status());
    let r = ledger
        .transferCall(sn, to, U256::from(50), data)
        .gas(1_000_000)
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(r.status());
    let id = ledger.lastQueueId().call().await?;
    assert_eq!(id, U256::from(1));
    assert!(ledger.queuedCall(id).call().await?);
    assert_eq!(ledger.queuedTotal().call().await?, U256::from(50));
    assert_eq!(xtoken.balanceOf(me).call().await?, initial - U256::from(70));

    // Cancelled by its sender: back on L1, the ledger adding up again.
    let r = ledger.cancel(id).send().await?.get_receipt().await?;
    assert!(r.status());
    assert_eq!(xtoken.balanceOf(me).call().await?, initial - U256::from(20));
    assert_eq!(ledger.queuedTotal().call().await?, U256::ZERO);
    assert_eq!(ledger.supply(1).call().await?, initial - U256::from(20));
    assert!(
        !ledger.queued(id).call().await?.open,
        "the queued transfer is closed"
    );
    Ok(())
}
