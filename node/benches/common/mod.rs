//! What the single-router benches share: the coordinator that certifies what is proven, and the
//! records they store.

use alloy_primitives::{B256, U256};
use xroute::{
    pipeline::{Coordinator, Gate, Turn},
    store::{MessageRecord, SourceRef, StoreError},
};
use xroute_adapters::BlockRef;
use xroute_proofs::envelope::Envelope;

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
            chain: "starknet".into(),
            block_number: 5,
            block_hash: B256::repeat_byte(5),
            tx_hash: B256::repeat_byte(6),
        },
        1,
    )
}
