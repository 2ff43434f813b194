//! The registry's wire errors: the distribution spec's JSON error body with its code and status.
//! This is the one place an error becomes an HTTP response. Internal failures become a generic
//! 500 body; the real cause rides in a response extension for the access-log middleware.

use std::borrow::Cow;
use std::fmt;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The error codes of the distribution spec, plus `UNKNOWN` for server faults, plus the codes of
/// the ledger API (`/ledger/`), which the registry's codes do not cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    TagInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    Unknown,
    /// A ledger API code: a [`ledger::Rejection::code`], or one of `ledger_api`'s own
    /// (`BAD_REQUEST`, `NOT_FOUND`, `TOO_LARGE`, `UNAVAILABLE`).
    Ledger(&'static str),
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
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
            ErrorCode::TagInvalid => "TAG_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::TooManyRequests => "TOOMANYREQUESTS",
            ErrorCode::Unknown => "UNKNOWN",
            ErrorCode::Ledger(code) => code,
        }
    }
}

/// An error response. Build it with the constructors below; `detail` is optional JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: Cow<'static, str>,
    /// Boxed: most errors have none, and every handler's `Result` carries the size.
    detail: Option<Box<serde_json::Value>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    internal: Option<String>,
}

/// Marks a response produced from an internal fault; holds the cause for the log.
#[derive(Clone, Debug)]
pub struct InternalError(pub String);

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: None,
            headers: Vec::new(),
            internal: None,
        }
    }

    /// A server fault. The client sees a generic message; `cause` goes to the log only.
    pub fn internal(cause: impl fmt::Display) -> Self {
        let mut e = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unknown,
            "internal server error",
        );
        e.internal = Some(cause.to_string());
        e
    }

    /// 503: a dependency that must record what is acknowledged (the ledger) refuses writes.
    /// The client sees a generic message; `cause` goes to the log only.
    pub fn unavailable(code: ErrorCode, cause: impl fmt::Display) -> Self {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "the ledger is not accepting entries",
        );
        e.internal = Some(cause.to_string());
        e
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(Box::new(detail));
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn blob_unknown(digest: &oci::Digest) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::BlobUnknown,
            "blob unknown to registry",
        )
        .with_detail(json!({ "digest": digest.as_str() }))
    }

    pub fn manifest_unknown(reference: impl fmt::Display) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ManifestUnknown,
            "manifest unknown to registry",
        )
        .with_detail(json!({ "reference": reference.to_string() }))
    }

    pub fn name_unknown(name: &oci::RepoName) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NameUnknown,
            "repository name not known to registry",
        )
        .with_detail(json!({ "name": name.as_str() }))
    }

    pub fn upload_unknown() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::BlobUploadUnknown,
            "blob upload unknown to registry",
        )
    }

    pub fn digest_invalid(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::DigestInvalid, message)
    }

    pub fn size_invalid(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::SizeInvalid, message)
    }

    pub fn upload_invalid(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BlobUploadInvalid,
            message,
        )
    }

    pub fn manifest_invalid(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::ManifestInvalid, message)
    }

    pub fn unsupported(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(status, ErrorCode::Unsupported, message)
    }

    pub fn unauthorized(realm: &str) -> Self {
        let challenge =
            HeaderValue::from_str(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
                .unwrap_or_else(|_| HeaderValue::from_static("Basic realm=\"vouch\""));
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "authentication required",
        )
        .with_header(header::WWW_AUTHENTICATE, challenge)
    }

    pub fn denied(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Denied, message)
    }

    /// Converts a parse failure of a URL component into the right wire code.
    pub fn from_name_error(err: oci::NameError) -> Self {
        match err {
            oci::NameError::BadTag => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::TagInvalid,
                err.to_string(),
            ),
            oci::NameError::Digest(d) => ApiError::digest_invalid(d.to_string()),
            other => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::NameInvalid,
                other.to_string(),
            ),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code.as_str(),
            self.message
        )
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("background task failed: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut entry = json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(detail) = self.detail {
            entry["detail"] = *detail;
        }
        let body = json!({ "errors": [entry] }).to_string();
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        for (name, value) in self.headers {
            response.headers_mut().append(name, value);
        }
        if let Some(cause) = self.internal {
            response.extensions_mut().insert(InternalError(cause));
        }
        response
    }
}
