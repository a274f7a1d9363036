//! Interchain accounts in the kit (issue 31): the requests the tests and the demo send, and the
//! Starknet side of sending them.

use alloy::{
    primitives::{Address, U256},
    sol_types::SolCall,
};
use eyre::Result;
use starknet_rust::core::types::Felt;
use xroute_proofs::accounts::Call;

use crate::{
    LocalNet,
    token::{TokenStack, u256_felts},
    uniswap::{IERC20Approve, IUniswapV2Router02, Uniswap},
};

/// The output a [`swap_calls`] request asks for: the last call's (the account's WETH balance).
pub const BALANCE: [usize; 1] = [2];

/// A word as a felt (every request word is below 2^251).
pub fn felt(w: U256) -> Felt {
    Felt::from_bytes_be(&w.to_be_bytes::<32>())
}

/// The swap calls: approve Router02 for `amount` of `xrt`, swap it for WETH (at least `min_out`)
/// to `account`, then read the account's WETH balance (call 2: [`BALANCE`]).
pub fn swap_calls(
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

/// Account `account` (a predeployed account index) of Starknet sends `request` to `router` on
/// `dst` through the token: a transfer-and-call of `amount`.
pub async fn transfer_and_call(
    net: &LocalNet,
    token: &TokenStack,
    account: usize,
    dst: u32,
    router: Address,
    amount: U256,
    request: &[U256],
) -> Result<()> {
    let [low, high] = u256_felts(amount);
    let mut calldata = vec![
        Felt::from(dst),
        Felt::from_bytes_be_slice(router.as_slice()),
        low,
        high,
        Felt::from(request.len()),
    ];
    calldata.extend(request.iter().map(|w| felt(*w)));
    net.starknets[0]
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

/// How many messages Starknet's sample app `app` received from `sender` on `domain`, and the last
/// one's payload words.
pub async fn received_on_starknet(
    net: &LocalNet,
    app: Felt,
    domain: u32,
    sender: Address,
) -> Result<(u64, Vec<U256>)> {
    let word = |f: &Felt| U256::from_be_bytes(f.to_bytes_be());
    let from = vec![
        Felt::from(domain),
        Felt::from_bytes_be_slice(sender.as_slice()),
    ];
    let devnet = &net.starknets[0].devnet;
    let n = devnet.call(app, "received_from", from.clone()).await?;
    let count = u64::try_from(word(&n[0]))?;
    let out = devnet.call(app, "last_payload", from).await?;
    Ok((count, out.iter().skip(1).map(word).collect()))
}
