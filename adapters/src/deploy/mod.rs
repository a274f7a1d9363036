//! Deploying an xroute network (issue 29): the Hub on L1, the Endpoint on each Starknet-family
//! chain (its class declared from the committed Sierra and compiled class hash), the
//! ArbitrumEndpoint on each Arbitrum-family chain, and the Hub's registration of each. One way to
//! deploy: `xroute deploy` and the test kit both call [`Deployer`].
//!
//! A deployment is planned before anything is sent ([`Deployer::plan`]): every item of the record
//! is checked on its chain (code hash, class hash, constructor values, registration), one that is
//! not what the record says is an error naming it ([`DeployError::Drift`]), and each missing
//! item is a [`Step`] with its estimated cost. [`Deployer::check_funds`] refuses a plan a key
//! cannot pay for, naming the address and the amount. [`Deployer::execute`] then makes the steps
//! in order, saving the record after each, so a second run finds everything and sends nothing.

mod check;
mod execute;
mod plan;
mod pool;
mod record;
mod status;
mod token;

use std::{fmt, path::PathBuf, sync::Arc, time::Duration};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
pub use record::{
    ArbitrumRecord, EvmContract, L1Record, PoolRecord, Record, RollupContract, Sent,
    StarknetContract, StarknetRecord, TokenRecord,
};
use starknet_rust::{
    accounts::{Account, ExecutionEncoding, SingleOwnerAccount},
    contract::{ContractFactory, UdcSelector},
    core::{
        types::{
            BlockId, BlockTag, ExecutionResult, Felt, FlattenedSierraClass, FunctionCall,
            ReceiptBlock, StarknetError, contract::SierraClass,
        },
        utils::get_selector_from_name,
    },
    providers::{Provider as _, ProviderError},
    signers::{LocalWallet, SigningKey},
};
use xroute_config::DeployFile;

use crate::{evm::arbitrum::ArbitrumEndpoint, hub::Hub, starknet::StarknetClient, transport};

/// The committed Endpoint class (`contracts/starknet/out/endpoint.*`), embedded.
const ENDPOINT_SIERRA: &str = include_str!("../../../contracts/starknet/out/endpoint.sierra.json");
const ENDPOINT_CLASS: &str = include_str!("../../../contracts/starknet/out/endpoint.class.json");
/// STRK, the fee token of Starknet's v3 transactions (the same address on every Starknet-family
/// chain that predeploys it, devnet included).
pub const STRK: Felt =
    Felt::from_hex_unchecked("0x04718f5a0fc34cc1af16a1cdee98ffb20c31f5cd61d6ab07201858f4287c938d");
/// Gas a Hub registration or ownership transfer is counted at while the Hub is not deployed yet
/// (measured: docs/gas.md; an estimate replaces it once the Hub exists).
const REGISTER_GAS_BOUND: u64 = 200_000;
/// How long a transaction is waited for.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// Why a deployment cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A key or a field of the deployment file cannot be used.
    #[error("{field}: {reason}")]
    Config {
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A chain refused or failed a request.
    #[error("{chain}: {what}: {reason}")]
    Chain {
        /// The chain's name.
        chain: String,
        /// What was asked.
        what: String,
        /// Its error.
        reason: String,
    },
    /// The record says something the chain does not.
    #[error("{entry}: {reason} (the record and the chain differ; fix the record or the chain)")]
    Drift {
        /// The record's entry (`l1.hub`, `starknet.appchain.endpoint`…).
        entry: String,
        /// What differs.
        reason: String,
    },
    /// A key cannot pay for what it would send.
    #[error("{0}")]
    Unfunded(Box<Shortfall>),
    /// The record file.
    #[error("{path}: {reason}")]
    Record {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A deployer that cannot pay for the plan on a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// The chain.
    pub chain: String,
    /// The paying address.
    pub address: String,
    /// Its balance.
    pub have: U256,
    /// The plan's estimated cost there.
    pub need: U256,
    /// `wei` or `fri`.
    pub unit: &'static str,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: the deployer {} holds {} {} and the plan needs about {} {}: fund it and run \
             again (nothing was sent)",
            self.chain, self.address, self.have, self.unit, self.need, self.unit
        )
    }
}

fn chain_err(chain: &str, what: impl Into<String>, e: impl fmt::Display) -> DeployError {
    DeployError::Chain {
        chain: chain.to_string(),
        what: what.into(),
        reason: e.to_string(),
    }
}

/// The keys a deployment signs with, read by the caller (the CLI from keystores, the kit from
/// its dev accounts).
#[derive(Clone)]
pub struct DeployKeys {
    /// The L1 deployer.
    pub l1: PrivateKeySigner,
    /// Per Starknet-family chain of the file, in order: the account's key.
    pub starknet: Vec<Felt>,
    /// Per Arbitrum-family chain of the file, in order: the deployer's key.
    pub arbitrum: Vec<PrivateKeySigner>,
}

impl fmt::Debug for DeployKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeployKeys(..)")
    }
}

/// One thing a deployment makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The record entry it fills (`l1.hub`, `starknet.NAME.endpoint`…).
    pub entry: String,
    /// What it does, in words.
    pub action: String,
    /// The chain that pays.
    pub chain: String,
    /// Its estimated cost there, and the unit.
    pub cost: U256,
    /// `wei` or `fri`.
    pub unit: &'static str,
}

/// What [`Deployer::plan`] found.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Record entries found on their chains as recorded.
    pub present: Vec<String>,
    /// What is missing, in the order it is made.
    pub steps: Vec<Step>,
}

/// One line of [`Deployer::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// The record entry.
    pub entry: String,
    /// Whether the chain shows what the record says.
    pub ok: bool,
    /// What was checked, or what differs.
    pub detail: String,
}

impl StatusLine {
    /// The line of `entry`: ok with what was checked, or not ok with why.
    fn of(entry: String, checked: Result<String, DeployError>) -> Self {
        match checked {
            Ok(detail) => Self {
                entry,
                ok: true,
                detail,
            },
            Err(e) => Self {
                entry,
                ok: false,
                detail: e.to_string(),
            },
        }
    }
}

type DeployAccount = SingleOwnerAccount<StarknetClient, LocalWallet>;

struct StarknetSide {
    name: String,
    account: DeployAccount,
    client: StarknetClient,
}

struct EvmSide {
    name: String,
    provider: DynProvider,
    from: Address,
    chain_id: u64,
}

/// Deploys (and checks) the network a [`DeployFile`] describes.
pub struct Deployer {
    file: DeployFile,
    l1: EvmSide,
    starknet: Vec<StarknetSide>,
    arbitrum: Vec<EvmSide>,
}

impl fmt::Debug for Deployer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deployer")
            .field("name", &self.file.name)
            .finish_non_exhaustive()
    }
}

async fn evm_side(name: &str, rpc: &str, key: PrivateKeySigner) -> Result<EvmSide, DeployError> {
    let url = rpc
        .parse()
        .map_err(|e| chain_err(name, "rpc", format!("not a URL: {e}")))?;
    let from = key.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(url)
        .erased();
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| chain_err(name, "eth_chainId", e))?;
    Ok(EvmSide {
        name: name.to_string(),
        provider,
        from,
        chain_id,
    })
}

/// The Endpoint class: flattened Sierra, class hash, compiled class hash.
fn endpoint_class() -> Result<(FlattenedSierraClass, Felt, Felt), DeployError> {
    class_of(ENDPOINT_SIERRA, ENDPOINT_CLASS, "endpoint")
}

/// A committed Cairo class (`contracts/starknet/out/NAME.sierra.json` and its `.class.json`):
/// flattened Sierra, class hash, compiled class hash.
/// A committed Cairo class (`contracts/starknet/out/NAME.sierra.json` and `NAME.class.json`),
/// embedded.
#[derive(Debug, Clone, Copy)]
struct CairoClass {
    sierra: &'static str,
    meta: &'static str,
    name: &'static str,
}

impl CairoClass {
    /// The flattened class, its hash and its compiled class hash.
    fn load(self) -> Result<(FlattenedSierraClass, Felt, Felt), DeployError> {
        class_of(self.sierra, self.meta, self.name)
    }
}

fn class_of(
    sierra: &str,
    meta: &str,
    name: &str,
) -> Result<(FlattenedSierraClass, Felt, Felt), DeployError> {
    let bad = |reason: String| DeployError::Config {
        field: format!("contracts/starknet/out/{name}"),
        reason,
    };
    let class: SierraClass =
        serde_json::from_str(sierra).map_err(|e| bad(format!("not Sierra: {e}")))?;
    let flat = class.flatten().map_err(|e| bad(format!("{e}")))?;
    let meta: serde_json::Value =
        serde_json::from_str(meta).map_err(|e| bad(format!("class.json: {e}")))?;
    let compiled = meta["compiledClassHash"]
        .as_str()
        .and_then(|s| Felt::from_hex(s).ok())
        .ok_or_else(|| bad("class.json has no compiledClassHash".into()))?;
    let hash = flat.class_hash();
    Ok((flat, hash, compiled))
}

fn felt_b256(f: Felt) -> B256 {
    B256::from(f.to_bytes_be())
}

fn b256_felt(b: B256) -> Felt {
    Felt::from_bytes_be(&b.0)
}

/// The UDC salt of what deployment `deployment` puts on chain `name` (domain `domain`): the same
/// inputs give the same address, so a run interrupted after sending finds its contract.
fn salt(deployment: &str, name: &str, domain: u32) -> Felt {
    let digest = keccak256(format!("xroute:{deployment}:{name}:{domain}"));
    Felt::from_bytes_be_slice(&digest[..31])
}

impl Deployer {
    /// Connects to every chain of `file` with `keys`.
    pub async fn connect(file: DeployFile, keys: DeployKeys) -> Result<Self, DeployError> {
        if keys.starknet.len() != file.starknet.len() || keys.arbitrum.len() != file.arbitrum.len()
        {
            return Err(DeployError::Config {
                field: "keys".into(),
                reason: "one key per chain of the deployment file".into(),
            });
        }
        let l1 = evm_side(&file.l1.name, file.l1.rpc.expose(), keys.l1).await?;
        let mut starknet = Vec::new();
        for (chain, key) in file.starknet.iter().zip(keys.starknet) {
            let client =
                transport::starknet_client(&chain.name, chain.rpc.expose(), &Default::default())
                    .map_err(|e| chain_err(&chain.name, "rpc", e))?;
            let chain_id = client
                .chain_id()
                .await
                .map_err(|e| chain_err(&chain.name, "starknet_chainId", e))?;
            let address = Felt::from_bytes_be(&chain.account.0.to_be_bytes::<32>());
            let account = SingleOwnerAccount::new(
                client.clone(),
                LocalWallet::from(SigningKey::from_secret_scalar(key)),
                address,
                chain_id,
                ExecutionEncoding::New,
            );
            starknet.push(StarknetSide {
                name: chain.name.clone(),
                account,
                client,
            });
        }
        let mut arbitrum = Vec::new();
        for (chain, key) in file.arbitrum.iter().zip(keys.arbitrum) {
            arbitrum.push(evm_side(&chain.name, chain.rpc.expose(), key).await?);
        }
        Ok(Self {
            file,
            l1,
            starknet,
            arbitrum,
        })
    }

    /// The deployment file.
    pub fn file(&self) -> &DeployFile {
        &self.file
    }

    /// The deployers' addresses, per chain (printed before anything is sent; never a key).
    pub fn deployers(&self) -> Vec<(String, String)> {
        let mut out = vec![(self.l1.name.clone(), self.l1.from.to_string())];
        for s in &self.starknet {
            out.push((s.name.clone(), format!("{:#x}", s.account.address())));
        }
        for a in &self.arbitrum {
            out.push((a.name.clone(), a.from.to_string()));
        }
        out
    }

    fn starknet_chain(
        &self,
        name: &str,
    ) -> Result<(&xroute_config::DeployStarknet, &StarknetSide), DeployError> {
        self.file
            .starknet
            .iter()
            .zip(&self.starknet)
            .find(|(c, _)| c.name == name)
            .ok_or_else(|| chain_err(name, "step", "not in the deployment file"))
    }

    fn hub_creation(&self) -> TransactionRequest {
        let selector = get_selector_from_name("receive_message").unwrap_or_default();
        Hub::deploy_builder(&self.l1.provider, self.file.l1.domain, felt_u256(selector))
            .into_transaction_request()
    }

    /// The Endpoint's constructor arguments and UDC salt on chain `cfg`.
    fn endpoint_args(
        &self,
        cfg: &xroute_config::DeployStarknet,
        hub: Address,
    ) -> (Vec<Felt>, Felt) {
        (
            vec![
                Felt::from_bytes_be_slice(hub.as_slice()),
                Felt::from(cfg.domain),
            ],
            salt(&self.file.name, &cfg.name, cfg.domain),
        )
    }
}

/// An item the record does not have (`not deployed`, `not registered`).
fn absent(entry: impl Into<String>, what: &str) -> DeployError {
    DeployError::Drift {
        entry: entry.into(),
        reason: what.into(),
    }
}

fn record_hub(record: &Record) -> Result<Address, DeployError> {
    record
        .l1
        .as_ref()
        .and_then(|l| l.hub.as_ref())
        .map(|h| h.address)
        .ok_or_else(|| DeployError::Drift {
            entry: "l1.hub".into(),
            reason: "a step needs the Hub and the record has none".into(),
        })
}

fn felt_u256(f: Felt) -> U256 {
    U256::from_be_bytes(f.to_bytes_be())
}

fn selector(name: &str) -> Result<Felt, DeployError> {
    get_selector_from_name(name).map_err(|e| DeployError::Config {
        field: name.into(),
        reason: e.to_string(),
    })
}

async fn code_hash(side: &EvmSide, address: Address) -> Result<B256, DeployError> {
    let code: Bytes = side
        .provider
        .get_code_at(address)
        .await
        .map_err(|e| chain_err(&side.name, "eth_getCode", e))?;
    if code.is_empty() {
        return Err(DeployError::Drift {
            entry: format!("{address}"),
            reason: format!("no code at {address} on {}", side.name),
        });
    }
    Ok(keccak256(&code))
}

/// Sends `tx` from `side`'s deployer and waits for its receipt: (created contract, hash, block).
async fn send_evm(
    side: &EvmSide,
    tx: TransactionRequest,
    what: &str,
) -> Result<(Option<Address>, B256, u64), DeployError> {
    let pending = side
        .provider
        .send_transaction(tx.with_from(side.from))
        .await
        .map_err(|e| chain_err(&side.name, what, e))?;
    let receipt = pending
        .with_timeout(Some(RECEIPT_TIMEOUT))
        .get_receipt()
        .await
        .map_err(|e| chain_err(&side.name, what, e))?;
    if !receipt.status() {
        return Err(chain_err(
            &side.name,
            what,
            format!("transaction {} reverted", receipt.transaction_hash),
        ));
    }
    Ok((
        receipt.contract_address,
        receipt.transaction_hash,
        receipt.block_number.unwrap_or_default(),
    ))
}

/// Waits until Starknet transaction `tx` succeeded; its block.
async fn wait_starknet(side: &StarknetSide, tx: Felt) -> Result<u64, DeployError> {
    let start = std::time::Instant::now();
    loop {
        match side.client.get_transaction_receipt(tx).await {
            Ok(receipt) => {
                return match receipt.receipt.execution_result() {
                    ExecutionResult::Succeeded => Ok(match receipt.block {
                        ReceiptBlock::Block { block_number, .. } => block_number,
                        ReceiptBlock::PreConfirmed { block_number } => block_number,
                    }),
                    ExecutionResult::Reverted { reason } => Err(chain_err(
                        &side.name,
                        format!("transaction {tx:#x}"),
                        format!("reverted: {reason}"),
                    )),
                };
            }
            Err(ProviderError::StarknetError(StarknetError::TransactionHashNotFound)) => {}
            Err(e) => return Err(chain_err(&side.name, "starknet_getTransactionReceipt", e)),
        }
        if start.elapsed() > RECEIPT_TIMEOUT {
            return Err(chain_err(
                &side.name,
                format!("transaction {tx:#x}"),
                format!("no receipt after {RECEIPT_TIMEOUT:?}"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
