//! The router's message store, on sled.
//!
//! One sled tree per record kind, each named with a schema version so a later layout can live
//! beside this one: a message is kept in the four trees of [`records`] (its body, written once;
//! its small state; its history and relay entries, appended), `status_v1` (stage byte ‖ id →
//! empty: the index behind `xroute messages --status`; also `0xfe ‖ time ‖ id`, when a message
//! was delivered, for [`prune`]), `cursors_v2` (a chain's domain, 4 bytes →
//! [`Cursor`]), `relay_batches_v1` (first tx hash → [`RelayBatch`], while its members are in
//! flight), the checkpoint trees of [`checkpoints`], and `meta_v1` (the store's schema). What is
//! stored names chains by domain; a store an earlier release wrote is converted once ([`migrate`]:
//! chains by config name need the config's names, [`Store::open_migrating`]; whole JSON records
//! are split on open). Stored bytes are decoded in one place per kind; a value that does not
//! decode is a typed error naming its key, never a panic. A stage change writes the state, one
//! history entry and the status index in one transaction, and only from the stage the caller
//! expects, so a transition is persisted exactly once before its side effect runs, and replaying a
//! step after a crash is harmless. A round's moves of one stage commit together
//! ([`Store::transition_all`]).

mod backup;
mod checkpoints;
mod codec;
mod error;
mod migrate;
mod prune;
mod records;
mod relay_batch;

use std::{
    path::Path,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use sled::{Transactional, transaction::TransactionError};

pub use backup::BackupReport;
pub use error::{Result, StoreError};
pub use records::Move;
use xroute_proofs::envelope::MessageId;

use crate::model::{Cursor, MessageRecord, Stage, StageObserver};

/// sled's page cache (its default is 1 GiB): what a store holds in memory beyond what a round
/// reads, `node.store_cache_mb` (64 MiB unless set: [`set_cache_bytes`]). A restart on a store
/// of 1,000,000 messages counts its index once; with sled's default cache that scan stayed
/// resident (264 MiB after a crash, docs/benchmarks.md).
static CACHE_BYTES: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(xroute_config::DEFAULT_STORE_CACHE_MB << 20);

/// Sets the page cache of the stores this process opens from now on (`node.store_cache_mb`).
pub fn set_cache_bytes(bytes: u64) {
    CACHE_BYTES.store(bytes, std::sync::atomic::Ordering::Relaxed);
}

/// Schema 2's records, whole (id → JSON); converted to [`records`]' trees on open.
const MESSAGES: &str = "messages_v1";
const STATUS: &str = "status_v1";
const CURSORS: &str = "cursors_v2";
const META: &str = "meta_v1";
/// The schema of what this release stores: records split so a change writes only what changed
/// ([`records`]). (1: chains by config name; 2: chains by domain, each record one JSON value.)
const SCHEMA: u32 = 3;
const SCHEMA_KEY: &[u8] = b"schema";
const ATTESTATIONS: &str = "attestations_v1";
const CERTIFICATES: &str = "certificates_v1";
const BATCHES: &str = "batches_v1";
const RELAY_BATCHES: &str = "relay_batches_v1";
const CHECKPOINTS: &str = "checkpoints_v1";
const CHECKPOINT_LIVE: &str = "checkpoint_live_v1";
const CHECKPOINT_IDS: &str = "checkpoint_ids_v1";
const CHECKPOINT_SIGS: &str = "checkpoint_sigs_v1";
const CHECKPOINT_CERTS: &str = "checkpoint_certs_v1";
/// How long [`Store::open`] waits for the lock of a store whose last handle is closing.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The chains a store's records name: each chain's config name and its domain (what
/// [`Store::open_migrating`] converts an earlier release's store with).
pub type ChainNames<'a> = [(&'a str, u32)];

/// The sled-backed store.
#[derive(Debug, Clone)]
pub struct Store {
    /// Told of every stage change once it is committed.
    observer: Option<Arc<dyn StageObserver>>,
    db: sled::Db,
    bodies: sled::Tree,
    states: sled::Tree,
    history: sled::Tree,
    relays: sled::Tree,
    status: sled::Tree,
    cursors: sled::Tree,
    meta: sled::Tree,
    attestations: sled::Tree,
    certificates: sled::Tree,
    batches: sled::Tree,
    relay_batches: sled::Tree,
    checkpoints: sled::Tree,
    checkpoint_live: sled::Tree,
    checkpoint_ids: sled::Tree,
    checkpoint_sigs: sled::Tree,
    checkpoint_certs: sled::Tree,
    counts: Arc<Counts>,
}

fn status_key(stage: Stage, id: &MessageId) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[0] = stage as u8;
    key[1..].copy_from_slice(id.0.as_slice());
    key
}

/// The first byte of a delivery-schedule key (no stage byte is 0xfe; the counts use 0xff).
const DELIVERED_PREFIX: u8 = 0xfe;

/// The first byte of a pruned message's status key, `0xfd ‖ id` (no stage byte is 0xfd): it
/// leaves the `Delivered` index, whose listing then holds only whole records, and still counts as
/// delivered when the counts are rebuilt.
const PRUNED_PREFIX: u8 = 0xfd;

/// `0xfd ‖ id`: the status key of `id` once its record is pruned.
fn pruned_key(id: &MessageId) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[0] = PRUNED_PREFIX;
    key[1..].copy_from_slice(id.0.as_slice());
    key
}

/// `0xfe ‖ at_ms ‖ id`: when `id` was delivered (the schedule [`prune`] reads, written with the
/// move to `Delivered`).
fn delivered_key(at_ms: u64, id: &MessageId) -> [u8; 41] {
    let mut key = [0u8; 41];
    key[0] = DELIVERED_PREFIX;
    key[1..9].copy_from_slice(&at_ms.to_be_bytes());
    key[9..].copy_from_slice(id.0.as_slice());
    key
}

/// How many messages each stage holds, kept in memory and moved after each committed change, so
/// that counting is a read, not a scan of the status index. A clean stop saves them in the status
/// tree under `[0xff, stage]` (no stage byte is 0xff, so a stage's prefix scan never sees them) with
/// the mark `[0xff, 0]`; the next open loads them and removes the mark before anything moves. A
/// store opened without the mark (after a crash, or written before the counts were kept) is
/// counted once from the index.
const COUNT_PREFIX: u8 = 0xff;
const COUNTED: [u8; 2] = [COUNT_PREFIX, 0];

fn count_key(stage: Stage) -> [u8; 2] {
    [COUNT_PREFIX, stage as u8]
}

#[derive(Debug, Default)]
struct Counts {
    /// By stage byte (every stage byte is below 16).
    stages: [AtomicU64; 16],
    /// Whether the mark is on disk (a change must take it away before it commits).
    saved: AtomicBool,
    /// Held shared by every change of stage, alone by [`Store::save_counts`].
    gate: RwLock<()>,
}

impl Counts {
    fn add(&self, stage: Stage, n: u64) {
        self.stages[stage as usize].fetch_add(n, Ordering::Relaxed);
    }

    fn moved(&self, from: Stage, to: Stage) {
        let _ =
            self.stages[from as usize].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(1))
            });
        self.add(to, 1);
    }
}

/// How the store configures sled for `path` (its page cache is [`CACHE_BYTES`]); a bench's
/// baseline opens sled the same way.
pub fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(CACHE_BYTES.load(std::sync::atomic::Ordering::Relaxed))
}

impl Store {
    /// Opens (or creates) the store in `path`. A lock still held by a handle that is closing (sled
    /// releases it from its flusher thread, moments after the last handle is dropped) is waited
    /// for up to [`LOCK_WAIT`]; a store another router keeps open is an error saying so. A store
    /// an earlier release wrote is refused ([`StoreError::NeedsMigration`]), unchanged.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_inner(path, None)
    }

    /// Opens the store in `path` as [`Store::open`] does, first converting a store an earlier
    /// release wrote (chains by config name) with `chains`, the config's names and domains:
    /// cursors, message sources and relay transactions are then keyed by domain. A name the
    /// config does not have is an error naming it, and nothing is changed.
    pub fn open_migrating(path: &Path, chains: &ChainNames<'_>) -> Result<Self> {
        Self::open_inner(path, Some(chains))
    }

    fn open_inner(path: &Path, chains: Option<&ChainNames<'_>>) -> Result<Self> {
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let db = loop {
            match sled_config(path).open() {
                Ok(db) => break db,
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::Other
                        && e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(source) => {
                    return Err(StoreError::Open {
                        path: path.into(),
                        source,
                    });
                }
            }
        };
        match migrate::schema_of(&db)? {
            migrate::Found::Current => {}
            migrate::Found::Empty => {
                db.open_tree(META)?
                    .insert(SCHEMA_KEY, &SCHEMA.to_be_bytes())?;
            }
            migrate::Found::ByName => match chains {
                Some(chains) => {
                    migrate::by_name_to_domain(&db, path, chains)?;
                    migrate::split_records(&db, path)?;
                }
                None => return Err(StoreError::NeedsMigration { path: path.into() }),
            },
            migrate::Found::Whole => migrate::split_records(&db, path)?,
        }
        let store = Self {
            counts: Arc::default(),
            observer: None,
            bodies: db.open_tree(records::BODIES)?,
            states: db.open_tree(records::STATES)?,
            history: db.open_tree(records::HISTORY)?,
            relays: db.open_tree(records::RELAYS)?,
            status: db.open_tree(STATUS)?,
            cursors: db.open_tree(CURSORS)?,
            meta: db.open_tree(META)?,
            attestations: db.open_tree(ATTESTATIONS)?,
            certificates: db.open_tree(CERTIFICATES)?,
            batches: db.open_tree(BATCHES)?,
            relay_batches: db.open_tree(RELAY_BATCHES)?,
            checkpoints: db.open_tree(CHECKPOINTS)?,
            checkpoint_live: db.open_tree(CHECKPOINT_LIVE)?,
            checkpoint_ids: db.open_tree(CHECKPOINT_IDS)?,
            checkpoint_sigs: db.open_tree(CHECKPOINT_SIGS)?,
            checkpoint_certs: db.open_tree(CHECKPOINT_CERTS)?,
            db,
        };
        if store.status.get(COUNTED)?.is_some() {
            for stage in Stage::ALL {
                let saved = store.status.get(count_key(stage))?;
                let n = saved
                    .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                store.counts.add(stage, n);
            }
            store.status.remove(COUNTED)?;
            store.status.flush()?;
        } else {
            store.recount()?;
        }
        Ok(store)
    }

    /// This store, telling `observer` of every change of stage from now on (the handles cloned
    /// from the result do too; others do not).
    pub fn with_observer(mut self, observer: Arc<dyn StageObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The schema this store is written in.
    pub fn schema(&self) -> Result<u32> {
        Ok(self
            .meta
            .get(SCHEMA_KEY)?
            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
            .map(u32::from_be_bytes)
            .unwrap_or(0))
    }

    /// Counts each stage's messages from the status index (a store without saved counts).
    fn recount(&self) -> Result<()> {
        let mut counts = [0u64; 16];
        for key in self.status.iter().keys() {
            let key = key?;
            if key.len() != 33 {
                continue;
            }
            let stage = if key[0] == PRUNED_PREFIX {
                Stage::Delivered as usize
            } else {
                usize::from(key[0])
            };
            if let Some(n) = counts.get_mut(stage) {
                *n += 1;
            }
        }
        for stage in Stage::ALL {
            self.counts.stages[stage as usize].store(counts[stage as usize], Ordering::Relaxed);
        }
        Ok(())
    }

    /// Saves the per-stage counts with their mark, so that the next open reads them instead of
    /// counting the index (on a clean stop, after the pipeline drained; a change after it takes
    /// the mark away again).
    pub fn save_counts(&self) -> Result<()> {
        let _alone = self.counts.gate.write().unwrap_or_else(|e| e.into_inner());
        let mut batch = sled::Batch::default();
        for stage in Stage::ALL {
            let n = self.counts.stages[stage as usize].load(Ordering::Relaxed);
            batch.insert(&count_key(stage), &n.to_be_bytes());
        }
        batch.insert(&COUNTED, &[1u8][..]);
        self.status.apply_batch(batch)?;
        self.db.flush()?;
        self.counts.saved.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Before a change of stage commits: shared hold of the gate, and the saved mark taken away
    /// (so a crash after the change leaves a store that is counted on open).
    fn changing(&self) -> Result<std::sync::RwLockReadGuard<'_, ()>> {
        let guard = self.counts.gate.read().unwrap_or_else(|e| e.into_inner());
        if self.counts.saved.load(Ordering::SeqCst) {
            // Forgotten only once it is gone from disk (a failed removal is tried again).
            self.status.remove(COUNTED)?;
            self.status.flush()?;
            self.counts.saved.store(false, Ordering::SeqCst);
        }
        Ok(guard)
    }

    /// Records a newly seen message (in stage [`Stage::Sent`], or as a copy holds it). Idempotent:
    /// seeing the same message again (a re-scan after restart) leaves the stored record as it is
    /// and returns `false`.
    pub fn insert_new(&self, record: &MessageRecord) -> Result<bool> {
        let key = record.id.0;
        let whole = records::Whole::of(record)?;
        let index = status_key(record.stage, &record.id);
        // A record that arrives delivered (a backup's) is scheduled from its delivery.
        let delivered = (record.stage == Stage::Delivered)
            .then(|| delivered_key(record.history.last().map_or(0, |t| t.at_ms), &record.id));
        let _changing = self.changing()?;
        let inserted = (
            &self.bodies,
            &self.states,
            &self.history,
            &self.relays,
            &self.status,
        )
            .transaction(|(bodies, states, history, relays, status)| {
                if states.get(key.as_slice())?.is_some() {
                    return Ok(false);
                }
                bodies.insert(key.as_slice(), whole.body.as_slice())?;
                states.insert(key.as_slice(), whole.state.as_slice())?;
                for (k, v) in &whole.history {
                    history.insert(k.as_slice(), v.as_slice())?;
                }
                for (k, v) in &whole.relays {
                    relays.insert(k.as_slice(), v.as_slice())?;
                }
                status.insert(index.as_slice(), &[][..])?;
                if let Some(key) = &delivered {
                    status.insert(key.as_slice(), &[][..])?;
                }
                Ok(true)
            })
            .map_err(flatten)?;
        crate::failpoint::hit("store.insert");
        if inserted {
            self.counts.add(record.stage, 1);
        }
        Ok(inserted)
    }

    /// Ids of messages in `stage`, in id order, at most `limit`.
    pub fn ids_in(&self, stage: Stage, limit: usize) -> Result<Vec<MessageId>> {
        self.status
            .scan_prefix([stage as u8])
            .take(limit)
            .map(|entry| {
                let (key, _) = entry?;
                let bytes: [u8; 32] =
                    key.get(1..)
                        .and_then(|k| k.try_into().ok())
                        .ok_or_else(|| StoreError::Corrupt {
                            what: "status index key",
                            key: hex(&key),
                            reason: "not 33 bytes".into(),
                        })?;
                Ok(MessageId(bytes.into()))
            })
            .collect()
    }

    /// How many messages are in `stage` (a read of the kept count, not a scan).
    pub fn count_in(&self, stage: Stage) -> usize {
        let n = self.counts.stages[stage as usize].load(Ordering::Relaxed);
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// The indexing cursor of the chain of `domain`.
    pub fn cursor(&self, domain: u32) -> Result<Option<Cursor>> {
        self.cursor_at(&domain.to_be_bytes())
    }

    /// Saves the indexing cursor of the chain of `domain`.
    pub fn set_cursor(&self, domain: u32, cursor: &Cursor) -> Result<()> {
        self.set_cursor_at(&domain.to_be_bytes(), cursor)
    }

    fn cursor_at(&self, key: &[u8]) -> Result<Option<Cursor>> {
        self.cursors
            .get(key)?
            .map(|bytes| codec::decode_cursor(key, &bytes))
            .transpose()
    }

    fn set_cursor_at(&self, key: &[u8], cursor: &Cursor) -> Result<()> {
        self.cursors.insert(key, codec::encode_cursor(cursor)?)?;
        crate::failpoint::hit("store.cursor");
        Ok(())
    }

    /// Keeps `signer`'s attestation of message `id` (`attestations_v1`: id ‖ signer → JSON).
    /// Returns `false` if that signer's attestation was already stored.
    pub fn put_attestation<T: serde::Serialize>(
        &self,
        id: &MessageId,
        signer: &alloy_primitives::Address,
        attestation: &T,
    ) -> Result<bool> {
        let key = attestation_key(id, signer);
        put_once(
            &self.attestations,
            "attestation",
            &key,
            || hex(&key),
            attestation,
        )
    }

    /// Every stored attestation of message `id`, with the signer it was stored under.
    pub fn attestations<T: serde::de::DeserializeOwned>(
        &self,
        id: &MessageId,
    ) -> Result<Vec<(alloy_primitives::Address, T)>> {
        self.attestations
            .scan_prefix(id.0.as_slice())
            .map(|entry| {
                let (key, value) = entry?;
                let corrupt = |reason: String| StoreError::Corrupt {
                    what: "attestation",
                    key: hex(&key),
                    reason,
                };
                let signer = key
                    .get(32..52)
                    .map(alloy_primitives::Address::from_slice)
                    .ok_or_else(|| corrupt("key is not id ‖ signer".into()))?;
                let value = serde_json::from_slice(&value).map_err(|e| corrupt(e.to_string()))?;
                Ok((signer, value))
            })
            .collect()
    }

    /// Keeps `signer`'s batch attestation with Merkle root `root` (`batches_v1`: root ‖ signer →
    /// JSON), once.
    pub fn put_batch<T: serde::Serialize>(
        &self,
        root: &alloy_primitives::B256,
        signer: &alloy_primitives::Address,
        batch: &T,
    ) -> Result<bool> {
        let key = batch_key(root, signer);
        put_once(
            &self.batches,
            "batch attestation",
            &key,
            || hex(&key),
            batch,
        )
    }

    /// `signer`'s batch attestation with root `root`, if stored.
    pub fn batch<T: serde::de::DeserializeOwned>(
        &self,
        root: &alloy_primitives::B256,
        signer: &alloy_primitives::Address,
    ) -> Result<Option<T>> {
        let key = batch_key(root, signer);
        get_json(&self.batches, "batch attestation", &key, || hex(&key))
    }

    /// `signer`'s attestation of message `id`, if stored.
    pub fn attestation<T: serde::de::DeserializeOwned>(
        &self,
        id: &MessageId,
        signer: &alloy_primitives::Address,
    ) -> Result<Option<T>> {
        let key = attestation_key(id, signer);
        get_json(&self.attestations, "attestation", &key, || hex(&key))
    }

    /// Whether `signer`'s attestation of message `id` is stored (a replay check that costs no
    /// signature recovery).
    pub fn has_attestation(
        &self,
        id: &MessageId,
        signer: &alloy_primitives::Address,
    ) -> Result<bool> {
        let key = attestation_key(id, signer);
        Ok(self.attestations.contains_key(key.as_slice())?)
    }

    /// The signers whose attestations of message `id` are stored (keys only, nothing decoded).
    pub fn attestation_signers(&self, id: &MessageId) -> Result<Vec<alloy_primitives::Address>> {
        self.attestations
            .scan_prefix(id.0.as_slice())
            .keys()
            .map(|key| {
                let key = key?;
                key.get(32..52)
                    .map(alloy_primitives::Address::from_slice)
                    .ok_or_else(|| StoreError::Corrupt {
                        what: "attestation",
                        key: hex(&key),
                        reason: "key is not id ‖ signer".into(),
                    })
            })
            .collect()
    }

    /// How many routers' attestations of message `id` are stored (one key per signer).
    pub fn attestation_count(&self, id: &MessageId) -> usize {
        self.attestations.scan_prefix(id.0.as_slice()).count()
    }

    /// Keeps the quorum certificate of message `id` (`certificates_v1`); the first one stays.
    pub fn put_certificate<T: serde::Serialize>(&self, id: &MessageId, qc: &T) -> Result<bool> {
        put_once(
            &self.certificates,
            "certificate",
            id.0.as_slice(),
            || id.to_string(),
            qc,
        )
    }

    /// The quorum certificate of message `id`, if one was formed.
    pub fn certificate<T: serde::de::DeserializeOwned>(&self, id: &MessageId) -> Result<Option<T>> {
        get_json(&self.certificates, "certificate", id.0.as_slice(), || {
            id.to_string()
        })
    }

    /// Overwrites the batch attestation `root ‖ signer` with bytes that do not decode (tests of
    /// what a store failure does).
    #[cfg(test)]
    pub(crate) fn corrupt_batch(
        &self,
        root: &alloy_primitives::B256,
        signer: &alloy_primitives::Address,
    ) -> Result<()> {
        self.batches
            .insert(batch_key(root, signer), &b"not json"[..])?;
        Ok(())
    }

    /// Writes everything to disk (on shutdown, and before reporting a step done).
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

fn attestation_key(id: &MessageId, signer: &alloy_primitives::Address) -> [u8; 52] {
    batch_key(&id.0, signer)
}

/// `root ‖ signer` (also `id ‖ signer` of an attestation).
fn batch_key(root: &alloy_primitives::B256, signer: &alloy_primitives::Address) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..32].copy_from_slice(root.as_slice());
    key[32..].copy_from_slice(signer.as_slice());
    key
}

fn flatten(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

/// Writes `value` as JSON under `key` unless the key is taken; `false` if it was.
fn put_once<T: serde::Serialize>(
    tree: &sled::Tree,
    what: &'static str,
    key: &[u8],
    name: impl FnOnce() -> String,
    value: &T,
) -> Result<bool> {
    let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
        what,
        key: name(),
        reason: e.to_string(),
    })?;
    Ok(tree
        .compare_and_swap(key, None as Option<&[u8]>, Some(bytes))?
        .is_ok())
}

/// The JSON value under `key`, if any.
fn get_json<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    what: &'static str,
    key: &[u8],
    name: impl FnOnce() -> String,
) -> Result<Option<T>> {
    tree.get(key)?
        .map(|v| {
            serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                what,
                key: name(),
                reason: e.to_string(),
            })
        })
        .transpose()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
