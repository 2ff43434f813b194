//! Offline verification of Sigstore bundles against a trusted root: the one place that decides
//! whether a bundle proves that an identity signed an artifact. Every check fails closed and
//! says precisely which one failed.
//!
//! The order: who signed (a trusted key, or a Fulcio certificate), what was signed (the
//! artifact's digest, or an in-toto statement about it) and that the signature holds, what the
//! transparency log recorded (body, signed entry timestamp, inclusion proof, signed
//! checkpoint), when it was signed (the SET's integrated time and RFC 3161 timestamps), and for
//! certificates: the chain to a Fulcio CA at every proven time, SCTs, identity and issuer.
//!
//! Everything a trusted root makes invariant (parsed certificates, a CA chain's internal
//! signatures, log and CT keys) is prepared once in [`Verifier::new`]. The certificate checks
//! (a P-384 signature by Fulcio's intermediate, then the SCT) are independent of the log and
//! message checks but for the signing times: they start on another core with the times the
//! bundle claims, and their result counts only if the proven times are exactly those.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::bundle::{Bundle, Content, Material, MessageDigest, TlogEntry};
use crate::checkpoint::{Origin, SignedCheckpoint};
use crate::dsse;
use crate::intoto::{self, Statement};
use crate::keys::{HashAlg, KeyKind, PublicKey, Scheme};
use crate::merkle;
use crate::note;
use crate::offload::Pending;
use crate::rekor::{self, Signed, Signer};
use crate::sct::{self, CtLog};
use crate::time::{Timestamp, Validity};
use crate::trust_root::{LogInstance, Skipped, TrustedRoot};
use crate::tsa;
use crate::x509::{self, Certificate, Purpose};

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum Identity {
    /// A key the verifier trusts (cosign's `--key`).
    Key(PublicKey),
    /// A Fulcio certificate for this identity, issued after this OIDC issuer's login.
    Certificate { identity: Matcher, issuer: Matcher },
}

/// An exact value or a regular expression, matched against the whole string.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Pattern(regex_lite::Regex),
}

impl Matcher {
    /// A regular expression anchored at both ends: `github.com/org/` must not match
    /// `evil.example/?github.com/org/`.
    pub fn pattern(re: &str) -> Result<Matcher, regex_lite::Error> {
        regex_lite::Regex::new(&format!("^(?:{re})$")).map(Matcher::Pattern)
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(want) => s == want,
            Matcher::Pattern(re) => re.is_match(s),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Pattern(re) => write!(f, "/{}/", re.as_str()),
        }
    }
}

/// The artifact a bundle is said to sign: its digests, and its bytes when they are at hand
/// (pure Ed25519 signs the message itself).
#[derive(Debug, Clone, Default)]
pub struct Artifact {
    /// SHA-256, SHA-384 and SHA-512, in that order: handed in, or computed from `bytes` the
    /// first time a check needs one (most bundles need one digest, and hashing a large file
    /// three times would cost more than verifying its bundle).
    digests: [OnceLock<Vec<u8>>; 3],
    bytes: Option<Vec<u8>>,
}

fn digest_slot(alg: HashAlg) -> usize {
    match alg {
        HashAlg::Sha256 => 0,
        HashAlg::Sha384 => 1,
        HashAlg::Sha512 => 2,
    }
}

impl Artifact {
    pub fn from_bytes(bytes: Vec<u8>) -> Artifact {
        Artifact {
            digests: Default::default(),
            bytes: Some(bytes),
        }
    }

    /// An artifact known only by digests (a large file hashed as a stream). Of two digests
    /// with the same algorithm, the first counts.
    pub fn from_digests(digests: Vec<(HashAlg, Vec<u8>)>) -> Artifact {
        let slots: [OnceLock<Vec<u8>>; 3] = Default::default();
        for (alg, digest) in digests {
            let _ = slots[digest_slot(alg)].set(digest);
        }
        Artifact {
            digests: slots,
            bytes: None,
        }
    }

    pub fn digest(&self, alg: HashAlg) -> Option<&[u8]> {
        let slot = &self.digests[digest_slot(alg)];
        if let Some(d) = slot.get() {
            return Some(d);
        }
        let bytes = self.bytes.as_ref()?;
        Some(slot.get_or_init(|| alg.digest(bytes)))
    }

    /// The artifact's digests as an in-toto subject may name them, each computed only when the
    /// one before matched no subject.
    fn oci_digests(&self) -> impl Iterator<Item = oci::Digest> + '_ {
        [
            (HashAlg::Sha256, oci::Algorithm::Sha256),
            (HashAlg::Sha512, oci::Algorithm::Sha512),
        ]
        .into_iter()
        .filter_map(|(h, a)| {
            let hex = crate::keys::hex(self.digest(h)?);
            oci::Digest::parse(&format!("{}:{hex}", a.as_str())).ok()
        })
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The verifier's clock: no proven time may lie after it.
    pub now: Timestamp,
    /// For `--key` bundles without any log entry: accept them (nothing proves when they were
    /// signed). Bundles that have entries always have them checked.
    pub allow_no_tlog_with_key: bool,
}

/// Why a bundle does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    #[error(
        "the bundle carries a certificate; verify it with a certificate identity and issuer, not a key"
    )]
    CertificateBundleWithKey,
    #[error("the bundle names a key, not a certificate; verify it with --key")]
    KeyBundleWithoutKey,
    #[error(
        "the bundle's certificate chain contains a self-signed certificate ({0}) that the trusted root does not hold; trust comes from the trusted root only"
    )]
    RootInBundle(String),
    #[error("the signing certificate cannot be parsed: {0}")]
    Certificate(String),
    #[error("the bundle's message digest does not match the artifact")]
    MessageDigestMismatch,
    #[error("the artifact's {0:?} digest is needed and was not computed")]
    MissingDigest(HashAlg),
    #[error("the signature does not verify with the {0}")]
    Signature(&'static str),
    #[error("{0} keys cannot verify a signature over a digest; the artifact's bytes are needed")]
    NeedsBytes(&'static str),
    #[error("the DSSE payload type is {0:?}, not an in-toto statement")]
    PayloadType(String),
    #[error("the in-toto statement is invalid: {0}")]
    Statement(String),
    #[error("no subject of the in-toto statement is the artifact")]
    SubjectMismatch,
    #[error("the bundle has no transparency log entry")]
    NoTlogEntry,
    #[error("log entry {index}: {reason}")]
    Tlog { index: u64, reason: String },
    #[error("timestamp {index}: {reason}")]
    Timestamp { index: usize, reason: String },
    #[error(
        "nothing proves when the bundle was signed: no verified log integration time and no verified RFC 3161 timestamp"
    )]
    NoSigningTime,
    #[error("the proven signing time {0} is in the future")]
    FutureTime(Timestamp),
    #[error("at the signing time {time}: {reason}")]
    Chain { time: Timestamp, reason: String },
    #[error("no signed certificate timestamp verifies: {0}")]
    Sct(String),
    #[error("the certificate's identity {found:?} does not match {expected}")]
    IdentityMismatch {
        found: Vec<String>,
        expected: String,
    },
    #[error("the certificate's OIDC issuer {} does not match {expected}", found.as_deref().map_or_else(|| "(none)".to_owned(), |f| format!("{f:?}")))]
    IssuerMismatch {
        found: Option<String>,
        expected: String,
    },
}

/// How a proven time was proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeSource {
    /// A Rekor v1 log's signed entry timestamp.
    Log(String),
    /// An RFC 3161 timestamp authority.
    TimestampAuthority(String),
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Verified {
    pub signer: VerifiedSigner,
    /// Times the signature provably existed at, with how each was proven.
    pub times: Vec<(Timestamp, TimeSource)>,
    /// Log entries that verified: (log URL, entry index).
    pub log_entries: Vec<(String, u64)>,
    /// For DSSE bundles: the payload type and the statement it carries.
    pub statement: Option<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedSigner {
    /// The key's SHA-256 fingerprint (hex).
    Key(String),
    Certificate {
        identity: String,
        issuer: String,
    },
}

/// A certificate or timestamp authority, parsed and with its own chain checked once.
struct Authority {
    uri: String,
    /// Leaf first, root last.
    certificates: Vec<Certificate>,
    validity: Validity,
}

/// A transparency log with its checkpoint verifier.
struct Log {
    instance: LogInstance,
    verifier: note::Verifier,
    origin: Origin,
}

/// How a [`Verifier`] prepares its trusted root.
#[derive(Debug, Clone)]
pub struct Config {
    /// How many verified signatures each key of the trusted root remembers (its CA and
    /// timestamp certificates, Rekor and CT log keys), so that verifying a bundle again, or
    /// bundles sharing a certificate or checkpoint, skips the signature checks already made.
    /// A remembered success is always right ([`PublicKey::with_signature_memo`]); every other
    /// check (times, validity windows, identity) runs each time. 0 remembers nothing.
    pub signature_memo: usize,
    /// Run a keyless bundle's certificate checks on another thread while this one checks the
    /// log entries, timestamps and signature: less latency per bundle, the same CPU time and
    /// the same verdict. A job no thread has started by the time it is needed runs inline.
    pub overlap_certificate_checks: bool,
}

impl Default for Config {
    fn default() -> Config {
        // A few hundred KiB per key at most; a server verifying thousands of distinct bundles
        // between repeats only loses time.
        Config {
            signature_memo: 4096,
            overlap_certificate_checks: true,
        }
    }
}

/// A trusted root prepared for verification.
pub struct Verifier {
    logs: Vec<Log>,
    /// Shared with the certificate checks when they run on another thread.
    pki: Arc<Pki>,
    tsas: Vec<Authority>,
    overlap: bool,
    /// What the root lists but cannot be used, and why.
    pub skipped: Vec<Skipped>,
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Parses an authority's chain and checks it is one: each certificate signed by the next, each
/// issuer a CA. The last is the root and is trusted as it is.
fn prepare_authority(
    uri: &str,
    chain: &[Vec<u8>],
    validity: Validity,
    config: &Config,
) -> Result<Authority, String> {
    let certificates = chain
        .iter()
        .map(|der| {
            Certificate::from_der(der)
                .map(|c| c.with_signature_memo(config.signature_memo))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    for pair in certificates.windows(2) {
        let (child, issuer) = (&pair[0], &pair[1]);
        if child.issuer_der() != issuer.subject_der() {
            return Err(format!(
                "{} is not issued by {}",
                child.describe(),
                issuer.describe()
            ));
        }
        if !issuer.is_ca() {
            return Err(format!("{} is not a CA", issuer.describe()));
        }
        child.verify_signed_by(issuer.public_key()).map_err(|e| {
            format!(
                "{} is not signed by {}: {e}",
                child.describe(),
                issuer.describe()
            )
        })?;
    }
    Ok(Authority {
        uri: uri.to_owned(),
        certificates,
        validity,
    })
}

/// What a certificate's checks need of the trusted root: its Fulcio CAs and CT logs.
struct Pki {
    cas: Vec<Authority>,
    ctlogs: Vec<CtLog>,
}

impl Pki {
    /// The chain to a Fulcio CA of the trusted root at every proven signing time, a verified
    /// SCT, then the identity and the OIDC issuer.
    fn verify_certificate(
        &self,
        cert: &Certificate,
        times: &[Timestamp],
        identity: &Matcher,
        issuer: &Matcher,
    ) -> Result<VerifiedSigner, Failure> {
        let ca = self.chain(cert, times)?;
        self.check_scts(cert, ca)?;
        check_identity(cert, identity, issuer)
    }

    /// The CA (its index) `cert` chains to at every one of `times`: the last time's, if
    /// several CAs would do.
    fn chain(&self, cert: &Certificate, times: &[Timestamp]) -> Result<usize, Failure> {
        let mut ca = None;
        for t in times {
            let i = chain_to_authority(cert, &self.cas, *t, Purpose::CodeSigning)
                .map_err(|reason| Failure::Chain { time: *t, reason })?;
            ca = Some(i);
        }
        ca.ok_or(Failure::NoSigningTime)
    }

    /// At least one SCT in `cert` verifies, for the precertificate `ca` issued.
    fn check_scts(&self, cert: &Certificate, ca: usize) -> Result<(), Failure> {
        let issuer_key = self
            .cas
            .get(ca)
            .and_then(|a| a.certificates.first())
            .ok_or_else(|| Failure::Sct("its issuer is not a certificate authority".into()))?
            .public_key();
        let report = sct::verify_scts(cert, issuer_key, &self.ctlogs)
            .map_err(|e| Failure::Sct(e.to_string()))?;
        if report.verified.is_empty() {
            let why = report
                .rejected
                .iter()
                .map(|r| r.reason.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Failure::Sct(if why.is_empty() {
                "the certificate has none".into()
            } else {
                why
            }));
        }
        Ok(())
    }

    /// The CAs that may have issued `cert`, by name: where its SCTs can be checked before
    /// its chain is.
    fn named_issuers(&self, cert: &Certificate) -> Vec<usize> {
        (0..self.cas.len())
            .filter(|&i| {
                self.cas[i]
                    .certificates
                    .first()
                    .is_some_and(|c| c.subject_der() == cert.issuer_der())
            })
            .collect()
    }
}

/// The certificate's identity and OIDC issuer match.
fn check_identity(
    cert: &Certificate,
    identity: &Matcher,
    issuer: &Matcher,
) -> Result<VerifiedSigner, Failure> {
    let sans: Vec<String> = cert.san_identities().map(str::to_owned).collect();
    let Some(found) = sans.iter().find(|s| identity.matches(s)) else {
        return Err(Failure::IdentityMismatch {
            found: sans,
            expected: identity.to_string(),
        });
    };
    let oidc = cert.oidc_issuer().map(str::to_owned);
    if !oidc.as_deref().is_some_and(|i| issuer.matches(i)) {
        return Err(Failure::IssuerMismatch {
            found: oidc,
            expected: issuer.to_string(),
        });
    }
    Ok(VerifiedSigner::Certificate {
        identity: found.clone(),
        issuer: oidc.unwrap_or_default(),
    })
}

/// The certificate checks of a keyless bundle, started before the signing times are proven,
/// with the times the bundle claims: the chain on one job, the SCTs (for each CA that may have
/// issued the certificate) on another, so that an idle core takes the first while the caller
/// checks the log and takes back the second.
struct EarlyChecks {
    times: Vec<Timestamp>,
    chain: Pending<Result<usize, Failure>>,
    scts: Pending<Vec<(usize, Result<(), Failure>)>>,
}

impl EarlyChecks {
    fn start(pki: &Arc<Pki>, cert: &Certificate, times: Vec<Timestamp>) -> EarlyChecks {
        let chain = {
            let (pki, cert, times) = (pki.clone(), cert.clone(), times.clone());
            Pending::spawn(move || pki.chain(&cert, &times))
        };
        let scts = {
            let (pki, cert) = (pki.clone(), cert.clone());
            Pending::spawn(move || {
                pki.named_issuers(&cert)
                    .into_iter()
                    .map(|ca| (ca, pki.check_scts(&cert, ca)))
                    .collect()
            })
        };
        EarlyChecks { times, chain, scts }
    }

    /// The checks' verdict, in the order the sequential checks give it (the chain's failure
    /// first); the SCTs again here if the chain ends at a CA they were not checked for.
    fn finish(
        self,
        pki: &Pki,
        cert: &Certificate,
        identity: &Matcher,
        issuer: &Matcher,
    ) -> Result<VerifiedSigner, Failure> {
        let scts = self.scts.wait();
        let ca = self.chain.wait()?;
        match scts.into_iter().find(|(i, _)| *i == ca) {
            Some((_, checked)) => checked?,
            None => pki.check_scts(cert, ca)?,
        }
        check_identity(cert, identity, issuer)
    }
}

impl Verifier {
    pub fn new(root: TrustedRoot) -> Verifier {
        Verifier::with_config(root, Config::default())
    }

    pub fn with_config(root: TrustedRoot, config: Config) -> Verifier {
        let mut skipped = root.skipped;
        let mut logs = Vec::new();
        for mut instance in root.tlogs {
            // Before the checkpoint verifier takes its copy: Rekor v1's ECDSA key signs both
            // SETs and checkpoints, and the copies share what it remembers.
            instance.key = instance.key.with_signature_memo(config.signature_memo);
            let host = host_of(&instance.base_url).to_owned();
            match note::Verifier::for_log_key(&host, &instance.key) {
                Ok(verifier) => {
                    let origin = match verifier.kind() {
                        note::VerifierKind::EcdsaSpki => Origin::RekorV1 { host },
                        _ => Origin::Exact(host),
                    };
                    logs.push(Log {
                        instance,
                        verifier,
                        origin,
                    });
                }
                Err(e) => skipped.push(Skipped {
                    what: format!("tlog {}", instance.base_url),
                    why: e.to_string(),
                }),
            }
        }
        let ctlogs = root
            .ctlogs
            .into_iter()
            .map(|l| {
                CtLog::new(
                    l.key.with_signature_memo(config.signature_memo),
                    l.validity.start.secs(),
                    l.validity.end.map(|e| e.secs()),
                )
            })
            .collect();
        let mut prepare = |list: Vec<crate::trust_root::Authority>, what: &str| -> Vec<Authority> {
            list.into_iter()
                .filter_map(
                    |a| match prepare_authority(&a.uri, &a.chain, a.validity, &config) {
                        Ok(p) => Some(p),
                        Err(why) => {
                            skipped.push(Skipped {
                                what: format!("{what} {}", a.uri),
                                why,
                            });
                            None
                        }
                    },
                )
                .collect()
        };
        let cas = prepare(root.certificate_authorities, "certificate authority");
        let tsas = prepare(root.timestamp_authorities, "timestamp authority");
        Verifier {
            logs,
            pki: Arc::new(Pki { cas, ctlogs }),
            tsas,
            overlap: config.overlap_certificate_checks,
            skipped,
        }
    }

    fn log(&self, log_id: &[u8]) -> Option<&Log> {
        self.logs.iter().find(|l| l.instance.log_id == log_id)
    }

    /// The transparency log the trusted root lists under `log_id`, for signatures that carry
    /// a log entry outside a bundle (cosign's classic `dev.sigstore.cosign/bundle`).
    pub fn tlog(&self, log_id: &[u8]) -> Option<&LogInstance> {
        self.log(log_id).map(|l| &l.instance)
    }

    /// The certificate checks of [`Verifier::verify`], for signatures that do not come in a
    /// bundle (cosign's classic layers): the chain to a Fulcio CA of the trusted root at every
    /// proven signing time, a verified SCT, then the identity and the OIDC issuer.
    pub fn verify_certificate(
        &self,
        cert: &Certificate,
        times: &[Timestamp],
        identity: &Matcher,
        issuer: &Matcher,
    ) -> Result<VerifiedSigner, Failure> {
        self.pki.verify_certificate(cert, times, identity, issuer)
    }

    /// Verifies `bundle` as a signature by `identity` over `artifact`.
    pub fn verify(
        &self,
        bundle: &Bundle,
        artifact: &Artifact,
        identity: &Identity,
        opts: &Options,
    ) -> Result<Verified, Failure> {
        // 1. Who signed: a trusted key, or the certificate the bundle carries.
        let leaf = match (identity, &bundle.material) {
            (Identity::Key(_), Material::PublicKey { .. }) => None,
            (Identity::Key(_), _) => return Err(Failure::CertificateBundleWithKey),
            (Identity::Certificate { .. }, Material::PublicKey { .. }) => {
                return Err(Failure::KeyBundleWithoutKey);
            }
            (Identity::Certificate { .. }, material) => {
                // The rest of a v0.1/v0.2 chain is never used to build a path: trust comes
                // from the trusted root only. A root the trusted root also holds is superfluous
                // (real npm bundles carry Sigstore's own); any other root is a forgery's shape.
                if let Material::Chain(chain) = material {
                    for der in chain.iter().skip(1) {
                        let c = Certificate::from_der(der)
                            .map_err(|e| Failure::Certificate(e.to_string()))?;
                        let trusted = || {
                            self.pki
                                .cas
                                .iter()
                                .any(|a| a.certificates.iter().any(|t| t.der() == c.der()))
                        };
                        if c.issuer_der() == c.subject_der() && !trusted() {
                            return Err(Failure::RootInBundle(c.describe()));
                        }
                    }
                }
                let der = material.leaf().ok_or(Failure::KeyBundleWithoutKey)?;
                Some(Certificate::from_der(der).map_err(|e| Failure::Certificate(e.to_string()))?)
            }
        };
        // The certificate checks, started now on another thread with the times the bundle
        // claims; step 5 uses their result only if exactly those times are proven.
        let early = match (&leaf, identity) {
            (Some(cert), Identity::Certificate { .. }) if self.overlap => {
                claimed_times(bundle).map(|times| EarlyChecks::start(&self.pki, cert, times))
            }
            _ => None,
        };
        let key = match (&leaf, identity) {
            (Some(cert), _) => cert.public_key(),
            (None, Identity::Key(k)) => k,
            (None, Identity::Certificate { .. }) => return Err(Failure::KeyBundleWithoutKey),
        };

        // 2. What was signed, and the signature over it.
        let mut statement = None;
        // What the log entry must record: the artifact's SHA-256 for a message signature (only
        // there is it needed: a DSSE subject may name the artifact by another digest).
        let sha256;
        let pae_digest;
        let signed = match &bundle.content {
            Content::MessageSignature { digest, signature } => {
                if let Some(d) = digest {
                    let ours = artifact
                        .digest(d.algorithm)
                        .ok_or(Failure::MissingDigest(d.algorithm))?;
                    if ours != d.digest {
                        return Err(Failure::MessageDigestMismatch);
                    }
                }
                sha256 = artifact
                    .digest(HashAlg::Sha256)
                    .ok_or(Failure::MissingDigest(HashAlg::Sha256))?
                    .to_vec();
                verify_message_signature(key, artifact, digest.as_ref(), signature)?;
                Signed::Message {
                    artifact_sha256: &sha256,
                    signature,
                }
            }
            Content::Dsse {
                payload,
                payload_type,
                signature,
                ..
            } => {
                if payload_type != intoto::PAYLOAD_TYPE {
                    return Err(Failure::PayloadType(payload_type.clone()));
                }
                let pae = dsse::pae(payload_type, payload);
                key.verify(key.default_scheme(), &pae, signature)
                    .map_err(|_| Failure::Signature("signer's key over the DSSE envelope"))?;
                let st =
                    Statement::parse(payload).map_err(|e| Failure::Statement(e.to_string()))?;
                if !artifact.oci_digests().any(|d| st.subject_for(&d).is_some()) {
                    return Err(Failure::SubjectMismatch);
                }
                statement = Some(st);
                pae_digest = crate::keys::sha256(&pae);
                Signed::Dsse {
                    payload,
                    pae_sha256: &pae_digest,
                    signature,
                }
            }
        };
        let signer = match &leaf {
            Some(cert) => Signer::Certificate(cert.der()),
            None => Signer::Key(key),
        };

        // 3. The transparency log.
        if bundle.tlog_entries.is_empty() {
            let keyed = matches!(identity, Identity::Key(_));
            if !(keyed && opts.allow_no_tlog_with_key) {
                return Err(Failure::NoTlogEntry);
            }
        }
        let mut times = Vec::new();
        let mut log_entries = Vec::new();
        for entry in &bundle.tlog_entries {
            let fail = |reason: String| Failure::Tlog {
                index: entry.log_index,
                reason,
            };
            let log = self
                .log(&entry.log_id)
                .ok_or_else(|| fail("its log is not in the trusted root".into()))?;
            if let Some(t) = self
                .verify_entry(entry, log, bundle, signed, signer)
                .map_err(fail)?
            {
                times.push((t, TimeSource::Log(log.instance.base_url.clone())));
            }
            log_entries.push((log.instance.base_url.clone(), entry.log_index));
        }

        // 4. RFC 3161 timestamps over the signature.
        for (index, der) in bundle.rfc3161_timestamps.iter().enumerate() {
            let (time, uri) = self
                .verify_timestamp(der, bundle.content.signature())
                .map_err(|reason| Failure::Timestamp { index, reason })?;
            times.push((time, TimeSource::TimestampAuthority(uri)));
        }
        for (t, _) in &times {
            if *t > opts.now {
                return Err(Failure::FutureTime(*t));
            }
        }
        // A log's key is trusted for the times its validity covers: a Rekor v2 entry has no
        // time of its own, so some proven time must fall in its log's window.
        for entry in &bundle.tlog_entries {
            if let Some(log) = self.log(&entry.log_id)
                && !times
                    .iter()
                    .any(|(t, _)| log.instance.validity.contains(*t))
            {
                return Err(Failure::Tlog {
                    index: entry.log_index,
                    reason: "no proven time falls in the log key's validity in the trusted root"
                        .into(),
                });
            }
        }

        // 5. The certificate: chain at every proven time, SCTs, identity and issuer.
        let verified_signer = match (&leaf, identity) {
            (Some(cert), Identity::Certificate { identity, issuer }) => {
                let proven: Vec<Timestamp> = times.iter().map(|(t, _)| *t).collect();
                match early {
                    Some(early) if early.times == proven => {
                        early.finish(&self.pki, cert, identity, issuer)?
                    }
                    _ => self.verify_certificate(cert, &proven, identity, issuer)?,
                }
            }
            _ => VerifiedSigner::Key(crate::keys::hex(&key.fingerprint())),
        };
        Ok(Verified {
            signer: verified_signer,
            times,
            log_entries,
            statement,
        })
    }

    /// Checks one log entry; returns the integration time its SET proves, if any.
    fn verify_entry(
        &self,
        entry: &TlogEntry,
        log: &Log,
        bundle: &Bundle,
        signed: Signed<'_>,
        signer: Signer<'_>,
    ) -> Result<Option<Timestamp>, String> {
        rekor::check_body(
            &entry.kind,
            &entry.version,
            &entry.canonicalized_body,
            signed,
            signer,
        )
        .map_err(|e| e.to_string())?;
        // Version rules: v0.1 bundles need the SET; later ones need an inclusion proof with a
        // checkpoint.
        let set_time = match (&entry.signed_entry_timestamp, entry.integrated_time) {
            (Some(set), time) => {
                rekor::verify_set(
                    &entry.canonicalized_body,
                    time,
                    entry.log_index,
                    Some(set),
                    &log.instance,
                )
                .map_err(|e| e.to_string())?;
                time.map(Timestamp::from_unix)
            }
            (None, _) if bundle.version == crate::bundle::BundleVersion::V0_1 => {
                return Err("a v0.1 bundle's entry needs a signed entry timestamp".into());
            }
            // An integration time without a SET proves nothing.
            (None, _) => None,
        };
        match &entry.inclusion_proof {
            Some(proof) => {
                let leaf = merkle::leaf_hash(&entry.canonicalized_body);
                merkle::verify_inclusion(
                    proof.log_index,
                    proof.tree_size,
                    &leaf,
                    &proof.hashes,
                    &proof.root_hash,
                )
                .map_err(|e| format!("inclusion proof: {e}"))?;
                let text = proof
                    .checkpoint
                    .as_deref()
                    .ok_or("the inclusion proof has no checkpoint")?;
                let signed = SignedCheckpoint::parse(text.as_bytes())
                    .map_err(|e| format!("checkpoint: {e}"))?;
                signed
                    .verify(&log.origin, &log.verifier, &[])
                    .map_err(|e| format!("checkpoint: {e}"))?;
                let cp = signed.checkpoint();
                if cp.size() != proof.tree_size || cp.root()[..] != proof.root_hash[..] {
                    return Err(
                        "the checkpoint is for another tree than the inclusion proof".into(),
                    );
                }
            }
            None if bundle.version >= crate::bundle::BundleVersion::V0_2 => {
                return Err("the entry has no inclusion proof".into());
            }
            None => {}
        }
        if let Some(t) = set_time
            && !log.instance.validity.contains(t)
        {
            return Err(format!(
                "integrated at {t}, outside the log key's validity in the trusted root"
            ));
        }
        Ok(set_time)
    }

    /// Verifies an RFC 3161 timestamp over `signature`; returns its time and authority.
    fn verify_timestamp(
        &self,
        der: &[u8],
        signature: &[u8],
    ) -> Result<(Timestamp, String), String> {
        let token = tsa::parse(der).map_err(|e| e.to_string())?;
        token.check_imprint(signature).map_err(|e| e.to_string())?;
        let t = token.gen_time;
        let mut reasons = Vec::new();
        let embedded: Vec<Certificate> = token
            .certificates
            .iter()
            .filter_map(|c| Certificate::from_der(c).ok())
            .filter(|c| names_signer(&token.signer, c))
            .collect();
        for authority in self.tsas.iter().filter(|a| a.validity.contains(t)) {
            // The signer: a certificate embedded in the token, or the authority's own leaf. An
            // embedded copy of that leaf is the leaf itself, with the key the root prepared.
            let own = authority
                .certificates
                .first()
                .filter(|own| names_signer(&token.signer, own));
            let candidates = embedded
                .iter()
                .filter(|c| own.is_none_or(|own| own.der() != c.der()))
                .chain(own);
            for cert in candidates {
                let anchored = chain_to(cert, authority, t, Purpose::TimeStamping);
                match anchored.and_then(|_| {
                    token
                        .verify_signed_by(cert.der(), cert.public_key())
                        .map_err(|e| e.to_string())
                }) {
                    Ok(()) => return Ok((t, authority.uri.clone())),
                    Err(e) => reasons.push(e),
                }
            }
        }
        if reasons.is_empty() {
            reasons.push(format!(
                "no trusted timestamp authority valid at {t} issued its signer"
            ));
        }
        Err(reasons.join("; "))
    }
}

/// Chains `cert` to one of `authorities` valid at `t`; returns the index of its issuer's.
fn chain_to_authority(
    cert: &Certificate,
    authorities: &[Authority],
    t: Timestamp,
    purpose: Purpose,
) -> Result<usize, String> {
    let mut reasons = Vec::new();
    for (i, authority) in authorities.iter().enumerate() {
        if !authority.validity.contains(t) {
            continue;
        }
        match chain_to(cert, authority, t, purpose) {
            Ok(_) => return Ok(i),
            Err(e) => reasons.push(e),
        }
    }
    if reasons.is_empty() {
        reasons.push("no certificate authority in the trusted root is valid then".into());
    }
    Err(reasons.join("; "))
}

/// Checks `cert` against one authority at `t`. The authority's own chain was verified when
/// the root was prepared, so its first certificate anchors the path; the rest of its chain
/// must still be valid at `t`.
fn chain_to<'a>(
    cert: &Certificate,
    authority: &'a Authority,
    t: Timestamp,
    purpose: Purpose,
) -> Result<&'a PublicKey, String> {
    let anchor = authority.certificates.first().ok_or("empty chain")?;
    // A certificate that is the authority's own leaf (a TSA signing with it) is trusted as is.
    if cert.der() == anchor.der() {
        if !cert.is_valid_at(t.secs()) {
            return Err(format!("{} is not valid at {t}", cert.describe()));
        }
        return Ok(anchor.public_key());
    }
    x509::chain_path_for(cert, &[], std::slice::from_ref(anchor), t.secs(), purpose)
        .map_err(|e| e.to_string())?;
    if let Some(expired) = authority
        .certificates
        .iter()
        .skip(1)
        .find(|c| !c.is_valid_at(t.secs()))
    {
        return Err(format!("{} is not valid at {t}", expired.describe()));
    }
    Ok(anchor.public_key())
}

/// The signing times a bundle claims, in the order [`Verifier::verify`] proves them: each log
/// entry's integration time where a SET would prove it, then each RFC 3161 timestamp's. `None`
/// if a timestamp does not even parse (verification fails on it anyway).
fn claimed_times(bundle: &Bundle) -> Option<Vec<Timestamp>> {
    let logged = bundle
        .tlog_entries
        .iter()
        .filter(|e| e.signed_entry_timestamp.is_some())
        .filter_map(|e| e.integrated_time.map(Timestamp::from_unix));
    let stamped = bundle
        .rfc3161_timestamps
        .iter()
        .map(|der| tsa::parse(der).ok().map(|t| t.gen_time));
    logged.map(Some).chain(stamped).collect()
}

/// Whether a CMS signer identifier names `cert`.
fn names_signer(id: &tsa::SignerId, cert: &Certificate) -> bool {
    match id {
        tsa::SignerId::IssuerSerial { issuer, serial } => {
            cert.issuer_der() == issuer.as_slice() && cert.serial() == serial.as_slice()
        }
        tsa::SignerId::SubjectKeyId(ski) => cert.subject_key_id() == Some(ski.as_slice()),
    }
}

/// A message signature over the artifact. An Ed25519 key may have signed the message (pure) or
/// its SHA-512 (cosign's Ed25519ph). ECDSA and RSA sign a digest: the one the bundle's
/// `messageDigest` names (Sigstore clients sign with P-384 keys over SHA-256, as real bundles
/// show), else the hash the key's kind signs with.
fn verify_message_signature(
    key: &PublicKey,
    artifact: &Artifact,
    message_digest: Option<&MessageDigest>,
    signature: &[u8],
) -> Result<(), Failure> {
    let bad = || Failure::Signature("signer's key over the artifact");
    match key.kind() {
        KeyKind::Ed25519 => {
            if let Some(bytes) = &artifact.bytes
                && key.verify(Scheme::Ed25519, bytes, signature).is_ok()
            {
                return Ok(());
            }
            let sha512 = artifact
                .digest(HashAlg::Sha512)
                .ok_or(Failure::NeedsBytes("Ed25519"))?;
            key.verify_digest(Scheme::Ed25519ph, sha512, signature)
                .map_err(|_| bad())
        }
        _ => {
            let scheme = match (key.default_scheme(), message_digest.map(|d| d.algorithm)) {
                (Scheme::Ecdsa(_), Some(h)) => Scheme::Ecdsa(h),
                (Scheme::RsaPkcs1(_), Some(h)) => Scheme::RsaPkcs1(h),
                (Scheme::RsaPss(_), Some(h)) => Scheme::RsaPss(h),
                (scheme, _) => scheme,
            };
            let hash = match scheme {
                Scheme::Ecdsa(h) | Scheme::RsaPkcs1(h) | Scheme::RsaPss(h) => h,
                Scheme::Ed25519 | Scheme::Ed25519ph => return Err(bad()),
            };
            let digest = artifact.digest(hash).ok_or(Failure::MissingDigest(hash))?;
            key.verify_digest(scheme, digest, signature)
                .map_err(|_| bad())
        }
    }
}

#[cfg(test)]
mod tests {
    //! Regressions found by the real bundles of `../shared/fixtures/signing` (the conformance
    //! cases run through the binary, in `crates/cli/tests/it`).

    use super::*;

    fn fixture(path: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/signing")
            .join(path);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn verifier(root: &str) -> Verifier {
        Verifier::new(TrustedRoot::from_json(&fixture(root)).unwrap())
    }

    fn options() -> Options {
        Options {
            // Every bundle below was signed before this; proven times are all that matter.
            now: Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap(),
            allow_no_tlog_with_key: true,
        }
    }

    fn anyone() -> Identity {
        Identity::Certificate {
            identity: Matcher::pattern(".*").unwrap(),
            issuer: Matcher::pattern(".*").unwrap(),
        }
    }

    fn sha512_only(bytes: &[u8]) -> Artifact {
        Artifact::from_digests(vec![(HashAlg::Sha512, HashAlg::Sha512.digest(bytes))])
    }

    #[test]
    fn p384_certificates_sign_over_the_message_digests_hash() {
        // sigstore-python's staging bundle: a P-384 Fulcio key that signed SHA-256, as the
        // bundle's messageDigest says (P-384's own hash would be SHA-384).
        let bundle =
            Bundle::from_json(&fixture("sigstore-python/staging/bundle.txt.sigstore")).unwrap();
        let artifact = Artifact::from_bytes(fixture("sigstore-python/staging/bundle.txt"));
        let v = verifier("trust/staging-trusted_root.json")
            .verify(&bundle, &artifact, &anyone(), &options())
            .unwrap();
        assert_eq!(
            v.signer,
            VerifiedSigner::Certificate {
                identity: "a@tny.town".into(),
                issuer: "https://github.com/login/oauth".into()
            }
        );
        // Another file still fails, at the digest, and a forged signature at the signature.
        let other = Artifact::from_bytes(b"another file".to_vec());
        assert_eq!(
            verifier("trust/staging-trusted_root.json")
                .verify(&bundle, &other, &anyone(), &options())
                .unwrap_err(),
            Failure::MessageDigestMismatch
        );
        let mut forged = bundle.clone();
        if let Content::MessageSignature { signature, .. } = &mut forged.content {
            let last = signature.len() - 2;
            signature[last] ^= 1;
        }
        assert!(matches!(
            verifier("trust/staging-trusted_root.json")
                .verify(&forged, &artifact, &anyone(), &options())
                .unwrap_err(),
            Failure::Signature(_)
        ));
    }

    #[test]
    fn dsse_subjects_may_name_the_artifact_by_sha512_alone() {
        // npm's publish attestation names the package by SHA-512 only; an artifact known by
        // that digest alone must do (a SHA-256 is needed for message signatures only).
        let doc: serde_json::Value = serde_json::from_slice(&fixture(
            "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json",
        ))
        .unwrap();
        let publish = doc["attestations"][0]["bundle"].to_string();
        let bundle = Bundle::from_json(publish.as_bytes()).unwrap();
        let key = PublicKey::from_pem(
            std::str::from_utf8(&fixture("sigstore-go/publish_key.pub")).unwrap(),
        )
        .unwrap();
        let tgz = fixture("slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega.tgz");
        let v = verifier("trust/public-good-trusted_root.json")
            .verify(
                &bundle,
                &sha512_only(&tgz),
                &Identity::Key(key.clone()),
                &options(),
            )
            .unwrap();
        assert_eq!(
            v.statement.unwrap().subject[0].name,
            "pkg:npm/sigstore@2.3.1"
        );
        assert_eq!(
            verifier("trust/public-good-trusted_root.json")
                .verify(
                    &bundle,
                    &sha512_only(b"another package"),
                    &Identity::Key(key),
                    &options()
                )
                .unwrap_err(),
            Failure::SubjectMismatch
        );
    }

    /// The trusted root's keys remember the signatures they verified (`Config::signature_memo`):
    /// every conformance case, verified three times over by one remembering verifier per trusted
    /// root (the tampered twins after the bundles they were made from), gets exactly the verdict
    /// a verifier that remembers nothing and checks one thing at a time gives (the same value,
    /// failures included), as does one overlapping the certificate checks, and the verdict its
    /// name expects.
    #[test]
    fn remembered_signatures_and_overlapped_checks_never_change_a_verdict() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/signing/sigstore-conformance/bundle-verify");
        let mut cases: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("bundle.sigstore.json").exists())
            .collect();
        // Cases that verify first, so that the memo holds their signatures when their tampered
        // twins come.
        cases.sort_by_key(|p| (p.to_string_lossy().ends_with("_fail"), p.clone()));
        let read = |p: std::path::PathBuf| std::fs::read(&p).ok();
        let text = |p: std::path::PathBuf, default: &str| {
            read(p).map_or(default.to_owned(), |b| {
                String::from_utf8(b).unwrap().trim_end().to_owned()
            })
        };
        let options = Options {
            now: Timestamp::from_system_time(std::time::SystemTime::now()),
            allow_no_tlog_with_key: true,
        };
        let mut remembering: std::collections::HashMap<Vec<u8>, Verifier> = Default::default();
        let mut checked = 0;
        for round in 0..3 {
            for case in &cases {
                let name = case.file_name().unwrap().to_string_lossy().into_owned();
                let root = read(case.join("trusted_root.json"))
                    .unwrap_or_else(|| fixture("trust/public-good-trusted_root.json"));
                let Ok(bundle) =
                    Bundle::from_json(&read(case.join("bundle.sigstore.json")).unwrap())
                else {
                    assert!(name.ends_with("_fail"), "{name}: does not parse");
                    continue;
                };
                let artifact = Artifact::from_bytes(
                    read(case.join("artifact"))
                        .unwrap_or_else(|| fixture("sigstore-conformance/bundle-verify/a.txt")),
                );
                let identity = match read(case.join("key.pub")) {
                    Some(pem) => match PublicKey::from_pem(std::str::from_utf8(&pem).unwrap()) {
                        Ok(key) => Identity::Key(key),
                        Err(e) => {
                            assert!(name.ends_with("_fail"), "{name}: {e}");
                            continue;
                        }
                    },
                    None => Identity::Certificate {
                        identity: Matcher::Exact(text(
                            case.join("identity"),
                            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
                        )),
                        issuer: Matcher::Exact(text(
                            case.join("issuer"),
                            "https://token.actions.githubusercontent.com",
                        )),
                    },
                };
                let Ok(parsed_root) = TrustedRoot::from_json(&root) else {
                    assert!(
                        name.ends_with("_fail"),
                        "{name}: its trusted root does not parse"
                    );
                    continue;
                };
                let verdict = |v: &Verifier| {
                    v.verify(&bundle, &artifact, &identity, &options)
                        .map(|ok| (ok.signer, ok.times, ok.log_entries))
                };
                // Every signature checked, one thing at a time: the reference.
                let sequential = Verifier::with_config(
                    parsed_root.clone(),
                    Config {
                        signature_memo: 0,
                        overlap_certificate_checks: false,
                    },
                );
                let expected = verdict(&sequential);
                let overlapped = Verifier::with_config(
                    parsed_root.clone(),
                    Config {
                        signature_memo: 0,
                        ..Config::default()
                    },
                );
                assert_eq!(verdict(&overlapped), expected, "{name}, overlapped");
                let memo = remembering
                    .entry(root)
                    .or_insert_with(|| Verifier::new(parsed_root));
                assert_eq!(verdict(memo), expected, "{name}, round {round}");
                assert_eq!(
                    expected.is_ok(),
                    !name.ends_with("_fail"),
                    "{name}: {expected:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 150, "only {checked} verifications ran");
    }

    #[test]
    fn a_chain_may_carry_the_trusted_root_but_no_other() {
        // Real npm provenance (bundle v0.1) carries Sigstore's intermediate and root, which the
        // trusted root holds: superfluous, not a reason to refuse. The package's SHA-512 is the
        // one npm's registry publishes for sigstore@1.3.0 (`dist.integrity`).
        let bundle = Bundle::from_json(&fixture("sigstore-go/bundle-provenance.json")).unwrap();
        let sha512 = "76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6\
                      b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751";
        let digest: Vec<u8> = (0..sha512.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&sha512[i..i + 2], 16).unwrap())
            .collect();
        let artifact = Artifact::from_digests(vec![(HashAlg::Sha512, digest)]);
        let v = verifier("trust/public-good-trusted_root.json")
            .verify(&bundle, &artifact, &anyone(), &options())
            .unwrap();
        assert!(matches!(
            v.signer,
            VerifiedSigner::Certificate { ref identity, .. }
                if identity == "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
        ));
        // The conformance case's chain holds a root the trusted root does not: refused.
        let forged = Bundle::from_json(&fixture(
            "sigstore-conformance/bundle-verify/bundle-with-root-cert_fail/bundle.sigstore.json",
        ))
        .unwrap();
        let artifact = Artifact::from_bytes(fixture(
            "sigstore-conformance/bundle-verify/bundle-with-root-cert_fail/artifact",
        ));
        assert!(matches!(
            verifier("trust/public-good-trusted_root.json")
                .verify(&forged, &artifact, &anyone(), &options())
                .unwrap_err(),
            Failure::RootInBundle(_)
        ));
    }
}
