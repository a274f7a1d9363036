//! xroute, the router node as a library: what the `xroute` binary runs.
//!
//! - [`store`]: the sled store of every message's lifecycle, cursors, attestations and
//!   certificates.
//! - [`pipeline`]: the lifecycle as a state machine over the chains' adapters
//!   (`xroute_adapters::ChainAdapter`), and the [`pipeline::Coordinator`] it works with a router
//!   set through.
//! - [`network`]: the router set on top of [`p2p`] (attestations, certificates, catch-up, gossip
//!   validation, heartbeats, relay assignment and claims); it is the pipeline's coordinator in a
//!   network.
//! - [`api`]: the HTTP API; [`metrics`]: its Prometheus metrics; [`tasks`]: the named critical
//!   tasks a router runs.
//! - [`model`]: what every part reads: a message's record and stages, cursors, checkpoint places.
//! - [`reads`]: answering an `L1Reader`'s storage reads of a past L1 block with proofs.
//! - [`router`]: the one place that wires the parts into a router, from a config or given parts.

pub mod api;
pub mod failpoint;
pub mod metrics;
pub mod model;
pub mod network;
pub mod p2p;
pub mod pipeline;
pub mod quote;
pub mod reads;
pub mod router;
pub mod store;
pub mod tasks;
pub mod time;
