//! Start-up shared by every command: config, logging, the database.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use vivid_core::clock::SystemClock;
use vivid_core::config::{Config, LoadOptions};
use vivid_core::{Ctx, db};

/// Load configuration; an error names the file, the key and the reason.
pub fn load_config(extra: Option<&PathBuf>) -> Result<Config> {
    let mut opts = LoadOptions::from_env();
    if let Some(file) = extra {
        opts.extra_file = Some(file.clone());
    }
    Ok(Config::load(&opts)?)
}

/// Where logs go when a full-screen view owns the terminal.
pub fn log_file() -> PathBuf {
    db::local::vivid_home().join("vivid.log")
}

/// Send tracing to stderr, or to the log file while a screen is drawn.
pub fn init_logging(to_file: bool, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    if to_file {
        let path = log_file();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        if let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
            return;
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

/// How a command treats the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Refuse to run unless the schema matches this binary.
    RequireCurrent,
    /// Apply pending migrations first (`migrate`, `demo`).
    Migrate,
}

/// Locate the database, connect, check or migrate the schema, build a context.
pub async fn connect(config: Config, schema: Schema, max_connections: u32) -> Result<Ctx> {
    let located = db::locate(db::DEFAULT_DB_NAME).await?;
    tracing::debug!(source = ?located.source, url = %db::redact(&located.url), "database located");
    let pool = db::connect(&located.url, max_connections).await?;
    match schema {
        Schema::RequireCurrent => db::require_current_schema(&pool).await?,
        Schema::Migrate => {
            let applied = db::migrate(&pool).await?;
            if applied > 0 {
                tracing::info!(applied, "applied migrations");
            }
        }
    }
    let ctx = Ctx::new(pool, config, Arc::new(SystemClock))?;
    ctx.org.sync(&ctx.pool).await?;
    Ok(ctx)
}
