//! The client's one error enum, and the registry's own errors (the distribution spec's JSON
//! error body) kept as they came so the user sees the registry's code and message.

use std::fmt;
use std::time::Duration;

use hyper::{Method, StatusCode};
use oci::Digest;

use crate::auth::CredentialsError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No HTTP response: DNS, TCP, TLS (certificate verification included) or the connection
    /// dropped before a response head arrived.
    #[error("{method} {url}: cannot reach the registry")]
    Transport {
        method: Method,
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{method} {url}: no response within {timeout:?}")]
    Timeout {
        method: Method,
        url: String,
        timeout: Duration,
    },
    #[error("{method} {url}: reading the response body failed")]
    Body {
        method: Method,
        url: String,
        #[source]
        source: hyper::Error,
    },
    /// The registry answered with an error status. `errors` holds the spec's error codes and
    /// messages from the body, when it had any.
    #[error("{method} {url}: registry answered {status}{}", ErrorList(errors))]
    Registry {
        method: Method,
        url: String,
        status: StatusCode,
        errors: Vec<RegistryError>,
    },
    /// The token server of a Bearer challenge refused or failed.
    #[error("token server {url} answered {status}{}", Detail(message))]
    TokenServer {
        url: String,
        status: StatusCode,
        message: String,
    },
    #[error("registry {registry} asks for {scheme:?} authentication, which is not supported")]
    UnsupportedAuth { registry: String, scheme: String },
    #[error("{url}: the Bearer challenge has no usable realm ({reason})")]
    BadRealm { url: String, reason: &'static str },
    #[error("{url}: {reason}")]
    InvalidResponse { url: String, reason: String },
    #[error("{url}: the response is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    /// Content from the registry does not hash to the digest it was asked for or announced.
    #[error("{url}: content hashes to {actual}, not {expected}")]
    DigestMismatch {
        url: String,
        expected: Digest,
        actual: Digest,
    },
    /// Manifest bytes to push by digest do not hash to that digest.
    #[error("manifest bytes hash to {actual}, not {expected} they are pushed under")]
    ManifestNotDigest { expected: Digest, actual: Digest },
    #[error("media type {0:?} cannot be sent in a Content-Type header")]
    BadMediaType(String),
    /// A redirect, upload location or next page the client will not follow.
    #[error("will not follow {from} to {to}: {reason}")]
    Redirect {
        from: String,
        to: String,
        reason: &'static str,
    },
    #[error("more than {max} redirects from {url}")]
    TooManyRedirects { url: String, max: usize },
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("invalid TLS configuration")]
    Tls(#[source] rustls::Error),
    #[error("no PEM certificate found in the given root certificates")]
    NoRootCertificates,
    #[error("bad PEM root certificates")]
    RootCertificatesPem(#[source] rustls::pki_types::pem::Error),
}

impl Error {
    /// The HTTP status of a registry error answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Registry { status, .. } | Error::TokenServer { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The registry's error codes, in the order it gave them.
    pub fn registry_errors(&self) -> &[RegistryError] {
        match self {
            Error::Registry { errors, .. } => errors,
            _ => &[],
        }
    }

    /// Whether the registry answered with `code` among its errors.
    pub fn has_code(&self, code: &ErrorCode) -> bool {
        self.registry_errors().iter().any(|e| &e.code == code)
    }

    /// A 404 from the registry (unknown name, manifest or blob).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }
}

/// One entry of the spec's error body, `{"errors":[{"code","message","detail"}]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryError {
    pub code: ErrorCode,
    pub message: String,
    pub detail: Option<serde_json::Value>,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(d) = self.detail.as_ref().filter(|d| !d.is_null()) {
            let text = d.to_string();
            let short: String = text.chars().take(300).collect();
            let more = if short.len() < text.len() { "..." } else { "" };
            write!(f, " (detail: {short}{more})")?;
        }
        Ok(())
    }
}

/// The distribution spec's error codes; anything else a registry says is kept in `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    Other(String),
}

impl ErrorCode {
    pub fn parse(s: &str) -> ErrorCode {
        match s {
            "BLOB_UNKNOWN" => ErrorCode::BlobUnknown,
            "BLOB_UPLOAD_INVALID" => ErrorCode::BlobUploadInvalid,
            "BLOB_UPLOAD_UNKNOWN" => ErrorCode::BlobUploadUnknown,
            "DIGEST_INVALID" => ErrorCode::DigestInvalid,
            "MANIFEST_BLOB_UNKNOWN" => ErrorCode::ManifestBlobUnknown,
            "MANIFEST_INVALID" => ErrorCode::ManifestInvalid,
            "MANIFEST_UNKNOWN" => ErrorCode::ManifestUnknown,
            "NAME_INVALID" => ErrorCode::NameInvalid,
            "NAME_UNKNOWN" => ErrorCode::NameUnknown,
            "SIZE_INVALID" => ErrorCode::SizeInvalid,
            "UNAUTHORIZED" => ErrorCode::Unauthorized,
            "DENIED" => ErrorCode::Denied,
            "UNSUPPORTED" => ErrorCode::Unsupported,
            "TOOMANYREQUESTS" => ErrorCode::TooManyRequests,
            other => ErrorCode::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid => "SIZE_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::TooManyRequests => "TOOMANYREQUESTS",
            ErrorCode::Other(s) => s,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses an error body. A body that is not the spec's JSON yields no entries (the status is
/// still reported); unknown fields are ignored.
pub fn parse_error_body(body: &[u8]) -> Vec<RegistryError> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        detail: Option<serde_json::Value>,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| {
            b.errors
                .into_iter()
                .map(|e| RegistryError {
                    code: ErrorCode::parse(&e.code),
                    message: e.message,
                    detail: e.detail,
                })
                .collect()
        })
        .unwrap_or_default()
}

struct ErrorList<'a>(&'a [RegistryError]);

impl fmt::Display for ErrorList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

struct Detail<'a>(&'a str);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, ": {}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let body = br#"{"errors":[{"code":"DENIED","message":"user \"r\" may not push","detail":{"repo":"a"}},{"code":"X_CUSTOM","message":"m"}]}"#;
        let errors = parse_error_body(body);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].code, ErrorCode::Denied);
        assert_eq!(
            errors[0].to_string(),
            r#"DENIED: user "r" may not push (detail: {"repo":"a"})"#
        );
        assert_eq!(errors[1].code, ErrorCode::Other("X_CUSTOM".into()));
        assert!(parse_error_body(b"404 page not found\n").is_empty());
        assert!(parse_error_body(b"").is_empty());
        // A null detail is not shown.
        let e = &parse_error_body(
            br#"{"errors":[{"code":"NAME_UNKNOWN","message":"x","detail":null}]}"#,
        )[0];
        assert_eq!(e.to_string(), "NAME_UNKNOWN: x");
    }

    #[test]
    fn registry_error_message_keeps_codes() {
        let e = Error::Registry {
            method: Method::PUT,
            url: "http://r/v2/a/manifests/v1".into(),
            status: StatusCode::FORBIDDEN,
            errors: parse_error_body(br#"{"errors":[{"code":"DENIED","message":"no"}]}"#),
        };
        assert_eq!(
            e.to_string(),
            "PUT http://r/v2/a/manifests/v1: registry answered 403 Forbidden: DENIED: no"
        );
        assert!(e.has_code(&ErrorCode::Denied));
        assert!(!e.is_not_found());
        for code in [
            "BLOB_UNKNOWN",
            "TOOMANYREQUESTS",
            "MANIFEST_BLOB_UNKNOWN",
            "ELSE",
        ] {
            assert_eq!(ErrorCode::parse(code).as_str(), code);
        }
    }
}
