//! Pruning delivered messages (`node.keep_delivered_s`): a delivered message's record (its body,
//! history, relay entries, attestations and certificate) is removed once it has been delivered
//! for longer than the router keeps them, leaving its state, 31 bytes with the delivery time, and
//! its status key. What is left is what makes the message known: a re-scan that finds it again
//! (a restart's re-read of old blocks, a reorg's rewind) does not take it for a new one
//! ([`Store::insert_new`] sees its state), and it still counts as delivered.
//!
//! Its status key moves out of the `Delivered` index to `0xfd ‖ id`, so a listing of delivered
//! messages holds whole records only (and its limit counts only them), while the rebuilt counts
//! still count it as delivered.
//!
//! The schedule is the status tree's `0xfe ‖ delivered at (ms, 8 bytes) ‖ id` keys, written in
//! the transaction that moves a message to `Delivered` (and by [`Store::insert_new`] for a record
//! that arrives delivered: a backup's), so a pass reads only what it prunes, oldest first.

use sled::Transactional;
use xroute_proofs::envelope::MessageId;

use super::{
    DELIVERED_PREFIX, Result, Store, StoreError, delivered_key, pruned_key,
    records::{State, entry_key},
    status_key,
};
use crate::model::Stage;

impl Store {
    /// Prunes the records of at most `limit` messages delivered before `before_ms`, oldest first;
    /// how many were pruned. A message the schedule names that is no longer delivered in full
    /// (pruned already, or gone) only loses its schedule key. Each message is pruned in one
    /// transaction; its attestations go first, so a crash between the two leaves it to the next
    /// pass.
    pub fn prune_delivered(&self, before_ms: u64, limit: usize) -> Result<usize> {
        let end = delivered_key(before_ms, &MessageId(Default::default()));
        let due: Vec<(sled::IVec, MessageId, u64)> = self
            .status
            .range([DELIVERED_PREFIX].as_slice()..end.as_slice())
            .take(limit)
            .map(|entry| {
                let (key, _) = entry?;
                let corrupt = || StoreError::Corrupt {
                    what: "delivery schedule key",
                    key: super::hex(&key),
                    reason: "not 0xfe ‖ 8-byte time ‖ 32-byte id".into(),
                };
                let at = key
                    .get(1..9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(corrupt)?;
                let id: [u8; 32] = key
                    .get(9..)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(corrupt)?;
                Ok((key.clone(), MessageId(id.into()), at))
            })
            .collect::<Result<_>>()?;
        let mut pruned = 0;
        for (key, id, at) in due {
            for signer in self.attestation_signers(&id)? {
                self.attestations
                    .remove(super::attestation_key(&id, &signer).as_slice())?;
            }
            self.certificates.remove(id.0.as_slice())?;
            if self.prune_one(&key, &id, at)? {
                pruned += 1;
            }
        }
        Ok(pruned)
    }

    /// Prunes `id`'s record in one transaction, if it is delivered in full; its schedule `key`
    /// goes either way.
    fn prune_one(&self, key: &[u8], id: &MessageId, at: u64) -> Result<bool> {
        let k = id.0;
        (
            &self.bodies,
            &self.states,
            &self.history,
            &self.relays,
            &self.status,
        )
            .transaction(|(bodies, states, history, relays, status)| {
                status.remove(key)?;
                let Some(bytes) = states.get(k.as_slice())? else {
                    return Ok(false);
                };
                let state = State::decode(id, &bytes)
                    .map_err(sled::transaction::ConflictableTransactionError::Abort)?;
                if state.stage != Stage::Delivered || state.pruned.is_some() {
                    return Ok(false);
                }
                bodies.remove(k.as_slice())?;
                for n in 0..state.history {
                    history.remove(entry_key(id, n).as_slice())?;
                }
                for n in 0..state.relays {
                    relays.remove(entry_key(id, n).as_slice())?;
                }
                let kept = State {
                    stage: Stage::Delivered,
                    attempts: 0,
                    next_attempt_at_ms: 0,
                    history: 0,
                    relays: 0,
                    relayed_in: None,
                    checkpoint: None,
                    reason: None,
                    pruned: Some(at),
                };
                states.insert(k.as_slice(), kept.encode())?;
                status.remove(status_key(Stage::Delivered, id).as_slice())?;
                status.insert(pruned_key(id).as_slice(), &[][..])?;
                Ok(true)
            })
            .map_err(super::flatten)
    }

    /// When `id` was delivered, if its record was pruned (then [`Store::get`] has nothing for it).
    pub fn pruned(&self, id: &MessageId) -> Result<Option<u64>> {
        match self.states.get(id.0.as_slice())? {
            Some(bytes) => Ok(State::decode(id, &bytes)?.pruned),
            None => Ok(None),
        }
    }

    /// Copies `id`'s state into `out` if its record was pruned (a backup keeps what a pruned
    /// message left); whether it did.
    pub(super) fn copy_pruned(&self, id: &MessageId, out: &Store) -> Result<bool> {
        let Some(bytes) = self.states.get(id.0.as_slice())? else {
            return Ok(false);
        };
        if State::decode(id, &bytes)?.pruned.is_none() {
            return Ok(false);
        }
        out.states.insert(id.0.as_slice(), bytes)?;
        out.status.insert(pruned_key(id).as_slice(), &[][..])?;
        Ok(true)
    }
}
