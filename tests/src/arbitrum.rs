//! The local Arbitrum of ../shared/ARBITRUM.md: the **real** nitro-contracts 3.2.0 Bridge, Inbox,
//! SequencerInbox and Outbox (behind the real TransparentUpgradeableProxy) on the L1 anvil, a
//! second anvil as the L2 with xroute's stand-ins etched at the precompile addresses (ArbSys 0x64,
//! ArbRetryableTx 0x6e) and at NodeInterface's (0xc8: outbox proofs, as a nitro node answers), and [`LocalArbitrum::step`], the sequencer/validator loop: it carries
//! every retryable the Bridge recorded to the L2 (ticket, automatic redeem under ArbOS's rules)
//! and posts the L2's send root to the real Outbox (`updateSendRoot`) once it is older than the
//! configured challenge delay.
//!
//! The bytecode comes from the tool cache (`scripts/bootstrap` installs the npm package; its
//! licence, BUSL-1.1, keeps it out of this repository).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use alloy::{
    eips::BlockNumberOrTag,
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, TransactionRequest},
    sol_types::{SolCall, SolEvent, SolValue},
};
use eyre::{Result, WrapErr, bail, ensure, eyre};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use xroute_adapters::evm::arbitrum::{
    ARB_RETRYABLE_TX, ARB_SYS, ArbBridgeContracts, KIND_SUBMIT_RETRYABLE, NODE_INTERFACE,
};
use xroute_proofs::arbitrum::{RetryableTicket, submission_fee};

use crate::{
    anvil::{Anvil, AnvilOptions},
    artifacts::evm::{LocalAliasForwarder, LocalArbRetryableTx, LocalArbSys, LocalNodeInterface},
    rpc,
};

/// The L2's chain id (nitro-testnode's).
pub const L2_CHAIN_ID: u64 = 412_346;
/// The L1 dev account that plays the rollup (it posts send roots; the bridge's `rollup`).
pub const ROLLUP_ACCOUNT: usize = 7;
/// The L1 dev account that is the proxies' admin (never calls them).
pub const PROXY_ADMIN_ACCOUNT: usize = 6;
/// The address the sequencer acts as when it plays ArbOS on the L2.
pub const ARBOS: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0x4b, 0x05,
]);
/// The Inbox's and SequencerInbox's `maxDataSize` (nitro's default for an L2).
const MAX_DATA_SIZE: u64 = 117_964;
/// Gas of a createTicket transaction besides the automatic redeem's and the ticket's data.
const TICKET_GAS: u64 = 400_000;
/// Gas per 32-byte word of a ticket's data: the stand-in keeps it in EVM storage (a fresh slot),
/// where ArbOS keeps it in its own state, so that a long ticket does not starve its auto-redeem.
const TICKET_GAS_PER_WORD: u64 = 22_500;

mod nitro {
    #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
    alloy::sol! {
        #[sol(rpc)]
        interface IBridgeAdmin {
            function initialize(address rollup) external;
            function setDelayedInbox(address inbox, bool enabled) external;
            function setOutbox(address outbox, bool enabled) external;
            function setSequencerInbox(address sequencerInbox) external;
            function activeOutbox() external view returns (address);
        }
        #[sol(rpc)]
        interface IInboxAdmin {
            function initialize(address bridge, address sequencerInbox) external;
            function bridge() external view returns (address);
        }
        struct MaxTimeVariation { uint256 delayBlocks; uint256 futureBlocks; uint256 delaySeconds; uint256 futureSeconds; }
        struct BufferConfig { uint64 threshold; uint64 max; uint64 replenishRateInBasis; }
        #[sol(rpc)]
        interface ISequencerInboxAdmin {
            function initialize(address bridge, MaxTimeVariation maxTimeVariation, BufferConfig bufferConfig, address feeTokenPricer) external;
        }
        #[sol(rpc)]
        interface IOutbox {
            function initialize(address bridge) external;
            function updateSendRoot(bytes32 root, bytes32 l2BlockHash) external;
            function roots(bytes32 root) external view returns (bytes32);
            function isSpent(uint256 index) external view returns (bool);
            function executeTransaction(bytes32[] proof, uint256 index, address l2Sender, address to, uint256 l2Block, uint256 l1Block, uint256 l2Timestamp, uint256 value, bytes data) external;
        }
    }
}

/// Options of the local Arbitrum.
#[derive(Debug, Clone)]
pub struct ArbitrumOptions {
    /// How long a send root waits before it is posted to the Outbox (the challenge period).
    pub confirm_after: Duration,
}

impl Default for ArbitrumOptions {
    fn default() -> Self {
        Self {
            confirm_after: Duration::from_millis(500),
        }
    }
}

/// The rollup's L1 contracts (proxies).
#[derive(Debug, Clone, Copy)]
pub struct ArbitrumBridge {
    /// Bridge.
    pub bridge: Address,
    /// Inbox (retryables).
    pub inbox: Address,
    /// SequencerInbox.
    pub sequencer_inbox: Address,
    /// Outbox (send roots, L2 → L1 execution).
    pub outbox: Address,
}

/// What one [`LocalArbitrum::step`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    /// Retryables carried to the L2.
    pub retryables: usize,
    /// Of those, how many were redeemed automatically.
    pub auto_redeemed: usize,
    /// Send roots posted to the Outbox.
    pub roots_posted: usize,
}

#[derive(Debug)]
struct Snapshot {
    number: u64,
    size: u64,
    root: B256,
    block_hash: B256,
    taken: Instant,
}

#[derive(Debug, Default)]
struct LoopState {
    /// The next L1 block to read retryables from.
    next_l1_block: u64,
    /// Send-tree states seen on the L2, not posted yet (oldest first).
    snapshots: Vec<Snapshot>,
    /// The size of the last posted root.
    posted_size: u64,
    /// The last L1 block number told to ArbSys.
    told_l1_block: u64,
}

/// A local Arbitrum: the L2 anvil and the rollup's contracts on the L1 anvil.
#[derive(Debug)]
pub struct LocalArbitrum {
    /// The L2.
    pub l2: Anvil,
    /// The rollup's L1 contracts.
    pub bridge: ArbitrumBridge,
    options: ArbitrumOptions,
    state: Mutex<LoopState>,
}

/// Where nitro-contracts is installed: `$XROUTE_NITRO_CONTRACTS`, else the tool cache.
pub fn nitro_contracts_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("XROUTE_NITRO_CONTRACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            crate::tools::cache_dir().join("nitro/node_modules/@arbitrum/nitro-contracts")
        });
    let package = dir.join("package.json");
    let text = std::fs::read_to_string(&package).wrap_err_with(|| {
        format!(
            "@arbitrum/nitro-contracts not found at {} (set XROUTE_NITRO_CONTRACTS, or run \
             scripts/bootstrap to install it)",
            dir.display()
        )
    })?;
    let version = serde_json::from_str::<Value>(&text)?["version"].clone();
    ensure!(
        version == "3.2.0",
        "{} is nitro-contracts {version}, not 3.2.0 (run scripts/bootstrap)",
        package.display()
    );
    Ok(dir)
}

/// The creation bytecode of a nitro-contracts artifact (`relative` to the package).
fn nitro_bytecode(relative: &str) -> Result<Vec<u8>> {
    let path = nitro_contracts_dir()?.join(relative);
    let text =
        std::fs::read_to_string(&path).wrap_err_with(|| format!("reading {}", path.display()))?;
    let artifact: Value = serde_json::from_str(&text)?;
    let code = artifact["bytecode"]
        .as_str()
        .or_else(|| artifact["bytecode"]["object"].as_str())
        .ok_or_else(|| eyre!("{} has no bytecode", path.display()))?;
    Ok(hex::decode(code.trim_start_matches("0x"))?)
}

const BRIDGE: &str = "build/contracts/src/bridge/Bridge.sol/Bridge.json";
const INBOX: &str = "build/contracts/src/bridge/Inbox.sol/Inbox.json";
const SEQUENCER_INBOX: &str = "build/contracts/src/bridge/SequencerInbox.sol/SequencerInbox.json";
const OUTBOX: &str = "build/contracts/src/bridge/Outbox.sol/Outbox.json";
const PROXY: &str = "build/contracts/@openzeppelin/contracts/proxy/transparent/TransparentUpgradeableProxy.sol/TransparentUpgradeableProxy.json";
const READER_4844: &str = "out/yul/Reader4844.yul/Reader4844.json";

pub(crate) async fn deploy(provider: &DynProvider, code: Vec<u8>, what: &str) -> Result<Address> {
    let tx = TransactionRequest::default().with_deploy_code(Bytes::from(code));
    let receipt = provider
        .send_transaction(tx)
        .await
        .wrap_err_with(|| format!("deploying {what}"))?
        .get_receipt()
        .await?;
    ensure!(receipt.status(), "deploying {what} reverted");
    receipt
        .contract_address
        .ok_or_else(|| eyre!("deploying {what}: no contract address"))
}

/// Deploys `logic` (creation code + constructor args) behind a TransparentUpgradeableProxy whose
/// constructor calls `init` on it.
async fn deploy_proxied(
    provider: &DynProvider,
    admin: Address,
    logic: Vec<u8>,
    init: Vec<u8>,
    what: &str,
) -> Result<Address> {
    let logic = deploy(provider, logic, &format!("{what} logic")).await?;
    let mut code = nitro_bytecode(PROXY)?;
    code.extend((logic, admin, Bytes::from(init)).abi_encode_params());
    deploy(provider, code, &format!("{what} proxy")).await
}

async fn send(provider: &DynProvider, to: Address, data: Vec<u8>, what: &str) -> Result<()> {
    let tx = TransactionRequest::default()
        .to(to)
        .input(Bytes::from(data).into());
    let receipt = provider
        .send_transaction(tx)
        .await
        .wrap_err_with(|| what.to_string())?
        .get_receipt()
        .await?;
    ensure!(receipt.status(), "{what} reverted");
    Ok(())
}

impl LocalArbitrum {
    /// Deploys the real bridge on `l1` and starts the L2 anvil with the precompile stand-ins.
    pub async fn start(l1: &Anvil, options: ArbitrumOptions) -> Result<Self> {
        let rollup = l1.provider(ROLLUP_ACCOUNT)?;
        let rollup_address = l1.address(ROLLUP_ACCOUNT)?;
        let admin = l1.address(PROXY_ADMIN_ACCOUNT)?;
        use nitro::{IBridgeAdmin, IInboxAdmin, IOutbox, ISequencerInboxAdmin};
        let bridge = deploy_proxied(
            &rollup,
            admin,
            nitro_bytecode(BRIDGE)?,
            IBridgeAdmin::initializeCall {
                rollup: rollup_address,
            }
            .abi_encode(),
            "Bridge",
        )
        .await?;
        let reader = deploy(&rollup, nitro_bytecode(READER_4844)?, "Reader4844").await?;
        let mut si_logic = nitro_bytecode(SEQUENCER_INBOX)?;
        si_logic.extend((U256::from(MAX_DATA_SIZE), reader, false, false).abi_encode_params());
        let sequencer_inbox = deploy_proxied(
            &rollup,
            admin,
            si_logic,
            ISequencerInboxAdmin::initializeCall {
                bridge,
                maxTimeVariation: nitro::MaxTimeVariation {
                    delayBlocks: U256::from(5760),
                    futureBlocks: U256::from(64),
                    delaySeconds: U256::from(86400),
                    futureSeconds: U256::from(3600),
                },
                bufferConfig: nitro::BufferConfig {
                    threshold: 0,
                    max: 0,
                    replenishRateInBasis: 0,
                },
                feeTokenPricer: Address::ZERO,
            }
            .abi_encode(),
            "SequencerInbox",
        )
        .await?;
        let mut inbox_logic = nitro_bytecode(INBOX)?;
        inbox_logic.extend(U256::from(MAX_DATA_SIZE).abi_encode());
        let inbox = deploy_proxied(
            &rollup,
            admin,
            inbox_logic,
            IInboxAdmin::initializeCall {
                bridge,
                sequencerInbox: sequencer_inbox,
            }
            .abi_encode(),
            "Inbox",
        )
        .await?;
        let outbox = deploy_proxied(
            &rollup,
            admin,
            nitro_bytecode(OUTBOX)?,
            IOutbox::initializeCall { bridge }.abi_encode(),
            "Outbox",
        )
        .await?;
        send(
            &rollup,
            bridge,
            IBridgeAdmin::setDelayedInboxCall {
                inbox,
                enabled: true,
            }
            .abi_encode(),
            "Bridge.setDelayedInbox",
        )
        .await?;
        send(
            &rollup,
            bridge,
            IBridgeAdmin::setOutboxCall {
                outbox,
                enabled: true,
            }
            .abi_encode(),
            "Bridge.setOutbox",
        )
        .await?;
        send(
            &rollup,
            bridge,
            IBridgeAdmin::setSequencerInboxCall {
                sequencerInbox: sequencer_inbox,
            }
            .abi_encode(),
            "Bridge.setSequencerInbox",
        )
        .await?;

        let l2 = Anvil::start_with(AnvilOptions {
            chain_id: Some(L2_CHAIN_ID),
            ..AnvilOptions::default()
        })
        .await?;
        let me = Self {
            l2,
            bridge: ArbitrumBridge {
                bridge,
                inbox,
                sequencer_inbox,
                outbox,
            },
            options,
            state: Mutex::new(LoopState {
                next_l1_block: l1.block_number().await?,
                ..LoopState::default()
            }),
        };
        me.etch(ARB_SYS, &LocalArbSys::DEPLOYED_BYTECODE).await?;
        me.etch(NODE_INTERFACE, &LocalNodeInterface::DEPLOYED_BYTECODE)
            .await?;
        me.etch(ARB_RETRYABLE_TX, &LocalArbRetryableTx::DEPLOYED_BYTECODE)
            .await?;
        me.l2_rpc("anvil_impersonateAccount", json!([ARBOS]))
            .await?;
        me.l2_rpc(
            "anvil_setBalance",
            json!([
                ARBOS,
                format!("{:#x}", U256::from(10u64).pow(U256::from(24)))
            ]),
        )
        .await?;
        Ok(me)
    }

    async fn l2_rpc(&self, method: &str, params: Value) -> Result<Value> {
        rpc::call(&reqwest::Client::new(), self.l2.endpoint(), method, params).await
    }

    async fn etch(&self, at: Address, code: &Bytes) -> Result<()> {
        self.l2_rpc("anvil_setCode", json!([at, code])).await?;
        Ok(())
    }

    /// A provider on the L2 without a wallet (reads; ArbOS's impersonated transactions).
    fn l2_reader(&self) -> Result<DynProvider> {
        Ok(ProviderBuilder::new()
            .connect_http(self.l2.endpoint().parse()?)
            .erased())
    }

    async fn balance(&self, who: Address) -> Result<U256> {
        Ok(self.l2_reader()?.get_balance(who).await?)
    }

    async fn set_balance(&self, who: Address, value: U256) -> Result<()> {
        self.l2_rpc("anvil_setBalance", json!([who, format!("{value:#x}")]))
            .await?;
        Ok(())
    }

    /// A transaction from ArbOS on the L2 (impersonated), waited for.
    async fn arbos(&self, to: Address, data: Vec<u8>, gas: u64, what: &str) -> Result<bool> {
        let tx = TransactionRequest::default()
            .from(ARBOS)
            .to(to)
            .gas_limit(gas)
            .input(Bytes::from(data).into());
        let receipt = self
            .l2_reader()?
            .send_transaction(tx)
            .await
            .wrap_err_with(|| format!("ArbOS: {what}"))?
            .get_receipt()
            .await?;
        Ok(receipt.status())
    }

    /// One round of the sequencer and validator: carries the retryables the Bridge recorded since
    /// the last round to the L2, records the L2's send-tree state, and posts to the Outbox the
    /// newest state older than `confirm_after`.
    pub async fn step(&self, l1: &Anvil) -> Result<StepReport> {
        let mut state = self.state.lock().await;
        let mut report = StepReport::default();
        let head = l1.block_number().await?;
        if head >= state.next_l1_block {
            report.retryables = self
                .carry_retryables(l1, state.next_l1_block, head, &mut report)
                .await?;
            state.next_l1_block = head + 1;
        }
        if head != state.told_l1_block {
            let ok = self
                .arbos(
                    ARB_SYS,
                    LocalArbSys::setL1BlockNumberCall {
                        number: U256::from(head),
                    }
                    .abi_encode(),
                    100_000,
                    "ArbSys.setL1BlockNumber",
                )
                .await?;
            ensure!(ok, "ArbSys.setL1BlockNumber reverted");
            state.told_l1_block = head;
        }
        self.snapshot(&mut state).await?;
        report.roots_posted = self.post_roots(l1, &mut state).await?;
        Ok(report)
    }

    async fn carry_retryables(
        &self,
        l1: &Anvil,
        from: u64,
        to: u64,
        report: &mut StepReport,
    ) -> Result<usize> {
        let mut carried = 0;
        for ticket in self.tickets_in(l1, from, to).await? {
            if self.create_ticket(&ticket).await? {
                report.auto_redeemed += 1;
            }
            carried += 1;
        }
        Ok(carried)
    }

    /// The retryable tickets the rollup's Inbox took in L1 blocks `from..=to`, as ArbOS reads
    /// them from the Bridge's `MessageDelivered` and the Inbox's `InboxMessageDelivered`.
    pub async fn tickets_in(&self, l1: &Anvil, from: u64, to: u64) -> Result<Vec<RetryableTicket>> {
        let reader = ProviderBuilder::new()
            .connect_http(l1.endpoint().parse()?)
            .erased();
        let delivered = reader
            .get_logs(
                &Filter::new()
                    .address(self.bridge.bridge)
                    .event_signature(ArbBridgeContracts::MessageDelivered::SIGNATURE_HASH)
                    .from_block(from)
                    .to_block(to),
            )
            .await?;
        let messages = reader
            .get_logs(
                &Filter::new()
                    .address(self.bridge.inbox)
                    .event_signature(ArbBridgeContracts::InboxMessageDelivered::SIGNATURE_HASH)
                    .from_block(from)
                    .to_block(to),
            )
            .await?;
        let mut tickets = Vec::new();
        for log in delivered {
            let d = ArbBridgeContracts::MessageDelivered::decode_log(&log.inner)?.data;
            if d.kind != KIND_SUBMIT_RETRYABLE || d.inbox != self.bridge.inbox {
                continue;
            }
            let number = d.messageIndex;
            let message = messages
                .iter()
                .filter_map(|l| {
                    ArbBridgeContracts::InboxMessageDelivered::decode_log(&l.inner).ok()
                })
                .find(|m| m.data.messageNum == number)
                .ok_or_else(|| eyre!("no InboxMessageDelivered({number}) for a retryable"))?;
            tickets.push(RetryableTicket::from_inbox_message(
                L2_CHAIN_ID,
                number,
                d.sender,
                d.baseFeeL1,
                &message.data.data,
            )?);
        }
        Ok(tickets)
    }

    /// ArbOS's handling of one retryable (nitro `arbos/tx_processor.go`, simplified where the
    /// Fidelity note says): the deposit is minted to the aliased sender, the submission fee
    /// charged, the ticket made (lifetime 7 days), and the automatic redeem run unless the
    /// sender's funds do not cover `gasLimit · maxFeePerGas`, `gasLimit < 21000`, or the fee cap is
    /// below the L2 base fee. Returns whether the automatic redeem ran.
    async fn create_ticket(&self, t: &RetryableTicket) -> Result<bool> {
        let reader = self.l2_reader()?;
        if reader.get_code_at(t.from).await?.is_empty() {
            self.etch(t.from, &LocalAliasForwarder::DEPLOYED_BYTECODE)
                .await?;
        }
        let fee = submission_fee(t.data.len(), t.l1_base_fee);
        let balance = self.balance(t.from).await? + t.deposit;
        let balance = balance.saturating_sub(fee);
        self.set_balance(t.from, balance).await?;
        let base_fee = reader
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .and_then(|b| b.header.base_fee_per_gas)
            .unwrap_or(0);
        let gas_cost = U256::from(t.gas_limit) * t.max_fee_per_gas;
        let auto = balance >= gas_cost
            && t.gas_limit >= 21_000
            && t.max_fee_per_gas >= U256::from(base_fee);
        let auto_gas = if auto { t.gas_limit } else { 0 };
        let call = LocalArbRetryableTx::createTicketCall {
            ticketId: t.id(),
            from: t.from,
            to: t.to,
            callvalue: t.l2_call_value,
            beneficiary: t.call_value_refund_address,
            data: t.data.clone(),
            autoRedeemGas: auto_gas,
        };
        let ok = self
            .arbos(
                ARB_RETRYABLE_TX,
                call.abi_encode(),
                TICKET_GAS
                    + TICKET_GAS_PER_WORD * (t.data.len() as u64).div_ceil(32)
                    + auto_gas
                    + auto_gas / 32,
                "ArbRetryableTx.createTicket",
            )
            .await?;
        if !ok {
            bail!("ArbOS's createTicket({}) reverted", t.id());
        }
        Ok(auto)
    }

    /// Records the L2's send-tree state at its latest block if it grew.
    async fn snapshot(&self, state: &mut LoopState) -> Result<()> {
        let reader = self.l2_reader()?;
        let block = reader
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| eyre!("the L2 has no latest block"))?;
        let number = block.header.number;
        let answer =
            reader
                .call(TransactionRequest::default().to(ARB_SYS).input(
                    Bytes::from(LocalArbSys::sendMerkleTreeStateCall {}.abi_encode()).into(),
                ))
                .block(number.into())
                .await?;
        let tree = LocalArbSys::sendMerkleTreeStateCall::abi_decode_returns(&answer)?;
        let size = u64::try_from(tree.size)?;
        // A state of a branch the L2 left (a reorg) is never posted: the validator asserts the
        // chain as it is.
        let mut kept = Vec::with_capacity(state.snapshots.len());
        for s in std::mem::take(&mut state.snapshots) {
            let now = reader.get_block_by_number(s.number.into()).await?;
            if now.is_some_and(|b| b.header.hash == s.block_hash) {
                kept.push(s);
            }
        }
        state.snapshots = kept;
        let last = state
            .snapshots
            .last()
            .map(|s| s.size)
            .unwrap_or(state.posted_size);
        if size > last {
            state.snapshots.push(Snapshot {
                number,
                size,
                root: tree.root,
                block_hash: block.header.hash,
                taken: Instant::now(),
            });
        }
        Ok(())
    }

    /// Posts the newest state older than the challenge delay (`Outbox.updateSendRoot`).
    async fn post_roots(&self, l1: &Anvil, state: &mut LoopState) -> Result<usize> {
        let ripe = state
            .snapshots
            .iter()
            .rposition(|s| s.taken.elapsed() >= self.options.confirm_after);
        let Some(i) = ripe else {
            return Ok(0);
        };
        let snapshot = &state.snapshots[i];
        send(
            &l1.provider(ROLLUP_ACCOUNT)?,
            self.bridge.outbox,
            nitro::IOutbox::updateSendRootCall {
                root: snapshot.root,
                l2BlockHash: snapshot.block_hash,
            }
            .abi_encode(),
            "Outbox.updateSendRoot",
        )
        .await?;
        state.posted_size = snapshot.size;
        state.snapshots.drain(..=i);
        Ok(1)
    }

    /// The Outbox's bindings on `l1` (tests read `isSpent`, `roots` and try `executeTransaction`).
    pub fn outbox(&self, provider: &DynProvider) -> nitro::IOutbox::IOutboxInstance<DynProvider> {
        nitro::IOutbox::new(self.bridge.outbox, provider.clone())
    }
}

pub use nitro::IOutbox;
