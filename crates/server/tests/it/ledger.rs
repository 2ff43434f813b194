//! The ledger through HTTP: every `/ledger/` route read back and checked as an outside auditor
//! would (the checkpoint against the vkey, the tiles against the checkpoint's root, proofs with
//! `verify::merkle`), submissions by a CI key and each reason one is refused, the events the
//! registry records as manifests are pushed, signed, attested and deleted, reads under auth,
//! metrics, and a stopped ledger failing pushes rather than acknowledging them off the record.

use base64::Engine as _;
use ledger::tiles::{self, TileKind, TilePath, TileSource};
use ledger::{Entry, Event, EventType, Submitter};
use oci::{Digest, media_type};
use serde_json::{Value, json};
use server::auth::{AuthConfig, Grant, Role, User, UserPassword};
use verify::checkpoint::{Origin, SignedCheckpoint, TlogProof, VerifiedCheckpoint};
use verify::keys::{KeyKind, PrivateKey};
use verify::merkle::{self, Hash};
use verify::note::Verifier;
use verify::time::Timestamp;

use crate::data::{DataSet, Layers, Opts, push_all, push_blobs};
use crate::harness::{LEDGER_ORIGIN, Registry, Response, random_bytes};

const REPO: &str = "team/app";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
const SLSA: &str = "https://slsa.dev/provenance/v1";

/// A registry with a ledger, and a CI key allowed to record builds and attach signatures.
fn registry_with_ci() -> (Registry, PrivateKey) {
    let ci = PrivateKey::generate(KeyKind::EcdsaP256).expect("a P-256 key");
    let registry = Registry::with_ledger(
        |_| {},
        vec![Submitter {
            name: "ci".into(),
            key: ci.public_key().expect("a public key"),
            events: [EventType::BuildRecorded, EventType::SignatureAttached].into(),
        }],
    );
    (registry, ci)
}

fn digest(seed: u64) -> Digest {
    Digest::compute(oci::Algorithm::Sha256, &seed.to_be_bytes())
}

fn unb64(text: &str) -> Hash {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
        .try_into()
        .expect("a 32-byte hash")
}

fn proof_of(body: &Value) -> Vec<Hash> {
    body["proof"]
        .as_array()
        .expect("proof is an array")
        .iter()
        .map(|h| unb64(h.as_str().expect("a base64 string")))
        .collect()
}

/// The log's verifier, from `/ledger/vkey`.
async fn verifier(registry: &Registry) -> Verifier {
    let r = registry
        .get("/ledger/vkey")
        .await
        .expect(200)
        .expect_header("content-type", "text/plain; charset=utf-8");
    let text = std::str::from_utf8(&r.body).expect("text");
    let line = text
        .strip_suffix('\n')
        .expect("one line ending in a newline");
    assert!(!line.contains('\n'), "{text:?}");
    assert!(line.starts_with(LEDGER_ORIGIN), "{text:?}");
    Verifier::from_vkey(line).expect("a C2SP vkey")
}

/// `/ledger/checkpoint`, verified with the vkey.
async fn checkpoint(registry: &Registry) -> VerifiedCheckpoint {
    let r = registry
        .get("/ledger/checkpoint")
        .await
        .expect(200)
        .expect_header("content-type", "text/plain; charset=utf-8")
        .expect_header("cache-control", "no-cache");
    let signed = SignedCheckpoint::parse(&r.body).expect("a signed checkpoint");
    assert_eq!(signed.to_string().as_bytes(), &r.body[..]);
    signed
        .verify(
            &Origin::Exact(LEDGER_ORIGIN.into()),
            &verifier(registry).await,
            &[],
        )
        .expect("the checkpoint verifies with the vkey")
}

/// Every event on the ledger, in order, read through `/ledger/entry/<N>`.
async fn events(registry: &Registry) -> Vec<Value> {
    events_from(registry, 0).await
}

/// The events from index `first` on.
async fn events_from(registry: &Registry, first: u64) -> Vec<Value> {
    let size = checkpoint(registry).await.checkpoint().size();
    let mut out = Vec::new();
    for i in first..size {
        let r = registry
            .get(format!("/ledger/entry/{i}"))
            .await
            .expect(200)
            .expect_header("content-type", "application/json");
        out.push(r.json()["event"].clone());
    }
    out
}

/// Asserts an error of the ledger API: status, code, and a message.
#[track_caller]
fn ledger_error(r: Response, status: u16, code: &str) -> Response {
    let r = r
        .expect(status)
        .expect_header("content-type", "application/json");
    let body = r.json();
    assert_eq!(body["errors"][0]["code"], code, "{r:?}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{r:?}"
    );
    r
}

/// Records `n` pushes of synthetic artifacts with the node key, concurrently (so in batches).
async fn record_pushes(registry: &Registry, n: u64) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let ledger = registry.ledger().clone();
        tasks.spawn(async move {
            let mut e = Event::new(
                EventType::ArtifactPushed,
                Timestamp::from_unix(1_790_000_000),
                "tester",
            );
            e.subject.repository = Some("synthetic".into());
            e.subject.digest = Some(digest(i));
            ledger.record(e).await.expect("recorded")
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("the task ran");
    }
}

#[tokio::test]
async fn checkpoint_and_tiles_give_the_signed_root() {
    let registry = Registry::with_ledger(|_| {}, Vec::new());
    let empty = checkpoint(&registry).await;
    assert_eq!(empty.checkpoint().size(), 0);
    assert_eq!(empty.checkpoint().root(), &merkle::EMPTY_ROOT);
    registry.get("/ledger/tile/0/000.p/1").await.expect(404);

    // Two level-0 tiles (one full, one partial) and a partial level-1 tile.
    let size = 300;
    record_pushes(&registry, size).await;
    let verified = checkpoint(&registry).await;
    assert_eq!(verified.checkpoint().size(), size);
    let root = *verified.checkpoint().root();

    let mut source = TileSource::new(size);
    let mut bundles = Vec::new();
    for tile in tiles::tiles_for_size(size) {
        let r = registry
            .get(format!("/ledger/{tile}"))
            .await
            .expect(200)
            .expect_header("content-type", "application/octet-stream")
            .expect_header("cache-control", "public, max-age=31536000, immutable");
        source.insert(tile, &r.body).expect("a well-formed tile");
        if tile.kind() == TileKind::Entries {
            bundles.push(r.body.clone());
        }
    }
    assert_eq!(
        merkle::subtree_hash(0, size, &mut source).expect("the tiles hold the tree"),
        root
    );
    // The bundles hold the entries `/ledger/entry/<N>` serves, in order.
    let entries: Vec<Vec<u8>> = bundles
        .iter()
        .flat_map(|b| tiles::parse_bundle(b).expect("a bundle"))
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(entries.len() as u64, size);
    for i in [0, 255, 256, 299] {
        let r = registry.get(format!("/ledger/entry/{i}")).await.expect(200);
        assert_eq!(r.body, entries[i]);
        Entry::parse(&r.body).expect("an entry");
    }
    // Roots of earlier sizes come out of the same tiles, and agree with consistency proofs.
    let old = 100;
    let old_root = merkle::subtree_hash(0, old, &mut source).expect("a prefix");
    let r = registry
        .get(format!("/ledger/proof/consistency?old={old}&new={size}"))
        .await
        .expect(200);
    assert_eq!(r.json()["old"], old);
    assert_eq!(r.json()["new"], size);
    merkle::verify_consistency(old, size, &old_root, &root, &proof_of(&r.json()))
        .expect("a consistency proof");

    // Partial widths below the tile's width: the start of the tile.
    let partial = registry.get("/ledger/tile/0/001.p/44").await.expect(200);
    let narrower = registry.get("/ledger/tile/0/001.p/10").await.expect(200);
    assert_eq!(narrower.body, partial.body[..10 * 32]);
    let bundle = registry
        .get("/ledger/tile/entries/001.p/10")
        .await
        .expect(200);
    let ten = tiles::parse_bundle(&bundle.body).expect("a bundle");
    assert_eq!(ten.len(), 10);
    assert_eq!(ten[9], &entries[265][..]);
    let full = registry.get("/ledger/tile/0/000.p/7").await.expect(200);
    assert_eq!(full.body.len(), 7 * 32);

    // Not (yet) in the log.
    for path in [
        "tile/0/001",
        "tile/0/001.p/45",
        "tile/0/002.p/1",
        "tile/entries/001",
        "tile/entries/001.p/45",
        "tile/1/000",
        "tile/1/000.p/2",
        "tile/2/000.p/1",
        "tile/63/x018/x446/x744/x073/x709/x551/615",
    ] {
        let r = registry.get(format!("/ledger/{path}")).await;
        ledger_error(r, 404, "NOT_FOUND");
    }
    // Not tile paths.
    for path in [
        "tile/0/01",
        "tile/0/1",
        "tile/00/000",
        "tile/64/000",
        "tile/x/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/x000/001",
        "tile/entries/000/",
        "tile/0/000.p/",
    ] {
        let r = registry.get(format!("/ledger/{path}")).await;
        ledger_error(r, 400, "BAD_REQUEST");
    }
    // The parser and the server agree on what a tile path is.
    let p = TilePath::parse("tile/1/000.p/1").expect("a tile path");
    assert_eq!(tiles::width_at(1, 0, size), Some(p.width()));
}

#[tokio::test]
async fn proofs_verify_against_the_checkpoint() {
    let registry = Registry::with_ledger(|_| {}, Vec::new());
    let size = 21;
    record_pushes(&registry, size).await;
    let verified = checkpoint(&registry).await;
    let root = *verified.checkpoint().root();
    let leaf = |bytes: &[u8]| merkle::leaf_hash(bytes);
    let mut leaves = Vec::new();
    for i in 0..size {
        let r = registry.get(format!("/ledger/entry/{i}")).await.expect(200);
        leaves.push(leaf(&r.body));
    }
    for index in [0, 1, 7, 20] {
        // Against the latest checkpoint (the default size).
        let r = registry
            .get(format!("/ledger/proof/inclusion?index={index}"))
            .await
            .expect(200)
            .expect_header("content-type", "application/json");
        let body = r.json();
        assert_eq!(body["index"], index);
        assert_eq!(body["size"], size);
        merkle::verify_inclusion(
            index,
            size,
            &leaves[index as usize],
            &proof_of(&body),
            &root,
        )
        .expect("an inclusion proof");
        verified
            .verify_inclusion(index, &leaves[index as usize], &proof_of(&body))
            .expect("an inclusion proof against the verified checkpoint");
        // Against an earlier size.
        let at = index + 1;
        let r = registry
            .get(format!("/ledger/proof/inclusion?index={index}&size={at}"))
            .await
            .expect(200);
        let old_root = merkle::root(&leaves[..at as usize]);
        merkle::verify_inclusion(
            index,
            at,
            &leaves[index as usize],
            &proof_of(&r.json()),
            &old_root,
        )
        .expect("an inclusion proof in an earlier tree");
        // The C2SP tlog-proof, against the latest checkpoint.
        let r = registry
            .get(format!("/ledger/tlog-proof/{index}"))
            .await
            .expect(200)
            .expect_header("content-type", "text/plain; charset=utf-8");
        let proof = TlogProof::parse(&r.body).expect("a tlog-proof");
        assert_eq!(proof.index(), index);
        proof
            .verify(
                &leaves[index as usize],
                &Origin::Exact(LEDGER_ORIGIN.into()),
                &verifier(&registry).await,
                &[],
            )
            .expect("the tlog-proof verifies");
    }
    for old in [1, 5, 16, 21] {
        let r = registry
            .get(format!("/ledger/proof/consistency?old={old}&new={size}"))
            .await
            .expect(200);
        let old_root = merkle::root(&leaves[..old as usize]);
        merkle::verify_consistency(old, size, &old_root, &root, &proof_of(&r.json()))
            .expect("a consistency proof");
    }

    // Bad parameters, and sizes beyond the log.
    let cases: [(&str, u16, &str); 17] = [
        ("proof/inclusion", 400, "BAD_REQUEST"),
        ("proof/inclusion?index=", 400, "BAD_REQUEST"),
        ("proof/inclusion?index=x", 400, "BAD_REQUEST"),
        ("proof/inclusion?index=-1", 400, "BAD_REQUEST"),
        ("proof/inclusion?index=5&size=3", 400, "BAD_REQUEST"),
        ("proof/inclusion?index=21", 404, "NOT_FOUND"),
        ("proof/inclusion?index=1&size=22", 404, "NOT_FOUND"),
        ("proof/consistency?old=3", 400, "BAD_REQUEST"),
        ("proof/consistency?old=0&new=5", 400, "BAD_REQUEST"),
        ("proof/consistency?old=6&new=5", 400, "BAD_REQUEST"),
        ("proof/consistency?old=1&new=22", 404, "NOT_FOUND"),
        ("tlog-proof/21", 404, "NOT_FOUND"),
        ("tlog-proof/x", 400, "BAD_REQUEST"),
        ("entry/21", 404, "NOT_FOUND"),
        ("entry/+1", 400, "BAD_REQUEST"),
        ("entry/99999999999999999999", 400, "BAD_REQUEST"),
        ("lookup", 400, "BAD_REQUEST"),
    ];
    for (path, status, code) in cases {
        let r = registry.get(format!("/ledger/{path}")).await;
        ledger_error(r, status, code);
    }
    ledger_error(
        registry.get("/ledger/lookup?digest=sha256:abc").await,
        400,
        "BAD_REQUEST",
    );
    // Unknown endpoints and methods.
    registry.get("/ledger/nope").await.expect(404);
    registry.get("/ledger/").await.expect(404);
    registry
        .post("/ledger/checkpoint")
        .await
        .expect(405)
        .expect_header("allow", "GET, HEAD");
    registry
        .get("/ledger/add")
        .await
        .expect(405)
        .expect_header("allow", "POST");
    // HEAD: the headers of GET, no body.
    let head = registry.head("/ledger/entry/0").await.expect(200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-type"), Some("application/json"));
}

/// A `build.recorded` event about `subject`, signed by `key`.
fn build_recorded(key: &PrivateKey, subject: &Digest, run: u32) -> Entry {
    let mut e = Event::new(
        EventType::BuildRecorded,
        Timestamp::from_unix(1_790_000_000),
        "https://ci.example/pipelines",
    );
    e.subject.digest = Some(subject.clone());
    e.evidence = vec![digest(u64::from(run) + 1000)];
    e.details.insert(
        "builder".into(),
        format!("https://ci.example/run/{run}").into(),
    );
    Entry::sign(e, key).expect("the event signs")
}

#[tokio::test]
async fn add_accepts_allowed_signed_entries_and_says_why_not_otherwise() {
    let (registry, ci) = registry_with_ci();
    let entry = build_recorded(&ci, &digest(1), 1);
    let r = registry
        .post("/ledger/add")
        .body(entry.bytes().to_vec())
        .await
        .expect(200)
        .expect_header("content-type", "application/json");
    let body = r.json();
    assert_eq!(body["index"], 0);
    assert_eq!(body["duplicate"], false);
    // The checkpoint includes the entry, and the tlog-proof proves it against that checkpoint.
    let note = body["checkpoint"].as_str().expect("checkpoint text");
    let signed = SignedCheckpoint::parse(note.as_bytes()).expect("a signed checkpoint");
    let vkey = verifier(&registry).await;
    let origin = Origin::Exact(LEDGER_ORIGIN.into());
    let verified = signed.verify(&origin, &vkey, &[]).expect("it verifies");
    assert_eq!(verified.checkpoint().size(), 1);
    let proof_text = body["tlog_proof"].as_str().expect("tlog-proof text");
    let proof = TlogProof::parse(proof_text.as_bytes()).expect("a tlog-proof");
    assert_eq!(proof.index(), 0);
    assert_eq!(proof.checkpoint(), &signed);
    proof
        .verify(&merkle::leaf_hash(entry.bytes()), &origin, &vkey, &[])
        .expect("the tlog-proof verifies");
    // The entry is served as submitted.
    let served = registry.get("/ledger/entry/0").await.expect(200);
    assert_eq!(&served.body[..], entry.bytes());

    // The same bytes again: acknowledged with the same index, nothing appended.
    let again = registry
        .post("/ledger/add")
        .body(entry.bytes().to_vec())
        .await
        .expect(200)
        .json();
    assert_eq!(again["index"], 0);
    assert_eq!(again["duplicate"], true);
    // A second build: the next index, and a proof against a checkpoint of two entries.
    let second = build_recorded(&ci, &digest(2), 2);
    let body = registry
        .post("/ledger/add")
        .stream(vec![
            second.bytes()[..10].to_vec(),
            second.bytes()[10..].to_vec(),
        ])
        .await
        .expect(200)
        .json();
    assert_eq!(body["index"], 1);
    let proof = TlogProof::parse(body["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
    proof
        .verify(&merkle::leaf_hash(second.bytes()), &origin, &vkey, &[])
        .expect("the second tlog-proof verifies");

    // Refusals, one per reason.
    let stranger = PrivateKey::generate(KeyKind::Ed25519).expect("a key");
    let by_stranger = build_recorded(&stranger, &digest(3), 3);
    let mut pushed = Event::new(
        EventType::ArtifactPushed,
        Timestamp::from_unix(1_790_000_000),
        "ci",
    );
    pushed.subject.repository = Some(REPO.into());
    pushed.subject.digest = Some(digest(4));
    let not_allowed = Entry::sign(pushed, &ci).expect("signs");
    let good = String::from_utf8(build_recorded(&ci, &digest(5), 5).into_bytes()).unwrap();
    let tampered = good.replace("/run/5", "/run/6");
    assert_ne!(tampered, good);
    let spaced = good.replacen(':', ": ", 1);
    let mut attach = Event::new(
        EventType::SignatureAttached,
        Timestamp::from_unix(1_790_000_000),
        "ci",
    );
    attach.subject.repository = Some("never/pushed".into());
    attach.subject.digest = Some(digest(6));
    attach.evidence = vec![digest(7)];
    let unknown_artifact = Entry::sign(attach, &ci).expect("signs");
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (by_stranger.into_bytes(), 403, "UNKNOWN_KEY"),
        (not_allowed.into_bytes(), 403, "NOT_AUTHORIZED"),
        (tampered.into_bytes(), 403, "BAD_SIGNATURE"),
        (spaced.into_bytes(), 400, "MALFORMED"),
        (b"{}".to_vec(), 400, "MALFORMED"),
        (Vec::new(), 400, "MALFORMED"),
        (unknown_artifact.into_bytes(), 409, "UNKNOWN_ARTIFACT"),
    ];
    for (bytes, status, code) in cases {
        let r = registry.post("/ledger/add").body(bytes).await;
        let r = ledger_error(r, status, code);
        assert!(
            r.json()["errors"][0]["message"].as_str().unwrap().len() > 10,
            "{r:?}"
        );
    }
    // Too large: refused by its declared length, or as the bytes arrive.
    let big = vec![b'{'; ledger::event::MAX_ENTRY_BYTES + 1];
    ledger_error(
        registry.post("/ledger/add").body(big.clone()).await,
        413,
        "TOO_LARGE",
    );
    let chunks = big.chunks(4096).map(<[u8]>::to_vec).collect();
    ledger_error(
        registry.post("/ledger/add").stream(chunks).await,
        413,
        "TOO_LARGE",
    );
    // Exactly the limit is read and judged by the ledger.
    let limit = vec![b' '; ledger::event::MAX_ENTRY_BYTES];
    ledger_error(
        registry.post("/ledger/add").body(limit).await,
        400,
        "MALFORMED",
    );
    // Nothing refused was appended.
    assert_eq!(checkpoint(&registry).await.checkpoint().size(), 2);
}

/// Pushes a data set's blobs, then each manifest once: by its tag if it has one, else by
/// digest (`push_all` pushes tagged manifests twice, which records two events).
async fn push_once(registry: &Registry, data: &DataSet) {
    push_blobs(registry, REPO, data).await;
    for m in &data.manifests {
        let reference = data
            .tags
            .iter()
            .find(|(_, d)| *d == m.digest)
            .map_or(m.digest.clone(), |(t, _)| t.clone());
        registry
            .put(format!("/v2/{REPO}/manifests/{reference}"))
            .content_type(&m.media_type)
            .body(m.bytes.clone())
            .await
            .expect(201);
    }
}

/// An image, pushed by tag.
fn image(seed: u64) -> (DataSet, Value) {
    let mut d = DataSet::sha256().seeded(seed);
    let image = d.image(&Opts::default().tag("v1"));
    (d, image)
}

/// A cosign 3 bundle referrer of `subject` (a signature unless `predicate` says otherwise).
fn bundle_referrer(seed: u64, subject: &Value, predicate: &'static str) -> (DataSet, String) {
    let mut d = DataSet::sha256().seeded(seed);
    let opts = Opts::default()
        .artifact(BUNDLE, BUNDLE)
        .annotation("dev.sigstore.bundle.content", "dsse-envelope")
        .annotation("dev.sigstore.bundle.predicateType", predicate)
        .subject(subject);
    let descriptor = d.image(&opts);
    let digest = descriptor["digest"].as_str().unwrap().to_owned();
    (d, digest)
}

/// A cosign classic signature image under `sha256-<hex>.<suffix>`.
fn classic(
    seed: u64,
    signed: &str,
    suffix: &str,
    layer: &'static str,
    annotation: Option<(&str, &str)>,
) -> (DataSet, String) {
    let mut d = DataSet::sha256().seeded(seed);
    let mut payload = d.blob(layer, random_bytes(seed, 200), false);
    if let Some((k, v)) = annotation {
        payload["annotations"] = json!({ k: v });
    }
    let config = d.blob(
        "application/vnd.oci.image.config.v1+json",
        br#"{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec(),
        false,
    );
    let tag = format!("{}.{suffix}", signed.replacen(':', "-", 1));
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": config,
        "layers": [payload],
    });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let digest = crate::harness::digest_of(oci::Algorithm::Sha256, &bytes);
    d.raw_manifest(media_type::OCI_MANIFEST, bytes, Some(&tag), false);
    (d, digest)
}

#[tokio::test]
async fn the_registry_records_pushes_signatures_attestations_and_deletes() {
    let registry = Registry::with_ledger(|_| {}, Vec::new());
    let (d, subject) = image(1);
    push_once(&registry, &d).await;
    let image_digest = subject["digest"].as_str().unwrap().to_owned();
    let config_digest =
        serde_json::from_slice::<Value>(&d.manifests[0].bytes).unwrap()["config"]["digest"]
            .as_str()
            .unwrap()
            .to_owned();

    // A cosign 3 signature and an attestation, as referrers.
    let (sig, sig_digest) = bundle_referrer(2, &subject, SIGN_PREDICATE);
    push_once(&registry, &sig).await;
    let (att, att_digest) = bundle_referrer(3, &subject, SLSA);
    push_once(&registry, &att).await;
    // cosign's classic tags.
    let (classic_sig, classic_sig_digest) = classic(
        4,
        &image_digest,
        "sig",
        "application/vnd.dev.cosign.simplesigning.v1+json",
        None,
    );
    push_once(&registry, &classic_sig).await;
    let (classic_att, classic_att_digest) = classic(
        5,
        &image_digest,
        "att",
        "application/vnd.dsse.envelope.v1+json",
        Some(("predicateType", "https://spdx.dev/Document")),
    );
    push_once(&registry, &classic_att).await;
    // A referrer of something not (yet) pushed: stored, but nothing is attached on the ledger.
    let ghost = json!({
        "mediaType": media_type::OCI_MANIFEST,
        "digest": digest(99).to_string(),
        "size": 100,
    });
    let (orphan, orphan_digest) = bundle_referrer(6, &ghost, SIGN_PREDICATE);
    push_once(&registry, &orphan).await;
    // Deleting a tag only untags; deleting by digest deletes.
    registry
        .delete(format!("/v2/{REPO}/manifests/v1"))
        .await
        .expect(202);
    registry
        .delete(format!("/v2/{REPO}/manifests/{sig_digest}"))
        .await
        .expect(202);

    let events = events(&registry).await;
    let summary: Vec<(String, String, Option<String>)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["subject"]["digest"].as_str().unwrap().to_owned(),
                e["evidence"][0].as_str().map(str::to_owned),
            )
        })
        .collect();
    let row =
        |t: &str, d: &str, ev: Option<&str>| (t.to_owned(), d.to_owned(), ev.map(str::to_owned));
    assert_eq!(
        summary,
        [
            row("artifact.pushed", &image_digest, None),
            row("artifact.pushed", &sig_digest, None),
            row("signature.attached", &image_digest, Some(&sig_digest)),
            row("artifact.pushed", &att_digest, None),
            row("attestation.attached", &image_digest, Some(&att_digest)),
            row("artifact.pushed", &classic_sig_digest, None),
            row(
                "signature.attached",
                &image_digest,
                Some(&classic_sig_digest)
            ),
            row("artifact.pushed", &classic_att_digest, None),
            row(
                "attestation.attached",
                &image_digest,
                Some(&classic_att_digest)
            ),
            row("artifact.pushed", &orphan_digest, None),
            row("artifact.deleted", &sig_digest, None),
        ]
    );
    // What each event says besides.
    let pushed = &events[0];
    assert_eq!(pushed["actor"], "anonymous");
    assert_eq!(pushed["subject"]["repository"], REPO);
    assert_eq!(pushed["subject"]["tag"], "v1");
    assert_eq!(pushed["subject"]["config"], config_digest.as_str());
    let time = pushed["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && !time.contains('.'), "{time}");
    assert!(
        events[1]["subject"].get("config").is_none(),
        "{}",
        events[1]
    );
    assert_eq!(events[2]["subject"]["repository"], REPO);
    assert!(events[2].get("details").is_none(), "{}", events[2]);
    assert_eq!(events[4]["details"]["predicateType"], SLSA);
    let classic_tag = format!("{}.sig", image_digest.replacen(':', "-", 1));
    assert_eq!(events[5]["subject"]["tag"], classic_tag.as_str());
    assert_eq!(
        events[8]["details"]["predicateType"],
        "https://spdx.dev/Document"
    );
    // Every entry is signed by the node key (the registry's), the same for all.
    let first = registry.get("/ledger/entry/0").await.json();
    let key = first["signature"]["key"].as_str().unwrap().to_owned();
    assert_eq!(
        key,
        ledger::event::fingerprint(&registry.ledger().node_public_key())
    );

    // Lookup by digest: the image is named by its push and by every attachment.
    let r = registry
        .get(format!("/ledger/lookup?digest={image_digest}"))
        .await
        .expect(200)
        .expect_header("content-type", "application/json");
    assert_eq!(
        r.json(),
        json!({ "digest": image_digest, "entries": [0, 2, 4, 6, 8] })
    );
    let r = registry
        .get(format!("/ledger/lookup?digest={sig_digest}"))
        .await
        .expect(200);
    assert_eq!(r.json()["entries"], json!([1, 2, 10]));
    let r = registry
        .get(format!("/ledger/lookup?digest={config_digest}"))
        .await
        .expect(200);
    assert_eq!(r.json()["entries"], json!([0]));
    let r = registry
        .get(format!("/ledger/lookup?digest={}", digest(1234)))
        .await
        .expect(200);
    assert_eq!(r.json()["entries"], json!([]));

    // Deleting a classic signature image by digest: recorded as well.
    registry
        .delete(format!("/v2/{REPO}/manifests/{classic_sig_digest}"))
        .await
        .expect(202);
    let last = events_from(&registry, 11).await;
    assert_eq!(last[0]["type"], "artifact.deleted");
    assert_eq!(last[0]["subject"]["digest"], classic_sig_digest.as_str());
    assert_eq!(checkpoint(&registry).await.checkpoint().size(), 12);
}

#[tokio::test]
async fn pushes_by_a_user_name_the_user_and_every_tag() {
    let hash = bcrypt::hash_with_salt("ci-pw", 4, [7u8; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY);
    let registry = Registry::with_ledger(
        |c| {
            c.auth = AuthConfig {
                realm: "vouch-test".into(),
                users: vec![
                    User {
                        name: "ci".into(),
                        password: UserPassword::from_bcrypt(&hash).unwrap(),
                        grants: vec![
                            Grant::new(&["**".into()], &[Role::Push, Role::Delete]).unwrap(),
                        ],
                    },
                    User {
                        name: "auditor".into(),
                        password: UserPassword::from_bcrypt(&hash).unwrap(),
                        grants: vec![],
                    },
                ],
                anonymous: vec![],
            };
        },
        Vec::new(),
    );
    let ci = registry.as_user("ci", "ci-pw");
    let mut d = DataSet::sha256().seeded(7);
    d.image(&Opts::default().tag("v1").layers(Layers::Tar));
    d.tags
        .push(("stable".into(), d.manifests[0].digest.clone()));
    d.tags_as_params = true;
    push_all(&ci, REPO, &d).await;

    // Reads need a login; any user will do, grants or not.
    let anonymous = registry.anonymous();
    for path in [
        "/ledger/checkpoint",
        "/ledger/vkey",
        "/ledger/tile/0/000.p/1",
        "/ledger/entry/0",
        "/ledger/lookup?digest=sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "/ledger/proof/inclusion?index=0",
        "/ledger/tlog-proof/0",
    ] {
        let r = anonymous.get(path).await.expect(401);
        assert!(r.header("www-authenticate").is_some(), "{r:?}");
    }
    registry
        .as_user("auditor", "wrong")
        .get("/ledger/checkpoint")
        .await
        .expect(401);
    let auditor = registry.as_user("auditor", "ci-pw");
    let event = auditor.get("/ledger/entry/0").await.expect(200).json()["event"].clone();
    assert_eq!(event["actor"], "ci");
    assert_eq!(event["subject"]["tag"], "v1");
    assert_eq!(event["details"]["tags"], json!(["v1", "stable"]));
    auditor
        .get("/ledger/tile/entries/000.p/1")
        .await
        .expect(200);
    // Submitting needs no credentials: the signature is the authorization.
    let r = anonymous.post("/ledger/add").body(b"{}".to_vec()).await;
    ledger_error(r, 400, "MALFORMED");
    // A delete by the user names them.
    ci.delete(format!("/v2/{REPO}/manifests/{}", d.manifests[0].digest))
        .await
        .expect(202);
    let event = auditor.get("/ledger/entry/1").await.expect(200).json()["event"].clone();
    assert_eq!(event["type"], "artifact.deleted");
    assert_eq!(event["actor"], "ci");
}

#[tokio::test]
async fn a_stopped_ledger_fails_pushes_instead_of_acknowledging_them() {
    let (registry, ci) = registry_with_ci();
    let (d, _) = image(8);
    push_blobs(&registry, REPO, &d).await;
    registry.ledger().close();
    let m = &d.manifests[0];
    let r = registry
        .put(format!("/v2/{REPO}/manifests/{}", m.digest))
        .content_type(&m.media_type)
        .body(m.bytes.clone())
        .server_error_expected()
        .await;
    assert_eq!(r.status.as_u16(), 503, "{r:?}");
    assert!(r.header("docker-content-digest").is_none(), "{r:?}");
    // The body is generic: the cause goes to the log.
    let message = r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !message.contains("sequencer") && !message.contains("stopped"),
        "{message}"
    );
    // Submissions too.
    let entry = build_recorded(&ci, &digest(1), 1);
    let r = registry
        .post("/ledger/add")
        .body(entry.into_bytes())
        .server_error_expected()
        .await;
    assert_eq!(r.status.as_u16(), 503, "{r:?}");
    assert_eq!(r.json()["errors"][0]["code"], "UNAVAILABLE");
    // Reads still answer from what is durable.
    assert_eq!(checkpoint(&registry).await.checkpoint().size(), 0);
    // Deletes fail the same way.
    let r = registry
        .delete(format!("/v2/{REPO}/manifests/{}", m.digest))
        .server_error_expected()
        .await;
    assert_eq!(r.status.as_u16(), 503, "{r:?}");
}

#[tokio::test]
async fn ledger_metrics() {
    let (registry, ci) = registry_with_ci();
    let (d, _) = image(9);
    push_once(&registry, &d).await;
    let entry = build_recorded(&ci, &digest(1), 1);
    registry
        .post("/ledger/add")
        .body(entry.bytes().to_vec())
        .await
        .expect(200);
    registry
        .post("/ledger/add")
        .body(entry.bytes().to_vec())
        .await
        .expect(200);
    let stranger = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    registry
        .post("/ledger/add")
        .body(build_recorded(&stranger, &digest(2), 2).into_bytes())
        .await
        .expect(403);
    registry.get("/ledger/checkpoint").await.expect(200);
    let text = String::from_utf8(registry.get("/metrics").await.expect(200).body.to_vec()).unwrap();
    let sample = |series: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
    };
    let table = [
        ("vouch_ledger_appends_total{source=\"registry\"}", 1.0),
        ("vouch_ledger_appends_total{source=\"add\"}", 1.0),
        ("vouch_ledger_rejections_total{code=\"UNKNOWN_KEY\"}", 1.0),
        ("vouch_ledger_size", 2.0),
        (
            "vouch_http_requests_total{route=\"ledger_add\",method=\"POST\",status=\"200\"}",
            2.0,
        ),
        (
            "vouch_http_requests_total{route=\"ledger_checkpoint\",method=\"GET\",status=\"200\"}",
            1.0,
        ),
    ];
    for (series, want) in table {
        assert_eq!(sample(series), Some(want), "{series} in:\n{text}");
    }
}

#[tokio::test]
async fn a_registry_without_a_ledger_records_nothing_and_serves_no_ledger() {
    let registry = Registry::new();
    let (d, _) = image(10);
    push_once(&registry, &d).await;
    registry.get("/ledger/checkpoint").await.expect(404);
    registry
        .post("/ledger/add")
        .body(b"{}".to_vec())
        .await
        .expect(404);
}
