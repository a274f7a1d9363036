#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! DeFi pooling on real chains, relayed by the `xroute` binary (issue 15, part B; ADR 0009): 32
//! users of Starknet deposit into the Cairo pool in one epoch, which crosses to L1 as one message
//! with its tokens, goes into OpenZeppelin's ERC-4626 vault through the PoolManager in one vault
//! call, and comes back as one answer; every claim is the formula to the unit, from figures read
//! on L1. Then yield, and half the users withdraw, netted against new deposits. The same scenario
//! runs with 8 users of the local Arbitrum through the Solidity pool. And a vault that refuses:
//! the epoch's tokens and shares come back whole.

use std::{collections::BTreeMap, time::Duration};

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use eyre::{Result, bail, ensure};
use xroute_tests::{
    arbitrum::ArbitrumOptions,
    artifacts::evm::{PoolManager, PoolVault, TokenLedger, XToken},
    localnet::L1_KIT_ACCOUNT,
    pool::{ArbitrumPool, Epoch, EpochState, L1Pools, PoolChain, StarknetPool},
    stack::L1_DOMAIN,
    token::TokenStack,
};

use crate::{
    e2e_relay::{DELIVERY, Env},
    token::{audit, settle, tokens},
};

/// What each user gets on the rollup before the first epoch.
const FUNDING: u64 = 50;
/// Epochs close after an hour, or once they hold this many tokens.
const SIZE: u64 = 40;
/// Devnet 0's accounts 1..=32 are the Starknet users (account 0 funds them and closes epochs).
const STARKNET_USERS: std::ops::RangeInclusive<usize> = 1..=32;
/// The local Arbitrum's dev accounts 2..=9 (0 is the kit's, 1 the router's).
const ARBITRUM_USERS: std::ops::RangeInclusive<usize> = 2..=9;

/// Deploys the token and the vault with its manager; the router learns the ledger.
async fn deploy(env: &mut Env) -> Result<(TokenStack, L1Pools)> {
    let token = TokenStack::deploy(&env.net, &env.stack, tokens(1_000_000)).await?;
    let l1 = L1Pools::deploy(&env.net, &token).await?;
    // The router learns where the ledger is (its API then decodes token messages).
    xroute_tests::router::set_token_ledger(env.router.config(), token.ledger)?;
    env.router.kill_and_restart().await?;
    Ok((token, l1))
}

/// Gives every user FUNDING tokens on the pool's rollup: one transfer from L1 to account 0
/// there, then from it to each.
async fn fund<P: PoolChain>(
    env: &mut Env,
    token: &TokenStack,
    pool: &P,
    users: &[usize],
) -> Result<()> {
    let net = env.net.clone();
    let funder = token.account_word(&net, pool.domain(), 0)?;
    let before = token.balance(&net, pool.domain(), funder).await?;
    let total = tokens(FUNDING) * U256::from(users.len());
    token
        .transfer(
            &net,
            L1_DOMAIN,
            L1_KIT_ACCOUNT,
            pool.domain(),
            funder,
            total,
        )
        .await?;
    let mut expected = BTreeMap::new();
    expected.insert((pool.domain(), funder), before + total);
    settle(env, token, &expected).await?;
    pool.fund(&net, 0, users, tokens(FUNDING)).await
}

/// Waits until the pool's `epoch` is in `state` (the router relaying both ways).
async fn wait_epoch<P: PoolChain>(
    env: &mut Env,
    pools: &P,
    epoch: u64,
    state: EpochState,
) -> Result<Epoch> {
    let start = std::time::Instant::now();
    loop {
        env.router.check_running()?;
        env.flusher.check().await?;
        let e = pools.epoch(&env.net, epoch).await?;
        if e.state == state {
            return Ok(e);
        }
        if start.elapsed() > DELIVERY {
            bail!(
                "epoch {epoch} is {:?} after {DELIVERY:?}, expected {state:?}\nrouter log:\n{}",
                e.state,
                env.router.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The router's records of the canonical-token messages from or to the pool.
async fn pool_messages<P: PoolChain>(env: &Env, pools: &P) -> Result<Vec<serde_json::Value>> {
    let pool = pools.pool_word().to_string();
    let list = env.router.get("/messages?limit=1000").await?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["transfer"]["from"] == pool.as_str() || m["transfer"]["to"] == pool.as_str())
        .cloned()
        .collect())
}

/// The pool's messages once the router records every one delivered (up to 60 s).
async fn settled_messages<P: PoolChain>(
    env: &mut Env,
    pools: &P,
) -> Result<Vec<serde_json::Value>> {
    let start = std::time::Instant::now();
    loop {
        env.router.check_running()?;
        let messages = pool_messages(env, pools).await?;
        if messages.iter().all(|m| m["stage"] == "delivered") {
            return Ok(messages);
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("not every pool message is delivered: {messages:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many `event` logs `vault` emitted from block `from` on.
async fn vault_events(env: &Env, vault: Address, event: B256, from: u64) -> Result<usize> {
    let l1 = env.net.l1.provider(L1_KIT_ACCOUNT)?;
    let filter = Filter::new()
        .address(vault)
        .event_signature(event)
        .from_block(from);
    Ok(l1.get_logs(&filter).await?.len())
}

/// The vault's (totalAssets, totalSupply) now.
async fn vault_state(env: &Env, vault: Address) -> Result<(U256, U256)> {
    let l1 = env.net.l1.provider(L1_KIT_ACCOUNT)?;
    let v = PoolVault::new(vault, &l1);
    Ok((v.totalAssets().call().await?, v.totalSupply().call().await?))
}

/// The vault's virtual shares, 10^`PoolVault.DECIMALS_OFFSET` (the scenario checks it on L1).
const VIRTUAL_SHARES: u64 = 1_000_000;

/// OpenZeppelin's ERC4626 conversions (virtual shares 10^offset, one virtual asset) at
/// (totalAssets, totalSupply).
fn to_shares(assets: U256, (ta, ts): (U256, U256), up: bool) -> U256 {
    let (n, d) = (assets * (ts + U256::from(VIRTUAL_SHARES)), ta + U256::ONE);
    if up { n.div_ceil(d) } else { n / d }
}

fn to_assets(shares: U256, (ta, ts): (U256, U256)) -> U256 {
    shares * (ta + U256::ONE) / (ts + U256::from(VIRTUAL_SHARES))
}

/// What the manager's netting gives for D deposited and W withdrawn at `price`: (S_D, A_W).
fn netted(d: U256, w: U256, price: (U256, U256)) -> (U256, U256) {
    let a_w = to_assets(w, price);
    if d >= a_w {
        (w + to_shares(d - a_w, price, false), a_w)
    } else {
        (w - to_shares(a_w - d, price, true), a_w)
    }
}

/// The L1 gas of the relay transactions that made any of `messages`' hops.
async fn relay_gas(env: &Env, messages: &[&serde_json::Value]) -> Result<(u64, usize)> {
    let ids: Vec<String> = messages
        .iter()
        .map(|m| m["id"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    let mut gas = 0;
    let mut count = 0;
    for tx in env.relay_receipts().await? {
        if tx.ok
            && tx
                .hops
                .iter()
                .any(|h| ids.contains(&h.to_string().to_lowercase()))
        {
            ensure!(
                tx.hops.len() == 1,
                "a pool relay shared its transaction: {tx:?}"
            );
            gas += tx.gas_used;
            count += 1;
        }
    }
    Ok((gas, count))
}

/// Tests 1 and 2 of issue 15 on the pool `pools` with `users`: one epoch of deposits, yield, then
/// half the users withdraw, netted against new deposits.
async fn deposits_yield_and_withdrawals<P: PoolChain>(
    env: &mut Env,
    token: &TokenStack,
    l1_pools: &L1Pools,
    pools: &P,
    users: &[usize],
) -> Result<()> {
    let net = env.net.clone();
    let n = users.len();
    let domain = pools.domain();
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let kit = net.l1.address(L1_KIT_ACCOUNT)?;
    let vault = PoolVault::new(l1_pools.vault, &l1);
    let xtoken = XToken::new(token.token, &l1);
    let manager = PoolManager::new(l1_pools.manager, &l1);
    assert_eq!(
        U256::from(10).pow(U256::from(vault.DECIMALS_OFFSET().call().await?)),
        U256::from(VIRTUAL_SHARES)
    );

    // The vault already has a depositor, and yield arrived: a share is worth more than a token,
    // so the claims round.
    let seed = tokens(1000);
    let r = xtoken
        .approve(l1_pools.vault, seed)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "approve reverted");
    let r = vault.deposit(seed, kit).send().await?.get_receipt().await?;
    ensure!(r.status(), "the first L1 deposit reverted");
    let r = xtoken
        .transfer(l1_pools.vault, tokens(37))
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "the yield transfer reverted");
    // The baseline: another L1 user, alone, approves and deposits into the vault.
    let alone_account = 2;
    let other = net.l1.address(alone_account)?;
    let r = xtoken
        .transfer(other, tokens(20))
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "funding the L1 user reverted");
    let l1_user = net.l1.provider(alone_account)?;
    let approve = XToken::new(token.token, &l1_user)
        .approve(l1_pools.vault, tokens(20))
        .send()
        .await?
        .get_receipt()
        .await?;
    let deposit = PoolVault::new(l1_pools.vault, &l1_user)
        .deposit(tokens(20), other)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(
        approve.status() && deposit.status(),
        "the L1 user's deposit reverted"
    );
    let alone = approve.gas_used + deposit.gas_used;

    // Epoch 1: every user deposits a different amount; closing before it holds SIZE is refused.
    let amounts: Vec<U256> = (1..=n)
        .map(|i| tokens(10) + U256::from(i as u64 * 1_000_003_007))
        .collect();
    pools.deposit(&net, users[0], amounts[0]).await?;
    let early = format!("{:#}", pools.close_epoch(&net, 0).await.unwrap_err());
    assert!(
        early.contains("EPOCH_NOT_DUE") || early.contains("EpochNotDue"),
        "{early}"
    );
    for (u, amount) in users.iter().zip(&amounts).skip(1) {
        pools.deposit(&net, *u, *amount).await?;
    }
    for (u, amount) in users.iter().zip(&amounts) {
        let word = token.account_word(&net, domain, *u)?;
        assert_eq!(
            token.balance(&net, domain, word).await?,
            tokens(FUNDING) - amount
        );
    }
    let d1: U256 = amounts.iter().copied().sum();
    assert_eq!(token.balance(&net, domain, pools.pool_word()).await?, d1);
    let price1 = vault_state(env, l1_pools.vault).await?;
    let from_block = l1.get_block_number().await? + 1;
    let close = pools.close_epoch(&net, 0).await?;
    assert_eq!(pools.current_epoch(&net).await?, 2);
    let e1 = wait_epoch(env, pools, 1, EpochState::Settled).await?;

    // What L1 did: the pool's deposits bought S_D shares at the price before, in one vault call.
    let (s_d, a_w) = netted(d1, U256::ZERO, price1);
    assert_eq!(
        (e1.deposits, e1.withdrawals, e1.entries),
        (d1, U256::ZERO, n as u32)
    );
    assert_eq!((e1.deposit_shares, e1.withdrawal_assets), (s_d, a_w));
    assert_eq!(manager.shares(domain).call().await?, s_d);
    assert_eq!(vault.balanceOf(l1_pools.manager).call().await?, s_d);
    assert_eq!(e1.price, vault_state(env, l1_pools.vault).await?);
    let sig_deposit = PoolVault::Deposit::SIGNATURE_HASH;
    let sig_withdraw = PoolVault::Withdraw::SIGNATURE_HASH;
    assert_eq!(
        vault_events(env, l1_pools.vault, sig_deposit, from_block).await?,
        1
    );
    assert_eq!(
        vault_events(env, l1_pools.vault, sig_withdraw, from_block).await?,
        0
    );
    // One message each way.
    let messages = settled_messages(env, pools).await?;
    let out: Vec<_> = messages
        .iter()
        .filter(|m| m["transfer"]["kind"] == "transfer")
        .collect();
    let back: Vec<_> = messages
        .iter()
        .filter(|m| m["transfer"]["kind"] == "mint")
        .collect();
    assert_eq!((out.len(), back.len()), (1, 1), "{messages:#?}");
    assert_eq!(out[0]["source_tx"], close.to_string());
    assert_eq!(out[0]["transfer"]["amount"], d1.to_string());
    assert_eq!(back[0]["transfer"]["why"], "transfer");
    assert_eq!(back[0]["transfer"]["data"][1], s_d.to_string());

    // Every claim is amount × S_D / D, floored; the remainder stays in the pool, under 1 a user.
    let mut claimed = U256::ZERO;
    for (u, amount) in users.iter().zip(&amounts) {
        pools.claim(&net, *u, 1).await?;
        let shares = pools.shares_of(&net, *u).await?;
        assert_eq!(shares, amount * s_d / d1, "user {u}");
        claimed += shares;
    }
    let e1 = pools.epoch(&net, 1).await?;
    assert_eq!(e1.claimed, (claimed, U256::ZERO));
    assert_eq!(pools.total_shares(&net).await?, claimed);
    assert!(s_d - claimed < U256::from(n), "dust {}", s_d - claimed);
    let again = format!("{:#}", pools.claim(&net, users[0], 1).await.unwrap_err());
    assert!(
        again.contains("ALREADY_CLAIMED") || again.contains("AlreadyClaimed"),
        "{again}"
    );

    // L1 gas per pooled user: the epoch's two relays over the users, against the L1 user alone.
    let (pooled, relays) = relay_gas(env, &[out[0], back[0]]).await?;
    assert_eq!(relays, 2);
    println!(
        "L1 gas: {n} users pooled from domain {domain}: {pooled} in {relays} relays, {} per \
         user; one L1 user alone: approve {} + deposit {} = {alone}",
        pooled / n as u64,
        approve.gas_used,
        deposit.gas_used
    );
    assert!(pooled / (n as u64) < alone, "{pooled} / {n} vs {alone}");

    // Yield, then epoch 2: the first half of the users take all their shares back, the next four
    // deposit more.
    let r = xtoken
        .transfer(l1_pools.vault, tokens(100))
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "the yield transfer reverted");
    let mut held = Vec::new();
    let (leaving, staying) = users.split_at(n / 2);
    let adding = &staying[..4];
    for u in leaving {
        let shares = pools.shares_of(&net, *u).await?;
        pools.request_withdrawal(&net, *u, shares).await?;
        held.push(shares);
    }
    let more = tokens(30);
    for u in adding {
        pools.deposit(&net, *u, more).await?;
    }
    let w2: U256 = held.iter().copied().sum();
    let d2 = more * U256::from(4);
    let price2 = vault_state(env, l1_pools.vault).await?;
    let shares_before = manager.shares(domain).call().await?;
    let from_block = l1.get_block_number().await? + 1;
    pools.close_epoch(&net, 0).await?;
    let e2 = wait_epoch(env, pools, 2, EpochState::Settled).await?;
    let (s_d2, a_w2) = netted(d2, w2, price2);
    assert_eq!((e2.deposits, e2.withdrawals), (d2, w2));
    assert_eq!((e2.deposit_shares, e2.withdrawal_assets), (s_d2, a_w2));
    // Netted: one vault call for the difference, none for the rest.
    let (deposits, withdrawals) = if d2 >= a_w2 { (1, 0) } else { (0, 1) };
    assert_eq!(
        vault_events(env, l1_pools.vault, sig_deposit, from_block).await?,
        deposits
    );
    assert_eq!(
        vault_events(env, l1_pools.vault, sig_withdraw, from_block).await?,
        withdrawals
    );
    assert_eq!(
        manager.shares(domain).call().await?,
        shares_before + s_d2 - w2,
        "the manager's shares for the pool"
    );

    // Each withdrawal gets shares × A_W / W: its principal and its part of the yield.
    for (i, (u, shares)) in leaving.iter().zip(&held).enumerate() {
        let word = token.account_word(&net, domain, *u)?;
        let before = token.balance(&net, domain, word).await?;
        pools.claim(&net, *u, 2).await?;
        let got = token.balance(&net, domain, word).await? - before;
        assert_eq!(got, shares * a_w2 / w2, "user {u}");
        assert!(
            got > amounts[i],
            "user {u} got {got} for a deposit of {}",
            amounts[i]
        );
    }
    for u in adding {
        let before = pools.shares_of(&net, *u).await?;
        pools.claim(&net, *u, 2).await?;
        assert_eq!(
            pools.shares_of(&net, *u).await? - before,
            more * s_d2 / d2,
            "user {u}"
        );
    }

    // The books: the pool's tokens are exactly what rounding left of A_W; its users' shares and
    // the rounding left of S_D add up to what the manager holds for it in the vault.
    let e2 = pools.epoch(&net, 2).await?;
    let dust_assets = a_w2 - e2.claimed.1;
    assert!(dust_assets < U256::from(leaving.len()), "{dust_assets}");
    assert_eq!(
        token.balance(&net, domain, pools.pool_word()).await?,
        dust_assets
    );
    let dust_shares = (s_d - e1.claimed.0) + (s_d2 - e2.claimed.0);
    let mut held_now = U256::ZERO;
    for u in users {
        held_now += pools.shares_of(&net, *u).await?;
    }
    assert_eq!(pools.total_shares(&net).await?, held_now);
    assert_eq!(held_now + dust_shares, manager.shares(domain).call().await?);
    assert_eq!(
        vault.balanceOf(l1_pools.manager).call().await?,
        held_now + dust_shares
    );

    // Supply conserved: the ledger agrees with every chain's totalSupply, and the audit passes.
    let mut expected = BTreeMap::new();
    expected.insert((domain, pools.pool_word()), dust_assets);
    settle(env, token, &expected).await?;
    let (code, report) = audit(env, token, &[]);
    assert_eq!(code, 0, "{report}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_starknet_users_pool_into_an_l1_vault_earn_its_yield_and_withdraw() -> Result<()>
{
    let mut env = Env::start_with_accounts(None, *STARKNET_USERS.end() as u32 + 1).await?;
    let (token, l1) = deploy(&mut env).await?;
    let pool = StarknetPool::deploy(&env.net, &token, &l1, 3600, tokens(SIZE)).await?;
    let users: Vec<usize> = STARKNET_USERS.collect();
    fund(&mut env, &token, &pool, &users).await?;
    deposits_yield_and_withdrawals(&mut env, &token, &l1, &pool, &users).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrum_users_pool_into_the_same_vault_through_the_solidity_pool() -> Result<()> {
    let mut env = Env::start_with(Some(ArbitrumOptions::default())).await?;
    let (token, l1) = deploy(&mut env).await?;
    let pool = ArbitrumPool::deploy(&env.net, &token, &l1, 3600, tokens(SIZE)).await?;
    let users: Vec<usize> = ARBITRUM_USERS.collect();
    fund(&mut env, &token, &pool, &users).await?;
    deposits_yield_and_withdrawals(&mut env, &token, &l1, &pool, &users).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_that_refuses_returns_the_epoch_and_claims_stay_whole() -> Result<()> {
    let mut env = Env::start_with_accounts(None, 5).await?;
    let (token, l1_pools) = deploy(&mut env).await?;
    let pools = StarknetPool::deploy(&env.net, &token, &l1_pools, 3600, tokens(SIZE)).await?;
    fund(&mut env, &token, &pools, &[1, 2, 3, 4]).await?;
    let net = env.net.clone();
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let vault = PoolVault::new(l1_pools.vault, &l1);
    let manager = PoolManager::new(l1_pools.manager, &l1);

    // Epoch 1 settles: users 1..=4 hold shares.
    for u in 1..=4 {
        pools.deposit(&net, u, tokens(10 + u as u64)).await?;
    }
    pools.close_epoch(&net, 0).await?;
    wait_epoch(&mut env, &pools, 1, EpochState::Settled).await?;
    for u in 1..=4 {
        pools.claim(&net, u, 1).await?;
    }
    let held_l1 = manager.shares(pools.domain()).call().await?;

    // The vault pauses. Epoch 2: users 1 and 2 withdraw everything, users 3 and 4 deposit more.
    let r = vault.setPaused(true).send().await?.get_receipt().await?;
    ensure!(r.status(), "setPaused reverted");
    let mut shares = Vec::new();
    let mut balances = Vec::new();
    for u in 1..=4 {
        shares.push(pools.shares_of(&net, u).await?);
        let word = token.account_word(&net, pools.domain(), u)?;
        balances.push(token.balance(&net, pools.domain(), word).await?);
    }
    for u in 1..=2 {
        pools.request_withdrawal(&net, u, shares[u - 1]).await?;
    }
    for u in 3..=4 {
        pools.deposit(&net, u, tokens(25)).await?;
    }
    let from_block = l1.get_block_number().await? + 1;
    pools.close_epoch(&net, 0).await?;
    let e2 = wait_epoch(&mut env, &pools, 2, EpochState::Refunded).await?;
    assert_eq!(e2.deposits, tokens(50));

    // On L1: the ledger sent it back with the vault's refusal; nothing stayed there.
    let filter = Filter::new()
        .address(token.ledger)
        .event_signature(TokenLedger::Refunded::SIGNATURE_HASH)
        .from_block(from_block);
    let logs = l1.get_logs(&filter).await?;
    assert_eq!(logs.len(), 1);
    let refunded = TokenLedger::Refunded::decode_log(&logs[0].inner)?;
    assert_eq!(refunded.amount, tokens(50));
    assert!(
        refunded.reason.contains("VaultRefused: deposit"),
        "{}",
        refunded.reason
    );
    assert_eq!(manager.shares(pools.domain()).call().await?, held_l1);
    assert_eq!(vault.balanceOf(l1_pools.manager).call().await?, held_l1);
    assert_eq!(
        XToken::new(token.token, &l1)
            .balanceOf(l1_pools.manager)
            .call()
            .await?,
        U256::ZERO
    );
    // The router records a delivery a round after the chain shows it.
    let messages = settled_messages(&mut env, &pools).await?;
    let refunds: Vec<_> = messages
        .iter()
        .filter(|m| m["transfer"]["why"] == "refund")
        .collect();
    assert_eq!(refunds.len(), 1, "{messages:#?}");

    // Claims: withdrawers get their shares back, depositors their tokens, to the unit.
    for u in 1..=4 {
        pools.claim(&net, u, 2).await?;
        let word = token.account_word(&net, pools.domain(), u)?;
        assert_eq!(pools.shares_of(&net, u).await?, shares[u - 1], "user {u}");
        assert_eq!(
            token.balance(&net, pools.domain(), word).await?,
            balances[u - 1],
            "user {u}"
        );
    }
    assert_eq!(
        token
            .balance(&net, pools.domain(), pools.pool_word())
            .await?,
        U256::ZERO
    );
    let mut expected = BTreeMap::new();
    expected.insert((pools.domain(), pools.pool_word()), U256::ZERO);
    settle(&mut env, &token, &expected).await?;
    Ok(())
}

/// Finding 7 of issue 26: the first epoch into an empty vault, front-run on L1. Before the epoch's
/// relay an attacker deposits 1 wei into the vault and donates 100 tokens to it, so that the
/// epoch's deposit would buy 0 shares (OpenZeppelin's ERC-4626 rounds down) and the depositors'
/// tokens would go to the attacker's share. The vault's decimals offset makes that donation
/// move the price by a millionth of what it did, and the manager refuses a deposit whose shares
/// are worth less than 99% of it. Asserted: the depositors' shares, valued by the vault on L1,
/// are worth at least 99% of what they deposited, and the attacker gets back less than it put in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_donation_before_the_first_epoch_takes_nothing_from_its_depositors() -> Result<()> {
    let mut env = Env::start_with_accounts(None, 3).await?;
    let (token, l1_pools) = deploy(&mut env).await?;
    let pools = StarknetPool::deploy(&env.net, &token, &l1_pools, 3600, tokens(SIZE)).await?;
    fund(&mut env, &token, &pools, &[1, 2]).await?;
    let net = env.net.clone();
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let attacker = net.l1.address(L1_KIT_ACCOUNT)?;
    let vault = PoolVault::new(l1_pools.vault, &l1);
    let xtoken = XToken::new(token.token, &l1);
    // 20 + 21 tokens: above SIZE, so the epoch may close at once.
    for u in 1..=2 {
        pools.deposit(&net, u, tokens(19 + u as u64)).await?;
    }
    let deposits = tokens(41);

    // The attacker: 1 wei into the empty vault, then a donation of 100 tokens.
    let spent = U256::from(1) + tokens(100);
    let r = xtoken
        .approve(l1_pools.vault, U256::from(1))
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "approve reverted");
    let r = vault
        .deposit(U256::from(1), attacker)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "the attacker's deposit reverted");
    let r = xtoken
        .transfer(l1_pools.vault, tokens(100))
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(r.status(), "the donation reverted");

    pools.close_epoch(&net, 0).await?;
    let start = std::time::Instant::now();
    let e1 = loop {
        env.router.check_running()?;
        env.flusher.check().await?;
        let e = pools.epoch(&net, 1).await?;
        if matches!(e.state, EpochState::Settled | EpochState::Refunded) {
            break e;
        }
        if start.elapsed() > DELIVERY {
            bail!(
                "epoch 1 is {:?} after {DELIVERY:?}\nrouter log:\n{}",
                e.state,
                env.router.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(e1.deposits, deposits);
    let worth = match e1.state {
        EpochState::Settled => vault.previewRedeem(e1.deposit_shares).call().await?,
        // Refused: the depositors claim their tokens back whole.
        _ => deposits,
    };
    assert!(
        worth * U256::from(100) >= deposits * U256::from(99),
        "the epoch's {} shares are worth {worth} of its {deposits} deposited",
        e1.deposit_shares
    );
    let attacker_shares = vault.balanceOf(attacker).call().await?;
    let attacker_worth = vault.previewRedeem(attacker_shares).call().await?;
    assert!(
        attacker_worth < spent,
        "the attacker's {attacker_shares} shares are worth {attacker_worth}, it spent {spent}"
    );
    Ok(())
}
