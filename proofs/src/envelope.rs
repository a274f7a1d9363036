//! The xroute envelope v1: what one cross-rollup message is, and its id.
//!
//! Canonical encoding (see `docs/envelope.md`): 32-byte big-endian words
//!
//! ```text
//! word 0  header     version (8 bits) ‖ src_domain (32) ‖ dst_domain (32) ‖ nonce (64), right-aligned
//! word 1  sender     32 bytes (an L1 address is left-padded with zeros)
//! word 2  recipient  32 bytes
//! word 3  payload length n
//! word 4… payload    n words
//! ```
//!
//! The message id is keccak256 of the concatenated words, so Solidity computes it as
//! `keccak256(abi.encodePacked(words))` and Cairo with `keccak_u256s_be_inputs` (byte-reversed).
//! The header packs into 136 bits, so every header word is a valid felt; toward a Starknet-family
//! chain the sender, recipient and payload words must be below the field prime as well.

use alloy_primitives::{B256, U256, keccak256};
use starknet_rust_core::types::Felt;

use crate::{Error, Result, starknet::felt_from_word};

/// The only envelope version this code speaks.
pub const ENVELOPE_VERSION: u8 = 1;
/// Words before the payload.
pub const HEADER_WORDS: usize = 4;
/// Upper bound on payload words accepted by the decoders (bounds memory for untrusted input).
pub const MAX_PAYLOAD_WORDS: usize = 4096;

/// One cross-rollup message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Envelope {
    /// Source domain (chain) id.
    pub src_domain: u32,
    /// Per-source-endpoint sequence number.
    pub nonce: u64,
    /// The sending app on the source chain.
    pub sender: B256,
    /// Destination domain id.
    pub dst_domain: u32,
    /// The receiving app on the destination chain.
    pub recipient: B256,
    /// App payload, in 32-byte words.
    pub payload: Vec<B256>,
}

/// keccak256 of an envelope's canonical encoding.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct MessageId(pub B256);

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for MessageId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        s.parse::<B256>().map(Self).map_err(|e| Error::Malformed {
            what: "message id",
            reason: format!("{s:?}: {e}"),
        })
    }
}

impl Envelope {
    /// The header word.
    pub fn header(&self) -> B256 {
        let header = (U256::from(ENVELOPE_VERSION) << 128)
            | (U256::from(self.src_domain) << 96)
            | (U256::from(self.dst_domain) << 64)
            | U256::from(self.nonce);
        B256::from(header)
    }

    /// The canonical encoding as words.
    pub fn to_words(&self) -> Vec<B256> {
        let mut words = Vec::with_capacity(HEADER_WORDS + self.payload.len());
        words.push(self.header());
        words.push(self.sender);
        words.push(self.recipient);
        words.push(B256::from(U256::from(self.payload.len())));
        words.extend_from_slice(&self.payload);
        words
    }

    /// The canonical encoding as bytes (the words, concatenated).
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(32 * (HEADER_WORDS + self.payload.len()));
        bytes.extend_from_slice(self.header().as_slice());
        bytes.extend_from_slice(self.sender.as_slice());
        bytes.extend_from_slice(self.recipient.as_slice());
        bytes.extend_from_slice(&U256::from(self.payload.len()).to_be_bytes::<32>());
        for word in &self.payload {
            bytes.extend_from_slice(word.as_slice());
        }
        bytes
    }

    /// The message id.
    pub fn id(&self) -> MessageId {
        MessageId(keccak256(self.encode()))
    }

    /// The canonical encoding as felts, for a Starknet-family chain. Fails naming the first word
    /// that is not below the field prime.
    pub fn to_felts(&self) -> Result<Vec<Felt>> {
        let mut felts = Vec::with_capacity(HEADER_WORDS + self.payload.len());
        felts.push(felt_from_word("envelope header", self.header())?);
        felts.push(felt_from_word("envelope sender", self.sender)?);
        felts.push(felt_from_word("envelope recipient", self.recipient)?);
        felts.push(Felt::from(self.payload.len() as u64));
        for (i, word) in self.payload.iter().enumerate() {
            felts.push(
                felt_from_word("envelope payload word", *word).map_err(|e| match e {
                    Error::NotAFelt { value, .. } => Error::PayloadWordNotAFelt { index: i, value },
                    other => other,
                })?,
            );
        }
        Ok(felts)
    }

    /// Decodes the canonical word encoding. Every malformed input is a typed error.
    pub fn from_words(words: &[B256]) -> Result<Self> {
        if words.len() < HEADER_WORDS {
            return Err(Error::Truncated {
                what: "envelope",
                need: HEADER_WORDS * 32,
                got: words.len() * 32,
            });
        }
        let header = U256::from_be_bytes(words[0].0);
        if header >> 136usize != U256::ZERO {
            return Err(Error::Malformed {
                what: "envelope header",
                reason: format!("bits above 136 are set in {}", words[0]),
            });
        }
        let version = (header >> 128usize).to::<u8>();
        if version != ENVELOPE_VERSION {
            return Err(Error::UnsupportedVersion {
                what: "envelope",
                got: version.into(),
                want: ENVELOPE_VERSION.into(),
            });
        }
        let src_domain = ((header >> 96usize) & U256::from(u32::MAX)).to::<u32>();
        let dst_domain = ((header >> 64usize) & U256::from(u32::MAX)).to::<u32>();
        let nonce = (header & U256::from(u64::MAX)).to::<u64>();
        let declared = U256::from_be_bytes(words[3].0);
        let present = words.len() - HEADER_WORDS;
        if declared != U256::from(present) {
            return Err(Error::Malformed {
                what: "envelope",
                reason: format!("payload length word says {declared} but {present} words follow"),
            });
        }
        if present > MAX_PAYLOAD_WORDS {
            return Err(Error::Malformed {
                what: "envelope",
                reason: format!(
                    "payload of {present} words exceeds the limit of {MAX_PAYLOAD_WORDS}"
                ),
            });
        }
        Ok(Self {
            src_domain,
            nonce,
            sender: words[1],
            dst_domain,
            recipient: words[2],
            payload: words[HEADER_WORDS..].to_vec(),
        })
    }

    /// Decodes the canonical byte encoding.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if !bytes.len().is_multiple_of(32) {
            return Err(Error::Malformed {
                what: "envelope",
                reason: format!(
                    "{} bytes is not a whole number of 32-byte words",
                    bytes.len()
                ),
            });
        }
        let words: Vec<B256> = bytes.chunks_exact(32).map(B256::from_slice).collect();
        Self::from_words(&words)
    }

    /// Decodes the canonical felt encoding (as it arrives from a Starknet-family chain).
    pub fn from_felts(felts: &[Felt]) -> Result<Self> {
        let words: Vec<B256> = felts.iter().map(|f| B256::from(f.to_bytes_be())).collect();
        Self::from_words(&words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn envelope() -> impl Strategy<Value = Envelope> {
        (
            any::<u32>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<u32>(),
            any::<[u8; 32]>(),
            proptest::collection::vec(any::<[u8; 32]>(), 0..24),
        )
            .prop_map(
                |(src_domain, nonce, sender, dst_domain, recipient, payload)| Envelope {
                    src_domain,
                    nonce,
                    sender: B256::from(sender),
                    dst_domain,
                    recipient: B256::from(recipient),
                    payload: payload.into_iter().map(B256::from).collect(),
                },
            )
    }

    proptest! {
        #[test]
        fn words_and_bytes_round_trip(e in envelope()) {
            prop_assert_eq!(Envelope::from_words(&e.to_words()).unwrap(), e.clone());
            prop_assert_eq!(Envelope::decode(&e.encode()).unwrap(), e.clone());
            let words: Vec<u8> = e.to_words().iter().flat_map(|w| w.0).collect();
            prop_assert_eq!(words, e.encode());
        }

        #[test]
        fn felts_round_trip_when_every_word_is_a_felt(e in envelope()) {
            match e.to_felts() {
                Ok(felts) => prop_assert_eq!(Envelope::from_felts(&felts).unwrap(), e),
                Err(err) => {
                    let over = |w: &B256| w.0[0] >= 0x08;
                    prop_assert!(over(&e.sender) || over(&e.recipient) || e.payload.iter().any(|w| w.0[0] >= 0x08), "{err}");
                }
            }
        }

        #[test]
        fn truncated_input_is_an_error(e in envelope(), cut in 1usize..64) {
            let bytes = e.encode();
            let cut = cut.min(bytes.len());
            prop_assert!(Envelope::decode(&bytes[..bytes.len() - cut]).is_err());
        }

        #[test]
        fn corrupted_input_never_panics_and_changes_the_id(e in envelope(), at in any::<usize>(), bit in 0u8..8) {
            let mut bytes = e.encode();
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            if let Ok(other) = Envelope::decode(&bytes) {
                prop_assert_ne!(other.id(), e.id());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Envelope::decode(&bytes);
        }
    }

    #[test]
    fn header_layout_is_fixed() {
        let e = Envelope {
            src_domain: 0x0102_0304,
            nonce: 0x1122_3344_5566_7788,
            sender: B256::ZERO,
            dst_domain: 0x0a0b_0c0d,
            recipient: B256::ZERO,
            payload: vec![],
        };
        assert_eq!(
            e.header(),
            "0x00000000000000000000000000000001010203040a0b0c0d1122334455667788"
                .parse::<B256>()
                .unwrap()
        );
        // keccak256 of the four header words, as Solidity's abi.encodePacked would hash them.
        let mut packed = Vec::new();
        for w in e.to_words() {
            packed.extend_from_slice(w.as_slice());
        }
        assert_eq!(e.id().0, keccak256(packed));
    }

    #[test]
    fn a_payload_word_over_the_prime_is_named() {
        let mut e = Envelope {
            src_domain: 1,
            nonce: 1,
            sender: B256::with_last_byte(1),
            dst_domain: 2,
            recipient: B256::with_last_byte(2),
            payload: vec![B256::with_last_byte(9), B256::repeat_byte(0xff)],
        };
        let err = e.to_felts().unwrap_err();
        assert!(
            matches!(err, Error::PayloadWordNotAFelt { index: 1, .. }),
            "{err}"
        );
        e.payload.pop();
        assert_eq!(e.to_felts().unwrap().len(), 5);
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        let e = Envelope {
            src_domain: 1,
            nonce: 2,
            sender: B256::ZERO,
            dst_domain: 3,
            recipient: B256::ZERO,
            payload: vec![],
        };
        let mut words = e.to_words();
        words[0].0[15] = 2; // version 2
        assert!(matches!(
            Envelope::from_words(&words),
            Err(Error::UnsupportedVersion { got: 2, .. })
        ));
        words[0].0[15] = 1;
        words[0].0[0] = 1; // reserved bits
        assert!(matches!(
            Envelope::from_words(&words),
            Err(Error::Malformed { .. })
        ));
        words[0].0[0] = 0;
        words[3] = B256::with_last_byte(1); // claims a payload word that is missing
        assert!(matches!(
            Envelope::from_words(&words),
            Err(Error::Malformed { .. })
        ));
    }
}
