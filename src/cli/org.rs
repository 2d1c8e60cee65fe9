//! `vivid org list` and `vivid oncall who|schedule|override|cancel`.

use anyhow::Result;
use clap::{Args, Subcommand};
use vivid_core::config::Config;
use vivid_core::engine::oncall;
use vivid_core::org::Role;
use vivid_core::when::{Bound, Relative};

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
    /// The rotation ahead: who is on call shift by shift.
    Schedule(ScheduleArgs),
    /// Put someone on call for a while (covering a shift): the person
    /// themselves, or a team lead or the director of the schedule's department.
    Override(OverrideArgs),
    /// Cancel a live override (its record stays).
    Cancel(CancelArgs),
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The override's number (`oncall override` prints it).
    id: i64,
    #[command(flatten)]
    actor: super::ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Only this schedule.
    #[arg(long)]
    name: Option<String>,
    /// How many shifts ahead to show.
    #[arg(long, default_value_t = 4)]
    shifts: u32,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct OverrideArgs {
    /// The on-call schedule to override (its name, from `vivid oncall schedule`).
    schedule: String,
    /// Who is on call instead (a handle from `vivid org list`).
    person: String,
    /// Start (YYYY-MM-DD, a local date; "YYYY-MM-DD HH:MM" local time;
    /// RFC 3339; or a duration from now, "2h"); default now.
    #[arg(long)]
    from: Option<String>,
    /// How long, e.g. "8h".
    #[arg(long = "for")]
    duration: vivid_core::duration::HumanDuration,
    /// Replace the overrides this one overlaps (otherwise an overlap is refused).
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    actor: super::ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct WhoArgs {
    /// Only this department's schedules.
    #[arg(long)]
    department: Option<String>,
    /// The moment to ask about (YYYY-MM-DD, a local date: its start;
    /// "YYYY-MM-DD HH:MM" local time; RFC 3339; or a duration ago); default now.
    #[arg(long)]
    at: Option<String>,
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
    let ctx = app::connect(config, Schema::RequireCurrent, 2).await?;
    let args = match cmd {
        OncallCommand::Who(args) => args,
        OncallCommand::Schedule(a) => return schedule(&ctx, a).await,
        OncallCommand::Cancel(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let o = vivid_core::crisis::service::cancel_on_call(&ctx, a.id, &actor).await?;
            if a.json.json {
                return output::json(&o);
            }
            println!(
                "override #{} cancelled (@{} on {})",
                o.id, o.person, o.schedule
            );
            return Ok(());
        }
        OncallCommand::Override(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let from = match &a.from {
                Some(f) => super::parse_when(&ctx, "--from", f, Bound::Start, Relative::Future)?,
                None => ctx.now(),
            };
            let added = vivid_core::crisis::service::put_on_call(
                &ctx,
                &oncall::NewOverride {
                    schedule: &a.schedule,
                    person: &a.person,
                    starts_at: from,
                    ends_at: from + a.duration.delta(),
                    actor: &actor,
                    replace: a.replace,
                },
            )
            .await?;
            if a.json.json {
                return output::json(&added);
            }
            println!(
                "override #{}: @{} is on call for {} from {} until {}",
                added.id,
                added.person,
                added.schedule,
                ctx.calendar.format_local(added.starts_at),
                ctx.calendar.format_local(added.ends_at)
            );
            for old in &added.replaced {
                println!(
                    "replaced override #{} (@{}, {} to {})",
                    old.id,
                    old.person,
                    ctx.calendar.format_local(old.starts_at),
                    ctx.calendar.format_local(old.ends_at)
                );
            }
            return Ok(());
        }
    };
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
    let at = match &args.at {
        Some(t) => super::parse_when(&ctx, "--at", t, Bound::Start, Relative::Past)?,
        None => ctx.now(),
    };
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
            vec![
                o.schedule.clone(),
                format!("{} (@{})", o.name, o.person),
                o.until
                    .map(|t| ctx.calendar.format_local(t))
                    .unwrap_or_else(|| "-".into()),
                match &o.layer {
                    Some(layer) => format!("{} ({layer})", o.via),
                    None => o.via.to_string(),
                },
            ]
        })
        .collect();
    output::table(&["SCHEDULE", "ON CALL", "UNTIL", "VIA"], &rows);
    Ok(())
}

async fn schedule(ctx: &vivid_core::Ctx, a: ScheduleArgs) -> Result<()> {
    if let Some(n) = &a.name
        && ctx.org.schedule(n).is_none()
    {
        return Err(vivid_core::Error::not_found(format!("unknown on-call schedule {n:?}")).into());
    }
    let now = ctx.now();
    let mut conn = ctx.pool.acquire().await?;
    let overrides = oncall::overrides_at(&mut conn, now).await?;
    let mut out = Vec::new();
    for s in ctx
        .org
        .schedules
        .iter()
        .filter(|s| a.name.as_ref().is_none_or(|n| n == &s.name))
    {
        if !s.layers.is_empty() {
            // Layers hand over at their hours too: walk the covers from now.
            let mut at = now;
            for k in 0..a.shifts.max(1) {
                let Some(cover) = s.cover_at(at) else {
                    break;
                };
                let Some(until) = cover.until else {
                    break;
                };
                out.push(serde_json::json!({
                    "schedule": s.name, "starts_at": at, "ends_at": until,
                    "person": cover.person, "layer": cover.layer,
                    "override_now": if k == 0 { overrides.get(&s.name).cloned() } else { None },
                }));
                at = until;
            }
            continue;
        }
        let Some(current) = s.shift_index_at(now) else {
            continue;
        };
        for k in 0..i64::from(a.shifts.max(1)) {
            let Some(index) = current.checked_add(k) else {
                break;
            };
            let starts = s.turnover(index);
            let ends = index.checked_add(1).and_then(|next| s.turnover(next));
            let (Some(starts), Some(ends)) = (starts, ends) else {
                break;
            };
            let person = s.on_shift(index).unwrap_or_default().to_string();
            let current_override = if k == 0 {
                overrides.get(&s.name).cloned()
            } else {
                None
            };
            out.push(serde_json::json!({
                "schedule": s.name, "starts_at": starts, "ends_at": ends,
                "person": person, "layer": null, "override_now": current_override,
            }));
        }
    }
    if a.json.json {
        return output::json(&out);
    }
    let rows: Vec<Vec<String>> = out
        .iter()
        .map(|r| {
            let fmt = |v: &serde_json::Value| {
                serde_json::from_value::<chrono::DateTime<chrono::Utc>>(v.clone())
                    .map(|t| ctx.calendar.format_local(t))
                    .unwrap_or_default()
            };
            vec![
                r["schedule"].as_str().unwrap_or_default().to_string(),
                fmt(&r["starts_at"]),
                fmt(&r["ends_at"]),
                match r["layer"].as_str() {
                    Some(layer) => {
                        format!("@{} ({layer})", r["person"].as_str().unwrap_or_default())
                    }
                    None => format!("@{}", r["person"].as_str().unwrap_or_default()),
                },
                r["override_now"]
                    .as_str()
                    .map(|p| format!("now covered by @{p}"))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    output::table(&["SCHEDULE", "FROM", "UNTIL", "ON CALL", "OVERRIDE"], &rows);
    Ok(())
}
