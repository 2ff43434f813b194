//! Fuzzes policy documents (`verify::policy::parse`, YAML or TOML by the first byte) and the
//! decision over them. Nothing may panic. A document that loads is a function of its bytes
//! (the same digest twice), its digest is the SHA-256 of its canonical JSON, and that
//! canonical JSON, written back as a document (JSON is YAML; keys and roots named by file
//! again), loads to the same digest: the canonical form loses nothing the decision uses. The
//! decision fails closed: no evidence, or a revoked artifact, or every key revoked with no
//! certificate, never admits; it is deterministic; an admission has no reasons, cites only
//! evidence it was given, and a verdict names the policy's digest. Under `bind_repository`,
//! evidence whose signatures name no repository, or another one, never admits; without it,
//! what signatures name changes nothing. Seeds (fuzz/seeds/policy):
//! `y` + a YAML document or `t` + a TOML one, naming `a.pub`, `b.pub` and `root.json`.
#![no_main]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use oci::{Algorithm, Digest, RepoName};
use serde_json::{Value, json};
use verify::intoto::Subject;
use verify::keys::{self, PublicKey};
use verify::policy::{
    Decision, Evidence, Format, Policy, Signer, VerifiedAttestation, VerifiedSignature, evaluate,
    parse,
};

const KEY_A: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYdkCstZOcb8XjSxCGkfB5qew540J
HPBZ0T1A3AeD3DBbLoJ9OX/QuBPJsV/sQiNtAxNF9HMMLStYmMKww6QyIA==
-----END PUBLIC KEY-----
";
const KEY_B: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGDUQEtK00lAuKc/sbFj/KKoVPYiC
ThC7YaieD/ouwmz9sROvTqkkffLMGdiJI/R1XYO3k2T3VJxe1soTcRZNeQ==
-----END PUBLIC KEY-----
";
const GHA: &str = "https://token.actions.githubusercontent.com";
const MAIN: &str = "https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main";

struct Fixture {
    root: Vec<u8>,
    root_digest: Digest,
    fingerprints: [String; 2],
    /// Evidence that satisfies many policies: both keys, a GitHub Actions certificate, and a
    /// SLSA provenance attestation signed by each, all naming `prod/app`, its repository.
    rich: Evidence,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/signing/trust/public-good-trusted_root.json");
    let root = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("fuzz policy needs {}: {e}", path.display()));
    let root_digest = Digest::compute(Algorithm::Sha256, &root);
    let key = |pem: &str| PublicKey::from_pem(pem).expect("a fixed valid key");
    let (a, b) = (key(KEY_A), key(KEY_B));
    let fingerprints = [keys::hex(&a.fingerprint()), keys::hex(&b.fingerprint())];
    let d = |s: &str| Digest::compute(Algorithm::Sha256, s.as_bytes());
    let cert = Signer::Certificate {
        identity: MAIN.to_owned(),
        issuer: GHA.to_owned(),
        trusted_root: root_digest.clone(),
    };
    let mut rich = Evidence::new(d("artifact"), RepoName::parse("prod/app").expect("a name"));
    let name = "127.0.0.1:5000/prod/app";
    let subject = Subject {
        name: name.to_owned(),
        digest: [("sha256".to_owned(), rich.artifact.hex().to_owned())]
            .into_iter()
            .collect(),
    };
    for (i, signer) in [Signer::key(&a), Signer::key(&b), cert]
        .into_iter()
        .enumerate()
    {
        rich.signatures.push(VerifiedSignature {
            signer: signer.clone(),
            evidence: d(&format!("sig{i}")),
            names: vec![name.to_owned()],
        });
        rich.attestations.push(VerifiedAttestation {
            predicate_type: "https://slsa.dev/provenance/v1".to_owned(),
            predicate: provenance(),
            subject: vec![subject.clone()],
            signer,
            evidence: d(&format!("att{i}")),
        });
    }
    Fixture {
        root,
        root_digest,
        fingerprints,
        rich,
    }
});

fn provenance() -> Value {
    json!({
        "buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {"workflow": {
                "ref": "refs/heads/main",
                "repository": "https://github.com/acme/widget",
                "path": ".github/workflows/release.yml"
            }},
            "resolvedDependencies": [{
                "uri": "git+https://github.com/acme/widget@refs/heads/main",
                "digest": {"gitCommit": "46e7056ff9912ebfee5298d94024895a9fea76c0"}
            }]
        },
        "runDetails": {
            "builder": {"id": "https://github.com/actions/runner/github-hosted"},
            "metadata": {"invocationId": "https://github.com/acme/widget/actions/runs/1/attempts/1"}
        }
    })
}

fn read(path: &Path) -> io::Result<Vec<u8>> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match name {
        "a.pub" => Ok(KEY_A.as_bytes().to_vec()),
        "b.pub" => Ok(KEY_B.as_bytes().to_vec()),
        "root.json" => Ok(FIXTURE.root.clone()),
        _ => Err(io::Error::from(io::ErrorKind::NotFound)),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, doc)) = data.split_first() else {
        return;
    };
    let format = if selector == b't' {
        Format::Toml
    } else {
        Format::Yaml
    };
    let base = Path::new("/policies");
    let Ok(policy) = parse(doc, format, base, &read) else {
        return;
    };
    let again = parse(doc, format, base, &read).expect("a document that loaded loads again");
    assert_eq!(again.digest(), policy.digest());
    assert!(policy.digest().matches(policy.canonical_json()));
    assert!(policy.threshold() >= 1 && policy.threshold() <= policy.authorities().len());

    // The canonical form, as a document again, is the same policy.
    let rewritten = document_from_canonical(policy.canonical_json());
    let reloaded = parse(rewritten.as_bytes(), Format::Yaml, base, &read)
        .unwrap_or_else(|e| panic!("the canonical form does not load: {e}\n{rewritten}"));
    assert_eq!(reloaded.digest(), policy.digest(), "{rewritten}");

    check_decisions(&policy);
});

/// The canonical JSON with key fingerprints and trusted-root digests turned back into the
/// file names that hold them, printed as ASCII-only JSON (a YAML document).
fn document_from_canonical(canonical: &[u8]) -> String {
    let mut v: Value = serde_json::from_slice(canonical).expect("canonical JSON is JSON");
    let m = v.as_object_mut().expect("canonical JSON is an object");
    m.remove("format");
    if let Some(Value::Array(authorities)) = m.get_mut("authorities") {
        for a in authorities {
            if let Some(k) = a.get_mut("key") {
                let fp = k.as_str().unwrap_or("").trim_start_matches("sha256:");
                let file = if fp == FIXTURE.fingerprints[0] {
                    "a.pub"
                } else if fp == FIXTURE.fingerprints[1] {
                    "b.pub"
                } else {
                    panic!("a key the fixture does not hold: {fp}")
                };
                *k = Value::String(file.to_owned());
            }
            if let Some(root) = a.get_mut("keyless").and_then(|k| k.get_mut("trusted_root")) {
                assert_eq!(root.as_str(), Some(FIXTURE.root_digest.as_str()));
                *root = Value::String("root.json".to_owned());
            }
        }
    }
    let json = serde_json::to_string_pretty(&v).expect("JSON serializes");
    // YAML accepts JSON's escapes, but not every character raw (C1 controls, U+FEFF, ...).
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && c != '\x7f' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

fn check_decisions(policy: &Policy) {
    let f = &*FIXTURE;
    // Nothing verified: nothing admitted.
    let empty = Evidence::new(f.rich.artifact.clone(), f.rich.repository.clone());
    let v = evaluate(policy, &empty);
    assert_eq!(v.decision, Decision::Deny, "{v}");
    assert_eq!(v.policy_digest, *policy.digest());
    assert!(v.evidence.is_empty());

    let v = evaluate(policy, &f.rich);
    assert_eq!(
        v,
        evaluate(policy, &f.rich),
        "the decision is deterministic"
    );
    let given: Vec<&Digest> = f
        .rich
        .signatures
        .iter()
        .map(|s| &s.evidence)
        .chain(f.rich.attestations.iter().map(|a| &a.evidence))
        .collect();
    assert!(v.evidence.iter().all(|d| given.contains(&d)));
    if v.admitted() {
        assert!(v.reasons.is_empty());
        assert!(v.evidence.len() >= policy.threshold());
    } else {
        assert!(!v.reasons.is_empty());
        let _ = v.to_string();
    }
    let _ = serde_json::to_string(&v).expect("a verdict serializes");

    let mut revoked = f.rich.clone();
    revoked.revoked_artifacts.insert(revoked.artifact.clone());
    assert_eq!(evaluate(policy, &revoked).decision, Decision::Deny);

    let mut keys_revoked = f.rich.clone();
    keys_revoked
        .revoked_keys
        .extend(f.fingerprints.iter().cloned());
    keys_revoked
        .signatures
        .retain(|s| matches!(s.signer, Signer::Key { .. }));
    assert_eq!(evaluate(policy, &keys_revoked).decision, Decision::Deny);

    // Signatures that name nothing: the same verdict, unless the policy binds them.
    let mut nameless = f.rich.clone();
    for s in &mut nameless.signatures {
        s.names.clear();
    }
    let unbound = evaluate(policy, &nameless);
    if policy.bind_repository() {
        assert_eq!(unbound.decision, Decision::Deny, "{unbound}");
    } else {
        assert_eq!(unbound, v);
    }
    // Everything names prod/app: in another repository, a binding policy admits nothing.
    let mut elsewhere = f.rich.clone();
    elsewhere.repository = RepoName::parse("prod/other").expect("a name");
    if policy.bind_repository() {
        assert_eq!(evaluate(policy, &elsewhere).decision, Decision::Deny);
    }
}
