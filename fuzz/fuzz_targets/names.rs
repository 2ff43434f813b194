//! Fuzzes `RepoName`, `Tag` and `Reference` parsing: whatever parses prints back to the exact
//! input, re-parses equal, keeps to the spec's grammar and length limits, and a reference is a
//! tag or a digest exactly when the tag or digest parser says so.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci::{Digest, MAX_NAME_LEN, MAX_TAG_LEN, Reference, RepoName, Tag};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    check_name(s);
    check_tag(s);
    check_reference(s);
});

fn check_name(s: &str) {
    let Ok(name) = RepoName::parse(s) else {
        return;
    };
    assert_eq!(name.as_str(), s);
    assert_eq!(name.to_string(), s);
    assert_eq!(RepoName::parse(&name.to_string()), Ok(name));
    assert!(
        !s.is_empty() && s.len() <= MAX_NAME_LEN,
        "length {}",
        s.len()
    );
    // `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` per `/`-separated component.
    for component in s.split('/') {
        let b = component.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        assert!(b.first().is_some_and(alnum), "{s:?}: component start");
        assert!(b.last().is_some_and(alnum), "{s:?}: component end");
        assert!(
            b.iter()
                .all(|c| alnum(c) || matches!(c, b'.' | b'_' | b'-')),
            "{s:?}: component bytes"
        );
        // Separators are `.`, `_`, `__` or a run of `-`: two in a row are `__` or `--`.
        for pair in b.windows(2).filter(|p| !alnum(&p[0]) && !alnum(&p[1])) {
            assert!(pair == b"__" || pair == b"--", "{s:?}: separators");
        }
        assert!(!component.contains("___"), "{s:?}: separators");
    }
}

fn check_tag(s: &str) {
    let Ok(tag) = Tag::parse(s) else {
        return;
    };
    assert_eq!(tag.as_str(), s);
    assert_eq!(tag.to_string(), s);
    assert_eq!(Tag::parse(&tag.to_string()), Ok(tag));
    // `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
    assert!((1..=MAX_TAG_LEN).contains(&s.len()), "length {}", s.len());
    let b = s.as_bytes();
    assert!(b[0].is_ascii_alphanumeric() || b[0] == b'_', "{s:?}");
    assert!(
        b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')),
        "{s:?}"
    );
}

fn check_reference(s: &str) {
    let parsed = Reference::parse(s);
    // A reference is exactly a tag or exactly a digest; `:` decides which, since tags cannot
    // contain it.
    match Tag::parse(s) {
        Ok(tag) => assert_eq!(parsed.as_ref().ok(), Some(&Reference::Tag(tag))),
        Err(_) if !s.contains(':') => assert!(parsed.is_err(), "{s:?}"),
        Err(_) => {}
    }
    match Digest::parse(s) {
        Ok(digest) => assert_eq!(parsed.as_ref().ok(), Some(&Reference::Digest(digest))),
        Err(_) if s.contains(':') => assert!(parsed.is_err(), "{s:?}"),
        Err(_) => {}
    }
    if let Ok(reference) = parsed {
        assert_eq!(reference.to_string(), s);
        assert_eq!(Reference::parse(&reference.to_string()), Ok(reference));
    }
}
