//! Keys: public keys from SPKI (DER or PEM), private keys from PKCS#8, SEC1 and PKCS#1,
//! generation, signing, and verification under an explicit [`Scheme`]. The backend is
//! aws-lc-rs; Ed25519ph (RFC 8032 prehashed Ed25519, which cosign uses for Ed25519 keys) is
//! the one scheme it lacks, and is verified with ed25519-dalek.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
    VerificationAlgorithm,
};

use crate::der::{self, DerError, oid, tag};
use crate::pem::{self, PemError};

/// A hash function used by a signature scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    fn backend(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            HashAlg::Sha256 => &aws_lc_rs::digest::SHA256,
            HashAlg::Sha384 => &aws_lc_rs::digest::SHA384,
            HashAlg::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    pub fn digest(self, bytes: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.backend(), bytes)
            .as_ref()
            .to_vec()
    }

    pub fn output_len(self) -> usize {
        self.backend().output_len()
    }
}

/// A signature scheme: algorithm, hash and encoding. ECDSA signatures are ASN.1 DER.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Ecdsa(HashAlg),
    Ed25519,
    /// RFC 8032 Ed25519ph: Ed25519 over SHA-512 of the message, with its domain separation.
    Ed25519ph,
    RsaPkcs1(HashAlg),
    RsaPss(HashAlg),
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheme::Ecdsa(h) => write!(f, "ECDSA with {h:?}"),
            Scheme::Ed25519 => f.write_str("Ed25519"),
            Scheme::Ed25519ph => f.write_str("Ed25519ph"),
            Scheme::RsaPkcs1(h) => write!(f, "RSA PKCS#1 v1.5 with {h:?}"),
            Scheme::RsaPss(h) => write!(f, "RSA-PSS with {h:?}"),
        }
    }
}

/// The kind of key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    Ed25519,
    Rsa,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("key is not valid DER: {0}")]
    Der(#[from] DerError),
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("unsupported key algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("unsupported elliptic curve {0}")]
    UnsupportedCurve(String),
    #[error("RSA keys must have 2048 to 8192 bits, this one has {0}")]
    RsaSize(usize),
    #[error("the crypto library rejected the key: {0}")]
    Rejected(String),
    #[error("a PEM {0} block is not a key vouch reads")]
    UnsupportedPem(String),
    #[error("the key is encrypted; a password is needed")]
    Encrypted,
    #[error("cannot {0} this kind of key")]
    Unsupported(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("signature does not verify")]
    Invalid,
    #[error("{scheme} cannot be used with a {kind:?} key")]
    SchemeMismatch { scheme: Scheme, kind: KeyKind },
    #[error("{0} signs the message itself, not a digest of it")]
    MessageRequired(Scheme),
    #[error("digest is {got} bytes, {scheme} needs {want}")]
    DigestLength {
        scheme: Scheme,
        got: usize,
        want: usize,
    },
    #[error("signing failed")]
    Signing,
}

/// A public key, parsed once; verification reuses the parsed form.
#[derive(Clone)]
pub struct PublicKey {
    kind: KeyKind,
    spki: Vec<u8>,
    /// The key bytes inside the SPKI: EC point, Ed25519 key, or PKCS#1 RSAPublicKey.
    raw: Vec<u8>,
    /// The backend's parsed key, one slot per scheme the key's kind can verify with (see
    /// [`scheme_slot`]): a P-384 key checks certificates under SHA-384 and timestamps under
    /// SHA-256, and neither may parse the key again. Shared by clones (the same key).
    parsed: Arc<[OnceLock<ParsedPublicKey>; SCHEME_SLOTS]>,
    /// Signatures this key verified, when the key is long-lived and asked to remember them
    /// ([`PublicKey::with_signature_memo`]); clones share it.
    memo: Option<Arc<SignatureMemo>>,
}

/// How many schemes one key can verify with: an RSA key's PKCS#1 v1.5 and PSS under three
/// hashes each.
const SCHEME_SLOTS: usize = 6;

/// Where a scheme's parsed key lives. The key's kind fixes the algorithm family
/// ([`PublicKey::check`] runs first), so the hash and the padding pick the slot.
fn scheme_slot(scheme: Scheme) -> usize {
    let hash = |h: HashAlg| match h {
        HashAlg::Sha256 => 0,
        HashAlg::Sha384 => 1,
        HashAlg::Sha512 => 2,
    };
    match scheme {
        Scheme::Ecdsa(h) | Scheme::RsaPkcs1(h) => hash(h),
        Scheme::RsaPss(h) => 3 + hash(h),
        Scheme::Ed25519 | Scheme::Ed25519ph => 0,
    }
}

/// The signatures one key verified: SHA-256 fingerprints of (scheme, message or digest,
/// signature), successes only.
///
/// It can never change an answer. Verification is a deterministic function of the key, the
/// scheme, the signed bytes and the signature; the memo belongs to one key (its SPKI never
/// changes), and its entries fingerprint the other three, length-prefixed and with a tag that
/// keeps messages and digests apart, so a hit means that this very check succeeded before. Two
/// different checks could share an entry only through a SHA-256 collision, which every
/// signature here already assumes away. Failures are never remembered, so a memo cannot turn
/// a bad signature good, nor hide a key that stopped verifying. Bounded: when full it is
/// emptied, which costs only time.
struct SignatureMemo {
    capacity: usize,
    seen: Mutex<HashSet<[u8; 32]>>,
}

impl SignatureMemo {
    fn fingerprint(scheme: Scheme, input: SignedInput<'_>, signature: &[u8]) -> [u8; 32] {
        let (tag, bytes) = match input {
            SignedInput::Message(m) => (0u8, m),
            SignedInput::Digest(d) => (1u8, d),
        };
        let hash_byte = |h: HashAlg| match h {
            HashAlg::Sha256 => 1,
            HashAlg::Sha384 => 2,
            HashAlg::Sha512 => 3,
        };
        let scheme_bytes = match scheme {
            Scheme::Ecdsa(h) => [1, hash_byte(h)],
            Scheme::Ed25519 => [2, 0],
            Scheme::Ed25519ph => [3, 0],
            Scheme::RsaPkcs1(h) => [4, hash_byte(h)],
            Scheme::RsaPss(h) => [5, hash_byte(h)],
        };
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(b"vouch signature memo v1\0");
        ctx.update(&scheme_bytes);
        ctx.update(&[tag]);
        ctx.update(&(bytes.len() as u64).to_be_bytes());
        ctx.update(bytes);
        ctx.update(&(signature.len() as u64).to_be_bytes());
        ctx.update(signature);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    fn contains(&self, entry: &[u8; 32]) -> bool {
        // A panic while the lock was held cannot leave the set half-updated in a way that
        // matters: every entry in it is still a check that succeeded.
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(entry)
    }

    fn insert(&self, entry: [u8; 32]) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= self.capacity {
            seen.clear();
        }
        seen.insert(entry);
    }
}

/// What a signature covers, as the caller hands it in.
#[derive(Clone, Copy)]
enum SignedInput<'a> {
    Message(&'a [u8]),
    Digest(&'a [u8]),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({:?}, sha256:{})",
            self.kind,
            hex(&self.fingerprint())
        )
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki == other.spki
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(spki: &[u8]) -> Result<PublicKey, KeyError> {
        let mut outer = der::Reader::new(der::parse_single(spki, tag::SEQUENCE)?.value);
        let mut alg = outer.read_sequence()?;
        let algorithm = alg.read(tag::OID)?.oid()?;
        let raw = outer.read(tag::BIT_STRING)?.bit_string()?;
        outer.finish()?;
        let kind = if algorithm == oid::EC_PUBLIC_KEY {
            let curve = alg.read(tag::OID)?.oid()?;
            alg.finish()?;
            match curve {
                c if c == oid::PRIME256V1 => KeyKind::EcdsaP256,
                c if c == oid::SECP384R1 => KeyKind::EcdsaP384,
                c if c == oid::SECP521R1 => KeyKind::EcdsaP521,
                other => return Err(KeyError::UnsupportedCurve(other.to_string())),
            }
        } else if algorithm == oid::ED25519 {
            alg.finish()?;
            if raw.len() != 32 {
                return Err(KeyError::Rejected(
                    "Ed25519 public keys are 32 bytes".into(),
                ));
            }
            KeyKind::Ed25519
        } else if algorithm == oid::RSA_ENCRYPTION {
            // Parameters must be NULL (RFC 3279); some encoders omit them.
            if let Some(null) = alg.read_optional(tag::NULL)?
                && !null.value.is_empty()
            {
                return Err(DerError::BadLength.into());
            }
            alg.finish()?;
            let bits = rsa_modulus_bits(raw)?;
            if !(2048..=8192).contains(&bits) {
                return Err(KeyError::RsaSize(bits));
            }
            KeyKind::Rsa
        } else {
            return Err(KeyError::UnsupportedAlgorithm(algorithm.to_string()));
        };
        let key = PublicKey {
            kind,
            spki: spki.to_vec(),
            raw: raw.to_vec(),
            parsed: Default::default(),
            memo: None,
        };
        // Reject keys the backend cannot use now rather than at the first verification.
        key.backend_key(key.default_scheme())
            .map_err(|_| KeyError::Rejected(format!("invalid {kind:?} public key")))?;
        Ok(key)
    }

    /// Parses a PEM `PUBLIC KEY` block.
    pub fn from_pem(text: &str) -> Result<PublicKey, KeyError> {
        PublicKey::from_spki_der(&pem::parse_labelled(text, "PUBLIC KEY")?)
    }

    /// This key, remembering up to `capacity` signatures it verified so that checking the same
    /// signature over the same bytes again costs a hash instead of a verification. For
    /// long-lived keys that see the same signatures again (a trusted root's CA, log and
    /// timestamp keys in a server). A remembered success is always the right answer: only
    /// successes are remembered, each by a SHA-256 fingerprint of the scheme, the signed bytes
    /// and the signature, and verification is a deterministic function of those and the key.
    /// A capacity of 0 remembers nothing.
    pub fn with_signature_memo(mut self, capacity: usize) -> PublicKey {
        self.memo = (capacity > 0).then(|| {
            Arc::new(SignatureMemo {
                capacity,
                seen: Mutex::new(HashSet::new()),
            })
        });
        self
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The key bytes inside the SPKI (EC point, Ed25519 key, or PKCS#1 RSAPublicKey).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki)
    }

    /// SHA-256 of the DER SPKI: what Rekor log ids, key hints and key fingerprints are made of.
    pub fn fingerprint(&self) -> [u8; 32] {
        sha256(&self.spki)
    }

    /// The scheme a key of this kind signs with unless told otherwise (cosign's defaults).
    pub fn default_scheme(&self) -> Scheme {
        default_scheme(self.kind)
    }

    fn check(&self, scheme: Scheme) -> Result<(), SignatureError> {
        let ok = matches!(
            (scheme, self.kind),
            (
                Scheme::Ecdsa(_),
                KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::EcdsaP521
            ) | (Scheme::Ed25519 | Scheme::Ed25519ph, KeyKind::Ed25519)
                | (Scheme::RsaPkcs1(_) | Scheme::RsaPss(_), KeyKind::Rsa)
        );
        if ok {
            Ok(())
        } else {
            Err(SignatureError::SchemeMismatch {
                scheme,
                kind: self.kind,
            })
        }
    }

    fn algorithm(&self, scheme: Scheme) -> Option<&'static dyn VerificationAlgorithm> {
        use HashAlg::*;
        Some(match (self.kind, scheme) {
            (KeyKind::EcdsaP256, Scheme::Ecdsa(Sha256)) => &sig::ECDSA_P256_SHA256_ASN1,
            (KeyKind::EcdsaP256, Scheme::Ecdsa(Sha384)) => &sig::ECDSA_P256_SHA384_ASN1,
            (KeyKind::EcdsaP256, Scheme::Ecdsa(Sha512)) => &sig::ECDSA_P256_SHA512_ASN1,
            (KeyKind::EcdsaP384, Scheme::Ecdsa(Sha256)) => &sig::ECDSA_P384_SHA256_ASN1,
            (KeyKind::EcdsaP384, Scheme::Ecdsa(Sha384)) => &sig::ECDSA_P384_SHA384_ASN1,
            (KeyKind::EcdsaP384, Scheme::Ecdsa(Sha512)) => &sig::ECDSA_P384_SHA512_ASN1,
            (KeyKind::EcdsaP521, Scheme::Ecdsa(Sha256)) => &sig::ECDSA_P521_SHA256_ASN1,
            (KeyKind::EcdsaP521, Scheme::Ecdsa(Sha384)) => &sig::ECDSA_P521_SHA384_ASN1,
            (KeyKind::EcdsaP521, Scheme::Ecdsa(Sha512)) => &sig::ECDSA_P521_SHA512_ASN1,
            (KeyKind::Ed25519, Scheme::Ed25519) => &sig::ED25519,
            (KeyKind::Rsa, Scheme::RsaPkcs1(Sha256)) => &sig::RSA_PKCS1_2048_8192_SHA256,
            (KeyKind::Rsa, Scheme::RsaPkcs1(Sha384)) => &sig::RSA_PKCS1_2048_8192_SHA384,
            (KeyKind::Rsa, Scheme::RsaPkcs1(Sha512)) => &sig::RSA_PKCS1_2048_8192_SHA512,
            (KeyKind::Rsa, Scheme::RsaPss(Sha256)) => &sig::RSA_PSS_2048_8192_SHA256,
            (KeyKind::Rsa, Scheme::RsaPss(Sha384)) => &sig::RSA_PSS_2048_8192_SHA384,
            (KeyKind::Rsa, Scheme::RsaPss(Sha512)) => &sig::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    /// The backend's parsed key for `scheme`, parsed on first use and kept for the key's life.
    fn backend_key(&self, scheme: Scheme) -> Result<&ParsedPublicKey, SignatureError> {
        if scheme == Scheme::Ed25519ph {
            // Not a backend scheme; the Ed25519 key validates the bytes.
            return self.backend_key(Scheme::Ed25519);
        }
        let slot = &self.parsed[scheme_slot(scheme)];
        if let Some(key) = slot.get() {
            return Ok(key);
        }
        let alg = self
            .algorithm(scheme)
            .ok_or(SignatureError::SchemeMismatch {
                scheme,
                kind: self.kind,
            })?;
        let key = ParsedPublicKey::new(alg, &self.spki).map_err(|_| SignatureError::Invalid)?;
        // Another thread may have filled the slot meanwhile with the same parse; either is fine.
        Ok(slot.get_or_init(|| key))
    }

    /// Runs `verify` unless the memo remembers this very check succeeding; remembers a success.
    fn memoized(
        &self,
        scheme: Scheme,
        input: SignedInput<'_>,
        signature: &[u8],
        verify: impl FnOnce() -> Result<(), SignatureError>,
    ) -> Result<(), SignatureError> {
        let Some(memo) = &self.memo else {
            return verify();
        };
        let entry = SignatureMemo::fingerprint(scheme, input, signature);
        if memo.contains(&entry) {
            return Ok(());
        }
        verify()?;
        memo.insert(entry);
        Ok(())
    }

    /// Verifies `signature` over `message` under `scheme`.
    pub fn verify(
        &self,
        scheme: Scheme,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        self.check(scheme)?;
        self.memoized(scheme, SignedInput::Message(message), signature, || {
            if scheme == Scheme::Ed25519ph {
                return self.verify_ed25519ph(&HashAlg::Sha512.digest(message), signature);
            }
            self.backend_key(scheme)?
                .verify_sig(message, signature)
                .map_err(|_| SignatureError::Invalid)
        })
    }

    /// Verifies `signature` over a message known only by its digest under `scheme`'s hash
    /// (SHA-512 for Ed25519ph). Pure Ed25519 cannot: it signs the message itself.
    pub fn verify_digest(
        &self,
        scheme: Scheme,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        self.check(scheme)?;
        let hash = match scheme {
            Scheme::Ecdsa(h) | Scheme::RsaPkcs1(h) | Scheme::RsaPss(h) => h,
            Scheme::Ed25519ph => HashAlg::Sha512,
            Scheme::Ed25519 => return Err(SignatureError::MessageRequired(scheme)),
        };
        if digest.len() != hash.output_len() {
            return Err(SignatureError::DigestLength {
                scheme,
                got: digest.len(),
                want: hash.output_len(),
            });
        }
        self.memoized(scheme, SignedInput::Digest(digest), signature, || {
            if scheme == Scheme::Ed25519ph {
                return self.verify_ed25519ph(digest, signature);
            }
            let d = aws_lc_rs::digest::Digest::import_less_safe(digest, hash.backend())
                .map_err(|_| SignatureError::Invalid)?;
            self.backend_key(scheme)?
                .verify_digest_sig(&d, signature)
                .map_err(|_| SignatureError::Invalid)
        })
    }

    fn verify_ed25519ph(&self, sha512: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let key: [u8; 32] = self
            .raw
            .as_slice()
            .try_into()
            .map_err(|_| SignatureError::Invalid)?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|_| SignatureError::Invalid)?;
        let signature =
            ed25519_dalek::Signature::from_slice(signature).map_err(|_| SignatureError::Invalid)?;
        let prehash: [u8; 64] = sha512.try_into().map_err(|_| SignatureError::Invalid)?;
        key.verify_prehashed_strict(Prehashed(prehash), None, &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

fn default_scheme(kind: KeyKind) -> Scheme {
    match kind {
        KeyKind::EcdsaP256 => Scheme::Ecdsa(HashAlg::Sha256),
        KeyKind::EcdsaP384 => Scheme::Ecdsa(HashAlg::Sha384),
        KeyKind::EcdsaP521 => Scheme::Ecdsa(HashAlg::Sha512),
        KeyKind::Ed25519 => Scheme::Ed25519,
        KeyKind::Rsa => Scheme::RsaPkcs1(HashAlg::Sha256),
    }
}

/// A SHA-512 output handed to ed25519-dalek's prehashed verification, which wants a hasher:
/// it only ever finalizes it, and gets these bytes back.
#[derive(Clone)]
struct Prehashed([u8; 64]);

impl Default for Prehashed {
    fn default() -> Self {
        Prehashed([0; 64])
    }
}

impl digest::HashMarker for Prehashed {}

impl digest::OutputSizeUser for Prehashed {
    type OutputSize = digest::consts::U64;
}

impl digest::Update for Prehashed {
    fn update(&mut self, _data: &[u8]) {
        // The message was hashed already; nothing more may be added.
    }
}

impl digest::FixedOutput for Prehashed {
    fn finalize_into(self, out: &mut digest::Output<Self>) {
        out.copy_from_slice(&self.0);
    }
}

/// The bit length of an RSAPublicKey's modulus.
fn rsa_modulus_bits(pkcs1: &[u8]) -> Result<usize, DerError> {
    let mut key = der::Reader::new(der::parse_single(pkcs1, tag::SEQUENCE)?.value);
    let modulus = key.read(tag::INTEGER)?.unsigned_integer()?;
    key.read(tag::INTEGER)?.unsigned_integer()?;
    key.finish()?;
    let top = modulus.first().copied().unwrap_or(0);
    Ok(modulus.len() * 8 - top.leading_zeros() as usize)
}

/// A private key that can sign.
pub enum PrivateKey {
    Ecdsa { kind: KeyKind, pair: EcdsaKeyPair },
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({:?})", self.kind())
    }
}

impl PrivateKey {
    /// A new key. ECDSA P-256 is the default everywhere; Ed25519 and P-384 on request.
    pub fn generate(kind: KeyKind) -> Result<PrivateKey, KeyError> {
        let failed = |_| KeyError::Rejected("key generation failed".into());
        match kind {
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 => {
                let pair = EcdsaKeyPair::generate(signing_alg(kind)?).map_err(failed)?;
                Ok(PrivateKey::Ecdsa { kind, pair })
            }
            KeyKind::Ed25519 => Ok(PrivateKey::Ed25519(
                Ed25519KeyPair::generate().map_err(failed)?,
            )),
            KeyKind::EcdsaP521 | KeyKind::Rsa => Err(KeyError::Unsupported("generate")),
        }
    }

    /// Parses a PKCS#8 PrivateKeyInfo (unencrypted).
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<PrivateKey, KeyError> {
        let mut info = der::Reader::new(der::parse_single(der_bytes, tag::SEQUENCE)?.value);
        info.read(tag::INTEGER)?;
        let mut alg = info.read_sequence()?;
        let algorithm = alg.read(tag::OID)?.oid()?;
        let rejected = |e: aws_lc_rs::error::KeyRejected| KeyError::Rejected(e.to_string());
        if algorithm == oid::EC_PUBLIC_KEY {
            let kind = curve_kind(alg.read(tag::OID)?.oid()?)?;
            let pair = EcdsaKeyPair::from_pkcs8(signing_alg(kind)?, der_bytes).map_err(rejected)?;
            Ok(PrivateKey::Ecdsa { kind, pair })
        } else if algorithm == oid::ED25519 {
            Ok(PrivateKey::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der_bytes).map_err(rejected)?,
            ))
        } else if algorithm == oid::RSA_ENCRYPTION {
            Ok(PrivateKey::Rsa(
                RsaKeyPair::from_pkcs8(der_bytes).map_err(rejected)?,
            ))
        } else {
            Err(KeyError::UnsupportedAlgorithm(algorithm.to_string()))
        }
    }

    /// Parses a SEC1 ECPrivateKey; the curve must be named in it.
    pub fn from_sec1_der(der_bytes: &[u8]) -> Result<PrivateKey, KeyError> {
        let mut key = der::Reader::new(der::parse_single(der_bytes, tag::SEQUENCE)?.value);
        key.read(tag::INTEGER)?;
        key.read(tag::OCTET_STRING)?;
        let params = key.read(tag::context(0))?;
        let kind = curve_kind(der::parse_single(params.value, tag::OID)?.oid()?)?;
        let pair = EcdsaKeyPair::from_private_key_der(signing_alg(kind)?, der_bytes)
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        Ok(PrivateKey::Ecdsa { kind, pair })
    }

    /// Parses an unencrypted PEM private key: `PRIVATE KEY` (PKCS#8), `EC PRIVATE KEY` (SEC1)
    /// or `RSA PRIVATE KEY` (PKCS#1). Encrypted cosign keys are read by [`crate::cosign_key`].
    pub fn from_pem(text: &str) -> Result<PrivateKey, KeyError> {
        let block = pem::parse(text)?;
        match block.label.as_str() {
            "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&block.data),
            "EC PRIVATE KEY" => PrivateKey::from_sec1_der(&block.data),
            "RSA PRIVATE KEY" => Ok(PrivateKey::Rsa(
                RsaKeyPair::from_der(&block.data).map_err(|e| KeyError::Rejected(e.to_string()))?,
            )),
            l if l.contains("ENCRYPTED") => Err(KeyError::Encrypted),
            other => Err(KeyError::UnsupportedPem(other.to_owned())),
        }
    }

    pub fn kind(&self) -> KeyKind {
        match self {
            PrivateKey::Ecdsa { kind, .. } => *kind,
            PrivateKey::Ed25519(_) => KeyKind::Ed25519,
            PrivateKey::Rsa(_) => KeyKind::Rsa,
        }
    }

    /// The scheme this key signs with.
    pub fn scheme(&self) -> Scheme {
        default_scheme(self.kind())
    }

    /// PKCS#8 DER (v1 for Ed25519, as other tools expect).
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, KeyError> {
        let failed = |_| KeyError::Rejected("cannot encode the key".into());
        match self {
            PrivateKey::Ecdsa { pair, .. } => {
                Ok(pair.to_pkcs8v1().map_err(failed)?.as_ref().to_vec())
            }
            PrivateKey::Ed25519(pair) => Ok(pair.to_pkcs8v1().map_err(failed)?.as_ref().to_vec()),
            PrivateKey::Rsa(_) => Err(KeyError::Unsupported("export")),
        }
    }

    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        let failed = |_| KeyError::Rejected("cannot encode the public key".into());
        let spki = match self {
            PrivateKey::Ecdsa { pair, .. } => pair
                .public_key()
                .as_der()
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            PrivateKey::Ed25519(pair) => pair
                .public_key()
                .as_der()
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            PrivateKey::Rsa(pair) => pair
                .public_key()
                .as_der()
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        PublicKey::from_spki_der(&spki)
    }

    /// Signs `message` with [`PrivateKey::scheme`].
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            PrivateKey::Ecdsa { pair, .. } => Ok(pair
                .sign(&rng, message)
                .map_err(|_| SignatureError::Signing)?
                .as_ref()
                .to_vec()),
            PrivateKey::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            PrivateKey::Rsa(pair) => {
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(&sig::RSA_PKCS1_SHA256, &rng, message, &mut out)
                    .map_err(|_| SignatureError::Signing)?;
                Ok(out)
            }
        }
    }

    /// Signs `message` with RSA-PSS over `hash` (RSA keys only; for DSSE peers that use PSS).
    pub fn sign_rsa_pss(&self, hash: HashAlg, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let PrivateKey::Rsa(pair) = self else {
            return Err(SignatureError::SchemeMismatch {
                scheme: Scheme::RsaPss(hash),
                kind: self.kind(),
            });
        };
        let encoding = match hash {
            HashAlg::Sha256 => &sig::RSA_PSS_SHA256,
            HashAlg::Sha384 => &sig::RSA_PSS_SHA384,
            HashAlg::Sha512 => &sig::RSA_PSS_SHA512,
        };
        let mut out = vec![0u8; pair.public_modulus_len()];
        pair.sign(
            encoding,
            &aws_lc_rs::rand::SystemRandom::new(),
            message,
            &mut out,
        )
        .map_err(|_| SignatureError::Signing)?;
        Ok(out)
    }

    /// Signs a digest made with the scheme's hash (ECDSA and RSA only).
    pub fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let scheme = self.scheme();
        let (Scheme::Ecdsa(hash) | Scheme::RsaPkcs1(hash)) = scheme else {
            return Err(SignatureError::MessageRequired(scheme));
        };
        if digest.len() != hash.output_len() {
            return Err(SignatureError::DigestLength {
                scheme,
                got: digest.len(),
                want: hash.output_len(),
            });
        }
        let d = aws_lc_rs::digest::Digest::import_less_safe(digest, hash.backend())
            .map_err(|_| SignatureError::Signing)?;
        match self {
            PrivateKey::Ecdsa { pair, .. } => Ok(pair
                .sign_digest(&d)
                .map_err(|_| SignatureError::Signing)?
                .as_ref()
                .to_vec()),
            PrivateKey::Rsa(pair) => {
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign_digest(&sig::RSA_PKCS1_SHA256, &d, &mut out)
                    .map_err(|_| SignatureError::Signing)?;
                Ok(out)
            }
            PrivateKey::Ed25519(_) => Err(SignatureError::MessageRequired(scheme)),
        }
    }
}

fn curve_kind(curve: der::Oid<'_>) -> Result<KeyKind, KeyError> {
    match curve {
        c if c == oid::PRIME256V1 => Ok(KeyKind::EcdsaP256),
        c if c == oid::SECP384R1 => Ok(KeyKind::EcdsaP384),
        other => Err(KeyError::UnsupportedCurve(other.to_string())),
    }
}

fn signing_alg(kind: KeyKind) -> Result<&'static sig::EcdsaSigningAlgorithm, KeyError> {
    match kind {
        KeyKind::EcdsaP256 => Ok(&sig::ECDSA_P256_SHA256_ASN1_SIGNING),
        KeyKind::EcdsaP384 => Ok(&sig::ECDSA_P384_SHA384_ASN1_SIGNING),
        _ => Err(KeyError::Unsupported("sign with")),
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_and_round_trip() {
        for kind in [KeyKind::EcdsaP256, KeyKind::EcdsaP384, KeyKind::Ed25519] {
            let key = PrivateKey::generate(kind).unwrap();
            let public = key.public_key().unwrap();
            assert_eq!(public.kind(), kind);
            let signature = key.sign(b"hello").unwrap();
            public.verify(key.scheme(), b"hello", &signature).unwrap();
            assert_eq!(
                public.verify(key.scheme(), b"hellO", &signature),
                Err(SignatureError::Invalid)
            );
            // PEM round trips for both halves.
            let again = PublicKey::from_pem(&public.to_pem()).unwrap();
            assert_eq!(again, public);
            let pkcs8 = key.to_pkcs8_der().unwrap();
            let reread = PrivateKey::from_pem(&pem::encode("PRIVATE KEY", &pkcs8)).unwrap();
            assert_eq!(reread.public_key().unwrap(), public);
        }
    }

    #[test]
    fn digest_signing_matches_message_signing() {
        let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let public = key.public_key().unwrap();
        let digest = HashAlg::Sha256.digest(b"artifact");
        let signature = key.sign_digest(&digest).unwrap();
        public
            .verify(key.scheme(), b"artifact", &signature)
            .unwrap();
        public
            .verify_digest(key.scheme(), &digest, &signature)
            .unwrap();
        assert!(matches!(
            public.verify_digest(key.scheme(), &digest[..31], &signature),
            Err(SignatureError::DigestLength { .. })
        ));
    }

    #[test]
    fn schemes_must_fit_the_key() {
        let ed = PrivateKey::generate(KeyKind::Ed25519)
            .unwrap()
            .public_key()
            .unwrap();
        let ec = PrivateKey::generate(KeyKind::EcdsaP256)
            .unwrap()
            .public_key()
            .unwrap();
        assert!(matches!(
            ed.verify(Scheme::Ecdsa(HashAlg::Sha256), b"m", &[0; 64]),
            Err(SignatureError::SchemeMismatch { .. })
        ));
        assert!(matches!(
            ec.verify(Scheme::Ed25519, b"m", &[0; 64]),
            Err(SignatureError::SchemeMismatch { .. })
        ));
        assert!(matches!(
            ed.verify_digest(Scheme::Ed25519, &[0; 64], &[0; 64]),
            Err(SignatureError::MessageRequired(_))
        ));
    }

    /// RFC 8032 section 7.3, the Ed25519ph test vector ("abc").
    #[test]
    fn ed25519ph_rfc8032_vector() {
        let public_hex = "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf";
        let signature_hex = "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406";
        let unhex = |s: &str| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>()
        };
        let mut spki = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        spki.extend(unhex(public_hex));
        let key = PublicKey::from_spki_der(&spki).unwrap();
        let signature = unhex(signature_hex);
        key.verify(Scheme::Ed25519ph, b"abc", &signature).unwrap();
        key.verify_digest(
            Scheme::Ed25519ph,
            &HashAlg::Sha512.digest(b"abc"),
            &signature,
        )
        .unwrap();
        assert_eq!(
            key.verify(Scheme::Ed25519ph, b"abd", &signature),
            Err(SignatureError::Invalid)
        );
        // The same signature is not a pure Ed25519 signature of the message.
        assert_eq!(
            key.verify(Scheme::Ed25519, b"abc", &signature),
            Err(SignatureError::Invalid)
        );
    }

    /// A P-384 key checks certificates under SHA-384 and RFC 3161 timestamps under SHA-256:
    /// each scheme keeps its own parsed key, and alternating between them keeps working.
    #[test]
    fn one_key_verifies_under_several_schemes_alternately() {
        let key = PrivateKey::generate(KeyKind::EcdsaP384).unwrap();
        let public = key.public_key().unwrap();
        let d256 = HashAlg::Sha256.digest(b"m");
        let d384 = HashAlg::Sha384.digest(b"m");
        let s384 = key.sign_digest(&d384).unwrap();
        // The backend signs P-384 over SHA-384 only. ECDSA signs the digest as an integer, and
        // 16 zero bytes before a SHA-256 digest leave that integer as it is: this is a
        // signature over the SHA-256 digest.
        let s256 = key.sign_digest(&[&[0u8; 16][..], &d256].concat()).unwrap();
        for _ in 0..3 {
            public
                .verify_digest(Scheme::Ecdsa(HashAlg::Sha256), &d256, &s256)
                .unwrap();
            public
                .verify_digest(Scheme::Ecdsa(HashAlg::Sha384), &d384, &s384)
                .unwrap();
            assert_eq!(
                public.verify_digest(Scheme::Ecdsa(HashAlg::Sha384), &d384, &s256),
                Err(SignatureError::Invalid)
            );
        }
        assert_eq!(
            public
                .parsed
                .iter()
                .filter(|slot| slot.get().is_some())
                .count(),
            2
        );
    }

    /// The signature memo: successes only, never a changed answer, bounded, shared by clones.
    #[test]
    fn signature_memo_remembers_successes_only() {
        let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let public = key.public_key().unwrap().with_signature_memo(2);
        let scheme = key.scheme();
        let good = key.sign(b"hello").unwrap();
        let mut bad = good.clone();
        *bad.last_mut().unwrap() ^= 1;
        let memo = || public.memo.as_ref().unwrap().seen.lock().unwrap().len();

        for _ in 0..2 {
            assert_eq!(
                public.verify(scheme, b"hello", &bad),
                Err(SignatureError::Invalid)
            );
        }
        assert_eq!(memo(), 0, "failures are not remembered");
        public.verify(scheme, b"hello", &good).unwrap();
        public.verify(scheme, b"hello", &good).unwrap();
        assert_eq!(memo(), 1);
        // The same signature over other bytes, or over the message taken as a digest, is another
        // check, and fails.
        assert_eq!(
            public.verify(scheme, b"hellO", &good),
            Err(SignatureError::Invalid)
        );
        let as_digest = HashAlg::Sha256.digest(b"hello");
        assert!(public.verify_digest(scheme, &as_digest, &good).is_ok());
        assert_eq!(memo(), 2);
        let wrong_digest = HashAlg::Sha256.digest(b"hellO");
        assert_eq!(
            public.verify_digest(scheme, &wrong_digest, &good),
            Err(SignatureError::Invalid)
        );
        // Full: emptied, then filling again; every answer is unchanged.
        let other = key.sign(b"other").unwrap();
        public.verify(scheme, b"other", &other).unwrap();
        assert_eq!(memo(), 1);
        public.verify(scheme, b"hello", &good).unwrap();
        let clone = public.clone();
        clone.verify(scheme, b"other", &other).unwrap();
        assert_eq!(memo(), 2, "clones share the memo");
        assert!(
            PrivateKey::generate(KeyKind::EcdsaP256)
                .unwrap()
                .public_key()
                .unwrap()
                .with_signature_memo(0)
                .memo
                .is_none()
        );
    }

    #[test]
    fn rejects_unsupported_and_malformed_keys() {
        // An SPKI naming an unknown algorithm.
        let unknown = der::encode(
            tag::SEQUENCE,
            &[
                der::encode(tag::SEQUENCE, &der::encode(tag::OID, &[0x2a, 0x03])),
                der::encode(tag::BIT_STRING, &[0, 1, 2]),
            ]
            .concat(),
        );
        assert!(matches!(
            PublicKey::from_spki_der(&unknown),
            Err(KeyError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            PublicKey::from_spki_der(&[0x30, 0x00]),
            Err(KeyError::Der(_))
        ));
        assert!(matches!(
            PrivateKey::from_pem(
                "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAA==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
            ),
            Err(KeyError::Encrypted)
        ));
    }
}
