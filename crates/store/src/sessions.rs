//! The console's sessions and sign-in lock-out counters (migration 0010), in the database so that
//! they survive a restart and are shared by every process serving the node (issue 15).
//!
//! Security state, not domain events: nothing here is appended to the log or replayed, and a
//! session token never reaches the log or this table (only its SHA-256 does). The rules (how long
//! a session lives, how many failures lock a name) belong to the caller, which passes the times
//! they give; the store only keeps rows and does each change in one statement, so two processes
//! never lose each other's counts.
//!
//! Portable SQL only (`$1` placeholders, `INSERT … ON CONFLICT … DO UPDATE`, `RETURNING`, `CASE`
//! rather than `MAX`/`GREATEST`): one text per statement, run on either backend by `on_pool!`.
//! Times are stored as Unix milliseconds (BIGINT on PostgreSQL).

use jiff::Timestamp;

use crate::backend::on_pool;
use crate::{Result, Store, StoreError};

/// A console session as stored: by the SHA-256 of its token, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 of the cookie's token.
    pub token_sha256: [u8; 32],
    /// The signed-in user's name.
    pub user_name: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// When it started.
    pub created_at: Timestamp,
    /// When it was last used.
    pub last_seen_at: Timestamp,
    /// When it ends unless used before.
    pub idle_until: Timestamp,
    /// When it ends whatever happens.
    pub expires_at: Timestamp,
}

/// A user's sign-in counts as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInCounts {
    /// Attempts counted against the limit: failures plus attempts whose password is being checked.
    pub attempts: u32,
    /// Failed attempts in the current window.
    pub failures: u32,
    /// When the first attempt of the current window was counted.
    pub window_started_at: Timestamp,
    /// Until when the name is locked, once it is.
    pub locked_until: Option<Timestamp>,
}

/// What [`Store::reserve_sign_in`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// One more attempt is counted; the password may be checked.
    Reserved(SignInCounts),
    /// Nothing counted: the counts as they stand refuse it (locked, or the limit taken up by
    /// failures and attempts under way).
    Refused(SignInCounts),
    /// No user has this name: nothing stored.
    NoUser,
}

type SessionRow = (Vec<u8>, String, String, i64, i64, i64, i64);
type CountsRow = (i64, i64, i64, Option<i64>);

const SESSION_COLUMNS: &str =
    "token_sha256, user_name, csrf, created_at, last_seen_at, idle_until, expires_at";

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn time(what: &str, ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        detail: format!("{ms} is not a time in milliseconds: {e}"),
    })
}

fn count(what: &str, n: i64) -> Result<u32> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt {
        what: what.to_owned(),
        detail: format!("{n} is not a count"),
    })
}

fn session(row: SessionRow) -> Result<ConsoleSession> {
    let (hash, user_name, csrf, created, seen, idle, expires) = row;
    let token_sha256 = <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| StoreError::Corrupt {
        what: "console_sessions.token_sha256".into(),
        detail: format!("{} bytes, not 32", hash.len()),
    })?;
    Ok(ConsoleSession {
        token_sha256,
        user_name,
        csrf,
        created_at: time("console_sessions.created_at", created)?,
        last_seen_at: time("console_sessions.last_seen_at", seen)?,
        idle_until: time("console_sessions.idle_until", idle)?,
        expires_at: time("console_sessions.expires_at", expires)?,
    })
}

fn counts(row: CountsRow) -> Result<SignInCounts> {
    let (attempts, failures, started, locked) = row;
    Ok(SignInCounts {
        attempts: count("console_lockout.attempts", attempts)?,
        failures: count("console_lockout.failures", failures)?,
        window_started_at: time("console_lockout.window_started_at", started)?,
        locked_until: locked
            .map(|l| time("console_lockout.locked_until", l))
            .transpose()?,
    })
}

// A row's counts are over when its lock has ended, or, unlocked, when its window has ($2: now,
// $3: the start of a window still running).
const OVER: &str = "((console_lockout.locked_until IS NOT NULL AND console_lockout.locked_until <= $2) \
     OR (console_lockout.locked_until IS NULL AND console_lockout.window_started_at <= $3))";

impl Store {
    /// Stores a new session.
    pub async fn insert_console_session(&self, s: &ConsoleSession) -> Result<()> {
        on_pool!(&self.pool, p => sqlx::query(&format!(
            "INSERT INTO console_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(s.token_sha256.as_slice())
        .bind(&s.user_name)
        .bind(&s.csrf)
        .bind(ms(s.created_at))
        .bind(ms(s.last_seen_at))
        .bind(ms(s.idle_until))
        .bind(ms(s.expires_at))
        .execute(p)
        .await
        .map(drop)?);
        Ok(())
    }

    /// The session whose token hashes to `token_sha256`, if it is live at `now` (before its idle
    /// and its absolute end), marked used at `now` with its idle end moved to `idle_until` (never
    /// past its absolute end). One statement: a session that ends is never revived by a use.
    pub async fn touch_console_session(
        &self,
        token_sha256: &[u8; 32],
        now: Timestamp,
        idle_until: Timestamp,
    ) -> Result<Option<ConsoleSession>> {
        let row: Option<SessionRow> = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "UPDATE console_sessions SET last_seen_at = $2, \
             idle_until = CASE WHEN $3 < expires_at THEN $3 ELSE expires_at END \
             WHERE token_sha256 = $1 AND idle_until > $2 AND expires_at > $2 \
             RETURNING {SESSION_COLUMNS}"
        ))
        .bind(token_sha256.as_slice())
        .bind(ms(now))
        .bind(ms(idle_until))
        .fetch_optional(p)
        .await?);
        row.map(session).transpose()
    }

    /// The stored session whose token hashes to `token_sha256`, live or not (for tests and
    /// inspection; [`Store::touch_console_session`] is the check).
    pub async fn console_session(&self, token_sha256: &[u8; 32]) -> Result<Option<ConsoleSession>> {
        let row: Option<SessionRow> = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM console_sessions WHERE token_sha256 = $1"
        ))
        .bind(token_sha256.as_slice())
        .fetch_optional(p)
        .await?);
        row.map(session).transpose()
    }

    /// Ends a session (sign-out, a disabled user): its row is deleted.
    pub async fn delete_console_session(&self, token_sha256: &[u8; 32]) -> Result<()> {
        on_pool!(&self.pool, p => sqlx::query("DELETE FROM console_sessions WHERE token_sha256 = $1")
            .bind(token_sha256.as_slice())
            .execute(p)
            .await
            .map(drop)?);
        Ok(())
    }

    /// Deletes the sessions ended by `now` (idle or absolute end); returns how many.
    pub async fn sweep_console_sessions(&self, now: Timestamp) -> Result<u64> {
        let done = on_pool!(&self.pool, p => sqlx::query(
            "DELETE FROM console_sessions WHERE idle_until <= $1 OR expires_at <= $1",
        )
        .bind(ms(now))
        .execute(p)
        .await?
        .rows_affected());
        Ok(done)
    }

    /// Counts one sign-in attempt for `user_name` before its password is checked, in one
    /// statement (an upsert), if that user exists and its counts allow it: not locked at `now`
    /// and fewer than `limit` attempts counted. Counts whose lock has ended, or (unlocked) whose
    /// window started at or before `window_from`, start again from this attempt. A name of no user
    /// stores nothing.
    pub async fn reserve_sign_in(
        &self,
        user_name: &str,
        now: Timestamp,
        window_from: Timestamp,
        limit: u32,
    ) -> Result<Reservation> {
        // `INSERT … SELECT … FROM users`: only an existing user gets a row. The `WHERE` of the
        // update keeps a refused attempt from counting, so the count never passes the limit.
        let row: Option<CountsRow> = on_pool!(&self.pool, p => sqlx::query_as(&format!(
            "INSERT INTO console_lockout (user_name, attempts, failures, window_started_at) \
             SELECT name, 1, 0, $2 FROM users WHERE name = $1 \
             ON CONFLICT (user_name) DO UPDATE SET \
               attempts = CASE WHEN {OVER} THEN 1 ELSE console_lockout.attempts + 1 END, \
               failures = CASE WHEN {OVER} THEN 0 ELSE console_lockout.failures END, \
               window_started_at = CASE WHEN {OVER} OR console_lockout.attempts = 0 THEN $2 \
                 ELSE console_lockout.window_started_at END, \
               locked_until = CASE WHEN {OVER} THEN NULL ELSE console_lockout.locked_until END \
             WHERE {OVER} OR (console_lockout.locked_until IS NULL AND console_lockout.attempts < $4) \
             RETURNING attempts, failures, window_started_at, locked_until"
        ))
        .bind(user_name)
        .bind(ms(now))
        .bind(ms(window_from))
        .bind(i64::from(limit))
        .fetch_optional(p)
        .await?);
        if let Some(row) = row {
            return Ok(Reservation::Reserved(counts(row)?));
        }
        Ok(match self.sign_in_counts(user_name).await? {
            Some(c) => Reservation::Refused(c),
            None => Reservation::NoUser,
        })
    }

    /// Settles a reserved attempt as failed: one more failure; when the failures reach `limit`
    /// and the name is not locked yet, it is locked until `lock_until`. Returns the counts after
    /// (`None`: no row, e.g. a name of no user).
    pub async fn fail_sign_in(
        &self,
        user_name: &str,
        limit: u32,
        lock_until: Timestamp,
    ) -> Result<Option<SignInCounts>> {
        let row: Option<CountsRow> = on_pool!(&self.pool, p => sqlx::query_as(
            "UPDATE console_lockout SET failures = failures + 1, \
             locked_until = CASE WHEN locked_until IS NULL AND failures + 1 >= $2 THEN $3 \
               ELSE locked_until END \
             WHERE user_name = $1 \
             RETURNING attempts, failures, window_started_at, locked_until",
        )
        .bind(user_name)
        .bind(i64::from(limit))
        .bind(ms(lock_until))
        .fetch_optional(p)
        .await?);
        row.map(counts).transpose()
    }

    /// Settles a reserved attempt as succeeded: the failures are forgotten, and so is the lock;
    /// attempts of the name still under way stay counted.
    pub async fn succeed_sign_in(&self, user_name: &str) -> Result<()> {
        on_pool!(&self.pool, p => sqlx::query(
            "UPDATE console_lockout SET \
             attempts = CASE WHEN attempts - failures - 1 > 0 THEN attempts - failures - 1 ELSE 0 END, \
             failures = 0, locked_until = NULL WHERE user_name = $1",
        )
        .bind(user_name)
        .execute(p)
        .await
        .map(drop)?);
        Ok(())
    }

    /// Gives back a reserved attempt whose password was never checked (the node was busy, the
    /// client went away): it does not count.
    pub async fn release_sign_in(&self, user_name: &str) -> Result<()> {
        on_pool!(&self.pool, p => sqlx::query(
            "UPDATE console_lockout SET attempts = attempts - 1 \
             WHERE user_name = $1 AND attempts > failures",
        )
        .bind(user_name)
        .execute(p)
        .await
        .map(drop)?);
        Ok(())
    }

    /// A user's sign-in counts, if any are stored.
    pub async fn sign_in_counts(&self, user_name: &str) -> Result<Option<SignInCounts>> {
        let row: Option<CountsRow> = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT attempts, failures, window_started_at, locked_until FROM console_lockout \
             WHERE user_name = $1",
        )
        .bind(user_name)
        .fetch_optional(p)
        .await?);
        row.map(counts).transpose()
    }

    /// How many names have sign-in counts stored.
    pub async fn sign_in_names(&self) -> Result<u64> {
        let n: i64 = on_pool!(&self.pool, p => sqlx::query_scalar("SELECT count(*) FROM console_lockout")
            .fetch_one(p)
            .await?);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Deletes the counts with nothing left to remember at `now`: nothing counted, a lock ended,
    /// or (unlocked) a window started at or before `window_from`. Returns how many.
    pub async fn sweep_sign_ins(&self, now: Timestamp, window_from: Timestamp) -> Result<u64> {
        let done = on_pool!(&self.pool, p => sqlx::query(
            "DELETE FROM console_lockout WHERE attempts = 0 \
             OR (locked_until IS NOT NULL AND locked_until <= $1) \
             OR (locked_until IS NULL AND window_started_at <= $2)",
        )
        .bind(ms(now))
        .bind(ms(window_from))
        .execute(p)
        .await?.rows_affected());
        Ok(done)
    }
}
