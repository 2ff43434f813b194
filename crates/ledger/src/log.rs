//! The ledger: opens (or creates) the log's directory, orders submissions through the rules,
//! appends them durably in batches (group commit), signs a checkpoint per batch, and answers
//! reads (checkpoint, tiles, entries, proofs) from memory and the log file.
//!
//! Submissions pass the stateless gate ([`Authorities::check`]: parse, allow-list, signature)
//! on the caller's thread, in parallel; then one sequencer thread takes whatever has queued,
//! runs [`State::apply`] on each in order, writes the batch and its checkpoint in one write,
//! `fdatasync`s, rewrites the `checkpoint` file, and only then acknowledges. A batch forms
//! while the previous one is being made durable, so no timer delays an entry: under load the
//! batches grow, idle each entry commits alone. Readers never see past the last durable
//! checkpoint. Any write error stops the ledger (every later submission fails) rather than
//! acknowledging what may not be on disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};

use verify::checkpoint::{Checkpoint, SignedCheckpoint, TlogProof};
use verify::keys::{KeyKind, PrivateKey, PublicKey};
use verify::merkle::{self, Hash};
use verify::note;

use crate::event::{Entry, Event, EventType};
use crate::state::{Applied, Authorities, Rejection, State, Submitter};
use crate::store::{self, EntryLocation};
use crate::tiles::{self, TileKind, TilePath};
use crate::tree::{ProofRequestError, Tree};

/// The most entries one batch takes.
const MAX_BATCH: usize = 8192;

/// How a ledger is opened.
#[derive(Clone)]
pub struct Config {
    /// The log's origin line (C2SP tlog-checkpoint), e.g. `registry.example/vouch-ledger`.
    pub origin: String,
    /// Keys allowed to submit, besides the node's own key (which may submit every type).
    pub submitters: Vec<Submitter>,
}

/// Why the ledger cannot be opened or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {problem}")]
    Key { path: PathBuf, problem: String },
    #[error("the ledger in {dir} has origin {found:?}, the configuration says {configured:?}")]
    Origin {
        dir: PathBuf,
        found: String,
        configured: String,
    },
    #[error("the ledger in {dir} is damaged: {}", .damage.join("; "))]
    Damaged { dir: PathBuf, damage: Vec<String> },
    #[error("the ledger stopped after a write error and accepts nothing until restarted")]
    Stopped,
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Why a submission was not appended.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// An acknowledged entry: durable, and in `checkpoint`.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub index: u64,
    /// Whether the same bytes were already in the log (nothing was appended).
    pub duplicate: bool,
    /// The signed checkpoint that includes the entry.
    pub checkpoint: Arc<SignedCheckpoint>,
}

struct Submission {
    entry: Entry,
    leaf: Hash,
    reply: tokio::sync::oneshot::Sender<Result<Receipt, SubmitError>>,
}

/// What readers see: everything up to the last durable checkpoint.
struct Shared {
    tree: Tree,
    entries: Vec<EntryLocation>,
    state: State,
    /// The size of the last durable checkpoint; the tree and state may run ahead during a
    /// batch.
    published: u64,
    checkpoint: Arc<SignedCheckpoint>,
}

struct Inner {
    dir: PathBuf,
    origin: String,
    shared: RwLock<Shared>,
    log_file: File,
    authorities: Authorities,
    node_key: PrivateKey,
    log_verifier: note::Verifier,
    sender: Mutex<Option<mpsc::Sender<Submission>>>,
    stopped: AtomicBool,
    sequencer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The ledger. Cheap to clone; the sequencer stops when [`Ledger::close`] is called.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

/// What opening found and did.
#[derive(Debug, Default, Clone)]
pub struct OpenReport {
    pub created: bool,
    pub entries: u64,
    /// Bytes of an unfinished batch cut from the log's end (never acknowledged).
    pub truncated: u64,
}

pub const LOG: &str = "log";
pub const CHECKPOINT: &str = "checkpoint";
pub const LOG_KEY: &str = "log.key";
pub const NODE_KEY: &str = "node.key";
pub const VKEY: &str = "vkey";

impl Ledger {
    /// Opens the ledger in `dir`, creating it (and its keys) if it does not exist. Refuses a
    /// damaged log; cuts off an unfinished batch left by a crash.
    pub fn open(dir: &Path, config: Config) -> Result<(Ledger, OpenReport), LedgerError> {
        let mut report = OpenReport::default();
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        let log_path = dir.join(LOG);
        if !log_path.exists() {
            create(dir, &config.origin)?;
            report.created = true;
        }
        let keys = Keys::load(dir)?;
        if keys.origin != config.origin {
            return Err(LedgerError::Origin {
                dir: dir.to_owned(),
                found: keys.origin,
                configured: config.origin,
            });
        }
        let mut state = State::new();
        let mut replay = |batch: &[(u64, Vec<u8>)]| -> Vec<(u64, String)> {
            let mut damage = Vec::new();
            for (index, bytes) in batch {
                let result = Entry::parse(bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|e| {
                        state
                            .apply(&e, merkle::leaf_hash(bytes))
                            .map_err(|r| r.to_string())
                    });
                match result {
                    Ok(Applied::Appended(i)) if i == *index => {}
                    Ok(other) => damage.push((*index, format!("replays as {other:?}"))),
                    Err(e) => damage.push((*index, e)),
                }
            }
            damage
        };
        let scan = store::scan(&log_path, &config.origin, &keys.verifier, &mut replay)
            .map_err(io_at(&log_path))?;
        let damaged = |damage: Vec<String>| LedgerError::Damaged {
            dir: dir.to_owned(),
            damage,
        };
        if !scan.damage.is_empty() {
            return Err(damaged(scan.damage.iter().map(|d| d.to_string()).collect()));
        }
        let Some(last) = scan.checkpoints.last() else {
            return Err(damaged(vec!["the log holds no checkpoint".into()]));
        };
        let checkpoint =
            Arc::new(SignedCheckpoint::parse(&last.note).expect("scan checked every checkpoint"));
        // The `checkpoint` file states the size last acknowledged.
        let cp_path = dir.join(CHECKPOINT);
        match std::fs::read(&cp_path) {
            Ok(bytes) => {
                if let Ok(note) = store::decode_checkpoint_file(&bytes)
                    && let Ok(acked) = SignedCheckpoint::parse(&note)
                    && (acked.checkpoint().size() > scan.tree.size()
                        || scan.tree.root(acked.checkpoint().size()).ok().as_ref()
                            != Some(acked.checkpoint().root()))
                {
                    let mut what = vec![format!(
                        "the log ends at {} entries, but {} were acknowledged (the checkpoint file)",
                        scan.tree.size(),
                        acked.checkpoint().size()
                    )];
                    what.extend(scan.tail.iter().map(|d| d.to_string()));
                    return Err(damaged(what));
                }
                // A torn `checkpoint` file means its last rewrite was cut short: the log,
                // made durable before it, is ahead of it.
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&cp_path)(e)),
        }
        let log_file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&log_path)
            .map_err(io_at(&log_path))?;
        if scan.tail.is_some() {
            report.truncated = scan.file_len - scan.committed_end;
            log_file
                .set_len(scan.committed_end)
                .and_then(|()| log_file.sync_all())
                .map_err(io_at(&log_path))?;
        }
        write_checkpoint_file(dir, &last.note)?;
        report.entries = scan.tree.size();

        let mut authorities = Authorities::new();
        authorities.allow(Submitter {
            name: "node".into(),
            key: keys.node.public_key().map_err(|e| LedgerError::Key {
                path: dir.join(NODE_KEY),
                problem: e.to_string(),
            })?,
            events: EventType::ALL.into_iter().collect(),
        });
        for s in config.submitters {
            authorities.allow(s);
        }
        let published = scan.tree.size();
        let (sender, receiver) = mpsc::channel();
        let inner = Arc::new(Inner {
            dir: dir.to_owned(),
            origin: config.origin,
            shared: RwLock::new(Shared {
                tree: scan.tree,
                entries: scan.entries,
                state,
                published,
                checkpoint,
            }),
            log_file,
            authorities,
            node_key: keys.node,
            log_verifier: keys.verifier,
            sender: Mutex::new(Some(sender)),
            stopped: AtomicBool::new(false),
            sequencer: Mutex::new(None),
        });
        let end = scan.committed_end;
        let signer = keys.signer;
        let seq_inner = Arc::clone(&inner);
        let handle = std::thread::Builder::new()
            .name("ledger-sequencer".into())
            .spawn(move || sequence(&seq_inner, &signer, receiver, end))
            .map_err(io_at(dir))?;
        *inner.sequencer.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok((Ledger { inner }, report))
    }

    /// Stops the sequencer after the batches already queued; later submissions fail.
    pub fn close(&self) {
        self.inner
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let handle = self
            .inner
            .sequencer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The verifier of the log's checkpoints.
    pub fn verifier(&self) -> &note::Verifier {
        &self.inner.log_verifier
    }

    /// The C2SP vkey of the log's checkpoint key.
    pub fn vkey(&self) -> String {
        self.inner
            .log_verifier
            .vkey()
            .expect("the log key is Ed25519")
    }

    /// The public key the registry signs its own events with.
    pub fn node_public_key(&self) -> PublicKey {
        self.inner
            .node_key
            .public_key()
            .expect("checked when the ledger opened")
    }

    /// Checks and submits an entry's bytes; returns once it is durable and checkpointed.
    pub async fn submit(&self, bytes: &[u8]) -> Result<Receipt, SubmitError> {
        let entry = self.inner.authorities.check(bytes)?;
        self.enqueue(entry).await
    }

    /// Signs `event` with the node's key and submits it.
    pub async fn record(&self, event: Event) -> Result<Receipt, SubmitError> {
        let entry = Entry::sign(event, &self.inner.node_key).map_err(|e| {
            SubmitError::Rejected(Rejection::Malformed(crate::event::EntryError::Field {
                field: "event",
                problem: e.to_string(),
            }))
        })?;
        self.enqueue(entry).await
    }

    async fn enqueue(&self, entry: Entry) -> Result<Receipt, SubmitError> {
        let leaf = merkle::leaf_hash(entry.bytes());
        let (reply, answer) = tokio::sync::oneshot::channel();
        {
            let sender = self.inner.sender.lock().unwrap_or_else(|e| e.into_inner());
            let sender = sender.as_ref().ok_or(LedgerError::Stopped)?;
            sender
                .send(Submission { entry, leaf, reply })
                .map_err(|_| LedgerError::Stopped)?;
        }
        answer.await.map_err(|_| LedgerError::Stopped)?
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.inner.shared.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest durable checkpoint.
    pub fn checkpoint(&self) -> Arc<SignedCheckpoint> {
        Arc::clone(&self.read().checkpoint)
    }

    /// The number of entries in the latest checkpoint.
    pub fn size(&self) -> u64 {
        self.read().published
    }

    /// The bytes of entry `index`.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, ReadError> {
        let (location, leaf) = {
            let shared = self.read();
            if index >= shared.published {
                return Err(ReadError::NotFound);
            }
            (shared.entries[index as usize], shared.tree.leaf(index))
        };
        let mut buf = vec![0u8; location.len as usize];
        self.inner
            .log_file
            .read_exact_at(&mut buf, location.offset)
            .map_err(|e| ReadError::Io(e.to_string()))?;
        // What is served is what the tree commits to: a disk that changed it is caught here.
        if leaf != Some(merkle::leaf_hash(&buf)) {
            return Err(ReadError::Io(format!(
                "entry {index} on disk no longer matches its leaf hash"
            )));
        }
        Ok(buf)
    }

    /// The leaf hash of entry `index`.
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        let shared = self.read();
        (index < shared.published)
            .then(|| shared.tree.leaf(index))
            .flatten()
    }

    /// A tile of the C2SP tlog-tiles read API (hashes or entry bundle); immutable for its path.
    pub fn tile(&self, path: &TilePath) -> Result<Vec<u8>, ReadError> {
        let published = self.size();
        let width = u64::from(path.width());
        let first = path
            .index()
            .checked_mul(tiles::TILE_WIDTH)
            .ok_or(ReadError::NotFound)?;
        match path.kind() {
            TileKind::Entries => {
                let end = first.checked_add(width).ok_or(ReadError::NotFound)?;
                if end > published {
                    return Err(ReadError::NotFound);
                }
                let entries = (first..end)
                    .map(|i| self.entry(i))
                    .collect::<Result<Vec<_>, _>>()?;
                tiles::encode_bundle(entries.iter().map(Vec::as_slice))
                    .map_err(|e| ReadError::Io(e.to_string()))
            }
            TileKind::Hashes { level } => {
                let shared = self.read();
                // The tile's last hash covers leaves up to this bound at its tree level.
                let tree_level = u32::from(level) * u32::from(tiles::TILE_HEIGHT);
                let needed = first
                    .checked_add(width)
                    .and_then(|n| n.checked_mul(1u64.checked_shl(tree_level)?))
                    .ok_or(ReadError::NotFound)?;
                if needed > shared.published {
                    return Err(ReadError::NotFound);
                }
                tiles::hash_tile(level, path.index(), path.width(), &mut shared.tree.source())
                    .map_err(|_| ReadError::NotFound)
            }
        }
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries (at most the
    /// latest checkpoint's).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofRequestError> {
        let shared = self.read();
        if size > shared.published {
            return Err(crate::tree::NotInTree {
                level: 0,
                index: size - 1,
                size: shared.published,
            }
            .into());
        }
        shared.tree.inclusion_proof(index, size)
    }

    /// The consistency proof between two tree sizes (at most the latest checkpoint's).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofRequestError> {
        let shared = self.read();
        if new > shared.published {
            return Err(crate::tree::NotInTree {
                level: 0,
                index: new - 1,
                size: shared.published,
            }
            .into());
        }
        shared.tree.consistency_proof(old, new)
    }

    /// A C2SP tlog-proof of entry `index` against the latest checkpoint.
    pub fn tlog_proof(&self, index: u64) -> Result<TlogProof, ProofRequestError> {
        let shared = self.read();
        let size = shared.published;
        let proof = shared.tree.inclusion_proof(index, size)?;
        Ok(TlogProof::new(
            None,
            index,
            proof,
            (*shared.checkpoint).clone(),
        ))
    }

    /// The entries whose events name `digest` (subject, config, evidence, policy or key).
    pub fn entries_about(&self, digest: &str) -> Vec<u64> {
        let shared = self.read();
        shared
            .state
            .entries_about(digest)
            .iter()
            .copied()
            .filter(|i| *i < shared.published)
            .collect()
    }

    /// The index of the entry that revoked `key`, if it is revoked.
    pub fn revoked_at(&self, key: &[u8; 32]) -> Option<u64> {
        let shared = self.read();
        shared
            .state
            .revoked_at(key)
            .filter(|i| *i < shared.published)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }
}

/// A read that cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("not in the log (yet)")]
    NotFound,
    #[error("cannot read the log: {0}")]
    Io(String),
}

/// The sequencer: orders, applies, writes, syncs, acknowledges.
fn sequence(
    inner: &Inner,
    signer: &note::Signer,
    receiver: mpsc::Receiver<Submission>,
    mut end: u64,
) {
    let cp_path = inner.dir.join(CHECKPOINT);
    let mut buf = Vec::with_capacity(1 << 20);
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(s) => batch.push(s),
                Err(_) => break,
            }
        }
        if inner.stopped.load(Ordering::SeqCst) {
            for s in batch {
                let _ = s.reply.send(Err(LedgerError::Stopped.into()));
            }
            continue;
        }
        // Apply in order; duplicates of entries not yet durable wait for the commit too.
        buf.clear();
        let mut waiting = Vec::with_capacity(batch.len());
        let (size, published_before) = {
            let mut shared = inner.shared.write().unwrap_or_else(|e| e.into_inner());
            let shared = &mut *shared;
            let published_before = shared.published;
            for s in batch {
                match shared.state.apply(&s.entry, s.leaf) {
                    Ok(Applied::Appended(index)) => {
                        let at = store::encode_entry(&mut buf, s.entry.bytes(), &s.leaf);
                        shared.tree.push(s.leaf);
                        shared.entries.push(EntryLocation {
                            offset: end + at as u64,
                            len: s.entry.bytes().len() as u32,
                        });
                        waiting.push((s.reply, index, false));
                    }
                    Ok(Applied::Duplicate(index)) => waiting.push((s.reply, index, true)),
                    Err(rejection) => {
                        let _ = s.reply.send(Err(rejection.into()));
                    }
                }
            }
            (shared.tree.size(), published_before)
        };
        if size == published_before {
            // Nothing appended: duplicates of durable entries only.
            let checkpoint = Arc::clone(
                &inner
                    .shared
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .checkpoint,
            );
            for (reply, index, duplicate) in waiting {
                let _ = reply.send(Ok(Receipt {
                    index,
                    duplicate,
                    checkpoint: Arc::clone(&checkpoint),
                }));
            }
            continue;
        }
        let result = commit(inner, signer, &mut buf, &mut end, size, &cp_path);
        match result {
            Ok(checkpoint) => {
                let checkpoint = Arc::new(checkpoint);
                {
                    let mut shared = inner.shared.write().unwrap_or_else(|e| e.into_inner());
                    shared.published = size;
                    shared.checkpoint = Arc::clone(&checkpoint);
                }
                for (reply, index, duplicate) in waiting {
                    let _ = reply.send(Ok(Receipt {
                        index,
                        duplicate,
                        checkpoint: Arc::clone(&checkpoint),
                    }));
                }
            }
            Err(e) => {
                // The tree and state are ahead of the disk now: stop, acknowledge nothing.
                tracing::error!(error = %e, "ledger write failed; the ledger stops");
                inner.stopped.store(true, Ordering::SeqCst);
                for (reply, _, _) in waiting {
                    let _ = reply.send(Err(LedgerError::Stopped.into()));
                }
            }
        }
    }
}

/// Signs the checkpoint for `size`, appends it after the batch in `buf`, makes it durable and
/// rewrites the `checkpoint` file.
fn commit(
    inner: &Inner,
    signer: &note::Signer,
    buf: &mut Vec<u8>,
    end: &mut u64,
    size: u64,
    cp_path: &Path,
) -> Result<SignedCheckpoint, LedgerError> {
    let root = inner
        .shared
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .tree
        .root(size)
        .expect("size is the tree's");
    let key_error = |e: &dyn std::fmt::Display| LedgerError::Key {
        path: inner.dir.join(LOG_KEY),
        problem: e.to_string(),
    };
    let checkpoint = Checkpoint::new(&inner.origin, size, root).map_err(|e| key_error(&e))?;
    let signed = SignedCheckpoint::sign(checkpoint, signer).map_err(|e| key_error(&e))?;
    let note = signed.to_string().into_bytes();
    store::encode_checkpoint(buf, &note);
    let log_path = inner.dir.join(LOG);
    inner
        .log_file
        .write_all_at(buf, *end)
        .and_then(|()| inner.log_file.sync_data())
        .map_err(io_at(&log_path))?;
    *end += buf.len() as u64;
    write_checkpoint_file(&inner.dir, &note).map_err(|e| match e {
        LedgerError::Io { source, .. } => io_at(cp_path)(source),
        other => other,
    })?;
    Ok(signed)
}

/// Rewrites the `checkpoint` file in place and syncs it.
fn write_checkpoint_file(dir: &Path, note: &[u8]) -> Result<(), LedgerError> {
    let path = dir.join(CHECKPOINT);
    let bytes = store::encode_checkpoint_file(note);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)
        .map_err(io_at(&path))?;
    file.write_all_at(&bytes, 0)
        .and_then(|()| file.set_len(bytes.len() as u64))
        .and_then(|()| file.sync_data())
        .map_err(io_at(&path))
}

/// The keys of a ledger directory.
struct Keys {
    origin: String,
    signer: note::Signer,
    verifier: note::Verifier,
    node: PrivateKey,
}

impl Keys {
    fn load(dir: &Path) -> Result<Keys, LedgerError> {
        let read_key = |name: &str| -> Result<PrivateKey, LedgerError> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(io_at(&path))?;
            let key = PrivateKey::from_pem(&text).map_err(|e| LedgerError::Key {
                path: path.clone(),
                problem: e.to_string(),
            })?;
            if key.kind() != KeyKind::Ed25519 {
                return Err(LedgerError::Key {
                    path,
                    problem: "not an Ed25519 key".into(),
                });
            }
            Ok(key)
        };
        let vkey_path = dir.join(VKEY);
        let vkey_text = std::fs::read_to_string(&vkey_path).map_err(io_at(&vkey_path))?;
        let vkey = vkey_text.trim_end_matches('\n');
        let verifier = note::Verifier::from_vkey(vkey).map_err(|e| LedgerError::Key {
            path: vkey_path.clone(),
            problem: e.to_string(),
        })?;
        let origin = verifier.name().to_owned();
        let signer = note::Signer::from_private_key(&origin, read_key(LOG_KEY)?).map_err(|e| {
            LedgerError::Key {
                path: dir.join(LOG_KEY),
                problem: e.to_string(),
            }
        })?;
        if signer.vkey() != vkey {
            return Err(LedgerError::Key {
                path: dir.join(LOG_KEY),
                problem: format!("is not the key of {VKEY} ({vkey})"),
            });
        }
        Ok(Keys {
            origin,
            signer,
            verifier,
            node: read_key(NODE_KEY)?,
        })
    }
}

/// Creates a new ledger: keys, and a log holding the empty tree's checkpoint.
fn create(dir: &Path, origin: &str) -> Result<(), LedgerError> {
    let key_error = |path: &Path, e: &dyn std::fmt::Display| LedgerError::Key {
        path: path.to_owned(),
        problem: e.to_string(),
    };
    let log_key = PrivateKey::generate(KeyKind::Ed25519).map_err(|e| key_error(dir, &e))?;
    let node_key = PrivateKey::generate(KeyKind::Ed25519).map_err(|e| key_error(dir, &e))?;
    let pem = |k: &PrivateKey| -> Result<String, LedgerError> {
        let der = k.to_pkcs8_der().map_err(|e| key_error(dir, &e))?;
        Ok(verify::pem::encode("PRIVATE KEY", &der))
    };
    let signer = note::Signer::from_private_key(
        origin,
        PrivateKey::from_pem(&pem(&log_key)?).map_err(|e| key_error(dir, &e))?,
    )
    .map_err(|e| key_error(dir, &e))?;
    write_new(&dir.join(LOG_KEY), pem(&log_key)?.as_bytes(), 0o600)?;
    write_new(&dir.join(NODE_KEY), pem(&node_key)?.as_bytes(), 0o600)?;
    write_new(
        &dir.join(VKEY),
        format!("{}\n", signer.vkey()).as_bytes(),
        0o644,
    )?;
    let empty = Checkpoint::new(origin, 0, merkle::EMPTY_ROOT).map_err(|e| key_error(dir, &e))?;
    let signed = SignedCheckpoint::sign(empty, &signer).map_err(|e| key_error(dir, &e))?;
    let mut log = store::HEADER.to_vec();
    store::encode_checkpoint(&mut log, signed.to_string().as_bytes());
    // The log is written last: a directory without it is created again from scratch.
    let tmp = dir.join("log.new");
    write_new(&tmp, &log, 0o644)?;
    std::fs::rename(&tmp, dir.join(LOG)).map_err(io_at(dir))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), LedgerError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(io_at(path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_at(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use verify::checkpoint::Origin;
    use verify::time::Timestamp;

    const ORIGIN: &str = "test.example/vouch-ledger";

    fn config() -> Config {
        Config {
            origin: ORIGIN.into(),
            submitters: Vec::new(),
        }
    }

    fn pushed(n: u32) -> Event {
        let mut e = Event::new(
            EventType::ArtifactPushed,
            Timestamp::from_unix_nanos(1_790_000_000 + i64::from(n), 0),
            "tester",
        );
        e.subject.repository = Some("app".into());
        e.subject.digest = Some(oci::Digest::compute(
            oci::Algorithm::Sha256,
            &n.to_be_bytes(),
        ));
        e
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    }

    #[test]
    fn appends_prove_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let (ledger, report) = Ledger::open(dir.path(), config()).unwrap();
        assert!(report.created);
        assert_eq!(ledger.size(), 0);
        // 300 concurrent submissions: every one acknowledged, indexes 0..300 each once.
        let receipts: Vec<Receipt> = rt.block_on(async {
            let tasks: Vec<_> = (0..300)
                .map(|n| {
                    let l = ledger.clone();
                    tokio::spawn(async move { l.record(pushed(n)).await.unwrap() })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        });
        let mut indexes: Vec<u64> = receipts.iter().map(|r| r.index).collect();
        indexes.sort_unstable();
        assert_eq!(indexes, (0..300).collect::<Vec<_>>());
        let verifier = ledger.verifier().clone();
        for r in &receipts {
            // The receipt's checkpoint verifies and includes the entry.
            let v = r
                .checkpoint
                .verify(&Origin::Exact(ORIGIN.into()), &verifier, &[])
                .unwrap();
            let size = v.checkpoint().size();
            assert!(r.index < size);
            let proof = ledger.inclusion_proof(r.index, size).unwrap();
            let leaf = merkle::leaf_hash(&ledger.entry(r.index).unwrap());
            merkle::verify_inclusion(r.index, size, &leaf, &proof, v.checkpoint().root()).unwrap();
        }
        assert_eq!(ledger.size(), 300);
        let about = ledger.entries_about(&pushed(7).subject.digest.unwrap().to_string());
        assert_eq!(about.len(), 1);
        let old = ledger.checkpoint();
        ledger.close();
        drop(ledger);

        let (ledger, report) = Ledger::open(dir.path(), config()).unwrap();
        assert!(!report.created);
        assert_eq!((report.entries, report.truncated), (300, 0));
        assert_eq!(ledger.checkpoint().checkpoint(), old.checkpoint());
        // A duplicate is answered with the existing index.
        let e = Entry::parse(&ledger.entry(5).unwrap()).unwrap();
        let again = rt.block_on(ledger.submit(e.bytes())).unwrap();
        assert!(again.duplicate);
        assert_eq!(again.index, 5);
        // More entries, then consistency with the old checkpoint.
        rt.block_on(ledger.record(pushed(1000))).unwrap();
        let new = ledger.checkpoint();
        let proof = ledger.consistency_proof(300, 301).unwrap();
        merkle::verify_consistency(
            300,
            301,
            old.checkpoint().root(),
            new.checkpoint().root(),
            &proof,
        )
        .unwrap();
        ledger.close();
        // After close, submissions fail rather than hang.
        assert!(matches!(
            rt.block_on(ledger.record(pushed(1001))),
            Err(SubmitError::Ledger(LedgerError::Stopped))
        ));
    }

    #[test]
    fn an_unfinished_batch_is_cut_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let (ledger, _) = Ledger::open(dir.path(), config()).unwrap();
        for n in 0..5 {
            rt.block_on(ledger.record(pushed(n))).unwrap();
        }
        let node =
            PrivateKey::from_pem(&std::fs::read_to_string(dir.path().join(NODE_KEY)).unwrap())
                .unwrap();
        ledger.close();
        drop(ledger);
        let log = dir.path().join(LOG);
        let good = std::fs::read(&log).unwrap();
        // A crash mid-write: half an entry record after the last checkpoint.
        let entry = Entry::sign(pushed(99), &node).unwrap();
        let mut torn = good.clone();
        let mut rec = Vec::new();
        store::encode_entry(&mut rec, entry.bytes(), &merkle::leaf_hash(entry.bytes()));
        torn.extend_from_slice(&rec[..rec.len() / 2]);
        std::fs::write(&log, &torn).unwrap();
        let (ledger, report) = Ledger::open(dir.path(), config()).unwrap();
        assert_eq!(
            (report.entries, report.truncated),
            (5, (rec.len() / 2) as u64)
        );
        ledger.close();
        drop(ledger);
        assert_eq!(std::fs::read(&log).unwrap(), good);
        // A whole entry without its checkpoint: also never acknowledged.
        let mut unfinished = good.clone();
        unfinished.extend_from_slice(&rec);
        std::fs::write(&log, &unfinished).unwrap();
        let (ledger, report) = Ledger::open(dir.path(), config()).unwrap();
        assert_eq!(report.truncated, rec.len() as u64);
        ledger.close();
        drop(ledger);
        // Cutting into acknowledged entries is refused: the checkpoint file knows better.
        let last_cp = good.len() - 200;
        std::fs::write(&log, &good[..last_cp]).unwrap();
        let err = Ledger::open(dir.path(), config()).err().unwrap();
        assert!(err.to_string().contains("were acknowledged"), "{err}");
        std::fs::write(&log, &good).unwrap();
        // Any flipped byte of the log: refused, and located.
        for at in (16..good.len()).step_by(37) {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            std::fs::write(&log, &bad).unwrap();
            let err = Ledger::open(dir.path(), config())
                .err()
                .map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("damaged") || e.contains("acknowledged")),
                "byte {at}: {err:?}"
            );
        }
        std::fs::write(&log, &good).unwrap();
        Ledger::open(dir.path(), config()).unwrap().0.close();
        // Another origin: refused.
        let other = Config {
            origin: "elsewhere/log".into(),
            submitters: Vec::new(),
        };
        assert!(matches!(
            Ledger::open(dir.path(), other),
            Err(LedgerError::Origin { .. })
        ));
    }
}
