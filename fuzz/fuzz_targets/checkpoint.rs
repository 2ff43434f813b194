//! Fuzzes the transparency-log parsers and proof checks of `verify`: signed notes, checkpoints
//! and tlog-proof files re-serialize to exactly the bytes they parsed from and verify without
//! panicking; notes signed and cosigned here parse back and verify; Merkle proofs with sizes
//! and hashes from the input never panic, and proofs built over leaves from the input verify
//! while the same proofs with one bit flipped do not.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use verify::checkpoint::{Checkpoint, Origin, SignedCheckpoint, TlogProof};
use verify::merkle::{self, Hash, LeafHashes};
use verify::note::{Cosigner, MAX_SIGNATURES, Note, NoteError, Signer, Verifier};

/// The log and witness the seeds are signed by (fixed seeds, so the seeds verify).
const LOG: &str = "fuzz.example/log";
const WITNESS: &str = "fuzz.example/witness";
static SIGNER: LazyLock<Signer> =
    LazyLock::new(|| Signer::from_seed(LOG, &[0x4c; 32]).expect("a valid name and seed"));
static COSIGNER: LazyLock<Cosigner> =
    LazyLock::new(|| Cosigner::from_seed(WITNESS, &[0x57; 32]).expect("a valid name and seed"));
static KNOWN: LazyLock<[Verifier; 2]> = LazyLock::new(|| [SIGNER.verifier(), COSIGNER.verifier()]);

fuzz_target!(|data: &[u8]| {
    check_note(data);
    check_checkpoint(data);
    check_tlog_proof(data);
    check_signing(data);
    check_arbitrary_proofs(data);
    check_built_proofs(data);
});

fn check_note(data: &[u8]) {
    let Ok(note) = Note::parse(data) else {
        return;
    };
    assert_eq!(note.to_string().as_bytes(), data);
    assert_eq!(Note::parse(note.to_string().as_bytes()).as_ref(), Ok(&note));
    assert!(!note.signatures().is_empty() && note.signatures().len() <= MAX_SIGNATURES);
    assert!(note.text().ends_with('\n'));
    match note.verify(&KNOWN[..]) {
        Ok(verified) => {
            assert!(!verified.is_empty());
            for v in &verified {
                let known = &KNOWN[v.verifier];
                assert!(
                    note.signatures()
                        .iter()
                        .any(|s| s.name() == known.name() && s.key_id() == known.key_id())
                );
            }
        }
        Err(NoteError::NoKnownSignature) => assert!(!note.signatures().iter().any(|s| {
            KNOWN
                .iter()
                .any(|k| k.name() == s.name() && k.key_id() == s.key_id())
        })),
        Err(NoteError::InvalidSignature { .. }) => {}
        Err(e) => panic!("unexpected verification error {e:?}"),
    }
}

fn check_checkpoint(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(cp) = Checkpoint::parse(text)
    {
        assert_eq!(cp.to_string(), text);
        assert_eq!(Checkpoint::parse(&cp.to_string()).as_ref(), Ok(&cp));
        assert!(!cp.origin().is_empty());
    }
    let Ok(signed) = SignedCheckpoint::parse(data) else {
        return;
    };
    assert_eq!(signed.to_string().as_bytes(), data);
    assert_eq!(signed.checkpoint().to_string(), signed.note().text());
    let origin = Origin::Exact(LOG.into());
    if let Ok(verified) = signed.verify(&origin, &KNOWN[0], &KNOWN[1..]) {
        assert_eq!(verified.checkpoint(), signed.checkpoint());
        assert!(verified.witnesses().len() <= 1);
        let cp = verified.checkpoint();
        // A one-leaf tree's root is its leaf, with an empty proof.
        if cp.size() == 1 {
            let none: [Hash; 0] = [];
            verified.verify_inclusion(0, cp.root(), &none).unwrap();
        }
        // A checkpoint is consistent with itself (the empty tree only with the empty root).
        let itself = verified.verify_consistency_from(cp, &[] as &[Hash]);
        assert_eq!(
            itself.is_ok(),
            cp.size() > 0 || *cp.root() == merkle::EMPTY_ROOT
        );
    }
    let rekor = Origin::RekorV1 {
        host: "fuzz.example".into(),
    };
    let _ = signed.verify(&rekor, &KNOWN[0], &[]);
}

fn check_tlog_proof(data: &[u8]) {
    let Ok(proof) = TlogProof::parse(data) else {
        return;
    };
    assert_eq!(proof.to_string().as_bytes(), data);
    assert!(proof.proof().len() <= 64);
    let leaf = proof.proof().first().copied().unwrap_or([0; 32]);
    let origin = Origin::Exact(LOG.into());
    if proof.verify(&leaf, &origin, &KNOWN[0], &KNOWN[1..]).is_ok() {
        let cp = proof.checkpoint().checkpoint();
        assert!(proof.index() < cp.size());
        assert_eq!(
            merkle::root_from_inclusion(proof.index(), cp.size(), &leaf, proof.proof()),
            Ok(*cp.root())
        );
    }
}

/// Any text that can be a note is signed and cosigned, and what comes out parses back to the
/// same note and verifies, the cosignature with the time it was made at.
fn check_signing(data: &[u8]) {
    let Some((&t, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(mut note) = Note::new(text) else {
        return;
    };
    SIGNER.sign(&mut note).unwrap();
    let time = u64::from(t) << 24;
    COSIGNER.cosign(&mut note, time).unwrap();
    let parsed = Note::parse(note.to_string().as_bytes()).unwrap();
    assert_eq!(parsed, note);
    let verified = parsed.verify(&KNOWN[..]).unwrap();
    assert_eq!(verified.len(), 2);
    assert_eq!(verified[1].timestamp, Some(time));
}

/// Reads big-endian integers and 32-byte hashes off the input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u64(&mut self) -> u64 {
        let n = self.0.len().min(8);
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head.iter().fold(0, |acc, &b| acc << 8 | u64::from(b))
    }

    fn byte(&mut self) -> u8 {
        let (&b, tail) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = tail;
        b
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = self.0.len().min(n);
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
}

/// Verification with sizes, indexes and hashes straight from the input never panics, and
/// what verifies is consistent with what the proof recomputes.
fn check_arbitrary_proofs(data: &[u8]) {
    let mut input = Input(data);
    let (a, b, c) = (input.u64(), input.u64(), input.u64());
    let leaf = input.bytes(32).to_vec();
    let root = input.bytes(32).to_vec();
    let proof: Vec<&[u8]> = input.0.chunks(32).collect();
    if merkle::verify_inclusion(a, b, &leaf, &proof, &root).is_ok() {
        assert!(a < b);
        assert_eq!(
            merkle::root_from_inclusion(a, b, &leaf, &proof).map(|r| r.to_vec()),
            Ok(root.clone())
        );
    }
    if merkle::verify_consistency(a, b, &leaf, &root, &proof).is_ok() {
        assert!(0 < a && a <= b);
    }
    let _ = merkle::verify_subtree_inclusion(a, b, c, &leaf, &proof, &root);
    if merkle::verify_subtree_consistency(a, b, c, &proof, &leaf, &root).is_ok() {
        assert!(a <= b && b <= c);
    }
}

/// Proofs built over leaves from the input verify; each with a flipped bit does not.
fn check_built_proofs(data: &[u8]) {
    let mut input = Input(data);
    let size = u64::from(input.byte()) + 1;
    let index = u64::from(input.byte()) % size;
    let old = u64::from(input.byte()) % size + 1;
    let flip = usize::from(input.byte());
    let leaves: Vec<Hash> = (0..size)
        .map(|i| merkle::leaf_hash(&[input.0, &i.to_be_bytes()].concat()))
        .collect();
    let root = merkle::root(&leaves);
    let src = &mut LeafHashes(&leaves);
    assert_eq!(merkle::subtree_hash(0, size, src), Ok(root));

    let proof = merkle::inclusion_proof(index, size, src).unwrap();
    let leaf = leaves[index as usize];
    merkle::verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
    if !proof.is_empty() {
        let mut bad = proof.clone();
        let at = flip % bad.len();
        bad[at][flip % 32] ^= 1 << (flip % 8);
        assert!(merkle::verify_inclusion(index, size, &leaf, &bad, &root).is_err());
    }

    let old_root = merkle::root(&leaves[..old as usize]);
    let proof = merkle::consistency_proof(old, size, src).unwrap();
    merkle::verify_consistency(old, size, &old_root, &root, &proof).unwrap();
    if !proof.is_empty() {
        let mut bad = proof.clone();
        let at = flip % bad.len();
        bad[at][flip % 32] ^= 1 << (flip % 8);
        assert!(merkle::verify_consistency(old, size, &old_root, &root, &bad).is_err());
    }
}
