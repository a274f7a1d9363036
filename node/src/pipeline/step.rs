//! One step of one message, per stage. Each step reads the chains before acting, so running it
//! again after a crash finds the work done and moves on. Nothing here knows a chain family: the
//! source's exit, the destination's entry and every transaction come from the adapters.

use std::sync::Arc;

use alloy::primitives::{Bytes, U256};
use xroute_adapters::{
    AdapterError, Call, ChainAdapter, ChainAdapterExt, Entry, Estimate, Exit, Fees, Mined, Revert,
    SignedTx, Submitter,
};

use super::{Gate, Outcome, Pipeline, Then, Tick, Turn};
use crate::{
    metrics::TxOutcome,
    model::{Change, MessageRecord, RelayAttempt, Stage},
    store::StoreError,
};

/// Why a step could not finish (the same step again after a backoff).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

type StepResult = Result<Outcome, StepError>;

/// A chain as the pipeline holds it.
type Chain = Arc<dyn ChainAdapter>;

/// The longest a relayed message waits between two questions to its destination.
const MAX_DELIVERY_WAIT_MS: u64 = 60_000;

/// The note of a hop the Hub processed before this router's relay of it was known to be final.
pub(super) const HUB_PROCESSED: &str = "the Hub already processed it";

impl Pipeline {
    pub(super) async fn step(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        match record.stage {
            Stage::Sent => self.step_sent(record, tick).await,
            Stage::Proven => self.step_proven(record, tick).await,
            Stage::Relaying => self.step_relaying(record, tick).await,
            Stage::Relayed => self.step_relayed(record, tick).await,
            Stage::Attested => self.step_attested(record, tick).await,
            _ => Ok(Outcome::NotReady),
        }
    }

    /// The source and destination chains of `record`, or why the message cannot go on.
    fn ends(&self, record: &MessageRecord) -> Result<(&Chain, &Chain), String> {
        let env = &record.envelope;
        let dst = self.chains.get(env.dst_domain).ok_or_else(|| {
            format!(
                "unknown destination domain {}: no chain with this domain is configured",
                env.dst_domain
            )
        })?;
        let src = self
            .chains
            .get(env.src_domain)
            .ok_or_else(|| format!("unknown source domain {}", env.src_domain))?;
        Ok((src, dst))
    }

    async fn step_sent(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        let (src, _) = match self.ends(record) {
            Ok(ends) => ends,
            Err(reason) => return Ok(Outcome::Park(reason)),
        };
        if self.hop_made(record, Stage::Sent, tick).await? {
            // Already through the Hub (delivered at once to an L1 app, or relayed before).
            return Ok(Outcome::Done);
        }
        let l1 = self.chains.l1(tick.l1_final)?;
        let proof = match src
            .exit(
                &record.envelope,
                record.source.block_number,
                &l1,
                &Bytes::new(),
            )
            .await?
        {
            Exit::NotYet => return Ok(Outcome::AwaitExit),
            Exit::Never(reason) => return Ok(Outcome::Park(reason)),
            Exit::Ready { proof, .. } => proof,
        };
        Ok(Outcome::moved(
            Stage::Proven,
            proof,
            Change::step_done(),
            Then::Attest,
        ))
    }

    async fn step_proven(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        if self.hop_made(record, Stage::Proven, tick).await? {
            return Ok(Outcome::Done);
        }
        match self.coordinator.gate(record)? {
            Gate::Open => self.relay(record, Stage::Proven, tick).await,
            Gate::Closed => Ok(Outcome::NotReady),
            Gate::Certified(note) => Self::attest(&note, None),
            Gate::CheckpointCertified { note, place } => Self::attest(&note, Some(place)),
        }
    }

    /// `record` is certified: it becomes `Attested`, keeping its checkpoint's `place` if a
    /// checkpoint certified it.
    fn attest(note: &str, place: Option<crate::model::CheckpointPlace>) -> StepResult {
        Ok(Outcome::moved(
            Stage::Attested,
            note,
            Change::default().checkpoint(place),
            if place.is_some() {
                Then::CheckpointAttested
            } else {
                Then::Nothing
            },
        ))
    }

    async fn step_attested(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        if self.hop_made(record, Stage::Attested, tick).await? {
            return Ok(Outcome::Done);
        }
        let attested_at = record
            .history
            .iter()
            .rev()
            .find(|t| t.to == Stage::Attested)
            .map(|t| t.at_ms)
            .unwrap_or(tick.now_ms);
        match self.coordinator.turn(record, attested_at, tick.now_ms) {
            Turn::Wait(why) => {
                tracing::trace!(id = %record.id, %why, "not this router's turn");
                Ok(Outcome::NotReady)
            }
            Turn::Claimed => {
                tracing::debug!(id = %record.id, "claimed the hop");
                Ok(Outcome::NotReady)
            }
            Turn::Relay => self.relay(record, Stage::Attested, tick).await,
        }
    }

    /// `Relaying → Relayed` for `id`, its relay final in L1 block `block` (`note` says by which
    /// transaction).
    pub(super) fn mark_relayed(
        &self,
        id: &xroute_proofs::envelope::MessageId,
        tick: Tick,
        block: u64,
        note: &str,
    ) -> Result<(), StoreError> {
        self.store.transition(
            id,
            Stage::Relaying,
            Stage::Relayed,
            tick.now_ms,
            note,
            Change::step_done().relayed_in(Some(block)),
        )?;
        Ok(())
    }

    /// Counts a mined relay transaction of the hub chain (carrying `value`) in the metrics.
    pub(super) fn count_mined(&self, mined: &Mined, value: U256) {
        let hub = self.chains.hub().name();
        let outcome = if mined.success {
            TxOutcome::Succeeded
        } else {
            TxOutcome::Reverted
        };
        self.metrics.transaction(hub, outcome);
        if mined.success {
            self.metrics
                .relay_mined(hub, mined.gas_used, f64::from(value));
        }
    }

    /// Whether the Hub already processed the message (this router's relay, sent before a failure
    /// it could not see through, or another relayer's); if so, it moves on to `Relayed`.
    async fn hop_made(
        &self,
        record: &MessageRecord,
        from: Stage,
        tick: Tick,
    ) -> Result<bool, StepError> {
        // Asked once per round: a message this round proved is not asked again as `Proven`.
        let asked = self
            .hop_not_made
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&record.id);
        if asked || !self.chains.hub().is_delivered(&record.envelope).await? {
            self.hop_not_made
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(record.id);
            return Ok(false);
        }
        self.mark_hop_made(record, from, tick, HUB_PROCESSED)?;
        Ok(true)
    }

    /// Records that the current hop was made, from stage `from`, with `note`. A message still
    /// `Sent` passes `Proven` on the way (its proof is the Hub's own record).
    pub(super) fn mark_hop_made(
        &self,
        record: &MessageRecord,
        from: Stage,
        tick: Tick,
        note: &str,
    ) -> Result<(), StoreError> {
        let id = &record.id;
        let from = if from == Stage::Sent {
            self.store.transition(
                id,
                Stage::Sent,
                Stage::Proven,
                tick.now_ms,
                note,
                Change::default().reason(None),
            )?;
            Stage::Proven
        } else {
            from
        };
        self.store.transition(
            id,
            from,
            Stage::Relayed,
            tick.now_ms,
            note,
            Change::default().reason(None),
        )?;
        Ok(())
    }

    /// Makes the current hop from stage `from` (`Proven` alone, `Attested` in a network): the
    /// destination's entry and the source's exit call, then either the call joins this round's
    /// batch ([`Pipeline::relay_ready`]) or it goes alone.
    async fn relay(&self, record: &MessageRecord, from: Stage, tick: Tick) -> StepResult {
        let payment = match self.payment_gate(record, tick).await? {
            Ok(payment) => payment,
            Err(outcome) => return Ok(outcome),
        };
        let refund_to = payment.as_ref().and_then(|p| p.refund_to);
        let call = match self.relay_call(record, tick, refund_to).await? {
            Ok(call) => call,
            Err(outcome) => return Ok(outcome),
        };
        // A paid relay is metered: it goes in the Hub's metered batch, even alone.
        if self.batching() || (payment.is_some() && self.chains.hub().batcher().is_some()) {
            self.hold_for_batch(record, from, call, payment);
            return Ok(Outcome::NotReady);
        }
        self.relay_alone(record, from, call, tick).await
    }

    /// The L1 call of `record`'s hop with its value (the destination's entry fee less what the
    /// sender prepaid), or what the message comes to instead; the next leg's overpayment goes to
    /// `refund_to` (its payer's choice) where the destination refunds one.
    async fn relay_call(
        &self,
        record: &MessageRecord,
        tick: Tick,
        refund_to: Option<alloy::primitives::B256>,
    ) -> Result<Result<Call, Outcome>, StepError> {
        let (src, dst) = match self.ends(record) {
            Ok(ends) => ends,
            Err(reason) => return Ok(Err(Outcome::Park(reason))),
        };
        let env = &record.envelope;
        let l1 = self.chains.l1(tick.l1_final)?;
        let (fee, terms) = match dst.entry(env, &l1).await? {
            Entry::Refused(reason) => return Ok(Err(Outcome::Park(reason))),
            Entry::Accepted { fee, terms } => match refund_to {
                Some(to) => (fee, dst.with_refund_to(&terms, to)),
                None => (fee, terms),
            },
        };
        let (mut call, prepaid) = match src
            .exit(env, record.source.block_number, &l1, &terms)
            .await?
        {
            Exit::Ready { call, prepaid, .. } => (call, prepaid),
            Exit::NotYet => {
                return Ok(Err(Outcome::Retry(format!(
                    "L1 block {} no longer shows it consumable",
                    tick.l1_final.number
                ))));
            }
            Exit::Never(reason) => return Ok(Err(Outcome::Park(reason))),
        };
        call.value = fee.saturating_sub(prepaid);
        Ok(Ok(call))
    }

    /// Sends `call`, `record`'s hop from `from`, in a transaction of its own: the estimate (a
    /// revert that can never pass parks it), then sign, persist, broadcast.
    pub(super) async fn relay_alone(
        &self,
        record: &MessageRecord,
        from: Stage,
        call: Call,
        tick: Tick,
    ) -> StepResult {
        let submitter = self.chains.l1_submitter()?;
        let fees = match submitter.estimate(&call).await? {
            Estimate::Ok(fees) => fees,
            Estimate::Reverts(Revert::AlreadyDone(why)) => {
                self.mark_hop_made(record, from, tick, &format!("hop already made ({why})"))?;
                return Ok(Outcome::Done);
            }
            Estimate::Reverts(Revert::Permanent(why)) => return Ok(Outcome::Park(why)),
            Estimate::Reverts(Revert::Transient(why)) => {
                return Ok(Outcome::Retry(format!("relay would revert: {why}")));
            }
        };
        let hub = self.chains.hub();
        let id = record.id;
        let mut lease = submitter.lease().await;
        let tx = lease.sign(&call, fees).await?;
        let attempt = attempt_of(&tx, call.value, tick.now_ms, hub.domain());
        let note = format!("relay tx {} (nonce {})", tx.hash, tx.nonce);
        // Persisted before it leaves: after a crash the same bytes are re-sent, never a second
        // transaction for the hop.
        self.store.transition(
            &id,
            from,
            Stage::Relaying,
            tick.now_ms,
            &note,
            Change::default().relay(attempt),
        )?;
        self.durable_before_broadcast("relay.before_broadcast")?;
        if let Err(e) = lease.broadcast(&tx).await {
            drop(lease);
            return Ok(Outcome::Retry(format!("relay tx {} refused: {e}", tx.hash)));
        }
        self.metrics.transaction(hub.name(), TxOutcome::Sent);
        tracing::info!(%id, tx = %tx.hash, nonce = tx.nonce, value = %call.value, "relay sent");
        Ok(Outcome::Done)
    }

    async fn step_relaying(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        let hub = self.chains.hub();
        let id = record.id;
        // Until the Hub shows the hop made, the others must not take it over.
        self.coordinator.relaying(record, tick.now_ms);
        let attempts = sent_on(record, hub.domain());
        let Some(last) = attempts.first().copied() else {
            return Ok(Outcome::Retry(
                "relaying without a recorded transaction".into(),
            ));
        };
        if let Some(batch) = last.batch {
            return self.step_batch_member(record, batch, tick).await;
        }
        let submitter = self.chains.l1_submitter()?;
        for attempt in &attempts {
            let Some(mined) = submitter.receipt(attempt.tx_hash).await? else {
                continue;
            };
            if mined.block_number > tick.l1_final.number {
                return Ok(Outcome::NotReady);
            }
            self.count_mined(&mined, attempt.value);
            if mined.success {
                let note = format!(
                    "relay tx {} final in block {} (gas {})",
                    attempt.tx_hash, mined.block_number, mined.gas_used
                );
                self.mark_relayed(&id, tick, mined.block_number, &note)?;
                self.metrics.spent(record, mined.fee_paid + attempt.value);
                tracing::info!(%id, tx = %attempt.tx_hash, block = mined.block_number, "relay final");
                return Ok(Outcome::Done);
            }
            if hub.is_delivered(&record.envelope).await? {
                let note = format!(
                    "relay tx {} reverted; the Hub had already processed it",
                    attempt.tx_hash
                );
                self.mark_hop_made(record, Stage::Relaying, tick, &note)?;
                return Ok(Outcome::Done);
            }
            return Ok(Outcome::Retry(format!(
                "relay tx {} reverted in block {}",
                attempt.tx_hash, mined.block_number
            )));
        }
        // Not mined (yet).
        if submitter.mined_nonce().await? > last.nonce {
            // Its nonce went to a transaction we do not know of (a receipt race resolves next tick).
            if hub.is_delivered(&record.envelope).await? {
                return Ok(Outcome::NotReady);
            }
            return Ok(Outcome::Retry(format!(
                "nonce {} was used by another transaction",
                last.nonce
            )));
        }
        self.resend_or_bump(record, last, submitter, tick).await
    }

    /// A sent transaction not mined yet: re-sent unchanged (idempotent; after a restart this is
    /// the first time the node sees it) until `relay.bump_after_ms`, then replaced under the same
    /// nonce with higher fees, the replacement persisted before it is sent.
    async fn resend_or_bump(
        &self,
        record: &MessageRecord,
        last: &RelayAttempt,
        submitter: &dyn Submitter,
        tick: Tick,
    ) -> StepResult {
        let id = record.id;
        if tick.now_ms.saturating_sub(last.sent_at_ms) < self.relay.bump_after_ms {
            if let Err(e) = submitter.rebroadcast(&signed_of(last)).await {
                tracing::debug!(%id, error = %e, "re-broadcast failed");
            }
            return Ok(Outcome::NotReady);
        }
        let mut lease = submitter.lease().await;
        let tx = lease.replace(&signed_of(last)).await?;
        let attempt = attempt_of(&tx, last.value, tick.now_ms, last.domain);
        self.store
            .update(&id, Change::default().relay(attempt.clone()))?;
        self.durable_before_broadcast("relay.before_broadcast")?;
        lease.broadcast(&tx).await?;
        self.metrics.transaction(
            self.chains.name_of(last.domain).unwrap_or("?"),
            TxOutcome::Replaced,
        );
        tracing::info!(%id, tx = %tx.hash, nonce = tx.nonce, max_fee = tx.fees.max_fee_per_gas, "stuck transaction replaced with higher fees");
        Ok(Outcome::NotReady)
    }

    async fn step_relayed(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        let id = record.id;
        let (_, dst) = match self.ends(record) {
            Ok(ends) => ends,
            Err(reason) => return Ok(Outcome::Park(reason)),
        };
        // An L1 app's message the Hub processed this round is delivered (the same question).
        let processed = dst.domain() == self.chains.hub_domain()
            && self
                .hub_processed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&id);
        if !processed && !dst.is_delivered(&record.envelope).await? {
            let l1 = self.chains.l1(tick.l1_final)?;
            return match dst
                .follow_up(&record.envelope, record.relayed_in, &l1)
                .await?
            {
                None => Ok(Outcome::LookAgainAt(
                    tick.now_ms + self.delivery_wait(record, tick.now_ms),
                )),
                Some(call) => self.follow_up(record, dst, call, tick).await,
            };
        }
        Ok(Outcome::moved(
            Stage::Delivered,
            format!("delivered on {}", dst.name()),
            Change::default().reason(None),
            Then::Nothing,
        ))
    }

    /// How long a relayed message not delivered yet waits before it is asked again: a quarter of
    /// the time since its relay, at least one poll, at most a minute (a destination delivers in
    /// seconds locally, in minutes on a public chain; 10,000 waiting cost 10,000 requests a
    /// round if asked every round).
    fn delivery_wait(&self, record: &MessageRecord, now_ms: u64) -> u64 {
        let relayed_at = record
            .history
            .iter()
            .rev()
            .find(|t| t.to == Stage::Relayed)
            .map_or(now_ms, |t| t.at_ms);
        (now_ms.saturating_sub(relayed_at) / 4)
            .clamp(self.relay.poll_interval_ms, MAX_DELIVERY_WAIT_MS)
    }

    /// Sends (or watches) the follow-up `call` the destination asks for, on the destination:
    /// persisted before it is sent, one at a time, re-sent or replaced while it waits.
    async fn follow_up(
        &self,
        record: &MessageRecord,
        dst: &Chain,
        call: Call,
        tick: Tick,
    ) -> StepResult {
        let Some(submitter) = dst.submitter() else {
            return Ok(Outcome::Park(format!(
                "{} asks for a follow-up transaction, and this router has no account there",
                dst.name()
            )));
        };
        let sent = sent_on(record, dst.domain());
        if let Some(last) = sent.first().copied() {
            for attempt in &sent {
                if let Some(mined) = submitter.receipt(attempt.tx_hash).await? {
                    // Mined, and the destination still asks for the call (it read the chain
                    // before this receipt, so the call ran and did not deliver: a redeem whose
                    // retry failed again), or it reverted: a failed attempt. Sent again while
                    // attempts are left, so a call that keeps failing parks the message instead
                    // of paying forever.
                    let failed = if mined.success {
                        format!(
                            "follow-up tx {} on {} (block {}) did not deliver it",
                            attempt.tx_hash,
                            dst.name(),
                            mined.block_number
                        )
                    } else {
                        format!(
                            "follow-up tx {} reverted on {} in block {}",
                            attempt.tx_hash,
                            dst.name(),
                            mined.block_number
                        )
                    };
                    if record.attempts + 1 >= self.relay.max_attempts {
                        return Ok(Outcome::Backoff(failed));
                    }
                    let again = self
                        .send_follow_up(record, dst, submitter, call, tick)
                        .await?;
                    return Ok(match again {
                        Outcome::NotReady => Outcome::Backoff(format!("{failed}; sent again")),
                        other => other,
                    });
                }
            }
            if submitter.mined_nonce().await? > last.nonce {
                // Its nonce went elsewhere: the call goes again.
                return self
                    .send_follow_up(record, dst, submitter, call, tick)
                    .await;
            }
            return self.resend_or_bump(record, last, submitter, tick).await;
        }
        self.send_follow_up(record, dst, submitter, call, tick)
            .await
    }

    async fn send_follow_up(
        &self,
        record: &MessageRecord,
        dst: &Chain,
        submitter: &dyn Submitter,
        call: Call,
        tick: Tick,
    ) -> StepResult {
        let id = record.id;
        let fees = match submitter.estimate(&call).await? {
            Estimate::Ok(fees) => fees,
            Estimate::Reverts(Revert::AlreadyDone(_)) => return Ok(Outcome::NotReady),
            Estimate::Reverts(Revert::Permanent(why)) => return Ok(Outcome::Park(why)),
            Estimate::Reverts(Revert::Transient(why)) => {
                return Ok(Outcome::Backoff(format!(
                    "follow-up on {} would revert: {why}",
                    dst.name()
                )));
            }
        };
        let mut lease = submitter.lease().await;
        let tx = lease.sign(&call, fees).await?;
        let attempt = attempt_of(&tx, call.value, tick.now_ms, dst.domain());
        self.store
            .update(&id, Change::default().relay(attempt.clone()))?;
        self.durable_before_broadcast("follow_up.before_broadcast")?;
        lease.broadcast(&tx).await?;
        self.metrics.transaction(dst.name(), TxOutcome::Sent);
        tracing::info!(%id, chain = dst.name(), tx = %tx.hash, "follow-up sent");
        Ok(Outcome::NotReady)
    }
}

/// The transactions sent on the chain of `domain` for `record`, newest first.
fn sent_on(record: &MessageRecord, domain: u32) -> Vec<&RelayAttempt> {
    record
        .relays
        .iter()
        .rev()
        .filter(|a| a.domain == domain)
        .collect()
}

/// What a transaction sent on the chain of `domain`, carrying `value`, is recorded as.
pub(super) fn attempt_of(tx: &SignedTx, value: U256, now: u64, domain: u32) -> RelayAttempt {
    RelayAttempt {
        domain,
        tx_hash: tx.hash,
        nonce: tx.nonce,
        sent_at_ms: now,
        raw: tx.raw.clone(),
        gas_limit: tx.fees.gas_limit,
        max_fee_per_gas: tx.fees.max_fee_per_gas,
        max_priority_fee_per_gas: tx.fees.max_priority_fee_per_gas,
        value,
        batch: None,
    }
}

pub(super) fn signed_of(a: &RelayAttempt) -> SignedTx {
    SignedTx {
        hash: a.tx_hash,
        nonce: a.nonce,
        raw: a.raw.clone(),
        fees: Fees {
            gas_limit: a.gas_limit,
            max_fee_per_gas: a.max_fee_per_gas,
            max_priority_fee_per_gas: a.max_priority_fee_per_gas,
        },
    }
}
