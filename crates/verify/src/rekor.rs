//! Rekor log entries: checks that an entry's canonicalized body records exactly what the
//! bundle claims (same digest, same signature, same signer), for every entry kind real bundles
//! carry, and verification of Rekor v1's signed entry timestamp (SET). Inclusion proofs and
//! checkpoints are the Merkle and note modules' work.

use serde_json::Value;

use crate::keys::{self, PublicKey, hex};
use crate::pem;
use crate::proto_json::decode_bytes;
use crate::trust_root::LogInstance;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RekorError {
    #[error("unsupported log entry kind {kind} {version}")]
    UnknownKind { kind: String, version: String },
    #[error("log entry body is not what its kind requires: {0}")]
    Body(String),
    #[error("log entry body kind {body} does not match the bundle's {bundle}")]
    KindMismatch { body: String, bundle: String },
    #[error("log entry records a different {0} than the bundle")]
    Mismatch(&'static str),
    #[error("log entry of kind {0} cannot record this kind of bundle content")]
    WrongContent(String),
    #[error("log entry has no signed entry timestamp")]
    NoSet,
    #[error("log entry has no integrated time")]
    NoIntegratedTime,
    #[error("signed entry timestamp does not verify with the log's key")]
    BadSet,
}

/// Entry kinds this module checks.
const KNOWN_KINDS: [(&str, &str); 6] = [
    ("hashedrekord", "0.0.1"),
    ("rekord", "0.0.1"),
    ("hashedrekord", "0.0.2"),
    ("dsse", "0.0.1"),
    ("dsse", "0.0.2"),
    ("intoto", "0.0.2"),
];

/// Who signed, as the bundle and the verifier establish it.
#[derive(Clone, Copy, Debug)]
pub enum Signer<'a> {
    /// The signing certificate's DER.
    Certificate(&'a [u8]),
    Key(&'a PublicKey),
}

/// What was signed, as the entry must record it.
#[derive(Clone, Copy, Debug)]
pub enum Signed<'a> {
    /// A message signature over an artifact with this SHA-256.
    Message {
        artifact_sha256: &'a [u8],
        signature: &'a [u8],
    },
    /// A DSSE envelope: its payload and the SHA-256 of its PAE (what was signed).
    Dsse {
        payload: &'a [u8],
        pae_sha256: &'a [u8],
        signature: &'a [u8],
    },
}

fn body_error(what: &str) -> RekorError {
    RekorError::Body(what.to_owned())
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value, RekorError> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .ok_or_else(|| body_error(&format!("missing {}", path.join("."))))
}

fn string<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, RekorError> {
    field(v, path)?
        .as_str()
        .ok_or_else(|| body_error(&format!("{} is not a string", path.join("."))))
}

fn b64(v: &Value, path: &[&str]) -> Result<Vec<u8>, RekorError> {
    decode_bytes(string(v, path)?)
        .ok_or_else(|| body_error(&format!("{} is not base64", path.join("."))))
}

/// A `{algorithm: "sha256", value: hex}` hash must name `want`.
fn check_hex_sha256(
    v: &Value,
    path: &[&str],
    want: &[u8],
    what: &'static str,
) -> Result<(), RekorError> {
    let alg = string(v, &[path, &["algorithm"]].concat())?;
    let value = string(v, &[path, &["value"]].concat())?;
    if alg != "sha256" {
        return Err(body_error(&format!("unsupported hash algorithm {alg}")));
    }
    if !value.eq_ignore_ascii_case(&hex(want)) {
        return Err(RekorError::Mismatch(what));
    }
    Ok(())
}

/// A `{algorithm: "SHA2_256", digest: base64}` hash must name `want`.
fn check_proto_sha256(
    v: &Value,
    path: &[&str],
    want: &[u8],
    what: &'static str,
) -> Result<(), RekorError> {
    let alg = string(v, &[path, &["algorithm"]].concat())?;
    if alg != "SHA2_256" {
        return Err(body_error(&format!("unsupported hash algorithm {alg}")));
    }
    if b64(v, &[path, &["digest"]].concat())? != want {
        return Err(RekorError::Mismatch(what));
    }
    Ok(())
}

/// A base64 PEM (certificate or public key) must be the signer.
fn check_pem_signer(pem_b64: &[u8], signer: Signer<'_>) -> Result<(), RekorError> {
    let text = std::str::from_utf8(pem_b64).map_err(|_| body_error("signer PEM is not text"))?;
    let block = pem::parse(text).map_err(|e| body_error(&e.to_string()))?;
    let same = match (block.label.as_str(), signer) {
        ("CERTIFICATE", Signer::Certificate(der)) => block.data == der,
        ("PUBLIC KEY", Signer::Key(key)) => block.data == key.spki_der(),
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(RekorError::Mismatch("signer"))
    }
}

/// A protobuf `Verifier` ({x509Certificate: {rawBytes}} or {publicKey: {rawBytes}}) must be the
/// signer.
fn check_proto_verifier(v: &Value, path: &[&str], signer: Signer<'_>) -> Result<(), RekorError> {
    let verifier = field(v, path)?;
    let same = match signer {
        Signer::Certificate(der) => {
            verifier.get("x509Certificate").is_some()
                && b64(verifier, &["x509Certificate", "rawBytes"])? == der
        }
        Signer::Key(key) => {
            verifier.get("publicKey").is_some()
                && b64(verifier, &["publicKey", "rawBytes"])? == key.spki_der()
        }
    };
    if same {
        Ok(())
    } else {
        Err(RekorError::Mismatch("signer"))
    }
}

/// Checks that `entry_kind`/`entry_version` and the canonicalized body record `signed` by
/// `signer`.
pub fn check_body(
    entry_kind: &str,
    entry_version: &str,
    body: &[u8],
    signed: Signed<'_>,
    signer: Signer<'_>,
) -> Result<(), RekorError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| body_error(&e.to_string()))?;
    let (kind, version) = (string(&v, &["kind"])?, string(&v, &["apiVersion"])?);
    if kind != entry_kind || version != entry_version {
        return Err(RekorError::KindMismatch {
            body: format!("{kind} {version}"),
            bundle: format!("{entry_kind} {entry_version}"),
        });
    }
    let wrong = || RekorError::WrongContent(format!("{kind} {version}"));
    match (kind, version, signed) {
        // Message signatures in Rekor v1, and classic cosign signatures (`rekord`).
        (
            "hashedrekord" | "rekord",
            "0.0.1",
            Signed::Message {
                artifact_sha256,
                signature,
            },
        ) => {
            check_hex_sha256(
                &v,
                &["spec", "data", "hash"],
                artifact_sha256,
                "artifact digest",
            )?;
            if b64(&v, &["spec", "signature", "content"])? != signature {
                return Err(RekorError::Mismatch("signature"));
            }
            check_pem_signer(
                &b64(&v, &["spec", "signature", "publicKey", "content"])?,
                signer,
            )
        }
        // Rekor v2: message signatures over the artifact, DSSE over the envelope's PAE.
        ("hashedrekord", "0.0.2", signed) => {
            let spec = &["spec", "hashedRekordV002"][..];
            let (digest, signature) = match signed {
                Signed::Message {
                    artifact_sha256,
                    signature,
                } => (artifact_sha256, signature),
                Signed::Dsse {
                    pae_sha256,
                    signature,
                    ..
                } => (pae_sha256, signature),
            };
            check_proto_sha256(&v, &[spec, &["data"]].concat(), digest, "signed digest")?;
            if b64(&v, &[spec, &["signature", "content"]].concat())? != signature {
                return Err(RekorError::Mismatch("signature"));
            }
            check_proto_verifier(&v, &[spec, &["signature", "verifier"]].concat(), signer)
        }
        (
            "dsse",
            "0.0.1",
            Signed::Dsse {
                payload, signature, ..
            },
        ) => {
            check_hex_sha256(
                &v,
                &["spec", "payloadHash"],
                &keys::sha256(payload),
                "payload digest",
            )?;
            let sigs = field(&v, &["spec", "signatures"])?
                .as_array()
                .ok_or_else(|| body_error("spec.signatures is not a list"))?;
            let [only] = sigs.as_slice() else {
                return Err(RekorError::Mismatch("signature count"));
            };
            if b64(only, &["signature"])? != signature {
                return Err(RekorError::Mismatch("signature"));
            }
            check_pem_signer(&b64(only, &["verifier"])?, signer)
        }
        (
            "dsse",
            "0.0.2",
            Signed::Dsse {
                payload, signature, ..
            },
        ) => {
            let spec = &["spec", "dsseV002"][..];
            check_proto_sha256(
                &v,
                &[spec, &["payloadHash"]].concat(),
                &keys::sha256(payload),
                "payload digest",
            )?;
            let sigs = field(&v, &[spec, &["signatures"]].concat())?
                .as_array()
                .ok_or_else(|| body_error("signatures is not a list"))?;
            let [only] = sigs.as_slice() else {
                return Err(RekorError::Mismatch("signature count"));
            };
            if b64(only, &["content"])? != signature {
                return Err(RekorError::Mismatch("signature"));
            }
            check_proto_verifier(only, &["verifier"], signer)
        }
        // in-toto 0.0.2 stores the envelope with its payload and signatures base64-encoded twice.
        (
            "intoto",
            "0.0.2",
            Signed::Dsse {
                payload, signature, ..
            },
        ) => {
            let content = &["spec", "content"][..];
            check_hex_sha256(
                &v,
                &[content, &["payloadHash"]].concat(),
                &keys::sha256(payload),
                "payload digest",
            )?;
            let sigs = field(&v, &[content, &["envelope", "signatures"]].concat())?
                .as_array()
                .ok_or_else(|| body_error("envelope.signatures is not a list"))?;
            let [only] = sigs.as_slice() else {
                return Err(RekorError::Mismatch("signature count"));
            };
            let once = b64(only, &["sig"])?;
            let twice = std::str::from_utf8(&once)
                .ok()
                .and_then(decode_bytes)
                .ok_or_else(|| body_error("envelope signature is not base64 twice"))?;
            if twice != signature {
                return Err(RekorError::Mismatch("signature"));
            }
            check_pem_signer(&b64(only, &["publicKey"])?, signer)
        }
        _ if KNOWN_KINDS.contains(&(kind, version)) => Err(wrong()),
        _ => Err(RekorError::UnknownKind {
            kind: kind.to_owned(),
            version: version.to_owned(),
        }),
    }
}

/// Verifies a Rekor v1 signed entry timestamp: the log's signature over the RFC 8785 canonical
/// JSON of `{body, integratedTime, logID, logIndex}`.
pub fn verify_set(
    body: &[u8],
    integrated_time: Option<i64>,
    log_index: u64,
    set: Option<&[u8]>,
    log: &LogInstance,
) -> Result<(), RekorError> {
    let set = set.ok_or(RekorError::NoSet)?;
    let time = integrated_time.ok_or(RekorError::NoIntegratedTime)?;
    use base64::Engine as _;
    // Keys in lexicographic order, no whitespace; every value is a plain number or a string of
    // base64 or hex characters, so this is the canonical form.
    let canonical = format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        base64::engine::general_purpose::STANDARD.encode(body),
        time,
        hex(&log.log_id),
        log_index
    );
    log.key
        .verify(log.scheme, canonical.as_bytes(), set)
        .map_err(|_| RekorError::BadSet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{Bundle, Content};
    use crate::trust_root::TrustedRoot;

    fn shared(path: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/signing")
            .join(path);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn case(name: &str) -> Bundle {
        Bundle::from_json(&shared(&format!(
            "sigstore-conformance/bundle-verify/{name}/bundle.sigstore.json"
        )))
        .unwrap()
    }

    fn artifact(name: &str) -> Vec<u8> {
        let dir = format!("sigstore-conformance/bundle-verify/{name}/artifact");
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/signing")
            .join(&dir);
        if p.exists() {
            shared(&dir)
        } else {
            shared("sigstore-conformance/bundle-verify/a.txt")
        }
    }

    fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .into_bytes();
        out.extend_from_slice(payload);
        out
    }

    /// Checks a conformance case's single entry body against its own bundle.
    fn check(name: &str) -> Result<(), RekorError> {
        let b = case(name);
        let entry = &b.tlog_entries[0];
        let leaf = b.material.leaf().expect("certificate bundle");
        let art = keys::sha256(&artifact(name));
        let pae_digest;
        let signed = match &b.content {
            Content::MessageSignature { signature, .. } => Signed::Message {
                artifact_sha256: &art,
                signature,
            },
            Content::Dsse {
                payload,
                payload_type,
                signature,
                ..
            } => {
                pae_digest = keys::sha256(&pae(payload_type, payload));
                Signed::Dsse {
                    payload,
                    pae_sha256: &pae_digest,
                    signature,
                }
            }
        };
        check_body(
            &entry.kind,
            &entry.version,
            &entry.canonicalized_body,
            signed,
            Signer::Certificate(leaf),
        )
    }

    #[test]
    fn bodies_of_good_bundles_match() {
        for name in [
            "happy-path-v0.1",
            "happy-path-v0.3",
            "happy-path-intoto-in-dsse-v3",
            "rekor2-happy-path",
            "rekor2-dsse-happy-path",
            "intoto-with-custom-trust-root",
        ] {
            check(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn bodies_of_tampered_bundles_do_not() {
        for name in [
            "wrong-hashedrekord-entry_fail",
            "wrong-hashedrekord-artifact_fail",
            "wrong-hashedrekord-cert-and-sig_fail",
            "intoto-log-entry-mismatch_fail",
            "dsse-mismatch-sig_fail",
            "rekor2-dsse-mismatch-sig_fail",
        ] {
            assert!(check(name).is_err(), "{name} must not match");
        }
    }

    #[test]
    fn signed_entry_timestamps() {
        let root = TrustedRoot::from_json(&shared("trust/public-good-trusted_root.json")).unwrap();
        for (name, ok) in [
            ("happy-path-v0.3", true),
            ("happy-path-v0.1", true),
            ("set-invalid-signature_fail", false),
        ] {
            let b = case(name);
            let e = &b.tlog_entries[0];
            let log = root.tlog(&e.log_id).expect("log in the root");
            let got = verify_set(
                &e.canonicalized_body,
                e.integrated_time,
                e.log_index,
                e.signed_entry_timestamp.as_deref(),
                log,
            );
            assert_eq!(got.is_ok(), ok, "{name}: {got:?}");
        }
    }
}
