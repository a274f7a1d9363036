//! Attacks on the TokenLedger (issue 26), on the local network (anvil with the real contracts and
//! a devnet behind the Hub): the test plays the user, the relayer and the owner, and asserts
//! where the tokens are.

use alloy::{
    primitives::{B256, Bytes, U256},
    providers::Provider,
    sol_types::SolCall,
};
use eyre::{Result, ensure};
use starknet_rust::core::types::Felt;
use xroute_adapters::{ChainAdapter, hub::Hub as HubCalls, starknet::StarknetAdapter};
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::{HungryReceiver, TokenLedger, XToken},
    localnet::L1_KIT_ACCOUNT,
    stack::{L1_DOMAIN, hub_sent, relay_from_starknet_call},
    token::{TokenStack, u256_felts},
};

/// Wei an L1 transfer toward Starknet escrows for its L1 → L2 message.
const L2_FEE: u64 = 1_000_000_000_000;

/// A reader of devnet 0's endpoint.
fn starknet_reader(net: &LocalNet, stack: &XrouteStack) -> Result<StarknetAdapter> {
    let sn = stack.starknets[0];
    Ok(StarknetAdapter::new(
        "starknet",
        sn.domain,
        net.starknets[0].devnet.rpc_url().clone(),
        sn.endpoint,
        0,
    )?)
}

/// The `relayFromStarknet` calldata of every message devnet 0's endpoint sent since block
/// `from`, in order.
async fn starknet_exits(net: &LocalNet, stack: &XrouteStack, from: u64) -> Result<Vec<Bytes>> {
    let sn = stack.starknets[0];
    let reader = starknet_reader(net, stack)?;
    let head = reader.head().await?.number;
    let sent = reader.sent_messages(from, head).await?;
    Ok(sent
        .iter()
        .map(|m| relay_from_starknet_call(sn.domain, sn.endpoint, &m.envelope))
        .collect())
}

/// The devnet's latest block number (where to read the endpoint's next sends from).
async fn starknet_head(net: &LocalNet, stack: &XrouteStack) -> Result<u64> {
    Ok(starknet_reader(net, stack)?.head().await?.number)
}

/// Moves `amount` from the kit's L1 account to devnet account `account`: the L1 transfer, its
/// forward into Starknet, the postman's delivery.
async fn fund_starknet(
    net: &LocalNet,
    token: &TokenStack,
    account: usize,
    amount: U256,
) -> Result<()> {
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let (sn, _) = token.starknets[0];
    let to = token.account_word(net, sn, account)?;
    let r = TokenLedger::new(token.ledger, &l1)
        .transfer(sn, to, amount)
        .value(U256::from(L2_FEE))
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "the L1 transfer reverted");
    let sent = hub_sent(&r)?;
    let forward = HubCalls::relayFromL1Call {
        words: sent.words,
        entry: Bytes::new(),
    }
    .abi_encode();
    let hub_address = TokenLedger::new(token.ledger, &l1).hub().call().await?;
    ensure!(
        net.send_l1(hub_address, forward.into(), U256::ZERO).await?,
        "the forward into Starknet reverted"
    );
    net.flush(0).await?;
    ensure!(
        token.balance(net, sn, to).await? >= amount,
        "the tokens did not arrive on Starknet"
    );
    Ok(())
}

/// Finding 4: a transfer-and-call from Starknet to an L1 contract whose `onTokens` needs ~3.2 M
/// gas. A relayer sends the relay with too little gas, hoping the callback fails and the ledger
/// refunds the transfer (why = 1) instead of delivering it. The ledger must tell a callback that
/// ran out of gas from one that refused, where the callback runs: the starved relays revert,
/// nothing is refunded, and a relay with enough gas delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayer_cannot_force_a_refund_by_starving_the_callback() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let token = TokenStack::deploy(&net, &stack, U256::from(1_000_000u64)).await?;
    let (sn, router) = token.starknets[0];
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let need = U256::from(3_200_000u64);
    let receiver = HungryReceiver::deploy(&kit, need).await?;
    let amount = U256::from(500u64);
    fund_starknet(&net, &token, 0, amount).await?;

    let from = starknet_head(&net, &stack).await? + 1;
    let [low, high] = u256_felts(amount);
    net.starknets[0]
        .devnet
        .invoke(
            0,
            router,
            "transfer_remote_call",
            vec![
                Felt::from(L1_DOMAIN),
                Felt::from_bytes_be(&receiver.address().into_word().0),
                low,
                high,
                Felt::from(1u8),
                Felt::from(9u8),
            ],
        )
        .await?;
    net.flush(0).await?;
    let exits = starknet_exits(&net, &stack, from).await?;
    ensure!(
        exits.len() == 1,
        "one message left Starknet: {}",
        exits.len()
    );
    let ledger = TokenLedger::new(token.ledger, &kit);
    let supply_before = ledger.supply(sn).call().await?;

    for gas in [1_500_000u64, 2_500_000, 3_300_000] {
        let tx = alloy::rpc::types::TransactionRequest::default()
            .to(stack.hub)
            .input(exits[0].clone().into())
            .gas_limit(gas);
        let r = kit.send_transaction(tx).await?.get_receipt().await?;
        let refunded = r
            .inner
            .logs()
            .iter()
            .any(|l| l.log_decode::<TokenLedger::Refunded>().is_ok());
        assert!(
            !refunded,
            "a relay with {gas} gas refunded the transfer: the callback was starved"
        );
        assert!(
            !r.status(),
            "a relay with {gas} gas cannot deliver; it must revert"
        );
    }
    assert_eq!(ledger.supply(sn).call().await?, supply_before);
    assert_eq!(receiver.received().call().await?, U256::ZERO);

    // Enough gas: delivered and called.
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(stack.hub)
        .input(exits[0].clone().into())
        .gas_limit(10_000_000);
    let r = kit.send_transaction(tx).await?.get_receipt().await?;
    assert!(r.status(), "the relay with enough gas lands");
    assert_eq!(receiver.received().call().await?, amount);
    assert_eq!(
        XToken::new(token.token, &kit)
            .balanceOf(*receiver.address())
            .call()
            .await?,
        amount
    );
    assert_eq!(ledger.supply(sn).call().await?, supply_before - amount);
    Ok(())
}

/// Finding 3: a transfer larger than a route's capacity could only be queued, and a queued
/// transfer completes only within the capacity: it waited for ever (for a pool's epoch, every
/// depositor with it). From L1 it is refused before anything burns; from a rollup it is sent back
/// to its sender at once (why = 1), the ledger adding up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_above_a_route_capacity_is_refused_or_sent_back_at_once() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let initial = U256::from(1_000_000u64);
    let token = TokenStack::deploy(&net, &stack, initial).await?;
    let (sn, router) = token.starknets[0];
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let me = net.l1.address(L1_KIT_ACCOUNT)?;
    let ledger = TokenLedger::new(token.ledger, &kit);
    let xtoken = XToken::new(token.token, &kit);
    let funded = U256::from(500u64);
    fund_starknet(&net, &token, 0, funded).await?;

    // Starknet's outbound capacity 100 and L1 → Starknet inbound capacity 100.
    let r = ledger
        .setLimits(sn, 100, 100)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "setLimits reverted");

    // From L1, 150 toward Starknet: refused, nothing burned or queued.
    let balance = xtoken.balanceOf(me).call().await?;
    let sent = match ledger
        .transfer(sn, B256::with_last_byte(0x42), U256::from(150u64))
        .value(U256::from(L2_FEE))
        .send()
        .await
    {
        Ok(p) => p.get_receipt().await?.status(),
        Err(_) => false,
    };
    assert!(
        !sent,
        "a transfer above the route's capacity was accepted from L1"
    );
    assert_eq!(xtoken.balanceOf(me).call().await?, balance);
    assert_eq!(ledger.queuedTotal().call().await?, U256::ZERO);

    // From Starknet, 150 to L1: the ledger sends it back at once.
    let from = starknet_head(&net, &stack).await? + 1;
    let [low, high] = u256_felts(U256::from(150u64));
    net.starknets[0]
        .devnet
        .invoke(
            0,
            router,
            "transfer_remote",
            vec![
                Felt::from(L1_DOMAIN),
                Felt::from_bytes_be(&me.into_word().0),
                low,
                high,
            ],
        )
        .await?;
    net.flush(0).await?;
    let exits = starknet_exits(&net, &stack, from).await?;
    ensure!(exits.len() == 1);
    let supply_sn = ledger.supply(sn).call().await?;
    assert!(net.send_l1(stack.hub, exits[0].clone(), U256::ZERO).await?);
    assert_eq!(
        ledger.queuedTotal().call().await?,
        U256::ZERO,
        "the transfer above the capacity was queued, where it can never complete"
    );
    assert_eq!(
        ledger.supply(sn).call().await?,
        supply_sn,
        "sent back: still counted on Starknet"
    );
    let total: U256 = {
        let mut t = ledger.supply(L1_DOMAIN).call().await?;
        t += ledger.supply(sn).call().await?;
        t + ledger.queuedTotal().call().await?
    };
    assert_eq!(total, initial);
    Ok(())
}

/// Finding 6: a queued transfer toward a chain the owner then paused. Anyone could `complete` it
/// into the paused chain. It must stay queued until the chain is unpaused (its sender may still
/// cancel it), then complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_transfer_does_not_complete_into_a_paused_chain() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let token = TokenStack::deploy(&net, &stack, U256::from(1_000_000u64)).await?;
    let (sn, _) = token.starknets[0];
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let ledger = TokenLedger::new(token.ledger, &kit);
    let to = B256::with_last_byte(0x42);
    let ok = |r: alloy::rpc::types::TransactionReceipt| {
        ensure!(r.status(), "reverted");
        Ok(())
    };
    ok(ledger
        .setLimits(sn, 0, 100)
        .send()
        .await?
        .get_receipt()
        .await?)?;
    // The first takes the whole capacity; the second is queued. (With gas to spare: an estimate
    // made in the previous block's second refills no bucket and so writes less.)
    for amount in [100u64, 60] {
        ok(ledger
            .transfer(sn, to, U256::from(amount))
            .value(U256::from(L2_FEE))
            .gas(1_000_000)
            .send()
            .await?
            .get_receipt()
            .await?)?;
    }
    let id = ledger.lastQueueId().call().await?;
    assert_eq!(id, U256::from(1));
    assert_eq!(ledger.queuedTotal().call().await?, U256::from(60u64));
    ok(ledger
        .setPaused(sn, true)
        .send()
        .await?
        .get_receipt()
        .await?)?;
    net.l1.advance_time(2 * 86_400).await?;

    let completed = match ledger.complete(id).send().await {
        Ok(p) => p.get_receipt().await?.status(),
        Err(_) => false,
    };
    assert!(
        !completed,
        "a queued transfer completed into a paused chain"
    );
    assert!(ledger.queued(id).call().await?.open);
    assert_eq!(ledger.queuedTotal().call().await?, U256::from(60u64));

    // Unpaused: it completes.
    ok(ledger
        .setPaused(sn, false)
        .send()
        .await?
        .get_receipt()
        .await?)?;
    ok(ledger
        .complete(id)
        .gas(1_000_000)
        .send()
        .await?
        .get_receipt()
        .await?)?;
    assert!(!ledger.queued(id).call().await?.open);
    assert_eq!(ledger.queuedTotal().call().await?, U256::ZERO);
    assert_eq!(ledger.supply(sn).call().await?, U256::from(160u64));
    Ok(())
}

/// The Cairo pool's bound (issue 26): the ledger moves less than 2^128, so an epoch whose deposits
/// reached 2^128 could never close. Two users deposit 2^127 each: the second deposit is refused
/// (`EPOCH_FULL`) and takes nothing; the epoch holding the first closes and crosses to L1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starknet_pool_epoch_never_reaches_two_to_the_128() -> Result<()> {
    use xroute_tests::pool::{L1Pools, PoolChain, StarknetPool};
    let net = LocalNet::start_with_accounts(1, None, 3).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let half = U256::from(1) << 127;
    let token = TokenStack::deploy(&net, &stack, U256::from(1) << 129).await?;
    let (sn, _) = token.starknets[0];
    for account in [1, 2] {
        fund_starknet(&net, &token, account, half).await?;
    }
    let l1_pools = L1Pools::deploy(&net, &token).await?;
    let pools = StarknetPool::deploy(&net, &token, &l1_pools, 3600, U256::from(1)).await?;
    pools.deposit(&net, 1, half).await?;
    let refused = pools.deposit(&net, 2, half).await;
    let err = format!(
        "{:#}",
        refused
            .err()
            .ok_or_else(|| eyre::eyre!("the deposit that fills the epoch was taken"))?
    );
    assert!(err.contains("EPOCH_FULL"), "{err}");
    let user2 = token.account_word(&net, sn, 2)?;
    assert_eq!(
        token.balance(&net, sn, user2).await?,
        half,
        "the refused deposit took nothing"
    );
    assert_eq!(pools.epoch(&net, 1).await?.deposits, half);
    pools.close_epoch(&net, 0).await?;
    assert_eq!(pools.current_epoch(&net).await?, 2, "the epoch closed");
    assert_eq!(
        token.balance(&net, sn, pools.pool_word()).await?,
        U256::ZERO,
        "its deposits crossed to L1"
    );
    Ok(())
}
