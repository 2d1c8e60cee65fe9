//! The period report's and the status tile's SQL: counts and lines only,
//! never values.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::Result;
use crate::privacy::report::{
    AuditSummary, BreachLine, FindingLine, IncidentLine, RequestLine, RetentionLine,
};

/// Everything the period report reads, in one connection.
pub struct PeriodRows {
    pub audits: AuditSummary,
    pub findings: Vec<FindingLine>,
    pub findings_resolved: i64,
    pub findings_open_now: i64,
    /// Mean hours to resolve findings resolved in the period.
    pub finding_hours: Option<f64>,
    pub incidents: Vec<IncidentLine>,
    pub breaches: Vec<BreachLine>,
    pub requests: Vec<RequestLine>,
    pub retention: Vec<RetentionLine>,
    /// Reads granted, refused, distinct readers.
    pub access: (i64, i64, i64),
    pub top_readers: Vec<(String, i64)>,
    /// Current master version, rotations, data keys, destroyed keys, erasures.
    pub keys: (Option<i32>, i64, i64, i64, i64),
}

pub async fn period_rows(
    c: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<PeriodRows> {
    let audits: AuditSummary = sqlx::query_as(
        "SELECT count(*) AS total, count(*) FILTER (WHERE outcome = 'compliant') AS compliant,
                count(*) FILTER (WHERE outcome = 'findings') AS with_findings,
                count(*) FILTER (WHERE trigger = 'scheduled') AS scheduled, count(*) FILTER (WHERE trigger = 'manual') AS manual
         FROM privacy_audits WHERE ran_at >= $1 AND ran_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut *c)
    .await?;
    let lines: Vec<FindingLine> = sqlx::query_as(
        "SELECT id, kind, severity, detail, status, incident_id, opened_at FROM privacy_findings
         WHERE opened_at >= $1 AND opened_at < $2 ORDER BY id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?;
    let (resolved, open_now, hours): (i64, i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE resolved_at >= $1 AND resolved_at < $2),
                (SELECT count(*) FROM privacy_findings WHERE status = 'open'),
                avg(extract(epoch FROM resolved_at - opened_at)::float8 / 3600) FILTER (WHERE resolved_at >= $1 AND resolved_at < $2)
         FROM privacy_findings",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut *c)
    .await?;
    let incidents: Vec<IncidentLine> = sqlx::query_as(
        "SELECT id, title, severity, status, opened_at FROM incidents
         WHERE source = 'privacy_breach' AND opened_at >= $1 AND opened_at < $2 ORDER BY id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?;
    let breaches: Vec<BreachLine> = sqlx::query_as(
        "SELECT id, title, status, incident_id, aware_at, notify_by, notified_at, people_approx, records_approx, closed_at
         FROM privacy_breaches WHERE (opened_at >= $1 AND opened_at < $2) OR (notified_at >= $1 AND notified_at < $2)
            OR (closed_at >= $1 AND closed_at < $2) OR (status <> 'closed' AND opened_at < $2) ORDER BY id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?;
    let requests: Vec<RequestLine> = sqlx::query_as(
        "SELECT r.id, COALESCE(s.ref, '-') AS subject, r.kind, r.status, r.received_at, r.due_at, r.extended_months,
                r.completed_at
         FROM privacy_requests r LEFT JOIN privacy_subjects s ON s.id = r.subject_id
         WHERE (r.received_at >= $1 AND r.received_at < $2) OR (r.completed_at >= $1 AND r.completed_at < $2)
            OR (r.status NOT IN ('completed', 'refused') AND r.received_at < $2)
         ORDER BY r.id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?;
    let retention: Vec<RetentionLine> = sqlx::query_as(
        "SELECT category, store, sum(records)::bigint AS records FROM privacy_retention_actions
         WHERE at >= $1 AND at < $2 GROUP BY category, store ORDER BY category, store",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?;
    let (granted, refused, readers): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE outcome = 'granted'), count(*) FILTER (WHERE outcome = 'refused'),
                count(DISTINCT actor) FILTER (WHERE outcome = 'granted')
         FROM privacy_access_log WHERE at >= $1 AND at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut *c)
    .await?;
    let top_readers: Vec<(String, i64)> = sqlx::query_as(
        "SELECT actor, count(*) FROM privacy_access_log WHERE at >= $1 AND at < $2 AND outcome = 'granted'
         GROUP BY actor ORDER BY count(*) DESC, actor LIMIT 5",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?;
    let (current_version, rotations, data_keys, destroyed_keys, erasures): (Option<i32>, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT (SELECT version FROM privacy_master_keys WHERE retired_at IS NULL),
                    (SELECT count(*) FROM privacy_master_keys WHERE created_at >= $1 AND created_at < $2 AND version > 1),
                    (SELECT count(*) FROM privacy_data_keys WHERE wrapped IS NOT NULL),
                    (SELECT count(*) FROM privacy_data_keys WHERE wrapped IS NULL),
                    (SELECT count(*) FROM privacy_subjects WHERE erased_at >= $1 AND erased_at < $2)",
        )
        .bind(from)
        .bind(to)
        .fetch_one(&mut *c)
        .await?;
    Ok(PeriodRows {
        audits,
        findings: lines,
        findings_resolved: resolved,
        findings_open_now: open_now,
        finding_hours: hours,
        incidents,
        breaches,
        requests,
        retention,
        access: (granted, refused, readers),
        top_readers,
        keys: (
            current_version,
            rotations,
            data_keys,
            destroyed_keys,
            erasures,
        ),
    })
}

/// What the privacy tile counts.
pub struct TileCounts {
    pub open_requests: i64,
    pub overdue: i64,
    pub findings: i64,
    pub breaches: i64,
    pub breach_late: i64,
    pub last_audit: Option<String>,
}

pub async fn tile_counts(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<TileCounts> {
    let (open_requests, overdue, findings, breaches, breach_late): (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM privacy_requests WHERE status NOT IN ('completed', 'refused')),
                (SELECT count(*) FROM privacy_requests WHERE status NOT IN ('completed', 'refused') AND due_at < $1),
                (SELECT count(*) FROM privacy_findings WHERE status = 'open'),
                (SELECT count(*) FROM privacy_breaches WHERE status <> 'closed'),
                (SELECT count(*) FROM privacy_breaches WHERE status = 'assessing' AND notify_by < $1)",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let last_audit: Option<String> =
        sqlx::query_scalar("SELECT outcome FROM privacy_audits ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(TileCounts {
        open_requests,
        overdue,
        findings,
        breaches,
        breach_late,
        last_audit,
    })
}
