//! Crisis commands: each one is a single transaction that locks the incident,
//! asks the pure state machine, writes the incident, appends the event,
//! schedules or cancels timers, escalates and queues notifications. Who may
//! respond and who may command come from `[crisis.roles]`.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::config::AckDeadline;
use super::model::{
    self, ActionItemStatus, Command, Effect, IncidentRole, Outcome, Phase, Severity, Status,
};
use super::store::{self, ActionItem, Incident, Postmortem};
use super::timers::{self, phase_box};
use super::{WORKFLOW, templates};
use crate::engine::Ctx;
use crate::engine::escalation::{self, Policy, Start};
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::error::{Error, Result};
use crate::org::{Person, or_list};

/// Where an incident came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Manual,
    KpiTrigger,
    PrivacyBreach,
    /// Opened by an alert from monitoring (`vivid serve`'s alert routes).
    Alert,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Manual => "manual",
            Source::KpiTrigger => "kpi_trigger",
            Source::PrivacyBreach => "privacy_breach",
            Source::Alert => "alert",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub source: Source,
    pub source_ref: Option<String>,
    pub departments: Vec<String>,
    pub commander: Option<String>,
    /// A KPI rule's name: one ongoing condition opens one incident.
    pub trigger_key: Option<String>,
}

/// `[crisis.roles] respond`: acknowledge, resolve, advance phases, ...
fn require_responder(ctx: &Ctx, person: &Person) -> Result<()> {
    let respond = super::config::settings(&ctx.config)?.roles.respond_refs()?;
    if ctx.org.holds_any(person, &respond) {
        return Ok(());
    }
    let who: Vec<String> = respond.iter().map(|r| ctx.org.describe_role(r)).collect();
    Err(Error::forbidden(format!(
        "{} cannot respond to incidents: it takes {}",
        person.label(),
        or_list(&who)
    )))
}

/// Closing and severity changes: the incident's commander, or
/// `[crisis.roles] command`.
fn require_command(ctx: &Ctx, person: &Person, incident: &Incident, what: &str) -> Result<()> {
    let command = super::config::settings(&ctx.config)?.roles.command_refs()?;
    if incident.commander.as_deref() == Some(person.handle.as_str())
        || ctx.org.holds_any(person, &command)
    {
        return Ok(());
    }
    let who: Vec<String> = std::iter::once("its commander".to_string())
        .chain(command.iter().map(|r| ctx.org.describe_role(r)))
        .collect();
    Err(Error::forbidden(format!(
        "{} cannot {what} incident #{}: it takes {}",
        person.label(),
        incident.id,
        or_list(&who)
    )))
}

fn severity_rules(ctx: &Ctx, severity: Severity) -> Result<&super::config::SeverityConfig> {
    super::config::settings(&ctx.config)?
        .severities
        .get(severity.as_str())
        .ok_or_else(|| Error::invalid(format!("severity {severity} is not configured")))
}

fn full_protocol(ctx: &Ctx, severity: Severity) -> bool {
    severity_rules(ctx, severity)
        .map(|s| s.full_protocol)
        .unwrap_or(true)
}

/// When the incident must be acknowledged by.
pub fn ack_deadline(
    ctx: &Ctx,
    severity: Severity,
    opened_at: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    Ok(match severity_rules(ctx, severity)?.ack {
        AckDeadline::Within(d) => opened_at + d.delta(),
        AckDeadline::NextBusinessDay => ctx.calendar.next_business_day_close(opened_at),
    })
}

/// The ladder for an incident: a department's own policy if it has one.
fn policy_for(ctx: &Ctx, inc: &Incident, severity: Severity) -> Result<Policy> {
    let rules = severity_rules(ctx, severity)?;
    let overrides = &super::config::settings(&ctx.config)?.department_policies;
    let name = inc
        .departments
        .iter()
        .find_map(|d| overrides.get(&format!("{severity}:{d}")))
        .unwrap_or(&rules.policy);
    let mut policy = Policy::named(ctx, name)?;
    // "Next business day": the second level waits until the ack deadline.
    if rules.ack == AckDeadline::NextBusinessDay {
        let wait = (inc.ack_deadline - ctx.now()).max(TimeDelta::zero());
        if let Some(level) = policy.levels.get_mut(1) {
            level.delay_secs = wait.num_seconds();
        }
    }
    Ok(policy)
}

/// "[P1] #12 Checkout down": how notifications name an incident.
pub(super) fn subject(inc: &Incident) -> String {
    format!("[{}] #{} {}", inc.severity, inc.id, inc.title)
}

/// Open an incident. Returns None when its KPI condition already has one open.
pub async fn open(ctx: &Ctx, new: &NewIncident, actor: &str) -> Result<Option<Incident>> {
    let mut tx = ctx.pool.begin().await?;
    let inc = open_in(ctx, &mut tx, new, actor).await?;
    tx.commit().await?;
    Ok(inc)
}

/// `open` inside the caller's transaction (KPI triggers, privacy breaches).
/// Opened during a simulator step (whichever workflow asks), the incident
/// is marked simulated: the only kind `vivid simulate` ever touches, and
/// one metrics leave out.
pub async fn open_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    new: &NewIncident,
    actor: &str,
) -> Result<Option<Incident>> {
    let simulated = crate::simulate::simulating();
    if actor != "engine" {
        ctx.org.actor(actor)?;
    }
    if new.title.trim().is_empty() {
        return Err(Error::invalid("an incident needs a title"));
    }
    let title = ctx
        .config
        .limits
        .title("the incident's title", &new.title)?;
    ctx.config
        .limits
        .body("the description", &new.description)?;
    let mut departments = Vec::new();
    for d in &new.departments {
        if ctx.org.department(d).is_none() {
            let keys: Vec<&str> = ctx.org.departments.iter().map(|d| d.key.as_str()).collect();
            return Err(Error::not_found(format!(
                "unknown department {d:?}; departments: {}",
                keys.join(", ")
            )));
        }
        if !departments.contains(d) {
            departments.push(d.clone());
        }
    }
    if departments.is_empty() {
        departments.push(
            super::config::settings(&ctx.config)?
                .default_department
                .clone(),
        );
    }
    if let Some(c) = &new.commander {
        require_responder(ctx, ctx.org.actor(c)?)?;
    }
    let now = ctx.now();
    let deadline = ack_deadline(ctx, new.severity, now)?;
    let Some(inc) = store::insert(
        conn,
        &store::Insert {
            title,
            description: new.description.trim(),
            severity: new.severity,
            source: new.source.as_str(),
            source_ref: new.source_ref.as_deref(),
            departments: &departments,
            commander: new.commander.as_deref(),
            opened_by: actor,
            ack_deadline: deadline,
            trigger_key: new.trigger_key.as_deref(),
            now,
            simulated,
        },
    )
    .await?
    else {
        return Ok(None);
    };
    let id = inc.id.to_string();
    events::append(
        conn,
        &NewEvent::new(WORKFLOW, "incident", &id, "opened", actor)
            .transition(None::<&str>, Status::Triggered)
            .reason(format!("{} {}", inc.severity, inc.title))
            .payload(serde_json::json!({
                "severity": inc.severity, "source": inc.source, "source_ref": inc.source_ref,
                "departments": inc.departments, "phase": Phase::Detection, "ack_deadline": deadline,
                "simulated": simulated,
            })),
        now,
    )
    .await?;
    let policy = policy_for(ctx, &inc, new.severity)?;
    let subject = subject(&inc);
    let mut start = Start::new(WORKFLOW, &id, &subject, &policy);
    start.departments = &inc.departments;
    start.urgency = ctx.config.notify.urgency_of(new.severity.as_str());
    escalation::start(ctx, conn, &start).await?;
    timers::start_phase_box(ctx, conn, &inc).await?;
    let n = NewNotification::to_channel(
        &super::config::settings(&ctx.config)?.channel,
        WORKFLOW,
        &id,
        format!("Incident opened: {subject}"),
    )
    .body(format!(
        "{}\nDepartments: {}. Acknowledge by {}.",
        inc.description,
        inc.departments.join(", "),
        ctx.calendar.format_local(deadline)
    ))
    .severity(if matches!(new.severity, Severity::P1 | Severity::P2) {
        "critical"
    } else {
        "warning"
    })
    .dedupe(format!("incident:{}:opened", inc.id))
    .payload(serde_json::json!({ "incident_id": inc.id, "kind": "incident_opened" }));
    outbox::enqueue(ctx, conn, &n).await?;
    Ok(Some(inc))
}

/// Carry out the state machine's effects.
async fn apply(
    ctx: &Ctx,
    conn: &mut PgConnection,
    inc: &Incident,
    effects: &[Effect],
    actor: &str,
) -> Result<Vec<String>> {
    let id = inc.id.to_string();
    let severity = inc.severity;
    let mut notified = Vec::new();
    for effect in effects {
        match effect {
            Effect::StartEscalation => {
                let policy = policy_for(ctx, inc, severity)?;
                let subject = subject(inc);
                let mut start = Start::new(WORKFLOW, &id, &subject, &policy);
                start.departments = &inc.departments;
                start.urgency = ctx.config.notify.urgency_of(severity.as_str());
                escalation::start(ctx, conn, &start).await?;
            }
            Effect::AcknowledgeEscalation => {
                escalation::acknowledge(ctx, conn, WORKFLOW, &id, actor).await?;
            }
            Effect::CancelEscalation => {
                escalation::cancel(ctx, conn, WORKFLOW, &id, actor, "incident resolved").await?;
            }
            Effect::EscalateNow => {
                notified = escalate_now(ctx, conn, inc, severity, actor).await?;
            }
            Effect::StartPhaseBox => timers::start_phase_box(ctx, conn, inc).await?,
            Effect::CancelPhaseBox => timers::cancel_phase_box(conn, inc.id).await?,
            Effect::StartUnackTimer => {
                let timeout = severity_rules(ctx, severity)?.unack_timeout.delta();
                timers::start_unack(ctx, conn, inc.id, timeout).await?;
            }
            Effect::CancelUnackTimer => timers::cancel_unack(conn, inc.id).await?,
        }
    }
    Ok(notified)
}

/// Notify the next level now: advance a running ladder, or start a new one
/// just past the level an earlier (acknowledged) ladder reached.
async fn escalate_now(
    ctx: &Ctx,
    conn: &mut PgConnection,
    inc: &Incident,
    severity: Severity,
    actor: &str,
) -> Result<Vec<String>> {
    let id = inc.id.to_string();
    if escalation::active(conn, WORKFLOW, &id).await?.is_some() {
        return escalation::escalate_now(ctx, conn, WORKFLOW, &id, actor).await;
    }
    let reached = escalation::latest(conn, WORKFLOW, &id)
        .await?
        .map(|e| e.level)
        .unwrap_or(-1);
    let policy = policy_for(ctx, inc, severity)?;
    let last = i32::try_from(policy.levels.len()).unwrap_or(1) - 1;
    let skip = u32::try_from((reached + 1).clamp(0, last.max(0))).unwrap_or(0);
    let subject = subject(inc);
    let mut start = Start::new(WORKFLOW, &id, &subject, &policy);
    start.departments = &inc.departments;
    start.urgency = ctx.config.notify.urgency_of(severity.as_str());
    start.skip_levels = skip;
    start.first_delay = Some(TimeDelta::zero());
    escalation::start(ctx, conn, &start).await?;
    // Notify now, in this transaction, rather than on the engine's next pass.
    crate::engine::timers::cancel(conn, WORKFLOW, &id, Some(escalation::STEP_TIMER)).await?;
    escalation::escalate_now(ctx, conn, WORKFLOW, &id, actor).await
}

/// What a command did, for replies in the CLI, TUI and bot.
#[derive(Debug, Clone, Serialize)]
pub struct Done {
    pub incident: Incident,
    /// Set when nothing changed (e.g. a second acknowledgement).
    pub unchanged: Option<String>,
    /// People notified by an escalation this command caused.
    pub notified: Vec<String>,
}

/// Lock, decide, write, record: the one path every incident command takes
/// (the timer handlers in `timers.rs` too).
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_command(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    actor: &str,
    command: Command,
    action: &str,
    reason: Option<String>,
    mutate: impl FnOnce(&mut Incident, &model::State),
) -> Result<Done> {
    // Reasons may span lines (a status update) but never drive a terminal.
    if let Some(r) = &reason {
        ctx.config.limits.body("the reason", r)?;
    }
    let mut inc = store::lock(conn, id).await?;
    let written = store::postmortem(conn, id).await?.is_some();
    let state = inc.state(full_protocol(ctx, inc.severity), written);
    let outcome = model::decide(state, &command).map_err(|r| Error::invalid(r.0))?;
    let (new_state, effects) = match outcome {
        Outcome::Unchanged(why) => {
            return Ok(Done {
                incident: inc,
                unchanged: Some(why),
                notified: Vec::new(),
            });
        }
        Outcome::Changed { state, effects } => (state, effects),
    };
    let now = ctx.now();
    let from_status = inc.status;
    let from_phase = inc.phase;
    let from_commander = inc.commander.clone();
    inc.status = new_state.status;
    inc.severity = new_state.severity;
    if new_state.phase != inc.phase {
        inc.phase = new_state.phase;
        inc.phase_started_at = now;
    }
    if effects.contains(&Effect::StartUnackTimer)
        || matches!(command, Command::Progress | Command::AdvancePhase(_))
    {
        inc.last_progress_at = now;
    }
    inc.updated_at = now;
    // Handed back (or re-triggered): nobody holds it until someone
    // acknowledges again.
    if inc.status == Status::Triggered {
        inc.responder = None;
    }
    // Once the fix is in, no status update is owed any more.
    if !inc.status.is_open() {
        inc.next_update_at = None;
        timers::cancel_next_update(conn, inc.id).await?;
    }
    mutate(&mut inc, &new_state);
    store::save(conn, &inc).await?;
    let notified = apply(ctx, conn, &inc, &effects, actor).await?;
    let mut payload = serde_json::json!({
        "severity": inc.severity, "phase": inc.phase, "from_phase": from_phase, "notified": notified,
    });
    if from_phase != inc.phase {
        payload["phase_changed"] = serde_json::json!(true);
    }
    if from_commander != inc.commander {
        payload["from_commander"] = serde_json::json!(from_commander);
        payload["commander"] = serde_json::json!(inc.commander);
    }
    let event = NewEvent::new(WORKFLOW, "incident", id, action, actor)
        .transition(Some(from_status.as_str()), inc.status.as_str())
        .maybe_reason(reason)
        .payload(payload);
    events::append(conn, &event, now).await?;
    Ok(Done {
        incident: inc,
        unchanged: None,
        notified,
    })
}

async fn in_tx<T>(ctx: &Ctx, f: impl AsyncFnOnce(&mut PgConnection) -> Result<T>) -> Result<T> {
    let mut tx = ctx.pool.begin().await?;
    let out = f(&mut tx).await?;
    tx.commit().await?;
    Ok(out)
}

/// Acknowledge. A second acknowledgement changes nothing and says who was first.
pub async fn acknowledge(ctx: &Ctx, id: i64, actor: &str) -> Result<Done> {
    let person = ctx.org.actor(actor)?.clone();
    require_responder(ctx, &person)?;
    in_tx(ctx, async |conn| {
        let done = run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Acknowledge,
            "acknowledged",
            None,
            |inc, _| {
                let now = inc.updated_at;
                // MTTA counts the first acknowledgement.
                if inc.acknowledged_at.is_none() {
                    inc.acknowledged_at = Some(now);
                    inc.acknowledged_by = Some(actor.to_string());
                }
                // Whoever acknowledges holds it now (a hand-over moves it).
                inc.responder = Some(actor.to_string());
                // The first responder commands until command is handed
                // over explicitly (`commander`); a later acknowledgement
                // does not take command.
                if inc.commander.is_none() {
                    inc.commander = Some(actor.to_string());
                }
            },
        )
        .await?;
        Ok(match done.unchanged {
            Some(_) => {
                let by = done.incident.acknowledged_by.clone().unwrap_or_default();
                let at = done
                    .incident
                    .acknowledged_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default();
                Done {
                    unchanged: Some(format!(
                        "incident #{id} was already acknowledged by @{by} at {at}"
                    )),
                    ..done
                }
            }
            None => done,
        })
    })
    .await
}

pub async fn unacknowledge(ctx: &Ctx, id: i64, actor: &str, reason: &str) -> Result<Done> {
    require_responder(ctx, ctx.org.actor(actor)?)?;
    in_tx(ctx, async |conn| {
        run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Unacknowledge,
            "unacknowledged",
            Some(reason.to_string()),
            |_, _| {},
        )
        .await
    })
    .await
}

pub async fn resolve(ctx: &Ctx, id: i64, actor: &str, note: &str) -> Result<Done> {
    require_responder(ctx, ctx.org.actor(actor)?)?;
    ctx.config.limits.note("the resolution note", note)?;
    if note.trim().is_empty() {
        return Err(Error::invalid("say how it was resolved (--note)"));
    }
    in_tx(ctx, async |conn| {
        run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Resolve,
            "resolved",
            Some(note.to_string()),
            |inc, _| {
                inc.resolved_at = Some(inc.updated_at);
                inc.resolved_by = Some(actor.to_string());
            },
        )
        .await
    })
    .await
}

pub async fn reopen(ctx: &Ctx, id: i64, actor: &str, reason: &str) -> Result<Done> {
    require_responder(ctx, ctx.org.actor(actor)?)?;
    if reason.trim().is_empty() {
        return Err(Error::invalid("say why it is reopened (--reason)"));
    }
    in_tx(ctx, async |conn| {
        run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Reopen,
            "reopened",
            Some(reason.to_string()),
            |inc, _| {
                inc.resolved_at = None;
                inc.resolved_by = None;
            },
        )
        .await
    })
    .await
}

/// Resolve on monitoring's word (every attached alert resolved), inside
/// the caller's transaction. The state machine still decides: a P1/P2
/// stays open for people, and the refusal says why.
pub async fn recovered_in(ctx: &Ctx, conn: &mut PgConnection, id: i64, note: &str) -> Result<Done> {
    run_command(
        ctx,
        conn,
        id,
        ENGINE_ACTOR,
        Command::Recovered,
        "resolved",
        Some(note.to_string()),
        |inc, _| {
            inc.resolved_at = Some(inc.updated_at);
            inc.resolved_by = Some(ENGINE_ACTOR.to_string());
        },
    )
    .await
}

/// Reopen on monitoring's word (its alert fires again soon after), inside
/// the caller's transaction.
pub async fn reopen_in(ctx: &Ctx, conn: &mut PgConnection, id: i64, reason: &str) -> Result<Done> {
    run_command(
        ctx,
        conn,
        id,
        ENGINE_ACTOR,
        Command::Reopen,
        "reopened",
        Some(reason.to_string()),
        |inc, _| {
            inc.resolved_at = None;
            inc.resolved_by = None;
        },
    )
    .await
}

/// Who acts when no person does (monitoring, KPI rules, timers).
pub const ENGINE_ACTOR: &str = "engine";

pub async fn close(ctx: &Ctx, id: i64, actor: &str) -> Result<Done> {
    let person = ctx.org.actor(actor)?.clone();
    in_tx(ctx, async |conn| {
        let inc = store::get(conn, id).await?;
        require_command(ctx, &person, &inc, "close")?;
        run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Close,
            "closed",
            None,
            |inc, _| {
                inc.closed_at = Some(inc.updated_at);
                inc.closed_by = Some(actor.to_string());
            },
        )
        .await
    })
    .await
}

/// Advance to `to`, or to the next phase when `to` is None.
pub async fn advance_phase(
    ctx: &Ctx,
    id: i64,
    actor: &str,
    to: Option<Phase>,
    note: Option<&str>,
) -> Result<Done> {
    require_responder(ctx, ctx.org.actor(actor)?)?;
    in_tx(ctx, async |conn| {
        let inc = store::get(conn, id).await?;
        let current = inc.phase;
        let target = match to {
            Some(p) => p,
            None => current.next().ok_or_else(|| {
                Error::invalid(format!("#{id} is in {current}, the last phase: close it"))
            })?,
        };
        run_command(
            ctx,
            conn,
            id,
            actor,
            Command::AdvancePhase(target),
            "phase_changed",
            note.map(str::to_string),
            |_, _| {},
        )
        .await
    })
    .await
}

pub async fn change_severity(
    ctx: &Ctx,
    id: i64,
    actor: &str,
    to: Severity,
    reason: &str,
) -> Result<Done> {
    let person = ctx.org.actor(actor)?.clone();
    if reason.trim().is_empty() {
        return Err(Error::invalid(
            "a severity change needs a reason (--reason)",
        ));
    }
    let full = full_protocol(ctx, to);
    in_tx(ctx, async |conn| {
        let inc = store::get(conn, id).await?;
        require_command(ctx, &person, &inc, "change the severity of")?;
        let from = inc.severity;
        let done = run_command(
            ctx,
            conn,
            id,
            actor,
            Command::ChangeSeverity {
                to,
                full_protocol: full,
            },
            "severity_changed",
            Some(format!("{from} -> {to}: {reason}")),
            |_, _| {},
        )
        .await?;
        // The acknowledgement deadline follows the new severity.
        let mut inc = done.incident.clone();
        if inc.status == Status::Triggered {
            inc.ack_deadline = ack_deadline(ctx, to, inc.opened_at)?;
            store::save(conn, &inc).await?;
        }
        Ok(Done {
            incident: inc,
            ..done
        })
    })
    .await
}

pub async fn escalate(ctx: &Ctx, id: i64, actor: &str, reason: Option<&str>) -> Result<Done> {
    require_responder(ctx, ctx.org.actor(actor)?)?;
    in_tx(ctx, async |conn| {
        run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Escalate,
            "escalated",
            reason.map(str::to_string),
            |_, _| {},
        )
        .await
    })
    .await
}

pub async fn note(ctx: &Ctx, id: i64, actor: &str, text: &str) -> Result<Done> {
    ctx.org.actor(actor)?;
    ctx.config.limits.body("the note", text)?;
    if text.trim().is_empty() {
        return Err(Error::invalid("a note needs text"));
    }
    in_tx(ctx, async |conn| {
        run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Progress,
            "note",
            Some(text.trim().to_string()),
            |_, _| {},
        )
        .await
    })
    .await
}

pub async fn assign(
    ctx: &Ctx,
    id: i64,
    actor: &str,
    role: IncidentRole,
    person: &str,
) -> Result<Done> {
    if role == IncidentRole::Commander {
        return hand_over_command(ctx, id, actor, person, None).await;
    }
    require_responder(ctx, ctx.org.actor(actor)?)?;
    let assignee = ctx.org.actor(person)?.clone();
    in_tx(ctx, async |conn| {
        let done = run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Progress,
            "role_assigned",
            Some(format!("{} is now {}", assignee.label(), role.as_str())),
            |inc, _| {
                let slot = match role {
                    IncidentRole::Commander => &mut inc.commander,
                    IncidentRole::Scribe => &mut inc.scribe,
                    IncidentRole::Liaison => &mut inc.liaison,
                };
                *slot = Some(assignee.handle.clone());
            },
        )
        .await?;
        let n = NewNotification::to_person(
            &assignee.handle,
            WORKFLOW,
            id,
            format!("You are {} of {}", role.as_str(), subject(&done.incident)),
        )
        .severity("warning")
        .payload(serde_json::json!({ "incident_id": id }));
        outbox::enqueue(ctx, conn, &n).await?;
        Ok(done)
    })
    .await
}

/// May `actor` hand command of `inc` to `to`? The new commander must be
/// able to respond. While the incident has a commander, only that
/// commander or `[crisis.roles] command` may hand it over; without one, a
/// responder may take it (self-assignment) or give it. One rule for every
/// front end.
pub fn may_hand_over_command(ctx: &Ctx, actor: &Person, inc: &Incident, to: &Person) -> Result<()> {
    require_responder(ctx, to).map_err(|e| match e {
        Error::Forbidden(m) => {
            Error::forbidden(format!("{m}, so cannot command incident #{}", inc.id))
        }
        other => other,
    })?;
    match &inc.commander {
        Some(current) if current == &to.handle => Err(Error::conflict(format!(
            "{} already commands incident #{}",
            to.label(),
            inc.id
        ))),
        Some(current) => {
            if current == &actor.handle {
                return Ok(());
            }
            let command = super::config::settings(&ctx.config)?.roles.command_refs()?;
            if ctx.org.holds_any(actor, &command) {
                return Ok(());
            }
            let who: Vec<String> = std::iter::once(format!("its commander @{current}"))
                .chain(command.iter().map(|r| ctx.org.describe_role(r)))
                .collect();
            Err(Error::forbidden(format!(
                "{} cannot hand over command of incident #{}: it takes {}",
                actor.label(),
                inc.id,
                or_list(&who)
            )))
        }
        None => require_responder(ctx, actor),
    }
}

/// Hand command of an incident to `to` (`vivid crisis commander ID PERSON`):
/// recorded as `commander_changed` (from, to), both told.
pub async fn hand_over_command(
    ctx: &Ctx,
    id: i64,
    actor: &str,
    to: &str,
    note: Option<&str>,
) -> Result<Done> {
    let person = ctx.org.actor(actor)?.clone();
    let new = ctx.org.actor(to)?.clone();
    if let Some(n) = note {
        ctx.config.limits.note("the note", n)?;
    }
    in_tx(ctx, async |conn| {
        let inc = store::lock(conn, id).await?;
        may_hand_over_command(ctx, &person, &inc, &new)?;
        let from = inc.commander.clone();
        let reason = match note.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => format!("{} takes command: {n}", new.label()),
            None => format!("{} takes command", new.label()),
        };
        let done = run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Progress,
            "commander_changed",
            Some(reason),
            |inc, _| inc.commander = Some(new.handle.clone()),
        )
        .await?;
        let subject_line = subject(&done.incident);
        let n = NewNotification::to_person(
            &new.handle,
            WORKFLOW,
            id,
            format!("You command {subject_line}"),
        )
        .body(match &from {
            Some(f) => format!("Command handed over from @{f} by @{actor}."),
            None => format!("Command given by @{actor}."),
        })
        .severity("warning")
        .payload(serde_json::json!({ "incident_id": id, "kind": "commander_changed" }));
        outbox::enqueue(ctx, conn, &n).await?;
        if let Some(f) = from.as_ref().filter(|f| *f != actor) {
            let n = NewNotification::to_person(
                f,
                WORKFLOW,
                id,
                format!("@{} now commands {subject_line}", new.handle),
            )
            .body(format!("Command handed over by @{actor}."))
            .payload(serde_json::json!({ "incident_id": id, "kind": "commander_changed" }));
            outbox::enqueue(ctx, conn, &n).await?;
        }
        Ok(done)
    })
    .await
}

/// Who a status update is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Internal,
    Customer,
}

/// Post a status update rendered from the template in `assets/crisis/`.
pub async fn status_update(
    ctx: &Ctx,
    id: i64,
    actor: &str,
    audience: Audience,
    message: &str,
    next_update: TimeDelta,
) -> Result<(Done, String)> {
    require_responder(ctx, ctx.org.actor(actor)?)?;
    ctx.config.limits.body("the status update", message)?;
    if message.trim().is_empty() {
        return Err(Error::invalid("a status update needs a message"));
    }
    in_tx(ctx, async |conn| {
        let inc = store::get(conn, id).await?;
        let next_at = ctx.now() + next_update;
        let text = templates::status_update(ctx, &inc, audience, message.trim(), next_at)?;
        let done = run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Progress,
            "status_update",
            Some(text.clone()),
            |inc, _| {
                if inc.status.is_open() {
                    inc.next_update_at = Some(next_at);
                }
            },
        )
        .await?;
        // The commander is reminded if the promised update does not come.
        if done.incident.status.is_open() {
            timers::start_next_update(ctx, conn, id, next_at).await?;
        }
        let channel = match audience {
            Audience::Internal => &super::config::settings(&ctx.config)?.channel,
            Audience::Customer => &super::config::settings(&ctx.config)?.customer_channel,
        };
        let n = NewNotification::to_channel(
            channel,
            WORKFLOW,
            id,
            format!("Status update: {}", subject(&inc)),
        )
        .body(text.clone())
        .payload(serde_json::json!({ "incident_id": id, "audience": audience }));
        outbox::enqueue(ctx, conn, &n).await?;
        Ok((done, text))
    })
    .await
}

/// The post-mortem's five written sections.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct PostmortemText {
    pub overview: String,
    pub what_happened: String,
    pub contributing_factors: String,
    pub resolution: String,
    pub impact: String,
}

pub async fn write_postmortem(
    ctx: &Ctx,
    id: i64,
    actor: &str,
    text: &PostmortemText,
) -> Result<Done> {
    require_responder(ctx, ctx.org.actor(actor)?)?;
    let missing: Vec<&str> = [
        ("overview", &text.overview),
        ("what happened", &text.what_happened),
        ("contributing factors", &text.contributing_factors),
        ("resolution", &text.resolution),
        ("impact", &text.impact),
    ]
    .iter()
    .filter(|(_, v)| v.trim().is_empty())
    .map(|(k, _)| *k)
    .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "the post-mortem is missing: {}",
            missing.join(", ")
        )));
    }
    in_tx(ctx, async |conn| {
        let inc = store::get(conn, id).await?;
        if inc.status.is_open() {
            return Err(Error::invalid(format!(
                "incident #{id} is not resolved yet: the post-mortem comes after the fix"
            )));
        }
        store::save_postmortem(
            conn,
            &Postmortem {
                incident_id: id,
                overview: text.overview.trim().into(),
                what_happened: text.what_happened.trim().into(),
                contributing_factors: text.contributing_factors.trim().into(),
                resolution: text.resolution.trim().into(),
                impact: text.impact.trim().into(),
                written_by: actor.into(),
                written_at: ctx.now(),
            },
        )
        .await?;
        run_command(
            ctx,
            conn,
            id,
            actor,
            Command::Progress,
            "postmortem_written",
            None,
            |_, _| {},
        )
        .await
    })
    .await
}

pub async fn add_action_item(
    ctx: &Ctx,
    id: i64,
    actor: &str,
    owner: &str,
    due_at: DateTime<Utc>,
    description: &str,
) -> Result<ActionItem> {
    require_responder(ctx, ctx.org.actor(actor)?)?;
    ctx.org.actor(owner)?;
    ctx.config.limits.note("the action item", description)?;
    if description.trim().is_empty() {
        return Err(Error::invalid("an action item needs a description"));
    }
    if due_at <= ctx.now() {
        return Err(Error::invalid(
            "an action item's due date must be in the future",
        ));
    }
    in_tx(ctx, async |conn| {
        store::get(conn, id).await?;
        let item = store::insert_action_item(
            conn,
            &store::NewActionItem {
                incident_id: id,
                description: description.trim(),
                owner,
                due_at,
                created_by: actor,
                now: ctx.now(),
            },
        )
        .await?;
        timers::start_action_due(ctx, conn, id, item.id, due_at).await?;
        let n = NewNotification::to_person(
            owner,
            WORKFLOW,
            id,
            format!("Action item from incident #{id}: {}", item.description),
        )
        .body(format!("Due {}.", ctx.calendar.format_local(due_at)))
        .payload(serde_json::json!({ "incident_id": id, "action_item": item.id }));
        outbox::enqueue(ctx, conn, &n).await?;
        events::append(
            conn,
            &NewEvent::new(WORKFLOW, "incident", id, "action_item_added", actor)
                .reason(item.description.clone())
                .payload(
                    serde_json::json!({ "action_item": item.id, "owner": owner, "due_at": due_at }),
                ),
            ctx.now(),
        )
        .await?;
        Ok(item)
    })
    .await
}

pub async fn complete_action_item(ctx: &Ctx, item_id: i64, actor: &str) -> Result<ActionItem> {
    ctx.org.actor(actor)?;
    in_tx(ctx, async |conn| {
        let mut item = store::action_item(conn, item_id).await?;
        if item.status == ActionItemStatus::Done {
            return Err(Error::conflict(format!(
                "action item #{item_id} is already done"
            )));
        }
        item.status = ActionItemStatus::Done;
        item.done_at = Some(ctx.now());
        store::complete_action_item(conn, item_id, ctx.now()).await?;
        // This item's reminder only: the incident's other items keep theirs.
        crate::engine::timers::cancel_key(
            conn,
            WORKFLOW,
            &item.incident_id.to_string(),
            super::timers::ACTION_DUE_TIMER,
            &item_id.to_string(),
        )
        .await?;
        events::append(
            conn,
            &NewEvent::new(
                WORKFLOW,
                "incident",
                item.incident_id,
                "action_item_done",
                actor,
            )
            .reason(item.description.clone())
            .payload(serde_json::json!({ "action_item": item_id })),
            ctx.now(),
        )
        .await?;
        Ok(item)
    })
    .await
}

/// An incident with everything a person wants to see.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    pub incident: Incident,
    pub escalation: Option<escalation::Escalation>,
    /// Who was paged, how, delivered or not, and what comes next.
    pub delivery: crate::notify::read::Delivery,
    pub timeline: Vec<events::Event>,
    pub postmortem: Option<Postmortem>,
    pub action_items: Vec<ActionItem>,
    /// Seconds left before the acknowledgement deadline (negative: breached).
    pub ack_seconds_left: Option<i64>,
    /// Seconds left in the current phase's time box (negative: overrun).
    pub phase_seconds_left: Option<i64>,
}

pub async fn detail(ctx: &Ctx, id: i64) -> Result<Detail> {
    let mut conn = ctx.pool.acquire().await?;
    let incident = store::get(&mut conn, id).await?;
    let key = id.to_string();
    let escalation = escalation::latest(&mut conn, WORKFLOW, &key).await?;
    let delivery =
        crate::notify::read::for_entity(&mut conn, WORKFLOW, &key, ctx.now(), 200).await?;
    let timeline = events::list(
        &mut conn,
        &events::Filter {
            workflow: Some(WORKFLOW.into()),
            entity_id: Some(key),
            after_id: Some(0),
            limit: 10_000,
            ..events::Filter::default()
        },
    )
    .await?;
    let postmortem = store::postmortem(&mut conn, id).await?;
    let action_items = store::action_items(&mut conn, id).await?;
    let now = ctx.now();
    let ack_seconds_left =
        (incident.status == Status::Triggered).then(|| (incident.ack_deadline - now).num_seconds());
    let phase_seconds_left = match incident.status {
        Status::Closed => None,
        _ => {
            Some((incident.phase_started_at + phase_box(ctx, incident.phase)? - now).num_seconds())
        }
    };
    Ok(Detail {
        incident,
        escalation,
        delivery,
        timeline,
        postmortem,
        action_items,
        ack_seconds_left,
        phase_seconds_left,
    })
}

/// The time box of an incident's current phase ends at this moment.
pub fn phase_deadline(ctx: &Ctx, inc: &Incident) -> Option<DateTime<Utc>> {
    Some(inc.phase_started_at + phase_box(ctx, inc.phase).ok()?)
}

pub async fn list(ctx: &Ctx, filter: &store::ListFilter) -> Result<Vec<Incident>> {
    let mut conn = ctx.pool.acquire().await?;
    store::list(&mut conn, filter).await
}

/// Put someone on call (an on-call override): only people whose role may
/// respond to incidents (`[crisis.roles] respond`) may be put on call, by
/// themselves or by a team lead or the director of the schedule's
/// department; overlaps are refused unless `replace` is set.
pub async fn put_on_call(
    ctx: &Ctx,
    req: &crate::engine::oncall::NewOverride<'_>,
) -> Result<crate::engine::oncall::Added> {
    let respond = super::config::settings(&ctx.config)?.roles.respond_refs()?;
    in_tx(ctx, async |conn| {
        crate::engine::oncall::add_override(ctx, conn, req, &respond).await
    })
    .await
}

/// Cancel a live on-call override.
pub async fn cancel_on_call(
    ctx: &Ctx,
    id: i64,
    actor: &str,
) -> Result<crate::engine::oncall::Override> {
    in_tx(ctx, async |conn| {
        crate::engine::oncall::cancel_override(ctx, conn, id, actor).await
    })
    .await
}

/// The hand-off kind a crisis asks other departments for work with
/// (`[collab.kinds.incident_support]`, its departments named when opened).
pub const SUPPORT_KIND: &str = "incident_support";

/// The incident commander (or any responder) asks another department for
/// work (`vivid crisis request INCIDENT --to DEPT "TITLE"`): one typed
/// hand-off through collaboration's one mechanism, from the incident's
/// department (the first it names) to `to`, in the incident's story
/// (`incident:<id>`), noted on the incident's timeline.
pub async fn request_support(
    ctx: &Ctx,
    id: i64,
    to: &str,
    title: &str,
    fields: &[String],
    actor: &str,
) -> Result<crate::engine::handoffs::Handoff> {
    let person = ctx.org.actor(actor)?.clone();
    let to = to.trim();
    if ctx.org.department(to).is_none() {
        return Err(Error::invalid(format!(
            "unknown department {to:?} (see `vivid org list`)"
        )));
    }
    let kind = crate::collab::service::kind(ctx, SUPPORT_KIND)?;
    // The incident fills its own fields; the rest are the asker's.
    const OWN: [&str; 2] = ["incident", "severity"];
    for f in fields {
        let name = f.split_once('=').map_or(f.as_str(), |(n, _)| n).trim();
        if OWN.contains(&name) {
            return Err(Error::invalid(format!(
                "field {name:?} is the incident's own; leave it out"
            )));
        }
    }
    let schema: Vec<_> = crate::collab::model::schema(kind)
        .into_iter()
        .filter(|f| !OWN.contains(&f.name.as_str()))
        .collect();
    let mut payload = crate::collab::model::parse_fields(SUPPORT_KIND, &schema, fields)
        .map_err(|e| Error::invalid(e.to_string()))?;
    in_tx(ctx, async |conn| {
        let inc = store::lock(conn, id).await?;
        if inc.commander.as_deref() != Some(person.handle.as_str()) {
            require_responder(ctx, &person)?;
        }
        if inc.status == Status::Closed {
            return Err(Error::conflict(format!(
                "incident #{id} is closed; it asks nobody for work any more"
            )));
        }
        let from = inc.departments.first().cloned().unwrap_or(
            super::config::settings(&ctx.config)?
                .default_department
                .clone(),
        );
        if from == to {
            return Err(Error::invalid(format!(
                "incident #{id} is {from}'s own: ask another department (it names {})",
                inc.departments.join(", ")
            )));
        }
        payload.insert("incident".into(), id.into());
        payload.insert("severity".into(), inc.severity.as_str().into());
        let correlation = format!("incident:{id}");
        let open = crate::collab::Open {
            payload,
            ..crate::collab::Open::new(SUPPORT_KIND, title)
        }
        .from_workflow(WORKFLOW, id, Some(correlation.clone()))
        .between(from.clone(), to);
        let h = crate::collab::open(ctx, conn, &open, actor).await?;
        events::append(
            conn,
            &NewEvent::new(
                WORKFLOW,
                "incident",
                id.to_string(),
                "support_requested",
                actor,
            )
            .reason(format!("asked {to} (hand-off #{}): {}", h.id, h.subject))
            .correlation(Some(correlation))
            .payload(serde_json::json!({
                "handoff_id": h.id, "from": from, "to": to, "kind": SUPPORT_KIND,
            })),
            ctx.now(),
        )
        .await?;
        Ok(h)
    })
    .await
}
