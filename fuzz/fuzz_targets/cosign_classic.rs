//! Fuzzes cosign's classic signature layers as a registry serves them: the simple-signing
//! payload parser, and `cosign_classic::verify_signature` on a layer whose blob and
//! `dev.sigstore.cosign/bundle` annotation come from the input, beside a valid signature by a
//! trusted key over one fixed payload.
//!
//! Invariants: nothing panics; a parsed payload written again by `simple_signing_payload`
//! parses to the same claims; and a layer verifies only if its blob is exactly the payload
//! that was signed (which names the expected image), whatever the bundle annotation holds,
//! and when a bundle annotation is present a verified layer names the log entry it proved.
//! The input is split at its first 0xff byte: blob before, bundle annotation after.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use verify::cosign_classic::{
    self, BUNDLE_ANNOTATION, Image, Layer, SIGNATURE_ANNOTATION, SimpleSigning,
};
use verify::keys::{KeyKind, PrivateKey};
use verify::sigstore::{Identity, Options, Verifier};
use verify::time::Timestamp;
use verify::trust_root::TrustedRoot;

const REPOSITORY: &str = "registry.example/team/app";

struct World {
    digest: oci::Digest,
    payload: Vec<u8>,
    signature: String,
    identity: Identity,
    verifier: Verifier,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let digest = oci::Digest::compute(oci::Algorithm::Sha256, b"the image manifest");
    let payload = cosign_classic::simple_signing_payload(REPOSITORY, &digest, &BTreeMap::new());
    let key = PrivateKey::generate(KeyKind::EcdsaP256).expect("a key");
    let signature =
        base64::engine::general_purpose::STANDARD.encode(key.sign(&payload).expect("signs"));
    let root_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/signing/trust/public-good-trusted_root.json"
    );
    let root_json = std::fs::read(root_path).expect("the production trusted root in ../shared");
    let root = TrustedRoot::from_json(&root_json).expect("the trusted root parses");
    World {
        digest,
        payload,
        signature,
        identity: Identity::Key(key.public_key().expect("a public key")),
        verifier: Verifier::new(root),
    }
});

fuzz_target!(|data: &[u8]| {
    payload(data);
    layer(data);
});

fn payload(data: &[u8]) {
    let parsed = match SimpleSigning::parse(data) {
        Ok(p) => p,
        Err(e) => return drop(e.to_string()),
    };
    let strings: Option<BTreeMap<String, String>> = parsed
        .optional
        .iter()
        .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect();
    let Some(annotations) = strings else { return };
    let written =
        cosign_classic::simple_signing_payload(&parsed.docker_reference, &parsed.digest, &annotations);
    let again = SimpleSigning::parse(&written).expect("a written payload parses");
    assert_eq!(again.docker_reference, parsed.docker_reference);
    assert_eq!(again.digest, parsed.digest);
    assert_eq!(again.optional, parsed.optional);
}

fn layer(data: &[u8]) {
    let world = &*WORLD;
    let (blob, bundle) = match data.iter().position(|b| *b == 0xff) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut annotations = BTreeMap::new();
    annotations.insert(SIGNATURE_ANNOTATION.to_owned(), world.signature.clone());
    if let Some(b) = bundle {
        let Ok(text) = std::str::from_utf8(b) else { return };
        annotations.insert(BUNDLE_ANNOTATION.to_owned(), text.to_owned());
    }
    // With an empty blob, try the signed payload itself: the bundle annotation then decides.
    let blob = if blob.is_empty() { &world.payload[..] } else { blob };
    let same = |r: &str| r == REPOSITORY;
    let image = Image {
        digest: &world.digest,
        same_repository: &same,
    };
    let opts = Options {
        now: Timestamp::from_unix_nanos(1_790_000_000, 0),
        allow_no_tlog_with_key: true,
    };
    let layer = Layer {
        blob,
        annotations: &annotations,
    };
    match cosign_classic::verify_signature(layer, &image, &world.identity, &world.verifier, &opts)
    {
        Ok(verified) => {
            assert_eq!(blob, &world.payload[..], "only the signed payload verifies");
            if bundle.is_some() {
                assert!(
                    verified.log_entry.is_some(),
                    "a bundle annotation was accepted without proving its entry"
                );
            }
        }
        Err(e) => drop(e.to_string()),
    }
}
