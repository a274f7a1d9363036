//! The canonical token in a deployment (`[token]` of the deployment file): `XToken` and its
//! `TokenLedger` on L1 (the whole supply minted there once), a `TokenRouter` on every
//! Starknet-family chain (Cairo, declared from the committed Sierra) and every Arbitrum-family
//! chain (Solidity), each router told the ledger and every other chain, and the ledger told each
//! router. A chain added to the file later gets its router and its registration, and every
//! router that lacks the new chain as a destination gets it ("registered both ways").

use alloy::primitives::{Address, B256, U256};
use starknet_rust::{
    accounts::Account,
    core::types::{BlockId, BlockTag, Call, Felt, FunctionCall},
    providers::Provider as _,
};

use super::{
    CairoClass, DeployError, Deployer, EvmContract, Plan, Record, Sent, Step, absent, b256_felt,
    chain_err, code_hash, felt_u256, record_hub, selector, send_evm, wait_starknet,
};

mod bindings {
    #![allow(missing_docs, unreachable_pub)]
    alloy::sol!(
        #[sol(rpc)]
        XToken,
        "../contracts/evm/out/XToken.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        TokenLedger,
        "../contracts/evm/out/TokenLedger.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        TokenRouter,
        "../contracts/evm/out/TokenRouter.json"
    );
}
pub(super) use bindings::{TokenLedger, TokenRouter, XToken};

// Rebuild this crate when an artifact changes (the `sol!` calls above read them, untracked).
const _: &[u8] = include_bytes!("../../../contracts/evm/out/XToken.json");
const _: &[u8] = include_bytes!("../../../contracts/evm/out/TokenLedger.json");
const _: &[u8] = include_bytes!("../../../contracts/evm/out/TokenRouter.json");

/// The committed TokenRouter class (`contracts/starknet/out/token_router.*`), embedded.
const ROUTER: CairoClass = CairoClass {
    sierra: include_str!("../../../contracts/starknet/out/token_router.sierra.json"),
    meta: include_str!("../../../contracts/starknet/out/token_router.class.json"),
    name: "token_router",
};

/// `TokenLedger.Kind` and the routers' destination kinds.
const KIND_EVM: u8 = 1;
const KIND_STARKNET: u8 = 2;
/// Gas counted for a token contract whose estimate needs what is not deployed yet.
const TOKEN_GAS_BOUND: u64 = 5_000_000;
/// Gas counted for a registration or a destination.
const SET_GAS_BOUND: u64 = 120_000;

/// A short string as a felt (Cairo's `'XRT'`).
fn short_string(s: &str) -> Felt {
    Felt::from_bytes_be_slice(s.as_bytes())
}

/// Every chain of the deployment with its domain and destination kind, L1 first.
fn kinds(d: &Deployer) -> Vec<(u32, u8)> {
    let mut out = vec![(d.file.l1.domain, KIND_EVM)];
    out.extend(d.file.starknet.iter().map(|s| (s.domain, KIND_STARKNET)));
    out.extend(d.file.arbitrum.iter().map(|a| (a.domain, KIND_EVM)));
    out
}

impl Deployer {
    /// The token's steps of the plan (none without `[token]`).
    pub(super) async fn plan_token(
        &self,
        record: &Record,
        plan: &mut Plan,
        wei: impl Fn(u64) -> U256,
    ) -> Result<(), DeployError> {
        let Some(token) = &self.file.token else {
            return Ok(());
        };
        let l1 = &self.l1;
        let rec = record.token.as_ref();
        let step =
            |entry: String, action: String, chain: &str, cost: U256, unit: &'static str| Step {
                entry,
                action,
                chain: chain.to_string(),
                cost,
                unit,
            };
        match rec.and_then(|t| t.token.as_ref()) {
            Some(t) => {
                self.check_evm_code(l1, t, "token.l1.token").await?;
                plan.present.push("token.l1.token".into());
            }
            None => plan.steps.push(step(
                "token.l1.token".into(),
                format!(
                    "deploy XToken {:?} ({}) on {}",
                    token.name, token.symbol, l1.name
                ),
                &l1.name,
                wei(TOKEN_GAS_BOUND / 2),
                "wei",
            )),
        }
        match rec.and_then(|t| t.ledger.as_ref()) {
            Some(l) => {
                self.check_evm_code(l1, l, "token.l1.ledger").await?;
                plan.present.push("token.l1.ledger".into());
            }
            None => plan.steps.push(step(
                "token.l1.ledger".into(),
                format!(
                    "deploy the TokenLedger on {}, make it the token's router and mint {} to {}",
                    l1.name,
                    token.initial_supply,
                    token.mint_to.unwrap_or(l1.from)
                ),
                &l1.name,
                wei(TOKEN_GAS_BOUND + 3 * SET_GAS_BOUND),
                "wei",
            )),
        }
        let routers = rec.map(|t| &t.routers);
        for (family, name, domain) in self.rollups() {
            let entry = |what: &str| format!("token.{family}.{name}.{what}");
            let router = routers.and_then(|r| r.get(name));
            match router {
                Some(r) => {
                    self.check_rollup_contract(
                        entry("router"),
                        (family, name),
                        r.address,
                        r.code_hash,
                    )
                    .await?;
                    plan.present.push(entry("router"));
                }
                None => plan.steps.push(step(
                    entry("router"),
                    format!("deploy the token's router on {name} and tell it the ledger"),
                    name,
                    if family == "starknet" {
                        self.router_declare_fee(name).await?
                    } else {
                        self.l2_wei(name, TOKEN_GAS_BOUND).await?
                    },
                    if family == "starknet" { "fri" } else { "wei" },
                )),
            }
            match router.and_then(|r| r.registered.as_ref()) {
                Some(_) => plan.present.push(entry("registered")),
                None => plan.steps.push(step(
                    entry("registered"),
                    format!("register {name}'s router (domain {domain}) on the TokenLedger"),
                    &l1.name,
                    wei(SET_GAS_BOUND),
                    "wei",
                )),
            }
            let missing = match router {
                Some(r) => {
                    self.missing_destinations(family, name, domain, r.address)
                        .await?
                }
                None => kinds(self)
                    .into_iter()
                    .filter(|(d, _)| *d != domain)
                    .collect(),
            };
            if missing.is_empty() {
                plan.present.push(entry("destinations"));
            } else {
                plan.steps.push(step(
                    entry("destinations"),
                    format!(
                        "tell {name}'s router the destinations {}",
                        missing
                            .iter()
                            .map(|(d, _)| d.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    name,
                    if family == "starknet" {
                        U256::ZERO
                    } else {
                        self.l2_wei(name, SET_GAS_BOUND * missing.len() as u64)
                            .await?
                    },
                    if family == "starknet" { "fri" } else { "wei" },
                ));
            }
        }
        Ok(())
    }

    /// Makes the token step `entry`; false when `entry` is not the token's.
    pub(super) async fn execute_token(
        &self,
        entry: &str,
        record: &mut Record,
    ) -> Result<bool, DeployError> {
        let Some(token) = &self.file.token else {
            return Ok(false);
        };
        let parts: Vec<&str> = entry.split('.').collect();
        let l1 = &self.l1;
        match parts.as_slice() {
            ["token", "l1", "token"] => {
                let tx =
                    XToken::deploy_builder(&l1.provider, token.name.clone(), token.symbol.clone())
                        .into_transaction_request();
                let (address, tx, block) = send_evm(l1, tx, "deploy XToken").await?;
                let address =
                    address.ok_or_else(|| chain_err(&l1.name, "deploy XToken", "no address"))?;
                let code = code_hash(l1, address).await?;
                record.token.get_or_insert_with(Default::default).token = Some(EvmContract {
                    address,
                    code_hash: code,
                    tx,
                    block,
                });
            }
            ["token", "l1", "ledger"] => {
                let hub = record_hub(record)?;
                let xtoken = record
                    .token
                    .as_ref()
                    .and_then(|t| t.token.as_ref())
                    .map(|t| t.address)
                    .ok_or_else(|| absent("token.l1.token", "not deployed"))?;
                let tx = TokenLedger::deploy_builder(&l1.provider, hub, xtoken)
                    .into_transaction_request();
                let (address, tx, block) = send_evm(l1, tx, "deploy the TokenLedger").await?;
                let ledger = address
                    .ok_or_else(|| chain_err(&l1.name, "deploy the TokenLedger", "no address"))?;
                let code = code_hash(l1, ledger).await?;
                let set = XToken::new(xtoken, &l1.provider)
                    .setRouter(ledger)
                    .into_transaction_request();
                send_evm(l1, set, "XToken.setRouter").await?;
                let supply: U256 =
                    token
                        .initial_supply
                        .parse()
                        .map_err(|e| DeployError::Config {
                            field: "token.initial_supply".into(),
                            reason: format!("{e}"),
                        })?;
                let init = TokenLedger::new(ledger, &l1.provider)
                    .initialize(token.mint_to.unwrap_or(l1.from), supply)
                    .into_transaction_request();
                send_evm(l1, init, "TokenLedger.initialize").await?;
                record.token.get_or_insert_with(Default::default).ledger = Some(EvmContract {
                    address: ledger,
                    code_hash: code,
                    tx,
                    block,
                });
            }
            ["token", family, name, what] => {
                let ledger = record
                    .token
                    .as_ref()
                    .and_then(|t| t.ledger.as_ref())
                    .map(|l| l.address)
                    .ok_or_else(|| absent("token.l1.ledger", "not deployed"))?;
                let domain = self
                    .rollups()
                    .into_iter()
                    .find(|(f, n, _)| f == family && n == name)
                    .map(|(_, _, d)| d)
                    .ok_or_else(|| chain_err(name, "token step", "not in the deployment file"))?;
                match *what {
                    "router" => {
                        let router = self.deploy_router(family, name, ledger, record).await?;
                        record
                            .token
                            .get_or_insert_with(Default::default)
                            .routers
                            .insert(name.to_string(), router);
                    }
                    "registered" => {
                        let router = record
                            .token
                            .as_ref()
                            .and_then(|t| t.routers.get(*name))
                            .map(|r| r.address)
                            .ok_or_else(|| {
                                absent(format!("token.{family}.{name}.router"), "not deployed")
                            })?;
                        let kind = if *family == "starknet" {
                            KIND_STARKNET
                        } else {
                            KIND_EVM
                        };
                        let tx = TokenLedger::new(ledger, &l1.provider)
                            .registerChain(domain, kind, router)
                            .into_transaction_request();
                        let (_, tx, block) = send_evm(l1, tx, "TokenLedger.registerChain").await?;
                        if let Some(r) =
                            record.token.as_mut().and_then(|t| t.routers.get_mut(*name))
                        {
                            r.registered = Some(Sent { tx, block });
                        }
                    }
                    "destinations" => {
                        let router = record
                            .token
                            .as_ref()
                            .and_then(|t| t.routers.get(*name))
                            .map(|r| r.address)
                            .ok_or_else(|| {
                                absent(format!("token.{family}.{name}.router"), "not deployed")
                            })?;
                        let missing = self
                            .missing_destinations(family, name, domain, router)
                            .await?;
                        self.set_destinations(family, name, router, &missing)
                            .await?;
                    }
                    _ => return Ok(false),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// What declaring the TokenRouter class costs on Starknet-family chain `name` (nothing when
    /// it is declared; its deployment's fee is known only once it is).
    pub(super) async fn router_declare_fee(&self, name: &str) -> Result<U256, DeployError> {
        self.declare_fee(name, ROUTER).await
    }

    /// The chains router `router` on `name` (domain `domain`) does not name as destinations yet.
    pub(super) async fn missing_destinations(
        &self,
        family: &str,
        name: &str,
        domain: u32,
        router: B256,
    ) -> Result<Vec<(u32, u8)>, DeployError> {
        let mut missing = Vec::new();
        for (d, kind) in kinds(self).into_iter().filter(|(d, _)| *d != domain) {
            let have: u8 = if family == "starknet" {
                let side = self.starknet_side(name)?;
                let words = side
                    .client
                    .call(
                        FunctionCall {
                            contract_address: b256_felt(router),
                            entry_point_selector: selector("destination")?,
                            calldata: vec![Felt::from(d)],
                        },
                        BlockId::Tag(BlockTag::Latest),
                    )
                    .await
                    .map_err(|e| chain_err(name, "TokenRouter.destination", e))?;
                words
                    .first()
                    .and_then(|w| u8::try_from(felt_u256(*w)).ok())
                    .unwrap_or(0)
            } else {
                let side = self.arbitrum_side(name)?;
                TokenRouter::new(Address::from_word(router), &side.provider)
                    .destinations(d)
                    .call()
                    .await
                    .map_err(|e| chain_err(name, "TokenRouter.destinations", e))?
            };
            if have != kind {
                missing.push((d, kind));
            }
        }
        Ok(missing)
    }

    pub(super) async fn set_destinations(
        &self,
        family: &str,
        name: &str,
        router: B256,
        missing: &[(u32, u8)],
    ) -> Result<(), DeployError> {
        if missing.is_empty() {
            return Ok(());
        }
        if family == "starknet" {
            let side = self.starknet_side(name)?;
            let calls = missing
                .iter()
                .map(|(d, k)| {
                    Ok(Call {
                        to: b256_felt(router),
                        selector: selector("set_destination")?,
                        calldata: vec![Felt::from(*d), Felt::from(*k)],
                    })
                })
                .collect::<Result<Vec<_>, DeployError>>()?;
            let result = side
                .account
                .execute_v3(calls)
                .send()
                .await
                .map_err(|e| chain_err(name, "TokenRouter.set_destination", e))?;
            wait_starknet(side, result.transaction_hash).await?;
            return Ok(());
        }
        let side = self.arbitrum_side(name)?;
        for (d, k) in missing {
            let tx = TokenRouter::new(Address::from_word(router), &side.provider)
                .setDestination(*d, *k)
                .into_transaction_request();
            send_evm(side, tx, "TokenRouter.setDestination").await?;
        }
        Ok(())
    }

    /// Deploys the token's router on rollup `name` and tells it the ledger.
    pub(super) async fn deploy_router(
        &self,
        family: &str,
        name: &str,
        ledger: Address,
        record: &Record,
    ) -> Result<super::record::RollupContract, DeployError> {
        let token = self
            .file
            .token
            .as_ref()
            .ok_or_else(|| absent("token", "no [token] in the file"))?;
        let ledger_word = ledger.into_word();
        if family == "starknet" {
            let side = self.starknet_side(name)?;
            let endpoint = record
                .starknet
                .get(name)
                .and_then(|r| r.endpoint.as_ref())
                .map(|e| b256_felt(e.address))
                .ok_or_else(|| absent(format!("starknet.{name}.endpoint"), "not deployed"))?;
            let salt = super::salt(&self.file.name, &format!("token:{name}"), 0);
            let router = self
                .deploy_class(
                    side,
                    ROUTER,
                    vec![
                        short_string(&token.name),
                        short_string(&token.symbol),
                        endpoint,
                        Felt::from(self.file.l1.domain),
                        side.account.address(),
                    ],
                    salt,
                )
                .await?;
            let address = b256_felt(router.address);
            let set = side
                .account
                .execute_v3(vec![Call {
                    to: address,
                    selector: selector("set_ledger")?,
                    calldata: vec![Felt::from_bytes_be(&ledger_word.0)],
                }])
                .send()
                .await
                .map_err(|e| chain_err(name, "TokenRouter.set_ledger", e))?;
            wait_starknet(side, set.transaction_hash).await?;
            return Ok(router);
        }
        let side = self.arbitrum_side(name)?;
        let endpoint = record
            .arbitrum
            .get(name)
            .and_then(|r| r.endpoint.as_ref())
            .map(|e| e.address)
            .ok_or_else(|| absent(format!("arbitrum.{name}.endpoint"), "not deployed"))?;
        let tx = TokenRouter::deploy_builder(
            &side.provider,
            token.name.clone(),
            token.symbol.clone(),
            endpoint,
            self.file.l1.domain,
        )
        .into_transaction_request();
        let (address, tx, block) = send_evm(side, tx, "deploy the TokenRouter").await?;
        let address =
            address.ok_or_else(|| chain_err(name, "deploy the TokenRouter", "no address"))?;
        let code = code_hash(side, address).await?;
        let set = TokenRouter::new(address, &side.provider)
            .setLedger(ledger_word)
            .into_transaction_request();
        send_evm(side, set, "TokenRouter.setLedger").await?;
        Ok(super::record::RollupContract {
            address: address.into_word(),
            code_hash: code,
            tx,
            block,
            registered: None,
        })
    }
}
