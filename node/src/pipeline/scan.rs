//! Indexing: each chain from its persisted cursor up to its finalized head, in bounded ranges.
//! A message found twice (a re-scan after a restart or a reorg rewind) is stored once.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
};

use alloy_primitives::B256;
use xroute_adapters::{BlockRef, ChainAdapter, ChainAdapterExt};

use super::PipelineError;
use crate::{
    model::{Change, Cursor, MessageRecord, SourceRef, Stage},
    store::{Store, StoreError},
};

/// The start of the reason of a message parked because its sending transaction left the chain
/// in a reorg; the same message sent again on the new branch takes its place.
pub(crate) const ORPHANED: &str = "its source transaction left the chain in a reorg";

/// How many recent cursor blocks are kept per chain, to find where a reorg forked.
const RECENT: usize = 128;

/// Per chain, the hashes of blocks the indexer set its cursor at lately (in memory): where a
/// reorg forked is the newest of them the chain still has.
#[derive(Debug, Default)]
pub(crate) struct RecentBlocks(Mutex<HashMap<u32, BTreeMap<u64, [u8; 32]>>>);

impl RecentBlocks {
    fn note(&self, domain: u32, number: u64, hash: [u8; 32]) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let chain = all.entry(domain).or_default();
        // A block above `number` is of a branch the chain left.
        chain.split_off(&(number + 1));
        chain.insert(number, hash);
        while chain.len() > RECENT {
            chain.pop_first();
        }
    }

    /// The hash remembered for the chain's block `number`.
    fn at(&self, domain: u32, number: u64) -> Option<[u8; 32]> {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.get(&domain)?.get(&number).copied()
    }

    /// The chain's known blocks at or below `number`, newest first.
    fn below(&self, domain: u32, number: u64) -> Vec<(u64, [u8; 32])> {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.get(&domain)
            .map(|c| c.range(..=number).rev().map(|(n, h)| (*n, *h)).collect())
            .unwrap_or_default()
    }
}

/// A reorg the indexer found under its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reorg {
    /// Blocks from the cursor down to the newest block both branches share (at least this many
    /// when that block is older than what the indexer remembers).
    pub depth: u64,
    /// Stored messages whose sending transaction is on no block of the new branch: parked.
    pub orphaned: usize,
    /// Stored messages whose sending transaction the new branch holds in another block.
    pub moved: usize,
}

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
    /// A reorg found under the cursor, if any.
    pub reorg: Option<Reorg>,
}

/// Indexes `adapter`'s chain up to its finalized head; what it finds is stored as sent at `now`.
/// A chain with no new final block costs one head read.
pub(crate) async fn scan(
    store: &Store,
    recent: &RecentBlocks,
    adapter: &dyn ChainAdapter,
    now: u64,
) -> Result<ScanReport, PipelineError> {
    let head = adapter.head().await?;
    scan_from_head(store, recent, adapter, head, None, now).await
}

/// [`scan`] from a head the caller read (the hub chain's, read once per round), and its final
/// block if the caller knows it.
pub(crate) async fn scan_from_head(
    store: &Store,
    recent: &RecentBlocks,
    adapter: &dyn ChainAdapter,
    head: BlockRef,
    finalized: Option<BlockRef>,
    now: u64,
) -> Result<ScanReport, PipelineError> {
    let name = adapter.name();
    let final_number = head.number.saturating_sub(adapter.info().confirmations);
    let cursor = store.cursor(adapter.domain())?;
    // The block to check against what the indexer saw: the cursor's, or, when the chain's final
    // head is below the cursor (a node that lags, or a chain that dropped its newest blocks: a
    // Starknet block abort), the final head if the indexer remembers its hash. Otherwise nothing
    // new is final, and a dropped branch shows when the chain regrows.
    let check = match &cursor {
        None => None,
        // Nothing new is final (a reorg under the cursor shows with the next final block).
        Some(c) if c.block_number == final_number => return Ok(unchanged(&head, c)),
        Some(c) if c.block_number < final_number => Some((c.block_number, c.block_hash.0)),
        Some(c) => match recent.at(adapter.domain(), final_number) {
            Some(seen) => Some((final_number, seen)),
            None => {
                tracing::debug!(
                    chain = name,
                    head = head.number,
                    cursor = c.block_number,
                    "the chain's final head is below the cursor; waiting for it"
                );
                return Ok(unchanged(&head, c));
            }
        },
    };
    let finalized = match finalized {
        Some(f) if f.number == final_number => f,
        _ if final_number == head.number => head,
        _ => BlockRef {
            number: final_number,
            hash: adapter.block_hash(final_number).await?,
        },
    };
    let mut reorg = None;
    let mut from = match (cursor, check) {
        (Some(cursor), Some((at, seen))) => {
            let hash = if at == finalized.number {
                finalized.hash
            } else {
                adapter.block_hash(at).await?
            };
            if hash == seen && at < cursor.block_number {
                // Below the cursor and unchanged: nothing new yet.
                return Ok(unchanged(&head, &cursor));
            } else if hash == seen {
                cursor.block_number + 1
            } else {
                let fork = fork_point(recent, adapter, at).await?;
                let back = match fork {
                    Some(f) => f + 1,
                    None => at.saturating_sub(REORG_REWIND),
                };
                let (orphaned, moved) = recheck_sources(store, adapter, back, now).await?;
                let found = Reorg {
                    depth: cursor.block_number + 1 - back,
                    orphaned,
                    moved,
                };
                tracing::warn!(
                    chain = name,
                    block = cursor.block_number,
                    depth = found.depth,
                    orphaned,
                    moved,
                    "block under the cursor changed (reorg); re-indexing from {back}"
                );
                reorg = Some(found);
                back
            }
        }
        // No cursor yet: from the chain's first block.
        _ => 0,
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
            } else {
                sent_again(store, &record, now)?;
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
        recent.note(adapter.domain(), to, hash);
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
        reorg,
    })
}

/// A scan that found nothing new: the head it read, the cursor where it was.
fn unchanged(head: &BlockRef, cursor: &Cursor) -> ScanReport {
    ScanReport {
        head: head.number,
        cursor: cursor.block_number,
        reorg: None,
    }
}

/// The newest block at or below `cursor` that both branches share, from the blocks the indexer
/// remembers (`None`: none of them is on the chain any more).
async fn fork_point(
    recent: &RecentBlocks,
    adapter: &dyn ChainAdapter,
    cursor: u64,
) -> Result<Option<u64>, PipelineError> {
    for (number, hash) in recent.below(adapter.domain(), cursor) {
        if adapter.block_hash(number).await? == hash {
            return Ok(Some(number));
        }
    }
    Ok(None)
}

/// After a reorg from block `from` on: every stored message of this chain from there that is not
/// relayed yet is checked against the new branch. One whose block is still there stays; one whose
/// transaction the new branch holds in another block follows it; one whose transaction is gone is
/// parked (the same message sent again on the new branch takes its place: [`sent_again`]).
/// Returns (parked, moved).
async fn recheck_sources(
    store: &Store,
    adapter: &dyn ChainAdapter,
    from: u64,
    now: u64,
) -> Result<(usize, usize), PipelineError> {
    let name = adapter.name();
    let mut hashes: HashMap<u64, [u8; 32]> = HashMap::new();
    let (mut orphaned, mut moved) = (0, 0);
    for stage in [Stage::Sent, Stage::Proven, Stage::Attested] {
        for id in store.ids_in(stage, usize::MAX)? {
            let Some(record) = store.get(&id)? else {
                continue;
            };
            let source = record.source;
            if source.domain != adapter.domain() || source.block_number < from {
                continue;
            }
            let number = source.block_number;
            let hash = match hashes.get(&number) {
                Some(h) => *h,
                None => {
                    let h = adapter.block_hash(number).await?;
                    hashes.insert(number, h);
                    h
                }
            };
            if hash == source.block_hash.0 {
                continue;
            }
            match adapter.block_of_tx(source.tx_hash.0).await? {
                Some(block) => {
                    let block_hash = adapter.block_hash(block).await?;
                    store.set_source(
                        &id,
                        SourceRef {
                            block_number: block,
                            block_hash: B256::from(block_hash),
                            ..source
                        },
                    )?;
                    tracing::info!(chain = name, %id, from = number, to = block, "reorg: the message's transaction is in another block now");
                    moved += 1;
                }
                None => {
                    let reason = format!(
                        "{ORPHANED}: transaction {} of block {number} on {name} is on no block \
                         of the new branch (the same message sent again there is relayed \
                         instead)",
                        source.tx_hash
                    );
                    match store.transition(
                        &id,
                        stage,
                        Stage::Parked,
                        now,
                        &reason,
                        Change::default().reason(Some(reason.clone())),
                    ) {
                        Ok(_) => {}
                        Err(StoreError::StageMismatch { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                    tracing::warn!(chain = name, %id, block = number, "reorg: the message's transaction left the chain; parked");
                    orphaned += 1;
                }
            }
        }
    }
    Ok((orphaned, moved))
}

/// `found` is stored already: when the stored one was parked because its transaction left the
/// chain in a reorg, or is not relayed yet and came from another block, it takes `found`'s source
/// (the same message, sent again on the new branch), and a parked one starts over from `Sent`.
fn sent_again(store: &Store, found: &MessageRecord, now: u64) -> Result<(), PipelineError> {
    let Some(stored) = store.get(&found.id)? else {
        return Ok(());
    };
    if stored.source == found.source {
        return Ok(());
    }
    let orphaned = stored.stage == Stage::Parked
        && stored
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with(ORPHANED));
    let waiting = matches!(stored.stage, Stage::Sent | Stage::Proven | Stage::Attested);
    if !orphaned && !waiting {
        return Ok(());
    }
    store.set_source(&found.id, found.source.clone())?;
    if orphaned {
        let note = format!(
            "sent again on the new branch: transaction {} in block {}",
            found.source.tx_hash, found.source.block_number
        );
        match store.transition(
            &found.id,
            Stage::Parked,
            Stage::Sent,
            now,
            &note,
            Change::step_done().attempts(0, 0),
        ) {
            Ok(_) | Err(StoreError::StageMismatch { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(id = %found.id, block = found.source.block_number, "a message parked by a reorg was sent again; it goes on");
    }
    Ok(())
}
