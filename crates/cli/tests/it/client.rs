//! The `client` crate against real registries: `vouch serve` (open, and with users and basic
//! auth) and CNCF Distribution (`docker-registry`: plain, over TLS with a private CA, and behind
//! a Bearer token server started here that signs tokens Distribution verifies), plus a stub
//! registry that misbehaves on purpose (redirects elsewhere, lies about content, sends too much).
//!
//! Tools: `docker-registry` and `openssl` (installed by `.ci/install`); a missing tool fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use client::{
    BlobPush, Bytes, Client, ClientConfig, CredentialSource, Credentials, DockerConfig, Error,
    ErrorCode, ImageRef, Registry, Repository, referrers_tag,
};
use oci::{Algorithm, Digest, Reference, Tag, media_type};
use serde_json::json;

use crate::common::*;

const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

// ---------------------------------------------------------------------------------------------
// Registries

/// The same operations against `vouch serve` and Distribution 2.8, anonymous on both:
/// blobs (push, skip existing, exists, pull verified and size-limited), manifests (push by tag
/// and by digest, resolve, pull byte-identical), tags, the spec's error codes, delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_against_vouch() {
    let server = Server::start();
    let client = http_client(&server.host(), CredentialSource::Anonymous);
    round_trip(&client, &repo(&server.host(), "team/app")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_against_distribution() {
    let dist = Distribution::start(DistOptions::default());
    let client = http_client(&dist.host, CredentialSource::Anonymous);
    round_trip(&client, &repo(&dist.host, "team/app")).await;
}

/// Distribution over HTTPS with a certificate from a private CA: the client trusts it only
/// once given the CA, never falls back to HTTP unless allowed, and when allowed still prefers
/// HTTPS because it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_against_distribution() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::create(tmp.path());
    let dist = Distribution::start(DistOptions {
        tls: Some((pki.server_cert.clone(), pki.server_key.clone())),
        ..DistOptions::default()
    });
    let repository = repo(&dist.host, "tls/app");

    // The system roots do not know the private CA: the handshake fails, and nothing falls
    // back to plain HTTP.
    let untrusting = Client::new(ClientConfig::default()).unwrap();
    let err = untrusting.list_tags(&repository).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    let chain = error_chain(&err);
    assert!(
        chain.contains("https://") && chain.to_lowercase().contains("certificate"),
        "{chain}"
    );

    let mut config = ClientConfig::default();
    let ca = std::fs::read(&pki.ca_cert).unwrap();
    assert_eq!(config.add_root_certificates_pem(&ca).unwrap(), 1);
    let trusting = Client::new(config.clone()).unwrap();
    round_trip(&trusting, &repository).await;

    // Allowing HTTP does not mean using it: HTTPS answers, so HTTPS it is.
    config.dangerous().allow_http(&repository.registry);
    let allowing = Client::new(config).unwrap();
    let image = TestImage::new(1);
    image.push(&allowing, &repository, "https-still").await;
    assert_eq!(
        allowing
            .resolve(&repository, &tag_ref("https-still"))
            .await
            .unwrap()
            .digest,
        image.digest
    );
    assert!(
        matches!(
            ClientConfig::default().add_root_certificates_pem(b"no pem here"),
            Err(Error::NoRootCertificates)
        ),
        "a file without certificates is refused"
    );
}

/// Without `allow_http` for it, a plain-HTTP registry is unreachable: the client speaks HTTPS
/// only and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_used_only_when_allowed() {
    let server = Server::start();
    let repository = repo(&server.host(), "team/app");
    let strict = Client::new(ClientConfig::default()).unwrap();
    let err = strict.list_tags(&repository).await.unwrap_err();
    match &err {
        Error::Transport { url, .. } => assert!(url.starts_with("https://"), "{url}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
    // Allowing another registry changes nothing for this one.
    let mut config = ClientConfig::default();
    config
        .dangerous()
        .allow_http(&Registry::parse("127.0.0.1:1").unwrap());
    let other = Client::new(config).unwrap();
    assert!(matches!(
        other.list_tags(&repository).await,
        Err(Error::Transport { .. })
    ));
    let allowed = http_client(&server.host(), CredentialSource::Anonymous);
    assert!(
        allowed
            .list_tags(&repository)
            .await
            .is_err_and(|e| e.is_not_found())
    );
}

/// Referrers on vouch: the push reports `OCI-Subject`, the referrers API lists the artifact,
/// with the artifactType filter applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_api_on_vouch() {
    let server = Server::start();
    let client = http_client(&server.host(), CredentialSource::Anonymous);
    let repository = repo(&server.host(), "team/signed");
    let image = TestImage::new(2);
    image.push(&client, &repository, "v1").await;
    let subject = image.descriptor();

    let empty = client
        .referrers(&repository, &image.digest, None)
        .await
        .unwrap();
    assert_eq!(empty, Some(vec![]), "vouch has the API: no referrers yet");

    let artifact = Artifact::new(&subject, b"{\"bundle\":1}");
    let pushed = artifact.push(&client, &repository).await;
    assert_eq!(pushed.subject.as_ref(), Some(&image.digest));

    let all = client
        .referrers(&repository, &image.digest, None)
        .await
        .unwrap()
        .expect("referrers API");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].digest, artifact.digest);
    assert_eq!(all[0].artifact_type.as_deref(), Some(BUNDLE_TYPE));
    assert_eq!(all[0].media_type, media_type::OCI_MANIFEST);
    let only = client
        .referrers(&repository, &image.digest, Some(BUNDLE_TYPE))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(only, all);
    let none = client
        .referrers(&repository, &image.digest, Some("application/x.other+json"))
        .await
        .unwrap()
        .unwrap();
    assert!(none.is_empty());
}

/// Referrers on Distribution 2.8, which has no referrers API: the push reports no subject,
/// the API answers 404 (so `None`), and the referrers tag schema works as the fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_fallback_on_distribution() {
    let dist = Distribution::start(DistOptions::default());
    let client = http_client(&dist.host, CredentialSource::Anonymous);
    let repository = repo(&dist.host, "team/signed");
    let image = TestImage::new(3);
    image.push(&client, &repository, "v1").await;
    let artifact = Artifact::new(&image.descriptor(), b"{\"bundle\":2}");
    let pushed = artifact.push(&client, &repository).await;
    assert_eq!(
        pushed.subject, None,
        "Distribution 2.8 does not index subjects"
    );
    assert_eq!(
        client
            .referrers(&repository, &image.digest, None)
            .await
            .unwrap(),
        None
    );

    // The tag schema, as a signer falls back to it: read the index (none yet), write it.
    let tag = referrers_tag(&image.digest);
    assert_eq!(tag.as_str(), format!("sha256-{}", image.digest.hex()));
    let missing = client
        .get_manifest(&repository, &Reference::Tag(tag.clone()))
        .await
        .unwrap_err();
    assert!(missing.has_code(&ErrorCode::ManifestUnknown), "{missing}");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": [{
            "mediaType": media_type::OCI_MANIFEST,
            "digest": artifact.digest,
            "size": artifact.manifest.len(),
            "artifactType": BUNDLE_TYPE,
        }],
    }))
    .unwrap();
    client
        .push_manifest(
            &repository,
            &Reference::Tag(tag.clone()),
            media_type::OCI_INDEX,
            Bytes::from(index.clone()),
        )
        .await
        .unwrap();
    let read = client
        .get_manifest(&repository, &Reference::Tag(tag))
        .await
        .unwrap();
    assert_eq!(read.bytes, index);
    assert_eq!(read.media_type, media_type::OCI_INDEX);
    let parsed = oci::Manifest::parse(Some(&read.media_type), &read.bytes).unwrap();
    assert_eq!(parsed.manifests[0].digest, artifact.digest);
}

// ---------------------------------------------------------------------------------------------
// Authentication

/// vouch with users: anonymous callers are challenged, a reader is DENIED pushing (and the
/// error keeps vouch's code and message), a writer pushes with explicit credentials or with
/// credentials from a docker config file, a wrong password is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_against_vouch() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("vouch.toml");
    write_file(
        &config,
        &format!(
            r#"
[[auth.users]]
name = "ci"
password = "{}"
access = [{{ repos = "team/**", roles = ["push", "delete"] }}]

[[auth.users]]
name = "reader"
password = "{}"
access = [{{ repos = "**", roles = ["pull"] }}]
"#,
            bcrypt_hash("ci-pass"),
            bcrypt_hash("reader-pass")
        ),
    );
    let server = Server::start_with(ServerOptions {
        config: Some(config),
        ..ServerOptions::default()
    });
    let host = server.host();
    let repository = repo(&host, "team/app");
    let image = TestImage::new(4);

    let anonymous = http_client(&host, CredentialSource::Anonymous);
    let err = anonymous
        .push_blob(&repository, &image.config_digest, image.config.clone())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED), "{err}");
    assert!(err.has_code(&ErrorCode::Unauthorized), "{err}");

    let wrong = http_client(&host, basic("ci", "not-the-password"));
    let err = wrong.list_tags(&repository).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED), "{err}");

    let ci = http_client(&host, basic("ci", "ci-pass"));
    image.push(&ci, &repository, "v1").await;
    round_trip(&ci, &repo(&host, "team/second")).await;

    let reader = http_client(&host, basic("reader", "reader-pass"));
    let pulled = reader
        .get_manifest(&repository, &tag_ref("v1"))
        .await
        .unwrap();
    assert_eq!(pulled.bytes, image.manifest);
    let err = reader
        .push_manifest(
            &repository,
            &tag_ref("v2"),
            media_type::OCI_MANIFEST,
            image.manifest.clone(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN), "{err}");
    assert!(err.has_code(&ErrorCode::Denied), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("DENIED: user \"reader\" may not push repository team/app"),
        "{text}"
    );
    let err = reader
        .delete_manifest(&repository, &Reference::Digest(image.digest.clone()))
        .await
        .unwrap_err();
    assert!(err.has_code(&ErrorCode::Denied), "{err}");

    // Credentials from a docker config file (`auths.<host>.auth`), found by DOCKER_CONFIG's
    // directory layout.
    let docker_dir = tmp.path().join("docker");
    std::fs::create_dir(&docker_dir).unwrap();
    write_file(
        &docker_dir.join("config.json"),
        &json!({"auths": {host.clone(): {"auth": b64("ci:ci-pass")}}}).to_string(),
    );
    let from_file = http_client(
        &host,
        CredentialSource::DockerConfig(DockerConfig::load_dir(&docker_dir).unwrap()),
    );
    let other = TestImage::new(5);
    other
        .push(&from_file, &repository, "from-docker-config")
        .await;
    from_file
        .delete_manifest(&repository, &Reference::Digest(other.digest.clone()))
        .await
        .unwrap();
    // A config without an entry for this host means anonymous.
    write_file(
        &docker_dir.join("config.json"),
        &json!({"auths": {"elsewhere.example": {"auth": b64("ci:ci-pass")}}}).to_string(),
    );
    let no_entry = http_client(
        &host,
        CredentialSource::DockerConfig(DockerConfig::load_dir(&docker_dir).unwrap()),
    );
    assert_eq!(
        no_entry.list_tags(&repository).await.unwrap_err().status(),
        Some(StatusCode::UNAUTHORIZED)
    );
}

/// Distribution configured for token auth, trusting a key whose certificate only the token
/// server here holds: the client follows the Bearer challenge to the realm with Basic
/// credentials, caches one token per scope, gets pull-only anonymous tokens, reports the
/// token server's refusal, and exchanges a docker-config identity token (OAuth2 refresh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_flow_against_distribution() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::create(tmp.path());
    let tokens = TokenServer::start(&pki).await;
    let dist = Distribution::start(DistOptions {
        token: Some((tokens.realm(), pki.token_cert.clone())),
        ..DistOptions::default()
    });
    let repository = repo(&dist.host, "team/app");
    let image = TestImage::new(6);

    // Alice may push, pull and delete. One token per scope, reused across operations.
    let alice = http_client(&dist.host, basic("alice", "wonderland"));
    image.push(&alice, &repository, "v1").await;
    let pulled = alice
        .get_manifest(&repository, &tag_ref("v1"))
        .await
        .unwrap();
    assert_eq!(pulled.bytes, image.manifest);
    assert_eq!(
        alice
            .get_blob(&repository, &image.layer_digest, 1 << 30)
            .await
            .unwrap(),
        image.layer
    );
    alice.resolve(&repository, &tag_ref("v1")).await.unwrap();
    assert!(
        alice
            .list_tags(&repository)
            .await
            .unwrap()
            .iter()
            .any(|t| t.as_str() == "v1")
    );
    alice
        .delete_manifest(&repository, &Reference::Digest(image.digest.clone()))
        .await
        .unwrap();
    let seen = tokens.requests();
    let scopes: Vec<&str> = seen.iter().map(|r| r.scopes[0].as_str()).collect();
    assert_eq!(
        scopes,
        [
            "repository:team/app:pull,push",
            "repository:team/app:pull",
            "repository:team/app:delete",
        ],
        "one token request per scope: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|r| r.user.as_deref() == Some("alice") && r.method == "GET")
    );
    assert!(seen.iter().all(|r| r.service == "vouch-test-registry"));

    // Anonymous callers get pull-only tokens: pulling works, pushing is UNAUTHORIZED with
    // Distribution's insufficient-scope error.
    image.push(&alice, &repository, "v1").await;
    let anonymous = http_client(&dist.host, CredentialSource::Anonymous);
    assert_eq!(
        anonymous
            .get_manifest(&repository, &tag_ref("v1"))
            .await
            .unwrap()
            .digest,
        image.digest
    );
    let err = anonymous
        .push_manifest(
            &repository,
            &tag_ref("v2"),
            media_type::OCI_MANIFEST,
            image.manifest.clone(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED), "{err}");
    assert!(err.has_code(&ErrorCode::Unauthorized), "{err}");

    // The token server's refusal, with its message.
    let wrong = http_client(&dist.host, basic("alice", "looking-glass"));
    match wrong.list_tags(&repository).await.unwrap_err() {
        Error::TokenServer {
            status, message, ..
        } => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(message, "incorrect username or password");
        }
        other => panic!("expected the token server's refusal, got {other:?}"),
    }

    // An identity token from the docker config is exchanged with the OAuth2 refresh grant
    // (POST), and the server's `access_token` is used.
    let docker_dir = tmp.path().join("docker");
    std::fs::create_dir(&docker_dir).unwrap();
    write_file(
        &docker_dir.join("config.json"),
        &json!({"auths": {dist.host.clone(): {
            "auth": b64("<token>:"),
            "identitytoken": "refresh-for-alice",
        }}})
        .to_string(),
    );
    let before = tokens.requests().len();
    let oauth = http_client(
        &dist.host,
        CredentialSource::DockerConfig(DockerConfig::load_dir(&docker_dir).unwrap()),
    );
    TestImage::new(7).push(&oauth, &repository, "oauth").await;
    let posts: Vec<_> = tokens.requests().into_iter().skip(before).collect();
    assert!(!posts.is_empty());
    assert!(
        posts
            .iter()
            .all(|r| r.method == "POST" && r.user.as_deref() == Some("alice")),
        "{posts:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A registry that misbehaves

/// A stub registry that demands Basic auth and redirects blob downloads to another host, as
/// registries backed by object storage do, and serves what a hostile registry would: content
/// that does not match its digest, a body larger than the caller's limit without a
/// Content-Length, a manifest whose Docker-Content-Digest lies, a redirect to plain HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_hostile_answers() {
    let stub = Stub::start().await;
    let repository = repo(&stub.registry, "stub/app");
    let mut config = ClientConfig::new(basic("user", "pass"));
    config
        .dangerous()
        .allow_http(&repository.registry)
        .allow_http(&Registry::parse(&stub.storage).unwrap());
    let client = Client::new(config).unwrap();

    // The redirect is followed; the credentials stay with the registry.
    let good = Digest::compute(Algorithm::Sha256, STUB_BLOB);
    let blob = client.get_blob(&repository, &good, 1024).await.unwrap();
    assert_eq!(blob, STUB_BLOB);
    let log = stub.log();
    assert!(
        log.iter()
            .any(|l| l == &format!("storage GET /blob/{} auth=false", good.hex())),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l == &format!("registry GET /v2/stub/app/blobs/{good} auth=true")),
        "{log:?}"
    );

    // Bytes that do not hash to the digest asked for.
    let liar = Digest::compute(Algorithm::Sha256, b"what was asked for");
    let err = client.get_blob(&repository, &liar, 1024).await.unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");

    // An endless body without Content-Length stops at the caller's limit.
    let huge = Digest::compute(Algorithm::Sha256, b"huge");
    let err = client
        .get_blob(&repository, &huge, 1 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );

    // A declared Content-Length over the limit fails before reading.
    let err = client.get_blob(&repository, &good, 4).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 4, .. }), "{err:?}");

    // A manifest whose Docker-Content-Digest is not the digest of its bytes.
    let err = client
        .get_manifest(&repository, &tag_ref("lying"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    // HEAD without a digest falls back to GET, which computes it.
    let resolved = client
        .resolve(&repository, &tag_ref("honest"))
        .await
        .unwrap();
    assert_eq!(
        resolved.digest,
        Digest::compute(Algorithm::Sha256, STUB_MANIFEST.as_bytes())
    );
    assert_eq!(resolved.size, STUB_MANIFEST.len() as u64);
    assert_eq!(resolved.media_type, media_type::OCI_MANIFEST);

    // A redirect to plain HTTP on a host nobody allowed.
    let elsewhere = Digest::compute(Algorithm::Sha256, b"elsewhere");
    let err = client
        .get_blob(&repository, &elsewhere, 1024)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Redirect { .. }), "{err:?}");

    // A media type that cannot be a header is refused before anything is sent.
    let err = client
        .push_manifest(
            &repository,
            &tag_ref("x"),
            "application/x\r\nX-Injected: 1",
            Bytes::from_static(STUB_MANIFEST.as_bytes()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadMediaType(_)), "{err:?}");

    // Paginated tags are followed through Link headers.
    let tags: Vec<String> = client
        .list_tags(&repository)
        .await
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(tags, ["a", "b", "c"]);
}

// ---------------------------------------------------------------------------------------------
// The shared round trip

async fn round_trip(client: &Client, repository: &Repository) {
    let image = TestImage::new(9);
    // Blobs: uploaded once, then found.
    for (digest, bytes) in [
        (&image.config_digest, &image.config),
        (&image.layer_digest, &image.layer),
    ] {
        assert_eq!(client.blob_exists(repository, digest).await.unwrap(), None);
        assert_eq!(
            client
                .push_blob(repository, digest, bytes.clone())
                .await
                .unwrap(),
            BlobPush::Uploaded
        );
        assert_eq!(
            client
                .push_blob(repository, digest, bytes.clone())
                .await
                .unwrap(),
            BlobPush::Existed
        );
        assert_eq!(
            client.blob_exists(repository, digest).await.unwrap(),
            Some(bytes.len() as u64)
        );
    }
    // A blob whose bytes are not its digest is refused by the registry.
    let lie = Digest::compute(Algorithm::Sha256, b"something else");
    let err = client
        .push_blob(repository, &lie, Bytes::from_static(b"these bytes"))
        .await
        .unwrap_err();
    assert!(err.has_code(&ErrorCode::DigestInvalid), "{err}");

    // A manifest naming a blob the repository lacks.
    let missing = TestImage::new(10);
    let err = client
        .push_manifest(
            repository,
            &tag_ref("broken"),
            media_type::OCI_MANIFEST,
            missing.manifest.clone(),
        )
        .await
        .unwrap_err();
    assert!(err.has_code(&ErrorCode::ManifestBlobUnknown), "{err}");

    let pushed = client
        .push_manifest(
            repository,
            &tag_ref("v1"),
            media_type::OCI_MANIFEST,
            image.manifest.clone(),
        )
        .await
        .unwrap();
    assert_eq!(pushed.digest, image.digest);

    for reference in [tag_ref("v1"), Reference::Digest(image.digest.clone())] {
        let d = client.resolve(repository, &reference).await.unwrap();
        assert_eq!(d.digest, image.digest, "{reference}");
        assert_eq!(d.size, image.manifest.len() as u64);
        assert_eq!(d.media_type, media_type::OCI_MANIFEST);
        let m = client.get_manifest(repository, &reference).await.unwrap();
        assert_eq!(m.bytes, image.manifest, "byte-identical by {reference}");
        assert_eq!(m.digest, image.digest);
        assert_eq!(m.media_type, media_type::OCI_MANIFEST);
    }
    let layer = client
        .get_blob(repository, &image.layer_digest, image.layer.len() as u64)
        .await
        .unwrap();
    assert_eq!(layer, image.layer, "byte-identical layer");
    let err = client
        .get_blob(
            repository,
            &image.layer_digest,
            image.layer.len() as u64 - 1,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");

    // By digest, with no tag; then a second tag.
    let second = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": image.config_descriptor(),
        "layers": [],
        "annotations": {"second": "yes"},
    }))
    .unwrap();
    let second_digest = Digest::compute(Algorithm::Sha256, &second);
    let by_digest = client
        .push_manifest(
            repository,
            &Reference::Digest(second_digest.clone()),
            media_type::OCI_MANIFEST,
            Bytes::from(second.clone()),
        )
        .await
        .unwrap();
    assert_eq!(by_digest.digest, second_digest);
    let err = client
        .push_manifest(
            repository,
            &Reference::Digest(image.digest.clone()),
            media_type::OCI_MANIFEST,
            Bytes::from(second.clone()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ManifestNotDigest { .. }), "{err:?}");
    client
        .push_manifest(
            repository,
            &tag_ref("v2"),
            media_type::OCI_MANIFEST,
            Bytes::from(second),
        )
        .await
        .unwrap();
    let mut tags: Vec<String> = client
        .list_tags(repository)
        .await
        .unwrap()
        .iter()
        .map(Tag::to_string)
        .collect();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);

    // Unknown things carry the spec's codes.
    let err = client
        .get_manifest(repository, &tag_ref("nope"))
        .await
        .unwrap_err();
    assert!(
        err.is_not_found() && err.has_code(&ErrorCode::ManifestUnknown),
        "{err}"
    );
    let err = client
        .resolve(repository, &tag_ref("nope"))
        .await
        .unwrap_err();
    assert!(err.has_code(&ErrorCode::ManifestUnknown), "{err}");
    let err = client.get_blob(repository, &lie, 1024).await.unwrap_err();
    assert!(
        err.is_not_found() && err.has_code(&ErrorCode::BlobUnknown),
        "{err}"
    );

    // Delete by digest: gone.
    client
        .delete_manifest(repository, &Reference::Digest(image.digest.clone()))
        .await
        .unwrap();
    let err = client
        .get_manifest(repository, &Reference::Digest(image.digest.clone()))
        .await
        .unwrap_err();
    assert!(err.has_code(&ErrorCode::ManifestUnknown), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Content

/// A one-layer OCI image with random content.
struct TestImage {
    config: Bytes,
    config_digest: Digest,
    layer: Bytes,
    layer_digest: Digest,
    manifest: Bytes,
    digest: Digest,
}

impl TestImage {
    fn new(seed: u8) -> TestImage {
        let config = Bytes::from(
            serde_json::to_vec(&json!({
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": []},
                "config": {"Labels": {"seed": seed.to_string()}},
            }))
            .unwrap(),
        );
        let mut layer = vec![0u8; 300 * 1024];
        aws_lc_rs::rand::fill(&mut layer).unwrap();
        let layer = Bytes::from(layer);
        let config_digest = Digest::compute(Algorithm::Sha256, &config);
        let layer_digest = Digest::compute(Algorithm::Sha256, &layer);
        let manifest = Bytes::from(
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": media_type::OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": config.len(),
                },
                "layers": [{
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest,
                    "size": layer.len(),
                }],
            }))
            .unwrap(),
        );
        let digest = Digest::compute(Algorithm::Sha256, &manifest);
        TestImage {
            config,
            config_digest,
            layer,
            layer_digest,
            manifest,
            digest,
        }
    }

    fn config_descriptor(&self) -> serde_json::Value {
        json!({
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": self.config_digest,
            "size": self.config.len(),
        })
    }

    fn descriptor(&self) -> serde_json::Value {
        json!({
            "mediaType": media_type::OCI_MANIFEST,
            "digest": self.digest,
            "size": self.manifest.len(),
        })
    }

    async fn push(&self, client: &Client, repository: &Repository, tag: &str) {
        client
            .push_blob(repository, &self.config_digest, self.config.clone())
            .await
            .unwrap();
        client
            .push_blob(repository, &self.layer_digest, self.layer.clone())
            .await
            .unwrap();
        let pushed = client
            .push_manifest(
                repository,
                &tag_ref(tag),
                media_type::OCI_MANIFEST,
                self.manifest.clone(),
            )
            .await
            .unwrap();
        assert_eq!(pushed.digest, self.digest);
    }
}

/// A Sigstore-bundle-shaped artifact with a subject, as cosign 3 attaches it.
struct Artifact {
    bundle: Bytes,
    manifest: Bytes,
    digest: Digest,
}

impl Artifact {
    fn new(subject: &serde_json::Value, bundle: &'static [u8]) -> Artifact {
        let bundle = Bytes::from_static(bundle);
        let manifest = Bytes::from(
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": media_type::OCI_MANIFEST,
                "artifactType": BUNDLE_TYPE,
                "config": {
                    "mediaType": media_type::OCI_EMPTY,
                    "digest": Digest::compute(Algorithm::Sha256, b"{}"),
                    "size": 2,
                },
                "layers": [{
                    "mediaType": BUNDLE_TYPE,
                    "digest": Digest::compute(Algorithm::Sha256, &bundle),
                    "size": bundle.len(),
                }],
                "subject": subject,
            }))
            .unwrap(),
        );
        let digest = Digest::compute(Algorithm::Sha256, &manifest);
        Artifact {
            bundle,
            manifest,
            digest,
        }
    }

    async fn push(&self, client: &Client, repository: &Repository) -> client::PushedManifest {
        let empty = Bytes::from_static(b"{}");
        client
            .push_blob(
                repository,
                &Digest::compute(Algorithm::Sha256, &empty),
                empty,
            )
            .await
            .unwrap();
        client
            .push_blob(
                repository,
                &Digest::compute(Algorithm::Sha256, &self.bundle),
                self.bundle.clone(),
            )
            .await
            .unwrap();
        client
            .push_manifest(
                repository,
                &Reference::Digest(self.digest.clone()),
                media_type::OCI_MANIFEST,
                self.manifest.clone(),
            )
            .await
            .unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn repo(host: &str, name: &str) -> Repository {
    // Through the image reference parser, as the command line will get them.
    ImageRef::parse(&format!("{host}/{name}"))
        .unwrap()
        .repository()
        .clone()
}

fn tag_ref(t: &str) -> Reference {
    Reference::Tag(Tag::parse(t).unwrap())
}

fn basic(username: &str, password: &str) -> CredentialSource {
    CredentialSource::Explicit(Credentials::Basic {
        username: username.into(),
        password: password.into(),
    })
}

/// A client allowed plain HTTP to `host` (a loopback test registry).
fn http_client(host: &str, credentials: CredentialSource) -> Client {
    let mut config = ClientConfig::new(credentials);
    config
        .dangerous()
        .allow_http(&Registry::parse(host).unwrap());
    Client::new(config).unwrap()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// The DER of the first PEM block in a file.
fn pem_der(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// Keys and certificates made with openssl: a CA and a server certificate for 127.0.0.1
/// (Distribution's TLS), and a self-signed token-signing certificate (Distribution's
/// `rootcertbundle`) whose P-256 key signs the tokens.
struct Pki {
    ca_cert: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    token_cert: PathBuf,
    token_key: PathBuf,
}

impl Pki {
    fn create(dir: &Path) -> Pki {
        let openssl = tool("openssl");
        let p = |n: &str| dir.join(n);
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        run(Command::new(&openssl)
            .args(["req", "-x509"])
            .args(ec)
            .args(["-days", "2", "-subj", "/CN=vouch test CA", "-keyout"])
            .arg(p("ca.key"))
            .arg("-out")
            .arg(p("ca.pem")));
        run(Command::new(&openssl)
            .arg("req")
            .args(ec)
            .args(["-subj", "/CN=127.0.0.1", "-keyout"])
            .arg(p("server.key"))
            .arg("-out")
            .arg(p("server.csr")));
        write_file(
            &p("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        );
        run(Command::new(&openssl)
            .args(["x509", "-req", "-days", "2", "-in"])
            .arg(p("server.csr"))
            .arg("-CA")
            .arg(p("ca.pem"))
            .arg("-CAkey")
            .arg(p("ca.key"))
            .arg("-CAcreateserial")
            .arg("-extfile")
            .arg(p("server.ext"))
            .arg("-out")
            .arg(p("server.pem")));
        run(Command::new(&openssl)
            .args(["req", "-x509"])
            .args(ec)
            .args([
                "-days",
                "2",
                "-subj",
                "/CN=vouch test token signer",
                "-keyout",
            ])
            .arg(p("token.key"))
            .arg("-out")
            .arg(p("token.pem")));
        Pki {
            ca_cert: p("ca.pem"),
            server_cert: p("server.pem"),
            server_key: p("server.key"),
            token_cert: p("token.pem"),
            token_key: p("token.key"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A token server, as Docker Hub's auth.docker.io or Harbor's core are for their registries

#[derive(Debug, Clone)]
struct TokenRequest {
    method: String,
    user: Option<String>,
    service: String,
    scopes: Vec<String>,
}

struct TokenState {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    requests: Mutex<Vec<TokenRequest>>,
}

struct TokenServer {
    addr: SocketAddr,
    state: Arc<TokenState>,
}

impl TokenServer {
    async fn start(pki: &Pki) -> TokenServer {
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pem_der(&pki.token_key))
                .expect("openssl writes PKCS#8 P-256 keys");
        let state = Arc::new(TokenState {
            key,
            cert_der: pem_der(&pki.token_cert),
            requests: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/token", axum::routing::get(token_get).post(token_post))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        TokenServer { addr, state }
    }

    fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    fn requests(&self) -> Vec<TokenRequest> {
        self.state.requests.lock().unwrap().clone()
    }
}

fn form_pairs(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"details": "incorrect username or password"}).to_string(),
    )
        .into_response()
}

/// `GET /token?service=..&scope=..`: Basic `alice:wonderland`, or anonymous.
async fn token_get(
    State(state): State<Arc<TokenState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = form_pairs(&query.unwrap_or_default());
    let user = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let decoded = v
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
            if decoded.as_deref() != Some(b"alice:wonderland".as_slice()) {
                return refused();
            }
            Some("alice".to_owned())
        }
    };
    let scopes: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    let service = pairs
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    issue(&state, "GET", user, service, scopes, "token")
}

/// `POST /token` with the OAuth2 refresh-token grant (docker's identity tokens).
async fn token_post(State(state): State<Arc<TokenState>>, body: axum::body::Bytes) -> Response {
    let pairs = form_pairs(&String::from_utf8_lossy(&body));
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if get("grant_type") != "refresh_token" || get("refresh_token") != "refresh-for-alice" {
        return refused();
    }
    let scopes = get("scope").split(' ').map(str::to_owned).collect();
    issue(
        &state,
        "POST",
        Some("alice".into()),
        get("service"),
        scopes,
        "access_token",
    )
}

/// Signs a token (ES256, the certificate in `x5c`) granting the requested actions the user
/// holds: alice everything, anonymous callers `pull`.
fn issue(
    state: &TokenState,
    method: &str,
    user: Option<String>,
    service: String,
    scopes: Vec<String>,
    field: &str,
) -> Response {
    state.requests.lock().unwrap().push(TokenRequest {
        method: method.into(),
        user: user.clone(),
        service: service.clone(),
        scopes: scopes.clone(),
    });
    let allowed: &[&str] = if user.is_some() {
        &["pull", "push", "delete"]
    } else {
        &["pull"]
    };
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            let granted: Vec<&str> = actions.split(',').filter(|a| allowed.contains(a)).collect();
            Some(json!({"type": kind, "name": name, "actions": granted}))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({
        "typ": "JWT",
        "alg": "ES256",
        "x5c": [base64::engine::general_purpose::STANDARD.encode(&state.cert_der)],
    });
    let mut jti = [0u8; 12];
    aws_lc_rs::rand::fill(&mut jti).unwrap();
    let claims = json!({
        "iss": "vouch-test-issuer",
        "sub": user.unwrap_or_default(),
        "aud": service,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": b64url(&jti),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signature = state
        .key
        .sign(
            &aws_lc_rs::rand::SystemRandom::new(),
            signing_input.as_bytes(),
        )
        .unwrap();
    let jwt = format!("{signing_input}.{}", b64url(signature.as_ref()));
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({field: jwt, "expires_in": 300}).to_string(),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// A stub registry that misbehaves

const STUB_BLOB: &[u8] = b"stored in object storage";
const STUB_MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

struct Stub {
    registry: String,
    storage: String,
    log: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct StubState {
    storage: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Stub {
    async fn start() -> Stub {
        let log = Arc::new(Mutex::new(Vec::new()));
        let storage_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registry_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let storage = storage_listener.local_addr().unwrap().to_string();
        let registry = registry_listener.local_addr().unwrap().to_string();
        let state = StubState {
            storage: storage.clone(),
            log: Arc::clone(&log),
        };
        let registry_app = axum::Router::new()
            .fallback(stub_registry)
            .with_state(state.clone());
        let storage_app = axum::Router::new().fallback(stub_storage).with_state(state);
        tokio::spawn(async move { axum::serve(registry_listener, registry_app).await });
        tokio::spawn(async move { axum::serve(storage_listener, storage_app).await });
        Stub {
            registry,
            storage,
            log,
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn stub_registry(
    State(state): State<StubState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state.lock_log().push(format!(
        "registry {method} {} auth={}",
        uri.path(),
        auth.is_some()
    ));
    if auth != Some(format!("Basic {}", b64("user:pass")).as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"stub\"")],
            "",
        )
            .into_response();
    }
    let path = uri.path();
    let blob = |bytes: &[u8]| Digest::compute(Algorithm::Sha256, bytes).to_string();
    if path == "/v2/" {
        return StatusCode::OK.into_response();
    }
    if path == format!("/v2/stub/app/blobs/{}", blob(STUB_BLOB)) {
        let hex = &blob(STUB_BLOB)[7..];
        return redirect(&format!("http://{}/blob/{hex}", state.storage));
    }
    if path == format!("/v2/stub/app/blobs/{}", blob(b"what was asked for")) {
        return (StatusCode::OK, "something else entirely").into_response();
    }
    if path == format!("/v2/stub/app/blobs/{}", blob(b"huge")) {
        // Chunked, no Content-Length, far more than any limit.
        let chunks = futures_util::stream::iter(
            (0..4096)
                .map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'x'; 64 * 1024]))),
        );
        return axum::body::Body::from_stream(chunks).into_response();
    }
    if path == format!("/v2/stub/app/blobs/{}", blob(b"elsewhere")) {
        return redirect("http://127.0.0.1:9/blob");
    }
    if path == "/v2/stub/app/manifests/lying" {
        let other = blob(b"not these bytes");
        return (
            [
                (header::CONTENT_TYPE, media_type::OCI_MANIFEST),
                (
                    header::HeaderName::from_static("docker-content-digest"),
                    other.as_str(),
                ),
            ],
            STUB_MANIFEST,
        )
            .into_response();
    }
    if path == "/v2/stub/app/manifests/honest" {
        // HEAD answers without a digest; GET gives the bytes.
        return (
            [(header::CONTENT_TYPE, media_type::OCI_MANIFEST)],
            STUB_MANIFEST,
        )
            .into_response();
    }
    if path == "/v2/stub/app/tags/list" {
        let (tags, next) = match uri.query() {
            None => (
                json!(["a", "b"]),
                Some("</v2/stub/app/tags/list?n=2&last=b>; rel=\"next\""),
            ),
            Some(_) => (json!(["c"]), None),
        };
        let body = json!({"name": "stub/app", "tags": tags}).to_string();
        let mut resp = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        if let Some(link) = next {
            resp.headers_mut()
                .insert(header::LINK, header::HeaderValue::from_static(link));
        }
        return resp;
    }
    StatusCode::NOT_FOUND.into_response()
}

async fn stub_storage(
    State(state): State<StubState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    state.lock_log().push(format!(
        "storage {method} {} auth={}",
        uri.path(),
        headers.contains_key(header::AUTHORIZATION)
    ));
    (StatusCode::OK, STUB_BLOB).into_response()
}

impl StubState {
    fn lock_log(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.log.lock().unwrap()
    }
}

fn redirect(to: &str) -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, to.to_owned())],
    )
        .into_response()
}
