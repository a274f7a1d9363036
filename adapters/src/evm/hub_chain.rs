//! The L1 hub chain (`family = "ethereum"`): Ethereum with the xroute Hub.
//!
//! - Sent: the Hub's `MessageSent` events (an L1 app's `Hub.send`).
//! - Exit: the Hub's own `outbound[id]` (read by a storage proof against a header whose hash the
//!   adapter recomputes), consumed by `relayFromL1`.
//! - Delivered: the Hub's `isProcessed(source domain, nonce)` (delivered to an L1 app, or
//!   forwarded to its next hop, in the relay transaction).
//! - It is also [`L1State`] for every other chain's exit, and its batches are the Hub's
//!   `relayBatch` ([`Batcher`]).
//!
//! The Hub's transactions can revert with a rollup bridge's error (the Outbox's, the Inbox's),
//! bubbled up through the Hub: the factory hands this adapter every family's reader of those
//! ([`hub::BridgeReverts`]), so this module names no other family.

use std::sync::Arc;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
};
use async_trait::async_trait;
use xroute_config::HubChain;
use xroute_proofs::{
    checkpoint::{self, Checkpoint, HubSentLog},
    envelope::{Envelope, MessageId},
    storage::AccountProof,
};

use super::{client::EvmClient, submit::RevertReader};
use crate::{
    AdapterError, Batcher, BlockRef, Call, ChainAdapter, ChainInfo, CheckProblem, Entry, Exit,
    FoundCheckpoint, L1, L1State, Result, SentMessage, Simulated, Submitter, hex,
    hub::{self, BridgeReverts, Hub},
};

/// Gas one L1 relay costs at most (docs/gas.md: the costliest route is under 240,000).
const RELAY_GAS: u64 = 300_000;

/// The L1 hub chain's adapter.
#[derive(Debug)]
pub struct HubChainAdapter {
    client: EvmClient,
    hub: Address,
    bridges: &'static [BridgeReverts],
    /// The slots proven at one block (a slot's value at a block hash never changes): a round
    /// proves every exit at L1's final block, and a message proven, then relayed in the same
    /// round, is read once.
    proven: std::sync::Mutex<ProvenAt>,
}

/// Storage slots per `eth_getProof` when many are proven at once (an answer of 100 slots is a few
/// hundred kB; providers cap a response's size, not its slots).
const SLOTS_PER_PROOF: usize = 100;

/// What was proven at one L1 block: its verified state root and the slots read.
#[derive(Debug, Default)]
struct ProvenAt {
    block: Option<BlockRef>,
    state_root: B256,
    slots: std::collections::HashMap<(Address, B256), U256>,
}

impl HubChainAdapter {
    /// Connects to the hub chain of `config`: its RPC with the configured timeouts, the
    /// relayer's key, its chain id. `bridges` read what rollup bridges revert with through the Hub.
    pub async fn connect(config: &HubChain, bridges: &'static [BridgeReverts]) -> Result<Self> {
        let reverts: RevertReader = Arc::new(move |data: &[u8], message: &str| {
            hub::classify_revert(data, message, bridges)
        });
        Ok(Self {
            client: EvmClient::connect(&config.chain, reverts).await?,
            hub: config.hub,
            bridges,
            proven: Default::default(),
        })
    }

    /// The hub chain of `config` without the relayer's key (reads only).
    pub fn read_only(config: &HubChain, bridges: &'static [BridgeReverts]) -> Result<Self> {
        Ok(Self {
            client: EvmClient::read_only(&config.chain)?,
            hub: config.hub,
            bridges,
            proven: Default::default(),
        })
    }

    /// A reader of the hub chain `name` (domain `domain`) at `rpc` (default timeouts), reading
    /// the Hub at `hub`, treating blocks `confirmations` deep as final.
    pub fn new(
        name: &str,
        domain: u32,
        rpc: alloy::transports::http::reqwest::Url,
        hub: Address,
        confirmations: u64,
    ) -> Result<Self> {
        Ok(Self {
            client: EvmClient::new(name, domain, rpc, confirmations)?,
            hub,
            bridges: &[],
            proven: Default::default(),
        })
    }

    /// The shared EVM client.
    pub fn client(&self) -> &EvmClient {
        &self.client
    }

    /// The Hub's address.
    pub fn hub(&self) -> Address {
        self.hub
    }

    /// The provider.
    pub fn provider(&self) -> &alloy::providers::DynProvider {
        self.client.provider()
    }

    /// The hub chain's checkpoint at L1 block `block` (issue 16): the messages the Hub's
    /// `MessageSent` logs of that block (read at its hash) carry, in log order. `None` when it
    /// sent none.
    pub async fn checkpoint(&self, block: BlockRef) -> Result<Option<Checkpoint>> {
        let filter = EvmClient::sends_of(self.hub).at_block_hash(B256::from(block.hash));
        let found = self.found_checkpoints(&filter).await?;
        if let Some(other) = found
            .iter()
            .find(|f| f.checkpoint.claim.l1_block != block.number)
        {
            return Err(self.client.bad(
                "MessageSent event",
                None,
                format!(
                    "asked for block {}, the RPC answered a log of block {}",
                    block.number, other.checkpoint.claim.l1_block
                ),
            ));
        }
        Ok(found.into_iter().next().map(|f| f.checkpoint))
    }

    /// The checkpoints of the Hub's sends that `filter` selects, one per block, in block order.
    async fn found_checkpoints(&self, filter: &Filter) -> Result<Vec<FoundCheckpoint>> {
        let logs = self.client.logs(filter).await?;
        let mut blocks: std::collections::BTreeMap<u64, Vec<(u64, SentMessage)>> =
            Default::default();
        for (log_index, m) in self.client.decode_sent(logs)? {
            blocks
                .entry(m.block.number)
                .or_default()
                .push((log_index, m));
        }
        let mut out = Vec::new();
        for (number, mut sent) in blocks {
            sent.sort_by_key(|(i, _)| *i);
            let hash = sent[0].1.block.hash;
            if sent.iter().any(|(_, m)| m.block.hash != hash) {
                return Err(self.client.bad(
                    "MessageSent event",
                    None,
                    format!("the RPC answered logs of two blocks numbered {number}"),
                ));
            }
            let logs: Vec<HubSentLog> = sent
                .iter()
                .map(|(log_index, m)| HubSentLog {
                    log_index: *log_index,
                    id: m.envelope.id(),
                })
                .collect();
            let Some(checkpoint) = checkpoint::hub_checkpoint(
                self.client.info.domain,
                number,
                B256::from(hash),
                &logs,
            )
            .map_err(|e| self.client.bad("checkpoint", None, e.to_string()))?
            else {
                continue;
            };
            out.push(FoundCheckpoint {
                checkpoint,
                messages: sent.into_iter().map(|(_, m)| m).collect(),
            });
        }
        Ok(out)
    }

    /// The state root of `block`, after checking that the header the node returns for its number
    /// hashes to `block.hash` (so a node cannot hand over another block's state root).
    pub async fn verified_state_root(&self, block: BlockRef) -> Result<B256> {
        let found = self
            .client
            .block(BlockNumberOrTag::Number(block.number))
            .await?;
        let computed = found.header.inner.hash_slow();
        if computed.0 != block.hash {
            return Err(self.client.bad(
                "block header",
                None,
                format!(
                    "block {} hashes to {computed}, expected 0x{}",
                    block.number,
                    hex(&block.hash)
                ),
            ));
        }
        Ok(found.header.inner.state_root)
    }

    /// The verified state root of `block`, read once per block (the cache of proven slots starts
    /// over at a new block).
    async fn state_root_at(&self, block: BlockRef) -> Result<B256> {
        {
            let proven = self.proven.lock().unwrap_or_else(|p| p.into_inner());
            if proven.block == Some(block) {
                return Ok(proven.state_root);
            }
        }
        let root = self.verified_state_root(block).await?;
        let mut proven = self.proven.lock().unwrap_or_else(|p| p.into_inner());
        if proven.block != Some(block) {
            *proven = ProvenAt {
                block: Some(block),
                state_root: root,
                slots: Default::default(),
            };
        }
        Ok(root)
    }

    /// `slots` of `contract` at `block` from one `eth_getProof`, each checked against `block`'s
    /// verified state root, in the order asked.
    async fn read_proofs(
        &self,
        contract: Address,
        slots: &[B256],
        block: BlockRef,
    ) -> Result<Vec<U256>> {
        let root = self.state_root_at(block).await?;
        let answer: serde_json::Value = self
            .client
            .provider
            .raw_request(
                "eth_getProof".into(),
                (contract, slots, format!("{:#x}", block.number)),
            )
            .await
            .map_err(|e| self.client.rpc_error("eth_getProof", e))?;
        let proof: AccountProof = serde_json::from_value(answer)
            .map_err(|e| self.client.bad("eth_getProof answer", None, e.to_string()))?;
        slots
            .iter()
            .map(|slot| {
                proof
                    .verify_slot_of(contract, root, *slot)
                    .map_err(|e| self.client.bad("storage proof", None, e.to_string()))
            })
            .collect()
    }

    /// `l2ToL1Messages[message_hash]` of `messaging` at `block`, proven by a storage proof against
    /// that block's verified state root. A value ≥ 1 means the rollup's state update made the
    /// message consumable on L1.
    pub async fn proven_l2_to_l1(
        &self,
        messaging: Address,
        layout: &xroute_proofs::storage::MessagingLayout,
        message_hash: B256,
        block: BlockRef,
    ) -> Result<U256> {
        self.proven_slot(messaging, layout.l2_to_l1_slot(message_hash), block)
            .await
    }

    /// The Hub's `outbound[id]` at `block`, by storage proof: the escrowed fee + 1 while an L1
    /// app's message waits for a router, 0 before it was sent and after it was forwarded.
    pub async fn proven_outbound(&self, id: &MessageId, block: BlockRef) -> Result<U256> {
        self.proven_slot(self.hub, hub::outbound_key(id.0), block)
            .await
    }
}

#[async_trait]
impl L1State for HubChainAdapter {
    fn hub(&self) -> Address {
        self.hub
    }

    async fn chain_id(&self) -> Result<u64> {
        self.client.chain_id().await
    }

    /// Storage slot `slot` of `contract` at `block`, checked by `eth_getProof` against the state
    /// root of `block`'s recomputed header.
    async fn proven_slot(&self, contract: Address, slot: B256, block: BlockRef) -> Result<U256> {
        self.prove_slots(contract, &[slot], block).await?;
        let kept = {
            let proven = self.proven.lock().unwrap_or_else(|p| p.into_inner());
            match (proven.block, proven.slots.get(&(contract, slot))) {
                (Some(at), Some(value)) if at == block => Some(*value),
                _ => None,
            }
        };
        match kept {
            Some(value) => Ok(value),
            // Another block's proofs replaced these meanwhile: this one alone.
            None => Ok(self.read_proofs(contract, &[slot], block).await?[0]),
        }
    }

    /// Proves the slots of `slots` not proven yet at `block`, [`SLOTS_PER_PROOF`] to an
    /// `eth_getProof`, and keeps them for [`L1State::proven_slot`].
    async fn prove_slots(&self, contract: Address, slots: &[B256], block: BlockRef) -> Result<()> {
        let missing: Vec<B256> = {
            let proven = self.proven.lock().unwrap_or_else(|p| p.into_inner());
            let mut seen = std::collections::HashSet::new();
            slots
                .iter()
                .filter(|slot| {
                    seen.insert(**slot)
                        && !(proven.block == Some(block)
                            && proven.slots.contains_key(&(contract, **slot)))
                })
                .copied()
                .collect()
        };
        for chunk in missing.chunks(SLOTS_PER_PROOF) {
            let values = self.read_proofs(contract, chunk, block).await?;
            let mut proven = self.proven.lock().unwrap_or_else(|p| p.into_inner());
            if proven.block == Some(block) {
                for (slot, value) in chunk.iter().zip(values) {
                    proven.slots.insert((contract, *slot), value);
                }
            }
        }
        Ok(())
    }

    async fn logs(&self, filter: &Filter) -> Result<Vec<alloy::rpc::types::Log>> {
        self.client.logs(filter).await
    }

    async fn base_fee(&self) -> Result<U256> {
        Ok(self.fee_and_time().await?.0)
    }

    async fn latest(&self) -> Result<(BlockRef, U256, u64)> {
        let block = self.client.block(BlockNumberOrTag::Latest).await?;
        Ok((
            BlockRef {
                number: block.header.number,
                hash: block.header.hash.0,
            },
            U256::from(block.header.base_fee_per_gas.unwrap_or(0)),
            block.header.timestamp,
        ))
    }

    async fn code(&self, address: Address) -> Result<Bytes> {
        self.client.code(address).await
    }

    async fn call(&self, to: Address, data: Bytes) -> Result<Bytes> {
        let request = alloy::rpc::types::TransactionRequest::default()
            .to(to)
            .input(data.into());
        self.client
            .provider
            .call(request)
            .await
            .map_err(|e| self.client.rpc_error("eth_call", e))
    }

    async fn storage(&self, contract: Address, slot: B256) -> Result<U256> {
        self.client
            .provider
            .get_storage_at(contract, slot.into())
            .await
            .map_err(|e| self.client.rpc_error("eth_getStorageAt", e))
    }

    async fn latest_block(&self) -> Result<u64> {
        self.client
            .provider
            .get_block_number()
            .await
            .map_err(|e| self.client.rpc_error("eth_blockNumber", e))
    }
}

#[async_trait]
impl ChainAdapter for HubChainAdapter {
    fn info(&self) -> &ChainInfo {
        &self.client.info
    }

    async fn head(&self) -> Result<BlockRef> {
        self.client.head().await
    }

    async fn block_hash(&self, number: u64) -> Result<[u8; 32]> {
        self.client.block_hash(number).await
    }

    async fn block_of_tx(&self, tx: [u8; 32]) -> Result<Option<u64>> {
        self.client.block_of_tx(tx).await
    }

    async fn sent_messages(&self, from: u64, to: u64) -> Result<Vec<SentMessage>> {
        self.client.sent_messages(self.hub, from, to).await
    }

    async fn prepare_exits(&self, envelopes: &[&Envelope], l1: &L1<'_>) -> Result<()> {
        let slots: Vec<B256> = envelopes
            .iter()
            .map(|envelope| hub::outbound_key(envelope.id().0))
            .collect();
        self.prove_slots(self.hub, &slots, l1.finalized).await
    }

    /// An L1 app's message leaves L1 for its rollup once the Hub holds it in `outbound[id]`
    /// (escrowed fee + 1); `relayFromL1` forwards it, and the escrow counts toward the entry fee.
    async fn exit(
        &self,
        envelope: &Envelope,
        _sent_in: u64,
        l1: &L1<'_>,
        terms: &Bytes,
    ) -> Result<Exit> {
        let value = self.proven_outbound(&envelope.id(), l1.finalized).await?;
        Ok(Exit::from_slot(
            value,
            "Hub.outbound[id]",
            l1,
            hub::relay_from_l1(self.hub, &envelope.to_words(), terms),
            value.saturating_sub(U256::from(1)),
        ))
    }

    /// An L1-bound message is delivered by the Hub itself in the relay transaction: whether the
    /// recipient can take it is the Hub's check (`BadRecipient`), read from the relay's estimate.
    async fn entry(&self, _envelope: &Envelope, _l1: &L1<'_>) -> Result<Entry> {
        Ok(Entry::fee(U256::ZERO))
    }

    /// On the hub chain, "delivered" means the Hub processed the id: an L1-bound message is
    /// delivered to its app in the same transaction; any other was forwarded to its next hop.
    async fn is_delivered(&self, envelope: &Envelope) -> Result<bool> {
        Hub::new(self.hub, &self.client.provider)
            .isProcessed(envelope.src_domain, envelope.nonce)
            .call()
            .await
            .map_err(|e| AdapterError::rpc(&self.client.info.name, "Hub.isProcessed", e))
    }

    fn submitter(&self) -> Option<&dyn Submitter> {
        self.client.submitter().map(|s| s as &dyn Submitter)
    }

    fn checkpointed(&self) -> bool {
        true
    }

    /// An L1 app's message can exit once its block is final: no event to read.
    async fn exits(&self, _l1: &dyn L1State, _from: u64, to: u64) -> Result<crate::Exits> {
        Ok(crate::Exits::UpTo(to))
    }

    /// The hub chain's own sends (one `eth_getLogs`).
    async fn checkpoints(
        &self,
        _l1: &dyn L1State,
        from: u64,
        to: u64,
    ) -> Result<Option<Vec<FoundCheckpoint>>> {
        let filter = EvmClient::sends_of(self.hub).from_block(from).to_block(to);
        self.found_checkpoints(&filter).await.map(Some)
    }

    fn send_call(&self, dst: u32, recipient: B256, payload: &[U256], value: U256) -> Result<Call> {
        Ok(EvmClient::send_call(
            self.hub, dst, recipient, payload, value,
        ))
    }

    fn as_l1(&self) -> Option<&dyn L1State> {
        Some(self)
    }

    fn batcher(&self) -> Option<&dyn Batcher> {
        self.client
            .submitter()
            .is_some()
            .then_some(self as &dyn Batcher)
    }

    /// The node answers with the configured chain id, the Hub is deployed, the relayer's key
    /// loads and holds enough for `relays` relays.
    async fn check(
        &self,
        _l1: Option<&dyn L1State>,
        relays: u64,
    ) -> std::result::Result<String, CheckProblem> {
        let mut found = vec![self.client.check_chain_id().await?];
        self.client.check_code(self.hub, "hub").await?;
        found.push(format!("Hub {} deployed", self.hub));
        found.push(self.client.check_signer(relays, RELAY_GAS).await?);
        Ok(found.join("; "))
    }

    async fn tank_calls(&self, action: &crate::TankAction, caller: B256) -> Result<Vec<Call>> {
        let balance = super::tank::balance(
            self.client.provider(),
            &self.client.info().name,
            self.hub,
            caller,
        )
        .await
        .map(|b| b.balance)
        .unwrap_or_default();
        super::tank::calls(self.hub, action, caller, balance)
    }

    /// Measured: 260k gas toward Arbitrum, the payment settled in the relay.
    fn relay_gas_hint(&self, words: usize) -> u64 {
        330_000 + 1_000 * words as u64
    }

    async fn tank_balance(&self, account: B256) -> Result<crate::TankBalance> {
        super::tank::balance(
            self.client.provider(),
            &self.client.info().name,
            self.hub,
            account,
        )
        .await
    }

    async fn settlement(&self, id: MessageId, sent_in: u64) -> Result<Option<crate::Settlement>> {
        super::tank::settlement(&self.client, self.hub, id.0, sent_in).await
    }

    /// The Hub's own payment for an L1 app's message (`Hub.payments`).
    async fn payment(&self, id: MessageId) -> Result<Option<crate::Payment>> {
        super::tank::payment(
            self.client.provider(),
            &self.client.info().name,
            self.hub,
            id.0,
        )
        .await
    }

    async fn token_supply(&self, token: B256) -> Result<U256> {
        self.client.total_supply(token).await
    }
}

impl HubChainAdapter {
    /// `call` to the Hub as an `eth_call` from the router's account.
    fn eth_call_of(&self, call: &Call) -> alloy::rpc::types::TransactionRequest {
        let from = self
            .client
            .submitter()
            .map(|s| s.address())
            .unwrap_or_default();
        alloy::rpc::types::TransactionRequest::default()
            .from(from)
            .to(self.hub)
            .input(call.data.clone().into())
            .value(call.value)
    }
}

/// The hub chain's batches are the Hub's `relayBatch`.
#[async_trait]
impl Batcher for HubChainAdapter {
    async fn simulate(&self, members: &[Call], metered: bool) -> Result<Vec<Simulated>> {
        let call = hub::relay_batch(self.hub, members, metered);
        let request = self.eth_call_of(&call);
        let out = self
            .client
            .provider
            .call(request)
            .await
            .map_err(|e| self.client.rpc_error("eth_call relayBatch", e))?;
        let results = hub::batch_results(&out, self.bridges)
            .map_err(|e| self.client.bad("relayBatch answer", None, e.to_string()))?;
        if results.len() != members.len() {
            return Err(self.client.bad(
                "relayBatch answer",
                None,
                format!("{} results for {} members", results.len(), members.len()),
            ));
        }
        Ok(results)
    }

    fn batch(&self, members: &[Call], metered: bool) -> Call {
        hub::relay_batch(self.hub, members, metered)
    }

    async fn measure_settle(&self, call: &Call) -> Result<u64> {
        let request = self.eth_call_of(call);
        let err = match self.client.provider.call(request).await {
            Ok(_) => {
                return Err(self.client.bad(
                    "Hub.settle simulation",
                    None,
                    "it took a claim above any cost",
                ));
            }
            Err(e) => e,
        };
        let data = err
            .as_error_resp()
            .and_then(|r| r.as_revert_data())
            .ok_or_else(|| self.client.rpc_error("eth_call settle", err))?;
        hub::settle_measured(&data).ok_or_else(|| {
            let why = hub::classify_revert(&data, "", self.bridges);
            self.client.bad(
                "Hub.settle simulation",
                None,
                format!("it would revert: {why:?}"),
            )
        })
    }
}
