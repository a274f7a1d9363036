//! The EVM family, on alloy: one [`EvmAdapter`] for two kinds of EVM chain.
//!
//! - The L1 hub chain (`hub` configured): its messages are the Hub's `MessageSent` events, its
//!   exit is the Hub's own `outbound[id]` (read by a storage proof against a header whose hash the
//!   adapter recomputes) consumed by `relayFromL1`, and its "delivered" is the Hub's
//!   `isProcessed(source domain, nonce)`. It is also [`L1State`] for every other chain's exit.
//! - An Arbitrum-family rollup (`[chains.arbitrum]` configured): its messages are its endpoint's
//!   `MessageSent` events (the same event as the Hub's); its exit, entry and follow-up are the
//!   rollup's L1 bridge ([`arbitrum`]).
//!
//! Heads, blocks, logs and sending ([`submit`]) are the same code for both.

pub mod arbitrum;
pub mod submit;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
use async_trait::async_trait;
use xroute_config::EvmChain;
use xroute_proofs::{
    checkpoint::{self, Checkpoint, HubSentLog},
    envelope::{Envelope, MessageId},
    storage::{AccountProof, MessagingLayout},
};

use crate::{
    AdapterError, Batcher, BlockRef, Call, ChainAdapter, ChainInfo, Entry, Exit, FoundCheckpoint,
    L1, L1State, Result, SentMessage, Simulated, Submitter, hex,
    hub::{self, Hub},
    keys, transport,
};
use submit::EvmSubmitter;

/// An EVM chain's adapter: the L1 hub chain, or an Arbitrum-family rollup.
#[derive(Debug)]
pub struct EvmAdapter {
    info: ChainInfo,
    /// The contract whose `MessageSent` events are the chain's sends: the Hub on the hub chain,
    /// the endpoint on a rollup.
    hub: Address,
    /// The rollup's bridge, on an Arbitrum-family chain; `None` on the hub chain.
    rollup: Option<Box<arbitrum::Rollup>>,
    provider: DynProvider,
    submitter: Option<EvmSubmitter>,
}

impl EvmAdapter {
    /// Connects to the hub chain of `config` (`hub` set): its RPC with the configured timeouts,
    /// its relayer key, its chain id.
    pub async fn connect(config: &EvmChain, hub: Address) -> Result<Self> {
        let (provider, submitter) = Self::connect_rpc(config).await?;
        Ok(Self {
            info: Self::info_of(config),
            hub,
            rollup: None,
            provider,
            submitter: Some(submitter),
        })
    }

    /// Connects to the Arbitrum-family rollup of `config` (`[chains.arbitrum]` set): its L2 RPC
    /// and the router's L2 account (redeems are sent from it, refunds go to it).
    pub async fn connect_arbitrum(
        config: &EvmChain,
        contracts: &xroute_config::ArbitrumContracts,
    ) -> Result<Self> {
        let (provider, submitter) = Self::connect_rpc(config).await?;
        let submitter = submitter.with_reverts(arbitrum::classify_l2_revert);
        let rollup = arbitrum::Rollup::new(contracts.clone(), submitter.chain_id());
        Ok(Self {
            info: Self::info_of(config),
            hub: rollup.endpoint(),
            rollup: Some(Box::new(rollup)),
            provider,
            submitter: Some(submitter),
        })
    }

    fn info_of(config: &EvmChain) -> ChainInfo {
        ChainInfo {
            name: config.name.clone(),
            domain: config.domain,
            confirmations: config.confirmations,
        }
    }

    async fn connect_rpc(config: &EvmChain) -> Result<(DynProvider, EvmSubmitter)> {
        let provider =
            transport::evm_provider(&config.name, config.rpc.expose(), &config.transport)?;
        let signer = keys::secp256k1(
            &format!("chains.{}.signer_key_file", config.name),
            &config.signer_key_file,
        )?;
        let submitter = EvmSubmitter::new(&config.name, provider.clone(), signer).await?;
        Ok((provider, submitter))
    }

    /// A read-only adapter for chain `name` (domain `domain`) at `rpc` (default timeouts),
    /// reading the Hub at `hub`, treating blocks `confirmations` deep as final.
    pub fn new(
        name: &str,
        domain: u32,
        rpc: alloy::transports::http::reqwest::Url,
        hub: Address,
        confirmations: u64,
    ) -> Result<Self> {
        let provider = transport::evm_provider(name, rpc.as_str(), &Default::default())?;
        Ok(Self {
            info: ChainInfo {
                name: name.to_string(),
                domain,
                confirmations,
            },
            hub,
            rollup: None,
            provider,
            submitter: None,
        })
    }

    fn rpc_error(
        &self,
        method: &'static str,
        e: alloy::transports::TransportError,
    ) -> AdapterError {
        AdapterError::rpc(&self.info.name, method, e)
    }

    fn bad(&self, what: &'static str, tx: Option<B256>, reason: impl Into<String>) -> AdapterError {
        AdapterError::bad(&self.info.name, what, tx.map(|t| t.to_string()), reason)
    }

    /// The Hub's `MessageSent` logs as messages (each envelope checked against the id and header
    /// the Hub emitted), with their log index.
    fn decode_sent(&self, logs: Vec<alloy::rpc::types::Log>) -> Result<Vec<(u64, SentMessage)>> {
        let mut out = Vec::with_capacity(logs.len());
        for log in logs {
            let tx = log.transaction_hash;
            let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
                continue; // pending
            };
            let event = Hub::MessageSent::decode_log(&log.inner)
                .map_err(|e| self.bad("MessageSent event", tx, e.to_string()))?;
            let words: Vec<B256> = event.words.iter().map(|w| B256::from(*w)).collect();
            let envelope = Envelope::from_words(&words)
                .map_err(|e| self.bad("envelope", tx, e.to_string()))?;
            if envelope.id().0 != event.id {
                return Err(self.bad(
                    "envelope",
                    tx,
                    format!(
                        "the Hub emitted id {} for an envelope whose id is {}",
                        event.id,
                        envelope.id()
                    ),
                ));
            }
            if envelope.src_domain != self.info.domain
                || envelope.dst_domain != event.dstDomain
                || envelope.nonce != event.nonce
            {
                return Err(self.bad(
                    "MessageSent event",
                    tx,
                    "header fields disagree with the envelope",
                ));
            }
            let index = log.log_index.unwrap_or_default();
            out.push((
                index,
                SentMessage {
                    envelope,
                    block: BlockRef {
                        number,
                        hash: hash.0,
                    },
                    tx_hash: tx.unwrap_or_default().0,
                },
            ));
        }
        Ok(out)
    }

    /// The hub chain's checkpoint at L1 block `block` (issue 16): the messages the Hub's
    /// `MessageSent` logs of that block (read at its hash) carry, in log order. `None` when it
    /// sent none. Only the hub chain: an Arbitrum rollup's checkpoint is its send root's range.
    pub async fn checkpoint(&self, block: BlockRef) -> Result<Option<Checkpoint>> {
        let filter = self.hub_sends()?.at_block_hash(B256::from(block.hash));
        let found = self.found_checkpoints(&filter).await?;
        if let Some(other) = found
            .iter()
            .find(|f| f.checkpoint.claim.l1_block != block.number)
        {
            return Err(self.bad(
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

    /// The filter of the Hub's `MessageSent` logs (the hub chain only).
    fn hub_sends(&self) -> Result<Filter> {
        if self.rollup.is_some() {
            return Err(AdapterError::config(
                format!("chains.{}", self.info.name),
                "checkpoints of an Arbitrum rollup are not built (its send root's range)",
            ));
        }
        Ok(Filter::new()
            .address(self.hub)
            .event_signature(Hub::MessageSent::SIGNATURE_HASH))
    }

    /// The checkpoints of the Hub's sends that `filter` selects, one per block, in block order.
    async fn found_checkpoints(&self, filter: &Filter) -> Result<Vec<FoundCheckpoint>> {
        let logs = self
            .provider
            .get_logs(filter)
            .await
            .map_err(|e| self.rpc_error("eth_getLogs", e))?;
        let mut blocks: std::collections::BTreeMap<u64, Vec<(u64, SentMessage)>> =
            Default::default();
        for (log_index, m) in self.decode_sent(logs)? {
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
                return Err(self.bad(
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
            let Some(checkpoint) =
                checkpoint::hub_checkpoint(self.info.domain, number, B256::from(hash), &logs)
                    .map_err(|e| self.bad("checkpoint", None, e.to_string()))?
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

    /// Block `which` (its header), or an error naming it when the node has none.
    async fn block(&self, which: BlockNumberOrTag) -> Result<alloy::rpc::types::Block> {
        self.provider
            .get_block_by_number(which)
            .await
            .map_err(|e| self.rpc_error("eth_getBlockByNumber", e))?
            .ok_or_else(|| {
                AdapterError::unavailable(
                    &self.info.name,
                    "eth_getBlockByNumber",
                    format!("no block {which}"),
                )
            })
    }

    /// The state root of `block`, after checking that the header the node returns for its number
    /// hashes to `block.hash` (so a node cannot hand over another block's state root).
    pub async fn verified_state_root(&self, block: BlockRef) -> Result<B256> {
        let found = self.block(BlockNumberOrTag::Number(block.number)).await?;
        let computed = found.header.inner.hash_slow();
        if computed.0 != block.hash {
            return Err(self.bad(
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

    /// `l2ToL1Messages[message_hash]` of `messaging` at `block`, proven by a storage proof against
    /// that block's verified state root. A value ≥ 1 means the rollup's state update made the
    /// message consumable on L1.
    pub async fn proven_l2_to_l1(
        &self,
        messaging: Address,
        layout: &MessagingLayout,
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

    /// The Hub's address.
    pub fn hub(&self) -> Address {
        self.hub
    }

    /// The provider.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }
}

#[async_trait]
impl L1State for EvmAdapter {
    fn hub(&self) -> Address {
        self.hub
    }

    async fn chain_id(&self) -> Result<u64> {
        if let Some(s) = &self.submitter {
            return Ok(s.chain_id());
        }
        self.provider
            .get_chain_id()
            .await
            .map_err(|e| self.rpc_error("eth_chainId", e))
    }

    /// Storage slot `slot` of `contract` at `block`, checked by `eth_getProof` against the state
    /// root of `block`'s recomputed header.
    async fn proven_slot(&self, contract: Address, slot: B256, block: BlockRef) -> Result<U256> {
        let root = self.verified_state_root(block).await?;
        let answer: serde_json::Value = self
            .provider
            .raw_request(
                "eth_getProof".into(),
                (contract, [slot], format!("{:#x}", block.number)),
            )
            .await
            .map_err(|e| self.rpc_error("eth_getProof", e))?;
        let proof: AccountProof = serde_json::from_value(answer)
            .map_err(|e| self.bad("eth_getProof answer", None, e.to_string()))?;
        proof
            .verify_slot_of(contract, root, slot)
            .map_err(|e| self.bad("storage proof", None, e.to_string()))
    }

    async fn logs(&self, filter: &Filter) -> Result<Vec<alloy::rpc::types::Log>> {
        self.provider
            .get_logs(filter)
            .await
            .map_err(|e| self.rpc_error("eth_getLogs", e))
    }

    async fn base_fee(&self) -> Result<U256> {
        let block = self.block(BlockNumberOrTag::Latest).await?;
        Ok(U256::from(block.header.base_fee_per_gas.unwrap_or(0)))
    }
}

#[async_trait]
impl ChainAdapter for EvmAdapter {
    fn info(&self) -> &ChainInfo {
        &self.info
    }

    async fn head(&self) -> Result<BlockRef> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| self.rpc_error("eth_getBlockByNumber", e))?
            .ok_or_else(|| {
                AdapterError::unavailable(
                    &self.info.name,
                    "eth_getBlockByNumber",
                    "no latest block",
                )
            })?;
        Ok(BlockRef {
            number: block.header.number,
            hash: block.header.hash.0,
        })
    }

    async fn block_hash(&self, number: u64) -> Result<[u8; 32]> {
        let block = self.block(BlockNumberOrTag::Number(number)).await?;
        Ok(block.header.hash.0)
    }

    async fn block_of_tx(&self, tx: [u8; 32]) -> Result<Option<u64>> {
        let receipt = self
            .provider
            .get_transaction_receipt(B256::from(tx))
            .await
            .map_err(|e| self.rpc_error("eth_getTransactionReceipt", e))?;
        Ok(receipt.and_then(|r| r.block_number))
    }

    async fn sent_messages(&self, from: u64, to: u64) -> Result<Vec<SentMessage>> {
        let filter = Filter::new()
            .address(self.hub)
            .event_signature(Hub::MessageSent::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(|e| self.rpc_error("eth_getLogs", e))?;
        Ok(self
            .decode_sent(logs)?
            .into_iter()
            .map(|(_, m)| m)
            .collect())
    }

    /// An L1 app's message leaves L1 for its rollup once the Hub holds it in `outbound[id]`
    /// (escrowed fee + 1); `relayFromL1` forwards it, and the escrow counts toward the entry fee.
    async fn exit(&self, envelope: &Envelope, l1: &L1<'_>, terms: &Bytes) -> Result<Exit> {
        if let Some(rollup) = &self.rollup {
            return rollup.exit(self, envelope, l1, terms).await;
        }
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
    async fn entry(&self, envelope: &Envelope, l1: &L1<'_>) -> Result<Entry> {
        if let Some(rollup) = &self.rollup {
            return rollup.entry(self, envelope, l1).await;
        }
        Ok(Entry::fee(U256::ZERO))
    }

    /// On the hub chain, "delivered" means the Hub processed the id: an L1-bound message is
    /// delivered to its app in the same transaction; any other was forwarded to its next hop.
    async fn is_delivered(&self, envelope: &Envelope) -> Result<bool> {
        if let Some(rollup) = &self.rollup {
            return rollup.is_delivered(self, &envelope.id()).await;
        }
        Hub::new(self.hub, &self.provider)
            .isProcessed(envelope.src_domain, envelope.nonce)
            .call()
            .await
            .map_err(|e| AdapterError::rpc(&self.info.name, "Hub.isProcessed", e))
    }

    fn submitter(&self) -> Option<&dyn Submitter> {
        self.submitter.as_ref().map(|s| s as &dyn Submitter)
    }

    fn checkpointed(&self) -> bool {
        self.rollup.is_none()
    }

    /// The hub chain's own sends (one `eth_getLogs`); an EVM rollup's are not checkpointed.
    async fn checkpoints(
        &self,
        _l1: &dyn L1State,
        from: u64,
        to: u64,
    ) -> Result<Option<Vec<FoundCheckpoint>>> {
        if self.rollup.is_some() {
            return Ok(None);
        }
        let filter = self.hub_sends()?.from_block(from).to_block(to);
        self.found_checkpoints(&filter).await.map(Some)
    }

    fn send_call(&self, dst: u32, recipient: B256, payload: &[U256], value: U256) -> Result<Call> {
        // The Hub and the ArbitrumEndpoint have the same `send(uint32,bytes32,uint256[])`.
        let data = Hub::sendCall {
            dstDomain: dst,
            recipient,
            payload: payload.to_vec(),
        }
        .abi_encode();
        Ok(Call::evm(self.hub, data.into(), value))
    }

    async fn follow_up(&self, envelope: &Envelope, l1: &L1<'_>) -> Result<Option<Call>> {
        match &self.rollup {
            Some(rollup) => rollup.follow_up(self, envelope, l1).await,
            None => Ok(None),
        }
    }

    fn as_l1(&self) -> Option<&dyn L1State> {
        self.rollup.is_none().then_some(self as &dyn L1State)
    }

    fn batcher(&self) -> Option<&dyn Batcher> {
        (self.rollup.is_none() && self.submitter.is_some()).then_some(self as &dyn Batcher)
    }
}

/// The hub chain's batches are the Hub's `relayBatch`.
#[async_trait]
impl Batcher for EvmAdapter {
    async fn simulate(&self, members: &[Call]) -> Result<Vec<Simulated>> {
        let call = hub::relay_batch(self.hub, members);
        let from = self
            .submitter
            .as_ref()
            .map(EvmSubmitter::address)
            .unwrap_or_default();
        let request = alloy::rpc::types::TransactionRequest::default()
            .from(from)
            .to(self.hub)
            .input(call.data.into())
            .value(call.value);
        let out = self
            .provider
            .call(request)
            .await
            .map_err(|e| self.rpc_error("eth_call relayBatch", e))?;
        let results = hub::batch_results(&out)
            .map_err(|e| self.bad("relayBatch answer", None, e.to_string()))?;
        if results.len() != members.len() {
            return Err(self.bad(
                "relayBatch answer",
                None,
                format!("{} results for {} members", results.len(), members.len()),
            ));
        }
        Ok(results)
    }

    fn batch(&self, members: &[Call]) -> Call {
        hub::relay_batch(self.hub, members)
    }
}
