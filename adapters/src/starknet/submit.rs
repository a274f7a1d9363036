//! Sending invoke transactions on a Starknet-family chain from the router's configured account
//! (a Cairo account contract, signed with its key): the chain's [`Submitter`].
//!
//! Invokes (V3) are signed under a nonce the lease holds, persisted by the caller as the JSON of
//! the broadcasted transaction, then sent; the nonce moves on only when the node accepts one, so
//! invokes never race on it. The routes of today need no Starknet transaction (the sequencer
//! executes the L1 handler of a message the Hub forwarded); appchains that settle on Starknet
//! (Piltover `consume_message_from_appchain`) and the gas tank do.

use alloy::primitives::{B256, Bytes, U256};
use async_trait::async_trait;
use starknet_rust::{
    accounts::{Account, AccountError, ConnectedAccount, ExecutionEncoding, SingleOwnerAccount},
    core::types::{
        BlockId, BlockTag, BroadcastedInvokeTransaction, Call as StarknetCall, ExecutionResult,
        FeeEstimate, Felt, StarknetError, TransactionReceiptWithBlockInfo,
    },
    providers::{Provider, ProviderError, Url},
    signers::{LocalWallet, SigningKey},
};
use tokio::sync::{Mutex, MutexGuard};

use super::StarknetClient;
use crate::{
    AdapterError, Call, Estimate, Fees, Lease, Mined, Result, Revert, SignedTx, Submitter,
    transport,
};

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

type RouterAccount = SingleOwnerAccount<StarknetClient, LocalWallet>;

/// The router's account on one Starknet-family chain.
#[derive(Debug)]
pub struct StarknetSubmitter {
    chain: String,
    account: RouterAccount,
    /// The next nonce to use; `None` until read from the chain (and after the node refused an
    /// invoke for its nonce).
    next_nonce: Mutex<Option<Felt>>,
}

/// A Starknet call from our generic [`Call`]: `data` is the selector then the calldata, as
/// 32-byte words.
fn starknet_call(chain: &str, call: &Call) -> Result<StarknetCall> {
    if !call.data.len().is_multiple_of(32) || call.data.is_empty() {
        return Err(AdapterError::config(
            chain,
            format!(
                "a Starknet call's data is a selector and felts in 32-byte words; got {} bytes",
                call.data.len()
            ),
        ));
    }
    let mut words = call.data.chunks(32).map(Felt::from_bytes_be_slice);
    let selector = words.next().unwrap_or_default();
    Ok(StarknetCall {
        to: Felt::from_bytes_be(&call.to.0),
        selector,
        calldata: words.collect(),
    })
}

/// Half again as much, for a price or an amount that moves before the sequencer picks it up.
fn headroom<T: Into<u128>>(v: T) -> u128 {
    let v: u128 = v.into();
    v.saturating_add(v / 2).max(1)
}

impl StarknetSubmitter {
    /// The account `address` on chain `name` at `rpc` (default timeouts), signing with `key`.
    /// Reads the chain id and checks that an account contract is deployed at `address`.
    pub async fn new(name: &str, rpc: Url, address: Felt, key: Felt) -> Result<Self> {
        let client = transport::starknet_client(name, rpc.as_str(), &Default::default())?;
        Self::connect(name, client, address, key, None).await
    }

    /// The account `address` on chain `name` through `client`, signing with `key`.
    pub async fn connect(
        name: &str,
        client: StarknetClient,
        address: Felt,
        key: Felt,
        expected: Option<Felt>,
    ) -> Result<Self> {
        let chain_id = client
            .chain_id()
            .await
            .map_err(|e| AdapterError::rpc(name, "starknet_chainId", e))?;
        if let Some(want) = expected
            && want != chain_id
        {
            // Never signed for: asked again (see the EVM submitter).
            return Err(AdapterError::unavailable(
                name,
                "starknet_chainId",
                format!("the node answered chain id {chain_id:#x}, the config says {want:#x}"),
            ));
        }
        match client
            .get_class_hash_at(BlockId::Tag(BlockTag::Latest), address)
            .await
        {
            Ok(_) => {}
            Err(ProviderError::StarknetError(StarknetError::ContractNotFound)) => {
                return Err(AdapterError::config(
                    format!("chains.{name}.account"),
                    format!("no account contract is deployed at {address:#x}"),
                ));
            }
            Err(e) => return Err(AdapterError::rpc(name, "starknet_getClassHashAt", e)),
        }
        let signer = LocalWallet::from(SigningKey::from_secret_scalar(key));
        let account =
            SingleOwnerAccount::new(client, signer, address, chain_id, ExecutionEncoding::New);
        Ok(Self {
            chain: name.to_string(),
            account,
            next_nonce: Mutex::new(None),
        })
    }

    /// The account's address.
    pub fn address(&self) -> Felt {
        self.account.address()
    }

    fn rpc_error(&self, method: &'static str, e: ProviderError) -> AdapterError {
        AdapterError::rpc(&self.chain, method, e)
    }

    fn account_error<S: std::error::Error + Send + Sync + 'static>(
        &self,
        method: &'static str,
        e: AccountError<S>,
    ) -> AdapterError {
        match e {
            AccountError::Provider(p) => self.rpc_error(method, p),
            AccountError::Signing(s) => AdapterError::signing(&self.chain, "an invoke", s),
            other => AdapterError::unavailable(&self.chain, method, other.to_string()),
        }
    }

    /// Estimates, signs and sends one invoke (V3) with `calls`; returns its hash once the node
    /// accepted it. A call that would fail is reported by the estimate, before anything is sent.
    pub async fn invoke(&self, calls: Vec<StarknetCall>) -> Result<Felt> {
        let mut next = self.next_nonce.lock().await;
        let sent = self
            .account
            .execute_v3(calls)
            .send()
            .await
            .map_err(|e| self.account_error("starknet_addInvokeTransaction", e))?;
        *next = None; // the account's nonce moved; read it again next time
        Ok(sent.transaction_hash)
    }

    /// Whether the node has invoke `hash` (received, pending or in a block).
    async fn knows(&self, hash: B256) -> Result<bool> {
        match self
            .account
            .provider()
            .get_transaction_by_hash(Felt::from_bytes_be(&hash.0), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(ProviderError::StarknetError(StarknetError::TransactionHashNotFound)) => Ok(false),
            Err(e) => Err(self.rpc_error("starknet_getTransactionByHash", e)),
        }
    }

    /// What became of invoke `tx`.
    pub async fn status(&self, tx: Felt) -> Result<InvokeStatus> {
        let Some(receipt) = self.receipt_of(tx).await? else {
            return Ok(InvokeStatus::Pending);
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

    async fn receipt_of(&self, tx: Felt) -> Result<Option<TransactionReceiptWithBlockInfo>> {
        match self.account.provider().get_transaction_receipt(tx).await {
            Ok(r) => Ok(Some(r)),
            Err(ProviderError::StarknetError(StarknetError::TransactionHashNotFound)) => Ok(None),
            Err(e) => Err(self.rpc_error("starknet_getTransactionReceipt", e)),
        }
    }

    async fn estimate_with(
        &self,
        call: StarknetCall,
        nonce: Option<Felt>,
    ) -> Result<std::result::Result<FeeEstimate, String>> {
        let mut execution = self.account.execute_v3(vec![call]);
        if let Some(n) = nonce {
            execution = execution.nonce(n);
        }
        match execution.estimate_fee().await {
            Ok(estimate) => Ok(Ok(estimate)),
            Err(AccountError::Provider(ProviderError::StarknetError(
                StarknetError::TransactionExecutionError(data),
            ))) => Ok(Err(format!("{:?}", data.execution_error))),
            Err(AccountError::Provider(ProviderError::StarknetError(
                StarknetError::ContractError(data),
            ))) => Ok(Err(format!("{:?}", data.revert_error))),
            Err(e) => Err(self.account_error("starknet_estimateFee", e)),
        }
    }

    /// Sends the stored invoke `tx`; the outer error is a stored invoke that does not decode.
    async fn send_raw(&self, tx: &SignedTx) -> Result<std::result::Result<(), ProviderError>> {
        let request: BroadcastedInvokeTransaction =
            serde_json::from_slice(&tx.raw).map_err(|e| {
                AdapterError::bad(
                    &self.chain,
                    "stored invoke",
                    Some(tx.hash.to_string()),
                    e.to_string(),
                )
            })?;
        Ok(self
            .account
            .provider()
            .add_invoke_transaction(&request)
            .await
            .map(|_| ()))
    }
}

fn already_known(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::StarknetError(StarknetError::DuplicateTx)
            | ProviderError::StarknetError(StarknetError::InvalidTransactionNonce(_))
    )
}

#[async_trait]
impl Submitter for StarknetSubmitter {
    fn sender(&self) -> B256 {
        B256::from(self.address().to_bytes_be())
    }

    async fn estimate(&self, call: &Call) -> Result<Estimate> {
        let call = starknet_call(&self.chain, call)?;
        Ok(match self.estimate_with(call, None).await? {
            Ok(e) => Estimate::Ok(Fees {
                gas_limit: u64::try_from(headroom(e.l2_gas_consumed)).unwrap_or(u64::MAX),
                max_fee_per_gas: headroom(e.l2_gas_price).saturating_mul(2),
                max_priority_fee_per_gas: 0,
            }),
            Err(reason) => Estimate::Reverts(Revert::Transient(reason)),
        })
    }

    async fn lease(&self) -> Box<dyn Lease + '_> {
        Box::new(StarknetLease {
            submitter: self,
            next: self.next_nonce.lock().await,
        })
    }

    async fn rebroadcast(&self, tx: &SignedTx) -> Result<()> {
        match self.send_raw(tx).await? {
            Ok(()) => Ok(()),
            Err(e) if already_known(&e) => Ok(()),
            Err(e) => Err(self.rpc_error("starknet_addInvokeTransaction", e)),
        }
    }

    async fn receipt(&self, hash: B256) -> Result<Option<Mined>> {
        let Some(r) = self.receipt_of(Felt::from_bytes_be(&hash.0)).await? else {
            return Ok(None);
        };
        let (block_number, block_hash) = match &r.block {
            starknet_rust::core::types::ReceiptBlock::Block {
                block_hash,
                block_number,
            } => (*block_number, B256::from(block_hash.to_bytes_be())),
            _ => return Ok(None), // pre-confirmed: not in a closed block yet
        };
        Ok(Some(Mined {
            block_number,
            block_hash,
            success: matches!(r.receipt.execution_result(), ExecutionResult::Succeeded),
            gas_used: match &r.receipt {
                starknet_rust::core::types::TransactionReceipt::Invoke(i) => {
                    i.execution_resources.l2_gas
                }
                _ => 0,
            },
            fee_paid: match &r.receipt {
                starknet_rust::core::types::TransactionReceipt::Invoke(i) => {
                    U256::from_be_bytes(i.actual_fee.amount.to_bytes_be())
                }
                _ => U256::ZERO,
            },
        }))
    }

    async fn mined_nonce(&self) -> Result<u64> {
        let nonce = self
            .account
            .provider()
            .get_nonce(BlockId::Tag(BlockTag::Latest), self.address())
            .await
            .map_err(|e| self.rpc_error("starknet_getNonce", e))?;
        u64::try_from(nonce.to_biguint()).map_err(|_| {
            AdapterError::bad(&self.chain, "account nonce", None, format!("{nonce:#x}"))
        })
    }
}

/// The nonce lock of a [`StarknetSubmitter`].
struct StarknetLease<'a> {
    submitter: &'a StarknetSubmitter,
    next: MutexGuard<'a, Option<Felt>>,
}

impl StarknetLease<'_> {
    async fn nonce(&mut self) -> Result<Felt> {
        if let Some(n) = *self.next {
            return Ok(n);
        }
        let n = self
            .submitter
            .account
            .get_nonce()
            .await
            .map_err(|e| self.submitter.rpc_error("starknet_getNonce", e))?;
        *self.next = Some(n);
        Ok(n)
    }
}

#[async_trait]
impl Lease for StarknetLease<'_> {
    async fn sign(&mut self, call: &Call, fees: Fees) -> Result<SignedTx> {
        let s = self.submitter;
        let call = starknet_call(&s.chain, call)?;
        let nonce = self.nonce().await?;
        // The L1 gas and data gas bounds come from a fresh estimate at this nonce; the L2 gas
        // bounds are at least what the caller's estimate gave.
        let estimate = match s.estimate_with(call.clone(), Some(nonce)).await? {
            Ok(e) => e,
            Err(reason) => {
                return Err(AdapterError::unavailable(
                    &s.chain,
                    "starknet_estimateFee",
                    format!("the invoke would fail: {reason}"),
                ));
            }
        };
        let l2_gas = u64::try_from(headroom(estimate.l2_gas_consumed))
            .unwrap_or(u64::MAX)
            .max(fees.gas_limit);
        let l2_gas_price = headroom(estimate.l2_gas_price)
            .saturating_mul(2)
            .max(fees.max_fee_per_gas);
        let tip = u64::try_from(fees.max_priority_fee_per_gas).unwrap_or(u64::MAX);
        let prepared = s
            .account
            .execute_v3(vec![call])
            .nonce(nonce)
            .l1_gas(u64::try_from(headroom(estimate.l1_gas_consumed)).unwrap_or(u64::MAX))
            .l1_gas_price(headroom(estimate.l1_gas_price).saturating_mul(2))
            .l1_data_gas(u64::try_from(headroom(estimate.l1_data_gas_consumed)).unwrap_or(u64::MAX))
            .l1_data_gas_price(headroom(estimate.l1_data_gas_price).saturating_mul(2))
            .l2_gas(l2_gas)
            .l2_gas_price(l2_gas_price)
            .tip(tip)
            .prepared()
            .map_err(|e| AdapterError::signing(&s.chain, "an invoke", e))?;
        let hash = prepared.transaction_hash(false);
        let request = prepared
            .get_invoke_request(false, false)
            .await
            .map_err(|e| AdapterError::signing(&s.chain, "an invoke", e))?;
        let raw = serde_json::to_vec(&request).map_err(|e| {
            AdapterError::bad(
                &s.chain,
                "invoke request",
                Some(format!("{hash:#x}")),
                e.to_string(),
            )
        })?;
        let nonce = u64::try_from(nonce.to_biguint()).map_err(|_| {
            AdapterError::bad(&s.chain, "account nonce", None, format!("{nonce:#x}"))
        })?;
        Ok(SignedTx {
            hash: B256::from(hash.to_bytes_be()),
            nonce,
            raw: Bytes::from(raw),
            fees: Fees {
                gas_limit: l2_gas,
                max_fee_per_gas: l2_gas_price,
                max_priority_fee_per_gas: u128::from(tip),
            },
        })
    }

    /// A Starknet invoke is not replaced: its account nonce stays taken until it is included or
    /// rejected. The caller keeps waiting for it (and re-sends the same bytes).
    async fn replace(&mut self, stuck: &SignedTx) -> Result<SignedTx> {
        Err(AdapterError::unavailable(
            &self.submitter.chain,
            "replace invoke",
            format!(
                "invoke {} is not mined yet; Starknet invokes are not replaced with higher fees",
                stuck.hash
            ),
        ))
    }

    async fn broadcast(&mut self, tx: &SignedTx) -> Result<()> {
        let s = self.submitter;
        match s.send_raw(tx).await? {
            Ok(()) => {}
            Err(ProviderError::StarknetError(StarknetError::DuplicateTx)) => {}
            // Its nonce is used: by this very invoke when an earlier try reached the node and only
            // its answer was lost, else by another one.
            Err(ProviderError::StarknetError(StarknetError::InvalidTransactionNonce(_)))
                if s.knows(tx.hash).await? => {}
            Err(e) => {
                if matches!(
                    e,
                    ProviderError::StarknetError(StarknetError::InvalidTransactionNonce(_))
                ) {
                    *self.next = None;
                }
                return Err(s.rpc_error("starknet_addInvokeTransaction", e));
            }
        }
        if *self.next == Some(Felt::from(tx.nonce)) {
            *self.next = Some(Felt::from(tx.nonce + 1));
        }
        Ok(())
    }
}
