//! `vouch ledger`: the transparency ledger seen from outside the server.
//!
//! - Offline, over a server's data directory: `vkey` prints the log's verifier key; `verify`
//!   reads every file of the ledger (opening nothing for writing), checks all it can and
//!   locates any damage by file, byte offset and entry.
//! - Online, over the ledger's HTTP API (`/ledger/` of a `vouch serve`): `checkpoint`, `get`,
//!   `prove` (every entry about a digest, each with its inclusion proof), `audit` (a monitor's
//!   consistency check, computed from the log's hash tiles rather than asked of the server)
//!   and `record` (sign an event and submit it).
//! - Over files a user was handed: `verify-proof` (a C2SP tlog-proof for an entry file).
//!
//! Nothing a server says is taken on trust: with `--vkey`, checkpoints are verified with the
//! log's key and entries proven included in them. Exit codes: 0 verified, 1 examined and not
//! verified (a bad proof, a fork, a damaged file, a rejected entry), 2 usage or I/O errors.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ledger::log::{CHECKPOINT, LOG, LOG_KEY, NODE_KEY, VKEY};
use ledger::store::{self, EntrySink};
use ledger::tiles::{RecordingSource, TileSource};
use ledger::{Applied, Authorities, Entry, Event, EventType, State, Submitter};
use serde_json::Value;
use verify::checkpoint::{Checkpoint, Origin, SignedCheckpoint, TlogProof, VerifiedCheckpoint};
use verify::keys::{KeyKind, PrivateKey, hex};
use verify::merkle::{self, Hash};
use verify::note;
use verify::time::Timestamp;

use crate::keygen;

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Print the log's verifier key (a C2SP vkey) from a server's data directory.
    ///
    /// Printed only if log.key is its key; exit code 1 if it is not.
    Vkey {
        /// The server's data directory (the ledger is in DIR/ledger).
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Check a ledger's files offline, changing nothing.
    ///
    /// Checks every record of the log (leaf hashes; every checkpoint's size, root and
    /// signature), every entry (its schema, its signature when its key is known, the ledger's
    /// rules replayed in order), the checkpoint file against the log, log.key against vkey,
    /// node.key against the entries it signed. Prints a summary and exits 0 if all is well;
    /// otherwise prints every problem, located by file (in the log by byte offset and entry),
    /// and exits 1. An unfinished batch after the log's last checkpoint (a crash cut it short;
    /// it was never acknowledged) is reported as such and is not damage: the next `vouch
    /// serve` cuts it.
    Verify(VerifyArgs),
    /// Print the log's current checkpoint (a signed note).
    ///
    /// With --vkey it is printed only if it verifies; exit code 1 if it does not.
    Checkpoint(CheckpointArgs),
    /// Print entry N, its exact JSON.
    ///
    /// With --vkey, prove that it is included in a checkpoint that verifies; exit code 1 if
    /// that fails.
    Get(GetArgs),
    /// List every entry about a digest, each proven included in one checkpoint.
    ///
    /// The digest is an artifact's (manifest or config), evidence, a policy or a key
    /// fingerprint. One line per entry: index, type, subject, time, actor. With --output-dir,
    /// INDEX.json (the entry) and INDEX.tlog-proof are written for offline checks with
    /// verify-proof. Exit code 1 if an entry does not prove or none is found.
    Prove(ProveArgs),
    /// Check a C2SP tlog-proof for an entry file, offline.
    ///
    /// The checkpoint must verify with --vkey and include the entry: the RFC 6962 leaf of the
    /// file's bytes (a final newline, which `get` prints and no entry has, is ignored).
    VerifyProof(VerifyProofArgs),
    /// Check, as a monitor or witness does, that the log only grew since a checkpoint.
    ///
    /// Both checkpoints must verify, the new one be at least as large, and the log's hash
    /// tiles hash to both roots, with a consistency proof computed from the tiles (not asked
    /// of the server). Exit code 1 on a fork or a rollback.
    Audit(AuditArgs),
    /// Sign an event with a key and submit it to the ledger.
    ///
    /// The server must list the key's public key as a submitter of that event type. Prints
    /// the entry's index; exit code 1 if the server rejects it (its code and reason are
    /// printed). Key passwords as for sign-blob.
    Record(Box<RecordArgs>),
}

/// Where the ledger is served, and who asks.
#[derive(Args)]
pub struct Remote {
    /// The server's base URL; the ledger API is under /ledger/. Plain http:// is allowed only
    /// to a loopback address.
    #[arg(long)]
    pub url: String,
    /// A user name for a server with users (HTTP basic auth).
    #[arg(long, requires = "registry_password")]
    pub registry_username: Option<String>,
    /// The password for --registry-username.
    #[arg(long, requires = "registry_username")]
    pub registry_password: Option<String>,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The server's data directory (the ledger is in DIR/ledger); by default the one the
    /// configuration names.
    #[arg(long, value_name = "DIR", required_unless_present = "config")]
    data: Option<PathBuf>,
    /// The server's configuration file: the keys of its [[ledger.submitters]] are checked
    /// too, and then every entry must be signed by node.key or one of them.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    remote: Remote,
    /// The log's verifier key (C2SP vkey, as `vouch ledger vkey` prints it), or a file
    /// holding it. Its name is the log's origin.
    #[arg(long)]
    vkey: Option<String>,
}

#[derive(Args)]
pub struct GetArgs {
    /// The entry's index.
    index: u64,
    #[command(flatten)]
    remote: Remote,
    /// The log's verifier key, or a file holding it.
    #[arg(long)]
    vkey: Option<String>,
}

#[derive(Args)]
pub struct ProveArgs {
    /// The digest the entries are about: an artifact's manifest or config digest, evidence,
    /// a policy, or a key's sha256 fingerprint.
    #[arg(long)]
    digest: String,
    #[command(flatten)]
    remote: Remote,
    /// The log's verifier key, or a file holding it. Without it the checkpoint's signature
    /// is not checked (the inclusion proofs still are, against its root).
    #[arg(long)]
    vkey: Option<String>,
    /// Write INDEX.json and INDEX.tlog-proof for each entry into this directory.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyProofArgs {
    /// The log's verifier key, or a file holding it.
    #[arg(long)]
    vkey: String,
    /// The C2SP tlog-proof file.
    #[arg(long)]
    proof: PathBuf,
    /// The entry file.
    entry: PathBuf,
}

#[derive(Args)]
pub struct AuditArgs {
    #[command(flatten)]
    remote: Remote,
    /// A checkpoint of the log seen before (a signed note, as `checkpoint` prints it).
    #[arg(long, value_name = "CHECKPOINT_FILE")]
    from: PathBuf,
    /// The log's verifier key, or a file holding it.
    #[arg(long)]
    vkey: String,
    /// After a successful audit, write the new checkpoint over CHECKPOINT_FILE.
    #[arg(long)]
    save: bool,
}

#[derive(Args)]
pub struct RecordArgs {
    #[command(flatten)]
    remote: Remote,
    /// The private key: cosign's encrypted format, or PKCS#8, SEC1 or PKCS#1 PEM.
    #[arg(long)]
    key: PathBuf,
    /// The event type: artifact.pushed, artifact.deleted, signature.attached,
    /// attestation.attached, policy.updated, artifact.admitted, artifact.denied, key.revoked,
    /// deploy.allowed, deploy.denied, drift.detected or build.recorded.
    #[arg(long = "type", value_name = "TYPE")]
    kind: String,
    /// The subject's digest (for key.revoked, the revoked key's sha256 fingerprint).
    #[arg(long)]
    digest: String,
    /// The subject's repository.
    #[arg(long)]
    repository: Option<String>,
    /// The subject's tag.
    #[arg(long)]
    tag: Option<String>,
    /// The subject's name (a policy's, for policy.updated).
    #[arg(long)]
    name: Option<String>,
    /// The digest of a piece of evidence (repeatable).
    #[arg(long, value_name = "DIGEST")]
    evidence: Vec<String>,
    /// A detail, as a string (KEY=VALUE, repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    detail: Vec<String>,
    /// A detail, as JSON (KEY=JSON, repeatable), e.g. reasons=["unsigned"].
    #[arg(long, value_name = "KEY=JSON")]
    detail_json: Vec<String>,
    /// Who caused the event; by default the signing key's fingerprint.
    #[arg(long)]
    actor: Option<String>,
    /// When it happened (RFC 3339); by default now.
    #[arg(long)]
    time: Option<String>,
    /// The log's verifier key, or a file holding it: the receipt's checkpoint must verify.
    #[arg(long)]
    vkey: Option<String>,
    /// Write the entry's tlog-proof (the server's receipt) to this file.
    #[arg(long)]
    output: Option<PathBuf>,
}

pub fn run(command: LedgerCommand) -> anyhow::Result<ExitCode> {
    match command {
        LedgerCommand::Vkey { data } => vkey(&data.join("ledger")),
        LedgerCommand::Verify(args) => verify_files(args),
        LedgerCommand::VerifyProof(args) => verify_proof(args),
        online => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(async {
                match online {
                    LedgerCommand::Checkpoint(args) => checkpoint(args).await,
                    LedgerCommand::Get(args) => get(args).await,
                    LedgerCommand::Prove(args) => prove(args).await,
                    LedgerCommand::Audit(args) => audit(args).await,
                    LedgerCommand::Record(args) => record(*args).await,
                    LedgerCommand::Vkey { .. }
                    | LedgerCommand::Verify(_)
                    | LedgerCommand::VerifyProof(_) => unreachable!("handled above"),
                }
            })
        }
    }
}

/// Exit code 1 with a one-line reason: examined, and not verified.
pub(crate) fn denied(reason: &str) -> ExitCode {
    eprintln!("vouch: not verified: {reason}");
    ExitCode::from(1)
}

/// A checkpoint in one line: origin, size and root.
fn describe(c: &Checkpoint) -> String {
    format!(
        "{} size {} root {}",
        c.origin(),
        c.size(),
        B64.encode(c.root())
    )
}

/// The log's verifier from --vkey: a C2SP vkey, or a file holding one.
pub(crate) fn load_vkey(arg: &str) -> anyhow::Result<note::Verifier> {
    let path = Path::new(arg);
    let text = if path.is_file() {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the vkey file {}", path.display()))?
    } else {
        arg.to_owned()
    };
    note::Verifier::from_vkey(text.trim()).with_context(|| {
        format!("--vkey {arg:?} is not a C2SP verifier key (name+id+key) nor a file holding one")
    })
}

/// Verifies a checkpoint's signature by the log, whose origin is the verifier's name.
pub(crate) fn verify_checkpoint(
    signed: &SignedCheckpoint,
    log: &note::Verifier,
) -> Result<VerifiedCheckpoint, String> {
    signed
        .verify(&Origin::Exact(log.name().to_owned()), log, &[])
        .map_err(|e| e.to_string())
}

pub(crate) fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

// ---------------------------------------------------------------------------------------------
// Offline: the files of a data directory

fn vkey(dir: &Path) -> anyhow::Result<ExitCode> {
    let vkey_path = dir.join(VKEY);
    let text = std::fs::read_to_string(&vkey_path)
        .with_context(|| format!("cannot read {}", vkey_path.display()))?;
    let vkey = text.trim_end_matches('\n');
    let verifier = match note::Verifier::from_vkey(vkey) {
        Ok(v) => v,
        Err(e) => return Ok(denied(&format!("{}: {e}", vkey_path.display()))),
    };
    let key_path = dir.join(LOG_KEY);
    let pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("cannot read {}", key_path.display()))?;
    let signer = PrivateKey::from_pem(&pem)
        .map_err(|e| e.to_string())
        .and_then(|k| {
            note::Signer::from_private_key(verifier.name(), k).map_err(|e| e.to_string())
        });
    match signer {
        Ok(s) if s.vkey() == vkey => {
            println!("{vkey}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(s) => Ok(denied(&format!(
            "{} is the key of {}, not of the vkey {vkey}",
            key_path.display(),
            s.vkey()
        ))),
        Err(e) => Ok(denied(&format!("{}: {e}", key_path.display()))),
    }
}

/// What `verify` found: problems (each starting with the file at fault) and notes.
#[derive(Default)]
struct Findings {
    problems: Vec<String>,
    notes: Vec<String>,
}

fn verify_files(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let with_config = args.config.is_some();
    let overrides = server::config::Overrides {
        data_dir: args.data,
        ..server::config::Overrides::default()
    };
    let config = server::Config::load(args.config.as_deref(), overrides)?;
    let dir = config.ledger_dir();
    ensure!(
        dir.join(LOG).is_file(),
        "{} holds no ledger (no {LOG} file)",
        dir.display()
    );
    let mut found = Findings::default();

    // The keys, each in the exact form the ledger writes it.
    let vkey = read_vkey(&dir, &mut found.problems)?;
    let log_key = read_key_file(&dir, LOG_KEY, &mut found.problems)?;
    let node_key = read_key_file(&dir, NODE_KEY, &mut found.problems)?;
    let cp_file = read_checkpoint_file(&dir, &mut found.problems)?;
    let Some(log) = log_verifier(
        &dir,
        vkey,
        log_key,
        cp_file.as_ref().map(|(_, c)| c),
        &mut found.problems,
    )?
    else {
        return Ok(finish(&dir, found, None));
    };

    // The entries: signatures of the known keys, and the rules replayed in order.
    let node_public = node_key.as_ref().map(PrivateKey::public_key).transpose()?;
    let mut authorities = Authorities::new();
    if let Some(key) = &node_public {
        authorities.allow(Submitter {
            name: "node.key".into(),
            key: key.clone(),
            events: EventType::ALL.into_iter().collect(),
        });
    }
    for s in &config.ledger.submitters {
        authorities.allow(s.clone());
    }
    let mut replay = Replay {
        authorities: &authorities,
        node: node_public
            .as_ref()
            .map(verify::keys::PublicKey::fingerprint),
        state: State::new(),
        rules_stopped: None,
        verified: BTreeMap::new(),
        unknown: BTreeMap::new(),
        node_signed: 0,
    };
    let log_path = dir.join(LOG);
    let scan = store::scan(&log_path, log.name(), &log, &mut replay)
        .with_context(|| format!("cannot read {}", log_path.display()))?;
    found
        .problems
        .extend(scan.damage.iter().map(ToString::to_string));
    if scan.checkpoints.is_empty() && scan.damage.is_empty() {
        found.problems.push(format!(
            "{LOG}: holds no checkpoint (a ledger starts with one)"
        ));
    }
    if let Some(i) = replay.rules_stopped {
        found.notes.push(format!(
            "the ledger's rules were not replayed past entry {i}, the first that failed"
        ));
    }
    if with_config && config.ledger.origin != log.name() {
        found.notes.push(format!(
            "the configuration's origin {:?} is not the ledger's {:?}: vouch serve refuses to \
             open it",
            config.ledger.origin,
            log.name()
        ));
    }

    // The checkpoint file against the log.
    let size = scan.tree.size();
    let mut tail = scan.tail.clone();
    if let Some((note, signed)) = &cp_file {
        if let Err(e) = verify_checkpoint(signed, &log) {
            found.problems.push(format!(
                "{CHECKPOINT}: does not verify with the log's key: {e}"
            ));
        }
        let c = signed.checkpoint();
        // The same note as one of the log's checkpoint records: the file agrees with the log's
        // signed history, whatever damage the log's entries have.
        let in_log = scan.checkpoints.iter().any(|r| r.note == *note);
        if c.size() > size {
            let what = format!(
                "the log reads as {size} committed entries, but {} were acknowledged (the \
                 {CHECKPOINT} file): acknowledged entries are damaged or lost",
                c.size()
            );
            match tail.take() {
                Some(t) => found.problems.push(format!("{t}: {what}")),
                None => found
                    .problems
                    .push(format!("{LOG} byte {}: {what}", scan.committed_end)),
            }
        } else if !in_log && scan.tree.root(c.size()).ok().as_ref() != Some(c.root()) {
            found.problems.push(format!(
                "{CHECKPOINT}: its root for size {} is not the log's",
                c.size()
            ));
        } else if c.size() < size {
            found.notes.push(format!(
                "the {CHECKPOINT} file is at size {}, the log at {size}: the server stopped \
                 before rewriting it; the next start does",
                c.size()
            ));
        }
    }
    if let Some(t) = tail {
        found.notes.push(format!(
            "{t}: an unfinished batch (a crash cut it short; never acknowledged); the next \
             `vouch serve` cuts it"
        ));
    }

    // node.key against the entries' signers.
    let unknown_entries: u64 = replay.unknown.values().map(|(n, _)| n).sum();
    if let Some(key) = &node_public
        && replay.node_signed == 0
        && unknown_entries > 0
    {
        let signers: Vec<String> = replay
            .unknown
            .keys()
            .map(|k| format!("sha256:{}", hex(k)))
            .collect();
        let hint = if with_config {
            String::new()
        } else {
            " (if those are submitters' keys, give --config)".into()
        };
        found.problems.push(format!(
            "{NODE_KEY}: its key {} signs none of the {unknown_entries} entries, which are \
             signed by {}: {NODE_KEY} is damaged or is not this ledger's{hint}",
            ledger::event::fingerprint(key),
            signers.join(", ")
        ));
    } else if with_config && node_public.is_some() {
        // (Without node.key, the node's own entries are among these: its problem is reported.)
        for (key, (count, first)) in &replay.unknown {
            // The record starts at its tag and length, before the entry's bytes.
            let at = usize::try_from(*first)
                .ok()
                .and_then(|i| scan.entries.get(i))
                .map_or(0, |l| l.offset - 5);
            found.problems.push(format!(
                "{LOG} byte {at}: entry {first}: signed by sha256:{}, neither {NODE_KEY} nor a \
                 configured submitter ({count} entries)",
                hex(key)
            ));
        }
    }

    let summary = Summary {
        entries: scan.entries.len(),
        checkpoints: scan.checkpoints.len(),
        size,
        root: scan.tree.root(size).ok(),
        origin: log.name().to_owned(),
        verified: replay.verified,
        unknown: unknown_entries,
    };
    Ok(finish(&dir, found, Some(summary)))
}

/// The figures `verify` reports.
struct Summary {
    entries: usize,
    checkpoints: usize,
    size: u64,
    root: Option<Hash>,
    origin: String,
    verified: BTreeMap<String, u64>,
    unknown: u64,
}

fn finish(dir: &Path, found: Findings, summary: Option<Summary>) -> ExitCode {
    let mut out = String::new();
    if let Some(s) = &summary {
        let signed: u64 = s.verified.values().sum();
        let by: Vec<String> = s.verified.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.push_str(&format!(
            "ledger {}\norigin: {}\nentries: {}, checkpoints: {}\ntree size: {}, root: {}\n\
             signatures verified: {signed}{}; signed by keys not given: {}\n",
            dir.display(),
            s.origin,
            s.entries,
            s.checkpoints,
            s.size,
            s.root.map_or_else(|| "?".into(), |r| B64.encode(r)),
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join(", "))
            },
            s.unknown,
        ));
    }
    for note in &found.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for problem in &found.problems {
        out.push_str(&format!("damaged: {problem}\n"));
    }
    let _ = write_stdout(out.as_bytes());
    if found.problems.is_empty() {
        eprintln!("Verified OK: the ledger in {} is intact", dir.display());
        ExitCode::SUCCESS
    } else {
        denied(&format!(
            "the ledger in {} is damaged ({} problems)",
            dir.display(),
            found.problems.len()
        ))
    }
}

/// A file of the ledger's directory; a missing one is a problem, other read errors are I/O
/// errors.
fn read_ledger_file(
    dir: &Path,
    name: &str,
    problems: &mut Vec<String>,
) -> anyhow::Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.push(format!("{name}: missing"));
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// `vkey`: one C2SP vkey and a newline, exactly as the ledger writes it.
fn read_vkey(dir: &Path, problems: &mut Vec<String>) -> anyhow::Result<Option<note::Verifier>> {
    let Some(bytes) = read_ledger_file(dir, VKEY, problems)? else {
        return Ok(None);
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        problems.push(format!("{VKEY}: not UTF-8 text"));
        return Ok(None);
    };
    let line = text.trim_end_matches('\n');
    let verifier = match note::Verifier::from_vkey(line) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("{VKEY}: not a C2SP verifier key: {e}"));
            return Ok(None);
        }
    };
    if verifier.vkey().map(|v| v + "\n").as_deref() != Some(text) {
        problems.push(format!(
            "{VKEY}: not byte for byte the vkey and newline the ledger writes"
        ));
    }
    Ok(Some(verifier))
}

/// `log.key` or `node.key`: an Ed25519 key in the exact PKCS#8 PEM the ledger writes. A key
/// that parses is returned even if its file is not in that form (the form is reported).
fn read_key_file(
    dir: &Path,
    name: &str,
    problems: &mut Vec<String>,
) -> anyhow::Result<Option<PrivateKey>> {
    let Some(bytes) = read_ledger_file(dir, name, problems)? else {
        return Ok(None);
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        problems.push(format!("{name}: not UTF-8 text, so not a PEM key"));
        return Ok(None);
    };
    let key = match PrivateKey::from_pem(text) {
        Ok(k) => k,
        Err(e) => {
            problems.push(format!("{name}: not a PEM private key: {e}"));
            return Ok(None);
        }
    };
    if key.kind() != KeyKind::Ed25519 {
        problems.push(format!(
            "{name}: a {:?} key; the ledger's keys are Ed25519",
            key.kind()
        ));
        return Ok(None);
    }
    let canonical = key
        .to_pkcs8_der()
        .map(|der| verify::pem::encode("PRIVATE KEY", &der));
    if canonical.as_deref().ok() != Some(text) {
        problems.push(format!(
            "{name}: not byte for byte the PKCS#8 PEM the ledger writes for its key"
        ));
    }
    Ok(Some(key))
}

/// The `checkpoint` file: its note and the checkpoint, if its framing and checksum hold and it
/// is a checkpoint.
fn read_checkpoint_file(
    dir: &Path,
    problems: &mut Vec<String>,
) -> anyhow::Result<Option<(Vec<u8>, SignedCheckpoint)>> {
    let Some(bytes) = read_ledger_file(dir, CHECKPOINT, problems)? else {
        return Ok(None);
    };
    let note = match store::decode_checkpoint_file(&bytes) {
        Ok(n) => n,
        Err(e) => {
            problems.push(format!("{CHECKPOINT}: {e}"));
            return Ok(None);
        }
    };
    match SignedCheckpoint::parse(&note) {
        Ok(c) => Ok(Some((note, c))),
        Err(e) => {
            problems.push(format!("{CHECKPOINT}: not a checkpoint: {e}"));
            Ok(None)
        }
    }
}

/// The log's first record, the empty tree's checkpoint written when the ledger was created,
/// if its framing and hash hold.
fn first_checkpoint(path: &Path) -> anyhow::Result<Option<SignedCheckpoint>> {
    use std::io::Read as _;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let start = store::HEADER.len() + 5;
    let Some(record) = head.get(store::HEADER.len()..start) else {
        return Ok(None);
    };
    if record[0] != store::TAG_CHECKPOINT {
        return Ok(None);
    }
    let len = u32::from_be_bytes([record[1], record[2], record[3], record[4]]) as usize;
    let (Some(note), Some(hash)) = (
        head.get(start..start + len),
        head.get(start + len..start + len + 32),
    ) else {
        return Ok(None);
    };
    if verify::keys::sha256(note) != hash {
        return Ok(None);
    }
    Ok(SignedCheckpoint::parse(note).ok())
}

/// The verifier of the log's checkpoints. When `vkey` and `log.key` disagree, the one the
/// checkpoints (the checkpoint file's and the log's first) verify with is right and the other
/// is damaged; when one of them does not parse, the other is used.
fn log_verifier(
    dir: &Path,
    vkey: Option<note::Verifier>,
    log_key: Option<PrivateKey>,
    cp_file: Option<&SignedCheckpoint>,
    problems: &mut Vec<String>,
) -> anyhow::Result<Option<note::Verifier>> {
    let mut samples: Vec<SignedCheckpoint> = cp_file.into_iter().cloned().collect();
    samples.extend(first_checkpoint(&dir.join(LOG))?);
    let origin = match &vkey {
        Some(v) => Some(v.name().to_owned()),
        None => samples.first().map(|c| c.checkpoint().origin().to_owned()),
    };
    let from_key = match (log_key, &origin) {
        (Some(key), Some(origin)) => match note::Signer::from_private_key(origin, key) {
            Ok(signer) => Some(signer.verifier()),
            Err(e) => {
                problems.push(format!("{LOG_KEY}: cannot sign checkpoints: {e}"));
                None
            }
        },
        _ => None,
    };
    let verifies = |v: &note::Verifier| {
        samples
            .iter()
            .filter(|c| verify_checkpoint(c, v).is_ok())
            .count()
    };
    Ok(match (vkey, from_key) {
        (Some(v), Some(k)) if v.vkey() == k.vkey() => Some(v),
        (Some(v), Some(k)) => {
            let (by_vkey, by_key) = (verifies(&v), verifies(&k));
            if by_key > 0 && by_vkey == 0 {
                problems.push(format!(
                    "{VKEY}: it is not the key of {LOG_KEY} ({}), which the checkpoints verify \
                     with: {VKEY} is damaged",
                    k.vkey().unwrap_or_default()
                ));
                Some(k)
            } else if by_vkey > 0 && by_key == 0 {
                problems.push(format!(
                    "{LOG_KEY}: its key ({}) is not the key of {VKEY}, which the checkpoints \
                     verify with: {LOG_KEY} is damaged",
                    k.vkey().unwrap_or_default()
                ));
                Some(v)
            } else {
                problems.push(format!(
                    "{LOG_KEY} and {VKEY} hold different keys, and the checkpoints do not tell \
                     which is right"
                ));
                Some(v)
            }
        }
        (Some(v), None) => Some(v),
        (None, Some(k)) => Some(k),
        (None, None) => {
            problems.push(format!(
                "neither {VKEY} nor {LOG_KEY} gives the log's key: the checkpoints cannot be \
                 verified"
            ));
            None
        }
    })
}

/// The entry checks `verify` runs as the log is scanned.
struct Replay<'a> {
    authorities: &'a Authorities,
    /// node.key's fingerprint.
    node: Option<[u8; 32]>,
    state: State,
    /// The first entry the rules rejected: later entries are not replayed (the state they
    /// would be checked against is not the log's).
    rules_stopped: Option<u64>,
    /// Signatures verified, by signer.
    verified: BTreeMap<String, u64>,
    /// Entries signed by keys not given: count and first index, by key.
    unknown: BTreeMap<[u8; 32], (u64, u64)>,
    node_signed: u64,
}

impl EntrySink for Replay<'_> {
    fn batch(&mut self, entries: &[(u64, Vec<u8>)]) -> Vec<(u64, String)> {
        let mut damage = Vec::new();
        for (index, bytes) in entries {
            let index = *index;
            let entry = match Entry::parse(bytes) {
                Ok(e) => e,
                Err(e) => {
                    damage.push((index, format!("the entry does not parse: {e}")));
                    self.rules_stopped.get_or_insert(index);
                    continue;
                }
            };
            if Some(entry.key) == self.node {
                self.node_signed += 1;
            }
            match self.authorities.submitter(&entry.key) {
                Some(s) => {
                    if !s.events.contains(&entry.event.kind) {
                        damage.push((
                            index,
                            format!("{} is not allowed to record {}", s.name, entry.event.kind),
                        ));
                    }
                    match entry.verify_signature(&s.key) {
                        Ok(()) => *self.verified.entry(s.name.clone()).or_default() += 1,
                        Err(e) => damage.push((index, format!("signed by {}: {e}", s.name))),
                    }
                }
                None => self.unknown.entry(entry.key).or_insert((0, index)).0 += 1,
            }
            if self.rules_stopped.is_some() {
                continue;
            }
            let problem = match self.state.apply(&entry, merkle::leaf_hash(bytes)) {
                Ok(Applied::Appended(i)) if i == index => continue,
                Ok(Applied::Appended(i)) => format!("replays as entry {i}"),
                Ok(Applied::Duplicate(i)) => {
                    format!("the same bytes as entry {i}: the log never appends an entry twice")
                }
                Err(r) => format!("breaks the ledger's rules: {r}"),
            };
            damage.push((index, problem));
            self.rules_stopped = Some(index);
        }
        damage
    }
}

// ---------------------------------------------------------------------------------------------
// Offline: a tlog-proof handed over

fn verify_proof(args: VerifyProofArgs) -> anyhow::Result<ExitCode> {
    let log = load_vkey(&args.vkey)?;
    let proof_bytes = std::fs::read(&args.proof)
        .with_context(|| format!("cannot read {}", args.proof.display()))?;
    let mut entry = std::fs::read(&args.entry)
        .with_context(|| format!("cannot read {}", args.entry.display()))?;
    if entry.last() == Some(&b'\n') {
        entry.pop();
    }
    let proof = match TlogProof::parse(&proof_bytes) {
        Ok(p) => p,
        Err(e) => {
            return Ok(denied(&format!(
                "{} is not a tlog-proof: {e}",
                args.proof.display()
            )));
        }
    };
    let origin = Origin::Exact(log.name().to_owned());
    match proof.verify(&merkle::leaf_hash(&entry), &origin, &log, &[]) {
        Ok(c) => {
            if let Ok(e) = Entry::parse(&entry) {
                println!("{}", entry_line(proof.index(), &e.event));
            }
            eprintln!(
                "Verified OK: entry {} is in the checkpoint {}",
                proof.index(),
                describe(c.checkpoint())
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(denied(&format!(
            "{} does not prove {} is in the log: {e}",
            args.proof.display(),
            args.entry.display()
        ))),
    }
}

/// An entry in one line: index, type, subject, time, actor.
fn entry_line(index: u64, e: &Event) -> String {
    let s = &e.subject;
    let digest = s.digest.as_ref().map(ToString::to_string);
    let subject = match (&s.repository, &s.name, &digest, &s.key) {
        (Some(repo), _, Some(d), _) => format!("{repo}@{d}"),
        (None, Some(name), Some(d), _) => format!("{name}@{d}"),
        (None, None, Some(d), _) => d.clone(),
        (_, _, None, Some(key)) => key.clone(),
        _ => "-".into(),
    };
    format!(
        "{index} {} {subject} {} {}",
        e.kind,
        e.time.to_rfc3339(),
        e.actor
    )
}

// ---------------------------------------------------------------------------------------------
// Online: the ledger's HTTP API

/// The ledger API of one server.
pub(crate) struct Api {
    http: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    /// `Basic <token>` when the caller gave credentials.
    authorization: Option<String>,
}

/// A response, read whole.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// For connecting, for the response head, and for the body.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The largest response read: a full entry bundle (256 entries of at most 64 KiB).
const MAX_BODY: usize = 256 * (ledger::event::MAX_ENTRY_BYTES + 2) + 64 * 1024;

impl Api {
    pub(crate) fn new(remote: &Remote) -> anyhow::Result<Api> {
        let url = remote.url.as_str();
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--url {url:?} is not a URL"))?;
        let host = uri
            .host()
            .with_context(|| format!("--url {url:?} names no host"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if is_loopback(host) => false,
            Some("http") => {
                bail!("--url {url}: plain HTTP is allowed only to a loopback address; use https://")
            }
            _ => bail!("--url {url:?} is not an http:// or https:// URL"),
        };
        ensure!(uri.query().is_none(), "--url {url:?} has a query");
        let mut roots = rustls::RootCertStore::empty();
        if https {
            // Unusable system certificates are skipped, as the registry client does.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("cannot set up TLS")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false); // the TLS layer decides by the URL's scheme
        http.set_connect_timeout(Some(TIMEOUT));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let authorization = match (&remote.registry_username, &remote.registry_password) {
            (Some(user), Some(password)) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            _ => None,
        };
        Ok(Api {
            http: HyperClient::builder(TokioExecutor::new()).build(connector),
            base: url.trim_end_matches('/').to_owned(),
            authorization,
        })
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.base);
        let mut req = Request::builder()
            .method(method.clone())
            .uri(url.as_str())
            .header(USER_AGENT, concat!("vouch/", env!("CARGO_PKG_VERSION")));
        if body.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        if let Some(a) = &self.authorization {
            req = req.header(hyper::header::AUTHORIZATION, a);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .with_context(|| format!("cannot build the request {method} {url}"))?;
        let resp = tokio::time::timeout(TIMEOUT, self.http.request(req))
            .await
            .map_err(|_| anyhow!("{method} {url}: no answer in {} s", TIMEOUT.as_secs()))?
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status().as_u16();
        let body =
            tokio::time::timeout(TIMEOUT, Limited::new(resp.into_body(), MAX_BODY).collect())
                .await
                .map_err(|_| {
                    anyhow!(
                        "{method} {url}: the body did not arrive in {} s",
                        TIMEOUT.as_secs()
                    )
                })?
                .map_err(|e| anyhow!("{method} {url}: cannot read the body: {e}"))?
                .to_bytes();
        Ok(Answer { status, body })
    }

    /// GET `path` (below the base URL), which must answer 200.
    async fn get(&self, path: &str) -> anyhow::Result<Bytes> {
        let answer = self.send(Method::GET, path, None).await?;
        if answer.status != 200 {
            bail!("GET {}{path}: {}", self.base, answer.describe());
        }
        Ok(answer.body)
    }

    /// GET `path`, a JSON answer.
    pub(crate) async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let body = self.get(path).await?;
        serde_json::from_slice(&body)
            .with_context(|| format!("GET {}{path}: the answer is not JSON", self.base))
    }

    /// The current checkpoint, parsed (not verified).
    async fn checkpoint(&self) -> anyhow::Result<(Bytes, SignedCheckpoint)> {
        let bytes = self.get("/ledger/checkpoint").await?;
        let signed = SignedCheckpoint::parse(&bytes)
            .with_context(|| format!("{}/ledger/checkpoint is not a checkpoint", self.base))?;
        Ok((bytes, signed))
    }
}

impl Answer {
    /// The status and the server's error codes and messages, in one line.
    pub(crate) fn describe(&self) -> String {
        let errors = server_errors(&self.body);
        if errors.is_empty() {
            let text = String::from_utf8_lossy(&self.body);
            let first = text.lines().next().unwrap_or_default();
            return format!(
                "status {} {}",
                self.status,
                first.chars().take(200).collect::<String>()
            );
        }
        let errors: Vec<String> = errors.iter().map(|(c, m)| format!("{c}: {m}")).collect();
        format!("status {}: {}", self.status, errors.join("; "))
    }
}

/// The `{"errors":[{"code","message"}]}` of an error answer.
fn server_errors(body: &[u8]) -> Vec<(String, String)> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let text = |e: &Value, k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    value
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .map(|e| (text(e, "code"), text(e, "message")))
                .collect()
        })
        .unwrap_or_default()
}

/// `localhost`, or an IP address of the loopback network.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Hashes as the proof endpoints give them: `{"proof": ["<base64>", ..]}`.
pub(crate) fn proof_hashes(value: &Value) -> anyhow::Result<Vec<Hash>> {
    value
        .get("proof")
        .and_then(Value::as_array)
        .context("the answer has no \"proof\" array")?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|s| B64.decode(s).ok())
                .and_then(|b| Hash::try_from(b).ok())
                .context("a proof hash is not 32 bytes of base64")
        })
        .collect()
}

async fn checkpoint(args: CheckpointArgs) -> anyhow::Result<ExitCode> {
    let log = args.vkey.as_deref().map(load_vkey).transpose()?;
    let api = Api::new(&args.remote)?;
    let (bytes, signed) = api.checkpoint().await?;
    if let Some(log) = &log {
        match verify_checkpoint(&signed, log) {
            Ok(c) => eprintln!("Verified OK: {}", describe(c.checkpoint())),
            Err(e) => return Ok(denied(&format!("the log's checkpoint: {e}"))),
        }
    }
    write_stdout(&bytes)?;
    Ok(ExitCode::SUCCESS)
}

async fn get(args: GetArgs) -> anyhow::Result<ExitCode> {
    let log = args.vkey.as_deref().map(load_vkey).transpose()?;
    let api = Api::new(&args.remote)?;
    let index = args.index;
    let entry = api.get(&format!("/ledger/entry/{index}")).await?;
    if let Some(log) = &log {
        let text = api.get(&format!("/ledger/tlog-proof/{index}")).await?;
        let proof = match TlogProof::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                return Ok(denied(&format!(
                    "the server's tlog-proof does not parse: {e}"
                )));
            }
        };
        if proof.index() != index {
            return Ok(denied(&format!(
                "asked for a proof of entry {index}, the server proved entry {}",
                proof.index()
            )));
        }
        let origin = Origin::Exact(log.name().to_owned());
        match proof.verify(&merkle::leaf_hash(&entry), &origin, log, &[]) {
            Ok(c) => eprintln!(
                "Verified OK: entry {index} is in the checkpoint {}",
                describe(c.checkpoint())
            ),
            Err(e) => return Ok(denied(&format!("entry {index}: {e}"))),
        }
    }
    let mut out = entry.to_vec();
    out.push(b'\n');
    write_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

async fn prove(args: ProveArgs) -> anyhow::Result<ExitCode> {
    let digest = oci::Digest::parse(&args.digest)
        .with_context(|| format!("--digest {:?} is not a digest", args.digest))?;
    let log = args.vkey.as_deref().map(load_vkey).transpose()?;
    let api = Api::new(&args.remote)?;
    // The lookup first: the checkpoint fetched after it includes every entry it names.
    let lookup = api
        .get_json(&format!("/ledger/lookup?digest={digest}"))
        .await?;
    let indexes: Vec<u64> = lookup
        .get("entries")
        .and_then(Value::as_array)
        .context("the lookup answer has no \"entries\" array")?
        .iter()
        .map(|e| {
            e.as_u64()
                .or_else(|| e.get("index").and_then(Value::as_u64))
        })
        .collect::<Option<_>>()
        .context("the lookup answer's entries are not indexes")?;
    let (cp_bytes, signed) = api.checkpoint().await?;
    let checkpoint = match &log {
        Some(log) => match verify_checkpoint(&signed, log) {
            Ok(c) => c.checkpoint().clone(),
            Err(e) => return Ok(denied(&format!("the log's checkpoint: {e}"))),
        },
        None => signed.checkpoint().clone(),
    };
    if indexes.is_empty() {
        return Ok(denied(&format!("the ledger holds no entry about {digest}")));
    }
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let size = checkpoint.size();
    let mut problems = Vec::new();
    for index in indexes {
        if index >= size {
            problems.push(format!(
                "entry {index}: beyond the checkpoint of size {size}"
            ));
            continue;
        }
        let bytes = api.get(&format!("/ledger/entry/{index}")).await?;
        let entry = match Entry::parse(&bytes) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("entry {index}: not an entry: {e}"));
                continue;
            }
        };
        if !names(&entry.event, digest.as_str()) {
            problems.push(format!("entry {index}: does not name {digest}"));
            continue;
        }
        let answer = api
            .get_json(&format!(
                "/ledger/proof/inclusion?index={index}&size={size}"
            ))
            .await?;
        let proof = proof_hashes(&answer).with_context(|| format!("entry {index}'s proof"))?;
        if let Err(e) = merkle::verify_inclusion(
            index,
            size,
            &merkle::leaf_hash(&bytes),
            &proof,
            checkpoint.root(),
        ) {
            problems.push(format!("entry {index}: its inclusion proof: {e}"));
            continue;
        }
        println!("{}", entry_line(index, &entry.event));
        if let Some(dir) = &args.output_dir {
            let tlog = TlogProof::new(None, index, proof, signed.clone());
            keygen::write_replacing(
                &dir.join(format!("{index}.tlog-proof")),
                tlog.to_string().as_bytes(),
                0o644,
            )?;
            keygen::write_replacing(&dir.join(format!("{index}.json")), &bytes, 0o644)?;
        }
    }
    if let Some(dir) = &args.output_dir {
        keygen::write_replacing(&dir.join("checkpoint"), &cp_bytes, 0o644)?;
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("vouch: {p}");
        }
        return Ok(denied(&format!(
            "{} entries about {digest} not proven",
            problems.len()
        )));
    }
    let trust = if log.is_some() {
        "verified"
    } else {
        "not verified (no --vkey)"
    };
    eprintln!(
        "Verified OK: every entry is in the checkpoint {} ({trust})",
        describe(&checkpoint)
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether an event names `digest` as the ledger indexes it: subject, config, evidence,
/// policy or key.
fn names(e: &Event, digest: &str) -> bool {
    e.digests().any(|d| d.as_str() == digest)
        || e.detail_str("policy") == Some(digest)
        || e.subject.key.as_deref() == Some(digest)
}

async fn audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let log = load_vkey(&args.vkey)?;
    let api = Api::new(&args.remote)?;
    let old_bytes = std::fs::read(&args.from)
        .with_context(|| format!("cannot read {}", args.from.display()))?;
    let from = args.from.display();
    let old = match SignedCheckpoint::parse(&old_bytes)
        .map_err(|e| e.to_string())
        .and_then(|s| verify_checkpoint(&s, &log))
    {
        Ok(c) => c,
        Err(e) => return Ok(denied(&format!("the checkpoint in {from}: {e}"))),
    };
    let (new_bytes, signed) = api.checkpoint().await?;
    let new = match verify_checkpoint(&signed, &log) {
        Ok(c) => c,
        Err(e) => return Ok(denied(&format!("the log's checkpoint: {e}"))),
    };
    let (o, n) = (old.checkpoint(), new.checkpoint());
    if n.size() < o.size() {
        return Ok(denied(&format!(
            "rollback: the log's checkpoint has size {}, smaller than {} of the checkpoint in \
             {from}",
            n.size(),
            o.size()
        )));
    }
    // Which hashes are needed: the two roots and the consistency proof between them.
    let mut wanted = RecordingSource::new();
    let consistency = 0 < o.size() && o.size() < n.size();
    let _ = merkle::subtree_hash(0, n.size(), &mut wanted);
    let _ = merkle::subtree_hash(0, o.size(), &mut wanted);
    if consistency {
        let _ = merkle::consistency_proof(o.size(), n.size(), &mut wanted);
    }
    let mut tiles = TileSource::new(n.size());
    for tile in wanted.tiles_needed(n.size())? {
        let bytes = api.get(&format!("/ledger/{tile}")).await?;
        if let Err(e) = tiles.insert(tile, &bytes) {
            return Ok(denied(&format!("the log's tile {tile}: {e}")));
        }
    }
    let new_root = merkle::subtree_hash(0, n.size(), &mut tiles)?;
    if new_root != *n.root() {
        return Ok(denied(&format!(
            "the log's tiles hash to root {} for size {}, its checkpoint says {}",
            B64.encode(new_root),
            n.size(),
            B64.encode(n.root())
        )));
    }
    let old_root = merkle::subtree_hash(0, o.size(), &mut tiles)?;
    if old_root != *o.root() {
        return Ok(denied(&format!(
            "fork: the log's tree of size {} has root {}, the checkpoint in {from} says {}: \
             the log has rewritten its history",
            o.size(),
            B64.encode(old_root),
            B64.encode(o.root())
        )));
    }
    let proof = if consistency {
        merkle::consistency_proof(o.size(), n.size(), &mut tiles)?
    } else {
        Vec::new()
    };
    if let Err(e) = new.verify_consistency_from(o, &proof) {
        return Ok(denied(&format!(
            "fork: the log's checkpoint is not consistent with the one in {from}: {e}"
        )));
    }
    println!(
        "consistent: {} grew from size {} to {} ({} new entries)",
        n.origin(),
        o.size(),
        n.size(),
        n.size() - o.size()
    );
    println!("checkpoint: {}", describe(n));
    if args.save {
        keygen::write_replacing(&args.from, &new_bytes, 0o644)?;
        eprintln!("Saved the new checkpoint to {from}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn record(args: RecordArgs) -> anyhow::Result<ExitCode> {
    let log = args.vkey.as_deref().map(load_vkey).transpose()?;
    let api = Api::new(&args.remote)?;
    let key = keygen::load(&args.key)?;
    let event = event(&args, &key)?;
    let entry = Entry::sign(event, &key)?;
    // Entry::sign writes what it is given: the schema is checked here, before the server does.
    Entry::parse(entry.bytes()).context("the event is not valid")?;
    let bytes = entry.into_bytes();
    let answer = api
        .send(Method::POST, "/ledger/add", Some(bytes.clone()))
        .await?;
    if (400..500).contains(&answer.status) {
        let errors = server_errors(&answer.body);
        let reason = if errors.is_empty() {
            answer.describe()
        } else {
            errors
                .iter()
                .map(|(c, m)| format!("{c}: {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        eprintln!("vouch: rejected: {reason}");
        return Ok(ExitCode::from(1));
    }
    if answer.status != 200 {
        bail!("POST {}/ledger/add: {}", api.base, answer.describe());
    }
    let receipt: Value =
        serde_json::from_slice(&answer.body).context("the server's receipt is not JSON")?;
    let index = receipt
        .get("index")
        .and_then(Value::as_u64)
        .context("the server's receipt has no index")?;
    let duplicate = receipt
        .get("duplicate")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let proof_text = receipt
        .get("tlog_proof")
        .and_then(Value::as_str)
        .context("the server's receipt has no tlog_proof")?;
    // The receipt must prove what was sent, at the index it names.
    let proof = match TlogProof::parse(proof_text.as_bytes()) {
        Ok(p) if p.index() == index => p,
        Ok(p) => {
            return Ok(denied(&format!(
                "the receipt names entry {index} and proves entry {}",
                p.index()
            )));
        }
        Err(e) => return Ok(denied(&format!("the receipt's tlog-proof: {e}"))),
    };
    let leaf = merkle::leaf_hash(&bytes);
    let checked = match &log {
        Some(log) => proof
            .verify(&leaf, &Origin::Exact(log.name().to_owned()), log, &[])
            .map(|c| describe(c.checkpoint()) + " (verified)")
            .map_err(|e| e.to_string()),
        None => {
            let c = proof.checkpoint().checkpoint();
            merkle::verify_inclusion(index, c.size(), &leaf, proof.proof(), c.root())
                .map(|()| describe(c) + " (its signature not checked: no --vkey)")
                .map_err(|e| e.to_string())
        }
    };
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            return Ok(denied(&format!(
                "the receipt does not prove the entry: {e}"
            )));
        }
    };
    if let Some(path) = &args.output {
        keygen::write_replacing(path, proof_text.as_bytes(), 0o644)?;
    }
    let what = if duplicate {
        "already recorded"
    } else {
        "recorded"
    };
    eprintln!(
        "{} {what} as entry {index} in the checkpoint {checked}",
        args.kind
    );
    println!("{index}");
    Ok(ExitCode::SUCCESS)
}

/// The event `record` signs, from its flags.
fn event(args: &RecordArgs, key: &PrivateKey) -> anyhow::Result<Event> {
    let kind = EventType::parse(&args.kind).with_context(|| {
        let all: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        format!(
            "--type {:?} is not an event type ({})",
            args.kind,
            all.join(", ")
        )
    })?;
    let time = match &args.time {
        Some(t) => Timestamp::parse_rfc3339(t).map_err(|e| anyhow!("--time {t:?}: {e}"))?,
        None => {
            Timestamp::from_unix(Timestamp::from_system_time(std::time::SystemTime::now()).secs())
        }
    };
    let actor = match &args.actor {
        Some(a) => a.clone(),
        None => ledger::event::fingerprint(&key.public_key()?),
    };
    let mut event = Event::new(kind, time, actor);
    let digest = |s: &str, flag: &str| {
        oci::Digest::parse(s).with_context(|| format!("{flag} {s:?} is not a digest"))
    };
    if kind == EventType::KeyRevoked {
        ensure!(
            ledger::event::parse_fingerprint(&args.digest).is_some(),
            "--digest {:?}: key.revoked names a key by its fingerprint, sha256:<64 hex>",
            args.digest
        );
        event.subject.key = Some(args.digest.clone());
    } else {
        event.subject.digest = Some(digest(&args.digest, "--digest")?);
    }
    event.subject.repository.clone_from(&args.repository);
    event.subject.tag.clone_from(&args.tag);
    event.subject.name.clone_from(&args.name);
    for e in &args.evidence {
        event.evidence.push(digest(e, "--evidence")?);
    }
    for d in &args.detail {
        let (k, v) = d
            .split_once('=')
            .with_context(|| format!("--detail {d:?} is not KEY=VALUE"))?;
        event
            .details
            .insert(k.to_owned(), Value::String(v.to_owned()));
    }
    for d in &args.detail_json {
        let (k, v) = d
            .split_once('=')
            .with_context(|| format!("--detail-json {d:?} is not KEY=JSON"))?;
        let v: Value =
            serde_json::from_str(v).with_context(|| format!("--detail-json {k}: not JSON"))?;
        event.details.insert(k.to_owned(), v);
    }
    Ok(event)
}
