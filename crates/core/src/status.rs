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
    /// One entry per workflow that exists: open items, breaches, KPIs.
    pub workflows: Vec<WorkflowStatus>,
}

/// A workflow at a glance (a tile in the control room).
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowStatus {
    pub name: String,
    pub open: i64,
    /// SLA breaches or items that need attention now.
    pub breaches: i64,
    /// (label, value) pairs, already formatted for people.
    pub kpis: Vec<(String, String)>,
    /// A recent trend where one matters (oldest first).
    pub trend: Vec<f64>,
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
    let workflows = workflow_tiles(&mut conn, now).await?;
    Ok(Status {
        workflows,
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

async fn workflow_tiles(
    conn: &mut sqlx::PgConnection,
    now: DateTime<Utc>,
) -> Result<Vec<WorkflowStatus>> {
    let mut out = Vec::new();
    // Crisis: open incidents, acknowledgement deadlines missed, MTTA (30 days).
    let (open, p1, unacked_late, mtta): (i64, i64, i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status IN ('triggered', 'acknowledged')),
                count(*) FILTER (WHERE status IN ('triggered', 'acknowledged') AND severity = 'P1'),
                count(*) FILTER (WHERE status = 'triggered' AND ack_deadline < $1),
                avg(extract(epoch FROM acknowledged_at - opened_at)::float8) FILTER (WHERE opened_at > $1 - interval '30 days')
         FROM incidents",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let daily: Vec<f64> = sqlx::query_scalar(
        "SELECT count(i.id)::float8 FROM generate_series(13, 0, -1) d
         LEFT JOIN incidents i ON i.opened_at >= ($1::timestamptz - (d + 1) * interval '1 day') AND i.opened_at < ($1::timestamptz - d * interval '1 day')
         GROUP BY d ORDER BY d DESC",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    out.push(WorkflowStatus {
        name: "crisis".into(),
        open,
        breaches: unacked_late,
        kpis: vec![
            ("open P1".into(), p1.to_string()),
            (
                "MTTA 30d".into(),
                mtta.map(|s| {
                    crate::duration::format_delta(chrono::TimeDelta::seconds(s.round() as i64))
                })
                .unwrap_or_else(|| "-".into()),
            ),
        ],
        trend: daily,
    });
    // Content: in review, overdue reviews, underperforming.
    let (in_review, optimizing, live): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'review'), count(*) FILTER (WHERE state = 'optimization'),
                count(*) FILTER (WHERE state IN ('published', 'performance', 'optimization', 'maintenance'))
         FROM content_items",
    )
    .fetch_one(&mut *conn)
    .await?;
    let overdue: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM approval_requests WHERE workflow = 'content' AND (status = 'escalated' OR (status = 'pending' AND deadline < $1))",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    out.push(WorkflowStatus {
        name: "content".into(),
        open: in_review,
        breaches: overdue,
        kpis: vec![
            ("live".into(), live.to_string()),
            ("optimising".into(), optimizing.to_string()),
        ],
        trend: Vec::new(),
    });
    // Experiments: running, exposures today.
    let (running, documented): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state = 'documented') FROM experiments",
    )
    .fetch_one(&mut *conn)
    .await?;
    let exposures_24h: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM experiment_exposures WHERE exposed_at > $1 - interval '24 hours'",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    out.push(WorkflowStatus {
        name: "experiments".into(),
        open: running,
        breaches: 0,
        kpis: vec![
            ("exposures 24h".into(), exposures_24h.to_string()),
            ("learnings".into(), documented.to_string()),
        ],
        trend: Vec::new(),
    });
    out.push(crate::privacy::report::tile(conn, now).await?);
    Ok(out)
}
