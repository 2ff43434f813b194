//! DSSE, the Dead Simple Signing Envelope (secure-systems-lab/dsse v1.0.2): the JSON envelope,
//! the pre-authentication encoding (PAE), signing, and verification of a threshold of distinct
//! trusted keys. The `keyid` of a signature is an unauthenticated hint: it only orders the keys
//! tried, and never decides whether a signature counts.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};

use crate::der::{self, tag};
use crate::keys::{KeyKind, PrivateKey, PublicKey, Scheme, SignatureError};

/// Why an envelope could not be read, signed or verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DsseError {
    #[error("the envelope is not valid DSSE JSON")]
    Json(#[source] serde_json::Error),
    #[error("the envelope's {0} is not valid base64")]
    Base64(Field),
    #[error("the envelope has no signatures")]
    NoSignatures,
    #[error("the signature threshold must be at least 1")]
    ZeroThreshold,
    #[error("{scheme} cannot be used with a {kind:?} key")]
    SchemeMismatch { scheme: Scheme, kind: KeyKind },
    #[error("{valid} distinct trusted keys signed the envelope, {threshold} needed")]
    Threshold { valid: usize, threshold: usize },
    #[error("the payload type is {found:?}, expected {expected:?}")]
    PayloadType { expected: String, found: String },
    #[error("cannot sign the envelope")]
    Signing(#[source] SignatureError),
}

/// A base64 field of the envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Payload,
    Signature,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Payload => "payload",
            Field::Signature => "signature",
        })
    }
}

/// `PAE(type, body)`: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in decimal
/// without leading zeros. This, not the payload, is what every signature covers.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let (t, b) = (payload_type.len().to_string(), payload.len().to_string());
    let mut out = Vec::with_capacity(10 + t.len() + b.len() + payload_type.len() + payload.len());
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(t.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(b.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// A decoded envelope: the payload bytes exactly as signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub payload: Vec<u8>,
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

/// One signature. An unset `keyid` reads as empty, as the spec says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub keyid: String,
    pub sig: Vec<u8>,
}

/// A key the verifier trusts, the scheme it signs with, and the key id signers may name it by.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    pub key: PublicKey,
    pub scheme: Scheme,
    pub keyid: Option<String>,
}

impl TrustedKey {
    pub fn new(key: PublicKey, scheme: Scheme) -> TrustedKey {
        TrustedKey {
            key,
            scheme,
            keyid: None,
        }
    }

    pub fn with_keyid(mut self, keyid: impl Into<String>) -> TrustedKey {
        self.keyid = Some(keyid.into());
        self
    }
}

/// What a verification requires.
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    /// The one payload type the caller can interpret (compared exactly: it is case-sensitive).
    pub payload_type: &'a str,
    pub keys: &'a [TrustedKey],
    /// How many distinct keys must have signed; at least 1.
    pub threshold: usize,
}

/// A verified envelope: the payload that was verified, never a re-parse of the envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified<'a> {
    pub payload_type: &'a str,
    pub payload: &'a [u8],
    /// Indices into [`Policy::keys`] of the distinct keys whose signatures verified.
    pub keys: Vec<usize>,
}

impl Envelope {
    /// An envelope without signatures yet.
    pub fn new(payload_type: impl Into<String>, payload: Vec<u8>) -> Envelope {
        Envelope {
            payload,
            payload_type: payload_type.into(),
            signatures: Vec::new(),
        }
    }

    /// Parses the JSON envelope. `payload`, `payloadType`, `signatures` and each `sig` must be
    /// present (possibly empty); `keyid` may be unset; unknown fields are ignored, as the spec
    /// requires; base64 may be standard or URL-safe, padded or not.
    pub fn parse(json: &[u8]) -> Result<Envelope, DsseError> {
        let raw: RawEnvelope = serde_json::from_slice(json).map_err(DsseError::Json)?;
        Envelope::try_from(raw)
    }

    /// The JSON envelope: standard padded base64, and `keyid` always written (securesystemslib
    /// requires it).
    pub fn to_json(&self) -> String {
        // Serializing strings and vectors of strings cannot fail.
        serde_json::to_string(&RawEnvelope::from(self)).expect("an envelope serializes")
    }

    /// The bytes the signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Signs the envelope with `key` under `scheme` and appends the signature. ECDSA signatures
    /// are ASN.1 DER, as Sigstore, cosign and securesystemslib write them; RSA may be PKCS#1
    /// v1.5 or PSS (securesystemslib's default).
    pub fn sign(&mut self, key: &PrivateKey, scheme: Scheme, keyid: &str) -> Result<(), DsseError> {
        let message = self.pae();
        let sig = if scheme == key.scheme() {
            key.sign(&message)
        } else if let (Scheme::RsaPss(hash), KeyKind::Rsa) = (scheme, key.kind()) {
            key.sign_rsa_pss(hash, &message)
        } else {
            return Err(DsseError::SchemeMismatch {
                scheme,
                kind: key.kind(),
            });
        }
        .map_err(DsseError::Signing)?;
        self.signatures.push(Signature {
            keyid: keyid.to_owned(),
            sig,
        });
        Ok(())
    }

    /// Verifies that at least `policy.threshold` distinct trusted keys signed the envelope, then
    /// that the payload type is the expected one. A key counts once however many signatures it
    /// made; an envelope without signatures is never verified.
    pub fn verify<'a>(&'a self, policy: &Policy<'_>) -> Result<Verified<'a>, DsseError> {
        if policy.threshold == 0 {
            return Err(DsseError::ZeroThreshold);
        }
        for k in policy.keys {
            if !scheme_fits(k.scheme, k.key.kind()) {
                return Err(DsseError::SchemeMismatch {
                    scheme: k.scheme,
                    kind: k.key.kind(),
                });
            }
        }
        if self.signatures.is_empty() {
            return Err(DsseError::NoSignatures);
        }
        let message = self.pae();
        let mut accepted: Vec<usize> = Vec::new();
        for signature in &self.signatures {
            if accepted.len() >= policy.threshold {
                break;
            }
            // Keys named by the hint are tried first; every key is tried.
            let hinted = |i: &usize| {
                !signature.keyid.is_empty()
                    && policy.keys[*i].keyid.as_deref() == Some(signature.keyid.as_str())
            };
            let (first, rest): (Vec<usize>, Vec<usize>) =
                (0..policy.keys.len()).partition(|i| hinted(i));
            for i in first.into_iter().chain(rest) {
                let candidate = &policy.keys[i];
                if accepted
                    .iter()
                    .any(|&a| policy.keys[a].key == candidate.key)
                {
                    continue;
                }
                if verify_signature(candidate, &message, &signature.sig) {
                    accepted.push(i);
                    break;
                }
            }
        }
        if accepted.len() < policy.threshold {
            return Err(DsseError::Threshold {
                valid: accepted.len(),
                threshold: policy.threshold,
            });
        }
        if self.payload_type != policy.payload_type {
            return Err(DsseError::PayloadType {
                expected: policy.payload_type.to_owned(),
                found: self.payload_type.clone(),
            });
        }
        Ok(Verified {
            payload_type: &self.payload_type,
            payload: &self.payload,
            keys: accepted,
        })
    }
}

fn scheme_fits(scheme: Scheme, kind: KeyKind) -> bool {
    matches!(
        (scheme, kind),
        (
            Scheme::Ecdsa(_),
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::EcdsaP521
        ) | (Scheme::Ed25519 | Scheme::Ed25519ph, KeyKind::Ed25519)
            | (Scheme::RsaPkcs1(_) | Scheme::RsaPss(_), KeyKind::Rsa)
    )
}

/// One signature under one key. An ECDSA signature that is a DER `ECDSA-Sig-Value` is read
/// as DER only; otherwise, if it is exactly twice the curve's field size, as raw `r || s` (the
/// DSSE spec's own test vector). So each byte string has one reading.
fn verify_signature(key: &TrustedKey, message: &[u8], sig: &[u8]) -> bool {
    if let Scheme::Ecdsa(_) = key.scheme
        && !is_der_ecdsa_signature(sig)
    {
        let Some(der) = raw_ecdsa_to_der(key.key.kind(), sig) else {
            return false;
        };
        return key.key.verify(key.scheme, message, &der).is_ok();
    }
    key.key.verify(key.scheme, message, sig).is_ok()
}

fn is_der_ecdsa_signature(sig: &[u8]) -> bool {
    let Ok(seq) = der::parse_single(sig, tag::SEQUENCE) else {
        return false;
    };
    let mut r = seq.reader();
    let mut integer = || {
        r.read(tag::INTEGER)
            .and_then(|t| t.unsigned_integer().map(drop))
    };
    integer().is_ok() && integer().is_ok() && r.finish().is_ok()
}

/// Raw `r || s` of the key's curve as DER, or `None` if the length is not the curve's.
fn raw_ecdsa_to_der(kind: KeyKind, sig: &[u8]) -> Option<Vec<u8>> {
    let n = match kind {
        KeyKind::EcdsaP256 => 32,
        KeyKind::EcdsaP384 => 48,
        KeyKind::EcdsaP521 => 66,
        _ => return None,
    };
    if sig.len() != 2 * n {
        return None;
    }
    let integer = |half: &[u8]| {
        let skip = half.iter().take_while(|&&b| b == 0).count();
        let mut v = Vec::with_capacity(half.len() + 1);
        match half[skip..].first() {
            None => v.push(0),
            Some(&b) if b & 0x80 != 0 => v.push(0),
            Some(_) => {}
        }
        v.extend_from_slice(&half[skip..]);
        der::encode(tag::INTEGER, &v)
    };
    Some(der::encode(
        tag::SEQUENCE,
        &[integer(&sig[..n]), integer(&sig[n..])].concat(),
    ))
}

/// Padding optional, trailing bits must be zero (so a symbol cannot hide extra bits).
const DECODE: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, DECODE);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, DECODE);

/// Standard or URL-safe base64 (one alphabet throughout), padded or not.
fn decode_base64(text: &str, field: Field) -> Result<Vec<u8>, DsseError> {
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .map_err(|_| DsseError::Base64(field))
}

/// The envelope as JSON carries it.
#[derive(Serialize, Deserialize)]
struct RawEnvelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<RawSignature>,
}

#[derive(Serialize, Deserialize)]
struct RawSignature {
    #[serde(default)]
    keyid: String,
    sig: String,
}

impl TryFrom<RawEnvelope> for Envelope {
    type Error = DsseError;

    fn try_from(raw: RawEnvelope) -> Result<Envelope, DsseError> {
        let signatures = raw
            .signatures
            .into_iter()
            .map(|s| {
                Ok(Signature {
                    keyid: s.keyid,
                    sig: decode_base64(&s.sig, Field::Signature)?,
                })
            })
            .collect::<Result<_, DsseError>>()?;
        Ok(Envelope {
            payload: decode_base64(&raw.payload, Field::Payload)?,
            payload_type: raw.payload_type,
            signatures,
        })
    }
}

impl From<&Envelope> for RawEnvelope {
    fn from(e: &Envelope) -> RawEnvelope {
        let b64 = base64::engine::general_purpose::STANDARD;
        RawEnvelope {
            payload: b64.encode(&e.payload),
            payload_type: e.payload_type.clone(),
            signatures: e
                .signatures
                .iter()
                .map(|s| RawSignature {
                    keyid: s.keyid.clone(),
                    sig: b64.encode(&s.sig),
                })
                .collect(),
        }
    }
}

impl Serialize for Envelope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawEnvelope::from(self).serialize(serializer)
    }
}

/// For envelopes embedded in other JSON documents (Sigstore bundles); same rules as
/// [`Envelope::parse`].
impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Envelope, D::Error> {
        let raw = RawEnvelope::deserialize(deserializer)?;
        Envelope::try_from(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::HashAlg;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/signing"
    );

    fn fixture(path: &str) -> Vec<u8> {
        let path = format!("{FIXTURES}/{path}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn p256() -> (PrivateKey, TrustedKey) {
        let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let public = key.public_key().unwrap();
        let scheme = key.scheme();
        (key, TrustedKey::new(public, scheme))
    }

    fn policy<'a>(keys: &'a [TrustedKey], threshold: usize) -> Policy<'a> {
        Policy {
            payload_type: "application/vnd.in-toto+json",
            keys,
            threshold,
        }
    }

    #[test]
    fn pae_matches_the_spec_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            fixture("dsse-spec/pae.bin")
        );
        let envelope = Envelope::parse(&fixture("dsse-spec/envelope.json")).unwrap();
        assert_eq!(envelope.pae(), fixture("dsse-spec/pae.bin"));
        // Empty type and body still carry both lengths.
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    }

    /// The spec's test vector signs with raw `r || s`; its DER re-encoding verifies too.
    #[test]
    fn spec_vector_verifies_raw_and_der() {
        let key = PublicKey::from_pem(std::str::from_utf8(&fixture("dsse-spec/p256.pub")).unwrap())
            .unwrap();
        let keys = [TrustedKey::new(key, Scheme::Ecdsa(HashAlg::Sha256))];
        let policy = Policy {
            payload_type: "http://example.com/HelloWorld",
            keys: &keys,
            threshold: 1,
        };
        let mut envelope = Envelope::parse(&fixture("dsse-spec/envelope.json")).unwrap();
        assert_eq!(envelope.signatures[0].sig.len(), 64);
        let verified = envelope.verify(&policy).unwrap();
        assert_eq!(verified.payload, b"hello world");
        assert_eq!(verified.keys, vec![0]);

        envelope.signatures[0].sig = fixture("dsse-spec/signature.der");
        envelope.verify(&policy).unwrap();

        // A flipped bit in either encoding fails.
        envelope.signatures[0].sig[20] ^= 1;
        assert!(matches!(
            envelope.verify(&policy),
            Err(DsseError::Threshold { valid: 0, .. })
        ));
        let mut raw = Envelope::parse(&fixture("dsse-spec/envelope.json")).unwrap();
        raw.signatures[0].sig[63] ^= 1;
        assert!(raw.verify(&policy).is_err());
        // Raw signatures of the wrong length are not guessed at.
        raw.signatures[0].sig.push(0);
        assert!(raw.verify(&policy).is_err());
        // The payload type is authenticated.
        let mut retyped = Envelope::parse(&fixture("dsse-spec/envelope.json")).unwrap();
        retyped.payload_type = "http://example.com/HelloWorlD".into();
        assert!(matches!(
            retyped.verify(&Policy {
                payload_type: "http://example.com/HelloWorlD",
                ..policy
            }),
            Err(DsseError::Threshold { .. })
        ));
    }

    #[test]
    fn raw_signatures_convert_to_minimal_der() {
        let mut sig = vec![0u8; 64];
        sig[31] = 1; // r = 1
        sig[32] = 0x80; // s has its top bit set: a zero byte keeps it positive
        let der = raw_ecdsa_to_der(KeyKind::EcdsaP256, &sig).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x01, 0x01]);
        assert_eq!(&der[5..8], &[0x02, 0x21, 0x00]);
        assert!(is_der_ecdsa_signature(&der));
        assert!(raw_ecdsa_to_der(KeyKind::EcdsaP384, &sig).is_none());
        assert!(raw_ecdsa_to_der(KeyKind::Ed25519, &sig).is_none());
    }

    #[test]
    fn sign_then_verify_for_every_key_kind() {
        let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#.to_vec();
        for kind in [KeyKind::EcdsaP256, KeyKind::EcdsaP384, KeyKind::Ed25519] {
            let key = PrivateKey::generate(kind).unwrap();
            let trusted = [TrustedKey::new(key.public_key().unwrap(), key.scheme())];
            let mut envelope = Envelope::new("application/vnd.in-toto+json", payload.clone());
            envelope.sign(&key, key.scheme(), "").unwrap();
            let again = Envelope::parse(envelope.to_json().as_bytes()).unwrap();
            assert_eq!(again, envelope);
            let verified = again.verify(&policy(&trusted, 1)).unwrap();
            assert_eq!(verified.payload, payload.as_slice());
        }
        // A scheme the key cannot sign with is refused, not silently replaced.
        let ed = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let mut envelope = Envelope::new("t", vec![]);
        assert!(matches!(
            envelope.sign(&ed, Scheme::RsaPss(HashAlg::Sha256), ""),
            Err(DsseError::SchemeMismatch { .. })
        ));
    }

    #[test]
    fn keyid_is_only_a_hint() {
        let (signer, trusted) = p256();
        let (_, other) = p256();
        let mut envelope = Envelope::new("application/vnd.in-toto+json", b"{}".to_vec());
        envelope
            .sign(&signer, signer.scheme(), "who-knows")
            .unwrap();
        // A hint naming nobody, or naming the wrong key, does not stop the right key.
        let keys = [other.clone().with_keyid("who-knows"), trusted.clone()];
        assert_eq!(envelope.verify(&policy(&keys, 1)).unwrap().keys, vec![1]);
        // A hint naming a trusted key does not make another key's signature count.
        let (impostor, _) = p256();
        let mut forged = Envelope::new("application/vnd.in-toto+json", b"{}".to_vec());
        forged.sign(&impostor, impostor.scheme(), "mine").unwrap();
        let keys = [trusted.with_keyid("mine")];
        assert!(matches!(
            forged.verify(&policy(&keys, 1)),
            Err(DsseError::Threshold {
                valid: 0,
                threshold: 1
            })
        ));
    }

    #[test]
    fn threshold_counts_distinct_keys() {
        let (a, ta) = p256();
        let (b, tb) = p256();
        let mut envelope = Envelope::new("application/vnd.in-toto+json", b"{}".to_vec());
        envelope.sign(&a, a.scheme(), "").unwrap();
        envelope.sign(&a, a.scheme(), "").unwrap();
        let keys = [ta.clone(), tb.clone()];
        // Two signatures by one key are one key.
        assert!(matches!(
            envelope.verify(&policy(&keys, 2)),
            Err(DsseError::Threshold {
                valid: 1,
                threshold: 2
            })
        ));
        // The same key listed twice is still one key.
        let twice = [ta.clone(), ta.clone()];
        assert!(matches!(
            envelope.verify(&policy(&twice, 2)),
            Err(DsseError::Threshold { valid: 1, .. })
        ));
        envelope.sign(&b, b.scheme(), "").unwrap();
        let mut verified = envelope.verify(&policy(&keys, 2)).unwrap().keys;
        verified.sort();
        assert_eq!(verified, vec![0, 1]);
        assert!(matches!(
            envelope.verify(&policy(&keys, 0)),
            Err(DsseError::ZeroThreshold)
        ));
        assert!(matches!(
            envelope.verify(&policy(&keys, 3)),
            Err(DsseError::Threshold {
                valid: 2,
                threshold: 3
            })
        ));
        // No trusted keys: nothing verifies.
        assert!(matches!(
            envelope.verify(&policy(&[], 1)),
            Err(DsseError::Threshold { valid: 0, .. })
        ));
    }

    #[test]
    fn empty_signatures_never_verify() {
        let (_, trusted) = p256();
        let envelope =
            Envelope::parse(br#"{"payload":"","payloadType":"","signatures":[]}"#).unwrap();
        assert!(matches!(
            envelope.verify(&Policy {
                payload_type: "",
                keys: &[trusted],
                threshold: 1
            }),
            Err(DsseError::NoSignatures)
        ));
    }

    #[test]
    fn payload_type_must_be_the_expected_one() {
        let (key, trusted) = p256();
        let mut envelope = Envelope::new("application/json", b"{}".to_vec());
        envelope.sign(&key, key.scheme(), "").unwrap();
        assert!(matches!(
            envelope.verify(&policy(&[trusted], 1)),
            Err(DsseError::PayloadType { .. })
        ));
    }

    #[test]
    fn mismatched_trusted_scheme_is_an_error() {
        let (_, mut trusted) = p256();
        trusted.scheme = Scheme::Ed25519;
        let mut envelope = Envelope::new("application/vnd.in-toto+json", vec![]);
        envelope.signatures.push(Signature {
            keyid: String::new(),
            sig: vec![1],
        });
        assert!(matches!(
            envelope.verify(&policy(&[trusted], 1)),
            Err(DsseError::SchemeMismatch { .. })
        ));
    }

    #[test]
    fn parsing_rules() {
        let ok = |json: &str| Envelope::parse(json.as_bytes());
        // keyid may be unset; unknown fields are ignored at both levels.
        let e = ok(r#"{"payload":"aGk=","payloadType":"t","signatures":[{"sig":"AQ==","x":1}],"extra":{}}"#)
            .unwrap();
        assert_eq!(e.payload, b"hi");
        assert_eq!(e.signatures[0].keyid, "");
        assert_eq!(e.signatures[0].sig, [1]);
        // URL-safe and unpadded base64 are accepted; the two alphabets are not mixed.
        let e = ok(r#"{"payload":"-_8","payloadType":"t","signatures":[{"sig":"__-_"}]}"#).unwrap();
        assert_eq!(e.payload, [0xfb, 0xff]);
        assert_eq!(e.signatures[0].sig, [0xff, 0xff, 0xbf]);
        assert!(matches!(
            ok(r#"{"payload":"+_8=","payloadType":"t","signatures":[]}"#),
            Err(DsseError::Base64(Field::Payload))
        ));
        // Non-zero trailing bits, whitespace and junk are not base64.
        for bad in ["aGl=", "aG k=", "aGk=\\n", "aGk==", "*"] {
            let json = format!(r#"{{"payload":"{bad}","payloadType":"t","signatures":[]}}"#);
            assert!(
                matches!(ok(&json), Err(DsseError::Base64(Field::Payload))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            ok(r#"{"payload":"","payloadType":"t","signatures":[{"sig":"!"}]}"#),
            Err(DsseError::Base64(Field::Signature))
        ));
        // Required fields, their types, duplicates.
        for bad in [
            r#"{"payloadType":"t","signatures":[]}"#,
            r#"{"payload":"","signatures":[]}"#,
            r#"{"payload":"","payloadType":"t"}"#,
            r#"{"payload":"","payloadType":"t","signatures":[{"keyid":"k"}]}"#,
            r#"{"payload":null,"payloadType":"t","signatures":[]}"#,
            r#"{"payload":"","payloadType":"t","signatures":[{"sig":"","keyid":null}]}"#,
            r#"{"payload":"","payloadType":"t","signatures":{}}"#,
            r#"{"payload":"","payload":"","payloadType":"t","signatures":[]}"#,
            r#"[]"#,
            r#"{"payload":"","payloadType":"t","signatures":[]} x"#,
        ] {
            assert!(matches!(ok(bad), Err(DsseError::Json(_))), "{bad}");
        }
    }

    #[test]
    fn serialization_is_standard_base64_with_keyid() {
        let envelope = Envelope {
            payload: vec![0xfb, 0xff],
            payload_type: "t".into(),
            signatures: vec![Signature {
                keyid: String::new(),
                sig: vec![0xff],
            }],
        };
        assert_eq!(
            envelope.to_json(),
            r#"{"payload":"+/8=","payloadType":"t","signatures":[{"keyid":"","sig":"/w=="}]}"#
        );
        // Embedded in another document, the same rules apply.
        #[derive(Deserialize)]
        struct Outer {
            envelope: Envelope,
        }
        let outer: Outer =
            serde_json::from_str(&format!(r#"{{"envelope":{}}}"#, envelope.to_json())).unwrap();
        assert_eq!(outer.envelope, envelope);
        assert!(
            serde_json::from_str::<Outer>(
                r#"{"envelope":{"payload":"*","payloadType":"t","signatures":[]}}"#
            )
            .is_err()
        );
    }
}
