//! Read models for the front ends: line status with pacing and alarms as
//! of any instant, ROI proposals, pending decisions, the period report and
//! the status tile. Each answers in a bounded number of queries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::WORKFLOW;
use super::config::settings;
use super::model::{self, Alarm, Period, format_cents};
use super::service::{pacing_of, period_of};
use super::store::{self, Line};
use crate::engine::Ctx;
use crate::engine::approvals;
use crate::error::Result;
use crate::status::WorkflowStatus;

#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub basis: model::Basis,
    pub threshold: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineStatus {
    pub id: i64,
    pub department: String,
    /// None for a department-wide line.
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub budget_cents: i64,
    pub spent_cents: i64,
    pub committed_cents: i64,
    pub expected_to_date_cents: i64,
    pub forecast_cents: i64,
    pub utilization: f64,
    pub forecast_utilization: f64,
    /// Alarms in ALARM at `at`.
    pub alerts: Vec<AlertView>,
    pub hard: bool,
    pub paused: bool,
    pub rollover: model::Rollover,
    /// A change waiting for approval.
    pub pending_cents: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub period: String,
    pub state: String,
    pub at: DateTime<Utc>,
    pub elapsed_days: i64,
    pub total_days: i64,
    pub lines: Vec<LineStatus>,
    /// Reallocation proposals (from mid-period).
    pub proposals: Vec<model::Move>,
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

pub fn line_status(ctx: &Ctx, c: &[f64], l: &Line, p: &Period, at: DateTime<Utc>) -> LineStatus {
    let pace = pacing_of(ctx, l, p, at);
    let alarms: Vec<Alarm> = model::alarms(&pace, c);
    LineStatus {
        id: l.id,
        department: l.department.clone(),
        channel: opt(&l.channel),
        campaign: opt(&l.campaign),
        budget_cents: l.budget_cents,
        spent_cents: l.spent_cents,
        committed_cents: l.committed_cents,
        expected_to_date_cents: pace.expected_to_date_cents,
        forecast_cents: pace.forecast_cents,
        utilization: finite(pace.utilization),
        forecast_utilization: finite(pace.forecast_utilization),
        alerts: alarms
            .iter()
            .map(|a| AlertView {
                basis: a.basis,
                threshold: a.threshold,
            })
            .collect(),
        hard: l.hard,
        paused: l.paused,
        rollover: l.rollover,
        pending_cents: l.pending_cents,
    }
}

/// JSON has no infinity: a line with no budget and some spend shows 999.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 999.0 }
}

/// Every line of a period (of one department) as of `at` (default now):
/// two queries however many lines there are.
pub async fn status(
    ctx: &Ctx,
    department: Option<&str>,
    period: Option<&str>,
    at: Option<DateTime<Utc>>,
) -> Result<StatusView> {
    let c = settings(&ctx.config)?;
    let at = at.unwrap_or_else(|| ctx.now());
    let p = match period {
        Some(k) => period_of(ctx, Some(k))?,
        None => Period::containing(c.period, ctx.calendar.local_date(at)),
    };
    let mut conn = ctx.pool.acquire().await?;
    let row = store::get_period(&mut conn, &p.key()).await?;
    let lines = store::lines(&mut conn, &p.key(), department).await?;
    let today = ctx.calendar.local_date(at);
    let elapsed = p.elapsed_days(today);
    let views: Vec<LineStatus> = lines
        .iter()
        .map(|l| line_status(ctx, &c.thresholds, l, &p, at))
        .collect();
    let figures: Vec<model::LineFigures> = views
        .iter()
        .map(|v| model::LineFigures {
            id: v.id,
            budget_cents: v.budget_cents,
            used_cents: v.spent_cents.saturating_add(v.committed_cents),
            forecast_cents: v.forecast_cents,
            roas: None,
        })
        .collect();
    let proposals = model::propose_moves(
        &figures,
        elapsed,
        p.total_days(),
        c.under_share,
        c.reallocation_max_share,
    );
    Ok(StatusView {
        period: p.key(),
        state: row
            .map(|r| r.state.as_str().to_string())
            .unwrap_or_else(|| "not opened".into()),
        at,
        elapsed_days: elapsed,
        total_days: p.total_days(),
        lines: views,
        proposals,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RoiProposal {
    pub campaign: String,
    pub spend_cents: i64,
    pub revenue_cents: i64,
    pub roas: f64,
    pub action: model::RoiAction,
    pub current_cents: i64,
    pub proposed_cents: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoiView {
    pub period: String,
    pub proposals: Vec<RoiProposal>,
    /// Campaigns with spend below the minimum (no proposal).
    pub below_minimum: Vec<String>,
}

/// ROI per campaign over the period, and the origin's rule as proposals
/// (never silent edits).
pub async fn roi(ctx: &Ctx, period: Option<&str>) -> Result<RoiView> {
    let p = period_of(ctx, period)?;
    let mut conn = ctx.pool.acquire().await?;
    roi_in(ctx, &mut conn, &p).await
}

/// [`roi`] on the caller's connection (the period-end timer).
pub async fn roi_in(ctx: &Ctx, conn: &mut sqlx::PgConnection, p: &Period) -> Result<RoiView> {
    let c = settings(&ctx.config)?;
    let rows = store::campaign_roi(conn, p.start, p.end).await?;
    let lines = store::lines(conn, &p.key(), None).await?;
    let mut proposals = Vec::new();
    let mut below = Vec::new();
    for (campaign, spend, revenue) in rows {
        let current = lines
            .iter()
            .filter(|l| l.campaign == campaign)
            .map(|l| l.budget_cents)
            .sum::<i64>();
        match model::roi_action(spend, revenue, current, c.roi_min_spend_cents) {
            Some((action, proposed)) => proposals.push(RoiProposal {
                campaign,
                spend_cents: spend,
                revenue_cents: revenue,
                roas: model::roas(spend, revenue),
                action,
                current_cents: current,
                proposed_cents: proposed,
            }),
            None => below.push(campaign),
        }
    }
    Ok(RoiView {
        period: p.key(),
        proposals,
        below_minimum: below,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    /// The approval to decide (`vivid budget decide ID`).
    pub approval_id: i64,
    /// review, request, line or realloc.
    pub kind: String,
    pub subject_id: i64,
    pub title: String,
    pub status: String,
    pub requested_by: String,
    pub deadline: DateTime<Utc>,
    pub eligible_roles: Vec<String>,
    /// For spend reviews: spend, forecast, top expenses.
    pub inputs: Option<serde_json::Value>,
}

/// Budget decisions waiting: spend reviews (also escalated ones), spend
/// requests, line changes and reallocations; soonest deadline first.
pub async fn pending(ctx: &Ctx) -> Result<Vec<Pending>> {
    let mut conn = ctx.pool.acquire().await?;
    let open = approvals::open_requests(&mut conn, None).await?;
    let reviews = store::reviews(&mut conn, true, 200).await?;
    let mut out: Vec<Pending> = Vec::new();
    for o in open.into_iter().filter(|o| o.request.workflow == WORKFLOW) {
        let r = o.request;
        let Some((kind, id)) = r
            .entity_id
            .split_once(':')
            .and_then(|(k, i)| i.parse::<i64>().ok().map(|i| (k.to_string(), i)))
        else {
            continue;
        };
        let inputs = reviews
            .iter()
            .find(|x| kind == "review" && x.id == id)
            .map(|x| x.inputs.clone());
        out.push(Pending {
            approval_id: r.id,
            kind,
            subject_id: id,
            status: r.display_status().to_string(),
            title: r.title,
            requested_by: r.requested_by,
            deadline: r.deadline,
            eligible_roles: r.eligible_roles,
            inputs,
        });
    }
    // Escalated reviews are no longer "open" approvals but still wait.
    for rv in &reviews {
        if let Some(aid) = rv.approval_id
            && !out.iter().any(|p| p.approval_id == aid)
        {
            let req = approvals::get(&mut conn, aid).await?;
            out.push(Pending {
                approval_id: aid,
                kind: "review".into(),
                subject_id: rv.id,
                status: req.display_status().to_string(),
                title: req.title,
                requested_by: req.requested_by,
                deadline: rv.deadline,
                eligible_roles: req.eligible_roles,
                inputs: Some(rv.inputs.clone()),
            });
        }
    }
    out.sort_by_key(|p| (p.deadline, p.approval_id));
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentKpi {
    pub department: String,
    pub budget_cents: i64,
    pub spent_cents: i64,
    pub committed_cents: i64,
    pub forecast_cents: i64,
    /// plan − actual.
    pub variance_cents: i64,
    pub utilization: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub period: String,
    pub departments: Vec<DepartmentKpi>,
    pub channels: Vec<DepartmentKpi>,
    /// Mean |mid-period forecast − actual| / actual over lines with both.
    pub forecast_error: Option<f64>,
    /// Revenue / spend per channel, from campaign figures.
    pub roas_by_channel: Vec<(String, f64)>,
    pub reviews_open: i64,
    pub reviews_decided: i64,
    pub mean_hours_to_decide: Option<f64>,
    pub roi: Vec<RoiProposal>,
}

/// The period report: utilization and variance per department and channel,
/// forecast accuracy, ROAS per channel, spend reviews and time to decide.
pub async fn report(ctx: &Ctx, period: Option<&str>) -> Result<Report> {
    let st = status(ctx, None, period, None).await?;
    let roi = roi(ctx, Some(&st.period)).await?;
    let mut conn = ctx.pool.acquire().await?;
    let lines = store::lines(&mut conn, &st.period, None).await?;
    let (open, decided, hours) = store::review_counts(&mut conn).await?;
    let mut departments: Vec<DepartmentKpi> = Vec::new();
    let mut channels: Vec<DepartmentKpi> = Vec::new();
    let add = |v: &mut Vec<DepartmentKpi>, key: &str, l: &LineStatus| {
        let i = match v.iter().position(|d| d.department == key) {
            Some(i) => i,
            None => {
                v.push(DepartmentKpi {
                    department: key.to_string(),
                    budget_cents: 0,
                    spent_cents: 0,
                    committed_cents: 0,
                    forecast_cents: 0,
                    variance_cents: 0,
                    utilization: 0.0,
                });
                v.len() - 1
            }
        };
        let d = &mut v[i];
        d.budget_cents = d.budget_cents.saturating_add(l.budget_cents);
        d.spent_cents = d.spent_cents.saturating_add(l.spent_cents);
        d.committed_cents = d.committed_cents.saturating_add(l.committed_cents);
        d.forecast_cents = d.forecast_cents.saturating_add(l.forecast_cents);
        d.variance_cents = d.budget_cents.saturating_sub(d.spent_cents);
        d.utilization = if d.budget_cents > 0 {
            (d.spent_cents + d.committed_cents) as f64 / d.budget_cents as f64
        } else {
            0.0
        };
    };
    for l in &st.lines {
        add(&mut departments, &l.department, l);
        if let Some(ch) = &l.channel {
            add(&mut channels, ch, l);
        }
    }
    let errs: Vec<f64> = lines
        .iter()
        .filter_map(|l| {
            let mid = l.mid_forecast_cents?;
            (l.spent_cents > 0).then(|| (mid - l.spent_cents).abs() as f64 / l.spent_cents as f64)
        })
        .collect();
    let forecast_error = (!errs.is_empty()).then(|| errs.iter().sum::<f64>() / errs.len() as f64);
    let mut by_channel: Vec<(String, i64, i64)> = Vec::new();
    for p in &roi.proposals {
        let ch = lines
            .iter()
            .find(|l| l.campaign == p.campaign)
            .map(|l| l.channel.clone())
            .unwrap_or_default();
        match by_channel.iter_mut().find(|x| x.0 == ch) {
            Some(x) => {
                x.1 += p.spend_cents;
                x.2 += p.revenue_cents;
            }
            None => by_channel.push((ch, p.spend_cents, p.revenue_cents)),
        }
    }
    Ok(Report {
        period: st.period,
        departments,
        channels,
        forecast_error,
        roas_by_channel: by_channel
            .into_iter()
            .map(|(c, s, r)| (c, model::roas(s, r)))
            .collect(),
        reviews_open: open,
        reviews_decided: decided,
        mean_hours_to_decide: hours,
        roi: roi.proposals,
    })
}

/// The status tile: open reviews and pending decisions, lines in alarm,
/// utilization of the current period.
pub async fn tile(
    ctx: &Ctx,
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<WorkflowStatus> {
    let c = settings(&ctx.config)?;
    let p = Period::containing(c.period, ctx.calendar.local_date(now));
    let lines = store::lines(conn, &p.key(), None).await?;
    let (open_reviews, _, hours) = store::review_counts(conn).await?;
    let (requests, reallocs) = store::pending_counts(conn).await?;
    let budget: i64 = lines.iter().map(|l| l.budget_cents).sum();
    let used: i64 = lines
        .iter()
        .map(|l| l.spent_cents.saturating_add(l.committed_cents))
        .sum();
    let forecast: i64 = lines
        .iter()
        .map(|l| pacing_of(ctx, l, &p, now).forecast_cents)
        .fold(0i64, |a, b| a.saturating_add(b));
    let in_alarm = lines
        .iter()
        .filter(|l| {
            l.alarms
                .iter()
                .any(|a| a.starts_with("actual:1") || a == "actual:1")
        })
        .count() as i64;
    let mut kpis = vec![
        ("period".to_string(), p.key()),
        ("budget".to_string(), format_cents(budget)),
        (
            "utilization".to_string(),
            if budget > 0 {
                format!("{:.0}%", used as f64 * 100.0 / budget as f64)
            } else {
                "-".into()
            },
        ),
        ("forecast".to_string(), format_cents(forecast)),
        ("reviews open".to_string(), open_reviews.to_string()),
        (
            "requests pending".to_string(),
            (requests + reallocs).to_string(),
        ),
    ];
    if let Some(h) = hours {
        kpis.push(("time to decide".to_string(), format!("{h:.1}h")));
    }
    Ok(WorkflowStatus {
        name: WORKFLOW.into(),
        open: open_reviews + requests + reallocs,
        breaches: in_alarm,
        kpis,
        trend: Vec::new(),
    })
}
