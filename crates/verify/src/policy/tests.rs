//! Table tests of policy documents (every kind of invalid document, YAML and TOML alike) and of
//! the decision (thresholds, distinct signers, revocation, attestations and their conditions,
//! keyless identities and trusted roots, warn mode, several policies), plus property tests of
//! the signature combinators.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use oci::{Algorithm, Digest, RepoName};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::keys::{self, KeyKind, PrivateKey, PublicKey};

/// Keys A, B, C (policy authorities) and D (trusted by no policy here), and the files a policy
/// in `/policies` can name.
struct Fixture {
    keys: Vec<PublicKey>,
    files: HashMap<PathBuf, Vec<u8>>,
    public_good: Digest,
    staging: Digest,
}

fn shared(path: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/signing")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let keys: Vec<PublicKey> = (0..4)
        .map(|_| {
            PrivateKey::generate(KeyKind::EcdsaP256)
                .and_then(|k| k.public_key())
                .expect("a P-256 key")
        })
        .collect();
    let mut files = HashMap::new();
    for (name, key) in ["a.pub", "b.pub", "c.pub", "d.pub"].iter().zip(&keys) {
        files.insert(
            PathBuf::from("/policies").join(name),
            key.to_pem().into_bytes(),
        );
    }
    let public_good = shared("trust/public-good-trusted_root.json");
    let staging = shared("trust/staging-trusted_root.json");
    let fixture_digests = (
        Digest::compute(Algorithm::Sha256, &public_good),
        Digest::compute(Algorithm::Sha256, &staging),
    );
    files.insert("/policies/trusted_root.json".into(), public_good);
    files.insert("/policies/staging_root.json".into(), staging);
    files.insert("/policies/not-a-key.pub".into(), b"hello".to_vec());
    files.insert("/policies/binary.pub".into(), vec![0xff, 0xfe]);
    Fixture {
        keys,
        files,
        public_good: fixture_digests.0,
        staging: fixture_digests.1,
    }
});

fn read(path: &Path) -> io::Result<Vec<u8>> {
    FIXTURE
        .files
        .get(path)
        .cloned()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
}

fn parse_yaml(doc: &str) -> Result<Policy, PolicyError> {
    parse(doc.as_bytes(), Format::Yaml, Path::new("/policies"), &read)
}

fn parse_toml(doc: &str) -> Result<Policy, PolicyError> {
    parse(doc.as_bytes(), Format::Toml, Path::new("/policies"), &read)
}

fn policy(doc: &str) -> Policy {
    parse_yaml(doc).unwrap_or_else(|e| panic!("{e}\n{doc}"))
}

const FULL_YAML: &str = r#"
name: prod-signed
description: release images
repositories: ["prod/**", "team-*/release"]
mode: enforce
authorities:
  - name: release-key
    key: a.pub
  - name: ci
    keyless:
      trusted_root: trusted_root.json
      issuer: https://token.actions.githubusercontent.com
      subject_regexp: https://github.com/acme/.+@refs/heads/main
threshold: 1
attestations:
  - predicate_type: https://slsa.dev/provenance/v1
    conditions:
      - predicate.runDetails.builder.id in ["https://github.com/actions/runner/github-hosted"]
      - predicate.buildDefinition.externalParameters.workflow.repository.matches("^https://github.com/acme/")
"#;

const FULL_TOML: &str = r#"
# The same policy as FULL_YAML, in TOML and another order.
threshold = 1
name = "prod-signed"
repositories = ["prod/**", "team-*/release"]
description = "release images"

[[attestations]]
predicate_type = "https://slsa.dev/provenance/v1"
conditions = [
    'predicate.runDetails.builder.id in ["https://github.com/actions/runner/github-hosted"]',
    'predicate.buildDefinition.externalParameters.workflow.repository.matches("^https://github.com/acme/")',
]

[[authorities]]
name = "release-key"
key = "a.pub"

[[authorities]]
name = "ci"
[authorities.keyless]
issuer = "https://token.actions.githubusercontent.com"
subject_regexp = "https://github.com/acme/.+@refs/heads/main"
trusted_root = "trusted_root.json"
"#;

#[test]
fn a_full_document_loads() {
    let p = policy(FULL_YAML);
    assert_eq!(p.name(), "prod-signed");
    assert_eq!(p.description(), Some("release images"));
    assert_eq!(p.mode(), Mode::Enforce);
    assert_eq!(p.threshold(), 1);
    assert_eq!(
        p.repositories()
            .iter()
            .map(Glob::as_str)
            .collect::<Vec<_>>(),
        ["prod/**", "team-*/release"]
    );
    assert_eq!(p.authorities().len(), 2);
    let AuthorityKind::Key { fingerprint, .. } = p.authorities()[0].kind() else {
        panic!("a key authority");
    };
    assert_eq!(*fingerprint, keys::hex(&FIXTURE.keys[0].fingerprint()));
    let AuthorityKind::Keyless(k) = p.authorities()[1].kind() else {
        panic!("a keyless authority");
    };
    assert_eq!(k.trusted_root.digest, FIXTURE.public_good);
    assert!(k.subject.regexp && !k.issuer.regexp);
    assert_eq!(p.trusted_roots().len(), 1);
    assert_eq!(p.attestations()[0].conditions().len(), 2);
    assert!(p.covers(&RepoName::parse("prod/app").unwrap()));
    assert!(p.covers(&RepoName::parse("team-red/release").unwrap()));
    assert!(!p.covers(&RepoName::parse("staging/app").unwrap()));
    assert!(p.digest().as_str().starts_with("sha256:"));
    assert!(p.digest().matches(p.canonical_json()));
}

#[test]
fn the_digest_is_of_the_resolved_policy() {
    let yaml = policy(FULL_YAML);
    // The same policy in TOML, in another order, with comments: the same digest.
    let toml = parse_toml(FULL_TOML).unwrap();
    assert_eq!(yaml.digest(), toml.digest());
    assert_eq!(yaml.canonical_json(), toml.canonical_json());
    // The canonical form: sorted members, no whitespace, keys as fingerprints.
    let canonical = std::str::from_utf8(yaml.canonical_json()).unwrap();
    assert!(canonical.starts_with(r#"{"attestations":[{"conditions":["#));
    assert!(canonical.contains(&format!(
        r#"{{"key":"sha256:{}","name":"release-key"}}"#,
        keys::hex(&FIXTURE.keys[0].fingerprint())
    )));
    assert!(canonical.contains(&format!(r#""trusted_root":"{}""#, FIXTURE.public_good)));
    assert!(!canonical.contains(' ') || canonical.contains("in ["));
    // Replacing the key file (same path) changes the digest; so does any other change.
    let other_key = FULL_YAML.replace("key: a.pub", "key: b.pub");
    assert_ne!(policy(&other_key).digest(), yaml.digest());
    let warn = FULL_YAML.replace("mode: enforce", "mode: warn");
    assert_ne!(policy(&warn).digest(), yaml.digest());
    // index_children: the default changes nothing, inherit changes the digest.
    let each = FULL_YAML.replace("mode: enforce", "mode: enforce\nindex_children: each");
    assert_eq!(policy(&each).digest(), yaml.digest());
    let inherit = FULL_YAML.replace("mode: enforce", "mode: enforce\nindex_children: inherit");
    assert_ne!(policy(&inherit).digest(), yaml.digest());
    assert_eq!(
        policy(&inherit).index_children(),
        crate::policy::IndexChildren::Inherit
    );
    let other_root = FULL_YAML.replace("trusted_root.json", "staging_root.json");
    assert_ne!(policy(&other_root).digest(), yaml.digest());
    // An inline key is the same key.
    let pem = FIXTURE.keys[0].to_pem();
    let inline = FULL_YAML.replace(
        "key: a.pub",
        &format!(
            "key_pem: |\n{}",
            pem.lines()
                .map(|l| format!("      {l}\n"))
                .collect::<String>()
        ),
    );
    assert_eq!(policy(&inline).digest(), yaml.digest());
}

#[test]
fn defaults() {
    let p = policy("name: p\nrepositories: [a]\nauthorities: [{name: k, key: a.pub}]\n");
    assert_eq!(p.mode(), Mode::Enforce);
    assert_eq!(p.threshold(), 1);
    assert!(p.attestations().is_empty());
    assert!(p.description().is_none());
}

/// A minimal valid document, for the invalid ones to be made from.
const MINIMAL: &str =
    "name: p\nrepositories: [prod/**]\nauthorities:\n  - name: k\n    key: a.pub\n";

#[test]
fn invalid_documents_name_the_field() {
    let with = |extra: &str| format!("{MINIMAL}{extra}");
    let keyless = |body: &str| {
        format!("name: p\nrepositories: [a]\nauthorities:\n  - name: ci\n    keyless:\n{body}")
    };
    let cases: Vec<(String, &str)> = vec![
        // Shape.
        ("- a\n- b\n".into(), "expected a map, found a list"),
        ("".into(), "expected a map, found null"),
        (
            with("repositores: [a]\n"),
            "repositores: unknown field (expected one of: name, description, repositories, mode, index_children, bind_repository, authorities, threshold, attestations)",
        ),
        (
            MINIMAL.replace("key: a.pub", "kye: a.pub"),
            "authorities[0].kye: unknown field (expected one of: name, key, key_pem, keyless)",
        ),
        (
            MINIMAL.replace("name: p\n", ""),
            "name: required field is missing",
        ),
        (
            MINIMAL.replace("name: p", "name: Prod"),
            "name: must match [a-z0-9][a-z0-9._-]* and be at most 128 characters",
        ),
        (MINIMAL.replace("name: p", "name: -p"), "name: must match"),
        (
            MINIMAL.replace("name: p", "name: 7"),
            "name: expected a string, found an integer",
        ),
        (
            MINIMAL.replace("name: p", "name:"),
            "name: expected a string, found null",
        ),
        (
            MINIMAL.replace("name: p", "name: ''"),
            "name: must not be empty",
        ),
        (
            with("description: [x]\n"),
            "description: expected a string, found a list",
        ),
        // Repositories.
        (
            MINIMAL.replace("[prod/**]", "[]"),
            "repositories: must not be empty",
        ),
        (
            MINIMAL.replace("[prod/**]", "prod/**"),
            "repositories: expected a list, found a string",
        ),
        (
            MINIMAL.replace("repositories: [prod/**]\n", ""),
            "repositories: required field is missing",
        ),
        (
            MINIMAL.replace("[prod/**]", "[a, Prod/x]"),
            "repositories[1]: character 'P' can never match",
        ),
        (
            MINIMAL.replace("[prod/**]", "[prod**]"),
            "repositories[0]: '**' must be a whole path segment",
        ),
        (
            MINIMAL.replace("[prod/**]", "[prod/]"),
            "repositories[0]: empty path segment",
        ),
        (
            MINIMAL.replace("[prod/**]", "[1]"),
            "repositories[0]: expected a string, found an integer",
        ),
        // Mode.
        (with("mode: block\n"), "mode: must be enforce or warn"),
        (with("mode: no\n"), "mode: must be enforce or warn"),
        (
            with("mode: true\n"),
            "mode: expected a string, found a bool",
        ),
        (
            with("index_children: some\n"),
            "index_children: must be each or inherit",
        ),
        (
            with("bind_repository: yes\n"),
            "bind_repository: expected a bool, found a string",
        ),
        (
            with("bind_repository: 1\n"),
            "bind_repository: expected a bool, found an integer",
        ),
        (
            with("bind_repository: matchRepository\n"),
            "bind_repository: expected a bool, found a string",
        ),
        // Authorities.
        (
            "name: p\nrepositories: [a]\nauthorities: []\n".into(),
            "authorities: must not be empty",
        ),
        (
            "name: p\nrepositories: [a]\n".into(),
            "authorities: required field is missing",
        ),
        (
            MINIMAL.replace("    key: a.pub\n", ""),
            "authorities[0]: exactly one of key, key_pem, keyless is required",
        ),
        (
            with("    key_pem: x\n"),
            "authorities[0]: exactly one of key, key_pem, keyless is required",
        ),
        (
            with("  - name: k\n    key: b.pub\n"),
            "authorities[1].name: another authority is also named \"k\"",
        ),
        (
            with("  - name: k2\n    key: a.pub\n"),
            "authorities[1]: the same key as authority \"k\"",
        ),
        (
            MINIMAL.replace("a.pub", "missing.pub"),
            "authorities[0].key: cannot read /policies/missing.pub: no such file",
        ),
        (
            MINIMAL.replace("a.pub", "not-a-key.pub"),
            "authorities[0].key: /policies/not-a-key.pub: not a usable public key: ",
        ),
        (
            MINIMAL.replace("a.pub", "binary.pub"),
            "authorities[0].key: /policies/binary.pub: not a PEM public key",
        ),
        (
            MINIMAL.replace("key: a.pub", "key_pem: nope"),
            "authorities[0].key_pem: not a usable public key: ",
        ),
        (
            MINIMAL.replace("key: a.pub", "key: ''"),
            "authorities[0].key: must not be empty",
        ),
        (
            MINIMAL.replace("name: k", "name: K"),
            "authorities[0].name: must match",
        ),
        (
            keyless("      issuer: i\n      subject: s\n"),
            "authorities[0].keyless.trusted_root: required field is missing",
        ),
        (
            keyless("      trusted_root: trusted_root.json\n      subject: s\n"),
            "authorities[0].keyless: exactly one of issuer, issuer_regexp is required",
        ),
        (
            keyless(
                "      trusted_root: trusted_root.json\n      issuer: i\n      issuer_regexp: i\n      subject: s\n",
            ),
            "authorities[0].keyless: exactly one of issuer, issuer_regexp is required",
        ),
        (
            keyless("      trusted_root: trusted_root.json\n      issuer: i\n"),
            "authorities[0].keyless: exactly one of subject, subject_regexp is required",
        ),
        (
            keyless(
                "      trusted_root: trusted_root.json\n      issuer: i\n      subject_regexp: '('\n",
            ),
            "authorities[0].keyless.subject_regexp: invalid regular expression: ",
        ),
        (
            keyless("      trusted_root: a.pub\n      issuer: i\n      subject: s\n"),
            "authorities[0].keyless.trusted_root: /policies/a.pub: not a usable trusted root: ",
        ),
        (
            keyless(
                "      trusted_root: trusted_root.json\n      issuer: i\n      subject: s\n      identity: s\n",
            ),
            "authorities[0].keyless.identity: unknown field (expected one of: trusted_root, issuer, issuer_regexp, subject, subject_regexp)",
        ),
        (
            "name: p\nrepositories: [a]\nauthorities:\n  - name: ci\n    keyless: yes\n".into(),
            "authorities[0].keyless: expected a map, found a string",
        ),
        // Threshold.
        (
            with("threshold: 0\n"),
            "threshold: must be between 1 and 1 (the number of authorities), found 0",
        ),
        (
            with("threshold: 2\n"),
            "threshold: must be between 1 and 1 (the number of authorities), found 2",
        ),
        (
            with("threshold: -1\n"),
            "threshold: must be between 1 and 1 (the number of authorities), found -1",
        ),
        (
            with("threshold: 1.5\n"),
            "threshold: must be between 1 and 1 (the number of authorities), found 1.5",
        ),
        (
            with("threshold: '1'\n"),
            "threshold: expected an integer, found a string",
        ),
        // Attestations.
        (
            with("attestations: x\n"),
            "attestations: expected a list, found a string",
        ),
        (
            with("attestations:\n  - conditions: []\n"),
            "attestations[0].predicate_type: required field is missing",
        ),
        (
            with("attestations:\n  - predicate_type: t\n    condition: [true]\n"),
            "attestations[0].condition: unknown field (expected one of: predicate_type, conditions)",
        ),
        (
            with("attestations:\n  - predicate_type: t\n  - predicate_type: t\n"),
            "attestations[1].predicate_type: predicate type listed twice",
        ),
        (
            with("attestations:\n  - predicate_type: t\n    conditions: ['1 + \"a\" == 2']\n"),
            "attestations[0].conditions[0]: column 3: no matching overload for '+' applied to (int, string)",
        ),
        (
            with(
                "attestations:\n  - predicate_type: t\n    conditions: ['true', 'predicate.a.size()']\n",
            ),
            "attestations[0].conditions[1]: column 1: the expression is int, not bool",
        ),
        (
            with("attestations:\n  - predicate_type: t\n    conditions: ['nope.x']\n"),
            "attestations[0].conditions[0]: column 1: undeclared reference to 'nope'",
        ),
        (
            with("attestations:\n  - predicate_type: t\n    conditions: ['foo(predicate)']\n"),
            "attestations[0].conditions[0]: column 1: unknown function 'foo'",
        ),
        (
            with(
                "attestations:\n  - predicate_type: t\n    conditions: ['predicate.x.matches(\"[\")']\n",
            ),
            "attestations[0].conditions[0]: column 21: invalid regular expression: ",
        ),
        (
            with("attestations:\n  - predicate_type: t\n    conditions: [true]\n"),
            "attestations[0].conditions[0]: expected a string, found a bool",
        ),
        // Syntax.
        (
            with("name: q\n"),
            "invalid YAML at line 6, column 1: duplicate mapping key",
        ),
        ("name: [p\n".into(), "invalid YAML at line"),
        (with("extra: !custom x\n"), "invalid YAML"),
        ("name: &a p\nrepositories: *b\n".into(), "invalid YAML"),
    ];
    let mut failures = Vec::new();
    for (doc, want) in &cases {
        match parse_yaml(doc) {
            Err(e) if e.to_string().starts_with(want) => {}
            other => failures.push(format!(
                "{doc}\n    want {want}\n    got  {:?}",
                other
                    .map(|p| p.name().to_owned())
                    .map_err(|e| e.to_string())
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_toml_and_bytes() {
    let cases: &[(&[u8], Format, &str)] = &[
        (b"name = \"p\"\nname = \"q\"\n", Format::Toml, "invalid TOML at line 2, column 1: duplicate key"),
        (b"name = \n", Format::Toml, "invalid TOML at line 1"),
        (b"name = 1979-05-27T07:32:00Z\n", Format::Toml, "name: expected a string, found a map"),
        (
            b"name = \"p\"\nrepositories = [\"a\"]\n[[authorities]]\nname = \"k\"\nkey = \"a.pub\"\nkye = 1\n",
            Format::Toml,
            "authorities[0].kye: unknown field",
        ),
        (b"name: \xff\n", Format::Yaml, "the document is not UTF-8"),
    ];
    for (doc, format, want) in cases {
        let got = parse(doc, *format, Path::new("/policies"), &read)
            .unwrap_err()
            .to_string();
        assert!(got.starts_with(want), "want {want}\ngot  {got}");
    }
    let huge = vec![b' '; MAX_DOCUMENT_LEN + 1];
    assert!(
        parse(&huge, Format::Yaml, Path::new("/"), &read)
            .unwrap_err()
            .to_string()
            .starts_with("the document is 262145 bytes")
    );
    // Alias bombs and deep nesting stop at the parsers' budgets.
    let bomb = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
    assert!(parse_yaml(bomb).is_err());
    assert!(parse_yaml(&"[".repeat(100_000)).is_err());
    assert!(parse_toml(&format!("a = {}", "[".repeat(100_000))).is_err());
}

#[test]
fn load_picks_the_format_by_extension() {
    let files: HashMap<PathBuf, Vec<u8>> = [
        ("/etc/vouch/p.yaml", FULL_YAML.as_bytes().to_vec()),
        ("/etc/vouch/p.toml", FULL_TOML.as_bytes().to_vec()),
        ("/etc/vouch/p.json", b"{}".to_vec()),
        (
            "/etc/vouch/a.pub",
            FIXTURE.files[Path::new("/policies/a.pub")].clone(),
        ),
        (
            "/etc/vouch/trusted_root.json",
            FIXTURE.files[Path::new("/policies/trusted_root.json")].clone(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (PathBuf::from(k), v))
    .collect();
    let read = |p: &Path| {
        files
            .get(p)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    };
    let a = load(Path::new("/etc/vouch/p.yaml"), &read).unwrap();
    let b = load(Path::new("/etc/vouch/p.toml"), &read).unwrap();
    assert_eq!(a.digest(), b.digest());
    assert_eq!(
        load(Path::new("/etc/vouch/p.json"), &read)
            .unwrap_err()
            .to_string(),
        "the file name must end in .yaml, .yml or .toml"
    );
    assert!(
        load(Path::new("/etc/vouch/none.yml"), &read)
            .unwrap_err()
            .to_string()
            .starts_with("cannot read /etc/vouch/none.yml")
    );
}

// The decision.

fn digest_of(label: &str) -> Digest {
    Digest::compute(Algorithm::Sha256, label.as_bytes())
}

fn key(i: usize) -> Signer {
    Signer::key(&FIXTURE.keys[i])
}

fn cert(identity: &str, issuer: &str, root: &Digest) -> Signer {
    Signer::Certificate {
        identity: identity.to_owned(),
        issuer: issuer.to_owned(),
        trusted_root: root.clone(),
    }
}

const GHA: &str = "https://token.actions.githubusercontent.com";
const MAIN: &str = "https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main";
const SLSA: &str = "https://slsa.dev/provenance/v1";

fn provenance() -> serde_json::Value {
    json!({
        "buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {"workflow": {
                "ref": "refs/heads/main",
                "repository": "https://github.com/acme/widget",
                "path": ".github/workflows/release.yml"
            }}
        },
        "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}}
    })
}

/// Evidence about `prod/app` being built up.
struct Ev(Evidence);

impl Ev {
    fn new() -> Ev {
        Ev(Evidence::new(
            digest_of("artifact"),
            RepoName::parse("prod/app").unwrap(),
        ))
    }
    /// A signature whose signed content names nothing (a message signature, cosign 3's).
    fn sig(self, signer: Signer, label: &str) -> Ev {
        self.sig_naming(signer, label, &[])
    }
    /// A signature whose signed content names the artifact as `names`.
    fn sig_naming(mut self, signer: Signer, label: &str, names: &[&str]) -> Ev {
        self.0.signatures.push(VerifiedSignature {
            signer,
            evidence: digest_of(label),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        });
        self
    }
    /// A provenance attestation whose statement's subjects are `subjects` (name, digest).
    fn att_about(mut self, signer: Signer, label: &str, subjects: &[(&str, &Digest)]) -> Ev {
        self.0.attestations.push(VerifiedAttestation {
            predicate_type: SLSA.to_owned(),
            predicate: provenance(),
            subject: subjects
                .iter()
                .map(|(name, d)| crate::intoto::Subject {
                    name: (*name).to_owned(),
                    digest: [(d.algorithm().as_str().to_owned(), d.hex().to_owned())]
                        .into_iter()
                        .collect(),
                })
                .collect(),
            signer,
            evidence: digest_of(label),
        });
        self
    }
    fn att(mut self, signer: Signer, predicate: serde_json::Value, label: &str) -> Ev {
        self.0.attestations.push(VerifiedAttestation {
            predicate_type: SLSA.to_owned(),
            predicate,
            subject: Vec::new(),
            signer,
            evidence: digest_of(label),
        });
        self
    }
    fn att_type(mut self, predicate_type: &str, signer: Signer, label: &str) -> Ev {
        self.0.attestations.push(VerifiedAttestation {
            predicate_type: predicate_type.to_owned(),
            predicate: provenance(),
            subject: Vec::new(),
            signer,
            evidence: digest_of(label),
        });
        self
    }
    fn revoke_key(mut self, i: usize) -> Ev {
        self.0
            .revoked_keys
            .insert(keys::hex(&FIXTURE.keys[i].fingerprint()).to_ascii_uppercase());
        self
    }
    fn revoke_artifact(mut self) -> Ev {
        self.0.revoked_artifacts.insert(digest_of("artifact"));
        self
    }
    fn repo(mut self, name: &str) -> Ev {
        self.0.repository = RepoName::parse(name).unwrap();
        self
    }
}

/// A policy over keys A, B, C (authorities `a`, `b`, `c`) with the given threshold.
fn keys_policy(n: usize, threshold: usize) -> Policy {
    keys_policy_with(n, threshold, "")
}

/// [`keys_policy`], with `extra` at the top of the document.
fn keys_policy_with(n: usize, threshold: usize, extra: &str) -> Policy {
    let mut doc = format!("name: keys\nrepositories: [prod/**]\n{extra}authorities:\n");
    for (name, file) in [("a", "a.pub"), ("b", "b.pub"), ("c", "c.pub")]
        .iter()
        .take(n)
    {
        doc += &format!("  - name: {name}\n    key: {file}\n");
    }
    doc += &format!("threshold: {threshold}\n");
    policy(&doc)
}

fn keyless_policy(extra: &str) -> Policy {
    policy(&format!(
        "name: keyless\nrepositories: [prod/**]\nauthorities:\n  - name: ci\n    keyless:\n      trusted_root: trusted_root.json\n      issuer: {GHA}\n      subject_regexp: https://github.com/acme/.+@refs/heads/main\n{extra}"
    ))
}

fn attest_policy(conditions: &[&str]) -> Policy {
    attest_policy_with(conditions, "")
}

/// [`attest_policy`], with `extra` at the top of the document.
fn attest_policy_with(conditions: &[&str], extra: &str) -> Policy {
    let mut doc = format!(
        "name: attested\nrepositories: [prod/**]\n{extra}authorities:\n  - name: a\n    key: a.pub\n  - name: b\n    key: b.pub\nattestations:\n  - predicate_type: {SLSA}\n    conditions:\n"
    );
    for c in conditions {
        doc += &format!("      - '{}'\n", c.replace('\'', "''"));
    }
    policy(&doc)
}

const BUILDER_OK: &str =
    r#"predicate.runDetails.builder.id in ["https://github.com/actions/runner/github-hosted"]"#;
const REPO_OK: &str = r#"predicate.buildDefinition.externalParameters.workflow.repository.matches("^https://github.com/acme/")"#;

/// Expected: admitted, or the denial's reasons as displayed, joined with "; ".
fn check(policy: &Policy, ev: Ev, want: Result<(), &str>) {
    let v = evaluate(policy, &ev.0);
    assert_eq!(v.policy, policy.name());
    assert_eq!(v.policy_digest, *policy.digest());
    match want {
        Ok(()) => assert!(v.admitted(), "expected admission, got: {v}"),
        Err(reasons) => {
            assert_eq!(v.decision, Decision::Deny, "expected a denial, got: {v}");
            let got = v
                .reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            let want = reasons
                .replace("{A}", &short_key(0))
                .replace("{B}", &short_key(1))
                .replace("{C}", &short_key(2))
                .replace("{D}", &short_key(3));
            assert_eq!(got, want);
        }
    }
}

fn short_key(i: usize) -> String {
    key(i).to_string()
}

#[test]
fn signatures_and_thresholds() {
    // An authority counts once however many signatures it made; one signer counts for one
    // authority; nothing counts for being present.
    check(
        &keys_policy(1, 1),
        Ev::new(),
        Err("0 of 1 required authorities signed; signature by a: none (no verified signatures)"),
    );
    check(&keys_policy(1, 1), Ev::new().sig(key(0), "s1"), Ok(()));
    check(
        &keys_policy(1, 1),
        Ev::new().sig(key(3), "s1").sig(key(1), "s2"),
        Err("0 of 1 required authorities signed; signature by a: none (2 other signers: {D}, {B})"),
    );
    check(&keys_policy(2, 1), Ev::new().sig(key(1), "s1"), Ok(()));
    check(
        &keys_policy(2, 2),
        Ev::new().sig(key(0), "s1"),
        Err("1 of 2 required authorities signed (a); signature by b: none (1 other signer: {A})"),
    );
    check(
        &keys_policy(2, 2),
        Ev::new().sig(key(0), "s1").sig(key(0), "s2"),
        Err("1 of 2 required authorities signed (a); signature by b: none (1 other signer: {A})"),
    );
    check(
        &keys_policy(2, 2),
        Ev::new().sig(key(0), "s1").sig(key(1), "s2"),
        Ok(()),
    );
    check(
        &keys_policy(3, 2),
        Ev::new()
            .sig(key(2), "s1")
            .sig(key(3), "s2")
            .sig(key(1), "s3"),
        Ok(()),
    );
    // A fingerprint spelled in capitals is the same key, and counts once.
    let upper = Signer::Key {
        fingerprint: keys::hex(&FIXTURE.keys[0].fingerprint()).to_ascii_uppercase(),
    };
    check(
        &keys_policy(1, 1),
        Ev::new().sig(upper.clone(), "s1"),
        Ok(()),
    );
    check(
        &keys_policy(2, 2),
        Ev::new().sig(upper, "s1").sig(key(0), "s2"),
        Err("1 of 2 required authorities signed (a); signature by b: none (1 other signer: {A})"),
    );
    // One signature that verified as two signers (one key in two encodings, one certificate
    // under two trusted roots) is one signer: it meets one authority of two, not both.
    check(
        &keys_policy(2, 2),
        Ev::new().sig(key(0), "s1").sig(key(1), "s1"),
        Err(
            "1 of 2 required authorities signed (a); signature by b: its only signers ({B}) already count for other authorities",
        ),
    );
    // Chained through shared signatures, three signers are still one.
    check(
        &keys_policy(3, 2),
        Ev::new()
            .sig(key(0), "s1")
            .sig(key(1), "s1")
            .sig(key(1), "s2")
            .sig(key(2), "s2"),
        Err(
            "1 of 2 required authorities signed (a); signature by b: its only signers ({B}) already count for other authorities; signature by c: its only signers ({C}) already count for other authorities",
        ),
    );
    // Signers that made one same signature are one signer, whatever else either signed.
    check(
        &keys_policy(2, 2),
        Ev::new()
            .sig(key(0), "s1")
            .sig(key(1), "s1")
            .sig(key(1), "s2"),
        Err(
            "1 of 2 required authorities signed (a); signature by b: its only signers ({B}) already count for other authorities",
        ),
    );
}

#[test]
fn revocation() {
    check(
        &keys_policy(1, 1),
        Ev::new().sig(key(0), "s1").revoke_key(0),
        Err("0 of 1 required authorities signed; signature by a: {A} is revoked"),
    );
    // Another authority still counts.
    check(
        &keys_policy(2, 1),
        Ev::new().sig(key(0), "s1").sig(key(1), "s2").revoke_key(0),
        Ok(()),
    );
    let v = evaluate(
        &keys_policy(1, 1),
        &Ev::new().sig(key(0), "s1").revoke_artifact().0,
    );
    assert_eq!(v.decision, Decision::Deny);
    assert_eq!(
        v.reasons,
        [Reason::ArtifactRevoked {
            digest: digest_of("artifact")
        }]
    );
}

#[test]
fn the_evidence_used_is_named() {
    let v = evaluate(
        &keys_policy(2, 2),
        &Ev::new()
            .sig(key(3), "unrelated")
            .sig(key(0), "s1")
            .sig(key(0), "s1-again")
            .sig(key(1), "s2")
            .0,
    );
    assert!(v.admitted());
    let mut want = vec![digest_of("s1"), digest_of("s2")];
    want.sort();
    assert_eq!(v.evidence, want);

    let p = attest_policy(&[BUILDER_OK]);
    let v = evaluate(
        &p,
        &Ev::new()
            .sig(key(0), "s1")
            .att(key(1), json!({}), "bad")
            .att(key(1), provenance(), "good")
            .0,
    );
    assert!(v.admitted(), "{v}");
    let mut want = vec![digest_of("s1"), digest_of("good")];
    want.sort();
    assert_eq!(v.evidence, want);
}

#[test]
fn attestations() {
    let p = attest_policy(&[BUILDER_OK, REPO_OK]);
    let signed = || Ev::new().sig(key(0), "s1");
    check(&p, signed().att(key(0), provenance(), "p1"), Ok(()));
    // By the other authority: fine.
    check(&p, signed().att(key(1), provenance(), "p1"), Ok(()));
    let p1 = crate::policy::evidence::short(digest_of("p1").as_str());
    let p2 = crate::policy::evidence::short(digest_of("p2").as_str());
    check(
        &p,
        signed(),
        Err("attestation https://slsa.dev/provenance/v1: none"),
    );
    check(
        &p,
        signed().att_type("https://spdx.dev/Document", key(0), "p1"),
        Err("attestation https://slsa.dev/provenance/v1: none"),
    );
    check(
        &p,
        signed().att(key(3), provenance(), "p1"),
        Err(&format!(
            "attestation https://slsa.dev/provenance/v1: {p1} is signed by {{D}}, none of the policy's authorities"
        )),
    );
    check(
        &p,
        signed()
            .att(key(0), provenance(), "p1")
            .revoke_key(0)
            .sig(key(1), "s2"),
        Err(&format!(
            "attestation https://slsa.dev/provenance/v1: {p1} is signed by {{A}}, which is revoked"
        )),
    );
    let mut other_builder = provenance();
    other_builder["runDetails"]["builder"]["id"] = json!("https://evil.example/runner");
    check(
        &p,
        signed().att(key(0), other_builder, "p1"),
        Err(&format!(
            "attestation https://slsa.dev/provenance/v1: {p1}: condition 1 `{BUILDER_OK}` is false"
        )),
    );
    let mut other_repo = provenance();
    other_repo["buildDefinition"]["externalParameters"]["workflow"]["repository"] =
        json!("https://github.com/evil/widget");
    let mut no_builder = provenance();
    no_builder["runDetails"]
        .as_object_mut()
        .unwrap()
        .remove("builder");
    check(
        &p,
        signed()
            .att(key(0), other_repo.clone(), "p1")
            .att(key(0), no_builder, "p2"),
        Err(&format!(
            "attestation https://slsa.dev/provenance/v1: {p1}: condition 2 `{REPO_OK}` is false; {p2}: condition 1 `{BUILDER_OK}`: no such key 'builder'"
        )),
    );
    // Several attestations: one that passes is enough.
    check(
        &p,
        signed()
            .att(key(3), provenance(), "p1")
            .att(key(0), other_repo, "p2")
            .att(key(1), provenance(), "p3"),
        Ok(()),
    );
    // The attestation does not stand in for the signature.
    check(
        &p,
        Ev::new().att(key(0), provenance(), "p1"),
        Err(
            "0 of 1 required authorities signed; signature by a: none (no verified signatures); signature by b: none (no verified signatures)",
        ),
    );
    // An erring condition is not true, even behind || when the other side is false.
    let strict = attest_policy(&["predicate.nope == 1 || false"]);
    check(
        &strict,
        signed().att(key(0), provenance(), "p1"),
        Err(&format!(
            "attestation https://slsa.dev/provenance/v1: {p1}: condition 1 `predicate.nope == 1 || false`: no such key 'nope'"
        )),
    );
    // Conditions see predicateType and subject.
    let typed = attest_policy(&[
        "predicateType == \"https://slsa.dev/provenance/v1\"",
        "subject.all(s, s.digest.sha256.size() == 64)",
    ]);
    let mut ev = signed();
    ev.0.attestations.push(VerifiedAttestation {
        predicate_type: SLSA.to_owned(),
        predicate: provenance(),
        subject: vec![crate::intoto::Subject {
            name: "app".into(),
            digest: [("sha256".to_owned(), "ab".repeat(32))]
                .into_iter()
                .collect(),
        }],
        signer: key(0),
        evidence: digest_of("p1"),
    });
    check(&typed, ev, Ok(()));
}

#[test]
fn keyless_identities() {
    let p = keyless_policy("");
    let good = cert(MAIN, GHA, &FIXTURE.public_good);
    check(&p, Ev::new().sig(good, "s1"), Ok(()));
    // The subject regexp is anchored at both ends.
    let cases = [
        "https://evil.example/https://github.com/acme/widget@refs/heads/main",
        "https://github.com/acme/widget@refs/heads/main-evil",
        "xhttps://github.com/acme/widget@refs/heads/main",
        "https://github.com/acme/@refs/heads/main",
    ];
    for identity in cases {
        let signer = cert(identity, GHA, &FIXTURE.public_good);
        let v = evaluate(&p, &Ev::new().sig(signer, "s1").0);
        assert_eq!(v.decision, Decision::Deny, "{identity}");
    }
    // The issuer must match exactly.
    let v = evaluate(
        &p,
        &Ev::new()
            .sig(
                cert(MAIN, "https://accounts.google.com", &FIXTURE.public_good),
                "s1",
            )
            .0,
    );
    assert_eq!(v.decision, Decision::Deny);
    // The same identity verified against another trusted root is not this authority.
    check(
        &p,
        Ev::new().sig(cert(MAIN, GHA, &FIXTURE.staging), "s1"),
        Err(&format!(
            "0 of 1 required authorities signed; signature by ci: none (1 other signer: certificate for {MAIN} from {GHA})"
        )),
    );
    // A key is not a certificate.
    assert!(!evaluate(&p, &Ev::new().sig(key(0), "s1").0).admitted());
}

#[test]
fn one_signer_counts_for_one_authority() {
    // Two keyless authorities whose patterns overlap: one certificate is one signer.
    let p = policy(&format!(
        "name: overlap\nrepositories: [prod/**]\nauthorities:\n  - name: acme\n    keyless: {{trusted_root: trusted_root.json, issuer: '{GHA}', subject_regexp: 'https://github.com/acme/.+'}}\n  - name: release\n    keyless: {{trusted_root: trusted_root.json, issuer: '{GHA}', subject: '{MAIN}'}}\nthreshold: 2\n"
    ));
    let one = cert(MAIN, GHA, &FIXTURE.public_good);
    check(
        &p,
        Ev::new().sig(one.clone(), "s1").sig(one.clone(), "s2"),
        Err(&format!(
            "1 of 2 required authorities signed (acme); signature by release: its only signers (certificate for {MAIN} from {GHA}) already count for other authorities"
        )),
    );
    // A second identity matching only the broad pattern completes it: the matching finds
    // the assignment (release <- MAIN, acme <- other) whatever the order.
    let other = cert(
        "https://github.com/acme/tools/.github/workflows/x.yml@refs/heads/dev",
        GHA,
        &FIXTURE.public_good,
    );
    check(
        &p,
        Ev::new().sig(one.clone(), "s1").sig(other.clone(), "s2"),
        Ok(()),
    );
    check(&p, Ev::new().sig(other, "s1").sig(one, "s2"), Ok(()));
}

#[test]
fn warn_mode_decides_the_same_and_does_not_block() {
    let enforce = keys_policy(1, 1);
    let warn = policy(
        "name: w\nrepositories: [prod/**]\nmode: warn\nauthorities: [{name: a, key: a.pub}]\n",
    );
    let ev = Ev::new().sig(key(3), "s1").0;
    let (ve, vw) = (evaluate(&enforce, &ev), evaluate(&warn, &ev));
    assert_eq!(ve.decision, vw.decision);
    assert_eq!(ve.reasons, vw.reasons);
    assert!(ve.blocks());
    assert!(!vw.blocks());
    assert_eq!(vw.mode, Mode::Warn);
    assert!(vw.to_string().contains("in warn mode"));
    let admitted = evaluate(&warn, &Ev::new().sig(key(0), "s1").0);
    assert!(admitted.admitted() && !admitted.blocks());
}

#[test]
fn several_policies_all_apply() {
    let a = keys_policy(1, 1);
    let attested = attest_policy(&[BUILDER_OK]);
    let elsewhere =
        policy("name: other\nrepositories: [staging/*]\nauthorities: [{name: d, key: d.pub}]\n");
    let set = PolicySet::new(vec![a.clone(), attested.clone(), elsewhere.clone()]).unwrap();
    let repo = RepoName::parse("prod/app").unwrap();
    assert_eq!(
        set.for_repository(&repo)
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>(),
        ["keys", "attested"]
    );

    // Signed but not attested: one policy admits, the other denies, so the set denies.
    let out = set.evaluate(&Ev::new().sig(key(0), "s1").0);
    assert_eq!(out.decision(), Some(Decision::Deny));
    assert_eq!(out.blocks(), Some(true));
    assert_eq!(out.verdicts().len(), 2);
    assert!(out.verdicts()[0].admitted() && !out.verdicts()[1].admitted());

    let out = set.evaluate(
        &Ev::new()
            .sig(key(0), "s1")
            .att(key(0), provenance(), "p1")
            .0,
    );
    assert_eq!(out.decision(), Some(Decision::Admit));
    assert_eq!(out.blocks(), Some(false));

    // No policy covers the repository: neither admitted nor denied, the caller decides.
    let out = set.evaluate(&Ev::new().sig(key(0), "s1").repo("dev/app").0);
    assert_eq!(
        out,
        SetVerdict::Uncovered {
            repository: RepoName::parse("dev/app").unwrap()
        }
    );
    assert_eq!(out.decision(), None);
    assert_eq!(out.blocks(), None);
    assert!(out.verdicts().is_empty());
    assert_eq!(out.to_string(), "no policy covers repository dev/app");

    // The empty set covers nothing.
    let empty: [&Policy; 0] = [];
    assert!(matches!(
        evaluate_set(empty, &Ev::new().sig(key(0), "s1").0),
        SetVerdict::Uncovered { .. }
    ));
    // A hand-built `Covered` without verdicts admits nothing, and blocks.
    let none = SetVerdict::Covered { verdicts: vec![] };
    assert_eq!(none.decision(), Some(Decision::Deny));
    assert_eq!(none.blocks(), Some(true));

    // A warn policy that denies does not block; the set's decision is still a denial.
    let warn = policy(
        "name: w\nrepositories: [prod/**]\nmode: warn\nauthorities: [{name: d, key: d.pub}]\n",
    );
    let out = evaluate_set([&a, &warn], &Ev::new().sig(key(0), "s1").0);
    assert_eq!(out.decision(), Some(Decision::Deny));
    assert_eq!(out.blocks(), Some(false));

    assert_eq!(
        PolicySet::new(vec![a.clone(), a]).unwrap_err(),
        PolicySetError::DuplicateName("keys".into())
    );
}

#[test]
fn verdicts_serialize_with_their_reasons() {
    let v = evaluate(
        &attest_policy(&[BUILDER_OK]),
        &Ev::new().att(key(3), provenance(), "p1").0,
    );
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["decision"], "deny");
    assert_eq!(j["mode"], "enforce");
    assert_eq!(j["policy"], "attested");
    assert_eq!(j["reasons"][0]["kind"], "threshold");
    assert_eq!(j["reasons"][3]["kind"], "attestation");
    assert_eq!(j["reasons"][3]["findings"][0]["kind"], "untrusted_signer");
    assert_eq!(j["reasons"][3]["findings"][0]["signer"]["type"], "key");
}

#[test]
fn the_registry_can_verify_with_each_authority() {
    let p = policy(FULL_YAML);
    assert!(matches!(
        p.authorities()[0].identity(),
        crate::sigstore::Identity::Key(_)
    ));
    let crate::sigstore::Identity::Certificate { identity, issuer } = p.authorities()[1].identity()
    else {
        panic!("a certificate identity");
    };
    assert!(identity.matches(MAIN) && !identity.matches(&format!("{MAIN}x")));
    assert!(issuer.matches(GHA));
}

proptest! {
    /// For key-only policies: admitted iff at least `threshold` authorities have a signature
    /// by an unrevoked key, whatever the order, duplicates and unrelated signers.
    #[test]
    fn threshold_counts_distinct_unrevoked_authorities(
        signers in proptest::collection::vec(0usize..4, 0..8),
        revoked in proptest::collection::btree_set(0usize..4, 0..3),
        n in 1usize..=3,
        k_seed in 0usize..3,
    ) {
        let k = 1 + k_seed % n;
        let p = keys_policy(n, k);
        let mut ev = Ev::new();
        for (i, s) in signers.iter().enumerate() {
            ev = ev.sig(key(*s), &format!("s{i}"));
        }
        for r in &revoked {
            ev = ev.revoke_key(*r);
        }
        let distinct: BTreeSet<usize> = signers
            .iter()
            .copied()
            .filter(|s| *s < n && !revoked.contains(s))
            .collect();
        let v = evaluate(&p, &ev.0);
        prop_assert_eq!(v.admitted(), distinct.len() >= k, "{}", v);
        // Monotone: one more valid signature never turns an admission into a denial, and
        // one more revocation never turns a denial into an admission.
        let more = evaluate(&p, &ev.0.clone().tap_sig(key(0)));
        prop_assert!(!v.admitted() || more.admitted());
        let mut revoked_more = ev.0.clone();
        revoked_more.revoked_keys.insert(keys::hex(&FIXTURE.keys[1].fingerprint()));
        prop_assert!(v.admitted() || !evaluate(&p, &revoked_more).admitted());
    }
}

use std::collections::BTreeSet;

trait TapSig {
    fn tap_sig(self, signer: Signer) -> Evidence;
}

impl TapSig for Evidence {
    fn tap_sig(mut self, signer: Signer) -> Evidence {
        self.signatures.push(VerifiedSignature {
            signer,
            evidence: digest_of("extra"),
            names: Vec::new(),
        });
        self
    }
}

// Binding to the repository.

#[test]
fn bind_repository_is_in_the_digest_only_when_true() {
    let base = policy(MINIMAL);
    assert!(!base.bind_repository());
    // The canonical form of a policy without the field is what it was before the field.
    let fingerprint = keys::hex(&FIXTURE.keys[0].fingerprint());
    assert_eq!(
        std::str::from_utf8(base.canonical_json()).unwrap(),
        format!(
            r#"{{"attestations":[],"authorities":[{{"key":"sha256:{fingerprint}","name":"k"}}],"format":"vouch-policy/v1","mode":"enforce","name":"p","repositories":["prod/**"],"threshold":1}}"#
        )
    );
    let off = policy(&format!("{MINIMAL}bind_repository: false\n"));
    assert!(!off.bind_repository());
    assert_eq!(off.canonical_json(), base.canonical_json());
    assert_eq!(off.digest(), base.digest());

    let on = policy(&format!("{MINIMAL}bind_repository: true\n"));
    assert!(on.bind_repository());
    assert_ne!(on.digest(), base.digest());
    let canonical = std::str::from_utf8(on.canonical_json()).unwrap();
    assert!(
        canonical.starts_with(r#"{"attestations":[],"authorities":[{"#)
            && canonical.contains(r#""}],"bind_repository":true,"format":"#),
        "{canonical}"
    );
    let toml = parse_toml(
        "bind_repository = true\nname = \"p\"\nrepositories = [\"prod/**\"]\n[[authorities]]\nname = \"k\"\nkey = \"a.pub\"\n",
    )
    .unwrap();
    assert_eq!(toml.digest(), on.digest());
}

#[test]
fn a_reference_names_its_repository_path() {
    let cases = [
        ("127.0.0.1:5000/prod/app:1.0", "prod/app"),
        ("127.0.0.1:5000/prod/app", "prod/app"),
        ("registry.example/prod/app@sha256:aa", "prod/app"),
        ("localhost/prod/app:latest", "prod/app"),
        ("localhost:5000/prod/app", "prod/app"),
        ("prod/app", "prod/app"),
        ("prod/app:1.0", "prod/app"),
        ("prod/app:1.0@sha256:aa", "prod/app"),
        ("app", "app"),
        ("registry.example:443/a/b/c:tag@sha256:bb", "a/b/c"),
        // Not a reference to prod/app: what is left is not that repository's name.
        (
            "https://registry.example/prod/app",
            "/registry.example/prod/app",
        ),
        ("Prod/App", "Prod/App"),
        ("registry.example/team/prod/app", "team/prod/app"),
        ("", ""),
    ];
    for (reference, repository) in cases {
        assert_eq!(reference_repository(reference), repository, "{reference}");
    }
}

const HERE: &str = "127.0.0.1:5000/prod/app";

fn short_of(label: &str) -> String {
    crate::policy::evidence::short(digest_of(label).as_str())
}

#[test]
fn bound_signatures_count_only_where_they_name_the_repository() {
    let bound = keys_policy_with(1, 1, "bind_repository: true\n");
    let s1 = short_of("s1");
    let names = |what: &str, repository: &str| {
        format!(
            "0 of 1 required authorities signed; signature by a: {s1} by {{A}} {what} (the policy binds signatures to {repository})"
        )
    };
    // The repository, by any host, tag or digest.
    for name in [
        "prod/app",
        HERE,
        "registry.example/prod/app:1.0",
        "localhost/prod/app@sha256:aa",
        "prod/app:latest@sha256:aa",
    ] {
        check(&bound, Ev::new().sig_naming(key(0), "s1", &[name]), Ok(()));
    }
    // One name of several is enough; one bound signature of the signer's is enough.
    check(
        &bound,
        Ev::new().sig_naming(key(0), "s1", &["dev/app", HERE]),
        Ok(()),
    );
    check(
        &bound,
        Ev::new()
            .sig(key(0), "s1")
            .sig_naming(key(0), "s2", &["dev/app"])
            .sig_naming(key(0), "s3", &[HERE]),
        Ok(()),
    );
    // Nothing named (a message signature, cosign 3's nameless statement): it does not count.
    check(
        &bound,
        Ev::new().sig(key(0), "s1"),
        Err(&names("names no repository", "prod/app")),
    );
    // Another repository, however it is spelled.
    for name in [
        "127.0.0.1:5000/dev/app",
        "dev/app:1.0",
        "prod/app/sub",
        "prod",
        "Prod/App",
        "https://127.0.0.1:5000/prod/app",
        "registry.example/team/prod/app",
    ] {
        check(
            &bound,
            Ev::new().sig_naming(key(0), "s1", &[name]),
            Err(&names(&format!("names {name}"), "prod/app")),
        );
    }
    // What counts is the evidence's repository: the same signature, in another one.
    check(
        &bound,
        Ev::new()
            .repo("prod/other")
            .sig_naming(key(0), "s1", &[HERE]),
        Err(&names(&format!("names {HERE}"), "prod/other")),
    );
    // Names as signed, escaped, at most five and 128 characters of each.
    let long = format!("dev/{}", "a".repeat(200));
    check(
        &bound,
        Ev::new().sig_naming(key(0), "s1", &[&long, "dev/a\nb"]),
        Err(&names(
            &format!("names {}…, dev/a\\nb", &long[..128]),
            "prod/app",
        )),
    );
    check(
        &bound,
        Ev::new().sig_naming(key(0), "s1", &["d1", "d2", "d3", "d4", "d5", "d6", "d7"]),
        Err(&names("names d1, d2, d3, d4, d5 and 2 more", "prod/app")),
    );
    // A revoked signer is reported as revoked, bound or not.
    check(
        &bound,
        Ev::new().sig(key(0), "s1").revoke_key(0),
        Err("0 of 1 required authorities signed; signature by a: {A} is revoked"),
    );
    // Someone else's signature naming the repository does not make the authority's count.
    check(
        &bound,
        Ev::new()
            .sig(key(0), "s1")
            .sig_naming(key(3), "s2", &[HERE]),
        Err(&names("names no repository", "prod/app")),
    );

    // Without the option, what a signature names changes nothing (cosign 3 signs no name).
    let unbound = keys_policy(1, 1);
    check(&unbound, Ev::new().sig(key(0), "s1"), Ok(()));
    check(
        &unbound,
        Ev::new().sig_naming(key(0), "s1", &["dev/app"]),
        Ok(()),
    );
}

#[test]
fn a_threshold_counts_only_bound_signers() {
    let bound = keys_policy_with(2, 2, "bind_repository: true\n");
    let s2 = short_of("s2");
    check(
        &bound,
        Ev::new().sig_naming(key(0), "s1", &[HERE]).sig_naming(
            key(1),
            "s2",
            &["127.0.0.1:5000/dev/app"],
        ),
        Err(&format!(
            "1 of 2 required authorities signed (a); signature by b: {s2} by {{B}} names 127.0.0.1:5000/dev/app (the policy binds signatures to prod/app)"
        )),
    );
    check(
        &bound,
        Ev::new()
            .sig_naming(key(0), "s1", &[HERE])
            .sig_naming(key(1), "s2", &["prod/app"]),
        Ok(()),
    );
    // 2 of 3: the unbound signer is not needed.
    let two_of_three = keys_policy_with(3, 2, "bind_repository: true\n");
    check(
        &two_of_three,
        Ev::new()
            .sig_naming(key(0), "s1", &[HERE])
            .sig(key(2), "s3")
            .sig_naming(key(1), "s2", &[HERE]),
        Ok(()),
    );
    let s3 = short_of("s3");
    check(
        &two_of_three,
        Ev::new()
            .sig_naming(key(0), "s1", &[HERE])
            .sig(key(2), "s3"),
        Err(&format!(
            "1 of 2 required authorities signed (a); signature by b: none (2 other signers: {{A}}, {}); signature by c: {s3} by {} names no repository (the policy binds signatures to prod/app)",
            key(2),
            key(2)
        )),
    );
    // The structured reason.
    let v = evaluate(
        &bound,
        &Ev::new()
            .sig_naming(key(0), "s1", &[HERE])
            .sig_naming(key(1), "s2", &["dev/app"])
            .0,
    );
    let j = serde_json::to_value(&v).unwrap();
    let finding = &j["reasons"][1]["finding"];
    assert_eq!(finding["kind"], "unbound", "{j}");
    assert_eq!(finding["names"], json!(["dev/app"]));
    assert_eq!(finding["repository"], "prod/app");
    assert_eq!(finding["evidence"], digest_of("s2").as_str());
    assert_eq!(finding["signer"]["type"], "key");
}

#[test]
fn bound_attestations_count_only_where_a_subject_names_the_repository() {
    let bound = attest_policy_with(&[BUILDER_OK], "bind_repository: true\n");
    let artifact = digest_of("artifact");
    let other = digest_of("other");
    let signed = || Ev::new().sig_naming(key(0), "s1", &[HERE]);
    let p1 = short_of("p1");
    let unbound = |what: &str| {
        format!(
            "attestation https://slsa.dev/provenance/v1: {p1} {what} (the policy binds attestations to prod/app)"
        )
    };
    check(
        &bound,
        signed().att_about(key(0), "p1", &[(HERE, &artifact)]),
        Ok(()),
    );
    check(
        &bound,
        signed().att_about(key(1), "p1", &[("prod/app:1.0", &artifact)]),
        Ok(()),
    );
    // The name must be on a subject with the artifact's digest.
    check(
        &bound,
        signed().att_about(key(0), "p1", &[(HERE, &other), ("", &artifact)]),
        Err(&unbound("names no repository")),
    );
    check(
        &bound,
        signed().att(key(0), provenance(), "p1"),
        Err(&unbound("names no repository")),
    );
    check(
        &bound,
        signed().att_about(
            key(0),
            "p1",
            &[("127.0.0.1:5000/dev/app", &artifact), (HERE, &other)],
        ),
        Err(&unbound("names 127.0.0.1:5000/dev/app")),
    );
    // One bound attestation among unbound ones is enough.
    check(
        &bound,
        signed()
            .att_about(key(0), "p1", &[("dev/app", &artifact)])
            .att_about(key(0), "p2", &[(HERE, &artifact)]),
        Ok(()),
    );
    // The signer is checked first: an untrusted one is reported as such.
    check(
        &bound,
        signed().att_about(key(3), "p1", &[("dev/app", &artifact)]),
        Err(&format!(
            "attestation https://slsa.dev/provenance/v1: {p1} is signed by {{D}}, none of the policy's authorities"
        )),
    );
    // Signatures are bound too: the attestation does not lend its name to them.
    check(
        &bound,
        Ev::new()
            .sig(key(0), "s1")
            .att_about(key(0), "p1", &[(HERE, &artifact)]),
        Err(&format!(
            "0 of 1 required authorities signed; signature by a: {} by {{A}} names no repository (the policy binds signatures to prod/app); signature by b: none (1 other signer: {{A}})",
            short_of("s1")
        )),
    );
    // Without the option, the subject's name changes nothing.
    check(
        &attest_policy(&[BUILDER_OK]),
        Ev::new()
            .sig(key(0), "s1")
            .att_about(key(0), "p1", &[("dev/app", &artifact)]),
        Ok(()),
    );
}
