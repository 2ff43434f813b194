//! HTTP(S) transport: hyper's pooled client over rustls (aws-lc-rs provider, the system's
//! trust roots), timeouts, which scheme a registry is spoken to over, and size-limited reading
//! of response bodies.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HeaderMap, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Response, Uri};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use oci::Digester;
use rustls::pki_types::CertificateDer;

use crate::error::Error;
use crate::image_ref::Registry;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Largest error or token-server body read; the rest is not needed to report the error.
pub(crate) const MAX_SMALL_BODY: u64 = 64 * 1024;
/// Buffers grow as bytes arrive; a Content-Length is trusted only up to this for reserving.
const MAX_PREALLOCATION: u64 = 8 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    Https,
    Http,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

pub(crate) struct Transport {
    http: HyperClient<Connector, Full<Bytes>>,
    timeout: Duration,
    user_agent: HeaderValue,
    /// `host[:port]` authorities that may be spoken to over plain HTTP.
    allow_http: BTreeSet<String>,
    /// The scheme found for each HTTP-allowed registry.
    schemes: Mutex<HashMap<String, Scheme>>,
}

pub(crate) struct TransportConfig {
    pub timeout: Duration,
    pub user_agent: String,
    pub allow_http: BTreeSet<String>,
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl Transport {
    pub(crate) fn new(config: TransportConfig) -> Result<Transport, Error> {
        let tls = tls_config(config.extra_roots)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false); // the TLS layer above decides per URL
        http.set_connect_timeout(Some(config.timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let http = HyperClient::builder(TokioExecutor::new()).build(connector);
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .unwrap_or_else(|_| HeaderValue::from_static("vouch"));
        Ok(Transport {
            http,
            timeout: config.timeout,
            user_agent,
            allow_http: config.allow_http,
            schemes: Mutex::new(HashMap::new()),
        })
    }

    /// Whether the caller allowed plain HTTP to this `host[:port]`.
    pub(crate) fn http_allowed(&self, authority: &str) -> bool {
        self.allow_http.contains(authority)
    }

    /// The scheme to speak to `registry` over. HTTPS, unless the caller allowed HTTP for it:
    /// then HTTPS is tried first and HTTP used only if HTTPS gets no answer at all (as cosign's
    /// `--allow-http-registry` and docker's insecure registries do). Found once per registry.
    pub(crate) async fn scheme(&self, registry: &Registry) -> Result<Scheme, Error> {
        let authority = registry.api_authority();
        if !self.http_allowed(authority) {
            return Ok(Scheme::Https);
        }
        if let Some(s) = lock(&self.schemes).get(authority) {
            return Ok(*s);
        }
        let probe = |scheme: Scheme| {
            let uri = format!("{}://{authority}/v2/", scheme.as_str());
            async move {
                let uri: Uri = uri.parse().map_err(|_| Error::InvalidResponse {
                    url: uri.clone(),
                    reason: "not a valid URL".into(),
                })?;
                self.send(Method::GET, uri, HeaderMap::new(), Bytes::new())
                    .await
                    .map(drop)
            }
        };
        let scheme = match probe(Scheme::Https).await {
            Ok(()) => Scheme::Https,
            Err(Error::Transport { .. } | Error::Timeout { .. }) => {
                probe(Scheme::Http).await?;
                Scheme::Http
            }
            Err(e) => return Err(e),
        };
        lock(&self.schemes).insert(authority.to_owned(), scheme);
        Ok(scheme)
    }

    /// One request, no redirects or authentication: those are the caller's.
    pub(crate) async fn send(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Response<Incoming>, Error> {
        let url = uri.to_string();
        let mut req = Request::builder().method(method.clone()).uri(uri);
        if let Some(h) = req.headers_mut() {
            *h = headers;
            h.insert(USER_AGENT, self.user_agent.clone());
            if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
                h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
            }
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| Error::InvalidResponse {
                url: url.clone(),
                reason: format!("cannot build the request: {e}"),
            })?;
        match tokio::time::timeout(self.timeout, self.http.request(req)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(source)) => Err(Error::Transport {
                method,
                url,
                source,
            }),
            Err(_) => Err(Error::Timeout {
                method,
                url,
                timeout: self.timeout,
            }),
        }
    }

    /// Reads a response body of at most `limit` bytes, feeding `digester` as bytes arrive.
    /// A declared Content-Length over the limit fails before anything is read.
    pub(crate) async fn read_body(
        &self,
        method: &Method,
        url: &str,
        resp: Response<Incoming>,
        limit: u64,
        mut digester: Option<&mut Digester>,
    ) -> Result<Bytes, Error> {
        let too_large = || Error::TooLarge {
            url: url.to_owned(),
            limit,
        };
        let declared = content_length(resp.headers());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = resp.into_body();
        let capacity = declared.unwrap_or(0).min(limit).min(MAX_PREALLOCATION);
        let mut buf = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
        loop {
            let frame = match tokio::time::timeout(self.timeout, body.frame()).await {
                Err(_) => {
                    return Err(Error::Timeout {
                        method: method.clone(),
                        url: url.to_owned(),
                        timeout: self.timeout,
                    });
                }
                Ok(None) => break,
                Ok(Some(Err(source))) => {
                    return Err(Error::Body {
                        method: method.clone(),
                        url: url.to_owned(),
                        source,
                    });
                }
                Ok(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                if buf.len() as u64 + data.len() as u64 > limit {
                    return Err(too_large());
                }
                // Hashing as bytes arrive costs no more than the network gives: a frame is at
                // most a read buffer, so this never holds the runtime for long.
                if let Some(d) = digester.as_deref_mut() {
                    d.update(&data);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf.freeze())
    }
}

pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// rustls on the aws-lc-rs provider, TLS 1.2 and 1.3, trusting the system's roots plus any the
/// caller added.
///
/// Roots come from the operating system's store (rustls-native-certs), not a bundle compiled
/// in (webpki-roots): registries are very often private, behind a company CA that
/// administrators install system-wide, and docker, podman, skopeo and cosign all trust exactly
/// that store; `SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured the same way.
fn tls_config(extra: Vec<CertificateDer<'static>>) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable or unparsable system certificates are skipped, as OpenSSL skips them; a
    // machine with no usable roots fails at the handshake with "unknown issuer".
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    for cert in extra {
        roots.add(cert).map_err(Error::Tls)?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// A poisoned lock only means another task panicked mid-update of a cache; the cache is still
/// a plain map, so keep using it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
