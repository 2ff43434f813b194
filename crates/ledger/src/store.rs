//! The ledger's files, in one directory:
//!
//! - `log`: append-only. A 16-byte header (`vouch-ledger/v1\n`), then records: a tag byte (`e`
//!   an entry, `c` a checkpoint), the payload's length (u32, big-endian), the payload, and a
//!   32-byte hash (an entry's RFC 6962 leaf hash; SHA-256 of a checkpoint). Each batch of
//!   entries is followed by the signed checkpoint of the tree that ends with it, written in the
//!   same `write` and made durable by one `fdatasync` before any entry of the batch is
//!   acknowledged. So every acknowledged entry lies before a checkpoint record, and what
//!   follows the last checkpoint was never acknowledged: a write a crash cut short.
//! - `checkpoint`: the latest checkpoint again (length, note, SHA-256), rewritten after each
//!   batch is durable and before it is acknowledged. It tells damage to the log's last batch
//!   apart from a torn write: a log that ends before the size this file states lost
//!   acknowledged entries.
//! - `log.key`: the log's Ed25519 checkpoint key (PKCS#8 PEM); `vkey`: its C2SP verifier key
//!   with the origin; `node.key`: the key the registry signs its own events with.
//!
//! [`scan`] reads the log once: it recomputes every leaf hash, rebuilds the tree, checks
//! every checkpoint against it (size, root, signature) and locates any damage by byte offset.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use verify::checkpoint::{Origin, SignedCheckpoint};
use verify::merkle::{self, Hash};
use verify::note;

use crate::tree::Tree;

pub const HEADER: &[u8; 16] = b"vouch-ledger/v1\n";
pub const TAG_ENTRY: u8 = b'e';
pub const TAG_CHECKPOINT: u8 = b'c';
/// Tag, length, and trailing hash.
pub const RECORD_OVERHEAD: usize = 1 + 4 + 32;
/// The largest payload a record may hold (entries are at most 64 KiB, checkpoints smaller).
const MAX_PAYLOAD: u32 = 1 << 20;

/// Appends an entry record to `buf`; returns the payload's offset within `buf`.
pub fn encode_entry(buf: &mut Vec<u8>, entry: &[u8], leaf: &Hash) -> usize {
    encode(buf, TAG_ENTRY, entry, leaf)
}

/// Appends a checkpoint record to `buf`.
pub fn encode_checkpoint(buf: &mut Vec<u8>, note: &[u8]) {
    let hash = verify::keys::sha256(note);
    encode(buf, TAG_CHECKPOINT, note, &hash);
}

fn encode(buf: &mut Vec<u8>, tag: u8, payload: &[u8], hash: &Hash) -> usize {
    buf.push(tag);
    // Entries are at most 64 KiB and notes a few hundred bytes.
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    let at = buf.len();
    buf.extend_from_slice(payload);
    buf.extend_from_slice(hash);
    at
}

/// The `checkpoint` file's bytes for `note`.
pub fn encode_checkpoint_file(note: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(note.len() + 36);
    buf.extend_from_slice(&(note.len() as u32).to_be_bytes());
    buf.extend_from_slice(note);
    buf.extend_from_slice(&verify::keys::sha256(note));
    buf
}

/// Reads the `checkpoint` file: the note, or why it cannot be used.
pub fn decode_checkpoint_file(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let (len, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or("shorter than its length field")?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() != len + 32 {
        return Err(format!(
            "states a {len}-byte checkpoint but holds {} bytes after the length",
            rest.len()
        ));
    }
    let (note, hash) = rest.split_at(len);
    if verify::keys::sha256(note) != hash {
        return Err("its checksum does not match".into());
    }
    Ok(note.to_vec())
}

/// Where an entry's bytes are in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryLocation {
    pub offset: u64,
    pub len: u32,
}

/// A checkpoint record of the log.
#[derive(Debug, Clone)]
pub struct CheckpointRecord {
    /// The record's offset.
    pub offset: u64,
    pub size: u64,
    pub note: Vec<u8>,
}

/// Something wrong in the log, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The byte offset of the record (or header) at fault.
    pub offset: u64,
    /// The entry, when the fault is in one.
    pub entry: Option<u64>,
    pub what: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.entry {
            Some(i) => write!(f, "log byte {}: entry {i}: {}", self.offset, self.what),
            None => write!(f, "log byte {}: {}", self.offset, self.what),
        }
    }
}

/// What [`scan`] found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The tree of the entries up to the last valid checkpoint.
    pub tree: Tree,
    pub entries: Vec<EntryLocation>,
    pub checkpoints: Vec<CheckpointRecord>,
    /// The offset just past the last valid checkpoint record: the log's committed length.
    pub committed_end: u64,
    /// The file's length.
    pub file_len: u64,
    /// Damage before `committed_end`: acknowledged data that is not what was written.
    pub damage: Vec<Damage>,
    /// What follows the last checkpoint, if anything: never acknowledged (a crash cut the
    /// write short), unless the `checkpoint` file says otherwise.
    pub tail: Option<Damage>,
}

/// How entries are checked as they are read: called once per batch (the entries between
/// two checkpoints), in order, with each entry's index and bytes; returns the damage found.
pub trait EntrySink {
    fn batch(&mut self, entries: &[(u64, Vec<u8>)]) -> Vec<(u64, String)>;
}

impl<F: FnMut(&[(u64, Vec<u8>)]) -> Vec<(u64, String)>> EntrySink for F {
    fn batch(&mut self, entries: &[(u64, Vec<u8>)]) -> Vec<(u64, String)> {
        self(entries)
    }
}

/// Reads the log at `path`: see the module documentation. `log` verifies checkpoint
/// signatures and `origin` their origin line.
pub fn scan(
    path: &Path,
    origin: &str,
    log: &note::Verifier,
    sink: &mut dyn EntrySink,
) -> io::Result<Scan> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut scan = Scan {
        file_len,
        ..Scan::default()
    };
    let mut header = [0u8; 16];
    if read_full(&mut reader, &mut header)? < 16 || &header != HEADER {
        scan.damage.push(Damage {
            offset: 0,
            entry: None,
            what: "the header is not vouch-ledger/v1".into(),
        });
        return Ok(scan);
    }
    let mut offset = HEADER.len() as u64;
    scan.committed_end = offset;
    // Entries since the last checkpoint: applied to the tree (and the sink) only when the
    // checkpoint that commits them is read.
    // `pending[k]` is (index, bytes), as the sink takes them; `pending_at[k]` its leaf hash
    // and location.
    let mut pending: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut pending_at: Vec<(Hash, EntryLocation)> = Vec::new();
    // Damage since the last checkpoint: acknowledged damage if a checkpoint follows.
    let mut pending_damage: Vec<Damage> = Vec::new();
    let origin_rule = Origin::Exact(origin.to_owned());
    let mut payload = Vec::new();
    loop {
        let record_at = offset;
        let mut head = [0u8; 5];
        let got = read_full(&mut reader, &mut head)?;
        if got == 0 {
            break;
        }
        let framing = |what: String| Damage {
            offset: record_at,
            entry: None,
            what,
        };
        if got < 5 {
            scan.tail = Some(framing("a record cut short in its header".into()));
            break;
        }
        let tag = head[0];
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if (tag != TAG_ENTRY && tag != TAG_CHECKPOINT) || len > MAX_PAYLOAD {
            let what = format!("not a record (tag {tag:#04x}, length {len})");
            scan.tail = Some(framing(what));
            break;
        }
        payload.resize(len as usize, 0);
        let mut hash = [0u8; 32];
        if read_full(&mut reader, &mut payload)? < payload.len()
            || read_full(&mut reader, &mut hash)? < 32
        {
            scan.tail = Some(framing("a record cut short".into()));
            break;
        }
        offset += (RECORD_OVERHEAD + payload.len()) as u64;
        let next_index = scan.tree.size() + pending.len() as u64;
        if tag == TAG_ENTRY {
            let leaf = merkle::leaf_hash(&payload);
            if leaf != hash {
                pending_damage.push(Damage {
                    offset: record_at,
                    entry: Some(next_index),
                    what: "the entry does not hash to its stored leaf hash".into(),
                });
            }
            let location = EntryLocation {
                offset: record_at + 5,
                len,
            };
            pending.push((next_index, payload.clone()));
            pending_at.push((leaf, location));
            continue;
        }
        // A checkpoint: it must commit exactly the entries read so far.
        let mut problems = Vec::new();
        if verify::keys::sha256(&payload) != hash {
            problems.push("the checkpoint does not match its stored hash".to_owned());
        }
        for (leaf, _) in &pending_at {
            scan.tree.push(*leaf);
        }
        let size = scan.tree.size();
        match SignedCheckpoint::parse(&payload) {
            Err(e) => problems.push(format!("the checkpoint does not parse: {e}")),
            Ok(signed) => {
                let c = signed.checkpoint();
                if c.size() != size {
                    problems.push(format!(
                        "the checkpoint states size {} after {size} entries",
                        c.size()
                    ));
                } else if c.root() != &scan.tree.root(size).expect("size is the tree's") {
                    problems.push(format!(
                        "the checkpoint's root for size {size} is not the entries' root"
                    ));
                }
                if let Err(e) = signed.verify(&origin_rule, log, &[]) {
                    problems.push(format!("the checkpoint does not verify: {e}"));
                }
            }
        }
        let first = pending.first().map_or(0, |(i, _)| *i);
        for (index, what) in sink.batch(&pending) {
            let at = index
                .checked_sub(first)
                .and_then(|k| pending_at.get(k as usize))
                .map_or(record_at, |(_, l)| l.offset - 5);
            pending_damage.push(Damage {
                offset: at,
                entry: Some(index),
                what,
            });
        }
        pending.clear();
        scan.entries.extend(pending_at.drain(..).map(|(_, l)| l));
        scan.damage.append(&mut pending_damage);
        scan.damage.extend(problems.into_iter().map(|what| Damage {
            offset: record_at,
            entry: None,
            what,
        }));
        scan.checkpoints.push(CheckpointRecord {
            offset: record_at,
            size,
            note: payload.clone(),
        });
        scan.committed_end = offset;
    }
    // Entries after the last checkpoint were never acknowledged.
    if scan.tail.is_none() && offset > scan.committed_end {
        scan.tail = Some(Damage {
            offset: scan.committed_end,
            entry: None,
            what: format!(
                "{} entries after the last checkpoint, never committed",
                pending.len()
            ),
        });
    }
    // A length field that changed makes its own record's hash mismatch before the framing
    // breaks further on: the first damage of the batch is where the fault is.
    if let Some(tail) = &mut scan.tail
        && let Some(first) = pending_damage.first()
    {
        *tail = Damage {
            offset: first.offset,
            entry: first.entry,
            what: format!(
                "{}; the records after it do not frame (at byte {}: {})",
                first.what, tail.offset, tail.what
            ),
        };
    }
    // A framing fault with a valid checkpoint record after it is damage to committed data,
    // not a torn write: find one (JSON entries cannot hold the raw bytes of a record header,
    // so a match is a real record).
    if let Some(tail) = &scan.tail
        && tail.offset < file_len
        && checkpoint_after(path, tail.offset + 1)?
    {
        let mut d = scan.tail.take().expect("checked above");
        d.what = format!("{}, with checkpoints after it", d.what);
        scan.damage.push(d);
    }
    Ok(scan)
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Whether a well-formed checkpoint record starts anywhere at or after `from`.
fn checkpoint_after(path: &Path, from: u64) -> io::Result<bool> {
    let bytes = std::fs::read(path)?;
    let from = usize::try_from(from).unwrap_or(usize::MAX);
    let Some(rest) = bytes.get(from..) else {
        return Ok(false);
    };
    for (i, _) in rest
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == TAG_CHECKPOINT)
    {
        let Some(len) = rest.get(i + 1..i + 5) else {
            break;
        };
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len == 0 || len > MAX_PAYLOAD as usize {
            continue;
        }
        let (Some(note), Some(hash)) = (
            rest.get(i + 5..i + 5 + len),
            rest.get(i + 5 + len..i + 5 + len + 32),
        ) else {
            continue;
        };
        if verify::keys::sha256(note) == hash {
            return Ok(true);
        }
    }
    Ok(false)
}
