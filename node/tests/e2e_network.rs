#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The router network end to end: several `xroute` processes on 127.0.0.1, each with its own L1
//! relayer account, attestation key and libp2p key, over real anvil + two devnets. Checks come
//! from the chains (relay transactions counted from L1 blocks and receipts, app counters) and
//! from each router's API.

use std::{collections::HashSet, path::Path, sync::Arc, time::Duration};

use alloy::primitives::{Address, B256, U256};
use eyre::{Result, bail};
use starknet_rust::core::types::Felt;
use tempfile::TempDir;
use xroute_proofs::envelope::MessageId;
use xroute_tests::{
    LocalNet, XrouteStack,
    artifacts::evm::SampleApp,
    localnet::L1_KIT_ACCOUNT,
    router::{
        Flusher, NetworkMember, NetworkPlan, RouterOptions, RouterProcess, relay_transactions,
        write_config,
    },
    stack::L1_DOMAIN,
};

const XROUTE: &str = env!("CARGO_BIN_EXE_xroute");

struct NetEnv {
    net: Arc<LocalNet>,
    stack: XrouteStack,
    routers: Vec<RouterProcess>,
    members: Vec<NetworkMember>,
    flusher: Flusher,
    _dir: TempDir,
}

impl NetEnv {
    async fn start(n: usize, threshold: usize, relay_window_ms: u64) -> Result<Self> {
        let net = Arc::new(LocalNet::start(2).await?);
        let stack = XrouteStack::deploy(&net).await?;
        let dir = tempfile::tempdir()?;
        let members = NetworkPlan::members(Path::new(XROUTE), dir.path(), n)?;
        let mut routers = Vec::with_capacity(n);
        for (i, member) in members.iter().enumerate() {
            let options = RouterOptions {
                l1_account: 1 + i,
                poll_interval_ms: 300,
                network: Some(NetworkPlan {
                    members: members.clone(),
                    me: i,
                    threshold,
                    relay_window_ms,
                }),
                ..RouterOptions::default()
            };
            let port = xroute_tests::process::free_port()?;
            let config = write_config(&member.dir, &net, &stack, port, &options)?;
            routers.push(RouterProcess::start(Path::new(XROUTE), &config, port).await?);
        }
        let flusher = Flusher::start(net.clone(), Duration::from_millis(300));
        Ok(Self {
            net,
            stack,
            routers,
            members,
            flusher,
            _dir: dir,
        })
    }

    fn relayers(&self) -> Result<Vec<Address>> {
        (0..self.routers.len())
            .map(|i| self.net.l1.address(1 + i))
            .collect()
    }

    /// Sends `n` messages round-robin over the three routes; returns their ids.
    async fn send_mixed(&self, n: usize, tag: u64) -> Result<Vec<MessageId>> {
        let sn = self.stack.starknets[0];
        let app3 = self.stack.starknets[1];
        let l1_app = B256::left_padding_from(self.stack.l1_app.as_slice());
        let per = n / 3;
        let payloads = |k: usize| -> Vec<Vec<Felt>> {
            (0..k)
                .map(|i| vec![Felt::from(tag), Felt::from(i as u64)])
                .collect()
        };
        let mut ids = self
            .stack
            .send_from_starknet(&self.net, 0, L1_DOMAIN, l1_app, &payloads(per))
            .await?;
        ids.extend(
            self.stack
                .send_from_starknet(
                    &self.net,
                    0,
                    app3.domain,
                    XrouteStack::felt_word(app3.app),
                    &payloads(per),
                )
                .await?,
        );
        for i in 0..(n - 2 * per) {
            ids.push(
                self.stack
                    .send_from_l1(
                        &self.net,
                        sn.domain,
                        XrouteStack::felt_word(sn.app),
                        vec![U256::from(tag), U256::from(i)],
                        0,
                    )
                    .await?,
            );
        }
        Ok(ids)
    }

    /// Waits until router `r` reports every id delivered.
    async fn wait_delivered(
        &mut self,
        r: usize,
        ids: &[MessageId],
        timeout: Duration,
    ) -> Result<()> {
        let start = std::time::Instant::now();
        let mut pending: HashSet<MessageId> = ids.iter().copied().collect();
        while !pending.is_empty() {
            self.routers[r].check_running()?;
            self.flusher.check()?;
            let delivered = self.routers[r]
                .get("/messages?status=delivered&limit=10000")
                .await?;
            for m in delivered.as_array().into_iter().flatten() {
                if let Ok(id) = m["id"].as_str().unwrap_or("").parse::<MessageId>() {
                    pending.remove(&id);
                }
            }
            if start.elapsed() > timeout {
                let id = pending.iter().next().unwrap();
                let sample = self.routers[r].get(&format!("/messages/{id}")).await?;
                bail!(
                    "router {r}: {} not delivered after {timeout:?}, e.g. {sample:#}\nlog:\n{}",
                    pending.len(),
                    self.routers[r].log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(())
    }

    async fn total_received(&self) -> Result<(u64, u64, u64)> {
        let l1 = SampleApp::new(self.stack.l1_app, self.net.l1.provider(L1_KIT_ACCOUNT)?)
            .totalReceived()
            .call()
            .await?;
        let mut out = [0u64; 2];
        for (chain, slot) in out.iter_mut().enumerate() {
            let d = self.stack.starknets[chain];
            let v = self.net.starknets[chain]
                .devnet
                .call(d.app, "total_received", vec![])
                .await?;
            *slot = u64::try_from(v[0].to_biguint())?;
        }
        Ok((u64::try_from(l1)?, out[0], out[1]))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_routers_threshold_three_relay_three_hundred_messages_exactly_once() -> Result<()> {
    let mut env = NetEnv::start(4, 3, 4_000).await?;
    let ids = env.send_mixed(300, 1).await?;
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 300);
    for r in 0..4 {
        env.wait_delivered(r, &ids, Duration::from_secs(600))
            .await?;
    }
    // Exactly once, from the chains.
    assert_eq!(env.total_received().await?, (100, 100, 100));
    let txs = relay_transactions(&env.net, &env.relayers()?, env.stack.hub).await?;
    let reverted: Vec<_> = txs.iter().filter(|t| !t.2).collect();
    assert!(reverted.is_empty(), "reverted relays: {reverted:?}");
    assert_eq!(txs.len(), 300, "relay transactions sent = hops needed");
    // The work was shared: rendezvous hashing spreads the hops over the routers.
    let by_router: Vec<usize> = env
        .relayers()?
        .iter()
        .map(|a| txs.iter().filter(|t| t.1 == *a).count())
        .collect();
    assert!(
        by_router.iter().all(|n| *n > 20),
        "hops per router: {by_router:?}"
    );
    // Every router holds a certificate signed by at least the threshold, only by the set.
    let set: HashSet<String> = env.members.iter().map(|m| m.address.to_string()).collect();
    for r in 0..4 {
        let m = env.routers[r].get(&format!("/messages/{}", ids[7])).await?;
        let signers = m["certificate_signers"].as_array().expect("a certificate");
        assert!(signers.len() >= 3, "{m:#}");
        assert!(signers.iter().all(|s| set.contains(s.as_str().unwrap())));
    }
    // Every router sees the other three live, with matching views.
    let peers = env.routers[0].get("/peers").await?;
    let routers = peers["routers"].as_array().unwrap();
    assert_eq!(routers.len(), 4);
    assert!(
        routers
            .iter()
            .all(|r| r["live"] == true && r["divergent"].is_null()),
        "{peers:#}"
    );
    eprintln!("hops per router: {by_router:?}");
    env.flusher.stop().await?;
    Ok(())
}
