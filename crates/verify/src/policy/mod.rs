//! Trust policies and the one trust decision: [`evaluate`] (and [`evaluate_set`], and
//! [`PolicySet::evaluate`]) is where vouch decides whether an artifact is admitted. The push
//! gate, the pull gate, the admission webhook, the runtime monitor and `vouch verify` all call
//! it. Sans-I/O: the caller verifies signatures and attestations and hands in the
//! [`Evidence`]; the loader reads key and trusted-root files through a function it is given.
//!
//! # The document
//! A policy is a YAML (`.yaml`, `.yml`) or TOML (`.toml`) document:
//! ```yaml
//! name: prod-signed              # [a-z0-9][a-z0-9._-]*, at most 128 characters
//! description: release images    # optional
//! repositories: ["prod/**"]      # globs (see below); at least one
//! mode: enforce                  # enforce (default) or warn
//! index_children: each           # each (default): an index needs every child admitted on its
//!                                # own; inherit: children of an admitted index are admitted
//! bind_repository: true          # false (default): a signature counts wherever it was copied;
//!                                # true: only if what was signed names this repository
//! authorities:                   # at least one, at most 64; names unique
//!   - name: release-key
//!     key: cosign.pub            # a PEM public key file, relative to the policy's directory
//!   - name: inline-key
//!     key_pem: |                 # or the PEM itself
//!       -----BEGIN PUBLIC KEY-----
//!       ...
//!   - name: ci
//!     keyless:
//!       trusted_root: trusted_root.json   # the Sigstore trusted root that must verify the certificate
//!       issuer: https://token.actions.githubusercontent.com   # or issuer_regexp
//!       subject_regexp: https://github.com/acme/.+@refs/heads/main   # or subject
//! threshold: 1                   # distinct authorities that must have signed; 1..=authorities
//! attestations:                  # optional: required attestations, by predicate type
//!   - predicate_type: https://slsa.dev/provenance/v1
//!     conditions:                # CEL; all must be true. Variables: predicate (map),
//!                                # predicateType (string), subject (list of {name, digest})
//!       - predicate.runDetails.builder.id in ["https://github.com/actions/runner/github-hosted"]
//!       - predicate.buildDefinition.externalParameters.workflow.repository.matches("^https://github.com/acme/")
//! ```
//! Unknown fields are errors (a typo must not silently weaken a policy), as are duplicate
//! keys; every error names the field (`authorities[1].keyless.issuer`).
//!
//! Repository globs: `*` matches within one path segment, `**` as a whole segment matches
//! any number of segments including none (`prod/**` covers `prod` too), anything else
//! matches itself. `subject_regexp` and `issuer_regexp` are anchored: the whole value must
//! match, `^(?:…)$` (cosign does not anchor; a policy fails closed instead). CEL's
//! `matches()` is a search, as CEL defines it: anchor it yourself.
//!
//! # The decision
//! An artifact is admitted by a policy iff its digest is not revoked, at least `threshold`
//! distinct authorities each matched a distinct verified signer (a key by its fingerprint,
//! a certificate by issuer, subject and the digest of the trusted root that verified it;
//! revoked keys never match; one signer counts for one authority only, so `2 of 2` needs two
//! signers), and every required attestation type has at least one attestation signed by one
//! of the policy's authorities (not revoked) whose conditions all evaluate to `true`. A
//! condition that errs (a missing key, an overflow) counts as false. The [`Verdict`] names
//! the policy and its digest, says what was missing, and lists the evidence digests it used.
//! `warn` mode decides the same; [`Verdict::blocks`] tells a gate whether a denial blocks.
//! Several policies covering a repository must all admit; no policy covering it is its own
//! outcome ([`SetVerdict::Uncovered`]) for the caller to decide.
//!
//! # Binding to the repository
//! A signature names a digest, and a digest is the same in every repository: a signature made
//! for `dev/app@sha256:X`, copied with the image into `prod/app` (oras and skopeo copy
//! referrers), verifies there too. With `bind_repository: true` (as skopeo's
//! `signedIdentity: matchRepository`) evidence counts only in the repository its signed
//! content names:
//! - a signature, if its simple-signing payload's `docker-reference` (cosign classic `.sig`)
//!   or the `name` of a signed statement's subject whose digest is the artifact's names the
//!   evidence's repository ([`VerifiedSignature::names`]). A message-signature bundle names
//!   nothing and never counts; nor do cosign 3's signature statements, whose subject has no
//!   name (`vouch sign` names the repository, as cosign's attestations do);
//! - a required attestation, if one of its statement's subjects whose digest is the
//!   artifact's has such a name.
//!
//! A name is compared by its repository path, without registry host, tag or digest
//! ([`reference_repository`]): `127.0.0.1:5000/prod/app:1.0` names `prod/app`. A signer whose
//! only signatures name another repository, or none, does not count, and the reason says so
//! (`sha256:… by key sha256:… names dev/app (the policy binds signatures to prod/app)`).
//!
//! # The digest
//! A policy's digest is the SHA-256 of its canonical JSON ([`Policy::canonical_json`]): the
//! resolved policy with keys as SPKI fingerprints and trusted roots as the SHA-256 of their
//! files, CEL sources as written. Replacing a key file changes the digest.

pub mod cel;
mod document;
mod eval;
mod evidence;
mod glob;

use std::sync::Arc;

use oci::{Digest, RepoName};
use serde::Serialize;

use crate::keys::PublicKey;
use crate::sigstore::{Identity, Matcher};
use crate::trust_root::TrustedRoot;

pub use document::{Format, MAX_DOCUMENT_LEN, PolicyError, PolicyErrorKind, load, parse};
pub use eval::{
    AttestationFinding, AuthorityFinding, Decision, Reason, SetVerdict, Verdict, evaluate,
    evaluate_set,
};
pub use evidence::{
    Evidence, Signer, VerifiedAttestation, VerifiedSignature, reference_repository,
};
pub use glob::{Glob, GlobError};

/// How the children of an image index are admitted (`index_children`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexChildren {
    /// The default: an index is admitted only if every child is admitted on its own, so an
    /// unsigned child cannot ride in through a signed index.
    Each,
    /// A child of an admitted index is admitted through it (the index's signature covers its
    /// children's digests), as `cosign sign` without `--recursive` expects.
    Inherit,
}

impl IndexChildren {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexChildren::Each => "each",
            IndexChildren::Inherit => "inherit",
        }
    }
}

/// What a denial does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A denial blocks.
    Enforce,
    /// A denial is reported (and recorded) but does not block.
    Warn,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
        }
    }
}

/// A loaded policy: every key parsed, every trusted root read, every condition checked.
#[derive(Debug, Clone)]
pub struct Policy {
    name: String,
    description: Option<String>,
    repositories: Vec<Glob>,
    mode: Mode,
    index_children: IndexChildren,
    bind_repository: bool,
    authorities: Vec<Authority>,
    threshold: usize,
    attestations: Vec<AttestationRule>,
    canonical: Vec<u8>,
    digest: Digest,
}

impl Policy {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    pub fn repositories(&self) -> &[Glob] {
        &self.repositories
    }

    /// Whether this policy applies to the repository.
    pub fn covers(&self, repository: &RepoName) -> bool {
        self.repositories
            .iter()
            .any(|g| g.matches(repository.as_str()))
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// How an image index's children are admitted.
    pub fn index_children(&self) -> IndexChildren {
        self.index_children
    }

    /// Whether signatures and attestations count only where their signed content names the
    /// repository (`bind_repository`).
    pub fn bind_repository(&self) -> bool {
        self.bind_repository
    }

    pub fn authorities(&self) -> &[Authority] {
        &self.authorities
    }

    pub fn threshold(&self) -> usize {
        self.threshold
    }

    pub fn attestations(&self) -> &[AttestationRule] {
        &self.attestations
    }

    /// `sha256:<hex>` of [`Policy::canonical_json`]: the policy every decision names.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The resolved policy as canonical JSON (members sorted, no whitespace, integers only):
    /// the bytes the digest is computed over, and what the ledger records.
    pub fn canonical_json(&self) -> &[u8] {
        &self.canonical
    }

    /// The distinct trusted roots the keyless authorities name, for the caller to build
    /// `sigstore::Verifier`s from.
    pub fn trusted_roots(&self) -> Vec<&TrustedRootRef> {
        let mut out: Vec<&TrustedRootRef> = Vec::new();
        for a in &self.authorities {
            if let AuthorityKind::Keyless(k) = &a.kind
                && !out.iter().any(|r| r.digest == k.trusted_root.digest)
            {
                out.push(&k.trusted_root);
            }
        }
        out
    }
}

/// Someone whose signature counts.
#[derive(Debug, Clone)]
pub struct Authority {
    name: String,
    kind: AuthorityKind,
}

#[derive(Debug, Clone)]
pub enum AuthorityKind {
    Key {
        key: PublicKey,
        /// SHA-256 of the SPKI DER, lowercase hex.
        fingerprint: String,
    },
    Keyless(Keyless),
}

/// A Sigstore keyless identity: a certificate for a subject, issued after a login at an
/// issuer, verified against a trusted root.
#[derive(Debug, Clone)]
pub struct Keyless {
    pub trusted_root: TrustedRootRef,
    pub issuer: IdentityMatch,
    pub subject: IdentityMatch,
}

/// An exact value or an anchored regular expression, with the text as written.
#[derive(Debug, Clone)]
pub struct IdentityMatch {
    /// As written in the policy (a regular expression without the anchors added).
    pub text: String,
    pub regexp: bool,
    pub matcher: Matcher,
}

/// A trusted root a policy names, and the SHA-256 of its file.
#[derive(Debug, Clone)]
pub struct TrustedRootRef {
    pub digest: Digest,
    pub root: Arc<TrustedRoot>,
}

impl Authority {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &AuthorityKind {
        &self.kind
    }

    /// Who `sigstore::Verifier::verify` must be asked about for this authority.
    pub fn identity(&self) -> Identity {
        match &self.kind {
            AuthorityKind::Key { key, .. } => Identity::Key(key.clone()),
            AuthorityKind::Keyless(k) => Identity::Certificate {
                identity: k.subject.matcher.clone(),
                issuer: k.issuer.matcher.clone(),
            },
        }
    }

    /// Whether a verified signer is this authority (revocation aside).
    pub fn matches(&self, signer: &Signer) -> bool {
        match (&self.kind, signer) {
            (AuthorityKind::Key { fingerprint, .. }, Signer::Key { fingerprint: f }) => {
                fingerprint.eq_ignore_ascii_case(f)
            }
            (
                AuthorityKind::Keyless(k),
                Signer::Certificate {
                    identity,
                    issuer,
                    trusted_root,
                },
            ) => {
                *trusted_root == k.trusted_root.digest
                    && k.issuer.matcher.matches(issuer)
                    && k.subject.matcher.matches(identity)
            }
            _ => false,
        }
    }
}

/// A required attestation: a predicate type and conditions on the predicate.
#[derive(Debug, Clone)]
pub struct AttestationRule {
    predicate_type: String,
    conditions: Vec<cel::Program>,
}

impl AttestationRule {
    pub fn predicate_type(&self) -> &str {
        &self.predicate_type
    }

    pub fn conditions(&self) -> &[cel::Program] {
        &self.conditions
    }
}

/// The CEL environment conditions are checked in: `predicate`, `predicateType`, `subject`,
/// bound in that order.
pub fn condition_env() -> cel::Env {
    use cel::Type;
    cel::Env::new(cel::Limits::default())
        .with_var(
            "predicate",
            Type::Map(Box::new(Type::String), Box::new(Type::Dyn)),
        )
        .with_var("predicateType", Type::String)
        .with_var(
            "subject",
            Type::List(Box::new(Type::Map(
                Box::new(Type::String),
                Box::new(Type::Dyn),
            ))),
        )
}

/// Several policies, by name.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<Policy>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicySetError {
    #[error("two policies are named {0:?}")]
    DuplicateName(String),
}

impl PolicySet {
    /// A set of policies with distinct names.
    pub fn new(policies: Vec<Policy>) -> Result<PolicySet, PolicySetError> {
        for (i, p) in policies.iter().enumerate() {
            if policies[..i].iter().any(|q| q.name == p.name) {
                return Err(PolicySetError::DuplicateName(p.name.clone()));
            }
        }
        Ok(PolicySet { policies })
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name == name)
    }

    /// Every policy that applies to the repository; all of them must admit.
    pub fn for_repository(&self, repository: &RepoName) -> Vec<&Policy> {
        self.policies
            .iter()
            .filter(|p| p.covers(repository))
            .collect()
    }

    /// The decision for the evidence's artifact under every policy covering its repository.
    pub fn evaluate(&self, evidence: &Evidence) -> SetVerdict {
        evaluate_set(&self.policies, evidence)
    }
}

#[cfg(test)]
mod tests;
