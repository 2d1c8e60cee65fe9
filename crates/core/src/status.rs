//! `vivid status`: every workflow's open items, breaches and KPIs in one
//! read-only report, for people (text) and machines (JSON).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::Ctx;
use crate::error::Result;
use crate::metrics;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub generated_at: DateTime<Utc>,
    pub organisation: String,
    pub engine: EngineStatus,
    pub approvals: ApprovalStatus,
    pub escalations: EscalationStatus,
    pub events: EventStatus,
    pub kpis: Vec<Kpi>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EngineStatus {
    /// Engine processes with a heartbeat in the last minute.
    pub workers: Vec<String>,
    pub timers_pending: i64,
    /// Pending timers already past due by more than a minute (no engine running?).
    pub timers_overdue: i64,
    pub timers_failed: i64,
    pub outbox_pending: i64,
    pub outbox_dead: i64,
    pub outbox_delivered: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApprovalStatus {
    pub pending: i64,
    pub overdue: i64,
    pub escalated: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EscalationStatus {
    pub active: i64,
    pub exhausted: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventStatus {
    pub total: i64,
    pub last_24h: i64,
    pub last_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kpi {
    pub metric: String,
    pub unit: String,
    pub value: f64,
    pub at: DateTime<Utc>,
    /// Recent readings, oldest first (for sparklines).
    pub trend: Vec<f64>,
}

pub async fn collect(ctx: &Ctx) -> Result<Status> {
    let now = ctx.now();
    let mut conn = ctx.pool.acquire().await?;
    let workers: Vec<String> = sqlx::query_scalar(
        "SELECT worker FROM engine_workers WHERE heartbeat_at > $1 - interval '1 minute' ORDER BY worker",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let (timers_pending, timers_overdue, timers_failed): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending'),
                count(*) FILTER (WHERE status = 'pending' AND due_at < $1 - interval '1 minute'),
                count(*) FILTER (WHERE status = 'failed')
         FROM timers",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let (outbox_pending, outbox_dead, outbox_delivered): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead'),
                count(*) FILTER (WHERE status = 'delivered') FROM outbox",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (pending, overdue, escalated): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending'),
                count(*) FILTER (WHERE status = 'pending' AND deadline < $1),
                count(*) FILTER (WHERE status = 'escalated')
         FROM approval_requests",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let (active, exhausted): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'exhausted') FROM escalations",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (total, last_24h, last_id): (i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE occurred_at > $1 - interval '24 hours'), max(id) FROM events",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let mut kpis = Vec::new();
    for reading in metrics::latest(&mut conn).await? {
        let trend = metrics::series(&mut conn, &reading.metric, 24)
            .await?
            .into_iter()
            .map(|r| r.value)
            .collect();
        let unit = metrics::KNOWN
            .iter()
            .find(|(n, _, _)| *n == reading.metric)
            .map(|(_, u, _)| u.to_string())
            .unwrap_or_default();
        kpis.push(Kpi {
            metric: reading.metric,
            unit,
            value: reading.value,
            at: reading.recorded_at,
            trend,
        });
    }
    Ok(Status {
        generated_at: now,
        organisation: ctx.org.name.clone(),
        engine: EngineStatus {
            workers,
            timers_pending,
            timers_overdue,
            timers_failed,
            outbox_pending,
            outbox_dead,
            outbox_delivered,
        },
        approvals: ApprovalStatus {
            pending,
            overdue,
            escalated,
        },
        escalations: EscalationStatus { active, exhausted },
        events: EventStatus {
            total,
            last_24h,
            last_id,
        },
        kpis,
    })
}
