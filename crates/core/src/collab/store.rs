//! Collaboration's SQL beyond the engine's hand-off rows: the matrix, the
//! tile, and whether the weekly review is scheduled.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::Result;

/// One cell of the matrix (an edge), or a department's total when `from`
/// is `None` (as receiver).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Cell {
    pub from_department: Option<String>,
    pub to_department: String,
    pub open: i64,
    pub imminent: i64,
    pub breached_open: i64,
    pub closed: i64,
    pub breached_closed: i64,
    pub response_p50: Option<f64>,
    pub response_p90: Option<f64>,
    pub resolution_p50: Option<f64>,
    pub resolution_p90: Option<f64>,
}

/// The matrix: live hand-offs now, and those closed (done or declined)
/// since `since`, per edge and per receiving department. Cancelled
/// hand-offs are left out. Two index scans (live, closed in window).
pub async fn matrix(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Cell>> {
    Ok(sqlx::query_as(
        "WITH live AS (
            SELECT from_department f, to_department t, count(*) open,
                   count(*) FILTER (WHERE imminent) imminent,
                   count(*) FILTER (WHERE breached OR resolution_breached
                        OR (status = 'open' AND due_at < $2)
                        OR (resolution_due_at IS NOT NULL AND resolution_due_at < $2)) breached_open
            FROM handoffs WHERE status IN ('open', 'acknowledged', 'in_progress', 'waiting')
            GROUP BY GROUPING SETS ((from_department, to_department), (to_department))),
         closed AS (
            SELECT from_department f, to_department t, count(*) closed,
                   count(*) FILTER (WHERE breached OR resolution_breached) breached_closed,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY response_seconds) response_p50,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY response_seconds) response_p90,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_seconds) resolution_p50,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution_seconds) resolution_p90
            FROM handoffs WHERE status IN ('done', 'declined') AND closed_at >= $1
            GROUP BY GROUPING SETS ((from_department, to_department), (to_department)))
         SELECT coalesce(l.f, c.f) from_department, coalesce(l.t, c.t) to_department,
                coalesce(l.open, 0) open, coalesce(l.imminent, 0) imminent,
                coalesce(l.breached_open, 0) breached_open,
                coalesce(c.closed, 0) closed, coalesce(c.breached_closed, 0) breached_closed,
                c.response_p50, c.response_p90, c.resolution_p50, c.resolution_p90
         FROM live l FULL JOIN closed c ON l.f IS NOT DISTINCT FROM c.f AND l.t = c.t
         ORDER BY 2, 1 NULLS FIRST",
    )
    .bind(since)
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// The tile's figures: live, imminent, overdue, and the share of the last
/// 30 days' closed hand-offs that met their SLAs.
pub async fn tile(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<(i64, i64, i64, i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM handoffs WHERE status IN ('open', 'acknowledged', 'in_progress', 'waiting')),
                (SELECT count(*) FROM handoffs WHERE status IN ('open', 'acknowledged', 'in_progress', 'waiting') AND imminent),
                (SELECT count(*) FROM handoffs WHERE status IN ('open', 'acknowledged', 'in_progress', 'waiting')
                   AND (breached OR resolution_breached OR (status = 'open' AND due_at < $1)
                        OR (resolution_due_at IS NOT NULL AND resolution_due_at < $1))),
                (SELECT count(*) FROM handoffs WHERE status IN ('done', 'declined') AND closed_at >= $1 - interval '30 days'),
                (SELECT count(*) FROM handoffs WHERE status IN ('done', 'declined') AND closed_at >= $1 - interval '30 days'
                   AND (breached OR resolution_breached))",
    )
    .bind(now)
    .fetch_one(conn)
    .await?)
}

/// Is a review of this kind pending?
pub async fn review_pending(conn: &mut PgConnection, kind: &str, workflow: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM timers WHERE kind = $1 AND workflow = $2 AND status = 'pending')",
    )
    .bind(kind)
    .bind(workflow)
    .fetch_one(conn)
    .await?)
}
