//! Where stored JSON becomes a whole record (schema 2's `messages_v1`, read once to convert it)
//! and a cursor, and back (JSON: readable with any sled tool, and tolerant of added optional
//! fields).

use xroute_proofs::envelope::MessageId;

use super::{Result, StoreError};
use crate::model::{Cursor, MessageRecord};

pub(super) fn decode(id: &MessageId, bytes: &[u8]) -> Result<MessageRecord> {
    let record: MessageRecord = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: "message record",
        key: id.to_string(),
        reason: e.to_string(),
    })?;
    if record.id != *id {
        return Err(StoreError::Corrupt {
            what: "message record",
            key: id.to_string(),
            reason: format!("holds message {}", record.id),
        });
    }
    Ok(record)
}

pub(super) fn encode_cursor(cursor: &Cursor) -> Result<Vec<u8>> {
    serde_json::to_vec(cursor).map_err(|e| StoreError::Corrupt {
        what: "cursor",
        key: String::new(),
        reason: format!("cannot encode: {e}"),
    })
}

pub(super) fn decode_cursor(key: &[u8], bytes: &[u8]) -> Result<Cursor> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: "cursor",
        key: super::hex(key),
        reason: e.to_string(),
    })
}
