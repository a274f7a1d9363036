//! Chains from configuration: one `[[chains]]` block, one adapter.

use std::sync::Arc;

use xroute_config::ChainConfig;

use crate::{AdapterError, ChainAdapter, Result, evm::EvmAdapter, starknet::StarknetAdapter};

/// Connects to the chain of `config` and returns its adapter: its RPC (with the block's
/// timeouts and retries), the router's account there (keys read, account checked), its
/// contracts. A new family is a new arm here, a module of this crate and a config block.
pub async fn build_adapter(config: &ChainConfig) -> Result<Arc<dyn ChainAdapter>> {
    Ok(match config {
        ChainConfig::Evm(c) => match (c.hub, &c.arbitrum) {
            (Some(hub), None) => Arc::new(EvmAdapter::connect(c, hub).await?),
            (None, Some(contracts)) => Arc::new(EvmAdapter::connect_arbitrum(c, contracts).await?),
            (Some(_), Some(_)) => {
                return Err(AdapterError::config(
                    format!("chains.{}.arbitrum", c.name),
                    "a chain with `hub` is the L1 hub chain and cannot also be an Arbitrum rollup",
                ));
            }
            (None, None) => {
                return Err(AdapterError::config(
                    format!("chains.{}", c.name),
                    "an EVM chain without `hub` is an EVM rollup, and a rollup needs its L1 \
                     bridge configured: add [chains.arbitrum] with `inbox`, `bridge`, `outbox` \
                     and the L2 `endpoint`",
                ));
            }
        },
        ChainConfig::Starknet(c) => Arc::new(StarknetAdapter::connect(c).await?),
    })
}

#[cfg(test)]
mod tests {
    use xroute_config::{EvmChain, RpcUrl};

    use super::*;

    /// An EVM chain without `hub` is an EVM rollup, refused (before any connection) with the
    /// fields it would need.
    #[tokio::test]
    async fn an_evm_rollup_is_refused_naming_the_bridge_fields() {
        let config = ChainConfig::Evm(EvmChain {
            name: "arbitrum".into(),
            domain: 4,
            rpc: RpcUrl::new("http://127.0.0.1:9").unwrap(),
            confirmations: 0,
            chain_id: None,
            hub: None,
            arbitrum: None,
            signer_key_file: "/nonexistent".into(),
            transport: Default::default(),
        });
        let err = build_adapter(&config).await.unwrap_err().to_string();
        assert!(err.starts_with("chains.arbitrum: "), "{err}");
        for field in ["`inbox`", "`bridge`", "`outbox`", "`endpoint`"] {
            assert!(err.contains(field), "{err}");
        }
    }
}
