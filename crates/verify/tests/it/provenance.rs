//! SLSA provenance checks on the real statements of slsa-verifier's and sigstore-go's
//! fixtures (the DSSE payloads of their bundles): the right artifact, builder and source pass
//! and report what the provenance says; a wrong builder, a wrong source or a tampered subject
//! digest fails with its reason.

use serde_json::Value;
use verify::intoto::{Statement, Version};
use verify::slsa::{
    self, BuilderId, Expectations, ProvenanceFacts, Reason, SourceRepo, UriRole, check_provenance,
};

use crate::common::{self, fixture, read};

/// The statement inside a bundle's DSSE envelope (or an npm attestations document's
/// provenance bundle).
fn statement(path: &str) -> Statement {
    let doc = common::json(&fixture(path));
    let bundle = match doc.get("attestations") {
        Some(list) => list
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["predicateType"] == "https://slsa.dev/provenance/v1")
            .expect("a provenance attestation")["bundle"]
            .clone(),
        None => doc,
    };
    Statement::parse(&common::bundle_envelope(&bundle).payload)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sha256_of(path: &str) -> oci::Digest {
    oci::Digest::compute(oci::Algorithm::Sha256, &read(&fixture(path)))
}

fn sha512_of(path: &str) -> oci::Digest {
    oci::Digest::compute(oci::Algorithm::Sha512, &read(&fixture(path)))
}

fn expect(digest: &oci::Digest, builder: &str, source: &str) -> Expectations {
    Expectations {
        digest: digest.clone(),
        builder_id: BuilderId::parse(builder).unwrap(),
        source: SourceRepo::parse(source).unwrap(),
    }
}

/// One real fixture: its statement, the artifact's digest, the builder and source it was
/// built by and from.
struct Case {
    path: &'static str,
    digest: oci::Digest,
    builder: &'static str,
    source: &'static str,
}

fn cases() -> Vec<Case> {
    let container = "slsa-verifier/gha_container-based/v2.1.0/binary-linux-amd64-workflow_dispatch";
    let delegator = "slsa-verifier/gha_delegator/v1.10.0/binary-linux-amd64-workflow_dispatch";
    let npm = "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega.tgz";
    vec![
        Case {
            path: "slsa-verifier/gha_container-based/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.build.slsa",
            digest: sha256_of(container),
            builder: "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml@v2.1.0",
            source: "github.com/slsa-framework/example-package",
        },
        Case {
            path: "slsa-verifier/gha_delegator/v1.10.0/binary-linux-amd64-workflow_dispatch.build.slsa",
            digest: sha256_of(delegator),
            builder: "https://github.com/slsa-framework/example-trw/.github/workflows/builder_high-perms_slsa3.yml@v1.10.0",
            source: "github.com/slsa-framework/example-package",
        },
        Case {
            // The 1.4 MB binary is not in the fixtures; its digest is stated in their README.
            path: "slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            digest: oci::Digest::parse(
                "sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa",
            )
            .unwrap(),
            builder: "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0",
            source: "https://github.com/slsa-framework/example-package",
        },
        Case {
            path: "slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json",
            digest: sha512_of(npm),
            builder: "https://github.com/actions/runner/github-hosted",
            source: "github.com/sigstore/sigstore-js",
        },
        Case {
            // The package is not in the fixtures; npm's registry states its digest in the
            // publish attestation it signed (checked with npm's key in `dsse_peers`).
            path: "sigstore-go/bundle-provenance.json",
            digest: publish_digest("sigstore-go/bundle-publish.json"),
            builder: "https://github.com/actions/runner",
            source: "git+https://github.com/sigstore/sigstore-js",
        },
    ]
}

/// The sha512 subject of an npm publish attestation.
fn publish_digest(path: &str) -> oci::Digest {
    let bundle = common::json(&fixture(path));
    let statement = Statement::parse(&common::bundle_envelope(&bundle).payload).unwrap();
    oci::Digest::parse(&format!("sha512:{}", statement.subject[0].digest["sha512"])).unwrap()
}

fn facts(case: &Case) -> ProvenanceFacts {
    check_provenance(
        &statement(case.path),
        &expect(&case.digest, case.builder, case.source),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", case.path))
}

#[test]
fn real_provenance_passes_with_its_builder_and_source() {
    let all: Vec<ProvenanceFacts> = cases().iter().map(facts).collect();
    let [container, delegator, generic, npm, npm_v02] = &all[..] else {
        panic!("five cases")
    };

    assert_eq!(container.predicate_type, slsa::PREDICATE_V1);
    assert_eq!(container.build_type, slsa::CONTAINER_BASED_BUILD_TYPE);
    assert_eq!(
        container.builder_id,
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml@refs/tags/v2.1.0"
    );
    assert_eq!(
        container.source_uri,
        "git+https://github.com/slsa-framework/example-package@refs/heads/main"
    );
    // The trigger comes from GITHUB_WORKFLOW_REF and matches the source.
    assert_eq!(
        container.trigger_uri.as_deref(),
        Some(container.source_uri.as_str())
    );
    assert_eq!(
        container.source_digest["sha1"],
        "4d329c75e7ec1725f7c9ce917a8799d408d06be3"
    );
    assert_eq!(
        container.invocation_id.as_deref(),
        Some(
            "https://github.com/slsa-framework/example-package/actions/runs/13531731005/attempts/1"
        )
    );
    assert_eq!(
        container.subject_name,
        "gha_container-based-binary-linux-amd64-workflow_dispatch"
    );

    assert_eq!(delegator.build_type, slsa::BYOB_BUILD_TYPE);
    assert_eq!(
        delegator.source_digest["gitCommit"],
        "4e383a8215c979d61c6afd2e125cb2f559090adf"
    );

    assert_eq!(generic.predicate_type, slsa::PREDICATE_V02);
    assert_eq!(
        generic.build_type,
        "https://github.com/slsa-framework/slsa-github-generator/generic@v1"
    );
    assert_eq!(generic.invocation_id.as_deref(), Some("13531731005-1"));
    assert_eq!(
        generic.trigger_uri.as_deref(),
        Some(generic.source_uri.as_str())
    );

    assert_eq!(npm.build_type, slsa::SLSA_GITHUB_WORKFLOW_BUILD_TYPE);
    assert_eq!(npm.subject_name, "pkg:npm/sigstore@2.3.1");
    assert_eq!(
        npm.trigger_uri.as_deref(),
        Some("git+https://github.com/sigstore/sigstore-js@refs/heads/main")
    );
    assert_eq!(npm_v02.predicate_type, slsa::PREDICATE_V02);
    assert_eq!(npm_v02.subject_name, "pkg:npm/sigstore@1.3.0");
    assert_eq!(npm_v02.build_type, "https://github.com/npm/cli/gha/v2");
}

#[test]
fn statement_versions_in_the_wild() {
    // Real bundles carry Statement v0.1 with v1 predicates, and v1 statements.
    let container = statement(cases()[0].path);
    assert_eq!(container.version, Version::V01);
    assert_eq!(container.predicate_type, slsa::PREDICATE_V1);
    assert_eq!(statement(cases()[3].path).version, Version::V1);
    // sigstore.js@2.0.0: a v1 statement whose subject is the package's sha512.
    let sigstore_js = statement("sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json");
    assert_eq!(sigstore_js.version, Version::V1);
    let sha512 = &sigstore_js.subject[0].digest["sha512"];
    assert!(sha512.starts_with("46d4e2f7") && sha512.ends_with("5cd3c"));
}

#[test]
fn builder_ids_are_matched_as_slsa_verifier_matches_them() {
    let generator = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows";
    let container = &cases()[0];
    let s = statement(container.path);
    let with =
        |builder: &str| check_provenance(&s, &expect(&container.digest, builder, container.source));
    // Full ref, tag shorthand, and name only all accept the v2.1.0 builder.
    for ok in [
        format!("{generator}/builder_container-based_slsa3.yml@refs/tags/v2.1.0"),
        format!("{generator}/builder_container-based_slsa3.yml@v2.1.0"),
        format!("{generator}/builder_container-based_slsa3.yml"),
    ] {
        with(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for wrong in [
        format!("{generator}/builder_container-based_slsa3.yml@v2.0.0"),
        format!("{generator}/builder_container-based_slsa3.yml@refs/heads/v2.1.0"),
        format!("{generator}/builder_go_slsa3.yml@v2.1.0"),
        format!("{generator}/generator_generic_slsa3.yml"),
        "https://github.com/evil/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml".into(),
    ] {
        assert!(
            matches!(with(&wrong), Err(Reason::BuilderMismatch { .. })),
            "{wrong}"
        );
    }
    // Every real case refuses another case's builder.
    let all = cases();
    for (i, case) in all.iter().enumerate() {
        let other = &all[(i + 1) % all.len()];
        let result = check_provenance(
            &statement(case.path),
            &expect(&case.digest, other.builder, case.source),
        );
        assert!(
            matches!(result, Err(Reason::BuilderMismatch { .. })),
            "{}: {result:?}",
            case.path
        );
    }
}

#[test]
fn wrong_sources_fail() {
    for case in cases() {
        let s = statement(case.path);
        for wrong in [
            "github.com/slsa-framework/example-packages",
            "github.com/slsa-framework/example",
            "github.com/evil/sigstore-js",
            "gitlab.com/slsa-framework/example-package",
            "github.com/sigstore/sigstore-js.git",
        ] {
            let result = check_provenance(&s, &expect(&case.digest, case.builder, wrong));
            assert!(
                matches!(result, Err(Reason::SourceMismatch { .. })),
                "{} with {wrong}: {result:?}",
                case.path
            );
        }
    }
}

#[test]
fn tampered_subject_digests_fail() {
    for case in cases() {
        // The statement as it is, but with one hex digit of the subject's digest changed.
        let mut s = statement(case.path);
        let alg = case.digest.algorithm().as_str();
        let hex = s.subject[0]
            .digest
            .get_mut(alg)
            .expect("the artifact's algorithm");
        let flipped = if hex.starts_with('0') { "1" } else { "0" };
        hex.replace_range(0..1, flipped);
        let result = check_provenance(&s, &expect(&case.digest, case.builder, case.source));
        assert!(
            matches!(result, Err(Reason::DigestMismatch { .. })),
            "{}: {result:?}",
            case.path
        );
        // And the untouched statement against another artifact.
        let other = oci::Digest::compute(case.digest.algorithm(), b"another artifact");
        let result = check_provenance(
            &statement(case.path),
            &expect(&other, case.builder, case.source),
        );
        assert!(
            matches!(result, Err(Reason::DigestMismatch { .. })),
            "{}",
            case.path
        );
    }
    // Subject digests are compared case-insensitively, under the artifact's own algorithm.
    let npm = &cases()[3];
    let mut s = statement(npm.path);
    let hex = s.subject[0].digest.get_mut("sha512").unwrap();
    *hex = hex.to_uppercase();
    check_provenance(&s, &expect(&npm.digest, npm.builder, npm.source)).unwrap();
    let sha256 = sha256_of("slsa-verifier/npm/gha/provenance-npm-test-cli-v1-prega.tgz");
    assert!(matches!(
        check_provenance(&s, &expect(&sha256, npm.builder, npm.source)),
        Err(Reason::DigestMismatch { .. })
    ));
}

#[test]
fn real_statements_slsa_verifier_would_refuse() {
    // npm's early SLSA demo: its material names the repository without a ref (and its build
    // type is not one that builds from a bare commit).
    let s = statement("sigstore-go/dsse.sigstore.json");
    let digest = oci::Digest::parse(&format!("sha512:{}", s.subject[0].digest["sha512"])).unwrap();
    let result = check_provenance(
        &s,
        &expect(
            &digest,
            "https://github.com/npm/slsa-provenance@0.0.1",
            "github.com/github/slsa-provenance",
        ),
    );
    assert!(
        matches!(
            result,
            Err(Reason::MalformedUri {
                what: UriRole::Source,
                ..
            })
        ),
        "{result:?}"
    );
    // cosign's OCI attestation is not provenance at all.
    let cosign = statement("cosign/oci-attestation.sigstore.json");
    let digest =
        oci::Digest::parse(&format!("sha256:{}", cosign.subject[0].digest["sha256"])).unwrap();
    let result = check_provenance(&cosign, &expect(&digest, "https://x", "github.com/x/y"));
    assert!(
        matches!(result, Err(Reason::NotProvenance { .. })),
        "{result:?}"
    );
    // A real predicate with its builder id removed is malformed.
    let mut broken = statement(cases()[0].path);
    broken.predicate["runDetails"]
        .as_object_mut()
        .unwrap()
        .remove("builder");
    let case = &cases()[0];
    assert!(matches!(
        check_provenance(&broken, &expect(&case.digest, case.builder, case.source)),
        Err(Reason::MalformedPredicate(_))
    ));
    // A real predicate whose trigger was moved to another repository.
    let mut moved = statement(case.path);
    moved.predicate["buildDefinition"]["internalParameters"]["GITHUB_WORKFLOW_REF"] =
        Value::from("evil/example-package/.github/workflows/x.yml@refs/heads/main");
    assert!(matches!(
        check_provenance(&moved, &expect(&case.digest, case.builder, case.source)),
        Err(Reason::TriggerMismatch { .. })
    ));
}
