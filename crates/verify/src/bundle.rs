//! Sigstore bundles (`application/vnd.dev.sigstore.bundle...`, protobuf-specs `Bundle`) v0.1 to
//! v0.3: parsed strictly into what verification needs. Parsing checks structure (one kind of
//! content, one kind of verification material, known versions); whether anything in it is
//! true is the verifier's job.

use serde::Deserialize;

use crate::dsse::{DsseError, Envelope};
use crate::keys::{HashAlg, PrivateKey, PublicKey};
use crate::proto_json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error("bundle is not valid JSON for its type: {0}")]
    Json(String),
    #[error("unsupported bundle media type {0:?}")]
    MediaType(String),
    #[error("bundle must carry exactly one of messageSignature and dsseEnvelope")]
    Content,
    #[error("bundle must carry exactly one of publicKey, certificate and x509CertificateChain")]
    Material,
    #[error("{field} is not allowed in a bundle v{version}")]
    NotInVersion {
        field: &'static str,
        version: &'static str,
    },
    #[error("the certificate chain is empty")]
    EmptyChain,
    #[error("unsupported message digest algorithm {0:?}")]
    DigestAlgorithm(String),
    #[error("{field} is negative")]
    Negative { field: &'static str },
    #[error("the DSSE envelope must carry exactly one signature, it has {0}")]
    DsseSignatures(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    V0_1,
    V0_2,
    V0_3,
}

impl BundleVersion {
    fn as_str(self) -> &'static str {
        match self {
            BundleVersion::V0_1 => "0.1",
            BundleVersion::V0_2 => "0.2",
            BundleVersion::V0_3 => "0.3",
        }
    }

    /// The media type vouch writes for this version.
    pub fn media_type(self) -> &'static str {
        match self {
            BundleVersion::V0_1 => "application/vnd.dev.sigstore.bundle+json;version=0.1",
            BundleVersion::V0_2 => "application/vnd.dev.sigstore.bundle+json;version=0.2",
            BundleVersion::V0_3 => MEDIA_TYPE_V0_3,
        }
    }
}

/// The v0.3 media type, also used as the OCI artifactType of bundle referrers.
pub const MEDIA_TYPE_V0_3: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

fn version_of(media_type: &str) -> Option<BundleVersion> {
    match media_type {
        "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(BundleVersion::V0_1),
        "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(BundleVersion::V0_2),
        "application/vnd.dev.sigstore.bundle+json;version=0.3" | MEDIA_TYPE_V0_3 => {
            Some(BundleVersion::V0_3)
        }
        _ => None,
    }
}

/// How the signer is identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// A key the verifier must supply; the hint only helps find it and proves nothing.
    PublicKey { hint: Option<String> },
    /// A signing certificate (v0.3), DER.
    Certificate(Vec<u8>),
    /// A chain, leaf first, DER (v0.1, v0.2).
    Chain(Vec<Vec<u8>>),
}

impl Material {
    /// The signing certificate, if the bundle has one.
    pub fn leaf(&self) -> Option<&[u8]> {
        match self {
            Material::Certificate(c) => Some(c),
            Material::Chain(c) => c.first().map(Vec::as_slice),
            Material::PublicKey { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDigest {
    pub algorithm: HashAlg,
    pub digest: Vec<u8>,
}

/// What was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    MessageSignature {
        digest: Option<MessageDigest>,
        signature: Vec<u8>,
    },
    /// A DSSE envelope with its single signature.
    Dsse {
        payload: Vec<u8>,
        payload_type: String,
        keyid: Option<String>,
        signature: Vec<u8>,
    },
}

impl Content {
    /// The signature bytes, which an RFC 3161 timestamp in the bundle covers.
    pub fn signature(&self) -> &[u8] {
        match self {
            Content::MessageSignature { signature, .. } | Content::Dsse { signature, .. } => {
                signature
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub log_index: u64,
    pub root_hash: Vec<u8>,
    pub tree_size: u64,
    pub hashes: Vec<Vec<u8>>,
    /// The signed checkpoint (note) the proof leads to.
    pub checkpoint: Option<String>,
}

/// A transparency log entry as the bundle records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    pub log_index: u64,
    pub log_id: Vec<u8>,
    pub kind: String,
    pub version: String,
    /// Rekor v1 only: the time the log says it integrated the entry, proven by the SET.
    pub integrated_time: Option<i64>,
    /// Rekor v1's signed entry timestamp.
    pub signed_entry_timestamp: Option<Vec<u8>>,
    pub inclusion_proof: Option<InclusionProof>,
    pub canonicalized_body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub version: BundleVersion,
    pub material: Material,
    pub tlog_entries: Vec<TlogEntry>,
    /// DER RFC 3161 timestamp responses.
    pub rfc3161_timestamps: Vec<Vec<u8>>,
    pub content: Content,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    media_type: String,
    verification_material: RawMaterial,
    message_signature: Option<RawMessageSignature>,
    dsse_envelope: Option<RawEnvelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    public_key: Option<RawKeyHint>,
    certificate: Option<RawCert>,
    x509_certificate_chain: Option<RawChain>,
    #[serde(default)]
    tlog_entries: Vec<RawTlogEntry>,
    timestamp_verification_data: Option<RawTimestamps>,
}

#[derive(Deserialize)]
struct RawKeyHint {
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    #[serde(deserialize_with = "proto_json::bytes")]
    raw_bytes: Vec<u8>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestamps {
    #[serde(default)]
    rfc3161_timestamps: Vec<RawSignedTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSignedTimestamp {
    #[serde(deserialize_with = "proto_json::bytes")]
    signed_timestamp: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlogEntry {
    #[serde(deserialize_with = "proto_json::int64")]
    log_index: i64,
    log_id: RawLogId,
    kind_version: RawKindVersion,
    #[serde(default, deserialize_with = "proto_json::opt_int64")]
    integrated_time: Option<i64>,
    inclusion_promise: Option<RawPromise>,
    inclusion_proof: Option<RawInclusionProof>,
    #[serde(deserialize_with = "proto_json::bytes")]
    canonicalized_body: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    #[serde(deserialize_with = "proto_json::bytes")]
    key_id: Vec<u8>,
}

#[derive(Deserialize)]
struct RawKindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    #[serde(deserialize_with = "proto_json::bytes")]
    signed_entry_timestamp: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInclusionProof {
    #[serde(deserialize_with = "proto_json::int64")]
    log_index: i64,
    #[serde(deserialize_with = "proto_json::bytes")]
    root_hash: Vec<u8>,
    #[serde(deserialize_with = "proto_json::int64")]
    tree_size: i64,
    #[serde(default, deserialize_with = "proto_json::bytes_list")]
    hashes: Vec<Vec<u8>>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    message_digest: Option<RawMessageDigest>,
    #[serde(deserialize_with = "proto_json::bytes")]
    signature: Vec<u8>,
}

#[derive(Deserialize)]
struct RawMessageDigest {
    algorithm: String,
    #[serde(deserialize_with = "proto_json::bytes")]
    digest: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    #[serde(deserialize_with = "proto_json::bytes")]
    payload: Vec<u8>,
    payload_type: String,
    #[serde(default)]
    signatures: Vec<RawDsseSignature>,
}

#[derive(Deserialize)]
struct RawDsseSignature {
    #[serde(deserialize_with = "proto_json::bytes")]
    sig: Vec<u8>,
    keyid: Option<String>,
}

fn non_negative(v: i64, field: &'static str) -> Result<u64, BundleError> {
    u64::try_from(v).map_err(|_| BundleError::Negative { field })
}

impl Bundle {
    pub fn from_json(json: &[u8]) -> Result<Bundle, BundleError> {
        let raw: Raw =
            serde_json::from_slice(json).map_err(|e| BundleError::Json(e.to_string()))?;
        let version = version_of(&raw.media_type)
            .ok_or_else(|| BundleError::MediaType(raw.media_type.clone()))?;
        let m = raw.verification_material;
        let material = match (m.public_key, m.certificate, m.x509_certificate_chain) {
            (Some(k), None, None) => Material::PublicKey {
                hint: k.hint.filter(|h| !h.is_empty()),
            },
            (None, Some(c), None) => {
                if version < BundleVersion::V0_3 {
                    return Err(BundleError::NotInVersion {
                        field: "certificate",
                        version: version.as_str(),
                    });
                }
                Material::Certificate(c.raw_bytes)
            }
            (None, None, Some(chain)) => {
                if version >= BundleVersion::V0_3 {
                    return Err(BundleError::NotInVersion {
                        field: "x509CertificateChain",
                        version: version.as_str(),
                    });
                }
                if chain.certificates.is_empty() {
                    return Err(BundleError::EmptyChain);
                }
                Material::Chain(
                    chain
                        .certificates
                        .into_iter()
                        .map(|c| c.raw_bytes)
                        .collect(),
                )
            }
            _ => return Err(BundleError::Material),
        };
        let tlog_entries = m
            .tlog_entries
            .into_iter()
            .map(|e| {
                let inclusion_proof = e
                    .inclusion_proof
                    .map(|p| -> Result<InclusionProof, BundleError> {
                        Ok(InclusionProof {
                            log_index: non_negative(p.log_index, "inclusionProof.logIndex")?,
                            root_hash: p.root_hash,
                            tree_size: non_negative(p.tree_size, "inclusionProof.treeSize")?,
                            hashes: p.hashes,
                            checkpoint: p.checkpoint.map(|c| c.envelope),
                        })
                    })
                    .transpose()?;
                if let Some(t) = e.integrated_time {
                    non_negative(t, "integratedTime")?;
                }
                Ok(TlogEntry {
                    log_index: non_negative(e.log_index, "logIndex")?,
                    log_id: e.log_id.key_id,
                    kind: e.kind_version.kind,
                    version: e.kind_version.version,
                    integrated_time: e.integrated_time,
                    signed_entry_timestamp: e.inclusion_promise.map(|p| p.signed_entry_timestamp),
                    inclusion_proof,
                    canonicalized_body: e.canonicalized_body,
                })
            })
            .collect::<Result<Vec<_>, BundleError>>()?;
        let rfc3161_timestamps = m
            .timestamp_verification_data
            .map(|t| {
                t.rfc3161_timestamps
                    .into_iter()
                    .map(|s| s.signed_timestamp)
                    .collect()
            })
            .unwrap_or_default();
        let content = match (raw.message_signature, raw.dsse_envelope) {
            (Some(ms), None) => Content::MessageSignature {
                digest: ms
                    .message_digest
                    .map(|d| -> Result<MessageDigest, BundleError> {
                        let algorithm = match d.algorithm.as_str() {
                            "SHA2_256" => HashAlg::Sha256,
                            "SHA2_384" => HashAlg::Sha384,
                            "SHA2_512" => HashAlg::Sha512,
                            other => return Err(BundleError::DigestAlgorithm(other.to_owned())),
                        };
                        Ok(MessageDigest {
                            algorithm,
                            digest: d.digest,
                        })
                    })
                    .transpose()?,
                signature: ms.signature,
            },
            (None, Some(env)) => {
                let [sig] = <[RawDsseSignature; 1]>::try_from(env.signatures)
                    .map_err(|s| BundleError::DsseSignatures(s.len()))?;
                Content::Dsse {
                    payload: env.payload,
                    payload_type: env.payload_type,
                    keyid: sig.keyid,
                    signature: sig.sig,
                }
            }
            _ => return Err(BundleError::Content),
        };
        Ok(Bundle {
            version,
            material,
            tlog_entries,
            rfc3161_timestamps,
            content,
        })
    }
}

/// The `publicKey.hint` Sigstore clients write for a key (sigstore-go's and cosign's choice):
/// standard base64 of the SHA-256 of its DER SubjectPublicKeyInfo. A hint proves nothing; the
/// verifier is told which key to trust.
pub fn key_hint(key: &PublicKey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(key.fingerprint())
}

impl Content {
    /// An in-toto statement (`payload`) in a DSSE envelope signed once with `key`, without a
    /// keyid: what cosign and vouch put in a key-signed attestation or image signature bundle.
    pub fn dsse_signed(key: &PrivateKey, payload: Vec<u8>) -> Result<Content, DsseError> {
        let mut envelope = Envelope::new(crate::intoto::PAYLOAD_TYPE, payload);
        envelope.sign(key, key.scheme(), "")?;
        let signature = envelope.signatures.pop().map(|s| s.sig).unwrap_or_default();
        Ok(Content::Dsse {
            payload: envelope.payload,
            payload_type: envelope.payload_type,
            keyid: None,
            signature,
        })
    }
}

impl Bundle {
    /// A v0.3 bundle signed with a key the verifier must be given: `publicKey` material with
    /// its [`key_hint`], and neither log entries nor timestamps (nothing proves when it was
    /// signed).
    pub fn signed_with_key(key: &PublicKey, content: Content) -> Bundle {
        Bundle {
            version: BundleVersion::V0_3,
            material: Material::PublicKey {
                hint: Some(key_hint(key)),
            },
            tlog_entries: Vec::new(),
            rfc3161_timestamps: Vec::new(),
            content,
        }
    }

    /// Serializes the bundle as protobuf JSON, as Sigstore clients read it. Version 0.3 only:
    /// it is the version vouch writes.
    pub fn to_json(&self) -> Result<String, BundleError> {
        use base64::Engine as _;
        use serde_json::{Value, json};
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        if self.version != BundleVersion::V0_3 {
            return Err(BundleError::NotInVersion {
                field: "writing",
                version: self.version.as_str(),
            });
        }
        let mut material = serde_json::Map::new();
        match &self.material {
            Material::PublicKey { hint } => {
                material.insert(
                    "publicKey".into(),
                    json!({ "hint": hint.clone().unwrap_or_default() }),
                );
            }
            Material::Certificate(der) => {
                material.insert("certificate".into(), json!({ "rawBytes": b64(der) }));
            }
            Material::Chain(_) => {
                return Err(BundleError::NotInVersion {
                    field: "x509CertificateChain",
                    version: "0.3",
                });
            }
        }
        let entries: Vec<Value> = self
            .tlog_entries
            .iter()
            .map(|e| {
                let mut entry = json!({
                    "logIndex": e.log_index.to_string(),
                    "logId": { "keyId": b64(&e.log_id) },
                    "kindVersion": { "kind": e.kind, "version": e.version },
                    "canonicalizedBody": b64(&e.canonicalized_body),
                });
                if let Some(t) = e.integrated_time {
                    entry["integratedTime"] = json!(t.to_string());
                }
                if let Some(set) = &e.signed_entry_timestamp {
                    entry["inclusionPromise"] = json!({ "signedEntryTimestamp": b64(set) });
                }
                if let Some(p) = &e.inclusion_proof {
                    let mut proof = json!({
                        "logIndex": p.log_index.to_string(),
                        "rootHash": b64(&p.root_hash),
                        "treeSize": p.tree_size.to_string(),
                        "hashes": p.hashes.iter().map(|h| b64(h)).collect::<Vec<_>>(),
                    });
                    if let Some(c) = &p.checkpoint {
                        proof["checkpoint"] = json!({ "envelope": c });
                    }
                    entry["inclusionProof"] = proof;
                }
                entry
            })
            .collect();
        material.insert("tlogEntries".into(), Value::Array(entries));
        if !self.rfc3161_timestamps.is_empty() {
            let ts: Vec<Value> = self
                .rfc3161_timestamps
                .iter()
                .map(|t| json!({ "signedTimestamp": b64(t) }))
                .collect();
            material.insert(
                "timestampVerificationData".into(),
                json!({ "rfc3161Timestamps": ts }),
            );
        }
        let mut doc = json!({ "mediaType": MEDIA_TYPE_V0_3, "verificationMaterial": Value::Object(material) });
        match &self.content {
            Content::MessageSignature { digest, signature } => {
                let mut ms = json!({ "signature": b64(signature) });
                if let Some(d) = digest {
                    let alg = match d.algorithm {
                        HashAlg::Sha256 => "SHA2_256",
                        HashAlg::Sha384 => "SHA2_384",
                        HashAlg::Sha512 => "SHA2_512",
                    };
                    ms["messageDigest"] = json!({ "algorithm": alg, "digest": b64(&d.digest) });
                }
                doc["messageSignature"] = ms;
            }
            Content::Dsse {
                payload,
                payload_type,
                keyid,
                signature,
            } => {
                let mut sig = json!({ "sig": b64(signature) });
                if let Some(k) = keyid {
                    sig["keyid"] = json!(k);
                }
                doc["dsseEnvelope"] = json!({ "payload": b64(payload), "payloadType": payload_type, "signatures": [sig] });
            }
        }
        serde_json::to_string_pretty(&doc).map_err(|e| BundleError::Json(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conformance(case: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/signing/sigstore-conformance/bundle-verify")
            .join(case)
            .join("bundle.sigstore.json");
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn parses_every_version_and_shape() {
        let table: &[(&str, BundleVersion, &str)] = &[
            ("happy-path-v0.1", BundleVersion::V0_1, "chain"),
            ("happy-path-v0.2", BundleVersion::V0_2, "chain"),
            ("happy-path-v0.3", BundleVersion::V0_3, "certificate"),
            (
                "happy-path-v0.3-new-mediaType",
                BundleVersion::V0_3,
                "certificate",
            ),
            ("managed-key-happy-path", BundleVersion::V0_3, "key"),
            ("rekor2-happy-path", BundleVersion::V0_3, "certificate"),
        ];
        for (case, version, material) in table {
            let b = Bundle::from_json(&conformance(case)).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(b.version, *version, "{case}");
            let got = match b.material {
                Material::Chain(_) => "chain",
                Material::Certificate(_) => "certificate",
                Material::PublicKey { .. } => "key",
            };
            assert_eq!(got, *material, "{case}");
            assert!(!b.tlog_entries.is_empty(), "{case}");
        }
        let dsse = Bundle::from_json(&conformance("happy-path-intoto-in-dsse-v3")).unwrap();
        assert!(
            matches!(dsse.content, Content::Dsse { ref payload_type, .. } if payload_type == "application/vnd.in-toto+json")
        );
        let rekor2 = Bundle::from_json(&conformance("rekor2-happy-path")).unwrap();
        assert_eq!(rekor2.rfc3161_timestamps.len(), 1);
        assert_eq!(rekor2.tlog_entries[0].integrated_time, None);
        assert_eq!(rekor2.tlog_entries[0].version, "0.0.2");
    }

    #[test]
    fn written_bundles_read_back_equal() {
        for case in [
            "happy-path-v0.3",
            "managed-key-happy-path",
            "happy-path-intoto-in-dsse-v3",
            "rekor2-happy-path",
        ] {
            let b = Bundle::from_json(&conformance(case)).unwrap();
            let again = Bundle::from_json(b.to_json().unwrap().as_bytes()).unwrap();
            assert_eq!(again, b, "{case}");
        }
        let old = Bundle::from_json(&conformance("happy-path-v0.1")).unwrap();
        assert!(old.to_json().is_err(), "only v0.3 is written");
    }

    #[test]
    fn key_hints_are_what_sigstore_clients_write() {
        // The conformance suite's managed-key bundle, written by a Sigstore client for key.pub.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/signing/sigstore-conformance/bundle-verify/managed-key-happy-path");
        let pem = std::fs::read_to_string(dir.join("key.pub")).unwrap();
        let key = PublicKey::from_pem(&pem).unwrap();
        let theirs = Bundle::from_json(&conformance("managed-key-happy-path")).unwrap();
        let Material::PublicKey { hint: Some(hint) } = &theirs.material else {
            panic!("a key hint: {:?}", theirs.material)
        };
        assert_eq!(&key_hint(&key), hint);

        let ours = Bundle::signed_with_key(&key, theirs.content.clone());
        assert_eq!(ours.material, theirs.material);
        assert!(ours.tlog_entries.is_empty() && ours.rfc3161_timestamps.is_empty());
        let again = Bundle::from_json(ours.to_json().unwrap().as_bytes()).unwrap();
        assert_eq!(again, ours);
    }

    /// What a refused bundle's error must be.
    type Expect = fn(&BundleError) -> bool;

    #[test]
    fn structural_failures_are_parse_errors() {
        let table: &[(&str, Expect)] = &[
            ("bundle-unknown-version_fail", |e| {
                matches!(e, BundleError::MediaType(_))
            }),
            ("bundle-malformed-json_fail", |e| {
                matches!(e, BundleError::Json(_))
            }),
            ("bundle-empty-certificate-chain_fail", |e| {
                matches!(e, BundleError::EmptyChain)
            }),
            ("bundle-negative-log-index_fail", |e| {
                matches!(e, BundleError::Negative { .. })
            }),
            ("bundle-invalid-base64-signature_fail", |e| {
                matches!(e, BundleError::Json(_))
            }),
        ];
        for (case, want) in table {
            let err = Bundle::from_json(&conformance(case)).unwrap_err();
            assert!(want(&err), "{case}: {err}");
        }
    }
}
