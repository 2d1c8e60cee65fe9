//! Read models of A/B testing for the front ends: each answers a screen in a
//! bounded number of queries.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::Result;
use crate::status::WorkflowStatus;

/// The experiments tile: running experiments, exposures in the last day
/// (by the exposure-time index) and the learnings library's size.
pub async fn tile(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<WorkflowStatus> {
    let (running, documented, exposures_24h): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM experiments WHERE state = 'running'),
                (SELECT count(*) FROM experiments WHERE state = 'documented'),
                (SELECT count(*) FROM experiment_exposures WHERE exposed_at > $1 - interval '24 hours')",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(WorkflowStatus {
        name: super::WORKFLOW.into(),
        open: running,
        breaches: 0,
        kpis: vec![
            ("exposures 24h".into(), exposures_24h.to_string()),
            ("learnings".into(), documented.to_string()),
        ],
        trend: Vec::new(),
    })
}
