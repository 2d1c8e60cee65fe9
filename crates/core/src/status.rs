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
    pub last_24h: i64,
    /// The log's newest id (the log is append-only and never counted whole).
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

/// The whole report. Every figure is read through an index bounded by what
/// is open, pending or recent: nothing that grows forever is counted.
pub async fn collect(ctx: &Ctx) -> Result<Status> {
    let now = ctx.now();
    let mut conn = ctx.pool.acquire().await?;
    let engine = engine(&mut conn, now).await?;
    let approvals = approvals(&mut conn, now).await?;
    let escalations = escalations(&mut conn).await?;
    let events = events(&mut conn, now).await?;
    let kpis = kpis(&mut conn).await?;
    let workflows = tiles(ctx, &mut conn).await?;
    Ok(Status {
        workflows,
        generated_at: now,
        organisation: ctx.org.name.clone(),
        engine,
        approvals,
        escalations,
        events,
        kpis,
    })
}

/// The shared engine: workers alive, timers and outbox.
pub async fn engine(conn: &mut sqlx::PgConnection, now: DateTime<Utc>) -> Result<EngineStatus> {
    let workers: Vec<String> = sqlx::query_scalar(
        "SELECT worker FROM engine_workers WHERE heartbeat_at > $1 - interval '1 minute' ORDER BY worker",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let (timers_pending, timers_overdue, timers_failed, outbox_pending, outbox_dead): (
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM timers WHERE status = 'pending'),
                (SELECT count(*) FROM timers WHERE status = 'pending' AND due_at < $1 - interval '1 minute'),
                (SELECT count(*) FROM timers WHERE status = 'failed'),
                (SELECT count(*) FROM outbox WHERE status = 'pending'),
                (SELECT count(*) FROM outbox WHERE status = 'dead')",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(EngineStatus {
        workers,
        timers_pending,
        timers_overdue,
        timers_failed,
        outbox_pending,
        outbox_dead,
    })
}

/// Approval requests: pending, past their deadline, re-routed (escalated).
pub async fn approvals(
    conn: &mut sqlx::PgConnection,
    now: DateTime<Utc>,
) -> Result<ApprovalStatus> {
    let (pending, overdue, escalated): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE deadline < $1),
                count(*) FILTER (WHERE escalate_to <> '{}')
         FROM approval_requests WHERE status = 'pending'",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(ApprovalStatus {
        pending,
        overdue,
        escalated,
    })
}

/// Escalations running and those that ran out of levels.
pub async fn escalations(conn: &mut sqlx::PgConnection) -> Result<EscalationStatus> {
    let (active, exhausted): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM escalations WHERE status = 'active'),
                (SELECT count(*) FROM escalations WHERE status = 'exhausted')",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(EscalationStatus { active, exhausted })
}

/// The event log: the last day's volume and the newest id.
pub async fn events(conn: &mut sqlx::PgConnection, now: DateTime<Utc>) -> Result<EventStatus> {
    let (last_24h, last_id): (i64, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM events WHERE occurred_at > $1 - interval '24 hours'),
                (SELECT max(id) FROM events)",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(EventStatus { last_24h, last_id })
}

/// The latest reading of every business metric, with its recent trend.
pub async fn kpis(conn: &mut sqlx::PgConnection) -> Result<Vec<Kpi>> {
    let mut kpis = Vec::new();
    for reading in metrics::latest(conn).await? {
        let trend = metrics::series(conn, &reading.metric, 24)
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
    Ok(kpis)
}

/// One tile per workflow, in the list's order.
pub async fn tiles(ctx: &Ctx, conn: &mut sqlx::PgConnection) -> Result<Vec<WorkflowStatus>> {
    let mut out = Vec::with_capacity(crate::workflow::all().len());
    for workflow in crate::workflow::all() {
        out.push(workflow.tile(ctx, conn).await?);
    }
    Ok(out)
}

/// One workflow's tile.
pub async fn tile(ctx: &Ctx, name: &str) -> Result<WorkflowStatus> {
    let workflow = crate::workflow::named(name)?;
    let mut conn = ctx.pool.acquire().await?;
    workflow.tile(ctx, &mut conn).await
}
