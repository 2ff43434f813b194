//! Server configuration: the TOML file, command-line overrides and defaults, resolved once at
//! start into a [`Config`] the rest of the server reads. Paths in the file are relative to it.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::{AuthConfig, Grant, Role, User, UserPassword};

pub const DEFAULT_ADDR: &str = "127.0.0.1:5000";
pub const DEFAULT_DATA_DIR: &str = "./vouch-data";
/// How often policy files are checked for changes unless the configuration says otherwise.
pub const DEFAULT_POLICY_WATCH: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Everything the server needs, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Serve anonymous read-write on a non-loopback address without users. Off unless asked for.
    pub allow_anonymous_remote: bool,
    pub limits: Limits,
    pub auth: AuthConfig,
    pub ledger: LedgerConfig,
    /// The policies the gate enforces (`[gate] policies`), loaded and checked. A repository no
    /// policy covers is served as a plain registry serves it.
    pub policies: verify::policy::PolicySet,
    /// The files `policies` were read from, in order: the gate reads them again (see
    /// `gate::reload`) on SIGHUP, on `POST /api/v1/policies/reload` and every
    /// [`Config::policy_watch`]. Empty when the policies were given directly (tests).
    pub policy_files: Vec<PathBuf>,
    /// How often the gate looks for changed policy files (`[gate] watch_interval`, default
    /// 10s); `None` (`"0s"`) checks only when asked.
    pub policy_watch: Option<Duration>,
}

/// The ledger's settings (`[ledger]`). The ledger itself lives in `<data>/ledger`.
#[derive(Clone)]
pub struct LedgerConfig {
    /// The checkpoints' origin line; by default `<hostname>/vouch-ledger`.
    pub origin: String,
    /// Keys allowed to submit entries through `POST /ledger/add`, besides the node's own.
    pub submitters: Vec<ledger::Submitter>,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            origin: default_origin(),
            submitters: Vec::new(),
        }
    }
}

impl fmt::Debug for LedgerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let submitters: Vec<String> = self
            .submitters
            .iter()
            .map(|s| {
                let events: Vec<&str> = s.events.iter().map(|e| e.as_str()).collect();
                format!(
                    "{} ({}): {}",
                    s.name,
                    ledger::event::fingerprint(&s.key),
                    events.join(", ")
                )
            })
            .collect();
        f.debug_struct("LedgerConfig")
            .field("origin", &self.origin)
            .field("submitters", &submitters)
            .finish()
    }
}

/// `<hostname>/vouch-ledger`, the hostname read from the kernel (`localhost` if unknown).
pub fn default_origin() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}/vouch-ledger")
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest manifest accepted; larger pushes get 413.
    pub max_manifest_bytes: usize,
    /// An upload session idle for this long is discarded.
    pub upload_expiry: Duration,
    /// Unreferenced blobs younger than this are kept by garbage collection, so that a push in
    /// progress (blobs first, manifest last) never loses its blobs.
    pub gc_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_manifest_bytes: oci::DEFAULT_MAX_MANIFEST_BYTES,
            upload_expiry: Duration::from_secs(24 * 3600),
            gc_grace: Duration::from_secs(3600),
        }
    }
}

/// Values given on the command line; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub addr: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub allow_anonymous_remote: bool,
}

impl Config {
    /// Defaults for a data directory, as tests and `vouch gc` without a config use them.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            addr: DEFAULT_ADDR
                .parse()
                .unwrap_or_else(|_| unreachable!("constant address")),
            data_dir: data_dir.into(),
            allow_anonymous_remote: false,
            limits: Limits::default(),
            auth: AuthConfig::default(),
            ledger: LedgerConfig::default(),
            policies: verify::policy::PolicySet::default(),
            policy_files: Vec::new(),
            policy_watch: Some(DEFAULT_POLICY_WATCH),
        }
    }

    /// Where the ledger's files are.
    pub fn ledger_dir(&self) -> PathBuf {
        self.data_dir.join("ledger")
    }

    /// Loads the file (if any) and applies the overrides.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut config = Config::for_data_dir(DEFAULT_DATA_DIR);
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            config = Config::from_toml(&text, path)?;
        }
        if let Some(addr) = overrides.addr {
            config.addr = addr;
        }
        if let Some(dir) = overrides.data_dir {
            config.data_dir = dir;
        }
        config.allow_anonymous_remote |= overrides.allow_anonymous_remote;
        Ok(config)
    }

    /// Parses a configuration document; relative paths resolve against `path`'s directory.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_owned()
            } else {
                base.join(p)
            }
        };
        let mut config = Config::for_data_dir(DEFAULT_DATA_DIR);
        let s = file.server;
        if let Some(addr) = s.addr {
            config.addr = addr.parse().map_err(|_| {
                ConfigError::Invalid(format!("server.addr {addr:?} is not host:port"))
            })?;
        }
        if let Some(data) = s.data {
            config.data_dir = resolve(&data);
        }
        config.allow_anonymous_remote = s.allow_anonymous_remote;
        if let Some(n) = s.max_manifest_bytes {
            config.limits.max_manifest_bytes = n;
        }
        if let Some(d) = s.upload_expiry {
            config.limits.upload_expiry = parse_duration(&d)?;
        }
        if let Some(d) = s.gc_grace {
            config.limits.gc_grace = parse_duration(&d)?;
        }
        config.auth = resolve_auth(file.auth, &resolve)?;
        config.ledger = resolve_ledger(file.ledger, &resolve)?;
        if let Some(d) = &file.gate.watch_interval {
            let d = parse_duration(d)?;
            config.policy_watch = (!d.is_zero()).then_some(d);
        }
        config.policy_files = file.gate.policies.iter().map(|f| resolve(f)).collect();
        config.policies = load_policies(&config.policy_files)?;
        Ok(config)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    auth: AuthSection,
    #[serde(default)]
    ledger: LedgerSection,
    #[serde(default)]
    gate: GateSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GateSection {
    /// Policy documents (YAML or TOML), relative to the configuration file.
    #[serde(default)]
    policies: Vec<String>,
    /// How often the files are checked for changes (`"0s"`: never, only on SIGHUP or
    /// `POST /api/v1/policies/reload`).
    watch_interval: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    addr: Option<String>,
    data: Option<String>,
    #[serde(default)]
    allow_anonymous_remote: bool,
    max_manifest_bytes: Option<usize>,
    upload_expiry: Option<String>,
    gc_grace: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuthSection {
    /// A file in Distribution's htpasswd format (bcrypt only).
    htpasswd: Option<String>,
    #[serde(default)]
    realm: Option<String>,
    #[serde(default)]
    users: Vec<UserSection>,
    #[serde(default)]
    anonymous: Vec<GrantSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserSection {
    name: String,
    /// A bcrypt hash (`$2y$...`); if absent the user's line in the htpasswd file is used.
    password: Option<String>,
    #[serde(default)]
    access: Vec<GrantSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantSection {
    repos: OneOrMany,
    roles: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LedgerSection {
    origin: Option<String>,
    #[serde(default)]
    submitters: Vec<SubmitterSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitterSection {
    name: String,
    /// A PEM SPKI public key file.
    key: String,
    /// Event type names, e.g. `build.recorded`.
    events: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Reads and checks the policy documents `files` (with the keys and trusted roots they name)
/// into one set: at start, and again whenever the gate reloads.
pub fn load_policies(files: &[PathBuf]) -> Result<verify::policy::PolicySet, ConfigError> {
    let mut policies = Vec::new();
    for path in files {
        let policy = verify::policy::load(path, &|p: &Path| std::fs::read(p)).map_err(|e| {
            ConfigError::Parse {
                path: path.clone(),
                message: e.to_string(),
            }
        })?;
        policies.push(policy);
    }
    verify::policy::PolicySet::new(policies)
        .map_err(|e| ConfigError::Invalid(format!("gate.policies: {e}")))
}

fn resolve_auth(
    section: AuthSection,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<AuthConfig, ConfigError> {
    let htpasswd = match &section.htpasswd {
        Some(p) => {
            let path = resolve(p);
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            parse_htpasswd(&text, &path)?
        }
        None => Vec::new(),
    };
    let mut users = Vec::new();
    for u in section.users {
        if users.iter().any(|x: &User| x.name == u.name) {
            return Err(ConfigError::Invalid(format!(
                "user {:?} is configured twice",
                u.name
            )));
        }
        if u.name.is_empty() || u.name.contains(':') {
            return Err(ConfigError::Invalid(format!(
                "user name {:?} is empty or contains ':'",
                u.name
            )));
        }
        // The name is the actor of the user's events on the ledger, which takes 1 to 256
        // bytes without control characters.
        if u.name.len() > 256 || u.name.chars().any(char::is_control) {
            return Err(ConfigError::Invalid(format!(
                "user name {:?} is longer than 256 bytes or contains control characters",
                u.name
            )));
        }
        let hash = match u.password {
            Some(h) => h,
            None => htpasswd
                .iter()
                .find(|(n, _)| *n == u.name)
                .map(|(_, h)| h.clone())
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "user {:?} has no password and is not in the htpasswd file",
                        u.name
                    ))
                })?,
        };
        let password = UserPassword::from_bcrypt(&hash).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "user {:?}: password must be a bcrypt hash ($2a$, $2b$ or $2y$), as `htpasswd -B` or `vouch hash-password` print",
                u.name
            ))
        })?;
        let grants = u
            .access
            .into_iter()
            .map(resolve_grant)
            .collect::<Result<_, _>>()?;
        users.push(User {
            name: u.name,
            password,
            grants,
        });
    }
    let anonymous = section
        .anonymous
        .into_iter()
        .map(resolve_grant)
        .collect::<Result<_, _>>()?;
    Ok(AuthConfig {
        realm: section.realm.unwrap_or_else(|| "vouch".to_owned()),
        users,
        anonymous,
    })
}

fn resolve_ledger(
    section: LedgerSection,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<LedgerConfig, ConfigError> {
    let origin = match section.origin {
        Some(origin) => {
            // The origin is the first line of every checkpoint: refuse here what signing one
            // would refuse later.
            verify::checkpoint::Checkpoint::new(&origin, 0, verify::merkle::EMPTY_ROOT).map_err(
                |e| ConfigError::Invalid(format!("ledger.origin {origin:?} is not usable: {e}")),
            )?;
            origin
        }
        None => default_origin(),
    };
    let mut submitters: Vec<ledger::Submitter> = Vec::new();
    for s in section.submitters {
        let what = format!("ledger submitter {:?}", s.name);
        if s.name.is_empty() {
            return Err(ConfigError::Invalid(
                "a ledger submitter has an empty name".into(),
            ));
        }
        if submitters.iter().any(|x| x.name == s.name) {
            return Err(ConfigError::Invalid(format!("{what} is configured twice")));
        }
        if s.events.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "{what} lists no events; give the event types it may record, e.g. events = [\"build.recorded\"]"
            )));
        }
        let events = s
            .events
            .iter()
            .map(|name| {
                ledger::EventType::parse(name).ok_or_else(|| {
                    let known: Vec<&str> =
                        ledger::EventType::ALL.iter().map(|t| t.as_str()).collect();
                    ConfigError::Invalid(format!(
                        "{what}: unknown event type {name:?}; the event types are {}",
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        let path = resolve(&s.key);
        let pem = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let key = verify::keys::PublicKey::from_pem(&pem).map_err(|e| {
            ConfigError::Invalid(format!(
                "{what}: {} is not a PEM public key (SPKI): {e}",
                path.display()
            ))
        })?;
        submitters.push(ledger::Submitter {
            name: s.name,
            key,
            events,
        });
    }
    Ok(LedgerConfig { origin, submitters })
}

fn resolve_grant(g: GrantSection) -> Result<Grant, ConfigError> {
    let patterns = match g.repos {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(ps) => ps,
    };
    let roles = g
        .roles
        .iter()
        .map(|r| {
            Role::parse(r).ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "unknown role {r:?}; roles are pull, push, delete, admin"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Grant::new(&patterns, &roles).map_err(ConfigError::Invalid)
}

/// Parses Distribution's htpasswd format: `user:bcrypt-hash` per line, `#` comments.
fn parse_htpasswd(text: &str, path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (user, hash) = line.split_once(':').ok_or_else(|| ConfigError::Parse {
            path: path.to_owned(),
            message: format!("line {}: expected user:hash", i + 1),
        })?;
        out.push((user.to_owned(), hash.to_owned()));
    }
    Ok(out)
}

/// Parses `90s`, `15m`, `24h`, `7d` (one unit, whole numbers).
pub fn parse_duration(s: &str) -> Result<Duration, ConfigError> {
    let bad = || {
        ConfigError::Invalid(format!(
            "{s:?} is not a duration such as 90s, 15m, 24h or 7d"
        ))
    };
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2y$05$9y3VLOI6fA9ACWhZbw8EhukG9XqLUg9rhAnvnNtMlwQUfAIfQCXyC";

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172800));
        for bad in ["", "h", "5", "5x", "-5s", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn full_file_resolves_relative_to_itself() {
        let text = format!(
            r#"
            [server]
            addr = "127.0.0.1:6000"
            data = "state"
            upload_expiry = "2h"

            [[auth.users]]
            name = "ci"
            password = "{HASH}"
            access = [{{ repos = "prod/**", roles = ["push"] }}]

            [[auth.users]]
            name = "deploy"
            password = "{HASH}"
            access = [{{ repos = ["**"], roles = ["pull"] }}]
            "#
        );
        let c = Config::from_toml(&text, Path::new("/etc/vouch/vouch.toml")).unwrap();
        assert_eq!(c.addr.port(), 6000);
        assert_eq!(c.data_dir, Path::new("/etc/vouch/state"));
        assert_eq!(c.limits.upload_expiry, Duration::from_secs(7200));
        assert_eq!(c.auth.users.len(), 2);
    }

    #[test]
    fn rejects_mistakes_with_a_reason() {
        let cases = [
            ("[server]\nadr = \"x\"", "unknown field"),
            ("[server]\naddr = \"nope\"", "not host:port"),
            (
                "[[auth.users]]\nname = \"a\"\npassword = \"plain\"",
                "bcrypt",
            ),
            ("[[auth.users]]\nname = \"a\"", "no password"),
            (
                &format!(
                    "[[auth.users]]\nname = \"a\"\npassword = \"{HASH}\"\naccess = [{{ repos = \"x\", roles = [\"owner\"] }}]"
                ),
                "unknown role",
            ),
            (
                &format!(
                    "[[auth.users]]\nname = \"a\"\npassword = \"{HASH}\"\n[[auth.users]]\nname = \"a\"\npassword = \"{HASH}\""
                ),
                "twice",
            ),
            (
                &format!(
                    "[[auth.users]]\nname = \"{}\"\npassword = \"{HASH}\"",
                    "a".repeat(257)
                ),
                "longer than 256 bytes",
            ),
            (
                &format!("[[auth.users]]\nname = \"a\\tb\"\npassword = \"{HASH}\""),
                "control characters",
            ),
        ];
        for (text, want) in cases {
            let err = Config::from_toml(text, Path::new("v.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn gate_section_keeps_its_files_and_watch_interval() {
        let dir = tempfile::tempdir().unwrap();
        let key = verify::keys::PrivateKey::generate(verify::keys::KeyKind::EcdsaP256)
            .unwrap()
            .public_key()
            .unwrap();
        std::fs::write(dir.path().join("release.pub"), key.to_pem()).unwrap();
        std::fs::write(
            dir.path().join("prod.yaml"),
            "name: prod\nrepositories: [\"prod/**\"]\nauthorities:\n  - name: r\n    key: release.pub\n",
        )
        .unwrap();
        let file = dir.path().join("vouch.toml");
        let c = Config::from_toml("[gate]\npolicies = [\"prod.yaml\"]\n", &file).unwrap();
        assert_eq!(c.policy_files, [dir.path().join("prod.yaml")]);
        assert_eq!(c.policies.policies().len(), 1);
        assert_eq!(c.policy_watch, Some(DEFAULT_POLICY_WATCH));
        let text = "[gate]\npolicies = [\"prod.yaml\"]\nwatch_interval = \"0s\"\n";
        assert_eq!(Config::from_toml(text, &file).unwrap().policy_watch, None);
        let text = "[gate]\npolicies = [\"prod.yaml\"]\nwatch_interval = \"2m\"\n";
        assert_eq!(
            Config::from_toml(text, &file).unwrap().policy_watch,
            Some(Duration::from_secs(120))
        );
        let text = "[gate]\npolicies = [\"prod.yaml\"]\nwatch_interval = \"soon\"\n";
        assert!(Config::from_toml(text, &file).is_err());
        let missing = "[gate]\npolicies = [\"gone.yaml\"]\n";
        let err = Config::from_toml(missing, &file).unwrap_err().to_string();
        assert!(err.contains("gone.yaml"), "{err}");
    }

    #[test]
    fn ledger_section() {
        let dir = tempfile::tempdir().unwrap();
        let key = verify::keys::PrivateKey::generate(verify::keys::KeyKind::EcdsaP256)
            .unwrap()
            .public_key()
            .unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        std::fs::write(dir.path().join("keys/ci.pub"), key.to_pem()).unwrap();
        std::fs::write(dir.path().join("keys/junk.pub"), "not a key").unwrap();
        let file = dir.path().join("vouch.toml");
        let text = r#"
            [ledger]
            origin = "registry.example/vouch-ledger"

            [[ledger.submitters]]
            name = "ci"
            key = "keys/ci.pub"
            events = ["build.recorded", "signature.attached"]
        "#;
        let c = Config::from_toml(text, &file).unwrap();
        assert_eq!(c.ledger.origin, "registry.example/vouch-ledger");
        let [ci] = c.ledger.submitters.as_slice() else {
            panic!("{:?}", c.ledger)
        };
        assert_eq!(ci.name, "ci");
        assert_eq!(ci.key.fingerprint(), key.fingerprint());
        assert_eq!(
            ci.events,
            [
                ledger::EventType::SignatureAttached,
                ledger::EventType::BuildRecorded
            ]
            .into()
        );
        assert!(format!("{:?}", c.ledger).contains("build.recorded"));
        // Without a section: the hostname's origin, nobody else submits.
        let c = Config::from_toml("", &file).unwrap();
        assert!(
            c.ledger.origin.ends_with("/vouch-ledger"),
            "{}",
            c.ledger.origin
        );
        assert!(!c.ledger.origin.starts_with('/'), "{}", c.ledger.origin);
        assert!(c.ledger.submitters.is_empty());
        assert_eq!(c.ledger_dir(), c.data_dir.join("ledger"));

        let submitter = |key: &str, events: &str| {
            format!("[[ledger.submitters]]\nname = \"ci\"\nkey = \"{key}\"\nevents = {events}")
        };
        let cases = [
            (
                submitter("keys/ci.pub", r#"["build.recorded", "build.done"]"#),
                "unknown event type \"build.done\"; the event types are artifact.pushed",
            ),
            (submitter("keys/ci.pub", "[]"), "lists no events"),
            (
                submitter("keys/none.pub", r#"["build.recorded"]"#),
                "cannot read",
            ),
            (
                submitter("keys/junk.pub", r#"["build.recorded"]"#),
                "is not a PEM public key",
            ),
            (
                format!(
                    "{}\n{}",
                    submitter("keys/ci.pub", r#"["build.recorded"]"#),
                    submitter("keys/ci.pub", r#"["build.recorded"]"#)
                ),
                "configured twice",
            ),
            ("[ledger]\norigin = \"\"".to_owned(), "ledger.origin"),
            ("[ledger]\norigin = \"a\\nb\"".to_owned(), "ledger.origin"),
            ("[ledger]\norign = \"x\"".to_owned(), "unknown field"),
        ];
        for (text, want) in cases {
            let err = Config::from_toml(&text, &file).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
