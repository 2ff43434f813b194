//! Ledger entries: a supply-chain event, signed by its submitter, as canonical JSON.
//!
//! An entry is the JSON object `{"event": {..}, "signature": {"key": "sha256:<hex>", "sig":
//! "<base64>"}}` in canonical form: object members sorted by name, no whitespace, integers only,
//! strings as `serde_json` writes them. The signature is made over [`signed_message`] of the
//! event's canonical bytes by the key whose SPKI hashes (SHA-256) to `key`. The entry's bytes
//! are the log's leaf: a reader hashes exactly what it fetched, so an entry has one encoding.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};
use verify::canonical_json;
use verify::keys::{PrivateKey, PublicKey, hex};
use verify::time::Timestamp;

/// The largest entry the log accepts, in bytes.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// The domain separation prefixed to an event's canonical bytes before signing.
pub const SIGNING_CONTEXT: &[u8] = b"vouch-ledger-event/v1\n";

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    ArtifactPushed,
    ArtifactDeleted,
    SignatureAttached,
    AttestationAttached,
    PolicyUpdated,
    ArtifactAdmitted,
    ArtifactDenied,
    KeyRevoked,
    DeployAllowed,
    DeployDenied,
    DriftDetected,
    BuildRecorded,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::ArtifactPushed,
        EventType::ArtifactDeleted,
        EventType::SignatureAttached,
        EventType::AttestationAttached,
        EventType::PolicyUpdated,
        EventType::ArtifactAdmitted,
        EventType::ArtifactDenied,
        EventType::KeyRevoked,
        EventType::DeployAllowed,
        EventType::DeployDenied,
        EventType::DriftDetected,
        EventType::BuildRecorded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ArtifactPushed => "artifact.pushed",
            EventType::ArtifactDeleted => "artifact.deleted",
            EventType::SignatureAttached => "signature.attached",
            EventType::AttestationAttached => "attestation.attached",
            EventType::PolicyUpdated => "policy.updated",
            EventType::ArtifactAdmitted => "artifact.admitted",
            EventType::ArtifactDenied => "artifact.denied",
            EventType::KeyRevoked => "key.revoked",
            EventType::DeployAllowed => "deploy.allowed",
            EventType::DeployDenied => "deploy.denied",
            EventType::DriftDetected => "drift.detected",
            EventType::BuildRecorded => "build.recorded",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// What the event's subject must name.
    fn subject_shape(self) -> SubjectShape {
        match self {
            EventType::PolicyUpdated => SubjectShape::Policy,
            EventType::KeyRevoked => SubjectShape::KeyOrDigest,
            EventType::DeployAllowed
            | EventType::DeployDenied
            | EventType::DriftDetected
            | EventType::BuildRecorded => SubjectShape::Digest,
            _ => SubjectShape::Artifact,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum SubjectShape {
    /// `repository` and `digest` (a manifest in a repository of this registry).
    Artifact,
    /// `digest`, and `repository` if known (an image as a cluster or a builder names it).
    Digest,
    /// `name` and `digest` of a policy document.
    Policy,
    /// `key`: the SHA-256 fingerprint of a public key; or, for a revoked artifact, `digest`
    /// (and `repository` if the revocation is of one repository's copy).
    KeyOrDigest,
}

/// Why an entry is malformed. Every variant is the submitter's fault: a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    #[error("an entry is at most {MAX_ENTRY_BYTES} bytes, this one is {0}")]
    TooLarge(usize),
    #[error("the entry is not JSON: {0}")]
    Json(String),
    #[error("the entry is not in canonical form (members sorted, no whitespace, integers only)")]
    NotCanonical,
    #[error("{field}: {problem}")]
    Field {
        field: &'static str,
        problem: String,
    },
    #[error("unknown event type {0:?}")]
    UnknownType(String),
}

fn field(field: &'static str, problem: impl Into<String>) -> EntryError {
    EntryError::Field {
        field,
        problem: problem.into(),
    }
}

/// What an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Subject {
    /// The repository, for artifacts of this registry.
    pub repository: Option<String>,
    /// The manifest digest of an artifact, or the digest of a policy document.
    pub digest: Option<oci::Digest>,
    /// The image's config digest, where known.
    pub config: Option<oci::Digest>,
    /// The tag pushed, if any.
    pub tag: Option<String>,
    /// A policy's name.
    pub name: Option<String>,
    /// A key's SHA-256 fingerprint (`sha256:<hex>` of its DER SPKI).
    pub key: Option<String>,
}

/// A supply-chain event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    /// When it happened, RFC 3339 UTC.
    pub time: Timestamp,
    /// Who caused it: a registry user, a CI identity, a cluster.
    pub actor: String,
    pub subject: Subject,
    /// The digests of the evidence (signature and attestation manifests, bundles, provenance,
    /// policy documents).
    pub evidence: Vec<oci::Digest>,
    /// Anything else the event type carries (reasons, predicate type, policy digest,
    /// workload, builder and source), as a JSON object.
    pub details: Map<String, Value>,
}

impl Event {
    /// An event of `kind` at `time` by `actor`, about nothing yet.
    pub fn new(kind: EventType, time: Timestamp, actor: impl Into<String>) -> Event {
        Event {
            kind,
            time,
            actor: actor.into(),
            subject: Subject::default(),
            evidence: Vec::new(),
            details: Map::new(),
        }
    }

    /// The artifact this event names: its manifest digest, for the index by digest.
    pub fn digests(&self) -> impl Iterator<Item = &oci::Digest> {
        self.subject
            .digest
            .iter()
            .chain(self.subject.config.iter())
            .chain(self.evidence.iter())
    }

    /// A detail that must be a string.
    pub fn detail_str(&self, name: &str) -> Option<&str> {
        self.details.get(name).and_then(Value::as_str)
    }

    fn to_value(&self) -> Value {
        let mut subject = Map::new();
        let s = &self.subject;
        let mut put = |name: &str, v: Option<String>| {
            if let Some(v) = v {
                subject.insert(name.into(), Value::String(v));
            }
        };
        put("repository", s.repository.clone());
        put("digest", s.digest.as_ref().map(|d| d.to_string()));
        put("config", s.config.as_ref().map(|d| d.to_string()));
        put("tag", s.tag.clone());
        put("name", s.name.clone());
        put("key", s.key.clone());
        let mut event = Map::new();
        event.insert("type".into(), self.kind.as_str().into());
        event.insert("time".into(), self.time.to_rfc3339().into());
        event.insert("actor".into(), self.actor.clone().into());
        event.insert("subject".into(), Value::Object(subject));
        if !self.evidence.is_empty() {
            event.insert(
                "evidence".into(),
                Value::Array(
                    self.evidence
                        .iter()
                        .map(|d| Value::String(d.to_string()))
                        .collect(),
                ),
            );
        }
        if !self.details.is_empty() {
            event.insert("details".into(), Value::Object(self.details.clone()));
        }
        Value::Object(event)
    }

    /// The event of a parsed entry; takes the value to keep its `details` without a copy.
    fn from_value(value: Value) -> Result<Event, EntryError> {
        let Value::Object(mut obj) = value else {
            return Err(field("event", "not an object"));
        };
        allow_only(
            &obj,
            &["type", "time", "actor", "subject", "evidence", "details"],
            "event",
        )?;
        let kind_name = string(&obj, "type", "event.type")?;
        let kind =
            EventType::parse(kind_name).ok_or_else(|| EntryError::UnknownType(kind_name.into()))?;
        let time_text = string(&obj, "time", "event.time")?;
        let time =
            Timestamp::parse_rfc3339(time_text).map_err(|e| field("event.time", e.to_string()))?;
        if time.to_rfc3339() != time_text {
            return Err(field(
                "event.time",
                "not in the canonical RFC 3339 UTC form (e.g. 2026-01-02T03:04:05Z)",
            ));
        }
        let actor = string(&obj, "actor", "event.actor")?;
        check_text("event.actor", actor, 256)?;
        let subject = parse_subject(kind, obj.get("subject"))?;
        let evidence = match obj.get("evidence") {
            None => Vec::new(),
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .and_then(|s| oci::Digest::parse(s).ok())
                        .ok_or_else(|| field("event.evidence", "every item is a digest"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(field("event.evidence", "a non-empty array of digests")),
        };
        let actor = actor.to_owned();
        let details = match obj.remove("details") {
            None => Map::new(),
            Some(Value::Object(d)) if !d.is_empty() => d,
            Some(_) => return Err(field("event.details", "a non-empty object")),
        };
        let event = Event {
            kind,
            time,
            actor,
            subject,
            evidence,
            details,
        };
        event.check_details()?;
        Ok(event)
    }

    /// The details each event type requires.
    fn check_details(&self) -> Result<(), EntryError> {
        let need_str = |name: &'static str| -> Result<(), EntryError> {
            match self.details.get(name) {
                Some(Value::String(s)) if !s.is_empty() => Ok(()),
                _ => Err(field(
                    "event.details",
                    format!("{} needs {name}", self.kind),
                )),
            }
        };
        let need_digest = |name: &'static str| -> Result<(), EntryError> {
            match self.details.get(name).and_then(Value::as_str) {
                Some(s) if oci::Digest::parse(s).is_ok() => Ok(()),
                _ => Err(field(
                    "event.details",
                    format!("{} needs {name}, a digest", self.kind),
                )),
            }
        };
        let need_evidence = || -> Result<(), EntryError> {
            if self.evidence.is_empty() {
                return Err(field(
                    "event.evidence",
                    format!("{} needs the digest of its evidence", self.kind),
                ));
            }
            Ok(())
        };
        let need_reasons = || -> Result<(), EntryError> {
            match self.details.get("reasons") {
                Some(Value::Array(r)) if !r.is_empty() && r.iter().all(Value::is_string) => Ok(()),
                _ => Err(field(
                    "event.details",
                    format!("{} needs reasons, a non-empty array of strings", self.kind),
                )),
            }
        };
        match self.kind {
            EventType::ArtifactPushed | EventType::ArtifactDeleted => Ok(()),
            EventType::SignatureAttached => need_evidence(),
            EventType::AttestationAttached => {
                need_evidence()?;
                need_str("predicateType")
            }
            EventType::PolicyUpdated => Ok(()),
            EventType::ArtifactAdmitted | EventType::DeployAllowed => need_digest("policy"),
            EventType::ArtifactDenied | EventType::DeployDenied => {
                need_digest("policy")?;
                need_reasons()
            }
            EventType::KeyRevoked => need_str("reason"),
            EventType::DriftDetected => need_str("reason"),
            EventType::BuildRecorded => {
                need_str("builder")?;
                need_evidence()
            }
        }
    }
}

fn allow_only(
    obj: &Map<String, Value>,
    names: &[&str],
    what: &'static str,
) -> Result<(), EntryError> {
    match obj.keys().find(|k| !names.contains(&k.as_str())) {
        Some(k) => Err(field(what, format!("unknown member {k:?}"))),
        None => Ok(()),
    }
}

fn string<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    what: &'static str,
) -> Result<&'a str, EntryError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(field(what, "not a string")),
        None => Err(field(what, "missing")),
    }
}

fn check_text(what: &'static str, s: &str, max: usize) -> Result<(), EntryError> {
    if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
        return Err(field(
            what,
            format!("1 to {max} bytes without control characters"),
        ));
    }
    Ok(())
}

fn parse_subject(kind: EventType, value: Option<&Value>) -> Result<Subject, EntryError> {
    let Some(Value::Object(obj)) = value else {
        return Err(field("event.subject", "missing or not an object"));
    };
    allow_only(
        obj,
        &["repository", "digest", "config", "tag", "name", "key"],
        "event.subject",
    )?;
    let opt = |name: &str, what: &'static str| -> Result<Option<&str>, EntryError> {
        match obj.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(field(what, "not a string")),
        }
    };
    let digest = |name: &str, what: &'static str| -> Result<Option<oci::Digest>, EntryError> {
        opt(name, what)?
            .map(|s| oci::Digest::parse(s).map_err(|e| field(what, e.to_string())))
            .transpose()
    };
    let repository = opt("repository", "event.subject.repository")?
        .map(|r| {
            oci::RepoName::parse(r)
                .map(|_| r.to_owned())
                .map_err(|e| field("event.subject.repository", e.to_string()))
        })
        .transpose()?;
    let tag = opt("tag", "event.subject.tag")?
        .map(|t| {
            oci::Tag::parse(t)
                .map(|_| t.to_owned())
                .map_err(|e| field("event.subject.tag", e.to_string()))
        })
        .transpose()?;
    let name = opt("name", "event.subject.name")?.map(str::to_owned);
    if let Some(n) = &name {
        check_text("event.subject.name", n, 256)?;
    }
    let key = opt("key", "event.subject.key")?.map(str::to_owned);
    if let Some(k) = &key {
        parse_fingerprint(k).ok_or_else(|| field("event.subject.key", "not sha256:<64 hex>"))?;
    }
    let subject = Subject {
        repository,
        digest: digest("digest", "event.subject.digest")?,
        config: digest("config", "event.subject.config")?,
        tag,
        name,
        key,
    };
    let has = |present: bool, name: &str| -> Result<(), EntryError> {
        if present {
            Ok(())
        } else {
            Err(field("event.subject", format!("{kind} names its {name}")))
        }
    };
    let only = |allowed: &[bool]| -> Result<(), EntryError> {
        if allowed.iter().all(|ok| *ok) {
            Ok(())
        } else {
            Err(field(
                "event.subject",
                format!("a member that {kind} does not use"),
            ))
        }
    };
    let s = &subject;
    match kind.subject_shape() {
        SubjectShape::Artifact => {
            has(s.repository.is_some(), "repository")?;
            has(s.digest.is_some(), "digest")?;
            only(&[s.name.is_none(), s.key.is_none()])?;
        }
        SubjectShape::Digest => {
            has(s.digest.is_some(), "digest")?;
            only(&[s.name.is_none(), s.key.is_none()])?;
        }
        SubjectShape::Policy => {
            has(s.name.is_some(), "name")?;
            has(s.digest.is_some(), "digest")?;
            only(&[
                s.repository.is_none(),
                s.config.is_none(),
                s.tag.is_none(),
                s.key.is_none(),
            ])?;
        }
        SubjectShape::KeyOrDigest if s.key.is_some() => {
            only(&[
                s.repository.is_none(),
                s.digest.is_none(),
                s.config.is_none(),
                s.tag.is_none(),
                s.name.is_none(),
            ])?;
        }
        SubjectShape::KeyOrDigest => {
            has(s.digest.is_some(), "key or digest")?;
            only(&[s.config.is_none(), s.tag.is_none(), s.name.is_none()])?;
        }
    }
    Ok(subject)
}

/// `sha256:<64 lowercase hex>` as 32 bytes.
pub fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let hex_part: &[u8; 64] = s.strip_prefix("sha256:")?.as_bytes().try_into().ok()?;
    // Lowercase only: a fingerprint has one spelling.
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex_part.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// A key's fingerprint as entries name it: `sha256:<hex>` of its DER SPKI.
pub fn fingerprint(key: &PublicKey) -> String {
    format!("sha256:{}", hex(&key.fingerprint()))
}

/// The bytes a submitter signs: [`SIGNING_CONTEXT`] and the event's canonical JSON.
pub fn signed_message(event_json: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_CONTEXT.len() + event_json.len());
    m.extend_from_slice(SIGNING_CONTEXT);
    m.extend_from_slice(event_json);
    m
}

/// A parsed, well-formed entry whose signature is not yet checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub event: Event,
    /// The signer's key fingerprint.
    pub key: [u8; 32],
    pub signature: Vec<u8>,
    /// The whole entry's canonical JSON: the leaf.
    bytes: Vec<u8>,
    /// Where the event's canonical JSON, as signed, ends in `bytes`; it starts right after
    /// [`EVENT_AT`].
    event_end: usize,
}

/// How every entry begins: its first member (in canonical order) is the event.
const EVENT_AT: &[u8] = br#"{"event":"#;
/// What follows the event: the second and last member.
const SIGNATURE_AT: &[u8] = br#","signature":"#;

impl Entry {
    /// Signs `event` with `key`.
    pub fn sign(event: Event, key: &PrivateKey) -> Result<Entry, SignError> {
        let event_value = event.to_value();
        let event_json = canonical_json::encode(&event_value);
        let signature = key
            .sign(&signed_message(&event_json))
            .map_err(|e| SignError(e.to_string()))?;
        let public = key.public_key().map_err(|e| SignError(e.to_string()))?;
        let bytes =
            canonical_json::encode(&entry_value(event_value, &public.fingerprint(), &signature));
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(SignError(EntryError::TooLarge(bytes.len()).to_string()));
        }
        let event_end = EVENT_AT.len() + event_json.len();
        // Canonical members are sorted: `event` comes first, as it was encoded alone.
        debug_assert_eq!(bytes.get(EVENT_AT.len()..event_end), Some(&event_json[..]));
        Ok(Entry {
            event,
            key: public.fingerprint(),
            signature,
            bytes,
            event_end,
        })
    }

    /// Parses an entry as submitted or stored: canonical JSON, schema checked.
    pub fn parse(bytes: &[u8]) -> Result<Entry, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| EntryError::Json(e.to_string()))?;
        if !is_canonical_value(&value) || !canonical_json::is_encoding_of(&value, bytes) {
            return Err(EntryError::NotCanonical);
        }
        let Value::Object(mut obj) = value else {
            return Err(field("entry", "not an object"));
        };
        allow_only(&obj, &["event", "signature"], "entry")?;
        let event_value = obj
            .remove("event")
            .ok_or_else(|| field("event", "missing"))?;
        let event = Event::from_value(event_value)?;
        let Some(sig_value @ Value::Object(sig)) = obj.get("signature") else {
            return Err(field("signature", "missing or not an object"));
        };
        allow_only(sig, &["key", "sig"], "signature")?;
        let key = parse_fingerprint(string(sig, "key", "signature.key")?)
            .ok_or_else(|| field("signature.key", "not sha256:<64 hex>"))?;
        let signature = B64
            .decode(string(sig, "sig", "signature.sig")?)
            .map_err(|_| field("signature.sig", "not base64"))?;
        if signature.is_empty() || signature.len() > 1024 {
            return Err(field("signature.sig", "1 to 1024 bytes"));
        }
        // The bytes are the canonical encoding of exactly {event, signature}, in that order:
        // `{"event":<event>,"signature":<signature>}`. So the signed event JSON is the input's
        // own bytes, found from the end, with no second encoding.
        let signature_len = canonical_json::encoded_len(sig_value);
        let event_end = bytes
            .len()
            .checked_sub(SIGNATURE_AT.len() + signature_len + 1)
            .filter(|end| {
                *end >= EVENT_AT.len()
                    && bytes.starts_with(EVENT_AT)
                    && bytes[*end..].starts_with(SIGNATURE_AT)
            })
            // Unreachable for bytes that matched their canonical encoding; refused all the same.
            .ok_or(EntryError::NotCanonical)?;
        Ok(Entry {
            event,
            key,
            signature,
            bytes: bytes.to_vec(),
            event_end,
        })
    }

    /// The entry's bytes: the log's leaf.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The event's canonical JSON.
    pub fn event_json(&self) -> &[u8] {
        &self.bytes[EVENT_AT.len()..self.event_end]
    }

    /// Checks the signature with `key`, whose fingerprint the entry must name.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), SignatureMismatch> {
        if key.fingerprint() != self.key {
            return Err(SignatureMismatch::OtherKey);
        }
        key.verify(
            key.default_scheme(),
            &signed_message(self.event_json()),
            &self.signature,
        )
        .map_err(|_| SignatureMismatch::Invalid)
    }
}

/// A signature check that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureMismatch {
    #[error("the entry names another key")]
    OtherKey,
    #[error("the signature does not verify with the submitter's key")]
    Invalid,
}

/// Signing failed (the key cannot sign, or the event is too large).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot sign the event: {0}")]
pub struct SignError(pub String);

fn entry_value(event: Value, key: &[u8; 32], signature: &[u8]) -> Value {
    let mut sig = Map::new();
    sig.insert("key".into(), format!("sha256:{}", hex(key)).into());
    sig.insert("sig".into(), B64.encode(signature).into());
    let mut entry = Map::new();
    entry.insert("event".into(), event);
    entry.insert("signature".into(), Value::Object(sig));
    Value::Object(entry)
}

/// Only integers (no fractions or exponents) and objects without duplicate names, which
/// serde_json has already merged, so the canonical bytes comparison catches them.
fn is_canonical_value(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Array(items) => items.iter().all(is_canonical_value),
        Value::Object(obj) => obj.values().all(is_canonical_value),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verify::keys::KeyKind;

    fn digest(c: char) -> oci::Digest {
        oci::Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    fn pushed() -> Event {
        let mut e = Event::new(
            EventType::ArtifactPushed,
            Timestamp::from_unix_nanos(1_790_000_000, 0),
            "alice",
        );
        e.subject.repository = Some("team/app".into());
        e.subject.digest = Some(digest('a'));
        e.subject.tag = Some("v1".into());
        e
    }

    #[test]
    fn signed_entries_parse_back_and_verify() {
        for kind in [KeyKind::Ed25519, KeyKind::EcdsaP256] {
            let key = PrivateKey::generate(kind).unwrap();
            let entry = Entry::sign(pushed(), &key).unwrap();
            let parsed = Entry::parse(entry.bytes()).unwrap();
            assert_eq!(parsed, entry);
            parsed.verify_signature(&key.public_key().unwrap()).unwrap();
            let other = PrivateKey::generate(kind).unwrap().public_key().unwrap();
            assert_eq!(
                parsed.verify_signature(&other),
                Err(SignatureMismatch::OtherKey)
            );
        }
    }

    #[test]
    fn the_encoding_is_canonical() {
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let entry = Entry::sign(pushed(), &key).unwrap();
        let text = std::str::from_utf8(entry.bytes()).unwrap();
        assert!(
            text.starts_with(r#"{"event":{"actor":"alice","subject":{"digest":"sha256:aaa"#),
            "{text}"
        );
        assert!(
            text.contains(r#""time":"2026-09-21T14:13:20Z","type":"artifact.pushed"}"#),
            "{text}"
        );
        // Whitespace, reordered members, a float: refused.
        let spaced = text.replacen(":", ": ", 1);
        assert_eq!(
            Entry::parse(spaced.as_bytes()),
            Err(EntryError::NotCanonical)
        );
        let reordered = format!(
            "{{\"signature\":{},\"event\":{}}}",
            serde_json::to_string(&serde_json::from_str::<Value>(text).unwrap()["signature"])
                .unwrap(),
            String::from_utf8(entry.event_json().to_vec()).unwrap()
        );
        assert_eq!(
            Entry::parse(reordered.as_bytes()),
            Err(EntryError::NotCanonical)
        );
    }

    #[test]
    fn a_tampered_event_fails_its_signature() {
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let entry = Entry::sign(pushed(), &key).unwrap();
        let text = String::from_utf8(entry.bytes().to_vec()).unwrap();
        let tampered = text.replace("alice", "mallo");
        let parsed = Entry::parse(tampered.as_bytes()).unwrap();
        assert_eq!(
            parsed.verify_signature(&key.public_key().unwrap()),
            Err(SignatureMismatch::Invalid)
        );
    }

    /// Schema rules, one row each: the event's JSON with one change, and what must be said.
    #[test]
    fn schema_rules() {
        let base = serde_json::json!({
            "type": "artifact.pushed", "time": "2026-09-21T14:13:20Z", "actor": "alice",
            "subject": {"repository": "team/app", "digest": format!("sha256:{}", "a".repeat(64))}
        });
        let d = format!("sha256:{}", "b".repeat(64));
        let rows: Vec<(Value, &str)> = vec![
            (
                serde_json::json!({"type": "artifact.bought"}),
                "unknown event type",
            ),
            (
                serde_json::json!({"time": "2026-09-21 14:13:20"}),
                "event.time",
            ),
            (
                serde_json::json!({"time": "2026-09-21T16:13:20+02:00"}),
                "canonical RFC 3339",
            ),
            (serde_json::json!({"actor": ""}), "event.actor"),
            (serde_json::json!({"actor": 7}), "event.actor: not a string"),
            (
                serde_json::json!({"subject": {"digest": d}}),
                "names its repository",
            ),
            (
                serde_json::json!({"subject": {"repository": "Team/App", "digest": d}}),
                "event.subject.repository",
            ),
            (
                serde_json::json!({"subject": {"repository": "a", "digest": "sha256:zz"}}),
                "event.subject.digest",
            ),
            (
                serde_json::json!({"subject": {"repository": "a", "digest": d, "key": d}}),
                "does not use",
            ),
            (serde_json::json!({"evidence": []}), "non-empty array"),
            (
                serde_json::json!({"evidence": ["nope"]}),
                "every item is a digest",
            ),
            (serde_json::json!({"details": {}}), "non-empty object"),
            (serde_json::json!({"extra": 1}), "unknown member \"extra\""),
            (
                serde_json::json!({"type": "signature.attached"}),
                "needs the digest of its evidence",
            ),
            (
                serde_json::json!({"type": "artifact.denied", "details": {"policy": d}}),
                "needs reasons",
            ),
            (
                serde_json::json!({"type": "artifact.admitted"}),
                "needs policy",
            ),
            (
                serde_json::json!({"type": "key.revoked", "subject": {"key": d}}),
                "needs reason",
            ),
            (
                serde_json::json!({"type": "key.revoked", "subject": {"key": "abc"}, "details": {"reason": "x"}}),
                "sha256:<64 hex>",
            ),
            (
                serde_json::json!({"type": "policy.updated", "subject": {"name": "p", "digest": d}}),
                "",
            ),
            (
                serde_json::json!({"type": "build.recorded", "subject": {"digest": d}, "evidence": [d], "details": {"builder": "https://ci"}}),
                "",
            ),
            (
                serde_json::json!({"type": "deploy.denied", "subject": {"digest": d}, "details": {"policy": d, "reasons": ["unsigned"]}}),
                "",
            ),
        ];
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let fp = key.public_key().unwrap().fingerprint();
        for (change, want) in rows {
            let mut event = base.clone();
            for (k, v) in change.as_object().unwrap() {
                event[k] = v.clone();
            }
            let bytes = canonical_json::encode(&entry_value(event, &fp, b"sig"));
            let got = Entry::parse(&bytes);
            if want.is_empty() {
                got.unwrap_or_else(|e| panic!("{change}: {e}"));
            } else {
                let e = got.expect_err(&change.to_string());
                assert!(e.to_string().contains(want), "{change}: {e}");
            }
        }
    }

    #[test]
    fn fingerprints_have_one_spelling() {
        let hex = "00ff10a9".repeat(8);
        let want: Vec<u8> = [0x00, 0xff, 0x10, 0xa9].repeat(8);
        assert_eq!(
            parse_fingerprint(&format!("sha256:{hex}")).map(|f| f.to_vec()),
            Some(want)
        );
        for bad in [
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{hex}0"),
            format!("sha256:{}g", &hex[1..]),
            format!("sha512:{hex}"),
            hex.clone(),
            format!("sha256:{}é", &hex[2..]),
        ] {
            assert_eq!(parse_fingerprint(&bad), None, "{bad}");
        }
    }

    #[test]
    fn malformed_entries() {
        let rows: [(&[u8], &str); 5] = [
            (b"", "not JSON"),
            (b"[]", "entry: not an object"),
            (b"{\"event\":1.5}", "canonical"),
            (b"{\"event\":{}}", "event.type: missing"),
            (b"{\"a\":1}", "unknown member"),
        ];
        for (bytes, want) in rows {
            let e = Entry::parse(bytes).unwrap_err();
            assert!(
                e.to_string().contains(want),
                "{:?}: {e}",
                String::from_utf8_lossy(bytes)
            );
        }
        let big = vec![b' '; MAX_ENTRY_BYTES + 1];
        assert_eq!(
            Entry::parse(&big),
            Err(EntryError::TooLarge(MAX_ENTRY_BYTES + 1))
        );
    }
}
