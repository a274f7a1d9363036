//! The EVM family, read side: the L1 hub chain's Hub events, and the check that makes a message
//! `Proven`: `l2ToL1Messages[h]` of a rollup's messaging contract, read through an `eth_getProof`
//! storage proof against the state root of a header whose hash the adapter recomputes itself.

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Filter,
    sol,
    sol_types::SolEvent,
};
use async_trait::async_trait;
use xroute_proofs::{
    envelope::{Envelope, MessageId},
    storage::{AccountProof, MessagingLayout},
};

use crate::{AdapterError, BlockRef, ChainAdapter, Result, SentMessage, hex};

sol! {
    #[sol(rpc)]
    interface IHub {
        event MessageSent(bytes32 indexed id, uint32 indexed dstDomain, address indexed sender, uint64 nonce, bytes32 recipient, uint256[] words);
        function processed(bytes32 id) external view returns (bool);
    }
}

/// The hub chain's adapter.
#[derive(Debug, Clone)]
pub struct EvmAdapter {
    name: String,
    domain: u32,
    hub: Address,
    confirmations: u64,
    provider: DynProvider,
}

impl EvmAdapter {
    /// An adapter for chain `name` (domain `domain`) at `rpc`, reading the Hub at `hub`, treating
    /// blocks `confirmations` deep as final.
    pub fn new(
        name: &str,
        domain: u32,
        rpc: alloy::transports::http::reqwest::Url,
        hub: Address,
        confirmations: u64,
    ) -> Self {
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(rpc)
            .erased();
        Self {
            name: name.to_string(),
            domain,
            hub,
            confirmations,
            provider,
        }
    }

    fn rpc_error(&self, method: &'static str, e: impl std::fmt::Display) -> AdapterError {
        AdapterError::Rpc {
            chain: self.name.clone(),
            method,
            message: e.to_string(),
        }
    }

    fn bad(&self, what: &'static str, tx: Option<B256>, reason: impl Into<String>) -> AdapterError {
        AdapterError::BadData {
            chain: self.name.clone(),
            what,
            tx: tx.map(|t| t.to_string()).unwrap_or_default(),
            reason: reason.into(),
        }
    }

    /// The state root of `block`, after checking that the header the node returns for its number
    /// hashes to `block.hash` (so a node cannot hand over another block's state root).
    pub async fn verified_state_root(&self, block: BlockRef) -> Result<B256> {
        let found = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(block.number))
            .await
            .map_err(|e| self.rpc_error("eth_getBlockByNumber", e))?
            .ok_or_else(|| {
                self.rpc_error("eth_getBlockByNumber", format!("no block {}", block.number))
            })?;
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
        let root = self.verified_state_root(block).await?;
        let slot = layout.l2_to_l1_slot(message_hash);
        let answer: serde_json::Value = self
            .provider
            .raw_request(
                "eth_getProof".into(),
                (messaging, [slot], format!("{:#x}", block.number)),
            )
            .await
            .map_err(|e| self.rpc_error("eth_getProof", e))?;
        let proof: AccountProof = serde_json::from_value(answer)
            .map_err(|e| self.bad("eth_getProof answer", None, e.to_string()))?;
        proof
            .verify_slot_of(messaging, root, slot)
            .map_err(|e| self.bad("storage proof", None, e.to_string()))
    }
}

#[async_trait]
impl ChainAdapter for EvmAdapter {
    fn name(&self) -> &str {
        &self.name
    }

    fn domain(&self) -> u32 {
        self.domain
    }

    fn confirmations(&self) -> u64 {
        self.confirmations
    }

    async fn head(&self) -> Result<BlockRef> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| self.rpc_error("eth_getBlockByNumber", e))?
            .ok_or_else(|| self.rpc_error("eth_getBlockByNumber", "no latest block"))?;
        Ok(BlockRef {
            number: block.header.number,
            hash: block.header.hash.0,
        })
    }

    async fn block_hash(&self, number: u64) -> Result<[u8; 32]> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(|e| self.rpc_error("eth_getBlockByNumber", e))?
            .ok_or_else(|| self.rpc_error("eth_getBlockByNumber", format!("no block {number}")))?;
        Ok(block.header.hash.0)
    }

    async fn sent_messages(&self, from: u64, to: u64) -> Result<Vec<SentMessage>> {
        let filter = Filter::new()
            .address(self.hub)
            .event_signature(IHub::MessageSent::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(|e| self.rpc_error("eth_getLogs", e))?;
        let mut out = Vec::with_capacity(logs.len());
        for log in logs {
            let tx = log.transaction_hash;
            let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
                continue; // pending
            };
            let event = IHub::MessageSent::decode_log(&log.inner)
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
            if envelope.src_domain != self.domain
                || envelope.dst_domain != event.dstDomain
                || envelope.nonce != event.nonce
            {
                return Err(self.bad(
                    "MessageSent event",
                    tx,
                    "header fields disagree with the envelope",
                ));
            }
            out.push(SentMessage {
                envelope,
                block: BlockRef {
                    number,
                    hash: hash.0,
                },
                tx_hash: tx.unwrap_or_default().0,
            });
        }
        Ok(out)
    }

    /// On the hub chain, "delivered" means the Hub processed the id: an L1-bound message is
    /// delivered to its app in the same transaction; any other was forwarded to its next hop.
    async fn is_delivered(&self, id: &MessageId) -> Result<bool> {
        IHub::new(self.hub, &self.provider)
            .processed(id.0)
            .call()
            .await
            .map_err(|e| self.rpc_error("Hub.processed", e))
    }
}
