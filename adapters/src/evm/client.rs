//! What every EVM chain's adapter shares: the RPC provider (with the transport's timeouts and
//! retries), the router's account there ([`EvmSubmitter`]), block and log reads, the
//! `MessageSent` events of an xroute contract (the Hub and the ArbitrumEndpoint emit the same
//! one), and the checks `xroute check` runs on any EVM chain (chain id, code at an address, the
//! signer's key and balance).

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    sol_types::{SolCall, SolEvent},
};
use xroute_config::EvmChain;
use xroute_proofs::envelope::Envelope;

use super::submit::{EvmSubmitter, RevertReader};
use crate::{
    AdapterError, BlockRef, Call, ChainInfo, CheckProblem, Result, SentMessage, hub::Hub, keys,
    transport,
};

alloy::sol! {
    /// What `xroute token audit` reads of an ERC-20.
    #[sol(rpc)]
    interface ITotalSupply {
        function totalSupply() external view returns (uint256);
    }
}

/// One EVM chain as the router reaches it.
#[derive(Debug)]
pub struct EvmClient {
    pub(super) info: ChainInfo,
    pub(super) provider: DynProvider,
    pub(super) submitter: Option<EvmSubmitter>,
    /// The most blocks one `eth_getLogs` spans (`transport.max_log_range`).
    max_log_range: u64,
    /// The configured connection (`None` for an ad-hoc reader): what `xroute check` checks.
    config: Option<EvmChain>,
}

impl EvmClient {
    /// Connects to the chain of `config` with the router's account (its key read; reverts of its
    /// transactions read with `reverts`).
    pub async fn connect(config: &EvmChain, reverts: RevertReader) -> Result<Self> {
        let mut client = Self::read_only(config)?;
        let signer = keys::secp256k1(
            &format!("chains.{}.signer_key_file", config.name),
            &config.signer_key_file,
        )?;
        client.submitter = Some(
            EvmSubmitter::new(
                &config.name,
                client.provider.clone(),
                signer,
                reverts,
                config.chain_id,
            )
            .await?,
        );
        Ok(client)
    }

    /// The chain of `config` without the router's account: no key is read, nothing is sent.
    pub fn read_only(config: &EvmChain) -> Result<Self> {
        Ok(Self {
            info: ChainInfo {
                name: config.name.clone(),
                domain: config.domain,
                confirmations: config.confirmations,
            },
            provider: transport::evm_provider(
                &config.name,
                config.rpc.expose(),
                &config.transport,
            )?,
            submitter: None,
            max_log_range: config.transport.max_log_range.max(1),
            config: Some(config.clone()),
        })
    }

    /// A reader of chain `name` (domain `domain`) at `rpc` with the default transport, treating
    /// blocks `confirmations` deep as final.
    pub fn new(
        name: &str,
        domain: u32,
        rpc: alloy::transports::http::reqwest::Url,
        confirmations: u64,
    ) -> Result<Self> {
        Ok(Self {
            info: ChainInfo {
                name: name.to_string(),
                domain,
                confirmations,
            },
            provider: transport::evm_provider(name, rpc.as_str(), &Default::default())?,
            submitter: None,
            max_log_range: xroute_config::DEFAULT_MAX_LOG_RANGE,
            config: None,
        })
    }

    /// The chain's name, domain and depth.
    pub fn info(&self) -> &ChainInfo {
        &self.info
    }

    /// The provider.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The chain id: the one the router's account signs for, else the node's.
    pub(super) async fn chain_id(&self) -> Result<u64> {
        if let Some(s) = &self.submitter {
            return Ok(s.chain_id());
        }
        self.provider
            .get_chain_id()
            .await
            .map_err(|e| self.rpc_error("eth_chainId", e))
    }

    /// The router's account, when connected with one.
    pub fn submitter(&self) -> Option<&EvmSubmitter> {
        self.submitter.as_ref()
    }

    pub(super) fn rpc_error(
        &self,
        method: &'static str,
        e: alloy::transports::TransportError,
    ) -> AdapterError {
        AdapterError::rpc(&self.info.name, method, e)
    }

    pub(super) fn bad(
        &self,
        what: &'static str,
        tx: Option<B256>,
        reason: impl Into<String>,
    ) -> AdapterError {
        AdapterError::bad(&self.info.name, what, tx.map(|t| t.to_string()), reason)
    }

    /// Block `which` (its header), or an error naming it when the node has none.
    pub(super) async fn block(&self, which: BlockNumberOrTag) -> Result<alloy::rpc::types::Block> {
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

    /// The latest block.
    pub(super) async fn head(&self) -> Result<BlockRef> {
        let block = self.block(BlockNumberOrTag::Latest).await?;
        Ok(BlockRef {
            number: block.header.number,
            hash: block.header.hash.0,
        })
    }

    /// The hash of block `number`.
    pub(super) async fn block_hash(&self, number: u64) -> Result<[u8; 32]> {
        Ok(self
            .block(BlockNumberOrTag::Number(number))
            .await?
            .header
            .hash
            .0)
    }

    /// The block of transaction `tx`, once mined.
    pub(super) async fn block_of_tx(&self, tx: [u8; 32]) -> Result<Option<u64>> {
        let receipt = self
            .provider
            .get_transaction_receipt(B256::from(tx))
            .await
            .map_err(|e| self.rpc_error("eth_getTransactionReceipt", e))?;
        Ok(receipt.and_then(|r| r.block_number))
    }

    /// Logs matching `filter`, queried in windows of at most `transport.max_log_range` blocks
    /// (a filter without an end ends at the latest block); a window the node refuses as too
    /// large or too full is halved until it answers.
    pub(super) async fn logs(&self, filter: &Filter) -> Result<Vec<Log>> {
        if let alloy::rpc::types::FilterBlockOption::AtBlockHash(_) = filter.block_option {
            // One block, named by its hash: one query, as asked.
            return self
                .provider
                .get_logs(filter)
                .await
                .map_err(|e| self.rpc_error("eth_getLogs", e));
        }
        let from = filter.get_from_block().unwrap_or(0);
        let to = match filter.get_to_block() {
            Some(to) => to,
            None => self.head().await?.number,
        };
        let mut window = self.max_log_range;
        let mut start = from;
        let mut out = Vec::new();
        while start <= to {
            let end = to.min(start.saturating_add(window - 1));
            let ranged = filter.clone().from_block(start).to_block(end);
            match self.provider.get_logs(&ranged).await {
                Ok(logs) => {
                    out.extend(logs);
                    start = end + 1;
                }
                Err(e) if window > 1 && crate::transport::too_large(&e.to_string()) => {
                    window /= 2;
                    tracing::debug!(chain = %self.info.name, window, error = %e, "log range refused; halving it");
                }
                Err(e) => return Err(self.rpc_error("eth_getLogs", e)),
            }
        }
        Ok(out)
    }

    /// The filter of `contract`'s `MessageSent` events.
    pub(super) fn sends_of(contract: Address) -> Filter {
        Filter::new()
            .address(contract)
            .event_signature(Hub::MessageSent::SIGNATURE_HASH)
    }

    /// The messages `contract` (the Hub, or an endpoint) sent in blocks `from..=to`.
    pub(super) async fn sent_messages(
        &self,
        contract: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<SentMessage>> {
        let logs = self
            .logs(&Self::sends_of(contract).from_block(from).to_block(to))
            .await?;
        Ok(self
            .decode_sent(logs)?
            .into_iter()
            .map(|(_, m)| m)
            .collect())
    }

    /// `MessageSent` logs as messages (each envelope checked against the id and header the
    /// contract emitted), with their log index.
    pub(super) fn decode_sent(&self, logs: Vec<Log>) -> Result<Vec<(u64, SentMessage)>> {
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
                        "{} emitted id {} for an envelope whose id is {}",
                        log.inner.address,
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

    /// The call of `contract`'s `send(dst, recipient, payload)` (the Hub and the ArbitrumEndpoint
    /// have the same one).
    pub(super) fn send_call(
        contract: Address,
        dst: u32,
        recipient: B256,
        payload: &[U256],
        value: U256,
    ) -> Call {
        let data = Hub::sendCall {
            dstDomain: dst,
            recipient,
            payload: payload.to_vec(),
        }
        .abi_encode();
        Call::evm(contract, data.into(), value)
    }

    /// The ERC-20 `totalSupply()` of `token` at the latest block.
    pub(super) async fn total_supply(&self, token: B256) -> Result<U256> {
        if token.0[..12] != [0u8; 12] {
            return Err(self.bad(
                "token",
                None,
                format!("{token} is not an address on this chain"),
            ));
        }
        let token = Address::from_word(token);
        ITotalSupply::new(token, &self.provider)
            .totalSupply()
            .block(alloy::eips::BlockId::latest())
            .call()
            .await
            .map_err(|e| AdapterError::rpc(&self.info.name, "totalSupply", e))
    }

    /// The code at `address`.
    pub(super) async fn code(&self, address: Address) -> Result<Bytes> {
        self.provider
            .get_code_at(address)
            .await
            .map_err(|e| self.rpc_error("eth_getCode", e))
    }

    /// `xroute check`: the node answers with the configured chain id. Returns what was found.
    pub(super) async fn check_chain_id(&self) -> std::result::Result<String, CheckProblem> {
        let id = self
            .provider
            .get_chain_id()
            .await
            .map_err(|e| CheckProblem::new("rpc", format!("the node does not answer: {e}")))?;
        if let Some(want) = self.config.as_ref().and_then(|c| c.chain_id)
            && want != id
        {
            return Err(CheckProblem::new(
                "chain_id",
                format!("configured {want}, the node at rpc answers {id}"),
            ));
        }
        Ok(format!("chain id {id}"))
    }

    /// `xroute check`: a contract is deployed at `address` (the config's `field`) on this chain.
    pub(super) async fn check_code(
        &self,
        address: Address,
        field: &str,
    ) -> std::result::Result<(), CheckProblem> {
        let code = self.code(address).await.map_err(|e| {
            CheckProblem::new(
                field,
                format!("cannot read code on {}: {e}", self.info.name),
            )
        })?;
        if code.is_empty() {
            return Err(CheckProblem::new(
                field,
                format!("no contract at {address} on {}", self.info.name),
            ));
        }
        Ok(())
    }

    /// `xroute check`: the signer's key loads and its account holds enough for `relays`
    /// transactions of `gas` at the node's gas price. Returns what was found.
    pub(super) async fn check_signer(
        &self,
        relays: u64,
        gas: u64,
    ) -> std::result::Result<String, CheckProblem> {
        let Some(config) = &self.config else {
            return Err(CheckProblem::new(
                "signer_key_file",
                "this reader has no configured key",
            ));
        };
        const FIELD: &str = "signer_key_file";
        let named = format!("chains.{}.{FIELD}", config.name);
        let format = keys::format_of(&named, &config.signer_key_file)
            .map_err(|e| CheckProblem::key(FIELD, e))?;
        let signer = keys::secp256k1(&named, &config.signer_key_file)
            .map_err(|e| CheckProblem::key(FIELD, e))?;
        let who = signer.address();
        let balance = self.provider.get_balance(who).await.map_err(|e| {
            CheckProblem::new("rpc", format!("cannot read the balance of {who}: {e}"))
        })?;
        let price = self
            .provider
            .get_gas_price()
            .await
            .map_err(|e| CheckProblem::new("rpc", format!("cannot read the gas price: {e}")))?;
        let need = U256::from(relays) * U256::from(gas) * U256::from(price);
        if balance < need {
            return Err(CheckProblem::new(
                FIELD,
                format!(
                    "its account {who} holds {balance} wei, less than {relays} transactions of \
                     {gas} gas need at {price} wei/gas ({need} wei)"
                ),
            ));
        }
        Ok(format!(
            "account {who} ({} key) holds {balance} wei (≥ {relays} × {gas} gas at {price} wei/gas)",
            format.as_str()
        ))
    }
}
