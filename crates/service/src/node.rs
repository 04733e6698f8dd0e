//! A running node: its configuration, store, log, writer, directory and token cache.
//! [`Node::open`] assembles it from a node directory made by `custos init`; its scheduler is in
//! `scheduler.rs`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use custos_safeguards::{Assessor, Jurisdiction, Profile};
use custos_store::Store;

use crate::auth::TokenCache;
use crate::config::Config;
use crate::directory::Directory;
use crate::log::NodeLog;
use crate::node_dir::NodeDir;
use crate::ops::LifecycleRules;
use crate::query::Queries;
use crate::replay::{Projections, Registry, Signatures};
use crate::writer::{self, Job, WriterHandle};

pub use crate::integrity::read_key;

/// Everything the HTTP handlers share.
pub struct Node {
    /// The configuration.
    pub config: Config,
    /// The node directory.
    pub dir: PathBuf,
    /// The database.
    pub store: Store,
    /// The Merkle log.
    pub log: Arc<NodeLog>,
    /// The single writer.
    pub writer: WriterHandle,
    /// The safeguards engine with the operator's profile (shared with the writer, which
    /// re-assesses reclassified requests).
    pub assessor: Arc<Assessor>,
    /// Cached directory of authorities.
    pub directory: Arc<Directory>,
    /// Verified API tokens.
    pub tokens: TokenCache,
    /// The time the node's rules and pages read (the writer's clock; tests inject theirs).
    pub clock: crate::clock::Clock,
    /// The witnesses that cosign the node's checkpoints, and the newest cosigned one
    /// (`cosigning.rs`).
    pub witnesses: Arc<crate::cosigning::Witnesses>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Rebuilds every projection from the events and compares it with the tables; returns the
/// directory and users as the log has them, and the number of events folded. Any difference
/// refuses the start: the tables were edited outside the node, and `custos audit` names each row.
async fn check_projections(store: &Store) -> anyhow::Result<(Registry, u64)> {
    let mut p = Projections::default();
    let mut next = 0;
    loop {
        let page = store.events(next, 10_000).await?;
        let Some(last) = page.last() else { break };
        next = last.seq + 1;
        for e in &page {
            p.apply(e, Signatures::Decode);
        }
    }
    let tables = crate::audit::read_tables(store).await?;
    let mut findings = std::mem::take(&mut p.findings);
    findings.extend(p.diff(&tables));
    if let Some(first) = findings.first() {
        anyhow::bail!(
            "its tables do not match its signed log ({} difference(s); the first: {first}). Run `custos audit --dir …` to see them all.",
            findings.len()
        );
    }
    Ok((p.registry, next))
}

/// [`check_projections`], also while other processes of the node write: a difference seen
/// while the log grew may be rows of events committed after the fold read them, so the check
/// runs again with the write lock held (other writers wait for the length of one check).
async fn check_projections_beside_writers(store: &Store) -> anyhow::Result<(Registry, u64)> {
    let before = store.log_size().await?;
    match check_projections(store).await {
        Ok(checked) => Ok(checked),
        Err(_) if store.log_size().await? != before => {
            let hold = store.begin().await?;
            let checked = check_projections(store).await;
            drop(hold);
            checked
        }
        Err(e) => Err(e),
    }
}

/// Loads a profile by built-in name or `.cedar` path (relative to the node directory).
pub fn load_profile(dir: &Path, spec: &str) -> anyhow::Result<Profile> {
    if custos_safeguards::BUILTIN_PROFILES.contains(&spec) {
        return Ok(Profile::builtin(spec)?);
    }
    let path = dir.join(spec);
    let source = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the profile {}", path.display()))?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("custom");
    Ok(Profile::from_cedar(
        &source,
        &path.display().to_string(),
        name,
    )?)
}

/// Loads the node's jurisdiction file (relative to the node directory), or the built-in default
/// when the configuration names none.
pub fn load_jurisdiction(dir: &Path, config: &Config) -> anyhow::Result<Jurisdiction> {
    match &config.jurisdiction {
        None => Ok(Jurisdiction::default()),
        Some(p) => {
            let path = dir.join(p);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok(Jurisdiction::from_toml(&text).with_context(|| format!("{}", path.display()))?)
        }
    }
}

/// How often a process looks for events other processes appended: a write through one is
/// served with its checkpoint by every other well within a second.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

/// How the directory asks for other processes' events: the writer's `Job::Sync`, and for a
/// refresh only when the database holds events the log has not taken in.
#[derive(Debug)]
struct Follower {
    writer: WriterHandle,
    store: Store,
    log: Arc<NodeLog>,
}

impl crate::directory::CatchUp for Follower {
    fn catch_up(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), crate::problem::Problem>> + Send + '_>>
    {
        Box::pin(self.writer.call(Job::Sync))
    }

    fn refresh(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), crate::problem::Problem>> + Send + '_>>
    {
        Box::pin(async move {
            if self.store.log_size().await? > self.log.tree_size() {
                self.writer.call(Job::Sync).await?;
            }
            Ok(())
        })
    }
}

/// A checkpoint as served to the public ([`Node::served_checkpoint`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedCheckpoint {
    /// The signed note, with any witnesses' cosignature lines.
    pub note: String,
    /// Its tree size.
    pub size: u64,
    /// When the node signed it, when known.
    pub signed_at: Option<jiff::Timestamp>,
}

impl Node {
    /// Typed reads of this node's records.
    pub fn query(&self) -> Queries<'_> {
        Queries::new(&self.store)
    }

    /// The console's sessions and sign-in counts, in the node's database (not events).
    pub fn console_state(&self) -> crate::console_state::ConsoleState {
        crate::console_state::ConsoleState::new(self.store.clone())
    }

    /// The node's time now: what deadlines shown to people are measured against.
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// The checkpoint `/log/checkpoint` serves: with witnesses, the newest one cosigned by a
    /// quorum (the node's signature line, then the witnesses'); until there is one, or without
    /// witnesses, the node's own latest. Public records' proofs and the `/log` page use the
    /// same, so cosignatures come along wherever a checkpoint is shown.
    pub fn served_checkpoint(&self) -> Option<ServedCheckpoint> {
        let own = self.log.checkpoint();
        if let Some(c) = self.witnesses.cosigned() {
            // The signing time is known when the cosigned one is also the node's latest.
            let signed_at = own.filter(|o| o.size == c.size).map(|o| o.signed_at);
            return Some(ServedCheckpoint {
                note: c.note,
                size: c.size,
                signed_at,
            });
        }
        own.map(|o| ServedCheckpoint {
            note: o.note,
            size: o.size,
            signed_at: Some(o.signed_at),
        })
    }

    /// Closes the database once the node has stopped serving.
    pub async fn close(&self) {
        self.store.close().await;
    }
}

impl Node {
    /// Opens the node in `dir` and starts its writer, on the system clock.
    pub async fn open(dir: &Path) -> anyhow::Result<Arc<Node>> {
        Node::open_with_clock(dir, crate::clock::Clock::system()).await
    }

    /// Opens the node in `dir` with its writer and pages reading `clock` (tests: a
    /// `ManualClock`).
    pub async fn open_with_clock(
        dir: &Path,
        clock: crate::clock::Clock,
    ) -> anyhow::Result<Arc<Node>> {
        let (_, config, key, store) = NodeDir::open(dir).await?.into_parts();
        let key = key.context("the node key is missing")?;
        let profile = load_profile(dir, &config.profile)?;
        let jurisdiction = load_jurisdiction(dir, &config)?;
        let assessor = Arc::new(Assessor::new(profile, jurisdiction));
        // Nothing is served from a history the node's own signatures contradict, nor from
        // tables that contradict the history.
        let head = crate::integrity::read_head(dir)?;
        let log = Arc::new(
            NodeLog::load(&store, &config.origin, key, head.as_deref())
                .await
                .with_context(|| format!("the node in {} refuses to start", dir.display()))?,
        );
        let (registry, folded) = check_projections_beside_writers(&store)
            .await
            .with_context(|| format!("the node in {} refuses to start", dir.display()))?;
        let vkey_path = dir.join(crate::integrity::VERIFIER_FILE);
        if !vkey_path.exists() {
            std::fs::write(&vkey_path, format!("{}\n", log.verifier()))
                .with_context(|| format!("cannot write {}", vkey_path.display()))?;
        }
        let directory = Arc::new(Directory::folded_to(registry, folded));
        let witnesses = Arc::new(crate::cosigning::Witnesses::load(dir, &config, &log)?);
        let writer = writer::spawn(
            store.clone(),
            log.clone(),
            writer::WriterContext {
                rules: LifecycleRules::of(config.lifecycle.preservation_days, &assessor)
                    .warning(config.lifecycle.lapse_warning_days)
                    .with_order_due_hours(config.lifecycle.order_due_hours),
                directory: directory.clone(),
                dir: dir.to_owned(),
                clock: clock.clone(),
                assessor: assessor.clone(),
            },
        );
        directory.attach(Follower {
            writer: writer.clone(),
            store: store.clone(),
            log: log.clone(),
        });
        let node = Arc::new(Node {
            config,
            dir: dir.to_owned(),
            store,
            log,
            writer,
            assessor,
            directory,
            tokens: TokenCache::default(),
            clock,
            witnesses,
        });
        // Sign a checkpoint for whatever the database holds (events appended offline).
        node.writer.call(Job::Sync).await?;
        node.start_notifications().await?;
        // Node directories older than the head file get one now.
        if head.is_none()
            && let Some(cp) = node.log.checkpoint()
        {
            crate::integrity::write_head(dir, &cp.note)
                .with_context(|| format!("cannot write the head file in {}", dir.display()))?;
        }
        Ok(node)
    }

    /// Follows the database for events other processes appended (`custos authority add`,
    /// `custos evidence seal`, other `custos serve` processes on the same PostgreSQL
    /// database): every [`FOLLOW_INTERVAL`], and when there are any, has the writer take them
    /// into the tree (serving the checkpoint that covers them), so they are provable through
    /// this process within a second.
    pub async fn follow_database(self: Arc<Self>) {
        // Said once when the database goes away and once when it is back, not four times a
        // second while it is down.
        let mut failing = false;
        loop {
            tokio::time::sleep(FOLLOW_INTERVAL).await;
            let outcome = match self.store.log_size().await {
                Ok(size) if size > self.log.tree_size() => {
                    self.writer.call(Job::Sync).await.map_err(|p| p.to_string())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "could not follow the database for other processes' events; retrying");
                }
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("following the database again");
                }
                _ => {}
            }
        }
    }
}
