//! Timer handlers for the privacy clocks: request reminders and deadlines,
//! the breach-notification clock, remediation task due dates. Each runs in
//! the transaction that marks its timer fired.

use sqlx::PgConnection;

use super::service::{self, notify_channel, notify_roles};
use super::store;
use crate::engine::Ctx;
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{HandlerFuture, Timer};
use crate::error::{Error, Result};

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
        if r.status != "open" {
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
        if r.status != "open" {
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
