//! The registry client: the distribution API's operations over the transport, with
//! authentication (Basic, Bearer tokens) and redirects handled in one place for all of them,
//! and every byte that comes back checked against the digest it was asked for or announced.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LINK, LOCATION,
    WWW_AUTHENTICATE,
};
use hyper::{Method, Response, StatusCode, Uri};
use oci::{Algorithm, Descriptor, Digest, Digester, Reference, RepoName, Tag, media_type};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::auth::challenge::{self, Challenge};
use crate::auth::{
    Access, AuthScheme, AuthState, CredentialSource, Credentials, CredentialsError, Source,
    helper_program, parse_token_response, run_helper,
};
use crate::error::{Error, parse_error_body};
use crate::image_ref::{Registry, Repository};
use crate::transport::{MAX_SMALL_BODY, Scheme, Transport, TransportConfig, content_length, lock};

const DOCKER_CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");
const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");
const OCI_FILTERS_APPLIED: HeaderName = HeaderName::from_static("oci-filters-applied");
/// Every manifest type a pull accepts. Docker types are listed so that Distribution never
/// falls back to converting an image into schema 1.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
/// Redirects followed for one GET or HEAD (blob downloads often go to a storage service).
const MAX_REDIRECTS: usize = 10;
/// Pages of a tag or referrers listing followed through `Link` headers.
const MAX_PAGES: usize = 1000;
/// Largest token-server reply read (real tokens are a few KiB).
const MAX_TOKEN_BODY: u64 = 1024 * 1024;
/// Largest page of a tag or referrers listing.
const MAX_LISTING_BODY: u64 = 16 * 1024 * 1024;

/// How the client behaves. Plain HTTP is off for every registry unless allowed through
/// [`ClientConfig::dangerous`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub credentials: CredentialSource,
    /// For connecting, for each response head, and for each piece of a response body.
    pub timeout: Duration,
    pub user_agent: String,
    /// Largest manifest read; the spec's 4 MiB by default.
    pub max_manifest_bytes: u64,
    pub(crate) allow_http: BTreeSet<String>,
    extra_roots: Vec<CertificateDer<'static>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            credentials: CredentialSource::Anonymous,
            timeout: Duration::from_secs(60),
            user_agent: concat!("vouch/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_manifest_bytes: oci::DEFAULT_MAX_MANIFEST_BYTES as u64,
            allow_http: BTreeSet::new(),
            extra_roots: Vec::new(),
        }
    }
}

impl ClientConfig {
    /// Defaults, with these credentials.
    pub fn new(credentials: CredentialSource) -> ClientConfig {
        ClientConfig {
            credentials,
            ..ClientConfig::default()
        }
    }

    /// Trusts the PEM certificates in `pem` as roots, besides the system's (a private CA, as
    /// cosign's `--registry-cacert`). Returns how many were added.
    pub fn add_root_certificates_pem(&mut self, pem: &[u8]) -> Result<usize, Error> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::RootCertificatesPem)?;
        if certs.is_empty() {
            return Err(Error::NoRootCertificates);
        }
        let n = certs.len();
        self.extra_roots.extend(certs);
        Ok(n)
    }

    /// Options that weaken transport security.
    pub fn dangerous(&mut self) -> crate::danger::DangerousConfig<'_> {
        crate::danger::DangerousConfig::new(self)
    }
}

/// What a blob push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// The repository already had the blob; nothing was sent.
    Existed,
    Uploaded,
}

/// A manifest as the registry served it, its digest recomputed from the bytes.
#[derive(Debug, Clone)]
pub struct PulledManifest {
    pub digest: Digest,
    /// The Content-Type the registry gave, else the body's `mediaType`.
    pub media_type: String,
    pub bytes: Bytes,
}

impl PulledManifest {
    pub fn descriptor(&self) -> Descriptor {
        descriptor(
            self.media_type.clone(),
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }
}

/// The registry's answer to a manifest push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedManifest {
    pub digest: Digest,
    /// The `OCI-Subject` header: the registry indexed the manifest's subject for the referrers
    /// API. `None` means callers must maintain the referrers tag schema themselves.
    pub subject: Option<Digest>,
}

/// An async client for OCI registries. Cheap to clone; clones share connections, learned
/// authentication schemes and cached tokens.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    credentials: CredentialSource,
    auth: Mutex<AuthState>,
    max_manifest_bytes: u64,
}

/// One logical request: the operation's path (or an absolute URL the registry gave), the
/// access it needs, and whether redirects are followed (reads only).
struct Call<'a> {
    method: Method,
    repo: &'a Repository,
    access: Access,
    target: Target,
    headers: HeaderMap,
    body: Bytes,
    follow_redirects: bool,
}

enum Target {
    /// Path and query under the registry's origin.
    Path(String),
    /// A URL the registry handed out (an upload location, a next page).
    Url(Uri),
}

impl<'a> Call<'a> {
    fn new(method: Method, repo: &'a Repository, access: Access, target: Target) -> Call<'a> {
        let follow_redirects = matches!(method, Method::GET | Method::HEAD);
        Call {
            method,
            repo,
            access,
            target,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            follow_redirects,
        }
    }

    fn header(mut self, name: HeaderName, value: &str) -> Call<'a> {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    fn body(mut self, body: Bytes) -> Call<'a> {
        self.body = body;
        self
    }
}

/// A response and the URL that produced it (after redirects).
struct Answer {
    method: Method,
    resp: Response<Incoming>,
    uri: Uri,
}

impl Answer {
    fn url(&self) -> String {
        self.uri.to_string()
    }

    fn headers(&self) -> &HeaderMap {
        self.resp.headers()
    }
}

impl Client {
    /// Builds a client. Reads the system's trust store once, here.
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        let transport = Transport::new(TransportConfig {
            timeout: config.timeout,
            user_agent: config.user_agent,
            allow_http: config.allow_http,
            extra_roots: config.extra_roots,
        })?;
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                credentials: config.credentials,
                auth: Mutex::new(AuthState::default()),
                max_manifest_bytes: config.max_manifest_bytes,
            }),
        })
    }

    /// The digest, media type and size of a manifest: `HEAD`, falling back to `GET` when the
    /// registry's `HEAD` answer lacks the digest, the size or the type (or fails, so that the
    /// error carries the registry's message). After a `HEAD` the digest is the registry's word,
    /// as for docker and cosign; whatever is later pulled by it is checked against it.
    pub async fn resolve(
        &self,
        repo: &Repository,
        reference: &Reference,
    ) -> Result<Descriptor, Error> {
        let call = Call::new(
            Method::HEAD,
            repo,
            Access::Pull,
            Target::Path(manifest_path(&repo.name, reference)),
        )
        .header(ACCEPT, MANIFEST_ACCEPT);
        let ans = self.call(call).await?;
        if ans.resp.status().is_success() {
            let digest = header_digest(ans.headers(), DOCKER_CONTENT_DIGEST, &ans.url())?;
            let size = content_length(ans.headers());
            let media_type = content_type(ans.headers());
            if let (Some(digest), Some(size), Some(media_type)) = (digest, size, media_type) {
                if let Reference::Digest(want) = reference
                    && *want != digest
                {
                    return Err(Error::DigestMismatch {
                        url: ans.url(),
                        expected: want.clone(),
                        actual: digest,
                    });
                }
                return Ok(descriptor(media_type, digest, size));
            }
        }
        Ok(self.get_manifest(repo, reference).await?.descriptor())
    }

    /// A manifest's exact bytes. By digest, the bytes must hash to it; by tag, they must hash
    /// to the `Docker-Content-Digest` the registry gave (if it gave one). The digest returned
    /// is always recomputed from the bytes.
    pub async fn get_manifest(
        &self,
        repo: &Repository,
        reference: &Reference,
    ) -> Result<PulledManifest, Error> {
        let call = Call::new(
            Method::GET,
            repo,
            Access::Pull,
            Target::Path(manifest_path(&repo.name, reference)),
        )
        .header(ACCEPT, MANIFEST_ACCEPT);
        let ans = self.expect_success(self.call(call).await?).await?;
        let url = ans.url();
        let announced = header_digest(ans.headers(), DOCKER_CONTENT_DIGEST, &url)?;
        let header_type = content_type(ans.headers());
        let algorithm = match (reference, &announced) {
            (Reference::Digest(d), _) => d.algorithm(),
            (Reference::Tag(_), Some(d)) => d.algorithm(),
            (Reference::Tag(_), None) => Algorithm::Sha256,
        };
        let mut digester = Digester::new(algorithm);
        let bytes = self
            .inner
            .transport
            .read_body(
                &ans.method,
                &url,
                ans.resp,
                self.inner.max_manifest_bytes,
                Some(&mut digester),
            )
            .await?;
        let actual = digester.finish();
        for expected in [reference_digest(reference), announced.as_ref()]
            .into_iter()
            .flatten()
        {
            if *expected != actual {
                return Err(Error::DigestMismatch {
                    url,
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        let media_type = match header_type.filter(|t| is_specific_type(t)) {
            Some(t) => t,
            None => body_media_type(&bytes).ok_or_else(|| Error::InvalidResponse {
                url: url.clone(),
                reason: "the manifest has no media type, in Content-Type or its body".into(),
            })?,
        };
        Ok(PulledManifest {
            digest: actual,
            media_type,
            bytes,
        })
    }

    /// Whether the repository has a blob, and its size if the registry said.
    pub async fn blob_exists(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<Option<u64>, Error> {
        self.blob_head(repo, digest, Access::Pull).await
    }

    async fn blob_head(
        &self,
        repo: &Repository,
        digest: &Digest,
        access: Access,
    ) -> Result<Option<u64>, Error> {
        let path = format!("/v2/{}/blobs/{digest}", repo.name);
        let call = Call::new(Method::HEAD, repo, access, Target::Path(path.clone()));
        let ans = self.call(call).await?;
        match ans.resp.status() {
            s if s.is_success() => Ok(Some(content_length(ans.headers()).unwrap_or(0))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => {
                // A HEAD answer has no body, so no error codes: ask again with GET for them
                // (and report the HEAD answer if the GET, oddly, succeeds).
                let again = self
                    .call(Call::new(Method::GET, repo, access, Target::Path(path)))
                    .await?;
                if again.resp.status().is_success() {
                    Err(self.failure(ans).await)
                } else {
                    Err(self.failure(again).await)
                }
            }
        }
    }

    /// A blob's bytes, at most `max_bytes` of them (a larger blob fails before or while it is
    /// read, never after), verified against `digest`.
    pub async fn get_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        max_bytes: u64,
    ) -> Result<Bytes, Error> {
        let call = Call::new(
            Method::GET,
            repo,
            Access::Pull,
            Target::Path(format!("/v2/{}/blobs/{digest}", repo.name)),
        );
        let ans = self.expect_success(self.call(call).await?).await?;
        let url = ans.url();
        let mut digester = Digester::new(digest.algorithm());
        let bytes = self
            .inner
            .transport
            .read_body(&ans.method, &url, ans.resp, max_bytes, Some(&mut digester))
            .await?;
        let actual = digester.finish();
        if actual != *digest {
            return Err(Error::DigestMismatch {
                url,
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Pushes a blob unless the repository has it: `HEAD`, then a monolithic upload (`POST`
    /// for a session, `PUT` with the bytes and `?digest=`). The registry verifies the digest.
    pub async fn push_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        data: Bytes,
    ) -> Result<BlobPush, Error> {
        if self.blob_head(repo, digest, Access::Push).await?.is_some() {
            return Ok(BlobPush::Existed);
        }
        let start = Call::new(
            Method::POST,
            repo,
            Access::Push,
            Target::Path(format!("/v2/{}/blobs/uploads/", repo.name)),
        );
        let ans = self.expect_success(self.call(start).await?).await?;
        let location = ans
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::InvalidResponse {
                url: ans.url(),
                reason: "the upload session has no Location".into(),
            })?;
        let session =
            resolve_location(&ans.uri, location).ok_or_else(|| Error::InvalidResponse {
                url: ans.url(),
                reason: format!("the upload Location {location:?} is not a URL"),
            })?;
        let put = with_query(&session, &[("digest", digest.as_str())]).ok_or_else(|| {
            Error::InvalidResponse {
                url: ans.url(),
                reason: format!("the upload Location {location:?} is not a URL"),
            }
        })?;
        let call = Call::new(Method::PUT, repo, Access::Push, Target::Url(put))
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(data);
        let ans = self.expect_success(self.call(call).await?).await?;
        if let Some(stored) = header_digest(ans.headers(), DOCKER_CONTENT_DIGEST, &ans.url())?
            && stored != *digest
        {
            return Err(Error::DigestMismatch {
                url: ans.url(),
                expected: digest.clone(),
                actual: stored,
            });
        }
        Ok(BlobPush::Uploaded)
    }

    /// Pushes a manifest under a tag or its digest. The digest is computed here (sha256 for a
    /// tag) and must be what the registry reports back.
    pub async fn push_manifest(
        &self,
        repo: &Repository,
        reference: &Reference,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<PushedManifest, Error> {
        if HeaderValue::from_str(media_type).is_err() {
            return Err(Error::BadMediaType(media_type.to_owned()));
        }
        let digest = match reference {
            Reference::Digest(d) => {
                let actual = Digest::compute(d.algorithm(), &bytes);
                if actual != *d {
                    return Err(Error::ManifestNotDigest {
                        expected: d.clone(),
                        actual,
                    });
                }
                actual
            }
            Reference::Tag(_) => Digest::compute(Algorithm::Sha256, &bytes),
        };
        let call = Call::new(
            Method::PUT,
            repo,
            Access::Push,
            Target::Path(manifest_path(&repo.name, reference)),
        )
        .header(CONTENT_TYPE, media_type)
        .body(bytes);
        let ans = self.expect_success(self.call(call).await?).await?;
        let url = ans.url();
        if let Some(stored) = header_digest(ans.headers(), DOCKER_CONTENT_DIGEST, &url)?
            && stored != digest
        {
            return Err(Error::DigestMismatch {
                url,
                expected: digest,
                actual: stored,
            });
        }
        let subject = header_digest(ans.headers(), OCI_SUBJECT, &url)?;
        Ok(PushedManifest { digest, subject })
    }

    /// The referrers API: manifests whose `subject` is `digest`, optionally only those of one
    /// artifact type (filtered here when the registry does not filter). `None` when the
    /// registry answers 404, i.e. has no referrers API: callers then read the referrers tag
    /// schema ([`referrers_tag`]).
    pub async fn referrers(
        &self,
        repo: &Repository,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>, Error> {
        let mut path = format!("/v2/{}/referrers/{digest}", repo.name);
        if let Some(t) = artifact_type {
            path.push('?');
            path.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .append_pair("artifactType", t)
                    .finish(),
            );
        }
        let mut target = Target::Path(path);
        let mut out = Vec::new();
        for page in 0.. {
            let call = Call::new(Method::GET, repo, Access::Pull, target)
                .header(ACCEPT, media_type::OCI_INDEX);
            let ans = self.call(call).await?;
            if page == 0 && ans.resp.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let ans = self.expect_success(ans).await?;
            let filtered = ans
                .headers()
                .get_all(OCI_FILTERS_APPLIED)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|f| f.trim() == "artifactType");
            let next = self.next_page(&ans, page)?;
            let url = ans.url();
            let body = self
                .inner
                .transport
                .read_body(&ans.method, &url, ans.resp, MAX_LISTING_BODY, None)
                .await?;
            #[derive(serde::Deserialize)]
            struct Index {
                #[serde(default)]
                manifests: Option<Vec<Descriptor>>,
            }
            let index: Index =
                serde_json::from_slice(&body).map_err(|e| Error::InvalidResponse {
                    url: url.clone(),
                    reason: format!("the referrers response is not an image index: {e}"),
                })?;
            out.extend(index.manifests.unwrap_or_default().into_iter().filter(|d| {
                filtered || artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t))
            }));
            match next {
                Some(uri) => target = Target::Url(uri),
                None => break,
            }
        }
        Ok(Some(out))
    }

    /// Every tag of the repository, following the registry's pages.
    pub async fn list_tags(&self, repo: &Repository) -> Result<Vec<Tag>, Error> {
        let mut target = Target::Path(format!("/v2/{}/tags/list", repo.name));
        let mut out = Vec::new();
        for page in 0.. {
            let call = Call::new(Method::GET, repo, Access::Pull, target);
            let ans = self.expect_success(self.call(call).await?).await?;
            let next = self.next_page(&ans, page)?;
            let url = ans.url();
            let body = self
                .inner
                .transport
                .read_body(&ans.method, &url, ans.resp, MAX_LISTING_BODY, None)
                .await?;
            #[derive(serde::Deserialize)]
            struct List {
                #[serde(default)]
                tags: Option<Vec<String>>,
            }
            let list: List = serde_json::from_slice(&body).map_err(|e| Error::InvalidResponse {
                url: url.clone(),
                reason: format!("the tag list is not JSON of the spec's form: {e}"),
            })?;
            for t in list.tags.unwrap_or_default() {
                out.push(Tag::parse(&t).map_err(|e| Error::InvalidResponse {
                    url: url.clone(),
                    reason: format!("tag {t:?} in the list: {e}"),
                })?);
            }
            match next {
                Some(uri) => target = Target::Url(uri),
                None => break,
            }
        }
        Ok(out)
    }

    /// Deletes a manifest (by digest; by tag where the registry allows deleting tags).
    pub async fn delete_manifest(
        &self,
        repo: &Repository,
        reference: &Reference,
    ) -> Result<(), Error> {
        let call = Call::new(
            Method::DELETE,
            repo,
            Access::Delete,
            Target::Path(manifest_path(&repo.name, reference)),
        );
        self.expect_success(self.call(call).await?).await?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Requests, authentication and redirects

    /// Sends a call, answering one authentication challenge and following redirects (for
    /// reads). Credentials go only to the registry's own origin, never to a redirect target
    /// elsewhere; plain HTTP is used only where the caller allowed it.
    async fn call(&self, call: Call<'_>) -> Result<Answer, Error> {
        let registry = &call.repo.registry;
        let scheme = self.inner.transport.scheme(registry).await?;
        let origin = (scheme.as_str(), registry.api_authority());
        let mut uri = match call.target {
            Target::Path(p) => {
                let url = format!("{}://{}{p}", origin.0, origin.1);
                url.parse::<Uri>().map_err(|_| Error::InvalidResponse {
                    url,
                    reason: "not a valid URL".into(),
                })?
            }
            Target::Url(u) => u,
        };
        let scope = call.access.scope(&call.repo.name);
        let mut authorization = self.authorization(registry, scheme, &scope).await?;
        let mut answered_challenge = false;
        let mut redirects = 0;
        loop {
            let same_origin = uri.scheme_str() == Some(origin.0)
                && uri.authority().map(|a| a.as_str()) == Some(origin.1);
            if !same_origin
                && uri.scheme_str() != Some("https")
                && !uri
                    .authority()
                    .is_some_and(|a| self.inner.transport.http_allowed(a.as_str()))
            {
                return Err(Error::Redirect {
                    from: format!("{}://{}", origin.0, origin.1),
                    to: uri.to_string(),
                    reason: "plain HTTP is not allowed for that host",
                });
            }
            let mut headers = call.headers.clone();
            if same_origin && let Some(a) = &authorization {
                headers.insert(AUTHORIZATION, a.clone());
            }
            let resp = self
                .inner
                .transport
                .send(call.method.clone(), uri.clone(), headers, call.body.clone())
                .await?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && same_origin && !answered_challenge {
                answered_challenge = true;
                let challenges = challenge::parse(
                    resp.headers()
                        .get_all(WWW_AUTHENTICATE)
                        .iter()
                        .filter_map(|v| v.to_str().ok()),
                );
                let next = self
                    .answer_challenge(registry, scheme, &scope, &challenges, &authorization)
                    .await?;
                if next.is_some() {
                    authorization = next;
                    continue;
                }
            }
            let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok());
            if call.follow_redirects
                && status.is_redirection()
                && let Some(location) = location
            {
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(Error::TooManyRedirects {
                        url: uri.to_string(),
                        max: MAX_REDIRECTS,
                    });
                }
                uri = resolve_location(&uri, location).ok_or_else(|| Error::Redirect {
                    from: uri.to_string(),
                    to: location.to_owned(),
                    reason: "not a URL",
                })?;
                continue;
            }
            return Ok(Answer {
                method: call.method,
                resp,
                uri,
            });
        }
    }

    /// The `Authorization` to send up front: what the registry asked for before (Basic
    /// credentials, or a Bearer token for this scope, cached or fetched now), else nothing.
    async fn authorization(
        &self,
        registry: &Registry,
        scheme: Scheme,
        scope: &str,
    ) -> Result<Option<HeaderValue>, Error> {
        let key = registry.api_authority();
        let known = lock(&self.inner.auth).scheme(key);
        match known {
            None => Ok(None),
            Some(AuthScheme::Basic) => Ok(self
                .credentials(registry)
                .await?
                .and_then(|c| c.basic_header())
                .and_then(|h| HeaderValue::from_str(&h).ok())),
            Some(AuthScheme::Bearer { realm, service }) => {
                let cached = lock(&self.inner.auth).token(key, scope, Instant::now());
                let token = match cached {
                    Some(t) => t,
                    None => {
                        let scopes = [scope.to_owned()];
                        self.fetch_token(
                            registry,
                            scheme,
                            &realm,
                            service.as_deref(),
                            &scopes,
                            scope,
                        )
                        .await?
                    }
                };
                Ok(bearer(&token))
            }
        }
    }

    /// New credentials after a 401, or `None` when there is nothing new to try (no
    /// credentials, or the same ones were just refused).
    async fn answer_challenge(
        &self,
        registry: &Registry,
        scheme: Scheme,
        scope: &str,
        challenges: &[Challenge],
        sent: &Option<HeaderValue>,
    ) -> Result<Option<HeaderValue>, Error> {
        let key = registry.api_authority();
        if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            let realm = c
                .param("realm")
                .filter(|r| !r.is_empty())
                .ok_or_else(|| Error::BadRealm {
                    url: format!("{}://{key}", scheme.as_str()),
                    reason: "the challenge names no realm",
                })?
                .to_owned();
            let service = c
                .param("service")
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            lock(&self.inner.auth).set_scheme(
                key,
                AuthScheme::Bearer {
                    realm: realm.clone(),
                    service: service.clone(),
                },
            );
            // The scope this operation needs, plus whatever else the registry named.
            let mut scopes = vec![scope.to_owned()];
            for s in c.param("scope").unwrap_or("").split(' ') {
                if !s.is_empty() && !scopes.iter().any(|x| x == s) {
                    scopes.push(s.to_owned());
                }
            }
            let token = self
                .fetch_token(registry, scheme, &realm, service.as_deref(), &scopes, scope)
                .await?;
            let header = bearer(&token);
            return Ok(if header == *sent { None } else { header });
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            lock(&self.inner.auth).set_scheme(key, AuthScheme::Basic);
            let header = self
                .credentials(registry)
                .await?
                .and_then(|c| c.basic_header())
                .and_then(|h| HeaderValue::from_str(&h).ok());
            return Ok(if header == *sent { None } else { header });
        }
        match challenges.first() {
            Some(c) => Err(Error::UnsupportedAuth {
                registry: registry.to_string(),
                scheme: c.scheme.clone(),
            }),
            None => Ok(None),
        }
    }

    /// The token flow: `GET realm?service=..&scope=..` with Basic credentials or none, or for
    /// an identity token, the OAuth2 refresh-token `POST`. The token is cached under `scope`.
    async fn fetch_token(
        &self,
        registry: &Registry,
        scheme: Scheme,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        cache_scope: &str,
    ) -> Result<String, Error> {
        let bad = |reason| Error::BadRealm {
            url: realm.to_owned(),
            reason,
        };
        let realm_uri: Uri = realm.parse().map_err(|_| bad("not a URL"))?;
        let authority = realm_uri
            .authority()
            .ok_or_else(|| bad("not an absolute URL"))?
            .as_str();
        match realm_uri.scheme_str() {
            Some("https") => {}
            // Credentials go over plain HTTP only where the registry itself is spoken to over
            // it, or where the caller allowed it for the token server's host.
            Some("http")
                if scheme == Scheme::Http || self.inner.transport.http_allowed(authority) => {}
            Some("http") => return Err(bad("plain HTTP is not allowed for the token server")),
            _ => return Err(bad("not an http or https URL")),
        }
        let credentials = self.credentials(registry).await?;
        let started = Instant::now();
        let mut headers = HeaderMap::new();
        let (method, uri, body) = match &credentials {
            Some(Credentials::IdentityToken { token, .. }) => {
                let mut form = form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", token)
                    .append_pair("client_id", "vouch")
                    .append_pair("scope", &scopes.join(" "));
                if let Some(s) = service {
                    form.append_pair("service", s);
                }
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                (Method::POST, realm_uri.clone(), Bytes::from(form.finish()))
            }
            other => {
                let mut pairs: Vec<(&str, &str)> = Vec::new();
                if let Some(s) = service {
                    pairs.push(("service", s));
                }
                for s in scopes {
                    pairs.push(("scope", s));
                }
                if let Some(h) = other
                    .as_ref()
                    .and_then(Credentials::basic_header)
                    .and_then(|h| HeaderValue::from_str(&h).ok())
                {
                    headers.insert(AUTHORIZATION, h);
                }
                let uri = with_query(&realm_uri, &pairs).ok_or_else(|| bad("not a URL"))?;
                (Method::GET, uri, Bytes::new())
            }
        };
        let resp = self
            .inner
            .transport
            .send(method.clone(), uri, headers, body)
            .await?;
        let status = resp.status();
        let body = self
            .inner
            .transport
            .read_body(&method, realm, resp, MAX_TOKEN_BODY, None)
            .await?;
        if !status.is_success() {
            return Err(Error::TokenServer {
                url: realm.to_owned(),
                status,
                message: token_error_message(&body),
            });
        }
        let (token, lifetime) =
            parse_token_response(&body).map_err(|reason| Error::InvalidResponse {
                url: realm.to_owned(),
                reason: format!("token server reply: {reason}"),
            })?;
        lock(&self.inner.auth).set_token(
            registry.api_authority(),
            cache_scope,
            token.clone(),
            started,
            lifetime,
        );
        Ok(token)
    }

    /// The credentials for a registry, resolved once per registry (running a credential
    /// helper on a blocking thread if the docker config names one).
    async fn credentials(&self, registry: &Registry) -> Result<Option<Credentials>, Error> {
        let config = match &self.inner.credentials {
            CredentialSource::Anonymous => return Ok(None),
            CredentialSource::Explicit(c) => return Ok(Some(c.clone())),
            CredentialSource::DockerConfig(config) => config,
        };
        let key = registry.api_authority();
        if let Some(known) = lock(&self.inner.auth).credentials(key) {
            return Ok(known);
        }
        let found = match config.source(registry)? {
            Source::None => None,
            Source::Stored(c) => Some(c),
            Source::Helper { helper, server } => {
                let program = helper_program(&helper)?;
                tokio::task::spawn_blocking(move || run_helper(OsStr::new(&program), &server))
                    .await
                    .map_err(|_| CredentialsError::HelperThread)??
            }
        };
        lock(&self.inner.auth).set_credentials(key, found.clone());
        Ok(found)
    }

    /// The answer if it is a success, else the registry's error with its body's codes.
    async fn expect_success(&self, ans: Answer) -> Result<Answer, Error> {
        if ans.resp.status().is_success() {
            Ok(ans)
        } else {
            Err(self.failure(ans).await)
        }
    }

    async fn failure(&self, ans: Answer) -> Error {
        let url = ans.url();
        let status = ans.resp.status();
        // The status alone is reported if the body cannot be read: it is the error that matters.
        let body = self
            .inner
            .transport
            .read_body(&ans.method, &url, ans.resp, MAX_SMALL_BODY, None)
            .await
            .unwrap_or_default();
        Error::Registry {
            method: ans.method,
            url,
            status,
            errors: parse_error_body(&body),
        }
    }

    /// The `Link: <url>; rel="next"` of a listing page, resolved and kept on the same host.
    fn next_page(&self, ans: &Answer, page: usize) -> Result<Option<Uri>, Error> {
        let Some(link) = next_link(ans.headers()) else {
            return Ok(None);
        };
        if page + 1 >= MAX_PAGES {
            return Err(Error::InvalidResponse {
                url: ans.url(),
                reason: format!("more than {MAX_PAGES} pages"),
            });
        }
        let next = resolve_location(&ans.uri, &link).ok_or_else(|| Error::InvalidResponse {
            url: ans.url(),
            reason: format!("the next page {link:?} is not a URL"),
        })?;
        if next.scheme() != ans.uri.scheme() || next.authority() != ans.uri.authority() {
            return Err(Error::InvalidResponse {
                url: ans.url(),
                reason: format!("the next page {link:?} is on another host"),
            });
        }
        Ok(Some(next))
    }
}

/// The tag of the referrers tag schema for `digest`: `<alg>-<hex>`, truncated as the
/// distribution spec says (algorithm to 32 characters, hex to 64).
pub fn referrers_tag(digest: &Digest) -> Tag {
    let alg = digest.algorithm().as_str();
    let hex = digest.hex();
    let text = format!(
        "{}-{}",
        &alg[..alg.len().min(32)],
        &hex[..hex.len().min(64)]
    );
    // Letters, digits and one hyphen, at most 97 characters: always a valid tag.
    Tag::parse(&text).unwrap_or_else(|_| unreachable!("{text} is a valid tag"))
}

fn manifest_path(name: &RepoName, reference: &Reference) -> String {
    format!("/v2/{name}/manifests/{reference}")
}

fn reference_digest(reference: &Reference) -> Option<&Digest> {
    match reference {
        Reference::Digest(d) => Some(d),
        Reference::Tag(_) => None,
    }
}

fn descriptor(media_type: String, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type,
        digest,
        size,
        urls: None,
        annotations: None,
        data: None,
        artifact_type: None,
    }
}

fn bearer(token: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("Bearer {token}")).ok()
}

/// A digest header; present but unparsable is the registry's error.
fn header_digest(
    headers: &HeaderMap,
    name: HeaderName,
    url: &str,
) -> Result<Option<Digest>, Error> {
    let Some(value) = headers.get(&name) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    Digest::parse(text)
        .map(Some)
        .map_err(|e| Error::InvalidResponse {
            url: url.to_owned(),
            reason: format!("{name} {text:?}: {e}"),
        })
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| oci::base_media_type(v).to_owned())
        .filter(|t| !t.is_empty())
}

/// A Content-Type that names a type, not a generic one some servers send for everything.
fn is_specific_type(t: &str) -> bool {
    !matches!(
        t,
        "application/json" | "application/octet-stream" | "text/plain"
    )
}

fn body_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Typed>(bytes)
        .ok()?
        .media_type
        .filter(|t| !t.is_empty())
}

/// What a token server said when it refused: the spec's error body, docker's `details`, or the
/// start of the text.
fn token_error_message(body: &[u8]) -> String {
    let errors = parse_error_body(body);
    if !errors.is_empty() {
        return errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
    }
    #[derive(serde::Deserialize)]
    struct Details {
        details: String,
    }
    if let Ok(d) = serde_json::from_slice::<Details>(body) {
        return d.details;
    }
    String::from_utf8_lossy(body)
        .trim()
        .chars()
        .take(200)
        .collect()
}

/// Resolves a `Location` or `Link` target against the URL it came with: absolute URLs,
/// scheme-relative, absolute paths and relative paths.
pub fn resolve_location(base: &Uri, location: &str) -> Option<Uri> {
    let location = location.trim();
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.parse().ok();
    }
    let scheme = base.scheme_str()?;
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}").parse().ok();
    }
    let authority = base.authority()?.as_str();
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}").parse().ok();
    }
    if location.starts_with('?') {
        return format!("{scheme}://{authority}{}{location}", base.path())
            .parse()
            .ok();
    }
    let path = base.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    format!("{scheme}://{authority}{dir}{location}")
        .parse()
        .ok()
}

/// Adds query parameters, form-encoded, to a URL that may already have a query.
pub(crate) fn with_query(uri: &Uri, pairs: &[(&str, &str)]) -> Option<Uri> {
    if pairs.is_empty() {
        return Some(uri.clone());
    }
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        form.append_pair(k, v);
    }
    let added = form.finish();
    let text = uri.to_string();
    let sep = match uri.query() {
        Some("") => "",
        Some(_) => "&",
        None => "?",
    };
    format!("{text}{sep}{added}").parse().ok()
}

/// The target of the first `rel="next"` link (RFC 8288), as the distribution spec paginates.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(LINK).iter().filter_map(|v| v.to_str().ok()) {
        let mut rest = value;
        while let Some(open) = rest.find('<') {
            let close = open + rest[open..].find('>')?;
            let target = &rest[open + 1..close];
            let params_end = rest[close..].find('<').map_or(rest.len(), |i| close + i);
            let params = &rest[close + 1..params_end];
            let is_next = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').trim();
                p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("rel")
                        && v.trim()
                            .trim_matches('"')
                            .split_ascii_whitespace()
                            .any(|r| r.eq_ignore_ascii_case("next"))
                })
            });
            if is_next {
                return Some(target.to_owned());
            }
            rest = &rest[params_end..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn locations_resolve_against_the_request() {
        let base = uri("https://r.example:5000/v2/a/blobs/uploads/");
        let cases = [
            (
                "/v2/a/blobs/uploads/123?_state=x",
                "https://r.example:5000/v2/a/blobs/uploads/123?_state=x",
            ),
            (
                "https://cdn.example/blob?sig=1",
                "https://cdn.example/blob?sig=1",
            ),
            ("http://127.0.0.1:1/x", "http://127.0.0.1:1/x"),
            ("//other.example/p", "https://other.example/p"),
            ("123", "https://r.example:5000/v2/a/blobs/uploads/123"),
            (
                "?n=2&last=b",
                "https://r.example:5000/v2/a/blobs/uploads/?n=2&last=b",
            ),
        ];
        for (loc, want) in cases {
            assert_eq!(
                resolve_location(&base, loc).map(|u| u.to_string()),
                Some(want.to_owned()),
                "{loc}"
            );
        }
        assert_eq!(resolve_location(&base, "http://bad host/"), None);
    }

    #[test]
    fn query_parameters_are_encoded_and_appended() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let cases = [
            (
                "https://r/v2/a/blobs/uploads/1",
                "https://r/v2/a/blobs/uploads/1?digest=sha256%3Ae3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "https://r/v2/a/blobs/uploads/1?_state=a%2Bb",
                "https://r/v2/a/blobs/uploads/1?_state=a%2Bb&digest=sha256%3Ae3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
        ];
        for (base, want) in cases {
            assert_eq!(
                with_query(&uri(base), &[("digest", d)])
                    .unwrap()
                    .to_string(),
                want
            );
        }
        let realm = with_query(
            &uri("https://auth.example/token"),
            &[
                ("service", "reg"),
                ("scope", "repository:a/b:pull,push"),
                ("scope", "x y"),
            ],
        )
        .unwrap();
        assert_eq!(
            realm.to_string(),
            "https://auth.example/token?service=reg&scope=repository%3Aa%2Fb%3Apull%2Cpush&scope=x+y"
        );
    }

    #[test]
    fn link_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(next_link(&h), None);
        h.append(
            LINK,
            HeaderValue::from_static(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#),
        );
        assert_eq!(next_link(&h).as_deref(), Some("/v2/a/tags/list?n=2&last=b"));
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static(
                r#"<https://x/prev>; rel="prev", <https://x/next>; title="n"; REL=next"#,
            ),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://x/next"));
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static(r#"<https://x/a>; rel="prev""#),
        );
        h.append(
            LINK,
            HeaderValue::from_static(r#"<https://x/b>; rel="last next""#),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://x/b"));
    }

    #[test]
    fn referrers_tags() {
        let d = Digest::compute(Algorithm::Sha256, b"subject");
        assert_eq!(referrers_tag(&d).as_str(), format!("sha256-{}", d.hex()));
        let d = Digest::compute(Algorithm::Sha512, b"subject");
        assert_eq!(
            referrers_tag(&d).as_str(),
            format!("sha512-{}", &d.hex()[..64])
        );
    }

    #[test]
    fn token_error_messages() {
        assert_eq!(
            token_error_message(br#"{"details":"incorrect username or password"}"#),
            "incorrect username or password"
        );
        assert_eq!(
            token_error_message(br#"{"errors":[{"code":"UNAUTHORIZED","message":"bad"}]}"#),
            "UNAUTHORIZED: bad"
        );
        assert_eq!(token_error_message(b"  plain text\n"), "plain text");
    }

    #[test]
    fn media_types_from_headers_and_bodies() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.oci.image.index.v1+json; charset=utf-8"),
        );
        assert_eq!(content_type(&h).as_deref(), Some(media_type::OCI_INDEX));
        assert!(!is_specific_type("application/json"));
        assert_eq!(
            body_media_type(
                br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#
            )
            .as_deref(),
            Some(media_type::OCI_MANIFEST)
        );
        assert_eq!(body_media_type(b"{}"), None);
    }
}
