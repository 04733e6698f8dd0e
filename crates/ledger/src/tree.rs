//! The append-only Merkle tree of RFC 9162 §2.1: storage trait, in-memory
//! store, root computation, inclusion and consistency proofs, and their
//! stateless verification.
//!
//! # Storage model
//!
//! The tree never recomputes a subtree it has already hashed. Every time a leaf
//! is appended, the hashes of the *complete* (perfect, power-of-two) subtrees it
//! finishes are written once, addressed by [`NodeId`] `(level, index)`: level 0
//! holds leaf hashes, level `l` index `i` is the root of leaves
//! `[i·2^l, (i+1)·2^l)`. These nodes never change, which is what C2SP tiles
//! serve too (a tile is 256 consecutive nodes of one level).
//!
//! Any RFC 6962 subtree hash needed for a root or a proof — including the
//! "ephemeral" right-border subtrees of a tree whose size is not a power of two
//! — is the right-to-left fold of at most 64 complete nodes, so roots and proofs
//! cost `O(log n)` node lookups and `O(log n)` hashes, independent of history.
//! Lookups go through [`HashReader::get_nodes`] in one batch, so a SQL backend
//! can answer a whole proof with a single `SELECT … WHERE (level, idx) IN …`.
//!
//! [`HashStore`] adds the single write operation, [`HashStore::append_nodes`],
//! carrying the old and new sizes so a database implementation can make the
//! append a compare-and-swap in one transaction. [`MemoryStore`] is the
//! in-memory implementation used by tests, benchmarks and tile verification.
//!
//! # Verification
//!
//! [`verify_inclusion`] and [`verify_consistency`] are stateless and follow the
//! algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 literally. A consistency proof
//! from the empty tree (`old_size == 0 < new_size`) is rejected as meaningless,
//! matching the transparency-dev test vectors.

use crate::hash::{Hash, empty_root, leaf_hash, node_hash};

/// The position of a complete subtree: `level` (height; 0 = leaf) and `index`
/// among the nodes of that level. It covers leaves
/// `[index·2^level, (index+1)·2^level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height of the subtree: 0 for a leaf, at most 63.
    pub level: u8,
    /// Index of the node within its level.
    pub index: u64,
}

impl NodeId {
    /// Creates a node id.
    pub const fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// One past the last leaf covered by this node, or `None` on overflow.
    pub fn end(&self) -> Option<u64> {
        self.index
            .checked_add(1)
            .and_then(|i| i.checked_mul(1u64.checked_shl(u32::from(self.level))?))
    }
}

/// Read access to the complete-subtree hashes of a log.
pub trait HashReader {
    /// The storage backend's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The number of leaves in the stored tree.
    fn size(&self) -> Result<u64, Self::Error>;

    /// Returns the hashes of the complete subtrees `ids`, in the same order.
    ///
    /// Callers only ask for nodes that are complete in a tree of
    /// [`HashReader::size`] leaves; an implementation should report a missing
    /// node as an error rather than invent one.
    fn get_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Self::Error>;
}

/// Read-write storage of the log's complete-subtree hashes.
pub trait HashStore: HashReader {
    /// Atomically grows the tree from `old_size` to `new_size` leaves, storing
    /// `nodes`: every leaf hash and every complete subtree finished by the
    /// appended leaves, in the order they were completed.
    ///
    /// Implementations must fail, storing nothing, if the current size is not
    /// `old_size` (another writer got there first).
    fn append_nodes(
        &mut self,
        old_size: u64,
        new_size: u64,
        nodes: &[(NodeId, Hash)],
    ) -> Result<(), Self::Error>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    type Error = R::Error;
    fn size(&self) -> Result<u64, Self::Error> {
        (**self).size()
    }
    fn get_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Self::Error> {
        (**self).get_nodes(ids)
    }
}

/// Errors from the in-memory store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryStoreError {
    /// A node that is not (yet) stored was requested.
    #[error("node level {} index {} is not stored", .0.level, .0.index)]
    MissingNode(NodeId),
    /// `append_nodes` was called with a stale `old_size`.
    #[error("tree has {actual} leaves, append expected {expected}")]
    SizeMismatch {
        /// The size the caller believed the tree had.
        expected: u64,
        /// The size it has.
        actual: u64,
    },
    /// `append_nodes` was given nodes out of order.
    #[error("node level {} index {} is out of order", .0.level, .0.index)]
    OutOfOrder(NodeId),
}

/// An in-memory [`HashStore`]: one vector of hashes per level.
///
/// Uses about 64 bytes per leaf (a leaf hash plus, amortised, one interior node).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    size: u64,
    levels: Vec<Vec<Hash>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stored nodes of one level (level 0 = leaf hashes), for tile serving.
    pub fn level(&self, level: u8) -> &[Hash] {
        self.levels
            .get(usize::from(level))
            .map_or(&[], |v| v.as_slice())
    }

    fn node(&self, id: NodeId) -> Option<Hash> {
        let idx = usize::try_from(id.index).ok()?;
        self.levels.get(usize::from(id.level))?.get(idx).copied()
    }
}

impl HashReader for MemoryStore {
    type Error = MemoryStoreError;

    fn size(&self) -> Result<u64, Self::Error> {
        Ok(self.size)
    }

    fn get_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Self::Error> {
        ids.iter()
            .map(|&id| self.node(id).ok_or(MemoryStoreError::MissingNode(id)))
            .collect()
    }
}

impl HashStore for MemoryStore {
    fn append_nodes(
        &mut self,
        old_size: u64,
        new_size: u64,
        nodes: &[(NodeId, Hash)],
    ) -> Result<(), Self::Error> {
        if old_size != self.size {
            return Err(MemoryStoreError::SizeMismatch {
                expected: old_size,
                actual: self.size,
            });
        }
        // Validate first so a failed append stores nothing.
        let mut lens: Vec<u64> = self.levels.iter().map(|l| l.len() as u64).collect();
        for (id, _) in nodes {
            let level = usize::from(id.level);
            if lens.len() <= level {
                lens.resize(level + 1, 0);
            }
            if lens[level] != id.index || id.end().is_none_or(|e| e > new_size) {
                return Err(MemoryStoreError::OutOfOrder(*id));
            }
            lens[level] += 1;
        }
        for (id, hash) in nodes {
            let level = usize::from(id.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            self.levels[level].push(*hash);
        }
        self.size = new_size;
        Ok(())
    }
}

/// Errors computing roots and proofs from stored hashes.
#[derive(Debug, thiserror::Error)]
pub enum TreeError<E: std::error::Error + 'static> {
    /// The storage backend failed.
    #[error("hash storage failed")]
    Store(#[source] E),
    /// A root or proof was asked for a tree larger than the stored one.
    #[error("tree size {requested} exceeds the log's {available} leaves")]
    SizeBeyondLog {
        /// The size asked for.
        requested: u64,
        /// The stored size.
        available: u64,
    },
    /// A leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked from a larger to a smaller tree.
    #[error("old size {old} is greater than new size {new}")]
    SizeOrder {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// A consistency proof was asked from the empty tree.
    #[error("a consistency proof from the empty tree is meaningless")]
    EmptyOldTree,
    /// Appending would overflow the 64-bit tree size.
    #[error("tree size overflow")]
    Overflow,
    /// The store answered a batch lookup with the wrong number of hashes.
    #[error("hash store returned {got} hashes for {asked} nodes")]
    BadStoreAnswer {
        /// Nodes asked for.
        asked: usize,
        /// Hashes returned.
        got: usize,
    },
}

/// Batch lookup that checks the store kept its side of the contract.
fn fetch<R: HashReader>(reader: &R, ids: &[NodeId]) -> Result<Vec<Hash>, TreeError<R::Error>> {
    let hashes = reader.get_nodes(ids).map_err(TreeError::Store)?;
    if hashes.len() != ids.len() {
        return Err(TreeError::BadStoreAnswer {
            asked: ids.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

/// Errors verifying a proof. Any of them means "do not trust this".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old size is greater than the new size.
    #[error("old size {old} is greater than new size {new}")]
    SizeOrder {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// Consistency with the empty tree cannot be proven.
    #[error("a consistency proof from the empty tree is meaningless")]
    EmptyOldTree,
    /// The proof has the wrong number of hashes for the sizes claimed.
    #[error("proof has the wrong number of hashes")]
    WrongLength,
    /// The proof does not lead to the expected root.
    #[error("proof does not match the root hash")]
    RootMismatch,
}

/// Largest power of two strictly less than `n` (`n ≥ 2`): RFC 9162's `k`.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The complete subtrees that make up the RFC 9162 subtree over leaves
/// `[start, end)`, left (largest) to right (smallest).
///
/// For `start == 0` this is the binary decomposition of `end`, i.e. the
/// "frontier" (compact range) of a tree of `end` leaves. Returns nothing for an
/// empty range.
pub fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut a = start;
    while a < end {
        let remaining = end - a;
        let mut level = 63 - remaining.leading_zeros();
        if a != 0 {
            level = level.min(a.trailing_zeros());
        }
        // level ≤ 63, so the cast and shift are exact.
        out.push(NodeId::new(level as u8, a >> level));
        a += 1u64 << level;
    }
    out
}

/// The leaf ranges whose subtree hashes form the inclusion proof of
/// `index` in a tree of `size` leaves, bottom-up (RFC 9162 §2.1.3.1 `PATH`).
fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
        }
    }
    out.reverse();
    out
}

/// The leaf ranges whose subtree hashes form the consistency proof from
/// `old` to `new` leaves, bottom-up (RFC 9162 §2.1.4.1 `SUBPROOF`).
/// Requires `0 < old < new`.
fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, new);
    let mut whole_old_tree = true;
    while old != hi {
        let k = split(hi - lo);
        if old <= lo + k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            whole_old_tree = false;
        }
    }
    if !whole_old_tree {
        out.push((lo, hi));
    }
    out.reverse();
    out
}

/// Fetches every node of every range in one batch and folds each range into
/// its RFC 9162 subtree hash.
fn hash_ranges<R: HashReader>(
    reader: &R,
    ranges: &[(u64, u64)],
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    let mut ids = Vec::with_capacity(ranges.len() + 64);
    let mut bounds = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let start = ids.len();
        ids.extend(range_nodes(lo, hi));
        bounds.push((start, ids.len()));
    }
    let hashes = fetch(reader, &ids)?;
    Ok(bounds
        .into_iter()
        .map(|(a, b)| fold_right(&hashes[a..b]))
        .collect())
}

/// Folds complete-subtree hashes (largest first) into one subtree hash.
fn fold_right(nodes: &[Hash]) -> Hash {
    let mut iter = nodes.iter().rev();
    let Some(&last) = iter.next() else {
        return empty_root();
    };
    iter.fold(last, |acc, left| node_hash(left, &acc))
}

fn check_size<R: HashReader>(reader: &R, size: u64) -> Result<(), TreeError<R::Error>> {
    let available = reader.size().map_err(TreeError::Store)?;
    if size > available {
        return Err(TreeError::SizeBeyondLog {
            requested: size,
            available,
        });
    }
    Ok(())
}

/// The root hash of the tree made of the first `size` leaves.
pub fn root_at<R: HashReader>(reader: &R, size: u64) -> Result<Hash, TreeError<R::Error>> {
    check_size(reader, size)?;
    if size == 0 {
        return Ok(empty_root());
    }
    Ok(fold_right(&fetch(reader, &range_nodes(0, size))?))
}

/// The stored leaf hash at `index`.
pub fn leaf_hash_at<R: HashReader>(reader: &R, index: u64) -> Result<Hash, TreeError<R::Error>> {
    let size = reader.size().map_err(TreeError::Store)?;
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let ids = [NodeId::new(0, index)];
    Ok(fetch(reader, &ids)?[0])
}

/// An inclusion proof (RFC 9162 §2.1.3): the audit path of one leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Index of the leaf.
    pub leaf_index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// Sibling hashes, bottom-up.
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// Verifies this proof for `leaf_hash` against `root`.
    pub fn verify(&self, leaf_hash: &Hash, root: &Hash) -> Result<(), ProofError> {
        verify_inclusion(self.leaf_index, self.tree_size, leaf_hash, &self.path, root)
    }
}

/// A consistency proof (RFC 9162 §2.1.4) between two tree sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// Proof hashes, bottom-up.
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Verifies this proof between `old_root` and `new_root`.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofError> {
        verify_consistency(self.old_size, self.new_size, &self.path, old_root, new_root)
    }
}

/// Generates the inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<R: HashReader>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<InclusionProof, TreeError<R::Error>> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    check_size(reader, size)?;
    let path = hash_ranges(reader, &inclusion_ranges(index, size))?;
    Ok(InclusionProof {
        leaf_index: index,
        tree_size: size,
        path,
    })
}

/// Generates the consistency proof from the tree of `old_size` leaves to the
/// tree of `new_size` leaves. Equal sizes give an empty proof.
pub fn consistency_proof<R: HashReader>(
    reader: &R,
    old_size: u64,
    new_size: u64,
) -> Result<ConsistencyProof, TreeError<R::Error>> {
    if old_size > new_size {
        return Err(TreeError::SizeOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 && new_size > 0 {
        return Err(TreeError::EmptyOldTree);
    }
    check_size(reader, new_size)?;
    let path = if old_size == new_size {
        Vec::new()
    } else {
        hash_ranges(reader, &consistency_ranges(old_size, new_size))?
    };
    Ok(ConsistencyProof {
        old_size,
        new_size,
        path,
    })
}

/// Computes the root that an inclusion proof leads to (RFC 9162 §2.1.3.2
/// steps 1–5), without comparing it to anything.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    path: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf_hash;
    for p in path {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    Ok(r)
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if root_from_inclusion_proof(index, size, leaf_hash, path)? == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. `old_size == 0` with a
/// larger `new_size` is rejected ([`ProofError::EmptyOldTree`]).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    path: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        if !path.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if path.is_empty() {
        return Err(ProofError::WrongLength);
    }
    // Step 1: if old_size is a power of two, the old root is the first node.
    let (first, rest) = if old_size.is_power_of_two() {
        (old_root, path)
    } else {
        (&path[0], &path[1..])
    };
    // Steps 2–4.
    let mut fnode = old_size - 1;
    let mut snode = new_size - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = *first;
    let mut sr = *first;
    // Step 5.
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 6.
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr == *old_root && sr == *new_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// An append-only Merkle tree over a [`HashStore`].
///
/// Caches the frontier (the complete subtrees of the current size) so each
/// append costs one batched store write and `O(1)` amortised hashes.
#[derive(Debug)]
pub struct MerkleTree<S> {
    store: S,
    /// Hashes of `range_nodes(0, frontier_size)`; stale if `frontier_size`
    /// differs from the store's size.
    frontier: Vec<Hash>,
    frontier_size: Option<u64>,
}

impl<S: HashStore> MerkleTree<S> {
    /// Wraps a store (which may already hold leaves).
    pub fn new(store: S) -> Self {
        MerkleTree {
            store,
            frontier: Vec::new(),
            frontier_size: None,
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Unwraps the store.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Number of leaves.
    pub fn size(&self) -> Result<u64, TreeError<S::Error>> {
        self.store.size().map_err(TreeError::Store)
    }

    /// Appends one entry (hashed as an RFC 9162 leaf); returns its index.
    pub fn append(&mut self, data: &[u8]) -> Result<u64, TreeError<S::Error>> {
        self.append_leaf_hashes(&[leaf_hash(data)])
    }

    /// Appends several entries in one store write; returns the first index.
    pub fn append_batch<D: AsRef<[u8]>>(
        &mut self,
        entries: &[D],
    ) -> Result<u64, TreeError<S::Error>> {
        let hashes: Vec<Hash> = entries.iter().map(|e| leaf_hash(e.as_ref())).collect();
        self.append_leaf_hashes(&hashes)
    }

    /// Appends precomputed leaf hashes in one store write; returns the index
    /// of the first.
    pub fn append_leaf_hashes(&mut self, leaves: &[Hash]) -> Result<u64, TreeError<S::Error>> {
        let old_size = self.store.size().map_err(TreeError::Store)?;
        let new_size = u64::try_from(leaves.len())
            .ok()
            .and_then(|n| old_size.checked_add(n))
            .ok_or(TreeError::Overflow)?;
        if self.frontier_size != Some(old_size) {
            self.frontier = fetch(&self.store, &range_nodes(0, old_size))?;
            self.frontier_size = Some(old_size);
        }
        // Until the write succeeds the cached frontier is not trustworthy.
        self.frontier_size = None;
        let mut nodes = Vec::with_capacity(leaves.len() * 2 + 64);
        for (n, leaf) in (old_size..new_size).zip(leaves) {
            nodes.push((NodeId::new(0, n), *leaf));
            let mut hash = *leaf;
            let mut index = n;
            let mut level = 0u8;
            while index & 1 == 1 {
                // The frontier's last subtree is exactly the left sibling.
                let Some(left) = self.frontier.pop() else {
                    break;
                };
                hash = node_hash(&left, &hash);
                index >>= 1;
                level += 1;
                nodes.push((NodeId::new(level, index), hash));
            }
            self.frontier.push(hash);
        }
        self.store
            .append_nodes(old_size, new_size, &nodes)
            .map_err(TreeError::Store)?;
        self.frontier_size = Some(new_size);
        Ok(old_size)
    }

    /// Root of the current tree.
    pub fn root(&self) -> Result<Hash, TreeError<S::Error>> {
        root_at(&self.store, self.size()?)
    }

    /// Root of the tree made of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError<S::Error>> {
        root_at(&self.store, size)
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<InclusionProof, TreeError<S::Error>> {
        inclusion_proof(&self.store, index, size)
    }

    /// Consistency proof between two tree sizes.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, TreeError<S::Error>> {
        consistency_proof(&self.store, old_size, new_size)
    }

    /// The stored leaf hash at `index`.
    pub fn leaf_hash(&self, index: u64) -> Result<Hash, TreeError<S::Error>> {
        leaf_hash_at(&self.store, index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9162 MTH computed recursively from scratch.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_match_recursive_definition() {
        let mut tree = MerkleTree::new(MemoryStore::new());
        let mut leaves = Vec::new();
        for i in 0u32..70 {
            leaves.push(leaf_hash(&i.to_be_bytes()));
            tree.append(&i.to_be_bytes()).unwrap();
            for n in 0..=leaves.len() {
                assert_eq!(tree.root_at(n as u64).unwrap(), mth(&leaves[..n]));
            }
        }
    }

    #[test]
    fn batch_and_single_appends_agree() {
        let mut a = MerkleTree::new(MemoryStore::new());
        let mut b = MerkleTree::new(MemoryStore::new());
        let entries: Vec<Vec<u8>> = (0u32..100).map(|i| i.to_le_bytes().to_vec()).collect();
        for e in &entries {
            a.append(e).unwrap();
        }
        b.append_batch(&entries[..37]).unwrap();
        b.append_batch(&entries[37..]).unwrap();
        assert_eq!(a.root().unwrap(), b.root().unwrap());
        assert_eq!(a.store().level(0), b.store().level(0));
    }

    #[test]
    fn stale_append_is_rejected_and_stores_nothing() {
        let mut store = MemoryStore::new();
        let err = store
            .append_nodes(1, 2, &[(NodeId::new(0, 1), Hash::default())])
            .unwrap_err();
        assert!(matches!(err, MemoryStoreError::SizeMismatch { .. }));
        assert_eq!(store.size().unwrap(), 0);
    }

    #[test]
    fn proof_generation_errors() {
        let mut tree = MerkleTree::new(MemoryStore::new());
        tree.append(b"a").unwrap();
        assert!(matches!(
            tree.inclusion_proof(1, 1),
            Err(TreeError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            tree.inclusion_proof(0, 2),
            Err(TreeError::SizeBeyondLog { .. })
        ));
        assert!(matches!(
            tree.consistency_proof(0, 1),
            Err(TreeError::EmptyOldTree)
        ));
        assert!(matches!(
            tree.consistency_proof(1, 0),
            Err(TreeError::SizeOrder { .. })
        ));
        assert!(tree.consistency_proof(1, 1).unwrap().path.is_empty());
    }
}
