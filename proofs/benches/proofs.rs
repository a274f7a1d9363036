//! Benchmarks of every hash, signature and proof the routers compute:
//! `cargo bench -p xroute-proofs`. Figures are recorded in docs/benchmarks.md.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use xroute_proofs::{
    arbitrum::{L2ToL1Send, RetryableTicket, outbox_root_from_proof},
    attestation::{AttestedStage, Batch, Claim, RouterSet, Signed, domain},
    envelope::{Envelope, MessageId},
    merkle,
    piltover::{appchain_to_sn_message_hash, sn_to_appchain_message_hash},
    starknet::{Felt, SN_MAIN, l1_handler_tx_hash, l1_to_l2_message_hash, l2_to_l1_message_hash},
};

fn felts(n: usize) -> Vec<Felt> {
    (0..n as u64).map(|i| Felt::from(i * 7919 + 1)).collect()
}

fn hashes(c: &mut Criterion) {
    let payload = felts(8);
    let from_l1 = Address::repeat_byte(0x11);
    let to = Felt::from_hex_unchecked(
        "0x73314940630fd6dcda0d772d4c972c4e0a9946bef9dabf4ef84eda8ef542b82",
    );
    let sel = Felt::from_hex_unchecked(
        "0x2d757788a8d8d6f21d1cd40bce38a8222d70654214e96ff95d8086e684fbee5",
    );
    let mut g = c.benchmark_group("hash");
    g.bench_function("starknet_l1_to_l2 (8 felts)", |b| {
        b.iter(|| {
            l1_to_l2_message_hash(
                black_box(from_l1),
                to,
                sel,
                U256::from(7),
                black_box(&payload),
            )
        })
    });
    g.bench_function("starknet_l2_to_l1 (8 felts)", |b| {
        b.iter(|| l2_to_l1_message_hash(black_box(to), from_l1, black_box(&payload)))
    });
    g.bench_function("l1_handler_tx (8 felts, pedersen)", |b| {
        b.iter(|| {
            l1_handler_tx_hash(
                black_box(from_l1),
                to,
                sel,
                Felt::from(7u8),
                black_box(&payload),
                SN_MAIN,
            )
        })
    });
    g.bench_function("piltover sn_to_appchain (8 felts, poseidon)", |b| {
        b.iter(|| {
            sn_to_appchain_message_hash(black_box(to), to, Felt::ONE, sel, black_box(&payload))
        })
    });
    g.bench_function("piltover appchain_to_sn (8 felts, poseidon)", |b| {
        b.iter(|| appchain_to_sn_message_hash(black_box(to), to, black_box(&payload)))
    });
    let ticket = RetryableTicket {
        chain_id: 42161,
        message_number: U256::from(20556),
        from: Address::repeat_byte(0x22),
        l1_base_fee: U256::from(25_000_000_000u64),
        deposit: U256::from(10u64.pow(17)),
        max_fee_per_gas: U256::from(300_000_000u64),
        gas_limit: 120_166,
        to: Address::repeat_byte(0x33),
        l2_call_value: U256::from(10u64.pow(16)),
        call_value_refund_address: Address::repeat_byte(0x44),
        max_submission_cost: U256::from(10u64.pow(14)),
        excess_fee_refund_address: Address::repeat_byte(0x44),
        data: Bytes::from(vec![0xab; 260]),
    };
    g.bench_function("arbitrum retryable id (260 B data)", |b| {
        b.iter(|| black_box(&ticket).id())
    });
    let send = L2ToL1Send {
        caller: Address::repeat_byte(1),
        destination: Address::repeat_byte(2),
        arb_block_num: U256::from(1),
        eth_block_num: U256::from(2),
        timestamp: U256::from(3),
        value: U256::ZERO,
        data: Bytes::from(vec![0xcd; 260]),
    };
    g.bench_function("arbitrum send hash (260 B data)", |b| {
        b.iter(|| black_box(&send).hash())
    });
    let proof: Vec<B256> = (0u8..20).map(|i| keccak256([i])).collect();
    g.bench_function("arbitrum outbox root from proof (depth 20)", |b| {
        b.iter(|| {
            outbox_root_from_proof(black_box(B256::repeat_byte(5)), 123_456, black_box(&proof))
                .unwrap()
        })
    });
    let envelope = Envelope {
        src_domain: 2,
        nonce: 99,
        sender: B256::repeat_byte(3),
        dst_domain: 1,
        recipient: B256::repeat_byte(4),
        payload: (0u8..8).map(B256::with_last_byte).collect(),
    };
    g.bench_function("envelope id (8-word payload)", |b| {
        b.iter(|| black_box(&envelope).id())
    });
    g.finish();
}

fn claim(i: u64) -> Claim {
    Claim {
        message_id: MessageId(keccak256(i.to_be_bytes())),
        stage: AttestedStage::Proven,
        domain: 2,
        block_number: 1000 + i,
        block_hash: B256::repeat_byte(9),
    }
}

fn signatures(c: &mut Criterion) {
    let d = domain(1, Address::repeat_byte(0x99));
    let key = PrivateKeySigner::from_bytes(&B256::with_last_byte(1)).unwrap();
    let signed = Signed::<Claim>::sign(&key, &d, claim(1)).unwrap();
    let mut g = c.benchmark_group("attestation");
    g.bench_function("sign (EIP-712, secp256k1)", |b| {
        b.iter(|| Signed::<Claim>::sign(&key, &d, black_box(claim(1))).unwrap())
    });
    g.bench_function("verify (recover signer)", |b| {
        b.iter(|| black_box(&signed).signer(&d).unwrap())
    });
    for n in [5usize, 7, 20] {
        let keys: Vec<PrivateKeySigner> = (1..=n)
            .map(|i| PrivateKeySigner::from_bytes(&B256::with_last_byte(i as u8)).unwrap())
            .collect();
        let threshold = n * 2 / 3 + 1;
        let set = RouterSet::new(keys.iter().map(|k| k.address()).collect(), threshold).unwrap();
        let atts: Vec<_> = keys
            .iter()
            .map(|k| Signed::<Claim>::sign(k, &d, claim(1)).unwrap())
            .collect();
        let signatures: Vec<_> = atts.iter().map(|a| a.signature).collect();
        let digest = claim(1).signing_hash(&d);
        g.bench_with_input(
            BenchmarkId::new("quorum check, all n signed", n),
            &signatures,
            |b, signatures| b.iter(|| set.check_quorum(digest, signatures).unwrap()),
        );
    }
    g.finish();
}

fn batches(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    g.sample_size(20);
    for n in [1_000usize, 10_000] {
        let items: Vec<(MessageId, AttestedStage)> = (0..n as u64)
            .map(|i| (claim(i).message_id, AttestedStage::Proven))
            .collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("root + all proofs", n),
            &items,
            |b, items| b.iter(|| Batch::new(black_box(items.clone()), 2, 1, B256::ZERO).unwrap()),
        );
        let leaves: Vec<B256> = items.iter().map(|(m, _)| m.0).collect();
        g.bench_with_input(BenchmarkId::new("root only", n), &leaves, |b, leaves| {
            b.iter(|| merkle::root(black_box(leaves)))
        });
    }
    g.finish();
}

criterion_group!(benches, hashes, signatures, batches);
criterion_main!(benches);
