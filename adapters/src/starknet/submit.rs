//! Sending invoke transactions on a Starknet-family chain from the router's configured account
//! (a Cairo account contract, signed with its key). One invoke at a time per account: the account
//! contract's nonce is read from the chain for each, so invokes never race on it.
//!
//! The routes of the first relay need no Starknet transaction (the sequencer executes the L1
//! handler of a message the Hub forwarded); appchains that settle on Starknet (Piltover
//! `consume_message_from_appchain`) and the gas tank do.

use starknet_rust::{
    accounts::{Account, ExecutionEncoding, SingleOwnerAccount},
    core::types::{
        BlockId, BlockTag, Call, ExecutionResult, Felt, StarknetError,
        TransactionReceiptWithBlockInfo,
    },
    providers::{JsonRpcClient, Provider, ProviderError, Url, jsonrpc::HttpTransport},
    signers::{LocalWallet, SigningKey},
};
use tokio::sync::Mutex;

use crate::{AdapterError, Result};

/// What became of an invoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeStatus {
    /// Not in a block yet (or unknown to the node).
    Pending,
    /// Executed successfully in block `block`.
    Succeeded {
        /// Block number.
        block: u64,
    },
    /// Reverted, with the chain's reason.
    Reverted {
        /// Revert reason.
        reason: String,
    },
}

/// The router's account on one Starknet-family chain.
#[derive(Debug)]
pub struct StarknetSubmitter {
    chain: String,
    account: SingleOwnerAccount<JsonRpcClient<HttpTransport>, LocalWallet>,
    provider: JsonRpcClient<HttpTransport>,
    lock: Mutex<()>,
}

impl StarknetSubmitter {
    /// The account `address` on chain `name` at `rpc`, signing with `key`. Reads the chain id and
    /// checks that an account contract is deployed at `address`.
    pub async fn new(name: &str, rpc: Url, address: Felt, key: Felt) -> Result<Self> {
        let provider = JsonRpcClient::new(HttpTransport::new(rpc.clone()));
        let rpc_error = |method: &'static str, e: ProviderError| AdapterError::Rpc {
            chain: name.to_string(),
            method,
            message: e.to_string(),
        };
        let chain_id = provider
            .chain_id()
            .await
            .map_err(|e| rpc_error("starknet_chainId", e))?;
        match provider
            .get_class_hash_at(BlockId::Tag(BlockTag::Latest), address)
            .await
        {
            Ok(_) => {}
            Err(ProviderError::StarknetError(StarknetError::ContractNotFound)) => {
                return Err(AdapterError::BadData {
                    chain: name.to_string(),
                    what: "account",
                    tx: String::new(),
                    reason: format!("no account contract is deployed at {address:#x}"),
                });
            }
            Err(e) => return Err(rpc_error("starknet_getClassHashAt", e)),
        }
        let signer = LocalWallet::from(SigningKey::from_secret_scalar(key));
        let account = SingleOwnerAccount::new(
            JsonRpcClient::new(HttpTransport::new(rpc)),
            signer,
            address,
            chain_id,
            ExecutionEncoding::New,
        );
        Ok(Self {
            chain: name.to_string(),
            account,
            provider,
            lock: Mutex::new(()),
        })
    }

    /// The account's address.
    pub fn address(&self) -> Felt {
        self.account.address()
    }

    fn rpc_error(&self, method: &'static str, e: impl std::fmt::Display) -> AdapterError {
        AdapterError::Rpc {
            chain: self.chain.clone(),
            method,
            message: e.to_string(),
        }
    }

    /// Estimates, signs and sends one invoke (V3) with `calls`; returns its hash once the node
    /// accepted it. A call that would fail is reported by the estimate, before anything is sent.
    pub async fn invoke(&self, calls: Vec<Call>) -> Result<Felt> {
        let _one_at_a_time = self.lock.lock().await;
        let sent = self
            .account
            .execute_v3(calls)
            .send()
            .await
            .map_err(|e| self.rpc_error("starknet_addInvokeTransaction", e))?;
        Ok(sent.transaction_hash)
    }

    /// What became of invoke `tx`.
    pub async fn status(&self, tx: Felt) -> Result<InvokeStatus> {
        let receipt: TransactionReceiptWithBlockInfo =
            match self.provider.get_transaction_receipt(tx).await {
                Ok(r) => r,
                Err(ProviderError::StarknetError(StarknetError::TransactionHashNotFound)) => {
                    return Ok(InvokeStatus::Pending);
                }
                Err(e) => return Err(self.rpc_error("starknet_getTransactionReceipt", e)),
            };
        Ok(match receipt.receipt.execution_result() {
            ExecutionResult::Succeeded => InvokeStatus::Succeeded {
                block: receipt.block.block_number(),
            },
            ExecutionResult::Reverted { reason } => InvokeStatus::Reverted {
                reason: reason.clone(),
            },
        })
    }
}
