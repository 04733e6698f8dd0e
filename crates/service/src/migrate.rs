//! `custos migrate`: moves a node from its SQLite file to an empty PostgreSQL database.
//!
//! The order is what makes it safe. The SQLite write lock (a store batch, `BEGIN IMMEDIATE`)
//! is held from before the first read to after the configuration is switched, so nothing is
//! appended meanwhile. The source's history is checked against the node's signatures (as
//! every command does) before anything is copied. The copy is one PostgreSQL transaction
//! (`custos_store`'s `copy.rs`). Then the target is verified: its tree root equals the
//! source's and the latest signed checkpoint's, every event's commitment recomputed from its
//! body and salt equals its leaf, every event row equals the source's byte for byte, and the
//! whole `custos audit` passes on it. Only then is `custos.toml` rewritten, atomically. The
//! SQLite file is never written.
//!
//! On a failure before the copy's commit the target is left as it was; after it (a
//! verification that fails), the target is emptied again (its tables stay, without rows). The
//! configuration is unchanged in both.

use std::path::{Path, PathBuf};

use custos_ledger::{Hash, MemoryStore, MerkleTree, leaf_hash};
use custos_store::{CopyError, Location, Store, StoreError, TableRows};

use crate::config::{self, Config};
use crate::integrity;
use crate::node_dir::NodeDir;

/// Why a migration did not happen. The configuration is unchanged in every case.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// It was refused before anything was copied (already on PostgreSQL, a target that is not
    /// empty, a URL that is not PostgreSQL's): the target was left as it was.
    #[error("{0}")]
    Refused(String),
    /// The node directory or a database cannot be used (unreadable configuration, a server
    /// that does not answer).
    #[error(transparent)]
    Setup(#[from] anyhow::Error),
    /// The source does not agree with the node's signatures, or the copy does not verify.
    #[error("{summary}")]
    Mismatch {
        /// What failed, and what became of the target.
        summary: String,
        /// Each difference found.
        findings: Vec<String>,
    },
}

/// A migration done.
#[derive(Debug)]
pub struct Migrated {
    /// Rows copied, per table, in copy order.
    pub tables: Vec<TableRows>,
    /// Events in the log.
    pub size: u64,
    /// The tree root verified on the target (the latest signed checkpoint's).
    pub root: Hash,
    /// The SQLite file, untouched (for going back).
    pub old_database: PathBuf,
    /// The new database, shown without its password.
    pub target: String,
}

/// The SQLite file of the node in `dir`; refused if the node already runs on PostgreSQL.
pub fn sqlite_file(dir: &Path) -> Result<PathBuf, MigrateError> {
    let config = Config::load(dir)?;
    match config.database_location(dir) {
        Location::File(path) => Ok(path),
        Location::Postgres(_) => Err(MigrateError::Refused(format!(
            "{} already uses PostgreSQL ({}): there is nothing to migrate; nothing was changed",
            dir.display(),
            config.database_location(dir)
        ))),
    }
}

/// Copies the node in `dir` into the empty PostgreSQL database `to`, verifies the copy, and
/// switches `custos.toml` to it. `progress` is told each step as it happens.
pub async fn migrate(
    dir: &Path,
    to: &str,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Migrated, MigrateError> {
    let target_location = Location::parse(dir, to);
    let Location::Postgres(setting) = &target_location else {
        return Err(MigrateError::Refused(format!(
            "--to {to:?} is not a PostgreSQL URL (postgresql://user@host:5432/name); nothing was changed"
        )));
    };
    let old_database = sqlite_file(dir)?;
    // Before anything is created in it: a database holding anything is not taken.
    let held = custos_store::postgres_contents(to)
        .await
        .map_err(|e| unreachable(&target_location, e))?;
    if !held.is_empty() {
        return Err(MigrateError::Refused(
            CopyError::NotEmpty(held).to_string() + &format!(" (target {target_location})"),
        ));
    }
    let nd = NodeDir::open(dir).await?;
    let result = run(&nd, &target_location, setting, &old_database, progress).await;
    nd.close().await;
    result
}

fn unreachable(location: &Location, e: StoreError) -> MigrateError {
    match e {
        StoreError::Location(detail) => MigrateError::Refused(format!("--to: {detail}")),
        e => MigrateError::Setup(anyhow::anyhow!(
            "cannot use the PostgreSQL database {location}: {e}. Is the server running, and does the database exist (createdb NAME)? Nothing was changed"
        )),
    }
}

async fn run(
    nd: &NodeDir,
    target_location: &Location,
    setting: &str,
    old_database: &Path,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Migrated, MigrateError> {
    let dir = nd.dir();
    let vkey = nd.key()?.verifier();
    let target = Store::open(target_location, false)
        .await
        .map_err(|e| unreachable(target_location, e))?;
    // Held to the end (dropped without commit: it writes nothing).
    let mut lock = nd.store().begin().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot take the write lock of {}: {e}",
            old_database.display()
        )
    })?;
    progress(format!(
        "holding the write lock of {}: nothing is appended until the migration ends",
        old_database.display()
    ));

    // The source as the node signed it.
    let leaves = lock
        .leaves_from(0)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the log: {e}"))?;
    let mut tree = MerkleTree::new(MemoryStore::new());
    let hashes: Vec<_> = leaves.iter().map(|(_, l)| leaf_hash(l)).collect();
    tree.append_leaf_hashes(&hashes)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let size = hashes.len() as u64;
    let root = tree.root().map_err(|e| anyhow::anyhow!("{e}"))?;
    let latest = lock
        .latest_checkpoint()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the checkpoints: {e}"))?;
    let head = integrity::read_head(dir).map_err(anyhow::Error::from)?;
    let signed = integrity::check_history(
        size,
        |s| tree.root_at(s).ok(),
        latest.as_ref(),
        head.as_deref(),
        &nd.config().origin,
        &vkey,
    )
    .map_err(|e| MigrateError::Mismatch {
        summary: format!(
            "the source does not agree with the node's signatures: {e} Nothing was copied"
        ),
        findings: vec![e.to_string()],
    })?;
    progress(format!(
        "source: {size} events, tree root {} (the latest signed checkpoint's)",
        root.to_base64()
    ));

    let tables = match lock.copy_into(&target).await {
        Ok(t) => t,
        Err(CopyError::NotEmpty(held)) => {
            target.close().await;
            return Err(MigrateError::Refused(CopyError::NotEmpty(held).to_string()));
        }
        Err(CopyError::Store(StoreError::Corrupt { what, detail })) => {
            target.close().await;
            return Err(MigrateError::Mismatch {
                summary: format!(
                    "the source holds a value no node writes ({what}: {detail}); the target was left as it was"
                ),
                findings: vec![format!("{what}: {detail}")],
            });
        }
        Err(e) => {
            target.close().await;
            return Err(MigrateError::Setup(anyhow::anyhow!(
                "the copy failed and was rolled back (the target was left as it was): {e}"
            )));
        }
    };
    for t in &tables {
        progress(format!("copied {} row(s) of {}", t.rows, t.table));
    }

    let verified = verify(nd, &target, &mut lock, size, root, signed.as_ref()).await;
    let findings = match verified {
        Ok(f) => f,
        Err(e) => vec![format!("the verification could not run: {e:#}")],
    };
    if !findings.is_empty() {
        let emptied = target.empty_copy_target().await;
        target.close().await;
        let fate = match emptied {
            Ok(()) => "the target was emptied again (its tables stay, without rows)".to_owned(),
            Err(e) => format!("the target could not be emptied ({e}): drop it or empty it by hand"),
        };
        return Err(MigrateError::Mismatch {
            summary: format!(
                "the copy does not verify ({} problem(s)); {fate}; {} is still the node's database",
                findings.len(),
                old_database.display()
            ),
            findings,
        });
    }
    progress(
        "verified: the target's tree root equals the source's and the signed checkpoint's, every commitment opens, every event row is equal, and the audit passes"
            .to_owned(),
    );

    if let Err(e) = config::set_database(dir, setting) {
        let _ = target.empty_copy_target().await;
        target.close().await;
        return Err(MigrateError::Setup(e.context(
            "the copy verified, but the configuration could not be switched (it is unchanged; the target was emptied again)",
        )));
    }
    drop(lock);
    target.close().await;
    Ok(Migrated {
        tables,
        size,
        root,
        old_database: old_database.to_owned(),
        target: target_location.to_string(),
    })
}

/// Every check of the target; each finding named.
async fn verify(
    nd: &NodeDir,
    target: &Store,
    lock: &mut custos_store::Batch,
    size: u64,
    root: Hash,
    signed: Option<&custos_ledger::Checkpoint>,
) -> anyhow::Result<Vec<String>> {
    let mut findings = Vec::new();
    // The tree over the target's leaves.
    let mut tree = MerkleTree::new(MemoryStore::new());
    let mut next = 0;
    loop {
        let leaves = target.leaves(next, next + 10_000).await?;
        if leaves.is_empty() {
            break;
        }
        let hashes: Vec<_> = leaves.iter().map(|l| leaf_hash(l)).collect();
        tree.append_leaf_hashes(&hashes)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        next += leaves.len() as u64;
    }
    let target_root = tree.root().map_err(|e| anyhow::anyhow!("{e}"))?;
    if next != size || target_root != root {
        findings.push(format!(
            "the target's {next} leaves give root {}, the source's {size} give {}",
            target_root.to_base64(),
            root.to_base64()
        ));
    }
    if let Some(cp) = signed
        && (cp.size != next || cp.root != target_root)
    {
        findings.push(format!(
            "the latest signed checkpoint is of size {} with root {}; the target's leaves do not give it",
            cp.size,
            cp.root.to_base64()
        ));
    }
    // Byte for byte against the source.
    findings.extend(lock.copy_differences(target).await?);
    // What `custos audit` checks, on the target: every commitment reopened from its row, every
    // signed root against the tree (done once, here, not again beside it).
    if findings.is_empty() {
        let report =
            crate::audit::audit_store(nd.dir(), nd.config(), target, &nd.key()?.verifier()).await?;
        findings.extend(
            report
                .findings
                .into_iter()
                .map(|f| format!("audit ({}): {}", f.kind, f.detail)),
        );
    }
    Ok(findings)
}
