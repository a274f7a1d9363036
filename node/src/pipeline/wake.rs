//! Readiness from L1 (issue 28). A message whose exit L1 does not show yet (`Exit::NotYet`) waits
//! here and costs no chain call: it is looked at again only when the events its source chain left
//! on L1 in the blocks finalized since name it ([`xroute_adapters::ChainAdapter::exits`]: the
//! messaging contract's `LogMessageToL1`, the Outbox's send roots, the Hub's own blocks). A round
//! reads those events once per source chain with messages waiting, so its cost follows what
//! became ready, not what is stored. After a restart nothing waits here: every `Sent` message is
//! looked at once, then waits again.

use std::collections::{HashMap, HashSet};

use xroute_adapters::Exits;
use xroute_proofs::envelope::MessageId;

use super::{Pipeline, Tick};
use crate::model::MessageRecord;

/// The messages waiting for their exit, and how far L1's events were read for each source chain.
#[derive(Debug, Default)]
pub(super) struct ExitWaits {
    /// Waiting message → its source domain and source block.
    ids: HashMap<MessageId, (u32, u64)>,
    /// Per source domain with messages waiting: the last finalized L1 block whose events were
    /// read (each waiting message was looked at, or woken, at or after it).
    read_to: HashMap<u32, u64>,
}

impl ExitWaits {
    /// `record` waits for its exit; it was looked at with L1 final at `l1_final`.
    pub(super) fn wait(&mut self, record: &MessageRecord, l1_final: u64) {
        let domain = record.envelope.src_domain;
        self.ids
            .insert(record.id, (domain, record.source.block_number));
        // A read that failed earlier keeps its start: the next one covers this message too.
        self.read_to.entry(domain).or_insert(l1_final);
    }

    /// Of `sent` (every message in `Sent`), those to step this round: the ones not waiting.
    /// What waits and is no longer `Sent` (moved on, parked, dropped) stops waiting.
    pub(super) fn steppable(&mut self, sent: Vec<MessageId>) -> Vec<MessageId> {
        let live: HashSet<MessageId> = sent.iter().copied().collect();
        self.ids.retain(|id, _| live.contains(id));
        sent.into_iter()
            .filter(|id| !self.ids.contains_key(id))
            .collect()
    }

    /// The source domains whose events to read up to `l1_final`, each from where it was read
    /// to; a domain with nothing waiting is forgotten.
    fn reads(&mut self, l1_final: u64) -> Vec<(u32, u64)> {
        let waiting: HashSet<u32> = self.ids.values().map(|(d, _)| *d).collect();
        self.read_to.retain(|d, _| waiting.contains(d));
        self.read_to
            .iter()
            .filter(|(_, read)| **read < l1_final)
            .map(|(d, read)| (*d, read + 1))
            .collect()
    }

    /// Applies what L1's events up to `to` say of `domain`'s messages; returns how many woke.
    fn wake(&mut self, domain: u32, to: u64, exits: Exits) -> usize {
        let before = self.ids.len();
        match exits {
            Exits::Ids(ids) => {
                for id in ids {
                    self.ids.remove(&id);
                }
            }
            Exits::UpTo(block) => self
                .ids
                .retain(|_, (d, sent_in)| *d != domain || *sent_in > block),
            Exits::Unknown => self.ids.retain(|_, (d, _)| *d != domain),
        }
        self.read_to.insert(domain, to);
        before - self.ids.len()
    }

    /// How many of `domain`'s messages wait.
    fn count(&self, domain: u32) -> u64 {
        self.ids.values().filter(|(d, _)| *d == domain).count() as u64
    }
}

impl Pipeline {
    /// Reads, for each source chain with messages waiting for their exit, L1's events since it
    /// last did, and wakes the messages they name. A chain whose read fails keeps its messages
    /// waiting and is read from the same block next round.
    pub(super) async fn wake_exits(&self, tick: Tick) {
        let to = tick.l1_final.number;
        let reads = self.exit_waits().reads(to);
        if reads.is_empty() {
            return;
        }
        let l1 = match self.chains.l1(tick.l1_final) {
            Ok(l1) => l1,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read exits on L1");
                return;
            }
        };
        for (domain, from) in reads {
            let Some(chain) = self.chains.get(domain) else {
                self.exit_waits().wake(domain, to, Exits::Unknown);
                continue;
            };
            match chain.exits(l1.state, from, to).await {
                Ok(exits) => {
                    let woken = self.exit_waits().wake(domain, to, exits);
                    if woken > 0 {
                        tracing::debug!(chain = %chain.info().name, from, to, woken, "exits on L1 woke messages");
                    }
                }
                Err(e) => {
                    tracing::warn!(chain = %chain.info().name, from, to, error = %e, "reading exits on L1 failed; the next round reads them again");
                }
            }
        }
    }

    /// Publishes how many messages wait for their exit, per source chain.
    pub(super) fn publish_exit_waits(&self) {
        let waits = self.exit_waits();
        for chain in self.chains.adapters() {
            let domain = chain.info().domain;
            self.metrics
                .waiting_for_exit(&chain.info().name, waits.count(domain));
        }
    }

    fn exit_waits(&self) -> std::sync::MutexGuard<'_, ExitWaits> {
        self.exit_waits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `record` waits for its exit (looked at with L1 final at `l1_final`).
    pub(super) fn wait_for_exit(&self, record: &MessageRecord, l1_final: u64) {
        self.exit_waits().wait(record, l1_final);
    }
}
