//! Manifest pushes the registry must refuse or handle specially: size limits, wrong digests,
//! missing references, schema 1, Content-Type disagreements, `?tag=` parameters, and re-tagging.

use oci::{Algorithm, media_type};
use serde_json::json;

use crate::data::{
    DataSet, Opts, Pushed, check_manifest_created, check_manifest_response, push_blobs,
};
use crate::harness::{Registry, digest_of, with_query};

const REPO: &str = "conformance/manifests";

/// A one-image data set whose blobs are already in `REPO`; its manifest is not pushed.
async fn image_with_blobs(registry: &Registry, opts: &Opts) -> (DataSet, Pushed) {
    let mut d = DataSet::sha256();
    d.image(opts);
    push_blobs(registry, REPO, &d).await;
    let m = d.manifests[0].clone();
    (d, m)
}

async fn put(registry: &Registry, reference: &str, m: &Pushed) -> crate::harness::Response {
    registry
        .put(format!("/v2/{REPO}/manifests/{reference}"))
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await
}

#[tokio::test]
async fn a_manifest_over_the_limit_is_413_and_one_at_the_limit_is_accepted() {
    // The default limit: 4 MiB.
    let registry = Registry::new();
    let mut opts = Opts::default();
    for i in 0..420 {
        opts = opts.annotation(&format!("large-annotation-{i}"), &"A".repeat(10_000));
    }
    let (_, m) = image_with_blobs(&registry, &opts).await;
    assert!(m.bytes.len() > oci::DEFAULT_MAX_MANIFEST_BYTES);
    put(&registry, "too-large", &m).await.expect(413);
    registry
        .get(format!("/v2/{REPO}/manifests/too-large"))
        .await
        .expect_error(404, "MANIFEST_UNKNOWN");

    // A configured limit holds to the byte.
    let mut d = DataSet::sha256();
    d.image(&Opts::default());
    let size = d.manifests[0].bytes.len();
    for (limit, accepted) in [(size, true), (size - 1, false)] {
        let registry = Registry::with(|c| c.limits.max_manifest_bytes = limit);
        push_blobs(&registry, REPO, &d).await;
        let m = &d.manifests[0];
        let r = put(&registry, &m.digest, m).await;
        if accepted {
            check_manifest_created(&registry, &r, m).await;
        } else {
            r.expect(413);
        }
    }
}

#[tokio::test]
async fn a_digest_that_is_not_a_digest_is_400() {
    let registry = Registry::new();
    let (_, m) = image_with_blobs(&registry, &Opts::default()).await;
    put(&registry, "sha256:baddigeststring", &m)
        .await
        .expect_error(400, "DIGEST_INVALID");
    let got = registry
        .get(format!("/v2/{REPO}/manifests/sha256:baddigeststring"))
        .await;
    assert!(matches!(got.status.as_u16(), 400 | 404), "{got:?}");
}

#[tokio::test]
async fn content_that_does_not_match_the_digest_is_400_and_not_stored() {
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let registry = Registry::new();
        let mut d = DataSet::new(algorithm);
        d.image(&Opts::default());
        push_blobs(&registry, REPO, &d).await;
        let m = &d.manifests[0];
        let mut padded = m.bytes.clone();
        padded.extend_from_slice(b"  ");
        registry
            .put(format!("/v2/{REPO}/manifests/{}", m.digest))
            .content_type(&m.media_type)
            .body(padded.clone())
            .await
            .expect_error(400, "DIGEST_INVALID");
        for digest in [m.digest.clone(), digest_of(algorithm, &padded)] {
            registry
                .head(format!("/v2/{REPO}/manifests/{digest}"))
                .await
                .expect(404);
        }
    }
}

#[tokio::test]
async fn a_missing_manifest_is_404_by_tag_and_by_digest() {
    let registry = Registry::new();
    let (_, m) = image_with_blobs(&registry, &Opts::default()).await;
    put(&registry, "present", &m).await.expect(201);
    let absent = digest_of(Algorithm::Sha256, b"some other manifest");
    for reference in ["missing-tag", absent.as_str()] {
        let url = format!("/v2/{REPO}/manifests/{reference}");
        registry
            .get(&url)
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        registry.head(&url).await.expect(404);
    }
}

#[tokio::test]
async fn references_to_content_the_repository_lacks_are_manifest_blob_unknown() {
    let registry = Registry::new();
    // An image whose first layer was never pushed (the conformance suite's sparse image).
    let mut d = DataSet::sha256();
    d.image(&Opts::default());
    let missing_layer = d.blobs.remove(0);
    push_blobs(&registry, REPO, &d).await;
    let m = d.manifests[0].clone();
    let r = put(&registry, "sparse-image", &m)
        .await
        .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
    let detail = r.json()["errors"][0]["detail"].to_string();
    assert!(detail.contains(&missing_layer.digest), "{r:?}");
    registry
        .head(format!("/v2/{REPO}/manifests/{}", m.digest))
        .await
        .expect(404);

    // An index listing an image that is there and one that is not.
    let mut d = DataSet::sha256();
    let present = d.image(&Opts::default());
    push_blobs(&registry, REPO, &d).await;
    let image = d.manifests[0].clone();
    put(&registry, &image.digest, &image).await.expect(201);
    let absent = json!({
        "mediaType": media_type::OCI_MANIFEST,
        "digest": digest_of(Algorithm::Sha256, b"not pushed"),
        "size": 1024,
    });
    d.index(&[(present, None), (absent, None)], &Opts::default());
    let index = d.manifests[1].clone();
    put(&registry, "sparse-index", &index)
        .await
        .expect_error(400, "MANIFEST_BLOB_UNKNOWN");

    // Blobs of another repository do not count.
    let mut d = DataSet::sha256().seeded(1000);
    d.image(&Opts::default());
    push_blobs(&registry, "conformance/elsewhere", &d).await;
    put(&registry, "elsewhere", &d.manifests[0])
        .await
        .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
}

#[tokio::test]
async fn docker_schema1_is_manifest_invalid() {
    let registry = Registry::new();
    let schema1 = json!({
        "schemaVersion": 1,
        "name": "conformance/manifests",
        "tag": "old",
        "architecture": "amd64",
        "fsLayers": [{ "blobSum": digest_of(Algorithm::Sha256, b"layer") }],
        "history": [{ "v1Compatibility": "{}" }],
    })
    .to_string();
    for content_type in [
        media_type::DOCKER_SCHEMA1,
        media_type::DOCKER_SCHEMA1_SIGNED,
        "application/json",
    ] {
        registry
            .put(format!("/v2/{REPO}/manifests/old"))
            .content_type(content_type)
            .body(schema1.clone())
            .await
            .expect_error(400, "MANIFEST_INVALID");
    }
}

#[tokio::test]
async fn content_type_and_media_type_must_agree() {
    let registry = Registry::new();
    let (_, m) = image_with_blobs(&registry, &Opts::default()).await;
    for wrong in [media_type::OCI_INDEX, media_type::DOCKER_MANIFEST] {
        registry
            .put(format!("/v2/{REPO}/manifests/mismatch"))
            .content_type(wrong)
            .body(m.bytes.clone())
            .await
            .expect_error(400, "MANIFEST_INVALID");
    }
    // Parameters on the header are ignored, and without a header the body's type decides.
    registry
        .put(format!("/v2/{REPO}/manifests/with-params"))
        .content_type(&format!("{}; charset=utf-8", m.media_type))
        .body(m.bytes.clone())
        .await
        .expect(201);
    let r = registry
        .put(format!("/v2/{REPO}/manifests/no-header"))
        .body(m.bytes.clone())
        .await;
    check_manifest_created(&registry, &r, &m).await;
}

#[tokio::test]
async fn bodies_that_are_no_manifest_are_manifest_invalid() {
    let registry = Registry::new();
    let cases: &[(&str, &str)] = &[
        ("not json at all", media_type::OCI_MANIFEST),
        ("", media_type::OCI_MANIFEST),
        ("[]", media_type::OCI_MANIFEST),
        (r#"{"schemaVersion":2}"#, "application/json"),
        (
            r#"{"schemaVersion":3,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
            media_type::OCI_INDEX,
        ),
        (
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#,
            media_type::OCI_MANIFEST,
        ),
        (
            r#"{"schemaVersion":2,"mediaType":"application/x-unknown","manifests":[]}"#,
            "application/x-unknown",
        ),
    ];
    for (body, content_type) in cases {
        registry
            .put(format!("/v2/{REPO}/manifests/bad"))
            .content_type(content_type)
            .body(*body)
            .await
            .expect_error(400, "MANIFEST_INVALID");
    }
}

#[tokio::test]
async fn tag_parameters_set_every_tag_and_say_so() {
    let registry = Registry::new();
    let (_, m) = image_with_blobs(&registry, &Opts::default()).await;
    let tags: Vec<String> = (0..12).map(|i| format!("v1.{i}")).collect();
    let mut url = format!("/v2/{REPO}/manifests/{}", m.digest);
    for t in &tags {
        url = with_query(&url, "tag", t);
    }
    let r = registry
        .put(url)
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await;
    check_manifest_created(&registry, &r, &m).await;
    let answered: Vec<&str> = r
        .header_all("oci-tag")
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for t in &tags {
        assert!(answered.contains(&t.as_str()), "{t}: {r:?}");
        let at = registry.get(format!("/v2/{REPO}/manifests/{t}")).await;
        check_manifest_response(&at, &m, false);
    }
}

#[tokio::test]
async fn an_invalid_tag_is_tag_invalid_and_nothing_is_stored() {
    let registry = Registry::new();
    let (_, m) = image_with_blobs(&registry, &Opts::default()).await;
    let bad_param = with_query(&format!("/v2/{REPO}/manifests/{}", m.digest), "tag", "-bad");
    registry
        .put(bad_param)
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await
        .expect_error(400, "TAG_INVALID");
    let too_long = "t".repeat(129);
    for reference in ["-leading-dash", ".dot", too_long.as_str()] {
        put(&registry, reference, &m)
            .await
            .expect_error(400, "TAG_INVALID");
    }
    registry
        .head(format!("/v2/{REPO}/manifests/{}", m.digest))
        .await
        .expect(404);
}

#[tokio::test]
async fn a_tag_moves_to_the_newest_push_and_the_old_manifest_stays() {
    let registry = Registry::new();
    let (_, first) = image_with_blobs(&registry, &Opts::default()).await;
    let (_, second) = image_with_blobs(&registry, &Opts::default().layer_count(1)).await;
    put(&registry, "latest", &first).await.expect(201);
    // The same push again changes nothing.
    put(&registry, "latest", &first).await.expect(201);
    put(&registry, "latest", &second).await.expect(201);
    let latest = registry.get(format!("/v2/{REPO}/manifests/latest")).await;
    check_manifest_response(&latest, &second, false);
    let old = registry
        .get(format!("/v2/{REPO}/manifests/{}", first.digest))
        .await;
    check_manifest_response(&old, &first, false);
}

#[tokio::test]
async fn a_manifest_in_one_repository_is_not_in_another() {
    let registry = Registry::new();
    let (_, m) = image_with_blobs(&registry, &Opts::default()).await;
    put(&registry, "here", &m).await.expect(201);
    for reference in ["here", m.digest.as_str()] {
        registry
            .get(format!("/v2/conformance/elsewhere/manifests/{reference}"))
            .await
            .expect_error(404, "NAME_UNKNOWN");
    }
}

#[tokio::test]
async fn a_refused_push_leaves_no_repository_behind() {
    let registry = Registry::new();
    let mut d = DataSet::sha256();
    d.image(&Opts::default());
    let m = d.manifests[0].clone();
    registry
        .put("/v2/conformance/refused/manifests/latest")
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await
        .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
    registry
        .get("/v2/conformance/refused/tags/list")
        .await
        .expect_error(404, "NAME_UNKNOWN");
    registry
        .get("/v2/conformance/refused/manifests/latest")
        .await
        .expect_error(404, "NAME_UNKNOWN");
    let catalog = registry.get("/v2/_catalog").await.expect(200).json();
    assert_eq!(catalog["repositories"], json!([]));
}

#[tokio::test]
async fn a_deleted_blob_no_longer_satisfies_a_manifest() {
    let registry = Registry::new();
    let (d, m) = image_with_blobs(&registry, &Opts::default()).await;
    crate::harness::delete_blob(&registry, REPO, &d.blobs[0].digest).await;
    put(&registry, "latest", &m)
        .await
        .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_to_one_tag_leave_it_on_one_of_them() {
    let registry = Registry::new();
    let mut d = DataSet::sha256();
    for i in 0..6 {
        d.image(
            &Opts::default()
                .layer_count(1)
                .annotation("n", &i.to_string()),
        );
    }
    push_blobs(&registry, REPO, &d).await;
    let mut pushes = tokio::task::JoinSet::new();
    for m in d.manifests.clone() {
        let registry = registry.clone();
        pushes.spawn(async move {
            let r = put(&registry, "contended", &m).await;
            check_manifest_created(&registry, &r, &m).await;
        });
    }
    while let Some(joined) = pushes.join_next().await {
        joined.expect("a push task does not panic");
    }
    let now = registry
        .get(format!("/v2/{REPO}/manifests/contended"))
        .await
        .expect(200);
    let m = d
        .manifests
        .iter()
        .find(|m| Some(m.digest.as_str()) == now.header("docker-content-digest"))
        .expect("the tag points at one of the pushed manifests");
    check_manifest_response(&now, m, false);
}

#[tokio::test]
async fn a_hundred_tag_parameters_are_accepted_and_more_are_414() {
    let registry = Registry::new();
    let (_, m) = image_with_blobs(&registry, &Opts::default()).await;
    let url_with = |n: usize| {
        (0..n).fold(format!("/v2/{REPO}/manifests/{}", m.digest), |url, i| {
            with_query(&url, "tag", &format!("t{i}"))
        })
    };
    registry
        .put(url_with(101))
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await
        .expect(414);
    registry
        .head(format!("/v2/{REPO}/manifests/t0"))
        .await
        .expect(404);
    let r = registry
        .put(url_with(100))
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await;
    check_manifest_created(&registry, &r, &m).await;
    assert_eq!(r.header_all("oci-tag").len(), 100, "{r:?}");
}
