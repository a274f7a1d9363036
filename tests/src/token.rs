//! The canonical token on the local network: `XToken` and the `TokenLedger` on L1, a
//! `TokenRouter` on every devnet (Cairo) and on the local Arbitrum (Solidity), each registered
//! with the others, the whole initial supply minted on L1 to the kit's account.

use alloy::primitives::{Address, B256, U256};
use eyre::{Result, WrapErr, ensure, eyre};
use starknet_rust::core::types::Felt;
use xroute_proofs::starknet::felt_to_u256;

use crate::{
    LocalNet, XrouteStack,
    artifacts::evm::{TokenLedger, TokenRouter, XToken},
    localnet::L1_KIT_ACCOUNT,
    stack::{L1_DOMAIN, L2_KIT_ACCOUNT},
};

/// The token's name.
pub const NAME: &str = "xroute Token";
/// The token's symbol.
pub const SYMBOL: &str = "XRT";

/// Where the token lives.
#[derive(Debug, Clone)]
pub struct TokenStack {
    /// The L1 token.
    pub token: Address,
    /// The L1 ledger (and L1 router).
    pub ledger: Address,
    /// The router (and token) on each devnet, in [`LocalNet::starknets`] order.
    pub starknets: Vec<(u32, Felt)>,
    /// The router (and token) on the local Arbitrum.
    pub arbitrum: Option<(u32, Address)>,
    /// The whole supply, minted on L1 at deployment.
    pub initial: U256,
    /// The deployment's `[token]`, as the kit wrote it.
    pub config: xroute_config::DeployToken,
    /// The deployment's record once the token is deployed.
    pub record: xroute_adapters::deploy::Record,
}

/// An account on one of the chains, as a 32-byte word (an EVM address left-padded, a felt).
pub fn evm_word(a: Address) -> B256 {
    a.into_word()
}

impl TokenStack {
    /// Deploys and registers the token everywhere on `net` (with `stack` deployed), minting
    /// `initial` on L1 to the kit's L1 account: through the product's `Deployer`, as
    /// `xroute deploy` does with `[token]`.
    pub async fn deploy(net: &LocalNet, stack: &XrouteStack, initial: U256) -> Result<Self> {
        let config = xroute_config::DeployToken {
            name: NAME.into(),
            symbol: SYMBOL.into(),
            initial_supply: initial.to_string(),
            mint_to: Some(net.l1.address(L1_KIT_ACCOUNT)?),
        };
        let record =
            crate::stack::run_deployment(net, Some(config.clone()), None, stack.record.clone())
                .await?;
        let token = record
            .token
            .as_ref()
            .ok_or_else(|| eyre!("the deployment made no token"))?;
        let address = |c: &Option<xroute_adapters::deploy::EvmContract>, what: &str| {
            c.as_ref()
                .map(|c| c.address)
                .ok_or_else(|| eyre!("the deployment made no {what}"))
        };
        let router = |name: &str| {
            token
                .routers
                .get(name)
                .map(|r| r.address)
                .ok_or_else(|| eyre!("the deployment made no token router on {name}"))
        };
        let starknets = stack
            .starknets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok((
                    s.domain,
                    Felt::from_bytes_be(&router(&crate::stack::starknet_name(i))?.0),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let arbitrum = match &stack.arbitrum {
            Some(a) => Some((a.domain, Address::from_word(router("arbitrum")?))),
            None => None,
        };
        Ok(Self {
            token: address(&token.token, "XToken")?,
            ledger: address(&token.ledger, "TokenLedger")?,
            starknets,
            arbitrum,
            initial,
            config,
            record,
        })
    }

    /// Every chain the token is on: L1, the devnets, the local Arbitrum.
    pub fn domains(&self) -> Vec<u32> {
        let mut out = vec![L1_DOMAIN];
        out.extend(self.starknets.iter().map(|(d, _)| *d));
        out.extend(self.arbitrum.iter().map(|(d, _)| *d));
        out
    }

    fn starknet(&self, net: &LocalNet, domain: u32) -> Result<(usize, Felt)> {
        let i = self
            .starknets
            .iter()
            .position(|(d, _)| *d == domain)
            .ok_or_else(|| eyre!("no token on domain {domain}"))?;
        ensure!(i < net.starknets.len(), "no devnet {i}");
        Ok((i, self.starknets[i].1))
    }

    /// The token's `totalSupply` on `domain`, at its latest block.
    pub async fn total_supply(&self, net: &LocalNet, domain: u32) -> Result<U256> {
        if domain == L1_DOMAIN {
            let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
            return Ok(XToken::new(self.token, &l1).totalSupply().call().await?);
        }
        if let Some((d, router)) = self.arbitrum
            && d == domain
        {
            let l2 = net.arbitrum()?.l2.provider(L2_KIT_ACCOUNT)?;
            return Ok(TokenRouter::new(router, &l2).totalSupply().call().await?);
        }
        let (i, router) = self.starknet(net, domain)?;
        let words = net.starknets[i]
            .devnet
            .call(router, "total_supply", vec![])
            .await?;
        u256_of(&words)
    }

    /// The token balance of `holder` (a word: an EVM address or a felt) on `domain`.
    pub async fn balance(&self, net: &LocalNet, domain: u32, holder: B256) -> Result<U256> {
        if domain == L1_DOMAIN {
            let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
            return Ok(XToken::new(self.token, &l1)
                .balanceOf(Address::from_word(holder))
                .call()
                .await?);
        }
        if let Some((d, router)) = self.arbitrum
            && d == domain
        {
            let l2 = net.arbitrum()?.l2.provider(L2_KIT_ACCOUNT)?;
            return Ok(TokenRouter::new(router, &l2)
                .balanceOf(Address::from_word(holder))
                .call()
                .await?);
        }
        let (i, router) = self.starknet(net, domain)?;
        let words = net.starknets[i]
            .devnet
            .call(router, "balance_of", vec![Felt::from_bytes_be(&holder.0)])
            .await?;
        u256_of(&words)
    }

    /// The ledger's `supply[domain]`.
    pub async fn ledger_supply(&self, net: &LocalNet, domain: u32) -> Result<U256> {
        let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
        Ok(TokenLedger::new(self.ledger, &l1)
            .supply(domain)
            .call()
            .await?)
    }

    /// Moves `amount` from account `account` of chain `src` (an anvil dev account on L1 and
    /// Arbitrum, a predeployed account on a devnet) to `recipient` on `dst`; waits until the
    /// source transaction succeeded. Returns its hash.
    pub async fn transfer(
        &self,
        net: &LocalNet,
        src: u32,
        account: usize,
        dst: u32,
        recipient: B256,
        amount: U256,
    ) -> Result<B256> {
        if src == L1_DOMAIN {
            let l1 = net.l1.provider(account)?;
            // With gas to spare: under rate limits, an estimate made in the previous block's
            // second refills no bucket and so writes less than the transfer will.
            let r = TokenLedger::new(self.ledger, &l1)
                .transfer(dst, recipient, amount)
                .gas(1_000_000)
                .send()
                .await?
                .get_receipt()
                .await?;
            ensure!(r.status(), "TokenLedger.transfer reverted");
            return Ok(r.transaction_hash);
        }
        if let Some((d, router)) = self.arbitrum
            && d == src
        {
            let l2 = net.arbitrum()?.l2.provider(account)?;
            let r = TokenRouter::new(router, &l2)
                .transferRemote(dst, recipient, amount)
                .send()
                .await?
                .get_receipt()
                .await?;
            ensure!(r.status(), "TokenRouter.transferRemote reverted");
            return Ok(r.transaction_hash);
        }
        let (i, router) = self.starknet(net, src)?;
        let [low, high] = u256_felts(amount);
        let tx = net.starknets[i]
            .devnet
            .invoke(
                account,
                router,
                "transfer_remote",
                vec![
                    Felt::from(dst),
                    Felt::from_bytes_be(&recipient.0),
                    low,
                    high,
                ],
            )
            .await
            .wrap_err_with(|| {
                format!("transfer of {amount} from domain {src} to {recipient} on {dst}")
            })?;
        Ok(B256::from(tx.to_bytes_be()))
    }

    /// The word of account `account` on chain `domain` (what a transfer's recipient is).
    pub fn account_word(&self, net: &LocalNet, domain: u32, account: usize) -> Result<B256> {
        if domain == L1_DOMAIN {
            return Ok(evm_word(net.l1.address(account)?));
        }
        if let Some((d, _)) = self.arbitrum
            && d == domain
        {
            return Ok(evm_word(net.arbitrum()?.l2.address(account)?));
        }
        let (i, _) = self.starknet(net, domain)?;
        let accounts = net.starknets[i].devnet.predeployed_accounts();
        let a = accounts
            .get(account)
            .ok_or_else(|| eyre!("devnet {i} has no account {account}"))?;
        Ok(B256::from(a.address.to_bytes_be()))
    }
}

/// A Cairo u256 (low, high) as two felts.
pub fn u256_felts(v: U256) -> [Felt; 2] {
    let low = v & U256::from(u128::MAX);
    let high: U256 = v >> 128usize;
    [
        Felt::from_bytes_be(&low.to_be_bytes::<32>()),
        Felt::from_bytes_be(&high.to_be_bytes::<32>()),
    ]
}

/// A Cairo u256 answer (low, high).
pub fn u256_of(words: &[Felt]) -> Result<U256> {
    let [low, high] = words else {
        return Err(eyre!("expected a u256 (two felts), got {words:?}"));
    };
    Ok(felt_to_u256(*low) + (felt_to_u256(*high) << 128usize))
}
