//! `vouch provenance generate`: a SLSA Provenance v1 predicate describing this build, from the
//! CI environment (GitHub Actions, GitLab CI) and flags that override it, optionally also as an
//! in-toto Statement v1 over the files it is about. A fact the build did not provide (builder
//! id, build type, source and its commit) is an error, never a guess.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use verify::intoto::{self, Statement, Subject};
use verify::slsa::{
    self, BuildDefinition, BuildMetadata, Builder, Provenance, ResourceDescriptor, RunDetails,
};
use verify::time::Timestamp;

#[derive(Subcommand)]
pub enum ProvenanceCommand {
    /// Write a SLSA Provenance v1 predicate for this build (JSON). Reads GitHub Actions and
    /// GitLab CI variables; flags override them.
    Generate(GenerateArgs),
}

#[derive(Args)]
pub struct GenerateArgs {
    /// The builder's id (default: the workflow on GitHub Actions, the runner on GitLab CI).
    #[arg(long)]
    builder_id: Option<String>,
    /// The build type URI, which says how to read the parameters.
    #[arg(long)]
    build_type: Option<String>,
    /// The source with its ref, e.g. git+https://github.com/org/repo@refs/heads/main.
    #[arg(long)]
    source_uri: Option<String>,
    /// The source's digest, ALG:HEX, e.g. gitCommit:<40 hex>.
    #[arg(long, value_name = "ALG:HEX")]
    source_digest: Option<String>,
    /// When the build started (RFC 3339; written in UTC).
    #[arg(long, value_name = "TIME")]
    started_on: Option<String>,
    /// When the build finished (RFC 3339; default: now).
    #[arg(long, value_name = "TIME")]
    finished_on: Option<String>,
    /// A resolved dependency; repeatable.
    #[arg(long = "dependency", value_name = "URI=ALG:HEX")]
    dependencies: Vec<String>,
    /// A file the build produced (its SHA-256 goes into the statement); repeatable.
    #[arg(long = "subject", value_name = "FILE", requires = "statement")]
    subjects: Vec<PathBuf>,
    /// Also write an in-toto Statement v1 over the --subject files, with this predicate.
    #[arg(long, value_name = "PATH", requires = "subjects")]
    statement: Option<PathBuf>,
    /// Write the predicate here instead of standard output.
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,
}

pub fn run(command: ProvenanceCommand) -> anyhow::Result<ExitCode> {
    let ProvenanceCommand::Generate(args) = command;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let predicate = generate(&args, &env, now)?;
    // Hash the subjects before writing anything, so that a failure leaves no half output.
    let subjects = args
        .subjects
        .iter()
        .map(|file| subject(file))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Serializing a predicate (strings, maps, JSON values) cannot fail.
    let value = serde_json::to_value(&predicate).expect("a predicate serializes");
    write(
        args.output.as_deref(),
        &(serde_json::to_string_pretty(&value).expect("JSON serializes") + "\n"),
    )?;
    if let Some(path) = &args.statement {
        let Value::Object(map) = value else {
            unreachable!("a predicate serializes as an object")
        };
        let statement = Statement::new(subjects, slsa::PREDICATE_V1, map);
        write(Some(path), &(statement.to_json() + "\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What the build environment says; every fact optional until the flags are applied.
#[derive(Default)]
struct Facts {
    builder_id: Option<String>,
    build_type: Option<String>,
    external_parameters: Map<String, Value>,
    internal_parameters: Option<Value>,
    source_uri: Option<String>,
    source_digest: Option<(String, String)>,
    invocation_id: Option<String>,
    started_on: Option<Timestamp>,
}

/// The predicate from the environment `env` and the flags, `now` being the finish time unless
/// --finished-on says otherwise.
fn generate(
    args: &GenerateArgs,
    env: &dyn Fn(&str) -> Option<String>,
    now: Timestamp,
) -> anyhow::Result<Provenance> {
    let mut facts = github(env).or_else(|| gitlab(env)).unwrap_or_default();
    if let Some(id) = &args.builder_id {
        facts.builder_id = Some(id.clone());
    }
    if let Some(t) = &args.build_type {
        facts.build_type = Some(t.clone());
    }
    if let Some(uri) = &args.source_uri {
        facts.source_uri = Some(uri.clone());
    }
    if let Some(d) = &args.source_digest {
        facts.source_digest = Some(parse_digest(d).context("--source-digest")?);
    }
    if let Some(t) = &args.started_on {
        facts.started_on = Some(parse_time(t).context("--started-on")?);
    }
    let finished_on = match &args.finished_on {
        Some(t) => parse_time(t).context("--finished-on")?,
        None => now,
    };

    let builder_id = facts.builder_id.ok_or_else(|| {
        anyhow!("no builder id: pass --builder-id (GitHub Actions and GitLab CI provide one)")
    })?;
    let build_type = facts.build_type.ok_or_else(|| {
        anyhow!("no build type: pass --build-type (GitHub Actions and GitLab CI provide one)")
    })?;
    let source_uri = facts.source_uri.ok_or_else(|| {
        anyhow!("no source: pass --source-uri (GitHub Actions and GitLab CI provide one)")
    })?;
    let (alg, hex) = facts.source_digest.ok_or_else(|| {
        anyhow!("no source commit: pass --source-digest (GitHub Actions and GitLab CI provide one)")
    })?;
    if let Some(started) = facts.started_on
        && started > finished_on
    {
        bail!("the build cannot start ({started}) after it finished ({finished_on})");
    }

    let mut resolved = vec![ResourceDescriptor {
        uri: Some(source_uri),
        digest: BTreeMap::from([(alg, hex)]),
        ..ResourceDescriptor::default()
    }];
    for dependency in &args.dependencies {
        let (uri, digest) = dependency
            .rsplit_once('=')
            .filter(|(uri, _)| !uri.is_empty())
            .ok_or_else(|| anyhow!("--dependency {dependency:?} is not URI=ALG:HEX"))?;
        let (alg, hex) = parse_digest(digest).with_context(|| format!("--dependency {uri}"))?;
        resolved.push(ResourceDescriptor {
            uri: Some(uri.to_owned()),
            digest: BTreeMap::from([(alg, hex)]),
            ..ResourceDescriptor::default()
        });
    }

    Ok(Provenance {
        build_definition: BuildDefinition {
            build_type,
            external_parameters: facts.external_parameters,
            internal_parameters: facts.internal_parameters,
            resolved_dependencies: resolved,
        },
        run_details: RunDetails {
            builder: Builder {
                id: builder_id,
                version: BTreeMap::new(),
                builder_dependencies: Vec::new(),
            },
            metadata: Some(BuildMetadata {
                invocation_id: facts.invocation_id,
                started_on: facts.started_on,
                finished_on: Some(finished_on),
            }),
            byproducts: Vec::new(),
        },
    })
}

/// GitHub Actions, in the shape of GitHub's own workflow build type (as
/// `actions/attest-build-provenance` writes it): the builder is the workflow at its ref.
fn github(env: &dyn Fn(&str) -> Option<String>) -> Option<Facts> {
    if env("GITHUB_ACTIONS").as_deref() != Some("true") {
        return None;
    }
    let mut facts = Facts::default();
    let server = env("GITHUB_SERVER_URL");
    let repository = env("GITHUB_REPOSITORY");
    let repo_url = server
        .as_ref()
        .zip(repository.as_ref())
        .map(|(s, r)| format!("{}/{r}", s.trim_end_matches('/')));
    // GITHUB_WORKFLOW_REF is OWNER/REPO/PATH@REF.
    if let (Some(server), Some(repository), Some(repo_url), Some(workflow_ref)) =
        (&server, &repository, &repo_url, env("GITHUB_WORKFLOW_REF"))
        && let Some((path, r)) = workflow_ref
            .strip_prefix(&format!("{repository}/"))
            .and_then(|rest| rest.split_once('@'))
    {
        facts.builder_id = Some(format!("{}/{workflow_ref}", server.trim_end_matches('/')));
        facts.build_type = Some(slsa::GITHUB_WORKFLOW_BUILD_TYPE.to_owned());
        facts.external_parameters.insert(
            "workflow".into(),
            json!({"ref": r, "repository": repo_url, "path": path}),
        );
    }
    let github: Map<String, Value> = [
        ("event_name", "GITHUB_EVENT_NAME"),
        ("repository_id", "GITHUB_REPOSITORY_ID"),
        ("repository_owner_id", "GITHUB_REPOSITORY_OWNER_ID"),
        ("runner_environment", "RUNNER_ENVIRONMENT"),
    ]
    .into_iter()
    .filter_map(|(key, var)| Some((key.to_owned(), Value::from(env(var)?))))
    .collect();
    if !github.is_empty() {
        facts.internal_parameters = Some(json!({ "github": github }));
    }
    if let (Some(repo_url), Some(r)) = (&repo_url, env("GITHUB_REF")) {
        facts.source_uri = Some(format!("git+{repo_url}@{r}"));
    }
    facts.source_digest = env("GITHUB_SHA").map(|sha| ("gitCommit".to_owned(), sha.to_lowercase()));
    if let (Some(repo_url), Some(run)) = (&repo_url, env("GITHUB_RUN_ID")) {
        let attempt = env("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".to_owned());
        facts.invocation_id = Some(format!("{repo_url}/actions/runs/{run}/attempts/{attempt}"));
    }
    Some(facts)
}

/// GitLab CI, in the shape of the GitLab runner's build type: the builder is the runner.
fn gitlab(env: &dyn Fn(&str) -> Option<String>) -> Option<Facts> {
    if env("GITLAB_CI").as_deref() != Some("true") {
        return None;
    }
    let mut facts = Facts::default();
    let project_url = env("CI_PROJECT_URL").or_else(|| {
        Some(format!(
            "{}/{}",
            env("CI_SERVER_URL")?.trim_end_matches('/'),
            env("CI_PROJECT_PATH")?
        ))
    });
    if let (Some(project), Some(runner)) = (&project_url, env("CI_RUNNER_ID")) {
        facts.builder_id = Some(format!("{project}/-/runners/{runner}"));
    }
    facts.build_type = env("CI_RUNNER_VERSION").map(|v| {
        format!(
            "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/v{}/PROVENANCE.md",
            v.trim_start_matches('v')
        )
    });
    if let Some(project) = &project_url {
        facts
            .external_parameters
            .insert("source".into(), Value::from(project.clone()));
    }
    if let Some(job) = env("CI_JOB_NAME") {
        facts
            .external_parameters
            .insert("entryPoint".into(), Value::from(job));
    }
    let internal: Map<String, Value> = [
        ("name", "CI_RUNNER_DESCRIPTION"),
        ("architecture", "CI_RUNNER_EXECUTABLE_ARCH"),
        ("job", "CI_JOB_ID"),
        ("pipeline", "CI_PIPELINE_ID"),
    ]
    .into_iter()
    .filter_map(|(key, var)| Some((key.to_owned(), Value::from(env(var)?))))
    .collect();
    if !internal.is_empty() {
        facts.internal_parameters = Some(Value::Object(internal));
    }
    let git_ref = env("CI_COMMIT_TAG")
        .map(|t| format!("refs/tags/{t}"))
        .or_else(|| {
            env("CI_COMMIT_BRANCH")
                .or_else(|| env("CI_COMMIT_REF_NAME"))
                .map(|b| format!("refs/heads/{b}"))
        });
    if let (Some(project), Some(r)) = (&project_url, git_ref) {
        facts.source_uri = Some(format!("git+{project}@{r}"));
    }
    facts.source_digest =
        env("CI_COMMIT_SHA").map(|sha| ("gitCommit".to_owned(), sha.to_lowercase()));
    facts.invocation_id = env("CI_JOB_URL").or_else(|| {
        Some(format!(
            "{}/-/jobs/{}",
            project_url.as_ref()?,
            env("CI_JOB_ID")?
        ))
    });
    facts.started_on = env("CI_JOB_STARTED_AT").and_then(|t| Timestamp::parse_rfc3339(&t).ok());
    Some(facts)
}

/// `ALG:HEX`: a digest algorithm name and its hex value (lowercased; checked for length where
/// the algorithm fixes it).
fn parse_digest(text: &str) -> anyhow::Result<(String, String)> {
    let (alg, hex) = text
        .split_once(':')
        .ok_or_else(|| anyhow!("{text:?} is not ALG:HEX"))?;
    if alg.is_empty() || !alg.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("{alg:?} is not a digest algorithm name");
    }
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("the {alg} digest {hex:?} is not hex");
    }
    if let Some((_, lengths)) = intoto::HEX_LENGTHS.iter().find(|(a, _)| *a == alg)
        && !lengths.contains(&hex.len())
    {
        bail!(
            "a {alg} digest has {lengths:?} hex digits, not {}",
            hex.len()
        );
    }
    Ok((alg.to_owned(), hex.to_ascii_lowercase()))
}

fn parse_time(text: &str) -> anyhow::Result<Timestamp> {
    Ok(Timestamp::parse_rfc3339(text)?)
}

/// A subject: the file's name and its SHA-256, hashed as a stream.
pub(crate) fn subject(path: &Path) -> anyhow::Result<Subject> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut digester = oci::Digester::new(oci::Algorithm::Sha256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        digester.update(&buf[..n]);
    }
    let digest = digester.finish();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(Subject {
        name,
        digest: BTreeMap::from([("sha256".to_owned(), digest.hex().to_owned())]),
    })
}

fn write(path: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match path {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write to standard output")
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: ProvenanceCommand,
    }

    fn args(flags: &[&str]) -> GenerateArgs {
        let argv = ["provenance", "generate"].iter().chain(flags);
        let ProvenanceCommand::Generate(args) = Cli::try_parse_from(argv).unwrap().command;
        args
    }

    fn env_of(vars: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<&str, &str> = vars.iter().copied().collect();
        move |name| map.get(name).map(|v| (*v).to_owned())
    }

    const NOW: Timestamp = Timestamp::from_unix(1_720_000_000);

    const GITLAB: &[(&str, &str)] = &[
        ("GITLAB_CI", "true"),
        ("CI_SERVER_URL", "https://gitlab.example"),
        ("CI_PROJECT_PATH", "group/app"),
        ("CI_COMMIT_SHA", "ABCDEF0123456789abcdef0123456789abcdef01"),
        ("CI_COMMIT_TAG", "v1.0.0"),
        ("CI_COMMIT_REF_NAME", "v1.0.0"),
        ("CI_JOB_ID", "42"),
        ("CI_JOB_NAME", "build"),
        ("CI_RUNNER_ID", "7"),
        ("CI_RUNNER_VERSION", "17.2.0"),
        ("CI_JOB_STARTED_AT", "2024-06-01T12:00:00+02:00"),
    ];

    #[test]
    fn gitlab_ci_provides_every_fact() {
        let p = generate(&args(&[]), &env_of(GITLAB), NOW).unwrap();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v["runDetails"]["builder"]["id"],
            "https://gitlab.example/group/app/-/runners/7"
        );
        assert_eq!(
            v["buildDefinition"]["buildType"],
            "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/v17.2.0/PROVENANCE.md"
        );
        assert_eq!(
            v["buildDefinition"]["resolvedDependencies"][0],
            json!({"uri": "git+https://gitlab.example/group/app@refs/tags/v1.0.0",
                   "digest": {"gitCommit": "abcdef0123456789abcdef0123456789abcdef01"}})
        );
        assert_eq!(
            v["buildDefinition"]["externalParameters"]["entryPoint"],
            "build"
        );
        assert_eq!(
            v["runDetails"]["metadata"],
            json!({"invocationId": "https://gitlab.example/group/app/-/jobs/42",
                   "startedOn": "2024-06-01T10:00:00Z", "finishedOn": "2024-07-03T09:46:40Z"})
        );
    }

    #[test]
    fn flags_override_the_environment() {
        let p = generate(
            &args(&[
                "--builder-id",
                "https://builder.example/b@v2",
                "--build-type",
                "https://builder.example/type/v1",
                "--source-uri",
                "git+https://gitlab.example/group/other@refs/heads/main",
                "--source-digest",
                "sha1:0123456789ABCDEF0123456789abcdef01234567",
                "--started-on",
                "2024-06-01T09:00:00Z",
                "--finished-on",
                "2024-06-01T09:30:00.25-01:00",
                "--dependency",
                "pkg:cargo/serde@1.0.0?x=1=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ]),
            &env_of(GITLAB),
            NOW,
        )
        .unwrap();
        assert_eq!(p.run_details.builder.id, "https://builder.example/b@v2");
        assert_eq!(
            p.build_definition.build_type,
            "https://builder.example/type/v1"
        );
        let deps = &p.build_definition.resolved_dependencies;
        assert_eq!(
            deps[0].uri.as_deref(),
            Some("git+https://gitlab.example/group/other@refs/heads/main")
        );
        assert_eq!(
            deps[0].digest["sha1"],
            "0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(deps[1].uri.as_deref(), Some("pkg:cargo/serde@1.0.0?x=1"));
        let metadata = p.run_details.metadata.unwrap();
        assert_eq!(
            metadata.started_on.unwrap().to_rfc3339(),
            "2024-06-01T09:00:00Z"
        );
        assert_eq!(
            metadata.finished_on.unwrap().to_rfc3339(),
            "2024-06-01T10:30:00.25Z"
        );
    }

    #[test]
    fn missing_facts_are_errors_not_guesses() {
        let none = env_of(&[]);
        let err = generate(&args(&[]), &none, NOW).unwrap_err().to_string();
        assert!(err.starts_with("no builder id"), "{err}");
        let err = generate(&args(&["--builder-id", "b"]), &none, NOW)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("no build type"), "{err}");
        let err = generate(
            &args(&["--builder-id", "b", "--build-type", "t"]),
            &none,
            NOW,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("no source:"), "{err}");
        let err = generate(
            &args(&[
                "--builder-id",
                "b",
                "--build-type",
                "t",
                "--source-uri",
                "git+https://h/r@refs/heads/m",
            ]),
            &none,
            NOW,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("no source commit"), "{err}");
        // A GitHub environment without GITHUB_WORKFLOW_REF has no builder to name.
        let partial = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "org/repo"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_REF", "refs/heads/main"),
        ]);
        let err = generate(&args(&[]), &partial, NOW).unwrap_err().to_string();
        assert!(err.starts_with("no builder id"), "{err}");
    }

    #[test]
    fn bad_flag_values_are_refused() {
        let base = [
            "--builder-id",
            "b",
            "--build-type",
            "t",
            "--source-uri",
            "s",
        ];
        for (flags, wanted) in [
            (vec!["--source-digest", "sha256"], "--source-digest"),
            (vec!["--source-digest", "sha256:abc"], "--source-digest"),
            (vec!["--source-digest", "gitCommit:xyz"], "--source-digest"),
            (vec!["--source-digest", "sha-1:00"], "--source-digest"),
            (
                vec!["--source-digest", "blake3:00", "--started-on", "yesterday"],
                "--started-on",
            ),
            (
                vec!["--source-digest", "blake3:00", "--dependency", "no-digest"],
                "--dependency",
            ),
            (
                vec!["--source-digest", "blake3:00", "--dependency", "=blake3:00"],
                "--dependency",
            ),
            (
                vec![
                    "--source-digest",
                    "blake3:00",
                    "--dependency",
                    "u=sha256:00",
                ],
                "--dependency",
            ),
            (
                vec![
                    "--source-digest",
                    "blake3:00",
                    "--started-on",
                    "2024-01-02T00:00:00Z",
                    "--finished-on",
                    "2024-01-01T00:00:00Z",
                ],
                "cannot start",
            ),
        ] {
            let all: Vec<&str> = base.iter().copied().chain(flags.iter().copied()).collect();
            let err = generate(&args(&all), &env_of(&[]), NOW).unwrap_err();
            let line = format!("{err:#}");
            assert!(line.contains(wanted), "{flags:?}: {line}");
        }
    }
}
