//! Read models of vendor management for the front ends: each answers a
//! screen in a bounded number of queries.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::model;
use super::store::{self, Plan};
use crate::engine::Ctx;
use crate::error::Result;
use crate::status::WorkflowStatus;

/// The vendor tile: vendors in service, open plans, renewals due, spend.
pub async fn tile(ctx: &Ctx, conn: &mut PgConnection) -> Result<WorkflowStatus> {
    let (serving, open_plans, met, ended, standings) = store::tile_counts(conn).await?;
    let window = super::config::settings(&ctx.config)?
        .contract
        .due_window
        .delta();
    let due = store::renewals_due(conn, ctx.calendar.local_date(ctx.now() + window))
        .await?
        .len();
    let spend = store::spend_under_contract(conn).await?;
    let mut kpis = vec![
        ("in service".into(), serving.to_string()),
        ("renewals 90d".into(), due.to_string()),
        ("spend/mo".into(), model::money(spend)),
        ("plans met/ended".into(), format!("{met}/{ended}")),
    ];
    for (s, n) in standings {
        kpis.push((s, n.to_string()));
    }
    Ok(WorkflowStatus {
        name: super::WORKFLOW.into(),
        open: open_plans,
        breaches: open_plans,
        kpis,
        trend: Vec::new(),
    })
}

/// One vendor row of the control room.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub vendor: store::Vendor,
    /// Scored periods, oldest first: (period, on-time rate, OTIF rate).
    pub otd: Vec<f64>,
    pub otif: Vec<f64>,
    pub last_period_score: Option<f64>,
}

/// A renewal coming up.
#[derive(Debug, Clone, Serialize)]
pub struct Renewal {
    pub vendor: String,
    pub contract_id: i64,
    pub notice_date: NaiveDate,
    pub end_date: NaiveDate,
    pub auto_renew: bool,
    pub days_left: i64,
}

/// An open improvement plan with its clock.
#[derive(Debug, Clone, Serialize)]
pub struct OpenPlan {
    pub vendor: String,
    pub plan_id: i64,
    /// open, or deciding (missed, waiting for extend or end).
    pub status: String,
    pub owner: String,
    pub period: String,
    pub period_score: Option<f64>,
    pub deadline: DateTime<Utc>,
    pub seconds_left: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Board {
    pub rows: Vec<Row>,
    pub renewals: Vec<Renewal>,
    pub plans: Vec<OpenPlan>,
    pub at: DateTime<Utc>,
}

/// The Vendors screen: standings with OTD / OTIF sparklines, renewals due
/// and open plans with their clocks (four queries).
pub async fn board(ctx: &Ctx, conn: &mut PgConnection) -> Result<Board> {
    let now = ctx.now();
    let vendors = store::list_vendors(conn, None, 500).await?;
    let ids: Vec<i64> = vendors.iter().map(|v| v.id).collect();
    let names: std::collections::HashMap<i64, String> =
        vendors.iter().map(|v| (v.id, v.name.clone())).collect();
    let cards = store::recent_scorecards(conn, &ids, 12).await?;
    let rows = vendors
        .into_iter()
        .map(|v| {
            let mine: Vec<&store::ScorecardRow> =
                cards.iter().filter(|c| c.vendor_id == v.id).collect();
            let series = |k: &str| -> Vec<f64> {
                mine.iter()
                    .filter_map(|c| c.kpis.0.get(k).and_then(|x| x.as_f64()))
                    .collect()
            };
            Row {
                otd: series("on_time_rate"),
                otif: series("otif_rate"),
                last_period_score: mine.iter().rev().find_map(|c| c.period_score),
                vendor: v,
            }
        })
        .collect();
    let window = super::config::settings(&ctx.config)?
        .contract
        .due_window
        .delta();
    let today = ctx.calendar.local_date(now);
    let renewals = store::renewals_due(conn, ctx.calendar.local_date(now + window))
        .await?
        .into_iter()
        .map(|(c, vendor)| Renewal {
            vendor,
            contract_id: c.id,
            notice_date: c.notice_date,
            end_date: c.end_date,
            auto_renew: c.auto_renew,
            days_left: (c.notice_date - today).num_days(),
        })
        .collect();
    let plans: Vec<Plan> = store::plans(conn, None, 200)
        .await?
        .into_iter()
        .filter(|p| p.status == "open" || p.status == "deciding")
        .collect();
    let plans = plans
        .into_iter()
        .map(|p| OpenPlan {
            vendor: names.get(&p.vendor_id).cloned().unwrap_or_default(),
            plan_id: p.id,
            status: p.status,
            owner: p.owner,
            period: p.period,
            period_score: p.period_score,
            deadline: p.deadline,
            seconds_left: (p.deadline - now).num_seconds(),
        })
        .collect();
    Ok(Board {
        rows,
        renewals,
        plans,
        at: now,
    })
}
