//! X.509 certificates for Sigstore verification: a strict parser over [`crate::der`], signature
//! checks over the raw TBSCertificate, and chain validation at a time the caller passes (the
//! signing time, never "now"). The SCTs Fulcio embeds are verified in [`crate::sct`].
//!
//! Names are compared by their DER bytes; the readable forms exist for messages only.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use crate::der::{self, DerError, Oid, Reader, Tlv, oid, tag};
use crate::keys::{self, HashAlg, KeyError, PublicKey, Scheme, SignatureError};
use crate::pem::{self, PemError};

/// Object identifiers of the extensions, key purposes and name attributes read here.
pub mod oids {
    use crate::der::Oid;

    /// 2.5.29.19
    pub const BASIC_CONSTRAINTS: Oid<'static> = Oid::new(&[0x55, 0x1d, 0x13]);
    /// 2.5.29.15
    pub const KEY_USAGE: Oid<'static> = Oid::new(&[0x55, 0x1d, 0x0f]);
    /// 2.5.29.37
    pub const EXTENDED_KEY_USAGE: Oid<'static> = Oid::new(&[0x55, 0x1d, 0x25]);
    /// 2.5.29.17
    pub const SUBJECT_ALT_NAME: Oid<'static> = Oid::new(&[0x55, 0x1d, 0x11]);
    /// 2.5.29.14
    pub const SUBJECT_KEY_IDENTIFIER: Oid<'static> = Oid::new(&[0x55, 0x1d, 0x0e]);
    /// 2.5.29.35
    pub const AUTHORITY_KEY_IDENTIFIER: Oid<'static> = Oid::new(&[0x55, 0x1d, 0x23]);
    /// 2.5.29.37.0
    pub const ANY_EXTENDED_KEY_USAGE: Oid<'static> = Oid::new(&[0x55, 0x1d, 0x25, 0x00]);
    /// 1.3.6.1.5.5.7.3.3
    pub const CODE_SIGNING: Oid<'static> =
        Oid::new(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03]);
    /// 1.3.6.1.5.5.7.3.8
    pub const TIME_STAMPING: Oid<'static> =
        Oid::new(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08]);
    /// 1.3.6.1.4.1.57264.1.1: Fulcio's OIDC issuer as raw bytes (deprecated).
    pub const FULCIO_ISSUER_V1: Oid<'static> =
        Oid::new(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x01]);
    /// 1.3.6.1.4.1.57264.1.7: the otherName type of a Fulcio username SAN.
    pub const FULCIO_USERNAME: Oid<'static> =
        Oid::new(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x07]);
    /// 1.3.6.1.4.1.57264.1.8: Fulcio's OIDC issuer as a DER UTF8String.
    pub const FULCIO_ISSUER_V2: Oid<'static> =
        Oid::new(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x08]);
    /// 1.3.6.1.4.1.11129.2.4.2: the embedded SignedCertificateTimestampList (RFC 6962).
    pub const SCT_LIST: Oid<'static> =
        Oid::new(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02]);

    /// Name attributes shown by their short names in readable names.
    pub(crate) const ATTRIBUTES: &[(&[u8], &str)] = &[
        (&[0x55, 0x04, 0x03], "CN"),
        (&[0x55, 0x04, 0x05], "serialNumber"),
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x09], "STREET"),
        (&[0x55, 0x04, 0x0a], "O"),
        (&[0x55, 0x04, 0x0b], "OU"),
        (&[0x55, 0x04, 0x11], "postalCode"),
        (
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
            "emailAddress",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
            "DC",
        ),
    ];
}

/// Why bytes are not a certificate vouch accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("certificate {field} is malformed: {source}")]
    Der {
        field: &'static str,
        #[source]
        source: DerError,
    },
    #[error("certificate version {0} is not supported")]
    UnsupportedVersion(u64),
    #[error("certificate {0} encodes its default value, which DER forbids")]
    ExplicitDefault(&'static str),
    #[error("a v{version} certificate cannot carry {field}")]
    FieldNotAllowed { version: u8, field: &'static str },
    #[error("certificate serial number has {0} bytes, more than the 20 RFC 5280 allows")]
    SerialTooLong(usize),
    #[error("certificate signature algorithm differs from the one in its TBSCertificate")]
    AlgorithmMismatch,
    #[error("certificate {field} is invalid: {problem}")]
    InvalidName {
        field: &'static str,
        problem: &'static str,
    },
    #[error("certificate public key: {0}")]
    PublicKey(#[source] KeyError),
    #[error("certificate extensions field holds no extension")]
    EmptyExtensions,
    #[error("certificate has the {0} extension more than once")]
    DuplicateExtension(ObjectId),
    #[error("certificate {extension} extension is malformed: {source}")]
    BadExtension {
        extension: &'static str,
        #[source]
        source: DerError,
    },
    #[error("certificate {extension} extension is invalid: {problem}")]
    InvalidExtension {
        extension: &'static str,
        problem: &'static str,
    },
    #[error("certificate PEM: {0}")]
    Pem(#[from] PemError),
    #[error("expected one PEM CERTIFICATE block, found {0} blocks")]
    PemBlockCount(usize),
    #[error("PEM block {0:?} is not a CERTIFICATE")]
    PemLabel(String),
}

/// A signature algorithm that parses but that vouch does not verify. A certificate carrying
/// one still parses (a trusted root's own signature is never checked), but nothing it signed
/// verifies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsupportedSignature {
    #[error("signature algorithm {0} is not supported")]
    Algorithm(ObjectId),
    #[error("signature algorithm {0} carries parameters it must not have")]
    Parameters(ObjectId),
    #[error("RSASSA-PSS without an explicit hash (the default, SHA-1, is not supported)")]
    PssDefaultHash,
    #[error("RSASSA-PSS hash {0} is not supported")]
    PssHash(ObjectId),
    #[error("RSASSA-PSS mask generation function {0} is not MGF1")]
    PssMgf(ObjectId),
    #[error("RSASSA-PSS MGF1 hash differs from the signature hash")]
    PssMgfHash,
    #[error("RSASSA-PSS salt length is {salt}, not the hash length {want}")]
    PssSaltLength { salt: u64, want: usize },
    #[error("RSASSA-PSS trailer field is present (its only valid value is the default)")]
    PssTrailer,
}

/// Why a certificate's signature did not verify under a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertSignatureError {
    #[error(transparent)]
    Unsupported(#[from] UnsupportedSignature),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// Why no certificate path from a leaf to a trusted root was accepted. `cert` and `issuer`
/// are readable descriptions ([`Certificate::describe`]); times are shown in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    #[error("no trusted roots were given")]
    NoTrustedRoots,
    #[error(
        "certificate \"{cert}\" is not valid before {}, signing time {}",
        format_time(*not_before),
        format_time(*at)
    )]
    NotYetValid {
        cert: String,
        not_before: i64,
        at: i64,
    },
    #[error(
        "certificate \"{cert}\" expired at {}, signing time {}",
        format_time(*not_after),
        format_time(*at)
    )]
    Expired {
        cert: String,
        not_after: i64,
        at: i64,
    },
    #[error("certificate \"{cert}\" has a critical extension vouch does not process: {oid}")]
    UnhandledCriticalExtension { cert: String, oid: ObjectId },
    #[error("leaf certificate \"{cert}\" is a CA")]
    LeafIsCa { cert: String },
    #[error("leaf certificate \"{cert}\" has a key usage without digitalSignature")]
    LeafKeyUsage { cert: String },
    #[error("leaf certificate \"{cert}\" has an extended key usage without code signing")]
    LeafNotForCodeSigning { cert: String },
    #[error("leaf certificate \"{cert}\" is not for time stamping")]
    LeafNotForTimeStamping { cert: String },
    #[error("issuer \"{issuer}\" of \"{cert}\" is not among the intermediates and trusted roots")]
    IssuerNotFound { cert: String, issuer: String },
    #[error("signature of \"{cert}\" does not verify with the key of \"{issuer}\": {source}")]
    BadSignature {
        cert: String,
        issuer: String,
        #[source]
        source: CertSignatureError,
    },
    #[error("issuer \"{issuer}\" of \"{cert}\" is not a CA")]
    IssuerNotCa { cert: String, issuer: String },
    #[error("issuer \"{issuer}\" has a key usage without keyCertSign")]
    IssuerCannotSignCertificates { issuer: String },
    #[error(
        "issuer \"{issuer}\" allows {path_len} intermediate CAs below it, the path has {below}"
    )]
    PathLenExceeded {
        issuer: String,
        path_len: u64,
        below: usize,
    },
    #[error("issuer \"{issuer}\" has an extended key usage without code signing")]
    IssuerNotForCodeSigning { issuer: String },
    #[error("issuer \"{issuer}\" has an extended key usage without time stamping")]
    IssuerNotForTimeStamping { issuer: String },
    #[error("certificate \"{cert}\" is self-signed and not a trusted root")]
    UntrustedSelfSigned { cert: String },
    #[error("certificate path loops back to \"{cert}\"")]
    Loop { cert: String },
    #[error("no path to a trusted root within {max} certificates")]
    TooLong { max: usize },
    #[error("gave up after {checks} signature checks without a path to a trusted root")]
    SearchLimit { checks: usize },
}

/// An OBJECT IDENTIFIER owned (its DER contents bytes); shown in dotted form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ObjectId(Vec<u8>);

impl ObjectId {
    pub fn as_oid(&self) -> Oid<'_> {
        Oid::new(&self.0)
    }
}

impl From<Oid<'_>> for ObjectId {
    fn from(oid: Oid<'_>) -> ObjectId {
        ObjectId(oid.as_bytes().to_vec())
    }
}

impl PartialEq<Oid<'_>> for ObjectId {
    fn eq(&self, other: &Oid<'_>) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_oid(), f)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_oid(), f)
    }
}

/// One extension as it appears in the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub oid: ObjectId,
    pub critical: bool,
    /// The contents of extnValue (the DER of the extension's own structure).
    pub value: Vec<u8>,
    /// Where the whole Extension SEQUENCE sits in the certificate's DER.
    raw: Range<usize>,
}

/// basicConstraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicConstraints {
    pub ca: bool,
    /// How many intermediate CAs may follow this one in a path (pathLenConstraint).
    pub path_len: Option<u64>,
}

/// keyUsage, as a mask over the named bits of RFC 5280 4.2.1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUsage(pub u16);

impl KeyUsage {
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub const NON_REPUDIATION: u16 = 1 << 1;
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    pub const DATA_ENCIPHERMENT: u16 = 1 << 3;
    pub const KEY_AGREEMENT: u16 = 1 << 4;
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
    pub const CRL_SIGN: u16 = 1 << 6;
    pub const ENCIPHER_ONLY: u16 = 1 << 7;
    pub const DECIPHER_ONLY: u16 = 1 << 8;

    pub fn contains(self, bits: u16) -> bool {
        self.0 & bits == bits
    }
}

/// One subjectAltName entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GeneralName {
    /// rfc822Name.
    Email(String),
    /// dNSName.
    Dns(String),
    /// uniformResourceIdentifier.
    Uri(String),
    /// Fulcio's username: otherName 1.3.6.1.4.1.57264.1.7 holding a UTF8String.
    Username(String),
    /// Any other otherName: its type and the DER of its value.
    OtherName {
        type_id: ObjectId,
        value: Vec<u8>,
    },
    /// directoryName: the DER of the Name.
    DirectoryName(Vec<u8>),
    /// iPAddress: 4 or 16 bytes.
    IpAddress(Vec<u8>),
    RegisteredId(ObjectId),
    /// x400Address or ediPartyName, kept by tag only.
    Unsupported {
        tag: u8,
    },
}

impl GeneralName {
    /// The name as a signer identity (email, URI, DNS name or Fulcio username), if it is one.
    pub fn identity(&self) -> Option<&str> {
        match self {
            GeneralName::Email(s)
            | GeneralName::Dns(s)
            | GeneralName::Uri(s)
            | GeneralName::Username(s) => Some(s),
            _ => None,
        }
    }
}

/// A parsed certificate. It keeps its DER; every accessor returning bytes returns a slice of
/// it, so the TBSCertificate that signatures cover is exactly the input's.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    /// The TBSCertificate TLV, and where its contents start.
    tbs: Range<usize>,
    tbs_contents_start: usize,
    /// The `[3]` extensions field, if any; it is the last field of the TBSCertificate.
    extensions_field: Option<Range<usize>>,
    version: u8,
    serial: Range<usize>,
    signature_algorithm: Range<usize>,
    scheme: Result<Scheme, UnsupportedSignature>,
    signature: Range<usize>,
    issuer: Range<usize>,
    subject: Range<usize>,
    issuer_text: String,
    subject_text: String,
    not_before: i64,
    not_after: i64,
    spki: Range<usize>,
    public_key: PublicKey,
    extensions: Vec<Extension>,
    basic_constraints: Option<BasicConstraints>,
    key_usage: Option<KeyUsage>,
    extended_key_usage: Option<Vec<ObjectId>>,
    subject_alt_names: Vec<GeneralName>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    fulcio_issuer_v1: Option<String>,
    fulcio_issuer_v2: Option<String>,
    sct_list: Option<Vec<u8>>,
    unhandled_critical: Vec<ObjectId>,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        // Everything else is derived from the DER.
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject_text)
            .field("issuer", &self.issuer_text)
            .field("serial", &keys::hex(self.serial()))
            .field("not_before", &format_time(self.not_before))
            .field("not_after", &format_time(self.not_after))
            .field("san", &self.subject_alt_names)
            .finish_non_exhaustive()
    }
}

/// Maps a DER error to [`CertError::Der`] naming the field.
fn at(field: &'static str) -> impl Fn(DerError) -> CertError {
    move |source| CertError::Der { field, source }
}

/// Maps a DER error to [`CertError::BadExtension`] naming the extension.
fn in_ext(extension: &'static str) -> impl Fn(DerError) -> CertError {
    move |source| CertError::BadExtension { extension, source }
}

/// Where `part`, a subslice of `whole`, sits in it.
fn range_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    // Every slice handed here comes from a reader over `whole`, so it lies inside it.
    let start = part.as_ptr().addr() - whole.as_ptr().addr();
    debug_assert!(start + part.len() <= whole.len());
    start..start + part.len()
}

impl Certificate {
    /// Parses one DER certificate; nothing may follow it.
    pub fn from_der(input: &[u8]) -> Result<Certificate, CertError> {
        let der = input.to_vec();
        let outer = der::parse_single(&der, tag::SEQUENCE).map_err(at("structure"))?;
        let mut cert = outer.reader();
        let tbs = cert.read(tag::SEQUENCE).map_err(at("TBSCertificate"))?;
        let outer_alg = cert.read(tag::SEQUENCE).map_err(at("signatureAlgorithm"))?;
        let signature = cert
            .read(tag::BIT_STRING)
            .map_err(at("signatureValue"))?
            .bit_string()
            .map_err(at("signatureValue"))?;
        cert.finish().map_err(at("structure"))?;

        let mut t = tbs.reader();
        let version = match t.read_optional(tag::context(0)).map_err(at("version"))? {
            None => 1,
            Some(v) => {
                let n = der::parse_single(v.value, tag::INTEGER)
                    .and_then(|i| i.u64())
                    .map_err(at("version"))?;
                match n {
                    0 => return Err(CertError::ExplicitDefault("version")),
                    1 => 2,
                    2 => 3,
                    n => return Err(CertError::UnsupportedVersion(n.saturating_add(1))),
                }
            }
        };
        let serial = t
            .read(tag::INTEGER)
            .and_then(|i| i.unsigned_integer())
            .map_err(at("serialNumber"))?;
        if serial.len() > 20 {
            return Err(CertError::SerialTooLong(serial.len()));
        }
        let inner_alg = t.read(tag::SEQUENCE).map_err(at("signature"))?;
        if inner_alg.raw != outer_alg.raw {
            return Err(CertError::AlgorithmMismatch);
        }
        let scheme = signature_scheme(outer_alg).map_err(at("signatureAlgorithm"))?;
        let issuer = t.read(tag::SEQUENCE).map_err(at("issuer"))?;
        let issuer_text = name_text(issuer, "issuer")?;
        let mut validity = t.read_sequence().map_err(at("validity"))?;
        let not_before = read_time(&mut validity).map_err(at("notBefore"))?;
        let not_after = read_time(&mut validity).map_err(at("notAfter"))?;
        validity.finish().map_err(at("validity"))?;
        let subject = t.read(tag::SEQUENCE).map_err(at("subject"))?;
        let subject_text = name_text(subject, "subject")?;
        let spki = t.read(tag::SEQUENCE).map_err(at("subjectPublicKeyInfo"))?;
        let public_key = PublicKey::from_spki_der(spki.raw).map_err(CertError::PublicKey)?;
        for (n, field) in [(1, "issuerUniqueID"), (2, "subjectUniqueID")] {
            if t.read_optional(tag::context_primitive(n))
                .map_err(at(field))?
                .is_some()
                && version < 2
            {
                return Err(CertError::FieldNotAllowed { version, field });
            }
        }
        let extensions_field = t.read_optional(tag::context(3)).map_err(at("extensions"))?;
        t.finish().map_err(at("TBSCertificate"))?;

        let mut parsed = Certificate {
            tbs: range_in(&der, tbs.raw),
            tbs_contents_start: range_in(&der, tbs.value).start,
            extensions_field: extensions_field.map(|e| range_in(&der, e.raw)),
            version,
            serial: range_in(&der, serial),
            signature_algorithm: range_in(&der, outer_alg.raw),
            scheme,
            signature: range_in(&der, signature),
            issuer: range_in(&der, issuer.raw),
            subject: range_in(&der, subject.raw),
            issuer_text,
            subject_text,
            not_before,
            not_after,
            spki: range_in(&der, spki.raw),
            public_key,
            extensions: Vec::new(),
            basic_constraints: None,
            key_usage: None,
            extended_key_usage: None,
            subject_alt_names: Vec::new(),
            subject_key_id: None,
            authority_key_id: None,
            fulcio_issuer_v1: None,
            fulcio_issuer_v2: None,
            sct_list: None,
            unhandled_critical: Vec::new(),
            der: Vec::new(),
        };
        if let Some(field) = extensions_field {
            if version < 3 {
                return Err(CertError::FieldNotAllowed {
                    version,
                    field: "extensions",
                });
            }
            parsed.read_extensions(&der, field)?;
        }
        parsed.der = der;
        Ok(parsed)
    }

    /// Parses text holding exactly one PEM `CERTIFICATE` block.
    pub fn from_pem(text: &str) -> Result<Certificate, CertError> {
        let mut certs = certificates_from_pem(text)?;
        match certs.len() {
            1 => Ok(certs.remove(0)),
            n => Err(CertError::PemBlockCount(n)),
        }
    }

    fn read_extensions(&mut self, der: &[u8], field: Tlv<'_>) -> Result<(), CertError> {
        let list = der::parse_single(field.value, tag::SEQUENCE).map_err(at("extensions"))?;
        let mut r = list.reader();
        if r.is_empty() {
            return Err(CertError::EmptyExtensions);
        }
        let mut seen = HashSet::new();
        while !r.is_empty() {
            let ext = r.read(tag::SEQUENCE).map_err(at("extensions"))?;
            let mut e = ext.reader();
            let oid = e
                .read(tag::OID)
                .and_then(|o| o.oid())
                .map_err(at("extension id"))?;
            let critical = match e.read_optional(tag::BOOLEAN).map_err(at("extension"))? {
                Some(b) if b.boolean().map_err(at("extension critical flag"))? => true,
                Some(_) => return Err(CertError::ExplicitDefault("extension critical flag")),
                None => false,
            };
            let value = e.read(tag::OCTET_STRING).map_err(at("extension value"))?;
            e.finish().map_err(at("extension"))?;
            if !seen.insert(oid.as_bytes()) {
                return Err(CertError::DuplicateExtension(oid.into()));
            }
            if !self.read_extension(oid, value.value)? && critical {
                self.unhandled_critical.push(oid.into());
            }
            self.extensions.push(Extension {
                oid: oid.into(),
                critical,
                value: value.value.to_vec(),
                raw: range_in(der, ext.raw),
            });
        }
        Ok(())
    }

    /// Reads one extension vouch knows; false for any other.
    fn read_extension(&mut self, id: Oid<'_>, value: &[u8]) -> Result<bool, CertError> {
        if id == oids::BASIC_CONSTRAINTS {
            let ext = "basicConstraints";
            let seq = der::parse_single(value, tag::SEQUENCE).map_err(in_ext(ext))?;
            let mut r = seq.reader();
            let ca = match r.read_optional(tag::BOOLEAN).map_err(in_ext(ext))? {
                Some(b) if b.boolean().map_err(in_ext(ext))? => true,
                Some(_) => return Err(CertError::ExplicitDefault("basicConstraints cA")),
                None => false,
            };
            let path_len = r
                .read_optional(tag::INTEGER)
                .and_then(|i| i.map(|i| i.u64()).transpose())
                .map_err(in_ext(ext))?;
            r.finish().map_err(in_ext(ext))?;
            if path_len.is_some() && !ca {
                return Err(CertError::InvalidExtension {
                    extension: ext,
                    problem: "pathLenConstraint without cA",
                });
            }
            self.basic_constraints = Some(BasicConstraints { ca, path_len });
        } else if id == oids::KEY_USAGE {
            let ext = "keyUsage";
            let bits = der::parse_single(value, tag::BIT_STRING)
                .and_then(|b| b.named_bits())
                .map_err(in_ext(ext))?;
            let bits = u16::try_from(bits).map_err(|_| CertError::InvalidExtension {
                extension: ext,
                problem: "bits beyond decipherOnly are set",
            })?;
            self.key_usage = Some(KeyUsage(bits));
        } else if id == oids::EXTENDED_KEY_USAGE {
            let ext = "extendedKeyUsage";
            let seq = der::parse_single(value, tag::SEQUENCE).map_err(in_ext(ext))?;
            let mut r = seq.reader();
            let mut purposes = Vec::new();
            while !r.is_empty() {
                let purpose = r
                    .read(tag::OID)
                    .and_then(|o| o.oid())
                    .map_err(in_ext(ext))?;
                purposes.push(purpose.into());
            }
            if purposes.is_empty() {
                return Err(CertError::InvalidExtension {
                    extension: ext,
                    problem: "no key purpose",
                });
            }
            self.extended_key_usage = Some(purposes);
        } else if id == oids::SUBJECT_ALT_NAME {
            self.subject_alt_names = general_names(value)?;
        } else if id == oids::SUBJECT_KEY_IDENTIFIER {
            let ext = "subjectKeyIdentifier";
            let id = der::parse_single(value, tag::OCTET_STRING).map_err(in_ext(ext))?;
            self.subject_key_id = Some(id.value.to_vec());
        } else if id == oids::AUTHORITY_KEY_IDENTIFIER {
            let ext = "authorityKeyIdentifier";
            let seq = der::parse_single(value, tag::SEQUENCE).map_err(in_ext(ext))?;
            let mut r = seq.reader();
            let key_id = r
                .read_optional(tag::context_primitive(0))
                .map_err(in_ext(ext))?;
            r.read_optional(tag::context(1)).map_err(in_ext(ext))?;
            r.read_optional(tag::context_primitive(2))
                .map_err(in_ext(ext))?;
            r.finish().map_err(in_ext(ext))?;
            self.authority_key_id = key_id.map(|k| k.value.to_vec());
        } else if id == oids::FULCIO_ISSUER_V1 {
            let issuer = std::str::from_utf8(value)
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or(CertError::InvalidExtension {
                    extension: "Fulcio OIDC issuer (1.3.6.1.4.1.57264.1.1)",
                    problem: "not a non-empty UTF-8 string",
                })?;
            self.fulcio_issuer_v1 = Some(issuer.to_owned());
        } else if id == oids::FULCIO_ISSUER_V2 {
            let ext = "Fulcio OIDC issuer (1.3.6.1.4.1.57264.1.8)";
            let issuer = der::parse_single(value, tag::UTF8_STRING)
                .and_then(|s| s.string())
                .map_err(in_ext(ext))?;
            if issuer.is_empty() {
                return Err(CertError::InvalidExtension {
                    extension: ext,
                    problem: "empty",
                });
            }
            self.fulcio_issuer_v2 = Some(issuer.to_owned());
        } else if id == oids::SCT_LIST {
            let ext = "SignedCertificateTimestampList";
            let list = der::parse_single(value, tag::OCTET_STRING).map_err(in_ext(ext))?;
            self.sct_list = Some(list.value.to_vec());
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// The whole certificate, as parsed.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The TBSCertificate, exactly as in the input: what the issuer signed.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// Where [`Certificate::tbs_der`] sits inside [`Certificate::der`].
    pub fn tbs_range(&self) -> Range<usize> {
        self.tbs.clone()
    }

    /// 1, 2 or 3.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The serial number's big-endian magnitude (it is never negative).
    pub fn serial(&self) -> &[u8] {
        &self.der[self.serial.clone()]
    }

    /// The signature AlgorithmIdentifier's DER (equal inside and outside the TBSCertificate).
    pub fn signature_algorithm_der(&self) -> &[u8] {
        &self.der[self.signature_algorithm.clone()]
    }

    /// The scheme the issuer signed with, or why vouch cannot verify it.
    pub fn signature_scheme(&self) -> Result<Scheme, &UnsupportedSignature> {
        self.scheme.as_ref().copied()
    }

    pub fn signature(&self) -> &[u8] {
        &self.der[self.signature.clone()]
    }

    /// The issuer Name's DER; chains are built by comparing these bytes.
    pub fn issuer_der(&self) -> &[u8] {
        &self.der[self.issuer.clone()]
    }

    pub fn subject_der(&self) -> &[u8] {
        &self.der[self.subject.clone()]
    }

    /// The issuer in RFC 4514 order (`CN=sigstore-intermediate,O=sigstore.dev`), for messages.
    pub fn issuer(&self) -> &str {
        &self.issuer_text
    }

    /// The subject for messages; Fulcio leaves have an empty one.
    pub fn subject(&self) -> &str {
        &self.subject_text
    }

    /// notBefore, Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// notAfter, Unix seconds; the certificate is valid through this second.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Whether `time` lies within the validity period, both ends included (RFC 5280 4.1.2.5).
    pub fn is_valid_at(&self, time: i64) -> bool {
        self.not_before <= time && time <= self.not_after
    }

    /// The SubjectPublicKeyInfo's DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.der[self.spki.clone()]
    }

    /// This certificate, its key remembering up to `capacity` signatures it verified (see
    /// [`PublicKey::with_signature_memo`]): for the CA and timestamp certificates of a trusted
    /// root, which check the same leaves and tokens again.
    pub fn with_signature_memo(mut self, capacity: usize) -> Certificate {
        self.public_key = self.public_key.with_signature_memo(capacity);
        self
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Every extension, in order.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    pub fn extension(&self, id: Oid<'_>) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.oid == id)
    }

    pub fn basic_constraints(&self) -> Option<BasicConstraints> {
        self.basic_constraints
    }

    /// Whether basicConstraints says cA.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints.is_some_and(|b| b.ca)
    }

    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.key_usage
    }

    pub fn extended_key_usage(&self) -> Option<&[ObjectId]> {
        self.extended_key_usage.as_deref()
    }

    /// Whether the extended key usage, if present, lists one of `purposes`. A certificate
    /// without the extension is not restricted.
    fn eku_allows(&self, purposes: &[Oid<'_>]) -> bool {
        self.extended_key_usage
            .as_ref()
            .is_none_or(|eku| eku.iter().any(|p| purposes.iter().any(|q| p == q)))
    }

    /// The subjectAltName entries (empty without the extension).
    pub fn subject_alt_names(&self) -> &[GeneralName] {
        &self.subject_alt_names
    }

    /// The SAN entries that name a signer: emails, URIs, DNS names, Fulcio usernames.
    pub fn san_identities(&self) -> impl Iterator<Item = &str> {
        self.subject_alt_names
            .iter()
            .filter_map(GeneralName::identity)
    }

    pub fn subject_key_id(&self) -> Option<&[u8]> {
        self.subject_key_id.as_deref()
    }

    /// The authorityKeyIdentifier's keyIdentifier.
    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.authority_key_id.as_deref()
    }

    /// The OIDC issuer Fulcio recorded: 1.3.6.1.4.1.57264.1.8, else the deprecated .1.
    pub fn oidc_issuer(&self) -> Option<&str> {
        self.fulcio_issuer_v2
            .as_deref()
            .or(self.fulcio_issuer_v1.as_deref())
    }

    /// The TLS-encoded SignedCertificateTimestampList from the SCT extension.
    pub fn sct_list(&self) -> Option<&[u8]> {
        self.sct_list.as_deref()
    }

    /// Critical extensions vouch does not process; such a certificate cannot be in a
    /// verified path.
    pub fn unhandled_critical_extensions(&self) -> &[ObjectId] {
        &self.unhandled_critical
    }

    /// The TBSCertificate re-encoded without the extension `id` (all other bytes as they
    /// were), or `None` if the certificate lacks it. RFC 6962 signs the precertificate's TBS,
    /// which is this without the SCT list.
    pub fn tbs_der_without_extension(&self, id: Oid<'_>) -> Option<Vec<u8>> {
        let field = self.extensions_field.clone()?;
        self.extension(id)?;
        let kept: Vec<u8> = self
            .extensions
            .iter()
            .filter(|e| e.oid != id)
            .flat_map(|e| self.der[e.raw.clone()].iter().copied())
            .collect();
        let mut contents = self.der[self.tbs_contents_start..field.start].to_vec();
        if !kept.is_empty() {
            // Extensions is SIZE (1..MAX): with none left the field goes too.
            contents.extend(der::encode(
                tag::context(3),
                &der::encode(tag::SEQUENCE, &kept),
            ));
        }
        Some(der::encode(tag::SEQUENCE, &contents))
    }

    /// Verifies that `issuer` signed this certificate's TBSCertificate.
    pub fn verify_signed_by(&self, issuer: &PublicKey) -> Result<(), CertSignatureError> {
        let scheme = self.scheme.clone()?;
        issuer.verify(scheme, self.tbs_der(), self.signature())?;
        Ok(())
    }

    /// A short description for messages: the subject, else the first SAN identity (Fulcio
    /// leaves), else the serial number.
    pub fn describe(&self) -> String {
        if !self.subject_text.is_empty() {
            self.subject_text.clone()
        } else if let Some(id) = self.san_identities().next() {
            id.to_owned()
        } else {
            format!("serial {}", keys::hex(self.serial()))
        }
    }
}

/// Every PEM block in `text`, each of which must be a `CERTIFICATE`, in order (a chain file).
pub fn certificates_from_pem(text: &str) -> Result<Vec<Certificate>, CertError> {
    pem::parse_all(text)?
        .into_iter()
        .map(|block| {
            if block.label != "CERTIFICATE" {
                return Err(CertError::PemLabel(block.label));
            }
            Certificate::from_der(&block.data)
        })
        .collect()
}

/// A UTCTime or GeneralizedTime.
fn read_time(r: &mut Reader<'_>) -> Result<i64, DerError> {
    let time = r.read_any()?;
    match time.tag {
        tag::UTC_TIME | tag::GENERALIZED_TIME => time.time(),
        found => Err(DerError::UnexpectedTag {
            expected: tag::UTC_TIME,
            found,
        }),
    }
}

/// Checks a Name's structure (a SEQUENCE of non-empty SETs of type-and-value pairs) and
/// renders it in RFC 4514 order for messages.
fn name_text(name: Tlv<'_>, field: &'static str) -> Result<String, CertError> {
    let mut rdns = Vec::new();
    let mut r = name.reader();
    while !r.is_empty() {
        let rdn = r.read(tag::SET).map_err(at(field))?;
        let mut set = rdn.reader();
        if set.is_empty() {
            return Err(CertError::InvalidName {
                field,
                problem: "empty relative distinguished name",
            });
        }
        let mut parts = Vec::new();
        while !set.is_empty() {
            let mut atv = set.read_sequence().map_err(at(field))?;
            let kind = atv
                .read(tag::OID)
                .and_then(|o| o.oid())
                .map_err(at(field))?;
            let value = atv.read_any().map_err(at(field))?;
            atv.finish().map_err(at(field))?;
            let kind = oids::ATTRIBUTES
                .iter()
                .find(|(bytes, _)| *bytes == kind.as_bytes())
                .map_or_else(|| kind.to_string(), |(_, short)| (*short).to_owned());
            let value = match value.string() {
                Ok(s) => s.to_owned(),
                Err(_) => String::from_utf8_lossy(value.value).into_owned(),
            };
            parts.push(format!("{kind}={value}"));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

/// GeneralNames (subjectAltName): at least one entry.
fn general_names(value: &[u8]) -> Result<Vec<GeneralName>, CertError> {
    let ext = "subjectAltName";
    let invalid = |problem| CertError::InvalidExtension {
        extension: ext,
        problem,
    };
    let seq = der::parse_single(value, tag::SEQUENCE).map_err(in_ext(ext))?;
    let mut r = seq.reader();
    let mut names = Vec::new();
    while !r.is_empty() {
        let name = r.read_any().map_err(in_ext(ext))?;
        let ia5 = |v: &[u8]| -> Result<String, CertError> {
            match std::str::from_utf8(v) {
                Ok(s) if s.is_ascii() && !s.is_empty() => Ok(s.to_owned()),
                _ => Err(invalid("a name is empty or not IA5")),
            }
        };
        names.push(match name.tag {
            0xa0 => {
                let mut other = name.reader();
                let type_id = other
                    .read(tag::OID)
                    .and_then(|o| o.oid())
                    .map_err(in_ext(ext))?;
                let explicit = other.read(tag::context(0)).map_err(in_ext(ext))?;
                other.finish().map_err(in_ext(ext))?;
                let mut inner = explicit.reader();
                let value = inner.read_any().map_err(in_ext(ext))?;
                inner.finish().map_err(in_ext(ext))?;
                if type_id == oids::FULCIO_USERNAME {
                    let username = der::parse_single(value.raw, tag::UTF8_STRING)
                        .and_then(|s| s.string())
                        .map_err(in_ext(ext))?;
                    if username.is_empty() {
                        return Err(invalid("empty Fulcio username"));
                    }
                    GeneralName::Username(username.to_owned())
                } else {
                    GeneralName::OtherName {
                        type_id: type_id.into(),
                        value: value.raw.to_vec(),
                    }
                }
            }
            0x81 => GeneralName::Email(ia5(name.value)?),
            0x82 => GeneralName::Dns(ia5(name.value)?),
            0x86 => GeneralName::Uri(ia5(name.value)?),
            0xa4 => {
                let dn = der::parse_single(name.value, tag::SEQUENCE).map_err(in_ext(ext))?;
                name_text(dn, "subjectAltName directoryName")?;
                GeneralName::DirectoryName(dn.raw.to_vec())
            }
            0x87 if matches!(name.value.len(), 4 | 16) => {
                GeneralName::IpAddress(name.value.to_vec())
            }
            0x87 => return Err(invalid("an iPAddress is neither 4 nor 16 bytes")),
            0x88 => {
                let id = Tlv {
                    tag: tag::OID,
                    value: name.value,
                    raw: name.raw,
                }
                .oid()
                .map_err(in_ext(ext))?;
                GeneralName::RegisteredId(id.into())
            }
            0xa3 | 0xa5 => GeneralName::Unsupported { tag: name.tag },
            _ => return Err(invalid("a name has an unknown or mis-encoded tag")),
        });
    }
    if names.is_empty() {
        return Err(invalid("no names"));
    }
    Ok(names)
}

/// The scheme an AlgorithmIdentifier names, or why it is unsupported; `Err` only for
/// malformed DER.
fn signature_scheme(alg: Tlv<'_>) -> Result<Result<Scheme, UnsupportedSignature>, DerError> {
    let mut r = alg.reader();
    let id = r.read(tag::OID)?.oid()?;
    let params = if r.is_empty() {
        None
    } else {
        Some(r.read_any()?)
    };
    r.finish()?;
    let null_or_absent = params.is_none_or(|p| p.tag == tag::NULL && p.value.is_empty());
    let unexpected = || UnsupportedSignature::Parameters(id.into());
    let scheme = |ok: bool, scheme: Scheme| if ok { Ok(scheme) } else { Err(unexpected()) };
    Ok(match id {
        i if i == oid::ECDSA_WITH_SHA256 => {
            scheme(params.is_none(), Scheme::Ecdsa(HashAlg::Sha256))
        }
        i if i == oid::ECDSA_WITH_SHA384 => {
            scheme(params.is_none(), Scheme::Ecdsa(HashAlg::Sha384))
        }
        i if i == oid::ECDSA_WITH_SHA512 => {
            scheme(params.is_none(), Scheme::Ecdsa(HashAlg::Sha512))
        }
        i if i == oid::SHA256_WITH_RSA => scheme(null_or_absent, Scheme::RsaPkcs1(HashAlg::Sha256)),
        i if i == oid::SHA384_WITH_RSA => scheme(null_or_absent, Scheme::RsaPkcs1(HashAlg::Sha384)),
        i if i == oid::SHA512_WITH_RSA => scheme(null_or_absent, Scheme::RsaPkcs1(HashAlg::Sha512)),
        i if i == oid::ED25519 => scheme(params.is_none(), Scheme::Ed25519),
        i if i == oid::RSASSA_PSS => match params {
            Some(p) if p.tag == tag::SEQUENCE => pss_scheme(p)?,
            // Absent parameters mean all defaults: SHA-1.
            None => Err(UnsupportedSignature::PssDefaultHash),
            Some(_) => Err(unexpected()),
        },
        other => Err(UnsupportedSignature::Algorithm(other.into())),
    })
}

/// RSASSA-PSS-params (RFC 4055): the hash is SHA-2, MGF1 uses the same hash, the salt is as
/// long as the hash, and the trailer field is absent.
fn pss_scheme(params: Tlv<'_>) -> Result<Result<Scheme, UnsupportedSignature>, DerError> {
    let mut r = params.reader();
    let hash = r.read_optional(tag::context(0))?;
    let mgf = r.read_optional(tag::context(1))?;
    let salt = r.read_optional(tag::context(2))?;
    let trailer = r.read_optional(tag::context(3))?;
    r.finish()?;
    let Some(hash) = hash else {
        return Ok(Err(UnsupportedSignature::PssDefaultHash));
    };
    let hash = match hash_algorithm(der::parse_single(hash.value, tag::SEQUENCE)?)? {
        Ok(h) => h,
        Err(e) => return Ok(Err(e)),
    };
    // An absent MGF is the default, MGF1 with SHA-1, which cannot match a SHA-2 hash.
    let Some(mgf) = mgf else {
        return Ok(Err(UnsupportedSignature::PssMgfHash));
    };
    let mut m = der::parse_single(mgf.value, tag::SEQUENCE)?.reader();
    let mgf_id = m.read(tag::OID)?.oid()?;
    let mgf_hash = m.read(tag::SEQUENCE)?;
    m.finish()?;
    if mgf_id != oid::MGF1 {
        return Ok(Err(UnsupportedSignature::PssMgf(mgf_id.into())));
    }
    match hash_algorithm(mgf_hash)? {
        Ok(h) if h == hash => {}
        Ok(_) => return Ok(Err(UnsupportedSignature::PssMgfHash)),
        Err(e) => return Ok(Err(e)),
    }
    let salt = match salt {
        Some(s) => der::parse_single(s.value, tag::INTEGER)?.u64()?,
        None => 20,
    };
    if salt != hash.output_len() as u64 {
        return Ok(Err(UnsupportedSignature::PssSaltLength {
            salt,
            want: hash.output_len(),
        }));
    }
    if trailer.is_some() {
        return Ok(Err(UnsupportedSignature::PssTrailer));
    }
    Ok(Ok(Scheme::RsaPss(hash)))
}

/// A hash AlgorithmIdentifier (parameters NULL or absent, RFC 5754).
fn hash_algorithm(alg: Tlv<'_>) -> Result<Result<HashAlg, UnsupportedSignature>, DerError> {
    let mut r = alg.reader();
    let id = r.read(tag::OID)?.oid()?;
    let params = r.read_optional(tag::NULL)?;
    r.finish()?;
    if params.is_some_and(|p| !p.value.is_empty()) {
        return Err(DerError::BadLength);
    }
    Ok(match id {
        i if i == oid::SHA256 => Ok(HashAlg::Sha256),
        i if i == oid::SHA384 => Ok(HashAlg::Sha384),
        i if i == oid::SHA512 => Ok(HashAlg::Sha512),
        other => Err(UnsupportedSignature::PssHash(other.into())),
    })
}

/// The longest path [`verify_chain`] builds, leaf and root included.
pub const MAX_CHAIN_LEN: usize = 8;

/// How many signatures [`verify_chain`] checks before giving up.
pub const MAX_SIGNATURE_CHECKS: usize = 32;

/// Builds and checks a path from `leaf` to one of `trusted_roots`, through `intermediates`,
/// as of `at_time` (Unix seconds: the signing time, never "now"). Returns the path, leaf first
/// and trusted root last.
///
/// - Every certificate in the path is valid at `at_time`, both ends of its validity included.
/// - Each certificate's issuer Name equals the next one's subject Name (DER bytes), and the
///   next one's key verifies its signature.
/// - Each issuer is a CA (basicConstraints cA), has keyCertSign when it has a key usage,
///   permits code signing when it has an extended key usage, and its pathLenConstraint is
///   respected.
/// - The leaf is not a CA, has digitalSignature when it has a key usage, and lists code
///   signing when it has an extended key usage.
/// - No certificate in the path has a critical extension vouch does not process.
/// - The path ends at a certificate whose DER equals one of `trusted_roots`: a trusted root is
///   trusted as it is, and its own signature is never checked. A leaf that is itself a
///   trusted root is a path of one.
///
/// The search tries trusted roots before intermediates, never uses a certificate twice, and is
/// bounded by [`MAX_CHAIN_LEN`] and [`MAX_SIGNATURE_CHECKS`]. When every path fails, the error
/// is the one found furthest from the leaf.
pub fn verify_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    trusted_roots: &[Certificate],
    at_time: i64,
) -> Result<Vec<Certificate>, ChainError> {
    verify_chain_for(
        leaf,
        intermediates,
        trusted_roots,
        at_time,
        Purpose::CodeSigning,
    )
}

/// What a certificate path must be good for: its leaf must list the purpose's extended key
/// usage (when it has any), and every issuer with an extended key usage must permit it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Signing software: Fulcio leaves.
    CodeSigning,
    /// RFC 3161 timestamp authorities. Their leaves must list time stamping (RFC 3161
    /// section 2.3 requires it, critical).
    TimeStamping,
}

impl Purpose {
    fn eku(self) -> Oid<'static> {
        match self {
            Purpose::CodeSigning => oids::CODE_SIGNING,
            Purpose::TimeStamping => oids::TIME_STAMPING,
        }
    }
}

/// [`verify_chain`] for a given [`Purpose`].
pub fn verify_chain_for(
    leaf: &Certificate,
    intermediates: &[Certificate],
    trusted_roots: &[Certificate],
    at_time: i64,
    purpose: Purpose,
) -> Result<Vec<Certificate>, ChainError> {
    chain_path_for(leaf, intermediates, trusted_roots, at_time, purpose)
        .map(|path| path.into_iter().cloned().collect())
}

/// [`verify_chain_for`], returning the path as borrowed certificates: for callers that only
/// need to know the path holds, or its anchor, without copying certificates.
pub fn chain_path_for<'a>(
    leaf: &'a Certificate,
    intermediates: &'a [Certificate],
    trusted_roots: &'a [Certificate],
    at_time: i64,
    purpose: Purpose,
) -> Result<Vec<&'a Certificate>, ChainError> {
    if trusted_roots.is_empty() {
        return Err(ChainError::NoTrustedRoots);
    }
    check_leaf(leaf, at_time, purpose)?;
    let mut search = Search {
        intermediates,
        trusted_roots,
        at_time,
        purpose,
        checks_left: MAX_SIGNATURE_CHECKS,
    };
    if search.is_trusted(leaf) {
        return Ok(vec![leaf]);
    }
    let mut path = vec![leaf];
    search
        .extend(&mut path, leaf)
        .map_err(|(_depth, error)| error)?;
    Ok(path)
}

fn check_leaf(leaf: &Certificate, at: i64, purpose: Purpose) -> Result<(), ChainError> {
    let cert = || leaf.describe();
    if let Some(oid) = leaf.unhandled_critical.first() {
        return Err(ChainError::UnhandledCriticalExtension {
            cert: cert(),
            oid: oid.clone(),
        });
    }
    if leaf.is_ca() {
        return Err(ChainError::LeafIsCa { cert: cert() });
    }
    if leaf
        .key_usage
        .is_some_and(|ku| !ku.contains(KeyUsage::DIGITAL_SIGNATURE))
    {
        return Err(ChainError::LeafKeyUsage { cert: cert() });
    }
    if purpose == Purpose::TimeStamping && leaf.extended_key_usage().is_none() {
        return Err(ChainError::LeafNotForTimeStamping { cert: cert() });
    }
    if !leaf.eku_allows(&[purpose.eku()]) {
        return Err(match purpose {
            Purpose::CodeSigning => ChainError::LeafNotForCodeSigning { cert: cert() },
            Purpose::TimeStamping => ChainError::LeafNotForTimeStamping { cert: cert() },
        });
    }
    check_validity(leaf, at)
}

fn check_validity(cert: &Certificate, at: i64) -> Result<(), ChainError> {
    if at < cert.not_before {
        Err(ChainError::NotYetValid {
            cert: cert.describe(),
            not_before: cert.not_before,
            at,
        })
    } else if at > cert.not_after {
        Err(ChainError::Expired {
            cert: cert.describe(),
            not_after: cert.not_after,
            at,
        })
    } else {
        Ok(())
    }
}

/// Checks `issuer` as the issuer of `child`, at `depth` in the path (the leaf is at 0).
fn check_issuer(
    issuer: &Certificate,
    child: &Certificate,
    depth: usize,
    at: i64,
    purpose: Purpose,
) -> Result<(), ChainError> {
    let name = || issuer.describe();
    if !issuer.is_ca() {
        return Err(ChainError::IssuerNotCa {
            cert: child.describe(),
            issuer: name(),
        });
    }
    if issuer
        .key_usage
        .is_some_and(|ku| !ku.contains(KeyUsage::KEY_CERT_SIGN))
    {
        return Err(ChainError::IssuerCannotSignCertificates { issuer: name() });
    }
    // The CAs between this issuer and the leaf.
    let below = depth - 1;
    if let Some(path_len) = issuer.basic_constraints.and_then(|b| b.path_len)
        && below as u64 > path_len
    {
        return Err(ChainError::PathLenExceeded {
            issuer: name(),
            path_len,
            below,
        });
    }
    if !issuer.eku_allows(&[purpose.eku(), oids::ANY_EXTENDED_KEY_USAGE]) {
        return Err(match purpose {
            Purpose::CodeSigning => ChainError::IssuerNotForCodeSigning { issuer: name() },
            Purpose::TimeStamping => ChainError::IssuerNotForTimeStamping { issuer: name() },
        });
    }
    if let Some(oid) = issuer.unhandled_critical.first() {
        return Err(ChainError::UnhandledCriticalExtension {
            cert: name(),
            oid: oid.clone(),
        });
    }
    check_validity(issuer, at)
}

struct Search<'a> {
    intermediates: &'a [Certificate],
    trusted_roots: &'a [Certificate],
    at_time: i64,
    purpose: Purpose,
    checks_left: usize,
}

impl<'a> Search<'a> {
    /// Takes one signature check from the budget.
    fn spend(&mut self, depth: usize) -> Result<(), (usize, ChainError)> {
        if self.checks_left == 0 {
            return Err((
                depth,
                ChainError::SearchLimit {
                    checks: MAX_SIGNATURE_CHECKS,
                },
            ));
        }
        self.checks_left -= 1;
        Ok(())
    }

    fn is_trusted(&self, cert: &Certificate) -> bool {
        self.trusted_roots.iter().any(|r| r.der == cert.der)
    }

    /// Extends `path`, whose last certificate is `child`, until it ends at a trusted root.
    /// On failure, the error found furthest from the leaf, with that distance.
    fn extend(
        &mut self,
        path: &mut Vec<&'a Certificate>,
        child: &'a Certificate,
    ) -> Result<(), (usize, ChainError)> {
        let depth = path.len();
        if depth >= MAX_CHAIN_LEN {
            return Err((depth, ChainError::TooLong { max: MAX_CHAIN_LEN }));
        }
        // A self-signed certificate ends every path through it: had it been trusted, the
        // search would have stopped there. (A self-issued certificate signed by another key,
        // as a CA rolling its key issues, may go on.)
        if child.issuer_der() == child.subject_der() {
            self.spend(depth)?;
            if child.verify_signed_by(&child.public_key).is_ok() {
                return Err((
                    depth,
                    ChainError::UntrustedSelfSigned {
                        cert: child.describe(),
                    },
                ));
            }
        }
        let mut best: Option<(usize, ChainError)> = None;
        let mut keep = |found: (usize, ChainError)| {
            if best.as_ref().is_none_or(|(d, _)| found.0 > *d) {
                best = Some(found);
            }
        };
        let mut tried: Vec<&[u8]> = Vec::new();
        let (roots, intermediates) = (self.trusted_roots, self.intermediates);
        let mut candidates: Vec<&'a Certificate> = roots
            .iter()
            .chain(intermediates)
            .filter(|c| c.subject_der() == child.issuer_der())
            .collect();
        // Names are shared across key rotations (both public-good Fulcio roots are
        // "CN=sigstore,O=sigstore.dev"): try the candidate whose subject key identifier is the
        // child's authority key identifier first, and one whose identifier differs last. This
        // orders the search and saves signature checks; it never excludes a candidate.
        candidates.sort_by_key(|c| match (child.authority_key_id(), c.subject_key_id()) {
            (Some(a), Some(s)) if a == s => 0,
            (Some(_), Some(_)) => 2,
            _ => 1,
        });
        for candidate in candidates {
            if tried.contains(&candidate.der()) {
                continue;
            }
            tried.push(candidate.der());
            if path.iter().any(|p| p.der == candidate.der) {
                keep((
                    depth,
                    ChainError::Loop {
                        cert: candidate.describe(),
                    },
                ));
                continue;
            }
            self.spend(depth)?;
            if let Err(source) = child.verify_signed_by(&candidate.public_key) {
                keep((
                    depth,
                    ChainError::BadSignature {
                        cert: child.describe(),
                        issuer: candidate.describe(),
                        source,
                    },
                ));
                continue;
            }
            if let Err(e) = check_issuer(candidate, child, depth, self.at_time, self.purpose) {
                keep((depth, e));
                continue;
            }
            path.push(candidate);
            if self.is_trusted(candidate) {
                return Ok(());
            }
            match self.extend(path, candidate) {
                Ok(()) => return Ok(()),
                Err(found) => {
                    path.pop();
                    keep(found);
                }
            }
        }
        Err(best.unwrap_or_else(|| {
            (
                depth,
                ChainError::IssuerNotFound {
                    cert: child.describe(),
                    issuer: child.issuer_text.clone(),
                },
            )
        }))
    }
}

/// Unix seconds as RFC 3339 UTC (`2021-10-20T07:45:15Z`), for messages.
pub fn format_time(unix: i64) -> String {
    crate::time::Timestamp::from_unix(unix).to_rfc3339()
}

/// Certificate building, for tests and for the test kit (`crate::testkit`, the `testkit`
/// feature), which mints Fulcio-like chains with it. Nothing here verifies anything.
#[cfg(any(test, feature = "testkit"))]
// The kit uses part of what the tests use; without the tests the rest is unused.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod build {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair as _};

    use super::*;
    use crate::keys::{KeyKind, PrivateKey};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Alg {
        Ecdsa(HashAlg),
        Ed25519,
        Rsa(HashAlg),
        Pss(HashAlg),
    }

    pub(crate) enum Signer {
        Key(PrivateKey),
        /// P-521 with SHA-512, which `PrivateKey` does not generate.
        P521(EcdsaKeyPair),
    }

    impl Signer {
        pub(crate) fn generate(kind: KeyKind) -> Signer {
            match kind {
                KeyKind::EcdsaP521 => Signer::P521(
                    EcdsaKeyPair::generate(&sig::ECDSA_P521_SHA512_ASN1_SIGNING).unwrap(),
                ),
                kind => Signer::Key(PrivateKey::generate(kind).unwrap()),
            }
        }

        pub(crate) fn spki(&self) -> Vec<u8> {
            match self {
                Signer::Key(k) => k.public_key().unwrap().spki_der().to_vec(),
                Signer::P521(p) => p.public_key().as_der().unwrap().as_ref().to_vec(),
            }
        }

        pub(crate) fn public_key(&self) -> PublicKey {
            PublicKey::from_spki_der(&self.spki()).unwrap()
        }

        pub(crate) fn sign(&self, alg: Alg, message: &[u8]) -> Vec<u8> {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            match (self, alg) {
                (Signer::P521(pair), _) => pair.sign(&rng, message).unwrap().as_ref().to_vec(),
                (Signer::Key(key), Alg::Pss(hash)) => key.sign_rsa_pss(hash, message).unwrap(),
                (Signer::Key(PrivateKey::Rsa(pair)), Alg::Rsa(hash)) => {
                    let encoding = match hash {
                        HashAlg::Sha256 => &sig::RSA_PKCS1_SHA256,
                        HashAlg::Sha384 => &sig::RSA_PKCS1_SHA384,
                        HashAlg::Sha512 => &sig::RSA_PKCS1_SHA512,
                    };
                    let mut out = vec![0; pair.public_modulus_len()];
                    pair.sign(encoding, &rng, message, &mut out).unwrap();
                    out
                }
                (Signer::Key(key), _) => key.sign(message).unwrap(),
            }
        }
    }

    pub(crate) fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        der::encode(tag::SEQUENCE, &parts.concat())
    }

    pub(crate) fn oid_tlv(id: Oid<'_>) -> Vec<u8> {
        der::encode(tag::OID, id.as_bytes())
    }

    fn hash_oid(hash: HashAlg) -> Oid<'static> {
        match hash {
            HashAlg::Sha256 => oid::SHA256,
            HashAlg::Sha384 => oid::SHA384,
            HashAlg::Sha512 => oid::SHA512,
        }
    }

    pub(crate) fn alg_der(alg: Alg) -> Vec<u8> {
        use HashAlg::*;
        match alg {
            Alg::Ecdsa(h) => seq(&[oid_tlv(match h {
                Sha256 => oid::ECDSA_WITH_SHA256,
                Sha384 => oid::ECDSA_WITH_SHA384,
                Sha512 => oid::ECDSA_WITH_SHA512,
            })]),
            Alg::Ed25519 => seq(&[oid_tlv(oid::ED25519)]),
            Alg::Rsa(h) => seq(&[
                oid_tlv(match h {
                    Sha256 => oid::SHA256_WITH_RSA,
                    Sha384 => oid::SHA384_WITH_RSA,
                    Sha512 => oid::SHA512_WITH_RSA,
                }),
                der::encode(tag::NULL, &[]),
            ]),
            Alg::Pss(h) => pss_alg(h, h, h.output_len() as u8, false),
        }
    }

    /// RSASSA-PSS AlgorithmIdentifier (hash parameters absent, as RFC 5754 prefers).
    pub(crate) fn pss_alg(hash: HashAlg, mgf_hash: HashAlg, salt: u8, trailer: bool) -> Vec<u8> {
        let hash_id = |h| seq(&[oid_tlv(hash_oid(h))]);
        let mut params = vec![
            der::encode(tag::context(0), &hash_id(hash)),
            der::encode(
                tag::context(1),
                &seq(&[oid_tlv(oid::MGF1), hash_id(mgf_hash)]),
            ),
            der::encode(tag::context(2), &der::encode(tag::INTEGER, &[salt])),
        ];
        if trailer {
            params.push(der::encode(
                tag::context(3),
                &der::encode(tag::INTEGER, &[1]),
            ));
        }
        seq(&[oid_tlv(oid::RSASSA_PSS), seq(&params)])
    }

    /// A Name with one CN.
    pub(crate) fn name(cn: &str) -> Vec<u8> {
        seq(&[der::encode(
            tag::SET,
            &seq(&[
                oid_tlv(Oid::new(&[0x55, 0x04, 0x03])),
                der::encode(tag::UTF8_STRING, cn.as_bytes()),
            ]),
        )])
    }

    /// UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
    fn time(t: i64) -> Vec<u8> {
        let digits: String = format_time(t)
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if digits.as_str() < "2050" {
            der::encode(tag::UTC_TIME, format!("{}Z", &digits[2..]).as_bytes())
        } else {
            der::encode(tag::GENERALIZED_TIME, format!("{digits}Z").as_bytes())
        }
    }

    pub(crate) fn ext(id: Oid<'_>, critical: bool, value: &[u8]) -> Vec<u8> {
        let mut parts = vec![oid_tlv(id)];
        if critical {
            parts.push(der::encode(tag::BOOLEAN, &[0xff]));
        }
        parts.push(der::encode(tag::OCTET_STRING, value));
        seq(&parts)
    }

    pub(crate) fn basic_constraints(ca: bool, path_len: Option<u8>) -> Vec<u8> {
        let mut parts = Vec::new();
        if ca {
            parts.push(der::encode(tag::BOOLEAN, &[0xff]));
        }
        if let Some(n) = path_len {
            parts.push(der::encode(tag::INTEGER, &[n]));
        }
        ext(oids::BASIC_CONSTRAINTS, true, &seq(&parts))
    }

    /// keyUsage as a minimal named bit list.
    pub(crate) fn key_usage(bits: u16) -> Vec<u8> {
        let value = if bits == 0 {
            vec![0]
        } else {
            let top = 15 - bits.leading_zeros() as usize; // highest bit number set
            let mut bytes = vec![0u8; top / 8 + 1];
            for n in 0..16 {
                if bits & (1 << n) != 0 {
                    bytes[n / 8] |= 0x80 >> (n % 8);
                }
            }
            [vec![(7 - top % 8) as u8], bytes].concat()
        };
        ext(oids::KEY_USAGE, true, &der::encode(tag::BIT_STRING, &value))
    }

    pub(crate) fn eku(purposes: &[Oid<'_>]) -> Vec<u8> {
        let list: Vec<Vec<u8>> = purposes.iter().map(|p| oid_tlv(*p)).collect();
        ext(oids::EXTENDED_KEY_USAGE, false, &seq(&list))
    }

    pub(crate) fn san(names: &[Vec<u8>]) -> Vec<u8> {
        ext(oids::SUBJECT_ALT_NAME, true, &seq(names))
    }

    /// A TBSCertificate's parts; the defaults make a v3 certificate.
    #[derive(Clone)]
    pub(crate) struct Template {
        /// The explicit version INTEGER (2 is v3); `None` omits the field (v1).
        pub version: Option<u8>,
        pub serial: Vec<u8>,
        pub issuer: Vec<u8>,
        pub subject: Vec<u8>,
        pub not_before: i64,
        pub not_after: i64,
        pub extensions: Vec<Vec<u8>>,
        /// Replaces the AlgorithmIdentifier inside the TBSCertificate.
        pub inner_alg: Option<Vec<u8>>,
    }

    pub(crate) const T0: i64 = 1_700_000_000;
    pub(crate) const T1: i64 = 1_800_000_000;
    pub(crate) const NOW: i64 = 1_750_000_000;

    impl Template {
        pub(crate) fn new(subject: &str, issuer: &str, extensions: Vec<Vec<u8>>) -> Template {
            Template {
                version: Some(2),
                serial: vec![0x01, 0x23],
                issuer: name(issuer),
                subject: name(subject),
                not_before: T0,
                not_after: T1,
                extensions,
                inner_alg: None,
            }
        }

        pub(crate) fn ca(subject: &str, issuer: &str, path_len: Option<u8>) -> Template {
            Template::new(
                subject,
                issuer,
                vec![
                    basic_constraints(true, path_len),
                    key_usage(KeyUsage::KEY_CERT_SIGN | KeyUsage::CRL_SIGN),
                ],
            )
        }

        /// A Fulcio-like leaf: empty subject, a URI SAN, code signing.
        pub(crate) fn leaf(issuer: &str) -> Template {
            let mut t = Template::new(
                "",
                issuer,
                vec![
                    key_usage(KeyUsage::DIGITAL_SIGNATURE),
                    eku(&[oids::CODE_SIGNING]),
                    san(&[der::encode(0x86, b"https://example.com/signer")]),
                ],
            );
            t.subject = seq(&[]);
            t
        }

        pub(crate) fn tbs(&self, spki: &[u8], alg: &[u8]) -> Vec<u8> {
            let mut parts = Vec::new();
            if let Some(v) = self.version {
                parts.push(der::encode(
                    tag::context(0),
                    &der::encode(tag::INTEGER, &[v]),
                ));
            }
            parts.push(der::encode(tag::INTEGER, &self.serial));
            parts.push(self.inner_alg.clone().unwrap_or_else(|| alg.to_vec()));
            parts.push(self.issuer.clone());
            parts.push(seq(&[time(self.not_before), time(self.not_after)]));
            parts.push(self.subject.clone());
            parts.push(spki.to_vec());
            if !self.extensions.is_empty() {
                parts.push(der::encode(tag::context(3), &seq(&self.extensions)));
            }
            seq(&parts)
        }

        /// The certificate's DER, for a subject key `spki`, signed by `issuer` with `alg`.
        pub(crate) fn sign(&self, spki: &[u8], issuer: &Signer, alg: Alg) -> Vec<u8> {
            let alg_der = alg_der(alg);
            let tbs = self.tbs(spki, &alg_der);
            let signature = issuer.sign(alg, &tbs);
            assemble(&tbs, &alg_der, &signature)
        }

        pub(crate) fn issue(&self, subject: &Signer, issuer: &Signer, alg: Alg) -> Certificate {
            Certificate::from_der(&self.sign(&subject.spki(), issuer, alg)).unwrap()
        }
    }

    pub(crate) fn assemble(tbs: &[u8], alg: &[u8], signature: &[u8]) -> Vec<u8> {
        seq(&[
            tbs.to_vec(),
            alg.to_vec(),
            der::encode(tag::BIT_STRING, &[&[0][..], signature].concat()),
        ])
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::{Path, PathBuf};

    use base64::Engine as _;
    use serde_json::Value;

    use super::*;
    use crate::keys::{KeyKind, PrivateKey};

    // ---------------------------------------------------------------------------------------
    // Fixtures (../shared/fixtures/signing), read with serde_json::Value.

    pub(crate) fn fixture_path(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/signing")
            .join(rel)
    }

    pub(crate) fn read_json(rel: &str) -> Value {
        let text =
            std::fs::read_to_string(fixture_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub(crate) fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    /// RFC 3339 UTC as trust roots and notation write it; fractions are dropped.
    pub(crate) fn unix(rfc3339: &str) -> i64 {
        let s = rfc3339.strip_suffix('Z').unwrap();
        let (date, time) = s.split_once('T').unwrap();
        let time = time.split('.').next().unwrap();
        let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
        let t: Vec<i64> = time.split(':').map(|p| p.parse().unwrap()).collect();
        der::days_from_civil(d[0], d[1], d[2]) * 86400 + t[0] * 3600 + t[1] * 60 + t[2]
    }

    /// A trusted root's certificate authorities: the last certificate of each chain is trusted,
    /// the ones before it are intermediates (as the Sigstore clients use them).
    pub(crate) struct Trust {
        pub roots: Vec<Certificate>,
        pub intermediates: Vec<Certificate>,
    }

    pub(crate) fn trust(rel: &str) -> Trust {
        let json = read_json(rel);
        let mut trust = Trust {
            roots: Vec::new(),
            intermediates: Vec::new(),
        };
        for ca in json["certificateAuthorities"].as_array().unwrap() {
            let certs: Vec<Certificate> = ca["certChain"]["certificates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| Certificate::from_der(&b64(c["rawBytes"].as_str().unwrap())).unwrap())
                .collect();
            let (root, rest) = certs.split_last().unwrap();
            trust.roots.push(root.clone());
            trust.intermediates.extend(rest.iter().cloned());
        }
        trust
    }

    pub(crate) const PUBLIC_GOOD: &str = "trust/public-good-trusted_root.json";
    pub(crate) const CONFORMANCE: &str = "sigstore-conformance/bundle-verify";
    const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

    /// A keyless bundle from the fixtures: its certificates (leaf first), the trusted root it
    /// verifies with, and its log entry's integrated time (none for Rekor v2 entries).
    pub(crate) struct Keyless {
        pub name: String,
        pub certs: Vec<Certificate>,
        pub trust_root: String,
        pub integrated_time: Option<i64>,
    }

    fn bundle_certs(bundle: &Value) -> Vec<Certificate> {
        let material = &bundle["verificationMaterial"];
        let raws: Vec<&Value> = match material.get("certificate") {
            Some(cert) => vec![&cert["rawBytes"]],
            None => material["x509CertificateChain"]["certificates"]
                .as_array()
                .map(|c| c.iter().map(|c| &c["rawBytes"]).collect())
                .unwrap_or_default(),
        };
        raws.into_iter()
            .map(|raw| Certificate::from_der(&b64(raw.as_str().unwrap())).unwrap())
            .collect()
    }

    fn integrated_time(bundle: &Value) -> Option<i64> {
        let t = &bundle["verificationMaterial"]["tlogEntries"][0]["integratedTime"];
        let t = match t {
            Value::String(s) => s.parse().unwrap(),
            Value::Number(n) => n.as_i64().unwrap(),
            _ => 0,
        };
        (t > 0).then_some(t)
    }

    /// Every bundle in the fixtures that carries a certificate: the whole conformance suite
    /// (its `trusted_root.json` where a case has one) and the real bundles of the other
    /// projects with the roots their README names.
    pub(crate) fn keyless_bundles() -> Vec<Keyless> {
        let mut out = Vec::new();
        let mut add = |name: String, bundle: &Value, trust_root: &str| {
            let certs = bundle_certs(bundle);
            if !certs.is_empty() {
                out.push(Keyless {
                    name,
                    certs,
                    trust_root: trust_root.to_owned(),
                    integrated_time: integrated_time(bundle),
                });
            }
        };
        let mut cases: Vec<_> = std::fs::read_dir(fixture_path(CONFORMANCE))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| {
                fixture_path(&format!("{CONFORMANCE}/{name}/bundle.sigstore.json")).exists()
            })
            .collect();
        cases.sort();
        for case in cases {
            let dir = format!("{CONFORMANCE}/{case}");
            let text =
                std::fs::read_to_string(fixture_path(&format!("{dir}/bundle.sigstore.json")))
                    .unwrap();
            let Ok(bundle) = serde_json::from_str::<Value>(&text) else {
                assert_eq!(case, "bundle-malformed-json_fail");
                continue;
            };
            let root = if fixture_path(&format!("{dir}/trusted_root.json")).exists() {
                format!("{dir}/trusted_root.json")
            } else {
                PUBLIC_GOOD.to_owned()
            };
            add(case, &bundle, &root);
        }
        let staging = "trust/staging-trusted_root.json";
        let others: &[(&str, &str)] = &[
            ("sigstore-python/bundle_v3_github.whl.sigstore", PUBLIC_GOOD),
            ("sigstore-python/Python-3.12.5.tgz.sigstore", PUBLIC_GOOD),
            ("sigstore-python/staging/bundle.txt.sigstore", staging),
            ("sigstore-python/staging/bundle_v3.txt.sigstore", staging),
            (
                "sigstore-python/staging/bundle_cve_2022_36056.txt.sigstore",
                staging,
            ),
            (
                "sigstore-python/staging/bundle_invalid_version.txt.sigstore",
                staging,
            ),
            // Though under staging/, its certificate was issued by the production CA.
            (
                "sigstore-python/staging/bundle_no_log_entry.txt.sigstore",
                PUBLIC_GOOD,
            ),
            (
                "sigstore-python/staging/a.dsse.staging-rekor-v2.txt.sigstore.json",
                staging,
            ),
            (
                "sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json",
                PUBLIC_GOOD,
            ),
            ("sigstore-go/bundle-provenance.json", PUBLIC_GOOD),
            ("sigstore-go/dsse.sigstore.json", PUBLIC_GOOD),
            ("sigstore-go/dsse-2sigs.sigstore.json", PUBLIC_GOOD),
            (
                "sigstore-go/othername.sigstore.json",
                "sigstore-go/scaffolding.json",
            ),
            ("sigstore-rs/bundle_v03.json", PUBLIC_GOOD),
            (
                "cosign/oci-attestation.sigstore.json",
                "trust/cosign-trusted_root_pgi.json",
            ),
            (
                "slsa-verifier/gha_container-based/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.build.slsa",
                PUBLIC_GOOD,
            ),
            (
                "slsa-verifier/gha_delegator/v1.10.0/binary-linux-amd64-workflow_dispatch.build.slsa",
                PUBLIC_GOOD,
            ),
            (
                "slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
                PUBLIC_GOOD,
            ),
        ];
        for (file, root) in others {
            add((*file).to_owned(), &read_json(file), root);
        }
        for file in [
            "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json",
            "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega-invalidsigprov.tgz.json",
            "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega-invalidsigpub.tgz.json",
        ] {
            for (i, att) in read_json(file)["attestations"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
            {
                add(format!("{file}#{i}"), &att["bundle"], PUBLIC_GOOD);
            }
        }
        out
    }

    /// Every certificate in the fixtures, by where it was found: PEM files, and in JSON the
    /// `rawBytes` under certificate fields and JWS `x5c` headers. Duplicates removed.
    fn all_fixture_certificates() -> Vec<(String, Vec<u8>)> {
        fn walk(v: &Value, path: &str, source: &str, out: &mut Vec<(String, Vec<u8>)>) {
            match v {
                Value::Object(map) => {
                    for (k, v) in map {
                        let lower = path.to_ascii_lowercase();
                        match (k.as_str(), v) {
                            ("rawBytes", Value::String(s))
                                if lower.contains("certificate") || lower.contains("certchain") =>
                            {
                                out.push((format!("{source}:{path}"), b64(s)));
                            }
                            ("x5c", Value::Array(items)) => {
                                for item in items {
                                    out.push((
                                        format!("{source}:{path}/x5c"),
                                        b64(item.as_str().unwrap()),
                                    ));
                                }
                            }
                            _ => walk(v, &format!("{path}/{k}"), source, out),
                        }
                    }
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, &format!("{path}[{i}]"), source, out);
                    }
                }
                _ => {}
            }
        }
        let mut files = Vec::new();
        let mut dirs = vec![fixture_path("")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files.sort();
        let mut out = Vec::new();
        for file in files {
            let source = file
                .strip_prefix(fixture_path(""))
                .unwrap()
                .display()
                .to_string();
            // Binary files (COSE envelopes, tarballs) are neither PEM nor JSON.
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            if text.contains("-----BEGIN CERTIFICATE-----") {
                for block in pem::parse_all(&text).unwrap() {
                    if block.label == "CERTIFICATE" {
                        out.push((source.clone(), block.data));
                    }
                }
            }
            if let Ok(json) = serde_json::from_str::<Value>(&text) {
                walk(&json, "", &source, &mut out);
            }
        }
        let mut seen = HashSet::new();
        out.retain(|(_, der)| seen.insert(der.clone()));
        out
    }

    // ---------------------------------------------------------------------------------------
    // Synthetic certificates, for what the fixtures do not cover, made with `super::build`.

    pub(crate) use super::build::*;

    impl Signer {
        /// The RSA-4096 key from sigstore-rs's fixtures (vouch does not generate RSA keys).
        pub(crate) fn rsa() -> Signer {
            let pem =
                std::fs::read_to_string(fixture_path("sigstore-rs/keys/rsa_private.key")).unwrap();
            Signer::Key(PrivateKey::from_pem(&pem).unwrap())
        }
    }

    impl Template {
        /// The DER with a signature of zeros (for parser tests).
        pub(crate) fn unsigned(&self) -> Vec<u8> {
            let spki = test_spki();
            let alg = alg_der(Alg::Ecdsa(HashAlg::Sha256));
            assemble(&self.tbs(&spki, &alg), &alg, &[0; 8])
        }
    }

    /// A fixed P-256 SPKI (the cosign-classic test key).
    fn test_spki() -> Vec<u8> {
        let pem = std::fs::read_to_string(fixture_path("cosign-classic/keyed/cosign.pub")).unwrap();
        PublicKey::from_pem(&pem).unwrap().spki_der().to_vec()
    }

    const ES256: Alg = Alg::Ecdsa(HashAlg::Sha256);
    const ES384: Alg = Alg::Ecdsa(HashAlg::Sha384);

    // ---------------------------------------------------------------------------------------
    // Tests.

    #[test]
    fn oid_constants_match_their_dotted_form() {
        let table = [
            (oids::BASIC_CONSTRAINTS, "2.5.29.19"),
            (oids::KEY_USAGE, "2.5.29.15"),
            (oids::EXTENDED_KEY_USAGE, "2.5.29.37"),
            (oids::SUBJECT_ALT_NAME, "2.5.29.17"),
            (oids::SUBJECT_KEY_IDENTIFIER, "2.5.29.14"),
            (oids::AUTHORITY_KEY_IDENTIFIER, "2.5.29.35"),
            (oids::ANY_EXTENDED_KEY_USAGE, "2.5.29.37.0"),
            (oids::CODE_SIGNING, "1.3.6.1.5.5.7.3.3"),
            (oids::TIME_STAMPING, "1.3.6.1.5.5.7.3.8"),
            (oids::FULCIO_ISSUER_V1, "1.3.6.1.4.1.57264.1.1"),
            (oids::FULCIO_USERNAME, "1.3.6.1.4.1.57264.1.7"),
            (oids::FULCIO_ISSUER_V2, "1.3.6.1.4.1.57264.1.8"),
            (oids::SCT_LIST, "1.3.6.1.4.1.11129.2.4.2"),
        ];
        for (constant, dotted) in table {
            assert_eq!(constant.to_string(), dotted);
        }
        let attributes: Vec<String> = oids::ATTRIBUTES
            .iter()
            .map(|(bytes, short)| format!("{short}={}", Oid::new(bytes)))
            .collect();
        assert_eq!(
            attributes,
            [
                "CN=2.5.4.3",
                "serialNumber=2.5.4.5",
                "C=2.5.4.6",
                "L=2.5.4.7",
                "ST=2.5.4.8",
                "STREET=2.5.4.9",
                "O=2.5.4.10",
                "OU=2.5.4.11",
                "postalCode=2.5.4.17",
                "emailAddress=1.2.840.113549.1.9.1",
                "DC=0.9.2342.19200300.100.1.25",
            ]
        );
    }

    /// Every certificate anywhere in the fixtures parses, and what parsing keeps is consistent
    /// with the input bytes.
    #[test]
    fn every_fixture_certificate_parses() {
        let all = all_fixture_certificates();
        // The fixtures hold over 70 distinct certificates (Fulcio leaves, CAs, TSAs, notation).
        assert!(all.len() > 70, "found only {} certificates", all.len());
        let mut kinds = HashSet::new();
        for (source, der_bytes) in &all {
            let cert = Certificate::from_der(der_bytes).unwrap_or_else(|e| panic!("{source}: {e}"));
            assert_eq!(cert.der(), &der_bytes[..], "{source}");
            let tbs = cert.tbs_range();
            assert_eq!(&der_bytes[tbs.clone()], cert.tbs_der());
            assert_eq!(
                der::parse_single(cert.tbs_der(), tag::SEQUENCE)
                    .unwrap()
                    .raw,
                cert.tbs_der()
            );
            for part in [
                cert.issuer_der(),
                cert.subject_der(),
                cert.spki_der(),
                cert.serial(),
            ] {
                let r = range_in(cert.der(), part);
                assert!(r.start >= tbs.start && r.end <= tbs.end, "{source}");
            }
            assert_eq!(cert.public_key().spki_der(), cert.spki_der());
            assert!(cert.not_before() <= cert.not_after(), "{source}");
            assert_eq!(Certificate::from_der(cert.der()).unwrap(), cert);
            assert!(cert.unhandled_critical_extensions().is_empty(), "{source}");
            assert!(!cert.describe().is_empty());
            let scheme = cert
                .signature_scheme()
                .unwrap_or_else(|e| panic!("{source}: {e}"));
            kinds.insert((format!("{scheme}"), cert.public_key().kind()));
            // A self-issued certificate in the fixtures is self-signed.
            if cert.issuer_der() == cert.subject_der() && cert.is_ca() {
                cert.verify_signed_by(cert.public_key())
                    .unwrap_or_else(|e| panic!("{source}: {e}"));
            }
        }
        // ECDSA P-256/P-384 and RSA keys; ECDSA and RSA PKCS#1 signatures.
        for want in [
            "ECDSA with Sha256",
            "ECDSA with Sha384",
            "RSA PKCS#1 v1.5 with Sha256",
        ] {
            assert!(
                kinds.iter().any(|(s, _)| s == want),
                "no {want} certificate in {kinds:?}"
            );
        }
    }

    #[test]
    fn a_fulcio_leaf_and_its_ca_in_detail() {
        let bundle = read_json(&format!(
            "{CONFORMANCE}/happy-path-v0.3/bundle.sigstore.json"
        ));
        let leaf = &bundle_certs(&bundle)[0];
        let trust = trust(PUBLIC_GOOD);
        assert_eq!(leaf.version(), 3);
        assert_eq!(leaf.subject(), "");
        assert_eq!(leaf.subject_der(), [0x30, 0x00]);
        assert_eq!(leaf.issuer(), "CN=sigstore-intermediate,O=sigstore.dev");
        assert_eq!(leaf.signature_scheme(), Ok(Scheme::Ecdsa(HashAlg::Sha384)));
        assert_eq!(leaf.public_key().kind(), KeyKind::EcdsaP256);
        assert_eq!(
            leaf.not_after() - leaf.not_before(),
            600,
            "Fulcio leaves last ten minutes"
        );
        assert_eq!(leaf.basic_constraints(), None);
        assert!(!leaf.is_ca());
        assert_eq!(
            leaf.key_usage(),
            Some(KeyUsage(KeyUsage::DIGITAL_SIGNATURE))
        );
        assert_eq!(
            leaf.extended_key_usage(),
            Some(&[ObjectId::from(oids::CODE_SIGNING)][..])
        );
        assert_eq!(
            leaf.subject_alt_names(),
            [GeneralName::Uri(DEFAULT_IDENTITY.to_owned())]
        );
        assert_eq!(leaf.describe(), DEFAULT_IDENTITY);
        assert_eq!(leaf.oidc_issuer(), Some(DEFAULT_ISSUER));
        assert!(leaf.sct_list().is_some());
        assert!(leaf.extension(oids::SCT_LIST).is_some_and(|e| !e.critical));
        let san = leaf.extension(oids::SUBJECT_ALT_NAME).unwrap();
        assert!(
            san.critical,
            "Fulcio marks the SAN critical: the subject is empty"
        );
        // Fulcio's other claims (1.3.6.1.4.1.57264.1.2 and on) are kept as raw extensions.
        let workflow_ref = leaf
            .extensions()
            .iter()
            .find(|e| e.oid.to_string() == "1.3.6.1.4.1.57264.1.6")
            .unwrap();
        assert_eq!(workflow_ref.value, b"refs/heads/main");
        assert_eq!(leaf.subject_key_id().map(<[u8]>::len), Some(20));

        // Its issuer is the public-good intermediate: names, key identifiers and signature agree.
        let intermediate = trust
            .intermediates
            .iter()
            .find(|c| c.subject_der() == leaf.issuer_der())
            .unwrap();
        assert_eq!(leaf.authority_key_id(), intermediate.subject_key_id());
        leaf.verify_signed_by(intermediate.public_key()).unwrap();
        assert_eq!(
            intermediate.basic_constraints(),
            Some(BasicConstraints {
                ca: true,
                path_len: Some(0)
            })
        );
        assert_eq!(
            intermediate.key_usage(),
            Some(KeyUsage(KeyUsage::KEY_CERT_SIGN | KeyUsage::CRL_SIGN))
        );
        assert_eq!(intermediate.public_key().kind(), KeyKind::EcdsaP384);
        // Both public-good roots have this name; the intermediate's is the second (2022) one.
        let named = trust
            .roots
            .iter()
            .filter(|c| c.subject_der() == intermediate.issuer_der());
        assert_eq!(named.count(), 2);
        let root = &trust.roots[1];
        assert_eq!(intermediate.authority_key_id(), root.subject_key_id());
        assert_eq!(root.issuer_der(), root.subject_der());
        assert_eq!(
            root.basic_constraints(),
            Some(BasicConstraints {
                ca: true,
                path_len: None
            })
        );
        intermediate.verify_signed_by(root.public_key()).unwrap();
        root.verify_signed_by(root.public_key()).unwrap();
        // A key that did not sign it.
        assert_eq!(
            leaf.verify_signed_by(root.public_key()),
            Err(CertSignatureError::Signature(SignatureError::Invalid))
        );
    }

    /// The conformance rules: the identity is the case's `identity` file or the beacon
    /// workflow, the issuer its `issuer` file or GitHub Actions. Every leaf carries both,
    /// in the URI or email SAN and in both Fulcio issuer extensions.
    #[test]
    fn conformance_leaves_carry_the_expected_identity_and_issuer() {
        let mut checked = 0;
        for case in keyless_bundles().iter().filter(|b| !b.name.contains('/')) {
            let dir = format!("{CONFORMANCE}/{}", case.name);
            let file = |f: &str| std::fs::read_to_string(fixture_path(&format!("{dir}/{f}"))).ok();
            let identity = file("identity").unwrap_or_else(|| DEFAULT_IDENTITY.to_owned());
            let issuer = file("issuer").unwrap_or_else(|| DEFAULT_ISSUER.to_owned());
            let leaf = &case.certs[0];
            let ids: Vec<&str> = leaf.san_identities().collect();
            if case.name == "bundle-with-root-cert_fail" {
                // Signed by a different identity; the case is about the chain in the bundle.
                assert_eq!(ids, ["a@tny.town"]);
                assert_eq!(leaf.oidc_issuer(), Some("https://github.com/login/oauth"));
            } else {
                assert_eq!(ids, [identity.trim()], "{}", case.name);
                assert_eq!(leaf.oidc_issuer(), Some(issuer.trim()), "{}", case.name);
            }
            // Where both issuer extensions are present they agree.
            if let (Some(v1), Some(v2)) = (&leaf.fulcio_issuer_v1, &leaf.fulcio_issuer_v2) {
                assert_eq!(v1, v2, "{}", case.name);
            }
            checked += 1;
        }
        assert!(checked >= 60, "only {checked} conformance leaves");
    }

    #[test]
    fn san_and_issuer_of_other_real_leaves() {
        let gha = Some(DEFAULT_ISSUER);
        let github = Some("https://github.com/login/oauth");
        let table: &[(&str, GeneralName, Option<&str>)] = &[
            (
                "sigstore-python/bundle_v3_github.whl.sigstore",
                GeneralName::Uri("https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2".into()),
                gha,
            ),
            (
                "sigstore-python/Python-3.12.5.tgz.sigstore",
                GeneralName::Email("thomas@python.org".into()),
                Some("https://accounts.google.com"),
            ),
            ("sigstore-python/staging/bundle.txt.sigstore", GeneralName::Email("a@tny.town".into()), github),
            ("sigstore-python/staging/bundle_v3.txt.sigstore", GeneralName::Email("william@yossarian.net".into()), github),
            (
                "sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json",
                GeneralName::Uri("https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main".into()),
                gha,
            ),
            ("sigstore-go/dsse.sigstore.json", GeneralName::Email("brian@dehamer.com".into()), github),
            (
                "sigstore-go/othername.sigstore.json",
                GeneralName::Username("foo!oidc.local".into()),
                Some("http://oidc.local:8080"),
            ),
            ("cosign/oci-attestation.sigstore.json", GeneralName::Email("cody@soyland.com".into()), github),
            (
                "slsa-verifier/gha_delegator/v1.10.0/binary-linux-amd64-workflow_dispatch.build.slsa",
                GeneralName::Uri("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/delegator_generic_slsa3.yml@refs/tags/v1.10.0".into()),
                gha,
            ),
        ];
        let bundles = keyless_bundles();
        for (file, san, issuer) in table {
            let case = bundles.iter().find(|b| b.name == *file).unwrap();
            let leaf = &case.certs[0];
            assert_eq!(
                leaf.subject_alt_names(),
                std::slice::from_ref(san),
                "{file}"
            );
            assert_eq!(leaf.oidc_issuer(), *issuer, "{file}");
            assert_eq!(
                leaf.san_identities().collect::<Vec<_>>(),
                [san.identity().unwrap()]
            );
        }
        // The 2021 cosign certificate predates Fulcio's issuer extensions.
        let text =
            std::fs::read_to_string(fixture_path("cosign-classic/keyless/cert.pem")).unwrap();
        let cert = Certificate::from_pem(&text).unwrap();
        assert_eq!(
            cert.subject_alt_names(),
            [GeneralName::Email("flavio@castelli.me".into())]
        );
        assert_eq!(cert.oidc_issuer(), None);
        assert_eq!(
            cert.basic_constraints(),
            Some(BasicConstraints {
                ca: false,
                path_len: None
            })
        );
    }

    #[test]
    fn oidc_issuer_prefers_the_der_extension_and_falls_back_to_the_raw_one() {
        let v1 = |s: &str| ext(oids::FULCIO_ISSUER_V1, false, s.as_bytes());
        let v2 = |s: &str| {
            ext(
                oids::FULCIO_ISSUER_V2,
                false,
                &der::encode(tag::UTF8_STRING, s.as_bytes()),
            )
        };
        let table: &[(Vec<Vec<u8>>, Option<&str>)] = &[
            (
                vec![v1("https://one"), v2("https://eight")],
                Some("https://eight"),
            ),
            (
                vec![v2("https://eight"), v1("https://one")],
                Some("https://eight"),
            ),
            (vec![v1("https://one")], Some("https://one")),
            (vec![v2("https://eight")], Some("https://eight")),
            (vec![key_usage(KeyUsage::DIGITAL_SIGNATURE)], None),
        ];
        for (extensions, want) in table {
            let der_bytes = Template::new("", "ca", extensions.clone()).unsigned();
            assert_eq!(
                Certificate::from_der(&der_bytes).unwrap().oidc_issuer(),
                *want
            );
        }
    }

    #[test]
    fn fixture_chains_verify_at_the_integrated_time() {
        let mut verified = 0;
        for case in keyless_bundles() {
            let Some(at) = case.integrated_time else {
                continue;
            };
            let trust = trust(&case.trust_root);
            let leaf = &case.certs[0];
            // Certificates the bundle carries after the leaf are intermediates too.
            let intermediates: Vec<Certificate> = trust
                .intermediates
                .iter()
                .chain(&case.certs[1..])
                .cloned()
                .collect();
            let result = verify_chain(leaf, &intermediates, &trust.roots, at);
            let describe = leaf.describe();
            match case.name.as_str() {
                // A staging certificate: the staging intermediate has the production one's name.
                "bundle-from-wrong-instance_fail" => assert!(
                    matches!(&result, Err(ChainError::BadSignature { cert, issuer, .. })
                        if *cert == describe && issuer == "CN=sigstore-intermediate,O=sigstore.dev"),
                    "{result:?}"
                ),
                // Logged after the certificate expired.
                "integrated-time-in-future_fail"
                | "intoto-set-outside-signing-cert-validity_fail" => {
                    assert_eq!(
                        result,
                        Err(ChainError::Expired {
                            cert: describe,
                            not_after: leaf.not_after(),
                            at
                        })
                    )
                }
                // Logged before the certificate's validity starts (it is dated 2030).
                "intoto-expired-certificate_fail" => assert_eq!(
                    result,
                    Err(ChainError::NotYetValid {
                        cert: describe,
                        not_before: leaf.not_before(),
                        at
                    })
                ),
                _ => {
                    let path = result.unwrap_or_else(|e| panic!("{}: {e}", case.name));
                    assert_eq!(&path[0], leaf);
                    assert!(trust.roots.contains(path.last().unwrap()), "{}", case.name);
                    for pair in path.windows(2) {
                        assert_eq!(pair[0].issuer_der(), pair[1].subject_der());
                    }
                    assert!(path.iter().all(|c| c.is_valid_at(at)));
                    verified += 1;
                }
            }
        }
        assert!(verified >= 40, "only {verified} chains verified");
    }

    /// Validity bounds are inclusive: a chain verifies at the leaf's first and last second and
    /// fails one second outside, naming the leaf and both times.
    #[test]
    fn fixture_chains_fail_outside_the_leaf_validity() {
        let trust = trust(PUBLIC_GOOD);
        let bundles = keyless_bundles();
        let names = [
            "happy-path-v0.1",
            "happy-path-v0.3",
            "happy-path-intoto-in-dsse-v3",
            "sigstore-rs/bundle_v03.json",
        ];
        for name in names {
            let case = bundles.iter().find(|b| b.name == name).unwrap();
            let leaf = &case.certs[0];
            let check = |at| verify_chain(leaf, &trust.intermediates, &trust.roots, at);
            assert!(check(leaf.not_before()).is_ok(), "{name}");
            assert!(check(leaf.not_after()).is_ok(), "{name}");
            let early = check(leaf.not_before() - 1).unwrap_err();
            assert_eq!(
                early,
                ChainError::NotYetValid {
                    cert: leaf.describe(),
                    not_before: leaf.not_before(),
                    at: leaf.not_before() - 1
                }
            );
            let late = check(leaf.not_after() + 1).unwrap_err();
            assert_eq!(
                late.to_string(),
                format!(
                    "certificate \"{}\" expired at {}, signing time {}",
                    leaf.describe(),
                    format_time(leaf.not_after()),
                    format_time(leaf.not_after() + 1)
                )
            );
        }
    }

    #[test]
    fn the_2021_cosign_certificate_chains_to_the_first_fulcio_ca() {
        let text =
            std::fs::read_to_string(fixture_path("cosign-classic/keyless/cert.pem")).unwrap();
        let leaf = Certificate::from_pem(&text).unwrap();
        let annotation = read_json("cosign-classic/keyless/bundle-annotation.json");
        let at = annotation["Payload"]["integratedTime"].as_i64().unwrap();
        let trust = trust(PUBLIC_GOOD);
        let path = verify_chain(&leaf, &trust.intermediates, &trust.roots, at).unwrap();
        assert_eq!(path, [leaf.clone(), trust.roots[0].clone()]);
        assert_eq!(trust.roots[0].not_before(), unix("2021-03-07T03:20:29Z"));
        // The second CA alone does not issue it: same names, different key.
        let second = verify_chain(&leaf, &trust.intermediates, &trust.roots[1..], at);
        assert!(
            matches!(&second, Err(ChainError::BadSignature { issuer, .. }) if issuer == "CN=sigstore,O=sigstore.dev"),
            "{second:?}"
        );
        // An hour later the ten-minute certificate has expired.
        assert!(matches!(
            verify_chain(&leaf, &trust.intermediates, &trust.roots, at + 3600),
            Err(ChainError::Expired { .. })
        ));
    }

    /// A trusted root is trusted as it is, compared by DER: trusting the intermediate itself
    /// ends the path there, and a CA offered only as an intermediate is not trusted.
    #[test]
    fn trusted_roots_are_matched_by_der() {
        let other_root = trust(&format!(
            "{CONFORMANCE}/intoto-with-custom-trust-root/trusted_root.json"
        ))
        .roots;
        let trust = trust(PUBLIC_GOOD);
        let case = keyless_bundles()
            .into_iter()
            .find(|b| b.name == "happy-path-v0.2")
            .unwrap();
        let leaf = &case.certs[0];
        let at = case.integrated_time.unwrap();
        let intermediate = trust.intermediates[0].clone();
        let path = verify_chain(leaf, &[], std::slice::from_ref(&intermediate), at).unwrap();
        assert_eq!(path, [leaf.clone(), intermediate.clone()]);
        let all: Vec<Certificate> = trust
            .intermediates
            .iter()
            .chain(&trust.roots)
            .cloned()
            .collect();
        assert_eq!(
            verify_chain(leaf, &all, &other_root, at),
            Err(ChainError::UntrustedSelfSigned {
                cert: "CN=sigstore,O=sigstore.dev".into()
            })
        );
        assert_eq!(
            verify_chain(leaf, &all, &[], at),
            Err(ChainError::NoTrustedRoots)
        );
    }

    /// Notation's certificates: RSA-3072 keys, sha256WithRSAEncryption, a leaf whose subject
    /// equals its issuer's, and a self-signed leaf.
    #[test]
    fn notation_rsa_chains() {
        let envelope = read_json("notation/ca_valid_sig_env.json");
        let x5c: Vec<Certificate> = envelope["header"]["x5c"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Certificate::from_der(&b64(c.as_str().unwrap())).unwrap())
            .collect();
        let root_pem = std::fs::read_to_string(fixture_path(
            "notation/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem",
        ))
        .unwrap();
        let roots = certificates_from_pem(&root_pem).unwrap();
        let signing_time = unix("2020-11-09T07:00:00Z");
        let path = verify_chain(&x5c[0], &x5c[1..], &roots, signing_time).unwrap();
        assert_eq!(path, [x5c[0].clone(), roots[0].clone()]);
        assert_eq!(
            x5c[0].signature_scheme(),
            Ok(Scheme::RsaPkcs1(HashAlg::Sha256))
        );
        assert_eq!(x5c[0].subject(), x5c[0].issuer());
        assert_eq!(
            x5c[0].subject(),
            "CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"
        );
        // The leaf is newer than the root, a month before it was issued.
        assert!(matches!(
            verify_chain(&x5c[0], &[], &roots, unix("2020-09-10T00:00:00Z")),
            Err(ChainError::NotYetValid { .. })
        ));

        // A self-signed leaf: a path of one when trusted itself, refused otherwise.
        let jws = read_json("notation/jws_signature.sig");
        let alpine =
            Certificate::from_der(&b64(jws["header"]["x5c"][0].as_str().unwrap())).unwrap();
        let at = unix("2023-03-14T08:10:02Z");
        assert_eq!(
            verify_chain(&alpine, &[], std::slice::from_ref(&alpine), at),
            Ok(vec![alpine.clone()])
        );
        assert_eq!(
            verify_chain(&alpine, &[], &roots, at),
            Err(ChainError::UntrustedSelfSigned {
                cert: "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US".into()
            })
        );
    }

    /// Certificates made by OpenSSL 3.0 (`openssl req -x509` and `openssl x509 -req`): an
    /// RSA-PSS root (SHA-256) issuing a P-256 leaf with RSA-PSS SHA-384, and an Ed25519 root
    /// issuing an Ed25519 leaf. Valid from 2026-11-22 for a century.
    const PSS_ROOT_PEM: &str = "\
    -----BEGIN CERTIFICATE-----\n\
    MIIDqzCCAl+gAwIBAgIUNpFVsLhyMCC7T0E62e4fX6eoIwEwQQYJKoZIhvcNAQEK\n\
    MDSgDzANBglghkgBZQMEAgEFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgEF\n\
    AKIDAgEgMCgxEzARBgNVBAoMCnZvdWNoIHRlc3QxETAPBgNVBAMMCHBzcyByb290\n\
    MCAXDTI2MTEyMjE3MzkwN1oYDzIxMjYxMDI5MTczOTA3WjAoMRMwEQYDVQQKDAp2\n\
    b3VjaCB0ZXN0MREwDwYDVQQDDAhwc3Mgcm9vdDCCASIwDQYJKoZIhvcNAQEBBQAD\n\
    ggEPADCCAQoCggEBAOux0ShMs/AIYH3Kh+SL051l+bIvqKHZ6QKPZxgVECHSuq9K\n\
    8L0gvhpZq1jK3FWCvdeBI0kHnbwT4Ovv9RyIbH+BNGGop9iyS9HAaaMXPQvgX6ek\n\
    wcumzbI9iNuEBREGuRUbNdRZmGVEKUzqZh2lD18vtN+x1/OJt3XfHV5iLDZ8lX0v\n\
    HY/PBoF6EV7Hj2J5dIkfwYd2zc2KThsoHuEUdqHSwBcxbmKEMgNza0bmULiHLnxP\n\
    CWyJgV46eHFut0J7pGicF9mPZuRcCHEgnnWi4fB5QlNsCp1aALAy2HW+bvicUFWC\n\
    2ufSEqG+KINAkm17795KD9kE1CWJmEeD3UpOvr0CAwEAAaNjMGEwHQYDVR0OBBYE\n\
    FDMjEoSct9W6ZwRpGRqjszuy7EhHMB8GA1UdIwQYMBaAFDMjEoSct9W6ZwRpGRqj\n\
    szuy7EhHMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgIEMEEGCSqGSIb3\n\
    DQEBCjA0oA8wDQYJYIZIAWUDBAIBBQChHDAaBgkqhkiG9w0BAQgwDQYJYIZIAWUD\n\
    BAIBBQCiAwIBIAOCAQEA0dQ7SEnaAQ5uaYbCCojThd7iFQreqj+5CcGLs3KZ2FI9\n\
    8VXvEfwFWjo7ovxK2dLObFGsVsolKAkV/xoXhZxPphbBXCFHy7/lGxwA72iZE+Sy\n\
    ASO9olP6S2NKMYo/lYE7B+m4iNcLO+F4pgwrPjaUC975XfhybZkBNz1PVlu1Fuuw\n\
    ujQezR9z4lrE4UHK/E5TyJWNrbBWZ7B2laI8cb55MPJ90i3WS/EiQwBKaDVQ5NRf\n\
    7T+B0SZG5WpLJGCcbHHikwe+VYv6BDJG8adRaNO0Mo55GvmK0xIWEnQ+D3ul9P0Z\n\
    oWErhvkm4qbDlkTHV+haJOMaUfL6IOXPIU6Y9HPmDg==\n\
    -----END CERTIFICATE-----\n\
    ";
    const PSS_LEAF_PEM: &str = "\
    -----BEGIN CERTIFICATE-----\n\
    MIIC+zCCAa+gAwIBAgIUR0CpyGrGhNi3UlzGf8h9ajW+l+YwQQYJKoZIhvcNAQEK\n\
    MDSgDzANBglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgIF\n\
    AKIDAgEwMCgxEzARBgNVBAoMCnZvdWNoIHRlc3QxETAPBgNVBAMMCHBzcyByb290\n\
    MCAXDTI2MTEyMjE3MzkwN1oYDzIxMjYxMDI5MTczOTA3WjATMREwDwYDVQQDDAhw\n\
    c3MgbGVhZjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCaTkmLOs8rOhQMVhsWn\n\
    8c/xvsGxvA7WlDVjr3C4nVp9HHFY/3tX8SM3xDxFPvZENcIgkBgi8piwJELc6Cl7\n\
    IvWjgZIwgY8wDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwEwYDVR0lBAww\n\
    CgYIKwYBBQUHAwMwGgYDVR0RBBMwEYEPcHNzQGV4YW1wbGUuY29tMB0GA1UdDgQW\n\
    BBR/BpmiO26WVWpgFLb//l8hcPHXfzAfBgNVHSMEGDAWgBQzIxKEnLfVumcEaRka\n\
    o7M7suxIRzBBBgkqhkiG9w0BAQowNKAPMA0GCWCGSAFlAwQCAgUAoRwwGgYJKoZI\n\
    hvcNAQEIMA0GCWCGSAFlAwQCAgUAogMCATADggEBALAKlCCH1xvR+helqgq9Kze5\n\
    zIGj6+/AxPhywjxYaTPUmp7xcbdOga7HnfGJV/kzEqRH6qtsKbBoP349RSld3iCY\n\
    RBbTSTZzAtnx9jXJ3D/NkM0c7ID8vj28YYe9+FXxuCIUBk71oOmOmkBkLiXl6eM+\n\
    M5kVCX+szZA1ZB3Srh9hFgLi4dVZkfYsgp3nYL7f41XBJGQeAfWlPw+OkA6LNmsg\n\
    YFF5BsDNGO+8bgd/nAkYFHSOVO51ff+CLGZzX3JgVGAMLl8pdvqZ3w6g/aee4xFO\n\
    niPGPDQ+iQm6KLfRv9bWicGFcN5/jwzTZoJ3fCMwS9hDLQXl+NsAIFoVYCxZqC4=\n\
    -----END CERTIFICATE-----\n\
    ";
    const ED_ROOT_PEM: &str = "\
    -----BEGIN CERTIFICATE-----\n\
    MIIBfzCCATGgAwIBAgIUadXIyaNPtHuyJFktElVZGaV7W7AwBQYDK2VwMCwxEzAR\n\
    BgNVBAoMCnZvdWNoIHRlc3QxFTATBgNVBAMMDGVkMjU1MTkgcm9vdDAgFw0yNjEx\n\
    MjIxNzM5MDdaGA8yMTI2MTAyOTE3MzkwN1owLDETMBEGA1UECgwKdm91Y2ggdGVz\n\
    dDEVMBMGA1UEAwwMZWQyNTUxOSByb290MCowBQYDK2VwAyEAaxjokoEQT+Qjf6rG\n\
    XwHMKX7e35PTeROfAudWuSSdsj+jYzBhMB0GA1UdDgQWBBQWI9PSKIjPo/kaktm+\n\
    kaGvaJTfhjAfBgNVHSMEGDAWgBQWI9PSKIjPo/kaktm+kaGvaJTfhjAPBgNVHRMB\n\
    Af8EBTADAQH/MA4GA1UdDwEB/wQEAwICBDAFBgMrZXADQQA+YUeSbEtASfRGw3RN\n\
    AknSqCopfOS1h3OApHKZ/8n2/P/Q1aPaXJ1Y0Zhh40tgcQDvq8cwXH/MsnZNKTKL\n\
    8QYI\n\
    -----END CERTIFICATE-----\n\
    ";
    const ED_LEAF_PEM: &str = "\
    -----BEGIN CERTIFICATE-----\n\
    MIIBmjCCAUygAwIBAgIUXEX4oS9HphM9rA7RNmp6wSGjITkwBQYDK2VwMCwxEzAR\n\
    BgNVBAoMCnZvdWNoIHRlc3QxFTATBgNVBAMMDGVkMjU1MTkgcm9vdDAgFw0yNjEx\n\
    MjIxNzM5MDdaGA8yMTI2MTAyOTE3MzkwN1owFzEVMBMGA1UEAwwMZWQyNTUxOSBs\n\
    ZWFmMCowBQYDK2VwAyEAzkilmM3ujOejqRG5XLFl/bu19oWqZFGZlJkgkGa5B5+j\n\
    gZIwgY8wDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwEwYDVR0lBAwwCgYI\n\
    KwYBBQUHAwMwGgYDVR0RBBMwEYEPcHNzQGV4YW1wbGUuY29tMB0GA1UdDgQWBBQ2\n\
    Ij3FxYeeQKNrpOHOI7TFHhxmbTAfBgNVHSMEGDAWgBQWI9PSKIjPo/kaktm+kaGv\n\
    aJTfhjAFBgMrZXADQQBNeQYYDZ5n6mZdoz5FUD/H514tDtvyyxt7uQSNWTLqBhCg\n\
    uqLAg0jxEbcetqwksIjwkS3s9kEhATfe7FirgcwG\n\
    -----END CERTIFICATE-----\n\
    ";

    #[test]
    fn openssl_rsa_pss_and_ed25519_chains() {
        let at = unix("2030-01-01T00:00:00Z");
        for (root, leaf, root_scheme, leaf_scheme) in [
            (
                PSS_ROOT_PEM,
                PSS_LEAF_PEM,
                Scheme::RsaPss(HashAlg::Sha256),
                Scheme::RsaPss(HashAlg::Sha384),
            ),
            (ED_ROOT_PEM, ED_LEAF_PEM, Scheme::Ed25519, Scheme::Ed25519),
        ] {
            let root = Certificate::from_pem(root).unwrap();
            let leaf = Certificate::from_pem(leaf).unwrap();
            assert_eq!(root.signature_scheme(), Ok(root_scheme));
            assert_eq!(leaf.signature_scheme(), Ok(leaf_scheme));
            root.verify_signed_by(root.public_key()).unwrap();
            let path = verify_chain(&leaf, &[], std::slice::from_ref(&root), at).unwrap();
            assert_eq!(path, [leaf.clone(), root.clone()]);
            assert_eq!(
                leaf.san_identities().collect::<Vec<_>>(),
                ["pss@example.com"]
            );
            // OpenSSL writes basicConstraints CA:FALSE as an empty SEQUENCE.
            assert_eq!(
                leaf.basic_constraints(),
                Some(BasicConstraints {
                    ca: false,
                    path_len: None
                })
            );
            let serial_end = range_in(leaf.der(), leaf.serial()).end;
            let bad = Certificate::from_der(&flip(leaf.der(), serial_end - 1)).unwrap();
            assert_eq!(
                bad.verify_signed_by(root.public_key()),
                Err(CertSignatureError::Signature(SignatureError::Invalid))
            );
        }
    }

    /// Each supported signature algorithm, signed here and verified over the raw TBS; the
    /// wrong key, a key of the wrong kind, or one changed byte fail.
    #[test]
    fn signature_algorithms() {
        use HashAlg::*;
        let rsa = Signer::rsa();
        let table: Vec<(Signer, Alg, Scheme)> = vec![
            (
                Signer::generate(KeyKind::EcdsaP256),
                ES256,
                Scheme::Ecdsa(Sha256),
            ),
            (
                Signer::generate(KeyKind::EcdsaP384),
                ES384,
                Scheme::Ecdsa(Sha384),
            ),
            (
                Signer::generate(KeyKind::EcdsaP521),
                Alg::Ecdsa(Sha512),
                Scheme::Ecdsa(Sha512),
            ),
            (
                Signer::generate(KeyKind::Ed25519),
                Alg::Ed25519,
                Scheme::Ed25519,
            ),
            (Signer::rsa(), Alg::Rsa(Sha256), Scheme::RsaPkcs1(Sha256)),
            (Signer::rsa(), Alg::Rsa(Sha384), Scheme::RsaPkcs1(Sha384)),
            (Signer::rsa(), Alg::Rsa(Sha512), Scheme::RsaPkcs1(Sha512)),
            (Signer::rsa(), Alg::Pss(Sha256), Scheme::RsaPss(Sha256)),
            (Signer::rsa(), Alg::Pss(Sha384), Scheme::RsaPss(Sha384)),
            (Signer::rsa(), Alg::Pss(Sha512), Scheme::RsaPss(Sha512)),
        ];
        let subject = Signer::generate(KeyKind::EcdsaP256);
        let other_ec = Signer::generate(KeyKind::EcdsaP256).public_key();
        for (issuer, alg, scheme) in table {
            let cert = Template::leaf("ca").issue(&subject, &issuer, alg);
            assert_eq!(cert.signature_scheme(), Ok(scheme), "{alg:?}");
            cert.verify_signed_by(&issuer.public_key())
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            let wrong = if matches!(issuer.public_key().kind(), KeyKind::Rsa) {
                // Another RSA key: the fixture's public key does not match a fresh EC key.
                other_ec.clone()
            } else {
                Signer::generate(issuer.public_key().kind()).public_key()
            };
            let expected = if wrong.kind() == issuer.public_key().kind() {
                Err(CertSignatureError::Signature(SignatureError::Invalid))
            } else {
                Err(CertSignatureError::Signature(
                    SignatureError::SchemeMismatch {
                        scheme,
                        kind: wrong.kind(),
                    },
                ))
            };
            assert_eq!(cert.verify_signed_by(&wrong), expected, "{alg:?}");
            let serial_end = range_in(cert.der(), cert.serial()).end;
            let bad = Certificate::from_der(&flip(cert.der(), serial_end - 1)).unwrap();
            assert_eq!(
                bad.verify_signed_by(&issuer.public_key()),
                Err(CertSignatureError::Signature(SignatureError::Invalid)),
                "{alg:?}"
            );
        }
        // The RSA fixture key against an ECDSA-signed certificate.
        let cert = Template::leaf("ca").issue(&subject, &subject, ES256);
        assert!(matches!(
            cert.verify_signed_by(&rsa.public_key()),
            Err(CertSignatureError::Signature(
                SignatureError::SchemeMismatch { .. }
            ))
        ));
    }

    /// AlgorithmIdentifiers that parse but that vouch refuses to verify, and why.
    #[test]
    fn unsupported_signature_algorithms() {
        use HashAlg::*;
        let sha1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
        let sha1_with_rsa = Oid::new(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05]);
        let pss_no_mgf = seq(&[
            oid_tlv(oid::RSASSA_PSS),
            seq(&[
                der::encode(tag::context(0), &seq(&[oid_tlv(oid::SHA256)])),
                der::encode(tag::context(2), &der::encode(tag::INTEGER, &[32])),
            ]),
        ]);
        let pss_sha1 = seq(&[
            oid_tlv(oid::RSASSA_PSS),
            seq(&[der::encode(
                tag::context(0),
                &seq(&[oid_tlv(Oid::new(sha1))]),
            )]),
        ]);
        let table: Vec<(Vec<u8>, UnsupportedSignature)> = vec![
            (
                seq(&[oid_tlv(sha1_with_rsa), der::encode(tag::NULL, &[])]),
                UnsupportedSignature::Algorithm(sha1_with_rsa.into()),
            ),
            (
                seq(&[oid_tlv(oid::ECDSA_WITH_SHA256), der::encode(tag::NULL, &[])]),
                UnsupportedSignature::Parameters(oid::ECDSA_WITH_SHA256.into()),
            ),
            (
                seq(&[oid_tlv(oid::ED25519), der::encode(tag::NULL, &[])]),
                UnsupportedSignature::Parameters(oid::ED25519.into()),
            ),
            (
                seq(&[oid_tlv(oid::RSASSA_PSS)]),
                UnsupportedSignature::PssDefaultHash,
            ),
            (
                pss_sha1,
                UnsupportedSignature::PssHash(Oid::new(sha1).into()),
            ),
            (pss_no_mgf, UnsupportedSignature::PssMgfHash),
            (
                pss_alg(Sha256, Sha384, 32, false),
                UnsupportedSignature::PssMgfHash,
            ),
            (
                pss_alg(Sha256, Sha256, 20, false),
                UnsupportedSignature::PssSaltLength { salt: 20, want: 32 },
            ),
            (
                pss_alg(Sha512, Sha512, 32, false),
                UnsupportedSignature::PssSaltLength { salt: 32, want: 64 },
            ),
            (
                pss_alg(Sha256, Sha256, 32, true),
                UnsupportedSignature::PssTrailer,
            ),
        ];
        let rsa = Signer::rsa().public_key();
        for (alg, want) in table {
            let template = Template::new("leaf", "ca", vec![]);
            let der_bytes = assemble(&template.tbs(&test_spki(), &alg), &alg, &[1; 64]);
            let cert = Certificate::from_der(&der_bytes).unwrap_or_else(|e| panic!("{want}: {e}"));
            assert_eq!(cert.signature_scheme(), Err(&want));
            assert_eq!(
                cert.verify_signed_by(&rsa),
                Err(CertSignatureError::Unsupported(want))
            );
        }
    }

    /// Malformed or non-DER certificates, each refused with a precise error.
    #[test]
    fn strict_parsing() {
        let base = || Template::leaf("ca");
        let with = |f: &dyn Fn(&mut Template)| {
            let mut t = base();
            f(&mut t);
            t.unsigned()
        };
        let unknown = Oid::new(&[0x2a, 0x03, 0x04]);
        // An extensions field holding an empty SEQUENCE, appended to a TBS without one.
        let empty_extensions = {
            let mut t = base();
            t.extensions.clear();
            let alg = alg_der(ES256);
            let tbs = t.tbs(&test_spki(), &alg);
            let contents = der::parse_single(&tbs, tag::SEQUENCE).unwrap().value;
            let tbs = der::encode(
                tag::SEQUENCE,
                &[contents, &der::encode(tag::context(3), &seq(&[]))].concat(),
            );
            assemble(&tbs, &alg, &[0; 8])
        };
        let table: Vec<(&str, Vec<u8>, CertError)> = vec![
            (
                "duplicate extension",
                with(&|t| t.extensions.push(key_usage(KeyUsage::DIGITAL_SIGNATURE))),
                CertError::DuplicateExtension(oids::KEY_USAGE.into()),
            ),
            (
                "critical FALSE encoded",
                with(&|t| {
                    t.extensions.push(seq(&[
                        oid_tlv(unknown),
                        der::encode(tag::BOOLEAN, &[0]),
                        der::encode(tag::OCTET_STRING, &[]),
                    ]))
                }),
                CertError::ExplicitDefault("extension critical flag"),
            ),
            (
                "cA FALSE encoded",
                with(&|t| {
                    t.extensions.push(ext(
                        oids::BASIC_CONSTRAINTS,
                        true,
                        &seq(&[der::encode(tag::BOOLEAN, &[0])]),
                    ))
                }),
                CertError::ExplicitDefault("basicConstraints cA"),
            ),
            (
                "pathLenConstraint without cA",
                with(&|t| t.extensions.push(basic_constraints(false, Some(0)))),
                CertError::InvalidExtension {
                    extension: "basicConstraints",
                    problem: "pathLenConstraint without cA",
                },
            ),
            (
                "empty extended key usage",
                with(&|t| t.extensions[1] = ext(oids::EXTENDED_KEY_USAGE, false, &seq(&[]))),
                CertError::InvalidExtension {
                    extension: "extendedKeyUsage",
                    problem: "no key purpose",
                },
            ),
            (
                "key usage with a trailing zero bit",
                with(&|t| {
                    t.extensions[0] = ext(
                        oids::KEY_USAGE,
                        true,
                        &der::encode(tag::BIT_STRING, &[6, 0x80]),
                    )
                }),
                CertError::BadExtension {
                    extension: "keyUsage",
                    source: DerError::BadBitString,
                },
            ),
            (
                "empty SAN email",
                with(&|t| t.extensions[2] = san(&[der::encode(0x81, b"")])),
                CertError::InvalidExtension {
                    extension: "subjectAltName",
                    problem: "a name is empty or not IA5",
                },
            ),
            (
                "constructed SAN email",
                with(&|t| t.extensions[2] = san(&[der::encode(0xa1, b"")])),
                CertError::InvalidExtension {
                    extension: "subjectAltName",
                    problem: "a name has an unknown or mis-encoded tag",
                },
            ),
            (
                "SAN without names",
                with(&|t| t.extensions[2] = san(&[])),
                CertError::InvalidExtension {
                    extension: "subjectAltName",
                    problem: "no names",
                },
            ),
            (
                "Fulcio issuer .8 as IA5String",
                with(&|t| {
                    t.extensions.push(ext(
                        oids::FULCIO_ISSUER_V2,
                        false,
                        &der::encode(tag::IA5_STRING, b"https://x"),
                    ))
                }),
                CertError::BadExtension {
                    extension: "Fulcio OIDC issuer (1.3.6.1.4.1.57264.1.8)",
                    source: DerError::UnexpectedTag {
                        expected: tag::UTF8_STRING,
                        found: tag::IA5_STRING,
                    },
                },
            ),
            (
                "Fulcio issuer .1 not UTF-8",
                with(&|t| {
                    t.extensions
                        .push(ext(oids::FULCIO_ISSUER_V1, false, &[0xff, 0xfe]))
                }),
                CertError::InvalidExtension {
                    extension: "Fulcio OIDC issuer (1.3.6.1.4.1.57264.1.1)",
                    problem: "not a non-empty UTF-8 string",
                },
            ),
            (
                "SCT list not in an OCTET STRING",
                with(&|t| t.extensions.push(ext(oids::SCT_LIST, false, &[0x00, 0x00]))),
                CertError::BadExtension {
                    extension: "SignedCertificateTimestampList",
                    source: DerError::UnexpectedTag {
                        expected: tag::OCTET_STRING,
                        found: 0,
                    },
                },
            ),
            (
                "empty extensions",
                empty_extensions,
                CertError::EmptyExtensions,
            ),
            (
                "v1 with extensions",
                with(&|t| t.version = None),
                CertError::FieldNotAllowed {
                    version: 1,
                    field: "extensions",
                },
            ),
            (
                "explicit v1",
                with(&|t| t.version = Some(0)),
                CertError::ExplicitDefault("version"),
            ),
            (
                "version 4",
                with(&|t| t.version = Some(3)),
                CertError::UnsupportedVersion(4),
            ),
            (
                "inner and outer algorithms differ",
                with(&|t| t.inner_alg = Some(alg_der(ES384))),
                CertError::AlgorithmMismatch,
            ),
            (
                "21-byte serial",
                with(&|t| t.serial = vec![0x11; 21]),
                CertError::SerialTooLong(21),
            ),
            (
                "negative serial",
                with(&|t| t.serial = vec![0xff]),
                CertError::Der {
                    field: "serialNumber",
                    source: DerError::BadInteger,
                },
            ),
            (
                "empty relative distinguished name",
                with(&|t| t.subject = seq(&[der::encode(tag::SET, &[])])),
                CertError::InvalidName {
                    field: "subject",
                    problem: "empty relative distinguished name",
                },
            ),
        ];
        for (what, der_bytes, want) in table {
            assert_eq!(Certificate::from_der(&der_bytes), Err(want), "{what}");
        }
        // The largest version number (its "+ 1" once overflowed in a debug build).
        let alg = alg_der(ES256);
        let tbs = base().tbs(&test_spki(), &alg);
        let contents = der::parse_single(&tbs, tag::SEQUENCE).unwrap().value;
        assert_eq!(&contents[..5], [0xa0, 0x03, 0x02, 0x01, 0x02]);
        let huge = der::encode(
            tag::context(0),
            &der::encode(tag::INTEGER, &[&[0][..], &[0xff; 8]].concat()),
        );
        let tbs = der::encode(tag::SEQUENCE, &[&huge[..], &contents[5..]].concat());
        assert_eq!(
            Certificate::from_der(&assemble(&tbs, &alg, &[0; 8])),
            Err(CertError::UnsupportedVersion(u64::MAX))
        );
        // Trailing bytes after the certificate.
        let mut trailing = base().unsigned();
        trailing.push(0);
        assert_eq!(
            Certificate::from_der(&trailing),
            Err(CertError::Der {
                field: "structure",
                source: DerError::TrailingData
            })
        );
        // The template itself parses.
        Certificate::from_der(&base().unsigned()).unwrap();
    }

    /// An unknown extension is kept; when critical, the certificate cannot be in a path.
    #[test]
    fn unknown_critical_extensions_make_a_certificate_unusable() {
        let unknown = Oid::new(&[0x2a, 0x03, 0x04]);
        let root_key = Signer::generate(KeyKind::EcdsaP384);
        let leaf_key = Signer::generate(KeyKind::EcdsaP256);
        let root = Template::ca("root", "root", None).issue(&root_key, &root_key, ES384);
        for critical in [false, true] {
            let mut template = Template::leaf("root");
            template
                .extensions
                .push(ext(unknown, critical, &[0x05, 0x00]));
            let leaf = template.issue(&leaf_key, &root_key, ES384);
            assert_eq!(leaf.extension(unknown).map(|e| e.critical), Some(critical));
            let result = verify_chain(&leaf, &[], std::slice::from_ref(&root), NOW);
            if critical {
                assert_eq!(
                    leaf.unhandled_critical_extensions(),
                    [ObjectId::from(unknown)]
                );
                assert_eq!(
                    result.unwrap_err().to_string(),
                    "certificate \"https://example.com/signer\" has a critical extension vouch does not process: 1.2.3.4"
                );
            } else {
                assert!(result.is_ok());
            }
        }
        // On a CA, too (name constraints, which vouch does not enforce).
        let name_constraints = Oid::new(&[0x55, 0x1d, 0x1e]);
        let mut template = Template::ca("root", "root", None);
        template
            .extensions
            .push(ext(name_constraints, true, &seq(&[])));
        let root = template.issue(&root_key, &root_key, ES384);
        let leaf = Template::leaf("root").issue(&leaf_key, &root_key, ES384);
        assert_eq!(
            verify_chain(&leaf, &[], std::slice::from_ref(&root), NOW),
            Err(ChainError::UnhandledCriticalExtension {
                cert: "CN=root".into(),
                oid: name_constraints.into()
            })
        );
    }

    /// The path rules, one table row each: a leaf, an intermediate and a root built from
    /// templates that the row changes, and the error (or path length) it must give.
    #[test]
    fn chain_rules() {
        struct Pki {
            root: Template,
            intermediate: Template,
            leaf: Template,
            at: i64,
        }
        let standard = || Pki {
            root: Template::ca("root", "root", Some(1)),
            intermediate: Template::ca("intermediate", "root", Some(0)),
            leaf: Template::leaf("intermediate"),
            at: NOW,
        };
        type Change = Box<dyn Fn(&mut Pki)>;
        let ok = |n: usize| Ok::<usize, ChainError>(n);
        let leaf_name = || "https://example.com/signer".to_owned();
        let table: Vec<(&str, Change, Result<usize, ChainError>)> = vec![
            ("the standard path", Box::new(|_| {}), ok(3)),
            (
                "intermediate without basicConstraints",
                Box::new(|p| {
                    p.intermediate.extensions.remove(0);
                }),
                Err(ChainError::IssuerNotCa {
                    cert: leaf_name(),
                    issuer: "CN=intermediate".into(),
                }),
            ),
            (
                "intermediate with cA absent",
                Box::new(|p| p.intermediate.extensions[0] = basic_constraints(false, None)),
                Err(ChainError::IssuerNotCa {
                    cert: leaf_name(),
                    issuer: "CN=intermediate".into(),
                }),
            ),
            (
                "intermediate without keyCertSign",
                Box::new(|p| p.intermediate.extensions[1] = key_usage(KeyUsage::DIGITAL_SIGNATURE)),
                Err(ChainError::IssuerCannotSignCertificates {
                    issuer: "CN=intermediate".into(),
                }),
            ),
            (
                "intermediate without keyUsage",
                Box::new(|p| p.intermediate.extensions.truncate(1)),
                ok(3),
            ),
            (
                "root with pathLen 0 above an intermediate",
                Box::new(|p| p.root.extensions[0] = basic_constraints(true, Some(0))),
                Err(ChainError::PathLenExceeded {
                    issuer: "CN=root".into(),
                    path_len: 0,
                    below: 1,
                }),
            ),
            (
                "intermediate restricted to time stamping",
                Box::new(|p| p.intermediate.extensions.push(eku(&[oids::TIME_STAMPING]))),
                Err(ChainError::IssuerNotForCodeSigning {
                    issuer: "CN=intermediate".into(),
                }),
            ),
            (
                "intermediate allowing any purpose",
                Box::new(|p| {
                    p.intermediate
                        .extensions
                        .push(eku(&[oids::ANY_EXTENDED_KEY_USAGE]))
                }),
                ok(3),
            ),
            (
                "intermediate for code signing",
                Box::new(|p| p.intermediate.extensions.push(eku(&[oids::CODE_SIGNING]))),
                ok(3),
            ),
            (
                "leaf is a CA",
                Box::new(|p| p.leaf.extensions.push(basic_constraints(true, None))),
                Err(ChainError::LeafIsCa { cert: leaf_name() }),
            ),
            (
                "leaf for time stamping",
                Box::new(|p| p.leaf.extensions[1] = eku(&[oids::TIME_STAMPING])),
                Err(ChainError::LeafNotForCodeSigning { cert: leaf_name() }),
            ),
            (
                "leaf for any purpose",
                Box::new(|p| p.leaf.extensions[1] = eku(&[oids::ANY_EXTENDED_KEY_USAGE])),
                Err(ChainError::LeafNotForCodeSigning { cert: leaf_name() }),
            ),
            (
                "leaf without extended key usage",
                Box::new(|p| {
                    p.leaf.extensions.remove(1);
                }),
                ok(3),
            ),
            (
                "leaf key usage without digitalSignature",
                Box::new(|p| p.leaf.extensions[0] = key_usage(KeyUsage::KEY_ENCIPHERMENT)),
                Err(ChainError::LeafKeyUsage { cert: leaf_name() }),
            ),
            (
                "intermediate expired before the signing time",
                Box::new(|p| p.intermediate.not_after = NOW - 1),
                Err(ChainError::Expired {
                    cert: "CN=intermediate".into(),
                    not_after: NOW - 1,
                    at: NOW,
                }),
            ),
            (
                "root not yet valid at the signing time",
                Box::new(|p| p.root.not_before = NOW + 1),
                Err(ChainError::NotYetValid {
                    cert: "CN=root".into(),
                    not_before: NOW + 1,
                    at: NOW,
                }),
            ),
            (
                "signing time at the root's last second",
                Box::new(|p| {
                    p.root.not_after = NOW;
                    p.intermediate.not_after = NOW;
                }),
                ok(3),
            ),
            (
                "leaf names an issuer nobody is",
                Box::new(|p| p.leaf.issuer = name("elsewhere")),
                Err(ChainError::IssuerNotFound {
                    cert: leaf_name(),
                    issuer: "CN=elsewhere".into(),
                }),
            ),
            (
                "intermediate names an issuer nobody is",
                Box::new(|p| p.intermediate.issuer = name("elsewhere")),
                Err(ChainError::IssuerNotFound {
                    cert: "CN=intermediate".into(),
                    issuer: "CN=elsewhere".into(),
                }),
            ),
        ];
        let root_key = Signer::generate(KeyKind::EcdsaP384);
        let intermediate_key = Signer::generate(KeyKind::EcdsaP384);
        let leaf_key = Signer::generate(KeyKind::EcdsaP256);
        for (what, change, want) in table {
            let mut pki = standard();
            change(&mut pki);
            let root = pki.root.issue(&root_key, &root_key, ES384);
            let intermediate = pki.intermediate.issue(&intermediate_key, &root_key, ES384);
            let leaf = pki.leaf.issue(&leaf_key, &intermediate_key, ES384);
            let got = verify_chain(&leaf, &[intermediate], &[root], pki.at).map(|p| p.len());
            assert_eq!(got, want, "{what}");
        }
    }

    /// The search never loops, stops at MAX_CHAIN_LEN certificates and MAX_SIGNATURE_CHECKS
    /// checks, reports the failure furthest from the leaf, and trusts roots as they are.
    #[test]
    fn chain_search_is_bounded_and_explains_itself() {
        let key = |kind| Signer::generate(kind);
        let root_key = key(KeyKind::EcdsaP256);
        let root = Template::ca("root", "root", None).issue(&root_key, &root_key, ES256);
        let roots = std::slice::from_ref(&root);

        // Two CAs that issued each other, and a leaf under one of them.
        let (a_key, b_key) = (key(KeyKind::EcdsaP256), key(KeyKind::EcdsaP256));
        let a = Template::ca("A", "B", None).issue(&a_key, &b_key, ES256);
        let b = Template::ca("B", "A", None).issue(&b_key, &a_key, ES256);
        let leaf = Template::leaf("A").issue(&key(KeyKind::EcdsaP256), &a_key, ES256);
        assert_eq!(
            verify_chain(&leaf, &[a.clone(), b.clone()], roots, NOW),
            Err(ChainError::Loop {
                cert: "CN=A".into()
            })
        );

        // A straight line of intermediates: 6 fit in a path of 8, 7 do not.
        let mut keys = vec![root_key];
        let mut line = Vec::new();
        for i in 1..=7 {
            keys.push(key(KeyKind::EcdsaP256));
            let issuer = if i == 1 {
                "root".to_owned()
            } else {
                format!("I{}", i - 1)
            };
            line.push(Template::ca(&format!("I{i}"), &issuer, None).issue(
                &keys[i],
                &keys[i - 1],
                ES256,
            ));
        }
        let leaf_under =
            |n: usize| Template::leaf(&format!("I{n}")).issue(&keys[0], &keys[n], ES256);
        assert_eq!(
            verify_chain(&leaf_under(6), &line, roots, NOW).map(|p| p.len()),
            Ok(8)
        );
        assert_eq!(
            verify_chain(&leaf_under(7), &line, roots, NOW),
            Err(ChainError::TooLong { max: MAX_CHAIN_LEN })
        );

        // Many CAs with the issuer's name but other keys: the budget runs out.
        let real_key = key(KeyKind::EcdsaP256);
        let impostors: Vec<Certificate> = (0..MAX_SIGNATURE_CHECKS + 8)
            .map(|_| {
                let k = key(KeyKind::EcdsaP256);
                Template::ca("ca", "root", None).issue(&k, &keys[0], ES256)
            })
            .collect();
        let leaf = Template::leaf("ca").issue(&key(KeyKind::EcdsaP256), &real_key, ES256);
        assert_eq!(
            verify_chain(&leaf, &impostors, roots, NOW),
            Err(ChainError::SearchLimit {
                checks: MAX_SIGNATURE_CHECKS
            })
        );

        // With key identifiers, the CA whose subject key identifier is the leaf's authority key
        // identifier is tried first, however many others share its name.
        let ski = |id: u8| {
            ext(
                oids::SUBJECT_KEY_IDENTIFIER,
                false,
                &der::encode(tag::OCTET_STRING, &[id; 20]),
            )
        };
        let aki = |id: u8| {
            ext(
                oids::AUTHORITY_KEY_IDENTIFIER,
                false,
                &seq(&[der::encode(0x80, &[id; 20])]),
            )
        };
        let mut identified: Vec<Certificate> = (0..MAX_SIGNATURE_CHECKS + 8)
            .map(|i| {
                let mut t = Template::ca("ca", "root", None);
                t.extensions.push(ski(i as u8));
                t.issue(&key(KeyKind::EcdsaP256), &keys[0], ES256)
            })
            .collect();
        let mut real = Template::ca("ca", "root", None);
        real.extensions.push(ski(0xee));
        identified.push(real.issue(&real_key, &keys[0], ES256));
        let mut leaf_template = Template::leaf("ca");
        leaf_template.extensions.push(aki(0xee));
        let identified_leaf = leaf_template.issue(&key(KeyKind::EcdsaP256), &real_key, ES256);
        assert_eq!(identified_leaf.authority_key_id(), Some(&[0xee; 20][..]));
        assert_eq!(
            verify_chain(&identified_leaf, &identified, roots, NOW).map(|p| p.len()),
            Ok(3)
        );

        // Of two CAs with the issuer's name, the one that signed leads further: its missing
        // issuer is the reported failure, not the other one's signature.
        let orphan = Template::ca("ca", "nobody", None).issue(&real_key, &keys[0], ES256);
        assert_eq!(
            verify_chain(&leaf, &[impostors[0].clone(), orphan.clone()], roots, NOW),
            Err(ChainError::IssuerNotFound {
                cert: "CN=ca".into(),
                issuer: "CN=nobody".into()
            })
        );
        // Given only the impostor, the signature is what fails.
        assert!(matches!(
            verify_chain(&leaf, &impostors[..1], roots, NOW),
            Err(ChainError::BadSignature { issuer, source: CertSignatureError::Signature(SignatureError::Invalid), .. })
                if issuer == "CN=ca"
        ));

        // A trusted root's own signature is never checked: one signed by another key anchors.
        let odd_root = Template::ca("root", "root", None).issue(&keys[0], &keys[1], ES256);
        assert!(odd_root.verify_signed_by(odd_root.public_key()).is_err());
        let leaf = Template::leaf("root").issue(&keys[2], &keys[0], ES256);
        assert_eq!(
            verify_chain(&leaf, &[], std::slice::from_ref(&odd_root), NOW),
            Ok(vec![leaf.clone(), odd_root.clone()])
        );
        // Given as an intermediate instead, it is self-issued but not self-signed, so the
        // search goes on, and finds nothing above it.
        let elsewhere =
            Template::ca("elsewhere", "elsewhere", None).issue(&keys[3], &keys[3], ES256);
        assert_eq!(
            verify_chain(
                &leaf,
                std::slice::from_ref(&odd_root),
                std::slice::from_ref(&elsewhere),
                NOW
            ),
            Err(ChainError::Loop {
                cert: "CN=root".into()
            })
        );
    }

    #[test]
    fn times_in_messages() {
        for (unix, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_634_714_717, "2021-10-20T07:25:17Z"),
        ] {
            assert_eq!(format_time(unix), text);
            assert_eq!(self::unix(text), unix);
        }
        // Any signing time a caller passes can be shown.
        let key = Signer::generate(KeyKind::EcdsaP256);
        let root = Template::ca("root", "root", None).issue(&key, &key, ES256);
        let leaf = Template::leaf("root").issue(&key, &key, ES256);
        for at in [i64::MIN, i64::MAX] {
            let err = verify_chain(&leaf, &[], std::slice::from_ref(&root), at).unwrap_err();
            assert!(err.to_string().contains("signing time"), "{err}");
        }
    }

    /// Changing any signed byte breaks the signature: the serial number, the subject key
    /// identifier, a SAN character, or the signature itself.
    #[test]
    fn tampered_certificates_fail() {
        let bundles = keyless_bundles();
        let public_good = trust(PUBLIC_GOOD);
        let scaffolding = trust("sigstore-go/scaffolding.json");
        let sct_ext = trust(&format!(
            "{CONFORMANCE}/bundle-with-sct-with-extensions/trusted_root.json"
        ));
        let leaf = |name: &str| bundles.iter().find(|b| b.name == name).unwrap().certs[0].clone();
        let pairs: Vec<(&str, Certificate, Certificate)> = vec![
            (
                "Fulcio leaf (ECDSA P-384, SHA-384)",
                leaf("happy-path-v0.2"),
                public_good.intermediates[0].clone(),
            ),
            (
                "Fulcio intermediate",
                public_good.intermediates[0].clone(),
                public_good.roots[1].clone(),
            ),
            (
                "Fulcio root, self-signed",
                public_good.roots[0].clone(),
                public_good.roots[0].clone(),
            ),
            (
                "RSA-4096 CA signing a leaf",
                leaf("sigstore-go/othername.sigstore.json"),
                scaffolding.roots[0].clone(),
            ),
            (
                "RSA CA with SCT extensions",
                leaf("bundle-with-sct-with-extensions"),
                sct_ext.roots[0].clone(),
            ),
        ];
        for (what, cert, issuer) in pairs {
            cert.verify_signed_by(issuer.public_key())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let mut tampered = Vec::new();
            let serial_end = range_in(cert.der(), cert.serial()).end;
            tampered.push(flip(cert.der(), serial_end - 1));
            let position = |bytes: &[u8]| cert.der().windows(bytes.len()).position(|w| w == bytes);
            if let Some(ski) = cert.subject_key_id() {
                tampered.push(flip(cert.der(), position(ski).unwrap()));
            }
            if let Some(id) = cert.san_identities().next() {
                tampered.push(flip(
                    cert.der(),
                    position(id.as_bytes()).unwrap() + id.len() - 1,
                ));
            }
            tampered.push(flip(cert.der(), cert.der().len() - 1));
            for bad in tampered {
                let bad = Certificate::from_der(&bad).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(
                    bad.verify_signed_by(issuer.public_key()),
                    Err(CertSignatureError::Signature(SignatureError::Invalid)),
                    "{what}"
                );
            }
        }
        // Through the chain check, with the leaf's name in the error.
        let trust = public_good;
        let case = bundles
            .iter()
            .find(|b| b.name == "happy-path-v0.1")
            .unwrap();
        let serial_end = range_in(case.certs[0].der(), case.certs[0].serial()).end;
        let bad = Certificate::from_der(&flip(case.certs[0].der(), serial_end - 1)).unwrap();
        let result = verify_chain(
            &bad,
            &trust.intermediates,
            &trust.roots,
            case.integrated_time.unwrap(),
        );
        assert_eq!(
            result.unwrap_err().to_string(),
            format!(
                "signature of \"{DEFAULT_IDENTITY}\" does not verify with the key of \"CN=sigstore-intermediate,O=sigstore.dev\": signature does not verify"
            )
        );
    }

    fn flip(der_bytes: &[u8], at: usize) -> Vec<u8> {
        let mut out = der_bytes.to_vec();
        out[at] ^= 0x01;
        out
    }

    #[test]
    fn no_input_makes_the_parser_panic() {
        let bundles = keyless_bundles();
        let leaf = bundles
            .iter()
            .find(|b| b.name == "happy-path-v0.3")
            .unwrap()
            .certs[0]
            .der()
            .to_vec();
        let root = trust("sigstore-go/scaffolding.json").roots[0]
            .der()
            .to_vec();
        for input in [leaf, root] {
            for len in 0..input.len() {
                assert!(Certificate::from_der(&input[..len]).is_err());
            }
            let mut accepted = 0;
            for i in 0..input.len() {
                let mut bad = input.clone();
                bad[i] ^= 0xff;
                if let Ok(cert) = Certificate::from_der(&bad) {
                    accepted += 1;
                    // What parses is still self-consistent.
                    assert_eq!(cert.der(), &bad[..]);
                    let _ = cert.verify_signed_by(cert.public_key());
                    let _ = cert.tbs_der_without_extension(oids::SCT_LIST);
                }
            }
            // Flips inside strings, identifiers and signatures still parse.
            assert!(accepted > 0);
        }
    }
}
