//! Test doubles of the adapter traits (feature `test-utils`): a chain and a submitter whose
//! answers a test scripts, so the pipeline's every outcome can be tested without starting a node.
//! They keep what was asked of them (signed, broadcast and re-broadcast transactions) for the
//! test to check. Real chains are tested with the real nodes (see `tests/`).

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use async_trait::async_trait;
use xroute_proofs::envelope::{Envelope, MessageId};

use crate::{
    AdapterError, Batcher, BlockRef, Call, ChainAdapter, ChainInfo, Entry, ErrorKind, Estimate,
    Exit, Fees, L1, L1State, Lease, Mined, Result, SentMessage, SignedTx, Simulated, Submitter,
};

/// The call data of each member of a batch call a [`FakeChain`] (or the Hub) built.
pub fn batch_members(call: &Call) -> Vec<Bytes> {
    use crate::hub::Hub;
    use alloy::sol_types::SolCall;
    Hub::relayBatchCall::abi_decode(&call.data)
        .map(|b| b.members)
        .or_else(|_| Hub::relayBatchMeteredCall::abi_decode(&call.data).map(|b| b.members))
        .map(|members| members.into_iter().map(|m| m.call).collect())
        .unwrap_or_default()
}

/// A hub [`FakeChain`]'s batches: the Hub's encoding, scripted simulations.
#[async_trait]
impl Batcher for FakeChain {
    async fn simulate(&self, members: &[Call], _metered: bool) -> Result<Vec<Simulated>> {
        let mut state = self.check("eth_call relayBatch")?;
        state.simulations += 1;
        Ok(members
            .iter()
            .map(|m| {
                state
                    .simulated
                    .get(&m.data)
                    .cloned()
                    .unwrap_or(Simulated::Passes { gas: 50_000 })
            })
            .collect())
    }

    fn batch(&self, members: &[Call], metered: bool) -> Call {
        crate::hub::relay_batch(FAKE_HUB, members, metered)
    }

    async fn measure_settle(&self, _call: &Call) -> Result<u64> {
        drop(self.check("eth_call settle")?);
        Ok(100_000)
    }
}

/// The fees a [`FakeSubmitter`] estimates unless told otherwise.
pub const FEES: Fees = Fees {
    gas_limit: 100_000,
    max_fee_per_gas: 1_000,
    max_priority_fee_per_gas: 10,
};

/// The Hub address a hub [`FakeChain`] reports.
pub const FAKE_HUB: Address = Address::repeat_byte(0x11);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A failure a fake answers with instead of its script.
fn failure(chain: &str, method: &'static str, kind: ErrorKind) -> AdapterError {
    match kind {
        ErrorKind::BadAnswer => AdapterError::bad(chain, "answer", None, "scripted bad answer"),
        ErrorKind::Config => AdapterError::config(chain, "scripted config error"),
        ErrorKind::Signing => AdapterError::Signing {
            chain: chain.to_string(),
            what: method,
            source: "scripted signing failure".into(),
        },
        ErrorKind::Timeout => AdapterError::Rpc {
            chain: chain.to_string(),
            method,
            kind,
            source: "timed out: no answer within the request timeout (after 3 tries)".into(),
        },
        other => AdapterError::Rpc {
            chain: chain.to_string(),
            method,
            kind: other,
            source: format!("scripted {other}").into(),
        },
    }
}

#[derive(Debug, Default)]
struct ChainState {
    head: u64,
    /// Calls answered, by method.
    calls: HashMap<&'static str, u64>,
    /// When set, [`ChainAdapter::exits`] answers from `exit_events` instead of `Unknown`.
    announces_exits: bool,
    /// L1 block → the messages whose exits appeared in it.
    exit_events: Vec<(u64, MessageId)>,
    exits: HashMap<MessageId, Exit>,
    entries: HashMap<MessageId, Entry>,
    delivered: HashSet<MessageId>,
    follow_ups: HashMap<MessageId, Call>,
    failing: Option<ErrorKind>,
    /// Whether the chain offers batches (a hub chain only).
    batches: bool,
    /// What a batch simulation says of a member, by its call data (default: passes, 50,000 gas).
    simulated: HashMap<Bytes, Simulated>,
    /// Batch simulations asked for.
    simulations: usize,
}

/// A scripted chain. Head 10; it indexes nothing (a test stores the messages it steps); by
/// default every exit is `NotYet`, every entry accepted for free, nothing delivered, no
/// follow-up.
#[derive(Debug)]
pub struct FakeChain {
    info: ChainInfo,
    hub: bool,
    state: Mutex<ChainState>,
    submitter: Arc<FakeSubmitter>,
}

impl FakeChain {
    /// The L1 hub chain `name` of domain `domain` (it serves as [`L1State`]).
    pub fn hub(name: &str, domain: u32) -> Arc<Self> {
        Self::new(name, domain, true)
    }

    /// Another chain.
    pub fn rollup(name: &str, domain: u32) -> Arc<Self> {
        Self::new(name, domain, false)
    }

    fn new(name: &str, domain: u32, hub: bool) -> Arc<Self> {
        Arc::new(Self {
            info: ChainInfo {
                name: name.to_string(),
                domain,
                confirmations: 0,
            },
            hub,
            state: Mutex::new(ChainState {
                head: 10,
                ..ChainState::default()
            }),
            submitter: Arc::new(FakeSubmitter::new(name)),
        })
    }

    fn check(&self, method: &'static str) -> Result<MutexGuard<'_, ChainState>> {
        let mut state = lock(&self.state);
        *state.calls.entry(method).or_default() += 1;
        match state.failing {
            Some(kind) => Err(failure(&self.info.name, method, kind)),
            None => Ok(state),
        }
    }

    /// The chain's submitter.
    pub fn fake_submitter(&self) -> &Arc<FakeSubmitter> {
        &self.submitter
    }

    /// What the exit of message `id` is from now on.
    pub fn set_exit(&self, id: MessageId, exit: Exit) {
        lock(&self.state).exits.insert(id, exit);
    }

    /// What the entry of message `id` is from now on.
    pub fn set_entry(&self, id: MessageId, entry: Entry) {
        lock(&self.state).entries.insert(id, entry);
    }

    /// Offers batches from now on (on a hub chain: [`ChainAdapter::batcher`]); `relay_batch`'s
    /// encoding, so a test decodes the members of a signed batch with [`batch_members`].
    pub fn enable_batches(&self) {
        lock(&self.state).batches = true;
    }

    /// What a batch simulation says from now on of the member whose call data is `data`.
    pub fn simulate_member(&self, data: Bytes, result: Simulated) {
        lock(&self.state).simulated.insert(data, result);
    }

    /// How many batch simulations were asked for.
    pub fn simulations(&self) -> usize {
        lock(&self.state).simulations
    }

    /// Calls answered so far, every method together.
    pub fn calls(&self) -> u64 {
        lock(&self.state).calls.values().sum()
    }

    /// Calls answered so far, by method.
    pub fn calls_by_method(&self) -> std::collections::BTreeMap<&'static str, u64> {
        lock(&self.state)
            .calls
            .iter()
            .map(|(m, n)| (*m, *n))
            .collect()
    }

    /// Calls of `method` answered so far (`exit`, `eth_getProof`, `head`…).
    pub fn calls_of(&self, method: &str) -> u64 {
        lock(&self.state).calls.get(method).copied().unwrap_or(0)
    }

    /// A new block: the latest is one higher (on a hub chain: L1 moved, so what waits for an
    /// exit is looked at again).
    pub fn next_block(&self) {
        lock(&self.state).head += 1;
    }

    /// The chain's latest block from now on.
    pub fn set_head(&self, head: u64) {
        lock(&self.state).head = head;
    }

    /// From now on [`ChainAdapter::exits`] names only what [`Self::exit_in`] announced (by
    /// default it answers `Unknown`, so every waiting message is looked at every round).
    pub fn announce_exits(&self) {
        lock(&self.state).announces_exits = true;
    }

    /// Message `id` can exit from now on, by an event of L1 block `l1_block`.
    pub fn exit_in(&self, id: MessageId, l1_block: u64, exit: Exit) {
        let mut state = lock(&self.state);
        state.exits.insert(id, exit);
        state.exit_events.push((l1_block, id));
    }

    /// Message `id` is delivered here (on a hub chain: the Hub processed it).
    pub fn deliver(&self, id: MessageId) {
        lock(&self.state).delivered.insert(id);
    }

    /// The delivery of message `id` needs `call` on this chain (until it is delivered).
    pub fn set_follow_up(&self, id: MessageId, call: Call) {
        lock(&self.state).follow_ups.insert(id, call);
    }

    /// Every call of the chain fails with `kind` (a node that times out, a rate limit…) until
    /// `None`.
    pub fn fail_with(&self, kind: Option<ErrorKind>) {
        lock(&self.state).failing = kind;
        lock(&self.submitter.state).failing = kind;
    }
}

/// The hash a [`FakeChain`] gives block `number`.
pub fn block_hash(number: u64) -> [u8; 32] {
    keccak256(number.to_le_bytes()).0
}

#[async_trait]
impl L1State for FakeChain {
    fn hub(&self) -> Address {
        FAKE_HUB
    }

    async fn chain_id(&self) -> Result<u64> {
        Ok(1)
    }

    async fn proven_slot(&self, _: Address, _: B256, _: BlockRef) -> Result<U256> {
        drop(self.check("eth_getProof")?);
        Ok(U256::ZERO)
    }

    async fn logs(&self, _: &alloy::rpc::types::Filter) -> Result<Vec<alloy::rpc::types::Log>> {
        drop(self.check("eth_getLogs")?);
        Ok(Vec::new())
    }

    async fn base_fee(&self) -> Result<U256> {
        drop(self.check("base_fee")?);
        Ok(U256::from(1_000_000_000u64))
    }

    async fn latest(&self) -> Result<(BlockRef, U256, u64)> {
        let number = self.check("head")?.head;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        Ok((
            BlockRef {
                number,
                hash: block_hash(number),
            },
            U256::from(1_000_000_000u64),
            now,
        ))
    }

    async fn code(&self, _: Address) -> Result<Bytes> {
        drop(self.check("eth_getCode")?);
        Ok(Bytes::from_static(&[0x60]))
    }

    async fn call(&self, _: Address, _: Bytes) -> Result<Bytes> {
        drop(self.check("eth_call")?);
        Ok(Bytes::new())
    }

    async fn storage(&self, _: Address, _: B256) -> Result<U256> {
        drop(self.check("eth_getStorageAt")?);
        Ok(U256::ZERO)
    }

    async fn latest_block(&self) -> Result<u64> {
        Ok(self.check("eth_blockNumber")?.head)
    }
}

#[async_trait]
impl ChainAdapter for FakeChain {
    fn info(&self) -> &ChainInfo {
        &self.info
    }

    async fn head(&self) -> Result<BlockRef> {
        let number = self.check("head")?.head;
        Ok(BlockRef {
            number,
            hash: block_hash(number),
        })
    }

    async fn block_hash(&self, number: u64) -> Result<[u8; 32]> {
        drop(self.check("block_hash")?);
        Ok(block_hash(number))
    }

    /// Unknown: the tests store the messages they step.
    async fn block_of_tx(&self, _: [u8; 32]) -> Result<Option<u64>> {
        drop(self.check("block_of_tx")?);
        Ok(None)
    }

    /// Nothing: the tests store the messages they step.
    async fn sent_messages(&self, _: u64, _: u64) -> Result<Vec<SentMessage>> {
        drop(self.check("sent_messages")?);
        Ok(Vec::new())
    }

    /// The scripted exit; a ready exit's call carries `terms` appended to its data, so that a
    /// test sees what the pipeline passed on.
    async fn exit(
        &self,
        envelope: &Envelope,
        _sent_in: u64,
        _: &L1<'_>,
        terms: &Bytes,
    ) -> Result<Exit> {
        let exit = self
            .check("exit")?
            .exits
            .get(&envelope.id())
            .cloned()
            .unwrap_or(Exit::NotYet);
        Ok(match exit {
            Exit::Ready {
                proof,
                mut call,
                prepaid,
            } => {
                call.data = [call.data.as_ref(), terms.as_ref()].concat().into();
                Exit::Ready {
                    proof,
                    call,
                    prepaid,
                }
            }
            other => other,
        })
    }

    async fn entry(&self, envelope: &Envelope, _: &L1<'_>) -> Result<Entry> {
        Ok(self
            .check("entry")?
            .entries
            .get(&envelope.id())
            .cloned()
            .unwrap_or(Entry::fee(U256::ZERO)))
    }

    async fn exits(&self, _: &dyn L1State, from: u64, to: u64) -> Result<crate::Exits> {
        let state = self.check("exits")?;
        if !state.announces_exits {
            return Ok(crate::Exits::Unknown);
        }
        Ok(crate::Exits::Ids(
            state
                .exit_events
                .iter()
                .filter(|(block, _)| (from..=to).contains(block))
                .map(|(_, id)| *id)
                .collect(),
        ))
    }

    async fn is_delivered(&self, envelope: &Envelope) -> Result<bool> {
        Ok(self
            .check("is_delivered")?
            .delivered
            .contains(&envelope.id()))
    }

    async fn follow_up(
        &self,
        envelope: &Envelope,
        _: Option<u64>,
        _: &L1<'_>,
    ) -> Result<Option<Call>> {
        Ok(self
            .check("follow_up")?
            .follow_ups
            .get(&envelope.id())
            .cloned())
    }

    fn submitter(&self) -> Option<&dyn Submitter> {
        Some(self.submitter.as_ref())
    }

    fn send_call(&self, dst: u32, recipient: B256, payload: &[U256], value: U256) -> Result<Call> {
        let mut data = dst.to_be_bytes().to_vec();
        data.extend_from_slice(recipient.as_slice());
        for w in payload {
            data.extend_from_slice(&w.to_be_bytes::<32>());
        }
        Ok(Call {
            to: B256::ZERO,
            data: data.into(),
            value,
            min_gas: 0,
        })
    }

    fn as_l1(&self) -> Option<&dyn L1State> {
        self.hub.then_some(self as &dyn L1State)
    }

    fn batcher(&self) -> Option<&dyn Batcher> {
        (self.hub && lock(&self.state).batches).then_some(self as &dyn Batcher)
    }

    async fn check(
        &self,
        _: Option<&dyn L1State>,
        _: u64,
    ) -> std::result::Result<String, crate::CheckProblem> {
        self.check("check")
            .map(|_| format!("scripted chain {}", self.info.name))
            .map_err(|e| crate::CheckProblem::new("rpc", e.to_string()))
    }

    async fn token_supply(&self, _: B256) -> Result<U256> {
        drop(self.check("totalSupply")?);
        Ok(U256::ZERO)
    }
}

#[derive(Debug, Default)]
struct SubmitterState {
    estimates: VecDeque<Estimate>,
    next_nonce: Option<u64>,
    mined_nonce: u64,
    signed: Vec<(SignedTx, Call)>,
    broadcast: Vec<B256>,
    rebroadcast: Vec<B256>,
    refuse_next: bool,
    receipts: HashMap<B256, Mined>,
    failing: Option<ErrorKind>,
}

/// A scripted submitter: estimates [`FEES`] unless told otherwise, signs deterministically,
/// accepts broadcasts unless told to refuse one, mines nothing until told to.
#[derive(Debug)]
pub struct FakeSubmitter {
    chain: String,
    state: Mutex<SubmitterState>,
    lease: tokio::sync::Mutex<()>,
}

impl FakeSubmitter {
    fn new(chain: &str) -> Self {
        Self {
            chain: chain.to_string(),
            state: Mutex::new(SubmitterState::default()),
            lease: tokio::sync::Mutex::new(()),
        }
    }

    fn check(&self, method: &'static str) -> Result<MutexGuard<'_, SubmitterState>> {
        let state = lock(&self.state);
        match state.failing {
            Some(kind) => Err(failure(&self.chain, method, kind)),
            None => Ok(state),
        }
    }

    /// The next estimate answers `estimate` (then back to [`FEES`]).
    pub fn next_estimate(&self, estimate: Estimate) {
        lock(&self.state).estimates.push_back(estimate);
    }

    /// The next broadcast is refused (as a node refuses an underpriced transaction).
    pub fn refuse_next_broadcast(&self) {
        lock(&self.state).refuse_next = true;
    }

    /// Transaction `hash` is mined in block `block`, successfully or not.
    pub fn mine(&self, hash: B256, block: u64, success: bool) {
        let mut state = lock(&self.state);
        let nonce = state
            .signed
            .iter()
            .find(|(tx, _)| tx.hash == hash)
            .map(|(tx, _)| tx.nonce);
        if let Some(n) = nonce {
            state.mined_nonce = state.mined_nonce.max(n + 1);
        }
        state.receipts.insert(
            hash,
            Mined {
                block_number: block,
                block_hash: B256::from(block_hash(block)),
                success,
                gas_used: 50_000,
                fee_paid: U256::from(50_000u64),
            },
        );
    }

    /// Another transaction of the account took the next nonce (mined elsewhere).
    pub fn take_nonce(&self) {
        let mut state = lock(&self.state);
        state.mined_nonce += 1;
        let mined = state.mined_nonce;
        if state.next_nonce.is_some_and(|n| n < mined) {
            state.next_nonce = Some(mined);
        }
    }

    /// Every transaction signed so far, with its call, oldest first.
    pub fn signed(&self) -> Vec<(SignedTx, Call)> {
        lock(&self.state).signed.clone()
    }

    /// The hashes the node accepted from `broadcast`, in order.
    pub fn broadcasts(&self) -> Vec<B256> {
        lock(&self.state).broadcast.clone()
    }

    /// The hashes sent again with `rebroadcast`, in order.
    pub fn rebroadcasts(&self) -> Vec<B256> {
        lock(&self.state).rebroadcast.clone()
    }
}

#[async_trait]
impl Submitter for FakeSubmitter {
    fn sender(&self) -> B256 {
        keccak256(self.chain.as_bytes())
    }

    async fn estimate(&self, _: &Call) -> Result<Estimate> {
        let mut state = self.check("estimate")?;
        Ok(state.estimates.pop_front().unwrap_or(Estimate::Ok(FEES)))
    }

    async fn lease(&self) -> Box<dyn Lease + '_> {
        Box::new(FakeLease {
            submitter: self,
            _lock: self.lease.lock().await,
        })
    }

    async fn rebroadcast(&self, tx: &SignedTx) -> Result<()> {
        self.check("rebroadcast")?.rebroadcast.push(tx.hash);
        Ok(())
    }

    async fn receipt(&self, hash: B256) -> Result<Option<Mined>> {
        Ok(self.check("receipt")?.receipts.get(&hash).copied())
    }

    async fn mined_nonce(&self) -> Result<u64> {
        Ok(self.check("mined_nonce")?.mined_nonce)
    }
}

struct FakeLease<'a> {
    submitter: &'a FakeSubmitter,
    _lock: tokio::sync::MutexGuard<'a, ()>,
}

impl FakeLease<'_> {
    fn make(&self, call: &Call, fees: Fees, nonce: u64) -> Result<SignedTx> {
        let mut state = self.submitter.check("sign")?;
        let mut preimage = call.to.to_vec();
        preimage.extend_from_slice(&call.data);
        preimage.extend_from_slice(&nonce.to_be_bytes());
        preimage.extend_from_slice(&fees.max_fee_per_gas.to_be_bytes());
        let tx = SignedTx {
            hash: keccak256(&preimage),
            nonce,
            raw: Bytes::from(preimage),
            fees,
        };
        state.signed.push((tx.clone(), call.clone()));
        Ok(tx)
    }
}

#[async_trait]
impl Lease for FakeLease<'_> {
    async fn sign(&mut self, call: &Call, fees: Fees) -> Result<SignedTx> {
        let nonce = {
            let state = self.submitter.check("nonce")?;
            state.next_nonce.unwrap_or(state.mined_nonce)
        };
        self.make(call, fees, nonce)
    }

    async fn replace(&mut self, stuck: &SignedTx) -> Result<SignedTx> {
        let call = lock(&self.submitter.state)
            .signed
            .iter()
            .find(|(tx, _)| tx.hash == stuck.hash)
            .map(|(_, call)| call.clone())
            .ok_or_else(|| {
                AdapterError::bad(
                    &self.submitter.chain,
                    "stored transaction",
                    Some(stuck.hash.to_string()),
                    "never signed here",
                )
            })?;
        self.make(&call, stuck.fees.bumped(None), stuck.nonce)
    }

    async fn broadcast(&mut self, tx: &SignedTx) -> Result<()> {
        let mut state = self.submitter.check("broadcast")?;
        if std::mem::take(&mut state.refuse_next) {
            return Err(AdapterError::unavailable(
                &self.submitter.chain,
                "eth_sendRawTransaction",
                "replacement transaction underpriced",
            ));
        }
        state.broadcast.push(tx.hash);
        let next = state.next_nonce.unwrap_or(state.mined_nonce);
        if tx.nonce == next {
            state.next_nonce = Some(next + 1);
        }
        Ok(())
    }
}
