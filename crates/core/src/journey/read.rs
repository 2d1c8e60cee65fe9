//! Read models of the customer journey for the front ends: each answers a
//! screen in a bounded number of queries.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::Result;
use crate::status::WorkflowStatus;

/// The journey tile: leads waiting on Sales and open support tickets, those
/// past their SLA, and the last 30 days' hand-offs and new customers.
pub async fn tile(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<WorkflowStatus> {
    let (leads_open, leads_late, tickets_open, tickets_late, handed_30d, orders_30d): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM handoffs WHERE workflow = $2 AND status IN ('open', 'acknowledged', 'in_progress', 'waiting')),
                (SELECT count(*) FROM handoffs WHERE workflow = $2 AND status = 'open' AND due_at < $1),
                (SELECT count(*) FROM tickets WHERE status = 'open'),
                (SELECT count(*) FROM tickets WHERE status = 'open' AND due_at < $1),
                (SELECT count(*) FROM handoffs WHERE workflow = $2 AND created_at > $1 - interval '30 days'),
                (SELECT count(*) FROM orders WHERE occurred_at > $1 - interval '30 days')",
    )
    .bind(now)
    .bind(super::WORKFLOW)
    .fetch_one(&mut *conn)
    .await?;
    Ok(WorkflowStatus {
        name: super::WORKFLOW.into(),
        open: leads_open + tickets_open,
        breaches: leads_late + tickets_late,
        kpis: vec![
            ("leads with Sales".into(), leads_open.to_string()),
            ("open tickets".into(), tickets_open.to_string()),
            ("hand-offs 30d".into(), handed_30d.to_string()),
            ("orders 30d".into(), orders_30d.to_string()),
        ],
        trend: Vec::new(),
    })
}
