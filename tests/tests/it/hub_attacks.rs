//! Attacks on the Hub (issue 26), performed on the local network (the real nitro Bridge, Inbox and
//! Outbox on the L1 anvil, the local Arbitrum's L2), the test playing attacker, owner and relayer;
//! each asserts what happened to the messages and the money.

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use eyre::{Result, WrapErr, ensure};
use xroute_adapters::{
    Call, ChainAdapter, Exit, L1,
    evm::{ArbitrumAdapter, HubChainAdapter},
    hub::Hub as HubCalls,
};
use xroute_config::{ArbitrumChain, ArbitrumContracts, EvmChain, RpcUrl};
use xroute_tests::{
    LocalNet, XrouteStack,
    arbitrum::ArbitrumOptions,
    artifacts::evm::{ArbitrumEndpoint, Hub, SampleApp},
    localnet::L1_KIT_ACCOUNT,
    stack::{ARBITRUM_DOMAIN, L1_DOMAIN, L2_KIT_ACCOUNT, hub_sent, send_from_arbitrum_app},
};

/// An Arbitrum adapter reading the sends of `endpoint` (exits only: no account).
fn rollup(net: &LocalNet, endpoint: Address, dir: &std::path::Path) -> Result<ArbitrumAdapter> {
    Ok(ArbitrumAdapter::read_only(&rollup_config(
        net, endpoint, dir,
    )?)?)
}

/// The local Arbitrum's chain block, its endpoint `endpoint` (an unused key file in `dir`).
fn rollup_config(
    net: &LocalNet,
    endpoint: Address,
    dir: &std::path::Path,
) -> Result<ArbitrumChain> {
    let arb = net.arbitrum()?;
    let key = dir.join("unused.key");
    std::fs::write(&key, "0x01")?;
    Ok(ArbitrumChain {
        chain: EvmChain {
            name: "arbitrum".into(),
            domain: ARBITRUM_DOMAIN,
            rpc: RpcUrl::new(arb.l2.endpoint().to_string()).map_err(|e| eyre::eyre!(e))?,
            confirmations: 0,
            chain_id: None,
            signer_key_file: key,
            transport: Default::default(),
        },
        contracts: ArbitrumContracts {
            inbox: arb.bridge.inbox,
            bridge: arb.bridge.bridge,
            outbox: arb.bridge.outbox,
            endpoint,
            tank: None,
        },
    })
}

/// The L1 anvil as the hub chain, reading `stack`'s Hub.
fn hub_chain(net: &LocalNet, stack: &XrouteStack) -> Result<HubChainAdapter> {
    Ok(HubChainAdapter::new(
        "ethereum",
        L1_DOMAIN,
        net.l1.endpoint().parse()?,
        stack.hub,
        0,
    )?)
}

/// The message's `relayFromArbitrum` call once a send root covering it is posted and final.
async fn exit_call(
    net: &LocalNet,
    l1: &HubChainAdapter,
    rollup: &ArbitrumAdapter,
    id: B256,
) -> Result<Call> {
    net.step_arbitrum().await?; // the snapshot
    tokio::time::sleep(ArbitrumOptions::default().confirm_after).await;
    net.step_arbitrum().await?; // the root
    let head = rollup.head().await?.number;
    let sent = rollup.sent_messages(0, head).await?;
    let found = sent
        .iter()
        .find(|m| m.envelope.id().0 == id)
        .ok_or_else(|| eyre::eyre!("message {id} not among the endpoint's sends"))?;
    let (envelope, sent_in) = (found.envelope.clone(), found.block.number);
    let view = L1 {
        state: l1
            .as_l1()
            .ok_or_else(|| eyre::eyre!("the hub chain serves as L1"))?,
        finalized: l1.head().await?,
    };
    match rollup
        .exit(&envelope, sent_in, &view, &Bytes::new())
        .await?
    {
        Exit::Ready { call, .. } => Ok(call),
        other => eyre::bail!("message {id} not proven: {other:?}"),
    }
}

/// Finding 8: a message executed through the Outbox waits in the Hub under the endpoint that sent
/// it. The owner then registers a new endpoint for the domain, whose first message has the same
/// nonce and is relayed. The waiting message must still be forwarded (its source is the old
/// endpoint): before the fix the Hub looked its nonce up under the new endpoint and refused it
/// as `AlreadyProcessed` for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_message_survives_the_re_registration_of_its_endpoint() -> Result<()> {
    let net = LocalNet::start_with(1, Some(ArbitrumOptions::default())).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let dir = tempfile::tempdir()?;
    let arb = net.arbitrum()?;
    let old = stack.arbitrum()?;
    let sn = stack.starknets[0];
    let l1 = hub_chain(&net, &stack)?;
    let owner = net.l1.provider(L1_KIT_ACCOUNT)?;
    let hub_contract = Hub::new(stack.hub, &owner);

    // Arbitrum → Starknet from the first endpoint (its nonce 0), executed through the Outbox by
    // someone else: it waits in the Hub.
    let sn_app = B256::from(sn.app.to_bytes_be());
    let waiting = stack
        .send_from_arbitrum(&net, sn.domain, sn_app, &[vec![U256::from(5)]])
        .await?[0];
    let call = exit_call(
        &net,
        &l1,
        &rollup(&net, old.endpoint, dir.path())?,
        waiting.0,
    )
    .await?;
    let relay = HubCalls::relayFromArbitrumCall::abi_decode(&call.data)?;
    let e = relay.e;
    let outbox = arb.outbox(&owner);
    let executed = outbox
        .executeTransaction(
            e.proof.clone(),
            e.index,
            old.endpoint,
            stack.hub,
            e.l2Block,
            e.l1Block,
            e.l2Timestamp,
            U256::ZERO,
            Bytes::from(
                HubCalls::receiveFromArbitrumCall {
                    words: e.words.clone(),
                }
                .abi_encode(),
            ),
        )
        .send()
        .await
        .wrap_err("executing the Outbox message")?
        .get_receipt()
        .await?;
    ensure!(executed.status(), "the Outbox execution reverted");
    assert_ne!(
        hub_contract.outbound(waiting.0).call().await?,
        U256::ZERO,
        "the message waits in the Hub"
    );

    // The owner registers a new endpoint for the domain; its first message (nonce 0 too) goes to
    // an L1 app and is relayed.
    let l2 = arb.l2.provider(L2_KIT_ACCOUNT)?;
    let endpoint = ArbitrumEndpoint::deploy(&l2, ARBITRUM_DOMAIN, stack.hub).await?;
    let app = SampleApp::deploy(&l2, *endpoint.address()).await?;
    let registered = hub_contract
        .registerArbitrumDomain(
            ARBITRUM_DOMAIN,
            arb.bridge.inbox,
            arb.bridge.outbox,
            *endpoint.address(),
        )
        .send()
        .await
        .wrap_err("re-registering the domain")?
        .get_receipt()
        .await?;
    ensure!(registered.status(), "re-registration reverted");
    let l1_app = B256::left_padding_from(stack.l1_app.as_slice());
    let second = send_from_arbitrum_app(
        &net,
        *app.address(),
        L1_DOMAIN,
        l1_app,
        &[vec![U256::from(6)]],
    )
    .await?[0];
    assert_eq!(
        endpoint.nonce().call().await?,
        1,
        "the new endpoint's first message had nonce 0"
    );
    let call = exit_call(
        &net,
        &l1,
        &rollup(&net, *endpoint.address(), dir.path())?,
        second.0,
    )
    .await?;
    assert!(
        net.send_l1(stack.hub, call.data.clone(), U256::ZERO)
            .await?,
        "the new endpoint's message is relayed"
    );

    // The waiting message is forwarded to Starknet, its fee paid by the relayer.
    let forward = HubCalls::relayFromL1Call {
        words: e.words.clone(),
        entry: Bytes::new(),
    }
    .abi_encode();
    let fee = U256::from(1_000_000_000_000u64);
    let why = owner
        .call(
            TransactionRequest::default()
                .to(stack.hub)
                .input(forward.clone().into())
                .value(fee),
        )
        .await
        .err()
        .map(|e| {
            let data = e
                .as_error_resp()
                .and_then(|r| r.as_revert_data())
                .unwrap_or_default();
            match <HubCalls::HubErrors as alloy::sol_types::SolInterface>::abi_decode(&data) {
                Ok(error) => format!("{error:?}"),
                Err(_) => e.to_string(),
            }
        });
    assert!(
        net.send_l1(stack.hub, Bytes::from(forward), fee).await?,
        "the message that waited under the old endpoint is forwarded (refused: {why:?})"
    );
    assert_eq!(
        hub_contract.outbound(waiting.0).call().await?,
        U256::ZERO,
        "nothing waits any more"
    );
    Ok(())
}

/// The decoded Hub error of a refused call, or the raw error.
fn hub_error(e: &alloy::contract::Error) -> String {
    let data = e.as_revert_data().unwrap_or_default();
    match <HubCalls::HubErrors as alloy::sol_types::SolInterface>::abi_decode(&data) {
        Ok(error) => format!("{error:?}"),
        Err(_) => e.to_string(),
    }
}

/// Finding 1: an L1 app escrows the fee of its message toward Arbitrum in the Hub. An attacker
/// relays it with terms of its own choosing: no gas for the automatic redeem, the whole escrow as
/// submission cost, itself as the refund address. The Hub must refuse terms that cannot deliver,
/// and whoever relays, the excess of someone else's escrow goes back to the message's sender,
/// never to the relayer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_can_starve_or_redirect_an_escrow_toward_arbitrum() -> Result<()> {
    use xroute_adapters::evm::arbitrum::{ArbBridgeContracts, retryable_entry};
    use xroute_proofs::arbitrum::{RetryableTicket, alias};
    let net = LocalNet::start_with(0, Some(ArbitrumOptions::default())).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let arb = stack.arbitrum()?;
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let hub = Hub::new(stack.hub, &kit);
    let escrow = U256::from(10_000_000_000_000_000u64); // 0.01 ETH
    let receipt = SampleApp::new(stack.l1_app, &kit)
        .send(ARBITRUM_DOMAIN, arb.app.into_word(), vec![U256::from(7)])
        .value(escrow)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(receipt.status(), "the L1 send reverted");
    let sent = hub_sent(&receipt)?;
    let attacker_account = 3;
    let attacker = net.l1.address(attacker_account)?;
    let as_attacker = Hub::new(stack.hub, net.l1.provider(attacker_account)?);

    // No gas for the automatic redeem, the whole escrow as submission cost, refunds to the
    // attacker: refused, the escrow stays.
    let starved = retryable_entry(0, U256::ZERO, escrow, attacker);
    let refused = as_attacker
        .relayFromL1(sent.words.clone(), starved.clone())
        .send()
        .await;
    let landed = match refused {
        Ok(pending) => pending.get_receipt().await?.status(),
        Err(_) => false,
    };
    assert!(
        !landed,
        "a relay that cannot deliver was accepted: the escrow went to the Inbox for a ticket that is never redeemed"
    );
    assert_eq!(hub.outbound(sent.id).call().await?, escrow + U256::from(1));
    assert_eq!(kit.get_balance(stack.hub).await?, escrow);

    // Terms that deliver, refunds named to the attacker: the message goes, and its refunds go to
    // the sender (an L1 contract: its alias on L2), not to the relayer.
    let fair = retryable_entry(
        300_000,
        U256::from(1_000_000_000u64),
        U256::from(1_000_000_000_000_000u64),
        attacker,
    );
    let r = as_attacker
        .relayFromL1(sent.words.clone(), fair)
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(r.status(), "a relay with deliverable terms lands");
    let delivered = r
        .inner
        .logs()
        .iter()
        .find_map(|l| {
            l.log_decode::<ArbBridgeContracts::InboxMessageDelivered>()
                .ok()
        })
        .ok_or_else(|| eyre::eyre!("no InboxMessageDelivered"))?;
    let ticket = RetryableTicket::from_inbox_message(
        0,
        delivered.inner.data.messageNum,
        Address::ZERO,
        U256::ZERO,
        &delivered.inner.data.data,
    )?;
    assert_eq!(ticket.deposit, escrow, "the whole escrow paid the ticket");
    assert_eq!(ticket.excess_fee_refund_address, alias(stack.l1_app));
    assert_eq!(ticket.call_value_refund_address, alias(stack.l1_app));
    assert_eq!(kit.get_balance(stack.hub).await?, U256::ZERO);
    // The automatic redeem runs on the L2 and the app receives the message.
    let report = net.step_arbitrum().await?;
    assert_eq!(report.auto_redeemed, 1);
    let l2 = net.arbitrum()?.l2.provider(L2_KIT_ACCOUNT)?;
    assert_eq!(
        SampleApp::new(arb.app, &l2).totalReceived().call().await?,
        U256::from(1)
    );

    // The owner raises the floor: the router's quote for a new message meets it.
    let (gas_floor, fee_floor) = (777_777u64, U256::from(3_000_000_000u64));
    let r = hub
        .setRetryableFloor(
            ARBITRUM_DOMAIN,
            gas_floor,
            alloy::primitives::Uint::<192, 3>::from(fee_floor),
        )
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(r.status(), "setRetryableFloor reverted");
    let dir = tempfile::tempdir()?;
    let mut config = rollup_config(&net, arb.endpoint, dir.path())?;
    config.chain.signer_key_file = dir.path().join("router.key");
    std::fs::write(&config.chain.signer_key_file, format!("0x{:064x}", 2))?;
    let router = ArbitrumAdapter::connect(&config).await?;
    let l1 = hub_chain(&net, &stack)?;
    let view = L1 {
        state: l1
            .as_l1()
            .ok_or_else(|| eyre::eyre!("the hub chain serves as L1"))?,
        finalized: l1.head().await?,
    };
    let receipt = SampleApp::new(stack.l1_app, &kit)
        .send(ARBITRUM_DOMAIN, arb.app.into_word(), vec![U256::from(8)])
        .send()
        .await?
        .get_receipt()
        .await?;
    let next = hub_sent(&receipt)?;
    let envelope = xroute_proofs::envelope::Envelope::from_words(
        &next
            .words
            .iter()
            .map(|w| B256::from(*w))
            .collect::<Vec<_>>(),
    )?;
    match router.entry(&envelope, &view).await? {
        xroute_adapters::Entry::Accepted { terms, .. } => {
            let (gas, fee_cap, _, _) =
                <(U256, U256, U256, Address) as alloy::sol_types::SolValue>::abi_decode(&terms)?;
            assert!(gas >= U256::from(gas_floor), "quoted gas {gas}");
            assert!(fee_cap >= fee_floor, "quoted fee cap {fee_cap}");
        }
        other => eyre::bail!("the router refused the entry: {other:?}"),
    }
    Ok(())
}

/// Finding 2: an L1 app whose `onMessage` reverts with a megabyte of revert data. A batch that
/// relays a message to it and one to a good app, sent with 10 M gas: the bomb's member fails
/// alone (its revert data bounded wherever the Hub copies it) and the good member lands. Before
/// the fix the Hub copied the megabyte twice and logged it, and the whole batch ran out of gas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_bomb_fails_alone_in_a_batch() -> Result<()> {
    use xroute_tests::artifacts::evm::RevertBomb;
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let bomb = RevertBomb::deploy(&kit, U256::from(1_000_000u64)).await?;
    let mut members = Vec::new();
    for (i, target) in [*bomb.address(), stack.l1_app].iter().enumerate() {
        let payload = vec![starknet_rust::core::types::Felt::from(40 + i as u64)];
        for envelope in stack
            .envelopes_from_starknet(&net, 0, L1_DOMAIN, target.into_word(), &[payload])
            .await?
        {
            members.push(Hub::Member {
                call: stack.relay_from_starknet_call(0, &envelope),
                fee: U256::ZERO,
            });
        }
    }
    net.flush(0).await?;
    let hub = Hub::new(stack.hub, &kit);
    let sent = hub
        .relayBatch(members)
        .gas(10_000_000)
        .send()
        .await?
        .get_receipt()
        .await?;
    let app = SampleApp::new(stack.l1_app, &kit);
    assert!(
        sent.status(),
        "the batch reverted whole (gas used {})",
        sent.gas_used
    );
    assert_eq!(app.totalReceived().call().await?, U256::from(1));
    let failed: Vec<(U256, usize)> = sent
        .inner
        .logs()
        .iter()
        .filter_map(|l| l.log_decode::<Hub::BatchMemberFailed>().ok())
        .map(|e| (e.inner.data.index, e.inner.data.reason.len()))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, U256::ZERO, "the bomb's member failed");
    assert!(
        failed[0].1 <= 1024,
        "its reason is bounded: {} bytes",
        failed[0].1
    );
    Ok(())
}

/// Finding 5: Starknet's messaging contract refuses an L1 → L2 fee above 1 ETH, and a word that
/// is not a felt. An L1 send toward Starknet that escrows more, or carries such a word, could
/// never be forwarded: its ETH would be locked in the Hub. Both are refused at send time. And a
/// message that waits (parked by routers: its recipient does not exist) can be reclaimed by its
/// sender, escrow and all, once; nobody can forward it after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escrow_toward_starknet_is_never_locked() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let me = net.l1.address(L1_KIT_ACCOUNT)?;
    let hub = Hub::new(stack.hub, &kit);
    let sn = stack.starknets[0];
    let app = B256::from(sn.app.to_bytes_be());
    let two_eth = U256::from(2_000_000_000_000_000_000u128);

    // Above the cap: refused before anything is escrowed.
    let over = hub.send(sn.domain, app, vec![U256::from(1)]).value(two_eth);
    let landed = match over.send().await {
        Ok(p) => p.get_receipt().await?.status(),
        Err(_) => false,
    };
    assert!(
        !landed,
        "a send escrowing 2 ETH toward Starknet was accepted; the core contract refuses its forward"
    );
    // A word that is not a felt: refused.
    let prime: U256 =
        "0x800000000000011000000000000000000000000000000000000000000000001".parse()?;
    let err = hub
        .send(sn.domain, app, vec![prime])
        .value(U256::from(1_000u64))
        .call()
        .await
        .unwrap_err();
    assert!(
        hub_error(&err).contains("WordNotAFelt"),
        "{}",
        hub_error(&err)
    );
    assert_eq!(kit.get_balance(stack.hub).await?, U256::ZERO);

    // At the cap: accepted and forwarded.
    let cap = U256::from(1_000_000_000_000_000_000u128);
    let r = hub
        .send(sn.domain, app, vec![U256::from(2)])
        .value(cap)
        .send()
        .await?
        .get_receipt()
        .await?;
    let at_cap = hub_sent(&r)?;
    assert!(
        net.send_l1(
            stack.hub,
            HubCalls::relayFromL1Call {
                words: at_cap.words.clone(),
                entry: Bytes::new()
            }
            .abi_encode()
            .into(),
            U256::ZERO
        )
        .await?,
        "a send at the cap is forwarded"
    );

    // A message to a recipient that does not exist waits; its sender reclaims the escrow.
    let escrow = U256::from(123_456_789u64);
    let r = hub
        .send(sn.domain, B256::with_last_byte(0x77), vec![U256::from(3)])
        .value(escrow)
        .send()
        .await?
        .get_receipt()
        .await?;
    let parked = hub_sent(&r)?;
    let other = Hub::new(stack.hub, net.l1.provider(3)?);
    let err = other
        .reclaim(parked.words.clone())
        .call()
        .await
        .unwrap_err();
    assert!(
        hub_error(&err).contains("NotTheSender"),
        "{}",
        hub_error(&err)
    );
    let before = kit.get_balance(me).await?;
    let r = hub
        .reclaim(parked.words.clone())
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(r.status());
    let gas = U256::from(r.gas_used) * U256::from(r.effective_gas_price);
    assert_eq!(kit.get_balance(me).await? + gas - before, escrow);
    assert_eq!(hub.outbound(parked.id).call().await?, U256::ZERO);
    assert!(hub.isProcessed(L1_DOMAIN, parked.nonce).call().await?);
    let err = hub
        .relayFromL1(parked.words.clone(), Bytes::new())
        .value(U256::from(1_000u64))
        .call()
        .await
        .unwrap_err();
    assert!(
        hub_error(&err).contains("NotPending"),
        "{}",
        hub_error(&err)
    );

    assert_eq!(kit.get_balance(stack.hub).await?, U256::ZERO);
    Ok(())
}
