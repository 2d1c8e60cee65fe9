//! SQL for incidents, post-mortems and action items.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::model::{Phase, Severity, State, Status};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Incident {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub source: String,
    pub source_ref: Option<String>,
    pub departments: Vec<String>,
    pub status: String,
    pub phase: String,
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
}

fn corrupt(id: i64, what: &str, value: &str) -> Error {
    Error::internal(format!(
        "incident #{id} has an unknown {what} {value:?} in the database"
    ))
}

impl Incident {
    pub fn severity(&self) -> Result<Severity> {
        self.severity
            .parse()
            .map_err(|_| corrupt(self.id, "severity", &self.severity))
    }

    pub fn status(&self) -> Result<Status> {
        Status::parse(&self.status).ok_or_else(|| corrupt(self.id, "status", &self.status))
    }

    pub fn phase(&self) -> Result<Phase> {
        self.phase
            .parse()
            .map_err(|_| corrupt(self.id, "phase", &self.phase))
    }

    pub fn state(&self, full_protocol: bool, postmortem_written: bool) -> Result<State> {
        Ok(State {
            id: self.id,
            status: self.status()?,
            phase: self.phase()?,
            severity: self.severity()?,
            full_protocol,
            postmortem_written,
        })
    }
}

pub(crate) const COLUMNS: &str = "id, title, description, severity, source, source_ref, departments, status, phase, phase_started_at,
    ack_deadline, commander, scribe, liaison, opened_by, opened_at, acknowledged_by, acknowledged_at, resolved_by,
    resolved_at, closed_by, closed_at, last_progress_at, trigger_key, updated_at";

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
}

/// Insert a new incident; None when its trigger already has an open incident.
pub async fn insert(conn: &mut PgConnection, i: &Insert<'_>) -> Result<Option<Incident>> {
    let sql = format!(
        "INSERT INTO incidents (title, description, severity, source, source_ref, departments, status, phase,
            phase_started_at, ack_deadline, commander, opened_by, opened_at, last_progress_at, trigger_key, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'triggered', 'detection', $7, $8, $9, $10, $7, $7, $11, $7)
         ON CONFLICT (trigger_key) WHERE trigger_key IS NOT NULL AND status IN ('triggered', 'acknowledged') DO NOTHING
         RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(i.title)
        .bind(i.description)
        .bind(i.severity.as_str())
        .bind(i.source)
        .bind(i.source_ref)
        .bind(i.departments)
        .bind(i.now)
        .bind(i.ack_deadline)
        .bind(i.commander)
        .bind(i.opened_by)
        .bind(i.trigger_key)
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
}

/// Incidents, most urgent first: open before resolved, by severity, oldest first.
pub async fn list(conn: &mut PgConnection, f: &ListFilter) -> Result<Vec<Incident>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents
         WHERE (cardinality($1::text[]) = 0 OR status = ANY($1))
           AND ($2::text IS NULL OR severity = $2)
           AND ($3::text IS NULL OR $3 = ANY(departments))
         ORDER BY CASE status WHEN 'triggered' THEN 0 WHEN 'acknowledged' THEN 1 WHEN 'resolved' THEN 2 ELSE 3 END,
                  severity, opened_at, id
         LIMIT $4"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&f.statuses)
        .bind(&f.severity)
        .bind(&f.department)
        .bind(if f.limit > 0 { f.limit } else { 1000 })
        .fetch_all(conn)
        .await?)
}

/// Write back the fields a command may change.
pub async fn save(conn: &mut PgConnection, i: &Incident) -> Result<()> {
    sqlx::query(
        "UPDATE incidents SET title = $2, severity = $3, departments = $4, status = $5, phase = $6,
            phase_started_at = $7, ack_deadline = $8, commander = $9, scribe = $10, liaison = $11,
            acknowledged_by = $12, acknowledged_at = $13, resolved_by = $14, resolved_at = $15,
            closed_by = $16, closed_at = $17, last_progress_at = $18, updated_at = $19
         WHERE id = $1",
    )
    .bind(i.id)
    .bind(&i.title)
    .bind(&i.severity)
    .bind(&i.departments)
    .bind(&i.status)
    .bind(&i.phase)
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
    pub status: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

pub async fn action_items(conn: &mut PgConnection, incident_id: i64) -> Result<Vec<ActionItem>> {
    Ok(sqlx::query_as(
        "SELECT id, incident_id, description, owner, due_at, status, created_by, created_at, done_at
         FROM incident_action_items WHERE incident_id = $1 ORDER BY id",
    )
    .bind(incident_id)
    .fetch_all(conn)
    .await?)
}

pub async fn action_item(conn: &mut PgConnection, id: i64) -> Result<ActionItem> {
    let row: Option<ActionItem> = sqlx::query_as(
        "SELECT id, incident_id, description, owner, due_at, status, created_by, created_at, done_at
         FROM incident_action_items WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.ok_or_else(|| Error::not_found(format!("no action item #{id}")))
}
