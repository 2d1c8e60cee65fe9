//! All of crisis management's SQL: incidents, post-mortems, action items,
//! the event-log reads behind its metrics and the metric reads behind its
//! KPI rules. Its states are stored as text (see `text_column!` below).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::model::{ActionItemStatus, Phase, Severity, State, Status};
use crate::db::text_column;
use crate::error::{Error, Result};

text_column!(
    Severity,
    "incident severity",
    all = Severity::ALL,
    text = Severity::as_str
);
text_column!(
    Status,
    "incident status",
    all = Status::ALL,
    text = Status::as_str
);
text_column!(Phase, "incident phase", all = Phase::ALL, text = Phase::key);
text_column!(
    ActionItemStatus,
    "action item status",
    all = ActionItemStatus::ALL,
    text = ActionItemStatus::as_str
);

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Incident {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub source: String,
    pub source_ref: Option<String>,
    pub departments: Vec<String>,
    pub status: Status,
    pub phase: Phase,
    pub phase_started_at: DateTime<Utc>,
    pub ack_deadline: DateTime<Utc>,
    pub commander: Option<String>,
    pub scribe: Option<String>,
    pub liaison: Option<String>,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub last_progress_at: DateTime<Utc>,
    pub trigger_key: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// Who holds the incident now: the latest acknowledgement, cleared when
    /// it is handed back (`acknowledged_by/at` stay the first, for MTTA).
    pub responder: Option<String>,
    /// The next status update is promised by then (the commander is
    /// reminded if none comes).
    pub next_update_at: Option<DateTime<Utc>>,
    /// Made by `vivid simulate`: left out of metrics unless asked for.
    pub simulated: bool,
}

impl Incident {
    /// What the state machine needs: the stored axes plus the protocol facts.
    pub fn state(&self, full_protocol: bool, postmortem_written: bool) -> State {
        State {
            id: self.id,
            status: self.status,
            phase: self.phase,
            severity: self.severity,
            full_protocol,
            postmortem_written,
        }
    }
}

pub(crate) const COLUMNS: &str = "id, title, description, severity, source, source_ref, departments, status, phase, phase_started_at,
    ack_deadline, commander, scribe, liaison, opened_by, opened_at, acknowledged_by, acknowledged_at, resolved_by,
    resolved_at, closed_by, closed_at, last_progress_at, trigger_key, updated_at, responder, next_update_at, simulated";

#[derive(Debug, Clone)]
pub struct Insert<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub severity: Severity,
    pub source: &'a str,
    pub source_ref: Option<&'a str>,
    pub departments: &'a [String],
    pub commander: Option<&'a str>,
    pub opened_by: &'a str,
    pub ack_deadline: DateTime<Utc>,
    pub trigger_key: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub simulated: bool,
}

/// Insert a new incident; None when its trigger already has an open incident.
pub async fn insert(conn: &mut PgConnection, i: &Insert<'_>) -> Result<Option<Incident>> {
    let sql = format!(
        "INSERT INTO incidents (title, description, severity, source, source_ref, departments, status, phase,
            phase_started_at, ack_deadline, commander, opened_by, opened_at, last_progress_at, trigger_key, updated_at, simulated)
         VALUES ($1, $2, $3, $4, $5, $6, 'triggered', 'detection', $7, $8, $9, $10, $7, $7, $11, $7, $12)
         ON CONFLICT (trigger_key) WHERE trigger_key IS NOT NULL AND status IN ('triggered', 'acknowledged') DO NOTHING
         RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(i.title)
        .bind(i.description)
        .bind(i.severity)
        .bind(i.source)
        .bind(i.source_ref)
        .bind(i.departments)
        .bind(i.now)
        .bind(i.ack_deadline)
        .bind(i.commander)
        .bind(i.opened_by)
        .bind(i.trigger_key)
        .bind(i.simulated)
        .fetch_optional(conn)
        .await?)
}

/// Load an incident, locking it for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, id: i64) -> Result<Incident> {
    let sql = format!("SELECT {COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE");
    let row: Option<Incident> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no incident #{id}")))
}

pub async fn get(conn: &mut PgConnection, id: i64) -> Result<Incident> {
    let sql = format!("SELECT {COLUMNS} FROM incidents WHERE id = $1");
    let row: Option<Incident> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no incident #{id}")))
}

/// The open incident of a KPI rule, if any.
pub async fn open_for_trigger(conn: &mut PgConnection, key: &str) -> Result<Option<Incident>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents WHERE trigger_key = $1 AND status IN ('triggered', 'acknowledged')"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only these statuses (empty: all).
    pub statuses: Vec<String>,
    pub severity: Option<String>,
    pub department: Option<String>,
    pub limit: i64,
    /// Also the simulator's incidents (left out by default: they are not
    /// anyone's work).
    pub include_simulated: bool,
}

/// Incidents, most urgent first: open before resolved, by severity, oldest first.
pub async fn list(conn: &mut PgConnection, f: &ListFilter) -> Result<Vec<Incident>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents
         WHERE (cardinality($1::text[]) = 0 OR status = ANY($1))
           AND ($2::text IS NULL OR severity = $2)
           AND ($3::text IS NULL OR $3 = ANY(departments))
           AND ($5 OR NOT simulated)
         ORDER BY CASE status WHEN 'triggered' THEN 0 WHEN 'acknowledged' THEN 1 WHEN 'resolved' THEN 2 ELSE 3 END,
                  severity, opened_at, id
         LIMIT $4"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&f.statuses)
        .bind(&f.severity)
        .bind(&f.department)
        .bind(if f.limit > 0 { f.limit } else { 1000 })
        .bind(f.include_simulated)
        .fetch_all(conn)
        .await?)
}

/// The simulator's own incidents in these statuses (it touches no other).
pub async fn list_simulated(conn: &mut PgConnection, statuses: &[String]) -> Result<Vec<Incident>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents WHERE simulated AND status = ANY($1) ORDER BY id LIMIT 1000"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(statuses)
        .fetch_all(conn)
        .await?)
}

/// Write back the fields a command may change.
pub async fn save(conn: &mut PgConnection, i: &Incident) -> Result<()> {
    sqlx::query(
        "UPDATE incidents SET title = $2, severity = $3, departments = $4, status = $5, phase = $6,
            phase_started_at = $7, ack_deadline = $8, commander = $9, scribe = $10, liaison = $11,
            acknowledged_by = $12, acknowledged_at = $13, resolved_by = $14, resolved_at = $15,
            closed_by = $16, closed_at = $17, last_progress_at = $18, updated_at = $19,
            responder = $20, next_update_at = $21
         WHERE id = $1",
    )
    .bind(i.id)
    .bind(&i.title)
    .bind(i.severity)
    .bind(&i.departments)
    .bind(i.status)
    .bind(i.phase)
    .bind(i.phase_started_at)
    .bind(i.ack_deadline)
    .bind(&i.commander)
    .bind(&i.scribe)
    .bind(&i.liaison)
    .bind(&i.acknowledged_by)
    .bind(i.acknowledged_at)
    .bind(&i.resolved_by)
    .bind(i.resolved_at)
    .bind(&i.closed_by)
    .bind(i.closed_at)
    .bind(i.last_progress_at)
    .bind(i.updated_at)
    .bind(&i.responder)
    .bind(i.next_update_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Postmortem {
    pub incident_id: i64,
    pub overview: String,
    pub what_happened: String,
    pub contributing_factors: String,
    pub resolution: String,
    pub impact: String,
    pub written_by: String,
    pub written_at: DateTime<Utc>,
}

pub async fn postmortem(conn: &mut PgConnection, id: i64) -> Result<Option<Postmortem>> {
    Ok(sqlx::query_as(
        "SELECT incident_id, overview, what_happened, contributing_factors, resolution, impact, written_by, written_at
         FROM incident_postmortems WHERE incident_id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn save_postmortem(conn: &mut PgConnection, p: &Postmortem) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_postmortems (incident_id, overview, what_happened, contributing_factors, resolution, impact, written_by, written_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (incident_id) DO UPDATE SET overview = EXCLUDED.overview, what_happened = EXCLUDED.what_happened,
           contributing_factors = EXCLUDED.contributing_factors, resolution = EXCLUDED.resolution, impact = EXCLUDED.impact,
           written_by = EXCLUDED.written_by, written_at = EXCLUDED.written_at",
    )
    .bind(p.incident_id)
    .bind(&p.overview)
    .bind(&p.what_happened)
    .bind(&p.contributing_factors)
    .bind(&p.resolution)
    .bind(&p.impact)
    .bind(&p.written_by)
    .bind(p.written_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ActionItem {
    pub id: i64,
    pub incident_id: i64,
    pub description: String,
    pub owner: String,
    pub due_at: DateTime<Utc>,
    pub status: ActionItemStatus,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

const ACTION_ITEM_COLUMNS: &str =
    "id, incident_id, description, owner, due_at, status, created_by, created_at, done_at";

#[derive(Debug, Clone)]
pub struct NewActionItem<'a> {
    pub incident_id: i64,
    pub description: &'a str,
    pub owner: &'a str,
    pub due_at: DateTime<Utc>,
    pub created_by: &'a str,
    pub now: DateTime<Utc>,
}

pub async fn insert_action_item(
    conn: &mut PgConnection,
    a: &NewActionItem<'_>,
) -> Result<ActionItem> {
    let sql = format!(
        "INSERT INTO incident_action_items (incident_id, description, owner, due_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING {ACTION_ITEM_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(a.incident_id)
        .bind(a.description)
        .bind(a.owner)
        .bind(a.due_at)
        .bind(a.created_by)
        .bind(a.now)
        .fetch_one(conn)
        .await?)
}

/// Mark an action item done.
pub async fn complete_action_item(
    conn: &mut PgConnection,
    id: i64,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE incident_action_items SET status = $3, done_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .bind(ActionItemStatus::Done)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn action_items(conn: &mut PgConnection, incident_id: i64) -> Result<Vec<ActionItem>> {
    let sql = format!(
        "SELECT {ACTION_ITEM_COLUMNS} FROM incident_action_items WHERE incident_id = $1 ORDER BY id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(incident_id)
        .fetch_all(conn)
        .await?)
}

/// Load an action item, locking it for the rest of the transaction.
pub async fn action_item(conn: &mut PgConnection, id: i64) -> Result<ActionItem> {
    let sql =
        format!("SELECT {ACTION_ITEM_COLUMNS} FROM incident_action_items WHERE id = $1 FOR UPDATE");
    let row: Option<ActionItem> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no action item #{id}")))
}

// ---- the event log, for metrics ----------------------------------------------

/// Phase changes of these incidents from the event log, oldest first:
/// (incident id, when, the phase it entered as stored in the event).
pub async fn phase_changes(
    conn: &mut PgConnection,
    incident_ids: &[String],
) -> Result<Vec<(String, DateTime<Utc>, String)>> {
    Ok(sqlx::query_as(
        "SELECT entity_id, occurred_at, payload->>'phase' FROM events
         WHERE workflow = $1 AND entity_id = ANY($2) AND payload->>'phase_changed' = 'true' ORDER BY id",
    )
    .bind(super::WORKFLOW)
    .bind(incident_ids)
    .fetch_all(conn)
    .await?)
}

/// How many phase overruns each of these incidents had: (incident id, count).
pub async fn overrun_counts(
    conn: &mut PgConnection,
    incident_ids: &[String],
) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT entity_id, count(*) FROM events WHERE workflow = $1 AND entity_id = ANY($2) AND action = 'phase_overrun' GROUP BY entity_id",
    )
    .bind(super::WORKFLOW)
    .bind(incident_ids)
    .fetch_all(conn)
    .await?)
}

// ---- metric readings, for KPI rules ---------------------------------------------

/// The average of a metric's readings in [from, to) and how many there were.
pub async fn trailing_average(
    conn: &mut PgConnection,
    metric: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(Option<f64>, i64)> {
    Ok(sqlx::query_as(
        "SELECT avg(value), count(*) FROM metric_readings WHERE metric = $1 AND recorded_at < $2 AND recorded_at >= $3",
    )
    .bind(metric)
    .bind(to)
    .bind(from)
    .fetch_one(conn)
    .await?)
}

/// A metric's latest reading at or before `at`.
pub async fn latest_reading_at(
    conn: &mut PgConnection,
    metric: &str,
    at: DateTime<Utc>,
) -> Result<Option<f64>> {
    Ok(sqlx::query_scalar(
        "SELECT value FROM metric_readings WHERE metric = $1 AND recorded_at <= $2 ORDER BY recorded_at DESC, id DESC LIMIT 1",
    )
    .bind(metric)
    .bind(at)
    .fetch_optional(conn)
    .await?)
}

/// A metric's latest reading.
pub async fn latest_reading(conn: &mut PgConnection, metric: &str) -> Result<Option<f64>> {
    Ok(sqlx::query_scalar(
        "SELECT value FROM metric_readings WHERE metric = $1 ORDER BY recorded_at DESC, id DESC LIMIT 1",
    )
    .bind(metric)
    .fetch_optional(conn)
    .await?)
}

/// One monitoring alert and the incident it opened or joined.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AlertRow {
    pub dedup_key: String,
    pub source: String,
    pub incident_id: i64,
    pub status: String,
    pub summary: String,
    pub fire_count: i32,
    pub first_fired_at: DateTime<Utc>,
    pub last_fired_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

const ALERT_COLUMNS: &str = "dedup_key, source, incident_id, status, summary, fire_count, first_fired_at, last_fired_at, resolved_at";

/// Serialise every writer of one alert key until the transaction ends, so
/// the same alert sent twice at once attaches once.
pub async fn lock_alert_key(conn: &mut PgConnection, key: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('crisis_alert:' || $1, 0))")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn alert(conn: &mut PgConnection, key: &str) -> Result<Option<AlertRow>> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM crisis_alerts WHERE dedup_key = $1 FOR UPDATE");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?)
}

/// A new alert, or an alert known before now pointing at `incident_id`.
#[allow(clippy::too_many_arguments)]
pub async fn upsert_alert(
    conn: &mut PgConnection,
    key: &str,
    source: &str,
    incident_id: i64,
    summary: &str,
    labels: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO crisis_alerts (dedup_key, source, incident_id, status, summary, labels, first_fired_at, last_fired_at)
         VALUES ($1, $2, $3, 'firing', $4, $5, $6, $6)
         ON CONFLICT (dedup_key) DO UPDATE SET incident_id = $3, status = 'firing', summary = $4,
             labels = $5, last_fired_at = $6, resolved_at = NULL, fire_count = crisis_alerts.fire_count + 1",
    )
    .bind(key)
    .bind(source)
    .bind(incident_id)
    .bind(summary)
    .bind(labels)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn resolve_alert(conn: &mut PgConnection, key: &str, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE crisis_alerts SET status = 'resolved', resolved_at = $2 WHERE dedup_key = $1",
    )
    .bind(key)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many of an incident's alerts are still firing, and how many it has.
pub async fn alerts_firing(conn: &mut PgConnection, incident_id: i64) -> Result<(i64, i64)> {
    let row: (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'firing'), count(*) FROM crisis_alerts WHERE incident_id = $1",
    )
    .bind(incident_id)
    .fetch_one(conn)
    .await?;
    Ok(row)
}

/// New alerts from one source since `since` (a storm when many).
pub async fn recent_alerts_from(
    conn: &mut PgConnection,
    source: &str,
    since: DateTime<Utc>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM crisis_alerts WHERE source = $1 AND first_fired_at >= $2",
    )
    .bind(source)
    .bind(since)
    .fetch_one(conn)
    .await?)
}

/// The alerts attached to an incident, newest first.
pub async fn alerts_of(conn: &mut PgConnection, incident_id: i64) -> Result<Vec<AlertRow>> {
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM crisis_alerts WHERE incident_id = $1 ORDER BY last_fired_at DESC LIMIT 100"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(incident_id)
        .fetch_all(conn)
        .await?)
}

/// What the crisis tile counts.
pub struct TileCounts {
    pub open: i64,
    pub p1: i64,
    /// Triggered incidents past their acknowledgement deadline.
    pub unacked_late: i64,
    /// Mean seconds to acknowledge over 30 days (real incidents only).
    pub mtta: Option<f64>,
    /// Incidents opened per day, the last 14 days, oldest first.
    pub daily: Vec<f64>,
}

pub async fn tile_counts(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<TileCounts> {
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
         FROM incidents WHERE opened_at > $1 - interval '30 days' AND NOT simulated",
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
    Ok(TileCounts {
        open,
        p1,
        unacked_late,
        mtta,
        daily,
    })
}

/// Incidents in `statuses`, most urgent first, at most `limit`; with
/// `ids`, only those incidents.
pub async fn board_rows(
    conn: &mut PgConnection,
    statuses: &[&str],
    ids: Option<&[i64]>,
    limit: i64,
) -> Result<Vec<Incident>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents
         WHERE status = ANY($1) AND ($2::bigint[] IS NULL OR id = ANY($2))
         ORDER BY CASE status WHEN 'triggered' THEN 0 WHEN 'acknowledged' THEN 1 WHEN 'resolved' THEN 2 ELSE 3 END,
                  severity, opened_at, id
         LIMIT $3"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(statuses.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .bind(ids)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?)
}

/// (severity, open incidents) for every severity that has some.
pub async fn open_counts_by_severity(conn: &mut PgConnection) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT severity, count(*) FROM incidents WHERE status IN ('triggered', 'acknowledged') GROUP BY severity",
    )
    .fetch_all(conn)
    .await?)
}
