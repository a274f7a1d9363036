//! The pipeline: the message lifecycle of DESIGN.md as an explicit state machine, over chains it
//! knows only through [`xroute_adapters::ChainAdapter`] and a router set it knows only through
//! [`Coordinator`].
//!
//! Each chain is indexed from its persisted cursor by a loop of its own ([`scan`]); every tick
//! moves each live message one step ([`step`]). A step returns an [`Outcome`]; a stage change is
//! persisted (a compare-and-set in the store) before its side effect, and every step first looks
//! at the chain, so repeating one after a crash is harmless:
//!
//! - `Sent → Proven`: the source chain's exit is proven on L1 (a storage proof against a
//!   finalized L1 header: a rollup's `l2ToL1Messages[h] ≥ 1`, the Hub's `outbound[id] ≥ 1` for an
//!   L1 app's message).
//! - `Proven → Attested` in a router network: a quorum certificate ([`Coordinator::gate`]); then
//!   the relay assignment says whose turn it is ([`Coordinator::turn`]).
//! - `Proven`/`Attested → Relaying`: the destination's entry says the message can arrive and what
//!   it costs; the source's exit gives the L1 call; the estimate reads a revert that can never
//!   pass as a reason to park; the transaction is signed, **persisted**, then broadcast.
//! - Batches: the L1 calls ready in one round go out together in the Hub's `relayBatch`
//!   ([`batch`]), up to `relay.batch_gas` and `relay.batch_max`, after a simulation that leaves
//!   out (and judges alone) the members that would revert; a batch and its members' moves to
//!   `Relaying` are persisted in one store transaction before it is broadcast.
//! - `Relaying → Relayed`: the relay transaction is mined and final; a stuck one is re-sent with
//!   higher fees under the same nonce; a reverted one is retried, unless the Hub already processed
//!   the id.
//! - `Relayed → Delivered`: the destination reports it delivered; until then, a follow-up call
//!   the destination asks for is sent on the destination chain, persisted first like a relay.
//!
//! Failures retry with exponential backoff and jitter; after `relay.max_attempts` the message is
//! `Parked` with its reason until an operator retries or drops it.

mod batch;
pub mod chains;
mod coordinator;
mod node_fault;
mod payments;
mod round;
mod scan;
mod settlement;
mod step;
#[cfg(test)]
mod tests;
mod wake;

use std::{sync::Arc, time::Duration};

pub use chains::Chains;
pub use coordinator::{Alone, Coordinator, Gate, Turn};
use futures::{FutureExt, StreamExt};
pub(crate) use scan::ORPHANED;
use tokio::sync::watch;
use xroute_adapters::{AdapterError, BlockRef, ChainAdapter, ChainAdapterExt};
use xroute_config::{PaymentsConfig, RelayConfig};
use xroute_proofs::envelope::MessageId;

pub use crate::time::now_ms;
use crate::{
    metrics::Metrics,
    model::{Change, MessageRecord, Stage},
    store::{Store, StoreError},
};

/// Messages stepped at once (relay transactions still go out one at a time, under the nonce lock).
const CONCURRENCY: usize = 8;

/// Messages of one stage a round reads, steps and commits together (what it holds in memory).
const ROUND_CHUNK: usize = 1_000;

/// What stops the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The configuration cannot be used as it is.
    #[error("config: {0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A chain failed.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

/// What one step of one message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The step moved the message (already persisted).
    Done,
    /// Nothing to do yet (not mined, not final, not its turn): looked at again next round.
    NotReady,
    /// L1 does not show the message's exit yet: it waits, without any chain call, until L1's
    /// events name it ([`wake`]).
    AwaitExit,
    /// Nothing to do before this time (ms; a destination that has not delivered yet): the
    /// message is not looked at until then.
    LookAgainAt(u64),
    /// The step failed; try again after a backoff. A failed relay (reverted, or its nonce
    /// taken) goes back to `Proven` to be made again from a fresh estimate.
    Retry(String),
    /// The step could not run (an RPC error): the same step again after a backoff, stage kept.
    Backoff(String),
    /// The message cannot go on as it is; an operator must act.
    Park(String),
    /// The message waits, for a reason its payment gives (the L1 base fee above the payer's
    /// cap, no payment under the `paid` policy): shown as its reason, no attempt spent.
    Hold(String),
    /// The step moves the message to another stage with no side effect before the move is
    /// persisted: the move commits with the round's other moves of its stage, in one store
    /// transaction ([`Store::transition_all`]), and what comes after it runs then.
    Move(Box<Deferred>),
}

/// A stage change a step decided on, committed with its round's others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// The stage it moves to (from the stage it was stepped in).
    pub to: Stage,
    /// Its history note.
    pub note: String,
    /// What else it sets.
    pub change: Change,
    /// What runs once it is committed.
    pub then: Then,
}

/// What runs once a deferred move is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Nothing.
    Nothing,
    /// The message was proven by this router: it is attested with the round's others.
    Attest,
    /// The message was attested in its checkpoint: the coordinator is told.
    CheckpointAttested,
}

impl Outcome {
    /// The step moves the message to `to` with `note` and `change`, then does `then`.
    pub(crate) fn moved(to: Stage, note: impl Into<String>, change: Change, then: Then) -> Self {
        Outcome::Move(Box::new(Deferred {
            to,
            note: note.into(),
            change,
            then,
        }))
    }
}

/// The backoff before attempt `attempts + 1`: exponential from `initial`, capped at `max`, with
/// jitter in its upper half (so routers and messages that failed together do not retry together).
pub fn backoff_ms(relay: &RelayConfig, attempts: u32) -> u64 {
    let exp = attempts.saturating_sub(1).min(32);
    let base = relay
        .backoff_initial_ms
        .saturating_mul(1u64 << exp)
        .min(relay.backoff_max_ms);
    let half = base / 2;
    half + rand::random_range(0..=base - half)
}

/// What a tick knows about L1 that every step shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tick {
    /// The L1 block the router treats as final.
    pub l1_final: BlockRef,
    /// Now.
    pub now_ms: u64,
    /// The base fee of L1's latest block (wei).
    pub l1_base_fee: alloy::primitives::U256,
    /// The timestamp of L1's latest block (what payments' deadlines are in).
    pub l1_time: u64,
}

/// One router's pipeline.
#[derive(Debug)]
pub struct Pipeline {
    store: Store,
    chains: Chains,
    relay: RelayConfig,
    payments: PaymentsConfig,
    coordinator: Arc<dyn Coordinator>,
    /// Messages this tick proved, handed to the coordinator once the `Sent` stage is done.
    fresh: std::sync::Mutex<Vec<MessageRecord>>,
    /// Relays this round found ready, for its batches.
    ready: std::sync::Mutex<Vec<batch::Ready>>,
    /// Since when each relay held for a batch has been ready (ms).
    ready_since: std::sync::Mutex<std::collections::HashMap<MessageId, u64>>,
    /// This round's reads of batch transactions (receipts, the relayer's mined nonce).
    round: std::sync::Mutex<batch::RoundReads>,
    /// Per source domain, the settlement transaction in flight.
    settling: std::sync::Mutex<std::collections::HashMap<u32, settlement::InFlight>>,
    /// Per source domain, since when receipts have been pending (ms).
    pending_since: std::sync::Mutex<std::collections::HashMap<u32, u64>>,
    /// This round's messages waiting on their payment, by why (`payments::WAITING`).
    waiting: std::sync::Mutex<[u64; 3]>,
    /// The messages waiting for L1 to show their exit.
    exit_waits: std::sync::Mutex<wake::ExitWaits>,
    /// Where the time is read.
    clock: Arc<dyn crate::time::Clock>,
    /// L1's final block as the last round read it (its hash is read once per final block).
    l1_final: std::sync::Mutex<Option<BlockRef>>,
    /// Recent cursor blocks per chain, to find where a reorg forked.
    recent: scan::RecentBlocks,
    /// Messages whose hop this round found not made yet on L1 (asked once per round).
    hop_not_made: std::sync::Mutex<std::collections::HashSet<MessageId>>,
    /// Per message, the time (ms) before which it is not looked at ([`Outcome::LookAgainAt`]).
    look_after: std::sync::Mutex<std::collections::HashMap<MessageId, u64>>,
    /// Messages this round found processed by the Hub once their batch was mined (for an L1
    /// app's message, that is its delivery: not asked again this round).
    hub_processed: std::sync::Mutex<std::collections::HashSet<MessageId>>,
    metrics: Arc<Metrics>,
}

impl Pipeline {
    /// A pipeline over `store` and `chains`, for a router that works alone, counting what it
    /// sends in `metrics` (the router wires them: [`crate::router::Router`]).
    pub(crate) fn new(
        store: Store,
        chains: Chains,
        relay: RelayConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            chains,
            relay,
            payments: PaymentsConfig::default(),
            coordinator: Arc::new(Alone),
            fresh: std::sync::Mutex::new(Vec::new()),
            ready: std::sync::Mutex::new(Vec::new()),
            ready_since: std::sync::Mutex::new(Default::default()),
            round: std::sync::Mutex::new(Default::default()),
            settling: std::sync::Mutex::new(Default::default()),
            pending_since: std::sync::Mutex::new(Default::default()),
            waiting: std::sync::Mutex::new([0; 3]),
            exit_waits: std::sync::Mutex::new(Default::default()),
            clock: Arc::new(crate::time::SystemClock),
            l1_final: std::sync::Mutex::new(None),
            recent: scan::RecentBlocks::default(),
            hop_not_made: std::sync::Mutex::new(Default::default()),
            hub_processed: std::sync::Mutex::new(Default::default()),
            look_after: std::sync::Mutex::new(Default::default()),
            metrics,
        }
    }

    /// The router's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The `[relay]` settings it runs with.
    pub fn relay_config(&self) -> &RelayConfig {
        &self.relay
    }

    /// Relays and settles by `payments` (issue 27) instead of the default (relay everything).
    pub(crate) fn with_payments(mut self, payments: PaymentsConfig) -> Self {
        self.payments = payments;
        self
    }

    /// Reads the time from `clock` instead of the system's.
    pub(crate) fn with_clock(mut self, clock: Arc<dyn crate::time::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Now, by the pipeline's clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The `[payments]` settings it runs with.
    pub fn payments_config(&self) -> &PaymentsConfig {
        &self.payments
    }

    /// Works with a router set through `coordinator`: messages then need what it says
    /// (a quorum certificate, the relay assignment) before a relay.
    pub(crate) fn with_coordinator(mut self, coordinator: Arc<dyn Coordinator>) -> Self {
        self.coordinator = coordinator;
        self
    }

    /// Hands what this tick proved to the coordinator.
    fn attest_fresh(&self, tick: Tick) -> Result<(), StoreError> {
        let fresh = std::mem::take(&mut *self.fresh.lock().unwrap_or_else(|p| p.into_inner()));
        if fresh.is_empty() {
            return Ok(());
        }
        self.coordinator
            .proven(&fresh, self.chains.hub_domain(), tick.l1_final)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The chains.
    pub fn chains(&self) -> &Chains {
        &self.chains
    }

    /// Runs until `shutdown` turns true: every chain but L1 is indexed by its own loop, and every
    /// `relay.poll_interval_ms` a round reads L1 once, indexes it and steps the live messages, so
    /// a rollup whose RPC is slow or down delays its own indexing, not the others' or the relays.
    /// On shutdown the indexing loops stop where they are (a scan is idempotent and its cursor
    /// moves only after a range is stored), the step round in progress finishes (no step is cut
    /// between its persist and its side effect), then the store is flushed.
    pub async fn run(
        self: Arc<Self>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), PipelineError> {
        let hub = self.chains.hub_domain();
        let indexers = futures::future::join_all(
            self.chains
                .adapters()
                .into_iter()
                .filter(|chain| chain.domain() != hub)
                .map(|chain| self.index_loop(chain, shutdown.clone())),
        );
        let ((), stepped) = tokio::join!(indexers.map(|_| ()), self.step_loop(shutdown));
        stepped?;
        self.store.flush()?;
        self.store.save_counts()?;
        tracing::info!("pipeline drained; store flushed");
        Ok(())
    }

    /// What an indexing pass of `chain` came to, in the metrics.
    fn scanned(&self, chain: &str, report: scan::ScanReport) {
        self.metrics.scanned(chain, report.head, report.cursor);
        if let Some(reorg) = report.reorg {
            self.metrics.reorg(chain, reorg.depth);
        }
    }

    /// Indexes `chain` every poll interval until shutdown.
    async fn index_loop(&self, chain: Arc<dyn ChainAdapter>, mut shutdown: watch::Receiver<bool>) {
        let interval = Duration::from_millis(self.relay.poll_interval_ms);
        while !*shutdown.borrow() {
            tokio::select! {
                scanned = scan::scan(&self.store, &self.recent, chain.as_ref(), self.now_ms()) => match scanned {
                    Ok(report) => self.scanned(chain.name(), report),
                    Err(e) => {
                        tracing::warn!(chain = chain.name(), error = %e, "indexing failed; retrying");
                    }
                },
                _ = shutdown.changed() => break,
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Steps the live messages every poll interval until shutdown; the round in progress
    /// finishes.
    async fn step_loop(&self, mut shutdown: watch::Receiver<bool>) -> Result<(), PipelineError> {
        let interval = Duration::from_millis(self.relay.poll_interval_ms);
        while !*shutdown.borrow() {
            if let Err(e) = self.step_all(true).await {
                tracing::warn!(error = %e, "step round failed; the next one retries");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => {}
            }
        }
        Ok(())
    }

    /// One round as a test or a tool runs it: index every chain, then move every live message
    /// one step.
    pub async fn tick(&self) -> Result<(), PipelineError> {
        let hub = self.chains.hub_domain();
        for adapter in self.chains.adapters() {
            if adapter.domain() == hub {
                continue; // indexed by the round, from the L1 head it reads
            }
            match scan::scan(&self.store, &self.recent, adapter.as_ref(), self.now_ms()).await {
                Ok(report) => self.scanned(adapter.name(), report),
                Err(e) => {
                    tracing::warn!(chain = adapter.name(), error = %e, "indexing failed; retrying next tick");
                }
            }
        }
        self.step_all(true).await
    }

    /// Moves every live message of the store one step, without indexing any chain: what
    /// `xroute relay` runs over a store that holds only the user's own messages.
    pub async fn step_round(&self) -> Result<(), PipelineError> {
        self.step_all(false).await
    }

    /// What the round knows of L1, from one read of its latest block (and, with confirmations,
    /// one of its final block's hash when that block changed); with `index`, L1 is indexed up
    /// to that final block.
    async fn read_l1(&self, index: bool) -> Result<Tick, PipelineError> {
        let hub = self.chains.hub();
        let (head, l1_base_fee, l1_time) = self.chains.l1_state()?.latest().await?;
        let number = head.number.saturating_sub(hub.info().confirmations);
        let cached = *self.l1_final.lock().unwrap_or_else(|p| p.into_inner());
        // A node behind one that answered before (a lagging node behind a load balancer, or a
        // stale cache): this round waits for one that is not, rather than step on an older L1.
        if let Some(known) = cached
            && number < known.number
        {
            return Err(PipelineError::Adapter(AdapterError::unavailable(
                hub.name(),
                "latest block",
                format!(
                    "the node's final block {number} is behind {} it answered before (a lagging node)",
                    known.number
                ),
            )));
        }
        let l1_final = match cached {
            _ if number == head.number => head,
            Some(known) if known.number == number => known,
            _ => BlockRef {
                number,
                hash: hub.block_hash(number).await?,
            },
        };
        *self.l1_final.lock().unwrap_or_else(|p| p.into_inner()) = Some(l1_final);
        let now_ms = self.now_ms();
        if index {
            match scan::scan_from_head(
                &self.store,
                &self.recent,
                hub.as_ref(),
                head,
                Some(l1_final),
                now_ms,
            )
            .await
            {
                Ok(report) => self.scanned(hub.name(), report),
                Err(e) => {
                    tracing::warn!(chain = hub.name(), error = %e, "indexing failed; retrying");
                }
            }
        }
        Ok(Tick {
            l1_final,
            now_ms,
            l1_base_fee,
            l1_time,
        })
    }

    /// Moves every live message one step (first indexing L1, with `index`).
    async fn step_all(&self, index: bool) -> Result<(), PipelineError> {
        let tick = self.read_l1(index).await?;
        self.hop_not_made
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.hub_processed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        // In-flight relays first: after a restart their persisted transactions are re-broadcast
        // before any new transaction takes a nonce.
        if let Err(e) = self.watch_batches(tick).await {
            tracing::warn!(error = %e, "watching relay batches failed; the next round retries");
        }
        self.wake_exits(tick).await;
        for stage in [
            Stage::Relaying,
            Stage::Relayed,
            Stage::Sent,
            Stage::Proven,
            Stage::Attested,
        ] {
            // Every message of the stage, so a backlog that is not ready cannot starve the rest
            // (but none that waits for its exit).
            let mut ids = self.store.ids_in(stage, usize::MAX)?;
            if stage == Stage::Sent {
                ids = self
                    .exit_waits
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .steppable(ids);
            }
            // A chunk at a time: its records read once, its exits read together, its moves
            // committed together.
            for chunk in ids.chunks(ROUND_CHUNK) {
                let records: Vec<MessageRecord> = chunk
                    .iter()
                    .filter_map(|id| self.due(id, stage, tick))
                    .collect();
                if stage == Stage::Sent {
                    self.prepare_exits(&records, tick).await;
                }
                let moves: Vec<(MessageRecord, Deferred)> = futures::stream::iter(records)
                    .map(|record| self.advance(record, tick))
                    .buffer_unordered(CONCURRENCY)
                    .filter_map(std::future::ready)
                    .collect()
                    .await;
                self.commit_moves(moves, tick);
            }
            if stage == Stage::Sent {
                self.attest_fresh(tick)?;
            }
        }
        self.relay_ready(tick).await;
        self.unpark_topped_up(tick).await;
        self.settle_receipts(tick).await;
        self.publish_waiting();
        self.publish_exit_waits();
        self.coordinator.flush();
        Ok(())
    }

    /// Applies what a step of `record` came to (errors are the message's, not the tick's), and
    /// tells the coordinator when the message left its hop.
    fn settle(
        &self,
        record: &MessageRecord,
        outcome: Result<Outcome, step::StepError>,
        tick: Tick,
    ) {
        let id = record.id;
        let outcome = match outcome {
            Ok(o) => o,
            Err(step::StepError::Store(StoreError::StageMismatch { .. })) => return,
            // A node that timed out, refused or answered garbage: not the message's fault, so no
            // attempt is spent; the same step again after the first backoff.
            Err(step::StepError::Adapter(e)) if e.is_transient() => {
                self.node_fault(record, &e, tick)
            }
            // Any other chain or store error: the same step again after a backoff, one attempt
            // spent (a relay in flight stays in flight).
            Err(e) => Outcome::Backoff(e.to_string()),
        };
        if let Err(e) = self.apply(record, outcome, tick) {
            tracing::error!(%id, error = %e, "cannot record a step");
        }
        if matches!(record.stage, Stage::Attested | Stage::Relaying) {
            let now = self.store.get(&id).ok().flatten().map(|r| r.stage);
            if !matches!(now, Some(Stage::Attested | Stage::Relaying)) {
                self.coordinator.released(record);
            }
        }
    }

    fn apply(
        &self,
        record: &MessageRecord,
        outcome: Outcome,
        tick: Tick,
    ) -> Result<(), StoreError> {
        let redo_hop = matches!(outcome, Outcome::Retry(_));
        let id = record.id;
        {
            let mut look_after = self.look_after.lock().unwrap_or_else(|p| p.into_inner());
            match outcome {
                Outcome::LookAgainAt(at) => {
                    look_after.insert(id, at);
                }
                _ => {
                    look_after.remove(&id);
                }
            }
        }
        match outcome {
            Outcome::Done | Outcome::NotReady | Outcome::LookAgainAt(_) => Ok(()),
            // Committed with the round's others (commit_moves); one settled alone commits alone.
            Outcome::Move(d) => {
                self.commit_moves(vec![(record.clone(), *d)], tick);
                Ok(())
            }
            Outcome::AwaitExit => {
                self.wait_for_exit(record, tick.l1_final.number);
                Ok(())
            }
            Outcome::Park(reason) => self.park(&id, reason, tick.now_ms),
            Outcome::Hold(reason) => {
                self.count_waiting(&reason);
                if record.reason.as_deref() != Some(reason.as_str()) {
                    tracing::info!(%id, %reason, "message held");
                    self.store
                        .update(&id, Change::default().reason(Some(reason.clone())))?;
                }
                Ok(())
            }
            Outcome::Retry(reason) | Outcome::Backoff(reason) => {
                // Re-read: the step may have moved the message (Proven → Relaying) before failing.
                let Some(current) = self.store.get(&id)? else {
                    return Ok(());
                };
                let attempts = current.attempts + 1;
                if attempts >= self.relay.max_attempts {
                    let reason = format!("gave up after {attempts} attempts: {reason}");
                    return self.park(&id, reason, tick.now_ms);
                }
                let next = tick.now_ms + backoff_ms(&self.relay, attempts);
                tracing::info!(%id, stage = ?current.stage, attempts, %reason, "step failed; retrying after backoff");
                let set = Change::default()
                    .attempts(attempts, next)
                    .reason(Some(reason.clone()));
                if current.stage == Stage::Relaying && redo_hop {
                    // The hop has to be made again, from a fresh estimate.
                    self.store.transition(
                        &id,
                        Stage::Relaying,
                        Stage::Proven,
                        tick.now_ms,
                        &reason,
                        set,
                    )?;
                } else {
                    self.store.update(&id, set)?;
                }
                Ok(())
            }
        }
    }

    /// Makes what was just stored durable, then reaches fail point `point`: a transaction is on
    /// disk before it leaves (sled writes its log only every 500 ms), so a router killed right
    /// after a broadcast finds the transaction in its store.
    fn durable_before_broadcast(&self, point: &'static str) -> Result<(), StoreError> {
        self.store.flush()?;
        crate::failpoint::hit(point);
        Ok(())
    }

    fn park(&self, id: &MessageId, reason: String, now: u64) -> Result<(), StoreError> {
        let Some(current) = self.store.get(id)? else {
            return Ok(());
        };
        tracing::warn!(%id, stage = ?current.stage, %reason, "message parked");
        self.store.transition(
            id,
            current.stage,
            Stage::Parked,
            now,
            &reason,
            Change::default().reason(Some(reason.clone())),
        )?;
        Ok(())
    }

    /// `xroute retry`: a parked message starts over from `Sent` (every step re-checks the chain,
    /// so nothing already done is done twice).
    pub fn retry(&self, id: &MessageId) -> Result<MessageRecord, StoreError> {
        self.store.transition(
            id,
            Stage::Parked,
            Stage::Sent,
            self.now_ms(),
            "retried by operator",
            Change::step_done().attempts(0, 0),
        )
    }

    /// `xroute drop`: a parked message is dropped for good, with the operator's reason.
    pub fn drop_message(&self, id: &MessageId, reason: &str) -> Result<MessageRecord, StoreError> {
        let note = format!("dropped by operator: {reason}");
        self.store.transition(
            id,
            Stage::Parked,
            Stage::Dropped,
            self.now_ms(),
            &note,
            Change::default().reason(Some(note.clone())),
        )
    }
}
