//! Image manifests and indexes (OCI and Docker schema 2): parsing, media-type rules and the
//! facts a registry needs from them (referenced blobs and manifests, subject, artifact type).
//! The raw bytes are never re-serialized; callers store exactly what the client sent.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// Media types the registry knows by name.
pub mod media_type {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

    /// Layers that registries are not expected to hold: they are fetched from their `urls`.
    pub const NON_DISTRIBUTABLE: [&str; 4] = [
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ];
}

/// The largest manifest the spec says clients and registries should expect to handle.
pub const DEFAULT_MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("manifest is not valid JSON for its type: {0}")]
    Json(String),
    #[error("unsupported schemaVersion {0:?}, expected 2")]
    SchemaVersion(Option<i64>),
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("docker schema 1 manifests are not supported")]
    Schema1,
    #[error("manifest has no mediaType and the Content-Type {0:?} names no manifest type")]
    UnknownType(String),
    #[error("Content-Type {content_type:?} does not match the manifest's mediaType {media_type:?}")]
    ContentTypeMismatch {
        content_type: String,
        media_type: String,
    },
    #[error("an image manifest must have a config descriptor")]
    MissingConfig,
    #[error("{kind} must not contain a {field:?} field")]
    Ambiguous {
        kind: &'static str,
        field: &'static str,
    },
    #[error("descriptor {0} has an empty mediaType")]
    EmptyDescriptorMediaType(Digest),
    #[error("descriptor {0} has a data field that does not match its digest and size")]
    BadEmbeddedData(Digest),
}

/// A content descriptor. Unknown fields are tolerated; only those the registry uses are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    fn check(&self) -> Result<(), ManifestError> {
        if self.media_type.is_empty() {
            return Err(ManifestError::EmptyDescriptorMediaType(self.digest.clone()));
        }
        if let Some(data) = &self.data {
            let ok = base64::engine::general_purpose::STANDARD
                .decode(data)
                .is_ok_and(|bytes| bytes.len() as u64 == self.size && self.digest.matches(&bytes));
            if !ok {
                return Err(ManifestError::BadEmbeddedData(self.digest.clone()));
            }
        }
        Ok(())
    }

    fn is_distributable(&self) -> bool {
        !media_type::NON_DISTRIBUTABLE.contains(&self.media_type.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// An OCI image manifest or a Docker schema 2 manifest: config plus layers.
    Image,
    /// An OCI image index or a Docker manifest list: a list of manifests.
    Index,
}

/// What the registry needs to know about a manifest it stores.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The effective media type: the body's `mediaType`, else the request's Content-Type.
    pub media_type: String,
    pub kind: ManifestKind,
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
    pub manifests: Vec<Descriptor>,
    /// Only for OCI types; Docker types have no subject.
    pub subject: Option<Descriptor>,
    pub artifact_type: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
    // Present only to detect an ambiguous document; never used otherwise.
    #[serde(rename = "fsLayers")]
    fs_layers: Option<serde::de::IgnoredAny>,
}

/// Strips parameters and whitespace from a Content-Type value.
pub fn base_media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

fn is_manifest_type(mt: &str) -> bool {
    matches!(
        mt,
        media_type::OCI_MANIFEST
            | media_type::OCI_INDEX
            | media_type::DOCKER_MANIFEST
            | media_type::DOCKER_MANIFEST_LIST
    )
}

impl Manifest {
    /// Parses a manifest pushed with the given Content-Type (if any).
    pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<Manifest, ManifestError> {
        // JSON is UTF-8 (RFC 8259 section 8.1). `from_slice` checks that only in the strings it
        // keeps, not in the unknown fields it skips, so check the whole document first.
        let text = std::str::from_utf8(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        let raw: Raw =
            serde_json::from_str(text).map_err(|e| ManifestError::Json(e.to_string()))?;
        let header = content_type.map(base_media_type).unwrap_or("");
        if [
            media_type::DOCKER_SCHEMA1,
            media_type::DOCKER_SCHEMA1_SIGNED,
        ]
        .contains(&header)
            || raw.schema_version == Some(1)
            || raw.fs_layers.is_some()
        {
            return Err(ManifestError::Schema1);
        }
        let media_type = match raw.media_type.as_deref().filter(|m| !m.is_empty()) {
            Some(body) => {
                if is_manifest_type(header) && header != body {
                    return Err(ManifestError::ContentTypeMismatch {
                        content_type: header.to_owned(),
                        media_type: body.to_owned(),
                    });
                }
                body.to_owned()
            }
            None if is_manifest_type(header) => header.to_owned(),
            None => return Err(ManifestError::UnknownType(header.to_owned())),
        };
        if raw.schema_version != Some(2) {
            return Err(ManifestError::SchemaVersion(raw.schema_version));
        }
        let (kind, oci) = match media_type.as_str() {
            media_type::OCI_MANIFEST => (ManifestKind::Image, true),
            media_type::OCI_INDEX => (ManifestKind::Index, true),
            media_type::DOCKER_MANIFEST => (ManifestKind::Image, false),
            media_type::DOCKER_MANIFEST_LIST => (ManifestKind::Index, false),
            _ => return Err(ManifestError::UnsupportedMediaType(media_type)),
        };
        let manifest = match kind {
            ManifestKind::Image => {
                if raw.manifests.is_some() {
                    return Err(ManifestError::Ambiguous {
                        kind: "an image manifest",
                        field: "manifests",
                    });
                }
                Manifest {
                    media_type,
                    kind,
                    config: Some(raw.config.ok_or(ManifestError::MissingConfig)?),
                    layers: raw.layers.unwrap_or_default(),
                    manifests: Vec::new(),
                    subject: if oci { raw.subject } else { None },
                    artifact_type: if oci { raw.artifact_type } else { None },
                    annotations: raw.annotations,
                }
            }
            ManifestKind::Index => {
                for (present, field) in [
                    (raw.config.is_some(), "config"),
                    (raw.layers.is_some(), "layers"),
                ] {
                    if present {
                        return Err(ManifestError::Ambiguous {
                            kind: "an index",
                            field,
                        });
                    }
                }
                Manifest {
                    media_type,
                    kind,
                    config: None,
                    layers: Vec::new(),
                    manifests: raw.manifests.unwrap_or_default(),
                    subject: if oci { raw.subject } else { None },
                    artifact_type: if oci { raw.artifact_type } else { None },
                    annotations: raw.annotations,
                }
            }
        };
        for d in manifest.descriptors() {
            d.check()?;
        }
        Ok(manifest)
    }

    /// Every descriptor in the manifest, subject included.
    pub fn descriptors(&self) -> impl Iterator<Item = &Descriptor> {
        self.config
            .iter()
            .chain(&self.layers)
            .chain(&self.manifests)
            .chain(&self.subject)
    }

    /// Blobs that must be present in the repository for the manifest to be accepted: the
    /// config and every distributable layer.
    pub fn required_blobs(&self) -> impl Iterator<Item = &Digest> {
        self.config
            .iter()
            .chain(self.layers.iter().filter(|l| l.is_distributable()))
            .map(|d| &d.digest)
    }

    /// Manifests an index refers to, which must be present in the repository.
    pub fn required_manifests(&self) -> impl Iterator<Item = &Digest> {
        self.manifests.iter().map(|d| &d.digest)
    }

    /// The `artifactType` a referrers listing shows for this manifest: its own, or for an
    /// image manifest without one, the config's media type.
    pub fn referrer_artifact_type(&self) -> Option<&str> {
        self.artifact_type
            .as_deref()
            .filter(|a| !a.is_empty())
            .or(match self.kind {
                ManifestKind::Image => self.config.as_ref().map(|c| c.media_type.as_str()),
                ManifestKind::Index => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Algorithm;

    fn d(bytes: &[u8]) -> String {
        Digest::compute(Algorithm::Sha256, bytes).to_string()
    }

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":1}}]{extra}}}"#,
            media_type::OCI_MANIFEST,
            d(b"{}"),
            d(b"x")
        )
    }

    #[test]
    fn parses_image_manifest() {
        let m = Manifest::parse(Some(media_type::OCI_MANIFEST), image("").as_bytes()).unwrap();
        assert_eq!(m.kind, ManifestKind::Image);
        assert_eq!(m.required_blobs().count(), 2);
        assert_eq!(
            m.referrer_artifact_type(),
            Some("application/vnd.oci.image.config.v1+json")
        );
        assert!(m.subject.is_none());
    }

    #[test]
    fn subject_and_artifact_type() {
        let extra = format!(
            r#","artifactType":"application/x.sig","subject":{{"mediaType":"{}","digest":"{}","size":5}},"annotations":{{"a":"b"}}"#,
            media_type::OCI_MANIFEST,
            d(b"subject")
        );
        let m = Manifest::parse(Some(media_type::OCI_MANIFEST), image(&extra).as_bytes()).unwrap();
        assert_eq!(m.referrer_artifact_type(), Some("application/x.sig"));
        assert_eq!(m.subject.unwrap().digest.to_string(), d(b"subject"));
        assert_eq!(m.annotations.unwrap()["a"], "b");
    }

    #[test]
    fn content_type_rules() {
        let body = image("");
        // Parameters on the header are ignored; a generic header defers to the body.
        for ct in [
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
            Some("application/octet-stream"),
            None,
        ] {
            assert!(Manifest::parse(ct, body.as_bytes()).is_ok(), "{ct:?}");
        }
        assert!(matches!(
            Manifest::parse(Some(media_type::OCI_INDEX), body.as_bytes()),
            Err(ManifestError::ContentTypeMismatch { .. })
        ));
        // Without a mediaType field the header decides.
        let no_mt = body.replace(
            &format!(r#""mediaType":"{}","#, media_type::OCI_MANIFEST),
            "",
        );
        assert!(Manifest::parse(Some(media_type::OCI_MANIFEST), no_mt.as_bytes()).is_ok());
        assert!(matches!(
            Manifest::parse(None, no_mt.as_bytes()),
            Err(ManifestError::UnknownType(_))
        ));
    }

    #[test]
    fn rejects_bad_documents() {
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), "json"),
            (r#"{"schemaVersion":1,"fsLayers":[]}"#.into(), "schema1"),
            (
                image("").replace("\"schemaVersion\":2", "\"schemaVersion\":3"),
                "version",
            ),
            (image(r#","manifests":[]"#), "ambiguous"),
            (
                image("").replace(media_type::OCI_MANIFEST, "application/x-unknown"),
                "unsupported",
            ),
            (
                image("").replace("\"size\":2", "\"size\":-2"),
                "negative size",
            ),
            (image("").replace(&d(b"{}"), "sha256:abc"), "bad digest"),
            (
                format!(
                    r#"{{"schemaVersion":2,"mediaType":"{}","layers":[]}}"#,
                    media_type::OCI_MANIFEST
                ),
                "no config",
            ),
            (
                format!(
                    r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[],"config":{{"mediaType":"a","digest":"{}","size":1}}}}"#,
                    media_type::OCI_INDEX,
                    d(b"x")
                ),
                "index with config",
            ),
            (
                image("")
                    .replace(r#""size":2}"#, r#""size":2,"data":"e30="}"#)
                    .replace("\"size\":2,", "\"size\":3,"),
                "bad data size",
            ),
            (
                format!(
                    r#"{{"schemaVersion":2,"schemaVersion":2,"mediaType":"{}","manifests":[]}}"#,
                    media_type::OCI_INDEX
                ),
                "duplicate key",
            ),
        ];
        for (body, why) in cases {
            assert!(
                Manifest::parse(None, body.as_bytes()).is_err(),
                "{why}: {body}"
            );
        }
    }

    #[test]
    fn embedded_data_that_matches_is_accepted() {
        let body = image("").replace(r#""size":2}"#, r#""size":2,"data":"e30="}"#);
        assert!(Manifest::parse(None, body.as_bytes()).is_ok());
    }

    #[test]
    fn non_distributable_layers_are_not_required() {
        let body = image("").replace(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        );
        let m = Manifest::parse(None, body.as_bytes()).unwrap();
        assert_eq!(m.required_blobs().count(), 1);
    }

    #[test]
    fn index_and_null_lists() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":null}}"#,
            media_type::OCI_INDEX
        );
        let m = Manifest::parse(None, body.as_bytes()).unwrap();
        assert_eq!(m.kind, ManifestKind::Index);
        assert_eq!(m.required_manifests().count(), 0);
        assert_eq!(m.referrer_artifact_type(), None);
        let docker = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":3}}]}}"#,
            media_type::DOCKER_MANIFEST_LIST,
            media_type::DOCKER_MANIFEST,
            d(b"m")
        );
        let m = Manifest::parse(Some(media_type::DOCKER_MANIFEST_LIST), docker.as_bytes()).unwrap();
        assert_eq!(m.required_manifests().count(), 1);
    }

    /// Found by the `manifest` fuzz target: invalid UTF-8 inside an unknown field was skipped
    /// unchecked, so a body that is not JSON was accepted and would be stored and served.
    #[test]
    fn invalid_utf8_in_an_unknown_field_is_rejected() {
        let mut body = image("").into_bytes();
        body.pop(); // the closing brace
        body.extend_from_slice(b",\"x-unknown\":\"\xad\xad\"}");
        assert!(matches!(
            Manifest::parse(None, &body),
            Err(ManifestError::Json(_))
        ));
    }
}
