//! Personal-data breaches: recorded with the 72-hour notification clock and
//! a privacy incident in the crisis workflow; information added (in phases
//! once notified); the authority notified or the exemption documented;
//! remediation tasks; the close-out approved through the engine.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{event, no_pii_in, notify_channel, notify_roles, require, roles};
use crate::crisis::Severity;
use crate::crisis::service::{NewIncident, Source};
use crate::engine::Ctx;
use crate::engine::approvals::{self, Decision, NewApproval, Outcome};
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self, NewTimer};
use crate::error::{Error, Result};
use crate::org::Person;
use crate::privacy::WORKFLOW;
use crate::privacy::model::{self, BreachCommand, BreachEffect, BreachStatus};
use crate::privacy::store::{self, Breach};
use crate::privacy::timers::{TASK_DUE_TIMER, schedule_breach_clock, stop_breach_clock};

/// The information a breach record holds; any part may come later.
#[derive(Debug, Clone, Default)]
pub struct BreachInfoUpdate {
    pub nature: Option<String>,
    /// The categories of people and of records concerned.
    pub categories: Option<String>,
    pub people_approx: Option<i64>,
    pub records_approx: Option<i64>,
    pub contact_point: Option<String>,
    pub consequences: Option<String>,
    pub measures: Option<String>,
}

impl BreachInfoUpdate {
    fn is_empty(&self) -> bool {
        self.nature.is_none()
            && self.categories.is_none()
            && self.people_approx.is_none()
            && self.records_approx.is_none()
            && self.contact_point.is_none()
            && self.consequences.is_none()
            && self.measures.is_none()
    }

    fn check(&self, ctx: &Ctx) -> Result<()> {
        for (what, text) in [
            ("the nature", &self.nature),
            ("the categories", &self.categories),
            ("the contact point", &self.contact_point),
            ("the consequences", &self.consequences),
            ("the measures", &self.measures),
        ] {
            if let Some(t) = text {
                if t.trim().is_empty() {
                    return Err(Error::invalid(format!("{what} cannot be empty")));
                }
                // The contact point is a role or office, not a person's details.
                no_pii_in(ctx, what, t)?;
            }
        }
        for (what, n) in [
            ("people", self.people_approx),
            ("records", self.records_approx),
        ] {
            if n.is_some_and(|n| n < 0) {
                return Err(Error::invalid(format!(
                    "the number of {what} cannot be negative"
                )));
            }
        }
        Ok(())
    }

    fn apply(&self, b: &mut Breach) -> serde_json::Value {
        let mut changed = serde_json::Map::new();
        let mut set = |name: &str, slot: &mut Option<String>, v: &Option<String>| {
            if let Some(v) = v {
                *slot = Some(v.trim().to_string());
                changed.insert(name.into(), serde_json::Value::String(v.trim().into()));
            }
        };
        set("nature", &mut b.nature, &self.nature);
        set("categories", &mut b.categories, &self.categories);
        set("contact_point", &mut b.contact_point, &self.contact_point);
        set("consequences", &mut b.consequences, &self.consequences);
        set("measures", &mut b.measures, &self.measures);
        if let Some(n) = self.people_approx {
            b.people_approx = Some(n);
            changed.insert("people_approx".into(), n.into());
        }
        if let Some(n) = self.records_approx {
            b.records_approx = Some(n);
            changed.insert("records_approx".into(), n.into());
        }
        serde_json::Value::Object(changed)
    }
}

#[derive(Debug, Clone)]
pub struct NewBreach {
    pub title: String,
    /// The finding that revealed it (its incident is reused).
    pub finding: Option<i64>,
    /// An existing incident to attach to.
    pub incident: Option<i64>,
    pub severity: Severity,
    /// When the organisation became aware (default now): the 72 hours run from here.
    pub aware_at: Option<DateTime<Utc>>,
    pub info: BreachInfoUpdate,
}

fn responder(ctx: &Ctx, actor: &str) -> Result<Person> {
    let person = ctx.org.actor(actor)?.clone();
    require(
        ctx,
        &person,
        &crate::privacy::config::settings(&ctx.config)?.responders,
        "respond to personal-data breaches",
    )?;
    Ok(person)
}

/// Record a personal-data breach: the 72-hour notification clock starts, and
/// the breach runs as a privacy incident in the crisis workflow.
pub async fn open_breach(ctx: &Ctx, new: &NewBreach, actor: &str) -> Result<Breach> {
    responder(ctx, actor)?;
    if new.title.trim().is_empty() {
        return Err(Error::invalid("a breach needs a title"));
    }
    no_pii_in(ctx, "the title", &new.title)?;
    new.info.check(ctx)?;
    let now = ctx.now();
    let aware_at = new.aware_at.unwrap_or(now);
    if aware_at > now {
        return Err(Error::invalid(
            "the moment of awareness cannot be in the future",
        ));
    }
    let mut tx = ctx.pool.begin().await?;
    let finding = match new.finding {
        Some(f) => Some(store::finding(&mut tx, f, true).await?),
        None => None,
    };
    let incident_id = match (new.incident, finding.as_ref().and_then(|f| f.incident_id)) {
        (Some(i), _) | (None, Some(i)) => crate::crisis::store::get(&mut tx, i).await?.id,
        (None, None) => {
            let inc = crate::crisis::service::open_in(
                ctx,
                &mut tx,
                &NewIncident {
                    title: format!("Personal-data breach: {}", new.title.trim()),
                    description: "Recorded in the privacy workflow; the authority must be notified within the notification deadline.".into(),
                    severity: new.severity,
                    source: Source::PrivacyBreach,
                    source_ref: new.finding.map(|f| format!("privacy-finding:{f}")),
                    departments: crate::privacy::config::settings(&ctx.config)?.incident_departments.clone(),
                    commander: None,
                    trigger_key: None,
                },
                actor,
            )
            .await?
            .ok_or_else(|| Error::conflict("the incident could not be opened"))?;
            inc.id
        }
    };
    let notify_by = aware_at
        + crate::privacy::config::settings(&ctx.config)?
            .breach
            .notify_within
            .delta();
    let id = store::insert_breach(
        &mut tx,
        &store::NewBreachRow {
            incident_id,
            finding_id: new.finding,
            title: new.title.trim(),
            aware_at,
            notify_by,
            opened_by: actor,
            at: now,
        },
    )
    .await?;
    let mut b = store::breach(&mut tx, id, true).await?;
    if b.contact_point.is_none() && new.info.contact_point.is_none() {
        // The configured data-protection contact by default.
        if let Some(p) = ctx
            .org
            .person(&crate::privacy::config::settings(&ctx.config)?.contact_point)
        {
            b.contact_point = Some(format!(
                "{} ({})",
                p.name,
                department_name(ctx, &p.department)
            ));
        }
    }
    let info = new.info.apply(&mut b);
    store::save_breach(&mut tx, &b).await?;
    schedule_breach_clock(ctx, &mut tx, &b).await?;
    event(ctx, &mut tx, "breach", id, "breach_recorded", actor, |e| {
        e.transition(None::<&str>, BreachStatus::Assessing)
            .reason(new.title.trim())
            .payload(serde_json::json!({ "incident_id": incident_id, "finding": new.finding, "aware_at": aware_at, "notify_by": notify_by, "info": info }))
    })
    .await?;
    let subject = format!("Personal-data breach #{id}: {}", b.title);
    let body = format!(
        "Incident #{incident_id}. The {} must be notified by {}.",
        crate::privacy::config::settings(&ctx.config)?
            .breach
            .authority,
        ctx.calendar.format_local(notify_by)
    );
    notify_channel(
        ctx,
        &mut tx,
        id,
        &subject,
        &body,
        "critical",
        &format!("breach:{id}:recorded"),
    )
    .await?;
    notify_roles(
        ctx,
        &mut tx,
        &crate::privacy::config::settings(&ctx.config)?.closeout_approvers,
        id,
        &subject,
        &body,
        "critical",
        &format!("breach:{id}:recorded"),
    )
    .await?;
    tx.commit().await?;
    Ok(b)
}

pub(crate) fn department_name(ctx: &Ctx, key: &str) -> String {
    ctx.org
        .department(key)
        .map(|d| d.name.clone())
        .unwrap_or_else(|| key.to_string())
}

/// Lock a breach and ask the state machine.
async fn breach_move(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    cmd: BreachCommand,
) -> Result<(Breach, BreachStatus, BreachEffect)> {
    let b = store::breach(conn, id, true).await?;
    let (open, done) = store::task_counts(conn, id).await?;
    let (to, effect) = model::decide_breach(b.state(open, done)?, cmd, ctx.now())
        .map_err(|r| Error::invalid(format!("breach #{id} ({}): {}", b.status, r.0)))?;
    Ok((b, to, effect))
}

/// Add or correct information; after notification each update is a phase.
pub async fn update_breach(
    ctx: &Ctx,
    id: i64,
    info: &BreachInfoUpdate,
    actor: &str,
) -> Result<Breach> {
    responder(ctx, actor)?;
    if info.is_empty() {
        return Err(Error::invalid(
            "nothing to record: give at least one piece of information",
        ));
    }
    info.check(ctx)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let (mut b, to, effect) = breach_move(ctx, &mut tx, id, BreachCommand::Update).await?;
    let changed = info.apply(&mut b);
    b.status = to.as_str().into();
    b.updated_at = now;
    if effect == BreachEffect::Phase {
        b.phases += 1;
        store::insert_phase(&mut tx, id, b.phases, &changed, actor, now).await?;
    }
    store::save_breach(&mut tx, &b).await?;
    let phase = (effect == BreachEffect::Phase).then_some(b.phases);
    event(ctx, &mut tx, "breach", id, "breach_updated", actor, |e| {
        e.payload(serde_json::json!({ "info": changed, "phase": phase }))
    })
    .await?;
    tx.commit().await?;
    Ok(b)
}

/// The authority was notified (late notifications give the reasons).
pub async fn notify_authority(
    ctx: &Ctx,
    id: i64,
    late_reason: Option<&str>,
    actor: &str,
) -> Result<Breach> {
    responder(ctx, actor)?;
    let late_reason = late_reason.map(str::trim).filter(|r| !r.is_empty());
    if let Some(r) = late_reason {
        no_pii_in(ctx, "the reason for the delay", r)?;
    }
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let (mut b, to, _) = breach_move(
        ctx,
        &mut tx,
        id,
        BreachCommand::Notify {
            has_delay_reason: late_reason.is_some(),
        },
    )
    .await?;
    let from = b.status.clone();
    b.status = to.as_str().into();
    b.notified_at = Some(now);
    b.notified_by = Some(actor.into());
    b.late_reason = late_reason.map(str::to_string);
    b.updated_at = now;
    store::save_breach(&mut tx, &b).await?;
    stop_breach_clock(&mut tx, id).await?;
    let on_time = now <= b.notify_by;
    let authority = crate::privacy::config::settings(&ctx.config)?
        .breach
        .authority
        .clone();
    event(ctx, &mut tx, "breach", id, "authority_notified", actor, |e| {
        e.transition(Some(from), to)
            .maybe_reason(b.late_reason.clone())
            .payload(serde_json::json!({ "authority": authority, "on_time": on_time, "notify_by": b.notify_by }))
    })
    .await?;
    tx.commit().await?;
    Ok(b)
}

/// No notification needed (unlikely to result in a risk): documented why.
pub async fn exempt_breach(ctx: &Ctx, id: i64, reason: &str, actor: &str) -> Result<Breach> {
    responder(ctx, actor)?;
    if reason.trim().is_empty() {
        return Err(Error::invalid(
            "say why the breach is unlikely to result in a risk to people",
        ));
    }
    no_pii_in(ctx, "the reason", reason)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let (mut b, to, _) = breach_move(ctx, &mut tx, id, BreachCommand::Exempt).await?;
    let from = b.status.clone();
    b.status = to.as_str().into();
    b.exempt_reason = Some(reason.trim().into());
    b.updated_at = now;
    store::save_breach(&mut tx, &b).await?;
    stop_breach_clock(&mut tx, id).await?;
    event(
        ctx,
        &mut tx,
        "breach",
        id,
        "notification_not_required",
        actor,
        |e| e.transition(Some(from), to).reason(reason.trim()),
    )
    .await?;
    tx.commit().await?;
    Ok(b)
}

/// Add a remediation task with an owner and a due time (reminder on overrun).
pub async fn add_task(
    ctx: &Ctx,
    id: i64,
    description: &str,
    owner: &str,
    due: Option<DateTime<Utc>>,
    actor: &str,
) -> Result<store::Task> {
    responder(ctx, actor)?;
    ctx.org.actor(owner)?;
    if description.trim().is_empty() {
        return Err(Error::invalid("a task needs a description"));
    }
    no_pii_in(ctx, "the task", description)?;
    let now = ctx.now();
    let due = due.unwrap_or(
        now + crate::privacy::config::settings(&ctx.config)?
            .breach
            .task_due
            .delta(),
    );
    if due <= now {
        return Err(Error::invalid("a task must be due in the future"));
    }
    let mut tx = ctx.pool.begin().await?;
    breach_move(ctx, &mut tx, id, BreachCommand::AddTask).await?;
    let task = store::insert_task(&mut tx, id, description.trim(), owner, due, actor, now).await?;
    timers::schedule(
        &mut tx,
        &NewTimer::new(TASK_DUE_TIMER, WORKFLOW, id, due).key(task.id.to_string()),
        now,
    )
    .await?;
    let n = NewNotification::to_person(
        owner,
        WORKFLOW,
        id,
        format!("Breach #{id}: remediation task for you"),
    )
    .body(format!(
        "{} Due {}.",
        task.description,
        ctx.calendar.format_local(due)
    ))
    .dedupe(format!("breach:{id}:task:{}", task.id));
    outbox::enqueue(ctx, &mut tx, &n).await?;
    event(ctx, &mut tx, "breach", id, "task_added", actor, |e| {
        e.reason(task.description.clone())
            .payload(serde_json::json!({ "task": task.id, "owner": owner, "due_at": due }))
    })
    .await?;
    tx.commit().await?;
    Ok(task)
}

pub async fn complete_task(ctx: &Ctx, task_id: i64, actor: &str) -> Result<store::Task> {
    let person = ctx.org.actor(actor)?.clone();
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let task = store::task(&mut tx, task_id, true)
        .await?
        .ok_or_else(|| Error::not_found(format!("no remediation task #{task_id}")))?;
    if person.handle != task.owner {
        require(
            ctx,
            &person,
            &crate::privacy::config::settings(&ctx.config)?.responders,
            "complete someone else's remediation task",
        )?;
    }
    if task.status == "done" {
        return Err(Error::conflict(format!("task #{task_id} is already done")));
    }
    breach_move(ctx, &mut tx, task.breach_id, BreachCommand::CompleteTask).await?;
    let done = store::finish_task(&mut tx, task_id, now, actor).await?;
    timers::cancel_key(
        &mut tx,
        WORKFLOW,
        &task.breach_id.to_string(),
        TASK_DUE_TIMER,
        &task_id.to_string(),
    )
    .await?;
    event(
        ctx,
        &mut tx,
        "breach",
        task.breach_id,
        "task_done",
        actor,
        |e| {
            e.reason(task.description.clone())
                .payload(serde_json::json!({ "task": task_id }))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(done)
}

/// The approvals entity of a breach's close-out.
pub fn closeout_entity(id: i64) -> String {
    format!("breach:{id}")
}

/// Ask the close-out approvers (Compliance & Risk director) to close a breach.
pub async fn request_close(
    ctx: &Ctx,
    id: i64,
    actor: &str,
) -> Result<(Breach, approvals::ApprovalRequest)> {
    responder(ctx, actor)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let (mut b, to, _) = breach_move(ctx, &mut tx, id, BreachCommand::RequestClose).await?;
    let from = b.status.clone();
    let req = approvals::request(
        ctx,
        &mut tx,
        &NewApproval {
            workflow: WORKFLOW.into(),
            entity_id: closeout_entity(id),
            subject_version: 1 + b.phases,
            title: format!("Close breach #{id}: {}", b.title),
            requested_by: actor.into(),
            eligible: roles(&crate::privacy::config::settings(&ctx.config)?.closeout_approvers),
            required: 1,
            must_include: Vec::new(),
            deadline: Some(
                now + crate::privacy::config::settings(&ctx.config)?
                    .breach
                    .closeout_deadline
                    .delta(),
            ),
        },
    )
    .await?;
    b.status = to.as_str().into();
    b.approval_id = Some(req.id);
    b.updated_at = now;
    store::save_breach(&mut tx, &b).await?;
    event(
        ctx,
        &mut tx,
        "breach",
        id,
        "closeout_requested",
        actor,
        |e| {
            e.transition(Some(from), to)
                .payload(serde_json::json!({ "approval_id": req.id }))
        },
    )
    .await?;
    tx.commit().await?;
    Ok((b, req))
}

/// Decide a breach close-out (through the engine's approvals: roles, no
/// self-approval, deadline). Approved closes it; a refusal sends it back.
pub async fn decide_closeout(
    ctx: &Ctx,
    id: i64,
    approver: &str,
    decision: Decision,
    comment: &str,
) -> Result<(Breach, Outcome)> {
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let b = store::breach(&mut tx, id, true).await?;
    let approval = b.approval_id.ok_or_else(|| {
        Error::invalid(format!(
            "breach #{id} has no close-out waiting for approval"
        ))
    })?;
    let (_, outcome) =
        approvals::decide(ctx, &mut tx, approval, approver, decision, comment, None).await?;
    let cmd = match outcome {
        Outcome::Approved => Some(BreachCommand::CloseApproved),
        Outcome::Rejected | Outcome::ChangesRequested => Some(BreachCommand::CloseRejected),
        Outcome::Pending { .. } | Outcome::AlreadyApproved => None,
    };
    let mut b = b;
    if let Some(cmd) = cmd {
        let (_, to, effect) = breach_move(ctx, &mut tx, id, cmd).await?;
        let from = b.status.clone();
        b.status = to.as_str().into();
        if effect == BreachEffect::Close {
            b.closed_at = Some(now);
        } else {
            b.approval_id = None;
        }
        b.updated_at = now;
        store::save_breach(&mut tx, &b).await?;
        event(
            ctx,
            &mut tx,
            "breach",
            id,
            if effect == BreachEffect::Close {
                "breach_closed"
            } else {
                "closeout_refused"
            },
            approver,
            |e| {
                e.transition(Some(from), to)
                    .reason(comment)
                    .payload(serde_json::json!({ "approval_id": approval }))
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok((b, outcome))
}
