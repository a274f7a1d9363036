//! The checkpoints (issue 16) of a Starknet-family chain: what one finalized L1 block's state
//! update made consumable from the chain's endpoint to the Hub, read from the messaging
//! contract's `LogMessageToL1` logs on L1.

use alloy::primitives::B256;
use xroute_proofs::{
    checkpoint::{self, Checkpoint, MessageToL1Log},
    envelope::Envelope,
    starknet::felt_to_u256,
};

use super::StarknetAdapter;
use crate::{AdapterError, BlockRef, FoundCheckpoint, L1State, Result, SentMessage};

alloy::sol! {
    /// The Starknet messaging contract's event for a message made consumable on L1.
    interface IStarknetMessagingLogs {
        event LogMessageToL1(uint256 indexed fromAddress, address indexed toAddress, uint256[] payload);
    }
}

impl StarknetAdapter {
    /// The checkpoint of this chain at L1 block `block` (issue 16): the messages to the Hub that
    /// block's state update made consumable, from the messaging contract's `LogMessageToL1` logs
    /// at that block's hash, in log order. `None` when it made none. Computed from L1 alone: a
    /// router that indexed none of them computes the same.
    pub async fn checkpoint(
        &self,
        l1: &dyn L1State,
        block: BlockRef,
    ) -> Result<Option<Checkpoint>> {
        let filter = self
            .messaging_filter()?
            .at_block_hash(B256::from(block.hash));
        let found = self.found_checkpoints(l1, &filter).await?;
        if let Some(other) = found
            .iter()
            .find(|f| f.checkpoint.claim.l1_block != block.number)
        {
            return Err(AdapterError::bad(
                &self.info.name,
                "LogMessageToL1",
                None,
                format!(
                    "asked for L1 block {}, the RPC answered a log of block {}",
                    block.number, other.checkpoint.claim.l1_block
                ),
            ));
        }
        Ok(found.into_iter().next().map(|f| f.checkpoint))
    }

    /// The filter of the messaging contract's `LogMessageToL1` logs.
    pub(super) fn messaging_filter(&self) -> Result<alloy::rpc::types::Filter> {
        use alloy::sol_types::SolEvent;
        let Some((messaging, _)) = &self.l1_messaging else {
            return Err(AdapterError::config(
                format!("chains.{}.l1_messaging", self.info.name),
                "this adapter was built without the chain's L1 messaging contract",
            ));
        };
        Ok(alloy::rpc::types::Filter::new()
            .address(*messaging)
            .event_signature(IStarknetMessagingLogs::LogMessageToL1::SIGNATURE_HASH))
    }

    /// The checkpoints of the L1 logs `filter` selects, one per block, in block order.
    pub(super) async fn found_checkpoints(
        &self,
        l1: &dyn L1State,
        filter: &alloy::rpc::types::Filter,
    ) -> Result<Vec<FoundCheckpoint>> {
        use alloy::sol_types::SolEvent;
        // (block number, block hash) → its logs, with each log's transaction.
        let mut blocks: std::collections::BTreeMap<(u64, B256), Vec<(MessageToL1Log, B256)>> =
            Default::default();
        for log in l1.logs(filter).await? {
            let at = format!("L1 block {:?} log {:?}", log.block_number, log.log_index);
            let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
                continue; // pending
            };
            let event =
                IStarknetMessagingLogs::LogMessageToL1::decode_log(&log.inner).map_err(|e| {
                    AdapterError::bad(&self.info.name, "LogMessageToL1", Some(at), e.to_string())
                })?;
            blocks.entry((number, hash)).or_default().push((
                MessageToL1Log {
                    log_index: log.log_index.unwrap_or_default(),
                    from_address: event.fromAddress,
                    to_address: event.toAddress,
                    payload: event.payload.clone(),
                },
                log.transaction_hash.unwrap_or_default(),
            ));
        }
        let endpoint = felt_to_u256(self.endpoint);
        let mut out = Vec::new();
        for ((number, hash), logs) in blocks {
            let only: Vec<MessageToL1Log> = logs.iter().map(|(l, _)| l.clone()).collect();
            let Some(checkpoint) = checkpoint::starknet_checkpoint(
                self.info.domain,
                number,
                hash,
                l1.hub(),
                endpoint,
                &only,
            )
            .map_err(|e| AdapterError::bad(&self.info.name, "checkpoint", None, e.to_string()))?
            else {
                continue;
            };
            // The envelopes the checkpoint kept, by id, with their L1 transaction.
            let mut by_id = std::collections::HashMap::new();
            for (log, tx) in &logs {
                let words: Vec<B256> = log.payload.iter().map(|w| B256::from(*w)).collect();
                if let Ok(envelope) = Envelope::from_words(&words) {
                    by_id.insert(envelope.id(), (envelope, *tx));
                }
            }
            let messages = checkpoint
                .ids
                .iter()
                .filter_map(|id| by_id.get(id))
                .map(|(envelope, tx)| SentMessage {
                    envelope: envelope.clone(),
                    block: BlockRef {
                        number,
                        hash: hash.0,
                    },
                    tx_hash: tx.0,
                })
                .collect();
            out.push(FoundCheckpoint {
                checkpoint,
                messages,
            });
        }
        Ok(out)
    }
}
