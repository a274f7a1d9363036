//! One stage of a round, a chunk at a time: the messages due now read once, their exits read
//! together, each stepped, and the moves the steps decided on committed together.

use std::collections::BTreeMap;

use xroute_adapters::ChainAdapterExt;
use xroute_proofs::envelope::MessageId;

use super::{Deferred, Outcome, Pipeline, Then, Tick};
use crate::{
    model::{MessageRecord, Stage},
    store::{Move, StoreError},
};

impl Pipeline {
    /// The record of message `id` if it is still in `stage` and due for a step now.
    pub(super) fn due(&self, id: &MessageId, stage: Stage, tick: Tick) -> Option<MessageRecord> {
        let after = self
            .look_after
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied();
        if after.is_some_and(|at| at > tick.now_ms) {
            return None;
        }
        match self.store.get(id) {
            Ok(Some(r)) if r.stage == stage && r.next_attempt_at_ms <= tick.now_ms => Some(r),
            Ok(_) => None, // moved on since the index was read, or backing off
            Err(e) => {
                tracing::error!(%id, error = %e, "cannot read message");
                None
            }
        }
    }

    /// Steps `record` and applies the outcome; errors are the message's, not the tick's. A move
    /// the step decided on is returned, to commit with the round's others.
    pub(super) async fn advance(
        &self,
        record: MessageRecord,
        tick: Tick,
    ) -> Option<(MessageRecord, Deferred)> {
        match self.step(&record, tick).await {
            Ok(Outcome::Move(deferred)) => Some((record, *deferred)),
            outcome => {
                self.settle(&record, outcome, tick);
                None
            }
        }
    }

    /// Lets each source chain read at once what the exits of a round's `Sent` `records` share
    /// (their storage proofs, in one request per chain), before each is stepped.
    pub(super) async fn prepare_exits(&self, records: &[MessageRecord], tick: Tick) {
        if records.len() < 2 {
            return;
        }
        let mut by_source: BTreeMap<u32, Vec<&xroute_proofs::envelope::Envelope>> = BTreeMap::new();
        for r in records {
            by_source
                .entry(r.envelope.src_domain)
                .or_default()
                .push(&r.envelope);
        }
        let Ok(l1) = self.chains.l1(tick.l1_final) else {
            return;
        };
        for (domain, envelopes) in by_source {
            let Some(chain) = self.chains.get(domain) else {
                continue;
            };
            if let Err(e) = chain.prepare_exits(&envelopes, &l1).await {
                tracing::debug!(chain = chain.name(), error = %e, "exits not read together; each reads alone");
            }
        }
    }

    /// Commits the moves a round's steps of one stage decided on, together, then runs what comes
    /// after each (a move refused because the message moved meanwhile is dropped, as a step's
    /// would be).
    pub(super) fn commit_moves(&self, deferred: Vec<(MessageRecord, Deferred)>, tick: Tick) {
        if deferred.is_empty() {
            return;
        }
        let (moves, thens): (Vec<(MessageRecord, Move)>, Vec<Then>) = deferred
            .into_iter()
            .map(|(record, d)| {
                let m = Move {
                    id: record.id,
                    from: record.stage,
                    to: d.to,
                    at_ms: tick.now_ms,
                    note: d.note,
                    change: d.change,
                };
                ((record, m), d.then)
            })
            .unzip();
        let results = match self.store.transition_all(&moves) {
            Ok(results) => results,
            Err(e) => {
                tracing::error!(error = %e, moves = moves.len(), "cannot record the round's moves");
                for (record, _) in &moves {
                    self.settle(record, Ok(Outcome::Backoff(e.to_string())), tick);
                }
                return;
            }
        };
        let mut fresh = Vec::new();
        for (((record, m), then), result) in moves.iter().zip(thens).zip(results) {
            let moved = match result {
                Ok(moved) => moved,
                Err(StoreError::StageMismatch { .. }) => continue,
                Err(e) => {
                    self.settle(record, Ok(Outcome::Backoff(e.to_string())), tick);
                    continue;
                }
            };
            self.look_after
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&m.id);
            tracing::info!(id = %m.id, from = ?m.from, to = ?m.to, note = %m.note, "message moved");
            match then {
                Then::Nothing => {}
                Then::Attest => fresh.push(moved),
                Then::CheckpointAttested => self.coordinator.attested(record),
            }
            if matches!(m.from, Stage::Attested | Stage::Relaying) {
                self.coordinator.released(record);
            }
        }
        self.fresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(fresh);
    }
}
