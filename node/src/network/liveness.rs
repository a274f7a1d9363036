//! Heartbeats: every router publishes its head and finalized head per chain; a router whose
//! finalized block hash differs from ours at a height we saw is logged and flagged. What
//! `GET /peers` shows. Liveness is shown, not used for relay ranking (see [`super::assign`]).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy_primitives::{Address, B256};
use serde::Serialize;
use xroute_adapters::{ChainAdapter, ChainAdapterExt};

use super::Network;
use crate::{
    network::wire::{ChainView, Gossip, Heartbeat},
    p2p::PeerInfo,
    time::now_ms,
};

/// Finalized heights remembered per chain for divergence checks.
const VIEW_HISTORY: usize = 512;

#[derive(Debug, Clone)]
struct Seen {
    heartbeat: Heartbeat,
    received_ms: u64,
}

#[derive(Debug, Default)]
struct State {
    heartbeats: HashMap<Address, Seen>,
    divergent: HashMap<Address, String>,
    own_finalized: HashMap<String, BTreeMap<u64, B256>>,
}

/// What this router knows of the others' liveness and views.
#[derive(Debug, Default)]
pub(super) struct Liveness {
    state: Mutex<State>,
}

/// A router of the set as `GET /peers` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RouterView {
    /// Attestation address.
    #[schema(value_type = String)]
    pub address: Address,
    /// Peer id.
    pub peer_id: String,
    /// This router.
    pub me: bool,
    /// Heard from within three heartbeats.
    pub live: bool,
    /// Milliseconds since its last heartbeat.
    pub last_heartbeat_ms_ago: Option<u64>,
    /// Its last view of every chain.
    pub chains: Vec<ChainView>,
    /// Why its view differs from ours, if it does.
    pub divergent: Option<String>,
}

/// `GET /peers`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PeersView {
    /// This router's peer id.
    pub peer_id: String,
    /// Its p2p listen addresses.
    pub listen: Vec<String>,
    /// Quorum threshold.
    pub threshold: usize,
    /// The router set.
    pub routers: Vec<RouterView>,
    /// Every peer the p2p layer knows (configured or not), with its counters.
    pub connections: Vec<PeerInfo>,
}

impl Liveness {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers our own finalized block of each chain in `views`.
    fn saw(&self, views: &[ChainView]) {
        let mut state = self.state();
        for v in views {
            let history = state.own_finalized.entry(v.chain.clone()).or_default();
            history.insert(v.finalized, v.finalized_hash);
            while history.len() > VIEW_HISTORY {
                history.pop_first();
            }
        }
    }

    /// A member's heartbeat `hb`, received at `now`.
    pub(super) fn heard(&self, hb: Heartbeat, now: u64) {
        let mut state = self.state();
        let mut divergence = None;
        for view in &hb.chains {
            if let Some(ours) = state
                .own_finalized
                .get(&view.chain)
                .and_then(|m| m.get(&view.finalized))
                && *ours != view.finalized_hash
            {
                divergence = Some(format!(
                    "{} block {}: {} has {}, we have {ours}",
                    view.chain, view.finalized, hb.router, view.finalized_hash
                ));
            }
        }
        match divergence {
            Some(d) => {
                if state.divergent.get(&hb.router) != Some(&d) {
                    tracing::warn!(router = %hb.router, divergence = %d, "a router sees a different chain");
                }
                state.divergent.insert(hb.router, d);
            }
            None => {
                state.divergent.remove(&hb.router);
            }
        }
        state.heartbeats.insert(
            hb.router,
            Seen {
                heartbeat: hb,
                received_ms: now,
            },
        );
    }

    #[cfg(test)]
    pub(super) fn saw_finalized(&self, chain: &str, number: u64, hash: B256) {
        self.saw(&[ChainView {
            chain: chain.into(),
            head: number,
            finalized: number,
            finalized_hash: hash,
        }]);
    }
}

/// One chain's heads, or nothing if the chain does not answer within `wait`.
async fn view_of(adapter: &dyn ChainAdapter, wait: Duration) -> Option<ChainView> {
    let (head, fin) = tokio::time::timeout(wait, adapter.heads())
        .await
        .ok()?
        .ok()?;
    Some(ChainView {
        chain: adapter.name().to_string(),
        head: head.number,
        finalized: fin.number,
        finalized_hash: B256::from(fin.hash),
    })
}

impl Network {
    /// Publishes a heartbeat every `heartbeat_ms` with this router's view of every chain that
    /// answered within the period (all chains asked at once: a hung one delays nothing).
    pub async fn run_heartbeats(self: Arc<Self>, chains: Vec<Arc<dyn ChainAdapter>>) {
        let period = Duration::from_millis(self.heartbeat_ms);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let views: Vec<ChainView> =
                futures::future::join_all(chains.iter().map(|c| view_of(c.as_ref(), period)))
                    .await
                    .into_iter()
                    .flatten()
                    .collect();
            self.liveness.saw(&views);
            (Gossip::Heartbeat(Heartbeat {
                router: self.members.me(),
                at_ms: now_ms(),
                chains: views,
            }))
            .publish(&self.p2p);
        }
    }

    /// What `GET /peers` shows.
    pub async fn peers(&self) -> PeersView {
        let now = now_ms();
        let connections = self.p2p.peers().await;
        let listen = self
            .p2p
            .listen_addrs()
            .await
            .iter()
            .map(|a| a.to_string())
            .collect();
        let me = self.members.me();
        let state = self.liveness.state();
        let routers = self
            .members
            .list()
            .iter()
            .map(|(address, peer)| {
                let seen = state.heartbeats.get(address);
                RouterView {
                    address: *address,
                    peer_id: peer.to_string(),
                    me: *address == me,
                    live: *address == me
                        || seen.is_some_and(|s| {
                            now.saturating_sub(s.received_ms) <= 3 * self.heartbeat_ms
                        }),
                    last_heartbeat_ms_ago: seen.map(|s| now.saturating_sub(s.received_ms)),
                    chains: seen.map(|s| s.heartbeat.chains.clone()).unwrap_or_default(),
                    divergent: state.divergent.get(address).cloned(),
                }
            })
            .collect();
        PeersView {
            peer_id: self.p2p.peer_id().to_string(),
            listen,
            threshold: self.members.threshold(),
            routers,
            connections,
        }
    }
}
