//! The local network of DESIGN.md: one anvil as Ethereum L1, any number of starknet-devnets, each
//! wired to the anvil by its own postman with its own messaging contract, and optionally the local
//! Arbitrum ([`LocalArbitrum`]: the real nitro bridge on the anvil, a second anvil as the L2).

use std::sync::{
    Mutex,
    atomic::{AtomicBool, Ordering},
};

use alloy::primitives::{Address, Bytes, U256};
use eyre::{Result, WrapErr};

use crate::{
    anvil::{Anvil, AnvilOptions},
    arbitrum::{ArbitrumOptions, LocalArbitrum, StepReport},
    devnet::{DevnetOptions, FlushReport, StarknetDevnet},
};

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
        let l1 = Anvil::start_with(AnvilOptions::default()).await?;
        let arbitrum = match arbitrum {
            Some(options) => Some(
                LocalArbitrum::start(&l1, options)
                    .await
                    .wrap_err("starting the local Arbitrum")?,
            ),
            None => None,
        };
        let mut starknets = Vec::with_capacity(devnets);
        for i in 0..devnets {
            // Devnet 0 keeps Starknet's chain id; each appchain gets its own.
            let chain_id = (i > 0).then(|| format!("XROUTE_APPCHAIN_{i}"));
            let devnet = StarknetDevnet::start_with(DevnetOptions {
                seed: i as u32,
                chain_id,
                accounts,
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

    /// Plays one state update of devnet `index` in both directions (`devnet_postmanFlush`).
    ///
    /// devnet 0.10.1's postman asks L1 for logs from the block after the last one it read up to
    /// the latest, and fails (`BlockOutOfRangeError`) when L1 has no new block since its last
    /// flush; mining one empty L1 block first makes every flush valid.
    pub async fn flush(&self, index: usize) -> Result<FlushReport> {
        let chain = self.starknets.get(index).ok_or_else(|| {
            eyre::eyre!(
                "the local network has {} devnets, not {}",
                self.starknets.len(),
                index + 1
            )
        })?;
        if self.interval_mining.load(Ordering::SeqCst) {
            // The L1 makes its own blocks: flush only once it made one since the last flush
            // (also the last flush before the switch to interval mining, which mined its own).
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
        let report = match chain.devnet.flush().await {
            Ok(report) => report,
            // No L1 block since devnet last read (a block number raced the interval): the same
            // flush is valid once the next block is there.
            Err(e) if format!("{e:#}").contains("BlockOutOfRangeError") => {
                return Ok(FlushReport::default());
            }
            Err(e) => return Err(e),
        };
        // devnet read L1 up to the head when the flush began, and the postman's own L1
        // transactions may have moved it on since: the block after the flush is a safe mark (at
        // worst a flush waits one block longer).
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
