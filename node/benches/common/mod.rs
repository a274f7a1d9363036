//! What the single-router benches share: the coordinator that certifies what is proven, the
//! records they store, and the pipeline over scripted chains.

use std::{collections::BTreeMap, sync::Arc};

use alloy_primitives::{B256, Bytes, U256};
use xroute::{
    model::{MessageRecord, SourceRef},
    pipeline::{Chains, Coordinator, Gate, Turn},
    router::Router,
    store::{Store, StoreError},
};
use xroute_adapters::{
    BlockRef, Call, ChainAdapter, Exit,
    testing::{FAKE_HUB, FakeChain},
};
use xroute_config::RelayConfig;
use xroute_proofs::envelope::{Envelope, MessageId};

/// One router over `store`: scripted chains (L1 domain 1, Starknet domain 2) where the exit of
/// every message in `ready` is proven, no batching, [`CertifyAll`] as its coordinator, no API.
#[allow(dead_code)] // each bench uses one of the two
pub(crate) async fn certifying_router(
    store: Store,
    ready: impl IntoIterator<Item = MessageId>,
) -> Router {
    let hub = FakeChain::hub("ethereum", 1);
    let rollup = FakeChain::rollup("starknet", 2);
    for id in ready {
        rollup.set_exit(
            id,
            Exit::Ready {
                proof: "l2ToL1Messages[h] = 1 at L1 block 10 (storage proof)".into(),
                call: Call::evm(FAKE_HUB, Bytes::from(id.0.to_vec()), U256::ZERO),
                prepaid: U256::ZERO,
            },
        );
    }
    router_over(store, hub, rollup).await
}

/// One router over `store` and the scripted chains `hub` (L1, domain 1) and `rollup` (domain
/// 2): no batching, [`CertifyAll`] as its coordinator, no API.
#[allow(dead_code)] // each bench uses one of the two
pub(crate) async fn router_over(
    store: Store,
    hub: Arc<FakeChain>,
    rollup: Arc<FakeChain>,
) -> Router {
    let mut by_domain: BTreeMap<u32, Arc<dyn ChainAdapter>> = BTreeMap::new();
    by_domain.insert(1, hub);
    by_domain.insert(2, rollup);
    let chains = Chains::new(1, by_domain).unwrap();
    let relay = RelayConfig {
        batch_gas: 0,
        ..RelayConfig::default()
    };
    Router::builder(relay)
        .chains(chains)
        .store(store)
        .coordinator(Arc::new(CertifyAll))
        .build()
        .await
        .unwrap()
}

/// Certifies every message as soon as it is proven, and never relays (the run ends at
/// `Attested`).
#[derive(Debug)]
pub(crate) struct CertifyAll;

impl Coordinator for CertifyAll {
    fn proven(&self, _: &[MessageRecord], _: u32, _: BlockRef) -> Result<(), StoreError> {
        Ok(())
    }
    fn gate(&self, _: &MessageRecord) -> Result<Gate, StoreError> {
        Ok(Gate::Certified("quorum certificate (bench)".into()))
    }
    fn turn(&self, _: &MessageRecord, _: u64, _: u64) -> Turn {
        Turn::Wait("bench".into())
    }
    fn relaying(&self, _: &MessageRecord, _: u64) {}
    fn released(&self, _: &MessageRecord) {}
    fn flush(&self) {}
}

pub(crate) fn record(nonce: u64) -> MessageRecord {
    let envelope = Envelope {
        src_domain: 2,
        nonce,
        sender: B256::with_last_byte(1),
        dst_domain: 1,
        recipient: B256::with_last_byte(2),
        payload: vec![B256::from(U256::from(nonce)), B256::with_last_byte(2)],
    };
    MessageRecord::new(
        envelope,
        SourceRef {
            domain: 2,
            block_number: 5,
            block_hash: B256::repeat_byte(5),
            tx_hash: B256::repeat_byte(6),
        },
        1,
    )
}
