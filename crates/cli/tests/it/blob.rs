//! The signing verbs as a command line: `sign-blob`, `attest-blob` and
//! `verify-blob-attestation` exit codes (0 verified, 1 not verified with one line saying why,
//! 2 usage and I/O), cosign's `--type` shortcuts, provenance checks end to end from
//! `vouch provenance generate`, encrypted keys, and bundles replaced atomically.

use std::ffi::OsString;
use std::path::Path;

use crate::signing::{key_pair, read_json, run, statement};

fn os<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_os_string()).collect()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[test]
fn cosign_type_shortcuts_name_the_predicate_type() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (key, public) = key_pair(dir, "k", "ecdsa-p256");
    let file = dir.join("sbom-subject.bin");
    write(&file, b"artifact");
    let predicate = dir.join("predicate.json");
    write(&predicate, br#"{"any":"json object"}"#);
    // cosign's map (cmd/cosign/cli/options/predicate.go), and URIs as they are.
    let table = [
        ("custom", "https://cosign.sigstore.dev/attestation/v1"),
        ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
        ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
        ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
        ("spdx", "https://spdx.dev/Document"),
        ("spdxjson", "https://spdx.dev/Document"),
        ("cyclonedx", "https://cyclonedx.org/bom"),
        ("link", "https://in-toto.io/Link/v1"),
        ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
        ("openvex", "https://openvex.dev/ns"),
        (
            "https://example.com/predicate/v1",
            "https://example.com/predicate/v1",
        ),
    ];
    for (shortcut, uri) in table {
        let bundle = dir.join(format!("{}.json", shortcut.replace(['/', ':'], "_")));
        let v = run(os(&[
            "attest-blob",
            "--key",
            &path(&key),
            "--predicate",
            &path(&predicate),
            "--type",
            shortcut,
            "--bundle",
            &path(&bundle),
            &path(&file),
        ]));
        assert_eq!(v.code, Some(0), "{shortcut}: {}", v.stderr);
        let st = statement(&read_json(&bundle));
        assert_eq!(st["predicateType"], uri, "{shortcut}");
        assert_eq!(st["predicate"], serde_json::json!({"any": "json object"}));
        // The same shortcut, or the URI itself, is what verification asks for.
        for want in [shortcut, uri] {
            run(os(&[
                "verify-blob-attestation",
                "--output",
                "json",
                "--key",
                &path(&public),
                "--bundle",
                &path(&bundle),
                "--type",
                want,
                &path(&file),
            ]))
            .verified(&format!("{shortcut} as {want}"));
        }
    }
    // A type that is neither: a usage error, before any key is read.
    let v = run(os(&[
        "attest-blob",
        "--key",
        "/nonexistent.key",
        "--predicate",
        &path(&predicate),
        "--type",
        "slsa",
        "--bundle",
        &path(&dir.join("x.json")),
        &path(&file),
    ]));
    assert!(
        v.error("--type slsa")
            .contains("--type \"slsa\" is neither a URI nor one of custom, slsaprovenance")
    );
}

#[test]
fn provenance_from_vouch_verifies_against_builder_and_source() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (key, public) = key_pair(dir, "ci", "ecdsa-p256");
    let file = dir.join("app");
    write(&file, b"the built binary");
    let predicate = dir.join("provenance.json");
    let v = run(os(&[
        "provenance",
        "generate",
        "--builder-id",
        "https://ci.example.com/builders/linux@v2",
        "--build-type",
        "https://ci.example.com/buildtypes/make/v1",
        "--source-uri",
        "git+https://git.example.com/org/app@refs/tags/v1.0.0",
        "--source-digest",
        "gitCommit:0123456789abcdef0123456789abcdef01234567",
        "--output",
        &path(&predicate),
    ]));
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    let bundle = dir.join("app.intoto.json");
    let v = run(os(&[
        "attest-blob",
        "--key",
        &path(&key),
        "--predicate",
        &path(&predicate),
        "--type",
        "slsaprovenance1",
        "--bundle",
        &path(&bundle),
        &path(&file),
    ]));
    assert_eq!(v.code, Some(0), "{}", v.stderr);

    let verify = |flags: &[&str], artifact: &[&str]| {
        let mut args = os(&[
            "verify-blob-attestation",
            "--output",
            "json",
            "--key",
            &path(&public),
            "--bundle",
            &path(&bundle),
        ]);
        args.extend(os(flags));
        args.extend(os(artifact));
        run(args)
    };
    let file_arg = [path(&file)];
    let file_arg: Vec<&str> = file_arg.iter().map(String::as_str).collect();
    let builder = ["--builder-id", "https://ci.example.com/builders/linux@v2"];
    let source = ["--source-uri", "git.example.com/org/app"];
    let both = [&builder[..], &source[..]].concat();

    let report = verify(&both, &file_arg);
    let report = report.verified("provenance");
    assert_eq!(report["provenance"]["subject"], "app");
    assert_eq!(
        report["provenance"]["sourceUri"],
        "git+https://git.example.com/org/app@refs/tags/v1.0.0"
    );
    assert_eq!(
        report["provenance"]["sourceDigest"]["gitCommit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    // By digest instead of the file.
    let digest = oci::Digest::compute(oci::Algorithm::Sha256, b"the built binary").to_string();
    verify(&both, &["--digest", &digest]).verified("provenance by digest");

    // Another builder, another source: examined and refused.
    verify(
        &[
            "--builder-id",
            "https://ci.example.com/builders/windows",
            "--source-uri",
            "git.example.com/org/app",
        ],
        &file_arg,
    )
    .denied(
        "another builder",
        "provenance: the provenance's builder is \"https://ci.example.com/builders/linux@v2\"",
    );
    verify(
        &[
            &builder[..],
            &["--source-uri", "git.example.com/org/fork"][..],
        ]
        .concat(),
        &file_arg,
    )
    .denied("another source", "provenance: the provenance's source");
    // A statement that is not provenance fails the provenance checks.
    let sbom = dir.join("sbom.json");
    let sbom_predicate = dir.join("sbom-predicate.json");
    write(&sbom_predicate, br#"{"spdxVersion":"SPDX-2.3"}"#);
    let v = run(os(&[
        "attest-blob",
        "--key",
        &path(&key),
        "--predicate",
        &path(&sbom_predicate),
        "--type",
        "spdxjson",
        "--bundle",
        &path(&sbom),
        &path(&file),
    ]));
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    let mut args = os(&[
        "verify-blob-attestation",
        "--key",
        &path(&public),
        "--bundle",
        &path(&sbom),
    ]);
    args.extend(os(&both));
    args.push(file.clone().into_os_string());
    run(args).denied(
        "an SBOM as provenance",
        "predicate type \"https://spdx.dev/Document\" is not SLSA provenance",
    );
    // The wrong --type, and a message signature where an attestation is expected.
    verify(&["--type", "slsaprovenance02"], &file_arg).denied(
        "wrong type",
        "the statement's predicate type is \"https://slsa.dev/provenance/v1\", not \"https://slsa.dev/provenance/v0.2\"",
    );
    let signed = dir.join("app.sig.json");
    let v = run(os(&[
        "sign-blob",
        "--key",
        &path(&key),
        "--bundle",
        &path(&signed),
        &path(&file),
    ]));
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    run(os(&[
        "verify-blob-attestation",
        "--key",
        &path(&public),
        "--bundle",
        &path(&signed),
        &path(&file),
    ]))
    .denied(
        "a message signature",
        "the bundle holds a message signature, not an attestation",
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (key, public) = key_pair(dir, "k", "ecdsa-p256");
    let file = dir.join("f");
    write(&file, b"x");
    let bundle = dir.join("f.json");
    let v = run(os(&[
        "attest-blob",
        "--key",
        &path(&key),
        "--predicate",
        &path(&file),
        "--type",
        "custom",
        "--bundle",
        &path(&bundle),
        &path(&file),
    ]));
    assert!(v.error("predicate not JSON").contains("is not JSON"));
    let list = dir.join("list.json");
    write(&list, b"[1,2]");
    let v = run(os(&[
        "attest-blob",
        "--key",
        &path(&key),
        "--predicate",
        &path(&list),
        "--type",
        "custom",
        "--bundle",
        &path(&bundle),
        &path(&file),
    ]));
    assert!(
        v.error("predicate not an object")
            .contains("is not a JSON object")
    );
    let v = run(os(&[
        "sign-blob",
        "--key",
        &path(&key),
        "--bundle",
        &path(&bundle),
        "/nonexistent/file",
    ]));
    assert!(v.error("missing file").contains("/nonexistent/file"));
    assert!(!bundle.exists(), "nothing is written when signing fails");

    let v = run(os(&[
        "sign-blob",
        "--key",
        &path(&key),
        "--bundle",
        &path(&bundle),
        &path(&file),
    ]));
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    let verify = |args: &[&str]| {
        let mut all = os(&[
            "verify-blob-attestation",
            "--key",
            &path(&public),
            "--bundle",
            &path(&bundle),
        ]);
        all.extend(os(args));
        run(all)
    };
    // clap's usage errors: flags that go together, an artifact given twice or not at all.
    verify(&["--builder-id", "https://b", &path(&file)]).error("--builder-id alone");
    verify(&["--source-uri", "github.com/o/r", &path(&file)]).error("--source-uri alone");
    verify(&["--digest", "sha256:00", &path(&file)]).error("--digest and FILE");
    verify(&[]).error("no artifact");
    // Our own: malformed values, refused before anything is verified.
    let v = verify(&["--digest", "sha256:abc"]);
    assert!(v.error("short digest").contains("--digest \"sha256:abc\""));
    let v = verify(&["--digest", "md5:d41d8cd98f00b204e9800998ecf8427e"]);
    v.error("md5 digest");
    let v = verify(&["--type", "not a type", &path(&file)]);
    assert!(v.error("bad type").contains("--type \"not a type\""));
    let v = verify(&[
        "--builder-id",
        "a@b@c",
        "--source-uri",
        "github.com/o/r",
        &path(&file),
    ]);
    assert!(v.error("bad builder id").contains("--builder-id"));
    let v = verify(&[
        "--builder-id",
        "https://b",
        "--source-uri",
        "http://github.com/o/r",
        &path(&file),
    ]);
    assert!(v.error("http source").contains("--source-uri"));
    // The same checks in verify-blob: --digest instead of the file.
    let digest = oci::Digest::compute(oci::Algorithm::Sha256, b"x").to_string();
    run(os(&[
        "verify-blob",
        "--output",
        "json",
        "--key",
        &path(&public),
        "--bundle",
        &path(&bundle),
        "--digest",
        &digest,
    ]))
    .verified("verify-blob --digest");
}

#[test]
fn encrypted_keys_take_the_password_from_the_environment_or_standard_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("f");
    write(&file, b"payload");
    let prefix = dir.join("locked");
    let out = crate::common::vouch()
        .args(["generate-key-pair", "--output-key-prefix"])
        .arg(&prefix)
        .env("VOUCH_PASSWORD", "s3cret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = dir.join("locked.key");
    let public = dir.join("locked.pub");
    let bundle = dir.join("f.json");
    let sign = |env: &[(&str, &str)], stdin: &[u8]| {
        use std::io::Write as _;
        let mut child = crate::common::vouch()
            .args(["sign-blob", "--key"])
            .arg(&key)
            .arg("--bundle")
            .arg(&bundle)
            .arg(&file)
            .env_remove("VOUCH_PASSWORD")
            .env_remove("COSIGN_PASSWORD")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    };
    let verified = |what: &str| {
        run(os(&[
            "verify-blob",
            "--output",
            "json",
            "--key",
            &path(&public),
            "--bundle",
            &path(&bundle),
            &path(&file),
        ]))
        .verified(what);
        std::fs::remove_file(&bundle).unwrap();
    };
    assert!(sign(&[("VOUCH_PASSWORD", "s3cret")], b"").status.success());
    verified("VOUCH_PASSWORD");
    assert!(sign(&[("COSIGN_PASSWORD", "s3cret")], b"").status.success());
    verified("COSIGN_PASSWORD");
    assert!(sign(&[], b"s3cret\n").status.success());
    verified("standard input");
    let wrong = sign(&[("VOUCH_PASSWORD", "wrong")], b"");
    assert_eq!(wrong.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&wrong.stderr)
            .trim()
            .lines()
            .count(),
        1
    );
    assert!(!bundle.exists());
}

#[test]
fn bundles_are_replaced_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (key, public) = key_pair(dir, "k", "ed25519");
    let file = dir.join("f");
    write(&file, b"version 2");
    let bundle = dir.join("f.sigstore.json");
    write(&bundle, b"an old bundle");
    let before: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let v = run(os(&[
        "sign-blob",
        "--key",
        &path(&key),
        "--bundle",
        &path(&bundle),
        &path(&file),
    ]));
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    // The old file was replaced, and no temporary file is left beside it.
    let mut after: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut before = before;
    before.sort();
    after.sort();
    assert_eq!(before, after);
    run(os(&[
        "verify-blob",
        "--output",
        "json",
        "--key",
        &path(&public),
        "--bundle",
        &path(&bundle),
        &path(&file),
    ]))
    .verified("replaced bundle");
    // Into a directory that does not exist: an I/O error, exit 2.
    run(os(&[
        "sign-blob",
        "--key",
        &path(&key),
        "--bundle",
        &path(&dir.join("missing/f.json")),
        &path(&file),
    ]))
    .error("missing directory");
}
