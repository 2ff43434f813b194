//! Authentication (HTTP basic against bcrypt hashes, as Distribution's htpasswd) and
//! authorization (roles per repository glob). Without users or anonymous grants the registry is
//! open; with them, every request is checked here before any handler runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine as _;
use oci::RepoName;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// What a principal may do in a repository. `push` and `delete` include `pull`: a client cannot
/// push or delete what it cannot see. `admin` includes everything, and the whole catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Pull,
    Push,
    Delete,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "pull" => Some(Role::Pull),
            "push" => Some(Role::Push),
            "delete" => Some(Role::Delete),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    fn allows(self, action: Action) -> bool {
        matches!(
            (self, action),
            (Role::Admin, _)
                | (Role::Push, Action::Pull | Action::Push)
                | (Role::Delete, Action::Pull | Action::Delete)
                | (Role::Pull, Action::Pull)
        )
    }
}

/// An operation on a repository, as the handlers ask for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
}

/// Roles over the repositories matching any of a set of globs.
#[derive(Clone, Debug)]
pub struct Grant {
    patterns: Vec<Glob>,
    roles: Vec<Role>,
}

impl Grant {
    pub fn new(patterns: &[String], roles: &[Role]) -> Result<Grant, String> {
        if patterns.is_empty() {
            return Err("an access grant needs at least one repository pattern".into());
        }
        Ok(Grant {
            patterns: patterns
                .iter()
                .map(|p| Glob::parse(p))
                .collect::<Result<_, _>>()?,
            roles: roles.to_vec(),
        })
    }

    fn allows(&self, repo: &str, action: Action) -> bool {
        self.roles.iter().any(|r| r.allows(action)) && self.patterns.iter().any(|p| p.matches(repo))
    }

    fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin) && self.patterns.iter().any(Glob::matches_everything)
    }
}

/// A repository glob: `*` and `?` stay within one path segment, `**` crosses segments.
#[derive(Clone, Debug)]
struct Glob(Vec<Token>);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    Byte(u8),
    Any,      // ?
    Star,     // *
    Globstar, // **
}

impl Glob {
    fn parse(p: &str) -> Result<Glob, String> {
        if p.is_empty() {
            return Err("empty repository pattern".into());
        }
        let b = p.as_bytes();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'*' if b.get(i + 1) == Some(&b'*') => {
                    tokens.push(Token::Globstar);
                    i += 2;
                    while b.get(i) == Some(&b'*') {
                        i += 1;
                    }
                }
                b'*' => {
                    tokens.push(Token::Star);
                    i += 1;
                }
                b'?' => {
                    tokens.push(Token::Any);
                    i += 1;
                }
                c if c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-/".contains(&c) => {
                    tokens.push(Token::Byte(c));
                    i += 1;
                }
                c => {
                    return Err(format!(
                        "repository pattern {p:?} has character {:?} that no repository name can contain",
                        char::from(c)
                    ));
                }
            }
        }
        Ok(Glob(tokens))
    }

    fn matches_everything(&self) -> bool {
        self.0 == [Token::Globstar]
    }

    /// Dynamic programming over (pattern position, name position): O(|p|·|n|), no backtracking
    /// blow-up whatever the pattern.
    fn matches(&self, name: &str) -> bool {
        let n = name.as_bytes();
        // reach[j]: the pattern prefix consumed so far can match name[..j].
        let mut reach = vec![false; n.len() + 1];
        reach[0] = true;
        for token in &self.0 {
            let mut next = vec![false; n.len() + 1];
            match token {
                Token::Byte(c) => {
                    for j in 0..n.len() {
                        if reach[j] && n[j] == *c {
                            next[j + 1] = true;
                        }
                    }
                }
                Token::Any => {
                    for j in 0..n.len() {
                        if reach[j] && n[j] != b'/' {
                            next[j + 1] = true;
                        }
                    }
                }
                Token::Star | Token::Globstar => {
                    let crosses = *token == Token::Globstar;
                    let mut carry = false;
                    for j in 0..=n.len() {
                        carry = reach[j] || (carry && j > 0 && (crosses || n[j - 1] != b'/'));
                        next[j] = carry;
                    }
                }
            }
            reach = next;
        }
        reach[n.len()]
    }
}

/// A bcrypt password hash, checked for shape when the configuration loads.
#[derive(Clone)]
pub struct UserPassword(String);

impl UserPassword {
    pub fn from_bcrypt(hash: &str) -> Option<UserPassword> {
        let ok = ["$2a$", "$2b$", "$2y$", "$2x$"]
            .iter()
            .any(|p| hash.starts_with(p))
            && hash.parse::<bcrypt::HashParts>().is_ok();
        ok.then(|| UserPassword(hash.to_owned()))
    }
}

impl std::fmt::Debug for UserPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserPassword(..)")
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub password: UserPassword,
    pub grants: Vec<Grant>,
}

#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub realm: String,
    pub users: Vec<User>,
    pub anonymous: Vec<Grant>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            realm: "vouch".into(),
            users: Vec::new(),
            anonymous: Vec::new(),
        }
    }
}

impl AuthConfig {
    /// No users and no anonymous grants: everyone may do everything.
    pub fn is_open(&self) -> bool {
        self.users.is_empty() && self.anonymous.is_empty()
    }
}

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    User(Arc<str>),
}

impl Principal {
    pub fn name(&self) -> &str {
        match self {
            Principal::Anonymous => "-",
            Principal::User(n) => n,
        }
    }
}

/// How long a verified password stays verified without running bcrypt again.
const CACHE_TTL: Duration = Duration::from_secs(300);
/// bcrypt runs that may happen at once; more wait, so a password-guessing flood cannot occupy
/// every core.
const BCRYPT_CONCURRENCY: usize = 2;

/// Checks credentials and permissions.
pub struct Authenticator {
    config: AuthConfig,
    users: HashMap<String, usize>,
    // user -> (SHA-256 of the password that verified, when). Positive results only.
    cache: Mutex<HashMap<String, ([u8; 32], Instant)>>,
    bcrypt_slots: Semaphore,
}

impl Authenticator {
    pub fn new(config: AuthConfig) -> Authenticator {
        let users = config
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.name.clone(), i))
            .collect();
        Authenticator {
            config,
            users,
            cache: Mutex::new(HashMap::new()),
            bcrypt_slots: Semaphore::new(BCRYPT_CONCURRENCY),
        }
    }

    pub fn is_open(&self) -> bool {
        self.config.is_open()
    }

    /// Resolves the request's credentials. No `Authorization` header means anonymous; a header
    /// that does not verify is an error even where anonymous access would be allowed.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(Principal::Anonymous);
        };
        if self.config.users.is_empty() {
            // No users to be: credentials a client saved for this host mean nothing here, and
            // refusing them would break clients that always send them.
            return Ok(Principal::Anonymous);
        }
        let unauthorized = || ApiError::unauthorized(&self.config.realm);
        let value = value.to_str().map_err(|_| unauthorized())?;
        let (scheme, rest) = value.split_once(' ').ok_or_else(unauthorized)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(unauthorized());
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| unauthorized())?;
        let decoded = String::from_utf8(decoded).map_err(|_| unauthorized())?;
        let (name, password) = decoded.split_once(':').ok_or_else(unauthorized)?;
        // skopeo and podman answer a Basic challenge with an empty user and password when they
        // hold no credentials: that caller is anonymous, not a failed login.
        if name.is_empty() && password.is_empty() {
            return Ok(Principal::Anonymous);
        }
        let Some(&index) = self.users.get(name) else {
            return Err(unauthorized());
        };
        let fingerprint: [u8; 32] =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, password.as_bytes())
                .as_ref()
                .try_into()
                .unwrap_or_else(|_| unreachable!("SHA-256 output is 32 bytes"));
        if self.cached(name, &fingerprint) {
            return Ok(Principal::User(name.into()));
        }
        let hash = self.config.users[index].password.0.clone();
        let password = password.to_owned();
        let ok = {
            let _slot = self
                .bcrypt_slots
                .acquire()
                .await
                .map_err(ApiError::internal)?;
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await?
        };
        if !ok {
            return Err(unauthorized());
        }
        self.lock_cache()
            .insert(name.to_owned(), (fingerprint, Instant::now()));
        Ok(Principal::User(name.into()))
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, ([u8; 32], Instant)>> {
        // A poisoned cache only means a panic elsewhere while holding it; its data is still a
        // valid map of verified fingerprints.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cached(&self, name: &str, fingerprint: &[u8; 32]) -> bool {
        let cache = self.lock_cache();
        match cache.get(name) {
            Some((f, at)) => at.elapsed() < CACHE_TTL && constant_time_eq(f, fingerprint),
            None => false,
        }
    }

    /// The grants that apply to `who`: a user holds their own and whatever anonymous callers
    /// hold (logging in never takes access away).
    fn grants<'a>(&'a self, who: &Principal) -> impl Iterator<Item = &'a Grant> + 'a {
        let own: &[Grant] = match who {
            Principal::Anonymous => &[],
            Principal::User(n) => self
                .users
                .get(&**n)
                .map_or(&[], |&i| &self.config.users[i].grants),
        };
        own.iter().chain(&self.config.anonymous)
    }

    /// The realm of basic-auth challenges.
    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// Whether `who` holds any grant at all (or the registry is open).
    pub fn has_grants(&self, who: &Principal) -> bool {
        self.is_open() || self.grants(who).next().is_some()
    }

    pub fn can(&self, who: &Principal, repo: &RepoName, action: Action) -> bool {
        self.is_open() || self.grants(who).any(|g| g.allows(repo.as_str(), action))
    }

    /// Whether `who` holds `admin` over every repository.
    pub fn is_admin(&self, who: &Principal) -> bool {
        self.is_open() || self.grants(who).any(Grant::is_admin)
    }

    /// Succeeds, or says why not: 401 with a challenge for anonymous callers (so clients retry
    /// with credentials), 403 for an authenticated user without the role.
    pub fn authorize(
        &self,
        who: &Principal,
        repo: &RepoName,
        action: Action,
    ) -> Result<(), ApiError> {
        if self.can(who, repo, action) {
            return Ok(());
        }
        match who {
            Principal::Anonymous => Err(ApiError::unauthorized(&self.config.realm)),
            Principal::User(n) => Err(ApiError::denied(format!(
                "user {n:?} may not {} repository {repo}",
                action.as_str()
            ))),
        }
    }

    /// The `/v2/` check: anonymous callers of a registry with users are asked to authenticate.
    pub fn require_login(&self, who: &Principal) -> Result<(), ApiError> {
        if who == &Principal::Anonymous && !self.config.users.is_empty() {
            return Err(ApiError::unauthorized(&self.config.realm));
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str) -> Glob {
        Glob::parse(p).unwrap()
    }

    #[test]
    fn globs() {
        let table: &[(&str, &str, bool)] = &[
            ("**", "a", true),
            ("**", "a/b/c", true),
            ("prod/**", "prod/app", true),
            ("prod/**", "prod/team/app", true),
            ("prod/**", "prod", false),
            ("prod/**", "production/app", false),
            ("prod/*", "prod/app", true),
            ("prod/*", "prod/team/app", false),
            ("*/app", "x/app", true),
            ("*/app", "x/y/app", false),
            ("**/app", "x/y/app", true),
            ("lib?", "lib1", true),
            ("lib?", "lib/", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
        ];
        for (p, n, want) in table {
            assert_eq!(glob(p).matches(n), *want, "{p} vs {n}");
        }
        assert!(Glob::parse("Prod/**").is_err());
        assert!(Glob::parse("").is_err());
    }

    #[test]
    fn pathological_glob_is_linear() {
        let p = glob(&"*a".repeat(50));
        assert!(!p.matches(&"a".repeat(49)));
    }

    #[test]
    fn roles_imply_what_they_should() {
        let table = [
            (Role::Pull, [true, false, false]),
            (Role::Push, [true, true, false]),
            (Role::Delete, [true, false, true]),
            (Role::Admin, [true, true, true]),
        ];
        for (role, want) in table {
            let got = [Action::Pull, Action::Push, Action::Delete].map(|a| role.allows(a));
            assert_eq!(got, want, "{role:?}");
        }
    }

    fn authenticator() -> Authenticator {
        let hash = bcrypt::hash_with_salt("ci-pass", 4, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        let user = |name: &str, grants| User {
            name: name.into(),
            password: UserPassword::from_bcrypt(&hash).unwrap(),
            grants,
        };
        Authenticator::new(AuthConfig {
            realm: "test".into(),
            users: vec![
                user(
                    "ci",
                    vec![Grant::new(&["prod/**".into()], &[Role::Push]).unwrap()],
                ),
                user(
                    "deploy",
                    vec![Grant::new(&["**".into()], &[Role::Pull]).unwrap()],
                ),
            ],
            anonymous: vec![Grant::new(&["public/*".into()], &[Role::Pull]).unwrap()],
        })
    }

    fn basic(user: &str, pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        h.insert(
            axum::http::header::AUTHORIZATION,
            format!("Basic {v}").parse().unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn basic_auth_and_grants() {
        let a = authenticator();
        let ci = a.authenticate(&basic("ci", "ci-pass")).await.unwrap();
        assert_eq!(ci, Principal::User("ci".into()));
        // Second time hits the cache and still verifies.
        assert_eq!(a.authenticate(&basic("ci", "ci-pass")).await.unwrap(), ci);
        for (u, p) in [("ci", "wrong"), ("nobody", "ci-pass"), ("ci", "")] {
            let e = a.authenticate(&basic(u, p)).await.unwrap_err();
            assert_eq!(e.status().as_u16(), 401, "{u}:{p}");
        }
        let prod = RepoName::parse("prod/app").unwrap();
        let other = RepoName::parse("dev/app").unwrap();
        let public = RepoName::parse("public/x").unwrap();
        assert!(a.can(&ci, &prod, Action::Push));
        assert!(a.can(&ci, &prod, Action::Pull));
        assert!(!a.can(&ci, &prod, Action::Delete));
        assert!(!a.can(&ci, &other, Action::Pull));
        assert_eq!(
            a.authorize(&ci, &other, Action::Pull)
                .unwrap_err()
                .status()
                .as_u16(),
            403
        );
        let anon = Principal::Anonymous;
        assert!(a.can(&anon, &public, Action::Pull));
        assert!(!a.can(&anon, &public, Action::Push));
        assert_eq!(
            a.authorize(&anon, &prod, Action::Pull)
                .unwrap_err()
                .status()
                .as_u16(),
            401
        );
        assert!(a.require_login(&anon).is_err());
        assert!(!a.is_admin(&ci));
    }

    #[tokio::test]
    async fn malformed_authorization_headers_are_401() {
        let a = authenticator();
        for v in [
            "Bearer abc",
            "Basic",
            "Basic !!!",
            "Basic Y2k=", /* "ci" without colon */
        ] {
            let mut h = HeaderMap::new();
            h.insert(axum::http::header::AUTHORIZATION, v.parse().unwrap());
            assert_eq!(
                a.authenticate(&h).await.unwrap_err().status().as_u16(),
                401,
                "{v}"
            );
        }
    }

    #[tokio::test]
    async fn open_registry_allows_everything_and_ignores_saved_credentials() {
        let a = Authenticator::new(AuthConfig::default());
        let r = RepoName::parse("x").unwrap();
        assert!(a.can(&Principal::Anonymous, &r, Action::Delete));
        assert!(a.is_admin(&Principal::Anonymous));
        assert!(a.require_login(&Principal::Anonymous).is_ok());
        let who = a.authenticate(&basic("someone", "whatever")).await.unwrap();
        assert_eq!(who, Principal::Anonymous);
    }

    #[tokio::test]
    async fn logging_in_never_takes_away_anonymous_access() {
        let a = authenticator();
        let ci = a.authenticate(&basic("ci", "ci-pass")).await.unwrap();
        let public = RepoName::parse("public/x").unwrap();
        assert!(a.can(&ci, &public, Action::Pull));
        assert!(!a.can(&ci, &public, Action::Push));
    }
}
