//! The Hub's metering (issue 27, part 2), on anvil with devnet's Starknet messaging: a metered
//! batch records one receipt per landed member, its gas adds up to the transaction's, and the
//! source domain's commitment is the hash chain of exactly those receipts.

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    sol_types::SolCall,
};
use eyre::{Result, ensure};
use starknet_rust::core::types::Felt;
use xroute_adapters::hub::Hub as HubCalls;
use xroute_proofs::{
    envelope::Envelope,
    metering::{self, MeteredReceipt},
};
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::{GasTank, Hub, SampleApp},
    localnet::L1_KIT_ACCOUNT,
    stack::L1_DOMAIN,
};

/// A `relayFromStarknet` batch member for each of `count` messages the Starknet sample app sends
/// to the L1 app (sent, and flushed to L1).
async fn starknet_members(
    net: &LocalNet,
    stack: &XrouteStack,
    count: u64,
) -> Result<Vec<Hub::Member>> {
    let payloads: Vec<Vec<Felt>> = (0..count).map(|i| vec![Felt::from(100 + i)]).collect();
    let envelopes = stack
        .envelopes_from_starknet(net, 0, L1_DOMAIN, stack.l1_app.into_word(), &payloads)
        .await?;
    net.flush(0).await?;
    Ok(envelopes
        .iter()
        .map(|e| Hub::Member {
            call: stack.relay_from_starknet_call(0, e),
            fee: U256::ZERO,
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metered_batch_records_what_each_landed_relay_cost() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let relayer = net.l1.address(L1_KIT_ACCOUNT)?;
    let hub = Hub::new(stack.hub, &kit);
    let sn = stack.starknets[0].domain;

    // Five messages, and the first again (a replay: it fails and gets no receipt).
    let mut members = starknet_members(&net, &stack, 5).await?;
    members.push(members[0].clone());
    let before = hub.meters(sn).call().await?;
    // The simulation says what the failing member burns (the same as in the transaction).
    let simulated = hub.relayBatchMetered(members.clone()).call().await?;
    assert_eq!(
        simulated.iter().map(|m| m.ok).collect::<Vec<_>>(),
        [true, true, true, true, true, false]
    );
    let failed = u64::try_from(simulated[5].gasUsed)?;
    let r = hub
        .relayBatchMetered(members)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "the metered batch reverted");
    let metered: Vec<_> = r
        .inner
        .logs()
        .iter()
        .filter_map(|l| l.log_decode::<Hub::RelaysMetered>().ok())
        .collect();
    assert_eq!(metered.len(), 1, "one RelaysMetered per transaction");
    let event = &metered[0].inner.data;
    assert_eq!(event.relayer, relayer);
    assert_eq!(event.gasPrice, U256::from(r.effective_gas_price));
    // The commitment is the hash chain of these receipts, at the block's time.
    let time = kit
        .get_block_by_number(r.block_number.unwrap_or_default().into())
        .await?
        .ok_or_else(|| eyre::eyre!("the relay's block"))?
        .header
        .timestamp;
    assert_eq!(
        event.time,
        U256::from(time),
        "the receipts' time is the block's"
    );
    let receipts = MeteredReceipt::unpack(relayer, event.gasPrice, time, &event.receipts);
    assert_eq!(
        receipts.len(),
        5,
        "a receipt per landed member, none for the replay"
    );
    let delivered: Vec<B256> = r
        .inner
        .logs()
        .iter()
        .filter_map(|l| l.log_decode::<Hub::MessageDelivered>().ok())
        .map(|d| d.inner.data.id)
        .collect();
    assert_eq!(
        receipts.iter().map(|x| x.id).collect::<Vec<_>>(),
        delivered,
        "the receipts are the delivered messages, in order"
    );
    assert!(receipts.iter().all(|x| x.src == sn && x.fee == 0));
    let first_index = u32::try_from(before & U256::from(u64::MAX))?;
    assert_eq!(
        receipts.iter().map(|x| x.index).collect::<Vec<_>>(),
        (first_index..first_index + 5).collect::<Vec<_>>()
    );
    // The receipts' gas adds up to the transaction's, less the failed member's (the relayer's
    // own loss), within 2 %.
    let sum: u64 = receipts.iter().map(|x| x.gas).sum();
    let used = r.gas_used - failed;
    let error = (sum as f64 - used as f64).abs() / used as f64;
    assert!(
        error < 0.02,
        "metered {sum} against {used} used ({:.2} %)",
        error * 100.0
    );
    let expected = receipts.iter().fold(before, metering::fold);
    assert_eq!(hub.meters(sn).call().await?, expected);
    assert_eq!(
        SampleApp::new(stack.l1_app, &kit)
            .totalReceived()
            .call()
            .await?,
        U256::from(5)
    );

    // An unmetered batch records nothing.
    let plain = starknet_members(&net, &stack, 2).await?;
    let r = hub.relayBatch(plain).send().await?.get_receipt().await?;
    ensure!(r.status(), "the plain batch reverted");
    assert!(
        r.inner
            .logs()
            .iter()
            .all(|l| l.log_decode::<Hub::RelaysMetered>().is_err())
    );
    assert_eq!(hub.meters(sn).call().await?, expected);
    Ok(())
}

/// The L1 gas tank (issue 27, an L1 payer settled at once): a payer deposits, pays for three
/// Starknet → L1 messages, a relayer relays them in one metered batch; each payment is settled in
/// that transaction: the relayer is credited `min(gas, limit) × min(gas price, cap)` per message,
/// recomputed here from the receipts, and the payer gets the rest back to the wei; the relayer
/// withdraws. Bad payments are refused by name and reserve nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_payment_is_charged_what_the_relay_cost_and_the_rest_returned() -> Result<()> {
    use alloy::providers::Provider;
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let relayer = net.l1.address(L1_KIT_ACCOUNT)?;
    let payer_account = 2;
    let payer = net.l1.address(payer_account)?;
    let as_payer = Hub::new(stack.hub, net.l1.provider(payer_account)?);
    let hub = Hub::new(stack.hub, &kit);
    let sn = stack.starknets[0].domain;
    let deposit = U256::from(10u64).pow(U256::from(17u64)); // 0.1 ETH
    let r = as_payer
        .deposit(payer)
        .value(deposit)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "deposit reverted");

    let members = starknet_members(&net, &stack, 3).await?;
    let ids: Vec<B256> = members
        .iter()
        .map(|m| {
            let call = HubCalls::relayFromStarknetCall::abi_decode(&m.call)?;
            let words: Vec<B256> = call.words.iter().map(|w| B256::from(*w)).collect();
            Ok(Envelope::from_words(&words)?.id().0)
        })
        .collect::<Result<_>>()?;
    let now = kit
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| eyre::eyre!("no latest block"))?
        .header
        .timestamp;
    let terms = GasTank::Terms {
        gasLimit: 200_000,
        deadline: u32::try_from(now + 3600)?,
        maxBaseFee: 50_000_000_000,
        maxPriorityFee: 2_000_000_000,
        legBudget: 0,
    };
    let worst = hub.worstCase(terms.clone()).call().await?;
    assert_eq!(
        worst,
        U256::from(200_000u64) * U256::from(52_000_000_000u64)
    );

    // Bad payments: refused by name, nothing reserved.
    let refusal = |e: alloy::contract::Error| {
        e.as_decoded_interface_error::<Hub::HubErrors>()
            .map(|e| format!("{e:?}"))
            .unwrap_or_else(|| e.to_string())
    };
    let mut zero = terms.clone();
    zero.gasLimit = 0;
    let mut late = terms.clone();
    late.deadline = u32::try_from(now)?;
    let mut huge = terms.clone();
    huge.legBudget = u128::MAX >> 1;
    for (t, route, want) in [
        (zero, (sn, L1_DOMAIN), "ZeroGasLimit"),
        (late, (sn, L1_DOMAIN), "DeadlinePassed"),
        (huge, (sn, L1_DOMAIN), "InsufficientBalance"),
        (terms.clone(), (sn, 77), "UnknownRoute"),
    ] {
        let why = match as_payer.pay(ids[0], route.0, route.1, t).call().await {
            Ok(_) => "accepted".to_string(),
            Err(e) => refusal(e),
        };
        assert!(why.contains(want), "{why}");
    }
    assert_eq!(hub.balances(payer).call().await?, deposit);

    for id in &ids {
        let r = as_payer
            .pay(*id, sn, L1_DOMAIN, terms.clone())
            .send()
            .await?
            .get_receipt()
            .await?;
        ensure!(r.status(), "pay reverted");
    }
    assert_eq!(
        hub.balances(payer).call().await?,
        deposit - worst * U256::from(3)
    );
    let why = match as_payer
        .pay(ids[0], sn, L1_DOMAIN, terms.clone())
        .call()
        .await
    {
        Ok(_) => "accepted".to_string(),
        Err(e) => refusal(e),
    };
    assert!(why.contains("AlreadyPaid"), "{why}");

    let relayer_before = hub.balances(relayer).call().await?;
    let simulated = hub
        .relayBatchMetered(members.clone())
        .call()
        .await
        .map_err(|e| eyre::eyre!("the metered batch would revert: {}", refusal(e)))?;
    assert!(simulated.iter().all(|m| m.ok));
    // With gas to spare: an estimate runs at gas price 0, where settling credits nothing and so
    // writes no balance.
    let r = hub
        .relayBatchMetered(members)
        .gas(3_000_000)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "the metered batch reverted");
    let event = r
        .inner
        .logs()
        .iter()
        .find_map(|l| l.log_decode::<Hub::RelaysMetered>().ok())
        .ok_or_else(|| eyre::eyre!("no RelaysMetered"))?;
    let receipts = MeteredReceipt::unpack(
        relayer,
        event.inner.data.gasPrice,
        0,
        &event.inner.data.receipts,
    );
    assert_eq!(receipts.len(), 3);
    let price = U256::from(r.effective_gas_price)
        .min(U256::from(terms.maxBaseFee) + U256::from(terms.maxPriorityFee));
    let charges: Vec<U256> = receipts
        .iter()
        .map(|x| U256::from(x.gas.min(terms.gasLimit)) * price)
        .collect();
    let total: U256 = charges.iter().copied().sum();
    assert_eq!(hub.balances(relayer).call().await? - relayer_before, total);
    assert_eq!(
        hub.balances(payer).call().await?,
        deposit - total,
        "to the wei"
    );
    let settled: Vec<(B256, U256)> = r
        .inner
        .logs()
        .iter()
        .filter_map(|l| l.log_decode::<Hub::Settled>().ok())
        .map(|e| (e.inner.data.id, e.inner.data.charge))
        .collect();
    assert_eq!(
        settled,
        ids.iter()
            .copied()
            .zip(charges.iter().copied())
            .collect::<Vec<_>>()
    );
    // The receipts, settlement included, add up to the transaction within 2 %.
    let sum: u64 = receipts.iter().map(|x| x.gas).sum();
    let error = (sum as f64 - r.gas_used as f64).abs() / r.gas_used as f64;
    eprintln!(
        "paid metered batch of 3: metered {sum}, used {} ({:+.2} %)",
        r.gas_used,
        (sum as f64 - r.gas_used as f64) * 100.0 / r.gas_used as f64
    );
    assert!(error < 0.02, "metered {sum} against {} used", r.gas_used);
    for id in &ids {
        assert_eq!(hub.payments(*id).call().await?.reserved, 0, "settled once");
    }

    // The relayer withdraws what it earned.
    let to = Address::with_last_byte(0x99);
    let earned = hub.balances(relayer).call().await?;
    let w = hub.withdraw(earned, to).send().await?.get_receipt().await?;
    ensure!(w.status(), "withdraw reverted");
    assert_eq!(kit.get_balance(to).await?, earned);
    assert_eq!(hub.balances(relayer).call().await?, U256::ZERO);
    Ok(())
}
