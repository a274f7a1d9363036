//! Configuration errors: each names the file and the field.

use std::path::PathBuf;

/// Result with [`ConfigError`].
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema (unknown field, wrong type, …).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field has a value the router cannot run with.
    #[error("{path}: {field}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field, as a TOML path (`chains[1].rpc`).
        field: String,
        /// What is wrong and what to do.
        problem: String,
    },
}
