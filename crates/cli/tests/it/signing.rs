//! Shared by the signing tests (`fixtures`, `interop`, `blob`): running vouch's blob verbs as a
//! user would and reading their verdicts (exit code, the JSON report, the one-line reason), and
//! the fixture and peer paths beside the repository.

#![allow(dead_code)] // each test module uses a different part of the harness

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use serde_json::Value;

use crate::common::vouch;

/// `../shared` beside the repository.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// A file of `../shared/fixtures/signing`.
pub fn fixture(path: &str) -> PathBuf {
    shared().join("fixtures/signing").join(path)
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What vouch said about a bundle.
#[derive(Debug)]
pub struct Verdict {
    pub code: Option<i32>,
    /// The `--output json` report, when it printed one.
    pub report: Option<Value>,
    pub stderr: String,
}

impl Verdict {
    fn of(out: Output) -> Verdict {
        Verdict {
            code: out.status.code(),
            report: serde_json::from_slice(&out.stdout).ok(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Exit code 0 and a report that says so; returns the report.
    pub fn verified(&self, what: &str) -> &Value {
        assert_eq!(self.code, Some(0), "{what}: {}", self.stderr);
        let report = self
            .report
            .as_ref()
            .unwrap_or_else(|| panic!("{what}: no JSON report"));
        assert_eq!(report["verified"], true, "{what}: {report}");
        report
    }

    /// Exit code 1 and one line on standard error that gives `reason`.
    pub fn denied(&self, what: &str, reason: &str) {
        assert_eq!(self.code, Some(1), "{what}: {}", self.stderr);
        let line = self.stderr.trim();
        assert_eq!(line.lines().count(), 1, "{what}: {line}");
        assert!(
            line.starts_with("vouch: not verified: ") && line.contains(reason),
            "{what}: expected {reason:?} in {line:?}"
        );
    }

    /// Exit code 2 (usage or I/O) and one line on standard error; returns it.
    pub fn error(&self, what: &str) -> String {
        assert_eq!(self.code, Some(2), "{what}: {}", self.stderr);
        self.stderr.trim().to_owned()
    }
}

/// `vouch ARGS`, without password variables but an empty VOUCH_PASSWORD (the tests' keys have
/// the empty password) and with nothing on standard input.
pub fn run<I, S>(args: I) -> Verdict
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = vouch()
        .args(args)
        .env_remove("COSIGN_PASSWORD")
        .env("VOUCH_PASSWORD", "")
        .stdin(Stdio::null())
        .output()
        .expect("run vouch");
    Verdict::of(out)
}

/// A new key pair `DIR/NAME.key`, `DIR/NAME.pub` of `kind` (`ecdsa-p256` or `ed25519`), empty
/// password.
pub fn key_pair(dir: &Path, name: &str, kind: &str) -> (PathBuf, PathBuf) {
    let prefix = dir.join(name);
    let v = run([
        OsStr::new("generate-key-pair"),
        OsStr::new("--kind"),
        OsStr::new(kind),
        OsStr::new("--output-key-prefix"),
        prefix.as_os_str(),
    ]);
    assert_eq!(v.code, Some(0), "generate-key-pair: {}", v.stderr);
    (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    )
}

/// The SHA-256 fingerprint vouch reports for a PEM public key, `sha256:HEX`.
pub fn fingerprint(public_pem: &Path) -> String {
    let text = std::fs::read_to_string(public_pem).expect("read the public key");
    let key = verify::keys::PublicKey::from_pem(&text).expect("a PEM public key");
    format!("sha256:{}", verify::keys::hex(&key.fingerprint()))
}

/// The in-toto statement in a bundle's DSSE envelope, as JSON.
pub fn statement(bundle: &Value) -> Value {
    let payload = bundle["dsseEnvelope"]["payload"]
        .as_str()
        .expect("a DSSE bundle");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .expect("base64 payload");
    serde_json::from_slice(&bytes).expect("a JSON statement")
}

pub fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// sigstore-js's verify-blob.js (`../shared/peers/sigstore-js`), installed by `.ci/install`.
pub fn sigstore_js() -> Command {
    let dir = repo().join(".peers/sigstore-js");
    assert!(
        dir.join("node_modules/@sigstore/verify").is_dir(),
        "sigstore-js is not installed in {}; run .ci/install",
        dir.display()
    );
    let mut cmd = Command::new(crate::common::tool("node"));
    cmd.arg(dir.join("verify-blob.js"));
    cmd
}
