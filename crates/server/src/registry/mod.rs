//! The OCI Distribution API under `/v2/`. One catch-all route: the path is parsed once into a
//! [`route::Route`], the caller is authenticated once, and each handler authorizes the action it
//! performs before touching storage.

pub(crate) mod blobs;
mod listing;
mod manifests;
pub(crate) mod record;
pub(crate) mod route;
pub(crate) mod uploads;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use tokio::sync::mpsc;

use crate::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::metrics::LogUser;
use crate::store::StoreError;
use crate::store::uploads::{Appended, Chunk, Session, Spool};
use route::Route;

pub const API_VERSION: HeaderName = HeaderName::from_static("docker-distribution-api-version");
pub const CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");
pub const UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");
pub const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");
pub const OCI_TAG: HeaderName = HeaderName::from_static("oci-tag");
pub const OCI_FILTERS_APPLIED: HeaderName = HeaderName::from_static("oci-filters-applied");

/// What every handler gets.
pub(crate) struct Ctx<'a> {
    pub app: &'a Arc<App>,
    pub who: Principal,
    pub headers: &'a HeaderMap,
    pub query: Query,
}

/// Decoded query parameters, in order, repeats kept.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Query {
        Query(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'q>(&'q self, key: &'q str) -> impl Iterator<Item = &'q str> + 'q {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

pub async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let mut who_name = None;
    let result = handle(&app, &parts, body, &mut who_name).await;
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    response
        .headers_mut()
        .insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
    if let Some(name) = who_name {
        response.extensions_mut().insert(LogUser(name));
    }
    response
}

async fn handle(
    app: &Arc<App>,
    parts: &axum::http::request::Parts,
    body: Body,
    who_name: &mut Option<Arc<str>>,
) -> Result<Response, ApiError> {
    let path = parts.uri.path();
    let rest = path.strip_prefix("/v2/").unwrap_or("");
    let who = app.auth.authenticate(&parts.headers).await?;
    if let Principal::User(n) = &who {
        *who_name = Some(Arc::clone(n));
    }
    let Some(route) = Route::parse(rest)? else {
        return Err(ApiError::unsupported(
            StatusCode::NOT_FOUND,
            "no such endpoint",
        ));
    };
    let ctx = Ctx {
        app,
        who,
        headers: &parts.headers,
        query: Query::parse(parts.uri.query()),
    };
    let method = &parts.method;
    match route {
        Route::Base if is_read(method) => listing::base(&ctx),
        Route::Catalog if method == Method::GET => listing::catalog(&ctx).await,
        Route::Tags(name) if method == Method::GET => listing::tags(&ctx, name).await,
        Route::Referrers(name, d) if method == Method::GET => {
            listing::referrers(&ctx, name, &d).await
        }
        Route::Manifest(name, r) if is_read(method) => {
            manifests::get(&ctx, name, &r, method == Method::HEAD).await
        }
        Route::Manifest(name, r) if method == Method::PUT => {
            manifests::put(&ctx, name, &r, body).await
        }
        Route::Manifest(name, r) if method == Method::DELETE => {
            manifests::delete(&ctx, name, &r).await
        }
        Route::Blob(name, d) if is_read(method) => {
            blobs::get(&ctx, name, &d, method == Method::HEAD).await
        }
        Route::Blob(name, d) if method == Method::DELETE => blobs::delete(&ctx, name, &d).await,
        Route::UploadStart(name) if method == Method::POST => {
            uploads::start(&ctx, name, body).await
        }
        Route::Upload(name, id) if method == Method::GET => uploads::status(&ctx, name, &id).await,
        Route::Upload(name, id) if method == Method::PATCH => {
            uploads::patch(&ctx, name, &id, body).await
        }
        Route::Upload(name, id) if method == Method::PUT => {
            uploads::put(&ctx, name, &id, body).await
        }
        Route::Upload(name, id) if method == Method::DELETE => {
            uploads::cancel(&ctx, name, &id).await
        }
        route => Err(method_not_allowed(&route)),
    }
}

fn is_read(m: &Method) -> bool {
    m == Method::GET || m == Method::HEAD
}

fn method_not_allowed(route: &Route) -> ApiError {
    let allow = match route {
        Route::Base => "GET, HEAD",
        Route::Catalog | Route::Tags(_) | Route::Referrers(..) => "GET",
        Route::Manifest(..) => "GET, HEAD, PUT, DELETE",
        Route::Blob(..) => "GET, HEAD, DELETE",
        Route::UploadStart(_) => "POST",
        Route::Upload(..) => "GET, PATCH, PUT, DELETE",
    };
    ApiError::unsupported(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint",
    )
    .with_header(header::ALLOW, HeaderValue::from_static(allow))
}

/// A response with headers and an optional body.
pub(crate) fn respond(
    status: StatusCode,
    headers: &[(HeaderName, String)],
    body: Body,
) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let map = response.headers_mut();
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            map.append(name.clone(), v);
        }
    }
    response
}

/// Bounded channel depth between the request body and the spool writer: memory per upload stays
/// at a few frames whatever the blob size.
const SPOOL_QUEUE: usize = 16;

/// Something that owns a spool and can travel to the writer thread with it.
pub(crate) trait HoldsSpool: Send + 'static {
    fn spool(&self) -> &Spool;
    /// Releases what is left once the bytes were installed or refused. Blocking.
    fn done(self) -> Result<(), StoreError>;
}

impl HoldsSpool for Session {
    fn spool(&self) -> &Spool {
        &self.spool
    }

    fn done(self) -> Result<(), StoreError> {
        self.finish()
    }
}

impl HoldsSpool for Spool {
    fn spool(&self) -> &Spool {
        self
    }

    fn done(self) -> Result<(), StoreError> {
        // Gone already if it was installed as a blob.
        crate::store::blobs::BlobStore::remove_file(self.path())
    }
}

/// Streams a request body into the holder's spool on a blocking thread. The holder travels
/// with the writer, so a cancelled request cannot release a session while bytes are still being
/// written. The bytes count (the writer is told so, and records it) only if the body arrived
/// whole and, when `expected` is given, at exactly that length. The outer error is a lost
/// writer thread; the inner result says whether the bytes count.
pub(crate) async fn receive<H: HoldsSpool>(
    holder: H,
    body: Body,
    expected: Option<u64>,
) -> Result<(H, Result<Appended, ApiError>), ApiError> {
    let wrong_length = || ApiError::size_invalid("the body's length does not match Content-Range");
    if http_body::Body::is_end_stream(&body) {
        // Nothing to write (a closing PUT without a final chunk): no writer thread.
        let result = match expected {
            Some(n) if n != 0 => Err(wrong_length()),
            _ => Ok(Appended::nothing()),
        };
        return Ok((holder, result));
    }
    let (tx, rx) = mpsc::channel::<Chunk>(SPOOL_QUEUE);
    let writer = tokio::task::spawn_blocking(move || {
        let result = holder.spool().append(rx);
        (holder, result)
    });
    let mut body = body;
    let mut received = 0u64;
    let mut failure = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data()
                    && !data.is_empty()
                {
                    received += data.len() as u64;
                    if tx.send(Chunk::Data(data)).await.is_err() {
                        break; // the writer stopped; its error says why
                    }
                }
            }
            Err(e) => {
                failure = Some(ApiError::upload_invalid(format!(
                    "request body ended early: {e}"
                )));
                break;
            }
        }
    }
    if failure.is_none() && expected.is_some_and(|n| n != received) {
        failure = Some(wrong_length());
    }
    if failure.is_none() {
        // If the writer is gone this fails, and its own error is reported below.
        let _ = tx.send(Chunk::End).await;
    }
    drop(tx);
    let (holder, written) = writer.await?;
    let result = match (written, failure) {
        (Err(e), _) => Err(ApiError::from(e)),
        (Ok(_), Some(e)) => Err(e),
        (Ok(appended), None) if appended.complete => Ok(appended),
        (Ok(_), None) => Err(ApiError::internal(
            "the spool writer stopped before the end of the body",
        )),
    };
    Ok((holder, result))
}
