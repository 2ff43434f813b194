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
//! signatures, log and CT keys) is prepared once in [`Verifier::new`].

use std::fmt;

use crate::bundle::{Bundle, Content, Material, TlogEntry};
use crate::checkpoint::{Origin, SignedCheckpoint};
use crate::dsse;
use crate::intoto::{self, Statement};
use crate::keys::{HashAlg, KeyKind, PublicKey, Scheme};
use crate::merkle;
use crate::note;
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
    digests: Vec<(HashAlg, Vec<u8>)>,
    bytes: Option<Vec<u8>>,
}

impl Artifact {
    pub fn from_bytes(bytes: Vec<u8>) -> Artifact {
        let digests = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512]
            .into_iter()
            .map(|h| (h, h.digest(&bytes)))
            .collect();
        Artifact {
            digests,
            bytes: Some(bytes),
        }
    }

    /// An artifact known only by digests (a large file hashed as a stream).
    pub fn from_digests(digests: Vec<(HashAlg, Vec<u8>)>) -> Artifact {
        Artifact {
            digests,
            bytes: None,
        }
    }

    pub fn digest(&self, alg: HashAlg) -> Option<&[u8]> {
        self.digests
            .iter()
            .find(|(h, _)| *h == alg)
            .map(|(_, d)| d.as_slice())
    }

    fn oci_digests(&self) -> Vec<oci::Digest> {
        [
            (HashAlg::Sha256, oci::Algorithm::Sha256),
            (HashAlg::Sha512, oci::Algorithm::Sha512),
        ]
        .into_iter()
        .filter_map(|(h, a)| {
            let hex = crate::keys::hex(self.digest(h)?);
            oci::Digest::parse(&format!("{}:{hex}", a.as_str())).ok()
        })
        .collect()
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
        "the bundle's certificate chain contains a self-signed certificate ({0}); trust comes from the trusted root only"
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
    #[error("the certificate's OIDC issuer {found:?} does not match {expected}")]
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

/// A trusted root prepared for verification.
pub struct Verifier {
    logs: Vec<Log>,
    ctlogs: Vec<CtLog>,
    cas: Vec<Authority>,
    tsas: Vec<Authority>,
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
) -> Result<Authority, String> {
    let certificates = chain
        .iter()
        .map(|der| Certificate::from_der(der).map_err(|e| e.to_string()))
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

impl Verifier {
    pub fn new(root: TrustedRoot) -> Verifier {
        let mut skipped = root.skipped;
        let mut logs = Vec::new();
        for instance in root.tlogs {
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
                    l.key,
                    l.validity.start.secs(),
                    l.validity.end.map(|e| e.secs()),
                )
            })
            .collect();
        let mut prepare = |list: Vec<crate::trust_root::Authority>, what: &str| -> Vec<Authority> {
            list.into_iter()
                .filter_map(|a| match prepare_authority(&a.uri, &a.chain, a.validity) {
                    Ok(p) => Some(p),
                    Err(why) => {
                        skipped.push(Skipped {
                            what: format!("{what} {}", a.uri),
                            why,
                        });
                        None
                    }
                })
                .collect()
        };
        let cas = prepare(root.certificate_authorities, "certificate authority");
        let tsas = prepare(root.timestamp_authorities, "timestamp authority");
        Verifier {
            logs,
            ctlogs,
            cas,
            tsas,
            skipped,
        }
    }

    fn log(&self, log_id: &[u8]) -> Option<&Log> {
        self.logs.iter().find(|l| l.instance.log_id == log_id)
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
                if let Material::Chain(chain) = material {
                    for der in chain.iter().skip(1) {
                        let c = Certificate::from_der(der)
                            .map_err(|e| Failure::Certificate(e.to_string()))?;
                        if c.issuer_der() == c.subject_der() {
                            return Err(Failure::RootInBundle(c.describe()));
                        }
                    }
                }
                let der = material.leaf().ok_or(Failure::KeyBundleWithoutKey)?;
                Some(Certificate::from_der(der).map_err(|e| Failure::Certificate(e.to_string()))?)
            }
        };
        let key = match (&leaf, identity) {
            (Some(cert), _) => cert.public_key(),
            (None, Identity::Key(k)) => k,
            (None, Identity::Certificate { .. }) => return Err(Failure::KeyBundleWithoutKey),
        };

        // 2. What was signed, and the signature over it.
        let sha256 = artifact
            .digest(HashAlg::Sha256)
            .ok_or(Failure::MissingDigest(HashAlg::Sha256))?
            .to_vec();
        let mut statement = None;
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
                verify_message_signature(key, artifact, signature)?;
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
                if !artifact
                    .oci_digests()
                    .iter()
                    .any(|d| st.subject_for(d).is_some())
                {
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
                if times.is_empty() {
                    return Err(Failure::NoSigningTime);
                }
                let mut issuer_key = None;
                for (t, _) in &times {
                    let key = self
                        .chain_to_authority(cert, &self.cas, *t, Purpose::CodeSigning)
                        .map_err(|reason| Failure::Chain { time: *t, reason })?;
                    issuer_key = Some(key);
                }
                let issuer_key = issuer_key.unwrap_or_else(|| unreachable!("times is not empty"));
                let report = sct::verify_scts(cert, &issuer_key, &self.ctlogs)
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
                VerifiedSigner::Certificate {
                    identity: found.clone(),
                    issuer: oidc.unwrap_or_default(),
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
        for authority in self.tsas.iter().filter(|a| a.validity.contains(t)) {
            // The signer: a certificate embedded in the token, or the authority's own leaf.
            let mut candidates: Vec<Certificate> = token
                .certificates
                .iter()
                .filter_map(|c| Certificate::from_der(c).ok())
                .filter(|c| names_signer(&token.signer, c))
                .collect();
            if let Some(own) = authority.certificates.first()
                && names_signer(&token.signer, own)
            {
                candidates.push(own.clone());
            }
            for cert in &candidates {
                let anchored = self.chain_to(cert, authority, t, Purpose::TimeStamping);
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

    /// Chains `cert` to one of `authorities` valid at `t`; returns the key of its issuer.
    fn chain_to_authority(
        &self,
        cert: &Certificate,
        authorities: &[Authority],
        t: Timestamp,
        purpose: Purpose,
    ) -> Result<PublicKey, String> {
        let mut reasons = Vec::new();
        for authority in authorities.iter().filter(|a| a.validity.contains(t)) {
            match self.chain_to(cert, authority, t, purpose) {
                Ok(key) => return Ok(key),
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
    fn chain_to(
        &self,
        cert: &Certificate,
        authority: &Authority,
        t: Timestamp,
        purpose: Purpose,
    ) -> Result<PublicKey, String> {
        let anchor = authority.certificates.first().ok_or("empty chain")?;
        // A certificate that is the authority's own leaf (a TSA signing with it) is trusted as is.
        if cert.der() == anchor.der() {
            if !cert.is_valid_at(t.secs()) {
                return Err(format!("{} is not valid at {t}", cert.describe()));
            }
            return Ok(cert.public_key().clone());
        }
        x509::verify_chain_for(cert, &[], std::slice::from_ref(anchor), t.secs(), purpose)
            .map_err(|e| e.to_string())?;
        if let Some(expired) = authority
            .certificates
            .iter()
            .skip(1)
            .find(|c| !c.is_valid_at(t.secs()))
        {
            return Err(format!("{} is not valid at {t}", expired.describe()));
        }
        Ok(anchor.public_key().clone())
    }
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

/// A message signature over the artifact, under the scheme the key's kind signs with. An
/// Ed25519 key may have signed the message (pure) or its SHA-512 (cosign's Ed25519ph).
fn verify_message_signature(
    key: &PublicKey,
    artifact: &Artifact,
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
            let scheme = key.default_scheme();
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
