//! in-toto attestation Statements: v1, which vouch writes, and v0.1, which real npm and SLSA
//! bundles still carry. Parsing follows the attestation framework's rules (unknown fields
//! ignored, unset and null alike); subjects are matched against an artifact's digest with hex
//! compared case-insensitively.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The DSSE payload type of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatementError {
    #[error("the statement is not valid in-toto JSON")]
    Json(#[source] serde_json::Error),
    #[error("unknown statement type {found:?}")]
    UnknownType { found: String },
    #[error("the statement has no subject")]
    NoSubject,
    #[error("subject {index} has no name, which a v0.1 statement requires")]
    NoName { index: usize },
    #[error("subject {index} has no digest")]
    NoDigest { index: usize },
    #[error("subject {index} has a malformed {algorithm} digest")]
    BadDigest { index: usize, algorithm: String },
    #[error("the statement has no predicate type")]
    NoPredicateType,
    #[error("the predicate is not a JSON object")]
    PredicateNotObject,
}

/// Which Statement specification a statement follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V01,
}

impl Version {
    pub fn type_uri(self) -> &'static str {
        match self {
            Version::V1 => STATEMENT_V1,
            Version::V01 => STATEMENT_V01,
        }
    }
}

/// A parsed statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub version: Version,
    /// Never empty; every subject has a digest.
    pub subject: Vec<Subject>,
    pub predicate_type: String,
    /// A JSON object; an unset or null predicate reads as an empty one.
    pub predicate: Map<String, Value>,
}

/// A software artifact the statement is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subject {
    pub name: String,
    /// Algorithm name to encoded value (lowercase hex for the algorithms in [`HEX_LENGTHS`]).
    pub digest: BTreeMap<String, String>,
}

/// Digest algorithms whose values are hex of a known length: checked when parsed, compared
/// case-insensitively. Others (the DigestSet allows any) are kept as they are.
pub const HEX_LENGTHS: &[(&str, &[usize])] = &[
    ("sha256", &[64]),
    ("sha384", &[96]),
    ("sha512", &[128]),
    ("sha1", &[40]),
    ("gitCommit", &[40, 64]),
];

impl Subject {
    /// Whether this subject names the artifact with `digest`.
    pub fn matches(&self, digest: &oci::Digest) -> bool {
        self.digest
            .get(digest.algorithm().as_str())
            .is_some_and(|hex| hex.eq_ignore_ascii_case(digest.hex()))
    }
}

impl Statement {
    /// A v1 statement.
    pub fn new(
        subject: Vec<Subject>,
        predicate_type: impl Into<String>,
        predicate: Map<String, Value>,
    ) -> Statement {
        Statement {
            version: Version::V1,
            subject,
            predicate_type: predicate_type.into(),
            predicate,
        }
    }

    /// Parses a statement (a DSSE payload of type [`PAYLOAD_TYPE`], already verified).
    pub fn parse(json: &[u8]) -> Result<Statement, StatementError> {
        let raw: RawStatement = serde_json::from_slice(json).map_err(StatementError::Json)?;
        let version = match raw.type_.as_str() {
            STATEMENT_V1 => Version::V1,
            STATEMENT_V01 => Version::V01,
            _ => return Err(StatementError::UnknownType { found: raw.type_ }),
        };
        if raw.subject.is_empty() {
            return Err(StatementError::NoSubject);
        }
        let mut subject = Vec::with_capacity(raw.subject.len());
        for (index, s) in raw.subject.into_iter().enumerate() {
            if s.digest.is_empty() {
                return Err(StatementError::NoDigest { index });
            }
            for (algorithm, value) in &s.digest {
                let bad = || StatementError::BadDigest {
                    index,
                    algorithm: algorithm.clone(),
                };
                if let Some((_, lengths)) = HEX_LENGTHS.iter().find(|(a, _)| a == algorithm)
                    && !(lengths.contains(&value.len())
                        && value.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    return Err(bad());
                }
                if value.is_empty() {
                    return Err(bad());
                }
            }
            let name = match (s.name, version) {
                (Some(name), _) => name,
                (None, Version::V1) => String::new(),
                (None, Version::V01) => return Err(StatementError::NoName { index }),
            };
            subject.push(Subject {
                name,
                digest: s.digest,
            });
        }
        let predicate_type = raw.predicate_type.unwrap_or_default();
        if predicate_type.is_empty() {
            return Err(StatementError::NoPredicateType);
        }
        let predicate = match raw.predicate {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(StatementError::PredicateNotObject),
        };
        Ok(Statement {
            version,
            subject,
            predicate_type,
            predicate,
        })
    }

    /// The statement as JSON (compact), in its own version's shape.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(rename = "_type")]
            type_: &'a str,
            subject: &'a [Subject],
            #[serde(rename = "predicateType")]
            predicate_type: &'a str,
            predicate: &'a Map<String, Value>,
        }
        // Strings, maps and JSON values always serialize.
        serde_json::to_string(&Out {
            type_: self.version.type_uri(),
            subject: &self.subject,
            predicate_type: &self.predicate_type,
            predicate: &self.predicate,
        })
        .expect("a statement serializes")
    }

    /// The first subject that names the artifact with `digest`.
    pub fn subject_for(&self, digest: &oci::Digest) -> Option<&Subject> {
        self.subject.iter().find(|s| s.matches(digest))
    }
}

/// cosign's `--type` shortcuts and the predicate type URIs they stand for
/// (`cmd/cosign/cli/options/predicate.go`, with in-toto-golang's and cosign's constants).
pub const PREDICATE_TYPE_SHORTCUTS: &[(&str, &str)] = &[
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("link", "https://in-toto.io/Link/v1"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("openvex", "https://openvex.dev/ns"),
];

/// The predicate type a `--type` value names, as cosign reads it: one of its shortcuts, else
/// the value itself if it is an absolute URI (`scheme:rest`). `None` for anything else.
pub fn predicate_type(type_or_uri: &str) -> Option<String> {
    if let Some((_, uri)) = PREDICATE_TYPE_SHORTCUTS
        .iter()
        .find(|(name, _)| *name == type_or_uri)
    {
        return Some((*uri).to_owned());
    }
    let (scheme, rest) = type_or_uri.split_once(':')?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let rest_ok = !rest.is_empty() && !rest.chars().any(|c| c.is_whitespace() || c.is_control());
    (scheme_ok && rest_ok).then(|| type_or_uri.to_owned())
}

#[derive(Deserialize)]
struct RawStatement {
    #[serde(rename = "_type")]
    type_: String,
    #[serde(default, deserialize_with = "null_as_default")]
    subject: Vec<RawSubject>,
    #[serde(rename = "predicateType", default)]
    predicate_type: Option<String>,
    #[serde(default)]
    predicate: Option<Value>,
}

#[derive(Deserialize)]
struct RawSubject {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    digest: BTreeMap<String, String>,
}

/// Null reads as unset, which reads as empty (the attestation framework's parsing rules).
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn parse(json: &str) -> Result<Statement, StatementError> {
        Statement::parse(json.as_bytes())
    }

    #[test]
    fn reads_v1_and_v01() {
        let v1 = parse(&format!(
            r#"{{"_type":"{STATEMENT_V1}","subject":[{{"name":"a","digest":{{"sha256":"{SHA256}"}}}}],
                "predicateType":"https://example.com/p","predicate":{{"k":1}},"future":true}}"#
        ))
        .unwrap();
        assert_eq!(v1.version, Version::V1);
        assert_eq!(v1.subject[0].name, "a");
        assert_eq!(v1.predicate["k"], 1);
        let v01 = parse(&format!(
            r#"{{"_type":"{STATEMENT_V01}","subject":[{{"name":"a","digest":{{"sha256":"{SHA256}"}}}}],
                "predicateType":"p"}}"#
        ))
        .unwrap();
        assert_eq!(v01.version, Version::V01);
        assert!(v01.predicate.is_empty());
        // A v1 subject may go without a name; a v0.1 subject may not.
        assert_eq!(
            parse(&format!(
                r#"{{"_type":"{STATEMENT_V1}","subject":[{{"digest":{{"sha1":"{}"}}}}],"predicateType":"p","predicate":null}}"#,
                "a".repeat(40)
            ))
            .unwrap()
            .subject[0]
                .name,
            ""
        );
        assert!(matches!(
            parse(&format!(
                r#"{{"_type":"{STATEMENT_V01}","subject":[{{"digest":{{"sha256":"{SHA256}"}}}}],"predicateType":"p"}}"#
            )),
            Err(StatementError::NoName { index: 0 })
        ));
    }

    #[test]
    fn rejects_what_is_not_a_statement() {
        let subject = format!(r#"[{{"name":"a","digest":{{"sha256":"{SHA256}"}}}}]"#);
        type Check = fn(&StatementError) -> bool;
        let cases: Vec<(String, Check)> = vec![
            (
                format!(
                    r#"{{"_type":"https://in-toto.io/Statement/v2","subject":{subject},"predicateType":"p"}}"#
                ),
                |e| matches!(e, StatementError::UnknownType { .. }),
            ),
            (
                format!(r#"{{"_type":"{STATEMENT_V1}","subject":[],"predicateType":"p"}}"#),
                |e| matches!(e, StatementError::NoSubject),
            ),
            (
                format!(r#"{{"_type":"{STATEMENT_V1}","predicateType":"p"}}"#),
                |e| matches!(e, StatementError::NoSubject),
            ),
            (
                format!(
                    r#"{{"_type":"{STATEMENT_V1}","subject":[{{"name":"a","digest":{{}}}}],"predicateType":"p"}}"#
                ),
                |e| matches!(e, StatementError::NoDigest { index: 0 }),
            ),
            (
                format!(
                    r#"{{"_type":"{STATEMENT_V1}","subject":[{{"name":"a","digest":{{"sha256":"abc"}}}}],"predicateType":"p"}}"#
                ),
                |e| matches!(e, StatementError::BadDigest { .. }),
            ),
            (
                format!(
                    r#"{{"_type":"{STATEMENT_V1}","subject":[{{"name":"a","digest":{{"sha512":"{}"}}}}],"predicateType":"p"}}"#,
                    "g".repeat(128)
                ),
                |e| matches!(e, StatementError::BadDigest { .. }),
            ),
            (
                format!(r#"{{"_type":"{STATEMENT_V1}","subject":{subject}}}"#),
                |e| matches!(e, StatementError::NoPredicateType),
            ),
            (
                format!(
                    r#"{{"_type":"{STATEMENT_V1}","subject":{subject},"predicateType":"p","predicate":[]}}"#
                ),
                |e| matches!(e, StatementError::PredicateNotObject),
            ),
            (
                format!(
                    r#"{{"_type":"{STATEMENT_V1}","_type":"{STATEMENT_V1}","subject":{subject},"predicateType":"p"}}"#
                ),
                |e| matches!(e, StatementError::Json(_)),
            ),
            (
                format!(r#"{{"subject":{subject},"predicateType":"p"}}"#),
                |e| matches!(e, StatementError::Json(_)),
            ),
        ];
        for (json, expected) in cases {
            let err = parse(&json).expect_err(&json);
            assert!(expected(&err), "{json}: {err:?}");
        }
    }

    #[test]
    fn subjects_match_case_insensitively_by_algorithm() {
        let upper = SHA256.to_uppercase();
        let statement = parse(&format!(
            r#"{{"_type":"{STATEMENT_V1}","subject":[{{"name":"x","digest":{{"sha512":"{}"}}}},{{"name":"a","digest":{{"sha256":"{upper}"}}}}],"predicateType":"p"}}"#,
            "0".repeat(128)
        ))
        .unwrap();
        let digest = oci::Digest::parse(&format!("sha256:{SHA256}")).unwrap();
        assert_eq!(statement.subject_for(&digest).unwrap().name, "a");
        let other = oci::Digest::compute(oci::Algorithm::Sha256, b"other");
        assert!(statement.subject_for(&other).is_none());
        // The same hex under another algorithm is not a match.
        let sha512 = oci::Digest::parse(&format!("sha512:{}", "0".repeat(128))).unwrap();
        assert_eq!(statement.subject_for(&sha512).unwrap().name, "x");
    }

    #[test]
    fn v1_round_trips() {
        let digest = oci::Digest::compute(oci::Algorithm::Sha256, b"artifact");
        let mut predicate = Map::new();
        predicate.insert("buildType".into(), Value::from("t"));
        let statement = Statement::new(
            vec![Subject {
                name: "artifact".into(),
                digest: BTreeMap::from([("sha256".into(), digest.hex().into())]),
            }],
            "https://slsa.dev/provenance/v1",
            predicate,
        );
        let json = statement.to_json();
        assert!(json.starts_with(&format!(
            r#"{{"_type":"{STATEMENT_V1}","subject":[{{"name":"artifact""#
        )));
        assert_eq!(Statement::parse(json.as_bytes()).unwrap(), statement);
    }

    #[test]
    fn predicate_types_as_cosign_names_them() {
        let table = [
            ("slsaprovenance1", Some("https://slsa.dev/provenance/v1")),
            ("slsaprovenance", Some("https://slsa.dev/provenance/v0.2")),
            (
                "vuln",
                Some("https://cosign.sigstore.dev/attestation/vuln/v1"),
            ),
            ("spdxjson", Some("https://spdx.dev/Document")),
            ("cyclonedx", Some("https://cyclonedx.org/bom")),
            ("custom", Some("https://cosign.sigstore.dev/attestation/v1")),
            ("https://example.com/p/v1", Some("https://example.com/p/v1")),
            ("urn:example:p", Some("urn:example:p")),
            ("slsa", None),
            ("", None),
            ("https:", None),
            ("1http://x", None),
            ("https://a b", None),
        ];
        for (input, want) in table {
            assert_eq!(predicate_type(input).as_deref(), want, "{input:?}");
        }
    }
}
