//! Fuzzes Sigstore bundles end to end: `Bundle::from_json` on arbitrary bytes, the v0.3 writer,
//! and the whole verifier (`sigstore::Verifier::verify`) on mutations of real conformance bundles.
//!
//! Parsing never panics, and neither does building an error message. A parsed v0.3 bundle is
//! written by `to_json` as JSON that parses back equal (and writes the same again); other
//! versions are refused by the writer.
//!
//! Verification runs in two worlds, each a trusted root with the conformance bundles that
//! verify under it (read from ../shared/fixtures/signing at startup, which fails loudly if they
//! are missing or do not verify): the production trusted root with the happy-path v0.1, v0.2,
//! v0.3 and in-toto/DSSE bundles, and the conformance suite's Rekor v2 trusted root with Rekor
//! v2 bundles carrying RFC 3161 timestamps. Every bundle is verified against `a.txt` with the
//! conformance identity and issuer, at a fixed "now". It must never panic, and the invariant:
//!
//! **If a bundle verifies in a world, then there is a reference bundle R of that world such
//! that the bundle's authenticated content is R's:** the same signing certificate (the leaf;
//! for v0.1/v0.2 chains the first certificate); the same signed content (the message signature;
//! or the DSSE payload type, payload and signature); every log entry equal to one of R's in log
//! id, kind, version and canonicalized body, and, where the entry carries them, in its signed
//! entry timestamp together with the integrated time and log index it signs, and in its inclusion
//! proof (index, tree size, root hash, hashes, and the checkpoint's signed body); every RFC 3161
//! timestamp equal to one of R's in its signed TSTInfo's time and message imprint; and the
//! result names R's signer and statement, and only times R's verification proved. A message
//! digest in the bundle, if any, is the artifact's.
//!
//! Not required to match, because no signature covers them and the verifier rightly ignores or
//! re-derives them: the JSON's layout and unknown fields, the media type's version (it only
//! decides which evidence is required), chain certificates after the leaf (paths are built from
//! the trusted root alone), the DSSE `keyid`, the message digest field (checked against the
//! artifact instead), an entry's log index and integrated time when no SET signs them, other
//! signatures on a checkpoint, the unsigned parts of a timestamp token (embedded certificates,
//! signer identifier, unsigned attributes), and dropping or repeating evidence that R already
//! has (a subset of valid proofs still proves). "Equal" is up to forging a signature: ECDSA
//! signatures are malleable, which no mutation here can exploit without the private key.
//!
//! A custom mutator makes the mutations structural: it parses the input as JSON and changes one
//! node (decoded base64 bytes, nested JSON inside base64, numbers, strings, removed or repeated
//! members, one node copied over another), or leaves it to libFuzzer's byte mutations.
//! Seeds (fuzz/seeds/bundle): conformance bundles from both worlds and one that must fail.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use base64::Engine as _;
use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use serde_json::Value;
use verify::bundle::{Bundle, BundleVersion, Content, InclusionProof, TlogEntry};
use verify::checkpoint::{Checkpoint, SignedCheckpoint};
use verify::sigstore::{Artifact, Identity, Matcher, Options, Verified, Verifier};
use verify::time::Timestamp;
use verify::trust_root::TrustedRoot;
use verify::tsa;

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const CASES: &str = "sigstore-conformance/bundle-verify";

/// A trusted root and the bundles that verify under it.
struct World {
    name: &'static str,
    verifier: Verifier,
    references: Vec<(Bundle, Verified)>,
}

struct Fixtures {
    artifact: Artifact,
    identity: Identity,
    options: Options,
    worlds: Vec<World>,
}

/// A file under ../shared/fixtures/signing; the target cannot run without it.
fn shared(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/signing")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fuzz bundle needs {}: {e}", p.display()))
}

static FIXTURES: LazyLock<Fixtures> = LazyLock::new(|| {
    let artifact = Artifact::from_bytes(shared(&format!("{CASES}/a.txt")));
    let identity = Identity::Certificate {
        identity: Matcher::Exact(IDENTITY.into()),
        issuer: Matcher::Exact(ISSUER.into()),
    };
    // Fixed, so that runs are reproducible; after every fixture was made.
    let options = Options {
        now: Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").expect("a valid time"),
        allow_no_tlog_with_key: false,
    };
    let world = |name, root: &str, cases: &[&str]| {
        let root = TrustedRoot::from_json(&shared(root))
            .unwrap_or_else(|e| panic!("the {name} trusted root: {e}"));
        let verifier = Verifier::new(root);
        let references = cases
            .iter()
            .map(|case| {
                let json = shared(&format!("{CASES}/{case}/bundle.sigstore.json"));
                let bundle = Bundle::from_json(&json).unwrap_or_else(|e| panic!("{case}: {e}"));
                let verified = verifier
                    .verify(&bundle, &artifact, &identity, &options)
                    .unwrap_or_else(|e| panic!("{case} must verify in the {name} world: {e}"));
                (bundle, verified)
            })
            .collect();
        World {
            name,
            verifier,
            references,
        }
    };
    let worlds = vec![
        world(
            "production",
            "trust/public-good-trusted_root.json",
            &[
                "happy-path-v0.1",
                "happy-path-v0.2",
                "happy-path-v0.3",
                "happy-path-v0.3-new-mediaType",
                "happy-path-intoto-in-dsse-v3",
            ],
        ),
        world(
            "rekor v2",
            &format!("{CASES}/rekor2-happy-path/trusted_root.json"),
            &[
                "rekor2-happy-path",
                "rekor2-timestamp-with-embedded-cert",
                "rekor2-timestamp-without-embedded-cert",
                "rekor2-checkpoint-two-sigs-cosigned",
            ],
        ),
    ];
    Fixtures {
        artifact,
        identity,
        options,
        worlds,
    }
});

fuzz_target!(|data: &[u8]| {
    let fixtures = &*FIXTURES;
    let bundle = match Bundle::from_json(data) {
        Ok(b) => b,
        Err(e) => return drop(e.to_string()),
    };
    check_writing(&bundle);
    for world in &fixtures.worlds {
        check_verification(fixtures, world, &bundle);
    }
});

/// v0.3 bundles are written as JSON that reads back equal; nothing else is written.
fn check_writing(bundle: &Bundle) {
    match bundle.to_json() {
        Ok(json) => {
            assert_eq!(bundle.version, BundleVersion::V0_3);
            let again = Bundle::from_json(json.as_bytes()).expect("a written bundle parses");
            assert_eq!(&again, bundle);
            assert_eq!(again.to_json().as_deref(), Ok(json.as_str()));
        }
        Err(e) => {
            assert_ne!(bundle.version, BundleVersion::V0_3, "{e}");
        }
    }
}

fn check_verification(fixtures: &Fixtures, world: &World, bundle: &Bundle) {
    let verified = match world.verifier.verify(
        bundle,
        &fixtures.artifact,
        &fixtures.identity,
        &fixtures.options,
    ) {
        Ok(v) => v,
        Err(failure) => return drop(failure.to_string()),
    };
    if let Content::MessageSignature {
        digest: Some(d), ..
    } = &bundle.content
    {
        assert_eq!(fixtures.artifact.digest(d.algorithm), Some(&d.digest[..]));
    }
    assert!(
        world
            .references
            .iter()
            .any(|(r, rv)| authenticated_as(bundle, &verified, r, rv)),
        "a bundle verified in the {} world without being one of its references: {bundle:#?}\n{verified:#?}",
        world.name
    );
}

/// Whether `b` (which verified as `v`) carries only evidence reference `r` (verified as `rv`)
/// carries, as the doc comment at the top defines it.
fn authenticated_as(b: &Bundle, v: &Verified, r: &Bundle, rv: &Verified) -> bool {
    b.material.leaf() == r.material.leaf()
        && signed_content(&b.content) == signed_content(&r.content)
        && b.tlog_entries
            .iter()
            .all(|e| r.tlog_entries.iter().any(|re| same_entry(e, re)))
        && b.rfc3161_timestamps
            .iter()
            .all(|t| r.rfc3161_timestamps.iter().any(|rt| same_timestamp(t, rt)))
        && v.signer == rv.signer
        && v.statement == rv.statement
        && v.times.iter().all(|t| rv.times.contains(t))
}

/// What the signature covers: the DSSE `keyid` and the message digest field are not in it.
fn signed_content(c: &Content) -> (&[u8], Option<(&str, &[u8])>) {
    match c {
        Content::MessageSignature { signature, .. } => (signature, None),
        Content::Dsse {
            payload,
            payload_type,
            signature,
            ..
        } => (signature, Some((payload_type, payload))),
    }
}

fn same_entry(e: &TlogEntry, r: &TlogEntry) -> bool {
    let set_ok = e.signed_entry_timestamp.is_none()
        || (e.signed_entry_timestamp == r.signed_entry_timestamp
            && e.integrated_time == r.integrated_time
            && e.log_index == r.log_index);
    let proof_ok = match (&e.inclusion_proof, &r.inclusion_proof) {
        (None, _) => true,
        (Some(p), Some(rp)) => {
            p.log_index == rp.log_index
                && p.tree_size == rp.tree_size
                && p.root_hash == rp.root_hash
                && p.hashes == rp.hashes
                && checkpoint_body(p) == checkpoint_body(rp)
        }
        (Some(_), None) => false,
    };
    e.log_id == r.log_id
        && e.kind == r.kind
        && e.version == r.version
        && e.canonicalized_body == r.canonicalized_body
        && set_ok
        && proof_ok
}

/// The signed body of an inclusion proof's checkpoint (its signatures are not part of it).
fn checkpoint_body(p: &InclusionProof) -> Option<Checkpoint> {
    let text = p.checkpoint.as_deref()?;
    SignedCheckpoint::parse(text.as_bytes())
        .ok()
        .map(|s| s.checkpoint().clone())
}

/// The same signed TSTInfo time and imprint.
fn same_timestamp(der: &[u8], reference: &[u8]) -> bool {
    match (tsa::parse(der), tsa::parse(reference)) {
        (Ok(a), Ok(b)) => {
            a.gen_time == b.gen_time && a.imprint_alg == b.imprint_alg && a.imprint == b.imprint
        }
        _ => false,
    }
}

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng::new(seed);
    // A quarter of the time, and whenever the input is not JSON: libFuzzer's own mutations.
    if rng.below(4) != 0
        && let Ok(mut doc) = serde_json::from_slice::<Value>(&data[..size])
    {
        mutate_json(&mut doc, &mut rng, 0);
        if let Ok(out) = serde_json::to_vec(&doc)
            && out.len() <= max_size
        {
            data[..out.len()].copy_from_slice(&out);
            return out.len();
        }
    }
    fuzzer_mutate(data, size, max_size)
});

/// A small deterministic generator (xorshift64*), seeded by libFuzzer.
struct Rng(u64);

impl Rng {
    fn new(seed: u32) -> Rng {
        Rng(u64::from(seed) << 1 | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize % n.max(1)
    }
}

/// Changes one node of `doc`.
fn mutate_json(doc: &mut Value, rng: &mut Rng, depth: u32) {
    let n = count(doc);
    let target = rng.below(n);
    if rng.below(8) == 0 {
        // Copy another node over this one (a certificate over a signature, an entry over an
        // entry, a number into a string field).
        let source = nth(doc, &mut rng.below(n)).cloned();
        if let (Some(node), Some(source)) = (nth_mut(doc, &mut { target }), source) {
            *node = source;
        }
        return;
    }
    let Some(node) = nth_mut(doc, &mut { target }) else {
        return;
    };
    match node {
        Value::String(s) => mutate_string(s, rng, depth),
        Value::Number(_) | Value::Bool(_) | Value::Null => *node = interesting(rng),
        Value::Array(items) if !items.is_empty() => {
            let (i, j) = (rng.below(items.len()), rng.below(items.len()));
            match rng.below(3) {
                0 => drop(items.remove(i)),
                1 => items.insert(i, items[i].clone()),
                _ => items.swap(i, j),
            }
        }
        Value::Object(members) if !members.is_empty() => {
            let key = members
                .keys()
                .nth(rng.below(members.len()))
                .cloned()
                .unwrap_or_default();
            members.remove(&key);
        }
        Value::Array(_) | Value::Object(_) => *node = interesting(rng),
    }
}

/// Base64 is decoded, mutated as bytes (as JSON when it holds JSON) and encoded again; an
/// integer in a string (protobuf's int64) becomes another; other text is mutated as bytes.
fn mutate_string(s: &mut String, rng: &mut Rng, depth: u32) {
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Ok(n) = s.parse::<i64>() {
        let m = match rng.below(6) {
            0 => n.wrapping_add(1),
            1 => n.wrapping_sub(1),
            2 => 0,
            3 => -1,
            4 => i64::MAX,
            _ => n ^ (1 << rng.below(63)),
        };
        *s = m.to_string();
        return;
    }
    if s.len() >= 4
        && let Ok(bytes) = b64.decode(s.as_bytes())
    {
        if depth < 2
            && rng.below(2) == 0
            && let Ok(mut inner) = serde_json::from_slice::<Value>(&bytes)
        {
            mutate_json(&mut inner, rng, depth + 1);
            *s = b64.encode(serde_json::to_vec(&inner).unwrap_or_default());
            return;
        }
        *s = b64.encode(mutate_bytes(bytes));
        return;
    }
    *s = String::from_utf8_lossy(&mutate_bytes(std::mem::take(s).into_bytes())).into_owned();
}

fn mutate_bytes(mut bytes: Vec<u8>) -> Vec<u8> {
    let len = bytes.len();
    bytes.resize(len + 64, 0);
    let new_len = fuzzer_mutate(&mut bytes, len, len + 64);
    bytes.truncate(new_len);
    bytes
}

fn interesting(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => Value::Null,
        1 => Value::from(0),
        2 => Value::from(-1),
        3 => Value::from(u64::MAX),
        4 => Value::from(""),
        _ => Value::Array(Vec::new()),
    }
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count).sum(),
        Value::Object(members) => members.values().map(count).sum(),
        _ => 0,
    }
}

/// The `n`th node in preorder.
fn nth<'a>(v: &'a Value, n: &mut usize) -> Option<&'a Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(items) => items.iter().find_map(|x| nth(x, n)),
        Value::Object(members) => members.values().find_map(|x| nth(x, n)),
        _ => None,
    }
}

fn nth_mut<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(items) => items.iter_mut().find_map(|x| nth_mut(x, n)),
        Value::Object(members) => members.values_mut().find_map(|x| nth_mut(x, n)),
        _ => None,
    }
}
