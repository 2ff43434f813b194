//! Policies change without a restart: replacing the trusted key's file (or the policy) and
//! asking for a reload (`POST /api/v1/policies/reload`, administrators) or waiting for the
//! watcher puts the new policies in force, records them, and decides every covered image
//! again, both ways (an image signed by the new key is admitted, one signed only by the old
//! key is denied). A file that does not load changes nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use verify::keys::{KeyKind, PrivateKey};

use crate::gate::{
    digest_of, gated_registry, push_image, push_referrer, sign_bundle, status_of_manifest,
};
use crate::harness::Registry;

const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

struct Setup {
    ci: Registry,
    deploy: Registry,
    root: Registry,
    dir: tempfile::TempDir,
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Makes `key` the one `release.pub` holds: the policy's trusted key.
    fn trust(&self, key: &PrivateKey) {
        write_atomically(
            &self.path("release.pub"),
            key.public_key().expect("a public key").to_pem().as_bytes(),
        );
    }

    /// Two images (from seeds `seed` and `seed + 1`), signed by `first` and `second`: each
    /// one's descriptor and a layer's digest.
    async fn two_images(
        &self,
        seed: u64,
        first: &PrivateKey,
        second: &PrivateKey,
    ) -> ((Value, String), (Value, String)) {
        let mut images = Vec::new();
        for (i, key) in [first, second].into_iter().enumerate() {
            let seed = seed + i as u64;
            let (image, layer) = push_image(&self.ci, seed, None).await;
            let bundle = sign_bundle(key, &digest_of(&image));
            push_referrer(&self.ci, seed + 100, &image, bundle, BUNDLE).await;
            images.push((image, layer));
        }
        let second = images.pop().expect("two");
        (images.pop().expect("two"), second)
    }

    /// What `deploy` (pull only) gets for each image's manifest.
    async fn reads(&self, images: &[&Value]) -> Vec<u16> {
        let mut statuses = Vec::new();
        for image in images {
            statuses.push(status_of_manifest(&self.deploy, &digest_of(image)).await);
        }
        statuses
    }

    /// What `deploy` gets for a blob of `prod/app`.
    async fn blob(&self, digest: &str) -> u16 {
        let path = format!("/v2/prod/app/blobs/{digest}");
        self.deploy.get(path).await.status.as_u16()
    }

    async fn reload(&self, who: &Registry) -> (u16, serde_json::Value) {
        let r = who.post("/api/v1/policies/reload").await;
        let body = serde_json::from_slice(&r.body).unwrap_or_default();
        (r.status.as_u16(), body)
    }

    /// The events of type `kind` on the ledger, in order.
    fn events(&self, kind: &str) -> Vec<Value> {
        let ledger = self.ci.ledger();
        (0..ledger.size())
            .filter_map(|i| serde_json::from_slice::<Value>(&ledger.entry(i).ok()?).ok())
            .map(|e| e["event"].clone())
            .filter(|e| e["type"] == kind)
            .collect()
    }

    /// The `policy.updated` entries on the ledger, in order: each one's policy digest.
    fn policy_updates(&self) -> Vec<String> {
        self.events("policy.updated")
            .iter()
            .map(|e| {
                e["subject"]["digest"]
                    .as_str()
                    .expect("a digest")
                    .to_owned()
            })
            .collect()
    }
}

/// Replaced, never rewritten in place, as editors and Kubernetes do.
fn write_atomically(path: &Path, bytes: &[u8]) {
    let temp = path.with_extension("new");
    std::fs::write(&temp, bytes).expect("written");
    std::fs::rename(&temp, path).expect("renamed");
}

/// `prod/**` needs a signature by the key in `release.pub` (at first `first`); the policy is
/// read from its file, which the watcher checks every `watch`.
async fn reloadable(first: &PrivateKey, watch: Option<Duration>) -> Setup {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let policy = dir.path().join("prod.yaml");
    std::fs::write(
        &policy,
        "name: prod-signed\nrepositories: [\"prod/**\"]\nauthorities:\n  - name: release\n    key: release.pub\n",
    )
    .expect("the policy file is written");
    std::fs::write(
        dir.path().join("release.pub"),
        first.public_key().expect("a public key").to_pem(),
    )
    .expect("the key file is written");
    let registry = gated_registry(&policy, watch).await;
    Setup {
        ci: registry.as_user("ci", "ci-pw"),
        deploy: registry.as_user("deploy", "deploy-pw"),
        root: registry.as_user("root", "root-pw"),
        dir,
    }
}

#[tokio::test]
async fn a_reload_puts_changed_policies_in_force_both_ways_and_a_broken_file_changes_nothing() {
    let old = PrivateKey::generate(KeyKind::EcdsaP256).expect("a key");
    let new = PrivateKey::generate(KeyKind::EcdsaP256).expect("a key");
    let s = reloadable(&old, None).await;
    let first_policy = s.policy_updates();
    assert_eq!(
        first_policy.len(),
        1,
        "the policy in force is recorded at start"
    );

    // One image signed by the new key, one by the old: only the second is admitted.
    let ((by_new, _), (by_old, _)) = s.two_images(1, &new, &old).await;
    assert_eq!(s.reads(&[&by_new, &by_old]).await, [403, 200]);

    // Nothing changed on disk: nothing to do.
    let (status, body) = s.reload(&s.root).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], false, "{body}");
    assert_eq!(body["policies"][0]["digest"], first_policy[0].as_str());

    // Only administrators reload.
    assert_eq!(s.reload(&s.deploy).await.0, 403);
    assert_eq!(s.reload(&s.ci).await.0, 403);

    // The key file replaced: the new key is trusted, the old one no longer.
    s.trust(&new);
    let (status, body) = s.reload(&s.root).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], true, "{body}");
    assert_eq!(
        body["evaluated"], 5,
        "two images, their signatures and the registry's counter-signature: {body}"
    );
    assert_eq!(s.reads(&[&by_new, &by_old]).await, [200, 403]);
    let updates = s.policy_updates();
    assert_eq!(updates.len(), 2, "the new version is recorded: {updates:?}");
    let second = updates[1].clone();
    assert_ne!(second, first_policy[0]);
    assert_eq!(body["policies"][0]["digest"], second.as_str());
    // The decisions name the policy they were made under.
    let decided_under = |kind: &str, image: &Value| {
        s.events(kind).iter().any(|e| {
            e["subject"]["digest"] == digest_of(image).as_str()
                && e["details"].to_string().contains(&second)
        })
    };
    assert!(decided_under("artifact.admitted", &by_new));
    assert!(decided_under("artifact.denied", &by_old));

    // A broken policy file: refused with its error, the policies in force stay.
    write_atomically(
        &s.path("prod.yaml"),
        b"name: prod-signed\nrepositories: [\n",
    );
    let (status, body) = s.reload(&s.root).await;
    assert_eq!(status, 400, "{body}");
    let message = body.to_string();
    assert!(
        message.contains("prod.yaml") && message.contains("unchanged"),
        "{message}"
    );
    assert_eq!(s.reads(&[&by_new, &by_old]).await, [200, 403]);
    // A missing key file likewise.
    write_atomically(
        &s.path("prod.yaml"),
        b"name: prod-signed\nrepositories: [\"prod/**\"]\nauthorities:\n  - name: release\n    key: gone.pub\n",
    );
    let (status, body) = s.reload(&s.root).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("gone.pub"), "{body}");
    assert_eq!(s.reads(&[&by_new, &by_old]).await, [200, 403]);
    assert_eq!(
        s.policy_updates().len(),
        2,
        "nothing recorded for a failed reload"
    );

    // Back to the first key: the first version is in force (and recorded) again.
    write_atomically(
        &s.path("prod.yaml"),
        b"name: prod-signed\nrepositories: [\"prod/**\"]\nauthorities:\n  - name: release\n    key: release.pub\n",
    );
    s.trust(&old);
    let (status, body) = s.reload(&s.root).await;
    assert_eq!(
        (status, &body["changed"]),
        (200, &serde_json::json!(true)),
        "{body}"
    );
    assert_eq!(s.reads(&[&by_new, &by_old]).await, [403, 200]);
    let updates = s.policy_updates();
    assert_eq!(updates.len(), 3);
    assert_eq!(updates[2], first_policy[0]);
    // Each reloaded version names the one it replaced.
    let events = s.events("policy.updated");
    assert_eq!(events[1]["details"]["replaces"], first_policy[0].as_str());
    assert_eq!(events[2]["details"]["replaces"], second.as_str());
}

#[tokio::test]
async fn the_watcher_picks_up_a_replaced_key_file() {
    let old = PrivateKey::generate(KeyKind::EcdsaP256).expect("a key");
    let new = PrivateKey::generate(KeyKind::EcdsaP256).expect("a key");
    let s = reloadable(&old, Some(Duration::from_secs(1))).await;
    let (image, layer) = push_image(&s.ci, 3, None).await;
    push_referrer(
        &s.ci,
        13,
        &image,
        sign_bundle(&new, &digest_of(&image)),
        BUNDLE,
    )
    .await;
    assert_eq!(status_of_manifest(&s.deploy, &digest_of(&image)).await, 403);

    s.trust(&new);
    // No request: the watcher finds the change. Bounded, so a watcher that never runs fails.
    let deadline = Instant::now() + Duration::from_secs(60);
    while status_of_manifest(&s.deploy, &digest_of(&image)).await != 200 {
        assert!(
            Instant::now() < deadline,
            "the watcher never reloaded the policy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.policy_updates().len(), 2);
    // The image's blobs follow its admission.
    let blob = s.deploy.get(format!("/v2/prod/app/blobs/{layer}")).await;
    assert_eq!(blob.status.as_u16(), 200);
}

#[tokio::test]
async fn between_a_swap_and_the_re_evaluation_reads_are_decided_afresh() {
    let old = PrivateKey::generate(KeyKind::EcdsaP256).expect("a key");
    let new = PrivateKey::generate(KeyKind::EcdsaP256).expect("a key");
    let s = reloadable(&old, None).await;
    let ((by_new, new_layer), (by_old, old_layer)) = s.two_images(4, &new, &old).await;
    assert_eq!(s.reads(&[&by_new, &by_old]).await, [403, 200]);

    // The new policy in force, nothing decided again yet: every stored decision names the old
    // policy, and no read may rest on one.
    s.trust(&new);
    let app = s.ci.app();
    let set = server::config::load_policies(&app.config.policy_files).expect("the policy loads");
    app.gate
        .as_ref()
        .expect("a gate")
        .replace(server::gate::Gate::new(set));
    assert_eq!(s.reads(&[&by_new, &by_old]).await, [200, 403]);
    assert_eq!(s.blob(&new_layer).await, 200);
    assert_eq!(s.blob(&old_layer).await, 403);

    // Reads store and record nothing; the re-evaluation does, and agrees with them.
    assert_eq!(
        s.events("artifact.admitted").len(),
        1,
        "only by_old, at first"
    );
    // (As at start: the policy recorded, then everything decided again.)
    server::gate::start(app).await.expect("decided again");
    assert_eq!(s.reads(&[&by_new, &by_old]).await, [200, 403]);
    assert_eq!(s.blob(&new_layer).await, 200);
    assert_eq!(s.blob(&old_layer).await, 403);
    assert_eq!(s.events("artifact.admitted").len(), 2);
}

#[tokio::test]
async fn a_policy_the_ledger_cannot_record_is_not_put_in_force() {
    let old = PrivateKey::generate(KeyKind::EcdsaP256).expect("a key");
    let new = PrivateKey::generate(KeyKind::EcdsaP256).expect("a key");
    let s = reloadable(&old, None).await;
    let ((by_new, _), (by_old, _)) = s.two_images(6, &new, &old).await;
    assert_eq!(s.reads(&[&by_new, &by_old]).await, [403, 200]);
    s.ci.ledger().close();
    s.trust(&new);
    let refused = s
        .root
        .post("/api/v1/policies/reload")
        .server_error_expected()
        .await;
    assert_eq!(refused.status.as_u16(), 500);
    // Every decision must name a recorded policy: the old one stays in force.
    assert_eq!(s.reads(&[&by_new, &by_old]).await, [403, 200]);
    let app = s.ci.app();
    let in_force = app.gate.as_ref().expect("a gate").current();
    assert_eq!(
        in_force.policies().policies()[0].digest().as_str(),
        s.policy_updates()[0]
    );
}
