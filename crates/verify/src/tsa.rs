//! RFC 3161 timestamps as Sigstore bundles carry them: a DER TimeStampResp (or bare token) whose
//! CMS SignedData wraps a TSTInfo. Parsing here; checking that the token covers a message and
//! was signed by a given certificate's key. Which certificate that is, and whether it chains to a
//! trusted timestamp authority, the bundle verifier decides with the x509 module.

use crate::der::{self, DerError, Reader, oid, tag};
use crate::keys::{HashAlg, PublicKey, Scheme};
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsaError {
    #[error("timestamp is not valid DER: {0}")]
    Der(#[from] DerError),
    #[error("timestamp response status {0} is not granted")]
    NotGranted(u64),
    #[error("timestamp is not CMS signed data")]
    NotSignedData,
    #[error("timestamp content is not a TSTInfo")]
    NotTstInfo,
    #[error("timestamp must have exactly one signer, it has {0}")]
    SignerCount(usize),
    #[error("timestamp has no signed attributes")]
    NoSignedAttributes,
    #[error("timestamp's signed attributes lack {0}")]
    MissingAttribute(&'static str),
    #[error("unsupported timestamp algorithm {0}")]
    Algorithm(String),
    #[error("timestamp does not cover this message")]
    ImprintMismatch,
    #[error("timestamp's message digest attribute does not match its content")]
    ContentDigestMismatch,
    #[error("timestamp names a different signing certificate")]
    SigningCertificateMismatch,
    #[error("timestamp signature does not verify")]
    BadSignature,
}

/// How a CMS signer identifies its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerId {
    /// Issuer Name (DER) and serial number (INTEGER contents).
    IssuerSerial {
        issuer: Vec<u8>,
        serial: Vec<u8>,
    },
    SubjectKeyId(Vec<u8>),
}

/// A parsed timestamp token.
#[derive(Debug, Clone)]
pub struct Token {
    pub gen_time: Timestamp,
    pub imprint_alg: HashAlg,
    pub imprint: Vec<u8>,
    /// Certificates embedded in the token, DER.
    pub certificates: Vec<Vec<u8>>,
    pub signer: SignerId,
    econtent: Vec<u8>,
    digest_alg: HashAlg,
    content_digest: Vec<u8>,
    /// ESS signingCertificate(V2): the hash of the signer's certificate, if given.
    signing_certificate: Option<(HashAlg, Vec<u8>)>,
    /// The signed attributes as signed: re-tagged SET OF.
    signed_attrs: Vec<u8>,
    scheme: Scheme,
    signature: Vec<u8>,
}

// 1.2.840.113549.1.7.2
const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
// 1.2.840.113549.1.9.16.1.4
const TST_INFO: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];
// 1.2.840.113549.1.9.3
const CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
// 1.2.840.113549.1.9.4
const MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
// 1.2.840.113549.1.9.16.2.12
const SIGNING_CERTIFICATE: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x0c,
];
// 1.2.840.113549.1.9.16.2.47
const SIGNING_CERTIFICATE_V2: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x2f,
];

fn hash_alg(algorithm_identifier: &mut Reader<'_>) -> Result<HashAlg, TsaError> {
    let mut alg = algorithm_identifier.read_sequence()?;
    let id = alg.read(tag::OID)?.oid()?;
    alg.read_optional(tag::NULL)?;
    alg.finish()?;
    match id {
        i if i == oid::SHA256 => Ok(HashAlg::Sha256),
        i if i == oid::SHA384 => Ok(HashAlg::Sha384),
        i if i == oid::SHA512 => Ok(HashAlg::Sha512),
        other => Err(TsaError::Algorithm(other.to_string())),
    }
}

fn signature_scheme(
    algorithm_identifier: &mut Reader<'_>,
    digest: HashAlg,
) -> Result<Scheme, TsaError> {
    let mut alg = algorithm_identifier.read_sequence()?;
    let id = alg.read(tag::OID)?.oid()?;
    let scheme = match id {
        i if i == oid::ECDSA_WITH_SHA256 => Scheme::Ecdsa(HashAlg::Sha256),
        i if i == oid::ECDSA_WITH_SHA384 => Scheme::Ecdsa(HashAlg::Sha384),
        i if i == oid::ECDSA_WITH_SHA512 => Scheme::Ecdsa(HashAlg::Sha512),
        i if i == oid::SHA256_WITH_RSA => Scheme::RsaPkcs1(HashAlg::Sha256),
        i if i == oid::SHA384_WITH_RSA => Scheme::RsaPkcs1(HashAlg::Sha384),
        i if i == oid::SHA512_WITH_RSA => Scheme::RsaPkcs1(HashAlg::Sha512),
        // Plain rsaEncryption: the digest algorithm says which hash.
        i if i == oid::RSA_ENCRYPTION => Scheme::RsaPkcs1(digest),
        i if i == oid::ED25519 => Scheme::Ed25519,
        other => return Err(TsaError::Algorithm(other.to_string())),
    };
    alg.read_optional(tag::NULL)?;
    alg.finish()?;
    Ok(scheme)
}

/// Parses a DER TimeStampResp, or a bare TimeStampToken (ContentInfo).
pub fn parse(der_bytes: &[u8]) -> Result<Token, TsaError> {
    let mut outer = Reader::new(der::parse_single(der_bytes, tag::SEQUENCE)?.value);
    let content_info = if outer.peek_tag() == Some(tag::SEQUENCE) {
        // TimeStampResp: status, then the token.
        let mut status = outer.read_sequence()?;
        let code = status.read(tag::INTEGER)?.u64()?;
        if code > 1 {
            return Err(TsaError::NotGranted(code));
        }
        let mut token = outer.read_sequence()?;
        outer.finish()?;
        let content_type = token.read(tag::OID)?.oid()?;
        let content = token.read(tag::context(0))?;
        token.finish()?;
        (content_type, content)
    } else {
        let content_type = outer.read(tag::OID)?.oid()?;
        let content = outer.read(tag::context(0))?;
        outer.finish()?;
        (content_type, content)
    };
    if content_info.0.as_bytes() != SIGNED_DATA {
        return Err(TsaError::NotSignedData);
    }
    let mut wrapper = content_info.1.reader();
    let mut signed_data = wrapper.read_sequence()?;
    wrapper.finish()?;
    signed_data.read(tag::INTEGER)?;
    signed_data.read(tag::SET)?; // digestAlgorithms: the signer's own field is what counts
    let mut encap = signed_data.read_sequence()?;
    if encap.read(tag::OID)?.oid()?.as_bytes() != TST_INFO {
        return Err(TsaError::NotTstInfo);
    }
    let mut explicit = encap.read(tag::context(0))?.reader();
    let econtent = explicit.read(tag::OCTET_STRING)?.value.to_vec();
    explicit.finish()?;
    encap.finish()?;
    let mut certificates = Vec::new();
    if let Some(certs) = signed_data.read_optional(tag::context(0))? {
        let mut r = certs.reader();
        while !r.is_empty() {
            let c = r.read_any()?;
            // Only X.509 certificates (plain SEQUENCEs) among the CertificateChoices.
            if c.tag == tag::SEQUENCE {
                certificates.push(c.raw.to_vec());
            }
        }
    }
    signed_data.read_optional(tag::context(1))?; // CRLs, unused
    let mut signer_infos = signed_data.read(tag::SET)?.reader();
    signed_data.finish()?;
    let mut infos = Vec::new();
    while !signer_infos.is_empty() {
        infos.push(signer_infos.read(tag::SEQUENCE)?);
    }
    let [info] = infos.as_slice() else {
        return Err(TsaError::SignerCount(infos.len()));
    };
    let mut si = info.reader();
    si.read(tag::INTEGER)?;
    let signer = match si.peek_tag() {
        Some(tag::SEQUENCE) => {
            let mut ias = si.read_sequence()?;
            let issuer = ias.read(tag::SEQUENCE)?.raw.to_vec();
            let serial = ias.read(tag::INTEGER)?.value.to_vec();
            ias.finish()?;
            SignerId::IssuerSerial { issuer, serial }
        }
        _ => SignerId::SubjectKeyId(si.read(tag::context_primitive(0))?.value.to_vec()),
    };
    let digest_alg = hash_alg(&mut si)?;
    let attrs = si
        .read_optional(tag::context(0))?
        .ok_or(TsaError::NoSignedAttributes)?;
    let scheme = signature_scheme(&mut si, digest_alg)?;
    let signature = si.read(tag::OCTET_STRING)?.value.to_vec();
    si.read_optional(tag::context(1))?; // unsigned attributes
    si.finish()?;

    let mut content_type = None;
    let mut content_digest = None;
    let mut signing_certificate = None;
    let mut r = attrs.reader();
    while !r.is_empty() {
        let mut attr = r.read_sequence()?;
        let attr_type = attr.read(tag::OID)?.oid()?;
        let mut values = attr.read(tag::SET)?.reader();
        attr.finish()?;
        let value = values.read_any()?;
        match attr_type.as_bytes() {
            CONTENT_TYPE => {
                content_type = Some(
                    der::parse_single(value.raw, tag::OID)?
                        .oid()?
                        .as_bytes()
                        .to_vec(),
                )
            }
            MESSAGE_DIGEST => {
                content_digest = Some(
                    der::parse_single(value.raw, tag::OCTET_STRING)?
                        .value
                        .to_vec(),
                )
            }
            SIGNING_CERTIFICATE_V2 => signing_certificate = Some(ess_cert_hash(value, true)?),
            SIGNING_CERTIFICATE => signing_certificate = Some(ess_cert_hash(value, false)?),
            _ => {}
        }
    }
    if content_type.as_deref() != Some(TST_INFO) {
        return Err(TsaError::MissingAttribute("a TSTInfo content type"));
    }
    let content_digest = content_digest.ok_or(TsaError::MissingAttribute("a message digest"))?;
    // The signature covers the attributes encoded as a SET OF, not as the [0] they are stored in.
    let mut signed_attrs = attrs.raw.to_vec();
    signed_attrs[0] = tag::SET;

    let mut tst = Reader::new(der::parse_single(&econtent, tag::SEQUENCE)?.value);
    tst.read(tag::INTEGER)?;
    tst.read(tag::OID)?; // policy
    let mut imprint = tst.read_sequence()?;
    let imprint_alg = hash_alg(&mut imprint)?;
    let imprint_value = imprint.read(tag::OCTET_STRING)?.value.to_vec();
    imprint.finish()?;
    tst.read(tag::INTEGER)?; // serial number
    let (secs, nanos) = tst.read(tag::GENERALIZED_TIME)?.time_nanos()?;

    Ok(Token {
        gen_time: Timestamp::from_unix_nanos(secs, nanos),
        imprint_alg,
        imprint: imprint_value,
        certificates,
        signer,
        econtent,
        digest_alg,
        content_digest,
        signing_certificate,
        signed_attrs,
        scheme,
        signature,
    })
}

/// The certificate hash in an ESS SigningCertificate (v1: SHA-1) or SigningCertificateV2
/// (SHA-256 unless the ESSCertIDv2 names another algorithm).
fn ess_cert_hash(value: der::Tlv<'_>, v2: bool) -> Result<(HashAlg, Vec<u8>), TsaError> {
    let mut signing_certificate = der::parse_single(value.raw, tag::SEQUENCE)?.reader();
    let mut certs = signing_certificate.read_sequence()?;
    let mut first = certs.read_sequence()?;
    if !v2 {
        // Version 1 hashes the certificate with SHA-1, which vouch does not compute: a hash it
        // cannot check is refused rather than ignored.
        return Err(TsaError::Algorithm(
            "ESS signingCertificate v1 (SHA-1)".into(),
        ));
    }
    let alg = if first.peek_tag() == Some(tag::SEQUENCE) {
        hash_alg(&mut first)?
    } else {
        HashAlg::Sha256
    };
    let hash = first.read(tag::OCTET_STRING)?.value.to_vec();
    Ok((alg, hash))
}

impl Token {
    /// Whether the token timestamps exactly `message` (for Sigstore: the signature bytes).
    pub fn check_imprint(&self, message: &[u8]) -> Result<(), TsaError> {
        if self.imprint_alg.digest(message) == self.imprint {
            Ok(())
        } else {
            Err(TsaError::ImprintMismatch)
        }
    }

    /// Checks that the certificate `cert_der` with key `key` signed the token: the content
    /// digest attribute, the ESS certificate hash when present, and the signature.
    pub fn verify_signed_by(&self, cert_der: &[u8], key: &PublicKey) -> Result<(), TsaError> {
        if self.digest_alg.digest(&self.econtent) != self.content_digest {
            return Err(TsaError::ContentDigestMismatch);
        }
        if let Some((alg, hash)) = &self.signing_certificate
            && alg.digest(cert_der) != *hash
        {
            return Err(TsaError::SigningCertificateMismatch);
        }
        key.verify(self.scheme, &self.signed_attrs, &self.signature)
            .map_err(|_| TsaError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Bundle;

    fn token(case: &str) -> (Token, Bundle) {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/signing/sigstore-conformance/bundle-verify")
            .join(case)
            .join("bundle.sigstore.json");
        let bundle = Bundle::from_json(&std::fs::read(&p).unwrap()).unwrap();
        let t = parse(&bundle.rfc3161_timestamps[0]).unwrap_or_else(|e| panic!("{case}: {e}"));
        (t, bundle)
    }

    #[test]
    fn parses_real_tokens_and_checks_their_imprint() {
        for case in [
            "rekor2-happy-path",
            "rekor2-timestamp-with-embedded-cert",
            "rekor2-timestamp-without-embedded-cert",
        ] {
            let (t, bundle) = token(case);
            t.check_imprint(bundle.content.signature())
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert!(t.gen_time.secs() > 1_700_000_000, "{case}");
        }
        let (t, _) = token("rekor2-timestamp-with-embedded-cert");
        assert_eq!(t.certificates.len(), 1);
        let (t, _) = token("rekor2-timestamp-without-embedded-cert");
        assert!(t.certificates.is_empty());
        let (t, bundle) = token("rekor2-timestamp-payload-mismatch_fail");
        assert_eq!(
            t.check_imprint(bundle.content.signature()),
            Err(TsaError::ImprintMismatch)
        );
    }

    #[test]
    fn embedded_signer_verifies() {
        let (t, _) = token("rekor2-timestamp-with-embedded-cert");
        let cert = &t.certificates[0];
        // The SubjectPublicKeyInfo of the embedded certificate: tbs is its first element,
        // and inside it the 7th (after version, serial, signature, issuer, validity, subject).
        let mut c = Reader::new(der::parse_single(cert, tag::SEQUENCE).unwrap().value);
        let mut tbs = c.read_sequence().unwrap();
        tbs.read(tag::context(0)).unwrap();
        for _ in 0..5 {
            tbs.read_any().unwrap();
        }
        let key = PublicKey::from_spki_der(tbs.read(tag::SEQUENCE).unwrap().raw).unwrap();
        t.verify_signed_by(cert, &key).unwrap();
        let mut tampered = t.clone();
        tampered.signed_attrs[10] ^= 1;
        assert_eq!(
            tampered.verify_signed_by(cert, &key),
            Err(TsaError::BadSignature)
        );
        let mut other_cert = cert.clone();
        *other_cert.last_mut().unwrap() ^= 1;
        assert_eq!(
            t.verify_signed_by(&other_cert, &key),
            Err(TsaError::SigningCertificateMismatch)
        );
    }
}
