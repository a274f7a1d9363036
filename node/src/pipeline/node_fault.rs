//! A step that failed because a node did (timed out, refused, rate-limited, answered garbage):
//! not the message's fault, so none of its attempts is spent.

use xroute_adapters::AdapterError;

use super::{Outcome, Pipeline, Tick, backoff_ms};
use crate::{
    model::{Change, MessageRecord},
    store::StoreError,
};

impl Pipeline {
    /// A step that failed because a node did: counted per chain and kind, its reason set to
    /// "waiting for CHAIN's node (KIND)" (written only when it changes), and looked at again after
    /// the first backoff, with the message's attempts untouched.
    pub(super) fn node_fault(
        &self,
        record: &MessageRecord,
        e: &AdapterError,
        tick: Tick,
    ) -> Outcome {
        let id = record.id;
        let chain = e.chain().unwrap_or("?");
        self.metrics.node_fault(chain, e.kind());
        tracing::debug!(%id, chain, error = %e, "a node failed; the step is tried again, no attempt spent");
        let reason = format!("waiting for {chain}'s node ({})", e.kind());
        if record.reason.as_deref() != Some(reason.as_str())
            && let Err(e) = self
                .store
                .update(&id, Change::default().reason(Some(reason)))
            && !matches!(e, StoreError::StageMismatch { .. })
        {
            tracing::error!(%id, error = %e, "cannot record why a message waits");
        }
        Outcome::LookAgainAt(tick.now_ms + self.node_fault_wait(chain))
    }

    /// How long a message waits after `chain`'s node failed its step: the first backoff while
    /// the chain's indexer still hears from the node (a flaky node), growing with how long it has
    /// not (half that silence, up to `relay.backoff_max_ms`), so a node that stays down is asked
    /// less and less often.
    fn node_fault_wait(&self, chain: &str) -> u64 {
        let first = backoff_ms(&self.relay, 1);
        let silent = self
            .metrics
            .chain_silence_ms()
            .get(chain)
            .copied()
            .flatten()
            .unwrap_or(0);
        (silent / 2).clamp(first, self.relay.backoff_max_ms.max(first))
    }
}
