//! Settlements (issue 27): the router sends the Hub's commitment over a chain's pending receipts
//! to that chain's gas tank, and presents the receipts once it arrived.
//!
//! Every round, for each chain with a tank: if a commitment from the Hub waits in the tank, its
//! receipts are read from the Hub's `RelaysMetered` logs on L1 and presented (`settle` on the
//! chain, from the router's account there); else, once `payments.settle_every` receipts of the
//! chain are pending on L1 (`Hub.meters` ahead of `Hub.settledMeters`), or the first of them has
//! been pending `payments.settle_after_ms`, the router sends `Hub.settle` (its L1 → L2 fee quoted
//! by the chain's own entry, its claimed gas what an `eth_call` measures). Nothing of it is
//! stored: where each settlement stands is read from the chains, so a router killed between
//! relay and settlement settles every receipt once after it restarts (the Hub refuses an empty
//! commitment, the tank a second presentation).

use alloy::{
    primitives::{B256, U256},
    sol_types::SolCall,
};
use xroute_adapters::{
    AdapterError, Call, ChainAdapter, ChainAdapterExt, Entry, Estimate, Submitter,
    hub::{self, Hub},
};
use xroute_proofs::{envelope::Envelope, metering};

use super::{Pipeline, Tick, step::StepError};

/// A settlement transaction sent and not yet mined, on the hub chain (`l1`) or on the tank's.
#[derive(Debug, Clone)]
pub(super) struct InFlight {
    tx: B256,
    l1: bool,
    /// What the router is credited once it is mined (receipts it presents for its own relays).
    earned: Vec<(xroute_proofs::envelope::MessageId, U256)>,
}

impl Pipeline {
    /// One round of settlements over every chain with a tank.
    pub(super) async fn settle_receipts(&self, tick: Tick) {
        for chain in self.chains.adapters() {
            if chain.tank().is_none() {
                continue;
            }
            if let Err(e) = self.settle_chain(chain.as_ref(), tick).await {
                tracing::warn!(chain = chain.name(), error = %e, "settlement failed; the next round retries");
            }
        }
    }

    async fn settle_chain(&self, chain: &dyn ChainAdapter, tick: Tick) -> Result<(), StepError> {
        let src = chain.domain();
        if let Some(f) = self.in_flight(src) {
            let submitter = if f.l1 {
                self.chains.l1_submitter()?
            } else {
                self.chain_submitter(chain)?
            };
            let Some(mined) = submitter.receipt(f.tx).await? else {
                return Ok(());
            };
            self.settling_lock().remove(&src);
            if mined.success {
                for (id, wei) in &f.earned {
                    if let Ok(Some(record)) = self.store.get(id) {
                        self.metrics.earned(&record, *wei);
                    }
                }
            }
        }
        let Some(tank) = chain.tank_state().await? else {
            return Ok(());
        };
        if let Some(to) = tank.waiting_to {
            return self
                .present(chain, metering::count(tank.settled), to, tick)
                .await;
        }
        let l1 = self.chains.l1(tick.l1_final)?;
        let hub = l1.state.hub();
        let read = |data: Vec<u8>| l1.state.call(hub, data.into());
        let meter = Hub::metersCall::abi_decode_returns(
            &read(Hub::metersCall::new((src,)).abi_encode()).await?,
        )
        .map_err(|e| self.bad_answer("Hub.meters", e))?;
        let settled = Hub::settledMetersCall::abi_decode_returns(
            &read(Hub::settledMetersCall::new((src,)).abi_encode()).await?,
        )
        .map_err(|e| self.bad_answer("Hub.settledMeters", e))?;
        // A commitment the Hub sent that the tank has not received yet: wait for it.
        if metering::count(settled) != metering::count(tank.settled) {
            return Ok(());
        }
        let pending = metering::count(meter) - metering::count(settled);
        let since = {
            let mut first = self.pending_lock();
            if pending == 0 {
                first.remove(&src);
                return Ok(());
            }
            *first.entry(src).or_insert(tick.now_ms)
        };
        let p = &self.payments;
        let by_count = p.settle_every != 0 && pending >= p.settle_every;
        let by_time =
            p.settle_after_ms != 0 && tick.now_ms.saturating_sub(since) >= p.settle_after_ms;
        if !by_count && !by_time {
            return Ok(());
        }
        self.commit(chain, meter, settled, tick).await
    }

    /// Sends `Hub.settle` for `chain` (its receipts from `settled` to `meter`).
    async fn commit(
        &self,
        chain: &dyn ChainAdapter,
        meter: U256,
        settled: U256,
        tick: Tick,
    ) -> Result<(), StepError> {
        let src = chain.domain();
        let l1 = self.chains.l1(tick.l1_final)?;
        let hub = l1.state.hub();
        let Some(tank) = chain.tank() else {
            return Ok(());
        };
        let submitter = self.chains.l1_submitter()?;
        // The commitment as the Hub will send it (its claim not known yet: the fee depends on
        // the payload's length, not on that word).
        let word = |v: U256| B256::from(v.to_be_bytes::<32>());
        let payload = [
            U256::from(1u8),
            U256::from(metering::count(settled)),
            U256::from(metering::count(meter)),
            metering::head(meter),
            U256::from_be_bytes(submitter.sender().0),
            U256::from(200_000u64),
            U256::from(1u8),
            U256::from(1u8),
        ];
        let envelope = Envelope {
            src_domain: self.chains.hub_domain(),
            nonce: 0,
            sender: hub.into_word(),
            dst_domain: src,
            recipient: tank,
            payload: payload.iter().map(|v| word(*v)).collect(),
        };
        let (fee, terms) = match chain.entry(&envelope, &l1).await? {
            Entry::Accepted { fee, terms } => (fee, terms),
            Entry::Refused(why) => {
                tracing::warn!(chain = chain.name(), %why, "the tank refuses a commitment; not settling");
                return Ok(());
            }
        };
        let batcher = self.chains.hub().batcher().ok_or_else(|| {
            AdapterError::config(
                format!("chains.{}", self.chains.hub().name()),
                "the hub chain has no relayer account",
            )
        })?;
        let measured = batcher
            .measure_settle(&hub::settle(hub, src, u64::MAX, &terms, fee))
            .await?;
        let call = hub::settle(
            hub,
            src,
            measured.saturating_sub(hub::SETTLE_CLAIM_MARGIN),
            &terms,
            fee,
        );
        let tx = self.send_now(submitter, &call).await?;
        tracing::info!(chain = chain.name(), %tx, receipts = metering::count(meter) - metering::count(settled), %fee, "commitment sent to the tank");
        self.metrics.settlement_sent(chain.name());
        self.settling_lock().insert(
            src,
            InFlight {
                tx,
                l1: true,
                earned: Vec::new(),
            },
        );
        self.pending_lock().remove(&src);
        Ok(())
    }

    /// Presents the receipts `from..to` of `chain` (read from the Hub's logs) to its tank.
    async fn present(
        &self,
        chain: &dyn ChainAdapter,
        from: u64,
        to: u64,
        tick: Tick,
    ) -> Result<(), StepError> {
        let src = chain.domain();
        let l1 = self.chains.l1(tick.l1_final)?;
        let logs = l1
            .state
            .logs(&hub::receipts_filter(
                l1.state.hub(),
                0,
                l1.state.latest_block().await?,
            ))
            .await?;
        let receipts: Vec<_> = hub::receipts_of(&logs)
            .into_iter()
            .filter(|r| r.src == src && u64::from(r.index) >= from && u64::from(r.index) < to)
            .collect();
        if receipts.len() as u64 != to - from {
            tracing::warn!(
                chain = chain.name(),
                from,
                to,
                found = receipts.len(),
                "not every receipt of the commitment is on L1 yet"
            );
            return Ok(());
        }
        let Some(call) = chain.settle_call(&receipts) else {
            return Ok(());
        };
        // What the router's own receipts earn it, from their payments before they settle.
        let me = self.chains.l1_submitter()?.sender();
        let mut earned = Vec::new();
        for r in receipts.iter().filter(|r| r.relayer.into_word() == me) {
            let id = xroute_proofs::envelope::MessageId(r.id);
            if let Some(p) = chain.payment(id).await?
                && r.time <= p.deadline
            {
                earned.push((id, p.terms().charge(r)));
            }
        }
        let tx = self.send_now(self.chain_submitter(chain)?, &call).await?;
        tracing::info!(chain = chain.name(), %tx, from, to, "receipts presented to the tank");
        self.metrics.receipts_settled(chain.name(), to - from);
        self.settling_lock().insert(
            src,
            InFlight {
                tx,
                l1: false,
                earned,
            },
        );
        Ok(())
    }

    /// Estimates, signs and broadcasts `call` (not persisted: a settlement is read back from the
    /// chains, and its repeat is refused by them).
    async fn send_now(&self, submitter: &dyn Submitter, call: &Call) -> Result<B256, StepError> {
        let fees = match submitter.estimate(call).await? {
            Estimate::Ok(fees) => fees,
            Estimate::Reverts(why) => {
                return Err(AdapterError::config(
                    "settlement",
                    format!("it would revert: {why:?}"),
                )
                .into());
            }
        };
        let mut lease = submitter.lease().await;
        let tx = lease.sign(call, fees).await?;
        crate::failpoint::hit("settle.before_broadcast");
        lease.broadcast(&tx).await?;
        Ok(tx.hash)
    }

    fn chain_submitter<'a>(
        &self,
        chain: &'a dyn ChainAdapter,
    ) -> Result<&'a dyn Submitter, StepError> {
        chain.submitter().ok_or_else(|| {
            AdapterError::config(
                format!("chains.{}", chain.name()),
                "settling in its gas tank needs the router's account there",
            )
            .into()
        })
    }

    fn bad_answer(&self, what: &'static str, e: alloy::sol_types::Error) -> StepError {
        AdapterError::bad(self.chains.hub().name(), what, None, e.to_string()).into()
    }

    fn in_flight(&self, src: u32) -> Option<InFlight> {
        self.settling_lock().get(&src).cloned()
    }

    fn settling_lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u32, InFlight>> {
        self.settling.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending_lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u32, u64>> {
        self.pending_since.lock().unwrap_or_else(|p| p.into_inner())
    }
}
