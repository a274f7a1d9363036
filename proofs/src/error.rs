//! Errors of the proofs crate.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong turning raw inputs into protocol values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A 32-byte word does not fit in a Starknet field element.
    #[error(
        "{what}: {value} is not a Starknet field element (must be below the prime 2^251 + 17·2^192 + 1)"
    )]
    NotAFelt {
        /// Which input the word came from.
        what: &'static str,
        /// The word, as 0x-hex.
        value: String,
    },
}
