//! Read models of the content lifecycle for the front ends: each answers a
//! screen in a bounded number of queries.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::Result;
use crate::status::WorkflowStatus;

/// The content tile: items in review, overdue reviews, live and optimising items.
pub async fn tile(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<WorkflowStatus> {
    let (in_review, optimizing, live, overdue): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'review'),
                count(*) FILTER (WHERE state = 'optimization'),
                count(*) FILTER (WHERE state IN ('published', 'performance', 'optimization', 'maintenance')),
                (SELECT count(*) FROM approval_requests
                  WHERE workflow = $2 AND status IN ('pending', 'escalated')
                    AND (status = 'escalated' OR deadline < $1))
         FROM content_items WHERE state IN ('review', 'published', 'performance', 'optimization', 'maintenance')",
    )
    .bind(now)
    .bind(super::WORKFLOW)
    .fetch_one(&mut *conn)
    .await?;
    Ok(WorkflowStatus {
        name: super::WORKFLOW.into(),
        open: in_review,
        breaches: overdue,
        kpis: vec![
            ("live".into(), live.to_string()),
            ("optimising".into(), optimizing.to_string()),
        ],
        trend: Vec::new(),
    })
}
