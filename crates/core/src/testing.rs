//! Test support: a fresh database per test, cloned from a migrated template.
//!
//! Uses the same bootstrap as the binary: `DATABASE_URL` when given, else a
//! server on 127.0.0.1:5432, else the private cluster (started on demand).
//! Databases left by test processes that have exited are dropped on the next run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

use crate::clock::Clock;
use crate::config::{Config, EMBEDDED_DEFAULT};
use crate::db::{self, MIGRATOR, quote_ident};
use crate::engine::Ctx;
use crate::error::{Error, Result};

static SERVER: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database of its own for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

fn template_name() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for m in MIGRATOR.iter() {
        for b in m.checksum.iter().chain(m.version.to_le_bytes().iter()) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("vivid_tmpl_{:012x}", hash & 0xffff_ffff_ffff)
}

async fn maintenance_url() -> Result<String> {
    SERVER
        .get_or_try_init(|| async {
            let server = db::locate_server().await?;
            let url = server.url;
            prepare_template(&url).await?;
            Ok::<_, Error>(url)
        })
        .await
        .cloned()
}

/// Build the migrated template once per server and migration set.
async fn prepare_template(url: &str) -> Result<()> {
    let mut conn = db::try_connect(url, std::time::Duration::from_secs(10)).await?;
    sqlx::query("SELECT pg_advisory_lock(727274)")
        .execute(&mut conn)
        .await?;
    let result = async {
        drop_abandoned(&mut conn).await?;
        let name = template_name();
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&name)
                .fetch_optional(&mut conn)
                .await?;
        if exists.is_some() {
            return Ok(());
        }
        let building = format!("{name}_build");
        exec(
            &mut conn,
            format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&building)
            ),
        )
        .await?;
        exec(
            &mut conn,
            format!("CREATE DATABASE {}", quote_ident(&building)),
        )
        .await?;
        {
            let pool = db::connect(&db::with_database(url, &building), 2).await?;
            MIGRATOR.run(&pool).await?;
            pool.close().await;
        }
        exec(
            &mut conn,
            format!(
                "ALTER DATABASE {} RENAME TO {}",
                quote_ident(&building),
                quote_ident(&name)
            ),
        )
        .await?;
        Ok::<_, Error>(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock(727274)")
        .execute(&mut conn)
        .await
        .ok();
    conn.close().await.ok();
    result
}

async fn exec(conn: &mut PgConnection, sql: String) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(conn).await?;
    Ok(())
}

/// Drop test databases of processes that are gone.
async fn drop_abandoned(conn: &mut PgConnection) -> Result<()> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'vivid\\_t\\_%' OR datname LIKE 'vivid\\_tmpl\\_%'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for name in names {
        // Templates of other migration sets are left alone: another test
        // process (another checkout) may be cloning one right now.
        let stale = match name.strip_prefix("vivid_t_") {
            Some(rest) => {
                let pid = rest.split('_').next().unwrap_or_default();
                !std::path::Path::new(&format!("/proc/{pid}")).exists()
            }
            None => false,
        };
        if stale {
            exec(
                conn,
                format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quote_ident(&name)
                ),
            )
            .await
            .ok();
        }
    }
    Ok(())
}

/// A fresh, migrated, empty database.
pub async fn fresh_db() -> Result<TestDb> {
    let url = maintenance_url().await?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!("vivid_t_{}_{n}_{:x}", std::process::id(), nanos & 0xfffff);
    let mut conn = db::try_connect(&url, std::time::Duration::from_secs(10)).await?;
    let sql = format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quote_ident(&name),
        quote_ident(&template_name())
    );
    // The template may be briefly busy while another process clones it.
    let mut tries = 0;
    loop {
        match exec(&mut conn, sql.clone()).await {
            Ok(()) => break,
            Err(e) if tries < 50 => {
                tries += 1;
                tracing::debug!(error = %e, "template busy; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
    conn.close().await.ok();
    let db_url = db::with_database(&url, &name);
    let pool = db::connect(&db_url, 10).await?;
    Ok(TestDb {
        name,
        url: db_url,
        pool,
    })
}

/// The shipped default configuration.
pub fn default_config() -> Config {
    match Config::from_toml_str("built-in default", EMBEDDED_DEFAULT) {
        Ok(c) => c,
        Err(e) => panic!("the shipped default config is invalid: {e}"),
    }
}

impl TestDb {
    /// A service context over this database with the org synchronised.
    pub async fn ctx(&self, config: Config, clock: Arc<dyn Clock>) -> Result<Ctx> {
        let ctx = Ctx::new(self.pool.clone(), config, clock)?;
        ctx.org.sync(&ctx.pool).await?;
        Ok(ctx)
    }
}

/// A fresh database with no schema at all (to test migrations).
pub async fn empty_db() -> Result<TestDb> {
    let url = maintenance_url().await?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("vivid_t_{}_{n}_empty", std::process::id());
    let mut conn = db::try_connect(&url, std::time::Duration::from_secs(10)).await?;
    exec(&mut conn, format!("CREATE DATABASE {}", quote_ident(&name))).await?;
    conn.close().await.ok();
    let db_url = db::with_database(&url, &name);
    let pool = db::connect(&db_url, 4).await?;
    Ok(TestDb {
        name,
        url: db_url,
        pool,
    })
}
