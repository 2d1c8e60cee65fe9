//! The journey's clock: a support ticket's SLA and its handler (registered
//! by the descriptor in `mod.rs`). Past the SLA an open ticket is marked
//! breached and the support department's team leads and director hear.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::model::{self, TicketCommand};
use super::{WORKFLOW, store};
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self as engine_timers, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};
use crate::org::Role;

/// A support ticket's SLA ran out.
pub const TICKET_TIMER: &str = "journey.ticket_sla";

/// Start a new ticket's SLA clock: it runs out at `due`.
pub(super) async fn start_sla(
    conn: &mut PgConnection,
    ticket_id: i64,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    engine_timers::schedule(
        conn,
        &NewTimer::new(TICKET_TIMER, WORKFLOW, ticket_id, due),
        now,
    )
    .await?;
    Ok(())
}

/// Stop a resolved ticket's SLA clock.
pub(super) async fn cancel_sla(conn: &mut PgConnection, ticket_id: i64) -> Result<()> {
    engine_timers::cancel(conn, WORKFLOW, &ticket_id.to_string(), Some(TICKET_TIMER)).await?;
    Ok(())
}

/// Timer handler: a ticket ran past its SLA: the support department's team
/// leads and director hear (once; a resolved ticket is left alone).
pub fn on_ticket_sla<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id: i64 = t
            .entity_id
            .parse()
            .map_err(|_| Error::internal("ticket timer without an id"))?;
        let mut ticket = match store::lock_ticket(conn, id).await {
            Ok(t) => t,
            // Gone since (a reset demo): nothing is late.
            Err(Error::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if ticket.breached
            || model::decide_ticket(id, ticket.status, TicketCommand::Breach, None).is_err()
        {
            return Ok(());
        }
        ticket.breached = true;
        store::save_ticket(conn, &ticket).await?;
        let support = &super::config::settings(&ctx.config)?.departments.support;
        let mut to: Vec<String> = ctx
            .org
            .people
            .iter()
            .filter(|p| {
                &p.department == support
                    && (p.has_role(Role::TeamLead) || p.has_role(Role::Director))
            })
            .map(|p| p.handle.clone())
            .collect();
        to.sort();
        for h in to {
            let n = NewNotification::to_person(
                &h,
                WORKFLOW,
                id,
                format!("Support ticket #{id} is past its SLA"),
            )
            .severity("warning")
            .dedupe(format!("ticket:{id}:breach:{h}"))
            .payload(serde_json::json!({ "ticket_id": id }));
            outbox::enqueue(ctx, conn, &n).await?;
        }
        events::append(
            conn,
            &NewEvent::new(WORKFLOW, "ticket", id, "ticket_sla_breached", "engine")
                .reason("not resolved within the support SLA"),
            ctx.now(),
        )
        .await?;
        Ok(())
    })
}

/// A disqualified lead goes back to nurture.
pub const RECYCLE_TIMER: &str = "journey.recycle";
/// The Marketing director's weekly funnel and hand-off quality review.
pub const REVIEW_TIMER: &str = "journey.funnel_review";
const REVIEW_ENTITY: &str = "funnel";

/// Recycle a disqualified lead at `due` (moved if it was set before).
pub(super) async fn start_recycle(
    conn: &mut PgConnection,
    key: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    engine_timers::schedule(conn, &NewTimer::new(RECYCLE_TIMER, WORKFLOW, key, due), now).await?;
    Ok(())
}

pub(super) async fn cancel_recycle(conn: &mut PgConnection, key: &str) -> Result<()> {
    engine_timers::cancel(conn, WORKFLOW, key, Some(RECYCLE_TIMER)).await?;
    Ok(())
}

/// Timer handler: a lead still disqualified returns to nurture.
pub fn on_recycle<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move { super::service::recycle_in(ctx, conn, &t.entity_id, "engine").await })
}

/// Schedule the next funnel review unless one is pending.
pub async fn ensure_review(ctx: &Ctx, conn: &mut PgConnection) -> Result<()> {
    if store::timer_pending(conn, REVIEW_TIMER, WORKFLOW).await? {
        return Ok(());
    }
    schedule_review(ctx, conn).await
}

async fn schedule_review(ctx: &Ctx, conn: &mut PgConnection) -> Result<()> {
    let now = ctx.now();
    let every = super::config::settings(&ctx.config)?.review_every.delta();
    engine_timers::schedule(
        conn,
        &NewTimer::new(REVIEW_TIMER, WORKFLOW, REVIEW_ENTITY, now + every),
        now,
    )
    .await?;
    Ok(())
}

/// Timer handler: the Marketing director gets the week's funnel and the
/// hand-off quality (accepted vs disqualified); the next review is set.
pub fn on_review<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, _t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let now = ctx.now();
        let cfg = super::config::settings(&ctx.config)?;
        let since = cfg.review_every.delta();
        let f = super::read::funnel_on(ctx, conn, since).await?;
        let q = super::read::quality_on(conn, now - since).await?;
        let text = super::read::review_text(&f, &q);
        let marketing = &cfg.departments.marketing;
        let mut notified = Vec::new();
        if let Some(director) = ctx.org.director_of(marketing) {
            let n = NewNotification::to_person(
                &director.handle,
                WORKFLOW,
                REVIEW_ENTITY,
                "Weekly funnel review: the journey and hand-off quality",
            )
            .body(text)
            .dedupe(format!("journey:review:{}", now.timestamp()))
            .payload(serde_json::json!({ "since": now - since, "quality": q }));
            outbox::enqueue(ctx, conn, &n).await?;
            notified.push(director.handle.clone());
        }
        events::append(
            conn,
            &NewEvent::new(
                WORKFLOW,
                "funnel",
                REVIEW_ENTITY,
                "funnel_reviewed",
                "engine",
            )
            .payload(
                serde_json::json!({ "since": now - since, "notified": notified, "quality": q }),
            ),
            now,
        )
        .await?;
        schedule_review(ctx, conn).await
    })
}
