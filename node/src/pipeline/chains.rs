//! The router's chains, built from the configuration: the L1 hub chain (reads, proofs, relay
//! transactions) and the Starknet-family rollups (reads, fee quotes, delivery checks).

use std::{collections::BTreeMap, path::Path};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use xroute_adapters::{
    ChainAdapter,
    evm::{EvmAdapter, submit::EvmSubmitter},
    starknet::{StarknetAdapter, submit::StarknetSubmitter},
};
use xroute_config::{ChainConfig, Config};
use xroute_proofs::storage::MessagingLayout;

use super::PipelineError;

/// The L1 hub chain.
#[derive(Debug)]
pub struct HubChain {
    /// Reads and storage proofs.
    pub adapter: EvmAdapter,
    /// Relay transactions.
    pub submitter: EvmSubmitter,
}

/// A Starknet-family chain whose messages cross through the Hub.
#[derive(Debug)]
pub struct Rollup {
    /// Reads, fee quotes, delivery checks.
    pub adapter: StarknetAdapter,
    /// The router's account there (checked at startup; the first relay's routes send nothing on
    /// Starknet, the sequencer executes the L1 handlers).
    pub submitter: StarknetSubmitter,
    /// Its messaging contract on L1.
    pub l1_messaging: Address,
    /// That contract's storage layout.
    pub layout: MessagingLayout,
}

/// Every chain of one router.
#[derive(Debug)]
pub struct Chains {
    /// L1.
    pub hub: HubChain,
    /// Rollups by domain.
    pub rollups: BTreeMap<u32, Rollup>,
}

impl Chains {
    /// Connects to every configured chain (reads the hub key file; checks the chain id answers).
    pub async fn connect(config: &Config) -> Result<Self, PipelineError> {
        let mut hub = None;
        let mut rollups = BTreeMap::new();
        for (i, chain) in config.chains.iter().enumerate() {
            match chain {
                ChainConfig::Evm(c) => {
                    let Some(hub_address) = c.hub else {
                        return Err(PipelineError::Config(format!(
                            "chains[{i}] ({}): an EVM chain without `hub` is not supported yet \
                             (EVM rollups land with the Arbitrum issue)",
                            c.name
                        )));
                    };
                    let url = c
                        .rpc
                        .expose()
                        .parse()
                        .map_err(|e| PipelineError::Config(format!("chains[{i}].rpc: {e}")))?;
                    let adapter =
                        EvmAdapter::new(&c.name, c.domain, url, hub_address, c.confirmations);
                    let signer = read_evm_key(&c.signer_key_file)?;
                    let submitter =
                        EvmSubmitter::new(&c.name, adapter.provider().clone(), signer).await?;
                    hub = Some(HubChain { adapter, submitter });
                }
                ChainConfig::Starknet(c) => {
                    let url: starknet_rust::providers::Url = c
                        .rpc
                        .expose()
                        .parse()
                        .map_err(|e| PipelineError::Config(format!("chains[{i}].rpc: {e}")))?;
                    let account = xroute_proofs::starknet::felt_from_u256("account", c.account.0)
                        .map_err(|e| {
                        PipelineError::Config(format!("chains[{i}].account: {e}"))
                    })?;
                    let key = read_felt_key(&c.account_key_file)?;
                    let submitter =
                        StarknetSubmitter::new(&c.name, url.clone(), account, key).await?;
                    let endpoint =
                        xroute_proofs::starknet::felt_from_u256("endpoint", c.endpoint.0).map_err(
                            |e| PipelineError::Config(format!("chains[{i}].endpoint: {e}")),
                        )?;
                    let adapter =
                        StarknetAdapter::new(&c.name, c.domain, url, endpoint, c.confirmations);
                    let layout = match c.messaging_layout {
                        xroute_config::MessagingLayout::Current => MessagingLayout::current(),
                        xroute_config::MessagingLayout::V1 => MessagingLayout::v1(),
                    };
                    rollups.insert(
                        c.domain,
                        Rollup {
                            adapter,
                            submitter,
                            l1_messaging: c.l1_messaging,
                            layout,
                        },
                    );
                }
            }
        }
        let hub = hub.ok_or_else(|| PipelineError::Config("no hub chain configured".into()))?;
        Ok(Self { hub, rollups })
    }

    /// Every chain's adapter, hub first.
    pub fn adapters(&self) -> Vec<&dyn ChainAdapter> {
        let mut out: Vec<&dyn ChainAdapter> = vec![&self.hub.adapter];
        out.extend(
            self.rollups
                .values()
                .map(|r| &r.adapter as &dyn ChainAdapter),
        );
        out
    }

    /// The hub chain's domain.
    pub fn hub_domain(&self) -> u32 {
        self.hub.adapter.domain()
    }

    /// The name of `domain`'s chain, if configured.
    pub fn name_of(&self, domain: u32) -> Option<&str> {
        if domain == self.hub_domain() {
            return Some(self.hub.adapter.name());
        }
        self.rollups.get(&domain).map(|r| r.adapter.name())
    }
}

/// Reads a 0x-hex secp256k1 key from `path`. The error names the file, never the key.
fn read_evm_key(path: &Path) -> Result<PrivateKeySigner, PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        PipelineError::Config(format!("cannot read key file {}: {e}", path.display()))
    })?;
    text.trim().parse().map_err(|_| {
        PipelineError::Config(format!(
            "key file {} does not hold a 0x-hex secp256k1 key",
            path.display()
        ))
    })
}

/// Reads a 0x-hex Starknet key (a felt) from `path`. The error names the file, never the key.
fn read_felt_key(path: &Path) -> Result<starknet_rust::core::types::Felt, PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        PipelineError::Config(format!("cannot read key file {}: {e}", path.display()))
    })?;
    starknet_rust::core::types::Felt::from_hex(text.trim()).map_err(|_| {
        PipelineError::Config(format!(
            "key file {} does not hold a 0x-hex Starknet key",
            path.display()
        ))
    })
}
