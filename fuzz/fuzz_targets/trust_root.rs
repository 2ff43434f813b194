//! Fuzzes `TrustedRoot::from_json` and preparing what parses for verification
//! (`sigstore::Verifier::new`). Neither may panic, nor may verifying a real bundle against
//! whatever root comes out. Parsing is a function of the input, and every log and authority the
//! JSON lists is accounted for exactly once: usable (with a validity that does not end before it
//! starts, and authorities with a non-empty chain) or listed as skipped with a reason. Preparing
//! only adds to what was skipped, at most once per log and authority. Seeds
//! (fuzz/seeds/trust_root): the production and staging trusted roots and the conformance suite's
//! Rekor v2 root.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use verify::bundle::Bundle;
use verify::sigstore::{Artifact, Identity, Matcher, Options, Verifier};
use verify::time::{Timestamp, Validity};
use verify::trust_root::TrustedRoot;

const CASES: &str = "sigstore-conformance/bundle-verify";

/// Bundles verified against every root that parses (a Rekor v1 and a Rekor v2 one), with what
/// they are verified as.
struct Probe {
    bundles: Vec<Bundle>,
    artifact: Artifact,
    identity: Identity,
    options: Options,
}

fn shared(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/signing")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fuzz trust_root needs {}: {e}", p.display()))
}

static PROBE: LazyLock<Probe> = LazyLock::new(|| Probe {
    bundles: ["happy-path-v0.3", "rekor2-happy-path"]
        .iter()
        .map(|case| {
            Bundle::from_json(&shared(&format!("{CASES}/{case}/bundle.sigstore.json")))
                .unwrap_or_else(|e| panic!("{case}: {e}"))
        })
        .collect(),
    artifact: Artifact::from_bytes(shared(&format!("{CASES}/a.txt"))),
    identity: Identity::Certificate {
        identity: Matcher::Exact("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main".into()),
        issuer: Matcher::Exact("https://token.actions.githubusercontent.com".into()),
    },
    options: Options {
        now: Timestamp::from_unix(1_767_225_600), // 2026-01-01
        allow_no_tlog_with_key: false,
    },
});

fuzz_target!(|data: &[u8]| {
    let probe = &*PROBE;
    let root = match TrustedRoot::from_json(data) {
        Ok(root) => root,
        Err(e) => return drop(e.to_string()),
    };
    let again = TrustedRoot::from_json(data).expect("accepted once, accepted again");
    assert_eq!(format!("{again:?}"), format!("{root:?}"));
    check_accounting(data, &root);

    let skipped_by_parse = root.skipped.clone();
    let preparable = root.tlogs.len()
        + root.certificate_authorities.len()
        + root.timestamp_authorities.len();
    let verifier = Verifier::new(root);
    assert!(verifier.skipped.starts_with(&skipped_by_parse));
    assert!(verifier.skipped.len() - skipped_by_parse.len() <= preparable);
    for s in &verifier.skipped {
        assert!(!s.why.is_empty(), "{s:?}");
    }
    for bundle in &probe.bundles {
        match verifier.verify(bundle, &probe.artifact, &probe.identity, &probe.options) {
            Ok(v) => assert!(!v.times.is_empty() && !v.log_entries.is_empty()),
            Err(failure) => drop(failure.to_string()),
        }
    }
});

/// Every entry of the four lists is either kept or skipped, once; what is kept is usable.
fn check_accounting(data: &[u8], root: &TrustedRoot) {
    let ordered = |v: &Validity| v.end.is_none_or(|end| v.start <= end);
    for log in root.tlogs.iter().chain(&root.ctlogs) {
        assert!(ordered(&log.validity), "{log:?}");
    }
    for a in root
        .certificate_authorities
        .iter()
        .chain(&root.timestamp_authorities)
    {
        assert!(ordered(&a.validity) && !a.chain.is_empty(), "{a:?}");
    }
    // Counted independently (serde_json::Value refuses lone surrogates in strings the typed
    // reading ignores; then there is nothing to compare with).
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let listed: usize = [
        "tlogs",
        "ctlogs",
        "certificateAuthorities",
        "timestampAuthorities",
    ]
    .iter()
    .map(|k| doc.get(*k).and_then(Value::as_array).map_or(0, Vec::len))
    .sum();
    let kept = root.tlogs.len()
        + root.ctlogs.len()
        + root.certificate_authorities.len()
        + root.timestamp_authorities.len();
    assert_eq!(kept + root.skipped.len(), listed);
}
