//! `Range` requests on a 2048-byte blob, as the conformance suite sends them: each answer is
//! either a 206 with exactly the asked bytes or a 416 naming the blob's size.

use oci::Algorithm;

use crate::harness::{Registry, Upload, digest_of, push_blob, random_bytes};

const SIZE: usize = 2048;

/// What a range request must get back.
enum Want {
    /// 206 with these bytes of the blob (start, end inclusive).
    Partial(usize, usize),
    /// 416 with `Content-Range: bytes */<size>`.
    Unsatisfiable,
}

#[tokio::test]
async fn byte_ranges_of_a_blob() {
    let table: &[(&str, Want)] = &[
        ("bytes=500-1499", Want::Partial(500, 1499)),
        ("bytes=500-", Want::Partial(500, SIZE - 1)),
        ("bytes=-500", Want::Partial(SIZE - 500, SIZE - 1)),
        // The end is past the blob: clamped to its last byte.
        ("bytes=2000-5000", Want::Partial(2000, SIZE - 1)),
        ("bytes=0-0", Want::Partial(0, 0)),
        ("bytes=2047-2047", Want::Partial(2047, 2047)),
        ("bytes=500-0", Want::Unsatisfiable),
        ("bytes=5000-10000", Want::Unsatisfiable),
        ("bytes=2048-", Want::Unsatisfiable),
    ];
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let registry = Registry::new();
        let bytes = random_bytes(2048, SIZE);
        let digest = digest_of(algorithm, &bytes);
        push_blob(
            &registry,
            "conformance/ranges",
            Upload::PostPut,
            &bytes,
            &digest,
        )
        .await;
        let url = format!("/v2/conformance/ranges/blobs/{digest}");
        for (range, want) in table {
            let r = registry.get(&url).header("range", range).await;
            match *want {
                Want::Partial(start, end) => {
                    let r = r.expect(206);
                    assert!(r.body[..] == bytes[start..=end], "{range}: {r:?}");
                    let length = (end - start + 1).to_string();
                    assert_eq!(r.header("content-length"), Some(length.as_str()), "{range}");
                    let content_range = format!("bytes {start}-{end}/{SIZE}");
                    assert_eq!(
                        r.header("content-range"),
                        Some(content_range.as_str()),
                        "{range}"
                    );
                    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
                }
                Want::Unsatisfiable => {
                    let r = r.expect(416);
                    let content_range = format!("bytes */{SIZE}");
                    assert_eq!(
                        r.header("content-range"),
                        Some(content_range.as_str()),
                        "{range}: {r:?}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_range_the_server_does_not_interpret_gets_the_whole_blob() {
    let registry = Registry::new();
    let bytes = random_bytes(99, SIZE);
    let digest = digest_of(Algorithm::Sha256, &bytes);
    push_blob(
        &registry,
        "conformance/ranges",
        Upload::PostOnly,
        &bytes,
        &digest,
    )
    .await;
    let url = format!("/v2/conformance/ranges/blobs/{digest}");
    for range in ["items=0-10", "bytes=0-1,5-6", "bytes=x-y"] {
        let r = registry.get(&url).header("range", range).await.expect(200);
        assert!(r.body == bytes, "{range}");
    }
}
