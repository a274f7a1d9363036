//! One step of one message, per stage. Each step reads the chain before acting, so running it
//! again after a crash finds the work done and moves on.

use alloy::primitives::{Bytes, U256};
use xroute_adapters::{
    AdapterError, ChainAdapter,
    evm::{
        HubRevert, classify_hub_revert, relay_from_l1_call, relay_from_starknet_call,
        submit::{Estimate, Fees, SignedTx},
    },
};
use xroute_proofs::starknet::{felt_to_u256, l2_to_l1_message_hash};

use super::{Outcome, Pipeline, Tick};
use crate::{
    network::Turn,
    store::{MessageRecord, RelayAttempt, Stage, StoreError},
};

/// The most a relay pays toward an L2 leg: Starknet's `sendMessageToL2` caps the fee at 1 ether.
const MAX_L2_FEE: u128 = 1_000_000_000_000_000_000;

/// Why a step could not finish (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

type StepResult = Result<Outcome, StepError>;

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

    /// Whether this router can take the message to its destination at all.
    fn unknown_destination(&self, record: &MessageRecord) -> Option<String> {
        let dst = record.envelope.dst_domain;
        (dst != self.chains.hub_domain() && !self.chains.rollups.contains_key(&dst)).then(|| {
            format!("unknown destination domain {dst}: no chain with this domain is configured")
        })
    }

    async fn step_sent(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        if let Some(reason) = self.unknown_destination(record) {
            return Ok(Outcome::Park(reason));
        }
        let hub = &self.chains.hub.adapter;
        let id = record.id;
        if hub.is_delivered(&id).await? {
            // Already through the Hub (delivered at once to an L1 app, or relayed before).
            self.store.transition(
                &id,
                Stage::Sent,
                Stage::Proven,
                tick.now_ms,
                "the Hub already processed it",
                |r| r.reason = None,
            )?;
            self.store.transition(
                &id,
                Stage::Proven,
                Stage::Relayed,
                tick.now_ms,
                "the Hub already processed it",
                |_| {},
            )?;
            return Ok(Outcome::Done);
        }
        let env = &record.envelope;
        let (value, what) = if env.src_domain == self.chains.hub_domain() {
            (
                hub.proven_outbound(&id, tick.l1_final).await?,
                "Hub.outbound[id]".to_string(),
            )
        } else {
            let Some(src) = self.chains.rollups.get(&env.src_domain) else {
                return Ok(Outcome::Park(format!(
                    "unknown source domain {}",
                    env.src_domain
                )));
            };
            let felts = match env.to_felts() {
                Ok(f) => f,
                Err(e) => return Ok(Outcome::Park(e.to_string())),
            };
            let hash = l2_to_l1_message_hash(src.adapter.endpoint(), hub.hub(), &felts);
            (
                hub.proven_l2_to_l1(src.l1_messaging, &src.layout, hash, tick.l1_final)
                    .await?,
                format!("l2ToL1Messages[{hash}] of {}", src.l1_messaging),
            )
        };
        if value.is_zero() {
            return Ok(Outcome::NotReady);
        }
        let note = format!(
            "{what} = {value} at L1 block {} (storage proof)",
            tick.l1_final.number
        );
        let proven =
            self.store
                .transition(&id, Stage::Sent, Stage::Proven, tick.now_ms, &note, |r| {
                    r.attempts = 0;
                    r.reason = None;
                })?;
        self.attest(proven)?;
        tracing::info!(%id, block = tick.l1_final.number, "message proven");
        Ok(Outcome::Done)
    }

    async fn step_proven(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        if self.hop_already_made(record, Stage::Proven, tick).await? {
            return Ok(Outcome::Done);
        }
        let Some(network) = &self.network else {
            return self.relay(record, Stage::Proven, tick).await;
        };
        let id = record.id;
        let Some(qc) = network.certificate(&id)? else {
            network.catch_up(record)?;
            return Ok(Outcome::NotReady);
        };
        let signers = network.signers(&qc);
        let note = format!(
            "quorum certificate: {} of the set signed ({})",
            signers.len(),
            signers
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.store.transition(
            &id,
            Stage::Proven,
            Stage::Attested,
            tick.now_ms,
            &note,
            |_| {},
        )?;
        tracing::info!(%id, signers = signers.len(), "message attested");
        Ok(Outcome::Done)
    }

    async fn step_attested(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        if self.hop_already_made(record, Stage::Attested, tick).await? {
            return Ok(Outcome::Done);
        }
        let Some(network) = &self.network else {
            return self.relay(record, Stage::Attested, tick).await;
        };
        let id = record.id;
        let attested_at = record
            .history
            .iter()
            .rev()
            .find(|t| t.to == Stage::Attested)
            .map(|t| t.at_ms)
            .unwrap_or(tick.now_ms);
        match network.turn(record, attested_at, tick.now_ms) {
            Turn::Wait(why) => {
                tracing::trace!(%id, %why, "not this router's turn");
                Ok(Outcome::NotReady)
            }
            Turn::Claim => {
                network.claim(record);
                tracing::debug!(%id, hop = record.hop, "claimed the hop");
                Ok(Outcome::NotReady)
            }
            Turn::Relay => self.relay(record, Stage::Attested, tick).await,
        }
    }

    /// Whether the Hub already processed the message (made by this router before a failure it
    /// could not see through, or by another relayer); if so, moves it `from → Relayed`, since
    /// checks, fee quotes and relays no longer apply.
    async fn hop_already_made(
        &self,
        record: &MessageRecord,
        from: Stage,
        tick: Tick,
    ) -> Result<bool, StepError> {
        if !self.chains.hub.adapter.is_delivered(&record.id).await? {
            return Ok(false);
        }
        self.store.transition(
            &record.id,
            from,
            Stage::Relayed,
            tick.now_ms,
            "the Hub already processed it",
            |r| r.reason = None,
        )?;
        Ok(true)
    }

    /// Makes the current hop from stage `from` (Proven alone, Attested in a network): checks,
    /// fee quote, estimate, sign, persist, broadcast.
    async fn relay(&self, record: &MessageRecord, from: Stage, tick: Tick) -> StepResult {
        if let Some(reason) = self.unknown_destination(record) {
            return Ok(Outcome::Park(reason));
        }
        let env = &record.envelope;
        let hub = &self.chains.hub;
        let id = record.id;
        // The L2 fee of the next leg, when the destination is a rollup.
        let mut fee = 0u128;
        if let Some(dst) = self.chains.rollups.get(&env.dst_domain) {
            let felts = match env.to_felts() {
                Ok(f) => f,
                Err(e) => {
                    return Ok(Outcome::Park(format!(
                        "cannot go to {}: {e}",
                        dst.adapter.name()
                    )));
                }
            };
            let recipient = felts[2];
            if !dst.adapter.is_deployed(recipient).await? {
                return Ok(Outcome::Park(format!(
                    "recipient {recipient:#x} is not deployed on {}",
                    dst.adapter.name()
                )));
            }
            let quote = dst
                .adapter
                .quote_message_fee(hub.adapter.hub().into_array(), &felts)
                .await?;
            // Headroom for an L2 gas price that moves before the sequencer picks it up.
            fee = quote.saturating_mul(3).div_ceil(2).clamp(1, MAX_L2_FEE);
        }
        let words = env.to_words();
        let (call, value) = if env.src_domain == self.chains.hub_domain() {
            let escrow = hub
                .adapter
                .proven_outbound(&id, tick.l1_final)
                .await?
                .saturating_sub(U256::from(1));
            (
                relay_from_l1_call(&words),
                U256::from(fee).saturating_sub(escrow),
            )
        } else {
            let Some(src) = self.chains.rollups.get(&env.src_domain) else {
                return Ok(Outcome::Park(format!(
                    "unknown source domain {}",
                    env.src_domain
                )));
            };
            (
                relay_from_starknet_call(
                    env.src_domain,
                    felt_to_u256(src.adapter.endpoint()),
                    &words,
                ),
                U256::from(fee),
            )
        };
        let to = hub.adapter.hub();
        let fees = match hub.submitter.estimate(to, &call, value).await? {
            Estimate::Ok(fees) => fees,
            Estimate::Reverts(revert) => {
                return Ok(match classify_hub_revert(&revert) {
                    HubRevert::AlreadyDone(why) => {
                        self.store.transition(
                            &id,
                            from,
                            Stage::Relayed,
                            tick.now_ms,
                            &format!("hop already made ({why})"),
                            |r| r.reason = None,
                        )?;
                        Outcome::Done
                    }
                    HubRevert::Permanent(why) => Outcome::Park(why),
                    HubRevert::Transient(why) => {
                        Outcome::Retry(format!("relay would revert: {why}"))
                    }
                });
            }
        };
        let mut lease = hub.submitter.lock().await;
        let tx = lease.sign(to, call, value, fees, None).await?;
        let attempt = attempt_of(record, &tx, value, tick.now_ms, hub.adapter.name());
        let note = format!("relay tx {} (nonce {})", tx.hash, tx.nonce);
        // Persisted before it leaves: after a crash the same bytes are re-sent, never a second
        // transaction for the hop.
        self.store
            .transition(&id, from, Stage::Relaying, tick.now_ms, &note, |r| {
                r.relays.push(attempt.clone());
            })?;
        if let Err(e) = lease.broadcast(&tx).await {
            drop(lease);
            return Ok(Outcome::Retry(format!("relay tx {} refused: {e}", tx.hash)));
        }
        tracing::info!(%id, tx = %tx.hash, nonce = tx.nonce, %value, "relay sent");
        Ok(Outcome::Done)
    }

    async fn step_relaying(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        let hub = &self.chains.hub;
        let id = record.id;
        // Until the Hub shows the hop made, the others must not take it over: our claim stays
        // fresh however long the transaction waits for a block.
        if let Some(network) = &self.network {
            network.hold_claim(record, tick.now_ms);
        }
        let attempts: Vec<&RelayAttempt> = record
            .relays
            .iter()
            .rev()
            .filter(|a| a.hop == record.hop)
            .collect();
        let Some(last) = attempts.first().copied() else {
            return Ok(Outcome::Retry(
                "relaying without a recorded transaction".into(),
            ));
        };
        for attempt in &attempts {
            let Some(mined) = hub.submitter.receipt(attempt.tx_hash).await? else {
                continue;
            };
            if mined.block_number > tick.l1_final.number {
                return Ok(Outcome::NotReady);
            }
            if mined.success {
                let note = format!(
                    "relay tx {} final in block {} (gas {})",
                    attempt.tx_hash, mined.block_number, mined.gas_used
                );
                self.store.transition(
                    &id,
                    Stage::Relaying,
                    Stage::Relayed,
                    tick.now_ms,
                    &note,
                    |r| {
                        r.attempts = 0;
                        r.reason = None;
                    },
                )?;
                tracing::info!(%id, tx = %attempt.tx_hash, block = mined.block_number, "relay final");
                return Ok(Outcome::Done);
            }
            if hub.adapter.is_delivered(&id).await? {
                let note = format!(
                    "relay tx {} reverted; the Hub had already processed it",
                    attempt.tx_hash
                );
                self.store.transition(
                    &id,
                    Stage::Relaying,
                    Stage::Relayed,
                    tick.now_ms,
                    &note,
                    |_| {},
                )?;
                return Ok(Outcome::Done);
            }
            return Ok(Outcome::Retry(format!(
                "relay tx {} reverted in block {}",
                attempt.tx_hash, mined.block_number
            )));
        }
        // Not mined (yet).
        if hub.submitter.mined_nonce().await? > last.nonce {
            // Its nonce went to a transaction we do not know of (a receipt race resolves next tick).
            if hub.adapter.is_delivered(&id).await? {
                return Ok(Outcome::NotReady);
            }
            return Ok(Outcome::Retry(format!(
                "nonce {} was used by another transaction",
                last.nonce
            )));
        }
        if tick.now_ms.saturating_sub(last.sent_at_ms) < self.relay.bump_after_ms {
            // Idempotent: after a restart this is the first time the node sees it.
            if let Err(e) = hub.submitter.rebroadcast(&signed_of(last)).await {
                tracing::debug!(%id, error = %e, "re-broadcast failed");
            }
            return Ok(Outcome::NotReady);
        }
        let market = hub.submitter.market_fees().await.ok();
        let fees = fees_of(last).bumped(market);
        let mut lease = hub.submitter.lock().await;
        let tx = lease
            .sign(
                hub.adapter.hub(),
                last.raw_input()?,
                last.value,
                fees,
                Some(last.nonce),
            )
            .await?;
        let attempt = attempt_of(record, &tx, last.value, tick.now_ms, hub.adapter.name());
        self.store.update(&id, |r| r.relays.push(attempt.clone()))?;
        lease.broadcast(&tx).await?;
        tracing::info!(%id, tx = %tx.hash, nonce = tx.nonce, max_fee = fees.max_fee_per_gas, "stuck relay replaced with higher gas prices");
        Ok(Outcome::NotReady)
    }

    async fn step_relayed(&self, record: &MessageRecord, tick: Tick) -> StepResult {
        let id = record.id;
        let dst = record.envelope.dst_domain;
        let delivered = if dst == self.chains.hub_domain() {
            self.chains.hub.adapter.is_delivered(&id).await?
        } else if let Some(rollup) = self.chains.rollups.get(&dst) {
            rollup.adapter.is_delivered(&id).await?
        } else {
            return Ok(Outcome::Park(format!("unknown destination domain {dst}")));
        };
        if !delivered {
            return Ok(Outcome::NotReady);
        }
        let chain = self.chains.name_of(dst).unwrap_or("?");
        self.store.transition(
            &id,
            Stage::Relayed,
            Stage::Delivered,
            tick.now_ms,
            &format!("delivered on {chain}"),
            |r| r.reason = None,
        )?;
        tracing::info!(%id, chain, "message delivered");
        Ok(Outcome::Done)
    }
}

fn attempt_of(
    record: &MessageRecord,
    tx: &SignedTx,
    value: U256,
    now: u64,
    chain: &str,
) -> RelayAttempt {
    RelayAttempt {
        hop: record.hop,
        chain: chain.to_string(),
        tx_hash: tx.hash,
        nonce: tx.nonce,
        sent_at_ms: now,
        raw: tx.raw.clone(),
        gas_limit: tx.fees.gas_limit,
        max_fee_per_gas: tx.fees.max_fee_per_gas,
        max_priority_fee_per_gas: tx.fees.max_priority_fee_per_gas,
        value,
    }
}

fn fees_of(a: &RelayAttempt) -> Fees {
    Fees {
        gas_limit: a.gas_limit,
        max_fee_per_gas: a.max_fee_per_gas,
        max_priority_fee_per_gas: a.max_priority_fee_per_gas,
    }
}

fn signed_of(a: &RelayAttempt) -> SignedTx {
    SignedTx {
        hash: a.tx_hash,
        nonce: a.nonce,
        raw: a.raw.clone(),
        fees: fees_of(a),
    }
}

impl RelayAttempt {
    /// The calldata of the recorded transaction (a replacement re-signs the same call).
    fn raw_input(&self) -> Result<Bytes, StepError> {
        use alloy::{consensus::TxEnvelope, eips::eip2718::Decodable2718};
        let envelope =
            TxEnvelope::decode_2718(&mut self.raw.as_ref()).map_err(|e| StoreError::Corrupt {
                what: "relay transaction",
                key: self.tx_hash.to_string(),
                reason: e.to_string(),
            })?;
        use alloy::consensus::Transaction;
        Ok(envelope.input().clone())
    }
}
