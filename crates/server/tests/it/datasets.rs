//! The conformance suite's data sets, one test each: the content is described here and
//! `data::exercise` pushes it (blobs by every upload flow, manifests by digest, then tags),
//! lists tags, HEADs and GETs everything by tag and digest, checks referrers, then deletes it
//! all. Docker schema 2 content goes through the same walk.

use oci::{Algorithm, media_type};
use serde_json::json;

use crate::data::{DataSet, EXAMPLE_TYPE_1, EXAMPLE_TYPE_2, Layers, OCTET_STREAM, Opts, exercise};
use crate::harness::{Registry, digest_of, random_bytes};

async fn check(data: DataSet) {
    let registry = Registry::new();
    exercise(&registry, "conformance/data", &data).await;
}

#[tokio::test]
async fn image() {
    let mut d = DataSet::sha256();
    d.image(&Opts::default().tag("image"));
    check(d).await;
}

#[tokio::test]
async fn image_uncompressed() {
    let mut d = DataSet::sha256();
    d.image(
        &Opts::default()
            .tag("image-uncompressed")
            .layers(Layers::Tar),
    );
    check(d).await;
}

#[tokio::test]
async fn large_manifest_of_390_annotations_is_accepted() {
    let mut opts = Opts::default().tag("large-manifest");
    for i in 0..390 {
        opts = opts.annotation(&format!("large-annotation-{i}"), &"A".repeat(10_000));
    }
    let mut d = DataSet::sha256();
    d.image(&opts);
    let size = d.manifests[0].bytes.len();
    assert!(
        size > 3_900_000 && size < oci::DEFAULT_MAX_MANIFEST_BYTES,
        "{size}"
    );
    check(d).await;
}

#[tokio::test]
async fn index() {
    let mut d = DataSet::sha256();
    d.image_index(&Opts::default().tag("index"));
    check(d).await;
}

#[tokio::test]
async fn nested_index() {
    let mut d = DataSet::sha256();
    let first = d.image_index(&Opts::default());
    let second = d.image_index(&Opts::default());
    d.index(
        &[(first, None), (second, None)],
        &Opts::default().tag("index-of-index"),
    );
    check(d).await;
}

#[tokio::test]
async fn empty_index() {
    let mut d = DataSet::sha256();
    d.image_index(&Opts::default().tag("index").platforms(&[]));
    assert_eq!(d.manifests.len(), 1);
    check(d).await;
}

#[tokio::test]
async fn artifact() {
    let mut d = DataSet::sha256();
    d.image(
        &Opts::default()
            .tag("artifact")
            .artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1),
    );
    check(d).await;
}

#[tokio::test]
async fn artifact_index() {
    let mut d = DataSet::sha256();
    d.image_index(
        &Opts::default()
            .tag("artifact-index")
            .artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1),
    );
    check(d).await;
}

#[tokio::test]
async fn artifact_without_layers() {
    // Its one "layer" is the empty JSON blob, the same bytes as its config.
    let mut d = DataSet::sha256();
    d.image(
        &Opts::default()
            .tag("artifact-without-layers")
            .artifact(EXAMPLE_TYPE_1, media_type::OCI_EMPTY)
            .layers(Layers::Artifact {
                media_type: media_type::OCI_EMPTY,
                bytes: Some(b"{}".to_vec()),
            }),
    );
    assert_eq!(d.blobs.len(), 1, "config and layer are one blob");
    check(d).await;
}

#[tokio::test]
async fn artifacts_with_subject() {
    let mut d = DataSet::sha256();
    let subject = d.image(&Opts::default().tag("image"));
    d.image(&Opts::default().subject(&subject));
    d.image(
        &Opts::default()
            .artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1)
            .referrer_annotations()
            .subject(&subject)
            .tag("tagged-artifact1"),
    );
    d.image(
        &Opts::default()
            .artifact(EXAMPLE_TYPE_2, OCTET_STREAM)
            .referrer_annotations()
            .subject(&subject)
            .tag("tagged-artifact2"),
    );
    assert_eq!(d.referrers.values().map(Vec::len).sum::<usize>(), 3);
    check(d).await;
}

#[tokio::test]
async fn index_with_subject() {
    let mut d = DataSet::sha256();
    let subject = d.image_index(&Opts::default().tag("index"));
    d.image_index(
        &Opts::default()
            .artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1)
            .referrer_annotations()
            .subject(&subject)
            .tag("tagged-artifact"),
    );
    check(d).await;
}

#[tokio::test]
async fn missing_subject_is_accepted() {
    let missing = json!({
        "mediaType": media_type::OCI_MANIFEST,
        "size": 123,
        "digest": digest_of(Algorithm::Sha256, b"missing content"),
    });
    let mut d = DataSet::sha256();
    d.image(
        &Opts::default()
            .artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1)
            .referrer_annotations()
            .subject(&missing)
            .tag("tagged-artifact"),
    );
    check(d).await;
}

#[tokio::test]
async fn data_field_descriptors() {
    let mut d = DataSet::sha256();
    d.image(&Opts {
        data_field: true,
        ..Opts::default().tag("data-field")
    });
    check(d).await;
}

#[tokio::test]
async fn non_distributable_layers_need_not_be_pushed() {
    let mut d = DataSet::sha256();
    let foreign = |seed: u64, media_type: &str, size: u64| {
        let digest = digest_of(Algorithm::Sha256, &random_bytes(seed, 256));
        let hex = digest.trim_start_matches("sha256:").to_owned();
        json!({
            "mediaType": media_type,
            "digest": digest,
            "size": size,
            "urls": [format!("https://store.example.com/blobs/sha256/{hex}")],
        })
    };
    let gz = foreign(
        9001,
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        123_456,
    );
    let tar = foreign(
        9002,
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        12_345,
    );
    let normal = d.random_blob(crate::data::LAYER_GZIP, 512, false);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {
            "type": "layers",
            "diff_ids": [gz["digest"], tar["digest"], normal["digest"]],
        },
    }))
    .expect("a JSON value serializes");
    let config = d.blob(crate::data::OCI_CONFIG, config, false);
    d.manifest(
        &json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": config,
            "layers": [gz, tar, normal],
        }),
        Some("non-distributable-image"),
        false,
    );
    assert_eq!(
        d.blobs.len(),
        2,
        "only the config and the normal layer are pushed"
    );
    check(d).await;
}

#[tokio::test]
async fn custom_fields_round_trip() {
    let mut d = DataSet::sha256();
    d.image_index(&Opts {
        extra_field: true,
        ..Opts::default().tag("custom-fields")
    });
    // Unusual layout too: the registry keeps bytes, not a re-serialization.
    let spaced = format!(
        "{{\n  \"schemaVersion\" : 2,\n\t\"mediaType\": \"{}\",\n  \"manifests\": [ ],\n  \"org.example.unknown\": {{\"nested\": [1, 2.50, null]}}\n}}\n",
        media_type::OCI_INDEX
    );
    d.raw_manifest(
        media_type::OCI_INDEX,
        spaced.into_bytes(),
        Some("spaced"),
        false,
    );
    check(d).await;
}

#[tokio::test]
async fn no_layers() {
    let mut d = DataSet::sha256();
    d.image(&Opts::default().tag("no-layers").layer_count(0));
    check(d).await;
}

#[tokio::test]
async fn sha512_index_by_digest() {
    let mut d = DataSet::new(Algorithm::Sha512);
    d.image_index(&Opts::default());
    assert!(d.manifests.iter().all(|m| m.digest.starts_with("sha512:")));
    check(d).await;
}

#[tokio::test]
async fn tag_parameters_sha256() {
    check(tag_param_data(Algorithm::Sha256, "tag-param-sha256")).await;
}

#[tokio::test]
async fn tag_parameters_sha512() {
    check(tag_param_data(Algorithm::Sha512, "tag-param-sha512")).await;
}

/// An index and its images, each tagged with `?tag=` on its push by digest; the index twice.
fn tag_param_data(algorithm: Algorithm, prefix: &'static str) -> DataSet {
    let mut d = DataSet::new(algorithm);
    d.image_index(&Opts::default().tag(prefix));
    let digests: Vec<String> = d.manifests.iter().map(|m| m.digest.clone()).collect();
    for (i, digest) in digests.into_iter().enumerate() {
        d.tags.push((format!("{prefix}-{i}"), digest));
    }
    d.tags_as_params = true;
    d
}

#[tokio::test]
async fn docker_schema2_manifest_and_manifest_list() {
    let mut d = DataSet::sha256();
    let config = d.random_blob("application/vnd.docker.container.image.v1+json", 300, false);
    let layer = d.random_blob(
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        900,
        false,
    );
    let image = d.manifest(
        &json!({
            "schemaVersion": 2,
            "mediaType": media_type::DOCKER_MANIFEST,
            "config": config,
            "layers": [layer],
        }),
        Some("docker-image"),
        false,
    );
    let mut entry = image;
    entry["platform"] = json!({ "architecture": "amd64", "os": "linux" });
    d.manifest(
        &json!({
            "schemaVersion": 2,
            "mediaType": media_type::DOCKER_MANIFEST_LIST,
            "manifests": [entry],
        }),
        Some("docker-list"),
        false,
    );
    check(d).await;
}

#[tokio::test]
async fn endpoint_words_in_a_repository_name() {
    // Names may contain `blobs`, `uploads`, `manifests`, `tags`, `list` and `referrers`; the
    // registry reads a path from the right, so every endpoint still works.
    let mut d = DataSet::sha256();
    let subject = d.image(&Opts::default().tag("image"));
    d.image(
        &Opts::default()
            .artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1)
            .subject(&subject)
            .tag("artifact"),
    );
    let registry = Registry::new();
    for repo in [
        "blobs/uploads/manifests/tags/list/referrers",
        "team/blobs/uploads",
        "a/tags/list",
        "manifests",
    ] {
        exercise(&registry, repo, &d).await;
    }
}
