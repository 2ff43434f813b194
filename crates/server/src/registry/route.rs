//! Parses a `/v2/...` path into a route. Repository names contain `/`, so the path is read from
//! the right: the last segments name the endpoint and everything before them is the name.

use oci::RepoName;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags(RepoName),
    /// `/v2/<name>/manifests/<reference>`
    Manifest(RepoName, String),
    /// `/v2/<name>/blobs/<digest>`
    Blob(RepoName, String),
    /// `/v2/<name>/blobs/uploads/`
    UploadStart(RepoName),
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload(RepoName, String),
    /// `/v2/<name>/referrers/<digest>`
    Referrers(RepoName, String),
}

impl Route {
    /// `path` is everything after `/v2/`. `Ok(None)` means no endpoint has this shape.
    pub fn parse(path: &str) -> Result<Option<Route>, ApiError> {
        if path.is_empty() {
            return Ok(Some(Route::Base));
        }
        if path == "_catalog" {
            return Ok(Some(Route::Catalog));
        }
        let name = |n: &str| RepoName::parse(n).map_err(ApiError::from_name_error);
        // `<name>/blobs/uploads/` (trailing slash, as clients send it) or without the slash.
        for suffix in ["/blobs/uploads/", "/blobs/uploads"] {
            if let Some(n) = path.strip_suffix(suffix) {
                return Ok(Some(Route::UploadStart(name(n)?)));
            }
        }
        let (rest, last) = match path.rsplit_once('/') {
            Some(split) => split,
            None => return Ok(None),
        };
        let (rest2, kind) = match rest.rsplit_once('/') {
            Some(split) => split,
            None => return Ok(None),
        };
        let route = match kind {
            "manifests" => Route::Manifest(name(rest2)?, last.to_owned()),
            "referrers" => Route::Referrers(name(rest2)?, last.to_owned()),
            "tags" if last == "list" => Route::Tags(name(rest2)?),
            "blobs" => Route::Blob(name(rest2)?, last.to_owned()),
            "uploads" => match rest2.strip_suffix("/blobs") {
                Some(n) => Route::Upload(name(n)?, last.to_owned()),
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        Ok(Some(route))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(p: &str) -> Option<Route> {
        Route::parse(p).unwrap()
    }

    fn n(s: &str) -> RepoName {
        RepoName::parse(s).unwrap()
    }

    #[test]
    fn routes() {
        assert_eq!(parse(""), Some(Route::Base));
        assert_eq!(parse("_catalog"), Some(Route::Catalog));
        assert_eq!(parse("a/b/tags/list"), Some(Route::Tags(n("a/b"))));
        assert_eq!(
            parse("a/manifests/latest"),
            Some(Route::Manifest(n("a"), "latest".into()))
        );
        // Endpoint words are fine as name components.
        assert_eq!(
            parse("manifests/blobs/manifests/v1"),
            Some(Route::Manifest(n("manifests/blobs"), "v1".into()))
        );
        assert_eq!(
            parse("a/blobs/sha256:00"),
            Some(Route::Blob(n("a"), "sha256:00".into()))
        );
        assert_eq!(parse("a/blobs/uploads/"), Some(Route::UploadStart(n("a"))));
        assert_eq!(parse("a/blobs/uploads"), Some(Route::UploadStart(n("a"))));
        assert_eq!(
            parse("a/b/blobs/uploads/abc"),
            Some(Route::Upload(n("a/b"), "abc".into()))
        );
        assert_eq!(
            parse("blobs/uploads/blobs/uploads/"),
            Some(Route::UploadStart(n("blobs/uploads")))
        );
        assert_eq!(
            parse("a/referrers/sha256:00"),
            Some(Route::Referrers(n("a"), "sha256:00".into()))
        );
        assert_eq!(parse("a"), None);
        assert_eq!(parse("a/b"), None);
        assert_eq!(parse("a/tags/other"), None);
        assert_eq!(parse("a/nope/x"), None);
    }

    #[test]
    fn bad_names_are_name_invalid() {
        for p in [
            "A/manifests/x",
            "/manifests/x",
            "a//b/tags/list",
            "a/../b/blobs/uploads/",
        ] {
            let err = Route::parse(p).unwrap_err();
            assert_eq!(err.code(), crate::error::ErrorCode::NameInvalid, "{p}");
        }
    }
}
