//! `vouch ledger` against a running `vouch serve`: every verb end to end, audits that pass on
//! growth and catch a fork and a rollback, SIGKILL under 32 concurrent submitters (nothing
//! acknowledged is lost or changed, every checkpoint seen stays consistent), and the offline
//! verifier locating a flipped bit anywhere in the ledger's five files.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger::{Entry, Event, EventType};
use verify::checkpoint::{Origin, SignedCheckpoint};
use verify::keys::{KeyKind, PrivateKey};
use verify::merkle::{self, Hash};
use verify::note;
use verify::time::Timestamp;

use crate::common::{Server, ServerOptions, http, vouch, write_file};

const ORIGIN: &str = "vouch-test.example/ledger";

/// A configuration with two CI submitters, allowed build.recorded: `ci` (an Ed25519 PKCS#8 key
/// held in the test too, to sign in process) and `release` (a cosign encrypted ECDSA key).
struct Fixture {
    dir: tempfile::TempDir,
    config: PathBuf,
    ci: PrivateKey,
    ci_key: PathBuf,
    release_key: PathBuf,
}

/// The password of the `release` key.
const PASSWORD: &str = "correct horse";

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        // Ed25519 signs deterministically: the same event is the same entry, bytes and all.
        let ci = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let ci_key = dir.path().join("ci.key");
        let ci_pub = dir.path().join("ci.pub");
        write_file(
            &ci_key,
            &verify::pem::encode("PRIVATE KEY", &ci.to_pkcs8_der().unwrap()),
        );
        write_file(&ci_pub, &ci.public_key().unwrap().to_pem());
        let prefix = dir.path().join("release");
        let out = vouch()
            .args(["generate-key-pair", "--output-key-prefix"])
            .arg(&prefix)
            .env("VOUCH_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config = dir.path().join("vouch.toml");
        write_file(
            &config,
            &format!(
                "[ledger]\norigin = \"{ORIGIN}\"\n\n\
                 [[ledger.submitters]]\nname = \"ci\"\nkey = \"{}\"\nevents = [\"build.recorded\"]\n\n\
                 [[ledger.submitters]]\nname = \"release\"\nkey = \"{}.pub\"\nevents = [\"build.recorded\"]\n",
                ci_pub.display(),
                prefix.display()
            ),
        );
        Fixture {
            config,
            ci,
            ci_key,
            release_key: prefix.with_extension("key"),
            dir,
        }
    }

    fn data(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn start(&self, data: &Path) -> Server {
        Server::start_with(ServerOptions {
            config: Some(self.config.clone()),
            data: Some(data.to_owned()),
            extra_args: Vec::new(),
        })
    }

    /// A build.recorded entry signed by `ci`, different for every `n`.
    fn build_entry(&self, n: u64) -> Vec<u8> {
        let digest = oci::Digest::compute(oci::Algorithm::Sha256, &n.to_be_bytes());
        let mut event = Event::new(
            EventType::BuildRecorded,
            Timestamp::from_unix(1_790_000_000 + n as i64),
            "ci-test",
        );
        event.subject.digest = Some(digest.clone());
        event.evidence.push(digest);
        event
            .details
            .insert("builder".into(), "https://ci.example/runner".into());
        Entry::sign(event, &self.ci).unwrap().into_bytes()
    }
}

fn url(server: &Server) -> String {
    format!("http://{}", server.addr)
}

/// `vouch ledger ARGS`.
fn ledger(args: &[&str]) -> Output {
    vouch()
        .arg("ledger")
        .args(args)
        .env("VOUCH_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The output of a run that must exit with `code`.
fn expect(out: Output, code: i32, what: &str) -> (String, String) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One request over a fresh connection; unlike `common::http`, a dead server is an error, not
/// a panic.
fn try_http(
    method: &str,
    addr: SocketAddr,
    target: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let broken = || std::io::Error::other("a broken response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(broken)?;
    let status = std::str::from_utf8(&raw[..split])
        .ok()
        .and_then(|h| h.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(broken)?;
    Ok((status, raw[split + 4..].to_vec()))
}

/// Submits an entry; the receipt's index and checkpoint note.
fn submit(addr: SocketAddr, entry: &[u8]) -> (u64, String) {
    let (status, body) = try_http("POST", addr, "/ledger/add", entry).unwrap();
    assert_eq!(status, 200, "{}", text(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    (
        v["index"].as_u64().unwrap(),
        v["checkpoint"].as_str().unwrap().to_owned(),
    )
}

/// Pushes a one-blob image (its config) to `repo:tag`; the manifest's digest. The registry
/// records it on the ledger as artifact.pushed, signed by the node's key.
fn push_image(addr: SocketAddr, repo: &str, tag: &str, n: u64) -> String {
    let config = format!("{{\"n\":{n}}}");
    let digest = oci::Digest::compute(oci::Algorithm::Sha256, config.as_bytes()).to_string();
    let r = http(
        "POST",
        addr,
        &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        config.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", text(&r.body));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest,
            "size": config.len(),
        },
        "layers": [],
    })
    .to_string();
    let r = http(
        "PUT",
        addr,
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        manifest.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", text(&r.body));
    oci::Digest::compute(oci::Algorithm::Sha256, manifest.as_bytes()).to_string()
}

/// The ledger's vkey, as `vouch ledger vkey` prints it, written to a file.
fn vkey_file(fx: &Fixture, data: &Path, name: &str) -> PathBuf {
    let (vkey, _) = expect(
        ledger(&["vkey", "--data", path(data)]),
        0,
        "vouch ledger vkey",
    );
    let file = fx.dir.path().join(name);
    write_file(&file, &vkey);
    file
}

/// The current checkpoint, verified, written to a file.
fn save_checkpoint(server: &Server, vkey: &Path, file: &Path) -> SignedCheckpoint {
    let (note, _) = expect(
        ledger(&["checkpoint", "--url", &url(server), "--vkey", path(vkey)]),
        0,
        "vouch ledger checkpoint",
    );
    write_file(file, &note);
    SignedCheckpoint::parse(note.as_bytes()).unwrap()
}

#[test]
fn ledger_verbs_work_end_to_end_against_vouch_serve() {
    let fx = Fixture::new();
    let data = fx.data("data");
    let server = fx.start(&data);
    let url = url(&server);
    let out_dir = fx.dir.path().join("out");

    // vkey from the data directory is what the server serves.
    let vkey = vkey_file(&fx, &data, "vkey");
    let served = http("GET", server.addr, "/ledger/vkey", &[], b"");
    assert_eq!(text(&served.body), std::fs::read_to_string(&vkey).unwrap());
    assert!(text(&served.body).starts_with(&format!("{ORIGIN}+")));

    // Registry pushes: artifact.pushed entries signed by the node.
    let digests: Vec<String> = (0..3)
        .map(|i| push_image(server.addr, "team/app", &format!("v{i}"), i))
        .collect();

    // The checkpoint verifies with the vkey (as a file or inline), and not with another key.
    let (note, err) = expect(
        ledger(&["checkpoint", "--url", &url, "--vkey", path(&vkey)]),
        0,
        "checkpoint --vkey",
    );
    assert!(err.contains("Verified OK"), "{err}");
    let checkpoint = SignedCheckpoint::parse(note.as_bytes()).unwrap();
    assert_eq!(checkpoint.checkpoint().size(), 3);
    let inline = std::fs::read_to_string(&vkey).unwrap();
    expect(
        ledger(&["checkpoint", "--url", &url, "--vkey", inline.trim()]),
        0,
        "checkpoint with an inline vkey",
    );
    let other = note::Signer::generate(ORIGIN).unwrap().vkey();
    let (out, err) = expect(
        ledger(&["checkpoint", "--url", &url, "--vkey", &other]),
        1,
        "checkpoint with another log's key",
    );
    assert!(
        out.is_empty(),
        "an unverified checkpoint is not printed: {out}"
    );
    assert!(err.contains("not verified"), "{err}");
    let (plain, _) = expect(ledger(&["checkpoint", "--url", &url]), 0, "checkpoint");
    assert_eq!(plain, note);

    // record: a CI build event, signed with a PKCS#8 key; the receipt proves it.
    let receipt = fx.dir.path().join("build.tlog-proof");
    let (index, err) = expect(
        ledger(&[
            "record",
            "--url",
            &url,
            "--key",
            path(&fx.ci_key),
            "--type",
            "build.recorded",
            "--digest",
            &digests[0],
            "--evidence",
            &digests[0],
            "--detail",
            "builder=https://ci.example/runner",
            "--actor",
            "ci@example",
            "--time",
            "2026-05-01T10:00:00+02:00",
            "--vkey",
            path(&vkey),
            "--output",
            path(&receipt),
        ]),
        0,
        "record",
    );
    assert_eq!(index.trim(), "3", "{err}");
    assert!(err.contains("(verified)"), "{err}");
    // An encrypted cosign key (its password from VOUCH_PASSWORD) records another build.
    let (index2, _) = expect(
        ledger(&[
            "record",
            "--url",
            &url,
            "--key",
            path(&fx.release_key),
            "--type",
            "build.recorded",
            "--digest",
            &digests[1],
            "--evidence",
            &digests[1],
            "--detail",
            "builder=https://release.example",
        ]),
        0,
        "record with an encrypted key",
    );
    assert_eq!(index2.trim(), "4");

    // get: the exact bytes the server stores, proven included with --vkey.
    let (entry, err) = expect(
        ledger(&["get", "3", "--url", &url, "--vkey", path(&vkey)]),
        0,
        "get --vkey",
    );
    let stored = http("GET", server.addr, "/ledger/entry/3", &[], b"");
    assert_eq!(entry.as_bytes(), [stored.body.as_slice(), b"\n"].concat());
    assert!(err.contains("Verified OK: entry 3"), "{err}");
    let e = Entry::parse(&stored.body).unwrap();
    assert_eq!(e.event.actor, "ci@example");
    assert_eq!(e.event.time.to_rfc3339(), "2026-05-01T08:00:00Z");
    assert_eq!(e.key, fx.ci.public_key().unwrap().fingerprint());
    expect(
        ledger(&["get", "3", "--url", &url, "--vkey", &other]),
        1,
        "get with another log's key",
    );
    expect(
        ledger(&["get", "99", "--url", &url]),
        2,
        "get beyond the log",
    );

    // verify-proof: the receipt proves the entry file (with get's final newline) ...
    let entry_file = fx.dir.path().join("3.json");
    write_file(&entry_file, &entry);
    let (line, err) = expect(
        ledger(&[
            "verify-proof",
            "--vkey",
            path(&vkey),
            "--proof",
            path(&receipt),
            path(&entry_file),
        ]),
        0,
        "verify-proof",
    );
    assert!(
        line.starts_with(&format!("3 build.recorded {}", digests[0])),
        "{line}"
    );
    assert!(err.contains("Verified OK"), "{err}");
    // ... and nothing else: a changed entry, another entry, another log's key.
    write_file(&entry_file, &entry.replace("ci@example", "ci@exampla"));
    expect(
        ledger(&[
            "verify-proof",
            "--vkey",
            path(&vkey),
            "--proof",
            path(&receipt),
            path(&entry_file),
        ]),
        1,
        "verify-proof of a changed entry",
    );
    let entry4 = fx.dir.path().join("4.json");
    std::fs::write(
        &entry4,
        http("GET", server.addr, "/ledger/entry/4", &[], b"").body,
    )
    .unwrap();
    expect(
        ledger(&[
            "verify-proof",
            "--vkey",
            path(&vkey),
            "--proof",
            path(&receipt),
            path(&entry4),
        ]),
        1,
        "verify-proof of another entry",
    );
    write_file(&entry_file, &entry);
    expect(
        ledger(&[
            "verify-proof",
            "--vkey",
            &other,
            "--proof",
            path(&receipt),
            path(&entry_file),
        ]),
        1,
        "verify-proof with another log's key",
    );

    // prove: every entry about the first image, each with its proof, written for offline use.
    let (lines, err) = expect(
        ledger(&[
            "prove",
            "--digest",
            &digests[0],
            "--url",
            &url,
            "--vkey",
            path(&vkey),
            "--output-dir",
            path(&out_dir),
        ]),
        0,
        "prove",
    );
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("0 artifact.pushed team/app@{} ", digests[0])),
        "{lines:?}"
    );
    assert!(lines[0].ends_with(" anonymous"), "{lines:?}");
    assert!(
        lines[1].starts_with(&format!(
            "3 build.recorded {} 2026-05-01T08:00:00Z ci@example",
            digests[0]
        )),
        "{lines:?}"
    );
    assert!(err.contains("(verified)"), "{err}");
    for index in [0, 3] {
        let json = out_dir.join(format!("{index}.json"));
        let proof = out_dir.join(format!("{index}.tlog-proof"));
        expect(
            ledger(&[
                "verify-proof",
                "--vkey",
                path(&vkey),
                "--proof",
                path(&proof),
                path(&json),
            ]),
            0,
            "verify-proof of prove's files",
        );
    }
    // The config digest names the entry too; an unknown digest names none.
    let config_digest = Entry::parse(&http("GET", server.addr, "/ledger/entry/1", &[], b"").body)
        .unwrap()
        .event
        .subject
        .config
        .unwrap()
        .to_string();
    let (lines, _) = expect(
        ledger(&["prove", "--digest", &config_digest, "--url", &url]),
        0,
        "prove by config digest",
    );
    assert!(lines.starts_with("1 artifact.pushed team/app@"), "{lines}");
    let nothing = format!("sha256:{}", "0".repeat(64));
    let (_, err) = expect(
        ledger(&["prove", "--digest", &nothing, "--url", &url]),
        1,
        "prove of an unknown digest",
    );
    assert!(err.contains("no entry about"), "{err}");

    // Rejections carry the server's code and reason, exit code 1.
    let (_, err) = expect(
        ledger(&[
            "record",
            "--url",
            &url,
            "--key",
            path(&fx.ci_key),
            "--type",
            "artifact.pushed",
            "--digest",
            &digests[2],
            "--repository",
            "team/app",
        ]),
        1,
        "record of an event type the key may not record",
    );
    assert!(err.contains("rejected: NOT_AUTHORIZED"), "{err}");
    let stranger = fx.dir.path().join("stranger.key");
    let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    write_file(
        &stranger,
        &verify::pem::encode("PRIVATE KEY", &key.to_pkcs8_der().unwrap()),
    );
    let (_, err) = expect(
        ledger(&[
            "record",
            "--url",
            &url,
            "--key",
            path(&stranger),
            "--type",
            "build.recorded",
            "--digest",
            &digests[2],
            "--evidence",
            &digests[2],
            "--detail",
            "builder=x",
        ]),
        1,
        "record with an unknown key",
    );
    assert!(err.contains("rejected: UNKNOWN_KEY"), "{err}");

    // Usage errors: exit code 2 and one line.
    let (url, ci_key, d0) = (url.as_str(), path(&fx.ci_key), digests[0].as_str());
    for (args, want) in [
        (
            vec![
                "record",
                "--url",
                url,
                "--key",
                ci_key,
                "--type",
                "build.bought",
                "--digest",
                d0,
            ],
            "is not an event type",
        ),
        (
            vec![
                "record",
                "--url",
                url,
                "--key",
                ci_key,
                "--type",
                "build.recorded",
                "--digest",
                d0,
            ],
            "the event is not valid",
        ),
        (
            vec!["checkpoint", "--url", "http://192.0.2.1:5000"],
            "only to a loopback address",
        ),
        (
            vec!["checkpoint", "--url", "ftp://localhost/"],
            "not an http",
        ),
        (
            vec!["checkpoint", "--url", url, "--vkey", "nonsense"],
            "not a C2SP verifier key",
        ),
        (
            vec!["prove", "--digest", "sha256:zz", "--url", url],
            "is not a digest",
        ),
    ] {
        let (_, err) = expect(ledger(&args), 2, &format!("{args:?}"));
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }

    // Offline, the whole ledger verifies, every signature checked with the config's keys.
    let (summary, _) = expect(
        ledger(&[
            "verify",
            "--data",
            path(&data),
            "--config",
            path(&fx.config),
        ]),
        0,
        "verify",
    );
    assert!(summary.contains("entries: 5, checkpoints: 6"), "{summary}");
    assert!(
        summary.contains(
            "signatures verified: 5 (ci 1, node.key 3, release 1); signed by keys not given: 0"
        ),
        "{summary}"
    );
    // Without the config, the submitters' entries are counted, not checked.
    let (summary, _) = expect(
        ledger(&["verify", "--data", path(&data)]),
        0,
        "verify without the config",
    );
    assert!(summary.contains("signed by keys not given: 2"), "{summary}");

    // vkey refuses a log.key that is not the vkey's key.
    let elsewhere = fx.data("elsewhere");
    std::fs::create_dir_all(elsewhere.join("ledger")).unwrap();
    std::fs::copy(&vkey, elsewhere.join("ledger/vkey")).unwrap();
    let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    write_file(
        &elsewhere.join("ledger/log.key"),
        &verify::pem::encode("PRIVATE KEY", &key.to_pkcs8_der().unwrap()),
    );
    let (out, err) = expect(
        ledger(&["vkey", "--data", path(&elsewhere)]),
        1,
        "vkey with another log.key",
    );
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("not of the vkey"), "{err}");
}

#[test]
fn ledger_audit_accepts_growth_and_detects_a_fork_and_a_rollback() {
    let fx = Fixture::new();
    let (data_a, data_b) = (fx.data("a"), fx.data("b"));
    let mut a = fx.start(&data_a);
    let vkey = vkey_file(&fx, &data_a, "vkey");
    for n in 0..3 {
        submit(a.addr, &fx.build_entry(n));
    }
    let cp = fx.dir.path().join("cp");
    save_checkpoint(&a, &vkey, &cp);
    let audit = |server: &Server, from: &Path, save: bool| {
        let url = url(server);
        let mut args = vec![
            "audit",
            "--url",
            &url,
            "--from",
            path(from),
            "--vkey",
            path(&vkey),
        ];
        if save {
            args.push("--save");
        }
        ledger(&args)
    };

    // Growth is consistent, from the tiles; --save moves the checkpoint file on.
    for n in 3..300 {
        submit(a.addr, &fx.build_entry(n));
    }
    let (out, _) = expect(audit(&a, &cp, true), 0, "audit after growth");
    assert!(out.contains("grew from size 3 to 300"), "{out}");
    let saved = SignedCheckpoint::parse(&std::fs::read(&cp).unwrap()).unwrap();
    assert_eq!(saved.checkpoint().size(), 300);
    let (out, _) = expect(audit(&a, &cp, false), 0, "audit without growth");
    assert!(out.contains("grew from size 300 to 300"), "{out}");
    // The empty tree is a prefix of every tree.
    // (The log's first record is the empty tree's checkpoint.)
    let empty = fx.dir.path().join("empty");
    let log = std::fs::read(data_a.join("ledger/log")).unwrap();
    let len = u32::from_be_bytes(log[17..21].try_into().unwrap()) as usize;
    std::fs::write(&empty, &log[21..21 + len]).unwrap();
    let (out, _) = expect(audit(&a, &empty, false), 0, "audit from the empty tree");
    assert!(out.contains("grew from size 0 to 300"), "{out}");

    // A fork: a copy of the ledger (same keys, same first 300 entries) takes other entries.
    assert!(a.terminate().success());
    std::fs::create_dir_all(data_b.join("ledger")).unwrap();
    for file in std::fs::read_dir(data_a.join("ledger")).unwrap() {
        let file = file.unwrap();
        std::fs::copy(file.path(), data_b.join("ledger").join(file.file_name())).unwrap();
    }
    let a = fx.start(&data_a);
    let b = fx.start(&data_b);
    submit(a.addr, &fx.build_entry(1000));
    submit(b.addr, &fx.build_entry(2000));
    let cp_a = fx.dir.path().join("cp-a");
    save_checkpoint(&a, &vkey, &cp_a);
    // Same size, other root.
    let (_, err) = expect(
        audit(&b, &cp_a, false),
        1,
        "audit of the fork at the same size",
    );
    assert!(err.contains("fork"), "{err}");
    // Larger, with another history.
    for n in 2001..2004 {
        submit(b.addr, &fx.build_entry(n));
    }
    let before = std::fs::read(&cp_a).unwrap();
    let (_, err) = expect(audit(&b, &cp_a, true), 1, "audit of the grown fork");
    assert!(err.contains("fork"), "{err}");
    assert_eq!(
        std::fs::read(&cp_a).unwrap(),
        before,
        "a failed audit saves nothing"
    );
    // A rollback: the log shows a smaller tree than one it signed before.
    let cp_b = fx.dir.path().join("cp-b");
    save_checkpoint(&b, &vkey, &cp_b);
    let (_, err) = expect(audit(&a, &cp_b, false), 1, "audit of a rollback");
    assert!(err.contains("rollback"), "{err}");
    // Both histories are consistent with their common prefix.
    expect(audit(&a, &cp, false), 0, "a from the common prefix");
    expect(audit(&b, &cp, false), 0, "b from the common prefix");
    // A checkpoint signed by another key is refused before any tile is fetched.
    let other = note::Signer::generate(ORIGIN).unwrap();
    let forged = SignedCheckpoint::sign(saved.checkpoint().clone(), &other).unwrap();
    let forged_file = fx.dir.path().join("forged");
    write_file(&forged_file, &forged.to_string());
    let (_, err) = expect(
        audit(&a, &forged_file, false),
        1,
        "audit from a forged checkpoint",
    );
    assert!(err.contains("the checkpoint in"), "{err}");
}

/// Reads every entry of the log's first `size` through the entry bundles.
fn all_entries(addr: SocketAddr, size: u64) -> Vec<Vec<u8>> {
    let mut entries = Vec::new();
    let mut index = 0;
    while (entries.len() as u64) < size {
        let width = (size - index * 256).min(256) as u16;
        let tile =
            ledger::tiles::TilePath::new(ledger::tiles::TileKind::Entries, index, width).unwrap();
        let (status, body) = try_http("GET", addr, &format!("/ledger/{tile}"), b"").unwrap();
        assert_eq!(status, 200, "{tile}: {}", text(&body));
        let bundle = ledger::tiles::parse_bundle(&body).unwrap();
        assert_eq!(bundle.len(), usize::from(width));
        entries.extend(bundle.into_iter().map(<[u8]>::to_vec));
        index += 1;
    }
    entries
}

/// Acknowledged entries: index and bytes.
type Acked = Vec<(u64, Vec<u8>)>;

#[test]
fn ledger_kill9_under_32_concurrent_submitters_loses_nothing_acknowledged() {
    let fx = Arc::new(Fixture::new());
    let data = fx.data("data");
    let vkey = {
        let server = fx.start(&data);
        drop(server);
        vkey_file(&fx, &data, "vkey")
    };
    let log = note::Verifier::from_vkey(std::fs::read_to_string(&vkey).unwrap().trim()).unwrap();
    let origin = Origin::Exact(ORIGIN.into());
    // Every acknowledged entry (index, bytes), and every checkpoint note a receipt carried.
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let next = Arc::new(AtomicU64::new(0));
    let mut acked_before = 0;
    for round in 0..4u64 {
        let mut server = fx.start(&data);
        let stop = Arc::new(AtomicBool::new(false));
        let submitters: Vec<_> = (0..32)
            .map(|_| {
                let (fx, acked, seen, next, stop) = (
                    Arc::clone(&fx),
                    Arc::clone(&acked),
                    Arc::clone(&seen),
                    Arc::clone(&next),
                    Arc::clone(&stop),
                );
                let addr = server.addr;
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        // Now and then an entry already sent: acknowledged as a duplicate.
                        let n = if n % 50 == 49 { n - 30 } else { n };
                        let entry = fx.build_entry(n);
                        let Ok((status, body)) = try_http("POST", addr, "/ledger/add", &entry)
                        else {
                            continue;
                        };
                        if status != 200 {
                            continue;
                        }
                        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        acked
                            .lock()
                            .unwrap()
                            .push((v["index"].as_u64().unwrap(), entry));
                        seen.lock()
                            .unwrap()
                            .push(v["checkpoint"].as_str().unwrap().to_owned());
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400 + 150 * round));
        server.kill9();
        stop.store(true, Ordering::SeqCst);
        for s in submitters {
            s.join().unwrap();
        }
        // Offline, right after the crash: intact (an unfinished batch is a note, not damage).
        let (out, _) = expect(
            ledger(&[
                "verify",
                "--data",
                path(&data),
                "--config",
                path(&fx.config),
            ]),
            0,
            "verify after kill -9",
        );
        assert!(!out.contains("damaged"), "{out}");

        let server = fx.start(&data);
        let current = SignedCheckpoint::parse(
            &try_http("GET", server.addr, "/ledger/checkpoint", b"")
                .unwrap()
                .1,
        )
        .unwrap();
        let current = current.verify(&origin, &log, &[]).unwrap();
        let size = current.checkpoint().size();
        let entries = all_entries(server.addr, size);
        let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
        assert_eq!(merkle::root(&leaves), *current.checkpoint().root());
        // Every acknowledged entry is at its index, byte for byte.
        let acked = acked.lock().unwrap();
        assert!(
            acked.len() > acked_before + 50,
            "round {round}: only {} acknowledged",
            acked.len() - acked_before
        );
        acked_before = acked.len();
        for (index, bytes) in acked.iter() {
            assert!(
                *index < size,
                "entry {index} acknowledged, the log has {size}"
            );
            assert_eq!(&entries[*index as usize], bytes, "entry {index}");
        }
        // Every checkpoint seen verifies and is a prefix of the current tree.
        let mut seen = seen.lock().unwrap();
        seen.sort();
        seen.dedup();
        let mut largest: Option<&String> = None;
        for note in seen.iter() {
            let c = SignedCheckpoint::parse(note.as_bytes()).unwrap();
            let c = c.verify(&origin, &log, &[]).unwrap();
            let s = c.checkpoint().size();
            assert!(s <= size, "checkpoint of size {s} seen, the log has {size}");
            let proof = merkle::consistency_proof(s, size, &mut merkle::LeafHashes(&leaves));
            if s > 0 {
                current
                    .verify_consistency_from(c.checkpoint(), &proof.unwrap())
                    .unwrap_or_else(|e| panic!("checkpoint of size {s}: {e}"));
            }
            if largest.is_none_or(|l| {
                SignedCheckpoint::parse(l.as_bytes())
                    .unwrap()
                    .checkpoint()
                    .size()
                    < s
            }) {
                largest = Some(note);
            }
        }
        // The CLI agrees: the largest checkpoint seen audits, and a few entries prove.
        let from = fx.dir.path().join("largest-seen");
        write_file(&from, largest.expect("checkpoints were seen"));
        expect(
            ledger(&[
                "audit",
                "--url",
                &url(&server),
                "--from",
                path(&from),
                "--vkey",
                path(&vkey),
            ]),
            0,
            "audit after restart",
        );
        for (index, bytes) in [acked.first(), acked.last()].into_iter().flatten() {
            let (got, _) = expect(
                ledger(&[
                    "get",
                    &index.to_string(),
                    "--url",
                    &url(&server),
                    "--vkey",
                    path(&vkey),
                ]),
                0,
                "get after restart",
            );
            assert_eq!(got.as_bytes(), [bytes.as_slice(), b"\n"].concat());
        }
    }
    let (out, _) = expect(
        ledger(&[
            "verify",
            "--data",
            path(&data),
            "--config",
            path(&fx.config),
        ]),
        0,
        "verify at the end",
    );
    assert!(!out.contains("damaged"), "{out}");
}

/// The records of a log: (offset, end, tag).
fn records(log: &[u8]) -> Vec<(usize, usize, u8)> {
    let mut out = Vec::new();
    let mut at = 16;
    while at < log.len() {
        let len = u32::from_be_bytes(log[at + 1..at + 5].try_into().unwrap()) as usize;
        out.push((at, at + 37 + len, log[at]));
        at += 37 + len;
    }
    out
}

/// Flips one bit of `file` in a copy of the ledger at `pristine` and runs `vouch ledger
/// verify` on it; `None` if it exits 1 blaming only `file` (in the log, the record at `want`).
fn check_flip(
    pristine: &Path,
    config: &Path,
    scratch: &Path,
    file: &str,
    pos: usize,
    bit: u8,
    want: Option<usize>,
) -> Option<String> {
    let copy = scratch.join("ledger");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).unwrap();
    for name in ["log", "checkpoint", "log.key", "node.key", "vkey"] {
        let mut bytes = std::fs::read(pristine.join(name)).unwrap();
        if name == file {
            bytes[pos] ^= 1 << bit;
        }
        std::fs::write(copy.join(name), bytes).unwrap();
    }
    let out = ledger(&["verify", "--data", path(scratch), "--config", path(config)]);
    let stdout = text(&out.stdout);
    let problems: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("damaged: "))
        .collect();
    let (blamed, located) = match want {
        Some(offset) => (
            problems.iter().all(|p| p.starts_with("log byte ")),
            problems
                .iter()
                .any(|p| p.starts_with(&format!("log byte {offset}:"))),
        ),
        None => {
            let prefix = format!("{file}: ");
            (
                problems.iter().all(|p| p.starts_with(&prefix)),
                !problems.is_empty(),
            )
        }
    };
    if out.status.code() == Some(1) && blamed && located {
        return None;
    }
    Some(format!(
        "{file} byte {pos} bit {bit} (want {}): exit {:?}: {problems:?}",
        want.map_or_else(|| file.to_owned(), |o| format!("log byte {o}")),
        out.status.code()
    ))
}

#[test]
fn ledger_verify_locates_every_flipped_bit_and_serve_refuses_a_damaged_log() {
    let fx = Arc::new(Fixture::new());
    let data = fx.data("data");
    let mut server = fx.start(&data);
    // A dozen entries: images pushed (signed by node.key), builds recorded by CI, some of them
    // at once so that batches hold several entries.
    for i in 0..4 {
        push_image(server.addr, "team/app", &format!("v{i}"), i);
    }
    for n in 0..2 {
        submit(server.addr, &fx.build_entry(n));
    }
    let addr = server.addr;
    std::thread::scope(|s| {
        for n in 10..16 {
            let fx = &fx;
            s.spawn(move || submit(addr, &fx.build_entry(n)));
        }
    });
    assert!(server.terminate().success());
    let pristine = data.join("ledger");
    let (out, _) = expect(
        ledger(&[
            "verify",
            "--data",
            path(&data),
            "--config",
            path(&fx.config),
        ]),
        0,
        "the pristine ledger",
    );
    assert!(out.contains("entries: 12,"), "{out}");
    let log = std::fs::read(pristine.join("log")).unwrap();
    let records = records(&log);

    // What a crash leaves is not damage: an unfinished batch after the last checkpoint (cut
    // mid-record or whole), a checkpoint file not yet rewritten. Losing a committed batch is.
    let scratch = fx.data("crash");
    let crashed = |log: &[u8], checkpoint: Option<&[u8]>| {
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(scratch.join("ledger")).unwrap();
        for name in ["checkpoint", "log.key", "node.key", "vkey"] {
            std::fs::copy(pristine.join(name), scratch.join("ledger").join(name)).unwrap();
        }
        std::fs::write(scratch.join("ledger/log"), log).unwrap();
        if let Some(c) = checkpoint {
            std::fs::write(scratch.join("ledger/checkpoint"), c).unwrap();
        }
        ledger(&[
            "verify",
            "--data",
            path(&scratch),
            "--config",
            path(&fx.config),
        ])
    };
    let entry = fx.build_entry(99);
    let mut record = Vec::new();
    ledger::store::encode_entry(&mut record, &entry, &merkle::leaf_hash(&entry));
    for cut in [record.len() / 2, record.len()] {
        let (out, _) = expect(
            crashed(&[log.as_slice(), &record[..cut]].concat(), None),
            0,
            "an unfinished batch",
        );
        assert!(
            out.contains(&format!("note: log byte {}: ", log.len()))
                && out.contains("unfinished batch"),
            "{out}"
        );
    }
    // The checkpoint before the last one, and the end of its record.
    let checkpoints: Vec<_> = records.iter().filter(|r| r.2 == b'c').collect();
    let earlier = checkpoints[checkpoints.len() - 2];
    let end = earlier.1;
    let note = &log[earlier.0 + 5..earlier.1 - 32];
    let (out, _) = expect(
        crashed(&log, Some(&ledger::store::encode_checkpoint_file(note))),
        0,
        "a checkpoint file behind the log",
    );
    assert!(
        out.contains("note: the checkpoint file is at size"),
        "{out}"
    );
    let (out, _) = expect(crashed(&log[..end], None), 1, "a lost batch");
    assert!(
        out.contains(&format!("damaged: log byte {end}: ")) && out.contains("were acknowledged"),
        "{out}"
    );

    // Every position of the small files, one bit each (a different one from byte to byte);
    // in the log, every byte of the header and of every record's tag and length (the low
    // length byte with every bit), both ends of every record's hash, and every fifth byte
    // of the payloads.
    let mut cases: Vec<(&str, usize, u8, Option<usize>)> = Vec::new();
    for (k, file) in ["vkey", "log.key", "node.key", "checkpoint"]
        .into_iter()
        .enumerate()
    {
        let len = std::fs::metadata(pristine.join(file)).unwrap().len() as usize;
        for pos in 0..len {
            cases.push((file, pos, ((pos * 3 + k) % 8) as u8, None));
        }
    }
    for pos in 0..16 {
        cases.push(("log", pos, (pos % 8) as u8, Some(0)));
    }
    for &(start, end, _) in &records {
        for pos in start..start + 4 {
            cases.push(("log", pos, ((pos * 3) % 8) as u8, Some(start)));
        }
        for bit in 0..8 {
            cases.push(("log", start + 4, bit, Some(start)));
        }
        for pos in [end - 32, end - 1] {
            cases.push(("log", pos, ((pos * 3) % 8) as u8, Some(start)));
        }
        for pos in (start + 5..end - 32).step_by(5) {
            cases.push(("log", pos, ((pos * 7) % 8) as u8, Some(start)));
        }
    }
    let started = Instant::now();
    let cases = Arc::new(Mutex::new(cases));
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let total = cases.lock().unwrap().len();
    std::thread::scope(|s| {
        for w in 0..4 {
            let (cases, failures, pristine, fx) = (&cases, &failures, &pristine, &fx);
            s.spawn(move || {
                let scratch = fx.dir.path().join(format!("flip-{w}"));
                loop {
                    let Some((file, pos, bit, want)) = cases.lock().unwrap().pop() else {
                        break;
                    };
                    if let Some(f) =
                        check_flip(pristine, &fx.config, &scratch, file, pos, bit, want)
                    {
                        failures.lock().unwrap().push(f);
                    }
                }
            });
        }
    });
    // vouch serve refuses a damaged log rather than cutting acknowledged entries off.
    let last = records.len() - 1;
    let (mid_start, mid_end, _) = records[records.len() / 2];
    for (what, pos, bit) in [
        ("an entry's byte", (mid_start + mid_end) / 2, 0u8),
        ("the last checkpoint's hash", records[last].1 - 1, 3),
        ("the last checkpoint's length", records[last].0 + 4, 1),
        ("the last entry's length", records[last - 1].0 + 4, 1),
    ] {
        let copy = fx.data(&format!("refused-{pos}-{bit}"));
        std::fs::create_dir_all(copy.join("ledger")).unwrap();
        for name in ["log", "checkpoint", "log.key", "node.key", "vkey"] {
            std::fs::copy(pristine.join(name), copy.join("ledger").join(name)).unwrap();
        }
        let mut damaged = log.clone();
        damaged[pos] ^= 1 << bit;
        std::fs::write(copy.join("ledger/log"), &damaged).unwrap();
        let out = serve_until_exit(&copy, &fx.config);
        assert!(!out.status.success(), "{what}: vouch serve started");
        let err = text(&out.stderr);
        assert!(err.contains("damaged"), "{what}: {err}");
        assert_eq!(
            std::fs::read(copy.join("ledger/log")).unwrap(),
            damaged,
            "{what}: the log was changed"
        );
    }

    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} flipped bits not detected and located ({:?}):\n{}",
        failures.len(),
        started.elapsed(),
        failures.join("\n")
    );
}

/// Runs `vouch serve` on `data`, which must exit by itself within 30 s.
fn serve_until_exit(data: &Path, config: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data",
            path(data),
            "--config",
            path(config),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("vouch serve kept running:\n{}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
