//! Converting a store an earlier release wrote. Schema 1 (xroute up to 3601be5) named chains by
//! their config name: `cursor_v1` was keyed by the name, a record's `source.chain` and each relay
//! transaction's `chain` held it, and records carried a `hop` that was always 0. Schema 2 names
//! chains by domain: `cursors_v2` keyed by the 4-byte domain, `source.domain`, each relay's
//! `domain`, no `hop`.
//!
//! The conversion reads every record once to check that the config names every chain the store
//! does (a name it does not is an error, and nothing is written), then rewrites records and relay
//! batches in batches of [`CHUNK`], copies the cursors under their domains, writes the schema mark
//! and only then drops `cursor_v1`. A crash part-way leaves no mark: the next open converts again,
//! and a record already converted is left as it is.
//!
//! Schema 3 splits each record into the trees of [`super::records`], so that a step writes only
//! what it changed. [`split_records`] converts a schema-2 store on open (no config is needed):
//! each record is written whole into the new trees, in batches, then the mark is set and only then
//! is `messages_v1` dropped. A crash part-way leaves schema 2 marked, and the next open splits
//! again (writing the same keys).

use std::{collections::HashMap, path::Path};

use serde_json::Value;

use xroute_proofs::envelope::MessageId;

use super::{
    CURSORS, MESSAGES, META, RELAY_BATCHES, Result, SCHEMA, SCHEMA_KEY, StoreError,
    records::{BODIES, HISTORY, RELAYS, STATES, Whole},
};
use crate::model::{MessageRecord, RelayBatch};

/// The tree of schema 1's cursors (by chain name).
const CURSORS_BY_NAME: &str = "cursor_v1";
/// Records rewritten per sled batch.
const CHUNK: usize = 10_000;
/// Schema 1's checkpoint cursors start with a NUL (no chain name does) and are kept as they are.
const CHECKPOINT_CURSOR: u8 = 0;

/// What a store holds.
pub(super) enum Found {
    /// Nothing yet.
    Empty,
    /// This release's schema.
    Current,
    /// Schema 1: chains by config name.
    ByName,
    /// Schema 2: each record whole in `messages_v1`.
    Whole,
}

/// Schema 2's number.
const WHOLE: u32 = 2;

/// Which schema the store in `db` is written in.
pub(super) fn schema_of(db: &sled::Db) -> Result<Found> {
    let names = db.tree_names();
    let has = |tree: &str| names.iter().any(|n| n.as_ref() == tree.as_bytes());
    if has(META) {
        let meta = db.open_tree(META)?;
        if let Some(v) = meta.get(SCHEMA_KEY)? {
            let schema = <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .unwrap_or(u32::MAX);
            if schema == SCHEMA {
                return Ok(Found::Current);
            }
            if schema == WHOLE {
                return Ok(Found::Whole);
            }
            return Err(StoreError::Corrupt {
                what: "store schema",
                key: "meta_v1/schema".into(),
                reason: format!(
                    "schema {schema}, this xroute reads schema {SCHEMA}: it was written by a \
                     newer xroute"
                ),
            });
        }
    }
    let nonempty =
        |tree: &str| -> Result<bool> { Ok(has(tree) && !db.open_tree(tree)?.is_empty()) };
    if nonempty(CURSORS_BY_NAME)? || nonempty(MESSAGES)? || nonempty(RELAY_BATCHES)? {
        return Ok(Found::ByName);
    }
    Ok(Found::Empty)
}

/// Converts the schema-1 store in `db` (at `path`) with `chains` (config name, domain).
pub(super) fn by_name_to_domain(db: &sled::Db, path: &Path, chains: &[(&str, u32)]) -> Result<()> {
    let domains: HashMap<&str, u32> = chains.iter().copied().collect();
    let failed = |reason: String| StoreError::Migration {
        path: path.into(),
        reason,
    };
    let messages = db.open_tree(MESSAGES)?;
    let batches = db.open_tree(RELAY_BATCHES)?;
    let old_cursors = db.open_tree(CURSORS_BY_NAME)?;
    // First pass: every name known, every record readable once converted. Nothing is written.
    let mut unknown = std::collections::BTreeSet::new();
    for (tree, what) in [(&messages, "message record"), (&batches, "relay batch")] {
        for entry in tree.iter() {
            let (key, value) = entry?;
            let converted = convert(&value, what, &key, &domains, &mut unknown)?;
            if unknown.is_empty() {
                check_decodes(&converted, what, &key)?;
            }
        }
    }
    for key in old_cursors.iter().keys() {
        let key = key?;
        if key.first() != Some(&CHECKPOINT_CURSOR) {
            let name = String::from_utf8_lossy(&key).into_owned();
            if !domains.contains_key(name.as_str()) {
                unknown.insert(name);
            }
        }
    }
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.into_iter().map(|n| format!("`{n}`")).collect();
        return Err(failed(format!(
            "it names chain{} {} that the config does not have; add {} back to [[chains]] (with \
             the domain {} had) and start again. Nothing was changed",
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            if names.len() == 1 { "it" } else { "them" },
            if names.len() == 1 { "it" } else { "they" },
        )));
    }
    // Second pass: rewrite.
    let mut none = Default::default();
    for (tree, what) in [(&messages, "message record"), (&batches, "relay batch")] {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for entry in tree.iter() {
            let (key, value) = entry?;
            batch.insert(
                key.clone(),
                convert(&value, what, &key, &domains, &mut none)?,
            );
            n += 1;
            if n % CHUNK == 0 {
                tree.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        tree.apply_batch(batch)?;
    }
    let cursors = db.open_tree(CURSORS)?;
    for entry in old_cursors.iter() {
        let (key, value) = entry?;
        if key.first() == Some(&CHECKPOINT_CURSOR) {
            cursors.insert(key, value)?;
        } else {
            let name = String::from_utf8_lossy(&key).into_owned();
            let domain = domains[name.as_str()];
            cursors.insert(domain.to_be_bytes(), value)?;
        }
    }
    db.flush()?;
    db.open_tree(META)?
        .insert(SCHEMA_KEY, &WHOLE.to_be_bytes())?;
    db.flush()?;
    db.drop_tree(CURSORS_BY_NAME)?;
    db.flush()?;
    tracing::info!(
        store = %path.display(),
        messages = messages.len(),
        "converted the store of an earlier xroute: chains are keyed by domain"
    );
    Ok(())
}

/// Converts the schema-2 store in `db` (at `path`): every record of `messages_v1` split into the
/// trees of [`super::records`], then schema 3 marked and `messages_v1` dropped. A record that does
/// not decode is an error naming it, before anything is marked.
pub(super) fn split_records(db: &sled::Db, path: &Path) -> Result<()> {
    let messages = db.open_tree(MESSAGES)?;
    let trees = [BODIES, STATES, HISTORY, RELAYS].map(|name| db.open_tree(name));
    let [bodies, states, history, relays] = trees;
    let (bodies, states, history, relays) = (bodies?, states?, history?, relays?);
    let mut batches: [sled::Batch; 4] = Default::default();
    let mut n = 0u64;
    let apply = |batches: &mut [sled::Batch; 4]| -> Result<()> {
        for (tree, batch) in [&bodies, &states, &history, &relays]
            .into_iter()
            .zip(batches)
        {
            tree.apply_batch(std::mem::take(batch))?;
        }
        Ok(())
    };
    for entry in messages.iter() {
        let (key, value) = entry?;
        let id = MessageId(alloy_primitives::B256::try_from(key.as_ref()).map_err(|_| {
            StoreError::Corrupt {
                what: "message record",
                key: super::hex(&key),
                reason: "key is not 32 bytes".into(),
            }
        })?);
        let record = super::codec::decode(&id, &value)?;
        let whole = Whole::of(&record)?;
        batches[0].insert(key.as_ref(), whole.body);
        batches[1].insert(key.as_ref(), whole.state);
        for (k, v) in whole.history {
            batches[2].insert(k.as_slice(), v);
        }
        for (k, v) in whole.relays {
            batches[3].insert(k.as_slice(), v);
        }
        n += 1;
        if n.is_multiple_of(CHUNK as u64) {
            apply(&mut batches)?;
        }
    }
    apply(&mut batches)?;
    db.flush()?;
    db.open_tree(META)?
        .insert(SCHEMA_KEY, &SCHEMA.to_be_bytes())?;
    db.flush()?;
    db.drop_tree(MESSAGES)?;
    db.flush()?;
    tracing::info!(
        store = %path.display(),
        messages = n,
        "converted the store of an earlier xroute: a change now writes only what changed"
    );
    Ok(())
}

/// One stored JSON value converted to schema 2 (names not in `domains` are added to `unknown`
/// and left as they are).
fn convert(
    bytes: &[u8],
    what: &'static str,
    key: &[u8],
    domains: &HashMap<&str, u32>,
    unknown: &mut std::collections::BTreeSet<String>,
) -> Result<Vec<u8>> {
    let corrupt = |reason: String| StoreError::Corrupt {
        what,
        key: super::hex(key),
        reason,
    };
    let mut value: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let mut by_domain = |object: &mut Value| {
        let Some(map) = object.as_object_mut() else {
            return;
        };
        map.remove("hop");
        if map.contains_key("domain") {
            return; // converted already
        }
        let Some(Value::String(name)) = map.get("chain").cloned() else {
            return;
        };
        match domains.get(name.as_str()) {
            Some(domain) => {
                map.remove("chain");
                map.insert("domain".into(), Value::from(*domain));
            }
            None => {
                unknown.insert(name);
            }
        }
    };
    match what {
        "relay batch" => {
            if let Some(attempts) = value.get_mut("attempts").and_then(Value::as_array_mut) {
                attempts.iter_mut().for_each(&mut by_domain);
            }
        }
        _ => {
            if let Some(map) = value.as_object_mut() {
                map.remove("hop");
            }
            if let Some(source) = value.get_mut("source") {
                by_domain(source);
            }
            if let Some(relays) = value.get_mut("relays").and_then(Value::as_array_mut) {
                relays.iter_mut().for_each(&mut by_domain);
            }
        }
    }
    serde_json::to_vec(&value).map_err(|e| corrupt(e.to_string()))
}

/// That a converted value reads as this release's type.
fn check_decodes(bytes: &[u8], what: &'static str, key: &[u8]) -> Result<()> {
    let decoded = match what {
        "relay batch" => serde_json::from_slice::<RelayBatch>(bytes).map(drop),
        _ => serde_json::from_slice::<MessageRecord>(bytes).map(drop),
    };
    decoded.map_err(|e| StoreError::Corrupt {
        what,
        key: super::hex(key),
        reason: format!("does not read once converted: {e}"),
    })
}
