//! Repository names, tags and references with the grammars of the distribution spec.

use std::fmt;

use crate::digest::{Digest, DigestError};

/// Longest repository name accepted. Clients limit `host/name` to 255 characters; this leaves
/// room for the host as the spec's implementers note suggests.
pub const MAX_NAME_LEN: usize = 255;
/// Longest tag the spec allows.
pub const MAX_TAG_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    #[error("repository name is empty")]
    EmptyName,
    #[error("repository name is longer than {MAX_NAME_LEN} characters")]
    NameTooLong,
    #[error(
        "repository name must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*"
    )]
    BadName,
    #[error("tag must match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}")]
    BadTag,
    #[error(transparent)]
    Digest(#[from] DigestError),
}

/// A repository name (`<name>` in the distribution spec), e.g. `library/alpine`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(Box<str>);

impl RepoName {
    pub fn parse(s: &str) -> Result<RepoName, NameError> {
        if s.is_empty() {
            return Err(NameError::EmptyName);
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        if !s.split('/').all(is_path_component) {
            return Err(NameError::BadName);
        }
        Ok(RepoName(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    // A component starts with an alphanumeric run.
    if b.is_empty() || !alnum(b[0]) {
        return false;
    }
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: ".", "_", "__" or one or more "-", then an alphanumeric must follow.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return false;
        }
    }
    true
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepoName({})", self.0)
    }
}

/// A tag, `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(Box<str>);

impl Tag {
    pub fn parse(s: &str) -> Result<Tag, NameError> {
        let b = s.as_bytes();
        let first_ok = b
            .first()
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_');
        let rest_ok = b
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if !first_ok || !rest_ok || b.len() > MAX_TAG_LEN {
            return Err(NameError::BadTag);
        }
        Ok(Tag(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", self.0)
    }
}

/// The `<reference>` of a manifest URL: a tag or a digest, never anything else.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl Reference {
    /// A reference containing `:` is a digest (tags cannot contain it); anything else is a tag.
    pub fn parse(s: &str) -> Result<Reference, NameError> {
        if s.contains(':') {
            Ok(Reference::Digest(Digest::parse(s)?))
        } else {
            Ok(Reference::Tag(Tag::parse(s)?))
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => t.fmt(f),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        let good = [
            "a",
            "library/alpine",
            "a.b_c__d---e/f0",
            "conformance/repo1",
            "x/y/z/w",
            "blobs/uploads",
            "a-b",
        ];
        for n in good {
            assert!(RepoName::parse(n).is_ok(), "{n} should parse");
        }
        let bad = [
            "", "A", "a/", "/a", "a//b", "a..b", "a___b", "-a", "a-", "a_", "a.", "_a", "a b",
            "a/B", "a:b", "é",
        ];
        for n in bad {
            assert!(RepoName::parse(n).is_err(), "{n:?} should be rejected");
        }
        assert_eq!(
            RepoName::parse(&"a".repeat(256)),
            Err(NameError::NameTooLong)
        );
        assert!(RepoName::parse(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn tags() {
        for t in ["latest", "v1.2.3", "_x", "A-b_c.d", &"a".repeat(128)] {
            assert!(Tag::parse(t).is_ok(), "{t} should parse");
        }
        for t in ["", ".x", "-x", "a/b", "a:b", "a+b", &"a".repeat(129)] {
            assert!(Tag::parse(t).is_err(), "{t:?} should be rejected");
        }
    }

    #[test]
    fn references() {
        assert!(matches!(Reference::parse("latest"), Ok(Reference::Tag(_))));
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(matches!(Reference::parse(d), Ok(Reference::Digest(_))));
        assert!(matches!(
            Reference::parse("sha256:baddigeststring"),
            Err(NameError::Digest(_))
        ));
    }
}
