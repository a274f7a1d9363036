#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Relays that pay for themselves (issue 27), end to end: anvil and a devnet with the contracts
//! of `contracts/` and a Starknet gas tank, the `xroute` binary relaying under
//! `payments.policy = "paid"`. The test plays the Starknet user (deposit, pay, top up), the
//! provers (devnet's postman) and the L1 market (the base fee); the router does the rest, settling
//! included. Every assertion reads the chains.

use std::{collections::HashMap, path::Path, sync::Arc, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    providers::Provider,
};
use eyre::{Result, bail, ensure};
use starknet_rust::core::{types::Felt, utils::get_selector_from_name};
use tempfile::TempDir;
use xroute_adapters::hub as hub_calls;
use xroute_config::{PaymentPolicy, PaymentsConfig};
use xroute_proofs::{envelope::MessageId, metering, starknet::felt_to_u256};
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::{Hub, IStarknetMessaging},
    localnet::L1_KIT_ACCOUNT,
    process::free_port,
    router::{Flusher, RouterOptions, RouterProcess, set_payments, write_config},
    stack::L1_DOMAIN,
    tank::{StarknetTank, Terms, TermsExt, u256_at},
};

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");
const GWEI: u128 = 1_000_000_000;

/// What the relays of `ids` cost on L1 (each message's share of its relay transaction's
/// `gasUsed × effectiveGasPrice`, plus the next-leg fee it fronted), against what their payers
/// were charged for them (`charges`) and for their settlement (`shares`): printed, per message,
/// as a docs/gas.md row.
async fn print_cost_row(
    l1: &alloy::providers::DynProvider,
    hub: Address,
    route: &str,
    ids: &[B256],
    charges: U256,
    shares: U256,
) -> Result<()> {
    use alloy::sol_types::SolEvent;
    let latest = l1.get_block_number().await?;
    let logs = l1
        .get_logs(&hub_calls::receipts_filter(hub, 0, latest))
        .await?;
    let mut cost = U256::ZERO;
    let mut n = 0u64;
    for log in &logs {
        let Ok(e) = Hub::RelaysMetered::decode_log(&log.inner) else {
            continue;
        };
        let members = (e.data.receipts.len() / 2) as u64;
        let tx = log
            .transaction_hash
            .ok_or_else(|| eyre::eyre!("a log without its transaction"))?;
        let r = l1
            .get_transaction_receipt(tx)
            .await?
            .ok_or_else(|| eyre::eyre!("no receipt for {tx}"))?;
        let tx_cost = U256::from(r.gas_used) * U256::from(r.effective_gas_price);
        for x in xroute_adapters::hub::receipts_of(std::slice::from_ref(log)) {
            if ids.contains(&x.id) {
                cost += tx_cost / U256::from(members) + U256::from(x.fee);
                n += 1;
                eprintln!(
                    "{route}: metered {} gas of a transaction of {} members that used {}",
                    x.gas, members, r.gas_used
                );
            }
        }
    }
    ensure!(
        n == ids.len() as u64,
        "{n} receipts for {} messages",
        ids.len()
    );
    let per = |v: U256| v / U256::from(n);
    eprintln!(
        "| {route} | {n} | {} | {} | {:+.2} % | {} |",
        per(cost),
        per(charges),
        (f64::from(charges) - f64::from(cost)) * 100.0 / f64::from(cost),
        per(shares),
    );
    Ok(())
}

/// What the tank of domain `src` should have credited, recomputed from L1: per receipt of `src`
/// (all must be paid, with `terms`), its charge on its payer's terms; per commitment the Hub
/// sent for `src` (its payload `[1, from, to, head, settler, claimed gas, gas price, fee]`), an
/// equal share of its cost for each receipt it covers, within what the payment has left.
/// Returns (charges, shares, the receipts' ids), after checking that the receipts fold to
/// `meter` and that `settler` sent every commitment.
async fn credits_of(
    l1: &alloy::providers::DynProvider,
    hub: Address,
    src: u32,
    meter: U256,
    settler: Address,
    terms: &HashMap<B256, Terms>,
) -> Result<(U256, U256, Vec<B256>)> {
    use alloy::sol_types::SolEvent;
    let latest = l1.get_block_number().await?;
    let logs = l1
        .get_logs(&hub_calls::receipts_filter(hub, 0, latest))
        .await?;
    let receipts: Vec<_> = hub_calls::receipts_of(&logs)
        .into_iter()
        .filter(|r| r.src == src)
        .collect();
    ensure!(
        receipts.iter().fold(U256::ZERO, metering::fold) == meter,
        "the receipts of domain {src} are not the Hub's commitment"
    );
    let sent = l1
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(hub)
                .event_signature(Hub::MessageSent::SIGNATURE_HASH)
                .from_block(0)
                .to_block(latest),
        )
        .await?;
    let commitments: Vec<Vec<U256>> = sent
        .iter()
        .filter_map(|l| Hub::MessageSent::decode_log(&l.inner).ok())
        .map(|e| e.data)
        .filter(|e| e.sender == hub && e.dstDomain == src)
        .map(|e| e.words[4..].to_vec())
        .collect();
    let mut charges = U256::ZERO;
    let mut shares = U256::ZERO;
    for c in &commitments {
        let by = Address::from_word(B256::from(c[4].to_be_bytes::<32>()));
        ensure!(by == settler, "a commitment sent by {by}, not the router");
        let (from, to) = (c[1].to::<u64>(), c[2].to::<u64>());
        let share = (c[5] * c[6] + c[7]) / U256::from(to - from);
        for r in receipts
            .iter()
            .filter(|r| (from..to).contains(&u64::from(r.index)))
        {
            let t = terms
                .get(&r.id)
                .ok_or_else(|| eyre::eyre!("a receipt for unpaid message {}", r.id))?;
            let (charge, rest) = t.charge_and_rest(r);
            ensure!(
                charge
                    <= U256::from(r.gas.min(t.gas_limit))
                        * (U256::from(t.max_base_fee) + U256::from(t.max_priority_fee))
                        + U256::from(t.leg_budget),
                "a charge above the payer's terms"
            );
            charges += charge;
            shares += share.min(rest);
        }
    }
    Ok((charges, shares, receipts.iter().map(|r| r.id).collect()))
}

struct Env {
    net: Arc<LocalNet>,
    stack: XrouteStack,
    tank: StarknetTank,
    router: RouterProcess,
    flusher: Flusher,
    config: std::path::PathBuf,
    _dir: TempDir,
}

impl Env {
    async fn message(&self, id: &MessageId) -> Result<serde_json::Value> {
        self.router.get(&format!("/messages/{id}")).await
    }

    /// Waits until `ok` holds for every id's API view.
    async fn wait_until(
        &mut self,
        ids: &[MessageId],
        what: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<()> {
        let start = std::time::Instant::now();
        loop {
            self.router.check_running()?;
            self.flusher.check().await?;
            let mut all = true;
            for id in ids {
                let m = self.message(id).await?;
                if !ok(&m) {
                    all = false;
                    if start.elapsed() > Duration::from_secs(90) {
                        bail!(
                            "message {id} is not {what}: {m:#}\nrouter log:\n{}",
                            self.router.log_tail()
                        );
                    }
                }
            }
            if all {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn processed(&self, ids: &[MessageId]) -> Result<usize> {
        let kit = self.net.l1.provider(L1_KIT_ACCOUNT)?;
        let hub = Hub::new(self.stack.hub, &kit);
        let sn = self.stack.starknets[0].domain;
        let mut n = 0;
        // The Hub records processing per (source, nonce).
        for nonce in self.nonces(ids).await? {
            if hub.isProcessed(sn, nonce).call().await? {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn nonces(&self, ids: &[MessageId]) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        for id in ids {
            let m = self.message(id).await?;
            out.push(
                m["nonce"]
                    .as_u64()
                    .ok_or_else(|| eyre::eyre!("no nonce in {m}"))?,
            );
        }
        Ok(out)
    }

    async fn l1_time(&self) -> Result<u64> {
        env_l1_time(&self.net).await
    }
}

/// The Starknet user's journey, under `paid`: messages nobody paid for wait (shown as unpaid);
/// paid, they are relayed metered. Paid with a cap below the L1 base fee, they are held (shown
/// why) and nothing reaches L1; one whose deadline passes parks, and its payer's top-up with a
/// later deadline brings it back; the fee drops and both go. The router is killed before it
/// settled anything and restarted with settlements on: it commits the domain's receipts to the
/// tank and presents them once. Then, read from the chains: the router's claimable in the tank is
/// the charges recomputed here from the L1 receipts and each payer's terms (every relay charged
/// at most its payer's cap) plus its share of its own settlement's cost; the payer's deposit is
/// its balance plus both, to the wei; the router binds a payout address from its L1 account and
/// claims it there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starknet_user_pays_and_the_router_holds_relays_and_settles() -> Result<()> {
    let net = Arc::new(LocalNet::start(1).await?);
    let stack = XrouteStack::deploy(&net).await?;
    let tank = StarknetTank::deploy(&net, &stack, 0).await?;
    let sn = stack.starknets[0].domain;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let options = RouterOptions::default();
    let config = write_config(dir.path(), &net, &stack, port, &options)?;
    // No settlement yet: the router is killed before it settles anything.
    let no_settling = PaymentsConfig {
        policy: PaymentPolicy::Paid,
        min_paid_percent: 100,
        settle_every: 0,
        settle_after_ms: 0,
    };
    set_payments(
        &config,
        no_settling.clone(),
        &[(sn, B256::from(tank.address.to_bytes_be()))],
    )?;
    let router = RouterProcess::start(Path::new(XROUTE), &config, port).await?;
    let flusher = Flusher::start(net.clone(), Duration::from_millis(300));
    let mut env = Env {
        net: net.clone(),
        stack,
        tank,
        router,
        flusher,
        config,
        _dir: dir,
    };
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let relayer = net.l1.address(options.l1_account)?;

    let payer_account = 1;
    let devnet = &net.starknets[0].devnet;
    let payer = devnet.predeployed_accounts()[payer_account].address;
    let deposit = U256::from(10u64).pow(U256::from(18u64));
    env.tank.deposit(&net, payer_account, deposit).await?;

    // Three messages nobody paid for: they wait, shown as unpaid.
    let payloads: Vec<Vec<Felt>> = (0..3).map(|i| vec![Felt::from(900 + i)]).collect();
    let unpaid = env
        .stack
        .send_from_starknet(&net, 0, L1_DOMAIN, env.stack.l1_app.into_word(), &payloads)
        .await?;
    env.wait_until(&unpaid, "shown as unpaid", |m| {
        m["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("unpaid:"))
    })
    .await?;
    assert_eq!(
        env.processed(&unpaid).await?,
        0,
        "an unpaid message reached L1"
    );

    let now = env.l1_time().await?;
    let generous = Terms {
        gas_limit: 400_000,
        deadline: now + 3600,
        max_base_fee: 50 * GWEI,
        max_priority_fee: 2 * GWEI,
        leg_budget: 0,
    };
    let mut terms: HashMap<B256, Terms> = HashMap::new();
    for id in &unpaid {
        env.tank
            .pay(&net, payer_account, id.0, sn, L1_DOMAIN, &generous)
            .await?;
        terms.insert(id.0, generous);
    }
    env.wait_until(&unpaid, "delivered", |m| m["stage"] == "delivered")
        .await?;

    // Two messages paid with a cap of 20 gwei while the L1 base fee is 100: held. The second's
    // deadline is close.
    let capped = Terms {
        max_base_fee: 20 * GWEI,
        ..generous
    };
    let payloads: Vec<Vec<Felt>> = (0..2).map(|i| vec![Felt::from(950 + i)]).collect();
    let held = env
        .stack
        .send_from_starknet(&net, 0, L1_DOMAIN, env.stack.l1_app.into_word(), &payloads)
        .await?;
    net.l1.set_base_fee(100 * GWEI).await?;
    let short = Terms {
        deadline: env.l1_time().await? + 20,
        ..capped
    };
    env.tank
        .pay(&net, payer_account, held[0].0, sn, L1_DOMAIN, &capped)
        .await?;
    env.tank
        .pay(&net, payer_account, held[1].0, sn, L1_DOMAIN, &short)
        .await?;
    let start = std::time::Instant::now();
    loop {
        // The postman's blocks lower the base fee: keep it up.
        net.l1.set_base_fee(100 * GWEI).await?;
        let m = env.message(&held[0]).await?;
        if m["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("held: L1 base fee"))
        {
            let r = m["reason"].as_str().unwrap_or_default().to_string();
            assert!(r.contains("above the payer's cap 20 gwei"), "{r}");
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(60),
            "never held: {m:#}\n{}",
            env.router.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The metrics count the held messages (published at the end of each round: polled).
    let start = std::time::Instant::now();
    loop {
        net.l1.set_base_fee(100 * GWEI).await?;
        let text = reqwest::get(format!("{}/metrics", env.router.api))
            .await?
            .text()
            .await?;
        let held_now = text
            .lines()
            .find_map(|l| l.strip_prefix("xroute_messages_waiting_for_payment{why=\"held\"} "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if held_now >= 1 {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(10),
            "no held message counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Past the second's deadline (L1 time moved on): parked, with the reason.
    net.l1.advance_time(30).await?;
    let start = std::time::Instant::now();
    loop {
        net.l1.set_base_fee(100 * GWEI).await?;
        let m = env.message(&held[1]).await?;
        if m["stage"] == "parked" {
            let r = m["reason"].as_str().unwrap_or_default();
            assert!(r.starts_with("its payment's deadline passed"), "{r}");
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(60),
            "never parked: {m:#}\n{}",
            env.router.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(env.processed(&held).await?, 0, "a held message reached L1");
    // The payer tops up with a later deadline; the fee drops: both go, charged at most the cap.
    let later = Terms {
        deadline: env.l1_time().await? + 3600,
        ..capped
    };
    let mut calldata = xroute_tests::tank::u256_felts(U256::from_be_bytes(held[1].0.0)).to_vec();
    calldata.extend(later.felts());
    devnet
        .invoke(payer_account, env.tank.address, "top_up", calldata)
        .await?;
    terms.insert(held[0].0, capped);
    terms.insert(held[1].0, later);
    net.l1.set_base_fee(GWEI).await?;
    env.wait_until(&held, "delivered", |m| m["stage"] == "delivered")
        .await?;

    // Fifteen more, paid as they are sent: twenty Starknet → L1 messages in all.
    let payloads: Vec<Vec<Felt>> = (0..15).map(|i| vec![Felt::from(1000 + i)]).collect();
    let more = env
        .stack
        .send_from_starknet(&net, 0, L1_DOMAIN, env.stack.l1_app.into_word(), &payloads)
        .await?;
    for id in &more {
        env.tank
            .pay(&net, payer_account, id.0, sn, L1_DOMAIN, &generous)
            .await?;
        terms.insert(id.0, generous);
    }
    env.wait_until(&more, "delivered", |m| m["stage"] == "delivered")
        .await?;

    // Killed before any settlement; restarted with settlements every 5 receipts.
    let hub = Hub::new(env.stack.hub, &kit);
    assert_eq!(
        hub.settledMeters(sn).call().await?,
        U256::ZERO,
        "settled before the kill"
    );
    env.router.kill()?;
    set_payments(
        &env.config,
        PaymentsConfig {
            settle_every: 5,
            settle_after_ms: 2_000,
            ..no_settling
        },
        &[(sn, B256::from(env.tank.address.to_bytes_be()))],
    )?;
    if cfg!(feature = "failpoints") {
        // Aborted before the settlement's first broadcast, then (started again) before its
        // second: what follows must settle each receipt once.
        for point in ["settle.before_broadcast:1", "settle.before_broadcast:2"] {
            crate::failpoints::abort_at(&mut env.router, point).await?;
        }
        env.router.restart().await?;
    } else {
        env.router = RouterProcess::start(Path::new(XROUTE), &env.config, port).await?;
    }
    let meter = hub.meters(sn).call().await?;
    assert_eq!(metering::count(meter), 20, "twenty relays, twenty receipts");
    let start = std::time::Instant::now();
    loop {
        env.flusher.check().await?;
        env.router.check_running()?;
        let out = devnet
            .call(env.tank.address, "settled_meter", vec![])
            .await?;
        if u256_at(&out, 0)? == meter {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(90),
            "not settled: tank at {}, Hub at {meter}\n{}",
            u256_at(&out, 0)?,
            env.router.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Let the router run a few more rounds: nothing is settled twice.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // What the chains say it cost, recomputed here.
    let (charges, shares, ids) =
        credits_of(&kit, env.stack.hub, sn, meter, relayer, &terms).await?;
    assert_eq!(ids.len(), 20);
    let relayer_felt = Felt::from_bytes_be_slice(relayer.as_slice());
    let claimable = env.tank.read(&net, "claimable", relayer_felt).await?;
    print_cost_row(&kit, env.stack.hub, "Starknet → L1", &ids, charges, shares).await?;
    assert_eq!(
        claimable,
        charges + shares,
        "the router's claimable is the charges and its settlement share"
    );
    assert_eq!(
        env.tank.read(&net, "balance_of", payer).await? + charges + shares,
        deposit,
        "the deposit is the balance plus what was charged, to the wei"
    );

    // The router's operator binds a payout address from the router's L1 account and claims.
    let payout = Felt::from(0x7a_9017_u64);
    let messaging = IStarknetMessaging::new(
        net.starknets[0].messaging,
        net.l1.provider(options.l1_account)?,
    );
    let bound = messaging
        .sendMessageToL2(
            felt_to_u256(env.tank.address),
            felt_to_u256(get_selector_from_name("bind_payout")?),
            vec![felt_to_u256(payout)],
        )
        .value(U256::from(10u64).pow(U256::from(12u64)))
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(bound.status(), "sendMessageToL2 reverted");
    env.flusher.rounds(2).await?;
    devnet
        .invoke(2, env.tank.address, "claim", vec![relayer_felt])
        .await?;
    assert_eq!(env.tank.eth_balance(&net, payout).await?, claimable);
    Ok(())
}

/// Arbitrum (native ETH) and an L1 sender, under `paid`: an L2 user sends and pays in one call
/// (`ArbitrumEndpoint.sendPaid`) for two Arbitrum → L1 messages; an L1 app's message toward
/// Arbitrum waits unpaid until its payer pays on L1 with a budget for the retryable. The router
/// relays them metered; the L1 payment is settled in the relay itself (the router's balance in the
/// Hub's tank is the charge recomputed from the receipt and the terms, the payer's the rest);
/// the Arbitrum ones by the router's own settlement: the commitment crosses as a retryable, the
/// router presents the receipts, and its balance in the L2 tank is the charges plus its share,
/// the payer's the rest, to the wei; it withdraws there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_arbitrum_user_and_an_l1_app_pay_and_the_router_settles() -> Result<()> {
    use xroute_tests::{
        arbitrum::ArbitrumOptions,
        artifacts::evm::{ArbitrumEndpoint, ArbitrumTank, SampleApp, arbitrum_endpoint},
        stack::L2_KIT_ACCOUNT,
        tank::ArbitrumTankDeployment,
    };
    let net = Arc::new(LocalNet::start_with(1, Some(ArbitrumOptions::default())).await?);
    let stack = XrouteStack::deploy(&net).await?;
    let arb = stack.arbitrum()?;
    let tank = ArbitrumTankDeployment::deploy(&net, &stack).await?;
    let sn_tank = StarknetTank::deploy(&net, &stack, 0).await?;
    let sn = stack.starknets[0].domain;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let options = RouterOptions::default();
    let config = write_config(dir.path(), &net, &stack, port, &options)?;
    set_payments(
        &config,
        PaymentsConfig {
            policy: PaymentPolicy::Paid,
            min_paid_percent: 100,
            settle_every: 2,
            settle_after_ms: 2_000,
        },
        &[
            (arb.domain, tank.address.into_word()),
            (sn, B256::from(sn_tank.address.to_bytes_be())),
        ],
    )?;
    let router = RouterProcess::start(Path::new(XROUTE), &config, port).await?;
    let flusher = Flusher::start(net.clone(), Duration::from_millis(300));
    let l2_net = net.arbitrum()?;
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let relayer = net.l1.address(options.l1_account)?;
    let mut env = Env {
        net: net.clone(),
        stack: stack.clone(),
        tank: sn_tank,
        router,
        flusher,
        config,
        _dir: dir,
    };

    // Two Arbitrum → L1 messages, each sent and paid in one call by an L2 user.
    let user = 3;
    let l2_user = l2_net.l2.provider(user)?;
    let payer = l2_net.l2.address(user)?;
    let now = env.l1_time().await?;
    let terms = Terms {
        gas_limit: 400_000,
        deadline: now + 3600,
        max_base_fee: 50 * GWEI,
        max_priority_fee: 2 * GWEI,
        leg_budget: 0,
    };
    let endpoint = ArbitrumEndpoint::new(arb.endpoint, &l2_user);
    let mut from_arb = Vec::new();
    for n in 0..2u64 {
        let r = endpoint
            .sendPaid(
                L1_DOMAIN,
                stack.l1_app.into_word(),
                vec![U256::from(700 + n)],
                tank.address,
                arbitrum_endpoint::GasTank::Terms {
                    gasLimit: terms.gas_limit,
                    deadline: u32::try_from(terms.deadline)?,
                    maxBaseFee: terms.max_base_fee,
                    maxPriorityFee: terms.max_priority_fee,
                    legBudget: terms.leg_budget,
                },
            )
            .value(terms.worst_case())
            .send()
            .await?
            .get_receipt()
            .await?;
        ensure!(r.status(), "sendPaid reverted");
        let sent = r
            .inner
            .logs()
            .iter()
            .find_map(|l| l.log_decode::<ArbitrumEndpoint::MessageSent>().ok())
            .ok_or_else(|| eyre::eyre!("no MessageSent"))?;
        from_arb.push(MessageId(sent.inner.data.id));
    }
    let l2_tank = ArbitrumTank::new(tank.address, l2_net.l2.provider(L2_KIT_ACCOUNT)?);
    let deposited = terms.worst_case() * U256::from(2u8);
    assert_eq!(
        l2_tank.balances(payer).call().await?,
        U256::ZERO,
        "both deposits reserved"
    );

    // An L1 app's message toward Arbitrum: unpaid, it waits; paid with a leg budget, it goes.
    let to_arb = env
        .stack
        .send_from_l1(
            &net,
            arb.domain,
            arb.app.into_word(),
            vec![U256::from(77u8)],
            0,
        )
        .await?;
    env.wait_until(&[to_arb], "shown as unpaid", |m| {
        m["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("unpaid:"))
    })
    .await?;
    let l1_payer_account = 4;
    let l1_payer = net.l1.address(l1_payer_account)?;
    let as_l1_payer = Hub::new(stack.hub, net.l1.provider(l1_payer_account)?);
    let l1_terms = Terms {
        leg_budget: 10u128.pow(16),
        ..terms
    };
    let l1_deposit = l1_terms.worst_case();
    // Where the retryable's overpayment goes: the payer's choice.
    let l1_refund = Address::with_last_byte(0xe1);
    let r = as_l1_payer
        .setRefundAddress(l1_refund.into_word())
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "setRefundAddress reverted");
    let r = as_l1_payer
        .deposit(l1_payer)
        .value(l1_deposit)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "deposit reverted");
    let r = as_l1_payer
        .pay(to_arb.0, L1_DOMAIN, arb.domain, sol_l1_terms(&l1_terms)?)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "pay reverted");

    // Ten Starknet → Arbitrum messages, paid in the Starknet tank with a budget for the
    // retryable the relay fronts.
    let sn_payer_account = 1;
    let sn_payer = net.starknets[0].devnet.predeployed_accounts()[sn_payer_account].address;
    let sn_deposit = U256::from(10u64).pow(U256::from(18u64));
    env.tank.deposit(&net, sn_payer_account, sn_deposit).await?;
    let sn_refund = Address::with_last_byte(0xe2);
    net.starknets[0]
        .devnet
        .invoke(
            sn_payer_account,
            env.tank.address,
            "set_refund_address",
            vec![Felt::from_bytes_be(&sn_refund.into_word().0)],
        )
        .await?;
    let sn_terms = Terms {
        leg_budget: 10u128.pow(16),
        ..terms
    };
    let payloads: Vec<Vec<Felt>> = (0..10).map(|i| vec![Felt::from(300 + i)]).collect();
    let sn_to_arb = env
        .stack
        .send_from_starknet(&net, 0, arb.domain, arb.app.into_word(), &payloads)
        .await?;
    for id in &sn_to_arb {
        env.tank
            .pay(&net, sn_payer_account, id.0, sn, arb.domain, &sn_terms)
            .await?;
    }

    let mut all = from_arb.clone();
    all.push(to_arb);
    all.extend(&sn_to_arb);
    env.wait_until(&all, "delivered", |m| m["stage"] == "delivered")
        .await?;
    let arrived = SampleApp::new(arb.app, l2_net.l2.provider(L2_KIT_ACCOUNT)?)
        .totalReceived()
        .call()
        .await?;
    assert_eq!(
        arrived,
        U256::from(11u8),
        "the L1 app's message and the ten from Starknet arrived on Arbitrum"
    );

    // The L1 payment was settled in the relay: recomputed from its receipt.
    let hub = Hub::new(stack.hub, &kit);
    let latest = kit.get_block_number().await?;
    let logs = kit
        .get_logs(&hub_calls::receipts_filter(stack.hub, 0, latest))
        .await?;
    let receipts = hub_calls::receipts_of(&logs);
    let l1_receipt = receipts
        .iter()
        .find(|r| r.id == to_arb.0)
        .ok_or_else(|| eyre::eyre!("no receipt for the L1 message"))?;
    assert!(
        l1_receipt.fee > 0,
        "the relayer fronted the retryable's fee"
    );
    let l1_charge = l1_terms.charge(l1_receipt);
    assert_eq!(
        hub.balances(relayer).call().await?,
        l1_charge,
        "the router's Hub balance is the L1 charge"
    );
    assert_eq!(
        hub.balances(l1_payer).call().await? + l1_charge,
        l1_deposit,
        "to the wei"
    );

    // The Arbitrum receipts: committed by the router, the commitment crosses as a retryable,
    // the router presents them.
    let meter = hub.meters(arb.domain).call().await?;
    assert_eq!(metering::count(meter), 2);
    let start = std::time::Instant::now();
    while l2_tank.settledMeter().call().await? != meter {
        env.flusher.check().await?;
        env.router.check_running()?;
        ensure!(
            start.elapsed() < Duration::from_secs(120),
            "not settled on Arbitrum\n{}",
            env.router.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let arb_terms: HashMap<B256, Terms> = from_arb.iter().map(|m| (m.0, terms)).collect();
    let (charges, shares, _) =
        credits_of(&kit, stack.hub, arb.domain, meter, relayer, &arb_terms).await?;
    let earned = l2_tank.balances(relayer).call().await?;
    let ids: Vec<B256> = from_arb.iter().map(|m| m.0).collect();
    print_cost_row(&kit, stack.hub, "Arbitrum → L1", &ids, charges, shares).await?;
    print_cost_row(
        &kit,
        stack.hub,
        "L1 → Arbitrum (settled in the relay)",
        &[to_arb.0],
        l1_charge,
        U256::ZERO,
    )
    .await?;
    assert_eq!(
        earned,
        charges + shares,
        "the router's L2 balance is the charges and its share"
    );
    assert_eq!(
        l2_tank.balances(payer).call().await? + charges + shares,
        deposited,
        "to the wei"
    );

    // The Starknet → Arbitrum receipts, settled in the Starknet tank (the retryables' fees
    // charged within the leg budget).
    let sn_meter = hub.meters(sn).call().await?;
    assert_eq!(metering::count(sn_meter), 10);
    let start = std::time::Instant::now();
    loop {
        env.flusher.check().await?;
        env.router.check_running()?;
        let out = net.starknets[0]
            .devnet
            .call(env.tank.address, "settled_meter", vec![])
            .await?;
        if u256_at(&out, 0)? == sn_meter {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(120),
            "not settled on Starknet\n{}",
            env.router.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sn_terms_of: HashMap<B256, Terms> = sn_to_arb.iter().map(|m| (m.0, sn_terms)).collect();
    let (sn_charges, sn_shares, sn_ids) =
        credits_of(&kit, stack.hub, sn, sn_meter, relayer, &sn_terms_of).await?;
    assert_eq!(sn_ids.len(), 10);
    let fronted: u128 = hub_calls::receipts_of(
        &kit.get_logs(&hub_calls::receipts_filter(
            stack.hub,
            0,
            kit.get_block_number().await?,
        ))
        .await?,
    )
    .iter()
    .filter(|r| r.src == sn)
    .map(|r| r.fee)
    .sum();
    assert!(fronted > 0, "the relays fronted the retryables' fees");
    print_cost_row(
        &kit,
        stack.hub,
        "Starknet → Arbitrum",
        &sn_ids,
        sn_charges,
        sn_shares,
    )
    .await?;
    let relayer_felt = Felt::from_bytes_be_slice(relayer.as_slice());
    assert_eq!(
        env.tank.read(&net, "claimable", relayer_felt).await?,
        sn_charges + sn_shares,
        "the router's Starknet claimable is the charges (leg fees included) and its share"
    );
    assert_eq!(
        env.tank.read(&net, "balance_of", sn_payer).await? + sn_charges + sn_shares,
        sn_deposit,
        "to the wei"
    );

    // Each paid message's retryable refunds its overpayment where its payer chose: the L1
    // payer's by the Hub itself, the Starknet payer's by the router's entry terms (read from
    // the Inbox's messages on L1).
    let tickets = l2_net
        .tickets_in(&net.l1, 0, kit.get_block_number().await?)
        .await?;
    let refund_of = |id: &MessageId| -> Result<(Address, Address)> {
        for t in &tickets {
            let Ok(call) =
                <ArbitrumEndpoint::receiveMessageCall as alloy::sol_types::SolCall>::abi_decode(
                    &t.data,
                )
            else {
                continue;
            };
            let words: Vec<u8> = call
                .words
                .iter()
                .flat_map(|w| w.to_be_bytes::<32>())
                .collect();
            if alloy::primitives::keccak256(&words) == id.0 {
                return Ok((t.excess_fee_refund_address, t.call_value_refund_address));
            }
        }
        bail!("no retryable carries {id}")
    };
    assert_eq!(
        refund_of(&to_arb)?,
        (l1_refund, l1_refund),
        "the L1 payer's choice"
    );
    for id in &sn_to_arb {
        assert_eq!(
            refund_of(id)?,
            (sn_refund, sn_refund),
            "the Starknet payer's choice"
        );
    }

    // The router's metrics: per route, what it was credited (revenue) is what the chains say
    // (counted when the router sees its settlement mined: polled a few rounds); what its relays
    // cost it (spend) and the margin between.
    let expected = [
        ("ethereum → arbitrum", l1_charge),
        ("arbitrum → ethereum", charges),
        ("starknet → arbitrum", sn_charges),
    ];
    let metric = |text: &str, name: &str, route: &str| -> f64 {
        let prefix = format!("{name}{{route=\"{route}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    };
    let start = std::time::Instant::now();
    let text = loop {
        let text = reqwest::get(format!("{}/metrics", env.router.api))
            .await?
            .text()
            .await?;
        let all = expected.iter().all(|(route, wei)| {
            metric(&text, "xroute_route_revenue_wei_total", route) == f64::from(*wei)
        });
        if all || start.elapsed() > Duration::from_secs(10) {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (route, revenue) in expected {
        let got = metric(&text, "xroute_route_revenue_wei_total", route);
        assert_eq!(got, f64::from(revenue), "revenue of {route}:\n{text}");
        let spend = metric(&text, "xroute_route_spend_wei_total", route);
        assert!(spend > 0.0, "spend of {route}");
        let margin = metric(&text, "xroute_route_margin_wei", route);
        assert!(
            (margin - (got - spend)).abs() <= 1.0,
            "margin of {route}: {margin} vs {got} - {spend}"
        );
    }

    // The router's operator withdraws on the L2 with the router's key.
    let to = Address::with_last_byte(0x77);
    let as_relayer = ArbitrumTank::new(tank.address, l2_net.l2.provider(options.l1_account)?);
    let r = as_relayer
        .withdraw(earned, to)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "withdraw reverted");
    assert_eq!(
        l2_net.l2.provider(L2_KIT_ACCOUNT)?.get_balance(to).await?,
        earned
    );
    Ok(())
}

/// Terms as the Hub takes them.
fn sol_l1_terms(t: &Terms) -> Result<xroute_tests::artifacts::evm::GasTank::Terms> {
    Ok(xroute_tests::artifacts::evm::GasTank::Terms {
        gasLimit: t.gas_limit,
        deadline: u32::try_from(t.deadline)?,
        maxBaseFee: t.max_base_fee,
        maxPriorityFee: t.max_priority_fee,
        legBudget: t.leg_budget,
    })
}

/// Runs the `xroute` binary with `args` as the tank's user.
async fn xroute(args: Vec<String>) -> (i32, String, String) {
    super::run_xroute(args, USER_PASSPHRASE).await
}

const USER_PASSPHRASE: &str = "a tank user's passphrase";

/// Command-line words, split at spaces.
fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

/// L1's latest block time.
async fn env_l1_time(net: &LocalNet) -> Result<u64> {
    Ok(net
        .l1
        .provider(L1_KIT_ACCOUNT)?
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| eyre::eyre!("no latest block"))?
        .header
        .timestamp)
}

/// `xroute quote` and `xroute tank` as a user types them, from keystores: a quote's terms are
/// twice today's base fee and the source's gas hint (the API's `GET /quote` agrees); a Starknet
/// user deposits, sees the balance, pays for a message with the quoted terms (the router's API
/// shows the payment while it is open); the router relays and settles it; `tank balance` shows
/// what the router may claim and `tank claim` pays it to the address the router's L1 account
/// bound. On L1: a deposit, a payment for a message, a top-up with a later deadline (read back
/// from the Hub), a withdrawal; bad input is named and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tank_cli_quotes_deposits_pays_tops_up_and_claims() -> Result<()> {
    use xroute_tests::router::{router_config, write_config_file};
    let net = Arc::new(LocalNet::start(1).await?);
    let stack = XrouteStack::deploy(&net).await?;
    let tank = StarknetTank::deploy(&net, &stack, 0).await?;
    let sn = stack.starknets[0].domain;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let options = RouterOptions::default();
    let config = write_config(dir.path(), &net, &stack, port, &options)?;
    let tanks = [(sn, B256::from(tank.address.to_bytes_be()))];
    set_payments(
        &config,
        PaymentsConfig {
            policy: PaymentPolicy::Paid,
            min_paid_percent: 100,
            settle_every: 1,
            settle_after_ms: 1_000,
        },
        &tanks,
    )?;
    let mut router = RouterProcess::start(Path::new(XROUTE), &config, port).await?;
    let devnet = &net.starknets[0].devnet;
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let relayer = net.l1.address(options.l1_account)?;

    // The user's config: L1 account 3 and devnet account 2, in keystores.
    let user_dir = tempfile::tempdir()?;
    let user_options = RouterOptions {
        l1_account: 3,
        keystore_passphrase: Some(USER_PASSPHRASE.into()),
        ..RouterOptions::default()
    };
    let mut user_config =
        router_config(user_dir.path(), &net, &stack, free_port()?, &user_options)?;
    let user_sn = devnet.predeployed_accounts()[2].clone();
    xroute_adapters::keys::write_keystore(
        &user_dir.path().join("starknet-user.json"),
        &user_sn.private_key.to_bytes_be(),
        USER_PASSPHRASE,
    )?;
    for chain in &mut user_config.chains {
        if let xroute_config::ChainConfig::Starknet(c) = chain {
            c.account = xroute_config::Felt(felt_to_u256(user_sn.address));
            c.account_key_file = "starknet-user.json".into();
            c.tank = Some(xroute_config::Felt(felt_to_u256(tank.address)));
        }
    }
    let user = write_config_file(user_dir.path(), "user.toml", &user_config)?
        .display()
        .to_string();
    let s = |v: &str| v.to_string();

    // A quote for Starknet → L1, from the CLI and from the router's API.
    let l1_app = format!("{:#066x}", U256::from_be_bytes(stack.l1_app.into_word().0));
    let (code, out, err) = xroute(vec![
        s("quote"),
        s("--config"),
        user.clone(),
        s("--from"),
        s("starknet"),
        s("--to"),
        s("ethereum"),
        s("--recipient"),
        l1_app.clone(),
        s("--payload"),
        s("5"),
    ])
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let quote: serde_json::Value = serde_json::from_str(&out)?;
    let base: U256 = quote["base_fee"].as_str().unwrap().parse()?;
    assert_eq!(
        quote["max_base_fee"].as_str().unwrap(),
        (base * U256::from(2u8)).to_string()
    );
    assert_eq!(
        quote["gas_limit"], 221_000,
        "the Starknet hint for one payload word"
    );
    assert_eq!(quote["leg_budget"], "0", "nothing enters a rollup");
    let api = router
        .get(&format!(
            "/quote?from={sn}&to={L1_DOMAIN}&recipient={l1_app}&payload=5"
        ))
        .await?;
    assert_eq!(api["gas_limit"], 221_000);
    let into_starknet = router
        .get(&format!(
            "/quote?from={L1_DOMAIN}&to={sn}&recipient={:#x}&payload=5",
            stack.starknets[0].app
        ))
        .await?;
    let leg: U256 = into_starknet["leg_budget"].as_str().unwrap().parse()?;
    assert!(
        leg > U256::ZERO,
        "entering Starknet costs a message fee: {into_starknet}"
    );

    // The user fills Starknet's tank.
    let tank_cmd = |action: &str, chain: &str, extra: &[String]| {
        let mut v = vec![
            s("tank"),
            s(action),
            s("--config"),
            user.clone(),
            s("--chain"),
            s(chain),
        ];
        v.extend_from_slice(extra);
        v
    };
    let (code, out, err) = xroute(tank_cmd("deposit", "starknet", &words("--amount 0.1eth"))).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, _) = xroute(tank_cmd("balance", "starknet", &[])).await;
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "balance 100000000000000000 wei");

    // A message, paid with the quote before the postman carries it.
    let ids = stack
        .send_from_starknet(
            &net,
            0,
            L1_DOMAIN,
            stack.l1_app.into_word(),
            &[vec![Felt::from(5u8)]],
        )
        .await?;
    let id = ids[0];
    let (code, out, err) = xroute(tank_cmd(
        "pay",
        "starknet",
        &[
            s("--id"),
            id.to_string(),
            s("--to"),
            s("ethereum"),
            s("--gas-limit"),
            quote["gas_limit"].to_string(),
            s("--max-base-fee"),
            quote["max_base_fee"].as_str().unwrap().to_string(),
        ],
    ))
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let mut flusher = Flusher::start(net.clone(), Duration::from_millis(300));
    // The router indexes it once the postman carried it; its payment is shown while open.
    let start = std::time::Instant::now();
    let view = loop {
        let m = router.get(&format!("/messages/{id}")).await?;
        if m["payment"].is_object() {
            break m;
        }
        ensure!(
            m["stage"] != "delivered",
            "delivered before its payment was shown: {m:#}"
        );
        ensure!(
            start.elapsed() < Duration::from_secs(60),
            "never indexed: {m:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let cap = U256::from_str_radix(quote["max_base_fee"].as_str().unwrap(), 10)?;
    let worst = U256::from(221_000u64) * (cap + U256::from(2 * GWEI));
    assert_eq!(
        view["payment"]["reserved"].as_str().unwrap(),
        worst.to_string(),
        "{view:#}"
    );
    assert_eq!(view["payment"]["gas_limit"], 221_000);
    // `xroute status` shows it too (the relay and its settlement take seconds more).
    let (code, out, err) = xroute(vec![
        s("status"),
        id.to_string(),
        s("--api"),
        router.api.clone(),
    ])
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("payment ") && l.contains(&format!("{worst} wei reserved"))),
        "{out}"
    );
    // Relayed and settled; the router's credits show in `tank balance`.
    let start = std::time::Instant::now();
    let relayer_word = format!("{relayer:#x}");
    let claimable = loop {
        flusher.check().await?;
        router.check_running()?;
        let (code, out, _) = xroute(tank_cmd(
            "balance",
            "starknet",
            &[s("--account"), relayer_word.clone()],
        ))
        .await;
        assert_eq!(code, 0);
        if let Some(line) = out.lines().find(|l| l.starts_with("claimable ")) {
            break U256::from_str_radix(line.split(' ').nth(1).unwrap(), 10)?;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(90),
            "never settled\n{}",
            router.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        claimable,
        tank.read(
            &net,
            "claimable",
            Felt::from_bytes_be_slice(relayer.as_slice())
        )
        .await?
    );
    // The router's L1 account binds a payout; the user claims for it.
    let payout = Felt::from(0x5a_7e_u64);
    let messaging = IStarknetMessaging::new(
        net.starknets[0].messaging,
        net.l1.provider(options.l1_account)?,
    );
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
    flusher.rounds(2).await?;
    let (code, out, err) = xroute(tank_cmd(
        "claim",
        "starknet",
        &[s("--relayer"), relayer_word.clone()],
    ))
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(tank.eth_balance(&net, payout).await?, claimable);
    // The settled payment in the API and `xroute status`: the router relayed and settled alone
    // (one receipt per commitment), so its charge and share are what it could claim.
    let settled = router.get(&format!("/messages/{id}")).await?;
    let part = |k: &str| -> Result<U256> {
        Ok(settled["settlement"][k]
            .as_str()
            .ok_or_else(|| eyre::eyre!("no settlement.{k}: {settled:#}"))?
            .parse()?)
    };
    assert_eq!(part("charge")? + part("share")?, claimable, "{settled:#}");
    assert_eq!(
        part("charge")? + part("share")? + part("refund")?,
        worst,
        "{settled:#}"
    );
    assert!(
        settled["payment"].is_null(),
        "a settled payment is not open: {settled:#}"
    );
    let (code, out, _) = xroute(vec![
        s("status"),
        id.to_string(),
        s("--api"),
        router.api.clone(),
    ])
    .await;
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("settled ")), "{out}");

    // Sending and paying in one call: the endpoint's send_message_paid from the user's account
    // reserves from its balance in the same transaction.
    let endpoint = stack.starknets[0].endpoint;
    let nonce = devnet.call(endpoint, "next_nonce", vec![]).await?[0];
    let envelope = xroute_proofs::envelope::Envelope {
        src_domain: sn,
        nonce: u64::try_from(felt_to_u256(nonce))?,
        sender: XrouteStack::felt_word(user_sn.address),
        dst_domain: L1_DOMAIN,
        recipient: stack.l1_app.into_word(),
        payload: vec![XrouteStack::felt_word(Felt::from(6u8))],
    };
    let paid_terms = Terms {
        gas_limit: 221_000,
        deadline: env_l1_time(&net).await? + 3600,
        max_base_fee: 50 * GWEI,
        max_priority_fee: 2 * GWEI,
        leg_budget: 0,
    };
    let mut calldata = vec![
        Felt::from(L1_DOMAIN),
        Felt::from_bytes_be(&stack.l1_app.into_word().0),
        Felt::ONE,
        Felt::from(6u8),
        tank.address,
    ];
    calldata.extend(paid_terms.felts());
    devnet
        .invoke(2, endpoint, "send_message_paid", calldata)
        .await?;
    let one_call = envelope.id();
    let out = devnet
        .call(
            tank.address,
            "payment",
            xroute_tests::tank::u256_felts(U256::from_be_bytes(one_call.0.0)).to_vec(),
        )
        .await?;
    assert_eq!(out[0], user_sn.address, "the caller paid");
    assert_eq!(
        u256_at(&out, 6)?,
        paid_terms.worst_case(),
        "reserved in the same call"
    );
    let start = std::time::Instant::now();
    loop {
        let m = router.get(&format!("/messages/{one_call}")).await?;
        if m["stage"] == "delivered" {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(60),
            "not delivered: {m:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // On L1, the Hub's tank: deposit, pay for a message, top up, withdraw.
    let user_l1 = net.l1.address(3)?;
    let hub = Hub::new(stack.hub, &kit);
    let (code, out, err) =
        xroute(tank_cmd("deposit", "ethereum", &words("--amount 0.01eth"))).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        hub.balances(user_l1).call().await?,
        U256::from(10u64).pow(U256::from(16u64))
    );
    let future = B256::repeat_byte(0x4f);
    let pay = |extra: Vec<String>| {
        let mut v = vec![s("--id"), future.to_string()];
        v.extend(extra);
        v
    };
    // Bad input: named, nothing reserved.
    let (code, _, err) = xroute(tank_cmd(
        "pay",
        "ethereum",
        &pay(words("--to starknet --max-base-fee ten")),
    ))
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-base-fee"), "{err}");
    let (code, _, err) = xroute(tank_cmd(
        "pay",
        "ethereum",
        &pay(words("--to 77 --max-base-fee 20gwei")),
    ))
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("UnknownRoute"), "{err}");
    assert_eq!(
        hub.balances(user_l1).call().await?,
        U256::from(10u64).pow(U256::from(16u64))
    );
    let (code, out, err) = xroute(tank_cmd(
        "pay",
        "ethereum",
        &pay(words(
            "--to starknet --max-base-fee 20gwei --gas-limit 100000",
        )),
    ))
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let first = hub.payments(future).call().await?;
    assert_eq!(
        U256::from(first.reserved),
        U256::from(100_000u64) * U256::from(22 * GWEI)
    );
    let (code, out, err) = xroute(tank_cmd(
        "top-up",
        "ethereum",
        &pay(words(
            "--max-base-fee 20gwei --gas-limit 100000 --deadline-in 7200",
        )),
    ))
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let second = hub.payments(future).call().await?;
    assert!(
        second.deadline > first.deadline,
        "the top-up moved the deadline"
    );
    assert_eq!(second.reserved, first.reserved);
    let (code, out, err) = xroute(tank_cmd("withdraw", "ethereum", &words("--amount 1000"))).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        hub.balances(user_l1).call().await?,
        U256::from(10u64).pow(U256::from(16u64)) - U256::from(first.reserved) - U256::from(1000u16)
    );
    flusher.stop().await?;
    Ok(())
}
