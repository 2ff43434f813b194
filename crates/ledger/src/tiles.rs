//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>), sans-I/O: tile paths, entry bundles and
//! hash tiles; reading a log's Merkle tree from tiles a caller fetched ([`RecordingSource`] says
//! which, [`TileSource`] serves them to `verify::merkle`'s proof functions); and building hash
//! tiles from the log's own [`HashSource`].
//!
//! Geometry: the tile at level `L` and index `N` holds, in order, the hashes of the perfect
//! subtrees of `256^L` leaves with indexes `N * 256 ..` at tree level `8 * L`; a full tile holds
//! 256 of them, a partial one (the rightmost of its level) fewer. A perfect subtree at tree
//! level `8 * L + r` is the root of `2^r` consecutive hashes of one level-`L` tile. The entry
//! bundle of index `N` holds the entries whose leaf hashes are level-0 tile `N`.
//!
//! Nothing here trusts a tile: a hash read from tiles is only as good as the signed root the
//! caller compares what it computes with.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use verify::merkle::{self, HASH_LEN, Hash, HashSource};

/// The height of a tile: its hashes are the leaves of a perfect subtree of this height.
pub const TILE_HEIGHT: u8 = 8;
/// The hashes in a full tile, and the entries in a full bundle.
pub const TILE_WIDTH: u64 = 256;
/// The highest level a tile path may name. No tile above level 7 exists in a tree of at most
/// `u64::MAX` leaves, but the specification's paths go up to 63.
pub const MAX_LEVEL: u8 = 63;
/// The longest entry an entry bundle can hold (its length is a big-endian u16).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// The width of a full tile, as [`TilePath`] stores widths.
const FULL: u16 = TILE_WIDTH as u16;
/// The most three-digit groups of a tile index: `u64::MAX` has 20 digits.
const MAX_INDEX_GROUPS: usize = 7;

/// Everything that can be wrong with a tile path, a tile, or a request for hashes from tiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    #[error("{path:?} is not a tile path: {problem}")]
    Path { path: String, problem: PathProblem },
    #[error("tile level {level} is above the highest, {}", MAX_LEVEL)]
    Level { level: u8 },
    #[error("tile width {width} is not between 1 and {}", TILE_WIDTH)]
    Width { width: u16 },
    #[error("tile {tile} reaches past the largest possible tree")]
    BeyondLargestTree { tile: TilePath },
    #[error("an entry bundle holds at least one entry")]
    EmptyBundle,
    #[error("an entry bundle holds at most {} entries", TILE_WIDTH)]
    TooManyEntries,
    #[error(
        "entry {index} is {len} bytes, an entry bundle holds at most {}",
        MAX_ENTRY_LEN
    )]
    EntryTooLong { index: usize, len: usize },
    #[error("the entry bundle ends inside the length of entry {index}, at byte {offset}")]
    TruncatedLength { index: usize, offset: usize },
    #[error("entry {index} of the entry bundle is {len} bytes, but only {left} are left")]
    TruncatedEntry {
        index: usize,
        len: usize,
        left: usize,
    },
    #[error("entry bundle {tile} holds {entries} entries")]
    BundleWidth { tile: TilePath, entries: usize },
    #[error("a hash tile of width {width} is {} bytes, not {len}", usize::from(*.width) * HASH_LEN)]
    HashTileLength { width: u16, len: usize },
    #[error("subtree {index} at level {level} reaches past a tree of size {tree_size}")]
    BeyondTree {
        level: u8,
        index: u64,
        tree_size: u64,
    },
    #[error("tile {tile} is needed and not held")]
    MissingTile { tile: TilePath },
    #[error("tile {tile} is needed and only {held} of its hashes are held")]
    TileTooNarrow { tile: TilePath, held: usize },
    #[error("two versions of tile {tile} differ at hash {position}")]
    TileConflict { tile: TilePath, position: usize },
}

/// Which part of a tile path is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// It does not start with `tile/<L or entries>/`.
    Prefix,
    /// The level is not a decimal number from 0 to 63 without leading zeros.
    Level,
    /// The index is not in canonical three-digit groups, or is above `u64::MAX`.
    Index,
    /// The width after `.p/` is not a decimal number from 1 to 255 without leading zeros.
    Width,
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathProblem::Prefix => "it must begin with tile/<level>/ or tile/entries/",
            PathProblem::Level => "the level must be 0 to 63 without leading zeros",
            PathProblem::Index => {
                "the index must be zero-padded three-digit groups, all but the last prefixed \
                 by x, without a leading zero group, at most 2^64 - 1"
            }
            PathProblem::Width => "the partial width must be 1 to 255 without leading zeros",
        })
    }
}

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Merkle tree hashes at tree level `8 * level`.
    Hashes { level: u8 },
    /// An entry bundle: the entries whose leaf hashes are the level-0 tile of the same index.
    Entries,
}

impl TileKind {
    /// The tile level whose hashes the tile holds or hashes to (0 for entries).
    pub fn level(self) -> u8 {
        match self {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        }
    }
}

/// A tile's path below the log's prefix: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
/// Its level is at most [`MAX_LEVEL`] and its width 1 to 256 (256: a full tile, no `.p/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TilePath {
    kind: TileKind,
    index: u64,
    width: u16,
}

impl TilePath {
    /// A tile of level at most [`MAX_LEVEL`] and width 1 to 256.
    pub fn new(kind: TileKind, index: u64, width: u16) -> Result<TilePath, TileError> {
        if kind.level() > MAX_LEVEL {
            return Err(TileError::Level {
                level: kind.level(),
            });
        }
        if width == 0 || width > FULL {
            return Err(TileError::Width { width });
        }
        Ok(TilePath { kind, index, width })
    }

    /// The full tile (or bundle) of this index.
    pub fn full(kind: TileKind, index: u64) -> Result<TilePath, TileError> {
        TilePath::new(kind, index, FULL)
    }

    /// The tile of this kind and index as a tree of `tree_size` leaves has it, with its width
    /// then; `None` if the tree has no such tile yet.
    pub fn at_size(kind: TileKind, index: u64, tree_size: u64) -> Option<TilePath> {
        let width = width_at(kind.level(), index, tree_size)?;
        Some(TilePath { kind, index, width })
    }

    /// Parses a tile path strictly: only the canonical form, the one [`Display`](fmt::Display)
    /// prints, is accepted.
    pub fn parse(path: &str) -> Result<TilePath, TileError> {
        let bad = |problem| TileError::Path {
            path: path.to_owned(),
            problem,
        };
        let (kind, rest) = path
            .strip_prefix("tile/")
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(|| bad(PathProblem::Prefix))?;
        let kind = if kind == "entries" {
            TileKind::Entries
        } else {
            let level =
                parse_decimal(kind, MAX_LEVEL.into()).ok_or_else(|| bad(PathProblem::Level))?;
            TileKind::Hashes {
                // At most MAX_LEVEL, so it fits.
                level: level as u8,
            }
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let width = parse_decimal(width, u64::from(FULL) - 1)
                    .filter(|&w| w > 0)
                    .ok_or_else(|| bad(PathProblem::Width))?;
                // Below FULL, so it fits.
                (index, width as u16)
            }
            None => (rest, FULL),
        };
        let index = parse_index(index).ok_or_else(|| bad(PathProblem::Index))?;
        Ok(TilePath { kind, index, width })
    }

    pub fn kind(&self) -> TileKind {
        self.kind
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    /// How many hashes (or entries) the tile holds, 1 to 256.
    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn is_full(&self) -> bool {
        self.width == FULL
    }

    /// The entries whose hashes the tile's hashes cover (a bundle: the entries it holds);
    /// `None` if that reaches past the largest possible tree, of `u64::MAX` leaves.
    pub fn leaf_range(&self) -> Option<Range<u64>> {
        let shift = u32::from(self.kind.level()) * u32::from(TILE_HEIGHT);
        let first = u128::from(self.index) * u128::from(TILE_WIDTH);
        let end = first + u128::from(self.width);
        if shift >= u64::BITS || end > u128::from(u64::MAX >> shift) {
            return None;
        }
        // first < end <= u64::MAX >> shift, so neither the casts nor the shifts overflow.
        Some((first as u64) << shift..(end as u64) << shift)
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes { level } => write!(f, "tile/{level}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        let mut groups = [0u64; MAX_INDEX_GROUPS];
        let mut len = 0;
        let mut rest = self.index;
        loop {
            groups[len] = rest % 1000;
            len += 1;
            rest /= 1000;
            if rest == 0 {
                break;
            }
        }
        for group in groups[1..len].iter().rev() {
            write!(f, "x{group:03}/")?;
        }
        write!(f, "{:03}", groups[0])?;
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

impl FromStr for TilePath {
    type Err = TileError;

    fn from_str(s: &str) -> Result<TilePath, TileError> {
        TilePath::parse(s)
    }
}

/// A decimal number of at most three ASCII digits without leading zeros, up to `max`.
fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    let digits = (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok().filter(|&n| n <= max)
}

/// A tile index in canonical form: three-digit groups, all but the last prefixed by `x`, the
/// first not zero unless it is the only one.
fn parse_index(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.splitn(MAX_INDEX_GROUPS + 1, '/').collect();
    if groups.len() > MAX_INDEX_GROUPS {
        return None;
    }
    let last = groups.len() - 1;
    let mut index: u64 = 0;
    for (i, group) in groups.iter().enumerate() {
        let digits = if i < last {
            group.strip_prefix('x')?
        } else {
            group
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u64 = digits.parse().ok()?;
        if i == 0 && last > 0 && value == 0 {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(value)?;
    }
    Some(index)
}

/// The width of tile `index` at `level` (or, at level 0, of entry bundle `index`) in a tree of
/// `tree_size` leaves: `None` if the tree has no such tile yet, 256 if it is full.
pub fn width_at(level: u8, index: u64, tree_size: u64) -> Option<u16> {
    let hashes = hashes_at(level, tree_size);
    let before = index.checked_mul(TILE_WIDTH)?;
    let width = hashes.checked_sub(before)?.min(TILE_WIDTH);
    // At most TILE_WIDTH, so it fits.
    (width > 0).then_some(width as u16)
}

/// How many perfect subtrees at tree level `8 * level` a tree of `tree_size` leaves holds: the
/// hashes of that tile level.
fn hashes_at(level: u8, tree_size: u64) -> u64 {
    tree_size
        .checked_shr(u32::from(level) * u32::from(TILE_HEIGHT))
        .unwrap_or(0)
}

/// Every tile of a tree of `tree_size` leaves: the hash tiles level by level, then the entry
/// bundles, each with its width at that size.
pub fn tiles_for_size(tree_size: u64) -> impl Iterator<Item = TilePath> {
    let level_tiles = move |kind: TileKind| {
        let hashes = hashes_at(kind.level(), tree_size);
        (0..hashes.div_ceil(TILE_WIDTH)).filter_map(move |n| TilePath::at_size(kind, n, tree_size))
    };
    (0..=MAX_LEVEL)
        .map(|level| TileKind::Hashes { level })
        .chain([TileKind::Entries])
        .flat_map(level_tiles)
}

/// The partial tiles of a tree of `tree_size` leaves: what a log must serve for a checkpoint of
/// that size besides full tiles.
pub fn partial_tiles(tree_size: u64) -> Vec<TilePath> {
    (0..=MAX_LEVEL)
        .map(|level| TileKind::Hashes { level })
        .chain([TileKind::Entries])
        .filter_map(|kind| {
            let last = hashes_at(kind.level(), tree_size) / TILE_WIDTH;
            TilePath::at_size(kind, last, tree_size)
        })
        .collect()
}

/// Encodes entries as an entry bundle: each a big-endian u16 length, then its bytes. A bundle
/// holds 1 to 256 entries of at most 65535 bytes.
pub fn encode_bundle<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        if index as u64 == TILE_WIDTH {
            return Err(TileError::TooManyEntries);
        }
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLong {
            index,
            len: entry.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    // Every entry, even an empty one, adds its length.
    if out.is_empty() {
        return Err(TileError::EmptyBundle);
    }
    Ok(out)
}

/// Parses an entry bundle strictly: 1 to 256 entries, each length followed by that many bytes,
/// nothing left over. The caller checks the count against the bundle's width.
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    if bytes.is_empty() {
        return Err(TileError::EmptyBundle);
    }
    let mut entries = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let index = entries.len();
        if index as u64 == TILE_WIDTH {
            return Err(TileError::TooManyEntries);
        }
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(TileError::TruncatedLength {
                index,
                offset: bytes.len() - rest.len(),
            });
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(TileError::TruncatedEntry {
                index,
                len,
                left: tail.len(),
            });
        }
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
    }
    Ok(entries)
}

/// The leaf hashes of an entry bundle's entries: the level-0 tile of the same index and width.
pub fn leaf_hashes_of_bundle(bytes: &[u8]) -> Result<Vec<Hash>, TileError> {
    Ok(parse_bundle(bytes)?
        .into_iter()
        .map(merkle::leaf_hash)
        .collect())
}

/// Parses a hash tile of `width` hashes: exactly `32 * width` bytes.
pub fn parse_hash_tile(bytes: &[u8], width: u16) -> Result<Vec<Hash>, TileError> {
    if width == 0 || width > FULL {
        return Err(TileError::Width { width });
    }
    let (hashes, rest) = bytes.as_chunks::<HASH_LEN>();
    if hashes.len() != usize::from(width) || !rest.is_empty() {
        return Err(TileError::HashTileLength {
            width,
            len: bytes.len(),
        });
    }
    Ok(hashes.to_vec())
}

/// Where the hash of a perfect subtree lies in the tiles of a tree.
struct Location {
    /// The tile, with its width at the tree's size.
    tile: TilePath,
    /// The hashes of the tile whose root it is.
    hashes: Range<usize>,
}

/// Finds the perfect subtree of `2^level` leaves starting at leaf `index << level` in the tiles
/// of a tree of `tree_size` leaves. It must lie inside the tree.
fn locate(level: u8, index: u64, tree_size: u64) -> Result<Location, TileError> {
    let beyond = TileError::BeyondTree {
        level,
        index,
        tree_size,
    };
    // Its leaves end at (index + 1) << level; u128 holds that for any level below 64.
    if level >= 64 || (u128::from(index) + 1) << level > u128::from(tree_size) {
        return Err(beyond);
    }
    let tile_level = level / TILE_HEIGHT;
    let r = level % TILE_HEIGHT;
    // The first of its hashes at tree level 8 * tile_level; it fits, as its end does.
    let first = index << r;
    let tile_index = first / TILE_WIDTH;
    // Inside the tree, so the tile exists, and holds the hashes asked for: the tree holds
    // (index + 1) << r hashes at that level, and 2^r divides 256.
    let tile = TilePath::at_size(
        TileKind::Hashes { level: tile_level },
        tile_index,
        tree_size,
    )
    .ok_or(beyond)?;
    // Below TILE_WIDTH, so it fits.
    let start = (first % TILE_WIDTH) as usize;
    Ok(Location {
        tile,
        hashes: start..start + (1 << r),
    })
}

/// The hash tiles, with their widths in a tree of `tree_size` leaves, that hold the perfect
/// subtrees asked for as `(level, index)` (as a [`HashSource`] is asked), each tile once, in
/// order. A subtree reaching past the tree is an error.
pub fn tiles_needed(requests: &[(u8, u64)], tree_size: u64) -> Result<Vec<TilePath>, TileError> {
    let mut tiles = BTreeSet::new();
    for &(level, index) in requests {
        tiles.insert(locate(level, index, tree_size)?.tile);
    }
    Ok(tiles.into_iter().collect())
}

/// A [`HashSource`] that records what it is asked and answers with a dummy hash. The proof
/// functions of `verify::merkle` ask for the same subtrees whatever the hashes are, so running
/// one over a `RecordingSource` tells which tiles the real run needs: fetch those
/// ([`RecordingSource::tiles_needed`]), put them in a [`TileSource`], and run it again.
#[derive(Debug, Clone, Default)]
pub struct RecordingSource {
    requests: Vec<(u8, u64)>,
}

impl RecordingSource {
    pub fn new() -> RecordingSource {
        RecordingSource::default()
    }

    /// The `(level, index)` of every subtree asked for, in order, repeats included.
    pub fn requests(&self) -> &[(u8, u64)] {
        &self.requests
    }

    /// The tiles of a tree of `tree_size` leaves that hold what was asked for.
    pub fn tiles_needed(&self, tree_size: u64) -> Result<Vec<TilePath>, TileError> {
        tiles_needed(&self.requests, tree_size)
    }
}

impl HashSource for RecordingSource {
    type Error = Infallible;

    fn subtree_hash(&mut self, level: u8, index: u64) -> Result<Hash, Infallible> {
        self.requests.push((level, index));
        Ok([0; HASH_LEN])
    }
}

/// A [`HashSource`] over the tiles of a tree of `tree_size` leaves that a caller fetched. Of
/// each tile it keeps the widest version inserted; a narrower one must be a prefix of it (a
/// partial tile is the start of every later version). A subtree reaching past the tree, or
/// needing a tile not held or wider than held, is an error naming the tile, with the width
/// that tree size gives it.
#[derive(Debug, Clone)]
pub struct TileSource {
    tree_size: u64,
    /// Hashes by tile level and index.
    tiles: HashMap<(u8, u64), Vec<Hash>>,
}

impl TileSource {
    pub fn new(tree_size: u64) -> TileSource {
        TileSource {
            tree_size,
            tiles: HashMap::new(),
        }
    }

    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// Adds a tile as fetched: a hash tile, or an entry bundle (which stands for the level-0
    /// tile of its index and width: its entries' leaf hashes).
    pub fn insert(&mut self, tile: TilePath, bytes: &[u8]) -> Result<(), TileError> {
        let hashes = match tile.kind {
            TileKind::Hashes { .. } => parse_hash_tile(bytes, tile.width)?,
            TileKind::Entries => {
                let hashes = leaf_hashes_of_bundle(bytes)?;
                if hashes.len() != usize::from(tile.width) {
                    return Err(TileError::BundleWidth {
                        tile,
                        entries: hashes.len(),
                    });
                }
                hashes
            }
        };
        self.insert_hashes(tile, hashes)
    }

    /// Adds a tile's hashes (for an entry bundle, its entries' leaf hashes); there must be as
    /// many as the tile's width.
    pub fn insert_hashes(&mut self, tile: TilePath, hashes: Vec<Hash>) -> Result<(), TileError> {
        if hashes.len() != usize::from(tile.width) {
            return Err(TileError::HashTileLength {
                width: tile.width,
                len: hashes.len() * HASH_LEN,
            });
        }
        let key = (tile.kind.level(), tile.index);
        let Some(held) = self.tiles.get_mut(&key) else {
            self.tiles.insert(key, hashes);
            return Ok(());
        };
        if let Some(position) = held.iter().zip(&hashes).position(|(a, b)| a != b) {
            return Err(TileError::TileConflict { tile, position });
        }
        if hashes.len() > held.len() {
            *held = hashes;
        }
        Ok(())
    }
}

impl HashSource for TileSource {
    type Error = TileError;

    fn subtree_hash(&mut self, level: u8, index: u64) -> Result<Hash, TileError> {
        let Location { tile, hashes } = locate(level, index, self.tree_size)?;
        match self.tiles.get(&(tile.kind.level(), tile.index)) {
            None => Err(TileError::MissingTile { tile }),
            Some(held) => match held.get(hashes) {
                Some(part) => Ok(merkle::root(part)),
                None => Err(TileError::TileTooNarrow {
                    tile,
                    held: held.len(),
                }),
            },
        }
    }
}

/// Why a hash tile could not be built: the tile makes no sense, or the source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError<E> {
    #[error(transparent)]
    Tile(#[from] TileError),
    #[error("cannot read the hash of subtree {index} at level {level}")]
    Source {
        level: u8,
        index: u64,
        #[source]
        source: E,
    },
}

/// The bytes of hash tile `index` at `level`, `width` hashes wide: the hashes of the perfect
/// subtrees at tree level `8 * level`, from the log's own `source`.
pub fn hash_tile<S: HashSource + ?Sized>(
    level: u8,
    index: u64,
    width: u16,
    source: &mut S,
) -> Result<Vec<u8>, BuildError<S::Error>> {
    let tile = TilePath::new(TileKind::Hashes { level }, index, width)?;
    if tile.leaf_range().is_none() {
        return Err(TileError::BeyondLargestTree { tile }.into());
    }
    // A tile inside the largest tree is below level 8, and its hashes' indexes fit in u64.
    let tree_level = level * TILE_HEIGHT;
    let first = index * TILE_WIDTH;
    let mut out = Vec::with_capacity(usize::from(width) * HASH_LEN);
    for i in first..first + u64::from(width) {
        let hash = source
            .subtree_hash(tree_level, i)
            .map_err(|source| BuildError::Source {
                level: tree_level,
                index: i,
                source,
            })?;
        out.extend_from_slice(&hash);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::LazyLock;

    use proptest::prelude::*;
    use verify::checkpoint::{Checkpoint, Origin, SignedCheckpoint, VerifiedCheckpoint};
    use verify::merkle::{LeafHashes, ProveError};
    use verify::note::Verifier;

    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/ledger")
    }

    fn hashes(level: u8) -> TileKind {
        TileKind::Hashes { level }
    }

    fn path(kind: TileKind, index: u64, width: u16) -> TilePath {
        TilePath::new(kind, index, width).unwrap()
    }

    /// Messages are lowercase and end without a period.
    fn check_message(e: &TileError) {
        let msg = e.to_string();
        assert!(!msg.ends_with('.'), "{msg}");
        assert!(!msg.starts_with(|c: char| c.is_uppercase()), "{msg}");
    }

    #[test]
    fn valid_paths_parse_and_print_back() {
        let full = 256;
        let cases = [
            ("tile/0/000", hashes(0), 0, full),
            ("tile/0/001", hashes(0), 1, full),
            ("tile/0/999", hashes(0), 999, full),
            ("tile/1/x001/000", hashes(1), 1000, full),
            ("tile/2/x001/234", hashes(2), 1234, full),
            ("tile/0/x001/x234/067", hashes(0), 1_234_067, full),
            ("tile/0/x001/x000/000.p/1", hashes(0), 1_000_000, 1),
            ("tile/63/000.p/255", hashes(63), 0, 255),
            ("tile/10/x999/999.p/128", hashes(10), 999_999, 128),
            ("tile/entries/000.p/1", TileKind::Entries, 0, 1),
            ("tile/entries/x012/345", TileKind::Entries, 12_345, full),
            (
                "tile/entries/x018/x446/x744/x073/x709/x551/615",
                TileKind::Entries,
                u64::MAX,
                full,
            ),
            (
                "tile/7/x018/x446/x744/x073/x709/x551/615.p/9",
                hashes(7),
                u64::MAX,
                9,
            ),
        ];
        for (text, kind, index, width) in cases {
            let p = TilePath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(p, path(kind, index, width), "{text}");
            assert_eq!(p.to_string(), text);
            assert_eq!(text.parse::<TilePath>(), Ok(p));
            assert_eq!(p.is_full(), width == full);
        }
    }

    #[test]
    fn invalid_paths_are_rejected_with_the_part_at_fault() {
        use PathProblem::*;
        let cases = [
            ("", Prefix),
            ("tile", Prefix),
            ("tile/", Prefix),
            ("tile/0", Prefix),
            ("/tile/0/000", Prefix),
            ("TILE/0/000", Prefix),
            ("tiles/0/000", Prefix),
            ("https://log.example/tile/0/000", Prefix),
            ("tile//000", Level),
            ("tile/00/000", Level),
            ("tile/01/000", Level),
            ("tile/64/000", Level),
            ("tile/100/000", Level),
            ("tile/-1/000", Level),
            ("tile/+1/000", Level),
            ("tile/ 1/000", Level),
            ("tile/\u{ff10}/000", Level),
            ("tile/data/000", Level),
            ("tile/entry/000", Level),
            ("tile/Entries/000", Level),
            ("tile/0/", Index),
            ("tile/0/0", Index),
            ("tile/0/00", Index),
            ("tile/0/0000", Index),
            ("tile/0/1234", Index),
            ("tile/0/00a", Index),
            ("tile/0/ 000", Index),
            ("tile/0/000 ", Index),
            ("tile/0/000\n", Index),
            ("tile/0/000/", Index),
            ("tile/0/x000", Index),
            ("tile/0/x001", Index),
            ("tile/0/001/234", Index),
            ("tile/0/x01/234", Index),
            ("tile/0/x0001/234", Index),
            ("tile/0/X001/234", Index),
            ("tile/0/xx001/234", Index),
            ("tile/0/x001/x234", Index),
            ("tile/0/x001//234", Index),
            ("tile/0/x001/234/", Index),
            // Zero groups in front are not canonical.
            ("tile/0/x000/001", Index),
            ("tile/0/x000/x001/234", Index),
            // One past u64::MAX, and an eighth group.
            ("tile/0/x018/x446/x744/x073/x709/x551/616", Index),
            ("tile/0/x001/x000/x000/x000/x000/x000/x000/000", Index),
            ("tile/0/x999/x999/x999/x999/x999/x999/999", Index),
            ("tile/0/000/.p/5", Index),
            ("tile/0/000.p.p/5", Index),
            ("tile/0/.p/5", Index),
            ("tile/0/000.p/0", Width),
            ("tile/0/000.p/00", Width),
            ("tile/0/000.p/01", Width),
            ("tile/0/000.p/256", Width),
            ("tile/0/000.p/1000", Width),
            ("tile/0/000.p/", Width),
            ("tile/0/000.p/1/", Width),
            ("tile/0/000.p/1.p/1", Width),
            ("tile/0/000.p/+5", Width),
            ("tile/entries/000.p/-1", Width),
            ("tile/0/000.p", Index),
            ("tile/0/000.P/5", Index),
        ];
        for (text, problem) in cases {
            let err = TilePath::parse(text).unwrap_err();
            assert_eq!(
                err,
                TileError::Path {
                    path: text.into(),
                    problem
                },
                "{text:?}"
            );
            check_message(&err);
        }
    }

    #[test]
    fn constructors_check_level_and_width() {
        assert_eq!(
            TilePath::new(hashes(64), 0, 1),
            Err(TileError::Level { level: 64 })
        );
        assert_eq!(
            TilePath::full(hashes(255), 0),
            Err(TileError::Level { level: 255 })
        );
        for width in [0, 257, u16::MAX] {
            assert_eq!(
                TilePath::new(TileKind::Entries, 0, width),
                Err(TileError::Width { width })
            );
        }
        assert_eq!(
            TilePath::full(hashes(63), 7).unwrap().to_string(),
            "tile/63/007"
        );
        for e in [
            TileError::Level { level: 64 },
            TileError::Width { width: 0 },
        ] {
            check_message(&e);
        }
    }

    fn kind_strategy() -> impl Strategy<Value = TileKind> {
        prop_oneof![
            (0..=MAX_LEVEL).prop_map(|level| TileKind::Hashes { level }),
            Just(TileKind::Entries),
        ]
    }

    proptest! {
        #[test]
        fn every_path_round_trips(
            kind in kind_strategy(),
            index in prop_oneof![any::<u64>(), 0..2000u64],
            width in 1..=256u16,
        ) {
            let p = path(kind, index, width);
            let text = p.to_string();
            prop_assert_eq!(TilePath::parse(&text), Ok(p));
            // The index part is three-digit groups, as many as its decimal form needs.
            let index_part = text.split('/').skip(2).collect::<Vec<_>>().join("/");
            let digits: String = index_part
                .split(".p/")
                .next()
                .unwrap()
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            let decimal = index.to_string();
            let padded = format!("{index:0w$}", w = decimal.len().div_ceil(3) * 3);
            prop_assert_eq!(digits, padded);
        }
    }

    #[test]
    fn widths_at_tree_sizes() {
        // (level, index, tree size, width)
        let cases = [
            (0, 0, 0, None),
            (0, 0, 1, Some(1)),
            (0, 0, 255, Some(255)),
            (0, 0, 256, Some(256)),
            (0, 1, 256, None),
            (1, 0, 255, None),
            (1, 0, 256, Some(1)),
            (0, 1, 257, Some(1)),
            (0, 0, 70_000, Some(256)),
            (0, 272, 70_000, Some(256)),
            (0, 273, 70_000, Some(112)),
            (0, 274, 70_000, None),
            (1, 0, 70_000, Some(256)),
            (1, 1, 70_000, Some(17)),
            (1, 2, 70_000, None),
            (2, 0, 70_000, Some(1)),
            (3, 0, 70_000, None),
            (7, 0, u64::MAX, Some(255)),
            (6, 255, u64::MAX, Some(255)),
            (6, 256, u64::MAX, None),
            (0, u64::MAX / 256, u64::MAX, Some(255)),
            (0, u64::MAX, u64::MAX, None),
            (8, 0, u64::MAX, None),
            (63, 0, u64::MAX, None),
            (255, 0, u64::MAX, None),
        ];
        for (level, index, size, want) in cases {
            assert_eq!(
                width_at(level, index, size),
                want,
                "{level}/{index} at {size}"
            );
        }
        assert_eq!(
            TilePath::at_size(TileKind::Entries, 273, 70_000),
            Some(path(TileKind::Entries, 273, 112))
        );
        assert_eq!(TilePath::at_size(hashes(64), 0, u64::MAX), None);
    }

    /// The specification's examples: sizes 70,000 and 256.
    #[test]
    fn tiles_of_a_tree() {
        let all: Vec<TilePath> = tiles_for_size(70_000).collect();
        let count = |kind: TileKind, full: bool| {
            all.iter()
                .filter(|t| t.kind() == kind && t.is_full() == full)
                .count()
        };
        assert_eq!(count(hashes(0), true), 273);
        assert_eq!(count(hashes(1), true), 1);
        assert_eq!(count(hashes(2), true), 0);
        assert_eq!(count(TileKind::Entries, true), 273);
        assert_eq!(all.len(), 273 + 1 + 1 + 1 + 1 + 273 + 1);
        let partial = [
            path(hashes(0), 273, 112),
            path(hashes(1), 1, 17),
            path(hashes(2), 0, 1),
            path(TileKind::Entries, 273, 112),
        ];
        assert_eq!(partial_tiles(70_000), partial);
        let listed: Vec<TilePath> = all.iter().filter(|t| !t.is_full()).copied().collect();
        assert_eq!(listed, partial);
        assert_eq!(
            tiles_for_size(256)
                .map(|t| t.to_string())
                .collect::<Vec<_>>(),
            ["tile/0/000", "tile/1/000.p/1", "tile/entries/000"]
        );
        assert_eq!(partial_tiles(256), [path(hashes(1), 0, 1)]);
        assert_eq!(tiles_for_size(0).count(), 0);
        assert!(partial_tiles(0).is_empty());
        assert_eq!(
            partial_tiles(u64::MAX)
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>(),
            [
                "tile/0/x072/x057/x594/x037/x927/935.p/255",
                "tile/1/x281/x474/x976/x710/655.p/255",
                "tile/2/x001/x099/x511/x627/775.p/255",
                "tile/3/x004/x294/x967/295.p/255",
                "tile/4/x016/x777/215.p/255",
                "tile/5/x065/535.p/255",
                "tile/6/255.p/255",
                "tile/7/000.p/255",
                "tile/entries/x072/x057/x594/x037/x927/935.p/255",
            ]
        );
    }

    #[test]
    fn leaf_ranges() {
        let cases = [
            (path(hashes(0), 0, 256), Some(0..256)),
            (path(TileKind::Entries, 2, 5), Some(512..517)),
            (path(hashes(1), 1, 17), Some(65_536..65_536 + 17 * 256)),
            (path(hashes(2), 0, 1), Some(0..65_536)),
            (path(hashes(7), 0, 255), Some(0..255 << 56)),
            // Reaching leaf 2^64: past the largest tree, of 2^64 - 1 leaves.
            (path(hashes(7), 0, 256), None),
            (path(hashes(8), 0, 1), None),
            (path(hashes(63), u64::MAX, 256), None),
            (
                path(TileKind::Entries, u64::MAX / 256, 255),
                Some(u64::MAX - 255..u64::MAX),
            ),
            (path(TileKind::Entries, u64::MAX / 256, 256), None),
            (path(TileKind::Entries, u64::MAX, 1), None),
        ];
        for (tile, want) in cases {
            assert_eq!(tile.leaf_range(), want, "{tile}");
        }
    }

    #[test]
    fn bundles_encode_and_parse() {
        let entries: [&[u8]; 4] = [b"one", b"", b"three", &[0; MAX_ENTRY_LEN]];
        let bundle = encode_bundle(entries).unwrap();
        assert_eq!(&bundle[..7], b"\x00\x03one\x00\x00");
        assert_eq!(bundle.len(), 8 + 3 + 5 + MAX_ENTRY_LEN);
        assert_eq!(parse_bundle(&bundle).unwrap(), entries);
        assert_eq!(
            leaf_hashes_of_bundle(&bundle).unwrap(),
            entries.map(merkle::leaf_hash)
        );
        let full = vec![0u8; 2 * 256];
        assert_eq!(parse_bundle(&full).unwrap().len(), 256);
        assert_eq!(encode_bundle(parse_bundle(&full).unwrap()).unwrap(), full);
    }

    #[test]
    fn malformed_bundles() {
        let cases: Vec<(Vec<u8>, TileError)> = vec![
            (vec![], TileError::EmptyBundle),
            (
                vec![0],
                TileError::TruncatedLength {
                    index: 0,
                    offset: 0,
                },
            ),
            (
                b"\x00\x03one\x00".to_vec(),
                TileError::TruncatedLength {
                    index: 1,
                    offset: 5,
                },
            ),
            (
                b"\x00\x03on".to_vec(),
                TileError::TruncatedEntry {
                    index: 0,
                    len: 3,
                    left: 2,
                },
            ),
            (
                b"\x00\x00\xff\xff".to_vec(),
                TileError::TruncatedEntry {
                    index: 1,
                    len: 65_535,
                    left: 0,
                },
            ),
            (vec![0; 2 * 257], TileError::TooManyEntries),
            (vec![0; 2 * 256 + 1], TileError::TooManyEntries),
        ];
        for (bytes, want) in cases {
            let err = parse_bundle(&bytes).unwrap_err();
            assert_eq!(err, want, "{bytes:?}");
            assert_eq!(leaf_hashes_of_bundle(&bytes), Err(want));
            check_message(&err);
        }
        let long = vec![0u8; MAX_ENTRY_LEN + 1];
        let errors = [
            (
                encode_bundle([&b"a"[..], &long]),
                TileError::EntryTooLong {
                    index: 1,
                    len: 65_536,
                },
            ),
            (encode_bundle([&[][..]; 257]), TileError::TooManyEntries),
            (encode_bundle([]), TileError::EmptyBundle),
        ];
        for (got, want) in errors {
            let err = got.unwrap_err();
            check_message(&err);
            assert_eq!(err, want);
        }
    }

    #[test]
    fn hash_tiles_parse() {
        let bytes: Vec<u8> = (0..=255u8).flat_map(|i| [i; HASH_LEN]).collect();
        let tile = parse_hash_tile(&bytes, 256).unwrap();
        assert_eq!(tile.len(), 256);
        assert_eq!(tile[7], [7; HASH_LEN]);
        assert_eq!(
            parse_hash_tile(&bytes[..64], 2).unwrap(),
            [[0; 32], [1; 32]]
        );
        let cases = [
            (
                &bytes[..],
                255,
                TileError::HashTileLength {
                    width: 255,
                    len: 8192,
                },
            ),
            (
                &bytes[..63],
                2,
                TileError::HashTileLength { width: 2, len: 63 },
            ),
            (
                &bytes[..65],
                2,
                TileError::HashTileLength { width: 2, len: 65 },
            ),
            (&[][..], 1, TileError::HashTileLength { width: 1, len: 0 }),
            (&[][..], 0, TileError::Width { width: 0 }),
            (&bytes[..], 257, TileError::Width { width: 257 }),
        ];
        for (bytes, width, want) in cases {
            let err = parse_hash_tile(bytes, width).unwrap_err();
            check_message(&err);
            assert_eq!(err, want);
        }
        assert_eq!(
            TileError::HashTileLength { width: 2, len: 63 }.to_string(),
            "a hash tile of width 2 is 64 bytes, not 63"
        );
    }

    // --- The Tessera test log: a real tlog-tiles log of 15 entries, a checkpoint per size.

    const TESSERA_VKEY: &str =
        "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
    const TESSERA_ORIGIN: &str = "example.com/log/testdata";
    const TESSERA_ENTRIES: [&str; 15] = [
        "one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven",
        "twelf", "threeten", "fourten", "fivten",
    ];

    fn tessera_dir() -> PathBuf {
        fixtures().join("tessera-testdata-log/testdata/log")
    }

    /// Every tile of the Tessera log by its path, parsed from its location in the directory.
    fn tessera_tiles() -> Vec<(TilePath, Vec<u8>)> {
        let dir = tessera_dir();
        let mut out = Vec::new();
        let mut stack = vec![dir.join("tile")];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let file = entry.unwrap().path();
                if file.file_name().unwrap() == ".state" {
                    continue;
                }
                if file.is_dir() {
                    stack.push(file);
                    continue;
                }
                let rel = file.strip_prefix(&dir).unwrap().to_str().unwrap();
                let tile = TilePath::parse(rel).unwrap_or_else(|e| panic!("{rel}: {e}"));
                assert_eq!(tile.to_string(), rel);
                out.push((tile, std::fs::read(&file).unwrap()));
            }
        }
        out.sort();
        out
    }

    /// The checkpoint for each size 0..=15, verified with the log's key.
    fn tessera_checkpoints() -> Vec<VerifiedCheckpoint> {
        let log = Verifier::from_vkey(TESSERA_VKEY).unwrap();
        let origin = Origin::Exact(TESSERA_ORIGIN.into());
        (0..=15u64)
            .map(|n| {
                let bytes = std::fs::read(tessera_dir().join(format!("checkpoint.{n}"))).unwrap();
                let signed = SignedCheckpoint::parse(&bytes).unwrap();
                let verified = signed.verify(&origin, &log, &[]).unwrap();
                assert_eq!(verified.checkpoint().size(), n);
                verified
            })
            .collect()
    }

    /// Runs `f` over a [`RecordingSource`] to learn the tiles of a tree of `size` leaves it
    /// needs, then over a [`TileSource`] holding just those, fetched by `fetch`.
    fn two_phase<T: PartialEq + fmt::Debug>(
        size: u64,
        fetch: &mut dyn FnMut(TilePath) -> Vec<u8>,
        f: &mut dyn FnMut(&mut dyn HashSource<Error = TileError>) -> T,
    ) -> (T, Vec<TilePath>) {
        let mut recorder = RecordingSource::new();
        let mut adapter =
            |level, index| recorder.subtree_hash(level, index).map_err(|e| match e {});
        f(&mut adapter);
        let needed = recorder.tiles_needed(size).unwrap();
        let mut source = TileSource::new(size);
        for &tile in &needed {
            source.insert(tile, &fetch(tile)).unwrap();
        }
        (f(&mut source), needed)
    }

    #[test]
    fn tessera_log_tiles_and_bundles() {
        let tiles = tessera_tiles();
        assert_eq!(tiles.len(), 30);
        let entries: Vec<&[u8]> = TESSERA_ENTRIES.iter().map(|e| e.as_bytes()).collect();
        let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
        let mut widths = BTreeSet::new();
        for (tile, bytes) in &tiles {
            let w = usize::from(tile.width());
            assert_eq!(tile.index(), 0);
            assert!(!tile.is_full());
            widths.insert((tile.kind(), tile.width()));
            match tile.kind() {
                TileKind::Entries => {
                    let parsed = parse_bundle(bytes).unwrap();
                    assert_eq!(parsed, entries[..w], "{tile}");
                    assert_eq!(&encode_bundle(parsed).unwrap(), bytes);
                    assert_eq!(leaf_hashes_of_bundle(bytes).unwrap(), leaves[..w]);
                }
                TileKind::Hashes { level } => {
                    assert_eq!(level, 0);
                    assert_eq!(parse_hash_tile(bytes, tile.width()).unwrap(), leaves[..w]);
                }
            }
        }
        assert_eq!(widths.len(), 30);
        // All versions of the level-0 tile, from hashes and from bundles, agree.
        let mut source = TileSource::new(15);
        for (tile, bytes) in &tiles {
            source.insert(*tile, bytes).unwrap();
        }
        assert_eq!(
            merkle::subtree_hash(0, 15, &mut source).unwrap(),
            merkle::root(&leaves)
        );
    }

    #[test]
    fn tessera_checkpoints_verify_against_the_tiles() {
        let tiles: HashMap<TilePath, Vec<u8>> = tessera_tiles().into_iter().collect();
        let mut fetch = |tile: TilePath| tiles[&tile].clone();
        let checkpoints = tessera_checkpoints();
        let latest = std::fs::read(tessera_dir().join("checkpoint")).unwrap();
        assert_eq!(
            SignedCheckpoint::parse(&latest).unwrap().checkpoint(),
            checkpoints[15].checkpoint()
        );
        let readme_roots = [
            (0, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
            (1, "0Nc2CrefWKseHj/mStd+LqC8B+NrX0btIiPt2SmN+ek="),
            (8, "bC+VwvrJbalNVjfkdI8kUgs7mJoXrqiXCE7bgnD28pY="),
            (15, "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs="),
        ];
        for (n, cp) in checkpoints.iter().enumerate() {
            let size = n as u64;
            let (root, needed) = two_phase(size, &mut fetch, &mut |src| {
                merkle::subtree_hash(0, size, src).unwrap()
            });
            // The one tile needed is the level-0 tile as of that size.
            let want: Vec<TilePath> = TilePath::at_size(hashes(0), 0, size).into_iter().collect();
            assert_eq!(needed, want);
            assert_eq!(&root, cp.checkpoint().root(), "size {n}");
            // The checkpoint's text is exactly what the tiles make.
            let rebuilt = Checkpoint::new(TESSERA_ORIGIN, size, root).unwrap();
            assert_eq!(&rebuilt, cp.checkpoint());
            if let Some((_, b64)) = readme_roots.iter().find(|(s, _)| *s == n) {
                assert!(rebuilt.to_string().contains(b64));
            }
            // Every entry's inclusion proof, from the tiles.
            for (i, entry) in TESSERA_ENTRIES[..n].iter().enumerate() {
                let (proof, _) = two_phase(size, &mut fetch, &mut |src| {
                    merkle::inclusion_proof(i as u64, size, src).unwrap()
                });
                cp.verify_inclusion(i as u64, &merkle::leaf_hash(entry.as_bytes()), &proof)
                    .unwrap();
            }
        }
        // Consistency between every pair of sizes, from the tiles of the larger.
        let mut pairs = 0;
        for (m, old) in checkpoints.iter().enumerate() {
            for (n, new) in checkpoints.iter().enumerate().skip(m) {
                let (m, n) = (m as u64, n as u64);
                let proof = if m == 0 {
                    Vec::new()
                } else {
                    let (proof, _) = two_phase(n, &mut fetch, &mut |src| {
                        merkle::consistency_proof(m, n, src).unwrap()
                    });
                    merkle::verify_consistency(
                        m,
                        n,
                        old.checkpoint().root(),
                        new.checkpoint().root(),
                        &proof,
                    )
                    .unwrap();
                    proof
                };
                new.verify_consistency_from(old.checkpoint(), &proof)
                    .unwrap_or_else(|e| panic!("{m} -> {n}: {e}"));
                if m > 0 && m < n {
                    // Not between an older checkpoint and a tree the proof is not for.
                    let wrong = &checkpoints[n as usize - 1];
                    if wrong.checkpoint().size() != m {
                        assert!(
                            wrong
                                .verify_consistency_from(old.checkpoint(), &proof)
                                .is_err()
                        );
                    }
                }
                pairs += 1;
            }
        }
        assert_eq!(pairs, 16 * 17 / 2);
    }

    // --- A larger synthetic log: two tile levels and partial tiles.

    const BIG: u64 = 70_000;

    struct BigLog {
        leaves: Vec<Hash>,
        /// Every tile of the tree of BIG leaves, built with `hash_tile` and `encode_bundle`.
        tiles: HashMap<TilePath, Vec<u8>>,
    }

    static BIG_LOG: LazyLock<BigLog> = LazyLock::new(|| {
        let entries: Vec<Vec<u8>> = (0..BIG)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
        let mut tiles = HashMap::new();
        for tile in tiles_for_size(BIG) {
            let bytes = match tile.kind() {
                TileKind::Hashes { level } => {
                    hash_tile(level, tile.index(), tile.width(), &mut LeafHashes(&leaves)).unwrap()
                }
                TileKind::Entries => {
                    let range = tile.leaf_range().unwrap();
                    let part = &entries[range.start as usize..range.end as usize];
                    encode_bundle(part.iter().map(Vec::as_slice)).unwrap()
                }
            };
            tiles.insert(tile, bytes);
        }
        BigLog { leaves, tiles }
    });

    impl BigLog {
        /// Serves a tile as a log at size BIG would: a partial tile of an earlier size is the
        /// start of the tile it grew into.
        fn fetch(&self, tile: TilePath) -> Vec<u8> {
            let grown = TilePath::at_size(tile.kind(), tile.index(), BIG).unwrap();
            assert!(grown.width() >= tile.width(), "{tile} is not in the tree");
            let bytes = &self.tiles[&grown];
            match tile.kind() {
                TileKind::Hashes { .. } => bytes[..usize::from(tile.width()) * HASH_LEN].to_vec(),
                TileKind::Entries => {
                    let entries = parse_bundle(bytes).unwrap();
                    encode_bundle(entries[..usize::from(tile.width())].iter().copied()).unwrap()
                }
            }
        }

        /// Checks that proofs read from tiles equal those computed from the leaves, and
        /// verify; returns the tiles fetched.
        fn check(&self, index: u64, old: u64, size: u64) -> Vec<TilePath> {
            let leaves = &self.leaves[..size as usize];
            let direct = &mut LeafHashes(leaves);
            let root = merkle::root(leaves);
            let old_root = merkle::root(&leaves[..old as usize]);
            let run = |src: &mut dyn HashSource<Error = TileError>| {
                (
                    merkle::subtree_hash(0, size, src).unwrap(),
                    merkle::inclusion_proof(index, size, src).unwrap(),
                    merkle::consistency_proof(old, size, src).unwrap(),
                )
            };
            let ((got_root, inclusion, consistency), needed) =
                two_phase(size, &mut |t| self.fetch(t), &mut { run });
            assert_eq!(got_root, root);
            assert_eq!(
                inclusion,
                merkle::inclusion_proof(index, size, direct).unwrap()
            );
            assert_eq!(
                consistency,
                merkle::consistency_proof(old, size, direct).unwrap()
            );
            merkle::verify_inclusion(index, size, &leaves[index as usize], &inclusion, &root)
                .unwrap();
            merkle::verify_consistency(old, size, &old_root, &root, &consistency).unwrap();
            needed
        }
    }

    #[test]
    fn big_log_tiles_are_the_specified_ones() {
        let log = &*BIG_LOG;
        assert_eq!(log.tiles.len(), 551);
        // Level-1 hashes are the roots of full level-0 tiles; level 2 of full level-1 tiles.
        let level1 = parse_hash_tile(&log.tiles[&path(hashes(1), 0, 256)], 256).unwrap();
        let tile0 = parse_hash_tile(&log.tiles[&path(hashes(0), 5, 256)], 256).unwrap();
        assert_eq!(level1[5], merkle::root(&tile0));
        let level2 = parse_hash_tile(&log.tiles[&path(hashes(2), 0, 1)], 1).unwrap();
        assert_eq!(level2[0], merkle::root(&level1));
        assert_eq!(level2[0], merkle::root(&log.leaves[..65_536]));
        // Bundles hash to the level-0 tiles.
        for n in [0, 100, 273] {
            let tile0 = TilePath::at_size(hashes(0), n, BIG).unwrap();
            let bundle = TilePath::at_size(TileKind::Entries, n, BIG).unwrap();
            assert_eq!(
                leaf_hashes_of_bundle(&log.tiles[&bundle]).unwrap(),
                parse_hash_tile(&log.tiles[&tile0], tile0.width()).unwrap()
            );
        }
        // A partial tile built at an earlier size is the start of the later one.
        let early = hash_tile(1, 1, 3, &mut LeafHashes(&log.leaves)).unwrap();
        assert_eq!(early, log.tiles[&path(hashes(1), 1, 17)][..3 * HASH_LEN]);
    }

    #[test]
    fn big_log_proofs_at_the_edges() {
        let log = &*BIG_LOG;
        // (index, old size, size): tile and level boundaries.
        let cases = [
            (0, 1, 1),
            (0, 1, 2),
            (254, 255, 256),
            (255, 256, 257),
            (256, 255, 512),
            (300, 257, 65_535),
            (65_535, 65_535, 65_536),
            (65_536, 65_536, 65_537),
            (0, 65_536, BIG),
            (BIG - 1, 1, BIG),
            (69_999, 69_888, BIG),
            (12_345, BIG, BIG),
        ];
        for (index, old, size) in cases {
            log.check(index, old, size);
        }
        // The root of the whole tree needs the partial tiles of every level, and the full
        // level-1 tile only where no level-2 hash covers it.
        let (_, needed) = two_phase(BIG, &mut |t| log.fetch(t), &mut |src| {
            merkle::subtree_hash(0, BIG, src).unwrap()
        });
        assert_eq!(
            needed,
            [
                path(hashes(0), 273, 112),
                path(hashes(1), 1, 17),
                path(hashes(2), 0, 1)
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Proofs read through tiles_needed and TileSource are those LeafHashes gives.
        #[test]
        fn big_log_proofs_from_tiles_match_leaf_hashes(
            size in 1..=BIG,
            pick_index in any::<u64>(),
            pick_old in any::<u64>(),
        ) {
            let index = pick_index % size;
            let old = pick_old % size + 1;
            let needed = BIG_LOG.check(index, old, size);
            for tile in needed {
                prop_assert_eq!(TilePath::at_size(tile.kind(), tile.index(), size), Some(tile));
            }
        }
    }

    // --- Errors of the reading side and the building side.

    #[test]
    fn tiles_needed_maps_subtrees_to_tiles() {
        let size = 70_000;
        // (level, index) -> the tile holding it
        let cases = [
            ((0, 0), path(hashes(0), 0, 256)),
            ((0, 69_999), path(hashes(0), 273, 112)),
            ((3, 8), path(hashes(0), 0, 256)),
            ((7, 545), path(hashes(0), 272, 256)),
            ((8, 0), path(hashes(1), 0, 256)),
            ((8, 272), path(hashes(1), 1, 17)),
            ((12, 16), path(hashes(1), 1, 17)),
            ((15, 0), path(hashes(1), 0, 256)),
            ((16, 0), path(hashes(2), 0, 1)),
        ];
        for ((level, index), want) in cases {
            assert_eq!(
                tiles_needed(&[(level, index)], size),
                Ok(vec![want]),
                "{level}/{index}"
            );
        }
        assert_eq!(
            tiles_needed(&[(8, 1), (0, 5), (8, 0), (0, 0)], size),
            Ok(vec![path(hashes(0), 0, 256), path(hashes(1), 0, 256)])
        );
        assert_eq!(tiles_needed(&[], size), Ok(vec![]));
        for (level, index) in [(0, 70_000), (4, 4375), (16, 1), (17, 0), (64, 0), (255, 0)] {
            let err = tiles_needed(&[(0, 1), (level, index)], size).unwrap_err();
            assert_eq!(
                err,
                TileError::BeyondTree {
                    level,
                    index,
                    tree_size: size
                }
            );
            check_message(&err);
        }
        // The largest tree.
        assert_eq!(
            tiles_needed(&[(63, 0), (0, u64::MAX - 1)], u64::MAX),
            Ok(vec![
                path(hashes(0), u64::MAX / 256, 255),
                path(hashes(7), 0, 255)
            ])
        );
        assert!(tiles_needed(&[(0, u64::MAX)], u64::MAX).is_err());
    }

    #[test]
    fn tile_source_errors_name_the_tile() {
        let leaves: Vec<Hash> = (0..300u64)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect();
        let mut source = TileSource::new(300);
        assert_eq!(
            merkle::subtree_hash(0, 300, &mut source),
            Err(ProveError::Source {
                level: 8,
                index: 0,
                source: TileError::MissingTile {
                    tile: path(hashes(1), 0, 1)
                }
            })
        );
        let tile0 = path(hashes(0), 0, 256);
        source
            .insert(
                tile0,
                &hash_tile(0, 0, 256, &mut LeafHashes(&leaves)).unwrap(),
            )
            .unwrap();
        let narrow = path(hashes(0), 1, 40);
        source
            .insert(
                narrow,
                &hash_tile(0, 1, 40, &mut LeafHashes(&leaves)).unwrap(),
            )
            .unwrap();
        let err = source.subtree_hash(0, 299).unwrap_err();
        assert_eq!(
            err,
            TileError::TileTooNarrow {
                tile: path(hashes(0), 1, 44),
                held: 40
            }
        );
        check_message(&err);
        assert_eq!(
            source.subtree_hash(1, 150),
            Err(TileError::BeyondTree {
                level: 1,
                index: 150,
                tree_size: 300
            })
        );
        // A wider version replaces a narrower one.
        source
            .insert(
                path(hashes(0), 1, 44),
                &hash_tile(0, 1, 44, &mut LeafHashes(&leaves)).unwrap(),
            )
            .unwrap();
        assert_eq!(source.subtree_hash(0, 299), Ok(leaves[299]));
        assert_eq!(
            source.subtree_hash(2, 74),
            Ok(merkle::root(&leaves[296..300]))
        );
        // Subtrees of 256 leaves or more come from the level-1 tile only, never from the
        // level-0 tiles below it.
        assert!(matches!(
            source.subtree_hash(8, 0),
            Err(TileError::MissingTile { .. })
        ));
        assert_eq!(
            source.subtree_hash(7, 1),
            Ok(merkle::root(&leaves[128..256]))
        );
        // A tree of fewer leaves is served from the wider tiles of a larger one.
        let mut smaller = TileSource::new(260);
        smaller
            .insert(
                tile0,
                &hash_tile(0, 0, 256, &mut LeafHashes(&leaves)).unwrap(),
            )
            .unwrap();
        smaller
            .insert(
                path(hashes(0), 1, 44),
                &hash_tile(0, 1, 44, &mut LeafHashes(&leaves)).unwrap(),
            )
            .unwrap();
        assert_eq!(
            smaller.subtree_hash(2, 64),
            Ok(merkle::root(&leaves[256..260]))
        );
        assert!(matches!(
            smaller.subtree_hash(0, 260),
            Err(TileError::BeyondTree { .. })
        ));
        // A version that disagrees with what is held is refused.
        let mut other = hash_tile(0, 1, 10, &mut LeafHashes(&leaves)).unwrap();
        other[3 * HASH_LEN] ^= 1;
        let err = source.insert(path(hashes(0), 1, 10), &other).unwrap_err();
        assert_eq!(
            err,
            TileError::TileConflict {
                tile: path(hashes(0), 1, 10),
                position: 3
            }
        );
        check_message(&err);
        // A bundle must hold as many entries as its path says.
        let bundle = encode_bundle([&b"a"[..], b"b"]).unwrap();
        let err = source
            .insert(path(TileKind::Entries, 5, 3), &bundle)
            .unwrap_err();
        assert_eq!(
            err,
            TileError::BundleWidth {
                tile: path(TileKind::Entries, 5, 3),
                entries: 2
            }
        );
        check_message(&err);
        assert_eq!(
            source.insert(path(hashes(0), 9, 2), &[0; 32]),
            Err(TileError::HashTileLength { width: 2, len: 32 })
        );
        assert_eq!(
            source.insert_hashes(path(hashes(0), 9, 2), vec![[0; 32]]),
            Err(TileError::HashTileLength { width: 2, len: 32 })
        );
        for e in [
            TileError::MissingTile { tile: tile0 },
            TileError::BeyondLargestTree { tile: tile0 },
            TileError::EntryTooLong { index: 0, len: 1 },
        ] {
            check_message(&e);
        }
    }

    #[test]
    fn hash_tile_errors() {
        let leaves: Vec<Hash> = (0..10u64)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect();
        let src = &mut LeafHashes(&leaves);
        assert_eq!(hash_tile(0, 0, 10, src).unwrap(), leaves.concat(),);
        match hash_tile(0, 0, 11, src) {
            Err(BuildError::Source {
                level: 0,
                index: 10,
                source,
            }) => assert_eq!(source.held, 10),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            hash_tile(1, 0, 1, src),
            Err(BuildError::Source {
                level: 8,
                index: 0,
                ..
            })
        ));
        assert_eq!(
            hash_tile(0, 0, 0, src),
            Err(BuildError::Tile(TileError::Width { width: 0 }))
        );
        assert_eq!(
            hash_tile(64, 0, 1, src),
            Err(BuildError::Tile(TileError::Level { level: 64 }))
        );
        for (level, index, width) in [(8, 0, 1), (7, 0, 256), (0, u64::MAX, 1), (7, 1, 1)] {
            assert_eq!(
                hash_tile(level, index, width, src),
                Err(BuildError::Tile(TileError::BeyondLargestTree {
                    tile: path(hashes(level), index, width)
                }))
            );
        }
        // The last tile of the largest tree asks its source for the right subtrees.
        let mut asked = RecordingSource::new();
        hash_tile(7, 0, 255, &mut asked).unwrap();
        assert_eq!(asked.requests().len(), 255);
        assert_eq!(asked.requests()[254], (56, 254));
        let err = BuildError::<TileError>::Source {
            level: 8,
            index: 3,
            source: TileError::MissingTile {
                tile: path(hashes(0), 0, 1),
            },
        };
        assert_eq!(
            err.to_string(),
            "cannot read the hash of subtree 3 at level 8"
        );
    }
}
