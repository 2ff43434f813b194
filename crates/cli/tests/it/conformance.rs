//! The Sigstore bundle-verification conformance cases (70 bundles: 21 must verify, 49 must
//! fail), run by ../shared/peers/sigstore-conformance.sh against `vouch verify-blob`, exactly as
//! a user would run it.

use std::path::PathBuf;
use std::process::Command;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

#[test]
fn every_conformance_case_gives_the_expected_verdict() {
    let script = shared().join("peers/sigstore-conformance.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_vouch"))
        .arg("verify-blob")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        "70 passed, 0 failed",
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
}
