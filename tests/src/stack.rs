//! Deploys xroute's contracts on a [`LocalNet`]: the L1 Hub and an L1 sample app on the anvil,
//! on every devnet an Endpoint and a sample app, each devnet registered on the Hub as a
//! Starknet-family domain, and on the local Arbitrum's L2 (when started) an ArbitrumEndpoint and
//! a sample app, registered as an Arbitrum-family domain with the real Inbox.

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::SolCall,
};
use eyre::{Result, WrapErr, ensure};
use starknet_rust::core::types::Felt;
use xroute_proofs::{
    envelope::{Envelope, MessageId},
    starknet::felt_to_u256,
};

use std::path::PathBuf;

use xroute_adapters::deploy::{DeployKeys, Deployer, Record};
use xroute_config::{DeployArbitrum, DeployFile, DeployL1, DeployStarknet, RpcUrl};

use crate::{
    LocalNet,
    artifacts::{
        SAMPLE_APP,
        evm::{ArbitrumEndpoint, Hub, SampleApp},
    },
    localnet::L1_KIT_ACCOUNT,
};

/// The deployment's name of devnet `i`'s chain.
pub(crate) fn starknet_name(i: usize) -> String {
    if i == 0 {
        "starknet".into()
    } else {
        format!("appchain{i}")
    }
}

/// The xroute domain id of L1 on the local network.
pub const L1_DOMAIN: u32 = 1;
/// The domain id of devnet 0 (Starknet); devnet `i` gets `STARKNET_DOMAIN + i`.
pub const STARKNET_DOMAIN: u32 = 2;
/// The domain id of the local Arbitrum.
pub const ARBITRUM_DOMAIN: u32 = 10;
/// The L2 dev account the kit deploys and sends from on the local Arbitrum.
pub const L2_KIT_ACCOUNT: usize = 0;

/// The contracts on the local Arbitrum's L2.
#[derive(Debug, Clone, Copy)]
pub struct ArbitrumDeployment {
    /// The xroute domain id.
    pub domain: u32,
    /// The ArbitrumEndpoint.
    pub endpoint: Address,
    /// The sample app behind it.
    pub app: Address,
}

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
    /// On the local Arbitrum, when the network has it.
    pub arbitrum: Option<ArbitrumDeployment>,
    /// The deployment's record, as `xroute deploy` keeps it (what the token's deployment, later,
    /// goes on from).
    pub record: Record,
}

impl XrouteStack {
    /// Deploys and registers everything, from the kit's L1 account and predeployed account 0 of
    /// each devnet: xroute's contracts through the product's own deployment
    /// ([`xroute_adapters::deploy::Deployer`], what `xroute deploy` runs), then the sample apps.
    pub async fn deploy(net: &LocalNet) -> Result<Self> {
        let record = Self::deploy_xroute(net).await?;
        let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
        let hub_address = record
            .l1
            .as_ref()
            .and_then(|l| l.hub.as_ref())
            .map(|h| h.address)
            .ok_or_else(|| eyre::eyre!("the deployment made no Hub"))?;
        let l1_app = SampleApp::deploy(&l1, hub_address)
            .await
            .wrap_err("deploying SampleApp")?;
        let mut starknets = Vec::with_capacity(net.starknets.len());
        for (i, chain) in net.starknets.iter().enumerate() {
            let domain = STARKNET_DOMAIN + i as u32;
            let endpoint = record
                .starknet
                .get(&starknet_name(i))
                .and_then(|r| r.endpoint.as_ref())
                .map(|e| Felt::from_bytes_be(&e.address.0))
                .ok_or_else(|| eyre::eyre!("the deployment made no Endpoint on devnet {i}"))?;
            let app = chain.devnet.deploy(0, &SAMPLE_APP, vec![endpoint]).await?;
            starknets.push(StarknetDeployment {
                domain,
                endpoint,
                app,
            });
        }
        let arbitrum = match &net.arbitrum {
            None => None,
            Some(arb) => {
                let l2 = arb.l2.provider(L2_KIT_ACCOUNT)?;
                let endpoint = record
                    .arbitrum
                    .get("arbitrum")
                    .and_then(|r| r.endpoint.as_ref())
                    .map(|e| e.address)
                    .ok_or_else(|| eyre::eyre!("the deployment made no ArbitrumEndpoint"))?;
                let app = SampleApp::deploy(&l2, endpoint)
                    .await
                    .wrap_err("deploying the L2 SampleApp")?;
                Some(ArbitrumDeployment {
                    domain: ARBITRUM_DOMAIN,
                    endpoint,
                    app: *app.address(),
                })
            }
        };
        Ok(Self {
            hub: hub_address,
            l1_app: *l1_app.address(),
            starknets,
            arbitrum,
            record,
        })
    }

    /// The Hub, an Endpoint per devnet and an ArbitrumEndpoint (with the local Arbitrum), each
    /// registered, deployed as `xroute deploy` deploys them; returns the deployment's record.
    async fn deploy_xroute(net: &LocalNet) -> Result<Record> {
        run_deployment(net, None, None, Record::default()).await
    }
}

/// Runs the kit's deployment of `net` (with `token`, the canonical token too, and with `pool`
/// the pool) on from `record`, through the product's `Deployer`, from the kit's L1 account, each
/// devnet's account 0 and the local Arbitrum's kit account; returns the record it leaves.
pub(crate) async fn run_deployment(
    net: &LocalNet,
    token: Option<xroute_config::DeployToken>,
    pool: Option<xroute_config::DeployPool>,
    mut record: Record,
) -> Result<Record> {
    let url = |u: &str| RpcUrl::new(u).map_err(|e| eyre::eyre!("{e}"));
    let file = DeployFile {
        name: "kit".into(),
        record: None,
        l1: DeployL1 {
            name: "ethereum".into(),
            domain: L1_DOMAIN,
            rpc: url(net.l1.endpoint())?,
            deployer_key_file: PathBuf::new(),
            owner: None,
        },
        starknet: net
            .starknets
            .iter()
            .enumerate()
            .map(|(i, chain)| {
                Ok(DeployStarknet {
                    name: starknet_name(i),
                    domain: STARKNET_DOMAIN + i as u32,
                    rpc: url(chain.devnet.rpc_url().as_str())?,
                    l1_messaging: chain.messaging,
                    account: xroute_config::Felt(felt_to_u256(
                        chain.devnet.predeployed_accounts()[0].address,
                    )),
                    account_key_file: PathBuf::new(),
                })
            })
            .collect::<Result<_>>()?,
        arbitrum: match &net.arbitrum {
            None => vec![],
            Some(arb) => vec![DeployArbitrum {
                name: "arbitrum".into(),
                domain: ARBITRUM_DOMAIN,
                rpc: url(arb.l2.endpoint())?,
                inbox: arb.bridge.inbox,
                bridge: arb.bridge.bridge,
                outbox: arb.bridge.outbox,
                deployer_key_file: PathBuf::new(),
            }],
        },
        token,
        pool,
    };
    let keys = DeployKeys {
        l1: net.l1.signer(L1_KIT_ACCOUNT)?,
        starknet: net
            .starknets
            .iter()
            .map(|c| c.devnet.predeployed_accounts()[0].private_key)
            .collect(),
        arbitrum: match &net.arbitrum {
            None => vec![],
            Some(arb) => vec![arb.l2.signer(L2_KIT_ACCOUNT)?],
        },
    };
    let deployer = Deployer::connect(file, keys).await?;
    let plan = deployer.plan(&record).await?;
    deployer
        .execute(&plan, &mut record, |_| {}, |_| Ok(()))
        .await?;
    Ok(record)
}

impl XrouteStack {
    /// The Arbitrum deployment, or an error saying there is none.
    pub fn arbitrum(&self) -> Result<ArbitrumDeployment> {
        self.arbitrum
            .ok_or_else(|| eyre::eyre!("the stack was deployed without Arbitrum"))
    }

    /// Sends `payloads` from the L2 sample app on the local Arbitrum to `recipient` on domain
    /// `dst`, one transaction each, from the kit's L2 account. Returns the ids the endpoint
    /// emitted.
    pub async fn send_from_arbitrum(
        &self,
        net: &LocalNet,
        dst: u32,
        recipient: B256,
        payloads: &[Vec<U256>],
    ) -> Result<Vec<MessageId>> {
        send_from_arbitrum_app(net, self.arbitrum()?.app, dst, recipient, payloads).await
    }

    /// Sends `payloads` from the sample app of devnet `chain` to `recipient` on domain `dst`, up
    /// to ten per transaction, from the devnet's account 0. Returns the ids, computed from the
    /// endpoint's nonce: whoever indexes the messages must store them under the same ids.
    pub async fn send_from_starknet(
        &self,
        net: &LocalNet,
        chain: usize,
        dst: u32,
        recipient: B256,
        payloads: &[Vec<Felt>],
    ) -> Result<Vec<MessageId>> {
        Ok(self
            .envelopes_from_starknet(net, chain, dst, recipient, payloads)
            .await?
            .iter()
            .map(Envelope::id)
            .collect())
    }

    /// [`XrouteStack::send_from_starknet`], returning the envelopes sent.
    pub async fn envelopes_from_starknet(
        &self,
        net: &LocalNet,
        chain: usize,
        dst: u32,
        recipient: B256,
        payloads: &[Vec<Felt>],
    ) -> Result<Vec<Envelope>> {
        let d = self.starknets[chain];
        let devnet = &net.starknets[chain].devnet;
        let mut nonce =
            u64::try_from(devnet.call(d.endpoint, "next_nonce", vec![]).await?[0].to_biguint())?;
        let mut envelopes = Vec::with_capacity(payloads.len());
        for chunk in payloads.chunks(10) {
            let mut calls = Vec::with_capacity(chunk.len());
            for payload in chunk {
                let mut calldata = vec![
                    Felt::from(dst),
                    Felt::from_bytes_be(&recipient.0),
                    Felt::from(payload.len()),
                ];
                calldata.extend_from_slice(payload);
                calls.push((d.app, "send", calldata));
                envelopes.push(Envelope {
                    src_domain: d.domain,
                    nonce,
                    sender: Self::felt_word(d.app),
                    dst_domain: dst,
                    recipient,
                    payload: payload.iter().map(|f| Self::felt_word(*f)).collect(),
                });
                nonce += 1;
            }
            devnet.invoke_many(0, calls).await?;
        }
        Ok(envelopes)
    }

    /// Sends from the L1 sample app (from the kit's account), escrowing `fee` wei toward the L2
    /// leg; returns the id the Hub emitted.
    pub async fn send_from_l1(
        &self,
        net: &LocalNet,
        dst: u32,
        recipient: B256,
        payload: Vec<U256>,
        fee: u64,
    ) -> Result<MessageId> {
        let l1 = net.l1.provider(L1_KIT_ACCOUNT)?;
        let receipt = SampleApp::new(self.l1_app, &l1)
            .send(dst, recipient, payload)
            .value(U256::from(fee))
            .send()
            .await?
            .get_receipt()
            .await?;
        ensure!(receipt.status(), "the L1 send reverted");
        Ok(MessageId(hub_sent(&receipt)?.id))
    }

    /// The `relayFromStarknet` call relaying `envelope` from devnet `chain`'s domain (once the
    /// devnet's state update made it consumable on L1).
    pub fn relay_from_starknet_call(&self, chain: usize, envelope: &Envelope) -> Bytes {
        relay_from_starknet_call(
            self.starknets[chain].domain,
            self.starknets[chain].endpoint,
            envelope,
        )
    }

    /// A felt as the 32-byte word the envelope carries.
    pub fn felt_word(f: Felt) -> B256 {
        B256::from(f.to_bytes_be())
    }

    /// An L1 address as the 32-byte word the envelope carries.
    pub fn l1_word(address: Address) -> U256 {
        U256::from_be_slice(address.as_slice())
    }
}

/// The `relayFromStarknet` call relaying `envelope` from Starknet-family domain `domain`, whose
/// endpoint is `endpoint`.
pub fn relay_from_starknet_call(domain: u32, endpoint: Felt, envelope: &Envelope) -> Bytes {
    Hub::relayFromStarknetCall {
        srcDomain: domain,
        endpoint: felt_to_u256(endpoint),
        words: envelope
            .to_words()
            .iter()
            .map(|w| U256::from_be_bytes(w.0))
            .collect(),
        entry: Bytes::new(),
    }
    .abi_encode()
    .into()
}

/// The Hub's `MessageSent` in an L1 receipt (an L1 app's send, or the ledger's MINT message).
pub fn hub_sent(receipt: &alloy::rpc::types::TransactionReceipt) -> Result<Hub::MessageSent> {
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| l.log_decode::<Hub::MessageSent>().ok())
        .map(|l| l.inner.data)
        .ok_or_else(|| eyre::eyre!("no MessageSent in the L1 receipt"))
}

/// Sends `payloads` from the sample app `app` on the local Arbitrum (whichever endpoint it sends
/// through) to `recipient` on domain `dst`, one transaction each, from the kit's L2 account.
/// Returns the ids the endpoint emitted.
pub async fn send_from_arbitrum_app(
    net: &LocalNet,
    app: Address,
    dst: u32,
    recipient: B256,
    payloads: &[Vec<U256>],
) -> Result<Vec<MessageId>> {
    let l2 = net.arbitrum()?.l2.provider(L2_KIT_ACCOUNT)?;
    let app = SampleApp::new(app, &l2);
    let mut ids = Vec::with_capacity(payloads.len());
    for payload in payloads {
        let receipt = app
            .send(dst, recipient, payload.clone())
            .send()
            .await?
            .get_receipt()
            .await?;
        ensure!(receipt.status(), "the Arbitrum send reverted");
        let sent = receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| l.log_decode::<ArbitrumEndpoint::MessageSent>().ok())
            .ok_or_else(|| eyre::eyre!("no MessageSent in the Arbitrum receipt"))?;
        ids.push(MessageId(sent.inner.data.id));
    }
    Ok(ids)
}
