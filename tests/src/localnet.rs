//! The local network of DESIGN.md: one anvil as Ethereum L1, any number of starknet-devnets, each
//! with its own messaging contract on the anvil (devnet's `MockStarknetMessaging`, loaded by its
//! postman), and optionally the local Arbitrum ([`LocalArbitrum`]: the real nitro bridge on the
//! anvil, a second anvil as the L2).
//!
//! A devnet's state update ([`LocalNet::flush`]) is played by the kit, as on the real chain: every
//! L2 → L1 message since the last update is made consumable on L1 in **one** transaction
//! (`LocalStateUpdate`, so one L1 block's checkpoint holds them all), and every L1 → L2 message the
//! messaging contract logged since becomes an L1-handler transaction on the devnet
//! (`devnet_postmanSendMessageToL2`). devnet's own `postmanFlush` sends one L1 transaction per
//! message, so it is not used.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, Ordering},
};

use alloy::primitives::{Address, Bytes, U256};
use eyre::{Result, WrapErr};

use crate::{
    anvil::{Anvil, AnvilOptions},
    arbitrum::{ArbitrumOptions, LocalArbitrum, StepReport},
    artifacts::evm::LocalStateUpdate,
    devnet::{DevnetOptions, FlushReport, StarknetDevnet},
};

/// Where the kit etches `LocalStateUpdate` on the L1 anvil (stateless: no deployment needed).
pub const STATE_UPDATE: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05, 0x7a, 0x7e,
]);

/// The most L2 → L1 messages one state update transaction carries (an update with more is split
/// into several, so that one stays well inside the L1 block gas limit).
const MESSAGES_PER_UPDATE: usize = 150;

alloy::sol! {
    /// Starknet's messaging contract's event for an L1 → L2 message.
    event LogMessageToL2(address indexed fromAddress, uint256 indexed toAddress, uint256 indexed selector, uint256[] payload, uint256 nonce, uint256 fee);
}

/// How far the state updates of one devnet went.
#[derive(Debug, Default, Clone, Copy)]
struct Updated {
    /// The next L2 block whose L2 → L1 messages to post.
    next_l2_block: u64,
    /// The next L1 block whose L1 → L2 messages to carry.
    next_l1_block: u64,
}

/// The anvil dev account the test kit itself sends L1 transactions from.
pub const L1_KIT_ACCOUNT: usize = 0;

/// A devnet and the L1 messaging contract its postman plays state updates against.
#[derive(Debug)]
pub struct StarknetChain {
    /// The devnet.
    pub devnet: StarknetDevnet,
    /// Its `MockStarknetMessaging` on the anvil.
    pub messaging: Address,
    /// The anvil account its postman sends from.
    pub postman_account: usize,
}

/// Anvil plus Starknet devnets, messaging-connected. Everything is killed on drop.
#[derive(Debug)]
pub struct LocalNet {
    /// Ethereum L1.
    pub l1: Anvil,
    /// Starknet-family chains, in start order (index 0 is Starknet, later ones appchains).
    pub starknets: Vec<StarknetChain>,
    /// The local Arbitrum, when started.
    pub arbitrum: Option<LocalArbitrum>,
    /// Set by [`LocalNet::set_l1_block_time`]: flushes no longer mine L1 blocks.
    interval_mining: AtomicBool,
    /// Per devnet, the L1 block its last flush saw (with interval mining).
    flushed_at: Mutex<Vec<Option<u64>>>,
    /// Per devnet, how far its state updates went (held through an update: one at a time).
    updated: tokio::sync::Mutex<Vec<Updated>>,
}

impl LocalNet {
    /// Starts anvil and `devnets` starknet-devnets and runs `devnet_postmanLoad` for each.
    ///
    /// Each devnet's postman sends its L1 transactions from its own anvil account (9, 8, …), so
    /// flushes of different devnets never race on one nonce, and the kit's own account
    /// ([`L1_KIT_ACCOUNT`]) stays free for tests.
    pub async fn start(devnets: usize) -> Result<Self> {
        Self::start_with(devnets, None).await
    }

    /// Starts anvil, `devnets` devnets and, with `arbitrum`, the local Arbitrum.
    pub async fn start_with(devnets: usize, arbitrum: Option<ArbitrumOptions>) -> Result<Self> {
        Self::start_with_accounts(devnets, arbitrum, DevnetOptions::default().accounts).await
    }

    /// Like [`LocalNet::start_with`], with `accounts` predeployed accounts on every devnet.
    pub async fn start_with_accounts(
        devnets: usize,
        arbitrum: Option<ArbitrumOptions>,
        accounts: u32,
    ) -> Result<Self> {
        let devnet = DevnetOptions {
            accounts,
            ..DevnetOptions::default()
        };
        Self::start_with_devnets(devnets, arbitrum, devnet).await
    }

    /// Like [`LocalNet::start_with`], every devnet started with `devnet`'s options (each with its
    /// own seed and chain id).
    pub async fn start_with_devnets(
        devnets: usize,
        arbitrum: Option<ArbitrumOptions>,
        devnet: DevnetOptions,
    ) -> Result<Self> {
        let l1 = Anvil::start_with(AnvilOptions::default()).await?;
        let arbitrum = match arbitrum {
            Some(options) => Some(
                LocalArbitrum::start(&l1, options)
                    .await
                    .wrap_err("starting the local Arbitrum")?,
            ),
            None => None,
        };
        crate::rpc::call(
            &reqwest::Client::new(),
            l1.endpoint(),
            "anvil_setCode",
            serde_json::json!([STATE_UPDATE, LocalStateUpdate::DEPLOYED_BYTECODE]),
        )
        .await
        .wrap_err("etching LocalStateUpdate on the L1")?;
        let mut starknets = Vec::with_capacity(devnets);
        for i in 0..devnets {
            // Devnet 0 keeps Starknet's chain id; each appchain gets its own.
            let chain_id = (i > 0).then(|| format!("XROUTE_APPCHAIN_{i}"));
            let devnet = StarknetDevnet::start_with(DevnetOptions {
                seed: i as u32,
                chain_id,
                ..devnet.clone()
            })
            .await?;
            let postman_account = 9 - i;
            let key = format!("{:#x}", l1.signer(postman_account)?.to_bytes());
            let messaging = devnet
                .postman_load(l1.endpoint(), Some(&key))
                .await
                .wrap_err_with(|| format!("postmanLoad for devnet {i}"))?;
            starknets.push(StarknetChain {
                devnet,
                messaging,
                postman_account,
            });
        }
        Ok(Self {
            flushed_at: Mutex::new(vec![None; starknets.len()]),
            updated: tokio::sync::Mutex::new(vec![Updated::default(); starknets.len()]),
            l1,
            starknets,
            arbitrum,
            interval_mining: AtomicBool::new(false),
        })
    }

    /// The local Arbitrum, or an error saying the network was started without it.
    pub fn arbitrum(&self) -> Result<&LocalArbitrum> {
        self.arbitrum
            .as_ref()
            .ok_or_else(|| eyre::eyre!("the local network was started without Arbitrum"))
    }

    /// One round of the local Arbitrum's sequencer and validator (nothing without Arbitrum).
    pub async fn step_arbitrum(&self) -> Result<StepReport> {
        match &self.arbitrum {
            Some(arb) => arb.step(&self.l1).await,
            None => Ok(StepReport::default()),
        }
    }

    /// Sends a call of `to` with `data` and `value` on L1 from the kit's account
    /// ([`L1_KIT_ACCOUNT`], 3,000,000 gas, no estimate: a call that reverts is mined as reverted);
    /// whether it succeeded.
    pub async fn send_l1(&self, to: Address, data: Bytes, value: U256) -> Result<bool> {
        use alloy::providers::Provider;
        let tx = alloy::rpc::types::TransactionRequest::default()
            .to(to)
            .input(data.into())
            .value(value)
            .gas_limit(3_000_000);
        Ok(self
            .l1
            .provider(L1_KIT_ACCOUNT)?
            .send_transaction(tx)
            .await?
            .get_receipt()
            .await?
            .status())
    }

    /// The first devnet (Starknet).
    pub fn starknet(&self) -> &StarknetChain {
        &self.starknets[0]
    }

    /// Plays one state update of devnet `index` in both directions (see the module doc): the
    /// L2 → L1 messages of every devnet block since the last update in one L1 transaction, then
    /// the L1 → L2 messages logged on L1 since. Without interval mining, an empty L1 block is mined
    /// first, so that every update moves L1 on (routers waiting for L1 confirmations see it).
    pub async fn flush(&self, index: usize) -> Result<FlushReport> {
        let chain = self.starknets.get(index).ok_or_else(|| {
            eyre::eyre!(
                "the local network has {} devnets, not {}",
                self.starknets.len(),
                index + 1
            )
        })?;
        let mut updated = self.updated.lock().await;
        if self.interval_mining.load(Ordering::SeqCst) {
            // The L1 makes its own blocks: update only once it made one since the last update.
            let block = self.l1.block_number().await?;
            let last = self
                .flushed_at
                .lock()
                .map_err(|_| eyre::eyre!("poisoned"))?[index];
            if last.is_some_and(|b| b >= block) {
                return Ok(FlushReport::default());
            }
        } else {
            self.l1.mine().await?;
        }
        let mut report = FlushReport::default();
        // L2 → L1: one transaction for the whole update.
        let (messages, next_l2_block) = chain
            .devnet
            .messages_to_l1(updated[index].next_l2_block)
            .await
            .wrap_err_with(|| format!("reading devnet {index}'s L2 → L1 messages"))?;
        let l1 = self.l1.provider(chain.postman_account)?;
        let update = LocalStateUpdate::new(STATE_UPDATE, &l1);
        for part in messages.chunks(MESSAGES_PER_UPDATE) {
            let word = |f: &starknet_rust::core::types::Felt| U256::from_be_bytes(f.to_bytes_be());
            let receipt = update
                .update(
                    chain.messaging,
                    part.iter().map(|m| word(&m.from_address)).collect(),
                    part.iter()
                        .map(|m| U256::from_be_slice(m.to_address.as_slice()))
                        .collect(),
                    part.iter()
                        .map(|m| m.payload.iter().map(word).collect())
                        .collect(),
                )
                .gas(25_000_000)
                .send()
                .await
                .wrap_err("sending the state update")?
                .get_receipt()
                .await?;
            if !receipt.status() {
                eyre::bail!(
                    "devnet {index}'s state update of {} messages reverted on L1 ({})",
                    part.len(),
                    receipt.transaction_hash
                );
            }
        }
        updated[index].next_l2_block = next_l2_block;
        report.messages_to_l1 = messages;
        // L1 → L2: what the messaging contract logged since the last update.
        let head = self.l1.block_number().await?;
        if updated[index].next_l1_block <= head {
            use alloy::{providers::Provider, sol_types::SolEvent};
            let filter = alloy::rpc::types::Filter::new()
                .address(chain.messaging)
                .event_signature(LogMessageToL2::SIGNATURE_HASH)
                .from_block(updated[index].next_l1_block)
                .to_block(head);
            for log in l1.get_logs(&filter).await? {
                let event = LogMessageToL2::decode_log(&log.inner)
                    .wrap_err("a LogMessageToL2 log that does not decode")?;
                let hex = |v: U256| format!("{v:#x}");
                let message = serde_json::json!({
                    "l2_contract_address": hex(event.toAddress),
                    "entry_point_selector": hex(event.selector),
                    "l1_contract_address": format!("{:#x}", event.fromAddress),
                    "payload": event.payload.iter().map(|w| hex(*w)).collect::<Vec<_>>(),
                    "paid_fee_on_l1": hex(event.fee),
                    "nonce": hex(event.nonce),
                    "l1_transaction_hash": log.transaction_hash.map(|h| format!("{h:#x}")),
                });
                let tx = chain
                    .devnet
                    .send_message_to_l2(&message)
                    .await
                    .wrap_err_with(|| format!("carrying {message} to devnet {index}"))?;
                report.generated_l2_transactions.push(tx);
                report.messages_to_l2.push(message);
            }
            updated[index].next_l1_block = head + 1;
        }
        // The block after the update is a safe mark (at worst an update waits one block longer).
        let after = self.l1.block_number().await?;
        self.flushed_at
            .lock()
            .map_err(|_| eyre::eyre!("poisoned"))?[index] = Some(after);
        Ok(report)
    }

    /// Gives the L1 a block time of `seconds` (no block per transaction any more), as on a real
    /// network: relay transactions then wait in the pool, and flushes stop mining blocks.
    pub async fn set_l1_block_time(&self, seconds: u64) -> Result<()> {
        self.interval_mining.store(true, Ordering::SeqCst);
        self.l1.set_block_time(seconds).await
    }
}
