//! Read models for the front ends: the department matrix and its KPIs, the
//! status tile. Each answers in a bounded number of queries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::store::{self, Cell};
use crate::duration::format_delta;
use crate::engine::Ctx;
use crate::error::Result;
use crate::status::WorkflowStatus;

/// One edge (from → to), or a receiving department's total (`from` is None).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeStats {
    pub from: Option<String>,
    pub to: String,
    /// Live now.
    pub open: i64,
    pub imminent: i64,
    /// Live and past an SLA.
    pub breached: i64,
    /// Closed (done or declined) in the window.
    pub closed: i64,
    /// Live plus closed in the window.
    pub volume: i64,
    /// Breached (live or closed) over the volume.
    pub breach_rate: Option<f64>,
    /// Business seconds to first response / to done, closed in the window.
    pub response_median_seconds: Option<i64>,
    pub response_p90_seconds: Option<i64>,
    pub resolution_median_seconds: Option<i64>,
    pub resolution_p90_seconds: Option<i64>,
}

impl From<&Cell> for EdgeStats {
    fn from(c: &Cell) -> Self {
        let volume = c.open + c.closed;
        let breached = c.breached_open + c.breached_closed;
        let secs = |v: Option<f64>| v.map(|s| s.round() as i64);
        Self {
            from: c.from_department.clone(),
            to: c.to_department.clone(),
            open: c.open,
            imminent: c.imminent,
            breached: c.breached_open,
            closed: c.closed,
            volume,
            breach_rate: (volume > 0).then(|| breached as f64 / volume as f64),
            response_median_seconds: secs(c.response_p50),
            response_p90_seconds: secs(c.response_p90),
            resolution_median_seconds: secs(c.resolution_p50),
            resolution_p90_seconds: secs(c.resolution_p90),
        }
    }
}

/// The department × department matrix over a window.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub since: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub edges: Vec<EdgeStats>,
    /// Per receiving department.
    pub departments: Vec<EdgeStats>,
}

pub async fn matrix(ctx: &Ctx, since: DateTime<Utc>) -> Result<Matrix> {
    let mut conn = ctx.pool.acquire().await?;
    matrix_on(ctx, &mut conn, since).await
}

pub async fn matrix_on(ctx: &Ctx, conn: &mut PgConnection, since: DateTime<Utc>) -> Result<Matrix> {
    let now = ctx.now();
    let cells = store::matrix(conn, since, now).await?;
    let (edges, departments): (Vec<EdgeStats>, Vec<EdgeStats>) = cells
        .iter()
        .map(EdgeStats::from)
        .partition(|e| e.from.is_some());
    Ok(Matrix {
        since,
        generated_at: now,
        edges,
        departments,
    })
}

fn dur(secs: Option<i64>) -> String {
    secs.map(|s| format_delta(chrono::TimeDelta::seconds(s)))
        .unwrap_or_else(|| "-".into())
}

fn rate(r: Option<f64>) -> String {
    r.map(|r| format!("{:.0}%", r * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// One line per edge, for people (the weekly review, the CLI).
pub fn matrix_rows(m: &Matrix) -> Vec<Vec<String>> {
    m.edges
        .iter()
        .map(|e| {
            vec![
                format!("{} → {}", e.from.as_deref().unwrap_or("*"), e.to),
                e.open.to_string(),
                e.imminent.to_string(),
                e.breached.to_string(),
                e.volume.to_string(),
                rate(e.breach_rate),
                format!(
                    "{}/{}",
                    dur(e.response_median_seconds),
                    dur(e.response_p90_seconds)
                ),
                format!(
                    "{}/{}",
                    dur(e.resolution_median_seconds),
                    dur(e.resolution_p90_seconds)
                ),
            ]
        })
        .collect()
}

pub const MATRIX_HEADERS: [&str; 8] = [
    "EDGE",
    "OPEN",
    "SOON",
    "LATE",
    "VOL",
    "BREACH",
    "RESP p50/90",
    "DONE p50/90",
];

/// The matrix as plain text.
pub fn matrix_text(m: &Matrix) -> String {
    if m.edges.is_empty() {
        return "No hand-offs in the window.".into();
    }
    let mut out = String::new();
    for r in matrix_rows(m) {
        out.push_str(&r.join("  "));
        out.push('\n');
    }
    out
}

/// The collaboration tile: live hand-offs, those past an SLA, and KPIs.
pub async fn tile(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<WorkflowStatus> {
    let (live, imminent, late, closed, closed_breached) = store::tile(conn, now).await?;
    let met = if closed > 0 {
        format!(
            "{:.0}%",
            (closed - closed_breached) as f64 * 100.0 / closed as f64
        )
    } else {
        "-".into()
    };
    Ok(WorkflowStatus {
        name: super::WORKFLOW.into(),
        open: live,
        breaches: late,
        kpis: vec![
            ("imminent".into(), imminent.to_string()),
            ("closed 30d".into(), closed.to_string()),
            ("SLA met 30d".into(), met),
        ],
        trend: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edge_counts_volume_and_breach_rate() {
        let c = Cell {
            from_department: Some("marketing".into()),
            to_department: "sales".into(),
            open: 3,
            imminent: 1,
            breached_open: 1,
            closed: 5,
            breached_closed: 1,
            response_p50: Some(1800.4),
            response_p90: Some(3000.0),
            resolution_p50: None,
            resolution_p90: None,
        };
        let e = EdgeStats::from(&c);
        assert_eq!(e.volume, 8);
        assert_eq!(e.breach_rate, Some(0.25));
        assert_eq!(e.response_median_seconds, Some(1800));
        let m = Matrix {
            since: Utc::now(),
            generated_at: Utc::now(),
            edges: vec![e],
            departments: Vec::new(),
        };
        assert!(matrix_text(&m).contains("marketing → sales"));
    }
}
