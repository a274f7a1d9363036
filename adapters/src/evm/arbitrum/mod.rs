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
pub mod tank;

pub use bridge::{
    ARB_RETRYABLE_TX, ARB_SYS, ArbBridgeContracts, ArbRetryableTx, ArbSys, ArbitrumEndpoint,
    KIND_SUBMIT_RETRYABLE, NODE_INTERFACE, NodeInterface, OUTBOX_ROOTS_SLOT,
    classify_bridge_revert, classify_l2_revert, outbox_root_key, receive_call, relay_from_arbitrum,
    retryable_entry,
};
use bridge::{endpoint_revert, envelope_of};

use super::{client::EvmClient, submit::as_revert};
use crate::{
    AdapterError, BlockRef, Call, ChainAdapter, ChainInfo, CheckProblem, Entry, Exit, L1, L1State,
    Result, SentMessage, Submitter,
    hub::{self, Hub},
};

/// Blocks per `eth_getLogs` request.
const LOG_RANGE: u64 = 10_000;
/// The most sends kept in memory (each is found again from its block's logs when evicted).
const SENDS_KEPT: usize = 10_000;
/// L2 gas a redeem needs besides its retry's.
const REDEEM_OVERHEAD: u64 = 80_000;
/// Gas one redeem of the router's may cost (its retry included), for `xroute check`.
const REDEEM_GAS: u64 = 500_000;

/// A send root the rollup posted to the Outbox.
#[derive(Debug, Clone)]
struct PostedRoot {
    root: B256,
    l2_block_hash: B256,
    /// How many sends it covers, once known.
    size: Option<u64>,
}

/// The newest send root the rollup posted (older ones cover no more leaves), and the next L1
/// block to read for a newer one.
#[derive(Debug, Default)]
struct Roots {
    next_block: u64,
    newest: Option<PostedRoot>,
}

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

    /// The leaf index and the send of message `id`, from the `L2ToL1Tx` logs of L2 block
    /// `sent_in` (the block the endpoint sent it in); `None` when that block holds none.
    async fn send_of(
        &self,
        id: &MessageId,
        hub: Address,
        sent_in: u64,
    ) -> Result<Option<(u64, L2ToL1Send)>> {
        if let Some(found) = self.sends.lock().await.get(id) {
            return Ok(Some(found.clone()));
        }
        let chain = &self.client;
        let filter = Filter::new()
            .address(ARB_SYS)
            .event_signature(ArbSys::L2ToL1Tx::SIGNATURE_HASH)
            .topic1(hub.into_word())
            .from_block(sent_in)
            .to_block(sent_in);
        for log in chain.logs(&filter).await? {
            let tx = log.transaction_hash;
            let event = ArbSys::L2ToL1Tx::decode_log(&log.inner)
                .map_err(|e| chain.bad("L2ToL1Tx log", tx, e.to_string()))?;
            let send = L2ToL1Send {
                caller: event.caller,
                destination: event.destination,
                arb_block_num: event.arbBlockNum,
                eth_block_num: event.ethBlockNum,
                timestamp: event.timestamp,
                value: event.callvalue,
                data: event.data.data.clone(),
            };
            if send.hash() != B256::from(event.hash) {
                return Err(chain.bad(
                    "L2ToL1Tx log",
                    tx,
                    format!(
                        "its fields hash to {}, the log says {:#x}",
                        send.hash(),
                        event.hash
                    ),
                ));
            }
            if send.caller != self.contracts.endpoint
                || send.destination != hub
                || envelope_of(&send.data).map(|e| e.id()) != Some(*id)
            {
                continue;
            }
            let position = u64::try_from(event.position)
                .map_err(|_| chain.bad("L2ToL1Tx log", tx, "leaf index over 2^64"))?;
            let mut sends = self.sends.lock().await;
            if sends.len() >= SENDS_KEPT {
                // A message is looked up again from its own block if needed: no unbounded map.
                sends.clear();
            }
            sends.insert(*id, (position, send.clone()));
            return Ok(Some((position, send)));
        }
        Ok(None)
    }

    /// How many sends the accumulator held at the end of L2 block `block_hash`, whose root the
    /// rollup posted as `root` (`ArbSys.sendMerkleTreeState`, asked from address zero as nitro
    /// requires, at that block).
    async fn size_at(&self, block_hash: B256, root: B256) -> Result<u64> {
        let chain = &self.client;
        let state = ArbSys::new(ARB_SYS, &chain.provider)
            .sendMerkleTreeState()
            .from(Address::ZERO)
            .block(alloy::eips::BlockId::hash(block_hash))
            .call()
            .await
            .map_err(|e| AdapterError::rpc(&chain.info.name, "ArbSys.sendMerkleTreeState", e))?;
        if state.root != root {
            return Err(chain.bad(
                "send root",
                None,
                format!(
                    "the Outbox has root {root} for L2 block {block_hash}, ArbSys there has {} \
                     (wrong chain, or an L2 reorg under a posted root)",
                    state.root
                ),
            ));
        }
        u64::try_from(state.size).map_err(|_| chain.bad("send root", None, "size over 2^64"))
    }

    /// The Merkle path of leaf `position` (send `send`) under `root`, a tree of `size` sends,
    /// from the node (`NodeInterface.constructOutboxProof`), checked here: the node names the
    /// same send and root, and the path leads from the leaf to the root.
    async fn outbox_proof(
        &self,
        size: u64,
        position: u64,
        send: B256,
        root: B256,
    ) -> Result<Vec<B256>> {
        let chain = &self.client;
        let answer = NodeInterface::new(NODE_INTERFACE, &chain.provider)
            .constructOutboxProof(size, position)
            .call()
            .await
            .map_err(|e| {
                AdapterError::rpc(&chain.info.name, "NodeInterface.constructOutboxProof", e)
            })?;
        let leads_to = arbitrum::outbox_root_from_proof(send, position, &answer.proof)
            .map_err(|e| chain.bad("outbox proof", None, e.to_string()))?;
        if answer.send != send || answer.root != root || leads_to != root {
            return Err(chain.bad(
                "outbox proof",
                None,
                format!(
                    "asked for leaf {position} of {size} (send {send}, root {root}), the node \
                     answered send {}, root {}, and a path to {leads_to}",
                    answer.send, answer.root
                ),
            ));
        }
        Ok(answer.proof)
    }

    /// The Outbox's `SendRootUpdated` logs in L1 blocks `from..=to` (the L1 state windows
    /// the query to its provider's range).
    async fn root_logs(&self, l1: &dyn L1State, from: u64, to: u64) -> Result<Vec<PostedRoot>> {
        let filter = self.roots_filter().from_block(from).to_block(to);
        Ok(l1
            .logs(&filter)
            .await?
            .iter()
            .filter_map(posted_root)
            .collect())
    }

    /// The Outbox's `SendRootUpdated` logs.
    fn roots_filter(&self) -> Filter {
        Filter::new()
            .address(self.contracts.outbox)
            .event_signature(ArbBridgeContracts::SendRootUpdated::SIGNATURE_HASH)
    }

    /// Brings `roots` up to L1 block `to`. The first time, the newest root is looked for
    /// backwards from `to`, a window at a time (not from L1's genesis: on a public chain the
    /// Outbox holds years of roots, and only the newest matters).
    async fn read_roots(&self, l1: &dyn L1State, roots: &mut Roots, to: u64) -> Result<()> {
        if roots.next_block == 0 {
            if let Some(log) = last_log_back(l1, &self.roots_filter(), to).await? {
                roots.newest = posted_root(&log);
            }
        } else if roots.next_block <= to
            && let Some(newest) = self.root_logs(l1, roots.next_block, to).await?.pop()
        {
            roots.newest = Some(newest);
        }
        roots.next_block = roots.next_block.max(to + 1);
        Ok(())
    }

    /// The number of L2 block `hash`, which a posted root names.
    async fn l2_block_number(&self, hash: B256) -> Result<u64> {
        let chain = &self.client;
        let block = chain
            .provider
            .get_block_by_hash(hash)
            .await
            .map_err(|e| chain.rpc_error("eth_getBlockByHash", e))?
            .ok_or_else(|| {
                chain.bad(
                    "send root",
                    None,
                    format!(
                        "the Outbox names L2 block {hash}, which the L2 does not have (wrong \
                         chain, or an L2 reorg under a posted root)"
                    ),
                )
            })?;
        Ok(block.header.number)
    }

    /// The exit of `envelope` (see the module doc).
    async fn exit_of(
        &self,
        envelope: &Envelope,
        sent_in: u64,
        l1: &L1<'_>,
        terms: &Bytes,
    ) -> Result<Exit> {
        let chain = &self.client;
        let id = envelope.id();
        let hub = l1.state.hub();
        let words = envelope.to_words();
        // Executed on L1 already (anyone may execute an Outbox message): the Hub holds it.
        let pending = l1
            .state
            .proven_slot(hub, hub::outbound_key(id.0), l1.finalized)
            .await?;
        if !pending.is_zero() {
            return Ok(Exit::from_slot(
                pending,
                "Hub.outbound[id] (executed through the Outbox)",
                l1,
                hub::relay_from_l1(hub, &words, terms),
                pending.saturating_sub(U256::from(1)),
            ));
        }
        let Some((position, send)) = self.send_of(&id, hub, sent_in).await? else {
            return Ok(Exit::NotYet);
        };
        let mut roots = self.roots.lock().await;
        self.read_roots(l1.state, &mut roots, l1.finalized.number)
            .await?;
        // The newest posted root decides (older ones cover no more leaves).
        let Some(posted) = roots.newest.clone() else {
            return Ok(Exit::NotYet);
        };
        let size = match posted.size {
            Some(size) => size,
            None => {
                let size = self.size_at(posted.l2_block_hash, posted.root).await?;
                if let Some(newest) = roots.newest.as_mut() {
                    newest.size = Some(size);
                }
                size
            }
        };
        drop(roots);
        if size <= position {
            return Ok(Exit::NotYet);
        }
        let proof = self
            .outbox_proof(size, position, send.hash(), posted.root)
            .await?;
        let confirmed = l1
            .state
            .proven_slot(
                self.contracts.outbox,
                outbox_root_key(posted.root),
                l1.finalized,
            )
            .await?;
        if confirmed.is_zero() {
            return Ok(Exit::NotYet);
        }
        let exit = Hub::ArbitrumExit {
            srcDomain: chain.info.domain,
            proof: proof.clone(),
            index: U256::from(position),
            l2Block: send.arb_block_num,
            l1Block: send.eth_block_num,
            l2Timestamp: send.timestamp,
            words: hub::envelope_words(&words),
        };
        Ok(Exit::Ready {
            proof: format!(
                "Outbox.roots[{}] set at L1 block {} (storage proof); leaf {position} of {size} \
                 under it by a {}-step Merkle path",
                posted.root,
                l1.finalized.number,
                proof.len()
            ),
            call: relay_from_arbitrum(hub, exit, terms),
            prepaid: U256::ZERO,
        })
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

    /// The retryable ticket the Hub created for `id`, from the L1 logs of its forward; `None`
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
        self.tickets.lock().await.insert(*id, ticket);
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
        Ok(match self.root_logs(l1, from, to).await?.pop() {
            Some(newest) => crate::Exits::UpTo(self.l2_block_number(newest.l2_block_hash).await?),
            None => crate::Exits::Ids(Vec::new()),
        })
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
/// The root a `SendRootUpdated` log posted.
fn posted_root(log: &alloy::rpc::types::Log) -> Option<PostedRoot> {
    match log.topics() {
        [_, root, block_hash] => Some(PostedRoot {
            root: *root,
            l2_block_hash: *block_hash,
            size: None,
        }),
        _ => None,
    }
}

/// The newest log `filter` selects at or before L1 block `from`, looked for backwards a window of
/// `LOG_RANGE` blocks at a time (what is recent is found in one query, and nothing is read from
/// L1's genesis unless nothing newer matches).
async fn last_log_back(
    l1: &dyn L1State,
    filter: &Filter,
    from: u64,
) -> Result<Option<alloy::rpc::types::Log>> {
    let mut end = from;
    loop {
        let start = end.saturating_sub(LOG_RANGE - 1);
        let window = filter.clone().from_block(start).to_block(end);
        if let Some(log) = l1.logs(&window).await?.pop() {
            return Ok(Some(log));
        }
        if start == 0 {
            return Ok(None);
        }
        end = start - 1;
    }
}

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
