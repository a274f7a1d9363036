#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End to end: real anvil + two devnets (Starknet, and an L3 appchain with its own messaging
//! contract), the contracts of `contracts/`, and the `xroute` binary as a process. The test plays
//! the provers and sequencers by flushing devnet's postman in a loop; everything else is the
//! router's own work. Each test checks the outcome on chain: app storage, the messaging
//! contract's slots, the relayer's receipts.

use std::{collections::HashSet, path::Path, sync::Arc, time::Duration};

use alloy::primitives::{B256, U256};
use eyre::{Result, WrapErr, bail};
use starknet_rust::core::types::Felt;
use tempfile::TempDir;
use xroute_proofs::{
    envelope::{Envelope, MessageId},
    starknet::l2_to_l1_message_hash,
};
use xroute_tests::{
    LocalNet, XrouteStack,
    arbitrum::ArbitrumOptions,
    artifacts::evm::{Hub, IStarknetMessaging, SampleApp},
    devnet::DevnetOptions,
    localnet::L1_KIT_ACCOUNT,
    process::free_port,
    router::{
        Flusher, RelayTx, RouterOptions, RouterProcess, check_each_hop_once, relay_transactions,
        write_config,
    },
    stack::L1_DOMAIN,
};

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");

pub(crate) fn word(f: Felt) -> B256 {
    XrouteStack::felt_word(f)
}

/// A local network with the stack deployed, one router running, and the postman flushing.
pub(crate) struct Env {
    pub(crate) net: Arc<LocalNet>,
    pub(crate) stack: XrouteStack,
    pub(crate) router: RouterProcess,
    pub(crate) flusher: Flusher,
    _dir: TempDir,
}

impl Env {
    pub(crate) async fn start() -> Result<Self> {
        Self::start_with(None).await
    }

    /// Starts Starknet, the appchain and, with `arbitrum`, the local Arbitrum.
    pub(crate) async fn start_with(arbitrum: Option<ArbitrumOptions>) -> Result<Self> {
        Self::start_with_accounts(arbitrum, DevnetOptions::default().accounts).await
    }

    /// Like [`Env::start_with`], with `accounts` predeployed accounts on each devnet.
    pub(crate) async fn start_with_accounts(
        arbitrum: Option<ArbitrumOptions>,
        accounts: u32,
    ) -> Result<Self> {
        let devnet = DevnetOptions {
            accounts,
            ..DevnetOptions::default()
        };
        Self::start_with_devnets(arbitrum, devnet).await
    }

    /// Like [`Env::start_with`], each devnet started with `devnet`'s options.
    pub(crate) async fn start_with_devnets(
        arbitrum: Option<ArbitrumOptions>,
        devnet: DevnetOptions,
    ) -> Result<Self> {
        let net = Arc::new(LocalNet::start_with_devnets(2, arbitrum, devnet).await?);
        let stack = XrouteStack::deploy(&net).await?;
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let config = write_config(dir.path(), &net, &stack, port, &RouterOptions::default())?;
        let router = RouterProcess::start(Path::new(XROUTE), &config, port).await?;
        let flusher = Flusher::start(net.clone(), Duration::from_millis(300));
        Ok(Self {
            net,
            stack,
            router,
            flusher,
            _dir: dir,
        })
    }

    pub(crate) async fn send_from_starknet(
        &self,
        chain: usize,
        dst: u32,
        recipient: B256,
        payloads: &[Vec<Felt>],
    ) -> Result<Vec<MessageId>> {
        self.stack
            .send_from_starknet(&self.net, chain, dst, recipient, payloads)
            .await
    }

    pub(crate) async fn send_from_l1(
        &self,
        dst: u32,
        recipient: B256,
        payload: Vec<U256>,
        fee: u64,
    ) -> Result<MessageId> {
        self.stack
            .send_from_l1(&self.net, dst, recipient, payload, fee)
            .await
    }

    pub(crate) async fn message(&self, id: &MessageId) -> Result<serde_json::Value> {
        self.router.get(&format!("/messages/{id}")).await
    }

    /// Waits until every id is in `stage` (fails at once if one lands in another final stage).
    pub(crate) async fn wait_for(
        &mut self,
        ids: &[MessageId],
        stage: &str,
        timeout: Duration,
    ) -> Result<()> {
        let start = std::time::Instant::now();
        let mut pending: HashSet<MessageId> = ids.iter().copied().collect();
        while !pending.is_empty() {
            self.router.check_running()?;
            self.flusher.check().await?;
            let mut done = Vec::new();
            for id in &pending {
                let m = self.message(id).await?;
                let found = m["stage"].as_str().unwrap_or("");
                if found == stage {
                    done.push(*id);
                } else if ["delivered", "parked", "dropped"].contains(&found) {
                    bail!("message {id} is {found}, expected {stage}: {m:#}");
                }
            }
            for id in done {
                pending.remove(&id);
            }
            if start.elapsed() > timeout {
                let sample: Vec<_> = pending.iter().take(3).collect();
                let mut detail = String::new();
                for id in sample {
                    detail.push_str(&format!("{:#}\n", self.message(id).await?));
                }
                bail!(
                    "{} message(s) not {stage} after {timeout:?}, e.g.:\n{detail}\nrouter log:\n{}",
                    pending.len(),
                    self.router.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(())
    }

    pub(crate) fn l1_app(
        &self,
    ) -> Result<SampleApp::SampleAppInstance<alloy::providers::DynProvider>> {
        Ok(SampleApp::new(
            self.stack.l1_app,
            self.net.l1.provider(L1_KIT_ACCOUNT)?,
        ))
    }

    pub(crate) async fn total_received_on(&self, chain: usize) -> Result<u64> {
        let d = self.stack.starknets[chain];
        let out = self.net.starknets[chain]
            .devnet
            .call(d.app, "total_received", vec![])
            .await?;
        Ok(u64::try_from(out[0].to_biguint())?)
    }

    /// Every transaction the router's L1 account sent, with the hops it made, from the chain.
    pub(crate) async fn relay_receipts(&self) -> Result<Vec<RelayTx>> {
        let relayer = self.net.l1.address(RouterOptions::default().l1_account)?;
        relay_transactions(&self.net, &[relayer], self.stack.hub).await
    }

    /// `xroute <args> --api URL` as a process: (exit code, stdout, stderr).
    pub(crate) fn cli(&self, args: &[&str]) -> Result<(i32, String, String)> {
        let out = std::process::Command::new(XROUTE)
            .args(args)
            .args(["--api", &self.router.api])
            .output()
            .wrap_err("running xroute")?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        ))
    }
}

pub(crate) const DELIVERY: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn starknet_app_to_l1_app_is_delivered_and_consumed_once() -> Result<()> {
    let mut env = Env::start().await?;
    let sn = env.stack.starknets[0];
    let l1_app = env.stack.l1_app;
    let recipient = B256::left_padding_from(l1_app.as_slice());
    let payload = vec![Felt::from(7u8), Felt::from(8u8)];
    let ids = env
        .send_from_starknet(0, L1_DOMAIN, recipient, std::slice::from_ref(&payload))
        .await?;
    env.wait_for(&ids, "delivered", DELIVERY).await?;

    let app = env.l1_app()?;
    let sender = word(sn.app);
    assert_eq!(
        app.receivedFrom(sn.domain, sender).call().await?,
        U256::from(1)
    );
    assert_eq!(
        app.lastPayload(sn.domain, sender).call().await?,
        vec![U256::from(7), U256::from(8)]
    );
    assert_eq!(app.totalReceived().call().await?, U256::from(1));
    // Consumed exactly once: the L2→L1 slot went 1 → 0, and one relay transaction, successful.
    let envelope = Envelope {
        src_domain: sn.domain,
        nonce: 0,
        sender,
        dst_domain: L1_DOMAIN,
        recipient,
        payload: payload.iter().map(|f| word(*f)).collect(),
    };
    assert_eq!(envelope.id(), ids[0]);
    let hash = l2_to_l1_message_hash(sn.endpoint, env.stack.hub, &envelope.to_felts()?);
    let messaging =
        IStarknetMessaging::new(env.net.starknets[0].messaging, env.net.l1.provider(0)?);
    assert_eq!(messaging.l2ToL1Messages(hash).call().await?, U256::ZERO);
    let receipts = env.relay_receipts().await?;
    assert_eq!(receipts.len(), 1, "one relay transaction: {receipts:?}");
    check_each_hop_once(&receipts, 1)?;

    // The CLI reads it from the running router.
    let (code, out, err) = env.cli(&["status", &ids[0].to_string()])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stage     delivered"), "{out}");
    assert!(
        out.contains("storage proof"),
        "the history shows the proof: {out}"
    );
    assert!(
        out.contains(&receipts[0].hash.to_string()),
        "the relay tx is listed: {out}"
    );
    let (code, out, _) = env.cli(&["messages", "--status", "delivered"])?;
    assert_eq!(code, 0);
    assert!(
        out.contains(&ids[0].to_string()) && out.contains("starknet → ethereum"),
        "{out}"
    );

    // Ctrl-C drains and exits cleanly.
    assert_eq!(env.router.interrupt().await?, Some(0));
    env.flusher.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn l1_app_to_starknet_app_is_delivered() -> Result<()> {
    let mut env = Env::start().await?;
    let sn = env.stack.starknets[0];
    // The app escrows nothing: the router quotes the L2 fee and pays it.
    let payload = vec![U256::from(11), U256::from(12), U256::from(13)];
    let id = env
        .send_from_l1(sn.domain, word(sn.app), payload, 0)
        .await?;
    env.wait_for(&[id], "delivered", DELIVERY).await?;

    let devnet = &env.net.starknets[0].devnet;
    let l1_sender = Felt::from_bytes_be_slice(env.stack.l1_app.as_slice());
    let from = vec![Felt::from(L1_DOMAIN), l1_sender];
    assert_eq!(
        devnet.call(sn.app, "received_from", from.clone()).await?,
        vec![Felt::ONE]
    );
    assert_eq!(
        devnet.call(sn.app, "last_payload", from).await?,
        vec![
            Felt::THREE,
            Felt::from(11u8),
            Felt::from(12u8),
            Felt::from(13u8)
        ]
    );
    let hub = Hub::new(env.stack.hub, env.net.l1.provider(0)?);
    assert_eq!(
        hub.outbound(id.0).call().await?,
        U256::ZERO,
        "forwarded once"
    );
    let m = env.message(&id).await?;
    assert!(
        hub.isProcessed(L1_DOMAIN, m["nonce"].as_u64().unwrap())
            .call()
            .await?
    );
    let fee: U256 = m["relays"][0]["value"].as_str().unwrap().parse()?;
    assert!(fee > U256::ZERO, "the router paid the L2 fee: {m:#}");
    let receipts = env.relay_receipts().await?;
    assert_eq!(receipts.len(), 1);
    check_each_hop_once(&receipts, 1)?;
    env.flusher.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn starknet_app_to_appchain_app_crosses_two_hops() -> Result<()> {
    let mut env = Env::start().await?;
    let sn = env.stack.starknets[0];
    let app3 = env.stack.starknets[1];
    let ids = env
        .send_from_starknet(0, app3.domain, word(app3.app), &[vec![Felt::from(99u8)]])
        .await?;
    env.wait_for(&ids, "delivered", DELIVERY).await?;
    let appchain = &env.net.starknets[1].devnet;
    let from = vec![Felt::from(sn.domain), sn.app];
    assert_eq!(
        appchain
            .call(app3.app, "received_from", from.clone())
            .await?,
        vec![Felt::ONE]
    );
    assert_eq!(
        appchain.call(app3.app, "last_payload", from).await?,
        vec![Felt::ONE, Felt::from(99u8)]
    );
    let m = env.message(&ids[0]).await?;
    assert_eq!(m["route"], "starknet → appchain1");
    let receipts = env.relay_receipts().await?;
    assert_eq!(receipts.len(), 1, "one L1 transaction carries both hops");
    env.flusher.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_messages_are_parked_with_their_reason_and_the_rest_keep_flowing() -> Result<()> {
    let mut env = Env::start().await?;
    let sn = env.stack.starknets[0];
    let l1_recipient = B256::left_padding_from(env.stack.l1_app.as_slice());

    let unknown_domain = env
        .send_from_starknet(0, 99, l1_recipient, &[vec![Felt::ONE]])
        .await?[0];
    let not_a_contract = B256::left_padding_from(&[0xde, 0xad]);
    let bad_l1_recipient = env
        .send_from_starknet(0, L1_DOMAIN, not_a_contract, &[vec![Felt::TWO]])
        .await?[0];
    let undeployed = env
        .send_from_l1(
            sn.domain,
            B256::left_padding_from(&[0x12, 0x34]),
            vec![U256::from(1)],
            0,
        )
        .await?;
    // (A word that is not a felt toward Starknet is refused by the Hub at send: hub_contracts.)
    // Good messages around them.
    let mut good = env
        .send_from_starknet(0, L1_DOMAIN, l1_recipient, &[vec![Felt::THREE]])
        .await?;
    good.push(
        env.send_from_l1(sn.domain, word(sn.app), vec![U256::from(5)], 0)
            .await?,
    );

    env.wait_for(&good, "delivered", DELIVERY).await?;
    let bad = [unknown_domain, bad_l1_recipient, undeployed];
    env.wait_for(&bad, "parked", DELIVERY).await?;

    let expect = [
        (unknown_domain, "unknown destination domain 99"),
        (bad_l1_recipient, "is not a contract on L1"),
        (undeployed, "is not deployed on starknet"),
    ];
    for (id, reason) in expect {
        let (code, out, err) = env.cli(&["status", &id.to_string()])?;
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("stage     parked"), "{out}");
        assert!(
            out.contains(reason),
            "status of {id} should say {reason:?}:\n{out}"
        );
    }
    // Nothing was paid for the parked ones: the only relay transactions are the good ones'.
    let receipts = env.relay_receipts().await?;
    check_each_hop_once(&receipts, 2)?;
    assert_eq!(env.l1_app()?.totalReceived().call().await?, U256::from(1));

    // The operator drops one and retries another; retry re-runs the checks (still unknown).
    let (code, out, err) = env.cli(&["drop", &undeployed.to_string(), "--reason", "app bug"])?;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("stage     dropped") && out.contains("app bug"),
        "{out}"
    );
    let (code, _, err) = env.cli(&["drop", &undeployed.to_string(), "--reason", "again"])?;
    assert_eq!(code, 1);
    assert!(err.contains("is dropped, not parked"), "{err}");
    let (code, out, err) = env.cli(&["retry", &unknown_domain.to_string()])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stage     sent"), "{out}");
    env.wait_for(&[unknown_domain], "parked", DELIVERY).await?;
    let m = env.message(&unknown_domain).await?;
    let notes: Vec<&str> = m["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["note"].as_str().unwrap())
        .collect();
    assert!(notes.contains(&"retried by operator"), "{notes:?}");
    // Bad CLI input names what is wrong.
    let (code, _, err) = env.cli(&["status", "0x1234"])?;
    assert_eq!(code, 2);
    assert!(err.contains("is not a message id"), "{err}");
    let (code, _, err) = env.cli(&["messages", "--status", "lost"])?;
    assert_eq!(code, 2);
    assert!(err.contains("--status"), "{err}");
    env.flusher.stop().await?;
    Ok(())
}
