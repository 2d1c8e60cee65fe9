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
    let cells = sqlx::query_as(
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
                   percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY response_seconds) response_q,
                   percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolution_seconds) resolution_q
            FROM handoffs WHERE status IN ('done', 'declined') AND closed_at >= $1
            GROUP BY GROUPING SETS ((from_department, to_department), (to_department)))
         SELECT coalesce(l.f, c.f) from_department, coalesce(l.t, c.t) to_department,
                coalesce(l.open, 0) open, coalesce(l.imminent, 0) imminent,
                coalesce(l.breached_open, 0) breached_open,
                coalesce(c.closed, 0) closed, coalesce(c.breached_closed, 0) breached_closed,
                c.response_q[1] response_p50, c.response_q[2] response_p90,
                c.resolution_q[1] resolution_p50, c.resolution_q[2] resolution_p90
         FROM live l FULL JOIN closed c ON l.f IS NOT DISTINCT FROM c.f AND l.t = c.t
         ORDER BY 2, 1 NULLS FIRST",
    )
    .bind(since)
    .bind(now)
    .fetch_all(conn)
    .await?;
    Ok(cells)
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

/// Benchmarks only: `n` closed hand-offs spread over the six edges and the
/// last 30 days, by one INSERT … SELECT (no events, no timers).
pub async fn bench_fill_closed(conn: &mut PgConnection, n: i64, now: DateTime<Utc>) -> Result<u64> {
    let r = sqlx::query(
        "INSERT INTO handoffs (kind, from_department, to_department, workflow, entity_id, subject, status, due_at,
            created_by, created_at, acknowledged_at, completed_at, closed_at, response_seconds, resolution_seconds,
            breached, policy)
         SELECT e.kind, e.f, e.t, 'collab', g::text, 'bench', CASE WHEN g % 17 = 0 THEN 'declined' ELSE 'done' END,
                c + interval '1 hour', 'bench', c, c + (g % 5400) * interval '1 second',
                c + (g % 86400) * interval '1 second', c + (g % 86400) * interval '1 second',
                g % 5400, g % 86400, g % 5400 > 3600, 'handoff-breach'
         FROM generate_series(1, $1::bigint) g
         CROSS JOIN LATERAL (SELECT $2::timestamptz - (g % 2592000) * interval '1 second' AS c) t
         JOIN (VALUES (0, 'campaign_data', 'marketing', 'sales'), (1, 'product_feedback', 'marketing', 'product'),
                      (2, 'customer_insights', 'marketing', 'customer_experience'), (3, 'budget_roi', 'marketing', 'finance'),
                      (4, 'deal_insights', 'sales', 'finance'), (5, 'feature_request', 'customer_experience', 'product'))
              AS e(i, kind, f, t) ON e.i = g % 6",
    )
    .bind(n)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("ANALYZE handoffs").execute(conn).await?;
    Ok(r.rows_affected())
}
