//! The gate, through HTTP: a pushed image is quarantined for readers with only the pull role
//! (403 DENIED with the policy's reasons, blobs too) until a signature by a trusted key admits
//! it; the registry then counter-signs it and records the decision on the ledger. Then the
//! catalogue of attacks that must each leave the image quarantined.

use std::collections::BTreeMap;

use base64::Engine as _;
use oci::Digest;
use serde_json::{Value, json};
use server::auth::{AuthConfig, Grant, Role, User, UserPassword};
use verify::bundle::{Bundle, Content};
use verify::cosign_classic::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};
use verify::evidence::{Candidate, Outcome, SIGN_PREDICATE_TYPE, Want};
use verify::keys::{KeyKind, PrivateKey, PublicKey};
use verify::sigstore::{Identity, Options, Verifier};
use verify::time::Timestamp;

use crate::data::{DataSet, Layers, Opts, push_all};
use crate::harness::Registry;

pub(crate) const REPO: &str = "prod/app";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const ADMISSION: &str = "https://vouch.dev/attestations/admission/v1";

fn password(plain: &str) -> UserPassword {
    let hash = bcrypt::hash_with_salt(plain, 4, [7u8; 16])
        .expect("bcrypt hashes any short password")
        .format_for_version(bcrypt::Version::TwoY);
    UserPassword::from_bcrypt(&hash).expect("a bcrypt hash in the $2y$ format")
}

pub(crate) fn user(name: &str, repos: &str, role: Role) -> User {
    User {
        name: name.to_owned(),
        password: password(&format!("{name}-pw")),
        grants: vec![Grant::new(&[repos.to_owned()], &[role]).expect("a valid grant")],
    }
}

/// The gated registry: `ci` pushes `prod/**`, `deploy` only pulls; `prod/**` needs a signature
/// by `trusted`. Returns the registry as ci, as deploy, and the trusted key.
async fn gated(mode: &str) -> (Registry, Registry, PrivateKey, tempfile::TempDir) {
    gated_with(mode, "").await
}

/// [`gated`], with `extra` appended to the policy document.
async fn gated_with(
    mode: &str,
    extra: &str,
) -> (Registry, Registry, PrivateKey, tempfile::TempDir) {
    let trusted = PrivateKey::generate(KeyKind::EcdsaP256).expect("a P-256 key");
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("release.pub"),
        trusted.public_key().expect("a public key").to_pem(),
    )
    .expect("the key file is written");
    let policy = dir.path().join("prod.yaml");
    std::fs::write(
        &policy,
        format!(
            "name: prod-signed\nrepositories: [\"prod/**\"]\nmode: {mode}\nauthorities:\n  - name: release\n    key: release.pub\n{extra}"
        ),
    )
    .expect("the policy file is written");
    let registry = gated_registry(&policy, None).await;
    let ci = registry.as_user("ci", "ci-pw");
    let deploy = registry.as_user("deploy", "deploy-pw");
    (ci, deploy, trusted, dir)
}

/// A registry gated by the policy file `policy` (its files watched every `watch`), with the
/// users every gate test uses (password `<name>-pw`): `ci` pushes `prod/**`, `deploy` pulls
/// everything, `root` is an administrator, `outsider` pulls `other/**`, `mounter` pulls
/// everything and pushes `scratch/**`.
pub(crate) async fn gated_registry(
    policy: &std::path::Path,
    watch: Option<std::time::Duration>,
) -> Registry {
    Registry::with_gate(|c| {
        c.auth = AuthConfig {
            realm: "vouch-test".into(),
            users: vec![
                user("ci", "prod/**", Role::Push),
                user("deploy", "**", Role::Pull),
                user("root", "**", Role::Admin),
                user("outsider", "other/**", Role::Pull),
                User {
                    name: "mounter".into(),
                    password: password("mounter-pw"),
                    grants: vec![
                        Grant::new(&["**".to_owned()], &[Role::Pull]).expect("a grant"),
                        Grant::new(&["scratch/**".to_owned()], &[Role::Push]).expect("a grant"),
                    ],
                },
            ],
            anonymous: Vec::new(),
        };
        c.policy_files = vec![policy.to_owned()];
        c.policies = server::config::load_policies(&c.policy_files).expect("the policy loads");
        c.policy_watch = watch;
    })
    .await
}

/// Pushes a fresh two-layer image (tagged `tag` if given) as `ci`; returns its descriptor and
/// a layer's digest.
pub(crate) async fn push_image(
    ci: &Registry,
    seed: u64,
    tag: Option<&'static str>,
) -> (Value, String) {
    let mut data = DataSet::sha256().seeded(seed);
    let mut opts = Opts::default().layers(Layers::Gzip);
    opts.tag = tag;
    let image = data.image(&opts);
    push_all(ci, REPO, &data).await;
    let layer = data.blobs[0].digest.clone();
    (image, layer)
}

/// A signature bundle by `key` over `signed` (a statement of the sign predicate) whose subject
/// names this repository.
pub(crate) fn sign_bundle(key: &PrivateKey, signed: &str) -> Vec<u8> {
    sign_bundle_naming(key, signed, Some(REPO))
}

/// A signature bundle by `key` over `signed` whose subject is named `name`, or has no name
/// (as cosign 3 and `vouch sign` sign).
fn sign_bundle_naming(key: &PrivateKey, signed: &str, name: Option<&str>) -> Vec<u8> {
    let (alg, hex) = signed.split_once(':').expect("a digest");
    let mut subject = json!({"digest": {alg: hex}});
    if let Some(name) = name {
        subject["name"] = json!(name);
    }
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [subject],
        "predicateType": SIGN_PREDICATE_TYPE,
        "predicate": {},
    });
    let content = Content::dsse_signed(key, serde_json::to_vec(&statement).expect("JSON"))
        .expect("the statement is signed");
    Bundle::signed_with_key(&key.public_key().expect("a public key"), content)
        .to_json()
        .expect("the bundle serializes")
        .into_bytes()
}

/// Pushes `bundle` as a referrer of `subject` (a descriptor), as cosign 3 and oras do, with
/// its layer of `layer_type`.
pub(crate) async fn push_referrer(
    ci: &Registry,
    seed: u64,
    subject: &Value,
    bundle: Vec<u8>,
    layer_type: &'static str,
) {
    let mut data = DataSet::sha256().seeded(seed);
    let mut opts = Opts::default()
        .artifact(BUNDLE, layer_type)
        .annotation("dev.sigstore.bundle.content", "dsse-envelope")
        .annotation("dev.sigstore.bundle.predicateType", SIGN_PREDICATE_TYPE)
        .subject(subject);
    opts.layers = Layers::Artifact {
        media_type: layer_type,
        bytes: Some(bundle),
    };
    data.image(&opts);
    push_all(ci, REPO, &data).await;
}

/// Pushes a cosign classic `.sig` image for `signed` whose payload names `reference` and
/// `payload_digest`, signed by `key`.
async fn push_classic(
    ci: &Registry,
    seed: u64,
    signed: &str,
    reference: &str,
    payload_digest: &str,
    key: &PrivateKey,
) {
    let payload = verify::cosign_classic::simple_signing_payload(
        reference,
        &Digest::parse(payload_digest).expect("a digest"),
        &BTreeMap::new(),
    );
    let signature = key.sign(&payload).expect("the payload is signed");
    let mut data = DataSet::sha256().seeded(seed);
    let mut layer = data.blob(SIMPLE_SIGNING_MEDIA_TYPE, payload, false);
    layer["annotations"] = json!({
        SIGNATURE_ANNOTATION: base64::engine::general_purpose::STANDARD.encode(signature)
    });
    let config = data.blob(
        "application/vnd.oci.image.config.v1+json",
        br#"{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec(),
        false,
    );
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": oci::media_type::OCI_MANIFEST,
        "config": config,
        "layers": [layer],
    });
    let tag = format!("sha256-{}.sig", signed.trim_start_matches("sha256:"));
    let tag: &'static str = Box::leak(tag.into_boxed_str());
    data.manifest(&doc, Some(tag), false);
    push_all(ci, REPO, &data).await;
}

pub(crate) async fn status_of_manifest(reader: &Registry, reference: &str) -> u16 {
    reader
        .get(format!("/v2/{REPO}/manifests/{reference}"))
        .header("accept", oci::media_type::OCI_MANIFEST)
        .header("accept", oci::media_type::OCI_INDEX)
        .await
        .status
        .as_u16()
}

pub(crate) fn digest_of(descriptor: &Value) -> String {
    descriptor["digest"].as_str().expect("a digest").to_owned()
}

#[tokio::test]
async fn a_pushed_image_is_quarantined_until_a_trusted_signature_admits_it() {
    let (ci, deploy, trusted, _dir) = gated("enforce").await;
    let (image, layer) = push_image(&ci, 1, Some("1.0")).await;
    let digest = digest_of(&image);

    let denied = deploy.get(format!("/v2/{REPO}/manifests/1.0")).await;
    assert_eq!(denied.status, 403, "{denied:?}");
    let body = denied.json();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    let reasons = body["errors"][0]["detail"]["reasons"].to_string();
    assert!(
        reasons.contains("release"),
        "the reasons name what is missing: {reasons}"
    );
    // HEAD resolves the digest, so that a signer can find what to sign.
    let head = deploy.head(format!("/v2/{REPO}/manifests/1.0")).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("docker-content-digest"), Some(digest.as_str()));
    // A pull by digest of a quarantined layer.
    let blob = deploy.get(format!("/v2/{REPO}/blobs/{layer}")).await;
    assert_eq!(blob.status, 403, "{blob:?}");
    // The pusher reads what it pushed.
    assert_eq!(status_of_manifest(&ci, "1.0").await, 200);

    push_referrer(&ci, 2, &image, sign_bundle(&trusted, &digest), BUNDLE).await;
    assert_eq!(status_of_manifest(&deploy, "1.0").await, 200);
    assert_eq!(
        deploy.get(format!("/v2/{REPO}/blobs/{layer}")).await.status,
        200
    );

    // The registry counter-signed: a referrer of its own, signed with its key.
    let listing = deploy
        .get(format!("/v2/{REPO}/referrers/{digest}"))
        .await
        .json();
    let ours: Vec<&Value> = listing["manifests"]
        .as_array()
        .expect("a referrers list")
        .iter()
        .filter(|d| d["annotations"]["dev.sigstore.bundle.predicateType"] == ADMISSION)
        .collect();
    assert_eq!(ours.len(), 1, "{listing}");
    let referrer = deploy
        .get(format!("/v2/{REPO}/manifests/{}", digest_of(ours[0])))
        .await
        .json();
    let bundle = deploy
        .get(format!(
            "/v2/{REPO}/blobs/{}",
            digest_of(&referrer["layers"][0])
        ))
        .await;
    assert_eq!(bundle.status, 200);
    let key = PublicKey::from_pem(
        &std::fs::read_to_string(ci.data_dir().join("gate/countersign.pub")).expect("the key"),
    )
    .expect("a PEM key");
    let identity = Identity::Key(key);
    let verifier = Verifier::new(Default::default());
    let candidate = Candidate {
        name: "registry",
        identity: &identity,
        verifier: &verifier,
        has_root: false,
    };
    let opts = Options {
        now: Timestamp::from_system_time(std::time::SystemTime::now()),
        allow_no_tlog_with_key: true,
    };
    let checked = verify::evidence::verify_bundle(
        &Digest::parse(&digest).expect("a digest"),
        &bundle.body,
        &[candidate],
        &Want::Attestations(Some(ADMISSION.into())),
        &opts,
    );
    let Outcome::Verified(proven) = checked else {
        panic!("the counter-signature does not verify: {checked:?}");
    };
    let predicate = &proven.payload.expect("a statement")["predicate"];
    assert!(
        predicate["policies"][0]["digest"]
            .as_str()
            .unwrap_or("")
            .starts_with("sha256:")
    );
    assert_eq!(predicate["evidence"].as_array().map(Vec::len), Some(1));

    // The decision is on the ledger, under the policy's digest.
    let ledger = ci.ledger();
    let about = ledger.entries_about(&digest);
    let kinds: Vec<String> = about
        .iter()
        .map(|i| {
            let entry: Value =
                serde_json::from_slice(&ledger.entry(*i).expect("an entry")).expect("JSON");
            entry["event"]["type"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    for kind in [
        "artifact.pushed",
        "artifact.denied",
        "signature.attached",
        "artifact.admitted",
        "attestation.attached",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn warn_mode_serves_with_a_warning_and_records_the_denial() {
    let (ci, deploy, _trusted, _dir) = gated("warn").await;
    let (_image, layer) = push_image(&ci, 3, Some("1.0")).await;
    let served = deploy.get(format!("/v2/{REPO}/manifests/1.0")).await;
    assert_eq!(served.status, 200);
    let warning = served.header("warning").unwrap_or_default().to_owned();
    assert!(
        warning.starts_with("299 vouch \"not admitted (warn mode)"),
        "{warning}"
    );
    // Its blobs too, with the same warning.
    let blob = deploy.get(format!("/v2/{REPO}/blobs/{layer}")).await;
    assert_eq!(blob.status, 200);
    assert_eq!(blob.header("warning").unwrap_or_default(), warning);
}

/// Each attack leaves the image quarantined for `deploy`.
#[tokio::test]
async fn the_attack_catalogue_fails() {
    let (ci, deploy, trusted, _dir) = gated("enforce").await;
    let stranger = PrivateKey::generate(KeyKind::EcdsaP256).expect("a P-256 key");

    // A signature over another digest, attached to the image.
    let (image, _) = push_image(&ci, 10, None).await;
    let (other, _) = push_image(&ci, 11, None).await;
    push_referrer(
        &ci,
        12,
        &image,
        sign_bundle(&trusted, &digest_of(&other)),
        BUNDLE,
    )
    .await;
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&image)).await,
        403,
        "signature over another digest"
    );

    // A valid signature by an untrusted key.
    let (image, _) = push_image(&ci, 20, None).await;
    push_referrer(
        &ci,
        21,
        &image,
        sign_bundle(&stranger, &digest_of(&image)),
        BUNDLE,
    )
    .await;
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&image)).await,
        403,
        "untrusted key"
    );

    // A classic .sig whose payload names another image.
    let (image, _) = push_image(&ci, 30, None).await;
    let (other, _) = push_image(&ci, 31, None).await;
    push_classic(
        &ci,
        32,
        &digest_of(&image),
        "registry.test/prod/app",
        &digest_of(&other),
        &trusted,
    )
    .await;
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&image)).await,
        403,
        "classic payload for another image"
    );

    // A classic .sig replayed from another repository: its payload names prod/other.
    let (image, _) = push_image(&ci, 40, None).await;
    let d = digest_of(&image);
    push_classic(&ci, 41, &d, "registry.test/prod/other", &d, &trusted).await;
    assert_eq!(
        status_of_manifest(&deploy, &d).await,
        403,
        "signature from another repository"
    );
    // The same signature naming this repository admits: the test above failed for its reason.
    push_classic(&ci, 42, &d, "registry.test/prod/app", &d, &trusted).await;
    assert_eq!(
        status_of_manifest(&deploy, &d).await,
        200,
        "a right classic signature admits"
    );

    // A referrer whose subject is another digest: it signs image A but is attached to B.
    let (a, _) = push_image(&ci, 50, None).await;
    let (b, _) = push_image(&ci, 51, None).await;
    push_referrer(&ci, 52, &b, sign_bundle(&trusted, &digest_of(&a)), BUNDLE).await;
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&a)).await,
        403,
        "referrer of another subject (A)"
    );
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&b)).await,
        403,
        "referrer of another subject (B)"
    );

    // A tag moved after admission to an unadmitted digest.
    let (x, _) = push_image(&ci, 60, Some("stable")).await;
    push_referrer(&ci, 61, &x, sign_bundle(&trusted, &digest_of(&x)), BUNDLE).await;
    assert_eq!(status_of_manifest(&deploy, "stable").await, 200);
    push_image(&ci, 62, Some("stable")).await;
    assert_eq!(
        status_of_manifest(&deploy, "stable").await,
        403,
        "tag moved to an unadmitted digest"
    );

    // An index smuggling an unsigned child next to a signed one, the index itself signed.
    let mut data = DataSet::sha256().seeded(70);
    let signed_child = data.image(&Opts::default());
    let unsigned_child = data.image(&Opts::default().platforms(&[("linux", "arm64")]));
    let index = data.index(
        &[
            (signed_child.clone(), Some(("linux", "amd64"))),
            (unsigned_child.clone(), Some(("linux", "arm64"))),
        ],
        &Opts::default(),
    );
    push_all(&ci, REPO, &data).await;
    push_referrer(
        &ci,
        71,
        &signed_child,
        sign_bundle(&trusted, &digest_of(&signed_child)),
        BUNDLE,
    )
    .await;
    push_referrer(
        &ci,
        72,
        &index,
        sign_bundle(&trusted, &digest_of(&index)),
        BUNDLE,
    )
    .await;
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&signed_child)).await,
        200
    );
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&unsigned_child)).await,
        403,
        "unsigned child"
    );
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&index)).await,
        403,
        "index with an unsigned child"
    );

    // Once the other child is signed too, the index is decided again and admitted.
    push_referrer(
        &ci,
        73,
        &unsigned_child,
        sign_bundle(&trusted, &digest_of(&unsigned_child)),
        BUNDLE,
    )
    .await;
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&index)).await,
        200,
        "index of signed children"
    );

    // A trusted signature in a layer of the wrong media type.
    let (image, _) = push_image(&ci, 80, None).await;
    push_referrer(
        &ci,
        81,
        &image,
        sign_bundle(&trusted, &digest_of(&image)),
        "application/octet-stream",
    )
    .await;
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&image)).await,
        403,
        "wrong media type"
    );

    // A pusher whose User-Agent claims to be cosign.
    let mut data = DataSet::sha256().seeded(90);
    let image = data.image(&Opts::default());
    for blob in &data.blobs {
        crate::harness::push_blob(
            &ci,
            REPO,
            crate::harness::Upload::PostPut,
            &blob.bytes,
            &blob.digest,
        )
        .await;
    }
    let m = &data.manifests[0];
    let pushed = ci
        .put(format!("/v2/{REPO}/manifests/{}", m.digest))
        .header("user-agent", "cosign/v2.4.1 (linux; amd64)")
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .await;
    assert_eq!(pushed.status, 201);
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&image)).await,
        403,
        "User-Agent cosign"
    );
}

/// The attack of a signature replayed from another repository, where the policy binds
/// signatures to the repository (`bind_repository: true`): a bundle signed for `dev/app` (its
/// statement names `dev/app`) or naming nothing (cosign 3, `vouch sign`), copied as a referrer
/// of the same image into `prod/app` (oras and skopeo copy referrers), does not admit it there,
/// and the denial says why; a bundle naming `prod/app`, or a classic signature whose payload
/// does, admits. Without the option the nameless bundle admits, as cosign 3 expects.
#[tokio::test]
async fn a_bundle_replayed_from_another_repository_does_not_count_where_the_policy_binds_it() {
    let (ci, deploy, trusted, _dir) = gated_with("enforce", "bind_repository: true\n").await;
    let reasons = |body: Value| body["errors"][0]["detail"]["reasons"].to_string();

    let (image, _) = push_image(&ci, 500, Some("1.0")).await;
    let d = digest_of(&image);
    let from_dev = sign_bundle_naming(&trusted, &d, Some("127.0.0.1:5000/dev/app"));
    push_referrer(&ci, 501, &image, from_dev, BUNDLE).await;
    let denied = deploy.get(format!("/v2/{REPO}/manifests/1.0")).await;
    assert_eq!(denied.status, 403, "a signature for dev/app: {denied:?}");
    let why = reasons(denied.json());
    assert!(
        why.contains("names 127.0.0.1:5000/dev/app (the policy binds signatures to prod/app)"),
        "{why}"
    );

    let (nameless, _) = push_image(&ci, 510, None).await;
    let nd = digest_of(&nameless);
    push_referrer(
        &ci,
        511,
        &nameless,
        sign_bundle_naming(&trusted, &nd, None),
        BUNDLE,
    )
    .await;
    let denied = deploy.get(format!("/v2/{REPO}/manifests/{nd}")).await;
    assert_eq!(denied.status, 403, "a signature naming nothing: {denied:?}");
    let why = reasons(denied.json());
    assert!(
        why.contains("names no repository (the policy binds signatures to prod/app)"),
        "{why}"
    );

    // The control: the same key's bundle naming prod/app, by the registry's address, admits.
    let for_prod = sign_bundle_naming(&trusted, &d, Some("127.0.0.1:5000/prod/app"));
    push_referrer(&ci, 502, &image, for_prod, BUNDLE).await;
    assert_eq!(
        status_of_manifest(&deploy, "1.0").await,
        200,
        "named prod/app"
    );
    // A classic signature names its repository: it binds.
    push_classic(&ci, 512, &nd, "registry.test/prod/app", &nd, &trusted).await;
    assert_eq!(status_of_manifest(&deploy, &nd).await, 200, "classic .sig");

    // Without the option, the nameless bundle counts (cosign 3 compatibility).
    let (ci, deploy, trusted, _dir) = gated("enforce").await;
    let (image, _) = push_image(&ci, 520, None).await;
    let d = digest_of(&image);
    push_referrer(
        &ci,
        521,
        &image,
        sign_bundle_naming(&trusted, &d, None),
        BUNDLE,
    )
    .await;
    assert_eq!(status_of_manifest(&deploy, &d).await, 200, "unbound policy");
}

/// Revoking the trusted key, then an artifact's digest, denies what they admitted; the trace
/// lists every step with an inclusion proof that holds against the checkpoint.
#[tokio::test]
async fn revocations_deny_and_the_trace_proves_every_step() {
    let (ci, deploy, trusted, _dir) = gated("enforce").await;
    let admin = ci.as_user("root", "root-pw");
    let (image, _) = push_image(&ci, 100, Some("1.0")).await;
    let d = digest_of(&image);
    push_referrer(&ci, 101, &image, sign_bundle(&trusted, &d), BUNDLE).await;
    assert_eq!(status_of_manifest(&deploy, "1.0").await, 200);

    // A digest revocation: a second image, admitted, then revoked by its digest alone.
    let (other, _) = push_image(&ci, 102, None).await;
    let od = digest_of(&other);
    push_classic(&ci, 103, &od, "registry.test/prod/app", &od, &trusted).await;
    assert_eq!(status_of_manifest(&deploy, &od).await, 200);
    let by_digest = json!({"digest": od, "reason": "a vulnerable build"});
    let revoked = admin
        .post("/api/v1/revocations")
        .content_type("application/json")
        .body(by_digest.to_string())
        .await;
    assert_eq!(revoked.status, 201, "{revoked:?}");
    assert_eq!(
        status_of_manifest(&deploy, &od).await,
        403,
        "a revoked digest"
    );
    assert_eq!(
        status_of_manifest(&deploy, "1.0").await,
        200,
        "another digest stays admitted"
    );
    let bad = admin
        .post("/api/v1/revocations")
        .content_type("application/json")
        .body(json!({"digest": od, "key": "sha256:00", "reason": "x"}).to_string())
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");

    // A key revocation, by an administrator only.
    let fingerprint = verify::keys::hex(&trusted.public_key().expect("a key").fingerprint());
    let request = json!({"key": format!("sha256:{fingerprint}"), "reason": "the key leaked"});
    let refused = deploy
        .post("/api/v1/revocations")
        .content_type("application/json")
        .body(request.to_string())
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    let revoked = admin
        .post("/api/v1/revocations")
        .content_type("application/json")
        .body(request.to_string())
        .await;
    assert_eq!(revoked.status, 201, "{revoked:?}");
    let denied = deploy.get(format!("/v2/{REPO}/manifests/1.0")).await;
    assert_eq!(denied.status, 403);
    assert!(denied.json().to_string().contains("revoked"), "{denied:?}");
    // The revoked key admits nothing new.
    let (third, _) = push_image(&ci, 104, None).await;
    let td = digest_of(&third);
    push_referrer(&ci, 105, &third, sign_bundle(&trusted, &td), BUNDLE).await;
    assert_eq!(
        status_of_manifest(&deploy, &td).await,
        403,
        "signed by a revoked key"
    );

    // The trace: every entry about the image, its signature and its signer's key.
    let trace = deploy.get(format!("/api/v1/trace/{d}")).await;
    assert_eq!(trace.status, 200, "{trace:?}");
    let trace = trace.json();
    let checkpoint = verify::checkpoint::SignedCheckpoint::parse(
        trace["checkpoint"]
            .as_str()
            .expect("a checkpoint")
            .as_bytes(),
    )
    .expect("a signed checkpoint");
    let (size, root) = (
        checkpoint.checkpoint().size(),
        *checkpoint.checkpoint().root(),
    );
    let mut kinds = Vec::new();
    for e in trace["entries"].as_array().expect("entries") {
        let text = e["entry"].as_str().expect("the entry's text");
        let proof: Vec<Vec<u8>> = e["proof"]
            .as_array()
            .expect("a proof")
            .iter()
            .map(|h| {
                base64::engine::general_purpose::STANDARD
                    .decode(h.as_str().expect("base64"))
                    .expect("base64")
            })
            .collect();
        let index = e["index"].as_u64().expect("an index");
        verify::merkle::verify_inclusion(
            index,
            size,
            &verify::merkle::leaf_hash(text.as_bytes()),
            &proof,
            &root,
        )
        .unwrap_or_else(|err| panic!("entry {index} is not proven: {err}"));
        let entry: Value = serde_json::from_str(text).expect("JSON");
        kinds.push(entry["event"]["type"].as_str().unwrap_or("").to_owned());
    }
    for kind in [
        "artifact.pushed",
        "artifact.denied",
        "signature.attached",
        "artifact.admitted",
        "attestation.attached",
        "key.revoked",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    assert_eq!(trace["state"][0]["admitted"], false, "{trace}");
    // Someone who cannot pull prod/app sees the ledger's entries, not the repository's state.
    let outside = ci
        .as_user("outsider", "outsider-pw")
        .get(format!("/api/v1/trace/{d}"))
        .await
        .json();
    assert_eq!(outside["state"], json!([]), "{outside}");
    assert!(!outside["entries"].as_array().expect("entries").is_empty());
}

/// A bundle by `key` holding an in-toto statement about `subject` of `predicate_type`.
fn attestation_bundle(
    key: &PrivateKey,
    subject: &str,
    predicate_type: &str,
    predicate: Value,
) -> Vec<u8> {
    let (alg, hex) = subject.split_once(':').expect("a digest");
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": REPO, "digest": {alg: hex}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    let content = Content::dsse_signed(key, serde_json::to_vec(&statement).expect("JSON"))
        .expect("the statement is signed");
    Bundle::signed_with_key(&key.public_key().expect("a public key"), content)
        .to_json()
        .expect("the bundle serializes")
        .into_bytes()
}

/// A policy that also requires SLSA provenance from one builder: a signature alone keeps the
/// image quarantined; provenance from another builder does not count (the reason quotes the
/// condition); provenance from the right builder admits, and the decision on the ledger
/// carries what the provenance says.
#[tokio::test]
async fn required_provenance_is_checked_with_its_conditions() {
    const SLSA: &str = "https://slsa.dev/provenance/v1";
    let (ci, deploy, trusted, _dir) = gated_with(
        "enforce",
        "attestations:\n  - predicate_type: https://slsa.dev/provenance/v1\n    conditions:\n      - predicate.runDetails.builder.id == \"https://ci.example/builder\"\n",
    )
    .await;
    let provenance = |builder: &str| {
        json!({
            "buildDefinition": {
                "buildType": "https://ci.example/build/v1",
                "externalParameters": {},
                "resolvedDependencies": [{
                    "uri": "git+https://git.example/acme/app",
                    "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}
                }]
            },
            "runDetails": {"builder": {"id": builder}}
        })
    };
    let (image, _) = push_image(&ci, 200, Some("1.0")).await;
    let d = digest_of(&image);
    push_referrer(&ci, 201, &image, sign_bundle(&trusted, &d), BUNDLE).await;
    let denied = deploy.get(format!("/v2/{REPO}/manifests/1.0")).await;
    assert_eq!(denied.status, 403);
    assert!(denied.json().to_string().contains(SLSA), "{denied:?}");

    push_referrer(
        &ci,
        202,
        &image,
        attestation_bundle(
            &trusted,
            &d,
            SLSA,
            provenance("https://evil.example/builder"),
        ),
        BUNDLE,
    )
    .await;
    let denied = deploy.get(format!("/v2/{REPO}/manifests/1.0")).await;
    assert_eq!(denied.status, 403);
    assert!(
        denied.json().to_string().contains("builder.id"),
        "the reason quotes the condition: {denied:?}"
    );

    push_referrer(
        &ci,
        203,
        &image,
        attestation_bundle(&trusted, &d, SLSA, provenance("https://ci.example/builder")),
        BUNDLE,
    )
    .await;
    assert_eq!(status_of_manifest(&deploy, "1.0").await, 200);

    let ledger = ci.ledger();
    let admitted: Vec<Value> = ledger
        .entries_about(&d)
        .into_iter()
        .filter_map(|i| serde_json::from_slice::<Value>(&ledger.entry(i).ok()?).ok())
        .filter(|e| e["event"]["type"] == "artifact.admitted")
        .collect();
    assert_eq!(admitted.len(), 1, "{admitted:?}");
    let provenance = &admitted[0]["event"]["details"]["provenance"];
    let recorded = provenance.to_string();
    assert!(
        recorded.contains("https://ci.example/builder"),
        "{recorded}"
    );
    assert!(
        recorded.contains("git+https://git.example/acme/app"),
        "{recorded}"
    );
    assert!(
        recorded.contains("0123456789abcdef0123456789abcdef01234567"),
        "{recorded}"
    );
}

/// With `index_children: inherit`, a signed index admits its unsigned children (cosign signs
/// only the index unless told otherwise); by default (tested in the attack catalogue) they
/// must each be signed.
#[tokio::test]
async fn children_inherit_an_admitted_index_only_when_the_policy_says_so() {
    let (ci, deploy, trusted, _dir) = gated_with("enforce", "index_children: inherit\n").await;
    let mut data = DataSet::sha256().seeded(300);
    let amd = data.image(&Opts::default());
    let arm = data.image(&Opts::default().platforms(&[("linux", "arm64")]));
    let index = data.index(
        &[
            (amd.clone(), Some(("linux", "amd64"))),
            (arm.clone(), Some(("linux", "arm64"))),
        ],
        &Opts::default(),
    );
    push_all(&ci, REPO, &data).await;
    for d in [&amd, &arm, &index] {
        assert_eq!(status_of_manifest(&deploy, &digest_of(d)).await, 403);
    }
    push_referrer(
        &ci,
        301,
        &index,
        sign_bundle(&trusted, &digest_of(&index)),
        BUNDLE,
    )
    .await;
    for d in [&amd, &arm, &index] {
        assert_eq!(status_of_manifest(&deploy, &digest_of(d)).await, 200, "{d}");
    }
    let ledger = ci.ledger();
    let through: Vec<Value> = ledger
        .entries_about(&digest_of(&arm))
        .into_iter()
        .filter_map(|i| serde_json::from_slice::<Value>(&ledger.entry(i).ok()?).ok())
        .filter(|e| e["event"]["type"] == "artifact.admitted")
        .collect();
    assert_eq!(through.len(), 1, "{through:?}");
    assert_eq!(
        through[0]["event"]["details"]["throughIndex"],
        digest_of(&index)
    );

    // A child revoked by its digest stays out, whatever index holds it.
    let admin = ci.as_user("root", "root-pw");
    let revoke = |body: Value| {
        let admin = admin.clone();
        async move {
            let r = admin
                .post("/api/v1/revocations")
                .content_type("application/json")
                .body(body.to_string())
                .await;
            assert_eq!(r.status, 201, "{r:?}");
        }
    };
    revoke(json!({"digest": digest_of(&arm), "reason": "a bad build"})).await;
    assert_eq!(
        status_of_manifest(&deploy, &digest_of(&arm)).await,
        403,
        "revoked child"
    );
    assert_eq!(status_of_manifest(&deploy, &digest_of(&amd)).await, 200);
    // The signing key revoked: the index is denied, and so are the children it let in.
    let fingerprint = verify::keys::hex(&trusted.public_key().expect("a key").fingerprint());
    revoke(json!({"key": format!("sha256:{fingerprint}"), "reason": "leaked"})).await;
    for d in [&amd, &arm, &index] {
        assert_eq!(status_of_manifest(&deploy, &digest_of(d)).await, 403, "{d}");
    }
}

/// A user who may pull the gated repository and push an ungated one cannot mount a quarantined
/// layer into the ungated one to read it there; once the image is admitted, the mount works.
#[tokio::test]
async fn a_quarantined_layer_cannot_be_mounted_elsewhere() {
    let (ci, deploy, trusted, _dir) = gated("enforce").await;
    let mounter = ci.as_user("mounter", "mounter-pw");
    let (image, layer) = push_image(&ci, 400, None).await;
    let mount = format!("/v2/scratch/copy/blobs/uploads/?mount={layer}&from={REPO}");
    let refused = mounter.post(&mount).await;
    assert_eq!(
        refused.status, 202,
        "an upload session, not a mount: {refused:?}"
    );
    let read = mounter.get(format!("/v2/scratch/copy/blobs/{layer}")).await;
    assert_eq!(read.status, 404, "{read:?}");
    // Without `from`, no repository offers it either.
    let any = mounter
        .post(format!("/v2/scratch/copy/blobs/uploads/?mount={layer}"))
        .await;
    assert_eq!(any.status, 202, "{any:?}");

    push_referrer(
        &ci,
        401,
        &image,
        sign_bundle(&trusted, &digest_of(&image)),
        BUNDLE,
    )
    .await;
    assert_eq!(status_of_manifest(&deploy, &digest_of(&image)).await, 200);
    let mounted = mounter.post(&mount).await;
    assert_eq!(mounted.status, 201, "{mounted:?}");
    assert_eq!(
        mounter
            .get(format!("/v2/scratch/copy/blobs/{layer}"))
            .await
            .status,
        200
    );
}
