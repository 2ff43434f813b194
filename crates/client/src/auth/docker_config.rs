//! Docker's client configuration (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
//! stored credentials (`auths.<host>.auth`, `identitytoken`) and credential helpers
//! (`credHelpers`, `credsStore`), looked up the way the docker CLI does.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use super::{Credentials, CredentialsError};
use crate::image_ref::Registry;

/// What a credential helper prints when it holds nothing for the server.
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";
/// The user name a helper returns with an identity token in `Secret`.
const IDENTITY_TOKEN_USER: &str = "<token>";

/// A loaded config file. Loading reads only the file; helpers run when credentials for a
/// registry are first needed.
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    path: Option<PathBuf>,
    auths: BTreeMap<String, AuthEntry>,
    creds_store: Option<String>,
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Clone, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthEntry(..)")
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

/// Where credentials for one registry come from, per the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Run `docker-credential-<helper> get` with `server` on standard input.
    Helper {
        helper: String,
        server: String,
    },
    Stored(Credentials),
    None,
}

impl DockerConfig {
    /// The directory docker reads: `$DOCKER_CONFIG`, else `$HOME/.docker`.
    pub fn default_dir() -> Option<PathBuf> {
        match std::env::var_os("DOCKER_CONFIG") {
            Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
            _ => std::env::home_dir().map(|h| h.join(".docker")),
        }
    }

    /// Loads `config.json` from [`DockerConfig::default_dir`]; no file means no credentials.
    pub fn load() -> Result<DockerConfig, CredentialsError> {
        match DockerConfig::default_dir() {
            Some(dir) => DockerConfig::load_dir(&dir),
            None => Ok(DockerConfig::default()),
        }
    }

    /// Loads `<dir>/config.json`; a missing file is an empty config, as for docker.
    pub fn load_dir(dir: &Path) -> Result<DockerConfig, CredentialsError> {
        let path = dir.join("config.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DockerConfig::default());
            }
            Err(source) => return Err(CredentialsError::Read { path, source }),
        };
        let mut config = DockerConfig::parse(&text).map_err(|e| match e {
            CredentialsError::Parse { message, .. } => CredentialsError::Parse {
                path: Some(path.clone()),
                message,
            },
            other => other,
        })?;
        config.path = Some(path);
        Ok(config)
    }

    /// Parses the JSON text of a config file.
    pub fn parse(text: &str) -> Result<DockerConfig, CredentialsError> {
        let file: File = serde_json::from_str(text).map_err(|e| CredentialsError::Parse {
            path: None,
            message: e.to_string(),
        })?;
        Ok(DockerConfig {
            path: None,
            auths: file.auths,
            creds_store: file.creds_store.filter(|s| !s.is_empty()),
            cred_helpers: file.cred_helpers,
        })
    }

    /// The file this config was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Docker's order: a `credHelpers` entry for the registry, else `credsStore`, else the
    /// `auths` entry.
    pub(crate) fn source(&self, registry: &Registry) -> Result<Source, CredentialsError> {
        let server = registry.auth_key();
        let host = hostname(server);
        let helper = self.cred_helpers.get(server).or_else(|| {
            self.cred_helpers
                .iter()
                .find(|(k, _)| hostname(k) == host)
                .map(|(_, v)| v)
        });
        if let Some(helper) = helper.or(self.creds_store.as_ref()) {
            return Ok(Source::Helper {
                helper: helper.clone(),
                server: server.to_owned(),
            });
        }
        let entry = self.auths.get(server).or_else(|| {
            self.auths
                .iter()
                .find(|(k, _)| {
                    let h = hostname(k);
                    h == host || (registry.is_docker_hub() && is_hub_alias(h))
                })
                .map(|(_, v)| v)
        });
        let Some(entry) = entry else {
            return Ok(Source::None);
        };
        let (username, password) = match entry.auth.as_deref().filter(|a| !a.is_empty()) {
            Some(auth) => decode_auth(auth, server)?,
            None => (String::new(), String::new()),
        };
        if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Source::Stored(Credentials::IdentityToken {
                username,
                token: token.to_owned(),
            }));
        }
        if username.is_empty() && password.is_empty() {
            return Ok(Source::None);
        }
        Ok(Source::Stored(Credentials::Basic { username, password }))
    }
}

/// Docker's `ConvertToHostname`: drop the scheme and any path.
fn hostname(key: &str) -> &str {
    let stripped = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    stripped.split('/').next().unwrap_or(stripped)
}

fn is_hub_alias(host: &str) -> bool {
    matches!(
        host,
        "index.docker.io" | "docker.io" | "registry-1.docker.io"
    )
}

fn decode_auth(auth: &str, server: &str) -> Result<(String, String), CredentialsError> {
    let bad = || CredentialsError::BadAuth {
        server: server.to_owned(),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (user, pass) = text.split_once(':').ok_or_else(bad)?;
    Ok((user.to_owned(), pass.to_owned()))
}

/// Runs `program get` with `server` on standard input, as docker runs credential helpers.
/// Blocking: call it from a blocking thread.
pub(crate) fn run_helper(
    program: &std::ffi::OsStr,
    server: &str,
) -> Result<Option<Credentials>, CredentialsError> {
    let name = program.to_string_lossy().into_owned();
    let spawn_err = |source| CredentialsError::HelperSpawn {
        helper: name.clone(),
        source,
    };
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is judged by its exit status below.
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if stdout.contains(HELPER_NOT_FOUND) {
            return Ok(None);
        }
        let said = if stdout.trim().is_empty() {
            String::from_utf8_lossy(&out.stderr).into_owned()
        } else {
            stdout.into_owned()
        };
        return Err(CredentialsError::HelperFailed {
            helper: name,
            server: server.to_owned(),
            output: said.trim().chars().take(200).collect(),
        });
    }
    #[derive(Deserialize)]
    struct Reply {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let reply: Reply =
        serde_json::from_slice(&out.stdout).map_err(|e| CredentialsError::HelperOutput {
            helper: name.clone(),
            message: e.to_string(),
        })?;
    if reply.username.is_empty() && reply.secret.is_empty() {
        return Ok(None);
    }
    if reply.username == IDENTITY_TOKEN_USER {
        return Ok(Some(Credentials::IdentityToken {
            username: String::new(),
            token: reply.secret,
        }));
    }
    Ok(Some(Credentials::Basic {
        username: reply.username,
        password: reply.secret,
    }))
}

/// `docker-credential-<helper>`, refusing names that would make it a path.
pub(crate) fn helper_program(helper: &str) -> Result<String, CredentialsError> {
    if helper.is_empty() || helper.contains(['/', '\\']) || helper.starts_with('.') {
        return Err(CredentialsError::BadHelperName(helper.to_owned()));
    }
    Ok(format!("docker-credential-{helper}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn reg(s: &str) -> Registry {
        Registry::parse(s).unwrap()
    }

    fn basic(u: &str, p: &str) -> Source {
        Source::Stored(Credentials::Basic {
            username: u.into(),
            password: p.into(),
        })
    }

    #[test]
    fn stored_credentials() {
        let text = format!(
            r#"{{
              "auths": {{
                "https://index.docker.io/v1/": {{"auth": "{hub}"}},
                "127.0.0.1:5000": {{"auth": "{local}", "email": "ignored@example.com"}},
                "https://ghcr.io": {{"auth": "{gh}"}},
                "http://plain.example:8080/v2/": {{"auth": "{plain}"}},
                "tok.example": {{"auth": "{tok}", "identitytoken": "refresh-me"}},
                "empty.example": {{}},
                "colon.example": {{"auth": "{colon}"}}
              }},
              "HttpHeaders": {{"User-Agent": "x"}}
            }}"#,
            hub = b64("hubuser:hubpass"),
            local = b64("ci:ci-pass"),
            gh = b64("gh:tok:with:colons"),
            plain = b64("p:q"),
            tok = b64("<token>:"),
            colon = b64("nocolon"),
        );
        let config = DockerConfig::parse(&text).unwrap();
        let cases = [
            ("docker.io", basic("hubuser", "hubpass")),
            ("index.docker.io", basic("hubuser", "hubpass")),
            ("127.0.0.1:5000", basic("ci", "ci-pass")),
            // Keys with a scheme or a path match by host; passwords keep their colons.
            ("ghcr.io", basic("gh", "tok:with:colons")),
            ("plain.example:8080", basic("p", "q")),
            (
                "tok.example",
                Source::Stored(Credentials::IdentityToken {
                    username: "<token>".into(),
                    token: "refresh-me".into(),
                }),
            ),
            ("empty.example", Source::None),
            ("127.0.0.1:5001", Source::None),
            ("quay.io", Source::None),
        ];
        for (registry, want) in cases {
            assert_eq!(config.source(&reg(registry)).unwrap(), want, "{registry}");
        }
        assert!(matches!(
            config.source(&reg("colon.example")),
            Err(CredentialsError::BadAuth { .. })
        ));
    }

    #[test]
    fn hub_aliases_in_auths() {
        let text = format!(r#"{{"auths":{{"docker.io":{{"auth":"{}"}}}}}}"#, b64("u:p"));
        let config = DockerConfig::parse(&text).unwrap();
        assert_eq!(config.source(&reg("docker.io")).unwrap(), basic("u", "p"));
    }

    #[test]
    fn helpers_take_precedence() {
        let text = format!(
            r#"{{
              "auths": {{"gcr.io": {{"auth": "{a}"}}, "127.0.0.1:5000": {{"auth": "{a}"}}}},
              "credsStore": "desktop",
              "credHelpers": {{"gcr.io": "gcloud", "https://index.docker.io/v1/": "hub"}}
            }}"#,
            a = b64("u:p")
        );
        let config = DockerConfig::parse(&text).unwrap();
        let helper = |h: &str, s: &str| Source::Helper {
            helper: h.into(),
            server: s.into(),
        };
        assert_eq!(
            config.source(&reg("gcr.io")).unwrap(),
            helper("gcloud", "gcr.io")
        );
        assert_eq!(
            config.source(&reg("docker.io")).unwrap(),
            helper("hub", "https://index.docker.io/v1/")
        );
        // credsStore covers every other registry, stored auths included (docker does the same).
        assert_eq!(
            config.source(&reg("127.0.0.1:5000")).unwrap(),
            helper("desktop", "127.0.0.1:5000")
        );
        // An empty credsStore is no store.
        let config = DockerConfig::parse(&format!(
            r#"{{"credsStore":"","auths":{{"x.io":{{"auth":"{}"}}}}}}"#,
            b64("u:p")
        ))
        .unwrap();
        assert_eq!(config.source(&reg("x.io")).unwrap(), basic("u", "p"));
    }

    #[test]
    fn bad_files() {
        assert!(matches!(
            DockerConfig::parse("{"),
            Err(CredentialsError::Parse { .. })
        ));
        assert!(matches!(
            DockerConfig::parse(r#"{"auths":{"x":{"auth":"!!notbase64"}}}"#)
                .unwrap()
                .source(&reg("x")),
            Err(CredentialsError::BadAuth { .. })
        ));
    }

    #[test]
    fn load_dir_reads_config_json_and_tolerates_absence() {
        let dir = tempfile::tempdir().unwrap();
        let empty = DockerConfig::load_dir(dir.path()).unwrap();
        assert_eq!(empty.source(&reg("a.io")).unwrap(), Source::None);
        assert!(empty.path().is_none());
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            format!(r#"{{"auths":{{"a.io":{{"auth":"{}"}}}}}}"#, b64("u:p")),
        )
        .unwrap();
        let config = DockerConfig::load_dir(dir.path()).unwrap();
        assert_eq!(config.source(&reg("a.io")).unwrap(), basic("u", "p"));
        assert_eq!(config.path(), Some(path.as_path()));
        std::fs::write(&path, "not json").unwrap();
        match DockerConfig::load_dir(dir.path()) {
            Err(CredentialsError::Parse { path: Some(p), .. }) => assert_eq!(p, path),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn helper_names() {
        assert_eq!(helper_program("pass").unwrap(), "docker-credential-pass");
        for bad in ["", "../x", "a/b", ".hidden"] {
            assert!(helper_program(bad).is_err(), "{bad:?}");
        }
    }

    /// A helper script that answers like docker-credential-pass: the server it was asked for
    /// must arrive on standard input, and its reply decides the credentials.
    #[test]
    fn runs_credential_helpers() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("docker-credential-test");
        std::fs::write(
            &script,
            r#"#!/bin/sh
[ "$1" = get ] || { echo "bad verb $1" >&2; exit 3; }
server=$(cat)
case "$server" in
  reg.example) echo '{"ServerURL":"reg.example","Username":"alice","Secret":"s3cret"}' ;;
  tok.example) echo '{"ServerURL":"tok.example","Username":"<token>","Secret":"refresh"}' ;;
  broken.example) echo 'not json' ;;
  fail.example) echo 'keychain locked' >&2; exit 1 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
"#,
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Another test thread forking while the script was open for writing can make exec
        // fail with ETXTBSY for a moment; that is the test's doing, so retry it here.
        let run = |server: &str| loop {
            match run_helper(script.as_os_str(), server) {
                Err(CredentialsError::HelperSpawn { source, .. })
                    if source.kind() == std::io::ErrorKind::ExecutableFileBusy =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                other => break other,
            }
        };
        assert_eq!(
            run("reg.example").unwrap(),
            Some(Credentials::Basic {
                username: "alice".into(),
                password: "s3cret".into()
            })
        );
        assert_eq!(
            run("tok.example").unwrap(),
            Some(Credentials::IdentityToken {
                username: String::new(),
                token: "refresh".into()
            })
        );
        assert_eq!(run("other.example").unwrap(), None);
        assert!(matches!(
            run("broken.example"),
            Err(CredentialsError::HelperOutput { .. })
        ));
        match run("fail.example") {
            Err(CredentialsError::HelperFailed { output, .. }) => {
                assert_eq!(output, "keychain locked")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run_helper(dir.path().join("missing").as_os_str(), "x"),
            Err(CredentialsError::HelperSpawn { .. })
        ));
    }
}
