//! Adapter errors: each names the chain and what was asked, keeps the error that caused it, and
//! says which kind of failure it is ([`ErrorKind`]), so the pipeline can tell a node that is down
//! from an answer that can never be trusted.

use std::error::Error as StdError;

/// Result with [`AdapterError`].
pub type Result<T, E = AdapterError> = std::result::Result<T, E>;

/// The cause of a failure, boxed.
pub type Source = Box<dyn StdError + Send + Sync + 'static>;

/// What kind of failure an [`AdapterError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The node did not answer in time (after the transport's retries).
    Timeout,
    /// The node refused for too many requests (after the transport's retries).
    RateLimited,
    /// The node could not be reached, or answered with a transport-level error (a refused
    /// connection, a 5xx, an error object that is not a revert).
    Unavailable,
    /// The node says the call reverts.
    Revert,
    /// The node answered with something that is not what the protocol says (a malformed event, a
    /// proof that does not verify, a header whose hash is not the one asked for): never trusted,
    /// never stored.
    BadAnswer,
    /// Signing a transaction failed.
    Signing,
    /// The configuration cannot be used (a key file, a field).
    Config,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timeout",
            Self::RateLimited => "rate limited",
            Self::Unavailable => "unavailable",
            Self::Revert => "revert",
            Self::BadAnswer => "bad answer",
            Self::Signing => "signing",
            Self::Config => "config",
        })
    }
}

/// What can go wrong talking to a chain.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// An RPC request failed.
    #[error("{chain}: {method} failed ({kind}): {source}")]
    Rpc {
        /// The chain's name.
        chain: String,
        /// The RPC method or contract call.
        method: &'static str,
        /// Timeout, rate limited, unavailable or revert.
        kind: ErrorKind,
        /// The transport's or node's error.
        #[source]
        source: Source,
    },
    /// The node answered with something that is not what the protocol says.
    #[error("{chain}: bad {what}{}: {reason}", tx.as_ref().map(|t| format!(" in tx {t}")).unwrap_or_default())]
    BadData {
        /// The chain's name.
        chain: String,
        /// What was malformed.
        what: &'static str,
        /// The transaction it came from (0x-hex), if known.
        tx: Option<String>,
        /// What is wrong with it.
        reason: String,
    },
    /// Signing failed.
    #[error("{chain}: signing {what} failed: {source}")]
    Signing {
        /// The chain's name.
        chain: String,
        /// What was being signed.
        what: &'static str,
        /// The signer's error.
        #[source]
        source: Source,
    },
    /// A configured value cannot be used.
    #[error("{field}: {reason}")]
    Config {
        /// The config field (`chains[1].account_key_file`), or the chain's name.
        field: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

impl AdapterError {
    /// An RPC failure of `method` on `chain`, its kind read from the error itself.
    pub fn rpc(
        chain: &str,
        method: &'static str,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        let kind = classify(&source);
        Self::Rpc {
            chain: chain.to_string(),
            method,
            kind,
            source: Box::new(source),
        }
    }

    /// An RPC failure described by the adapter (an answer that is missing).
    pub fn unavailable(chain: &str, method: &'static str, message: impl Into<String>) -> Self {
        Self::Rpc {
            chain: chain.to_string(),
            method,
            kind: ErrorKind::Unavailable,
            source: message.into().into(),
        }
    }

    /// A bad answer from `chain`.
    pub fn bad(
        chain: &str,
        what: &'static str,
        tx: Option<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::BadData {
            chain: chain.to_string(),
            what,
            tx,
            reason: reason.into(),
        }
    }

    /// A signing failure on `chain`.
    pub fn signing(
        chain: &str,
        what: &'static str,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::Signing {
            chain: chain.to_string(),
            what,
            source: Box::new(source),
        }
    }

    /// A config value that cannot be used.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Which kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Rpc { kind, .. } => *kind,
            Self::BadData { .. } => ErrorKind::BadAnswer,
            Self::Signing { .. } => ErrorKind::Signing,
            Self::Config { .. } => ErrorKind::Config,
        }
    }

    /// The chain it happened on (none for a config error).
    pub fn chain(&self) -> Option<&str> {
        match self {
            Self::Rpc { chain, .. } | Self::BadData { chain, .. } | Self::Signing { chain, .. } => {
                Some(chain)
            }
            Self::Config { .. } => None,
        }
    }

    /// Whether trying the same thing again later may succeed (the node was slow, busy or away).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Timeout | ErrorKind::RateLimited | ErrorKind::Unavailable
        )
    }
}

/// Reads the kind of an RPC failure from the error chain: a timeout or a refused connection
/// anywhere in it (reqwest, alloy's transport, starknet-rs's), a 429 or a rate-limit code, a
/// revert. What the transports put into words after their retries (alloy's "Max retries
/// exceeded …") is read from the words.
pub(crate) fn classify(error: &(dyn StdError + 'static)) -> ErrorKind {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(kind) = e
            .downcast_ref::<starknet_rust::providers::ProviderError>()
            .and_then(starknet_kind)
        {
            return kind;
        }
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() {
                return ErrorKind::Timeout;
            }
            if r.status().is_some_and(|s| s.as_u16() == 429) {
                return ErrorKind::RateLimited;
            }
            return ErrorKind::Unavailable;
        }
        if let Some(payload) = e
            .downcast_ref::<alloy::transports::TransportError>()
            .and_then(|rpc| rpc.as_error_resp())
        {
            if payload.code == 429 || payload.code == -32005 {
                return ErrorKind::RateLimited;
            }
            if payload.as_revert_data().is_some() || payload.message.contains("revert") {
                return ErrorKind::Revert;
            }
            return ErrorKind::Unavailable;
        }
        next = e.source();
    }
    let text = error.to_string().to_lowercase();
    if text.contains("timed out") || text.contains("timeout") || text.contains("deadline") {
        ErrorKind::Timeout
    } else if text.contains("429") || text.contains("rate limit") {
        ErrorKind::RateLimited
    } else if text.contains("revert") {
        ErrorKind::Revert
    } else {
        ErrorKind::Unavailable
    }
}

/// The kind of a starknet-rs provider error the node answered with, when it says one: a call or
/// transaction that fails is a revert (the chain refuses it, however often it is asked), a rate
/// limit is one.
fn starknet_kind(error: &starknet_rust::providers::ProviderError) -> Option<ErrorKind> {
    use starknet_rust::{core::types::StarknetError as S, providers::ProviderError as P};
    match error {
        P::RateLimited => Some(ErrorKind::RateLimited),
        P::StarknetError(
            S::ContractError(_)
            | S::TransactionExecutionError(_)
            | S::ValidationFailure(_)
            | S::EntrypointNotFound
            | S::InsufficientAccountBalance
            | S::InsufficientResourcesForValidate,
        ) => Some(ErrorKind::Revert),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Words(&'static str);

    #[test]
    fn the_kind_is_read_from_the_error_and_the_source_is_kept() {
        let e = AdapterError::rpc(
            "ethereum",
            "eth_blockNumber",
            Words("Max retries exceeded operation timed out"),
        );
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.is_transient());
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            e.to_string(),
            "ethereum: eth_blockNumber failed (timeout): Max retries exceeded operation timed out"
        );
        let e = AdapterError::rpc("l1", "eth_call", Words("HTTP error 429 with empty body"));
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        let e = AdapterError::rpc("l1", "eth_call", Words("execution reverted: 0x1234"));
        assert_eq!(e.kind(), ErrorKind::Revert);
        assert!(!e.is_transient());
        let e = AdapterError::bad("l1", "storage proof", Some("0xab".into()), "root mismatch");
        assert_eq!(e.kind(), ErrorKind::BadAnswer);
        assert_eq!(
            e.to_string(),
            "l1: bad storage proof in tx 0xab: root mismatch"
        );
        assert!(!e.is_transient());
    }

    #[test]
    fn a_starknet_call_that_fails_is_a_revert_and_a_missing_block_is_not() {
        use starknet_rust::{
            core::types::{ContractErrorData, ContractExecutionError, StarknetError},
            providers::ProviderError,
        };
        let e = AdapterError::rpc(
            "starknet",
            "starknet_estimateMessageFee",
            ProviderError::StarknetError(StarknetError::ContractError(ContractErrorData {
                revert_error: ContractExecutionError::Message("assert failed".into()),
            })),
        );
        assert_eq!(e.kind(), ErrorKind::Revert);
        assert!(!e.is_transient());
        let e = AdapterError::rpc(
            "starknet",
            "starknet_getBlockWithTxHashes",
            ProviderError::StarknetError(StarknetError::BlockNotFound),
        );
        assert!(e.is_transient());
        let e = AdapterError::rpc("starknet", "starknet_call", ProviderError::RateLimited);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.chain(), Some("starknet"));
    }
}
