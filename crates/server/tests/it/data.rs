//! Content to push, built the way the OCI conformance suite builds its data sets (images,
//! indexes, artifacts, subjects, sha512, ...), and the walk every data set goes through: push,
//! list, HEAD, GET, referrers, delete. A data set test only says what content it holds.

use std::collections::BTreeMap;

use base64::Engine as _;
use oci::{Algorithm, media_type};
use serde_json::{Value, json};

use crate::harness::{
    Registry, Upload, check_blob, digest_of, push_blob, random_bytes, with_query,
};

pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const EXAMPLE_TYPE_1: &str = "application/vnd.example.oci.conformance.v1";
pub const EXAMPLE_TYPE_2: &str = "application/vnd.example.oci.conformance.v2";
pub const OCTET_STREAM: &str = "application/octet-stream";

/// A blob of a data set.
#[derive(Clone, Debug)]
pub struct Blob {
    pub digest: String,
    pub bytes: Vec<u8>,
}

/// A manifest of a data set, as pushed.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub subject: Option<String>,
}

/// The layers of a generated image.
#[derive(Clone, Debug)]
pub enum Layers {
    /// Image layers with the gzip layer media type. The registry never opens a layer, so the
    /// bytes are random; only the descriptor's media type matters to it.
    Gzip,
    /// Image layers with the uncompressed tar media type.
    Tar,
    /// Artifact layers: a media type of the artifact's own, random bytes unless given.
    Artifact {
        media_type: &'static str,
        bytes: Option<Vec<u8>>,
    },
}

/// What to generate; the defaults are a two-layer linux/amd64 image (and, for an index, one
/// such image each for amd64 and arm64).
#[derive(Clone, Debug)]
pub struct Opts {
    pub layer_count: usize,
    pub layers: Layers,
    /// An artifact config (media type, bytes); `None` for a generated image config.
    pub config: Option<(&'static str, Vec<u8>)>,
    pub artifact_type: Option<&'static str>,
    pub annotations: BTreeMap<String, String>,
    /// Adds one annotation of unique value, so that otherwise equal manifests differ.
    pub unique_annotation: bool,
    pub subject: Option<Value>,
    /// Adds a field no spec defines to configs, manifests and indexes.
    pub extra_field: bool,
    /// Embeds every descriptor's content in its `data` field.
    pub data_field: bool,
    pub platforms: Vec<(&'static str, &'static str)>,
    pub tag: Option<&'static str>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            layer_count: 2,
            layers: Layers::Gzip,
            config: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
            unique_annotation: false,
            subject: None,
            extra_field: false,
            data_field: false,
            platforms: vec![("linux", "amd64"), ("linux", "arm64")],
            tag: None,
        }
    }
}

impl Opts {
    pub fn tag(mut self, tag: &'static str) -> Self {
        self.tag = Some(tag);
        self
    }

    pub fn layer_count(mut self, n: usize) -> Self {
        self.layer_count = n;
        self
    }

    pub fn layers(mut self, layers: Layers) -> Self {
        self.layers = layers;
        self
    }

    pub fn subject(mut self, subject: &Value) -> Self {
        self.subject = Some(subject.clone());
        self
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn platforms(mut self, platforms: &[(&'static str, &'static str)]) -> Self {
        self.platforms = platforms.to_vec();
        self
    }

    /// An artifact as the conformance suite makes one: `artifactType`, the empty JSON config
    /// and one layer of `layer_type`.
    pub fn artifact(mut self, artifact_type: &'static str, layer_type: &'static str) -> Self {
        self.artifact_type = Some(artifact_type);
        self.config = Some((media_type::OCI_EMPTY, b"{}".to_vec()));
        self.layer_count = 1;
        self.layers = Layers::Artifact {
            media_type: layer_type,
            bytes: None,
        };
        self
    }

    /// The annotations the conformance suite puts on its referrers.
    pub fn referrer_annotations(self) -> Self {
        let mut o = self.annotation("org.opencontainers.conformance", "hello conformance test");
        o.unique_annotation = true;
        o
    }
}

/// Content to push to one repository, in push order, with what the registry should answer.
#[derive(Debug)]
pub struct DataSet {
    pub algorithm: Algorithm,
    pub blobs: Vec<Blob>,
    pub manifests: Vec<Pushed>,
    pub tags: Vec<(String, String)>,
    /// Subject digest to the descriptors its referrers listing must contain.
    pub referrers: BTreeMap<String, Vec<Value>>,
    /// Push tags as `?tag=` parameters of the push by digest instead of pushes by tag.
    pub tags_as_params: bool,
    seed: u64,
}

impl DataSet {
    pub fn new(algorithm: Algorithm) -> DataSet {
        DataSet {
            algorithm,
            blobs: Vec::new(),
            manifests: Vec::new(),
            tags: Vec::new(),
            referrers: BTreeMap::new(),
            tags_as_params: false,
            seed: 0,
        }
    }

    pub fn sha256() -> DataSet {
        DataSet::new(Algorithm::Sha256)
    }

    /// Starts the content generator elsewhere, so that two data sets share no blob.
    pub fn seeded(mut self, seed: u64) -> DataSet {
        self.seed = seed;
        self
    }

    fn next_seed(&mut self) -> u64 {
        self.seed += 1;
        self.seed
    }

    fn unique_text(&mut self) -> String {
        let bytes = random_bytes(self.next_seed() ^ 0x5EED, 12);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn descriptor(&self, media_type: &str, bytes: &[u8], data_field: bool) -> Value {
        let mut d = json!({
            "mediaType": media_type,
            "digest": digest_of(self.algorithm, bytes),
            "size": bytes.len(),
        });
        if data_field {
            d["data"] = Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
        d
    }

    /// Adds a blob (once per digest) and returns its descriptor.
    pub fn blob(&mut self, media_type: &str, bytes: Vec<u8>, data_field: bool) -> Value {
        let d = self.descriptor(media_type, &bytes, data_field);
        let digest = digest_of(self.algorithm, &bytes);
        if !self.blobs.iter().any(|b| b.digest == digest) {
            self.blobs.push(Blob { digest, bytes });
        }
        d
    }

    pub fn random_blob(&mut self, media_type: &str, len: usize, data_field: bool) -> Value {
        let bytes = random_bytes(self.next_seed(), len);
        self.blob(media_type, bytes, data_field)
    }

    /// Adds a manifest given as a document and returns its descriptor. Its referrer entry (if
    /// it has a subject) is derived from the document as the spec says: `artifactType`, else
    /// for an image manifest the config's media type; annotations copied.
    pub fn manifest(&mut self, doc: &Value, tag: Option<&str>, data_field: bool) -> Value {
        let media_type = doc["mediaType"]
            .as_str()
            .expect("generated manifests carry their mediaType")
            .to_owned();
        let bytes = serde_json::to_vec(doc).expect("a JSON value serializes");
        self.raw_manifest(&media_type, bytes, tag, data_field)
    }

    /// Adds a manifest given as exact bytes.
    pub fn raw_manifest(
        &mut self,
        media_type: &str,
        bytes: Vec<u8>,
        tag: Option<&str>,
        data_field: bool,
    ) -> Value {
        let doc: Value = serde_json::from_slice(&bytes).expect("manifest bytes are JSON");
        let digest = digest_of(self.algorithm, &bytes);
        let subject = doc["subject"]["digest"].as_str().map(str::to_owned);
        if let Some(subject) = &subject {
            let mut entry = json!({
                "mediaType": media_type,
                "digest": digest,
                "size": bytes.len(),
            });
            let artifact_type = doc["artifactType"]
                .as_str()
                .filter(|a| !a.is_empty())
                .or_else(|| doc["config"]["mediaType"].as_str());
            if let Some(a) = artifact_type {
                entry["artifactType"] = json!(a);
            }
            if let Some(a) = doc.get("annotations") {
                entry["annotations"] = a.clone();
            }
            self.referrers
                .entry(subject.clone())
                .or_default()
                .push(entry);
        }
        let descriptor = self.descriptor(media_type, &bytes, data_field);
        if let Some(tag) = tag {
            self.tags.push((tag.to_owned(), digest.clone()));
        }
        self.manifests.push(Pushed {
            digest,
            media_type: media_type.to_owned(),
            bytes,
            subject,
        });
        descriptor
    }

    fn with_common_fields(&mut self, doc: &mut Value, opts: &Opts) {
        if let Some(a) = opts.artifact_type {
            doc["artifactType"] = json!(a);
        }
        if let Some(s) = &opts.subject {
            doc["subject"] = s.clone();
        }
        let mut annotations = opts.annotations.clone();
        if opts.unique_annotation {
            let key = format!("org.example.{}", self.unique_text());
            annotations.insert(key, self.unique_text());
        }
        if !annotations.is_empty() {
            doc["annotations"] = json!(annotations);
        }
        if opts.extra_field {
            let key = format!("org.example.custom-{}", self.unique_text());
            doc[key] = json!(self.unique_text());
        }
    }

    /// An image (or artifact) manifest with its config and layers.
    pub fn image(&mut self, opts: &Opts) -> Value {
        self.image_for(opts, opts.platforms[0])
    }

    fn image_for(&mut self, opts: &Opts, (os, arch): (&str, &str)) -> Value {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for i in 0..opts.layer_count {
            let d = match &opts.layers {
                Layers::Gzip => self.random_blob(LAYER_GZIP, 300 + i, opts.data_field),
                Layers::Tar => self.random_blob(LAYER_TAR, 400 + i, opts.data_field),
                Layers::Artifact {
                    media_type,
                    bytes: Some(b),
                } => self.blob(media_type, b.clone(), opts.data_field),
                Layers::Artifact {
                    media_type,
                    bytes: None,
                } => self.random_blob(media_type, 2048, opts.data_field),
            };
            diff_ids.push(d["digest"].clone());
            layers.push(d);
        }
        let config = match &opts.config {
            Some((mt, bytes)) => self.blob(mt, bytes.clone(), opts.data_field),
            None => {
                let mut config = json!({
                    "author": "vouch conformance test",
                    "architecture": arch,
                    "os": os,
                    "rootfs": { "type": "layers", "diff_ids": diff_ids },
                });
                if opts.extra_field {
                    let key = format!("org.example.custom-{}", self.unique_text());
                    config[key] = json!(self.unique_text());
                }
                let bytes = serde_json::to_vec(&config).expect("a JSON value serializes");
                self.blob(OCI_CONFIG, bytes, opts.data_field)
            }
        };
        let mut doc = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": config,
            "layers": layers,
        });
        self.with_common_fields(&mut doc, opts);
        self.manifest(&doc, opts.tag, opts.data_field)
    }

    /// An index of `children`, each with an optional platform.
    pub fn index(&mut self, children: &[(Value, Option<(&str, &str)>)], opts: &Opts) -> Value {
        let manifests: Vec<Value> = children
            .iter()
            .map(|(d, platform)| {
                let mut d = d.clone();
                if let Some((os, arch)) = platform {
                    d["platform"] = json!({ "os": os, "architecture": arch });
                }
                d
            })
            .collect();
        let mut doc = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_INDEX,
            "manifests": manifests,
        });
        self.with_common_fields(&mut doc, opts);
        self.manifest(&doc, opts.tag, opts.data_field)
    }

    /// One image per platform of `opts`, then an index of them. The images share every option
    /// of the index (a subject too, so they are referrers as well) except the tag.
    pub fn image_index(&mut self, opts: &Opts) -> Value {
        let image_opts = Opts {
            tag: None,
            ..opts.clone()
        };
        let children: Vec<(Value, Option<(&str, &str)>)> = opts
            .platforms
            .iter()
            .map(|&p| (self.image_for(&image_opts, p), Some(p)))
            .collect();
        self.index(&children, opts)
    }
}

/// Pushes, lists, HEADs, GETs, lists referrers of and finally deletes a whole data set in a
/// fresh repository, checking every answer as the conformance suite does (and the exact set of
/// referrers, which a fresh repository makes possible).
pub async fn exercise(registry: &Registry, repo: &str, data: &DataSet) {
    push_all(registry, repo, data).await;
    check_tag_list(registry, repo, data).await;
    check_pull(registry, repo, data).await;
    check_referrers(registry, repo, data).await;
    delete_all(registry, repo, data).await;
}

pub async fn push_all(registry: &Registry, repo: &str, data: &DataSet) {
    assert!(
        data.algorithm == Algorithm::Sha256 || data.tags_as_params || data.tags.is_empty(),
        "a push by tag names the content by sha256; tag other digests with ?tag="
    );
    push_blobs(registry, repo, data).await;
    for m in &data.manifests {
        let mut url = format!("/v2/{repo}/manifests/{}", m.digest);
        let mut param_tags = Vec::new();
        if data.tags_as_params {
            for (tag, d) in &data.tags {
                if *d == m.digest {
                    url = with_query(&url, "tag", tag);
                    param_tags.push(tag.as_str());
                }
            }
        }
        let pushed = registry
            .put(url)
            .content_type(&m.media_type)
            .body(m.bytes.clone())
            .await;
        check_manifest_created(registry, &pushed, m).await;
        let answered: Vec<&str> = pushed
            .header_all("oci-tag")
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for tag in param_tags {
            assert!(answered.contains(&tag), "no OCI-Tag {tag}: {pushed:?}");
        }
    }
    if !data.tags_as_params {
        for (tag, digest) in &data.tags {
            let m = manifest_of(data, digest);
            let pushed = registry
                .put(format!("/v2/{repo}/manifests/{tag}"))
                .content_type(&m.media_type)
                .body(m.bytes.clone())
                .await;
            check_manifest_created(registry, &pushed, m).await;
        }
    }
}

/// Pushes the blobs of a data set, rotating through the upload flows.
pub async fn push_blobs(registry: &Registry, repo: &str, data: &DataSet) {
    for (i, blob) in data.blobs.iter().enumerate() {
        let how = Upload::ALL[i % Upload::ALL.len()];
        push_blob(registry, repo, how, &blob.bytes, &blob.digest).await;
    }
}

fn manifest_of<'d>(data: &'d DataSet, digest: &str) -> &'d Pushed {
    data.manifests
        .iter()
        .find(|m| m.digest == digest)
        .expect("a tag of the data set points at one of its manifests")
}

/// A 201 for a manifest: its digest, its subject in `OCI-Subject`, and a `Location` that serves
/// the exact bytes with their media type and length.
pub async fn check_manifest_created(
    registry: &Registry,
    pushed: &crate::harness::Response,
    m: &Pushed,
) {
    assert_eq!(pushed.status.as_u16(), 201, "{pushed:?}");
    assert_eq!(
        pushed.header("docker-content-digest"),
        Some(m.digest.as_str()),
        "{pushed:?}"
    );
    assert_eq!(
        pushed.header("oci-subject"),
        m.subject.as_deref(),
        "{pushed:?}"
    );
    let at = registry.get(pushed.location()).await.expect(200);
    check_manifest_response(&at, m, false);
}

/// GET or HEAD of a manifest: type, length, digest and (for GET) the exact bytes.
#[track_caller]
pub fn check_manifest_response(r: &crate::harness::Response, m: &Pushed, head: bool) {
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    assert_eq!(
        r.header("content-type"),
        Some(m.media_type.as_str()),
        "{r:?}"
    );
    assert_eq!(
        r.header("content-length"),
        Some(m.bytes.len().to_string().as_str()),
        "{r:?}"
    );
    assert_eq!(
        r.header("docker-content-digest"),
        Some(m.digest.as_str()),
        "{r:?}"
    );
    if head {
        assert!(r.body.is_empty(), "{r:?}");
    } else {
        assert!(r.body == m.bytes, "other bytes than were pushed: {r:?}");
    }
}

/// Every tag listed, in ASCII order, and `last` returning exactly the tags after it.
pub async fn check_tag_list(registry: &Registry, repo: &str, data: &DataSet) {
    let url = format!("/v2/{repo}/tags/list");
    let listed = registry.get(&url).await.expect(200).json();
    assert_eq!(listed["name"], json!(repo));
    let tags: Vec<String> =
        serde_json::from_value(listed["tags"].clone()).expect("tags are strings");
    let mut sorted = tags.clone();
    sorted.sort();
    assert_eq!(tags, sorted, "tags are in ASCII order");
    for (tag, _) in &data.tags {
        assert!(tags.contains(tag), "tag {tag} missing from {tags:?}");
    }
    if tags.len() >= 2 {
        let half = tags.len() / 2;
        let last = &tags[half - 1];
        let after = registry
            .get(with_query(&url, "last", last))
            .await
            .expect(200)
            .json();
        assert_eq!(after["tags"], json!(tags[half..]), "tags after {last}");
    }
}

/// HEAD and GET of every manifest by tag and by digest, and of every blob.
pub async fn check_pull(registry: &Registry, repo: &str, data: &DataSet) {
    for (tag, digest) in &data.tags {
        let m = manifest_of(data, digest);
        let url = format!("/v2/{repo}/manifests/{tag}");
        check_manifest_response(&registry.head(&url).await, m, true);
        check_manifest_response(&registry.get(&url).await, m, false);
    }
    for m in &data.manifests {
        let url = format!("/v2/{repo}/manifests/{}", m.digest);
        check_manifest_response(&registry.head(&url).await, m, true);
        check_manifest_response(&registry.get(&url).await, m, false);
    }
    for blob in &data.blobs {
        check_blob(registry, repo, &blob.bytes, &blob.digest).await;
    }
}

/// The referrers listing of every subject, whole and filtered by each artifact type.
pub async fn check_referrers(registry: &Registry, repo: &str, data: &DataSet) {
    for (subject, want) in &data.referrers {
        let url = format!("/v2/{repo}/referrers/{subject}");
        let listed = referrers(registry, &url).await;
        assert!(
            listed.headers.get("oci-filters-applied").is_none(),
            "{listed:?}"
        );
        let got = listed.json()["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(got.len(), want.len(), "{listed:?}");
        for w in want {
            assert!(
                got.iter().any(|g| same_referrer(g, w)),
                "missing {w}: {listed:?}"
            );
        }
        let types: std::collections::BTreeSet<&str> = want
            .iter()
            .filter_map(|w| w["artifactType"].as_str())
            .collect();
        for artifact_type in types {
            let filtered =
                referrers(registry, &with_query(&url, "artifactType", artifact_type)).await;
            let applied: Vec<&str> = filtered
                .header("oci-filters-applied")
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .collect();
            assert!(applied.contains(&"artifactType"), "{filtered:?}");
            let got = filtered.json()["manifests"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for g in &got {
                assert_eq!(g["artifactType"], json!(artifact_type), "{filtered:?}");
            }
            for w in want
                .iter()
                .filter(|w| w["artifactType"] == json!(artifact_type))
            {
                assert!(
                    got.iter().any(|g| same_referrer(g, w)),
                    "missing {w}: {filtered:?}"
                );
            }
        }
    }
}

/// GET of a referrers URL: 200 and an OCI index, whatever the subject.
pub async fn referrers(registry: &Registry, url: &str) -> crate::harness::Response {
    let r = registry.get(url).await.expect(200);
    assert_eq!(
        r.header("content-type"),
        Some(media_type::OCI_INDEX),
        "{r:?}"
    );
    let body = r.json();
    assert_eq!(body["schemaVersion"], json!(2), "{r:?}");
    assert_eq!(body["mediaType"], json!(media_type::OCI_INDEX), "{r:?}");
    assert!(body["manifests"].is_array(), "{r:?}");
    r
}

/// A listed referrer matches the expected one: same digest, media type, size and artifact type
/// (both absent counts as the same), and at least the expected annotations.
pub fn same_referrer(got: &Value, want: &Value) -> bool {
    let annotations_ok = match want["annotations"].as_object() {
        None => true,
        Some(want) => want.iter().all(|(k, v)| got["annotations"][k] == *v),
    };
    ["digest", "mediaType", "size", "artifactType"]
        .iter()
        .all(|k| got.get(*k) == want.get(*k))
        && annotations_ok
}

/// Deletes tags, then manifests newest first, then blobs; each is gone at once.
pub async fn delete_all(registry: &Registry, repo: &str, data: &DataSet) {
    for (tag, _) in &data.tags {
        let url = format!("/v2/{repo}/manifests/{tag}");
        registry.delete(&url).await.expect(202);
        registry.head(&url).await.expect(404);
    }
    for m in data.manifests.iter().rev() {
        let url = format!("/v2/{repo}/manifests/{}", m.digest);
        registry.delete(&url).await.expect(202);
        registry.head(&url).await.expect(404);
        registry
            .get(&url)
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
    }
    for blob in &data.blobs {
        crate::harness::delete_blob(registry, repo, &blob.digest).await;
    }
}
