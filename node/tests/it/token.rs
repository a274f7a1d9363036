#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The canonical token on real chains, relayed by the `xroute` binary: a transfer over every
//! ordered pair of L1, Starknet and the appchain (balances and the L1 ledger read from the chains);
//! bad input refused at the source before anything is burned; a transfer toward a paused
//! destination sent back to its sender; a chain that tries to take out more than it holds refused
//! on L1 and parked with the ledger's reason, nothing minted. `xroute token audit` agrees with the
//! chains when settled, and reports a transfer in flight as such.

use std::{collections::BTreeMap, time::Duration};

use alloy::primitives::{B256, U256};
use eyre::{Result, bail};
use starknet_rust::core::types::Felt;
use xroute_tests::{
    arbitrum::ArbitrumOptions,
    artifacts::evm::TokenLedger,
    localnet::L1_KIT_ACCOUNT,
    stack::L1_DOMAIN,
    token::{TokenStack, u256_felts},
};

use crate::e2e_relay::{DELIVERY, Env};

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");

/// `xroute status` of the message the source transaction `tx` sent.
async fn status_of_transfer(env: &Env, tx: B256) -> Result<String> {
    let list = env.router.get("/messages?limit=1000").await?;
    let id = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["source_tx"] == tx.to_string())
        .and_then(|m| m["id"].as_str().map(str::to_string))
        .ok_or_else(|| eyre::eyre!("no message from {tx}"))?;
    let out = std::process::Command::new(XROUTE)
        .args(["status", &id, "--config"])
        .arg(env.router.config())
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `xroute token audit` over the router's config; (exit code, stdout).
pub(crate) fn audit(env: &Env, token: &TokenStack, extra: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(XROUTE)
        .args(["token", "audit", "--config"])
        .arg(env.router.config())
        .args(["--ledger", &token.ledger.to_string()])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// 10^18: one token.
pub(crate) fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// Waits (up to 60 s) until the router's `/stats` shows at least `count` messages in `stage`, and
/// returns the stats.
async fn wait_for_stats(env: &mut Env, stage: &str, count: u64) -> Result<serde_json::Value> {
    let start = std::time::Instant::now();
    loop {
        env.router.check_running()?;
        let stats = env.router.stats().await?;
        if stats[stage].as_u64().unwrap_or(0) >= count || start.elapsed() > Duration::from_secs(60)
        {
            return Ok(stats);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until every (domain, holder) balance is the expected one (the postman flushing), then
/// checks the ledger against every chain's totalSupply.
pub(crate) async fn settle(
    env: &mut Env,
    token: &TokenStack,
    expected: &BTreeMap<(u32, B256), U256>,
) -> Result<()> {
    let start = std::time::Instant::now();
    loop {
        env.router.check_running()?;
        env.flusher.check().await?;
        let mut wrong = Vec::new();
        for ((domain, holder), want) in expected {
            let got = token.balance(&env.net, *domain, *holder).await?;
            if got != *want {
                wrong.push(format!("domain {domain} {holder}: {got}, expected {want}"));
            }
        }
        if wrong.is_empty() {
            break;
        }
        if start.elapsed() > DELIVERY {
            bail!(
                "balances not settled after {DELIVERY:?}:\n{}\nrouter log:\n{}",
                wrong.join("\n"),
                env.router.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut sum = U256::ZERO;
    for domain in token.domains() {
        let ledger = token.ledger_supply(&env.net, domain).await?;
        let total = token.total_supply(&env.net, domain).await?;
        assert_eq!(ledger, total, "domain {domain}: ledger vs totalSupply");
        sum += ledger;
    }
    assert_eq!(
        sum, token.initial,
        "the ledger adds up to the initial supply"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_moves_between_every_pair_of_chains_and_the_ledger_holds() -> Result<()> {
    let mut env = Env::start_with(Some(ArbitrumOptions::default())).await?;
    let token = TokenStack::deploy(&env.net, &env.stack, tokens(1_000_000)).await?;
    let net = env.net.clone();
    let domains = token.domains();
    assert_eq!(domains, [1, 2, 3, 10]);
    let sender = |d: u32| token.account_word(&net, d, 0).unwrap();
    let receiver = |d: u32| token.account_word(&net, d, 1).unwrap();
    let mut expected: BTreeMap<(u32, B256), U256> = BTreeMap::new();
    for d in &domains {
        for w in [sender(*d), receiver(*d)] {
            expected.insert((*d, w), token.balance(&net, *d, w).await?);
        }
    }
    assert_eq!(expected[&(L1_DOMAIN, sender(L1_DOMAIN))], tokens(1_000_000));

    // Seed each rollup's sender from L1.
    for d in [2u32, 3, 10] {
        token
            .transfer(&net, L1_DOMAIN, L1_KIT_ACCOUNT, d, sender(d), tokens(1_000))
            .await?;
        *expected.get_mut(&(L1_DOMAIN, sender(L1_DOMAIN))).unwrap() -= tokens(1_000);
        *expected.get_mut(&(d, sender(d))).unwrap() += tokens(1_000);
    }
    settle(&mut env, &token, &expected).await?;

    // The router learns where the ledger is (for `xroute status`), and restarts.
    xroute_tests::router::set_token_ledger(env.router.config(), token.ledger)?;
    env.router.kill_and_restart().await?;

    // Every ordered pair, a different amount each.
    let mut k = 0u64;
    let mut l1_sources = Vec::new();
    for src in &domains {
        for dst in &domains {
            if src == dst {
                continue;
            }
            k += 1;
            let amount = tokens(10) + U256::from(k);
            let tx = token
                .transfer(&net, *src, 0, *dst, receiver(*dst), amount)
                .await?;
            if *src == L1_DOMAIN {
                l1_sources.push((*dst, tx));
            }
            *expected.get_mut(&(*src, sender(*src))).unwrap() -= amount;
            *expected.get_mut(&(*dst, receiver(*dst))).unwrap() += amount;
        }
    }
    settle(&mut env, &token, &expected).await?;
    // Messages: one per leg. L1 -> rollup and rollup -> L1 are one message; rollup -> rollup is
    // two (to the ledger, then from it): 3 seeds + 6 pairs with L1 + 6 rollup pairs × 2 = 21.
    // (A balance can settle on its chain a round before the router records the delivery.)
    let stats = wait_for_stats(&mut env, "delivered", 21).await?;
    assert_eq!(stats["delivered"], 21, "{stats}");
    assert_eq!(stats["parked"], 0, "{stats}");
    // L1 gas per leg, from the router's records (docs/gas.md): printed with --nocapture.
    let list = env.router.get("/messages?limit=1000").await?;
    let mut legs: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for m in list.as_array().into_iter().flatten() {
        let Some(kind) = m["transfer"]["kind"].as_str() else {
            continue;
        };
        for t in m["history"].as_array().into_iter().flatten() {
            let note = t["note"].as_str().unwrap_or_default();
            if let Some(gas) = leg_gas(note) {
                legs.entry(format!("{} ({kind})", m["route"].as_str().unwrap_or("?")))
                    .or_default()
                    .push(gas);
            }
        }
    }
    assert!(!legs.is_empty(), "{list:#}");
    {
        use alloy::providers::Provider;
        let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
        for (dst, tx) in &l1_sources {
            let r = l1
                .get_transaction_receipt(*tx)
                .await?
                .ok_or_else(|| eyre::eyre!("no receipt for {tx}"))?;
            legs.entry(format!(
                "TokenLedger.transfer on L1 toward domain {dst} (the user's)"
            ))
            .or_default()
            .push(r.gas_used);
        }
    }
    eprintln!(
        "| leg | relays | mean L1 gas (a batch's shared evenly by its members) | max |\n|---|---|---|---|"
    );
    for (leg, gas) in &legs {
        let mean = gas.iter().sum::<u64>() / gas.len() as u64;
        let max = gas.iter().max().copied().unwrap_or_default();
        eprintln!("| {leg} | {} | {mean} | {max} |", gas.len());
    }
    let (code, out) = audit(&env, &token, &["--settled"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the token adds up"), "{out}");
    for d in &domains {
        let s = token.ledger_supply(&net, *d).await?;
        assert!(
            out.contains(&format!("({d}): ledger {s}, totalSupply {s}, in flight 0")),
            "{out}"
        );
    }

    // In flight: burned on Starknet, not yet on L1 (the postman held back). The invariant holds
    // and the audit says how much is in flight; `--settled` fails naming the chain.
    let flusher = std::mem::replace(&mut env.flusher, xroute_tests::router::Flusher::idle());
    flusher.stop().await?;
    let moving = tokens(3);
    token
        .transfer(&net, 2, 0, L1_DOMAIN, receiver(L1_DOMAIN), moving)
        .await?;
    *expected.get_mut(&(2, sender(2))).unwrap() -= moving;
    *expected.get_mut(&(L1_DOMAIN, receiver(L1_DOMAIN))).unwrap() += moving;
    let (code, out) = audit(&env, &token, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("in flight {moving}")), "{out}");
    let (code, out) = audit(&env, &token, &["--settled"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  starknet (2): ") && out.contains("--settled asks for none"),
        "{out}"
    );
    let (code, json) = audit(&env, &token, &["--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(json["sum"], token.initial.to_string());
    env.flusher = xroute_tests::router::Flusher::start(net.clone(), Duration::from_millis(300));
    settle(&mut env, &token, &expected).await?;

    // Bad input at the source: refused before anything is burned.
    let before = token.balance(&net, 2, sender(2)).await?;
    let l1_word = receiver(L1_DOMAIN);
    let too_big_evm = B256::from(U256::from(1u8) << 160usize);
    let cases: Vec<(u32, B256, U256, &str)> = vec![
        (L1_DOMAIN, l1_word, U256::ZERO, "ZERO_AMOUNT"),
        (
            L1_DOMAIN,
            l1_word,
            U256::from(1u8) << 128usize,
            "AMOUNT_TOO_LARGE",
        ),
        (99, l1_word, U256::from(1u8), "UNKNOWN_DESTINATION"),
        (L1_DOMAIN, too_big_evm, U256::from(1u8), "BAD_RECIPIENT"),
    ];
    for (dst, to, amount, reason) in &cases {
        let err = token
            .transfer(&net, 2, 0, *dst, *to, *amount)
            .await
            .expect_err(reason);
        let hex_reason = format!("0x{}", alloy::hex::encode(reason.as_bytes()));
        let text = format!("{err:#}");
        assert!(
            text.contains(reason) || text.contains(&hex_reason),
            "{reason}: {text}"
        );
    }
    assert_eq!(token.balance(&net, 2, sender(2)).await?, before);
    let l1_before = token.balance(&net, L1_DOMAIN, sender(L1_DOMAIN)).await?;
    let too_big_felt = B256::from(U256::from(1u8) << 251usize);
    for (dst, to, amount) in [
        (2u32, sender(2), U256::ZERO),
        (2, sender(2), U256::from(1u8) << 128usize),
        (99, sender(2), U256::from(1u8)),
        (2, too_big_felt, U256::from(1u8)),
    ] {
        assert!(
            token
                .transfer(&net, L1_DOMAIN, L1_KIT_ACCOUNT, dst, to, amount)
                .await
                .is_err()
        );
    }
    assert_eq!(
        token.balance(&net, L1_DOMAIN, sender(L1_DOMAIN)).await?,
        l1_before
    );
    let arb_before = token.balance(&net, 10, sender(10)).await?;
    for (dst, to, amount) in [
        (2u32, sender(2), U256::ZERO),
        (2, sender(2), U256::from(1u8) << 128usize),
        (99, sender(2), U256::from(1u8)),
        (2, too_big_felt, U256::from(1u8)),
        (L1_DOMAIN, too_big_evm, U256::from(1u8)),
    ] {
        assert!(token.transfer(&net, 10, 0, dst, to, amount).await.is_err());
    }
    assert_eq!(token.balance(&net, 10, sender(10)).await?, arb_before);

    // A paused destination: the ledger sends the amount back to the sender on the source.
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let ledger = TokenLedger::new(token.ledger, &l1);
    ledger
        .setPaused(3, true)
        .send()
        .await?
        .get_receipt()
        .await?;
    let refund_from = token.balance(&net, 2, sender(2)).await?;
    let supply_3 = token.ledger_supply(&net, 3).await?;
    let refund_tx = token
        .transfer(&net, 2, 0, 3, receiver(3), tokens(7))
        .await?;
    assert_eq!(
        token.balance(&net, 2, sender(2)).await?,
        refund_from - tokens(7),
        "burned at the source"
    );
    settle(&mut env, &token, &expected).await?;
    assert_eq!(token.balance(&net, 2, sender(2)).await?, refund_from);
    assert_eq!(token.ledger_supply(&net, 3).await?, supply_3);
    let refunds = ledger.Refunded_filter().from_block(0).query().await?;
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].0.reason, "destination paused");
    // `xroute status` of the transfer says so, and of the refund's mint what it is.
    let shown = status_of_transfer(&env, refund_tx).await?;
    assert!(
        shown.contains(&format!("transfer  {} from ", tokens(7)))
            && shown.contains("(domain 3): refunded to the sender: destination paused"),
        "{shown}"
    );
    ledger
        .setPaused(3, false)
        .send()
        .await?
        .get_receipt()
        .await?;

    // A chain whose token contract is broken (here: the appchain's sample app registered as its
    // router, sending a transfer it never burned) cannot take out more than the ledger says it
    // holds: refused on L1, nothing minted anywhere, the message parked with the ledger's reason.
    let app3 = env.stack.starknets[1].app;
    ledger
        .registerChain(3, 2, B256::from(app3.to_bytes_be()))
        .send()
        .await?
        .get_receipt()
        .await?;
    let supply_3 = token.ledger_supply(&net, 3).await?;
    let unbacked = supply_3 + U256::from(1u8);
    let [low, _] = u256_felts(unbacked);
    let ids = env
        .send_from_starknet(
            1,
            L1_DOMAIN,
            B256::left_padding_from(token.ledger.as_slice()),
            &[vec![
                Felt::ONE,
                Felt::from(L1_DOMAIN),
                Felt::from_bytes_be(&receiver(L1_DOMAIN).0),
                low,
                Felt::from_bytes_be(&sender(3).0),
            ]],
        )
        .await?;
    let l1_receiver = token.balance(&net, L1_DOMAIN, receiver(L1_DOMAIN)).await?;
    env.wait_for(&ids, "parked", DELIVERY).await?;
    let parked = env.message(&ids[0]).await?;
    let reason = parked["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("ExceedsSupply"), "{parked:#}");
    assert_eq!(token.ledger_supply(&net, 3).await?, supply_3);
    assert_eq!(
        token.balance(&net, L1_DOMAIN, receiver(L1_DOMAIN)).await?,
        l1_receiver
    );
    settle(&mut env, &token, &expected).await?;
    Ok(())
}

/// Rate limits: a transfer over a route's capacity is queued on L1 (an event, the amount on no
/// chain), cannot be completed before the capacity is back, is completed by anyone once it is;
/// another queued transfer cancelled by its sender from Starknet is minted back to them there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_over_the_limit_is_queued_on_l1_then_completed_or_cancelled() -> Result<()> {
    let mut env = Env::start().await?;
    let token = TokenStack::deploy(&env.net, &env.stack, tokens(1_000_000)).await?;
    let net = env.net.clone();
    let sender = token.account_word(&net, 2, 0)?;
    let receiver = token.account_word(&net, L1_DOMAIN, 1)?;
    let mut expected: BTreeMap<(u32, B256), U256> = BTreeMap::new();
    expected.insert((2, sender), tokens(1_000));
    expected.insert((L1_DOMAIN, receiver), U256::ZERO);
    token
        .transfer(&net, L1_DOMAIN, L1_KIT_ACCOUNT, 2, sender, tokens(1_000))
        .await?;
    settle(&mut env, &token, &expected).await?;

    xroute_tests::router::set_token_ledger(env.router.config(), token.ledger)?;
    env.router.kill_and_restart().await?;
    // Starknet's outbound route: 10 tokens per hour.
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let ledger = TokenLedger::new(token.ledger, &l1);
    ledger.setWindow(3600).send().await?.get_receipt().await?;
    ledger
        .setLimits(2, tokens(10).to::<u128>(), 0)
        .send()
        .await?
        .get_receipt()
        .await?;
    // Within the limit: delivered.
    token
        .transfer(&net, 2, 0, L1_DOMAIN, receiver, tokens(8))
        .await?;
    *expected.get_mut(&(2, sender)).unwrap() -= tokens(8);
    *expected.get_mut(&(L1_DOMAIN, receiver)).unwrap() += tokens(8);
    settle(&mut env, &token, &expected).await?;

    // Over it: queued on L1, on no chain meanwhile.
    let queued_before = ledger.Queued_filter().from_block(0).query().await?.len();
    let queued_tx = token
        .transfer(&net, 2, 0, L1_DOMAIN, receiver, tokens(5))
        .await?;
    let queued = loop {
        env.flusher.check().await?;
        let events = ledger.Queued_filter().from_block(0).query().await?;
        if events.len() > queued_before {
            break events.last().unwrap().0.clone();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(queued.amount, tokens(5));
    assert_eq!(queued.src, 2);
    let asked = std::time::Instant::now();
    let shown = loop {
        let s = status_of_transfer(&env, queued_tx).await?;
        if s.contains("queued on L1") || asked.elapsed() > Duration::from_secs(30) {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        shown.contains(&format!(": queued on L1 as #{}", queued.id)),
        "{shown}"
    );
    assert_eq!(ledger.queuedTotal().call().await?, tokens(5));
    assert_eq!(
        token.balance(&net, L1_DOMAIN, receiver).await?,
        tokens(8),
        "not minted while queued"
    );
    let (code, out) = audit(&env, &token, &["--settled"]);
    assert_eq!(code, 0, "queued is not in flight: {out}");
    assert!(out.contains(&format!("queued {}", tokens(5))), "{out}");
    // Too early: the capacity is not back.
    let other = net.l1.provider(5)?;
    let early = TokenLedger::new(token.ledger, &other)
        .complete(queued.id)
        .send()
        .await;
    let refused = match early {
        Err(e) => e.to_string(),
        Ok(pending) => {
            let r = pending.get_receipt().await?;
            if r.status() {
                bail!("complete passed before the capacity was back")
            } else {
                "reverted".into()
            }
        }
    };
    assert!(refused.contains("revert"), "{refused}");
    assert_eq!(
        ledger.queuedTotal().call().await?,
        tokens(5),
        "still queued"
    );
    assert_eq!(token.balance(&net, L1_DOMAIN, receiver).await?, tokens(8));
    // An hour later, anyone completes it.
    net.l1.advance_time(3600).await?;
    let done = TokenLedger::new(token.ledger, &other)
        .complete(queued.id)
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(done.status());
    *expected.get_mut(&(2, sender)).unwrap() -= tokens(5);
    *expected.get_mut(&(L1_DOMAIN, receiver)).unwrap() += tokens(5);
    settle(&mut env, &token, &expected).await?;
    assert_eq!(ledger.queuedTotal().call().await?, U256::ZERO);

    // Queued again (the hour's capacity is used up), then cancelled from Starknet by its sender:
    // the amount comes back to them on Starknet.
    token
        .transfer(&net, 2, 0, L1_DOMAIN, receiver, tokens(9))
        .await?;
    let queued = loop {
        env.flusher.check().await?;
        let events = ledger.Queued_filter().from_block(0).query().await?;
        if events.len() > queued_before + 1 {
            break events.last().unwrap().0.clone();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        token.balance(&net, 2, sender).await?,
        expected[&(2, sender)] - tokens(9),
        "burned on Starknet"
    );
    let (_, router) = token.starknets[0];
    net.starknets[0]
        .devnet
        .invoke(
            0,
            router,
            "cancel_queued",
            vec![Felt::from_bytes_be(&queued.id.to_be_bytes::<32>())],
        )
        .await?;
    settle(&mut env, &token, &expected).await?;
    let cancelled = ledger.Cancelled_filter().from_block(0).query().await?;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].0.id, queued.id);
    assert_eq!(ledger.queuedTotal().call().await?, U256::ZERO);

    // From L1, over what is left of Starknet's inbound limit (3, of which a first transfer took
    // 2): queued at once (the user's own transaction), and cancelled on L1 by its sender, who
    // gets the amount back on L1; a stranger cannot cancel it.
    ledger
        .setLimits(2, 0, tokens(3).to::<u128>())
        .send()
        .await?
        .get_receipt()
        .await?;
    let l1_sender = token.account_word(&net, L1_DOMAIN, L1_KIT_ACCOUNT)?;
    token
        .transfer(&net, L1_DOMAIN, L1_KIT_ACCOUNT, 2, sender, tokens(2))
        .await?;
    *expected.get_mut(&(2, sender)).unwrap() += tokens(2);
    settle(&mut env, &token, &expected).await?;
    let l1_before = token.balance(&net, L1_DOMAIN, l1_sender).await?;
    token
        .transfer(&net, L1_DOMAIN, L1_KIT_ACCOUNT, 2, sender, tokens(2))
        .await?;
    let events = ledger.Queued_filter().from_block(0).query().await?;
    let queued = events.last().unwrap().0.clone();
    assert_eq!((queued.src, queued.dst), (L1_DOMAIN, 2));
    assert_eq!(
        token.balance(&net, L1_DOMAIN, l1_sender).await?,
        l1_before - tokens(2)
    );
    let stranger = TokenLedger::new(token.ledger, &other)
        .cancel(queued.id)
        .send()
        .await;
    let stranger_ok = match stranger {
        Ok(p) => p.get_receipt().await?.status(),
        Err(_) => false,
    };
    assert!(!stranger_ok, "only the sender cancels");
    let r = ledger.cancel(queued.id).send().await?.get_receipt().await?;
    assert!(r.status());
    assert_eq!(token.balance(&net, L1_DOMAIN, l1_sender).await?, l1_before);
    assert_eq!(ledger.queuedTotal().call().await?, U256::ZERO);
    let (code, out) = audit(&env, &token, &["--settled"]);
    assert_eq!(code, 0, "{out}");
    Ok(())
}

/// The supply invariant under faults: 200 random transfers (random pairs, amounts, senders) while
/// the router is SIGKILLed twice and restarted. At the end every chain's totalSupply equals its
/// ledger entry, the entries add up to the initial supply, every account holds exactly what the
/// transfers say, and `xroute token audit --settled` agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_random_transfers_survive_two_sigkills_and_the_supply_adds_up() -> Result<()> {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let mut env = Env::start().await?;
    let token = TokenStack::deploy(&env.net, &env.stack, tokens(1_000_000)).await?;
    let net = env.net.clone();
    let domains = token.domains();
    let senders: BTreeMap<u32, Vec<usize>> = domains
        .iter()
        .map(|d| (*d, if *d == L1_DOMAIN { vec![0] } else { vec![0, 2] }))
        .collect();
    let receivers = [1usize, 3];
    let mut expected: BTreeMap<(u32, B256), U256> = BTreeMap::new();
    for d in &domains {
        for a in senders[d].iter().chain(&receivers) {
            let w = token.account_word(&net, *d, *a)?;
            expected.insert((*d, w), token.balance(&net, *d, w).await?);
        }
    }
    // Seed the rollups' senders from L1.
    let l1_sender = token.account_word(&net, L1_DOMAIN, 0)?;
    for d in &domains[1..] {
        for a in &senders[d] {
            let w = token.account_word(&net, *d, *a)?;
            token
                .transfer(&net, L1_DOMAIN, L1_KIT_ACCOUNT, *d, w, tokens(1_000))
                .await?;
            *expected.get_mut(&(L1_DOMAIN, l1_sender)).unwrap() -= tokens(1_000);
            *expected.get_mut(&(*d, w)).unwrap() += tokens(1_000);
        }
    }
    settle(&mut env, &token, &expected).await?;

    let mut rng = StdRng::seed_from_u64(14);
    for i in 0..200 {
        if i == 70 || i == 140 {
            env.router.kill_and_restart().await?;
        }
        let src = domains[rng.random_range(0..domains.len())];
        let dst = loop {
            let d = domains[rng.random_range(0..domains.len())];
            if d != src {
                break d;
            }
        };
        let from = senders[&src][rng.random_range(0..senders[&src].len())];
        let to = receivers[rng.random_range(0..receivers.len())];
        let amount = U256::from(rng.random_range(1u64..1_000_000_000));
        let from_word = token.account_word(&net, src, from)?;
        let to_word = token.account_word(&net, dst, to)?;
        token
            .transfer(&net, src, from, dst, to_word, amount)
            .await?;
        *expected.get_mut(&(src, from_word)).unwrap() -= amount;
        *expected.get_mut(&(dst, to_word)).unwrap() += amount;
        env.flusher.check().await?;
    }
    settle(&mut env, &token, &expected).await?;
    let (code, out) = audit(&env, &token, &["--settled"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the token adds up"), "{out}");
    let stats = env.router.stats().await?;
    assert_eq!(stats["parked"], 0, "{stats}");
    Ok(())
}

/// The L1 gas of a relay from its `Relayed` note: `… (gas N)` for a relay alone, `… (batch of
/// k, gas N)` for a member of a batch (its even share, N / k).
fn leg_gas(note: &str) -> Option<u64> {
    let (_, tail) = note.rsplit_once('(')?;
    let inner = tail.strip_suffix(')')?;
    let (members, gas) = match inner.split_once(", gas ") {
        Some((batch, gas)) => (batch.strip_prefix("batch of ")?.parse::<u64>().ok()?, gas),
        None => (1, inner.strip_prefix("gas ")?),
    };
    Some(gas.parse::<u64>().ok()? / members.max(1))
}

#[test]
fn a_leg_s_gas_is_read_from_a_relay_alone_and_from_a_batch_member() {
    assert_eq!(
        leg_gas("relay tx 0xab final in block 9 (gas 120000)"),
        Some(120_000)
    );
    assert_eq!(
        leg_gas("relay tx 0xab final in block 9 (batch of 4, gas 400000)"),
        Some(100_000)
    );
    assert_eq!(leg_gas("delivered"), None);
}
