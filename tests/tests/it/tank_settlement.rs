//! Settlement by proof on real chains (issue 27): a Starknet user pays into the Cairo gas tank on
//! devnet, the Hub on anvil meters the relays, its commitment crosses through the real L1 → L2
//! messaging, and the tank settles the receipts presented against it, to the wei.

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{B256, Bytes, U256},
    providers::Provider,
};
use eyre::{Result, ensure};
use starknet_rust::core::{types::Felt, utils::get_selector_from_name};
use xroute_proofs::{metering, starknet::felt_to_u256};
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::{Hub, IStarknetMessaging},
    localnet::L1_KIT_ACCOUNT,
    stack::L1_DOMAIN,
    tank::{self, StarknetTank, Terms, TermsExt},
};

/// Whether an invoke failed with the Cairo error `short`.
fn refused(result: Result<Felt>, short: &str) -> bool {
    match result {
        Ok(_) => false,
        Err(e) => format!("{e:#}").contains(short),
    }
}

/// A Starknet payer pays for two of three Starknet → L1 messages; a relayer relays all three in
/// one metered batch; a settler sends the commitment, which devnet's L1 handler delivers to the
/// tank through the endpoint. Forged settlements (a receipt's gas changed, a receipt replayed, a
/// commitment not from the endpoint) are refused and move nothing; the real receipts settle once:
/// the relayer's claimable is the charges recomputed here from the L1 receipts and the terms, the
/// settler's its share of the settlement's cost, and the payer's deposit is its balance plus
/// both, to the wei. The relayer binds a payout address with an L1 → L2 message of its own and
/// claims there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starknet_tank_settles_by_the_hubs_commitment_to_the_wei() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let tank = StarknetTank::deploy(&net, &stack, 0).await?;
    let devnet = &net.starknets[0].devnet;
    let sn = stack.starknets[0].domain;
    let (payer_account, anyone) = (1, 2);
    let payer = devnet.predeployed_accounts()[payer_account].address;
    let deposit = U256::from(10u64).pow(U256::from(17u64));
    tank.deposit(&net, payer_account, deposit).await?;
    assert_eq!(tank.read(&net, "balance_of", payer).await?, deposit);

    let payloads: Vec<Vec<Felt>> = (0..3).map(|i| vec![Felt::from(500 + i)]).collect();
    let envelopes = stack
        .envelopes_from_starknet(&net, 0, L1_DOMAIN, stack.l1_app.into_word(), &payloads)
        .await?;
    let ids: Vec<B256> = envelopes.iter().map(|e| e.id().0).collect();
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let now = kit
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| eyre::eyre!("no latest block"))?
        .header
        .timestamp;
    let terms = [
        Terms {
            gas_limit: 200_000,
            deadline: now + 3600,
            max_base_fee: 50_000_000_000,
            max_priority_fee: 2_000_000_000,
            leg_budget: 0,
        },
        // A cap below what the relay pays: charged at the cap.
        Terms {
            gas_limit: 30_000,
            deadline: now + 3600,
            max_base_fee: 1,
            max_priority_fee: 0,
            leg_budget: 0,
        },
    ];

    // Bad payments: refused by name, nothing reserved.
    let mut zero = terms[0];
    zero.gas_limit = 0;
    let mut late = terms[0];
    late.deadline = 1;
    let mut huge = terms[0];
    huge.leg_budget = u128::MAX >> 1;
    for (t, dst, why) in [
        (terms[0], 77, "UNKNOWN_ROUTE"),
        (zero, L1_DOMAIN, "ZERO_GAS_LIMIT"),
        (late, L1_DOMAIN, "DEADLINE_PASSED"),
        (huge, L1_DOMAIN, "INSUFFICIENT_BALANCE"),
    ] {
        let paid = tank.pay(&net, payer_account, ids[0], sn, dst, &t).await;
        assert!(
            matches!(&paid, Err(e) if format!("{e:#}").contains(why)),
            "{why}: {paid:?}"
        );
    }
    assert_eq!(tank.read(&net, "balance_of", payer).await?, deposit);
    // Paying in another's name is the endpoint's alone (its send_message_paid).
    let mut pay_for = xroute_tests::tank::u256_felts(U256::from_be_bytes(ids[0].0)).to_vec();
    pay_for.extend([payer, Felt::from(L1_DOMAIN)]);
    pay_for.extend(terms[0].felts());
    assert!(refused(
        devnet
            .invoke(anyone, tank.address, "pay_for", pay_for)
            .await,
        "NOT_ENDPOINT"
    ));
    assert_eq!(tank.read(&net, "balance_of", payer).await?, deposit);
    for (id, t) in ids.iter().zip(&terms) {
        tank.pay(&net, payer_account, *id, sn, L1_DOMAIN, t).await?;
    }
    let reserved = terms[0].worst_case() + terms[1].worst_case();
    assert_eq!(
        tank.read(&net, "balance_of", payer).await?,
        deposit - reserved
    );

    // The relayer relays the three in one metered batch.
    net.flush(0).await?;
    let relayer = net.l1.address(L1_KIT_ACCOUNT)?;
    let members: Vec<Hub::Member> = envelopes
        .iter()
        .map(|e| Hub::Member {
            call: stack.relay_from_starknet_call(0, e),
            fee: U256::ZERO,
        })
        .collect();
    let r = Hub::new(stack.hub, &kit)
        .relayBatchMetered(members)
        .gas(3_000_000)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "the metered batch reverted");
    let receipts = tank::metered_receipts(&r)?;
    assert_eq!(receipts.iter().map(|x| x.id).collect::<Vec<_>>(), ids);

    // A settler sends the commitment; devnet's L1 handler delivers it to the tank.
    let settler_account = 3;
    let settler = net.l1.address(settler_account)?;
    let as_settler = net.l1.provider(settler_account)?;
    let l1_fee = U256::from(10u64).pow(U256::from(15u64));
    let sent = tank::settle(&as_settler, stack.hub, sn, l1_fee, Bytes::new()).await?;
    let sent_event = sent
        .inner
        .logs()
        .iter()
        .find_map(|l| l.log_decode::<Hub::CommitmentSent>().ok())
        .ok_or_else(|| eyre::eyre!("no CommitmentSent"))?;
    let claimed = {
        // The claim is in the message the Hub sent: [1, from, to, head, settler, gas, price, fee].
        let sent = sent
            .inner
            .logs()
            .iter()
            .find_map(|l| l.log_decode::<Hub::MessageSent>().ok())
            .ok_or_else(|| eyre::eyre!("no MessageSent"))?;
        sent.inner.data.words[4 + 5]
    };
    assert!(
        claimed <= U256::from(sent.gas_used),
        "claimed {claimed} above the {} the settlement used",
        sent.gas_used
    );
    let meter = Hub::new(stack.hub, &kit).meters(sn).call().await?;
    assert_eq!(sent_event.inner.data.meter, meter);
    assert_eq!(receipts.iter().fold(U256::ZERO, metering::fold), meter);
    net.flush(0).await?;
    let commitment = devnet
        .call(tank.address, "commitment", vec![Felt::ZERO])
        .await?;
    assert_eq!(
        felt_to_u256(commitment[0]),
        U256::from(3),
        "the commitment arrived"
    );

    // Forged settlements change nothing.
    let mut forged = receipts.clone();
    forged[1].gas += 1;
    let calldata = tank::settle_calldata(&forged);
    assert!(refused(
        devnet
            .invoke(anyone, tank.address, "settle", calldata)
            .await,
        "SETTLEMENT_MISMATCH"
    ));
    let mut replayed = receipts.clone();
    replayed[2] = replayed[0];
    assert!(refused(
        devnet
            .invoke(
                anyone,
                tank.address,
                "settle",
                tank::settle_calldata(&replayed)
            )
            .await,
        "SETTLEMENT_MISMATCH"
    ));
    let mut message = vec![
        Felt::from(L1_DOMAIN),
        Felt::from_bytes_be_slice(stack.hub.as_slice()),
    ];
    message.extend([
        Felt::from(8),
        Felt::ONE,
        Felt::ZERO,
        Felt::from(3),
        Felt::ONE,
    ]);
    message.extend([Felt::ONE, Felt::ONE, Felt::ONE, Felt::ONE]);
    assert!(refused(
        devnet
            .invoke(anyone, tank.address, "on_message", message)
            .await,
        "NOT_ENDPOINT"
    ));
    let relayer_felt = Felt::from_bytes_be_slice(relayer.as_slice());
    assert_eq!(
        tank.read(&net, "claimable", relayer_felt).await?,
        U256::ZERO
    );
    let settled = devnet.call(tank.address, "settled_meter", vec![]).await?;
    assert_eq!(
        tank::u256_at(&settled, 0)?,
        U256::ZERO,
        "a refused settlement moved the mark"
    );

    // The real receipts settle, once.
    devnet
        .invoke(
            anyone,
            tank.address,
            "settle",
            tank::settle_calldata(&receipts),
        )
        .await?;
    let share = (claimed * U256::from(sent.effective_gas_price) + l1_fee) / U256::from(3);
    let mut charges = U256::ZERO;
    let mut shares = U256::ZERO;
    for (x, t) in receipts.iter().zip(&terms) {
        let (charge, rest) = t.charge_and_rest(x);
        charges += charge;
        shares += share.min(rest);
    }
    assert!(
        receipts[1].gas_price > U256::from(terms[1].max_base_fee),
        "the second relay paid above its payer's cap"
    );
    assert_eq!(tank.read(&net, "claimable", relayer_felt).await?, charges);
    let settler_felt = Felt::from_bytes_be_slice(settler.as_slice());
    assert_eq!(tank.read(&net, "claimable", settler_felt).await?, shares);
    assert_eq!(
        tank.read(&net, "balance_of", payer).await? + charges + shares,
        deposit,
        "the deposit is the balance plus what was charged, to the wei"
    );
    let settled = devnet.call(tank.address, "settled_meter", vec![]).await?;
    assert_eq!(tank::u256_at(&settled, 0)?, meter);
    assert!(refused(
        devnet
            .invoke(
                anyone,
                tank.address,
                "settle",
                tank::settle_calldata(&receipts)
            )
            .await,
        "NO_COMMITMENT"
    ));

    // The relayer binds a payout address on Starknet from its L1 address, and claims there.
    let payout = Felt::from(0x9a_7017_u64);
    let messaging = IStarknetMessaging::new(net.starknets[0].messaging, &kit);
    let bound = messaging
        .sendMessageToL2(
            felt_to_u256(tank.address),
            felt_to_u256(get_selector_from_name("bind_payout")?),
            vec![felt_to_u256(payout)],
        )
        .value(U256::from(10u64).pow(U256::from(12u64)))
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(bound.status(), "sendMessageToL2 reverted");
    net.flush(0).await?;
    let before = tank.eth_balance(&net, payout).await?;
    devnet
        .invoke(anyone, tank.address, "claim", vec![relayer_felt])
        .await?;
    assert_eq!(tank.eth_balance(&net, payout).await? - before, charges);
    assert_eq!(
        tank.read(&net, "claimable", relayer_felt).await?,
        U256::ZERO
    );
    Ok(())
}
