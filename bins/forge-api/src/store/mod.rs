//! The SQL store: one implementation of [`forge_core::ports::Store`] over PostgreSQL and SQLite.
//!
//! Both backends share one schema shape (identifiers as `TEXT`, times as microseconds since the
//! epoch in `BIGINT`/`INTEGER`) so the queries are written once against sqlx's `Any` driver, at
//! run time (no compile-time query checking, so builds need no database). The backend differs
//! only in how writers serialise:
//! - PostgreSQL: a row lock on a per-project counter row (`SELECT … FOR UPDATE`) for release
//!   numbers, and transaction-scoped advisory locks for run attempts and active deployments;
//! - SQLite: every writing transaction is `BEGIN IMMEDIATE`, so writers are serialised by the
//!   database lock.

mod sql;

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use forge_core::Error;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row};

pub use sql::SqlStore;

const COMPONENT: &str = "store";

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (`postgres://`, `postgresql://`).
    Postgres,
    /// SQLite (`sqlite:`).
    Sqlite,
}

impl Backend {
    /// Detects the backend from a database URL.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            Err(Error::Validation {
                component: COMPONENT,
                field: "database_url".into(),
                message: "expected a postgres://, postgresql:// or sqlite: URL".into(),
            })
        }
    }
}

/// Options for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Database URL (`postgres://…` or `sqlite://path`); SQLite files are created if missing.
    pub database_url: String,
    /// Maximum pool size.
    pub max_connections: u32,
    /// How long to wait for a connection.
    pub acquire_timeout: Duration,
}

impl StoreOptions {
    /// Options with defaults for a URL.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self { database_url: database_url.into(), max_connections: 10, acquire_timeout: Duration::from_secs(10) }
    }
}

/// Adds `mode=rwc` to a SQLite URL that has no mode, so the file is created when missing.
fn normalise_sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The embedded migrations of a backend (`migrations/<backend>/*.sql`).
pub fn migrator(backend: Backend) -> Migrator {
    let init: &'static str = match backend {
        Backend::Postgres => include_str!("../../migrations/postgres/0001_init.sql"),
        Backend::Sqlite => include_str!("../../migrations/sqlite/0001_init.sql"),
    };
    Migrator {
        migrations: Cow::Owned(vec![Migration::new(
            1,
            Cow::Borrowed("init"),
            MigrationType::Simple,
            Cow::Borrowed(init),
            false,
        )]),
        ..Migrator::DEFAULT
    }
}

/// Opens a connection pool for `opts` (without migrating).
pub async fn connect(opts: &StoreOptions) -> Result<(AnyPool, Backend), Error> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(&opts.database_url)?;
    let url = match backend {
        Backend::Postgres => opts.database_url.clone(),
        Backend::Sqlite => normalise_sqlite_url(&opts.database_url),
    };
    let mut pool = AnyPoolOptions::new().max_connections(opts.max_connections).acquire_timeout(opts.acquire_timeout);
    if backend == Backend::Sqlite {
        pool = pool.after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;")
                    .await?;
                Ok(())
            })
        });
    }
    let pool = pool.connect(&url).await.map_err(|e| db_err("connecting to the database", e))?;
    Ok((pool, backend))
}

/// Runs the embedded migrations on a pool.
pub async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), Error> {
    migrator(backend).run(pool).await.map_err(|e| Error::other(COMPONENT, "running database migrations", e))
}

/// Maps a sqlx error: unique violations are conflicts, connection trouble is transient.
pub(crate) fn db_err(context: &str, e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Conflict { component: COMPONENT, message: format!("{context}: a unique key already exists") }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            Error::transient(COMPONENT, context.to_owned(), e)
        }
        sqlx::Error::Database(d) if is_busy(d.code().as_deref()) => Error::transient(COMPONENT, context.to_owned(), e),
        _ => Error::other(COMPONENT, context.to_owned(), e),
    }
}

/// SQLite busy/locked and PostgreSQL serialization/deadlock codes.
fn is_busy(code: Option<&str>) -> bool {
    matches!(code, Some("5" | "6" | "517" | "40001" | "40P01"))
}

/// Microseconds since the epoch.
pub(crate) fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A time from microseconds since the epoch.
pub(crate) fn from_ts(v: i64) -> Result<DateTime<Utc>, Error> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| Error::msg(COMPONENT, format!("stored time {v} is out of range")))
}

/// An optional time column.
pub(crate) fn opt_ts(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>, Error> {
    get::<Option<i64>>(row, col)?.map(from_ts).transpose()
}

/// A column value, with a store error naming the column.
pub(crate) fn get<T>(row: &AnyRow, col: &str) -> Result<T, Error>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get::<T, _>(col).map_err(|e| Error::other(COMPONENT, format!("reading column `{col}`"), e))
}

/// A column parsed with `FromStr` (validated identifiers, statuses).
pub(crate) fn parse<T>(row: &AnyRow, col: &str) -> Result<T, Error>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let s: String = get(row, col)?;
    s.parse::<T>().map_err(|e| Error::msg(COMPONENT, format!("stored `{col}` value is invalid: {e}")))
}

/// An optional column parsed with `FromStr`.
pub(crate) fn parse_opt<T>(row: &AnyRow, col: &str) -> Result<Option<T>, Error>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let s: Option<String> = get(row, col)?;
    s.map(|s| s.parse::<T>().map_err(|e| Error::msg(COMPONENT, format!("stored `{col}` value is invalid: {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_detection() {
        assert_eq!(Backend::from_url("postgres://x/y").ok(), Some(Backend::Postgres));
        assert_eq!(Backend::from_url("sqlite://f.db").ok(), Some(Backend::Sqlite));
        assert!(Backend::from_url("mysql://x").is_err());
        assert_eq!(normalise_sqlite_url("sqlite://f.db"), "sqlite://f.db?mode=rwc");
        assert_eq!(normalise_sqlite_url("sqlite://f.db?mode=ro"), "sqlite://f.db?mode=ro");
    }
}
