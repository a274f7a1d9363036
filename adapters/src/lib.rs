//! xroute-adapters: the chain side of a router.
//!
//! One [`ChainAdapter`] trait, implemented once per chain family: [`starknet`] (Starknet and
//! Starknet-family appchains, on the starknet-rs family) and [`evm`] (Ethereum as the hub chain, on
//! alloy; Arbitrum-flavoured rollups join it as the same family). An
//! adapter reads the chain: its head and the head it treats as final (head minus the configured
//! confirmations), the xroute messages sent in a block range, whether a message was delivered.
//! Submitting transactions and proofs come with the pipeline. Adapters never decide a message's
//! stage; the pipeline does, from what they report.

mod error;
pub mod evm;
pub mod starknet;

pub use error::{AdapterError, Result};
use xroute_proofs::envelope::{Envelope, MessageId};

/// Lowercase hex of `bytes`, no prefix (for error messages).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A block, by number and hash (the hash detects reorgs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash, 32 bytes.
    pub hash: [u8; 32],
}

/// An xroute message as an adapter found it on its source chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The envelope (its id was checked against the one the endpoint emitted).
    pub envelope: Envelope,
    /// The block it was sent in.
    pub block: BlockRef,
    /// The sending transaction.
    pub tx_hash: [u8; 32],
}

/// What the router needs from one chain.
#[async_trait::async_trait]
pub trait ChainAdapter: Send + Sync {
    /// The chain's configured name.
    fn name(&self) -> &str;

    /// The chain's xroute domain id.
    fn domain(&self) -> u32;

    /// The latest block.
    async fn head(&self) -> Result<BlockRef>;

    /// How many blocks deep a block must be before the router treats it as final.
    fn confirmations(&self) -> u64;

    /// The latest block the router treats as final: `head − confirmations`.
    async fn finalized_head(&self) -> Result<BlockRef> {
        let head = self.head().await?;
        let number = head.number.saturating_sub(self.confirmations());
        if number == head.number {
            return Ok(head);
        }
        Ok(BlockRef {
            number,
            hash: self.block_hash(number).await?,
        })
    }

    /// The hash of block `number` (reorg checks against a stored cursor).
    async fn block_hash(&self, number: u64) -> Result<[u8; 32]>;

    /// xroute messages the endpoint sent in blocks `from..=to`, in chain order.
    async fn sent_messages(&self, from: u64, to: u64) -> Result<Vec<SentMessage>>;

    /// Whether the endpoint on this chain has delivered message `id`.
    async fn is_delivered(&self, id: &MessageId) -> Result<bool>;
}
