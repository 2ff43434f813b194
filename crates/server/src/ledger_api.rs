//! The ledger's HTTP API under `/ledger/`: the signed checkpoint and the log's key, the C2SP
//! tlog-tiles read API (hash tiles and entry bundles, immutable once served), submission
//! (`add`), inclusion and consistency proofs, lookup by digest and single entries. One
//! catch-all route; the path is parsed here. Reads follow the registry's authentication (open
//! without users; with users, any authenticated user); `add` asks for no credentials: an
//! entry's signature by a key allowed for its event type is the authorization.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use ledger::tiles::{TileKind, TilePath};
use ledger::tree::ProofRequestError;
use ledger::{Ledger, ReadError, SubmitError};
use serde_json::{Value, json};
use verify::checkpoint::TlogProof;
use verify::merkle::Hash;

use crate::App;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::metrics::{LedgerSource, LogUser};
use crate::registry::{Query, respond};

/// The ledger API's own error codes, beside the ledger's rejection codes.
const BAD_REQUEST: &str = "BAD_REQUEST";
const NOT_FOUND: &str = "NOT_FOUND";
const TOO_LARGE: &str = "TOO_LARGE";
const UNAVAILABLE: &str = "UNAVAILABLE";

/// A tile at a given path never changes (a partial tile has its width in its path). Shared
/// caches may keep it only where anyone may read the ledger.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const IMMUTABLE_PRIVATE: &str = "private, max-age=31536000, immutable";
const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// An endpoint, parsed from the path after `/ledger/`: submission, or a read.
enum Route<'a> {
    Add,
    Read(Read<'a>),
}

/// The endpoints that read, under the registry's authentication.
enum Read<'a> {
    Checkpoint,
    Vkey,
    /// `tile/...`, the whole path as C2SP tlog-tiles names it.
    Tile(&'a str),
    Inclusion,
    Consistency,
    TlogProof(&'a str),
    Lookup,
    Entry(&'a str),
}

impl Route<'_> {
    fn parse(rest: &str) -> Option<Route<'_>> {
        let read = match rest {
            "add" => return Some(Route::Add),
            "checkpoint" => Read::Checkpoint,
            "vkey" => Read::Vkey,
            "proof/inclusion" => Read::Inclusion,
            "proof/consistency" => Read::Consistency,
            "lookup" => Read::Lookup,
            _ if rest.starts_with("tile/") => Read::Tile(rest),
            _ => {
                if let Some(n) = rest.strip_prefix("tlog-proof/") {
                    Read::TlogProof(n)
                } else if let Some(n) = rest.strip_prefix("entry/") {
                    Read::Entry(n)
                } else {
                    return None;
                }
            }
        };
        Some(Route::Read(read))
    }
}

pub async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let mut who_name = None;
    let result = handle(&app, &parts, body, &mut who_name).await;
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    if let Some(name) = who_name {
        response.extensions_mut().insert(LogUser(name));
    }
    if parts.method == Method::HEAD {
        *response.body_mut() = Body::empty();
    }
    response
}

async fn handle(
    app: &Arc<App>,
    parts: &Parts,
    body: Body,
    who_name: &mut Option<Arc<str>>,
) -> Result<Response, ApiError> {
    let no_endpoint = || ApiError::unsupported(StatusCode::NOT_FOUND, "no such endpoint");
    let Some(ledger) = &app.ledger else {
        return Err(no_endpoint());
    };
    let rest = parts.uri.path().strip_prefix("/ledger/").unwrap_or("");
    let route = Route::parse(rest).ok_or_else(no_endpoint)?;
    let method = &parts.method;
    let read = match route {
        Route::Add if method == Method::POST => {
            return add(app, ledger, &parts.headers, body).await;
        }
        Route::Add => return Err(method_not_allowed("POST")),
        Route::Read(read) => read,
    };
    if method != Method::GET && method != Method::HEAD {
        return Err(method_not_allowed("GET, HEAD"));
    }
    let who = app.auth.authenticate(&parts.headers).await?;
    if let Principal::User(name) = &who {
        *who_name = Some(Arc::clone(name));
    }
    app.auth.require_login(&who)?;
    let query = Query::parse(parts.uri.query());
    match read {
        Read::Checkpoint => Ok(ok(
            TEXT,
            Some("no-cache"),
            ledger.checkpoint().to_string().into_bytes(),
        )),
        Read::Vkey => Ok(ok(TEXT, None, format!("{}\n", ledger.vkey()).into_bytes())),
        Read::Tile(path) => tile(ledger, path, app.auth.is_open()).await,
        Read::Inclusion => inclusion(ledger, &query),
        Read::Consistency => consistency(ledger, &query),
        Read::TlogProof(n) => {
            let index = parse_u64(n).ok_or_else(|| bad_request("the index is not a number"))?;
            let proof = ledger.tlog_proof(index).map_err(|_| beyond(index))?;
            Ok(ok(TEXT, None, proof.to_string().into_bytes()))
        }
        Read::Lookup => lookup(ledger, &query),
        Read::Entry(n) => {
            let index = parse_u64(n).ok_or_else(|| bad_request("the index is not a number"))?;
            let l = ledger.clone();
            let bytes = tokio::task::spawn_blocking(move || l.entry(index))
                .await?
                .map_err(read_error)?;
            Ok(ok(JSON, None, bytes))
        }
    }
}

/// A hash tile or an entry bundle, at the width its path names.
async fn tile(ledger: &Ledger, path: &str, open: bool) -> Result<Response, ApiError> {
    let tile = TilePath::parse(path).map_err(|e| bad_request(e.to_string()))?;
    let bytes = match tile.kind() {
        // Entries are read from the log file.
        TileKind::Entries => {
            let l = ledger.clone();
            tokio::task::spawn_blocking(move || l.tile(&tile)).await?
        }
        // Hashes come from the tree in memory.
        TileKind::Hashes { .. } => ledger.tile(&tile),
    }
    .map_err(read_error)?;
    let cache = if open { IMMUTABLE } else { IMMUTABLE_PRIVATE };
    Ok(ok("application/octet-stream", Some(cache), bytes))
}

/// `?index=N[&size=S]`: the inclusion proof of entry N in the tree of S entries (by default
/// the latest checkpoint's).
fn inclusion(ledger: &Ledger, query: &Query) -> Result<Response, ApiError> {
    let index = required_u64(query, "index")?;
    let published = ledger.size();
    let size = optional_u64(query, "size")?.unwrap_or(published);
    if size > published {
        return Err(not_found(format!(
            "the log holds {published} entries, not {size}"
        )));
    }
    if index >= size {
        if index >= published {
            return Err(beyond(index));
        }
        return Err(bad_request(format!(
            "entry {index} is not in the tree of {size} entries"
        )));
    }
    let proof = ledger.inclusion_proof(index, size).map_err(proof_error)?;
    Ok(json_ok(
        json!({ "index": index, "size": size, "proof": hashes(&proof) }),
    ))
}

/// `?old=A&new=B`: the consistency proof between the trees of A and B entries.
fn consistency(ledger: &Ledger, query: &Query) -> Result<Response, ApiError> {
    let old = required_u64(query, "old")?;
    let new = required_u64(query, "new")?;
    let published = ledger.size();
    if new > published {
        return Err(not_found(format!(
            "the log holds {published} entries, not {new}"
        )));
    }
    let proof = ledger.consistency_proof(old, new).map_err(proof_error)?;
    Ok(json_ok(
        json!({ "old": old, "new": new, "proof": hashes(&proof) }),
    ))
}

/// `?digest=D`: the entries whose events name D (as subject, config, evidence, policy or key).
fn lookup(ledger: &Ledger, query: &Query) -> Result<Response, ApiError> {
    let text = query
        .get("digest")
        .ok_or_else(|| bad_request("the digest parameter is missing"))?;
    let digest =
        oci::Digest::parse(text).map_err(|e| bad_request(format!("digest {text:?}: {e}")))?;
    let entries = ledger.entries_about(digest.as_str());
    Ok(json_ok(
        json!({ "digest": digest.as_str(), "entries": entries }),
    ))
}

/// `POST /ledger/add`: one entry, checked, sequenced and made durable before the answer, which
/// carries the checkpoint that includes it and the entry's tlog-proof against that checkpoint.
async fn add(
    app: &App,
    ledger: &Ledger,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = ledger::event::MAX_ENTRY_BYTES;
    let too_large = || {
        app.metrics.ledger_rejected(TOO_LARGE);
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Ledger(TOO_LARGE),
            format!("an entry is at most {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = body;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| bad_request(format!("request body ended early: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&data);
        }
    }
    match ledger.submit(&bytes).await {
        Ok(receipt) => {
            let size = receipt.checkpoint.checkpoint().size();
            app.metrics
                .ledger_appended(LedgerSource::Submitted, receipt.duplicate, size);
            // Against the receipt's checkpoint, whatever was appended since.
            let proof = ledger
                .inclusion_proof(receipt.index, size)
                .map_err(ApiError::internal)?;
            let tlog_proof =
                TlogProof::new(None, receipt.index, proof, (*receipt.checkpoint).clone());
            Ok(json_ok(json!({
                "index": receipt.index,
                "duplicate": receipt.duplicate,
                "checkpoint": receipt.checkpoint.to_string(),
                "tlog_proof": tlog_proof.to_string(),
            })))
        }
        Err(SubmitError::Rejected(rejection)) => {
            app.metrics.ledger_rejected(rejection.code());
            let status = StatusCode::from_u16(rejection.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Err(ApiError::new(
                status,
                ErrorCode::Ledger(rejection.code()),
                rejection.to_string(),
            ))
        }
        Err(SubmitError::Ledger(e)) => {
            app.metrics.ledger_rejected(UNAVAILABLE);
            Err(ApiError::unavailable(ErrorCode::Ledger(UNAVAILABLE), e))
        }
    }
}

/// 200 with a body, its type and length, and a cache policy.
fn ok(content_type: &'static str, cache: Option<&'static str>, body: Vec<u8>) -> Response {
    let mut headers: Vec<(HeaderName, String)> = vec![
        (header::CONTENT_TYPE, content_type.to_owned()),
        (header::CONTENT_LENGTH, body.len().to_string()),
    ];
    if let Some(c) = cache {
        headers.push((header::CACHE_CONTROL, c.to_owned()));
    }
    respond(StatusCode::OK, &headers, Body::from(body))
}

fn json_ok(value: Value) -> Response {
    ok(JSON, None, value.to_string().into_bytes())
}

fn hashes(proof: &[Hash]) -> Vec<String> {
    proof
        .iter()
        .map(|h| base64::engine::general_purpose::STANDARD.encode(h))
        .collect()
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::Ledger(BAD_REQUEST),
        message.into(),
    )
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::Ledger(NOT_FOUND),
        message.into(),
    )
}

fn beyond(index: u64) -> ApiError {
    not_found(format!("entry {index} is not in the log (yet)"))
}

fn method_not_allowed(allow: &'static str) -> ApiError {
    ApiError::unsupported(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint",
    )
    .with_header(header::ALLOW, HeaderValue::from_static(allow))
}

fn read_error(e: ReadError) -> ApiError {
    match e {
        ReadError::NotFound => not_found("not in the log (yet)"),
        ReadError::Io(cause) => ApiError::internal(cause),
    }
}

/// Sizes beyond the log are 404; sizes that make no proof (an empty old tree, old after new,
/// an index outside its tree) are the caller's mistake.
fn proof_error(e: ProofRequestError) -> ApiError {
    match e {
        ProofRequestError::Beyond(e) => not_found(e.to_string()),
        ProofRequestError::Proof(e) => bad_request(e.to_string()),
    }
}

/// A decimal number, digits only (no sign, no spaces).
fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn optional_u64(query: &Query, name: &str) -> Result<Option<u64>, ApiError> {
    query
        .get(name)
        .map(|v| parse_u64(v).ok_or_else(|| bad_request(format!("{name} {v:?} is not a number"))))
        .transpose()
}

fn required_u64(query: &Query, name: &str) -> Result<u64, ApiError> {
    optional_u64(query, name)?
        .ok_or_else(|| bad_request(format!("the {name} parameter is missing")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_numbers() {
        for (path, ok) in [
            ("checkpoint", true),
            ("vkey", true),
            ("add", true),
            ("proof/inclusion", true),
            ("proof/consistency", true),
            ("lookup", true),
            ("tile/0/000", true),
            ("tile/entries/000.p/3", true),
            ("tlog-proof/3", true),
            ("entry/3", true),
            ("", false),
            ("checkpoint/", false),
            ("proof", false),
            ("tiles/0/000", false),
        ] {
            assert_eq!(Route::parse(path).is_some(), ok, "{path}");
        }
        for (text, want) in [
            ("0", Some(0)),
            ("42", Some(42)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("+1", None),
            ("-1", None),
            (" 1", None),
            ("", None),
            ("0x10", None),
        ] {
            assert_eq!(parse_u64(text), want, "{text:?}");
        }
    }
}
