//! The demo (`xroute-demo`, what `scripts/demo` runs): the local network of DESIGN.md (anvil +
//! Starknet devnet + an appchain devnet + the local Arbitrum on the real nitro bridge, started by
//! this kit), the contracts deployed, one router
//! (the `xroute` binary, `xroute run`, as a child process), and messages over each route, shown
//! moving through the lifecycle in a live table. The postman is flushed in a loop to play the
//! provers and sequencers.
//!
//! Interactive (default): after delivery the network keeps running for `xroute status` /
//! `xroute messages` until Ctrl-C, which stops the router (drained) and every node.
//! Headless (`json`): waits for delivery and returns a JSON summary (sent, delivered, parked,
//! relay gas per route).

use std::{
    collections::BTreeMap,
    io::{IsTerminal, Write},
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::primitives::{B256, U256};
use eyre::Result;
use serde::Deserialize;
use serde_json::{Value, json};
use starknet_rust::core::types::Felt;
use xroute_proofs::envelope::MessageId;

use crate::{
    LocalNet, XrouteStack,
    arbitrum::ArbitrumOptions,
    localnet::L1_KIT_ACCOUNT,
    process::free_port,
    router::{Flusher, RouterOptions, RouterProcess, write_config},
    stack::L1_DOMAIN,
    token::TokenStack,
};

/// What the demo does.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Messages to send, spread over the eight routes ([`ROUTES`]).
    pub messages: u32,
    /// Headless: no table, no waiting for Ctrl-C; the summary is returned.
    pub json: bool,
    /// Give up waiting for delivery after this long.
    pub timeout: Duration,
    /// Keep the router's config and store here (default: a temporary folder).
    pub dir: Option<PathBuf>,
    /// The `xroute` binary the router runs as.
    pub xroute: PathBuf,
}

/// A message as the router's API shows it (the fields the demo reads).
#[derive(Debug, Clone, Deserialize)]
struct MessageView {
    stage: String,
    reason: Option<String>,
    #[serde(default)]
    relays: Vec<RelayView>,
    #[serde(default)]
    history: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
struct RelayView {
    tx_hash: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Step {
    note: String,
}

/// The routes of the local network, in send order.
pub const ROUTES: [&str; 8] = [
    "starknet → ethereum",
    "ethereum → starknet",
    "starknet → appchain1",
    "arbitrum → ethereum",
    "ethereum → arbitrum",
    "starknet → arbitrum",
    "arbitrum → starknet",
    "arbitrum → appchain1",
];

/// Runs the demo; returns whether every message was delivered, and the summary.
pub async fn run(args: DemoOptions) -> Result<(bool, Value)> {
    let say = |m: &str| eprintln!("[demo] {m}");
    say(
        "starting anvil (L1), two starknet-devnets (Starknet, appchain) and the local Arbitrum \
         (nitro's L1 bridge on the anvil, a second anvil as the L2)…",
    );
    // Starknet's accounts 1..=POOL_USERS pool their deposits (see `pool_round`).
    let accounts = POOL_USERS as u32 + 1;
    let net = Arc::new(
        LocalNet::start_with_accounts(2, Some(ArbitrumOptions::default()), accounts).await?,
    );
    let stack = XrouteStack::deploy(&net).await?;
    say(&format!(
        "Hub {} deployed; Starknet, the appchain and Arbitrum registered",
        stack.hub
    ));
    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let port = free_port()?;
    let config = write_config(&dir, &net, &stack, port, &RouterOptions::default())?;
    // Starknet's gas tank (issue 27): the router relays everything, and settles what was paid
    // every three receipts.
    let tank = crate::tank::StarknetTank::deploy(&net, &stack, 0).await?;
    crate::router::set_payments(
        &config,
        xroute_config::PaymentsConfig {
            settle_every: 3,
            settle_after_ms: 5_000,
            ..Default::default()
        },
        &[(
            stack.starknets[0].domain,
            B256::from(tank.address.to_bytes_be()),
        )],
    )?;
    let mut router = RouterProcess::start(&args.xroute, &config, port).await?;
    say(&format!(
        "router up: API {} (config {}); explorer page: {}/",
        router.api,
        config.display(),
        router.api
    ));
    let mut flusher = Flusher::start(net.clone(), Duration::from_millis(500));

    let started = Instant::now();
    let mut ids: Vec<(MessageId, &str)> = Vec::new();
    let sn = stack.starknets[0];
    let app3 = stack.starknets[1];
    let l1_app = B256::left_padding_from(stack.l1_app.as_slice());
    let arb = stack.arbitrum()?;
    let arb_app = B256::left_padding_from(arb.app.as_slice());
    for i in 0..args.messages {
        let route = ROUTES[i as usize % ROUTES.len()];
        let felt = || vec![vec![Felt::from(i)]];
        let word = || vec![vec![U256::from(i)]];
        let id = match i as usize % ROUTES.len() {
            0 => {
                stack
                    .send_from_starknet(&net, 0, L1_DOMAIN, l1_app, &felt())
                    .await?[0]
            }
            1 => {
                stack
                    .send_from_l1(
                        &net,
                        sn.domain,
                        XrouteStack::felt_word(sn.app),
                        word().remove(0),
                        0,
                    )
                    .await?
            }
            2 => {
                stack
                    .send_from_starknet(
                        &net,
                        0,
                        app3.domain,
                        XrouteStack::felt_word(app3.app),
                        &felt(),
                    )
                    .await?[0]
            }
            3 => {
                stack
                    .send_from_arbitrum(&net, L1_DOMAIN, l1_app, &word())
                    .await?[0]
            }
            4 => {
                stack
                    .send_from_l1(&net, arb.domain, arb_app, word().remove(0), 0)
                    .await?
            }
            5 => {
                stack
                    .send_from_starknet(&net, 0, arb.domain, arb_app, &felt())
                    .await?[0]
            }
            6 => {
                stack
                    .send_from_arbitrum(&net, sn.domain, XrouteStack::felt_word(sn.app), &word())
                    .await?[0]
            }
            _ => {
                stack
                    .send_from_arbitrum(
                        &net,
                        app3.domain,
                        XrouteStack::felt_word(app3.app),
                        &word(),
                    )
                    .await?[0]
            }
        };
        ids.push((id, route));
    }
    say(&format!("sent {} message(s)", ids.len()));

    let live = !args.json && std::io::stdout().is_terminal();
    let deadline = started + args.timeout;
    let views = loop {
        router.check_running()?;
        flusher.check().await?;
        let mut views = Vec::with_capacity(ids.len());
        for (id, _) in &ids {
            let v = router.get(&format!("/messages/{id}")).await?;
            // Not indexed yet: shown as waiting.
            views.push(serde_json::from_value::<MessageView>(v).ok());
        }
        if !args.json {
            print_table(&ids, &views, started, live);
        }
        let settled = views.iter().all(|v| {
            v.as_ref()
                .is_some_and(|v| ["delivered", "parked", "dropped"].contains(&v.stage.as_str()))
        });
        if settled || Instant::now() > deadline {
            break views;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let gas = relay_gas(&net, &ids, &views).await?;
    let mut summary = summarize(&ids, &views, &gas, started.elapsed());
    say("the canonical token: deploying it everywhere and moving it around every chain");
    let (token_summary, token) =
        token_round(&net, &stack, &mut router, &mut flusher, deadline).await?;
    if !args.json {
        print_token(&token_summary);
    }
    let token_ok = token_summary["adds_up"] == true;
    summary["token"] = token_summary;
    say("DeFi pooling: Starknet users deposit into an L1 vault in one epoch");
    let pool = pool_round(&net, &token, &mut router, &mut flusher, deadline).await?;
    if !args.json {
        print_pool(&pool);
    }
    let pool_ok = pool["claims_match"] == true;
    summary["pool"] = pool;
    say(
        "gas tank: a Starknet user pays for three messages, capped below a spike of the L1 base fee",
    );
    let (tank_summary, flusher_back) =
        tank_round(&net, &stack, &tank, &mut router, flusher, deadline, &say).await?;
    flusher = flusher_back;
    if !args.json {
        print_tank(&tank_summary);
    }
    let tank_ok = tank_summary["adds_up"] == true && tank_summary["held_seen"] == true;
    summary["gas_tank"] = tank_summary;
    say("L2 as your dashboard: a Starknet user's account on L1 swaps XRT for WETH on Uniswap V2");
    let account = account_round(&net, &stack, &token, &mut router, &mut flusher, deadline).await?;
    if !args.json {
        print_account(&account);
    }
    let account_ok = account["matches"] == true;
    summary["account"] = account;
    let all_delivered =
        summary["delivered"] == summary["sent"] && token_ok && pool_ok && tank_ok && account_ok;
    if !args.json {
        println!(
            "\n{} of {} delivered in {:.1}s.",
            summary["delivered"],
            summary["sent"],
            started.elapsed().as_secs_f64()
        );
        println!(
            "Explorer: {}/   ·   xroute messages --api {}   ·   xroute status <id> --api {}",
            router.api, router.api, router.api
        );
        println!("Ctrl-C stops the router and every node.");
        tokio::signal::ctrl_c().await?;
    }
    say("stopping: router first (drains and flushes its store), then the nodes");
    match router.interrupt().await {
        Ok(Some(0)) => {}
        Ok(code) => say(&format!("the router exited with {code:?}")),
        Err(e) => say(&format!("stopping the router: {e:#}")),
    }
    // A terminal's Ctrl-C reaches the nodes too; a flush failing now is expected.
    let flushed = flusher.stop().await;
    if args.json {
        flushed?;
    }
    drop(net);
    Ok((all_delivered, summary))
}

/// Deploys the canonical token, moves it L1 → Starknet → appchain → Arbitrum → L1 (each hop
/// relayed by the router, waited for on the destination's balance), and reads every chain's
/// balance, totalSupply and ledger entry.
async fn token_round(
    net: &Arc<LocalNet>,
    stack: &XrouteStack,
    router: &mut RouterProcess,
    flusher: &mut Flusher,
    deadline: Instant,
) -> Result<(Value, TokenStack)> {
    let one = U256::from(10u64).pow(U256::from(18));
    let token = TokenStack::deploy(net, stack, U256::from(1_000_000u64) * one).await?;
    let arb = stack.arbitrum()?;
    let sn = stack.starknets[0].domain;
    let app3 = stack.starknets[1].domain;
    // (source, its account, destination, amount in tokens)
    let hops = [
        (L1_DOMAIN, 0usize, sn, 100u64),
        (sn, 0, app3, 60),
        (app3, 0, arb.domain, 30),
        (arb.domain, 0, L1_DOMAIN, 10),
    ];
    let mut done = Vec::new();
    for (src, account, dst, amount) in hops {
        let amount = U256::from(amount) * one;
        // The L1 account 2 receives the last hop, so that it is not the kit's own balance.
        let to_account = if dst == L1_DOMAIN { 2 } else { 0 };
        let to = token.account_word(net, dst, to_account)?;
        let hop_started = Instant::now();
        move_and_wait(
            net,
            &token,
            router,
            flusher,
            deadline,
            (src, account, dst, to),
            amount,
        )
        .await?;
        done.push(json!({
            "from": src, "to": dst, "amount": amount.to_string(),
            "seconds": hop_started.elapsed().as_secs_f64(),
        }));
    }
    let mut chains = Vec::new();
    let mut sum = U256::ZERO;
    let mut consistent = true;
    for domain in token.domains() {
        let ledger = token.ledger_supply(net, domain).await?;
        let total = token.total_supply(net, domain).await?;
        consistent &= ledger == total;
        sum += ledger;
        chains.push(json!({
            "domain": domain,
            "total_supply": total.to_string(),
            "ledger": ledger.to_string(),
        }));
    }
    let summary = json!({
        "ledger": token.ledger.to_string(),
        "hops": done,
        "chains": chains,
        "initial": token.initial.to_string(),
        "adds_up": consistent && sum == token.initial,
    });
    Ok((summary, token))
}

/// Moves `amount` from (`src`, its `account`) to `to` on `dst`, and waits until the balance there
/// grew by it (the router relaying).
async fn move_and_wait(
    net: &Arc<LocalNet>,
    token: &TokenStack,
    router: &mut RouterProcess,
    flusher: &mut Flusher,
    deadline: Instant,
    (src, account, dst, to): (u32, usize, u32, B256),
    amount: U256,
) -> Result<()> {
    let before = token.balance(net, dst, to).await?;
    token.transfer(net, src, account, dst, to, amount).await?;
    loop {
        router.check_running()?;
        flusher.check().await?;
        if token.balance(net, dst, to).await? == before + amount {
            return Ok(());
        }
        if Instant::now() > deadline {
            eyre::bail!("the token hop {src} → {dst} did not arrive in time");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// How many Starknet users pool in the demo's epoch.
const POOL_USERS: usize = 8;

/// One epoch of the DeFi pool (ADR 0009): POOL_USERS Starknet users deposit different amounts,
/// the epoch crosses to L1 as one message, goes into the ERC-4626 vault in one call, and comes
/// back as one answer; each user claims `amount × S_D / D` shares.
async fn pool_round(
    net: &Arc<LocalNet>,
    token: &TokenStack,
    router: &mut RouterProcess,
    flusher: &mut Flusher,
    deadline: Instant,
) -> Result<Value> {
    use crate::pool::{EpochState, L1Pools, PoolChain, StarknetPool};
    let one = U256::from(10u64).pow(U256::from(18));
    let started = Instant::now();
    let l1 = L1Pools::deploy(net, token).await?;
    let pool = StarknetPool::deploy(net, token, &l1, 3600, U256::from(40u64) * one).await?;
    let users: Vec<usize> = (1..=POOL_USERS).collect();
    let funder = token.account_word(net, pool.domain(), 0)?;
    let funding = U256::from(20u64) * one;
    let total = funding * U256::from(POOL_USERS);
    let hop = (L1_DOMAIN, 0, pool.domain(), funder);
    move_and_wait(net, token, router, flusher, deadline, hop, total).await?;
    pool.fund(net, 0, &users, funding).await?;
    let amounts: Vec<U256> = users
        .iter()
        .map(|u| U256::from(5 + *u as u64) * one + U256::from(*u as u64 * 7_919))
        .collect();
    for (u, amount) in users.iter().zip(&amounts) {
        pool.deposit(net, *u, *amount).await?;
    }
    pool.close_epoch(net, 0).await?;
    let epoch = loop {
        router.check_running()?;
        flusher.check().await?;
        let e = pool.epoch(net, 1).await?;
        if e.state == EpochState::Settled {
            break e;
        }
        if Instant::now() > deadline {
            eyre::bail!("the pool's epoch did not settle in time ({:?})", e.state);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let mut claims = Vec::new();
    let mut matches = true;
    for (u, amount) in users.iter().zip(&amounts) {
        pool.claim(net, *u, 1).await?;
        let shares = pool.shares_of(net, *u).await?;
        let formula = amount * epoch.deposit_shares / epoch.deposits;
        matches &= shares == formula;
        claims.push(
            json!({ "account": u, "deposit": amount.to_string(), "shares": shares.to_string() }),
        );
    }
    let l1_provider = net.l1.provider(L1_KIT_ACCOUNT)?;
    let held = crate::artifacts::evm::PoolManager::new(l1.manager, &l1_provider)
        .shares(pool.domain())
        .call()
        .await?;
    Ok(json!({
        "vault": l1.vault.to_string(),
        "manager": l1.manager.to_string(),
        "pool": format!("{:#x}", pool.pool),
        "users": POOL_USERS,
        "deposits": epoch.deposits.to_string(),
        "shares_bought": epoch.deposit_shares.to_string(),
        "manager_shares": held.to_string(),
        "claims": claims,
        "claims_match": matches && held == epoch.deposit_shares,
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

fn print_pool(pool: &Value) {
    println!(
        "\nDeFi pooling: {} Starknet users, one epoch, one L1 vault deposit (vault {}):",
        pool["users"],
        pool["vault"].as_str().unwrap_or_default()
    );
    for c in pool["claims"].as_array().into_iter().flatten() {
        println!(
            "  account {:>2}  deposited {:>26}  claimed {:>26} shares",
            c["account"],
            c["deposit"].as_str().unwrap_or_default(),
            c["shares"].as_str().unwrap_or_default()
        );
    }
    println!(
        "  {} deposited, {} vault shares bought on L1 ({} held for the pool), in {:.1}s: {}",
        pool["deposits"].as_str().unwrap_or_default(),
        pool["shares_bought"].as_str().unwrap_or_default(),
        pool["manager_shares"].as_str().unwrap_or_default(),
        pool["seconds"].as_f64().unwrap_or_default(),
        if pool["claims_match"] == true {
            "every claim is deposit × shares / deposits"
        } else {
            "the claims do NOT match the formula"
        }
    );
}

/// Issue 31: Starknet's account 0 sends 25 XRT to its account on L1 with calls in the same
/// transfer-and-call (approve Uniswap V2's Router02, swap for WETH, read the balance); the
/// answer comes back to Starknet's sample app. Checked: the answer and the account's WETH on L1
/// equal Router02's `getAmountOut` for the pair's reserves before the swap.
async fn account_round(
    net: &Arc<LocalNet>,
    stack: &XrouteStack,
    token: &TokenStack,
    router: &mut RouterProcess,
    flusher: &mut Flusher,
    deadline: Instant,
) -> Result<Value> {
    use alloy::sol_types::SolValue;
    use xroute_proofs::accounts::{self, CallsResult, Reply};

    use crate::{
        accounts::{BALANCE, received_on_starknet, swap_calls, transfer_and_call},
        artifacts::evm::AccountRouter,
        uniswap::{IERC20Approve, Uniswap},
    };
    let started = Instant::now();
    let one = U256::from(10u64).pow(U256::from(18));
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let uni = Uniswap::deploy(&net.l1, L1_KIT_ACCOUNT).await?;
    let pair = uni
        .add_liquidity_eth(
            &net.l1,
            L1_KIT_ACCOUNT,
            token.token,
            U256::from(10_000u64) * one,
            U256::from(5u64) * one,
        )
        .await?;
    let accounts_router = *AccountRouter::deploy(&l1, stack.hub, token.ledger, token.token)
        .await?
        .address();
    let implementation = AccountRouter::new(accounts_router, &l1)
        .implementation()
        .call()
        .await?;
    let sn = stack.starknets[0];
    let owner = token.account_word(net, sn.domain, 0)?;
    let amount = U256::from(25u64) * one;
    let hop = (L1_DOMAIN, 0, sn.domain, owner);
    move_and_wait(net, token, router, flusher, deadline, hop, amount).await?;
    let account = accounts::account_address(accounts_router, implementation, sn.domain, owner);
    let (r_in, r_out) = uni.reserves(&l1, pair, token.token).await?;
    let expected = uni
        .router(&l1)
        .getAmountOut(amount, r_in, r_out)
        .call()
        .await?;
    let reply = [Reply {
        domain: sn.domain,
        recipient: B256::from(sn.app.to_bytes_be()),
    }];
    let calls = swap_calls(&uni, token.token, account, amount, expected);
    let request = accounts::calls_request(U256::from(1), &reply, &BALANCE, &calls)?;
    transfer_and_call(net, token, 0, L1_DOMAIN, accounts_router, amount, &request).await?;
    let answer = loop {
        router.check_running()?;
        flusher.check().await?;
        let (n, last) = received_on_starknet(net, sn.app, L1_DOMAIN, accounts_router).await?;
        if n >= 1 {
            break last;
        }
        if Instant::now() > deadline {
            eyre::bail!("the account's answer did not reach Starknet in time");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let result = CallsResult::decode(&answer)?;
    let weth = IERC20Approve::new(uni.weth, &l1)
        .balanceOf(account)
        .call()
        .await?;
    Ok(json!({
        "owner": owner.to_string(),
        "account": account.to_string(),
        "swapped": amount.to_string(),
        "get_amount_out": expected.to_string(),
        "weth_on_l1": weth.to_string(),
        "answer_ok": result.ok,
        "matches": result.ok && result.outputs == vec![expected.abi_encode()] && weth == expected,
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

fn print_account(account: &Value) {
    let field = |k: &str| account[k].as_str().unwrap_or_default().to_string();
    println!(
        "
L2 as your dashboard: Starknet account {} commands its L1 account {}:",
        field("owner"),
        field("account")
    );
    println!(
        "  swapped {} XRT base units for {} WETH wei on Uniswap V2 ({}: getAmountOut said {}), the \
         answer back on Starknet in {:.1}s",
        field("swapped"),
        field("weth_on_l1"),
        if account["matches"] == true {
            "as"
        } else {
            "NOT as"
        },
        field("get_amount_out"),
        account["seconds"].as_f64().unwrap_or_default()
    );
}

fn print_token(token: &Value) {
    println!(
        "\nThe canonical token (ledger {}):",
        token["ledger"].as_str().unwrap_or_default()
    );
    for h in token["hops"].as_array().into_iter().flatten() {
        println!(
            "  moved {} from domain {} to domain {} in {:.1}s",
            h["amount"].as_str().unwrap_or_default(),
            h["from"],
            h["to"],
            h["seconds"].as_f64().unwrap_or_default()
        );
    }
    for c in token["chains"].as_array().into_iter().flatten() {
        println!(
            "  domain {:>2}: totalSupply {} · ledger {}",
            c["domain"],
            c["total_supply"].as_str().unwrap_or_default(),
            c["ledger"].as_str().unwrap_or_default()
        );
    }
    println!(
        "  {}",
        if token["adds_up"] == true {
            "every chain's totalSupply equals its ledger entry, and they add up to the initial supply"
        } else {
            "the token does NOT add up"
        }
    );
}

fn print_table(
    ids: &[(MessageId, &str)],
    views: &[Option<MessageView>],
    started: Instant,
    live: bool,
) {
    let mut out = String::new();
    if live {
        out.push_str("\x1b[2J\x1b[H");
    }
    out.push_str(&format!(
        "xroute demo · {:.1}s · stages: sent → proven → relaying → relayed → delivered\n\n",
        started.elapsed().as_secs_f64()
    ));
    out.push_str(&format!(
        "{:<20} {:<22} {:<10} {}\n",
        "ID", "ROUTE", "STAGE", "LAST STEP"
    ));
    for ((id, route), view) in ids.iter().zip(views) {
        let short = format!("{}…", &id.to_string()[..18]);
        let (stage, note) = match view {
            Some(v) => (
                v.stage.clone(),
                v.reason
                    .clone()
                    .or_else(|| v.history.last().map(|t| t.note.clone()))
                    .unwrap_or_else(|| "seen on the source chain".into()),
            ),
            None => (
                "—".into(),
                "waiting for the source chain's confirmations".into(),
            ),
        };
        let note: String = note.chars().take(90).collect();
        out.push_str(&format!("{short:<20} {route:<22} {stage:<10} {note}\n"));
    }
    if !live {
        out.push('\n');
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

/// L1 gas of each message's successful relay (from the L1 receipts), by route: a transaction's gas
/// shared evenly among the hops it made (the Hub's `MessageDelivered` and `MessageForwarded`
/// events), so a batch of 16 counts a sixteenth for each of its members.
async fn relay_gas(
    net: &LocalNet,
    ids: &[(MessageId, &str)],
    views: &[Option<MessageView>],
) -> Result<BTreeMap<String, Vec<u64>>> {
    use alloy::providers::Provider;
    let l1 = net.l1.provider(0)?;
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for ((_, route), view) in ids.iter().zip(views) {
        for relay in view.iter().flat_map(|v| &v.relays) {
            let hash: B256 = relay.tx_hash.parse()?;
            if let Some(receipt) = l1.get_transaction_receipt(hash).await?
                && receipt.status()
            {
                use crate::artifacts::evm::Hub;
                let hops = receipt
                    .inner
                    .logs()
                    .iter()
                    .filter(|l| {
                        l.log_decode::<Hub::MessageDelivered>().is_ok()
                            || l.log_decode::<Hub::MessageForwarded>().is_ok()
                    })
                    .count()
                    .max(1) as u64;
                out.entry(route.to_string())
                    .or_default()
                    .push(receipt.gas_used / hops);
            }
        }
    }
    Ok(out)
}

fn summarize(
    ids: &[(MessageId, &str)],
    views: &[Option<MessageView>],
    gas: &BTreeMap<String, Vec<u64>>,
    took: Duration,
) -> Value {
    let mut routes: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    let (mut delivered, mut parked) = (0u64, 0u64);
    for ((_, route), view) in ids.iter().zip(views) {
        let entry = routes.entry(route).or_default();
        entry.0 += 1;
        match view.as_ref().map(|v| v.stage.as_str()) {
            Some("delivered") => {
                entry.1 += 1;
                delivered += 1;
            }
            Some("parked") => {
                entry.2 += 1;
                parked += 1;
            }
            _ => {}
        }
    }
    let per_route: serde_json::Map<String, Value> = routes
        .into_iter()
        .map(|(route, (s, d, p))| {
            let used = gas.get(route).cloned().unwrap_or_default();
            let mean = (!used.is_empty()).then(|| used.iter().sum::<u64>() / used.len() as u64);
            let entry = json!({
                "sent": s,
                "delivered": d,
                "parked": p,
                "relay_transactions": used.len(),
                "relay_gas_mean": mean,
                "relay_gas_max": used.iter().max(),
            });
            (route.to_string(), entry)
        })
        .collect();
    json!({
        "sent": ids.len(),
        "delivered": delivered,
        "parked": parked,
        "not_delivered": ids.len() as u64 - delivered,
        "seconds": (took.as_secs_f64() * 10.0).round() / 10.0,
        "routes": per_route,
    })
}

/// The gas tank (issue 27): Starknet account 0 fills the tank and sends three Starknet → L1
/// messages while the postman is held back, pays for them capped at 20 gwei, and L1's base fee
/// spikes to 100 gwei: the router shows them held. The spike ends; they are relayed, metered;
/// the router settles the three receipts in the tank. Returns the summary and the flusher (held
/// back, then started again).
async fn tank_round(
    net: &Arc<LocalNet>,
    stack: &XrouteStack,
    tank: &crate::tank::StarknetTank,
    router: &mut RouterProcess,
    flusher: Flusher,
    deadline: Instant,
    say: &impl Fn(&str),
) -> Result<(Value, Flusher)> {
    use crate::tank::{Terms, u256_at};
    const GWEI: u128 = 1_000_000_000;
    let sn = stack.starknets[0].domain;
    let devnet = &net.starknets[0].devnet;
    let payer = devnet.predeployed_accounts()[0].address;
    let deposit = U256::from(10u64).pow(U256::from(17u64));
    tank.deposit(net, 0, deposit).await?;
    // The postman waits while the messages are sent and paid (the router relays everything: an
    // unpaid one it saw proven would go at once).
    flusher.stop().await?;
    let l1_app = B256::left_padding_from(stack.l1_app.as_slice());
    let payloads: Vec<Vec<Felt>> = (0..3).map(|i| vec![Felt::from(4000 + i)]).collect();
    let ids = stack
        .send_from_starknet(net, 0, L1_DOMAIN, l1_app, &payloads)
        .await?;
    let kit = net.l1.provider(L1_KIT_ACCOUNT)?;
    let now = alloy::providers::Provider::get_block_by_number(
        &kit,
        alloy::eips::BlockNumberOrTag::Latest,
    )
    .await?
    .ok_or_else(|| eyre::eyre!("no L1 block"))?
    .header
    .timestamp;
    let terms = Terms {
        gas_limit: 400_000,
        deadline: now + 3600,
        max_base_fee: 20 * GWEI,
        max_priority_fee: 2 * GWEI,
        leg_budget: 0,
    };
    for id in &ids {
        tank.pay(net, 0, id.0, sn, L1_DOMAIN, &terms).await?;
    }
    net.l1.set_base_fee(100 * GWEI).await?;
    let mut flusher = Flusher::start(net.clone(), Duration::from_millis(500));
    // Held while the spike lasts (the postman's blocks would lower it: it is kept up).
    let mut held_reason = None;
    let spike = Instant::now();
    while spike.elapsed() < Duration::from_secs(20) && held_reason.is_none() {
        router.check_running()?;
        flusher.check().await?;
        net.l1.set_base_fee(100 * GWEI).await?;
        let m = router.get(&format!("/messages/{}", ids[0])).await?;
        if let Some(r) = m["reason"].as_str().filter(|r| r.starts_with("held:")) {
            say(&format!("message {} is waiting: {r}", ids[0]));
            held_reason = Some(r.to_string());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    say("the spike ends: L1's base fee back to 1 gwei");
    net.l1.set_base_fee(GWEI).await?;
    let hub = crate::artifacts::evm::Hub::new(stack.hub, &kit);
    let settled_meter = loop {
        router.check_running()?;
        flusher.check().await?;
        let out = devnet.call(tank.address, "settled_meter", vec![]).await?;
        let settled = u256_at(&out, 0)?;
        let meter = hub.meters(sn).call().await?;
        if xroute_proofs::metering::count(meter) >= 3 && settled == meter {
            break settled;
        }
        if Instant::now() > deadline {
            eyre::bail!("the gas tank's relays were not settled in time");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let relayer = net.l1.address(RouterOptions::default().l1_account)?;
    let relayer_felt = Felt::from_bytes_be_slice(relayer.as_slice());
    let claimable = tank.read(net, "claimable", relayer_felt).await?;
    let balance = tank.read(net, "balance_of", payer).await?;
    say(&format!(
        "settled: the router may claim {claimable} wei in Starknet's tank; the payer's balance is back to {balance} wei of its {deposit}"
    ));
    Ok((
        json!({
            "tank": format!("{:#x}", tank.address),
            "messages": ids.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
            "held_seen": held_reason.is_some(),
            "held_reason": held_reason,
            "settled_meter": settled_meter.to_string(),
            "router_claimable": claimable.to_string(),
            "payer_deposit": deposit.to_string(),
            "payer_balance": balance.to_string(),
            "adds_up": balance + claimable == deposit,
        }),
        flusher,
    ))
}

fn print_tank(tank: &Value) {
    println!(
        "\nGas tank (Starknet): {}",
        tank["tank"].as_str().unwrap_or("?")
    );
    if let Some(r) = tank["held_reason"].as_str() {
        println!("  held: {r}");
    }
    println!(
        "  settled; the router may claim {} wei; the payer keeps {} of {} wei",
        tank["router_claimable"], tank["payer_balance"], tank["payer_deposit"]
    );
}
