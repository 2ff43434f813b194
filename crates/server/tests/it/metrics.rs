//! `/metrics` and `/healthz`: request counters by route, method and status, latency and byte
//! counters, and the gauge of upload sessions in progress as sessions open and close.

use oci::Algorithm;

use crate::harness::{Registry, Upload, digest_of, random_bytes, upload, with_query};

/// The value of one sample line, `name{labels} value`, if the exposition has it.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

async fn scrape(registry: &Registry) -> String {
    let r = registry.get("/metrics").await.expect(200);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{r:?}"
    );
    String::from_utf8(r.body.to_vec()).expect("the exposition is text")
}

fn requests(route: &str, method: &str, status: u16) -> String {
    format!(
        "vouch_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
    )
}

#[tokio::test]
async fn requests_are_counted_by_route_method_and_status() {
    let registry = Registry::new();
    registry.get("/v2/").await.expect(200);
    registry.get("/v2/").await.expect(200);
    registry
        .get("/v2/conformance/metrics/manifests/latest")
        .await
        .expect(404);
    registry
        .get("/v2/conformance/metrics/tags/list")
        .await
        .expect(404);
    let bytes = random_bytes(1, 1000);
    let digest = digest_of(Algorithm::Sha256, &bytes);
    upload(
        &registry,
        "conformance/metrics",
        Upload::PostOnly,
        &bytes,
        &digest,
        None,
    )
    .await
    .expect(201);
    registry
        .get(format!("/v2/conformance/metrics/blobs/{digest}"))
        .await
        .expect(200);
    registry.get("/healthz").await.expect(200);

    let text = scrape(&registry).await;
    let table = [
        (requests("base", "GET", 200), 2.0),
        (requests("manifest", "GET", 404), 1.0),
        (requests("tags", "GET", 404), 1.0),
        (requests("upload", "POST", 201), 1.0),
        (requests("blob", "GET", 200), 1.0),
        (requests("healthz", "GET", 200), 1.0),
    ];
    for (series, want) in table {
        assert_eq!(sample(&text, &series), Some(want), "{series} in:\n{text}");
    }
    let bytes_in = sample(
        &text,
        "vouch_http_request_body_bytes_total{route=\"upload\"}",
    );
    assert!(bytes_in.is_some_and(|b| b >= 1000.0), "{text}");
    let bytes_out = sample(
        &text,
        "vouch_http_response_body_bytes_total{route=\"blob\"}",
    );
    assert!(bytes_out.is_some_and(|b| b >= 1000.0), "{text}");
    let latency = "vouch_http_request_duration_seconds_count{route=\"base\",method=\"GET\"}";
    assert_eq!(sample(&text, latency), Some(2.0), "{text}");
}

#[tokio::test]
async fn the_uploads_gauge_follows_sessions() {
    let registry = Registry::new();
    let gauge = |text: &str| sample(text, "vouch_uploads_in_progress");
    assert_eq!(gauge(&scrape(&registry).await), Some(0.0));

    let first = registry
        .post("/v2/conformance/metrics/blobs/uploads/")
        .await
        .expect(202)
        .location();
    let second = registry
        .post("/v2/conformance/metrics/blobs/uploads/")
        .await
        .expect(202)
        .location();
    assert_eq!(gauge(&scrape(&registry).await), Some(2.0));

    // A refused chunk leaves the session open; a finished upload closes it.
    registry
        .patch(&first)
        .header("content-range", "5-9")
        .body(vec![1; 5])
        .await
        .expect(416);
    assert_eq!(gauge(&scrape(&registry).await), Some(2.0));
    let bytes = random_bytes(2, 10);
    let digest = digest_of(Algorithm::Sha256, &bytes);
    registry
        .put(with_query(&first, "digest", &digest))
        .body(bytes)
        .await
        .expect(201);
    assert_eq!(gauge(&scrape(&registry).await), Some(1.0));

    // A cancelled one too; a single-POST upload never counts.
    registry.delete(&second).await.expect(204);
    let bytes = random_bytes(3, 10);
    let digest = digest_of(Algorithm::Sha256, &bytes);
    upload(
        &registry,
        "conformance/metrics",
        Upload::PostOnly,
        &bytes,
        &digest,
        None,
    )
    .await
    .expect(201);
    assert_eq!(gauge(&scrape(&registry).await), Some(0.0));
}

#[tokio::test]
async fn a_failed_upload_closes_its_session_in_the_gauge() {
    let registry = Registry::new();
    let location = registry
        .post("/v2/conformance/metrics/blobs/uploads/")
        .await
        .expect(202)
        .location();
    let claimed = digest_of(Algorithm::Sha256, b"what was promised");
    registry
        .put(with_query(&location, "digest", &claimed))
        .body(b"what was sent".to_vec())
        .await
        .expect_error(400, "DIGEST_INVALID");
    assert_eq!(
        sample(&scrape(&registry).await, "vouch_uploads_in_progress"),
        Some(0.0)
    );
    registry
        .get(&location)
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn routes_are_labelled_by_endpoint_even_when_names_contain_endpoint_words() {
    let registry = Registry::new();
    let digest = digest_of(Algorithm::Sha256, b"absent");
    let table = [
        (
            "/v2/team/blobs/app/manifests/latest".to_owned(),
            "manifest",
            404,
        ),
        (format!("/v2/x/manifests/y/blobs/{digest}"), "blob", 404),
        ("/v2/x/blobs/uploads/tags/list".to_owned(), "tags", 404),
        (
            format!("/v2/x/referrers/y/blobs/uploads/{}", "0".repeat(32)),
            "upload",
            404,
        ),
        (
            format!("/v2/x/blobs/y/referrers/{digest}"),
            "referrers",
            200,
        ),
    ];
    for (url, _, status) in &table {
        registry.get(url).await.expect(*status);
    }
    let text = scrape(&registry).await;
    for (url, route, status) in table {
        let series = requests(route, "GET", status);
        assert_eq!(
            sample(&text, &series),
            Some(1.0),
            "{url} as {series} in:\n{text}"
        );
    }
}
