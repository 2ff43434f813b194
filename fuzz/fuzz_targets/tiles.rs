//! Fuzzes the C2SP tlog-tiles formats of `ledger::tiles`: a parsed tile path prints back to
//! exactly its text, and a path made from numbers parses back and spans the leaves its level and
//! width say; an entry bundle re-encodes to exactly its bytes, and entries encoded parse back;
//! a hash tile parses only at 32 bytes a hash; a subtree asked of a tree maps to a tile that
//! exists at that size and covers it; and proofs read through `tiles_needed` and `TileSource`
//! from tiles built over leaves from the input are the ones the leaves give.
#![no_main]

use std::collections::HashMap;

use ledger::tiles::{self, MAX_LEVEL, RecordingSource, TileError, TileKind, TilePath, TileSource};
use libfuzzer_sys::fuzz_target;
use verify::merkle::{self, HASH_LEN, Hash, LeafHashes};

fuzz_target!(|data: &[u8]| {
    check_path(data);
    check_built_path(data);
    check_bundle(data);
    check_encoded_bundle(data);
    check_hash_tile(data);
    check_tiles_needed(data);
    check_proofs_from_tiles(data);
});

fn check_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match TilePath::parse(text) {
        Ok(tile) => {
            assert_eq!(tile.to_string(), text);
            assert_eq!(TilePath::parse(&tile.to_string()), Ok(tile));
            assert!((1..=256).contains(&tile.width()));
            assert!(tile.kind().level() <= MAX_LEVEL);
            assert_eq!(tile.is_full(), !text.contains(".p/"));
            assert_eq!(
                TilePath::new(tile.kind(), tile.index(), tile.width()),
                Ok(tile)
            );
        }
        Err(TileError::Path { path, .. }) => assert_eq!(path, text),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

/// Reads big-endian integers off the input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = self.0.len().min(n);
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }

    fn u64(&mut self) -> u64 {
        self.bytes(8)
            .iter()
            .fold(0, |acc, &b| acc << 8 | u64::from(b))
    }

    fn u16(&mut self) -> u16 {
        self.bytes(2)
            .iter()
            .fold(0, |acc, &b| acc << 8 | u16::from(b))
    }

    fn byte(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }
}

fn check_built_path(data: &[u8]) {
    let mut input = Input(data);
    let k = input.byte();
    let kind = if k == 0xff {
        TileKind::Entries
    } else {
        TileKind::Hashes { level: k }
    };
    let (index, width) = (input.u64(), input.u16());
    let Ok(tile) = TilePath::new(kind, index, width) else {
        assert!(k > MAX_LEVEL && k != 0xff || width == 0 || width > 256);
        return;
    };
    assert_eq!(TilePath::parse(&tile.to_string()), Ok(tile));
    let Some(range) = tile.leaf_range() else {
        return;
    };
    // The tile spans width << 8L leaves, and exists with this width at the size it ends at.
    let level = u32::from(kind.level());
    assert!(level < 8);
    assert_eq!(range.end - range.start, u64::from(width) << (8 * level));
    assert_eq!(range.start, index << 8 << (8 * level));
    assert_eq!(TilePath::at_size(kind, index, range.end), Some(tile));
    assert_eq!(
        TilePath::at_size(kind, index, range.end - 1).map(|t| t.width()),
        (width > 1).then(|| width - 1)
    );
}

fn check_bundle(data: &[u8]) {
    match tiles::parse_bundle(data) {
        Ok(entries) => {
            assert!((1..=256).contains(&entries.len()));
            assert_eq!(tiles::encode_bundle(entries.iter().copied()).unwrap(), data);
            let hashes = tiles::leaf_hashes_of_bundle(data).unwrap();
            assert_eq!(hashes.len(), entries.len());
            assert_eq!(
                hashes.first(),
                entries.first().map(|e| merkle::leaf_hash(e)).as_ref()
            );
        }
        Err(e) => assert_eq!(tiles::leaf_hashes_of_bundle(data), Err(e)),
    }
}

/// The input cut at 0xff bytes, encoded as a bundle, parses back to the same entries.
fn check_encoded_bundle(data: &[u8]) {
    let entries: Vec<&[u8]> = data.split(|&b| b == 0xff).collect();
    match tiles::encode_bundle(entries.iter().copied()) {
        Ok(bundle) => {
            // Each 0xff became two length bytes, and the first entry has a length too.
            assert_eq!(bundle.len(), data.len() + entries.len() + 1);
            assert_eq!(tiles::parse_bundle(&bundle).unwrap(), entries);
        }
        Err(TileError::TooManyEntries) => assert!(entries.len() > 256),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

fn check_hash_tile(data: &[u8]) {
    let mut input = Input(data);
    let width = input.u16();
    let bytes = input.0;
    match tiles::parse_hash_tile(bytes, width) {
        Ok(hashes) => {
            assert_eq!(bytes.len(), usize::from(width) * HASH_LEN);
            assert_eq!(hashes.concat(), bytes);
        }
        Err(TileError::Width { width: w }) => assert!(w == width && (width == 0 || width > 256)),
        Err(TileError::HashTileLength { width: w, len }) => {
            assert_eq!((w, len), (width, bytes.len()));
            assert_ne!(len, usize::from(width) * HASH_LEN);
        }
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

fn check_tiles_needed(data: &[u8]) {
    let mut input = Input(data);
    let (level, index, size) = (input.byte(), input.u64(), input.u64());
    let inside = level < 64 && (u128::from(index) + 1) << level <= u128::from(size);
    match tiles::tiles_needed(&[(level, index)], size) {
        Ok(needed) => {
            assert!(inside);
            let [tile] = needed[..] else {
                panic!("one subtree, {} tiles", needed.len());
            };
            assert_eq!(
                TilePath::at_size(tile.kind(), tile.index(), size),
                Some(tile)
            );
            assert_eq!(tile.kind().level(), level / 8);
            let range = tile
                .leaf_range()
                .expect("a tile of a tree is inside the largest");
            assert!(range.end <= size);
            assert!(range.start <= index << level && (index + 1) << level <= range.end);
        }
        Err(e) => {
            assert!(!inside);
            assert_eq!(
                e,
                TileError::BeyondTree {
                    level,
                    index,
                    tree_size: size
                }
            );
        }
    }
}

/// A tree of up to 319 leaves from the input: a root, an inclusion and a consistency proof
/// read from its tiles (level-0 tiles fetched as hashes or as entry bundles) equal the ones
/// its leaves give.
fn check_proofs_from_tiles(data: &[u8]) {
    let mut input = Input(data);
    // Mostly one partial tile (cheap); a quarter of the time a full tile and a level-1 tile.
    let size = match input.byte() {
        b @ 0..192 => u64::from(b % 64) + 1,
        b => 256 + u64::from(b % 64),
    };
    let index = input.u64() % size;
    let old = input.u64() % size + 1;
    let bundles = input.byte() & 1 == 1;
    // Short entries: hashing the whole input once per leaf would be most of the run.
    let salt = input.bytes(8).to_vec();
    let entries: Vec<Vec<u8>> = (0..size)
        .map(|i| [&salt[..], &i.to_be_bytes()].concat())
        .collect();
    let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
    let direct = &mut LeafHashes(&leaves);
    let want = (
        merkle::subtree_hash(0, size, direct).unwrap(),
        merkle::inclusion_proof(index, size, direct).unwrap(),
        merkle::consistency_proof(old, size, direct).unwrap(),
    );

    let mut recorder = RecordingSource::new();
    merkle::subtree_hash(0, size, &mut recorder).unwrap();
    merkle::inclusion_proof(index, size, &mut recorder).unwrap();
    merkle::consistency_proof(old, size, &mut recorder).unwrap();
    let needed = recorder.tiles_needed(size).unwrap();
    let mut source = TileSource::new(size);
    let mut fetched = HashMap::new();
    for tile in needed {
        let level = tile.kind().level();
        let (tile, bytes) = if bundles && level == 0 {
            let range = tile.leaf_range().unwrap();
            let part = &entries[range.start as usize..range.end as usize];
            let bundle = TilePath::new(TileKind::Entries, tile.index(), tile.width()).unwrap();
            (
                bundle,
                tiles::encode_bundle(part.iter().map(Vec::as_slice)).unwrap(),
            )
        } else {
            let bytes = tiles::hash_tile(level, tile.index(), tile.width(), direct).unwrap();
            (tile, bytes)
        };
        source.insert(tile, &bytes).unwrap();
        fetched.insert(tile, bytes);
    }
    let got = (
        merkle::subtree_hash(0, size, &mut source).unwrap(),
        merkle::inclusion_proof(index, size, &mut source).unwrap(),
        merkle::consistency_proof(old, size, &mut source).unwrap(),
    );
    assert_eq!(got, want);
    // A fetched tile with one bit flipped does not go in next to the real one.
    if let Some((&tile, bytes)) = fetched.iter().next() {
        let mut bad = bytes.clone();
        let at = usize::from(input.byte()) % bad.len();
        bad[at] ^= 1;
        assert!(source.insert(tile, &bad).is_err());
    }
}
