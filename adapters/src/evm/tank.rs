//! The gas tanks of EVM chains (the Hub's on L1, `ArbitrumTank` on an Arbitrum L2): one ABI, the
//! shared `GasTank.sol`, so one encoding of what a user does with them (`xroute tank`).

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::SolCall,
};

use crate::{
    AdapterError, Call, Result, TankAction, TankBalance, Terms,
    hub::{GasTank, Hub},
};

fn sol_terms(t: &Terms, field: &str) -> Result<GasTank::Terms> {
    Ok(GasTank::Terms {
        gasLimit: t.gas_limit,
        deadline: u32::try_from(t.deadline).map_err(|_| {
            AdapterError::config(field, format!("deadline {} is past 2106", t.deadline))
        })?,
        maxBaseFee: t.max_base_fee,
        maxPriorityFee: t.max_priority_fee,
        legBudget: t.leg_budget,
    })
}

fn address(word: B256, field: &str) -> Result<Address> {
    if word.0[..12] != [0u8; 12] {
        return Err(AdapterError::config(
            field,
            format!("{word} is not a 20-byte address"),
        ));
    }
    Ok(Address::from_word(word))
}

/// The calls of `action` on the EVM tank at `tank`, for a caller whose balance there is
/// `balance` (what a claim withdraws).
pub(crate) fn calls(
    tank: Address,
    action: &TankAction,
    caller: B256,
    balance: U256,
) -> Result<Vec<Call>> {
    let call = |data: Vec<u8>, value: U256| Call::evm(tank, Bytes::from(data), value);
    Ok(vec![match action {
        TankAction::Deposit { account, amount } => call(
            Hub::depositCall {
                account: address(*account, "--account")?,
            }
            .abi_encode(),
            *amount,
        ),
        TankAction::Withdraw { amount, to } => call(
            Hub::withdrawCall {
                amount: *amount,
                to: address(*to, "--to")?,
            }
            .abi_encode(),
            U256::ZERO,
        ),
        TankAction::Pay {
            id,
            src,
            dst,
            terms,
        } => call(
            Hub::payCall {
                id: id.0,
                srcDomain: *src,
                dstDomain: *dst,
                terms: sol_terms(terms, "--deadline")?,
            }
            .abi_encode(),
            U256::ZERO,
        ),
        TankAction::TopUp { id, terms } => call(
            Hub::topUpCall {
                id: id.0,
                terms: sol_terms(terms, "--deadline")?,
            }
            .abi_encode(),
            U256::ZERO,
        ),
        TankAction::Claim { .. } => {
            if balance.is_zero() {
                return Err(AdapterError::config(
                    "claim",
                    "nothing to claim: the balance is 0",
                ));
            }
            call(
                Hub::withdrawCall {
                    amount: balance,
                    to: address(caller, "the caller")?,
                }
                .abi_encode(),
                U256::ZERO,
            )
        }
    }])
}

/// `balances(account)` of the EVM tank at `tank`.
pub(crate) async fn balance(
    provider: &alloy::providers::DynProvider,
    chain: &str,
    tank: Address,
    account: B256,
) -> Result<TankBalance> {
    let balance = Hub::new(tank, provider)
        .balances(address(account, "--account")?)
        .call()
        .await
        .map_err(|e| AdapterError::rpc(chain, "balances", e))?;
    Ok(TankBalance {
        balance,
        claimable: U256::ZERO,
    })
}

/// How the payment for `id` was settled in the EVM tank at `tank` (its `Settled` event, from
/// block `from` on).
pub(crate) async fn settlement(
    client: &super::EvmClient,
    tank: Address,
    id: B256,
    from: u64,
) -> Result<Option<crate::Settlement>> {
    use alloy::sol_types::SolEvent;
    let filter = alloy::rpc::types::Filter::new()
        .address(tank)
        .event_signature(Hub::Settled::SIGNATURE_HASH)
        .topic1(id)
        .from_block(from);
    let logs = client.logs(&filter).await?;
    Ok(logs
        .iter()
        .find_map(|l| Hub::Settled::decode_log(&l.inner).ok())
        .map(|e| crate::Settlement {
            relayer: e.data.relayer.into_word(),
            charge: e.data.charge,
            settler: e.data.settler.into_word(),
            share: e.data.share,
            refund: e.data.refund,
        }))
}

/// The open payment for `id` in the EVM tank at `tank` (`payments(id)`; none once settled or
/// released).
pub(crate) async fn payment(
    provider: &alloy::providers::DynProvider,
    chain: &str,
    tank: Address,
    id: B256,
) -> Result<Option<crate::Payment>> {
    let p = Hub::new(tank, provider)
        .payments(id)
        .call()
        .await
        .map_err(|e| AdapterError::rpc(chain, "payments", e))?;
    if p.reserved == 0 {
        return Ok(None);
    }
    let refund_to = Hub::new(tank, provider)
        .refundAddressOf(p.payer)
        .call()
        .await
        .map_err(|e| AdapterError::rpc(chain, "refundAddressOf", e))?;
    Ok(Some(crate::Payment {
        refund_to: Some(refund_to),
        payer: p.payer.into_word(),
        gas_limit: p.gasLimit,
        deadline: u64::from(p.deadline),
        max_base_fee: p.maxBaseFee,
        max_priority_fee: p.maxPriorityFee,
        leg_budget: p.legBudget,
        reserved: U256::from(p.reserved),
    }))
}
