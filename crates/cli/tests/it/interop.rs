//! Signatures across implementations: vouch's key-signed bundles (`sign-blob`, `attest-blob`;
//! ECDSA P-256 and Ed25519) verified by sigstore-js and Python's `cryptography`, model-signing's
//! bundles verified by vouch, and tampered bundles (a flipped signature byte, another key,
//! another file) refused by vouch and the peers alike.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

use crate::common::tool;
use crate::signing::{fingerprint, fixture, key_pair, read_json, run, sigstore_js, statement};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn os(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_os_string()).collect()
}

/// `vouch sign-blob` or `vouch attest-blob` (a SLSA v1 predicate) of `file` with `key`.
fn sign(verb: &str, key: &Path, file: &Path, bundle: &Path) {
    let mut args = os(&[&verb, &"--key", &key, &"--bundle", &bundle]);
    if verb == "attest-blob" {
        let predicate = bundle.with_extension("predicate.json");
        std::fs::write(
            &predicate,
            br#"{"buildDefinition":{"buildType":"https://example.com/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}"#,
        )
        .unwrap();
        args.extend(os(&[
            &"--predicate",
            &predicate,
            &"--type",
            &"slsaprovenance1",
        ]));
    }
    args.push(file.as_os_str().to_owned());
    let v = run(args);
    assert_eq!(v.code, Some(0), "{verb}: {}", v.stderr);
}

/// vouch's verb for a bundle made by `sign` with `signing_verb`.
fn verify_verb(signing_verb: &str) -> &'static str {
    match signing_verb {
        "sign-blob" => "verify-blob",
        _ => "verify-blob-attestation",
    }
}

fn vouch_verify(
    signing_verb: &str,
    public: &Path,
    bundle: &Path,
    file: &Path,
) -> crate::signing::Verdict {
    run(os(&[
        &verify_verb(signing_verb),
        &"--output",
        &"json",
        &"--key",
        &public,
        &"--bundle",
        &bundle,
        &file,
    ]))
}

/// sigstore-js's verdict: `Ok("OK key")` or `Err("FAIL CODE message")`.
fn js_verify(public: &Path, bundle: &Path, file: &Path) -> Result<String, String> {
    let out = sigstore_js()
        .arg("--bundle")
        .arg(bundle)
        .arg("--trusted-root")
        .arg(fixture("trust/public-good-trusted_root.json"))
        .arg("--key")
        .arg(public)
        .arg(file)
        .output()
        .expect("run node");
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() {
        Ok(said)
    } else {
        Err(format!("{said}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// python3 with `cryptography`, or a failure that says how to get it.
fn python() -> Command {
    let check = Command::new(tool("python3"))
        .args(["-c", "import cryptography"])
        .output()
        .expect("run python3");
    assert!(
        check.status.success(),
        "python3 lacks cryptography; run .ci/install"
    );
    Command::new(tool("python3"))
}

/// Checks with Python's `cryptography`, independently of vouch, what a key-signed message
/// signature bundle claims: the hint is base64 SHA-256 of the key's DER SPKI (what
/// sigstore-go and cosign write), the message digest is the file's SHA-256, and the signature
/// verifies over the file (ECDSA over its SHA-256, Ed25519 over the bytes themselves).
fn python_verifies_message_signature(public: &Path, bundle: &Path, file: &Path) {
    let script = r#"
import base64, hashlib, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
key = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
bundle = json.load(open(sys.argv[2]))
data = open(sys.argv[3], "rb").read()
spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
assert bundle["verificationMaterial"]["publicKey"]["hint"] == base64.b64encode(hashlib.sha256(spki).digest()).decode(), "hint"
assert bundle["verificationMaterial"]["tlogEntries"] == [], "no log entries"
ms = bundle["messageSignature"]
assert ms["messageDigest"]["algorithm"] == "SHA2_256", "digest algorithm"
assert base64.b64decode(ms["messageDigest"]["digest"]) == hashlib.sha256(data).digest(), "digest"
sig = base64.b64decode(ms["signature"])
if isinstance(key, ed25519.Ed25519PublicKey):
    key.verify(sig, data)
else:
    key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
print("ok")
"#;
    let out = python()
        .args(["-c", script])
        .args([public, bundle, file])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "cryptography refuses {}: {}",
        bundle.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy of `bundle` at `to` with one byte of its signature flipped.
fn flip_signature(bundle: &Path, to: &Path) {
    let mut json = read_json(bundle);
    let slot = if json.get("dsseEnvelope").is_some() {
        &mut json["dsseEnvelope"]["signatures"][0]["sig"]
    } else {
        &mut json["messageSignature"]["signature"]
    };
    let mut sig = B64.decode(slot.as_str().unwrap()).unwrap();
    let middle = sig.len() / 2;
    sig[middle] ^= 0x01;
    *slot = Value::String(B64.encode(sig));
    std::fs::write(to, json.to_string()).unwrap();
}

const KINDS: [&str; 2] = ["ecdsa-p256", "ed25519"];
const VERBS: [&str; 2] = ["sign-blob", "attest-blob"];

#[test]
fn our_key_bundles_verify_with_sigstore_js_and_cryptography() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("release.tar");
    std::fs::write(
        &file,
        (0..70_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    for kind in KINDS {
        let (key, public) = key_pair(dir, kind, kind);
        for verb in VERBS {
            let what = format!("{verb} {kind}");
            let bundle = dir.join(format!("{kind}.{verb}.sigstore.json"));
            sign(verb, &key, &file, &bundle);

            let report = vouch_verify(verb, &public, &bundle, &file);
            assert_eq!(
                report.verified(&what)["signer"]["key"],
                fingerprint(&public)
            );

            let js = js_verify(&public, &bundle, &file);
            if (verb, kind) == ("sign-blob", "ed25519") {
                // sigstore-js verifies every message signature with Node's crypto.verify and
                // the messageDigest's hash, which Node refuses for Ed25519 keys: no Ed25519
                // message signature, pure or prehashed, verifies there. The pure Ed25519
                // signature vouch writes (what the Sigstore algorithm registry's
                // PKIX_ED25519 is) is checked by `cryptography` below instead.
                assert_eq!(
                    js,
                    Err("FAIL SIGNATURE_ERROR signature verification failed".into()),
                    "{what}"
                );
            } else {
                assert_eq!(js, Ok("OK key".into()), "{what}");
            }

            if verb == "sign-blob" {
                python_verifies_message_signature(&public, &bundle, &file);
            } else {
                let json = read_json(&bundle);
                let st = statement(&json);
                assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
                assert_eq!(st["predicateType"], "https://slsa.dev/provenance/v1");
                assert_eq!(st["subject"][0]["name"], "release.tar");
                assert_eq!(
                    st["subject"][0]["digest"]["sha256"],
                    oci::Digest::compute(oci::Algorithm::Sha256, &std::fs::read(&file).unwrap())
                        .hex()
                );
                assert_eq!(
                    json["dsseEnvelope"]["payloadType"],
                    "application/vnd.in-toto+json"
                );
            }
        }
    }
}

#[test]
fn tampered_bundles_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("app.bin");
    let other = dir.join("other.bin");
    std::fs::write(&file, b"the artifact").unwrap();
    std::fs::write(&other, b"another artifact").unwrap();
    for kind in KINDS {
        let (key, public) = key_pair(dir, kind, kind);
        let (_, stranger) = key_pair(dir, &format!("{kind}-stranger"), kind);
        for verb in VERBS {
            let what = format!("{verb} {kind}");
            let bundle = dir.join(format!("{kind}.{verb}.json"));
            sign(verb, &key, &file, &bundle);
            vouch_verify(verb, &public, &bundle, &file).verified(&what);

            let flipped = dir.join(format!("{kind}.{verb}.flipped.json"));
            flip_signature(&bundle, &flipped);
            let over = if verb == "sign-blob" {
                "the artifact"
            } else {
                "the DSSE envelope"
            };
            vouch_verify(verb, &public, &flipped, &file).denied(
                &format!("{what}: flipped signature byte"),
                &format!("the signature does not verify with the signer's key over {over}"),
            );
            vouch_verify(verb, &stranger, &bundle, &file).denied(
                &format!("{what}: another key"),
                &format!("the signature does not verify with the signer's key over {over}"),
            );
            let wrong_file = if verb == "sign-blob" {
                "the bundle's message digest does not match the artifact"
            } else {
                "no subject of the in-toto statement is the artifact"
            };
            vouch_verify(verb, &public, &bundle, &other)
                .denied(&format!("{what}: another file"), wrong_file);

            // sigstore-js refuses them too (where it verifies the original at all).
            if (verb, kind) != ("sign-blob", "ed25519") {
                assert!(js_verify(&public, &flipped, &file).is_err(), "{what}");
                assert!(js_verify(&stranger, &bundle, &file).is_err(), "{what}");
            }
        }
    }
}

/// A model directory of a few files.
fn model(dir: &Path) -> PathBuf {
    let model = dir.join("tiny-model");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(model.join("config.json"), br#"{"layers":2}"#).unwrap();
    std::fs::write(
        model.join("weights.bin"),
        (0..4096u32)
            .map(|i| (i * 7 % 256) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    std::fs::write(model.join("tokenizer.txt"), b"a b c\n").unwrap();
    model
}

/// The digest model-signing names a model by (its statement's one subject), computed here
/// from the files, independently: with its `files` serialization each file is hashed with
/// SHA-256, and the subject is SHA-256 over those digests in the order of the files' sorted
/// relative paths.
fn model_digest(model: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(model)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut concatenated = Vec::new();
    for name in names {
        let digest = oci::Digest::compute(
            oci::Algorithm::Sha256,
            &std::fs::read(model.join(name)).unwrap(),
        );
        concatenated.extend(
            (0..64)
                .step_by(2)
                .map(|i| u8::from_str_radix(&digest.hex()[i..i + 2], 16).unwrap()),
        );
    }
    oci::Digest::compute(oci::Algorithm::Sha256, &concatenated).to_string()
}

fn model_signing() -> Command {
    Command::new(tool("model_signing"))
}

#[test]
fn model_signing_bundles_verify_with_vouch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let model = model(dir);
    let (key, public) = (dir.join("ec.key"), dir.join("ec.pub"));
    let made = python()
        .args([
            "-c",
            r#"
import sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ec
k = ec.generate_private_key(ec.SECP256R1())
open(sys.argv[1], "wb").write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
open(sys.argv[2], "wb").write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
"#,
        ])
        .args([&key, &public])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let signature = dir.join("model.sig");
    let out = model_signing()
        .args(["sign", "key", "--private_key"])
        .arg(&key)
        .arg("--signature")
        .arg(&signature)
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "model_signing sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A v0.3 bundle: key material, no log entry, a DSSE statement about the model. vouch's
    // subject check applies as for any DSSE bundle: the artifact is the model's digest.
    let json = read_json(&signature);
    assert_eq!(
        json["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        json["verificationMaterial"]["tlogEntries"],
        serde_json::json!([])
    );
    let digest = model_digest(&model);
    assert_eq!(
        format!(
            "sha256:{}",
            statement(&json)["subject"][0]["digest"]["sha256"]
                .as_str()
                .unwrap()
        ),
        digest,
        "the subject is the digest computed from the files"
    );
    let verify = |bundle: &Path, digest: &str, extra: &[&str]| {
        let mut args = os(&[
            &"verify-blob-attestation",
            &"--output",
            &"json",
            &"--key",
            &public,
            &"--bundle",
            &bundle,
            &"--digest",
            &digest,
        ]);
        args.extend(extra.iter().map(OsString::from));
        run(args)
    };
    let report = verify(
        &signature,
        &digest,
        &["--type", "https://model_signing/signature/v1.0"],
    );
    let report = report.verified("model-signing bundle");
    assert_eq!(report["signer"]["key"], fingerprint(&public));
    assert_eq!(
        report["predicateType"],
        "https://model_signing/signature/v1.0"
    );

    // Tampered: a flipped signature byte, another key, a model whose files changed.
    let flipped = dir.join("flipped.sig");
    flip_signature(&signature, &flipped);
    verify(&flipped, &digest, &[]).denied(
        "model-signing bundle, flipped signature byte",
        "the signature does not verify with the signer's key over the DSSE envelope",
    );
    let control = model_signing()
        .args(["verify", "key", "--public_key"])
        .arg(&public)
        .arg("--signature")
        .arg(&flipped)
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        !control.status.success(),
        "model_signing accepts the flipped signature too"
    );
    let (_, stranger) = key_pair(dir, "stranger", "ecdsa-p256");
    run(os(&[
        &"verify-blob-attestation",
        &"--key",
        &stranger,
        &"--bundle",
        &signature,
        &"--digest",
        &digest,
    ]))
    .denied(
        "model-signing bundle, another key",
        "the signature does not verify with the signer's key over the DSSE envelope",
    );
    std::fs::write(model.join("weights.bin"), b"other weights").unwrap();
    verify(&signature, &model_digest(&model), &[]).denied(
        "model-signing bundle, changed model",
        "no subject of the in-toto statement is the artifact",
    );
}
