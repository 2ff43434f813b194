//! Registry authentication: where credentials come from, the scopes operations need, what each
//! registry asked for (Basic or a Bearer token service), and the tokens obtained, cached per
//! registry and scope until they expire. The HTTP side of the token flow is in `client.rs`.

pub(crate) mod challenge;
mod docker_config;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use oci::RepoName;

pub use docker_config::{DockerConfig, Source};
pub(crate) use docker_config::{helper_program, run_helper};

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password, sent as HTTP Basic to the registry or its token server.
    Basic { username: String, password: String },
    /// An OAuth2 refresh token (docker's `identitytoken`), exchanged at the token server.
    IdentityToken { username: String, token: String },
}

impl Credentials {
    /// The `Authorization` value for HTTP Basic, if these are a user name and password.
    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Credentials::IdentityToken { .. } => None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            Credentials::IdentityToken { username, .. } => {
                write!(
                    f,
                    "IdentityToken {{ username: {username:?}, token: <redacted> }}"
                )
            }
        }
    }
}

/// Where the client finds credentials.
#[derive(Debug, Clone, Default)]
pub enum CredentialSource {
    /// Never send credentials (anonymous tokens are still fetched when a registry asks).
    #[default]
    Anonymous,
    /// The same credentials for every registry (`--registry-username/-password`).
    Explicit(Credentials),
    /// Docker's config file and credential helpers, per registry.
    DockerConfig(DockerConfig),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a docker config file: {message}", path.as_ref().map_or("docker config".into(), |p| p.display().to_string()))]
    Parse {
        path: Option<PathBuf>,
        message: String,
    },
    #[error("the docker config's auth for {server} is not base64 of user:password")]
    BadAuth { server: String },
    #[error("credential helper name {0:?} is not a plain name")]
    BadHelperName(String),
    #[error("cannot run {helper}")]
    HelperSpawn {
        helper: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{helper} get failed for {server}: {output}")]
    HelperFailed {
        helper: String,
        server: String,
        output: String,
    },
    #[error("{helper} printed something other than its JSON reply: {message}")]
    HelperOutput { helper: String, message: String },
    #[error("the credential helper thread ended abnormally")]
    HelperThread,
}

/// What an operation does to a repository, which decides the token scope it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    Pull,
    /// Pushing also reads (existence checks, the upload session), as docker asks for.
    Push,
    Delete,
}

impl Access {
    /// The token scope, `repository:<name>:<actions>` (distribution's token spec).
    pub(crate) fn scope(self, name: &RepoName) -> String {
        let actions = match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
            Access::Delete => "delete",
        };
        format!("repository:{name}:{actions}")
    }
}

/// How a registry asked to be authenticated, learned from its first challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthScheme {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Tokens are refreshed this long before the server said they expire, so a request does not
/// leave with a token that expires on the way.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// The token spec's default lifetime, and the least docker assumes whatever the server says.
pub(crate) const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// Per-registry authentication state. Held under a plain mutex, never across an await.
#[derive(Default)]
pub(crate) struct AuthState {
    schemes: HashMap<String, AuthScheme>,
    tokens: HashMap<(String, String), (String, Instant)>,
    credentials: HashMap<String, Option<Credentials>>,
}

impl AuthState {
    pub(crate) fn scheme(&self, registry: &str) -> Option<AuthScheme> {
        self.schemes.get(registry).cloned()
    }

    pub(crate) fn set_scheme(&mut self, registry: &str, scheme: AuthScheme) {
        self.schemes.insert(registry.to_owned(), scheme);
    }

    /// A cached token for `scope` that is still good at `now`.
    pub(crate) fn token(&self, registry: &str, scope: &str, now: Instant) -> Option<String> {
        self.tokens
            .get(&(registry.to_owned(), scope.to_owned()))
            .filter(|(_, expires)| now < *expires)
            .map(|(t, _)| t.clone())
    }

    /// Caches a token obtained at `obtained` that the server said lives `lifetime`.
    pub(crate) fn set_token(
        &mut self,
        registry: &str,
        scope: &str,
        token: String,
        obtained: Instant,
        lifetime: Duration,
    ) {
        let expires = obtained + lifetime.saturating_sub(EXPIRY_MARGIN);
        self.tokens
            .insert((registry.to_owned(), scope.to_owned()), (token, expires));
    }

    /// Credentials resolved earlier for a registry: `Some(None)` means "known to have none".
    pub(crate) fn credentials(&self, registry: &str) -> Option<Option<Credentials>> {
        self.credentials.get(registry).cloned()
    }

    pub(crate) fn set_credentials(&mut self, registry: &str, creds: Option<Credentials>) {
        self.credentials.insert(registry.to_owned(), creds);
    }
}

/// A token server's answer: `token` or `access_token` (the latter wins, as in docker), and
/// `expires_in` seconds (60 when absent, and never less).
pub fn parse_token_response(body: &[u8]) -> Result<(String, Duration), String> {
    #[derive(serde::Deserialize)]
    struct Reply {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        access_token: Option<String>,
        #[serde(default)]
        expires_in: Option<u64>,
    }
    let reply: Reply = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let token = reply
        .access_token
        .filter(|t| !t.is_empty())
        .or(reply.token.filter(|t| !t.is_empty()))
        .ok_or("the reply has neither token nor access_token")?;
    if token.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return Err("the token is not printable ASCII".into());
    }
    let lifetime = reply
        .expires_in
        .map_or(MIN_TOKEN_LIFETIME, Duration::from_secs)
        .max(MIN_TOKEN_LIFETIME);
    Ok((token, lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses() {
        type Want = Result<(&'static str, u64), &'static str>;
        let cases: &[(&str, Want)] = &[
            (r#"{"token":"t1","expires_in":300}"#, Ok(("t1", 300))),
            (r#"{"access_token":"a","token":"t"}"#, Ok(("a", 60))),
            (r#"{"token":"t","access_token":""}"#, Ok(("t", 60))),
            (r#"{"token":"t","expires_in":5}"#, Ok(("t", 60))),
            (
                r#"{"token":"t","issued_at":"2024-01-01T00:00:00Z","refresh_token":"r"}"#,
                Ok(("t", 60)),
            ),
            (r#"{"expires_in":60}"#, Err("neither")),
            (r#"{"token":""}"#, Err("neither")),
            (r#"{"token":"a b"}"#, Err("printable")),
            ("<html>", Err("not JSON")),
        ];
        for (body, want) in cases {
            let got = parse_token_response(body.as_bytes());
            match (want, got) {
                (Ok((t, secs)), Ok((token, life))) => {
                    assert_eq!((token.as_str(), life.as_secs()), (*t, *secs), "{body}")
                }
                (Err(part), Err(msg)) => assert!(msg.contains(part), "{body}: {msg}"),
                (want, got) => panic!("{body}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn tokens_are_cached_per_registry_and_scope_until_expiry() {
        let mut s = AuthState::default();
        let t0 = Instant::now();
        s.set_token(
            "r",
            "repository:a:pull",
            "tok".into(),
            t0,
            Duration::from_secs(60),
        );
        assert_eq!(
            s.token("r", "repository:a:pull", t0).as_deref(),
            Some("tok")
        );
        assert_eq!(s.token("r", "repository:a:pull,push", t0), None);
        assert_eq!(s.token("other", "repository:a:pull", t0), None);
        // Good until the margin before expiry, then gone.
        let almost = t0 + Duration::from_secs(49);
        assert_eq!(
            s.token("r", "repository:a:pull", almost).as_deref(),
            Some("tok")
        );
        assert_eq!(
            s.token("r", "repository:a:pull", t0 + Duration::from_secs(50)),
            None
        );
        // A fresh token replaces the old one.
        s.set_token(
            "r",
            "repository:a:pull",
            "tok2".into(),
            t0,
            Duration::from_secs(600),
        );
        assert_eq!(
            s.token("r", "repository:a:pull", t0 + Duration::from_secs(60))
                .as_deref(),
            Some("tok2")
        );
    }

    #[test]
    fn scopes() {
        let name = RepoName::parse("team/app").unwrap();
        assert_eq!(Access::Pull.scope(&name), "repository:team/app:pull");
        assert_eq!(Access::Push.scope(&name), "repository:team/app:pull,push");
        assert_eq!(Access::Delete.scope(&name), "repository:team/app:delete");
    }

    #[test]
    fn credentials_never_print_secrets() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.basic_header().unwrap(), "Basic dTpodW50ZXIy");
        let t = Credentials::IdentityToken {
            username: String::new(),
            token: "secret-token".into(),
        };
        assert!(!format!("{t:?}").contains("secret-token"));
        assert_eq!(t.basic_header(), None);
    }
}
