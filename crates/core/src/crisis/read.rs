//! Read models of crisis management for the front ends: each answers a
//! screen in a bounded number of queries.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::Result;
use crate::status::WorkflowStatus;

/// The crisis tile: open incidents, missed acknowledgement deadlines, open
/// P1s, MTTA over 30 days and incidents opened per day for two weeks.
pub async fn tile(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<WorkflowStatus> {
    let (open, p1, unacked_late): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE severity = 'P1'),
                count(*) FILTER (WHERE status = 'triggered' AND ack_deadline < $1)
         FROM incidents WHERE status IN ('triggered', 'acknowledged')",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let mtta: Option<f64> = sqlx::query_scalar(
        "SELECT avg(extract(epoch FROM acknowledged_at - opened_at)::float8)
         FROM incidents WHERE opened_at > $1 - interval '30 days'",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let daily: Vec<f64> = sqlx::query_scalar(
        "SELECT count(i.id)::float8 FROM generate_series(13, 0, -1) d
         LEFT JOIN incidents i ON i.opened_at >= ($1::timestamptz - (d + 1) * interval '1 day')
                              AND i.opened_at < ($1::timestamptz - d * interval '1 day')
         GROUP BY d ORDER BY d DESC",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    Ok(WorkflowStatus {
        name: super::WORKFLOW.into(),
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
    })
}
