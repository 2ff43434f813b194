//! A Sigstore of one's own, for tests (the `testkit` feature, off by default and never in a
//! release build): fresh keys for a Fulcio-like certificate authority (a root and an
//! intermediate), a CT log and a Rekor v1 log; the `trusted_root.json` that names them; and
//! Sigstore bundles v0.3 those authorities would have issued to an OIDC identity: a leaf
//! certificate with its SAN, Fulcio's issuer extensions and an embedded SCT, a DSSE-signed
//! in-toto statement, and a `dsse` log entry with its signed entry timestamp and an inclusion
//! proof to a signed checkpoint.
//!
//! Nothing trusts what the kit makes but a test that hands its trusted root to
//! [`crate::sigstore::Verifier`], which checks the bundles as it checks any other. Sans-I/O
//! like the rest of the crate: the caller writes the trusted root where a policy reads it, and
//! passes in every time (there is no clock here). Failures here are bugs in the kit, so its
//! functions panic.

use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use oci::Digest;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::bundle::{Bundle, BundleVersion, Content, InclusionProof, Material, TlogEntry};
use crate::checkpoint::Checkpoint;
use crate::der::{self, tag};
use crate::evidence::SIGN_PREDICATE_TYPE;
use crate::keys::{HashAlg, KeyKind, PrivateKey, hex, sha256};
use crate::merkle::{self, Hash, LeafHashes};
use crate::pem;
use crate::sct::Sct;
use crate::time::Timestamp;
use crate::x509::build::{Alg, Signer, Template, alg_der, eku, ext, key_usage, san, seq};
use crate::x509::{KeyUsage, oids};

/// How long Fulcio's certificates are valid.
const LEAF_LIFETIME_SECS: i64 = 10 * 60;
/// How long the kit's CA certificates are valid.
const CA_LIFETIME_SECS: i64 = 10 * 365 * 86_400;
/// Entries the kit's logs hold before the first bundle's, so that every inclusion proof has
/// hashes to check.
const EARLIER_ENTRIES: usize = 3;
const ES384: Alg = Alg::Ecdsa(HashAlg::Sha384);

/// Who signs: the identity an OIDC login proved to Fulcio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    pub san: San,
    /// The token's issuer, which Fulcio records in 1.3.6.1.4.1.57264.1.8 (and, as older Fulcio
    /// did, in 1.3.6.1.4.1.57264.1.1).
    pub issuer: String,
}

/// The certificate's subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// A workload's identity, such as a GitHub workflow's
    /// (`https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main`).
    Uri(String),
    Email(String),
}

impl Oidc {
    pub fn uri(subject: &str, issuer: &str) -> Oidc {
        Oidc {
            san: San::Uri(subject.to_owned()),
            issuer: issuer.to_owned(),
        }
    }

    pub fn email(address: &str, issuer: &str) -> Oidc {
        Oidc {
            san: San::Email(address.to_owned()),
            issuer: issuer.to_owned(),
        }
    }
}

/// A Fulcio-like CA: a self-signed root and the intermediate that issues leaves.
struct Fulcio {
    uri: String,
    root_der: Vec<u8>,
    intermediate: Signer,
    intermediate_cn: String,
    intermediate_der: Vec<u8>,
}

impl Fulcio {
    fn generate(name: &str, valid_from: Timestamp) -> Fulcio {
        let root = Signer::generate(KeyKind::EcdsaP384);
        let intermediate = Signer::generate(KeyKind::EcdsaP384);
        let (root_cn, intermediate_cn) = (format!("{name} root"), format!("{name} intermediate"));
        let validity = |mut t: Template| {
            t.serial = serial(&t.subject);
            t.not_before = valid_from.secs();
            t.not_after = valid_from.secs() + CA_LIFETIME_SECS;
            t
        };
        let root_der =
            validity(Template::ca(&root_cn, &root_cn, Some(1))).sign(&root.spki(), &root, ES384);
        let mut issuing = validity(Template::ca(&intermediate_cn, &root_cn, Some(0)));
        issuing.extensions.push(eku(&[oids::CODE_SIGNING]));
        let intermediate_der = issuing.sign(&intermediate.spki(), &root, ES384);
        Fulcio {
            uri: format!("https://fulcio.{name}.test"),
            root_der,
            intermediate,
            intermediate_cn,
            intermediate_der,
        }
    }
}

/// A log signing with an ECDSA P-256 key, as Rekor v1 and Sigstore's CT logs do.
struct LogKey {
    url: String,
    key: PrivateKey,
    /// SHA-256 of the key's SPKI DER: the log's id in SCTs, bundles and the trusted root.
    log_id: [u8; 32],
    spki: Vec<u8>,
}

impl LogKey {
    fn generate(url: String) -> LogKey {
        let key = PrivateKey::generate(KeyKind::EcdsaP256).expect("P-256 keys generate");
        let public = key.public_key().expect("a generated key has a public key");
        LogKey {
            url,
            log_id: public.fingerprint(),
            spki: public.spki_der().to_vec(),
            key,
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).expect("P-256 keys sign")
    }

    fn host(&self) -> &str {
        self.url.split_once("://").map_or(&self.url, |(_, h)| h)
    }

    /// Its entry in a trusted root's `tlogs` or `ctlogs`.
    fn trusted_root_entry(&self, valid_from: Timestamp) -> Value {
        json!({
            "baseUrl": self.url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": B64.encode(&self.spki),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": valid_from.to_rfc3339()},
            },
            "logId": {"keyId": B64.encode(self.log_id)},
        })
    }
}

/// A Rekor v1 log: its key and its leaves, in memory.
struct Rekor {
    log: LogKey,
    /// Rekor v1 names each shard's tree in its checkpoints' origin: `<host> - <tree id>`.
    tree_id: u64,
    leaves: Mutex<Vec<Hash>>,
}

impl Rekor {
    fn generate(name: &str) -> Rekor {
        let log = LogKey::generate(format!("https://rekor.{name}.test"));
        let mut id = [0u8; 8];
        id.copy_from_slice(&log.log_id[..8]);
        let earlier = (0..EARLIER_ENTRIES)
            .map(|i| merkle::leaf_hash(format!("an earlier entry of {name}: {i}").as_bytes()))
            .collect();
        Rekor {
            tree_id: u64::from_be_bytes(id) >> 1,
            log,
            leaves: Mutex::new(earlier),
        }
    }

    /// Appends `body` and returns its entry as the log serves it, integrated at `at`.
    fn append(&self, kind: &str, version: &str, body: Vec<u8>, at: Timestamp) -> TlogEntry {
        let mut leaves = self.leaves.lock().unwrap_or_else(PoisonError::into_inner);
        leaves.push(merkle::leaf_hash(&body));
        let size = leaves.len() as u64;
        let index = size - 1;
        let root = merkle::root(&leaves);
        let hashes = merkle::inclusion_proof(index, size, &mut LeafHashes(&leaves))
            .expect("the leaves are all in memory");
        drop(leaves);
        // The signed entry timestamp: the log's signature over the canonical JSON of the
        // entry (members sorted, no whitespace), as `rekor::verify_set` rebuilds it.
        let promise = format!(
            r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{index}}}"#,
            B64.encode(&body),
            at.secs(),
            hex(&self.log.log_id),
        );
        TlogEntry {
            log_index: index,
            log_id: self.log.log_id.to_vec(),
            kind: kind.to_owned(),
            version: version.to_owned(),
            integrated_time: Some(at.secs()),
            signed_entry_timestamp: Some(self.log.sign(promise.as_bytes())),
            inclusion_proof: Some(InclusionProof {
                log_index: index,
                root_hash: root.to_vec(),
                tree_size: size,
                hashes: hashes.iter().map(|h| h.to_vec()).collect(),
                checkpoint: Some(self.checkpoint(size, root)),
            }),
            canonicalized_body: body,
        }
    }

    /// A checkpoint signed as Rekor v1 signs them: a signed note whose key id is the first
    /// four bytes of the key's SPKI hash, with an ECDSA signature over the note's text.
    fn checkpoint(&self, size: u64, root: Hash) -> String {
        let origin = format!("{} - {}", self.log.host(), self.tree_id);
        let text = Checkpoint::new(&origin, size, root)
            .expect("the origin is one line")
            .to_string();
        let signature = [&self.log.log_id[..4], &self.log.sign(text.as_bytes())].concat();
        format!(
            "{text}\n\u{2014} {} {}\n",
            self.log.host(),
            B64.encode(signature)
        )
    }
}

/// A Fulcio, a CT log and a Rekor v1 log, each with fresh keys; cheap to clone (the parts are
/// shared, and a Rekor's entries with them).
#[derive(Clone)]
pub struct Sigstore {
    fulcio: Arc<Fulcio>,
    ctlog: Arc<LogKey>,
    rekor: Arc<Rekor>,
    valid_from: Timestamp,
}

impl Sigstore {
    /// New authorities, valid from `valid_from` in the trusted root. `name` goes into their
    /// names and URLs (`https://rekor.<name>.test`): a DNS label.
    pub fn generate(name: &str, valid_from: Timestamp) -> Sigstore {
        Sigstore {
            fulcio: Arc::new(Fulcio::generate(name, valid_from)),
            ctlog: Arc::new(LogKey::generate(format!("https://ctfe.{name}.test"))),
            rekor: Arc::new(Rekor::generate(name)),
            valid_from,
        }
    }

    /// These logs with `other`'s certificate authority: bundles from a CA that this trusted
    /// root does not hold, logged by logs it does.
    pub fn with_ca_of(&self, other: &Sigstore) -> Sigstore {
        Sigstore {
            fulcio: Arc::clone(&other.fulcio),
            ..self.clone()
        }
    }

    /// This CA and CT log with `other`'s Rekor: bundles whose log entry is from a log this
    /// trusted root does not hold.
    pub fn with_rekor_of(&self, other: &Sigstore) -> Sigstore {
        Sigstore {
            rekor: Arc::clone(&other.rekor),
            ..self.clone()
        }
    }

    /// `trusted_root.json` (protobuf-specs `TrustedRoot`, media type 0.1) naming the Rekor
    /// log, the CA (its intermediate, then its root) and the CT log.
    pub fn trusted_root_json(&self) -> Vec<u8> {
        let fulcio = &self.fulcio;
        let root = json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [self.rekor.log.trusted_root_entry(self.valid_from)],
            "certificateAuthorities": [{
                "subject": {"organization": "vouch testkit", "commonName": fulcio.intermediate_cn},
                "uri": fulcio.uri,
                "certChain": {"certificates": [
                    {"rawBytes": B64.encode(&fulcio.intermediate_der)},
                    {"rawBytes": B64.encode(&fulcio.root_der)},
                ]},
                "validFor": {"start": self.valid_from.to_rfc3339()},
            }],
            "ctlogs": [self.ctlog.trusted_root_entry(self.valid_from)],
            "timestampAuthorities": [],
        });
        serde_json::to_vec_pretty(&root).expect("JSON values serialize")
    }

    /// A bundle v0.3 (JSON) signing `image` (a manifest digest) for `who` at `at`, as cosign 3
    /// signs images: [`image_statement`] in a DSSE envelope.
    pub fn sign_image(&self, who: &Oidc, image: &Digest, at: Timestamp) -> Vec<u8> {
        self.sign_statement(who, image_statement(image), at)
            .to_json()
            .expect("v0.3 bundles serialize")
            .into_bytes()
    }

    /// A bundle v0.3 holding `statement` (an in-toto statement) DSSE-signed at `at` by a fresh
    /// key whose certificate the CA issued to `who`, logged as a `dsse` 0.0.1 entry.
    pub fn sign_statement(&self, who: &Oidc, statement: Vec<u8>, at: Timestamp) -> Bundle {
        let key = PrivateKey::generate(KeyKind::EcdsaP256).expect("P-256 keys generate");
        let certificate = self.issue(who, &key, at);
        let content = Content::dsse_signed(&key, statement).expect("P-256 keys sign");
        let Content::Dsse {
            payload,
            payload_type,
            signature,
            ..
        } = &content
        else {
            unreachable!("dsse_signed makes DSSE content")
        };
        let envelope = json!({
            "payload": B64.encode(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": B64.encode(signature)}],
        });
        // What Rekor records of a DSSE entry (serde_json writes members sorted and compact,
        // its canonical form). The envelope's hash is recorded and checked by nothing offline.
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hex(&sha256(envelope.to_string().as_bytes()))},
                "payloadHash": {"algorithm": "sha256", "value": hex(&sha256(payload))},
                "signatures": [{
                    "signature": B64.encode(signature),
                    "verifier": B64.encode(pem::encode("CERTIFICATE", &certificate)),
                }],
            },
        });
        let entry = self
            .rekor
            .append("dsse", "0.0.1", body.to_string().into_bytes(), at);
        Bundle {
            version: BundleVersion::V0_3,
            material: Material::Certificate(certificate),
            tlog_entries: vec![entry],
            rfc3161_timestamps: Vec::new(),
            content,
        }
    }

    /// The leaf certificate (DER) for `key`, issued to `who` at `at` and valid for ten
    /// minutes, with the SCT the CT log made for its precertificate.
    fn issue(&self, who: &Oidc, key: &PrivateKey, at: Timestamp) -> Vec<u8> {
        let fulcio = &self.fulcio;
        let spki = key
            .public_key()
            .expect("a generated key has a public key")
            .spki_der()
            .to_vec();
        let name = match &who.san {
            // uniformResourceIdentifier [6] and rfc822Name [1], both IA5String.
            San::Uri(uri) => der::encode(0x86, uri.as_bytes()),
            San::Email(email) => der::encode(0x81, email.as_bytes()),
        };
        let mut leaf = Template::new(
            "",
            &fulcio.intermediate_cn,
            vec![
                key_usage(KeyUsage::DIGITAL_SIGNATURE),
                eku(&[oids::CODE_SIGNING]),
                san(&[name]),
                ext(oids::FULCIO_ISSUER_V1, false, who.issuer.as_bytes()),
                ext(
                    oids::FULCIO_ISSUER_V2,
                    false,
                    &der::encode(tag::UTF8_STRING, who.issuer.as_bytes()),
                ),
            ],
        );
        leaf.subject = seq(&[]);
        leaf.serial = serial(&spki);
        leaf.not_before = at.secs();
        leaf.not_after = at.secs() + LEAF_LIFETIME_SECS;
        // The CT log signs the precertificate: the TBSCertificate without the SCT list, which
        // is what a verifier rebuilds from the final certificate.
        let precertificate = leaf.tbs(&spki, &alg_der(ES384));
        let mut sct = Sct {
            log_id: self.ctlog.log_id,
            timestamp_ms: u64::try_from(at.secs()).expect("a time after 1970") * 1000,
            extensions: Vec::new(),
            hash_algorithm: 4,      // SHA-256
            signature_algorithm: 3, // ECDSA
            signature: Vec::new(),
        };
        let issuer_key_hash = fulcio.intermediate.public_key().fingerprint();
        sct.signature = self
            .ctlog
            .sign(&sct.precert_signed_data(&issuer_key_hash, &precertificate));
        leaf.extensions.push(ext(
            oids::SCT_LIST,
            false,
            &der::encode(tag::OCTET_STRING, &sct_list(&sct)),
        ));
        leaf.sign(&spki, &fulcio.intermediate, ES384)
    }
}

impl std::fmt::Debug for Sigstore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sigstore")
            .field("fulcio", &self.fulcio.uri)
            .field("ctlog", &self.ctlog.url)
            .field("rekor", &self.rekor.log.url)
            .finish()
    }
}

/// The statement cosign 3 writes for an image, member for member: the sign predicate about
/// the manifest's digest, with no name and no annotations (`vouch sign` adds the name).
pub fn image_statement(image: &Digest) -> Vec<u8> {
    #[derive(Serialize)]
    struct Subject {
        digest: Map<String, Value>,
        annotations: Map<String, Value>,
    }
    #[derive(Serialize)]
    struct Statement<'a> {
        #[serde(rename = "_type")]
        type_: &'a str,
        subject: [Subject; 1],
        #[serde(rename = "predicateType")]
        predicate_type: &'a str,
        predicate: Map<String, Value>,
    }
    let mut digest = Map::new();
    digest.insert(image.algorithm().as_str().to_owned(), image.hex().into());
    let statement = Statement {
        type_: crate::intoto::STATEMENT_V1,
        subject: [Subject {
            digest,
            annotations: Map::new(),
        }],
        predicate_type: SIGN_PREDICATE_TYPE,
        predicate: Map::new(),
    };
    serde_json::to_vec(&statement).expect("maps of strings serialize")
}

/// A positive DER INTEGER's contents, 16 bytes, from the hash of `seed`.
fn serial(seed: &[u8]) -> Vec<u8> {
    let mut serial = sha256(seed)[..16].to_vec();
    serial[0] = (serial[0] & 0x7f) | 0x40;
    serial
}

/// A TLS-encoded SignedCertificateTimestampList holding `sct` (RFC 6962 3.3).
fn sct_list(sct: &Sct) -> Vec<u8> {
    let mut entry = vec![0]; // v1
    entry.extend_from_slice(&sct.log_id);
    entry.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    entry.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
    entry.extend_from_slice(&sct.extensions);
    entry.extend_from_slice(&[sct.hash_algorithm, sct.signature_algorithm]);
    entry.extend_from_slice(&(sct.signature.len() as u16).to_be_bytes());
    entry.extend_from_slice(&sct.signature);
    let mut list = ((entry.len() + 2) as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&(entry.len() as u16).to_be_bytes());
    list.extend_from_slice(&entry);
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore::{
        Artifact, Config, Failure, Identity, Matcher, Options, TimeSource, VerifiedSigner, Verifier,
    };
    use crate::trust_root::TrustedRoot;

    const ISSUER: &str = "https://token.actions.example";
    const WORKFLOW: &str =
        "https://git.example/acme/app/.github/workflows/release.yml@refs/heads/main";

    /// The kit's times: its authorities from `T0`, a signature an hour later, checked a day on.
    const T0: Timestamp = Timestamp::from_unix(1_750_000_000);
    const SIGNED: Timestamp = Timestamp::from_unix(1_750_003_600);
    const NOW: Timestamp = Timestamp::from_unix(1_750_086_400);

    fn image(bytes: &[u8]) -> Digest {
        Digest::compute(oci::Algorithm::Sha256, bytes)
    }

    fn artifact(digest: &Digest) -> Artifact {
        crate::evidence::image_artifact(digest).expect("a SHA-256 digest")
    }

    fn expect(identity: &str, issuer: &str) -> Identity {
        Identity::Certificate {
            identity: Matcher::pattern(identity).unwrap(),
            issuer: Matcher::Exact(issuer.to_owned()),
        }
    }

    /// Both ways the verifier can run (certificate checks overlapped or in sequence) must
    /// give the same verdict; that one.
    fn verify(
        root: &[u8],
        bundle: &[u8],
        digest: &Digest,
        identity: &Identity,
    ) -> Result<VerifiedSigner, Failure> {
        let bundle = Bundle::from_json(bundle).expect("the kit writes bundles that parse");
        let options = Options {
            now: NOW,
            allow_no_tlog_with_key: false,
        };
        let verdicts: Vec<_> = [true, false]
            .into_iter()
            .map(|overlap| {
                let root = TrustedRoot::from_json(root).expect("the kit's root parses");
                let config = Config {
                    overlap_certificate_checks: overlap,
                    ..Config::default()
                };
                let verifier = Verifier::with_config(root, config);
                assert!(verifier.skipped.is_empty(), "{:?}", verifier.skipped);
                verifier
                    .verify(&bundle, &artifact(digest), identity, &options)
                    .map(|v| {
                        assert_eq!(
                            v.times,
                            [(SIGNED, TimeSource::Log(v.log_entries[0].0.clone()))]
                        );
                        v.signer
                    })
            })
            .collect();
        assert_eq!(verdicts[0], verdicts[1]);
        verdicts[0].clone()
    }

    #[test]
    fn the_kits_bundles_verify_for_their_identity_only() {
        let kit = Sigstore::generate("kit", T0);
        let rogue = Sigstore::generate("rogue", T0);
        let root = kit.trusted_root_json();
        let app = image(b"an image manifest");
        let who = Oidc::uri(WORKFLOW, ISSUER);
        let signed = kit.sign_image(&who, &app, SIGNED);
        let acme = expect("https://git.example/acme/.+@refs/heads/main", ISSUER);

        let tamper = |change: fn(&mut Bundle)| {
            let mut b = Bundle::from_json(&signed).unwrap();
            change(&mut b);
            b.to_json().unwrap().into_bytes()
        };
        let at = |a: &Oidc| kit.sign_image(a, &app, SIGNED);
        type Check = fn(&Failure) -> bool;
        let refused: Vec<(&str, Vec<u8>, Digest, Identity, Check)> = vec![
            (
                "a subject the pattern does not match",
                at(&Oidc::uri(
                    "https://git.example/evil/app/.github/workflows/release.yml@refs/heads/main",
                    ISSUER,
                )),
                app.clone(),
                acme.clone(),
                |f| matches!(f, Failure::IdentityMismatch { .. }),
            ),
            (
                "the right subject from another issuer",
                at(&Oidc::uri(WORKFLOW, "https://issuer.evil.example")),
                app.clone(),
                acme.clone(),
                |f| matches!(f, Failure::IssuerMismatch { .. }),
            ),
            (
                "a tampered payload",
                tamper(|b| {
                    if let Content::Dsse { payload, .. } = &mut b.content {
                        *payload = image_statement(&image(b"another manifest"));
                    }
                }),
                app.clone(),
                acme.clone(),
                |f| matches!(f, Failure::Signature(_)),
            ),
            (
                "a tampered signed entry timestamp",
                tamper(|b| b.tlog_entries[0].integrated_time = Some(SIGNED.secs() - 1)),
                app.clone(),
                acme.clone(),
                |f| matches!(f, Failure::Tlog { reason, .. } if reason.contains("signed entry timestamp")),
            ),
            (
                "a tampered inclusion proof",
                tamper(|b| b.tlog_entries[0].inclusion_proof.as_mut().unwrap().hashes[0][0] ^= 1),
                app.clone(),
                acme.clone(),
                |f| matches!(f, Failure::Tlog { reason, .. } if reason.contains("inclusion proof")),
            ),
            (
                "a checkpoint signed by another key",
                tamper(|b| {
                    let proof = b.tlog_entries[0].inclusion_proof.as_mut().unwrap();
                    let rogue = Sigstore::generate("kit", T0).rekor;
                    let root = proof.root_hash.clone().try_into().unwrap();
                    proof.checkpoint = Some(rogue.checkpoint(proof.tree_size, root));
                }),
                app.clone(),
                acme.clone(),
                |f| matches!(f, Failure::Tlog { reason, .. } if reason.contains("checkpoint")),
            ),
            (
                "another image",
                signed.clone(),
                image(b"another manifest"),
                acme.clone(),
                |f| matches!(f, Failure::SubjectMismatch),
            ),
            (
                "a CA the trusted root does not hold",
                kit.with_ca_of(&rogue).sign_image(&who, &app, SIGNED),
                app.clone(),
                acme.clone(),
                |f| matches!(f, Failure::Chain { .. }),
            ),
            (
                "a log the trusted root does not hold",
                kit.with_rekor_of(&rogue).sign_image(&who, &app, SIGNED),
                app.clone(),
                acme.clone(),
                |f| matches!(f, Failure::Tlog { reason, .. } if reason.contains("not in the trusted root")),
            ),
        ];

        assert_eq!(
            verify(&root, &signed, &app, &acme),
            Ok(VerifiedSigner::Certificate {
                identity: WORKFLOW.into(),
                issuer: ISSUER.into()
            })
        );
        let mail = Oidc::email("release@acme.example", ISSUER);
        assert_eq!(
            verify(
                &root,
                &kit.sign_image(&mail, &app, SIGNED),
                &app,
                &expect("release@acme\\.example", ISSUER)
            ),
            Ok(VerifiedSigner::Certificate {
                identity: "release@acme.example".into(),
                issuer: ISSUER.into()
            })
        );
        for (what, bundle, digest, identity, check) in refused {
            let got = verify(&root, &bundle, &digest, &identity);
            assert!(got.as_ref().is_err_and(check), "{what}: {got:?}");
        }
        // A trusted root without the CT log: the certificate's SCT counts for nothing.
        let mut without_ct: Value = serde_json::from_slice(&root).unwrap();
        without_ct["ctlogs"] = json!([]);
        let got = verify(
            &serde_json::to_vec(&without_ct).unwrap(),
            &signed,
            &app,
            &acme,
        );
        assert!(matches!(got, Err(Failure::Sct(_))), "{got:?}");
    }

    #[test]
    fn the_kit_writes_what_sigstore_writes() {
        let kit = Sigstore::generate("kit", T0);
        let root = TrustedRoot::from_json(&kit.trusted_root_json()).unwrap();
        assert!(root.skipped.is_empty(), "{:?}", root.skipped);
        assert_eq!(
            (
                root.tlogs.len(),
                root.ctlogs.len(),
                root.certificate_authorities[0].chain.len()
            ),
            (1, 1, 2)
        );
        // cosign 3's statement, byte for byte (crates/cli/src/image.rs tests vouch's, which
        // adds the subject's name).
        let d = image(b"image");
        assert_eq!(
            String::from_utf8(image_statement(&d)).unwrap(),
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{}"}},"annotations":{{}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{{}}}}"#,
                d.hex()
            )
        );
        // Each bundle is a new entry of one growing log, proven against its own checkpoint.
        let who = Oidc::uri(WORKFLOW, ISSUER);
        let first = kit.sign_statement(&who, image_statement(&d), SIGNED);
        let second = kit.sign_statement(&who, image_statement(&d), SIGNED);
        let proof = |b: &Bundle| b.tlog_entries[0].inclusion_proof.clone().unwrap();
        assert_eq!(
            (proof(&first).log_index, proof(&second).log_index),
            (EARLIER_ENTRIES as u64, EARLIER_ENTRIES as u64 + 1)
        );
        assert!(!proof(&first).hashes.is_empty());
        let cert = crate::x509::Certificate::from_der(first.material.leaf().unwrap()).unwrap();
        assert_eq!(cert.oidc_issuer(), Some(ISSUER));
        assert_eq!(cert.san_identities().collect::<Vec<_>>(), [WORKFLOW]);
        assert_eq!(cert.not_after() - cert.not_before(), LEAF_LIFETIME_SECS);
    }
}
