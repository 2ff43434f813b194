//! Registry metadata in SQLite: repositories, blob links, manifests (their exact bytes),
//! references, tags and referrers. WAL mode with `synchronous=FULL`: a committed write is
//! durable, readers never block the writer. One writer connection, a few reader connections.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use oci::{Digest, Manifest, Reference, RepoName, Tag};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{StoreError, now_secs};

const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS repos (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
-- A blob present on disk, verified. `touched` is when it was last uploaded, mounted or probed
-- by a pusher: garbage collection spares recently touched blobs.
CREATE TABLE IF NOT EXISTS blobs (
    digest  TEXT PRIMARY KEY,
    size    INTEGER NOT NULL,
    touched INTEGER NOT NULL
) WITHOUT ROWID;
-- Which repositories may serve which blobs.
CREATE TABLE IF NOT EXISTS repo_blobs (
    repo    INTEGER NOT NULL,
    digest  TEXT NOT NULL,
    touched INTEGER NOT NULL,
    PRIMARY KEY (repo, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repo_blobs_by_digest ON repo_blobs(digest);
CREATE TABLE IF NOT EXISTS manifests (
    id            INTEGER PRIMARY KEY,
    repo          INTEGER NOT NULL,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    artifact_type TEXT,
    subject       TEXT,
    annotations   TEXT,
    created       INTEGER NOT NULL,
    content       BLOB NOT NULL,
    UNIQUE (repo, digest)
);
CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests(repo, subject) WHERE subject IS NOT NULL;
-- Blobs and child manifests each manifest refers to.
CREATE TABLE IF NOT EXISTS manifest_refs (
    repo     INTEGER NOT NULL,
    manifest TEXT NOT NULL,
    target   TEXT NOT NULL,
    PRIMARY KEY (repo, manifest, target)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_refs_by_target ON manifest_refs(target, repo);
CREATE TABLE IF NOT EXISTS tags (
    repo    INTEGER NOT NULL,
    name    TEXT NOT NULL,
    digest  TEXT NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (repo, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_digest ON tags(repo, digest);
-- The gate's latest decision on a manifest of a repository that a policy covers. A manifest
-- there without a row is quarantined: nothing admits by default.
CREATE TABLE IF NOT EXISTS admissions (
    repo     INTEGER NOT NULL,
    digest   TEXT NOT NULL,
    admitted INTEGER NOT NULL,
    policies TEXT NOT NULL,
    reasons  TEXT NOT NULL,
    evidence TEXT NOT NULL,
    decided  INTEGER NOT NULL,
    PRIMARY KEY (repo, digest)
) WITHOUT ROWID;
";

const READERS: usize = 4;

pub struct Meta {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// A manifest's identity without its bytes (for HEAD).
#[derive(Debug, Clone)]
pub struct ManifestHead {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// A manifest found by tag or digest, with its bytes when they were asked for.
#[derive(Debug, Clone)]
pub struct FoundManifest {
    pub head: ManifestHead,
    pub content: Option<Vec<u8>>,
}

/// One referrer of a subject, as the referrers API lists it.
#[derive(Debug, Clone)]
pub struct Referrer {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: Option<String>,
}

/// The gate's decision on a manifest, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub admitted: bool,
    /// The digests of the policies it was made under.
    pub policies: Vec<String>,
    /// Why it is not admitted; for an admission, warnings (`warn` mode denials).
    pub reasons: Vec<String>,
    /// The digest of the evidence set it was made on.
    pub evidence: String,
    pub decided: i64,
}

/// Outcome of a manifest push.
#[derive(Debug)]
pub enum PutManifest {
    Stored,
    /// Blobs or manifests the manifest refers to that the repository does not have.
    Missing(Vec<Digest>),
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding a connection leaves SQLite consistent (an open transaction is rolled
    // back when the guard's Transaction drops), so the connection is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    Ok(conn)
}

impl Meta {
    /// Opens (creating and migrating) `data_dir/meta.db`.
    pub fn open(data_dir: &Path) -> Result<Meta, StoreError> {
        let path = data_dir.join("meta.db");
        let writer = open_connection(&path)?;
        let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "cannot enable WAL mode (got {mode})"
            )));
        }
        let version: i64 = writer.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        writer.execute_batch(SCHEMA)?;
        writer.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        let readers = (0..READERS)
            .map(|_| open_connection(&path).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Meta {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = lock(&self.readers[i]);
        Ok(f(&conn)?)
    }

    /// Runs `f` in an immediate (write-locked) transaction and commits if it returns `Ok`.
    /// The lock is SQLite's, so it also serializes against other processes (`vouch gc`).
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn repo_exists(&self, repo: &RepoName) -> Result<bool, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT 1 FROM repos WHERE name = ?1")?
                .exists([repo.as_str()])
        })
    }

    /// Finds a manifest by tag or digest; `with_content` also loads its bytes.
    pub fn manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
        with_content: bool,
    ) -> Result<Option<FoundManifest>, StoreError> {
        let content_col = if with_content { "m.content" } else { "NULL" };
        let (sql, key) = match reference {
            Reference::Tag(t) => (
                format!(
                    "SELECT m.digest, m.media_type, m.size, {content_col} FROM tags t
                     JOIN manifests m ON m.repo = t.repo AND m.digest = t.digest
                     WHERE t.repo = (SELECT id FROM repos WHERE name = ?1) AND t.name = ?2"
                ),
                t.as_str(),
            ),
            Reference::Digest(d) => (
                format!(
                    "SELECT m.digest, m.media_type, m.size, {content_col} FROM manifests m
                     WHERE m.repo = (SELECT id FROM repos WHERE name = ?1) AND m.digest = ?2"
                ),
                d.as_str(),
            ),
        };
        let row = self.read(|c| {
            c.prepare_cached(&sql)?
                .query_row(params![repo.as_str(), key], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                    ))
                })
                .optional()
        })?;
        let Some((digest, media_type, size, content)) = row else {
            return Ok(None);
        };
        let digest = Digest::parse(&digest)
            .map_err(|e| StoreError::Corrupt(format!("manifest digest {digest:?}: {e}")))?;
        Ok(Some(FoundManifest {
            head: ManifestHead {
                digest,
                media_type,
                size: size as u64,
            },
            content,
        }))
    }

    /// The size of a blob if `repo` may serve it.
    pub fn blob_in_repo(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<u64>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT b.size FROM repo_blobs rb JOIN blobs b ON b.digest = rb.digest
                 WHERE rb.repo = (SELECT id FROM repos WHERE name = ?1) AND rb.digest = ?2",
            )?
            .query_row(params![repo.as_str(), digest.as_str()], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
        })
        .map(|o| o.map(|s| s as u64))
    }

    /// Repositories that hold a blob (to mount it without a `from`).
    pub fn repos_with_blob(&self, digest: &Digest) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT r.name FROM repo_blobs rb JOIN repos r ON r.id = rb.repo
                 WHERE rb.digest = ?1 ORDER BY r.name LIMIT 100",
            )?
            .query_map([digest.as_str()], |r| r.get(0))?
            .collect()
        })
    }

    /// Tags after `last` in byte order, at most `limit`; `None` if the repository is unknown.
    pub fn tags(
        &self,
        repo: &RepoName,
        last: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<String>>, StoreError> {
        self.read(|c| {
            let id: Option<i64> = c
                .prepare_cached("SELECT id FROM repos WHERE name = ?1")?
                .query_row([repo.as_str()], |r| r.get(0))
                .optional()?;
            let Some(id) = id else { return Ok(None) };
            let tags = c
                .prepare_cached(
                    "SELECT name FROM tags WHERE repo = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
                )?
                .query_map(params![id, last.unwrap_or(""), limit as i64], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(Some(tags))
        })
    }

    /// Repository names after `last` in byte order that hold any manifest or blob.
    pub fn catalog(&self, last: Option<&str>, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT name FROM repos r WHERE name > ?1
                   AND (EXISTS (SELECT 1 FROM manifests m WHERE m.repo = r.id)
                        OR EXISTS (SELECT 1 FROM repo_blobs b WHERE b.repo = r.id))
                 ORDER BY name LIMIT ?2",
            )?
            .query_map(params![last.unwrap_or(""), limit as i64], |r| r.get(0))?
            .collect()
        })
    }

    pub fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT digest, media_type, size, artifact_type, annotations FROM manifests
                 WHERE repo = (SELECT id FROM repos WHERE name = ?1) AND subject = ?2
                   AND (?3 IS NULL OR artifact_type = ?3)
                 ORDER BY id",
            )?
            .query_map(
                params![repo.as_str(), subject.as_str(), artifact_type],
                |r| {
                    Ok(Referrer {
                        digest: r.get(0)?,
                        media_type: r.get(1)?,
                        size: r.get::<_, i64>(2)? as u64,
                        artifact_type: r.get(3)?,
                        annotations: r.get(4)?,
                    })
                },
            )?
            .collect()
        })
    }

    /// Records a verified blob in `repo`. `install` puts the file in place and runs inside the
    /// write transaction, so garbage collection cannot interleave between the two.
    pub fn commit_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        size: u64,
        install: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            install()?;
            let now = now_secs();
            tx.prepare_cached(
                "INSERT INTO blobs (digest, size, touched) VALUES (?1, ?2, ?3)
                 ON CONFLICT (digest) DO UPDATE SET touched = excluded.touched",
            )?
            .execute(params![digest.as_str(), size as i64, now])?;
            link(tx, repo, digest, now)
        })
    }

    /// Links an existing blob into `repo` (a mount). Returns its size, or `None` if the blob is
    /// not (or no longer) stored, in which case nothing changes.
    pub fn mount_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        exists_on_disk: impl FnOnce() -> bool,
    ) -> Result<Option<u64>, StoreError> {
        self.write(|tx| {
            let size: Option<i64> = tx
                .prepare_cached("SELECT size FROM blobs WHERE digest = ?1")?
                .query_row([digest.as_str()], |r| r.get(0))
                .optional()?;
            let Some(size) = size else { return Ok(None) };
            if !exists_on_disk() {
                return Ok(None);
            }
            let now = now_secs();
            tx.prepare_cached("UPDATE blobs SET touched = ?2 WHERE digest = ?1")?
                .execute(params![digest.as_str(), now])?;
            link(tx, repo, digest, now)?;
            Ok(Some(size as u64))
        })
    }

    /// Marks a blob as recently wanted by a pusher (who found it with HEAD and will reference
    /// it from a manifest soon), unless that was already done within `min_interval_secs`.
    pub fn touch_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        min_interval_secs: i64,
    ) -> Result<(), StoreError> {
        let now = now_secs();
        let stale: bool = self.read(|c| {
            c.prepare_cached(
                "SELECT 1 FROM repo_blobs WHERE repo = (SELECT id FROM repos WHERE name = ?1)
                 AND digest = ?2 AND touched < ?3",
            )?
            .exists(params![
                repo.as_str(),
                digest.as_str(),
                now - min_interval_secs
            ])
        })?;
        if !stale {
            return Ok(());
        }
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE repo_blobs SET touched = ?3 WHERE repo = (SELECT id FROM repos WHERE name = ?1) AND digest = ?2",
            )?
            .execute(params![repo.as_str(), digest.as_str(), now])?;
            tx.prepare_cached("UPDATE blobs SET touched = ?2 WHERE digest = ?1")?
                .execute(params![digest.as_str(), now])?;
            Ok(())
        })
    }

    /// Stores a parsed manifest and points `tags` at it, if every blob and child manifest it
    /// needs is in the repository. All or nothing.
    pub fn put_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        manifest: &Manifest,
        content: &[u8],
        tags: &[Tag],
    ) -> Result<PutManifest, StoreError> {
        self.write(|tx| {
            let existed = repo_id(tx, repo)?.is_some();
            let repo_id = ensure_repo(tx, repo)?;
            let mut missing = Vec::new();
            {
                let mut has_blob = tx.prepare_cached("SELECT 1 FROM repo_blobs WHERE repo = ?1 AND digest = ?2")?;
                let mut has_manifest = tx.prepare_cached("SELECT 1 FROM manifests WHERE repo = ?1 AND digest = ?2")?;
                for d in manifest.required_blobs() {
                    if !has_blob.exists(params![repo_id, d.as_str()])? {
                        missing.push(d.clone());
                    }
                }
                for d in manifest.required_manifests() {
                    if !has_manifest.exists(params![repo_id, d.as_str()])?
                        && !has_blob.exists(params![repo_id, d.as_str()])?
                    {
                        missing.push(d.clone());
                    }
                }
            }
            if !missing.is_empty() {
                missing.dedup();
                // A refused push stores nothing, not even its repository's name.
                if !existed {
                    tx.execute("DELETE FROM repos WHERE id = ?1", [repo_id])?;
                }
                return Ok(PutManifest::Missing(missing));
            }
            let annotations = manifest
                .annotations
                .as_ref()
                .filter(|a| !a.is_empty())
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let now = now_secs();
            tx.prepare_cached(
                "INSERT INTO manifests (repo, digest, media_type, size, artifact_type, subject, annotations, created, content)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (repo, digest) DO NOTHING",
            )?
            .execute(params![
                repo_id,
                digest.as_str(),
                manifest.media_type,
                content.len() as i64,
                manifest.referrer_artifact_type(),
                manifest.subject.as_ref().map(|s| s.digest.as_str()),
                annotations,
                now,
                content,
            ])?;
            let mut add_ref = tx.prepare_cached("INSERT OR IGNORE INTO manifest_refs (repo, manifest, target) VALUES (?1, ?2, ?3)")?;
            for target in manifest.required_blobs().chain(manifest.required_manifests()) {
                add_ref.execute(params![repo_id, digest.as_str(), target.as_str()])?;
            }
            let mut set_tag = tx.prepare_cached(
                "INSERT INTO tags (repo, name, digest, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (repo, name) DO UPDATE SET digest = excluded.digest, updated = excluded.updated",
            )?;
            for tag in tags {
                set_tag.execute(params![repo_id, tag.as_str(), digest.as_str(), now])?;
            }
            Ok(PutManifest::Stored)
        })
    }

    /// Deletes a manifest and every tag pointing at it. False if it was not there.
    pub fn delete_manifest(&self, repo: &RepoName, digest: &Digest) -> Result<bool, StoreError> {
        self.write(|tx| {
            let Some(id) = repo_id(tx, repo)? else {
                return Ok(false);
            };
            let n = tx.execute(
                "DELETE FROM manifests WHERE repo = ?1 AND digest = ?2",
                params![id, digest.as_str()],
            )?;
            if n == 0 {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM manifest_refs WHERE repo = ?1 AND manifest = ?2",
                params![id, digest.as_str()],
            )?;
            tx.execute(
                "DELETE FROM tags WHERE repo = ?1 AND digest = ?2",
                params![id, digest.as_str()],
            )?;
            tx.execute(
                "DELETE FROM admissions WHERE repo = ?1 AND digest = ?2",
                params![id, digest.as_str()],
            )?;
            Ok(true)
        })
    }

    pub fn delete_tag(&self, repo: &RepoName, tag: &Tag) -> Result<bool, StoreError> {
        self.write(|tx| {
            let Some(id) = repo_id(tx, repo)? else {
                return Ok(false);
            };
            Ok(tx.execute(
                "DELETE FROM tags WHERE repo = ?1 AND name = ?2",
                params![id, tag.as_str()],
            )? > 0)
        })
    }

    /// Unlinks a blob from a repository; the bytes stay until garbage collection.
    pub fn delete_blob_link(&self, repo: &RepoName, digest: &Digest) -> Result<bool, StoreError> {
        self.write(|tx| {
            let Some(id) = repo_id(tx, repo)? else {
                return Ok(false);
            };
            Ok(tx.execute(
                "DELETE FROM repo_blobs WHERE repo = ?1 AND digest = ?2",
                params![id, digest.as_str()],
            )? > 0)
        })
    }

    /// The gate's latest decision on a manifest, if it made one.
    pub fn admission(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<Admission>, StoreError> {
        let row = self.read(|c| {
            c.prepare_cached(
                "SELECT admitted, policies, reasons, evidence, decided FROM admissions
                 WHERE repo = (SELECT id FROM repos WHERE name = ?1) AND digest = ?2",
            )?
            .query_row(params![repo.as_str(), digest.as_str()], |r| {
                Ok((
                    r.get::<_, bool>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .optional()
        })?;
        let Some((admitted, policies, reasons, evidence, decided)) = row else {
            return Ok(None);
        };
        let reasons: Vec<String> = serde_json::from_str(&reasons)
            .map_err(|e| StoreError::Corrupt(format!("admission reasons: {e}")))?;
        Ok(Some(Admission {
            admitted,
            policies: policies
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            reasons,
            evidence,
            decided,
        }))
    }

    /// Stores the gate's decision on a manifest still in the repository; false (and nothing
    /// stored) if it is gone.
    pub fn set_admission(
        &self,
        repo: &RepoName,
        digest: &Digest,
        admission: &Admission,
    ) -> Result<bool, StoreError> {
        let reasons = serde_json::to_string(&admission.reasons)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.write(|tx| {
            let Some(id) = repo_id(tx, repo)? else {
                return Ok(false);
            };
            let present = tx
                .prepare_cached("SELECT 1 FROM manifests WHERE repo = ?1 AND digest = ?2")?
                .exists(params![id, digest.as_str()])?;
            if !present {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO admissions (repo, digest, admitted, policies, reasons, evidence, decided)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (repo, digest) DO UPDATE SET admitted = excluded.admitted,
                   policies = excluded.policies, reasons = excluded.reasons,
                   evidence = excluded.evidence, decided = excluded.decided",
            )?
            .execute(params![
                id,
                digest.as_str(),
                admission.admitted,
                admission.policies.join(","),
                reasons,
                admission.evidence,
                admission.decided,
            ])?;
            Ok(true)
        })
    }

    /// Whether a manifest of `repo` admitted without reservation (not in warn mode) under
    /// `policies` (the digests of those in force) refers to `target` (a blob or a child
    /// manifest).
    pub fn admitted_referrer_of(
        &self,
        repo: &RepoName,
        target: &Digest,
        policies: &[String],
    ) -> Result<bool, StoreError> {
        let policies = policies.join(",");
        self.read(|c| {
            c.prepare_cached(
                "SELECT 1 FROM manifest_refs r
                 JOIN admissions a ON a.repo = r.repo AND a.digest = r.manifest AND a.admitted = 1
                   AND a.policies = ?3 AND a.reasons = '[]'
                 WHERE r.repo = (SELECT id FROM repos WHERE name = ?1) AND r.target = ?2",
            )?
            .exists(params![repo.as_str(), target.as_str(), policies])
        })
    }

    /// The manifests of `repo` that refer to `target`, with their bytes (at most `limit`).
    pub fn manifests_referring_to(
        &self,
        repo: &RepoName,
        target: &Digest,
        limit: usize,
    ) -> Result<Vec<(String, String, Vec<u8>)>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT m.digest, m.media_type, m.content FROM manifest_refs r
                 JOIN manifests m ON m.repo = r.repo AND m.digest = r.manifest
                 WHERE r.repo = (SELECT id FROM repos WHERE name = ?1) AND r.target = ?2
                 LIMIT ?3",
            )?
            .query_map(params![repo.as_str(), target.as_str(), limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
    }

    /// The repositories holding the manifest `digest`.
    pub fn repos_with_manifest(&self, digest: &Digest) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT r.name FROM manifests m JOIN repos r ON r.id = m.repo
                 WHERE m.digest = ?1 ORDER BY r.name LIMIT 100",
            )?
            .query_map([digest.as_str()], |r| r.get(0))?
            .collect()
        })
    }

    /// Every manifest of every repository: (repository, digest), for re-evaluation.
    pub fn all_manifests(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT r.name, m.digest FROM manifests m JOIN repos r ON r.id = m.repo
                 ORDER BY m.id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
        })
    }

    /// Whether any row still refers to a blob (for restoring trash after a crash).
    pub fn blob_row_exists(&self, digest: &Digest) -> Result<bool, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT 1 FROM blobs WHERE digest = ?1")?
                .exists([digest.as_str()])
        })
    }
}

fn repo_id(tx: &Connection, repo: &RepoName) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT id FROM repos WHERE name = ?1")?
        .query_row([repo.as_str()], |r| r.get(0))
        .optional()
}

fn ensure_repo(tx: &Connection, repo: &RepoName) -> Result<i64, StoreError> {
    if let Some(id) = repo_id(tx, repo)? {
        return Ok(id);
    }
    tx.prepare_cached("INSERT INTO repos (name) VALUES (?1)")?
        .execute([repo.as_str()])?;
    Ok(tx.last_insert_rowid())
}

fn link(tx: &Connection, repo: &RepoName, digest: &Digest, now: i64) -> Result<(), StoreError> {
    let id = ensure_repo(tx, repo)?;
    tx.prepare_cached(
        "INSERT INTO repo_blobs (repo, digest, touched) VALUES (?1, ?2, ?3)
         ON CONFLICT (repo, digest) DO UPDATE SET touched = excluded.touched",
    )?
    .execute(params![id, digest.as_str(), now])?;
    Ok(())
}
