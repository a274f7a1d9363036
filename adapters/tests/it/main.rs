//! The adapters on real anvil and devnet nodes.
//!
//! One binary: the tests of every file share the test threads, instead of one file after
//! another (each file's heavy tests used to leave a thread idle at its end).

mod arbitrum_adapter;
mod evm_adapter;
mod evm_submit;
mod starknet_adapter;
mod starknet_submit;
mod transport;
