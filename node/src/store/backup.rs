//! Copying a store while it works (`xroute store backup`, `POST /store/backup`) and what a copy
//! holds.

use std::path::Path;

use xroute_proofs::envelope::MessageId;

use super::{Result, Store, StoreError};

/// What [`Store::backup_to`] copied.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct BackupReport {
    /// Message records.
    pub messages: u64,
    /// Chain cursors.
    pub cursors: u64,
    /// Attestations, batches (attested and relayed) and certificates.
    pub other: u64,
}

impl Store {
    /// Copies the whole store into a new store at `to` (a folder that must not exist, or be
    /// empty), while this one may keep working: cursors first, then every message (the status
    /// index is rebuilt from each record's stage), attestations, batches, relay batches, certificates. A store
    /// restored from it resumes without losing a message: a cursor copied before a message it
    /// covers only makes the restored router re-read (and skip) blocks, and a hop made after the
    /// copy is found made on chain before anything is sent again. The backup is itself a store
    /// (`node.store` may point at it).
    pub fn backup_to(&self, to: &Path) -> Result<BackupReport> {
        let target_err = |reason: String| StoreError::BackupTarget {
            path: to.into(),
            reason,
        };
        if to.exists() {
            let mut entries =
                std::fs::read_dir(to).map_err(|e| target_err(format!("cannot read it: {e}")))?;
            if entries.next().is_some() {
                return Err(target_err(
                    "it exists and is not empty (a backup never overwrites)".into(),
                ));
            }
        }
        let out = Store::open(to)?;
        let mut report = BackupReport::default();
        for entry in self.cursors.iter() {
            let (k, v) = entry?;
            out.cursors.insert(k, v)?;
            report.cursors += 1;
        }
        for entry in self.states.iter() {
            let (k, _) = entry?;
            let id = MessageId(alloy_primitives::B256::from_slice(&k));
            // Whole, as one read sees it (state first), so a message moving meanwhile is copied
            // at one of its committed versions.
            if let Some(record) = self.get(&id)? {
                out.insert_new(&record)?;
                report.messages += 1;
            } else if self.copy_pruned(&id, &out)? {
                report.messages += 1;
            }
        }
        out.recount()?;
        out.save_counts()?;
        for (from, into) in [
            (&self.attestations, &out.attestations),
            (&self.batches, &out.batches),
            (&self.relay_batches, &out.relay_batches),
            (&self.certificates, &out.certificates),
            (&self.checkpoint_live, &out.checkpoint_live),
            (&self.checkpoint_ids, &out.checkpoint_ids),
            (&self.checkpoints, &out.checkpoints),
            (&self.checkpoint_sigs, &out.checkpoint_sigs),
            (&self.checkpoint_certs, &out.checkpoint_certs),
        ] {
            for entry in from.iter() {
                let (k, v) = entry?;
                into.insert(k, v)?;
                report.other += 1;
            }
        }
        out.flush()?;
        Ok(report)
    }
}
