//! Shared helpers: the fixture and peer directories beside the repository, real-peer lookup
//! (tests never skip: a missing peer fails with a pointer to `.ci/install`), and reading the
//! DSSE envelopes and leaf certificates out of real Sigstore bundles.

#![allow(dead_code)] // each test module uses a different part of the helpers

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::Value;
use verify::der::{self, tag};
use verify::dsse::Envelope;
use verify::keys::PublicKey;

/// `../shared` beside the repository.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

pub fn fixture(path: &str) -> PathBuf {
    shared().join("fixtures/signing").join(path)
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn json(path: &Path) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs a peer command; a peer that is not installed fails the test with where to get it.
pub fn run_peer(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {:?}: {e}; run .ci/install (it installs python3 with securesystemslib, in-toto and cryptography)",
            cmd.get_program()
        )
    })
}

/// python3 with the DSSE peers' libraries, checked once per call site.
pub fn python() -> Command {
    let check = run_peer(
        Command::new("python3").args(["-c", "import securesystemslib, in_toto, cryptography"]),
    );
    assert!(
        check.status.success(),
        "python3 lacks securesystemslib, in-toto or cryptography ({}); run .ci/install",
        String::from_utf8_lossy(&check.stderr).trim()
    );
    Command::new("python3")
}

/// A program on PATH, or a failure that says how to install it.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed; run .ci/install"))
}

/// The DSSE envelope of a Sigstore bundle (JSON), read with vouch's parser.
pub fn bundle_envelope(bundle: &Value) -> Envelope {
    serde_json::from_value(bundle["dsseEnvelope"].clone()).expect("the bundle's DSSE envelope")
}

/// The public key of a bundle's leaf certificate (v0.1/v0.2 chain or v0.3 certificate).
pub fn bundle_leaf_key(bundle: &Value) -> PublicKey {
    let material = &bundle["verificationMaterial"];
    let b64 = material["x509CertificateChain"]["certificates"][0]["rawBytes"]
        .as_str()
        .or_else(|| material["certificate"]["rawBytes"].as_str())
        .expect("a bundle with a certificate");
    let cert = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64 certificate");
    PublicKey::from_spki_der(certificate_spki(&cert)).expect("the certificate's key")
}

/// The SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 4.1), found by walking the
/// TBSCertificate: version, serial, signature, issuer, validity, subject, then the key.
fn certificate_spki(cert: &[u8]) -> &[u8] {
    let certificate = der::parse_single(cert, tag::SEQUENCE).expect("a certificate");
    let mut outer = certificate.reader();
    let mut tbs = outer
        .read(tag::SEQUENCE)
        .expect("a TBSCertificate")
        .reader();
    tbs.read_optional(tag::context(0)).expect("a version");
    for field in ["serial", "signature", "issuer", "validity", "subject"] {
        tbs.read_any().unwrap_or_else(|e| panic!("{field}: {e}"));
    }
    tbs.read(tag::SEQUENCE).expect("a SubjectPublicKeyInfo").raw
}
