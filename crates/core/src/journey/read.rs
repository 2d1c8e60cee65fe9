//! Read models of the customer journey for the front ends: each answers a
//! screen in a bounded number of queries (its SQL in `store.rs`).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::WORKFLOW;
use super::model::{self, LeadStatus};
use super::service::LEAD_HANDOFF;
use super::store::{self, Prospect};
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

/// The content to send next: an approved, live item for the prospect's
/// stage and segment (targeted items first, then the stage's configured
/// kind, best click-through first); never `None` while any item is live.
pub async fn next_content(ctx: &Ctx, p: &Prospect) -> Result<Option<(i64, String)>> {
    let mut conn = ctx.pool.acquire().await?;
    next_content_in(ctx, &mut conn, p).await
}

pub async fn next_content_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    p: &Prospect,
) -> Result<Option<(i64, String)>> {
    let kind = super::config::settings(&ctx.config)?
        .content_by_stage
        .get(&p.stage)
        .map(String::as_str);
    store::best_content(conn, kind, &p.stage, &p.segment).await
}

pub use super::store::{QueuedLead, TouchRow};

/// The leads waiting on Sales: handed off, not yet accepted or contacted,
/// soonest due (and longest waiting) first; one query whatever the length
/// (at most `limit`, 1 to 500).
pub async fn lead_queue(ctx: &Ctx, limit: i64) -> Result<Vec<QueuedLead>> {
    leads(ctx, &[LeadStatus::HandedOff], None, limit).await
}

/// Leads in these statuses (every status with Sales when empty: handed
/// off, accepted, contacted), of one owner when given; soonest due first.
pub async fn leads(
    ctx: &Ctx,
    statuses: &[LeadStatus],
    owner: Option<&str>,
    limit: i64,
) -> Result<Vec<QueuedLead>> {
    let with_sales = [
        LeadStatus::HandedOff,
        LeadStatus::Accepted,
        LeadStatus::Contacted,
    ];
    let statuses = if statuses.is_empty() {
        &with_sales[..]
    } else {
        statuses
    };
    let mut conn = ctx.pool.acquire().await?;
    store::leads(
        &mut conn,
        WORKFLOW,
        LEAD_HANDOFF,
        statuses,
        owner,
        limit.clamp(1, 500),
    )
    .await
}

/// Why a lead is worth Sales' time: engagement by touch kind (decay
/// applied), fit by attribute, the last touches, where it came from, and
/// the content to send next.
#[derive(Debug, Clone, Serialize)]
pub struct Brief {
    /// The engagement score now (decayed to now).
    pub engagement: f64,
    pub breakdown: Vec<model::KindPoints>,
    pub fit: f64,
    pub fit_breakdown: Vec<model::FitPart>,
    pub order_history_cents: i64,
    /// The hand-off rule that matches now, in words (None: it does not).
    pub qualifies: Option<String>,
    /// Newest first.
    pub timeline: Vec<TouchRow>,
    pub source_channel: String,
    pub campaign: Option<String>,
    pub segment: String,
    pub region: Option<String>,
    pub next_content: Option<(i64, String)>,
}

impl Brief {
    /// "clicked 2× 75 → 62", one line per touch kind.
    pub fn breakdown_lines(&self) -> Vec<String> {
        self.breakdown
            .iter()
            .map(|k| {
                format!(
                    "{} {}× {:+} pts, {:.1} after decay",
                    k.kind, k.touches, k.points, k.decayed
                )
            })
            .collect()
    }

    pub fn fit_lines(&self) -> Vec<String> {
        self.fit_breakdown
            .iter()
            .map(|f| format!("{} {:+.0}", f.attribute, f.points))
            .collect()
    }

    /// One line per touch for a given time formatter.
    pub fn timeline_lines(&self, fmt: &dyn Fn(DateTime<Utc>) -> String) -> Vec<String> {
        self.timeline
            .iter()
            .map(|t| {
                let campaign = t
                    .campaign
                    .as_ref()
                    .map(|c| format!(" · campaign {c}"))
                    .unwrap_or_default();
                let content = t
                    .content_id
                    .map(|c| format!(" · content #{c}"))
                    .unwrap_or_default();
                format!(
                    "{} {} {} {:+}{campaign}{content}",
                    fmt(t.occurred_at),
                    t.channel,
                    t.kind,
                    t.points
                )
            })
            .collect()
    }
}

/// A prospect's brief, read on the caller's connection (four queries).
pub async fn brief_in(ctx: &Ctx, conn: &mut PgConnection, p: &Prospect) -> Result<Brief> {
    let cfg = super::config::settings(&ctx.config)?;
    let now = ctx.now();
    let half_life = cfg.decay_half_life.delta().num_seconds() as f64;
    let all = store::touches(conn, p.id, 10_000).await?;
    // Touches before a recycle no longer count: the score restarted.
    let counted: Vec<model::ScoredTouch<'_>> = all
        .iter()
        .filter(|t| p.recycled_at.is_none_or(|r| t.occurred_at > r))
        .map(|t| (t.kind.as_str(), t.points, t.occurred_at))
        .collect();
    let breakdown = model::breakdown(&counted, now, half_life);
    let engagement = model::decay(p.score, p.score_at, now, half_life);
    let order_history_cents = store::order_total(conn, p.id).await?;
    let (fit, fit_breakdown) = model::fit(cfg, &p.attributes, order_history_cents);
    let next_content = next_content_in(ctx, conn, p).await?;
    let timeline = all.into_iter().take(cfg.timeline_touches.max(1)).collect();
    Ok(Brief {
        engagement,
        breakdown,
        fit,
        fit_breakdown,
        order_history_cents,
        qualifies: model::qualifies(cfg, engagement, fit),
        timeline,
        source_channel: p.first_channel.clone(),
        campaign: p.source_campaign.clone(),
        segment: p.segment.clone(),
        region: p.region.clone(),
        next_content,
    })
}

/// One lead as the front ends show it: the prospect, its lead hand-off,
/// the content to send next, and its brief (`journey lead show`).
#[derive(Debug, Clone, Serialize)]
pub struct Lead {
    pub prospect: Prospect,
    /// The CRM lifecycle name of its status (mql, sql, opportunity, ...).
    pub lifecycle: &'static str,
    pub handoff: Option<handoffs::Handoff>,
    pub next_content: Option<(i64, String)>,
    pub brief: Brief,
}

pub async fn lead(ctx: &Ctx, key: &str) -> Result<Lead> {
    let mut conn = ctx.pool.acquire().await?;
    let prospect = store::get(&mut conn, key.trim()).await?;
    let handoff = handoffs::latest_for(&mut conn, WORKFLOW, &prospect.key, LEAD_HANDOFF).await?;
    let brief = brief_in(ctx, &mut conn, &prospect).await?;
    Ok(Lead {
        lifecycle: prospect.status.lifecycle(),
        next_content: brief.next_content.clone(),
        prospect,
        handoff,
        brief,
    })
}

/// Hand-off quality: of the leads handed to Sales in a window, how many
/// Sales accepted and how many it disqualified.
#[derive(Debug, Clone, Serialize)]
pub struct Quality {
    pub from: DateTime<Utc>,
    pub handed_off: i64,
    pub accepted: i64,
    pub disqualified: i64,
    pub accepted_rate: Option<f64>,
    pub disqualified_rate: Option<f64>,
}

pub async fn quality_on(conn: &mut PgConnection, from: DateTime<Utc>) -> Result<Quality> {
    let (handed_off, accepted, disqualified) = store::handoff_quality(conn, from).await?;
    let rate = |n: i64| (handed_off > 0).then(|| n as f64 / handed_off as f64);
    Ok(Quality {
        from,
        handed_off,
        accepted,
        disqualified,
        accepted_rate: rate(accepted),
        disqualified_rate: rate(disqualified),
    })
}

pub async fn quality(ctx: &Ctx, since: TimeDelta) -> Result<Quality> {
    let mut conn = ctx.pool.acquire().await?;
    quality_on(&mut conn, ctx.now() - since).await
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.0}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// The review's text: the funnel and the hand-off quality.
pub fn review_text(f: &Funnel, q: &Quality) -> String {
    let stages = f
        .stages
        .iter()
        .map(|(s, n, _)| format!("{s} {n}"))
        .collect::<Vec<_>>()
        .join(" · ");
    format!(
        "Prospects {} ({stages}).\nHanded to Sales {}, contacted {}, customers {} (conversion {}).\n\
         Hand-off quality: {} handed off, {} accepted ({}), {} disqualified ({}).\n\
         Lead hand-off SLA met {}.",
        f.prospects,
        f.handed_off,
        f.contacted,
        f.customers,
        pct(f.conversion_rate),
        q.handed_off,
        q.accepted,
        pct(q.accepted_rate),
        q.disqualified,
        pct(q.disqualified_rate),
        pct(f.lead_handoff_sla_compliance),
    )
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
    let mut conn = ctx.pool.acquire().await?;
    funnel_on(ctx, &mut conn, since).await
}

pub async fn funnel_on(ctx: &Ctx, conn: &mut PgConnection, since: TimeDelta) -> Result<Funnel> {
    let now = ctx.now();
    let from = now - since;
    let cfg = super::config::settings(&ctx.config)?;
    let rows = store::funnel_rows(conn, from, now).await?;
    let lead_sla = handoffs::sla_compliance(conn, LEAD_HANDOFF, from, now).await?;
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
