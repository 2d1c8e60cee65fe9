//! `vivid crisis ...` and `vivid metrics ...`.

use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, Subcommand};
use vivid_core::Ctx;
use vivid_core::config::Config;
use vivid_core::crisis::model::IncidentRole;
use vivid_core::crisis::service::{self, Audience, Done, NewIncident, Source};
use vivid_core::crisis::store::{Incident, ListFilter};
use vivid_core::crisis::{Phase, Severity, Status, report, templates, triggers};
use vivid_core::duration::{HumanDuration, format_delta, format_left};
use vivid_core::when::{Bound, Relative};

use super::{ActorArg, JsonFlag};
use crate::app::{self, Schema};
use crate::output::{self, clean, clean_text};

#[derive(Debug, Subcommand)]
pub enum CrisisCommand {
    /// Open an incident.
    Open(OpenArgs),
    /// Incidents, most urgent first.
    List(ListArgs),
    /// One incident: state, clocks, escalation, timeline, post-mortem.
    Show(IdArgs),
    /// Acknowledge: "I have it". A second acknowledgement changes nothing.
    Ack(ActIdArgs),
    /// Hand an acknowledged incident back: it re-triggers and escalates.
    Unack(ReasonArgs),
    /// The fix is in.
    Resolve(ResolveArgs),
    /// The problem is back.
    Reopen(ReasonArgs),
    /// Close a resolved incident (P1/P2: after its post-mortem).
    Close(ActIdArgs),
    /// Notify the next escalation level now.
    Escalate(EscalateArgs),
    /// Change the severity, with a reason.
    Severity(SeverityArgs),
    /// Add a note to the timeline.
    Note(NoteArgs),
    /// Advance to the next phase (or name it; phases cannot be skipped).
    Phase(PhaseArgs),
    /// Assign the commander, scribe or liaison.
    Assign(AssignArgs),
    /// Hand over command: by the commander (or a director / the Business
    /// Manager); a responder may take command of an incident that has none.
    Commander(CommanderArgs),
    /// Post an internal or customer status update from the templates.
    Update(UpdateArgs),
    /// The post-mortem: show, write, action items.
    Postmortem(PostmortemArgs),
    /// MTTA, MTTR, time in phase and SLA breaches per severity.
    Metrics(MetricsArgs),
    /// Ask another department for work: a typed hand-off (incident_support)
    /// from the incident's department, in the incident's story.
    Request(RequestArgs),
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    /// The department asked (a key from `vivid org list`).
    #[arg(long = "to", value_name = "DEPT")]
    to: String,
    /// What is asked, in a few words.
    title: String,
    /// A payload field of `incident_support`, NAME=VALUE (need, by, link).
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// What is wrong, in a few words.
    title: String,
    /// P1, P2, P3 or P4 (P1 is the most severe).
    #[arg(long, short)]
    severity: String,
    /// What is known so far, in free text.
    #[arg(long, short, default_value = "")]
    description: String,
    /// Departments concerned (repeat or comma-separate).
    #[arg(long = "department", value_delimiter = ',')]
    departments: Vec<String>,
    /// Who commands the response (a handle from `vivid org list`).
    #[arg(long)]
    commander: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Include resolved and closed incidents.
    #[arg(long)]
    all: bool,
    /// Only incidents of this severity (P1, P2, P3 or P4).
    #[arg(long)]
    severity: Option<String>,
    /// Only incidents concerning this department (a key from `vivid org list`).
    #[arg(long)]
    department: Option<String>,
    /// Also the incidents `vivid simulate` made (marked "sim").
    #[arg(long)]
    include_simulated: bool,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ActIdArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ReasonArgs {
    /// The incident number (from `vivid crisis list`).
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
pub struct ResolveArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    /// How it was resolved.
    #[arg(long, short)]
    note: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct EscalateArgs {
    /// The incident number (from `vivid crisis list`).
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
pub struct SeverityArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    /// P1, P2, P3 or P4.
    severity: String,
    /// Why, in a sentence (recorded in the event log).
    #[arg(long, short)]
    reason: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    /// The note, in a sentence or two.
    text: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct PhaseArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    /// The phase to enter (default: the next one).
    phase: Option<String>,
    /// A note for the timeline, in a sentence.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    /// commander, scribe or liaison
    role: String,
    /// Who takes the role (a handle from `vivid org list`).
    person: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CommanderArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    /// Who takes command.
    person: String,
    /// A note for the timeline, in a sentence.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    /// The update's text, as the audience will read it.
    message: String,
    /// internal or customer
    #[arg(long, default_value = "internal")]
    audience: String,
    /// When the next update is promised.
    #[arg(long, default_value = "1h")]
    next: HumanDuration,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct PostmortemArgs {
    /// The incident number (from `vivid crisis list`).
    id: i64,
    #[command(subcommand)]
    action: Option<PostmortemAction>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PostmortemAction {
    /// Print the post-mortem as Markdown (the template with what is written).
    Show,
    /// Write it from a Markdown file with the template's `## ` sections.
    Write {
        /// The Markdown file to read.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Add an action item with an owner and a due date.
    Action {
        /// What is to be done, in a sentence.
        description: String,
        /// Who does it (a handle from `vivid org list`).
        #[arg(long)]
        owner: String,
        /// Due date (YYYY-MM-DD, a local date: due at its end; "YYYY-MM-DD HH:MM"
        /// local time; RFC 3339) or a duration from now ("3d").
        #[arg(long)]
        due: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Mark an action item done.
    Done {
        /// The action item's number (from `vivid crisis postmortem ID`).
        item: i64,
        #[command(flatten)]
        actor: ActorArg,
    },
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The period: incidents opened in the last DURATION, or since a date
    /// (YYYY-MM-DD, a local date) or time.
    #[arg(long, default_value = "30d")]
    since: String,
    /// Count incidents the simulator made too (left out by default).
    #[arg(long)]
    include_simulated: bool,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Record a business metric reading; KPI rules may open incidents.
    Record(RecordArgs),
    /// The latest reading of every metric.
    List(JsonFlag),
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The metric's name (e.g. daily_revenue; see `vivid metrics list`).
    metric: String,
    /// The reading, a number.
    value: f64,
    /// Where the reading comes from (default: manual).
    #[arg(long, default_value = "manual")]
    source: String,
    #[command(flatten)]
    json: JsonFlag,
}

fn parse_severity(s: &str) -> Result<Severity> {
    s.parse::<Severity>()
        .map_err(|e| vivid_core::Error::invalid(e).into())
}

/// A bare date is due at the end of that local day; "3d" is three days from now.
fn parse_due(ctx: &Ctx, s: &str) -> Result<DateTime<Utc>> {
    super::parse_when(ctx, "--due", s, Bound::End, Relative::Future)
}

fn row(ctx: &Ctx, i: &Incident) -> Vec<String> {
    let now = ctx.now();
    let clock = match i.status {
        Status::Triggered => format!("ack {}", format_left(i.ack_deadline - now)),
        Status::Acknowledged | Status::Resolved => service::phase_deadline(ctx, i)
            .map(|d| {
                let label = i.phase.label();
                if d >= now {
                    format!("{label} {} left", format_delta(d - now))
                } else {
                    format!("{label} OVER {}", format_delta(now - d))
                }
            })
            .unwrap_or_default(),
        Status::Closed => String::new(),
    };
    vec![
        if i.simulated {
            format!("#{} sim", i.id)
        } else {
            format!("#{}", i.id)
        },
        i.severity.to_string(),
        i.status.to_string(),
        i.phase.label().to_string(),
        format_delta(now - i.opened_at),
        i.responder
            .as_deref()
            .or(i
                .acknowledged_by
                .as_deref()
                .filter(|_| i.status != Status::Triggered))
            .map(|h| format!("@{h}"))
            .unwrap_or_else(|| "-".into()),
        clock,
        i.title.clone(),
    ]
}

fn print_done(ctx: &Ctx, done: &Done, json: bool, verb: &str) -> Result<()> {
    if json {
        return output::json(done);
    }
    let i = &done.incident;
    match &done.unchanged {
        Some(why) => println!("{why}"),
        None => println!(
            "#{} {verb}: {} {} in {} — {}",
            i.id,
            i.severity,
            i.status,
            i.phase.label(),
            i.title
        ),
    }
    if !done.notified.is_empty() {
        let names: Vec<String> = done
            .notified
            .iter()
            .map(|h| {
                ctx.org
                    .person(h)
                    .map(|p| p.label())
                    .unwrap_or_else(|| h.clone())
            })
            .collect();
        println!("notified: {}", names.join(", "));
    }
    Ok(())
}

pub async fn run(config: Config, cmd: CrisisCommand) -> Result<()> {
    let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
    match cmd {
        CrisisCommand::Open(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let new = NewIncident {
                title: a.title,
                description: a.description,
                severity: parse_severity(&a.severity)?,
                source: Source::Manual,
                source_ref: None,
                departments: a.departments,
                commander: a.commander,
                trigger_key: None,
            };
            let inc = service::open(&ctx, &new, &actor).await?.ok_or_else(|| {
                vivid_core::Error::conflict("an incident for this condition is already open")
            })?;
            if a.json.json {
                return output::json(&inc);
            }
            println!(
                "opened #{} {} {} — acknowledge by {}",
                inc.id,
                inc.severity,
                inc.title,
                ctx.calendar.format_local(inc.ack_deadline)
            );
            Ok(())
        }
        CrisisCommand::List(a) => {
            let filter = ListFilter {
                statuses: if a.all {
                    vec![]
                } else {
                    vec!["triggered".into(), "acknowledged".into(), "resolved".into()]
                },
                severity: a
                    .severity
                    .as_deref()
                    .map(parse_severity)
                    .transpose()?
                    .map(|s| s.to_string()),
                department: a.department,
                limit: 1000,
                include_simulated: a.include_simulated,
            };
            let list = service::list(&ctx, &filter).await?;
            if a.json.json {
                return output::json(&list);
            }
            if list.is_empty() {
                println!("no incidents");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list.iter().map(|i| row(&ctx, i)).collect();
            output::table(
                &[
                    "ID", "SEV", "STATUS", "PHASE", "AGE", "ACK BY", "CLOCK", "TITLE",
                ],
                &rows,
            );
            Ok(())
        }
        CrisisCommand::Show(a) => {
            let d = service::detail(&ctx, a.id).await?;
            if a.json.json {
                return output::json(&d);
            }
            show(&ctx, &d);
            Ok(())
        }
        CrisisCommand::Ack(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let done = service::acknowledge(&ctx, a.id, &actor).await?;
            print_done(&ctx, &done, a.json.json, "acknowledged")
        }
        CrisisCommand::Unack(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let done = service::unacknowledge(&ctx, a.id, &actor, &a.reason).await?;
            print_done(&ctx, &done, a.json.json, "un-acknowledged")
        }
        CrisisCommand::Resolve(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let done = service::resolve(&ctx, a.id, &actor, &a.note).await?;
            print_done(&ctx, &done, a.json.json, "resolved")
        }
        CrisisCommand::Reopen(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let done = service::reopen(&ctx, a.id, &actor, &a.reason).await?;
            print_done(&ctx, &done, a.json.json, "reopened")
        }
        CrisisCommand::Close(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let done = service::close(&ctx, a.id, &actor).await?;
            print_done(&ctx, &done, a.json.json, "closed")
        }
        CrisisCommand::Escalate(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let done = service::escalate(&ctx, a.id, &actor, a.reason.as_deref()).await?;
            print_done(&ctx, &done, a.json.json, "escalated")
        }
        CrisisCommand::Severity(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let done = service::change_severity(
                &ctx,
                a.id,
                &actor,
                parse_severity(&a.severity)?,
                &a.reason,
            )
            .await?;
            print_done(&ctx, &done, a.json.json, "severity changed")
        }
        CrisisCommand::Request(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let h =
                service::request_support(&ctx, a.id, &a.to, &a.title, &a.fields, &actor).await?;
            let v = vivid_core::collab::service::View::of(&h)?;
            if a.json.json {
                return output::json(&v);
            }
            println!(
                "incident #{} asked {} for work: hand-off #{} (respond by {}; story {})",
                a.id,
                v.to,
                v.id,
                ctx.calendar.format_local(v.response_due_at),
                v.correlation_id.as_deref().unwrap_or("-")
            );
            Ok(())
        }
        CrisisCommand::Note(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let done = service::note(&ctx, a.id, &actor, &a.text).await?;
            print_done(&ctx, &done, a.json.json, "noted")
        }
        CrisisCommand::Phase(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let to = a
                .phase
                .as_deref()
                .map(|p| p.parse::<Phase>().map_err(vivid_core::Error::invalid))
                .transpose()?;
            let done = service::advance_phase(&ctx, a.id, &actor, to, a.note.as_deref()).await?;
            print_done(&ctx, &done, a.json.json, "phase changed")
        }
        CrisisCommand::Assign(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let role: IncidentRole = a.role.parse().map_err(vivid_core::Error::invalid)?;
            let done = service::assign(&ctx, a.id, &actor, role, &a.person).await?;
            print_done(&ctx, &done, a.json.json, "assigned")
        }
        CrisisCommand::Commander(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let done = service::hand_over_command(&ctx, a.id, &actor, &a.person, a.note.as_deref())
                .await?;
            print_done(&ctx, &done, a.json.json, "command handed over")
        }
        CrisisCommand::Update(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let audience = match a.audience.as_str() {
                "internal" => Audience::Internal,
                "customer" => Audience::Customer,
                other => {
                    return Err(vivid_core::Error::invalid(format!(
                        "--audience {other:?}: internal or customer"
                    ))
                    .into());
                }
            };
            let (done, text) =
                service::status_update(&ctx, a.id, &actor, audience, &a.message, a.next.delta())
                    .await?;
            if a.json.json {
                return output::json(
                    &serde_json::json!({ "incident": done.incident, "text": text }),
                );
            }
            println!("{text}");
            Ok(())
        }
        CrisisCommand::Postmortem(a) => postmortem(&ctx, a).await,
        CrisisCommand::Metrics(a) => {
            let to = ctx.now() + TimeDelta::seconds(1);
            let from = super::parse_when(&ctx, "--since", &a.since, Bound::Start, Relative::Past)?;
            let r = report::metrics_with(&ctx, from, to, a.include_simulated).await?;
            if a.json.json {
                return output::json(&r);
            }
            let secs = |s: Option<f64>| {
                s.map(|v| format_delta(TimeDelta::seconds(v.round() as i64)))
                    .unwrap_or_else(|| "-".into())
            };
            let mut rows: Vec<Vec<String>> = r
                .by_severity
                .iter()
                .map(|(sev, m)| {
                    vec![
                        sev.clone(),
                        m.opened.to_string(),
                        m.open_now.to_string(),
                        secs(m.mtta_seconds),
                        secs(m.mttr_seconds),
                        m.ack_sla_breaches.to_string(),
                        m.phase_overruns.to_string(),
                    ]
                })
                .collect();
            let m = &r.all;
            rows.push(vec![
                "all".into(),
                m.opened.to_string(),
                m.open_now.to_string(),
                secs(m.mtta_seconds),
                secs(m.mttr_seconds),
                m.ack_sla_breaches.to_string(),
                m.phase_overruns.to_string(),
            ]);
            println!(
                "Incidents opened since {}:",
                ctx.calendar.format_local(from)
            );
            output::table(
                &[
                    "SEV",
                    "OPENED",
                    "OPEN NOW",
                    "MTTA",
                    "MTTR",
                    "ACK BREACHES",
                    "PHASE OVERRUNS",
                ],
                &rows,
            );
            if !m.mean_phase_seconds.is_empty() {
                println!("\nMean time in phase (all severities):");
                for p in Phase::ALL {
                    if let Some(s) = m.mean_phase_seconds.get(p.key()) {
                        println!(
                            "  {:<18} {}",
                            p.label(),
                            format_delta(TimeDelta::seconds(s.round() as i64))
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

async fn postmortem(ctx: &Ctx, a: PostmortemArgs) -> Result<()> {
    match a.action.unwrap_or(PostmortemAction::Show) {
        PostmortemAction::Show => {
            let d = service::detail(ctx, a.id).await?;
            if a.json {
                return output::json(
                    &serde_json::json!({ "postmortem": d.postmortem, "action_items": d.action_items }),
                );
            }
            print!("{}", templates::postmortem_markdown(ctx, &d)?);
            Ok(())
        }
        PostmortemAction::Write { file, actor } => {
            let actor = actor.resolve(ctx)?;
            let text = std::fs::read_to_string(&file).map_err(|e| {
                vivid_core::Error::invalid(format!("cannot read {}: {e}", file.display()))
            })?;
            let sections = templates::parse_postmortem(&text);
            let done = service::write_postmortem(ctx, a.id, &actor, &sections).await?;
            print_done(ctx, &done, a.json, "post-mortem written")
        }
        PostmortemAction::Action {
            description,
            owner,
            due,
            actor,
        } => {
            let actor = actor.resolve(ctx)?;
            let due = parse_due(ctx, &due)?;
            let item =
                service::add_action_item(ctx, a.id, &actor, &owner, due, &description).await?;
            if a.json {
                return output::json(&item);
            }
            println!(
                "action item #{} for @{} due {}",
                item.id,
                item.owner,
                ctx.calendar.local_date(item.due_at)
            );
            Ok(())
        }
        PostmortemAction::Done { item, actor } => {
            let actor = actor.resolve(ctx)?;
            let item = service::complete_action_item(ctx, item, &actor).await?;
            if a.json {
                return output::json(&item);
            }
            println!("action item #{} done", item.id);
            Ok(())
        }
    }
}

fn show(ctx: &Ctx, d: &service::Detail) {
    let i = &d.incident;
    let who = |h: &Option<String>| {
        h.as_deref()
            .and_then(|h| ctx.org.person(h))
            .map(|p| p.label())
            .unwrap_or_else(|| "-".into())
    };
    println!("#{} [{}] {}", i.id, i.severity, clean(&i.title));
    if !i.description.is_empty() {
        println!("{}", clean_text(&i.description, true));
    }
    println!();
    println!("status      {}", i.status);
    println!(
        "phase       {} (since {})",
        i.phase.label(),
        ctx.calendar.format_local(i.phase_started_at)
    );
    if let Some(s) = d.phase_seconds_left {
        let label = if s < 0 {
            "OVER time box by"
        } else {
            "time box left"
        };
        println!(
            "            {label} {}",
            format_delta(TimeDelta::seconds(s.abs()))
        );
    }
    if let Some(s) = d.ack_seconds_left {
        let label = if s < 0 {
            "ACK OVERDUE by"
        } else {
            "ack within"
        };
        println!(
            "ack         {label} {}",
            format_delta(TimeDelta::seconds(s.abs()))
        );
    }
    println!(
        "source      {}{}",
        i.source,
        i.source_ref
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!("departments {}", i.departments.join(", "));
    println!(
        "opened      {} by {}",
        ctx.calendar.format_local(i.opened_at),
        i.opened_by
    );
    if let Some(at) = i.acknowledged_at {
        println!(
            "acked       {} by {} (first, after {})",
            ctx.calendar.format_local(at),
            who(&i.acknowledged_by),
            format_delta(at - i.opened_at)
        );
    }
    match (&i.responder, i.status) {
        (Some(r), _) if i.responder != i.acknowledged_by => {
            println!(
                "held by     {} (acknowledged it last)",
                who(&Some(r.clone()))
            )
        }
        (None, vivid_core::crisis::Status::Triggered) if i.acknowledged_at.is_some() => {
            println!("held by     nobody: handed back, waiting for an acknowledgement")
        }
        _ => {}
    }
    if let Some(at) = i.next_update_at {
        println!("next update by {}", ctx.calendar.format_local(at));
    }
    if let Some(at) = i.resolved_at {
        println!(
            "resolved    {} by {} (after {})",
            ctx.calendar.format_local(at),
            who(&i.resolved_by),
            format_delta(at - i.opened_at)
        );
    }
    println!("commander   {}", who(&i.commander));
    println!("scribe      {}", who(&i.scribe));
    println!("liaison     {}", who(&i.liaison));
    if let Some(e) = &d.escalation {
        let reached = if e.level < 0 {
            "no level notified yet".to_string()
        } else {
            format!(
                "level {} of {} notified",
                e.level + 1,
                e.policy.levels.len()
            )
        };
        println!("escalation  {} — {reached} ({})", e.status, e.policy.name);
    }
    print_delivery(ctx, &d.delivery);
    println!("\nTimeline");
    for e in &d.timeline {
        let reason = e
            .reason
            .as_deref()
            .map(|r| format!(": {}", clean(r.lines().next().unwrap_or_default())))
            .unwrap_or_default();
        let change = vivid_core::crisis::read::change_text(e)
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        println!(
            "  {} {:<22} {}{}{}",
            ctx.calendar
                .format_local(e.occurred_at)
                .get(5..)
                .unwrap_or_default(),
            e.action,
            e.actor,
            change,
            reason
        );
    }
    if !d.action_items.is_empty() {
        println!("\nAction items");
        for a in &d.action_items {
            println!(
                "  #{} [{}] {} — @{} due {}",
                a.id,
                a.status,
                clean(&a.description),
                a.owner,
                ctx.calendar.local_date(a.due_at)
            );
        }
    }
    if d.postmortem.is_some() {
        println!("\nPost-mortem written: vivid crisis postmortem {}", i.id);
    }
}

pub async fn metrics_cmd(config: Config, cmd: MetricsCommand) -> Result<()> {
    let ctx = app::connect(config, Schema::RequireCurrent, 2).await?;
    match cmd {
        MetricsCommand::Record(a) => {
            let r = triggers::record_metric(&ctx, &a.metric, a.value, &a.source).await?;
            if a.json.json {
                return output::json(&r);
            }
            println!("recorded {} = {}", a.metric, a.value);
            for inc in &r.opened {
                println!(
                    "opened incident #{} [{}] {}",
                    inc.id, inc.severity, inc.title
                );
            }
            for rule in &r.ongoing {
                println!("rule {rule}: condition persists; its incident is already open");
            }
            Ok(())
        }
        MetricsCommand::List(flag) => {
            let mut conn = ctx.pool.acquire().await?;
            let latest = vivid_core::metrics::latest(&mut conn).await?;
            if flag.json {
                return output::json(&latest);
            }
            let rows: Vec<Vec<String>> = latest
                .iter()
                .map(|r| {
                    vec![
                        r.metric.clone(),
                        format!("{}", r.value),
                        ctx.calendar.format_local(r.recorded_at),
                        r.source.clone(),
                    ]
                })
                .collect();
            output::table(&["METRIC", "VALUE", "AT", "SOURCE"], &rows);
            Ok(())
        }
    }
}

/// Who was paged per escalation level, how, delivered or not, and what
/// comes next (local times).
fn print_delivery(ctx: &Ctx, d: &vivid_core::notify::read::Delivery) {
    if d.is_empty() {
        return;
    }
    let tz = ctx.calendar.timezone();
    let hms =
        |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&tz).format("%H:%M:%S").to_string();
    println!("\nDelivery");
    for l in &d.levels {
        println!("  level {} (round {})", l.level, l.round);
        for p in &l.pages {
            let when = match p.state.as_str() {
                "delivered" => p.delivered_at.map(hms).unwrap_or_default(),
                "scheduled" | "retrying" => format!("at {}", hms(p.due_at)),
                _ => String::new(),
            };
            let why = match (p.state.as_str(), &p.error) {
                ("failed" | "retrying" | "cancelled", Some(e)) => format!(": {}", clean(e)),
                _ => String::new(),
            };
            let line = format!(
                "    {:<10} {:<8} {:<22} {} {}{}",
                clean(&p.person),
                p.method,
                clean(p.hint.as_deref().unwrap_or("-")),
                p.state,
                when,
                why
            );
            let line = line.trim_end();
            if line.chars().count() > 80 {
                let cut: String = line.chars().take(79).collect();
                println!("{cut}…");
            } else {
                println!("{line}");
            }
        }
    }
    for n in &d.next {
        println!(
            "  next: {} at {}",
            clean(&n.what),
            ctx.calendar.format_local(n.at)
        );
    }
}
