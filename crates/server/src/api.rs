//! vouch's own API under `/api/v1/`: an artifact's trace (`GET trace/<digest>`: every ledger
//! entry about it, about its evidence and about the keys that signed it, each with its
//! inclusion proof in one checkpoint, and the gate's current decisions) and revocations
//! (`POST revocations`, administrators only: a key or an artifact digest, recorded on the
//! ledger, after which every covered artifact is decided again). Reads follow the registry's
//! authentication, as the ledger's do.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use ledger::{Event, EventType};
use oci::{Digest, RepoName};
use serde_json::{Value, json};

use crate::App;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::metrics::LogUser;
use crate::registry::{record, respond};

/// Entries a trace lists at most.
const MAX_TRACE_ENTRIES: usize = 1000;
/// Largest revocation request body.
const MAX_BODY: usize = 16 * 1024;

pub async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let who = match app.auth.authenticate(&parts.headers).await {
        Ok(who) => who,
        Err(e) => return e.into_response(),
    };
    let name = match &who {
        Principal::User(n) => Some(Arc::clone(n)),
        Principal::Anonymous => None,
    };
    let rest = parts.uri.path().strip_prefix("/api/v1/").unwrap_or("");
    let result = match (rest, &parts.method) {
        (r, &Method::GET) if r.starts_with("trace/") => {
            trace(&app, &who, r.trim_start_matches("trace/")).await
        }
        ("revocations", &Method::POST) => revoke(&app, &who, body).await,
        ("policies/reload", &Method::POST) => reload_policies(&app, &who).await,
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::Unsupported,
            "no such endpoint",
        )),
    };
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    if let Some(n) = name {
        response.extensions_mut().insert(LogUser(n));
    }
    response
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let body = value.to_string().into_bytes();
    let headers: [(HeaderName, String); 2] = [
        (header::CONTENT_TYPE, "application/json".to_owned()),
        (header::CONTENT_LENGTH, body.len().to_string()),
    ];
    respond(status, &headers, Body::from(body))
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::Unsupported,
        message.into(),
    )
}

/// What a trace follows from an entry about the artifact, and what it takes from each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Related {
    /// Every entry about it (the artifact itself).
    Artifact,
    /// Entries about a signature or attestation manifest (its push).
    Evidence,
    /// The `policy.updated` entry of a policy a decision was made under.
    Policy,
    /// `key.revoked` entries of a key that signed it.
    Key,
}

/// The digests an entry about the artifact names that a trace follows: its evidence, the
/// policies of its decisions, the keys of its signers.
fn followed(entry: &Value) -> Vec<(String, Related)> {
    let event = &entry["event"];
    let mut out: Vec<(String, Related)> = event["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(|d| (d.to_owned(), Related::Evidence)))
        .collect();
    if let Some(policy) = event["details"]["policy"].as_str() {
        out.push((policy.to_owned(), Related::Policy));
    }
    for signer in event["details"]["signers"].as_array().into_iter().flatten() {
        if let Some(fp) = signer["who"]["fingerprint"].as_str() {
            out.push((format!("sha256:{fp}"), Related::Key));
        }
    }
    out
}

/// Whether an entry naming `digest` belongs in the trace as `how` it is related.
fn belongs(entry: &Value, digest: &str, how: Related) -> bool {
    let event = &entry["event"];
    match how {
        Related::Artifact | Related::Evidence => true,
        Related::Policy => {
            event["type"] == "policy.updated" && event["subject"]["digest"] == digest
        }
        Related::Key => event["type"] == "key.revoked" && event["subject"]["key"] == digest,
    }
}

/// `GET /api/v1/trace/<digest>`.
async fn trace(app: &Arc<App>, who: &Principal, digest: &str) -> Result<Response, ApiError> {
    app.auth.require_login(who)?;
    let digest = Digest::parse(digest).map_err(|e| ApiError::digest_invalid(e.to_string()))?;
    let Some(ledger) = app.ledger.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::Unsupported,
            "this registry keeps no ledger",
        ));
    };
    let d = digest.clone();
    let app2 = Arc::clone(app);
    let who = who.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let checkpoint = ledger.checkpoint();
        let size = checkpoint.checkpoint().size();
        // The artifact's entries, then those about what they name (its signatures' pushes,
        // the keys that signed it: their revocations), once each; each entry's exact bytes
        // (the leaf hash is over them) kept by index.
        let mut seen: BTreeSet<String> = BTreeSet::from([d.to_string()]);
        let mut queue = vec![(d.to_string(), Related::Artifact)];
        let mut found: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        while let Some((next, how)) = queue.pop() {
            for i in ledger.entries_about(&next) {
                if i >= size || found.len() >= MAX_TRACE_ENTRIES || found.contains_key(&i) {
                    continue;
                }
                let bytes = ledger.entry(i).map_err(ApiError::internal)?;
                let entry: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
                if !belongs(&entry, &next, how) {
                    continue;
                }
                found.insert(i, bytes);
                // Only the artifact's own entries lead further.
                if how != Related::Artifact {
                    continue;
                }
                for (f, related) in followed(&entry) {
                    if seen.insert(f.clone()) {
                        queue.push((f, related));
                    }
                }
            }
        }
        let mut entries = Vec::new();
        for (i, bytes) in found {
            let entry = String::from_utf8(bytes).map_err(ApiError::internal)?;
            let proof = ledger
                .inclusion_proof(i, size)
                .map_err(ApiError::internal)?;
            let proof: Vec<String> = proof
                .iter()
                .map(|h| base64::engine::general_purpose::STANDARD.encode(h))
                .collect();
            entries.push(json!({"index": i, "entry": entry, "proof": proof}));
        }
        let mut state = Vec::new();
        let repos = app2.meta.repos_with_manifest(&d)?;
        for repo in repos {
            let Ok(name) = RepoName::parse(&repo) else {
                continue;
            };
            // The ledger is readable by any user; a repository's decisions only by its readers.
            if !app2.auth.can(&who, &name, crate::auth::Action::Pull) {
                continue;
            }
            let gated = app2
                .gate
                .as_ref()
                .is_some_and(|g| g.current().covers(&name));
            let admission = app2.meta.admission(&name, &d)?;
            state.push(json!({
                "repository": repo,
                "gated": gated,
                "admitted": admission.as_ref().map(|a| a.admitted),
                "policies": admission.as_ref().map(|a| a.policies.clone()),
                "reasons": admission.as_ref().map(|a| a.reasons.clone()),
            }));
        }
        Ok(json!({
            "digest": d.as_str(),
            "checkpoint": checkpoint.to_string(),
            "size": size,
            "entries": entries,
            "state": state,
        }))
    })
    .await??;
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/v1/policies/reload` (administrators only): reads the gate's policy files again
/// and puts them in force if they changed; answers what is in force. A file that does not load
/// is a 400 with its error, and the policies in force stay.
async fn reload_policies(app: &Arc<App>, who: &Principal) -> Result<Response, ApiError> {
    require_admin(app, who)?;
    match crate::gate::reload(app).await {
        Ok(reloaded) => Ok(json_response(
            StatusCode::OK,
            &serde_json::to_value(&reloaded).unwrap_or_default(),
        )),
        Err(
            e @ (crate::gate::reload::ReloadError::Record(_)
            | crate::gate::reload::ReloadError::Reevaluate(_)),
        ) => Err(ApiError::internal(e.to_string())),
        Err(e) => Err(bad_request(e.to_string())),
    }
}

fn require_admin(app: &App, who: &Principal) -> Result<(), ApiError> {
    if app.auth.is_admin(who) {
        return Ok(());
    }
    Err(match who {
        Principal::Anonymous => ApiError::unauthorized(app.auth.realm()),
        Principal::User(n) => ApiError::denied(format!("user {n:?} is not an administrator")),
    })
}

/// `POST /api/v1/revocations` with `{"key": "sha256:<hex>" | "digest": "sha256:<hex>",
/// "reason": "..."}`: records the revocation and decides every covered artifact again.
async fn revoke(app: &Arc<App>, who: &Principal, body: Body) -> Result<Response, ApiError> {
    require_admin(app, who)?;
    if app.ledger.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::Unsupported,
            "this registry keeps no ledger",
        ));
    }
    // Read at most MAX_BODY bytes: a larger body is refused before it is all in memory.
    let bytes = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            bad_request(format!(
                "the body is unreadable or larger than {MAX_BODY} bytes: {e}"
            ))
        })?
        .to_bytes();
    let request: Value =
        serde_json::from_slice(&bytes).map_err(|e| bad_request(format!("not JSON: {e}")))?;
    let reason = request["reason"]
        .as_str()
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| bad_request("a revocation needs a non-empty \"reason\""))?;
    let mut event = Event::new(EventType::KeyRevoked, record::now(), record::actor(who));
    event.details.insert("reason".into(), reason.into());
    match (request["key"].as_str(), request["digest"].as_str()) {
        (Some(key), None) => {
            let hex = key
                .strip_prefix("sha256:")
                .unwrap_or(key)
                .to_ascii_lowercase();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad_request(
                    "\"key\" is a key's SHA-256 fingerprint: sha256:<64 hex digits>",
                ));
            }
            event.subject.key = Some(format!("sha256:{hex}"));
        }
        (None, Some(digest)) => {
            let digest =
                Digest::parse(digest).map_err(|e| ApiError::digest_invalid(e.to_string()))?;
            event.subject.digest = Some(digest);
        }
        _ => return Err(bad_request("name exactly one of \"key\" and \"digest\"")),
    }
    let index = record::record(app, event).await?;
    crate::gate::reevaluate_all(app).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "index": index }),
    ))
}
