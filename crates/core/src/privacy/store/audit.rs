//! The audit's SQL: what it gathers, the retention purges, findings raised,
//! seen again or cleared, and the audit record itself.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;

use crate::error::Result;
use crate::privacy::audit::Draft;

/// What the key and sealed-value checks read.
#[derive(Debug, Default)]
pub struct SealFacts {
    pub master_version: Option<i32>,
    pub sealed_values: i64,
    pub subjects: i64,
    pub erased_subjects: i64,
    pub unsealed: Vec<(String, String)>,
    pub keyless: Vec<String>,
    pub stale_wraps: i64,
    pub stored_fields: Vec<(String, String, String)>,
}

pub async fn seal_facts(conn: &mut PgConnection) -> Result<SealFacts> {
    let mut f = SealFacts {
        master_version: sqlx::query_scalar(
            "SELECT version FROM privacy_master_keys WHERE retired_at IS NULL",
        )
        .fetch_optional(&mut *conn)
        .await?,
        ..Default::default()
    };
    (f.sealed_values, f.subjects, f.erased_subjects) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM privacy_pii), count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'erased')
         FROM privacy_subjects",
    )
    .fetch_one(&mut *conn)
    .await?;
    // Nonce + tag alone take 28 bytes: anything shorter was never sealed.
    f.unsealed = sqlx::query_as(
        "SELECT s.ref, p.field FROM privacy_pii p JOIN privacy_subjects s ON s.id = p.subject_id
         WHERE octet_length(p.ciphertext) < 28 ORDER BY s.ref, p.field LIMIT 1000",
    )
    .fetch_all(&mut *conn)
    .await?;
    f.keyless = sqlx::query_scalar(
        "SELECT s.ref FROM privacy_subjects s
         WHERE s.status = 'active' AND EXISTS (SELECT 1 FROM privacy_pii p WHERE p.subject_id = s.id)
           AND NOT EXISTS (SELECT 1 FROM privacy_data_keys k WHERE k.subject_id = s.id AND k.wrapped IS NOT NULL)
         ORDER BY s.ref LIMIT 1000",
    )
    .fetch_all(&mut *conn)
    .await?;
    f.stale_wraps = sqlx::query_scalar(
        "SELECT count(*) FROM privacy_data_keys k WHERE k.wrapped IS NOT NULL
           AND k.master_version IS DISTINCT FROM (SELECT version FROM privacy_master_keys WHERE retired_at IS NULL)",
    )
    .fetch_one(&mut *conn)
    .await?;
    f.stored_fields = sqlx::query_as(
        "SELECT DISTINCT 'pii'::text, field, category FROM privacy_pii
         UNION SELECT DISTINCT 'analytics'::text, field, category FROM privacy_analytics ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(f)
}

/// When the last audit ran (the Unix epoch when none has).
pub async fn last_audit_at(conn: &mut PgConnection) -> Result<DateTime<Utc>> {
    Ok(
        sqlx::query_scalar::<_, Option<DateTime<Utc>>>("SELECT max(ran_at) FROM privacy_audits")
            .fetch_one(&mut *conn)
            .await?
            .unwrap_or(DateTime::UNIX_EPOCH),
    )
}

/// The most rows one audit scans in each place.
const SCAN_LIMIT: i64 = 100_000;

/// (field, value) of analytics collected since `since`.
pub async fn analytics_since(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT field, value FROM privacy_analytics WHERE collected_at > $1 ORDER BY id LIMIT $2",
    )
    .bind(since)
    .bind(SCAN_LIMIT)
    .fetch_all(&mut *conn)
    .await?)
}

/// Free text where no personal data belongs, written since `since`: the
/// event log's reasons and payloads, the outbox's notifications.
pub async fn free_text_since(
    conn: &mut PgConnection,
    place: FreeText,
    since: DateTime<Utc>,
) -> Result<Vec<String>> {
    let sql = match place {
        FreeText::Events => {
            "SELECT coalesce(reason, '') || ' ' || payload::text FROM events WHERE occurred_at > $1 ORDER BY id LIMIT $2"
        }
        FreeText::Outbox => {
            "SELECT subject || ' ' || body || ' ' || payload::text FROM outbox WHERE created_at > $1 ORDER BY id LIMIT $2"
        }
    };
    Ok(sqlx::query_scalar(sql)
        .bind(since)
        .bind(SCAN_LIMIT)
        .fetch_all(&mut *conn)
        .await?)
}

#[derive(Debug, Clone, Copy)]
pub enum FreeText {
    Events,
    Outbox,
}

impl FreeText {
    pub fn place(self) -> &'static str {
        match self {
            FreeText::Events => "event log",
            FreeText::Outbox => "outbox",
        }
    }
}

/// (reader, age in seconds, granted) of access-log entries in `span` before `now`.
pub async fn reads_within(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    span: TimeDelta,
) -> Result<Vec<(String, i64, bool)>> {
    Ok(sqlx::query_as(
        "SELECT actor, floor(extract(epoch FROM ($1 - at)))::bigint, outcome = 'granted'
         FROM privacy_access_log WHERE at > $1 - $2::interval AND at <= $1",
    )
    .bind(now)
    .bind(span)
    .fetch_all(&mut *conn)
    .await?)
}

/// Where a category's records live and what dates them.
fn retention_table(pii: bool) -> (&'static str, &'static str) {
    if pii {
        ("privacy_pii", "updated_at")
    } else {
        ("privacy_analytics", "collected_at")
    }
}

/// Records of `category` older than `cutoff`.
pub async fn count_past_retention(
    conn: &mut PgConnection,
    pii: bool,
    category: &str,
    cutoff: DateTime<Utc>,
) -> Result<i64> {
    let (table, column) = retention_table(pii);
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {table} WHERE category = $1 AND {column} < $2"
    )))
    .bind(category)
    .bind(cutoff)
    .fetch_one(&mut *conn)
    .await?)
}

/// Delete the records of `category` older than `cutoff` and record the
/// purge under the audit. Returns how many went.
pub async fn purge_past_retention(
    conn: &mut PgConnection,
    audit_id: i64,
    pii: bool,
    category: &str,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64> {
    let (table, column) = retention_table(pii);
    let n = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE category = $1 AND {column} < $2"
    )))
    .bind(category)
    .bind(cutoff)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let records = i64::try_from(n).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO privacy_retention_actions (audit_id, category, store, records, cutoff, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(audit_id)
    .bind(category)
    .bind(if pii { "pii" } else { "analytics" })
    .bind(records)
    .bind(cutoff)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(records)
}

/// (category, store, records, cutoff) of the purges an audit made.
pub async fn retention_actions(
    conn: &mut PgConnection,
    audit_id: i64,
) -> Result<Vec<(String, String, i64, DateTime<Utc>)>> {
    Ok(sqlx::query_as(
        "SELECT category, store, records, cutoff FROM privacy_retention_actions WHERE audit_id = $1 ORDER BY id",
    )
    .bind(audit_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// (id, subject, kind, due) of requests still open, soonest due first.
pub async fn open_request_lines(
    conn: &mut PgConnection,
) -> Result<Vec<(i64, String, String, DateTime<Utc>)>> {
    Ok(sqlx::query_as(
        "SELECT r.id, COALESCE(s.ref, '-'), r.kind, r.due_at FROM privacy_requests r
            LEFT JOIN privacy_subjects s ON s.id = r.subject_id
         WHERE r.status NOT IN ('completed', 'refused') ORDER BY r.due_at",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Start an audit's record (its checks and documentation come at the end).
pub async fn insert_audit(
    conn: &mut PgConnection,
    trigger: &str,
    actor: &str,
    now: DateTime<Utc>,
    outcome: &str,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO privacy_audits (trigger, run_by, ran_at, outcome, checks, documentation) VALUES ($1, $2, $3, $4, '{}', '') RETURNING id",
    )
    .bind(trigger)
    .bind(actor)
    .bind(now)
    .bind(outcome)
    .fetch_one(&mut *conn)
    .await?)
}

pub async fn finish_audit(
    conn: &mut PgConnection,
    audit_id: i64,
    checks: &serde_json::Value,
    documentation: &str,
) -> Result<()> {
    sqlx::query("UPDATE privacy_audits SET checks = $2, documentation = $3 WHERE id = $1")
        .bind(audit_id)
        .bind(checks)
        .bind(documentation)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Record a finding, or count it seen again while its condition is open.
/// Returns its id and whether it is new.
pub async fn raise_finding(
    conn: &mut PgConnection,
    audit_id: i64,
    d: &Draft,
    now: DateTime<Utc>,
) -> Result<(i64, bool)> {
    Ok(sqlx::query_as(
        "INSERT INTO privacy_findings (audit_id, kind, severity, condition, person, subject_ref, detail, facts, opened_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (condition) WHERE status = 'open'
         DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at, seen = privacy_findings.seen + 1,
                       detail = EXCLUDED.detail, facts = EXCLUDED.facts
         RETURNING id, (xmax = 0)",
    )
    .bind(audit_id)
    .bind(d.kind)
    .bind(d.severity)
    .bind(&d.condition)
    .bind(&d.person)
    .bind(&d.subject_ref)
    .bind(&d.detail)
    .bind(&d.facts)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

pub async fn link_finding_incident(
    conn: &mut PgConnection,
    finding_id: i64,
    incident_id: i64,
) -> Result<()> {
    sqlx::query("UPDATE privacy_findings SET incident_id = $2 WHERE id = $1")
        .bind(finding_id)
        .bind(incident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// (id, condition) of open findings of these kinds, locked.
pub async fn open_findings_of_kinds(
    conn: &mut PgConnection,
    kinds: &[&str],
) -> Result<Vec<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, condition FROM privacy_findings WHERE status = 'open' AND kind = ANY($1) FOR UPDATE",
    )
    .bind(kinds.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?)
}

/// A finding whose condition is no longer observed resolves by itself.
pub async fn clear_finding(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    resolution: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE privacy_findings SET status = 'resolved', resolved_at = $2, resolved_by = 'engine', resolution = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(resolution)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
