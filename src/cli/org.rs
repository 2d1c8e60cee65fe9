//! `vivid org list` and `vivid oncall who`.

use anyhow::Result;
use clap::{Args, Subcommand};
use vivid_core::config::Config;
use vivid_core::engine::oncall;
use vivid_core::org::Role;

use super::JsonFlag;
use crate::app::{self, Schema};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Departments, their directors and people.
    List(JsonFlag),
}

#[derive(Debug, Subcommand)]
pub enum OncallCommand {
    /// Who is on call now (or at --at).
    Who(WhoArgs),
}

#[derive(Debug, Args)]
pub struct WhoArgs {
    /// Only this department's schedules.
    #[arg(long)]
    department: Option<String>,
    /// The moment to ask about (RFC 3339); default now.
    #[arg(long)]
    at: Option<chrono::DateTime<chrono::Utc>>,
    #[command(flatten)]
    json: JsonFlag,
}

pub async fn run_org(config: Config, cmd: OrgCommand) -> Result<()> {
    let OrgCommand::List(flag) = cmd;
    let ctx = app::connect(config, Schema::RequireCurrent, 2).await?;
    if flag.json {
        return output::json(ctx.org.as_ref());
    }
    let mut rows = Vec::new();
    for d in &ctx.org.departments {
        let mut people: Vec<_> = ctx
            .org
            .people
            .iter()
            .filter(|p| p.department == d.key)
            .collect();
        people.sort_by_key(|p| {
            (
                !p.has_role(Role::Director) && !p.has_role(Role::BusinessManager),
                p.handle.clone(),
            )
        });
        for p in people {
            let roles: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
            rows.push(vec![
                d.name.clone(),
                format!("@{}", p.handle),
                p.name.clone(),
                roles.join(", "),
                p.discord_id.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
    }
    output::table(&["DEPARTMENT", "HANDLE", "NAME", "ROLES", "DISCORD"], &rows);
    Ok(())
}

pub async fn run_oncall(config: Config, cmd: OncallCommand) -> Result<()> {
    let OncallCommand::Who(args) = cmd;
    let ctx = app::connect(config, Schema::RequireCurrent, 2).await?;
    if let Some(d) = &args.department
        && ctx.org.department(d).is_none()
    {
        let keys: Vec<&str> = ctx.org.departments.iter().map(|d| d.key.as_str()).collect();
        return Err(vivid_core::Error::not_found(format!(
            "unknown department {d:?}; departments: {}",
            keys.join(", ")
        ))
        .into());
    }
    let at = args.at.unwrap_or_else(|| ctx.now());
    let mut conn = ctx.pool.acquire().await?;
    let all = oncall::all_at(&ctx, &mut conn, at).await?;
    let shown: Vec<_> = all
        .into_iter()
        .filter(|o| args.department.as_ref().is_none_or(|d| &o.department == d))
        .collect();
    if args.json.json {
        return output::json(&shown);
    }
    if shown.is_empty() {
        println!("no on-call schedule covers that department");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|o| {
            let name = ctx
                .org
                .person(&o.person)
                .map(|p| p.name.clone())
                .unwrap_or_default();
            vec![
                o.schedule.clone(),
                o.department.clone(),
                format!("@{} {name}", o.person),
                o.via.to_string(),
            ]
        })
        .collect();
    output::table(&["SCHEDULE", "DEPARTMENT", "ON CALL", "VIA"], &rows);
    Ok(())
}
