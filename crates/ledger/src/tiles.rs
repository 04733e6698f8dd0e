//! C2SP tiled transparency logs (<https://c2sp.org/tlog-tiles>).
//!
//! Custos serves its log as static, immutable, cacheable resources instead of
//! a proof API: *tiles* of 256 consecutive Merkle tree hashes and *entry
//! bundles* of 256 consecutive log entries. This module is the pure part of
//! that: tile coordinates and their paths (`tile/<L>/<N>[.p/<W>]`, with the
//! `x001/x234/067` index encoding), which tiles a tree of a given size has,
//! the bytes of a tile from a [`HashReader`], the entry-bundle encoding
//! (big-endian `u16` length + bytes per entry, hence at most 65,535 bytes per
//! entry), and verification from tiles.
//!
//! Tile `(L, N)` holds the tree nodes of level `8·L` with indices
//! `N·256 .. N·256 + W`. So each tile hash is one of the complete-subtree
//! hashes that [`crate::tree`] stores, and the nodes in between tile levels
//! are recomputed by hashing within a tile.
//!
//! [`TileSet`] is a [`HashReader`] over fetched tiles, so a client can compute
//! roots and proofs from tiles with the same code the log uses.
//! [`verify_full`] re-hashes every leaf hash of the level-0 tiles, checks every
//! higher tile against the result and returns the root, for a `--full`
//! verifier.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::hash::{HASH_LEN, Hash, node_hash};
use crate::tree::{HashReader, MemoryStore, MerkleTree, NodeId, TreeError, root_at};

/// Levels of the Merkle tree covered by one tile.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes (or entries) in a full tile (or bundle).
pub const TILE_WIDTH: u16 = 256;
/// The largest tile level the spec allows.
pub const MAX_TILE_LEVEL: u8 = 63;
/// The largest entry an entry bundle can carry (its length is a `u16`).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// Errors about tiles, paths and entry bundles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// Level above 63 or width outside 1..=256.
    #[error("invalid tile coordinates: {0}")]
    InvalidTile(&'static str),
    /// A tile or entry-bundle path that is not in canonical form.
    #[error("invalid tile path: {0}")]
    InvalidPath(&'static str),
    /// An entry too large for an entry bundle.
    #[error("log entry {index} is {len} bytes; entry bundles allow at most 65535")]
    EntryTooLarge {
        /// Position of the entry in the bundle.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// More than 256 entries in one bundle.
    #[error("an entry bundle holds at most 256 entries")]
    TooManyEntries,
    /// An entry bundle that does not parse.
    #[error("malformed entry bundle: {0}")]
    MalformedBundle(&'static str),
    /// A tile's byte length does not match its width.
    #[error("tile {0} has {1} bytes, expected {2}")]
    TileLength(String, usize, usize),
    /// A tile needed for the requested size is missing.
    #[error("missing tile {0}")]
    MissingTile(String),
    /// A higher-level tile disagrees with the hashes recomputed below it.
    #[error("tile {0} does not match the tiles below it")]
    TileMismatch(String),
    /// Rebuilding the tree from level-0 tiles failed.
    #[error("rebuilding the tree from tiles failed")]
    Rebuild,
    /// A node outside the tree of the given size was asked for.
    #[error("node level {} index {} is not in the tree", .0.level, .0.index)]
    NodeNotInTree(NodeId),
}

/// Coordinates of a Merkle tile: level, index within the level, width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u16,
}

/// A parsed path under `tile/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`.
    Hashes(Tile),
    /// `tile/entries/<N>[.p/<W>]`: the entry bundle of the level-0 tile.
    Entries(Tile),
}

impl Tile {
    /// Validates and creates tile coordinates.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::InvalidTile("level above 63"));
        }
        if width == 0 || width > TILE_WIDTH {
            return Err(TileError::InvalidTile("width must be 1..=256"));
        }
        Ok(Tile {
            level,
            index,
            width,
        })
    }

    /// Tile level (0 = leaf hashes).
    pub fn level(&self) -> u8 {
        self.level
    }
    /// Index within the level.
    pub fn index(&self) -> u64 {
        self.index
    }
    /// Number of hashes (256 for a full tile).
    pub fn width(&self) -> u16 {
        self.width
    }
    /// Whether the tile has fewer than 256 hashes.
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }
    /// Byte length of the tile (32 per hash).
    pub fn byte_len(&self) -> usize {
        usize::from(self.width) * HASH_LEN
    }

    /// `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.suffix())
    }

    /// `tile/entries/<N>[.p/<W>]` (meaningful for level-0 tiles).
    pub fn entries_path(&self) -> String {
        format!("tile/entries/{}", self.suffix())
    }

    fn suffix(&self) -> String {
        let mut s = encode_index(self.index);
        if self.is_partial() {
            let _ = write!(s, ".p/{}", self.width);
        }
        s
    }

    /// Parses a tile or entry-bundle path, accepting only the canonical form.
    pub fn parse_path(path: &str) -> Result<TilePath, TileError> {
        let rest = path
            .strip_prefix("tile/")
            .ok_or(TileError::InvalidPath("must start with tile/"))?;
        let (head, rest) = rest
            .split_once('/')
            .ok_or(TileError::InvalidPath("missing index"))?;
        let (index_part, width) = match rest.split_once(".p/") {
            Some((n, w)) => (n, parse_decimal(w, 1, 255)?),
            None => (rest, u64::from(TILE_WIDTH)),
        };
        let index = decode_index(index_part)?;
        // Both bounds checked by parse_decimal / the constant above.
        let width = u16::try_from(width).map_err(|_| TileError::InvalidPath("bad width"))?;
        if head == "entries" {
            return Ok(TilePath::Entries(Tile::new(0, index, width)?));
        }
        let level = parse_decimal(head, 0, u64::from(MAX_TILE_LEVEL))?;
        let level = u8::try_from(level).map_err(|_| TileError::InvalidPath("bad level"))?;
        Ok(TilePath::Hashes(Tile::new(level, index, width)?))
    }

    /// The tree nodes this tile holds, left to right, or `None` if the tile's
    /// level lies above any tree of 2^64 leaves.
    pub fn node_ids(&self) -> Option<Vec<NodeId>> {
        let level = u8::try_from(u32::from(self.level) * TILE_HEIGHT).ok()?;
        if level > 63 {
            return None;
        }
        let first = self.index.checked_mul(u64::from(TILE_WIDTH))?;
        (0..u64::from(self.width))
            .map(|i| Some(NodeId::new(level, first.checked_add(i)?)))
            .collect()
    }
}

/// Encodes a tile index as zero-padded 3-digit groups, all but the last
/// prefixed with `x`: 1234067 → `x001/x234/067`.
pub fn encode_index(index: u64) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(groups.len() * 5);
    for (i, g) in groups.iter().rev().enumerate() {
        if i > 0 {
            s.push('/');
        }
        if i + 1 < groups.len() {
            s.push('x');
        }
        let _ = write!(s, "{g:03}");
    }
    s
}

/// Parses the `x001/x234/067` index encoding strictly (canonical form only).
pub fn decode_index(s: &str) -> Result<u64, TileError> {
    let parts: Vec<&str> = s.split('/').collect();
    let last = parts.len() - 1;
    let mut n: u64 = 0;
    for (i, part) in parts.iter().enumerate() {
        let digits = if i < last {
            part.strip_prefix('x').ok_or(TileError::InvalidPath(
                "index groups but the last start with x",
            ))?
        } else {
            part
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TileError::InvalidPath("index groups are three digits"));
        }
        let g: u64 = digits
            .parse()
            .map_err(|_| TileError::InvalidPath("index groups are three digits"))?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(g))
            .ok_or(TileError::InvalidPath("index overflows"))?;
    }
    if encode_index(n) != s {
        return Err(TileError::InvalidPath(
            "non-canonical index (leading zero group)",
        ));
    }
    Ok(n)
}

fn parse_decimal(s: &str, min: u64, max: u64) -> Result<u64, TileError> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return Err(TileError::InvalidPath(
            "decimal without leading zeros expected",
        ));
    }
    match s.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(TileError::InvalidPath("number out of range")),
    }
}

/// Every tile of a tree of `size` leaves, level by level, left to right
/// (full tiles, then the level's partial tile if any).
///
/// Lazy, so a huge size claimed by an untrusted checkpoint costs nothing
/// until tiles are actually consumed.
pub fn tiles_for_size(size: u64) -> impl Iterator<Item = Tile> + Clone {
    let width = u64::from(TILE_WIDTH);
    // Levels 0..=7 suffice: 256^8 = 2^64 exceeds any u64 size.
    (0u8..8)
        .map(move |level| (level, size >> (TILE_HEIGHT * u32::from(level))))
        .take_while(|&(_, count)| count > 0)
        .flat_map(move |(level, count)| {
            let full = count / width;
            // The remainder is below 256, so it fits a u16.
            let partial = (count % width) as u16;
            let full_tiles = (0..full).map(move |index| Tile {
                level,
                index,
                width: TILE_WIDTH,
            });
            let partial_tile = (partial > 0).then_some(Tile {
                level,
                index: full,
                width: partial,
            });
            full_tiles.chain(partial_tile)
        })
}

/// The partial or full tiles on the right edge of a tree of `size` leaves:
/// what a client fetches to compute the root.
pub fn right_edge_tiles(size: u64) -> Vec<Tile> {
    (0u8..8)
        .map(|level| (level, size >> (TILE_HEIGHT * u32::from(level))))
        .take_while(|&(_, count)| count > 0)
        .map(|(level, count)| {
            let index = (count - 1) / u64::from(TILE_WIDTH);
            let width = count - index * u64::from(TILE_WIDTH);
            Tile {
                level,
                index,
                // 1..=256 by construction.
                width: width as u16,
            }
        })
        .collect()
}

/// The bytes of `tile` (its hashes concatenated) from stored hashes.
pub fn tile_bytes<R: HashReader>(reader: &R, tile: &Tile) -> Result<Vec<u8>, TreeError<R::Error>> {
    let size = reader.size().map_err(TreeError::Store)?;
    let ids = tile.node_ids().unwrap_or_default();
    let end = ids.last().and_then(NodeId::end);
    match end {
        Some(end) if end <= size => {}
        _ => {
            return Err(TreeError::SizeBeyondLog {
                requested: end.unwrap_or(u64::MAX),
                available: size,
            });
        }
    }
    let hashes = reader.get_nodes(&ids).map_err(TreeError::Store)?;
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// Encodes an entry bundle: each entry as a big-endian `u16` length followed
/// by its bytes. Rejects entries over 65,535 bytes and more than 256 entries.
pub fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(TileError::TooManyEntries);
    }
    let total: usize = entries.iter().map(|e| 2 + e.as_ref().len()).sum();
    let mut out = Vec::with_capacity(total);
    for (index, e) in entries.iter().enumerate() {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLarge {
            index,
            len: e.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Checks that an entry fits in an entry bundle.
pub fn check_entry(entry: &[u8]) -> Result<(), TileError> {
    if entry.len() > MAX_ENTRY_LEN {
        return Err(TileError::EntryTooLarge {
            index: 0,
            len: entry.len(),
        });
    }
    Ok(())
}

/// Splits an entry bundle into its entries.
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if out.len() == usize::from(TILE_WIDTH) {
            return Err(TileError::TooManyEntries);
        }
        let [a, b, tail @ ..] = rest else {
            return Err(TileError::MalformedBundle("truncated length"));
        };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if tail.len() < len {
            return Err(TileError::MalformedBundle("truncated entry"));
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
    }
    Ok(out)
}

/// A [`HashReader`] over tiles fetched for a tree of a known size.
///
/// Nodes between tile levels are recomputed by hashing inside a tile, so any
/// root or proof for sizes up to `size` can be computed from the tiles with
/// [`crate::tree::root_at`], [`crate::tree::inclusion_proof`] etc.
#[derive(Debug, Clone, Default)]
pub struct TileSet {
    size: u64,
    /// (level, index) → hashes; for each position the widest tile known.
    tiles: BTreeMap<(u8, u64), Vec<Hash>>,
}

impl TileSet {
    /// An empty tile set for a tree of `size` leaves (from a verified checkpoint).
    pub fn new(size: u64) -> Self {
        TileSet {
            size,
            tiles: BTreeMap::new(),
        }
    }

    /// Adds a fetched tile, checking its length. A wider tile at the same
    /// position replaces a narrower one.
    pub fn insert(&mut self, tile: Tile, bytes: &[u8]) -> Result<(), TileError> {
        if bytes.len() != tile.byte_len() {
            return Err(TileError::TileLength(
                tile.path(),
                bytes.len(),
                tile.byte_len(),
            ));
        }
        let hashes: Vec<Hash> = bytes
            .chunks_exact(HASH_LEN)
            .map(|c| {
                let mut h = [0u8; HASH_LEN];
                h.copy_from_slice(c);
                Hash(h)
            })
            .collect();
        let slot = self.tiles.entry((tile.level, tile.index)).or_default();
        if hashes.len() > slot.len() {
            *slot = hashes;
        }
        Ok(())
    }

    fn node(&self, id: NodeId) -> Result<Hash, TileError> {
        let tile_level = u32::from(id.level) / TILE_HEIGHT;
        let sub = u32::from(id.level) % TILE_HEIGHT;
        if id.end().is_none_or(|e| e > self.size) {
            return Err(TileError::NodeNotInTree(id));
        }
        // Index of the first tile-level node under `id`, then its tile.
        let first = id.index << sub;
        let tile_index = first / u64::from(TILE_WIDTH);
        let pos = (first % u64::from(TILE_WIDTH)) as usize;
        let count = 1usize << sub;
        let level = tile_level as u8; // ≤ 7 since id.level ≤ 63
        let missing = || {
            let w = (pos + count) as u16;
            let path = Tile::new(level, tile_index, w).map_or_else(|_| String::new(), |t| t.path());
            TileError::MissingTile(path)
        };
        let hashes = self.tiles.get(&(level, tile_index)).ok_or_else(missing)?;
        let slice = hashes.get(pos..pos + count).ok_or_else(missing)?;
        Ok(perfect_root(slice))
    }
}

/// Root of a perfect subtree given its 2^k bottom hashes.
fn perfect_root(hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    level.first().copied().unwrap_or_default()
}

impl HashReader for TileSet {
    type Error = TileError;

    fn size(&self) -> Result<u64, Self::Error> {
        Ok(self.size)
    }

    fn get_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Self::Error> {
        ids.iter().map(|&id| self.node(id)).collect()
    }
}

/// Full verification from tiles: rebuilds the tree of `size` leaves from the
/// level-0 tiles alone, checks that every higher-level tile in `tiles_for_size`
/// matches the rebuilt hashes, and returns the root to compare with a verified
/// checkpoint. `tiles` maps each tile of [`tiles_for_size`] to its bytes.
pub fn verify_full(size: u64, tiles: &BTreeMap<Tile, Vec<u8>>) -> Result<Hash, TileError> {
    let expected = tiles_for_size(size);
    let mut tree = MerkleTree::new(MemoryStore::new());
    let get = |t: &Tile| -> Result<&Vec<u8>, TileError> {
        let bytes = tiles
            .get(t)
            .ok_or_else(|| TileError::MissingTile(t.path()))?;
        if bytes.len() != t.byte_len() {
            return Err(TileError::TileLength(t.path(), bytes.len(), t.byte_len()));
        }
        Ok(bytes)
    };
    for t in expected.clone().take_while(|t| t.level == 0) {
        let leaves: Vec<Hash> = get(&t)?
            .chunks_exact(HASH_LEN)
            .map(Hash::from_slice)
            .collect::<Result<_, _>>()
            .map_err(|_| TileError::Rebuild)?;
        tree.append_leaf_hashes(&leaves)
            .map_err(|_| TileError::Rebuild)?;
    }
    let store = tree.into_store();
    for t in expected.skip_while(|t| t.level == 0) {
        let bytes = get(&t)?;
        let ids = t
            .node_ids()
            .ok_or(TileError::InvalidTile("level too high"))?;
        let rebuilt = store
            .get_nodes(&ids)
            .map_err(|_| TileError::TileMismatch(t.path()))?;
        let same = rebuilt
            .iter()
            .zip(bytes.chunks_exact(HASH_LEN))
            .all(|(h, b)| h.0 == b);
        if !same {
            return Err(TileError::TileMismatch(t.path()));
        }
    }
    root_at(&store, size).map_err(|_| TileError::Rebuild)
}
