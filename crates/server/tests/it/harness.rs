//! The harness every test uses: an in-process registry in a temporary directory, and a client
//! that sends one request through `router(app).oneshot(..)` and hands back status, headers and
//! body. The client checks what must hold for *every* response, so no test has to repeat it:
//! never a 5xx (unless the test says it expects one), a `Content-Length` that is the body's, `Docker-Distribution-API-Version:
//! registry/2.0` on every `/v2` response, and the spec's JSON error body on every `/v2` error.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use oci::{Algorithm, Digest};
use serde_json::Value;
use server::{App, Config};
use tower::ServiceExt as _;

/// The error codes the distribution spec defines; a 4xx body may carry only these.
pub const SPEC_ERROR_CODES: [&str; 15] = [
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "TAG_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
];

/// A registry with its own data directory (removed when the last handle drops), seen by one
/// caller: anonymous, or a user whose credentials go on every request. It may keep a ledger.
#[derive(Clone)]
pub struct Registry {
    router: Router,
    _dir: Arc<tempfile::TempDir>,
    credentials: Option<String>,
    ledger: Option<Arc<LedgerHandle>>,
    /// The application, for tests that reach past HTTP (a gated registry's).
    app: Option<Arc<App>>,
}

/// The origin of the test ledgers.
pub const LEDGER_ORIGIN: &str = "registry.test/vouch-ledger";

/// A ledger that closes (stops its sequencer thread) when the last registry handle drops.
struct LedgerHandle(ledger::Ledger);

impl Drop for LedgerHandle {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Registry {
    /// An open registry (no users) with default limits.
    pub fn new() -> Registry {
        Registry::with(|_| {})
    }

    /// A registry whose configuration `configure` adjusts first (auth, limits).
    pub fn with(configure: impl FnOnce(&mut Config)) -> Registry {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::for_data_dir(dir.path().join("data"));
        configure(&mut config);
        let app = App::open(config).expect("the registry opens on an empty directory");
        Registry {
            router: server::router(app),
            _dir: Arc::new(dir),
            credentials: None,
            ledger: None,
            app: None,
        }
    }

    /// A registry that records its events on a ledger in its data directory, which
    /// `submitters` may also append to.
    pub fn with_ledger(
        configure: impl FnOnce(&mut Config),
        submitters: Vec<ledger::Submitter>,
    ) -> Registry {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::for_data_dir(dir.path().join("data"));
        configure(&mut config);
        let (ledger, report) = ledger::Ledger::open(
            &config.ledger_dir(),
            ledger::Config {
                origin: LEDGER_ORIGIN.into(),
                submitters,
            },
        )
        .expect("the ledger opens on an empty directory");
        assert!(report.created);
        let app = App::open_with_ledger(config, Some(ledger.clone()))
            .expect("the registry opens on an empty directory");
        Registry {
            router: server::router(app),
            _dir: Arc::new(dir),
            credentials: None,
            ledger: Some(Arc::new(LedgerHandle(ledger))),
            app: None,
        }
    }

    /// A registry with a ledger that gates what `configure` sets up (policies, users), started
    /// as `vouch serve` starts it: policies recorded, stored manifests evaluated.
    pub async fn with_gate(configure: impl FnOnce(&mut Config)) -> Registry {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::for_data_dir(dir.path().join("data"));
        configure(&mut config);
        let (ledger, _) = ledger::Ledger::open(
            &config.ledger_dir(),
            ledger::Config {
                origin: LEDGER_ORIGIN.into(),
                submitters: Vec::new(),
            },
        )
        .expect("the ledger opens on an empty directory");
        let app = App::open_with_ledger(config, Some(ledger.clone()))
            .expect("the registry opens on an empty directory");
        server::gate::start(&app).await.expect("the gate starts");
        if !app.config.policy_files.is_empty() {
            // As `vouch serve` does: policy files are watched (and SIGHUP heard).
            tokio::spawn(server::gate::reload::watch(
                Arc::clone(&app),
                app.config.policy_watch,
            ));
        }
        Registry {
            router: server::router(Arc::clone(&app)),
            _dir: Arc::new(dir),
            credentials: None,
            ledger: Some(Arc::new(LedgerHandle(ledger))),
            app: Some(app),
        }
    }

    /// The application of a registry made with [`Registry::with_gate`].
    pub fn app(&self) -> &Arc<App> {
        self.app
            .as_ref()
            .expect("a registry made with Registry::with_gate")
    }

    /// The data directory of the registry.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }

    /// The registry's ledger; it must have one.
    pub fn ledger(&self) -> &ledger::Ledger {
        &self
            .ledger
            .as_ref()
            .expect("a registry made with Registry::with_ledger")
            .0
    }

    /// The same registry, with `user`'s basic-auth credentials on every request.
    pub fn as_user(&self, user: &str, password: &str) -> Registry {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Registry {
            credentials: Some(format!("Basic {token}")),
            ..self.clone()
        }
    }

    /// The same registry, without credentials.
    pub fn anonymous(&self) -> Registry {
        Registry {
            credentials: None,
            ..self.clone()
        }
    }

    pub fn request(&self, method: Method, uri: impl Into<String>) -> Call<'_> {
        Call {
            registry: self,
            method,
            uri: uri.into(),
            headers: Vec::new(),
            body: CallBody::Empty,
            server_error_expected: false,
        }
    }

    pub fn get(&self, uri: impl Into<String>) -> Call<'_> {
        self.request(Method::GET, uri)
    }

    pub fn head(&self, uri: impl Into<String>) -> Call<'_> {
        self.request(Method::HEAD, uri)
    }

    pub fn put(&self, uri: impl Into<String>) -> Call<'_> {
        self.request(Method::PUT, uri)
    }

    pub fn post(&self, uri: impl Into<String>) -> Call<'_> {
        self.request(Method::POST, uri)
    }

    pub fn patch(&self, uri: impl Into<String>) -> Call<'_> {
        self.request(Method::PATCH, uri)
    }

    pub fn delete(&self, uri: impl Into<String>) -> Call<'_> {
        self.request(Method::DELETE, uri)
    }
}

enum CallBody {
    Empty,
    /// Sent in one frame with a `Content-Length`, as a client with the bytes in hand sends it.
    Whole(Vec<u8>),
    /// Sent in several frames without a `Content-Length` (chunked transfer on the wire).
    Stream(Vec<Vec<u8>>),
}

/// One request being built. Awaiting it sends it.
pub struct Call<'r> {
    registry: &'r Registry,
    method: Method,
    uri: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: CallBody,
    server_error_expected: bool,
}

impl Call<'_> {
    /// Lets the response be a 5xx, for the tests of failures the server must report as such.
    pub fn server_error_expected(mut self) -> Self {
        self.server_error_expected = true;
        self
    }

    pub fn header(self, name: &str, value: &str) -> Self {
        self.header_bytes(name, value.as_bytes())
    }

    /// A header whose value need not be text (for malformed-input tests).
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        let value = HeaderValue::from_bytes(value).expect("a header value without CR/LF");
        self.headers.push((name, value));
        self
    }

    pub fn content_type(self, value: &str) -> Self {
        self.header("content-type", value)
    }

    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = CallBody::Whole(bytes.into());
        self
    }

    pub fn stream(mut self, chunks: Vec<Vec<u8>>) -> Self {
        self.body = CallBody::Stream(chunks);
        self
    }

    async fn send(self) -> Response {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(&self.uri);
        let has = |name: &HeaderName| self.headers.iter().any(|(n, _)| n == name);
        let has_length = has(&header::CONTENT_LENGTH);
        if let Some(credentials) = &self.registry.credentials
            && !has(&header::AUTHORIZATION)
        {
            request = request.header(header::AUTHORIZATION, credentials);
        }
        for (name, value) in self.headers {
            request = request.header(name, value);
        }
        let body = match self.body {
            CallBody::Empty => Body::empty(),
            CallBody::Whole(bytes) => {
                if !has_length {
                    request = request.header(header::CONTENT_LENGTH, bytes.len());
                }
                Body::from(bytes)
            }
            CallBody::Stream(chunks) => Body::from_stream(futures_util::stream::iter(
                chunks
                    .into_iter()
                    .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
            )),
        };
        let request = request.body(body).expect("a well-formed test request");
        let response = self
            .registry
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .expect("the response body arrives whole")
            .to_bytes();
        let response = Response {
            method: self.method,
            uri: self.uri,
            status: parts.status,
            headers: parts.headers,
            body,
        };
        response.check_invariants(self.server_error_expected);
        response
    }
}

impl<'r> IntoFuture for Call<'r> {
    type Output = Response;
    type IntoFuture = Pin<Box<dyn Future<Output = Response> + Send + 'r>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A response, read whole.
pub struct Response {
    pub method: Method,
    pub uri: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.body.len() > 600 {
            format!("<{} bytes>", self.body.len())
        } else {
            String::from_utf8_lossy(&self.body).into_owned()
        };
        write!(
            f,
            "{} {} -> {} {:?} {}",
            self.method, self.uri, self.status, self.headers, shown
        )
    }
}

impl Response {
    /// The one value of a header, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header, as text.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"))
    }

    /// Asserts the status and returns the response for further checks.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        self
    }

    /// Asserts an error response: its status and the code of its (first) error. A HEAD
    /// response has no body, so only its status is checked.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        if self.method != Method::HEAD {
            let first = self.error_codes().into_iter().next();
            assert_eq!(first.as_deref(), Some(code), "{self:?}");
        }
        self
    }

    #[track_caller]
    pub fn expect_header(self, name: &str, value: &str) -> Self {
        assert_eq!(self.header(name), Some(value), "header {name}: {self:?}");
        self
    }

    pub fn error_codes(&self) -> Vec<String> {
        let Ok(v) = serde_json::from_slice::<Value>(&self.body) else {
            return Vec::new();
        };
        v["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["code"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `Location` header; it must be there.
    #[track_caller]
    pub fn location(&self) -> String {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location header: {self:?}"))
            .to_owned()
    }

    fn check_invariants(&self, server_error_expected: bool) {
        assert!(
            server_error_expected || !self.status.is_server_error(),
            "the registry answered a 5xx: {self:?}"
        );
        // A declared length is the body's (hyper asserts as much in debug builds).
        if self.method != Method::HEAD
            && let Some(length) = self.header("content-length")
        {
            assert_eq!(length, self.body.len().to_string(), "{self:?}");
        }
        if !self.uri.starts_with("/v2") {
            return;
        }
        assert_eq!(
            self.header("docker-distribution-api-version"),
            Some("registry/2.0"),
            "{self:?}"
        );
        // A HEAD response carries no body (axum drops it), so only its status can be checked.
        if self.status.is_client_error() && self.method != Method::HEAD {
            check_error_body(self);
        }
    }
}

/// `{"errors":[{"code": <spec code>, "message": <string>, "detail"?: <any JSON>}]}` and nothing
/// else at the top level.
fn check_error_body(response: &Response) {
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{response:?}"
    );
    let body = response.json();
    let top = body.as_object().expect("the error body is an object");
    assert_eq!(top.keys().collect::<Vec<_>>(), ["errors"], "{response:?}");
    let errors = body["errors"].as_array().expect("errors is an array");
    assert!(!errors.is_empty(), "{response:?}");
    for e in errors {
        let entry = e.as_object().expect("each error is an object");
        let code = entry.get("code").and_then(Value::as_str).unwrap_or("");
        assert!(
            SPEC_ERROR_CODES.contains(&code),
            "code {code:?} is not a spec code: {response:?}"
        );
        assert!(
            entry.get("message").is_none_or(Value::is_string),
            "{response:?}"
        );
        for key in entry.keys() {
            assert!(
                ["code", "message", "detail"].contains(&key.as_str()),
                "unexpected key {key:?}: {response:?}"
            );
        }
    }
}

/// `url` with `key=value` appended to its query (which it may already have).
pub fn with_query(url: &str, key: &str, value: &str) -> String {
    let pair: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{pair}")
}

pub fn digest_of(algorithm: Algorithm, bytes: &[u8]) -> String {
    Digest::compute(algorithm, bytes).to_string()
}

/// Deterministic pseudo-random bytes (SplitMix64): distinct seeds give distinct content, and a
/// failing test reproduces exactly.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// How a blob is pushed: every upload flow of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upload {
    /// One POST carrying the bytes and `?digest=`.
    PostOnly,
    /// POST for a session, then one PUT with the bytes.
    PostPut,
    /// POST, PATCH chunks with `Content-Range`, then a closing PUT (empty, or carrying the last
    /// chunk). With `out_of_order`, every chunk is preceded by a wrong one (416) and an upload
    /// status GET (204 with `Range`) to recover, as the conformance suite does.
    Chunked {
        last_in_put: bool,
        out_of_order: bool,
    },
    /// POST, one PATCH streaming the bytes without `Content-Range` or `Content-Length`, then an
    /// empty PUT.
    Stream,
}

impl Upload {
    /// The four ways a client pushes a whole blob, in the order a data set rotates through them.
    pub const ALL: [Upload; 4] = [
        Upload::PostPut,
        Upload::PostOnly,
        Upload::Stream,
        Upload::Chunked {
            last_in_put: false,
            out_of_order: false,
        },
    ];
}

/// The smallest chunk the conformance suite sends, and so the chunk size used here.
pub const CHUNK_MIN: usize = 1024;

/// Chunk size for a blob: three chunks, at least `CHUNK_MIN` bytes each, as the conformance
/// suite splits them.
pub fn chunk_size(len: usize) -> usize {
    (len / 3 + 1).max(CHUNK_MIN).min(len.max(1))
}

/// Pushes `bytes` under `digest` to `repo` and returns the response of the request that
/// completes the upload (201 when the digest matches, 400 when it does not). Every intermediate
/// step is checked here. `post_query` is added to the session-opening POST (for
/// `digest-algorithm=`).
pub async fn upload(
    registry: &Registry,
    repo: &str,
    how: Upload,
    bytes: &[u8],
    digest: &str,
    post_query: Option<(&str, &str)>,
) -> Response {
    let start = format!("/v2/{repo}/blobs/uploads/");
    let start = match post_query {
        Some((k, v)) => with_query(&start, k, v),
        None => start,
    };
    if how == Upload::PostOnly {
        return registry
            .post(with_query(&start, "digest", digest))
            .content_type("application/octet-stream")
            .body(bytes)
            .await;
    }
    let opened = registry
        .post(&start)
        .header("content-length", "0")
        .await
        .expect(202);
    let mut location = opened.location();
    assert!(opened.header("docker-upload-uuid").is_some(), "{opened:?}");
    match how {
        Upload::PostOnly => unreachable!("handled above"),
        Upload::PostPut => {
            registry
                .put(with_query(&location, "digest", digest))
                .content_type("application/octet-stream")
                .body(bytes)
                .await
        }
        Upload::Stream => {
            let pieces = bytes.chunks(700).map(<[u8]>::to_vec).collect();
            let patched = registry
                .patch(&location)
                .content_type("application/octet-stream")
                .stream(pieces)
                .await
                .expect(202);
            assert_eq!(
                patched.header("range"),
                Some(format!("0-{}", bytes.len().saturating_sub(1)).as_str()),
                "{patched:?}"
            );
            location = patched.location();
            registry
                .put(with_query(&location, "digest", digest))
                .header("content-length", "0")
                .await
        }
        Upload::Chunked {
            last_in_put,
            out_of_order,
        } => chunked(registry, location, bytes, digest, last_in_put, out_of_order).await,
    }
}

async fn chunked(
    registry: &Registry,
    mut location: String,
    bytes: &[u8],
    digest: &str,
    last_in_put: bool,
    out_of_order: bool,
) -> Response {
    let size = chunk_size(bytes.len());
    let mut next = 0usize;
    while next < bytes.len() {
        let end = (next + size).min(bytes.len()) - 1;
        let is_last = end == bytes.len() - 1;
        if out_of_order {
            // Skip a chunk ahead, or go back to the start when there is nothing ahead.
            let bad_start = if next + size < bytes.len() {
                next + size
            } else {
                0
            };
            assert_ne!(bad_start, next, "an out-of-order push needs several chunks");
            let bad_end = (bad_start + size).min(bytes.len()) - 1;
            let bad = if last_in_put && bad_end == bytes.len() - 1 {
                registry.put(with_query(&location, "digest", digest))
            } else {
                registry.patch(&location)
            };
            bad.content_type("application/octet-stream")
                .header("content-range", &format!("{bad_start}-{bad_end}"))
                .body(&bytes[bad_start..=bad_end])
                .await
                .expect_error(416, "BLOB_UPLOAD_INVALID");
            let status = registry.get(&location).await.expect(204);
            let want = format!("0-{}", next.saturating_sub(1));
            assert_eq!(status.header("range"), Some(want.as_str()), "{status:?}");
            assert_eq!(status.body.len(), 0, "{status:?}");
            location = status.location();
        }
        let chunk = registry
            .request(
                if last_in_put && is_last {
                    Method::PUT
                } else {
                    Method::PATCH
                },
                if last_in_put && is_last {
                    with_query(&location, "digest", digest)
                } else {
                    location.clone()
                },
            )
            .content_type("application/octet-stream")
            .header("content-range", &format!("{next}-{end}"))
            .body(&bytes[next..=end]);
        let response = chunk.await;
        if last_in_put && is_last {
            return response;
        }
        let response = response.expect(202);
        assert_eq!(
            response.header("range"),
            Some(format!("0-{end}").as_str()),
            "{response:?}"
        );
        location = response.location();
        next = end + 1;
    }
    registry
        .put(with_query(&location, "digest", digest))
        .header("content-length", "0")
        .await
}

/// Pushes a blob that must be accepted, and checks the 201 as the spec words it: a `Location`
/// that serves the bytes, and the digest in `Docker-Content-Digest`.
pub async fn push_blob(registry: &Registry, repo: &str, how: Upload, bytes: &[u8], digest: &str) {
    let done = upload(registry, repo, how, bytes, digest, None).await;
    check_blob_created(registry, &done, bytes, digest).await;
}

#[track_caller]
pub fn check_created_headers(done: &Response, digest: &str) {
    assert_eq!(done.status.as_u16(), 201, "{done:?}");
    assert_eq!(
        done.header("docker-content-digest"),
        Some(digest),
        "{done:?}"
    );
}

pub async fn check_blob_created(registry: &Registry, done: &Response, bytes: &[u8], digest: &str) {
    check_created_headers(done, digest);
    let pulled = registry.get(done.location()).await.expect(200);
    assert!(
        pulled.body == bytes,
        "Location serves other bytes: {pulled:?}"
    );
}

/// HEAD and GET of a blob that must be there: exact bytes, length and digest header.
pub async fn check_blob(registry: &Registry, repo: &str, bytes: &[u8], digest: &str) {
    let url = format!("/v2/{repo}/blobs/{digest}");
    let head = registry.head(&url).await.expect(200);
    assert!(head.body.is_empty(), "{head:?}");
    assert_eq!(
        head.header("content-length"),
        Some(bytes.len().to_string().as_str()),
        "{head:?}"
    );
    assert_eq!(
        head.header("docker-content-digest"),
        Some(digest),
        "{head:?}"
    );
    let get = registry.get(&url).await.expect(200);
    assert!(get.body == bytes, "GET serves other bytes: {get:?}");
    assert_eq!(
        get.header("content-length"),
        Some(bytes.len().to_string().as_str()),
        "{get:?}"
    );
    assert_eq!(get.header("docker-content-digest"), Some(digest), "{get:?}");
}

/// DELETE a blob (202), after which it is gone (404 BLOB_UNKNOWN).
pub async fn delete_blob(registry: &Registry, repo: &str, digest: &str) {
    let url = format!("/v2/{repo}/blobs/{digest}");
    registry.delete(&url).await.expect(202);
    registry.head(&url).await.expect(404);
    registry.get(&url).await.expect_error(404, "BLOB_UNKNOWN");
}
