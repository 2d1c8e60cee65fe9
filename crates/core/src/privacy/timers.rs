//! The privacy clocks: the timer kinds, starting and stopping them, and
//! their handlers (registered by the descriptor in `mod.rs`): request
//! reminders and deadlines, the breach-notification clock, remediation task
//! due dates, and the audit schedule. Each handler runs in the transaction
//! that marks its timer fired.

use chrono::DateTime;
use chrono::Utc;
use sqlx::PgConnection;

use super::WORKFLOW;
use super::service::{self, notify_channel, notify_roles};
use super::store::{self, Breach, Request};
use crate::engine::Ctx;
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self as engine_timers, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};

/// The scheduled audit (reschedules itself).
pub const AUDIT_TIMER: &str = "privacy.audit";
/// A reminder before a request's deadline (key: how long before).
pub const REQUEST_REMIND_TIMER: &str = "privacy.request_remind";
/// A request's deadline.
pub const REQUEST_DUE_TIMER: &str = "privacy.request_due";
/// A request is still not verified some days after receipt.
pub const VERIFY_STALL_TIMER: &str = "privacy.verify_stalled";
/// A reminder before a breach's notification deadline (key: how long before).
pub const BREACH_REMIND_TIMER: &str = "privacy.breach_remind";
/// A breach's notification deadline.
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

/// (Re)start a request's reminders and deadline.
pub async fn schedule_request_clocks(
    ctx: &Ctx,
    conn: &mut PgConnection,
    r: &Request,
) -> Result<()> {
    let id = r.id.to_string();
    engine_timers::cancel(conn, WORKFLOW, &id, Some(REQUEST_REMIND_TIMER)).await?;
    let now = ctx.now();
    for before in &super::config::settings(&ctx.config)?.requests.remind_before {
        let at = r.due_at - before.delta();
        if at > now {
            engine_timers::schedule(
                conn,
                &NewTimer::new(REQUEST_REMIND_TIMER, WORKFLOW, &id, at).key(before.to_string()),
                now,
            )
            .await?;
        }
    }
    engine_timers::schedule(
        conn,
        &NewTimer::new(REQUEST_DUE_TIMER, WORKFLOW, &id, r.due_at),
        now,
    )
    .await?;
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

/// Start a breach's notification clock: reminders and the deadline.
pub async fn schedule_breach_clock(ctx: &Ctx, conn: &mut PgConnection, b: &Breach) -> Result<()> {
    let id = b.id.to_string();
    let now = ctx.now();
    for before in &super::config::settings(&ctx.config)?.breach.remind_before {
        let at = b.notify_by - before.delta();
        if at > now {
            engine_timers::schedule(
                conn,
                &NewTimer::new(BREACH_REMIND_TIMER, WORKFLOW, &id, at).key(before.to_string()),
                now,
            )
            .await?;
        }
    }
    engine_timers::schedule(
        conn,
        &NewTimer::new(BREACH_DUE_TIMER, WORKFLOW, &id, b.notify_by),
        now,
    )
    .await?;
    Ok(())
}

/// Stop a breach's notification clock.
pub async fn stop_breach_clock(conn: &mut PgConnection, id: i64) -> Result<()> {
    let key = id.to_string();
    engine_timers::cancel(conn, WORKFLOW, &key, Some(BREACH_REMIND_TIMER)).await?;
    engine_timers::cancel(conn, WORKFLOW, &key, Some(BREACH_DUE_TIMER)).await?;
    Ok(())
}

fn entity(t: &Timer) -> Result<i64> {
    t.entity_id
        .parse()
        .map_err(|_| Error::internal(format!("privacy timer {} has a bad entity id", t.id)))
}

/// A request's deadline is near: remind the officers.
pub fn on_request_remind<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id = entity(t)?;
        let r = store::request(conn, id, true).await?;
        if !r.is_open() {
            return Ok(());
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
            &format!("Subject {}. Extend it (if the person is told within the first month) or complete it.", r.subject_ref),
            "warning",
            &format!("request:{id}:remind:{}", t.dedupe_key),
        )
        .await?;
        service::event(ctx, conn, "request", id, "request_reminded", "engine", |e| {
            e.payload(serde_json::json!({ "before": t.dedupe_key, "reminded": reminded, "due_at": r.due_at }))
        })
        .await
    })
}

/// A request passed its deadline still open: escalate.
pub fn on_request_due<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id = entity(t)?;
        let r = store::request(conn, id, true).await?;
        if !r.is_open() {
            return Ok(());
        }
        let subject = format!(
            "OVERDUE: data-subject request #{id} ({}) for {}",
            r.kind, r.subject_ref
        );
        let body = format!(
            "The deadline passed at {}.",
            ctx.calendar.format_local(r.due_at)
        );
        notify_channel(
            ctx,
            conn,
            id,
            &subject,
            &body,
            "critical",
            &format!("request:{id}:overdue:{}", r.due_at.timestamp()),
        )
        .await?;
        notify_roles(
            ctx,
            conn,
            &super::config::settings(&ctx.config)?.closeout_approvers,
            id,
            &subject,
            &body,
            "critical",
            &format!("request:{id}:overdue:{}", r.due_at.timestamp()),
        )
        .await?;
        service::event(ctx, conn, "request", id, "request_overdue", "engine", |e| {
            e.reason("the one-month deadline passed")
                .payload(serde_json::json!({ "due_at": r.due_at }))
        })
        .await
    })
}

/// The notification deadline is near and the authority is not notified.
pub fn on_breach_remind<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id = entity(t)?;
        let b = store::breach(conn, id, true).await?;
        if b.status != "assessing" {
            return Ok(());
        }
        let subject = format!(
            "Breach #{id}: notify the {} by {}",
            super::config::settings(&ctx.config)?.breach.authority,
            ctx.calendar.format_local(b.notify_by)
        );
        let mut list = super::config::settings(&ctx.config)?.responders.clone();
        list.extend(
            super::config::settings(&ctx.config)?
                .closeout_approvers
                .iter()
                .cloned(),
        );
        let reminded = notify_roles(
            ctx,
            conn,
            &list,
            id,
            &subject,
            &b.title,
            "critical",
            &format!("breach:{id}:remind:{}", t.dedupe_key),
        )
        .await?;
        service::event(
            ctx,
            conn,
            "breach",
            id,
            "notification_reminder",
            "engine",
            |e| e.payload(serde_json::json!({ "before": t.dedupe_key, "reminded": reminded })),
        )
        .await
    })
}

/// 72 hours passed without notifying: the record must now carry the reasons.
pub fn on_breach_due<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id = entity(t)?;
        let b = store::breach(conn, id, true).await?;
        if b.status != "assessing" {
            return Ok(());
        }
        let subject = format!(
            "OVERDUE: breach #{id} was not notified to the {} in time",
            super::config::settings(&ctx.config)?.breach.authority
        );
        let body = format!(
            "Deadline {}. Notify now and give the reasons for the delay.",
            ctx.calendar.format_local(b.notify_by)
        );
        notify_channel(
            ctx,
            conn,
            id,
            &subject,
            &body,
            "critical",
            &format!("breach:{id}:overdue"),
        )
        .await?;
        let mut list = super::config::settings(&ctx.config)?
            .closeout_approvers
            .clone();
        list.push("business_manager".into());
        notify_roles(
            ctx,
            conn,
            &list,
            id,
            &subject,
            &body,
            "critical",
            &format!("breach:{id}:overdue"),
        )
        .await?;
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
        .await
    })
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
