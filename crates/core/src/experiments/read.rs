//! Read models of A/B testing for the front ends: each answers a screen in a
//! bounded number of queries (its SQL in `store.rs`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::Result;
use crate::status::WorkflowStatus;

/// The experiments tile: running experiments, exposures in the last day
/// (by the exposure-time index) and the learnings library's size.
pub async fn tile(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<WorkflowStatus> {
    let (running, documented, exposures_24h) = super::store::tile_counts(conn, now).await?;
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
