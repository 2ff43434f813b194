//! `vouch provenance generate` run as a user's CI would: in a fake GitHub Actions environment
//! (and nothing else), its JSON carries the build's facts; flags override them; missing facts
//! fail with exit 2 and one line; the statement it writes is about the subject files.

use std::process::Output;

use serde_json::Value;

use crate::common::vouch;

const SHA: &str = "4d329c75e7ec1725f7c9ce917a8799d408d06be3";

/// The variables GitHub Actions sets that the command reads, for a push to main.
const GITHUB: &[(&str, &str)] = &[
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_SERVER_URL", "https://github.com"),
    ("GITHUB_REPOSITORY", "acme/widget"),
    ("GITHUB_REPOSITORY_ID", "486325809"),
    ("GITHUB_REPOSITORY_OWNER_ID", "80431187"),
    ("GITHUB_SHA", SHA),
    ("GITHUB_REF", "refs/heads/main"),
    (
        "GITHUB_WORKFLOW_REF",
        "acme/widget/.github/workflows/release.yml@refs/heads/main",
    ),
    ("GITHUB_EVENT_NAME", "push"),
    ("GITHUB_RUN_ID", "13531731005"),
    ("GITHUB_RUN_ATTEMPT", "2"),
    ("RUNNER_ENVIRONMENT", "github-hosted"),
];

fn generate(env: &[(&str, &str)], args: &[&str]) -> Output {
    vouch()
        .env_clear()
        .envs(env.iter().copied())
        .args(["provenance", "generate"])
        .args(args)
        .output()
        .expect("run vouch")
}

fn predicate(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "vouch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on standard output")
}

#[test]
fn github_actions_environment_becomes_the_predicate() {
    let before = std::time::SystemTime::now();
    let p = predicate(&generate(
        GITHUB,
        &["--started-on", "2025-02-25T22:10:07+01:00"],
    ));
    let def = &p["buildDefinition"];
    assert_eq!(
        def["buildType"],
        "https://actions.github.io/buildtypes/workflow/v1"
    );
    assert_eq!(
        def["externalParameters"]["workflow"],
        serde_json::json!({"ref": "refs/heads/main", "repository": "https://github.com/acme/widget",
                           "path": ".github/workflows/release.yml"})
    );
    assert_eq!(
        def["internalParameters"]["github"],
        serde_json::json!({"event_name": "push", "repository_id": "486325809",
                           "repository_owner_id": "80431187", "runner_environment": "github-hosted"})
    );
    assert_eq!(
        def["resolvedDependencies"],
        serde_json::json!([{"uri": "git+https://github.com/acme/widget@refs/heads/main",
                            "digest": {"gitCommit": SHA}}])
    );
    let run = &p["runDetails"];
    assert_eq!(
        run["builder"]["id"],
        "https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main"
    );
    assert_eq!(
        run["metadata"]["invocationId"],
        "https://github.com/acme/widget/actions/runs/13531731005/attempts/2"
    );
    // Times are RFC 3339 in UTC; the finish time defaults to the moment of generation.
    assert_eq!(run["metadata"]["startedOn"], "2025-02-25T21:10:07Z");
    let finished = verify::time::Timestamp::parse_rfc3339(
        run["metadata"]["finishedOn"].as_str().expect("finishedOn"),
    )
    .unwrap();
    assert!(
        run["metadata"]["finishedOn"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(finished.secs() >= verify::time::Timestamp::from_system_time(before).secs());
}

#[test]
fn the_predicate_passes_vouchs_own_provenance_check() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("widget.tar.gz");
    std::fs::write(&artifact, b"the artifact").unwrap();
    let statement_path = dir.path().join("statement.json");
    let out = generate(
        GITHUB,
        &[
            "--subject",
            artifact.to_str().unwrap(),
            "--statement",
            statement_path.to_str().unwrap(),
            "--output",
            dir.path().join("predicate.json").to_str().unwrap(),
            "--dependency",
            "pkg:cargo/serde@1.0.228=sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "--output takes the predicate off standard output"
    );
    let predicate: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("predicate.json")).unwrap()).unwrap();
    assert_eq!(
        predicate["buildDefinition"]["resolvedDependencies"][1],
        serde_json::json!({"uri": "pkg:cargo/serde@1.0.228",
            "digest": {"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}})
    );

    let statement =
        verify::intoto::Statement::parse(&std::fs::read(&statement_path).unwrap()).unwrap();
    assert_eq!(statement.version, verify::intoto::Version::V1);
    assert_eq!(statement.subject[0].name, "widget.tar.gz");
    assert_eq!(Value::Object(statement.predicate.clone()), predicate);
    let digest = oci::Digest::compute(oci::Algorithm::Sha256, b"the artifact");
    let expect = |builder: &str, source: &str| verify::slsa::Expectations {
        digest: digest.clone(),
        builder_id: verify::slsa::BuilderId::parse(builder).unwrap(),
        source: verify::slsa::SourceRepo::parse(source).unwrap(),
    };
    let facts = verify::slsa::check_provenance(
        &statement,
        &expect(
            "https://github.com/acme/widget/.github/workflows/release.yml",
            "github.com/acme/widget",
        ),
    )
    .unwrap();
    assert_eq!(facts.source_digest["gitCommit"], SHA);
    assert_eq!(
        facts.trigger_uri.as_deref(),
        Some("git+https://github.com/acme/widget@refs/heads/main")
    );
    assert!(matches!(
        verify::slsa::check_provenance(
            &statement,
            &expect(
                "https://github.com/acme/widget/.github/workflows/release.yml",
                "github.com/acme/gadget"
            ),
        ),
        Err(verify::slsa::Reason::SourceMismatch { .. })
    ));
}

#[test]
fn flags_override_the_github_environment() {
    let p = predicate(&generate(
        GITHUB,
        &[
            "--builder-id",
            "https://builder.example/trusted@v1",
            "--source-uri",
            "git+https://github.com/acme/widget@refs/tags/v1.0.0",
            "--source-digest",
            "gitCommit:0000000000000000000000000000000000000001",
            "--finished-on",
            "2025-01-01T00:00:00Z",
        ],
    ));
    assert_eq!(
        p["runDetails"]["builder"]["id"],
        "https://builder.example/trusted@v1"
    );
    assert_eq!(
        p["buildDefinition"]["resolvedDependencies"][0]["uri"],
        "git+https://github.com/acme/widget@refs/tags/v1.0.0"
    );
    assert_eq!(
        p["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"],
        "0000000000000000000000000000000000000001"
    );
    assert_eq!(
        p["runDetails"]["metadata"]["finishedOn"],
        "2025-01-01T00:00:00Z"
    );
}

#[test]
fn missing_facts_exit_2_with_one_line() {
    let one_line_error = |out: &Output, wanted: &str| {
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8(out.stderr.clone()).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(wanted), "{stderr}");
        assert!(out.stdout.is_empty());
    };
    // Outside CI, nothing is known.
    one_line_error(&generate(&[], &[]), "no builder id");
    // A GitHub environment without the source commit.
    let no_sha: Vec<_> = GITHUB
        .iter()
        .copied()
        .filter(|(k, _)| *k != "GITHUB_SHA")
        .collect();
    one_line_error(&generate(&no_sha, &[]), "no source commit");
    let no_repo: Vec<_> = GITHUB
        .iter()
        .copied()
        .filter(|(k, _)| *k != "GITHUB_REPOSITORY")
        .collect();
    one_line_error(
        &generate(&no_repo, &["--builder-id", "b", "--build-type", "t"]),
        "no source:",
    );
    one_line_error(&generate(GITHUB, &["--started-on", "now"]), "--started-on");
    one_line_error(
        &generate(
            GITHUB,
            &["--subject", "/nonexistent/file", "--statement", "/dev/null"],
        ),
        "cannot open /nonexistent/file",
    );
    // --subject without --statement (and the reverse) is a usage error.
    let out = generate(GITHUB, &["--subject", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = generate(GITHUB, &["--statement", "x"]);
    assert_eq!(out.status.code(), Some(2));
}
