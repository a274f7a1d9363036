//! xroute, the router node as a library: what the `xroute` binary runs.
//!
//! Today: the message store ([`store`]), the sled-backed record of every message's lifecycle. The
//! pipeline, adapters wiring, p2p and API build on it in the issues that follow.

pub mod api;
pub mod network;
pub mod p2p;
pub mod pipeline;
pub mod store;
