//! The real bundles of `../shared/fixtures/signing` (sigstore-python, sigstore-go, cosign,
//! slsa-verifier) through `vouch verify-blob` and `vouch verify-blob-attestation`, as users
//! run them: every row pins the exit code, and the signer where the fixtures' README names it,
//! or the reason for a refusal.
//!
//! Where the README leaves the verdict to policy or records peers disagreeing, the row pins
//! vouch's decision and says why.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::Value;

use crate::signing::{Verdict, fingerprint, fixture, read_json, run, statement};

const GITHUB_ACTIONS: &str = "https://token.actions.githubusercontent.com";
const GITHUB_OAUTH: &str = "https://github.com/login/oauth";
const PROD_ROOT: &str = "trust/public-good-trusted_root.json";
const STAGING_ROOT: &str = "trust/staging-trusted_root.json";
const SIGSTORE_JS_RELEASE: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";

/// A workflow of slsa-github-generator, as its certificates name it.
macro_rules! generator {
    ($workflow:literal) => {
        concat!(
            "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/",
            $workflow
        )
    };
}
const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";

/// Who must have signed.
enum Signer {
    /// `--key` (a fixture path); a verified row reports this key's fingerprint.
    Key(&'static str),
    /// `--certificate-identity` and `--certificate-oidc-issuer`; a verified row reports them.
    Cert(&'static str, &'static str),
    /// Any identity and issuer (regular expressions): for bundles that must fail for what
    /// they are, whoever signed them.
    AnyCert,
}

/// What the bundle is about.
enum Artifact {
    File(PathBuf),
    /// `--digest ALG:HEX`, for artifacts the fixtures do not include.
    Digest(String),
}

enum Expect {
    Verified,
    /// Exit code 1 with this in the reason.
    Denied(&'static str),
}

struct Row {
    name: String,
    /// `verify-blob` or `verify-blob-attestation`.
    verb: &'static str,
    bundle: PathBuf,
    root: &'static str,
    signer: Signer,
    artifact: Artifact,
    /// More flags (`--type`, `--builder-id`, `--source-uri`).
    flags: Vec<String>,
    expect: Expect,
}

fn row(name: &str, verb: &'static str, bundle: &str, root: &'static str) -> Row {
    Row {
        name: name.to_owned(),
        verb,
        bundle: fixture(bundle),
        root,
        signer: Signer::AnyCert,
        artifact: Artifact::Digest(String::new()),
        flags: Vec::new(),
        expect: Expect::Verified,
    }
}

impl Row {
    fn signer(mut self, signer: Signer) -> Row {
        self.signer = signer;
        self
    }

    fn file(mut self, path: &str) -> Row {
        self.artifact = Artifact::File(fixture(path));
        self
    }

    fn digest(mut self, digest: String) -> Row {
        self.artifact = Artifact::Digest(digest);
        self
    }

    fn flags(mut self, flags: &[&str]) -> Row {
        self.flags.extend(flags.iter().map(|f| (*f).to_owned()));
        self
    }

    fn provenance(self, builder_id: &str, source_uri: &str) -> Row {
        self.flags(&["--builder-id", builder_id, "--source-uri", source_uri])
    }

    fn denied(mut self, reason: &'static str) -> Row {
        self.expect = Expect::Denied(reason);
        self
    }

    fn bundle_at(mut self, path: PathBuf) -> Row {
        self.bundle = path;
        self
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec![
            self.verb.to_owned(),
            "--output".into(),
            "json".into(),
            "--bundle".into(),
            self.bundle.display().to_string(),
            "--trusted-root".into(),
            fixture(self.root).display().to_string(),
        ];
        match &self.signer {
            Signer::Key(key) => args.extend(["--key".into(), fixture(key).display().to_string()]),
            Signer::Cert(identity, issuer) => args.extend([
                "--certificate-identity".into(),
                (*identity).into(),
                "--certificate-oidc-issuer".into(),
                (*issuer).into(),
            ]),
            Signer::AnyCert => args.extend([
                "--certificate-identity-regexp".into(),
                ".*".into(),
                "--certificate-oidc-issuer-regexp".into(),
                ".*".into(),
            ]),
        }
        args.extend(self.flags.iter().cloned());
        match &self.artifact {
            Artifact::File(path) => args.push(path.display().to_string()),
            Artifact::Digest(d) => args.extend(["--digest".into(), d.clone()]),
        }
        args
    }

    /// Runs the row; `None` if vouch answered as expected, else what went wrong.
    fn check(&self) -> Option<String> {
        let v = run(self.args());
        let outcome = std::panic::catch_unwind(|| self.judge(&v));
        outcome.err().map(|e| {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            format!("{}: {msg}", self.name)
        })
    }

    fn judge(&self, v: &Verdict) {
        match self.expect {
            Expect::Denied(reason) => v.denied(&self.name, reason),
            Expect::Verified => {
                let report = v.verified(&self.name);
                let signer = &report["signer"];
                match &self.signer {
                    Signer::Key(key) => {
                        assert_eq!(signer["key"], fingerprint(&fixture(key)), "{report}")
                    }
                    Signer::Cert(identity, issuer) => {
                        assert_eq!(signer["identity"], *identity, "{report}");
                        assert_eq!(signer["issuer"], *issuer, "{report}");
                    }
                    Signer::AnyCert => panic!("a verified row names its signer"),
                }
                if let Some(i) = self.flags.iter().position(|f| f == "--source-uri") {
                    let repo = self.flags[i + 1].trim_start_matches("https://");
                    let source = report["provenance"]["sourceUri"].as_str().unwrap_or("");
                    assert!(
                        source.starts_with(&format!("git+https://{repo}@")),
                        "{source:?} is not from {repo}"
                    );
                }
            }
        }
    }
}

/// `sha512:HEX` of an npm `dist.integrity` value (`sha512-BASE64`), as npm's registry
/// publishes it for a package version.
fn npm_integrity(integrity: &str) -> String {
    let b64 = integrity
        .strip_prefix("sha512-")
        .expect("an npm sha512 integrity");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    format!("sha512:{}", verify::keys::hex(&bytes))
}

/// The first subject's digest of a DSSE bundle's statement, for artifacts that exist nowhere
/// but in the statement (a test package, an image manifest not in the fixtures). Such a row
/// checks everything but which artifact the statement is about.
fn own_subject(bundle: &str) -> String {
    let st = statement(&read_json(&fixture(bundle)));
    let digest = st["subject"][0]["digest"]
        .as_object()
        .expect("a subject digest");
    let (alg, hex) = ["sha256", "sha512"]
        .iter()
        .find_map(|a| digest.get(*a).map(|h| (*a, h)))
        .expect("a sha256 or sha512 subject");
    format!("{alg}:{}", hex.as_str().expect("hex"))
}

/// The bundles of an npm attestations document (`{"attestations":[{predicateType, bundle}]}`),
/// written to files: (predicate type, path).
fn npm_bundles(dir: &std::path::Path, doc: &str) -> Vec<(String, PathBuf)> {
    let json = read_json(&fixture(doc));
    let list = json["attestations"].as_array().expect("attestations");
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            let name = PathBuf::from(doc).file_name().unwrap().to_owned();
            let path = dir.join(format!("{}.{i}.json", name.to_string_lossy()));
            std::fs::write(&path, a["bundle"].to_string()).expect("write a bundle");
            let predicate_type = a["predicateType"].as_str().unwrap_or_default().to_owned();
            (predicate_type, path)
        })
        .collect()
}

fn rows(tmp: &std::path::Path) -> Vec<Row> {
    let blob = "verify-blob";
    let att = "verify-blob-attestation";
    // npm's registry, `npm view sigstore@2.0.0 dist.integrity` and `sigstore@1.3.0`: the
    // packages the sigstore-go bundles are about.
    let sigstore_2_0_0 = npm_integrity(
        "sha512-RtTi90xIdzFmQAAKb9+Ki1nx4IR2Z5c+mFn3dN0xuPHgk3gTt3f7ZqKsZ9UFQP40ZAlm7un8LMyjhwgrTIXNPA==",
    );
    let sigstore_1_3_0 = npm_integrity(
        "sha512-dhdv+jOAi1RgLHw13lxumk3rlgZtumUz9QrCNPTx9MazUnUV3BfAb74oYAMPQQ7uaeogB5vTosbz3POzKbEHUQ==",
    );
    let mut rows = vec![
        // --- sigstore-python
        row("python: bundle_v3_github.whl", blob, "sigstore-python/bundle_v3_github.whl.sigstore", PROD_ROOT)
            .signer(Signer::Cert(
                "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
                GITHUB_ACTIONS,
            ))
            .file("sigstore-python/bundle_v3_github.whl"),
        // Policy-dependent (README): a v0.1 bundle whose entry has a SET and an inclusion
        // proof without its checkpoint. vouch refuses, as sigstore-python and sigstore-go do:
        // the proof leads to a root hash nobody signed, and vouch never accepts a proof it
        // cannot check, nor ignores a malformed one to fall back on the SET. (A v0.1 entry
        // with a SET and no proof at all is accepted.) The tarball is not in the fixtures; its
        // SHA-256 is the one the README states.
        row("python: Python-3.12.5.tgz (v0.1, proof without checkpoint)", blob, "sigstore-python/Python-3.12.5.tgz.sigstore", PROD_ROOT)
            .signer(Signer::Cert("thomas@python.org", "https://accounts.google.com"))
            .digest("sha256:38dc4e2c261d49c661196066edbfb70fdb16be4a79cc8220c224dfeb5636d405".into())
            .denied("the inclusion proof has no checkpoint"),
        row("python: staging bundle.txt (v0.1, P-384 over SHA-256)", blob, "sigstore-python/staging/bundle.txt.sigstore", STAGING_ROOT)
            .signer(Signer::Cert("a@tny.town", GITHUB_OAUTH))
            .file("sigstore-python/staging/bundle.txt"),
        row("python: staging bundle_v3.txt", blob, "sigstore-python/staging/bundle_v3.txt.sigstore", STAGING_ROOT)
            .signer(Signer::Cert("william@yossarian.net", GITHUB_OAUTH))
            .file("sigstore-python/staging/bundle_v3.txt"),
        row("python: staging CVE-2022-36056", blob, "sigstore-python/staging/bundle_cve_2022_36056.txt.sigstore", STAGING_ROOT)
            .file("sigstore-python/staging/bundle_cve_2022_36056.txt")
            .denied("log entry records a different signature than the bundle"),
        row("python: staging invalid version", blob, "sigstore-python/staging/bundle_invalid_version.txt.sigstore", STAGING_ROOT)
            .file("sigstore-python/staging/bundle_invalid_version.txt")
            .denied("unsupported bundle media type"),
        row("python: staging v0.1 without certificate", blob, "sigstore-python/staging/bundle_no_cert_v1.txt.sigstore", STAGING_ROOT)
            .file("sigstore-python/staging/bundle_no_cert_v1.txt")
            .denied("the certificate chain is empty"),
        row("python: staging without log entry", blob, "sigstore-python/staging/bundle_no_log_entry.txt.sigstore", STAGING_ROOT)
            .file("sigstore-python/staging/bundle_no_log_entry.txt")
            .denied("the bundle has no transparency log entry"),
        // The statement's subject is the conformance suite's a.txt (the file beside the bundle
        // is sigstore-python's own a.txt, which its DSSE test never compares).
        row("python: staging DSSE on Rekor v2", blob, "sigstore-python/staging/a.dsse.staging-rekor-v2.txt.sigstore.json", STAGING_ROOT)
            .signer(Signer::Cert(BEACON, GITHUB_ACTIONS))
            .file("sigstore-conformance/bundle-verify/a.txt"),
        row("python: staging DSSE on Rekor v2, its neighbour file", blob, "sigstore-python/staging/a.dsse.staging-rekor-v2.txt.sigstore.json", STAGING_ROOT)
            .signer(Signer::Cert(BEACON, GITHUB_ACTIONS))
            .file("sigstore-python/staging/a.dsse.staging-rekor-v2.txt")
            .denied("no subject of the in-toto statement is the artifact"),
        // --- sigstore-go
        row("go: sigstore.js@2.0.0 provenance", att, "sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json", PROD_ROOT)
            .signer(Signer::Cert(SIGSTORE_JS_RELEASE, GITHUB_ACTIONS))
            .digest(sigstore_2_0_0.clone())
            .flags(&["--type", "slsaprovenance1"]),
        row("go: sigstore.js@2.0.0 provenance, wrong type", att, "sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json", PROD_ROOT)
            .signer(Signer::Cert(SIGSTORE_JS_RELEASE, GITHUB_ACTIONS))
            .digest(sigstore_2_0_0)
            .flags(&["--type", "slsaprovenance02"])
            .denied("predicate type is \"https://slsa.dev/provenance/v1\", not \"https://slsa.dev/provenance/v0.2\""),
        // A v0.1 chain that carries Sigstore's own intermediate and root: superfluous,
        // ignored for path building (protobuf-specs says verifiers should), so it verifies.
        row("go: bundle-provenance (SLSA v0.2, chain with the root)", att, "sigstore-go/bundle-provenance.json", PROD_ROOT)
            .signer(Signer::Cert(SIGSTORE_JS_RELEASE, GITHUB_ACTIONS))
            .digest(sigstore_1_3_0.clone())
            .flags(&["--type", "slsaprovenance"])
            .provenance("https://github.com/actions/runner", "github.com/sigstore/sigstore-js"),
        row("go: bundle-publish with npm's key", att, "sigstore-go/bundle-publish.json", PROD_ROOT)
            .signer(Signer::Key("sigstore-go/publish_key.pub"))
            .digest(sigstore_1_3_0.clone()),
        row("go: bundle-publish with another key", att, "sigstore-go/bundle-publish.json", PROD_ROOT)
            .signer(Signer::Key("sigstore-go/public-key-validity.pem"))
            .digest(sigstore_1_3_0)
            .denied("the signature does not verify with the signer's key over the DSSE envelope"),
        // slsa-provenance-0.0.7.tgz is in no registry (sigstore-go's test skips the artifact).
        row("go: dsse.sigstore.json", att, "sigstore-go/dsse.sigstore.json", PROD_ROOT)
            .signer(Signer::Cert("brian@dehamer.com", GITHUB_OAUTH))
            .digest(own_subject("sigstore-go/dsse.sigstore.json")),
        row("go: dsse-2sigs", att, "sigstore-go/dsse-2sigs.sigstore.json", PROD_ROOT)
            .signer(Signer::Cert("brian@dehamer.com", GITHUB_OAUTH))
            .digest(own_subject("sigstore-go/dsse-2sigs.sigstore.json"))
            .denied("the DSSE envelope must carry exactly one signature, it has 2"),
        // Divergence (README: sigstore-go accepts, sigstore-js refuses). vouch refuses, as
        // sigstore-js does: a Rekor v1 checkpoint must name the log the trusted root lists
        // ("<host of its baseUrl> - <tree id>"); this private instance signed checkpoints
        // under its pod's name, which names no trusted log. Accepting would let any note the
        // key signed, for whatever log it claims to be, stand for this one. (The artifact is
        // not in the fixtures; its digest is the one sigstore-go's own test passes.)
        row("go: othername on a private instance", blob, "sigstore-go/othername.sigstore.json", "sigstore-go/scaffolding.json")
            .signer(Signer::Cert("foo!oidc.local", "http://oidc.local:8080"))
            .digest("sha256:bc103b4a84971ef6459b294a2b98568a2bfb72cded09d4acd1e16366a401f95b".into())
            .denied("checkpoint origin \"rekor-00001-deployment-56bf7777c9-jds5x - 6364419738405537866\" is not"),
        row("go: public-key-validity (key, RFC 3161 timestamp)", blob, "sigstore-go/public-key-validity.sigstore.json", "sigstore-go/public-key-validity.json")
            .signer(Signer::Key("sigstore-go/public-key-validity.pem"))
            .file("sigstore-go/public-key-validity.artifact.txt"),
        // --- cosign: an image attestation; the subject is the image manifest's digest.
        row("cosign: OCI attestation", att, "cosign/oci-attestation.sigstore.json", "trust/cosign-trusted_root_pgi.json")
            .signer(Signer::Cert("cody@soyland.com", GITHUB_OAUTH))
            .digest(own_subject("cosign/oci-attestation.sigstore.json"))
            .flags(&["--type", "custom"]),
        // --- slsa-verifier: GitHub's generators. sigstore-python refuses these (Rekor
        // `intoto` 0.0.2 entries, Statement v0.1): vouch verifies them, as sigstore-js and
        // slsa-verifier do; both are formats the log and the generators still produce.
        row("slsa-verifier: container-based v2.1.0", att, "slsa-verifier/gha_container-based/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.build.slsa", PROD_ROOT)
            .signer(Signer::Cert(generator!("builder_container-based_slsa3.yml@refs/tags/v2.1.0"), GITHUB_ACTIONS))
            .file("slsa-verifier/gha_container-based/v2.1.0/binary-linux-amd64-workflow_dispatch")
            .flags(&["--type", "slsaprovenance1"])
            .provenance(
                "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml@v2.1.0",
                "github.com/slsa-framework/example-package",
            ),
        row("slsa-verifier: delegator v1.10.0", att, "slsa-verifier/gha_delegator/v1.10.0/binary-linux-amd64-workflow_dispatch.build.slsa", PROD_ROOT)
            .signer(Signer::Cert(generator!("delegator_generic_slsa3.yml@refs/tags/v1.10.0"), GITHUB_ACTIONS))
            .file("slsa-verifier/gha_delegator/v1.10.0/binary-linux-amd64-workflow_dispatch")
            .provenance(
                "https://github.com/slsa-framework/example-trw/.github/workflows/builder_high-perms_slsa3.yml@v1.10.0",
                "github.com/slsa-framework/example-package",
            ),
        // The 1.4 MB binary is not in the fixtures; its SHA-256 is the one the README states.
        row("slsa-verifier: generic v2.1.0", att, "slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl", PROD_ROOT)
            .signer(Signer::Cert(generator!("generator_generic_slsa3.yml@refs/tags/v2.1.0"), GITHUB_ACTIONS))
            .digest("sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa".into())
            .flags(&["--type", "slsaprovenance02"])
            .provenance(
                "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0",
                "https://github.com/slsa-framework/example-package",
            ),
        row("slsa-verifier: generic v2.1.0, another source", att, "slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl", PROD_ROOT)
            .signer(Signer::Cert(generator!("generator_generic_slsa3.yml@refs/tags/v2.1.0"), GITHUB_ACTIONS))
            .digest("sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa".into())
            .provenance(
                "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0",
                "github.com/slsa-framework/another-package",
            )
            .denied("provenance: the provenance's source"),
        row("slsa-verifier: generic v2.1.0, another builder", att, "slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl", PROD_ROOT)
            .signer(Signer::Cert(generator!("generator_generic_slsa3.yml@refs/tags/v2.1.0"), GITHUB_ACTIONS))
            .digest("sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa".into())
            .provenance(
                "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml",
                "github.com/slsa-framework/example-package",
            )
            .denied("provenance: the provenance's builder"),
    ];

    // npm: each attestations document holds the registry's publish attestation (npm's key)
    // and the build's SLSA provenance (keyless); the twins tamper with one DSSE each.
    let tgz = "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega.tgz";
    for (doc, publish_ok, provenance_ok) in [
        ("provenance-npm-test-cli-v1-prega.tgz.json", true, true),
        (
            "provenance-npm-test-cli-v1-prega-invalidsigprov.tgz.json",
            true,
            false,
        ),
        (
            "provenance-npm-test-cli-v1-prega-invalidsigpub.tgz.json",
            false,
            true,
        ),
    ] {
        let bundles = npm_bundles(tmp, &format!("slsa-verifier/npm/gha/{doc}"));
        let by_type = |t: &str| {
            bundles
                .iter()
                .find(|(pt, _)| pt == t)
                .map(|(_, p)| p.clone())
                .unwrap_or_else(|| panic!("{doc} has no {t} attestation"))
        };
        let bad_dsse = "the signature does not verify with the signer's key over the DSSE envelope";
        let publish = row(
            &format!("npm {doc}: publish attestation"),
            att,
            "",
            PROD_ROOT,
        )
        .bundle_at(by_type(
            "https://github.com/npm/attestation/tree/main/specs/publish/v0.1",
        ))
        .signer(Signer::Key("sigstore-go/publish_key.pub"))
        .file(tgz);
        rows.push(if publish_ok {
            publish
        } else {
            publish.denied(bad_dsse)
        });
        let provenance = row(
            &format!("npm {doc}: SLSA v1 provenance"),
            att,
            "",
            PROD_ROOT,
        )
        .bundle_at(by_type("https://slsa.dev/provenance/v1"))
        .signer(Signer::Cert(SIGSTORE_JS_RELEASE, GITHUB_ACTIONS))
        .file(tgz)
        .flags(&["--type", "slsaprovenance1"])
        .provenance(
            "https://github.com/actions/runner/github-hosted",
            "github.com/sigstore/sigstore-js",
        );
        rows.push(if provenance_ok {
            provenance
        } else {
            provenance.denied(bad_dsse)
        });
    }
    rows
}

#[test]
fn real_bundles_give_the_verdicts_their_readme_states() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = rows(tmp.path());
    let failures: Vec<String> = rows.iter().filter_map(Row::check).collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn the_npm_twins_each_tamper_with_one_payload() {
    // The premise of the npm rows: each twin differs from the original in exactly one
    // attestation, and there in the signed DSSE payload only (its signature is the original's).
    let tmp = tempfile::tempdir().unwrap();
    let dir = "slsa-verifier/npm/gha";
    let original = npm_bundles(
        tmp.path(),
        &format!("{dir}/provenance-npm-test-cli-v1-prega.tgz.json"),
    );
    for (twin, tampered) in [
        (
            "provenance-npm-test-cli-v1-prega-invalidsigprov.tgz.json",
            "https://slsa.dev/provenance/v1",
        ),
        (
            "provenance-npm-test-cli-v1-prega-invalidsigpub.tgz.json",
            "https://github.com/npm/attestation/tree/main/specs/publish/v0.1",
        ),
    ] {
        for ((t, a), (_, b)) in original
            .iter()
            .zip(npm_bundles(tmp.path(), &format!("{dir}/{twin}")))
        {
            let (a, b): (Value, Value) = (read_json(a), read_json(&b));
            let payload = |v: &Value| v["dsseEnvelope"]["payload"].clone();
            assert_eq!(payload(&a) != payload(&b), t == tampered, "{twin}: {t}");
            let mut b = b.clone();
            b["dsseEnvelope"]["payload"] = payload(&a);
            assert_eq!(a, b, "{twin}: {t} differs beyond its payload");
        }
    }
}
