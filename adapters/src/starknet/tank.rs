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
use crate::{AdapterError, Call, Payment, Result, TankAction, TankBalance, TankState, Terms};

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

/// A payment's terms as the tank's calldata takes them.
pub fn terms_felts(t: &Terms) -> [Felt; 5] {
    [
        Felt::from(t.gas_limit),
        Felt::from(t.deadline),
        Felt::from(t.max_base_fee),
        Felt::from(t.max_priority_fee),
        Felt::from(t.leg_budget),
    ]
}

/// A word as a felt, or an error naming `field`.
fn felt(word: B256, field: &str) -> Result<Felt> {
    xroute_proofs::starknet::felt_from_u256("", U256::from_be_bytes(word.0))
        .map_err(|_| AdapterError::config(field, format!("{word} is not a felt (≥ the prime)")))
}

/// The invoke of `entry` on `to` with `calldata`.
fn invoke(to: Felt, entry: &str, calldata: &[Felt]) -> Result<Call> {
    let mut words = vec![selector(entry)?];
    words.extend_from_slice(calldata);
    Ok(Call {
        to: B256::from(to.to_bytes_be()),
        data: words
            .iter()
            .flat_map(|f| f.to_bytes_be())
            .collect::<Vec<u8>>()
            .into(),
        value: U256::ZERO,
        min_gas: 0,
    })
}

impl StarknetAdapter {
    fn configured_tank(&self) -> Result<Felt> {
        self.tank_felt().ok_or_else(|| {
            AdapterError::config(
                format!("chains.{}.tank", self.info.name),
                "no gas tank is configured for this chain",
            )
        })
    }

    /// The invokes of `action` on the tank (a deposit approves the tank on its fee token first).
    pub(super) async fn tank_action_calls(&self, action: &TankAction) -> Result<Vec<Call>> {
        let tank = self.configured_tank()?;
        Ok(match action {
            TankAction::Deposit { account, amount } => {
                // The tank's config: (local domain, hub domain, endpoint, hub, fee token).
                let config = self.tank_view(tank, "config", vec![]).await?;
                let token = *config.get(4).ok_or_else(|| {
                    self.bad("the tank's config answer", tank, "fewer than 5 felts")
                })?;
                let mut approve = vec![tank];
                approve.extend(u256_felts(*amount));
                let mut deposit = vec![felt(*account, "--account")?];
                deposit.extend(u256_felts(*amount));
                vec![
                    invoke(token, "approve", &approve)?,
                    invoke(tank, "deposit", &deposit)?,
                ]
            }
            TankAction::Withdraw { amount, to } => {
                let mut calldata = u256_felts(*amount).to_vec();
                calldata.push(felt(*to, "--to")?);
                vec![invoke(tank, "withdraw", &calldata)?]
            }
            TankAction::Pay {
                id,
                src,
                dst,
                terms,
            } => {
                let mut calldata = u256_felts(U256::from_be_bytes(id.0.0)).to_vec();
                calldata.extend([Felt::from(*src), Felt::from(*dst)]);
                calldata.extend(terms_felts(terms));
                vec![invoke(tank, "pay", &calldata)?]
            }
            TankAction::TopUp { id, terms } => {
                let mut calldata = u256_felts(U256::from_be_bytes(id.0.0)).to_vec();
                calldata.extend(terms_felts(terms));
                vec![invoke(tank, "top_up", &calldata)?]
            }
            TankAction::Claim { relayer } => {
                vec![invoke(tank, "claim", &[felt(*relayer, "--relayer")?])?]
            }
        })
    }

    /// The tank's `Settled` event for message `id`, if any (its data: id, relayer, charge,
    /// settler, share, refund; u256s as two felts).
    pub(super) async fn tank_settlement(
        &self,
        id: MessageId,
        sent_in: u64,
    ) -> Result<Option<crate::Settlement>> {
        let Some(tank) = self.tank_felt() else {
            return Ok(None);
        };
        let key = starknet_rust::core::utils::get_selector_from_name("Settled")
            .map_err(|e| AdapterError::config("Settled", e.to_string()))?;
        let want = u256_felts(U256::from_be_bytes(id.0.0));
        for event in self.events(tank, key, sent_in, None).await? {
            let d = &event.data;
            if d.len() != 10 || d[0..2] != want {
                continue;
            }
            let u = |i: usize| felt_to_u256(d[i]) | (felt_to_u256(d[i + 1]) << 128usize);
            return Ok(Some(crate::Settlement {
                relayer: B256::from(d[2].to_bytes_be()),
                charge: u(3),
                settler: B256::from(d[5].to_bytes_be()),
                share: u(6),
                refund: u(8),
            }));
        }
        Ok(None)
    }

    /// `balance_of(account)` and `claimable(account)` of the tank.
    pub(super) async fn tank_balance_of(&self, account: B256) -> Result<TankBalance> {
        let tank = self.configured_tank()?;
        let account = felt(account, "--account")?;
        let u256_of = |out: Vec<Felt>| -> Result<U256> {
            match out.as_slice() {
                [low, high] => Ok(felt_to_u256(*low) | (felt_to_u256(*high) << 128usize)),
                other => Err(self.bad(
                    "the tank's balance answer",
                    tank,
                    format!("{} felts", other.len()),
                )),
            }
        };
        Ok(TankBalance {
            balance: u256_of(self.tank_view(tank, "balance_of", vec![account]).await?)?,
            claimable: u256_of(self.tank_view(tank, "claimable", vec![account]).await?)?,
        })
    }

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
        let refund = self
            .tank_view(tank, "refund_address_of", vec![*payer])
            .await?;
        let refund_to = refund
            .first()
            .filter(|f| **f != Felt::ZERO)
            .map(|f| B256::from(f.to_bytes_be()));
        Ok(Some(Payment {
            refund_to,
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
        invoke(self.tank_felt()?, "settle", &settle_calldata(receipts)).ok()
    }
}
