//! A hash map split into many small ones, so that it grows without long pauses.
//!
//! A `HashMap` doubles when full and moves every entry at once: for the rules' indexes, which
//! grow with the log, that is tens of milliseconds at a hundred thousand entries (rehashing,
//! and faulting in the new table's pages) and seconds at tens of millions, while the state's
//! lock is held and every submission waits. Here each key belongs to one of [`SHARDS`] maps by
//! its hash, each shard doubles on its own, and a pause moves one shard's entries: a 256th.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::hash::{BuildHasher, Hash};

/// How many maps the keys are spread over.
pub const SHARDS: usize = 256;

pub struct ShardedMap<K, V> {
    /// Picks a key's shard; each shard hashes with its own keys, so the two are independent.
    pick: RandomState,
    shards: Box<[HashMap<K, V>]>,
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    pub fn new() -> ShardedMap<K, V> {
        ShardedMap {
            pick: RandomState::new(),
            shards: (0..SHARDS).map(|_| HashMap::new()).collect(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        // The top byte of the hash: SHARDS is 256.
        (self.pick.hash_one(key) >> 56) as usize
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shards[self.shard(key)].get(key)
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.shard(key);
        self.shards[shard].get_mut(key)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let shard = self.shard(&key);
        self.shards[shard].insert(key, value)
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.shard(key);
        self.shards[shard].remove(key)
    }

    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        let shard = self.shard(&key);
        self.shards[shard].entry(key)
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(HashMap::iter)
    }
}

impl<K: Hash + Eq, V> Default for ShardedMap<K, V> {
    fn default() -> Self {
        ShardedMap::new()
    }
}

/// The same entries, whichever shards each map put them in.
impl<K: Hash + Eq, V: PartialEq> PartialEq for ShardedMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<K: Hash + Eq + std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for ShardedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_one_map() {
        let mut m = ShardedMap::new();
        let mut reference = HashMap::new();
        for i in 0..10_000u32 {
            let k = format!("sha256:{i:064x}");
            assert_eq!(m.insert(k.clone(), i), reference.insert(k, i));
        }
        for i in (0..10_000u32).step_by(3) {
            let k = format!("sha256:{i:064x}");
            assert_eq!(m.remove(k.as_str()), reference.remove(k.as_str()));
        }
        *m.entry("extra".to_owned()).or_default() += 7;
        *reference.entry("extra".to_owned()).or_default() += 7;
        let one = format!("sha256:{:064x}", 1);
        *m.get_mut(one.as_str()).unwrap() += 1;
        *reference.get_mut(one.as_str()).unwrap() += 1;
        assert_eq!(m.len(), reference.len());
        for (k, v) in &reference {
            assert_eq!(m.get(k.as_str()), Some(v));
            assert!(m.contains_key(k.as_str()));
        }
        assert!(!m.contains_key("missing"));
        // Equal to another built in another order, with other shard picks.
        let mut other = ShardedMap::new();
        let mut all: Vec<_> = reference.iter().collect();
        all.reverse();
        for (k, v) in all {
            other.insert(k.clone(), *v);
        }
        assert_eq!(m, other);
        other.insert("one more".into(), 1);
        assert_ne!(m, other);
        // The keys spread over the shards.
        assert!(m.shards.iter().all(|s| !s.is_empty()));
    }
}
