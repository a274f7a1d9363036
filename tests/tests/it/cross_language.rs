//! Rust, Solidity (on a real anvil) and Cairo (on a real devnet) compute the same envelope ids and
//! encodings, and Cairo's Poseidon agrees with the Rust Piltover hashes.

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloy::primitives::{B256, U256, keccak256};
use eyre::Result;
use starknet_rust::core::types::Felt;
use xroute_proofs::{
    envelope::Envelope as RustEnvelope,
    piltover::{appchain_to_sn_message_hash, sn_to_appchain_message_hash},
};
use xroute_tests::{
    LocalNet,
    artifacts::{
        HASH_PROBE,
        evm::{Envelope, EnvelopeCodec},
    },
};

/// A deterministic word below 2^251 (so it is also a felt).
fn felt_word(seed: u64) -> B256 {
    let mut w = keccak256(seed.to_be_bytes());
    w.0[0] &= 0x07;
    w
}

fn envelopes() -> Vec<RustEnvelope> {
    (0u64..12)
        .map(|i| RustEnvelope {
            src_domain: (i as u32) * 7 + 1,
            nonce: if i == 11 { u64::MAX } else { i * 1_000_003 },
            sender: if i % 2 == 0 {
                B256::left_padding_from(&felt_word(i).0[12..])
            } else {
                felt_word(i)
            },
            dst_domain: u32::MAX - i as u32,
            recipient: felt_word(100 + i),
            payload: (0..i * 3).map(|j| felt_word(1000 * i + j)).collect(),
        })
        .collect()
}

fn u256_words(e: &RustEnvelope) -> Vec<U256> {
    e.to_words()
        .iter()
        .map(|w| U256::from_be_bytes(w.0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_ids_agree_in_rust_solidity_and_cairo() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let l1 = net.l1.provider(0)?;
    let codec = EnvelopeCodec::deploy(&l1).await?;
    let devnet = &net.starknet().devnet;
    let probe = devnet.deploy(0, &HASH_PROBE, vec![]).await?;

    for e in envelopes() {
        let id = e.id().0;
        let words = u256_words(&e);
        // Solidity: the id of the words, and the words of the fields.
        assert_eq!(
            codec.id(words.clone()).call().await?,
            id,
            "Solidity id, nonce {}",
            e.nonce
        );
        let header = Envelope::Header {
            srcDomain: e.src_domain,
            nonce: e.nonce,
            sender: e.sender,
            dstDomain: e.dst_domain,
            recipient: e.recipient,
        };
        let payload: Vec<U256> = e.payload.iter().map(|w| U256::from_be_bytes(w.0)).collect();
        assert_eq!(
            codec.encode(header, payload.clone()).call().await?,
            words,
            "Solidity encoding"
        );
        let decoded = codec.decode(words.clone()).call().await?;
        assert_eq!(
            (decoded.h.srcDomain, decoded.h.nonce, decoded.h.dstDomain),
            (e.src_domain, e.nonce, e.dst_domain)
        );
        assert_eq!(decoded.payload, payload);

        // Cairo: the id of the felts ([low, high] of a u256).
        let felts = e.to_felts()?;
        let mut calldata = vec![Felt::from(felts.len())];
        calldata.extend(felts);
        let out = devnet.call(probe, "envelope_id", calldata).await?;
        assert_eq!(out.len(), 2);
        let (low, high) = (out[0].to_bytes_be(), out[1].to_bytes_be());
        let mut cairo_id = [0u8; 32];
        cairo_id[..16].copy_from_slice(&high[16..]);
        cairo_id[16..].copy_from_slice(&low[16..]);
        assert_eq!(B256::from(cairo_id), id, "Cairo id, nonce {}", e.nonce);
    }

    // Solidity rejects what Rust rejects.
    let mut bad = u256_words(&envelopes()[3]);
    bad.pop();
    assert!(
        codec.decode(bad).call().await.is_err(),
        "a truncated payload is refused"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piltover_hashes_agree_with_cairo_poseidon() -> Result<()> {
    let net = LocalNet::start(1).await?;
    let devnet = &net.starknet().devnet;
    let probe = devnet.deploy(0, &HASH_PROBE, vec![]).await?;
    for n in [0usize, 1, 2, 3, 7] {
        let felt = |seed: u64| Felt::from_bytes_be(&felt_word(seed).0);
        let (from, to, nonce, selector) = (felt(1), felt(2), Felt::from(n as u64 + 5), felt(3));
        let payload: Vec<Felt> = (0..n as u64).map(|i| felt(10 + i)).collect();
        let mut args = vec![from, to, nonce, selector, Felt::from(n)];
        args.extend(payload.iter().copied());
        let cairo = devnet.call(probe, "sn_to_appchain_hash", args).await?;
        assert_eq!(
            cairo,
            vec![sn_to_appchain_message_hash(
                from, to, nonce, selector, &payload
            )]
        );
        let mut args = vec![from, to, Felt::from(n)];
        args.extend(payload.iter().copied());
        let cairo = devnet.call(probe, "appchain_to_sn_hash", args).await?;
        assert_eq!(cairo, vec![appchain_to_sn_message_hash(from, to, &payload)]);
    }
    Ok(())
}
