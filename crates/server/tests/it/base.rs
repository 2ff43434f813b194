//! The first things a client asks: `/v2/` itself, an empty repository, and the server's own
//! endpoints outside `/v2`.

use serde_json::json;

use crate::data::referrers;
use crate::harness::{Registry, digest_of, random_bytes};

#[tokio::test]
async fn ping_answers_200_with_the_api_version() {
    let registry = Registry::new();
    for url in ["/v2/", "/v2"] {
        let r = registry.get(url).await.expect(200);
        assert_eq!(r.json(), json!({}));
        registry.head(url).await.expect(200);
    }
}

#[tokio::test]
async fn an_empty_repository_has_no_tags_and_no_referrers() {
    let registry = Registry::new();
    let tags = registry.get("/v2/conformance/empty/tags/list").await;
    match tags.status.as_u16() {
        200 => assert_eq!(tags.json()["tags"], json!([])),
        _ => {
            tags.expect_error(404, "NAME_UNKNOWN");
        }
    }
    let unknown = digest_of(oci::Algorithm::Sha256, &random_bytes(1, 32));
    let listed = referrers(
        &registry,
        &format!("/v2/conformance/empty/referrers/{unknown}"),
    )
    .await;
    assert_eq!(listed.json()["manifests"], json!([]));
}

#[tokio::test]
async fn nothing_is_there_before_it_is_pushed() {
    let registry = Registry::new();
    let digest = digest_of(oci::Algorithm::Sha256, b"never pushed");
    registry
        .get(format!("/v2/conformance/nothing/blobs/{digest}"))
        .await
        .expect_error(404, "BLOB_UNKNOWN");
    registry
        .head(format!("/v2/conformance/nothing/blobs/{digest}"))
        .await
        .expect(404);
    for reference in ["latest", digest.as_str()] {
        registry
            .get(format!("/v2/conformance/nothing/manifests/{reference}"))
            .await
            .expect_error(404, "NAME_UNKNOWN");
    }
}

#[tokio::test]
async fn healthz_is_200_and_unknown_paths_are_404() {
    let registry = Registry::new();
    let r = registry.get("/healthz").await.expect(200);
    assert_eq!(&r.body[..], b"ok\n");
    for path in ["/", "/v1/", "/nope", "/v2/just-a-name"] {
        registry.get(path).await.expect(404);
    }
}
