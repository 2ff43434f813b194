//! RFC 6962 / RFC 9162 Merkle trees over SHA-256: leaf and node hashing, tree roots, inclusion
//! and consistency proofs (verified here, and produced from a [`HashSource`] the caller backs
//! with its storage), and the subtree proofs of Merkle Tree Certificates. Shared by the ledger
//! and by Rekor checking.
//!
//! Proof shapes follow one recursion (RFC 6962 section 2.1): a tree of `n > 1` leaves splits at
//! `k`, the largest power of two below `n`. Every proof is a list of hashes of *subtrees*:
//! ranges `[start, end)` where `start` is a multiple of `end - start` rounded up to a power of
//! two, so each is the fold of at most 64 perfect subtrees, which is what a [`HashSource`]
//! serves.
//!
//! Edge cases follow transparency-dev/merkle (the reference the test vectors come from): a
//! consistency proof from the empty tree is an error, and for equal sizes only the root bytes
//! are compared.

use std::fmt;
use std::ops::Range;

use aws_lc_rs::digest;

use crate::keys::hex;

/// Length of a SHA-256 hash.
pub const HASH_LEN: usize = 32;

/// A SHA-256 tree hash: a leaf hash, an interior node, or a root.
pub type Hash = [u8; HASH_LEN];

/// The root of the empty tree: SHA-256 of no bytes.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// Why a proof does not verify, or cannot be asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("leaf index {index} is outside the subtree [{start}, {end})")]
    IndexOutsideSubtree { index: u64, start: u64, end: u64 },
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error("a consistency proof from the empty tree proves nothing")]
    EmptyOldTree,
    #[error(
        "[{start}, {end}) is not a subtree: start must be a multiple of the width rounded up to a power of two"
    )]
    InvalidSubtree { start: u64, end: u64 },
    #[error("subtree [{start}, {end}) extends past a tree of size {size}")]
    SubtreeBeyondTree { start: u64, end: u64, size: u64 },
    #[error("the {role} is {len} bytes, a SHA-256 hash is 32")]
    HashLength { role: HashRole, len: usize },
    #[error("the proof has {got} hashes, {want} expected")]
    ProofLength { got: usize, want: usize },
    #[error("the proof leads to root {}, not the expected one", hex(.computed))]
    RootMismatch { computed: Hash },
    #[error("the proof leads to earlier root {}, not the expected one", hex(.computed))]
    OldRootMismatch { computed: Hash },
    #[error("trees of equal size {size} have different roots")]
    RootsDiffer { size: u64 },
    #[error("an empty subtree's root must be the empty tree's hash")]
    EmptySubtreeRoot,
}

/// Which hash of a proof check an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashRole {
    LeafHash,
    Root,
    OldRoot,
    SubtreeRoot,
    /// The proof's hash at this position (from 0).
    ProofHash(usize),
}

impl fmt::Display for HashRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashRole::LeafHash => f.write_str("leaf hash"),
            HashRole::Root => f.write_str("root hash"),
            HashRole::OldRoot => f.write_str("old root hash"),
            HashRole::SubtreeRoot => f.write_str("subtree root hash"),
            HashRole::ProofHash(i) => write!(f, "proof hash {i}"),
        }
    }
}

/// The leaf hash of an entry: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[LEAF_PREFIX]);
    ctx.update(entry);
    to_array(ctx.finish())
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut input = [0u8; 1 + 2 * HASH_LEN];
    input[0] = NODE_PREFIX;
    input[1..1 + HASH_LEN].copy_from_slice(left);
    input[1 + HASH_LEN..].copy_from_slice(right);
    to_array(digest::digest(&digest::SHA256, &input))
}

fn to_array(d: digest::Digest) -> Hash {
    let mut out = [0u8; HASH_LEN];
    // A SHA-256 digest is HASH_LEN bytes.
    out.copy_from_slice(d.as_ref());
    out
}

/// The root of the tree with these leaf hashes (the empty tree's root for none).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => EMPTY_ROOT,
        [leaf] => *leaf,
        _ => {
            // A slice's length fits in u64, and the split point is below it.
            let k = split(leaves.len() as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly below `n`; `n` must be at least 2.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Checks that `[start, end)` is a subtree: `start` is a multiple of `end - start` rounded up to
/// a power of two (any `start` works for the empty range, and 0 works for every width).
fn check_subtree(start: u64, end: u64) -> Result<(), ProofError> {
    let invalid = ProofError::InvalidSubtree { start, end };
    if start > end {
        return Err(invalid);
    }
    if start == 0 || start == end {
        return Ok(());
    }
    match (end - start).checked_next_power_of_two() {
        Some(width) if start.is_multiple_of(width) => Ok(()),
        _ => Err(invalid),
    }
}

fn hash_of(bytes: &[u8], role: HashRole) -> Result<Hash, ProofError> {
    bytes.try_into().map_err(|_| ProofError::HashLength {
        role,
        len: bytes.len(),
    })
}

fn proof_hashes<P: AsRef<[u8]>>(proof: &[P], want: usize) -> Result<Vec<Hash>, ProofError> {
    if proof.len() != want {
        return Err(ProofError::ProofLength {
            got: proof.len(),
            want,
        });
    }
    proof
        .iter()
        .enumerate()
        .map(|(i, p)| hash_of(p.as_ref(), HashRole::ProofHash(i)))
        .collect()
}

/// The subtrees whose hashes form the inclusion proof of leaf `index` in a tree of `size`
/// leaves, the leaf's sibling first. `index < size`.
fn inclusion_plan(index: u64, size: u64) -> Vec<Range<u64>> {
    let (mut lo, mut hi) = (0, size);
    let mut plan = Vec::new();
    while hi - lo > 1 {
        let k = lo + split(hi - lo);
        if index < k {
            plan.push(k..hi);
            hi = k;
        } else {
            plan.push(lo..k);
            lo = k;
        }
    }
    plan.reverse();
    plan
}

/// The root a tree of `size` leaves has if `proof` is the inclusion proof of leaf `index` with
/// hash `leaf_hash`. The caller compares it with a root it trusts; [`verify_inclusion`] does.
pub fn root_from_inclusion<P: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf_hash: &[u8],
    proof: &[P],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let plan = inclusion_plan(index, size);
    let proof = proof_hashes(proof, plan.len())?;
    let leaf = hash_of(leaf_hash, HashRole::LeafHash)?;
    let mut covered = index..index + 1;
    let mut hash = leaf;
    for (range, sibling) in plan.iter().zip(&proof) {
        if range.start == covered.end {
            hash = node_hash(&hash, sibling);
            covered.end = range.end;
        } else {
            hash = node_hash(sibling, &hash);
            covered.start = range.start;
        }
    }
    debug_assert_eq!(covered, 0..size);
    Ok(hash)
}

/// Verifies that `proof` proves leaf `index` (hash `leaf_hash`) is in the tree of `size` leaves
/// with root `root` (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion<P: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf_hash: &[u8],
    proof: &[P],
    root: &[u8],
) -> Result<(), ProofError> {
    let computed = root_from_inclusion(index, size, leaf_hash, proof)?;
    let expected = hash_of(root, HashRole::Root)?;
    if computed == expected {
        Ok(())
    } else {
        Err(ProofError::RootMismatch { computed })
    }
}

/// Verifies an inclusion proof of leaf `index` in the subtree `[start, end)` whose root is
/// `subtree_root` (Merkle Tree Certificates): the plain inclusion proof of `index - start` in a
/// tree of `end - start` leaves.
pub fn verify_subtree_inclusion<P: AsRef<[u8]>>(
    index: u64,
    start: u64,
    end: u64,
    leaf_hash: &[u8],
    proof: &[P],
    subtree_root: &[u8],
) -> Result<(), ProofError> {
    check_subtree(start, end)?;
    if index < start || index >= end {
        return Err(ProofError::IndexOutsideSubtree { index, start, end });
    }
    verify_inclusion(index - start, end - start, leaf_hash, proof, subtree_root)
}

/// How one hash of a consistency proof combines with the two hashes being rebuilt: the
/// subtree's (or old tree's) root and the whole tree's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The first hash: a subtree of the old tree that is also a subtree of the new one, where
    /// both rebuilds start (absent when it is the old tree itself, whose root is known).
    Seed,
    /// A subtree to the right of everything rebuilt so far; only in the new tree.
    Right,
    /// A subtree to the left, part of the new tree only (the old tree lies to its right).
    LeftOfSubtree,
    /// A subtree to the left that both trees contain.
    LeftShared,
}

/// The subtrees whose hashes form the consistency proof of subtree `[start, end)` with the tree
/// of `size` leaves, in proof order. RFC 6962's proof from an old size `m` is the one for
/// `[0, m)`. Needs `start < end <= size` and a valid subtree.
fn consistency_plan(
    start: u64,
    end: u64,
    size: u64,
) -> Result<Vec<(Range<u64>, Role)>, ProofError> {
    let (mut start, mut lo, mut hi) = (start, 0, size);
    let mut known = true;
    let mut plan = Vec::new();
    // Walk down from the root to the node that is exactly the rest of the subtree.
    while !(start == lo && end == hi) {
        if hi - lo < 2 {
            // Unreachable for a valid subtree inside the tree; no panic for an invalid one.
            return Err(ProofError::InvalidSubtree { start, end });
        }
        let k = lo + split(hi - lo);
        if end <= k {
            plan.push((k..hi, Role::Right));
            hi = k;
        } else if start >= k {
            plan.push((lo..k, Role::LeftOfSubtree));
            lo = k;
        } else if start == lo {
            // The subtree spans both halves: its left half is shared, its right half is the
            // rest, whose root is no longer the one the verifier knows.
            plan.push((lo..k, Role::LeftShared));
            lo = k;
            start = k;
            known = false;
        } else {
            return Err(ProofError::InvalidSubtree { start, end });
        }
    }
    if !known {
        plan.push((lo..hi, Role::Seed));
    }
    plan.reverse();
    Ok(plan)
}

/// Checks a consistency proof of subtree `[start, end)` (root `subtree_root`) with the tree of
/// `size` leaves (root `root`): the shape first, then each hash's length, then the roots the
/// proof rebuilds.
fn check_consistency<P: AsRef<[u8]>>(
    (start, end, size): (u64, u64, u64),
    proof: &[P],
    (subtree_root, sub_role): (&[u8], HashRole),
    root: &[u8],
) -> Result<(), ProofError> {
    let plan = consistency_plan(start, end, size)?;
    let proof = proof_hashes(proof, plan.len())?;
    let expected_sub = hash_of(subtree_root, sub_role)?;
    let expected_whole = hash_of(root, HashRole::Root)?;
    let (mut sub, mut whole) = (expected_sub, expected_sub);
    for ((_, role), hash) in plan.iter().zip(&proof) {
        match role {
            Role::Seed => (sub, whole) = (*hash, *hash),
            Role::Right => whole = node_hash(&whole, hash),
            Role::LeftOfSubtree => whole = node_hash(hash, &whole),
            Role::LeftShared => {
                sub = node_hash(hash, &sub);
                whole = node_hash(hash, &whole);
            }
        }
    }
    if sub != expected_sub {
        return Err(ProofError::OldRootMismatch { computed: sub });
    }
    if whole != expected_whole {
        return Err(ProofError::RootMismatch { computed: whole });
    }
    Ok(())
}

/// Verifies that `proof` proves the tree of `old_size` leaves with root `old_root` is a prefix
/// of the tree of `new_size` leaves with root `new_root` (RFC 9162 section 2.1.4.2). Needs
/// `0 < old_size <= new_size`; for equal sizes the proof must be empty and the roots equal.
pub fn verify_consistency<P: AsRef<[u8]>>(
    old_size: u64,
    new_size: u64,
    old_root: &[u8],
    new_root: &[u8],
    proof: &[P],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if old_size == new_size {
        proof_hashes(proof, 0)?;
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootsDiffer { size: old_size })
        };
    }
    check_consistency(
        (0, old_size, new_size),
        proof,
        (old_root, HashRole::OldRoot),
        new_root,
    )
}

/// Verifies a subtree consistency proof (Merkle Tree Certificates): the subtree `[start, end)`
/// with root `subtree_root` is part of the tree of `size` leaves with root `root`. The empty
/// subtree is part of every tree, with an empty proof and the empty tree's root.
pub fn verify_subtree_consistency<P: AsRef<[u8]>>(
    start: u64,
    end: u64,
    size: u64,
    proof: &[P],
    subtree_root: &[u8],
    root: &[u8],
) -> Result<(), ProofError> {
    check_subtree(start, end)?;
    if end > size {
        return Err(ProofError::SubtreeBeyondTree { start, end, size });
    }
    if start == end {
        proof_hashes(proof, 0)?;
        return if subtree_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(ProofError::EmptySubtreeRoot)
        };
    }
    if start == 0 && end == size {
        proof_hashes(proof, 0)?;
        return if subtree_root == root {
            Ok(())
        } else {
            Err(ProofError::RootsDiffer { size })
        };
    }
    check_consistency(
        (start, end, size),
        proof,
        (subtree_root, HashRole::SubtreeRoot),
        root,
    )
}

/// Where proofs come from: the hashes of perfect subtrees, as a log stores them (tiles).
pub trait HashSource {
    type Error;

    /// The hash of the perfect subtree of `2^level` leaves that starts at leaf
    /// `index << level`; at level 0, the leaf hash of entry `index`.
    fn subtree_hash(&mut self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

impl<F, E> HashSource for F
where
    F: FnMut(u8, u64) -> Result<Hash, E>,
{
    type Error = E;

    fn subtree_hash(&mut self, level: u8, index: u64) -> Result<Hash, E> {
        self(level, index)
    }
}

/// A [`HashSource`] over leaf hashes held in memory; it hashes each subtree asked for.
#[derive(Debug, Clone, Copy)]
pub struct LeafHashes<'a>(pub &'a [Hash]);

/// A subtree asked of [`LeafHashes`] reaches past the leaves it holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("subtree {index} at level {level} reaches past the {held} leaves held")]
pub struct MissingLeaves {
    pub level: u8,
    pub index: u64,
    pub held: usize,
}

impl HashSource for LeafHashes<'_> {
    type Error = MissingLeaves;

    fn subtree_hash(&mut self, level: u8, index: u64) -> Result<Hash, MissingLeaves> {
        let missing = MissingLeaves {
            level,
            index,
            held: self.0.len(),
        };
        let width = 1u64.checked_shl(level.into()).ok_or(missing.clone())?;
        let start = index.checked_mul(width).ok_or(missing.clone())?;
        let end = start.checked_add(width).ok_or(missing.clone())?;
        let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
            return Err(missing);
        };
        self.0.get(start..end).map(root).ok_or(missing)
    }
}

/// Why a proof could not be produced: the request makes no sense, or the source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProveError<E> {
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("cannot read the hash of subtree {index} at level {level}")]
    Source {
        level: u8,
        index: u64,
        #[source]
        source: E,
    },
}

/// The root of the subtree `[start, end)` (the tree's root for `[0, size)`), from at most 64
/// perfect subtrees of `source`.
pub fn subtree_hash<S: HashSource + ?Sized>(
    start: u64,
    end: u64,
    source: &mut S,
) -> Result<Hash, ProveError<S::Error>> {
    check_subtree(start, end)?;
    let width = end - start;
    if width == 0 {
        return Ok(EMPTY_ROOT);
    }
    // A valid subtree's start is aligned to its width rounded up, so its perfect parts, largest
    // first, each start at a multiple of their own width.
    let mut parts = Vec::with_capacity(width.count_ones() as usize);
    let mut pos = start;
    for level in (0..64u8).rev() {
        if width >> level & 1 == 1 {
            let index = pos >> level;
            let hash = source
                .subtree_hash(level, index)
                .map_err(|source| ProveError::Source {
                    level,
                    index,
                    source,
                })?;
            parts.push(hash);
            pos += 1 << level;
        }
    }
    // The tree over the parts leans right: fold from the last.
    let mut hash = parts.pop().expect("a non-empty range has a part");
    while let Some(left) = parts.pop() {
        hash = node_hash(&left, &hash);
    }
    Ok(hash)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<S: HashSource + ?Sized>(
    index: u64,
    size: u64,
    source: &mut S,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    inclusion_plan(index, size)
        .into_iter()
        .map(|r| subtree_hash(r.start, r.end, source))
        .collect()
}

/// The consistency proof from the tree of `old_size` leaves to the tree of `new_size`
/// (empty for equal sizes). `0 < old_size <= new_size`.
pub fn consistency_proof<S: HashSource + ?Sized>(
    old_size: u64,
    new_size: u64,
    source: &mut S,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        }
        .into());
    }
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree.into());
    }
    if old_size == new_size {
        return Ok(Vec::new());
    }
    prove_plan(consistency_plan(0, old_size, new_size)?, source)
}

/// The subtree consistency proof of `[start, end)` with the tree of `size` leaves (Merkle Tree
/// Certificates).
pub fn subtree_consistency_proof<S: HashSource + ?Sized>(
    start: u64,
    end: u64,
    size: u64,
    source: &mut S,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    check_subtree(start, end)?;
    if end > size {
        return Err(ProofError::SubtreeBeyondTree { start, end, size }.into());
    }
    if start == end || (start == 0 && end == size) {
        return Ok(Vec::new());
    }
    prove_plan(consistency_plan(start, end, size)?, source)
}

fn prove_plan<S: HashSource + ?Sized>(
    plan: Vec<(Range<u64>, Role)>,
    source: &mut S,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    plan.into_iter()
        .map(|(r, _)| subtree_hash(r.start, r.end, source))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use base64::Engine as _;
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/ledger")
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn hash(s: &str) -> Hash {
        unhex(s).try_into().unwrap()
    }

    fn b64(v: &Value) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    }

    fn u(v: &Value, field: &str) -> u64 {
        v[field].as_u64().unwrap()
    }

    /// The 8 leaf hashes of the RFC 6962 test tree the vectors are built on.
    fn rfc6962_tree() -> (Value, Vec<Hash>) {
        let text = std::fs::read_to_string(fixtures().join("rfc6962-8leaf-tree.json")).unwrap();
        let tree: Value = serde_json::from_str(&text).unwrap();
        let leaves = tree["leaf_inputs_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| leaf_hash(&unhex(v.as_str().unwrap())))
            .collect();
        (tree, leaves)
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, crate::keys::sha256(b""));
        assert_eq!(root(&[]), EMPTY_ROOT);
    }

    #[test]
    fn rfc6962_eight_leaf_tree() {
        let (tree, leaves) = rfc6962_tree();
        let want_leaves: Vec<Hash> = tree["leaf_hashes_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| hash(v.as_str().unwrap()))
            .collect();
        assert_eq!(leaves, want_leaves);
        // Every interior node of the perfect tree, through the source interface.
        let levels = tree["node_hashes_by_level_hex"].as_array().unwrap();
        let mut checked = 0;
        for (level, nodes) in levels.iter().enumerate().skip(1) {
            for (index, node) in nodes.as_array().unwrap().iter().enumerate() {
                let width = 1u64 << level;
                let start = index as u64 * width;
                let got = subtree_hash(start, start + width, &mut LeafHashes(&leaves)).unwrap();
                assert_eq!(
                    got,
                    hash(node.as_str().unwrap()),
                    "level {level} node {index}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 7);
        let roots = tree["root_hash_by_tree_size_hex"].as_object().unwrap();
        assert_eq!(roots.len(), 9);
        for (size, want) in roots {
            let size: usize = size.parse().unwrap();
            let want = hash(want.as_str().unwrap());
            assert_eq!(root(&leaves[..size]), want, "size {size}");
            let from_source = subtree_hash(0, size as u64, &mut LeafHashes(&leaves)).unwrap();
            assert_eq!(from_source, want, "size {size} from the source");
        }
    }

    /// RFC 6962 section 2.1.3: the audit paths and consistency proofs of its 7-leaf example,
    /// named by the nodes of its figure.
    #[test]
    fn rfc6962_section_2_1_3_example() {
        let (_, all) = rfc6962_tree();
        let d = &all[..7];
        let (a, b, c, dd, e, f, d6) = (d[0], d[1], d[2], d[3], d[4], d[5], d[6]);
        let (g, h, i, j) = (node_hash(&a, &b), node_hash(&c, &dd), node_hash(&e, &f), d6);
        let (k, l) = (node_hash(&g, &h), node_hash(&i, &j));
        let src = &mut LeafHashes(d);
        assert_eq!(inclusion_proof(0, 7, src).unwrap(), vec![b, h, l]);
        assert_eq!(inclusion_proof(3, 7, src).unwrap(), vec![c, g, l]);
        assert_eq!(inclusion_proof(4, 7, src).unwrap(), vec![f, j, k]);
        assert_eq!(inclusion_proof(6, 7, src).unwrap(), vec![i, k]);
        assert_eq!(consistency_proof(3, 7, src).unwrap(), vec![c, dd, g, l]);
        assert_eq!(consistency_proof(4, 7, src).unwrap(), vec![l]);
        assert_eq!(consistency_proof(6, 7, src).unwrap(), vec![i, j, k]);
        let hash0 = node_hash(&g, &c);
        let hash2 = node_hash(&k, &i);
        let root7 = root(d);
        verify_consistency(3, 7, &hash0, &root7, &[c, dd, g, l]).unwrap();
        verify_consistency(4, 7, &k, &root7, &[l]).unwrap();
        verify_consistency(6, 7, &hash2, &root7, &[i, j, k]).unwrap();
        verify_inclusion(6, 7, &d6, &[i, k], &root7).unwrap();
    }

    /// The kind of vector, as the fixture directory names it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Kind {
        Inclusion,
        Consistency,
        SubtreeInclusion,
        SubtreeConsistency,
    }

    fn run_vector(kind: Kind, v: &Value) -> Result<(), ProofError> {
        let proof: Vec<Vec<u8>> = match &v["proof"] {
            Value::Null => Vec::new(),
            p => p.as_array().unwrap().iter().map(b64).collect(),
        };
        match kind {
            Kind::Inclusion => verify_inclusion(
                u(v, "leafIdx"),
                u(v, "treeSize"),
                &b64(&v["leafHash"]),
                &proof,
                &b64(&v["root"]),
            ),
            Kind::Consistency => verify_consistency(
                u(v, "size1"),
                u(v, "size2"),
                &b64(&v["root1"]),
                &b64(&v["root2"]),
                &proof,
            ),
            Kind::SubtreeInclusion => verify_subtree_inclusion(
                u(v, "leafIdx"),
                u(v, "start"),
                u(v, "end"),
                &b64(&v["leafHash"]),
                &proof,
                &b64(&v["root"]),
            ),
            Kind::SubtreeConsistency => verify_subtree_consistency(
                u(v, "start"),
                u(v, "end"),
                u(v, "size"),
                &proof,
                &b64(&v["root1"]),
                &b64(&v["root2"]),
            ),
        }
    }

    /// For happy paths: the proof this module produces from the 8-leaf tree.
    fn produce(kind: Kind, v: &Value, leaves: &[Hash]) -> Vec<Hash> {
        let src = &mut LeafHashes(leaves);
        match kind {
            Kind::Inclusion => inclusion_proof(u(v, "leafIdx"), u(v, "treeSize"), src),
            Kind::Consistency => consistency_proof(u(v, "size1"), u(v, "size2"), src),
            Kind::SubtreeInclusion => {
                // The subtree holds the tree's first leaves, wherever it sits.
                let (start, end) = (u(v, "start"), u(v, "end"));
                let width = end - start;
                inclusion_proof(
                    u(v, "leafIdx") - start,
                    width,
                    &mut LeafHashes(&leaves[..width as usize]),
                )
            }
            Kind::SubtreeConsistency => {
                subtree_consistency_proof(u(v, "start"), u(v, "end"), u(v, "size"), src)
            }
        }
        .unwrap()
    }

    /// The error variant's name, for the table of expected errors.
    fn variant(e: &ProofError) -> &'static str {
        match e {
            ProofError::IndexOutOfRange { .. } => "IndexOutOfRange",
            ProofError::IndexOutsideSubtree { .. } => "IndexOutsideSubtree",
            ProofError::SizesOutOfOrder { .. } => "SizesOutOfOrder",
            ProofError::EmptyOldTree => "EmptyOldTree",
            ProofError::InvalidSubtree { .. } => "InvalidSubtree",
            ProofError::SubtreeBeyondTree { .. } => "SubtreeBeyondTree",
            ProofError::HashLength { .. } => "HashLength",
            ProofError::ProofLength { .. } => "ProofLength",
            ProofError::RootMismatch { .. } => "RootMismatch",
            ProofError::OldRootMismatch { .. } => "OldRootMismatch",
            ProofError::RootsDiffer { .. } => "RootsDiffer",
            ProofError::EmptySubtreeRoot => "EmptySubtreeRoot",
        }
    }

    /// The errors a vector allows, from how transparency-dev/merkle's `cmd/proofgen` made it:
    /// `group` is its directory (`additional`, `single-entry`, `errors`, or a numbered one of
    /// tampered real proofs), `desc` its description less the " - subtree" of the subtree
    /// variants. Where tampering moves a size or an index, what breaks first depends on the
    /// tree, and every error that can is listed.
    fn expected_errors(kind: Kind, group: &str, desc: &str) -> &'static [&'static str] {
        const MOVED: &[&str] = &[
            "ProofLength",
            "RootMismatch",
            "OldRootMismatch",
            "IndexOutOfRange",
            "IndexOutsideSubtree",
            "InvalidSubtree",
            "SizesOutOfOrder",
            "SubtreeBeyondTree",
            "EmptyOldTree",
        ];
        const INDEX: &[&str] = &["IndexOutOfRange", "IndexOutsideSubtree", "InvalidSubtree"];
        let d = desc.strip_suffix(" - subtree").unwrap_or(desc);
        let subtree = matches!(kind, Kind::SubtreeInclusion | Kind::SubtreeConsistency);
        match (group, d) {
            // A leaf index, tree size, old size or subtree end moved by one or two, or doubled
            // or halved.
            (_, d) if d.starts_with("leafIdx") || d.starts_with("treeSize") => MOVED,
            (_, d) if d.starts_with("size1 ") && d.contains('@') => MOVED,
            (_, d) if d.starts_with("size2 ") && d.contains('@') => MOVED,
            // Right shape, wrong hash.
            (_, d) if d.starts_with("modified proof") => &["RootMismatch", "OldRootMismatch"],
            ("corrupted", "random root" | "empty root" | "swapped roots") => {
                &["RootMismatch", "OldRootMismatch"]
            }
            // "WrongLeaf" and "WrongRoot" are 9 bytes.
            ("corrupted", "wrong leaf" | "wrong root1" | "wrong root2") => &["HashLength"],
            // A hash too many or too few.
            (
                "corrupted",
                "trailing garbage" | "preceding garbage" | "trailing root" | "preceding root"
                | "trailing root1" | "preceding root1" | "trailing root2" | "preceding root2"
                | "preceding proof @0" | "removed component" | "inserted component"
                | "truncated proof" | "empty proof",
            ) => &["ProofLength"],
            ("corrupted" | "errors", "invalid subtree") => &["InvalidSubtree"],
            // One leaf, empty hashes (0 bytes) where the leaf or root belongs.
            ("single-entry", "empty leaf" | "empty root" | "empty root and leaf") => {
                &["HashLength"]
            }
            // Leaf index and size (0, 0), (0, 1), (1, 0), (2, 1) with an empty root, an empty
            // leaf, or the empty tree's root: only (0, 1) is a tree with that leaf in it.
            ("additional", "random leaf" | "empty root") => &[
                "HashLength",
                "IndexOutOfRange",
                "IndexOutsideSubtree",
                "InvalidSubtree",
            ],
            ("additional", "empty root and random leaf") => &[
                "RootMismatch",
                "IndexOutOfRange",
                "IndexOutsideSubtree",
                "InvalidSubtree",
            ],
            // Subtree inclusion: the index outside the subtree, or no subtree at all.
            ("errors", "everything zero" | "start equals end" | "oob left" | "oob right")
            | ("errors", "oob right 2") => &["IndexOutsideSubtree"],
            ("errors", "start larger than end" | "invalid large subtree") => INDEX,
            // Plain consistency from the empty tree is refused whatever else is wrong.
            (
                "additional",
                "sizes are equal (zero) but roots are not"
                | "sizes are equal (zero) and proof is empty"
                | "size1 is zero and does not equal size2"
                | "roots do not match and sizes are zero"
                | "sizes match but proof is not empty and sizes are zero"
                | "size1 is zero and size2 is not zero"
                | "consistency check on empty tree (size1 is zero) is useless",
            ) if !subtree => &["EmptyOldTree"],
            // The empty subtree: its root must be the empty tree's, its proof empty.
            (
                "additional",
                "sizes are equal (zero) but roots are not"
                | "sizes are equal (zero) and proof is empty"
                | "size1 is zero and does not equal size2",
            ) => &["EmptySubtreeRoot"],
            ("additional", d) if d.starts_with("subtree is empty") && d.contains("not valid") => {
                &["EmptySubtreeRoot"]
            }
            (
                "additional",
                "sizes match but proof is not empty and sizes are zero"
                | "sizes match but proof is not empty and sizes are one"
                | "consistency check on empty tree (size1 is zero) is useless"
                | "sizes do not watch and proof is empty"
                | "sizes do not match and proof is empty",
            ) => &["ProofLength"],
            ("additional", d) if d.starts_with("subtree is empty") && d.contains("not empty") => {
                &["ProofLength"]
            }
            (
                "additional",
                "sizes are equal (one) but roots are not"
                | "roots do not match and sizes are one"
                | "roots do not not match and sizes are one",
            ) => &["RootsDiffer"],
            ("additional", "size1 is greater than size2" | "size1 is greater than size2 again") => {
                if subtree {
                    &["SubtreeBeyondTree"]
                } else {
                    &["SizesOutOfOrder"]
                }
            }
            ("additional", d) if d.starts_with("invalid subtree") => &["InvalidSubtree"],
            _ => &[],
        }
    }

    /// Every transparency-dev/merkle vector: 98 inclusion, 98 consistency, 204 subtree
    /// inclusion and 118 subtree consistency. Each verifies exactly when it should; each
    /// failure is one of the errors its description allows; each happy path's proof is the one
    /// this module produces from the same tree.
    #[test]
    fn transparency_dev_vectors() {
        let (_, leaves) = rfc6962_tree();
        let base = fixtures().join("merkle-transparency-dev/testdata");
        let mut counts: BTreeMap<(Kind, bool), usize> = BTreeMap::new();
        let mut produced: BTreeMap<Kind, usize> = BTreeMap::new();
        let mut unexpected = Vec::new();
        for (dir, kind) in [
            ("inclusion", Kind::Inclusion),
            ("consistency", Kind::Consistency),
            ("subtreeinclusion", Kind::SubtreeInclusion),
            ("subtreeconsistency", Kind::SubtreeConsistency),
        ] {
            for path in json_files(&base.join(dir)) {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let want_err = v["wantErr"].as_bool().unwrap();
                let desc = v["desc"].as_str().unwrap();
                let name = path.strip_prefix(&base).unwrap().display().to_string();
                match run_vector(kind, &v) {
                    Ok(()) => {
                        assert!(!want_err, "{name} ({desc}) verified but must not");
                        if !v["proof"].as_array().is_none_or(Vec::is_empty) {
                            let want: Vec<Vec<u8>> =
                                v["proof"].as_array().unwrap().iter().map(b64).collect();
                            let got = produce(kind, &v, &leaves);
                            assert_eq!(
                                got.iter().map(|h| h.to_vec()).collect::<Vec<_>>(),
                                want,
                                "{name}: produced proof differs"
                            );
                            *produced.entry(kind).or_default() += 1;
                        }
                    }
                    Err(e) => {
                        assert!(want_err, "{name} ({desc}) must verify: {e}");
                        let group = match name.split('/').nth(1).unwrap() {
                            g @ ("additional" | "single-entry" | "errors") => g,
                            _ => "corrupted",
                        };
                        let allowed = expected_errors(kind, group, desc);
                        if !allowed.contains(&variant(&e)) {
                            unexpected.push(format!("{name} ({desc}): {}", variant(&e)));
                        }
                        // Messages are lowercase and end without a period.
                        let msg = e.to_string();
                        assert!(!msg.ends_with('.') && !msg.chars().next().unwrap().is_uppercase());
                    }
                }
                *counts.entry((kind, want_err)).or_default() += 1;
            }
        }
        assert!(
            unexpected.is_empty(),
            "errors their descriptions do not allow:\n{}",
            unexpected.join("\n")
        );
        let total =
            |k| counts.get(&(k, false)).unwrap_or(&0) + counts.get(&(k, true)).unwrap_or(&0);
        assert_eq!(total(Kind::Inclusion), 98);
        assert_eq!(total(Kind::Consistency), 98);
        assert_eq!(total(Kind::SubtreeInclusion), 204);
        assert_eq!(total(Kind::SubtreeConsistency), 118);
        assert_eq!(counts.values().sum::<usize>(), 518);
        // Happy paths with a non-empty proof: each kind's first is a one-leaf tree (or, for
        // consistency, an old size equal to the new), whose proof is empty.
        assert_eq!(
            produced.into_iter().collect::<Vec<_>>(),
            [
                (Kind::Inclusion, 4),
                (Kind::Consistency, 4),
                (Kind::SubtreeInclusion, 8),
                (Kind::SubtreeConsistency, 4)
            ]
        );
        eprintln!("transparency-dev vectors (kind, wantErr) -> count: {counts:?}");
    }

    fn json_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn requests_that_make_no_sense_are_errors() {
        let leaves: Vec<Hash> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
        let src = &mut LeafHashes(&leaves);
        assert_eq!(
            inclusion_proof(5, 5, src).unwrap_err().to_string(),
            "leaf index 5 is outside a tree of size 5"
        );
        assert!(matches!(
            consistency_proof(0, 5, src),
            Err(ProveError::Proof(ProofError::EmptyOldTree))
        ));
        assert!(matches!(
            consistency_proof(4, 3, src),
            Err(ProveError::Proof(ProofError::SizesOutOfOrder {
                old: 4,
                new: 3
            }))
        ));
        assert_eq!(consistency_proof(5, 5, src).unwrap(), Vec::<Hash>::new());
        assert!(matches!(
            subtree_hash(1, 3, src),
            Err(ProveError::Proof(ProofError::InvalidSubtree {
                start: 1,
                end: 3
            }))
        ));
        // A source that runs out says where.
        match inclusion_proof(0, 9, src) {
            Err(ProveError::Source {
                level,
                index,
                source,
            }) => {
                assert_eq!((level, index), (2, 1));
                assert_eq!(source.held, 5);
            }
            other => panic!("{other:?}"),
        }
        // A closure is a source too, and its error comes back.
        let mut failing = |level: u8, index: u64| -> Result<Hash, String> {
            Err(format!("no tile for {level}/{index}"))
        };
        match inclusion_proof(2, 4, &mut failing) {
            Err(ProveError::Source { source, .. }) => assert_eq!(source, "no tile for 0/3"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let leaves: Vec<Hash> = (0u8..6).map(|i| leaf_hash(&[i])).collect();
        let r = root(&leaves);
        let proof = inclusion_proof(2, 6, &mut LeafHashes(&leaves)).unwrap();
        verify_inclusion(2, 6, &leaves[2], &proof, &r).unwrap();
        assert_eq!(
            verify_inclusion(2, 6, &leaves[2][..31], &proof, &r),
            Err(ProofError::HashLength {
                role: HashRole::LeafHash,
                len: 31
            })
        );
        let mut short = proof.iter().map(|h| h.to_vec()).collect::<Vec<_>>();
        short[1].pop();
        assert_eq!(
            verify_inclusion(2, 6, &leaves[2], &short, &r)
                .unwrap_err()
                .to_string(),
            "the proof hash 1 is 31 bytes, a SHA-256 hash is 32"
        );
        assert_eq!(
            verify_inclusion(2, 6, &leaves[2], &proof[1..], &r),
            Err(ProofError::ProofLength { got: 2, want: 3 })
        );
        let wrong = verify_inclusion(2, 6, &leaves[3], &proof, &r).unwrap_err();
        assert!(matches!(wrong, ProofError::RootMismatch { .. }));
        assert!(wrong.to_string().starts_with("the proof leads to root "));
        let old = root(&leaves[..4]);
        let cproof = consistency_proof(4, 6, &mut LeafHashes(&leaves)).unwrap();
        verify_consistency(4, 6, &old, &r, &cproof).unwrap();
        assert_eq!(
            verify_consistency(4, 6, &old, &r[..4], &cproof),
            Err(ProofError::HashLength {
                role: HashRole::Root,
                len: 4
            })
        );
        assert_eq!(
            verify_consistency(4, 6, &r, &r, &cproof),
            Err(ProofError::RootMismatch {
                computed: node_hash(&r, &cproof[0])
            })
        );
        // Old size 3 is not a power of two: the proof rebuilds the old root, and a wrong one
        // is named as such.
        let cproof = consistency_proof(3, 6, &mut LeafHashes(&leaves)).unwrap();
        assert!(matches!(
            verify_consistency(3, 6, &old, &r, &cproof),
            Err(ProofError::OldRootMismatch { .. })
        ));
    }

    /// Leaf hashes of `n` distinct entries.
    fn tree(n: usize) -> Vec<Hash> {
        (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// Some way of spoiling a proof; each must make verification fail.
    #[derive(Debug, Clone)]
    enum Tamper {
        FlipBit { at: usize, bit: usize },
        Drop { at: usize },
        Insert { at: usize },
        Duplicate { at: usize },
        Swap { a: usize, b: usize },
    }

    fn tamper_strategy() -> impl Strategy<Value = Tamper> {
        prop_oneof![
            (any::<usize>(), 0..256usize).prop_map(|(at, bit)| Tamper::FlipBit { at, bit }),
            any::<usize>().prop_map(|at| Tamper::Drop { at }),
            any::<usize>().prop_map(|at| Tamper::Insert { at }),
            any::<usize>().prop_map(|at| Tamper::Duplicate { at }),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::Swap { a, b }),
        ]
    }

    /// Applies `t` to `proof`; `None` if it leaves the proof as it was.
    fn apply(t: &Tamper, proof: &[Hash]) -> Option<Vec<Hash>> {
        let mut p = proof.to_vec();
        let n = p.len();
        match *t {
            Tamper::FlipBit { at, bit } if n > 0 => p[at % n][bit / 8] ^= 1 << (bit % 8),
            Tamper::Drop { at } if n > 0 => {
                p.remove(at % n);
            }
            Tamper::Insert { at } => p.insert(at % (n + 1), leaf_hash(b"inserted")),
            Tamper::Duplicate { at } if n > 0 => p.insert(at % n, p[at % n]),
            Tamper::Swap { a, b } if n > 1 => p.swap(a % n, b % n),
            _ => return None,
        }
        (p != proof).then_some(p)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// append -> prove -> verify: every leaf's inclusion proof verifies against the root,
        /// and a tampered proof, leaf, index or root does not.
        #[test]
        fn inclusion_proofs_verify_and_tampering_fails(
            n in 1usize..300,
            pick in any::<u64>(),
            other in any::<u64>(),
            t in tamper_strategy(),
        ) {
            let leaves = tree(n);
            let r = root(&leaves);
            let size = n as u64;
            let index = pick % size;
            let proof = inclusion_proof(index, size, &mut LeafHashes(&leaves)).unwrap();
            let leaf = leaves[index as usize];
            prop_assert_eq!(verify_inclusion(index, size, &leaf, &proof, &r), Ok(()));
            prop_assert_eq!(root_from_inclusion(index, size, &leaf, &proof), Ok(r));
            if let Some(bad) = apply(&t, &proof) {
                prop_assert!(verify_inclusion(index, size, &leaf, &bad, &r).is_err());
            }
            let other_index = other % size;
            if other_index != index {
                prop_assert!(verify_inclusion(other_index, size, &leaf, &proof, &r).is_err());
                let other_leaf = leaves[other_index as usize];
                prop_assert!(verify_inclusion(index, size, &other_leaf, &proof, &r).is_err());
            }
            let mut bad_root = r;
            bad_root[(pick % 32) as usize] ^= 0x80;
            prop_assert!(verify_inclusion(index, size, &leaf, &proof, &bad_root).is_err());
            prop_assert!(verify_inclusion(size, size, &leaf, &proof, &r).is_err());
        }

        /// Every old size's consistency proof verifies, and a tampered proof or root does not.
        #[test]
        fn consistency_proofs_verify_and_tampering_fails(
            n in 1usize..300,
            pick in any::<u64>(),
            t in tamper_strategy(),
            flip in 0usize..256,
        ) {
            let leaves = tree(n);
            let new_size = n as u64;
            let old_size = pick % new_size + 1;
            let new_root = root(&leaves);
            let old_root = root(&leaves[..old_size as usize]);
            let proof = consistency_proof(old_size, new_size, &mut LeafHashes(&leaves)).unwrap();
            prop_assert_eq!(
                verify_consistency(old_size, new_size, &old_root, &new_root, &proof),
                Ok(())
            );
            // The same proof is the subtree consistency proof of [0, old_size).
            prop_assert_eq!(
                subtree_consistency_proof(0, old_size, new_size, &mut LeafHashes(&leaves)),
                Ok(proof.clone())
            );
            if let Some(bad) = apply(&t, &proof) {
                prop_assert!(
                    verify_consistency(old_size, new_size, &old_root, &new_root, &bad).is_err()
                );
            }
            let mut bad_old = old_root;
            bad_old[flip / 8] ^= 1 << (flip % 8);
            let mut bad_new = new_root;
            bad_new[flip / 8] ^= 1 << (flip % 8);
            prop_assert!(verify_consistency(old_size, new_size, &bad_old, &new_root, &proof).is_err());
            prop_assert!(verify_consistency(old_size, new_size, &old_root, &bad_new, &proof).is_err());
            if old_size < new_size {
                // Another old size with the same proof and the real roots fails.
                let other = old_size % (new_size - 1) + 1;
                if other != old_size {
                    let other_root = root(&leaves[..other as usize]);
                    prop_assert!(
                        verify_consistency(other, new_size, &other_root, &new_root, &proof).is_err()
                    );
                }
            }
        }

        /// Subtree consistency (Merkle Tree Certificates): every aligned subtree of the tree
        /// proves, and tampering fails; subtree inclusion matches plain inclusion.
        #[test]
        fn subtree_proofs_verify_and_tampering_fails(
            n in 1usize..300,
            level in 0u32..9,
            pick in any::<u64>(),
            cut in any::<u64>(),
            t in tamper_strategy(),
        ) {
            let leaves = tree(n);
            let size = n as u64;
            let width = 1u64 << level;
            let slots = size.div_ceil(width);
            let start = (pick % slots) * width;
            // A subtree may be cut short on the right, down to a single leaf.
            let full = (start + width).min(size) - start;
            let end = start + 1 + cut % full;
            let sub_root = root(&leaves[start as usize..end as usize]);
            let r = root(&leaves);
            prop_assert_eq!(
                subtree_hash(start, end, &mut LeafHashes(&leaves)),
                Ok(sub_root)
            );
            let proof =
                subtree_consistency_proof(start, end, size, &mut LeafHashes(&leaves)).unwrap();
            prop_assert_eq!(
                verify_subtree_consistency(start, end, size, &proof, &sub_root, &r),
                Ok(())
            );
            if let Some(bad) = apply(&t, &proof) {
                prop_assert!(
                    verify_subtree_consistency(start, end, size, &bad, &sub_root, &r).is_err()
                );
            }
            let mut bad_sub = sub_root;
            bad_sub[0] ^= 1;
            prop_assert!(verify_subtree_consistency(start, end, size, &proof, &bad_sub, &r).is_err());
            let index = start + pick % (end - start);
            let sub_leaves = &leaves[start as usize..end as usize];
            let iproof =
                inclusion_proof(index - start, end - start, &mut LeafHashes(sub_leaves)).unwrap();
            prop_assert_eq!(
                verify_subtree_inclusion(index, start, end, &leaves[index as usize], &iproof, &sub_root),
                Ok(())
            );
        }
    }
}
