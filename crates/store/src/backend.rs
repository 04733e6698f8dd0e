//! The two databases a store can live in, behind one set of queries.
//!
//! Every query of the store is written once, in SQL both engines read the same way (`$1`
//! placeholders, `ON CONFLICT` upserts, savepoints). [`on_pool!`] and [`on_tx!`] expand that one
//! piece of code once per backend, so each copy is type-checked against its own driver and runs
//! with its native types; the few statements that differ (JSON functions, index hints, the
//! write lock) are chosen by [`Backend`] at the call.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};

/// Which engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (the default: one node, one file, no server).
    Sqlite,
    /// A PostgreSQL server (several `custos serve` processes on one database).
    Postgres,
}

/// The connection pool of either backend.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// One connection from the pool, for a query shared with [`Tx`] (through [`Conn`]).
    pub(crate) async fn acquire(&self) -> Result<Pooled, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Pooled::Sqlite(p.acquire().await?),
            Pool::Postgres(p) => Pooled::Postgres(p.acquire().await?),
        })
    }
}

/// A connection taken from a [`Pool`].
pub(crate) enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Pooled {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(c),
            Pooled::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A connection of either backend, inside a transaction or not: what the queries shared by
/// [`crate::Store`] and [`crate::Batch`] run on.
pub(crate) enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Conn<'_> {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }
}

/// An open write transaction of either backend.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(t) => Conn::Sqlite(t),
            Tx::Postgres(t) => Conn::Postgres(t),
        }
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}

/// Runs `$body` with `$p` bound to the pool (`&SqlitePool` or `&PgPool`).
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::backend::Pool::Sqlite($p) => $body,
            $crate::backend::Pool::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` with `$t` bound to the transaction (`&mut Transaction<…>`); use `&mut **$t`
/// as the executor.
macro_rules! on_tx {
    ($tx:expr, $t:ident => $body:expr) => {
        match $tx {
            $crate::backend::Tx::Sqlite($t) => $body,
            $crate::backend::Tx::Postgres($t) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the connection (`&mut SqliteConnection` or
/// `&mut PgConnection`); use `&mut *$c` as the executor.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::backend::Conn::Sqlite($c) => $body,
            $crate::backend::Conn::Postgres($c) => $body,
        }
    };
}

pub(crate) use {on_conn, on_pool, on_tx};
