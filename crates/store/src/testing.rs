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

/// The variable that picks the backend of tests run once, on one of them (the service's).
pub const BACKEND_VAR: &str = "CUSTOS_TEST_BACKEND";

/// The backend named by `CUSTOS_TEST_BACKEND`: `sqlite` (also when it is not set) or
/// `postgres`. Any other value, an empty one included, panics: a typo must not quietly run
/// the SQLite half twice.
pub fn backend_from_env() -> Backend {
    match std::env::var(BACKEND_VAR) {
        Err(std::env::VarError::NotPresent) => Backend::Sqlite,
        Ok(v) => parse_backend(&v).unwrap_or_else(|e| panic!("{e}")),
        Err(std::env::VarError::NotUnicode(v)) => {
            panic!("{BACKEND_VAR}={v:?} is not UTF-8: set it to `sqlite` or `postgres`")
        }
    }
}

/// `sqlite` or `postgres`, as `CUSTOS_TEST_BACKEND` names them.
pub fn parse_backend(value: &str) -> Result<Backend, String> {
    match value {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" => Ok(Backend::Postgres),
        other => Err(format!(
            "{BACKEND_VAR}={other:?} names no backend: set it to `sqlite` or `postgres`, \
             or unset it for `sqlite`"
        )),
    }
}

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
    /// A new database of `backend`: on PostgreSQL already holding the schema (a copy of the
    /// migrated template), on SQLite nothing yet ([`TestDatabase::open`] migrates either).
    pub async fn new(backend: Backend) -> TestDatabase {
        TestDatabase::make(backend, true).await
    }

    /// A new database without any table, e.g. to restore a dump into.
    pub async fn empty(backend: Backend) -> TestDatabase {
        TestDatabase::make(backend, false).await
    }

    async fn make(backend: Backend, with_schema: bool) -> TestDatabase {
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
                create_database(&name, with_schema).await;
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

async fn create_database(name: &str, with_schema: bool) {
    let mut c = admin().await.unwrap_or_else(|e| {
        panic!(
            "the PostgreSQL half of the tests needs a server at {} ({e}). Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
             (scripts/setup does), or point CUSTOS_TEST_POSTGRES at one \
             (postgresql://user@host:port, allowed to create databases).",
            server()
        )
    });
    let sql = if with_schema {
        let template = TEMPLATE
            .get_or_init(|| async { make_template().await })
            .await;
        format!("CREATE DATABASE {name} TEMPLATE {template}")
    } else {
        format!("CREATE DATABASE {name}")
    };
    sqlx::query(&sql)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
}

/// The migrated template of this process's test databases, once made or found.
static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// A database holding the schema of the PostgreSQL migrations, which each test database
/// copies: migrating every test's database from nothing took most of a test's time (0.3 to
/// 0.7 s). It is named by the migrations' checksums, so a changed schema gets a new one, and
/// kept on the server for the next run (drop `custos_template_*` by hand to reclaim it).
async fn make_template() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a: stable across builds, unlike std's
    for m in crate::PG_MIGRATIONS.iter() {
        for b in m.version.to_le_bytes().iter().chain(m.checksum.iter()) {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let name = format!("custos_template_{hash:016x}");
    let mut c = admin().await.expect("the server answered a moment ago");
    // One process builds it, the others wait (a lock of the session, across processes).
    sqlx::query("SELECT pg_advisory_lock(hashtext('custos test template'))")
        .execute(&mut c)
        .await
        .expect("the template's lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut c)
            .await
            .expect("look for the template");
    if !exists {
        // Built under another name and renamed, so a run that dies half-way leaves no
        // template that looks finished.
        let building = format!("{name}_{}", std::process::id());
        for sql in [
            format!("DROP DATABASE IF EXISTS {building}"),
            format!("CREATE DATABASE {building}"),
        ] {
            sqlx::query(&sql)
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("cannot build the test template ({sql}): {e}"));
        }
        let store = Store::open_postgres(&format!("{}/{building}", server()))
            .await
            .expect("migrate the test template");
        store.close().await;
        sqlx::query(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut c)
            .await
            .expect("name the test template");
    }
    sqlx::query("SELECT pg_advisory_unlock(hashtext('custos test template'))")
        .execute(&mut c)
        .await
        .expect("the template's lock");
    name
}

/// Both backends, for tests that run once on each.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];
