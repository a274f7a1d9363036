//! Planning a deployment: every recorded item checked on its chain, each missing one a step
//! with its estimated cost, and the deployers' funds against the plan.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Deployer {
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
        // The recorded Hub, or where the deployer's next transaction will create it.
        let hub_address = match record.l1.as_ref().and_then(|l| l.hub.as_ref()) {
            Some(hub) => {
                self.check_hub(hub).await?;
                plan.present.push("l1.hub".into());
                hub.address
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
        self.plan_pool(record, &mut plan, &wei).await?;
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

    /// What declaring `class` costs on Starknet-family chain `name` (nothing when it is
    /// declared; a deployment of it is estimated only once it is).
    pub(super) async fn declare_fee(
        &self,
        name: &str,
        class: CairoClass,
    ) -> Result<U256, DeployError> {
        let side = self.starknet_side(name)?;
        let (flat, class_hash, compiled) = class.load()?;
        if self.class_declared(side, class_hash).await? {
            return Ok(U256::ZERO);
        }
        let estimate = side
            .account
            .declare_v3(Arc::new(flat), compiled)
            .estimate_fee()
            .await
            .map_err(|e| {
                chain_err(
                    name,
                    format!("starknet_estimateFee (declare {})", class.name),
                    e,
                )
            })?;
        Ok(U256::from(estimate.overall_fee))
    }

    /// The balance of the deployer on chain `chain`: amount, address, unit (`wei`, or `fri` of
    /// STRK on a Starknet-family chain).
    pub(super) async fn balance(
        &self,
        chain: &str,
    ) -> Result<(U256, String, &'static str), DeployError> {
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
}
