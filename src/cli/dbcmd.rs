//! `vivid db start|stop|status|url` and `vivid migrate`.

use anyhow::Result;
use clap::Subcommand;
use serde::Serialize;
use vivid_core::config::Config;
use vivid_core::db::{self, local::Cluster, local::ClusterStatus};

use super::JsonFlag;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Start the private cluster (created on first use).
    Start(JsonFlag),
    /// Stop the private cluster.
    Stop(JsonFlag),
    /// Which database `vivid` uses and whether it answers.
    Status(JsonFlag),
    /// Print the URL of the database `vivid` uses.
    Url,
}

#[derive(Serialize)]
struct DbStatus {
    source: db::Source,
    url: String,
    reachable: bool,
    schema: Option<db::SchemaState>,
    private_cluster: ClusterStatus,
    error: Option<String>,
}

pub async fn run(cmd: DbCommand) -> Result<()> {
    let cluster = Cluster::from_env()?;
    match cmd {
        DbCommand::Start(flag) => {
            let url = cluster.ensure_running().await?;
            let url = db::ensure_database(&url, db::DEFAULT_DB_NAME).await?;
            if flag.json {
                output::json(&serde_json::json!({ "started": true, "url": url }))
            } else {
                println!(
                    "private cluster running in {}\n{url}",
                    cluster.home.display()
                );
                Ok(())
            }
        }
        DbCommand::Stop(flag) => {
            let stopped = cluster.stop().await?;
            if flag.json {
                output::json(&serde_json::json!({ "stopped": stopped }))
            } else {
                println!(
                    "{}",
                    if stopped {
                        "private cluster stopped"
                    } else {
                        "private cluster was not running"
                    }
                );
                Ok(())
            }
        }
        DbCommand::Status(flag) => {
            let private_cluster = cluster.status().await?;
            let status = match db::locate(db::DEFAULT_DB_NAME).await {
                Ok(located) => {
                    let (reachable, schema, error) = match db::connect(&located.url, 1).await {
                        Ok(pool) => match db::schema_state(&pool).await {
                            Ok(s) => (true, Some(s), None),
                            Err(e) => (true, None, Some(e.to_string())),
                        },
                        Err(e) => (false, None, Some(e.to_string())),
                    };
                    DbStatus {
                        source: located.source,
                        url: db::redact(&located.url),
                        reachable,
                        schema,
                        private_cluster,
                        error,
                    }
                }
                Err(e) => return Err(e.into()),
            };
            if flag.json {
                return output::json(&status);
            }
            println!("database  {} ({:?})", status.url, status.source);
            println!("reachable {}", status.reachable);
            if let Some(s) = &status.schema {
                println!(
                    "schema    {} applied, {} pending{}",
                    s.applied.len(),
                    s.pending.len(),
                    if s.unknown.is_empty() {
                        String::new()
                    } else {
                        format!(", {} unknown (database is newer)", s.unknown.len())
                    }
                );
            }
            match &status.private_cluster {
                ClusterStatus::Absent => println!("private   none created"),
                ClusterStatus::Stopped { data_dir } => println!("private   stopped ({data_dir})"),
                ClusterStatus::Running { data_dir, .. } => {
                    println!("private   running ({data_dir})")
                }
            }
            if let Some(e) = status.error {
                println!("error     {e}");
            }
            Ok(())
        }
        DbCommand::Url => {
            let located = db::locate(db::DEFAULT_DB_NAME).await?;
            println!("{}", located.url);
            Ok(())
        }
    }
}

pub async fn migrate(config: Config, flag: JsonFlag) -> Result<()> {
    let located = db::locate(db::DEFAULT_DB_NAME).await?;
    let pool = db::connect(&located.url, 2).await?;
    let applied = db::migrate(&pool).await?;
    let state = db::schema_state(&pool).await?;
    drop(config);
    if flag.json {
        return output::json(&serde_json::json!({ "applied": applied, "schema": state }));
    }
    println!(
        "{} migration(s) applied; schema at version {}",
        applied,
        state.applied.last().copied().unwrap_or(0)
    );
    Ok(())
}
