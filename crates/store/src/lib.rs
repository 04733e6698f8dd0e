//! `custos-store`: where a Custos node keeps what it knows.
//!
//! One table is the truth: `events`, appended in log order and never changed. Everything else
//! (cases, preservation holds, notices, the directory of authorities, users) is a *projection*
//! of those events, updated in the same transaction that appends the event causing the change,
//! and signed checkpoints are kept so an audit can compare every root the node ever published.
//!
//! Callers see a narrow interface, not SQL: [`Store`] for reads and [`Batch`] for one atomic unit
//! of writes. A batch is a single `BEGIN IMMEDIATE` transaction, so any number of processes (the
//! service, `custos authority add` run beside it) can append without reordering the log; each
//! batch first learns the log size from the database itself. Savepoints let one batch carry
//! several independent jobs, each of which can fail alone (group commit).
//!
//! SQLite (WAL, `synchronous=FULL`) is the embedded default; PostgreSQL is the scale-out
//! store, where several `custos serve` processes share one database. Nothing above this crate
//! names a database: callers open a [`Location`] and get the same [`Store`] (`backend.rs`).

mod backend;
mod column;
mod copy;
mod notifications;
mod report;
#[cfg(all(test, feature = "synthetic"))]
mod report_tests;
mod rows;
mod sessions;
#[cfg(test)]
mod sessions_tests;
mod supplements;
#[cfg(feature = "synthetic")]
mod synthetic;
#[cfg(feature = "testing")]
pub mod testing;

pub use backend::Backend;
pub use copy::{CopyError, TableRows, postgres_contents};
pub use notifications::NotificationCursor;
pub use report::ReportCounts;
pub use rows::*;
pub use sessions::{ConsoleSession, Reservation, SignInCounts};

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::LazyLock;
use std::time::Duration;

use backend::{Conn, Pool, Tx, on_conn, on_pool, on_tx};
use custos_ledger::commitment::{PublicRecord, Salt, canonicalize, commit_canonical};
use jiff::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;

/// Errors of the store. Each says what failed; none carries request contents.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or a statement failed.
    #[error("database: {0}")]
    Database(sqlx::Error),
    /// The database server cannot be reached now (down, restarting, out of connections):
    /// nothing was changed, and the same call may succeed later.
    #[error("the database is unavailable, retry later: {0}")]
    Unavailable(sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// An event could not be committed to (bad type, unserialisable body).
    #[error("event could not be logged: {0}")]
    Event(String),
    /// A stored value does not parse: the database was edited or is corrupt.
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt {
        /// Which value (the column).
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The database location in the configuration is not one the store can open.
    #[error("{0}")]
    Location(String),
}

impl StoreError {
    /// Whether the failure is the database being out of reach (a retry may succeed), rather
    /// than a statement or the data being wrong.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match e {
            // A column that does not read as its type (`column.rs`, a JSON document).
            sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt {
                what: index.trim_matches('"').to_owned(),
                detail: source.to_string(),
            },
            e if unavailable(&e) => StoreError::Unavailable(e),
            e => StoreError::Database(e),
        }
    }
}

/// The server is gone or refusing connections: I/O, the pool, or PostgreSQL's connection
/// exceptions (class 08) and shutdown states (57P01 to 57P03).
fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
pub(crate) static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The key of the PostgreSQL advisory lock every write batch takes ("custos" in ASCII): the
/// one write order of the log across processes.
const WRITE_LOCK: i64 = 0x6375_7374_6f73;
/// The session advisory lock held by the process that runs the scheduler ([`Lease`]).
const SCHEDULER_LOCK: i64 = 0x6375_7374_6f74;

/// The scheduler's lease ([`Store::scheduler_lease`]): while it is held, no other process of
/// the node runs scheduler passes.
#[derive(Debug)]
pub struct Lease {
    /// The connection holding the PostgreSQL session lock (none on SQLite).
    conn: Option<sqlx::PgConnection>,
}

impl Lease {
    /// Whether the lease still holds: its connection answers (a server restart ends the session
    /// and with it the lock, which another process may then take).
    pub async fn holds(&mut self) -> bool {
        match &mut self.conn {
            None => true,
            Some(c) => sqlx::Connection::ping(c).await.is_ok(),
        }
    }
}

/// How a PostgreSQL batch starts: its transaction and the write lock, in one round trip.
static PG_BEGIN: LazyLock<String> =
    LazyLock::new(|| format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"));

/// Where a node's database is: the `database` setting of `custos.toml`.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file.
    File(PathBuf),
    /// A PostgreSQL database, by its connection URL (`postgresql://user@host:port/name`).
    Postgres(String),
}

impl Location {
    /// Reads a `database` setting: a `postgresql://` or `postgres://` URL, or a file path,
    /// relative to the node directory `dir`.
    pub fn parse(dir: &Path, setting: &str) -> Location {
        if setting.starts_with("postgresql://") || setting.starts_with("postgres://") {
            Location::Postgres(setting.to_owned())
        } else {
            Location::File(dir.join(setting))
        }
    }

    /// The backend this location needs.
    pub fn backend(&self) -> Backend {
        match self {
            Location::File(_) => Backend::Sqlite,
            Location::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Shown without the URL's password.
impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// Shown without the URL's password.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => match url.split_once('@') {
                Some((userinfo, rest)) => match userinfo.split_once("://") {
                    Some((scheme, user)) => {
                        let user = user.split(':').next().unwrap_or_default();
                        write!(f, "{scheme}://{user}@{rest}")
                    }
                    None => write!(f, "{rest}"),
                },
                None => write!(f, "{url}"),
            },
        }
    }
}

/// The node's database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Opens the database at `location` and applies pending migrations. With `create`, a
    /// missing SQLite file is created; a PostgreSQL database must exist (the operator's
    /// platform creates databases), and gets its tables on first open.
    pub async fn open(location: &Location, create: bool) -> Result<Store> {
        match location {
            Location::File(path) => Store::open_sqlite(path, create).await,
            Location::Postgres(url) => Store::open_postgres(url).await,
        }
    }

    /// Opens (and with `create`, creates) the SQLite database at `path`, in WAL mode with full
    /// fsync on commit, and applies pending migrations.
    pub async fn open_sqlite(path: &Path, create: bool) -> Result<Store> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            // An acknowledged request must survive a crash of the process and of the machine.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATIONS.run(&pool).await?;
        // Statistics for the query planner (ANALYZE where a table changed enough, bounded by
        // SQLite's analysis limit): the report's counts jump from group to group in the period
        // only with them, instead of reading the whole history's index. Best effort: a database
        // opened without write access still opens.
        let _ = sqlx::query("PRAGMA optimize=0x10002").execute(&pool).await;
        Ok(Store {
            pool: Pool::Sqlite(pool),
        })
    }

    /// Opens the PostgreSQL database at `url` (which must exist) and applies pending
    /// migrations (under PostgreSQL's own advisory lock, so processes starting together
    /// migrate once).
    pub async fn open_postgres(url: &str) -> Result<Store> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Location(format!("the database URL does not parse: {e}")))?
            .application_name("custos")
            // The server's notices ("relation already exists, skipping" at each start) are
            // not the operator's concern.
            .options([("client_min_messages", "warning")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            // A server that is down fails a call within seconds instead of hanging it (the
            // service answers 503 with Retry-After).
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        PG_MIGRATIONS.run(&pool).await?;
        Ok(Store {
            pool: Pool::Postgres(pool),
        })
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// Starts a batch: one write transaction that holds the log's write lock.
    pub async fn begin(&self) -> Result<Batch> {
        let tx = match &self.pool {
            // IMMEDIATE takes the write lock now, so the log size read first is still the size
            // when the batch commits, whoever else writes to the database.
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            // PostgreSQL has no database-wide write lock: every batch of every process takes
            // the same transaction-scoped advisory lock first, so batches run one at a time in
            // one order, and (READ COMMITTED) each sees every batch committed before it.
            // Both statements go in one message: one round trip to the server, not two.
            Pool::Postgres(p) => Tx::Postgres(p.begin_with(&*PG_BEGIN).await?),
        };
        Ok(Batch {
            tx,
            next_seq: None,
            next_case: None,
            at_savepoint: (None, None),
            unreleased: false,
        })
    }

    /// Tries to become the one process of the node that runs the scheduler. On PostgreSQL a
    /// session advisory lock on a connection of its own, held as long as the [`Lease`] (and
    /// released by the server when the process dies or loses its connection); `None` while
    /// another process holds it. On SQLite (one serving process per file) always granted.
    pub async fn scheduler_lease(&self) -> Result<Option<Lease>> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(Some(Lease { conn: None })),
            Pool::Postgres(p) => {
                let mut conn = p.acquire().await?;
                let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(SCHEDULER_LOCK)
                    .fetch_one(&mut *conn)
                    .await?;
                // Granted, the connection leaves the pool with its session lock; refused, it
                // goes back holding nothing.
                Ok(held.then(|| Lease {
                    conn: Some(conn.detach()),
                }))
            }
        }
    }

    /// Number of events in the log.
    pub async fn log_size(&self) -> Result<u64> {
        let mut conn = self.pool.acquire().await?;
        log_size(conn.conn()).await
    }

    /// The leaf bytes of events `start..end`, in order.
    pub async fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let rows: Vec<Vec<u8>> = on_pool!(&self.pool, p => sqlx::query_scalar("SELECT leaf FROM events WHERE seq >= $1 AND seq < $2 ORDER BY seq")
            .bind(start as i64)
            .bind(end as i64)
            .fetch_all(p)
            .await?);
        Ok(rows)
    }

    /// Every stored event from `start` on, in order, for audits and catch-up.
    pub async fn events(&self, start: u64, limit: u64) -> Result<Vec<StoredEvent>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE seq >= $1 ORDER BY seq LIMIT $2",
        )
        .bind(start as i64)
        .bind(limit as i64)
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// One event by its log index.
    pub async fn event(&self, seq: u64) -> Result<Option<StoredEvent>> {
        let row = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events WHERE seq = $1",
        )
        .bind(seq as i64)
        .fetch_optional(p)
        .await?);
        Ok(row)
    }

    /// The log index of the latest event of one case (its version), if it has any.
    pub async fn case_version(&self, case_id: i64) -> Result<Option<u64>> {
        let seq: Option<i64> = on_pool!(&self.pool, p => sqlx::query_scalar(
            "SELECT MAX(seq) FROM events WHERE case_id = $1",
        )
        .bind(case_id)
        .fetch_one(p)
        .await?);
        Ok(seq.map(|s| s as u64))
    }

    /// The events of one case, in order.
    pub async fn case_events(&self, case_id: i64) -> Result<Vec<StoredEvent>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case_id)
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// The latest event of one kind of one case, if any.
    pub async fn latest_case_event(
        &self,
        case_id: i64,
        kind: custos_model::EventType,
    ) -> Result<Option<StoredEvent>> {
        let row = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE case_id = $1 AND event_type = $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(case_id)
        .bind(kind.as_str())
        .fetch_optional(p)
        .await?);
        Ok(row)
    }

    /// The `case.published` events, in log order, `offset` first, at most `limit` (the public
    /// list of case records; served by the partial index `events_published`).
    pub async fn published_events(&self, offset: u64, limit: u64) -> Result<Vec<StoredEvent>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE event_type = 'case.published' ORDER BY seq LIMIT $1 OFFSET $2",
        )
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// The arrivals of requests (`request.received`, `request.supplemented`) from log index
    /// `start` on, in log order, at most `limit`: what `custos policy diff --dir` replays.
    pub async fn arrivals(&self, start: u64, limit: u64) -> Result<Vec<StoredEvent>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE seq >= $1 AND event_type IN ('request.received', 'request.supplemented') \
             ORDER BY seq LIMIT $2",
        )
        .bind(start as i64)
        .bind(limit as i64)
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// How many `case.published` events the log holds.
    pub async fn published_count(&self) -> Result<u64> {
        let n: i64 = on_pool!(&self.pool, p => sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'case.published'")
                .fetch_one(p)
                .await?);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The latest signed checkpoint, if any.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        let row = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT size, root, note, signed_at FROM checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(p)
        .await?);
        Ok(row)
    }

    /// Every signed checkpoint, smallest first.
    pub async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as("SELECT size, root, note, signed_at FROM checkpoints ORDER BY size")
                .fetch_all(p)
                .await?);
        Ok(rows)
    }

    /// The whole directory of authorities, revoked ones included.
    pub async fn authorities(&self) -> Result<Vec<Authority>> {
        let mut conn = self.pool.acquire().await?;
        authorities(conn.conn(), None).await
    }

    /// One authority by key thumbprint.
    pub async fn authority(&self, kid: &str) -> Result<Option<Authority>> {
        let mut conn = self.pool.acquire().await?;
        Ok(authorities(conn.conn(), Some(kid)).await?.pop())
    }

    /// One case.
    pub async fn case<D: CaseDocuments>(&self, case_id: i64) -> Result<Option<Case<D>>> {
        let mut conn = self.pool.acquire().await?;
        case_by(conn.conn(), "case_id = $1", CaseKey::Id(case_id)).await
    }

    /// The case an authority opened under its request id, if any.
    pub async fn find_case<D: CaseDocuments>(
        &self,
        kid: &str,
        request_id: &str,
    ) -> Result<Option<Case<D>>> {
        let mut conn = self.pool.acquire().await?;
        case_by(
            conn.conn(),
            "authority_kid = $1 AND request_id = $2",
            CaseKey::Pair(kid, request_id),
        )
        .await
    }

    /// The cases of authority `kid` whose request names `request_id` in `follows`, by number.
    pub async fn cases_following<D: CaseDocuments>(
        &self,
        kid: &str,
        request_id: &str,
    ) -> Result<Vec<Case<D>>> {
        let mut conn = self.pool.acquire().await?;
        cases_following(conn.conn(), kid, request_id).await
    }

    /// Cases matching `filter`, soonest deadline first.
    pub async fn cases<D: CaseDocuments>(&self, filter: &CaseFilter) -> Result<Vec<Case<D>>> {
        let mut sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE 1=1");
        if filter.open_only {
            sql.push_str(" AND status NOT IN ('closed', 'refused')");
        }
        // Every value is bound, never spliced into the SQL.
        let text_filters = [
            ("authority_kid", filter.authority_kid.as_deref()),
            ("status", filter.status.map(CaseStatus::as_str)),
            ("outcome", filter.outcome.map(|o| o.as_str())),
            ("measure", filter.measure.map(|m| m.as_str())),
            ("requesting_state", filter.requesting_state.as_deref()),
            ("channel", filter.channel.map(|c| c.as_str())),
        ];
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        for (column, value) in &text_filters {
            if value.is_some() {
                sql.push_str(&format!(" AND {column} = {}", next()));
            }
        }
        if filter.emergency.is_some() {
            sql.push_str(&format!(" AND emergency = {}", next()));
        }
        match &filter.assignee {
            Some(Some(_)) => sql.push_str(&format!(" AND assignee = {}", next())),
            Some(None) => sql.push_str(" AND assignee IS NULL"),
            None => {}
        }
        let text = filter.text.as_deref().map(like_pattern);
        if text.is_some() {
            sql.push_str(&text_condition(self.pool.backend(), &next()));
        }
        let (limit, offset) = (next(), next());
        sql.push_str(&format!(
            " ORDER BY respond_by, case_id LIMIT {limit} OFFSET {offset}"
        ));
        let rows = on_pool!(&self.pool, p => {
            let mut q = sqlx::query_as(&sql);
            for (_, value) in &text_filters {
                if let Some(v) = value {
                    q = q.bind(*v);
                }
            }
            if let Some(e) = filter.emergency {
                q = q.bind(e);
            }
            if let Some(Some(name)) = &filter.assignee {
                q = q.bind(name.as_str());
            }
            if let Some(t) = &text {
                q = q.bind(t.as_str());
            }
            q.bind(filter.limit.clamp(1, 10_000) as i64)
                .bind(i64::from(filter.offset))
                .fetch_all(p)
                .await?
        });
        Ok(rows)
    }

    /// Preservation holds still in force, soonest expiry first.
    pub async fn active_holds(&self) -> Result<Vec<Hold>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT case_id, started_at, expires_at, renewals, released_at FROM holds \
             WHERE released_at IS NULL ORDER BY expires_at",
        )
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// The hold of one case, if it has one and it is still in force.
    pub async fn active_hold(&self, case_id: i64) -> Result<Option<Hold>> {
        let row = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT case_id, started_at, expires_at, renewals, released_at FROM holds \
             WHERE case_id = $1 AND released_at IS NULL",
        )
        .bind(case_id)
        .fetch_optional(p)
        .await?);
        Ok(row)
    }

    /// Notices to persons concerned: due (confidentiality ended, not yet sent) first.
    pub async fn notices(&self) -> Result<Vec<Notice>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "SELECT {NOTICE_COLUMNS} FROM notices ORDER BY due_at"
        ))
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// The notice owed on one case, if any.
    pub async fn notice(&self, case_id: i64) -> Result<Option<Notice>> {
        let row = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "SELECT {NOTICE_COLUMNS} FROM notices WHERE case_id = $1"
        ))
        .bind(case_id)
        .fetch_optional(p)
        .await?);
        Ok(row)
    }

    /// Requests for extensions waiting for a reviewer, oldest first.
    pub async fn pending_extensions(&self) -> Result<Vec<Extension>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "SELECT {EXTENSION_COLUMNS} FROM extensions WHERE status = 'pending' \
             ORDER BY extension_id"
        ))
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// The requests for extensions of one case, oldest first.
    pub async fn case_extensions(&self, case_id: i64) -> Result<Vec<Extension>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "SELECT {EXTENSION_COLUMNS} FROM extensions WHERE case_id = $1 ORDER BY extension_id"
        ))
        .bind(case_id)
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// Every request for an extension (for the audit's comparison with the events).
    pub async fn all_extensions(&self) -> Result<Vec<Extension>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "SELECT {EXTENSION_COLUMNS} FROM extensions ORDER BY extension_id"
        ))
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// Every user, by name (for the audit's comparison with the events).
    pub async fn users(&self) -> Result<Vec<User>> {
        Ok(on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT name, role, token_hash, added_at, disabled_at, password_hash FROM users ORDER BY name",
        )
        .fetch_all(p)
        .await?))
    }

    /// One user by name.
    pub async fn user(&self, name: &str) -> Result<Option<User>> {
        let row = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT name, role, token_hash, added_at, disabled_at, password_hash FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(p)
        .await?);
        Ok(row)
    }

    /// The evidence packages of a case, oldest first.
    pub async fn evidence_for_case(&self, case_id: i64) -> Result<Vec<Evidence>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE case_id = $1 ORDER BY sealed_seq"
        ))
        .bind(case_id)
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// Digests of packages whose destruction is logged (their files must be gone).
    pub async fn destroyed_evidence(&self) -> Result<Vec<String>> {
        Ok(
            on_pool!(&self.pool, p => sqlx::query_scalar("SELECT package_digest FROM evidence WHERE destroyed_at IS NOT NULL")
            .fetch_all(p)
            .await?),
        )
    }

    /// Every case, by number (for the audit's comparison with the events).
    pub async fn all_cases<D: CaseDocuments>(&self) -> Result<Vec<Case<D>>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "SELECT {CASE_COLUMNS} FROM cases ORDER BY case_id"
        ))
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// Every preservation hold, released ones included, by case.
    pub async fn all_holds(&self) -> Result<Vec<Hold>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT case_id, started_at, expires_at, renewals, released_at FROM holds ORDER BY case_id",
        )
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// Every evidence package, destroyed ones included, in log order.
    pub async fn all_evidence(&self) -> Result<Vec<Evidence>> {
        let rows = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence ORDER BY sealed_seq"
        ))
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        // Keeps the planner's statistics current for the next start (see `open_sqlite`).
        if let Pool::Sqlite(p) = &self.pool {
            let _ = sqlx::query("PRAGMA optimize").execute(p).await;
        }
        on_pool!(&self.pool, p => p.close().await);
    }
}

/// One atomic unit of writes. Dropping it without [`Batch::commit`] rolls everything back.
pub struct Batch {
    tx: Tx,
    // The log size and next case number, read once per batch and then counted here: the batch
    // holds the write lock (BEGIN IMMEDIATE), so no one else can change them meanwhile.
    next_seq: Option<u64>,
    next_case: Option<i64>,
    // Their values at the last savepoint, restored when a job is rolled back.
    at_savepoint: (Option<u64>, Option<i64>),
    // The last job's savepoint is done with but not yet released: its RELEASE goes with the next
    // job's SAVEPOINT in one round trip (on PostgreSQL each statement is one), or with COMMIT.
    unreleased: bool,
}

impl Batch {
    /// Commits every change of the batch; durable when this returns.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Marks the start of one job inside the batch.
    pub async fn savepoint(&mut self) -> Result<()> {
        self.at_savepoint = (self.next_seq, self.next_case);
        // One name for every job: each is released (here, with the next one's start) or rolled
        // back before the next starts, so savepoints never nest.
        if std::mem::take(&mut self.unreleased) {
            // A plain string is sent as it is (PostgreSQL's simple protocol), so both
            // statements go in one message.
            on_tx!(&mut self.tx, t => sqlx::Executor::execute(&mut **t, "RELEASE job; SAVEPOINT job")
                .await
                .map(drop)?);
        } else {
            on_tx!(&mut self.tx, t => sqlx::query("SAVEPOINT job").execute(&mut **t).await.map(drop)?);
        }
        Ok(())
    }

    /// Undoes everything since the last [`Batch::savepoint`].
    pub async fn rollback_job(&mut self) -> Result<()> {
        (self.next_seq, self.next_case) = self.at_savepoint;
        on_tx!(&mut self.tx, t => sqlx::query("ROLLBACK TO job")
            .execute(&mut **t)
            .await.map(drop)?);
        // Rolled back, the savepoint is empty; it is released with the next one's start.
        self.unreleased = true;
        Ok(())
    }

    /// Keeps everything since the last [`Batch::savepoint`]. Sends nothing: the savepoint is
    /// released with the next job's start, or by COMMIT, which keeps it too.
    pub async fn release_job(&mut self) -> Result<()> {
        self.unreleased = true;
        Ok(())
    }

    /// Number of events in the log, as this transaction sees it.
    pub async fn log_size(&mut self) -> Result<u64> {
        if let Some(n) = self.next_seq {
            return Ok(n);
        }
        let n = log_size(self.tx.conn()).await?;
        self.next_seq = Some(n);
        Ok(n)
    }

    /// Leaf bytes of events from `start` on (to catch up with other writers).
    pub async fn leaves_from(&mut self, start: u64) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(
            on_tx!(&mut self.tx, t => sqlx::query_as("SELECT event_type, leaf FROM events WHERE seq >= $1 ORDER BY seq")
                .bind(start as i64)
                .fetch_all(&mut **t)
                .await?),
        )
    }

    /// Events from `start` on, with their bodies (to take in what other writers appended).
    pub async fn events_from(&mut self, start: u64) -> Result<Vec<StoredEvent>> {
        let rows = on_tx!(&mut self.tx, t => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE seq >= $1 ORDER BY seq",
        )
        .bind(start as i64)
        .fetch_all(&mut **t)
        .await?);
        Ok(rows)
    }

    /// The latest event of one kind of one case, as this transaction sees it.
    pub async fn latest_case_event(
        &mut self,
        case_id: i64,
        kind: custos_model::EventType,
    ) -> Result<Option<StoredEvent>> {
        let row = on_tx!(&mut self.tx, t => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE case_id = $1 AND event_type = $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(case_id)
        .bind(kind.as_str())
        .fetch_optional(&mut **t)
        .await?);
        Ok(row)
    }

    /// Every event of one kind, in order, as this transaction sees them (a scan of the events:
    /// for kinds that are rare, such as an order falling due).
    pub async fn events_of_kind(
        &mut self,
        kind: custos_model::EventType,
    ) -> Result<Vec<StoredEvent>> {
        let rows = on_tx!(&mut self.tx, t => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE event_type = $1 ORDER BY seq",
        )
        .bind(kind.as_str())
        .fetch_all(&mut **t)
        .await?);
        Ok(rows)
    }

    /// The log index of the latest event of one case, as this transaction sees it.
    pub async fn case_version(&mut self, case_id: i64) -> Result<Option<u64>> {
        let seq: Option<i64> = on_tx!(&mut self.tx, t => sqlx::query_scalar(
            "SELECT MAX(seq) FROM events WHERE case_id = $1",
        )
        .bind(case_id)
        .fetch_one(&mut **t)
        .await?);
        Ok(seq.map(|s| s as u64))
    }

    /// The events of one case, in order, as this transaction sees them.
    pub async fn case_events(&mut self, case_id: i64) -> Result<Vec<StoredEvent>> {
        let rows = on_tx!(&mut self.tx, t => sqlx::query_as(
            "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf FROM events \
             WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case_id)
        .fetch_all(&mut **t)
        .await?);
        Ok(rows)
    }

    /// The latest signed checkpoint, as this transaction sees it.
    pub async fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>> {
        let row = on_tx!(&mut self.tx, t => sqlx::query_as(
            "SELECT size, root, note, signed_at FROM checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&mut **t)
        .await?);
        Ok(row)
    }

    /// Appends one event: draws a fresh salt, commits to the event's canonical JSON, and stores
    /// the event with its public record at the next log index.
    pub async fn append(&mut self, event: &NewEvent) -> Result<StoredEvent> {
        let seq = self.log_size().await?;
        let stored = committed_event(event, seq)?;
        on_tx!(&mut self.tx, t => sqlx::query(
            "INSERT INTO events (seq, event_type, occurred_at, case_id, body, salt, leaf) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(seq as i64)
        .bind(event.event_type.as_str())
        .bind(event.at.to_string())
        .bind(event.case_id)
        .bind(&stored.body)
        .bind(stored.salt.as_bytes().as_slice())
        .bind(&stored.leaf)
        .execute(&mut **t)
        .await.map(drop)?);
        self.next_seq = Some(seq + 1);
        Ok(stored)
    }

    /// Appends `events` at the next log indexes, in order, as [`Batch::append`] does each, in
    /// one statement (one round trip to the database for a job's events).
    pub async fn append_all(&mut self, events: &[NewEvent]) -> Result<Vec<StoredEvent>> {
        let first = self.log_size().await?;
        let stored = (first..)
            .zip(events)
            .map(|(seq, e)| committed_event(e, seq))
            .collect::<Result<Vec<_>>>()?;
        if stored.is_empty() {
            return Ok(stored);
        }
        let rows = (0..stored.len())
            .map(|i| {
                let n = 7 * i;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 7
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO events (seq, event_type, occurred_at, case_id, body, salt, leaf) VALUES {rows}"
        );
        on_tx!(&mut self.tx, t => {
            let mut q = sqlx::query(&sql);
            for e in &stored {
                q = q
                    .bind(e.seq as i64)
                    .bind(e.event_type.as_str())
                    .bind(e.at.to_string())
                    .bind(e.case_id)
                    .bind(e.body.as_str())
                    .bind(e.salt.as_bytes().as_slice())
                    .bind(e.leaf.as_slice());
            }
            q.execute(&mut **t).await.map(drop)?
        });
        self.next_seq = Some(first + stored.len() as u64);
        Ok(stored)
    }

    /// Records a signed checkpoint.
    pub async fn put_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<()> {
        on_tx!(&mut self.tx, t => sqlx::query(
            "INSERT INTO checkpoints (size, root, note, signed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (size) DO NOTHING",
        )
        .bind(cp.size as i64)
        .bind(cp.root.as_bytes().as_slice())
        .bind(&cp.note)
        .bind(cp.signed_at.to_string())
        .execute(&mut **t)
        .await.map(drop)?);
        Ok(())
    }

    /// Adds an authority to the directory.
    pub async fn insert_authority(&mut self, a: &Authority) -> Result<()> {
        on_tx!(&mut self.tx, t => sqlx::query(
            "INSERT INTO authorities (kid, state, name, kind, channels, jwk, age_recipient, added_at, revoked_at, revoke_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&a.kid)
        .bind(&a.state)
        .bind(&a.name)
        .bind(&a.kind)
        .bind(a.channels.join(","))
        .bind(&a.jwk)
        .bind(&a.age_recipient)
        .bind(a.added_at.to_string())
        .bind(a.revoked_at.map(|t| t.to_string()))
        .bind(&a.revoke_reason)
        .execute(&mut **t)
        .await.map(drop)?);
        Ok(())
    }

    /// Marks an authority revoked.
    pub async fn revoke_authority(&mut self, kid: &str, at: Timestamp, reason: &str) -> Result<()> {
        on_tx!(&mut self.tx, t => sqlx::query("UPDATE authorities SET revoked_at = $1, revoke_reason = $2 WHERE kid = $3 AND revoked_at IS NULL")
            .bind(at.to_string())
            .bind(reason)
            .bind(kid)
            .execute(&mut **t)
            .await.map(drop)?);
        Ok(())
    }

    /// One authority, as this transaction sees it.
    pub async fn authority(&mut self, kid: &str) -> Result<Option<Authority>> {
        Ok(authorities(self.tx.conn(), Some(kid)).await?.pop())
    }

    /// The case an authority opened under its request id, if any.
    pub async fn find_case<D: CaseDocuments>(
        &mut self,
        kid: &str,
        request_id: &str,
    ) -> Result<Option<Case<D>>> {
        case_by(
            self.tx.conn(),
            "authority_kid = $1 AND request_id = $2",
            CaseKey::Pair(kid, request_id),
        )
        .await
    }

    /// The cases of authority `kid` whose request names `request_id` in `follows`, by number,
    /// as this transaction sees them.
    pub async fn cases_following<D: CaseDocuments>(
        &mut self,
        kid: &str,
        request_id: &str,
    ) -> Result<Vec<Case<D>>> {
        cases_following(self.tx.conn(), kid, request_id).await
    }

    /// Every case in `status`, by case number, as this transaction sees it.
    pub async fn cases_in_status<D: CaseDocuments>(
        &mut self,
        status: CaseStatus,
    ) -> Result<Vec<Case<D>>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE status = $1 ORDER BY case_id");
        Ok(on_tx!(&mut self.tx, t => sqlx::query_as(&sql)
            .bind(status.as_str())
            .fetch_all(&mut **t)
            .await?))
    }

    /// Every case in `status` that no `case.published` event names yet, by case number (the
    /// scheduler's candidates for publication).
    pub async fn unpublished_cases_in_status<D: CaseDocuments>(
        &mut self,
        status: CaseStatus,
    ) -> Result<Vec<Case<D>>> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE status = $1 AND case_id NOT IN \
             (SELECT case_id FROM events WHERE event_type = 'case.published' \
              AND case_id IS NOT NULL) ORDER BY case_id"
        );
        Ok(on_tx!(&mut self.tx, t => sqlx::query_as(&sql)
            .bind(status.as_str())
            .fetch_all(&mut **t)
            .await?))
    }

    /// One case, as this transaction sees it.
    pub async fn case<D: CaseDocuments>(&mut self, case_id: i64) -> Result<Option<Case<D>>> {
        case_by(self.tx.conn(), "case_id = $1", CaseKey::Id(case_id)).await
    }

    /// The next free case number.
    pub async fn next_case_id(&mut self) -> Result<i64> {
        if let Some(n) = self.next_case {
            return Ok(n);
        }
        let n: i64 = on_tx!(&mut self.tx, t => sqlx::query_scalar("SELECT COALESCE(MAX(case_id), 0) + 1 FROM cases")
            .fetch_one(&mut **t)
            .await?);
        self.next_case = Some(n);
        Ok(n)
    }

    /// Writes a case's projection (insert or replace).
    pub async fn put_case<D: CaseDocuments>(&mut self, c: &Case<D>) -> Result<()> {
        let sql = match self.tx.backend() {
            Backend::Sqlite => &*PUT_CASE,
            Backend::Postgres => &*PG_PUT_CASE,
        };
        on_tx!(&mut self.tx, t => sqlx::query(sql)
        .bind(c.case_id)
        .bind(&c.authority_kid)
        .bind(&c.request_id)
        .bind(c.payload_sha256.as_bytes().as_slice())
        .bind(&c.request_json)
        .bind(c.status.as_str())
        .bind(c.outcome.as_str())
        .bind(Json(&c.assessment))
        .bind(c.measure.as_str())
        .bind(&c.requesting_state)
        .bind(c.channel.as_str())
        .bind(c.emergency)
        .bind(c.received_at.to_string())
        .bind(c.respond_by.to_string())
        .bind(c.confidentiality_until.map(|t| t.to_string()))
        .bind(c.notify_person_at.map(|t| t.to_string()))
        .bind(c.decision.as_ref().map(Json))
        .bind(c.pending_decision.as_ref().map(Json))
        .bind(c.reclassification.as_ref().map(Json))
        .bind(c.updated_at.to_string())
        .bind(c.assignee.as_deref())
        .execute(&mut **t)
        .await.map(drop)?);
        if let Some(n) = self.next_case {
            self.next_case = Some(n.max(c.case_id + 1));
        }
        Ok(())
    }

    /// Writes a preservation hold (insert or replace).
    pub async fn put_hold(&mut self, h: &Hold) -> Result<()> {
        on_tx!(&mut self.tx, t => sqlx::query(&PUT_HOLD)
        .bind(h.case_id)
        .bind(h.started_at.to_string())
        .bind(h.expires_at.to_string())
        .bind(h.renewals)
        .bind(h.released_at.map(|t| t.to_string()))
        .execute(&mut **t)
        .await.map(drop)?);
        Ok(())
    }

    /// One hold.
    pub async fn hold(&mut self, case_id: i64) -> Result<Option<Hold>> {
        let row = on_tx!(&mut self.tx, t => sqlx::query_as(
            "SELECT case_id, started_at, expires_at, renewals, released_at FROM holds WHERE case_id = $1",
        )
        .bind(case_id)
        .fetch_optional(&mut **t)
        .await?);
        Ok(row)
    }

    /// Holds that expired at `now` and are not yet released.
    pub async fn expired_holds(&mut self, now: Timestamp) -> Result<Vec<Hold>> {
        let rows = on_tx!(&mut self.tx, t => sqlx::query_as(
            "SELECT case_id, started_at, expires_at, renewals, released_at FROM holds \
             WHERE released_at IS NULL AND expires_at <= $1 ORDER BY expires_at LIMIT 1000",
        )
        .bind(text_bound(now))
        .fetch_all(&mut **t)
        .await?);
        Ok(rows
            .into_iter()
            .filter(|h: &Hold| h.expires_at <= now)
            .collect())
    }

    /// Writes a notice (insert or replace).
    pub async fn put_notice(&mut self, n: &Notice) -> Result<()> {
        on_tx!(&mut self.tx, t => sqlx::query(&PUT_NOTICE)
        .bind(n.case_id)
        .bind(n.due_at.to_string())
        .bind(n.ended_at.map(|t| t.to_string()))
        .bind(n.sent_at.map(|t| t.to_string()))
        .bind(n.attempts)
        .bind(&n.last_error)
        .bind(n.last_attempt_at.map(|t| t.to_string()))
        .execute(&mut **t)
        .await.map(drop)?);
        Ok(())
    }

    /// Notices whose confidentiality has ended by `now` but are not yet marked so, or not yet
    /// sent.
    pub async fn due_notices(&mut self, now: Timestamp) -> Result<Vec<Notice>> {
        let rows = on_tx!(&mut self.tx, t => sqlx::query_as(&format!(
            "SELECT {NOTICE_COLUMNS} FROM notices \
             WHERE sent_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT 1000"
        ))
        .bind(text_bound(now))
        .fetch_all(&mut **t)
        .await?);
        Ok(rows
            .into_iter()
            .filter(|n: &Notice| n.due_at <= now)
            .collect())
    }

    /// The notice owed on one case, as this transaction sees it.
    pub async fn notice(&mut self, case_id: i64) -> Result<Option<Notice>> {
        let row = on_tx!(&mut self.tx, t => sqlx::query_as(&format!(
            "SELECT {NOTICE_COLUMNS} FROM notices WHERE case_id = $1"
        ))
        .bind(case_id)
        .fetch_optional(&mut **t)
        .await?);
        Ok(row)
    }

    /// Writes a request for an extension (insert or replace).
    pub async fn put_extension(&mut self, x: &Extension) -> Result<()> {
        on_tx!(&mut self.tx, t => sqlx::query(&PUT_EXTENSION)
        .bind(x.extension_id)
        .bind(x.case_id)
        .bind(x.kind.as_str())
        .bind(&x.asked_by)
        .bind(x.asked_at.to_string())
        .bind(x.current_until.to_string())
        .bind(x.asked_until.to_string())
        .bind(&x.reasons)
        .bind(x.status.as_str())
        .bind(&x.decided_by)
        .bind(x.decided_at.map(|t| t.to_string()))
        .bind(x.granted_until.map(|t| t.to_string()))
        .bind(&x.decision_reason)
        .execute(&mut **t)
        .await.map(drop)?);
        Ok(())
    }

    /// One request for an extension, as this transaction sees it.
    pub async fn extension(&mut self, extension_id: i64) -> Result<Option<Extension>> {
        let row = on_tx!(&mut self.tx, t => sqlx::query_as(&format!(
            "SELECT {EXTENSION_COLUMNS} FROM extensions WHERE extension_id = $1"
        ))
        .bind(extension_id)
        .fetch_optional(&mut **t)
        .await?);
        Ok(row)
    }

    /// The requests for extensions of one case, as this transaction sees them.
    pub async fn case_extensions(&mut self, case_id: i64) -> Result<Vec<Extension>> {
        let rows = on_tx!(&mut self.tx, t => sqlx::query_as(&format!(
            "SELECT {EXTENSION_COLUMNS} FROM extensions WHERE case_id = $1 ORDER BY extension_id"
        ))
        .bind(case_id)
        .fetch_all(&mut **t)
        .await?);
        Ok(rows)
    }

    /// The evidence packages of a case, as this transaction sees them, oldest first.
    pub async fn evidence_for_case(&mut self, case_id: i64) -> Result<Vec<Evidence>> {
        let rows = on_tx!(&mut self.tx, t => sqlx::query_as(&format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE case_id = $1 ORDER BY sealed_seq"
        ))
        .bind(case_id)
        .fetch_all(&mut **t)
        .await?);
        Ok(rows)
    }

    /// Writes an evidence package's projection (insert or replace).
    pub async fn put_evidence(&mut self, e: &Evidence) -> Result<()> {
        on_tx!(&mut self.tx, t => sqlx::query(&PUT_EVIDENCE)
            .bind(&e.package_digest)
            .bind(e.digest_kind.as_str())
            .bind(e.case_id)
            .bind(e.size)
            .bind(&e.manifest_sha256)
            .bind(&e.recipient)
            .bind(e.sealed_seq)
            .bind(e.sealed_at.to_string())
            .bind(e.delivered_at.map(|t| t.to_string()))
            .bind(e.destroyed_at.map(|t| t.to_string()))
            .execute(&mut **t)
            .await.map(drop)?);
        Ok(())
    }

    /// One evidence package, by the hex of its digest (of either kind), as this transaction
    /// sees it.
    pub async fn evidence(&mut self, package_digest: &str) -> Result<Option<Evidence>> {
        let row = on_tx!(&mut self.tx, t => sqlx::query_as(&format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE package_digest = $1"
        ))
        .bind(package_digest)
        .fetch_optional(&mut **t)
        .await?);
        Ok(row)
    }

    /// Packages first delivered before `cutoff` and not yet destroyed.
    pub async fn evidence_delivered_before(&mut self, cutoff: Timestamp) -> Result<Vec<Evidence>> {
        let rows = on_tx!(&mut self.tx, t => sqlx::query_as(&format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE destroyed_at IS NULL AND delivered_at IS NOT NULL \
             AND delivered_at <= $1 ORDER BY delivered_at LIMIT 1000"
        ))
        .bind(text_bound(cutoff))
        .fetch_all(&mut **t)
        .await?);
        Ok(rows
            .into_iter()
            .filter(|e: &Evidence| e.delivered_at.is_some_and(|d| d <= cutoff))
            .collect())
    }

    /// Adds a user.
    pub async fn insert_user(&mut self, u: &User) -> Result<()> {
        on_tx!(&mut self.tx, t => sqlx::query("INSERT INTO users (name, role, token_hash, added_at, disabled_at, password_hash) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&u.name)
            .bind(u.role.as_str())
            .bind(&u.token_hash)
            .bind(u.added_at.to_string())
            .bind(u.disabled_at.map(|t| t.to_string()))
            .bind(&u.password_hash)
            .execute(&mut **t)
            .await.map(drop)?);
        Ok(())
    }

    /// Sets (replaces) a user's console password hash.
    pub async fn set_password_hash(&mut self, name: &str, hash: &str) -> Result<()> {
        on_tx!(&mut self.tx, t => sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
            .bind(hash)
            .bind(name)
            .execute(&mut **t)
            .await.map(drop)?);
        Ok(())
    }

    /// One user, as this transaction sees it.
    pub async fn user(&mut self, name: &str) -> Result<Option<User>> {
        let row = on_tx!(&mut self.tx, t => sqlx::query_as(
            "SELECT name, role, token_hash, added_at, disabled_at, password_hash FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&mut **t)
        .await?);
        Ok(row)
    }
}

/// `event` as stored at log index `seq`: a fresh salt, its canonical JSON (the body with its
/// type, time, index and case) and the public leaf committing to it.
fn committed_event(event: &NewEvent, seq: u64) -> Result<StoredEvent> {
    let salt = Salt::random().map_err(|e| StoreError::Event(e.to_string()))?;
    let mut body = event.body.clone();
    let obj = body
        .as_object_mut()
        .ok_or_else(|| StoreError::Event("an event body must be a JSON object".into()))?;
    obj.insert("type".into(), event.event_type.as_str().into());
    obj.insert("at".into(), event.at.to_string().into());
    obj.insert("seq".into(), seq.into());
    if let Some(c) = event.case_id {
        obj.insert("case".into(), c.into());
    }
    let canonical = canonicalize(&body).map_err(|e| StoreError::Event(e.to_string()))?;
    let day = event.at.strftime("%Y-%m-%d").to_string();
    // The commitment over the canonical text just made (one canonicalization per event).
    let record = PublicRecord::new(
        event.event_type.as_str(),
        &day,
        commit_canonical(&canonical, &salt),
    )
    .map_err(|e| StoreError::Event(e.to_string()))?;
    Ok(StoredEvent {
        seq,
        event_type: event.event_type.as_str().to_owned(),
        at: event.at,
        case_id: event.case_id,
        body: canonical,
        salt,
        leaf: record.leaf_bytes(),
    })
}

async fn log_size(conn: Conn<'_>) -> Result<u64> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar("SELECT COALESCE(MAX(seq) + 1, 0) FROM events")
        .fetch_one(&mut *c)
        .await?);
    Ok(n as u64)
}

async fn authorities(conn: Conn<'_>, kid: Option<&str>) -> Result<Vec<Authority>> {
    let sql = "SELECT kid, state, name, kind, channels, jwk, age_recipient, added_at, revoked_at, revoke_reason \
               FROM authorities WHERE ($1 IS NULL OR kid = $1) ORDER BY state, name";
    Ok(on_conn!(conn, c => sqlx::query_as(sql).bind(kid).fetch_all(&mut *c).await?))
}

const CASE_COLUMNS: &str = "case_id, authority_kid, request_id, payload_sha256, request_json, status, outcome, \
    assessment, measure, requesting_state, channel, emergency, received_at, respond_by, \
    confidentiality_until, notify_person_at, decision, pending_decision, reclassification, updated_at, assignee";

/// The columns a transparency report reads (migration `0008_report_columns.sql`), derived
/// from the row's own documents by the migration's expressions, word for word.
const REPORT_COLUMNS: &str = "report_decision, report_confidentiality, report_days, report_grounds";

/// [`REPORT_COLUMNS`]' values in `put_case` on SQLite: $5 is `request_json`, $13
/// `received_at`, $17 `decision`.
const REPORT_VALUES: &str = "\
    CASE WHEN json_valid($17) THEN json_extract($17, '$.decision') END, \
    CASE WHEN json_valid($5) THEN json_extract($5, '$.confidentiality.requested') END = 1, \
    CAST(julianday(CASE WHEN json_valid($17) THEN json_extract($17, '$.at') END) - julianday($13) AS INTEGER), \
    CASE WHEN json_valid($17) AND json_extract($17, '$.decision') = 'refuse' AND json_type($17, '$.grounds') = 'array' THEN json_extract($17, '$.grounds') END";

/// The same on PostgreSQL, where `decision` is JSONB (always valid) and `request_json` text
/// that `custos_jsonb` reads as NULL when it does not parse (PostgreSQL's migration 0001).
const PG_REPORT_VALUES: &str = "\
    $17 ->> 'decision', \
    (custos_jsonb($5) #> '{confidentiality,requested}') = 'true'::jsonb, \
    trunc(extract(epoch FROM custos_time($17 ->> 'at') - custos_time($13)) / 86400)::bigint, \
    CASE WHEN $17 ->> 'decision' = 'refuse' AND jsonb_typeof($17 -> 'grounds') = 'array' THEN $17 -> 'grounds' END";

/// [`REPORT_COLUMNS`] as derived from the row itself on SQLite (migration 0008's backfill, the
/// audit's check, the synthetic cases).
pub(crate) const REPORT_DERIVED: [(&str, &str); 4] = [
    (
        "report_decision",
        "CASE WHEN json_valid(decision) THEN json_extract(decision, '$.decision') END",
    ),
    (
        "report_confidentiality",
        "CASE WHEN json_valid(request_json) THEN json_extract(request_json, '$.confidentiality.requested') END = 1",
    ),
    (
        "report_days",
        "CAST(julianday(CASE WHEN json_valid(decision) THEN json_extract(decision, '$.at') END) - julianday(received_at) AS INTEGER)",
    ),
    (
        "report_grounds",
        "CASE WHEN json_valid(decision) AND json_extract(decision, '$.decision') = 'refuse' AND json_type(decision, '$.grounds') = 'array' THEN json_extract(decision, '$.grounds') END",
    ),
];

/// [`REPORT_DERIVED`] on PostgreSQL ([`PG_REPORT_VALUES`] over the row's own columns).
pub(crate) const PG_REPORT_DERIVED: [(&str, &str); 4] = [
    ("report_decision", "decision ->> 'decision'"),
    (
        "report_confidentiality",
        "(custos_jsonb(request_json) #> '{confidentiality,requested}') = 'true'::jsonb",
    ),
    (
        "report_days",
        "trunc(extract(epoch FROM custos_time(decision ->> 'at') - custos_time(received_at)) / 86400)::bigint",
    ),
    (
        "report_grounds",
        "CASE WHEN decision ->> 'decision' = 'refuse' AND jsonb_typeof(decision -> 'grounds') = 'array' THEN decision -> 'grounds' END",
    ),
];

enum CaseKey<'a> {
    Id(i64),
    Pair(&'a str, &'a str),
}

async fn case_by<D: CaseDocuments>(
    conn: Conn<'_>,
    cond: &str,
    key: CaseKey<'_>,
) -> Result<Option<Case<D>>> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE {cond}");
    Ok(on_conn!(conn, c => {
        let q = sqlx::query_as(&sql);
        let q = match key {
            CaseKey::Id(id) => q.bind(id),
            CaseKey::Pair(kid, id) => q.bind(kid).bind(id),
        };
        q.fetch_optional(&mut *c).await?
    }))
}

async fn cases_following<D: CaseDocuments>(
    conn: Conn<'_>,
    kid: &str,
    request_id: &str,
) -> Result<Vec<Case<D>>> {
    // `follows` is a field of the signed request document (a follow-up's link). The expression
    // and the IS NOT NULL are the partial index `cases_follows`'s (SQLite's migration 0009,
    // PostgreSQL's 0001), word for word, so the database reads the index instead of parsing
    // every request of the authority.
    let follows = match conn.backend() {
        Backend::Sqlite => {
            "CASE WHEN json_valid(request_json) THEN json_extract(request_json, '$.follows') END"
        }
        Backend::Postgres => "(custos_jsonb(request_json) ->> 'follows')",
    };
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM cases WHERE authority_kid = $1 \
         AND {follows} = $2 AND {follows} IS NOT NULL ORDER BY case_id"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql)
        .bind(kid)
        .bind(request_id)
        .fetch_all(&mut *c)
        .await?))
}

/// A LIKE pattern finding `text` anywhere, its `%`, `_` and backslash taken literally (the
/// condition escapes with a backslash).
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// `AND (…)`: the case's request id, agency references, target values or authority name
/// match the LIKE pattern bound at `param`, ignoring case. The request's fields are read from
/// its stored document (each row's JSON is parsed: a scan, fine for a staff search); a row
/// whose text does not parse matches by its columns only.
fn text_condition(backend: Backend, param: &str) -> String {
    let like = |expr: &str| format!("LOWER({expr}) LIKE LOWER({param}) ESCAPE '\\'");
    // `path` is a constant of this function, never user text.
    let field = |path: &str| match backend {
        Backend::Sqlite => format!(
            "CASE WHEN json_valid(request_json) THEN json_extract(request_json, '$.{path}') END"
        ),
        Backend::Postgres => format!(
            "(custos_jsonb(request_json) #>> '{{{}}}')",
            path.replace('.', ",")
        ),
    };
    let target = like(match backend {
        Backend::Sqlite => "json_extract(t.value, '$.value')",
        Backend::Postgres => "t ->> 'value'",
    });
    let targets = match backend {
        Backend::Sqlite => format!(
            "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(request_json) \
             THEN request_json END, '$.targets') t WHERE {target})"
        ),
        // jsonb_array_elements fails on a non-array: the CASE keeps such a row out.
        Backend::Postgres => format!(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN \
             jsonb_typeof(custos_jsonb(request_json) -> 'targets') = 'array' \
             THEN custos_jsonb(request_json) -> 'targets' END) t WHERE {target})"
        ),
    };
    format!(
        " AND ({} OR {} OR {} OR {} OR {targets} \
         OR authority_kid IN (SELECT kid FROM authorities WHERE {}))",
        like("request_id"),
        like(&field("investigation.reference")),
        like(&field("authorization.reference")),
        like(&field("requesting_authority.name")),
        like("name"),
    )
}

/// `INSERT … ON CONFLICT (key) DO UPDATE` of every column: the projections' "insert or
/// replace", in the syntax both engines share.
fn upsert(table: &str, columns: &str, key: &str, values: &str) -> String {
    let set = columns
        .split(',')
        .map(str::trim)
        .filter(|c| *c != key)
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({key}) DO UPDATE SET {set}"
    )
}

/// `$1, $2, …, $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

static PUT_CASE: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "cases",
        &format!("{CASE_COLUMNS}, {REPORT_COLUMNS}"),
        "case_id",
        &format!("{}, {REPORT_VALUES}", placeholders(21)),
    )
});
static PG_PUT_CASE: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "cases",
        &format!("{CASE_COLUMNS}, {REPORT_COLUMNS}"),
        "case_id",
        &format!("{}, {PG_REPORT_VALUES}", placeholders(21)),
    )
});
static PUT_HOLD: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "holds",
        "case_id, started_at, expires_at, renewals, released_at",
        "case_id",
        &placeholders(5),
    )
});
static PUT_NOTICE: LazyLock<String> =
    LazyLock::new(|| upsert("notices", NOTICE_COLUMNS, "case_id", &placeholders(7)));
static PUT_EXTENSION: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "extensions",
        EXTENSION_COLUMNS,
        "extension_id",
        &placeholders(13),
    )
});
static PUT_EVIDENCE: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "evidence",
        EVIDENCE_COLUMNS,
        "package_digest",
        &placeholders(10),
    )
});

const NOTICE_COLUMNS: &str =
    "case_id, due_at, ended_at, sent_at, attempts, last_error, last_attempt_at";

const EXTENSION_COLUMNS: &str = "extension_id, case_id, kind, asked_by, asked_at, current_until, \
    asked_until, reasons, status, decided_by, decided_at, granted_until, decision_reason";

const EVIDENCE_COLUMNS: &str = "package_digest, digest_kind, case_id, size, manifest_sha256, recipient, sealed_seq, sealed_at, delivered_at, destroyed_at";

/// A bound for selecting stored times at or before `t` by text comparison. Times are stored as
/// RFC 3339 text with as many fraction digits as they have (`…:00Z`, `…:00.7Z`), and `.` sorts
/// before `Z`, so within one second text order is not time order: a hold expiring at `…:00.7`
/// compared with `…:00Z` as text would come out early. Every time at or before `t` lies in a
/// whole second before that of `t + 1 s`, where text order is time order; the caller then keeps
/// exactly the rows at or before `t`, comparing times.
fn text_bound(t: Timestamp) -> String {
    t.saturating_add(jiff::SignedDuration::from_secs(1))
        .unwrap_or(t)
        .to_string()
}

#[cfg(test)]
mod publication_tests {
    /// The queries of published records name the kind literally (so SQLite can use the partial
    /// index `events_published`); they must name the model's kind.
    #[test]
    fn the_literal_kind_is_the_models() {
        assert_eq!(
            custos_model::EventType::CasePublished.as_str(),
            "case.published"
        );
        let migration = include_str!("../migrations/sqlite/0006_publications.sql");
        assert!(migration.contains("event_type = 'case.published'"));
    }
}
