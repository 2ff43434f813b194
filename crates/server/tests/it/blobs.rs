//! The conformance suite's blob tests, for sha256 and for sha512 (pushed without the
//! `digest-algorithm` parameter, as the suite does, and with it): every upload flow, out-of-order
//! chunks, mounts, cancel, the empty and `{}` blobs, and a wrong digest on every flow.

use oci::Algorithm;

use crate::harness::{
    Registry, Upload, check_blob, check_blob_created, delete_blob, digest_of, random_bytes, upload,
    with_query,
};

/// How a blob's digest is chosen and announced.
#[derive(Clone, Copy, Debug)]
struct Variant {
    algorithm: Algorithm,
    /// Added to the POST that opens a session.
    post_query: Option<(&'static str, &'static str)>,
}

const VARIANTS: [Variant; 3] = [
    Variant {
        algorithm: Algorithm::Sha256,
        post_query: None,
    },
    Variant {
        algorithm: Algorithm::Sha512,
        post_query: None,
    },
    Variant {
        algorithm: Algorithm::Sha512,
        post_query: Some(("digest-algorithm", "sha512")),
    },
];

const REPO: &str = "conformance/blobs";
const REPO2: &str = "conformance/other";

/// Three chunks of at least 1024 bytes, the last one short, as the conformance suite sizes them.
const MULTI_CHUNK: usize = 3 * crate::harness::CHUNK_MIN - 5;

fn blob(v: Variant, seed: u64, len: usize) -> (Vec<u8>, String) {
    let bytes = random_bytes(seed, len);
    let digest = digest_of(v.algorithm, &bytes);
    (bytes, digest)
}

#[tokio::test]
async fn every_upload_flow_stores_the_blob() {
    let flows: [(Upload, usize); 6] = [
        (Upload::PostOnly, 512),
        (Upload::PostPut, 512),
        (
            Upload::Chunked {
                last_in_put: false,
                out_of_order: false,
            },
            512,
        ),
        (Upload::Stream, 512),
        (
            Upload::Chunked {
                last_in_put: false,
                out_of_order: false,
            },
            MULTI_CHUNK,
        ),
        (
            Upload::Chunked {
                last_in_put: true,
                out_of_order: false,
            },
            MULTI_CHUNK,
        ),
    ];
    for v in VARIANTS {
        let registry = Registry::new();
        for (i, (how, len)) in flows.into_iter().enumerate() {
            let (bytes, digest) = blob(v, i as u64, len);
            let done = upload(&registry, REPO, how, &bytes, &digest, v.post_query).await;
            check_blob_created(&registry, &done, &bytes, &digest).await;
            check_blob(&registry, REPO, &bytes, &digest).await;
            delete_blob(&registry, REPO, &digest).await;
        }
    }
}

#[tokio::test]
async fn out_of_order_chunks_are_416_and_the_upload_recovers() {
    for v in VARIANTS {
        let registry = Registry::new();
        for (i, last_in_put) in [false, true].into_iter().enumerate() {
            let (bytes, digest) = blob(v, 100 + i as u64, MULTI_CHUNK);
            let how = Upload::Chunked {
                last_in_put,
                out_of_order: true,
            };
            let done = upload(&registry, REPO, how, &bytes, &digest, v.post_query).await;
            check_blob_created(&registry, &done, &bytes, &digest).await;
            check_blob(&registry, REPO, &bytes, &digest).await;
            delete_blob(&registry, REPO, &digest).await;
        }
    }
}

#[tokio::test]
async fn upload_status_reports_what_arrived() {
    let registry = Registry::new();
    let opened = registry
        .post(format!("/v2/{REPO}/blobs/uploads/"))
        .await
        .expect(202);
    let location = opened.location();
    let uuid = opened
        .header("docker-upload-uuid")
        .expect("an upload id")
        .to_owned();
    assert!(location.contains(&uuid), "{opened:?}");
    let status = registry.get(&location).await.expect(204);
    assert_eq!(status.header("range"), Some("0-0"), "{status:?}");
    assert_eq!(status.header("docker-upload-uuid"), Some(uuid.as_str()));
    registry
        .patch(&location)
        .header("content-range", "0-99")
        .body(random_bytes(7, 100))
        .await
        .expect(202)
        .expect_header("range", "0-99");
    registry
        .get(&location)
        .await
        .expect(204)
        .expect_header("range", "0-99")
        .expect_header("location", &location);
}

#[tokio::test]
async fn mount_from_another_repository() {
    for v in VARIANTS {
        let registry = Registry::new();
        let (bytes, digest) = blob(v, 200, 512);
        let pushed = upload(
            &registry,
            REPO2,
            Upload::PostPut,
            &bytes,
            &digest,
            v.post_query,
        )
        .await;
        check_blob_created(&registry, &pushed, &bytes, &digest).await;
        registry
            .head(format!("/v2/{REPO}/blobs/{digest}"))
            .await
            .expect(404);
        let url = with_query(
            &with_query(&format!("/v2/{REPO}/blobs/uploads/"), "mount", &digest),
            "from",
            REPO2,
        );
        let mounted = registry.post(url).await;
        check_blob_created(&registry, &mounted, &bytes, &digest).await;
        check_blob(&registry, REPO, &bytes, &digest).await;
        delete_blob(&registry, REPO, &digest).await;
        // The source keeps its own link.
        check_blob(&registry, REPO2, &bytes, &digest).await;
        delete_blob(&registry, REPO2, &digest).await;
    }
}

#[tokio::test]
async fn mount_without_from_finds_the_blob() {
    for v in VARIANTS {
        let registry = Registry::new();
        let (bytes, digest) = blob(v, 300, 512);
        let pushed = upload(&registry, REPO2, Upload::PostOnly, &bytes, &digest, None).await;
        check_blob_created(&registry, &pushed, &bytes, &digest).await;
        let url = with_query(&format!("/v2/{REPO}/blobs/uploads/"), "mount", &digest);
        let mounted = registry.post(url).await;
        check_blob_created(&registry, &mounted, &bytes, &digest).await;
        check_blob(&registry, REPO, &bytes, &digest).await;
        delete_blob(&registry, REPO, &digest).await;
        delete_blob(&registry, REPO2, &digest).await;
    }
}

#[tokio::test]
async fn mount_of_a_missing_blob_opens_an_upload_instead() {
    for v in VARIANTS {
        let registry = Registry::new();
        let (bytes, digest) = blob(v, 400, 512);
        let url = with_query(
            &with_query(&format!("/v2/{REPO}/blobs/uploads/"), "mount", &digest),
            "from",
            REPO2,
        );
        let opened = registry.post(url).await.expect(202);
        assert!(opened.header("docker-upload-uuid").is_some(), "{opened:?}");
        let done = registry
            .put(with_query(&opened.location(), "digest", &digest))
            .content_type("application/octet-stream")
            .body(bytes.clone())
            .await;
        check_blob_created(&registry, &done, &bytes, &digest).await;
        check_blob(&registry, REPO, &bytes, &digest).await;
        registry
            .head(format!("/v2/{REPO2}/blobs/{digest}"))
            .await
            .expect(404);
        delete_blob(&registry, REPO, &digest).await;
    }
}

#[tokio::test]
async fn a_cancelled_upload_is_unknown_afterwards() {
    let registry = Registry::new();
    let location = registry
        .post(format!("/v2/{REPO}/blobs/uploads/"))
        .await
        .expect(202)
        .location();
    registry
        .patch(&location)
        .header("content-range", "0-9")
        .body(random_bytes(8, 10))
        .await
        .expect(202);
    registry
        .delete(&location)
        .header("content-length", "0")
        .await
        .expect(204);
    registry
        .get(&location)
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    registry
        .patch(&location)
        .body(random_bytes(8, 10))
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    let digest = digest_of(Algorithm::Sha256, &random_bytes(8, 10));
    registry
        .put(with_query(&location, "digest", &digest))
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    registry
        .delete(&location)
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn the_empty_blob_and_the_empty_json_blob() {
    let flows = [
        Upload::PostOnly,
        Upload::PostPut,
        Upload::Stream,
        Upload::Chunked {
            last_in_put: false,
            out_of_order: false,
        },
    ];
    for v in VARIANTS {
        let registry = Registry::new();
        for bytes in [&b""[..], &b"{}"[..]] {
            let digest = digest_of(v.algorithm, bytes);
            for how in flows {
                let done = upload(&registry, REPO, how, bytes, &digest, v.post_query).await;
                check_blob_created(&registry, &done, bytes, &digest).await;
                check_blob(&registry, REPO, bytes, &digest).await;
                delete_blob(&registry, REPO, &digest).await;
            }
        }
    }
}

#[tokio::test]
async fn a_wrong_digest_is_refused_on_every_flow_and_nothing_is_stored() {
    let flows = [
        Upload::PostOnly,
        Upload::PostPut,
        Upload::Chunked {
            last_in_put: false,
            out_of_order: false,
        },
        Upload::Chunked {
            last_in_put: true,
            out_of_order: false,
        },
        Upload::Stream,
    ];
    for v in VARIANTS {
        let registry = Registry::new();
        for (i, how) in flows.into_iter().enumerate() {
            let (mut bytes, claimed) = blob(v, 500 + i as u64, MULTI_CHUNK);
            bytes.extend_from_slice(b"oh no");
            let actual = digest_of(v.algorithm, &bytes);
            upload(&registry, REPO, how, &bytes, &claimed, v.post_query)
                .await
                .expect_error(400, "DIGEST_INVALID");
            for digest in [&claimed, &actual] {
                registry
                    .head(format!("/v2/{REPO}/blobs/{digest}"))
                    .await
                    .expect(404);
            }
        }
        let catalog = registry.get("/v2/_catalog").await.expect(200).json();
        assert_eq!(catalog["repositories"], serde_json::json!([]), "{v:?}");
    }
}

#[tokio::test]
async fn a_blob_in_one_repository_is_not_in_another() {
    let registry = Registry::new();
    let bytes = random_bytes(600, 64);
    let digest = digest_of(Algorithm::Sha256, &bytes);
    crate::harness::push_blob(&registry, REPO, Upload::PostOnly, &bytes, &digest).await;
    registry
        .get(format!("/v2/{REPO2}/blobs/{digest}"))
        .await
        .expect_error(404, "BLOB_UNKNOWN");
    registry
        .delete(format!("/v2/{REPO2}/blobs/{digest}"))
        .await
        .expect_error(404, "BLOB_UNKNOWN");
    check_blob(&registry, REPO, &bytes, &digest).await;
}

#[tokio::test]
async fn the_closing_put_may_carry_the_rest_without_content_range() {
    let registry = Registry::new();
    let bytes = random_bytes(700, 300);
    let digest = digest_of(Algorithm::Sha256, &bytes);
    let location = registry
        .post(format!("/v2/{REPO}/blobs/uploads/"))
        .await
        .expect(202)
        .location();
    let location = registry
        .patch(&location)
        .header("content-range", "0-99")
        .body(bytes[..100].to_vec())
        .await
        .expect(202)
        .location();
    // A PATCH without Content-Range continues where the upload stands.
    let location = registry
        .patch(&location)
        .body(bytes[100..200].to_vec())
        .await
        .expect(202)
        .expect_header("range", "0-199")
        .location();
    let done = registry
        .put(with_query(&location, "digest", &digest))
        .body(bytes[200..].to_vec())
        .await;
    check_blob_created(&registry, &done, &bytes, &digest).await;
}

#[tokio::test]
async fn a_session_is_unknown_under_another_repository() {
    let registry = Registry::new();
    let location = registry
        .post(format!("/v2/{REPO}/blobs/uploads/"))
        .await
        .expect(202)
        .location();
    let elsewhere = location.replace(REPO, REPO2);
    assert_ne!(elsewhere, location);
    registry
        .get(&elsewhere)
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    registry
        .delete(&elsewhere)
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    registry.get(&location).await.expect(204);
}

#[tokio::test]
async fn a_blob_larger_than_one_read_streams_whole_and_in_ranges() {
    // Over 256 KiB the server streams the file in pieces instead of reading it at once.
    const LEN: usize = 1024 * 1024 + 7;
    let registry = Registry::new();
    let bytes = random_bytes(800, LEN);
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let digest = digest_of(algorithm, &bytes);
        let how = Upload::Chunked {
            last_in_put: true,
            out_of_order: false,
        };
        let done = upload(&registry, REPO, how, &bytes, &digest, None).await;
        check_blob_created(&registry, &done, &bytes, &digest).await;
        check_blob(&registry, REPO, &bytes, &digest).await;
        let url = format!("/v2/{REPO}/blobs/{digest}");
        for (start, end) in [(300_000, 700_000), (1, LEN - 2), (LEN - 300_000, LEN - 1)] {
            let r = registry
                .get(&url)
                .header("range", &format!("bytes={start}-{end}"))
                .await
                .expect(206);
            assert!(r.body[..] == bytes[start..=end], "{start}-{end}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_of_one_blob_all_succeed() {
    let registry = Registry::new();
    let bytes = random_bytes(900, 50_000);
    let digest = digest_of(Algorithm::Sha256, &bytes);
    let mut pushes = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (registry, bytes, digest) = (registry.clone(), bytes.clone(), digest.clone());
        let repo = if i % 2 == 0 { REPO } else { REPO2 };
        pushes.spawn(async move {
            let how = Upload::ALL[i % Upload::ALL.len()];
            let done = upload(&registry, repo, how, &bytes, &digest, None).await;
            check_blob_created(&registry, &done, &bytes, &digest).await;
        });
    }
    while let Some(joined) = pushes.join_next().await {
        joined.expect("a push task does not panic");
    }
    for repo in [REPO, REPO2] {
        check_blob(&registry, repo, &bytes, &digest).await;
    }
}
