//! Prometheus metrics and the access log, both produced by one middleware: requests by route,
//! method and status, latency to response headers, bytes in and out, uploads in progress. Beside
//! them, the ledger's: entries appended (by who submitted them), submissions rejected (by
//! code), and the log's size.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::Frame;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::InternalError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BytesLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LedgerSourceLabels {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LedgerCodeLabels {
    code: &'static str,
}

/// Who submitted a ledger entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerSource {
    /// An outside submitter, through `POST /ledger/add`.
    Submitted,
    /// The registry itself, signing with the node key.
    Registry,
}

impl LedgerSource {
    fn as_str(self) -> &'static str {
        match self {
            LedgerSource::Submitted => "add",
            LedgerSource::Registry => "registry",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    bytes_in: Family<BytesLabels, Counter>,
    bytes_out: Family<BytesLabels, Counter>,
    pub uploads_in_progress: Gauge,
    ledger_appends: Family<LedgerSourceLabels, Counter>,
    ledger_rejections: Family<LedgerCodeLabels, Counter>,
    pub ledger_size: Gauge,
}

/// The principal's name, put on the response by the registry for the access log.
#[derive(Clone, Debug)]
pub struct LogUser(pub Arc<str>);

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("vouch");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.5, 14))
        });
        let bytes_in = Family::<BytesLabels, Counter>::default();
        let bytes_out = Family::<BytesLabels, Counter>::default();
        let uploads_in_progress = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response headers",
            latency.clone(),
        );
        registry.register(
            "http_request_body_bytes",
            "Request body bytes received",
            bytes_in.clone(),
        );
        registry.register(
            "http_response_body_bytes",
            "Response body bytes sent",
            bytes_out.clone(),
        );
        registry.register(
            "uploads_in_progress",
            "Open blob upload sessions",
            uploads_in_progress.clone(),
        );
        let ledger_appends = Family::<LedgerSourceLabels, Counter>::default();
        let ledger_rejections = Family::<LedgerCodeLabels, Counter>::default();
        let ledger_size = Gauge::default();
        registry.register(
            "ledger_appends",
            "Entries appended to the ledger, by submitter (add: POST /ledger/add; registry: the registry's own events)",
            ledger_appends.clone(),
        );
        registry.register(
            "ledger_rejections",
            "Ledger submissions not appended, by code (the ledger's rejection codes, UNAVAILABLE when it stopped)",
            ledger_rejections.clone(),
        );
        registry.register(
            "ledger_size",
            "Entries in the ledger's latest checkpoint",
            ledger_size.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            bytes_in,
            bytes_out,
            uploads_in_progress,
            ledger_appends,
            ledger_rejections,
            ledger_size,
        }
    }

    /// Counts an acknowledged submission: an append unless it was a duplicate; `size` is the
    /// size of the checkpoint that acknowledged it.
    pub fn ledger_appended(&self, source: LedgerSource, duplicate: bool, size: u64) {
        if !duplicate {
            self.ledger_appends
                .get_or_create(&LedgerSourceLabels {
                    source: source.as_str(),
                })
                .inc();
        }
        // Receipts arrive out of order across tasks: the gauge only grows.
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        self.ledger_size
            .inner()
            .fetch_max(size, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts a submission that was not appended, by its code.
    pub fn ledger_rejected(&self, code: &'static str) {
        self.ledger_rejections
            .get_or_create(&LedgerCodeLabels { code })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> Response {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
        }
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            )],
            out,
        )
            .into_response()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// A coarse route name for labels, from the path alone (cheap, bounded cardinality).
pub fn route_label(path: &str) -> &'static str {
    if path == "/v2/" || path == "/v2" {
        "base"
    } else if let Some(rest) = path.strip_prefix("/v2/") {
        // Read from the right, as the router does: names may contain endpoint words.
        let mut segments = rest.rsplit('/');
        let last = segments.next().unwrap_or("");
        let kind = segments.next().unwrap_or("");
        let before = segments.next().unwrap_or("");
        match (before, kind, last) {
            _ if rest == "_catalog" => "catalog",
            ("blobs", "uploads", _) | (_, "blobs", "uploads") => "upload",
            (_, "blobs", _) => "blob",
            (_, "manifests", _) => "manifest",
            (_, "tags", "list") => "tags",
            (_, "referrers", _) => "referrers",
            _ => "other",
        }
    } else if let Some(rest) = path.strip_prefix("/ledger/") {
        match rest.split_once('/').map_or(rest, |(first, _)| first) {
            "checkpoint" => "ledger_checkpoint",
            "vkey" => "ledger_vkey",
            "tile" => "ledger_tile",
            "add" => "ledger_add",
            "proof" | "tlog-proof" => "ledger_proof",
            "lookup" => "ledger_lookup",
            "entry" => "ledger_entry",
            _ => "other",
        }
    } else {
        match path {
            "/healthz" => "healthz",
            "/metrics" => "metrics",
            _ => "other",
        }
    }
}

fn method_label(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// Records metrics and writes one access-log line per request.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = route_label(req.uri().path());
    let method = method_label(req.method());
    let path = req.uri().path().to_owned();
    let bytes_in = metrics
        .bytes_in
        .get_or_create(&BytesLabels { route })
        .clone();
    let req = req.map(|b| {
        Body::new(Counted {
            inner: b,
            counter: bytes_in,
        })
    });
    let response = next.run(req).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status,
        })
        .inc();
    metrics
        .latency
        .get_or_create(&RouteLabels { route, method })
        .observe(elapsed.as_secs_f64());
    let user = response.extensions().get::<LogUser>().map(|u| u.0.clone());
    let user = user.as_deref().unwrap_or("-");
    let micros = elapsed.as_micros() as u64;
    if let Some(InternalError(cause)) = response.extensions().get::<InternalError>() {
        tracing::error!(target: "vouch::access", method, path, status, micros, user, error = %cause, "request failed");
    } else {
        tracing::info!(target: "vouch::access", method, path, status, micros, user, "request");
    }
    let bytes_out = metrics
        .bytes_out
        .get_or_create(&BytesLabels { route })
        .clone();
    response.map(|b| {
        Body::new(Counted {
            inner: b,
            counter: bytes_out,
        })
    })
}

/// A body that counts the data bytes passing through it.
struct Counted {
    inner: Body,
    counter: Counter,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.counter.inc_by(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels() {
        let table = [
            ("/v2/", "base"),
            ("/v2/_catalog", "catalog"),
            ("/v2/a/b/blobs/uploads/", "upload"),
            ("/v2/a/blobs/uploads/0123", "upload"),
            ("/v2/a/blobs/sha256:00", "blob"),
            ("/v2/a/manifests/latest", "manifest"),
            ("/v2/a/tags/list", "tags"),
            ("/v2/a/referrers/sha256:00", "referrers"),
            ("/v2/a/blobs/uploads", "upload"),
            ("/v2/team/blobs/app/manifests/latest", "manifest"),
            ("/v2/x/manifests/y/blobs/sha256:00", "blob"),
            ("/v2/x/blobs/uploads/tags/list", "tags"),
            ("/v2/x/referrers/y/blobs/uploads/0123", "upload"),
            ("/v2/x/blobs/y/referrers/sha256:00", "referrers"),
            ("/v2/a/nope/x", "other"),
            ("/healthz", "healthz"),
            ("/metrics", "metrics"),
            ("/nope", "other"),
            ("/ledger/checkpoint", "ledger_checkpoint"),
            ("/ledger/vkey", "ledger_vkey"),
            ("/ledger/tile/0/000.p/3", "ledger_tile"),
            ("/ledger/tile/entries/x001/000", "ledger_tile"),
            ("/ledger/add", "ledger_add"),
            ("/ledger/proof/inclusion", "ledger_proof"),
            ("/ledger/tlog-proof/7", "ledger_proof"),
            ("/ledger/lookup", "ledger_lookup"),
            ("/ledger/entry/7", "ledger_entry"),
            ("/ledger/nope", "other"),
            ("/ledger", "other"),
        ];
        for (path, want) in table {
            assert_eq!(route_label(path), want, "{path}");
        }
    }
}
