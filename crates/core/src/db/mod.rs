//! Finding, starting and migrating the database.
//!
//! Order: `DATABASE_URL` when set; else a server on 127.0.0.1:5432 that lets
//! us in (database `vividwalls`, created when missing); else a private
//! cluster that we start ourselves (see [`local`]).

pub mod local;
mod text_column;

pub(crate) use text_column::text_column;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::error::{Error, Result};

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// The database every command uses unless told otherwise.
pub const DEFAULT_DB_NAME: &str = "vividwalls";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `DATABASE_URL` from the environment.
    Environment,
    /// A server already listening on 127.0.0.1:5432.
    LocalServer,
    /// Our own cluster under `$VIVID_HOME/pg`.
    PrivateCluster,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Located {
    pub url: String,
    pub source: Source,
}

/// Find a database (starting the private cluster when needed) for `db_name`,
/// creating it when missing. With `DATABASE_URL` set, that URL is used as is.
pub async fn locate(db_name: &str) -> Result<Located> {
    let server = locate_server().await?;
    if server.source == Source::Environment {
        return Ok(server);
    }
    let url = ensure_database(&server.url, db_name).await?;
    Ok(Located {
        url,
        source: server.source,
    })
}

/// Find a server: `DATABASE_URL`, else 127.0.0.1:5432, else the private
/// cluster (started when needed). For the last two the URL names the
/// maintenance database `postgres`.
pub async fn locate_server() -> Result<Located> {
    if let Ok(url) = std::env::var("DATABASE_URL")
        && !url.trim().is_empty()
    {
        return Ok(Located {
            url,
            source: Source::Environment,
        });
    }
    let mode = std::env::var("VIVID_DB_MODE").unwrap_or_default();
    if mode != "private"
        && let Some(url) = local_server_url().await
    {
        return Ok(Located {
            url,
            source: Source::LocalServer,
        });
    }
    let cluster = local::Cluster::from_env()?;
    let url = cluster.ensure_running().await?;
    Ok(Located {
        url,
        source: Source::PrivateCluster,
    })
}

/// A maintenance URL for 127.0.0.1:5432 if a server answers and lets us in.
async fn local_server_url() -> Option<String> {
    let mut users = Vec::new();
    if let Ok(u) = std::env::var("PGUSER") {
        users.push(u);
    }
    users.push("postgres".to_string());
    if let Ok(u) = std::env::var("USER") {
        users.push(u);
    }
    for user in users {
        let url = format!("postgres://{user}@127.0.0.1:5432/postgres");
        if try_connect(&url, Duration::from_secs(2)).await.is_ok() {
            return Some(url);
        }
    }
    None
}

pub async fn try_connect(url: &str, timeout: Duration) -> Result<PgConnection> {
    let opts = PgConnectOptions::from_str(url)?.log_statements(log::LevelFilter::Off);
    match tokio::time::timeout(timeout, PgConnection::connect_with(&opts)).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(Error::Cluster(format!(
            "no answer from {} within {}s",
            redact(url),
            timeout.as_secs()
        ))),
    }
}

/// Create `db_name` on the server behind `maintenance_url` when missing and
/// return its URL.
pub async fn ensure_database(maintenance_url: &str, db_name: &str) -> Result<String> {
    let mut conn = try_connect(maintenance_url, Duration::from_secs(5)).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(db_name)
        .fetch_optional(&mut conn)
        .await?;
    if exists.is_none() {
        let sql = format!("CREATE DATABASE {}", quote_ident(db_name));
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            // Another process may have created it at the same moment.
            let again: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                    .bind(db_name)
                    .fetch_optional(&mut conn)
                    .await?;
            if again.is_none() {
                return Err(e.into());
            }
        }
    }
    conn.close().await.ok();
    Ok(with_database(maintenance_url, db_name))
}

/// Replace the database part of a URL.
pub fn with_database(url: &str, db_name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db_name}?{q}"),
        None => format!("{base}/{db_name}"),
    }
}

/// The URL with any password hidden, for messages.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            )
        }
        _ => url.to_string(),
    }
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Open a pool, turning connection failures into one clear line.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool> {
    connect_logging(url, max_connections, log::LevelFilter::Off).await
}

/// [`connect`], with every statement logged at `statements` (target
/// `sqlx::query`): benchmarks count a front end's queries this way.
pub async fn connect_logging(
    url: &str,
    max_connections: u32,
    statements: log::LevelFilter,
) -> Result<PgPool> {
    let unreachable = |e: &sqlx::Error| {
        Error::Unreachable(format!(
            "cannot reach the database at {}: {}",
            redact(url),
            short_db_error(e)
        ))
    };
    let opts = PgConnectOptions::from_str(url)
        .map_err(|e| {
            Error::Unreachable(format!(
                "{} is not a valid PostgreSQL URL: {e}",
                redact(url)
            ))
        })?
        .log_statements(statements)
        .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(2));
    // One direct attempt first: it reports the real cause (refused, auth,
    // unknown database) instead of a pool timeout.
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(&opts)).await {
        Ok(Ok(conn)) => {
            conn.close().await.ok();
        }
        Ok(Err(e)) => return Err(unreachable(&e)),
        Err(_) => {
            return Err(Error::Unreachable(format!(
                "cannot reach the database at {}: no answer within 10s",
                redact(url)
            )));
        }
    }
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(|e| unreachable(&e))
}

fn short_db_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

/// How the schema compares with the migrations this binary carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaState {
    pub applied: Vec<i64>,
    pub pending: Vec<i64>,
    /// Applied versions this binary does not know (the database is newer).
    pub unknown: Vec<i64>,
}

pub async fn schema_state(pool: &PgPool) -> Result<SchemaState> {
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
        .await?;
    let applied: Vec<i64> = if table.is_some() {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    Ok(SchemaState {
        pending: known
            .iter()
            .copied()
            .filter(|v| !applied.contains(v))
            .collect(),
        unknown: applied
            .iter()
            .copied()
            .filter(|v| !known.contains(v))
            .collect(),
        applied,
    })
}

/// Refuse to run against a schema that does not match this binary.
pub async fn require_current_schema(pool: &PgPool) -> Result<()> {
    let state = schema_state(pool).await?;
    if !state.unknown.is_empty() {
        return Err(Error::Schema(format!(
            "the database has migrations this binary does not know ({:?}): use a newer `vivid`",
            state.unknown
        )));
    }
    if !state.pending.is_empty() {
        return Err(Error::Schema(format!(
            "the database schema is behind this binary ({} pending migration(s)): run `vivid migrate`",
            state.pending.len()
        )));
    }
    Ok(())
}

/// Apply pending migrations; returns how many were applied.
pub async fn migrate(pool: &PgPool) -> Result<usize> {
    let before = schema_state(pool).await?;
    if !before.unknown.is_empty() {
        return Err(Error::Schema(format!(
            "the database has migrations this binary does not know ({:?}): use a newer `vivid`",
            before.unknown
        )));
    }
    MIGRATOR.run(pool).await?;
    Ok(before.pending.len())
}

/// Is the database answering? (`vivid serve`'s health check.)
pub async fn ping(pool: &PgPool) -> Result<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten_and_redacted() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5432/postgres", "vividwalls"),
            "postgres://u@127.0.0.1:5432/vividwalls"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
    }
}
