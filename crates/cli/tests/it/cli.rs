//! The command line itself: exit codes, one-line errors, refusal to serve anonymously on a
//! public address, graceful shutdown.

use crate::common::*;

#[test]
fn usage_errors_exit_2() {
    let out = vouch()
        .args(["serve", "--addr", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = vouch().arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_config_is_one_line_and_exit_2() {
    let out = vouch()
        .args(["serve", "--config", "/nonexistent/vouch.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/vouch.toml"), "{err}");
}

#[test]
fn refuses_anonymous_on_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = vouch()
        .args(["serve", "--addr", "0.0.0.0:0", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without users"));
}

#[test]
fn sigterm_stops_gracefully() {
    let mut server = Server::start();
    let r = http("GET", server.addr, "/healthz", &[], b"");
    assert_eq!(r.status, 200);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(server.log().contains("stopped"));
}
