//! Relay batches: several messages' hops in one L1 transaction. The batch is persisted with every
//! member's move to `Relaying` in one sled transaction, before it is broadcast, so a crash leaves
//! either nothing or the whole batch to re-send.

use alloy_primitives::B256;
use sled::{Transactional, transaction::ConflictableTransactionError};
use xroute_proofs::envelope::MessageId;

use super::{Result, Store, StoreError, codec, flatten, get_json, hex, load, status_key};
use crate::model::{RelayAttempt, RelayBatch, Stage, Transition};

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
        let _changing = self.changing()?;
        let records = (&self.messages, &self.status, &self.relay_batches)
            .transaction(|(messages, status, batches)| {
                let mut moved = Vec::with_capacity(members.len());
                for (id, from) in members {
                    let mut record = load(messages, id)?;
                    if record.stage != *from {
                        return Err(ConflictableTransactionError::Abort(
                            StoreError::StageMismatch {
                                id: *id,
                                expected: *from,
                                found: record.stage,
                            },
                        ));
                    }
                    record.relays.push(member_attempt.clone());
                    record.stage = Stage::Relaying;
                    record.history.push(Transition {
                        from: *from,
                        to: Stage::Relaying,
                        at_ms,
                        note: note.to_string(),
                    });
                    let bytes =
                        codec::encode(&record).map_err(ConflictableTransactionError::Abort)?;
                    messages.insert(id.0.as_slice(), bytes)?;
                    status.remove(status_key(*from, id).as_slice())?;
                    status.insert(status_key(Stage::Relaying, id).as_slice(), &[][..])?;
                    moved.push((record, *from));
                }
                batches.insert(batch.key.as_slice(), value.as_slice())?;
                Ok(moved)
            })
            .map_err(flatten)?;
        for (_, from) in &records {
            self.counts.moved(*from, Stage::Relaying);
        }
        if let Some(observer) = &self.observer {
            for (record, from) in &records {
                observer.moved(record, *from, Stage::Relaying, at_ms);
            }
        }
        Ok(())
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
        Ok(())
    }

    /// Forgets batch `key` (once no member is in flight on it).
    pub fn remove_relay_batch(&self, key: &B256) -> Result<()> {
        self.relay_batches.remove(key.as_slice())?;
        Ok(())
    }
}
