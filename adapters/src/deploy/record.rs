//! The deployment record (`deployments/NAME.json`): every contract, class and registration a
//! deployment made, with the transaction and block that made it. `xroute deploy` reads it to
//! deploy only what is missing, `xroute deploy status` checks it against the chains, and
//! `xroute init --deployment` writes a router config from it.

use std::{collections::BTreeMap, path::Path};

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use super::DeployError;

/// A deployment's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The deployment's name.
    pub name: String,
    /// The L1 chain and the Hub.
    pub l1: Option<L1Record>,
    /// Starknet-family chains, by name.
    #[serde(default)]
    pub starknet: BTreeMap<String, StarknetRecord>,
    /// Arbitrum-family chains, by name.
    #[serde(default)]
    pub arbitrum: BTreeMap<String, ArbitrumRecord>,
    /// The canonical token, when the file has `[token]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenRecord>,
    /// The pool, when the file has `[pool]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolRecord>,
}

/// The pool's contracts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolRecord {
    /// The ERC-4626 `PoolVault` over the token on L1.
    pub vault: Option<EvmContract>,
    /// The `PoolManager` on L1.
    pub manager: Option<EvmContract>,
    /// The pool on each rollup, by chain name.
    #[serde(default)]
    pub pools: BTreeMap<String, RollupContract>,
    /// The manager's and the vault's ownership handed to the file's `l1.owner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_set: Option<Sent>,
}

/// The canonical token's contracts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// `XToken` on L1.
    pub token: Option<EvmContract>,
    /// The `TokenLedger` on L1 (the token's router there; the supply minted once).
    pub ledger: Option<EvmContract>,
    /// The router on each rollup, by chain name.
    #[serde(default)]
    pub routers: BTreeMap<String, RollupContract>,
}

/// A contract on one rollup (the token's router, a pool) and its registration on L1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollupContract {
    /// Its address (an EVM address left-padded, or a felt), as 32 bytes.
    pub address: B256,
    /// Its code hash (EVM) or class hash (Starknet).
    pub code_hash: B256,
    /// The deploying transaction.
    pub tx: B256,
    /// Its block.
    pub block: u64,
    /// Its registration on L1 (the ledger's `registerChain` of a router, the manager's
    /// `registerPool` of a pool).
    pub registered: Option<Sent>,
}

/// The L1 chain and the Hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L1Record {
    /// The chain's name.
    pub name: String,
    /// Its xroute domain.
    pub domain: u32,
    /// Its chain id.
    pub chain_id: u64,
    /// Its RPC endpoint, as the deployment file gave it.
    pub rpc: String,
    /// The Hub.
    pub hub: Option<EvmContract>,
    /// The Hub's owner, once ownership was handed over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_set: Option<Sent>,
}

/// A contract deployed on an EVM chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmContract {
    /// Its address.
    pub address: Address,
    /// keccak256 of its runtime code, as deployed.
    pub code_hash: B256,
    /// The deploying transaction.
    pub tx: B256,
    /// Its block.
    pub block: u64,
}

/// A transaction that changed state (a registration, an ownership transfer, a declaration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sent {
    /// The transaction hash (an EVM hash, or a Starknet felt as 32 bytes).
    pub tx: B256,
    /// Its block.
    pub block: u64,
}

/// A Starknet-family chain's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarknetRecord {
    /// Its xroute domain.
    pub domain: u32,
    /// Its RPC endpoint.
    pub rpc: String,
    /// Its messaging contract on L1.
    pub l1_messaging: Address,
    /// The Endpoint's class hash (declared, or found declared).
    pub endpoint_class: Option<B256>,
    /// The declaration, when this deployment made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<Sent>,
    /// The Endpoint.
    pub endpoint: Option<StarknetContract>,
    /// The Hub's `registerStarknetDomain`.
    pub registered: Option<Sent>,
}

/// A contract deployed on a Starknet-family chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarknetContract {
    /// Its address (a felt, as 32 bytes).
    pub address: B256,
    /// Its class hash.
    pub class_hash: B256,
    /// The deploying transaction (zero when a run found it already at its address: a run that
    /// stopped after sending it, before recording it).
    pub tx: B256,
    /// Its block (the block it was found in, then).
    pub block: u64,
}

/// An Arbitrum-family chain's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArbitrumRecord {
    /// Its xroute domain.
    pub domain: u32,
    /// Its RPC endpoint.
    pub rpc: String,
    /// Its chain id.
    pub chain_id: u64,
    /// The rollup's Inbox, Bridge and Outbox on L1.
    pub inbox: Address,
    /// The Bridge.
    pub bridge: Address,
    /// The Outbox.
    pub outbox: Address,
    /// The ArbitrumEndpoint.
    pub endpoint: Option<EvmContract>,
    /// The Hub's `registerArbitrumDomain`.
    pub registered: Option<Sent>,
}

impl Record {
    /// The record at `path`, or an empty one named `name` when there is none yet.
    pub fn load_or_new(path: &Path, name: &str) -> Result<Self, DeployError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                name: name.to_string(),
                ..Self::default()
            }),
            Err(e) => Err(DeployError::Record {
                path: path.into(),
                reason: format!("cannot read: {e}"),
            }),
        }
    }

    /// The record at `path` (it must exist).
    pub fn load(path: &Path) -> Result<Self, DeployError> {
        let text = std::fs::read_to_string(path).map_err(|e| DeployError::Record {
            path: path.into(),
            reason: format!("cannot read: {e}"),
        })?;
        Self::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, DeployError> {
        serde_json::from_str(text).map_err(|e| DeployError::Record {
            path: path.into(),
            reason: format!("not a deployment record: {e}"),
        })
    }

    /// Writes the record to `path` (through a file beside it, renamed into place, so a crash
    /// leaves the old record or the new one).
    pub fn save(&self, path: &Path) -> Result<(), DeployError> {
        let failed = |e: std::io::Error| DeployError::Record {
            path: path.into(),
            reason: format!("cannot write: {e}"),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| DeployError::Record {
            path: path.into(),
            reason: format!("cannot encode: {e}"),
        })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n").map_err(failed)?;
        std::fs::rename(&tmp, path).map_err(failed)
    }
}
