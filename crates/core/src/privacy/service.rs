//! Privacy commands. Each state change is one transaction: it writes the
//! entity, appends the event, schedules or cancels timers and queues
//! notifications. Reads of PII are logged in the same transaction as the
//! decryption, refusals included (the refusal commits, then the error is
//! returned). Events, notifications and logs carry field names, categories,
//! counts and pseudonymous subject references: never a value.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::classify::{Classified, Classifier};
use super::crypto::{DataKey, FieldBinding, MasterKey, WrapBinding};
use super::model::{
    self, BreachCommand, BreachEffect, BreachStatus, RequestCommand, RequestKind, RequestStatus,
};
use super::store::{self, Breach, Request, Subject};
use super::{WORKFLOW, deadline};
use crate::crisis::Severity;
use crate::crisis::service::{NewIncident, Source};
use crate::engine::Ctx;
use crate::engine::approvals::{self, Decision, NewApproval, Outcome};
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self, NewTimer};
use crate::error::{Error, Result};
use crate::org::{Person, RoleRef};

pub const AUDIT_TIMER: &str = "privacy.audit";
pub const REQUEST_REMIND_TIMER: &str = "privacy.request_remind";
pub const REQUEST_DUE_TIMER: &str = "privacy.request_due";
pub const BREACH_REMIND_TIMER: &str = "privacy.breach_remind";
pub const BREACH_DUE_TIMER: &str = "privacy.breach_due";
pub const TASK_DUE_TIMER: &str = "privacy.task_due";

/// The entity the audit schedule's timer hangs on.
pub const SCHEDULE_ENTITY: &str = "audit-schedule";

// ---- helpers ----------------------------------------------------------------------

pub(crate) fn roles(list: &[String]) -> Vec<RoleRef> {
    list.iter().filter_map(|r| r.parse().ok()).collect()
}

fn require(ctx: &Ctx, person: &Person, list: &[String], what: &str) -> Result<()> {
    let wanted = roles(list);
    if ctx.org.holds_any(person, &wanted) {
        return Ok(());
    }
    let names: Vec<String> = wanted.iter().map(|r| r.to_string()).collect();
    Err(Error::forbidden(format!(
        "{} cannot {what}: it takes one of these roles: {}",
        person.label(),
        names.join(", ")
    )))
}

fn crypto_failure(what: &str, e: super::crypto::CryptoError) -> Error {
    Error::invalid(format!("{what}: {e}"))
}

pub(crate) async fn event(
    ctx: &Ctx,
    conn: &mut PgConnection,
    entity_type: &str,
    entity_id: impl ToString,
    action: &str,
    actor: &str,
    build: impl FnOnce(NewEvent) -> NewEvent,
) -> Result<()> {
    let e = build(NewEvent::new(
        WORKFLOW,
        entity_type,
        entity_id,
        action,
        actor,
    ));
    events::append(conn, &e, ctx.now()).await?;
    Ok(())
}

/// Notify everyone holding one of `list`'s roles.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn notify_roles(
    ctx: &Ctx,
    conn: &mut PgConnection,
    list: &[String],
    entity_id: impl ToString,
    subject: &str,
    body: &str,
    severity: &'static str,
    dedupe: &str,
) -> Result<Vec<String>> {
    let wanted = roles(list);
    let entity = entity_id.to_string();
    let mut handles: Vec<String> = ctx
        .org
        .people
        .iter()
        .filter(|p| ctx.org.holds_any(p, &wanted))
        .map(|p| p.handle.clone())
        .collect();
    handles.sort();
    handles.dedup();
    for h in &handles {
        let n = NewNotification::to_person(h, WORKFLOW, &entity, subject)
            .body(body)
            .severity(severity)
            .dedupe(format!("{dedupe}:{h}"));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    Ok(handles)
}

pub(crate) async fn notify_channel(
    ctx: &Ctx,
    conn: &mut PgConnection,
    entity_id: impl ToString,
    subject: &str,
    body: &str,
    severity: &'static str,
    dedupe: &str,
) -> Result<()> {
    let n = NewNotification::to_channel(
        &super::config::settings(&ctx.config)?.channel,
        WORKFLOW,
        entity_id,
        subject,
    )
    .body(body)
    .severity(severity)
    .dedupe(dedupe);
    outbox::enqueue(ctx, conn, &n).await?;
    Ok(())
}

/// Refuse free text that carries personal data (purposes, breach records).
fn no_pii_in(ctx: &Ctx, what: &str, text: &str) -> Result<()> {
    let found = Classifier::new(super::config::settings(&ctx.config)?).scan_text(text);
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "{what} seems to contain personal data ({}): describe it without any",
        found.join(", ")
    )))
}

/// A subject reference: short, plain, and not personal data itself.
fn check_ref(ctx: &Ctx, r: &str) -> Result<()> {
    let ok = !r.is_empty()
        && r.len() <= 40
        && r.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(Error::invalid(format!(
            "subject reference {r:?} is not allowed: letters, digits, - and _ (at most 40)"
        )));
    }
    no_pii_in(ctx, "the subject reference", r)
}

// ---- the master key ------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MasterVersion {
    pub version: i32,
    pub check_value: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

async fn current_master_row(conn: &mut PgConnection, lock: bool) -> Result<Option<MasterVersion>> {
    let sql = format!(
        "SELECT version, check_value, created_at, created_by FROM privacy_master_keys WHERE retired_at IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_optional(conn)
        .await?)
}

fn wrong_key(version: i32) -> Error {
    Error::invalid(format!(
        "VIVID_MASTER_KEY is not this database's master key (version {version}): authentication of the key check failed. \
         Use the key the data was encrypted with; after a rotation, the new one"
    ))
}

/// The current master key version, proven to be `key`. The first key used
/// on an empty database becomes version 1.
pub async fn master_version(
    conn: &mut PgConnection,
    key: &MasterKey,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<i32> {
    if let Some(m) = current_master_row(conn, false).await? {
        return if key.matches(m.version, &m.check_value) {
            Ok(m.version)
        } else {
            Err(wrong_key(m.version))
        };
    }
    sqlx::query(
        "INSERT INTO privacy_master_keys (version, check_value, created_at, created_by) VALUES (1, $1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(key.check_value(1)?)
    .bind(now)
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    // Someone else may have registered a different key at the same instant.
    match current_master_row(conn, false).await? {
        Some(m) if key.matches(m.version, &m.check_value) => Ok(m.version),
        Some(m) => Err(wrong_key(m.version)),
        None => Err(Error::conflict(
            "the master key could not be registered; try again",
        )),
    }
}

/// What `check_key` found.
#[derive(Debug, Clone, Serialize)]
pub struct KeyStatus {
    /// None: no personal data was ever encrypted here.
    pub version: Option<i32>,
    pub data_keys: i64,
    pub destroyed_keys: i64,
}

/// Check a key against the database without changing anything: a wrong key
/// stops a command before it does anything.
pub async fn check_key(ctx: &Ctx, key: &MasterKey) -> Result<KeyStatus> {
    let mut conn = ctx.pool.acquire().await?;
    let version = match current_master_row(&mut conn, false).await? {
        Some(m) if key.matches(m.version, &m.check_value) => Some(m.version),
        Some(m) => return Err(wrong_key(m.version)),
        None => None,
    };
    let (data_keys, destroyed_keys): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE wrapped IS NOT NULL), count(*) FILTER (WHERE wrapped IS NULL) FROM privacy_data_keys",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(KeyStatus {
        version,
        data_keys,
        destroyed_keys,
    })
}

/// The subject's data key, created (and wrapped) on first use.
async fn data_key(
    conn: &mut PgConnection,
    key: &MasterKey,
    master: i32,
    subject: &Subject,
    create: bool,
    now: DateTime<Utc>,
) -> Result<(DataKey, i32)> {
    match store::data_key(conn, subject.id).await? {
        Some(row) => {
            let (Some(wrapped), Some(mv)) = (row.wrapped, row.master_version) else {
                return Err(Error::conflict(format!(
                    "subject {} was erased: its data key was destroyed{}",
                    subject.r#ref,
                    row.destroyed_at
                        .map(|t| format!(" on {}", t.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_default()
                )));
            };
            let binding = WrapBinding {
                subject_id: subject.id,
                key_version: row.key_version,
                master_version: mv,
            };
            let dek = key.unwrap_key(&wrapped, &binding).map_err(|e| {
                crypto_failure(
                    &format!("cannot unwrap the data key of {}", subject.r#ref),
                    e,
                )
            })?;
            Ok((dek, row.key_version))
        }
        None if create => {
            let dek =
                DataKey::generate().map_err(|e| crypto_failure("cannot make a data key", e))?;
            let binding = WrapBinding {
                subject_id: subject.id,
                key_version: 1,
                master_version: master,
            };
            let wrapped = key
                .wrap(&dek, &binding)
                .map_err(|e| crypto_failure("cannot wrap a data key", e))?;
            sqlx::query(
                "INSERT INTO privacy_data_keys (subject_id, key_version, master_version, wrapped, created_at)
                 VALUES ($1, 1, $2, $3, $4)",
            )
            .bind(subject.id)
            .bind(master)
            .bind(wrapped)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok((dek, 1))
        }
        None => Err(Error::not_found(format!(
            "subject {} has no personal data",
            subject.r#ref
        ))),
    }
}

// ---- collection ------------------------------------------------------------------------

/// What a collection stored (names and classes; never values).
#[derive(Debug, Clone, Serialize)]
pub struct Collected {
    pub subject: String,
    pub created: bool,
    pub fields: Vec<Classified>,
}

/// Collect a record about a subject (created when new; a reference is
/// generated when none is given). Every field must classify; PII is sealed
/// with the subject's data key, non-PII goes to analytics in clear.
pub async fn collect(
    ctx: &Ctx,
    key: &MasterKey,
    subject_ref: Option<&str>,
    fields: &[(String, String)],
    actor: &str,
) -> Result<Collected> {
    ctx.org.actor(actor)?;
    let classified = Classifier::new(super::config::settings(&ctx.config)?)
        .classify_record(fields)
        .map_err(|r| Error::invalid(format!("record refused: {r}")))?;
    if let Some(r) = subject_ref {
        check_ref(ctx, r)?;
    }
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let master = master_version(&mut tx, key, actor, now).await?;
    let existing = match subject_ref {
        Some(r) => store::subject_by_ref(&mut tx, r, true).await?,
        None => None,
    };
    let (subject, created) = match existing {
        Some(s) if s.erased() => {
            return Err(Error::conflict(format!(
                "subject {} was erased; nothing more is collected under that reference",
                s.r#ref
            )));
        }
        Some(s) => (s, false),
        None => {
            let id: i64 = sqlx::query_scalar(
                "SELECT nextval(pg_get_serial_sequence('privacy_subjects', 'id'))",
            )
            .fetch_one(&mut *tx)
            .await?;
            let r = subject_ref
                .map(str::to_string)
                .unwrap_or_else(|| format!("C{id:06}"));
            sqlx::query("INSERT INTO privacy_subjects (id, ref, created_at, created_by) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(&r)
                .bind(now)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
            (store::subject_by_id(&mut tx, id).await?, true)
        }
    };
    let has_pii = classified.iter().any(|c| c.pii);
    let dek = if has_pii {
        Some(data_key(&mut tx, key, master, &subject, true, now).await?)
    } else {
        None
    };
    for ((name, value), class) in fields.iter().zip(&classified) {
        match (&dek, class.pii) {
            (Some((dek, key_version)), true) => {
                store_pii(
                    &mut tx,
                    dek,
                    *key_version,
                    &subject,
                    name,
                    &class.category,
                    value,
                    now,
                )
                .await?;
            }
            _ => {
                sqlx::query(
                    "INSERT INTO privacy_analytics (subject_id, field, category, value, collected_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(subject.id)
                .bind(name)
                .bind(&class.category)
                .bind(value)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    let pii: Vec<&str> = classified
        .iter()
        .filter(|c| c.pii)
        .map(|c| c.field.as_str())
        .collect();
    let other: Vec<&str> = classified
        .iter()
        .filter(|c| !c.pii)
        .map(|c| c.field.as_str())
        .collect();
    event(ctx, &mut tx, "subject", &subject.r#ref, "collected", actor, |e| {
        e.transition(if created { None } else { Some("active") }, "active")
            .payload(serde_json::json!({ "pii_fields": pii, "analytics_fields": other, "created": created }))
    })
    .await?;
    ensure_audit_scheduled(ctx, &mut tx).await?;
    tx.commit().await?;
    Ok(Collected {
        subject: subject.r#ref,
        created,
        fields: classified,
    })
}

/// Seal a field into its row (same row id when it is replaced: rectification).
#[allow(clippy::too_many_arguments)]
async fn store_pii(
    conn: &mut PgConnection,
    dek: &DataKey,
    key_version: i32,
    subject: &Subject,
    field: &str,
    category: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM privacy_pii WHERE subject_id = $1 AND field = $2 FOR UPDATE",
    )
    .bind(subject.id)
    .bind(field)
    .fetch_optional(&mut *conn)
    .await?;
    let row_id = match existing {
        Some(id) => id,
        None => {
            sqlx::query_scalar("SELECT nextval('privacy_pii_id_seq')")
                .fetch_one(&mut *conn)
                .await?
        }
    };
    let sealed = dek
        .seal(
            value,
            &FieldBinding {
                row_id,
                subject_id: subject.id,
                field,
                key_version,
            },
        )
        .map_err(|e| crypto_failure("cannot seal a field", e))?;
    sqlx::query(
        "INSERT INTO privacy_pii (id, subject_id, field, category, ciphertext, key_version, collected_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT (id) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, category = EXCLUDED.category,
            key_version = EXCLUDED.key_version, updated_at = EXCLUDED.updated_at",
    )
    .bind(row_id)
    .bind(subject.id)
    .bind(field)
    .bind(category)
    .bind(sealed)
    .bind(key_version)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- reading ------------------------------------------------------------------------------

/// Decrypted fields, handed to the caller only.
#[derive(Debug, Clone, Serialize)]
pub struct PiiRead {
    pub subject: String,
    pub values: BTreeMap<String, String>,
    /// The access log entry that records this read.
    pub access_id: i64,
}

/// What to read, by whom, and why.
#[derive(Debug, Clone)]
pub struct ReadRequest<'a> {
    pub subject: &'a str,
    /// None: every PII field held.
    pub fields: Option<&'a [String]>,
    pub purpose: &'a str,
    pub actor: &'a str,
}

/// Purposes must say why in words; a few characters is not a reason.
const MIN_PURPOSE: usize = 8;

/// Read PII. Every attempt is logged (who, what, why, when), refusals too.
pub async fn read(ctx: &Ctx, key: &MasterKey, req: &ReadRequest<'_>) -> Result<PiiRead> {
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let outcome = read_in(ctx, &mut tx, key, req, now).await;
    match outcome {
        Ok(Ok(read)) => {
            tx.commit().await?;
            Ok(read)
        }
        // A refusal is recorded, then reported.
        Ok(Err((refusal, access))) => {
            store::log_access(
                &mut tx,
                &store::NewAccess {
                    actor: req.actor,
                    subject_id: access.subject_id,
                    subject_ref: req.subject,
                    fields: &access.fields,
                    categories: &access.categories,
                    purpose: &access.purpose,
                    granted: false,
                    reason: Some(&refusal.to_string()),
                    at: now,
                },
            )
            .await?;
            tx.commit().await?;
            Err(refusal)
        }
        Err(e) => Err(e),
    }
}

#[derive(Default)]
struct Attempt {
    subject_id: Option<i64>,
    fields: Vec<String>,
    categories: Vec<String>,
    purpose: String,
}

type ReadOutcome = std::result::Result<PiiRead, (Error, Attempt)>;

async fn read_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    key: &MasterKey,
    req: &ReadRequest<'_>,
    now: DateTime<Utc>,
) -> Result<ReadOutcome> {
    let mut attempt = Attempt {
        fields: req.fields.map(<[String]>::to_vec).unwrap_or_default(),
        ..Default::default()
    };
    // The purpose is logged as given, unless it carries personal data itself.
    let purpose = req.purpose.trim();
    attempt.purpose = match no_pii_in(ctx, "the purpose", purpose) {
        Ok(()) => purpose.to_string(),
        Err(_) => "[withheld: the purpose contained personal data]".into(),
    };
    let person = match ctx.org.actor(req.actor) {
        Ok(p) => p.clone(),
        Err(e) => return Ok(Err((e, attempt))),
    };
    let subject = match store::subject_by_ref(conn, req.subject, false).await? {
        Some(s) => s,
        None => return Ok(Err((store::unknown_subject(req.subject), attempt))),
    };
    attempt.subject_id = Some(subject.id);
    if purpose.chars().count() < MIN_PURPOSE {
        return Ok(Err((
            Error::invalid(format!(
                "a read of personal data needs a purpose saying why (--purpose TEXT, at least {MIN_PURPOSE} characters)"
            )),
            attempt,
        )));
    }
    if let Err(e) = no_pii_in(ctx, "the purpose", purpose) {
        return Ok(Err((e, attempt)));
    }
    if subject.erased() {
        return Ok(Err((
            Error::conflict(format!(
                "subject {} was erased{}: their personal data is unreadable",
                subject.r#ref,
                subject
                    .erased_at
                    .map(|t| format!(" on {}", t.format("%Y-%m-%d")))
                    .unwrap_or_default()
            )),
            attempt,
        )));
    }
    let rows = store::pii_rows(conn, subject.id).await?;
    let wanted: Vec<&store::PiiRow> = match req.fields {
        None => rows.iter().collect(),
        Some(names) => {
            let mut out = Vec::new();
            for n in names {
                match rows.iter().find(|r| &r.field == n) {
                    Some(r) => out.push(r),
                    None => {
                        return Ok(Err((
                            Error::not_found(format!(
                                "subject {} has no personal-data field `{n}`",
                                subject.r#ref
                            )),
                            attempt,
                        )));
                    }
                }
            }
            out
        }
    };
    attempt.fields = wanted.iter().map(|r| r.field.clone()).collect();
    let mut categories: Vec<String> = wanted.iter().map(|r| r.category.clone()).collect();
    categories.sort();
    categories.dedup();
    attempt.categories = categories.clone();
    let classifier = Classifier::new(super::config::settings(&ctx.config)?);
    let denied: Vec<&String> = categories
        .iter()
        .filter(|c| {
            classifier
                .category(c)
                .is_none_or(|cat| !ctx.org.holds_any(&person, &cat.readers))
        })
        .collect();
    if !denied.is_empty() {
        let names: Vec<&str> = denied.iter().map(|c| c.as_str()).collect();
        return Ok(Err((
            Error::forbidden(format!(
                "{} may not read {} data (`vivid privacy classify --categories` lists who may)",
                person.label(),
                names.join(", ")
            )),
            attempt,
        )));
    }
    let mut values = BTreeMap::new();
    if !wanted.is_empty() {
        let master = match master_version(conn, key, "engine", now).await {
            Ok(m) => m,
            Err(e) => return Ok(Err((e, attempt))),
        };
        let (dek, _) = match data_key(conn, key, master, &subject, false, now).await {
            Ok(k) => k,
            Err(e) => return Ok(Err((e, attempt))),
        };
        for row in &wanted {
            let binding = FieldBinding {
                row_id: row.id,
                subject_id: subject.id,
                field: &row.field,
                key_version: row.key_version,
            };
            match dek.open(&row.ciphertext, &binding) {
                Ok(v) => {
                    values.insert(row.field.clone(), v);
                }
                Err(e) => {
                    return Ok(Err((
                        crypto_failure(
                            &format!("cannot decrypt `{}` of {}", row.field, subject.r#ref),
                            e,
                        ),
                        attempt,
                    )));
                }
            }
        }
    }
    let access_id = store::log_access(
        conn,
        &store::NewAccess {
            actor: &person.handle,
            subject_id: Some(subject.id),
            subject_ref: &subject.r#ref,
            fields: &attempt.fields,
            categories: &attempt.categories,
            purpose: &attempt.purpose,
            granted: true,
            reason: None,
            at: now,
        },
    )
    .await?;
    Ok(Ok(PiiRead {
        subject: subject.r#ref,
        values,
        access_id,
    }))
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

pub async fn subjects(ctx: &Ctx, limit: i64) -> Result<Vec<SubjectSummary>> {
    let mut conn = ctx.pool.acquire().await?;
    Ok(sqlx::query_as(
        "SELECT s.ref, s.status, s.created_at,
                COALESCE((SELECT array_agg(field ORDER BY field) FROM privacy_pii p WHERE p.subject_id = s.id), '{}') AS pii_fields,
                (SELECT count(*) FROM privacy_analytics a WHERE a.subject_id = s.id) AS analytics_records,
                (SELECT count(*) FROM privacy_requests r WHERE r.subject_id = s.id AND r.status = 'open') AS open_requests
         FROM privacy_subjects s ORDER BY s.id LIMIT $1",
    )
    .bind(if limit > 0 { limit } else { 1000 })
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn access_log(ctx: &Ctx, f: &store::AccessFilter) -> Result<Vec<store::AccessEntry>> {
    let mut conn = ctx.pool.acquire().await?;
    store::access_log(&mut conn, f).await
}

// ---- the audit schedule ------------------------------------------------------------------

/// Make sure the audit timer is pending (idempotent; it reschedules itself).
pub async fn ensure_audit_scheduled(ctx: &Ctx, conn: &mut PgConnection) -> Result<()> {
    let pending: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM timers WHERE kind = $1 AND workflow = $2 AND entity_id = $3 AND status = 'pending'",
    )
    .bind(AUDIT_TIMER)
    .bind(WORKFLOW)
    .bind(SCHEDULE_ENTITY)
    .fetch_optional(&mut *conn)
    .await?;
    if pending.is_none() {
        let due = ctx.now() + super::config::settings(&ctx.config)?.audit_every.delta();
        schedule_audit_at(ctx, conn, due).await?;
    }
    Ok(())
}

pub async fn schedule_audit_at(
    ctx: &Ctx,
    conn: &mut PgConnection,
    due: DateTime<Utc>,
) -> Result<()> {
    timers::schedule(
        conn,
        &NewTimer::new(AUDIT_TIMER, WORKFLOW, SCHEDULE_ENTITY, due),
        ctx.now(),
    )
    .await?;
    Ok(())
}

// ---- data-subject requests ------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub subject: &'a str,
    pub kind: RequestKind,
    pub note: &'a str,
    /// When it arrived (default now); the clock runs from receipt.
    pub received_at: Option<DateTime<Utc>>,
}

async fn schedule_request_clocks(ctx: &Ctx, conn: &mut PgConnection, r: &Request) -> Result<()> {
    let id = r.id.to_string();
    timers::cancel(conn, WORKFLOW, &id, Some(REQUEST_REMIND_TIMER)).await?;
    let now = ctx.now();
    for before in &super::config::settings(&ctx.config)?.requests.remind_before {
        let at = r.due_at - before.delta();
        if at > now {
            timers::schedule(
                conn,
                &NewTimer::new(REQUEST_REMIND_TIMER, WORKFLOW, &id, at).key(before.to_string()),
                now,
            )
            .await?;
        }
    }
    timers::schedule(
        conn,
        &NewTimer::new(REQUEST_DUE_TIMER, WORKFLOW, &id, r.due_at),
        now,
    )
    .await?;
    Ok(())
}

/// Open a data-subject request; its one-month clock starts at receipt.
pub async fn open_request(ctx: &Ctx, new: &NewRequest<'_>, actor: &str) -> Result<Request> {
    let person = ctx.org.actor(actor)?.clone();
    require(
        ctx,
        &person,
        &super::config::settings(&ctx.config)?.request_handlers,
        "open data-subject requests",
    )?;
    no_pii_in(ctx, "the note", new.note)?;
    let now = ctx.now();
    let received = new.received_at.unwrap_or(now);
    if received > now {
        return Err(Error::invalid("a request cannot be received in the future"));
    }
    let mut tx = ctx.pool.begin().await?;
    let subject = store::require_subject(&mut tx, new.subject, false).await?;
    if subject.erased() && new.kind != RequestKind::Access {
        return Err(Error::conflict(format!(
            "subject {} was already erased: there is nothing left to {}",
            subject.r#ref,
            if new.kind == RequestKind::Erasure {
                "erase"
            } else {
                "rectify"
            }
        )));
    }
    let months = super::config::settings(&ctx.config)?.requests.months;
    let due = deadline::request_deadline(&ctx.calendar, received, months);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO privacy_requests (subject_id, kind, received_at, first_due_at, due_at, opened_by, note, updated_at)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING id",
    )
    .bind(subject.id)
    .bind(new.kind.as_str())
    .bind(received)
    .bind(due)
    .bind(actor)
    .bind(new.note.trim())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let r = store::request(&mut tx, id, false).await?;
    schedule_request_clocks(ctx, &mut tx, &r).await?;
    event(ctx, &mut tx, "request", id, "request_opened", actor, |e| {
        e.transition(None::<&str>, RequestStatus::Open)
            .reason(format!("{} request for {}", new.kind, subject.r#ref))
            .payload(serde_json::json!({ "kind": new.kind, "subject": subject.r#ref, "received_at": received, "due_at": due }))
    })
    .await?;
    notify_roles(
        ctx,
        &mut tx,
        &super::config::settings(&ctx.config)?.officers,
        id,
        &format!(
            "Data-subject request #{id} ({}) for {}",
            new.kind, subject.r#ref
        ),
        &format!("Due {}.", ctx.calendar.format_local(due)),
        "info",
        &format!("request:{id}:opened"),
    )
    .await?;
    ensure_audit_scheduled(ctx, &mut tx).await?;
    tx.commit().await?;
    Ok(r)
}

async fn lock_request_for(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    actor: &str,
    what: &str,
) -> Result<Request> {
    let person = ctx.org.actor(actor)?.clone();
    require(
        ctx,
        &person,
        &super::config::settings(&ctx.config)?.officers,
        what,
    )?;
    store::request(conn, id, true).await
}

/// Extend by one or two months; the person is told now, with the reason.
pub async fn extend_request(
    ctx: &Ctx,
    id: i64,
    months: u32,
    reason: &str,
    actor: &str,
) -> Result<Request> {
    if reason.trim().is_empty() {
        return Err(Error::invalid(
            "an extension needs the reason the person is told",
        ));
    }
    no_pii_in(ctx, "the reason", reason)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let mut r = lock_request_for(ctx, &mut tx, id, actor, "extend data-subject requests").await?;
    let max = super::config::settings(&ctx.config)?
        .requests
        .max_extension_months;
    model::decide_request(r.state()?, RequestCommand::Extend { months, max }, now)
        .map_err(|e| Error::invalid(format!("request #{id}: {}", e.0)))?;
    let total = u32::try_from(r.extended_months).unwrap_or(0) + months;
    let before = r.due_at;
    r.extended_months = i32::try_from(total).unwrap_or(i32::MAX);
    r.due_at = deadline::request_deadline(
        &ctx.calendar,
        r.received_at,
        super::config::settings(&ctx.config)?.requests.months + total,
    );
    r.extension_reason = Some(reason.trim().to_string());
    r.person_told_at = Some(now);
    r.updated_at = now;
    store::save_request(&mut tx, &r).await?;
    schedule_request_clocks(ctx, &mut tx, &r).await?;
    event(ctx, &mut tx, "request", id, "request_extended", actor, |e| {
        e.reason(reason.trim())
            .payload(serde_json::json!({ "months": months, "from": before, "to": r.due_at, "person_told_at": now }))
    })
    .await?;
    tx.commit().await?;
    Ok(r)
}

async fn finish_request(
    ctx: &Ctx,
    conn: &mut PgConnection,
    r: &mut Request,
    status: RequestStatus,
    outcome: String,
    actor: &str,
) -> Result<()> {
    let now = ctx.now();
    r.status = status.as_str().into();
    r.completed_at = Some(now);
    r.completed_by = Some(actor.into());
    r.outcome = Some(outcome.clone());
    r.updated_at = now;
    store::save_request(conn, r).await?;
    // The request's own clocks only: a breach with the same number shares
    // the workflow and the entity id.
    let key = r.id.to_string();
    timers::cancel(conn, WORKFLOW, &key, Some(REQUEST_REMIND_TIMER)).await?;
    timers::cancel(conn, WORKFLOW, &key, Some(REQUEST_DUE_TIMER)).await?;
    let on_time = now <= r.due_at;
    event(ctx, conn, "request", r.id, &format!("request_{status}"), actor, |e| {
        e.transition(Some(RequestStatus::Open), status)
            .reason(outcome)
            .payload(serde_json::json!({ "kind": r.kind, "subject": r.subject_ref, "on_time": on_time, "due_at": r.due_at }))
    })
    .await
}

/// Everything held on a person, decrypted: the answer to an access request.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub subject: String,
    pub status: String,
    pub generated_at: DateTime<Utc>,
    pub request_id: i64,
    pub personal_data: BTreeMap<String, ExportField>,
    pub other_data: Vec<store::AnalyticsRow>,
    /// Who read their personal data, when and why.
    pub accesses: Vec<store::AccessEntry>,
    pub requests: Vec<ExportRequest>,
    /// How long each category is kept.
    pub retention: BTreeMap<String, String>,
    pub erased_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportField {
    pub value: String,
    pub category: String,
    pub collected_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportRequest {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// Complete an access request: the export, decrypted, for the officer to send.
pub async fn complete_access(ctx: &Ctx, key: &MasterKey, id: i64, actor: &str) -> Result<Export> {
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let mut r = lock_request_for(ctx, &mut tx, id, actor, "execute data-subject requests").await?;
    if r.kind()? != RequestKind::Access {
        return Err(Error::invalid(format!(
            "request #{id} is a {} request, not access",
            r.kind
        )));
    }
    let status = model::decide_request(r.state()?, RequestCommand::Complete, now)
        .map_err(|e| Error::invalid(e.0))?;
    let subject = store::subject_by_id(&mut tx, r.subject_id).await?;
    let purpose = format!("data-subject access request #{id}");
    let mut personal_data = BTreeMap::new();
    let rows = store::pii_rows(&mut tx, subject.id).await?;
    if !subject.erased() && !rows.is_empty() {
        let master = master_version(&mut tx, key, actor, now).await?;
        let (dek, _) = data_key(&mut tx, key, master, &subject, false, now).await?;
        for row in &rows {
            let binding = FieldBinding {
                row_id: row.id,
                subject_id: subject.id,
                field: &row.field,
                key_version: row.key_version,
            };
            let value = dek
                .open(&row.ciphertext, &binding)
                .map_err(|e| crypto_failure(&format!("cannot decrypt `{}`", row.field), e))?;
            personal_data.insert(
                row.field.clone(),
                ExportField {
                    value,
                    category: row.category.clone(),
                    collected_at: row.collected_at,
                    updated_at: row.updated_at,
                },
            );
        }
        let fields: Vec<String> = rows.iter().map(|r| r.field.clone()).collect();
        let mut cats: Vec<String> = rows.iter().map(|r| r.category.clone()).collect();
        cats.sort();
        cats.dedup();
        store::log_access(
            &mut tx,
            &store::NewAccess {
                actor,
                subject_id: Some(subject.id),
                subject_ref: &subject.r#ref,
                fields: &fields,
                categories: &cats,
                purpose: &purpose,
                granted: true,
                reason: None,
                at: now,
            },
        )
        .await?;
    }
    let other_data = store::analytics_rows(&mut tx, subject.id).await?;
    let accesses = store::access_log(
        &mut tx,
        &store::AccessFilter {
            subject_ref: Some(subject.r#ref.clone()),
            limit: 10_000,
            ..Default::default()
        },
    )
    .await?;
    let requests = store::requests(&mut tx, false, Some(subject.id))
        .await?
        .into_iter()
        .map(|q| ExportRequest {
            id: q.id,
            kind: q.kind,
            status: q.status,
            received_at: q.received_at,
            due_at: q.due_at,
        })
        .collect();
    let retention = super::config::settings(&ctx.config)?
        .categories
        .iter()
        .map(|(k, c)| (k.clone(), c.retention.to_string()))
        .collect();
    finish_request(
        ctx,
        &mut tx,
        &mut r,
        status,
        format!(
            "export of {} personal-data field(s) and {} other record(s)",
            personal_data.len(),
            other_data.len()
        ),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(Export {
        subject: subject.r#ref,
        status: subject.status,
        generated_at: now,
        request_id: id,
        personal_data,
        other_data,
        accesses,
        requests,
        retention,
        erased_at: subject.erased_at,
    })
}

/// Complete a rectification request with the corrected values.
pub async fn complete_rectification(
    ctx: &Ctx,
    key: &MasterKey,
    id: i64,
    fields: &[(String, String)],
    actor: &str,
) -> Result<Request> {
    let classified = Classifier::new(super::config::settings(&ctx.config)?)
        .classify_record(fields)
        .map_err(|r| Error::invalid(format!("correction refused: {r}")))?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let mut r = lock_request_for(ctx, &mut tx, id, actor, "execute data-subject requests").await?;
    if r.kind()? != RequestKind::Rectification {
        return Err(Error::invalid(format!(
            "request #{id} is a {} request, not rectification",
            r.kind
        )));
    }
    let status = model::decide_request(r.state()?, RequestCommand::Complete, now)
        .map_err(|e| Error::invalid(e.0))?;
    let subject = store::subject_by_id(&mut tx, r.subject_id).await?;
    if subject.erased() {
        return Err(Error::conflict(format!(
            "subject {} was erased",
            subject.r#ref
        )));
    }
    let mut dek = None;
    for ((name, value), class) in fields.iter().zip(&classified) {
        if class.pii {
            if dek.is_none() {
                let master = master_version(&mut tx, key, actor, now).await?;
                dek = Some(data_key(&mut tx, key, master, &subject, true, now).await?);
            }
            if let Some((k, v)) = &dek {
                store_pii(&mut tx, k, *v, &subject, name, &class.category, value, now).await?;
            }
        } else {
            // The corrected value replaces what was held for that field.
            sqlx::query("DELETE FROM privacy_analytics WHERE subject_id = $1 AND field = $2")
                .bind(subject.id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO privacy_analytics (subject_id, field, category, value, collected_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(subject.id)
            .bind(name)
            .bind(&class.category)
            .bind(value)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    let names: Vec<&str> = classified.iter().map(|c| c.field.as_str()).collect();
    finish_request(
        ctx,
        &mut tx,
        &mut r,
        status,
        format!("rectified: {}", names.join(", ")),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

/// What an erasure destroyed.
#[derive(Debug, Clone, Serialize)]
pub struct Erased {
    pub request: Request,
    pub subject: String,
    /// Sealed fields left unreadable (their key is gone).
    pub sealed_fields: i64,
    /// Analytics records unlinked from the person.
    pub unlinked_records: i64,
}

/// Complete an erasure request by crypto-shredding: the subject's data key
/// is destroyed, so every copy of their sealed data (backups included, once
/// the master key version that wrapped it is retired) is unreadable.
pub async fn complete_erasure(ctx: &Ctx, id: i64, actor: &str) -> Result<Erased> {
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let mut r = lock_request_for(ctx, &mut tx, id, actor, "execute data-subject requests").await?;
    if r.kind()? != RequestKind::Erasure {
        return Err(Error::invalid(format!(
            "request #{id} is a {} request, not erasure",
            r.kind
        )));
    }
    let status = model::decide_request(r.state()?, RequestCommand::Complete, now)
        .map_err(|e| Error::invalid(e.0))?;
    let subject = store::subject_by_id(&mut tx, r.subject_id).await?;
    let (sealed_fields, unlinked_records) = shred(ctx, &mut tx, &subject, Some(id), actor).await?;
    finish_request(
        ctx,
        &mut tx,
        &mut r,
        status,
        format!("data key destroyed: {sealed_fields} sealed field(s) unreadable, {unlinked_records} record(s) unlinked"),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(Erased {
        request: r,
        subject: subject.r#ref,
        sealed_fields,
        unlinked_records,
    })
}

async fn shred(
    ctx: &Ctx,
    conn: &mut PgConnection,
    subject: &Subject,
    request: Option<i64>,
    actor: &str,
) -> Result<(i64, i64)> {
    let now = ctx.now();
    sqlx::query(
        "UPDATE privacy_data_keys SET wrapped = NULL, master_version = NULL, destroyed_at = $2
         WHERE subject_id = $1 AND wrapped IS NOT NULL",
    )
    .bind(subject.id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let sealed: i64 = sqlx::query_scalar("SELECT count(*) FROM privacy_pii WHERE subject_id = $1")
        .bind(subject.id)
        .fetch_one(&mut *conn)
        .await?;
    let unlinked =
        sqlx::query("UPDATE privacy_analytics SET subject_id = NULL WHERE subject_id = $1")
            .bind(subject.id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    sqlx::query(
        "UPDATE privacy_subjects SET status = 'erased', erased_at = $2, erased_by = $3, erasure_request = $4 WHERE id = $1",
    )
    .bind(subject.id)
    .bind(now)
    .bind(actor)
    .bind(request)
    .execute(&mut *conn)
    .await?;
    let unlinked = i64::try_from(unlinked).unwrap_or(i64::MAX);
    event(ctx, conn, "subject", &subject.r#ref, "erased", actor, |e| {
        e.transition(Some("active"), "erased")
            .reason("data key destroyed (crypto-shredding)")
            .payload(serde_json::json!({ "request": request, "sealed_fields": sealed, "unlinked_records": unlinked }))
    })
    .await?;
    Ok((sealed, unlinked))
}

/// Refuse a request (manifestly unfounded or excessive), with the reason.
pub async fn refuse_request(ctx: &Ctx, id: i64, reason: &str, actor: &str) -> Result<Request> {
    if reason.trim().is_empty() {
        return Err(Error::invalid(
            "a refusal needs the reason the person is told",
        ));
    }
    no_pii_in(ctx, "the reason", reason)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let mut r = lock_request_for(ctx, &mut tx, id, actor, "refuse data-subject requests").await?;
    let status = model::decide_request(r.state()?, RequestCommand::Refuse, now)
        .map_err(|e| Error::invalid(e.0))?;
    finish_request(
        ctx,
        &mut tx,
        &mut r,
        status,
        reason.trim().to_string(),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

pub async fn requests(ctx: &Ctx, open_only: bool) -> Result<Vec<Request>> {
    let mut conn = ctx.pool.acquire().await?;
    store::requests(&mut conn, open_only, None).await
}

pub async fn request(ctx: &Ctx, id: i64) -> Result<Request> {
    let mut conn = ctx.pool.acquire().await?;
    store::request(&mut conn, id, false).await
}

// ---- breaches --------------------------------------------------------------------------------

/// The information a breach record holds; any part may come later.
#[derive(Debug, Clone, Default)]
pub struct BreachInfoUpdate {
    pub nature: Option<String>,
    pub people_approx: Option<i64>,
    pub records_approx: Option<i64>,
    pub contact_point: Option<String>,
    pub consequences: Option<String>,
    pub measures: Option<String>,
}

impl BreachInfoUpdate {
    fn is_empty(&self) -> bool {
        self.nature.is_none()
            && self.people_approx.is_none()
            && self.records_approx.is_none()
            && self.contact_point.is_none()
            && self.consequences.is_none()
            && self.measures.is_none()
    }

    fn check(&self, ctx: &Ctx) -> Result<()> {
        for (what, text) in [
            ("the nature", &self.nature),
            ("the contact point", &self.contact_point),
            ("the consequences", &self.consequences),
            ("the measures", &self.measures),
        ] {
            if let Some(t) = text {
                if t.trim().is_empty() {
                    return Err(Error::invalid(format!("{what} cannot be empty")));
                }
                // The contact point is a role or office, not a person's details.
                no_pii_in(ctx, what, t)?;
            }
        }
        for (what, n) in [
            ("people", self.people_approx),
            ("records", self.records_approx),
        ] {
            if n.is_some_and(|n| n < 0) {
                return Err(Error::invalid(format!(
                    "the number of {what} cannot be negative"
                )));
            }
        }
        Ok(())
    }

    fn apply(&self, b: &mut Breach) -> serde_json::Value {
        let mut changed = serde_json::Map::new();
        let mut set = |name: &str, slot: &mut Option<String>, v: &Option<String>| {
            if let Some(v) = v {
                *slot = Some(v.trim().to_string());
                changed.insert(name.into(), serde_json::Value::String(v.trim().into()));
            }
        };
        set("nature", &mut b.nature, &self.nature);
        set("contact_point", &mut b.contact_point, &self.contact_point);
        set("consequences", &mut b.consequences, &self.consequences);
        set("measures", &mut b.measures, &self.measures);
        if let Some(n) = self.people_approx {
            b.people_approx = Some(n);
            changed.insert("people_approx".into(), n.into());
        }
        if let Some(n) = self.records_approx {
            b.records_approx = Some(n);
            changed.insert("records_approx".into(), n.into());
        }
        serde_json::Value::Object(changed)
    }
}

#[derive(Debug, Clone)]
pub struct NewBreach {
    pub title: String,
    /// The finding that revealed it (its incident is reused).
    pub finding: Option<i64>,
    /// An existing incident to attach to.
    pub incident: Option<i64>,
    pub severity: Severity,
    /// When the organisation became aware (default now): the 72 hours run from here.
    pub aware_at: Option<DateTime<Utc>>,
    pub info: BreachInfoUpdate,
}

fn responder(ctx: &Ctx, actor: &str) -> Result<Person> {
    let person = ctx.org.actor(actor)?.clone();
    require(
        ctx,
        &person,
        &super::config::settings(&ctx.config)?.responders,
        "respond to personal-data breaches",
    )?;
    Ok(person)
}

async fn schedule_breach_clock(ctx: &Ctx, conn: &mut PgConnection, b: &Breach) -> Result<()> {
    let id = b.id.to_string();
    let now = ctx.now();
    for before in &super::config::settings(&ctx.config)?.breach.remind_before {
        let at = b.notify_by - before.delta();
        if at > now {
            timers::schedule(
                conn,
                &NewTimer::new(BREACH_REMIND_TIMER, WORKFLOW, &id, at).key(before.to_string()),
                now,
            )
            .await?;
        }
    }
    timers::schedule(
        conn,
        &NewTimer::new(BREACH_DUE_TIMER, WORKFLOW, &id, b.notify_by),
        now,
    )
    .await?;
    Ok(())
}

async fn stop_breach_clock(conn: &mut PgConnection, id: i64) -> Result<()> {
    let key = id.to_string();
    timers::cancel(conn, WORKFLOW, &key, Some(BREACH_REMIND_TIMER)).await?;
    timers::cancel(conn, WORKFLOW, &key, Some(BREACH_DUE_TIMER)).await?;
    Ok(())
}

/// Record a personal-data breach: the 72-hour notification clock starts, and
/// the breach runs as a privacy incident in the crisis workflow.
pub async fn open_breach(ctx: &Ctx, new: &NewBreach, actor: &str) -> Result<Breach> {
    responder(ctx, actor)?;
    if new.title.trim().is_empty() {
        return Err(Error::invalid("a breach needs a title"));
    }
    no_pii_in(ctx, "the title", &new.title)?;
    new.info.check(ctx)?;
    let now = ctx.now();
    let aware_at = new.aware_at.unwrap_or(now);
    if aware_at > now {
        return Err(Error::invalid(
            "the moment of awareness cannot be in the future",
        ));
    }
    let mut tx = ctx.pool.begin().await?;
    let finding = match new.finding {
        Some(f) => Some(store::finding(&mut tx, f, true).await?),
        None => None,
    };
    let incident_id = match (new.incident, finding.as_ref().and_then(|f| f.incident_id)) {
        (Some(i), _) | (None, Some(i)) => crate::crisis::store::get(&mut tx, i).await?.id,
        (None, None) => {
            let inc = crate::crisis::service::open_in(
                ctx,
                &mut tx,
                &NewIncident {
                    title: format!("Personal-data breach: {}", new.title.trim()),
                    description: "Recorded in the privacy workflow; the authority must be notified within the notification deadline.".into(),
                    severity: new.severity,
                    source: Source::PrivacyBreach,
                    source_ref: new.finding.map(|f| format!("privacy-finding:{f}")),
                    departments: super::config::settings(&ctx.config)?.incident_departments.clone(),
                    commander: None,
                    trigger_key: None,
                },
                actor,
            )
            .await?
            .ok_or_else(|| Error::conflict("the incident could not be opened"))?;
            inc.id
        }
    };
    let notify_by = aware_at
        + super::config::settings(&ctx.config)?
            .breach
            .notify_within
            .delta();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO privacy_breaches (incident_id, finding_id, status, title, aware_at, notify_by, opened_by, opened_at, updated_at)
         VALUES ($1, $2, 'assessing', $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(incident_id)
    .bind(new.finding)
    .bind(new.title.trim())
    .bind(aware_at)
    .bind(notify_by)
    .bind(actor)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let mut b = store::breach(&mut tx, id, true).await?;
    if b.contact_point.is_none() && new.info.contact_point.is_none() {
        // The configured data-protection contact by default.
        if let Some(p) = ctx
            .org
            .person(&super::config::settings(&ctx.config)?.contact_point)
        {
            b.contact_point = Some(format!(
                "{} ({})",
                p.name,
                department_name(ctx, &p.department)
            ));
        }
    }
    let info = new.info.apply(&mut b);
    store::save_breach(&mut tx, &b).await?;
    schedule_breach_clock(ctx, &mut tx, &b).await?;
    event(ctx, &mut tx, "breach", id, "breach_recorded", actor, |e| {
        e.transition(None::<&str>, BreachStatus::Assessing)
            .reason(new.title.trim())
            .payload(serde_json::json!({ "incident_id": incident_id, "finding": new.finding, "aware_at": aware_at, "notify_by": notify_by, "info": info }))
    })
    .await?;
    let subject = format!("Personal-data breach #{id}: {}", b.title);
    let body = format!(
        "Incident #{incident_id}. The {} must be notified by {}.",
        super::config::settings(&ctx.config)?.breach.authority,
        ctx.calendar.format_local(notify_by)
    );
    notify_channel(
        ctx,
        &mut tx,
        id,
        &subject,
        &body,
        "critical",
        &format!("breach:{id}:recorded"),
    )
    .await?;
    notify_roles(
        ctx,
        &mut tx,
        &super::config::settings(&ctx.config)?.closeout_approvers,
        id,
        &subject,
        &body,
        "critical",
        &format!("breach:{id}:recorded"),
    )
    .await?;
    tx.commit().await?;
    Ok(b)
}

fn department_name(ctx: &Ctx, key: &str) -> String {
    ctx.org
        .department(key)
        .map(|d| d.name.clone())
        .unwrap_or_else(|| key.to_string())
}

async fn task_counts(conn: &mut PgConnection, id: i64) -> Result<(u32, u32)> {
    let (open, done): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'open'), count(*) FILTER (WHERE status = 'done')
         FROM privacy_breach_tasks WHERE breach_id = $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok((
        u32::try_from(open).unwrap_or(u32::MAX),
        u32::try_from(done).unwrap_or(u32::MAX),
    ))
}

/// Lock a breach and ask the state machine.
async fn breach_move(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    cmd: BreachCommand,
) -> Result<(Breach, BreachStatus, BreachEffect)> {
    let b = store::breach(conn, id, true).await?;
    let (open, done) = task_counts(conn, id).await?;
    let (to, effect) = model::decide_breach(b.state(open, done)?, cmd, ctx.now())
        .map_err(|r| Error::invalid(format!("breach #{id} ({}): {}", b.status, r.0)))?;
    Ok((b, to, effect))
}

/// Add or correct information; after notification each update is a phase.
pub async fn update_breach(
    ctx: &Ctx,
    id: i64,
    info: &BreachInfoUpdate,
    actor: &str,
) -> Result<Breach> {
    responder(ctx, actor)?;
    if info.is_empty() {
        return Err(Error::invalid(
            "nothing to record: give at least one piece of information",
        ));
    }
    info.check(ctx)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let (mut b, to, effect) = breach_move(ctx, &mut tx, id, BreachCommand::Update).await?;
    let changed = info.apply(&mut b);
    b.status = to.as_str().into();
    b.updated_at = now;
    if effect == BreachEffect::Phase {
        b.phases += 1;
        sqlx::query(
            "INSERT INTO privacy_breach_phases (breach_id, phase, info, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(b.phases)
        .bind(&changed)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    store::save_breach(&mut tx, &b).await?;
    let phase = (effect == BreachEffect::Phase).then_some(b.phases);
    event(ctx, &mut tx, "breach", id, "breach_updated", actor, |e| {
        e.payload(serde_json::json!({ "info": changed, "phase": phase }))
    })
    .await?;
    tx.commit().await?;
    Ok(b)
}

/// The authority was notified (late notifications give the reasons).
pub async fn notify_authority(
    ctx: &Ctx,
    id: i64,
    late_reason: Option<&str>,
    actor: &str,
) -> Result<Breach> {
    responder(ctx, actor)?;
    let late_reason = late_reason.map(str::trim).filter(|r| !r.is_empty());
    if let Some(r) = late_reason {
        no_pii_in(ctx, "the reason for the delay", r)?;
    }
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let (mut b, to, _) = breach_move(
        ctx,
        &mut tx,
        id,
        BreachCommand::Notify {
            has_delay_reason: late_reason.is_some(),
        },
    )
    .await?;
    let from = b.status.clone();
    b.status = to.as_str().into();
    b.notified_at = Some(now);
    b.notified_by = Some(actor.into());
    b.late_reason = late_reason.map(str::to_string);
    b.updated_at = now;
    store::save_breach(&mut tx, &b).await?;
    stop_breach_clock(&mut tx, id).await?;
    let on_time = now <= b.notify_by;
    let authority = super::config::settings(&ctx.config)?
        .breach
        .authority
        .clone();
    event(ctx, &mut tx, "breach", id, "authority_notified", actor, |e| {
        e.transition(Some(from), to)
            .maybe_reason(b.late_reason.clone())
            .payload(serde_json::json!({ "authority": authority, "on_time": on_time, "notify_by": b.notify_by }))
    })
    .await?;
    tx.commit().await?;
    Ok(b)
}

/// No notification needed (unlikely to result in a risk): documented why.
pub async fn exempt_breach(ctx: &Ctx, id: i64, reason: &str, actor: &str) -> Result<Breach> {
    responder(ctx, actor)?;
    if reason.trim().is_empty() {
        return Err(Error::invalid(
            "say why the breach is unlikely to result in a risk to people",
        ));
    }
    no_pii_in(ctx, "the reason", reason)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let (mut b, to, _) = breach_move(ctx, &mut tx, id, BreachCommand::Exempt).await?;
    let from = b.status.clone();
    b.status = to.as_str().into();
    b.exempt_reason = Some(reason.trim().into());
    b.updated_at = now;
    store::save_breach(&mut tx, &b).await?;
    stop_breach_clock(&mut tx, id).await?;
    event(
        ctx,
        &mut tx,
        "breach",
        id,
        "notification_not_required",
        actor,
        |e| e.transition(Some(from), to).reason(reason.trim()),
    )
    .await?;
    tx.commit().await?;
    Ok(b)
}

/// Add a remediation task with an owner and a due time (reminder on overrun).
pub async fn add_task(
    ctx: &Ctx,
    id: i64,
    description: &str,
    owner: &str,
    due: Option<DateTime<Utc>>,
    actor: &str,
) -> Result<store::Task> {
    responder(ctx, actor)?;
    ctx.org.actor(owner)?;
    if description.trim().is_empty() {
        return Err(Error::invalid("a task needs a description"));
    }
    no_pii_in(ctx, "the task", description)?;
    let now = ctx.now();
    let due = due.unwrap_or(
        now + super::config::settings(&ctx.config)?
            .breach
            .task_due
            .delta(),
    );
    if due <= now {
        return Err(Error::invalid("a task must be due in the future"));
    }
    let mut tx = ctx.pool.begin().await?;
    breach_move(ctx, &mut tx, id, BreachCommand::AddTask).await?;
    let task: store::Task = sqlx::query_as(
        "INSERT INTO privacy_breach_tasks (breach_id, description, owner, due_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, breach_id, description, owner, due_at, status, created_by, created_at, done_at, done_by",
    )
    .bind(id)
    .bind(description.trim())
    .bind(owner)
    .bind(due)
    .bind(actor)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    timers::schedule(
        &mut tx,
        &NewTimer::new(TASK_DUE_TIMER, WORKFLOW, id, due).key(task.id.to_string()),
        now,
    )
    .await?;
    let n = NewNotification::to_person(
        owner,
        WORKFLOW,
        id,
        format!("Breach #{id}: remediation task for you"),
    )
    .body(format!(
        "{} Due {}.",
        task.description,
        ctx.calendar.format_local(due)
    ))
    .dedupe(format!("breach:{id}:task:{}", task.id));
    outbox::enqueue(ctx, &mut tx, &n).await?;
    event(ctx, &mut tx, "breach", id, "task_added", actor, |e| {
        e.reason(task.description.clone())
            .payload(serde_json::json!({ "task": task.id, "owner": owner, "due_at": due }))
    })
    .await?;
    tx.commit().await?;
    Ok(task)
}

pub async fn complete_task(ctx: &Ctx, task_id: i64, actor: &str) -> Result<store::Task> {
    let person = ctx.org.actor(actor)?.clone();
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let task: Option<store::Task> = sqlx::query_as(
        "SELECT id, breach_id, description, owner, due_at, status, created_by, created_at, done_at, done_by
         FROM privacy_breach_tasks WHERE id = $1 FOR UPDATE",
    )
    .bind(task_id)
    .fetch_optional(&mut *tx)
    .await?;
    let task = task.ok_or_else(|| Error::not_found(format!("no remediation task #{task_id}")))?;
    if person.handle != task.owner {
        require(
            ctx,
            &person,
            &super::config::settings(&ctx.config)?.responders,
            "complete someone else's remediation task",
        )?;
    }
    if task.status == "done" {
        return Err(Error::conflict(format!("task #{task_id} is already done")));
    }
    breach_move(ctx, &mut tx, task.breach_id, BreachCommand::CompleteTask).await?;
    let done: store::Task = sqlx::query_as(
        "UPDATE privacy_breach_tasks SET status = 'done', done_at = $2, done_by = $3 WHERE id = $1
         RETURNING id, breach_id, description, owner, due_at, status, created_by, created_at, done_at, done_by",
    )
    .bind(task_id)
    .bind(now)
    .bind(actor)
    .fetch_one(&mut *tx)
    .await?;
    timers::cancel_key(
        &mut tx,
        WORKFLOW,
        &task.breach_id.to_string(),
        TASK_DUE_TIMER,
        &task_id.to_string(),
    )
    .await?;
    event(
        ctx,
        &mut tx,
        "breach",
        task.breach_id,
        "task_done",
        actor,
        |e| {
            e.reason(task.description.clone())
                .payload(serde_json::json!({ "task": task_id }))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(done)
}

/// The approvals entity of a breach's close-out.
pub fn closeout_entity(id: i64) -> String {
    format!("breach:{id}")
}

/// Ask the close-out approvers (Compliance & Risk director) to close a breach.
pub async fn request_close(
    ctx: &Ctx,
    id: i64,
    actor: &str,
) -> Result<(Breach, approvals::ApprovalRequest)> {
    responder(ctx, actor)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let (mut b, to, _) = breach_move(ctx, &mut tx, id, BreachCommand::RequestClose).await?;
    let from = b.status.clone();
    let req = approvals::request(
        ctx,
        &mut tx,
        &NewApproval {
            workflow: WORKFLOW.into(),
            entity_id: closeout_entity(id),
            subject_version: 1 + b.phases,
            title: format!("Close breach #{id}: {}", b.title),
            requested_by: actor.into(),
            eligible: roles(&super::config::settings(&ctx.config)?.closeout_approvers),
            required: 1,
            must_include: Vec::new(),
            deadline: Some(
                now + super::config::settings(&ctx.config)?
                    .breach
                    .closeout_deadline
                    .delta(),
            ),
        },
    )
    .await?;
    b.status = to.as_str().into();
    b.approval_id = Some(req.id);
    b.updated_at = now;
    store::save_breach(&mut tx, &b).await?;
    event(
        ctx,
        &mut tx,
        "breach",
        id,
        "closeout_requested",
        actor,
        |e| {
            e.transition(Some(from), to)
                .payload(serde_json::json!({ "approval_id": req.id }))
        },
    )
    .await?;
    tx.commit().await?;
    Ok((b, req))
}

/// Decide a breach close-out (through the engine's approvals: roles, no
/// self-approval, deadline). Approved closes it; a refusal sends it back.
pub async fn decide_closeout(
    ctx: &Ctx,
    id: i64,
    approver: &str,
    decision: Decision,
    comment: &str,
) -> Result<(Breach, Outcome)> {
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let b = store::breach(&mut tx, id, true).await?;
    let approval = b.approval_id.ok_or_else(|| {
        Error::invalid(format!(
            "breach #{id} has no close-out waiting for approval"
        ))
    })?;
    let (_, outcome) =
        approvals::decide(ctx, &mut tx, approval, approver, decision, comment, None).await?;
    let cmd = match outcome {
        Outcome::Approved => Some(BreachCommand::CloseApproved),
        Outcome::Rejected | Outcome::ChangesRequested => Some(BreachCommand::CloseRejected),
        Outcome::Pending { .. } | Outcome::AlreadyApproved => None,
    };
    let mut b = b;
    if let Some(cmd) = cmd {
        let (_, to, effect) = breach_move(ctx, &mut tx, id, cmd).await?;
        let from = b.status.clone();
        b.status = to.as_str().into();
        if effect == BreachEffect::Close {
            b.closed_at = Some(now);
        } else {
            b.approval_id = None;
        }
        b.updated_at = now;
        store::save_breach(&mut tx, &b).await?;
        event(
            ctx,
            &mut tx,
            "breach",
            id,
            if effect == BreachEffect::Close {
                "breach_closed"
            } else {
                "closeout_refused"
            },
            approver,
            |e| {
                e.transition(Some(from), to)
                    .reason(comment)
                    .payload(serde_json::json!({ "approval_id": approval }))
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok((b, outcome))
}

/// A breach with its tasks, phases and incident.
#[derive(Debug, Clone, Serialize)]
pub struct BreachDetail {
    pub breach: Breach,
    pub tasks: Vec<store::Task>,
    pub phases: Vec<store::Phase>,
    pub incident_status: String,
    pub authority: String,
    pub on_time: Option<bool>,
}

pub async fn breach_detail(ctx: &Ctx, id: i64) -> Result<BreachDetail> {
    let mut conn = ctx.pool.acquire().await?;
    let breach = store::breach(&mut conn, id, false).await?;
    let tasks = store::tasks(&mut conn, id).await?;
    let phases = store::phases(&mut conn, id).await?;
    let incident = crate::crisis::store::get(&mut conn, breach.incident_id).await?;
    Ok(BreachDetail {
        on_time: breach.on_time(),
        breach,
        tasks,
        phases,
        incident_status: incident.status.as_str().to_string(),
        authority: super::config::settings(&ctx.config)?
            .breach
            .authority
            .clone(),
    })
}

pub async fn breaches(ctx: &Ctx, open_only: bool) -> Result<Vec<Breach>> {
    let mut conn = ctx.pool.acquire().await?;
    store::breaches(&mut conn, open_only).await
}

// ---- findings ----------------------------------------------------------------------------------

pub async fn findings(ctx: &Ctx, open_only: bool) -> Result<Vec<store::Finding>> {
    let mut conn = ctx.pool.acquire().await?;
    store::findings(&mut conn, open_only, None).await
}

/// Close a finding with what was done about it.
pub async fn resolve_finding(
    ctx: &Ctx,
    id: i64,
    resolution: &str,
    actor: &str,
) -> Result<store::Finding> {
    let person = ctx.org.actor(actor)?.clone();
    require(
        ctx,
        &person,
        &super::config::settings(&ctx.config)?.responders,
        "resolve audit findings",
    )?;
    if resolution.trim().is_empty() {
        return Err(Error::invalid("say what was done about the finding"));
    }
    no_pii_in(ctx, "the resolution", resolution)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let mut f = store::finding(&mut tx, id, true).await?;
    if f.status != "open" {
        return Err(Error::conflict(format!(
            "finding #{id} is already resolved"
        )));
    }
    sqlx::query("UPDATE privacy_findings SET status = 'resolved', resolved_at = $2, resolved_by = $3, resolution = $4 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(actor)
        .bind(resolution.trim())
        .execute(&mut *tx)
        .await?;
    event(
        ctx,
        &mut tx,
        "finding",
        id,
        "finding_resolved",
        actor,
        |e| {
            e.transition(Some("open"), "resolved")
                .reason(resolution.trim())
                .payload(serde_json::json!({ "kind": f.kind }))
        },
    )
    .await?;
    tx.commit().await?;
    f.status = "resolved".into();
    f.resolved_at = Some(now);
    f.resolved_by = Some(actor.into());
    f.resolution = Some(resolution.trim().into());
    Ok(f)
}

// ---- master key rotation ----------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Rotation {
    pub from_version: i32,
    pub to_version: i32,
    pub rewrapped: u64,
    /// Subjects whose keys were already destroyed (nothing to re-wrap).
    pub destroyed: i64,
}

/// Re-wrap every data key under a new master key, in one transaction. The
/// sealed data is not touched. The old key version is retired: once its key
/// is destroyed, backups holding keys wrapped by it become unreadable too.
pub async fn rotate_master(
    ctx: &Ctx,
    current: &MasterKey,
    new: &MasterKey,
    actor: &str,
) -> Result<Rotation> {
    let person = ctx.org.actor(actor)?.clone();
    require(
        ctx,
        &person,
        &super::config::settings(&ctx.config)?.key_custodians,
        "rotate the master key",
    )?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let from = match current_master_row(&mut tx, true).await? {
        Some(m) if current.matches(m.version, &m.check_value) => m,
        Some(m) => return Err(wrong_key(m.version)),
        None => {
            return Err(Error::invalid(
                "there is no master key to rotate yet: nothing has been encrypted in this database",
            ));
        }
    };
    if new.matches(from.version, &from.check_value) {
        return Err(Error::invalid(
            "VIVID_NEW_MASTER_KEY is the current key: generate a new one with `vivid privacy keygen`",
        ));
    }
    let to = from.version + 1;
    sqlx::query("UPDATE privacy_master_keys SET retired_at = $2 WHERE version = $1")
        .bind(from.version)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO privacy_master_keys (version, check_value, created_at, created_by) VALUES ($1, $2, $3, $4)")
        .bind(to)
        .bind(new.check_value(to)?)
        .bind(now)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
    let rows: Vec<store::DataKeyRow> = sqlx::query_as(
        "SELECT subject_id, key_version, master_version, wrapped, destroyed_at FROM privacy_data_keys
         WHERE wrapped IS NOT NULL ORDER BY subject_id FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut rewrapped = 0u64;
    for row in rows {
        let (Some(wrapped), Some(mv)) = (row.wrapped, row.master_version) else {
            continue;
        };
        let old = WrapBinding {
            subject_id: row.subject_id,
            key_version: row.key_version,
            master_version: mv,
        };
        let dek = current.unwrap_key(&wrapped, &old).map_err(|e| {
            crypto_failure(
                &format!(
                    "cannot unwrap the data key of subject id {}",
                    row.subject_id
                ),
                e,
            )
        })?;
        let fresh = new
            .wrap(
                &dek,
                &WrapBinding {
                    master_version: to,
                    ..old
                },
            )
            .map_err(|e| crypto_failure("cannot wrap a data key", e))?;
        sqlx::query("UPDATE privacy_data_keys SET wrapped = $2, master_version = $3, rewrapped_at = $4 WHERE subject_id = $1")
            .bind(row.subject_id)
            .bind(fresh)
            .bind(to)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        rewrapped += 1;
    }
    let destroyed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM privacy_data_keys WHERE wrapped IS NULL")
            .fetch_one(&mut *tx)
            .await?;
    event(
        ctx,
        &mut tx,
        "master_key",
        to,
        "master_key_rotated",
        actor,
        |e| {
            e.transition(Some(from.version), to)
                .payload(serde_json::json!({ "rewrapped": rewrapped, "destroyed": destroyed }))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Rotation {
        from_version: from.version,
        to_version: to,
        rewrapped,
        destroyed,
    })
}
