//! Checkpoints (issue 16), stored per checkpoint, not per (message, signer):
//!
//! - `checkpoints_v1`: domain ‖ L1 block → the checkpoint as this router computed it from L1
//!   (its claim and ids), written after its pointers, so a stored checkpoint always has them;
//! - `checkpoint_of_v1`: message id → domain ‖ L1 block ‖ leaf index (what a message's gate reads);
//! - `checkpoint_sigs_v1`: domain ‖ L1 block ‖ signer → that signer's attestation, kept once it
//!   matched our own checkpoint;
//! - `checkpoint_certs_v1`: domain ‖ L1 block → the certificate, once `threshold` signers agree;
//! - the scan cursor of each domain's checkpoints, in `cursor_v1` under `\0checkpoints/<domain>`
//!   (no chain name starts with a NUL).
//!
//! Values are JSON of the caller's types, as for attestations.

use alloy_primitives::Address;
use xroute_proofs::envelope::MessageId;

use super::{Cursor, Result, Store, StoreError, get_json, hex, put_once};

/// domain ‖ L1 block.
pub(super) fn checkpoint_key(domain: u32, block: u64) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..4].copy_from_slice(&domain.to_be_bytes());
    key[4..].copy_from_slice(&block.to_be_bytes());
    key
}

fn signature_key(domain: u32, block: u64, signer: &Address) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..12].copy_from_slice(&checkpoint_key(domain, block));
    key[12..].copy_from_slice(signer.as_slice());
    key
}

fn cursor_name(domain: u32) -> String {
    format!("\0checkpoints/{domain}")
}

/// Where a message sits in a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPlace {
    /// The source domain.
    pub domain: u32,
    /// The L1 block.
    pub l1_block: u64,
    /// The message's leaf index.
    pub index: u32,
}

impl Store {
    /// Keeps the checkpoint of `domain` at L1 `block` (`value`, whose leaves are `ids`), and each
    /// id's place in it. Returns `false` if it was stored already (nothing is rewritten).
    pub fn put_checkpoint<T: serde::Serialize>(
        &self,
        domain: u32,
        block: u64,
        ids: &[MessageId],
        value: &T,
    ) -> Result<bool> {
        let key = checkpoint_key(domain, block);
        if self.checkpoints.contains_key(key)? {
            return Ok(false);
        }
        let mut pointers = sled::Batch::default();
        for (i, id) in ids.iter().enumerate() {
            let mut place = [0u8; 16];
            place[..12].copy_from_slice(&key);
            place[12..].copy_from_slice(&(i as u32).to_be_bytes());
            pointers.insert(id.0.as_slice(), &place[..]);
        }
        self.checkpoint_of.apply_batch(pointers)?;
        put_once(&self.checkpoints, "checkpoint", &key, || hex(&key), value)
    }

    /// The checkpoint of `domain` at L1 `block`, if stored.
    pub fn checkpoint<T: serde::de::DeserializeOwned>(
        &self,
        domain: u32,
        block: u64,
    ) -> Result<Option<T>> {
        let key = checkpoint_key(domain, block);
        get_json(&self.checkpoints, "checkpoint", &key, || hex(&key))
    }

    /// Message `id`'s place in a stored checkpoint.
    pub fn checkpoint_of(&self, id: &MessageId) -> Result<Option<CheckpointPlace>> {
        let Some(v) = self.checkpoint_of.get(id.0.as_slice())? else {
            return Ok(None);
        };
        let bytes = <[u8; 16]>::try_from(v.as_ref()).map_err(|_| StoreError::Corrupt {
            what: "checkpoint pointer",
            key: id.to_string(),
            reason: format!("{} bytes, expected 16", v.len()),
        })?;
        let word = |r: std::ops::Range<usize>| -> u64 {
            bytes[r]
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        };
        Ok(Some(CheckpointPlace {
            domain: word(0..4) as u32,
            l1_block: word(4..12),
            index: word(12..16) as u32,
        }))
    }

    /// Keeps `signer`'s attestation of the checkpoint of `domain` at L1 `block`, once; `false` if
    /// that signer's was stored already.
    pub fn put_checkpoint_signature<T: serde::Serialize>(
        &self,
        domain: u32,
        block: u64,
        signer: &Address,
        value: &T,
    ) -> Result<bool> {
        let key = signature_key(domain, block, signer);
        put_once(
            &self.checkpoint_sigs,
            "checkpoint attestation",
            &key,
            || hex(&key),
            value,
        )
    }

    /// Whether `signer`'s attestation of that checkpoint is stored (a replay check).
    pub fn has_checkpoint_signature(
        &self,
        domain: u32,
        block: u64,
        signer: &Address,
    ) -> Result<bool> {
        Ok(self
            .checkpoint_sigs
            .contains_key(signature_key(domain, block, signer))?)
    }

    /// Every stored attestation of that checkpoint, with its signer.
    pub fn checkpoint_signatures<T: serde::de::DeserializeOwned>(
        &self,
        domain: u32,
        block: u64,
    ) -> Result<Vec<(Address, T)>> {
        self.checkpoint_sigs
            .scan_prefix(checkpoint_key(domain, block))
            .map(|entry| {
                let (key, value) = entry?;
                let corrupt = |reason: String| StoreError::Corrupt {
                    what: "checkpoint attestation",
                    key: hex(&key),
                    reason,
                };
                let signer = key
                    .get(12..32)
                    .map(Address::from_slice)
                    .ok_or_else(|| corrupt("key is not domain ‖ block ‖ signer".into()))?;
                let value = serde_json::from_slice(&value).map_err(|e| corrupt(e.to_string()))?;
                Ok((signer, value))
            })
            .collect()
    }

    /// Keeps the certificate of the checkpoint of `domain` at L1 `block`; the first one stays.
    pub fn put_checkpoint_certificate<T: serde::Serialize>(
        &self,
        domain: u32,
        block: u64,
        value: &T,
    ) -> Result<bool> {
        let key = checkpoint_key(domain, block);
        put_once(
            &self.checkpoint_certs,
            "checkpoint certificate",
            &key,
            || hex(&key),
            value,
        )
    }

    /// The certificate of that checkpoint, if one was formed.
    pub fn checkpoint_certificate<T: serde::de::DeserializeOwned>(
        &self,
        domain: u32,
        block: u64,
    ) -> Result<Option<T>> {
        let key = checkpoint_key(domain, block);
        get_json(
            &self.checkpoint_certs,
            "checkpoint certificate",
            &key,
            || hex(&key),
        )
    }

    /// The last L1 block whose checkpoints of `domain` were computed.
    pub fn checkpoint_cursor(&self, domain: u32) -> Result<Option<Cursor>> {
        self.cursor(&cursor_name(domain))
    }

    /// Moves that cursor.
    pub fn set_checkpoint_cursor(&self, domain: u32, cursor: &Cursor) -> Result<()> {
        self.set_cursor(&cursor_name(domain), cursor)
    }
}
