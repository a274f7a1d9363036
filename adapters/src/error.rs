//! Adapter errors: each names the chain and what was asked.

/// Result with [`AdapterError`].
pub type Result<T, E = AdapterError> = std::result::Result<T, E>;

/// What can go wrong talking to a chain.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The node did not answer, or answered with an error.
    #[error("{chain}: {method} failed: {message}")]
    Rpc {
        /// The chain's name.
        chain: String,
        /// The RPC method or call.
        method: &'static str,
        /// The node's or transport's message.
        message: String,
    },
    /// The node answered with something that is not what the protocol says (a bad event, a
    /// malformed envelope): never trusted, never stored.
    #[error("{chain}: bad {what} in tx {tx}: {reason}")]
    BadData {
        /// The chain's name.
        chain: String,
        /// What was malformed.
        what: &'static str,
        /// The transaction it came from (0x-hex), if known.
        tx: String,
        /// What is wrong with it.
        reason: String,
    },
}
