//! The gas tanks in the kit (issue 27): deploying a rollup's tank and registering it with the Hub,
//! paying into it, reading a metered relay's receipts from L1, and sending a domain's commitment
//! (`Hub.settle`) the way a settler does.

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
};
use eyre::{Result, WrapErr, bail, ensure, eyre};
use starknet_rust::core::types::Felt;
use xroute_adapters::hub as hub_calls;
use xroute_proofs::{metering::MeteredReceipt, starknet::felt_to_u256};

use crate::{
    LocalNet, XrouteStack,
    artifacts::{
        GAS_TANK,
        evm::{ArbitrumTank, Hub},
    },
    localnet::L1_KIT_ACCOUNT,
    stack::L1_DOMAIN,
};

/// The ETH fee token of starknet-devnet (the same address as on Starknet).
pub const STARKNET_ETH: Felt =
    Felt::from_hex_unchecked("0x049d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7");

pub use xroute_adapters::Terms;

/// What the kit adds to a payment's terms.
pub trait TermsExt {
    /// What a relay that cost `r` is charged on these terms, and what is left of the
    /// reservation.
    fn charge_and_rest(&self, r: &MeteredReceipt) -> (U256, U256);
    /// The Cairo `Terms` struct's calldata.
    fn felts(&self) -> Vec<Felt>;
}

impl TermsExt for Terms {
    fn charge_and_rest(&self, r: &MeteredReceipt) -> (U256, U256) {
        let charge = self.charge(r);
        (charge, self.worst_case() - charge)
    }

    fn felts(&self) -> Vec<Felt> {
        xroute_adapters::starknet::tank::terms_felts(self).to_vec()
    }
}

pub use xroute_adapters::starknet::tank::{settle_calldata, u256_felts};

/// A u256 a Cairo view returned (low, high) at `at`.
pub fn u256_at(felts: &[Felt], at: usize) -> Result<U256> {
    let part = |i: usize| -> Result<U256> {
        let f = felts
            .get(i)
            .ok_or_else(|| eyre!("a u256 past the answer's end"))?;
        Ok(felt_to_u256(*f))
    };
    Ok(part(at)? | (part(at + 1)? << 128usize))
}

/// A Starknet-family chain's gas tank (`gas_tank.cairo`), registered with the Hub.
#[derive(Debug, Clone, Copy)]
pub struct StarknetTank {
    /// The tank's address.
    pub address: Felt,
    /// Which devnet of the [`LocalNet`].
    pub chain: usize,
}

impl StarknetTank {
    /// Deploys the tank on devnet `chain` (fee token ETH, routes to L1 and every other domain of
    /// `stack`, owned by account 0) and registers it with the Hub from the kit's L1 account.
    pub async fn deploy(net: &LocalNet, stack: &XrouteStack, chain: usize) -> Result<Self> {
        let d = stack.starknets[chain];
        let devnet = &net.starknets[chain].devnet;
        let owner = devnet.predeployed_accounts()[0].address;
        let mut routes = vec![L1_DOMAIN];
        routes.extend(
            stack
                .starknets
                .iter()
                .map(|s| s.domain)
                .filter(|&x| x != d.domain),
        );
        routes.extend(stack.arbitrum.iter().map(|a| a.domain));
        let mut calldata = vec![
            Felt::from(d.domain),
            Felt::from(L1_DOMAIN),
            d.endpoint,
            Felt::from_bytes_be_slice(stack.hub.as_slice()),
            STARKNET_ETH,
            owner,
            Felt::from(routes.len()),
        ];
        calldata.extend(routes.iter().map(|r| Felt::from(*r)));
        let address = devnet.deploy(0, &GAS_TANK, calldata).await?;
        let hub = Hub::new(stack.hub, net.l1.provider(L1_KIT_ACCOUNT)?);
        let r = hub
            .registerTank(d.domain, B256::from(address.to_bytes_be()))
            .send()
            .await?
            .get_receipt()
            .await?;
        ensure!(r.status(), "registerTank reverted");
        Ok(Self { address, chain })
    }

    /// Devnet account `account` approves and deposits `amount` ETH into its own balance.
    pub async fn deposit(&self, net: &LocalNet, account: usize, amount: U256) -> Result<()> {
        let devnet = &net.starknets[self.chain].devnet;
        let me = devnet.predeployed_accounts()[account].address;
        let mut approve = vec![self.address];
        approve.extend(u256_felts(amount));
        let mut deposit = vec![me];
        deposit.extend(u256_felts(amount));
        devnet
            .invoke_many(
                account,
                vec![
                    (STARKNET_ETH, "approve", approve),
                    (self.address, "deposit", deposit),
                ],
            )
            .await?;
        Ok(())
    }

    /// Account `account` pays for message `id` (from `src` to `dst`) on `terms`.
    pub async fn pay(
        &self,
        net: &LocalNet,
        account: usize,
        id: B256,
        src: u32,
        dst: u32,
        terms: &Terms,
    ) -> Result<()> {
        let mut calldata = u256_felts(U256::from_be_bytes(id.0)).to_vec();
        calldata.extend([Felt::from(src), Felt::from(dst)]);
        calldata.extend(terms.felts());
        net.starknets[self.chain]
            .devnet
            .invoke(account, self.address, "pay", calldata)
            .await?;
        Ok(())
    }

    /// A u256 view of the tank (`balance_of`, `claimable`, …) on `arg`.
    pub async fn read(&self, net: &LocalNet, view: &str, arg: Felt) -> Result<U256> {
        let out = net.starknets[self.chain]
            .devnet
            .call(self.address, view, vec![arg])
            .await?;
        u256_at(&out, 0)
    }

    /// The ETH balance of `account` on the devnet.
    pub async fn eth_balance(&self, net: &LocalNet, account: Felt) -> Result<U256> {
        let out = net.starknets[self.chain]
            .devnet
            .call(STARKNET_ETH, "balanceOf", vec![account])
            .await?;
        u256_at(&out, 0)
    }
}

/// The receipts a mined relay transaction's `RelaysMetered` events recorded.
pub fn metered_receipts(receipt: &TransactionReceipt) -> Result<Vec<MeteredReceipt>> {
    receipt
        .inner
        .logs()
        .iter()
        .filter_map(|l| l.log_decode::<Hub::RelaysMetered>().ok())
        .map(|e| {
            let e = e.inner.data;
            Ok(MeteredReceipt::unpack(
                e.relayer,
                e.gasPrice,
                u64::try_from(e.time)?,
                &e.receipts,
            ))
        })
        .collect::<Result<Vec<_>>>()
        .map(|v| v.concat())
}

/// Sends domain `src`'s commitment to its tank from `l1` (`Hub.settle`, `value` its L1 → L2 fee,
/// `entry` its terms toward an Arbitrum domain), claiming what an `eth_call` measures; returns
/// the mined transaction.
pub async fn settle(
    l1: &DynProvider,
    hub: Address,
    src: u32,
    value: U256,
    entry: Bytes,
) -> Result<TransactionReceipt> {
    let probe = hub_calls::settle(hub, src, u64::MAX, &entry, value);
    let tx = |c: &xroute_adapters::Call| {
        TransactionRequest::default()
            .to(hub)
            .value(c.value)
            .input(c.data.clone().into())
    };
    let measured = match l1.call(tx(&probe)).await {
        Ok(_) => bail!("Hub.settle took a claim of u64::MAX gas"),
        Err(e) => {
            let data = e
                .as_error_resp()
                .and_then(|r| r.as_revert_data())
                .ok_or_else(|| eyre!("Hub.settle's eth_call: {e}"))?;
            hub_calls::settle_measured(&data).ok_or_else(|| {
                eyre!(
                    "Hub.settle would revert: {:?}",
                    hub_calls::classify_revert(&data, "", &[])
                )
            })?
        }
    };
    let call = hub_calls::settle(
        hub,
        src,
        measured - hub_calls::SETTLE_CLAIM_MARGIN,
        &entry,
        value,
    );
    let receipt = l1
        .send_transaction(tx(&call).gas_limit(2_000_000))
        .await?
        .get_receipt()
        .await
        .wrap_err("Hub.settle")?;
    ensure!(
        receipt.status(),
        "Hub.settle reverted in {}",
        receipt.transaction_hash
    );
    Ok(receipt)
}

/// An Arbitrum-family rollup's gas tank (`ArbitrumTank`), registered with the Hub.
#[derive(Debug, Clone, Copy)]
pub struct ArbitrumTankDeployment {
    /// The tank's address on the L2.
    pub address: Address,
}

impl ArbitrumTankDeployment {
    /// Deploys the tank on the local Arbitrum from the kit's L2 account (routes to L1 and every
    /// Starknet-family domain of `stack`) and registers it with the Hub from the kit's L1 account.
    pub async fn deploy(net: &LocalNet, stack: &XrouteStack) -> Result<Self> {
        let arb = stack.arbitrum()?;
        let l2 = net.arbitrum()?.l2.provider(crate::stack::L2_KIT_ACCOUNT)?;
        let mut routes = vec![L1_DOMAIN];
        routes.extend(stack.starknets.iter().map(|s| s.domain));
        let tank =
            ArbitrumTank::deploy(&l2, arb.domain, L1_DOMAIN, arb.endpoint, stack.hub, routes)
                .await
                .wrap_err("deploying ArbitrumTank")?;
        let hub = Hub::new(stack.hub, net.l1.provider(L1_KIT_ACCOUNT)?);
        let r = hub
            .registerTank(arb.domain, tank.address().into_word())
            .send()
            .await?
            .get_receipt()
            .await?;
        ensure!(r.status(), "registerTank reverted");
        Ok(Self {
            address: *tank.address(),
        })
    }
}

/// Terms as the Solidity tanks take them.
pub fn sol_terms(t: &Terms) -> Result<crate::artifacts::evm::arbitrum_tank::GasTank::Terms> {
    Ok(crate::artifacts::evm::arbitrum_tank::GasTank::Terms {
        gasLimit: t.gas_limit,
        deadline: u32::try_from(t.deadline)?,
        maxBaseFee: t.max_base_fee,
        maxPriorityFee: t.max_priority_fee,
        legBudget: t.leg_budget,
    })
}
