//! Storage: blobs on the filesystem ([`blobs`]), metadata in SQLite ([`meta`]), upload sessions
//! ([`uploads`]). Everything here is blocking and is called from `spawn_blocking` or a
//! dedicated thread, never directly on the async runtime.
//!
//! Crash-safety rests on one ordering: a blob's bytes are fsynced and renamed into place
//! before the database row that makes them visible is committed, and garbage collection moves a
//! blob out (to `trash/`) inside the transaction that deletes its row.

pub mod blobs;
pub mod meta;
pub mod uploads;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("metadata database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("metadata database schema version {found} is newer than this vouch ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { op, path, source }
    }
}

/// Seconds since the Unix epoch, the time unit of every stored timestamp.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
