//! The router's chains, built from the configuration through [`build_adapter`]: the L1 hub chain
//! (`family = "ethereum"`) and every other chain, by domain. The pipeline knows them only as
//! [`ChainAdapter`]s.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use xroute_adapters::{
    AdapterError, BlockRef, ChainAdapter, ChainAdapterExt, L1, L1State, Submitter, build_adapter,
};
use xroute_config::ChainConfig;

use super::PipelineError;

/// Every chain of one router.
#[derive(Debug, Clone)]
pub struct Chains {
    hub: u32,
    by_domain: BTreeMap<u32, Arc<dyn ChainAdapter>>,
}

impl Chains {
    /// Connects to every chain of `configs` (reads its keys, checks its account and chain id).
    pub async fn connect(configs: &[ChainConfig]) -> Result<Self, PipelineError> {
        let mut by_domain = BTreeMap::new();
        let mut hub = None;
        for chain in configs {
            let adapter = connect_until_up(chain).await?;
            if chain.is_hub() {
                hub = Some(chain.domain());
            }
            by_domain.insert(chain.domain(), adapter);
        }
        let hub = hub.ok_or_else(|| PipelineError::Config("no hub chain configured".into()))?;
        Self::new(hub, by_domain)
    }

    /// The chains `by_domain`, with `hub` the L1 hub chain's domain. The hub chain must serve as
    /// L1 (storage proofs) and have a relayer.
    pub fn new(
        hub: u32,
        by_domain: BTreeMap<u32, Arc<dyn ChainAdapter>>,
    ) -> Result<Self, PipelineError> {
        let Some(adapter) = by_domain.get(&hub) else {
            return Err(PipelineError::Config(format!(
                "no chain has the hub domain {hub}"
            )));
        };
        if adapter.as_l1().is_none() {
            return Err(PipelineError::Config(format!(
                "chain {} is the hub chain, but its family cannot serve as L1",
                adapter.name()
            )));
        }
        if adapter.submitter().is_none() {
            return Err(PipelineError::Config(format!(
                "chain {} is the hub chain, but has no relayer key",
                adapter.name()
            )));
        }
        Ok(Self { hub, by_domain })
    }

    /// The L1 hub chain.
    pub fn hub(&self) -> &Arc<dyn ChainAdapter> {
        // Checked in `new`.
        &self.by_domain[&self.hub]
    }

    /// The hub chain's domain.
    pub fn hub_domain(&self) -> u32 {
        self.hub
    }

    /// The relayer on L1 (checked in `new`).
    pub fn l1_submitter(&self) -> Result<&dyn Submitter, AdapterError> {
        self.hub().submitter().ok_or_else(|| {
            AdapterError::config(
                format!("chains.{}.signer_key_file", self.hub().name()),
                "the hub chain has no relayer",
            )
        })
    }

    /// L1 at its finalized block `finalized`, for exits and entries.
    pub fn l1(&self, finalized: BlockRef) -> Result<L1<'_>, AdapterError> {
        Ok(L1 {
            state: self.l1_state()?,
            finalized,
        })
    }

    /// The hub chain as L1.
    pub fn l1_state(&self) -> Result<&dyn L1State, AdapterError> {
        self.hub().as_l1().ok_or_else(|| {
            AdapterError::config(
                format!("chains.{}", self.hub().name()),
                "the hub chain cannot serve as L1",
            )
        })
    }

    /// The chain of `domain`, if configured.
    pub fn get(&self, domain: u32) -> Option<&Arc<dyn ChainAdapter>> {
        self.by_domain.get(&domain)
    }

    /// Every chain, hub first.
    pub fn adapters(&self) -> Vec<Arc<dyn ChainAdapter>> {
        let mut out = vec![self.hub().clone()];
        out.extend(
            self.by_domain
                .iter()
                .filter(|(d, _)| **d != self.hub)
                .map(|(_, c)| c.clone()),
        );
        out
    }

    /// The name of `domain`'s chain, if configured.
    pub fn name_of(&self, domain: u32) -> Option<&str> {
        self.get(domain).map(|c| c.name())
    }
}

/// The first wait between two tries to connect to a chain whose node fails, and the longest.
const CONNECT_BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));

/// Connects to `chain`, trying again while its node fails (times out, refuses, answers garbage
/// or another chain's id): a router started while a node is down waits for it instead of
/// exiting. A config error (a key file, a field) still fails at once.
async fn connect_until_up(chain: &ChainConfig) -> Result<Arc<dyn ChainAdapter>, PipelineError> {
    let mut wait = CONNECT_BACKOFF.0;
    loop {
        match build_adapter(chain).await {
            Ok(adapter) => return Ok(adapter),
            Err(e) if e.is_transient() => {
                tracing::warn!(
                    chain = chain.name(),
                    error = %e,
                    "cannot connect: its node fails; trying again in {} ms",
                    wait.as_millis()
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(CONNECT_BACKOFF.1);
            }
            Err(e) => return Err(e.into()),
        }
    }
}
