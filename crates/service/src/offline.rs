//! One write to a node's database from outside the node (the CLI's `authority`, `user` and
//! `evidence seal` commands), with the same guarantees as the writer's batches.
//!
//! The write is one transaction: the operation's events, then a checkpoint over the whole log
//! signed with the node key, committed together, then the head file. Before anything is signed
//! the history is checked against the node's latest signed checkpoint and the head file, so a
//! command run on a rewritten or rolled-back database refuses instead of signing it. A running
//! node takes the events in within a second (`Node::follow_database`), having checked that a
//! checkpoint signed with its key covers them.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use anyhow::Context as _;
use custos_ledger::{Checkpoint, MemoryStore, MerkleTree, leaf_hash};
use custos_store::{Batch, Store, StoredCheckpoint};
use jiff::Timestamp;

use crate::config::Config;
use crate::integrity;
use crate::ops::Appended;
use crate::problem::Problem;

/// The future an offline operation returns.
pub type OpFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Problem>> + Send + 'a>>;

/// Why an offline write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// The operation refused (bad input, a conflict): nothing was written.
    #[error("{}", .0.detail)]
    Refused(Problem),
    /// The node directory cannot be used (configuration, key, database, a history the node's
    /// signatures contradict, an internal failure): nothing was written.
    #[error(transparent)]
    Setup(#[from] anyhow::Error),
}

/// Runs `op` in one transaction on the node in `dir` and signs a checkpoint over the result.
pub async fn with_batch<T>(
    dir: &Path,
    op: impl for<'a> FnOnce(&'a mut Batch, &'a mut Appended) -> OpFuture<'a, T>,
) -> Result<T, OfflineError> {
    let config = Config::load(dir)?;
    let key = crate::integrity::read_key(&dir.join(&config.key))?;
    let store = Store::open_sqlite(&dir.join(&config.database), false)
        .await
        .with_context(|| format!("cannot open the database in {}", dir.display()))?;
    let result = run(dir, &config, &key, &store, op).await;
    store.close().await;
    result
}

async fn run<T>(
    dir: &Path,
    config: &Config,
    key: &custos_ledger::SignerKey,
    store: &Store,
    op: impl for<'a> FnOnce(&'a mut Batch, &'a mut Appended) -> OpFuture<'a, T>,
) -> Result<T, OfflineError> {
    let mut b = store.begin().await.context("cannot start a write")?;
    let mut tree = MerkleTree::new(MemoryStore::new());
    let leaves = b.leaves_from(0).await.context("cannot read the log")?;
    let hashes: Vec<_> = leaves.iter().map(|(_, l)| leaf_hash(l)).collect();
    tree.append_leaf_hashes(&hashes)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let latest = b
        .latest_checkpoint()
        .await
        .context("cannot read the checkpoints")?;
    let head = integrity::read_head(dir).map_err(anyhow::Error::from)?;
    integrity::check_history(
        hashes.len() as u64,
        |s| tree.root_at(s).ok(),
        latest.as_ref(),
        head.as_deref(),
        &config.origin,
        &key.verifier(),
    )
    .map_err(|e| anyhow::anyhow!("nothing was written: {e}"))?;

    let mut out = Vec::new();
    let value = match op(&mut b, &mut out).await {
        Ok(v) => v,
        Err(p) if p.status >= 500 => {
            return Err(OfflineError::Setup(anyhow::anyhow!("{}", p.detail)));
        }
        Err(p) => return Err(OfflineError::Refused(p)),
    };
    let new: Vec<_> = out.iter().map(|e| leaf_hash(&e.leaf)).collect();
    tree.append_leaf_hashes(&new)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let size = tree.size().map_err(|e| anyhow::anyhow!("{e}"))?;
    let root = tree.root().map_err(|e| anyhow::anyhow!("{e}"))?;
    let note = Checkpoint::new(config.origin.clone(), size, root)
        .sign(&[key])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cp = StoredCheckpoint {
        size,
        root,
        note,
        signed_at: Timestamp::now(),
    };
    b.put_checkpoint(&cp)
        .await
        .context("cannot record the checkpoint")?;
    b.commit().await.context("cannot commit")?;
    integrity::write_head(dir, &cp.note).with_context(|| {
        format!(
            "recorded, but cannot write the head file in {}",
            dir.display()
        )
    })?;
    Ok(value)
}

/// The directory and users as the log says (for a command run while no node runs: the
/// `authorities` table may have been edited, e.g. to an attacker's age recipient).
pub async fn logged_registry(store: &Store) -> anyhow::Result<crate::replay::Registry> {
    let mut registry = crate::replay::Registry::default();
    let mut next = 0;
    loop {
        let page = store.events(next, 10_000).await?;
        let Some(last) = page.last() else { break };
        next = last.seq + 1;
        for e in &page {
            registry
                .apply_stored(e)
                .map_err(|p| anyhow::anyhow!("event {} cannot be applied: {p}", e.seq))?;
        }
    }
    Ok(registry)
}
