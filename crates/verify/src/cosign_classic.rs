//! cosign's classic image signatures and attestations: the layers of the `sha256-<hex>.sig` and
//! `.att` manifests. A `.sig` layer is a simple-signing payload (`critical.identity`,
//! `critical.image`, `critical.type`, `optional`) signed as it is, its signature in the
//! `dev.cosignproject.cosign/signature` annotation; an `.att` layer is a DSSE envelope holding
//! an in-toto statement. Either may carry a Fulcio certificate (`dev.sigstore.cosign/certificate`)
//! and a Rekor entry with its signed entry timestamp (`dev.sigstore.cosign/bundle`).
//!
//! Written byte for byte as cosign writes them (Go's `encoding/json`), and verified here with
//! the pieces the bundle verifier uses ([`rekor`], [`Verifier::verify_certificate`]): what was
//! signed must name exactly the image being verified, the signature must hold under the given
//! key or the certificate, and a certificate needs a log entry whose SET proves when it signed.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::dsse::{self, Envelope};
use crate::intoto::{self, Statement};
use crate::keys::{self, PublicKey};
use crate::rekor::{self, Signed};
use crate::sigstore::{self, Identity, Options, VerifiedSigner, Verifier};
use crate::time::Timestamp;
use crate::x509::Certificate;

/// The media type of a `.sig` layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The media type of an `.att` layer.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The base64 signature over a `.sig` layer (empty on `.att` layers).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The PEM signing certificate of a keyless signature.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The PEM chain above the certificate (informative: trust comes from the trusted root).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// The Rekor entry: `{"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex, logID}}`.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// The predicate type of an `.att` layer (a hint; the signed statement decides).
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// `critical.type` of a simple-signing payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// Why a classic layer does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    #[error("the layer has no {SIGNATURE_ANNOTATION} annotation")]
    NoSignature,
    #[error("the {SIGNATURE_ANNOTATION} annotation is not standard base64")]
    SignatureEncoding,
    #[error("the {CERTIFICATE_ANNOTATION} annotation is not a certificate: {0}")]
    Certificate(String),
    #[error("the layer carries no certificate; verify it with --key")]
    NoCertificate,
    #[error("the layer's certificate holds another key than the one given")]
    CertificateKeyMismatch,
    #[error("the signature does not verify with the {0}")]
    Signature(&'static str),
    #[error("the payload is not cosign's simple-signing JSON: {0}")]
    Payload(String),
    #[error("the payload's critical.type is {0:?}, not {SIGNATURE_TYPE:?}")]
    PayloadType(String),
    #[error("the payload signs {found}, not the image's digest {expected}")]
    DigestMismatch {
        found: String,
        expected: oci::Digest,
    },
    #[error("the payload's docker-reference {0:?} is another repository than the image's")]
    ReferenceMismatch(String),
    #[error("the layer is not a DSSE envelope: {0}")]
    Envelope(String),
    #[error("the DSSE envelope must carry exactly one signature, it has {0}")]
    EnvelopeSignatures(usize),
    #[error("the DSSE payload type is {0:?}, not an in-toto statement")]
    PayloadTypeDsse(String),
    #[error("the in-toto statement is invalid: {0}")]
    Statement(String),
    #[error("no subject of the in-toto statement is the image {0}")]
    SubjectMismatch(oci::Digest),
    #[error("the {BUNDLE_ANNOTATION} annotation is invalid: {0}")]
    BundleAnnotation(String),
    #[error("log entry {index}: {reason}")]
    Tlog { index: u64, reason: String },
    #[error("the proven signing time {0} is in the future")]
    FutureTime(Timestamp),
    #[error(
        "nothing proves when the certificate signed: the layer has no {BUNDLE_ANNOTATION} log entry"
    )]
    NoSigningTime,
    /// A certificate check, as the bundle verifier words it.
    #[error(transparent)]
    Sigstore(#[from] sigstore::Failure),
}

/// A classic layer as the registry holds it: its blob and its descriptor's annotations.
#[derive(Debug, Clone, Copy)]
pub struct Layer<'a> {
    /// The simple-signing payload (`.sig`) or the DSSE envelope (`.att`), as pulled.
    pub blob: &'a [u8],
    pub annotations: &'a BTreeMap<String, String>,
}

/// The image a signature must be about.
pub struct Image<'a> {
    pub digest: &'a oci::Digest,
    /// Whether a docker-reference names the image's repository. The caller knows the
    /// reference grammar's defaults (Docker Hub's spellings, `library/`).
    pub same_repository: &'a dyn Fn(&str) -> bool,
}

/// A simple-signing payload's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    pub docker_reference: String,
    pub digest: oci::Digest,
    /// `optional`: the annotations given when signing (`null` reads as none).
    pub optional: serde_json::Map<String, serde_json::Value>,
}

/// What a verified layer says.
#[derive(Debug, Clone)]
pub enum Claim {
    Signature(SimpleSigning),
    Attestation(Statement),
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Verified {
    pub signer: VerifiedSigner,
    /// The log entry whose SET verified: (log URL, index, integrated time).
    pub log_entry: Option<(String, u64, Timestamp)>,
    pub claim: Claim,
}

// ---------------------------------------------------------------------------------------------
// Writing, as cosign writes

/// JSON as Go's `encoding/json` writes it: serde's compact output, with `<`, `>`, `&`, U+2028
/// and U+2029 escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029` (they occur only
/// inside strings, so replacing them everywhere is exact). Struct fields keep their declared
/// order and maps sort their keys, as Go's do.
pub fn go_json<T: Serialize + ?Sized>(value: &T) -> String {
    // Serializing the plain data types used here (strings, maps, numbers) cannot fail.
    let json = serde_json::to_string(value).expect("plain JSON data serializes");
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayload {
    critical: RawCritical,
    #[serde(default)]
    optional: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize, Deserialize)]
struct RawCritical {
    identity: RawIdentity,
    image: RawImage,
    #[serde(rename = "type")]
    type_: String,
}

#[derive(Serialize, Deserialize)]
struct RawIdentity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Serialize, Deserialize)]
struct RawImage {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// The simple-signing payload cosign signs for `digest` in the repository `docker_reference`
/// (`registry/name`, as go-containerregistry names a repository), with the annotations given
/// by `-a key=value` in `optional` (`null` when there are none). Exactly cosign's bytes.
pub fn simple_signing_payload(
    docker_reference: &str,
    digest: &oci::Digest,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let optional = (!annotations.is_empty()).then(|| {
        annotations
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect()
    });
    go_json(&RawPayload {
        critical: RawCritical {
            identity: RawIdentity {
                docker_reference: docker_reference.to_owned(),
            },
            image: RawImage {
                docker_manifest_digest: digest.to_string(),
            },
            type_: SIGNATURE_TYPE.to_owned(),
        },
        optional,
    })
    .into_bytes()
}

impl SimpleSigning {
    /// Parses a payload. Unknown top-level fields, a missing claim, a malformed digest or a
    /// type other than cosign's are errors; `optional` may be anything JSON allows there.
    pub fn parse(bytes: &[u8]) -> Result<SimpleSigning, Failure> {
        let raw: RawPayload =
            serde_json::from_slice(bytes).map_err(|e| Failure::Payload(e.to_string()))?;
        if raw.critical.type_ != SIGNATURE_TYPE {
            return Err(Failure::PayloadType(raw.critical.type_));
        }
        let digest = oci::Digest::parse(&raw.critical.image.docker_manifest_digest)
            .map_err(|e| Failure::Payload(format!("docker-manifest-digest: {e}")))?;
        Ok(SimpleSigning {
            docker_reference: raw.critical.identity.docker_reference,
            digest,
            optional: raw.optional.unwrap_or_default(),
        })
    }
}

/// A DSSE envelope as cosign writes it into an `.att` layer: Go's `encoding/json` of the
/// protobuf envelope (`payload`, `payloadType`, `signatures` with `sig` and a non-empty
/// `keyid`; empty fields omitted).
pub fn attestation_layer(envelope: &Envelope) -> Vec<u8> {
    #[derive(Serialize)]
    struct RawSignature {
        sig: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        keyid: String,
    }
    #[derive(Serialize)]
    struct Raw {
        #[serde(skip_serializing_if = "String::is_empty")]
        payload: String,
        #[serde(rename = "payloadType", skip_serializing_if = "String::is_empty")]
        payload_type: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        signatures: Vec<RawSignature>,
    }
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    go_json(&Raw {
        payload: b64(&envelope.payload),
        payload_type: envelope.payload_type.clone(),
        signatures: envelope
            .signatures
            .iter()
            .map(|s| RawSignature {
                sig: b64(&s.sig),
                keyid: s.keyid.clone(),
            })
            .collect(),
    })
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Verifying

/// cosign's `dev.sigstore.cosign/bundle` annotation (its `RekorBundle`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: RawRekorPayload,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRekorPayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Verifies a `.sig` layer: the signature over the payload under `identity`, the payload's
/// claims against `image`, the log entry if the layer has one (a certificate needs it), and
/// the certificate's chain, SCT, identity and issuer at the time the log proves.
pub fn verify_signature(
    layer: Layer<'_>,
    image: &Image<'_>,
    identity: &Identity,
    verifier: &Verifier,
    opts: &Options,
) -> Result<Verified, Failure> {
    let signature = match layer.annotations.get(SIGNATURE_ANNOTATION) {
        Some(s) if !s.is_empty() => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| Failure::SignatureEncoding)?,
        _ => return Err(Failure::NoSignature),
    };
    let signer = Signer::of(layer, identity)?;
    signer.verify(layer.blob, &signature)?;
    let payload = SimpleSigning::parse(layer.blob)?;
    if payload.digest != *image.digest {
        return Err(Failure::DigestMismatch {
            found: payload.digest.to_string(),
            expected: image.digest.clone(),
        });
    }
    if !(image.same_repository)(&payload.docker_reference) {
        return Err(Failure::ReferenceMismatch(payload.docker_reference));
    }
    let payload_sha256 = keys::sha256(layer.blob);
    let signed = Signed::Message {
        artifact_sha256: &payload_sha256,
        signature: &signature,
    };
    finish(
        layer,
        &signer,
        signed,
        identity,
        verifier,
        opts,
        Claim::Signature(payload),
    )
}

/// Verifies an `.att` layer: a DSSE envelope with one signature over its PAE under
/// `identity`, holding an in-toto statement with a subject that is the image's digest; then
/// the log entry and certificate as for [`verify_signature`].
pub fn verify_attestation(
    layer: Layer<'_>,
    image: &oci::Digest,
    identity: &Identity,
    verifier: &Verifier,
    opts: &Options,
) -> Result<Verified, Failure> {
    let envelope = Envelope::parse(layer.blob).map_err(|e| Failure::Envelope(e.to_string()))?;
    let [signature] = envelope.signatures.as_slice() else {
        return Err(Failure::EnvelopeSignatures(envelope.signatures.len()));
    };
    let signer = Signer::of(layer, identity)?;
    let pae = dsse::pae(&envelope.payload_type, &envelope.payload);
    signer.verify(&pae, &signature.sig)?;
    if envelope.payload_type != intoto::PAYLOAD_TYPE {
        return Err(Failure::PayloadTypeDsse(envelope.payload_type.clone()));
    }
    let statement =
        Statement::parse(&envelope.payload).map_err(|e| Failure::Statement(e.to_string()))?;
    if statement.subject_for(image).is_none() {
        return Err(Failure::SubjectMismatch(image.clone()));
    }
    let pae_sha256 = keys::sha256(&pae);
    let signed = Signed::Dsse {
        payload: &envelope.payload,
        pae_sha256: &pae_sha256,
        signature: &signature.sig,
    };
    finish(
        layer,
        &signer,
        signed,
        identity,
        verifier,
        opts,
        Claim::Attestation(statement),
    )
}

/// Who signed a layer: the key given to the verifier (and the certificate issued for it, if
/// the layer carries one), or the layer's certificate.
enum Signer<'a> {
    Key {
        key: &'a PublicKey,
        certificate: Option<Certificate>,
    },
    Certificate(Certificate),
}

impl<'a> Signer<'a> {
    fn of(layer: Layer<'_>, identity: &'a Identity) -> Result<Signer<'a>, Failure> {
        let certificate = layer
            .annotations
            .get(CERTIFICATE_ANNOTATION)
            .filter(|pem| !pem.is_empty())
            .map(|pem| Certificate::from_pem(pem).map_err(|e| Failure::Certificate(e.to_string())))
            .transpose()?;
        match (identity, certificate) {
            // A key signature may carry the certificate issued for that key (cosign sign --key
            // --cert); its log entry then records the certificate.
            (Identity::Key(key), Some(cert)) if cert.public_key() != key => {
                Err(Failure::CertificateKeyMismatch)
            }
            (Identity::Key(key), certificate) => Ok(Signer::Key { key, certificate }),
            (Identity::Certificate { .. }, Some(cert)) => Ok(Signer::Certificate(cert)),
            (Identity::Certificate { .. }, None) => Err(Failure::NoCertificate),
        }
    }

    fn key(&self) -> &PublicKey {
        match self {
            Signer::Key { key, .. } => key,
            Signer::Certificate(cert) => cert.public_key(),
        }
    }

    fn certificate(&self) -> Option<&Certificate> {
        match self {
            Signer::Key { certificate, .. } => certificate.as_ref(),
            Signer::Certificate(cert) => Some(cert),
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Signer::Key { .. } => "given key",
            Signer::Certificate(_) => "certificate's key",
        }
    }

    /// Verifies `signature` over `message` under the key's default scheme (what cosign signs
    /// image layers with).
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Failure> {
        let key = self.key();
        key.verify(key.default_scheme(), message, signature)
            .map_err(|_| Failure::Signature(self.what()))
    }
}

/// The checks every layer ends with, once its signature and claims verified: the log entry
/// (required for a certificate, checked whenever present), then the certificate at the time
/// the entry's SET proves.
fn finish(
    layer: Layer<'_>,
    signer: &Signer<'_>,
    signed: Signed<'_>,
    identity: &Identity,
    verifier: &Verifier,
    opts: &Options,
    claim: Claim,
) -> Result<Verified, Failure> {
    let log_signer = match signer.certificate() {
        Some(cert) => rekor::Signer::Certificate(cert.der()),
        None => rekor::Signer::Key(signer.key()),
    };
    let log_entry = layer
        .annotations
        .get(BUNDLE_ANNOTATION)
        .map(|json| check_log_entry(json, signed, log_signer, verifier))
        .transpose()?;
    if let Some((_, _, t)) = &log_entry
        && *t > opts.now
    {
        return Err(Failure::FutureTime(*t));
    }
    let verified = match (signer, identity) {
        (Signer::Certificate(cert), Identity::Certificate { identity, issuer }) => {
            let Some((_, _, t)) = &log_entry else {
                return Err(Failure::NoSigningTime);
            };
            verifier.verify_certificate(cert, &[*t], identity, issuer)?
        }
        (Signer::Key { key, .. }, _) => {
            if log_entry.is_none() && !opts.allow_no_tlog_with_key {
                return Err(sigstore::Failure::NoTlogEntry.into());
            }
            VerifiedSigner::Key(keys::hex(&key.fingerprint()))
        }
        // `Signer::of` pairs a certificate signer with a certificate identity only.
        (Signer::Certificate(_), Identity::Key(_)) => return Err(Failure::NoCertificate),
    };
    Ok(Verified {
        signer: verified,
        log_entry,
        claim,
    })
}

/// Checks the annotation's Rekor entry: its body records `signed` by `signer`, its log is in
/// the trusted root, its SET verifies, and its integrated time lies in the log key's validity.
fn check_log_entry(
    json: &str,
    signed: Signed<'_>,
    signer: rekor::Signer<'_>,
    verifier: &Verifier,
) -> Result<(String, u64, Timestamp), Failure> {
    let bad = |what: &str| Failure::BundleAnnotation(what.to_owned());
    let raw: RawRekorBundle =
        serde_json::from_str(json).map_err(|e| Failure::BundleAnnotation(e.to_string()))?;
    let index = u64::try_from(raw.payload.log_index).map_err(|_| bad("logIndex is negative"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = b64
        .decode(&raw.payload.body)
        .map_err(|_| bad("Payload.body is not base64"))?;
    let set = b64
        .decode(&raw.signed_entry_timestamp)
        .map_err(|_| bad("SignedEntryTimestamp is not base64"))?;
    let log_id = unhex(&raw.payload.log_id).ok_or_else(|| bad("logID is not hex"))?;
    let fail = |reason: String| Failure::Tlog { index, reason };
    #[derive(Deserialize)]
    struct Kind {
        kind: String,
        #[serde(rename = "apiVersion")]
        api_version: String,
    }
    let kind: Kind = serde_json::from_slice(&body)
        .map_err(|e| fail(format!("the entry body is not a Rekor entry: {e}")))?;
    rekor::check_body(&kind.kind, &kind.api_version, &body, signed, signer)
        .map_err(|e| fail(e.to_string()))?;
    let log = verifier
        .tlog(&log_id)
        .ok_or_else(|| fail("its log is not in the trusted root".into()))?;
    rekor::verify_set(
        &body,
        Some(raw.payload.integrated_time),
        index,
        Some(&set),
        log,
    )
    .map_err(|e| fail(e.to_string()))?;
    let t = Timestamp::from_unix(raw.payload.integrated_time);
    if !log.validity.contains(t) {
        return Err(fail(format!(
            "integrated at {t}, outside the log key's validity in the trusted root"
        )));
    }
    Ok((log.base_url.clone(), index, t))
}

/// Lowercase or uppercase hex, even length.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyKind, PrivateKey};
    use crate::sigstore::Matcher;
    use crate::trust_root::TrustedRoot;

    fn fixture(path: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/signing")
            .join(path);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn text(path: &str) -> String {
        String::from_utf8(fixture(path))
            .unwrap()
            .trim_end()
            .to_owned()
    }

    fn key(path: &str) -> Identity {
        Identity::Key(PublicKey::from_pem(&text(path)).unwrap())
    }

    fn options() -> Options {
        Options {
            now: Timestamp::from_unix(1_900_000_000),
            allow_no_tlog_with_key: true,
        }
    }

    fn public_good() -> Verifier {
        Verifier::new(
            TrustedRoot::from_json(&fixture("trust/public-good-trusted_root.json")).unwrap(),
        )
    }

    fn digest(s: &str) -> oci::Digest {
        oci::Digest::parse(s).unwrap()
    }

    const KEYED_DIGEST: &str =
        "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";
    const KEYLESS_DIGEST: &str =
        "sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e";

    /// The keyed fixture's layer: its payload and signature annotation.
    fn keyed(payload: &str) -> (Vec<u8>, BTreeMap<String, String>) {
        let annotations = BTreeMap::from([(
            SIGNATURE_ANNOTATION.to_owned(),
            text("cosign-classic/keyed/signature.b64"),
        )]);
        (fixture(payload), annotations)
    }

    /// The keyless fixture's layer: payload, signature, certificate and Rekor bundle.
    fn keyless() -> (Vec<u8>, BTreeMap<String, String>) {
        let annotations = BTreeMap::from([
            (
                SIGNATURE_ANNOTATION.to_owned(),
                text("cosign-classic/keyless/signature.b64"),
            ),
            (
                CERTIFICATE_ANNOTATION.to_owned(),
                text("cosign-classic/keyless/cert.pem"),
            ),
            (
                BUNDLE_ANNOTATION.to_owned(),
                text("cosign-classic/keyless/bundle-annotation.json"),
            ),
        ]);
        (fixture("cosign-classic/keyless/payload.json"), annotations)
    }

    fn verify_sig(
        blob: &[u8],
        annotations: &BTreeMap<String, String>,
        digest: &oci::Digest,
        repository: &str,
        identity: &Identity,
        verifier: &Verifier,
    ) -> Result<Verified, Failure> {
        let same = |r: &str| r == repository;
        verify_signature(
            Layer { blob, annotations },
            &Image {
                digest,
                same_repository: &same,
            },
            identity,
            verifier,
            &options(),
        )
    }

    #[test]
    fn payloads_are_written_byte_for_byte_as_cosign_writes_them() {
        let none = BTreeMap::new();
        assert_eq!(
            simple_signing_payload(
                "registry-testing.svc.lan/busybox",
                &digest(KEYED_DIGEST),
                &none
            ),
            fixture("cosign-classic/keyed/payload.json")
        );
        assert_eq!(
            simple_signing_payload(
                "registry-testing.svc.lan/kubewarden/disallow-service-nodeport",
                &digest(KEYLESS_DIGEST),
                &none
            ),
            fixture("cosign-classic/keyless/payload.json")
        );
        // Annotations go to `optional`, keys sorted, HTML characters escaped as Go escapes them.
        let annotations = BTreeMap::from([
            ("z".to_owned(), "<a&b>".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ]);
        let payload = simple_signing_payload("r.example/x", &digest(KEYED_DIGEST), &annotations);
        assert!(
            String::from_utf8(payload.clone())
                .unwrap()
                .ends_with(r#""optional":{"a":"1","z":"\u003ca\u0026b\u003e"}}"#),
            "{}",
            String::from_utf8_lossy(&payload)
        );
        let parsed = SimpleSigning::parse(&payload).unwrap();
        assert_eq!(parsed.optional["z"], "<a&b>");
        assert_eq!(parsed.digest, digest(KEYED_DIGEST));
    }

    #[test]
    fn keyed_fixture_verifies_and_its_tampered_twins_do_not() {
        let none = Verifier::new(TrustedRoot::default());
        let (blob, ann) = keyed("cosign-classic/keyed/payload.json");
        let repo = "registry-testing.svc.lan/busybox";
        let good = key("cosign-classic/keyed/cosign.pub");
        let v = verify_sig(&blob, &ann, &digest(KEYED_DIGEST), repo, &good, &none).unwrap();
        let Identity::Key(k) = &good else {
            unreachable!()
        };
        assert_eq!(v.signer, VerifiedSigner::Key(keys::hex(&k.fingerprint())));
        assert!(v.log_entry.is_none());
        assert!(matches!(&v.claim, Claim::Signature(p) if p.docker_reference == repo));

        let wrong = key("cosign-classic/keyed/wrong-key.pub");
        let err = verify_sig(&blob, &ann, &digest(KEYED_DIGEST), repo, &wrong, &none).unwrap_err();
        assert_eq!(err, Failure::Signature("given key"));

        let (tampered, ann2) = keyed("cosign-classic/keyed/payload-tampered.json");
        let err =
            verify_sig(&tampered, &ann2, &digest(KEYED_DIGEST), repo, &good, &none).unwrap_err();
        assert_eq!(err, Failure::Signature("given key"));

        // A genuine signature over another image, or for another repository.
        let other = oci::Digest::compute(oci::Algorithm::Sha256, b"another image");
        let err = verify_sig(&blob, &ann, &other, repo, &good, &none).unwrap_err();
        assert_eq!(
            err,
            Failure::DigestMismatch {
                found: KEYED_DIGEST.to_owned(),
                expected: other
            }
        );
        let err = verify_sig(
            &blob,
            &ann,
            &digest(KEYED_DIGEST),
            "copy.example/busybox",
            &good,
            &none,
        )
        .unwrap_err();
        assert_eq!(err, Failure::ReferenceMismatch(repo.to_owned()));

        // Without its annotation, or with one that is not base64, nothing verifies.
        let err = verify_sig(
            &blob,
            &BTreeMap::new(),
            &digest(KEYED_DIGEST),
            repo,
            &good,
            &none,
        )
        .unwrap_err();
        assert_eq!(err, Failure::NoSignature);
        let bad = BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), "%%".to_owned())]);
        let err = verify_sig(&blob, &bad, &digest(KEYED_DIGEST), repo, &good, &none).unwrap_err();
        assert_eq!(err, Failure::SignatureEncoding);
        // A key signature that must have a log entry has none.
        let strict = Options {
            allow_no_tlog_with_key: false,
            ..options()
        };
        let same = |r: &str| r == repo;
        let err = verify_signature(
            Layer {
                blob: &blob,
                annotations: &ann,
            },
            &Image {
                digest: &digest(KEYED_DIGEST),
                same_repository: &same,
            },
            &good,
            &none,
            &strict,
        )
        .unwrap_err();
        assert_eq!(err, Failure::Sigstore(sigstore::Failure::NoTlogEntry));
    }

    /// The keyless fixture: (a) the SET verifies with rekor.sigstore.dev's key, (b) the rekord
    /// body's hash is the payload's, (c) its public key is the certificate, (d) the signature
    /// verifies with the certificate's key; (e) the certificate chains to the 2021 Fulcio CA
    /// and (f) was valid at the integrated time. It predates SCTs and the OIDC issuer
    /// extension, so vouch's certificate policy (like cosign's default) then rejects it for
    /// having no SCT: reaching that check means (e) and (f) passed.
    #[test]
    fn keyless_fixture_proves_everything_but_has_no_sct() {
        let root = public_good();
        let (blob, ann) = keyless();
        let repo = "registry-testing.svc.lan/kubewarden/disallow-service-nodeport";
        let image = digest(KEYLESS_DIGEST);
        let cert = Certificate::from_pem(&text("cosign-classic/keyless/cert.pem")).unwrap();

        // (a) to (d): the certificate's key as a given key; the log entry is checked in full.
        let as_key = Identity::Key(cert.public_key().clone());
        let v = verify_sig(&blob, &ann, &image, repo, &as_key, &root).unwrap();
        let (url, index, time) = v.log_entry.clone().unwrap();
        assert_eq!(
            (url.as_str(), index),
            ("https://rekor.sigstore.dev", 783_607)
        );
        assert_eq!(time, Timestamp::from_unix(1_634_714_717));

        // (e), (f), then the SCT.
        let keyless = Identity::Certificate {
            identity: Matcher::Exact("flavio@castelli.me".into()),
            issuer: Matcher::pattern(".*").unwrap(),
        };
        let err = verify_sig(&blob, &ann, &image, repo, &keyless, &root).unwrap_err();
        assert_eq!(
            err,
            Failure::Sigstore(sigstore::Failure::Sct(
                "certificate has no SignedCertificateTimestampList extension".into()
            ))
        );

        // A root without that CA: the chain fails at the integrated time.
        let no_cas = {
            let mut r =
                TrustedRoot::from_json(&fixture("trust/public-good-trusted_root.json")).unwrap();
            r.certificate_authorities.clear();
            Verifier::new(r)
        };
        let err = verify_sig(&blob, &ann, &image, repo, &keyless, &no_cas).unwrap_err();
        assert!(
            matches!(&err, Failure::Sigstore(sigstore::Failure::Chain { time, .. }) if *time == Timestamp::from_unix(1_634_714_717)),
            "{err}"
        );

        // Without the log entry nothing proves when the certificate signed.
        let mut no_bundle = ann.clone();
        no_bundle.remove(BUNDLE_ANNOTATION);
        let err = verify_sig(&blob, &no_bundle, &image, repo, &keyless, &root).unwrap_err();
        assert_eq!(err, Failure::NoSigningTime);
        // A certificate identity needs a certificate.
        let (kblob, kann) = keyed("cosign-classic/keyed/payload.json");
        let err = verify_sig(
            &kblob,
            &kann,
            &digest(KEYED_DIGEST),
            "registry-testing.svc.lan/busybox",
            &keyless,
            &root,
        )
        .unwrap_err();
        assert_eq!(err, Failure::NoCertificate);

        // A SET over another integrated time, a log the root does not know, a body that
        // records another signature.
        let bundle: serde_json::Value = serde_json::from_str(&ann[BUNDLE_ANNOTATION]).unwrap();
        let mut later = bundle.clone();
        later["Payload"]["integratedTime"] = serde_json::json!(1_634_714_718);
        let mut tampered = ann.clone();
        tampered.insert(BUNDLE_ANNOTATION.into(), later.to_string());
        let err = verify_sig(&blob, &tampered, &image, repo, &as_key, &root).unwrap_err();
        assert!(
            matches!(&err, Failure::Tlog { index: 783_607, reason } if reason.contains("signed entry timestamp")),
            "{err}"
        );
        let err = verify_sig(
            &blob,
            &ann,
            &image,
            repo,
            &as_key,
            &Verifier::new(TrustedRoot::default()),
        )
        .unwrap_err();
        assert!(
            matches!(&err, Failure::Tlog { reason, .. } if reason.contains("not in the trusted root")),
            "{err}"
        );
        let mut other_sig = ann.clone();
        other_sig.insert(
            SIGNATURE_ANNOTATION.into(),
            text("cosign-classic/keyed/signature.b64"),
        );
        let err = verify_sig(&blob, &other_sig, &image, repo, &as_key, &root).unwrap_err();
        assert_eq!(err, Failure::Signature("given key"));
        // A key that is not the certificate's.
        let err = verify_sig(
            &blob,
            &ann,
            &image,
            repo,
            &key("cosign-classic/keyed/cosign.pub"),
            &root,
        )
        .unwrap_err();
        assert_eq!(err, Failure::CertificateKeyMismatch);
    }

    #[test]
    fn attestation_layers_round_trip_and_bind_the_image() {
        let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let identity = Identity::Key(key.public_key().unwrap());
        let image = oci::Digest::compute(oci::Algorithm::Sha256, b"image manifest");
        let statement = format!(
            r#"{{"_type":"{}","subject":[{{"name":"r.example/app","digest":{{"sha256":"{}"}}}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{{}}}}"#,
            intoto::STATEMENT_V01,
            image.hex()
        );
        let mut envelope = Envelope::new(intoto::PAYLOAD_TYPE, statement.into_bytes());
        envelope.sign(&key, key.scheme(), "").unwrap();
        let layer = attestation_layer(&envelope);
        let text = String::from_utf8(layer.clone()).unwrap();
        assert!(text.starts_with(r#"{"payload":""#), "{text}");
        assert!(
            text.contains(
                r#","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":""#
            ),
            "{text}"
        );
        assert!(!text.contains("keyid"), "{text}");

        let none = Verifier::new(TrustedRoot::default());
        let ann = BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), String::new())]);
        let verify = |blob: &[u8], image: &oci::Digest, identity: &Identity| {
            verify_attestation(
                Layer {
                    blob,
                    annotations: &ann,
                },
                image,
                identity,
                &none,
                &options(),
            )
        };
        let v = verify(&layer, &image, &identity).unwrap();
        assert!(
            matches!(&v.claim, Claim::Attestation(s) if s.predicate_type == "https://slsa.dev/provenance/v1")
        );

        let other = oci::Digest::compute(oci::Algorithm::Sha256, b"another");
        assert_eq!(
            verify(&layer, &other, &identity).unwrap_err(),
            Failure::SubjectMismatch(other)
        );
        let stranger = Identity::Key(
            PrivateKey::generate(KeyKind::EcdsaP256)
                .unwrap()
                .public_key()
                .unwrap(),
        );
        assert_eq!(
            verify(&layer, &image, &stranger).unwrap_err(),
            Failure::Signature("given key")
        );
        let mut twice = envelope.clone();
        twice.sign(&key, key.scheme(), "").unwrap();
        assert_eq!(
            verify(&attestation_layer(&twice), &image, &identity).unwrap_err(),
            Failure::EnvelopeSignatures(2)
        );
        assert!(matches!(
            verify(b"{}", &image, &identity).unwrap_err(),
            Failure::Envelope(_)
        ));
    }

    #[test]
    fn malformed_payloads_are_named() {
        for (json, want) in [
            (
                r#"{"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":null}"#,
                "docker-manifest-digest",
            ),
            (
                r#"{"critical":{"identity":{"docker-reference":"r/x"},"type":"cosign container image signature"}}"#,
                "image",
            ),
            (
                r#"{"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"sha256:00"},"type":"x"},"extra":1}"#,
                "extra",
            ),
        ] {
            let err = SimpleSigning::parse(json.as_bytes()).unwrap_err();
            assert!(
                matches!(&err, Failure::Payload(m) if m.contains(want)),
                "{json}: {err}"
            );
        }
        let other_type = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r/x"}},"image":{{"docker-manifest-digest":"{KEYED_DIGEST}"}},"type":"atomic container signature"}},"optional":null}}"#
        );
        assert_eq!(
            SimpleSigning::parse(other_type.as_bytes()).unwrap_err(),
            Failure::PayloadType("atomic container signature".into())
        );
    }
}
