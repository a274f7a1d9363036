//! xroute-config: the router's typed TOML configuration and its validation.
//!
//! A config file has sections per subsystem: `[node]` (store and API), `[relay]` (retries), and
//! one `[[chains]]` block per chain, tagged by `family` (`ethereum` for the L1 hub chain,
//! `arbitrum` or `starknet`). An appchain joins
//! with one more `[[chains]]` block. Unknown fields are errors; after parsing, [`Config::validate`]
//! checks what types cannot (unique domains, one hub chain, key files present, sane bounds), and
//! every error names the file and the field. Secrets are never printed: keys are read from files,
//! and RPC URLs print without path or query ([`RpcUrl`]).
//!
//! Not here: reading keys, connecting to chains; the node does that with what this crate checked.

mod chains;
mod deploy;
mod error;

use std::{
    collections::HashSet,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

use chains::address;
pub use chains::{
    ArbitrumChain, ArbitrumContracts, ChainConfig, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_LOG_RANGE,
    EvmChain, Felt, HubChain, MessagingLayout, RpcUrl, SignerFile, SignerKind, StarknetChain,
    TransportConfig,
};
pub use deploy::{DeployArbitrum, DeployFile, DeployL1, DeployPool, DeployStarknet, DeployToken};
pub use error::{ConfigError, Result};

/// The whole configuration of one router.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Store and API.
    pub node: NodeConfig,
    /// Retry policy.
    #[serde(default)]
    pub relay: RelayConfig,
    /// The chains this router watches and relays on.
    pub chains: Vec<ChainConfig>,
    /// The router network; without it the router works alone.
    #[serde(default)]
    pub p2p: Option<P2pConfig>,
    /// The canonical token, for `xroute status` to describe transfers (the router relays token
    /// messages like any other without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenConfig>,
    /// Payments for relays (issue 27): which messages are relayed, and when this router
    /// settles what it relayed with the chains' gas tanks.
    #[serde(default)]
    pub payments: PaymentsConfig,
}

/// Which messages a router relays, by payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PaymentPolicy {
    /// Relay every message (a paid one still waits while the L1 base fee is above its payer's
    /// cap, and is parked past its deadline).
    #[default]
    None,
    /// Relay only messages someone paid for, at least `min_paid_percent` of this router's own
    /// estimate of the relay's cost; the others wait, shown as unpaid.
    Paid,
}

/// `[payments]`: the router's payment policy and its settlements.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    /// `none` (relay everything) or `paid` (relay only what is paid).
    pub policy: PaymentPolicy,
    /// Under `paid`: how much of this router's estimate of a relay's L1 cost (its gas at the
    /// current base fee) a payment's worst case must cover, in percent.
    pub min_paid_percent: u32,
    /// Settle a chain's receipts once this many are pending (0: never by count).
    pub settle_every: u64,
    /// Settle a chain's pending receipts at the latest this long after the first, milliseconds
    /// (0: never by time).
    pub settle_after_ms: u64,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            policy: PaymentPolicy::None,
            min_paid_percent: 100,
            settle_every: 32,
            settle_after_ms: 600_000,
        }
    }
}

/// `[token]`: where the canonical token's L1 ledger is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The `TokenLedger` on the hub chain.
    #[serde(deserialize_with = "address")]
    pub ledger: Address,
}

/// `[p2p]`: libp2p gossip of attestations, relay claims and heartbeats with the other routers of
/// a configured set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    /// libp2p listen multiaddr, e.g. `/ip4/0.0.0.0/tcp/7400`.
    pub listen: String,
    /// The node's libp2p key (its peer id); created on first start. `xroute p2p-key --file F`
    /// creates one and prints its peer id.
    pub key_file: PathBuf,
    /// File holding the 0x-hex secp256k1 key this router signs attestations with.
    pub attestation_key_file: PathBuf,
    /// Peers to dial: multiaddrs ending in `/p2p/<peer id>`.
    #[serde(default)]
    pub bootnodes: Vec<String>,
    /// Attestations needed for a quorum certificate (t of n).
    pub threshold: usize,
    /// Relay failover window: the k-th ranked router relays a hop only after k × this, if no
    /// claim or relay was seen.
    #[serde(default = "default_relay_window")]
    pub relay_window_ms: u64,
    /// How long a router waits between gossiping its claim of a hop and relaying it, so that
    /// claims two routers send at about the same moment reach both and only the first relays.
    /// Longer than gossip latency plus clock skew between the routers; shorter than the window.
    #[serde(default = "default_claim_settle")]
    pub claim_settle_ms: u64,
    /// Heartbeat period; a router not heard from for 3 periods counts as down.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_ms: u64,
    /// Sign the messages proven in one tick with one batch attestation (a Merkle root) instead of
    /// one signature each.
    #[serde(default = "default_true")]
    pub batch_attestations: bool,
    /// Certify the messages of checkpointed chains (Starknet-family chains with their L1
    /// messaging contract, and the hub chain's own sends) per L1 checkpoint: one signature per
    /// router for everything one finalized L1 block made consumable from one chain (issue 16).
    /// The other chains' messages keep the per-message path. Every router of a set must set it
    /// alike: a router with it on does not sign those messages one by one.
    #[serde(default = "default_true")]
    pub checkpoints: bool,
    /// The router set (this router included).
    pub routers: Vec<RouterMember>,
}

fn default_relay_window() -> u64 {
    5_000
}

fn default_claim_settle() -> u64 {
    P2pConfig::DEFAULT_CLAIM_SETTLE_MS
}

impl P2pConfig {
    /// `claim_settle_ms` when the file does not set it.
    pub const DEFAULT_CLAIM_SETTLE_MS: u64 = 1_000;
}

fn default_true() -> bool {
    true
}

fn default_heartbeat() -> u64 {
    1_000
}

/// One router of the set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouterMember {
    /// Its attestation address (what its signatures recover to).
    #[serde(deserialize_with = "address")]
    pub address: Address,
    /// Its libp2p peer id.
    pub peer_id: String,
}

/// `[node]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The sled store's folder (created if missing); relative paths are relative to the config file.
    pub store: PathBuf,
    /// Where the HTTP API listens.
    #[serde(default = "default_api")]
    pub api: SocketAddr,
    /// A file holding the bearer token the API's write routes (`retry`, `drop`) require. Needed
    /// when `api` listens beyond loopback; when set, required on loopback too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token_file: Option<PathBuf>,
    /// The store's page cache in MiB (sled's; 64 by default): the most of the store kept in
    /// memory beyond what a round reads. The router's memory grows with its store up to this.
    #[serde(default = "default_store_cache_mb")]
    pub store_cache_mb: u64,
    /// How long a delivered message's record is kept, in seconds (7 days by default; 0 keeps
    /// records forever). After it, the record (body, history, relays, attestations, certificate)
    /// is pruned, leaving 31 bytes that keep the message known and counted as delivered.
    #[serde(default = "default_keep_delivered_s")]
    pub keep_delivered_s: u64,
}

/// How long a delivered message's record is kept when `node.keep_delivered_s` is not set (s).
pub const DEFAULT_KEEP_DELIVERED_S: u64 = 7 * 24 * 3600;
/// The longest `node.keep_delivered_s` other than 0 (about 100 years, s).
pub const MAX_KEEP_DELIVERED_S: u64 = 100 * 365 * 24 * 3600;

fn default_keep_delivered_s() -> u64 {
    DEFAULT_KEEP_DELIVERED_S
}

/// The store's page cache when `node.store_cache_mb` is not set (MiB).
pub const DEFAULT_STORE_CACHE_MB: u64 = 64;
/// The most `[chains.transport] max_connections` accepted: more would be a flood, not a pool.
pub const MAX_CONNECTIONS_LIMIT: u32 = 256;
/// The largest `node.store_cache_mb` (MiB).
pub const MAX_STORE_CACHE_MB: u64 = 64 * 1024;

fn default_store_cache_mb() -> u64 {
    DEFAULT_STORE_CACHE_MB
}

/// The shortest API token accepted (characters).
pub const MIN_API_TOKEN_LEN: usize = 16;

impl NodeConfig {
    /// The API token from `api_token_file` (trimmed), if one is configured.
    pub fn api_token(&self) -> std::result::Result<Option<String>, String> {
        let Some(path) = &self.api_token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{} cannot be read: {e}", path.display()))?;
        let token = text.trim().to_string();
        if token.chars().count() < MIN_API_TOKEN_LEN || token.chars().any(char::is_whitespace) {
            return Err(format!(
                "{} must hold one token of at least {MIN_API_TOKEN_LEN} characters without spaces",
                path.display()
            ));
        }
        Ok(Some(token))
    }
}

fn default_api() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7300))
}

/// The least `relay.batch_gas` that is not 0 (two small relays).
pub const MIN_BATCH_GAS: u64 = 200_000;
/// The most members of one batch (`relay.batch_max`).
pub const MAX_BATCH: usize = 256;
/// The longest `relay.batch_wait_ms`.
pub const MAX_BATCH_WAIT_MS: u64 = 600_000;

/// `[relay]`: retries with exponential backoff and jitter, then `Parked`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// Attempts of one step before the message is parked.
    pub max_attempts: u32,
    /// First backoff, milliseconds.
    pub backoff_initial_ms: u64,
    /// Backoff ceiling, milliseconds.
    pub backoff_max_ms: u64,
    /// How often each chain is polled, milliseconds.
    pub poll_interval_ms: u64,
    /// A relay transaction not mined after this long is replaced with higher gas prices,
    /// milliseconds.
    pub bump_after_ms: u64,
    /// Gas budget of one batch transaction: the L1 relays ready at once go out together in the
    /// Hub's `relayBatch`, up to this much gas (the members' simulated gas with headroom). 0 sends
    /// every relay alone.
    pub batch_gas: u64,
    /// Most members of one batch.
    pub batch_max: usize,
    /// How long a ready relay may wait for others to fill its batch, milliseconds (0: what is
    /// ready in one round goes at once, batched together; a lone relay never waits longer).
    pub batch_wait_ms: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
            poll_interval_ms: 1_000,
            bump_after_ms: 30_000,
            batch_gas: 3_000_000,
            batch_max: 32,
            batch_wait_ms: 0,
        }
    }
}

impl Config {
    /// Reads, parses and validates `path`. Relative paths inside are resolved against the file's
    /// folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let mut config = Self::parse(path, &text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.validate(path)?;
        Ok(config)
    }

    /// Parses TOML text (no validation); `path` only names the source in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        parse_toml(path, text)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut self.node.store);
        if let Some(token) = &mut self.node.api_token_file {
            resolve(token);
        }
        for chain in &mut self.chains {
            resolve(chain.signer_path_mut());
        }
        if let Some(p2p) = &mut self.p2p {
            resolve(&mut p2p.key_file);
            resolve(&mut p2p.attestation_key_file);
        }
    }

    /// The L1 hub chain (`family = "ethereum"`).
    pub fn hub_chain(&self) -> Option<&HubChain> {
        self.chains.iter().find_map(|c| match c {
            ChainConfig::Ethereum(hub) => Some(hub),
            _ => None,
        })
    }

    /// Checks what the types cannot; `path` names the file in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let invalid = |field: String, problem: String| ConfigError::Invalid {
            path: path.into(),
            field,
            problem,
        };
        if self.chains.is_empty() {
            return Err(invalid(
                "chains".into(),
                "no chain is configured; add [[chains]] blocks".into(),
            ));
        }
        if !(1..=MAX_STORE_CACHE_MB).contains(&self.node.store_cache_mb) {
            return Err(invalid(
                "node.store_cache_mb".into(),
                format!(
                    "{} MiB: the store's cache must be 1 to {MAX_STORE_CACHE_MB} MiB",
                    self.node.store_cache_mb
                ),
            ));
        }
        if self.node.keep_delivered_s > MAX_KEEP_DELIVERED_S {
            return Err(invalid(
                "node.keep_delivered_s".into(),
                format!(
                    "{} s is over {MAX_KEEP_DELIVERED_S} s (100 years); 0 keeps records forever",
                    self.node.keep_delivered_s
                ),
            ));
        }
        match self.node.api_token() {
            Err(problem) => return Err(invalid("node.api_token_file".into(), problem)),
            Ok(None) if !self.node.api.ip().is_loopback() => {
                return Err(invalid(
                    "node.api_token_file".into(),
                    format!(
                        "the API listens on {} beyond loopback, so its write routes need a \
                         token: set api_token_file to a file holding one",
                        self.node.api
                    ),
                ));
            }
            Ok(_) => {}
        }
        let mut domains = HashSet::new();
        let mut names = HashSet::new();
        for (i, chain) in self.chains.iter().enumerate() {
            if !domains.insert(chain.domain()) {
                return Err(invalid(
                    format!("chains[{i}].domain"),
                    format!("domain {} is used by another chain", chain.domain()),
                ));
            }
            if chain.name().trim().is_empty() {
                return Err(invalid(
                    format!("chains[{i}].name"),
                    "must not be empty".into(),
                ));
            }
            if !names.insert(chain.name().to_string()) {
                return Err(invalid(
                    format!("chains[{i}].name"),
                    format!("{:?} is used by another chain", chain.name()),
                ));
            }
            let key = chain.signer();
            if !key.path.is_file() {
                return Err(invalid(
                    format!("chains[{i}].{}", key.field),
                    format!("{} is not a readable file", key.path.display()),
                ));
            }
        }
        for (i, chain) in self.chains.iter().enumerate() {
            let t = chain.transport();
            if t.timeout_ms == 0 {
                return Err(invalid(
                    format!("chains[{i}].transport.timeout_ms"),
                    "must be at least 1".into(),
                ));
            }
            if t.max_log_range == 0 {
                return Err(invalid(
                    format!("chains[{i}].transport.max_log_range"),
                    "must be at least 1 block".into(),
                ));
            }
            if t.max_connections == 0 || t.max_connections > MAX_CONNECTIONS_LIMIT {
                return Err(invalid(
                    format!("chains[{i}].transport.max_connections"),
                    format!(
                        "{} is out of range: between 1 and {MAX_CONNECTIONS_LIMIT} connections",
                        t.max_connections
                    ),
                ));
            }
            if t.retries > 10 {
                return Err(invalid(
                    format!("chains[{i}].transport.retries"),
                    format!(
                        "{} is too many: a node that never answers would hold every request for \
                         {} timeouts (at most 10)",
                        t.retries,
                        t.retries + 1
                    ),
                ));
            }
        }
        let hubs = self.chains.iter().filter(|c| c.is_hub()).count();
        if hubs != 1 {
            return Err(invalid(
                "chains".into(),
                format!(
                    "exactly one chain must be the L1 hub chain (family = \"ethereum\"); {hubs} \
                     are"
                ),
            ));
        }
        let r = &self.relay;
        if r.max_attempts == 0 {
            return Err(invalid(
                "relay.max_attempts".into(),
                "must be at least 1".into(),
            ));
        }
        if r.backoff_initial_ms == 0 || r.backoff_initial_ms > r.backoff_max_ms {
            return Err(invalid(
                "relay.backoff_initial_ms".into(),
                format!(
                    "must be between 1 and relay.backoff_max_ms ({})",
                    r.backoff_max_ms
                ),
            ));
        }
        if r.poll_interval_ms == 0 {
            return Err(invalid(
                "relay.poll_interval_ms".into(),
                "must be at least 1".into(),
            ));
        }
        if r.batch_gas != 0 && r.batch_gas < MIN_BATCH_GAS {
            return Err(invalid(
                "relay.batch_gas".into(),
                format!("must be 0 (no batches) or at least {MIN_BATCH_GAS}"),
            ));
        }
        if !(2..=MAX_BATCH).contains(&r.batch_max) {
            return Err(invalid(
                "relay.batch_max".into(),
                format!("must be between 2 and {MAX_BATCH}"),
            ));
        }
        if r.batch_wait_ms > MAX_BATCH_WAIT_MS {
            return Err(invalid(
                "relay.batch_wait_ms".into(),
                format!("must be at most {MAX_BATCH_WAIT_MS} (10 minutes)"),
            ));
        }
        if self.payments.min_paid_percent > 10_000 {
            return Err(invalid(
                "payments.min_paid_percent".into(),
                format!(
                    "{} is more than a hundred times the relay's cost (at most 10000)",
                    self.payments.min_paid_percent
                ),
            ));
        }
        if let Some(p) = &self.p2p {
            let n = p.routers.len();
            if p.threshold == 0 || p.threshold > n {
                return Err(invalid(
                    "p2p.threshold".into(),
                    format!("must be between 1 and the number of routers ({n})"),
                ));
            }
            let mut seen = HashSet::new();
            for (i, m) in p.routers.iter().enumerate() {
                if !seen.insert(m.address) {
                    return Err(invalid(
                        format!("p2p.routers[{i}].address"),
                        format!("{} is listed twice", m.address),
                    ));
                }
            }
            if !p.attestation_key_file.is_file() {
                return Err(invalid(
                    "p2p.attestation_key_file".into(),
                    format!(
                        "{} is not a readable file",
                        p.attestation_key_file.display()
                    ),
                ));
            }
            if p.relay_window_ms == 0 || p.heartbeat_ms == 0 {
                return Err(invalid(
                    "p2p.relay_window_ms".into(),
                    "relay_window_ms and heartbeat_ms must be at least 1".into(),
                ));
            }
            if p.claim_settle_ms >= p.relay_window_ms {
                return Err(invalid(
                    "p2p.claim_settle_ms".into(),
                    format!(
                        "{} must be shorter than p2p.relay_window_ms ({})",
                        p.claim_settle_ms, p.relay_window_ms
                    ),
                ));
            }
        }
        if r.bump_after_ms < r.poll_interval_ms {
            return Err(invalid(
                "relay.bump_after_ms".into(),
                format!(
                    "must be at least relay.poll_interval_ms ({})",
                    r.poll_interval_ms
                ),
            ));
        }
        Ok(())
    }
}

/// Parses TOML `text` as `T`; `path` only names the source in errors, which give line and column.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            format!("line {line}, column {column}: ")
        });
        ConfigError::Parse {
            path: path.into(),
            message: format!(
                "{}{}",
                at.unwrap_or_default(),
                e.message().trim_end().replace('\n', "; ")
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_urls_print_without_secrets() {
        let url: RpcUrl = serde_json_like("https://eth-mainnet.example.com/v2/SECRETKEY?x=1");
        assert_eq!(url.to_string(), "https://eth-mainnet.example.com/…");
        assert!(!format!("{url:?}").contains("SECRET"));
        assert_eq!(
            url.expose(),
            "https://eth-mainnet.example.com/v2/SECRETKEY?x=1"
        );
        let url: RpcUrl = serde_json_like("http://user:pw@127.0.0.1:8545");
        assert_eq!(url.to_string(), "http://127.0.0.1:8545/…");
        let url: RpcUrl = serde_json_like("http://127.0.0.1:8545");
        assert_eq!(url.to_string(), "http://127.0.0.1:8545");
    }

    fn serde_json_like(s: &str) -> RpcUrl {
        #[derive(Deserialize)]
        struct W {
            u: RpcUrl,
        }
        toml::from_str::<W>(&format!("u = {s:?}")).unwrap().u
    }

    #[test]
    fn felts_are_bounded() {
        #[derive(Deserialize, Debug)]
        struct W {
            #[allow(dead_code)]
            f: Felt,
        }
        assert!(
            toml::from_str::<W>(
                "f = \"0x800000000000011000000000000000000000000000000000000000000000001\""
            )
            .is_err()
        );
        assert!(toml::from_str::<W>("f = \"0x1234\"").is_ok());
    }
}
