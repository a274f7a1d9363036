//! Deploys xroute's contracts on a [`LocalNet`]: the L1 Hub and an L1 sample app on the anvil,
//! and on every devnet an Endpoint and a sample app, each devnet registered on the Hub as a
//! Starknet-family domain.

use alloy::primitives::{Address, U256};
use eyre::{Result, WrapErr, ensure};
use starknet_rust::core::{types::Felt, utils::get_selector_from_name};
use xroute_proofs::starknet::felt_to_u256;

use crate::{
    LocalNet,
    artifacts::{
        ENDPOINT, SAMPLE_APP,
        evm::{Hub, SampleApp},
    },
    localnet::L1_KIT_ACCOUNT,
};

/// The xroute domain id of L1 on the local network.
pub const L1_DOMAIN: u32 = 1;
/// The domain id of devnet 0 (Starknet); devnet `i` gets `STARKNET_DOMAIN + i`.
pub const STARKNET_DOMAIN: u32 = 2;

/// The contracts of one Starknet-family domain.
#[derive(Debug, Clone, Copy)]
pub struct StarknetDeployment {
    /// The xroute domain id.
    pub domain: u32,
    /// The Endpoint.
    pub endpoint: Felt,
    /// The sample app.
    pub app: Felt,
}

/// Addresses of everything [`XrouteStack::deploy`] deployed.
#[derive(Debug, Clone)]
pub struct XrouteStack {
    /// The L1 Hub.
    pub hub: Address,
    /// The L1 sample app.
    pub l1_app: Address,
    /// Per devnet, in [`LocalNet::starknets`] order.
    pub starknets: Vec<StarknetDeployment>,
}

impl XrouteStack {
    /// Deploys and registers everything, from the kit's L1 account and predeployed account 0 of
    /// each devnet.
    pub async fn deploy(net: &LocalNet) -> Result<Self> {
        let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
        let selector = felt_to_u256(get_selector_from_name("receive_message")?);
        let hub = Hub::deploy(&l1, L1_DOMAIN, selector)
            .await
            .wrap_err("deploying Hub")?;
        let l1_app = SampleApp::deploy(&l1, *hub.address())
            .await
            .wrap_err("deploying SampleApp")?;
        let hub_felt = Felt::from_bytes_be_slice(hub.address().as_slice());
        let mut starknets = Vec::with_capacity(net.starknets.len());
        for (i, chain) in net.starknets.iter().enumerate() {
            let domain = STARKNET_DOMAIN + i as u32;
            let endpoint = chain
                .devnet
                .deploy(0, &ENDPOINT, vec![hub_felt, Felt::from(domain)])
                .await?;
            let app = chain.devnet.deploy(0, &SAMPLE_APP, vec![endpoint]).await?;
            let receipt = hub
                .registerStarknetDomain(domain, chain.messaging, felt_to_u256(endpoint))
                .send()
                .await?
                .get_receipt()
                .await?;
            ensure!(
                receipt.status(),
                "registerStarknetDomain({domain}) reverted"
            );
            starknets.push(StarknetDeployment {
                domain,
                endpoint,
                app,
            });
        }
        Ok(Self {
            hub: *hub.address(),
            l1_app: *l1_app.address(),
            starknets,
        })
    }

    /// An L1 address as the 32-byte word the envelope carries.
    pub fn l1_word(address: Address) -> U256 {
        U256::from_be_slice(address.as_slice())
    }
}
