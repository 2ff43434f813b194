//! Transparency-log checkpoints (C2SP tlog-checkpoint) and offline proofs (C2SP tlog-proof):
//! strict parsing that re-serializes to the exact input, signing and cosigning, and
//! verification: the origin, the log's signature, witnesses' cosignatures, then inclusion or
//! consistency against the checkpointed tree. Rekor v1 and v2 checkpoints are checked here too,
//! with [`Origin::RekorV1`] and [`Verifier::for_log_key`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::merkle::{self, EMPTY_ROOT, HASH_LEN, Hash, ProofError};
use crate::note::{Cosigner, Note, NoteError, Signer, Verifier};

/// The first line of a tlog-proof file.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most hashes an inclusion proof in a tree of up to 2^64 leaves has.
const MAX_PROOF_HASHES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("checkpoint text must end in a newline")]
    NotTerminated,
    #[error("a checkpoint has an origin, a tree size and a root hash, one per line")]
    TooFewLines,
    #[error("checkpoint origin line is empty")]
    EmptyOrigin,
    #[error("a checkpoint may not contain control character {0:#04x}")]
    ControlCharacter(u8),
    #[error("checkpoint tree size is not a decimal number without leading zeros")]
    Size,
    #[error("checkpoint root hash is not the base64 of 32 bytes")]
    RootHash,
    #[error("checkpoint extension line {0} is empty")]
    EmptyExtension(usize),
    #[error("checkpoint origin {found:?} is not {expected}")]
    UnexpectedOrigin { found: String, expected: String },
    #[error("the checkpoint is not signed by the log's key {name} ({key_id:08x})")]
    NotSignedByLog { name: String, key_id: u32 },
    #[error("cannot prove consistency with a checkpoint of another log ({0:?})")]
    OtherLog(String),
    #[error("a tlog-proof begins with the line {}", TLOG_PROOF_HEADER)]
    ProofHeader,
    #[error("tlog-proof extra data is not base64")]
    ProofExtra,
    #[error("tlog-proof index line is not \"index\" and a decimal number without leading zeros")]
    ProofIndex,
    #[error("tlog-proof line {line} is not the base64 of a 32-byte hash")]
    ProofHash { line: usize },
    #[error("a tlog-proof holds at most {} proof hashes", MAX_PROOF_HASHES)]
    TooManyProofHashes,
    #[error("a tlog-proof ends in an empty line and the checkpoint")]
    ProofNoCheckpoint,
}

/// A checkpoint's text: the log's origin, the tree size, the root hash, and opaque extension
/// lines (rarely used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Checkpoint, CheckpointError> {
        check_line(origin)?;
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Parses checkpoint text, strictly: every line newline-terminated, a non-empty origin, a
    /// decimal size without leading zeros, canonical base64 of a 32-byte root, non-empty
    /// extension lines. Its [`Display`](fmt::Display) form is the same text.
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::NotTerminated)?;
        if let Some(b) = body.bytes().find(|&b| b < 0x20 && b != b'\n') {
            return Err(CheckpointError::ControlCharacter(b));
        }
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::TooFewLines);
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_decimal(size).ok_or(CheckpointError::Size)?;
        let root = B64
            .decode(root)
            .ok()
            .and_then(|r| Hash::try_from(r).ok())
            .ok_or(CheckpointError::RootHash)?;
        let mut extensions = Vec::new();
        for (i, line) in lines.enumerate() {
            if line.is_empty() {
                return Err(CheckpointError::EmptyExtension(i + 1));
            }
            extensions.push(line.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root(&self) -> &Hash {
        &self.root
    }

    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.origin)?;
        writeln!(f, "{}", self.size)?;
        writeln!(f, "{}", B64.encode(self.root))?;
        for line in &self.extensions {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

fn check_line(line: &str) -> Result<(), CheckpointError> {
    match line.bytes().find(|&b| b < 0x20) {
        Some(b) => Err(CheckpointError::ControlCharacter(b)),
        None => Ok(()),
    }
}

/// A decimal number as C2SP writes them: ASCII digits, no sign, no leading zero but in `0`.
fn parse_decimal(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// The origin lines a log's checkpoints may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Exactly this origin (C2SP logs; Rekor v2, whose origin is its host name).
    Exact(String),
    /// Rekor v1: `<host> - <tree ID>`, the tree ID in decimal; each shard has its own.
    RekorV1 { host: String },
}

impl Origin {
    pub fn accepts(&self, origin: &str) -> bool {
        match self {
            Origin::Exact(want) => origin == want,
            Origin::RekorV1 { host } => origin
                .strip_prefix(host.as_str())
                .and_then(|rest| rest.strip_prefix(" - "))
                .and_then(parse_decimal)
                .is_some(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Exact(origin) => write!(f, "{origin:?}"),
            Origin::RekorV1 { host } => write!(f, "\"{host} - <tree id>\""),
        }
    }
}

/// A checkpoint as a signed note, verified or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    note: Note,
    checkpoint: Checkpoint,
}

/// A witness's cosignature (or signature) that verified on a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessSignature {
    /// The witness's index in the slice given to [`SignedCheckpoint::verify`].
    pub witness: usize,
    pub name: String,
    pub key_id: u32,
    /// The time a cosignature/v1 states, in seconds since the Unix epoch.
    pub timestamp: Option<u64>,
}

/// A checkpoint whose origin was accepted and whose log signature and known witness
/// cosignatures verified. Only [`SignedCheckpoint::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    witnesses: Vec<WitnessSignature>,
}

impl SignedCheckpoint {
    /// Parses a signed note whose text is a checkpoint.
    pub fn parse(input: &[u8]) -> Result<SignedCheckpoint, CheckpointError> {
        SignedCheckpoint::from_note(Note::parse(input)?)
    }

    pub fn from_note(note: Note) -> Result<SignedCheckpoint, CheckpointError> {
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(SignedCheckpoint { note, checkpoint })
    }

    /// Signs `checkpoint` with the log's key.
    pub fn sign(
        checkpoint: Checkpoint,
        signer: &Signer,
    ) -> Result<SignedCheckpoint, CheckpointError> {
        let mut note = Note::new(checkpoint.to_string())?;
        signer.sign(&mut note)?;
        Ok(SignedCheckpoint { note, checkpoint })
    }

    /// Adds a cosignature/v1 as of `time` (seconds since the Unix epoch).
    pub fn cosign(&mut self, cosigner: &Cosigner, time: u64) -> Result<(), CheckpointError> {
        cosigner.cosign(&mut self.note, time)?;
        Ok(())
    }

    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The checkpoint, not yet verified.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Verifies the checkpoint: its origin must be one `origin` accepts, it must carry a valid
    /// signature by `log`, and every line by a key of `witnesses` must verify (lines by other
    /// keys are ignored). How many witnesses are enough is the caller's policy, on
    /// [`VerifiedCheckpoint::witnesses`].
    pub fn verify(
        &self,
        origin: &Origin,
        log: &Verifier,
        witnesses: &[Verifier],
    ) -> Result<VerifiedCheckpoint, CheckpointError> {
        if !origin.accepts(&self.checkpoint.origin) {
            return Err(CheckpointError::UnexpectedOrigin {
                found: self.checkpoint.origin.clone(),
                expected: origin.to_string(),
            });
        }
        let not_signed = || CheckpointError::NotSignedByLog {
            name: log.name().to_owned(),
            key_id: log.key_id(),
        };
        let known: Vec<&Verifier> = std::iter::once(log).chain(witnesses).collect();
        let verified = match self.note.verify_by(&known) {
            Err(NoteError::NoKnownSignature) => return Err(not_signed()),
            other => other?,
        };
        if !verified.iter().any(|v| v.verifier == 0) {
            return Err(not_signed());
        }
        let mut signed_by = Vec::new();
        for v in verified.into_iter().filter(|v| v.verifier > 0) {
            let witness = v.verifier - 1;
            if signed_by
                .iter()
                .any(|s: &WitnessSignature| s.witness == witness)
            {
                continue;
            }
            let key = &witnesses[witness];
            signed_by.push(WitnessSignature {
                witness,
                name: key.name().to_owned(),
                key_id: key.key_id(),
                timestamp: v.timestamp,
            });
        }
        Ok(VerifiedCheckpoint {
            checkpoint: self.checkpoint.clone(),
            witnesses: signed_by,
        })
    }
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.note.fmt(f)
    }
}

impl VerifiedCheckpoint {
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The witnesses whose cosignatures verified, each once, in the order they appear.
    pub fn witnesses(&self) -> &[WitnessSignature] {
        &self.witnesses
    }

    /// Verifies that leaf `index` with hash `leaf_hash` is in the checkpointed tree.
    pub fn verify_inclusion<P: AsRef<[u8]>>(
        &self,
        index: u64,
        leaf_hash: &[u8],
        proof: &[P],
    ) -> Result<(), ProofError> {
        merkle::verify_inclusion(
            index,
            self.checkpoint.size,
            leaf_hash,
            proof,
            &self.checkpoint.root,
        )
    }

    /// Verifies that an earlier checkpoint of the same log (verified by the caller before) is
    /// a prefix of this one. From the empty tree, the proof is empty (as C2SP tlog-witness
    /// has it).
    pub fn verify_consistency_from<P: AsRef<[u8]>>(
        &self,
        earlier: &Checkpoint,
        proof: &[P],
    ) -> Result<(), CheckpointError> {
        if earlier.origin != self.checkpoint.origin {
            return Err(CheckpointError::OtherLog(earlier.origin.clone()));
        }
        if earlier.size == 0 {
            if !proof.is_empty() {
                return Err(ProofError::ProofLength {
                    got: proof.len(),
                    want: 0,
                }
                .into());
            }
            if earlier.root != EMPTY_ROOT {
                return Err(ProofError::OldRootMismatch {
                    computed: EMPTY_ROOT,
                }
                .into());
            }
            return Ok(());
        }
        merkle::verify_consistency(
            earlier.size,
            self.checkpoint.size,
            &earlier.root,
            &self.checkpoint.root,
            proof,
        )?;
        Ok(())
    }
}

/// A C2SP tlog-proof: the index of an entry, its inclusion proof, and the (cosigned)
/// checkpoint it leads to, with optional unauthenticated extra data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    proof: Vec<Hash>,
    checkpoint: SignedCheckpoint,
}

impl TlogProof {
    pub fn new(
        extra: Option<Vec<u8>>,
        index: u64,
        proof: Vec<Hash>,
        checkpoint: SignedCheckpoint,
    ) -> TlogProof {
        TlogProof {
            extra,
            index,
            proof,
            checkpoint,
        }
    }

    /// Parses a tlog-proof file; its [`Display`](fmt::Display) form is the same bytes.
    pub fn parse(input: &[u8]) -> Result<TlogProof, CheckpointError> {
        let input = std::str::from_utf8(input).map_err(|_| NoteError::NotUtf8)?;
        let rest = input
            .strip_prefix(TLOG_PROOF_HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(CheckpointError::ProofHeader)?;
        let (mut line, mut rest) = rest.split_once('\n').ok_or(CheckpointError::ProofIndex)?;
        let mut line_no = 2;
        let mut extra = None;
        if let Some(encoded) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(encoded)
                    .map_err(|_| CheckpointError::ProofExtra)?,
            );
            (line, rest) = rest.split_once('\n').ok_or(CheckpointError::ProofIndex)?;
            line_no += 1;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(CheckpointError::ProofIndex)?;
        let mut proof = Vec::new();
        loop {
            line_no += 1;
            let (line, after) = rest
                .split_once('\n')
                .ok_or(CheckpointError::ProofNoCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(CheckpointError::TooManyProofHashes);
            }
            let hash = B64
                .decode(line)
                .ok()
                .and_then(|h| <[u8; HASH_LEN]>::try_from(h).ok())
                .ok_or(CheckpointError::ProofHash { line: line_no })?;
            proof.push(hash);
        }
        let checkpoint = SignedCheckpoint::parse(rest.as_bytes())?;
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint,
        })
    }

    /// The extra data: not authenticated, to be trusted only as far as it is checked.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// Verifies the proof for the entry whose leaf hash is `leaf_hash` (computing it is the
    /// application's part): the checkpoint as [`SignedCheckpoint::verify`] does, then the
    /// inclusion proof against it.
    pub fn verify(
        &self,
        leaf_hash: &[u8],
        origin: &Origin,
        log: &Verifier,
        witnesses: &[Verifier],
    ) -> Result<VerifiedCheckpoint, CheckpointError> {
        let verified = self.checkpoint.verify(origin, log, witnesses)?;
        verified.verify_inclusion(self.index, leaf_hash, &self.proof)?;
        Ok(verified)
    }
}

impl fmt::Display for TlogProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{TLOG_PROOF_HEADER}")?;
        if let Some(extra) = &self.extra {
            writeln!(f, "extra {}", B64.encode(extra))?;
        }
        writeln!(f, "index {}", self.index)?;
        for hash in &self.proof {
            writeln!(f, "{}", B64.encode(hash))?;
        }
        writeln!(f)?;
        self.checkpoint.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use serde_json::Value;

    use super::*;
    use crate::keys::{PublicKey, sha256};
    use crate::merkle::{LeafHashes, consistency_proof, inclusion_proof, leaf_hash, root};
    use crate::note::{NoteSignature, VerifierKind, key_id};

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/ledger")
    }

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(fixtures().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn json(path: &str) -> Value {
        serde_json::from_slice(&read(path)).unwrap()
    }

    fn b64(s: &str) -> Vec<u8> {
        B64.decode(s).unwrap()
    }

    const TESSERA: &str = "tessera-testdata-log/testdata/log";

    /// The log's entries, from its full entry bundle (big-endian u16 length before each).
    fn tessera_entries() -> Vec<Vec<u8>> {
        let bundle = read(&format!("{TESSERA}/tile/entries/000.p/15"));
        let mut entries = Vec::new();
        let mut rest = bundle.as_slice();
        while let [hi, lo, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            entries.push(tail[..len].to_vec());
            rest = &tail[len..];
        }
        entries
    }

    fn tessera_log_key() -> Verifier {
        let keys = json("witness/keys.json");
        let vkey = keys["log_vkeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .find(|k| k.starts_with("example.com/log/testdata+"))
            .unwrap();
        Verifier::from_vkey(vkey).unwrap()
    }

    /// Tessera's testdata log: all 16 checkpoints (sizes 0 to 15) verify under the log's vkey,
    /// their roots are the roots of the entries, every entry's inclusion proof verifies in
    /// every checkpoint holding it (through a tlog-proof file), and every pair of checkpoints
    /// is consistent.
    #[test]
    fn tessera_testdata_log() {
        let key = tessera_log_key();
        assert_eq!(format!("{:08x}", key.key_id()), "33d7b496");
        let origin = Origin::Exact("example.com/log/testdata".into());
        let entries = tessera_entries();
        let names: Vec<&str> = entries
            .iter()
            .map(|e| std::str::from_utf8(e).unwrap())
            .collect();
        assert_eq!(
            names.join(" "),
            "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten"
        );
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let mut verified = Vec::new();
        for size in 0..=15usize {
            let text = read(&format!("{TESSERA}/checkpoint.{size}"));
            let signed = SignedCheckpoint::parse(&text).unwrap();
            assert_eq!(
                signed.to_string().as_bytes(),
                text,
                "checkpoint.{size} round trip"
            );
            let cp = signed.verify(&origin, &key, &[]).unwrap();
            assert_eq!(cp.checkpoint().size(), size as u64);
            assert_eq!(
                *cp.checkpoint().root(),
                root(&leaves[..size]),
                "checkpoint.{size}"
            );
            if size > 0 {
                // The level-0 partial tile is the leaf hashes, concatenated.
                let tile = read(&format!("{TESSERA}/tile/0/000.p/{size}"));
                assert_eq!(tile, leaves[..size].concat());
            }
            verified.push(cp);
        }
        // The current checkpoint is the largest.
        let latest = SignedCheckpoint::parse(&read(&format!("{TESSERA}/checkpoint"))).unwrap();
        assert_eq!(
            latest.verify(&origin, &key, &[]).unwrap().checkpoint(),
            verified[15].checkpoint()
        );
        assert_eq!(
            B64.encode(verified[8].checkpoint().root()),
            "bC+VwvrJbalNVjfkdI8kUgs7mJoXrqiXCE7bgnD28pY="
        );
        let mut proofs = 0;
        for size in 1..=15u64 {
            let cp = &verified[size as usize];
            let signed =
                SignedCheckpoint::parse(&read(&format!("{TESSERA}/checkpoint.{size}"))).unwrap();
            for index in 0..size {
                let proof = inclusion_proof(index, size, &mut LeafHashes(&leaves)).unwrap();
                cp.verify_inclusion(index, &leaves[index as usize], &proof)
                    .unwrap();
                let file = TlogProof::new(None, index, proof, signed.clone()).to_string();
                let parsed = TlogProof::parse(file.as_bytes()).unwrap();
                assert_eq!(parsed.to_string(), file);
                parsed
                    .verify(&leaves[index as usize], &origin, &key, &[])
                    .unwrap();
                proofs += 1;
            }
            for earlier in 0..=size {
                let old = verified[earlier as usize].checkpoint();
                let proof = if earlier == 0 {
                    Vec::new()
                } else {
                    consistency_proof(earlier, size, &mut LeafHashes(&leaves)).unwrap()
                };
                cp.verify_consistency_from(old, &proof).unwrap();
            }
        }
        assert_eq!(proofs, 120);
        // A checkpoint whose size was changed no longer verifies.
        let text = String::from_utf8(read(&format!("{TESSERA}/checkpoint.3"))).unwrap();
        let forged =
            SignedCheckpoint::parse(text.replacen("\n3\n", "\n4\n", 1).as_bytes()).unwrap();
        assert!(matches!(
            forged.verify(&origin, &key, &[]),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
        // Another log's origin is refused before any signature is looked at.
        assert!(matches!(
            verified[3].verify_consistency_from(
                &Checkpoint::new("example.com/other", 2, root(&leaves[..2])).unwrap(),
                &consistency_proof(2, 3, &mut LeafHashes(&leaves)).unwrap()
            ),
            Err(CheckpointError::OtherLog(_))
        ));
        let signed3 = SignedCheckpoint::parse(text.as_bytes()).unwrap();
        assert_eq!(
            signed3.verify(&Origin::Exact("example.com/log".into()), &key, &[]),
            Err(CheckpointError::UnexpectedOrigin {
                found: "example.com/log/testdata".into(),
                expected: "\"example.com/log\"".into()
            })
        );
    }

    /// What the trusted root says about a Rekor log.
    struct RekorLog {
        host: String,
        key: PublicKey,
        log_id: Vec<u8>,
    }

    fn rekor_logs() -> Vec<RekorLog> {
        let mut logs = Vec::new();
        for file in [
            "sigstore.dev_trusted_root.json",
            "sigstage.dev_trusted_root.json",
        ] {
            let root = json(&format!("rekor/{file}"));
            for log in root["tlogs"].as_array().unwrap() {
                let url = log["baseUrl"].as_str().unwrap();
                let host = url.strip_prefix("https://").unwrap();
                let host = host.split('/').next().unwrap().to_owned();
                logs.push(RekorLog {
                    host,
                    key: PublicKey::from_spki_der(&b64(log["publicKey"]["rawBytes"]
                        .as_str()
                        .unwrap()))
                    .unwrap(),
                    log_id: b64(log["logId"]["keyId"].as_str().unwrap()),
                });
            }
        }
        logs
    }

    /// The real Rekor entries of sigstore-python's test bundles: v1 production and staging
    /// (ECDSA P-256 checkpoints), v2 alpha1 and alpha3 (Ed25519), the last with three witness
    /// cosignatures. Each checkpoint verifies under the trusted root's key, matches the proof's
    /// size and root, and the entry's leaf is included.
    #[test]
    fn real_rekor_checkpoints_and_inclusion_proofs() {
        let logs = rekor_logs();
        let keys = json("witness/keys.json");
        let witnesses: Vec<Verifier> = keys["witness_vkeys_type04_ed25519_cosignature_v1"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| Verifier::from_vkey(k.as_str().unwrap()).unwrap())
            .collect();
        let cases = [
            (
                "bundle_v3_no_signed_time.txt.sigstore.json",
                "rekor.sigstore.dev - 1193050959916656506",
                0,
            ),
            (
                "bundle_v3.txt.sigstore",
                "rekor.sigstage.dev - 8050909264565447525",
                0,
            ),
            (
                "staging-rekor-v2.txt.sigstore.json",
                "log2025-alpha1.rekor.sigstage.dev",
                0,
            ),
            (
                "a.dsse.staging-rekor-v2.txt.sigstore.json",
                "log2025-alpha3.rekor.sigstage.dev",
                3,
            ),
        ];
        for (file, want_origin, want_witnesses) in cases {
            let bundle = json(&format!("rekor/{file}"));
            let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
            let log_id = b64(entry["logId"]["keyId"].as_str().unwrap());
            let log = logs.iter().find(|l| l.log_id == log_id).unwrap();
            let verifier = Verifier::for_log_key(&log.host, &log.key).unwrap();
            let origin = match verifier.kind() {
                VerifierKind::EcdsaSpki => {
                    // Rekor v1: the log ID is SHA-256 of the key's SPKI; the note key ID its
                    // first four bytes.
                    assert_eq!(log_id, sha256(log.key.spki_der()));
                    Origin::RekorV1 {
                        host: log.host.clone(),
                    }
                }
                VerifierKind::Ed25519 => {
                    // Rekor v2: the log ID is the whole SHA-256 the signed-note key ID is the
                    // start of, over the host name, a newline, 0x01 and the key.
                    let mut id_input = format!("{}\n", log.host).into_bytes();
                    id_input.push(0x01);
                    id_input.extend_from_slice(log.key.raw());
                    assert_eq!(log_id, sha256(&id_input));
                    Origin::Exact(log.host.clone())
                }
                other => panic!("{file}: unexpected {other:?}"),
            };
            assert_eq!(verifier.key_id().to_be_bytes(), log_id[..4], "{file}");
            let proof = &entry["inclusionProof"];
            let envelope = proof["checkpoint"]["envelope"].as_str().unwrap();
            let signed = SignedCheckpoint::parse(envelope.as_bytes()).unwrap();
            assert_eq!(signed.to_string(), envelope);
            assert_eq!(signed.checkpoint().origin(), want_origin);
            let cp = signed.verify(&origin, &verifier, &witnesses).unwrap();
            assert_eq!(cp.witnesses().len(), want_witnesses, "{file}");
            for w in cp.witnesses() {
                assert_eq!(w.timestamp, Some(1778700214));
            }
            let size: u64 = proof["treeSize"].as_str().unwrap().parse().unwrap();
            let index: u64 = proof["logIndex"].as_str().unwrap().parse().unwrap();
            assert_eq!(cp.checkpoint().size(), size);
            assert_eq!(
                cp.checkpoint().root().as_slice(),
                b64(proof["rootHash"].as_str().unwrap())
            );
            let hashes: Vec<Vec<u8>> = proof["hashes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| b64(h.as_str().unwrap()))
                .collect();
            let leaf = leaf_hash(&b64(entry["canonicalizedBody"].as_str().unwrap()));
            cp.verify_inclusion(index, &leaf, &hashes).unwrap();
            let mut wrong = leaf;
            wrong[0] ^= 1;
            assert!(matches!(
                cp.verify_inclusion(index, &wrong, &hashes),
                Err(ProofError::RootMismatch { .. })
            ));
            // Under another host name the log's line is an unknown key's (for ECDSA the key
            // ID is the same, the name is not), so the checkpoint is not signed by the log.
            let elsewhere = Verifier::for_log_key("rekor.example", &log.key).unwrap();
            let any_origin = Origin::Exact(want_origin.into());
            assert!(matches!(
                signed.verify(&any_origin, &elsewhere, &[]),
                Err(CheckpointError::NotSignedByLog { .. })
            ));
        }
    }

    /// A Rekor v1 checkpoint is an ECDSA signature over SHA-256 of the text: a changed root
    /// fails, and an origin with another host or no tree ID is refused.
    #[test]
    fn rekor_v1_checkpoint_tampering() {
        let logs = rekor_logs();
        let log = logs
            .iter()
            .find(|l| l.host == "rekor.sigstore.dev")
            .unwrap();
        let verifier = Verifier::for_log_key(&log.host, &log.key).unwrap();
        assert_eq!(format!("{:08x}", verifier.key_id()), "c0d23d6a");
        assert_eq!(verifier.vkey(), None);
        let bundle = json("rekor/bundle_v3_no_signed_time.txt.sigstore.json");
        let envelope = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
            ["checkpoint"]["envelope"]
            .as_str()
            .unwrap();
        let origin = Origin::RekorV1 {
            host: "rekor.sigstore.dev".into(),
        };
        let forged = envelope.replacen("32658497", "32658498", 1);
        assert!(matches!(
            SignedCheckpoint::parse(forged.as_bytes())
                .unwrap()
                .verify(&origin, &verifier, &[]),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
        for bad in [
            "rekor.sigstore.dev",
            "rekor.sigstore.dev - ",
            "rekor.sigstore.dev - 01",
            "rekor.sigstore.dev - -1",
            "rekor.sigstage.dev - 1",
            "evil.rekor.sigstore.dev - 1",
        ] {
            assert!(!origin.accepts(bad), "{bad}");
        }
        assert!(origin.accepts("rekor.sigstore.dev - 0"));
    }

    #[test]
    fn c2sp_and_go_checkpoint_examples() {
        let notes = json("signed-note/notes.json");
        let find = |prefix: &str| {
            notes["vectors"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["id"].as_str().unwrap().starts_with(prefix))
                .unwrap()
                .clone()
        };
        // go.sum database tree: a checkpoint body whose root is the leaf hash of "hello world".
        let v = find("go-sumdb-tree-format");
        let text = v["text"].as_str().unwrap();
        let cp = Checkpoint::parse(text).unwrap();
        assert_eq!(cp.origin(), "go.sum database tree");
        assert_eq!(cp.size(), 123456789012);
        assert_eq!(*cp.root(), leaf_hash(b"hello world"));
        assert_eq!(cp.to_string(), text);
        // C2SP tlog-checkpoint example: its key is unpublished, so it can only be parsed.
        let v = find("c2sp-tlog-checkpoint-example");
        let note = v["note"].as_str().unwrap();
        let signed = SignedCheckpoint::parse(note.as_bytes()).unwrap();
        assert_eq!(signed.checkpoint().origin(), "example.com/behind-the-sofa");
        assert_eq!(signed.checkpoint().size(), 20852163);
        let sigs = signed.note().signatures();
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].name(), "example.com/behind-the-sofa");
        assert_eq!(sigs[0].key_id(), 0x033de0ae);
        assert_eq!(sigs[0].signature().len(), 64);
        assert_eq!(signed.to_string(), note);
        // The tlog-witness add-checkpoint request carries the same checkpoint after its
        // consistency proof, with two log signatures.
        let v = find("c2sp-tlog-witness-add-checkpoint-request-example");
        let body = v["request_body"].as_str().unwrap();
        let (head, checkpoint) = body.split_once("\n\n").unwrap();
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some("old 20852014"));
        assert!(lines.all(|l| b64(l).len() == 32));
        let signed = SignedCheckpoint::parse(checkpoint.as_bytes()).unwrap();
        assert_eq!(signed.note().signatures().len(), 2);
        assert_eq!(signed.checkpoint().size(), 20852163);
        assert_eq!(signed.to_string(), checkpoint);
    }

    /// The ledger's side: sign a checkpoint, have witnesses cosign it, write a tlog-proof, and
    /// verify it with a policy of known witnesses.
    #[test]
    fn sign_cosign_prove_verify() {
        let entries: Vec<Hash> = (0u32..10).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let signer = Signer::generate("vouch.example/ledger").unwrap();
        let w1 = Cosigner::generate("w1.example").unwrap();
        let w2 = Cosigner::generate("w2.example").unwrap();
        let unknown = Cosigner::generate("w3.example").unwrap();
        let cp = Checkpoint::new("vouch.example/ledger", 10, root(&entries)).unwrap();
        let mut signed = SignedCheckpoint::sign(cp.clone(), &signer).unwrap();
        signed.cosign(&w1, 1_800_000_000).unwrap();
        signed.cosign(&unknown, 1_800_000_001).unwrap();
        signed.cosign(&w2, 1_800_000_002).unwrap();
        let proof = inclusion_proof(7, 10, &mut LeafHashes(&entries)).unwrap();
        let file = TlogProof::new(Some(b"context".to_vec()), 7, proof, signed.clone());
        let text = file.to_string();
        let parsed = TlogProof::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed, file);
        assert_eq!(parsed.extra(), Some(&b"context"[..]));
        let log = Verifier::from_vkey(&signer.vkey()).unwrap();
        let witnesses = [w2.verifier(), w1.verifier()];
        let origin = Origin::Exact("vouch.example/ledger".into());
        let verified = parsed
            .verify(&entries[7], &origin, &log, &witnesses)
            .unwrap();
        assert_eq!(verified.checkpoint(), &cp);
        let seen: Vec<(usize, Option<u64>)> = verified
            .witnesses()
            .iter()
            .map(|w| (w.witness, w.timestamp))
            .collect();
        assert_eq!(seen, [(1, Some(1_800_000_000)), (0, Some(1_800_000_002))]);
        // The wrong leaf, or a checkpoint the log did not sign, fails.
        assert!(matches!(
            parsed.verify(&entries[6], &origin, &log, &witnesses),
            Err(CheckpointError::Proof(ProofError::RootMismatch { .. }))
        ));
        let other = Signer::generate("vouch.example/ledger").unwrap();
        assert_eq!(
            parsed.verify(&entries[7], &origin, &other.verifier(), &witnesses),
            Err(CheckpointError::NotSignedByLog {
                name: "vouch.example/ledger".into(),
                key_id: other.key_id()
            })
        );
        // Witness cosignatures alone do not stand in for the log's signature.
        let mut unsigned = Note::new(cp.to_string()).unwrap();
        w1.cosign(&mut unsigned, 1).unwrap();
        let only_witness = SignedCheckpoint::from_note(unsigned).unwrap();
        assert!(matches!(
            only_witness.verify(&origin, &log, &witnesses),
            Err(CheckpointError::NotSignedByLog { .. })
        ));
        // A bad cosignature by a known witness rejects the checkpoint.
        let forged = forge_last_byte(signed.note(), "w2.example");
        let forged = SignedCheckpoint::from_note(forged).unwrap();
        assert!(matches!(
            forged.verify(&origin, &log, &witnesses),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
        // Without witnesses the same checkpoint verifies, with none listed.
        assert!(
            forged
                .verify(&origin, &log, &[])
                .unwrap()
                .witnesses()
                .is_empty()
        );
    }

    /// Re-parses `note` with the last signature byte of `name`'s line flipped.
    fn forge_last_byte(note: &Note, name: &str) -> Note {
        let text = note.to_string();
        let sig: &NoteSignature = note.signatures().iter().find(|s| s.name() == name).unwrap();
        let line = sig.to_string();
        let (prefix, encoded) = line.rsplit_once(' ').unwrap();
        let mut blob = b64(encoded);
        *blob.last_mut().unwrap() ^= 1;
        let forged_line = format!("{prefix} {}", B64.encode(blob));
        Note::parse(text.replace(&line, &forged_line).as_bytes()).unwrap()
    }

    #[test]
    fn key_ids_follow_the_spec() {
        // Cosigner and plain keys of the same name and key differ in their type byte only.
        let c = Cosigner::from_seed("w.example", &[9; 32]).unwrap();
        let s = Signer::from_seed("w.example", &[9; 32]).unwrap();
        let public = s.verifier().public_key().raw().to_vec();
        assert_eq!(c.key_id(), key_id("w.example", 0x04, &public));
        assert_eq!(s.key_id(), key_id("w.example", 0x01, &public));
    }

    /// Each way checkpoint text can be malformed, with its error.
    #[test]
    fn malformed_checkpoints() {
        let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let cases: Vec<(String, CheckpointError)> = vec![
            (format!("o\n0\n{root}"), CheckpointError::NotTerminated),
            ("o\n0\n".into(), CheckpointError::TooFewLines),
            (format!("\n0\n{root}\n"), CheckpointError::EmptyOrigin),
            (
                format!("o\t\n0\n{root}\n"),
                CheckpointError::ControlCharacter(b'\t'),
            ),
            (format!("o\n00\n{root}\n"), CheckpointError::Size),
            (format!("o\n01\n{root}\n"), CheckpointError::Size),
            (format!("o\n+1\n{root}\n"), CheckpointError::Size),
            (format!("o\n-1\n{root}\n"), CheckpointError::Size),
            (format!("o\n\n{root}\n"), CheckpointError::Size),
            (
                format!("o\n18446744073709551616\n{root}\n"),
                CheckpointError::Size,
            ),
            ("o\n1\nAAAA\n".into(), CheckpointError::RootHash),
            (
                format!("o\n1\n{}\n", &root[..43]),
                CheckpointError::RootHash,
            ),
            (
                "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n".into(),
                CheckpointError::RootHash,
            ),
            (
                format!("o\n1\n{root}\next\n\n"),
                CheckpointError::EmptyExtension(2),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Checkpoint::parse(&text), Err(want), "{text:?}");
        }
        let text = format!("o s+1\n18446744073709551615\n{root}\nextension one\nx\n");
        let cp = Checkpoint::parse(&text).unwrap();
        assert_eq!(cp.size(), u64::MAX);
        assert_eq!(cp.extensions(), ["extension one", "x"]);
        assert_eq!(cp.to_string(), text);
        assert_eq!(
            Checkpoint::new("", 0, EMPTY_ROOT),
            Err(CheckpointError::EmptyOrigin)
        );
        assert_eq!(
            Checkpoint::new("a\nb", 0, EMPTY_ROOT),
            Err(CheckpointError::ControlCharacter(b'\n'))
        );
    }

    #[test]
    fn malformed_tlog_proofs() {
        let signer = Signer::from_seed("log.example", &[3; 32]).unwrap();
        let cp = Checkpoint::new("log.example", 1, leaf_hash(b"x")).unwrap();
        let signed = SignedCheckpoint::sign(cp, &signer).unwrap().to_string();
        let hash = B64.encode(leaf_hash(b"y"));
        let cases: Vec<(String, CheckpointError)> = vec![
            (
                format!("c2sp.org/tlog-proof@v2\nindex 0\n\n{signed}"),
                CheckpointError::ProofHeader,
            ),
            (
                "c2sp.org/tlog-proof@v1".into(),
                CheckpointError::ProofHeader,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\n{signed}"),
                CheckpointError::ProofExtra,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 01\n\n{signed}"),
                CheckpointError::ProofIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex\n\n{signed}"),
                CheckpointError::ProofIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nextra AA==\n\n{signed}"),
                CheckpointError::ProofIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 0\n{hash}\nAAAA\n\n{signed}"),
                CheckpointError::ProofHash { line: 4 },
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 0\n{hash}"),
                CheckpointError::ProofNoCheckpoint,
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 0\n{}\n{signed}",
                    format!("{hash}\n").repeat(65)
                ),
                CheckpointError::TooManyProofHashes,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 0\n\nnot a note\n".into(),
                CheckpointError::Note(NoteError::NoSignatureBlock),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(TlogProof::parse(text.as_bytes()), Err(want), "{text:?}");
        }
        // Extra data may be empty; zero proof hashes is a one-leaf tree's proof.
        let ok = format!("c2sp.org/tlog-proof@v1\nextra \nindex 0\n\n{signed}");
        let proof = TlogProof::parse(ok.as_bytes()).unwrap();
        assert_eq!(proof.extra(), Some(&[][..]));
        assert_eq!(proof.to_string(), ok);
        proof
            .verify(
                &leaf_hash(b"x"),
                &Origin::Exact("log.example".into()),
                &signer.verifier(),
                &[],
            )
            .unwrap();
    }
}
