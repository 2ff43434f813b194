//! Sigstore trusted roots (`trusted_root.json`, protobuf-specs `TrustedRoot`): the transparency
//! logs, certificate authorities, CT logs and timestamp authorities a verifier trusts, each with
//! its validity window. Parsed once; keys are parsed up front and reused for every verification.

use serde::Deserialize;

use crate::keys::{HashAlg, KeyKind, PublicKey, Scheme};
use crate::proto_json;
use crate::time::{Timestamp, Validity};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustRootError {
    #[error("trusted root is not valid JSON for its type: {0}")]
    Json(String),
    #[error("unsupported trusted root media type {0:?}")]
    MediaType(String),
}

/// A transparency log or CT log the root trusts.
#[derive(Debug, Clone)]
pub struct LogInstance {
    pub base_url: String,
    pub log_id: Vec<u8>,
    pub key: PublicKey,
    /// The scheme the log signs with, from `keyDetails`.
    pub scheme: Scheme,
    pub validity: Validity,
}

/// A certificate authority (Fulcio) or timestamp authority: its chain, leaf first, as DER.
#[derive(Debug, Clone)]
pub struct Authority {
    pub uri: String,
    pub subject: String,
    pub chain: Vec<Vec<u8>>,
    pub validity: Validity,
}

/// Something in the root that cannot be used, and why (kept for messages, never trusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub what: String,
    pub why: String,
}

#[derive(Debug, Clone, Default)]
pub struct TrustedRoot {
    pub tlogs: Vec<LogInstance>,
    pub ctlogs: Vec<LogInstance>,
    pub certificate_authorities: Vec<Authority>,
    pub timestamp_authorities: Vec<Authority>,
    pub skipped: Vec<Skipped>,
}

const MEDIA_TYPES: [&str; 2] = [
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawAuthority>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: RawPublicKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    #[serde(deserialize_with = "proto_json::bytes")]
    key_id: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    #[serde(default, deserialize_with = "proto_json::opt_bytes")]
    raw_bytes: Option<Vec<u8>>,
    key_details: Option<String>,
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
struct RawValidity {
    #[serde(default, deserialize_with = "proto_json::opt_timestamp")]
    start: Option<Timestamp>,
    #[serde(default, deserialize_with = "proto_json::opt_timestamp")]
    end: Option<Timestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthority {
    #[serde(default)]
    subject: Option<serde_json::Value>,
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    #[serde(deserialize_with = "proto_json::bytes")]
    raw_bytes: Vec<u8>,
}

/// The signature scheme protobuf-specs' `PublicKeyDetails` names, and the key kind it implies.
pub fn scheme_for_key_details(details: &str) -> Option<(Scheme, Option<KeyKind>)> {
    use HashAlg::*;
    Some(match details {
        "PKIX_ECDSA_P256_SHA_256" => (Scheme::Ecdsa(Sha256), Some(KeyKind::EcdsaP256)),
        "PKIX_ECDSA_P384_SHA_384" => (Scheme::Ecdsa(Sha384), Some(KeyKind::EcdsaP384)),
        "PKIX_ECDSA_P521_SHA_512" => (Scheme::Ecdsa(Sha512), Some(KeyKind::EcdsaP521)),
        "PKIX_ED25519" => (Scheme::Ed25519, Some(KeyKind::Ed25519)),
        "PKIX_ED25519_PH" => (Scheme::Ed25519ph, Some(KeyKind::Ed25519)),
        "PKIX_RSA_PKCS1V15_2048_SHA256"
        | "PKIX_RSA_PKCS1V15_3072_SHA256"
        | "PKIX_RSA_PKCS1V15_4096_SHA256" => (Scheme::RsaPkcs1(Sha256), Some(KeyKind::Rsa)),
        "PKIX_RSA_PSS_2048_SHA256" | "PKIX_RSA_PSS_3072_SHA256" | "PKIX_RSA_PSS_4096_SHA256" => {
            (Scheme::RsaPss(Sha256), Some(KeyKind::Rsa))
        }
        _ => return None,
    })
}

fn validity(raw: Option<RawValidity>) -> Result<Validity, String> {
    let raw = raw.ok_or("no validFor")?;
    let start = raw.start.ok_or("validFor has no start")?;
    if let Some(end) = raw.end
        && end < start
    {
        return Err("validFor ends before it starts".into());
    }
    Ok(Validity {
        start,
        end: raw.end,
    })
}

fn subject_text(v: &Option<serde_json::Value>) -> String {
    let Some(v) = v else { return String::new() };
    let field = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    match (field("organization"), field("commonName")) {
        (o, c) if o.is_empty() => c,
        (o, c) if c.is_empty() => o,
        (o, c) => format!("{o}/{c}"),
    }
}

impl TrustedRoot {
    /// Parses a trusted root. Malformed JSON is an error; a log or authority that cannot be
    /// used (unknown key type, no validity start, ...) is left out and listed in `skipped`.
    pub fn from_json(json: &[u8]) -> Result<TrustedRoot, TrustRootError> {
        let raw: RawRoot =
            serde_json::from_slice(json).map_err(|e| TrustRootError::Json(e.to_string()))?;
        if let Some(mt) = &raw.media_type
            && !MEDIA_TYPES.contains(&mt.as_str())
        {
            return Err(TrustRootError::MediaType(mt.clone()));
        }
        let mut root = TrustedRoot::default();
        for (list, out, what) in [
            (raw.tlogs, &mut root.tlogs, "tlog"),
            (raw.ctlogs, &mut root.ctlogs, "ctlog"),
        ] {
            for log in list {
                let name = format!("{what} {}", log.base_url);
                match resolve_log(log) {
                    Ok(l) => out.push(l),
                    Err(why) => root.skipped.push(Skipped { what: name, why }),
                }
            }
        }
        for (list, out, what) in [
            (
                raw.certificate_authorities,
                &mut root.certificate_authorities,
                "certificate authority",
            ),
            (
                raw.timestamp_authorities,
                &mut root.timestamp_authorities,
                "timestamp authority",
            ),
        ] {
            for ca in list {
                let name = format!("{what} {}", ca.uri);
                let chain: Vec<Vec<u8>> = ca
                    .cert_chain
                    .certificates
                    .into_iter()
                    .map(|c| c.raw_bytes)
                    .collect();
                if chain.is_empty() {
                    root.skipped.push(Skipped {
                        what: name,
                        why: "empty certificate chain".into(),
                    });
                    continue;
                }
                match validity(ca.valid_for) {
                    Ok(validity) => out.push(Authority {
                        uri: ca.uri,
                        subject: subject_text(&ca.subject),
                        chain,
                        validity,
                    }),
                    Err(why) => root.skipped.push(Skipped { what: name, why }),
                }
            }
        }
        Ok(root)
    }

    /// The transparency log with this log id.
    pub fn tlog(&self, log_id: &[u8]) -> Option<&LogInstance> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }

    /// The CT log with this log id.
    pub fn ctlog(&self, log_id: &[u8]) -> Option<&LogInstance> {
        self.ctlogs.iter().find(|l| l.log_id == log_id)
    }
}

fn resolve_log(log: RawLog) -> Result<LogInstance, String> {
    let validity = validity(log.public_key.valid_for)?;
    let details = log.public_key.key_details.ok_or("no keyDetails")?;
    let (scheme, kind) = scheme_for_key_details(&details)
        .ok_or_else(|| format!("unsupported keyDetails {details}"))?;
    let raw = log.public_key.raw_bytes.ok_or("no public key")?;
    let key = PublicKey::from_spki_der(&raw).map_err(|e| e.to_string())?;
    if kind.is_some_and(|k| k != key.kind()) {
        return Err(format!(
            "keyDetails {details} does not match a {:?} key",
            key.kind()
        ));
    }
    Ok(LogInstance {
        base_url: log.base_url,
        log_id: log.log_id.key_id,
        key,
        scheme,
        validity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(path: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/signing")
            .join(path);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn production_root() {
        let root = TrustedRoot::from_json(&shared("trust/public-good-trusted_root.json")).unwrap();
        assert_eq!(root.tlogs.len(), 2, "{:?}", root.skipped);
        assert_eq!(root.ctlogs.len(), 2);
        assert_eq!(root.certificate_authorities.len(), 2);
        assert_eq!(root.timestamp_authorities.len(), 1);
        assert!(root.skipped.is_empty(), "{:?}", root.skipped);
        // The log id of rekor.sigstore.dev is the SHA-256 of its key.
        let rekor = &root.tlogs[0];
        assert_eq!(rekor.log_id, rekor.key.fingerprint());
        assert_eq!(rekor.scheme, Scheme::Ecdsa(HashAlg::Sha256));
        assert_eq!(root.tlogs[1].scheme, Scheme::Ed25519);
        assert!(root.tlog(&rekor.log_id).is_some());
        assert_eq!(
            root.certificate_authorities[0]
                .validity
                .end
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2022-12-31T23:59:59.999Z")
        );
    }

    #[test]
    fn every_fixture_root_parses() {
        for path in [
            "trust/staging-trusted_root.json",
            "trust/sigstore-go-public-good-trusted_root.json",
            "trust/cosign-trusted_root_pgi.json",
        ] {
            let root = TrustedRoot::from_json(&shared(path)).unwrap();
            assert!(!root.tlogs.is_empty(), "{path}");
        }
    }

    #[test]
    fn a_log_without_validity_start_is_not_trusted() {
        let root = TrustedRoot::from_json(&shared(
            "sigstore-conformance/bundle-verify/trust-root-tlog-missing-validity-start_fail/trusted_root.json",
        ))
        .unwrap();
        assert!(
            root.skipped.iter().any(|s| s.why.contains("start")),
            "{:?}",
            root.skipped
        );
    }

    #[test]
    fn rejects_malformed_roots() {
        assert!(matches!(
            TrustedRoot::from_json(b"{"),
            Err(TrustRootError::Json(_))
        ));
        assert!(matches!(
            TrustedRoot::from_json(br#"{"mediaType":"application/x-other"}"#),
            Err(TrustRootError::MediaType(_))
        ));
        assert!(matches!(
            TrustedRoot::from_json(
                br#"{"tlogs":[{"publicKey":{"rawBytes":"!!"},"logId":{"keyId":"AA=="}}]}"#
            ),
            Err(TrustRootError::Json(_))
        ));
    }
}
