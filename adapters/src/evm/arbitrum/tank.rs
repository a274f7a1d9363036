//! The gas tank of an Arbitrum-family rollup (`ArbitrumTank.sol`, issue 27): its payments, where
//! its settlements stand, and the transaction that settles a commitment's receipts.

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::SolCall,
};
use xroute_proofs::{envelope::MessageId, metering::MeteredReceipt};

use super::ArbitrumAdapter;
use crate::{AdapterError, Call, Payment, Result, TankState};

mod bindings {
    #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
    alloy::sol!(
        #[sol(rpc, all_derives)]
        ArbitrumTank,
        "../contracts/evm/out/ArbitrumTank.json"
    );
}
pub use bindings::ArbitrumTank;

// Rebuild this crate when the artifact changes (the `sol!` above reads it, untracked).
const _: &[u8] = include_bytes!("../../../../contracts/evm/out/ArbitrumTank.json");

/// `ArbitrumTank.settle(receipts)` on `tank`.
pub fn settle_call(tank: Address, receipts: &[MeteredReceipt]) -> Call {
    let data = ArbitrumTank::settleCall {
        receipts: receipts
            .iter()
            .map(|r| ArbitrumTank::MeteredReceipt {
                id: r.id,
                relayer: r.relayer,
                gas: r.gas,
                gasPrice: r.gas_price,
                fee: r.fee,
                time: u32::try_from(r.time).unwrap_or(u32::MAX),
            })
            .collect(),
    }
    .abi_encode();
    Call::evm(tank, Bytes::from(data), U256::ZERO)
}

impl ArbitrumAdapter {
    fn tank_instance(
        &self,
    ) -> Option<ArbitrumTank::ArbitrumTankInstance<&alloy::providers::DynProvider>> {
        Some(ArbitrumTank::new(
            self.contracts.tank?,
            self.client.provider(),
        ))
    }

    fn tank_error(&self, what: &'static str, e: alloy::contract::Error) -> AdapterError {
        AdapterError::rpc(&self.client.info().name, what, e)
    }

    pub(super) async fn tank_payment(&self, id: MessageId) -> Result<Option<Payment>> {
        match self.contracts.tank {
            Some(tank) => {
                crate::evm::tank::payment(
                    self.client.provider(),
                    &self.client.info().name,
                    tank,
                    id.0,
                )
                .await
            }
            None => Ok(None),
        }
    }

    pub(super) async fn tank_state_of(&self) -> Result<Option<TankState>> {
        let Some(tank) = self.tank_instance() else {
            return Ok(None);
        };
        let settled = tank
            .settledMeter()
            .call()
            .await
            .map_err(|e| self.tank_error("ArbitrumTank.settledMeter", e))?;
        let count = xroute_proofs::metering::count(settled);
        let c = tank
            .commitments(count)
            .call()
            .await
            .map_err(|e| self.tank_error("ArbitrumTank.commitments", e))?;
        Ok(Some(TankState {
            settled,
            waiting_to: (c.to != 0).then_some(c.to),
        }))
    }

    /// The configured tank, or an error naming the field.
    fn configured_tank(&self) -> Result<Address> {
        self.contracts.tank.ok_or_else(|| {
            AdapterError::config(
                format!("chains.{}.tank", self.client.info().name),
                "no gas tank is configured for this chain",
            )
        })
    }

    pub(super) async fn tank_settlement(
        &self,
        id: MessageId,
        sent_in: u64,
    ) -> Result<Option<crate::Settlement>> {
        let Some(tank) = self.contracts.tank else {
            return Ok(None);
        };
        crate::evm::tank::settlement(&self.client, tank, id.0, sent_in).await
    }

    pub(super) async fn tank_action_calls(
        &self,
        action: &crate::TankAction,
        caller: B256,
    ) -> Result<Vec<Call>> {
        let tank = self.configured_tank()?;
        let chain = &self.client.info().name;
        let balance = crate::evm::tank::balance(self.client.provider(), chain, tank, caller)
            .await
            .map(|b| b.balance)
            .unwrap_or_default();
        crate::evm::tank::calls(tank, action, caller, balance)
    }

    pub(super) async fn tank_balance_of(&self, account: B256) -> Result<crate::TankBalance> {
        let tank = self.configured_tank()?;
        crate::evm::tank::balance(
            self.client.provider(),
            &self.client.info().name,
            tank,
            account,
        )
        .await
    }

    pub(super) fn tank_word(&self) -> Option<B256> {
        self.contracts.tank.map(|t| t.into_word())
    }
}
