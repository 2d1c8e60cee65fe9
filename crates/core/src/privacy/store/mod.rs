//! SQL for subjects, keys, sealed PII, analytics, the access log, requests,
//! breaches and findings. Plaintext PII never passes through here: values
//! arrive sealed and leave sealed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::model::{
    BreachInfo, BreachState, BreachStatus, RequestKind, RequestState, RequestStatus,
};
use crate::error::{Error, Result};

mod audit;
mod report;

pub use audit::*;
pub use report::*;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Subject {
    pub id: i64,
    #[sqlx(rename = "ref")]
    pub r#ref: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub erased_at: Option<DateTime<Utc>>,
    pub erased_by: Option<String>,
    pub erasure_request: Option<i64>,
    /// Processing restricted (Art. 18): reads only for the legal purposes.
    pub restricted_at: Option<DateTime<Utc>>,
    /// Objected to direct marketing (Art. 21): no touches, no campaigns.
    pub objected_at: Option<DateTime<Utc>>,
}

impl Subject {
    pub fn erased(&self) -> bool {
        self.status == "erased"
    }
}

const SUBJECT: &str =
    "SELECT id, ref, status, created_at, created_by, erased_at, erased_by, erasure_request,
    restricted_at, objected_at FROM privacy_subjects";

pub async fn subject_by_ref(
    conn: &mut PgConnection,
    r: &str,
    lock: bool,
) -> Result<Option<Subject>> {
    let sql = format!(
        "{SUBJECT} WHERE ref = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(r)
        .fetch_optional(conn)
        .await?)
}

pub async fn subject_by_id(conn: &mut PgConnection, id: i64) -> Result<Subject> {
    let sql = format!("{SUBJECT} WHERE id = $1");
    let s: Option<Subject> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    s.ok_or_else(|| Error::not_found(format!("no data subject with id {id}")))
}

/// The subject named, or a sentence saying there is none.
pub async fn require_subject(conn: &mut PgConnection, r: &str, lock: bool) -> Result<Subject> {
    subject_by_ref(conn, r, lock)
        .await?
        .ok_or_else(|| unknown_subject(r))
}

pub fn unknown_subject(r: &str) -> Error {
    Error::not_found(format!(
        "no data subject {r:?}: nothing is held under that reference (`vivid privacy subjects` lists them)"
    ))
}

pub async fn next_subject_id(conn: &mut PgConnection) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('privacy_subjects', 'id'))")
            .fetch_one(conn)
            .await?,
    )
}

pub async fn insert_subject(
    conn: &mut PgConnection,
    id: i64,
    r: &str,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO privacy_subjects (id, ref, created_at, created_by) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(r)
    .bind(now)
    .bind(actor)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_erased(
    conn: &mut PgConnection,
    subject_id: i64,
    now: DateTime<Utc>,
    actor: &str,
    request: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "UPDATE privacy_subjects SET status = 'erased', erased_at = $2, erased_by = $3, erasure_request = $4 WHERE id = $1",
    )
    .bind(subject_id)
    .bind(now)
    .bind(actor)
    .bind(request)
    .execute(conn)
    .await?;
    Ok(())
}

/// A subject at a glance (no values).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SubjectSummary {
    #[sqlx(rename = "ref")]
    pub r#ref: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub pii_fields: Vec<String>,
    pub analytics_records: i64,
    pub open_requests: i64,
}

pub async fn subject_summaries(conn: &mut PgConnection, limit: i64) -> Result<Vec<SubjectSummary>> {
    Ok(sqlx::query_as(
        "SELECT s.ref, s.status, s.created_at,
                COALESCE((SELECT array_agg(field ORDER BY field) FROM privacy_pii p WHERE p.subject_id = s.id), '{}') AS pii_fields,
                (SELECT count(*) FROM privacy_analytics a WHERE a.subject_id = s.id) AS analytics_records,
                (SELECT count(*) FROM privacy_requests r WHERE r.subject_id = s.id
                    AND r.status NOT IN ('completed', 'refused')) AS open_requests
         FROM privacy_subjects s ORDER BY s.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DataKeyRow {
    pub subject_id: i64,
    pub key_version: i32,
    pub master_version: Option<i32>,
    pub wrapped: Option<Vec<u8>>,
    pub destroyed_at: Option<DateTime<Utc>>,
}

pub async fn data_key(conn: &mut PgConnection, subject_id: i64) -> Result<Option<DataKeyRow>> {
    Ok(sqlx::query_as(
        "SELECT subject_id, key_version, master_version, wrapped, destroyed_at FROM privacy_data_keys WHERE subject_id = $1",
    )
    .bind(subject_id)
    .fetch_optional(conn)
    .await?)
}

// ---- keys ---------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MasterVersion {
    pub version: i32,
    pub check_value: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// The master key version in use (locked for a rotation).
pub async fn current_master(conn: &mut PgConnection, lock: bool) -> Result<Option<MasterVersion>> {
    let sql = format!(
        "SELECT version, check_value, created_at, created_by FROM privacy_master_keys WHERE retired_at IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_optional(conn)
        .await?)
}

/// Register version 1 unless a key is registered already.
pub async fn register_first_master(
    conn: &mut PgConnection,
    check_value: &[u8],
    now: DateTime<Utc>,
    actor: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO privacy_master_keys (version, check_value, created_at, created_by) VALUES (1, $1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(check_value)
    .bind(now)
    .bind(actor)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn retire_master(
    conn: &mut PgConnection,
    version: i32,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE privacy_master_keys SET retired_at = $2 WHERE version = $1")
        .bind(version)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_master(
    conn: &mut PgConnection,
    version: i32,
    check_value: &[u8],
    now: DateTime<Utc>,
    actor: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO privacy_master_keys (version, check_value, created_at, created_by) VALUES ($1, $2, $3, $4)")
        .bind(version)
        .bind(check_value)
        .bind(now)
        .bind(actor)
        .execute(conn)
        .await?;
    Ok(())
}

/// (live data keys, destroyed data keys)
pub async fn data_key_counts(conn: &mut PgConnection) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(*) FILTER (WHERE wrapped IS NOT NULL), count(*) FILTER (WHERE wrapped IS NULL) FROM privacy_data_keys",
    )
    .fetch_one(conn)
    .await?)
}

pub async fn insert_data_key(
    conn: &mut PgConnection,
    subject_id: i64,
    master_version: i32,
    wrapped: &[u8],
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO privacy_data_keys (subject_id, key_version, master_version, wrapped, created_at)
         VALUES ($1, 1, $2, $3, $4)",
    )
    .bind(subject_id)
    .bind(master_version)
    .bind(wrapped)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every data key not destroyed, locked for re-wrapping.
pub async fn live_data_keys(conn: &mut PgConnection) -> Result<Vec<DataKeyRow>> {
    Ok(sqlx::query_as(
        "SELECT subject_id, key_version, master_version, wrapped, destroyed_at FROM privacy_data_keys
         WHERE wrapped IS NOT NULL ORDER BY subject_id FOR UPDATE",
    )
    .fetch_all(conn)
    .await?)
}

pub async fn rewrap_data_key(
    conn: &mut PgConnection,
    subject_id: i64,
    wrapped: &[u8],
    master_version: i32,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE privacy_data_keys SET wrapped = $2, master_version = $3, rewrapped_at = $4 WHERE subject_id = $1")
        .bind(subject_id)
        .bind(wrapped)
        .bind(master_version)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Crypto-shredding: the wrapped key is gone.
pub async fn destroy_data_key(
    conn: &mut PgConnection,
    subject_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE privacy_data_keys SET wrapped = NULL, master_version = NULL, destroyed_at = $2
         WHERE subject_id = $1 AND wrapped IS NOT NULL",
    )
    .bind(subject_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PiiRow {
    pub id: i64,
    pub subject_id: i64,
    pub field: String,
    pub category: String,
    pub ciphertext: Vec<u8>,
    pub key_version: i32,
    pub collected_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn pii_rows(conn: &mut PgConnection, subject_id: i64) -> Result<Vec<PiiRow>> {
    Ok(sqlx::query_as(
        "SELECT id, subject_id, field, category, ciphertext, key_version, collected_at, updated_at
         FROM privacy_pii WHERE subject_id = $1 ORDER BY field",
    )
    .bind(subject_id)
    .fetch_all(conn)
    .await?)
}

/// The id of a subject's sealed field, locked for replacement.
pub async fn pii_row_id(
    conn: &mut PgConnection,
    subject_id: i64,
    field: &str,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM privacy_pii WHERE subject_id = $1 AND field = $2 FOR UPDATE",
    )
    .bind(subject_id)
    .bind(field)
    .fetch_optional(conn)
    .await?)
}

/// A fresh id for a sealed field (the id is bound into the ciphertext).
pub async fn next_pii_id(conn: &mut PgConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT nextval('privacy_pii_id_seq')")
        .fetch_one(conn)
        .await?)
}

/// A sealed field to write (same row id when it is replaced).
#[derive(Debug, Clone)]
pub struct NewPii<'a> {
    pub id: i64,
    pub subject_id: i64,
    pub field: &'a str,
    pub category: &'a str,
    pub ciphertext: &'a [u8],
    pub key_version: i32,
    pub at: DateTime<Utc>,
}

pub async fn upsert_pii(conn: &mut PgConnection, p: &NewPii<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO privacy_pii (id, subject_id, field, category, ciphertext, key_version, collected_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT (id) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, category = EXCLUDED.category,
            key_version = EXCLUDED.key_version, updated_at = EXCLUDED.updated_at",
    )
    .bind(p.id)
    .bind(p.subject_id)
    .bind(p.field)
    .bind(p.category)
    .bind(p.ciphertext)
    .bind(p.key_version)
    .bind(p.at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn pii_count(conn: &mut PgConnection, subject_id: i64) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM privacy_pii WHERE subject_id = $1")
            .bind(subject_id)
            .fetch_one(conn)
            .await?,
    )
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AnalyticsRow {
    pub id: i64,
    pub field: String,
    pub category: String,
    pub value: String,
    pub collected_at: DateTime<Utc>,
}

pub async fn analytics_rows(conn: &mut PgConnection, subject_id: i64) -> Result<Vec<AnalyticsRow>> {
    Ok(sqlx::query_as(
        "SELECT id, field, category, value, collected_at FROM privacy_analytics WHERE subject_id = $1 ORDER BY id",
    )
    .bind(subject_id)
    .fetch_all(conn)
    .await?)
}

pub async fn insert_analytics(
    conn: &mut PgConnection,
    subject_id: i64,
    field: &str,
    category: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO privacy_analytics (subject_id, field, category, value, collected_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(subject_id)
    .bind(field)
    .bind(category)
    .bind(value)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_analytics_field(
    conn: &mut PgConnection,
    subject_id: i64,
    field: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM privacy_analytics WHERE subject_id = $1 AND field = $2")
        .bind(subject_id)
        .bind(field)
        .execute(conn)
        .await?;
    Ok(())
}

/// Analytics records no longer point at the person; how many.
pub async fn unlink_analytics(conn: &mut PgConnection, subject_id: i64) -> Result<i64> {
    let n = sqlx::query("UPDATE privacy_analytics SET subject_id = NULL WHERE subject_id = $1")
        .bind(subject_id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// One entry of the access log.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AccessEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub subject_ref: String,
    pub fields: Vec<String>,
    pub categories: Vec<String>,
    pub purpose: String,
    pub outcome: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewAccess<'a> {
    pub actor: &'a str,
    pub subject_id: Option<i64>,
    pub subject_ref: &'a str,
    pub fields: &'a [String],
    pub categories: &'a [String],
    pub purpose: &'a str,
    pub granted: bool,
    pub reason: Option<&'a str>,
    pub at: DateTime<Utc>,
}

pub async fn log_access(conn: &mut PgConnection, a: &NewAccess<'_>) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO privacy_access_log (at, actor, subject_id, subject_ref, fields, categories, purpose, outcome, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(a.at)
    .bind(a.actor)
    .bind(a.subject_id)
    .bind(a.subject_ref)
    .bind(a.fields)
    .bind(a.categories)
    .bind(a.purpose)
    .bind(if a.granted { "granted" } else { "refused" })
    .bind(a.reason)
    .fetch_one(conn)
    .await?)
}

#[derive(Debug, Clone, Default)]
pub struct AccessFilter {
    pub subject_ref: Option<String>,
    pub actor: Option<String>,
    pub refused_only: bool,
    pub limit: i64,
}

/// The access log, newest first.
pub async fn access_log(conn: &mut PgConnection, f: &AccessFilter) -> Result<Vec<AccessEntry>> {
    Ok(sqlx::query_as(
        "SELECT id, at, actor, subject_ref, fields, categories, purpose, outcome, reason FROM privacy_access_log
         WHERE ($1::text IS NULL OR subject_ref = $1) AND ($2::text IS NULL OR actor = $2)
           AND (NOT $3 OR outcome = 'refused')
         ORDER BY id DESC LIMIT $4",
    )
    .bind(&f.subject_ref)
    .bind(&f.actor)
    .bind(f.refused_only)
    .bind(if f.limit > 0 { f.limit } else { 100 })
    .fetch_all(conn)
    .await?)
}

// ---- requests -----------------------------------------------------------------

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Request {
    pub id: i64,
    /// None: opened by an e-mail address nobody holds data on.
    pub subject_id: Option<i64>,
    /// The subject's reference, or "-" without one.
    pub subject_ref: String,
    pub kind: String,
    pub status: String,
    pub received_at: DateTime<Utc>,
    pub first_due_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub extended_months: i32,
    pub extension_reason: Option<String>,
    pub person_told_at: Option<DateTime<Utc>>,
    pub opened_by: String,
    pub note: String,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    pub outcome: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
    pub verified_by: Option<String>,
    /// How the identity was checked (never the evidence itself).
    pub verification: Option<String>,
    /// The erasure's four-eyes approval.
    pub approval_id: Option<i64>,
}

/// The subject reference shown for a request without a subject.
pub const NO_SUBJECT: &str = "-";

fn corrupt(what: &str, id: i64, value: &str) -> Error {
    Error::internal(format!(
        "{what} #{id} has an unknown value {value:?} in the database"
    ))
}

impl Request {
    pub fn status(&self) -> Result<RequestStatus> {
        RequestStatus::parse(&self.status).ok_or_else(|| corrupt("request", self.id, &self.status))
    }

    /// Still to be answered.
    pub fn is_open(&self) -> bool {
        RequestStatus::parse(&self.status).is_some_and(RequestStatus::is_open)
    }

    pub fn kind(&self) -> Result<RequestKind> {
        RequestKind::parse(&self.kind).ok_or_else(|| corrupt("request", self.id, &self.kind))
    }

    pub fn state(&self) -> Result<RequestState> {
        Ok(RequestState {
            id: self.id,
            status: self.status()?,
            first_due: self.first_due_at,
            extended_months: u32::try_from(self.extended_months).unwrap_or(0),
        })
    }

    /// Completed by the deadline (None while open).
    pub fn on_time(&self) -> Option<bool> {
        self.completed_at.map(|c| c <= self.due_at)
    }
}

const REQUEST: &str = "SELECT r.id, r.subject_id, COALESCE(s.ref, '-') AS subject_ref, r.kind, r.status, r.received_at,
    r.first_due_at, r.due_at, r.extended_months, r.extension_reason, r.person_told_at, r.opened_by, r.note,
    r.completed_at, r.completed_by, r.outcome, r.updated_at, r.verified_at, r.verified_by, r.verification,
    r.approval_id
    FROM privacy_requests r LEFT JOIN privacy_subjects s ON s.id = r.subject_id";

/// SQL: the request `r` is still open.
const OPEN: &str = "r.status NOT IN ('completed', 'refused')";

pub async fn request(conn: &mut PgConnection, id: i64, lock: bool) -> Result<Request> {
    let sql = format!(
        "{REQUEST} WHERE r.id = $1{}",
        if lock { " FOR UPDATE OF r" } else { "" }
    );
    let r: Option<Request> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    r.ok_or_else(|| Error::not_found(format!("no data-subject request #{id}")))
}

pub async fn requests(
    conn: &mut PgConnection,
    open_only: bool,
    subject_id: Option<i64>,
) -> Result<Vec<Request>> {
    let sql = format!(
        "{REQUEST} WHERE (NOT $1 OR {OPEN}) AND ($2::bigint IS NULL OR r.subject_id = $2)
         ORDER BY ({OPEN}) DESC, r.due_at, r.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(open_only)
        .bind(subject_id)
        .fetch_all(conn)
        .await?)
}

pub async fn save_request(conn: &mut PgConnection, r: &Request) -> Result<()> {
    sqlx::query(
        "UPDATE privacy_requests SET status = $2, due_at = $3, extended_months = $4, extension_reason = $5,
            person_told_at = $6, completed_at = $7, completed_by = $8, outcome = $9, updated_at = $10,
            verified_at = $11, verified_by = $12, verification = $13, approval_id = $14, first_due_at = $15
         WHERE id = $1",
    )
    .bind(r.id)
    .bind(&r.status)
    .bind(r.due_at)
    .bind(r.extended_months)
    .bind(&r.extension_reason)
    .bind(r.person_told_at)
    .bind(r.completed_at)
    .bind(&r.completed_by)
    .bind(&r.outcome)
    .bind(r.updated_at)
    .bind(r.verified_at)
    .bind(&r.verified_by)
    .bind(&r.verification)
    .bind(r.approval_id)
    .bind(r.first_due_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A request as it is opened.
#[derive(Debug, Clone)]
pub struct NewRequestRow<'a> {
    pub subject_id: Option<i64>,
    pub kind: &'a str,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub opened_by: &'a str,
    pub note: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn insert_request(conn: &mut PgConnection, r: &NewRequestRow<'_>) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO privacy_requests (subject_id, kind, received_at, first_due_at, due_at, opened_by, note, updated_at)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING id",
    )
    .bind(r.subject_id)
    .bind(r.kind)
    .bind(r.received_at)
    .bind(r.due_at)
    .bind(r.opened_by)
    .bind(r.note)
    .bind(r.at)
    .fetch_one(conn)
    .await?)
}

// ---- breaches -----------------------------------------------------------------

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Breach {
    pub id: i64,
    pub incident_id: i64,
    pub finding_id: Option<i64>,
    pub status: String,
    pub title: String,
    pub aware_at: DateTime<Utc>,
    pub notify_by: DateTime<Utc>,
    pub notified_at: Option<DateTime<Utc>>,
    pub notified_by: Option<String>,
    pub late_reason: Option<String>,
    pub exempt_reason: Option<String>,
    pub nature: Option<String>,
    /// The categories of people and of records concerned (Art. 33(3)(a)).
    pub categories: Option<String>,
    pub people_approx: Option<i64>,
    pub records_approx: Option<i64>,
    pub contact_point: Option<String>,
    pub consequences: Option<String>,
    pub measures: Option<String>,
    pub phases: i32,
    pub approval_id: Option<i64>,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

fn present(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|t| !t.trim().is_empty())
}

impl Breach {
    pub fn status(&self) -> Result<BreachStatus> {
        BreachStatus::parse(&self.status).ok_or_else(|| corrupt("breach", self.id, &self.status))
    }

    pub fn state(&self, tasks_open: u32, tasks_done: u32) -> Result<BreachState> {
        Ok(BreachState {
            id: self.id,
            status: self.status()?,
            notify_by: self.notify_by,
            notified: self.notified_at.is_some(),
            info: BreachInfo {
                nature: present(&self.nature),
                categories: present(&self.categories),
                people_approx: self.people_approx.is_some(),
                records_approx: self.records_approx.is_some(),
                contact_point: present(&self.contact_point),
                consequences: present(&self.consequences),
                measures: present(&self.measures),
            },
            tasks_open,
            tasks_done,
        })
    }

    /// Notified within the deadline (None while not notified).
    pub fn on_time(&self) -> Option<bool> {
        self.notified_at.map(|n| n <= self.notify_by)
    }
}

const BREACH: &str = "SELECT id, incident_id, finding_id, status, title, aware_at, notify_by, notified_at, notified_by,
    late_reason, exempt_reason, nature, categories, people_approx, records_approx, contact_point, consequences, measures, phases,
    approval_id, opened_by, opened_at, closed_at, updated_at FROM privacy_breaches";

pub async fn breach(conn: &mut PgConnection, id: i64, lock: bool) -> Result<Breach> {
    let sql = format!(
        "{BREACH} WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let b: Option<Breach> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    b.ok_or_else(|| Error::not_found(format!("no breach #{id}")))
}

pub async fn breaches(conn: &mut PgConnection, open_only: bool) -> Result<Vec<Breach>> {
    let sql = format!(
        "{BREACH} WHERE (NOT $1 OR status <> 'closed') ORDER BY (status = 'closed'), notify_by, id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(open_only)
        .fetch_all(conn)
        .await?)
}

pub async fn save_breach(conn: &mut PgConnection, b: &Breach) -> Result<()> {
    sqlx::query(
        "UPDATE privacy_breaches SET status = $2, notified_at = $3, notified_by = $4, late_reason = $5,
            exempt_reason = $6, nature = $7, people_approx = $8, records_approx = $9, contact_point = $10,
            consequences = $11, measures = $12, phases = $13, approval_id = $14, closed_at = $15, updated_at = $16,
            categories = $17
         WHERE id = $1",
    )
    .bind(b.id)
    .bind(&b.status)
    .bind(b.notified_at)
    .bind(&b.notified_by)
    .bind(&b.late_reason)
    .bind(&b.exempt_reason)
    .bind(&b.nature)
    .bind(b.people_approx)
    .bind(b.records_approx)
    .bind(&b.contact_point)
    .bind(&b.consequences)
    .bind(&b.measures)
    .bind(b.phases)
    .bind(b.approval_id)
    .bind(b.closed_at)
    .bind(b.updated_at)
    .bind(&b.categories)
    .execute(conn)
    .await?;
    Ok(())
}

/// A breach as it is recorded.
#[derive(Debug, Clone)]
pub struct NewBreachRow<'a> {
    pub incident_id: i64,
    pub finding_id: Option<i64>,
    pub title: &'a str,
    pub aware_at: DateTime<Utc>,
    pub notify_by: DateTime<Utc>,
    pub opened_by: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn insert_breach(conn: &mut PgConnection, b: &NewBreachRow<'_>) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO privacy_breaches (incident_id, finding_id, status, title, aware_at, notify_by, opened_by, opened_at, updated_at)
         VALUES ($1, $2, 'assessing', $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(b.incident_id)
    .bind(b.finding_id)
    .bind(b.title)
    .bind(b.aware_at)
    .bind(b.notify_by)
    .bind(b.opened_by)
    .bind(b.at)
    .fetch_one(conn)
    .await?)
}

/// A breach's remediation tasks: (open, done).
pub async fn task_counts(conn: &mut PgConnection, breach_id: i64) -> Result<(u32, u32)> {
    let (open, done): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'open'), count(*) FILTER (WHERE status = 'done')
         FROM privacy_breach_tasks WHERE breach_id = $1",
    )
    .bind(breach_id)
    .fetch_one(conn)
    .await?;
    Ok((
        u32::try_from(open).unwrap_or(u32::MAX),
        u32::try_from(done).unwrap_or(u32::MAX),
    ))
}

pub async fn insert_phase(
    conn: &mut PgConnection,
    breach_id: i64,
    phase: i32,
    info: &serde_json::Value,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO privacy_breach_phases (breach_id, phase, info, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(breach_id)
    .bind(phase)
    .bind(info)
    .bind(actor)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Task {
    pub id: i64,
    pub breach_id: i64,
    pub description: String,
    pub owner: String,
    pub due_at: DateTime<Utc>,
    pub status: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
}

pub async fn tasks(conn: &mut PgConnection, breach_id: i64) -> Result<Vec<Task>> {
    Ok(sqlx::query_as(
        "SELECT id, breach_id, description, owner, due_at, status, created_by, created_at, done_at, done_by
         FROM privacy_breach_tasks WHERE breach_id = $1 ORDER BY id",
    )
    .bind(breach_id)
    .fetch_all(conn)
    .await?)
}

const TASK: &str =
    "id, breach_id, description, owner, due_at, status, created_by, created_at, done_at, done_by";

pub async fn insert_task(
    conn: &mut PgConnection,
    breach_id: i64,
    description: &str,
    owner: &str,
    due: DateTime<Utc>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Task> {
    let sql = format!(
        "INSERT INTO privacy_breach_tasks (breach_id, description, owner, due_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TASK}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(breach_id)
        .bind(description)
        .bind(owner)
        .bind(due)
        .bind(actor)
        .bind(now)
        .fetch_one(conn)
        .await?)
}

pub async fn task(conn: &mut PgConnection, id: i64, lock: bool) -> Result<Option<Task>> {
    let sql = format!(
        "SELECT {TASK} FROM privacy_breach_tasks WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

pub async fn finish_task(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<Task> {
    let sql = format!(
        "UPDATE privacy_breach_tasks SET status = 'done', done_at = $2, done_by = $3 WHERE id = $1 RETURNING {TASK}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(now)
        .bind(actor)
        .fetch_one(conn)
        .await?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Phase {
    pub phase: i32,
    pub info: serde_json::Value,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

pub async fn phases(conn: &mut PgConnection, breach_id: i64) -> Result<Vec<Phase>> {
    Ok(sqlx::query_as(
        "SELECT phase, info, recorded_by, recorded_at FROM privacy_breach_phases WHERE breach_id = $1 ORDER BY phase",
    )
    .bind(breach_id)
    .fetch_all(conn)
    .await?)
}

// ---- audits and findings ------------------------------------------------------

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Audit {
    pub id: i64,
    pub trigger: String,
    pub run_by: String,
    pub ran_at: DateTime<Utc>,
    pub outcome: String,
    pub checks: serde_json::Value,
    pub documentation: String,
}

const AUDIT: &str =
    "SELECT id, trigger, run_by, ran_at, outcome, checks, documentation FROM privacy_audits";

pub async fn audit(conn: &mut PgConnection, id: i64) -> Result<Audit> {
    let sql = format!("{AUDIT} WHERE id = $1");
    let a: Option<Audit> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    a.ok_or_else(|| Error::not_found(format!("no audit #{id}")))
}

pub async fn audits(conn: &mut PgConnection, limit: i64) -> Result<Vec<Audit>> {
    let sql = format!("{AUDIT} ORDER BY id DESC LIMIT $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit.max(1))
        .fetch_all(conn)
        .await?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Finding {
    pub id: i64,
    pub audit_id: i64,
    pub kind: String,
    pub severity: String,
    pub condition: String,
    pub person: Option<String>,
    pub subject_ref: Option<String>,
    pub detail: String,
    pub facts: serde_json::Value,
    pub status: String,
    pub incident_id: Option<i64>,
    pub opened_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub seen: i32,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

const FINDING: &str = "SELECT id, audit_id, kind, severity, condition, person, subject_ref, detail, facts, status,
    incident_id, opened_at, last_seen_at, seen, resolved_at, resolved_by, resolution FROM privacy_findings";

pub async fn finding(conn: &mut PgConnection, id: i64, lock: bool) -> Result<Finding> {
    let sql = format!(
        "{FINDING} WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let f: Option<Finding> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    f.ok_or_else(|| Error::not_found(format!("no finding #{id}")))
}

pub async fn findings(
    conn: &mut PgConnection,
    open_only: bool,
    audit_id: Option<i64>,
) -> Result<Vec<Finding>> {
    let sql = format!(
        "{FINDING} WHERE (NOT $1 OR status = 'open') AND ($2::bigint IS NULL OR audit_id = $2 OR id IN
            (SELECT id FROM privacy_findings WHERE status = 'open' AND $2::bigint IS NOT NULL AND last_seen_at >=
                (SELECT ran_at FROM privacy_audits WHERE id = $2)))
         ORDER BY (status = 'open') DESC, CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(open_only)
        .bind(audit_id)
        .fetch_all(conn)
        .await?)
}

pub async fn resolve_finding(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    actor: &str,
    resolution: &str,
) -> Result<()> {
    sqlx::query("UPDATE privacy_findings SET status = 'resolved', resolved_at = $2, resolved_by = $3, resolution = $4 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(actor)
        .bind(resolution)
        .execute(conn)
        .await?;
    Ok(())
}

/// Is the audit schedule's timer pending?
pub async fn audit_timer_pending(
    conn: &mut PgConnection,
    kind: &str,
    entity: &str,
) -> Result<bool> {
    let pending: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM timers WHERE kind = $1 AND workflow = $2 AND entity_id = $3 AND status = 'pending' LIMIT 1",
    )
    .bind(kind)
    .bind(super::WORKFLOW)
    .bind(entity)
    .fetch_optional(conn)
    .await?;
    Ok(pending.is_some())
}

// ---- the e-mail blind index ---------------------------------------------------

/// Point a subject's blind index at `index` (one address per subject).
pub async fn set_email_index(
    conn: &mut PgConnection,
    subject_id: i64,
    index: &[u8],
    master_version: i32,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO privacy_email_index (subject_id, blind_index, master_version) VALUES ($1, $2, $3)
         ON CONFLICT (subject_id) DO UPDATE SET blind_index = EXCLUDED.blind_index,
            master_version = EXCLUDED.master_version",
    )
    .bind(subject_id)
    .bind(index)
    .bind(master_version)
    .execute(conn)
    .await?;
    Ok(())
}

/// The subjects whose address has this blind index.
pub async fn subjects_by_email_index(
    conn: &mut PgConnection,
    index: &[u8],
) -> Result<Vec<Subject>> {
    let sql = format!(
        "{SUBJECT} WHERE id IN (SELECT subject_id FROM privacy_email_index WHERE blind_index = $1) ORDER BY id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(index)
        .fetch_all(conn)
        .await?)
}

pub async fn delete_email_index(conn: &mut PgConnection, subject_id: i64) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM privacy_email_index WHERE subject_id = $1")
            .bind(subject_id)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// A subject's sealed field by name.
pub async fn pii_field(
    conn: &mut PgConnection,
    subject_id: i64,
    field: &str,
) -> Result<Option<PiiRow>> {
    Ok(sqlx::query_as(
        "SELECT id, subject_id, field, category, ciphertext, key_version, collected_at, updated_at
         FROM privacy_pii WHERE subject_id = $1 AND field = $2",
    )
    .bind(subject_id)
    .bind(field)
    .fetch_optional(conn)
    .await?)
}

// ---- restriction and objection ------------------------------------------------

pub async fn set_restricted(
    conn: &mut PgConnection,
    subject_id: i64,
    at: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query("UPDATE privacy_subjects SET restricted_at = $2 WHERE id = $1")
        .bind(subject_id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_objected(
    conn: &mut PgConnection,
    subject_id: i64,
    at: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query("UPDATE privacy_subjects SET objected_at = $2 WHERE id = $1")
        .bind(subject_id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Has the subject with this reference objected to direct marketing or
/// restricted their processing?
pub async fn marketing_stopped(conn: &mut PgConnection, r: &str) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM privacy_subjects WHERE ref = $1
            AND (objected_at IS NOT NULL OR restricted_at IS NOT NULL))",
    )
    .bind(r)
    .fetch_one(conn)
    .await?)
}
