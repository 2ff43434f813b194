//! Evidence: what the caller cryptographically verified about an artifact, the only input of
//! a trust decision besides the policy. Nothing here is verified by this module: a signature
//! or attestation belongs in [`Evidence`] only after `sigstore::Verifier`, `cosign_classic` or
//! `dsse` proved it (and, for an attestation, that its subject names the artifact). What is
//! merely present (an annotation, a key hint) never does.

use std::collections::BTreeSet;
use std::fmt;

use oci::{Digest, RepoName};
use serde::Serialize;
use serde_json::Value as Json;

use crate::intoto::{Statement, StatementError, Subject};
use crate::keys::{self, PublicKey};
use crate::sigstore::VerifiedSigner;

/// Everything verified about one artifact.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The artifact's digest (an image manifest's, or a file's).
    pub artifact: Digest,
    /// The repository it was pushed to or pulled from.
    pub repository: RepoName,
    pub signatures: Vec<VerifiedSignature>,
    pub attestations: Vec<VerifiedAttestation>,
    /// Revoked keys: SHA-256 fingerprints of their SPKI DER, hex (compared case-insensitively).
    pub revoked_keys: BTreeSet<String>,
    pub revoked_artifacts: BTreeSet<Digest>,
}

impl Evidence {
    /// Evidence with nothing verified yet.
    pub fn new(artifact: Digest, repository: RepoName) -> Evidence {
        Evidence {
            artifact,
            repository,
            signatures: Vec::new(),
            attestations: Vec::new(),
            revoked_keys: BTreeSet::new(),
            revoked_artifacts: BTreeSet::new(),
        }
    }

    /// Adds what `signer` was verified (by `crate::evidence`) to have signed, carried by
    /// `carrier` (a referrer's or classic layer's digest): a signature when there is no
    /// predicate type or it is cosign's sign predicate (with what its `payload` names the
    /// artifact as), otherwise an attestation of the statement `payload` (none if it is not
    /// one). Each once: the same finding verified again adds nothing.
    pub fn add_verified(
        &mut self,
        signer: Signer,
        predicate_type: Option<&str>,
        payload: Option<&Json>,
        carrier: Digest,
    ) {
        match predicate_type {
            None | Some(crate::evidence::SIGN_PREDICATE_TYPE) => {
                let s = VerifiedSignature {
                    signer,
                    names: crate::evidence::signed_names(payload, &self.artifact),
                    evidence: carrier,
                };
                if !self.signatures.contains(&s) {
                    self.signatures.push(s);
                }
            }
            Some(_) => {
                if let Some(a) = payload
                    .and_then(|p| VerifiedAttestation::from_statement_json(p, signer, carrier).ok())
                    && !self.attestations.contains(&a)
                {
                    self.attestations.push(a);
                }
            }
        }
    }

    /// Whether one of `names` (references as signed: `127.0.0.1:5000/prod/app`,
    /// `prod/app:1.0`) names the evidence's repository, compared by [`reference_repository`].
    pub fn names_repository<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> bool {
        names
            .into_iter()
            .any(|n| reference_repository(n) == self.repository.as_str())
    }

    /// Whether the signer is a revoked key.
    pub(super) fn key_revoked(&self, signer: &Signer) -> bool {
        match signer {
            Signer::Key { fingerprint } => self
                .revoked_keys
                .iter()
                .any(|r| r.eq_ignore_ascii_case(fingerprint)),
            Signer::Certificate { .. } => false,
        }
    }
}

/// A signature over the artifact that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedSignature {
    pub signer: Signer,
    /// The digest of what carried it: the signature manifest, or the bundle.
    pub evidence: Digest,
    /// What its signed content names the artifact as, as signed: a classic simple-signing
    /// payload's docker-reference, or the names of the signed statement's subjects whose
    /// digest is the artifact's (`verify::evidence::signed_names` computes them). Empty when
    /// it names nothing (a message signature, cosign 3's nameless subject). Only a policy
    /// with `bind_repository` reads it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

/// An attestation about the artifact that verified: its envelope's signature, and its
/// statement's subject naming the artifact.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAttestation {
    pub predicate_type: String,
    pub predicate: Json,
    pub subject: Vec<Subject>,
    pub signer: Signer,
    /// The digest of what carried it: the attestation manifest, or the bundle.
    pub evidence: Digest,
}

impl VerifiedAttestation {
    /// From a statement whose envelope `signer` was verified to have signed.
    pub fn from_statement(statement: Statement, signer: Signer, evidence: Digest) -> Self {
        VerifiedAttestation {
            predicate_type: statement.predicate_type,
            predicate: Json::Object(statement.predicate),
            subject: statement.subject,
            signer,
            evidence,
        }
    }

    /// From a verified statement as JSON (what `verify::evidence::Proven::payload` holds
    /// for an attestation).
    pub fn from_statement_json(
        statement: &Json,
        signer: Signer,
        evidence: Digest,
    ) -> Result<Self, StatementError> {
        let bytes = serde_json::to_vec(statement).map_err(StatementError::Json)?;
        let statement = Statement::parse(&bytes)?;
        Ok(VerifiedAttestation::from_statement(
            statement, signer, evidence,
        ))
    }

    /// The names of the statement's subjects whose digest is `artifact`'s, skipping empty
    /// ones: what the attestation names the artifact as.
    pub fn names_for<'a>(&'a self, artifact: &'a Digest) -> impl Iterator<Item = &'a str> + 'a {
        self.subject
            .iter()
            .filter(move |s| s.matches(artifact) && !s.name.is_empty())
            .map(|s| s.name.as_str())
    }

    /// The statement's subject as CEL sees it: `[{"name": ..., "digest": {alg: value}}]`.
    pub(super) fn subject_json(&self) -> Json {
        Json::Array(
            self.subject
                .iter()
                .map(|s| {
                    let digest = s
                        .digest
                        .iter()
                        .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                        .collect();
                    let mut m = serde_json::Map::new();
                    m.insert("name".to_owned(), Json::String(s.name.clone()));
                    m.insert("digest".to_owned(), Json::Object(digest));
                    Json::Object(m)
                })
                .collect(),
        )
    }
}

/// Who verifiably signed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Signer {
    /// A key: the SHA-256 fingerprint of its SPKI DER, lowercase hex (as
    /// [`keys::PublicKey::fingerprint`] and [`keys::hex`] make it).
    Key { fingerprint: String },
    /// A certificate that chained to a CA of `trusted_root`, for `identity` (its SAN) after a
    /// login at `issuer`.
    Certificate {
        identity: String,
        issuer: String,
        /// SHA-256 of the trusted_root.json the certificate was verified against.
        trusted_root: Digest,
    },
}

impl Signer {
    pub fn key(key: &PublicKey) -> Signer {
        Signer::Key {
            fingerprint: keys::hex(&key.fingerprint()),
        }
    }

    /// The signer `sigstore::Verifier` reported, with the digest of the trusted root it
    /// verified against (used only for certificates).
    pub fn from_verified(signer: &VerifiedSigner, trusted_root: &Digest) -> Signer {
        match signer {
            VerifiedSigner::Key(fingerprint) => Signer::Key {
                fingerprint: fingerprint.to_ascii_lowercase(),
            },
            VerifiedSigner::Certificate { identity, issuer } => Signer::Certificate {
                identity: identity.clone(),
                issuer: issuer.clone(),
                trusted_root: trusted_root.clone(),
            },
        }
    }

    /// The same signer, with a key fingerprint in lowercase (so that two spellings of one
    /// key count once).
    pub(super) fn normalized(&self) -> Signer {
        match self {
            Signer::Key { fingerprint } => Signer::Key {
                fingerprint: fingerprint.to_ascii_lowercase(),
            },
            other => other.clone(),
        }
    }
}

/// The repository path a docker reference names, without its registry host, tag or digest:
/// `127.0.0.1:5000/prod/app:1.0` and `prod/app@sha256:…` both name `prod/app`. The host is
/// whatever name the signer reached the registry by, so only the path binds. Callers compare
/// the result with a repository name exactly, so what is not a reference to it does not
/// match (`https://x/prod/app` reduces to `/x/prod/app`, `Prod/App` stays itself).
pub fn reference_repository(reference: &str) -> &str {
    let name = reference.split_once('@').map_or(reference, |(n, _)| n);
    let name = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    };
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => rest,
        _ => name,
    }
}

/// A digest shortened for messages: `sha256:0123456789ab…`.
pub(super) fn short(hex_or_digest: &str) -> String {
    let (prefix, hex) = match hex_or_digest.split_once(':') {
        Some((alg, hex)) => (alg, hex),
        None => ("sha256", hex_or_digest),
    };
    match hex.get(..12) {
        Some(head) if hex.len() > 12 => format!("{prefix}:{head}…"),
        _ => format!("{prefix}:{hex}"),
    }
}

impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::Key { fingerprint } => write!(f, "key {}", short(fingerprint)),
            Signer::Certificate {
                identity, issuer, ..
            } => write!(f, "certificate for {identity} from {issuer}"),
        }
    }
}
