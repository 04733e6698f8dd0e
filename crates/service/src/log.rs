//! The node's view of its Merkle log: the tree of every event's public record (kept in memory,
//! rebuilt from the events table at start), the latest signed checkpoint, and the node key.
//!
//! Only the writer appends. Readers (proofs, tiles) take the lock briefly and never across an
//! await, and they answer only for sizes up to the latest checkpoint, whose leaves are committed.

use std::sync::RwLock;

use custos_ledger::checkpoint::Checkpoint;
use custos_ledger::tiles::{Tile, tile_bytes};
use custos_ledger::{
    ConsistencyProof, Hash, InclusionProof, MemoryStore, MerkleTree, SignerKey, VerifierKey,
};
use custos_store::{Store, StoredCheckpoint};
use jiff::Timestamp;

/// The log of one node.
pub struct NodeLog {
    origin: String,
    signer: SignerKey,
    tree: RwLock<MerkleTree<MemoryStore>>,
    checkpoint: RwLock<Option<StoredCheckpoint>>,
}

impl std::fmt::Debug for NodeLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeLog")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// A failure of the in-memory tree (only on a corrupt database).
#[derive(Debug, thiserror::Error)]
#[error("log tree: {0}")]
pub struct TreeFailure(pub String);

fn tf(e: impl std::fmt::Display) -> TreeFailure {
    TreeFailure(e.to_string())
}

impl NodeLog {
    /// Loads every leaf from the store and rebuilds the tree, then checks it against the latest
    /// checkpoint the node signed (in the database, and the head file's `head` if there is one):
    /// a history the node's signatures contradict is refused ([`crate::integrity`]).
    pub async fn load(
        store: &Store,
        origin: &str,
        signer: SignerKey,
        head: Option<&str>,
    ) -> Result<NodeLog, anyhow::Error> {
        let mut size = store.log_size().await?;
        let mut tree = build_tree(store, size).await?;
        let latest = store.latest_checkpoint().await?;
        // Another process of the node (PostgreSQL) may have committed since the size was read:
        // each commit brings its events and their checkpoint together, so the leaves it covers
        // are there to read. Without this the newer checkpoint would look ahead of the events.
        if let Some(row) = &latest
            && row.size > size
        {
            extend_tree(store, &mut tree, size, row.size).await?;
            size = row.size;
        }
        let verified = crate::integrity::check_history(
            size,
            |s| tree.root_at(s).ok(),
            latest.as_ref(),
            head,
            origin,
            &signer.verifier(),
        )?;
        // Publish what the note signs, not the row's unsigned columns.
        let checkpoint = match (latest, verified) {
            (Some(row), Some(cp)) => Some(StoredCheckpoint {
                size: cp.size,
                root: cp.root,
                note: row.note,
                signed_at: row.signed_at,
            }),
            _ => None,
        };
        Ok(NodeLog {
            origin: origin.to_owned(),
            signer,
            tree: RwLock::new(tree),
            checkpoint: RwLock::new(checkpoint),
        })
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key to publish.
    pub fn verifier(&self) -> VerifierKey {
        self.signer.verifier()
    }

    /// Leaves in the tree (committed or about to be).
    pub fn tree_size(&self) -> u64 {
        self.tree.read().map(|t| t.size().unwrap_or(0)).unwrap_or(0)
    }

    /// Appends leaf data in order.
    pub fn append_leaves(&self, leaves: &[&[u8]]) -> Result<(), TreeFailure> {
        let hashes: Vec<Hash> = leaves.iter().map(|l| custos_ledger::leaf_hash(l)).collect();
        let mut tree = self.tree.write().map_err(tf)?;
        tree.append_leaf_hashes(&hashes).map_err(tf)?;
        Ok(())
    }

    /// Throws the tree away and rebuilds it from the store up to the latest published
    /// checkpoint (after a failed batch), checking it still gives the published root. Leaves
    /// beyond it are taken in again, verified, by the next batch.
    pub async fn reload(&self, store: &Store) -> Result<(), anyhow::Error> {
        let published = self.checkpoint();
        let tree = build_tree(store, published.as_ref().map_or(0, |c| c.size)).await?;
        if let Some(cp) = &published
            && tree.root().map_err(tf)? != cp.root
        {
            anyhow::bail!(
                "the events before {} no longer give the root the node signed: the database was changed under the running node. Stop it and run `custos audit`.",
                cp.size
            );
        }
        *self.tree.write().map_err(tf)? = tree;
        Ok(())
    }

    /// Signs a checkpoint for the current tree.
    pub fn sign_checkpoint(&self, now: Timestamp) -> Result<StoredCheckpoint, TreeFailure> {
        let tree = self.tree.read().map_err(tf)?;
        let size = tree.size().map_err(tf)?;
        let root = tree.root().map_err(tf)?;
        let note = Checkpoint::new(self.origin.clone(), size, root)
            .sign(&[&self.signer])
            .map_err(tf)?;
        Ok(StoredCheckpoint {
            size,
            root,
            note,
            signed_at: now,
        })
    }

    /// Publishes a committed checkpoint.
    pub fn publish(&self, cp: StoredCheckpoint) {
        if let Ok(mut c) = self.checkpoint.write()
            && c.as_ref().is_none_or(|old| old.size <= cp.size)
        {
            *c = Some(cp);
        }
    }

    /// The latest published checkpoint.
    pub fn checkpoint(&self) -> Option<StoredCheckpoint> {
        self.checkpoint.read().ok().and_then(|c| c.clone())
    }

    /// Size of the latest published checkpoint (0 if none).
    pub fn published_size(&self) -> u64 {
        self.checkpoint().map_or(0, |c| c.size)
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<(Hash, InclusionProof), TreeFailure> {
        let tree = self.tree.read().map_err(tf)?;
        let leaf = tree.leaf_hash(index).map_err(tf)?;
        Ok((leaf, tree.inclusion_proof(index, size).map_err(tf)?))
    }

    /// Consistency proof between two sizes.
    pub fn consistency(&self, old: u64, new: u64) -> Result<ConsistencyProof, TreeFailure> {
        let tree = self.tree.read().map_err(tf)?;
        tree.consistency_proof(old, new).map_err(tf)
    }

    /// Root at `size`.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeFailure> {
        self.tree.read().map_err(tf)?.root_at(size).map_err(tf)
    }

    /// The bytes of a hash tile.
    pub fn tile(&self, tile: &Tile) -> Result<Vec<u8>, TreeFailure> {
        let tree = self.tree.read().map_err(tf)?;
        tile_bytes(tree.store(), tile).map_err(tf)
    }
}

/// The tree of the first `size` leaves in the store.
async fn build_tree(store: &Store, size: u64) -> Result<MerkleTree<MemoryStore>, anyhow::Error> {
    let mut tree = MerkleTree::new(MemoryStore::new());
    extend_tree(store, &mut tree, 0, size).await?;
    Ok(tree)
}

/// Appends the leaves of events `from..to` to `tree` (which holds `from`).
async fn extend_tree(
    store: &Store,
    tree: &mut MerkleTree<MemoryStore>,
    from: u64,
    to: u64,
) -> Result<(), anyhow::Error> {
    let mut start = from;
    while start < to {
        let end = (start + 65_536).min(to);
        let leaves = store.leaves(start, end).await?;
        let hashes: Vec<Hash> = leaves.iter().map(|l| custos_ledger::leaf_hash(l)).collect();
        tree.append_leaf_hashes(&hashes).map_err(tf)?;
        start = end;
    }
    if tree.size().map_err(tf)? != to {
        anyhow::bail!("the database lost events while the log was being read");
    }
    Ok(())
}
