//! Sending transactions on an EVM chain: a local nonce manager, gas estimation, EIP-1559 fees and
//! the gas-price bump of a stuck transaction; the chain's [`Submitter`].
//!
//! The router must record a relay before its side effect, so sending is split in two under one
//! nonce lock: [`EvmSubmitter::lock`] hands out a [`NonceLease`]; [`NonceLease::sign`] builds and
//! signs the transaction (its hash and raw bytes are known before anything leaves the process);
//! the caller persists them; [`NonceLease::broadcast`] sends and, only if the node accepted the
//! transaction, moves the nonce on. A transaction the node refused, or a crash between signing and
//! sending, leaves no nonce gap: the next lease reuses the nonce, and a persisted raw transaction
//! can be re-broadcast unchanged.

use alloy::{
    consensus::{SignableTransaction, Transaction as _, TxEip1559, TxEnvelope},
    eips::eip2718::{Decodable2718, Encodable2718},
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    transports::{RpcError, TransportErrorKind},
};
use async_trait::async_trait;
use tokio::sync::{Mutex, MutexGuard};

pub use crate::submit::{Fees, Mined, SignedTx};
use crate::{AdapterError, Call, Lease, Result, Revert, Submitter, submit};

/// Why a call would revert: its revert data, when the node returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRevert {
    /// ABI-encoded error data (empty when the node gave only a message).
    pub data: Bytes,
    /// The node's message.
    pub message: String,
}

/// What [`EvmSubmitter::estimate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Estimate {
    /// The call succeeds with these fees.
    Ok(Fees),
    /// The call reverts.
    Reverts(RawRevert),
}

/// Reads a revert of a call on this chain: what it means for the message (the hub chain reads
/// the Hub's errors and its bridges', [`crate::hub::classify_revert`]).
pub type RevertReader = std::sync::Arc<dyn Fn(&[u8], &str) -> Revert + Send + Sync>;

/// Sends transactions from one key on one chain. Cheap to share behind an `Arc`.
pub struct EvmSubmitter {
    chain: String,
    provider: DynProvider,
    signer: PrivateKeySigner,
    chain_id: u64,
    /// The next nonce to use; `None` until read from the chain (and after a node refused a
    /// transaction for its nonce).
    next_nonce: Mutex<Option<u64>>,
    reverts: RevertReader,
}

impl std::fmt::Debug for EvmSubmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmSubmitter")
            .field("chain", &self.chain)
            .field("address", &self.signer.address())
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

/// The right to send the next transaction of an [`EvmSubmitter`], held across sign → persist →
/// broadcast.
#[derive(Debug)]
pub struct NonceLease<'a> {
    submitter: &'a EvmSubmitter,
    next: MutexGuard<'a, Option<u64>>,
}

impl EvmSubmitter {
    /// A submitter for chain `name` signing with `signer`, reading its reverts with `reverts`;
    /// reads the chain id once.
    pub async fn new(
        name: &str,
        provider: DynProvider,
        signer: PrivateKeySigner,
        reverts: RevertReader,
        expected: Option<u64>,
    ) -> Result<Self> {
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| AdapterError::rpc(name, "eth_chainId", e))?;
        if let Some(want) = expected
            && want != chain_id
        {
            // Never signed for: a node (or a proxy before it) that answers another chain's id is
            // not trusted, and asked again.
            return Err(AdapterError::unavailable(
                name,
                "eth_chainId",
                format!("the node answered chain id {chain_id}, the config says {want}"),
            ));
        }
        Ok(Self {
            chain: name.to_string(),
            provider,
            signer,
            chain_id,
            next_nonce: Mutex::new(None),
            reverts,
        })
    }

    /// Whether the node has transaction `hash` (pending or mined).
    async fn knows(&self, hash: B256) -> Result<bool> {
        self.provider
            .get_transaction_by_hash(hash)
            .await
            .map(|t| t.is_some())
            .map_err(|e| self.rpc_error("eth_getTransactionByHash", e))
    }

    /// The chain id transactions are signed for.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The sending address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    fn rpc_error(&self, method: &'static str, e: RpcError<TransportErrorKind>) -> AdapterError {
        AdapterError::rpc(&self.chain, method, e)
    }

    /// Gas limit (with half again as headroom) and current EIP-1559 fees for calling `to` with `data`
    /// and `value` from this key, or the revert that call would hit.
    pub async fn estimate(&self, to: Address, data: &Bytes, value: U256) -> Result<Estimate> {
        let request = TransactionRequest::default()
            .from(self.address())
            .to(to)
            .input(data.clone().into())
            .value(value);
        let gas = match self.provider.estimate_gas(request).await {
            Ok(gas) => gas,
            Err(e) => {
                if let Some(revert) = as_revert(&e) {
                    return Ok(Estimate::Reverts(revert));
                }
                return Err(self.rpc_error("eth_estimateGas", e));
            }
        };
        let market = self.market_fees().await?;
        Ok(Estimate::Ok(Fees {
            // Half again: what a relay costs depends on the recipient's state, which other relays
            // (this router's batches, other routers) may change between the estimate and the
            // inclusion, and a transaction out of gas pays for everything and makes nothing.
            // Unused gas is not charged.
            gas_limit: gas.saturating_add(gas / 2),
            ..market
        }))
    }

    /// The node's current EIP-1559 fee suggestion (gas limit 0).
    pub async fn market_fees(&self) -> Result<Fees> {
        let fees = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| self.rpc_error("eth_feeHistory", e))?;
        Ok(Fees {
            gas_limit: 0,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        })
    }

    /// Takes the nonce lock. Hold the lease only as long as sign → persist → broadcast takes.
    pub async fn lock(&self) -> NonceLease<'_> {
        NonceLease {
            submitter: self,
            next: self.next_nonce.lock().await,
        }
    }

    /// Re-sends an already signed transaction (after a restart, or while it is pending). A node
    /// that already has it, or already mined its nonce, is not an error: [`Self::receipt`] tells
    /// what became of it.
    pub async fn rebroadcast(&self, tx: &SignedTx) -> Result<()> {
        match self.provider.send_raw_transaction(&tx.raw).await {
            Ok(_) => Ok(()),
            Err(e) if is_known_or_used(&e) => Ok(()),
            Err(e) => Err(self.rpc_error("eth_sendRawTransaction", e)),
        }
    }

    /// The receipt of `hash`, once mined.
    pub async fn receipt(&self, hash: B256) -> Result<Option<Mined>> {
        let receipt = self
            .provider
            .get_transaction_receipt(hash)
            .await
            .map_err(|e| self.rpc_error("eth_getTransactionReceipt", e))?;
        Ok(receipt.and_then(|r| {
            Some(Mined {
                block_number: r.block_number?,
                block_hash: r.block_hash?,
                success: r.status(),
                gas_used: r.gas_used,
                fee_paid: U256::from(r.gas_used) * U256::from(r.effective_gas_price),
            })
        }))
    }

    /// The nonce of the next transaction the chain would mine from this key.
    pub async fn mined_nonce(&self) -> Result<u64> {
        self.provider
            .get_transaction_count(self.address())
            .latest()
            .await
            .map_err(|e| self.rpc_error("eth_getTransactionCount", e))
    }
}

impl NonceLease<'_> {
    /// The nonce the next signed transaction gets (read from the chain's pending count the first
    /// time).
    pub async fn nonce(&mut self) -> Result<u64> {
        if let Some(n) = *self.next {
            return Ok(n);
        }
        let s = self.submitter;
        let n = s
            .provider
            .get_transaction_count(s.address())
            .pending()
            .await
            .map_err(|e| s.rpc_error("eth_getTransactionCount", e))?;
        *self.next = Some(n);
        Ok(n)
    }

    /// Signs a call of `to` with `data` and `value` at `fees`, with `nonce` (a replacement reuses
    /// a stuck transaction's nonce) or the lease's next nonce. Nothing is sent.
    pub async fn sign(
        &mut self,
        to: Address,
        data: Bytes,
        value: U256,
        fees: Fees,
        nonce: Option<u64>,
    ) -> Result<SignedTx> {
        let nonce = match nonce {
            Some(n) => n,
            None => self.nonce().await?,
        };
        let s = self.submitter;
        let mut tx = TxEip1559 {
            chain_id: s.chain_id,
            nonce,
            gas_limit: fees.gas_limit,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            to: TxKind::Call(to),
            value,
            access_list: Default::default(),
            input: data,
        };
        let signature = s
            .signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| AdapterError::signing(&s.chain, "a transaction", e))?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        Ok(SignedTx {
            hash: *envelope.tx_hash(),
            nonce,
            raw: envelope.encoded_2718().into(),
            fees,
        })
    }

    /// Sends `tx`. If the node accepts it (or already has it) and it used the lease's next nonce,
    /// the nonce moves on. If the node refuses it, the nonce stays, except that a nonce the chain
    /// already used makes the lease re-read it next time.
    pub async fn broadcast(&mut self, tx: &SignedTx) -> Result<()> {
        let s = self.submitter;
        match s.provider.send_raw_transaction(&tx.raw).await {
            Ok(_) => {}
            Err(e) if is_known_or_used(&e) && !is_nonce_too_low(&e) => {}
            // Its nonce is used: by this very transaction when an earlier try reached the node
            // and only its answer was lost (a timeout, a cut answer), else by another one.
            Err(e) if is_nonce_too_low(&e) && s.knows(tx.hash).await? => {}
            Err(e) => {
                if is_nonce_too_low(&e) {
                    *self.next = None;
                }
                return Err(s.rpc_error("eth_sendRawTransaction", e));
            }
        }
        if *self.next == Some(tx.nonce) {
            *self.next = Some(tx.nonce + 1);
        }
        Ok(())
    }
}

pub(crate) fn as_revert(e: &RpcError<TransportErrorKind>) -> Option<RawRevert> {
    let payload = e.as_error_resp()?;
    let message = payload.message.to_string();
    let data = payload.as_revert_data();
    let is_revert = data.is_some() || message.contains("revert");
    is_revert.then(|| RawRevert {
        data: data.unwrap_or_default(),
        message,
    })
}

fn message_of(e: &RpcError<TransportErrorKind>) -> String {
    e.as_error_resp()
        .map(|p| p.message.to_lowercase())
        .unwrap_or_else(|| e.to_string().to_lowercase())
}

fn is_nonce_too_low(e: &RpcError<TransportErrorKind>) -> bool {
    message_of(e).contains("nonce too low")
}

fn is_known_or_used(e: &RpcError<TransportErrorKind>) -> bool {
    let m = message_of(e);
    m.contains("already known") || m.contains("already imported") || is_nonce_too_low(e)
}

/// The call of a signed transaction (a replacement re-signs the same call).
fn call_of(chain: &str, tx: &SignedTx) -> Result<Call> {
    let envelope = TxEnvelope::decode_2718(&mut tx.raw.as_ref()).map_err(|e| {
        AdapterError::bad(
            chain,
            "stored transaction",
            Some(tx.hash.to_string()),
            e.to_string(),
        )
    })?;
    let to = envelope.to().ok_or_else(|| {
        AdapterError::bad(
            chain,
            "stored transaction",
            Some(tx.hash.to_string()),
            "it creates a contract",
        )
    })?;
    Ok(Call::evm(to, envelope.input().clone(), envelope.value()))
}

#[async_trait]
impl Submitter for EvmSubmitter {
    fn sender(&self) -> B256 {
        self.address().into_word()
    }

    async fn estimate(&self, call: &Call) -> Result<submit::Estimate> {
        Ok(
            match EvmSubmitter::estimate(self, call.evm_to(), &call.data, call.value).await? {
                Estimate::Ok(fees) => submit::Estimate::Ok(Fees {
                    gas_limit: fees.gas_limit.max(call.min_gas),
                    ..fees
                }),
                Estimate::Reverts(r) => {
                    submit::Estimate::Reverts((self.reverts)(&r.data, &r.message))
                }
            },
        )
    }

    async fn lease(&self) -> Box<dyn Lease + '_> {
        Box::new(self.lock().await)
    }

    async fn rebroadcast(&self, tx: &SignedTx) -> Result<()> {
        EvmSubmitter::rebroadcast(self, tx).await
    }

    async fn receipt(&self, hash: B256) -> Result<Option<Mined>> {
        EvmSubmitter::receipt(self, hash).await
    }

    async fn mined_nonce(&self) -> Result<u64> {
        EvmSubmitter::mined_nonce(self).await
    }
}

#[async_trait]
impl Lease for NonceLease<'_> {
    async fn sign(&mut self, call: &Call, fees: Fees) -> Result<SignedTx> {
        NonceLease::sign(
            self,
            call.evm_to(),
            call.data.clone(),
            call.value,
            fees,
            None,
        )
        .await
    }

    async fn replace(&mut self, stuck: &SignedTx) -> Result<SignedTx> {
        let s = self.submitter;
        let call = call_of(&s.chain, stuck)?;
        let market = s.market_fees().await.ok();
        let fees = stuck.fees.bumped(market);
        NonceLease::sign(
            self,
            call.evm_to(),
            call.data,
            call.value,
            fees,
            Some(stuck.nonce),
        )
        .await
    }

    async fn broadcast(&mut self, tx: &SignedTx) -> Result<()> {
        NonceLease::broadcast(self, tx).await
    }
}
