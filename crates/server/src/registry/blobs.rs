//! Blobs: GET (with `Range`), HEAD and DELETE. Files are read on a blocking thread and streamed
//! through a small bounded channel, so memory per download is a few chunks.

use std::io::{Read, Seek, SeekFrom};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use oci::{Digest, RepoName};
use serde_json::json;
use tokio::sync::mpsc;

use super::{CONTENT_DIGEST, Ctx, respond};
use crate::auth::Action;
use crate::error::{ApiError, ErrorCode};
use crate::gate::{self, ReadCheck};
use crate::store::StoreError;

/// Blobs up to this size are read in one go; larger ones stream in chunks of this size.
const CHUNK: usize = 64 * 1024;
const STREAM_QUEUE: usize = 16;

pub(super) fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    Digest::parse(s).map_err(|e| ApiError::digest_invalid(e.to_string()))
}

pub async fn get(
    ctx: &Ctx<'_>,
    name: RepoName,
    digest: &str,
    head: bool,
) -> Result<Response, ApiError> {
    ctx.app.auth.authorize(&ctx.who, &name, Action::Pull)?;
    let digest = parse_digest(digest)?;
    let (repo, d) = (name.clone(), digest.clone());
    let pusher = ctx.app.auth.can(&ctx.who, &name, Action::Push);
    let grace = ctx.app.config.limits.gc_grace.as_secs() as i64;
    let who = ctx.who.clone();
    let (size, check) = ctx
        .app
        .blocking(move |app| {
            let size = app.meta.blob_in_repo(&repo, &d)?;
            if size.is_some() && head && pusher {
                // A pusher probing a blob will reference it soon: keep it out of GC's reach.
                app.meta.touch_blob(&repo, &d, grace / 2)?;
            }
            // HEAD says only that it exists; the bytes are gated.
            let check = if size.is_some() && !head {
                gate::check_blob(app, &who, &repo, &d)?
            } else {
                ReadCheck::Allow
            };
            Ok((size, check))
        })
        .await?;
    let size = size.ok_or_else(|| ApiError::blob_unknown(&digest))?;

    let mut headers = vec![
        (CONTENT_DIGEST, digest.to_string()),
        (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
        (header::ETAG, format!("\"{digest}\"")),
    ];
    match check {
        ReadCheck::Allow => {}
        ReadCheck::Warn(why) => headers.push((header::WARNING, gate::warning(&why))),
        ReadCheck::Deny(e) => return Err(e),
    }
    if head {
        headers.push((header::CONTENT_LENGTH, size.to_string()));
        return Ok(respond(StatusCode::OK, &headers, Body::empty()));
    }
    let range = ctx.headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, len) = match parse_range(range, size) {
        RangeSpec::Full => (StatusCode::OK, 0, size),
        RangeSpec::Partial { start, end } => {
            headers.push((header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}")));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeSpec::Unsatisfiable => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::SizeInvalid,
                "requested range not satisfiable",
            )
            .with_detail(json!({ "size": size }))
            .with_header(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}"))
                    .unwrap_or(HeaderValue::from_static("bytes */0")),
            ));
        }
    };
    headers.push((header::CONTENT_LENGTH, len.to_string()));
    let body = open_body(ctx, &digest, start, len).await?;
    Ok(respond(status, &headers, body))
}

/// Opens the blob file and returns a body of `len` bytes from `start`.
async fn open_body(ctx: &Ctx<'_>, digest: &Digest, start: u64, len: u64) -> Result<Body, ApiError> {
    let d = digest.clone();
    let opened = ctx
        .app
        .blocking(move |app| {
            let path = app.blobs.path(&d);
            let mut file = match app.blobs.open_blob(&d) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StoreError::io("open", path)(e)),
            };
            if start > 0 {
                file.seek(SeekFrom::Start(start))
                    .map_err(StoreError::io("seek", &path))?;
            }
            if len <= CHUNK as u64 {
                let mut buf = Vec::with_capacity(len as usize);
                file.take(len)
                    .read_to_end(&mut buf)
                    .map_err(StoreError::io("read", &path))?;
                return Ok(Some(Ok(Bytes::from(buf))));
            }
            Ok(Some(Err((file, path))))
        })
        .await?;
    match opened {
        // The row says the repository has the blob but the file is gone: report it unknown
        // rather than fail, and say so in the log.
        None => {
            tracing::warn!(%digest, "blob row without file");
            Err(ApiError::blob_unknown(digest))
        }
        Some(Ok(bytes)) => Ok(Body::from(bytes)),
        Some(Err((file, path))) => Ok(stream_file(file, path, len)),
    }
}

fn stream_file(file: std::fs::File, path: std::path::PathBuf, len: u64) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(STREAM_QUEUE);
    tokio::task::spawn_blocking(move || {
        let mut file = file.take(len);
        loop {
            let mut buf = vec![0u8; CHUNK];
            let mut filled = 0;
            // Fill whole chunks: fewer, larger frames on the wire.
            while filled < CHUNK {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        tracing::error!(path = %path.display(), error = %e, "blob read failed mid-stream");
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
            if filled == 0 {
                return;
            }
            buf.truncate(filled);
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return; // client went away
            }
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

#[derive(Debug, PartialEq, Eq)]
pub enum RangeSpec {
    Full,
    /// Inclusive byte range.
    Partial {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

/// RFC 9110 single byte ranges. Multiple ranges and other units are ignored (the whole blob is
/// served, as the RFC allows); a reversed or out-of-bounds range is unsatisfiable.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeSpec {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    // RFC 9110: digits only (Rust's integer parser would also take a sign).
    let parse = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match parse(last) {
            None => RangeSpec::Full,
            Some(0) => RangeSpec::Unsatisfiable,
            Some(_) if size == 0 => RangeSpec::Unsatisfiable,
            Some(n) => RangeSpec::Partial {
                start: size.saturating_sub(n),
                end: size - 1,
            },
        },
        // bytes=A-
        (false, true) => match parse(first) {
            Some(a) if a < size => RangeSpec::Partial {
                start: a,
                end: size - 1,
            },
            Some(_) => RangeSpec::Unsatisfiable,
            None => RangeSpec::Full,
        },
        // bytes=A-B
        (false, false) => match (parse(first), parse(last)) {
            (Some(a), Some(b)) if a <= b && a < size => RangeSpec::Partial {
                start: a,
                end: b.min(size - 1),
            },
            (Some(_), Some(_)) => RangeSpec::Unsatisfiable,
            _ => RangeSpec::Full,
        },
        (true, true) => RangeSpec::Full,
    }
}

pub async fn delete(ctx: &Ctx<'_>, name: RepoName, digest: &str) -> Result<Response, ApiError> {
    ctx.app.auth.authorize(&ctx.who, &name, Action::Delete)?;
    let digest = parse_digest(digest)?;
    let d = digest.clone();
    let deleted = ctx
        .app
        .blocking(move |app| app.meta.delete_blob_link(&name, &d))
        .await?;
    if !deleted {
        return Err(ApiError::blob_unknown(&digest));
    }
    Ok(respond(
        StatusCode::ACCEPTED,
        &[(header::CONTENT_LENGTH, "0".to_owned())],
        Body::empty(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeSpec::*;
        let size = 2048;
        let table: &[(Option<&str>, RangeSpec)] = &[
            (None, Full),
            (
                Some("bytes=500-1499"),
                Partial {
                    start: 500,
                    end: 1499,
                },
            ),
            (
                Some("bytes=500-"),
                Partial {
                    start: 500,
                    end: 2047,
                },
            ),
            (
                Some("bytes=-500"),
                Partial {
                    start: 1548,
                    end: 2047,
                },
            ),
            (
                Some("bytes=-5000"),
                Partial {
                    start: 0,
                    end: 2047,
                },
            ),
            (
                Some("bytes=2000-5000"),
                Partial {
                    start: 2000,
                    end: 2047,
                },
            ),
            (Some("bytes=500-0"), Unsatisfiable),
            (Some("bytes=5000-10000"), Unsatisfiable),
            (Some("bytes=2048-"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=0-1,5-6"), Full),
            (Some("items=0-1"), Full),
            (Some("bytes=x-y"), Full),
            (Some("bytes=-"), Full),
            (Some("bytes=+0-+5"), Full),
            (Some("bytes=-+5"), Full),
        ];
        for (h, want) in table {
            assert_eq!(parse_range(*h, size), *want, "{h:?}");
        }
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
    }
}
