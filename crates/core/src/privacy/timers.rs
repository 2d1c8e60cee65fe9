//! The privacy clocks and their handlers (registered by the descriptor in
//! `mod.rs`). A request's one-month deadline and a breach's notification
//! deadline are engine deadline clocks (`engine::deadlines`, clocks
//! [`REQUEST_CLOCK`] and [`BREACH_CLOCK`], owned by [`Clocks`]); remediation
//! task due dates, the stalled-verification reminder and the audit schedule
//! are plain timers. Each handler runs in the transaction that marks its
//! timer fired.
//!
//! The timer kinds `privacy.request_remind`, `privacy.request_due`,
//! `privacy.breach_remind` and `privacy.breach_due` are what these clocks
//! were before they moved onto the engine: they stay registered so timers a
//! database already holds still fire, and restarting or stopping a clock
//! cancels them.

use chrono::DateTime;
use chrono::Utc;
use sqlx::PgConnection;

use super::WORKFLOW;
use super::service::{self, notify_channel, notify_roles};
use super::store::{self, Breach, Request};
use crate::engine::Ctx;
use crate::engine::deadlines::{self, Clock, ClockOwner, Reached, Reaction, Stage};
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self as engine_timers, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};
use crate::workflow::BoxFuture;

/// A data-subject request's deadline clock (entity: the request's id).
pub const REQUEST_CLOCK: &str = "request";
/// A breach's notification clock (entity: the breach's id).
pub const BREACH_CLOCK: &str = "breach";

/// The scheduled audit (reschedules itself).
pub const AUDIT_TIMER: &str = "privacy.audit";
/// Before the deadline clocks: a reminder before a request's deadline (key:
/// how long before). Still fired for timers already scheduled.
pub const REQUEST_REMIND_TIMER: &str = "privacy.request_remind";
/// Before the deadline clocks: a request's deadline.
pub const REQUEST_DUE_TIMER: &str = "privacy.request_due";
/// A request is still not verified some days after receipt.
pub const VERIFY_STALL_TIMER: &str = "privacy.verify_stalled";
/// Before the deadline clocks: a reminder before a breach's notification
/// deadline (key: how long before).
pub const BREACH_REMIND_TIMER: &str = "privacy.breach_remind";
/// Before the deadline clocks: a breach's notification deadline.
pub const BREACH_DUE_TIMER: &str = "privacy.breach_due";
/// A remediation task's due time (key: the task's id).
pub const TASK_DUE_TIMER: &str = "privacy.task_due";

/// The entity the audit schedule's timer hangs on.
pub const SCHEDULE_ENTITY: &str = "audit-schedule";

/// Make sure the audit timer is pending (idempotent; it reschedules itself).
pub async fn ensure_audit_scheduled(ctx: &Ctx, conn: &mut PgConnection) -> Result<()> {
    if !store::audit_timer_pending(conn, AUDIT_TIMER, SCHEDULE_ENTITY).await? {
        let due = ctx.now() + super::config::settings(&ctx.config)?.audit_every.delta();
        schedule_audit_at(ctx, conn, due).await?;
    }
    Ok(())
}

pub async fn schedule_audit_at(
    ctx: &Ctx,
    conn: &mut PgConnection,
    due: DateTime<Utc>,
) -> Result<()> {
    engine_timers::schedule(
        conn,
        &NewTimer::new(AUDIT_TIMER, WORKFLOW, SCHEDULE_ENTITY, due),
        ctx.now(),
    )
    .await?;
    Ok(())
}

/// (Re)start a request's deadline clock: reminders `requests.remind_before`
/// ahead, then the deadline.
pub async fn schedule_request_clocks(
    ctx: &Ctx,
    conn: &mut PgConnection,
    r: &Request,
) -> Result<()> {
    cancel_legacy(conn, r.id, REQUEST_REMIND_TIMER, REQUEST_DUE_TIMER).await?;
    let before = &super::config::settings(&ctx.config)?.requests.remind_before;
    deadlines::start(
        ctx,
        conn,
        &Clock::new(WORKFLOW, r.id, REQUEST_CLOCK, r.due_at)
            .remind_at(before.iter().map(|b| r.due_at - b.delta()))
            .correlation(Some(format!("privacy:request:{}", r.id))),
    )
    .await
}

/// Stop a request's deadline clock (completed or refused).
pub async fn stop_request_clocks(conn: &mut PgConnection, id: i64) -> Result<()> {
    cancel_legacy(conn, id, REQUEST_REMIND_TIMER, REQUEST_DUE_TIMER).await?;
    deadlines::stop(conn, WORKFLOW, &id.to_string(), REQUEST_CLOCK).await?;
    Ok(())
}

/// Cancel the timers a clock was before it moved onto the engine.
async fn cancel_legacy(conn: &mut PgConnection, id: i64, remind: &str, due: &str) -> Result<()> {
    let key = id.to_string();
    engine_timers::cancel(conn, WORKFLOW, &key, Some(remind)).await?;
    engine_timers::cancel(conn, WORKFLOW, &key, Some(due)).await?;
    Ok(())
}

/// Remind the officers if the identity is still not verified after
/// `requests.verify_remind_after`.
pub async fn schedule_verification_reminder(
    ctx: &Ctx,
    conn: &mut PgConnection,
    r: &Request,
) -> Result<()> {
    let after = super::config::settings(&ctx.config)?
        .requests
        .verify_remind_after
        .delta();
    let at = (r.received_at + after).max(ctx.now());
    engine_timers::schedule(
        conn,
        &NewTimer::new(VERIFY_STALL_TIMER, WORKFLOW, r.id.to_string(), at),
        ctx.now(),
    )
    .await?;
    Ok(())
}

/// Identity verification stalled: remind the officers.
pub fn on_verify_stalled<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id = entity(t)?;
        let r = store::request(conn, id, true).await?;
        let waiting = matches!(
            r.status()?,
            super::model::RequestStatus::Received | super::model::RequestStatus::Verifying
        );
        if !waiting {
            return Ok(());
        }
        let reminded = notify_roles(
            ctx,
            conn,
            &super::config::settings(&ctx.config)?.officers,
            id,
            &format!("Data-subject request #{id}: identity still not verified"),
            &format!(
                "Received {}, {}; due {}. Verify it (`privacy dsar verify {id}`) or refuse it.",
                ctx.calendar.format_local(r.received_at),
                r.status,
                ctx.calendar.format_local(r.due_at)
            ),
            "warning",
            &format!("request:{id}:verify_stalled"),
        )
        .await?;
        service::event(
            ctx,
            conn,
            "request",
            id,
            "verification_stalled",
            "engine",
            |e| e.payload(serde_json::json!({ "status": r.status, "reminded": reminded })),
        )
        .await
    })
}

/// Start a breach's notification clock: reminders `breach.remind_before`
/// ahead, then the deadline.
pub async fn schedule_breach_clock(ctx: &Ctx, conn: &mut PgConnection, b: &Breach) -> Result<()> {
    cancel_legacy(conn, b.id, BREACH_REMIND_TIMER, BREACH_DUE_TIMER).await?;
    let before = &super::config::settings(&ctx.config)?.breach.remind_before;
    deadlines::start(
        ctx,
        conn,
        &Clock::new(WORKFLOW, b.id, BREACH_CLOCK, b.notify_by)
            .remind_at(before.iter().map(|x| b.notify_by - x.delta()))
            .correlation(Some(format!("privacy:breach:{}", b.id))),
    )
    .await
}

/// Stop a breach's notification clock.
pub async fn stop_breach_clock(conn: &mut PgConnection, id: i64) -> Result<()> {
    cancel_legacy(conn, id, BREACH_REMIND_TIMER, BREACH_DUE_TIMER).await?;
    deadlines::stop(conn, WORKFLOW, &id.to_string(), BREACH_CLOCK).await?;
    Ok(())
}

/// The owner of the privacy deadline clocks: a request's and a breach's
/// reminders and deadlines. Each writes its own event
/// (`request_reminded`, `request_overdue`, `notification_reminder`,
/// `notification_overdue`), so the engine records nothing more.
#[derive(Debug, Clone, Copy)]
pub struct Clocks;

impl ClockOwner for Clocks {
    fn reached<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
        r: &'a Reached<'a>,
    ) -> BoxFuture<'a, Result<Reaction>> {
        Box::pin(async move {
            let id: i64 = r
                .entity_id
                .parse()
                .map_err(|_| Error::internal(format!("privacy clock on {:?}", r.entity_id)))?;
            // Reminders dedupe per deadline: an extension moves the clock and
            // its reminders are due again.
            let remind = Remind {
                before: until(r.due_at, ctx.now()),
                tag: format!("{}:{}", r.due_at.timestamp(), r.reminder),
            };
            let handled = match (r.clock, r.stage) {
                (REQUEST_CLOCK, Stage::Reminder) => request_remind(ctx, conn, id, &remind).await?,
                (REQUEST_CLOCK, _) => request_due(ctx, conn, id).await?,
                (BREACH_CLOCK, Stage::Reminder) => breach_remind(ctx, conn, id, &remind).await?,
                (BREACH_CLOCK, _) => breach_due(ctx, conn, id).await?,
                (other, _) => {
                    return Err(Error::internal(format!("unknown privacy clock {other:?}")));
                }
            };
            Ok(if handled {
                Reaction::Recorded
            } else {
                Reaction::Stale
            })
        })
    }
}

/// How long before the deadline a reminder fires, as configured ("7d"):
/// rounded to the minute, since a timer fires a little after its time.
fn until(due_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = ((due_at - now).num_seconds().max(0) + 30) / 60;
    crate::duration::HumanDuration::from_secs(minutes.unsigned_abs() * 60).to_string()
}

fn entity(t: &Timer) -> Result<i64> {
    t.entity_id
        .parse()
        .map_err(|_| Error::internal(format!("privacy timer {} has a bad entity id", t.id)))
}

/// Which reminder of a clock fired: for the event ("7d" before) and the
/// notification's dedupe key.
struct Remind {
    before: String,
    tag: String,
}

impl Remind {
    /// A timer of the old kinds carries "how long before" as its key.
    fn legacy(t: &Timer) -> Self {
        Self {
            before: t.dedupe_key.clone(),
            tag: t.dedupe_key.clone(),
        }
    }
}

/// Old-kind timer: a request's deadline is near.
pub fn on_request_remind<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        request_remind(ctx, conn, entity(t)?, &Remind::legacy(t)).await?;
        Ok(())
    })
}

/// Old-kind timer: a request's deadline passed.
pub fn on_request_due<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        request_due(ctx, conn, entity(t)?).await?;
        Ok(())
    })
}

/// Old-kind timer: a breach's notification deadline is near.
pub fn on_breach_remind<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        breach_remind(ctx, conn, entity(t)?, &Remind::legacy(t)).await?;
        Ok(())
    })
}

/// Old-kind timer: a breach's notification deadline passed.
pub fn on_breach_due<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        breach_due(ctx, conn, entity(t)?).await?;
        Ok(())
    })
}

/// A request's deadline is near: remind the officers. False when the
/// request is no longer open.
async fn request_remind(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    remind: &Remind,
) -> Result<bool> {
    let r = store::request(conn, id, true).await?;
    if !r.is_open() {
        return Ok(false);
    }
    let subject = format!(
        "Reminder: data-subject request #{id} ({}) is due {}",
        r.kind,
        ctx.calendar.format_local(r.due_at)
    );
    let reminded = notify_roles(
        ctx,
        conn,
        &super::config::settings(&ctx.config)?.officers,
        id,
        &subject,
        &format!(
            "Subject {}. Extend it (if the person is told within the first month) or complete it.",
            r.subject_ref
        ),
        "warning",
        &format!("request:{id}:remind:{}", remind.tag),
    )
    .await?;
    service::event(ctx, conn, "request", id, "request_reminded", "engine", |e| {
        e.payload(serde_json::json!({ "before": remind.before, "reminded": reminded, "due_at": r.due_at }))
    })
    .await?;
    Ok(true)
}

/// A request passed its deadline still open: escalate. False when it is
/// no longer open.
async fn request_due(ctx: &Ctx, conn: &mut PgConnection, id: i64) -> Result<bool> {
    let r = store::request(conn, id, true).await?;
    if !r.is_open() {
        return Ok(false);
    }
    let subject = format!(
        "OVERDUE: data-subject request #{id} ({}) for {}",
        r.kind, r.subject_ref
    );
    let body = format!(
        "The deadline passed at {}.",
        ctx.calendar.format_local(r.due_at)
    );
    let dedupe = format!("request:{id}:overdue:{}", r.due_at.timestamp());
    notify_channel(ctx, conn, id, &subject, &body, "critical", &dedupe).await?;
    notify_roles(
        ctx,
        conn,
        &super::config::settings(&ctx.config)?.closeout_approvers,
        id,
        &subject,
        &body,
        "critical",
        &dedupe,
    )
    .await?;
    service::event(ctx, conn, "request", id, "request_overdue", "engine", |e| {
        e.reason("the one-month deadline passed")
            .payload(serde_json::json!({ "due_at": r.due_at }))
    })
    .await?;
    Ok(true)
}

/// The notification deadline is near and the authority is not notified.
/// False when the breach is past assessment.
async fn breach_remind(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    remind: &Remind,
) -> Result<bool> {
    let b = store::breach(conn, id, true).await?;
    if b.status != "assessing" {
        return Ok(false);
    }
    let settings = super::config::settings(&ctx.config)?;
    let subject = format!(
        "Breach #{id}: notify the {} by {}",
        settings.breach.authority,
        ctx.calendar.format_local(b.notify_by)
    );
    let mut list = settings.responders.clone();
    list.extend(settings.closeout_approvers.iter().cloned());
    let reminded = notify_roles(
        ctx,
        conn,
        &list,
        id,
        &subject,
        &b.title,
        "critical",
        &format!("breach:{id}:remind:{}", remind.tag),
    )
    .await?;
    service::event(
        ctx,
        conn,
        "breach",
        id,
        "notification_reminder",
        "engine",
        |e| e.payload(serde_json::json!({ "before": remind.before, "reminded": reminded })),
    )
    .await?;
    Ok(true)
}

/// The notification deadline passed without notifying: the record must now
/// carry the reasons. False when the breach is past assessment.
async fn breach_due(ctx: &Ctx, conn: &mut PgConnection, id: i64) -> Result<bool> {
    let b = store::breach(conn, id, true).await?;
    if b.status != "assessing" {
        return Ok(false);
    }
    let settings = super::config::settings(&ctx.config)?;
    let subject = format!(
        "OVERDUE: breach #{id} was not notified to the {} in time",
        settings.breach.authority
    );
    let body = format!(
        "Deadline {}. Notify now and give the reasons for the delay.",
        ctx.calendar.format_local(b.notify_by)
    );
    let dedupe = format!("breach:{id}:overdue");
    notify_channel(ctx, conn, id, &subject, &body, "critical", &dedupe).await?;
    let mut list = settings.closeout_approvers.clone();
    list.push("business_manager".into());
    notify_roles(ctx, conn, &list, id, &subject, &body, "critical", &dedupe).await?;
    service::event(
        ctx,
        conn,
        "breach",
        id,
        "notification_overdue",
        "engine",
        |e| {
            e.reason("the notification deadline passed").payload(
                serde_json::json!({ "notify_by": b.notify_by, "incident_id": b.incident_id }),
            )
        },
    )
    .await?;
    Ok(true)
}

/// A remediation task is past due: remind its owner.
pub fn on_task_due<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let breach = entity(t)?;
        let task_id: i64 = t
            .dedupe_key
            .parse()
            .map_err(|_| Error::internal("task timer without a task"))?;
        let tasks = store::tasks(conn, breach).await?;
        let Some(task) = tasks.iter().find(|x| x.id == task_id) else {
            return Ok(());
        };
        if task.status != "open" {
            return Ok(());
        }
        let n = NewNotification::to_person(
            &task.owner,
            super::WORKFLOW,
            breach,
            format!("Overdue remediation task for breach #{breach}"),
        )
        .body(task.description.clone())
        .severity("warning")
        .dedupe(format!("breach:{breach}:task:{task_id}:overdue"));
        outbox::enqueue(ctx, conn, &n).await?;
        service::event(ctx, conn, "breach", breach, "task_overdue", "engine", |e| {
            e.reason(task.description.clone())
                .payload(serde_json::json!({ "task": task_id, "owner": task.owner }))
        })
        .await
    })
}
