//! Online garbage collection of unreferenced blobs. Safe while the server runs and pushes are
//! in flight:
//! - a blob younger than the grace period (uploaded, mounted or probed by a pusher recently) is
//!   kept, so the blobs of a push whose manifest has not arrived yet stay;
//! - deletion happens inside SQLite's write lock, which blob commits and manifest pushes also
//!   take, so a manifest is either stored with its blobs present or refused;
//! - files leave through `trash/` inside the transaction that deletes their rows, so a crash at
//!   any point leaves either the row and the file, or neither.

use std::time::{Duration, SystemTime};

use oci::Digest;
use rusqlite::params;

use crate::store::blobs::BlobStore;
use crate::store::meta::Meta;
use crate::store::uploads::Uploads;
use crate::store::{StoreError, now_secs};

#[derive(Debug, Clone)]
pub struct GcOptions {
    pub grace: Duration,
    pub upload_expiry: Duration,
    pub dry_run: bool,
}

/// What a collection removed (or, in a dry run, would remove).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Repository links to blobs no manifest in that repository uses.
    pub links: usize,
    /// Blob files no repository links and no manifest references.
    pub blobs: usize,
    pub bytes: u64,
    /// Blob files on disk without a database row (left by a crash mid-commit).
    pub orphans: usize,
    pub uploads: usize,
    /// Trashed blobs put back because their deletion never committed.
    pub restored: usize,
}

/// Rows removed per transaction, so that pushes never wait long on the write lock.
const BATCH: usize = 256;

pub fn collect(
    meta: &Meta,
    blobs: &BlobStore,
    uploads: &Uploads,
    opts: &GcOptions,
) -> Result<GcReport, StoreError> {
    let mut report = GcReport::default();
    if !opts.dry_run {
        report.restored = recover_trash(meta, blobs)?;
    }
    let cutoff = now_secs() - opts.grace.as_secs() as i64;

    // 1. Links no manifest in their repository uses.
    // `AS` is required: SQLite's DELETE takes an alias only in that form.
    const STALE_LINKS: &str = "FROM repo_blobs AS rb WHERE rb.touched < ?1
        AND NOT EXISTS (SELECT 1 FROM manifest_refs mr WHERE mr.repo = rb.repo AND mr.target = rb.digest)";
    report.links = if opts.dry_run {
        meta.write(|tx| {
            Ok(
                tx.query_row(&format!("SELECT count(*) {STALE_LINKS}"), [cutoff], |r| {
                    r.get::<_, i64>(0)
                })? as usize,
            )
        })?
    } else {
        meta.write(|tx| Ok(tx.execute(&format!("DELETE {STALE_LINKS}"), [cutoff])?))?
    };

    // 2. Blobs nothing links or references. In a dry run, links from step 1 still exist, so
    //    count what step 2 would find once they are gone.
    let orphaned_blobs = format!(
        "SELECT b.digest, b.size FROM blobs b WHERE b.touched < ?1
           AND NOT EXISTS (SELECT 1 FROM manifest_refs mr WHERE mr.target = b.digest)
           AND NOT EXISTS (SELECT 1 FROM repo_blobs rb WHERE rb.digest = b.digest {})
         LIMIT {BATCH}",
        if opts.dry_run {
            "AND (rb.touched >= ?1 OR EXISTS (SELECT 1 FROM manifest_refs mr2 WHERE mr2.repo = rb.repo AND mr2.target = rb.digest))"
        } else {
            ""
        }
    );
    if opts.dry_run {
        let sql = orphaned_blobs.replace(&format!("LIMIT {BATCH}"), "");
        let rows: Vec<(String, i64)> = meta.write(|tx| {
            let mut st = tx.prepare(&sql)?;
            let rows = st
                .query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })?;
        report.blobs = rows.len();
        report.bytes = rows.iter().map(|(_, s)| *s as u64).sum();
    } else {
        loop {
            let (batch, trashed) = meta.write(|tx| {
                let rows: Vec<(String, i64)> = {
                    let mut st = tx.prepare(&orphaned_blobs)?;
                    st.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()?
                };
                let batch = rows.len();
                let mut trashed = Vec::with_capacity(batch);
                for (digest, size) in rows {
                    tx.execute("DELETE FROM blobs WHERE digest = ?1", params![digest])?;
                    if let Ok(d) = Digest::parse(&digest)
                        && let Some(path) = blobs.move_to_trash(&d)?
                    {
                        trashed.push((path, size as u64));
                    }
                }
                Ok((batch, trashed))
            })?;
            for (path, size) in &trashed {
                BlobStore::remove_file(path)?;
                report.blobs += 1;
                report.bytes += size;
            }
            if batch < BATCH {
                break;
            }
        }
    }

    // 3. Files on disk without a row, older than the grace period.
    let grace_start = SystemTime::now() - opts.grace;
    for (digest, size, modified) in blobs.list()? {
        if modified > grace_start || meta.blob_row_exists(&digest)? {
            continue;
        }
        if opts.dry_run {
            report.orphans += 1;
            report.bytes += size;
            continue;
        }
        // Re-check under the write lock: a commit installs its file inside that lock.
        let removed = meta.write(|tx| {
            let has_row = tx
                .prepare_cached("SELECT 1 FROM blobs WHERE digest = ?1")?
                .exists([digest.as_str()])?;
            if has_row {
                return Ok(false);
            }
            BlobStore::remove_file(&blobs.path(&digest))?;
            Ok(true)
        })?;
        if removed {
            report.orphans += 1;
            report.bytes += size;
        }
    }

    // 4. Abandoned upload sessions.
    if !opts.dry_run {
        report.uploads = uploads.expire(opts.upload_expiry)?;
    }
    Ok(report)
}

/// Puts back trashed blobs whose rows survived (their deletion never committed) and removes the
/// rest. Run before collecting and when the server starts.
pub fn recover_trash(meta: &Meta, blobs: &BlobStore) -> Result<usize, StoreError> {
    let mut restored = 0;
    for (path, digest) in blobs.trash_entries()? {
        match digest {
            Some(d) if meta.blob_row_exists(&d)? && !blobs.exists(&d) => {
                blobs.restore(&path, &d)?;
                restored += 1;
            }
            _ => BlobStore::remove_file(&path)?,
        }
    }
    Ok(restored)
}
