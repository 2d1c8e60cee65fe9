//! `vivid collab ...`: typed hand-offs between departments, their SLAs and
//! the department matrix.

use anyhow::Result;
use clap::{Args, Subcommand};
use vivid_core::Ctx;
use vivid_core::collab::model::Command as Act;
use vivid_core::collab::read::{self, MATRIX_HEADERS};
use vivid_core::collab::service::{self, Detail, View};
use vivid_core::config::Config;
use vivid_core::duration::format_delta;
use vivid_core::when::{Bound, Relative};

use super::{ActorArg, JsonFlag};
use crate::app::{self, Schema};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum CollabCommand {
    /// The hand-off kinds: edges, payload fields, SLAs, calendar, RACI.
    Kinds(JsonFlag),
    /// Ask another department for work: a typed hand-off.
    Request(RequestArgs),
    /// Live hand-offs (or those in a state), to or from a department.
    List(ListArgs),
    /// One hand-off: state, clocks, payload, RACI, thread.
    Show(IdArgs),
    /// First response: the receiving side has it (stops the response SLA).
    Ack(ActArgs),
    /// Start the work (acknowledges it if needed).
    Start(ActArgs),
    /// Wait on the requester (pauses the resolution SLA).
    Wait(ReasonArgs),
    /// The requester answered: work again (the SLA runs again).
    Resume(ActArgs),
    /// The work is done (stops the resolution SLA; Informed are told).
    Done(ActArgs),
    /// Refuse the work, with a reason.
    Decline(ReasonArgs),
    /// Withdraw the request (requesting side); kept out of metrics.
    Cancel(CancelArgs),
    /// Add to a hand-off's thread.
    Comment(CommentArgs),
    /// Give a hand-off to a person of the receiving department ("queue": back to the queue).
    Assign(AssignArgs),
    /// The department matrix: open, imminent, breached, response and resolution times per edge.
    Matrix(MatrixArgs),
    /// KPIs per receiving department: volume, breach rate, time to first response.
    Metrics(MatrixArgs),
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// A kind from `vivid collab kinds`.
    kind: String,
    /// What is asked, in a few words.
    title: String,
    /// A payload field, NAME=VALUE (repeat for each field).
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// A person of the receiving department (default: its triage rule).
    #[arg(long = "to", value_name = "PERSON")]
    to: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Hand-offs to or from this department.
    #[arg(long)]
    department: Option<String>,
    /// open, acknowledged, in_progress, waiting, done, declined, cancelled.
    #[arg(long)]
    state: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The hand-off number (from `vivid collab list`).
    id: i64,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ActArgs {
    /// The hand-off number (from `vivid collab list`).
    id: i64,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ReasonArgs {
    /// The hand-off number (from `vivid collab list`).
    id: i64,
    /// Why, in a sentence (recorded in the event log).
    #[arg(long, short)]
    reason: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The hand-off number (from `vivid collab list`).
    id: i64,
    /// Why, in a sentence (recorded in the event log).
    #[arg(long, short)]
    reason: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CommentArgs {
    /// The hand-off number (from `vivid collab list`).
    id: i64,
    /// The comment, in a sentence or two.
    text: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The hand-off number (from `vivid collab list`).
    id: i64,
    /// Who takes it (a handle from `vivid org list`), or "queue" to put it back.
    person: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// The window: a duration back from now (30d) or a date.
    #[arg(long, default_value = "30d")]
    since: String,
    #[command(flatten)]
    json: JsonFlag,
}

pub async fn run(config: Config, cmd: CollabCommand) -> Result<()> {
    let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
    match cmd {
        CollabCommand::Kinds(json) => {
            let kinds = service::kinds(&ctx)?;
            if json.json {
                return output::json(&kinds);
            }
            let rows: Vec<Vec<String>> = kinds
                .iter()
                .map(|k| {
                    vec![
                        k.name.clone(),
                        format!("{} → {}", k.from, k.to),
                        secs(Some(k.response_sla)),
                        secs(k.resolution_sla),
                        k.calendar.clone(),
                        k.raci.accountable.clone(),
                    ]
                })
                .collect();
            output::table(
                &[
                    "KIND",
                    "EDGE",
                    "RESPOND",
                    "RESOLVE",
                    "CALENDAR",
                    "ACCOUNTABLE",
                ],
                &rows,
            );
            Ok(())
        }
        CollabCommand::Request(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let h = service::request(&ctx, &a.kind, &a.title, &a.fields, a.to.as_deref(), &actor)
                .await?;
            let v = View::of(&h)?;
            if a.json.json {
                return output::json(&v);
            }
            println!(
                "hand-off #{} to {} ({}): respond by {}",
                v.id,
                v.to,
                v.kind,
                ctx.calendar.format_local(v.response_due_at)
            );
            Ok(())
        }
        CollabCommand::List(a) => {
            let list = service::list(&ctx, a.department.as_deref(), a.state.as_deref()).await?;
            if a.json.json {
                return output::json(&list);
            }
            if list.is_empty() {
                println!("no hand-offs");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list.iter().map(|v| row(&ctx, v)).collect();
            output::table(&["ID", "KIND", "EDGE", "STATE", "DUE", "TITLE"], &rows);
            Ok(())
        }
        CollabCommand::Show(a) => {
            let d = service::detail(&ctx, a.id).await?;
            if a.json.json {
                return output::json(&d);
            }
            show(&ctx, &d);
            Ok(())
        }
        CollabCommand::Ack(a) => act(&ctx, a, Act::Acknowledge).await,
        CollabCommand::Start(a) => act(&ctx, a, Act::Start).await,
        CollabCommand::Resume(a) => act(&ctx, a, Act::Resume).await,
        CollabCommand::Done(a) => act(&ctx, a, Act::Done).await,
        CollabCommand::Wait(a) => act_with_reason(&ctx, a, Act::Wait).await,
        CollabCommand::Decline(a) => act_with_reason(&ctx, a, Act::Decline).await,
        CollabCommand::Cancel(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let h = service::act(&ctx, a.id, Act::Cancel, &actor, a.reason.as_deref()).await?;
            print_moved(&ctx, &View::of(&h)?, a.json.json)
        }
        CollabCommand::Comment(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let c = service::comment(&ctx, a.id, &a.text, &actor).await?;
            if a.json.json {
                return output::json(&c);
            }
            println!("comment added to hand-off #{}", c.handoff_id);
            Ok(())
        }
        CollabCommand::Assign(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let h = service::assign(&ctx, a.id, &a.person, &actor).await?;
            let v = View::of(&h)?;
            if a.json.json {
                return output::json(&v);
            }
            match &v.assignee {
                Some(p) => println!("hand-off #{} assigned to @{p}", v.id),
                None => println!("hand-off #{} is back in {}'s queue", v.id, v.to),
            }
            Ok(())
        }
        CollabCommand::Matrix(a) => {
            let since = super::parse_when(&ctx, "--since", &a.since, Bound::Start, Relative::Past)?;
            let m = read::matrix(&ctx, since).await?;
            if a.json.json {
                return output::json(&m);
            }
            println!(
                "hand-offs since {} (times are business time, p50/p90)",
                ctx.calendar.format_local(since)
            );
            if m.edges.is_empty() {
                println!("no hand-offs in the window");
                return Ok(());
            }
            output::table(&MATRIX_HEADERS, &read::matrix_rows(&m));
            Ok(())
        }
        CollabCommand::Metrics(a) => {
            let since = super::parse_when(&ctx, "--since", &a.since, Bound::Start, Relative::Past)?;
            let m = read::matrix(&ctx, since).await?;
            if a.json.json {
                return output::json(&serde_json::json!({
                    "since": m.since,
                    "departments": m.departments,
                    "edges": m.edges,
                }));
            }
            let rows: Vec<Vec<String>> = m
                .departments
                .iter()
                .map(|d| {
                    vec![
                        d.to.clone(),
                        d.volume.to_string(),
                        d.open.to_string(),
                        d.breached.to_string(),
                        d.breach_rate
                            .map(|r| format!("{:.0}%", r * 100.0))
                            .unwrap_or_else(|| "-".into()),
                        secs(d.response_median_seconds.map(|s| s.max(0) as u64)),
                    ]
                })
                .collect();
            output::table(
                &["RECEIVER", "VOLUME", "OPEN", "LATE", "BREACH", "FIRST RESP"],
                &rows,
            );
            Ok(())
        }
    }
}

fn secs(s: Option<u64>) -> String {
    s.map(|s| format_delta(chrono::TimeDelta::seconds(s.min(i64::MAX as u64) as i64)))
        .unwrap_or_else(|| "-".into())
}

fn due_text(ctx: &Ctx, v: &View) -> String {
    let now = ctx.now();
    let due = match v.state {
        vivid_core::collab::model::State::Open => Some(v.response_due_at),
        s if s.is_terminal() => None,
        _ => v.resolution_due_at,
    };
    match due {
        None if v.state == vivid_core::collab::model::State::Waiting => "paused".into(),
        None => "-".into(),
        Some(d) if d < now => format!("LATE {}", format_delta(now - d)),
        Some(d) => format!("in {}", format_delta(d - now)),
    }
}

fn row(ctx: &Ctx, v: &View) -> Vec<String> {
    let mut title = v.title.clone();
    if title.chars().count() > 28 {
        title = format!("{}…", title.chars().take(27).collect::<String>());
    }
    vec![
        format!("#{}", v.id),
        v.kind.clone(),
        format!("{}→{}", abbrev(&v.from), abbrev(&v.to)),
        v.state.label().to_string(),
        due_text(ctx, v),
        title,
    ]
}

fn abbrev(d: &str) -> String {
    match d {
        "customer_experience" => "cx".into(),
        "marketing" => "mkt".into(),
        "finance" => "fin".into(),
        "product" => "prod".into(),
        other => other.chars().take(5).collect(),
    }
}

fn show(ctx: &Ctx, d: &Detail) {
    let v = &d.handoff;
    let local = |t: chrono::DateTime<chrono::Utc>| ctx.calendar.format_local(t);
    println!("hand-off #{} · {} · {}", v.id, v.kind, v.state.label());
    println!("  {}", v.title);
    println!(
        "  {} → {}   requested by @{} at {}",
        v.from,
        v.to,
        v.requested_by,
        local(v.requested_at)
    );
    println!(
        "  assignee: {}   calendar: {}",
        v.assignee
            .as_deref()
            .map(|a| format!("@{a}"))
            .unwrap_or_else(|| "(queue)".into()),
        v.calendar
    );
    let flag = |b: bool| if b { " BREACHED" } else { "" };
    println!(
        "  response due {}{}{}",
        local(v.response_due_at),
        v.acknowledged_at
            .map(|a| format!(", acknowledged {}", local(a)))
            .unwrap_or_default(),
        flag(v.response_breached)
    );
    match v.resolution_due_at {
        Some(r) => println!(
            "  resolution due {}{}",
            local(r),
            flag(v.resolution_breached)
        ),
        None if v.state == vivid_core::collab::model::State::Waiting => {
            println!("  resolution clock paused (waiting on the requester)")
        }
        None => {}
    }
    if v.paused_seconds > 0 {
        println!(
            "  paused {}",
            format_delta(chrono::TimeDelta::seconds(v.paused_seconds))
        );
    }
    if let Some(r) = &v.reason {
        println!("  reason: {r}");
    }
    if let Some(obj) = v.payload.as_object() {
        for (k, val) in obj {
            let text = val
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| val.to_string());
            println!("  {k}: {text}");
        }
    }
    println!(
        "  RACI: A @{}  R {}  C {}  I {}",
        v.raci.accountable,
        handles(&v.raci.responsible),
        handles(&v.raci.consulted),
        handles(&v.raci.informed)
    );
    if let Some(c) = &v.correlation_id {
        println!("  correlation: {c}");
    }
    for c in &d.comments {
        println!("  [{}] @{}: {}", local(c.created_at), c.author, c.body);
    }
}

fn handles(list: &[String]) -> String {
    if list.is_empty() {
        "-".into()
    } else {
        list.iter()
            .map(|h| format!("@{h}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

async fn act(ctx: &Ctx, a: ActArgs, command: Act) -> Result<()> {
    let actor = a.actor.resolve(ctx)?;
    let h = service::act(ctx, a.id, command, &actor, None).await?;
    print_moved(ctx, &View::of(&h)?, a.json.json)
}

async fn act_with_reason(ctx: &Ctx, a: ReasonArgs, command: Act) -> Result<()> {
    let actor = a.actor.resolve(ctx)?;
    let h = service::act(ctx, a.id, command, &actor, Some(&a.reason)).await?;
    print_moved(ctx, &View::of(&h)?, a.json.json)
}

fn print_moved(ctx: &Ctx, v: &View, json: bool) -> Result<()> {
    if json {
        return output::json(v);
    }
    let due = match v.resolution_due_at {
        Some(d) if !v.state.is_terminal() => {
            format!("; resolution due {}", ctx.calendar.format_local(d))
        }
        _ => String::new(),
    };
    println!("hand-off #{} is {}{due}", v.id, v.state.label());
    Ok(())
}
