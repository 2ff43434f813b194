//! The ledger: opens (or creates) the log's directory, orders submissions through the rules,
//! appends them durably in batches (group commit), signs a checkpoint per batch, and answers
//! reads (checkpoint, tiles, entries, proofs) from memory and the log file.
//!
//! A submission passes the stateless gate ([`Authorities::check`]: parse, allow-list,
//! signature) on the caller's thread, in parallel with others; then, still on the caller's
//! thread, it takes the state's lock just long enough to run [`State::apply`] and append its
//! log record to the batch that is forming: the order in which submissions take that lock is
//! the log's order. One committer thread does the I/O: it seals whatever batch has formed,
//! signs its checkpoint, writes the batch and the checkpoint in one write, `fdatasync`s,
//! rewrites the `checkpoint` file, publishes the new size to readers, and only then wakes the
//! batch's submitters. The next batch forms while the previous one is being made durable, and
//! waits for submissions still in the gate, at most [`LINGER`] after its first joined: never
//! when none is, so a lone submission commits at once; under load the batches grow, and each
//! costs its signature, `fdatasync`s and wake-ups once for many entries. Readers never see past
//! the last durable checkpoint. Any write error stops the ledger (every later submission fails)
//! rather than acknowledging what may not be on disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use verify::checkpoint::{Checkpoint, SignedCheckpoint, TlogProof};
use verify::keys::{KeyKind, PrivateKey, PublicKey};
use verify::merkle::{self, Hash};
use verify::note;

use crate::event::{Entry, Event, EventType};
use crate::state::{Applied, Authorities, Rejection, State, Submitter};
use crate::store::{self, EntryLocation};
use crate::tiles::{self, TileKind, TilePath};
use crate::tree::{ProofRequestError, Tree};

/// The longest the committer waits for submissions being checked to join a batch.
const LINGER: Duration = Duration::from_millis(2);
/// A batch this large commits without waiting for more.
const LINGER_BATCH: usize = 1024;

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

/// What readers see: everything up to the last durable checkpoint; and, beyond it, what the
/// committer has yet to make durable.
struct Shared {
    tree: Tree,
    /// Where each entry is in the log. Those of the forming batch are relative to its start
    /// until it is sealed.
    entries: Vec<EntryLocation>,
    state: State,
    /// The size of the last durable checkpoint; the tree and state run ahead of it while
    /// batches form and commit.
    published: u64,
    checkpoint: Arc<SignedCheckpoint>,
    forming: Forming,
    /// Set once submissions are refused: by [`Ledger::close`] or after a write error.
    halt: Option<Halt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halt {
    /// Closing: the committer makes the forming batch durable, then ends.
    Closing,
    /// The committer ended: closed, or after a write error (the tree and state may then be
    /// ahead of the disk); nothing more is acknowledged.
    Stopped,
}

/// The batch that forms while the previous one is being made durable.
struct Forming {
    /// The tree size when it began: the index of its first entry.
    first: u64,
    /// Its entries' log records, in order, as they will be written.
    records: Vec<u8>,
    /// Submissions waiting for it: its entries, and duplicates of entries not yet durable.
    waiting: usize,
    /// When the first of them joined.
    since: Instant,
    batch: Arc<Batch>,
}

/// A group commit, which its submissions wait for.
#[derive(Default)]
struct Batch {
    done: tokio::sync::Notify,
    /// The checkpoint that includes the batch, or `None` if the ledger stopped before.
    outcome: OnceLock<Option<Arc<SignedCheckpoint>>>,
}

impl Batch {
    fn finish(&self, outcome: Option<Arc<SignedCheckpoint>>) {
        let _ = self.outcome.set(outcome);
        self.done.notify_waiters();
    }

    async fn wait(&self) -> Option<Arc<SignedCheckpoint>> {
        // Registered before looking, so a `finish` in between still wakes this waiter.
        let done = self.done.notified();
        if self.outcome.get().is_none() {
            done.await;
        }
        // `finish` sets the outcome before it wakes anyone.
        self.outcome.get().cloned().flatten()
    }
}

/// Where a submission stands once ordered.
enum Ordered {
    /// A duplicate of a durable entry: answered at once.
    Durable(Arc<SignedCheckpoint>),
    /// Waiting for this batch to be made durable.
    Waiting(Arc<Batch>),
}

/// A submission being checked: counted in [`Inner::in_gate`] until it has its place in the
/// forming batch (or is refused).
struct InGate<'a>(&'a Inner);

impl<'a> InGate<'a> {
    fn enter(inner: &'a Inner) -> InGate<'a> {
        inner.in_gate.fetch_add(1, Ordering::SeqCst);
        InGate(inner)
    }
}

impl Drop for InGate<'_> {
    fn drop(&mut self) {
        // Paired with the committer's store of `lingering` and load of `in_gate`: either it
        // sees zero, or this sees it lingering and wakes it.
        if self.0.in_gate.fetch_sub(1, Ordering::SeqCst) == 1
            && self.0.lingering.load(Ordering::SeqCst)
        {
            self.0.wake_committer();
        }
    }
}

struct Inner {
    dir: PathBuf,
    origin: String,
    shared: RwLock<Shared>,
    log_file: File,
    authorities: Authorities,
    node_key: PrivateKey,
    log_verifier: note::Verifier,
    /// Submissions between the start of their checks and their place in the forming batch.
    in_gate: AtomicUsize,
    /// Whether the committer is waiting for `in_gate` to drop to zero.
    lingering: AtomicBool,
    /// The committer thread, woken when a batch starts forming or the ledger closes.
    committer: OnceLock<Thread>,
    committer_handle: Mutex<Option<thread::JoinHandle<()>>>,
}

/// The ledger. Cheap to clone; the committer stops when [`Ledger::close`] is called.
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
        let mut checkpoint_file = CheckpointFile::open(dir)?;
        checkpoint_file.write(&last.note)?;
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
        let inner = Arc::new(Inner {
            dir: dir.to_owned(),
            origin: config.origin,
            shared: RwLock::new(Shared {
                tree: scan.tree,
                entries: scan.entries,
                state,
                published,
                checkpoint,
                forming: Forming {
                    first: published,
                    records: Vec::new(),
                    waiting: 0,
                    since: Instant::now(),
                    batch: Arc::default(),
                },
                halt: None,
            }),
            log_file,
            authorities,
            node_key: keys.node,
            log_verifier: keys.verifier,
            in_gate: AtomicUsize::new(0),
            lingering: AtomicBool::new(false),
            committer: OnceLock::new(),
            committer_handle: Mutex::new(None),
        });
        let committer = Committer {
            inner: Arc::clone(&inner),
            signer: keys.signer,
            end: scan.committed_end,
            checkpoint_file,
            spare: Vec::new(),
            in_flight: None,
        };
        let handle = thread::Builder::new()
            .name("ledger-commit".into())
            .spawn(move || committer.run())
            .map_err(io_at(dir))?;
        let _ = inner.committer.set(handle.thread().clone());
        *inner
            .committer_handle
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok((Ledger { inner }, report))
    }

    /// Stops the committer after it has made durable what was submitted; later submissions
    /// fail.
    pub fn close(&self) {
        self.inner
            .shared
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .halt
            .get_or_insert(Halt::Closing);
        self.inner.wake_committer();
        let handle = self
            .inner
            .committer_handle
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
        let gate = InGate::enter(&self.inner);
        let entry = self.inner.authorities.check(bytes)?;
        self.append(entry, gate).await
    }

    /// Signs `event` with the node's key and submits it.
    pub async fn record(&self, event: Event) -> Result<Receipt, SubmitError> {
        let gate = InGate::enter(&self.inner);
        let entry = Entry::sign(event, &self.inner.node_key).map_err(|e| {
            SubmitError::Rejected(Rejection::Malformed(crate::event::EntryError::Field {
                field: "event",
                problem: e.to_string(),
            }))
        })?;
        self.append(entry, gate).await
    }

    async fn append(&self, entry: Entry, gate: InGate<'_>) -> Result<Receipt, SubmitError> {
        let leaf = merkle::leaf_hash(entry.bytes());
        let ordered = self.inner.order(&entry, leaf);
        drop(gate);
        let (index, duplicate, ordered) = ordered?;
        // The parsed entry is done with here, on the submitter's thread.
        drop(entry);
        let checkpoint = match ordered {
            Ordered::Durable(checkpoint) => checkpoint,
            Ordered::Waiting(batch) => batch.wait().await.ok_or(LedgerError::Stopped)?,
        };
        Ok(Receipt {
            index,
            duplicate,
            checkpoint,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.inner.read_shared()
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

    /// The index of the entry that revoked the artifact `digest`, if it is revoked.
    pub fn digest_revoked_at(&self, digest: &str) -> Option<u64> {
        let shared = self.read();
        shared
            .state
            .digest_revoked_at(digest)
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

impl Inner {
    /// Puts `entry` in the log's order: applies the rules and appends its record to the
    /// forming batch, under the state's lock (held for that alone: no I/O, no signature).
    fn order(&self, entry: &Entry, leaf: Hash) -> Result<(u64, bool, Ordered), SubmitError> {
        let mut guard = self.shared.write().unwrap_or_else(|e| e.into_inner());
        let shared = &mut *guard;
        if shared.halt.is_some() {
            return Err(LedgerError::Stopped.into());
        }
        let (index, duplicate) = match shared.state.apply(entry, leaf)? {
            Applied::Appended(index) => {
                let forming = &mut shared.forming;
                let at = store::encode_entry(&mut forming.records, entry.bytes(), &leaf);
                shared.tree.push(leaf);
                shared.entries.push(EntryLocation {
                    offset: at as u64,
                    len: entry.bytes().len() as u32,
                });
                (index, false)
            }
            Applied::Duplicate(index) if index < shared.published => {
                let checkpoint = Arc::clone(&shared.checkpoint);
                return Ok((index, true, Ordered::Durable(checkpoint)));
            }
            // Not durable yet: acknowledged with the forming batch, which commits after the
            // entry's own.
            Applied::Duplicate(index) => (index, true),
        };
        let forming = &mut shared.forming;
        forming.waiting += 1;
        let first = forming.waiting == 1;
        if first {
            forming.since = Instant::now();
        }
        let batch = Arc::clone(&forming.batch);
        drop(guard);
        if first {
            self.wake_committer();
        }
        Ok((index, duplicate, Ordered::Waiting(batch)))
    }

    fn wake_committer(&self) {
        if let Some(committer) = self.committer.get() {
            committer.unpark();
        }
    }
}

/// A batch taken from the forming one, to be made durable.
struct Sealed {
    /// The tree size with it, and the tree's root at that size; `None` if it appends nothing
    /// (duplicates only).
    size: Option<(u64, Hash)>,
    records: Vec<u8>,
    batch: Arc<Batch>,
}

/// The committer thread: seals the forming batch, writes it with its checkpoint, syncs,
/// rewrites the `checkpoint` file, publishes and wakes the batch's submitters; one batch at a
/// time, in order.
struct Committer {
    inner: Arc<Inner>,
    signer: note::Signer,
    /// The log's length.
    end: u64,
    checkpoint_file: CheckpointFile,
    /// The last batch's buffer, kept for its capacity.
    spare: Vec<u8>,
    /// The batch being made durable.
    in_flight: Option<Arc<Batch>>,
}

impl Committer {
    fn run(mut self) {
        while let Some(sealed) = self.seal() {
            let batch = self.in_flight.insert(sealed.batch);
            let Some((size, root)) = sealed.size else {
                // Duplicates of entries whose batches, earlier, are all durable by now.
                batch.finish(Some(Arc::clone(&self.inner.read_shared().checkpoint)));
                self.in_flight = None;
                self.spare = sealed.records;
                continue;
            };
            let mut records = sealed.records;
            match self.commit(&mut records, size, root) {
                Ok(checkpoint) => {
                    let checkpoint = Arc::new(checkpoint);
                    {
                        let mut shared = self.inner.write_shared();
                        shared.published = size;
                        shared.checkpoint = Arc::clone(&checkpoint);
                    }
                    if let Some(batch) = self.in_flight.take() {
                        batch.finish(Some(checkpoint));
                    }
                    records.clear();
                    self.spare = records;
                }
                Err(e) => {
                    // The tree and state are ahead of the disk now: stop (see `drop`),
                    // acknowledge nothing.
                    tracing::error!(error = %e, "ledger write failed; the ledger stops");
                    return;
                }
            }
        }
    }

    /// Waits for a batch to form and takes it; `None` once the ledger halts with nothing left
    /// to commit.
    fn seal(&mut self) -> Option<Sealed> {
        loop {
            let mut guard = self.inner.write_shared();
            let shared = &mut *guard;
            if shared.forming.waiting == 0 {
                if shared.halt.is_some() {
                    return None;
                }
                drop(guard);
                // `order` unparks after adding the first submission, so one added between
                // the look above and this park is not missed.
                thread::park();
                continue;
            }
            // Submissions being checked now will join within a signature check's time: a
            // batch that waits for them costs the disk less per entry. Never when none are,
            // so a lone submission commits at once; never beyond LINGER after the batch's
            // first submission joined (which may be while the previous batch was committing).
            if shared.halt.is_none()
                && shared.forming.waiting < LINGER_BATCH
                && self.inner.in_gate.load(Ordering::SeqCst) > 0
            {
                let until = shared.forming.since + LINGER;
                let now = Instant::now();
                if now < until {
                    drop(guard);
                    self.inner.lingering.store(true, Ordering::SeqCst);
                    if self.inner.in_gate.load(Ordering::SeqCst) > 0 {
                        thread::park_timeout(until - now);
                    }
                    self.inner.lingering.store(false, Ordering::SeqCst);
                    continue;
                }
            }
            let forming = &mut shared.forming;
            let first = forming.first;
            let size = shared.tree.size();
            // The batch's records go at the log's end: their locations are now known.
            for location in &mut shared.entries[first as usize..] {
                location.offset += self.end;
            }
            forming.first = size;
            forming.waiting = 0;
            let records = std::mem::replace(&mut forming.records, std::mem::take(&mut self.spare));
            let batch = std::mem::take(&mut forming.batch);
            let size =
                (size > first).then(|| (size, shared.tree.root(size).expect("size is the tree's")));
            return Some(Sealed {
                size,
                records,
                batch,
            });
        }
    }

    /// Signs the checkpoint for `size`, appends it after the batch in `records`, makes both
    /// durable and rewrites the `checkpoint` file.
    fn commit(
        &mut self,
        records: &mut Vec<u8>,
        size: u64,
        root: Hash,
    ) -> Result<SignedCheckpoint, LedgerError> {
        let inner = &*self.inner;
        let key_error = |e: &dyn std::fmt::Display| LedgerError::Key {
            path: inner.dir.join(LOG_KEY),
            problem: e.to_string(),
        };
        let checkpoint = Checkpoint::new(&inner.origin, size, root).map_err(|e| key_error(&e))?;
        let signed = SignedCheckpoint::sign(checkpoint, &self.signer).map_err(|e| key_error(&e))?;
        let note = signed.to_string().into_bytes();
        store::encode_checkpoint(records, &note);
        inner
            .log_file
            .write_all_at(records, self.end)
            .and_then(|()| inner.log_file.sync_data())
            .map_err(io_at(&inner.dir.join(LOG)))?;
        self.end += records.len() as u64;
        self.checkpoint_file.write(&note)?;
        Ok(signed)
    }
}

impl Drop for Committer {
    /// However the committer ends (closed, a write error, a panic), nothing is left waiting:
    /// the batch it was committing and the one forming fail as stopped, and so does every
    /// later submission.
    fn drop(&mut self) {
        let forming = {
            let mut shared = self.inner.write_shared();
            shared.halt = Some(Halt::Stopped);
            std::mem::take(&mut shared.forming.batch)
        };
        if let Some(batch) = self.in_flight.take() {
            batch.finish(None);
        }
        forming.finish(None);
    }
}

impl Inner {
    fn read_shared(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.shared.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_shared(&self) -> std::sync::RwLockWriteGuard<'_, Shared> {
        self.shared.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `checkpoint` file, kept open and rewritten in place after each batch. Its length
/// changes only when the checkpoint's does (the size gains a digit), so a rewrite is usually
/// a plain overwrite of the same bytes' worth: its `fdatasync` writes no metadata.
struct CheckpointFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl CheckpointFile {
    fn open(dir: &Path) -> Result<CheckpointFile, LedgerError> {
        let path = dir.join(CHECKPOINT);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&path)
            .map_err(io_at(&path))?;
        let len = file.metadata().map_err(io_at(&path))?.len();
        Ok(CheckpointFile { path, file, len })
    }

    /// Rewrites the file with `note` and syncs it.
    fn write(&mut self, note: &[u8]) -> Result<(), LedgerError> {
        let bytes = store::encode_checkpoint_file(note);
        let len = bytes.len() as u64;
        self.file
            .write_all_at(&bytes, 0)
            .and_then(|()| {
                if len < self.len {
                    self.file.set_len(len)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| self.file.sync_data())
            .map_err(io_at(&self.path))?;
        self.len = len;
        Ok(())
    }
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

    /// The same bytes submitted many times at once, while their first copy is still in a
    /// forming or committing batch: one entry, every submission acknowledged with its index
    /// and a checkpoint that includes it.
    #[test]
    fn concurrent_duplicates_wait_for_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let (ledger, _) = Ledger::open(dir.path(), config()).unwrap();
        let node =
            PrivateKey::from_pem(&std::fs::read_to_string(dir.path().join(NODE_KEY)).unwrap())
                .unwrap();
        let entries: Vec<Vec<u8>> = (0..20)
            .map(|n| Entry::sign(pushed(n), &node).unwrap().into_bytes())
            .collect();
        let receipts: Vec<(usize, Receipt)> = rt.block_on(async {
            let tasks: Vec<_> = (0..400)
                .map(|k| {
                    let l = ledger.clone();
                    let bytes = entries[k % entries.len()].clone();
                    tokio::spawn(async move { (k % 20, l.submit(&bytes).await.unwrap()) })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        });
        assert_eq!(ledger.size(), 20);
        for (n, r) in &receipts {
            assert!(r.index < r.checkpoint.checkpoint().size());
            assert_eq!(ledger.entry(r.index).unwrap(), entries[*n]);
        }
        for n in 0..20 {
            let appended = receipts
                .iter()
                .filter(|(m, r)| *m == n && !r.duplicate)
                .count();
            assert_eq!(appended, 1, "entry {n}");
        }
        ledger.close();
    }

    /// Closing while submissions are in flight: each is acknowledged (and durable) or fails
    /// as stopped, none hangs, and what was acknowledged is there after a reopen.
    #[test]
    fn close_under_load_loses_nothing_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let (ledger, _) = Ledger::open(dir.path(), config()).unwrap();
        let acknowledged: Vec<(u64, Vec<u8>)> = rt.block_on(async {
            let tasks: Vec<_> = (0..200)
                .map(|n| {
                    let l = ledger.clone();
                    tokio::spawn(async move {
                        let event = pushed(n);
                        match l.record(event).await {
                            Ok(r) => Some(r.index),
                            Err(SubmitError::Ledger(LedgerError::Stopped)) => None,
                            Err(e) => panic!("{e}"),
                        }
                    })
                })
                .collect();
            tokio::task::yield_now().await;
            let closer = ledger.clone();
            tokio::task::spawn_blocking(move || closer.close())
                .await
                .unwrap();
            let mut out = Vec::new();
            for t in tasks {
                if let Some(index) = t.await.unwrap() {
                    out.push((index, ledger.entry(index).unwrap()));
                }
            }
            out
        });
        drop(ledger);
        let (ledger, report) = Ledger::open(dir.path(), config()).unwrap();
        assert_eq!(report.truncated, 0);
        for (index, bytes) in &acknowledged {
            assert_eq!(&ledger.entry(*index).unwrap(), bytes);
        }
        ledger.close();
    }
}
