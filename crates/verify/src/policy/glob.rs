//! Repository globs: which repositories a policy covers. A glob is `/`-separated like a
//! repository name; `**` as a whole segment matches any number of segments (zero included,
//! so `prod/**` covers `prod` itself as well as everything under it: covering more is the
//! fail-closed reading), `*` within a segment matches any characters but `/`, and everything
//! else matches itself. Matching is linear in the name times the glob, never exponential.

use std::fmt;

/// The longest glob accepted (a repository name is at most 255 characters).
pub const MAX_GLOB_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GlobError {
    #[error("a repository glob must not be empty")]
    Empty,
    #[error("a repository glob is at most {MAX_GLOB_LEN} characters")]
    TooLong,
    #[error("empty path segment (leading, trailing or doubled '/')")]
    EmptySegment,
    #[error("'**' must be a whole path segment")]
    DoubleStar,
    #[error(
        "character {0:?} can never match: repository names are lowercase letters, digits, '.', '_', '-' and '/'"
    )]
    BadChar(char),
}

/// A parsed repository glob.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: any number of whole segments.
    Any,
    /// Literal text with `*` wildcards, split at the stars: `a*b*c` is `["a", "b", "c"]`.
    Pattern(Vec<String>),
}

impl Glob {
    pub fn parse(s: &str) -> Result<Glob, GlobError> {
        if s.is_empty() {
            return Err(GlobError::Empty);
        }
        if s.len() > MAX_GLOB_LEN {
            return Err(GlobError::TooLong);
        }
        if let Some(c) = s.chars().find(|&c| {
            !(c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, '.' | '_' | '-' | '/' | '*'))
        }) {
            return Err(GlobError::BadChar(c));
        }
        let mut segments = Vec::new();
        for seg in s.split('/') {
            if seg.is_empty() {
                return Err(GlobError::EmptySegment);
            }
            if seg == "**" {
                // Consecutive `**` mean the same as one.
                if segments.last() != Some(&Segment::Any) {
                    segments.push(Segment::Any);
                }
                continue;
            }
            if seg.contains("**") {
                return Err(GlobError::DoubleStar);
            }
            segments.push(Segment::Pattern(
                seg.split('*').map(str::to_owned).collect(),
            ));
        }
        Ok(Glob {
            source: s.to_owned(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the repository `name` is covered.
    pub fn matches(&self, name: &str) -> bool {
        let parts: Vec<&str> = name.split('/').collect();
        // reach[j]: the glob's segments so far can consume exactly the first j name segments.
        let mut reach = vec![false; parts.len() + 1];
        reach[0] = true;
        for seg in &self.segments {
            let mut next = vec![false; parts.len() + 1];
            match seg {
                Segment::Any => {
                    let mut any = false;
                    for j in 0..=parts.len() {
                        any |= reach[j];
                        next[j] = any;
                    }
                }
                Segment::Pattern(pieces) => {
                    for j in 0..parts.len() {
                        if reach[j] && segment_matches(pieces, parts[j]) {
                            next[j + 1] = true;
                        }
                    }
                }
            }
            reach = next;
        }
        reach[parts.len()]
    }
}

/// Whether one segment matches `pieces` joined by `*`: the first piece is a prefix, the last
/// a suffix, and the ones between occur in order (leftmost occurrence is always safe).
fn segment_matches(pieces: &[String], text: &str) -> bool {
    let [first, middle @ .., last] = pieces else {
        // One piece: no star, an exact match.
        return pieces.first().is_some_and(|p| p == text);
    };
    if text.len() < first.len() + last.len() || !text.starts_with(first.as_str()) {
        return false;
    }
    if !text.ends_with(last.as_str()) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for piece in middle {
        match rest.find(piece.as_str()) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    true
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let cases: &[(&str, &str, bool)] = &[
            ("prod/app", "prod/app", true),
            ("prod/app", "prod/app2", false),
            ("prod/app", "prod", false),
            ("prod/*", "prod/app", true),
            ("prod/*", "prod/a/b", false),
            ("prod/*", "prod", false),
            ("prod/**", "prod", true),
            ("prod/**", "prod/app", true),
            ("prod/**", "prod/a/b/c", true),
            ("prod/**", "production/app", false),
            ("prod/**", "staging/prod/app", false),
            ("**", "anything/at/all", true),
            ("**/app", "app", true),
            ("**/app", "a/b/app", true),
            ("**/app", "a/b/app/x", false),
            ("a/**/z", "a/z", true),
            ("a/**/z", "a/b/c/z", true),
            ("a/**/**/z", "a/b/z", true),
            ("a/**/z", "a/b/c", false),
            ("team-*/app", "team-red/app", true),
            ("team-*/app", "team-/app", true),
            ("team-*/app", "team/app", false),
            ("*-svc", "auth-svc", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("*", "x", true),
            ("*", "x/y", false),
        ];
        for &(glob, name, want) in cases {
            let g = Glob::parse(glob).unwrap();
            assert_eq!(g.matches(name), want, "{glob} vs {name}");
        }
    }

    #[test]
    fn invalid_globs() {
        let cases: &[(&str, GlobError)] = &[
            ("", GlobError::Empty),
            ("/prod", GlobError::EmptySegment),
            ("prod/", GlobError::EmptySegment),
            ("prod//app", GlobError::EmptySegment),
            ("prod**", GlobError::DoubleStar),
            ("***", GlobError::DoubleStar),
            ("Prod/app", GlobError::BadChar('P')),
            ("prod/a?", GlobError::BadChar('?')),
            ("prod/[ab]", GlobError::BadChar('[')),
        ];
        for (glob, want) in cases {
            assert_eq!(Glob::parse(glob).unwrap_err(), *want, "{glob}");
        }
        assert_eq!(
            Glob::parse(&"a".repeat(513)).unwrap_err(),
            GlobError::TooLong
        );
    }

    #[test]
    fn adversarial_globs_stay_linear() {
        let many_any = vec!["**"; 100].join("/");
        let glob = Glob::parse(&many_any).unwrap();
        assert!(glob.matches(&vec!["a"; 120].join("/")));
        let stars = Glob::parse(&format!("{}b", "a*".repeat(200))).unwrap();
        assert!(!stars.matches(&"a".repeat(255)));
    }
}
