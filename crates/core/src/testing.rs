//! Test support: a fresh database per test, cloned from a migrated template.
//!
//! Uses the same bootstrap as the binary: `DATABASE_URL` when given, else a
//! server on 127.0.0.1:5432, else the private cluster (started on demand).
//! A test's database is dropped when the last clone of its [`TestDb`] is
//! dropped, whether the test passed or panicked. Databases left by test
//! processes that died (killed, aborted) are dropped on the next run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

use crate::clock::Clock;
use crate::config::{Config, EMBEDDED_DEFAULT};
use crate::db::{self, MIGRATOR, quote_ident};
use crate::engine::Ctx;
use crate::error::{Error, Result};

static SERVER: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// How long dropping a test's database may hold up the test's end.
const DROP_TIMEOUT: Duration = Duration::from_secs(10);

/// A database of its own for one test. Clones share it; it is dropped with
/// the last of them.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
    _owner: Arc<Owner>,
}

/// Drops the database when the last `TestDb` clone goes.
#[derive(Debug)]
struct Owner {
    name: String,
    maintenance_url: String,
    pool: PgPool,
}

impl TestDb {
    fn new(name: String, maintenance_url: &str, pool: PgPool) -> Self {
        Self {
            url: db::with_database(maintenance_url, &name),
            _owner: Arc::new(Owner {
                name: name.clone(),
                maintenance_url: maintenance_url.to_string(),
                pool: pool.clone(),
            }),
            name,
            pool,
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Hand out no more connections; the ones still open (held by the
        // test's contexts or by processes it started) are ended by FORCE.
        std::mem::drop(self.pool.close());
        if let Err(why) = drop_database(&self.maintenance_url, &self.name) {
            use std::io::Write;
            // Never panic in Drop: not even on a closed stderr.
            let _ = writeln!(
                std::io::stderr(),
                "warning: test database {} was not dropped ({why}); a later test run drops it",
                self.name
            );
        }
    }
}

/// Drop one database, from a short-lived thread with a runtime of its own:
/// `Drop` cannot be async and may run inside a runtime (the test's) or
/// outside any. Bounded by [`DROP_TIMEOUT`].
fn drop_database(maintenance_url: &str, name: &str) -> Result<(), String> {
    let url = maintenance_url.to_string();
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
    let thread = std::thread::Builder::new()
        .name("vivid-test-db-drop".into())
        .spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("no runtime: {e}"))?;
            runtime.block_on(async {
                let dropped = async {
                    let mut conn = db::try_connect(&url, Duration::from_secs(5)).await?;
                    exec(&mut conn, sql).await?;
                    conn.close().await.ok();
                    Ok::<_, Error>(())
                };
                match tokio::time::timeout(DROP_TIMEOUT, dropped).await {
                    Ok(result) => result.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no answer within {}s", DROP_TIMEOUT.as_secs())),
                }
            })
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    thread
        .join()
        .unwrap_or_else(|_| Err("its thread panicked".into()))
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

/// Drop test databases of processes that are gone (killed before their
/// `TestDb` was dropped). Without FORCE: a database someone is still
/// connected to (a test process on another machine sharing the server, whose
/// pid means nothing here, or a child process still running) is left alone.
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
                format!("DROP DATABASE IF EXISTS {}", quote_ident(&name)),
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
    owned(name, &url, 10).await
}

/// Connect to a database just created, owning it from now on: if connecting
/// fails, it is dropped all the same.
async fn owned(name: String, maintenance_url: &str, max_connections: u32) -> Result<TestDb> {
    let db_url = db::with_database(maintenance_url, &name);
    match db::connect(&db_url, max_connections).await {
        Ok(pool) => Ok(TestDb::new(name, maintenance_url, pool)),
        Err(e) => {
            let name = name.clone();
            let url = maintenance_url.to_string();
            tokio::task::spawn_blocking(move || drop_database(&url, &name))
                .await
                .ok();
            Err(e)
        }
    }
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
    owned(name, &url, 4).await
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    async fn exists(name: &str) -> Result<bool> {
        let url = maintenance_url().await?;
        let mut conn = db::try_connect(&url, Duration::from_secs(10)).await?;
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut conn)
            .await?;
        conn.close().await.ok();
        Ok(found.is_some())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_test_database_goes_with_its_last_clone() -> TestResult {
        let db = fresh_db().await?;
        let name = db.name.clone();
        let clone = db.clone();
        drop(db);
        assert!(exists(&name).await?, "a clone still uses it");
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&clone.pool)
            .await?;
        assert_eq!(one, 1);
        drop(clone);
        assert!(!exists(&name).await?, "{name} outlived its last TestDb");

        let empty = empty_db().await?;
        let name = empty.name.clone();
        drop(empty);
        assert!(!exists(&name).await?, "{name} outlived its TestDb");
        Ok(())
    }

    /// Dropped while a panic unwinds inside the test's runtime, or outside
    /// any runtime: either way the database goes.
    #[test]
    fn a_failing_test_leaves_no_database_behind() -> TestResult {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let seen = std::sync::Mutex::new(None::<String>);
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                let db = fresh_db()
                    .await
                    .unwrap_or_else(|e| panic!("no test database: {e}"));
                if let Ok(mut s) = seen.lock() {
                    *s = Some(db.name.clone());
                }
                panic!("this test fails with {} in use", db.name);
            })
        }));
        assert!(failed.is_err());
        let name = seen.lock().ok().and_then(|s| s.clone()).ok_or("no name")?;
        assert!(!runtime.block_on(exists(&name))?, "{name} outlived a panic");

        let db = runtime.block_on(fresh_db())?;
        let name = db.name.clone();
        drop(db); // no runtime here
        assert!(
            !runtime.block_on(exists(&name))?,
            "{name} outlived its TestDb"
        );
        Ok(())
    }
}
