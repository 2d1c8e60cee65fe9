//! Read models of the customer journey for the front ends: each answers a
//! screen in a bounded number of queries (its SQL in `store.rs`).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::service::LEAD_HANDOFF;
use super::store::{self, Prospect};
use super::{WORKFLOW, model};
use crate::engine::Ctx;
use crate::engine::handoffs;
use crate::error::Result;
use crate::status::WorkflowStatus;

/// The journey tile: leads waiting on Sales and open support tickets, those
/// past their SLA, and the last 30 days' hand-offs and new customers.
pub async fn tile(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<WorkflowStatus> {
    let (leads_open, leads_late, tickets_open, tickets_late, handed_30d, orders_30d) =
        store::tile_counts(conn, WORKFLOW, now).await?;
    Ok(WorkflowStatus {
        name: WORKFLOW.into(),
        open: leads_open + tickets_open,
        breaches: leads_late + tickets_late,
        kpis: vec![
            ("leads with Sales".into(), leads_open.to_string()),
            ("open tickets".into(), tickets_open.to_string()),
            ("hand-offs 30d".into(), handed_30d.to_string()),
            ("orders 30d".into(), orders_30d.to_string()),
        ],
        trend: Vec::new(),
    })
}

/// The published content item to send next: the configured kind for the
/// prospect's stage, best click-through first.
pub async fn next_content(ctx: &Ctx, p: &Prospect) -> Result<Option<(i64, String)>> {
    let Some(kind) = super::config::settings(&ctx.config)?
        .content_by_stage
        .get(&p.stage)
    else {
        return Ok(None);
    };
    let mut conn = ctx.pool.acquire().await?;
    store::best_content(&mut conn, kind).await
}

pub use super::store::QueuedLead;

/// The leads waiting on Sales: handed off, not contacted, soonest due (and
/// longest waiting) first; one query whatever the length (at most `limit`,
/// 1 to 500).
pub async fn lead_queue(ctx: &Ctx, limit: i64) -> Result<Vec<QueuedLead>> {
    let mut conn = ctx.pool.acquire().await?;
    store::lead_queue(&mut conn, WORKFLOW, LEAD_HANDOFF, limit.clamp(1, 500)).await
}

/// One lead as the front ends show it: the prospect, its lead hand-off, and
/// the content to send next.
#[derive(Debug, Clone, Serialize)]
pub struct Lead {
    pub prospect: Prospect,
    pub handoff: Option<handoffs::Handoff>,
    pub next_content: Option<(i64, String)>,
}

pub async fn lead(ctx: &Ctx, key: &str) -> Result<Lead> {
    let mut conn = ctx.pool.acquire().await?;
    let prospect = store::get(&mut conn, key.trim()).await?;
    let handoff = handoffs::latest_for(&mut conn, WORKFLOW, &prospect.key, LEAD_HANDOFF).await?;
    drop(conn);
    let next_content = next_content(ctx, &prospect).await?;
    Ok(Lead {
        prospect,
        handoff,
        next_content,
    })
}

/// Funnel KPIs over a period.
#[derive(Debug, Clone, Serialize)]
pub struct Funnel {
    pub from: DateTime<Utc>,
    pub prospects: i64,
    /// (stage, prospects at or beyond it, share of all)
    pub stages: Vec<(String, i64, f64)>,
    pub handed_off: i64,
    pub contacted: i64,
    pub customers: i64,
    pub conversion_rate: Option<f64>,
    pub mean_time_to_first_contact_secs: Option<i64>,
    pub lead_handoff_sla_compliance: Option<f64>,
    pub support_sla_compliance: Option<f64>,
    pub nps: Option<f64>,
    pub csat: Option<f64>,
    pub referral_rate: Option<f64>,
    /// (channel, revenue by first touch, revenue by last touch), cents.
    pub revenue_by_channel: Vec<(String, i64, i64)>,
}

pub async fn funnel(ctx: &Ctx, since: TimeDelta) -> Result<Funnel> {
    let now = ctx.now();
    let from = now - since;
    let cfg = super::config::settings(&ctx.config)?;
    let mut conn = ctx.pool.acquire().await?;
    let rows = store::funnel_rows(&mut conn, from, now).await?;
    let lead_sla = handoffs::sla_compliance(&mut conn, LEAD_HANDOFF, from, now).await?;
    let order = model::stage_order(cfg);
    let total: i64 = rows.by_stage.iter().map(|(_, n)| n).sum();
    let mut stages = Vec::new();
    for (i, s) in order.iter().enumerate() {
        let at_or_beyond: i64 = rows
            .by_stage
            .iter()
            .filter(|(st, _)| order.iter().position(|o| o == st).is_some_and(|p| p >= i))
            .map(|(_, n)| n)
            .sum();
        stages.push((
            s.clone(),
            at_or_beyond,
            if total > 0 {
                at_or_beyond as f64 / total as f64
            } else {
                0.0
            },
        ));
    }
    let revenue = |list: &[(String, i64)], c: &str| {
        list.iter()
            .find(|(k, _)| k == c)
            .map(|(_, v)| *v)
            .unwrap_or(0)
    };
    let revenue_by_channel = cfg
        .channels
        .iter()
        .map(|c| {
            (
                c.clone(),
                revenue(&rows.revenue_first, c),
                revenue(&rows.revenue_last, c),
            )
        })
        .filter(|(_, f, l)| *f > 0 || *l > 0)
        .collect();
    let customers = rows.customers;
    Ok(Funnel {
        from,
        prospects: total,
        stages,
        handed_off: rows.handed_off,
        contacted: rows.contacted,
        customers,
        conversion_rate: (total > 0).then(|| customers as f64 / total as f64),
        mean_time_to_first_contact_secs: rows
            .mean_time_to_first_contact_secs
            .map(|s| s.round() as i64),
        lead_handoff_sla_compliance: lead_sla,
        support_sla_compliance: (rows.tickets_due > 0)
            .then(|| rows.tickets_met as f64 / rows.tickets_due as f64),
        nps: (rows.nps_answers > 0)
            .then(|| (rows.promoters - rows.detractors) as f64 * 100.0 / rows.nps_answers as f64),
        csat: rows.csat,
        referral_rate: (customers > 0).then(|| rows.referrers as f64 / customers as f64),
        revenue_by_channel,
    })
}
