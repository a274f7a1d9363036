//! Chains from configuration: one `[[chains]]` block, one adapter. The one place that names every
//! kind of chain: a new one is an arm here, a module of this crate and its config block.

use std::sync::Arc;

use xroute_config::ChainConfig;

use crate::{
    ChainAdapter, Result,
    evm::{ArbitrumAdapter, HubChainAdapter, arbitrum},
    hub::BridgeReverts,
    starknet::StarknetAdapter,
};

/// What the rollup bridges the Hub calls into revert with, for reading the Hub's transactions.
const BRIDGE_REVERTS: &[BridgeReverts] = &[arbitrum::classify_bridge_revert];

/// Connects to the chain of `config` and returns its adapter: its RPC (with the block's
/// timeouts and retries), the router's account there (keys read, account checked), its
/// contracts.
pub async fn build_adapter(config: &ChainConfig) -> Result<Arc<dyn ChainAdapter>> {
    Ok(match config {
        ChainConfig::Ethereum(c) => Arc::new(HubChainAdapter::connect(c, BRIDGE_REVERTS).await?),
        ChainConfig::Arbitrum(c) => Arc::new(ArbitrumAdapter::connect(c).await?),
        ChainConfig::Starknet(c) => Arc::new(StarknetAdapter::connect(c).await?),
    })
}

/// The chain of `config` without the router's account: nothing is connected yet and no key is
/// read (a keystore's passphrase is not asked for); it reads, checks (`ChainAdapter::check`)
/// and sends nothing.
pub fn build_reader(config: &ChainConfig) -> Result<Arc<dyn ChainAdapter>> {
    Ok(match config {
        ChainConfig::Ethereum(c) => Arc::new(HubChainAdapter::read_only(c, BRIDGE_REVERTS)?),
        ChainConfig::Arbitrum(c) => Arc::new(ArbitrumAdapter::read_only(c)?),
        ChainConfig::Starknet(c) => Arc::new(StarknetAdapter::read_only(c)?),
    })
}
