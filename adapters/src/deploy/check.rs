//! What a recorded item must be on its chain: code hash, class hash, constructor values, the
//! Hub's registration.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Deployer {
    /// The Endpoint already at `address` (its deterministic address), checked as a recorded one
    /// is, or `None` when nothing is deployed there. Its transaction is unknown (zero) and its
    /// block is the block it was found in.
    pub(super) async fn found_endpoint(
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

    pub(super) async fn class_declared(
        &self,
        side: &StarknetSide,
        class: Felt,
    ) -> Result<bool, DeployError> {
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

    pub(super) async fn check_hub(&self, hub: &EvmContract) -> Result<(), DeployError> {
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

    pub(super) async fn check_starknet_endpoint(
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

    pub(super) async fn check_arbitrum_endpoint(
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
    pub(super) async fn check_registration(
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

    /// (family, name, domain) of every rollup of the file.
    pub(super) fn rollups(&self) -> Vec<(&'static str, &str, u32)> {
        let mut out: Vec<(&'static str, &str, u32)> = self
            .file
            .starknet
            .iter()
            .map(|s| ("starknet", s.name.as_str(), s.domain))
            .collect();
        out.extend(
            self.file
                .arbitrum
                .iter()
                .map(|a| ("arbitrum", a.name.as_str(), a.domain)),
        );
        out
    }

    pub(super) async fn l2_wei(&self, name: &str, gas: u64) -> Result<U256, DeployError> {
        use alloy::providers::Provider;
        let side = self
            .arbitrum
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| chain_err(name, "gas price", "not in the deployment file"))?;
        let price = side
            .provider
            .get_gas_price()
            .await
            .map_err(|e| chain_err(name, "eth_gasPrice", e))?;
        Ok(U256::from(gas) * U256::from(price) * U256::from(2u8))
    }

    pub(super) async fn check_evm_code(
        &self,
        side: &EvmSide,
        c: &EvmContract,
        entry: &str,
    ) -> Result<(), DeployError> {
        let code = code_hash(side, c.address)
            .await
            .map_err(|_| DeployError::Drift {
                entry: entry.into(),
                reason: format!("no code at {} on {}", c.address, side.name),
            })?;
        if code != c.code_hash {
            return Err(DeployError::Drift {
                entry: entry.into(),
                reason: format!(
                    "the code at {} is not what the record names (code hash {code}, recorded {})",
                    c.address, c.code_hash
                ),
            });
        }
        Ok(())
    }

    /// That the contract recorded as `entry` on rollup `name` (of `family`) is there with its
    /// code or class.
    pub(super) async fn check_rollup_contract(
        &self,
        entry: String,
        (family, name): (&str, &str),
        address: B256,
        hash: B256,
    ) -> Result<(), DeployError> {
        if family == "starknet" {
            let side = self.starknet_side(name)?;
            let found = side
                .client
                .get_class_hash_at(BlockId::Tag(BlockTag::Latest), b256_felt(address))
                .await
                .map_err(|e| DeployError::Drift {
                    entry: entry.clone(),
                    reason: format!("no contract at {address} on {name}: {e}"),
                })?;
            if felt_b256(found) != hash {
                return Err(DeployError::Drift {
                    entry,
                    reason: format!(
                        "the contract at {address} is of class {found:#x}, recorded {hash}"
                    ),
                });
            }
            return Ok(());
        }
        let side = self.arbitrum_side(name)?;
        self.check_evm_code(
            side,
            &EvmContract {
                address: Address::from_word(address),
                code_hash: hash,
                tx: B256::ZERO,
                block: 0,
            },
            &entry,
        )
        .await
    }

    pub(super) fn starknet_side(&self, name: &str) -> Result<&StarknetSide, DeployError> {
        self.starknet
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| chain_err(name, "deployment", "not in the deployment file"))
    }

    pub(super) fn arbitrum_side(&self, name: &str) -> Result<&EvmSide, DeployError> {
        self.arbitrum
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| chain_err(name, "deployment", "not in the deployment file"))
    }
}
