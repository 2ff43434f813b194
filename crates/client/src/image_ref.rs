//! Image references as Docker spells them, `[registry[:port]/]repository[:tag][@digest]`, with
//! Docker's defaults: Docker Hub when no registry is named, `library/` for its one-component
//! names, `latest` when neither a tag nor a digest is given.

use std::fmt;
use std::str::FromStr;

use oci::{Digest, DigestError, NameError, Reference, RepoName, Tag};

/// The registry Docker uses when a reference names none.
pub const DOCKER_HUB: &str = "docker.io";
/// The legacy spelling of Docker Hub, normalized to [`DOCKER_HUB`] as Docker does.
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// The host that serves Docker Hub's `/v2/` API.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The key Docker's config file and credential helpers use for Docker Hub.
const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";
/// The longest `registry/repository` Docker accepts.
pub const MAX_FULL_NAME_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageRefError {
    #[error("image reference is empty")]
    Empty,
    #[error("image reference is a 64-character hex id, not a name")]
    HexId,
    #[error("registry {0:?} is not a host name or address with an optional numeric port")]
    BadRegistry(String),
    #[error("repository name must be lowercase")]
    Uppercase,
    #[error("image name is longer than {MAX_FULL_NAME_LEN} characters")]
    TooLong,
    #[error("bad repository name: {0}")]
    Name(#[source] NameError),
    #[error("bad tag: {0}")]
    Tag(#[source] NameError),
    #[error("bad digest: {0}")]
    Digest(#[source] DigestError),
}

/// A registry host, `host[:port]` (`[v6addr][:port]` for IPv6), as it appears in an image
/// reference. Only [`Registry::parse`] makes one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Registry(Box<str>);

impl Registry {
    /// Parses Docker's domain grammar: dot-separated labels of letters, digits and inner
    /// hyphens, or a bracketed IPv6 address; then an optional numeric port.
    pub fn parse(s: &str) -> Result<Registry, ImageRefError> {
        let bad = || ImageRefError::BadRegistry(s.chars().take(64).collect());
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
            let addr_ok = !addr.is_empty()
                && addr
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            if !addr_ok {
                return Err(bad());
            }
            match after {
                "" => (s, None),
                p => (
                    &s[..s.len() - p.len()],
                    Some(p.strip_prefix(':').ok_or_else(bad)?),
                ),
            }
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        if !host.starts_with('[') && !host.split('.').all(is_domain_label) {
            return Err(bad());
        }
        if let Some(p) = port
            && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        Ok(Registry(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is Docker Hub under any of its names.
    pub fn is_docker_hub(&self) -> bool {
        matches!(&*self.0, DOCKER_HUB | DOCKER_HUB_LEGACY | DOCKER_HUB_API)
    }

    /// The `host[:port]` that serves this registry's `/v2/` API.
    pub fn api_authority(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_API
        } else {
            &self.0
        }
    }

    /// The server address Docker's config file and credential helpers use for this registry:
    /// `https://index.docker.io/v1/` for Docker Hub, the `host[:port]` for anything else.
    pub fn auth_key(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_AUTH_KEY
        } else {
            &self.0
        }
    }
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_label(l: &str) -> bool {
    let b = l.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Registry({})", self.0)
    }
}

/// A repository on a registry: where blobs and manifests live.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    pub registry: Registry,
    pub name: RepoName,
}

impl Repository {
    pub fn new(registry: Registry, name: RepoName) -> Repository {
        Repository { registry, name }
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

/// A parsed, normalized image reference. It names a tag, a digest, or both (then the digest
/// is what gets pulled); a reference given with neither names the tag `latest`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    repository: Repository,
    tag: Option<Tag>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Parses with Docker's rules (`ParseNormalizedNamed` followed by `TagNameOnly`).
    pub fn parse(s: &str) -> Result<ImageRef, ImageRefError> {
        if s.is_empty() {
            return Err(ImageRefError::Empty);
        }
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ImageRefError::HexId);
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d).map_err(ImageRefError::Digest)?)),
            None => (s, None),
        };
        // A tag is a colon after the last slash; a colon before it belongs to a port.
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                let tag = Tag::parse(&name_tag[at + 1..]).map_err(ImageRefError::Tag)?;
                (&name_tag[..at], Some(tag))
            }
            None => (name_tag, None),
        };
        if name.is_empty() {
            return Err(ImageRefError::Name(NameError::EmptyName));
        }
        if name.len() > MAX_FULL_NAME_LEN {
            return Err(ImageRefError::TooLong);
        }
        // Docker's splitDockerDomain: the first component is a registry if it contains a dot
        // or a colon, is `localhost`, or has an uppercase letter (repository names cannot).
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (first, rest.to_owned())
            }
            _ => (DOCKER_HUB, name.to_owned()),
        };
        let registry = if registry == DOCKER_HUB_LEGACY {
            DOCKER_HUB
        } else {
            registry
        };
        let registry = Registry::parse(registry)?;
        let path = if registry.as_str() == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ImageRefError::Uppercase);
        }
        let name = RepoName::parse(&path).map_err(ImageRefError::Name)?;
        let tag = match (&tag, &digest) {
            (None, None) => Some(Tag::parse("latest").map_err(ImageRefError::Tag)?),
            _ => tag,
        };
        Ok(ImageRef {
            repository: Repository { registry, name },
            tag,
            digest,
        })
    }

    /// The same repository at another reference (e.g. the digest a tag resolved to).
    pub fn with_reference(&self, reference: Reference) -> ImageRef {
        let (tag, digest) = match reference {
            Reference::Tag(t) => (Some(t), None),
            Reference::Digest(d) => (None, Some(d)),
        };
        ImageRef {
            repository: self.repository.clone(),
            tag,
            digest,
        }
    }

    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    pub fn registry(&self) -> &Registry {
        &self.repository.registry
    }

    pub fn name(&self) -> &RepoName {
        &self.repository.name
    }

    pub fn tag(&self) -> Option<&Tag> {
        self.tag.as_ref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry for: the digest when there is one, else the tag.
    pub fn reference(&self) -> Reference {
        match (&self.digest, &self.tag) {
            (Some(d), _) => Reference::Digest(d.clone()),
            (None, Some(t)) => Reference::Tag(t.clone()),
            // `parse` and `with_reference` always set one of the two.
            (None, None) => unreachable!("an image reference has a tag or a digest"),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ImageRefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// (input, registry, repository, tag, has the digest `D`). A table, so one line a case.
    #[rustfmt::skip]
    fn ok_cases() -> Vec<(String, &'static str, &'static str, Option<&'static str>, bool)> {
        vec![
            ("alpine".into(), "docker.io", "library/alpine", Some("latest"), false),
            ("alpine:3.19".into(), "docker.io", "library/alpine", Some("3.19"), false),
            ("library/alpine".into(), "docker.io", "library/alpine", Some("latest"), false),
            ("docker.io/alpine".into(), "docker.io", "library/alpine", Some("latest"), false),
            ("index.docker.io/alpine".into(), "docker.io", "library/alpine", Some("latest"), false),
            ("index.docker.io/user/app:v1".into(), "docker.io", "user/app", Some("v1"), false),
            ("user/app".into(), "docker.io", "user/app", Some("latest"), false),
            ("user/app/deep".into(), "docker.io", "user/app/deep", Some("latest"), false),
            // No slash: the whole thing is a Docker Hub name, even with a dot or a colon.
            ("localhost".into(), "docker.io", "library/localhost", Some("latest"), false),
            ("localhost:5000".into(), "docker.io", "library/localhost", Some("5000"), false),
            ("sub.example.com".into(), "docker.io", "library/sub.example.com", Some("latest"), false),
            ("localhost/app".into(), "localhost", "app", Some("latest"), false),
            ("localhost:5000/app:v1".into(), "localhost:5000", "app", Some("v1"), false),
            ("127.0.0.1:5000/team/app".into(), "127.0.0.1:5000", "team/app", Some("latest"), false),
            ("ghcr.io/o/r:sha-1".into(), "ghcr.io", "o/r", Some("sha-1"), false),
            ("example.com:443/a".into(), "example.com:443", "a", Some("latest"), false),
            ("[::1]:5000/app".into(), "[::1]:5000", "app", Some("latest"), false),
            ("[fe80::1]/app:x".into(), "[fe80::1]", "app", Some("x"), false),
            // A port-like suffix on a multi-component name is a tag.
            ("team/app:5000".into(), "docker.io", "team/app", Some("5000"), false),
            // An uppercase first component is a registry (repository names are lowercase).
            ("Registry/app".into(), "Registry", "app", Some("latest"), false),
            // A digest alone: no default tag.
            (format!("alpine@{D}"), "docker.io", "library/alpine", None, true),
            (format!("localhost:5000/app:v1@{D}"), "localhost:5000", "app", Some("v1"), true),
            (format!("[::1]:5000/app@{D}"), "[::1]:5000", "app", None, true),
            ("a-b__c/d.e".into(), "docker.io", "a-b__c/d.e", Some("latest"), false),
        ]
    }

    #[test]
    fn parses_docker_references() {
        for (input, registry, repo, tag, has_digest) in ok_cases() {
            let r = ImageRef::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.registry().as_str(), registry, "{input}");
            assert_eq!(r.name().as_str(), repo, "{input}");
            assert_eq!(r.tag().map(Tag::as_str), tag, "{input}");
            assert_eq!(
                r.digest().map(Digest::as_str),
                has_digest.then_some(D),
                "{input}"
            );
            match r.reference() {
                Reference::Digest(d) => assert!(has_digest && d.as_str() == D, "{input}"),
                Reference::Tag(t) => assert_eq!(Some(t.as_str()), tag, "{input}"),
            }
            // The canonical form parses back to the same reference.
            assert_eq!(ImageRef::parse(&r.to_string()), Ok(r.clone()), "{input}");
        }
    }

    #[test]
    fn canonical_form() {
        let cases = [
            ("alpine", "docker.io/library/alpine:latest"),
            ("index.docker.io/alpine:3", "docker.io/library/alpine:3"),
            ("localhost:5000/a/b", "localhost:5000/a/b:latest"),
        ];
        for (input, want) in cases {
            assert_eq!(ImageRef::parse(input).unwrap().to_string(), want);
        }
        assert_eq!(
            ImageRef::parse(&format!("alpine@{D}")).unwrap().to_string(),
            format!("docker.io/library/alpine@{D}")
        );
    }

    #[test]
    fn rejects_bad_references() {
        let long = format!("example.com/{}", "a".repeat(250));
        let cases: Vec<(String, ImageRefError)> = vec![
            (String::new(), ImageRefError::Empty),
            ("a".repeat(64).replace('a', "f"), ImageRefError::HexId),
            ("alpine:".into(), ImageRefError::Tag(NameError::BadTag)),
            ("alpine:-x".into(), ImageRefError::Tag(NameError::BadTag)),
            (
                "alpine@".into(),
                ImageRefError::Digest(DigestError::Malformed),
            ),
            (
                "alpine@sha256:abc".into(),
                ImageRefError::Digest(DigestError::BadEncoding {
                    algorithm: oci::Algorithm::Sha256,
                    expected: 64,
                }),
            ),
            (
                "alpine@md5:d41d8cd98f00b204e9800998ecf8427e".into(),
                ImageRefError::Digest(DigestError::UnsupportedAlgorithm("md5".into())),
            ),
            ("UPPER".into(), ImageRefError::Uppercase),
            ("example.com/Team/app".into(), ImageRefError::Uppercase),
            ("a:b:c".into(), ImageRefError::Name(NameError::BadName)),
            (
                "example.com:port/app".into(),
                ImageRefError::BadRegistry("example.com:port".into()),
            ),
            (
                "example.com:/app".into(),
                ImageRefError::BadRegistry("example.com:".into()),
            ),
            (
                "-bad.com/app".into(),
                ImageRefError::BadRegistry("-bad.com".into()),
            ),
            (
                "bad-.com/app".into(),
                ImageRefError::BadRegistry("bad-.com".into()),
            ),
            (
                "a..b.com/app".into(),
                ImageRefError::BadRegistry("a..b.com".into()),
            ),
            ("[::1/app".into(), ImageRefError::BadRegistry("[::1".into())),
            (
                "[zz]:5000/app".into(),
                ImageRefError::BadRegistry("[zz]:5000".into()),
            ),
            (
                "[::1]5000/app".into(),
                ImageRefError::BadRegistry("[::1]5000".into()),
            ),
            (":tag".into(), ImageRefError::Name(NameError::EmptyName)),
            (
                "example.com/".into(),
                ImageRefError::Name(NameError::EmptyName),
            ),
            ("/app".into(), ImageRefError::Name(NameError::BadName)),
            (
                "example.com/a//b".into(),
                ImageRefError::Name(NameError::BadName),
            ),
            (
                "example.com/a b".into(),
                ImageRefError::Name(NameError::BadName),
            ),
            ("team/-app".into(), ImageRefError::Name(NameError::BadName)),
            ("team/app_".into(), ImageRefError::Name(NameError::BadName)),
            (long, ImageRefError::TooLong),
        ];
        for (input, want) in cases {
            assert_eq!(ImageRef::parse(&input), Err(want), "{input:?}");
        }
    }

    #[test]
    fn registry_addresses() {
        let hub = Registry::parse("docker.io").unwrap();
        assert!(hub.is_docker_hub());
        assert_eq!(hub.api_authority(), "registry-1.docker.io");
        assert_eq!(hub.auth_key(), "https://index.docker.io/v1/");
        let local = Registry::parse("127.0.0.1:5000").unwrap();
        assert!(!local.is_docker_hub());
        assert_eq!(local.api_authority(), "127.0.0.1:5000");
        assert_eq!(local.auth_key(), "127.0.0.1:5000");
    }

    #[test]
    fn with_reference_replaces_tag_and_digest() {
        let r = ImageRef::parse("localhost:5000/app:v1").unwrap();
        let d = r.with_reference(Reference::Digest(Digest::parse(D).unwrap()));
        assert_eq!(d.to_string(), format!("localhost:5000/app@{D}"));
        assert_eq!(d.tag(), None);
    }
}
