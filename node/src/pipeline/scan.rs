//! Indexing: each chain from its persisted cursor up to its finalized head, in bounded ranges.
//! A message found twice (a re-scan after a restart or a reorg rewind) is stored once.

use alloy_primitives::B256;
use xroute_adapters::{BlockRef, ChainAdapter, ChainAdapterExt};

use super::PipelineError;
use crate::{
    model::{Cursor, MessageRecord, SourceRef},
    store::Store,
};

/// Blocks per `sent_messages` call.
const RANGE: u64 = 1_000;
/// How far back indexing restarts when the block under the cursor changed hash (a reorg).
const REORG_REWIND: u64 = 64;

/// What one scan of a chain came to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanReport {
    /// The chain's latest block.
    pub head: u64,
    /// The last block indexed.
    pub cursor: u64,
}

/// Indexes `adapter`'s chain up to its finalized head; what it finds is stored as sent at `now`.
/// A chain with no new final block costs one head read.
pub(crate) async fn scan(
    store: &Store,
    adapter: &dyn ChainAdapter,
    now: u64,
) -> Result<ScanReport, PipelineError> {
    let head = adapter.head().await?;
    scan_from_head(store, adapter, head, None, now).await
}

/// [`scan`] from a head the caller read (the hub chain's, read once per round), and its final
/// block if the caller knows it.
pub(crate) async fn scan_from_head(
    store: &Store,
    adapter: &dyn ChainAdapter,
    head: BlockRef,
    finalized: Option<BlockRef>,
    now: u64,
) -> Result<ScanReport, PipelineError> {
    let name = adapter.name();
    let final_number = head.number.saturating_sub(adapter.info().confirmations);
    let cursor = store.cursor(adapter.domain())?;
    if let Some(c) = &cursor
        && c.block_number == final_number
    {
        // Nothing new is final (a reorg under the cursor shows with the next final block).
        return Ok(ScanReport {
            head: head.number,
            cursor: c.block_number,
        });
    }
    let finalized = match finalized {
        Some(f) if f.number == final_number => f,
        _ if final_number == head.number => head,
        _ => BlockRef {
            number: final_number,
            hash: adapter.block_hash(final_number).await?,
        },
    };
    let mut from = match cursor {
        None => 0,
        Some(cursor) => {
            let hash = adapter.block_hash(cursor.block_number).await?;
            if hash == cursor.block_hash.0 {
                cursor.block_number + 1
            } else {
                let back = cursor.block_number.saturating_sub(REORG_REWIND);
                tracing::warn!(
                    chain = name,
                    block = cursor.block_number,
                    "block under the cursor changed (reorg); re-indexing from {back}"
                );
                back
            }
        }
    };
    // A catch-up (more than one range behind) says how far it got, range by range.
    let catching_up = finalized.number.saturating_sub(from) >= RANGE;
    if catching_up {
        tracing::info!(
            chain = name,
            from,
            to = finalized.number,
            "catching up: indexing {} blocks",
            finalized.number - from + 1
        );
    }
    while from <= finalized.number {
        let to = (from + RANGE - 1).min(finalized.number);
        for sent in adapter.sent_messages(from, to).await? {
            let record = MessageRecord::new(
                sent.envelope,
                SourceRef {
                    domain: adapter.domain(),
                    block_number: sent.block.number,
                    block_hash: B256::from(sent.block.hash),
                    tx_hash: B256::from(sent.tx_hash),
                },
                now,
            );
            if store.insert_new(&record)? {
                tracing::info!(
                    chain = name,
                    id = %record.id,
                    dst = record.envelope.dst_domain,
                    block = record.source.block_number,
                    "message sent"
                );
            }
        }
        let hash = if to == finalized.number {
            finalized.hash
        } else {
            adapter.block_hash(to).await?
        };
        store.set_cursor(
            adapter.domain(),
            &Cursor {
                block_number: to,
                block_hash: B256::from(hash),
            },
        )?;
        if catching_up {
            tracing::info!(
                chain = name,
                block = to,
                of = finalized.number,
                "catching up: indexed to block {to} of {} ({}%)",
                finalized.number,
                to.saturating_mul(100) / finalized.number.max(1)
            );
        }
        from = to + 1;
    }
    Ok(ScanReport {
        head: head.number,
        cursor: from.saturating_sub(1),
    })
}
