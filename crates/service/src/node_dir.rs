//! A node directory opened once: its configuration, its signing key and its database. The
//! running node (`Node::open`) and every command run beside it (`custos authority`,
//! `user`, `evidence seal`, `audit`, `log open`) start here, so each opens the same files the
//! same way.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use custos_ledger::{SignerKey, VerifierKey};
use custos_store::Store;

use crate::config::Config;
use crate::query::Queries;

/// An opened node directory.
pub struct NodeDir {
    dir: PathBuf,
    config: Config,
    /// `None` when opened for reading only: an auditor's copy need not hold the secret key.
    key: Option<SignerKey>,
    store: Store,
}

impl std::fmt::Debug for NodeDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeDir")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl NodeDir {
    /// Opens the node in `dir`: `custos.toml`, the node key, the database.
    pub async fn open(dir: &Path) -> anyhow::Result<NodeDir> {
        let config = Config::load(dir)?;
        let key = crate::integrity::read_key(&dir.join(&config.key))?;
        Self::with_store(dir, config, Some(key)).await
    }

    /// Opens the node in `dir` without its key, for reads (`custos audit`, `custos log open`,
    /// `custos authority list`) that an outside auditor may run on a copy of the directory.
    pub async fn open_to_read(dir: &Path) -> anyhow::Result<NodeDir> {
        let config = Config::load(dir)?;
        Self::with_store(dir, config, None).await
    }

    async fn with_store(
        dir: &Path,
        config: Config,
        key: Option<SignerKey>,
    ) -> anyhow::Result<NodeDir> {
        let location = config.database_location(dir);
        let store = Store::open(&location, false)
            .await
            .with_context(|| format!("cannot open the database {location}"))?;
        Ok(NodeDir {
            dir: dir.to_owned(),
            config,
            key,
            store,
        })
    }

    /// Creates the empty database of a new node (`custos init`).
    pub async fn create_database(dir: &Path, config: &Config) -> anyhow::Result<()> {
        let location = config.database_location(dir);
        let store = Store::open(&location, true)
            .await
            .with_context(|| format!("cannot create the database {location}"))?;
        // A server's database may already hold a node: one log per database, never two.
        let held = store.log_size().await?;
        store.close().await;
        if held > 0 {
            anyhow::bail!(
                "the database {location} already holds a log of {held} events: give a new, empty database (createdb NAME)"
            );
        }
        Ok(())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The node's signing key.
    pub fn key(&self) -> anyhow::Result<&SignerKey> {
        self.key.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "{} was opened without its node key (internal error)",
                self.dir.display()
            )
        })
    }

    /// The node's verifier key: `vkey` if given (a key, or a file holding one), else the one
    /// the directory keeps (see [`crate::integrity::verifier_key`]).
    pub fn verifier_key(&self, vkey: Option<&str>) -> anyhow::Result<VerifierKey> {
        crate::integrity::verifier_key(&self.dir, &self.config.key, vkey)
    }

    /// Typed reads of the node's records.
    pub fn query(&self) -> Queries<'_> {
        Queries::new(&self.store)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Its parts, for `Node::open`.
    pub(crate) fn into_parts(self) -> (PathBuf, Config, Option<SignerKey>, Store) {
        (self.dir, self.config, self.key, self.store)
    }

    /// Closes the database, waiting for its connections to finish.
    pub async fn close(self) {
        self.store.close().await;
    }
}
