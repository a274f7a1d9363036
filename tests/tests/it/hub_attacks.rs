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
    stack::{ARBITRUM_DOMAIN, L1_DOMAIN, L2_KIT_ACCOUNT, send_from_arbitrum_app},
};

/// An Arbitrum adapter reading the sends of `endpoint` (exits only: no account).
fn rollup(net: &LocalNet, endpoint: Address, dir: &std::path::Path) -> Result<ArbitrumAdapter> {
    let arb = net.arbitrum()?;
    let key = dir.join("unused.key");
    std::fs::write(&key, "0x01")?;
    Ok(ArbitrumAdapter::read_only(&ArbitrumChain {
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
        },
    })?)
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
    let envelope = sent
        .iter()
        .find(|m| m.envelope.id().0 == id)
        .ok_or_else(|| eyre::eyre!("message {id} not among the endpoint's sends"))?
        .envelope
        .clone();
    let view = L1 {
        state: l1
            .as_l1()
            .ok_or_else(|| eyre::eyre!("the hub chain serves as L1"))?,
        finalized: l1.head().await?,
    };
    match rollup.exit(&envelope, &view, &Bytes::new()).await? {
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
    let l1 = HubChainAdapter::new(
        "ethereum",
        L1_DOMAIN,
        net.l1.endpoint().parse()?,
        stack.hub,
        0,
    )?;
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
