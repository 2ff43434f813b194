//! Keyless authorities through the gate: a policy that trusts an OIDC identity under a
//! Sigstore trusted root admits an image once a bundle proves that identity signed it, and the
//! ledger names the certificate signer. Bundles come from `verify::testkit`, a Fulcio, CT log
//! and Rekor v1 log with keys of the test's own, and are checked as the gate checks any
//! other. Then what must not admit: another identity, another issuer, another CA, another
//! log, and a threshold of a key and a keyless authority met by one of them.

use oci::Digest;
use serde_json::Value;
use verify::keys::{KeyKind, PrivateKey};
use verify::testkit::{Oidc, Sigstore};
use verify::time::Timestamp;

use crate::gate::{
    REPO, digest_of, gated_registry, push_image, push_referrer, sign_bundle, status_of_manifest,
};
use crate::harness::Registry;

const BUNDLE: &str = verify::bundle::MEDIA_TYPE_V0_3;
const ISSUER: &str = "https://token.actions.example";
const WORKFLOW: &str = "https://git.example/acme/app/.github/workflows/release.yml@refs/heads/main";
/// The `ci` authority: any workflow of acme's on its main branch.
const CI: &str = "  - name: ci\n    keyless:\n      trusted_root: trusted_root.json\n      issuer: https://token.actions.example\n      subject_regexp: 'https://git\\.example/acme/[^@]+@refs/heads/main'\n";
const RELEASE: &str = "  - name: release\n    key: release.pub\n";

/// A registry whose `prod/**` policy has `authorities` (and `extra` after them), with the
/// kit whose trusted root `trusted_root.json` is and the key `release.pub` holds.
struct Setup {
    ci: Registry,
    deploy: Registry,
    kit: Sigstore,
    release: PrivateKey,
    /// The digests of the policy and of the trusted root's file, as the ledger names them.
    policy: Digest,
    trusted_root: Digest,
    _dir: tempfile::TempDir,
}

async fn keyless_gate(authorities: &str, extra: &str) -> Setup {
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let kit = Sigstore::generate("acme", Timestamp::from_unix(now.secs() - 86_400));
    let release = PrivateKey::generate(KeyKind::EcdsaP256).expect("a P-256 key");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = kit.trusted_root_json();
    std::fs::write(dir.path().join("trusted_root.json"), &root).expect("the root is written");
    std::fs::write(
        dir.path().join("release.pub"),
        release.public_key().expect("a public key").to_pem(),
    )
    .expect("the key file is written");
    let path = dir.path().join("prod.yaml");
    std::fs::write(
        &path,
        format!(
            "name: prod-keyless\nrepositories: [\"prod/**\"]\nauthorities:\n{authorities}{extra}"
        ),
    )
    .expect("the policy file is written");
    let digest = server::config::load_policies(std::slice::from_ref(&path))
        .expect("the policy loads")
        .policies()[0]
        .digest()
        .clone();
    let registry = gated_registry(&path, None).await;
    Setup {
        ci: registry.as_user("ci", "ci-pw"),
        deploy: registry.as_user("deploy", "deploy-pw"),
        kit,
        release,
        policy: digest,
        trusted_root: Digest::compute(oci::Algorithm::Sha256, &root),
        _dir: dir,
    }
}

/// A minute ago: the bundles' signing time (a proven time may not lie ahead of the gate's
/// clock).
fn a_minute_ago() -> Timestamp {
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    Timestamp::from_unix(now.secs() - 60)
}

/// A bundle signing `image` (a descriptor) for `who`, by `kit`'s authorities.
fn keyless_bundle(kit: &Sigstore, who: &Oidc, image: &Value) -> Vec<u8> {
    let digest = Digest::parse(&digest_of(image)).expect("a digest");
    kit.sign_image(who, &digest, a_minute_ago())
}

/// The status `deploy` gets for the image, and the reasons of a denial.
async fn pull(deploy: &Registry, image: &Value) -> (u16, String) {
    let r = deploy
        .get(format!("/v2/{REPO}/manifests/{}", digest_of(image)))
        .await;
    let reasons = match r.status.as_u16() {
        403 => r.json()["errors"][0]["detail"]["reasons"].to_string(),
        _ => String::new(),
    };
    (r.status.as_u16(), reasons)
}

/// The ledger's events of type `kind` about `image`.
fn events(ci: &Registry, image: &Value, kind: &str) -> Vec<Value> {
    let ledger = ci.ledger();
    ledger
        .entries_about(&digest_of(image))
        .into_iter()
        .filter_map(|i| serde_json::from_slice::<Value>(&ledger.entry(i).ok()?).ok())
        .map(|e| e["event"].clone())
        .filter(|e| e["type"] == kind)
        .collect()
}

#[tokio::test]
async fn a_keyless_signature_admits_and_the_ledger_names_the_certificate() {
    let s = keyless_gate(CI, "").await;
    let (image, layer) = push_image(&s.ci, 500, Some("1.0")).await;

    let (status, reasons) = pull(&s.deploy, &image).await;
    assert_eq!(status, 403, "quarantined until signed");
    assert!(
        reasons.contains("ci"),
        "the reasons name the authority: {reasons}"
    );

    let who = Oidc::uri(WORKFLOW, ISSUER);
    push_referrer(
        &s.ci,
        501,
        &image,
        keyless_bundle(&s.kit, &who, &image),
        BUNDLE,
    )
    .await;
    assert_eq!(status_of_manifest(&s.deploy, "1.0").await, 200);
    assert_eq!(
        s.deploy
            .get(format!("/v2/{REPO}/blobs/{layer}"))
            .await
            .status,
        200
    );

    for kind in [
        "artifact.pushed",
        "artifact.denied",
        "signature.attached",
        "artifact.admitted",
        "attestation.attached",
    ] {
        assert!(!events(&s.ci, &image, kind).is_empty(), "no {kind}");
    }
    let admitted = events(&s.ci, &image, "artifact.admitted");
    let [event] = admitted.as_slice() else {
        panic!("one admission: {admitted:?}");
    };
    let details = &event["details"];
    assert_eq!(details["policy"], s.policy.as_str());
    let [signer] = details["signers"].as_array().expect("signers").as_slice() else {
        panic!("one signer: {details}");
    };
    assert_eq!(
        signer["signer"],
        format!("certificate for {WORKFLOW} from {ISSUER}")
    );
    let who = &signer["who"];
    assert_eq!(who["type"], "certificate", "{who}");
    assert_eq!(who["identity"], WORKFLOW);
    assert_eq!(who["issuer"], ISSUER);
    assert_eq!(who["trusted_root"], s.trusted_root.as_str());
    // The signer's evidence is among what the decision counted: the bundle's referrer.
    assert!(
        event["evidence"]
            .as_array()
            .expect("evidence")
            .contains(&signer["evidence"]),
        "{event}"
    );
}

/// Each bundle verifies as a bundle but proves the wrong thing: the image stays quarantined,
/// and the reason says why. A right bundle then admits it, so each failed for its reason.
#[tokio::test]
async fn keyless_bundles_that_prove_something_else_do_not_admit() {
    let s = keyless_gate(CI, "").await;
    let rogue = Sigstore::generate("rogue", Timestamp::from_unix(a_minute_ago().secs() - 3600));
    let right = Oidc::uri(WORKFLOW, ISSUER);
    let cases: Vec<(&str, Sigstore, Oidc, &str)> = vec![
        (
            "another identity",
            s.kit.clone(),
            Oidc::uri(
                "https://git.example/acme/app/.github/workflows/release.yml@refs/heads/feature",
                ISSUER,
            ),
            "does not match",
        ),
        (
            "another issuer",
            s.kit.clone(),
            Oidc::uri(WORKFLOW, "https://issuer.evil.example"),
            "OIDC issuer",
        ),
        (
            "a CA not in the trusted root",
            s.kit.with_ca_of(&rogue),
            right.clone(),
            "rogue intermediate",
        ),
        (
            "a log not in the trusted root",
            s.kit.with_rekor_of(&rogue),
            right.clone(),
            "its log is not in the trusted root",
        ),
    ];
    for (seed, (what, authorities, who, why)) in (600..).step_by(10).zip(cases) {
        let (image, _) = push_image(&s.ci, seed, None).await;
        let bundle = keyless_bundle(&authorities, &who, &image);
        push_referrer(&s.ci, seed + 1, &image, bundle, BUNDLE).await;
        let (status, reasons) = pull(&s.deploy, &image).await;
        assert_eq!(status, 403, "{what}");
        assert!(reasons.contains("does not count"), "{what}: {reasons}");
        assert!(reasons.contains(why), "{what}: {reasons}");

        let good = keyless_bundle(&s.kit, &right, &image);
        push_referrer(&s.ci, seed + 2, &image, good, BUNDLE).await;
        assert_eq!(pull(&s.deploy, &image).await.0, 200, "{what}, then signed");
    }
}

/// Two of a key and a keyless authority: either alone is one of two, as is the same identity
/// twice; both admit.
#[tokio::test]
async fn a_threshold_of_a_key_and_an_identity_needs_both() {
    let s = keyless_gate(&format!("{CI}{RELEASE}"), "threshold: 2\n").await;
    let who = Oidc::uri(WORKFLOW, ISSUER);

    let (keyed, _) = push_image(&s.ci, 700, None).await;
    let signed = sign_bundle(&s.release, &digest_of(&keyed));
    push_referrer(&s.ci, 701, &keyed, signed, BUNDLE).await;
    let (status, reasons) = pull(&s.deploy, &keyed).await;
    assert_eq!(status, 403, "the key alone");
    assert!(
        reasons.contains("1 of 2 required authorities signed (release)"),
        "{reasons}"
    );
    push_referrer(
        &s.ci,
        702,
        &keyed,
        keyless_bundle(&s.kit, &who, &keyed),
        BUNDLE,
    )
    .await;
    assert_eq!(
        pull(&s.deploy, &keyed).await.0,
        200,
        "the key, then the identity"
    );

    let (keyless, _) = push_image(&s.ci, 710, None).await;
    for seed in [711, 712] {
        let bundle = keyless_bundle(&s.kit, &who, &keyless);
        push_referrer(&s.ci, seed, &keyless, bundle, BUNDLE).await;
        let (status, reasons) = pull(&s.deploy, &keyless).await;
        assert_eq!(status, 403, "the identity alone, bundle {seed}");
        assert!(
            reasons.contains("1 of 2 required authorities signed (ci)"),
            "{reasons}"
        );
    }
    let signed = sign_bundle(&s.release, &digest_of(&keyless));
    push_referrer(&s.ci, 713, &keyless, signed, BUNDLE).await;
    assert_eq!(
        pull(&s.deploy, &keyless).await.0,
        200,
        "the identity, then the key"
    );
    let admitted = events(&s.ci, &keyless, "artifact.admitted");
    let signers = admitted[0]["details"]["signers"].to_string();
    assert!(
        signers.contains(s.trusted_root.as_str()) && signers.contains("\"type\":\"key\""),
        "{signers}"
    );
}
