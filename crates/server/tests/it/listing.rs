//! Tag listing and the catalog: ASCII order, `n`, `last`, and `Link` pagination followed to the
//! end for every page size.

use serde_json::{Value, json};

use crate::data::{DataSet, Opts, push_blobs};
use crate::harness::{Registry, Response, Upload, digest_of, push_blob, with_query};

const REPO: &str = "conformance/tags";

/// The `rel="next"` target of a `Link` header, if there is one.
fn next_link(r: &Response) -> Option<String> {
    let link = r.header("link")?;
    assert!(link.contains("rel=\"next\""), "{r:?}");
    let start = link.find('<').expect("a Link target starts with <") + 1;
    let end = link.find('>').expect("a Link target ends with >");
    Some(link[start..end].to_owned())
}

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).expect("a list of strings")
}

/// Follows `Link` from `first` to the end; every page but the last is full.
async fn collect_pages(registry: &Registry, first: String, key: &str, n: usize) -> Vec<String> {
    let mut all = Vec::new();
    let mut url = Some(first);
    let mut pages = 0;
    while let Some(u) = url {
        let r = registry.get(&u).await.expect(200);
        let page = strings(&r.json()[key]);
        url = next_link(&r);
        if url.is_some() {
            assert_eq!(page.len(), n, "a page with a Link is full: {r:?}");
        } else {
            assert!(page.len() <= n, "{r:?}");
        }
        all.extend(page);
        pages += 1;
        assert!(pages < 100, "pagination does not end");
    }
    all
}

/// One manifest in `REPO` with these tags.
async fn tagged(registry: &Registry, tags: &[&str]) {
    let mut d = DataSet::sha256();
    d.image(&Opts::default());
    push_blobs(registry, REPO, &d).await;
    let m = &d.manifests[0];
    let mut url = format!("/v2/{REPO}/manifests/{}", m.digest);
    for t in tags {
        url = with_query(&url, "tag", t);
    }
    registry
        .put(url)
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await
        .expect(201);
}

const TAGS: [&str; 12] = [
    "latest", "v1.0", "v1.0-rc", "1", "10", "2", "A", "B", "Z", "_x", "a", "b",
];

fn ascii_sorted(tags: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn tags_are_listed_in_ascii_order() {
    let registry = Registry::new();
    tagged(&registry, &TAGS).await;
    let r = registry
        .get(format!("/v2/{REPO}/tags/list"))
        .await
        .expect(200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("link").is_none(), "{r:?}");
    assert_eq!(r.json()["name"], json!(REPO));
    assert_eq!(strings(&r.json()["tags"]), ascii_sorted(&TAGS));
}

#[tokio::test]
async fn tag_pages_of_every_size_cover_every_tag_once() {
    let registry = Registry::new();
    tagged(&registry, &TAGS).await;
    let want = ascii_sorted(&TAGS);
    for n in 1..=TAGS.len() + 1 {
        let first = format!("/v2/{REPO}/tags/list?n={n}");
        let got = collect_pages(&registry, first, "tags", n).await;
        assert_eq!(got, want, "n={n}");
    }
}

#[tokio::test]
async fn n_zero_is_an_empty_list_without_link() {
    let registry = Registry::new();
    tagged(&registry, &TAGS).await;
    for query in ["n=0", "n=0&last=A"] {
        let r = registry
            .get(format!("/v2/{REPO}/tags/list?{query}"))
            .await
            .expect(200);
        assert_eq!(r.json()["tags"], json!([]), "{query}");
        assert!(r.header("link").is_none(), "{r:?}");
    }
}

fn position(tags: &[String], tag: &str) -> usize {
    tags.iter()
        .position(|t| t == tag)
        .expect("the tag is one of TAGS")
}

#[tokio::test]
async fn last_starts_after_the_named_tag() {
    let registry = Registry::new();
    tagged(&registry, &TAGS).await;
    let sorted = ascii_sorted(&TAGS);
    let table: &[(&str, Vec<String>)] = &[
        ("last=B", sorted[position(&sorted, "B") + 1..].to_vec()),
        ("last=B&n=2", vec!["Z".to_owned(), "_x".to_owned()]),
        // Not a tag of the repository: still the tags after it in order.
        ("last=Y", sorted[position(&sorted, "Z")..].to_vec()),
        ("last=zzz", vec![]),
        ("last=", sorted.clone()),
    ];
    for (query, want) in table {
        let r = registry
            .get(format!("/v2/{REPO}/tags/list?{query}"))
            .await
            .expect(200);
        assert_eq!(&strings(&r.json()["tags"]), want, "{query}");
    }
}

#[tokio::test]
async fn tags_of_an_unknown_repository_are_name_unknown_and_of_an_untagged_one_empty() {
    let registry = Registry::new();
    registry
        .get("/v2/conformance/never/tags/list")
        .await
        .expect_error(404, "NAME_UNKNOWN");
    let bytes = b"a blob and nothing else".to_vec();
    let digest = digest_of(oci::Algorithm::Sha256, &bytes);
    push_blob(&registry, REPO, Upload::PostOnly, &bytes, &digest).await;
    let r = registry
        .get(format!("/v2/{REPO}/tags/list"))
        .await
        .expect(200);
    assert_eq!(r.json(), json!({ "name": REPO, "tags": [] }));
}

#[tokio::test]
async fn n_that_is_not_a_count_is_400() {
    let registry = Registry::new();
    tagged(&registry, &["latest"]).await;
    for n in ["-1", "abc", "1.5", "99999999999999999999999"] {
        let r = registry
            .get(format!("/v2/{REPO}/tags/list?n={n}"))
            .await
            .expect(400);
        assert!(!r.error_codes().is_empty(), "{r:?}");
        registry
            .get(format!("/v2/_catalog?n={n}"))
            .await
            .expect(400);
    }
}

const REPOS: [&str; 7] = ["z", "a/b", "a", "a-b", "c/d/e", "b", "a/b/c"];

async fn repositories(registry: &Registry) {
    for (i, repo) in REPOS.iter().enumerate() {
        let bytes = format!("blob {i}").into_bytes();
        let digest = digest_of(oci::Algorithm::Sha256, &bytes);
        push_blob(registry, repo, Upload::PostOnly, &bytes, &digest).await;
    }
}

#[tokio::test]
async fn the_catalog_lists_repositories_in_order_and_pages() {
    let registry = Registry::new();
    repositories(&registry).await;
    let want = ascii_sorted(&REPOS);
    let r = registry.get("/v2/_catalog").await.expect(200);
    assert_eq!(strings(&r.json()["repositories"]), want);
    assert!(r.header("link").is_none(), "{r:?}");
    for n in 1..=REPOS.len() + 1 {
        let got = collect_pages(&registry, format!("/v2/_catalog?n={n}"), "repositories", n).await;
        assert_eq!(got, want, "n={n}");
    }
    let r = registry.get("/v2/_catalog?n=0").await.expect(200);
    assert_eq!(r.json()["repositories"], json!([]));
    assert!(r.header("link").is_none(), "{r:?}");
    let r = registry.get("/v2/_catalog?last=a-b").await.expect(200);
    let after: Vec<String> = want
        .iter()
        .skip_while(|r| *r != "a-b")
        .skip(1)
        .cloned()
        .collect();
    assert_eq!(strings(&r.json()["repositories"]), after);
}

#[tokio::test]
async fn a_repository_emptied_of_everything_leaves_the_catalog() {
    let registry = Registry::new();
    let bytes = b"only blob".to_vec();
    let digest = digest_of(oci::Algorithm::Sha256, &bytes);
    push_blob(
        &registry,
        "conformance/brief",
        Upload::PostOnly,
        &bytes,
        &digest,
    )
    .await;
    let r = registry.get("/v2/_catalog").await.expect(200);
    assert_eq!(r.json()["repositories"], json!(["conformance/brief"]));
    crate::harness::delete_blob(&registry, "conformance/brief", &digest).await;
    let r = registry.get("/v2/_catalog").await.expect(200);
    assert_eq!(r.json()["repositories"], json!([]));
}
