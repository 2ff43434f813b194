//! `/v2/` itself, tag listing, the catalog and the referrers API.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use oci::{Digest, RepoName, media_type};
use serde_json::{Value, json};

use super::{Ctx, OCI_FILTERS_APPLIED, respond};
use crate::auth::Action;
use crate::error::ApiError;

/// Largest page a client can ask for; larger `n` is clamped and the rest follows a `Link`.
const MAX_PAGE: usize = 10_000;
/// Catalog page size when the client does not give `n`.
const DEFAULT_CATALOG_PAGE: usize = 1_000;

pub fn base(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    ctx.app.auth.require_login(&ctx.who)?;
    Ok(json_response(StatusCode::OK, "{}".into(), &[]))
}

fn json_response(
    status: StatusCode,
    body: String,
    extra: &[(axum::http::HeaderName, String)],
) -> Response {
    let mut headers = vec![(header::CONTENT_TYPE, "application/json".to_owned())];
    headers.extend_from_slice(extra);
    respond(status, &headers, Body::from(body))
}

/// Parses `n`; `None` when absent.
fn page_size(ctx: &Ctx<'_>) -> Result<Option<usize>, ApiError> {
    match ctx.query.get("n") {
        None => Ok(None),
        Some(n) => n
            .parse::<usize>()
            .map(|n| Some(n.min(MAX_PAGE)))
            .map_err(|_| {
                ApiError::unsupported(StatusCode::BAD_REQUEST, "n must be a non-negative integer")
            }),
    }
}

fn next_link(path: &str, n: usize, last: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("n", &n.to_string())
        .append_pair("last", last)
        .finish();
    format!("<{path}?{query}>; rel=\"next\"")
}

pub async fn tags(ctx: &Ctx<'_>, name: RepoName) -> Result<Response, ApiError> {
    ctx.app.auth.authorize(&ctx.who, &name, Action::Pull)?;
    let n = page_size(ctx)?;
    let last = ctx.query.get("last").map(str::to_owned);
    // Fetch one more than asked to know whether a next page exists.
    let fetch = n.map_or(usize::MAX / 2, |n| n + 1);
    let repo = name.clone();
    let last_for_query = last.clone();
    let found = ctx
        .app
        .blocking(move |app| app.meta.tags(&repo, last_for_query.as_deref(), fetch))
        .await?;
    let Some(mut tags) = found else {
        return Err(ApiError::name_unknown(&name));
    };
    let mut extra = Vec::new();
    if let Some(n) = n
        && tags.len() > n
    {
        tags.truncate(n);
        if let Some(last) = tags.last() {
            extra.push((
                header::LINK,
                next_link(&format!("/v2/{name}/tags/list"), n, last),
            ));
        }
    }
    let body = json!({ "name": name.as_str(), "tags": tags }).to_string();
    Ok(json_response(StatusCode::OK, body, &extra))
}

pub async fn catalog(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let n = page_size(ctx)?.unwrap_or(DEFAULT_CATALOG_PAGE);
    let mut last = ctx.query.get("last").map(str::to_owned);
    let admin = ctx.app.auth.is_admin(&ctx.who);
    if !admin && !ctx.app.auth.has_grants(&ctx.who) {
        // Nothing to show: ask anonymous callers to log in, tell users they may see nothing.
        ctx.app.auth.require_login(&ctx.who)?;
    }
    let mut repos: Vec<String> = Vec::new();
    let mut more = false;
    // Filtering by permission can drop rows, so read in batches until the page is full.
    while !more && n > 0 {
        let batch_size = (n + 1).max(128);
        let after = last.clone();
        let batch = ctx
            .app
            .blocking(move |app| app.meta.catalog(after.as_deref(), batch_size))
            .await?;
        let exhausted = batch.len() < batch_size;
        for repo in batch {
            last = Some(repo.clone());
            let visible = admin
                || RepoName::parse(&repo)
                    .is_ok_and(|r| ctx.app.auth.can(&ctx.who, &r, Action::Pull));
            if !visible {
                continue;
            }
            if repos.len() == n {
                more = true;
                break;
            }
            repos.push(repo);
        }
        if exhausted {
            break;
        }
    }
    let mut extra = Vec::new();
    if more && let Some(last) = repos.last() {
        extra.push((header::LINK, next_link("/v2/_catalog", n, last)));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({ "repositories": repos }).to_string(),
        &extra,
    ))
}

pub async fn referrers(ctx: &Ctx<'_>, name: RepoName, digest: &str) -> Result<Response, ApiError> {
    ctx.app.auth.authorize(&ctx.who, &name, Action::Pull)?;
    let subject = Digest::parse(digest).map_err(|e| ApiError::digest_invalid(e.to_string()))?;
    let filter = ctx
        .query
        .get("artifactType")
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    let applied = filter.is_some();
    let rows = ctx
        .app
        .blocking(move |app| app.meta.referrers(&name, &subject, filter.as_deref()))
        .await?;
    let manifests: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let mut d = json!({ "mediaType": r.media_type, "digest": r.digest, "size": r.size });
            if let Some(a) = r.artifact_type {
                d["artifactType"] = Value::String(a);
            }
            if let Some(text) = r.annotations
                && let Ok(v) = serde_json::from_str::<Value>(&text)
            {
                d["annotations"] = v;
            }
            d
        })
        .collect();
    let body = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": manifests,
    })
    .to_string();
    let mut headers = vec![(header::CONTENT_TYPE, media_type::OCI_INDEX.to_owned())];
    if applied {
        headers.push((OCI_FILTERS_APPLIED, "artifactType".to_owned()));
    }
    Ok(respond(StatusCode::OK, &headers, Body::from(body)))
}
