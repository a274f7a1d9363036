//! The router's libp2p node, transport only: TCP + noise + yamux, identify, ping, connection
//! limits, and gossipsub with application validation (STYLE.md #8, #9). What the bytes mean (the
//! gossip wire format) and whether they are valid are the router set's (`crate::network`): this
//! layer carries bytes on the topics it is given and applies the verdicts it is handed.
//!
//! One task owns the `Swarm`; the node talks to it through a cloneable [`P2pHandle`] over a
//! bounded channel, and receives gossip ([`Received`]) on a bounded channel. Every received
//! message waits for the node's verdict ([`Verdict`]): accepted messages are forwarded to the
//! mesh, rejected ones are dropped and count against the peer that sent them, by the reason's
//! label (a lower gossipsub application score; past [`BAN_AFTER`] rejections the peer is
//! blacklisted and disconnected). Message ids are content-addressed (sha256 of the signed
//! message, see [`message_id`]), so a replay of the same message is a duplicate.

mod key;

use std::{collections::HashMap, time::Duration};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, Swarm, connection_limits,
    gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity},
    identify,
    identity::Keypair,
    multiaddr::Protocol,
    noise, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

pub use key::{load_key, load_or_create_key};

/// Rejected messages after which a peer is blacklisted and disconnected (earlier if its
/// gossipsub score reaches the graylist threshold).
pub const BAN_AFTER: u32 = 8;
/// Gossipsub score at which a peer's messages are ignored; we disconnect it there too.
const GRAYLIST: f64 = -80.0;
/// How long gossipsub remembers a message id (receiving it again is a no-op). The node dedups by
/// content itself (a known attestation is ignored before any signature check), so this only
/// spares the work of the mesh's echoes.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(60);
/// Gossipsub messages queued per connection.
const PEER_QUEUE: usize = 8192;
/// How long gossip that found no subscribed peer is kept to be published again.
const HOLD_UNSENT: Duration = Duration::from_secs(30);
/// Most such gossip kept (the oldest goes first).
const MAX_UNSENT: usize = 4096;
/// Commands buffered between the node and the swarm task.
const CHANNEL: usize = 4096;
/// Received messages buffered for validation. A burst of single attestations from every router
/// arrives faster than signatures are checked; what overflows is dropped (the node asks for it
/// again later, see `network::Network::catch_up`), so the buffer holds a burst of tens of
/// thousands (small messages: tens of MiB).
const INBOUND: usize = 1 << 16;

/// What can go wrong starting the p2p node.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// The node key file.
    #[error("p2p key file {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Building or starting the swarm.
    #[error("p2p: {0}")]
    Swarm(String),
}

/// The node's verdict on one received gossip message, as the transport applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: forward it.
    Accept,
    /// Invalid: drop it and penalise the sender, counting it under this reason.
    Reject(&'static str),
    /// Drop it, no penalty.
    Ignore,
}

/// A received gossip message waiting for its verdict: its bytes, as they came.
#[derive(Debug)]
pub struct Received {
    /// The peer that forwarded it to us.
    pub from: PeerId,
    /// The peer that signed it (gossipsub's author).
    pub author: Option<PeerId>,
    /// Its content-addressed id (for the verdict).
    pub id: gossipsub::MessageId,
    /// The topic it came on.
    pub topic: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// A peer as the p2p layer sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PeerInfo {
    /// Its peer id.
    pub peer_id: String,
    /// Connected now.
    pub connected: bool,
    /// Its address, if known.
    pub address: Option<String>,
    /// Messages of it we accepted.
    pub accepted: u64,
    /// Messages of it we rejected.
    pub rejected: u32,
    /// Those rejections by reason (`malformed`, `bad_signature`, …).
    pub rejected_by: std::collections::BTreeMap<String, u32>,
    /// Blacklisted (past [`BAN_AFTER`] rejections).
    pub banned: bool,
}

enum Command {
    Publish(&'static str, Vec<u8>),
    Verdict(gossipsub::MessageId, PeerId, Verdict),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
}

/// The node's side of the p2p task.
#[derive(Debug, Clone)]
pub struct P2pHandle {
    commands: mpsc::Sender<Command>,
    peer_id: PeerId,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl P2pHandle {
    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Gossips `bytes` on `topic`. Never blocks the caller: when the swarm task is this far
    /// behind, the message is dropped and `false` returned (callers re-publish what matters).
    pub fn publish(&self, topic: &'static str, bytes: Vec<u8>) -> bool {
        let queued = self
            .commands
            .try_send(Command::Publish(topic, bytes))
            .is_ok();
        if !queued {
            tracing::debug!("p2p command queue full; a gossip message was dropped");
        }
        queued
    }

    /// Reports the verdict on the received message `id`, forwarded to us by `from`.
    pub async fn verdict(&self, id: &gossipsub::MessageId, from: PeerId, verdict: Verdict) {
        let _ = self
            .commands
            .send(Command::Verdict(id.clone(), from, verdict))
            .await;
    }

    /// The peers the swarm knows, with their counters.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Peers(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The addresses the node listens on (with the port the OS picked).
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::ListenAddrs(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    limits: connection_limits::Behaviour,
}

/// What the p2p node needs.
#[derive(Debug, Clone)]
pub struct P2pSettings {
    /// Listen address.
    pub listen: Multiaddr,
    /// Peers to dial (with `/p2p/<peer id>`), re-dialled while disconnected.
    pub bootnodes: Vec<Multiaddr>,
    /// Most established connections.
    pub max_connections: u32,
    /// Gossipsub heartbeat.
    pub heartbeat: Duration,
    /// Largest gossipsub frame sent or received (a router uses its largest valid message plus
    /// gossipsub's envelope: `network::wire::max_frame`).
    pub max_frame: usize,
    /// The topics to subscribe to and score.
    pub topics: Vec<&'static str>,
}

/// The swarm task: runs until every [`P2pHandle`] is dropped.
pub type SwarmFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Starts the swarm task on the runtime; returns the handle and the stream of received gossip.
pub fn spawn(
    key: Keypair,
    settings: P2pSettings,
) -> Result<(P2pHandle, mpsc::Receiver<Received>), P2pError> {
    let (handle, inbound, task) = start(key, settings)?;
    tokio::spawn(task);
    Ok((handle, inbound))
}

/// Builds the swarm and listens; returns the handle, the stream of received gossip and the swarm
/// task for the caller to run (a router runs it as a named critical task).
pub fn start(
    key: Keypair,
    settings: P2pSettings,
) -> Result<(P2pHandle, mpsc::Receiver<Received>, SwarmFuture), P2pError> {
    let peer_id = key.public().to_peer_id();
    let swarm_err = |e: String| P2pError::Swarm(e);
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validate_messages()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .message_id_fn(message_id)
        .max_transmit_size(settings.max_frame)
        .heartbeat_interval(settings.heartbeat)
        // A router set is tens of routers, each connected to every other, and a publish goes to
        // every peer (flood publish): the mesh only repairs a missing connection. Each forward
        // is a copy its receiver likely has, checked (an ed25519 signature) before it is known to
        // be one: with a mesh of 12, that was most of a router's CPU at 16 routers
        // (docs/benchmarks.md). So the mesh is small (about 4), and pruned only past 64 peers
        // (a prune and re-graft is scored as misbehaviour once the set outgrows gossipsub's
        // defaults).
        .mesh_n_low(2)
        .mesh_n(4)
        .mesh_outbound_min(1)
        .mesh_n_high(64)
        .duplicate_cache_time(DUPLICATE_WINDOW)
        // Attestations stay useful for minutes: a busy router sends them late rather than drop
        // them (gossipsub's defaults drop a forward after 1 s in the queue).
        .publish_queue_duration(Duration::from_secs(30))
        // Per connection. A burst of single attestations is thousands of messages per peer at
        // once; what overflows is caught up by asking (`network::Network::catch_up`). The bound
        // is memory: 65,536 here held 1.1–1.4 GiB per router at 16 routers.
        .connection_handler_queue_len(PEER_QUEUE)
        .forward_queue_duration(Duration::from_secs(30))
        .build()
        .map_err(|e| swarm_err(e.to_string()))?;
    let mut gossipsub =
        gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), gossip_config)
            .map_err(|e| swarm_err(e.to_string()))?;
    let mut params = gossipsub::PeerScoreParams {
        app_specific_weight: 1.0,
        // Gossipsub's default IP-colocation penalty (P6: more than 10 peers on one IP cost
        // surplus² × 5) is a Sybil defence for open networks. Routers are a configured set,
        // identified by peer id and attestation key, and several may share a host or a NAT: at 14
        // routers on one IP it pushed every peer below the publish threshold and emptied the
        // mesh, so no certificate formed. Strangers are rejected by the application instead.
        ip_colocation_factor_weight: 0.0,
        // Gossipsub also scores overload as misbehaviour: every message that does not fit a
        // full send queue is a "slow peer" point (−0.2 each), and IWANTs answered late are
        // broken promises (P7, −10 × count²). In a burst every honest router earns thousands of
        // them, falls below the graylist threshold, and its gossip is ignored: at 8 routers a
        // single-attestation burst stalled at 81% with the CPU idle. Routers are a configured set;
        // what they send is judged by the application (P4, the application score, the ban).
        slow_peer_weight: 0.0,
        behaviour_penalty_weight: 0.0,
        ..Default::default()
    };
    for topic in &settings.topics {
        // Our topics are bursty (a batch, then quiet): gossipsub's default mesh-delivery
        // penalties (P3/P3b, expecting 20 messages per window) would graylist honest, idle
        // peers, so they are off; invalid messages (P4) weigh heavily.
        let t = gossipsub::TopicScoreParams {
            topic_weight: 1.0,
            time_in_mesh_weight: 0.01,
            time_in_mesh_quantum: Duration::from_secs(1),
            mesh_message_deliveries_weight: 0.0,
            mesh_failure_penalty_weight: 0.0,
            invalid_message_deliveries_weight: -10.0,
            invalid_message_deliveries_decay: 0.9,
            ..Default::default()
        };
        params.topics.insert(IdentTopic::new(*topic).hash(), t);
    }
    let thresholds = gossipsub::PeerScoreThresholds {
        gossip_threshold: -20.0,
        publish_threshold: -40.0,
        graylist_threshold: GRAYLIST,
        ..Default::default()
    };
    gossipsub
        .with_peer_score(params, thresholds)
        .map_err(swarm_err)?;
    for topic in &settings.topics {
        gossipsub
            .subscribe(&IdentTopic::new(*topic))
            .map_err(|e| swarm_err(e.to_string()))?;
    }
    let identify =
        identify::Behaviour::new(identify::Config::new("/xroute/1.0.0".into(), key.public()));
    let limits = connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established(Some(settings.max_connections))
            .with_max_established_per_peer(Some(2)),
    );
    let behaviour = Behaviour {
        gossipsub,
        identify,
        ping: ping::Behaviour::default(),
        limits,
    };
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| swarm_err(e.to_string()))?
        .with_behaviour(|_| behaviour)
        .map_err(|e| swarm_err(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    swarm
        .listen_on(settings.listen.clone())
        .map_err(|e| swarm_err(format!("listening on {}: {e:?}", settings.listen)))?;
    let (cmd_tx, cmd_rx) = mpsc::channel(CHANNEL);
    let (in_tx, in_rx) = mpsc::channel(INBOUND);
    let task = SwarmTask {
        swarm,
        bootnodes: settings.bootnodes,
        inbound: in_tx,
        stats: HashMap::new(),
        unsent: std::collections::VecDeque::new(),
    };
    Ok((
        P2pHandle {
            commands: cmd_tx,
            peer_id,
        },
        in_rx,
        Box::pin(task.run(cmd_rx)),
    ))
}

#[derive(Default)]
struct PeerStats {
    accepted: u64,
    rejected: u32,
    rejected_by: std::collections::BTreeMap<String, u32>,
    banned: bool,
    address: Option<Multiaddr>,
}

struct SwarmTask {
    swarm: Swarm<Behaviour>,
    bootnodes: Vec<Multiaddr>,
    inbound: mpsc::Sender<Received>,
    stats: HashMap<PeerId, PeerStats>,
    /// Gossip published while no peer was subscribed to its topic (at startup, or while cut
    /// off): published again when a peer subscribes, for up to [`HOLD_UNSENT`].
    unsent: std::collections::VecDeque<(std::time::Instant, &'static str, Vec<u8>)>,
}

/// A message's id: sha256 over everything its author signed (author, sequence number, topic,
/// data). Content-addressed: every forwarded copy, and a replay of the same signed message, has
/// the same id and is a duplicate. A router's re-gossip of an attestation is a new message (a new
/// sequence number), so it is not refused as already published, which an id over the data alone
/// would do for as long as gossipsub remembers it; the node ignores it cheaply where it is known.
fn message_id(m: &gossipsub::Message) -> gossipsub::MessageId {
    let mut hash = Sha256::new();
    let source = m.source.map(|p| p.to_bytes()).unwrap_or_default();
    hash.update((source.len() as u32).to_be_bytes());
    hash.update(&source);
    hash.update(m.sequence_number.unwrap_or(0).to_be_bytes());
    let topic = m.topic.as_str().as_bytes();
    hash.update((topic.len() as u32).to_be_bytes());
    hash.update(topic);
    hash.update(&m.data);
    gossipsub::MessageId::from(hex::encode(hash.finalize()))
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

impl SwarmTask {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut redial = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(c) => self.command(c),
                    None => break, // the node is shutting down
                },
                event = self.swarm.select_next_some() => self.event(event),
                _ = redial.tick() => self.redial(),
            }
        }
        tracing::info!("p2p stopped");
    }

    /// Publishes `bytes` on `topic` (first sent at `at`), holding them if no peer is subscribed
    /// yet.
    fn publish(&mut self, topic: &'static str, bytes: Vec<u8>, at: std::time::Instant) {
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(IdentTopic::new(topic), bytes.clone())
        {
            Ok(_) | Err(gossipsub::PublishError::Duplicate) => {}
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                if self.unsent.len() >= MAX_UNSENT {
                    self.unsent.pop_front();
                }
                self.unsent.push_back((at, topic, bytes));
            }
            Err(e) => tracing::debug!(error = %e, "publish failed"),
        }
    }

    /// Publishes again what found no subscribed peer (a peer has just subscribed).
    fn publish_unsent(&mut self) {
        let held = std::mem::take(&mut self.unsent);
        for (at, topic, bytes) in held {
            if at.elapsed() < HOLD_UNSENT {
                self.publish(topic, bytes, at);
            }
        }
    }

    fn redial(&mut self) {
        for addr in self.bootnodes.clone() {
            let Some(peer) = peer_of(&addr) else { continue };
            if peer == *self.swarm.local_peer_id() || self.swarm.is_connected(&peer) {
                continue;
            }
            if self.stats.get(&peer).is_some_and(|s| s.banned) {
                continue;
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!(%addr, error = %e, "dial failed");
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Publish(topic, bytes) => self.publish(topic, bytes, std::time::Instant::now()),
            Command::Verdict(id, from, verdict) => self.verdict(&id, from, verdict),
            Command::Peers(reply) => {
                let mut peers: Vec<PeerInfo> = self
                    .stats
                    .iter()
                    .map(|(id, s)| PeerInfo {
                        peer_id: id.to_string(),
                        connected: self.swarm.is_connected(id),
                        address: s.address.as_ref().map(|a| a.to_string()),
                        accepted: s.accepted,
                        rejected: s.rejected,
                        rejected_by: s.rejected_by.clone(),
                        banned: s.banned,
                    })
                    .collect();
                peers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
                let _ = reply.send(peers);
            }
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
        }
    }

    fn verdict(&mut self, id: &gossipsub::MessageId, from: PeerId, verdict: Verdict) {
        let acceptance = match verdict {
            Verdict::Accept => MessageAcceptance::Accept,
            Verdict::Reject(_) => MessageAcceptance::Reject,
            Verdict::Ignore => MessageAcceptance::Ignore,
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, &from, acceptance);
        let stats = self.stats.entry(from).or_default();
        match verdict {
            Verdict::Accept => stats.accepted += 1,
            Verdict::Ignore => {}
            Verdict::Reject(reason) => {
                stats.rejected += 1;
                *stats.rejected_by.entry(reason.to_string()).or_default() += 1;
                let score = -10.0 * f64::from(stats.rejected);
                let rejected = stats.rejected;
                let already = stats.banned;
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .set_application_score(&from, score);
                // Past the bound, or graylisted by gossipsub's own score (then it would stop
                // handing us the peer's messages, and the count would stop short of the bound).
                let graylisted = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .peer_score(&from)
                    .is_some_and(|s| s <= GRAYLIST);
                let banned = !already && (rejected >= BAN_AFTER || graylisted);
                if banned {
                    if let Some(s) = self.stats.get_mut(&from) {
                        s.banned = true;
                    }
                    tracing::warn!(peer = %from, "peer sent too much invalid gossip: blacklisted and disconnected");
                    self.swarm.behaviour_mut().gossipsub.blacklist_peer(&from);
                    let _ = self.swarm.disconnect_peer_id(from);
                }
            }
        }
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.received(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed {
                ..
            })) if !self.unsent.is_empty() => self.publish_unsent(),
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                if self.stats.get(&peer_id).is_some_and(|s| s.banned) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                let stats = self.stats.entry(peer_id).or_default();
                stats.address = Some(endpoint.get_remote_address().clone());
                tracing::debug!(peer = %peer_id, "connected");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, peer_id = %self.swarm.local_peer_id(), "p2p listening");
            }
            // Peers can no longer reach us (we still dial them): say so loudly.
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                tracing::error!(?addresses, ?reason, "p2p listener closed");
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::error!(%error, "p2p listener failed");
            }
            _ => {}
        }
    }

    fn received(&mut self, from: PeerId, id: gossipsub::MessageId, message: gossipsub::Message) {
        let received = Received {
            from,
            author: message.source,
            id: id.clone(),
            topic: message.topic.into_string(),
            data: message.data,
        };
        if self.inbound.try_send(received).is_err() {
            // The node is this far behind: drop without penalty.
            self.verdict(&id, from, Verdict::Ignore);
        }
    }
}
