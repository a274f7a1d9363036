//! xroute-adapters: everything a router knows about one chain family, behind one trait.
//!
//! The pipeline asks every chain the same questions through [`ChainAdapter`]: what was sent in a
//! block range; for a message leaving the chain, what proves it on L1 and which L1 call consumes
//! it ([`Exit`]); for a message entering it, whether it can arrive and what the entry costs
//! ([`Entry`]); whether it was delivered; and whether delivery needs a follow-up call on the chain
//! itself. Transactions go through the chain's [`Submitter`], so a router can send on any chain.
//! The L1 hub chain is an adapter like the others: its exit is the Hub's `outbound[id]`, its
//! "delivered" is the Hub's `isProcessed(source, nonce)`, and it alone offers [`L1State`] (storage proofs
//! against L1 headers whose hashes it recomputes), which the others' exits are proven with.
//!
//! Chains: [`evm`] (alloy), with one shared client under two adapters, the L1 hub chain
//! ([`evm::HubChainAdapter`]) and Arbitrum-family rollups ([`evm::ArbitrumAdapter`]), and
//! [`starknet`] (Starknet and Starknet-family appchains on the starknet-rs family). A kind of
//! chain is a module here plus its `[[chains]]` block; [`build_adapter`] turns the block into an
//! adapter, [`build_reader`] into one that reads without the router's keys (`xroute check`,
//! `xroute token audit`). [`hub`] is the Hub as every family sees it.
//! Transports ([`transport`]) put a timeout on every request and retry transient failures, so a
//! hung node costs a bounded wait. Key files are read in one place ([`keys`]). Test doubles for
//! the traits live behind the `test-utils` feature (module `testing`).
//!
//! Adapters never decide a message's stage: the pipeline does, from what they report.

pub mod deploy;
mod error;
pub mod evm;
mod factory;
pub mod hub;
pub mod keys;
mod payment;
pub mod rpc_metrics;
pub mod starknet;
pub mod submit;
#[cfg(feature = "test-utils")]
pub mod testing;
pub mod transport;

use alloy::primitives::{Address, B256, Bytes, U256};
use async_trait::async_trait;
pub use error::{AdapterError, ErrorKind, Result, Source};
pub use factory::{build_adapter, build_reader};
pub use payment::{Payment, Settlement, TankAction, TankBalance, TankState, Terms};
use serde::{Deserialize, Serialize};
pub use submit::{Estimate, Fees, Lease, Mined, Revert, SignedTx, Submitter};
use xroute_proofs::{
    checkpoint::Checkpoint,
    envelope::{Envelope, MessageId},
    metering::MeteredReceipt,
};

/// Lowercase hex of `bytes`, no prefix (for error messages).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A block, by number and hash (the hash detects reorgs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash, 32 bytes.
    pub hash: [u8; 32],
}

/// An xroute message as an adapter found it on its source chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The envelope (its id was checked against the one the endpoint emitted).
    pub envelope: Envelope,
    /// The block it was sent in.
    pub block: BlockRef,
    /// The sending transaction.
    pub tx_hash: [u8; 32],
}

/// A checkpoint (issue 16) found on L1, with the messages it lists as L1 carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCheckpoint {
    /// The checkpoint (its claim and ids, in L1 log order).
    pub checkpoint: Checkpoint,
    /// Its messages, in leaf order: each envelope with the L1 block and transaction that made it
    /// consumable (for the hub chain, the transaction that sent it).
    pub messages: Vec<SentMessage>,
}

/// What every chain is, whatever its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainInfo {
    /// The configured name (logs, the API, the store's cursors).
    pub name: String,
    /// The xroute domain id.
    pub domain: u32,
    /// How many blocks deep a block must be before the router treats it as final.
    pub confirmations: u64,
}

/// A transaction to send on one chain: a call of contract `to` (the chain's address of it, as 32
/// bytes: an EVM address is left-padded, a Starknet address is its felt) with `data` and `value`.
/// Built by the adapter that knows the contract, sent by the chain's [`Submitter`]; the pipeline
/// only sets the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The contract called.
    pub to: B256,
    /// The call's data: ABI calldata on an EVM chain; the selector then the calldata felts, as
    /// 32-byte words, on a Starknet-family chain.
    pub data: Bytes,
    /// Native value sent along (wei on an EVM chain).
    pub value: U256,
    /// The least gas the transaction must carry, whatever the node's estimate (0: the estimate
    /// decides). An Arbitrum redeem donates its remaining gas to the retry it schedules, which
    /// the estimate of the redeem alone does not count.
    #[serde(default)]
    pub min_gas: u64,
}

impl Call {
    /// A call of the EVM contract `to`.
    pub fn evm(to: Address, data: Bytes, value: U256) -> Self {
        Self {
            to: to.into_word(),
            data,
            value,
            min_gas: 0,
        }
    }

    /// The EVM address of `to` (its low 20 bytes).
    pub fn evm_to(&self) -> Address {
        Address::from_word(self.to)
    }
}

/// Which messages waiting for their exit (`Exit::NotYet`) a range of finalized L1 blocks made
/// consumable, read from the events that make them so (issue 28): a waiting message is looked at
/// again only when this names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exits {
    /// The exits of these messages appeared.
    Ids(Vec<MessageId>),
    /// Every message sent in a block of this chain up to this one (inclusive) can exit.
    UpTo(u64),
    /// The chain cannot tell: every waiting message is looked at again.
    Unknown,
}

/// For a message leaving a chain: whether L1 can consume it yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// L1 does not show it consumable yet (the state update, or the challenge period, is ahead).
    NotYet,
    /// Proven on L1: `proof` says by what (for the message's history); `call` (an L1 call,
    /// value 0) consumes it and forwards it toward its destination; `prepaid` is what the sender
    /// already paid toward the destination's entry fee.
    Ready {
        /// What proves it, for the history (`l2ToL1Messages[h] = 1 at L1 block 40 (storage
        /// proof)`).
        proof: String,
        /// The L1 call that consumes it.
        call: Call,
        /// Paid by the sender toward the entry fee (wei).
        prepaid: U256,
    },
    /// It can never leave as it is (a word that is not a felt on a Starknet chain): park it.
    Never(String),
}

impl Exit {
    /// The exit read from an L1 storage slot (`what`, e.g. `Hub.outbound[id]`) proven at `l1`'s
    /// finalized block: not yet while it is zero, else ready with `call`.
    pub fn from_slot(
        value: U256,
        what: impl std::fmt::Display,
        l1: &L1<'_>,
        call: Call,
        prepaid: U256,
    ) -> Self {
        if value.is_zero() {
            return Self::NotYet;
        }
        Self::Ready {
            proof: format!(
                "{what} = {value} at L1 block {} (storage proof)",
                l1.finalized.number
            ),
            call,
            prepaid,
        }
    }
}

/// For a message entering a chain: whether it can arrive, and at what cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// It cannot arrive (an undeployed recipient, a word that is not a felt): park it.
    Refused(String),
    /// It can arrive; forwarding it into the chain costs `fee` (wei, paid on L1 with the call).
    Accepted {
        /// The entry fee, with headroom.
        fee: U256,
        /// How the Hub pays the entry, ABI-encoded: the `entry` argument of the Hub's relay
        /// calls, which the source's exit puts in its call (empty for a Starknet-family chain or
        /// L1; an Arbitrum retryable's gas limit, fee cap, submission cost and refund address).
        terms: Bytes,
    },
}

impl Entry {
    /// Accepted at `fee`, with no terms for the Hub.
    pub fn fee(fee: U256) -> Self {
        Self::Accepted {
            fee,
            terms: Bytes::new(),
        }
    }
}

/// L1 state as proven facts: what exits and entries read from the hub chain.
#[async_trait]
pub trait L1State: Send + Sync + std::fmt::Debug {
    /// The Hub contract on L1.
    fn hub(&self) -> Address;

    /// L1's chain id (the EIP-712 domain of router attestations).
    async fn chain_id(&self) -> Result<u64>;

    /// Storage slot `slot` of `contract` at block `at`, checked by a storage proof against the
    /// state root of `at`'s header, whose hash is recomputed.
    async fn proven_slot(&self, contract: Address, slot: B256, at: BlockRef) -> Result<U256>;

    /// Proves `slots` of `contract` at block `at` with as few requests as the node allows, so
    /// that [`L1State::proven_slot`] of each at `at` then costs none (a round's exits proven
    /// together). By default each is proven alone.
    async fn prove_slots(&self, contract: Address, slots: &[B256], at: BlockRef) -> Result<()> {
        for slot in slots {
            self.proven_slot(contract, *slot, at).await?;
        }
        Ok(())
    }

    /// L1 logs matching `filter` (where to look; what a log says is checked against proven state
    /// before the router acts on it).
    async fn logs(&self, filter: &alloy::rpc::types::Filter)
    -> Result<Vec<alloy::rpc::types::Log>>;

    /// The base fee of L1's latest block (what an L1 inbox charges by).
    async fn base_fee(&self) -> Result<U256>;

    /// L1's latest block with its base fee and its timestamp (what a payment's cap and deadline
    /// are judged by), from one request.
    async fn latest(&self) -> Result<(BlockRef, U256, u64)>;

    /// The base fee and the timestamp of L1's latest block.
    async fn fee_and_time(&self) -> Result<(U256, u64)> {
        let (_, fee, time) = self.latest().await?;
        Ok((fee, time))
    }

    /// The code at `address` on L1's latest block (checks of a deployment; never a proof).
    async fn code(&self, address: Address) -> Result<Bytes>;

    /// A view call of `to` with `data` at L1's latest block (checks of a deployment; never a
    /// proof).
    async fn call(&self, to: Address, data: Bytes) -> Result<Bytes>;

    /// Storage slot `slot` of `contract` at L1's latest block, unproven (checks of a deployment).
    async fn storage(&self, contract: Address, slot: B256) -> Result<U256>;

    /// L1's latest block number.
    async fn latest_block(&self) -> Result<u64>;
}

/// Why `xroute check` refuses a chain: the field of its `[[chains]]` block that is wrong (`rpc`,
/// `hub`, `outbox`, `signer_key_file`, …) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckProblem {
    /// The field, within the chain's block.
    pub field: String,
    /// What is wrong, and what the check found.
    pub problem: String,
}

impl CheckProblem {
    /// `field` is wrong: `problem`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// A key in `field` that does not load (the reason alone: the field is named once).
    pub fn key(field: &str, e: AdapterError) -> Self {
        let problem = match e {
            AdapterError::Config { reason, .. } => reason,
            other => other.to_string(),
        };
        Self::new(field, problem)
    }
}

/// `xroute check`: a contract is deployed at `address` (the config's `field`) on L1.
pub async fn check_l1_code(
    l1: &dyn L1State,
    address: Address,
    field: &str,
) -> std::result::Result<(), CheckProblem> {
    let code = l1
        .code(address)
        .await
        .map_err(|e| CheckProblem::new(field, format!("cannot read code on L1: {e}")))?;
    if code.is_empty() {
        return Err(CheckProblem::new(
            field,
            format!("no contract at {address} on L1"),
        ));
    }
    Ok(())
}

/// What an exit or an entry is judged against: L1, at the block the router treats as final.
#[derive(Debug, Clone, Copy)]
pub struct L1<'a> {
    /// The hub chain's proofs.
    pub state: &'a dyn L1State,
    /// L1's finalized block.
    pub finalized: BlockRef,
}

/// What the router needs from one chain. Every family implements it once.
#[async_trait]
pub trait ChainAdapter: Send + Sync + std::fmt::Debug {
    /// Name, domain and confirmation depth.
    fn info(&self) -> &ChainInfo;

    /// The latest block.
    async fn head(&self) -> Result<BlockRef>;

    /// The hash of block `number` (reorg checks against a stored cursor).
    async fn block_hash(&self, number: u64) -> Result<[u8; 32]>;

    /// xroute messages the chain's endpoint sent in blocks `from..=to`, in chain order.
    async fn sent_messages(&self, from: u64, to: u64) -> Result<Vec<SentMessage>>;

    /// The block transaction `tx` is in, once it is in a closed block (`None` before, or for a
    /// transaction the chain does not know).
    async fn block_of_tx(&self, tx: [u8; 32]) -> Result<Option<u64>>;

    /// Before the [`ChainAdapter::exit`]s of `envelopes` in one round: reads what they share at
    /// once (a Starknet-family chain proves all their `l2ToL1Messages` slots in one
    /// `eth_getProof`). Nothing by default; an error only means each exit reads alone.
    async fn prepare_exits(&self, _envelopes: &[&Envelope], _l1: &L1<'_>) -> Result<()> {
        Ok(())
    }

    /// For `envelope`, sent in this chain's block `sent_in`, leaving this chain: what proves it
    /// on L1 and the L1 call that consumes it, with `terms` (the destination's
    /// [`Entry::Accepted`] terms; empty when only asking whether it is proven) as the call's
    /// `entry` argument.
    async fn exit(
        &self,
        envelope: &Envelope,
        sent_in: u64,
        l1: &L1<'_>,
        terms: &Bytes,
    ) -> Result<Exit>;

    /// For `envelope`, entering this chain from L1: whether it can arrive and what the entry costs.
    async fn entry(&self, envelope: &Envelope, l1: &L1<'_>) -> Result<Entry>;

    /// Whether this chain's endpoint has delivered `envelope`. On the hub chain: whether the Hub
    /// processed it (delivered to an L1 app, or forwarded to its next hop), which it records per
    /// (source, nonce).
    async fn is_delivered(&self, envelope: &Envelope) -> Result<bool>;

    /// After the L1 leg was made (by a relay mined in L1 block `relayed_in`, when known): a call
    /// on this chain that the delivery still needs now (a manual redeem where an automatic one
    /// failed), if any.
    async fn follow_up(
        &self,
        _envelope: &Envelope,
        _relayed_in: Option<u64>,
        _l1: &L1<'_>,
    ) -> Result<Option<Call>> {
        Ok(None)
    }

    /// Sends transactions on this chain from the router's account (none when the chain is
    /// configured without one).
    fn submitter(&self) -> Option<&dyn Submitter>;

    /// The call that sends `payload` to `recipient` on domain `dst` from this chain's xroute
    /// contract (the Hub's or an endpoint's `send`), paying `value` toward the fees, as an app (or
    /// `xroute send`) makes it. An error names what the chain cannot carry (a word that is not a
    /// felt toward a Starknet endpoint, a value where the chain takes none).
    fn send_call(&self, dst: u32, recipient: B256, payload: &[U256], value: U256) -> Result<Call>;

    /// Whether this chain's messages are checkpointed ([`Self::checkpoints`] answers `Some`).
    fn checkpointed(&self) -> bool {
        false
    }

    /// The checkpoints (issue 16) of this chain's messages to the Hub in the finalized L1 blocks
    /// `from..=to`: one per block that made any consumable, in block order, computed from L1
    /// alone. `None`: this chain's messages are not checkpointed (they are attested one by one).
    async fn checkpoints(
        &self,
        _l1: &dyn L1State,
        _from: u64,
        _to: u64,
    ) -> Result<Option<Vec<FoundCheckpoint>>> {
        Ok(None)
    }

    /// Which of this chain's messages the finalized L1 blocks `from..=to` made consumable (read
    /// from L1's events, not per message): what wakes the messages waiting for their exit.
    /// Default [`Exits::Unknown`]: they are all looked at again.
    async fn exits(&self, _l1: &dyn L1State, _from: u64, _to: u64) -> Result<Exits> {
        Ok(Exits::Unknown)
    }

    /// This chain as L1 (the hub chain only): storage proofs against its verified headers.
    fn as_l1(&self) -> Option<&dyn L1State> {
        None
    }

    /// Batches of L1 calls (the hub chain, with a relayer account, only).
    fn batcher(&self) -> Option<&dyn Batcher> {
        None
    }

    /// What `xroute check` reports for this chain, as configured: the node answers with the
    /// configured chain id, the chain's contracts are deployed (here and, for a rollup, its bridge
    /// on `l1`, the hub chain; `None` when that cannot be reached), the router's key loads and,
    /// where the router pays gas, holds enough for `relays` transactions. `Ok`: what was found,
    /// one line; `Err`: the first problem, naming its field.
    async fn check(
        &self,
        l1: Option<&dyn L1State>,
        relays: u64,
    ) -> std::result::Result<String, CheckProblem>;

    /// The total supply of the token contract `token` (the canonical token's router on a
    /// rollup, `XToken` on L1) at the latest block: what `xroute token audit` compares with the
    /// ledger.
    async fn token_supply(&self, token: B256) -> Result<U256>;

    /// The open payment for relaying message `id`, sent from this chain, in its gas tank (the
    /// Hub's on the hub chain): `None` without a tank, if nobody paid, or once it was settled or
    /// released.
    async fn payment(&self, _id: MessageId) -> Result<Option<Payment>> {
        Ok(None)
    }

    /// How the payment for message `id` (sent from this chain in block `sent_in`) was settled in
    /// its tank, once it was (`None` before, or without a tank). Only blocks from `sent_in` on are
    /// read: a message is settled after it was sent.
    async fn settlement(&self, _id: MessageId, _sent_in: u64) -> Result<Option<Settlement>> {
        Ok(None)
    }

    /// This chain's gas tank (its address as a word), where its relays are settled by the Hub's
    /// commitments; `None` where there is none (the hub chain settles in the relay itself).
    fn tank(&self) -> Option<B256> {
        None
    }

    /// Where this chain's tank stands (`None` without a tank).
    async fn tank_state(&self) -> Result<Option<TankState>> {
        Ok(None)
    }

    /// The call on this chain that settles `receipts` (the next commitment's, in order) in its
    /// tank; `None` without a tank.
    fn settle_call(&self, _receipts: &[MeteredReceipt]) -> Option<Call> {
        None
    }

    /// The calls (in order) that make `action` in this chain's gas tank (the Hub's on the hub
    /// chain), sent by `caller`: an error names why it cannot be done here.
    async fn tank_calls(&self, _action: &TankAction, _caller: B256) -> Result<Vec<Call>> {
        Err(AdapterError::config(
            format!("chains.{}.tank", self.info().name),
            "no gas tank is configured for this chain",
        ))
    }

    /// `terms` (this chain's entry terms, as [`Entry::Accepted`] gave them) with the next leg's
    /// overpayment going to `to` (a payer's choice), where this chain refunds one and `to` is
    /// one of its addresses; else `terms` as they are.
    fn with_refund_to(&self, terms: &Bytes, _to: B256) -> Bytes {
        terms.clone()
    }

    /// The L1 gas a metered relay of a message from this chain with `words` payload words may
    /// use at most, whatever its destination: what `xroute quote` suggests as a payment's gas
    /// limit. From the relays measured on the local network (docs/gas.md), with headroom.
    fn relay_gas_hint(&self, words: usize) -> u64 {
        200_000 + 1_000 * words as u64
    }

    /// Where `account` stands in this chain's gas tank (`claimable` for an L1 relayer's word).
    async fn tank_balance(&self, _account: B256) -> Result<TankBalance> {
        Err(AdapterError::config(
            format!("chains.{}.tank", self.info().name),
            "no gas tank is configured for this chain",
        ))
    }
}

/// What a simulation of a batch found for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Simulated {
    /// It passes, using about `gas` (its call included).
    Passes {
        /// Gas the member used in the simulation.
        gas: u64,
    },
    /// It reverts; what that means for its message.
    Reverts(Revert),
}

/// The hub chain's batches: the L1 calls of several hops (each an exit's call with its value) made
/// in one transaction, each member isolated (one that reverts is skipped and its value returned).
#[async_trait]
pub trait Batcher: Send + Sync + std::fmt::Debug {
    /// Runs `members` as one batch from the router's account without sending it: what each would
    /// do, in order. `metered`: as the Hub's metered batch (`relayBatchMetered`).
    async fn simulate(&self, members: &[Call], metered: bool) -> Result<Vec<Simulated>>;

    /// The call that makes `members` in one transaction, metered (each landed member's cost
    /// recorded as a receipt, and a paid L1 app's message settled at once) or not. A member that
    /// runs out of gas fails the whole call, so an estimate of it covers every member.
    fn batch(&self, members: &[Call], metered: bool) -> Call;

    /// The L1 gas `call` (a `Hub.settle` claiming `u64::MAX`) measures, run as an `eth_call`
    /// from the router's account: the claim its real transaction makes
    /// ([`hub::settle_measured`]); an error says why it would revert otherwise.
    async fn measure_settle(&self, call: &Call) -> Result<u64>;
}

/// What every [`ChainAdapter`] offers on top of its methods.
pub trait ChainAdapterExt: ChainAdapter {
    /// The chain's configured name.
    fn name(&self) -> &str {
        &self.info().name
    }

    /// The chain's domain.
    fn domain(&self) -> u32 {
        self.info().domain
    }

    /// The latest block the router treats as final: `head − confirmations`.
    fn finalized_head(&self) -> impl std::future::Future<Output = Result<BlockRef>> + Send
    where
        Self: Sync,
    {
        async move { Ok(self.heads().await?.1) }
    }

    /// The latest block and the latest the router treats as final, from one head request.
    fn heads(&self) -> impl std::future::Future<Output = Result<(BlockRef, BlockRef)>> + Send
    where
        Self: Sync,
    {
        async move {
            let head = self.head().await?;
            let number = head.number.saturating_sub(self.info().confirmations);
            if number == head.number {
                return Ok((head, head));
            }
            let finalized = BlockRef {
                number,
                hash: self.block_hash(number).await?,
            };
            Ok((head, finalized))
        }
    }
}

impl<T: ChainAdapter + ?Sized> ChainAdapterExt for T {}
