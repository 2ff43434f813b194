//! Deletion of tags, manifests and blobs: what goes, what stays, and the 404 (with the right
//! code) for what was never there.

use oci::Algorithm;
use serde_json::json;

use crate::data::{DataSet, Opts, Pushed, check_manifest_response, push_blobs};
use crate::harness::{Registry, check_blob, digest_of, with_query};

const REPO: &str = "conformance/deletes";

/// One image in `REPO`, tagged with `tags`.
async fn image_tagged(registry: &Registry, tags: &[&str]) -> (DataSet, Pushed) {
    let mut d = DataSet::sha256();
    d.image(&Opts::default());
    push_blobs(registry, REPO, &d).await;
    let m = d.manifests[0].clone();
    let mut url = format!("/v2/{REPO}/manifests/{}", m.digest);
    for t in tags {
        url = with_query(&url, "tag", t);
    }
    registry
        .put(url)
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await
        .expect(201);
    (d, m)
}

async fn tags(registry: &Registry) -> serde_json::Value {
    registry
        .get(format!("/v2/{REPO}/tags/list"))
        .await
        .expect(200)
        .json()["tags"]
        .clone()
}

#[tokio::test]
async fn deleting_a_tag_leaves_the_manifest_and_its_other_tags() {
    let registry = Registry::new();
    let (d, m) = image_tagged(&registry, &["one", "two"]).await;
    registry
        .delete(format!("/v2/{REPO}/manifests/one"))
        .await
        .expect(202);
    registry
        .get(format!("/v2/{REPO}/manifests/one"))
        .await
        .expect_error(404, "MANIFEST_UNKNOWN");
    for reference in ["two", m.digest.as_str()] {
        let r = registry
            .get(format!("/v2/{REPO}/manifests/{reference}"))
            .await;
        check_manifest_response(&r, &m, false);
    }
    assert_eq!(tags(&registry).await, json!(["two"]));
    for blob in &d.blobs {
        check_blob(&registry, REPO, &blob.bytes, &blob.digest).await;
    }
}

#[tokio::test]
async fn deleting_a_manifest_by_digest_removes_all_its_tags() {
    let registry = Registry::new();
    let (_, m) = image_tagged(&registry, &["one", "two", "three"]).await;
    registry
        .delete(format!("/v2/{REPO}/manifests/{}", m.digest))
        .await
        .expect(202);
    for reference in ["one", "two", "three", m.digest.as_str()] {
        registry
            .get(format!("/v2/{REPO}/manifests/{reference}"))
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
    }
    assert_eq!(tags(&registry).await, json!([]));
    // Pushed again, it comes back whole.
    let r = registry
        .put(format!("/v2/{REPO}/manifests/one"))
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await
        .expect(201);
    assert_eq!(r.header("docker-content-digest"), Some(m.digest.as_str()));
    assert_eq!(tags(&registry).await, json!(["one"]));
}

#[tokio::test]
async fn deleting_what_is_not_there_is_404_with_the_right_code() {
    let registry = Registry::new();
    let (_, m) = image_tagged(&registry, &["present"]).await;
    let absent = digest_of(Algorithm::Sha256, b"absent");
    let table: &[(String, u16, &str)] = &[
        (
            format!("/v2/{REPO}/manifests/missing"),
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            format!("/v2/{REPO}/manifests/{absent}"),
            404,
            "MANIFEST_UNKNOWN",
        ),
        (format!("/v2/{REPO}/blobs/{absent}"), 404, "BLOB_UNKNOWN"),
        (
            "/v2/conformance/never/manifests/latest".to_owned(),
            404,
            "NAME_UNKNOWN",
        ),
        (
            format!("/v2/conformance/never/manifests/{absent}"),
            404,
            "NAME_UNKNOWN",
        ),
        (
            format!("/v2/conformance/never/blobs/{absent}"),
            404,
            "BLOB_UNKNOWN",
        ),
        (
            format!("/v2/{REPO}/blobs/sha256:nothex"),
            400,
            "DIGEST_INVALID",
        ),
        (format!("/v2/{REPO}/blobs/latest"), 400, "DIGEST_INVALID"),
        (format!("/v2/{REPO}/manifests/-bad"), 400, "TAG_INVALID"),
    ];
    for (url, status, code) in table {
        registry.delete(url).await.expect_error(*status, code);
    }
    // A second delete finds nothing.
    let url = format!("/v2/{REPO}/manifests/{}", m.digest);
    registry.delete(&url).await.expect(202);
    registry
        .delete(&url)
        .await
        .expect_error(404, "MANIFEST_UNKNOWN");
}
