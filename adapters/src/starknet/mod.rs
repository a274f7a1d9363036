//! The Starknet family: Starknet and appchains that run the same execution environment (devnet,
//! Madara/Katana-style), through the xroute Endpoint contract
//! (`contracts/starknet/src/endpoint.cairo`).
//!
//! - Sent: the Endpoint's `MessageSent` events.
//! - Exit: the chain's L2 → L1 message (from the Endpoint to the Hub) is consumable on L1 once the
//!   chain's messaging contract there counts it (`l2ToL1Messages[h] ≥ 1`, read by a storage proof
//!   on L1); the Hub consumes it with `relayFromStarknet`.
//! - Entry: every envelope word must be a felt and the recipient must be deployed; the fee is
//!   what the chain asks for executing the Endpoint's `receive_message` L1 handler
//!   (`starknet_estimateMessageFee`), with headroom, paid with the L1 relay.
//! - Delivered: the Endpoint's `is_delivered(id)`.
//! - Sending: [`submit`] (the router's account contract).

mod check;
mod checkpoints;
mod events;
pub mod submit;
pub mod tank;

use alloy::primitives::{Address, B256, Bytes, U256};
use async_trait::async_trait;
use starknet_rust::{
    core::{
        types::{
            BlockId, BlockTag, EthAddress, Felt, FunctionCall, MaybePreConfirmedBlockWithTxHashes,
            MsgFromL1, StarknetError,
        },
        utils::{get_selector_from_name, starknet_keccak},
    },
    providers::{JsonRpcClient, Provider, ProviderError},
};
use xroute_config::StarknetChain;
use xroute_proofs::{
    envelope::{Envelope, MessageId},
    metering::MeteredReceipt,
    starknet::{felt_from_u256, felt_to_u256, l2_to_l1_message_hash},
    storage::MessagingLayout,
};

use crate::{
    AdapterError, BlockRef, Call, ChainAdapter, ChainInfo, CheckProblem, Entry, Exit,
    FoundCheckpoint, L1, L1State, Payment, Result, SentMessage, Submitter, TankState, hex,
    hub::{self, Hub},
    keys,
    transport::{self, RetryingHttp},
};
use submit::StarknetSubmitter;

/// Events fetched per `starknet_getEvents` page.
const EVENTS_PAGE: u64 = 512;
/// The most a relay pays toward a Starknet leg: `sendMessageToL2` caps the fee at 1 ether.
const MAX_L2_FEE: u128 = 1_000_000_000_000_000_000;

/// The RPC client of a Starknet-family chain.
pub type StarknetClient = JsonRpcClient<RetryingHttp>;

/// A Starknet-family chain's adapter.
#[derive(Debug)]
pub struct StarknetAdapter {
    info: ChainInfo,
    endpoint: Felt,
    /// The chain's messaging contract on L1 and its storage layout (what an exit is proven by).
    l1_messaging: Option<(Address, MessagingLayout)>,
    provider: StarknetClient,
    submitter: Option<StarknetSubmitter>,
    /// The configured chain (`None` for an ad-hoc reader): what `xroute check` checks.
    config: Option<StarknetChain>,
    /// The most blocks one `starknet_getEvents` spans (`transport.max_log_range`).
    max_log_range: u64,
}

impl StarknetAdapter {
    /// Connects to the chain of `config`: its RPC with the configured timeouts, and the router's
    /// account there (its key read, its contract checked).
    pub async fn connect(config: &StarknetChain) -> Result<Self> {
        let mut adapter = Self::read_only(config)?;
        let field = |f: &str| format!("chains.{}.{f}", config.name);
        let account = felt_from_u256("", config.account.0)
            .map_err(|e| AdapterError::config(field("account"), e.to_string()))?;
        let key = keys::felt(&field("account_key_file"), &config.account_key_file)?;
        let expected = match &config.chain_id {
            None => None,
            Some(id) => Some(check::chain_id_felt(id).ok_or_else(|| {
                AdapterError::config(
                    field("chain_id"),
                    format!("{id:?} is neither 0x-hex nor a short string"),
                )
            })?),
        };
        // The account sends through the adapter's client: one connection pool and one bound
        // (`transport.max_connections`) for the chain.
        let signing = adapter.provider.clone();
        adapter.submitter =
            Some(StarknetSubmitter::connect(&config.name, signing, account, key, expected).await?);
        Ok(adapter)
    }

    /// The chain of `config` without the router's account: no key is read, nothing is sent.
    pub fn read_only(config: &StarknetChain) -> Result<Self> {
        let endpoint = felt_from_u256("", config.endpoint.0).map_err(|e| {
            AdapterError::config(format!("chains.{}.endpoint", config.name), e.to_string())
        })?;
        Ok(Self {
            info: ChainInfo {
                name: config.name.clone(),
                domain: config.domain,
                confirmations: config.confirmations,
            },
            endpoint,
            l1_messaging: Some((config.l1_messaging, layout_of(config.messaging_layout))),
            provider: transport::starknet_client(
                &config.name,
                config.rpc.expose(),
                &config.transport,
            )?,
            submitter: None,
            config: Some(config.clone()),
            max_log_range: config.transport.max_log_range.max(1),
        })
    }

    /// A read-only adapter for the chain `name` (domain `domain`) at `rpc` (default timeouts),
    /// reading the Endpoint at `endpoint`, treating blocks `confirmations` deep as final. It sends
    /// nothing and proves no exit.
    pub fn new(
        name: &str,
        domain: u32,
        rpc: starknet_rust::providers::Url,
        endpoint: Felt,
        confirmations: u64,
    ) -> Result<Self> {
        Ok(Self {
            info: ChainInfo {
                name: name.to_string(),
                domain,
                confirmations,
            },
            endpoint,
            l1_messaging: None,
            provider: transport::starknet_client(name, rpc.as_str(), &Default::default())?,
            submitter: None,
            config: None,
            max_log_range: xroute_config::DEFAULT_MAX_LOG_RANGE,
        })
    }

    /// Sets the chain's messaging contract on L1 and its storage layout (what
    /// [`StarknetAdapter::connect`] reads from the config).
    pub fn with_l1_messaging(mut self, messaging: Address, layout: MessagingLayout) -> Self {
        self.l1_messaging = Some((messaging, layout));
        self
    }

    fn rpc_error(&self, method: &'static str, e: ProviderError) -> AdapterError {
        AdapterError::rpc(&self.info.name, method, e)
    }

    fn bad(&self, what: &'static str, tx: Felt, reason: impl Into<String>) -> AdapterError {
        AdapterError::bad(&self.info.name, what, Some(format!("{tx:#x}")), reason)
    }

    /// The Endpoint's address.
    pub fn endpoint(&self) -> Felt {
        self.endpoint
    }

    /// The L2 fee (wei) the chain asks for executing `receive_message(words)` on the Endpoint when
    /// `from_l1` sends it: what the Hub must pay `sendMessageToL2`. An error here usually means the
    /// L1 handler itself would fail.
    pub async fn quote_message_fee(&self, from_l1: [u8; 20], words: &[Felt]) -> Result<u128> {
        let message = MsgFromL1 {
            from_address: EthAddress::from_bytes(from_l1),
            to_address: self.endpoint,
            entry_point_selector: selector("receive_message")?,
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
        if envelope.src_domain != self.info.domain {
            return Err(self.bad(
                "envelope",
                tx,
                format!(
                    "source domain {} on chain domain {}",
                    envelope.src_domain, self.info.domain
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

/// The storage layout of a configured messaging contract.
fn layout_of(layout: xroute_config::MessagingLayout) -> MessagingLayout {
    match layout {
        xroute_config::MessagingLayout::Current => MessagingLayout::current(),
        xroute_config::MessagingLayout::V1 => MessagingLayout::v1(),
    }
}

/// `Hub.relayFromStarknet(src_domain, endpoint, words, entry)`: consumes a Starknet-family
/// chain's message on L1 and forwards it (`entry`: the destination's terms).
pub fn relay_from_starknet(
    hub: Address,
    src_domain: u32,
    endpoint: U256,
    envelope: &[B256],
    entry: &Bytes,
) -> Call {
    use alloy::sol_types::SolCall;
    let data = Hub::relayFromStarknetCall {
        srcDomain: src_domain,
        endpoint,
        words: hub::envelope_words(envelope),
        entry: entry.clone(),
    }
    .abi_encode();
    Call::evm(hub, Bytes::from(data), U256::ZERO)
}

/// The selector of entry point `name`.
fn selector(name: &str) -> Result<Felt> {
    get_selector_from_name(name).map_err(|e| {
        AdapterError::config(name.to_string(), format!("not an entry point name: {e}"))
    })
}

#[async_trait]
impl ChainAdapter for StarknetAdapter {
    fn info(&self) -> &ChainInfo {
        &self.info
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
            MaybePreConfirmedBlockWithTxHashes::PreConfirmedBlock(_) => {
                Err(AdapterError::unavailable(
                    &self.info.name,
                    "starknet_getBlockWithTxHashes",
                    format!("block {number} is not closed yet"),
                ))
            }
        }
    }

    async fn sent_messages(&self, from: u64, to: u64) -> Result<Vec<SentMessage>> {
        let key = starknet_keccak(b"MessageSent");
        let mut out = Vec::new();
        for event in self.events(self.endpoint, key, from, Some(to)).await? {
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
        Ok(out)
    }

    async fn block_of_tx(&self, tx: [u8; 32]) -> Result<Option<u64>> {
        match self
            .provider
            .get_transaction_receipt(Felt::from_bytes_be(&tx))
            .await
        {
            Ok(r) => Ok(match r.block {
                starknet_rust::core::types::ReceiptBlock::Block { block_number, .. } => {
                    Some(block_number)
                }
                _ => None, // pre-confirmed: not in a closed block yet
            }),
            Err(ProviderError::StarknetError(StarknetError::TransactionHashNotFound)) => Ok(None),
            Err(e) => Err(self.rpc_error("starknet_getTransactionReceipt", e)),
        }
    }

    async fn prepare_exits(&self, envelopes: &[&Envelope], l1: &L1<'_>) -> Result<()> {
        let Some((messaging, layout)) = &self.l1_messaging else {
            return Ok(());
        };
        let hub = l1.state.hub();
        let slots: Vec<B256> = envelopes
            .iter()
            .filter_map(|envelope| envelope.to_felts().ok())
            .map(|felts| layout.l2_to_l1_slot(l2_to_l1_message_hash(self.endpoint, hub, &felts)))
            .collect();
        l1.state.prove_slots(*messaging, &slots, l1.finalized).await
    }

    async fn exit(
        &self,
        envelope: &Envelope,
        _sent_in: u64,
        l1: &L1<'_>,
        terms: &Bytes,
    ) -> Result<Exit> {
        let felts = match envelope.to_felts() {
            Ok(f) => f,
            Err(e) => return Ok(Exit::Never(e.to_string())),
        };
        let Some((messaging, layout)) = &self.l1_messaging else {
            return Err(AdapterError::config(
                format!("chains.{}.l1_messaging", self.info.name),
                "this adapter was built without the chain's L1 messaging contract",
            ));
        };
        let hub = l1.state.hub();
        let hash = l2_to_l1_message_hash(self.endpoint, hub, &felts);
        let value = l1
            .state
            .proven_slot(*messaging, layout.l2_to_l1_slot(hash), l1.finalized)
            .await?;
        Ok(Exit::from_slot(
            value,
            format!("l2ToL1Messages[{hash}] of {messaging}"),
            l1,
            relay_from_starknet(
                hub,
                self.info.domain,
                felt_to_u256(self.endpoint),
                &envelope.to_words(),
                terms,
            ),
            U256::ZERO,
        ))
    }
    async fn entry(&self, envelope: &Envelope, l1: &L1<'_>) -> Result<Entry> {
        let felts = match envelope.to_felts() {
            Ok(f) => f,
            Err(e) => {
                return Ok(Entry::Refused(format!(
                    "cannot go to {}: {e}",
                    self.info.name
                )));
            }
        };
        let recipient = felts[2];
        if !self.is_deployed(recipient).await? {
            return Ok(Entry::Refused(format!(
                "recipient {recipient:#x} is not deployed on {}",
                self.info.name
            )));
        }
        let quote = self
            .quote_message_fee(l1.state.hub().into_array(), &felts)
            .await?;
        // Headroom for an L2 gas price that moves before the sequencer picks it up.
        let fee = quote.saturating_mul(3).div_ceil(2).clamp(1, MAX_L2_FEE);
        Ok(Entry::fee(U256::from(fee)))
    }

    async fn is_delivered(&self, envelope: &Envelope) -> Result<bool> {
        let id = envelope.id();
        let (high, low) = id.0.split_at(16);
        let call = FunctionCall {
            contract_address: self.endpoint,
            entry_point_selector: selector("is_delivered")?,
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

    fn submitter(&self) -> Option<&dyn Submitter> {
        self.submitter.as_ref().map(|s| s as &dyn Submitter)
    }

    fn checkpointed(&self) -> bool {
        self.l1_messaging.is_some()
    }

    /// From the messaging contract's `LogMessageToL1` logs of the range (one `eth_getLogs`).
    async fn checkpoints(
        &self,
        l1: &dyn L1State,
        from: u64,
        to: u64,
    ) -> Result<Option<Vec<FoundCheckpoint>>> {
        if self.l1_messaging.is_none() {
            return Ok(None);
        }
        let filter = self.messaging_filter()?.from_block(from).to_block(to);
        self.found_checkpoints(l1, &filter).await.map(Some)
    }

    /// The messages to the Hub that the messaging contract's `LogMessageToL1` logs in those
    /// blocks made consumable (the checkpoints' own read).
    async fn exits(&self, l1: &dyn L1State, from: u64, to: u64) -> Result<crate::Exits> {
        Ok(match self.checkpoints(l1, from, to).await? {
            None => crate::Exits::Unknown,
            Some(found) => crate::Exits::Ids(
                found
                    .iter()
                    .flat_map(|f| f.messages.iter().map(|m| m.envelope.id()))
                    .collect(),
            ),
        })
    }

    fn send_call(&self, dst: u32, recipient: B256, payload: &[U256], value: U256) -> Result<Call> {
        if !value.is_zero() {
            return Err(AdapterError::config(
                "--value",
                format!(
                    "a message from {} carries no value: its L1 leg is paid by the relayer",
                    self.info.name
                ),
            ));
        }
        let felt = |what: &str, v: U256| {
            felt_from_u256("", v).map_err(|_| {
                AdapterError::config(what, format!("{v:#x} is not a felt (≥ the prime)"))
            })
        };
        let mut words = vec![
            selector("send_message")?,
            Felt::from(dst),
            felt("recipient", U256::from_be_bytes(recipient.0))?,
            Felt::from(payload.len() as u64),
        ];
        for (i, w) in payload.iter().enumerate() {
            words.push(felt(&format!("payload[{i}]"), *w)?);
        }
        let data: Vec<u8> = words.iter().flat_map(|f| f.to_bytes_be()).collect();
        Ok(Call {
            to: B256::from(self.endpoint.to_bytes_be()),
            data: data.into(),
            value: U256::ZERO,
            min_gas: 0,
        })
    }

    /// The node answers with the configured chain id; the endpoint and the account are
    /// deployed; the messaging contract is deployed on L1, is a StarknetMessaging, and its storage
    /// matches `messaging_layout`; the account key loads.
    async fn check(
        &self,
        l1: Option<&dyn L1State>,
        _relays: u64,
    ) -> std::result::Result<String, CheckProblem> {
        check::check(self, l1).await
    }

    async fn payment(&self, id: MessageId) -> Result<Option<Payment>> {
        self.tank_payment(id).await
    }

    fn tank(&self) -> Option<B256> {
        self.tank_felt().map(|t| B256::from(t.to_bytes_be()))
    }

    async fn tank_state(&self) -> Result<Option<TankState>> {
        self.tank_state_of().await
    }

    fn settle_call(&self, receipts: &[MeteredReceipt]) -> Option<Call> {
        self.tank_settle_call(receipts)
    }

    async fn settlement(&self, id: MessageId, sent_in: u64) -> Result<Option<crate::Settlement>> {
        self.tank_settlement(id, sent_in).await
    }

    async fn tank_calls(&self, action: &crate::TankAction, _caller: B256) -> Result<Vec<Call>> {
        self.tank_action_calls(action).await
    }

    async fn tank_balance(&self, account: B256) -> Result<crate::TankBalance> {
        self.tank_balance_of(account).await
    }

    /// Measured: 105k gas toward L1, 173k toward Arbitrum (a metered relay alone).
    fn relay_gas_hint(&self, words: usize) -> u64 {
        220_000 + 1_000 * words as u64
    }

    /// The token's `total_supply` (a u256 of two felts).
    async fn token_supply(&self, token: B256) -> Result<U256> {
        let address = Felt::from_bytes_be(&token.0);
        let words = self
            .provider
            .call(
                FunctionCall {
                    contract_address: address,
                    entry_point_selector: selector("total_supply")?,
                    calldata: vec![],
                },
                BlockId::Tag(BlockTag::Latest),
            )
            .await
            .map_err(|e| self.rpc_error("starknet_call total_supply", e))?;
        let [low, high] = words.as_slice() else {
            return Err(self.bad(
                "total_supply answer",
                Felt::ZERO,
                format!("{} words from {address:#x}, not a u256", words.len()),
            ));
        };
        Ok(felt_to_u256(*low) + (felt_to_u256(*high) << 128usize))
    }
}

#[cfg(test)]
mod tests {
    /// The entry points the router calls exist in the committed Endpoint artifact with the inputs
    /// the router passes.
    #[test]
    fn the_endpoint_artifact_has_the_entry_points_the_router_calls() {
        let sierra: serde_json::Value = serde_json::from_str(include_str!(
            "../../../contracts/starknet/out/endpoint.sierra.json"
        ))
        .unwrap();
        let abi = &sierra["abi"];
        let abi: Vec<serde_json::Value> = match abi {
            serde_json::Value::String(s) => serde_json::from_str(s).unwrap(),
            other => serde_json::from_value(other.clone()).unwrap(),
        };
        let mut functions = Vec::new();
        let mut stack = abi.clone();
        while let Some(item) = stack.pop() {
            if let Some(items) = item["items"].as_array() {
                stack.extend(items.iter().cloned());
            }
            if item["type"] == "function" || item["type"] == "l1_handler" {
                let inputs: Vec<String> = item["inputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["type"].as_str().unwrap().to_string())
                    .collect();
                functions.push((item["name"].as_str().unwrap().to_string(), inputs));
            }
        }
        let find = |name: &str| {
            functions
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, inputs)| inputs.clone())
                .unwrap_or_else(|| panic!("no {name} in {functions:?}"))
        };
        assert_eq!(find("is_delivered"), ["core::integer::u256"]);
        let receive = find("receive_message");
        assert_eq!(
            receive.first().map(String::as_str),
            Some("core::felt252"),
            "from_address first"
        );
        // `decode_sent` reads the event's data in this order.
        let sent = abi
            .iter()
            .find(|i| i["name"] == "endpoint::endpoint::Endpoint::MessageSent")
            .unwrap();
        let members: Vec<&str> = sent["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            members,
            ["id", "dst_domain", "nonce", "sender", "recipient", "words"]
        );
    }
}
