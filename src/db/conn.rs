//! Connections: the derived `MultiConnection` over SQLite and PostgreSQL, database URL parsing,
//! the r2d2 connection manager (per-connection SQLite durability pragmas) and embedded migrations.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a SQLite writer waits for the write lock before giving up (milliseconds).
pub(crate) const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// Session-level advisory lock key held while PostgreSQL migrations run, so instances starting
/// together do not race each other's DDL.
const PG_MIGRATION_LOCK: i64 = 0x6265_7370_6f6b_6531; // "bespoke1"

/// One connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub(crate) enum AnyConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    /// `postgres://…` / `postgresql://…` select PostgreSQL; `sqlite://path`, `sqlite:path` or a
    /// bare path select SQLite (a file; in-memory databases are refused: each pooled connection
    /// would see a different one).
    pub(crate) fn parse(url: &str) -> Result<Target, DbError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DbError::BadUrl("empty database URL".into()));
        }
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_owned()));
        }
        let path = if lower.starts_with("sqlite://") {
            url.get(9..).unwrap_or_default()
        } else if lower.starts_with("sqlite:") {
            url.get(7..).unwrap_or_default()
        } else {
            url
        };
        if path.is_empty() || path == ":memory:" || path.starts_with("file:") {
            return Err(DbError::BadUrl(format!(
                "{url}: SQLite needs a file path (e.g. sqlite://data/bespoke.db)"
            )));
        }
        if lower.contains("://") && !lower.starts_with("sqlite://") {
            return Err(DbError::BadUrl(format!(
                "{url}: unsupported scheme (use sqlite://path or postgres://...)"
            )));
        }
        Ok(Target::Sqlite(PathBuf::from(path)))
    }

    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "sqlite",
            Target::Postgres(_) => "postgres",
        }
    }

    fn establish(&self) -> Result<AnyConnection, diesel::ConnectionError> {
        match self {
            Target::Postgres(url) => PgConnection::establish(url).map(AnyConnection::Postgres),
            Target::Sqlite(path) => {
                let text = path.to_str().ok_or_else(|| {
                    diesel::ConnectionError::BadConnection("non-UTF-8 SQLite path".into())
                })?;
                let mut conn = SqliteConnection::establish(text)?;
                apply_sqlite_pragmas(&mut conn)
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

/// Durability and concurrency settings, per connection: wait for locks instead of failing, WAL
/// (readers never block the writer), and fsync on every commit so an acknowledged order survives
/// power loss.
///
/// Switching a file to WAL needs an exclusive lock taken while holding a shared one; SQLite
/// answers `SQLITE_BUSY` at once rather than call the busy handler there (it could deadlock), so
/// instances opening a new file together would fail on it. That step is retried within the
/// same busy timeout.
fn apply_sqlite_pragmas(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    conn.batch_execute(&format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};"))?;
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_millis(u64::from(SQLITE_BUSY_TIMEOUT_MS));
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL;") {
            Err(e) if super::error::is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(100));
            }
            other => break other?,
        }
    }
    conn.batch_execute(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
}

/// Creates the SQLite file's folder (e.g. ./data) when missing.
pub(crate) fn prepare(target: &Target) -> Result<(), DbError> {
    if let Target::Sqlite(path) = target
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbError::Unavailable(format!("{}: {e}", display(dir))))?;
    }
    Ok(())
}

fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The r2d2 manager: opens the right backend for the target, never guessing from the URL twice.
#[derive(Debug)]
pub(crate) struct Manager {
    pub(crate) target: Target,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        self.target
            .establish()
            .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.is_broken()
    }
}

/// Runs the pending embedded migrations for the connection's backend; returns how many ran.
pub(crate) fn migrate(conn: &mut AnyConnection) -> Result<usize, DbError> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    match conn {
        // BEGIN IMMEDIATE: a second process starting on the same file waits (busy_timeout), then
        // finds the migrations applied, instead of racing the same DDL.
        AnyConnection::Sqlite(c) => c.immediate_transaction(|c| {
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.len())
                .map_err(err)
        }),
        AnyConnection::Postgres(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))
                .execute(c)?;
            let ran = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len())
                .map_err(err);
            let unlock =
                diesel::sql_query(format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))
                    .execute(c);
            let ran = ran?;
            unlock?;
            Ok(ran)
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

/// The durability settings in force on this connection, read back from the database.
pub(crate) fn settings(conn: &mut AnyConnection) -> Result<Vec<(&'static str, String)>, DbError> {
    let mut out = Vec::new();
    match conn {
        AnyConnection::Sqlite(c) => {
            for name in [
                "journal_mode",
                "synchronous",
                "busy_timeout",
                "foreign_keys",
            ] {
                let v: Setting = diesel::sql_query(format!(
                    "SELECT CAST((SELECT * FROM pragma_{name}) AS TEXT) AS value"
                ))
                .get_result(c)?;
                out.push((name, v.value));
            }
        }
        AnyConnection::Postgres(c) => {
            for name in [
                "synchronous_commit",
                "fsync",
                "default_transaction_isolation",
            ] {
                let v: Setting =
                    diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
                        .get_result(c)?;
                out.push((name, v.value));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend() {
        assert_eq!(
            Target::parse("postgres://u@h/db").ok(),
            Some(Target::Postgres("postgres://u@h/db".into()))
        );
        assert_eq!(
            Target::parse("postgresql://u@h/db")
                .map(|t| t.backend())
                .ok(),
            Some("postgres")
        );
        assert_eq!(
            Target::parse("sqlite://data/x.db").ok(),
            Some(Target::Sqlite("data/x.db".into()))
        );
        assert_eq!(
            Target::parse("SQLite:///tmp/x.db").ok(),
            Some(Target::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            Target::parse("./x.db").ok(),
            Some(Target::Sqlite("./x.db".into()))
        );
        for bad in [
            "",
            "sqlite::memory:",
            ":memory:",
            "mysql://h/db",
            "sqlite://",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(DbError::BadUrl(_))),
                "{bad}"
            );
        }
    }
}
