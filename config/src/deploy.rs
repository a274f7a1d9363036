//! `deploy.toml`: what `xroute deploy` puts on which chain, with whose key. One `[l1]` block (the
//! Hub's chain), a `[[starknet]]` block per Starknet-family chain and an `[[arbitrum]]` block per
//! Arbitrum-family chain (each gets xroute's endpoint and the Hub's registration). Keys are files
//! (keystores or plain), as in a router's config; relative paths are against the file's folder.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

use crate::{
    ConfigError, Felt, Result, RpcUrl,
    chains::{address, optional_address},
};

/// The whole deployment file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployFile {
    /// The deployment's name: its record is `deployments/NAME.json` beside this file unless
    /// `record` says where.
    pub name: String,
    /// Where the deployment record is kept (default `deployments/NAME.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<PathBuf>,
    /// The L1 chain: the Hub.
    pub l1: DeployL1,
    /// Starknet-family chains: an Endpoint each.
    #[serde(default)]
    pub starknet: Vec<DeployStarknet>,
    /// Arbitrum-family chains: an ArbitrumEndpoint each.
    #[serde(default)]
    pub arbitrum: Vec<DeployArbitrum>,
    /// The canonical token on every chain of the file (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<DeployToken>,
    /// The DeFi pool: an ERC-4626 vault over the token on L1, its manager, and a pool on each
    /// rollup named (optional; needs `[token]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<DeployPool>,
}

/// `[pool]`: L2 users' deposits pooled into one vault on L1, an epoch at a time (ADR 0009).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployPool {
    /// The vault's share name.
    pub vault_name: String,
    /// The vault's share symbol.
    pub vault_symbol: String,
    /// Seconds an epoch stays open before anyone can close it.
    pub period: u64,
    /// Tokens (base units, decimal) that let anyone close an epoch early.
    pub size: String,
    /// The rollups that get a pool, by chain name (a chain added later gets one when it is
    /// named here and `xroute deploy` runs again).
    pub chains: Vec<String>,
}

/// `[token]`: the canonical token, burned and minted by message, its supply kept on L1.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployToken {
    /// Its name (at most 31 characters: a Cairo short string).
    pub name: String,
    /// Its symbol (at most 31 characters).
    pub symbol: String,
    /// The whole supply in base units, decimal, minted once on L1.
    pub initial_supply: String,
    /// Who receives it (default: the L1 deployer).
    #[serde(
        default,
        deserialize_with = "optional_address",
        skip_serializing_if = "Option::is_none"
    )]
    pub mint_to: Option<Address>,
}

/// `[l1]`: where the Hub goes and who deploys it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployL1 {
    /// A name for the chain (the router config's chain name).
    pub name: String,
    /// The xroute domain id of L1.
    pub domain: u32,
    /// JSON-RPC endpoint.
    pub rpc: RpcUrl,
    /// The deployer's secp256k1 key file (keystore or plain): it deploys the Hub and registers
    /// every chain (the Hub's owner until `owner` takes over).
    pub deployer_key_file: PathBuf,
    /// The Hub's owner once everything is registered (default: the deployer stays owner).
    #[serde(
        default,
        deserialize_with = "optional_address",
        skip_serializing_if = "Option::is_none"
    )]
    pub owner: Option<Address>,
}

/// `[[starknet]]`: a Starknet-family chain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployStarknet {
    /// A name for the chain.
    pub name: String,
    /// Its xroute domain id.
    pub domain: u32,
    /// JSON-RPC endpoint.
    pub rpc: RpcUrl,
    /// The chain's messaging contract on L1 (Starknet's core contract, an appchain's own).
    #[serde(deserialize_with = "address")]
    pub l1_messaging: Address,
    /// The deploying account (declares the Endpoint's class and deploys it).
    pub account: Felt,
    /// The account's key file.
    pub account_key_file: PathBuf,
}

/// `[[arbitrum]]`: an Arbitrum-family chain and its bridge on L1.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployArbitrum {
    /// A name for the chain.
    pub name: String,
    /// Its xroute domain id.
    pub domain: u32,
    /// JSON-RPC endpoint of the L2.
    pub rpc: RpcUrl,
    /// The rollup's Inbox on L1.
    #[serde(deserialize_with = "address")]
    pub inbox: Address,
    /// The rollup's Bridge on L1.
    #[serde(deserialize_with = "address")]
    pub bridge: Address,
    /// The rollup's Outbox on L1.
    #[serde(deserialize_with = "address")]
    pub outbox: Address,
    /// The deployer's key file on the L2.
    pub deployer_key_file: PathBuf,
}

impl DeployFile {
    /// Parses TOML text (no validation, no path resolved); `path` only names the source in
    /// errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        crate::parse_toml(path, text)
    }

    /// Reads, parses and validates `path`; relative paths inside are resolved against its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let mut file = Self::parse(path, &text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut file.l1.deployer_key_file);
        for s in &mut file.starknet {
            resolve(&mut s.account_key_file);
        }
        for a in &mut file.arbitrum {
            resolve(&mut a.deployer_key_file);
        }
        let record = file
            .record
            .take()
            .unwrap_or_else(|| PathBuf::from(format!("deployments/{}.json", file.name)));
        file.record = Some(if record.is_relative() {
            base.join(record)
        } else {
            record
        });
        file.validate(path)?;
        Ok(file)
    }

    /// The record's path.
    pub fn record_path(&self) -> PathBuf {
        self.record
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("deployments/{}.json", self.name)))
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let invalid = |field: String, problem: String| ConfigError::Invalid {
            path: path.into(),
            field,
            problem,
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                "name".into(),
                format!(
                    "{:?} is not a name of letters, digits, '-' and '_' (it names the record file)",
                    self.name
                ),
            ));
        }
        let mut domains = HashSet::new();
        let mut names = HashSet::new();
        let chains = std::iter::once(("l1".to_string(), self.l1.domain, &self.l1.name))
            .chain(
                self.starknet
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (format!("starknet[{i}]"), s.domain, &s.name)),
            )
            .chain(
                self.arbitrum
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (format!("arbitrum[{i}]"), a.domain, &a.name)),
            );
        for (field, domain, name) in chains {
            if domain == 0 {
                return Err(invalid(
                    format!("{field}.domain"),
                    "0 is not a domain".into(),
                ));
            }
            if !domains.insert(domain) {
                return Err(invalid(
                    format!("{field}.domain"),
                    format!("domain {domain} is taken by another chain of this file"),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(invalid(
                    format!("{field}.name"),
                    format!("{name:?} names another chain of this file"),
                ));
            }
        }
        if let Some(token) = &self.token {
            for (field, value) in [("token.name", &token.name), ("token.symbol", &token.symbol)] {
                if value.is_empty() || value.len() > 31 || !value.is_ascii() {
                    return Err(invalid(
                        field.into(),
                        format!("{value:?} is not 1 to 31 ASCII characters (a Cairo short string)"),
                    ));
                }
            }
            if alloy_primitives::U256::from_str_radix(&token.initial_supply, 10).is_err() {
                return Err(invalid(
                    "token.initial_supply".into(),
                    format!(
                        "{:?} is not a decimal amount of base units",
                        token.initial_supply
                    ),
                ));
            }
        }
        if let Some(pool) = &self.pool {
            self.validate_pool(pool, path)?;
        }
        let keys = std::iter::once((
            "l1.deployer_key_file".to_string(),
            &self.l1.deployer_key_file,
        ))
        .chain(self.starknet.iter().enumerate().map(|(i, s)| {
            (
                format!("starknet[{i}].account_key_file"),
                &s.account_key_file,
            )
        }))
        .chain(self.arbitrum.iter().enumerate().map(|(i, a)| {
            (
                format!("arbitrum[{i}].deployer_key_file"),
                &a.deployer_key_file,
            )
        }));
        for (field, key) in keys {
            if !key.is_file() {
                return Err(invalid(field, format!("{} is not a file", key.display())));
            }
        }
        Ok(())
    }

    fn validate_pool(&self, pool: &DeployPool, path: &Path) -> Result<()> {
        let invalid = |field: &str, problem: String| ConfigError::Invalid {
            path: path.into(),
            field: field.into(),
            problem,
        };
        if self.token.is_none() {
            return Err(invalid(
                "pool",
                "the pool's vault holds the canonical token: the file needs [token] too".into(),
            ));
        }
        for (field, value) in [
            ("pool.vault_name", &pool.vault_name),
            ("pool.vault_symbol", &pool.vault_symbol),
        ] {
            if value.is_empty() {
                return Err(invalid(field, "empty".into()));
            }
        }
        if pool.period == 0 {
            return Err(invalid(
                "pool.period",
                "0 seconds: epochs would never stay open".into(),
            ));
        }
        // The Cairo pool counts an epoch in a u128 (`amount.high == 0`).
        match alloy_primitives::U256::from_str_radix(&pool.size, 10) {
            Ok(size) if !size.is_zero() && size < (alloy_primitives::U256::from(1u8) << 128) => {}
            _ => {
                return Err(invalid(
                    "pool.size",
                    format!(
                        "{:?} is not a decimal amount of base units from 1 to 2^128 - 1",
                        pool.size
                    ),
                ));
            }
        }
        let rollups: HashSet<&str> = self
            .starknet
            .iter()
            .map(|s| s.name.as_str())
            .chain(self.arbitrum.iter().map(|a| a.name.as_str()))
            .collect();
        let mut seen = HashSet::new();
        for (i, chain) in pool.chains.iter().enumerate() {
            if !rollups.contains(chain.as_str()) {
                return Err(invalid(
                    &format!("pool.chains[{i}]"),
                    format!("{chain:?} is no [[starknet]] or [[arbitrum]] chain of this file"),
                ));
            }
            if !seen.insert(chain) {
                return Err(invalid(
                    &format!("pool.chains[{i}]"),
                    format!("{chain:?} is named twice"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        std::fs::write(dir.join("key"), "0x01").unwrap();
        let path = dir.join("deploy.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    const GOOD: &str = "name = \"net\"\n[l1]\nname = \"ethereum\"\ndomain = 1\n\
        rpc = \"http://127.0.0.1:8545\"\ndeployer_key_file = \"key\"\n\
        [[starknet]]\nname = \"starknet\"\ndomain = 2\nrpc = \"http://127.0.0.1:5050/rpc\"\n\
        l1_messaging = \"0x00000000000000000000000000000000000000aa\"\naccount = \"0x5\"\n\
        account_key_file = \"key\"\n";

    const TOKEN: &str = "[token]\nname = \"T\"\nsymbol = \"T\"\ninitial_supply = \"10\"\n";
    const POOL: &str = "[pool]\nvault_name = \"V\"\nvault_symbol = \"V\"\nperiod = 60\n\
        size = \"1000\"\nchains = [\"starknet\"]\n";

    #[test]
    fn a_deploy_file_loads_with_its_paths_resolved_and_its_record_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = DeployFile::load(&write(dir.path(), GOOD)).unwrap();
        assert_eq!(file.l1.deployer_key_file, dir.path().join("key"));
        assert_eq!(file.record_path(), dir.path().join("deployments/net.json"));
        let file = DeployFile::load(&write(dir.path(), &format!("{GOOD}{TOKEN}{POOL}"))).unwrap();
        assert_eq!(file.pool.unwrap().chains, vec!["starknet".to_string()]);
    }

    #[test]
    fn a_bad_deploy_file_is_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        for (text, field) in [
            (
                GOOD.replace("domain = 2", "domain = 1"),
                "starknet[0].domain",
            ),
            (
                GOOD.replace("name = \"starknet\"", "name = \"ethereum\""),
                "starknet[0].name",
            ),
            (
                GOOD.replace("account_key_file = \"key\"", "account_key_file = \"nope\""),
                "starknet[0].account_key_file",
            ),
            (GOOD.replace("name = \"net\"", "name = \"a/b\""), "name"),
            (format!("{GOOD}{POOL}"), "the file needs [token]"),
            (
                format!("{GOOD}{TOKEN}{}", POOL.replace("\"starknet\"", "\"arb\"")),
                "pool.chains[0]",
            ),
            (
                format!("{GOOD}{TOKEN}{}", POOL.replace("period = 60", "period = 0")),
                "pool.period",
            ),
            (
                format!(
                    "{GOOD}{TOKEN}{}",
                    POOL.replace(
                        "size = \"1000\"",
                        "size = \"340282366920938463463374607431768211456\""
                    )
                ),
                "pool.size",
            ),
            (
                GOOD.replace("0x00000000000000000000000000000000000000aa", "0x1"),
                "line 11",
            ),
        ] {
            let err = DeployFile::load(&write(dir.path(), &text))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
