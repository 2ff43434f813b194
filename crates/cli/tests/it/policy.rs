//! `vouch policy check` run on policy files as an operator writes them: YAML and TOML with a
//! `cosign.pub` beside them and a Sigstore trusted root, each kind of invalid document (one
//! line naming the file and the field, exit 2), several files at once, and the digest
//! following the key file.

use std::path::{Path, PathBuf};
use std::process::Output;

use verify::keys::{KeyKind, PrivateKey};

use crate::common::vouch;

fn check(files: &[&Path]) -> Output {
    vouch()
        .args(["policy", "check"])
        .args(files)
        .output()
        .expect("run vouch")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A directory with `cosign.pub` (a fresh P-256 key) and `trusted_root.json` (Sigstore's
/// public-good root).
fn dir_with_keys() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_key(&dir.path().join("cosign.pub"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/signing/trust/public-good-trusted_root.json");
    std::fs::copy(&root, dir.path().join("trusted_root.json")).expect("copy the trusted root");
    dir
}

fn write_key(path: &Path) {
    let key = PrivateKey::generate(KeyKind::EcdsaP256)
        .and_then(|k| k.public_key())
        .expect("a key");
    std::fs::write(path, key.to_pem()).expect("write the key");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the policy");
    path
}

const YAML: &str = r#"
name: prod-signed
repositories: ["prod/**"]
authorities:
  - name: release-key
    key: cosign.pub
  - name: ci
    keyless:
      trusted_root: trusted_root.json
      issuer: https://token.actions.githubusercontent.com
      subject_regexp: https://github.com/acme/.+@refs/heads/main
attestations:
  - predicate_type: https://slsa.dev/provenance/v1
    conditions:
      - predicate.runDetails.builder.id in ["https://github.com/actions/runner/github-hosted"]
"#;

const TOML: &str = r#"
name = "prod-signed"
repositories = ["prod/**"]

[[authorities]]
name = "release-key"
key = "cosign.pub"

[[authorities]]
name = "ci"
keyless = { trusted_root = "trusted_root.json", issuer = "https://token.actions.githubusercontent.com", subject_regexp = "https://github.com/acme/.+@refs/heads/main" }

[[attestations]]
predicate_type = "https://slsa.dev/provenance/v1"
conditions = ['predicate.runDetails.builder.id in ["https://github.com/actions/runner/github-hosted"]']
"#;

/// The digest printed for a valid file.
fn digest_of(line: &str) -> String {
    line.split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in {line:?}"))
        .to_owned()
}

#[test]
fn valid_yaml_and_toml_print_the_same_digest() {
    let dir = dir_with_keys();
    let yaml = write(dir.path(), "prod.yaml", YAML);
    let toml = write(dir.path(), "prod.toml", TOML);

    let out = check(&[&yaml]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(
        line.starts_with(&format!("{}: ok sha256:", yaml.display())),
        "{line}"
    );
    assert!(
        line.trim_end()
            .ends_with("policy prod-signed (enforce) covers prod/**"),
        "{line}"
    );
    assert!(stderr(&out).is_empty());

    let out = check(&[&toml]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(digest_of(&stdout(&out)), digest_of(&line));
}

#[test]
fn replacing_the_key_file_changes_the_digest() {
    let dir = dir_with_keys();
    let yaml = write(dir.path(), "prod.yml", YAML);
    let before = digest_of(&stdout(&check(&[&yaml])));
    assert_eq!(before, digest_of(&stdout(&check(&[&yaml]))));
    write_key(&dir.path().join("cosign.pub"));
    let after = digest_of(&stdout(&check(&[&yaml])));
    assert_ne!(before, after);
}

#[test]
fn invalid_documents_fail_with_one_line_naming_the_field() {
    let dir = dir_with_keys();
    let cases: &[(&str, String, &str)] = &[
        (
            "unknown-field.yaml",
            YAML.replace("repositories:", "repos:"),
            "repos: unknown field (expected one of: name, description, repositories, mode, index_children, bind_repository, authorities, threshold, attestations)",
        ),
        (
            "typo.yaml",
            YAML.replace("    key: cosign.pub", "    kye: cosign.pub"),
            "authorities[0].kye: unknown field (expected one of: name, key, key_pem, keyless)",
        ),
        (
            "no-key-file.yaml",
            YAML.replace("cosign.pub", "missing.pub"),
            "authorities[0].key: cannot read ",
        ),
        (
            "bad-glob.yaml",
            YAML.replace("prod/**", "Prod/**"),
            "repositories[0]: character 'P' can never match",
        ),
        (
            "threshold.yaml",
            format!("{YAML}threshold: 3\n"),
            "threshold: must be between 1 and 2 (the number of authorities), found 3",
        ),
        (
            "no-authorities.yaml",
            "name: p\nrepositories: [a]\nauthorities: []\n".to_owned(),
            "authorities: must not be empty",
        ),
        (
            "cel-type.yaml",
            YAML.replace(
                r#"predicate.runDetails.builder.id in ["https://github.com/actions/runner/github-hosted"]"#,
                r#"size(predicate.runDetails) + "x" == 1"#,
            ),
            "attestations[0].conditions[0]: column 28: no matching overload for '+' applied to (int, string)",
        ),
        (
            "cel-function.yaml",
            YAML.replace("predicate.runDetails.builder.id in", "lower(predicate.runDetails.builder.id) in"),
            "attestations[0].conditions[0]: column 1: unknown function 'lower'",
        ),
        (
            "regexp.yaml",
            YAML.replace(".+@refs", "(.+@refs"),
            "authorities[1].keyless.subject_regexp: invalid regular expression: ",
        ),
        (
            "syntax.yaml",
            "name: [prod\n".to_owned(),
            "invalid YAML at line 1, column 7: unclosed bracket '['",
        ),
        (
            "syntax.toml",
            "name = \n".to_owned(),
            "invalid TOML at line 1, column 8: ",
        ),
        (
            "duplicate.toml",
            TOML.replace("name = \"prod-signed\"", "name = \"a\"\nname = \"b\""),
            "invalid TOML at line 3, column 1: duplicate key",
        ),
        (
            "policy.json",
            "{}".to_owned(),
            "the file name must end in .yaml, .yml or .toml",
        ),
    ];
    for (name, text, want) in cases {
        let path = write(dir.path(), name, text);
        let out = check(&[&path]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{name}: {}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        let want = format!("{}: {want}", path.display());
        assert!(err.starts_with(&want), "{name}\n want {want}\n got  {err}");
    }
}

#[test]
fn several_files_report_each_and_fail_if_any_fails() {
    let dir = dir_with_keys();
    let good = write(dir.path(), "good.yaml", YAML);
    let other = write(
        dir.path(),
        "other.toml",
        &TOML
            .replace("prod-signed", "staging")
            .replace("prod/**", "staging/*"),
    );
    let out = check(&[&good, &other]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].ends_with("policy staging (enforce) covers staging/*"));

    let bad = write(dir.path(), "bad.yaml", "name: x\n");
    let missing = dir.path().join("missing.yaml");
    let twin = write(dir.path(), "twin.yaml", YAML);
    let out = check(&[&good, &bad, &missing, &twin]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out).lines().count(), 1);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert_eq!(
        lines[0],
        format!("{}: repositories: required field is missing", bad.display())
    );
    assert!(
        lines[1].starts_with(&format!(
            "{}: cannot read {}",
            missing.display(),
            missing.display()
        )),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        format!(
            "{}: name: policy \"prod-signed\" is also defined in {}",
            twin.display(),
            good.display()
        )
    );
}

#[test]
fn no_file_is_a_usage_error() {
    let out = vouch()
        .args(["policy", "check"])
        .output()
        .expect("run vouch");
    assert_eq!(out.status.code(), Some(2));
}
