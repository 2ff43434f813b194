//! Reading a policy document (YAML or TOML) into a [`Policy`]: the text is parsed into a JSON
//! tree (both parsers refuse duplicate keys and bound nesting), then walked field by field so
//! that every error names its field; unknown fields are errors. Key and trusted-root files
//! are read through the caller's function, relative to the document's directory, and
//! parsed; conditions are compiled and type-checked. Finally the canonical JSON and digest.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oci::{Algorithm, Digest};
use serde_json::{Map, Value as Json};

use super::cel::{self, CompileError};
use super::glob::{Glob, GlobError};
use super::{
    AttestationRule, Authority, AuthorityKind, IdentityMatch, IndexChildren, Keyless, Mode, Policy,
    TrustedRootRef, condition_env,
};
use crate::keys::{self, KeyError, PublicKey};
use crate::sigstore::Matcher;
use crate::trust_root::{TrustRootError, TrustedRoot};

/// The largest policy document read.
pub const MAX_DOCUMENT_LEN: usize = 256 * 1024;
const MAX_NAME_LEN: usize = 128;
const MAX_REPOSITORIES: usize = 256;
const MAX_AUTHORITIES: usize = 64;
const MAX_ATTESTATIONS: usize = 64;
const MAX_CONDITIONS: usize = 64;
/// Tags the canonical form, so that a later format cannot produce the same bytes.
const CANONICAL_FORMAT: &str = "vouch-policy/v1";

/// A document's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Toml,
}

impl Format {
    /// By extension: `.yaml`, `.yml`, `.toml`.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "yaml" | "yml" => Some(Format::Yaml),
            "toml" => Some(Format::Toml),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Yaml => "YAML",
            Format::Toml => "TOML",
        })
    }
}

/// Why a document is not a policy, and which field (`authorities[1].keyless.issuer`; empty
/// for the document as a whole).
#[derive(Debug, thiserror::Error)]
pub struct PolicyError {
    pub path: String,
    #[source]
    pub kind: PolicyErrorKind,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.path, self.kind)
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    #[error("the file name must end in .yaml, .yml or .toml")]
    UnknownFormat,
    #[error("the document is {len} bytes, more than {max}")]
    TooLarge { len: usize, max: usize },
    #[error("the document is not UTF-8")]
    NotUtf8,
    #[error("invalid {format}{}: {message}", location(*.line, *.column))]
    Syntax {
        format: Format,
        message: String,
        line: Option<usize>,
        column: Option<usize>,
    },
    #[error("expected {expected}, found {found}")]
    Type {
        expected: &'static str,
        found: &'static str,
    },
    #[error("required field is missing")]
    Missing,
    #[error("unknown field (expected one of: {})", .expected.join(", "))]
    UnknownField { expected: &'static [&'static str] },
    #[error("exactly one of {} is required", .fields.join(", "))]
    OneOf { fields: &'static [&'static str] },
    #[error("must match [a-z0-9][a-z0-9._-]* and be at most {MAX_NAME_LEN} characters")]
    BadName,
    #[error("must not be empty")]
    Empty,
    #[error("at most {max} entries")]
    TooMany { max: usize },
    #[error(transparent)]
    Glob(GlobError),
    #[error("must be enforce or warn")]
    BadMode,
    #[error("must be each or inherit")]
    BadIndexChildren,
    #[error("must be between 1 and {authorities} (the number of authorities), found {found}")]
    Threshold { found: String, authorities: usize },
    #[error("another authority is also named {0:?}")]
    DuplicateAuthority(String),
    #[error("the same key as authority {0:?}")]
    DuplicateKey(String),
    #[error("predicate type listed twice; put all of its conditions in one entry")]
    DuplicatePredicateType,
    #[error("cannot read {}: {source}", .file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a PEM public key", .file.display())]
    KeyNotText { file: PathBuf },
    #[error("{}not a usable public key: {source}", file_prefix(.file.as_deref()))]
    Key {
        file: Option<PathBuf>,
        #[source]
        source: KeyError,
    },
    #[error("{}: not a usable trusted root: {source}", .file.display())]
    TrustedRoot {
        file: PathBuf,
        #[source]
        source: TrustRootError,
    },
    #[error("invalid regular expression: {0}")]
    Regex(#[source] regex_lite::Error),
    #[error("{0}")]
    Cel(#[source] CompileError),
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

fn file_prefix(file: Option<&Path>) -> String {
    file.map(|f| format!("{}: ", f.display()))
        .unwrap_or_default()
}

fn err(path: &str, kind: PolicyErrorKind) -> PolicyError {
    PolicyError {
        path: path.to_owned(),
        kind,
    }
}

/// Reads the policy at `path` through `read` (the document, then its key and trusted-root
/// files relative to its directory); the format follows the extension.
pub fn load(
    path: &Path,
    read: &dyn Fn(&Path) -> io::Result<Vec<u8>>,
) -> Result<Policy, PolicyError> {
    let format = Format::from_path(path).ok_or_else(|| err("", PolicyErrorKind::UnknownFormat))?;
    let bytes = read(path).map_err(|source| {
        err(
            "",
            PolicyErrorKind::Read {
                file: path.to_owned(),
                source,
            },
        )
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    parse(&bytes, format, base, read)
}

/// Parses a policy document; `key` and `trusted_root` paths are relative to `base_dir` and
/// read through `read`.
pub fn parse(
    source: &[u8],
    format: Format,
    base_dir: &Path,
    read: &dyn Fn(&Path) -> io::Result<Vec<u8>>,
) -> Result<Policy, PolicyError> {
    if source.len() > MAX_DOCUMENT_LEN {
        return Err(err(
            "",
            PolicyErrorKind::TooLarge {
                len: source.len(),
                max: MAX_DOCUMENT_LEN,
            },
        ));
    }
    let text = std::str::from_utf8(source).map_err(|_| err("", PolicyErrorKind::NotUtf8))?;
    let tree = match format {
        Format::Yaml => yaml(text)?,
        Format::Toml => toml(text)?,
    };
    let loader = Loader { base_dir, read };
    let policy = loader.policy(&tree)?;
    Ok(policy)
}

fn yaml(text: &str) -> Result<Json, PolicyError> {
    let mut options = serde_saphyr::Options::default();
    // YAML 1.2: `no` and `off` are strings, not booleans.
    options.strict_booleans = true;
    // An application tag (`!foo`) has no meaning in a policy.
    options.reject_unsupported_tags = true;
    options.with_snippet = false;
    serde_saphyr::from_str_with_options::<Json>(text, options).map_err(|e| {
        let loc = e.location();
        err(
            "",
            PolicyErrorKind::Syntax {
                format: Format::Yaml,
                message: first_line(&e.without_snippet().to_string()),
                line: loc.map(|l| l.line() as usize),
                column: loc.map(|l| l.column() as usize),
            },
        )
    })
}

fn toml(text: &str) -> Result<Json, PolicyError> {
    toml::from_str::<Json>(text).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => {
                let before = text.get(..span.start).unwrap_or(text);
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                (Some(line), Some(col))
            }
            None => (None, None),
        };
        err(
            "",
            PolicyErrorKind::Syntax {
                format: Format::Toml,
                message: first_line(e.message()),
                line,
                column,
            },
        )
    })
}

/// Parser messages on one line, without the location they repeat.
fn first_line(message: &str) -> String {
    let line = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line = line.trim();
    // serde-saphyr says "error: line L column C: message at line L, column C", and may
    // suggest one of its options (", set DuplicateKeyPolicy in Options if acceptable").
    let line = line.strip_prefix("error: ").unwrap_or(line);
    let line = match line.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest,
        _ => line,
    };
    let line = match line.rfind(" at line ") {
        Some(i) if line[i..].contains(", column ") => &line[..i],
        _ => line,
    };
    let line = line.split(", set ").next().unwrap_or(line);
    line.trim().to_owned()
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a map",
    }
}

fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// A map whose keys are all in `allowed`.
fn object<'a>(
    v: &'a Json,
    path: &str,
    allowed: &'static [&'static str],
) -> Result<&'a Map<String, Json>, PolicyError> {
    let Json::Object(m) = v else {
        return Err(err(
            path,
            PolicyErrorKind::Type {
                expected: "a map",
                found: kind_of(v),
            },
        ));
    };
    if let Some(unknown) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(err(
            &join(path, unknown),
            PolicyErrorKind::UnknownField { expected: allowed },
        ));
    }
    Ok(m)
}

fn opt_string<'a>(
    m: &'a Map<String, Json>,
    parent: &str,
    field: &str,
) -> Result<Option<&'a str>, PolicyError> {
    match m.get(field) {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(other) => Err(err(
            &join(parent, field),
            PolicyErrorKind::Type {
                expected: "a string",
                found: kind_of(other),
            },
        )),
    }
}

fn string<'a>(m: &'a Map<String, Json>, parent: &str, field: &str) -> Result<&'a str, PolicyError> {
    let s = opt_string(m, parent, field)?
        .ok_or_else(|| err(&join(parent, field), PolicyErrorKind::Missing))?;
    if s.is_empty() {
        return Err(err(&join(parent, field), PolicyErrorKind::Empty));
    }
    Ok(s)
}

/// A list of at least one (unless `may_be_empty`) and at most `max` entries.
fn list<'a>(
    m: &'a Map<String, Json>,
    parent: &str,
    field: &str,
    max: usize,
    required: bool,
) -> Result<&'a [Json], PolicyError> {
    let path = join(parent, field);
    let items: &[Json] = match m.get(field) {
        None if required => return Err(err(&path, PolicyErrorKind::Missing)),
        None => &[],
        Some(Json::Array(items)) => items,
        Some(other) => {
            return Err(err(
                &path,
                PolicyErrorKind::Type {
                    expected: "a list",
                    found: kind_of(other),
                },
            ));
        }
    };
    if required && items.is_empty() {
        return Err(err(&path, PolicyErrorKind::Empty));
    }
    if items.len() > max {
        return Err(err(&path, PolicyErrorKind::TooMany { max }));
    }
    Ok(items)
}

fn name(m: &Map<String, Json>, parent: &str) -> Result<String, PolicyError> {
    let s = string(m, parent, "name")?;
    let ok = s.len() <= MAX_NAME_LEN
        && s.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || (i > 0 && matches!(b, b'.' | b'_' | b'-'))
        });
    if !ok {
        return Err(err(&join(parent, "name"), PolicyErrorKind::BadName));
    }
    Ok(s.to_owned())
}

struct Loader<'a> {
    base_dir: &'a Path,
    read: &'a dyn Fn(&Path) -> io::Result<Vec<u8>>,
}

const POLICY_FIELDS: &[&str] = &[
    "name",
    "description",
    "repositories",
    "mode",
    "index_children",
    "bind_repository",
    "authorities",
    "threshold",
    "attestations",
];
const AUTHORITY_FIELDS: &[&str] = &["name", "key", "key_pem", "keyless"];
const KEY_SOURCES: &[&str] = &["key", "key_pem", "keyless"];
const KEYLESS_FIELDS: &[&str] = &[
    "trusted_root",
    "issuer",
    "issuer_regexp",
    "subject",
    "subject_regexp",
];
const ATTESTATION_FIELDS: &[&str] = &["predicate_type", "conditions"];

impl Loader<'_> {
    fn read_file(&self, path: &str, file: &str) -> Result<(PathBuf, Vec<u8>), PolicyError> {
        let full = self.base_dir.join(file);
        let bytes = (self.read)(&full).map_err(|source| {
            err(
                path,
                PolicyErrorKind::Read {
                    file: full.clone(),
                    source,
                },
            )
        })?;
        Ok((full, bytes))
    }

    fn policy(&self, tree: &Json) -> Result<Policy, PolicyError> {
        let m = object(tree, "", POLICY_FIELDS)?;
        let name = name(m, "")?;
        let description = opt_string(m, "", "description")?.map(str::to_owned);

        let mut repositories = Vec::new();
        for (i, g) in list(m, "", "repositories", MAX_REPOSITORIES, true)?
            .iter()
            .enumerate()
        {
            let path = format!("repositories[{i}]");
            let Json::String(s) = g else {
                return Err(err(
                    &path,
                    PolicyErrorKind::Type {
                        expected: "a string",
                        found: kind_of(g),
                    },
                ));
            };
            repositories.push(Glob::parse(s).map_err(|e| err(&path, PolicyErrorKind::Glob(e)))?);
        }

        let mode = match opt_string(m, "", "mode")? {
            None | Some("enforce") => Mode::Enforce,
            Some("warn") => Mode::Warn,
            Some(_) => return Err(err("mode", PolicyErrorKind::BadMode)),
        };
        let index_children = match opt_string(m, "", "index_children")? {
            None | Some("each") => IndexChildren::Each,
            Some("inherit") => IndexChildren::Inherit,
            Some(_) => return Err(err("index_children", PolicyErrorKind::BadIndexChildren)),
        };
        let bind_repository = match m.get("bind_repository") {
            None => false,
            Some(Json::Bool(b)) => *b,
            Some(other) => {
                return Err(err(
                    "bind_repository",
                    PolicyErrorKind::Type {
                        expected: "a bool",
                        found: kind_of(other),
                    },
                ));
            }
        };

        let mut authorities: Vec<Authority> = Vec::new();
        for (i, a) in list(m, "", "authorities", MAX_AUTHORITIES, true)?
            .iter()
            .enumerate()
        {
            let path = format!("authorities[{i}]");
            let authority = self.authority(a, &path)?;
            if authorities.iter().any(|b| b.name == authority.name) {
                return Err(err(
                    &join(&path, "name"),
                    PolicyErrorKind::DuplicateAuthority(authority.name),
                ));
            }
            if let AuthorityKind::Key { fingerprint, .. } = &authority.kind
                && let Some(other) = authorities.iter().find(|b| {
                    matches!(&b.kind, AuthorityKind::Key { fingerprint: f, .. } if f == fingerprint)
                })
            {
                return Err(err(&path, PolicyErrorKind::DuplicateKey(other.name.clone())));
            }
            authorities.push(authority);
        }

        let threshold = match m.get("threshold") {
            None => 1,
            Some(v) => {
                let bad = || {
                    err(
                        "threshold",
                        PolicyErrorKind::Threshold {
                            found: v.to_string(),
                            authorities: authorities.len(),
                        },
                    )
                };
                let Json::Number(n) = v else {
                    return Err(err(
                        "threshold",
                        PolicyErrorKind::Type {
                            expected: "an integer",
                            found: kind_of(v),
                        },
                    ));
                };
                let k = n
                    .as_u64()
                    .and_then(|k| usize::try_from(k).ok())
                    .ok_or_else(bad)?;
                if k == 0 || k > authorities.len() {
                    return Err(bad());
                }
                k
            }
        };

        let mut attestations: Vec<AttestationRule> = Vec::new();
        for (i, a) in list(m, "", "attestations", MAX_ATTESTATIONS, false)?
            .iter()
            .enumerate()
        {
            let path = format!("attestations[{i}]");
            let rule = attestation(a, &path)?;
            if attestations
                .iter()
                .any(|r| r.predicate_type == rule.predicate_type)
            {
                return Err(err(
                    &join(&path, "predicate_type"),
                    PolicyErrorKind::DuplicatePredicateType,
                ));
            }
            attestations.push(rule);
        }

        let mut policy = Policy {
            name,
            description,
            repositories,
            mode,
            index_children,
            bind_repository,
            authorities,
            threshold,
            attestations,
            canonical: Vec::new(),
            digest: Digest::compute(Algorithm::Sha256, b""),
        };
        policy.canonical = canonical_json(&policy);
        policy.digest = Digest::compute(Algorithm::Sha256, &policy.canonical);
        Ok(policy)
    }

    fn authority(&self, v: &Json, path: &str) -> Result<Authority, PolicyError> {
        let m = object(v, path, AUTHORITY_FIELDS)?;
        let name = name(m, path)?;
        let sources: Vec<&str> = KEY_SOURCES
            .iter()
            .copied()
            .filter(|f| m.contains_key(*f))
            .collect();
        let kind = match sources.as_slice() {
            ["key"] => {
                let file = string(m, path, "key")?;
                let key_path = join(path, "key");
                let (full, bytes) = self.read_file(&key_path, file)?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    err(
                        &key_path,
                        PolicyErrorKind::KeyNotText { file: full.clone() },
                    )
                })?;
                let key = PublicKey::from_pem(&text).map_err(|source| {
                    err(
                        &key_path,
                        PolicyErrorKind::Key {
                            file: Some(full),
                            source,
                        },
                    )
                })?;
                key_kind(key)
            }
            ["key_pem"] => {
                let pem = string(m, path, "key_pem")?;
                let key = PublicKey::from_pem(pem).map_err(|source| {
                    err(
                        &join(path, "key_pem"),
                        PolicyErrorKind::Key { file: None, source },
                    )
                })?;
                key_kind(key)
            }
            ["keyless"] => AuthorityKind::Keyless(self.keyless(
                m.get("keyless").unwrap_or(&Json::Null),
                &join(path, "keyless"),
            )?),
            _ => {
                return Err(err(
                    path,
                    PolicyErrorKind::OneOf {
                        fields: KEY_SOURCES,
                    },
                ));
            }
        };
        Ok(Authority { name, kind })
    }

    fn keyless(&self, v: &Json, path: &str) -> Result<Keyless, PolicyError> {
        let m = object(v, path, KEYLESS_FIELDS)?;
        let file = string(m, path, "trusted_root")?;
        let root_path = join(path, "trusted_root");
        let (full, bytes) = self.read_file(&root_path, file)?;
        let root = TrustedRoot::from_json(&bytes).map_err(|source| {
            err(
                &root_path,
                PolicyErrorKind::TrustedRoot { file: full, source },
            )
        })?;
        let trusted_root = TrustedRootRef {
            digest: Digest::compute(Algorithm::Sha256, &bytes),
            root: Arc::new(root),
        };
        let issuer = identity_match(m, path, "issuer", &["issuer", "issuer_regexp"])?;
        let subject = identity_match(m, path, "subject", &["subject", "subject_regexp"])?;
        Ok(Keyless {
            trusted_root,
            issuer,
            subject,
        })
    }
}

fn key_kind(key: PublicKey) -> AuthorityKind {
    let fingerprint = keys::hex(&key.fingerprint());
    AuthorityKind::Key { key, fingerprint }
}

fn identity_match(
    m: &Map<String, Json>,
    parent: &str,
    exact: &str,
    fields: &'static [&'static str],
) -> Result<IdentityMatch, PolicyError> {
    let regexp_field = fields[1];
    match (m.contains_key(exact), m.contains_key(regexp_field)) {
        (true, false) => {
            let text = string(m, parent, exact)?;
            Ok(IdentityMatch {
                text: text.to_owned(),
                regexp: false,
                matcher: Matcher::Exact(text.to_owned()),
            })
        }
        (false, true) => {
            let text = string(m, parent, regexp_field)?;
            let matcher = Matcher::pattern(text)
                .map_err(|e| err(&join(parent, regexp_field), PolicyErrorKind::Regex(e)))?;
            Ok(IdentityMatch {
                text: text.to_owned(),
                regexp: true,
                matcher,
            })
        }
        _ => Err(err(parent, PolicyErrorKind::OneOf { fields })),
    }
}

fn attestation(v: &Json, path: &str) -> Result<AttestationRule, PolicyError> {
    let m = object(v, path, ATTESTATION_FIELDS)?;
    let predicate_type = string(m, path, "predicate_type")?.to_owned();
    let env = condition_env();
    let mut conditions = Vec::new();
    for (i, c) in list(m, path, "conditions", MAX_CONDITIONS, false)?
        .iter()
        .enumerate()
    {
        let cpath = format!("{path}.conditions[{i}]");
        let Json::String(src) = c else {
            return Err(err(
                &cpath,
                PolicyErrorKind::Type {
                    expected: "a string",
                    found: kind_of(c),
                },
            ));
        };
        let program =
            cel::Program::condition(&env, src).map_err(|e| err(&cpath, PolicyErrorKind::Cel(e)))?;
        conditions.push(program);
    }
    Ok(AttestationRule {
        predicate_type,
        conditions,
    })
}

/// The resolved policy as canonical JSON: members sorted by key, no whitespace, strings as
/// serde_json escapes them, integers only.
fn canonical_json(p: &Policy) -> Vec<u8> {
    let s = |v: &str| Json::String(v.to_owned());
    let obj = |entries: Vec<(&str, Json)>| {
        Json::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    };
    let authorities = p
        .authorities
        .iter()
        .map(|a| {
            let source = match &a.kind {
                AuthorityKind::Key { fingerprint, .. } => {
                    ("key", s(&format!("sha256:{fingerprint}")))
                }
                AuthorityKind::Keyless(k) => {
                    let field = |base: &'static str, m: &IdentityMatch| {
                        if m.regexp {
                            (
                                if base == "issuer" {
                                    "issuer_regexp"
                                } else {
                                    "subject_regexp"
                                },
                                s(&m.text),
                            )
                        } else {
                            (base, s(&m.text))
                        }
                    };
                    (
                        "keyless",
                        obj(vec![
                            field("issuer", &k.issuer),
                            field("subject", &k.subject),
                            ("trusted_root", s(k.trusted_root.digest.as_str())),
                        ]),
                    )
                }
            };
            obj(vec![("name", s(&a.name)), source])
        })
        .collect();
    let attestations = p
        .attestations
        .iter()
        .map(|r| {
            obj(vec![
                ("predicate_type", s(&r.predicate_type)),
                (
                    "conditions",
                    Json::Array(r.conditions.iter().map(|c| s(c.source())).collect()),
                ),
            ])
        })
        .collect();
    let mut entries = vec![
        ("format", s(CANONICAL_FORMAT)),
        ("name", s(&p.name)),
        (
            "repositories",
            Json::Array(p.repositories.iter().map(|g| s(g.as_str())).collect()),
        ),
        ("mode", s(p.mode.as_str())),
        ("authorities", Json::Array(authorities)),
        ("threshold", Json::from(p.threshold as u64)),
        ("attestations", Json::Array(attestations)),
    ];
    if let Some(d) = &p.description {
        entries.push(("description", s(d)));
    }
    // These two only when not the default, so that the digests of policies written before
    // them stay as they were.
    if p.index_children != IndexChildren::Each {
        entries.push(("index_children", s(p.index_children.as_str())));
    }
    if p.bind_repository {
        entries.push(("bind_repository", Json::Bool(true)));
    }
    crate::canonical_json::encode(&obj(entries))
}
