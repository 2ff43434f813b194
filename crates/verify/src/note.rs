//! Signed notes (C2SP signed-note): text followed by a blank line and signature lines
//! `— <key name> base64(key ID || signature)`. Parsing, verification against known keys,
//! signing with Ed25519 (type 0x01), and the cosignature/v1 witness signatures (type 0x04) of
//! C2SP tlog-cosignature, verified and produced. Verifier keys come as C2SP vkeys, or, for
//! Sigstore's Rekor logs, as the public key of a trusted root (see [`Verifier::for_log_key`]).
//!
//! The policy is the specification's: signatures by unknown keys (name and key ID not both
//! matching a known key) are ignored; a signature by a known key that does not verify makes the
//! whole note invalid; a note with no signature by a known key is not verified.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use aws_lc_rs::signature::Ed25519KeyPair;

use crate::keys::{HashAlg, KeyError, KeyKind, PrivateKey, PublicKey, Scheme};

/// The most signature lines a note may carry (the specification asks for at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// Signature type of plain Ed25519 note signatures.
pub const TYPE_ED25519: u8 = 0x01;
/// Signature type of Ed25519 checkpoint cosignatures (cosignature/v1).
pub const TYPE_COSIGNATURE_V1: u8 = 0x04;

const SIGNATURE_PREFIX: &str = "\u{2014} ";
const COSIGNATURE_HEADER: &str = "cosignature/v1\n";
const ED25519_SIGNATURE_LEN: usize = 64;
/// The DER SubjectPublicKeyInfo of an Ed25519 key, less the 32 key bytes that end it.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    #[error("a signed note must be UTF-8")]
    NotUtf8,
    #[error("a note may not contain control character {byte:#04x} (at byte {offset})")]
    ControlCharacter { byte: u8, offset: usize },
    #[error("a signed note ends in a blank line and then signature lines")]
    NoSignatureBlock,
    #[error("note text must end in a newline")]
    TextNotTerminated,
    #[error("signature line {line} does not start with an em dash and a space")]
    SignaturePrefix { line: usize },
    #[error("signature line {line} has an invalid key name")]
    SignatureName { line: usize },
    #[error("signature line {line} is not a key name and base64 after it")]
    SignatureEncoding { line: usize },
    #[error("signature line {line} holds {len} bytes, fewer than a key id and a signature")]
    SignatureTooShort { line: usize, len: usize },
    #[error("a note may carry at most {} signatures", MAX_SIGNATURES)]
    TooManySignatures,
    #[error("key name {0:?} is empty, or holds a space or a plus sign")]
    InvalidName(String),
    #[error("a verifier key is <name>+<8 lowercase hex digits>+<base64 of type and key>")]
    VkeyFormat,
    #[error("a signer key is PRIVATE+KEY+<name>+<8 lowercase hex digits>+<base64 of type and key>")]
    SkeyFormat,
    #[error("key id {stated:08x} does not match the key, whose id is {computed:08x}")]
    KeyIdMismatch { stated: u32, computed: u32 },
    #[error("unsupported note signature type {0:#04x}")]
    UnsupportedType(u8),
    #[error("an Ed25519 key is 32 bytes, this one is {0}")]
    KeyLength(usize),
    #[error("a {0:?} key cannot sign or verify notes here")]
    UnsupportedKey(KeyKind),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("signature by {name} (key id {key_id:08x}) does not verify")]
    InvalidSignature { name: String, key_id: u32 },
    #[error("two known keys are named {name} with key id {key_id:08x}")]
    AmbiguousKey { name: String, key_id: u32 },
    #[error("no signature on the note is by a known key")]
    NoKnownSignature,
    #[error("cosignature time {0} is past 2^63 - 1")]
    TimestampRange(u64),
    #[error("signing failed")]
    Signing,
}

/// One signature line: the key's name and ID, and the signature bytes after the ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature, without the key ID in front of it.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}

impl fmt::Display for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut blob = Vec::with_capacity(4 + self.signature.len());
        blob.extend_from_slice(&self.key_id.to_be_bytes());
        blob.extend_from_slice(&self.signature);
        write!(f, "{SIGNATURE_PREFIX}{} {}", self.name, B64.encode(blob))
    }
}

/// A note: its text and its signature lines, in order. Its [`Display`](fmt::Display) form is
/// the signed note; parsing that gives the same note back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// A signature line that verified: which verifier (its index in the slice given to
/// [`Note::verify`]) and, for a cosignature, the time it states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub verifier: usize,
    pub timestamp: Option<u64>,
}

impl Note {
    /// A note with this text and no signatures yet. The text must end in a newline and hold
    /// no control characters other than newlines.
    pub fn new(text: impl Into<String>) -> Result<Note, NoteError> {
        let text = text.into();
        check_characters(text.as_bytes())?;
        if !text.ends_with('\n') {
            return Err(NoteError::TextNotTerminated);
        }
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note: UTF-8 without control characters but newlines, the text up to
    /// the last blank line, then 1 to [`MAX_SIGNATURES`] signature lines.
    pub fn parse(input: &[u8]) -> Result<Note, NoteError> {
        let input = std::str::from_utf8(input).map_err(|_| NoteError::NotUtf8)?;
        check_characters(input.as_bytes())?;
        let split = input.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, block) = (&input[..split + 1], &input[split + 2..]);
        if block.is_empty() || !block.ends_with('\n') {
            return Err(NoteError::NoSignatureBlock);
        }
        let mut signatures = Vec::new();
        for (i, line) in block[..block.len() - 1].split('\n').enumerate() {
            let line_no = i + 1;
            if line_no > MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(parse_signature_line(line, line_no)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Verifies the note against known keys: every signature line whose key name and ID
    /// match one of `verifiers` must verify, the others are ignored, and at least one must be
    /// by a known key. Returns the lines that verified, in order.
    pub fn verify(&self, verifiers: &[Verifier]) -> Result<Vec<VerifiedSignature>, NoteError> {
        self.verify_by(&verifiers.iter().collect::<Vec<_>>())
    }

    /// [`Note::verify`] over borrowed verifiers, for callers that gather them from several
    /// places (a log's key and its witnesses').
    pub fn verify_by(&self, verifiers: &[&Verifier]) -> Result<Vec<VerifiedSignature>, NoteError> {
        let mut verified = Vec::new();
        for sig in &self.signatures {
            let mut known = verifiers
                .iter()
                .enumerate()
                .filter(|(_, v)| v.name == sig.name && v.key_id == sig.key_id);
            let Some((index, verifier)) = known.next() else {
                continue;
            };
            if known.next().is_some() {
                return Err(NoteError::AmbiguousKey {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            let timestamp = verifier.check(&self.text, &sig.signature).map_err(|()| {
                NoteError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                }
            })?;
            verified.push(VerifiedSignature {
                verifier: index,
                timestamp,
            });
        }
        if verified.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(verified)
    }

    /// Adds a signature line, replacing the line of the same key (name and ID) if there is one.
    fn add(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        if let Some(old) = self
            .signatures
            .iter_mut()
            .find(|s| s.name == signature.name && s.key_id == signature.key_id)
        {
            *old = signature;
            return Ok(());
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        self.signatures.push(signature);
        Ok(())
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            writeln!(f, "{sig}")?;
        }
        Ok(())
    }
}

fn check_characters(bytes: &[u8]) -> Result<(), NoteError> {
    match bytes.iter().position(|&b| b < 0x20 && b != b'\n') {
        Some(offset) => Err(NoteError::ControlCharacter {
            byte: bytes[offset],
            offset,
        }),
        None => Ok(()),
    }
}

fn parse_signature_line(line: &str, line_no: usize) -> Result<NoteSignature, NoteError> {
    let rest = line
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(NoteError::SignaturePrefix { line: line_no })?;
    let (name, encoded) = rest
        .split_once(' ')
        .ok_or(NoteError::SignatureEncoding { line: line_no })?;
    if !valid_name(name) {
        return Err(NoteError::SignatureName { line: line_no });
    }
    let blob = B64
        .decode(encoded)
        .map_err(|_| NoteError::SignatureEncoding { line: line_no })?;
    if blob.len() < 5 {
        return Err(NoteError::SignatureTooShort {
            line: line_no,
            len: blob.len(),
        });
    }
    let (id, signature) = blob.split_at(4);
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes([id[0], id[1], id[2], id[3]]),
        signature: signature.to_vec(),
    })
}

/// Key names are non-empty and hold no Unicode space and no plus sign.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidName(name.to_owned()))
    }
}

/// The signed-note key ID: the first four bytes of SHA-256(name || "\n" || type || key).
pub fn key_id(name: &str, signature_type: u8, key: &[u8]) -> u32 {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[signature_type]);
    ctx.update(key);
    let d = ctx.finish();
    let d = d.as_ref();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// How a [`Verifier`] checks a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerifierKind {
    /// Type 0x01: Ed25519 over the note text.
    Ed25519,
    /// Type 0x04, cosignature/v1: an 8-byte big-endian time, then Ed25519 over
    /// `cosignature/v1\ntime <time>\n` followed by the note text.
    CosignatureV1,
    /// Rekor's ECDSA log keys (Rekor v1; rekor-tiles logs with ECDSA keys): the key ID is the
    /// first four bytes of SHA-256 of the key's DER SubjectPublicKeyInfo, with no name and no
    /// type byte, and the signature is ASN.1 DER ECDSA over SHA-256 of the note text.
    EcdsaSpki,
}

/// A known key: its name and ID as signature lines carry them, and how to check them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    kind: VerifierKind,
    key: PublicKey,
}

impl Verifier {
    /// Parses a C2SP vkey, `<name>+<hex key ID>+<base64(type || key)>`, of type 0x01 (Ed25519)
    /// or 0x04 (cosignature/v1). The key ID must be the one the name and key hash to.
    pub fn from_vkey(vkey: &str) -> Result<Verifier, NoteError> {
        // The name holds no '+', and the base64 after the ID may.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::VkeyFormat);
        };
        check_name(name)?;
        let stated = parse_key_id(id).ok_or(NoteError::VkeyFormat)?;
        let raw = B64.decode(encoded).map_err(|_| NoteError::VkeyFormat)?;
        let (&signature_type, key) = raw.split_first().ok_or(NoteError::VkeyFormat)?;
        let computed = key_id(name, signature_type, key);
        if computed != stated {
            return Err(NoteError::KeyIdMismatch { stated, computed });
        }
        let kind = match signature_type {
            TYPE_ED25519 => VerifierKind::Ed25519,
            TYPE_COSIGNATURE_V1 => VerifierKind::CosignatureV1,
            other => return Err(NoteError::UnsupportedType(other)),
        };
        Verifier::from_ed25519(name, kind, key)
    }

    /// A verifier of Ed25519 note signatures (type 0x01) by `key` (32 bytes) under `name`.
    pub fn ed25519(name: &str, key: &[u8]) -> Result<Verifier, NoteError> {
        Verifier::from_ed25519(name, VerifierKind::Ed25519, key)
    }

    /// A verifier of cosignature/v1 signatures (type 0x04) by `key` (32 bytes) under `name`.
    pub fn cosignature_v1(name: &str, key: &[u8]) -> Result<Verifier, NoteError> {
        Verifier::from_ed25519(name, VerifierKind::CosignatureV1, key)
    }

    /// The verifier of a Sigstore Rekor log's checkpoints, from the log's public key in a
    /// trusted root and `name`, the host of the log's base URL (what its signature lines
    /// carry). Ed25519 keys (Rekor v2) are signed-note Ed25519 keys under that name; ECDSA keys
    /// (Rekor v1) are [`VerifierKind::EcdsaSpki`].
    pub fn for_log_key(name: &str, key: &PublicKey) -> Result<Verifier, NoteError> {
        match key.kind() {
            KeyKind::Ed25519 => {
                // The caller's key itself (the same bytes), with whatever it was prepared with:
                // a trusted root's keys remember the signatures they verified.
                let mut verifier = Verifier::ed25519(name, key.raw())?;
                verifier.key = key.clone();
                Ok(verifier)
            }
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::EcdsaP521 => {
                check_name(name)?;
                let fingerprint = key.fingerprint();
                Ok(Verifier {
                    name: name.to_owned(),
                    key_id: u32::from_be_bytes([
                        fingerprint[0],
                        fingerprint[1],
                        fingerprint[2],
                        fingerprint[3],
                    ]),
                    kind: VerifierKind::EcdsaSpki,
                    key: key.clone(),
                })
            }
            other => Err(NoteError::UnsupportedKey(other)),
        }
    }

    fn from_ed25519(name: &str, kind: VerifierKind, key: &[u8]) -> Result<Verifier, NoteError> {
        check_name(name)?;
        if key.len() != 32 {
            return Err(NoteError::KeyLength(key.len()));
        }
        let signature_type = match kind {
            VerifierKind::CosignatureV1 => TYPE_COSIGNATURE_V1,
            _ => TYPE_ED25519,
        };
        let mut spki = ED25519_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key);
        Ok(Verifier {
            name: name.to_owned(),
            key_id: key_id(name, signature_type, key),
            kind,
            key: PublicKey::from_spki_der(&spki)?,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn kind(&self) -> VerifierKind {
        self.kind
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The C2SP vkey of an Ed25519 or cosignature/v1 verifier; Rekor's ECDSA keys have none.
    pub fn vkey(&self) -> Option<String> {
        let signature_type = match self.kind {
            VerifierKind::Ed25519 => TYPE_ED25519,
            VerifierKind::CosignatureV1 => TYPE_COSIGNATURE_V1,
            VerifierKind::EcdsaSpki => return None,
        };
        let mut raw = vec![signature_type];
        raw.extend_from_slice(self.key.raw());
        Some(format!(
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            B64.encode(raw)
        ))
    }

    /// Checks one signature (the bytes after the key ID) over `text`; a cosignature's time
    /// comes back.
    fn check(&self, text: &str, signature: &[u8]) -> Result<Option<u64>, ()> {
        match self.kind {
            VerifierKind::Ed25519 => self
                .key
                .verify(Scheme::Ed25519, text.as_bytes(), signature)
                .map(|()| None)
                .map_err(|_| ()),
            VerifierKind::CosignatureV1 => {
                if signature.len() != 8 + ED25519_SIGNATURE_LEN {
                    return Err(());
                }
                let (time, signature) = signature.split_at(8);
                let time = u64::from_be_bytes(time.try_into().map_err(|_| ())?);
                let message = cosignature_message(text, time).map_err(|_| ())?;
                self.key
                    .verify(Scheme::Ed25519, &message, signature)
                    .map(|()| Some(time))
                    .map_err(|_| ())
            }
            VerifierKind::EcdsaSpki => self
                .key
                .verify(Scheme::Ecdsa(HashAlg::Sha256), text.as_bytes(), signature)
                .map(|()| None)
                .map_err(|_| ()),
        }
    }
}

/// The bytes a cosignature/v1 cosigner signs: two header lines, then the checkpoint text.
fn cosignature_message(text: &str, time: u64) -> Result<Vec<u8>, NoteError> {
    if time > i64::MAX as u64 {
        return Err(NoteError::TimestampRange(time));
    }
    Ok(format!("{COSIGNATURE_HEADER}time {time}\n{text}").into_bytes())
}

fn parse_key_id(hex: &str) -> Option<u32> {
    let lowercase_hex = hex.len() == 8
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    lowercase_hex
        .then(|| u32::from_str_radix(hex, 16).ok())
        .flatten()
}

/// An Ed25519 key with a name, as note signers and cosigners hold it.
struct NamedKey {
    name: String,
    key_id: u32,
    key: PrivateKey,
    public: Vec<u8>,
}

impl fmt::Debug for NamedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:08x}", self.name, self.key_id)
    }
}

impl NamedKey {
    fn new(name: &str, signature_type: u8, key: PrivateKey) -> Result<NamedKey, NoteError> {
        check_name(name)?;
        if key.kind() != KeyKind::Ed25519 {
            return Err(NoteError::UnsupportedKey(key.kind()));
        }
        let public = key.public_key()?.raw().to_vec();
        Ok(NamedKey {
            name: name.to_owned(),
            key_id: key_id(name, signature_type, &public),
            key,
            public,
        })
    }

    fn from_seed(name: &str, signature_type: u8, seed: &[u8]) -> Result<NamedKey, NoteError> {
        if seed.len() != 32 {
            return Err(NoteError::KeyLength(seed.len()));
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        NamedKey::new(name, signature_type, PrivateKey::Ed25519(pair))
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, NoteError> {
        self.key.sign(message).map_err(|_| NoteError::Signing)
    }
}

/// Signs notes with Ed25519 (signature type 0x01): how the ledger signs its checkpoints.
#[derive(Debug)]
pub struct Signer(NamedKey);

impl Signer {
    /// A signer with a new random key.
    pub fn generate(name: &str) -> Result<Signer, NoteError> {
        let key = PrivateKey::generate(KeyKind::Ed25519)?;
        Signer::from_private_key(name, key)
    }

    /// A signer for an Ed25519 private key (from PKCS#8, say).
    pub fn from_private_key(name: &str, key: PrivateKey) -> Result<Signer, NoteError> {
        NamedKey::new(name, TYPE_ED25519, key).map(Signer)
    }

    /// A signer for the Ed25519 key with this 32-byte seed (RFC 8032 private key).
    pub fn from_seed(name: &str, seed: &[u8]) -> Result<Signer, NoteError> {
        NamedKey::from_seed(name, TYPE_ED25519, seed).map(Signer)
    }

    /// Parses a signer key in Go's `golang.org/x/mod/sumdb/note` format,
    /// `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`.
    pub fn from_skey(skey: &str) -> Result<Signer, NoteError> {
        let mut parts = skey.splitn(5, '+');
        let (Some("PRIVATE"), Some("KEY"), Some(name), Some(id), Some(encoded)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(NoteError::SkeyFormat);
        };
        let stated = parse_key_id(id).ok_or(NoteError::SkeyFormat)?;
        let raw = B64.decode(encoded).map_err(|_| NoteError::SkeyFormat)?;
        match raw.split_first() {
            Some((&TYPE_ED25519, seed)) => {
                let signer = Signer::from_seed(name, seed)?;
                if signer.0.key_id != stated {
                    return Err(NoteError::KeyIdMismatch {
                        stated,
                        computed: signer.0.key_id,
                    });
                }
                Ok(signer)
            }
            Some((&other, _)) => Err(NoteError::UnsupportedType(other)),
            None => Err(NoteError::SkeyFormat),
        }
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn key_id(&self) -> u32 {
        self.0.key_id
    }

    /// The verifier of this signer's signatures.
    pub fn verifier(&self) -> Verifier {
        // The key was checked when the signer was made: 32 bytes, a valid name.
        Verifier::ed25519(&self.0.name, &self.0.public).expect("a signer's own key verifies")
    }

    /// The C2SP vkey that verifies this signer's signatures.
    pub fn vkey(&self) -> String {
        self.verifier()
            .vkey()
            .expect("Ed25519 verifiers have a vkey")
    }

    /// Signs `note`, replacing an earlier signature by the same key.
    pub fn sign(&self, note: &mut Note) -> Result<(), NoteError> {
        let signature = self.0.sign(note.text.as_bytes())?;
        note.add(NoteSignature {
            name: self.0.name.clone(),
            key_id: self.0.key_id,
            signature,
        })
    }
}

/// Cosigns checkpoints (C2SP tlog-cosignature, cosignature/v1, signature type 0x04), as a
/// witness does.
#[derive(Debug)]
pub struct Cosigner(NamedKey);

impl Cosigner {
    /// A cosigner with a new random key.
    pub fn generate(name: &str) -> Result<Cosigner, NoteError> {
        let key = PrivateKey::generate(KeyKind::Ed25519)?;
        Cosigner::from_private_key(name, key)
    }

    /// A cosigner for an Ed25519 private key.
    pub fn from_private_key(name: &str, key: PrivateKey) -> Result<Cosigner, NoteError> {
        NamedKey::new(name, TYPE_COSIGNATURE_V1, key).map(Cosigner)
    }

    /// A cosigner for the Ed25519 key with this 32-byte seed.
    pub fn from_seed(name: &str, seed: &[u8]) -> Result<Cosigner, NoteError> {
        NamedKey::from_seed(name, TYPE_COSIGNATURE_V1, seed).map(Cosigner)
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn key_id(&self) -> u32 {
        self.0.key_id
    }

    /// The verifier of this cosigner's cosignatures.
    pub fn verifier(&self) -> Verifier {
        // The key was checked when the cosigner was made.
        Verifier::cosignature_v1(&self.0.name, &self.0.public)
            .expect("a cosigner's own key verifies")
    }

    /// The C2SP vkey (type 0x04) that verifies this cosigner's cosignatures.
    pub fn vkey(&self) -> String {
        self.verifier()
            .vkey()
            .expect("cosignature verifiers have a vkey")
    }

    /// Cosigns `note` (a checkpoint) as of `time`, in seconds since the Unix epoch, replacing
    /// an earlier cosignature by the same key.
    pub fn cosign(&self, note: &mut Note, time: u64) -> Result<(), NoteError> {
        let message = cosignature_message(&note.text, time)?;
        let mut signature = time.to_be_bytes().to_vec();
        signature.extend(self.0.sign(&message)?);
        note.add(NoteSignature {
            name: self.0.name.clone(),
            key_id: self.0.key_id,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use serde_json::Value;

    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/ledger")
    }

    fn vectors() -> Vec<Value> {
        let text = std::fs::read_to_string(fixtures().join("signed-note/notes.json")).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        doc["vectors"].as_array().unwrap().clone()
    }

    fn vector(id_prefix: &str) -> Value {
        let mut found = vectors()
            .into_iter()
            .filter(|v| v["id"].as_str().unwrap().starts_with(id_prefix));
        let v = found
            .next()
            .unwrap_or_else(|| panic!("no vector {id_prefix}"));
        assert!(found.next().is_none(), "two vectors named {id_prefix}");
        v
    }

    fn s<'a>(v: &'a Value, field: &str) -> &'a str {
        v[field].as_str().unwrap()
    }

    #[test]
    fn c2sp_signed_note_example() {
        let v = vector("c2sp-signed-note-example");
        let verifier = Verifier::from_vkey(s(&v, "vkey")).unwrap();
        assert_eq!(verifier.name(), "example.com/foo");
        assert_eq!(format!("{:08x}", verifier.key_id()), "530d903a");
        assert_eq!(verifier.vkey().unwrap(), s(&v, "vkey"));
        let note = Note::parse(s(&v, "note").as_bytes()).unwrap();
        assert_eq!(note.text(), "This is an example message.\n");
        assert_eq!(
            note.verify(std::slice::from_ref(&verifier)).unwrap(),
            [VerifiedSignature {
                verifier: 0,
                timestamp: None
            }]
        );
        assert_eq!(note.to_string(), s(&v, "note"));
    }

    /// Go's `note.Sign` test: Ed25519 is deterministic, so signing the text with the skey
    /// gives exactly the published note.
    #[test]
    fn go_note_sign_is_byte_exact() {
        let v = vector("go-note-sign-peterneumann");
        let signer = Signer::from_skey(s(&v, "skey")).unwrap();
        assert_eq!(signer.vkey(), s(&v, "vkey"));
        let published = Note::parse(s(&v, "note").as_bytes()).unwrap();
        let mut note = Note::new(published.text()).unwrap();
        signer.sign(&mut note).unwrap();
        assert_eq!(note.to_string(), s(&v, "note"));
        // Signing again replaces the line rather than adding one.
        signer.sign(&mut note).unwrap();
        assert_eq!(note.to_string(), s(&v, "note"));
        let verifier = Verifier::from_vkey(s(&v, "vkey")).unwrap();
        assert_eq!(verifier, signer.verifier());
        published.verify(&[verifier]).unwrap();
    }

    #[test]
    fn go_note_open_two_signatures() {
        let v = vector("go-note-open-two-sigs");
        let vkeys: Vec<Verifier> = v["vkeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| Verifier::from_vkey(k.as_str().unwrap()).unwrap())
            .collect();
        let note = Note::parse(s(&v, "note").as_bytes()).unwrap();
        assert_eq!(note.signatures().len(), 2);
        // Peter's key alone: his line verifies, Enoch's is ignored.
        let peter = note.verify(&vkeys[..1]).unwrap();
        assert_eq!(peter.len(), 1);
        assert_eq!(peter[0].verifier, 0);
        // Enoch's alone, and both.
        assert_eq!(note.verify(&vkeys[1..]).unwrap().len(), 1);
        let both = note.verify(&vkeys).unwrap();
        assert_eq!(both.iter().map(|s| s.verifier).collect::<Vec<_>>(), [0, 1]);
        // No known key: not verified.
        assert_eq!(note.verify(&[]), Err(NoteError::NoKnownSignature));
        assert_eq!(note.to_string(), s(&v, "note"));
    }

    #[test]
    fn go_bad_vkeys_are_rejected() {
        let v = vector("go-bad-vkeys");
        let bad: Vec<&str> = v["bad_vkeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(bad.len(), 2);
        // The first ends in non-canonical base64 ("KEY==" leaves bits set that decoding
        // drops), which this parser refuses before anything else; Go's lenient decoder reads
        // 37 bytes, for which the key ID is right and the length wrong. Canonically encoded,
        // the same bytes are refused for their length.
        assert_eq!(Verifier::from_vkey(bad[0]), Err(NoteError::VkeyFormat));
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        let (name, rest) = bad[0].split_once('+').unwrap();
        let (id, encoded) = rest.split_once('+').unwrap();
        let raw = lenient.decode(encoded).unwrap();
        let canonical = format!("{name}+{id}+{}", B64.encode(&raw));
        assert_eq!(
            Verifier::from_vkey(&canonical),
            Err(NoteError::KeyLength(36))
        );
        // The second's key ID is right for its bytes; its type byte 0x65 is unknown.
        assert_eq!(
            Verifier::from_vkey(bad[1]),
            Err(NoteError::UnsupportedType(0x65))
        );
    }

    #[test]
    fn cosignature_message_is_the_c2sp_example() {
        let v = vector("c2sp-tlog-cosignature-signed-message-example");
        let want = s(&v, "cosigned_message");
        let text = want
            .strip_prefix("cosignature/v1\ntime 1679315147\n")
            .unwrap();
        assert_eq!(
            cosignature_message(text, 1679315147).unwrap(),
            want.as_bytes()
        );
        assert_eq!(
            cosignature_message(text, 1 << 63),
            Err(NoteError::TimestampRange(1 << 63))
        );
    }

    /// The three real witness cosignatures on a Rekor v2 checkpoint (sigstore-python's test
    /// bundle), under the witnesses' published type 0x04 vkeys.
    #[test]
    fn real_witness_cosignatures_verify() {
        let keys: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join("witness/keys.json")).unwrap(),
        )
        .unwrap();
        let witnesses: Vec<Verifier> = keys["witness_vkeys_type04_ed25519_cosignature_v1"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| Verifier::from_vkey(k.as_str().unwrap()).unwrap())
            .collect();
        assert!(
            witnesses
                .iter()
                .all(|w| w.kind() == VerifierKind::CosignatureV1)
        );
        let log = Verifier::from_vkey(keys["log_vkeys"][0].as_str().unwrap()).unwrap();
        let bundle: Value = serde_json::from_str(
            &std::fs::read_to_string(
                fixtures().join("rekor/a.dsse.staging-rekor-v2.txt.sigstore.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let envelope = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
            ["checkpoint"]["envelope"]
            .as_str()
            .unwrap();
        let note = Note::parse(envelope.as_bytes()).unwrap();
        assert_eq!(note.to_string(), envelope);
        let verified = note.verify(&witnesses).unwrap();
        assert_eq!(verified.len(), 3);
        for (i, w) in verified.iter().enumerate() {
            assert_eq!(w.verifier, i);
            assert_eq!(w.timestamp, Some(1778700214));
        }
        // With the log's key too: four, the log's without a time.
        let mut all = vec![log];
        all.extend(witnesses.iter().cloned());
        let verified = note.verify(&all).unwrap();
        assert_eq!(verified.len(), 4);
        assert_eq!(verified[0].timestamp, None);
        // A cosignature moved to another time no longer verifies, and as its key is known the
        // whole note is rejected.
        let mut forged = note.clone();
        forged.signatures[1].signature[7] ^= 1;
        assert!(matches!(
            forged.verify(&witnesses),
            Err(NoteError::InvalidSignature { .. })
        ));
        // A witness key given as a plain Ed25519 key (type 0x01) has another key ID: its
        // lines are unknown, so ignored.
        let plain: Vec<Verifier> = witnesses
            .iter()
            .map(|w| Verifier::ed25519(w.name(), w.public_key().raw()).unwrap())
            .collect();
        assert_eq!(note.verify(&plain), Err(NoteError::NoKnownSignature));
    }

    #[test]
    fn signing_and_cosigning_round_trip() {
        let signer = Signer::generate("vouch.example/ledger").unwrap();
        let cosigner = Cosigner::generate("witness.example/w1").unwrap();
        let mut note =
            Note::new("vouch.example/ledger\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
                .unwrap();
        signer.sign(&mut note).unwrap();
        cosigner.cosign(&mut note, 1_700_000_000).unwrap();
        let text = note.to_string();
        let parsed = Note::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed, note);
        let log = Verifier::from_vkey(&signer.vkey()).unwrap();
        let witness = Verifier::from_vkey(&cosigner.vkey()).unwrap();
        assert_eq!(witness.kind(), VerifierKind::CosignatureV1);
        assert_eq!(
            parsed.verify(&[log.clone(), witness.clone()]).unwrap(),
            [
                VerifiedSignature {
                    verifier: 0,
                    timestamp: None
                },
                VerifiedSignature {
                    verifier: 1,
                    timestamp: Some(1_700_000_000)
                }
            ]
        );
        // Cosigning again later replaces the cosignature.
        cosigner.cosign(&mut note, 1_700_000_100).unwrap();
        assert_eq!(note.signatures().len(), 2);
        assert_eq!(
            note.verify(std::slice::from_ref(&witness)).unwrap()[0].timestamp,
            Some(1_700_000_100)
        );
        // A cosignature is not a plain signature by the same key, nor the reverse.
        let same_key_plain =
            Verifier::ed25519(cosigner.name(), witness.public_key().raw()).unwrap();
        assert_eq!(
            note.verify(&[same_key_plain]),
            Err(NoteError::NoKnownSignature)
        );
        assert!(matches!(
            cosigner.cosign(&mut note, u64::MAX),
            Err(NoteError::TimestampRange(_))
        ));
        // From a seed, the same key each time.
        let a = Signer::from_seed("n", &[7; 32]).unwrap();
        let b = Signer::from_private_key(
            "n",
            PrivateKey::Ed25519(Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap()),
        )
        .unwrap();
        assert_eq!(a.vkey(), b.vkey());
        assert!(matches!(
            Signer::from_private_key("n", PrivateKey::generate(KeyKind::EcdsaP256).unwrap()),
            Err(NoteError::UnsupportedKey(KeyKind::EcdsaP256))
        ));
    }

    #[test]
    fn unknown_signatures_are_ignored_and_bad_known_ones_reject_the_note() {
        let signer = Signer::from_seed("example.com/log", &[1; 32]).unwrap();
        let other = Signer::from_seed("example.com/log", &[2; 32]).unwrap();
        let stranger = Signer::from_seed("example.org/other", &[1; 32]).unwrap();
        let mut note = Note::new("hello\n").unwrap();
        other.sign(&mut note).unwrap();
        stranger.sign(&mut note).unwrap();
        signer.sign(&mut note).unwrap();
        let known = [signer.verifier()];
        // Same name, other key ID; and other name, same key: both ignored.
        assert_eq!(note.verify(&known).unwrap().len(), 1);
        // The known key's signature spoiled: the note is rejected.
        let mut bad = note.clone();
        bad.signatures[2].signature[0] ^= 1;
        assert_eq!(
            bad.verify(&known),
            Err(NoteError::InvalidSignature {
                name: "example.com/log".into(),
                key_id: signer.key_id()
            })
        );
        // The same key given twice is ambiguous.
        assert!(matches!(
            note.verify(&[signer.verifier(), signer.verifier()]),
            Err(NoteError::AmbiguousKey { .. })
        ));
        // A signature line of the right name and ID but cut short is a failed signature.
        let mut short = note.clone();
        short.signatures[2].signature.truncate(10);
        let reparsed = Note::parse(short.to_string().as_bytes()).unwrap();
        assert!(matches!(
            reparsed.verify(&known),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    /// Each way a note can be malformed, with its error.
    #[test]
    fn malformed_notes() {
        let sig = "\u{2014} a AAAAAAE=\n";
        let cases: &[(&[u8], NoteError)] = &[
            (b"text\n\n\xff\n", NoteError::NotUtf8),
            (
                b"te\txt\n\n",
                NoteError::ControlCharacter {
                    byte: b'\t',
                    offset: 2,
                },
            ),
            (
                b"text\r\n\n",
                NoteError::ControlCharacter {
                    byte: b'\r',
                    offset: 4,
                },
            ),
            (b"text\n", NoteError::NoSignatureBlock),
            (b"text\n\n", NoteError::NoSignatureBlock),
            (
                "text\n\n\u{2014} a AAAAAAE=".as_bytes(),
                NoteError::NoSignatureBlock,
            ),
            (
                b"text\n\n- a AAAAAAE=\n",
                NoteError::SignaturePrefix { line: 1 },
            ),
            (
                "text\n\n\u{2014}  AAAAAAE=\n".as_bytes(),
                NoteError::SignatureName { line: 1 },
            ),
            (
                "text\n\n\u{2014} a+b AAAAAAE=\n".as_bytes(),
                NoteError::SignatureName { line: 1 },
            ),
            (
                "text\n\n\u{2014} a\u{a0}b AAAAAAE=\n".as_bytes(),
                NoteError::SignatureName { line: 1 },
            ),
            (
                "text\n\n\u{2014} a\n".as_bytes(),
                NoteError::SignatureEncoding { line: 1 },
            ),
            (
                "text\n\n\u{2014} a AAAAAAE\n".as_bytes(),
                NoteError::SignatureEncoding { line: 1 },
            ),
            // Non-canonical base64: the last character's unused bits are set.
            (
                "text\n\n\u{2014} a AAAAAAF=\n".as_bytes(),
                NoteError::SignatureEncoding { line: 1 },
            ),
            (
                "text\n\n\u{2014} a AAAAAAE= \n".as_bytes(),
                NoteError::SignatureEncoding { line: 1 },
            ),
            (
                "text\n\n\u{2014} a AAAAAA==\n".as_bytes(),
                NoteError::SignatureTooShort { line: 1, len: 4 },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                Note::parse(input).as_ref(),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let mut many = String::from("text\n\n");
        for _ in 0..MAX_SIGNATURES {
            many.push_str(sig);
        }
        assert_eq!(
            Note::parse(many.as_bytes()).unwrap().signatures().len(),
            MAX_SIGNATURES
        );
        many.push_str(sig);
        assert_eq!(
            Note::parse(many.as_bytes()),
            Err(NoteError::TooManySignatures)
        );
        // The text may hold blank lines: the last one separates it from the signatures.
        let note = Note::parse(format!("a\n\nb\n\n{sig}").as_bytes()).unwrap();
        assert_eq!(note.text(), "a\n\nb\n");
        assert_eq!(Note::new("no newline"), Err(NoteError::TextNotTerminated));
    }

    #[test]
    fn malformed_keys() {
        let good = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
        assert!(Verifier::from_vkey(good).is_ok());
        for (vkey, want) in [
            ("example.com/foo+530d903a", NoteError::VkeyFormat),
            (
                "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                NoteError::VkeyFormat,
            ),
            (
                "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                NoteError::VkeyFormat,
            ),
            (
                "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",
                NoteError::VkeyFormat,
            ),
            (
                "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                NoteError::KeyIdMismatch {
                    stated: 0x530d903b,
                    computed: 0x530d903a,
                },
            ),
            (
                " +530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                NoteError::InvalidName(" ".into()),
            ),
        ] {
            assert_eq!(Verifier::from_vkey(vkey), Err(want), "{vkey}");
        }
        assert!(matches!(
            Signer::from_skey("PRIVATE+KEY+x+00000000"),
            Err(NoteError::SkeyFormat)
        ));
        assert!(matches!(
            Signer::from_skey(
                "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
            ),
            Err(NoteError::KeyIdMismatch { .. })
        ));
        assert_eq!(
            Verifier::ed25519("x", &[0; 31]),
            Err(NoteError::KeyLength(31))
        );
    }
}
