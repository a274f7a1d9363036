//! The DeFi pool on the local network (ADR 0009): OpenZeppelin's ERC-4626 vault over the
//! canonical token on L1 (`PoolVault`), the `PoolManager` next to it, and a pool on a rollup
//! registered with it: the Cairo pool on devnet 0, or its Solidity twin on the local Arbitrum.

use alloy::primitives::{Address, B256, U256};
use eyre::{Result, WrapErr, ensure, eyre};
use starknet_rust::core::types::Felt;
use xroute_proofs::starknet::felt_to_u256;

use xroute_adapters::deploy::Record;

use crate::{
    LocalNet,
    artifacts::evm::{Pool, TokenRouter},
    stack::{L2_KIT_ACCOUNT, run_deployment},
    token::{TokenStack, u256_felts, u256_of},
};

/// `Pool.epoch_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochState {
    /// Taking deposits and withdrawals.
    Open,
    /// Closed and sent to L1.
    Sent,
    /// The L1 answer arrived: claims are open.
    Settled,
    /// The vault refused: deposits and shares can be claimed back.
    Refunded,
}

/// The pool's record of one epoch, read from devnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    /// Where the epoch is.
    pub state: EpochState,
    /// D: tokens deposited.
    pub deposits: U256,
    /// W: shares asked back.
    pub withdrawals: U256,
    /// S_D: the shares the deposits bought (settled).
    pub deposit_shares: U256,
    /// A_W: the tokens the withdrawals got (settled).
    pub withdrawal_assets: U256,
    /// (shares, tokens) claimed so far.
    pub claimed: (U256, U256),
    /// The vault's (totalAssets, totalSupply) right after settling on L1.
    pub price: (U256, U256),
    /// Deposits and withdrawal requests recorded.
    pub entries: u32,
}

/// The L1 side of the pools: the vault and the manager.
#[derive(Debug, Clone)]
pub struct L1Pools {
    /// The ERC-4626 vault on L1.
    pub vault: Address,
    /// The PoolManager on L1.
    pub manager: Address,
    /// The deployment's record with them.
    record: Record,
    /// The token's part of the deployment file.
    token: xroute_config::DeployToken,
}

/// The kit's `[pool]`: epochs of `period` seconds or `size` tokens, a pool on each of `chains`.
fn pool_section(period: u64, size: U256, chains: Vec<String>) -> xroute_config::DeployPool {
    xroute_config::DeployPool {
        vault_name: "xroute Vault".into(),
        vault_symbol: "xvXRT".into(),
        period,
        size: size.to_string(),
        chains,
    }
}

impl L1Pools {
    /// Deploys the vault over the canonical token and the manager, from the kit's L1 account,
    /// through the product's `Deployer` (`[pool]` naming no rollup yet).
    pub async fn deploy(net: &LocalNet, token: &TokenStack) -> Result<Self> {
        let section = pool_section(1, U256::ONE, vec![]);
        let record = run_deployment(
            net,
            Some(token.config.clone()),
            Some(section),
            token.record.clone(),
        )
        .await?;
        let pool = record
            .pool
            .as_ref()
            .ok_or_else(|| eyre!("the deployment made no pool contracts"))?;
        let address = |c: &Option<xroute_adapters::deploy::EvmContract>, what: &str| {
            c.as_ref()
                .map(|c| c.address)
                .ok_or_else(|| eyre!("the deployment made no {what}"))
        };
        Ok(Self {
            vault: address(&pool.vault, "PoolVault")?,
            manager: address(&pool.manager, "PoolManager")?,
            token: token.config.clone(),
            record,
        })
    }

    /// Deploys a pool on rollup `chain` (`period` seconds, `size` tokens) through the product's
    /// `Deployer`, registered with the manager; returns its address as a word.
    async fn deploy_on(
        &self,
        net: &LocalNet,
        chain: String,
        period: u64,
        size: U256,
    ) -> Result<B256> {
        let section = pool_section(period, size, vec![chain.clone()]);
        let record = run_deployment(
            net,
            Some(self.token.clone()),
            Some(section),
            self.record.clone(),
        )
        .await?;
        record
            .pool
            .as_ref()
            .and_then(|p| p.pools.get(&chain))
            .filter(|p| p.registered.is_some())
            .map(|p| p.address)
            .ok_or_else(|| eyre!("the deployment made no registered pool on {chain}"))
    }
}

/// A pool on a rollup, driven through that rollup's accounts (devnet 0's predeployed accounts on
/// Starknet, anvil's dev accounts on the local Arbitrum).
#[allow(async_fn_in_trait)]
pub trait PoolChain {
    /// The rollup's domain.
    fn domain(&self) -> u32;
    /// The pool contract as a word (what a token balance is asked for).
    fn pool_word(&self) -> B256;
    /// Sends `amount` tokens from `from` to each of `to`.
    async fn fund(&self, net: &LocalNet, from: usize, to: &[usize], amount: U256) -> Result<()>;
    /// Approves and deposits `amount` from account `account`.
    async fn deposit(&self, net: &LocalNet, account: usize, amount: U256) -> Result<()>;
    /// Asks `shares` back for account `account`.
    async fn request_withdrawal(&self, net: &LocalNet, account: usize, shares: U256) -> Result<()>;
    /// Closes the current epoch from account `account`; returns the transaction (as a word).
    async fn close_epoch(&self, net: &LocalNet, account: usize) -> Result<B256>;
    /// Claims account `account`'s entries of `epoch`.
    async fn claim(&self, net: &LocalNet, account: usize, epoch: u64) -> Result<()>;
    /// The open epoch.
    async fn current_epoch(&self, net: &LocalNet) -> Result<u64>;
    /// Epoch `epoch` as the pool records it.
    async fn epoch(&self, net: &LocalNet, epoch: u64) -> Result<Epoch>;
    /// Account `account`'s pool shares.
    async fn shares_of(&self, net: &LocalNet, account: usize) -> Result<U256>;
    /// The pool shares users hold.
    async fn total_shares(&self, net: &LocalNet) -> Result<U256>;
}

/// The Cairo pool on devnet 0.
#[derive(Debug, Clone)]
pub struct StarknetPool {
    /// The pool contract.
    pub pool: Felt,
    /// Devnet 0's domain.
    pub domain: u32,
    /// The canonical token's router on devnet 0.
    pub token_router: Felt,
}

impl StarknetPool {
    /// Deploys the pool on devnet 0 (`period` seconds, `size` tokens) and registers it with the
    /// manager.
    pub async fn deploy(
        net: &LocalNet,
        token: &TokenStack,
        l1: &L1Pools,
        period: u64,
        size: U256,
    ) -> Result<Self> {
        let (domain, token_router) = *token
            .starknets
            .first()
            .ok_or_else(|| eyre!("the token is on no devnet"))?;
        let pool = l1
            .deploy_on(net, crate::stack::starknet_name(0), period, size)
            .await?;
        let pool = Felt::from_bytes_be(&pool.0);
        Ok(Self {
            pool,
            domain,
            token_router,
        })
    }

    async fn view(&self, net: &LocalNet, function: &str, args: Vec<Felt>) -> Result<Vec<Felt>> {
        net.starknets[0]
            .devnet
            .call(self.pool, function, args)
            .await
    }
}

impl PoolChain for StarknetPool {
    fn domain(&self) -> u32 {
        self.domain
    }

    fn pool_word(&self) -> B256 {
        B256::from(self.pool.to_bytes_be())
    }

    async fn fund(&self, net: &LocalNet, from: usize, to: &[usize], amount: U256) -> Result<()> {
        let [low, high] = u256_felts(amount);
        let calls = to
            .iter()
            .map(|u| {
                Ok((
                    self.token_router,
                    "transfer",
                    vec![account_address(net, *u)?, low, high],
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        net.starknets[0].devnet.invoke_many(from, calls).await?;
        Ok(())
    }

    async fn deposit(&self, net: &LocalNet, account: usize, amount: U256) -> Result<()> {
        let [low, high] = u256_felts(amount);
        net.starknets[0]
            .devnet
            .invoke_many(
                account,
                vec![
                    (self.token_router, "approve", vec![self.pool, low, high]),
                    (self.pool, "deposit", vec![low, high]),
                ],
            )
            .await
            .wrap_err_with(|| format!("account {account} depositing {amount}"))?;
        Ok(())
    }

    async fn request_withdrawal(&self, net: &LocalNet, account: usize, shares: U256) -> Result<()> {
        let [low, high] = u256_felts(shares);
        net.starknets[0]
            .devnet
            .invoke(account, self.pool, "request_withdrawal", vec![low, high])
            .await
            .wrap_err_with(|| format!("account {account} withdrawing {shares} shares"))?;
        Ok(())
    }

    async fn close_epoch(&self, net: &LocalNet, account: usize) -> Result<B256> {
        let tx = net.starknets[0]
            .devnet
            .invoke(account, self.pool, "close_epoch", vec![])
            .await?;
        Ok(B256::from(tx.to_bytes_be()))
    }

    async fn claim(&self, net: &LocalNet, account: usize, epoch: u64) -> Result<()> {
        net.starknets[0]
            .devnet
            .invoke(account, self.pool, "claim", vec![Felt::from(epoch)])
            .await
            .wrap_err_with(|| format!("account {account} claiming epoch {epoch}"))?;
        Ok(())
    }

    async fn current_epoch(&self, net: &LocalNet) -> Result<u64> {
        let words = self.view(net, "current_epoch", vec![]).await?;
        let [e] = words.as_slice() else {
            return Err(eyre!("current_epoch answered {words:?}"));
        };
        u64::try_from(felt_to_u256(*e)).map_err(|e| eyre!("epoch: {e}"))
    }

    async fn epoch(&self, net: &LocalNet, epoch: u64) -> Result<Epoch> {
        let e = vec![Felt::from(epoch)];
        let state = match self.view(net, "epoch_state", e.clone()).await?.as_slice() {
            [s] => EpochState::from_index(felt_to_u256(*s))?,
            other => return Err(eyre!("epoch_state answered {other:?}")),
        };
        let (deposits, withdrawals) = u256_pair(&self.view(net, "epoch_totals", e.clone()).await?)?;
        let (deposit_shares, withdrawal_assets) =
            u256_pair(&self.view(net, "epoch_result", e.clone()).await?)?;
        let claimed = u256_pair(&self.view(net, "epoch_claimed", e.clone()).await?)?;
        let price = u256_pair(&self.view(net, "epoch_price", e.clone()).await?)?;
        let entries = self.view(net, "epoch_entries", e).await?;
        let entries = entries
            .first()
            .map(|f| felt_to_u256(*f).to::<u32>())
            .ok_or_else(|| eyre!("epoch_entries answered nothing"))?;
        Ok(Epoch {
            state,
            deposits,
            withdrawals,
            deposit_shares,
            withdrawal_assets,
            claimed,
            price,
            entries,
        })
    }

    async fn shares_of(&self, net: &LocalNet, account: usize) -> Result<U256> {
        let who = account_address(net, account)?;
        u256_of(&self.view(net, "shares_of", vec![who]).await?)
    }

    async fn total_shares(&self, net: &LocalNet) -> Result<U256> {
        u256_of(&self.view(net, "total_shares", vec![]).await?)
    }
}

/// The Solidity pool on the local Arbitrum.
#[derive(Debug, Clone)]
pub struct ArbitrumPool {
    /// The pool contract.
    pub pool: Address,
    /// The local Arbitrum's domain.
    pub domain: u32,
    /// The canonical token's router there.
    pub token_router: Address,
}

impl ArbitrumPool {
    /// Deploys the pool on the local Arbitrum (`period` seconds, `size` tokens) and registers it
    /// with the manager.
    pub async fn deploy(
        net: &LocalNet,
        token: &TokenStack,
        l1: &L1Pools,
        period: u64,
        size: U256,
    ) -> Result<Self> {
        let (domain, token_router) = token
            .arbitrum
            .ok_or_else(|| eyre!("the token is not on the local Arbitrum"))?;
        let pool = l1.deploy_on(net, "arbitrum".into(), period, size).await?;
        Ok(Self {
            pool: Address::from_word(pool),
            domain,
            token_router,
        })
    }

    fn send_as(&self, net: &LocalNet, account: usize) -> Result<alloy::providers::DynProvider> {
        net.arbitrum()?.l2.provider(account)
    }
}

/// Sends an alloy call and fails unless it succeeded.
macro_rules! mined {
    ($call:expr, $what:expr) => {{
        let r = $call.send().await?.get_receipt().await?;
        ensure!(r.status(), "{} reverted", $what);
        r
    }};
}

impl PoolChain for ArbitrumPool {
    fn domain(&self) -> u32 {
        self.domain
    }

    fn pool_word(&self) -> B256 {
        self.pool.into_word()
    }

    async fn fund(&self, net: &LocalNet, from: usize, to: &[usize], amount: U256) -> Result<()> {
        let l2 = self.send_as(net, from)?;
        let router = TokenRouter::new(self.token_router, &l2);
        for u in to {
            let who = net.arbitrum()?.l2.address(*u)?;
            mined!(router.transfer(who, amount), "TokenRouter.transfer");
        }
        Ok(())
    }

    async fn deposit(&self, net: &LocalNet, account: usize, amount: U256) -> Result<()> {
        let l2 = self.send_as(net, account)?;
        mined!(
            TokenRouter::new(self.token_router, &l2).approve(self.pool, amount),
            "TokenRouter.approve"
        );
        mined!(Pool::new(self.pool, &l2).deposit(amount), "Pool.deposit");
        Ok(())
    }

    async fn request_withdrawal(&self, net: &LocalNet, account: usize, shares: U256) -> Result<()> {
        let l2 = self.send_as(net, account)?;
        mined!(
            Pool::new(self.pool, &l2).requestWithdrawal(shares),
            "Pool.requestWithdrawal"
        );
        Ok(())
    }

    async fn close_epoch(&self, net: &LocalNet, account: usize) -> Result<B256> {
        let l2 = self.send_as(net, account)?;
        let pool = Pool::new(self.pool, &l2);
        // A call first: a refusal then says why (EpochNotDue, EpochEmpty).
        pool.closeEpoch()
            .call()
            .await
            .map_err(|e| pool_error("Pool.closeEpoch", e))?;
        Ok(mined!(pool.closeEpoch(), "Pool.closeEpoch").transaction_hash)
    }

    async fn claim(&self, net: &LocalNet, account: usize, epoch: u64) -> Result<()> {
        let l2 = self.send_as(net, account)?;
        let pool = Pool::new(self.pool, &l2);
        pool.claim(epoch)
            .call()
            .await
            .map_err(|e| pool_error(&format!("Pool.claim({epoch}) by account {account}"), e))?;
        mined!(pool.claim(epoch), "Pool.claim");
        Ok(())
    }

    async fn current_epoch(&self, net: &LocalNet) -> Result<u64> {
        let l2 = self.send_as(net, L2_KIT_ACCOUNT)?;
        Ok(Pool::new(self.pool, &l2).currentEpoch().call().await?)
    }

    async fn epoch(&self, net: &LocalNet, epoch: u64) -> Result<Epoch> {
        let l2 = self.send_as(net, L2_KIT_ACCOUNT)?;
        let e = Pool::new(self.pool, &l2).epochs(epoch).call().await?;
        Ok(Epoch {
            state: EpochState::from_index(U256::from(e.state))?,
            deposits: e.deposits,
            withdrawals: e.withdrawals,
            deposit_shares: e.depositShares,
            withdrawal_assets: e.withdrawalAssets,
            claimed: (e.claimedShares, e.claimedAssets),
            price: (e.totalAssets, e.totalSupply),
            entries: e.entries,
        })
    }

    async fn shares_of(&self, net: &LocalNet, account: usize) -> Result<U256> {
        let l2 = self.send_as(net, L2_KIT_ACCOUNT)?;
        let who = net.arbitrum()?.l2.address(account)?;
        Ok(Pool::new(self.pool, &l2).sharesOf(who).call().await?)
    }

    async fn total_shares(&self, net: &LocalNet) -> Result<U256> {
        let l2 = self.send_as(net, L2_KIT_ACCOUNT)?;
        Ok(Pool::new(self.pool, &l2).totalShares().call().await?)
    }
}

/// A refusal of the Solidity pool, with its error decoded (`EpochNotDue(…)`).
fn pool_error(what: &str, e: alloy::contract::Error) -> eyre::Report {
    match e.as_decoded_interface_error::<Pool::PoolErrors>() {
        Some(decoded) => eyre!("{what}: {decoded:?}"),
        None => eyre!("{what}: {e}"),
    }
}

impl EpochState {
    fn from_index(v: U256) -> Result<Self> {
        Ok(match u8::try_from(v).ok() {
            Some(0) => Self::Open,
            Some(1) => Self::Sent,
            Some(2) => Self::Settled,
            Some(3) => Self::Refunded,
            _ => return Err(eyre!("unknown epoch state {v}")),
        })
    }
}

/// Devnet 0's predeployed account `account`.
pub fn account_address(net: &LocalNet, account: usize) -> Result<Felt> {
    net.starknets[0]
        .devnet
        .predeployed_accounts()
        .get(account)
        .map(|a| a.address)
        .ok_or_else(|| eyre!("devnet 0 has no account {account}"))
}

fn u256_pair(words: &[Felt]) -> Result<(U256, U256)> {
    let [a, b, c, d] = words else {
        return Err(eyre!("expected two u256 (four felts), got {words:?}"));
    };
    Ok((u256_of(&[*a, *b])?, u256_of(&[*c, *d])?))
}
