//! Issue 31: L2 as your dashboard. A Starknet user's interchain account on L1 swaps on the real
//! Uniswap V2, funded by a transfer-and-call of the canonical token in the same message, and the
//! result comes back to Starknet; nobody else's message commands that account, and a failing call
//! undoes the whole list. All of it relayed by the `xroute` binary over real chains.

use std::time::Duration;

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::{SolCall, SolError, SolValue},
};
use eyre::{Result, bail, ensure};
use starknet_rust::core::types::Felt;
use xroute_proofs::accounts::{self, Call, CallsResult, Reply};
use xroute_tests::{
    artifacts::evm::{AccountRouter, InterchainAccount, XToken},
    localnet::L1_KIT_ACCOUNT,
    stack::L1_DOMAIN,
    token::{TokenStack, u256_felts},
    uniswap::{IERC20Approve, IUniswapV2Router02, Uniswap},
};

use crate::e2e_relay::{DELIVERY, Env};

/// One token, 10^18 base units.
fn units(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

fn felt(w: U256) -> Felt {
    Felt::from_bytes_be(&w.to_be_bytes::<32>())
}

fn word_of(f: Felt) -> U256 {
    U256::from_be_bytes(f.to_bytes_be())
}

/// What Starknet's sample app last received from `sender` on L1 (its payload words), once it
/// has received `count` messages from there.
async fn received_on_starknet(env: &mut Env, sender: Address, count: u64) -> Result<Vec<U256>> {
    let sn = env.stack.starknets[0];
    let from = vec![
        Felt::from(L1_DOMAIN),
        Felt::from_bytes_be_slice(sender.as_slice()),
    ];
    let start = std::time::Instant::now();
    loop {
        env.router.check_running()?;
        env.flusher.check().await?;
        let devnet = &env.net.starknets[0].devnet;
        let n = devnet.call(sn.app, "received_from", from.clone()).await?;
        if word_of(n[0]) >= U256::from(count) {
            let out = devnet.call(sn.app, "last_payload", from).await?;
            return Ok(out[1..].iter().map(|f| word_of(*f)).collect());
        }
        if start.elapsed() > DELIVERY {
            bail!(
                "Starknet's app has not received {count} message(s) from {sender}\nrouter log:\n{}",
                env.router.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until `holder` has `amount` of the token on Starknet.
async fn wait_balance(env: &Env, token: &TokenStack, holder: B256, amount: U256) -> Result<()> {
    let sn = env.stack.starknets[0].domain;
    let start = std::time::Instant::now();
    while token.balance(&env.net, sn, holder).await? != amount {
        ensure!(
            start.elapsed() < DELIVERY,
            "{holder} never held {amount} on Starknet"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

/// `account` (a devnet account index) of Starknet sends `request` to the account router through
/// the token: a transfer-and-call of `amount`.
async fn transfer_and_call(
    env: &Env,
    token: &TokenStack,
    account: usize,
    router: Address,
    amount: U256,
    request: &[U256],
) -> Result<()> {
    let [low, high] = u256_felts(amount);
    let mut calldata = vec![
        Felt::from(L1_DOMAIN),
        Felt::from_bytes_be_slice(router.as_slice()),
        low,
        high,
        Felt::from(request.len()),
    ];
    calldata.extend(request.iter().map(|w| felt(*w)));
    env.net.starknets[0]
        .devnet
        .invoke(
            account,
            token.starknets[0].1,
            "transfer_remote_call",
            calldata,
        )
        .await?;
    Ok(())
}

/// `account` of Starknet sends `request` to `to` on L1 as a plain message (the Endpoint's `send`).
async fn send_request(env: &Env, account: usize, to: Address, request: &[U256]) -> Result<()> {
    let mut calldata = vec![
        Felt::from(L1_DOMAIN),
        Felt::from_bytes_be_slice(to.as_slice()),
        Felt::from(request.len()),
    ];
    calldata.extend(request.iter().map(|w| felt(*w)));
    env.net.starknets[0]
        .devnet
        .invoke(
            account,
            env.stack.starknets[0].endpoint,
            "send_message",
            calldata,
        )
        .await?;
    Ok(())
}

/// The swap calls: approve Router02 for `amount`, swap it for WETH (at least `min_out`) to
/// `account`, then read the account's WETH balance (the output the result carries: call 2).
fn swap_calls(
    uni: &Uniswap,
    xrt: Address,
    account: Address,
    amount: U256,
    min_out: U256,
) -> Vec<Call> {
    vec![
        Call {
            target: xrt,
            value: U256::ZERO,
            data: IERC20Approve::approveCall {
                spender: uni.router,
                amount,
            }
            .abi_encode(),
        },
        Call {
            target: uni.router,
            value: U256::ZERO,
            data: IUniswapV2Router02::swapExactTokensForTokensCall {
                amountIn: amount,
                amountOutMin: min_out,
                path: vec![xrt, uni.weth],
                to: account,
                deadline: U256::from(u64::MAX),
            }
            .abi_encode(),
        },
        Call {
            target: uni.weth,
            value: U256::ZERO,
            data: IERC20Approve::balanceOfCall(account).abi_encode(),
        },
    ]
}

/// The output a calls request asks for: the last call's (the WETH balance).
const BALANCE: [usize; 1] = [2];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starknet_users_account_on_l1_swaps_on_uniswap_and_answers_back() -> Result<()> {
    let mut env = Env::start().await?;
    let net = env.net.clone();
    let sn = env.stack.starknets[0];
    let token = TokenStack::deploy(&net, &env.stack, units(1_000_000)).await?;
    let uni = Uniswap::deploy(&net.l1, L1_KIT_ACCOUNT).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let pair = uni
        .add_liquidity_eth(
            &net.l1,
            L1_KIT_ACCOUNT,
            token.token,
            units(10_000),
            units(5),
        )
        .await?;
    let router = AccountRouter::deploy(&l1, env.stack.hub, token.ledger, token.token)
        .await?
        .address()
        .to_owned();
    let accounts_router = AccountRouter::new(router, &l1);

    // The owner: Starknet's predeployed account 1, holding 100 XRT there.
    let devnet = &net.starknets[0].devnet;
    let owner = B256::from(devnet.predeployed_accounts()[1].address.to_bytes_be());
    token
        .transfer(
            &net,
            L1_DOMAIN,
            L1_KIT_ACCOUNT,
            sn.domain,
            owner,
            units(100),
        )
        .await?;
    wait_balance(&env, &token, owner, units(100)).await?;

    // Its account's address, computed here and by the router contract, before it exists.
    let code_hash = keccak256(&InterchainAccount::BYTECODE);
    let account = accounts::account_address(router, sn.domain, owner, code_hash);
    ensure!(
        accounts_router.accountOf(sn.domain, owner).call().await? == account,
        "accountOf disagrees with the CREATE2 address computed here"
    );
    ensure!(
        alloy::providers::Provider::get_code_at(&l1, account)
            .await?
            .is_empty(),
        "no account before its first use"
    );

    // 1. 25 XRT sent with the calls: the account swaps them for WETH; the result to Starknet.
    let amount = units(25);
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
    let request = accounts::calls_request(
        U256::from(1),
        &reply,
        &BALANCE,
        &swap_calls(&uni, token.token, account, amount, expected),
    )?;
    transfer_and_call(&env, &token, 1, router, amount, &request).await?;
    let answer = received_on_starknet(&mut env, router, 1).await?;
    let result = CallsResult::decode(&answer)?;
    let weth = IERC20Approve::new(uni.weth, &l1);
    let xrt = XToken::new(token.token, &l1);
    ensure!(
        weth.balanceOf(account).call().await? == expected,
        "the account holds what getAmountOut said"
    );
    ensure!(
        xrt.balanceOf(account).call().await?.is_zero(),
        "all XRT swapped"
    );
    ensure!(
        uni.reserves(&l1, pair, token.token).await? == (r_in + amount, r_out - expected),
        "the pair's reserves moved by the swap"
    );
    ensure!(
        result.ok
            && result.tag == U256::from(1)
            && result.domain == sn.domain
            && result.owner == owner
            && result.failed_index == 3
            && result.outputs == vec![expected.abi_encode()],
        "the answer on Starknet carries the account's WETH, what getAmountOut said: {result:?}"
    );
    ensure!(
        token.balance(&net, sn.domain, owner).await? == units(75),
        "75 XRT left on Starknet"
    );

    // 2. Someone else (Starknet account 2) names the owner's account: it cannot command it.
    let weth_before = weth.balanceOf(account).call().await?;
    let thief = B256::from(devnet.predeployed_accounts()[2].address.to_bytes_be());
    let steal = vec![Call {
        target: account,
        value: U256::ZERO,
        data: InterchainAccount::executeCall {
            calls: vec![InterchainAccount::Call {
                target: uni.weth,
                value: U256::ZERO,
                data: IERC20Approve::approveCall {
                    spender: Address::from_word(thief),
                    amount: U256::MAX,
                }
                .abi_encode()
                .into(),
            }],
        }
        .abi_encode(),
    }];
    let request = accounts::calls_request(U256::from(2), &reply, &[], &steal)?;
    send_request(&env, 2, router, &request).await?;
    let answer = received_on_starknet(&mut env, router, 2).await?;
    let result = CallsResult::decode(&answer)?;
    let thief_account = accounts::account_address(router, sn.domain, thief, code_hash);
    let refused = InterchainAccount::OnlyRouter {
        caller: thief_account,
    }
    .abi_encode();
    ensure!(
        !result.ok
            && result.owner == thief
            && result.failed_index == 0
            && result.outputs == vec![refused],
        "the thief's own account ran the call and the owner's refused it: {result:?}"
    );
    ensure!(
        weth.balanceOf(account).call().await? == weth_before,
        "the owner's WETH untouched"
    );

    // 3. A list whose second call fails (the swap asks one wei more than Uniswap gives): the
    //    approve is undone too, the tokens sent stay in the account, the answer says why.
    let amount = units(10);
    let (r_in, r_out) = uni.reserves(&l1, pair, token.token).await?;
    let quoted = uni
        .router(&l1)
        .getAmountOut(amount, r_in, r_out)
        .call()
        .await?;
    let request = accounts::calls_request(
        U256::from(3),
        &reply,
        &BALANCE,
        &swap_calls(&uni, token.token, account, amount, quoted + U256::from(1)),
    )?;
    transfer_and_call(&env, &token, 1, router, amount, &request).await?;
    let answer = received_on_starknet(&mut env, router, 3).await?;
    let result = CallsResult::decode(&answer)?;
    let reason = alloy::sol_types::Revert::abi_decode(&result.outputs[0])?.reason;
    ensure!(
        !result.ok
            && result.tag == U256::from(3)
            && result.failed_index == 1
            && reason == "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT",
        "the answer names the failing call and its reason: {result:?}"
    );
    ensure!(
        xrt.allowance(account, uni.router).call().await?.is_zero(),
        "the approve was undone"
    );
    ensure!(
        xrt.balanceOf(account).call().await? == amount,
        "the tokens sent stay in the account"
    );
    ensure!(
        uni.reserves(&l1, pair, token.token).await? == (r_in, r_out),
        "no swap"
    );
    env.flusher.stop().await?;
    Ok(())
}
