//! The gas tank of a Starknet-family chain (`contracts/starknet/src/gas_tank.cairo`, issue 27):
//! its payments, where its settlements stand, and the invoke that settles a commitment's
//! receipts.

use alloy::primitives::{B256, U256};
use starknet_rust::{
    core::types::{BlockId, BlockTag, Felt, FunctionCall},
    providers::Provider,
};
use xroute_proofs::{envelope::MessageId, metering::MeteredReceipt, starknet::felt_to_u256};

use super::{StarknetAdapter, selector};
use crate::{Call, Payment, Result, TankState};

/// A u256 as Cairo's calldata takes it: (low, high).
pub fn u256_felts(v: U256) -> [Felt; 2] {
    let low = v & U256::from(u128::MAX);
    let high = v >> 128usize;
    [
        Felt::from_bytes_be(&low.to_be_bytes::<32>()),
        Felt::from_bytes_be(&high.to_be_bytes::<32>()),
    ]
}

/// The calldata of the tank's `settle(receipts: Array<Receipt>)`.
pub fn settle_calldata(receipts: &[MeteredReceipt]) -> Vec<Felt> {
    let mut calldata = vec![Felt::from(receipts.len())];
    for r in receipts {
        calldata.extend(u256_felts(U256::from_be_bytes(r.id.0)));
        calldata.push(Felt::from_bytes_be_slice(r.relayer.as_slice()));
        calldata.push(Felt::from(r.gas));
        calldata.push(Felt::from_bytes_be(&r.gas_price.to_be_bytes::<32>()));
        calldata.push(Felt::from(r.fee));
        calldata.push(Felt::from(r.time));
    }
    calldata
}

impl StarknetAdapter {
    /// The configured tank.
    pub(super) fn tank_felt(&self) -> Option<Felt> {
        let tank = self.config.as_ref()?.tank?;
        xroute_proofs::starknet::felt_from_u256("", tank.0).ok()
    }

    /// The view `name` of the tank at the latest block.
    async fn tank_view(
        &self,
        tank: Felt,
        name: &'static str,
        calldata: Vec<Felt>,
    ) -> Result<Vec<Felt>> {
        self.provider
            .call(
                FunctionCall {
                    contract_address: tank,
                    entry_point_selector: selector(name)?,
                    calldata,
                },
                BlockId::Tag(BlockTag::Latest),
            )
            .await
            .map_err(|e| self.rpc_error("starknet_call (gas tank)", e))
    }

    /// `payment(id)`: (payer, terms, reserved).
    pub(super) async fn tank_payment(&self, id: MessageId) -> Result<Option<Payment>> {
        let Some(tank) = self.tank_felt() else {
            return Ok(None);
        };
        let out = self
            .tank_view(
                tank,
                "payment",
                u256_felts(U256::from_be_bytes(id.0.0)).to_vec(),
            )
            .await?;
        let [
            payer,
            gas_limit,
            deadline,
            base,
            priority,
            budget,
            low,
            high,
        ] = out.as_slice()
        else {
            return Err(self.bad(
                "the tank's payment answer",
                tank,
                format!("{} felts, not 8", out.len()),
            ));
        };
        let small = |f: &Felt| -> u128 { felt_to_u256(*f).saturating_to() };
        let reserved = felt_to_u256(*low) | (felt_to_u256(*high) << 128usize);
        if reserved.is_zero() {
            return Ok(None);
        }
        Ok(Some(Payment {
            payer: B256::from(payer.to_bytes_be()),
            gas_limit: small(gas_limit) as u64,
            deadline: small(deadline) as u64,
            max_base_fee: small(base),
            max_priority_fee: small(priority),
            leg_budget: small(budget),
            reserved,
        }))
    }

    /// `settled_meter()` and the commitment waiting at its count.
    pub(super) async fn tank_state_of(&self) -> Result<Option<TankState>> {
        let Some(tank) = self.tank_felt() else {
            return Ok(None);
        };
        let out = self.tank_view(tank, "settled_meter", vec![]).await?;
        let [low, high] = out.as_slice() else {
            return Err(self.bad(
                "the tank's settled_meter answer",
                tank,
                format!("{} felts", out.len()),
            ));
        };
        let settled = felt_to_u256(*low) | (felt_to_u256(*high) << 128usize);
        let count = xroute_proofs::metering::count(settled);
        let out = self
            .tank_view(tank, "commitment", vec![Felt::from(count)])
            .await?;
        let to: u64 = out
            .first()
            .map(|f| felt_to_u256(*f).saturating_to())
            .ok_or_else(|| self.bad("the tank's commitment answer", tank, "no felts"))?;
        Ok(Some(TankState {
            settled,
            waiting_to: (to != 0).then_some(to),
        }))
    }

    /// The invoke of the tank's `settle(receipts)`.
    pub(super) fn tank_settle_call(&self, receipts: &[MeteredReceipt]) -> Option<Call> {
        let tank = self.tank_felt()?;
        let mut words = vec![selector("settle").ok()?];
        words.extend(settle_calldata(receipts));
        Some(Call {
            to: B256::from(tank.to_bytes_be()),
            data: words
                .iter()
                .flat_map(|f| f.to_bytes_be())
                .collect::<Vec<u8>>()
                .into(),
            value: U256::ZERO,
            min_gas: 0,
        })
    }
}
