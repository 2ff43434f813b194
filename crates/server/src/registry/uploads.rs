//! Blob uploads: POST (session, single-request monolithic, or cross-repository mount), PATCH
//! chunks, PUT to finish, GET status, DELETE to cancel. A blob is committed only after its bytes
//! hash to the digest the client claims.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use oci::{Algorithm, Digest, RepoName};
use serde_json::json;

use super::blobs::parse_digest;
use super::{CONTENT_DIGEST, Ctx, HoldsSpool, UPLOAD_UUID, receive, respond};
use crate::App;
use crate::auth::Action;
use crate::error::{ApiError, ErrorCode};
use crate::gate::{self, ReadCheck};
use crate::store::StoreError;
use crate::store::uploads::{Checkout, Session};

pub async fn start(ctx: &Ctx<'_>, name: RepoName, body: Body) -> Result<Response, ApiError> {
    ctx.app.auth.authorize(&ctx.who, &name, Action::Push)?;
    if let Some(mount) = ctx.query.get("mount") {
        let digest = parse_digest(mount)?;
        if let Some(response) = try_mount(ctx, &name, &digest).await? {
            return Ok(response);
        }
        // Not mountable: fall back to an ordinary session, as the spec says.
    } else if let Some(d) = ctx.query.get("digest") {
        let digest = parse_digest(d)?;
        return monolithic(ctx, name, digest, body).await;
    }
    let algorithm = match ctx.query.get("digest-algorithm") {
        None => Algorithm::Sha256,
        Some(a) => Algorithm::parse(a).map_err(|e| ApiError::digest_invalid(e.to_string()))?,
    };
    let (repo, owner) = (name.to_string(), ctx.who.name().to_owned());
    let session = ctx
        .app
        .blocking(move |app| app.uploads.create(&repo, &owner, algorithm))
        .await?;
    Ok(session_response(StatusCode::ACCEPTED, &name, &session))
}

/// Links `digest` into `name` from `from` (or, without `from`, from any repository the caller
/// may pull from). `None` if that is not possible.
async fn try_mount(
    ctx: &Ctx<'_>,
    name: &RepoName,
    digest: &Digest,
) -> Result<Option<Response>, ApiError> {
    let sources: Vec<RepoName> = match ctx.query.get("from") {
        Some(from) => match RepoName::parse(from) {
            Ok(r) => vec![r],
            Err(_) => return Ok(None),
        },
        None => {
            let d = digest.clone();
            let names = ctx
                .app
                .blocking(move |app| app.meta.repos_with_blob(&d))
                .await?;
            names
                .iter()
                .filter_map(|n| RepoName::parse(n).ok())
                .collect()
        }
    };
    let readable: Vec<RepoName> = sources
        .into_iter()
        .filter(|s| ctx.app.auth.can(&ctx.who, s, Action::Pull))
        .collect();
    if readable.is_empty() {
        return Ok(None);
    }
    let (target, d, who) = (name.clone(), digest.clone(), ctx.who.clone());
    let mounted = ctx
        .app
        .blocking(move |app| {
            for source in readable {
                if app.meta.blob_in_repo(&source, &d)?.is_none() {
                    continue;
                }
                // A mount reads the blob: one the gate would refuse this caller in its
                // repository (a quarantined layer) cannot be mounted elsewhere to be read there.
                if let ReadCheck::Deny(_) = gate::check_blob(app, &who, &source, &d)? {
                    continue;
                }
                return app.meta.mount_blob(&target, &d, || app.blobs.exists(&d));
            }
            Ok(None)
        })
        .await?;
    Ok(mounted.map(|_| created(name, digest)))
}

/// A single POST carrying the whole blob.
async fn monolithic(
    ctx: &Ctx<'_>,
    name: RepoName,
    digest: Digest,
    body: Body,
) -> Result<Response, ApiError> {
    let spool = ctx.app.uploads.monolithic_spool(digest.algorithm());
    let (mut spool, appended) = receive(spool, body, None).await?;
    match appended {
        Ok(a) => spool.apply(a),
        Err(e) => {
            let _ = ctx.app.blocking(move |_| spool.done()).await;
            return Err(e);
        }
    }
    commit(ctx.app, &name, &digest, spool).await?;
    Ok(created(&name, &digest))
}

/// Verifies the spooled bytes against `digest` and, if they match, installs the blob durably
/// and links it into the repository. Either way the holder is done afterwards (a session ends,
/// a spool's leftovers go), all in one trip to a blocking thread.
async fn commit<H: HoldsSpool>(
    app: &Arc<App>,
    name: &RepoName,
    digest: &Digest,
    holder: H,
) -> Result<(), ApiError> {
    let (repo, want) = (name.clone(), digest.clone());
    let outcome = app
        .blocking(move |app| {
            let spool = holder.spool();
            let installed = (|| -> Result<Result<(), Digest>, StoreError> {
                let actual = spool.digest(want.algorithm())?;
                if actual != want {
                    return Ok(Err(actual));
                }
                spool.sync()?;
                let path = spool.path().to_owned();
                app.meta.commit_blob(&repo, &want, spool.size(), || {
                    app.blobs.install(&path, &want)
                })?;
                Ok(Ok(()))
            })();
            let released = holder.done();
            match (installed, released) {
                (Err(e), _) | (Ok(_), Err(e)) => Err(e),
                (Ok(outcome), Ok(())) => Ok(outcome),
            }
        })
        .await?;
    outcome.map_err(|actual| {
        ApiError::digest_invalid("uploaded content does not match the digest")
            .with_detail(json!({ "expected": digest.as_str(), "actual": actual.as_str() }))
    })
}

fn created(name: &RepoName, digest: &Digest) -> Response {
    respond(
        StatusCode::CREATED,
        &[
            (header::LOCATION, format!("/v2/{name}/blobs/{digest}")),
            (CONTENT_DIGEST, digest.to_string()),
            (header::CONTENT_LENGTH, "0".to_owned()),
        ],
        Body::empty(),
    )
}

fn location(name: &RepoName, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// `Range: 0-<last byte>`; `0-0` for an empty upload, as Distribution reports it.
fn range_header(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

fn session_headers(name: &RepoName, session: &Session) -> Vec<(HeaderName, String)> {
    vec![
        (header::LOCATION, location(name, &session.id)),
        (header::RANGE, range_header(session.spool.size())),
        (UPLOAD_UUID, session.id.clone()),
        (header::CONTENT_LENGTH, "0".to_owned()),
    ]
}

fn session_response(status: StatusCode, name: &RepoName, session: &Session) -> Response {
    respond(status, &session_headers(name, session), Body::empty())
}

/// Checks out a session this caller owns in this repository.
async fn checkout(ctx: &Ctx<'_>, name: &RepoName, id: &str) -> Result<Session, ApiError> {
    ctx.app.auth.authorize(&ctx.who, name, Action::Push)?;
    let checked = match ctx.app.uploads.checkout_held(id) {
        Some(c) => c,
        None => {
            let id = id.to_owned();
            ctx.app
                .blocking(move |app| app.uploads.checkout(&id))
                .await?
        }
    };
    let session = match checked {
        Checkout::Ready(s) => *s,
        Checkout::Busy => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::BlobUploadInvalid,
                "another request is writing to this upload",
            ));
        }
        Checkout::Unknown => return Err(ApiError::upload_unknown()),
    };
    let owner_ok = session.info.owner == ctx.who.name() || ctx.app.auth.is_admin(&ctx.who);
    if session.info.repo != name.as_str() || !owner_ok {
        // Someone else's session looks exactly like no session.
        return Err(ApiError::upload_unknown());
    }
    Ok(session)
}

pub async fn status(ctx: &Ctx<'_>, name: RepoName, id: &str) -> Result<Response, ApiError> {
    let session = checkout(ctx, &name, id).await?;
    Ok(session_response(StatusCode::NO_CONTENT, &name, &session))
}

/// A chunk's declared range, from `Content-Range: <start>-<end>`.
fn chunk_range(ctx: &Ctx<'_>) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(value) = ctx.headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let text = value.to_str().ok();
    text.and_then(parse_content_range)
        .map(Some)
        .ok_or_else(|| ApiError::upload_invalid("Content-Range must be <start>-<end>"))
}

/// Parses an upload chunk's `Content-Range` value: `<start>-<end>`, inclusive, start <= end.
/// The spec's form is bare; an HTTP-style `bytes ` or `bytes=` prefix is tolerated.
pub fn parse_content_range(text: &str) -> Option<(u64, u64)> {
    let text = text.trim();
    let text = text
        .strip_prefix("bytes=")
        .or_else(|| text.strip_prefix("bytes "))
        .unwrap_or(text);
    let (a, b) = text.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    let (a, b) = (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?);
    // The chunk's length, `b - a + 1`, must fit in a u64.
    (a <= b && b < u64::MAX).then_some((a, b))
}

fn declared_length(ctx: &Ctx<'_>) -> Option<u64> {
    ctx.headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Appends the request body to the session. On a range that does not continue the upload the
/// session is untouched and the error is 416 with the current range.
async fn append_chunk(
    ctx: &Ctx<'_>,
    name: &RepoName,
    session: Session,
    body: Body,
) -> Result<Session, ApiError> {
    let range = chunk_range(ctx)?;
    let size = session.spool.size();
    if let Some((start, end)) = range {
        if start != size {
            let mut err = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::BlobUploadInvalid,
                "chunk does not start where the upload ends",
            )
            .with_detail(json!({ "offset": size }));
            for (h, v) in session_headers(name, &session) {
                if h != header::CONTENT_LENGTH
                    && let Ok(v) = HeaderValue::from_str(&v)
                {
                    err = err.with_header(h, v);
                }
            }
            return Err(err);
        }
        if let Some(len) = declared_length(ctx)
            && len != end - start + 1
        {
            return Err(ApiError::size_invalid(
                "Content-Length does not match Content-Range",
            ));
        }
    }
    let expected = range.map(|(start, end)| end - start + 1);
    let (mut session, appended) = receive(session, body, expected).await?;
    session.spool.apply(appended?);
    Ok(session)
}

pub async fn patch(
    ctx: &Ctx<'_>,
    name: RepoName,
    id: &str,
    body: Body,
) -> Result<Response, ApiError> {
    let session = checkout(ctx, &name, id).await?;
    let session = append_chunk(ctx, &name, session, body).await?;
    Ok(session_response(StatusCode::ACCEPTED, &name, &session))
}

pub async fn put(
    ctx: &Ctx<'_>,
    name: RepoName,
    id: &str,
    body: Body,
) -> Result<Response, ApiError> {
    let digest = ctx.query.get("digest").ok_or_else(|| {
        ApiError::digest_invalid("the digest query parameter is required to finish an upload")
    })?;
    let digest = parse_digest(digest)?;
    let session = checkout(ctx, &name, id).await?;
    let session = append_chunk(ctx, &name, session, body).await?;
    // Whatever the outcome, a finished PUT ends the session: its bytes are installed or wrong.
    commit(ctx.app, &name, &digest, session).await?;
    Ok(created(&name, &digest))
}

pub async fn cancel(ctx: &Ctx<'_>, name: RepoName, id: &str) -> Result<Response, ApiError> {
    let session = checkout(ctx, &name, id).await?;
    ctx.app.blocking(move |_| session.finish()).await?;
    Ok(respond(StatusCode::NO_CONTENT, &[], Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_ranges() {
        let table: &[(&str, Option<(u64, u64)>)] = &[
            ("0-99", Some((0, 99))),
            ("100-100", Some((100, 100))),
            ("bytes=0-1", Some((0, 1))),
            ("bytes 0-1", Some((0, 1))),
            ("5-4", None),
            ("-5", None),
            ("5-", None),
            ("+1-2", None),
            ("a-b", None),
            ("0-99999999999999999999999", None),
            ("0-18446744073709551615", None),
            (
                "18446744073709551614-18446744073709551614",
                Some((u64::MAX - 1, u64::MAX - 1)),
            ),
            ("", None),
        ];
        for (input, want) in table {
            assert_eq!(parse_content_range(input), *want, "{input:?}");
        }
    }
}
