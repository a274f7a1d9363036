//! The DeFi pool on the local network (ADR 0009): OpenZeppelin's ERC-4626 vault over the
//! canonical token on L1 (`PoolVault`), the `PoolManager` next to it, and the Cairo `Pool` on
//! devnet 0, registered with each other. Users are devnet 0's predeployed accounts.

use alloy::primitives::{Address, B256, U256};
use eyre::{Result, WrapErr, ensure, eyre};
use starknet_rust::core::types::Felt;
use xroute_proofs::starknet::felt_to_u256;

use crate::{
    LocalNet,
    artifacts::{
        POOL,
        evm::{PoolManager, PoolVault},
    },
    localnet::L1_KIT_ACCOUNT,
    stack::L1_DOMAIN,
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

/// The pool and its L1 side.
#[derive(Debug, Clone)]
pub struct PoolStack {
    /// The ERC-4626 vault on L1.
    pub vault: Address,
    /// The PoolManager on L1.
    pub manager: Address,
    /// The pool on devnet 0.
    pub pool: Felt,
    /// Devnet 0's domain and token router.
    pub domain: u32,
    /// The canonical token's router on devnet 0.
    pub token_router: Felt,
}

impl PoolStack {
    /// Deploys the vault and the manager on L1 (from the kit's account) and the pool on devnet 0
    /// (`period` seconds, `size` tokens), and registers the pool.
    pub async fn deploy(
        net: &LocalNet,
        token: &TokenStack,
        period: u64,
        size: U256,
    ) -> Result<Self> {
        let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
        let vault = PoolVault::deploy(
            &l1,
            token.token,
            "xroute Vault".to_string(),
            "xvXRT".to_string(),
        )
        .await
        .wrap_err("deploying PoolVault")?;
        let manager = PoolManager::deploy(&l1, token.ledger, *vault.address())
            .await
            .wrap_err("deploying PoolManager")?;
        let (domain, token_router) = *token
            .starknets
            .first()
            .ok_or_else(|| eyre!("the token is on no devnet"))?;
        let [size_low, size_high] = u256_felts(size);
        let pool = net.starknets[0]
            .devnet
            .deploy(
                0,
                &POOL,
                vec![
                    token_router,
                    Felt::from_bytes_be_slice(manager.address().as_slice()),
                    Felt::from(L1_DOMAIN),
                    Felt::from(period),
                    size_low,
                    size_high,
                ],
            )
            .await?;
        let r = manager
            .registerPool(domain, B256::from(pool.to_bytes_be()))
            .send()
            .await?
            .get_receipt()
            .await?;
        ensure!(r.status(), "PoolManager.registerPool reverted");
        Ok(Self {
            vault: *vault.address(),
            manager: *manager.address(),
            pool,
            domain,
            token_router,
        })
    }

    /// Approves and deposits `amount` from devnet 0's account `account`, in one transaction.
    pub async fn deposit(&self, net: &LocalNet, account: usize, amount: U256) -> Result<Felt> {
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
            .wrap_err_with(|| format!("account {account} depositing {amount}"))
    }

    /// Asks `shares` back for account `account`.
    pub async fn request_withdrawal(
        &self,
        net: &LocalNet,
        account: usize,
        shares: U256,
    ) -> Result<Felt> {
        let [low, high] = u256_felts(shares);
        net.starknets[0]
            .devnet
            .invoke(account, self.pool, "request_withdrawal", vec![low, high])
            .await
            .wrap_err_with(|| format!("account {account} withdrawing {shares} shares"))
    }

    /// Closes the current epoch from account `account`.
    pub async fn close_epoch(&self, net: &LocalNet, account: usize) -> Result<Felt> {
        net.starknets[0]
            .devnet
            .invoke(account, self.pool, "close_epoch", vec![])
            .await
    }

    /// Claims account `account`'s entries of `epoch`.
    pub async fn claim(&self, net: &LocalNet, account: usize, epoch: u64) -> Result<Felt> {
        net.starknets[0]
            .devnet
            .invoke(account, self.pool, "claim", vec![Felt::from(epoch)])
            .await
            .wrap_err_with(|| format!("account {account} claiming epoch {epoch}"))
    }

    async fn view(&self, net: &LocalNet, function: &str, args: Vec<Felt>) -> Result<Vec<Felt>> {
        net.starknets[0]
            .devnet
            .call(self.pool, function, args)
            .await
    }

    /// The open epoch.
    pub async fn current_epoch(&self, net: &LocalNet) -> Result<u64> {
        let words = self.view(net, "current_epoch", vec![]).await?;
        let [e] = words.as_slice() else {
            return Err(eyre!("current_epoch answered {words:?}"));
        };
        u64::try_from(felt_to_u256(*e)).map_err(|e| eyre!("epoch: {e}"))
    }

    /// Epoch `epoch` as the pool records it.
    pub async fn epoch(&self, net: &LocalNet, epoch: u64) -> Result<Epoch> {
        let e = vec![Felt::from(epoch)];
        let state = match self.view(net, "epoch_state", e.clone()).await?.as_slice() {
            [s] if *s == Felt::ZERO => EpochState::Open,
            [s] if *s == Felt::ONE => EpochState::Sent,
            [s] if *s == Felt::TWO => EpochState::Settled,
            [s] if *s == Felt::THREE => EpochState::Refunded,
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

    /// (deposited tokens, withdrawal shares) of account `account` in `epoch`.
    pub async fn entry(&self, net: &LocalNet, epoch: u64, account: usize) -> Result<(U256, U256)> {
        let who = account_address(net, account)?;
        u256_pair(
            &self
                .view(net, "entry", vec![Felt::from(epoch), who])
                .await?,
        )
    }

    /// Account `account`'s pool shares.
    pub async fn shares_of(&self, net: &LocalNet, account: usize) -> Result<U256> {
        let who = account_address(net, account)?;
        u256_of(&self.view(net, "shares_of", vec![who]).await?)
    }

    /// The pool shares users hold.
    pub async fn total_shares(&self, net: &LocalNet) -> Result<U256> {
        u256_of(&self.view(net, "total_shares", vec![]).await?)
    }

    /// The pool contract as a word (what a token balance is asked for).
    pub fn pool_word(&self) -> B256 {
        B256::from(self.pool.to_bytes_be())
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
