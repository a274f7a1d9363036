//! The `[[chains]]` blocks: one per chain, tagged by what the chain is (`family`): the L1 hub
//! chain (`ethereum`), an Arbitrum-family rollup (`arbitrum`) or a Starknet-family chain
//! (`starknet`); their RPC transport; and the value types they are written in (addresses, felts,
//! RPC URLs that print redacted). The two EVM kinds share their connection fields
//! ([`EvmChain`]) and differ in their contracts, so a block is one or the other by its tag.

use std::{fmt, path::PathBuf};

use alloy_primitives::{Address, U256};
use serde::{Deserialize, Deserializer, Serialize};

/// One `[[chains]]` block, by what the chain is (the `family` key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum ChainConfig {
    /// The L1 hub chain: Ethereum (a testnet, a local anvil) with the xroute Hub (alloy).
    Ethereum(HubChain),
    /// An Arbitrum-family rollup, on its L1 bridge (alloy).
    Arbitrum(ArbitrumChain),
    /// Starknet and Starknet-family appchains (starknet-rs).
    Starknet(StarknetChain),
}

/// What every EVM chain is configured with: where it is and who signs there.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EvmChain {
    /// A name for logs and the API.
    pub name: String,
    /// The xroute domain id.
    pub domain: u32,
    /// JSON-RPC endpoint.
    pub rpc: RpcUrl,
    /// Blocks to wait before a log counts.
    #[serde(default = "default_evm_confirmations")]
    pub confirmations: u64,
    /// The chain id the node must answer (`xroute check` compares; optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// File holding the secp256k1 key transactions on this chain are signed with.
    pub signer_key_file: PathBuf,
    /// Timeouts and retries of this chain's RPC.
    #[serde(default)]
    pub transport: TransportConfig,
}

/// `family = "ethereum"`: the L1 hub chain, an EVM chain with the xroute Hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubChain {
    /// Connection and signer.
    #[serde(flatten)]
    pub chain: EvmChain,
    /// The xroute Hub contract.
    pub hub: Address,
}

/// `family = "arbitrum"`: an Arbitrum-family rollup: its L1 bridge (nitro's Inbox, Bridge and
/// Outbox, on the hub chain) and xroute's endpoint on the L2, in the chain's own block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArbitrumChain {
    /// Connection and signer (the router's L2 account: it redeems tickets, refunds go to it).
    #[serde(flatten)]
    pub chain: EvmChain,
    /// The rollup's contracts.
    #[serde(flatten)]
    pub contracts: ArbitrumContracts,
}

/// An Arbitrum-family rollup's contracts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ArbitrumContracts {
    /// The rollup's Inbox on L1 (where retryable tickets are created).
    #[serde(deserialize_with = "address")]
    pub inbox: Address,
    /// The rollup's Bridge on L1 (the L1 side of every L2 → L1 call).
    #[serde(deserialize_with = "address")]
    pub bridge: Address,
    /// The rollup's Outbox on L1 (send roots; executes L2 → L1 calls).
    #[serde(deserialize_with = "address")]
    pub outbox: Address,
    /// xroute's ArbitrumEndpoint on the L2.
    #[serde(deserialize_with = "address")]
    pub endpoint: Address,
    /// xroute's gas tank on the L2 (`ArbitrumTank`, registered with the Hub): where this chain's
    /// users pay for their messages and where their relays are settled. Without it, messages
    /// from the chain are never paid.
    #[serde(
        default,
        deserialize_with = "optional_address",
        skip_serializing_if = "Option::is_none"
    )]
    pub tank: Option<Address>,
}

impl ArbitrumContracts {
    /// The block keys that are the contracts' (the rest is the [`EvmChain`]).
    const KEYS: [&'static str; 5] = ["inbox", "bridge", "outbox", "endpoint", "tank"];
}

fn default_evm_confirmations() -> u64 {
    1
}

/// Which `StarknetMessaging` storage layout the chain's L1 messaging contract uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MessagingLayout {
    /// The layout Starknet mainnet and devnet 0.10's mock use.
    #[default]
    Current,
    /// The first StarknetMessaging.
    V1,
}

/// A Starknet-family chain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StarknetChain {
    /// A name for logs and the API.
    pub name: String,
    /// The xroute domain id.
    pub domain: u32,
    /// JSON-RPC endpoint (RPC spec 0.10).
    pub rpc: RpcUrl,
    /// Blocks to wait before an event counts.
    #[serde(default)]
    pub confirmations: u64,
    /// The chain id the node must answer, as its short string (`SN_SEPOLIA`) or 0x-hex
    /// (`xroute check` compares; optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<String>,
    /// The xroute Endpoint contract.
    pub endpoint: Felt,
    /// xroute's gas tank on the chain (`gas_tank.cairo`, registered with the Hub): where this
    /// chain's users pay for their messages and where their relays are settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tank: Option<Felt>,
    /// The chain's messaging contract on L1 (Starknet core contract or an appchain's own).
    #[serde(deserialize_with = "address")]
    pub l1_messaging: Address,
    /// Its storage layout, for storage proofs.
    #[serde(default)]
    pub messaging_layout: MessagingLayout,
    /// The account relay transactions are sent from.
    pub account: Felt,
    /// File holding the account's 0x-hex signing key.
    pub account_key_file: PathBuf,
    /// Timeouts and retries of this chain's RPC.
    #[serde(default)]
    pub transport: TransportConfig,
}

/// `[chains.transport]`: how the router talks to one chain's RPC node. Every request has a
/// timeout, so a node that accepts the connection and never answers costs one timeout per try
/// instead of stalling the router; timeouts, refused connections, 5xx answers and rate limits are
/// retried after a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransportConfig {
    /// The longest wait for one answer, milliseconds.
    pub timeout_ms: u64,
    /// Tries after the first one of a request that failed for a transient reason.
    pub retries: u32,
    /// The pause before a retry, milliseconds (a node's own `Retry-After` wins).
    pub retry_backoff_ms: u64,
    /// The most blocks one log query (`eth_getLogs`) spans: a longer range is split into
    /// windows of this size, and a window the node refuses as too large is halved until it
    /// answers (issue 28).
    pub max_log_range: u64,
    /// The most requests in flight to the node at once (a request past it waits for one to
    /// finish) and the most idle connections kept. The router's adapter of the chain reads and
    /// sends through one client, so the bound is the chain's.
    pub max_connections: u32,
}

/// The default `max_log_range`: what public providers commonly accept.
pub const DEFAULT_MAX_LOG_RANGE: u64 = 2_000;

/// The default `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            retries: 2,
            retry_backoff_ms: 250,
            max_log_range: DEFAULT_MAX_LOG_RANGE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

// By hand rather than `#[serde(tag)]`: serde's internally tagged enums buffer the block and lose
// the failing field's name; here the error says which key of the block is wrong. The EVM kinds
// take their own keys out of the block and read the rest as the shared [`EvmChain`], so a key of
// the other kind is an unknown field.
impl<'de> Deserialize<'de> for ChainConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        const FAMILIES: &str = "`ethereum` (the L1 hub chain), `arbitrum` or `starknet`";
        let mut table = toml::Table::deserialize(d)?;
        let family = match table.remove("family") {
            Some(toml::Value::String(f)) => f,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "family: expected {FAMILIES}, got {other}"
                )));
            }
            None => {
                return Err(D::Error::custom(format!(
                    "missing field `family` ({FAMILIES})"
                )));
            }
        };
        fn block<T: serde::de::DeserializeOwned, E: Error>(
            table: toml::Table,
        ) -> std::result::Result<T, E> {
            serde_path_to_error::deserialize(toml::Value::Table(table))
                .map_err(|e| E::custom(format!("{}: {}", e.path(), e.inner())))
        }
        fn take(table: &mut toml::Table, keys: &[&str]) -> toml::Table {
            keys.iter()
                .filter_map(|k| table.remove(*k).map(|v| (k.to_string(), v)))
                .collect()
        }
        match family.as_str() {
            "ethereum" => {
                /// The hub chain's own key.
                #[derive(Deserialize)]
                struct HubKey {
                    #[serde(deserialize_with = "address")]
                    hub: Address,
                }
                let hub: HubKey = block(take(&mut table, &["hub"]))?;
                Ok(Self::Ethereum(HubChain {
                    chain: block(table)?,
                    hub: hub.hub,
                }))
            }
            "arbitrum" => {
                let contracts = take(&mut table, &ArbitrumContracts::KEYS);
                let chain = block(table)?;
                Ok(Self::Arbitrum(ArbitrumChain {
                    contracts: block(contracts)?,
                    chain,
                }))
            }
            "starknet" => block(table).map(Self::Starknet),
            "evm" => Err(D::Error::custom(
                "family: \"evm\" was split by role: write family = \"ethereum\" for the L1 hub \
                 chain (with `hub`), or family = \"arbitrum\" for an Arbitrum rollup (the keys \
                 of its [chains.arbitrum] table, `inbox`, `bridge`, `outbox` and `endpoint`, move \
                 into the chain's own block)",
            )),
            other => Err(D::Error::custom(format!(
                "family: unknown variant `{other}`, expected {FAMILIES}"
            ))),
        }
    }
}

/// A 20-byte 0x-hex address, with an error a person can act on.
pub(crate) fn optional_address<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Address>, D::Error> {
    address(d).map(Some)
}

pub(crate) fn address<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Address, D::Error> {
    let s = String::deserialize(d)?;
    s.parse()
        .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a 20-byte 0x-hex address")))
}

/// Which kind of key signs a chain's transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerKind {
    /// A secp256k1 key (an EVM account).
    Evm,
    /// A Starknet account's signing key (a felt).
    Starknet,
}

/// The key file a chain's transactions are signed with, and the field that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerFile<'a> {
    /// The field in the chain's block (`signer_key_file`, `account_key_file`).
    pub field: &'static str,
    /// What kind of key it holds.
    pub kind: SignerKind,
    /// The file.
    pub path: &'a std::path::Path,
}

impl ChainConfig {
    /// The chain's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Ethereum(c) => &c.chain.name,
            Self::Arbitrum(c) => &c.chain.name,
            Self::Starknet(c) => &c.name,
        }
    }

    /// The chain's domain id.
    pub fn domain(&self) -> u32 {
        match self {
            Self::Ethereum(c) => c.chain.domain,
            Self::Arbitrum(c) => c.chain.domain,
            Self::Starknet(c) => c.domain,
        }
    }

    /// The chain's RPC endpoint.
    pub fn rpc(&self) -> &RpcUrl {
        match self {
            Self::Ethereum(c) => &c.chain.rpc,
            Self::Arbitrum(c) => &c.chain.rpc,
            Self::Starknet(c) => &c.rpc,
        }
    }

    /// Timeouts and retries of the chain's RPC.
    pub fn transport(&self) -> &TransportConfig {
        match self {
            Self::Ethereum(c) => &c.chain.transport,
            Self::Arbitrum(c) => &c.chain.transport,
            Self::Starknet(c) => &c.transport,
        }
    }

    /// The key file the chain's transactions are signed with.
    pub fn signer(&self) -> SignerFile<'_> {
        match self {
            Self::Ethereum(HubChain { chain, .. })
            | Self::Arbitrum(ArbitrumChain { chain, .. }) => SignerFile {
                field: "signer_key_file",
                kind: SignerKind::Evm,
                path: &chain.signer_key_file,
            },
            Self::Starknet(c) => SignerFile {
                field: "account_key_file",
                kind: SignerKind::Starknet,
                path: &c.account_key_file,
            },
        }
    }

    /// The signer's key file, to rewrite it (paths relative to the config file).
    pub(crate) fn signer_path_mut(&mut self) -> &mut PathBuf {
        match self {
            Self::Ethereum(HubChain { chain, .. })
            | Self::Arbitrum(ArbitrumChain { chain, .. }) => &mut chain.signer_key_file,
            Self::Starknet(c) => &mut c.account_key_file,
        }
    }

    /// Whether this is the L1 hub chain.
    pub fn is_hub(&self) -> bool {
        matches!(self, Self::Ethereum(_))
    }
}

/// A Starknet field element, written as 0x-hex or decimal in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Felt(pub U256);

/// 2^251 + 17·2^192 + 1.
fn felt_prime() -> U256 {
    (U256::from(1u8) << 251usize) + (U256::from(17u8) << 192usize) + U256::from(1u8)
}

impl<'de> Deserialize<'de> for Felt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let v: U256 = s
            .parse()
            .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a number: {e}")))?;
        if v >= felt_prime() {
            return Err(serde::de::Error::custom(format!(
                "{s} is not below the Starknet field prime"
            )));
        }
        Ok(Self(v))
    }
}

/// An RPC endpoint URL. Printing it shows scheme, host and port only: API keys live in paths and
/// queries, and logs must not carry them.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RpcUrl(String);

impl RpcUrl {
    /// `url`, if it is an http(s):// or ws(s):// URL with a host.
    pub fn new(url: impl Into<String>) -> std::result::Result<Self, String> {
        let url = Self(url.into());
        match url.parts() {
            Some((scheme, host))
                if ["http", "https", "ws", "wss"].contains(&scheme) && !host.is_empty() =>
            {
                Ok(url)
            }
            _ => Err(format!(
                "{:?} is not an http(s):// or ws(s):// URL with a host",
                url.to_string()
            )),
        }
    }

    /// The full URL, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn parts(&self) -> Option<(&str, &str)> {
        let (scheme, rest) = self.0.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let host = authority.rsplit('@').next()?;
        Some((scheme, host))
    }
}

impl<'de> Deserialize<'de> for RpcUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Self::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for RpcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parts() {
            Some((scheme, host)) => {
                let hidden =
                    self.0.len() > scheme.len() + 3 + host.len() + 1 || self.0.contains('@');
                write!(f, "{scheme}://{host}{}", if hidden { "/…" } else { "" })
            }
            None => f.write_str("<invalid url>"),
        }
    }
}

impl fmt::Debug for RpcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RpcUrl({self})")
    }
}
