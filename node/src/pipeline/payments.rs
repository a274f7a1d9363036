//! Payments (issue 27) in the pipeline: a message's relay waits for what its payment allows.
//!
//! Before a hop is made, the payment for the message is read from its source chain's gas tank
//! (the Hub's own for an L1 app's message). A paid message is relayed metered (in the Hub's
//! `relayBatchMetered`, so its relay becomes a receipt its tank settles), **held** while the L1
//! base fee is above its payer's cap and while its relay needs more gas than it pays for, and
//! parked once its deadline passed, until its payer tops it up with a later one. Under the
//! `paid` policy an unpaid message, or one paid less than `min_paid_percent` of the router's own
//! estimate, waits too. A held message keeps its stage and spends no attempt; its reason says
//! why it waits.

use alloy::primitives::U256;
use xroute_adapters::{ChainAdapterExt, Payment};
use xroute_config::PaymentPolicy;

use super::{Outcome, Pipeline, Tick, step::StepError};
use crate::model::{Change, MessageRecord, Stage};

/// Why a message waits on its payment: its reason's first word (every held message is stepped
/// each round, so a round counts them all).
pub(super) const WAITING: [&str; 3] = ["held", "unpaid", "underpaid"];

/// How the reason of a message parked past its payment's deadline starts: such a message starts
/// over once its payer moved the deadline (`top_up`).
pub(super) const DEADLINE_PASSED: &str = "its payment's deadline passed";

/// `wei` in gwei, as a person reads it (`41 gwei`, `0.5 gwei`).
pub(crate) fn gwei(wei: U256) -> String {
    let gwei = U256::from(1_000_000_000u64);
    let whole = wei / gwei;
    let frac = (wei % gwei).to::<u64>();
    if frac == 0 {
        format!("{whole} gwei")
    } else {
        let digits = format!("{frac:09}");
        format!("{whole}.{} gwei", digits.trim_end_matches('0'))
    }
}

impl Pipeline {
    /// What `record`'s payment says of its relay now: go (`Some`: paid, relayed metered), or
    /// what the message comes to instead.
    pub(super) async fn payment_gate(
        &self,
        record: &MessageRecord,
        tick: Tick,
    ) -> Result<Result<Option<Payment>, Outcome>, StepError> {
        let Some(src) = self.chains.get(record.envelope.src_domain) else {
            return Ok(Ok(None));
        };
        let Some(p) = src.payment(record.id).await? else {
            return Ok(match self.payments.policy {
                PaymentPolicy::None => Ok(None),
                PaymentPolicy::Paid => Err(Outcome::Hold(format!(
                    "unpaid: nobody has paid for its relay, and this router relays only paid \
                     messages (payments.policy = \"paid\"); pay for it in {}'s gas tank",
                    src.name()
                ))),
            });
        };
        if tick.l1_time > p.deadline {
            return Ok(Err(Outcome::Park(format!(
                "{DEADLINE_PASSED} (deadline {}, L1 time {}); its payer's top_up with a later \
                 deadline brings it back",
                p.deadline, tick.l1_time
            ))));
        }
        if tick.l1_base_fee > U256::from(p.max_base_fee) {
            return Ok(Err(Outcome::Hold(format!(
                "held: L1 base fee {} above the payer's cap {}",
                gwei(tick.l1_base_fee),
                gwei(U256::from(p.max_base_fee))
            ))));
        }
        Ok(Ok(Some(p)))
    }

    /// Whether a paid relay that a simulation says uses `gas` (and pays `fee` toward its next
    /// leg) may go on payment `p`: `None` if so, else why it waits.
    pub(super) fn paid_enough(
        &self,
        p: &Payment,
        gas: u64,
        fee: U256,
        tick: Tick,
    ) -> Option<Outcome> {
        if gas > p.gas_limit {
            return Some(Outcome::Hold(format!(
                "held: its relay needs about {gas} L1 gas, its payment covers {} (a top_up with \
                 a higher gas limit lets it go)",
                p.gas_limit
            )));
        }
        if self.payments.policy == PaymentPolicy::Paid {
            let own = U256::from(gas) * tick.l1_base_fee + fee;
            let need = own * U256::from(self.payments.min_paid_percent) / U256::from(100u8);
            if p.reserved < need {
                return Some(Outcome::Hold(format!(
                    "underpaid: its payment reserves {} wei, this router asks at least {}% of \
                     its estimate {own} wei ({gas} gas at {} plus {fee} wei toward the next leg)",
                    p.reserved,
                    self.payments.min_paid_percent,
                    gwei(tick.l1_base_fee)
                )));
            }
        }
        None
    }

    /// An L1 app's paid message is settled in its relay: what the Hub credited this router in
    /// batch transaction `tx` (its `Settled` events, in block `block`) is revenue. One log query
    /// per batch, for all its members.
    pub(super) async fn credit_settled_in_batch(
        &self,
        tx: alloy::primitives::B256,
        block: u64,
        tick: Tick,
    ) {
        use alloy::sol_types::SolEvent;
        use xroute_adapters::hub::Hub;
        let Ok(l1) = self.chains.l1(tick.l1_final) else {
            return;
        };
        let Ok(me) = self.chains.l1_submitter().map(|s| s.sender()) else {
            return;
        };
        let filter = alloy::rpc::types::Filter::new()
            .address(l1.state.hub())
            .event_signature(Hub::Settled::SIGNATURE_HASH)
            .topic2(me)
            .from_block(block)
            .to_block(block);
        let Ok(logs) = l1.state.logs(&filter).await else {
            return;
        };
        for log in logs.iter().filter(|l| l.transaction_hash == Some(tx)) {
            if let Ok(e) = Hub::Settled::decode_log(&log.inner)
                && let Ok(Some(record)) = self
                    .store
                    .get(&xroute_proofs::envelope::MessageId(e.data.id))
            {
                self.metrics.earned(&record, e.data.charge);
            }
        }
    }

    /// Counts a message this round held for `reason` (its kind is the reason's first word).
    pub(super) fn count_waiting(&self, reason: &str) {
        let kind = WAITING.iter().position(|k| {
            reason
                .strip_prefix(k)
                .is_some_and(|rest| rest.starts_with(':'))
        });
        if let Some(k) = kind {
            self.waiting.lock().unwrap_or_else(|p| p.into_inner())[k] += 1;
        }
    }

    /// Publishes this round's counts of messages waiting on their payment, and starts the next.
    pub(super) fn publish_waiting(&self) {
        let counts = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|p| p.into_inner()));
        for (kind, n) in WAITING.iter().zip(counts) {
            self.metrics.waiting_for_payment(kind, n);
        }
    }

    /// Messages parked past their payment's deadline whose payer has since moved the deadline
    /// (`top_up`) start over from `Sent`.
    pub(super) async fn unpark_topped_up(&self, tick: Tick) {
        let Ok(ids) = self.store.ids_in(Stage::Parked, usize::MAX) else {
            return;
        };
        for id in ids {
            let Ok(Some(r)) = self.store.get(&id) else {
                continue;
            };
            if !r
                .reason
                .as_deref()
                .is_some_and(|why| why.starts_with(DEADLINE_PASSED))
            {
                continue;
            }
            let Some(src) = self.chains.get(r.envelope.src_domain) else {
                continue;
            };
            let Ok(Some(p)) = src.payment(id).await else {
                continue;
            };
            if p.deadline < tick.l1_time {
                continue;
            }
            let note = format!("its payer topped up: deadline {}", p.deadline);
            let moved = self.store.transition(
                &id,
                Stage::Parked,
                Stage::Sent,
                tick.now_ms,
                &note,
                Change::step_done().attempts(0, 0),
            );
            match moved {
                Ok(_) => {
                    tracing::info!(%id, deadline = p.deadline, "topped up; the message starts over")
                }
                Err(e) => tracing::warn!(%id, error = %e, "cannot unpark a topped-up message"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gwei_reads_whole_and_fractional_amounts() {
        assert_eq!(gwei(U256::from(41_000_000_000u64)), "41 gwei");
        assert_eq!(gwei(U256::from(500_000_000u64)), "0.5 gwei");
        assert_eq!(gwei(U256::from(1u64)), "0.000000001 gwei");
    }
}
