//! The image verbs (`sign`, `verify`, `attest`, `verify-attestation`) against real registries:
//! `vouch serve`, which has the referrers API, and CNCF Distribution 2.8 (`docker-registry`),
//! which has not, so referrers go through the referrers tag schema. Images are built offline
//! with umoci and pushed with skopeo; what vouch writes is read back over HTTP and checked
//! against the layouts cosign 3 writes. The real cosign fixtures are pushed as cosign would
//! have pushed them.
//!
//! Tools: umoci, skopeo, docker-registry (installed by `.ci/install`); a missing tool fails.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use client::{Bytes, Client, ClientConfig, ImageRef, Repository, referrers_tag};
use oci::{Algorithm, Digest, Reference, Tag};
use serde_json::{Value, json};

use crate::common::*;
use crate::signing::{Verdict, fingerprint, fixture, key_pair, run};

const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const DSSE_LAYER: &str = "application/vnd.dsse.envelope.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
const SLSA1: &str = "https://slsa.dev/provenance/v1";

// ---------------------------------------------------------------------------------------------
// Sign and verify, both layouts, both registries

#[test]
fn sign_and_verify_both_layouts_on_vouch() {
    sign_and_verify(&Registry::vouch());
}

#[test]
fn sign_and_verify_both_layouts_on_distribution() {
    sign_and_verify(&Registry::distribution());
}

fn sign_and_verify(reg: &Registry) {
    let tmp = tempfile::tempdir().unwrap();
    let host = reg.host();
    let digest = push_image(tmp.path(), &host, "team/app:v1", "one");
    let (key, public) = key_pair(tmp.path(), "signer", "ecdsa-p256");
    let (other_key, other_public) = key_pair(tmp.path(), "other", "ed25519");
    let (_, stranger) = key_pair(tmp.path(), "stranger", "ecdsa-p256");
    let image = format!("{host}/team/app:v1");

    // Another tool's referrer is there first (on Distribution, listed in the tag schema's
    // index as an OCI 1.1 client lists it): signing must keep it.
    let sbom = push_foreign_referrer(reg, "team/app", &digest);

    // The default layout: a bundle referrer.
    let v = image_verb(&["sign", "--key", p(&key), &image]);
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    assert!(
        v.stderr.contains(&format!("resolves to {digest}")),
        "{}",
        v.stderr
    );
    let listed = reg.referrers("team/app", &digest);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed.iter().any(|d| d["digest"] == sbom.as_str()),
        "{listed:?}"
    );
    let bundles: Vec<&Value> = listed
        .iter()
        .filter(|d| d["artifactType"] == BUNDLE_TYPE)
        .collect();
    assert_eq!(bundles.len(), 1, "{listed:?}");
    if !reg.has_referrers_api() {
        // go-containerregistry keeps the index sorted by digest.
        let digests: Vec<&str> = listed
            .iter()
            .map(|d| d["digest"].as_str().unwrap())
            .collect();
        let mut sorted = digests.clone();
        sorted.sort();
        assert_eq!(digests, sorted);
    }
    let referrer = bundles[0]["digest"].as_str().unwrap().to_owned();
    let (manifest, bundle) =
        check_bundle_referrer(reg, "team/app", &referrer, &digest, SIGN_PREDICATE);
    assert_eq!(
        manifest["annotations"]["dev.sigstore.bundle.predicateType"],
        SIGN_PREDICATE
    );
    let statement = payload_of(&bundle);
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["subject"][0]["digest"]["sha256"], hex(&digest));
    assert_eq!(statement["subject"][0]["annotations"], json!({}));
    // cosign 3 leaves the name out; vouch names the repository (as cosign's attestations do),
    // which a policy with `bind_repository` counts.
    assert_eq!(
        statement["subject"][0]["name"].as_str(),
        Some(format!("{host}/team/app").as_str()),
        "{statement}"
    );
    assert_eq!(statement["predicate"], json!({}));
    let hint = bundle["verificationMaterial"]["publicKey"]["hint"]
        .as_str()
        .unwrap();
    let fp = fingerprint(&public);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(hint)
            .unwrap(),
        unhex(fp.strip_prefix("sha256:").unwrap())
    );

    // The classic layout: sha256-<hex>.sig.
    let v = image_verb(&["sign", "--key", p(&key), "--legacy-format", &image]);
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    let sig_tag = format!("{}.sig", tag_of(&digest));
    let sig = reg.manifest("team/app", &sig_tag);
    assert_eq!(sig["mediaType"], OCI_MANIFEST);
    assert_eq!(
        sig["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layers = sig["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], SIMPLE_SIGNING);
    let payload = reg.blob("team/app", layers[0]["digest"].as_str().unwrap());
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"{host}/team/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
        )
    );
    let config: Value =
        serde_json::from_slice(&reg.blob("team/app", sig["config"]["digest"].as_str().unwrap()))
            .unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], json!([layers[0]["digest"]]));
    assert_eq!(
        config["history"],
        json!([{ "created": "0001-01-01T00:00:00Z" }])
    );

    // Signing again with the same key adds nothing (cosign's duplicate detector); another key
    // appends a layer and keeps the first.
    let v = image_verb(&["sign", "--key", p(&key), "--legacy-format", &image]);
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    assert!(
        v.stderr.contains("already holds this signature"),
        "{}",
        v.stderr
    );
    assert_eq!(
        reg.manifest("team/app", &sig_tag)["layers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let v = image_verb(&[
        "sign",
        "--key",
        p(&other_key),
        "--legacy-format",
        "-a",
        "env=prod",
        &image,
    ]);
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    let sig = reg.manifest("team/app", &sig_tag);
    let layers = sig["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    let second: Value =
        serde_json::from_slice(&reg.blob("team/app", layers[1]["digest"].as_str().unwrap()))
            .unwrap();
    assert_eq!(second["optional"], json!({ "env": "prod" }));

    // verify finds all three and says which verified with the key given.
    let report = verify_json(&["verify", "--key", p(&public), &image]);
    let found = findings(&report);
    let source = if reg.has_referrers_api() {
        "referrers API"
    } else {
        "referrers tag"
    };
    assert_eq!(found.len(), 3, "{report}");
    assert_eq!(found[0]["source"], source);
    assert_eq!(found[0]["result"], "verified", "{report}");
    assert_eq!(found[0]["signer"]["key"], fp.as_str());
    assert_eq!(found[0]["payload"]["predicateType"], SIGN_PREDICATE);
    assert_eq!(found[1]["result"], "verified", "{report}");
    assert_eq!(found[1]["source"], "classic tag");
    assert_eq!(
        found[1]["payload"]["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    assert_eq!(found[2]["result"], "rejected", "{report}");
    assert_eq!(
        found[2]["reason"],
        "the signature does not verify with the given key"
    );
    let report = verify_json(&["verify", "--key", p(&other_public), &image]);
    assert_eq!(findings(&report)[2]["result"], "verified", "{report}");
    assert_eq!(
        findings(&report)[2]["signer"]["key"],
        fingerprint(&other_public).as_str()
    );
    // By digest too.
    let by_digest = format!("{host}/team/app@{digest}");
    let v = image_verb(&["verify", "--key", p(&public), &by_digest]);
    assert_eq!(v.code, Some(0), "{}", v.stderr);

    // A key that signed none of them: each is reported with its reason, and exit code 1.
    let v = image_verb(&["verify", "--key", p(&stranger), &image]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(
        v.stderr.contains(&format!(
            "bundle referrer {referrer} [{source}]: rejected: the signature does not verify with the signer's key over the DSSE envelope"
        )),
        "{}",
        v.stderr
    );
    assert_eq!(
        v.stderr
            .matches("[classic tag]: rejected: the signature does not verify with the given key")
            .count(),
        2,
        "{}",
        v.stderr
    );
    assert!(
        v.stderr
            .trim_end()
            .ends_with("vouch: not verified: none of the 3 signatures found verifies"),
        "{}",
        v.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Attest and verify-attestation

#[test]
fn attest_and_verify_attestation_on_vouch() {
    attest_and_verify(&Registry::vouch());
}

#[test]
fn attest_and_verify_attestation_on_distribution() {
    attest_and_verify(&Registry::distribution());
}

fn attest_and_verify(reg: &Registry) {
    let tmp = tempfile::tempdir().unwrap();
    let host = reg.host();
    let digest = push_image(tmp.path(), &host, "team/app:v1", "attested");
    let (key, public) = key_pair(tmp.path(), "signer", "ecdsa-p256");
    let (_, stranger) = key_pair(tmp.path(), "stranger", "ecdsa-p256");
    let image = format!("{host}/team/app:v1");
    let provenance = tmp.path().join("provenance.json");
    write_file(
        &provenance,
        r#"{"buildDefinition":{"buildType":"https://example.com/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}"#,
    );
    let sbom = tmp.path().join("sbom.json");
    write_file(&sbom, r#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#);

    let v = image_verb(&[
        "attest",
        "--key",
        p(&key),
        "--predicate",
        p(&provenance),
        "--type",
        "slsaprovenance1",
        &image,
    ]);
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    for (predicate, kind) in [(&provenance, "slsaprovenance1"), (&sbom, "cyclonedx")] {
        let v = image_verb(&[
            "attest",
            "--key",
            p(&key),
            "--predicate",
            p(predicate),
            "--type",
            kind,
            "--legacy-format",
            &image,
        ]);
        assert_eq!(v.code, Some(0), "{}", v.stderr);
    }

    // cosign's custom type wraps the predicate file's text with the time.
    let note = tmp.path().join("note.txt");
    write_file(&note, "reviewed by the release team\n");
    let v = image_verb(&[
        "attest",
        "--key",
        p(&key),
        "--predicate",
        p(&note),
        "--type",
        "custom",
        "--legacy-format",
        &image,
    ]);
    assert_eq!(v.code, Some(0), "{}", v.stderr);

    // The referrer, as cosign 3 writes it: a DSSE bundle over an in-toto statement v0.1
    // naming the repository and the digest.
    let listed = reg.referrers("team/app", &digest);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let referrer = listed[0]["digest"].as_str().unwrap().to_owned();
    let (_, bundle) = check_bundle_referrer(reg, "team/app", &referrer, &digest, SLSA1);
    let statement = payload_of(&bundle);
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v0.1");
    assert_eq!(statement["predicateType"], SLSA1);
    assert_eq!(
        statement["subject"],
        json!([{ "name": format!("{host}/team/app"), "digest": { "sha256": hex(&digest) } }])
    );
    assert_eq!(
        statement["predicate"]["runDetails"]["builder"]["id"],
        "https://example.com/builder"
    );

    // The classic .att image: DSSE envelopes with their predicate types.
    let att = reg.manifest("team/app", &format!("{}.att", tag_of(&digest)));
    let layers = att["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    let custom = "https://cosign.sigstore.dev/attestation/v1";
    for (layer, predicate_type) in layers
        .iter()
        .zip([SLSA1, "https://cyclonedx.org/bom", custom])
    {
        assert_eq!(layer["mediaType"], DSSE_LAYER);
        assert_eq!(layer["annotations"]["predicateType"], predicate_type);
        assert_eq!(
            layer["annotations"]["dev.cosignproject.cosign/signature"],
            ""
        );
        let envelope = reg.blob("team/app", layer["digest"].as_str().unwrap());
        let text = String::from_utf8(envelope).unwrap();
        assert!(text.starts_with(r#"{"payload":""#), "{text}");
        assert!(
            text.contains(r#""payloadType":"application/vnd.in-toto+json","signatures":[{"sig":""#)
        );
    }

    // All four verify; --type narrows; a type none has is no attestation at all.
    let report = verify_json(&["verify-attestation", "--key", p(&public), &image]);
    let found = findings(&report);
    assert_eq!(found.len(), 4, "{report}");
    assert!(found.iter().all(|f| f["result"] == "verified"), "{report}");
    assert_eq!(found[0]["payload"]["predicateType"], SLSA1);
    assert_eq!(found[3]["payload"]["predicateType"], custom);
    assert_eq!(
        found[3]["payload"]["predicate"]["Data"],
        "reviewed by the release team\n"
    );
    assert!(
        found[3]["payload"]["predicate"]["Timestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let report = verify_json(&[
        "verify-attestation",
        "--key",
        p(&public),
        "--type",
        "cyclonedx",
        &image,
    ]);
    let verified: Vec<&Value> = findings(&report)
        .iter()
        .filter(|f| f["result"] == "verified")
        .collect();
    assert_eq!(verified.len(), 1, "{report}");
    assert_eq!(verified[0]["predicateType"], "https://cyclonedx.org/bom");
    let v = image_verb(&[
        "verify-attestation",
        "--key",
        p(&public),
        "--type",
        "spdxjson",
        &image,
    ]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(v.stderr.contains("no attestations found"), "{}", v.stderr);

    // Attestations are not signatures.
    let v = image_verb(&["verify", "--key", p(&public), &image]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(
        v.stderr.contains(&format!(
            "bundle referrer {referrer} [{}]: skipped: an attestation (predicate type {SLSA1}), not a signature",
            if reg.has_referrers_api() { "referrers API" } else { "referrers tag" }
        )),
        "{}",
        v.stderr
    );

    // Another key: every one rejected, with its reason.
    let v = image_verb(&["verify-attestation", "--key", p(&stranger), &image]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(
        v.stderr.contains(
            "rejected: the signature does not verify with the signer's key over the DSSE envelope"
        ),
        "{}",
        v.stderr
    );
    assert_eq!(
        v.stderr
            .matches("[classic tag]: rejected: the signature does not verify with the given key")
            .count(),
        3,
        "{}",
        v.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// What must not verify

/// A classic signature whose payload names another digest, a referrer listed for an image it
/// is not about, a classic signature copied to another repository, and a tag moved after
/// signing: each is examined and rejected (or not used) for what it is.
#[test]
fn misplaced_signatures_are_rejected_on_vouch() {
    misplaced_signatures(&Registry::vouch());
}

#[test]
fn misplaced_signatures_are_rejected_on_distribution() {
    misplaced_signatures(&Registry::distribution());
}

fn misplaced_signatures(reg: &Registry) {
    let tmp = tempfile::tempdir().unwrap();
    let host = reg.host();
    let a = push_image(tmp.path(), &host, "team/app:v1", "image a");
    let b = push_image(tmp.path(), &host, "team/app:v2", "image b");
    let (key, public) = key_pair(tmp.path(), "signer", "ecdsa-p256");
    let v1 = format!("{host}/team/app:v1");
    for args in [
        vec!["sign", "--key", p(&key), &v1],
        vec!["sign", "--key", p(&key), "--legacy-format", &v1],
    ] {
        let v = image_verb(&args);
        assert_eq!(v.code, Some(0), "{}", v.stderr);
    }
    let at_b = format!("{host}/team/app@{b}");
    let v = image_verb(&["verify", "--key", p(&public), &at_b]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(v.stderr.contains("no signatures found"), "{}", v.stderr);

    // A's .sig image under B's tag: the signature holds, but it signs A.
    let repo = reg.repository("team/app");
    let sig_a = Reference::Tag(Tag::parse(&format!("{}.sig", tag_of(&a))).unwrap());
    let sig_b = Tag::parse(&format!("{}.sig", tag_of(&b))).unwrap();
    copy_manifest(reg, &repo, &sig_a, &repo, &Reference::Tag(sig_b));
    // A's bundle referrer listed in B's referrers tag index: its subject is A, so it is not
    // used for B.
    let referrer = reg.referrers("team/app", &a)[0].clone();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        serde_json::to_string(&json!({
            "mediaType": OCI_MANIFEST,
            "size": referrer["size"],
            "digest": referrer["digest"],
            "artifactType": BUNDLE_TYPE,
        }))
        .unwrap()
    );
    reg.push_manifest(
        &repo,
        &Reference::Tag(referrers_tag(&Digest::parse(&b).unwrap())),
        OCI_INDEX,
        index.into_bytes(),
    );
    let v = image_verb(&["verify", "--key", p(&public), &at_b]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(
        v.stderr.contains(&format!(
            "bundle referrer {} [referrers tag]: skipped: its subject is {a}, not the image",
            referrer["digest"].as_str().unwrap()
        )),
        "{}",
        v.stderr
    );
    assert!(
        v.stderr.contains(&format!(
            "[classic tag]: rejected: the payload signs {a}, not the image's digest {b}"
        )),
        "{}",
        v.stderr
    );
    assert!(
        v.stderr
            .contains("not verified: the one signature found does not verify"),
        "{}",
        v.stderr
    );

    // A and its .sig copied to another repository: the payload names team/app.
    let other = reg.repository("mirror/app");
    let a_ref = Reference::Digest(Digest::parse(&a).unwrap());
    copy_manifest(reg, &repo, &a_ref, &other, &a_ref);
    copy_manifest(reg, &repo, &sig_a, &other, &sig_a);
    let v = image_verb(&[
        "verify",
        "--key",
        p(&public),
        &format!("{host}/mirror/app@{a}"),
    ]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(
        v.stderr.contains(&format!(
            "[classic tag]: rejected: the payload's docker-reference \"{host}/team/app\" is another repository than the image's"
        )),
        "{}",
        v.stderr
    );

    // v1 moved to B after A was signed: v1 now means B, which nobody signed; A still verifies.
    let b_ref = Reference::Digest(Digest::parse(&b).unwrap());
    copy_manifest(
        reg,
        &repo,
        &b_ref,
        &repo,
        &Reference::Tag(Tag::parse("v1").unwrap()),
    );
    let v = image_verb(&["verify", "--key", p(&public), &v1]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(v.stderr.contains(&format!("team/app@{b}")), "{}", v.stderr);
    let v = image_verb(&[
        "verify",
        "--key",
        p(&public),
        &format!("{host}/team/app@{a}"),
    ]);
    assert_eq!(v.code, Some(0), "{}", v.stderr);
}

// ---------------------------------------------------------------------------------------------
// Real cosign output

/// cosign's own OCI-referrer bundle (`cosign/oci-attestation.sigstore.json`, keyless, Fulcio
/// and Rekor of the public-good instance) pushed as cosign's `WriteAttestationNewBundleFormat`
/// pushes it, for the subject it names; and cosign's classic keyed `.sig` layer pushed as
/// cosign pushes it, whose payload names a repository on another registry.
#[test]
fn cosign_fixtures_pushed_as_cosign_pushes_them_on_vouch() {
    cosign_fixtures(&Registry::vouch());
}

#[test]
fn cosign_fixtures_pushed_as_cosign_pushes_them_on_distribution() {
    cosign_fixtures(&Registry::distribution());
}

fn cosign_fixtures(reg: &Registry) {
    let host = reg.host();
    let repo = reg.repository("repo");
    let subject = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
    let bundle = std::fs::read(fixture("cosign/oci-attestation.sigstore.json")).unwrap();
    let config = reg.push_blob(&repo, b"{}".to_vec());
    let layer = reg.push_blob(&repo, bundle.clone());
    // cosign's referrer manifest, field for field (go-containerregistry's order).
    let manifest = format!(
        concat!(
            r#"{{"schemaVersion":2,"mediaType":"{m}","config":{{"mediaType":"{e}","size":2,"digest":"{c}","artifactType":"{b}"}},"#,
            r#""layers":[{{"mediaType":"{b}","size":{ls},"digest":"{l}"}}],"#,
            r#""annotations":{{"dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"https://cosign.sigstore.dev/attestation/v1","org.opencontainers.image.created":"2025-02-28T19:18:11Z"}},"#,
            r#""subject":{{"mediaType":"{m}","size":527,"digest":"{s}"}},"artifactType":"{b}"}}"#
        ),
        m = OCI_MANIFEST,
        e = OCI_EMPTY,
        b = BUNDLE_TYPE,
        c = config,
        l = layer,
        ls = bundle.len(),
        s = subject,
    );
    let manifest_digest = sha256(manifest.as_bytes());
    let size = manifest.len();
    reg.push_manifest(
        &repo,
        &Reference::Digest(Digest::parse(&manifest_digest).unwrap()),
        OCI_MANIFEST,
        manifest.into_bytes(),
    );
    if !reg.has_referrers_api() {
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","size":{size},"digest":"{manifest_digest}","artifactType":"{BUNDLE_TYPE}"}}]}}"#
        );
        reg.push_manifest(
            &repo,
            &Reference::Tag(referrers_tag(&Digest::parse(subject).unwrap())),
            OCI_INDEX,
            index.into_bytes(),
        );
    }
    let image = format!("{host}/repo@{subject}");
    let root = fixture("trust/cosign-trusted_root_pgi.json");
    let keyless = |identity: &str| {
        image_verb(&[
            "verify-attestation",
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
            "--trusted-root",
            p(&root),
            "--output",
            "json",
            &image,
        ])
    };
    let v = keyless("cody@soyland.com");
    assert_eq!(v.code, Some(0), "{}", v.stderr);
    let report = v.report.expect("a JSON report");
    let found = findings(&report);
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["result"], "verified");
    assert_eq!(found[0]["signer"]["identity"], "cody@soyland.com");
    assert_eq!(
        found[0]["predicateType"],
        "https://cosign.sigstore.dev/attestation/v1"
    );
    let v = keyless("someone@example.com");
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(
        v.stderr.contains("rejected: the certificate's identity [\"cody@soyland.com\"] does not match \"someone@example.com\""),
        "{}",
        v.stderr
    );
    // It is an attestation: `verify` does not take it for a signature.
    let v = image_verb(&[
        "verify",
        "--certificate-identity",
        "cody@soyland.com",
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
        "--trusted-root",
        p(&root),
        &image,
    ]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(v.stderr.contains("skipped: an attestation (predicate type https://cosign.sigstore.dev/attestation/v1), not a signature"), "{}", v.stderr);

    // cosign's classic keyed signature (sigstore-rs's test vector of real cosign output) in a
    // .sig image as cosign writes it. Its payload signs this digest in
    // registry-testing.svc.lan/busybox: the signature and the digest check out, and vouch
    // still refuses it here because the repository is another.
    let busybox = reg.repository("busybox");
    let digest = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";
    let payload = std::fs::read(fixture("cosign-classic/keyed/payload.json")).unwrap();
    let signature = std::fs::read_to_string(fixture("cosign-classic/keyed/signature.b64")).unwrap();
    let payload_digest = reg.push_blob(&busybox, payload.clone());
    let config = format!(
        r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{{"created":"0001-01-01T00:00:00Z"}}],"os":"","rootfs":{{"type":"layers","diff_ids":["{payload_digest}"]}},"config":{{}}}}"#
    );
    let config_digest = reg.push_blob(&busybox, config.clone().into_bytes());
    let sig = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":{},"digest":"{config_digest}"}},"layers":[{{"mediaType":"{SIMPLE_SIGNING}","size":{},"digest":"{payload_digest}","annotations":{{"dev.cosignproject.cosign/signature":"{}"}}}}]}}"#,
        config.len(),
        payload.len(),
        signature.trim()
    );
    let sig_tag = Tag::parse(&format!("{}.sig", tag_of(digest))).unwrap();
    reg.push_manifest(
        &busybox,
        &Reference::Tag(sig_tag),
        OCI_MANIFEST,
        sig.into_bytes(),
    );
    let image = format!("{host}/busybox@{digest}");
    let v = image_verb(&[
        "verify",
        "--key",
        p(&fixture("cosign-classic/keyed/cosign.pub")),
        &image,
    ]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(
        v.stderr.contains("rejected: the payload's docker-reference \"registry-testing.svc.lan/busybox\" is another repository than the image's"),
        "{}",
        v.stderr
    );
    let v = image_verb(&[
        "verify",
        "--key",
        p(&fixture("cosign-classic/keyed/wrong-key.pub")),
        &image,
    ]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(
        v.stderr
            .contains("rejected: the signature does not verify with the given key"),
        "{}",
        v.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Credentials

/// A registry with users: anonymous signing is refused with the registry's own error (exit
/// code 2); `--registry-username/--registry-password`, or Docker's config.json, let vouch sign
/// and verify; a reader's credentials verify but cannot sign.
#[test]
fn registry_credentials_from_flags_and_docker_config() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("vouch.toml");
    write_file(
        &config,
        &format!(
            r#"
[[auth.users]]
name = "ci"
password = "{}"
access = [{{ repos = "team/**", roles = ["push"] }}]

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
    let layout = tmp.path().join("layout");
    let digest = build_image(tmp.path(), &layout, "with users");
    crate::common::run(Command::new(tool("skopeo")).args([
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--dest-creds",
        "ci:ci-pass",
        "--preserve-digests",
        &format!("oci:{}:img", layout.display()),
        &format!("docker://{host}/team/app:v1"),
    ]));
    let (key, public) = key_pair(tmp.path(), "signer", "ecdsa-p256");
    let image = format!("{host}/team/app:v1");
    let nobody = tmp.path().join("no-docker-config");
    std::fs::create_dir(&nobody).unwrap();
    let reader = tmp.path().join("reader-docker-config");
    std::fs::create_dir(&reader).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("reader:reader-pass");
    write_file(
        &reader.join("config.json"),
        &json!({ "auths": { host.clone(): { "auth": auth } } }).to_string(),
    );

    let (code, stderr) = image_verb_in(&nobody, &["sign", "--key", p(&key), &image]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("401") && stderr.contains("UNAUTHORIZED"),
        "{stderr}"
    );
    let (code, stderr) = image_verb_in(
        &nobody,
        &[
            "sign",
            "--key",
            p(&key),
            "--registry-username",
            "ci",
            "--registry-password",
            "ci-pass",
            &image,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = image_verb_in(&reader, &["verify", "--key", p(&public), &image]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("team/app@{digest} (tag v1):")),
        "{stderr}"
    );
    let (code, stderr) = image_verb_in(
        &reader,
        &["sign", "--key", p(&key), "--legacy-format", &image],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("DENIED"), "{stderr}");
}

/// `vouch ARGS --allow-http-registry` with Docker's config directory `docker_config`; the exit
/// code and standard error.
fn image_verb_in(docker_config: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = vouch()
        .args(&args[..1])
        .arg("--allow-http-registry")
        .args(&args[1..])
        .env("DOCKER_CONFIG", docker_config)
        .env("VOUCH_PASSWORD", "")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run vouch");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// Usage and registry errors

#[test]
fn usage_and_registry_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(tmp.path(), "signer", "ecdsa-p256");
    let nowhere = format!("127.0.0.1:{}/team/app:v1", free_port());
    for args in [
        vec!["verify", "--key", p(&public), nowhere.as_str()],
        vec!["sign", "--key", p(&key), nowhere.as_str()],
        // Neither a key nor an identity.
        vec!["verify", nowhere.as_str()],
        vec!["verify", "--key", p(&public), "Not/A/Reference"],
        vec![
            "attest",
            "--key",
            p(&key),
            "--predicate",
            p(&public),
            "--type",
            "no such type",
            nowhere.as_str(),
        ],
    ] {
        let v = image_verb(&args);
        assert_eq!(v.code, Some(2), "{args:?}: {}", v.stderr);
        assert!(
            v.stderr
                .trim_end()
                .lines()
                .last()
                .unwrap()
                .starts_with("vouch: "),
            "{args:?}: {}",
            v.stderr
        );
    }
    // A tag the registry does not have.
    let reg = Registry::vouch();
    let v = image_verb(&[
        "sign",
        "--key",
        p(&key),
        &format!("{}/team/none:v1", reg.host()),
    ]);
    assert_eq!(v.code, Some(2), "{}", v.stderr);
    assert!(v.stderr.contains("cannot resolve"), "{}", v.stderr);
}

// ---------------------------------------------------------------------------------------------
// Harness

/// A registry under test.
enum Registry {
    Vouch(Server),
    Distribution(Distribution),
}

impl Registry {
    fn vouch() -> Registry {
        Registry::Vouch(Server::start())
    }

    fn distribution() -> Registry {
        Registry::Distribution(Distribution::start(DistOptions::default()))
    }

    fn host(&self) -> String {
        match self {
            Registry::Vouch(s) => s.host(),
            Registry::Distribution(d) => d.host.clone(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.host().parse().unwrap()
    }

    fn has_referrers_api(&self) -> bool {
        matches!(self, Registry::Vouch(_))
    }

    fn repository(&self, name: &str) -> Repository {
        ImageRef::parse(&format!("{}/{name}", self.host()))
            .unwrap()
            .repository()
            .clone()
    }

    fn get(&self, path: &str, accept: &str) -> Response {
        let r = http("GET", self.addr(), path, &[("Accept", accept)], b"");
        assert_eq!(
            r.status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r
    }

    fn manifest(&self, repo: &str, reference: &str) -> Value {
        self.get(
            &format!("/v2/{repo}/manifests/{reference}"),
            &format!("{OCI_MANIFEST}, {OCI_INDEX}"),
        )
        .json()
    }

    fn blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let body = self.get(&format!("/v2/{repo}/blobs/{digest}"), "*/*").body;
        assert_eq!(sha256(&body), digest);
        body
    }

    /// The referrers of `digest` as the registry lists them: its referrers API, or the
    /// referrers tag schema's index.
    fn referrers(&self, repo: &str, digest: &str) -> Vec<Value> {
        let index = if self.has_referrers_api() {
            self.get(&format!("/v2/{repo}/referrers/{digest}"), OCI_INDEX)
                .json()
        } else {
            self.manifest(repo, &tag_of(digest))
        };
        index["manifests"].as_array().cloned().unwrap_or_default()
    }

    fn client(&self) -> Client {
        let mut config = ClientConfig::default();
        let image = ImageRef::parse(&format!("{}/x", self.host())).unwrap();
        config.dangerous().allow_http(image.registry());
        Client::new(config).unwrap()
    }

    /// Pushes a blob; returns its digest.
    fn push_blob(&self, repo: &Repository, bytes: Vec<u8>) -> String {
        let digest = Digest::compute(Algorithm::Sha256, &bytes);
        let client = self.client();
        block_on(client.push_blob(repo, &digest, Bytes::from(bytes))).unwrap();
        digest.to_string()
    }

    fn push_manifest(
        &self,
        repo: &Repository,
        reference: &Reference,
        media_type: &str,
        bytes: Vec<u8>,
    ) {
        let client = self.client();
        block_on(client.push_manifest(repo, reference, media_type, Bytes::from(bytes))).unwrap();
    }
}

/// Copies a manifest (an image manifest: config and layers) between repositories of one
/// registry, as a mirroring tool would.
fn copy_manifest(
    reg: &Registry,
    from: &Repository,
    at: &Reference,
    to: &Repository,
    to_reference: &Reference,
) {
    let client = reg.client();
    block_on(async {
        let pulled = client.get_manifest(from, at).await.unwrap();
        let manifest: Value = serde_json::from_slice(&pulled.bytes).unwrap();
        let mut blobs = vec![manifest["config"]["digest"].clone()];
        blobs.extend(
            manifest["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["digest"].clone()),
        );
        for d in blobs {
            let digest = Digest::parse(d.as_str().unwrap()).unwrap();
            let bytes = client.get_blob(from, &digest, 64 << 20).await.unwrap();
            client.push_blob(to, &digest, bytes).await.unwrap();
        }
        client
            .push_manifest(to, to_reference, &pulled.media_type, pulled.bytes)
            .await
            .unwrap();
    });
}

/// Another tool's referrer of `subject` (an SBOM artifact), listed where the registry lists
/// referrers: by its referrers API, or (Distribution) in the tag schema's index, written as
/// an OCI 1.1 client writes it. Returns its digest.
fn push_foreign_referrer(reg: &Registry, repo_name: &str, subject: &str) -> String {
    let repo = reg.repository(repo_name);
    let config = reg.push_blob(&repo, b"{}".to_vec());
    let subject_bytes = reg
        .get(
            &format!("/v2/{repo_name}/manifests/{subject}"),
            OCI_MANIFEST,
        )
        .body;
    let sbom = br#"{"spdxVersion":"SPDX-2.3"}"#;
    let layer = reg.push_blob(&repo, sbom.to_vec());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/spdx+json","config":{{"mediaType":"{OCI_EMPTY}","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/spdx+json","digest":"{layer}","size":{}}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":{}}}}}"#,
        sbom.len(),
        subject_bytes.len()
    );
    let digest = sha256(manifest.as_bytes());
    let size = manifest.len();
    reg.push_manifest(
        &repo,
        &Reference::Digest(Digest::parse(&digest).unwrap()),
        OCI_MANIFEST,
        manifest.into_bytes(),
    );
    if !reg.has_referrers_api() {
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{size},"artifactType":"application/spdx+json"}}]}}"#
        );
        reg.push_manifest(
            &repo,
            &Reference::Tag(referrers_tag(&Digest::parse(subject).unwrap())),
            OCI_INDEX,
            index.into_bytes(),
        );
    }
    digest
}

/// Checks a bundle referrer against what cosign's `WriteReferrer` writes; returns its
/// manifest and the bundle.
fn check_bundle_referrer(
    reg: &Registry,
    repo: &str,
    referrer: &str,
    subject: &str,
    predicate_type: &str,
) -> (Value, Value) {
    let manifest = reg.manifest(repo, referrer);
    assert_eq!(manifest["mediaType"], OCI_MANIFEST);
    assert_eq!(manifest["artifactType"], BUNDLE_TYPE);
    assert_eq!(
        manifest["config"],
        json!({
            "mediaType": OCI_EMPTY,
            "size": 2,
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "artifactType": BUNDLE_TYPE,
        })
    );
    assert_eq!(manifest["subject"]["digest"], subject);
    assert_eq!(manifest["subject"]["mediaType"], OCI_MANIFEST);
    let annotations = manifest["annotations"].as_object().unwrap();
    assert_eq!(annotations.len(), 3, "{manifest}");
    assert_eq!(annotations["dev.sigstore.bundle.content"], "dsse-envelope");
    assert_eq!(
        annotations["dev.sigstore.bundle.predicateType"],
        predicate_type
    );
    assert!(
        annotations["org.opencontainers.image.created"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], BUNDLE_TYPE);
    let bundle: Value =
        serde_json::from_slice(&reg.blob(repo, layers[0]["digest"].as_str().unwrap())).unwrap();
    assert_eq!(bundle["mediaType"], BUNDLE_TYPE);
    assert_eq!(
        bundle["dsseEnvelope"]["payloadType"],
        "application/vnd.in-toto+json"
    );
    assert_eq!(
        bundle["dsseEnvelope"]["signatures"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        bundle["verificationMaterial"]["publicKey"]["hint"].is_string(),
        "{bundle}"
    );
    (manifest, bundle)
}

/// The in-toto statement a bundle's envelope carries.
fn payload_of(bundle: &Value) -> Value {
    let b64 = bundle["dsseEnvelope"]["payload"].as_str().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

/// Builds a one-layer image offline with umoci and pushes it with skopeo to
/// `host/repo_tag`; returns its manifest digest.
fn push_image(tmp: &Path, host: &str, repo_tag: &str, content: &str) -> String {
    let layout = tmp.join(format!("layout-{}", repo_tag.replace(['/', ':'], "-")));
    let digest = build_image(tmp, &layout, content);
    run_tool(Command::new(tool("skopeo")).args([
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &format!("oci:{}:img", layout.display()),
        &format!("docker://{host}/{repo_tag}"),
    ]));
    digest
}

/// A one-layer image tagged `img` in a new OCI layout, built offline with umoci; returns its
/// manifest digest.
fn build_image(tmp: &Path, layout: &Path, content: &str) -> String {
    let umoci = tool("umoci");
    run_tool(Command::new(&umoci).args(["init", "--layout"]).arg(layout));
    let image = format!("{}:img", layout.display());
    run_tool(Command::new(&umoci).args(["new", "--image", &image]));
    let file = tmp.join(format!(
        "{}.txt",
        layout.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&file, content).unwrap();
    run_tool(
        Command::new(&umoci)
            .args(["insert", "--rootless", "--image", &image])
            .arg(&file)
            .arg("/content.txt"),
    );
    run_tool(Command::new(&umoci).args(["gc", "--layout"]).arg(layout));
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

fn run_tool(cmd: &mut Command) {
    crate::common::run(cmd);
}

/// `vouch ARGS --allow-http-registry` (every registry here is plain HTTP on loopback), with
/// the tests' empty key password.
fn image_verb(args: &[&str]) -> Verdict {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.insert(1, "--allow-http-registry".into());
    run(all)
}

/// `vouch ARGS --output json`, which must succeed; returns the report.
fn verify_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.insert(1, "json");
    all.insert(1, "--output");
    let v = image_verb(&all);
    assert_eq!(v.code, Some(0), "{args:?}: {}", v.stderr);
    v.report
        .unwrap_or_else(|| panic!("{args:?}: no JSON report"))
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn tag_of(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

fn hex(digest: &str) -> &str {
    digest.split_once(':').unwrap().1
}

fn sha256(bytes: &[u8]) -> String {
    Digest::compute(Algorithm::Sha256, bytes).to_string()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
