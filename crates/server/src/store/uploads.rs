//! Blob upload sessions and spools. A session is a few files in `uploads/`: `<id>.json`
//! (repository, owner, algorithm), `<id>.data` (the bytes so far) and `<id>.ack` (how many of
//! them were acknowledged to the client); monolithic uploads spool to `uploads/mono-<id>`. Bytes are hashed as they are written, on a blocking thread fed by a
//! bounded channel, so memory stays flat whatever the blob size.
//!
//! A session is checked out exclusively for the length of one request. If the request dies
//! half way, the session goes back unchanged and the next append cuts the file back to the
//! acknowledged length. After a restart the acknowledged length comes from `ack`: bytes of a
//! chunk that was in flight never count, and a session whose bytes were lost (a power failure
//! before the kernel wrote them) is unknown rather than wrong.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use oci::{Algorithm, Digest, Digester};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::StoreError;

/// Write-buffer size of a spool: coalesces small frames; larger ones are written directly.
const WRITE_BUFFER: usize = 64 * 1024;
/// Read-buffer size when a spool is hashed again from its file.
const READ_BUFFER: usize = 1 << 20;

/// Bytes being received for one blob: a file and the running hash of its first `size` bytes.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    size: u64,
    algorithm: Algorithm,
    /// `None` after a restart: rebuilt from the file when next needed.
    digester: Option<Digester>,
    /// Where a session records its acknowledged length; `None` for a monolithic spool.
    ack: Option<PathBuf>,
}

/// What the request side sends the writer thread.
#[derive(Debug)]
pub enum Chunk {
    Data(Bytes),
    /// The body arrived whole and at its declared length: the bytes count. Without it (the
    /// channel closes first) nothing written by this append is ever acknowledged.
    End,
}

/// What an append produced; applied to the spool only if `complete`.
pub struct Appended {
    size: u64,
    digester: Option<Digester>,
    pub written: u64,
    /// The request side sent [`Chunk::End`] and the new length was recorded.
    pub complete: bool,
}

impl Appended {
    /// An append of no bytes (an empty request body): applying it changes nothing.
    pub fn nothing() -> Appended {
        Appended {
            size: 0,
            digester: None,
            written: 0,
            complete: true,
        }
    }
}

impl Spool {
    fn new(path: PathBuf, algorithm: Algorithm, ack: Option<PathBuf>) -> Spool {
        Spool {
            path,
            size: 0,
            algorithm,
            digester: Some(Digester::new(algorithm)),
            ack,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes every chunk received on `rx` after the acknowledged bytes; on [`Chunk::End`],
    /// records the new length as acknowledged (sessions only). Blocking.
    pub fn append(&self, mut rx: mpsc::Receiver<Chunk>) -> Result<Appended, StoreError> {
        let io = |op| StoreError::io(op, &self.path);
        let mut digester = match &self.digester {
            Some(d) => d.clone(),
            None => self.rehash(self.algorithm)?,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(io("open"))?;
        let len = file.metadata().map_err(io("stat"))?.len();
        if len != self.size {
            // Left over from a request that failed half way, or short after a crash.
            if len < self.size {
                return Err(StoreError::Corrupt(format!(
                    "upload {} has {len} bytes, {} were acknowledged",
                    self.path.display(),
                    self.size
                )));
            }
            file.set_len(self.size).map_err(io("truncate"))?;
        }
        file.seek(SeekFrom::Start(self.size)).map_err(io("seek"))?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut written = 0u64;
        let mut complete = false;
        while let Some(chunk) = rx.blocking_recv() {
            match chunk {
                Chunk::Data(bytes) => {
                    digester.update(&bytes);
                    out.write_all(&bytes).map_err(io("write"))?;
                    written += bytes.len() as u64;
                }
                Chunk::End => {
                    complete = true;
                    break;
                }
            }
        }
        out.flush().map_err(io("write"))?;
        let size = self.size + written;
        if complete && written > 0 {
            self.acknowledge(size)?;
        }
        Ok(Appended {
            size,
            digester: Some(digester),
            written,
            complete,
        })
    }

    /// Records `size` as the acknowledged length: one fixed-width write in place, so the
    /// record is always either the old or the new number. Not fsynced: after a power failure
    /// a session whose recorded bytes are missing is unknown, never wrong.
    fn acknowledge(&self, size: u64) -> Result<(), StoreError> {
        let Some(path) = &self.ack else { return Ok(()) };
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .and_then(|mut f| f.write_all(format!("{size:020}\n").as_bytes()))
            .map_err(StoreError::io("write", path))
    }

    pub fn apply(&mut self, appended: Appended) {
        if appended.written == 0 || !appended.complete {
            return;
        }
        self.size = appended.size;
        self.digester = appended.digester;
    }

    /// The digest of the bytes so far under `algorithm`, rehashing the file when the running
    /// hash used another algorithm (a sha512 blob pushed without `digest-algorithm`). Blocking.
    pub fn digest(&self, algorithm: Algorithm) -> Result<Digest, StoreError> {
        match &self.digester {
            Some(d) if d.algorithm() == algorithm => Ok(d.clone().finish()),
            _ => Ok(self.rehash(algorithm)?.finish()),
        }
    }

    fn rehash(&self, algorithm: Algorithm) -> Result<Digester, StoreError> {
        let io = |op| StoreError::io(op, &self.path);
        let mut d = Digester::new(algorithm);
        let file = match File::open(&self.path) {
            Ok(f) => f,
            // No bytes ever arrived.
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.size == 0 => return Ok(d),
            Err(e) => return Err(io("open")(e)),
        };
        let mut file = file.take(self.size);
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            let n = file.read(&mut buf).map_err(io("read"))?;
            if n == 0 {
                break;
            }
            d.update(&buf[..n]);
        }
        Ok(d)
    }

    /// Makes the bytes durable before they are installed as a blob. Blocking.
    pub fn sync(&self) -> Result<(), StoreError> {
        let io = |op| StoreError::io(op, &self.path);
        // `create`: an empty blob never wrote a byte, and still needs its (empty) file.
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(io("open"))?;
        // The file may hold bytes past the acknowledged length from a failed request.
        if file.metadata().map_err(io("stat"))?.len() != self.size {
            file.set_len(self.size).map_err(io("truncate"))?;
        }
        // Data only: the rename that installs the file carries the metadata that matters, and
        // its directory is fsynced after it.
        file.sync_data().map_err(io("fsync"))
    }
}

/// Persistent facts about a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    pub repo: String,
    pub owner: String,
    pub algorithm: String,
}

enum Slot {
    Busy,
    Idle(Box<(SessionInfo, Spool)>),
}

pub struct Uploads {
    dir: PathBuf,
    slots: Mutex<HashMap<String, Slot>>,
}

/// A session checked out by one request. Dropping it returns it for the next request.
pub struct Session {
    uploads: Arc<Uploads>,
    pub id: String,
    pub info: SessionInfo,
    pub spool: Spool,
    finished: bool,
}

pub enum Checkout {
    Ready(Box<Session>),
    /// Another request is using the session right now.
    Busy,
    Unknown,
}

/// Session ids are 32 lowercase hex characters; anything else never touches the filesystem.
pub fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // SystemRandom reads the OS CSPRNG; it cannot fail on Linux once the process runs.
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut bytes)
        .unwrap_or_else(|_| unreachable!("the OS random source failed"));
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Uploads {
    pub fn open(data_dir: &Path) -> Result<Arc<Uploads>, StoreError> {
        let dir = data_dir.join("uploads");
        fs::create_dir_all(&dir).map_err(StoreError::io("create", &dir))?;
        Ok(Arc::new(Uploads {
            dir,
            slots: Mutex::new(HashMap::new()),
        }))
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // The map holds plain data; a panic elsewhere cannot leave it half-updated.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open sessions on disk.
    pub fn count_on_disk(&self) -> usize {
        fs::read_dir(&self.dir)
            .map(|it| {
                it.filter_map(Result::ok)
                    .filter(|e| session_file(&e.file_name().to_string_lossy()) == Some(INFO))
                    .count()
            })
            .unwrap_or(0)
    }

    fn files(&self, id: &str) -> SessionFiles {
        let path = |ext: &str| self.dir.join(format!("{id}.{ext}"));
        SessionFiles {
            info: path(INFO),
            data: path(DATA),
            ack: path(ACK),
        }
    }

    /// Starts a session: one small file, no directory. Blocking.
    pub fn create(
        self: &Arc<Self>,
        repo: &str,
        owner: &str,
        algorithm: Algorithm,
    ) -> Result<Session, StoreError> {
        let id = random_id();
        let files = self.files(&id);
        let info = SessionInfo {
            repo: repo.to_owned(),
            owner: owner.to_owned(),
            algorithm: algorithm.as_str().to_owned(),
        };
        let text = serde_json::to_vec(&info).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&files.info)
            .and_then(|mut f| f.write_all(&text))
            .map_err(StoreError::io("write", &files.info))?;
        // The data file appears with the first bytes.
        let spool = Spool::new(files.data, algorithm, Some(files.ack));
        self.slots().insert(id.clone(), Slot::Busy);
        Ok(Session {
            uploads: Arc::clone(self),
            id,
            info,
            spool,
            finished: false,
        })
    }

    /// Checks a session out if it is held in memory (the common case: no trip to a blocking
    /// thread). `None` means it must be loaded with [`Uploads::checkout`]. The one stat call
    /// notices a session that `vouch gc` in another process removed.
    pub fn checkout_held(self: &Arc<Self>, id: &str) -> Option<Checkout> {
        if !valid_id(id) {
            return Some(Checkout::Unknown);
        }
        let mut slots = self.slots();
        match slots.get_mut(id)? {
            Slot::Busy => Some(Checkout::Busy),
            Slot::Idle(..) if !self.files(id).info.is_file() => {
                slots.remove(id);
                Some(Checkout::Unknown)
            }
            slot @ Slot::Idle(..) => {
                let Slot::Idle(idle) = std::mem::replace(slot, Slot::Busy) else {
                    unreachable!("matched Idle above")
                };
                let (info, spool) = *idle;
                Some(Checkout::Ready(self.session(id, info, spool)))
            }
        }
    }

    /// Checks a session out for one request, loading it from disk after a restart. Blocking.
    pub fn checkout(self: &Arc<Self>, id: &str) -> Result<Checkout, StoreError> {
        if !valid_id(id) {
            return Ok(Checkout::Unknown);
        }
        let files = self.files(id);
        {
            let mut slots = self.slots();
            match slots.get_mut(id) {
                // Removed from disk by another process (`vouch gc` expired it): gone here too.
                Some(Slot::Idle(..)) if !files.info.is_file() => {
                    slots.remove(id);
                    return Ok(Checkout::Unknown);
                }
                Some(slot @ Slot::Idle(..)) => {
                    let Slot::Idle(idle) = std::mem::replace(slot, Slot::Busy) else {
                        unreachable!("matched Idle above")
                    };
                    let (info, spool) = *idle;
                    return Ok(Checkout::Ready(self.session(id, info, spool)));
                }
                Some(Slot::Busy) => return Ok(Checkout::Busy),
                None => {}
            }
        }
        let info: SessionInfo = match fs::read(&files.info) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(info) => info,
                // Torn by a crash before it was ever used: the session is gone.
                Err(_) => return Ok(Checkout::Unknown),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Checkout::Unknown),
            Err(e) => return Err(StoreError::io("read", files.info)(e)),
        };
        let Ok(algorithm) = Algorithm::parse(&info.algorithm) else {
            return Ok(Checkout::Unknown);
        };
        let on_disk = match fs::metadata(&files.data) {
            Ok(m) => m.len(),
            // No bytes yet, or they were installed as a blob by a request that died before
            // removing the session (then the acknowledged length below says it).
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(StoreError::io("stat", &files.data)(e)),
        };
        let size = match fs::read_to_string(&files.ack) {
            Ok(text) => match text.trim().parse::<u64>() {
                Ok(n) => n,
                Err(_) => return Ok(Checkout::Unknown),
            },
            // Nothing acknowledged yet.
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(StoreError::io("read", files.ack)(e)),
        };
        if on_disk < size {
            // Acknowledged bytes are gone: the client must start again.
            return Ok(Checkout::Unknown);
        }
        let spool = Spool {
            path: files.data,
            size,
            algorithm,
            digester: None,
            ack: Some(files.ack),
        };
        let mut slots = self.slots();
        if slots.contains_key(id) {
            return Ok(Checkout::Busy);
        }
        slots.insert(id.to_owned(), Slot::Busy);
        Ok(Checkout::Ready(self.session(id, info, spool)))
    }

    fn session(self: &Arc<Self>, id: &str, info: SessionInfo, spool: Spool) -> Box<Session> {
        Box::new(Session {
            uploads: Arc::clone(self),
            id: id.to_owned(),
            info,
            spool,
            finished: false,
        })
    }

    /// A spool for a single-request upload, not registered as a session.
    pub fn monolithic_spool(&self, algorithm: Algorithm) -> Spool {
        Spool::new(
            self.dir.join(format!("mono-{}", random_id())),
            algorithm,
            None,
        )
    }

    /// Removes sessions and spools idle for longer than `max_idle`, and files a crash left
    /// without their session. Blocking. Returns how many sessions went.
    pub fn expire(&self, max_idle: Duration) -> Result<usize, StoreError> {
        let cutoff = SystemTime::now() - max_idle;
        let mut removed = 0;
        let entries = fs::read_dir(&self.dir).map_err(StoreError::io("read", &self.dir))?;
        // An entry gone by the time it is looked at was finished meanwhile: skip it. (Never
        // treat a missing time as "infinitely old": `vouch gc` runs in another process and
        // cannot see which sessions the server is using.)
        let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with("mono-") {
                if modified(&path).is_some_and(|t| t <= cutoff) {
                    super::blobs::BlobStore::remove_file(&path)?;
                }
                continue;
            }
            let Some(ext) = session_file(&name) else {
                continue;
            };
            let id = &name[..32];
            let files = self.files(id);
            if ext != INFO {
                // Data or acknowledgement whose session file is gone: a crash mid-finish.
                if !files.info.exists() && modified(&path).is_some_and(|t| t <= cutoff) {
                    super::blobs::BlobStore::remove_file(&path)?;
                }
                continue;
            }
            // A session's activity shows in its data file, else in its creation.
            let Some(last) = modified(&files.data).or_else(|| modified(&files.info)) else {
                continue;
            };
            if last > cutoff {
                continue;
            }
            let mut slots = self.slots();
            if matches!(slots.get(id), Some(Slot::Busy)) {
                continue;
            }
            slots.remove(id);
            drop(slots);
            if files.remove()? {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A session's files: `<id>.json` (the session exists while it does), `<id>.data` and
/// `<id>.ack`.
struct SessionFiles {
    info: PathBuf,
    data: PathBuf,
    ack: PathBuf,
}

const INFO: &str = "json";
const DATA: &str = "data";
const ACK: &str = "ack";

/// The extension of a session file name (`<32 hex>.<ext>`), if it is one.
fn session_file(name: &str) -> Option<&str> {
    let (id, ext) = name.split_at_checked(32)?;
    let ext = ext.strip_prefix('.')?;
    (valid_id(id) && [INFO, DATA, ACK].contains(&ext)).then_some(ext)
}

impl SessionFiles {
    /// Deletes the files, the session file last so that a crash half way leaves a session that
    /// expiry still finds. False if the session was already gone.
    fn remove(&self) -> Result<bool, StoreError> {
        for p in [&self.data, &self.ack] {
            super::blobs::BlobStore::remove_file(p)?;
        }
        match fs::remove_file(&self.info) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io("remove", &self.info)(e)),
        }
    }
}

impl Session {
    /// Ends the session and deletes its files (after completion or cancellation). Blocking.
    pub fn finish(mut self) -> Result<(), StoreError> {
        self.finished = true;
        self.uploads.slots().remove(&self.id);
        self.uploads.files(&self.id).remove().map(|_| ())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let spool = Spool {
            path: std::mem::take(&mut self.spool.path),
            size: self.spool.size,
            algorithm: self.spool.algorithm,
            digester: self.spool.digester.take(),
            ack: self.spool.ack.take(),
        };
        self.uploads.slots().insert(
            self.id.clone(),
            Slot::Idle(Box::new((self.info.clone(), spool))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole request body: its chunks, then the end marker.
    fn feed(chunks: &[&[u8]]) -> mpsc::Receiver<Chunk> {
        channel_of(chunks, true)
    }

    /// A request body cut off before its end: the chunks without the end marker.
    fn feed_cut(chunks: &[&[u8]]) -> mpsc::Receiver<Chunk> {
        channel_of(chunks, false)
    }

    fn channel_of(chunks: &[&[u8]], whole: bool) -> mpsc::Receiver<Chunk> {
        let (tx, rx) = mpsc::channel(chunks.len() + 1);
        for c in chunks {
            tx.try_send(Chunk::Data(Bytes::copy_from_slice(c))).unwrap();
        }
        if whole {
            tx.try_send(Chunk::End).unwrap();
        }
        rx
    }

    #[test]
    fn session_survives_failed_append_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::open(dir.path()).unwrap();
        let mut s = uploads.create("repo", "-", Algorithm::Sha256).unwrap();
        let a = s.spool.append(feed(&[b"hello ", b"wor"])).unwrap();
        s.spool.apply(a);
        // A request that fails after writing: incomplete, so never applied.
        let cut = s.spool.append(feed_cut(&[b"GARBAGE"])).unwrap();
        assert!(!cut.complete);
        s.spool.apply(cut);
        let id = s.id.clone();
        drop(s);
        let Checkout::Ready(mut s) = uploads.checkout(&id).unwrap() else {
            panic!("not ready")
        };
        assert_eq!(s.spool.size(), 9);
        assert!(matches!(uploads.checkout(&id).unwrap(), Checkout::Busy));
        let a = s.spool.append(feed(&[b"ld"])).unwrap();
        s.spool.apply(a);
        let want = Digest::compute(Algorithm::Sha256, b"hello world");
        assert_eq!(s.spool.digest(Algorithm::Sha256).unwrap(), want);
        drop(s);
        // A new process: state comes back from disk and the hash is rebuilt.
        let reopened = Uploads::open(dir.path()).unwrap();
        let Checkout::Ready(s) = reopened.checkout(&id).unwrap() else {
            panic!("not ready")
        };
        assert_eq!(s.spool.size(), 11);
        assert_eq!(s.spool.digest(Algorithm::Sha256).unwrap(), want);
        assert_eq!(
            s.spool.digest(Algorithm::Sha512).unwrap(),
            Digest::compute(Algorithm::Sha512, b"hello world")
        );
        s.finish().unwrap();
        assert!(matches!(reopened.checkout(&id).unwrap(), Checkout::Unknown));
    }

    #[test]
    fn a_restart_resumes_from_the_acknowledged_length_only() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::open(dir.path()).unwrap();
        let mut s = uploads.create("repo", "-", Algorithm::Sha256).unwrap();
        let a = s.spool.append(feed(&[b"acked"])).unwrap();
        s.spool.apply(a);
        // A chunk in flight when the process died: written, never acknowledged.
        let _lost = s.spool.append(feed_cut(&[b"in flight"])).unwrap();
        let id = s.id.clone();
        std::mem::forget(s); // the process dies: no Drop runs
        let reopened = Uploads::open(dir.path()).unwrap();
        let Checkout::Ready(s) = reopened.checkout(&id).unwrap() else {
            panic!("not ready")
        };
        assert_eq!(s.spool.size(), 5);
        assert_eq!(
            s.spool.digest(Algorithm::Sha256).unwrap(),
            Digest::compute(Algorithm::Sha256, b"acked")
        );
        drop(s);
        // Acknowledged bytes lost (power failure before writeback): unknown, not an error.
        let data = dir.path().join("uploads").join(format!("{id}.data"));
        std::fs::write(&data, b"ack").unwrap();
        let again = Uploads::open(dir.path()).unwrap();
        assert!(matches!(again.checkout(&id).unwrap(), Checkout::Unknown));
    }

    #[test]
    fn ids_never_reach_the_filesystem_unless_well_formed() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::open(dir.path()).unwrap();
        for id in ["../../etc", "", "ABCDEF0123456789ABCDEF0123456789", "0123"] {
            assert!(
                matches!(uploads.checkout(id).unwrap(), Checkout::Unknown),
                "{id}"
            );
        }
    }

    #[test]
    fn expiry_removes_idle_sessions_only() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::open(dir.path()).unwrap();
        let idle = uploads.create("r", "-", Algorithm::Sha256).unwrap();
        let idle_id = idle.id.clone();
        drop(idle);
        let busy = uploads.create("r", "-", Algorithm::Sha256).unwrap();
        assert_eq!(uploads.expire(Duration::ZERO).unwrap(), 1);
        assert!(matches!(
            uploads.checkout(&idle_id).unwrap(),
            Checkout::Unknown
        ));
        drop(busy);
    }
}
