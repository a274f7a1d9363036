//! Store errors.

use std::path::PathBuf;

use xroute_proofs::envelope::MessageId;

use crate::model::Stage;

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened (another router holds it, or the folder is not writable).
    #[error("opening the store at {path}: {source} (is another router using it?)")]
    Open {
        /// The folder.
        path: PathBuf,
        /// sled's error.
        source: sled::Error,
    },
    /// sled failed.
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// A backup cannot be written there.
    #[error("backup to {path}: {reason}")]
    BackupTarget {
        /// The target folder.
        path: std::path::PathBuf,
        /// Why not.
        reason: String,
    },
    /// The store was written by an earlier release and must be converted with the router's
    /// chains ([`super::Store::open_migrating`]) before it can be read.
    #[error(
        "the store at {path} was written by an earlier xroute (chains keyed by their config name); \
         open it with the router's config (`xroute run`, `xroute store backup`) to convert it"
    )]
    NeedsMigration {
        /// The folder.
        path: PathBuf,
    },
    /// A store written by an earlier release cannot be converted as it is; nothing was changed.
    #[error("converting the store at {path}: {reason}")]
    Migration {
        /// The folder.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },
    /// A stored value that does not decode.
    #[error("store: corrupt {what} at key {key}: {reason}")]
    Corrupt {
        /// What kind of record.
        what: &'static str,
        /// Its key, hex.
        key: String,
        /// The decoder's message.
        reason: String,
    },
    /// No record for the id.
    #[error("no message {0} in the store")]
    UnknownMessage(MessageId),
    /// The message is not in the stage the step expected (another step moved it first).
    #[error("message {id} is {found:?}, not {expected:?}")]
    StageMismatch {
        /// The message.
        id: MessageId,
        /// The stage the caller expected.
        expected: Stage,
        /// The stage it is in.
        found: Stage,
    },
    /// A move the lifecycle does not allow.
    #[error("message {id}: {from:?} → {to:?} is not a lifecycle transition")]
    IllegalTransition {
        /// The message.
        id: MessageId,
        /// From.
        from: Stage,
        /// To.
        to: Stage,
    },
}
