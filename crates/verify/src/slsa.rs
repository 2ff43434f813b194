//! SLSA provenance predicates, v1 (written and read) and v0.2 (read), and the checks that
//! slsa-verifier makes of them: the artifact is a subject, the builder is the expected one, and
//! the build came from the expected source repository (and, where the build type records it,
//! was triggered from it).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::intoto::{Statement, null_as_default};
use crate::time::Timestamp;

pub const PREDICATE_V1: &str = "https://slsa.dev/provenance/v1";
pub const PREDICATE_V02: &str = "https://slsa.dev/provenance/v0.2";

/// GitHub's build type for a workflow run (what `actions/attest-build-provenance` writes, and
/// what `vouch provenance generate` writes on GitHub Actions).
pub const GITHUB_WORKFLOW_BUILD_TYPE: &str = "https://actions.github.io/buildtypes/workflow/v1";
/// The SLSA framework's GitHub workflow build type (npm's provenance).
pub const SLSA_GITHUB_WORKFLOW_BUILD_TYPE: &str =
    "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1";
/// slsa-github-generator's delegated ("bring your own builder") build type.
pub const BYOB_BUILD_TYPE: &str =
    "https://github.com/slsa-framework/slsa-github-generator/delegator-generic@v0";
/// slsa-github-generator's container-based build type.
pub const CONTAINER_BASED_BUILD_TYPE: &str = "https://slsa.dev/container-based-build/v0.1?draft";
/// npm CLI provenance from before npm's provenance GA, whose source carries no ref.
pub const NPM_CLI_V1_BUILD_TYPE: &str = "https://github.com/npm/cli/gha@v1";

// ---------------------------------------------------------------------------------------------
// SLSA Provenance v1

/// A SLSA Provenance v1 predicate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: String,
    pub external_parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_parameters: Option<Value>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// An in-toto ResourceDescriptor (a dependency, a byproduct, a builder dependency).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Base64 of the resource's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Map<String, Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    pub builder: Builder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BuildMetadata>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub byproducts: Vec<ResourceDescriptor>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Builder {
    pub id: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub version: BTreeMap<String, String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub builder_dependencies: Vec<ResourceDescriptor>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    #[serde(default, with = "rfc3339", skip_serializing_if = "Option::is_none")]
    pub started_on: Option<Timestamp>,
    #[serde(default, with = "rfc3339", skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<Timestamp>,
}

// ---------------------------------------------------------------------------------------------
// SLSA Provenance v0.2 (read only)

/// A SLSA Provenance v0.2 predicate, as npm and slsa-github-generator still write.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceV02 {
    pub builder: BuilderV02,
    pub build_type: String,
    #[serde(default)]
    pub invocation: Option<Invocation>,
    #[serde(default)]
    pub build_config: Option<Value>,
    #[serde(default)]
    pub metadata: Option<MetadataV02>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub materials: Vec<Material>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct BuilderV02 {
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    #[serde(default)]
    pub config_source: Option<ConfigSource>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub environment: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSource {
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub digest: BTreeMap<String, String>,
    #[serde(default)]
    pub entry_point: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataV02 {
    /// slsa-github-generator spells it `buildInvocationID` (Go matches field names
    /// case-insensitively); both spellings are read.
    #[serde(default, alias = "buildInvocationID")]
    pub build_invocation_id: Option<String>,
    #[serde(default, with = "rfc3339")]
    pub build_started_on: Option<Timestamp>,
    #[serde(default, with = "rfc3339")]
    pub build_finished_on: Option<Timestamp>,
    #[serde(default)]
    pub completeness: Option<Value>,
    #[serde(default)]
    pub reproducible: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Material {
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub digest: BTreeMap<String, String>,
}

/// A provenance predicate of either version.
#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    V1(Provenance),
    V02(ProvenanceV02),
}

impl Predicate {
    /// The statement's predicate, if its type is SLSA provenance v1 or v0.2.
    pub fn from_statement(statement: &Statement) -> Result<Predicate, Reason> {
        let value = Value::Object(statement.predicate.clone());
        match statement.predicate_type.as_str() {
            PREDICATE_V1 => serde_json::from_value(value)
                .map(Predicate::V1)
                .map_err(Reason::MalformedPredicate),
            PREDICATE_V02 => serde_json::from_value(value)
                .map(Predicate::V02)
                .map_err(Reason::MalformedPredicate),
            other => Err(Reason::NotProvenance {
                predicate_type: other.to_owned(),
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Expectations

/// A builder id, `NAME` or `NAME@VERSION` (slsa-verifier's reading: at most one `@`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuilderId {
    name: String,
    version: Option<String>,
}

impl BuilderId {
    pub fn parse(id: &str) -> Result<BuilderId, ExpectationError> {
        let bad = || ExpectationError::BuilderId { id: id.to_owned() };
        let (name, version) = match id.split_once('@') {
            None => (id, None),
            Some((_, v)) if v.is_empty() || v.contains('@') => return Err(bad()),
            Some((name, v)) => (name, Some(v)),
        };
        if name.is_empty() {
            return Err(bad());
        }
        Ok(BuilderId {
            name: name.to_owned(),
            version: version.map(str::to_owned),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Whether a provenance's builder `actual` is this expected builder, as slsa-verifier
    /// matches `--builder-id`: the names are equal, and if a version is expected it is the
    /// actual version, or `V` stands for an actual `refs/tags/V`. Without a version, any
    /// version of the named builder is accepted.
    pub fn accepts(&self, actual: &BuilderId) -> bool {
        if self.name != actual.name {
            return false;
        }
        match (&self.version, &actual.version) {
            (None, _) => true,
            (Some(want), Some(have)) => {
                want == have || have.strip_prefix("refs/tags/") == Some(want.as_str())
            }
            (Some(_), None) => false,
        }
    }
}

impl fmt::Display for BuilderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The expected source repository: a `git+https://` URI without a ref.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRepo(String);

impl SourceRepo {
    /// Accepts what slsa-verifier's `--source-uri` accepts, normalized as it does:
    /// `github.com/org/repo` and `https://github.com/org/repo` both mean
    /// `git+https://github.com/org/repo`. Unlike slsa-verifier, any https host is allowed
    /// (GitLab, GitHub Enterprise), not only github.com.
    pub fn parse(uri: &str) -> Result<SourceRepo, ExpectationError> {
        let normalized = normalize_git_uri(uri);
        let Some(rest) = normalized.strip_prefix("git+https://") else {
            return Err(ExpectationError::SourceNotHttps {
                uri: uri.to_owned(),
            });
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(ExpectationError::SourceNotHttps {
                uri: uri.to_owned(),
            });
        }
        if rest.contains('@') {
            return Err(ExpectationError::SourceWithRef {
                uri: uri.to_owned(),
            });
        }
        Ok(SourceRepo(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// slsa-verifier's normalization of a git URI: `git+` in front, and `https://` when no scheme
/// is given.
pub fn normalize_git_uri(uri: &str) -> String {
    if uri.starts_with("git+") {
        uri.to_owned()
    } else if uri.contains("://") {
        format!("git+{uri}")
    } else {
        format!("git+https://{uri}")
    }
}

/// A malformed expectation: a usage error, not a verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpectationError {
    #[error("builder id {id:?} is not of the form NAME or NAME@VERSION")]
    BuilderId { id: String },
    #[error("source {uri:?} is not an https git repository (git+https://HOST/PATH)")]
    SourceNotHttps { uri: String },
    #[error("source {uri:?} names a ref; give the repository only")]
    SourceWithRef { uri: String },
}

/// What the caller requires of a provenance. Every field is required: a check that is not
/// asked for would pass silently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectations {
    /// The artifact's digest; some subject must carry it.
    pub digest: oci::Digest,
    pub builder_id: BuilderId,
    pub source: SourceRepo,
}

/// Why a provenance is not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    #[error("predicate type {predicate_type:?} is not SLSA provenance v1 or v0.2")]
    NotProvenance { predicate_type: String },
    #[error("the SLSA provenance predicate is malformed")]
    MalformedPredicate(#[source] serde_json::Error),
    #[error("no subject of the provenance has the artifact's digest {expected}")]
    DigestMismatch { expected: oci::Digest },
    #[error("the provenance's builder id {id:?} is malformed")]
    MalformedBuilderId { id: String },
    #[error("the provenance's builder is {found:?}, expected {expected:?}")]
    BuilderMismatch { expected: String, found: String },
    #[error("the provenance names no source ({field} is empty)")]
    NoSource { field: &'static str },
    #[error("the provenance does not record what triggered the build ({field} is missing)")]
    NoTrigger { field: &'static str },
    #[error("{what} uri {uri:?} is malformed: {problem}")]
    MalformedUri {
        what: UriRole,
        uri: String,
        problem: &'static str,
    },
    #[error("the provenance's source {found:?} is not the repository {expected:?}")]
    SourceMismatch { expected: String, found: String },
    #[error("the build was triggered from {found:?}, not the repository {expected:?}")]
    TriggerMismatch { expected: String, found: String },
    #[error("the build was triggered from {trigger:?} but built {built:?}")]
    TriggerSourceDiffer { trigger: String, built: String },
}

/// Which of a provenance's URIs a reason is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriRole {
    Source,
    Trigger,
}

impl fmt::Display for UriRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UriRole::Source => "source",
            UriRole::Trigger => "trigger",
        })
    }
}

/// What a provenance that passed the checks says.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvenanceFacts {
    pub predicate_type: &'static str,
    /// The name of the subject that carries the artifact's digest.
    pub subject_name: String,
    pub builder_id: String,
    pub build_type: String,
    /// The source, with its ref (the first resolved dependency, or material for v0.2).
    pub source_uri: String,
    pub source_digest: BTreeMap<String, String>,
    /// What triggered the build, where the build type records it.
    pub trigger_uri: Option<String>,
    pub invocation_id: Option<String>,
    pub started_on: Option<Timestamp>,
    pub finished_on: Option<Timestamp>,
}

/// Checks a provenance statement (already signature-verified) against `expect`, as
/// slsa-verifier does: the predicate is SLSA provenance v1 or v0.2; a subject carries the
/// artifact's digest; the builder id matches ([`BuilderId::accepts`]); the source (first
/// resolved dependency, or material) is the expected repository with a ref; and where the build
/// type records the trigger (GitHub workflow build types, slsa-github-generator's, every v0.2
/// `configSource`), the trigger is the same repository, with a ref, and equals the source.
pub fn check_provenance(
    statement: &Statement,
    expect: &Expectations,
) -> Result<ProvenanceFacts, Reason> {
    let predicate = Predicate::from_statement(statement)?;
    let subject = statement
        .subject_for(&expect.digest)
        .ok_or_else(|| Reason::DigestMismatch {
            expected: expect.digest.clone(),
        })?;
    let view = View::of(&predicate)?;

    let actual = BuilderId::parse(view.builder_id).map_err(|_| Reason::MalformedBuilderId {
        id: view.builder_id.to_owned(),
    })?;
    if !expect.builder_id.accepts(&actual) {
        return Err(Reason::BuilderMismatch {
            expected: expect.builder_id.to_string(),
            found: view.builder_id.to_owned(),
        });
    }

    check_source(&view, &expect.source)?;

    Ok(ProvenanceFacts {
        predicate_type: match predicate {
            Predicate::V1(_) => PREDICATE_V1,
            Predicate::V02(_) => PREDICATE_V02,
        },
        subject_name: subject.name.clone(),
        builder_id: view.builder_id.to_owned(),
        build_type: view.build_type.to_owned(),
        source_uri: view.source.to_owned(),
        source_digest: view.source_digest.clone(),
        trigger_uri: view.trigger,
        invocation_id: view.invocation_id.map(str::to_owned),
        started_on: view.started_on,
        finished_on: view.finished_on,
    })
}

/// The facts the checks need, from either predicate version.
struct View<'a> {
    builder_id: &'a str,
    build_type: &'a str,
    source: &'a str,
    source_digest: &'a BTreeMap<String, String>,
    trigger: Option<String>,
    invocation_id: Option<&'a str>,
    started_on: Option<Timestamp>,
    finished_on: Option<Timestamp>,
}

impl<'a> View<'a> {
    fn of(predicate: &'a Predicate) -> Result<View<'a>, Reason> {
        match predicate {
            Predicate::V1(p) => {
                let def = &p.build_definition;
                let first = def.resolved_dependencies.first().ok_or(Reason::NoSource {
                    field: "buildDefinition.resolvedDependencies",
                })?;
                let metadata = p.run_details.metadata.as_ref();
                Ok(View {
                    builder_id: &p.run_details.builder.id,
                    build_type: &def.build_type,
                    source: first.uri.as_deref().unwrap_or(""),
                    source_digest: &first.digest,
                    trigger: trigger_v1(def)?,
                    invocation_id: metadata.and_then(|m| m.invocation_id.as_deref()),
                    started_on: metadata.and_then(|m| m.started_on),
                    finished_on: metadata.and_then(|m| m.finished_on),
                })
            }
            Predicate::V02(p) => {
                let first = p
                    .materials
                    .first()
                    .ok_or(Reason::NoSource { field: "materials" })?;
                let trigger = p
                    .invocation
                    .as_ref()
                    .and_then(|i| i.config_source.as_ref())
                    .and_then(|c| c.uri.clone())
                    .filter(|u| !u.is_empty())
                    .ok_or(Reason::NoTrigger {
                        field: "invocation.configSource.uri",
                    })?;
                let metadata = p.metadata.as_ref();
                Ok(View {
                    builder_id: &p.builder.id,
                    build_type: &p.build_type,
                    source: first.uri.as_deref().unwrap_or(""),
                    source_digest: &first.digest,
                    trigger: Some(trigger),
                    invocation_id: metadata.and_then(|m| m.build_invocation_id.as_deref()),
                    started_on: metadata.and_then(|m| m.build_started_on),
                    finished_on: metadata.and_then(|m| m.build_finished_on),
                })
            }
        }
    }
}

/// The trigger a v1 predicate records, by build type; `None` for build types that record
/// none that vouch knows how to read.
fn trigger_v1(def: &BuildDefinition) -> Result<Option<String>, Reason> {
    match def.build_type.as_str() {
        GITHUB_WORKFLOW_BUILD_TYPE | SLSA_GITHUB_WORKFLOW_BUILD_TYPE => {
            let field = "externalParameters.workflow.repository and ref";
            let workflow = def
                .external_parameters
                .get("workflow")
                .and_then(Value::as_object)
                .ok_or(Reason::NoTrigger { field })?;
            let get = |k: &str| workflow.get(k).and_then(Value::as_str);
            match (get("repository"), get("ref")) {
                (Some(repository), Some(r)) => Ok(Some(format!("git+{repository}@{r}"))),
                _ => Err(Reason::NoTrigger { field }),
            }
        }
        BYOB_BUILD_TYPE | CONTAINER_BASED_BUILD_TYPE => {
            // slsa-github-generator records the triggering workflow as GITHUB_WORKFLOW_REF,
            // `OWNER/REPO/PATH@REF`, always on github.com.
            let field = "internalParameters.GITHUB_WORKFLOW_REF";
            let workflow_ref = def
                .internal_parameters
                .as_ref()
                .and_then(|p| p.get("GITHUB_WORKFLOW_REF"))
                .and_then(Value::as_str)
                .ok_or(Reason::NoTrigger { field })?;
            let malformed = || Reason::MalformedUri {
                what: UriRole::Trigger,
                uri: workflow_ref.to_owned(),
                problem: "GITHUB_WORKFLOW_REF is not OWNER/REPO/PATH@REF",
            };
            let (path, r) = workflow_ref.split_once('@').ok_or_else(malformed)?;
            if r.contains('@') {
                return Err(malformed());
            }
            let mut parts = path.splitn(3, '/');
            let (Some(owner), Some(repo)) = (parts.next(), parts.next()) else {
                return Err(malformed());
            };
            Ok(Some(format!("git+https://github.com/{owner}/{repo}@{r}")))
        }
        _ => Ok(None),
    }
}

/// slsa-verifier's source check, with the trigger where there is one. (The source is compared
/// first, so that a wrong repository reads as a source mismatch whatever the build type.)
fn check_source(view: &View<'_>, expected: &SourceRepo) -> Result<(), Reason> {
    let (repo, source_ref) = split_git_uri(view.source, UriRole::Source)?;
    if repo != expected.as_str() {
        return Err(Reason::SourceMismatch {
            expected: expected.to_string(),
            found: view.source.to_owned(),
        });
    }
    if let Some(trigger) = &view.trigger {
        let (repo, trigger_ref) = split_git_uri(trigger, UriRole::Trigger)?;
        if repo != expected.as_str() {
            return Err(Reason::TriggerMismatch {
                expected: expected.to_string(),
                found: trigger.clone(),
            });
        }
        if trigger_ref.is_none() {
            return Err(Reason::MalformedUri {
                what: UriRole::Trigger,
                uri: trigger.clone(),
                problem: "it has no ref",
            });
        }
    }
    if source_ref.is_none() {
        // Two build types build from a commit rather than a ref (as slsa-verifier allows):
        // npm CLI provenance from before GA, and delegated builders.
        if matches!(view.build_type, NPM_CLI_V1_BUILD_TYPE | BYOB_BUILD_TYPE) {
            return Ok(());
        }
        return Err(Reason::MalformedUri {
            what: UriRole::Source,
            uri: view.source.to_owned(),
            problem: "it has no ref",
        });
    }
    if let Some(trigger) = &view.trigger
        && trigger != view.source
    {
        return Err(Reason::TriggerSourceDiffer {
            trigger: trigger.clone(),
            built: view.source.to_owned(),
        });
    }
    Ok(())
}

/// `git+URI@REF` into the URI and the ref (`None` when absent or empty).
fn split_git_uri(uri: &str, what: UriRole) -> Result<(&str, Option<&str>), Reason> {
    if uri.is_empty() {
        return Err(Reason::MalformedUri {
            what,
            uri: String::new(),
            problem: "it is empty",
        });
    }
    if !uri.starts_with("git+") {
        return Err(Reason::MalformedUri {
            what,
            uri: uri.to_owned(),
            problem: "it is not a git+ uri",
        });
    }
    Ok(match uri.split_once('@') {
        Some((repo, r)) => (repo, Some(r).filter(|r| !r.is_empty())),
        None => (uri, None),
    })
}

/// Optional RFC 3339 times; written in UTC.
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    use crate::time::Timestamp;

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_rfc3339()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| Timestamp::parse_rfc3339(&s).map_err(D::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::intoto::Subject;

    const REPO: &str = "git+https://github.com/org/repo";

    fn digest() -> oci::Digest {
        oci::Digest::compute(oci::Algorithm::Sha256, b"artifact")
    }

    fn statement(predicate_type: &str, predicate: Value) -> Statement {
        let Value::Object(map) = predicate else {
            panic!("predicate must be an object")
        };
        Statement::new(
            vec![Subject {
                name: "artifact".into(),
                digest: BTreeMap::from([("sha256".into(), digest().hex().into())]),
            }],
            predicate_type,
            map,
        )
    }

    fn expect(builder: &str, source: &str) -> Expectations {
        Expectations {
            digest: digest(),
            builder_id: BuilderId::parse(builder).unwrap(),
            source: SourceRepo::parse(source).unwrap(),
        }
    }

    fn github_v1(builder: &str, trigger_repo: &str, trigger_ref: &str, source: &str) -> Statement {
        statement(
            PREDICATE_V1,
            json!({
                "buildDefinition": {
                    "buildType": GITHUB_WORKFLOW_BUILD_TYPE,
                    "externalParameters": {"workflow": {
                        "repository": trigger_repo, "ref": trigger_ref, "path": ".github/workflows/r.yml"}},
                    "resolvedDependencies": [{"uri": source, "digest": {"gitCommit": "a".repeat(40)}}]
                },
                "runDetails": {
                    "builder": {"id": builder},
                    "metadata": {"invocationId": "run/1", "startedOn": "2024-05-01T10:00:00+02:00",
                                 "finishedOn": "2024-05-01T08:05:00.5Z"}
                }
            }),
        )
    }

    #[test]
    fn builder_ids_match_as_slsa_verifier_matches_them() {
        let table = [
            // (expected, actual, accepted)
            (
                "https://b/w.yml@refs/tags/v1.2.3",
                "https://b/w.yml@refs/tags/v1.2.3",
                true,
            ),
            (
                "https://b/w.yml@v1.2.3",
                "https://b/w.yml@refs/tags/v1.2.3",
                true,
            ),
            ("https://b/w.yml", "https://b/w.yml@refs/tags/v1.2.3", true),
            ("https://b/w.yml", "https://b/w.yml", true),
            (
                "https://b/w.yml@v1.2.4",
                "https://b/w.yml@refs/tags/v1.2.3",
                false,
            ),
            (
                "https://b/w.yml@refs/heads/v1.2.3",
                "https://b/w.yml@refs/tags/v1.2.3",
                false,
            ),
            (
                "https://b/w.yml@v1.2.3",
                "https://b/w.yml@refs/heads/v1.2.3",
                false,
            ),
            ("https://b/w.yml@v1.2.3", "https://b/w.yml", false),
            (
                "https://b/w.yml@refs/tags/v1.2.3",
                "https://b/w.yml@v1.2.3",
                false,
            ),
            (
                "https://b/w.yaml",
                "https://b/w.yml@refs/tags/v1.2.3",
                false,
            ),
            ("https://b/w.ym", "https://b/w.yml", false),
        ];
        for (expected, actual, accepted) in table {
            let e = BuilderId::parse(expected).unwrap();
            let a = BuilderId::parse(actual).unwrap();
            assert_eq!(e.accepts(&a), accepted, "{expected} vs {actual}");
        }
        for bad in ["", "@v1", "a@", "a@b@c"] {
            assert!(BuilderId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(BuilderId::parse("a@b").unwrap().to_string(), "a@b");
    }

    #[test]
    fn source_expectations_normalize_like_slsa_verifier() {
        for (given, normalized) in [
            ("github.com/org/repo", REPO),
            ("https://github.com/org/repo", REPO),
            (REPO, REPO),
            (
                "gitlab.example/group/sub/repo",
                "git+https://gitlab.example/group/sub/repo",
            ),
        ] {
            assert_eq!(SourceRepo::parse(given).unwrap().as_str(), normalized);
        }
        for bad in [
            "http://github.com/org/repo",
            "git+ssh://github.com/org/repo",
            "https://",
            "git+https:///x",
        ] {
            assert!(
                matches!(
                    SourceRepo::parse(bad),
                    Err(ExpectationError::SourceNotHttps { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            SourceRepo::parse("github.com/org/repo@refs/heads/main"),
            Err(ExpectationError::SourceWithRef { .. })
        ));
    }

    #[test]
    fn github_workflow_provenance_passes_and_reports_its_facts() {
        let s = github_v1(
            "https://github.com/org/repo/.github/workflows/r.yml@refs/heads/main",
            "https://github.com/org/repo",
            "refs/heads/main",
            "git+https://github.com/org/repo@refs/heads/main",
        );
        let facts = check_provenance(
            &s,
            &expect(
                "https://github.com/org/repo/.github/workflows/r.yml",
                "github.com/org/repo",
            ),
        )
        .unwrap();
        assert_eq!(facts.predicate_type, PREDICATE_V1);
        assert_eq!(facts.subject_name, "artifact");
        assert_eq!(
            facts.source_uri,
            "git+https://github.com/org/repo@refs/heads/main"
        );
        assert_eq!(
            facts.trigger_uri.as_deref(),
            Some(facts.source_uri.as_str())
        );
        assert_eq!(facts.source_digest["gitCommit"], "a".repeat(40));
        assert_eq!(facts.invocation_id.as_deref(), Some("run/1"));
        // Offsets are normalized to UTC; fractions kept.
        assert_eq!(
            facts.started_on.unwrap().to_rfc3339(),
            "2024-05-01T08:00:00Z"
        );
        assert_eq!(
            facts.finished_on.unwrap().to_rfc3339(),
            "2024-05-01T08:05:00.5Z"
        );
    }

    #[test]
    fn each_check_fails_with_its_reason() {
        let builder = "https://github.com/org/repo/.github/workflows/r.yml@refs/heads/main";
        let good_source = "git+https://github.com/org/repo@refs/heads/main";
        let exp = expect(builder, REPO);
        type Check = fn(&Reason) -> bool;
        let cases: Vec<(&str, Statement, Check)> = vec![
            (
                "other builder",
                github_v1(
                    "https://github.com/evil/repo/.github/workflows/r.yml@refs/heads/main",
                    "https://github.com/org/repo",
                    "refs/heads/main",
                    good_source,
                ),
                |r| matches!(r, Reason::BuilderMismatch { .. }),
            ),
            (
                "malformed builder",
                github_v1(
                    "a@b@c",
                    "https://github.com/org/repo",
                    "refs/heads/main",
                    good_source,
                ),
                |r| matches!(r, Reason::MalformedBuilderId { .. }),
            ),
            (
                "other source",
                github_v1(
                    builder,
                    "https://github.com/org/repo",
                    "refs/heads/main",
                    "git+https://github.com/org/fork@refs/heads/main",
                ),
                |r| matches!(r, Reason::SourceMismatch { .. }),
            ),
            (
                "source is a prefix",
                github_v1(
                    builder,
                    "https://github.com/org/repo",
                    "refs/heads/main",
                    "git+https://github.com/org/repository@refs/heads/main",
                ),
                |r| matches!(r, Reason::SourceMismatch { .. }),
            ),
            (
                "other trigger",
                github_v1(
                    builder,
                    "https://github.com/evil/repo",
                    "refs/heads/main",
                    good_source,
                ),
                |r| matches!(r, Reason::TriggerMismatch { .. }),
            ),
            (
                "trigger and source refs differ",
                github_v1(
                    builder,
                    "https://github.com/org/repo",
                    "refs/heads/dev",
                    good_source,
                ),
                |r| matches!(r, Reason::TriggerSourceDiffer { .. }),
            ),
            (
                "source without a ref",
                github_v1(
                    builder,
                    "https://github.com/org/repo",
                    "refs/heads/main",
                    REPO,
                ),
                |r| {
                    matches!(
                        r,
                        Reason::MalformedUri {
                            what: UriRole::Source,
                            ..
                        }
                    )
                },
            ),
            (
                "trigger without a ref",
                github_v1(builder, "https://github.com/org/repo", "", good_source),
                |r| {
                    matches!(
                        r,
                        Reason::MalformedUri {
                            what: UriRole::Trigger,
                            ..
                        }
                    )
                },
            ),
            (
                "source not git",
                github_v1(
                    builder,
                    "https://github.com/org/repo",
                    "refs/heads/main",
                    "https://github.com/org/repo@refs/heads/main",
                ),
                |r| {
                    matches!(
                        r,
                        Reason::MalformedUri {
                            what: UriRole::Source,
                            ..
                        }
                    )
                },
            ),
            (
                "not provenance",
                statement("https://example.com/other", json!({})),
                |r| matches!(r, Reason::NotProvenance { .. }),
            ),
            (
                "malformed predicate",
                statement(PREDICATE_V1, json!({"buildDefinition": {}})),
                |r| matches!(r, Reason::MalformedPredicate(_)),
            ),
            (
                "malformed time",
                statement(
                    PREDICATE_V1,
                    json!({
                    "buildDefinition": {"buildType": "t", "externalParameters": {}},
                    "runDetails": {"builder": {"id": builder}, "metadata": {"startedOn": "yesterday"}}}),
                ),
                |r| matches!(r, Reason::MalformedPredicate(_)),
            ),
            (
                "no dependencies",
                statement(
                    PREDICATE_V1,
                    json!({
                    "buildDefinition": {"buildType": "t", "externalParameters": {}},
                    "runDetails": {"builder": {"id": builder}}}),
                ),
                |r| matches!(r, Reason::NoSource { .. }),
            ),
            (
                "workflow build type without its workflow",
                statement(
                    PREDICATE_V1,
                    json!({
                    "buildDefinition": {"buildType": GITHUB_WORKFLOW_BUILD_TYPE, "externalParameters": {},
                        "resolvedDependencies": [{"uri": good_source}]},
                    "runDetails": {"builder": {"id": builder}}}),
                ),
                |r| matches!(r, Reason::NoTrigger { .. }),
            ),
            (
                "v0.2 without configSource",
                statement(
                    PREDICATE_V02,
                    json!({
                    "builder": {"id": builder}, "buildType": "t",
                    "materials": [{"uri": good_source}]}),
                ),
                |r| matches!(r, Reason::NoTrigger { .. }),
            ),
            (
                "v0.2 without materials",
                statement(
                    PREDICATE_V02,
                    json!({
                    "builder": {"id": builder}, "buildType": "t",
                    "invocation": {"configSource": {"uri": good_source}}}),
                ),
                |r| matches!(r, Reason::NoSource { .. }),
            ),
        ];
        for (name, s, check) in cases {
            let reason = check_provenance(&s, &exp).expect_err(name);
            assert!(check(&reason), "{name}: {reason:?}");
            // Every reason reads as one line.
            assert!(!reason.to_string().contains('\n'), "{name}");
        }
        // The wrong artifact.
        let s = github_v1(
            builder,
            "https://github.com/org/repo",
            "refs/heads/main",
            good_source,
        );
        let mut other = exp.clone();
        other.digest = oci::Digest::compute(oci::Algorithm::Sha256, b"other");
        assert!(matches!(
            check_provenance(&s, &other),
            Err(Reason::DigestMismatch { .. })
        ));
        check_provenance(&s, &exp).unwrap();
    }

    #[test]
    fn unknown_build_types_check_the_source_only() {
        let s = statement(
            PREDICATE_V1,
            json!({
                "buildDefinition": {"buildType": "https://example.com/t", "externalParameters": {},
                    "resolvedDependencies": [{"uri": "git+https://gitlab.example/g/r@refs/tags/v1"}]},
                "runDetails": {"builder": {"id": "https://gitlab.example/g/r/-/runners/7"}}
            }),
        );
        let facts = check_provenance(
            &s,
            &expect(
                "https://gitlab.example/g/r/-/runners/7",
                "gitlab.example/g/r",
            ),
        )
        .unwrap();
        assert_eq!(facts.trigger_uri, None);
        assert!(matches!(
            check_provenance(
                &s,
                &expect(
                    "https://gitlab.example/g/r/-/runners/7",
                    "gitlab.example/g/s"
                )
            ),
            Err(Reason::SourceMismatch { .. })
        ));
    }

    #[test]
    fn refless_sources_only_for_the_build_types_that_build_commits() {
        let v02 = |build_type: &str| {
            statement(
                PREDICATE_V02,
                json!({
                    "builder": {"id": "https://github.com/actions/runner"}, "buildType": build_type,
                    "invocation": {"configSource": {"uri": format!("{REPO}@refs/heads/main")}},
                    "materials": [{"uri": REPO}]
                }),
            )
        };
        let exp = expect("https://github.com/actions/runner", REPO);
        check_provenance(&v02(NPM_CLI_V1_BUILD_TYPE), &exp).unwrap();
        assert!(matches!(
            check_provenance(&v02("https://github.com/npm/cli/gha/v2"), &exp),
            Err(Reason::MalformedUri {
                what: UriRole::Source,
                ..
            })
        ));
    }

    #[test]
    fn v1_predicates_round_trip() {
        let predicate = Provenance {
            build_definition: BuildDefinition {
                build_type: GITHUB_WORKFLOW_BUILD_TYPE.into(),
                external_parameters: Map::new(),
                internal_parameters: None,
                resolved_dependencies: vec![ResourceDescriptor {
                    uri: Some(format!("{REPO}@refs/heads/main")),
                    digest: BTreeMap::from([("gitCommit".into(), "b".repeat(40))]),
                    ..ResourceDescriptor::default()
                }],
            },
            run_details: RunDetails {
                builder: Builder {
                    id: "https://b".into(),
                    version: BTreeMap::new(),
                    builder_dependencies: vec![],
                },
                metadata: Some(BuildMetadata {
                    invocation_id: None,
                    started_on: Some(Timestamp::from_unix(0)),
                    finished_on: None,
                }),
                byproducts: vec![],
            },
        };
        let json = serde_json::to_value(&predicate).unwrap();
        assert_eq!(
            json["runDetails"]["metadata"],
            json!({"startedOn": "1970-01-01T00:00:00Z"})
        );
        assert_eq!(json["buildDefinition"].get("internalParameters"), None);
        assert_eq!(
            serde_json::from_value::<Provenance>(json).unwrap(),
            predicate
        );
    }
}
