//! Manifests: GET and HEAD by tag or digest, PUT (with `?tag=` parameters), DELETE of a tag or
//! of a manifest with all its tags. The bytes served are exactly the bytes pushed.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt as _;
use oci::{Algorithm, Digest, Manifest, Reference, RepoName, Tag};
use serde_json::json;

use super::record::{self, PushEvents};
use super::{CONTENT_DIGEST, Ctx, OCI_SUBJECT, OCI_TAG, respond};
use crate::auth::Action;
use crate::error::{ApiError, ErrorCode};
use crate::gate::{self, ReadCheck};
use crate::store::meta::PutManifest;

/// Tags one push may set with `?tag=`; the spec asks for at least 10.
const MAX_TAG_PARAMS: usize = 100;

fn parse_reference(reference: &str) -> Result<Reference, ApiError> {
    Reference::parse(reference).map_err(ApiError::from_name_error)
}

pub async fn get(
    ctx: &Ctx<'_>,
    name: RepoName,
    reference: &str,
    head: bool,
) -> Result<Response, ApiError> {
    ctx.app.auth.authorize(&ctx.who, &name, Action::Pull)?;
    let reference = parse_reference(reference)?;
    let (repo, r, who) = (name.clone(), reference.clone(), ctx.who.clone());
    let found = ctx
        .app
        .blocking(move |app| {
            let Some(found) = app.meta.manifest(&repo, &r, !head)? else {
                return Ok(None);
            };
            // HEAD always answers: a signer must resolve what it signs. The bytes are gated.
            let check = match &found.content {
                Some(content) if !head => gate::check_manifest(
                    app,
                    &who,
                    &repo,
                    &found.head.digest,
                    &found.head.media_type,
                    content,
                )?,
                _ => ReadCheck::Allow,
            };
            Ok(Some((found, check)))
        })
        .await?;
    let Some((
        crate::store::meta::FoundManifest {
            head: found,
            content,
        },
        check,
    )) = found
    else {
        return Err(not_found(ctx, name, &reference).await);
    };
    let mut headers = vec![
        (header::CONTENT_TYPE, found.media_type),
        (header::CONTENT_LENGTH, found.size.to_string()),
        (CONTENT_DIGEST, found.digest.to_string()),
        (header::ETAG, format!("\"{}\"", found.digest)),
    ];
    match check {
        ReadCheck::Allow => {}
        ReadCheck::Warn(why) => headers.push((header::WARNING, gate::warning(&why))),
        ReadCheck::Deny(e) => return Err(e),
    }
    let body = match content {
        Some(bytes) if !head => Body::from(bytes),
        _ => Body::empty(),
    };
    Ok(respond(StatusCode::OK, &headers, body))
}

/// 404 with the most useful code: the repository or the manifest is unknown.
async fn not_found(ctx: &Ctx<'_>, name: RepoName, reference: &Reference) -> ApiError {
    let repo = name.clone();
    match ctx
        .app
        .blocking(move |app| app.meta.repo_exists(&repo))
        .await
    {
        Ok(false) => ApiError::name_unknown(&name),
        Ok(true) => ApiError::manifest_unknown(reference),
        Err(e) => e,
    }
}

pub async fn put(
    ctx: &Ctx<'_>,
    name: RepoName,
    reference: &str,
    body: Body,
) -> Result<Response, ApiError> {
    ctx.app.auth.authorize(&ctx.who, &name, Action::Push)?;
    let reference = parse_reference(reference)?;
    let mut tags = Vec::new();
    if let Reference::Tag(t) = &reference {
        tags.push(t.clone());
    }
    let mut param_tags = Vec::new();
    for t in ctx.query.all("tag") {
        param_tags.push(Tag::parse(t).map_err(ApiError::from_name_error)?);
    }
    if param_tags.len() > MAX_TAG_PARAMS {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            ErrorCode::TagInvalid,
            format!("at most {MAX_TAG_PARAMS} tag parameters per request"),
        ));
    }
    tags.extend(param_tags.iter().cloned());

    let limit = ctx.app.config.limits.max_manifest_bytes;
    let content = read_limited(body, limit).await?;
    let digest = match &reference {
        Reference::Digest(d) => {
            let actual = Digest::compute(d.algorithm(), &content);
            if actual != *d {
                return Err(ApiError::digest_invalid(
                    "manifest content does not match the digest in the URL",
                )
                .with_detail(json!({ "expected": d.as_str(), "actual": actual.as_str() })));
            }
            actual
        }
        Reference::Tag(_) => Digest::compute(Algorithm::Sha256, &content),
    };
    let content_type = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let manifest = Manifest::parse(content_type, &content)
        .map_err(|e| ApiError::manifest_invalid(e.to_string()))?;
    let subject = manifest.subject.as_ref().map(|s| s.digest.to_string());
    // What the gate decides about after this push: what it signs or attests, or itself.
    let tag_refs: Vec<&Tag> = tags.iter().collect();
    let decide_about = record::attachment(&manifest, &tag_refs)
        .map_or_else(|| digest.clone(), |(signed, _)| signed);
    let events = ctx
        .app
        .ledger
        .is_some()
        .then(|| PushEvents::new(&ctx.who, &name, &digest, &manifest, &reference, &param_tags));

    let (repo, d) = (name.clone(), digest.clone());
    let outcome = ctx
        .app
        .blocking(move |app| app.meta.put_manifest(&repo, &d, &manifest, &content, &tags))
        .await?;
    if let PutManifest::Missing(missing) = outcome {
        let list: Vec<&str> = missing.iter().map(Digest::as_str).collect();
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ManifestBlobUnknown,
            "manifest references blobs or manifests unknown to this repository",
        )
        .with_detail(json!({ "digests": list })));
    }
    if let Some(events) = events {
        record::push(ctx.app, events).await?;
    }
    gate::evaluate(ctx.app, &name, &decide_about).await?;
    let mut headers = vec![
        (header::LOCATION, format!("/v2/{name}/manifests/{digest}")),
        (CONTENT_DIGEST, digest.to_string()),
        (header::CONTENT_LENGTH, "0".to_owned()),
    ];
    if let Some(s) = subject {
        headers.push((OCI_SUBJECT, s));
    }
    for t in &param_tags {
        headers.push((OCI_TAG, t.to_string()));
    }
    Ok(respond(StatusCode::CREATED, &headers, Body::empty()))
}

/// Reads a manifest body, refusing more than `limit` bytes with 413.
async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::ManifestInvalid,
            "manifest too large",
        )
        .with_detail(json!({ "limit": limit }))
    };
    let mut body = body;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::manifest_invalid(format!("request body ended early: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(too_large());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

pub async fn delete(ctx: &Ctx<'_>, name: RepoName, reference: &str) -> Result<Response, ApiError> {
    ctx.app.auth.authorize(&ctx.who, &name, Action::Delete)?;
    let reference = parse_reference(reference)?;
    let (repo, r) = (name.clone(), reference.clone());
    let (deleted, about) = ctx
        .app
        .blocking(move |app| {
            // A signature deleted (or a cosign tag moved off it) can change a decision.
            let about = app.meta.manifest(&repo, &r, true)?.and_then(|m| {
                let parsed = Manifest::parse(Some(&m.head.media_type), &m.content?).ok()?;
                let tags: Vec<Tag> = match &r {
                    Reference::Tag(t) => vec![t.clone()],
                    Reference::Digest(_) => Vec::new(),
                };
                let refs: Vec<&Tag> = tags.iter().collect();
                record::attachment(&parsed, &refs).map(|(signed, _)| signed)
            });
            let deleted = match &r {
                Reference::Tag(t) => app.meta.delete_tag(&repo, t)?,
                Reference::Digest(d) => app.meta.delete_manifest(&repo, d)?,
            };
            Ok((deleted, about))
        })
        .await?;
    if !deleted {
        return Err(not_found(ctx, name, &reference).await);
    }
    // Deleting a tag only untags (the spec's DELETE by tag): the manifest stays, still
    // addressable by digest, so the artifact is not deleted and nothing is recorded.
    if let Reference::Digest(d) = &reference {
        record::deleted(ctx.app, &ctx.who, &name, d).await?;
    }
    if let Some(about) = about {
        gate::evaluate(ctx.app, &name, &about).await?;
    }
    Ok(respond(
        StatusCode::ACCEPTED,
        &[(header::CONTENT_LENGTH, "0".to_owned())],
        Body::empty(),
    ))
}
