//! Vendor clocks and their handlers (registered by the descriptor):
//! - the monthly review (`vendor.monthly_review`): scores every vendor in
//!   service for the month just ended and posts the scorecards to
//!   Operations and Finance;
//! - a contract's renewal clock (an engine deadline clock, "renewal"): a
//!   reminder `renewal_lead` before the notice date asks the Vendor &
//!   Partner director to renew, renegotiate or end; at the notice date an
//!   auto-renewing contract with no decision renews, and says so;
//! - a contract's start and end (`vendor.contract_start`, `.contract_end`);
//! - an improvement plan's deadline clock ("plan"): a reminder, the re-score
//!   at the deadline, and an escalation when a missed plan stays undecided.

use chrono::{NaiveDate, NaiveTime, TimeDelta};
use sqlx::PgConnection;

use super::WORKFLOW;
use super::model::{Command, Period};
use super::service::{self, people_in, record, today};
use super::store::{self, Contract, Plan, Vendor};
use crate::engine::Ctx;
use crate::engine::deadlines::{self, Clock, ClockOwner, EscalateAfter, Reached, Reaction, Stage};
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self as engine_timers, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};
use crate::workflow::BoxFuture;

pub const REVIEW_TIMER: &str = "vendor.monthly_review";
pub const START_TIMER: &str = "vendor.contract_start";
pub const END_TIMER: &str = "vendor.contract_end";
pub const RENEWAL_CLOCK: &str = "renewal";
pub const PLAN_CLOCK: &str = "plan";
/// The entity the monthly review hangs on.
pub const REVIEW_ENTITY: &str = "review-cycle";

/// The monthly review fires on the first of each month at 09:00 local.
fn next_review_at(ctx: &Ctx) -> Result<chrono::DateTime<chrono::Utc>> {
    let first = Period::of(today(ctx))
        .next()
        .first_day()
        .ok_or_else(|| Error::internal("no next month"))?;
    let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN);
    Ok(ctx.calendar.at_local(first.and_time(nine)))
}

/// Make sure the monthly review is scheduled (idempotent).
pub async fn ensure_review_cycle(ctx: &Ctx, conn: &mut PgConnection) -> Result<()> {
    let due = next_review_at(ctx)?;
    engine_timers::schedule(
        conn,
        &NewTimer::new(REVIEW_TIMER, WORKFLOW, REVIEW_ENTITY, due),
        ctx.now(),
    )
    .await?;
    Ok(())
}

fn local_midnight(ctx: &Ctx, date: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    ctx.calendar.start_of_day(date)
}

/// The renewal clock: due at the notice date, a reminder `renewal_lead` before.
pub(super) async fn start_renewal_clock(
    ctx: &Ctx,
    conn: &mut PgConnection,
    c: &Contract,
) -> Result<()> {
    let lead = super::config::settings(&ctx.config)?
        .contract
        .renewal_lead
        .delta();
    let due = local_midnight(ctx, c.notice_date);
    deadlines::start(
        ctx,
        conn,
        &Clock::new(WORKFLOW, c.id, RENEWAL_CLOCK, due)
            .remind_at([due - lead])
            .correlation(Some(format!("vendor:{}", c.vendor_id))),
    )
    .await
}

pub(super) async fn stop_renewal_clock(conn: &mut PgConnection, c: &Contract) -> Result<()> {
    deadlines::stop(conn, WORKFLOW, &c.id.to_string(), RENEWAL_CLOCK).await?;
    Ok(())
}

/// Stop everything a contract has pending (renewal clock, start, end).
pub(super) async fn stop_contract_clocks(conn: &mut PgConnection, c: &Contract) -> Result<()> {
    stop_renewal_clock(conn, c).await?;
    engine_timers::cancel(conn, WORKFLOW, &c.id.to_string(), Some(START_TIMER)).await?;
    engine_timers::cancel(conn, WORKFLOW, &c.id.to_string(), Some(END_TIMER)).await?;
    Ok(())
}

pub(super) async fn schedule_start(ctx: &Ctx, conn: &mut PgConnection, c: &Contract) -> Result<()> {
    engine_timers::schedule(
        conn,
        &NewTimer::new(
            START_TIMER,
            WORKFLOW,
            c.id,
            local_midnight(ctx, c.start_date),
        ),
        ctx.now(),
    )
    .await?;
    Ok(())
}

/// The relationship ends the day after the contract's last day.
pub(super) async fn schedule_end(ctx: &Ctx, conn: &mut PgConnection, c: &Contract) -> Result<()> {
    let day = c.end_date.succ_opt().unwrap_or(c.end_date);
    engine_timers::schedule(
        conn,
        &NewTimer::new(END_TIMER, WORKFLOW, c.id, local_midnight(ctx, day)),
        ctx.now(),
    )
    .await?;
    Ok(())
}

/// The plan's deadline clock, with a reminder and an escalation.
pub(super) async fn start_plan_clock(
    ctx: &Ctx,
    conn: &mut PgConnection,
    p: &Plan,
    v: &Vendor,
) -> Result<()> {
    let c = &super::config::settings(&ctx.config)?;
    let escalation = EscalateAfter::new(
        c.plan.escalate_after.delta(),
        c.plan.escalation_policy.clone(),
        format!(
            "{}: improvement plan #{} missed and undecided (extend or end)",
            v.name, p.id
        ),
    )
    .departments(vec![c.owner_department.clone(), "operations".into()]);
    deadlines::start(
        ctx,
        conn,
        &Clock::new(WORKFLOW, p.id, PLAN_CLOCK, p.deadline)
            .remind_at([p.deadline - c.plan.remind_before.delta()])
            .escalate(escalation)
            .correlation(Some(format!("vendor:{}", v.id))),
    )
    .await
}

pub(super) async fn stop_plan_clock(conn: &mut PgConnection, p: &Plan) -> Result<()> {
    deadlines::stop(conn, WORKFLOW, &p.id.to_string(), PLAN_CLOCK).await?;
    Ok(())
}

/// The owner of vendor deadline clocks.
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
                .map_err(|_| Error::internal(format!("vendor clock on {:?}", r.entity_id)))?;
            match r.clock {
                RENEWAL_CLOCK => renewal_reached(ctx, conn, id, r.stage).await,
                PLAN_CLOCK => plan_reached(ctx, conn, id, r.stage).await,
                other => Err(Error::internal(format!("unknown vendor clock {other:?}"))),
            }
        })
    }
}

/// "end" when the vendor stands poorly (a standing with an action), else "renew".
fn proposed_decision(ctx: &Ctx, v: &Vendor) -> Result<&'static str> {
    let c = super::config::settings(&ctx.config)?;
    let poor = v
        .standing
        .as_deref()
        .and_then(|s| c.scorecard.standings.iter().find(|r| r.name == s))
        .is_some_and(|r| r.action != "none");
    Ok(if poor { "end" } else { "renew" })
}

async fn renewal_reached(
    ctx: &Ctx,
    conn: &mut PgConnection,
    contract_id: i64,
    stage: Stage,
) -> Result<Reaction> {
    let mut c = store::contract(conn, contract_id).await?;
    if c.status != "active" || c.decision.is_some() {
        return Ok(Reaction::Stale);
    }
    let v = store::vendor_by_id(conn, c.vendor_id, true).await?;
    let cfg = super::config::settings(&ctx.config)?;
    let director = ctx
        .org
        .director_of(&cfg.owner_department)
        .map(|p| p.handle.clone());
    match stage {
        Stage::Reminder => {
            let proposed = proposed_decision(ctx, &v)?;
            let Some(director) = director else {
                return Ok(Reaction::notified(Vec::new()));
            };
            let n = NewNotification::to_person(
                &director,
                WORKFLOW,
                v.id,
                format!("Renewal decision: {} (notice date {})", v.name, c.notice_date),
            )
            .body(format!(
                "Contract #{} ends {}; notice is due by {}. Renew, renegotiate or end \
                 (vivid vendor renew|end {:?}). Proposed: {proposed}{}.{}",
                c.id,
                c.end_date,
                c.notice_date,
                v.name,
                match &v.standing {
                    Some(s) => format!(" (standing {s})"),
                    None => String::new(),
                },
                if c.auto_renew {
                    " It renews on its own at the notice date if nobody decides."
                } else {
                    ""
                }
            ))
            .dedupe(format!("vendor:contract:{}:renewal", c.id))
            .payload(serde_json::json!({ "vendor_id": v.id, "contract_id": c.id, "kind": "vendor_renewal", "proposed": proposed }));
            outbox::enqueue(ctx, conn, &n).await?;
            Ok(Reaction::notified(vec![director]))
        }
        Stage::Breach => {
            if c.auto_renew {
                let reason = format!(
                    "no decision by the notice date {}: the contract auto-renews",
                    c.notice_date
                );
                let change = service::renew_in(ctx, conn, v, "engine", Some(reason.clone())).await;
                match change {
                    Ok(change) => {
                        if let Some(d) = director {
                            let n = NewNotification::to_person(
                                &d,
                                WORKFLOW,
                                change.vendor.id,
                                format!("{} auto-renewed", change.vendor.name),
                            )
                            .body(reason)
                            .payload(serde_json::json!({ "vendor_id": change.vendor.id, "contract_id": c.id, "kind": "vendor_auto_renewed" }));
                            outbox::enqueue(ctx, conn, &n).await?;
                        }
                        Ok(Reaction::Recorded)
                    }
                    // The vendor cannot renew from its state (e.g. ended by hand).
                    Err(e) if e.is_user_error() => Ok(Reaction::Stale),
                    Err(e) => Err(e),
                }
            } else {
                let now = ctx.now();
                c.status = "ending".into();
                c.decision = Some("lapse".into());
                c.updated_at = now;
                store::save_contract(conn, &c).await?;
                schedule_end(ctx, conn, &c).await?;
                record(
                    ctx,
                    conn,
                    &v,
                    "notice_date_passed",
                    "engine",
                    Some(v.state),
                    Some(format!(
                        "no renewal decided by {}: the contract ends {}",
                        c.notice_date, c.end_date
                    )),
                    serde_json::json!({ "contract_id": c.id }),
                )
                .await?;
                Ok(Reaction::Recorded)
            }
        }
        Stage::Escalation => Ok(Reaction::Stale),
    }
}

async fn plan_reached(
    ctx: &Ctx,
    conn: &mut PgConnection,
    plan_id: i64,
    stage: Stage,
) -> Result<Reaction> {
    let plan = store::plan(conn, plan_id).await?;
    match stage {
        Stage::Reminder => {
            if plan.status != "open" {
                return Ok(Reaction::Stale);
            }
            let n = NewNotification::to_person(
                &plan.owner,
                WORKFLOW,
                plan.vendor_id,
                format!("Improvement plan #{} is due soon", plan.id),
            )
            .body(format!(
                "Re-score by {}: the latest review after {} decides it.",
                ctx.calendar.format_local(plan.deadline),
                plan.period
            ))
            .payload(serde_json::json!({ "plan_id": plan.id, "kind": "vendor_plan_reminder" }));
            outbox::enqueue(ctx, conn, &n).await?;
            Ok(Reaction::notified(vec![plan.owner.clone()]))
        }
        Stage::Breach => Ok(if service::plan_deadline(ctx, conn, plan_id).await? {
            Reaction::Recorded
        } else {
            Reaction::Stale
        }),
        Stage::Escalation => {
            if plan.status != "deciding" {
                return Ok(Reaction::Stale);
            }
            let cfg = super::config::settings(&ctx.config)?;
            Ok(Reaction::notified(people_in(
                ctx,
                "vendor.plan.deciders",
                &cfg.plan.deciders,
            )?))
        }
    }
}

fn contract_id(t: &Timer) -> Result<i64> {
    t.entity_id
        .parse()
        .map_err(|_| Error::internal(format!("vendor timer {} has no contract id", t.id)))
}

/// A contract's start date: the vendor's service begins.
pub fn on_start<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let c = store::contract(conn, contract_id(t)?).await?;
        if c.status != "active" {
            return Ok(());
        }
        let mut v = store::vendor_by_id(conn, c.vendor_id, true).await?;
        let from = v.state;
        let Ok(to) = super::model::decide(from, Command::Start) else {
            return Ok(());
        };
        if to != from {
            v.state = to;
            v.updated_at = ctx.now();
            store::save_vendor(conn, &v).await?;
            record(
                ctx,
                conn,
                &v,
                "started",
                "engine",
                Some(from),
                Some(format!("contract #{} starts {}", c.id, c.start_date)),
                serde_json::json!({ "contract_id": c.id }),
            )
            .await?;
        }
        Ok(())
    })
}

/// A contract that was not renewed reached its end.
pub fn on_end<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let c = store::contract(conn, contract_id(t)?).await?;
        if c.status != "ending" {
            return Ok(());
        }
        let v = store::vendor_by_id(conn, c.vendor_id, true).await?;
        let reason = format!("contract #{} ended {}", c.id, c.end_date);
        match service::end_in(ctx, conn, v, "engine", &reason, true).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_user_error() => Ok(()),
            Err(e) => Err(e),
        }
    })
}

/// The monthly review: score every vendor in service for last month and
/// post the scorecards to Operations and Finance.
pub fn on_review<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, _t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let period = Period::of(today(ctx)).prev();
        let vendors = store::serving_vendors(conn).await?;
        let mut lines = Vec::new();
        for v in vendors {
            // A person reviewed it already (with the judged criteria).
            if store::has_scorecard(conn, v.id, &period.to_string()).await? {
                continue;
            }
            let name = v.name.clone();
            let card =
                service::review_in(ctx, conn, v, period, &Default::default(), "engine").await?;
            lines.push(format!(
                "{name}: {} (overall {}, {})",
                card.period_score
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or_else(|| "no deliveries".into()),
                card.overall_score
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or_else(|| "-".into()),
                card.standing.as_deref().unwrap_or("unscored"),
            ));
        }
        let cfg = super::config::settings(&ctx.config)?;
        if !lines.is_empty() {
            for who in people_in(ctx, "vendor.notify", &cfg.notify)? {
                let n = NewNotification::to_person(
                    &who,
                    WORKFLOW,
                    REVIEW_ENTITY,
                    format!("Vendor scorecards for {period}"),
                )
                .body(lines.join("\n"))
                .dedupe(format!("vendor:review:{period}:{who}"))
                .payload(serde_json::json!({ "period": period, "kind": "vendor_scorecards" }));
                outbox::enqueue(ctx, conn, &n).await?;
            }
        }
        let due = next_review_at(ctx)?;
        // Never schedule the next cycle in the past (a late engine).
        let due = due.max(ctx.now() + TimeDelta::minutes(1));
        engine_timers::schedule(
            conn,
            &NewTimer::new(REVIEW_TIMER, WORKFLOW, REVIEW_ENTITY, due),
            ctx.now(),
        )
        .await?;
        Ok(())
    })
}
