//! The writes of commands run beside the node (the CLI's `authority`, `user` and `evidence
//! seal`), one transaction each, with the same guarantees as the writer's batches. The CLI
//! calls the typed functions here and never sees a write batch.
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
use custos_store::{Authority, Batch, Evidence, Role, Store, StoredCheckpoint, User};
use jiff::Timestamp;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::custody::Custody;
use crate::integrity;
use crate::node_dir::NodeDir;
use crate::ops::{self, Appended, Case, NewAuthority};
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

/// Runs `op` in one transaction on the node in `nd` and signs a checkpoint over the result.
pub async fn with_batch<T>(
    nd: &NodeDir,
    op: impl for<'a> FnOnce(&'a mut Batch, &'a mut Appended) -> OpFuture<'a, T>,
) -> Result<T, OfflineError> {
    run(nd.dir(), nd.config(), nd.key()?, nd.store(), op).await
}

/// Registers an authority's key (`authority.added`) and, in the same transaction, its
/// confirmation keys (`authority.confirmation_key_added` each) and its call-back contact
/// (`authority.contact_set`).
pub async fn add_authority(
    nd: &NodeDir,
    new: NewAuthority,
    confirmation_keys: Vec<custos_jose::PublicJwk>,
    contact: Option<ops::Contact>,
    now: Timestamp,
) -> Result<Authority, OfflineError> {
    with_batch(nd, |b, out| {
        Box::pin(async move {
            let a = ops::add_authority(b, out, &new, now).await?;
            for jwk in &confirmation_keys {
                ops::add_confirmation_key(b, out, &a.kid, jwk, now).await?;
            }
            if let Some(c) = &contact {
                ops::set_contact(b, out, &a.kid, c, now).await?;
            }
            Ok(a)
        })
    })
    .await
}

/// Sets or changes an authority's call-back contact (`authority.contact_set`).
pub async fn set_contact(
    nd: &NodeDir,
    authority_kid: &str,
    contact: ops::Contact,
    now: Timestamp,
) -> Result<ops::Contact, OfflineError> {
    let authority_kid = authority_kid.to_owned();
    with_batch(nd, |b, out| {
        Box::pin(async move { ops::set_contact(b, out, &authority_kid, &contact, now).await })
    })
    .await
}

/// Registers a confirmation key for an authority already in the directory
/// (`authority.confirmation_key_added`); returns its thumbprint.
pub async fn add_confirmation_key(
    nd: &NodeDir,
    authority_kid: &str,
    jwk: custos_jose::PublicJwk,
    now: Timestamp,
) -> Result<String, OfflineError> {
    let authority_kid = authority_kid.to_owned();
    with_batch(nd, |b, out| {
        Box::pin(async move { ops::add_confirmation_key(b, out, &authority_kid, &jwk, now).await })
    })
    .await
}

/// Revokes an authority's key (`authority.revoked`).
pub async fn revoke_authority(
    nd: &NodeDir,
    kid: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Authority, OfflineError> {
    // The operation's future may outlive any borrow (`OpFuture`): it owns its input.
    let (kid, reason) = (kid.to_owned(), reason.to_owned());
    with_batch(nd, |b, out| {
        Box::pin(async move { ops::revoke_authority(b, out, &kid, &reason, now).await })
    })
    .await
}

/// Adds a user with a fresh API token (`user.added`); returns the token, which is shown once
/// and stored only as its hash.
pub async fn add_user(
    nd: &NodeDir,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<Zeroizing<String>, OfflineError> {
    let (token, token_hash) = crate::auth::new_token(name)
        .map_err(|p| OfflineError::Setup(anyhow::anyhow!("{}", p.detail)))?;
    let user = User {
        name: name.to_owned(),
        role,
        token_hash,
        added_at: now,
        disabled_at: None,
        password_hash: None,
    };
    with_batch(nd, |b, out| {
        Box::pin(async move { ops::add_user(b, out, &user).await })
    })
    .await?;
    Ok(token)
}

/// Sets a user's console password, given as its hash ([`crate::auth::hash_password`])
/// (`user.password_set`).
pub async fn set_password(
    nd: &NodeDir,
    name: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<(), OfflineError> {
    let (name, hash) = (name.to_owned(), password_hash.to_owned());
    with_batch(nd, |b, out| {
        Box::pin(async move { ops::set_password(b, out, &name, &hash, now).await })
    })
    .await
}

/// Takes a package sealed on the node into custody (`evidence.sealed`), in the same step as
/// the node's uploads ([`Custody::take`]).
pub async fn take_custody(
    nd: &NodeDir,
    custody: Custody,
    now: Timestamp,
) -> Result<Evidence, OfflineError> {
    with_batch(nd, |b, out| {
        Box::pin(async move { custody.take(b, out, now).await })
    })
    .await
}

/// Where evidence for a case is to be sealed: the case, and its authority as the log
/// registered it (`None` if the case does not exist).
#[derive(Debug)]
pub struct SealTarget {
    /// The case.
    pub case: Case,
    /// Its authority from the log, never from the table (which could be edited, e.g. to an
    /// attacker's age recipient); `None` if the log does not have it.
    pub authority: Option<Authority>,
}

/// Reads the case and its logged authority before sealing evidence for it.
pub async fn seal_target(nd: &NodeDir, case_id: i64) -> anyhow::Result<Option<SealTarget>> {
    let Some(case) = nd.query().case(case_id).await? else {
        return Ok(None);
    };
    let authority = logged_registry(nd.store())
        .await?
        .authorities
        .remove(&case.authority_kid);
    Ok(Some(SealTarget { case, authority }))
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
