//! Issue 31's DEX: the real Uniswap V2 (factory, pair, Router02, WETH9 from Uniswap's npm
//! packages) on the L1 anvil, with a pair of the canonical token (XRT, deployed as `xroute
//! deploy` does) against WETH. A swap through Router02 pays out what Uniswap's own `getAmountOut`
//! says for the pair's reserves, and the reserves move by what went in and out.

use alloy::primitives::{Address, U256};
use eyre::{Result, ensure};
use xroute_tests::{
    LocalNet, XrouteStack,
    localnet::L1_KIT_ACCOUNT,
    token::TokenStack,
    uniswap::{IERC20Approve, Uniswap},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_on_the_real_uniswap_v2_pays_what_get_amount_out_says() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let unit = U256::from(10u64).pow(U256::from(18u64));
    let token = TokenStack::deploy(&net, &stack, U256::from(1_000_000u64) * unit).await?;
    let uniswap = Uniswap::deploy(&net.l1, L1_KIT_ACCOUNT).await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let router = uniswap.router(&l1);
    ensure!(
        router.WETH().call().await? == uniswap.weth,
        "Router02's WETH"
    );
    ensure!(
        router.factory().call().await? == uniswap.factory,
        "Router02's factory"
    );

    let (in_pool, eth) = (U256::from(10_000u64) * unit, U256::from(5u64) * unit);
    let pair = uniswap
        .add_liquidity_eth(&net.l1, L1_KIT_ACCOUNT, token.token, in_pool, eth)
        .await?;
    ensure!(pair != Address::ZERO, "a pair of XRT and WETH");
    let (r_in, r_out) = uniswap.reserves(&l1, pair, token.token).await?;
    ensure!(r_in == in_pool && r_out == eth, "reserves {r_in}, {r_out}");

    let amount_in = U256::from(25u64) * unit;
    let expected = router.getAmountOut(amount_in, r_in, r_out).call().await?;
    let me = net.l1.address(L1_KIT_ACCOUNT)?;
    let weth = IERC20Approve::new(uniswap.weth, &l1);
    let before = weth.balanceOf(me).call().await?;
    let approved = IERC20Approve::new(token.token, &l1)
        .approve(uniswap.router, amount_in)
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(approved.status());
    let swapped = router
        .swapExactTokensForTokens(
            amount_in,
            expected,
            vec![token.token, uniswap.weth],
            me,
            U256::from(u64::MAX),
        )
        .send()
        .await?
        .get_receipt()
        .await?;
    ensure!(swapped.status(), "the swap reverted");
    let got = weth.balanceOf(me).call().await? - before;
    ensure!(
        got == expected,
        "got {got} WETH, getAmountOut said {expected}"
    );
    let (after_in, after_out) = uniswap.reserves(&l1, pair, token.token).await?;
    ensure!(
        after_in == r_in + amount_in && after_out == r_out - expected,
        "reserves moved to {after_in}, {after_out}"
    );
    Ok(())
}
