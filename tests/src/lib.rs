//! xroute-tests: the test kit that runs xroute against real local chains, and the integration tests.
//!
//! The kit starts the real binaries the bootstrap installed (`scripts/bootstrap`): [`Anvil`] for
//! Ethereum, [`StarknetDevnet`] for Starknet and Starknet-family appchains, and [`LocalNet`], which
//! wires devnets to the anvil through devnet's postman (`devnet_postmanLoad`) so that native L1 ⇄ L2
//! messaging works. Every process gets a free port, a log file that is printed when a test fails,
//! and is killed on drop (also on panic, and when the test process itself dies). Nothing here is a
//! mock: the kit only starts, wires and talks to real nodes.
//!
//! [`demo`] (the `xroute-demo` binary, what `scripts/demo` runs) starts the local network, one
//! router and messages over every route. [`router`] writes a router's config by serialising the
//! real `xroute_config::Config` and runs `xroute` as a process.
//!
//! What it is not: production code. The router (`xroute`) never depends on this crate; its tests
//! do.

pub mod accounts;
pub mod anvil;
pub mod arbitrum;
pub mod artifacts;
pub mod demo;
pub mod devnet;
pub mod fault_proxy;
pub mod localnet;
pub mod pool;
pub mod process;
pub mod proxy;
pub mod range_proxy;
pub mod router;
pub mod rpc;
pub mod stack;
pub mod tank;
pub mod token;
pub mod tools;
pub mod uniswap;

pub use anvil::Anvil;
pub use devnet::{DevnetAccount, StarknetDevnet};
pub use localnet::{LocalNet, StarknetChain};
pub use stack::XrouteStack;
