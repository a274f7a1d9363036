//! Making a plan's steps in order, the record saved after each.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Deployer {
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
                ["token", ..] => {
                    if !self.execute_token(&step.entry, record).await? {
                        return Err(absent(&step.entry, "not a step of the token"));
                    }
                }
                ["pool", ..] => self.execute_pool(&step.entry, record).await?,
                _ => return Err(absent(&step.entry, "not a step of a deployment")),
            }
            saved(record)?;
            let (after, _, _) = self.balance(&step.chain).await?;
            paid.push(before.saturating_sub(after));
        }
        Ok(paid)
    }

    /// Declares `class` on `side` unless it is declared, then deploys it through the UDC with
    /// `calldata` and `salt` (its address is then the same on every run).
    pub(super) async fn deploy_class(
        &self,
        side: &StarknetSide,
        class: CairoClass,
        calldata: Vec<Felt>,
        salt: Felt,
    ) -> Result<RollupContract, DeployError> {
        let name = &side.name;
        let (flat, class_hash, compiled) = class.load()?;
        if !self.class_declared(side, class_hash).await? {
            let result = side
                .account
                .declare_v3(Arc::new(flat), compiled)
                .send()
                .await
                .map_err(|e| chain_err(name, format!("declare the {} class", class.name), e))?;
            wait_starknet(side, result.transaction_hash).await?;
        }
        let factory = ContractFactory::new_with_udc(class_hash, &side.account, UdcSelector::New);
        let deployment = factory.deploy_v3(calldata, salt, false);
        let address = deployment.deployed_address();
        let result = deployment
            .send()
            .await
            .map_err(|e| chain_err(name, format!("deploy {}", class.name), e))?;
        let block = wait_starknet(side, result.transaction_hash).await?;
        Ok(RollupContract {
            address: felt_b256(address),
            code_hash: felt_b256(class_hash),
            tx: felt_b256(result.transaction_hash),
            block,
            registered: None,
        })
    }
}
