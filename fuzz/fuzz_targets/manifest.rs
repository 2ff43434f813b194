//! Fuzzes `Manifest::parse` with a Content-Type picked by the first input byte and the rest as
//! the body. It must never panic, and an accepted manifest must agree with its own JSON: a
//! known media type matching the header, a kind consistent with it, valid descriptors, and
//! required blobs and manifests drawn from its descriptors.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use oci::{Digest, Manifest, ManifestKind, base_media_type, media_type};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// The Content-Type header a push arrives with; `None` is a request without one.
const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some(media_type::OCI_MANIFEST),
    Some(media_type::OCI_INDEX),
    Some(media_type::DOCKER_MANIFEST),
    Some(media_type::DOCKER_MANIFEST_LIST),
    Some(media_type::DOCKER_SCHEMA1),
    Some(media_type::DOCKER_SCHEMA1_SIGNED),
    Some("application/octet-stream"),
    Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
    Some(" application/vnd.docker.distribution.manifest.list.v2+json ;q=1"),
    Some("application/json"),
    Some(""),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()];
    match Manifest::parse(content_type, body) {
        Ok(manifest) => check(content_type, body, &manifest),
        // Error messages are shown to clients; building one must not panic either.
        Err(e) => drop(e.to_string()),
    }
});

/// The top-level fields of a manifest that decide its type, read independently of `oci`. A field
/// is `Some` when present and not null.
#[derive(Deserialize)]
struct Shape {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    config: Option<IgnoredAny>,
    layers: Option<IgnoredAny>,
    manifests: Option<IgnoredAny>,
}

fn check(content_type: Option<&str>, body: &[u8], m: &Manifest) {
    // An accepted manifest is one JSON text in UTF-8. (Not `serde_json::Value`: it refuses lone
    // surrogate escapes such as "\ud800", which the JSON grammar allows.)
    let text = std::str::from_utf8(body).expect("an accepted manifest is UTF-8");
    serde_json::from_str::<IgnoredAny>(text).expect("an accepted manifest is JSON");
    let shape: Shape = serde_json::from_str(text).expect("an accepted manifest is an object");
    assert_eq!(shape.schema_version, Some(2));

    // The media type is the body's, else the header's, and when both name a manifest type they
    // agree.
    let header = content_type.map(base_media_type).unwrap_or("");
    match shape.media_type.as_deref().filter(|s| !s.is_empty()) {
        Some(body_type) => assert_eq!(m.media_type, body_type),
        None => assert_eq!(m.media_type, header),
    }
    let (kind, oci) = match m.media_type.as_str() {
        media_type::OCI_MANIFEST => (ManifestKind::Image, true),
        media_type::OCI_INDEX => (ManifestKind::Index, true),
        media_type::DOCKER_MANIFEST => (ManifestKind::Image, false),
        media_type::DOCKER_MANIFEST_LIST => (ManifestKind::Index, false),
        other => panic!("accepted unknown media type {other:?}"),
    };
    if [
        media_type::OCI_MANIFEST,
        media_type::OCI_INDEX,
        media_type::DOCKER_MANIFEST,
        media_type::DOCKER_MANIFEST_LIST,
    ]
    .contains(&header)
    {
        assert_eq!(m.media_type, header);
    }
    assert_eq!(m.kind, kind);
    match m.kind {
        ManifestKind::Image => {
            assert!(m.config.is_some() && m.manifests.is_empty());
            assert!(shape.config.is_some() && shape.manifests.is_none());
        }
        ManifestKind::Index => {
            assert!(m.config.is_none() && m.layers.is_empty());
            assert!(shape.config.is_none() && shape.layers.is_none());
        }
    }
    if !oci {
        assert!(m.subject.is_none() && m.artifact_type.is_none());
    }

    let descriptors: Vec<_> = m.descriptors().collect();
    let expected = usize::from(m.config.is_some())
        + m.layers.len()
        + m.manifests.len()
        + usize::from(m.subject.is_some());
    assert_eq!(descriptors.len(), expected);
    for d in &descriptors {
        assert_eq!(Digest::parse(d.digest.as_str()).as_ref(), Ok(&d.digest));
        assert!(!d.media_type.is_empty());
        if let Some(data) = &d.data {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .expect("accepted embedded data is base64");
            assert_eq!(bytes.len() as u64, d.size);
            assert!(d.digest.matches(&bytes));
        }
    }

    // What must be present in the repository comes from the manifest's own descriptors: the
    // config and layers for an image, the child manifests for an index. The subject never is.
    let blob_sources: Vec<&Digest> = m
        .config
        .iter()
        .chain(&m.layers)
        .map(|d| &d.digest)
        .collect();
    for digest in m.required_blobs() {
        assert!(
            blob_sources.contains(&digest),
            "{digest} is not a config or layer"
        );
    }
    if let Some(config) = &m.config {
        assert!(m.required_blobs().any(|d| *d == config.digest));
    }
    assert!(
        m.required_manifests()
            .eq(m.manifests.iter().map(|d| &d.digest))
    );
    match m.kind {
        ManifestKind::Image => assert_eq!(m.required_manifests().count(), 0),
        ManifestKind::Index => assert_eq!(m.required_blobs().count(), 0),
    }

    match m.referrer_artifact_type() {
        Some(a) => assert!(
            m.artifact_type.as_deref() == Some(a)
                || m.config.as_ref().is_some_and(|c| c.media_type == a)
        ),
        None => assert_eq!(m.kind, ManifestKind::Index),
    }

    // Parsing is a function of its input.
    let again = Manifest::parse(content_type, body).expect("accepted once, accepted again");
    assert_eq!(format!("{again:?}"), format!("{m:?}"));
}
