//! "Proven" means proven: an L2 → L1 message is read from the L1 messaging contract through an
//! `eth_getProof` storage proof checked against a block's state root, on a real anvil with a real
//! devnet flushing real state updates. Also pins which storage layout devnet's messaging mock uses.

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    providers::Provider,
};
use eyre::Result;
use serde_json::json;
use starknet_rust::core::{types::Felt, utils::get_selector_from_name};
use xroute_proofs::{
    Error,
    starknet::{felt_to_u256, l1_to_l2_message_hash, l2_to_l1_message_hash},
    storage::{AccountProof, MessagingLayout},
};
use xroute_tests::{
    LocalNet,
    artifacts::{
        MESSAGING_PROBE,
        evm::{IStarknetMessaging, MessagingProbe},
    },
    localnet::L1_KIT_ACCOUNT,
    rpc,
};

async fn get_proof(url: &str, address: Address, slot: B256, block: u64) -> Result<AccountProof> {
    let answer = rpc::call(
        &reqwest::Client::new(),
        url,
        "eth_getProof",
        json!([address, [slot], format!("{block:#x}")]),
    )
    .await?;
    Ok(serde_json::from_value(answer)?)
}

async fn state_root(net: &LocalNet, block: u64) -> Result<B256> {
    let block = net
        .l1
        .provider(0)?
        .get_block_by_number(BlockNumberOrTag::Number(block))
        .await?
        .ok_or_else(|| eyre::eyre!("no block {block}"))?;
    Ok(block.header.state_root)
}

fn flip(bytes: &mut alloy::primitives::Bytes, at: usize) {
    let mut v = bytes.to_vec();
    let at = at % v.len();
    v[at] ^= 0x01;
    *bytes = v.into();
}

/// devnet 0.10.1's `MockStarknetMessaging` keeps `l1ToL2Messages` under the V2 tag (the layout
/// Starknet mainnet's core contract uses), and `l2ToL1Messages` under the one tag every version
/// shares. The router's messaging layout is configuration; this pins the local network's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_messaging_mock_uses_the_current_layout() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let sn = net.starknet();
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let probe = MessagingProbe::deploy(&l1, sn.messaging).await?;
    let messaging = IStarknetMessaging::new(sn.messaging, &l1);
    let to = Felt::from_hex("0x1234")?;
    let selector = get_selector_from_name("receive_from_l1")?;
    let nonce = messaging.l1ToL2MessageNonce().call().await?;
    let fee = U256::from(12_345u64);
    probe
        .sendToL2(
            felt_to_u256(to),
            felt_to_u256(selector),
            vec![U256::from(5)],
        )
        .value(fee)
        .send()
        .await?
        .get_receipt()
        .await?;
    let h = l1_to_l2_message_hash(*probe.address(), to, selector, nonce, &[Felt::from(5u8)]);
    assert_eq!(
        messaging.l1ToL2Messages(h).call().await?,
        fee + U256::from(1)
    );

    let current = MessagingLayout::current().l1_to_l2_slot(h);
    let v1 = MessagingLayout::v1().l1_to_l2_slot(h);
    assert_eq!(
        l1.get_storage_at(sn.messaging, current.into()).await?,
        fee + U256::from(1)
    );
    assert_eq!(
        l1.get_storage_at(sn.messaging, v1.into()).await?,
        U256::ZERO
    );

    // And the value is provable at the latest block.
    let block = l1.get_block_number().await?;
    let proof = get_proof(net.l1.endpoint(), sn.messaging, current, block).await?;
    let proven = proof.verify_slot_of(sn.messaging, state_root(&net, block).await?, current)?;
    assert_eq!(proven, fee + U256::from(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l2_to_l1_message_is_proven_by_a_storage_proof() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let sn = net.starknet();
    let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
    let l2_probe = sn.devnet.deploy(0, &MESSAGING_PROBE, vec![]).await?;
    let l1_probe = MessagingProbe::deploy(&l1, sn.messaging).await?;
    let messaging = IStarknetMessaging::new(sn.messaging, &l1);

    let payload = [Felt::from(42u8), Felt::from_hex("0xfeed")?];
    let to = Felt::from_bytes_be_slice(l1_probe.address().as_slice());
    sn.devnet
        .invoke(
            0,
            l2_probe,
            "send_to_l1",
            vec![to, Felt::from(payload.len()), payload[0], payload[1]],
        )
        .await?;
    let before_flush = l1.get_block_number().await?;
    net.flush(0).await?;
    let block = l1.get_block_number().await?;

    let h = l2_to_l1_message_hash(l2_probe, *l1_probe.address(), &payload);
    let slot = MessagingLayout::current().l2_to_l1_slot(h);
    let root = state_root(&net, block).await?;
    let proof = get_proof(net.l1.endpoint(), sn.messaging, slot, block).await?;
    let proven = proof.verify_slot_of(sn.messaging, root, slot)?;
    assert_eq!(
        proven,
        U256::from(1),
        "the storage proof shows the message consumable"
    );
    assert_eq!(
        proven,
        messaging.l2ToL1Messages(h).call().await?,
        "and agrees with the view call"
    );

    // Flipping any byte of any node breaks the proof with a typed error.
    for i in 0..proof.account_proof.len() {
        let mut bad = proof.clone();
        flip(&mut bad.account_proof[i], 7 * i + 3);
        assert!(
            matches!(
                bad.verify_slot(root, slot),
                Err(Error::TrieProof {
                    what: "account proof",
                    ..
                })
            ),
            "account node {i}"
        );
    }
    for i in 0..proof.storage_proof[0].proof.len() {
        let mut bad = proof.clone();
        flip(&mut bad.storage_proof[0].proof[i], 5 * i + 1);
        assert!(
            matches!(
                bad.verify_slot(root, slot),
                Err(Error::TrieProof {
                    what: "storage proof",
                    ..
                })
            ),
            "storage node {i}"
        );
    }
    // A wrong claimed value fails too, and so does another block's root.
    let mut bad = proof.clone();
    bad.storage_proof[0].value = U256::ZERO;
    assert!(
        matches!(bad.verify_slot(root, slot), Err(Error::TrieProof { .. })),
        "claiming zero for a set slot fails"
    );
    let mut bad = proof.clone();
    bad.storage_proof[0].value = U256::from(2);
    assert!(matches!(
        bad.verify_slot(root, slot),
        Err(Error::TrieProof { .. })
    ));
    let old_root = state_root(&net, before_flush).await?;
    assert!(matches!(
        proof.verify_slot(old_root, slot),
        Err(Error::TrieProof { .. })
    ));
    // Before the flush the slot was provably empty.
    let old = get_proof(net.l1.endpoint(), sn.messaging, slot, before_flush).await?;
    assert_eq!(old.verify_slot(old_root, slot)?, U256::ZERO);
    // A proof about another account is refused.
    assert!(matches!(
        proof.verify_slot_of(*l1_probe.address(), root, slot),
        Err(Error::ProofMismatch(_))
    ));
    Ok(())
}
