//! The Starknet family: Starknet and appchains that run the same execution environment (devnet,
//! Madara/Katana-style), through the xroute Endpoint contract (`contracts/starknet/src/endpoint.cairo`).

pub mod submit;

use async_trait::async_trait;
use starknet_rust::{
    core::{
        types::{
            AddressFilter, BlockId, BlockTag, EthAddress, EventFilter, Felt, FunctionCall,
            MaybePreConfirmedBlockWithTxHashes, MsgFromL1, StarknetError,
        },
        utils::{get_selector_from_name, starknet_keccak},
    },
    providers::{JsonRpcClient, Provider, ProviderError, Url, jsonrpc::HttpTransport},
};
use xroute_proofs::envelope::{Envelope, MessageId};

use crate::{AdapterError, BlockRef, ChainAdapter, Result, SentMessage, hex};

/// Events fetched per `starknet_getEvents` page.
const EVENTS_PAGE: u64 = 512;

/// A Starknet-family chain's adapter.
#[derive(Debug)]
pub struct StarknetAdapter {
    name: String,
    domain: u32,
    endpoint: Felt,
    confirmations: u64,
    provider: JsonRpcClient<HttpTransport>,
}

impl StarknetAdapter {
    /// An adapter for the chain `name` (domain `domain`) at `rpc`, reading the Endpoint at
    /// `endpoint`, treating blocks `confirmations` deep as final.
    pub fn new(name: &str, domain: u32, rpc: Url, endpoint: Felt, confirmations: u64) -> Self {
        Self {
            name: name.to_string(),
            domain,
            endpoint,
            confirmations,
            provider: JsonRpcClient::new(HttpTransport::new(rpc)),
        }
    }

    fn rpc_error(&self, method: &'static str, e: impl std::fmt::Display) -> AdapterError {
        AdapterError::Rpc {
            chain: self.name.clone(),
            method,
            message: e.to_string(),
        }
    }

    fn bad(&self, what: &'static str, tx: Felt, reason: impl Into<String>) -> AdapterError {
        AdapterError::BadData {
            chain: self.name.clone(),
            what,
            tx: format!("{tx:#x}"),
            reason: reason.into(),
        }
    }

    /// The Endpoint's address.
    pub fn endpoint(&self) -> Felt {
        self.endpoint
    }

    /// The L2 fee (wei) the chain asks for executing `receive_message(words)` on the Endpoint when
    /// `from_l1` sends it: what the Hub must pay `sendMessageToL2`. An error here usually means the
    /// L1 handler itself would fail.
    pub async fn quote_message_fee(&self, from_l1: [u8; 20], words: &[Felt]) -> Result<u128> {
        let selector = get_selector_from_name("receive_message")
            .map_err(|e| self.rpc_error("receive_message selector", e))?;
        let from_address = EthAddress::from_bytes(from_l1);
        let message = MsgFromL1 {
            from_address,
            to_address: self.endpoint,
            entry_point_selector: selector,
            payload: words.to_vec(),
        };
        let estimate = self
            .provider
            .estimate_message_fee(message, BlockId::Tag(BlockTag::Latest))
            .await
            .map_err(|e| self.rpc_error("starknet_estimateMessageFee", e))?;
        Ok(estimate.overall_fee)
    }

    /// Whether a contract is deployed at `address` (a recipient must be, or the L1 handler fails).
    pub async fn is_deployed(&self, address: Felt) -> Result<bool> {
        match self
            .provider
            .get_class_hash_at(BlockId::Tag(BlockTag::Latest), address)
            .await
        {
            Ok(_) => Ok(true),
            Err(ProviderError::StarknetError(StarknetError::ContractNotFound)) => Ok(false),
            Err(e) => Err(self.rpc_error("starknet_getClassHashAt", e)),
        }
    }

    /// Decodes one `MessageSent` event's data: `id (u256 low, high), dst_domain, nonce, sender,
    /// recipient, words (len, items…)`. The envelope is rebuilt from the words, and its id, domain
    /// and nonce must match what the event says.
    fn decode_sent(&self, tx: Felt, data: &[Felt]) -> Result<Envelope> {
        let field = |i: usize| {
            data.get(i).copied().ok_or_else(|| {
                self.bad(
                    "MessageSent event",
                    tx,
                    format!("only {} data felts", data.len()),
                )
            })
        };
        let (low, high) = (field(0)?, field(1)?);
        let len = usize::try_from(field(6)?.to_biguint())
            .map_err(|_| self.bad("MessageSent event", tx, "word count does not fit"))?;
        let words = data.get(7..7 + len).ok_or_else(|| {
            self.bad(
                "MessageSent event",
                tx,
                format!(
                    "declares {len} words, carries {}",
                    data.len().saturating_sub(7)
                ),
            )
        })?;
        let envelope =
            Envelope::from_felts(words).map_err(|e| self.bad("envelope", tx, e.to_string()))?;
        let mut id = [0u8; 32];
        id[..16].copy_from_slice(&high.to_bytes_be()[16..]);
        id[16..].copy_from_slice(&low.to_bytes_be()[16..]);
        if envelope.id().0 != id {
            return Err(self.bad(
                "envelope",
                tx,
                format!(
                    "the endpoint emitted id 0x{} for an envelope whose id is {}",
                    hex(&id),
                    envelope.id()
                ),
            ));
        }
        if envelope.src_domain != self.domain {
            return Err(self.bad(
                "envelope",
                tx,
                format!(
                    "source domain {} on chain domain {}",
                    envelope.src_domain, self.domain
                ),
            ));
        }
        if Felt::from(envelope.dst_domain) != field(2)? || Felt::from(envelope.nonce) != field(3)? {
            return Err(self.bad(
                "MessageSent event",
                tx,
                "header fields disagree with the envelope",
            ));
        }
        Ok(envelope)
    }
}

#[async_trait]
impl ChainAdapter for StarknetAdapter {
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
        let head = self
            .provider
            .block_hash_and_number()
            .await
            .map_err(|e| self.rpc_error("starknet_blockHashAndNumber", e))?;
        Ok(BlockRef {
            number: head.block_number,
            hash: head.block_hash.to_bytes_be(),
        })
    }

    async fn block_hash(&self, number: u64) -> Result<[u8; 32]> {
        let block = self
            .provider
            .get_block_with_tx_hashes(BlockId::Number(number))
            .await
            .map_err(|e| self.rpc_error("starknet_getBlockWithTxHashes", e))?;
        match block {
            MaybePreConfirmedBlockWithTxHashes::Block(b) => Ok(b.block_hash.to_bytes_be()),
            MaybePreConfirmedBlockWithTxHashes::PreConfirmedBlock(_) => Err(self.rpc_error(
                "starknet_getBlockWithTxHashes",
                format!("block {number} is not closed yet"),
            )),
        }
    }

    async fn sent_messages(&self, from: u64, to: u64) -> Result<Vec<SentMessage>> {
        let key = starknet_keccak(b"MessageSent");
        let filter = EventFilter {
            from_block: Some(BlockId::Number(from)),
            to_block: Some(BlockId::Number(to)),
            address: Some(AddressFilter::Single(self.endpoint)),
            keys: Some(vec![vec![key]]),
        };
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .provider
                .get_events(filter.clone(), token, EVENTS_PAGE)
                .await
                .map_err(|e| self.rpc_error("starknet_getEvents", e))?;
            for event in page.events {
                let tx = event.transaction_hash;
                let (Some(number), Some(hash)) = (event.block_number, event.block_hash) else {
                    continue; // pre-confirmed: not in a closed block yet
                };
                let envelope = self.decode_sent(tx, &event.data)?;
                out.push(SentMessage {
                    envelope,
                    block: BlockRef {
                        number,
                        hash: hash.to_bytes_be(),
                    },
                    tx_hash: tx.to_bytes_be(),
                });
            }
            match page.continuation_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        Ok(out)
    }

    async fn is_delivered(&self, id: &MessageId) -> Result<bool> {
        let selector = get_selector_from_name("is_delivered")
            .map_err(|e| self.rpc_error("is_delivered", e))?;
        let (high, low) = id.0.split_at(16);
        let call = FunctionCall {
            contract_address: self.endpoint,
            entry_point_selector: selector,
            calldata: vec![
                Felt::from_bytes_be_slice(low),
                Felt::from_bytes_be_slice(high),
            ],
        };
        let out = self
            .provider
            .call(call, BlockId::Tag(BlockTag::Latest))
            .await
            .map_err(|e| self.rpc_error("starknet_call is_delivered", e))?;
        match out.as_slice() {
            [v] => Ok(*v == Felt::ONE),
            other => Err(self.bad(
                "is_delivered answer",
                Felt::ZERO,
                format!("{} felts", other.len()),
            )),
        }
    }
}
