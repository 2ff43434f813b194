//! Errors as the spec words them: each code with its status in the JSON error body, invalid
//! repository names, methods an endpoint does not have, and a sweep of malformed paths,
//! headers and query strings that must never produce a 5xx. (The harness checks the body shape
//! and the API version header of every response; these tests pick the inputs.)

use axum::http::Method;
use oci::Algorithm;

use crate::data::{DataSet, Opts, push_blobs};
use crate::harness::{Registry, digest_of, random_bytes, with_query};

const REPO: &str = "conformance/errors";

/// One request of a table, and what it must get.
struct Case {
    method: Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    status: u16,
    code: Option<&'static str>,
}

fn case(method: Method, url: impl Into<String>, status: u16, code: &'static str) -> Case {
    Case {
        method,
        url: url.into(),
        headers: Vec::new(),
        body: None,
        status,
        code: Some(code),
    }
}

impl Case {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = Some(body.into());
        self
    }

    fn any_code(mut self) -> Case {
        self.code = None;
        self
    }
}

async fn check(registry: &Registry, cases: Vec<Case>) {
    for c in cases {
        let mut call = registry.request(c.method.clone(), &c.url);
        for (name, value) in &c.headers {
            call = call.header(name, value);
        }
        if let Some(body) = c.body {
            call = call.body(body);
        }
        let r = call.await;
        match c.code {
            Some(code) => r.expect_error(c.status, code),
            None => r.expect(c.status),
        };
    }
}

/// A repository with one image pushed and one upload session open; returns the session URL and
/// the image's manifest (unpushed) for the table.
async fn setup(registry: &Registry) -> (String, crate::data::Pushed) {
    let mut d = DataSet::sha256();
    d.image(&Opts::default());
    push_blobs(registry, REPO, &d).await;
    let m = d.manifests[0].clone();
    registry
        .put(format!("/v2/{REPO}/manifests/latest"))
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await
        .expect(201);
    let session = registry
        .post(format!("/v2/{REPO}/blobs/uploads/"))
        .await
        .expect(202)
        .location();
    (session, m)
}

#[tokio::test]
async fn every_error_code_with_its_status() {
    use Method as M;
    let registry = Registry::new();
    let (session, m) = setup(&registry).await;
    let absent = digest_of(Algorithm::Sha256, b"absent");
    let unknown_session = format!("/v2/{REPO}/blobs/uploads/{}", "0".repeat(32));
    let unpushed_layer = {
        let mut d = DataSet::sha256();
        d.random_blob(crate::data::LAYER_GZIP, 10, false);
        d.image(&Opts::default().layer_count(1));
        d.manifests[0].clone()
    };
    let cases = vec![
        case(
            M::GET,
            format!("/v2/{REPO}/blobs/{absent}"),
            404,
            "BLOB_UNKNOWN",
        ),
        case(M::GET, &unknown_session, 404, "BLOB_UPLOAD_UNKNOWN"),
        case(
            M::GET,
            format!("/v2/{REPO}/blobs/uploads/not-an-id"),
            404,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        case(M::PATCH, &session, 400, "BLOB_UPLOAD_INVALID")
            .header("content-range", "abc")
            .body(vec![0; 10]),
        case(M::PATCH, &session, 416, "BLOB_UPLOAD_INVALID")
            .header("content-range", "5-14")
            .body(vec![0; 10]),
        case(M::PATCH, &session, 400, "SIZE_INVALID")
            .header("content-range", "0-9")
            .body(vec![0; 5]),
        case(M::PATCH, &session, 400, "SIZE_INVALID")
            .header("content-range", "0-9")
            .header("content-length", "5")
            .body(vec![0; 10]),
        case(M::PUT, &session, 400, "DIGEST_INVALID"),
        case(
            M::PUT,
            with_query(&session, "digest", "sha256:short"),
            400,
            "DIGEST_INVALID",
        ),
        case(
            M::PUT,
            with_query(&session, "digest", "md5:d41d8cd98f00b204e9800998ecf8427e"),
            400,
            "DIGEST_INVALID",
        ),
        case(
            M::POST,
            format!("/v2/{REPO}/blobs/uploads/?digest=bad"),
            400,
            "DIGEST_INVALID",
        )
        .body(b"x".to_vec()),
        case(
            M::POST,
            format!("/v2/{REPO}/blobs/uploads/?digest-algorithm=md5"),
            400,
            "DIGEST_INVALID",
        ),
        case(
            M::POST,
            format!("/v2/{REPO}/blobs/uploads/?mount=bad&from={REPO}"),
            400,
            "DIGEST_INVALID",
        ),
        case(
            M::PUT,
            format!("/v2/{REPO}/manifests/bad"),
            400,
            "MANIFEST_INVALID",
        )
        .header("content-type", oci::media_type::OCI_MANIFEST)
        .body(b"{".to_vec()),
        case(
            M::PUT,
            format!("/v2/{REPO}/manifests/lacking"),
            400,
            "MANIFEST_BLOB_UNKNOWN",
        )
        .header("content-type", unpushed_layer.media_type.clone())
        .body(unpushed_layer.bytes.clone()),
        case(
            M::GET,
            format!("/v2/{REPO}/manifests/absent"),
            404,
            "MANIFEST_UNKNOWN",
        ),
        case(
            M::GET,
            format!("/v2/{REPO}/manifests/{absent}"),
            404,
            "MANIFEST_UNKNOWN",
        ),
        case(M::GET, "/v2/Conformance/tags/list", 400, "NAME_INVALID"),
        case(
            M::GET,
            "/v2/conformance/never/tags/list",
            404,
            "NAME_UNKNOWN",
        ),
        case(
            M::GET,
            "/v2/conformance/never/manifests/latest",
            404,
            "NAME_UNKNOWN",
        ),
        case(
            M::PUT,
            format!("/v2/{REPO}/manifests/{}?tag=-x", m.digest),
            400,
            "TAG_INVALID",
        )
        .header("content-type", m.media_type.clone())
        .body(m.bytes.clone()),
        case(
            M::GET,
            format!("/v2/{REPO}/manifests/bad:tag"),
            400,
            "DIGEST_INVALID",
        ),
        case(
            M::POST,
            format!("/v2/{REPO}/manifests/latest"),
            405,
            "UNSUPPORTED",
        ),
        case(
            M::GET,
            format!("/v2/{REPO}/nothing/here"),
            404,
            "UNSUPPORTED",
        ),
        case(
            M::GET,
            format!("/v2/{REPO}/blobs/{}", m.digest),
            404,
            "BLOB_UNKNOWN",
        ),
        case(
            M::GET,
            format!("/v2/{REPO}/referrers/latest"),
            400,
            "DIGEST_INVALID",
        ),
    ];
    check(&registry, cases).await;

    // None of the refused requests disturbed the session.
    registry
        .patch(&session)
        .header("content-range", "0-9")
        .body(random_bytes(1, 10))
        .await
        .expect(202)
        .expect_header("range", "0-9");
}

#[tokio::test]
async fn a_416_range_names_the_size() {
    let registry = Registry::new();
    let bytes = random_bytes(3, 100);
    let digest = digest_of(Algorithm::Sha256, &bytes);
    crate::harness::push_blob(
        &registry,
        REPO,
        crate::harness::Upload::PostOnly,
        &bytes,
        &digest,
    )
    .await;
    check(
        &registry,
        vec![
            case(
                Method::GET,
                format!("/v2/{REPO}/blobs/{digest}"),
                416,
                "SIZE_INVALID",
            )
            .header("range", "bytes=100-")
            .any_code(),
        ],
    )
    .await;
}

#[tokio::test]
async fn invalid_repository_names_are_name_invalid_on_every_endpoint() {
    let registry = Registry::new();
    let digest = digest_of(Algorithm::Sha256, b"x");
    let names = [
        "Upper".to_owned(),
        "a//b".to_owned(),
        "a/".to_owned(),
        String::new(),
        "-a".to_owned(),
        "a-".to_owned(),
        "a..b".to_owned(),
        "a___b".to_owned(),
        ".a".to_owned(),
        "a/../b".to_owned(),
        "a/./b".to_owned(),
        "a%20b".to_owned(),
        "a%2Fb".to_owned(),
        "a:b".to_owned(),
        "é".to_owned(),
        "a".repeat(256),
    ];
    for name in &names {
        let endpoints = [
            (Method::GET, format!("/v2/{name}/tags/list")),
            (Method::GET, format!("/v2/{name}/manifests/latest")),
            (Method::PUT, format!("/v2/{name}/manifests/latest")),
            (Method::DELETE, format!("/v2/{name}/manifests/latest")),
            (Method::HEAD, format!("/v2/{name}/blobs/{digest}")),
            (Method::DELETE, format!("/v2/{name}/blobs/{digest}")),
            (Method::POST, format!("/v2/{name}/blobs/uploads/")),
            (
                Method::PATCH,
                format!("/v2/{name}/blobs/uploads/{}", "0".repeat(32)),
            ),
            (Method::GET, format!("/v2/{name}/referrers/{digest}")),
        ];
        for (method, url) in endpoints {
            let url = url.replace('é', "%C3%A9");
            registry
                .request(method, url)
                .await
                .expect_error(400, "NAME_INVALID");
        }
    }
}

#[tokio::test]
async fn methods_an_endpoint_lacks_are_405_with_allow() {
    let registry = Registry::new();
    let digest = digest_of(Algorithm::Sha256, b"x");
    let session = format!("/v2/{REPO}/blobs/uploads/{}", "0".repeat(32));
    let table: Vec<(Method, String, &str)> = vec![
        (Method::POST, "/v2/".to_owned(), "GET, HEAD"),
        (Method::DELETE, "/v2/_catalog".to_owned(), "GET"),
        (Method::PUT, format!("/v2/{REPO}/tags/list"), "GET"),
        (
            Method::POST,
            format!("/v2/{REPO}/referrers/{digest}"),
            "GET",
        ),
        (
            Method::PATCH,
            format!("/v2/{REPO}/manifests/latest"),
            "GET, HEAD, PUT, DELETE",
        ),
        (
            Method::PUT,
            format!("/v2/{REPO}/blobs/{digest}"),
            "GET, HEAD, DELETE",
        ),
        (Method::GET, format!("/v2/{REPO}/blobs/uploads/"), "POST"),
        (Method::POST, session, "GET, PATCH, PUT, DELETE"),
    ];
    for (method, url, allow) in table {
        registry
            .request(method, url)
            .await
            .expect_error(405, "UNSUPPORTED")
            .expect_header("allow", allow);
    }
}

/// Inputs no client should send. Whatever the registry answers, it is not a 5xx and it is a
/// well-formed error (the harness checks both on every response).
#[tokio::test]
async fn malformed_input_never_gets_a_5xx() {
    let registry = Registry::new();
    let (session, m) = setup(&registry).await;
    let blob = random_bytes(11, 2048);
    let blob_digest = digest_of(Algorithm::Sha256, &blob);
    crate::harness::push_blob(
        &registry,
        REPO,
        crate::harness::Upload::PostOnly,
        &blob,
        &blob_digest,
    )
    .await;
    let blob_url = format!("/v2/{REPO}/blobs/{blob_digest}");
    let zeros = "0".repeat(64);
    let long = "a/".repeat(200);

    let paths = [
        "/v2/%".to_owned(),
        "/v2/%zz/tags/list".to_owned(),
        "/v2/a/manifests/".to_owned(),
        "/v2/a/blobs/".to_owned(),
        "/v2/a/blobs/uploads/x/y".to_owned(),
        "/v2/a/referrers/".to_owned(),
        "/v2/_catalog/x".to_owned(),
        "/v2//".to_owned(),
        "/v2///tags/list".to_owned(),
        "/v2/a/manifests/sha256:".to_owned(),
        "/v2/a/manifests/sha512:abc".to_owned(),
        "/v2/a/manifests/:".to_owned(),
        format!("/v2/a/manifests/sha256:{}", "g".repeat(64)),
        format!("/v2/a/manifests/SHA256:{zeros}"),
        format!(
            "/v2/a/blobs/sha256:{}",
            zeros.to_uppercase().replace('0', "A")
        ),
        format!("/v2/a/blobs/sha256:{zeros}{zeros}"),
        format!("/v2/a/blobs/uploads/{}", "A".repeat(32)),
        format!("/v2/a/blobs/uploads/{}", "0".repeat(31)),
        format!("/v2/a/blobs/uploads/..%2F..%2F{}", "0".repeat(26)),
        format!("/v2/{long}tags/list"),
        format!("/v2/{REPO}/manifests/{}", "t".repeat(500)),
        "/v2/a/tags/list/".to_owned(),
        "/v2/a/blobs/uploads//".to_owned(),
        "/v2/../v2/".to_owned(),
    ];
    let methods = [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::POST,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    for path in &paths {
        for method in &methods {
            let r = registry
                .request(method.clone(), path)
                .body(b"{}".to_vec())
                .await;
            assert!(r.status.as_u16() < 500, "{r:?}");
        }
    }

    let content_ranges: [&[u8]; 14] = [
        b"",
        b"abc",
        b"0-",
        b"-1",
        b"1-0",
        b"0-18446744073709551615",
        b"18446744073709551615-18446744073709551615",
        b"0-99999999999999999999",
        b"bytes */*",
        b"bytes 0-9/10",
        b"0-9/10",
        b" 0 - 9 ",
        b"\xd9\xa3-\xd9\xa4",
        b"\xff\xfe",
    ];
    for value in content_ranges {
        for method in [Method::PATCH, Method::PUT] {
            let url = if method == Method::PUT {
                with_query(&session, "digest", &blob_digest)
            } else {
                session.clone()
            };
            let r = registry
                .request(method, url)
                .header_bytes("content-range", value)
                .body(vec![7; 10])
                .await;
            assert!(r.status.as_u16() < 500, "{r:?}");
        }
    }

    let ranges: [&[u8]; 14] = [
        b"",
        b"bytes=",
        b"bytes=-",
        b"bytes=--1",
        b"bytes=0-18446744073709551615",
        b"bytes=18446744073709551615-",
        b"bytes=-18446744073709551615",
        b"bytes=0-99999999999999999999",
        b"bytes=1-2-3",
        b"bytes= 1 - 2 ",
        b"bytes=2047-2047",
        b"bytes=-2049",
        b"bytes=0-0,-1",
        b"\xff\xfe",
    ];
    for value in ranges {
        for method in [Method::GET, Method::HEAD] {
            let r = registry
                .request(method, &blob_url)
                .header_bytes("range", value)
                .await;
            assert!(r.status.as_u16() < 500, "{r:?}");
        }
    }

    let authorizations: [&[u8]; 10] = [
        b"",
        b"Basic",
        b"Basic ",
        b"Basic !!!",
        b"Basic bm91c2Vy",
        b"Basic Og==",
        b"Bearer token",
        b"basic YTpi",
        b"\xff",
        b"Basic YTpi YTpi",
    ];
    for value in authorizations {
        for url in [
            "/v2/".to_owned(),
            blob_url.clone(),
            "/v2/_catalog".to_owned(),
        ] {
            let r = registry.get(url).header_bytes("authorization", value).await;
            assert!(r.status.as_u16() < 500, "{r:?}");
        }
    }

    let content_types: [&[u8]; 6] = [
        b"",
        b"\xff",
        b"application/vnd.oci.image.manifest.v1+json;;;",
        b"a/b; x=\"unterminated",
        b"application/vnd.docker.distribution.manifest.v1+prettyjws",
        b"application/vnd.oci.image.index.v1+json",
    ];
    for value in content_types {
        let r = registry
            .put(format!("/v2/{REPO}/manifests/typed"))
            .header_bytes("content-type", value)
            .body(m.bytes.clone())
            .await;
        assert!(r.status.as_u16() < 500, "{r:?}");
    }

    let queries = [
        format!("/v2/{REPO}/tags/list?n=-1"),
        format!("/v2/{REPO}/tags/list?n=%ff"),
        format!("/v2/{REPO}/tags/list?last=%ff%fe"),
        format!("/v2/{REPO}/tags/list?n=1&n=2&last=&last=x"),
        format!("/v2/{REPO}/tags/list?n=18446744073709551615"),
        "/v2/_catalog?n=10000000&last=%00".to_owned(),
        "/v2/_catalog?last=%ff".to_owned(),
        format!("/v2/{REPO}/blobs/uploads/?digest=%00"),
        format!("/v2/{REPO}/blobs/uploads/?digest=sha256:{zeros}"),
        format!("/v2/{REPO}/blobs/uploads/?mount=&from="),
        format!("/v2/{REPO}/blobs/uploads/?mount=sha256:{zeros}&from=..%2F.."),
        format!("/v2/{REPO}/blobs/uploads/?mount={blob_digest}&from=%ff"),
        format!("/v2/{REPO}/blobs/uploads/?digest-algorithm="),
        format!("/v2/{REPO}/blobs/uploads/?digest-algorithm=SHA256"),
        format!("/v2/{REPO}/referrers/{blob_digest}?artifactType=%00"),
        format!("/v2/{REPO}/referrers/{blob_digest}?artifactType="),
        format!("/v2/{REPO}/manifests/{}?tag=&tag=", m.digest),
        format!("/v2/{REPO}/manifests/{}?tag={}", m.digest, "a".repeat(200)),
        with_query(&session, "digest", ""),
        format!("{session}?digest=sha256:{zeros}&digest=sha512:{zeros}"),
    ];
    for url in &queries {
        for method in [Method::GET, Method::POST, Method::PUT] {
            let r = registry
                .request(method, url)
                .content_type(&m.media_type)
                .body(m.bytes.clone())
                .await;
            assert!(r.status.as_u16() < 500, "{r:?}");
        }
    }
}

#[tokio::test]
async fn hostile_manifest_bodies_are_answered_not_crashed_on() {
    let registry = Registry::new();
    // Valid JSON, however deep, in a field no spec defines: kept byte for byte.
    let deep = |open: &str, inner: &str, close: &str| {
        format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"{}\",\"manifests\":[],\"x\":{}{inner}{}}}",
            oci::media_type::OCI_INDEX,
            open.repeat(100_000),
            close.repeat(100_000)
        )
        .into_bytes()
    };
    for body in [deep("[", "", "]"), deep("{\"a\":", "0", "}")] {
        let r = registry
            .put(format!("/v2/{REPO}/manifests/deep"))
            .content_type(oci::media_type::OCI_INDEX)
            .body(body.clone())
            .await
            .expect(201);
        let got = registry.get(r.location()).await.expect(200);
        assert!(got.body == body, "the deep manifest comes back as pushed");
    }
    // Not JSON, or JSON whose numbers do not fit: refused.
    let refused: Vec<Vec<u8>> = vec![
        b"{\"schemaVersion\":2,\"mediaType\":\"\xff\xfe\"}".to_vec(),
        b"\x00\x00\x00".to_vec(),
        format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"{}\",\"manifests\":[{{\"mediaType\":\"a\",\"digest\":\"sha256:{}\",\"size\":1e400}}]}}",
            oci::media_type::OCI_INDEX,
            "0".repeat(64)
        )
        .into_bytes(),
    ];
    for body in refused {
        registry
            .put(format!("/v2/{REPO}/manifests/hostile"))
            .content_type(oci::media_type::OCI_INDEX)
            .body(body)
            .await
            .expect_error(400, "MANIFEST_INVALID");
    }
}
