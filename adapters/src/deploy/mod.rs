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

mod record;
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
    ArbitrumRecord, EvmContract, L1Record, Record, Sent, StarknetContract, StarknetRecord,
    TokenRecord, TokenRouterRecord,
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

fn endpoint_salt(deployment: &str, name: &str, domain: u32) -> Felt {
    salt(deployment, name, domain)
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

    /// Checks every item of `record` on its chain and lists what is missing, with costs.
    pub async fn plan(&self, record: &Record) -> Result<Plan, DeployError> {
        let mut plan = Plan::default();
        let l1 = &self.l1;
        let fees = l1
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| chain_err(&l1.name, "eth_feeHistory", e))?;
        let wei = |gas: u64| U256::from(gas) * U256::from(fees.max_fee_per_gas);
        let hub = match record.l1.as_ref().and_then(|l| l.hub.as_ref()) {
            Some(hub) => {
                self.check_hub(hub).await?;
                plan.present.push("l1.hub".into());
                Some(hub.address)
            }
            None => {
                let nonce = l1
                    .provider
                    .get_transaction_count(l1.from)
                    .await
                    .map_err(|e| chain_err(&l1.name, "eth_getTransactionCount", e))?;
                let tx = self.hub_creation().with_from(l1.from);
                let gas = l1
                    .provider
                    .estimate_gas(tx)
                    .await
                    .map_err(|e| chain_err(&l1.name, "eth_estimateGas (Hub)", e))?;
                plan.steps.push(Step {
                    entry: "l1.hub".into(),
                    action: format!(
                        "deploy the Hub (domain {}) on {}, at {} (nonce {nonce})",
                        self.file.l1.domain,
                        l1.name,
                        l1.from.create(nonce)
                    ),
                    chain: l1.name.clone(),
                    cost: wei(gas),
                    unit: "wei",
                });
                None
            }
        };
        let hub_address = match hub {
            Some(h) => h,
            None => {
                let nonce = l1
                    .provider
                    .get_transaction_count(l1.from)
                    .await
                    .map_err(|e| chain_err(&l1.name, "eth_getTransactionCount", e))?;
                l1.from.create(nonce)
            }
        };
        let (flat, class_hash, compiled) = endpoint_class()?;
        let flat = Arc::new(flat);
        for (cfg, side) in self.file.starknet.iter().zip(&self.starknet) {
            let rec = record.starknet.get(&cfg.name);
            let entry = |what: &str| format!("starknet.{}.{what}", cfg.name);
            let declared = self.class_declared(side, class_hash).await?;
            if !declared {
                let estimate = side
                    .account
                    .declare_v3(flat.clone(), compiled)
                    .estimate_fee()
                    .await
                    .map_err(|e| chain_err(&cfg.name, "starknet_estimateFee (declare)", e))?;
                plan.steps.push(Step {
                    entry: entry("endpoint_class"),
                    action: format!("declare the Endpoint class {class_hash:#x} on {}", cfg.name),
                    chain: cfg.name.clone(),
                    cost: U256::from(estimate.overall_fee),
                    unit: "fri",
                });
            } else {
                plan.present.push(entry("endpoint_class"));
            }
            let endpoint = match rec.and_then(|r| r.endpoint.as_ref()) {
                Some(e) => {
                    self.check_starknet_endpoint(side, cfg, e, class_hash, hub_address)
                        .await?;
                    plan.present.push(entry("endpoint"));
                    b256_felt(e.address)
                }
                None => {
                    let factory =
                        ContractFactory::new_with_udc(class_hash, &side.account, UdcSelector::New);
                    let (calldata, salt) = self.endpoint_args(cfg, hub_address);
                    let deployment = factory.deploy_v3(calldata, salt, false);
                    let address = deployment.deployed_address();
                    let found = if declared {
                        self.found_endpoint(side, cfg, address, class_hash, hub_address)
                            .await?
                    } else {
                        None
                    };
                    let (cost, action) = match found {
                        // Sent by a run that stopped before recording it.
                        Some(_) => (
                            U256::ZERO,
                            format!(
                                "record the Endpoint (domain {}) already on {} at {address:#x}",
                                cfg.domain, cfg.name
                            ),
                        ),
                        None if declared => {
                            let estimate = deployment.estimate_fee().await.map_err(|e| {
                                chain_err(&cfg.name, "starknet_estimateFee (deploy)", e)
                            })?;
                            (
                                U256::from(estimate.overall_fee),
                                format!(
                                    "deploy the Endpoint (domain {}) on {} at {address:#x}",
                                    cfg.domain, cfg.name
                                ),
                            )
                        }
                        None => (
                            U256::ZERO,
                            format!(
                                "deploy the Endpoint (domain {}) on {} at {address:#x} (its fee \
                                 is estimated once the class is declared)",
                                cfg.domain, cfg.name
                            ),
                        ),
                    };
                    plan.steps.push(Step {
                        entry: entry("endpoint"),
                        action,
                        chain: cfg.name.clone(),
                        cost,
                        unit: "fri",
                    });
                    address
                }
            };
            match rec.and_then(|r| r.registered.as_ref()) {
                Some(_) => {
                    self.check_registration(
                        hub_address,
                        cfg.domain,
                        1,
                        cfg.l1_messaging,
                        felt_u256(endpoint),
                        &entry("registered"),
                    )
                    .await?;
                    plan.present.push(entry("registered"));
                }
                None => plan.steps.push(Step {
                    entry: entry("registered"),
                    action: format!(
                        "register {} (domain {}) on the Hub: messaging {}, endpoint {endpoint:#x}",
                        cfg.name, cfg.domain, cfg.l1_messaging
                    ),
                    chain: l1.name.clone(),
                    cost: wei(REGISTER_GAS_BOUND),
                    unit: "wei",
                }),
            }
        }
        for (cfg, side) in self.file.arbitrum.iter().zip(&self.arbitrum) {
            let rec = record.arbitrum.get(&cfg.name);
            let entry = |what: &str| format!("arbitrum.{}.{what}", cfg.name);
            let endpoint = match rec.and_then(|r| r.endpoint.as_ref()) {
                Some(e) => {
                    self.check_arbitrum_endpoint(
                        side,
                        cfg.domain,
                        e,
                        hub_address,
                        &entry("endpoint"),
                    )
                    .await?;
                    plan.present.push(entry("endpoint"));
                    e.address
                }
                None => {
                    let nonce = side
                        .provider
                        .get_transaction_count(side.from)
                        .await
                        .map_err(|e| chain_err(&cfg.name, "eth_getTransactionCount", e))?;
                    let tx =
                        ArbitrumEndpoint::deploy_builder(&side.provider, cfg.domain, hub_address)
                            .into_transaction_request()
                            .with_from(side.from);
                    let gas = side.provider.estimate_gas(tx).await.map_err(|e| {
                        chain_err(&cfg.name, "eth_estimateGas (ArbitrumEndpoint)", e)
                    })?;
                    let price = side
                        .provider
                        .get_gas_price()
                        .await
                        .map_err(|e| chain_err(&cfg.name, "eth_gasPrice", e))?;
                    let address = side.from.create(nonce);
                    plan.steps.push(Step {
                        entry: entry("endpoint"),
                        action: format!(
                            "deploy the ArbitrumEndpoint (domain {}) on {} at {address}",
                            cfg.domain, cfg.name
                        ),
                        chain: cfg.name.clone(),
                        cost: U256::from(gas) * U256::from(price) * U256::from(2u8),
                        unit: "wei",
                    });
                    address
                }
            };
            match rec.and_then(|r| r.registered.as_ref()) {
                Some(_) => {
                    self.check_registration(hub_address, cfg.domain, 2, cfg.inbox, U256::from_be_slice(endpoint.as_slice()), &entry("registered"))
                        .await?;
                    plan.present.push(entry("registered"));
                }
                None => plan.steps.push(Step {
                    entry: entry("registered"),
                    action: format!(
                        "register {} (domain {}) on the Hub: inbox {}, outbox {}, endpoint {endpoint}",
                        cfg.name, cfg.domain, cfg.inbox, cfg.outbox
                    ),
                    chain: l1.name.clone(),
                    cost: wei(REGISTER_GAS_BOUND),
                    unit: "wei",
                }),
            }
        }
        self.plan_token(record, &mut plan, &wei).await?;
        if let Some(owner) = self.file.l1.owner {
            let done = record.l1.as_ref().is_some_and(|l| l.owner_set.is_some());
            if done {
                let now = Hub::new(hub_address, &l1.provider)
                    .owner()
                    .call()
                    .await
                    .map_err(|e| chain_err(&l1.name, "Hub.owner", e))?;
                if now != owner {
                    return Err(DeployError::Drift {
                        entry: "l1.owner_set".into(),
                        reason: format!("the Hub's owner is {now}, the file says {owner}"),
                    });
                }
                plan.present.push("l1.owner_set".into());
            } else {
                plan.steps.push(Step {
                    entry: "l1.owner_set".into(),
                    action: format!("hand the Hub's ownership to {owner}"),
                    chain: l1.name.clone(),
                    cost: wei(REGISTER_GAS_BOUND / 4),
                    unit: "wei",
                });
            }
        }
        Ok(plan)
    }

    /// The balance of the deployer on chain `chain`: amount, address, unit (`wei`, or `fri` of
    /// STRK on a Starknet-family chain).
    async fn balance(&self, chain: &str) -> Result<(U256, String, &'static str), DeployError> {
        if let Some(side) = std::iter::once(&self.l1)
            .chain(&self.arbitrum)
            .find(|s| s.name == chain)
        {
            let have = side
                .provider
                .get_balance(side.from)
                .await
                .map_err(|e| chain_err(&side.name, "eth_getBalance", e))?;
            return Ok((have, side.from.to_string(), "wei"));
        }
        let side = self
            .starknet
            .iter()
            .find(|s| s.name == chain)
            .ok_or_else(|| chain_err(chain, "balance", "not in the deployment file"))?;
        let words = side
            .client
            .call(
                FunctionCall {
                    contract_address: STRK,
                    entry_point_selector: selector("balance_of")?,
                    calldata: vec![side.account.address()],
                },
                BlockId::Tag(BlockTag::Latest),
            )
            .await
            .map_err(|e| chain_err(&side.name, "STRK.balance_of", e))?;
        let have = match words.as_slice() {
            [low, high] => felt_u256(*low) + (felt_u256(*high) << 128usize),
            _ => U256::ZERO,
        };
        Ok((have, format!("{:#x}", side.account.address()), "fri"))
    }

    /// Refuses `plan` when a deployer cannot pay for its steps on a chain.
    pub async fn check_funds(&self, plan: &Plan) -> Result<(), DeployError> {
        let mut chains: Vec<&str> = plan.steps.iter().map(|s| s.chain.as_str()).collect();
        chains.sort_unstable();
        chains.dedup();
        for chain in chains {
            let need = plan
                .steps
                .iter()
                .filter(|s| s.chain == chain)
                .fold(U256::ZERO, |sum, s| sum + s.cost);
            if need.is_zero() {
                continue;
            }
            let (have, address, unit) = self.balance(chain).await?;
            if have < need {
                return Err(DeployError::Unfunded(Box::new(Shortfall {
                    chain: chain.to_string(),
                    address,
                    have,
                    need,
                    unit,
                })));
            }
        }
        Ok(())
    }

    /// Makes `plan`'s steps in order, writing each into `record` and calling `saved` after each
    /// (the CLI writes the record file there), and `progress` with each step as it starts.
    /// Returns what each step paid, read as its deployer's balance before and after it.
    pub async fn execute(
        &self,
        plan: &Plan,
        record: &mut Record,
        mut progress: impl FnMut(&Step),
        mut saved: impl FnMut(&Record) -> Result<(), DeployError>,
    ) -> Result<Vec<U256>, DeployError> {
        let mut paid = Vec::with_capacity(plan.steps.len());
        record.name.clone_from(&self.file.name);
        let l1 = &self.l1;
        if record.l1.is_none() {
            record.l1 = Some(L1Record {
                name: self.file.l1.name.clone(),
                domain: self.file.l1.domain,
                chain_id: l1.chain_id,
                rpc: self.file.l1.rpc.expose().to_string(),
                hub: None,
                owner_set: None,
            });
        }
        for (cfg, side) in self.file.starknet.iter().zip(&self.starknet) {
            let _ = side;
            record
                .starknet
                .entry(cfg.name.clone())
                .or_insert_with(|| StarknetRecord {
                    domain: cfg.domain,
                    rpc: cfg.rpc.expose().to_string(),
                    l1_messaging: cfg.l1_messaging,
                    endpoint_class: None,
                    declared: None,
                    endpoint: None,
                    registered: None,
                });
        }
        for (cfg, side) in self.file.arbitrum.iter().zip(&self.arbitrum) {
            record
                .arbitrum
                .entry(cfg.name.clone())
                .or_insert_with(|| ArbitrumRecord {
                    domain: cfg.domain,
                    rpc: cfg.rpc.expose().to_string(),
                    chain_id: side.chain_id,
                    inbox: cfg.inbox,
                    bridge: cfg.bridge,
                    outbox: cfg.outbox,
                    endpoint: None,
                    registered: None,
                });
        }
        let (flat, class_hash, compiled) = endpoint_class()?;
        let flat = Arc::new(flat);
        for step in &plan.steps {
            progress(step);
            let (before, _, _) = self.balance(&step.chain).await?;
            let parts: Vec<&str> = step.entry.split('.').collect();
            match parts.as_slice() {
                ["l1", "hub"] => {
                    let receipt = send_evm(l1, self.hub_creation(), "deploy the Hub").await?;
                    let address = receipt.0.ok_or_else(|| {
                        chain_err(
                            &l1.name,
                            "deploy the Hub",
                            "no contract address in the receipt",
                        )
                    })?;
                    let code = code_hash(l1, address).await?;
                    if let Some(l) = record.l1.as_mut() {
                        l.hub = Some(EvmContract {
                            address,
                            code_hash: code,
                            tx: receipt.1,
                            block: receipt.2,
                        });
                    }
                }
                ["l1", "owner_set"] => {
                    let hub = record_hub(record)?;
                    let owner = self.file.l1.owner.unwrap_or(l1.from);
                    let tx = Hub::new(hub, &l1.provider)
                        .transferOwnership(owner)
                        .into_transaction_request();
                    let (_, tx, block) = send_evm(l1, tx, "Hub.transferOwnership").await?;
                    if let Some(l) = record.l1.as_mut() {
                        l.owner_set = Some(Sent { tx, block });
                    }
                }
                ["starknet", name, what] => {
                    let (cfg, side) = self.starknet_chain(name)?;
                    let hub = record_hub(record)?;
                    match *what {
                        "endpoint_class" => {
                            let result = side
                                .account
                                .declare_v3(flat.clone(), compiled)
                                .send()
                                .await
                                .map_err(|e| chain_err(name, "declare the Endpoint class", e))?;
                            let block = wait_starknet(side, result.transaction_hash).await?;
                            if result.class_hash != class_hash {
                                return Err(chain_err(
                                    name,
                                    "declare the Endpoint class",
                                    format!(
                                        "the chain computed class hash {:#x}, the artifact {class_hash:#x}",
                                        result.class_hash
                                    ),
                                ));
                            }
                            if let Some(r) = record.starknet.get_mut(*name) {
                                r.endpoint_class = Some(felt_b256(class_hash));
                                r.declared = Some(Sent {
                                    tx: felt_b256(result.transaction_hash),
                                    block,
                                });
                            }
                        }
                        "endpoint" => {
                            let factory = ContractFactory::new_with_udc(
                                class_hash,
                                &side.account,
                                UdcSelector::New,
                            );
                            let (calldata, salt) = self.endpoint_args(cfg, hub);
                            let deployment = factory.deploy_v3(calldata, salt, false);
                            let address = deployment.deployed_address();
                            let endpoint = match self
                                .found_endpoint(side, cfg, address, class_hash, hub)
                                .await?
                            {
                                // A run that stopped after sending it: recorded as found.
                                Some(found) => found,
                                None => {
                                    let result = deployment
                                        .send()
                                        .await
                                        .map_err(|e| chain_err(name, "deploy the Endpoint", e))?;
                                    let block =
                                        wait_starknet(side, result.transaction_hash).await?;
                                    StarknetContract {
                                        address: felt_b256(address),
                                        class_hash: felt_b256(class_hash),
                                        tx: felt_b256(result.transaction_hash),
                                        block,
                                    }
                                }
                            };
                            if let Some(r) = record.starknet.get_mut(*name) {
                                r.endpoint_class = Some(felt_b256(class_hash));
                                r.endpoint = Some(endpoint);
                            }
                        }
                        "registered" => {
                            let endpoint = record
                                .starknet
                                .get(*name)
                                .and_then(|r| r.endpoint.as_ref())
                                .map(|e| U256::from_be_bytes(e.address.0))
                                .ok_or_else(|| {
                                    chain_err(name, "register", "no Endpoint recorded")
                                })?;
                            let tx = Hub::new(hub, &l1.provider)
                                .registerStarknetDomain(cfg.domain, cfg.l1_messaging, endpoint)
                                .into_transaction_request();
                            let (_, tx, block) =
                                send_evm(l1, tx, "Hub.registerStarknetDomain").await?;
                            if let Some(r) = record.starknet.get_mut(*name) {
                                r.registered = Some(Sent { tx, block });
                            }
                        }
                        _ => {}
                    }
                }
                ["arbitrum", name, what] => {
                    let (i, cfg) = self
                        .file
                        .arbitrum
                        .iter()
                        .enumerate()
                        .find(|(_, c)| c.name == *name)
                        .ok_or_else(|| chain_err(name, "step", "not in the deployment file"))?;
                    let side = &self.arbitrum[i];
                    let hub = record_hub(record)?;
                    match *what {
                        "endpoint" => {
                            let tx =
                                ArbitrumEndpoint::deploy_builder(&side.provider, cfg.domain, hub)
                                    .into_transaction_request();
                            let (address, tx, block) =
                                send_evm(side, tx, "deploy the ArbitrumEndpoint").await?;
                            let address = address.ok_or_else(|| {
                                chain_err(
                                    name,
                                    "deploy the ArbitrumEndpoint",
                                    "no contract address",
                                )
                            })?;
                            let code = code_hash(side, address).await?;
                            if let Some(r) = record.arbitrum.get_mut(*name) {
                                r.endpoint = Some(EvmContract {
                                    address,
                                    code_hash: code,
                                    tx,
                                    block,
                                });
                            }
                        }
                        "registered" => {
                            let endpoint = record
                                .arbitrum
                                .get(*name)
                                .and_then(|r| r.endpoint.as_ref())
                                .map(|e| e.address)
                                .ok_or_else(|| {
                                    chain_err(name, "register", "no endpoint recorded")
                                })?;
                            let tx = Hub::new(hub, &l1.provider)
                                .registerArbitrumDomain(cfg.domain, cfg.inbox, cfg.outbox, endpoint)
                                .into_transaction_request();
                            let (_, tx, block) =
                                send_evm(l1, tx, "Hub.registerArbitrumDomain").await?;
                            if let Some(r) = record.arbitrum.get_mut(*name) {
                                r.registered = Some(Sent { tx, block });
                            }
                        }
                        _ => {}
                    }
                }
                _ => {
                    self.execute_token(&step.entry, record).await?;
                }
            }
            saved(record)?;
            let (after, _, _) = self.balance(&step.chain).await?;
            paid.push(before.saturating_sub(after));
        }
        Ok(paid)
    }

    /// Every item of `record` against its chain, one line each (an item the chain does not show
    /// as recorded is a line that is not ok, never an error).
    pub async fn status(&self, record: &Record) -> Vec<StatusLine> {
        let mut lines = Vec::new();
        let line = |entry: String, r: Result<String, DeployError>| match r {
            Ok(detail) => StatusLine {
                entry,
                ok: true,
                detail,
            },
            Err(e) => StatusLine {
                entry,
                ok: false,
                detail: e.to_string(),
            },
        };
        let hub = record.l1.as_ref().and_then(|l| l.hub.clone());
        match &hub {
            Some(h) => lines.push(line(
                "l1.hub".into(),
                self.check_hub(h)
                    .await
                    .map(|()| format!("{} on {}, code as deployed", h.address, self.l1.name)),
            )),
            None => lines.push(line("l1.hub".into(), Err(absent("l1.hub", "not deployed")))),
        }
        let hub_address = hub.map(|h| h.address).unwrap_or_default();
        if let (Some(owner), Some(l)) = (self.file.l1.owner, &record.l1) {
            let now = Hub::new(hub_address, &self.l1.provider)
                .owner()
                .call()
                .await;
            lines.push(line(
                "l1.owner".into(),
                match now {
                    Ok(now) if now == owner && l.owner_set.is_some() => Ok(format!("{owner}")),
                    Ok(now) => Err(DeployError::Drift {
                        entry: "l1.owner".into(),
                        reason: format!("the Hub's owner is {now}, the file says {owner}"),
                    }),
                    Err(e) => Err(chain_err(&self.l1.name, "Hub.owner", e)),
                },
            ));
        }
        let class = endpoint_class().map(|(_, hash, _)| hash);
        for (cfg, side) in self.file.starknet.iter().zip(&self.starknet) {
            let entry = |what: &str| format!("starknet.{}.{what}", cfg.name);
            let rec = record.starknet.get(&cfg.name);
            let endpoint = rec.and_then(|r| r.endpoint.clone());
            let checked = match (&endpoint, &class) {
                (Some(e), Ok(class)) => self
                    .check_starknet_endpoint(side, cfg, e, *class, hub_address)
                    .await
                    .map(|()| {
                        format!(
                            "{:#x} on {}, class {class:#x}, hub and domain as deployed",
                            b256_felt(e.address),
                            cfg.name
                        )
                    }),
                (None, _) => Err(absent(entry("endpoint"), "not deployed")),
                (_, Err(e)) => Err(DeployError::Config {
                    field: "endpoint class".into(),
                    reason: e.to_string(),
                }),
            };
            lines.push(line(entry("endpoint"), checked));
            let registered = self
                .registration_status(
                    hub_address,
                    &entry("registered"),
                    (cfg.domain, 1, cfg.l1_messaging),
                    endpoint.as_ref().map(|e| U256::from_be_bytes(e.address.0)),
                    rec.is_some_and(|r| r.registered.is_some()),
                )
                .await;
            lines.push(line(entry("registered"), registered));
        }
        for (cfg, side) in self.file.arbitrum.iter().zip(&self.arbitrum) {
            let entry = |what: &str| format!("arbitrum.{}.{what}", cfg.name);
            let rec = record.arbitrum.get(&cfg.name);
            let endpoint = rec.and_then(|r| r.endpoint.clone());
            let checked = match &endpoint {
                Some(e) => self
                    .check_arbitrum_endpoint(side, cfg.domain, e, hub_address, &entry("endpoint"))
                    .await
                    .map(|()| {
                        format!(
                            "{} on {}, code as deployed, hub and domain as deployed",
                            e.address, cfg.name
                        )
                    }),
                None => Err(absent(entry("endpoint"), "not deployed")),
            };
            lines.push(line(entry("endpoint"), checked));
            let registered = self
                .registration_status(
                    hub_address,
                    &entry("registered"),
                    (cfg.domain, 2, cfg.inbox),
                    endpoint
                        .as_ref()
                        .map(|e| U256::from_be_slice(e.address.as_slice())),
                    rec.is_some_and(|r| r.registered.is_some()),
                )
                .await;
            lines.push(line(entry("registered"), registered));
        }
        lines.extend(self.status_token(record).await);
        lines
    }

    /// A status line's check of a registration: `(domain, family, L1 contract)` as the Hub
    /// should hold it for `endpoint`, when the record has both.
    async fn registration_status(
        &self,
        hub: Address,
        entry: &str,
        (domain, family, l1_contract): (u32, u8, Address),
        endpoint: Option<U256>,
        recorded: bool,
    ) -> Result<String, DeployError> {
        match endpoint {
            Some(endpoint) if recorded => {
                self.check_registration(hub, domain, family, l1_contract, endpoint, entry)
                    .await?;
                Ok(format!(
                    "domain {domain} on the Hub: L1 contract {l1_contract}, this endpoint"
                ))
            }
            _ => Err(absent(entry, "not registered")),
        }
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
            endpoint_salt(&self.file.name, &cfg.name, cfg.domain),
        )
    }

    /// The Endpoint already at `address` (its deterministic address), checked as a recorded one
    /// is, or `None` when nothing is deployed there. Its transaction is unknown (zero) and its
    /// block is the block it was found in.
    async fn found_endpoint(
        &self,
        side: &StarknetSide,
        cfg: &xroute_config::DeployStarknet,
        address: Felt,
        class: Felt,
        hub: Address,
    ) -> Result<Option<StarknetContract>, DeployError> {
        match side
            .client
            .get_class_hash_at(BlockId::Tag(BlockTag::Latest), address)
            .await
        {
            Err(ProviderError::StarknetError(StarknetError::ContractNotFound)) => Ok(None),
            Err(e) => Err(chain_err(&cfg.name, "starknet_getClassHashAt", e)),
            Ok(_) => {
                let block = side
                    .client
                    .block_number()
                    .await
                    .map_err(|e| chain_err(&cfg.name, "starknet_blockNumber", e))?;
                let found = StarknetContract {
                    address: felt_b256(address),
                    class_hash: felt_b256(class),
                    tx: B256::ZERO,
                    block,
                };
                self.check_starknet_endpoint(side, cfg, &found, class, hub)
                    .await?;
                Ok(Some(found))
            }
        }
    }

    async fn class_declared(&self, side: &StarknetSide, class: Felt) -> Result<bool, DeployError> {
        match side
            .client
            .get_class(BlockId::Tag(BlockTag::Latest), class)
            .await
        {
            Ok(_) => Ok(true),
            Err(ProviderError::StarknetError(StarknetError::ClassHashNotFound)) => Ok(false),
            Err(e) => Err(chain_err(&side.name, "starknet_getClass", e)),
        }
    }

    async fn check_hub(&self, hub: &EvmContract) -> Result<(), DeployError> {
        let drift = |reason: String| DeployError::Drift {
            entry: "l1.hub".into(),
            reason,
        };
        let code = code_hash(&self.l1, hub.address).await?;
        if code != hub.code_hash {
            return Err(drift(format!(
                "the code at {} is not the Hub the record names (code hash {code}, recorded {})",
                hub.address, hub.code_hash
            )));
        }
        let domain = Hub::new(hub.address, &self.l1.provider)
            .localDomain()
            .call()
            .await
            .map_err(|e| chain_err(&self.l1.name, "Hub.localDomain", e))?;
        if domain != self.file.l1.domain {
            return Err(drift(format!(
                "the Hub at {} is domain {domain}, the file says {}",
                hub.address, self.file.l1.domain
            )));
        }
        Ok(())
    }

    async fn check_starknet_endpoint(
        &self,
        side: &StarknetSide,
        cfg: &xroute_config::DeployStarknet,
        endpoint: &StarknetContract,
        class: Felt,
        hub: Address,
    ) -> Result<(), DeployError> {
        let entry = format!("starknet.{}.endpoint", cfg.name);
        let drift = |reason: String| DeployError::Drift {
            entry: entry.clone(),
            reason,
        };
        let address = b256_felt(endpoint.address);
        let found = match side
            .client
            .get_class_hash_at(BlockId::Tag(BlockTag::Latest), address)
            .await
        {
            Ok(found) => found,
            Err(ProviderError::StarknetError(StarknetError::ContractNotFound)) => {
                return Err(drift(format!(
                    "no contract at {address:#x} on {}",
                    cfg.name
                )));
            }
            Err(e) => return Err(chain_err(&cfg.name, "starknet_getClassHashAt", e)),
        };
        if found != class || felt_b256(found) != endpoint.class_hash {
            return Err(drift(format!(
                "the contract at {address:#x} is of class {found:#x}, not the Endpoint's {class:#x}"
            )));
        }
        let read = |name: &'static str| {
            side.client.call(
                FunctionCall {
                    contract_address: address,
                    entry_point_selector: get_selector_from_name(name).unwrap_or_default(),
                    calldata: vec![],
                },
                BlockId::Tag(BlockTag::Latest),
            )
        };
        let its_hub = read("hub")
            .await
            .map_err(|e| chain_err(&cfg.name, "Endpoint.hub", e))?;
        let its_domain = read("local_domain")
            .await
            .map_err(|e| chain_err(&cfg.name, "Endpoint.local_domain", e))?;
        let want_hub = Felt::from_bytes_be_slice(hub.as_slice());
        if its_hub.first() != Some(&want_hub) || its_domain.first() != Some(&Felt::from(cfg.domain))
        {
            return Err(drift(format!(
                "the Endpoint at {address:#x} names hub {:?} and domain {:?}, the deployment {want_hub:#x} and {}",
                its_hub.first(),
                its_domain.first(),
                cfg.domain
            )));
        }
        Ok(())
    }

    async fn check_arbitrum_endpoint(
        &self,
        side: &EvmSide,
        domain: u32,
        endpoint: &EvmContract,
        hub: Address,
        entry: &str,
    ) -> Result<(), DeployError> {
        let drift = |reason: String| DeployError::Drift {
            entry: entry.to_string(),
            reason,
        };
        let code = code_hash(side, endpoint.address).await?;
        if code != endpoint.code_hash {
            return Err(drift(format!(
                "the code at {} is not the endpoint the record names (code hash {code}, recorded {})",
                endpoint.address, endpoint.code_hash
            )));
        }
        let contract = ArbitrumEndpoint::new(endpoint.address, &side.provider);
        let its_domain = contract
            .localDomain()
            .call()
            .await
            .map_err(|e| chain_err(&side.name, "ArbitrumEndpoint.localDomain", e))?;
        let its_hub = contract
            .hub()
            .call()
            .await
            .map_err(|e| chain_err(&side.name, "ArbitrumEndpoint.hub", e))?;
        if its_domain != domain || its_hub != hub {
            return Err(drift(format!(
                "the endpoint at {} names hub {its_hub} and domain {its_domain}, the deployment {hub} and {domain}",
                endpoint.address
            )));
        }
        Ok(())
    }

    /// That the Hub registers `domain` as `family` (1 Starknet, 2 Arbitrum) with `messaging` and
    /// `endpoint`.
    async fn check_registration(
        &self,
        hub: Address,
        domain: u32,
        family: u8,
        messaging: Address,
        endpoint: U256,
        entry: &str,
    ) -> Result<(), DeployError> {
        let d = Hub::new(hub, &self.l1.provider)
            .domains(domain)
            .call()
            .await
            .map_err(|e| chain_err(&self.l1.name, "Hub.domains", e))?;
        if d.family != family || d.messaging != messaging || d.endpoint != endpoint {
            return Err(DeployError::Drift {
                entry: entry.to_string(),
                reason: format!(
                    "the Hub registers domain {domain} as family {} with messaging {} and endpoint {:#x}; the deployment says family {family}, {messaging}, {endpoint:#x}",
                    d.family, d.messaging, d.endpoint
                ),
            });
        }
        Ok(())
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
