//! A store the previous release wrote opens in this one: `node/tests/fixtures/store-3601be5` was
//! written by xroute at 3601be5 (chains keyed by config name) with
//! `node/tests/fixtures/write_v1_store.rs`, run in a checkout of that commit. What the writer put
//! there is restated below; the test converts a copy with the config's chains and finds every
//! cursor, every relay transaction, the relay batch and each stage's count, now by domain.

use std::path::Path;

use alloy_primitives::B256;
use xroute::{
    model::Stage,
    store::{Store, StoreError},
};
use xroute_proofs::envelope::Envelope;

/// The writer's chains: config name and domain.
const CHAINS: [(&str, u32); 4] = [
    ("ethereum", 1),
    ("starknet", 2),
    ("appchain", 3),
    ("arbitrum", 10),
];

/// The writer's cursors: (domain, block); each block's hash is the block number's byte repeated.
const CURSORS: [(u32, u64); 4] = [(1, 120), (2, 45), (3, 7), (10, 88)];

/// The id of the writer's message `nonce` from `src` to `dst`.
fn id(src: u32, dst: u32, nonce: u64) -> xroute_proofs::envelope::MessageId {
    Envelope {
        src_domain: src,
        nonce,
        sender: B256::with_last_byte(0x51),
        dst_domain: dst,
        recipient: B256::with_last_byte(0x52),
        payload: vec![B256::with_last_byte(nonce as u8)],
    }
    .id()
}

fn copy_fixture(to: &Path) -> std::io::Result<()> {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-3601be5");
    std::fs::create_dir_all(to)?;
    for file in ["conf", "db"] {
        std::fs::copy(from.join(file), to.join(file))?;
    }
    Ok(())
}

#[test]
fn a_store_of_the_previous_release_is_converted_and_keeps_every_cursor_and_relay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    copy_fixture(&path).unwrap();

    // Opened without the chains' names, it is refused, unchanged.
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NeedsMigration { .. }), "{err}");
    // A config without one of its chains: the error names it, and nothing is converted.
    let partial: Vec<(&str, u32)> = CHAINS
        .iter()
        .copied()
        .filter(|(n, _)| *n != "appchain")
        .collect();
    let err = Store::open_migrating(&path, &partial)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`appchain`"), "{err}");
    assert!(err.contains("Nothing was changed"), "{err}");
    assert!(matches!(
        Store::open(&path).unwrap_err(),
        StoreError::NeedsMigration { .. }
    ));

    // With every chain: converted.
    let store = Store::open_migrating(&path, &CHAINS).unwrap();
    assert_eq!(store.schema().unwrap(), 3);
    for (domain, block) in CURSORS {
        let cursor = store.cursor(domain).unwrap().unwrap_or_else(|| {
            panic!("no cursor for domain {domain}");
        });
        assert_eq!(cursor.block_number, block, "domain {domain}");
        assert_eq!(cursor.block_hash, B256::repeat_byte(block as u8));
    }
    let checkpoints = store.checkpoint_cursor(2).unwrap().unwrap();
    assert_eq!(checkpoints.block_number, 110);

    // Message 1: Starknet → L1, delivered by one relay on L1.
    let r1 = store.get(&id(2, 1, 1)).unwrap().unwrap();
    assert_eq!(r1.stage, Stage::Delivered);
    assert_eq!(r1.source.domain, 2);
    assert_eq!(r1.source.block_number, 101);
    let relays: Vec<(u32, B256)> = r1.relays.iter().map(|a| (a.domain, a.tx_hash)).collect();
    assert_eq!(relays, [(1, B256::repeat_byte(0xa1))]);
    assert_eq!(r1.history.len(), 4);
    // Message 2: L1 → Arbitrum, relayed on L1 and a follow-up on Arbitrum.
    let r2 = store.get(&id(1, 10, 2)).unwrap().unwrap();
    assert_eq!(r2.stage, Stage::Relayed);
    assert_eq!(r2.source.domain, 1);
    let relays: Vec<(u32, B256)> = r2.relays.iter().map(|a| (a.domain, a.tx_hash)).collect();
    assert_eq!(
        relays,
        [(1, B256::repeat_byte(0xa2)), (10, B256::repeat_byte(0xb2))]
    );
    // Messages 3 and 4: in flight in one relay batch on L1, replaced once.
    let key = B256::repeat_byte(0xba);
    for (src, dst, nonce) in [(3, 2, 3), (10, 1, 4)] {
        let r = store.get(&id(src, dst, nonce)).unwrap().unwrap();
        assert_eq!(r.stage, Stage::Relaying);
        assert_eq!(r.source.domain, src);
        assert_eq!(r.relays.len(), 1);
        assert_eq!((r.relays[0].domain, r.relays[0].batch), (1, Some(key)));
    }
    let batch = store.relay_batch(&key).unwrap().unwrap();
    assert_eq!(batch.members, [id(3, 2, 3), id(10, 1, 4)]);
    let attempts: Vec<(u32, B256)> = batch
        .attempts
        .iter()
        .map(|a| (a.domain, a.tx_hash))
        .collect();
    assert_eq!(
        attempts,
        [(1, B256::repeat_byte(0xba)), (1, B256::repeat_byte(0xbb))]
    );
    // Message 5 parked with its reason; message 6 just seen.
    let r5 = store.get(&id(2, 1, 5)).unwrap().unwrap();
    assert_eq!(r5.stage, Stage::Parked);
    assert_eq!(
        r5.reason.as_deref(),
        Some("recipient is not a contract on L1")
    );
    assert_eq!(store.get(&id(10, 1, 6)).unwrap().unwrap().source.domain, 10);
    for (stage, n) in [
        (Stage::Sent, 1),
        (Stage::Relaying, 2),
        (Stage::Relayed, 1),
        (Stage::Delivered, 1),
        (Stage::Parked, 1),
    ] {
        assert_eq!(store.count_in(stage), n, "{stage:?}");
        assert_eq!(store.ids_in(stage, 10).unwrap().len(), n, "{stage:?}");
    }
    drop(store);

    // Converted once: it opens without names now, and renaming a chain in the config changes
    // nothing stored (its cursor is its domain's).
    let store = Store::open(&path).unwrap();
    assert_eq!(store.cursor(2).unwrap().unwrap().block_number, 45);
    drop(store);
    let renamed = [
        ("ethereum", 1),
        ("starknet-mainnet", 2),
        ("appchain", 3),
        ("arbitrum", 10),
    ];
    let store = Store::open_migrating(&path, &renamed).unwrap();
    assert_eq!(store.cursor(2).unwrap().unwrap().block_number, 45);
}
