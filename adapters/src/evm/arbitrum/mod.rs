//! An Arbitrum-family rollup (`family = "arbitrum"`): an EVM chain on the shared
//! [`EvmClient`], whose block names the rollup's real L1 bridge (nitro's Inbox, Bridge, Outbox)
//! and xroute's endpoint on the L2. The Hub's Arbitrum calls (`relayFromArbitrum`, the retryable
//! entry terms) and what the rollup's bridge reverts with are built and read here.
//!
//! - **Leaving** (L2 → L1): the endpoint's `send` hands the envelope to ArbSys (`sendTxToL1`
//!   toward the Hub). It is proven once a send root the rollup posted to the Outbox covers its
//!   leaf: the Outbox's `roots[root]` is read by a storage proof at L1's finalized block. The send
//!   is read from the `L2ToL1Tx` log of the block it was sent in, the size of the accumulator
//!   under the root from `ArbSys.sendMerkleTreeState` at the root's L2 block, and the leaf's
//!   Merkle path from the node (`NodeInterface.constructOutboxProof` at 0xc8), checked against
//!   the root here. The L1 call is the Hub's `relayFromArbitrum`, which has the Outbox execute it
//!   and forwards it.
//! - **Entering** (L1 → L2): the Hub creates a retryable ticket whose L2 call is the endpoint's
//!   `receiveMessage`, run by ArbOS from the Hub's alias. The router quotes it (submission cost at
//!   L1's base fee, the L2 gas of that call estimated from the alias, the L2 fee cap) and refuses
//!   what cannot arrive before paying. Delivered = the endpoint's `delivered[id]`. A ticket whose
//!   automatic redeem failed (it is still alive, the message not delivered) is redeemed by the
//!   router from its L2 account (`ArbRetryableTx.redeem`), with the retry's gas donated.

use std::{collections::HashMap, sync::Arc};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::{Filter, TransactionRequest},
    sol_types::{SolCall, SolEvent, SolInterface},
};
use async_trait::async_trait;
use tokio::sync::Mutex;
use xroute_config::{ArbitrumChain, ArbitrumContracts};
use xroute_proofs::{
    arbitrum::{self, L2ToL1Send, RetryableTicket},
    envelope::{Envelope, MessageId},
};

mod bridge;
mod exit;
pub mod tank;

use bridge::endpoint_revert;
pub use bridge::{
    ARB_RETRYABLE_TX, ARB_SYS, ArbBridgeContracts, ArbRetryableTx, ArbSys, ArbitrumEndpoint,
    KIND_SUBMIT_RETRYABLE, NODE_INTERFACE, NodeInterface, OUTBOX_ROOTS_SLOT,
    classify_bridge_revert, classify_l2_revert, outbox_root_key, receive_call, relay_from_arbitrum,
    retryable_entry,
};
use exit::{Roots, last_log_back};

use super::{client::EvmClient, submit::as_revert};
use crate::{
    AdapterError, BlockRef, Call, ChainAdapter, ChainInfo, CheckProblem, Entry, Exit, L1, L1State,
    Result, SentMessage, Submitter, hub::Hub,
};

/// Blocks per `eth_getLogs` request.
const LOG_RANGE: u64 = 10_000;
/// L2 gas a redeem needs besides its retry's.
const REDEEM_OVERHEAD: u64 = 80_000;
/// Gas one redeem of the router's may cost (its retry included), for `xroute check`.
const REDEEM_GAS: u64 = 500_000;
/// The most retryable tickets remembered by message id (the map is emptied when full).
const TICKETS_KEPT: usize = 10_000;

/// An Arbitrum-family rollup's adapter: the L2 through the shared EVM client, its contracts, and
/// what it learned from the L2's and L1's logs.
#[derive(Debug)]
pub struct ArbitrumAdapter {
    client: EvmClient,
    contracts: ArbitrumContracts,
    /// The endpoint's sends to the Hub found so far, by envelope id: leaf index and the send.
    sends: Mutex<HashMap<MessageId, (u64, L2ToL1Send)>>,
    roots: Mutex<Roots>,
    tickets: Mutex<HashMap<MessageId, B256>>,
}

impl ArbitrumAdapter {
    /// Connects to the rollup of `config`: its L2 RPC and the router's L2 account (redeems are
    /// sent from it, refunds go to it).
    pub async fn connect(config: &ArbitrumChain) -> Result<Self> {
        let client = EvmClient::connect(&config.chain, Arc::new(classify_l2_revert)).await?;
        Ok(Self::with_client(client, config.contracts.clone()))
    }

    /// The rollup of `config` without the router's L2 account (reads only; its entries cannot be
    /// quoted, since refunds go to that account).
    pub fn read_only(config: &ArbitrumChain) -> Result<Self> {
        Ok(Self::with_client(
            EvmClient::read_only(&config.chain)?,
            config.contracts.clone(),
        ))
    }

    fn with_client(client: EvmClient, contracts: ArbitrumContracts) -> Self {
        Self {
            client,
            contracts,
            sends: Mutex::default(),
            roots: Mutex::default(),
            tickets: Mutex::default(),
        }
    }

    /// The shared EVM client.
    pub fn client(&self) -> &EvmClient {
        &self.client
    }

    async fn retryable_floor(&self, l1: &L1<'_>) -> Result<Hub::retryableFloorsReturn> {
        let data = Hub::retryableFloorsCall::new((self.client.info.domain,)).abi_encode();
        let answer = l1.state.call(l1.state.hub(), data.into()).await?;
        Hub::retryableFloorsCall::abi_decode_returns(&answer).map_err(|e| {
            AdapterError::bad(
                &self.client.info.name,
                "the Hub's retryableFloors answer",
                None,
                e.to_string(),
            )
        })
    }

    /// The entry of `envelope` (see the module doc).
    async fn entry_of(&self, envelope: &Envelope, l1: &L1<'_>) -> Result<Entry> {
        let chain = &self.client;
        let name = &chain.info.name;
        let recipient = envelope.recipient;
        if recipient.0[..12] != [0u8; 12] {
            return Ok(Entry::Refused(format!(
                "recipient {recipient} is not an address on {name}"
            )));
        }
        let recipient = Address::from_word(recipient);
        let code = chain
            .provider
            .get_code_at(recipient)
            .await
            .map_err(|e| chain.rpc_error("eth_getCode", e))?;
        if code.is_empty() {
            return Ok(Entry::Refused(format!(
                "recipient {recipient} has no code on {name}"
            )));
        }
        let from = arbitrum::alias(l1.state.hub());
        let data = receive_call(envelope);
        let request = TransactionRequest::default()
            .from(from)
            .to(self.contracts.endpoint)
            .input(data.clone().into());
        let gas = match chain.provider.estimate_gas(request).await {
            Ok(gas) => gas,
            Err(e) => {
                if let Some(revert) = as_revert(&e) {
                    return Ok(Entry::Refused(format!(
                        "the endpoint on {name} would reject it: {}",
                        endpoint_revert(&revert.data, &revert.message)
                    )));
                }
                return Err(chain.rpc_error("eth_estimateGas receiveMessage", e));
            }
        };
        // The Hub refuses terms below its floor for this domain (issue 26): at least that.
        let floor = self.retryable_floor(l1).await?;
        // Headroom: the retry runs through ArbOS, and the app's state may move before it does.
        let gas_limit = gas
            .saturating_add(gas / 4)
            .saturating_add(20_000)
            .max(floor.gasLimit);
        let l2_base_fee = chain
            .block(BlockNumberOrTag::Latest)
            .await?
            .header
            .base_fee_per_gas
            .unwrap_or(0);
        // At least twice the base fee (ArbOS skips the automatic redeem below it), never the
        // estimation magic value 1.
        let max_fee_per_gas = U256::from(l2_base_fee.saturating_mul(2).max(10_000_000))
            .max(U256::from(floor.maxFeePerGas));
        let l1_base_fee = l1.state.base_fee().await?;
        // The Inbox charges at the base fee of the block the relay lands in: twice today's, the
        // excess refunded on L2.
        let max_submission_cost =
            arbitrum::submission_fee(data.len(), l1_base_fee.saturating_mul(U256::from(2)))
                .max(U256::from(1_000));
        let Some(refund_to) = chain.submitter.as_ref().map(|s| s.address()) else {
            return Err(AdapterError::config(
                format!("chains.{name}.signer_key_file"),
                "an Arbitrum destination needs the router's L2 account (its refunds go there)",
            ));
        };
        let fee = max_submission_cost + U256::from(gas_limit) * max_fee_per_gas;
        Ok(Entry::Accepted {
            fee,
            terms: retryable_entry(gas_limit, max_fee_per_gas, max_submission_cost, refund_to),
        })
    }

    async fn delivered(&self, id: &MessageId) -> Result<bool> {
        let chain = &self.client;
        ArbitrumEndpoint::new(self.contracts.endpoint, &chain.provider)
            .delivered(id.0)
            .call()
            .await
            .map_err(|e| AdapterError::rpc(&chain.info.name, "ArbitrumEndpoint.delivered", e))
    }

    /// The retryable ticket the Hub created for `id`, from the L1 logs of its forward (kept for
    /// the next look, at most [`TICKETS_KEPT`] of them); `None`
    /// before the Hub forwarded it.
    async fn ticket_of(
        &self,
        id: &MessageId,
        relayed_in: Option<u64>,
        l1: &L1<'_>,
    ) -> Result<Option<B256>> {
        let chain = &self.client;
        if let Some(t) = self.tickets.lock().await.get(id) {
            return Ok(Some(*t));
        }
        let forwarded = Filter::new()
            .address(l1.state.hub())
            .event_signature(Hub::MessageForwarded::SIGNATURE_HASH)
            .topic1(id.0);
        // From the relay's own block back (another relayer's forward can only be older).
        let from = relayed_in.unwrap_or(l1.finalized.number);
        let Some(log) = last_log_back(l1.state, &forwarded, from).await? else {
            return Ok(None);
        };
        let tx = log.transaction_hash;
        let block = log
            .block_number
            .ok_or_else(|| chain.bad("MessageForwarded log", tx, "no block number"))?;
        let event = Hub::MessageForwarded::decode_log(&log.inner)
            .map_err(|e| chain.bad("MessageForwarded log", tx, e.to_string()))?;
        let number = B256::from(event.l2Nonce);
        let message: ArbBridgeContracts::InboxMessageDelivered =
            beside(chain, l1, self.contracts.inbox, number, block, tx).await?;
        let delivered: ArbBridgeContracts::MessageDelivered =
            beside(chain, l1, self.contracts.bridge, number, block, tx).await?;
        if delivered.kind != KIND_SUBMIT_RETRYABLE {
            return Err(chain.bad(
                "MessageDelivered log",
                tx,
                format!("kind {} is not a retryable", delivered.kind),
            ));
        }
        let ticket = RetryableTicket::from_inbox_message(
            self.client.chain_id().await?,
            event.l2Nonce,
            delivered.sender,
            delivered.baseFeeL1,
            &message.data,
        )
        .map_err(|e| chain.bad("InboxMessageDelivered data", tx, e.to_string()))?
        .id();
        let mut tickets = self.tickets.lock().await;
        if tickets.len() >= TICKETS_KEPT {
            // A ticket is found again from the L1 logs if needed: no unbounded map.
            tickets.clear();
        }
        tickets.insert(*id, ticket);
        Ok(Some(ticket))
    }

    /// A redeem of the message's ticket when its automatic redeem failed: the ticket exists on
    /// the L2 and is still alive (a retry that succeeds deletes it; the endpoint did not deliver).
    async fn follow_up_of(
        &self,
        envelope: &Envelope,
        relayed_in: Option<u64>,
        l1: &L1<'_>,
    ) -> Result<Option<Call>> {
        let chain = &self.client;
        let Some(ticket) = self.ticket_of(&envelope.id(), relayed_in, l1).await? else {
            return Ok(None);
        };
        let created = Filter::new()
            .address(ARB_RETRYABLE_TX)
            .event_signature(ArbRetryableTx::TicketCreated::SIGNATURE_HASH)
            .topic1(ticket)
            .from_block(0);
        let made = chain.logs(&created).await?;
        if made.is_empty() {
            return Ok(None); // the L2 has not executed the L1 message yet
        }
        let retryable = ArbRetryableTx::new(ARB_RETRYABLE_TX, &chain.provider);
        match retryable.getTimeout(ticket).call().await {
            Ok(_) => {}
            Err(e) => {
                let data = e.as_revert_data().unwrap_or_default();
                if ArbRetryableTx::ArbRetryableTxErrors::abi_decode(&data).is_ok() {
                    return Ok(None); // redeemed, expired or cancelled: nothing to redeem
                }
                return Err(AdapterError::rpc(
                    &chain.info.name,
                    "ArbRetryableTx.getTimeout",
                    e,
                ));
            }
        }
        // The retry's own gas, as the Hub's alias runs it now.
        let request = TransactionRequest::default()
            .from(arbitrum::alias(l1.state.hub()))
            .to(self.contracts.endpoint)
            .input(receive_call(envelope).into());
        // A retry that would fail anyway is an error (counted, then the message parks with it),
        // not a redeem paid for nothing.
        let retry_gas = chain
            .provider
            .estimate_gas(request)
            .await
            .map_err(|e| chain.rpc_error("eth_estimateGas (the ticket's retry)", e))?;
        let mut call = Call::evm(
            ARB_RETRYABLE_TX,
            Bytes::from(ArbRetryableTx::redeemCall { ticketId: ticket }.abi_encode()),
            U256::ZERO,
        );
        call.min_gas = retry_gas
            .saturating_add(retry_gas / 4)
            .saturating_add(REDEEM_OVERHEAD);
        Ok(Some(call))
    }
}

#[async_trait]
impl ChainAdapter for ArbitrumAdapter {
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

    /// The endpoint's `MessageSent` events (the same event as the Hub's).
    async fn sent_messages(&self, from: u64, to: u64) -> Result<Vec<SentMessage>> {
        self.client
            .sent_messages(self.contracts.endpoint, from, to)
            .await
    }

    async fn exit(
        &self,
        envelope: &Envelope,
        sent_in: u64,
        l1: &L1<'_>,
        terms: &Bytes,
    ) -> Result<Exit> {
        self.exit_of(envelope, sent_in, l1, terms).await
    }

    /// A root posted in those blocks covers every send up to its L2 block.
    async fn exits(&self, l1: &dyn L1State, from: u64, to: u64) -> Result<crate::Exits> {
        self.exits_in(l1, from, to).await
    }

    async fn entry(&self, envelope: &Envelope, l1: &L1<'_>) -> Result<Entry> {
        self.entry_of(envelope, l1).await
    }

    /// The endpoint's `delivered[id]`.
    async fn is_delivered(&self, envelope: &Envelope) -> Result<bool> {
        self.delivered(&envelope.id()).await
    }

    async fn follow_up(
        &self,
        envelope: &Envelope,
        relayed_in: Option<u64>,
        l1: &L1<'_>,
    ) -> Result<Option<Call>> {
        self.follow_up_of(envelope, relayed_in, l1).await
    }

    fn submitter(&self) -> Option<&dyn Submitter> {
        self.client.submitter().map(|s| s as &dyn Submitter)
    }

    fn send_call(&self, dst: u32, recipient: B256, payload: &[U256], value: U256) -> Result<Call> {
        Ok(EvmClient::send_call(
            self.contracts.endpoint,
            dst,
            recipient,
            payload,
            value,
        ))
    }

    /// The node answers with the configured chain id, the endpoint is deployed on the L2 and
    /// the Inbox, Bridge and Outbox on L1, the router's L2 key loads and holds enough for
    /// `relays` redeems.
    async fn check(
        &self,
        l1: Option<&dyn L1State>,
        relays: u64,
    ) -> std::result::Result<String, CheckProblem> {
        let mut found = vec![self.client.check_chain_id().await?];
        let c = &self.contracts;
        self.client.check_code(c.endpoint, "endpoint").await?;
        let Some(l1) = l1 else {
            return Err(CheckProblem::new(
                "outbox",
                "the hub chain's RPC cannot be built, so the L1 bridge cannot be checked",
            ));
        };
        for (field, address) in [
            ("inbox", c.inbox),
            ("bridge", c.bridge),
            ("outbox", c.outbox),
        ] {
            crate::check_l1_code(l1, address, field).await?;
        }
        found.push(format!(
            "endpoint {} deployed; Inbox, Bridge and Outbox deployed on L1",
            c.endpoint
        ));
        found.push(self.client.check_signer(relays, REDEEM_GAS).await?);
        Ok(found.join("; "))
    }

    async fn payment(&self, id: MessageId) -> Result<Option<crate::Payment>> {
        self.tank_payment(id).await
    }

    async fn settlement(&self, id: MessageId, sent_in: u64) -> Result<Option<crate::Settlement>> {
        self.tank_settlement(id, sent_in).await
    }

    async fn tank_calls(&self, action: &crate::TankAction, caller: B256) -> Result<Vec<Call>> {
        self.tank_action_calls(action, caller).await
    }

    /// A retryable's excess fee and call-value refunds go to `to` when it is an address.
    fn with_refund_to(&self, terms: &Bytes, to: B256) -> Bytes {
        bridge::with_refund_to(terms, to)
    }

    /// Measured: 270k gas for an exit through the Outbox toward L1 (the first in a batch).
    fn relay_gas_hint(&self, words: usize) -> u64 {
        340_000 + 1_000 * words as u64
    }

    async fn tank_balance(&self, account: B256) -> Result<crate::TankBalance> {
        self.tank_balance_of(account).await
    }

    fn tank(&self) -> Option<B256> {
        self.tank_word()
    }

    async fn tank_state(&self) -> Result<Option<crate::TankState>> {
        self.tank_state_of().await
    }

    fn settle_call(&self, receipts: &[xroute_proofs::metering::MeteredReceipt]) -> Option<Call> {
        self.contracts.tank.map(|t| tank::settle_call(t, receipts))
    }

    async fn token_supply(&self, token: B256) -> Result<U256> {
        self.client.total_supply(token).await
    }
}

/// The event `E` that `contract` emitted with first topic `number` in transaction `tx` (block
/// `block`): what the Inbox and the Bridge log beside the Hub's forward of a retryable.
async fn beside<E: SolEvent>(
    chain: &EvmClient,
    l1: &L1<'_>,
    contract: Address,
    number: B256,
    block: u64,
    tx: Option<B256>,
) -> Result<E> {
    let filter = Filter::new()
        .address(contract)
        .event_signature(E::SIGNATURE_HASH)
        .topic1(number)
        .from_block(block)
        .to_block(block);
    let log = l1
        .state
        .logs(&filter)
        .await?
        .into_iter()
        .find(|l| l.transaction_hash == tx)
        .ok_or_else(|| {
            chain.bad(
                "retryable",
                tx,
                format!("no {}({number}) beside the Hub's forward", E::SIGNATURE),
            )
        })?;
    Ok(E::decode_log(&log.inner)
        .map_err(|e| chain.bad("retryable log", tx, e.to_string()))?
        .data)
}
