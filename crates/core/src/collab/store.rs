//! Collaboration's SQL beyond the engine's hand-off rows: the matrix, the
//! tile, and whether the weekly review is scheduled.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use sqlx::PgConnection;

use super::model::Histogram;
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
/// hand-offs are left out. The closed part reads the rollup (migration
/// 0021, kept by the transaction that closes a hand-off) for the whole UTC
/// days of the window and the current one, and the rows only for the
/// partial first day (and from the current day on if anything closed after
/// `now`: a clock set back);
/// percentiles come from the merged duration histograms.
pub async fn matrix(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Cell>> {
    let live: Vec<LiveRow> = sqlx::query_as(
        "SELECT from_department, to_department, count(*) open,
                count(*) FILTER (WHERE imminent) imminent,
                count(*) FILTER (WHERE breached OR resolution_breached
                     OR (status = 'open' AND due_at < $1)
                     OR (resolution_due_at IS NOT NULL AND resolution_due_at < $1)) breached_open
         FROM handoffs WHERE status IN ('open', 'acknowledged', 'in_progress', 'waiting')
         GROUP BY from_department, to_department",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let (first_whole, end_whole) = whole_days(since, now);
    // The current day comes from the rollup too unless something closed
    // after `now` (a clock set back): then from the rows, as before.
    let closed: Vec<ClosedRow> = sqlx::query_as(
        "WITH later AS (SELECT EXISTS (SELECT 1 FROM handoffs WHERE status IN ('done', 'declined')
                                         AND closed_at > $6) AS yes),
         raw AS MATERIALIZED (
            SELECT from_department, to_department, response_seconds, resolution_seconds,
                   breached OR resolution_breached AS late
              FROM handoffs WHERE status IN ('done', 'declined') AND closed_at >= $1 AND closed_at < $2
            UNION ALL
            SELECT from_department, to_department, response_seconds, resolution_seconds,
                   breached OR resolution_breached
              FROM handoffs WHERE (SELECT yes FROM later)
               AND status IN ('done', 'declined') AND closed_at >= greatest($1, $3)),
         days AS (SELECT $4::date AS first,
                         CASE WHEN (SELECT yes FROM later) THEN $5::date ELSE $5::date + 1 END AS last)
         SELECT from_department, to_department, 'closed' measure, 0 bucket, count(*) AS count,
                count(*) FILTER (WHERE late) breached, NULL::bigint min_seconds, NULL::bigint max_seconds
           FROM raw GROUP BY 1, 2
         UNION ALL
         SELECT from_department, to_department, 'closed', 0, sum(closed)::bigint, sum(breached)::bigint, NULL, NULL
           FROM handoff_rollup, days WHERE day >= days.first AND day < days.last GROUP BY 1, 2
         UNION ALL
         SELECT r.from_department, r.to_department, m.measure, handoff_duration_bucket(m.seconds), count(*), 0,
                min(m.seconds), max(m.seconds)
           FROM raw r CROSS JOIN LATERAL (VALUES ('response', r.response_seconds),
                                                 ('resolution', r.resolution_seconds)) AS m(measure, seconds)
          WHERE m.seconds IS NOT NULL GROUP BY 1, 2, 3, 4
         UNION ALL
         SELECT from_department, to_department, measure, bucket, sum(count)::bigint, 0,
                min(min_seconds), max(max_seconds)
           FROM handoff_rollup_durations, days WHERE day >= days.first AND day < days.last GROUP BY 1, 2, 3, 4",
    )
    .bind(since)
    .bind(first_whole)
    .bind(end_whole)
    .bind(first_whole.date_naive())
    .bind(end_whole.date_naive())
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    Ok(assemble(&live, &closed))
}

/// The whole UTC days of `[since, now]`: from the first midnight at or
/// after `since` to the last midnight at or before `now` (an empty range
/// when the window holds no whole day).
pub fn whole_days(since: DateTime<Utc>, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let midnight = |t: DateTime<Utc>| t.date_naive().and_time(NaiveTime::MIN).and_utc();
    let floor_since = midnight(since);
    let first = if floor_since == since {
        since
    } else {
        floor_since + TimeDelta::days(1)
    };
    (first, midnight(now).max(first))
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct LiveRow {
    from_department: String,
    to_department: String,
    open: i64,
    imminent: i64,
    breached_open: i64,
}

/// A piece of the closed part: the counts (`measure` "closed") or one
/// duration bucket of an edge.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ClosedRow {
    from_department: String,
    to_department: String,
    measure: String,
    bucket: i32,
    count: i64,
    breached: i64,
    min_seconds: Option<i64>,
    max_seconds: Option<i64>,
}

#[derive(Debug, Default)]
struct Acc {
    open: i64,
    imminent: i64,
    breached_open: i64,
    closed: i64,
    breached_closed: i64,
    response: Histogram,
    resolution: Histogram,
}

impl Acc {
    fn merge(&mut self, o: &Acc) {
        self.open += o.open;
        self.imminent += o.imminent;
        self.breached_open += o.breached_open;
        self.closed += o.closed;
        self.breached_closed += o.breached_closed;
        self.response.merge(&o.response);
        self.resolution.merge(&o.resolution);
    }
}

/// Edges, then each receiving department's total, as the cells the matrix
/// shows (by receiving department, its total first).
fn assemble(live: &[LiveRow], closed: &[ClosedRow]) -> Vec<Cell> {
    let mut edges: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for l in live {
        let a = edges
            .entry((l.to_department.clone(), l.from_department.clone()))
            .or_default();
        a.open += l.open;
        a.imminent += l.imminent;
        a.breached_open += l.breached_open;
    }
    for c in closed {
        let a = edges
            .entry((c.to_department.clone(), c.from_department.clone()))
            .or_default();
        match c.measure.as_str() {
            "closed" => {
                a.closed += c.count;
                a.breached_closed += c.breached;
            }
            measure => {
                let h = if measure == "response" {
                    &mut a.response
                } else {
                    &mut a.resolution
                };
                if let (Some(min), Some(max)) = (c.min_seconds, c.max_seconds) {
                    h.add(c.bucket, c.count, min, max);
                }
            }
        }
    }
    let mut departments: BTreeMap<String, Acc> = BTreeMap::new();
    for ((to, _), a) in &edges {
        departments.entry(to.clone()).or_default().merge(a);
    }
    let cell = |from: Option<&String>, to: &String, a: &Acc| Cell {
        from_department: from.cloned(),
        to_department: to.clone(),
        open: a.open,
        imminent: a.imminent,
        breached_open: a.breached_open,
        closed: a.closed,
        breached_closed: a.breached_closed,
        response_p50: a.response.percentile(0.5),
        response_p90: a.response.percentile(0.9),
        resolution_p50: a.resolution.percentile(0.5),
        resolution_p90: a.resolution.percentile(0.9),
    };
    let mut cells = Vec::new();
    for (to, total) in &departments {
        cells.push(cell(None, to, total));
        for ((t, from), a) in edges.range((to.clone(), String::new())..) {
            if t != to {
                break;
            }
            cells.push(cell(Some(from), to, a));
        }
    }
    cells
}

/// The tile's figures: live, imminent, overdue, and the share of the last
/// 30 days' closed hand-offs that met their SLAs (whole days from the
/// rollup, as the matrix).
pub async fn tile(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<(i64, i64, i64, i64, i64)> {
    let since = now - TimeDelta::days(30);
    let (first_whole, end_whole) = whole_days(since, now);
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM handoffs WHERE status IN ('open', 'acknowledged', 'in_progress', 'waiting')),
                (SELECT count(*) FROM handoffs WHERE status IN ('open', 'acknowledged', 'in_progress', 'waiting') AND imminent),
                (SELECT count(*) FROM handoffs WHERE status IN ('open', 'acknowledged', 'in_progress', 'waiting')
                   AND (breached OR resolution_breached OR (status = 'open' AND due_at < $1)
                        OR (resolution_due_at IS NOT NULL AND resolution_due_at < $1))),
                (SELECT count(*) FROM handoffs WHERE status IN ('done', 'declined')
                   AND ((closed_at >= $2 AND closed_at < $3) OR closed_at >= greatest($2, $4)))
                + (SELECT coalesce(sum(closed), 0) FROM handoff_rollup WHERE day >= $5 AND day < $6)::bigint,
                (SELECT count(*) FROM handoffs WHERE status IN ('done', 'declined')
                   AND ((closed_at >= $2 AND closed_at < $3) OR closed_at >= greatest($2, $4))
                   AND (breached OR resolution_breached))
                + (SELECT coalesce(sum(breached), 0) FROM handoff_rollup WHERE day >= $5 AND day < $6)::bigint",
    )
    .bind(now)
    .bind(since)
    .bind(first_whole)
    .bind(end_whole)
    .bind(first_whole.date_naive())
    .bind(end_whole.date_naive())
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

/// Benchmarks only: `n` closed hand-offs spread over the six edges and
/// closed in the last 30 days, by one INSERT … SELECT (no events, no timers).
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
         -- Closed over the last 30 days, never after now.
         CROSS JOIN LATERAL (SELECT $2::timestamptz - (g % 2592000) * interval '1 second'
                                    - (g % 86400) * interval '1 second' AS c) t
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

/// Benchmarks only: `n` copies of open hand-off `template` with their
/// pending deadline clocks, the k-th due `step_seconds * k` after it (one
/// INSERT … SELECT each for the rows and the clocks; no events).
pub async fn bench_clone_open(
    conn: &mut PgConnection,
    template: i64,
    n: i64,
    step_seconds: i64,
) -> Result<u64> {
    let r = sqlx::query(
        "WITH src AS (SELECT * FROM handoffs WHERE id = $1),
         copies AS (
            INSERT INTO handoffs (kind, from_department, to_department, workflow, entity_id, subject, assignee,
                status, due_at, payload, created_by, created_at, response_clock, resolution_clock,
                resolution_due_at, raci, policy, correlation_id)
            SELECT s.kind, s.from_department, s.to_department, s.workflow, 'bench-' || g, s.subject, s.assignee,
                   s.status, s.due_at + g * $3 * interval '1 second', s.payload, s.created_by, s.created_at,
                   s.response_clock, s.resolution_clock,
                   s.resolution_due_at + g * $3 * interval '1 second', s.raci, s.policy, 'bench:' || g
              FROM src s, generate_series(1, $2::bigint) g
            RETURNING id, entity_id)
         INSERT INTO timers (kind, workflow, entity_id, dedupe_key, due_at, payload, created_at)
         SELECT t.kind, t.workflow, c.id::text, t.dedupe_key, t.due_at + g.k * $3 * interval '1 second',
                jsonb_set(t.payload, '{due_at}',
                          to_jsonb((t.payload->>'due_at')::timestamptz + g.k * $3 * interval '1 second')),
                t.created_at
           FROM copies c
          CROSS JOIN LATERAL (SELECT substr(c.entity_id, 7)::bigint AS k) g
           JOIN timers t ON t.workflow = 'handoffs' AND t.entity_id = $1::text AND t.status = 'pending'",
    )
    .bind(template)
    .bind(n)
    .bind(step_seconds)
    .execute(&mut *conn)
    .await?;
    sqlx::query("ANALYZE handoffs").execute(&mut *conn).await?;
    sqlx::query("ANALYZE timers").execute(conn).await?;
    Ok(r.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn the_window_splits_into_whole_days_and_partial_ends() {
        // 30 days back from mid-day: 29 whole days between the partial ends.
        let (a, b) = whole_days(t("2026-11-02T15:00:00Z"), t("2026-12-02T15:00:00Z"));
        assert_eq!(a, t("2026-11-03T00:00:00Z"));
        assert_eq!(b, t("2026-12-02T00:00:00Z"));
        // A window starting at midnight starts with a whole day.
        let (a, _) = whole_days(t("2026-11-02T00:00:00Z"), t("2026-12-02T15:00:00Z"));
        assert_eq!(a, t("2026-11-02T00:00:00Z"));
        // Shorter than a day: no whole day, the rows alone.
        let (a, b) = whole_days(t("2026-12-02T03:00:00Z"), t("2026-12-02T15:00:00Z"));
        assert_eq!(a, b);
    }

    #[test]
    fn cells_list_each_department_total_before_its_edges() {
        let live = vec![LiveRow {
            from_department: "marketing".into(),
            to_department: "sales".into(),
            open: 2,
            imminent: 1,
            breached_open: 0,
        }];
        let row = |f: &str, t: &str, m: &str, b: i32, c: i64, lo: i64, hi: i64| ClosedRow {
            from_department: f.into(),
            to_department: t.into(),
            measure: m.into(),
            bucket: b,
            count: c,
            breached: 0,
            min_seconds: Some(lo),
            max_seconds: Some(hi),
        };
        let closed = vec![
            ClosedRow {
                breached: 1,
                min_seconds: None,
                max_seconds: None,
                ..row("customer_experience", "product", "closed", 0, 3, 0, 0)
            },
            row(
                "customer_experience",
                "product",
                "response",
                10,
                2,
                600,
                660,
            ),
            row("marketing", "product", "response", 12, 1, 1800, 1800),
        ];
        let cells = assemble(&live, &closed);
        let keys: Vec<(Option<&str>, &str)> = cells
            .iter()
            .map(|c| (c.from_department.as_deref(), c.to_department.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                (None, "product"),
                (Some("customer_experience"), "product"),
                (Some("marketing"), "product"),
                (None, "sales"),
                (Some("marketing"), "sales"),
            ]
        );
        assert_eq!(cells[0].response_p50, Some(660.0));
        assert_eq!(cells[0].closed, 3);
        assert_eq!(cells[1].response_p50, Some(630.0));
        assert_eq!(cells[4].open, 2);
    }
}
