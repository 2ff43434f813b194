//! Basic auth and per-repository roles: challenges for anonymous callers, 401 for wrong
//! credentials, 403 DENIED for a missing role, push implying pull, a catalog filtered to what the
//! caller may pull, upload sessions private to their user, anonymous grants, and mounts that
//! need pull on their source.

use oci::Algorithm;
use serde_json::json;
use server::auth::{AuthConfig, Grant, Role, User, UserPassword};

use crate::data::{DataSet, Opts, check_manifest_response, push_all};
use crate::harness::{
    Registry, Upload, check_blob, digest_of, push_blob, random_bytes, with_query,
};

const REALM: &str = "vouch-test";

fn password(plain: &str) -> UserPassword {
    // Cost 4 keeps the suite fast; the salt is fixed so hashing is deterministic.
    let hash = bcrypt::hash_with_salt(plain, 4, [7u8; 16])
        .expect("bcrypt hashes any short password")
        .format_for_version(bcrypt::Version::TwoY);
    UserPassword::from_bcrypt(&hash).expect("a bcrypt hash in the $2y$ format")
}

fn grant(patterns: &[&str], roles: &[Role]) -> Grant {
    let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
    Grant::new(&patterns, roles).expect("a valid grant")
}

fn user(name: &str, grants: Vec<Grant>) -> User {
    User {
        name: name.to_owned(),
        password: password(&format!("{name}-pw")),
        grants,
    }
}

/// alice and carol push to `team/**`, bob pulls everything, dave deletes in `team/**`, root is
/// admin, nobody has no grant; anonymous callers may pull `public/**`.
fn registry() -> Registry {
    Registry::with(|c| {
        c.auth = AuthConfig {
            realm: REALM.to_owned(),
            users: vec![
                user("alice", vec![grant(&["team/**"], &[Role::Push])]),
                user("carol", vec![grant(&["team/**"], &[Role::Push])]),
                user("bob", vec![grant(&["**"], &[Role::Pull])]),
                user("dave", vec![grant(&["team/**"], &[Role::Delete])]),
                user("root", vec![grant(&["**"], &[Role::Admin])]),
                user("nobody", vec![]),
            ],
            anonymous: vec![grant(&["public/**"], &[Role::Pull])],
        }
    })
}

fn login(registry: &Registry, name: &str) -> Registry {
    registry.as_user(name, &format!("{name}-pw"))
}

#[track_caller]
fn check_challenge(r: &crate::harness::Response) {
    assert_eq!(r.status.as_u16(), 401, "{r:?}");
    assert_eq!(r.error_codes(), ["UNAUTHORIZED"], "{r:?}");
    let challenge = r.header("www-authenticate").unwrap_or("");
    assert!(
        challenge.starts_with(&format!("Basic realm=\"{REALM}\"")),
        "{r:?}"
    );
}

#[tokio::test]
async fn anonymous_callers_are_challenged() {
    let registry = registry();
    check_challenge(&registry.get("/v2/").await);
    check_challenge(&registry.get("/v2/team/app/tags/list").await);
    check_challenge(&registry.post("/v2/team/app/blobs/uploads/").await);
    check_challenge(&registry.post("/v2/public/app/blobs/uploads/").await);
    login(&registry, "alice").get("/v2/").await.expect(200);
}

#[tokio::test]
async fn wrong_credentials_are_401() {
    let registry = registry();
    for (name, pw) in [
        ("alice", "wrong"),
        ("alice", ""),
        ("alice", "bob-pw"),
        ("mallory", "mallory-pw"),
        ("", "alice-pw"),
        ("alice:", "alice-pw"),
    ] {
        let as_them = registry.as_user(name, pw);
        check_challenge(&as_them.get("/v2/").await);
        check_challenge(&as_them.get("/v2/public/app/tags/list").await);
        check_challenge(&as_them.post("/v2/team/app/blobs/uploads/").await);
    }
}

#[tokio::test]
async fn an_empty_user_and_password_is_anonymous() {
    // What skopeo and podman send when they hold no credentials for the registry.
    let registry = registry();
    let empty = registry.as_user("", "");
    check_challenge(&empty.get("/v2/").await);
    empty
        .get("/v2/public/app/tags/list")
        .await
        .expect_error(404, "NAME_UNKNOWN");
    check_challenge(&empty.get("/v2/team/app/tags/list").await);
}

#[tokio::test]
async fn a_user_without_the_role_is_denied() {
    let registry = registry();
    let digest = digest_of(Algorithm::Sha256, b"x");
    let cases: [(&str, axum::http::Method, String); 7] = [
        (
            "bob",
            axum::http::Method::POST,
            "/v2/team/app/blobs/uploads/".into(),
        ),
        (
            "bob",
            axum::http::Method::DELETE,
            "/v2/team/app/manifests/latest".into(),
        ),
        (
            "alice",
            axum::http::Method::DELETE,
            "/v2/team/app/manifests/latest".into(),
        ),
        (
            "alice",
            axum::http::Method::POST,
            "/v2/other/app/blobs/uploads/".into(),
        ),
        (
            "alice",
            axum::http::Method::GET,
            "/v2/other/app/tags/list".into(),
        ),
        (
            "dave",
            axum::http::Method::POST,
            "/v2/team/app/blobs/uploads/".into(),
        ),
        (
            "nobody",
            axum::http::Method::GET,
            format!("/v2/team/app/blobs/{digest}"),
        ),
    ];
    for (name, method, url) in cases {
        login(&registry, name)
            .request(method, url)
            .await
            .expect_error(403, "DENIED");
    }
}

#[tokio::test]
async fn push_implies_pull_and_delete_is_its_own_role() {
    let registry = registry();
    let alice = login(&registry, "alice");
    let mut d = DataSet::sha256();
    d.image(&Opts::default().tag("latest"));
    push_all(&alice, "team/app", &d).await;
    let m = &d.manifests[0];
    let pulled = alice.get("/v2/team/app/manifests/latest").await;
    check_manifest_response(&pulled, m, false);
    for blob in &d.blobs {
        check_blob(&alice, "team/app", &blob.bytes, &blob.digest).await;
    }
    let dave = login(&registry, "dave");
    check_manifest_response(&dave.get("/v2/team/app/manifests/latest").await, m, false);
    dave.delete("/v2/team/app/manifests/latest")
        .await
        .expect(202);
    alice
        .get("/v2/team/app/manifests/latest")
        .await
        .expect_error(404, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn the_catalog_shows_only_what_the_caller_may_pull() {
    let registry = registry();
    let root = login(&registry, "root");
    for (i, repo) in ["other/app", "public/app", "team/app", "team/lib"]
        .iter()
        .enumerate()
    {
        let bytes = random_bytes(i as u64, 32);
        let digest = digest_of(Algorithm::Sha256, &bytes);
        push_blob(&root, repo, Upload::PostOnly, &bytes, &digest).await;
    }
    let table: [(Option<&str>, serde_json::Value); 5] = [
        (
            Some("root"),
            json!(["other/app", "public/app", "team/app", "team/lib"]),
        ),
        (
            Some("bob"),
            json!(["other/app", "public/app", "team/app", "team/lib"]),
        ),
        // Logging in never takes away what anonymous callers may see.
        (Some("alice"), json!(["public/app", "team/app", "team/lib"])),
        (Some("nobody"), json!(["public/app"])),
        (None, json!(["public/app"])),
    ];
    for (who, want) in table {
        let caller = match who {
            Some(name) => login(&registry, name),
            None => registry.anonymous(),
        };
        let r = caller.get("/v2/_catalog").await.expect(200);
        assert_eq!(r.json()["repositories"], want, "{who:?}");
        // Paging filters the same way.
        let r = caller.get("/v2/_catalog?n=1").await.expect(200);
        let first = want.as_array().and_then(|a| a.first()).cloned();
        assert_eq!(
            r.json()["repositories"],
            json!(first.into_iter().collect::<Vec<_>>()),
            "{who:?}"
        );
    }
}

#[tokio::test]
async fn an_upload_session_belongs_to_the_user_who_opened_it() {
    let registry = registry();
    let alice = login(&registry, "alice");
    let carol = login(&registry, "carol");
    let location = alice
        .post("/v2/team/app/blobs/uploads/")
        .await
        .expect(202)
        .location();
    let bytes = random_bytes(5, 100);
    let digest = digest_of(Algorithm::Sha256, &bytes);
    carol
        .get(&location)
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    carol
        .patch(&location)
        .header("content-range", "0-99")
        .body(bytes.clone())
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    carol
        .put(with_query(&location, "digest", &digest))
        .body(bytes.clone())
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    carol
        .delete(&location)
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    // The owner's session is untouched, and an admin may look at it.
    alice
        .patch(&location)
        .header("content-range", "0-99")
        .body(bytes.clone())
        .await
        .expect(202);
    login(&registry, "root")
        .get(&location)
        .await
        .expect(204)
        .expect_header("range", "0-99");
    let done = alice
        .put(with_query(&location, "digest", &digest))
        .header("content-length", "0")
        .await;
    crate::harness::check_blob_created(&alice, &done, &bytes, &digest).await;
}

#[tokio::test]
async fn anonymous_grants_allow_exactly_what_they_say() {
    let registry = registry();
    let mut d = DataSet::sha256();
    d.image(&Opts::default().tag("latest"));
    push_all(&login(&registry, "root"), "public/app", &d).await;
    let anonymous = registry.anonymous();
    let m = &d.manifests[0];
    check_manifest_response(
        &anonymous.get("/v2/public/app/manifests/latest").await,
        m,
        false,
    );
    for blob in &d.blobs {
        check_blob(&anonymous, "public/app", &blob.bytes, &blob.digest).await;
    }
    anonymous.get("/v2/public/app/tags/list").await.expect(200);
    check_challenge(&anonymous.delete("/v2/public/app/manifests/latest").await);
    check_challenge(
        &anonymous
            .put("/v2/public/app/manifests/other")
            .content_type(&m.media_type)
            .body(m.bytes.clone())
            .await,
    );
    check_challenge(&anonymous.get("/v2/team/app/manifests/latest").await);
}

#[tokio::test]
async fn a_mount_needs_pull_on_its_source() {
    let registry = registry();
    let root = login(&registry, "root");
    let alice = login(&registry, "alice");
    let bytes = random_bytes(9, 256);
    let digest = digest_of(Algorithm::Sha256, &bytes);
    push_blob(&root, "other/secret", Upload::PostOnly, &bytes, &digest).await;
    let from_secret = with_query(
        &with_query("/v2/team/app/blobs/uploads/", "mount", &digest),
        "from",
        "other/secret",
    );
    // alice may not read other/secret: the mount quietly becomes an upload session.
    alice.post(&from_secret).await.expect(202);
    alice
        .post(with_query("/v2/team/app/blobs/uploads/", "mount", &digest))
        .await
        .expect(202);
    alice
        .head(format!("/v2/team/app/blobs/{digest}"))
        .await
        .expect(404);
    // From a repository she can read, it mounts.
    push_blob(&alice, "team/src", Upload::PostOnly, &bytes, &digest).await;
    let from_src = with_query(
        &with_query("/v2/team/app/blobs/uploads/", "mount", &digest),
        "from",
        "team/src",
    );
    let mounted = alice.post(from_src).await;
    crate::harness::check_blob_created(&alice, &mounted, &bytes, &digest).await;
}
