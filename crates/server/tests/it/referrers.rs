//! The referrers API: what each listed descriptor carries (artifactType, its fallback to the
//! config's media type, annotations), the `artifactType` filter, and the answers for subjects
//! that have no referrers or are not digests at all.

use oci::{Algorithm, media_type};
use serde_json::json;

use crate::data::{
    DataSet, EXAMPLE_TYPE_1, EXAMPLE_TYPE_2, Opts, check_referrers, push_all, referrers,
};
use crate::harness::{Registry, digest_of, with_query};

const REPO: &str = "conformance/referrers";

/// A subject image and five referrers of every shape the spec describes.
fn referrer_shapes(algorithm: Algorithm) -> (DataSet, String) {
    let mut d = DataSet::new(algorithm);
    let subject = d.image(&Opts::default());
    // artifactType set, with annotations.
    d.image(
        &Opts::default()
            .artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1)
            .referrer_annotations()
            .subject(&subject),
    );
    // No artifactType: the config's media type stands in.
    let config = d.blob(
        "application/vnd.example.config.v1+json",
        b"{\"a\":1}".to_vec(),
        false,
    );
    d.manifest(
        &json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": config,
            "layers": [],
            "subject": subject,
            "annotations": { "org.example.kind": "config-typed" },
        }),
        None,
        false,
    );
    // An empty artifactType counts as missing.
    d.manifest(
        &json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "artifactType": "",
            "config": config,
            "layers": [],
            "subject": subject,
        }),
        None,
        false,
    );
    // An index without artifactType: listed without one.
    d.index(&[], &Opts::default().subject(&subject));
    // An index with one.
    let mut typed_index = Opts::default().subject(&subject).referrer_annotations();
    typed_index.artifact_type = Some(EXAMPLE_TYPE_2);
    d.index(&[], &typed_index);
    let subject = subject["digest"].as_str().expect("a digest").to_owned();
    (d, subject)
}

#[tokio::test]
async fn referrers_carry_artifact_type_and_annotations_and_filter_by_type() {
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let registry = Registry::new();
        let (d, subject) = referrer_shapes(algorithm);
        assert_eq!(d.referrers[&subject].len(), 5);
        push_all(&registry, REPO, &d).await;
        check_referrers(&registry, REPO, &d).await;

        let listed = referrers(&registry, &format!("/v2/{REPO}/referrers/{subject}")).await;
        let manifests = listed.json()["manifests"].clone();
        let of_index_without_type = manifests
            .as_array()
            .expect("manifests is an array")
            .iter()
            .filter(|m| m["mediaType"] == json!(media_type::OCI_INDEX))
            .filter(|m| m.get("artifactType").is_none())
            .count();
        assert_eq!(of_index_without_type, 1, "{listed:?}");
        let config_typed = manifests
            .as_array()
            .expect("manifests is an array")
            .iter()
            .filter(|m| m["artifactType"] == json!("application/vnd.example.config.v1+json"))
            .count();
        assert_eq!(config_typed, 2, "{listed:?}");
    }
}

#[tokio::test]
async fn a_filter_that_matches_nothing_lists_nothing_and_says_it_filtered() {
    let registry = Registry::new();
    let (d, subject) = referrer_shapes(Algorithm::Sha256);
    push_all(&registry, REPO, &d).await;
    let url = with_query(
        &format!("/v2/{REPO}/referrers/{subject}"),
        "artifactType",
        "application/vnd.example.nothing",
    );
    let r = referrers(&registry, &url).await;
    assert_eq!(r.header("oci-filters-applied"), Some("artifactType"));
    assert_eq!(r.json()["manifests"], json!([]));
}

#[tokio::test]
async fn subjects_without_referrers_list_an_empty_index() {
    let registry = Registry::new();
    let (d, subject) = referrer_shapes(Algorithm::Sha256);
    push_all(&registry, REPO, &d).await;
    let nobody = digest_of(Algorithm::Sha256, b"no one refers to this");
    let sha512 = digest_of(Algorithm::Sha512, b"nor to this");
    for url in [
        format!("/v2/{REPO}/referrers/{nobody}"),
        format!("/v2/{REPO}/referrers/{sha512}"),
        // Referrers belong to their repository.
        format!("/v2/conformance/elsewhere/referrers/{subject}"),
        format!("/v2/never/pushed/referrers/{subject}"),
    ] {
        let r = referrers(&registry, &url).await;
        assert_eq!(r.json()["manifests"], json!([]), "{url}");
    }
}

#[tokio::test]
async fn a_deleted_referrer_leaves_the_listing() {
    let registry = Registry::new();
    let (d, subject) = referrer_shapes(Algorithm::Sha256);
    push_all(&registry, REPO, &d).await;
    let gone = d
        .manifests
        .iter()
        .find(|m| m.subject.is_some())
        .expect("a referrer");
    registry
        .delete(format!("/v2/{REPO}/manifests/{}", gone.digest))
        .await
        .expect(202);
    let r = referrers(&registry, &format!("/v2/{REPO}/referrers/{subject}")).await;
    let listed = r.json()["manifests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed.len(), 4, "{r:?}");
    assert!(
        listed.iter().all(|m| m["digest"] != json!(gone.digest)),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_subject_that_is_not_a_digest_is_400() {
    let registry = Registry::new();
    for bad in [
        "latest",
        "sha256:xyz",
        "sha256:",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
    ] {
        registry
            .get(format!("/v2/{REPO}/referrers/{bad}"))
            .await
            .expect_error(400, "DIGEST_INVALID");
    }
}

#[tokio::test]
async fn a_referrer_pushed_by_tag_only_is_listed() {
    let registry = Registry::new();
    let mut d = DataSet::sha256();
    let subject = d.image(&Opts::default().tag("subject"));
    d.image(
        &Opts::default()
            .artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1)
            .subject(&subject)
            .tag("signature"),
    );
    crate::data::push_blobs(&registry, REPO, &d).await;
    for (tag, digest) in &d.tags {
        let m = d
            .manifests
            .iter()
            .find(|m| &m.digest == digest)
            .expect("tagged");
        let r = registry
            .put(format!("/v2/{REPO}/manifests/{tag}"))
            .content_type(&m.media_type)
            .body(m.bytes.clone())
            .await;
        crate::data::check_manifest_created(&registry, &r, m).await;
    }
    check_referrers(&registry, REPO, &d).await;
}
