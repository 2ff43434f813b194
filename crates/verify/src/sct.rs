//! Signed certificate timestamps (RFC 6962) embedded in Fulcio certificates: the TLS-encoded
//! SignedCertificateTimestampList from the certificate's extension, and each SCT's signature
//! checked against trusted CT log keys over the precertificate entry the log signed.

use std::fmt;

use crate::keys::{self, HashAlg, PublicKey, Scheme, SignatureError};
use crate::x509::{Certificate, format_time, oids};

/// Why a certificate's SCT list could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SctError {
    #[error("certificate has no SignedCertificateTimestampList extension")]
    NoSctList,
    #[error("SignedCertificateTimestampList is malformed: {0}")]
    Malformed(&'static str),
    #[error("SCT {index} has version {version}; only v1 (0) is supported")]
    UnsupportedVersion { index: usize, version: u8 },
    #[error("precertificate TBSCertificate has {0} bytes, too many for its 24-bit length")]
    TbsTooLong(usize),
}

/// Why one SCT did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SctRejection {
    #[error("no trusted CT log has this log id")]
    UnknownLog,
    #[error(
        "SCT timestamp {} is outside the validity of the log's key",
        format_time((*timestamp_ms / 1000) as i64)
    )]
    OutsideLogValidity { timestamp_ms: u64 },
    #[error("SCT signature algorithm (hash {hash}, signature {signature}) is not supported")]
    UnsupportedAlgorithm { hash: u8, signature: u8 },
    #[error("SCT signature does not verify: {0}")]
    Signature(#[source] SignatureError),
}

/// One SignedCertificateTimestamp (v1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    /// SHA-256 of the log's SubjectPublicKeyInfo DER.
    pub log_id: [u8; 32],
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// CtExtensions (opaque; static CT logs put the leaf index here).
    pub extensions: Vec<u8>,
    /// TLS HashAlgorithm (4 SHA-256, 5 SHA-384, 6 SHA-512, 8 intrinsic).
    pub hash_algorithm: u8,
    /// TLS SignatureAlgorithm (1 RSA, 3 ECDSA, 7 Ed25519).
    pub signature_algorithm: u8,
    pub signature: Vec<u8>,
}

impl Sct {
    /// The scheme the SCT's DigitallySigned names, if vouch verifies it.
    pub fn scheme(&self) -> Option<Scheme> {
        let hash = match self.hash_algorithm {
            4 => HashAlg::Sha256,
            5 => HashAlg::Sha384,
            6 => HashAlg::Sha512,
            8 if self.signature_algorithm == 7 => return Some(Scheme::Ed25519),
            _ => return None,
        };
        match self.signature_algorithm {
            1 => Some(Scheme::RsaPkcs1(hash)),
            3 => Some(Scheme::Ecdsa(hash)),
            _ => None,
        }
    }

    /// What the log signed for a precertificate entry (RFC 6962 3.2): version 0, signature
    /// type 0 (certificate_timestamp), the timestamp, entry type 1 (precert_entry), the
    /// issuer key hash, the precertificate TBSCertificate (24-bit length) and the extensions.
    pub fn precert_signed_data(&self, issuer_key_hash: &[u8; 32], precert_tbs: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(precert_tbs.len() + self.extensions.len() + 50);
        out.push(0); // sct_version v1
        out.push(0); // signature_type certificate_timestamp
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
        out.extend_from_slice(issuer_key_hash);
        // Callers keep the TBS under 2^24 bytes; the top byte of the u32 is dropped.
        out.extend_from_slice(&(precert_tbs.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(precert_tbs);
        // Parsed extensions came with a 16-bit length, so they fit one.
        out.extend_from_slice(&(self.extensions.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.extensions);
        out
    }
}

/// A CT log trusted for SCTs: its id, key, and the time its key is valid for.
#[derive(Debug, Clone)]
pub struct CtLog {
    /// SHA-256 of the log key's SPKI DER ([`CtLog::new`] computes it).
    pub log_id: [u8; 32],
    pub key: PublicKey,
    /// Unix seconds; an SCT's timestamp must fall in `valid_from..=valid_until`.
    pub valid_from: i64,
    pub valid_until: Option<i64>,
}

impl CtLog {
    pub fn new(key: PublicKey, valid_from: i64, valid_until: Option<i64>) -> CtLog {
        CtLog {
            log_id: key.fingerprint(),
            key,
            valid_from,
            valid_until,
        }
    }

    fn covers(&self, timestamp_ms: u64) -> bool {
        // Whole seconds: the trust root's bounds are seconds (or end in .999).
        let secs = i64::try_from(timestamp_ms / 1000).unwrap_or(i64::MAX);
        self.valid_from <= secs && self.valid_until.is_none_or(|end| secs <= end)
    }
}

/// The outcome of checking a certificate's SCTs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SctReport {
    pub verified: Vec<VerifiedSct>,
    pub rejected: Vec<RejectedSct>,
}

impl SctReport {
    /// How many different logs vouched for the certificate.
    pub fn distinct_logs(&self) -> usize {
        let mut ids: Vec<_> = self.verified.iter().map(|v| v.log_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSct {
    /// Position in the certificate's list.
    pub index: usize,
    pub log_id: [u8; 32],
    pub timestamp_ms: u64,
}

#[derive(Clone, PartialEq, Eq)]
pub struct RejectedSct {
    pub index: usize,
    pub log_id: [u8; 32],
    pub reason: SctRejection,
}

impl fmt::Debug for RejectedSct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RejectedSct({}, log {}: {})",
            self.index,
            keys::hex(&self.log_id),
            self.reason
        )
    }
}

/// Parses a TLS-encoded SignedCertificateTimestampList: a 16-bit-length list of one or more
/// 16-bit-length SCTs, each v1 and consumed exactly.
pub fn parse_sct_list(tls: &[u8]) -> Result<Vec<Sct>, SctError> {
    let mut outer = Cursor(tls);
    let list = outer.vec16()?;
    outer.finish()?;
    if list.is_empty() {
        return Err(SctError::Malformed("the list is empty"));
    }
    let mut entries = Cursor(list);
    let mut scts = Vec::new();
    while !entries.0.is_empty() {
        let entry = entries.vec16()?;
        let mut c = Cursor(entry);
        let version = c.u8()?;
        if version != 0 {
            return Err(SctError::UnsupportedVersion {
                index: scts.len(),
                version,
            });
        }
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(c.take(32)?);
        let timestamp_ms = u64::from_be_bytes(c.array()?);
        let extensions = c.vec16()?.to_vec();
        let hash_algorithm = c.u8()?;
        let signature_algorithm = c.u8()?;
        let signature = c.vec16()?.to_vec();
        c.finish()?;
        scts.push(Sct {
            log_id,
            timestamp_ms,
            extensions,
            hash_algorithm,
            signature_algorithm,
            signature,
        });
    }
    Ok(scts)
}

/// Verifies every SCT embedded in `cert` against `logs`. `issuer_key` is the key of the
/// certificate that issued `cert` (the next one in its verified chain): the precertificate
/// entry names it by the SHA-256 of its SPKI DER. The caller decides how many verified SCTs it
/// requires; an SCT that does not verify is reported, not an error.
pub fn verify_scts(
    cert: &Certificate,
    issuer_key: &PublicKey,
    logs: &[CtLog],
) -> Result<SctReport, SctError> {
    let scts = parse_sct_list(cert.sct_list().ok_or(SctError::NoSctList)?)?;
    let tbs = cert
        .tbs_der_without_extension(oids::SCT_LIST)
        .ok_or(SctError::NoSctList)?;
    if tbs.len() >= 1 << 24 {
        return Err(SctError::TbsTooLong(tbs.len()));
    }
    let issuer_key_hash = issuer_key.fingerprint();
    let mut report = SctReport::default();
    for (index, sct) in scts.iter().enumerate() {
        match verify_one(sct, &issuer_key_hash, &tbs, logs) {
            Ok(()) => report.verified.push(VerifiedSct {
                index,
                log_id: sct.log_id,
                timestamp_ms: sct.timestamp_ms,
            }),
            Err(reason) => report.rejected.push(RejectedSct {
                index,
                log_id: sct.log_id,
                reason,
            }),
        }
    }
    Ok(report)
}

fn verify_one(
    sct: &Sct,
    issuer_key_hash: &[u8; 32],
    tbs: &[u8],
    logs: &[CtLog],
) -> Result<(), SctRejection> {
    let mut known = logs.iter().filter(|l| l.log_id == sct.log_id).peekable();
    if known.peek().is_none() {
        return Err(SctRejection::UnknownLog);
    }
    let in_window: Vec<&CtLog> = known.filter(|l| l.covers(sct.timestamp_ms)).collect();
    if in_window.is_empty() {
        return Err(SctRejection::OutsideLogValidity {
            timestamp_ms: sct.timestamp_ms,
        });
    }
    let scheme = sct.scheme().ok_or(SctRejection::UnsupportedAlgorithm {
        hash: sct.hash_algorithm,
        signature: sct.signature_algorithm,
    })?;
    let data = sct.precert_signed_data(issuer_key_hash, tbs);
    let mut last = SignatureError::Invalid;
    for log in in_window {
        match log.key.verify(scheme, &data, &sct.signature) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(SctRejection::Signature(last))
}

/// A reader over TLS presentation-language bytes.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SctError> {
        let (head, rest) = self
            .0
            .split_at_checked(n)
            .ok_or(SctError::Malformed("truncated"))?;
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SctError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, SctError> {
        Ok(self.array::<1>()?[0])
    }

    /// An `opaque<0..2^16-1>`.
    fn vec16(&mut self) -> Result<&'a [u8], SctError> {
        let len = u16::from_be_bytes(self.array()?);
        self.take(usize::from(len))
    }

    fn finish(&self) -> Result<(), SctError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(SctError::Malformed("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::der::{self, oid, tag};
    use crate::keys::KeyKind;
    use crate::x509::tests::{
        Alg, CONFORMANCE, Keyless, NOW, PUBLIC_GOOD, Signer, Template, b64, ext, keyless_bundles,
        read_json, seq, unix,
    };

    /// A trusted root's CT logs. A key given as PKCS#1 (keyDetails `PKCS1_*`) is wrapped in an
    /// SPKI first.
    fn ct_logs(rel: &str) -> Vec<CtLog> {
        read_json(rel)["ctlogs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|log| {
                let key = &log["publicKey"];
                let raw = b64(key["rawBytes"].as_str().unwrap());
                let spki = if key["keyDetails"].as_str().unwrap().starts_with("PKCS1_") {
                    seq(&[
                        seq(&[
                            der::encode(tag::OID, oid::RSA_ENCRYPTION.as_bytes()),
                            der::encode(tag::NULL, &[]),
                        ]),
                        der::encode(tag::BIT_STRING, &[&[0][..], &raw].concat()),
                    ])
                } else {
                    raw
                };
                let valid = &key["validFor"];
                CtLog {
                    log_id: b64(log["logId"]["keyId"].as_str().unwrap())
                        .try_into()
                        .unwrap(),
                    key: PublicKey::from_spki_der(&spki).unwrap(),
                    valid_from: unix(valid["start"].as_str().unwrap()),
                    // trust-root-tlog-validity-end-inclusive writes `"end": null`.
                    valid_until: match valid.get("end") {
                        None | Some(Value::Null) => None,
                        Some(end) => Some(unix(end.as_str().unwrap())),
                    },
                }
            })
            .collect()
    }

    /// The certificate that issued `case`'s leaf: from its trusted root or the bundle, found by
    /// name and signature (validity is the chain's business).
    fn issuer_of(case: &Keyless) -> Certificate {
        let json = read_json(&case.trust_root);
        let mut candidates: Vec<Certificate> = case.certs[1..].to_vec();
        for ca in json["certificateAuthorities"].as_array().unwrap() {
            for c in ca["certChain"]["certificates"].as_array().unwrap() {
                candidates
                    .push(Certificate::from_der(&b64(c["rawBytes"].as_str().unwrap())).unwrap());
            }
        }
        let leaf = &case.certs[0];
        candidates
            .into_iter()
            .find(|c| {
                c.subject_der() == leaf.issuer_der()
                    && leaf.verify_signed_by(c.public_key()).is_ok()
            })
            .unwrap_or_else(|| panic!("{}: no issuer", case.name))
    }

    fn encode_sct(sct: &Sct) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(&sct.log_id);
        out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
        out.extend_from_slice(&sct.extensions);
        out.extend_from_slice(&[sct.hash_algorithm, sct.signature_algorithm]);
        out.extend_from_slice(&(sct.signature.len() as u16).to_be_bytes());
        out.extend_from_slice(&sct.signature);
        out
    }

    fn encode_list(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        for e in entries {
            body.extend_from_slice(&(e.len() as u16).to_be_bytes());
            body.extend_from_slice(e);
        }
        [(body.len() as u16).to_be_bytes().to_vec(), body].concat()
    }

    #[test]
    fn public_good_log_ids_are_the_key_fingerprints() {
        let logs = ct_logs(PUBLIC_GOOD);
        assert_eq!(logs.len(), 2);
        for log in &logs {
            assert_eq!(log.log_id, log.key.fingerprint());
            assert_eq!(
                CtLog::new(log.key.clone(), log.valid_from, log.valid_until).log_id,
                log.log_id
            );
        }
        assert_eq!(logs[0].valid_until, Some(unix("2022-10-31T23:59:59Z")));
        assert_eq!(logs[1].valid_until, None);
    }

    /// Every SCT list in the fixtures parses, re-encodes to the same bytes, and names one of
    /// the known logs with ECDSA over SHA-256.
    #[test]
    fn every_fixture_sct_list_parses() {
        let mut lists = 0;
        for case in keyless_bundles() {
            let leaf = &case.certs[0];
            let Some(list) = leaf.sct_list() else {
                continue;
            };
            let scts = parse_sct_list(list).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert!(!scts.is_empty());
            let entries: Vec<Vec<u8>> = scts.iter().map(encode_sct).collect();
            assert_eq!(encode_list(&entries), list, "{}", case.name);
            for sct in &scts {
                assert_eq!(
                    (sct.hash_algorithm, sct.signature_algorithm),
                    (4, 3),
                    "{}",
                    case.name
                );
                assert_eq!(sct.scheme(), Some(Scheme::Ecdsa(HashAlg::Sha256)));
            }
            lists += 1;
        }
        assert!(lists >= 60, "only {lists} SCT lists");
    }

    /// Each leaf's SCTs verify with its trusted root's CT logs (staging certificates with the
    /// staging root), and the chain verifies at the SCT's time where the bundle has no
    /// integrated time (Rekor v2 entries). invalid-ct-key_fail's root knows none of the logs.
    #[test]
    fn fixture_scts_verify_with_the_trusted_root_ct_logs() {
        let mut verified = 0;
        let mut chained_at_sct_time = 0;
        for mut case in keyless_bundles() {
            if case.certs[0].sct_list().is_none() {
                continue;
            }
            if case.name == "bundle-from-wrong-instance_fail" {
                case.trust_root = "trust/staging-trusted_root.json".into();
            }
            let leaf = &case.certs[0];
            let issuer = issuer_of(&case);
            let report =
                verify_scts(leaf, issuer.public_key(), &ct_logs(&case.trust_root)).unwrap();
            if case.name == "invalid-ct-key_fail" {
                assert!(report.verified.is_empty());
                assert_eq!(report.rejected.len(), 1);
                assert_eq!(report.rejected[0].reason, SctRejection::UnknownLog);
                continue;
            }
            assert!(
                report.rejected.is_empty(),
                "{}: {:?}",
                case.name,
                report.rejected
            );
            assert_eq!(report.distinct_logs(), 1, "{}", case.name);
            verified += 1;
            if case.integrated_time.is_none() {
                let at = (report.verified[0].timestamp_ms / 1000) as i64;
                let trust = crate::x509::tests::trust(&case.trust_root);
                let intermediates: Vec<Certificate> = trust
                    .intermediates
                    .iter()
                    .chain(&case.certs[1..])
                    .cloned()
                    .collect();
                let path = crate::x509::verify_chain(leaf, &intermediates, &trust.roots, at)
                    .unwrap_or_else(|e| panic!("{}: {e}", case.name));
                assert_eq!(path[1], issuer);
                chained_at_sct_time += 1;
            }
        }
        assert!(verified >= 60, "only {verified} verified");
        assert!(
            chained_at_sct_time >= 20,
            "only {chained_at_sct_time} chains at SCT time"
        );
    }

    /// The production log's id with the keys of invalid-ct-key_fail's root: the signature
    /// fails (ECDSA keys) or the key does not fit the SCT's algorithm (its RSA key).
    #[test]
    fn the_right_log_id_with_the_wrong_key_fails() {
        let mut case = keyless_bundles()
            .into_iter()
            .find(|b| b.name == "invalid-ct-key_fail")
            .unwrap();
        // The certificate is production's; only the case's CT logs are wrong.
        case.trust_root = PUBLIC_GOOD.into();
        let issuer = issuer_of(&case);
        let leaf = &case.certs[0];
        let good = ct_logs(PUBLIC_GOOD);
        let sct = &parse_sct_list(leaf.sct_list().unwrap()).unwrap()[0];
        let production = good.iter().find(|l| l.log_id == sct.log_id).unwrap();
        let wrong = ct_logs(&format!(
            "{CONFORMANCE}/invalid-ct-key_fail/trusted_root.json"
        ));
        assert_eq!(wrong.len(), 3);
        for log in wrong {
            let kind = log.key.kind();
            let log = CtLog {
                log_id: production.log_id,
                valid_from: production.valid_from,
                valid_until: production.valid_until,
                ..log
            };
            let report = verify_scts(leaf, issuer.public_key(), &[log]).unwrap();
            let want = if kind == KeyKind::Rsa {
                SctRejection::Signature(SignatureError::SchemeMismatch {
                    scheme: Scheme::Ecdsa(HashAlg::Sha256),
                    kind,
                })
            } else {
                SctRejection::Signature(SignatureError::Invalid)
            };
            assert_eq!(
                report
                    .rejected
                    .iter()
                    .map(|r| r.reason.clone())
                    .collect::<Vec<_>>(),
                [want]
            );
        }
        // And with the production log, as a control.
        assert_eq!(
            verify_scts(leaf, issuer.public_key(), &good)
                .unwrap()
                .verified
                .len(),
            1
        );
    }

    /// Static CT logs put the leaf index in the SCT's extensions; they are signed too.
    #[test]
    fn scts_with_extensions_verify() {
        let bundles = keyless_bundles();
        for name in ["bundle-with-sct-with-extensions", "rekor2-dsse-happy-path"] {
            let case = bundles.iter().find(|b| b.name == name).unwrap();
            let leaf = &case.certs[0];
            let scts = parse_sct_list(leaf.sct_list().unwrap()).unwrap();
            assert!(!scts[0].extensions.is_empty(), "{name}");
            let issuer = issuer_of(case);
            let logs = ct_logs(&case.trust_root);
            assert_eq!(
                verify_scts(leaf, issuer.public_key(), &logs)
                    .unwrap()
                    .verified
                    .len(),
                1
            );
            // The extensions are covered by the signature.
            let mut sct = scts[0].clone();
            sct.extensions[0] ^= 1;
            let list = encode_list(&[encode_sct(&sct)]);
            let parsed = &parse_sct_list(&list).unwrap()[0];
            let tbs = leaf
                .tbs_der_without_extension(crate::x509::oids::SCT_LIST)
                .unwrap();
            assert_eq!(
                verify_one(parsed, &issuer.public_key().fingerprint(), &tbs, &logs),
                Err(SctRejection::Signature(SignatureError::Invalid))
            );
        }
    }

    #[test]
    fn tampering_and_time_windows() {
        let case = keyless_bundles()
            .into_iter()
            .find(|b| b.name == "happy-path-v0.3")
            .unwrap();
        let leaf = &case.certs[0];
        let issuer = issuer_of(&case);
        let logs = ct_logs(PUBLIC_GOOD);
        let rejection = |cert: &Certificate, key: &PublicKey, logs: &[CtLog]| {
            let report = verify_scts(cert, key, logs).unwrap();
            report.rejected.into_iter().map(|r| r.reason).next()
        };
        assert_eq!(rejection(leaf, issuer.public_key(), &logs), None);

        // A changed serial number is a different precertificate.
        let serial_at = leaf
            .der()
            .windows(leaf.serial().len())
            .position(|w| w == leaf.serial())
            .unwrap();
        let mut bytes = leaf.der().to_vec();
        bytes[serial_at + leaf.serial().len() - 1] ^= 1;
        let tampered = Certificate::from_der(&bytes).unwrap();
        assert_eq!(
            rejection(&tampered, issuer.public_key(), &logs),
            Some(SctRejection::Signature(SignatureError::Invalid))
        );
        // The SCT's own signature (the list ends with it).
        let list = leaf.sct_list().unwrap();
        let list_at = leaf
            .der()
            .windows(list.len())
            .position(|w| w == list)
            .unwrap();
        let mut bytes = leaf.der().to_vec();
        bytes[list_at + list.len() - 1] ^= 1;
        let tampered = Certificate::from_der(&bytes).unwrap();
        assert_eq!(
            rejection(&tampered, issuer.public_key(), &logs),
            Some(SctRejection::Signature(SignatureError::Invalid))
        );
        // Another issuer key: the issuer key hash differs.
        let root = crate::x509::tests::trust(PUBLIC_GOOD).roots[1].clone();
        assert_eq!(
            rejection(leaf, root.public_key(), &logs),
            Some(SctRejection::Signature(SignatureError::Invalid))
        );
        // The log key's validity window, inclusive at both ends, in whole seconds.
        let sct = &parse_sct_list(list).unwrap()[0];
        let secs = (sct.timestamp_ms / 1000) as i64;
        let log = logs.iter().find(|l| l.log_id == sct.log_id).unwrap();
        let window = |from, until| {
            [CtLog {
                valid_from: from,
                valid_until: until,
                ..log.clone()
            }]
        };
        let outside_reason = SctRejection::OutsideLogValidity {
            timestamp_ms: sct.timestamp_ms,
        };
        let outside = Some(outside_reason.clone());
        assert_eq!(
            rejection(leaf, issuer.public_key(), &window(secs, Some(secs))),
            None
        );
        assert_eq!(
            rejection(leaf, issuer.public_key(), &window(secs + 1, None)),
            outside
        );
        assert_eq!(
            rejection(leaf, issuer.public_key(), &window(0, Some(secs - 1))),
            outside
        );
        assert_eq!(
            outside_reason.to_string(),
            format!(
                "SCT timestamp {} is outside the validity of the log's key",
                crate::x509::format_time(secs)
            )
        );
        // No logs at all.
        assert_eq!(
            rejection(leaf, issuer.public_key(), &[]),
            Some(SctRejection::UnknownLog)
        );
    }

    /// A CT log made here, of each key kind, signs the precertificate of a certificate that
    /// then embeds the SCT (between other extensions): it verifies, and the TBS rebuilt
    /// without the SCT list is byte for byte the precertificate's.
    #[test]
    fn scts_made_here_for_each_log_key_kind() {
        let ca = Signer::generate(KeyKind::EcdsaP384);
        let subject = Signer::generate(KeyKind::EcdsaP256);
        let alg = crate::x509::tests::alg_der(Alg::Ecdsa(HashAlg::Sha384));
        let precert = Template::leaf("ca");
        let precert_tbs = precert.tbs(&subject.spki(), &alg);
        let issuer_hash = ca.public_key().fingerprint();
        // The log's key, how it signs, the (hash, signature) bytes the SCT declares, and the
        // rejection expected (none: it verifies).
        type Row = (Signer, Alg, (u8, u8), Option<SctRejection>);
        let table: Vec<Row> = vec![
            (
                Signer::generate(KeyKind::EcdsaP256),
                Alg::Ecdsa(HashAlg::Sha256),
                (4, 3),
                None,
            ),
            (
                Signer::generate(KeyKind::Ed25519),
                Alg::Ed25519,
                (8, 7),
                None,
            ),
            (Signer::rsa(), Alg::Rsa(HashAlg::Sha256), (4, 1), None),
            (
                Signer::rsa(),
                Alg::Rsa(HashAlg::Sha256),
                (4, 3),
                Some(SctRejection::Signature(SignatureError::SchemeMismatch {
                    scheme: Scheme::Ecdsa(HashAlg::Sha256),
                    kind: KeyKind::Rsa,
                })),
            ),
            (
                Signer::generate(KeyKind::EcdsaP256),
                Alg::Ecdsa(HashAlg::Sha256),
                (2, 3),
                Some(SctRejection::UnsupportedAlgorithm {
                    hash: 2,
                    signature: 3,
                }),
            ),
        ];
        for (log_key, log_alg, (hash, signature_algorithm), want) in table {
            let mut sct = Sct {
                log_id: log_key.public_key().fingerprint(),
                timestamp_ms: NOW as u64 * 1000 + 123,
                extensions: vec![0, 0, 0, 0, 0, 7],
                hash_algorithm: hash,
                signature_algorithm,
                signature: Vec::new(),
            };
            sct.signature = log_key.sign(
                log_alg,
                &sct.precert_signed_data(&issuer_hash, &precert_tbs),
            );
            let list = encode_list(&[encode_sct(&sct)]);
            let mut final_cert = precert.clone();
            let sct_ext = ext(
                crate::x509::oids::SCT_LIST,
                false,
                &der::encode(tag::OCTET_STRING, &list),
            );
            final_cert.extensions.insert(1, sct_ext);
            let cert = final_cert.issue(&subject, &ca, Alg::Ecdsa(HashAlg::Sha384));
            assert_eq!(
                cert.tbs_der_without_extension(crate::x509::oids::SCT_LIST)
                    .unwrap(),
                precert_tbs
            );
            let log = CtLog::new(log_key.public_key(), 0, None);
            let report = verify_scts(&cert, &ca.public_key(), &[log]).unwrap();
            match want {
                None => assert_eq!(
                    report.verified,
                    [VerifiedSct {
                        index: 0,
                        log_id: sct.log_id,
                        timestamp_ms: sct.timestamp_ms
                    }]
                ),
                Some(reason) => assert_eq!(
                    report.rejected,
                    [RejectedSct {
                        index: 0,
                        log_id: sct.log_id,
                        reason
                    }]
                ),
            }
        }
    }

    #[test]
    fn the_precertificate_tbs() {
        // The only extension removed takes the extensions field with it.
        let alg = crate::x509::tests::alg_der(Alg::Ecdsa(HashAlg::Sha256));
        let spki = Signer::generate(KeyKind::EcdsaP256).spki();
        let mut template = Template::new("leaf", "ca", vec![]);
        let bare = template.tbs(&spki, &alg);
        template.extensions.push(ext(
            crate::x509::oids::SCT_LIST,
            false,
            &der::encode(tag::OCTET_STRING, &[0, 0]),
        ));
        let cert = Certificate::from_der(&crate::x509::tests::assemble(
            &template.tbs(&spki, &alg),
            &alg,
            &[0; 8],
        ))
        .unwrap();
        assert_eq!(
            cert.tbs_der_without_extension(crate::x509::oids::SCT_LIST)
                .unwrap(),
            bare
        );
        // Without the extension there is nothing to rebuild, nor to verify.
        let plain =
            Certificate::from_der(&crate::x509::tests::assemble(&bare, &alg, &[0; 8])).unwrap();
        assert_eq!(
            plain.tbs_der_without_extension(crate::x509::oids::SCT_LIST),
            None
        );
        assert_eq!(
            verify_scts(&plain, plain.public_key(), &[]),
            Err(SctError::NoSctList)
        );
        // An empty list parses in the certificate but not as a list.
        assert_eq!(
            verify_scts(&cert, cert.public_key(), &[]),
            Err(SctError::Malformed("the list is empty"))
        );
    }

    #[test]
    fn malformed_lists() {
        let sct = Sct {
            log_id: [7; 32],
            timestamp_ms: 1,
            extensions: vec![],
            hash_algorithm: 4,
            signature_algorithm: 3,
            signature: vec![1, 2, 3],
        };
        let entry = encode_sct(&sct);
        let good = encode_list(&[entry.clone(), entry.clone()]);
        assert_eq!(parse_sct_list(&good).unwrap(), [sct.clone(), sct.clone()]);
        let mut v2 = entry.clone();
        v2[0] = 1;
        let table: Vec<(&str, Vec<u8>, SctError)> = vec![
            ("nothing", vec![], SctError::Malformed("truncated")),
            (
                "empty list",
                vec![0, 0],
                SctError::Malformed("the list is empty"),
            ),
            (
                "list shorter than its length",
                good[..good.len() - 1].to_vec(),
                SctError::Malformed("truncated"),
            ),
            (
                "bytes after the list",
                [&good[..], &[0]].concat(),
                SctError::Malformed("trailing bytes"),
            ),
            (
                "empty entry",
                encode_list(&[vec![]]),
                SctError::Malformed("truncated"),
            ),
            (
                "entry with trailing bytes",
                encode_list(&[[&entry[..], &[0]].concat()]),
                SctError::Malformed("trailing bytes"),
            ),
            (
                "entry cut in its signature",
                encode_list(&[entry[..entry.len() - 1].to_vec()]),
                SctError::Malformed("truncated"),
            ),
            (
                "version 2",
                encode_list(&[entry.clone(), v2]),
                SctError::UnsupportedVersion {
                    index: 1,
                    version: 1,
                },
            ),
        ];
        for (what, input, want) in table {
            assert_eq!(parse_sct_list(&input), Err(want), "{what}");
        }
        // Two SCTs from one log count as one log.
        let report = SctReport {
            verified: vec![
                VerifiedSct {
                    index: 0,
                    log_id: [1; 32],
                    timestamp_ms: 1,
                },
                VerifiedSct {
                    index: 1,
                    log_id: [1; 32],
                    timestamp_ms: 2,
                },
            ],
            rejected: vec![],
        };
        assert_eq!(report.distinct_logs(), 1);
    }
}
