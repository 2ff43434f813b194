//! Private key files as cosign writes and reads them: the encrypted `ENCRYPTED SIGSTORE PRIVATE
//! KEY` format (and its older `ENCRYPTED COSIGN PRIVATE KEY` label), and one entry point,
//! [`load_private_key`], for every PEM private key form vouch accepts.
//!
//! The encrypted format is go-securesystemslib's `encrypted` package, which cosign and
//! sigstore-go use: the PEM body is JSON
//! `{"kdf":{"name":"scrypt","params":{"N":..,"r":..,"p":..},"salt":".."},
//!   "cipher":{"name":"nacl/secretbox","nonce":".."},"ciphertext":".."}`
//! (byte fields in padded standard base64), the key is 32 bytes of scrypt over the password,
//! and the ciphertext is NaCl secretbox (XSalsa20-Poly1305, tag first) of a PKCS#8 DER key.
//! We write exactly that, field order included, with cosign's current default parameters.

use base64::Engine as _;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keys::{KeyError, PrivateKey};
use crate::pem::{self, PemError};

/// The label cosign writes (since v1.x) on encrypted private keys.
pub const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label cosign wrote before; still read.
pub const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

const KDF_SCRYPT: &str = "scrypt";
const CIPHER_SECRETBOX: &str = "nacl/secretbox";
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// The largest scrypt work accepted when decrypting, as `N * r * p`: 2^20, which is
/// go-securesystemslib's strongest setting (N = 2^17, r = 8, p = 1). scrypt needs
/// `128 * N * r` bytes of memory (here at most 128 MiB) and time in proportion to `N * r * p`,
/// so a hostile key file can ask for no more than the strongest key cosign itself writes.
pub const MAX_SCRYPT_WORK: u64 = 1 << 20;

/// scrypt parameters as the key file states them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScryptParams {
    #[serde(rename = "N")]
    pub n: u64,
    pub r: u64,
    pub p: u64,
}

impl ScryptParams {
    /// What cosign writes today: go-securesystemslib's "standard" level, N = 2^16, r = 8, p = 1
    /// (64 MiB; the scrypt author's interactive-login guidance of about 100 ms).
    pub const COSIGN_DEFAULT: ScryptParams = ScryptParams {
        n: 1 << 16,
        r: 8,
        p: 1,
    };

    /// The scrypt crate's parameters, if these are within [`MAX_SCRYPT_WORK`] and valid.
    fn checked(self) -> Result<scrypt::Params, CosignKeyError> {
        let bad = || CosignKeyError::ScryptParams {
            n: self.n,
            r: self.r,
            p: self.p,
        };
        if !self.n.is_power_of_two() || self.n < 2 || self.r == 0 || self.p == 0 {
            return Err(bad());
        }
        let work = self
            .n
            .checked_mul(self.r)
            .and_then(|w| w.checked_mul(self.p))
            .ok_or_else(bad)?;
        if work > MAX_SCRYPT_WORK {
            return Err(bad());
        }
        // Within the bound, N is at most 2^20 (log fits u8) and r, p at most 2^19 (fit u32).
        let log_n = u8::try_from(self.n.trailing_zeros()).map_err(|_| bad())?;
        let r = u32::try_from(self.r).map_err(|_| bad())?;
        let p = u32::try_from(self.p).map_err(|_| bad())?;
        scrypt::Params::new(log_n, r, p, KEY_LEN).map_err(|_| bad())
    }
}

/// Why a private key file cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CosignKeyError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the key is encrypted; a password is needed")]
    PasswordRequired,
    #[error("encrypted key is not the JSON cosign writes")]
    Json(#[source] serde_json::Error),
    #[error("encrypted key field {0} is not valid base64")]
    Base64(&'static str),
    #[error("unsupported key derivation function {0:?}, only scrypt is supported")]
    UnsupportedKdf(String),
    #[error("unsupported cipher {0:?}, only nacl/secretbox is supported")]
    UnsupportedCipher(String),
    #[error(
        "scrypt parameters N={n} r={r} p={p} are refused: N must be a power of two and N*r*p at most 2^20"
    )]
    ScryptParams { n: u64, r: u64, p: u64 },
    #[error("secretbox nonce is {0} bytes, not 24")]
    NonceLength(usize),
    #[error("cannot decrypt the key: wrong password, or the key file is corrupted")]
    WrongPassword,
    #[error(
        "PEM {0} keys (password-based PKCS#8 or OpenSSL encryption) are not supported; convert with openssl pkcs8 -topk8"
    )]
    UnsupportedEncryption(String),
    #[error("encrypting the key failed")]
    Encrypt,
    #[error("the OS random source failed")]
    Random,
}

/// The JSON in an encrypted key's PEM body. Field order is the order Go marshals them in.
#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Reads a PEM private key: `PRIVATE KEY` (PKCS#8), `EC PRIVATE KEY` (SEC1), `RSA PRIVATE KEY`
/// (PKCS#1), or cosign's encrypted `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE
/// KEY`, which need `password` (empty is a valid password). A password given for a key that is
/// not encrypted is ignored, as cosign does.
pub fn load_private_key(
    pem_text: &str,
    password: Option<&[u8]>,
) -> Result<PrivateKey, CosignKeyError> {
    let block = pem::parse(pem_text)?;
    let label = block.label.as_str();
    if block
        .headers
        .iter()
        .any(|(k, v)| k == "Proc-Type" && v.contains("ENCRYPTED"))
    {
        return Err(CosignKeyError::UnsupportedEncryption(format!(
            "{label} with Proc-Type ENCRYPTED"
        )));
    }
    match label {
        SIGSTORE_LABEL | COSIGN_LABEL => {
            let password = password.ok_or(CosignKeyError::PasswordRequired)?;
            let der = decrypt(&block.data, password)?;
            Ok(PrivateKey::from_pkcs8_der(&der)?)
        }
        "PRIVATE KEY" | "EC PRIVATE KEY" | "RSA PRIVATE KEY" => Ok(PrivateKey::from_pem(pem_text)?),
        "ENCRYPTED PRIVATE KEY" => Err(CosignKeyError::UnsupportedEncryption(label.to_owned())),
        other => Err(KeyError::UnsupportedPem(other.to_owned()).into()),
    }
}

/// `key` as cosign's encrypted PEM (`ENCRYPTED SIGSTORE PRIVATE KEY`), with a fresh salt and
/// nonce and [`ScryptParams::COSIGN_DEFAULT`]. RSA keys cannot be exported, so they fail.
pub fn encrypt_private_key(key: &PrivateKey, password: &[u8]) -> Result<String, CosignKeyError> {
    let der = Zeroizing::new(key.to_pkcs8_der()?);
    let body = encrypt(&der, password, ScryptParams::COSIGN_DEFAULT)?;
    Ok(pem::encode(SIGSTORE_LABEL, &body))
}

/// The plaintext (PKCS#8 DER, for a key file) inside an encrypted PEM body.
pub fn decrypt(body: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, CosignKeyError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(CosignKeyError::Json)?;
    if envelope.kdf.name != KDF_SCRYPT {
        return Err(CosignKeyError::UnsupportedKdf(envelope.kdf.name));
    }
    if envelope.cipher.name != CIPHER_SECRETBOX {
        return Err(CosignKeyError::UnsupportedCipher(envelope.cipher.name));
    }
    // Checked before anything costly: this is what keeps a hostile file from taking gigabytes.
    let params = envelope.kdf.params.checked()?;
    let salt = unbase64(&envelope.kdf.salt, "kdf.salt")?;
    let nonce = unbase64(&envelope.cipher.nonce, "cipher.nonce")?;
    if nonce.len() != NONCE_LEN {
        return Err(CosignKeyError::NonceLength(nonce.len()));
    }
    let ciphertext = unbase64(&envelope.ciphertext, "ciphertext")?;
    let key = derive_key(password, &salt, &params)?;
    let plaintext = XSalsa20Poly1305::new(Key::from_slice(&key[..]))
        .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map_err(|_| CosignKeyError::WrongPassword)?;
    Ok(Zeroizing::new(plaintext))
}

/// Encrypts `plaintext` into the JSON body of an encrypted key file, with a fresh 32-byte salt
/// and 24-byte nonce.
pub fn encrypt(
    plaintext: &[u8],
    password: &[u8],
    params: ScryptParams,
) -> Result<Vec<u8>, CosignKeyError> {
    let scrypt_params = params.checked()?;
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    aws_lc_rs::rand::SecureRandom::fill(&rng, &mut salt).map_err(|_| CosignKeyError::Random)?;
    aws_lc_rs::rand::SecureRandom::fill(&rng, &mut nonce).map_err(|_| CosignKeyError::Random)?;
    let key = derive_key(password, &salt, &scrypt_params)?;
    let ciphertext = XSalsa20Poly1305::new(Key::from_slice(&key[..]))
        .encrypt(Nonce::from_slice(&nonce), plaintext)
        .map_err(|_| CosignKeyError::Encrypt)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let envelope = Envelope {
        kdf: Kdf {
            name: KDF_SCRYPT.to_owned(),
            params,
            salt: b64.encode(salt),
        },
        cipher: Cipher {
            name: CIPHER_SECRETBOX.to_owned(),
            nonce: b64.encode(nonce),
        },
        ciphertext: b64.encode(ciphertext),
    };
    serde_json::to_vec(&envelope).map_err(CosignKeyError::Json)
}

fn derive_key(
    password: &[u8],
    salt: &[u8],
    params: &scrypt::Params,
) -> Result<Zeroizing<[u8; KEY_LEN]>, CosignKeyError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    // The output length is the one `params` was made with, so this cannot fail in practice;
    // map it anyway rather than assume.
    scrypt::scrypt(password, salt, params, &mut key[..]).map_err(|_| CosignKeyError::Encrypt)?;
    Ok(key)
}

fn unbase64(text: &str, field: &'static str) -> Result<Vec<u8>, CosignKeyError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| CosignKeyError::Base64(field))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyKind;

    /// The sigstore-rs key fixtures (real cosign output); see that folder's notes in
    /// `shared/fixtures/signing/README.md`.
    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../../shared/fixtures/signing/sigstore-rs/keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    }

    /// Signs with `key` and verifies with its public key; a changed message must not verify.
    fn assert_signs(key: &PrivateKey) {
        let public = key.public_key().unwrap();
        let signature = key.sign(b"vouch key test").unwrap();
        public
            .verify(key.scheme(), b"vouch key test", &signature)
            .unwrap();
        assert!(
            public
                .verify(key.scheme(), b"vouch key tesT", &signature)
                .is_err()
        );
    }

    fn body_json(pem_text: &str) -> serde_json::Value {
        serde_json::from_slice(&pem::parse(pem_text).unwrap().data).unwrap()
    }

    fn rewrap(label: &str, json: &serde_json::Value) -> String {
        pem::encode(label, &serde_json::to_vec(json).unwrap())
    }

    /// Every encrypted fixture decrypts (the Poly1305 tag authenticates the result) to a key of
    /// its plaintext twin's kind that signs. The twins are *not* the same keys: sigstore-rs made
    /// each file independently (its tests never compare them), and decrypting shows different
    /// public keys for all three pairs; the assertion pins that so no one reads them as pairs.
    #[test]
    fn decrypts_every_cosign_fixture() {
        let cases = [
            (
                "ecdsa_encrypted_private.key",
                "ecdsa_private.key",
                COSIGN_LABEL,
                KeyKind::EcdsaP256,
            ),
            (
                "ed25519_encrypted_private.key",
                "ed25519_private.key",
                SIGSTORE_LABEL,
                KeyKind::Ed25519,
            ),
            (
                "rsa_encrypted_private.key",
                "rsa_private.key",
                SIGSTORE_LABEL,
                KeyKind::Rsa,
            ),
        ];
        for (encrypted, plain, label, kind) in cases {
            let text = fixture(encrypted);
            assert_eq!(pem::parse(&text).unwrap().label, label, "{encrypted}");
            let der = decrypt(&pem::parse(&text).unwrap().data, b"123").unwrap();
            let key = load_private_key(&text, Some(b"123")).unwrap();
            assert_eq!(key.kind(), kind, "{encrypted}");
            assert_signs(&key);
            // Our encryption of the exact plaintext decrypts back to it, RSA included (which
            // `encrypt_private_key` cannot export), under the file's own legacy parameters.
            let params = serde_json::from_value(body_json(&text)["kdf"]["params"].clone()).unwrap();
            let again = encrypt(&der, b"123", params).unwrap();
            assert_eq!(*decrypt(&again, b"123").unwrap(), *der, "{encrypted}");
            let twin = load_private_key(&fixture(plain), None).unwrap();
            assert_eq!(twin.kind(), kind, "{plain}");
            assert_signs(&twin);
            assert_ne!(
                key.public_key().unwrap(),
                twin.public_key().unwrap(),
                "{encrypted} and {plain} now hold the same key; make this an assert_eq"
            );
        }
    }

    #[test]
    fn decrypts_the_cosign_generated_empty_password_key() {
        let text = fixture("cosign_generated_encrypted_empty_private.key");
        assert_eq!(
            body_json(&text)["kdf"]["params"],
            serde_json::json!({"N": 65536, "r": 8, "p": 1})
        );
        let key = load_private_key(&text, Some(b"")).unwrap();
        assert_eq!(key.kind(), KeyKind::EcdsaP256);
        assert_signs(&key);
        assert!(matches!(
            load_private_key(&text, None),
            Err(CosignKeyError::PasswordRequired)
        ));
        assert!(matches!(
            load_private_key(&text, Some(b"123")),
            Err(CosignKeyError::WrongPassword)
        ));
    }

    #[test]
    fn wrong_or_missing_password_is_refused() {
        let text = fixture("ed25519_encrypted_private.key");
        let err = load_private_key(&text, Some(b"1234")).unwrap_err();
        assert!(matches!(err, CosignKeyError::WrongPassword), "{err:?}");
        assert_eq!(
            err.to_string(),
            "cannot decrypt the key: wrong password, or the key file is corrupted"
        );
        assert!(matches!(
            load_private_key(&text, None),
            Err(CosignKeyError::PasswordRequired)
        ));
        // A flipped ciphertext byte is caught by the MAC, not handed to the DER parser.
        let mut json = body_json(&text);
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut ct = b64.decode(json["ciphertext"].as_str().unwrap()).unwrap();
        ct[20] ^= 1;
        json["ciphertext"] = b64.encode(ct).into();
        assert!(matches!(
            load_private_key(&rewrap(SIGSTORE_LABEL, &json), Some(b"123")),
            Err(CosignKeyError::WrongPassword)
        ));
    }

    #[test]
    fn plaintext_forms_load_without_a_password() {
        for (name, kind) in [
            ("ecdsa_private.key", KeyKind::EcdsaP256),
            ("ed25519_private.key", KeyKind::Ed25519),
            ("rsa_private.key", KeyKind::Rsa),
        ] {
            let key = load_private_key(&fixture(name), Some(b"ignored")).unwrap();
            assert_eq!(key.kind(), kind, "{name}");
            assert_signs(&key);
        }
        // SEC1 (`EC PRIVATE KEY`): the fixture folder has none, so make one from the PKCS#8 key.
        let pkcs8 = pem::parse_labelled(&fixture("ecdsa_private.key"), "PRIVATE KEY").unwrap();
        let sec1 = sec1_from_p256_pkcs8(&pkcs8);
        let key = load_private_key(&pem::encode("EC PRIVATE KEY", &sec1), None).unwrap();
        let twin = load_private_key(&fixture("ecdsa_private.key"), None).unwrap();
        assert_eq!(key.public_key().unwrap(), twin.public_key().unwrap());
    }

    /// SEC1 ECPrivateKey with `[0] prime256v1` from a P-256 PKCS#8 whose inner ECPrivateKey
    /// has no parameters (as Go and aws-lc-rs write them).
    fn sec1_from_p256_pkcs8(pkcs8: &[u8]) -> Vec<u8> {
        use crate::der::{self, tag};
        let mut info = der::Reader::new(der::parse_single(pkcs8, tag::SEQUENCE).unwrap().value);
        info.read(tag::INTEGER).unwrap();
        info.read(tag::SEQUENCE).unwrap();
        let inner = info.read(tag::OCTET_STRING).unwrap().value;
        let mut ec = der::Reader::new(der::parse_single(inner, tag::SEQUENCE).unwrap().value);
        let version = ec.read(tag::INTEGER).unwrap().raw;
        let private = ec.read(tag::OCTET_STRING).unwrap().raw;
        let public = ec.read(tag::context(1)).unwrap().raw;
        let curve = der::encode(
            tag::context(0),
            &der::encode(tag::OID, der::oid::PRIME256V1.as_bytes()),
        );
        der::encode(tag::SEQUENCE, &[version, private, &curve, public].concat())
    }

    #[test]
    fn our_keys_round_trip_in_cosign_format() {
        for kind in [KeyKind::EcdsaP256, KeyKind::Ed25519] {
            for password in [&b"correct horse"[..], b""] {
                let key = PrivateKey::generate(kind).unwrap();
                let text = encrypt_private_key(&key, password).unwrap();
                let block = pem::parse(&text).unwrap();
                assert_eq!(block.label, SIGSTORE_LABEL);
                let json: serde_json::Value = serde_json::from_slice(&block.data).unwrap();
                assert_eq!(json["kdf"]["name"], "scrypt");
                assert_eq!(
                    json["kdf"]["params"],
                    serde_json::json!({"N": 65536, "r": 8, "p": 1})
                );
                assert_eq!(json["cipher"]["name"], "nacl/secretbox");
                // Go's field order, so the file is byte-for-byte what cosign would write.
                let raw = std::str::from_utf8(&block.data).unwrap();
                assert!(
                    raw.starts_with(
                        r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#
                    ),
                    "{raw}"
                );
                let b64 = base64::engine::general_purpose::STANDARD;
                let salt = b64.decode(json["kdf"]["salt"].as_str().unwrap()).unwrap();
                let nonce = b64
                    .decode(json["cipher"]["nonce"].as_str().unwrap())
                    .unwrap();
                assert_eq!((salt.len(), nonce.len()), (32, 24));
                let again = load_private_key(&text, Some(password)).unwrap();
                assert_eq!(again.public_key().unwrap(), key.public_key().unwrap());
                assert_eq!(again.to_pkcs8_der().unwrap(), key.to_pkcs8_der().unwrap());
                assert!(matches!(
                    load_private_key(&text, Some(b"not it")),
                    Err(CosignKeyError::WrongPassword)
                ));
            }
        }
        // RSA keys load but are not exported, so they cannot be re-encrypted this way.
        let rsa = load_private_key(&fixture("rsa_private.key"), None).unwrap();
        assert!(matches!(
            encrypt_private_key(&rsa, b"pw"),
            Err(CosignKeyError::Key(KeyError::Unsupported("export")))
        ));
        // Two encryptions of one key differ: fresh salt and nonce each time.
        let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        assert_ne!(
            encrypt_private_key(&key, b"pw").unwrap(),
            encrypt_private_key(&key, b"pw").unwrap()
        );
    }

    #[test]
    fn refuses_other_kdfs_ciphers_and_costly_parameters() {
        let text = fixture("ecdsa_encrypted_private.key");
        let original = body_json(&text);
        let load = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut json = original.clone();
            edit(&mut json);
            load_private_key(&rewrap(COSIGN_LABEL, &json), Some(b"123"))
        };
        assert!(matches!(
            load(&|j| j["kdf"]["name"] = "argon2id".into()),
            Err(CosignKeyError::UnsupportedKdf(name)) if name == "argon2id"
        ));
        assert!(matches!(
            load(&|j| j["cipher"]["name"] = "aes-gcm".into()),
            Err(CosignKeyError::UnsupportedCipher(name)) if name == "aes-gcm"
        ));
        // 2^24 * 8 * 128 bytes = 16 GiB of memory: refused before any is allocated.
        let err = load(&|j| j["kdf"]["params"]["N"] = (1u64 << 24).into()).unwrap_err();
        assert!(
            matches!(err, CosignKeyError::ScryptParams { n, r: 8, p: 1 } if n == 1 << 24),
            "{err:?}"
        );
        // Work from r or p counts as well as N; N must be a power of two.
        for (n, r, p) in [
            (1u64 << 17, 16u64, 1u64),
            (1 << 17, 8, 2),
            (1 << 15, 8, 1 << 40),
            (1000, 8, 1),
            (0, 8, 1),
            (1 << 15, 0, 1),
            (1 << 15, 8, 0),
        ] {
            let result = load(&|j| {
                j["kdf"]["params"] = serde_json::json!({"N": n, "r": r, "p": p});
            });
            assert!(
                matches!(result, Err(CosignKeyError::ScryptParams { .. })),
                "N={n} r={r} p={p}: {result:?}"
            );
        }
        assert!(matches!(
            load(&|j| j["kdf"]["params"]["N"] = (-1).into()),
            Err(CosignKeyError::Json(_))
        ));
        assert!(matches!(
            load(&|j| j["cipher"]["nonce"] = "AAAA".into()),
            Err(CosignKeyError::NonceLength(3))
        ));
        assert!(matches!(
            load(&|j| j["kdf"]["salt"] = "not base64!".into()),
            Err(CosignKeyError::Base64("kdf.salt"))
        ));
        // cosign's strongest setting (OWASP, N = 2^17) is within bounds.
        assert!(
            ScryptParams {
                n: 1 << 17,
                r: 8,
                p: 1
            }
            .checked()
            .is_ok()
        );
    }

    #[test]
    fn other_pem_forms_get_precise_errors() {
        let armored = |label: &str| pem::encode(label, b"x");
        assert!(matches!(
            load_private_key(&armored("ENCRYPTED PRIVATE KEY"), Some(b"pw")),
            Err(CosignKeyError::UnsupportedEncryption(_))
        ));
        assert!(matches!(
            load_private_key(&armored("CERTIFICATE"), None),
            Err(CosignKeyError::Key(KeyError::UnsupportedPem(l))) if l == "CERTIFICATE"
        ));
        let openssl = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert!(matches!(
            load_private_key(openssl, Some(b"pw")),
            Err(CosignKeyError::UnsupportedEncryption(_))
        ));
        assert!(matches!(
            load_private_key(&pem::encode(SIGSTORE_LABEL, b"{not json"), Some(b"pw")),
            Err(CosignKeyError::Json(_))
        ));
        assert!(matches!(
            load_private_key("no pem here", None),
            Err(CosignKeyError::Pem(PemError::NoBlock))
        ));
    }
}
