//! Chains from configuration: one `[[chains]]` block, one adapter.

use std::sync::Arc;

use xroute_config::ChainConfig;

use crate::{AdapterError, ChainAdapter, Result, evm::EvmAdapter, starknet::StarknetAdapter};

/// Connects to the chain of `config` and returns its adapter: its RPC (with the block's
/// timeouts and retries), the router's account there (keys read, account checked), its
/// contracts. A new family is a new arm here, a module of this crate and a config block.
pub async fn build_adapter(config: &ChainConfig) -> Result<Arc<dyn ChainAdapter>> {
    Ok(match config {
        ChainConfig::Evm(c) => match c.hub {
            Some(hub) => Arc::new(EvmAdapter::connect(c, hub).await?),
            None => {
                return Err(AdapterError::config(
                    format!("chains.{}", c.name),
                    "an EVM chain without `hub` is an EVM rollup, and a rollup needs its L1 \
                     bridge configured (`inbox`, `bridge`, `outbox` and the L2 `endpoint`), which \
                     this version does not support yet; only the L1 hub chain (with `hub`) can be \
                     an EVM chain",
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
            hub: None,
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
