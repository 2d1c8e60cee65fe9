//! Content clocks: the review cycle of a live item and its handler
//! (registered by the descriptor in `mod.rs`). Each cycle judges the item's
//! click-through against its channel's baseline and moves it through the
//! seed's Performance / Optimization / Maintenance / Archival edges.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::WORKFLOW;
use super::model::{self, State, Verdict};
use super::service::{record, refusal};
use super::store;
use crate::engine::Ctx;
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self as engine_timers, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};

/// A live item's review cycle ended.
pub const REVIEW_TIMER: &str = "content.review";

/// (Re)start the review cycle of a live item: it ends one `review_cycle` from now.
pub(super) async fn start_review(ctx: &Ctx, conn: &mut PgConnection, item_id: i64) -> Result<()> {
    let now = ctx.now();
    let due: DateTime<Utc> = now + super::config::settings(&ctx.config)?.review_cycle.delta();
    engine_timers::schedule(
        conn,
        &NewTimer::new(REVIEW_TIMER, WORKFLOW, item_id, due),
        now,
    )
    .await?;
    Ok(())
}

/// Stop reviewing an item (it is archived).
pub(super) async fn cancel_review(conn: &mut PgConnection, item_id: i64) -> Result<()> {
    engine_timers::cancel(conn, WORKFLOW, &item_id.to_string(), Some(REVIEW_TIMER)).await?;
    Ok(())
}

/// The review cycle of one published item.
pub fn on_review<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id: i64 = t
            .entity_id
            .parse()
            .map_err(|_| Error::internal("content timer without an item id"))?;
        let mut item = store::lock(conn, id).await?;
        let from = item.state;
        if from == State::Archival {
            return Ok(());
        }
        let cfg = super::config::settings(&ctx.config)?;
        let now = ctx.now();
        let since = now - cfg.review_cycle.delta();
        let totals = store::totals(conn, id, since).await?;
        let baseline = cfg
            .channels
            .get(&item.channel)
            .map(|c| c.baseline_ctr)
            .unwrap_or(0.0);
        let stale = now - item.last_edit_at > cfg.staleness.delta();
        let v = model::verdict(
            from,
            totals.ctr(),
            baseline,
            cfg.underperforming_ratio,
            stale,
        );
        if let Some(command) = v.command() {
            let to = model::decide(from, command).map_err(|r| refusal(r, &item))?;
            item.state = to;
            item.updated_at = now;
            if to == State::Archival {
                item.archived_at = Some(now);
            }
            store::save(conn, &item).await?;
            let why = match totals.ctr() {
                Some(c) => format!(
                    "click-through {:.2}% vs channel baseline {:.2}% over the last cycle",
                    c * 100.0,
                    baseline * 100.0
                ),
                None => "no views in the last cycle".to_string(),
            };
            record(
                ctx,
                conn,
                &item,
                v.as_str(),
                "engine",
                from,
                Some(why.clone()),
                serde_json::json!({ "ctr": totals.ctr(), "baseline": baseline, "views": totals.views }),
            )
            .await?;
            if v == Verdict::Underperforming {
                // The optimisation task.
                let n = NewNotification::to_person(&item.owner, WORKFLOW, id, format!("Optimise content #{id}: {}", item.title))
                    .body(format!("It is underperforming: {why}. Edit it, submit the new version, then publish it."))
                    .severity("warning")
                    .payload(serde_json::json!({ "content_id": id, "kind": "optimisation_task" }));
                outbox::enqueue(ctx, conn, &n).await?;
            }
        }
        if item.state != State::Archival {
            start_review(ctx, conn, id).await?;
        }
        Ok(())
    })
}
