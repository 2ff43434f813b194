//! The image verbs, cosign-compatible, against any registry (vouch's, Distribution's, the
//! hosted ones): `sign`, `verify`, `attest` and `verify-attestation`.
//!
//! What is written is what cosign 3 writes, field for field:
//! - By default, an in-toto statement about the manifest digest, signed as DSSE in a Sigstore
//!   bundle v0.3, attached as an OCI 1.1 referrer (`WriteReferrer` in cosign's
//!   `pkg/oci/remote/write.go`): config `application/vnd.oci.empty.v1+json` (`{}`), one layer
//!   holding the bundle, `artifactType` the bundle's media type, annotations
//!   `dev.sigstore.bundle.content`, `dev.sigstore.bundle.predicateType` and
//!   `org.opencontainers.image.created`. On a registry without the referrers API the manifest
//!   is added to the referrers tag schema's index (`sha256-<hex>`), as go-containerregistry
//!   does: the index is read, extended and sorted, never replaced.
//! - With `--legacy-format`, cosign's classic tags: `sha256-<hex>.sig` (simple-signing
//!   payloads, signature in an annotation) and `sha256-<hex>.att` (DSSE envelopes), a new
//!   layer appended to what the tag already holds (`mutate.AppendSignatures`).
//!
//! Verification finds signatures in every layout, verifies each one itself (bundles with
//! `verify::sigstore`, classic layers with `verify::cosign_classic`), and reports each one
//! found with why it was rejected. Exit codes: 0 if one verifies, 1 if none does, 2 if the
//! registry or the command line failed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use clap::{Args, Subcommand, ValueEnum};
use client::{
    Bytes, Client, ClientConfig, CredentialSource, Credentials, DockerConfig, ImageRef, Repository,
    referrers_tag,
};
use oci::{Algorithm, Descriptor, Digest, Manifest, ManifestKind, Reference, Tag, media_type};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use verify::bundle::{Bundle, Content, MEDIA_TYPE_V0_3};
use verify::cosign_classic::{
    self, DSSE_MEDIA_TYPE, Image, PREDICATE_TYPE_ANNOTATION, SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE, go_json,
};
use verify::dsse::Envelope;
use verify::evidence::{
    self, BUNDLE_PREDICATE_TYPE_ANNOTATION, Candidate, SIGN_PREDICATE_TYPE, Want,
};
use verify::intoto::{self, Statement, Subject};
use verify::keys::{PrivateKey, PublicKey};
use verify::sigstore::{Identity, Options, VerifiedSigner, Verifier};
use verify::time::Timestamp;

use crate::keygen;
use crate::trust::TrustArgs;

const BUNDLE_CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";
/// The config of a referrer: the empty JSON object.
const EMPTY_CONFIG: &[u8] = b"{}";
/// The config media type of classic signature images (cosign's default, OCI).
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Go's zero `time.Time`, which go-containerregistry writes for unset times.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// Largest simple-signing payload or signature-image config read.
const MAX_SMALL_BLOB: u64 = 4 * 1024 * 1024;
/// Largest bundle or attestation layer read (an SBOM predicate can be large).
const MAX_LARGE_BLOB: u64 = 64 * 1024 * 1024;
/// Layers of a classic signature image examined at most (cosign's limit).
const MAX_LAYERS: usize = 1000;

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Sign an image with a key: its manifest digest, resolved from a tag first.
    ///
    /// By default as cosign 3 does: an in-toto statement about the digest (predicate type
    /// https://sigstore.dev/cosign/sign/v1), DSSE-signed in a Sigstore bundle v0.3 attached as
    /// an OCI 1.1 referrer, listed in the referrers tag schema's index on a registry without
    /// the referrers API. With --legacy-format, cosign's classic sha256-<hex>.sig tag. No
    /// transparency log entry is made. Key passwords as for sign-blob.
    Sign(SignArgs),
    /// Verify an image's signatures, in every layout cosign writes: bundle referrers (the
    /// referrers API and the referrers tag schema) and the classic .sig tag.
    ///
    /// Reports each signature found and why any was rejected. Exit code 0 if at least one
    /// verifies, 1 if none does, 2 on usage or registry errors.
    Verify(VerifyArgs),
    /// Attest to an image with a key: an in-toto statement about its digest with the given
    /// predicate, DSSE-signed, attached as cosign 3 does (a bundle referrer), or with
    /// --legacy-format in cosign's classic sha256-<hex>.att tag.
    Attest(AttestArgs),
    /// Verify an image's attestations, in every layout cosign writes: bundle referrers and
    /// the classic .att tag. Exit codes as for verify.
    VerifyAttestation(VerifyAttestationArgs),
}

/// How to reach the registry.
#[derive(Args, Clone)]
pub struct RegistryArgs {
    /// Allow plain HTTP to the image's registry when HTTPS gets no answer (a registry on
    /// loopback). Credentials then travel in clear text.
    #[arg(long)]
    pub allow_http_registry: bool,
    /// A user name for the registry, instead of Docker's config.json.
    #[arg(long, requires = "registry_password")]
    pub registry_username: Option<String>,
    /// The password for --registry-username.
    #[arg(long, requires = "registry_username")]
    pub registry_password: Option<String>,
}

#[derive(Args)]
pub struct SignArgs {
    /// The private key: cosign's encrypted format, or PKCS#8, SEC1 or PKCS#1 PEM.
    #[arg(long)]
    key: PathBuf,
    /// Write cosign's classic sha256-<hex>.sig tag instead of a bundle referrer.
    #[arg(long)]
    legacy_format: bool,
    /// An annotation to sign along (KEY=VALUE, repeatable): in the statement's subject, or in
    /// the classic payload's `optional`.
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image: REGISTRY/REPOSITORY[:TAG][@DIGEST].
    image: String,
}

#[derive(Args)]
pub struct AttestArgs {
    /// The private key, as for sign.
    #[arg(long)]
    key: PathBuf,
    /// The predicate: a file holding a JSON object (any file for --type custom).
    #[arg(long)]
    predicate: PathBuf,
    /// The predicate type: a URI, or one of cosign's shortcuts (slsaprovenance,
    /// slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex,
    /// custom).
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    predicate_type: String,
    /// Write cosign's classic sha256-<hex>.att tag instead of a bundle referrer.
    #[arg(long)]
    legacy_format: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image: REGISTRY/REPOSITORY[:TAG][@DIGEST].
    image: String,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The report goes to standard error; with `json`, also a JSON document to standard
    /// output.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// The image: REGISTRY/REPOSITORY[:TAG][@DIGEST]. A tag is resolved to the digest it
    /// points to now.
    image: String,
}

#[derive(Args)]
pub struct VerifyAttestationArgs {
    #[command(flatten)]
    trust: TrustArgs,
    /// The predicate type the statement must have: a URI or one of cosign's shortcuts.
    #[arg(long = "type", value_name = "TYPE")]
    predicate_type: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The report goes to standard error; with `json`, also a JSON document to standard
    /// output.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// The image: REGISTRY/REPOSITORY[:TAG][@DIGEST].
    image: String,
}

/// `text`: the report on standard error. `json`: also a JSON document on standard output.
#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

pub fn run(command: ImageCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match command {
            ImageCommand::Sign(args) => sign(args).await,
            ImageCommand::Attest(args) => attest(args).await,
            ImageCommand::Verify(args) => {
                let output = args.output;
                let report =
                    examine_image(args.trust, args.registry, &args.image, Want::Signatures).await?;
                Ok(report.finish(output))
            }
            ImageCommand::VerifyAttestation(args) => {
                let want = match &args.predicate_type {
                    Some(t) => Some(predicate_type(t)?),
                    None => None,
                };
                let output = args.output;
                let report = examine_image(
                    args.trust,
                    args.registry,
                    &args.image,
                    Want::Attestations(want),
                )
                .await?;
                Ok(report.finish(output))
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The registry

fn image_ref(text: &str) -> anyhow::Result<ImageRef> {
    ImageRef::parse(text).with_context(|| format!("invalid image reference {text:?}"))
}

pub(crate) fn registry_client(image: &ImageRef, args: &RegistryArgs) -> anyhow::Result<Client> {
    let credentials = match (&args.registry_username, &args.registry_password) {
        (Some(username), Some(password)) => CredentialSource::Explicit(Credentials::Basic {
            username: username.clone(),
            password: password.clone(),
        }),
        _ => CredentialSource::DockerConfig(DockerConfig::load()?),
    };
    let mut config = ClientConfig::new(credentials);
    if args.allow_http_registry {
        config.dangerous().allow_http(image.registry());
    }
    Ok(Client::new(config)?)
}

/// The repository as go-containerregistry names it (`Repository.Name()`), which cosign writes
/// as the docker-reference and the attestation subject's name: Docker Hub as
/// `index.docker.io`.
fn go_repository_name(repo: &Repository) -> String {
    let registry = if repo.registry.is_docker_hub() {
        "index.docker.io"
    } else {
        repo.registry.as_str()
    };
    format!("{registry}/{}", repo.name)
}

/// The tag of a classic signature image: `<alg>-<hex>.<suffix>`.
fn classic_tag(digest: &Digest, suffix: &str) -> anyhow::Result<Tag> {
    let text = format!("{}-{}.{suffix}", digest.algorithm(), digest.hex());
    Tag::parse(&text).map_err(|e| anyhow!("cannot name the signature tag {text}: {e}"))
}

/// Pushes `bytes` as a blob; returns its descriptor.
async fn push_blob(
    client: &Client,
    repo: &Repository,
    media_type: &str,
    bytes: Vec<u8>,
) -> anyhow::Result<GoDescriptor> {
    let digest = Digest::compute(Algorithm::Sha256, &bytes);
    let size = bytes.len() as u64;
    client
        .push_blob(repo, &digest, Bytes::from(bytes))
        .await
        .with_context(|| format!("cannot push blob {digest}"))?;
    Ok(GoDescriptor::new(media_type, digest, size))
}

/// The referrers API's listing, `None` when the registry has no such API: it answers 404, or
/// 400 as some registries do (go-containerregistry reads both so).
async fn referrers_api(
    client: &Client,
    repo: &Repository,
    digest: &Digest,
    artifact_type: Option<&str>,
) -> Result<Option<Vec<Descriptor>>, client::Error> {
    match client.referrers(repo, digest, artifact_type).await {
        Err(e) if e.status().map(|s| s.as_u16()) == Some(400) => Ok(None),
        other => other,
    }
}

/// A manifest at `reference`, or `None` if the registry has none there.
async fn manifest_if_any(
    client: &Client,
    repo: &Repository,
    reference: Reference,
) -> anyhow::Result<Option<client::PulledManifest>> {
    match client.get_manifest(repo, &reference).await {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {repo}:{reference}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Manifests as go-containerregistry writes them (field order of its structs, Go's JSON)

/// A descriptor in go-containerregistry's field order. Fields it does not know are dropped
/// when a document is rewritten, as it drops them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GoDescriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    size: u64,
    digest: Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform: Option<Value>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    artifact_type: Option<String>,
}

impl GoDescriptor {
    fn new(media_type: &str, digest: Digest, size: u64) -> GoDescriptor {
        GoDescriptor {
            media_type: media_type.to_owned(),
            size,
            digest,
            data: None,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct GoManifest {
    #[serde(rename = "schemaVersion")]
    schema_version: i64,
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    media_type: String,
    config: GoDescriptor,
    layers: Vec<GoDescriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<GoDescriptor>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    artifact_type: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct GoIndex {
    #[serde(rename = "schemaVersion")]
    schema_version: i64,
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    media_type: String,
    #[serde(default)]
    manifests: Vec<GoDescriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<GoDescriptor>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    artifact_type: Option<String>,
}

/// The image config of a classic signature image (go-containerregistry's `ConfigFile`, the
/// fields an empty image and appended layers give it).
#[derive(Debug, Serialize, Deserialize)]
struct SignatureConfig {
    #[serde(default)]
    architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    #[serde(default = "go_zero_time")]
    created: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    history: Vec<History>,
    #[serde(default)]
    os: String,
    rootfs: RootFs,
    #[serde(default = "empty_object")]
    config: Value,
}

#[derive(Debug, Serialize, Deserialize)]
struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    #[serde(default = "go_zero_time")]
    created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    empty_layer: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct RootFs {
    #[serde(rename = "type")]
    type_: String,
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

fn go_zero_time() -> String {
    GO_ZERO_TIME.to_owned()
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

impl SignatureConfig {
    /// The config of go-containerregistry's empty image.
    fn empty() -> SignatureConfig {
        SignatureConfig {
            architecture: String::new(),
            author: None,
            created: go_zero_time(),
            history: Vec::new(),
            os: String::new(),
            rootfs: RootFs {
                type_: "layers".into(),
                diff_ids: Vec::new(),
            },
            config: empty_object(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Signing and attesting

async fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let annotations = parse_annotations(&args.annotations)?;
    let image = image_ref(&args.image)?;
    let key = keygen::load(&args.key)?;
    let client = registry_client(&image, &args.registry)?;
    let target = resolve(&client, &image, "signing").await?;
    let repo = image.repository();
    if args.legacy_format {
        let payload = cosign_classic::simple_signing_payload(
            &go_repository_name(repo),
            &target.digest,
            &annotations,
        );
        let signature = key.sign(&payload).context("signing failed")?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(signature);
        let layer = NewLayer {
            media_type: SIMPLE_SIGNING_MEDIA_TYPE,
            blob: payload,
            annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), b64)]),
        };
        let public = key.public_key()?;
        let tag = classic_tag(&target.digest, "sig")?;
        let pushed = append_classic(&client, repo, &tag, layer, Some(&public)).await?;
        match pushed {
            Some(d) => eprintln!("Pushed signature to {repo}:{tag} ({d})"),
            None => eprintln!("{repo}:{tag} already holds this signature; nothing pushed"),
        }
    } else {
        let payload = sign_statement(&go_repository_name(repo), &target.digest, &annotations);
        let bundle = dsse_bundle(&key, payload)?;
        let referrer = attach_bundle(&client, repo, &target, bundle, SIGN_PREDICATE_TYPE).await?;
        eprintln!("Pushed signature to {repo}@{referrer}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn attest(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let predicate_type = predicate_type(&args.predicate_type)?;
    let text = std::fs::read(&args.predicate)
        .with_context(|| format!("cannot read the predicate {}", args.predicate.display()))?;
    let predicate = if predicate_type == custom_predicate_type() {
        // cosign wraps a custom predicate's text with the time it attested.
        let data = String::from_utf8(text).context("the predicate is not UTF-8 text")?;
        let now = Timestamp::from_system_time(std::time::SystemTime::now()).secs();
        Map::from_iter([
            ("Data".to_owned(), Value::from(data)),
            (
                "Timestamp".to_owned(),
                Value::from(Timestamp::from_unix(now).to_rfc3339()),
            ),
        ])
    } else {
        match serde_json::from_slice(&text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => bail!("the predicate is not a JSON object"),
            Err(e) => bail!("the predicate is not JSON: {e}"),
        }
    };
    let image = image_ref(&args.image)?;
    let key = keygen::load(&args.key)?;
    let client = registry_client(&image, &args.registry)?;
    let target = resolve(&client, &image, "attesting").await?;
    let repo = image.repository();
    // cosign attests with an in-toto Statement v0.1 whose subject is the repository and the
    // digest.
    let statement = Statement {
        version: intoto::Version::V01,
        subject: vec![Subject {
            name: go_repository_name(repo),
            digest: BTreeMap::from([(
                target.digest.algorithm().to_string(),
                target.digest.hex().to_owned(),
            )]),
        }],
        predicate_type: predicate_type.clone(),
        predicate,
    };
    let payload = statement.to_json().into_bytes();
    if args.legacy_format {
        let mut envelope = Envelope::new(intoto::PAYLOAD_TYPE, payload);
        envelope
            .sign(&key, key.scheme(), "")
            .context("signing failed")?;
        let layer = NewLayer {
            media_type: DSSE_MEDIA_TYPE,
            blob: cosign_classic::attestation_layer(&envelope),
            annotations: BTreeMap::from([
                (SIGNATURE_ANNOTATION.to_owned(), String::new()),
                (PREDICATE_TYPE_ANNOTATION.to_owned(), predicate_type),
            ]),
        };
        let tag = classic_tag(&target.digest, "att")?;
        // Attestations are always appended: cosign's duplicate detector skips layers without
        // a signature annotation, and an attestation's is empty.
        match append_classic(&client, repo, &tag, layer, None).await? {
            Some(d) => eprintln!("Pushed attestation to {repo}:{tag} ({d})"),
            None => eprintln!("{repo}:{tag} already holds this attestation; nothing pushed"),
        }
    } else {
        let bundle = dsse_bundle(&key, payload)?;
        let referrer = attach_bundle(&client, repo, &target, bundle, &predicate_type).await?;
        eprintln!("Pushed attestation to {repo}@{referrer}");
    }
    Ok(ExitCode::SUCCESS)
}

fn custom_predicate_type() -> String {
    intoto::predicate_type("custom").unwrap_or_default()
}

/// The predicate type `--type` names; a usage error lists cosign's shortcuts.
fn predicate_type(value: &str) -> anyhow::Result<String> {
    intoto::predicate_type(value).ok_or_else(|| {
        let names: Vec<&str> = intoto::PREDICATE_TYPE_SHORTCUTS
            .iter()
            .map(|(n, _)| *n)
            .collect();
        anyhow!(
            "--type {value:?} is neither a URI nor one of {}",
            names.join(", ")
        )
    })
}

/// `-a KEY=VALUE` annotations, split at the first `=`.
fn parse_annotations(values: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) if !k.is_empty() => Ok((k.to_owned(), val.to_owned())),
            _ => bail!("annotation {v:?} is not KEY=VALUE"),
        })
        .collect()
}

/// The manifest an image reference names: its digest, media type and size. A tag is
/// resolved now, and the digest is what gets signed.
async fn resolve(client: &Client, image: &ImageRef, verb: &str) -> anyhow::Result<Descriptor> {
    let target = client
        .resolve(image.repository(), &image.reference())
        .await
        .with_context(|| format!("cannot resolve {image}"))?;
    match image.tag().filter(|_| image.digest().is_none()) {
        Some(tag) => eprintln!(
            "{}:{tag} resolves to {}; {verb} that digest",
            image.repository(),
            target.digest
        ),
        None => eprintln!("{verb} {}@{}", image.repository(), target.digest),
    }
    Ok(target)
}

/// The statement cosign 3 signs for `cosign sign`, as protobuf JSON writes it: an in-toto
/// Statement v1 whose one subject is the digest with the annotations, predicate type
/// https://sigstore.dev/cosign/sign/v1 and an empty predicate. Unlike cosign 3 (whose subject
/// has no name), the subject names the repository, as cosign's attestations do: verifiers
/// match the digest and ignore the name, and a policy that binds signatures to their
/// repository (`bind_repository`) can count it.
fn sign_statement(name: &str, digest: &Digest, annotations: &BTreeMap<String, String>) -> Vec<u8> {
    #[derive(Serialize)]
    struct SignSubject<'a> {
        name: &'a str,
        digest: BTreeMap<String, &'a str>,
        annotations: &'a BTreeMap<String, String>,
    }
    #[derive(Serialize)]
    struct SignStatement<'a> {
        #[serde(rename = "_type")]
        type_: &'a str,
        subject: [SignSubject<'a>; 1],
        #[serde(rename = "predicateType")]
        predicate_type: &'a str,
        predicate: Map<String, Value>,
    }
    let statement = SignStatement {
        type_: intoto::STATEMENT_V1,
        subject: [SignSubject {
            name,
            digest: BTreeMap::from([(digest.algorithm().to_string(), digest.hex())]),
            annotations,
        }],
        predicate_type: SIGN_PREDICATE_TYPE,
        predicate: Map::new(),
    };
    // Strings and maps of strings always serialize.
    serde_json::to_vec(&statement).expect("a statement serializes")
}

/// A Sigstore bundle v0.3 holding `payload` (an in-toto statement) DSSE-signed with `key`,
/// as cosign 3 writes it for a key: a public key hint, no log entry.
fn dsse_bundle(key: &PrivateKey, payload: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let content = Content::dsse_signed(key, payload).context("signing failed")?;
    let bundle = Bundle::signed_with_key(&key.public_key()?, content);
    Ok(bundle.to_json()?.into_bytes())
}

/// Attaches a bundle to `subject` as cosign's `WriteReferrer` does; returns the referrer's
/// digest. Then, if the registry did not take the subject (no `OCI-Subject` answer and no
/// referrers API), lists the referrer in the referrers tag schema's index.
async fn attach_bundle(
    client: &Client,
    repo: &Repository,
    subject: &Descriptor,
    bundle: Vec<u8>,
    predicate_type: &str,
) -> anyhow::Result<Digest> {
    let mut config = push_blob(client, repo, media_type::OCI_EMPTY, EMPTY_CONFIG.to_vec()).await?;
    config.artifact_type = Some(MEDIA_TYPE_V0_3.to_owned());
    let layer = push_blob(client, repo, MEDIA_TYPE_V0_3, bundle).await?;
    let now = Timestamp::from_system_time(std::time::SystemTime::now()).secs();
    let manifest = GoManifest {
        schema_version: 2,
        media_type: media_type::OCI_MANIFEST.to_owned(),
        config,
        layers: vec![layer],
        annotations: Some(BTreeMap::from([
            (
                CREATED_ANNOTATION.to_owned(),
                Timestamp::from_unix(now).to_rfc3339(),
            ),
            (
                BUNDLE_CONTENT_ANNOTATION.to_owned(),
                "dsse-envelope".to_owned(),
            ),
            (
                BUNDLE_PREDICATE_TYPE_ANNOTATION.to_owned(),
                predicate_type.to_owned(),
            ),
        ])),
        subject: Some(GoDescriptor::new(
            &subject.media_type,
            subject.digest.clone(),
            subject.size,
        )),
        artifact_type: Some(MEDIA_TYPE_V0_3.to_owned()),
    };
    let bytes = go_json(&manifest).into_bytes();
    let digest = Digest::compute(Algorithm::Sha256, &bytes);
    let size = bytes.len() as u64;
    let pushed = client
        .push_manifest(
            repo,
            &Reference::Digest(digest.clone()),
            media_type::OCI_MANIFEST,
            Bytes::from(bytes),
        )
        .await
        .context("cannot push the referrer manifest")?;
    if pushed.subject.is_none() {
        let api = referrers_api(client, repo, &subject.digest, None)
            .await
            .context("cannot ask for the referrers API")?;
        if api.is_none() {
            let mut desc = GoDescriptor::new(media_type::OCI_MANIFEST, digest.clone(), size);
            desc.artifact_type = Some(MEDIA_TYPE_V0_3.to_owned());
            add_to_referrers_tag(client, repo, &subject.digest, desc).await?;
        }
    }
    Ok(digest)
}

/// The referrers tag schema (distribution spec 1.1): the index tagged `<alg>-<hex>` lists the
/// subject's referrers. It is read and extended (sorted by digest, as go-containerregistry
/// keeps it), never replaced; a tag that holds something else is left alone.
async fn add_to_referrers_tag(
    client: &Client,
    repo: &Repository,
    subject: &Digest,
    add: GoDescriptor,
) -> anyhow::Result<()> {
    let tag = referrers_tag(subject);
    let mut index = match manifest_if_any(client, repo, Reference::Tag(tag.clone())).await? {
        None => GoIndex {
            schema_version: 2,
            media_type: media_type::OCI_INDEX.to_owned(),
            manifests: Vec::new(),
            annotations: None,
            subject: None,
            artifact_type: None,
        },
        Some(existing) => {
            if existing.media_type != media_type::OCI_INDEX {
                bail!(
                    "the referrers tag {repo}:{tag} holds a {}, not an image index; not replacing it",
                    existing.media_type
                );
            }
            let index: GoIndex = serde_json::from_slice(&existing.bytes)
                .with_context(|| format!("the referrers tag {repo}:{tag} is not an image index"))?;
            if index.schema_version != 2 {
                bail!("the referrers tag {repo}:{tag} is not a schema version 2 index");
            }
            index
        }
    };
    if index.manifests.iter().any(|d| d.digest == add.digest) {
        return Ok(());
    }
    index.manifests.push(add);
    index
        .manifests
        .sort_by(|a, b| a.digest.as_str().cmp(b.digest.as_str()));
    client
        .push_manifest(
            repo,
            &Reference::Tag(tag.clone()),
            media_type::OCI_INDEX,
            Bytes::from(go_json(&index).into_bytes()),
        )
        .await
        .with_context(|| format!("cannot update the referrers tag {repo}:{tag}"))?;
    eprintln!("The registry has no referrers API: listed the referrer in {repo}:{tag}");
    Ok(())
}

/// A layer to append to a classic signature image.
struct NewLayer {
    media_type: &'static str,
    blob: Vec<u8>,
    annotations: BTreeMap<String, String>,
}

/// Appends `layer` to the classic signature image at `tag` (creating it from an empty image),
/// as cosign's `mutate.AppendSignatures` does: the layer, its diff id and a history entry are
/// added; what the image held is kept. With `dupe_key`, a layer that already holds a
/// signature by that key over the same payload with the same annotations is not added again
/// (cosign's duplicate detector). Returns the new manifest's digest, or `None` if nothing was
/// pushed.
async fn append_classic(
    client: &Client,
    repo: &Repository,
    tag: &Tag,
    layer: NewLayer,
    dupe_key: Option<&PublicKey>,
) -> anyhow::Result<Option<Digest>> {
    let (mut manifest, mut config) =
        match manifest_if_any(client, repo, Reference::Tag(tag.clone())).await? {
            None => (
                GoManifest {
                    schema_version: 2,
                    media_type: media_type::OCI_MANIFEST.to_owned(),
                    // Replaced below by the config pushed; only its media type is kept.
                    config: GoDescriptor::new(
                        OCI_CONFIG,
                        Digest::compute(Algorithm::Sha256, b""),
                        0,
                    ),
                    layers: Vec::new(),
                    annotations: None,
                    subject: None,
                    artifact_type: None,
                },
                SignatureConfig::empty(),
            ),
            Some(existing) => {
                let manifest: GoManifest = serde_json::from_slice(&existing.bytes)
                    .with_context(|| format!("{repo}:{tag} is not an image manifest"))?;
                let bytes = client
                    .get_blob(repo, &manifest.config.digest, MAX_SMALL_BLOB)
                    .await
                    .with_context(|| format!("cannot read the config of {repo}:{tag}"))?;
                let config: SignatureConfig =
                    serde_json::from_slice(&bytes).with_context(|| {
                        format!("the config of {repo}:{tag} is not an image config")
                    })?;
                (manifest, config)
            }
        };
    let digest = Digest::compute(Algorithm::Sha256, &layer.blob);
    if let Some(key) = dupe_key {
        for existing in &manifest.layers {
            if is_duplicate(existing, &layer, &digest, key) {
                return Ok(None);
            }
        }
    }
    let mut desc = push_blob(client, repo, layer.media_type, layer.blob).await?;
    desc.annotations = Some(layer.annotations);
    manifest.layers.push(desc);
    config.rootfs.diff_ids.push(digest);
    config.history.push(History {
        author: None,
        created: go_zero_time(),
        created_by: None,
        comment: None,
        empty_layer: false,
    });
    let config_media_type = manifest.config.media_type.clone();
    manifest.config = push_blob(
        client,
        repo,
        &config_media_type,
        go_json(&config).into_bytes(),
    )
    .await?;
    // go-containerregistry does not carry a subject over to the appended image.
    manifest.subject = None;
    let media = if manifest.media_type.is_empty() {
        media_type::OCI_MANIFEST.to_owned()
    } else {
        manifest.media_type.clone()
    };
    let pushed = client
        .push_manifest(
            repo,
            &Reference::Tag(tag.clone()),
            &media,
            Bytes::from(go_json(&manifest).into_bytes()),
        )
        .await
        .with_context(|| format!("cannot push {repo}:{tag}"))?;
    Ok(Some(pushed.digest))
}

/// cosign's duplicate detector: same payload, same media type, every new annotation (but the
/// signature) already there, and the existing signature verifies with the signing key.
fn is_duplicate(existing: &GoDescriptor, new: &NewLayer, digest: &Digest, key: &PublicKey) -> bool {
    let empty = BTreeMap::new();
    let annotations = existing.annotations.as_ref().unwrap_or(&empty);
    let same_annotations = new
        .annotations
        .iter()
        .filter(|(k, _)| k.as_str() != SIGNATURE_ANNOTATION)
        .all(|(k, v)| annotations.get(k) == Some(v));
    if existing.digest != *digest || existing.media_type != new.media_type || !same_annotations {
        return false;
    }
    annotations
        .get(SIGNATURE_ANNOTATION)
        .filter(|s| !s.is_empty())
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .is_some_and(|sig| key.verify(key.default_scheme(), &new.blob, &sig).is_ok())
}

// ---------------------------------------------------------------------------------------------
// Verifying

/// Who must have signed, with the trusted root prepared.
pub(crate) struct Trust {
    identity: Identity,
    verifier: Verifier,
    has_root: bool,
    options: Options,
}

impl Trust {
    fn load(args: &TrustArgs) -> anyhow::Result<Trust> {
        let (identity, root) = args.load()?;
        Ok(Trust::new(identity, root))
    }

    /// Trust in one identity, against `root` (keyless) or no root (a key).
    pub(crate) fn new(identity: Identity, root: Option<verify::trust_root::TrustedRoot>) -> Trust {
        Trust {
            identity,
            has_root: root.is_some(),
            verifier: Verifier::new(root.unwrap_or_default()),
            options: Options {
                now: Timestamp::from_system_time(std::time::SystemTime::now()),
                allow_no_tlog_with_key: true,
            },
        }
    }

    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            name: "the signer",
            identity: &self.identity,
            verifier: &self.verifier,
            has_root: self.has_root,
        }
    }
}

/// Where a signature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Listed by the registry's referrers API.
    ReferrersApi,
    /// Listed in the referrers tag schema's index.
    ReferrersTag,
    /// A layer of the classic `.sig` or `.att` image.
    Classic,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::ReferrersApi => "referrers API",
            Source::ReferrersTag => "referrers tag",
            Source::Classic => "classic tag",
        }
    }
}

/// One signature or attestation found, and what became of it.
pub(crate) struct Finding {
    /// What it is and where: "bundle referrer sha256:..", ".sig layer 2 (sha256:..)".
    what: String,
    /// The digest that names it: the referrer's manifest, or the classic layer's blob.
    pub digest: Digest,
    source: Source,
    pub outcome: Outcome,
}

pub(crate) enum Outcome {
    Verified {
        signer: VerifiedSigner,
        predicate_type: Option<String>,
        /// What was signed, as signed: the statement, or the simple-signing payload.
        payload: Option<Value>,
    },
    /// Examined and not verified.
    Rejected(String),
    /// Not examined: not what was asked for (its annotations or subject say so).
    Skipped(String),
    /// Could not be examined: the registry failed.
    Unreachable(String),
}

impl From<evidence::Outcome> for Outcome {
    fn from(outcome: evidence::Outcome) -> Outcome {
        match outcome {
            evidence::Outcome::Verified(p) => Outcome::Verified {
                signer: p.signer,
                predicate_type: p.predicate_type,
                payload: p.payload,
            },
            evidence::Outcome::Rejected(r) => Outcome::Rejected(r),
            evidence::Outcome::Skipped(r) => Outcome::Skipped(r),
        }
    }
}

pub(crate) struct Report {
    /// The image as given.
    image: String,
    pub repository: String,
    /// The tag the digest was resolved from.
    tag: Option<String>,
    pub digest: Digest,
    want: Want,
    pub findings: Vec<Finding>,
    /// Problems with the layouts themselves (a referrers tag that is not an index).
    notes: Vec<String>,
}

async fn examine_image(
    trust: TrustArgs,
    registry: RegistryArgs,
    image: &str,
    want: Want,
) -> anyhow::Result<Report> {
    let trust = Trust::load(&trust)?;
    examine_with(&trust, &registry, image, want).await
}

/// [`examine_image`] with the trust already prepared (`policy eval` examines an image once
/// per authority of a policy).
pub(crate) async fn examine_with(
    trust: &Trust,
    registry: &RegistryArgs,
    image: &str,
    want: Want,
) -> anyhow::Result<Report> {
    let image = image_ref(image)?;
    let client = registry_client(&image, registry)?;
    let repo = image.repository();
    // A digest is verified as given, as cosign does; a tag names the digest it points to now.
    let digest = match image.digest() {
        Some(d) => d.clone(),
        None => {
            client
                .resolve(repo, &image.reference())
                .await
                .with_context(|| format!("cannot resolve {image}"))?
                .digest
        }
    };
    let mut report = Report {
        image: image.to_string(),
        repository: repo.to_string(),
        tag: image
            .tag()
            .filter(|_| image.digest().is_none())
            .map(ToString::to_string),
        digest: digest.clone(),
        want,
        findings: Vec::new(),
        notes: Vec::new(),
    };
    let referrers = list_bundle_referrers(&client, repo, &digest, &mut report.notes).await?;
    for (desc, source) in referrers {
        let finding =
            examine_referrer(&client, repo, &digest, &desc, source, trust, &report.want).await;
        report.findings.push(finding);
    }
    let suffix = match report.want {
        // The verbs ask for one or the other, never `Any`.
        Want::Signatures | Want::Any => "sig",
        Want::Attestations(_) => "att",
    };
    // A classic tag that cannot be read as a signature image is noted, not an error: the
    // signatures found elsewhere still count.
    let tag = match classic_tag(&digest, suffix) {
        Ok(tag) => tag,
        Err(e) => {
            report.notes.push(e.to_string());
            return Ok(report);
        }
    };
    let Some(sig_image) = manifest_if_any(&client, repo, Reference::Tag(tag.clone())).await? else {
        return Ok(report);
    };
    let manifest = match Manifest::parse(Some(&sig_image.media_type), &sig_image.bytes) {
        Ok(m) if m.kind == ManifestKind::Image => m,
        Ok(_) => {
            report
                .notes
                .push(format!("{repo}:{tag} is an index, not a signature image"));
            return Ok(report);
        }
        Err(e) => {
            report
                .notes
                .push(format!("{repo}:{tag} is not a valid manifest: {e}"));
            return Ok(report);
        }
    };
    if manifest.layers.len() > MAX_LAYERS {
        report.notes.push(format!(
            "{repo}:{tag} has {} layers; only the first {MAX_LAYERS} are examined",
            manifest.layers.len()
        ));
    }
    for (i, layer) in manifest.layers.iter().take(MAX_LAYERS).enumerate() {
        let what = format!(".{suffix} layer {} ({})", i + 1, layer.digest);
        let outcome = examine_classic(&client, &image, &digest, layer, trust, &report.want).await;
        report.findings.push(Finding {
            what,
            digest: layer.digest.clone(),
            source: Source::Classic,
            outcome,
        });
    }
    Ok(report)
}

/// Bundle referrers of `digest`: from the referrers API when the registry has one, and from
/// the referrers tag schema's index (which a client writes where there is no API, and which
/// may outlive an upgrade to one). Deduplicated by digest.
async fn list_bundle_referrers(
    client: &Client,
    repo: &Repository,
    digest: &Digest,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<(Descriptor, Source)>> {
    let mut out: Vec<(Descriptor, Source)> = Vec::new();
    let api = referrers_api(client, repo, digest, Some(MEDIA_TYPE_V0_3))
        .await
        .with_context(|| format!("cannot list the referrers of {repo}@{digest}"))?;
    for d in api.unwrap_or_default() {
        out.push((d, Source::ReferrersApi));
    }
    let tag = referrers_tag(digest);
    if let Some(index) = manifest_if_any(client, repo, Reference::Tag(tag.clone())).await? {
        match Manifest::parse(Some(&index.media_type), &index.bytes) {
            Ok(m) if m.kind == ManifestKind::Index => {
                for d in m.manifests {
                    let is_bundle = d.artifact_type.as_deref() == Some(MEDIA_TYPE_V0_3);
                    if is_bundle && !out.iter().any(|(o, _)| o.digest == d.digest) {
                        out.push((d, Source::ReferrersTag));
                    }
                }
            }
            Ok(_) => notes.push(format!(
                "{repo}:{tag} is not an image index, so it lists no referrers"
            )),
            Err(e) => notes.push(format!("{repo}:{tag} is not a valid manifest: {e}")),
        }
    }
    Ok(out)
}

/// Examines one bundle referrer: its manifest must have the image as subject and one bundle
/// layer; the bundle must verify over the image's digest, and hold what was asked for.
async fn examine_referrer(
    client: &Client,
    repo: &Repository,
    image: &Digest,
    desc: &Descriptor,
    source: Source,
    trust: &Trust,
    want: &Want,
) -> Finding {
    let what = format!("bundle referrer {}", desc.digest);
    let outcome = async {
        let annotated = desc
            .annotations
            .as_ref()
            .and_then(|a| a.get(evidence::BUNDLE_PREDICATE_TYPE_ANNOTATION));
        if let Some(reason) = evidence::skip_by_predicate_type(annotated.map(String::as_str), want)
        {
            return Outcome::Skipped(reason);
        }
        let pulled = match client
            .get_manifest(repo, &Reference::Digest(desc.digest.clone()))
            .await
        {
            Ok(m) => m,
            Err(e) => return Outcome::Unreachable(error_line(&e)),
        };
        let layer = match evidence::referrer_bundle_layer(
            image,
            Some(&pulled.media_type),
            &pulled.bytes,
            want,
        ) {
            Ok(layer) => layer,
            Err(outcome) => return outcome.into(),
        };
        let bytes = match client.get_blob(repo, &layer.digest, MAX_LARGE_BLOB).await {
            Ok(b) => b,
            Err(e) => return Outcome::Unreachable(error_line(&e)),
        };
        evidence::verify_bundle(image, &bytes, &[trust.candidate()], want, &trust.options).into()
    }
    .await;
    Finding {
        what,
        digest: desc.digest.clone(),
        source,
        outcome,
    }
}

/// Examines one layer of a classic `.sig` or `.att` image.
async fn examine_classic(
    client: &Client,
    image: &ImageRef,
    digest: &Digest,
    layer: &Descriptor,
    trust: &Trust,
    want: &Want,
) -> Outcome {
    if let Err(outcome) = evidence::classic_layer(layer, want) {
        return outcome.into();
    }
    let limit = match want {
        Want::Signatures | Want::Any => MAX_SMALL_BLOB,
        Want::Attestations(_) => MAX_LARGE_BLOB,
    };
    let blob = match client
        .get_blob(image.repository(), &layer.digest, limit)
        .await
    {
        Ok(b) => b,
        Err(e) => return Outcome::Unreachable(error_line(&e)),
    };
    let repo = image.repository();
    let same_repository =
        |reference: &str| ImageRef::parse(reference).is_ok_and(|r| r.repository() == repo);
    let empty = BTreeMap::new();
    evidence::verify_classic(
        &blob,
        layer.annotations.as_ref().unwrap_or(&empty),
        &Image {
            digest,
            same_repository: &same_repository,
        },
        &[trust.candidate()],
        want,
        &trust.options,
    )
    .into()
}

/// An error and its causes on one line.
fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn signer_text(signer: &VerifiedSigner) -> String {
    match signer {
        VerifiedSigner::Key(fp) => format!("key sha256:{fp}"),
        VerifiedSigner::Certificate { identity, issuer } => {
            format!("{identity} (issuer {issuer})")
        }
    }
}

impl Report {
    fn noun(&self) -> &'static str {
        match self.want {
            Want::Signatures => "signature",
            Want::Attestations(_) => "attestation",
            Want::Any => "signature or attestation",
        }
    }

    /// Prints the report and decides the exit code: 0 if one verified, 2 if none did and the
    /// registry failed for one (the verdict is incomplete), else 1.
    fn finish(self, output: Output) -> ExitCode {
        let noun = self.noun();
        match &self.tag {
            Some(tag) => eprintln!("{}@{} (tag {tag}):", self.repository, self.digest),
            None => eprintln!("{}@{}:", self.repository, self.digest),
        }
        for note in &self.notes {
            eprintln!("  note: {note}");
        }
        let mut verified = 0;
        let mut unreachable = 0;
        let mut examined = 0;
        for f in &self.findings {
            let line = match &f.outcome {
                Outcome::Verified {
                    signer,
                    predicate_type,
                    ..
                } => {
                    verified += 1;
                    examined += 1;
                    match predicate_type {
                        Some(t) if matches!(self.want, Want::Attestations(_)) => {
                            format!("verified: {t}, signed by {}", signer_text(signer))
                        }
                        _ => format!("verified: signed by {}", signer_text(signer)),
                    }
                }
                Outcome::Rejected(reason) => {
                    examined += 1;
                    format!("rejected: {reason}")
                }
                Outcome::Skipped(reason) => format!("skipped: {reason}"),
                Outcome::Unreachable(reason) => {
                    unreachable += 1;
                    format!("not examined: {reason}")
                }
            };
            eprintln!("  {} [{}]: {line}", f.what, f.source.as_str());
        }
        if let Output::Json = output {
            println!("{}", self.json());
        }
        if verified > 0 {
            eprintln!("Verified OK: {verified} of {examined} {noun}s examined verified");
            ExitCode::SUCCESS
        } else if unreachable > 0 {
            eprintln!(
                "vouch: the registry failed for {unreachable} {noun}s; none of the others verifies"
            );
            ExitCode::from(2)
        } else if examined == 0 {
            eprintln!("vouch: not verified: no {noun}s found for {}", self.digest);
            ExitCode::from(1)
        } else if examined == 1 {
            eprintln!("vouch: not verified: the one {noun} found does not verify");
            ExitCode::from(1)
        } else {
            eprintln!("vouch: not verified: none of the {examined} {noun}s found verifies");
            ExitCode::from(1)
        }
    }

    fn json(&self) -> Value {
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                let mut v = serde_json::json!({ "what": f.what, "source": f.source.as_str() });
                match &f.outcome {
                    Outcome::Verified {
                        signer,
                        predicate_type,
                        payload,
                    } => {
                        v["result"] = "verified".into();
                        v["signer"] = match signer {
                            VerifiedSigner::Key(fp) => {
                                serde_json::json!({ "key": format!("sha256:{fp}") })
                            }
                            VerifiedSigner::Certificate { identity, issuer } => {
                                serde_json::json!({ "identity": identity, "issuer": issuer })
                            }
                        };
                        if let Some(t) = predicate_type {
                            v["predicateType"] = t.as_str().into();
                        }
                        if let Some(p) = payload {
                            v["payload"] = p.clone();
                        }
                    }
                    Outcome::Rejected(r) => {
                        v["result"] = "rejected".into();
                        v["reason"] = r.as_str().into();
                    }
                    Outcome::Skipped(r) => {
                        v["result"] = "skipped".into();
                        v["reason"] = r.as_str().into();
                    }
                    Outcome::Unreachable(r) => {
                        v["result"] = "error".into();
                        v["reason"] = r.as_str().into();
                    }
                }
                v
            })
            .collect();
        let verified = self
            .findings
            .iter()
            .any(|f| matches!(f.outcome, Outcome::Verified { .. }));
        serde_json::json!({
            "image": self.image,
            "digest": self.digest.as_str(),
            "verified": verified,
            "notes": self.notes,
            "findings": findings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(bytes: &[u8]) -> Digest {
        Digest::compute(Algorithm::Sha256, bytes)
    }

    #[test]
    fn referrer_manifests_have_cosigns_fields_in_cosigns_order() {
        let subject = GoDescriptor::new(media_type::OCI_MANIFEST, digest(b"image"), 1234);
        let mut config = GoDescriptor::new(media_type::OCI_EMPTY, digest(EMPTY_CONFIG), 2);
        config.artifact_type = Some(MEDIA_TYPE_V0_3.to_owned());
        let manifest = GoManifest {
            schema_version: 2,
            media_type: media_type::OCI_MANIFEST.to_owned(),
            config,
            layers: vec![GoDescriptor::new(MEDIA_TYPE_V0_3, digest(b"bundle"), 6)],
            annotations: Some(BTreeMap::from([
                (
                    CREATED_ANNOTATION.to_owned(),
                    "2026-01-02T03:04:05Z".to_owned(),
                ),
                (
                    BUNDLE_CONTENT_ANNOTATION.to_owned(),
                    "dsse-envelope".to_owned(),
                ),
                (
                    BUNDLE_PREDICATE_TYPE_ANNOTATION.to_owned(),
                    SIGN_PREDICATE_TYPE.to_owned(),
                ),
            ])),
            subject: Some(subject),
            artifact_type: Some(MEDIA_TYPE_V0_3.to_owned()),
        };
        let want = format!(
            concat!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","#,
                r#""config":{{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"{}","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}},"#,
                r#""layers":[{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":6,"digest":"{}"}}],"#,
                r#""annotations":{{"dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1","org.opencontainers.image.created":"2026-01-02T03:04:05Z"}},"#,
                r#""subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1234,"digest":"{}"}},"#,
                r#""artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}}"#
            ),
            digest(EMPTY_CONFIG),
            digest(b"bundle"),
            digest(b"image"),
        );
        assert_eq!(go_json(&manifest), want);
        // The empty config is the OCI empty descriptor's blob.
        assert_eq!(
            digest(EMPTY_CONFIG).as_str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn signature_configs_are_go_containerregistrys() {
        let mut config = SignatureConfig::empty();
        config.rootfs.diff_ids.push(digest(b"payload"));
        config.history.push(History {
            author: None,
            created: go_zero_time(),
            created_by: None,
            comment: None,
            empty_layer: false,
        });
        assert_eq!(
            go_json(&config),
            format!(
                r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{{"created":"0001-01-01T00:00:00Z"}}],"os":"","rootfs":{{"type":"layers","diff_ids":["{}"]}},"config":{{}}}}"#,
                digest(b"payload")
            )
        );
        // What cosign wrote reads back unchanged.
        let again: SignatureConfig = serde_json::from_str(&go_json(&config)).unwrap();
        assert_eq!(go_json(&again), go_json(&config));
    }

    #[test]
    fn sign_statements_are_cosigns() {
        let d = digest(b"image");
        let none = BTreeMap::new();
        assert_eq!(
            String::from_utf8(sign_statement("registry.example/prod/app", &d, &none)).unwrap(),
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"registry.example/prod/app","digest":{{"sha256":"{}"}},"annotations":{{}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{{}}}}"#,
                d.hex()
            )
        );
        let annotated = BTreeMap::from([("env".to_owned(), "prod".to_owned())]);
        let st = Statement::parse(&sign_statement("prod/app", &d, &annotated)).unwrap();
        assert_eq!(st.predicate_type, SIGN_PREDICATE_TYPE);
        assert!(st.subject_for(&d).is_some());
    }

    #[test]
    fn annotations_and_names() {
        assert_eq!(
            parse_annotations(&["a=b=c".into(), "k=".into()]).unwrap(),
            BTreeMap::from([
                ("a".to_owned(), "b=c".to_owned()),
                ("k".to_owned(), String::new())
            ])
        );
        assert!(parse_annotations(&["novalue".into()]).is_err());
        assert!(parse_annotations(&["=v".into()]).is_err());
        let hub = ImageRef::parse("busybox").unwrap();
        assert_eq!(
            go_repository_name(hub.repository()),
            "index.docker.io/library/busybox"
        );
        let local = ImageRef::parse("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(
            go_repository_name(local.repository()),
            "127.0.0.1:5000/team/app"
        );
        let d = digest(b"x");
        assert_eq!(
            classic_tag(&d, "sig").unwrap().as_str(),
            format!("sha256-{}.sig", d.hex())
        );
    }
}
