//! Relay batches: several messages' hops in one L1 transaction. The batch is persisted with every
//! member's move to `Relaying` in one sled transaction, before it is broadcast, so a crash leaves
//! either nothing or the whole batch to re-send.

use alloy_primitives::B256;
use sled::{
    Transactional,
    transaction::{ConflictableTransactionError, TransactionError},
};
use xroute_proofs::envelope::MessageId;

use super::{
    Move, Result, Store, StoreError, get_json, hex,
    records::{Applied, move_in},
};
use crate::model::{Change, RelayAttempt, RelayBatch, Stage};

impl Store {
    /// Records `batch` (its first transaction signed, not sent) and moves each member from its
    /// stage in `members` to `Relaying` with a relay attempt naming the batch, all in one
    /// transaction: if any member is no longer where the caller saw it, nothing is written
    /// ([`StoreError::StageMismatch`]).
    pub fn start_batch(
        &self,
        batch: &RelayBatch,
        members: &[(MessageId, Stage)],
        at_ms: u64,
        note: &str,
    ) -> Result<()> {
        let first = batch.attempts.first().ok_or_else(|| StoreError::Corrupt {
            what: "relay batch",
            key: batch.key.to_string(),
            reason: "no transaction".into(),
        })?;
        // What each member records: the batch's first transaction, its bytes left to the batch.
        let member_attempt = RelayAttempt {
            raw: Default::default(),
            batch: Some(batch.key),
            ..first.clone()
        };
        for (id, from) in members {
            if !from.can_move_to(Stage::Relaying) {
                return Err(StoreError::IllegalTransition {
                    id: *id,
                    from: *from,
                    to: Stage::Relaying,
                });
            }
        }
        let value = serde_json::to_vec(batch).map_err(|e| StoreError::Corrupt {
            what: "relay batch",
            key: batch.key.to_string(),
            reason: format!("cannot encode: {e}"),
        })?;
        let moves: Vec<Move> = members
            .iter()
            .map(|(id, from)| Move {
                id: *id,
                from: *from,
                to: Stage::Relaying,
                at_ms,
                note: note.to_string(),
                change: Change::default().relay(member_attempt.clone()),
            })
            .collect();
        let mut last_stale = None;
        for _ in 0..3 {
            // Each member as it is now; the transaction checks nothing moved since.
            let bases = moves
                .iter()
                .map(|m| self.get(&m.id)?.ok_or(StoreError::UnknownMessage(m.id)))
                .collect::<Result<Vec<_>>>()?;
            let _changing = self.changing()?;
            let result = (
                &self.states,
                &self.history,
                &self.relays,
                &self.status,
                &self.relay_batches,
            )
                .transaction(|(states, history, relays, status, batches)| {
                    let mut moved = Vec::with_capacity(moves.len());
                    for (base, m) in bases.iter().zip(&moves) {
                        match move_in((states, history, relays, status), base, m).map_err(some)? {
                            Applied::Moved(record) => moved.push(*record),
                            Applied::Refused(e) => {
                                return Err(ConflictableTransactionError::Abort(Some(e)));
                            }
                            Applied::Stale => {
                                return Err(ConflictableTransactionError::Abort(None));
                            }
                        }
                    }
                    batches.insert(batch.key.as_slice(), value.as_slice())?;
                    Ok(moved)
                });
            let records = match result {
                Ok(records) => {
                    crate::failpoint::hit("store.batch");
                    records
                }
                Err(TransactionError::Abort(Some(e))) => return Err(e),
                Err(TransactionError::Abort(None)) => {
                    last_stale = Some(moves[0].id);
                    continue;
                }
                Err(TransactionError::Storage(e)) => return Err(StoreError::Sled(e)),
            };
            for (record, m) in records.iter().zip(&moves) {
                self.counts.moved(m.from, Stage::Relaying);
                if let Some(observer) = &self.observer {
                    observer.moved(record, m.from, Stage::Relaying, at_ms);
                }
            }
            return Ok(());
        }
        Err(StoreError::Corrupt {
            what: "relay batch",
            key: batch.key.to_string(),
            reason: format!(
                "a member ({}) kept changing while the batch was stored",
                last_stale.map(|id| id.to_string()).unwrap_or_default()
            ),
        })
    }

    /// The relay batch `key`.
    pub fn relay_batch(&self, key: &B256) -> Result<Option<RelayBatch>> {
        get_json(&self.relay_batches, "relay batch", key.as_slice(), || {
            hex(key.as_slice())
        })
    }

    /// Every relay batch kept (those whose members may still be in flight).
    pub fn relay_batches(&self) -> Result<Vec<RelayBatch>> {
        self.relay_batches
            .iter()
            .map(|entry| {
                let (key, value) = entry?;
                serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt {
                    what: "relay batch",
                    key: hex(&key),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Adds a replacement transaction to batch `key` (persisted before it is broadcast).
    pub fn push_batch_attempt(&self, key: &B256, attempt: &RelayAttempt) -> Result<()> {
        let Some(mut batch) = self.relay_batch(key)? else {
            return Err(StoreError::Corrupt {
                what: "relay batch",
                key: key.to_string(),
                reason: "not stored".into(),
            });
        };
        batch.attempts.push(attempt.clone());
        let value = serde_json::to_vec(&batch).map_err(|e| StoreError::Corrupt {
            what: "relay batch",
            key: key.to_string(),
            reason: format!("cannot encode: {e}"),
        })?;
        self.relay_batches.insert(key.as_slice(), value)?;
        crate::failpoint::hit("store.batch_attempt");
        Ok(())
    }

    /// Forgets batch `key` (once no member is in flight on it).
    pub fn remove_relay_batch(&self, key: &B256) -> Result<()> {
        self.relay_batches.remove(key.as_slice())?;
        Ok(())
    }
}

/// A move's transaction error with its abort reason made optional (`None`: stale, read again).
fn some(
    e: ConflictableTransactionError<StoreError>,
) -> ConflictableTransactionError<Option<StoreError>> {
    match e {
        ConflictableTransactionError::Abort(e) => ConflictableTransactionError::Abort(Some(e)),
        ConflictableTransactionError::Conflict => ConflictableTransactionError::Conflict,
        ConflictableTransactionError::Storage(e) => ConflictableTransactionError::Storage(e),
    }
}
