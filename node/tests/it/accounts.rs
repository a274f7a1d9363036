//! Issue 31: L2 as your dashboard. A Starknet user's interchain account on L1 swaps on the real
//! Uniswap V2, funded by a transfer-and-call of the canonical token in the same message, and the
//! result comes back to Starknet; nobody else's message commands that account, and a failing call
//! undoes the whole list. A Starknet app's read of L1 state is answered to it and to an Arbitrum
//! app. All of it relayed by the `xroute` binary over real chains.

use std::time::Duration;

use alloy::{
    primitives::{Address, B256, U256},
    sol_types::{SolCall, SolError, SolEvent, SolValue},
};
use eyre::{Result, bail, ensure};
use starknet_rust::core::types::Felt;
use xroute_proofs::accounts::{self, Call, CallsResult, Read, ReadAnswer, Reply};
use xroute_tests::{
    XrouteStack,
    accounts::{
        BALANCE, felt, received_on_starknet as kit_received, swap_calls, transfer_and_call,
    },
    arbitrum::ArbitrumOptions,
    artifacts::evm::{AccountRouter, InterchainAccount, L1Reader, SampleApp, TokenRouter, XToken},
    localnet::L1_KIT_ACCOUNT,
    stack::{L1_DOMAIN, L2_KIT_ACCOUNT},
    token::TokenStack,
    uniswap::{IERC20Approve, IUniswapV2Pair, Uniswap},
};

use crate::e2e_relay::{DELIVERY, Env};

/// One token, 10^18 base units.
fn units(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// What Starknet's sample app last received from `sender` on L1 (its payload words), once it
/// has received `count` messages from there.
async fn received_on_starknet(env: &mut Env, sender: Address, count: u64) -> Result<Vec<U256>> {
    received_on_starknet_from(env, L1_DOMAIN, sender, count).await
}

/// What Starknet's sample app last received from `sender` on `domain`, once it has received
/// `count` messages from there.
async fn received_on_starknet_from(
    env: &mut Env,
    domain: u32,
    sender: Address,
    count: u64,
) -> Result<Vec<U256>> {
    let app = env.stack.starknets[0].app;
    let start = std::time::Instant::now();
    loop {
        env.router.check_running()?;
        env.flusher.check().await?;
        let (n, last) = kit_received(&env.net, app, domain, sender).await?;
        if n >= count {
            return Ok(last);
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

/// Waits until `holder` has `amount` of the token on `domain`.
async fn wait_balance(
    env: &Env,
    token: &TokenStack,
    domain: u32,
    holder: B256,
    amount: U256,
) -> Result<()> {
    let start = std::time::Instant::now();
    while token.balance(&env.net, domain, holder).await? != amount {
        ensure!(
            start.elapsed() < DELIVERY,
            "{holder} never held {amount} on domain {domain}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
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

/// Uniswap V2 on the L1 with a pair of the token's XRT against WETH, `xrt` and `eth` (whole
/// units) in it from the kit's account; Uniswap and the pair.
async fn dex(env: &Env, token: &TokenStack, xrt: u64, eth: u64) -> Result<(Uniswap, Address)> {
    let uni = Uniswap::deploy(&env.net.l1, L1_KIT_ACCOUNT).await?;
    let pair = uni
        .add_liquidity_eth(
            &env.net.l1,
            L1_KIT_ACCOUNT,
            token.token,
            units(xrt),
            units(eth),
        )
        .await?;
    Ok((uni, pair))
}

/// An `AccountRouter` deployed by `provider`'s account behind `messenger`, taking
/// transfer-and-calls from `token_router` of `token`; its address and its accounts' code.
async fn account_router(
    provider: &alloy::providers::DynProvider,
    messenger: Address,
    token_router: Address,
    token: Address,
) -> Result<(Address, Address)> {
    let router = *AccountRouter::deploy(provider, messenger, token_router, token)
        .await?
        .address();
    let implementation = AccountRouter::new(router, provider)
        .implementation()
        .call()
        .await?;
    Ok((router, implementation))
}

/// The pair's reserves of `xrt` and WETH now, and what Uniswap's own `getAmountOut` pays for
/// `amount` of XRT against them.
async fn quote(
    uni: &Uniswap,
    l1: &alloy::providers::DynProvider,
    pair: Address,
    xrt: Address,
    amount: U256,
) -> Result<(U256, U256, U256)> {
    let (r_in, r_out) = uni.reserves(l1, pair, xrt).await?;
    let out = uni
        .router(l1)
        .getAmountOut(amount, r_in, r_out)
        .call()
        .await?;
    Ok((r_in, r_out, out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starknet_users_account_on_l1_swaps_on_uniswap_and_answers_back() -> Result<()> {
    let mut env = Env::start().await?;
    let net = env.net.clone();
    let sn = env.stack.starknets[0];
    let token = TokenStack::deploy(&net, &env.stack, units(1_000_000)).await?;
    let (uni, pair) = dex(&env, &token, 10_000, 5).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let (router, implementation) =
        account_router(&l1, env.stack.hub, token.ledger, token.token).await?;
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
    wait_balance(&env, &token, sn.domain, owner, units(100)).await?;

    // Its account's address, computed here and by the router contract, before it exists.
    let account = accounts::account_address(router, implementation, sn.domain, owner);
    ensure!(
        accounts_router.accountOf(sn.domain, owner).call().await? == account,
        "accountOf disagrees with the CREATE2 address computed here"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xroute"))
        .args([
            "account",
            "address",
            "--owner",
            &owner.to_string(),
            "--from-domain",
        ])
        .arg(sn.domain.to_string())
        .args(["--router", &router.to_string(), "--implementation"])
        .arg(implementation.to_string())
        .output()?;
    ensure!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).trim() == format!("{account:#x}"),
        "xroute account address: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        alloy::providers::Provider::get_code_at(&l1, account)
            .await?
            .is_empty(),
        "no account before its first use"
    );

    // 1. 25 XRT sent with the calls: the account swaps them for WETH; the result to Starknet.
    let amount = units(25);
    let (r_in, r_out, expected) = quote(&uni, &l1, pair, token.token, amount).await?;
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
    transfer_and_call(&net, &token, 1, L1_DOMAIN, router, amount, &request).await?;
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
    let thief_account = accounts::account_address(router, implementation, sn.domain, thief);
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
    let (r_in, r_out, quoted) = quote(&uni, &l1, pair, token.token, amount).await?;
    let request = accounts::calls_request(
        U256::from(3),
        &reply,
        &BALANCE,
        &swap_calls(&uni, token.token, account, amount, quoted + U256::from(1)),
    )?;
    transfer_and_call(&net, &token, 1, L1_DOMAIN, router, amount, &request).await?;
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

    // 4. A later message, without tokens: the account swaps the 10 XRT it kept.
    let weth_before = weth.balanceOf(account).call().await?;
    let request = accounts::calls_request(
        U256::from(4),
        &reply,
        &BALANCE,
        &swap_calls(&uni, token.token, account, amount, quoted),
    )?;
    send_request(&env, 1, router, &request).await?;
    let answer = received_on_starknet(&mut env, router, 4).await?;
    let result = CallsResult::decode(&answer)?;
    ensure!(
        result.ok && result.outputs == vec![(weth_before + quoted).abi_encode()],
        "the later swap paid getAmountOut: {result:?}"
    );
    ensure!(
        weth.balanceOf(account).call().await? == weth_before + quoted,
        "the account's WETH"
    );

    // 5. `xroute account call`: the config's Starknet key (the router's own account there) sends
    //    one call to its account, which is made at the address computed here; the result
    //    carries the call's return data (the account's WETH balance, 0).
    let cli_owner = B256::from(devnet.predeployed_accounts()[0].address.to_bytes_be());
    let cli_account = accounts::account_address(router, implementation, sn.domain, cli_owner);
    let call = format!(
        "{}:0:0x{}",
        uni.weth,
        alloy::primitives::hex::encode(IERC20Approve::balanceOfCall(cli_account).abi_encode())
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xroute"))
        .args(["account", "call", "--config"])
        .arg(env.router.config())
        .args(["--from", "starknet", "--to", "ethereum", "--router"])
        .arg(router.to_string())
        .args(["--call", &call, "--output", "0", "--tag", "5", "--reply"])
        .arg(format!("starknet:{:#x}", sn.app))
        .output()?;
    ensure!(
        out.status.success(),
        "xroute account call: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `xroute status` of the message the CLI printed says what it asks.
    let id = String::from_utf8(out.stdout)?.trim().to_string();
    let start = std::time::Instant::now();
    let status = loop {
        // Known once the router has indexed its block.
        let (code, status, err) = env.cli(&["status", &id])?;
        if code == 0 {
            break status;
        }
        ensure!(start.elapsed() < DELIVERY, "xroute status {id}: {err}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    ensure!(
        status.contains(&format!(
            "account   account calls (tag 5): 1 call ({}), result to 1 domain",
            uni.weth
        )),
        "{status}"
    );
    let answer = received_on_starknet(&mut env, router, 5).await?;
    let result = CallsResult::decode(&answer)?;
    ensure!(
        result.ok
            && result.tag == U256::from(5)
            && result.owner == cli_owner
            && result.outputs == vec![U256::ZERO.abi_encode()],
        "the CLI's call ran in the sender's account: {result:?}"
    );
    ensure!(
        accounts_router
            .accountOf(sn.domain, cli_owner)
            .call()
            .await?
            == cli_account
            && !alloy::providers::Provider::get_code_at(&l1, cli_account)
                .await?
                .is_empty(),
        "the CLI sender's account is made at the computed address"
    );

    // What each request cost on L1, from the chain (docs/gas.md).
    for (tag, what) in [
        (
            1,
            "first use: account made, funded by a transfer-and-call, 3 calls, a reply",
        ),
        (
            2,
            "another owner's first use: account made, its one call refused, a reply",
        ),
        (
            3,
            "a later transfer-and-call whose second call fails, a reply",
        ),
        (4, "a later message, 3 calls, a reply"),
    ] {
        let (tx, frame) = account_gas(&env, router, tag).await?;
        eprintln!("gas: {what}: relay tx {tx}, AccountRouter's frame {frame}");
    }
    env.flusher.stop().await?;
    Ok(())
}

/// The L1 gas of the relay that ran request `tag` on `router`: the whole transaction's, and the
/// router's own call frame's (`onTokens` or `onMessage`, as anvil's call tracer measures it).
async fn account_gas(env: &Env, router: Address, tag: u64) -> Result<(u64, u64)> {
    use alloy::providers::Provider;
    let l1 = env.net.l1.provider(L1_KIT_ACCOUNT)?;
    let logs = l1
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(router)
                .event_signature(AccountRouter::Executed::SIGNATURE_HASH)
                .topic3(B256::from(U256::from(tag)))
                .from_block(0),
        )
        .await?;
    let tx = logs
        .first()
        .and_then(|l| l.transaction_hash)
        .ok_or_else(|| eyre::eyre!("no Executed({tag})"))?;
    frame_gas(env, tx, router).await
}

/// Transaction `tx`'s gas and that of its first call frame into `to`.
async fn frame_gas(env: &Env, tx: B256, to: Address) -> Result<(u64, u64)> {
    use alloy::providers::Provider;
    let l1 = env.net.l1.provider(L1_KIT_ACCOUNT)?;
    let receipt = l1
        .get_transaction_receipt(tx)
        .await?
        .ok_or_else(|| eyre::eyre!("no receipt for {tx}"))?;
    let trace = xroute_tests::rpc::call(
        &reqwest::Client::new(),
        env.net.l1.endpoint(),
        "debug_traceTransaction",
        serde_json::json!([tx, { "tracer": "callTracer" }]),
    )
    .await?;
    fn find(frame: &serde_json::Value, to: &str) -> Option<u64> {
        if frame["to"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case(to))
        {
            let hex = frame["gasUsed"].as_str()?;
            return u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok();
        }
        frame["calls"].as_array()?.iter().find_map(|c| find(c, to))
    }
    let frame = find(&trace, &format!("{to:#x}"))
        .ok_or_else(|| eyre::eyre!("{tx} has no call into {to}"))?;
    Ok((receipt.gas_used, frame))
}

/// Waits until the Arbitrum sample app has received `count` messages from `sender` on L1; the
/// last one's payload.
async fn received_on_arbitrum(env: &mut Env, sender: Address, count: u64) -> Result<Vec<U256>> {
    let arb = env.stack.arbitrum()?;
    let l2 = env.net.arbitrum()?.l2.provider(L2_KIT_ACCOUNT)?;
    let app = SampleApp::new(arb.app, &l2);
    let from = sender.into_word();
    let start = std::time::Instant::now();
    loop {
        env.router.check_running()?;
        env.flusher.check().await?;
        if app.receivedFrom(L1_DOMAIN, from).call().await? >= U256::from(count) {
            return Ok(app.lastPayload(L1_DOMAIN, from).call().await?);
        }
        if start.elapsed() > DELIVERY {
            bail!(
                "Arbitrum's app has not received {count} message(s) from {sender}\nrouter log:\n{}",
                env.router.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Issue 31's L1 reads: a Starknet app asks for the Uniswap pair's `getReserves` and, in a
/// second request, an ERC-20 balance (the pair's XRT); the reader runs them on L1 when the
/// request is relayed and each answer goes to the Starknet app and, in the same request, to the
/// Arbitrum app. Both receive the same words; what they carry equals the same view calls run at
/// the answer's L1 block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_read_is_answered_to_starknet_and_shared_with_arbitrum() -> Result<()> {
    let mut env = Env::start_with(Some(ArbitrumOptions::default())).await?;
    let net = env.net.clone();
    let sn = env.stack.starknets[0];
    let arb = env.stack.arbitrum()?;
    let token = TokenStack::deploy(&net, &env.stack, units(1_000_000)).await?;
    let (uni, pair) = dex(&env, &token, 7_000, 3).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let reader = *L1Reader::deploy(&l1, env.stack.hub).await?.address();
    let requester = B256::from(
        net.starknets[0].devnet.predeployed_accounts()[1]
            .address
            .to_bytes_be(),
    );
    let replies = [
        Reply {
            domain: sn.domain,
            recipient: B256::from(sn.app.to_bytes_be()),
        },
        Reply {
            domain: arb.domain,
            recipient: arb.app.into_word(),
        },
    ];
    let reads = [
        Read {
            target: pair,
            data: IUniswapV2Pair::getReservesCall {}.abi_encode(),
        },
        Read {
            target: token.token,
            data: IERC20Approve::balanceOfCall(pair).abi_encode(),
        },
    ];
    for (i, read) in reads.iter().enumerate() {
        let tag = U256::from(10 + i);
        let request = accounts::read_request(tag, &replies, std::slice::from_ref(read))?;
        send_request(&env, 1, reader, &request).await?;
        let on_starknet = received_on_starknet(&mut env, reader, i as u64 + 1).await?;
        let on_arbitrum = received_on_arbitrum(&mut env, reader, i as u64 + 1).await?;
        ensure!(
            on_starknet == on_arbitrum,
            "the same answer on both: {on_starknet:?} / {on_arbitrum:?}"
        );
        let answer = ReadAnswer::decode(&on_starknet)?;
        ensure!(
            answer.tag == tag
                && answer.domain == sn.domain
                && answer.requester == requester
                && answer.results.len() == 1
                && answer.results[0].0,
            "{answer:?}"
        );
        // The same view call at the answer's block, read here.
        let at = alloy::rpc::types::TransactionRequest::default()
            .to(read.target)
            .input(alloy::primitives::Bytes::from(read.data.clone()).into());
        let here = alloy::providers::Provider::call(&l1, at)
            .block(answer.block.into())
            .await?;
        ensure!(
            answer.results[0].1 == here.to_vec(),
            "read {i} answered {:?}, the chain says {here} at block {}",
            answer.results[0].1,
            answer.block
        );
    }
    let (reserve, _) = uni.reserves(&l1, pair, token.token).await?;
    ensure!(reserve == units(7_000), "the pair's XRT reserve");
    // What each read cost on L1, from the chain (docs/gas.md).
    for (tx, what) in answered(&l1, reader)
        .await?
        .into_iter()
        .zip(["getReserves", "balanceOf"])
    {
        let (tx_gas, frame) = frame_gas(&env, tx, reader).await?;
        eprintln!(
            "gas: a read ({what}) answered to two domains: relay tx {tx_gas}, L1Reader's frame {frame}"
        );
    }
    env.flusher.stop().await?;
    Ok(())
}

/// The transactions of `reader`'s `Answered` events, oldest first.
async fn answered(l1: &alloy::providers::DynProvider, reader: Address) -> Result<Vec<B256>> {
    use alloy::providers::Provider;
    let logs = l1
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(reader)
                .event_signature(L1Reader::Answered::SIGNATURE_HASH)
                .from_block(0),
        )
        .await?;
    logs.iter()
        .map(|log| {
            log.transaction_hash
                .ok_or_else(|| eyre::eyre!("a log without its transaction"))
        })
        .collect()
}

/// Issue 31 from Arbitrum: an Arbitrum user's account on L1, funded and commanded by one
/// transfer-and-call from the Arbitrum token router, swaps on Uniswap and answers the Arbitrum
/// app; what it carries equals `getAmountOut`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arbitrum_users_account_on_l1_swaps_and_answers_back() -> Result<()> {
    let mut env = Env::start_with(Some(ArbitrumOptions::default())).await?;
    let net = env.net.clone();
    let arb = env.stack.arbitrum()?;
    let token = TokenStack::deploy(&net, &env.stack, units(1_000_000)).await?;
    let (arb_domain, arb_token) = token
        .arbitrum
        .ok_or_else(|| eyre::eyre!("no token on Arbitrum"))?;
    let (uni, pair) = dex(&env, &token, 10_000, 5).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let (router, implementation) =
        account_router(&l1, env.stack.hub, token.ledger, token.token).await?;

    // The owner: an EOA on the L2 (anvil account 4), holding 50 XRT there.
    let l2 = &net.arbitrum()?.l2;
    let user = l2.address(4)?;
    let owner = user.into_word();
    token
        .transfer(
            &net,
            L1_DOMAIN,
            L1_KIT_ACCOUNT,
            arb_domain,
            owner,
            units(50),
        )
        .await?;
    wait_balance(&env, &token, arb_domain, owner, units(50)).await?;
    let account = accounts::account_address(router, implementation, arb_domain, owner);

    let amount = units(20);
    let (r_in, r_out, expected) = quote(&uni, &l1, pair, token.token, amount).await?;
    let reply = [Reply {
        domain: arb.domain,
        recipient: arb.app.into_word(),
    }];
    let request = accounts::calls_request(
        U256::from(7),
        &reply,
        &BALANCE,
        &swap_calls(&uni, token.token, account, amount, expected),
    )?;
    let sent = TokenRouter::new(arb_token, l2.provider(4)?)
        .transferRemoteCall(L1_DOMAIN, router.into_word(), amount, request)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(sent.status(), "transferRemoteCall reverted");
    let answer = received_on_arbitrum(&mut env, router, 1).await?;
    let result = CallsResult::decode(&answer)?;
    ensure!(
        result.ok
            && result.tag == U256::from(7)
            && result.domain == arb_domain
            && result.owner == owner
            && result.outputs == vec![expected.abi_encode()],
        "the answer on Arbitrum carries the account's WETH, what getAmountOut said: {result:?}"
    );
    let weth = IERC20Approve::new(uni.weth, &l1);
    ensure!(
        weth.balanceOf(account).call().await? == expected,
        "the account holds what getAmountOut said"
    );
    ensure!(
        uni.reserves(&l1, pair, token.token).await? == (r_in + amount, r_out - expected),
        "the pair's reserves moved by the swap"
    );
    ensure!(
        token.balance(&net, arb_domain, owner).await? == units(30),
        "30 XRT left on Arbitrum"
    );
    env.flusher.stop().await?;
    Ok(())
}

/// Issue 31, two hops: a Starknet user's account on Arbitrum. One transfer-and-call from
/// Starknet (Starknet → L1 ledger → the Arbitrum token router) funds the account with 12 XRT and
/// runs its calls there: 5 XRT to another address, then its own balance, answered back to the
/// Starknet app (Arbitrum → L1 → Starknet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starknet_users_account_on_arbitrum_runs_its_calls_two_hops_away() -> Result<()> {
    let mut env = Env::start_with(Some(ArbitrumOptions::default())).await?;
    let net = env.net.clone();
    let sn = env.stack.starknets[0];
    let arb = env.stack.arbitrum()?;
    let token = TokenStack::deploy(&net, &env.stack, units(1_000_000)).await?;
    let (arb_domain, arb_token) = token
        .arbitrum
        .ok_or_else(|| eyre::eyre!("no token on Arbitrum"))?;
    let l2 = net.arbitrum()?.l2.provider(L2_KIT_ACCOUNT)?;
    let (router, implementation) = account_router(&l2, arb.endpoint, arb_token, arb_token).await?;

    let devnet = &net.starknets[0].devnet;
    let owner = B256::from(devnet.predeployed_accounts()[1].address.to_bytes_be());
    token
        .transfer(&net, L1_DOMAIN, L1_KIT_ACCOUNT, sn.domain, owner, units(40))
        .await?;
    wait_balance(&env, &token, sn.domain, owner, units(40)).await?;
    let account = accounts::account_address(router, implementation, sn.domain, owner);
    ensure!(
        AccountRouter::new(router, &l2)
            .accountOf(sn.domain, owner)
            .call()
            .await?
            == account,
        "accountOf on Arbitrum disagrees with the address computed here"
    );

    let payee = Address::repeat_byte(0x5e);
    let calls = vec![
        Call {
            target: arb_token,
            value: U256::ZERO,
            data: TokenRouter::transferCall {
                to: payee,
                value: units(5),
            }
            .abi_encode(),
        },
        Call {
            target: arb_token,
            value: U256::ZERO,
            data: IERC20Approve::balanceOfCall(account).abi_encode(),
        },
    ];
    let reply = [Reply {
        domain: sn.domain,
        recipient: B256::from(sn.app.to_bytes_be()),
    }];
    let request = accounts::calls_request(U256::from(9), &reply, &[1], &calls)?;
    transfer_and_call(&net, &token, 1, arb_domain, router, units(12), &request).await?;

    let answer = received_on_starknet_from(&mut env, arb_domain, router, 1).await?;
    let result = CallsResult::decode(&answer)?;
    ensure!(
        result.ok
            && result.tag == U256::from(9)
            && result.domain == sn.domain
            && result.owner == owner
            && result.outputs == vec![units(7).abi_encode()],
        "the answer on Starknet carries the account's 7 XRT left: {result:?}"
    );
    let balance = |holder: Address| token.balance(&net, arb_domain, holder.into_word());
    ensure!(
        balance(payee).await? == units(5),
        "the payee got 5 XRT on Arbitrum"
    );
    ensure!(
        balance(account).await? == units(7),
        "the account keeps 7 XRT"
    );
    ensure!(
        token.balance(&net, sn.domain, owner).await? == units(28),
        "28 XRT left on Starknet"
    );
    env.flusher.stop().await?;
    Ok(())
}

/// Issue 31's past-block read: a Starknet app asks for three storage slots at an L1 block `B`
/// (the Uniswap pair's packed reserves, the pair's XRT balance, and a balance nobody holds, so
/// one value is proven absent); the pair's reserves change after `B`. The router relays the
/// request, the reader keeps it and pins `B`'s hash, and `xroute account answer-storage` answers
/// it with `B`'s header and `eth_getProof`'s proofs. The values reaching Starknet are the slots
/// at `B` (equal to `getReserves`/`balanceOf` at `B`), not now. A header of another block and a
/// proof with one byte changed are refused by the reader, and a read is answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_past_block_storage_read_is_answered_by_its_proof() -> Result<()> {
    use alloy::providers::Provider;
    use xroute::reads::IL1Reader;
    let mut env = Env::start().await?;
    let net = env.net.clone();
    let sn = env.stack.starknets[0];
    let token = TokenStack::deploy(&net, &env.stack, units(1_000_000)).await?;
    let (uni, pair) = dex(&env, &token, 6_000, 2).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let reader = *L1Reader::deploy(&l1, env.stack.hub).await?.address();

    let at = l1.get_block_number().await?;
    let (reserve_then, _) = uni.reserves(&l1, pair, token.token).await?;
    // The reserves move after block `at`: more XRT in the pair, synced.
    XToken::new(token.token, &l1)
        .transfer(pair, units(500))
        .send()
        .await?
        .get_receipt()
        .await?;
    IPairSync::new(pair, &l1)
        .sync()
        .send()
        .await?
        .get_receipt()
        .await?;
    let (reserve_now, _) = uni.reserves(&l1, pair, token.token).await?;
    ensure!(reserve_now == reserve_then + units(500), "the pair synced");

    let balance_slot =
        |holder: Address| xroute_proofs::storage::mapping_slot(holder.into_word(), B256::ZERO);
    let reads = [
        accounts::SlotRead {
            account: pair,
            slot: B256::from(U256::from(PAIR_RESERVES_SLOT)),
        },
        accounts::SlotRead {
            account: token.token,
            slot: balance_slot(pair),
        },
        accounts::SlotRead {
            account: token.token,
            slot: balance_slot(Address::repeat_byte(0x5a)),
        },
    ];
    let replies = [Reply {
        domain: sn.domain,
        recipient: B256::from(sn.app.to_bytes_be()),
    }];
    // Two requests (an answer to Starknet carries at most 15 words on the devnet): the two
    // slots that change after `at`, then the one nobody holds.
    let requests = [(U256::from(77), &reads[..2]), (U256::from(78), &reads[2..])];
    for (tag, slots) in requests {
        let request = accounts::storage_request(tag, &replies, at, slots)?;
        send_request(&env, 1, reader, &request).await?;
    }

    // The router relays them; the reader keeps them as reads 1 and 2, with `at`'s hash pinned.
    let l1_reader = IL1Reader::new(reader, &l1);
    let start = std::time::Instant::now();
    while l1_reader.pendingStorage(U256::from(2)).call().await? == B256::ZERO {
        env.router.check_running()?;
        env.flusher.check().await?;
        ensure!(
            start.elapsed() < DELIVERY,
            "the reader never kept both reads\nrouter log:\n{}",
            env.router.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let block_at = l1
        .get_block_by_number(at.into())
        .await?
        .ok_or_else(|| eyre::eyre!("no block {at}"))?;
    ensure!(
        L1Reader::new(reader, &l1)
            .pinned(U256::from(at))
            .call()
            .await?
            == block_at.header.hash,
        "the reader pinned block {at}'s hash when the request arrived"
    );

    // Which read each request became (the router relays them in either order).
    let mut ids = Vec::new();
    for (tag, _) in &requests {
        let mut id = None;
        for n in 1..=2u64 {
            if xroute::reads::storage_answer(&l1, reader, n)
                .await?
                .read
                .request[1]
                == *tag
            {
                id = Some(n);
            }
        }
        ids.push(id.ok_or_else(|| eyre::eyre!("no kept read has tag {tag}"))?);
    }

    // Forged answers are refused: another block's header, and a proof with one byte changed.
    let answer = xroute::reads::storage_answer(&l1, reader, ids[0]).await?;
    let later = l1
        .get_block_by_number((at + 1).into())
        .await?
        .ok_or_else(|| eyre::eyre!("no block {}", at + 1))?;
    let mut other_header = answer.clone();
    other_header.proofs.header = alloy::rlp::encode(&later.header.inner).into();
    let mut bent_proof = answer.clone();
    // The account proof's leaf (the state trie holds many accounts, so it is not the root).
    let path = &mut bent_proof.proofs.account[0];
    ensure!(
        path.len() >= 2,
        "an account proof of {} node(s)",
        path.len()
    );
    let leaf = path
        .last_mut()
        .ok_or_else(|| eyre::eyre!("an empty account proof"))?;
    let mut bytes = leaf.to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    *leaf = bytes.into();
    for (forged, why) in [
        (other_header, "HeaderMismatch"),
        (bent_proof, "node does not hash to its reference"),
    ] {
        let tx = alloy::rpc::types::TransactionRequest::default()
            .to(reader)
            .input(alloy::primitives::Bytes::from(forged.calldata()).into());
        let err = l1
            .call(tx)
            .await
            .err()
            .ok_or_else(|| eyre::eyre!("the reader took a forged answer ({why})"))?;
        let data = err
            .as_error_resp()
            .and_then(|e| e.as_revert_data())
            .ok_or_else(|| eyre::eyre!("no revert data: {err}"))?;
        let said = if why == "HeaderMismatch" {
            L1Reader::HeaderMismatch::abi_decode(&data).is_ok()
        } else {
            L1Reader::BadProof::abi_decode(&data).is_ok_and(|e| e.why == why)
        };
        ensure!(said, "a forged answer reverted, but not with {why}: {data}");
    }

    // The CLI answers each; what it prints is what each slot held at `at`.
    let config = env.router.config().display().to_string();
    let reader_arg = reader.to_string();
    let answer_storage = |id: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_xroute"))
            .args(["account", "answer-storage", "--config", &config, "--reader"])
            .args([reader_arg.as_str(), "--id", id])
            .output()
    };
    let mut expected = Vec::new();
    for r in &reads {
        expected.push(
            l1.get_storage_at(r.account, U256::from_be_bytes(r.slot.0))
                .block_id(at.into())
                .await?,
        );
    }
    // The slots are what the contracts say at `at`: the packed reserves, the pair's balance, 0.
    let r = IUniswapV2Pair::new(pair, &l1)
        .getReserves()
        .block(at.into())
        .call()
        .await?;
    let packed = U256::from(r.reserve0)
        | (U256::from(r.reserve1) << 112usize)
        | (U256::from(r.blockTimestampLast) << 224usize);
    let xt = XToken::new(token.token, &l1);
    ensure!(
        expected[0] == packed
            && expected[1] == xt.balanceOf(pair).block(at.into()).call().await?
            && expected[2] == U256::ZERO,
        "the slots at {at}: {expected:?}"
    );
    ensure!(
        expected[1] == reserve_then && expected[1] != xt.balanceOf(pair).call().await?,
        "the balance read is the one at {at}, not today's"
    );

    // Each answered in turn; Starknet's app receives block `at` and each value as its word.
    let mut values = expected.iter();
    let mut printed = Vec::new();
    for (n, ((tag, slots), id)) in requests.iter().zip(&ids).enumerate() {
        let out = answer_storage(&id.to_string())?;
        ensure!(
            out.status.success(),
            "answer-storage --id {id} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        printed.extend(String::from_utf8(out.stdout)?.lines().map(str::to_string));
        let words = received_on_starknet(&mut env, reader, n as u64 + 1).await?;
        let got = ReadAnswer::decode(&words)?;
        ensure!(
            got.tag == *tag
                && got.block == at
                && got.domain == sn.domain
                && got.results.len() == slots.len(),
            "{got:?}"
        );
        for (ok, bytes) in &got.results {
            let value = values
                .next()
                .ok_or_else(|| eyre::eyre!("more answers than reads"))?;
            ensure!(
                *ok && bytes.as_slice() == value.to_be_bytes::<32>().as_slice(),
                "answered {bytes:?}, the slot held {value}"
            );
        }
    }
    let wanted: Vec<String> = expected.iter().map(|v| format!("{v:#x}")).collect();
    ensure!(
        printed == wanted,
        "printed {printed:?}, the slots at {at} hold {wanted:?}"
    );
    // Once.
    let again = answer_storage(&ids[0].to_string())?;
    ensure!(
        !again.status.success()
            && String::from_utf8_lossy(&again.stderr).contains("answered already"),
        "a second answer: {}",
        String::from_utf8_lossy(&again.stderr)
    );
    for (tx, what) in answered(&l1, reader)
        .await?
        .into_iter()
        .zip(["2 slots", "1 slot (absent)"])
    {
        let receipt = l1
            .get_transaction_receipt(tx)
            .await?
            .ok_or_else(|| eyre::eyre!("no receipt"))?;
        eprintln!(
            "gas: a storage read of {what} proven and answered to one domain: {}",
            receipt.gas_used
        );
    }
    env.flusher.stop().await?;
    Ok(())
}

/// The Uniswap V2 pair's slot of `reserve0 | reserve1 << 112 | blockTimestampLast << 224`
/// (UniswapV2Pair.sol: after the ERC-20's five slots, `factory`, `token0` and `token1`).
const PAIR_RESERVES_SLOT: u64 = 8;

alloy::sol! {
    #[sol(rpc)]
    interface IPairSync {
        function sync() external;
    }
}

/// Issue 31 on a Starknet-family chain: an L1 app's account on Starknet, behind the Cairo
/// `AccountRouter`. Its first message makes the account at the address computed here (equal to
/// the router's `account_of`) and runs the account's call (the sample app's `total_received`);
/// the router keeps the result, and anyone's `send_result` sends it to the request's reply (the
/// L1 app), which receives the call's return data, equal to the sample app's count. A forged
/// result and a second send are refused. A list whose second call fails is refused whole: the
/// router parks it with the devnet's reason and nothing is kept. Nobody but the router commands
/// the account (`ONLY_ROUTER`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_apps_account_on_starknet_runs_its_calls_and_answers_back() -> Result<()> {
    use xroute_tests::artifacts::{ACCOUNT_ROUTER, INTERCHAIN_ACCOUNT};
    let mut env = Env::start().await?;
    let net = env.net.clone();
    let sn = env.stack.starknets[0];
    let devnet = &net.starknets[0].devnet;
    let class = devnet.declare(0, &INTERCHAIN_ACCOUNT).await?;
    let router = devnet
        .deploy(0, &ACCOUNT_ROUTER, vec![sn.endpoint, class])
        .await?;
    let l1_app = env.stack.l1_app;
    let owner = Felt::from_bytes_be_slice(l1_app.as_slice());
    let account = accounts::starknet_account_address(router, class, L1_DOMAIN, owner);
    let said = devnet
        .call(router, "account_of", vec![Felt::from(L1_DOMAIN), owner])
        .await?;
    ensure!(
        said == vec![account],
        "account_of says {said:?}, computed {account:#x}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xroute"))
        .args(["account", "starknet-address", "--from-domain", "1"])
        .args(["--owner", &format!("{owner:#x}")])
        .args(["--router", &format!("{router:#x}")])
        .args(["--account-class", &format!("{class:#x}")])
        .output()?;
    let printed = Felt::from_hex(String::from_utf8(out.stdout)?.trim())?;
    ensure!(
        printed == account,
        "xroute account starknet-address printed {printed:#x}"
    );

    let word = |f: Felt| U256::from_be_bytes(f.to_bytes_be());
    let selector = |name: &str| -> Result<Felt> {
        Ok(starknet_rust::core::utils::get_selector_from_name(name)?)
    };
    let to_l1_app = U256::from_be_slice(l1_app.as_slice());
    // [1, tag, k, (domain, recipient), outputs, n, (target, selector, m, calldata)]: the sample
    // app's `total_received` called by the account, its return data in the result.
    let request = vec![
        U256::from(1),
        U256::from(21),
        U256::from(1),
        U256::from(L1_DOMAIN),
        to_l1_app,
        U256::from(1),
        U256::from(1),
        word(sn.app),
        word(selector("total_received")?),
        U256::ZERO,
    ];
    let sent = env
        .send_from_l1(sn.domain, XrouteStack::felt_word(router), request, 0)
        .await?;
    env.wait_for(&[sent], "delivered", DELIVERY).await?;
    ensure!(
        devnet
            .call(router, "is_made", vec![Felt::from(L1_DOMAIN), owner])
            .await?
            == vec![Felt::ONE],
        "the account is made"
    );

    // The result kept: [2, tag, srcDomain, owner, ok, failedIndex, j, (len, data)].
    let count = devnet.call(sn.app, "total_received", vec![]).await?;
    let result = [
        Felt::TWO,
        Felt::from(21u8),
        Felt::from(L1_DOMAIN),
        owner,
        Felt::ONE,
        Felt::ZERO,
        Felt::ONE,
        Felt::ONE,
        count[0],
    ];
    let send_result = |result: &[Felt]| {
        let mut calldata = vec![
            Felt::ONE,
            Felt::TWO,
            Felt::from(L1_DOMAIN),
            owner,
            Felt::from(result.len()),
        ];
        calldata.extend_from_slice(result);
        calldata
    };
    let mut forged = result;
    forged[8] += Felt::ONE;
    let err = devnet
        .invoke(1, router, "send_result", send_result(&forged))
        .await
        .err()
        .ok_or_else(|| eyre::eyre!("a forged result was sent"))?;
    ensure!(format!("{err:#}").contains("UNKNOWN_RESULT"), "{err:#}");
    devnet
        .invoke(1, router, "send_result", send_result(&result))
        .await?;
    let again = devnet
        .invoke(1, router, "send_result", send_result(&result))
        .await;
    ensure!(
        again.is_err_and(|e| format!("{e:#}").contains("UNKNOWN_RESULT")),
        "a result is sent once"
    );

    // The L1 app receives it from the router, proven by Starknet's messaging.
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let app = SampleApp::new(l1_app, &l1);
    let from_router = XrouteStack::felt_word(router);
    let start = std::time::Instant::now();
    while app.receivedFrom(sn.domain, from_router).call().await? < U256::from(1) {
        env.router.check_running()?;
        env.flusher.check().await?;
        ensure!(
            start.elapsed() < DELIVERY,
            "no result from the router\nrouter log:\n{}",
            env.router.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let got = app.lastPayload(sn.domain, from_router).call().await?;
    let want: Vec<U256> = result.iter().map(|f| word(*f)).collect();
    ensure!(
        got == want,
        "the L1 app got {got:?}, the result is {want:?}"
    );

    // A list whose second call does not exist: nothing runs, the message is parked.
    let bad = vec![
        U256::from(1),
        U256::from(22),
        U256::from(1),
        U256::from(L1_DOMAIN),
        to_l1_app,
        U256::ZERO,
        U256::from(2),
        word(sn.app),
        word(selector("total_received")?),
        U256::ZERO,
        word(sn.app),
        word(selector("no_such_function")?),
        U256::ZERO,
    ];
    let refused = env
        .send_from_l1(sn.domain, XrouteStack::felt_word(router), bad, 0)
        .await?;
    env.wait_for(&[refused], "parked", DELIVERY).await?;
    let m = env.message(&refused).await?;
    ensure!(
        m["reason"]
            .as_str()
            .is_some_and(|r| r.contains("starknet_estimateMessageFee failed (revert)")),
        "parked with the devnet's reason: {m:#}"
    );
    ensure!(
        devnet.call(router, "kept_result", vec![Felt::TWO]).await? == vec![Felt::ZERO],
        "nothing kept for the refused list"
    );

    // Only the router commands the account.
    let err = devnet
        .invoke(
            1,
            account,
            "execute",
            vec![Felt::THREE, sn.app, selector("total_received")?, Felt::ZERO],
        )
        .await
        .err()
        .ok_or_else(|| eyre::eyre!("someone else commanded the account"))?;
    ensure!(
        format!("{err:#}").contains("ONLY_ROUTER"),
        "refused for another reason: {err:#}"
    );
    env.flusher.stop().await?;
    Ok(())
}
