//! Checkpoints (issue 16), stored per checkpoint, not per (message, signer):
//!
//! - `checkpoints_v1`: domain ‖ L1 block → the checkpoint's claim as this router computed it from
//!   L1, written last, so a stored checkpoint always has its ids and pointers;
//! - `checkpoint_ids_v1`: domain ‖ L1 block → its message ids in leaf order (32 bytes each: a
//!   checkpoint of 10,000 messages is read without decoding anything);
//! - `checkpoint_live_v1`: domain ‖ L1 block → empty, while some message of the checkpoint has
//!   not passed its gate here (after a restart, the network rebuilds its in-memory index of
//!   message → place from these alone). A message's place is kept in its record once it is
//!   `Attested` ([`crate::model::MessageRecord::checkpoint`]), in the write that moves it there: a
//!   checkpoint of 10,000 messages costs no write per message when it is stored.
//! - `checkpoint_sigs_v1`: domain ‖ L1 block ‖ signer → that signer's attestation, kept once it
//!   matched our own checkpoint;
//! - `checkpoint_certs_v1`: domain ‖ L1 block → the certificate, once `threshold` signers agree;
//! - the scan cursor of each domain's checkpoints, in `cursors_v2` under `\0checkpoints/<domain>`
//!   (a chain's own cursor is its 4-byte domain).
//!
//! Values are JSON of the caller's types, as for attestations.

use alloy_primitives::Address;
use xroute_proofs::envelope::MessageId;

use super::{Result, Store, StoreError, get_json, hex, put_once};
use crate::model::Cursor;

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

impl Store {
    /// Keeps the checkpoint of `domain` at L1 `block` (`value`, its claim, whose leaves are
    /// `ids`), its ids, and marks it live. Returns `false` if it was stored already
    /// (nothing is rewritten).
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
        let raw: Vec<u8> = ids.iter().flat_map(|id| id.0.0).collect();
        self.checkpoint_ids.insert(key, raw)?;
        self.checkpoint_live.insert(key, &[][..])?;
        put_once(&self.checkpoints, "checkpoint", &key, || hex(&key), value)
    }

    /// The ids of the stored checkpoint of `domain` at L1 `block`, in leaf order.
    pub fn checkpoint_ids(&self, domain: u32, block: u64) -> Result<Vec<MessageId>> {
        let key = checkpoint_key(domain, block);
        let Some(raw) = self.checkpoint_ids.get(key)? else {
            return Ok(Vec::new());
        };
        if raw.len() % 32 != 0 {
            return Err(StoreError::Corrupt {
                what: "checkpoint ids",
                key: hex(&key),
                reason: format!("{} bytes is not a whole number of ids", raw.len()),
            });
        }
        Ok(raw
            .chunks_exact(32)
            .map(|c| MessageId(alloy_primitives::B256::from_slice(c)))
            .collect())
    }

    /// Whether message `id` is stored (no decoding).
    pub fn contains(&self, id: &MessageId) -> Result<bool> {
        Ok(self.states.contains_key(id.0.as_slice())?)
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

    /// The live checkpoints (some message of each has not passed its gate here), oldest first.
    pub fn live_checkpoints(&self) -> Result<Vec<(u32, u64)>> {
        self.checkpoint_live
            .iter()
            .keys()
            .map(|key| {
                let key = key?;
                let bytes =
                    <[u8; 12]>::try_from(key.as_ref()).map_err(|_| StoreError::Corrupt {
                        what: "live checkpoint",
                        key: hex(&key),
                        reason: "key is not domain ‖ block".into(),
                    })?;
                let mut domain = [0u8; 4];
                domain.copy_from_slice(&bytes[..4]);
                let mut block = [0u8; 8];
                block.copy_from_slice(&bytes[4..]);
                Ok((u32::from_be_bytes(domain), u64::from_be_bytes(block)))
            })
            .collect()
    }

    /// Every message of the checkpoint of `domain` at L1 `block` passed its gate here.
    pub fn retire_checkpoint(&self, domain: u32, block: u64) -> Result<()> {
        self.checkpoint_live.remove(checkpoint_key(domain, block))?;
        Ok(())
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
        self.cursor_at(cursor_name(domain).as_bytes())
    }

    /// Moves that cursor.
    pub fn set_checkpoint_cursor(&self, domain: u32, cursor: &Cursor) -> Result<()> {
        self.set_cursor_at(cursor_name(domain).as_bytes(), cursor)
    }
}
