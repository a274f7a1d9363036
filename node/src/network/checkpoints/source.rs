//! Where a router's checkpoints come from: L1 through the router's chains
//! ([`ChainsCheckpoints`]), or a recorded list ([`RecordedCheckpoints`]: benchmarks, tests).

use xroute_adapters::{AdapterError, BlockRef, ChainAdapter, ChainAdapterExt, FoundCheckpoint};

use crate::pipeline::Chains;
/// Where a router's checkpoints come from: L1 through the router's chains, or a recorded list
/// (benchmarks).
#[async_trait::async_trait]
pub trait CheckpointSource: Send + Sync + std::fmt::Debug {
    /// The checkpointed source domains.
    fn domains(&self) -> Vec<u32>;

    /// The domain learned messages record as their source chain's (L1's: they were learned from
    /// an L1 transaction).
    fn l1_domain(&self) -> u32;

    /// The L1 block this router treats as final.
    async fn finalized(&self) -> Result<BlockRef, AdapterError>;

    /// The checkpoints of `domain` in the L1 blocks `from..=to` (at most the finalized block), in
    /// block order.
    async fn checkpoints(
        &self,
        domain: u32,
        from: u64,
        to: u64,
    ) -> Result<Vec<FoundCheckpoint>, AdapterError>;
}

/// The router's chains as its checkpoint source: every chain whose adapter is checkpointed, read
/// from the hub chain's L1.
#[derive(Debug, Clone)]
pub struct ChainsCheckpoints {
    chains: Chains,
}

impl ChainsCheckpoints {
    /// Over `chains`.
    pub fn new(chains: Chains) -> Self {
        Self { chains }
    }
}

#[async_trait::async_trait]
impl CheckpointSource for ChainsCheckpoints {
    fn domains(&self) -> Vec<u32> {
        self.chains
            .adapters()
            .iter()
            .filter(|c| c.checkpointed())
            .map(|c| c.domain())
            .collect()
    }

    fn l1_domain(&self) -> u32 {
        self.chains.hub_domain()
    }

    async fn finalized(&self) -> Result<BlockRef, AdapterError> {
        self.chains.hub().finalized_head().await
    }

    async fn checkpoints(
        &self,
        domain: u32,
        from: u64,
        to: u64,
    ) -> Result<Vec<FoundCheckpoint>, AdapterError> {
        let not = |why: &str| AdapterError::config(format!("domain {domain}"), why.to_string());
        let chain: &dyn ChainAdapter = self
            .chains
            .get(domain)
            .ok_or_else(|| not("no chain of this domain is configured"))?
            .as_ref();
        let l1 = self
            .chains
            .hub()
            .as_l1()
            .ok_or_else(|| not("the hub chain cannot serve as L1"))?;
        chain
            .checkpoints(l1, from, to)
            .await?
            .ok_or_else(|| not("this chain is not checkpointed"))
    }
}

/// L1's checkpoints as a recorded list: what a router reads from a capture of L1 (the network
/// benchmark, tests), final up to a block its owner moves.
#[derive(Debug)]
pub struct RecordedCheckpoints {
    finalized: std::sync::atomic::AtomicU64,
    found: Vec<FoundCheckpoint>,
}

impl RecordedCheckpoints {
    /// `found`, final up to L1 block `finalized`.
    pub fn new(found: Vec<FoundCheckpoint>, finalized: u64) -> Self {
        Self {
            finalized: finalized.into(),
            found,
        }
    }

    /// The checkpoints of domain `domain` over `messages`, `per_block` to an L1 block from
    /// block 1 (block hashes made up from their numbers).
    pub fn of_messages(
        domain: u32,
        messages: &[xroute_proofs::envelope::Envelope],
        per_block: usize,
    ) -> Vec<FoundCheckpoint> {
        messages
            .chunks(per_block.max(1))
            .enumerate()
            .filter_map(|(b, chunk)| {
                let number = b as u64 + 1;
                let hash = alloy_primitives::keccak256(number.to_be_bytes());
                let checkpoint = xroute_proofs::checkpoint::Checkpoint::new(
                    domain,
                    number,
                    hash,
                    chunk.iter().map(|e| e.id()).collect(),
                )
                .ok()?;
                let messages = chunk
                    .iter()
                    .map(|e| xroute_adapters::SentMessage {
                        envelope: e.clone(),
                        block: BlockRef {
                            number,
                            hash: hash.0,
                        },
                        tx_hash: [0xcc; 32],
                    })
                    .collect();
                Some(FoundCheckpoint {
                    checkpoint,
                    messages,
                })
            })
            .collect()
    }

    /// Makes L1 final up to `block`.
    pub fn set_finalized(&self, block: u64) {
        self.finalized
            .store(block, std::sync::atomic::Ordering::Relaxed);
    }

    /// The recorded checkpoints.
    pub fn found(&self) -> &[FoundCheckpoint] {
        &self.found
    }
}

#[async_trait::async_trait]
impl CheckpointSource for RecordedCheckpoints {
    fn domains(&self) -> Vec<u32> {
        let mut d: Vec<u32> = self
            .found
            .iter()
            .map(|f| f.checkpoint.claim.domain)
            .collect();
        d.sort_unstable();
        d.dedup();
        d
    }

    /// A recorded L1 is domain 1.
    fn l1_domain(&self) -> u32 {
        1
    }

    async fn finalized(&self) -> Result<BlockRef, AdapterError> {
        Ok(BlockRef {
            number: self.finalized.load(std::sync::atomic::Ordering::Relaxed),
            hash: [0; 32],
        })
    }

    async fn checkpoints(
        &self,
        domain: u32,
        from: u64,
        to: u64,
    ) -> Result<Vec<FoundCheckpoint>, AdapterError> {
        Ok(self
            .found
            .iter()
            .filter(|f| {
                let c = f.checkpoint.claim;
                c.domain == domain && (from..=to).contains(&c.l1_block)
            })
            .cloned()
            .collect())
    }
}
