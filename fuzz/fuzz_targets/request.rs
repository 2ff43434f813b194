//! Fuzzes the server's parsers of request input: the `/v2/` path (`Route::parse`), the `Range`
//! header against a blob size (`parse_range`) and the `Content-Range` of an upload chunk
//! (`parse_content_range`). Input: 8 bytes of blob size (little endian), then the text, which
//! is fed to all three.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::error::ErrorCode;
use server::fuzzing::{RangeSpec, Route, parse_content_range, parse_range};

fuzz_target!(|data: &[u8]| {
    let (size, text) = data.split_at(data.len().min(8));
    let mut size_bytes = [0u8; 8];
    size_bytes[..size.len()].copy_from_slice(size);
    let size = u64::from_le_bytes(size_bytes);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    check_route(text);
    check_range(text, size);
    check_content_range(text);
});

/// A route names exactly the path it was parsed from: printing it back gives the path.
fn check_route(path: &str) {
    let route = match Route::parse(path) {
        Ok(Some(route)) => route,
        Ok(None) => {
            assert!(!path.is_empty() && path != "_catalog", "{path:?}");
            return;
        }
        // The only way a path fails is a bad repository name.
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::NameInvalid, "{path:?}");
            return;
        }
    };
    let segment = |s: &str| assert!(!s.contains('/'), "{path:?}: {s:?} spans segments");
    match &route {
        Route::Base => assert_eq!(path, ""),
        Route::Catalog => assert_eq!(path, "_catalog"),
        Route::Tags(name) => assert_eq!(path, format!("{name}/tags/list")),
        Route::Manifest(name, reference) => {
            segment(reference);
            assert_eq!(path, format!("{name}/manifests/{reference}"));
        }
        Route::Blob(name, digest) => {
            segment(digest);
            assert_eq!(path, format!("{name}/blobs/{digest}"));
            assert_ne!(digest, "uploads", "{path:?} is an upload start");
        }
        Route::UploadStart(name) => {
            let a = format!("{name}/blobs/uploads/");
            assert!(path == a || path == a.trim_end_matches('/'), "{path:?}");
        }
        Route::Upload(name, id) => {
            segment(id);
            assert!(!id.is_empty(), "{path:?}");
            assert_eq!(path, format!("{name}/blobs/uploads/{id}"));
        }
        Route::Referrers(name, digest) => {
            segment(digest);
            assert_eq!(path, format!("{name}/referrers/{digest}"));
        }
    }
    assert_eq!(Route::parse(path).ok(), Some(Some(route)));
}

/// A partial range lies inside the blob; without the header the whole blob is served.
fn check_range(header: &str, size: u64) {
    assert_eq!(parse_range(None, size), RangeSpec::Full);
    match parse_range(Some(header), size) {
        RangeSpec::Partial { start, end } => {
            assert!(
                start <= end && end < size,
                "{header:?} size {size}: {start}-{end}"
            );
        }
        RangeSpec::Unsatisfiable => {
            assert!(header.trim().starts_with("bytes="), "{header:?}");
        }
        RangeSpec::Full => {}
    }
}

/// A chunk range is ordered and written in the header as decimal numbers.
fn check_content_range(header: &str) {
    if let Some((start, end)) = parse_content_range(header) {
        assert!(start <= end, "{header:?}: {start}-{end}");
        let (a, b) = header.trim().rsplit_once('-').expect("a range has a dash");
        assert_eq!(
            a.trim_start_matches(|c: char| !c.is_ascii_digit()).parse(),
            Ok(start)
        );
        assert_eq!(b.parse(), Ok(end));
    }
}
