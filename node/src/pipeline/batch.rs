//! Relays batched into one L1 transaction.
//!
//! A round's steps hand the L1 calls they found ready here ([`Pipeline::hold_for_batch`]) instead
//! of sending each. After the round, [`Pipeline::relay_ready`] simulates them together through the
//! hub chain's [`Batcher`] (the Hub's `relayBatch` as an `eth_call`): a member that would revert
//! is judged alone from its revert (made already, park, or retry), and the others are packed into
//! batches of at most `relay.batch_max` members and `relay.batch_gas` gas (each member counted at
//! its simulated gas with headroom; the transaction's gas limit is the estimate of the batch, in
//! which a member out of gas fails the whole batch). A batch of one goes as a single relay. Nothing waits longer than
//! `relay.batch_wait_ms` for a batch to fill.
//!
//! A batch is signed, then persisted with every member's move to `Relaying` in one store
//! transaction ([`crate::store::Store::start_batch`]), then broadcast: after a crash the same
//! bytes are re-sent for all members, never a second transaction for any of them. The batch is
//! re-sent and replaced as one ([`Pipeline::watch_batches`]); each member is `Relayed` once the
//! mined batch is final and the Hub shows its hop made (a member the Hub skipped is retried).
//! In a router network each member is one this router was assigned and claimed, so two routers'
//! batches never share a member; if one ever did, the Hub refuses the repeat inside the batch and
//! the rest still go.

use std::collections::HashMap;

use alloy::primitives::B256;
use xroute_adapters::{
    Call, ChainAdapterExt, Estimate, Mined, Payment, Revert, Simulated, Submitter,
};

use super::{
    Outcome, Pipeline, Tick,
    step::{HUB_PROCESSED, StepError, attempt_of, signed_of},
};
use crate::{
    metrics::TxOutcome,
    model::{MessageRecord, RelayAttempt, RelayBatch, Stage},
};

/// Gas counted for a batch member beyond what it used in the simulation (a quarter more, plus
/// this), when batches are packed: a member's cost depends on what ran before it in the same
/// transaction (the first write of a slot costs more than the next), and a batch is not the
/// simulation's chunk.
const MEMBER_HEADROOM: u64 = 25_000;
/// The batch transaction's own gas, beyond its members' (base cost, calldata, the loop).
const BATCH_OVERHEAD: u64 = 60_000;

/// A relay found ready this round: the hop of `record` from `from`, made by `call`.
#[derive(Debug, Clone)]
pub(super) struct Ready {
    record: MessageRecord,
    from: Stage,
    call: Call,
    /// Its payment: a paid relay goes in a metered batch.
    payment: Option<Payment>,
}

/// What a round read of the batches' transactions, shared by their members (cleared when the next
/// round starts).
#[derive(Debug, Default)]
pub(super) struct RoundReads {
    receipts: HashMap<B256, Option<Mined>>,
    mined_nonce: Option<u64>,
}

/// A ready relay the simulation passed, with the gas it used there.
#[derive(Debug)]
struct Passing {
    ready: Ready,
    gas: u64,
}

impl Passing {
    /// The gas counted for the member when batches are packed.
    fn limit(&self) -> u64 {
        self.gas
            .saturating_add(self.gas / 4)
            .saturating_add(MEMBER_HEADROOM)
    }
}

impl Pipeline {
    /// Whether relays go out in batches: configured, and the hub chain offers them.
    pub(super) fn batching(&self) -> bool {
        self.relay.batch_gas > 0 && self.chains.hub().batcher().is_some()
    }

    /// Keeps `call` (`record`'s hop from `from`, paid by `payment`) for this round's batches. In
    /// a router network the hop's claim is kept fresh while it waits for a batch, as while its
    /// relay is in flight.
    pub(super) fn hold_for_batch(
        &self,
        record: &MessageRecord,
        from: Stage,
        call: Call,
        payment: Option<Payment>,
    ) {
        if from == Stage::Attested {
            self.coordinator.relaying(record, crate::time::now_ms());
        }
        self.ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Ready {
                record: record.clone(),
                from,
                call,
                payment,
            });
    }

    /// Sends what this round found ready: simulated together, judged, packed into batches.
    pub(super) async fn relay_ready(&self, tick: Tick) {
        let ready = std::mem::take(&mut *self.ready.lock().unwrap_or_else(|p| p.into_inner()));
        let oldest = self.note_ready_since(&ready, tick.now_ms);
        let Some(oldest) = oldest else { return };
        let waited = tick.now_ms.saturating_sub(oldest) >= self.relay.batch_wait_ms;
        // Paid relays go in metered batches, the others in plain ones.
        let (paid, plain): (Vec<Ready>, Vec<Ready>) =
            ready.into_iter().partition(|r| r.payment.is_some());
        for (group, metered) in [(plain, false), (paid, true)] {
            if !group.is_empty() {
                self.relay_group(group, metered, waited, tick).await;
            }
        }
    }

    /// [`Pipeline::relay_ready`] for the relays of one kind (`metered` or not).
    async fn relay_group(&self, ready: Vec<Ready>, metered: bool, waited: bool, tick: Tick) {
        if let ([single], false) = (ready.as_slice(), metered) {
            if waited {
                let r = single.clone();
                self.forget_ready(&[r.record.id]);
                let outcome = self.relay_alone(&r.record, r.from, r.call, tick).await;
                self.settle(&r.record, outcome, tick);
            }
            return;
        }
        let Some(batcher) = self.chains.hub().batcher() else {
            return;
        };
        let mut passing = Vec::new();
        let mut chunks = Vec::new();
        let mut rest = ready;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(self.relay.batch_max));
            chunks.push(std::mem::replace(&mut rest, tail));
        }
        for chunk in chunks {
            let calls: Vec<Call> = chunk.iter().map(|r| r.call.clone()).collect();
            match batcher.simulate(&calls, metered).await {
                Ok(results) => {
                    for (r, result) in chunk.into_iter().zip(results) {
                        match result {
                            Simulated::Passes { gas } => {
                                let short = r
                                    .payment
                                    .as_ref()
                                    .and_then(|p| self.paid_enough(p, gas, r.call.value, tick));
                                if let Some(outcome) = short {
                                    self.forget_ready(&[r.record.id]);
                                    self.settle(&r.record, Ok(outcome), tick);
                                } else {
                                    passing.push(Passing { ready: r, gas });
                                }
                            }
                            Simulated::Reverts(revert) => {
                                self.forget_ready(&[r.record.id]);
                                self.judge_alone(&r, revert, tick);
                            }
                        }
                    }
                }
                Err(e) => {
                    // The batch as a whole cannot be judged (a member out of any gas, or the
                    // node): each member goes alone, judged by its own estimate.
                    tracing::warn!(members = chunk.len(), error = %e, "batch simulation failed; its members go alone");
                    for r in chunk {
                        self.forget_ready(&[r.record.id]);
                        let outcome = self.relay_alone(&r.record, r.from, r.call, tick).await;
                        self.settle(&r.record, outcome, tick);
                    }
                }
            }
        }
        let total: u64 = passing.iter().map(Passing::limit).sum();
        let full = total.saturating_add(BATCH_OVERHEAD) >= self.relay.batch_gas
            || passing.len() >= self.relay.batch_max;
        if !full && !waited {
            tracing::debug!(
                members = passing.len(),
                gas = total,
                "holding ready relays for a fuller batch"
            );
            return;
        }
        for batch in self.pack(passing) {
            let ids: Vec<_> = batch.iter().map(|p| p.ready.record.id).collect();
            self.forget_ready(&ids);
            if let ([single], false) = (batch.as_slice(), metered) {
                let r = single.ready.clone();
                let outcome = self.relay_alone(&r.record, r.from, r.call, tick).await;
                self.settle(&r.record, outcome, tick);
                continue;
            }
            let members: Vec<Ready> = batch.iter().map(|p| p.ready.clone()).collect();
            if let Err(e) = self.send_batch(batch, metered, tick).await {
                // Nothing was sent or written: each member's step again after a backoff (no
                // attempt spent when a node failed).
                let why = format!("relay batch not sent: {e}");
                for r in members {
                    let outcome = match &e {
                        StepError::Adapter(a) if a.is_transient() => {
                            self.node_fault(&r.record, a, tick)
                        }
                        _ => Outcome::Backoff(why.clone()),
                    };
                    self.settle(&r.record, Ok(outcome), tick);
                }
            }
        }
    }

    /// Records since when each of `ready` has been ready (forgetting what is no longer ready) and
    /// returns the oldest.
    fn note_ready_since(&self, ready: &[Ready], now: u64) -> Option<u64> {
        let mut since = self.ready_since.lock().unwrap_or_else(|p| p.into_inner());
        let mut kept = HashMap::with_capacity(ready.len());
        for r in ready {
            let at = since.get(&r.record.id).copied().unwrap_or(now);
            kept.insert(r.record.id, at);
        }
        *since = kept;
        since.values().copied().min()
    }

    fn forget_ready(&self, ids: &[xroute_proofs::envelope::MessageId]) {
        let mut since = self.ready_since.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            since.remove(id);
        }
    }

    /// A member the simulation says would revert: what its revert means, as a single relay's
    /// estimate would have said.
    fn judge_alone(&self, r: &Ready, revert: Revert, tick: Tick) {
        let outcome = match revert {
            Revert::AlreadyDone(why) => self
                .mark_hop_made(
                    &r.record,
                    r.from,
                    tick,
                    &format!("hop already made ({why})"),
                )
                .map(|()| Outcome::Done)
                .map_err(StepError::from),
            Revert::Permanent(why) => Ok(Outcome::Park(why)),
            Revert::Transient(why) => Ok(Outcome::Retry(format!("relay would revert: {why}"))),
        };
        self.settle(&r.record, outcome, tick);
    }

    /// Packs the passing members, in order, into batches within the gas budget and the member cap
    /// (a member too large for any batch goes alone).
    fn pack(&self, passing: Vec<Passing>) -> Vec<Vec<Passing>> {
        let budget = self.relay.batch_gas.saturating_sub(BATCH_OVERHEAD);
        let mut batches: Vec<Vec<Passing>> = Vec::new();
        let mut gas = 0u64;
        for p in passing {
            let limit = p.limit();
            match batches.last_mut() {
                Some(b)
                    if b.len() < self.relay.batch_max && gas.saturating_add(limit) <= budget =>
                {
                    gas += limit;
                    b.push(p);
                }
                _ => {
                    gas = limit;
                    batches.push(vec![p]);
                }
            }
        }
        batches
    }

    /// Sends `batch` (two members or more, or one metered) in one transaction: estimated,
    /// signed, persisted with the members' moves, broadcast. If the batch as a whole cannot go
    /// (its estimate reverts), each member goes alone (unmetered). An error means nothing was
    /// sent or written.
    async fn send_batch(
        &self,
        batch: Vec<Passing>,
        metered: bool,
        tick: Tick,
    ) -> Result<(), StepError> {
        // The gas the simulation says the members need (with headroom), whatever the node's
        // estimate: a member that runs out of gas deep inside its call (an Arbitrum exit: the
        // Outbox, the Bridge, then the Hub) can fail without failing the batch, and an estimate
        // then stops at a limit where it fails.
        let needed = batch
            .iter()
            .map(Passing::limit)
            .sum::<u64>()
            .saturating_add(BATCH_OVERHEAD);
        let members: Vec<Ready> = batch.into_iter().map(|p| p.ready).collect();
        let hub = self.chains.hub();
        let Some(batcher) = hub.batcher() else {
            return Err(xroute_adapters::AdapterError::config(
                format!("chains.{}", hub.name()),
                "the hub chain offers no batches",
            )
            .into());
        };
        let calls: Vec<Call> = members.iter().map(|r| r.call.clone()).collect();
        let mut call = batcher.batch(&calls, metered);
        call.min_gas = needed;
        let submitter = self.chains.l1_submitter()?;
        let fees = match submitter.estimate(&call).await? {
            Estimate::Ok(fees) => fees,
            Estimate::Reverts(why) => {
                tracing::warn!(
                    members = members.len(),
                    ?why,
                    "the batch would revert; its members go alone"
                );
                for r in members {
                    let outcome = self.relay_alone(&r.record, r.from, r.call, tick).await;
                    self.settle(&r.record, outcome, tick);
                }
                return Ok(());
            }
        };
        let mut lease = submitter.lease().await;
        let tx = lease.sign(&call, fees).await?;
        let attempt = attempt_of(&tx, call.value, tick.now_ms, hub.domain());
        let record = RelayBatch {
            key: tx.hash,
            members: members.iter().map(|r| r.record.id).collect(),
            attempts: vec![attempt],
        };
        let moves: Vec<_> = members.iter().map(|r| (r.record.id, r.from)).collect();
        let note = format!(
            "relay tx {} (nonce {}), batch of {}",
            tx.hash,
            tx.nonce,
            members.len()
        );
        // Persisted before it leaves, with every member: after a crash the same bytes go again.
        self.store
            .start_batch(&record, &moves, tick.now_ms, &note)?;
        self.durable_before_broadcast("batch.before_broadcast")?;
        if let Err(e) = lease.broadcast(&tx).await {
            drop(lease);
            let _ = self.store.remove_relay_batch(&tx.hash);
            for r in &members {
                // Back to its stage before the batch, from a fresh estimate.
                let outcome = Ok(Outcome::Retry(format!("relay tx {} refused: {e}", tx.hash)));
                if let Ok(Some(now)) = self.store.get(&r.record.id) {
                    self.settle(&now, outcome, tick);
                }
            }
            return Ok(());
        }
        self.metrics.transaction(hub.name(), TxOutcome::Sent);
        self.metrics.batch_sent(hub.name(), members.len());
        tracing::info!(tx = %tx.hash, nonce = tx.nonce, members = members.len(), gas_limit = tx.fees.gas_limit, value = %call.value, "relay batch sent");
        Ok(())
    }

    /// The `Relaying` step of a member of batch `key`: relayed once a mined transaction of the
    /// batch is final and the Hub shows this hop made; retried if the batch was mined without it.
    pub(super) async fn step_batch_member(
        &self,
        record: &MessageRecord,
        key: B256,
        tick: Tick,
    ) -> Result<Outcome, StepError> {
        let Some(batch) = self.store.relay_batch(&key)? else {
            return Ok(Outcome::Retry(format!(
                "its relay batch {key} is not stored"
            )));
        };
        let hub = self.chains.hub();
        let submitter = self.chains.l1_submitter()?;
        let first_member = batch.members.first() == Some(&record.id);
        for attempt in batch.attempts.iter().rev() {
            let Some(mined) = self.batch_receipt(submitter, attempt.tx_hash).await? else {
                continue;
            };
            if mined.block_number > tick.l1_final.number {
                return Ok(Outcome::NotReady);
            }
            if first_member {
                // Once per batch.
                self.count_mined(&mined, attempt.value);
                if mined.success {
                    self.credit_settled_in_batch(attempt.tx_hash, mined.block_number, tick)
                        .await;
                }
            }
            if hub.is_delivered(&record.envelope).await? {
                self.hub_processed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(record.id);
                let note = format!(
                    "relay tx {} final in block {} (batch of {}, gas {})",
                    attempt.tx_hash,
                    mined.block_number,
                    batch.members.len(),
                    mined.gas_used
                );
                self.mark_relayed(&record.id, tick, mined.block_number, &note)?;
                // Its share of the batch's fee and of the value it carried.
                let members = alloy::primitives::U256::from(batch.members.len().max(1));
                self.metrics
                    .spent(record, (mined.fee_paid + attempt.value) / members);
                tracing::info!(id = %record.id, tx = %attempt.tx_hash, block = mined.block_number, "relay final (batch)");
                return Ok(Outcome::Done);
            }
            return Ok(Outcome::Retry(if mined.success {
                format!(
                    "batch tx {} (block {}) did not make this hop: the member reverted in the batch",
                    attempt.tx_hash, mined.block_number
                )
            } else {
                format!(
                    "batch tx {} reverted in block {}",
                    attempt.tx_hash, mined.block_number
                )
            }));
        }
        let Some(last) = batch.attempts.last() else {
            return Ok(Outcome::Retry(format!(
                "relay batch {key} has no transaction"
            )));
        };
        if self.round_mined_nonce(submitter).await? > last.nonce {
            // Its nonce went to a transaction the batch does not list.
            if hub.is_delivered(&record.envelope).await? {
                self.mark_hop_made(record, Stage::Relaying, tick, HUB_PROCESSED)?;
                return Ok(Outcome::Done);
            }
            return Ok(Outcome::Retry(format!(
                "nonce {} of batch {key} was used by another transaction",
                last.nonce
            )));
        }
        // Re-sent or replaced by `watch_batches`.
        Ok(Outcome::NotReady)
    }

    /// Keeps the batches in flight moving, before any member is stepped: an unmined one is re-sent
    /// unchanged, and replaced under its nonce with higher fees after `relay.bump_after_ms` (the
    /// replacement persisted first); one none of whose members is still in flight on it is
    /// forgotten.
    pub(super) async fn watch_batches(&self, tick: Tick) -> Result<(), StepError> {
        // A new round: what the last one read of the batches' transactions is stale.
        *self.round.lock().unwrap_or_else(|p| p.into_inner()) = RoundReads::default();
        for batch in self.store.relay_batches()? {
            let mut live = false;
            for id in &batch.members {
                if let Some(r) = self.store.get(id)? {
                    let on_it = r.relays.last().and_then(|a| a.batch) == Some(batch.key);
                    live |= r.stage == Stage::Relaying && on_it;
                }
            }
            if !live {
                self.store.remove_relay_batch(&batch.key)?;
                continue;
            }
            let submitter = self.chains.l1_submitter()?;
            if self.batch_mined(&batch, submitter).await? {
                continue;
            }
            let Some(last) = batch.attempts.last() else {
                continue;
            };
            if self.round_mined_nonce(submitter).await? > last.nonce {
                continue;
            }
            if tick.now_ms.saturating_sub(last.sent_at_ms) < self.relay.bump_after_ms {
                if let Err(e) = submitter.rebroadcast(&signed_of(last)).await {
                    tracing::debug!(batch = %batch.key, error = %e, "re-broadcast failed");
                }
                continue;
            }
            let mut lease = submitter.lease().await;
            let tx = lease.replace(&signed_of(last)).await?;
            let attempt = RelayAttempt {
                tx_hash: tx.hash,
                nonce: tx.nonce,
                sent_at_ms: tick.now_ms,
                raw: tx.raw.clone(),
                gas_limit: tx.fees.gas_limit,
                max_fee_per_gas: tx.fees.max_fee_per_gas,
                max_priority_fee_per_gas: tx.fees.max_priority_fee_per_gas,
                ..last.clone()
            };
            self.store.push_batch_attempt(&batch.key, &attempt)?;
            self.durable_before_broadcast("batch.before_broadcast")?;
            lease.broadcast(&tx).await?;
            self.metrics.transaction(
                self.chains.name_of(last.domain).unwrap_or("?"),
                TxOutcome::Replaced,
            );
            tracing::info!(batch = %batch.key, tx = %tx.hash, nonce = tx.nonce, max_fee = tx.fees.max_fee_per_gas, "stuck relay batch replaced with higher fees");
        }
        Ok(())
    }

    async fn batch_mined(
        &self,
        batch: &RelayBatch,
        submitter: &dyn Submitter,
    ) -> Result<bool, StepError> {
        for attempt in &batch.attempts {
            if self
                .batch_receipt(submitter, attempt.tx_hash)
                .await?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The receipt of batch transaction `hash`, asked of the node once per round: every member of
    /// the batch reads the same one.
    async fn batch_receipt(
        &self,
        submitter: &dyn Submitter,
        hash: B256,
    ) -> Result<Option<Mined>, StepError> {
        if let Some(known) = self.round_reads().receipts.get(&hash) {
            return Ok(*known);
        }
        let mined = submitter.receipt(hash).await?;
        self.round_reads().receipts.insert(hash, mined);
        Ok(mined)
    }

    /// The relayer's mined nonce on L1, asked of the node once per round for the batches.
    async fn round_mined_nonce(&self, submitter: &dyn Submitter) -> Result<u64, StepError> {
        if let Some(nonce) = self.round_reads().mined_nonce {
            return Ok(nonce);
        }
        let nonce = submitter.mined_nonce().await?;
        self.round_reads().mined_nonce = Some(nonce);
        Ok(nonce)
    }

    fn round_reads(&self) -> std::sync::MutexGuard<'_, RoundReads> {
        self.round.lock().unwrap_or_else(|p| p.into_inner())
    }
}
