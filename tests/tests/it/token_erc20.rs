//! The Cairo token (`token_router.cairo`) against Starknet's ERC-20 interface on a real devnet:
//! name, symbol, 18 decimals, snake_case and camelCase views agreeing, `transfer`, `approve` +
//! `transfer_from` spending the allowance, and refusals that change nothing
//! (over the balance, over the allowance, to the zero address, mint by anyone but the ledger's
//! messages through the Endpoint). The L1 `XToken` is OpenZeppelin's ERC-20 and is not retested.

use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use eyre::Result;
use starknet_rust::core::types::Felt;
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::Hub,
    localnet::L1_KIT_ACCOUNT,
    stack::L1_DOMAIN,
    token::{NAME, SYMBOL, TokenStack, u256_felts},
};

fn u256_of(words: &[Felt]) -> U256 {
    let word = |f: &Felt| U256::from_be_bytes(f.to_bytes_be());
    word(&words[0]) + (word(&words[1]) << 128usize)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cairo_token_behaves_as_a_starknet_erc20() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let stack = XrouteStack::deploy(&net).await?;
    let token = TokenStack::deploy(&net, &stack, U256::from(1_000_000u64)).await?;
    let devnet = &net.starknets[0].devnet;
    let (_, router) = token.starknets[0];
    let accounts: Vec<Felt> = devnet
        .predeployed_accounts()
        .iter()
        .map(|a| a.address)
        .collect();
    let (alice, bob, carol) = (accounts[0], accounts[1], accounts[2]);
    let call = |f: &'static str, args: Vec<Felt>| async move { devnet.call(router, f, args).await };
    let short = |s: &str| Felt::from_bytes_be_slice(s.as_bytes());
    assert_eq!(call("name", vec![]).await?, vec![short(NAME)]);
    assert_eq!(call("symbol", vec![]).await?, vec![short(SYMBOL)]);
    assert_eq!(call("decimals", vec![]).await?, vec![Felt::from(18u8)]);
    assert_eq!(u256_of(&call("total_supply", vec![]).await?), U256::ZERO);

    // Alice receives 1000 units from L1 through the ledger (the only way tokens are minted). No
    // router runs: the test relays the MINT message the Hub recorded in `outbound`.
    let tx = token
        .transfer(
            &net,
            L1_DOMAIN,
            L1_KIT_ACCOUNT,
            stack.starknets[0].domain,
            B256::from(alice.to_bytes_be()),
            U256::from(1000u64),
        )
        .await?;
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let receipt = l1
        .get_transaction_receipt(tx)
        .await?
        .ok_or_else(|| eyre::eyre!("no receipt"))?;
    let sent = receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| l.log_decode::<Hub::MessageSent>().ok())
        .ok_or_else(|| eyre::eyre!("no MessageSent"))?
        .inner
        .data;
    let relayed = Hub::new(stack.hub, &l1)
        .relayFromL1(sent.words, Default::default())
        .value(U256::from(1_000_000_000_000u64))
        .send()
        .await?
        .get_receipt()
        .await?;
    eyre::ensure!(relayed.status(), "relayFromL1 reverted");
    net.flush(0).await?;
    assert_eq!(
        u256_of(&call("balance_of", vec![alice]).await?),
        U256::from(1000u64)
    );
    assert_eq!(
        call("totalSupply", vec![]).await?,
        call("total_supply", vec![]).await?
    );
    assert_eq!(
        call("balanceOf", vec![alice]).await?,
        call("balance_of", vec![alice]).await?
    );

    // transfer.
    let [low, high] = u256_felts(U256::from(300u64));
    devnet
        .invoke(0, router, "transfer", vec![bob, low, high])
        .await?;
    assert_eq!(
        u256_of(&call("balance_of", vec![alice]).await?),
        U256::from(700u64)
    );
    assert_eq!(
        u256_of(&call("balance_of", vec![bob]).await?),
        U256::from(300u64)
    );
    // Over the balance: refused, nothing moves.
    let [low, high] = u256_felts(U256::from(301u64));
    let err = devnet
        .invoke(1, router, "transfer", vec![carol, low, high])
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("INSUFFICIENT_BALANCE"),
        "{err:#}"
    );
    assert_eq!(
        u256_of(&call("balance_of", vec![bob]).await?),
        U256::from(300u64)
    );
    // To the zero address: refused.
    let [low, high] = u256_felts(U256::from(1u64));
    let err = devnet
        .invoke(0, router, "transfer", vec![Felt::ZERO, low, high])
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("TRANSFER_TO_ZERO"), "{err:#}");

    // approve + transfer_from (and transferFrom) spend the allowance.
    let [low, high] = u256_felts(U256::from(200u64));
    devnet
        .invoke(0, router, "approve", vec![carol, low, high])
        .await?;
    assert_eq!(
        u256_of(&call("allowance", vec![alice, carol]).await?),
        U256::from(200u64)
    );
    let [low, high] = u256_felts(U256::from(150u64));
    devnet
        .invoke(2, router, "transfer_from", vec![alice, carol, low, high])
        .await?;
    assert_eq!(
        u256_of(&call("allowance", vec![alice, carol]).await?),
        U256::from(50u64)
    );
    let [low, high] = u256_felts(U256::from(51u64));
    let err = devnet
        .invoke(2, router, "transferFrom", vec![alice, carol, low, high])
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("INSUFFICIENT_ALLOWANCE"),
        "{err:#}"
    );
    let [low, high] = u256_felts(U256::from(50u64));
    devnet
        .invoke(2, router, "transferFrom", vec![alice, carol, low, high])
        .await?;
    assert_eq!(
        u256_of(&call("balance_of", vec![alice]).await?),
        U256::from(500u64)
    );
    assert_eq!(
        u256_of(&call("balance_of", vec![carol]).await?),
        U256::from(200u64)
    );
    assert_eq!(
        u256_of(&call("total_supply", vec![]).await?),
        U256::from(1000u64)
    );

    // Nobody but the Endpoint delivers a mint: a direct on_message call is refused.
    let err = devnet
        .invoke(
            0,
            router,
            "on_message",
            vec![
                Felt::from(L1_DOMAIN),
                Felt::from_bytes_be_slice(token.ledger.as_slice()),
                Felt::from(6u8),
                Felt::ONE,
                alice,
                Felt::from(1_000_000u64),
                Felt::ONE,
                Felt::ZERO,
                Felt::ZERO,
            ],
        )
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("ONLY_ENDPOINT"), "{err:#}");
    assert_eq!(
        u256_of(&call("total_supply", vec![]).await?),
        U256::from(1000u64)
    );
    // Nor does anyone but the owner set the ledger.
    let err = devnet
        .invoke(1, router, "set_ledger", vec![Felt::ONE])
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("ONLY_OWNER"), "{err:#}");
    Ok(())
}
