//! hybridpost storage: one interface over SQLite (the embedded default) and PostgreSQL (for
//! running many nodes), with migrations for both, and blob storage for PDFs and scans.
//!
//! Only this crate knows sqlx. Queries are written once, in SQL both databases accept, and run
//! through sqlx's `Any` driver. Storage functions take a connection or a transaction; the
//! caller owns the transaction, so an event and what it causes commit together.
//!
//! On SQLite all writes go through a pool of one connection (SQLite has one writer; queueing in
//! the pool is cheaper than retrying on `SQLITE_BUSY`), reads through a separate pool, in WAL
//! mode with `synchronous = full`, so that a committed transaction survives a power loss. On
//! PostgreSQL both are the same pool, and durability is the server's (`fsync`,
//! `synchronous_commit`).
#![forbid(unsafe_code)]

pub mod agencies;
pub mod blobs;
pub mod channels;
pub mod documents;
pub mod events;
pub mod held;
pub mod idempotency;
pub mod letter_batches;
pub mod letters;
mod migrations;
pub mod outbox;
pub mod people;
pub mod print;
pub mod scan;
pub mod signing_keys;
pub mod testing;
pub mod usage;
pub mod verify;

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use blobs::{BlobError, BlobFolder, BlobKey, BlobReader, BlobStore, BlobWriter, S3Settings};
pub use sqlx::AnyConnection;

/// A write transaction: storage functions take it as `&mut tx` (a connection); it is rolled
/// back when dropped uncommitted. One held open long is logged when it ends, with the place in
/// the code that began it: on SQLite every other writer waits for it.
#[derive(Debug)]
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    begun: std::time::Instant,
    at: &'static std::panic::Location<'static>,
}

impl Tx {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<()> {
        let (begun, at) = (self.begun, self.at);
        let done = self.tx.commit().await;
        held_long(begun, at, "committed");
        Ok(done?)
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> Result<()> {
        let (begun, at) = (self.begun, self.at);
        let done = self.tx.rollback().await;
        held_long(begun, at, "rolled back");
        Ok(done?)
    }
}

/// Warns of a write transaction begun at `begun`, at `at`, held [`SLOW_TRANSACTION`] or longer.
fn held_long(begun: std::time::Instant, at: &std::panic::Location<'_>, ended: &str) {
    let held = begun.elapsed();
    if held >= SLOW_TRANSACTION {
        tracing::warn!(
            held_ms = held.as_millis() as u64,
            begun_at = %at,
            "a write transaction held the database for {:.1} s ({ended}; begun at {at})",
            held.as_secs_f64()
        );
    }
}

impl std::ops::Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// Which database is behind the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file: one machine.
    Sqlite,
    /// A PostgreSQL server: many nodes.
    Postgres,
}

/// How to open the store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Connections in the PostgreSQL pool, or in the SQLite read pool.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing.
    pub acquire_timeout: Duration,
    /// PostgreSQL only: the schema to work in (tests use one schema each).
    pub pg_schema: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 16, acquire_timeout: Duration::from_secs(5), pg_schema: None }
    }
}

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// The database could not be reached or refused a query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back (a bug or a hand-edited row).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A unique constraint refused the write.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A value the schema cannot hold (the caller should have checked it).
    #[error("invalid value: {0}")]
    Invalid(String),
}

impl StoreError {
    /// True when the database could not be reached or had no connection free: a retry later
    /// may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)))
    }

    /// True when a unique constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Conflict(_) => true,
            StoreError::Database(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

/// Result of a storage call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database: a write pool and a read pool (the same pool on PostgreSQL).
#[derive(Clone, Debug)]
pub struct Store {
    write: AnyPool,
    read: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens the database at `url` (`sqlite://PATH` creates the file; `postgres://…`).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let connect_options: AnyConnectOptions = url.parse()?;
        match backend {
            Backend::Sqlite => {
                // `cache_kib`: the connection's page cache. SQLite's default, 2 MiB, is a small
                // part of a busy database (600 MB after a 100,000-letter day): a transaction
                // that touches thousands of letters spent most of its time copying pages from
                // the operating system. The writer holds the one write lock: it gets 64 MiB.
                let pool = |max: u32, cache_kib: u32| {
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(options.acquire_timeout)
                        .acquire_slow_threshold(NEVER_SLOW)
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                // WAL lets readers run beside the writer. FULL syncs the WAL at
                                // every commit: with NORMAL, SQLite syncs only at checkpoints,
                                // and "a transaction committed in WAL mode with synchronous=NORMAL
                                // might roll back following a power loss or system crash"
                                // (sqlite.org/pragma.html#pragma_synchronous), yet a 201 must
                                // mean the letter is kept. Group commit (the gateway's letter
                                // writer) shares one sync among many letters. The busy timeout
                                // covers admin commands writing from another process while
                                // `serve` runs.
                                conn.execute(
                                    format!(
                                        "pragma journal_mode = wal; pragma synchronous = full; \
                                         pragma foreign_keys = on; pragma busy_timeout = 5000; \
                                         pragma cache_size = -{cache_kib};"
                                    )
                                    .as_str(),
                                )
                                .await?;
                                Ok(())
                            })
                        })
                        .connect_with(connect_options.clone())
                };
                let write = pool(1, WRITER_CACHE_KIB).await?;
                let read = pool(options.max_connections.max(1), READER_CACHE_KIB).await?;
                Ok(Store { write, read, backend })
            }
            Backend::Postgres => {
                let schema = options.pg_schema.clone();
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .acquire_slow_threshold(NEVER_SLOW)
                    .after_connect(move |conn, _| {
                        let schema = schema.clone();
                        Box::pin(async move {
                            if let Some(schema) = schema {
                                conn.execute(format!("set search_path to \"{schema}\"").as_str()).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(connect_options)
                    .await?;
                Ok(Store { write: pool.clone(), read: pool, backend })
            }
        }
    }

    /// Brings the schema up to date.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => migrations::migrator(migrations::SQLITE).await?.run(&self.write).await?,
            Backend::Postgres => migrations::migrator(migrations::POSTGRES).await?.run(&self.write).await?,
        }
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction.
    #[track_caller]
    pub fn begin(&self) -> impl std::future::Future<Output = Result<Tx>> + Send + '_ {
        let at = std::panic::Location::caller();
        async move {
            let asked = std::time::Instant::now();
            let tx = self.write.begin().await;
            self.waited("write", asked);
            Ok(Tx { tx: tx?, begun: std::time::Instant::now(), at })
        }
    }

    /// A connection for reads.
    pub async fn read(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        let asked = std::time::Instant::now();
        let conn = self.read.acquire().await;
        self.waited("read", asked);
        Ok(conn?)
    }

    /// Warns of a long wait for a connection of `pool` (on SQLite, `write` is its one writer),
    /// asked for at `asked`.
    fn waited(&self, pool: &'static str, asked: std::time::Instant) {
        let waited = asked.elapsed();
        if waited >= SLOW_ACQUIRE {
            let pool = if self.backend == Backend::Postgres { "shared" } else { pool };
            tracing::warn!(
                db.pool = pool,
                waited_ms = waited.as_millis() as u64,
                "waited {:.1} s for a database connection ({pool} pool)",
                waited.as_secs_f64()
            );
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes every connection (on shutdown).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// The current time as stored: UTC RFC 3339 with milliseconds.
pub fn now_text() -> String {
    timestamp_text(time::OffsetDateTime::now_utc())
}

/// A time as stored: UTC RFC 3339 with milliseconds (`2026-11-22T10:15:30.123Z`).
pub fn timestamp_text(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"))
        .expect("a UTC time always formats")
}

/// Reads a stored time back.
pub fn parse_timestamp(s: &str) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

/// The SQLite writer's page cache, in KiB (it grows to this as pages are read).
const WRITER_CACHE_KIB: u32 = 64 * 1024;
/// Each SQLite reader's page cache, in KiB: SQLite's default. Reads hold no lock others wait
/// for, and sixteen larger caches cost memory for no gain measured (with 8 MiB each and the
/// writer's 64, the 100,000-letter demo peaked at 812 MiB, against 596 and 651 before).
const READER_CACHE_KIB: u32 = 2 * 1024;

/// A wait for a connection at least this long is logged, with the pool it was for.
const SLOW_ACQUIRE: Duration = Duration::from_secs(1);

/// A write transaction held at least this long is logged, with where it was begun.
const SLOW_TRANSACTION: Duration = Duration::from_secs(1);

/// sqlx's own warning of a slow acquire does not say which pool: it is put past any acquire
/// timeout, and [`Store::begin`] and [`Store::read`] warn instead.
const NEVER_SLOW: Duration = Duration::from_secs(24 * 60 * 60);

/// Most values bound to one statement that writes many rows. SQLite allows 32,766, but binding
/// is quadratic in their number: sqlx looks up each `$n` by name, and SQLite finds a
/// parameter's name by walking the statement's list of names (at 8,000 values a statement,
/// `sqlite3_bind_parameter_name` took 6 % of the time of rendering and printing batches). At a
/// thousand it costs little, and a 5,000-letter batch's rows still go in tens of statements.
pub(crate) const BOUND_VALUES_PER_STATEMENT: usize = 1000;

/// The `values` list of a multi-row insert: `row` repeated `rows` times, its placeholders
/// `$1`…`$k` numbered on row by row (`$k+1`…`$2k` in the second). `row` may hold literals and
/// use a placeholder twice: `($1, $2, 'pending', $3, $3)`.
pub(crate) fn values_rows(row: &str, rows: usize) -> String {
    // The row split at its placeholders: text before each, and the placeholder's number.
    let mut parts: Vec<(&str, usize)> = Vec::new();
    let mut rest = row;
    while let Some(at) = rest.find('$') {
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        let number = rest[at + 1..at + 1 + digits].parse().expect("a placeholder is $ and a number");
        parts.push((&rest[..at], number));
        rest = &rest[at + 1 + digits..];
    }
    let per_row = parts.iter().map(|&(_, n)| n).max().unwrap_or(0);
    let mut out = String::with_capacity((row.len() + 8) * rows);
    for i in 0..rows {
        if i > 0 {
            out.push_str(", ");
        }
        for &(text, number) in &parts {
            out.push_str(text);
            out.push('$');
            out.push_str(&(i * per_row + number).to_string());
        }
        out.push_str(rest);
    }
    out
}

/// `($1, $2, …, $n)`: one row of `n` bound values, for [`values_rows`].
pub(crate) fn placeholder_row(n: usize) -> String {
    format!("({})", placeholders(1, n))
}

/// `$first, $first+1, …`: `n` bound values, for a row or an `in (…)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

pub(crate) fn conflict_or(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.to_owned()),
        _ => StoreError::Database(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_commits_are_synced_to_disk_before_they_return() {
        let db = crate::testing::sqlite_test_store().await;
        let store = &db.store;
        // 2 is FULL: the WAL is synced at every commit (1, NORMAL, only at checkpoints).
        let mut tx = store.begin().await.unwrap();
        let (sync,): (i64,) = sqlx::query_as("pragma synchronous").fetch_one(&mut *tx).await.unwrap();
        assert_eq!(sync, 2, "the write connection's synchronous setting");
        let (journal,): (String,) = sqlx::query_as("pragma journal_mode").fetch_one(&mut *tx).await.unwrap();
        assert_eq!(journal, "wal");
        tx.rollback().await.unwrap();
        let mut conn = store.read().await.unwrap();
        let (sync,): (i64,) = sqlx::query_as("pragma synchronous").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(sync, 2, "a read connection's synchronous setting");
    }

    #[test]
    fn values_rows_number_placeholders_row_by_row() {
        assert_eq!(values_rows("($1, $2, $3)", 2), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(
            values_rows("($1, 0, 'pending', $2, $2)", 3),
            "($1, 0, 'pending', $2, $2), ($3, 0, 'pending', $4, $4), ($5, 0, 'pending', $6, $6)"
        );
        assert_eq!(values_rows(&placeholder_row(12), 2).matches('$').count(), 24);
        assert!(values_rows(&placeholder_row(12), 2).ends_with("$23, $24)"));
        assert_eq!(values_rows("($1)", 0), "");
    }
}
