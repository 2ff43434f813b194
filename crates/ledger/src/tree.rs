//! The log's Merkle tree in memory: every perfect subtree's hash, level by level, so that a
//! proof or a tile is a handful of lookups. Two hashes per leaf (64 bytes), rebuilt from the
//! stored entries when the log opens.

use verify::merkle::{self, Hash, HashSource};

/// The hashes of every perfect subtree of the leaves appended so far.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    /// `levels[h][i]`: the hash of the perfect subtree of `2^h` leaves starting at `i << h`.
    levels: Vec<Vec<Hash>>,
}

/// A subtree that the tree does not (yet) hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the tree of {size} leaves has no subtree {index} at level {level}")]
pub struct NotInTree {
    pub level: u8,
    pub index: u64,
    pub size: u64,
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf hash, completing the perfect subtrees it closes.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            let n = row.len();
            if n % 2 == 1 {
                return;
            }
            hash = merkle::node_hash(&row[n - 2], &row[n - 1]);
            level += 1;
        }
    }

    /// The leaf hash of entry `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.get(0, index)
    }

    fn get(&self, level: u8, index: u64) -> Option<Hash> {
        let row = self.levels.get(usize::from(level))?;
        row.get(usize::try_from(index).ok()?).copied()
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, NotInTree> {
        self.check(size)?;
        merkle::subtree_hash(0, size, &mut self.source()).map_err(|e| match e {
            merkle::ProveError::Source { source, .. } => source,
            // [0, size) is a valid subtree for every size.
            merkle::ProveError::Proof(_) => unreachable!("the whole tree is a valid subtree"),
        })
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofRequestError> {
        self.check(size)?;
        Ok(merkle::inclusion_proof(index, size, &mut self.source())?)
    }

    /// The consistency proof from the tree of `old` leaves to the tree of `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofRequestError> {
        self.check(new)?;
        Ok(merkle::consistency_proof(old, new, &mut self.source())?)
    }

    /// The tree as a [`HashSource`] for `verify::merkle`'s proof builders and tiles.
    pub fn source(&self) -> TreeSource<'_> {
        TreeSource(self)
    }

    fn check(&self, size: u64) -> Result<(), NotInTree> {
        if size > self.size() {
            return Err(NotInTree {
                level: 0,
                index: size - 1,
                size: self.size(),
            });
        }
        Ok(())
    }
}

/// A [`Tree`] read as a [`HashSource`].
pub struct TreeSource<'a>(&'a Tree);

impl HashSource for TreeSource<'_> {
    type Error = NotInTree;

    fn subtree_hash(&mut self, level: u8, index: u64) -> Result<Hash, NotInTree> {
        self.0.get(level, index).ok_or(NotInTree {
            level,
            index,
            size: self.0.size(),
        })
    }
}

/// A proof that cannot be made: the sizes make no sense, or reach past the tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofRequestError {
    #[error(transparent)]
    Beyond(#[from] NotInTree),
    #[error(transparent)]
    Proof(#[from] merkle::ProofError),
}

impl From<merkle::ProveError<NotInTree>> for ProofRequestError {
    fn from(e: merkle::ProveError<NotInTree>) -> Self {
        match e {
            merkle::ProveError::Proof(p) => ProofRequestError::Proof(p),
            merkle::ProveError::Source { source, .. } => ProofRequestError::Beyond(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verify::merkle::{LeafHashes, leaf_hash, verify_consistency, verify_inclusion};

    #[test]
    fn agrees_with_the_reference_for_every_size_and_proof() {
        let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut tree = Tree::new();
        for (n, leaf) in leaves.iter().enumerate() {
            assert_eq!(tree.root(n as u64).unwrap(), merkle::root(&leaves[..n]));
            tree.push(*leaf);
        }
        let size = leaves.len() as u64;
        for s in 1..=size {
            let root = tree.root(s).unwrap();
            for i in 0..s {
                let proof = tree.inclusion_proof(i, s).unwrap();
                assert_eq!(
                    proof,
                    merkle::inclusion_proof(i, s, &mut LeafHashes(&leaves)).unwrap()
                );
                verify_inclusion(i, s, &leaves[i as usize], &proof, &root).unwrap();
            }
            for old in 1..=s {
                let proof = tree.consistency_proof(old, s).unwrap();
                verify_consistency(old, s, &tree.root(old).unwrap(), &root, &proof).unwrap();
            }
        }
        assert!(matches!(
            tree.inclusion_proof(0, size + 1),
            Err(ProofRequestError::Beyond(_))
        ));
        assert!(matches!(
            tree.inclusion_proof(size, size),
            Err(ProofRequestError::Proof(_))
        ));
    }
}
