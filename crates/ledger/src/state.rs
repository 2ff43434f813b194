//! The validation rules, as a deterministic state machine.
//!
//! A submission passes two gates. [`Authorities::check`] is stateless: the entry parses, its
//! submitter's key is on the allow-list for its event type, its signature verifies. It can run
//! anywhere, in parallel, before the entry is ordered. [`State::apply`] then runs on the
//! ordered entries, one at a time, and decides from the log's own history alone (no clock, no
//! I/O): references are consistent and no key signs after its revocation. Replaying the same
//! entries through `apply` always reaches the same state, which is what lets a consensus layer
//! put several replicas in front of it later without changing it.

use std::collections::{BTreeSet, HashMap, HashSet};

use verify::keys::PublicKey;
use verify::merkle::Hash;

use crate::event::{Entry, EntryError, EventType, SignatureMismatch, fingerprint};
use crate::shards::ShardedMap;

/// A key allowed to submit some event types.
#[derive(Clone)]
pub struct Submitter {
    /// A name for messages and logs ("registry", "ci").
    pub name: String,
    pub key: PublicKey,
    pub events: BTreeSet<EventType>,
}

/// The allow-list: which keys may submit which event types.
#[derive(Clone, Default)]
pub struct Authorities {
    by_key: HashMap<[u8; 32], Submitter>,
}

impl Authorities {
    pub fn new() -> Authorities {
        Authorities::default()
    }

    /// Allows `submitter`; a key listed twice gets the union of its event types.
    pub fn allow(&mut self, submitter: Submitter) {
        let fp = submitter.key.fingerprint();
        match self.by_key.get_mut(&fp) {
            Some(existing) => existing.events.extend(submitter.events),
            None => {
                self.by_key.insert(fp, submitter);
            }
        }
    }

    pub fn submitter(&self, key: &[u8; 32]) -> Option<&Submitter> {
        self.by_key.get(key)
    }

    /// The stateless gate: parses `bytes` and checks who signed it and for what.
    pub fn check(&self, bytes: &[u8]) -> Result<Entry, Rejection> {
        let entry = Entry::parse(bytes).map_err(Rejection::Malformed)?;
        let Some(submitter) = self.by_key.get(&entry.key) else {
            return Err(Rejection::UnknownKey(format!(
                "sha256:{}",
                verify::keys::hex(&entry.key)
            )));
        };
        if !submitter.events.contains(&entry.event.kind) {
            return Err(Rejection::NotAuthorized {
                submitter: submitter.name.clone(),
                event: entry.event.kind,
            });
        }
        entry
            .verify_signature(&submitter.key)
            .map_err(Rejection::Signature)?;
        Ok(entry)
    }
}

/// Why a submission does not enter the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("malformed entry: {0}")]
    Malformed(#[source] EntryError),
    #[error("the entry is signed by {0}, a key no submitter is allowed to use")]
    UnknownKey(String),
    #[error("submitter {submitter:?} is not allowed to record {event}")]
    NotAuthorized { submitter: String, event: EventType },
    #[error("{0}")]
    Signature(#[source] SignatureMismatch),
    #[error("the entry is signed by {key}, revoked by entry {revoked_at}")]
    RevokedKey { key: String, revoked_at: u64 },
    #[error("key {0} is already revoked")]
    AlreadyRevoked(String),
    #[error(
        "{event} names {repository}@{digest}, which the log has not seen pushed (or has seen deleted)"
    )]
    UnknownArtifact {
        event: EventType,
        repository: String,
        digest: String,
    },
    #[error("{event} names {digest}, which the log has not seen pushed")]
    UnknownDigest { event: EventType, digest: String },
    #[error("{event} names policy {digest}, which no policy.updated entry recorded")]
    UnknownPolicy { event: EventType, digest: String },
    #[error("the log is full")]
    Full,
}

impl Rejection {
    /// The HTTP status a submitter gets for this rejection.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Malformed(EntryError::TooLarge(_)) => 413,
            Rejection::Malformed(_) => 400,
            Rejection::UnknownKey(_)
            | Rejection::NotAuthorized { .. }
            | Rejection::Signature(_)
            | Rejection::RevokedKey { .. } => 403,
            Rejection::AlreadyRevoked(_)
            | Rejection::UnknownArtifact { .. }
            | Rejection::UnknownDigest { .. }
            | Rejection::UnknownPolicy { .. } => 409,
            Rejection::Full => 507,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed(EntryError::TooLarge(_)) => "TOO_LARGE",
            Rejection::Malformed(_) => "MALFORMED",
            Rejection::UnknownKey(_) => "UNKNOWN_KEY",
            Rejection::NotAuthorized { .. } => "NOT_AUTHORIZED",
            Rejection::Signature(_) => "BAD_SIGNATURE",
            Rejection::RevokedKey { .. } => "REVOKED_KEY",
            Rejection::AlreadyRevoked(_) => "ALREADY_REVOKED",
            Rejection::UnknownArtifact { .. } => "UNKNOWN_ARTIFACT",
            Rejection::UnknownDigest { .. } => "UNKNOWN_DIGEST",
            Rejection::UnknownPolicy { .. } => "UNKNOWN_POLICY",
            Rejection::Full => "FULL",
        }
    }
}

/// What `apply` did with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Appended at this index.
    Appended(u64),
    /// The same bytes are already in the log at this index; nothing was appended.
    Duplicate(u64),
}

/// What the log's history says, as the rules need it.
#[derive(Default)]
pub struct State {
    size: u64,
    // The maps that grow with the log are sharded: none stops the ledger to grow (`shards`).
    /// Artifacts pushed and not deleted since: repository and manifest digest.
    live: ShardedMap<(String, String), ()>,
    /// Manifest digests pushed to any repository and not deleted everywhere, with the count of
    /// repositories holding each.
    live_digests: ShardedMap<String, u32>,
    policies: HashSet<String>,
    /// Revoked key fingerprints and the index of the entry that revoked each.
    revoked: HashMap<[u8; 32], u64>,
    /// Revoked artifact digests (`key.revoked` naming a digest) and the first entry doing so.
    revoked_digests: HashMap<String, u64>,
    /// Every leaf hash, for idempotent resubmission.
    leaves: ShardedMap<Hash, u64>,
    /// Entry indexes by every digest an event names (subject, config, evidence, policy).
    by_digest: ShardedMap<String, Vec<u64>>,
}

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// The number of entries applied.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The entries whose events name `digest`, in log order.
    pub fn entries_about(&self, digest: &str) -> &[u64] {
        self.by_digest.get(digest).map_or(&[], Vec::as_slice)
    }

    /// The index of the entry that revoked `key`, if any.
    pub fn revoked_at(&self, key: &[u8; 32]) -> Option<u64> {
        self.revoked.get(key).copied()
    }

    /// The index of the entry that revoked the artifact `digest`, if any.
    pub fn digest_revoked_at(&self, digest: &str) -> Option<u64> {
        self.revoked_digests.get(digest).copied()
    }

    /// Whether `repository@digest` was pushed and not deleted since.
    pub fn is_live(&self, repository: &str, digest: &str) -> bool {
        self.live
            .contains_key(&(repository.to_owned(), digest.to_owned()))
    }

    /// Decides whether `entry`, already through [`Authorities::check`], is consistent with the
    /// history, and if so records it as the next entry, `leaf` being its leaf hash. Nothing
    /// changes when it is rejected.
    pub fn apply(&mut self, entry: &Entry, leaf: Hash) -> Result<Applied, Rejection> {
        if let Some(&index) = self.leaves.get(&leaf) {
            return Ok(Applied::Duplicate(index));
        }
        self.check(entry)?;
        let index = self.size;
        self.record(entry, leaf, index);
        Ok(Applied::Appended(index))
    }

    fn check(&self, entry: &Entry) -> Result<(), Rejection> {
        let event = &entry.event;
        if let Some(&revoked_at) = self.revoked.get(&entry.key) {
            return Err(Rejection::RevokedKey {
                key: format!("sha256:{}", verify::keys::hex(&entry.key)),
                revoked_at,
            });
        }
        // Formatted only for the rules that look it up.
        let digest = || event.subject.digest.as_ref().map(|d| d.to_string());
        let live_artifact = || -> Result<(), Rejection> {
            let repository = event.subject.repository.clone().unwrap_or_default();
            let digest = digest().unwrap_or_default();
            if self
                .live
                .contains_key(&(repository.clone(), digest.clone()))
            {
                Ok(())
            } else {
                Err(Rejection::UnknownArtifact {
                    event: event.kind,
                    repository,
                    digest,
                })
            }
        };
        let known_policy = || -> Result<(), Rejection> {
            let policy = event.detail_str("policy").unwrap_or_default();
            if self.policies.contains(policy) {
                Ok(())
            } else {
                Err(Rejection::UnknownPolicy {
                    event: event.kind,
                    digest: policy.to_owned(),
                })
            }
        };
        match event.kind {
            EventType::ArtifactPushed | EventType::PolicyUpdated | EventType::BuildRecorded => {
                Ok(())
            }
            EventType::ArtifactDeleted => live_artifact(),
            EventType::SignatureAttached | EventType::AttestationAttached => {
                live_artifact()?;
                // The signature or attestation is itself an artifact of the same repository
                // (a referrer or a cosign tag), pushed before it is attached.
                let repository = event.subject.repository.clone().unwrap_or_default();
                for d in &event.evidence {
                    if !self.live.contains_key(&(repository.clone(), d.to_string())) {
                        return Err(Rejection::UnknownArtifact {
                            event: event.kind,
                            repository,
                            digest: d.to_string(),
                        });
                    }
                }
                Ok(())
            }
            EventType::ArtifactAdmitted | EventType::ArtifactDenied => {
                live_artifact()?;
                known_policy()
            }
            EventType::DeployAllowed | EventType::DeployDenied => {
                known_policy()?;
                self.known_digest(event.kind, digest().as_deref())
            }
            EventType::DriftDetected => self.known_digest(event.kind, digest().as_deref()),
            EventType::KeyRevoked => {
                let key = event.subject.key.as_deref().unwrap_or_default();
                match crate::event::parse_fingerprint(key) {
                    Some(fp) if self.revoked.contains_key(&fp) => {
                        Err(Rejection::AlreadyRevoked(key.to_owned()))
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    fn known_digest(&self, event: EventType, digest: Option<&str>) -> Result<(), Rejection> {
        let digest = digest.unwrap_or_default();
        if self.live_digests.contains_key(digest) {
            Ok(())
        } else {
            Err(Rejection::UnknownDigest {
                event,
                digest: digest.to_owned(),
            })
        }
    }

    fn record(&mut self, entry: &Entry, leaf: Hash, index: u64) {
        let event = &entry.event;
        let artifact = || {
            (
                event.subject.repository.clone().unwrap_or_default(),
                event
                    .subject
                    .digest
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            )
        };
        match event.kind {
            EventType::ArtifactPushed => {
                let key = artifact();
                if self.live.insert(key.clone(), ()).is_none() {
                    *self.live_digests.entry(key.1).or_default() += 1;
                }
            }
            EventType::ArtifactDeleted => {
                let key = artifact();
                if self.live.remove(&key).is_some()
                    && let Some(n) = self.live_digests.get_mut(&key.1)
                {
                    *n -= 1;
                    if *n == 0 {
                        self.live_digests.remove(&key.1);
                    }
                }
            }
            EventType::PolicyUpdated => {
                if let Some(d) = &event.subject.digest {
                    self.policies.insert(d.to_string());
                }
            }
            EventType::KeyRevoked => {
                if let Some(fp) = event
                    .subject
                    .key
                    .as_deref()
                    .and_then(crate::event::parse_fingerprint)
                {
                    self.revoked.insert(fp, index);
                } else if let Some(d) = &event.subject.digest {
                    self.revoked_digests.entry(d.to_string()).or_insert(index);
                }
            }
            _ => {}
        }
        let mut named: Vec<String> = event.digests().map(|d| d.to_string()).collect();
        named.extend(event.detail_str("policy").map(str::to_owned));
        named.extend(event.subject.key.clone());
        // Each name once, in order: the index stays the same on every replay.
        named.sort_unstable();
        named.dedup();
        for d in named {
            self.by_digest.entry(d).or_default().push(index);
        }
        self.leaves.insert(leaf, index);
        self.size = index + 1;
    }
}

/// The fingerprint of a submitter's key, as entries and messages name it.
pub fn key_name(key: &PublicKey) -> String {
    fingerprint(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use verify::keys::{KeyKind, PrivateKey};
    use verify::merkle::leaf_hash;
    use verify::time::Timestamp;

    struct World {
        node: PrivateKey,
        ci: PrivateKey,
        authorities: Authorities,
        state: State,
    }

    fn copy(k: &PrivateKey) -> PrivateKey {
        PrivateKey::from_pkcs8_der(&k.to_pkcs8_der().unwrap()).unwrap()
    }

    fn d(c: char) -> oci::Digest {
        oci::Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    fn world() -> World {
        let node = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let ci = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let mut authorities = Authorities::new();
        authorities.allow(Submitter {
            name: "registry".into(),
            key: node.public_key().unwrap(),
            events: EventType::ALL.into_iter().collect(),
        });
        authorities.allow(Submitter {
            name: "ci".into(),
            key: ci.public_key().unwrap(),
            events: [EventType::BuildRecorded, EventType::SignatureAttached].into(),
        });
        World {
            node,
            ci,
            authorities,
            state: State::new(),
        }
    }

    fn event(kind: EventType, repo: Option<&str>, digest: Option<oci::Digest>) -> Event {
        let mut e = Event::new(kind, Timestamp::from_unix_nanos(1_790_000_000, 0), "tester");
        e.subject.repository = repo.map(str::to_owned);
        e.subject.digest = digest;
        e
    }

    impl World {
        fn submit(&mut self, e: Event, key: &PrivateKey) -> Result<Applied, Rejection> {
            let entry = Entry::sign(e, key).unwrap();
            let checked = self.authorities.check(entry.bytes())?;
            self.state.apply(&checked, leaf_hash(entry.bytes()))
        }
    }

    #[test]
    fn the_rules_in_order() {
        let mut w = world();
        let node = copy(&w.node);
        let ci = copy(&w.ci);
        // A signature for an artifact never pushed: refused.
        let mut sig = event(EventType::SignatureAttached, Some("app"), Some(d('a')));
        sig.evidence = vec![d('5')];
        assert_eq!(
            w.submit(sig.clone(), &ci).unwrap_err().code(),
            "UNKNOWN_ARTIFACT"
        );
        assert_eq!(
            w.submit(
                event(EventType::ArtifactPushed, Some("app"), Some(d('a'))),
                &node
            ),
            Ok(Applied::Appended(0))
        );
        // The signature manifest itself is not pushed yet.
        assert_eq!(
            w.submit(sig.clone(), &ci).unwrap_err().code(),
            "UNKNOWN_ARTIFACT"
        );
        w.submit(
            event(EventType::ArtifactPushed, Some("app"), Some(d('5'))),
            &node,
        )
        .unwrap();
        assert_eq!(w.submit(sig.clone(), &ci), Ok(Applied::Appended(2)));
        // The same bytes again: the same index, nothing appended.
        let entry = Entry::sign(sig.clone(), &ci).unwrap();
        let again = w.authorities.check(entry.bytes()).unwrap();
        // ECDSA signatures differ each time, so a re-signed event is a new entry; the very same
        // bytes are a duplicate.
        let first = w.state.apply(&again, leaf_hash(entry.bytes())).unwrap();
        assert_eq!(
            w.state.apply(&again, leaf_hash(entry.bytes())),
            Ok(Applied::Duplicate(match first {
                Applied::Appended(i) => i,
                Applied::Duplicate(i) => i,
            }))
        );
        // CI may not record pushes.
        assert_eq!(
            w.submit(
                event(EventType::ArtifactPushed, Some("app"), Some(d('b'))),
                &ci
            )
            .unwrap_err()
            .code(),
            "NOT_AUTHORIZED"
        );
        // A stranger's key.
        let stranger = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        assert_eq!(
            w.submit(
                event(EventType::ArtifactPushed, Some("app"), Some(d('b'))),
                &stranger
            )
            .unwrap_err()
            .code(),
            "UNKNOWN_KEY"
        );
        // Decisions need a recorded policy.
        let mut admitted = event(EventType::ArtifactAdmitted, Some("app"), Some(d('a')));
        admitted
            .details
            .insert("policy".into(), d('f').to_string().into());
        assert_eq!(
            w.submit(admitted.clone(), &node).unwrap_err().code(),
            "UNKNOWN_POLICY"
        );
        let mut policy = event(EventType::PolicyUpdated, None, Some(d('f')));
        policy.subject.name = Some("default".into());
        w.submit(policy, &node).unwrap();
        w.submit(admitted, &node).unwrap();
        // Deploy and drift name a digest pushed somewhere.
        let mut deploy = event(EventType::DeployAllowed, None, Some(d('9')));
        deploy
            .details
            .insert("policy".into(), d('f').to_string().into());
        assert_eq!(
            w.submit(deploy.clone(), &node).unwrap_err().code(),
            "UNKNOWN_DIGEST"
        );
        deploy.subject.digest = Some(d('a'));
        w.submit(deploy, &node).unwrap();
        // Revoke CI's key: nothing it signs enters afterwards, and not twice.
        let mut revoke = event(EventType::KeyRevoked, None, None);
        revoke.subject.key = Some(fingerprint(&ci.public_key().unwrap()));
        revoke.details.insert("reason".into(), "leaked".into());
        let revoked_at = match w.submit(revoke.clone(), &node).unwrap() {
            Applied::Appended(i) => i,
            other => panic!("{other:?}"),
        };
        let mut build = event(EventType::BuildRecorded, None, Some(d('c')));
        build.evidence = vec![d('e')];
        build
            .details
            .insert("builder".into(), "https://ci.example".into());
        assert_eq!(
            w.submit(build, &ci),
            Err(Rejection::RevokedKey {
                key: fingerprint(&ci.public_key().unwrap()),
                revoked_at
            })
        );
        revoke.details.insert("reason".into(), "again".into());
        assert_eq!(
            w.submit(revoke, &node).unwrap_err().code(),
            "ALREADY_REVOKED"
        );
        // An artifact revoked by its digest: the state says so, from that entry on.
        assert_eq!(w.state.digest_revoked_at(d('7').as_str()), None);
        let mut by_digest = event(EventType::KeyRevoked, None, Some(d('7')));
        by_digest
            .details
            .insert("reason".into(), "a bad build".into());
        let at = match w.submit(by_digest, &node).unwrap() {
            Applied::Appended(i) => i,
            other => panic!("{other:?}"),
        };
        assert_eq!(w.state.digest_revoked_at(d('7').as_str()), Some(at));
        // Deleting: once, then signatures for it are refused.
        w.submit(
            event(EventType::ArtifactDeleted, Some("app"), Some(d('a'))),
            &node,
        )
        .unwrap();
        // (The same event again is the same bytes, Ed25519 being deterministic: a duplicate.)
        let mut again = event(EventType::ArtifactDeleted, Some("app"), Some(d('a')));
        again.actor = "someone-else".into();
        assert_eq!(
            w.submit(again, &node).unwrap_err().code(),
            "UNKNOWN_ARTIFACT"
        );
        // The index by digest names every entry about `a`.
        assert_eq!(w.state.entries_about(&d('a').to_string()).len(), 6);
    }

    #[test]
    fn replay_reaches_the_same_state() {
        let mut w = world();
        let node = copy(&w.node);
        let mut entries = Vec::new();
        for c in ['a', 'b', 'c'] {
            let e = Entry::sign(
                event(EventType::ArtifactPushed, Some("r"), Some(d(c))),
                &node,
            )
            .unwrap();
            entries.push(e);
        }
        let e = Entry::sign(
            event(EventType::ArtifactDeleted, Some("r"), Some(d('b'))),
            &node,
        )
        .unwrap();
        entries.push(e);
        for e in &entries {
            w.state.apply(e, leaf_hash(e.bytes())).unwrap();
        }
        let mut replay = State::new();
        for e in &entries {
            replay
                .apply(&Entry::parse(e.bytes()).unwrap(), leaf_hash(e.bytes()))
                .unwrap();
        }
        assert_eq!(replay.size(), w.state.size());
        assert_eq!(replay.live, w.state.live);
        assert_eq!(replay.by_digest, w.state.by_digest);
        assert!(!replay.is_live("r", &d('b').to_string()));
        assert!(replay.is_live("r", &d('c').to_string()));
    }
}
