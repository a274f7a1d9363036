//! A real anvil (Foundry) on a free port on 127.0.0.1.

use std::time::Duration;

use alloy::{
    network::EthereumWallet,
    primitives::Address,
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use eyre::{Result, WrapErr, eyre};
use serde_json::{Value, json};

use crate::{process::ManagedProcess, rpc, tools};

/// How long anvil may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often to try a new port when the one picked was taken in between.
const PORT_ATTEMPTS: usize = 3;

/// Options for [`Anvil::start_with`].
#[derive(Debug, Clone, Default)]
pub struct AnvilOptions {
    /// Chain id (anvil's default 31337 when `None`).
    pub chain_id: Option<u64>,
    /// Seconds between blocks; `None` mines one block per transaction.
    pub block_time: Option<u64>,
}

/// A running anvil. Killed on drop.
#[derive(Debug)]
pub struct Anvil {
    process: ManagedProcess,
    endpoint: String,
    chain_id: u64,
    keys: Vec<PrivateKeySigner>,
}

impl Anvil {
    /// Starts anvil with its defaults (chain id 31337, one block per transaction).
    pub async fn start() -> Result<Self> {
        Self::start_with(AnvilOptions::default()).await
    }

    /// Starts anvil with `options`.
    pub async fn start_with(options: AnvilOptions) -> Result<Self> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match Self::try_start(&options).await {
                Ok(anvil) => return Ok(anvil),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| eyre!("anvil did not start")))
    }

    async fn try_start(options: &AnvilOptions) -> Result<Self> {
        let port = crate::process::free_port()?;
        let config_out = std::env::temp_dir().join(format!("xroute-kit/anvil-{port}.json"));
        let mut args = vec![
            "--host".to_string(),
            "127.0.0.1".to_string(),
            "--port".to_string(),
            port.to_string(),
            "--config-out".to_string(),
            config_out.display().to_string(),
            // The last 1,024 states in memory and none on disk: anvil otherwise writes older
            // states under ~/.foundry/anvil/tmp and leaves them there when it is killed (a test
            // that mines 50,000 blocks wrote tens of GiB). Nothing here reads state older than
            // that.
            "--prune-history".to_string(),
            "1024".to_string(),
        ];
        if let Some(chain_id) = options.chain_id {
            args.extend(["--chain-id".to_string(), chain_id.to_string()]);
        }
        if let Some(block_time) = options.block_time {
            args.extend(["--block-time".to_string(), block_time.to_string()]);
        }
        let mut process = ManagedProcess::spawn("anvil", &tools::anvil()?, &args)?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        process
            .wait_ready(READY_TIMEOUT, || {
                let client = client.clone();
                let endpoint = endpoint.clone();
                async move {
                    rpc::call(&client, &endpoint, "eth_chainId", Value::Array(vec![]))
                        .await
                        .is_ok()
                }
            })
            .await?;
        let chain_id = rpc::call(&client, &endpoint, "eth_chainId", Value::Array(vec![])).await?;
        let chain_id = u64::from_str_radix(
            chain_id
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("0x"),
            16,
        )
        .wrap_err_with(|| format!("anvil answered eth_chainId with {chain_id}"))?;
        let keys = read_keys(&config_out)?;
        let _ = std::fs::remove_file(&config_out);
        Ok(Self {
            process,
            endpoint,
            chain_id,
            keys,
        })
    }

    /// The HTTP JSON-RPC endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The funded dev account `index` (anvil's mnemonic accounts; 10 of them).
    pub fn signer(&self, index: usize) -> Result<PrivateKeySigner> {
        self.keys.get(index).cloned().ok_or_else(|| {
            eyre!(
                "anvil has {} dev accounts, not {}",
                self.keys.len(),
                index + 1
            )
        })
    }

    /// The address of dev account `index`.
    pub fn address(&self, index: usize) -> Result<Address> {
        Ok(self.signer(index)?.address())
    }

    /// A provider that signs with dev account `index`.
    ///
    /// It asks the node for the pending nonce before every transaction. alloy's default filler
    /// caches nonces and prepares gas and nonce concurrently, so a transaction whose gas
    /// estimation fails (an expected revert in a test) still consumes a cached nonce, and the next
    /// transaction then waits forever behind the gap. Send from one account sequentially.
    pub fn provider(&self, index: usize) -> Result<DynProvider> {
        let url = self
            .endpoint
            .parse()
            .wrap_err("anvil endpoint is not a URL")?;
        let wallet = EthereumWallet::from(self.signer(index)?);
        Ok(ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(wallet)
            .connect_http(url)
            .erased())
    }

    /// Moves the chain's clock `seconds` ahead and mines a block with it (rate-limit windows).
    pub async fn advance_time(&self, seconds: u64) -> Result<()> {
        rpc::call(
            &reqwest::Client::new(),
            &self.endpoint,
            "evm_increaseTime",
            json!([seconds]),
        )
        .await?;
        self.mine().await
    }

    /// Makes the next block's base fee `wei` and mines it (the block after follows EIP-1559
    /// from there).
    pub async fn set_base_fee(&self, wei: u128) -> Result<()> {
        rpc::call(
            &reqwest::Client::new(),
            &self.endpoint,
            "anvil_setNextBlockBaseFeePerGas",
            json!([format!("{wei:#x}")]),
        )
        .await?;
        self.mine().await
    }

    /// Mines `n` empty blocks at once.
    pub async fn mine_blocks(&self, n: u64) -> Result<()> {
        rpc::call(
            &reqwest::Client::new(),
            &self.endpoint,
            "anvil_mine",
            json!([format!("{n:#x}")]),
        )
        .await?;
        Ok(())
    }

    /// Mines one (empty) block.
    pub async fn mine(&self) -> Result<()> {
        rpc::call(
            &reqwest::Client::new(),
            &self.endpoint,
            "evm_mine",
            Value::Array(vec![]),
        )
        .await?;
        Ok(())
    }

    /// `evm_setAutomine`: with `false`, transactions wait in the pool until [`Anvil::mine`].
    pub async fn set_automine(&self, on: bool) -> Result<()> {
        rpc::call(
            &reqwest::Client::new(),
            &self.endpoint,
            "evm_setAutomine",
            json!([on]),
        )
        .await?;
        Ok(())
    }

    /// Stops mining a block per transaction and mines one every `seconds` instead, as a real
    /// L1 does: transactions then wait in the pool for the next block.
    pub async fn set_block_time(&self, seconds: u64) -> Result<()> {
        let client = reqwest::Client::new();
        rpc::call(&client, &self.endpoint, "evm_setAutomine", json!([false])).await?;
        rpc::call(
            &client,
            &self.endpoint,
            "evm_setIntervalMining",
            json!([seconds]),
        )
        .await?;
        Ok(())
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        let n = rpc::call(
            &reqwest::Client::new(),
            &self.endpoint,
            "eth_blockNumber",
            json!([]),
        )
        .await?;
        let hex = n.as_str().ok_or_else(|| eyre!("eth_blockNumber: {n}"))?;
        Ok(u64::from_str_radix(hex.trim_start_matches("0x"), 16)?)
    }

    /// The process id (for tests that kill or inspect it).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The tail of anvil's log.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}

fn read_keys(config_out: &std::path::Path) -> Result<Vec<PrivateKeySigner>> {
    let text = std::fs::read_to_string(config_out)
        .wrap_err_with(|| format!("reading anvil's --config-out {}", config_out.display()))?;
    let config: Value = serde_json::from_str(&text)?;
    config["private_keys"]
        .as_array()
        .ok_or_else(|| eyre!("anvil's --config-out has no private_keys"))?
        .iter()
        .map(|key| {
            key.as_str()
                .unwrap_or_default()
                .parse::<PrivateKeySigner>()
                .wrap_err("anvil's --config-out holds a key that does not parse")
        })
        .collect()
}
