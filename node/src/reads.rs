//! Storage reads of a past L1 block (issue 31, docs/accounts.md): what answers one that an
//! `L1Reader` keeps. The request names a block and (account, slot) pairs; the answer is the
//! block's RLP header and, per pair, `eth_getProof`'s account and storage proofs at that block,
//! which the reader checks against the block's hash before it sends the values on. Each value is
//! checked here too ([`xroute_proofs::storage::AccountProof`]), so a node's wrong proof fails
//! before anything is sent.

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
use xroute_proofs::accounts::StorageRequest;

alloy::sol! {
    /// The part of `L1Reader` (contracts/evm/src/AccountRouter.sol) that storage reads use.
    #[sol(rpc)]
    #[derive(Debug)]
    interface IL1Reader {
        struct StorageRead {
            uint32 domain;
            bytes32 requester;
            uint256[] request;
        }
        struct Proofs {
            bytes header;
            bytes[][] account;
            bytes[][] slot;
        }
        event StorageReadKept(uint256 indexed id, uint32 domain, bytes32 requester, uint256 blockNumber, uint256[] request);
        function answerStorage(uint256 id, StorageRead read, Proofs proofs) external;
        function pendingStorage(uint256 id) external view returns (bytes32);
    }
}

/// Why a storage read cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The reader logged no such read.
    #[error("{reader} kept no storage read {id} (no StorageReadKept)")]
    NotKept {
        /// The reader.
        reader: Address,
        /// The read asked for.
        id: u64,
    },
    /// The read was answered already.
    #[error("storage read {0} was answered already")]
    Answered(u64),
    /// The read's block is not made yet.
    #[error("block {0} is not made yet")]
    NoBlock(u64),
    /// The L1 node failed or answered something that does not decode or does not check.
    #[error("{what}: {reason}")]
    Node {
        /// What was asked.
        what: String,
        /// What went wrong.
        reason: String,
    },
}

fn node(what: impl Into<String>) -> impl FnOnce(String) -> ReadError {
    let what = what.into();
    move |reason| ReadError::Node { what, reason }
}

/// Everything `answerStorage` takes for one kept read, and the values it proves.
#[derive(Debug, Clone)]
pub struct StorageAnswer {
    /// The read's id.
    pub id: u64,
    /// The read as the reader logged it.
    pub read: IL1Reader::StorageRead,
    /// The header and proofs.
    pub proofs: IL1Reader::Proofs,
    /// The block read.
    pub block: u64,
    /// The values, in the request's order (checked here against the header's state root).
    pub values: Vec<U256>,
}

impl StorageAnswer {
    /// The `answerStorage` calldata.
    pub fn calldata(&self) -> Vec<u8> {
        IL1Reader::answerStorageCall {
            id: U256::from(self.id),
            read: self.read.clone(),
            proofs: self.proofs.clone(),
        }
        .abi_encode()
    }
}

/// Reads kept storage read `id` of `reader` on `l1` and builds its answer.
pub async fn storage_answer<P: Provider>(
    l1: &P,
    reader: Address,
    id: u64,
) -> Result<StorageAnswer, ReadError> {
    let logs = l1
        .get_logs(
            &Filter::new()
                .address(reader)
                .event_signature(IL1Reader::StorageReadKept::SIGNATURE_HASH)
                .topic1(U256::from(id))
                .from_block(0),
        )
        .await
        .map_err(|e| node(format!("StorageReadKept({id}) of {reader}"))(e.to_string()))?;
    let log = logs.last().ok_or(ReadError::NotKept { reader, id })?;
    let kept = IL1Reader::StorageReadKept::decode_log_data(&log.inner.data)
        .map_err(|e| node(format!("StorageReadKept({id})"))(e.to_string()))?;
    let pending = IL1Reader::new(reader, l1)
        .pendingStorage(U256::from(id))
        .call()
        .await
        .map_err(|e| node(format!("pendingStorage({id})"))(e.to_string()))?;
    if pending == B256::ZERO {
        return Err(ReadError::Answered(id));
    }
    let request = StorageRequest::decode(&kept.request)
        .map_err(|e| node(format!("StorageReadKept({id})'s request"))(e.to_string()))?;
    let block = l1
        .get_block_by_number(BlockNumberOrTag::Number(request.block))
        .await
        .map_err(|e| node(format!("block {}", request.block))(e.to_string()))?
        .ok_or(ReadError::NoBlock(request.block))?;
    let header = block.header.inner.clone();
    if header.hash_slow() != block.header.hash {
        return Err(node(format!("block {}", request.block))(
            "its header does not hash to the hash the node gives".into(),
        ));
    }
    let mut account = Vec::new();
    let mut slot = Vec::new();
    let mut values = Vec::new();
    for r in &request.reads {
        let what = format!(
            "eth_getProof({}, {}) at block {}",
            r.account, r.slot, request.block
        );
        let answer = l1
            .get_proof(r.account, vec![r.slot])
            .block_id(request.block.into())
            .await
            .map_err(|e| node(what.clone())(e.to_string()))?;
        let proof: xroute_proofs::storage::AccountProof = serde_json::to_value(&answer)
            .and_then(serde_json::from_value)
            .map_err(|e| node(what.clone())(e.to_string()))?;
        let value = proof
            .verify_slot_of(r.account, header.state_root, r.slot)
            .map_err(|e| node(what.clone())(e.to_string()))?;
        values.push(value);
        account.push(answer.account_proof);
        slot.push(
            answer
                .storage_proof
                .into_iter()
                .next()
                .map(|p| p.proof)
                .unwrap_or_default(),
        );
    }
    Ok(StorageAnswer {
        id,
        read: IL1Reader::StorageRead {
            domain: kept.domain,
            requester: kept.requester,
            request: kept.request,
        },
        proofs: IL1Reader::Proofs {
            header: Bytes::from(alloy::rlp::encode(&header)),
            account,
            slot,
        },
        block: request.block,
        values,
    })
}
