//! EVM chains, on alloy: one shared client ([`EvmClient`]: provider with its transport layers,
//! the router's account and sending, block and log reads, `MessageSent` indexing) under two
//! adapters, one per role a chain plays:
//!
//! - [`HubChainAdapter`]: the L1 hub chain (`family = "ethereum"`), with the Hub; also the
//!   [`crate::L1State`] every other chain's exit is proven against, and the batcher of L1 relays.
//! - [`ArbitrumAdapter`]: an Arbitrum-family rollup (`family = "arbitrum"`), on its L1 bridge.
//!
//! [`submit`] sends transactions on any EVM chain (nonce lease, fees, gas bump).

pub mod arbitrum;
mod client;
mod hub_chain;
pub mod submit;
pub(crate) mod tank;

pub use arbitrum::ArbitrumAdapter;
pub use client::EvmClient;
pub use hub_chain::HubChainAdapter;
