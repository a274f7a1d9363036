//! The DeFi pool in a deployment (`[pool]` of the deployment file, ADR 0009): the ERC-4626
//! `PoolVault` over the canonical token and the `PoolManager` beside it on L1, and a pool on each
//! rollup the file names (the Cairo pool on a Starknet-family chain, its Solidity twin on an
//! Arbitrum-family chain), each registered with the manager. With `l1.owner`, the manager's and
//! the vault's ownership go to that owner too.

use alloy::primitives::{Address, B256, U256};
use starknet_rust::core::types::Felt;

use super::{
    CairoClass, DeployError, Deployer, EvmContract, Plan, Record, RollupContract, Sent, StatusLine,
    Step, absent, b256_felt, chain_err, code_hash, send_evm,
};

mod bindings {
    #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
    alloy::sol!(
        #[sol(rpc)]
        PoolVault,
        "../contracts/evm/out/PoolVault.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        PoolManager,
        "../contracts/evm/out/PoolManager.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        Pool,
        "../contracts/evm/out/Pool.json"
    );
}
use bindings::{Pool, PoolManager, PoolVault};

// Rebuild this crate when an artifact changes (the `sol!` calls above read them, untracked).
const _: &[u8] = include_bytes!("../../../contracts/evm/out/PoolVault.json");
const _: &[u8] = include_bytes!("../../../contracts/evm/out/PoolManager.json");
const _: &[u8] = include_bytes!("../../../contracts/evm/out/Pool.json");

/// The committed Cairo pool class (`contracts/starknet/out/pool.*`), embedded.
const POOL: CairoClass = CairoClass {
    sierra: include_str!("../../../contracts/starknet/out/pool.sierra.json"),
    meta: include_str!("../../../contracts/starknet/out/pool.class.json"),
    name: "pool",
};

/// Gas counted for a pool contract (the vault, the manager, a Solidity pool).
const POOL_GAS_BOUND: u64 = 4_000_000;
/// Gas counted for a registration or an ownership transfer.
const SET_GAS_BOUND: u64 = 120_000;

impl Deployer {
    /// The rollups `[pool]` names: (family, name, domain).
    fn pool_chains(&self) -> Vec<(&'static str, &str, u32)> {
        let Some(pool) = &self.file.pool else {
            return Vec::new();
        };
        self.rollups()
            .into_iter()
            .filter(|(_, name, _)| pool.chains.iter().any(|c| c == name))
            .collect()
    }

    /// `[pool]`'s size, as a number.
    fn pool_size(&self) -> Result<U256, DeployError> {
        let pool = self
            .file
            .pool
            .as_ref()
            .ok_or_else(|| absent("pool", "no [pool] in the file"))?;
        pool.size.parse().map_err(|e| DeployError::Config {
            field: "pool.size".into(),
            reason: format!("{e}"),
        })
    }

    /// The pool's steps of the plan (none without `[pool]`).
    pub(super) async fn plan_pool(
        &self,
        record: &Record,
        plan: &mut Plan,
        wei: impl Fn(u64) -> U256,
    ) -> Result<(), DeployError> {
        let Some(pool) = &self.file.pool else {
            return Ok(());
        };
        let l1 = &self.l1;
        let rec = record.pool.clone().unwrap_or_default();
        let mut step = |entry: &str, action: String, chain: &str, cost: U256, unit| {
            plan.steps.push(Step {
                entry: entry.into(),
                action,
                chain: chain.into(),
                cost,
                unit,
            });
        };
        let mut present = Vec::new();
        for (entry, c, action) in [
            (
                "pool.l1.vault",
                &rec.vault,
                format!(
                    "deploy the PoolVault {:?} ({}) over the token on {}",
                    pool.vault_name, pool.vault_symbol, l1.name
                ),
            ),
            (
                "pool.l1.manager",
                &rec.manager,
                format!("deploy the PoolManager on {}", l1.name),
            ),
        ] {
            match c {
                Some(c) => {
                    self.check_evm_code(l1, c, entry).await?;
                    present.push(entry.to_string());
                }
                None => step(entry, action, &l1.name, wei(POOL_GAS_BOUND), "wei"),
            }
        }
        for (family, name, domain) in self.pool_chains() {
            let entry = |what: &str| format!("pool.{family}.{name}.{what}");
            let deployed = rec.pools.get(name);
            match deployed {
                Some(p) => {
                    self.check_rollup_contract(
                        entry("pool"),
                        (family, name),
                        p.address,
                        p.code_hash,
                    )
                    .await?;
                    present.push(entry("pool"));
                }
                None => {
                    let (cost, unit) = if family == "starknet" {
                        (self.declare_fee(name, POOL).await?, "fri")
                    } else {
                        (self.l2_wei(name, POOL_GAS_BOUND).await?, "wei")
                    };
                    step(
                        &entry("pool"),
                        format!(
                            "deploy a pool on {name} ({}-second epochs, size {})",
                            pool.period, pool.size
                        ),
                        name,
                        cost,
                        unit,
                    );
                }
            }
            match deployed.filter(|p| p.registered.is_some()) {
                Some(p) => {
                    self.check_pool_registered(&rec, domain, p.address, &entry("registered"))
                        .await?;
                    present.push(entry("registered"));
                }
                None => step(
                    &entry("registered"),
                    format!("register {name}'s pool (domain {domain}) with the PoolManager"),
                    &l1.name,
                    wei(SET_GAS_BOUND),
                    "wei",
                ),
            }
        }
        if let Some(owner) = self.file.l1.owner {
            if rec.owner_set.is_some() {
                self.check_pool_owner(&rec, owner).await?;
                present.push("pool.l1.owner_set".into());
            } else {
                step(
                    "pool.l1.owner_set",
                    format!("hand the PoolManager's and the PoolVault's ownership to {owner}"),
                    &l1.name,
                    wei(2 * SET_GAS_BOUND),
                    "wei",
                );
            }
        }
        plan.present.extend(present);
        Ok(())
    }

    /// Makes the pool step `entry`.
    pub(super) async fn execute_pool(
        &self,
        entry: &str,
        record: &mut Record,
    ) -> Result<(), DeployError> {
        let pool = self
            .file
            .pool
            .as_ref()
            .ok_or_else(|| absent(entry, "no [pool] in the file"))?;
        let l1 = &self.l1;
        let token = record.token.clone().unwrap_or_default();
        let rec = record.pool.get_or_insert_with(Default::default);
        let recorded = |c: &Option<EvmContract>, what: &str| {
            c.as_ref()
                .map(|c| c.address)
                .ok_or_else(|| absent(what, "not deployed"))
        };
        let parts: Vec<&str> = entry.split('.').collect();
        match parts.as_slice() {
            ["pool", "l1", "vault"] => {
                let tx = PoolVault::deploy_builder(
                    &l1.provider,
                    recorded(&token.token, "token.l1.token")?,
                    pool.vault_name.clone(),
                    pool.vault_symbol.clone(),
                )
                .into_transaction_request();
                rec.vault = Some(self.deployed_on_l1(tx, "deploy the PoolVault").await?);
            }
            ["pool", "l1", "manager"] => {
                let tx = PoolManager::deploy_builder(
                    &l1.provider,
                    recorded(&token.ledger, "token.l1.ledger")?,
                    recorded(&rec.vault, "pool.l1.vault")?,
                )
                .into_transaction_request();
                rec.manager = Some(self.deployed_on_l1(tx, "deploy the PoolManager").await?);
            }
            ["pool", "l1", "owner_set"] => {
                let owner = self.file.l1.owner.unwrap_or(l1.from);
                let tx = PoolManager::new(recorded(&rec.manager, "pool.l1.manager")?, &l1.provider)
                    .transferOwnership(owner)
                    .into_transaction_request();
                send_evm(l1, tx, "PoolManager.transferOwnership").await?;
                let tx = PoolVault::new(recorded(&rec.vault, "pool.l1.vault")?, &l1.provider)
                    .transferOwnership(owner)
                    .into_transaction_request();
                let (_, tx, block) = send_evm(l1, tx, "PoolVault.transferOwnership").await?;
                rec.owner_set = Some(Sent { tx, block });
            }
            ["pool", family, name, what] => {
                let manager = recorded(&rec.manager, "pool.l1.manager")?;
                let (_, _, domain) = self
                    .pool_chains()
                    .into_iter()
                    .find(|(f, n, _)| f == family && n == name)
                    .ok_or_else(|| chain_err(name, "pool step", "not in [pool].chains"))?;
                match *what {
                    "pool" => {
                        let router =
                            token.routers.get(*name).map(|r| r.address).ok_or_else(|| {
                                absent(format!("token.{family}.{name}.router"), "not deployed")
                            })?;
                        let deployed = self
                            .deploy_pool(family, name, router, manager, pool.period)
                            .await?;
                        rec.pools.insert(name.to_string(), deployed);
                    }
                    "registered" => {
                        let at = rec.pools.get(*name).map(|p| p.address).ok_or_else(|| {
                            absent(format!("pool.{family}.{name}.pool"), "not deployed")
                        })?;
                        let tx = PoolManager::new(manager, &l1.provider)
                            .registerPool(domain, at)
                            .into_transaction_request();
                        let (_, tx, block) = send_evm(l1, tx, "PoolManager.registerPool").await?;
                        if let Some(p) = rec.pools.get_mut(*name) {
                            p.registered = Some(Sent { tx, block });
                        }
                    }
                    _ => return Err(absent(entry, "not a step of the pool")),
                }
            }
            _ => return Err(absent(entry, "not a step of the pool")),
        }
        Ok(())
    }

    /// Sends contract creation `tx` on L1 and records what it made.
    async fn deployed_on_l1(
        &self,
        tx: alloy::rpc::types::TransactionRequest,
        what: &str,
    ) -> Result<EvmContract, DeployError> {
        let l1 = &self.l1;
        let (address, tx, block) = send_evm(l1, tx, what).await?;
        let address = address.ok_or_else(|| chain_err(&l1.name, what, "no contract address"))?;
        Ok(EvmContract {
            address,
            code_hash: code_hash(l1, address).await?,
            tx,
            block,
        })
    }

    /// Deploys a pool on rollup `name` over the token's router `router`, answering to `manager`.
    async fn deploy_pool(
        &self,
        family: &str,
        name: &str,
        router: B256,
        manager: Address,
        period: u64,
    ) -> Result<RollupContract, DeployError> {
        let size = self.pool_size()?;
        let l1_domain = self.file.l1.domain;
        if family == "starknet" {
            let side = self.starknet_side(name)?;
            let [low, high] = [
                Felt::from(size.to::<u128>()),
                Felt::from((size >> 128usize).to::<u128>()),
            ];
            let calldata = vec![
                b256_felt(router),
                Felt::from_bytes_be_slice(manager.as_slice()),
                Felt::from(l1_domain),
                Felt::from(period),
                low,
                high,
            ];
            let salt = super::salt(&self.file.name, &format!("pool:{name}"), 0);
            return self.deploy_class(side, POOL, calldata, salt).await;
        }
        let side = self.arbitrum_side(name)?;
        let tx = Pool::deploy_builder(
            &side.provider,
            Address::from_word(router),
            manager.into_word(),
            l1_domain,
            period,
            size,
        )
        .into_transaction_request();
        let (address, tx, block) = send_evm(side, tx, "deploy the Pool").await?;
        let address = address.ok_or_else(|| chain_err(name, "deploy the Pool", "no address"))?;
        Ok(RollupContract {
            address: address.into_word(),
            code_hash: code_hash(side, address).await?,
            tx,
            block,
            registered: None,
        })
    }

    /// That the manager registers `pool` for `domain`.
    async fn check_pool_registered(
        &self,
        rec: &super::PoolRecord,
        domain: u32,
        pool: B256,
        entry: &str,
    ) -> Result<(), DeployError> {
        let manager = rec
            .manager
            .as_ref()
            .map(|m| m.address)
            .ok_or_else(|| absent("pool.l1.manager", "not deployed"))?;
        let now = PoolManager::new(manager, &self.l1.provider)
            .pools(domain)
            .call()
            .await
            .map_err(|e| chain_err(&self.l1.name, "PoolManager.pools", e))?;
        if now != pool {
            return Err(DeployError::Drift {
                entry: entry.into(),
                reason: format!("the PoolManager names pool {now} for domain {domain}"),
            });
        }
        Ok(())
    }

    /// That the manager and the vault are owned by `owner`.
    async fn check_pool_owner(
        &self,
        rec: &super::PoolRecord,
        owner: Address,
    ) -> Result<(), DeployError> {
        let l1 = &self.l1;
        let drift = |what: &str, now: Address| DeployError::Drift {
            entry: "pool.l1.owner_set".into(),
            reason: format!("the {what}'s owner is {now}, the file says {owner}"),
        };
        if let Some(m) = &rec.manager {
            let now = PoolManager::new(m.address, &l1.provider)
                .owner()
                .call()
                .await
                .map_err(|e| chain_err(&l1.name, "PoolManager.owner", e))?;
            if now != owner {
                return Err(drift("PoolManager", now));
            }
        }
        if let Some(v) = &rec.vault {
            let now = PoolVault::new(v.address, &l1.provider)
                .owner()
                .call()
                .await
                .map_err(|e| chain_err(&l1.name, "PoolVault.owner", e))?;
            if now != owner {
                return Err(drift("PoolVault", now));
            }
        }
        Ok(())
    }

    /// The pool's status lines (none without `[pool]`).
    pub(super) async fn status_pool(&self, record: &Record) -> Vec<StatusLine> {
        let mut lines = Vec::new();
        if self.file.pool.is_none() {
            return lines;
        }
        let rec = record.pool.clone().unwrap_or_default();
        for (entry, c) in [
            ("pool.l1.vault", &rec.vault),
            ("pool.l1.manager", &rec.manager),
        ] {
            lines.push(self.l1_contract_line(entry, c.as_ref()).await);
        }
        for (family, name, domain) in self.pool_chains() {
            let entry = |what: &str| format!("pool.{family}.{name}.{what}");
            let Some(p) = rec.pools.get(name) else {
                lines.push(StatusLine::of(
                    entry("pool"),
                    Err(absent(entry("pool"), "not deployed")),
                ));
                continue;
            };
            lines.push(StatusLine::of(
                entry("pool"),
                self.check_rollup_contract(entry("pool"), (family, name), p.address, p.code_hash)
                    .await
                    .map(|()| format!("{} on {name}, as deployed", p.address)),
            ));
            let registered = match &p.registered {
                Some(_) => self
                    .check_pool_registered(&rec, domain, p.address, &entry("registered"))
                    .await
                    .map(|()| format!("domain {domain} on the PoolManager, this pool")),
                None => Err(absent(entry("registered"), "not registered")),
            };
            lines.push(StatusLine::of(entry("registered"), registered));
        }
        if let Some(owner) = self.file.l1.owner {
            let r = match rec.owner_set {
                Some(_) => self
                    .check_pool_owner(&rec, owner)
                    .await
                    .map(|()| format!("{owner} owns the PoolManager and the PoolVault")),
                None => Err(absent("pool.l1.owner_set", "not handed over")),
            };
            lines.push(StatusLine::of("pool.l1.owner".into(), r));
        }
        lines
    }
}
