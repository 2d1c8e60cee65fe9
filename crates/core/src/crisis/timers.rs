//! Crisis clocks: the timer kinds, starting and stopping them, and their
//! handlers (registered by the descriptor in `mod.rs`). A phase past its
//! time box notifies and escalates; an acknowledged incident without
//! progress re-triggers; an overdue action item reminds its owner.

use chrono::{DateTime, TimeDelta};
use sqlx::PgConnection;

use super::WORKFLOW;
use super::model::{ActionItemStatus, Command, Phase};
use super::service::{self, subject};
use super::store::{self, Incident};
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self as engine_timers, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};

/// The current phase ran past its time box (payload: the phase).
pub const PHASE_TIMER: &str = "crisis.phase_box";
/// An acknowledged incident made no progress for its severity's `unack_timeout`.
pub const UNACK_TIMER: &str = "crisis.unack";
/// An action item reached its due date (key: the item's id).
pub const ACTION_DUE_TIMER: &str = "crisis.action_due";
/// The "next update by" a status update promised has come without one.
pub const NEXT_UPDATE_TIMER: &str = "crisis.next_update";

/// The time box of a phase, from `[crisis.phases]`.
pub fn phase_box(ctx: &Ctx, phase: Phase) -> Result<TimeDelta> {
    let p = &super::config::settings(&ctx.config)?.phases;
    Ok(match phase {
        Phase::Detection => p.detection,
        Phase::Triage => p.triage,
        Phase::InternalComms => p.internal_comms,
        Phase::CustomerComms => p.customer_comms,
        Phase::ImplementFix => p.implement_fix,
        Phase::FollowUp => p.follow_up,
        Phase::PostMortem => p.post_mortem,
        Phase::UpdateProtocols => p.update_protocols,
    }
    .delta())
}

/// (Re)start the time box of the incident's current phase.
pub(super) async fn start_phase_box(
    ctx: &Ctx,
    conn: &mut PgConnection,
    inc: &Incident,
) -> Result<()> {
    let id = inc.id.to_string();
    engine_timers::cancel(conn, WORKFLOW, &id, Some(PHASE_TIMER)).await?;
    let due = ctx.now() + phase_box(ctx, inc.phase)?;
    engine_timers::schedule(
        conn,
        &NewTimer::new(PHASE_TIMER, WORKFLOW, &id, due)
            .payload(serde_json::json!({ "phase": inc.phase })),
        ctx.now(),
    )
    .await?;
    Ok(())
}

pub(super) async fn cancel_phase_box(conn: &mut PgConnection, incident_id: i64) -> Result<()> {
    engine_timers::cancel(conn, WORKFLOW, &incident_id.to_string(), Some(PHASE_TIMER)).await?;
    Ok(())
}

/// (Re)start the un-acknowledge countdown: progress was made.
pub(super) async fn start_unack(
    ctx: &Ctx,
    conn: &mut PgConnection,
    incident_id: i64,
    timeout: TimeDelta,
) -> Result<()> {
    let due = ctx.now() + timeout;
    engine_timers::schedule(
        conn,
        &NewTimer::new(UNACK_TIMER, WORKFLOW, incident_id, due),
        ctx.now(),
    )
    .await?;
    Ok(())
}

pub(super) async fn cancel_unack(conn: &mut PgConnection, incident_id: i64) -> Result<()> {
    engine_timers::cancel(conn, WORKFLOW, &incident_id.to_string(), Some(UNACK_TIMER)).await?;
    Ok(())
}

/// Remind the owner when the action item is still open at `due_at`. It is
/// never cancelled: cancelling is per incident and would silence the
/// incident's other items, so the handler skips items already done.
pub(super) async fn start_action_due(
    ctx: &Ctx,
    conn: &mut PgConnection,
    incident_id: i64,
    item_id: i64,
    due_at: DateTime<chrono::Utc>,
) -> Result<()> {
    engine_timers::schedule(
        conn,
        &NewTimer::new(ACTION_DUE_TIMER, WORKFLOW, incident_id, due_at).key(item_id.to_string()),
        ctx.now(),
    )
    .await?;
    Ok(())
}

/// Remind the commander at `due` unless another status update comes first
/// (scheduling again moves the one pending reminder).
pub(super) async fn start_next_update(
    ctx: &Ctx,
    conn: &mut PgConnection,
    incident_id: i64,
    due: DateTime<chrono::Utc>,
) -> Result<()> {
    engine_timers::schedule(
        conn,
        &NewTimer::new(NEXT_UPDATE_TIMER, WORKFLOW, incident_id, due),
        ctx.now(),
    )
    .await?;
    Ok(())
}

pub(super) async fn cancel_next_update(conn: &mut PgConnection, incident_id: i64) -> Result<()> {
    engine_timers::cancel(
        conn,
        WORKFLOW,
        &incident_id.to_string(),
        Some(NEXT_UPDATE_TIMER),
    )
    .await?;
    Ok(())
}

/// The promised status update is due and has not come: remind the
/// commander (or whoever holds the incident when nobody commands it).
pub fn on_next_update<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id = incident_id(t)?;
        let inc = store::get(conn, id).await?;
        let Some(due) = inc.next_update_at.filter(|_| inc.status.is_open()) else {
            return Ok(());
        };
        let Some(to) = inc.commander.clone().or_else(|| inc.responder.clone()) else {
            return Ok(());
        };
        let n = NewNotification::to_person(
            &to,
            WORKFLOW,
            id,
            format!("{}: a status update is due", subject(&inc)),
        )
        .body(format!(
            "The last update promised the next one by {}.",
            ctx.calendar.format_local(due)
        ))
        .severity("warning")
        .dedupe(format!("incident:{id}:next_update:{}", due.timestamp()))
        .payload(serde_json::json!({ "incident_id": id, "kind": "status_update_due" }));
        outbox::enqueue(ctx, conn, &n).await?;
        events::append(
            conn,
            &NewEvent::new(WORKFLOW, "incident", id, "status_update_due", "engine")
                .reason(format!(
                    "no status update since the one promising an update by {}",
                    ctx.calendar.format_local(due)
                ))
                .payload(serde_json::json!({ "due_at": due, "reminded": to })),
            ctx.now(),
        )
        .await?;
        Ok(())
    })
}

fn incident_id(t: &Timer) -> Result<i64> {
    t.entity_id
        .parse()
        .map_err(|_| Error::internal(format!("crisis timer {} has a bad incident id", t.id)))
}

/// A phase ran past its time box: notify and escalate.
pub fn on_phase_box<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id = incident_id(t)?;
        let phase: Phase = t
            .payload
            .get("phase")
            .and_then(|p| p.as_str())
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| Error::internal("phase timer without a phase"))?;
        let done = service::run_command(
            ctx,
            conn,
            id,
            "engine",
            Command::PhaseOverrun(phase),
            "phase_overrun",
            Some(format!(
                "{} ran past its time box of {}",
                phase,
                crate::duration::format_delta(phase_box(ctx, phase)?)
            )),
            |_, _| {},
        )
        .await?;
        if done.unchanged.is_none() {
            let inc = &done.incident;
            let mut to: Vec<String> = inc.commander.iter().cloned().collect();
            for d in &inc.departments {
                if let Some(dir) = ctx.org.director_of(d) {
                    to.push(dir.handle.clone());
                }
            }
            to.sort();
            to.dedup();
            for handle in to {
                let n = NewNotification::to_person(
                    &handle,
                    WORKFLOW,
                    id,
                    format!("{}: {} is over its time box", subject(inc), phase),
                )
                .severity("critical")
                .dedupe(format!("incident:{id}:overrun:{}:{handle}", phase.key()))
                .payload(serde_json::json!({ "incident_id": id }));
                outbox::enqueue(ctx, conn, &n).await?;
            }
        }
        Ok(())
    })
}

/// No progress on an acknowledged incident: it re-triggers.
pub fn on_unack<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id = incident_id(t)?;
        service::run_command(
            ctx,
            conn,
            id,
            "engine",
            Command::UnackTimeout,
            "retriggered",
            Some("acknowledged but no progress within the un-acknowledge timeout".into()),
            |_, _| {},
        )
        .await?;
        Ok(())
    })
}

/// An action item reached its due date still open: remind its owner.
pub fn on_action_due<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let item_id: i64 = t
            .dedupe_key
            .parse()
            .map_err(|_| Error::internal("action timer without an item"))?;
        let item = store::action_item(conn, item_id).await?;
        if item.status != ActionItemStatus::Open {
            return Ok(());
        }
        let n = NewNotification::to_person(
            &item.owner,
            WORKFLOW,
            item.incident_id,
            format!(
                "Overdue action item from incident #{}: {}",
                item.incident_id, item.description
            ),
        )
        .severity("warning")
        .dedupe(format!("action:{item_id}:overdue"))
        .payload(serde_json::json!({ "incident_id": item.incident_id, "action_item": item_id }));
        outbox::enqueue(ctx, conn, &n).await?;
        events::append(
            conn,
            &NewEvent::new(
                WORKFLOW,
                "incident",
                item.incident_id,
                "action_item_overdue",
                "engine",
            )
            .reason(item.description.clone())
            .payload(serde_json::json!({ "action_item": item_id, "owner": item.owner })),
            ctx.now(),
        )
        .await?;
        Ok(())
    })
}
