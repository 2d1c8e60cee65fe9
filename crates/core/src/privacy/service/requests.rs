//! Data-subject requests: opened on receipt with their one-calendar-month
//! clock, extended within the first month, carried out (access export,
//! rectification, erasure by crypto-shredding) or refused.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::collect::store_pii;
use super::keys::{data_key, master_version};
use super::{crypto_failure, event, no_pii_in, notify_roles, require};
use crate::engine::Ctx;
use crate::engine::timers;
use crate::error::{Error, Result};
use crate::privacy::classify::Classifier;
use crate::privacy::crypto::{FieldBinding, MasterKey};
use crate::privacy::model::{self, RequestCommand, RequestKind, RequestStatus};
use crate::privacy::store::{self, Request, Subject};
use crate::privacy::timers::{
    REQUEST_DUE_TIMER, REQUEST_REMIND_TIMER, ensure_audit_scheduled, schedule_request_clocks,
};
use crate::privacy::{WORKFLOW, deadline};

#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub subject: &'a str,
    pub kind: RequestKind,
    pub note: &'a str,
    /// When it arrived (default now); the clock runs from receipt.
    pub received_at: Option<DateTime<Utc>>,
}

/// Open a data-subject request; its one-month clock starts at receipt.
pub async fn open_request(ctx: &Ctx, new: &NewRequest<'_>, actor: &str) -> Result<Request> {
    let person = ctx.org.actor(actor)?.clone();
    require(
        ctx,
        &person,
        &crate::privacy::config::settings(&ctx.config)?.request_handlers,
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
    let months = crate::privacy::config::settings(&ctx.config)?
        .requests
        .months;
    let due = deadline::request_deadline(&ctx.calendar, received, months);
    let id = store::insert_request(
        &mut tx,
        &store::NewRequestRow {
            subject_id: subject.id,
            kind: new.kind.as_str(),
            received_at: received,
            due_at: due,
            opened_by: actor,
            note: new.note.trim(),
            at: now,
        },
    )
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
        &crate::privacy::config::settings(&ctx.config)?.officers,
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
        &crate::privacy::config::settings(&ctx.config)?.officers,
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
    let max = crate::privacy::config::settings(&ctx.config)?
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
        crate::privacy::config::settings(&ctx.config)?
            .requests
            .months
            + total,
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
    let retention = crate::privacy::config::settings(&ctx.config)?
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
    let classified = Classifier::new(crate::privacy::config::settings(&ctx.config)?)
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
            store::delete_analytics_field(&mut tx, subject.id, name).await?;
            store::insert_analytics(&mut tx, subject.id, name, &class.category, value, now).await?;
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
    store::destroy_data_key(conn, subject.id, now).await?;
    let sealed = store::pii_count(conn, subject.id).await?;
    let unlinked = store::unlink_analytics(conn, subject.id).await?;
    store::mark_erased(conn, subject.id, now, actor, request).await?;
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
