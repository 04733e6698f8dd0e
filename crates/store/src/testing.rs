//! Test databases (feature `testing`, for tests only): a fresh database of either backend,
//! removed when dropped, so the store's and the service's tests run against both engines.
//!
//! PostgreSQL is the real server (`CUSTOS_TEST_POSTGRES`, default
//! `postgresql://postgres@127.0.0.1:5432`, trust authentication): each test creates its own
//! database and drops it afterwards. No server is a failure with the way to start one, never a
//! silent pass.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection as _;

use crate::{Backend, Location, Store};

/// The server tests use when `CUSTOS_TEST_POSTGRES` is not set.
pub const DEFAULT_SERVER: &str = "postgresql://postgres@127.0.0.1:5432";

/// The PostgreSQL server for tests (without a database name).
pub fn server() -> String {
    std::env::var("CUSTOS_TEST_POSTGRES")
        .unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A database made for one test: an SQLite file in a temporary directory, or a new database
/// on the PostgreSQL server, dropped with this value.
pub struct TestDatabase {
    location: Location,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// A new, empty database of `backend`.
    pub async fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                TestDatabase {
                    location: Location::File(dir.path().join("custos.db")),
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "custos_test_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                create_database(&name).await;
                TestDatabase {
                    location: Location::Postgres(format!("{}/{name}", server())),
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// Where it is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The `database` setting of `custos.toml` for it (a PostgreSQL URL, or the SQLite file's
    /// absolute path).
    pub fn setting(&self) -> String {
        match &self.location {
            Location::File(p) => p.display().to_string(),
            Location::Postgres(url) => url.clone(),
        }
    }

    /// The SQLite file, if it is one.
    pub fn file(&self) -> Option<PathBuf> {
        match &self.location {
            Location::File(p) => Some(p.clone()),
            Location::Postgres(_) => None,
        }
    }

    /// Opens it (creating the SQLite file, migrating either).
    pub async fn open(&self) -> Store {
        Store::open(&self.location, true)
            .await
            .expect("open the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop may run inside a runtime: the drop gets its own thread and runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(mut c) = admin().await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut c)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

async fn admin() -> Result<sqlx::PgConnection, sqlx::Error> {
    sqlx::PgConnection::connect(&format!("{}/postgres", server())).await
}

async fn create_database(name: &str) {
    let mut c = admin().await.unwrap_or_else(|e| {
        panic!(
            "the PostgreSQL half of the tests needs a server at {} ({e}). Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
             (scripts/setup does), or point CUSTOS_TEST_POSTGRES at one \
             (postgresql://user@host:port, allowed to create databases).",
            server()
        )
    });
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
}

/// Both backends, for tests that run once on each.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];
