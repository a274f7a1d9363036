//! The EVM family: the L1 hub chain's Hub events; the checks that make a message `Proven`
//! (`l2ToL1Messages[h]` of a rollup's messaging contract, or the Hub's own `outbound[id]` for a
//! message an L1 app sent), each read through an `eth_getProof` storage proof against the state
//! root of a header whose hash the adapter recomputes itself; the Hub's relay calls and what
//! their reverts mean; and sending ([`submit`]).

pub mod submit;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Filter,
    sol,
    sol_types::{SolCall, SolEvent, SolInterface},
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
        function outbound(bytes32 id) external view returns (uint256);
        function relayFromStarknet(uint32 srcDomain, uint256 endpoint, uint256[] calldata words) external payable returns (bytes32 id);
        function relayFromL1(uint256[] calldata words) external payable returns (bytes32 id);

        error NotOwner(address caller);
        error UnknownDomain(uint32 domain);
        error NotStarknetDomain(uint32 domain);
        error UnknownEndpoint(uint32 domain, uint256 endpoint);
        error WrongSourceDomain(uint32 declared, uint32 relayedFrom);
        error AlreadyProcessed(bytes32 id);
        error BadRecipient(bytes32 recipient);
        error WordNotAFelt(uint256 index, uint256 word);
        error FeeMismatch(uint256 expected, uint256 paid);
        error NotPending(bytes32 id);
    }
}

/// Storage slot of the Hub's `outbound` mapping (solc's layout; `contracts/evm/out/Hub.json`
/// lists it, and a test reads the slot through a proof against the getter).
pub const HUB_OUTBOUND_SLOT: u64 = 3;

/// Calldata of `Hub.relayFromStarknet(src_domain, endpoint, words)`.
pub fn relay_from_starknet_call(src_domain: u32, endpoint: U256, words: &[B256]) -> Bytes {
    IHub::relayFromStarknetCall {
        srcDomain: src_domain,
        endpoint,
        words: words.iter().map(|w| U256::from_be_bytes(w.0)).collect(),
    }
    .abi_encode()
    .into()
}

/// Calldata of `Hub.relayFromL1(words)`.
pub fn relay_from_l1_call(words: &[B256]) -> Bytes {
    IHub::relayFromL1Call {
        words: words.iter().map(|w| U256::from_be_bytes(w.0)).collect(),
    }
    .abi_encode()
    .into()
}

/// What a Hub revert means for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubRevert {
    /// The hop already happened (`AlreadyProcessed`, `NotPending`): nothing to pay for.
    AlreadyDone(String),
    /// The message can never pass as it is (bad recipient, unknown domain, a non-felt word…):
    /// park it with this reason.
    Permanent(String),
    /// Anything else (not consumable yet, out of gas, an unknown error): retry later.
    Transient(String),
}

/// Classifies a revert of a Hub relay call.
pub fn classify_hub_revert(revert: &submit::Revert) -> HubRevert {
    use IHub::IHubErrors as E;
    let Ok(error) = E::abi_decode(&revert.data) else {
        let reason = alloy::sol_types::decode_revert_reason(&revert.data)
            .unwrap_or_else(|| revert.message.clone());
        return HubRevert::Transient(reason);
    };
    match error {
        E::AlreadyProcessed(e) => HubRevert::AlreadyDone(format!("AlreadyProcessed({})", e.id)),
        E::NotPending(e) => HubRevert::AlreadyDone(format!("NotPending({})", e.id)),
        E::UnknownDomain(e) => HubRevert::Permanent(format!(
            "the Hub does not know destination domain {}",
            e.domain
        )),
        E::NotStarknetDomain(e) => HubRevert::Permanent(format!(
            "the Hub has no Starknet-family source domain {}",
            e.domain
        )),
        E::UnknownEndpoint(e) => HubRevert::Permanent(format!(
            "endpoint {:#x} is not the Hub's endpoint of domain {}",
            e.endpoint, e.domain
        )),
        E::WrongSourceDomain(e) => HubRevert::Permanent(format!(
            "the envelope says source domain {}, relayed from {}",
            e.declared, e.relayedFrom
        )),
        E::BadRecipient(e) => {
            HubRevert::Permanent(format!("recipient {} is not a contract on L1", e.recipient))
        }
        E::WordNotAFelt(e) => HubRevert::Permanent(format!(
            "word {} ({:#x}) is not a Starknet felt",
            e.index, e.word
        )),
        E::FeeMismatch(e) => HubRevert::Transient(format!(
            "fee mismatch: expected {}, paid {}",
            e.expected, e.paid
        )),
        E::NotOwner(e) => HubRevert::Transient(format!("NotOwner({})", e.caller)),
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
        self.proven_slot(messaging, layout.l2_to_l1_slot(message_hash), block)
            .await
    }

    /// The Hub's `outbound[id]` at `block`, by storage proof: the escrowed fee + 1 while an L1
    /// app's message waits for a router, 0 before it was sent and after it was forwarded.
    pub async fn proven_outbound(&self, id: &MessageId, block: BlockRef) -> Result<U256> {
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(id.0.as_slice());
        key[32..].copy_from_slice(&U256::from(HUB_OUTBOUND_SLOT).to_be_bytes::<32>());
        self.proven_slot(self.hub, keccak256(key), block).await
    }

    /// Storage slot `slot` of `contract` at `block`, checked by `eth_getProof` against the state
    /// root of `block`'s recomputed header.
    pub async fn proven_slot(
        &self,
        contract: Address,
        slot: B256,
        block: BlockRef,
    ) -> Result<U256> {
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

    /// The Hub's address.
    pub fn hub(&self) -> Address {
        self.hub
    }

    /// The provider (to build an [`submit::EvmSubmitter`] on the same connection).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
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
