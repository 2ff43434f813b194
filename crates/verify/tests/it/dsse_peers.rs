//! DSSE against real peers: envelopes round-trip both ways with securesystemslib
//! (`../shared/peers/dsse`) for ECDSA P-256, Ed25519 and RSA-PSS; an in-toto 3.x link made by
//! `in-toto-run --use-dsse` verifies with vouch's DSSE code; npm's key-signed publish
//! attestations verify with npm's key, and their tampered twins do not.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use verify::dsse::{DsseError, Envelope, Policy, TrustedKey};
use verify::intoto::{self, Statement};
use verify::keys::{HashAlg, PrivateKey, PublicKey, Scheme};

use crate::common::{self, fixture, python, read, run_peer};

fn peer_script(name: &str) -> PathBuf {
    common::shared().join("peers/dsse").join(name)
}

/// A key pair made by securesystemslib: (private key path, public key path, its keyid).
fn peer_key(dir: &Path, kind: &str) -> (PathBuf, PathBuf, String) {
    let prefix = dir.join(kind);
    let out = run_peer(
        python()
            .arg(peer_script("gen_key.py"))
            .arg(kind)
            .arg(&prefix),
    );
    assert!(
        out.status.success(),
        "gen_key.py {kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "<keytype> <scheme> keyid <hex>"
    let stdout = String::from_utf8(out.stdout).unwrap();
    let keyid = stdout
        .split_whitespace()
        .last()
        .expect("a keyid")
        .to_owned();
    (
        prefix.with_extension("key"),
        prefix.with_extension("pub"),
        keyid,
    )
}

fn public_key(path: &Path) -> PublicKey {
    PublicKey::from_pem(std::str::from_utf8(&read(path)).unwrap()).unwrap()
}

fn statement_payload(name: &str) -> Vec<u8> {
    let digest = oci::Digest::compute(oci::Algorithm::Sha256, name.as_bytes());
    format!(
        r#"{{"_type":"{}","subject":[{{"name":"{name}","digest":{{"sha256":"{}"}}}}],"predicateType":"https://example.com/test/v1","predicate":{{"by":"{name}"}}}}"#,
        intoto::STATEMENT_V1,
        digest.hex()
    )
    .into_bytes()
}

/// Runs `dsse_peer.py verify`: the payload it printed, or its error.
fn peer_verify(public: &Path, envelope: &Path) -> Result<Vec<u8>, String> {
    let out = run_peer(
        python()
            .arg(peer_script("dsse_peer.py"))
            .arg("verify")
            .arg("--pub")
            .arg(public)
            .arg("--in")
            .arg(envelope),
    );
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The DSSE matrix: (securesystemslib key type, the scheme it signs with by default).
const MATRIX: [(&str, Scheme); 3] = [
    ("ecdsa", Scheme::Ecdsa(HashAlg::Sha256)),
    ("ed25519", Scheme::Ed25519),
    ("rsa", Scheme::RsaPss(HashAlg::Sha256)),
];

#[test]
fn securesystemslib_envelopes_verify_with_vouch() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, scheme) in MATRIX {
        let (key, public, _) = peer_key(dir.path(), kind);
        let payload = statement_payload(kind);
        let input = dir.path().join(format!("{kind}.payload"));
        std::fs::write(&input, &payload).unwrap();
        let out_path = dir.path().join(format!("{kind}.peer.json"));
        let out = run_peer(
            python()
                .arg(peer_script("dsse_peer.py"))
                .args(["sign", "--payload-type", intoto::PAYLOAD_TYPE, "--key"])
                .arg(&key)
                .arg("--in")
                .arg(&input)
                .arg("--out")
                .arg(&out_path),
        );
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let envelope = Envelope::parse(&read(&out_path)).unwrap();
        let keys = [TrustedKey::new(public_key(&public), scheme)];
        let policy = Policy {
            payload_type: intoto::PAYLOAD_TYPE,
            keys: &keys,
            threshold: 1,
        };
        let verified = envelope
            .verify(&policy)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(verified.payload, payload.as_slice(), "{kind}");
        let statement = Statement::parse(verified.payload).unwrap();
        assert_eq!(statement.subject[0].name, kind);

        // Tampered payload, or the key under another scheme: not verified.
        let mut tampered = envelope.clone();
        tampered.payload.push(b' ');
        assert!(
            matches!(
                tampered.verify(&policy),
                Err(DsseError::Threshold { valid: 0, .. })
            ),
            "{kind}"
        );
        if let Scheme::RsaPss(_) = scheme {
            let pkcs1 = [TrustedKey::new(
                public_key(&public),
                Scheme::RsaPkcs1(HashAlg::Sha256),
            )];
            assert!(
                envelope
                    .verify(&Policy {
                        keys: &pkcs1,
                        ..policy
                    })
                    .is_err()
            );
        }
    }
}

#[test]
fn vouch_envelopes_verify_with_securesystemslib() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, scheme) in MATRIX {
        let (key, public, keyid) = peer_key(dir.path(), kind);
        let signer = PrivateKey::from_pem(std::str::from_utf8(&read(&key)).unwrap()).unwrap();
        let payload = statement_payload(kind);
        let mut envelope = Envelope::new(intoto::PAYLOAD_TYPE, payload.clone());
        // securesystemslib only tries keys whose keyid equals the signature's (not what the
        // DSSE spec says, securesystemslib#416), so we name its keyid.
        envelope.sign(&signer, scheme, &keyid).unwrap();
        let path = dir.path().join(format!("{kind}.vouch.json"));
        std::fs::write(&path, envelope.to_json()).unwrap();
        let printed = peer_verify(&public, &path).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(printed, payload, "{kind}");

        // A flipped signature bit is refused by the peer too.
        let mut tampered = envelope.clone();
        tampered.signatures[0].sig[10] ^= 1;
        let bad = dir.path().join(format!("{kind}.tampered.json"));
        std::fs::write(&bad, tampered.to_json()).unwrap();
        let err = peer_verify(&public, &bad).expect_err(kind);
        assert!(err.contains("VERIFY FAILED"), "{kind}: {err}");
    }
}

#[test]
fn in_toto_dsse_link_verifies_with_vouch() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public, keyid) = peer_key(dir.path(), "ecdsa");
    std::fs::write(dir.path().join("src.txt"), "hello\n").unwrap();
    let in_toto_run = common::tool("in-toto-run");
    let out = run_peer(
        Command::new(in_toto_run)
            .current_dir(dir.path())
            .args(["--use-dsse", "-n", "build", "--signing-key"])
            .arg(&key)
            .args([
                "-m",
                "src.txt",
                "-p",
                "out.txt",
                "--",
                "sh",
                "-c",
                "cat src.txt > out.txt",
            ]),
    );
    assert!(
        out.status.success(),
        "in-toto-run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = dir.path().join(format!("build.{}.link", &keyid[..8]));
    let envelope = Envelope::parse(&read(&link)).unwrap();
    assert_eq!(envelope.signatures[0].keyid, keyid);

    let keys = [TrustedKey::new(
        public_key(&public),
        Scheme::Ecdsa(HashAlg::Sha256),
    )];
    let policy = Policy {
        payload_type: intoto::PAYLOAD_TYPE,
        keys: &keys,
        threshold: 1,
    };
    let verified = envelope.verify(&policy).unwrap();
    let link: Value = serde_json::from_slice(verified.payload).unwrap();
    assert_eq!(link["_type"], "link");
    assert_eq!(link["name"], "build");
    let product = oci::Digest::compute(oci::Algorithm::Sha256, &read(&dir.path().join("out.txt")));
    assert_eq!(link["products"]["out.txt"]["sha256"], product.hex());
    assert_eq!(link["materials"]["src.txt"]["sha256"], product.hex());

    // Another key, or an edited link, does not verify.
    let stranger = PrivateKey::generate(verify::keys::KeyKind::EcdsaP256).unwrap();
    let wrong = [TrustedKey::new(
        stranger.public_key().unwrap(),
        Scheme::Ecdsa(HashAlg::Sha256),
    )];
    assert!(
        envelope
            .verify(&Policy {
                keys: &wrong,
                ..policy
            })
            .is_err()
    );
    let mut edited = envelope.clone();
    edited.payload = String::from_utf8(edited.payload)
        .unwrap()
        .replace("\"build\"", "\"built\"")
        .into_bytes();
    assert!(edited.verify(&policy).is_err());
}

/// npm's registry signs publish attestations with a key (`publish_key.pub`): the DSSE
/// signature verifies with it, and fails for the twin whose payload gained one byte.
#[test]
fn npm_publish_attestations_verify_with_npm_key() {
    let npm = public_key(&fixture("sigstore-go/publish_key.pub"));
    let keys = [TrustedKey::new(npm, Scheme::Ecdsa(HashAlg::Sha256))];
    let policy = Policy {
        payload_type: intoto::PAYLOAD_TYPE,
        keys: &keys,
        threshold: 1,
    };
    let publish = |path: &str| -> Envelope {
        let doc = common::json(&fixture(path));
        let bundle = match doc.get("attestations") {
            Some(list) => list
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["predicateType"].as_str().unwrap().contains("/publish/"))
                .expect("a publish attestation")["bundle"]
                .clone(),
            None => doc,
        };
        common::bundle_envelope(&bundle)
    };
    for path in [
        "sigstore-go/bundle-publish.json",
        "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json",
        "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega-invalidsigprov.tgz.json",
    ] {
        let envelope = publish(path);
        // The keyid hint is npm's own ("SHA256:..."); it plays no part.
        assert!(envelope.signatures[0].keyid.starts_with("SHA256:"));
        let verified = envelope
            .verify(&policy)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let statement = Statement::parse(verified.payload).unwrap();
        assert_eq!(
            statement.predicate_type,
            "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
        );
    }
    let tampered =
        publish("slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega-invalidsigpub.tgz.json");
    assert!(matches!(
        tampered.verify(&policy),
        Err(DsseError::Threshold {
            valid: 0,
            threshold: 1
        })
    ));
}

/// The DSSE signatures of real keyless provenance bundles verify with their leaf certificate's
/// key (the certificate chain is the bundle verifier's concern, not this test's); the twin whose
/// payload was altered does not.
#[test]
fn real_provenance_envelopes_verify_with_their_certificate_key() {
    let check = |bundle: &Value| -> Result<(), DsseError> {
        let keys = [TrustedKey::new(
            common::bundle_leaf_key(bundle),
            Scheme::Ecdsa(HashAlg::Sha256),
        )];
        common::bundle_envelope(bundle)
            .verify(&Policy {
                payload_type: intoto::PAYLOAD_TYPE,
                keys: &keys,
                threshold: 1,
            })
            .map(drop)
    };
    for path in [
        "slsa-verifier/gha_container-based/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.build.slsa",
        "slsa-verifier/gha_delegator/v1.10.0/binary-linux-amd64-workflow_dispatch.build.slsa",
        "slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
        "sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json",
        "sigstore-go/bundle-provenance.json",
        "sigstore-go/dsse.sigstore.json",
        "cosign/oci-attestation.sigstore.json",
    ] {
        check(&common::json(&fixture(path))).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let npm_provenance = |path: &str| -> Value {
        common::json(&fixture(path))["attestations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["predicateType"] == "https://slsa.dev/provenance/v1")
            .expect("a provenance attestation")["bundle"]
            .clone()
    };
    check(&npm_provenance(
        "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json",
    ))
    .unwrap();
    check(&npm_provenance(
        "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega-invalidsigpub.tgz.json",
    ))
    .unwrap();
    assert!(matches!(
        check(&npm_provenance(
            "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega-invalidsigprov.tgz.json"
        )),
        Err(DsseError::Threshold { valid: 0, .. })
    ));
    // Two signatures where a bundle allows one: the first verifies, the second is corrupt, and
    // a threshold of two distinct keys is not met by one key.
    let two = common::json(&fixture("sigstore-go/dsse-2sigs.sigstore.json"));
    let envelope = common::bundle_envelope(&two);
    assert_eq!(envelope.signatures.len(), 2);
    let keys = [TrustedKey::new(
        common::bundle_leaf_key(&two),
        Scheme::Ecdsa(HashAlg::Sha256),
    )];
    let policy = Policy {
        payload_type: intoto::PAYLOAD_TYPE,
        keys: &keys,
        threshold: 1,
    };
    assert_eq!(envelope.verify(&policy).unwrap().keys, vec![0]);
    assert!(matches!(
        envelope.verify(&Policy {
            threshold: 2,
            ..policy
        }),
        Err(DsseError::Threshold {
            valid: 1,
            threshold: 2
        })
    ));
}
