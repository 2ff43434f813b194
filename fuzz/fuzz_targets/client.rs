//! Fuzzes the registry client's parsers of input it does not control, all with the same text:
//! image references (`ImageRef::parse`, `Registry::parse`: typed by users, found in manifests
//! and policies), `WWW-Authenticate` challenges, `Link` and `Location` headers, token-server
//! replies and error bodies (all from registries), and Docker's config file. None may panic, and:
//! - an image reference prints as text that parses back equal, with its registry and name
//!   parsing alone and the whole name within Docker's length limit; a registry is its text;
//! - challenges are well-formed tokens, lowercased; written back out (every value quoted) they
//!   parse to the same challenges; several header values parse to their challenges in order;
//! - a `Link` target is a `<...>` of the header, marked `rel=next`, and a header made of just
//!   that target with `rel="next"` yields it again;
//! - a relative `Location` never leaves the registry: same scheme, same host and port;
//! - a token reply's token is the reply's non-empty `access_token` or `token`, printable ASCII,
//!   with a lifetime of at least 60 s; error bodies keep every entry and every code;
//! - a config's Debug form does not depend on its secrets, and the credentials it gives a
//!   registry are an `auths` entry's (decoded), a named helper, or none.
//!
//! Seeds (fuzz/seeds/client): one or two of each kind.
#![no_main]

use std::time::Duration;

use base64::Engine as _;
use client::fuzzing::{
    Source, docker_config_source, next_link, parse_challenges, parse_error_body,
    parse_token_response, resolve_location,
};
use client::{Credentials, CredentialsError, DockerConfig, ErrorCode, ImageRef, Registry};
use http::header::{HeaderMap, HeaderValue, LINK};
use http::Uri;
use libfuzzer_sys::fuzz_target;
use oci::{Digest, RepoName, Tag};
use serde_json::Value;

/// Request URLs a `Location` or `Link` may be relative to.
const BASES: &[&str] = &[
    "https://r.example:5000/v2/team/app/blobs/uploads/",
    "http://127.0.0.1:5000/v2/app/tags/list?n=10",
    "https://registry-1.docker.io",
    "https://[::1]/v2/a/referrers/sha256:e3b0",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_image_ref(text);
    check_registry(text);
    check_challenges(text);
    check_link(text);
    check_location(text);
    check_token_reply(data);
    check_error_body(data);
    check_docker_config(text);
});

fn check_image_ref(s: &str) {
    let r = match ImageRef::parse(s) {
        Ok(r) => r,
        Err(e) => return drop(e.to_string()),
    };
    let printed = r.to_string();
    assert_eq!(ImageRef::parse(&printed).as_ref(), Ok(&r), "{s:?} printed {printed:?}");
    assert_eq!(Registry::parse(r.registry().as_str()).as_ref(), Ok(r.registry()));
    assert_eq!(RepoName::parse(r.name().as_str()).as_ref(), Ok(r.name()));
    assert_eq!(r.repository().to_string(), format!("{}/{}", r.registry(), r.name()));
    assert!(
        r.repository().to_string().len() <= client::MAX_FULL_NAME_LEN,
        "{s:?} names {}",
        r.repository()
    );
    if r.registry().as_str() == client::DOCKER_HUB {
        assert!(r.name().as_str().contains('/'), "{s:?}");
    }
    assert!(r.tag().is_some() || r.digest().is_some());
    let at = r.with_reference(r.reference());
    assert_eq!(at.repository(), r.repository());
    match (r.digest(), r.tag()) {
        (Some(d), _) => assert_eq!((at.digest(), at.tag()), (Some(d), None)),
        (None, Some(t)) => assert_eq!((at.digest(), at.tag()), (None, Some(t))),
        (None, None) => unreachable!("checked above"),
    }
    if let Some(d) = r.digest() {
        assert_eq!(Digest::parse(d.as_str()).as_ref(), Ok(d));
    }
    if let Some(t) = r.tag() {
        assert_eq!(Tag::parse(t.as_str()).as_ref(), Ok(t));
    }
}

fn check_registry(s: &str) {
    let Ok(r) = Registry::parse(s) else { return };
    assert_eq!(r.as_str(), s);
    assert!(!s.is_empty() && !s.contains('/'), "{s:?}");
    let _ = (r.api_authority(), r.auth_key(), r.is_docker_hub());
}

fn check_challenges(s: &str) {
    let lines: Vec<&str> = s.split('\n').collect();
    let all = parse_challenges(lines.iter().copied());
    let each: Vec<_> = lines.iter().flat_map(|l| parse_challenges([*l])).collect();
    assert_eq!(all, each);
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    for c in &all {
        assert!(!c.scheme.is_empty() && c.scheme.chars().all(tchar), "{c:?}");
        assert_eq!(c.scheme, c.scheme.to_ascii_lowercase());
        for (name, _) in &c.params {
            assert!(!name.is_empty() && name.chars().all(tchar), "{c:?}");
            assert_eq!(*name, name.to_ascii_lowercase());
        }
    }
    // Written back out, one header value, every value quoted.
    let written: Vec<String> = all
        .iter()
        .map(|c| {
            let params: Vec<String> = c
                .params
                .iter()
                .map(|(n, v)| format!("{n}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            format!("{} {}", c.scheme, params.join(", "))
        })
        .collect();
    let header = written.join(", ");
    assert_eq!(parse_challenges([header.as_str()]), all, "{header:?}");
}

fn check_link(s: &str) {
    let mut headers = HeaderMap::new();
    for line in s.split('\n') {
        if let Ok(v) = HeaderValue::from_str(line) {
            headers.append(LINK, v);
        }
    }
    let Some(target) = next_link(&headers) else {
        return;
    };
    assert!(!target.contains('>'), "{target:?}");
    let bracketed = format!("<{target}>");
    let marked_next = headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.match_indices(&bracketed)
                .any(|(i, _)| v[i + bracketed.len()..].to_ascii_lowercase().contains("next"))
        });
    assert!(marked_next, "{target:?} is not a <...> of the header followed by rel=next");
    let mut again = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("{bracketed}; rel=\"next\"")).expect("header text");
    again.append(LINK, value);
    assert_eq!(next_link(&again), Some(target));
}

fn check_location(s: &str) {
    let trimmed = s.trim();
    let relative = !["http://", "https://", "//"]
        .iter()
        .any(|p| trimmed.starts_with(p));
    for base in BASES {
        let base: Uri = base.parse().expect("a valid base");
        let Some(to) = resolve_location(&base, s) else {
            continue;
        };
        assert!(matches!(to.scheme_str(), Some("http" | "https")), "{s:?} -> {to}");
        assert!(to.authority().is_some(), "{s:?} -> {to}");
        if relative {
            assert_eq!(to.scheme(), base.scheme(), "{s:?} -> {to}");
            assert_eq!(to.authority(), base.authority(), "{s:?} -> {to}");
        }
    }
}

fn check_token_reply(body: &[u8]) {
    let (token, lifetime) = match parse_token_response(body) {
        Ok(t) => t,
        Err(e) => return drop(e),
    };
    assert!(!token.is_empty() && token.bytes().all(|b| (0x21..0x7f).contains(&b)));
    assert!(lifetime >= Duration::from_secs(60));
    if let Ok(doc) = serde_json::from_slice::<Value>(body) {
        let field = |k| doc.get(k).and_then(Value::as_str).filter(|t| !t.is_empty());
        assert_eq!(
            Some(token.as_str()),
            field("access_token").or(field("token"))
        );
    }
}

fn check_error_body(body: &[u8]) {
    let errors = parse_error_body(body);
    for e in &errors {
        assert_eq!(ErrorCode::parse(e.code.as_str()), e.code);
        assert!(e.to_string().starts_with(e.code.as_str()));
    }
    if !errors.is_empty() {
        let listed = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|d| d.get("errors").and_then(Value::as_array).map(Vec::len));
        assert!(listed.is_none_or(|n| n == errors.len()));
    }
}

fn check_docker_config(text: &str) {
    let config = match DockerConfig::parse(text) {
        Ok(c) => c,
        Err(e) => return drop(e.to_string()),
    };
    // serde_json::Value refuses lone surrogates the typed reading ignores; nothing to compare.
    let Ok(doc) = serde_json::from_str::<Value>(text) else {
        return;
    };

    // The same config with every secret blanked prints the same.
    let mut blank = doc.clone();
    if let Some(auths) = blank.get_mut("auths").and_then(Value::as_object_mut) {
        for entry in auths.values_mut().filter_map(Value::as_object_mut) {
            for k in ["auth", "identitytoken"] {
                if let Some(v) = entry.get_mut(k).filter(|v| v.is_string()) {
                    *v = Value::from("");
                }
            }
        }
    }
    let blanked = DockerConfig::parse(&blank.to_string()).expect("the blanked config parses");
    assert_eq!(format!("{blanked:?}"), format!("{config:?}"));

    let entries: Vec<(&String, &Value)> = doc
        .get("auths")
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    let helpers: Vec<&str> = doc
        .get("credHelpers")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values().filter_map(Value::as_str))
        .chain(doc.get("credsStore").and_then(Value::as_str))
        .collect();
    let mut registries: Vec<Registry> = ["docker.io", "ghcr.io", "127.0.0.1:5000", "localhost"]
        .iter()
        .filter_map(|r| Registry::parse(r).ok())
        .collect();
    for (key, _) in &entries {
        let host = key
            .strip_prefix("http://")
            .or_else(|| key.strip_prefix("https://"))
            .unwrap_or(key);
        if let Ok(r) = Registry::parse(host.split('/').next().unwrap_or(host)) {
            registries.push(r);
        }
    }
    let field = |k: &str| -> Vec<&str> {
        entries
            .iter()
            .filter_map(|(_, e)| e.get(k).and_then(Value::as_str))
            .collect()
    };
    let (auths, tokens) = (field("auth"), field("identitytoken"));
    for registry in &registries {
        match docker_config_source(&config, registry) {
            Ok(Source::None) => {}
            Ok(Source::Helper { helper, server }) => {
                assert_eq!(server, registry.auth_key());
                assert!(helpers.contains(&helper.as_str()), "{helper:?}");
            }
            Ok(Source::Stored(Credentials::Basic { username, password })) => {
                assert!(!(username.is_empty() && password.is_empty()));
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                assert!(auths.iter().any(|a| a.trim() == encoded), "{registry}");
            }
            Ok(Source::Stored(Credentials::IdentityToken { token, .. })) => {
                assert!(!token.is_empty() && tokens.contains(&token.as_str()));
            }
            Err(CredentialsError::BadAuth { server }) => {
                assert_eq!(server, registry.auth_key());
            }
            Err(e) => panic!("looking up {registry}: {e}"),
        }
    }
}
