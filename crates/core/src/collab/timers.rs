//! Collaboration's own clock: the weekly review that posts the matrix to
//! the Business Manager. (Each hand-off's response and resolution clocks are
//! the engine's hand-off clocks.)

use sqlx::PgConnection;

use super::{WORKFLOW, config, read, store};
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self as engine_timers, HandlerFuture, NewTimer, Timer};
use crate::error::Result;
use crate::org::Role;

/// The matrix is due to the Business Manager.
pub const REVIEW_TIMER: &str = "collab.review";
const REVIEW_ENTITY: &str = "matrix";

/// Schedule the next review unless one is pending.
pub async fn ensure_review(ctx: &Ctx, conn: &mut PgConnection) -> Result<()> {
    if store::review_pending(conn, REVIEW_TIMER, WORKFLOW).await? {
        return Ok(());
    }
    schedule_next(ctx, conn).await
}

async fn schedule_next(ctx: &Ctx, conn: &mut PgConnection) -> Result<()> {
    let now = ctx.now();
    let every = config::settings(&ctx.config)?.review_every.delta();
    engine_timers::schedule(
        conn,
        &NewTimer::new(REVIEW_TIMER, WORKFLOW, REVIEW_ENTITY, now + every),
        now,
    )
    .await?;
    Ok(())
}

/// Post the matrix to the Business Manager and schedule the next review.
pub fn on_review<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, _t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let now = ctx.now();
        let cfg = config::settings(&ctx.config)?;
        let since = now - cfg.review_every.delta();
        let m = read::matrix_on(ctx, conn, since).await?;
        let text = read::matrix_text(&m);
        let managers: Vec<String> = ctx
            .org
            .people
            .iter()
            .filter(|p| p.has_role(Role::BusinessManager))
            .map(|p| p.handle.clone())
            .collect();
        for bm in &managers {
            let n = NewNotification::to_person(
                bm,
                WORKFLOW,
                REVIEW_ENTITY,
                "Weekly hand-off review: the department matrix",
            )
            .body(text.clone())
            .dedupe(format!("collab:review:{}:{bm}", now.timestamp()))
            .payload(serde_json::json!({ "since": since, "edges": m.edges.len() }));
            outbox::enqueue(ctx, conn, &n).await?;
        }
        events::append(
            conn,
            &NewEvent::new(
                WORKFLOW,
                "matrix",
                REVIEW_ENTITY,
                "matrix_reviewed",
                "engine",
            )
            .payload(serde_json::json!({ "since": since, "notified": managers })),
            now,
        )
        .await?;
        schedule_next(ctx, conn).await?;
        Ok(())
    })
}
