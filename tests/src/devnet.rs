//! A real starknet-devnet on a free port on 127.0.0.1, with helpers to declare, deploy, invoke and
//! call contracts through its predeployed accounts, and to drive its postman (L1 ⇄ L2 messaging).

use std::{sync::Arc, time::Duration};

use alloy::primitives::Address;
use eyre::{Result, WrapErr, bail, eyre};
use serde::Deserialize;
use serde_json::{Value, json};
use starknet_rust::{
    accounts::{Account, ExecutionEncoding, SingleOwnerAccount},
    contract::{ContractFactory, UdcSelector},
    core::{
        types::{
            BlockId, BlockTag, Call, ExecutionResult, Felt, FunctionCall, StarknetError,
            TransactionReceiptWithBlockInfo,
        },
        utils::get_selector_from_name,
    },
    providers::{JsonRpcClient, Provider, ProviderError, Url, jsonrpc::HttpTransport},
    signers::{LocalWallet, SigningKey},
};

use crate::{artifacts::StarknetArtifact, process::ManagedProcess, rpc, tools};

/// How long devnet may take to answer `/is_alive`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a transaction may take to get a receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// How often to try a new port when the one picked was taken in between.
const PORT_ATTEMPTS: usize = 3;

/// An account controlled by one of devnet's predeployed keys.
pub type DevnetAccount = SingleOwnerAccount<JsonRpcClient<HttpTransport>, LocalWallet>;

/// Options for [`StarknetDevnet::start_with`].
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    /// `--seed`: makes the predeployed accounts deterministic.
    pub seed: u32,
    /// `--chain-id` (devnet's default, SN_SEPOLIA, when `None`).
    pub chain_id: Option<String>,
    /// `--accounts`: how many predeployed accounts.
    pub accounts: u32,
    /// `--state-archive-capacity full`: every block's state kept (what `devnet_abortBlocks`
    /// needs).
    pub state_archive: bool,
}

impl Default for DevnetOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            chain_id: None,
            accounts: 4,
            state_archive: false,
        }
    }
}

/// One of devnet's predeployed accounts, as `devnet_getPredeployedAccounts` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct PredeployedAccount {
    /// Account contract address.
    pub address: Felt,
    /// Its signing key.
    pub private_key: Felt,
}

/// What one state update ([`crate::LocalNet::flush`]) did.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FlushReport {
    /// L2 → L1 messages written to the L1 messaging contract.
    pub messages_to_l1: Vec<FlushedMessageToL1>,
    /// L1 → L2 messages turned into L1-handler transactions (`devnet_postmanSendMessageToL2`'s
    /// requests).
    pub messages_to_l2: Vec<Value>,
    /// The hashes of the L1-handler transactions it executed.
    pub generated_l2_transactions: Vec<Felt>,
}

/// An L2 → L1 message of a state update.
#[derive(Debug, Clone, Deserialize)]
pub struct FlushedMessageToL1 {
    /// The L2 sender.
    pub from_address: Felt,
    /// The L1 recipient.
    pub to_address: Address,
    /// The payload.
    pub payload: Vec<Felt>,
}

/// devnet's server timeout: the longest one request (a postman flush) may take.
pub const FLUSH_TIMEOUT_SECS: u16 = 1_800;

/// A running starknet-devnet. Killed on drop.
#[derive(Debug)]
pub struct StarknetDevnet {
    process: ManagedProcess,
    url: Url,
    chain_id: Felt,
    accounts: Vec<PredeployedAccount>,
    http: reqwest::Client,
}

impl StarknetDevnet {
    /// Starts devnet with seed 0 and its default chain id.
    pub async fn start() -> Result<Self> {
        Self::start_with(DevnetOptions::default()).await
    }

    /// Starts devnet with `options`.
    pub async fn start_with(options: DevnetOptions) -> Result<Self> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match Self::try_start(&options).await {
                Ok(devnet) => return Ok(devnet),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| eyre!("starknet-devnet did not start")))
    }

    async fn try_start(options: &DevnetOptions) -> Result<Self> {
        let port = crate::process::free_port()?;
        let mut args = vec![
            "--host".to_string(),
            "127.0.0.1".to_string(),
            "--port".to_string(),
            port.to_string(),
            "--seed".to_string(),
            options.seed.to_string(),
            "--accounts".to_string(),
            options.accounts.to_string(),
            // devnet cuts any request after its server timeout (120 s by default), answering an
            // empty body; a postman flush of tens of L2 -> L1 messages, each waiting for its own
            // L1 block, takes longer than that when the L1 makes a block every few seconds.
            "--timeout".to_string(),
            FLUSH_TIMEOUT_SECS.to_string(),
        ];
        if options.state_archive {
            args.extend(["--state-archive-capacity".to_string(), "full".to_string()]);
        }
        if let Some(chain_id) = &options.chain_id {
            args.extend(["--chain-id".to_string(), chain_id.clone()]);
        }
        let mut process = ManagedProcess::spawn("starknet-devnet", &tools::devnet()?, &args)?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let alive = format!("{base}/is_alive");
        process
            .wait_ready(READY_TIMEOUT, || {
                let http = http.clone();
                let alive = alive.clone();
                async move {
                    matches!(http.get(&alive).send().await, Ok(r) if r.status().is_success())
                }
            })
            .await?;
        let url: Url = format!("{base}/rpc").parse()?;
        let provider = JsonRpcClient::new(HttpTransport::new(url.clone()));
        let chain_id = provider
            .chain_id()
            .await
            .wrap_err("starknet_chainId on devnet")?;
        let accounts = rpc::call(
            &http,
            url.as_str(),
            "devnet_getPredeployedAccounts",
            json!({}),
        )
        .await?;
        let accounts: Vec<PredeployedAccount> = serde_json::from_value(accounts)
            .wrap_err("devnet_getPredeployedAccounts answer does not parse")?;
        Ok(Self {
            process,
            url,
            chain_id,
            accounts,
            http,
        })
    }

    /// The JSON-RPC endpoint (`…/rpc`).
    pub fn rpc_url(&self) -> &Url {
        &self.url
    }

    /// The chain id devnet reports.
    pub fn chain_id(&self) -> Felt {
        self.chain_id
    }

    /// A JSON-RPC client for this devnet.
    pub fn provider(&self) -> JsonRpcClient<HttpTransport> {
        JsonRpcClient::new(HttpTransport::new(self.url.clone()))
    }

    /// The predeployed accounts.
    pub fn predeployed_accounts(&self) -> &[PredeployedAccount] {
        &self.accounts
    }

    /// An account for predeployed account `index`.
    pub fn account(&self, index: usize) -> Result<DevnetAccount> {
        let predeployed = self.accounts.get(index).ok_or_else(|| {
            eyre!(
                "devnet has {} predeployed accounts, not {}",
                self.accounts.len(),
                index + 1
            )
        })?;
        let signer = LocalWallet::from(SigningKey::from_secret_scalar(predeployed.private_key));
        Ok(SingleOwnerAccount::new(
            self.provider(),
            signer,
            predeployed.address,
            self.chain_id,
            ExecutionEncoding::New,
        ))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The tail of devnet's log.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// `devnet_postmanLoad`: deploys devnet's `MockStarknetMessaging` on the L1 node at `l1_url`
    /// from the L1 account whose key is `l1_key` (anvil account 0 when `None`) and returns its
    /// address. From then on `flush` plays state updates against that contract, sending from the
    /// same L1 account.
    pub async fn postman_load(&self, l1_url: &str, l1_key: Option<&str>) -> Result<Address> {
        let mut params = json!({ "network_url": l1_url });
        if let Some(key) = l1_key {
            params["deployer_account_private_key"] = json!(key);
        }
        let result = rpc::call(&self.http, self.url.as_str(), "devnet_postmanLoad", params).await?;
        result["messaging_contract_address"]
            .as_str()
            .ok_or_else(|| eyre!("devnet_postmanLoad answered without an address: {result}"))?
            .parse()
            .wrap_err("devnet_postmanLoad answered with an address that does not parse")
    }

    /// The L2 → L1 messages sent in blocks `from..` up to the latest (from each transaction
    /// receipt's `messages_sent`, in block and transaction order), and the block after the last
    /// one read.
    pub async fn messages_to_l1(&self, from: u64) -> Result<(Vec<FlushedMessageToL1>, u64)> {
        let latest = self.block_number().await?;
        let mut out = Vec::new();
        for number in from..=latest {
            let block = rpc::call(
                &self.http,
                self.url.as_str(),
                "starknet_getBlockWithReceipts",
                json!({ "block_id": { "block_number": number } }),
            )
            .await?;
            let txs = block["transactions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for tx in txs {
                let sent = tx["receipt"]["messages_sent"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for message in sent {
                    let to: Felt = serde_json::from_value(message["to_address"].clone())
                        .wrap_err_with(|| format!("block {number}: to_address {message}"))?;
                    out.push(FlushedMessageToL1 {
                        from_address: serde_json::from_value(message["from_address"].clone())
                            .wrap_err_with(|| format!("block {number}: from_address {message}"))?,
                        to_address: Address::from_slice(&to.to_bytes_be()[12..]),
                        payload: serde_json::from_value(message["payload"].clone())
                            .wrap_err_with(|| format!("block {number}: payload {message}"))?,
                    });
                }
            }
        }
        Ok((out, latest + 1))
    }

    /// `devnet_postmanSendMessageToL2`: the L1 → L2 message `message` (the request's fields,
    /// as the L1 messaging contract logged it) becomes an L1-handler transaction; its hash.
    pub async fn send_message_to_l2(&self, message: &Value) -> Result<Felt> {
        let answer = rpc::call(
            &self.http,
            self.url.as_str(),
            "devnet_postmanSendMessageToL2",
            message.clone(),
        )
        .await?;
        serde_json::from_value(answer["transaction_hash"].clone())
            .wrap_err_with(|| format!("devnet_postmanSendMessageToL2 answered {answer}"))
    }

    /// `devnet_createBlock`, `n` times: `n` empty blocks.
    pub async fn create_blocks(&self, n: u64) -> Result<()> {
        for _ in 0..n {
            rpc::call(
                &self.http,
                self.url.as_str(),
                "devnet_createBlock",
                json!({}),
            )
            .await?;
        }
        Ok(())
    }

    /// The latest block's number.
    pub async fn block_number(&self) -> Result<u64> {
        rpc::call(
            &self.http,
            self.url.as_str(),
            "starknet_blockNumber",
            json!([]),
        )
        .await?
        .as_u64()
        .ok_or_else(|| eyre!("starknet_blockNumber did not answer a number"))
    }

    /// `devnet_abortBlocks`: blocks `from` up to the latest are aborted and their transactions
    /// reverted (the devnet must keep its state archive: [`DevnetOptions::state_archive`]); the
    /// next block is `from` again. Returns the aborted blocks' hashes.
    pub async fn abort_blocks(&self, from: u64) -> Result<Vec<Felt>> {
        let answer = rpc::call(
            &self.http,
            self.url.as_str(),
            "devnet_abortBlocks",
            json!({ "starting_block_id": { "block_number": from } }),
        )
        .await?;
        serde_json::from_value(answer["aborted"].clone())
            .wrap_err_with(|| format!("devnet_abortBlocks answered {answer}"))
    }

    /// Declares `artifact` with account `index` unless its class is already declared; returns the
    /// class hash.
    pub async fn declare(&self, index: usize, artifact: &StarknetArtifact) -> Result<Felt> {
        let class_hash = artifact.class_hash()?;
        let provider = self.provider();
        match provider
            .get_class(BlockId::Tag(BlockTag::Latest), class_hash)
            .await
        {
            Ok(_) => return Ok(class_hash),
            Err(ProviderError::StarknetError(StarknetError::ClassHashNotFound)) => {}
            Err(e) => return Err(e).wrap_err("starknet_getClass"),
        }
        let account = self.account(index)?;
        let result = account
            .declare_v3(
                Arc::new(artifact.flattened()?),
                artifact.compiled_class_hash()?,
            )
            .send()
            .await
            .map_err(|e| eyre!("declaring {}: {e}", artifact.name()))?;
        self.wait_for_success(result.transaction_hash)
            .await
            .wrap_err_with(|| format!("declaring {}", artifact.name()))?;
        if result.class_hash != class_hash {
            bail!(
                "declaring {}: devnet computed class hash {:#x}, the artifact {:#x}",
                artifact.name(),
                result.class_hash,
                class_hash
            );
        }
        Ok(class_hash)
    }

    /// Declares (if needed) and deploys `artifact` through the UDC with account `index`; returns
    /// the contract address.
    pub async fn deploy(
        &self,
        index: usize,
        artifact: &StarknetArtifact,
        constructor_calldata: Vec<Felt>,
    ) -> Result<Felt> {
        let class_hash = self.declare(index, artifact).await?;
        let account = self.account(index)?;
        let factory = ContractFactory::new_with_udc(class_hash, &account, UdcSelector::New);
        // A salt from the clock keeps two deployments of one class apart.
        let salt = Felt::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        let deployment = factory.deploy_v3(constructor_calldata, salt, false);
        let address = deployment.deployed_address();
        let result = deployment
            .send()
            .await
            .map_err(|e| eyre!("deploying {}: {e}", artifact.name()))?;
        self.wait_for_success(result.transaction_hash)
            .await
            .wrap_err_with(|| format!("deploying {}", artifact.name()))?;
        Ok(address)
    }

    /// Invokes `function` of `contract` with `calldata` from account `index` and waits until it
    /// succeeded; returns the transaction hash.
    pub async fn invoke(
        &self,
        index: usize,
        contract: Felt,
        function: &str,
        calldata: Vec<Felt>,
    ) -> Result<Felt> {
        self.invoke_many(index, vec![(contract, function, calldata)])
            .await
    }

    /// Invokes several `(contract, function, calldata)` calls in one transaction (a multicall)
    /// from account `index` and waits until it succeeded; returns the transaction hash.
    pub async fn invoke_many(
        &self,
        index: usize,
        calls: Vec<(Felt, &str, Vec<Felt>)>,
    ) -> Result<Felt> {
        let account = self.account(index)?;
        let what = calls
            .iter()
            .map(|(c, f, _)| format!("{f} on {c:#x}"))
            .collect::<Vec<_>>()
            .join(", ");
        let calls = calls
            .into_iter()
            .map(|(to, function, calldata)| {
                Ok(Call {
                    to,
                    selector: get_selector_from_name(function)?,
                    calldata,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let result = account
            .execute_v3(calls)
            .send()
            .await
            .map_err(|e| eyre!("invoking {what}: {e}"))?;
        self.wait_for_success(result.transaction_hash)
            .await
            .wrap_err_with(|| format!("invoking {what}"))?;
        Ok(result.transaction_hash)
    }

    /// Calls the view `function` of `contract` at the latest block.
    pub async fn call(
        &self,
        contract: Felt,
        function: &str,
        calldata: Vec<Felt>,
    ) -> Result<Vec<Felt>> {
        let call = FunctionCall {
            contract_address: contract,
            entry_point_selector: get_selector_from_name(function)?,
            calldata,
        };
        self.provider()
            .call(call, BlockId::Tag(BlockTag::Latest))
            .await
            .wrap_err_with(|| format!("calling {function} on {contract:#x}"))
    }

    /// Waits for the receipt of `tx` and fails if it reverted.
    pub async fn wait_for_success(&self, tx: Felt) -> Result<TransactionReceiptWithBlockInfo> {
        let provider = self.provider();
        let start = std::time::Instant::now();
        loop {
            match provider.get_transaction_receipt(tx).await {
                Ok(receipt) => {
                    return match receipt.receipt.execution_result() {
                        ExecutionResult::Succeeded => Ok(receipt),
                        ExecutionResult::Reverted { reason } => {
                            bail!("transaction {tx:#x} reverted: {reason}")
                        }
                    };
                }
                Err(ProviderError::StarknetError(StarknetError::TransactionHashNotFound)) => {}
                Err(e) => return Err(e).wrap_err_with(|| format!("receipt of {tx:#x}")),
            }
            if start.elapsed() > RECEIPT_TIMEOUT {
                bail!("no receipt for {tx:#x} after {RECEIPT_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
