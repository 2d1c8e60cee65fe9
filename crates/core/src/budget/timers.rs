//! Budget clocks, started when a period opens: mid-period (the forecast is
//! recorded for the forecast-accuracy KPI, alarms re-evaluated as time
//! moves the forecast, reallocation proposals posted) and period end (the
//! monthly review: the period report posted to Finance).

use sqlx::PgConnection;

use super::WORKFLOW;
use super::config::settings;
use super::model::{self, Period, format_cents};
use super::service::{evaluate, pacing_of};
use super::store;
use crate::engine::Ctx;
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self as engine_timers, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};

/// The middle of a period: record forecasts, re-evaluate alarms.
pub const MID_TIMER: &str = "budget.mid_period";
/// The end of a period: the review cycle's report to Finance.
pub const END_TIMER: &str = "budget.period_end";

/// Schedule a new period's clocks (local midnight in the org's time zone).
pub(super) async fn start_period(ctx: &Ctx, conn: &mut PgConnection, p: &Period) -> Result<()> {
    let now = ctx.now();
    let mid_day = p.start + chrono::Days::new((p.total_days() / 2).max(0) as u64);
    let mid = ctx.calendar.start_of_day(mid_day);
    let end = ctx.calendar.start_of_day(p.end);
    engine_timers::schedule(conn, &NewTimer::new(MID_TIMER, WORKFLOW, p.key(), mid), now).await?;
    engine_timers::schedule(conn, &NewTimer::new(END_TIMER, WORKFLOW, p.key(), end), now).await?;
    Ok(())
}

async fn period_of_timer(conn: &mut PgConnection, t: &Timer) -> Result<Option<Period>> {
    Ok(store::get_period(conn, &t.entity_id)
        .await?
        .map(|r| r.period()))
}

/// Mid-period: remember each line's forecast and re-evaluate its alarms.
pub fn on_mid<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let Some(p) = period_of_timer(conn, t).await? else {
            return Ok(());
        };
        let c = settings(&ctx.config)?;
        let now = ctx.now();
        let mut figures = Vec::new();
        for l in store::lines(conn, &p.key(), None).await? {
            let mut line = store::lock_line(conn, l.id).await?;
            let pace = pacing_of(ctx, &line, &p, now);
            line.mid_forecast_cents = Some(pace.forecast_cents);
            evaluate(ctx, conn, &mut line, &p, None).await?;
            figures.push(model::LineFigures {
                id: line.id,
                budget_cents: line.budget_cents,
                used_cents: line.spent_cents.saturating_add(line.committed_cents),
                forecast_cents: pace.forecast_cents,
                roas: None,
            });
        }
        let elapsed = p.elapsed_days(ctx.calendar.local_date(now));
        let moves = model::propose_moves(
            &figures,
            elapsed,
            p.total_days(),
            c.under_share,
            c.reallocation_max_share,
        );
        if !moves.is_empty() {
            let body: Vec<String> = moves
                .iter()
                .map(|m| {
                    format!(
                        "move {} from line #{} to line #{}: {}",
                        format_cents(m.amount_cents),
                        m.from,
                        m.to,
                        m.reason
                    )
                })
                .collect();
            let n = NewNotification::to_channel(
                &c.channel,
                WORKFLOW,
                format!("period:{}", p.key()),
                format!("Reallocation proposals for {}", p.key()),
            )
            .body(format!(
                "{}\nApply with: vivid budget reallocate FROM TO AMOUNT --reason TEXT",
                body.join("\n")
            ))
            .dedupe(format!("budget:period:{}:proposals", p.key()))
            .payload(serde_json::json!({ "proposals": moves }));
            outbox::enqueue(ctx, conn, &n).await?;
        }
        Ok(())
    })
}

/// Period end: post the period report to Finance (the monthly review).
pub fn on_end<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let Some(p) = period_of_timer(conn, t).await? else {
            return Ok(());
        };
        let c = settings(&ctx.config)?;
        let lines = store::lines(conn, &p.key(), None).await?;
        let budget: i64 = lines.iter().map(|l| l.budget_cents).sum();
        let spent: i64 = lines.iter().map(|l| l.spent_cents).sum();
        let committed: i64 = lines.iter().map(|l| l.committed_cents).sum();
        let over: Vec<String> = lines
            .iter()
            .filter(|l| l.spent_cents > l.budget_cents)
            .map(|l| {
                format!(
                    "{}: {} of {}",
                    l.label(),
                    format_cents(l.spent_cents),
                    format_cents(l.budget_cents)
                )
            })
            .collect();
        let body = format!(
            "Planned {}, spent {} ({} variance), committed {}. {} lines over budget{}\nClose it with: vivid budget close {}",
            format_cents(budget),
            format_cents(spent),
            format_cents(budget.saturating_sub(spent)),
            format_cents(committed),
            over.len(),
            if over.is_empty() {
                ".".to_string()
            } else {
                format!(":\n{}", over.join("\n"))
            },
            p.key()
        );
        let finance = c
            .finance_ref()
            .map_err(|e| Error::internal(e.to_string()))?;
        for person in ctx.org.with_role(&finance) {
            let n = NewNotification::to_person(
                &person.handle,
                WORKFLOW,
                format!("period:{}", p.key()),
                format!("Budget report for {}", p.key()),
            )
            .body(body.clone())
            .dedupe(format!(
                "budget:period:{}:report:{}",
                p.key(),
                person.handle
            ));
            outbox::enqueue(ctx, conn, &n).await?;
        }
        let n = NewNotification::to_channel(
            &c.channel,
            WORKFLOW,
            format!("period:{}", p.key()),
            format!("Budget report for {}", p.key()),
        )
        .body(body)
        .dedupe(format!("budget:period:{}:report", p.key()));
        outbox::enqueue(ctx, conn, &n).await?;
        hand_roi_to_finance(ctx, conn, &p).await
    })
}

/// The origin's loop ROI Analysis → Budget Optimization crosses departments:
/// each campaign's ROI proposal goes to Finance as a Budget & ROI hand-off
/// (Marketing → Finance), in the period's story, when that kind exists.
async fn hand_roi_to_finance(ctx: &Ctx, conn: &mut PgConnection, p: &Period) -> Result<()> {
    const KIND: &str = "budget_roi";
    if crate::collab::service::kind(ctx, KIND).is_err() {
        return Ok(());
    }
    let view = super::read::roi_in(ctx, conn, p).await?;
    for prop in view.proposals {
        let title = format!(
            "ROI {}: {} {} → {} (ROAS {:.2})",
            prop.campaign,
            p.key(),
            format_cents(prop.current_cents),
            format_cents(prop.proposed_cents),
            prop.roas
        );
        let open = crate::collab::Open::new(KIND, title)
            .field("campaign", prop.campaign.as_str())
            .field("period", p.key())
            .field("spend", prop.spend_cents)
            .field("revenue", prop.revenue_cents)
            .field("roi", prop.roas)
            .from_workflow(
                WORKFLOW,
                format!("period:{}", p.key()),
                Some(format!("budget:period:{}", p.key())),
            );
        crate::collab::open(ctx, conn, &open, "engine").await?;
    }
    Ok(())
}
