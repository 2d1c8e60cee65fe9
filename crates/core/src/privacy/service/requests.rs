//! Data-subject requests: opened on receipt (by subject reference or by
//! e-mail through the blind index) with their one-calendar-month clock,
//! identity verified, extended within the first month, carried out (access
//! export, rectification, erasure by crypto-shredding after a second
//! person's approval, restriction, portability, objection) or refused.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::collect::store_pii;
use super::keys::{data_key, master_version};
use super::{crypto_failure, event, no_pii_in, notify_roles, require, roles};
use crate::engine::Ctx;
use crate::engine::approvals::{self, Decision, NewApproval, Outcome};
use crate::engine::timers;
use crate::error::{Error, Result};
use crate::privacy::classify::Classifier;
use crate::privacy::crypto::{FieldBinding, MasterKey};
use crate::privacy::model::{self, RequestCommand, RequestKind, RequestStatus};
use crate::privacy::store::{self, Request, Subject};
use crate::privacy::timers::{
    VERIFY_STALL_TIMER, ensure_audit_scheduled, schedule_request_clocks,
    schedule_verification_reminder, stop_request_clocks,
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

/// Open a data-subject request for a known subject; its one-month clock
/// starts at receipt.
pub async fn open_request(ctx: &Ctx, new: &NewRequest<'_>, actor: &str) -> Result<Request> {
    check_opener(ctx, new, actor)?;
    let mut tx = ctx.pool.begin().await?;
    let subject = store::require_subject(&mut tx, new.subject, false).await?;
    let r = open_in(ctx, &mut tx, Some(&subject), new, actor).await?;
    tx.commit().await?;
    Ok(r)
}

/// Open a request from an e-mail address (`new.subject` is ignored): the
/// blind index finds the subject; an address nobody holds data on still
/// opens the request, without a subject (the answer is that nothing is
/// held). The address itself is never stored.
pub async fn open_request_by_email(
    ctx: &Ctx,
    key: &MasterKey,
    email: &str,
    new: &NewRequest<'_>,
    actor: &str,
) -> Result<Request> {
    check_opener(ctx, new, actor)?;
    let mut tx = ctx.pool.begin().await?;
    let found = super::intake::subjects_by_email(&mut tx, key, email).await?;
    if found.len() > 1 {
        let refs: Vec<&str> = found.iter().map(|s| s.r#ref.as_str()).collect();
        return Err(Error::conflict(format!(
            "the address belongs to {} subjects ({}): open the request by reference",
            found.len(),
            refs.join(", ")
        )));
    }
    let r = open_in(ctx, &mut tx, found.first(), new, actor).await?;
    tx.commit().await?;
    Ok(r)
}

fn check_opener(ctx: &Ctx, new: &NewRequest<'_>, actor: &str) -> Result<()> {
    let person = ctx.org.actor(actor)?.clone();
    require(
        ctx,
        &person,
        &crate::privacy::config::settings(&ctx.config)?.request_handlers,
        "open data-subject requests",
    )?;
    no_pii_in(ctx, "the note", new.note)?;
    if new.received_at.is_some_and(|r| r > ctx.now()) {
        return Err(Error::invalid("a request cannot be received in the future"));
    }
    Ok(())
}

async fn open_in(
    ctx: &Ctx,
    tx: &mut PgConnection,
    subject: Option<&Subject>,
    new: &NewRequest<'_>,
    actor: &str,
) -> Result<Request> {
    let now = ctx.now();
    let received = new.received_at.unwrap_or(now);
    if let Some(subject) = subject
        && subject.erased()
        && new.kind != RequestKind::Access
    {
        return Err(Error::conflict(format!(
            "subject {} was already erased: there is nothing left to act on for a {} request",
            subject.r#ref, new.kind
        )));
    }
    let subject_ref = subject.map_or(store::NO_SUBJECT, |s| s.r#ref.as_str());
    let months = crate::privacy::config::settings(&ctx.config)?
        .requests
        .months;
    let due = deadline::request_deadline(&ctx.calendar, received, months);
    let id = store::insert_request(
        &mut *tx,
        &store::NewRequestRow {
            subject_id: subject.map(|s| s.id),
            kind: new.kind.as_str(),
            received_at: received,
            due_at: due,
            opened_by: actor,
            note: new.note.trim(),
            at: now,
        },
    )
    .await?;
    let r = store::request(&mut *tx, id, false).await?;
    schedule_request_clocks(ctx, &mut *tx, &r).await?;
    schedule_verification_reminder(ctx, &mut *tx, &r).await?;
    event(ctx, &mut *tx, "request", id, "request_opened", actor, |e| {
        e.transition(None::<&str>, RequestStatus::Received)
            .reason(format!("{} request for {subject_ref}", new.kind))
            .payload(serde_json::json!({ "kind": new.kind, "subject": subject_ref, "received_at": received, "due_at": due }))
    })
    .await?;
    notify_roles(
        ctx,
        &mut *tx,
        &crate::privacy::config::settings(&ctx.config)?.officers,
        id,
        &format!(
            "Data-subject request #{id} ({}) for {subject_ref}",
            new.kind
        ),
        &format!(
            "Verify the person's identity, then act. Due {}.",
            ctx.calendar.format_local(due)
        ),
        "info",
        &format!("request:{id}:opened"),
    )
    .await?;
    ensure_audit_scheduled(ctx, &mut *tx).await?;
    Ok(r)
}

/// The request's subject; a request without one has nobody's data to act on.
pub(super) async fn subject_of(conn: &mut PgConnection, r: &Request) -> Result<Subject> {
    match r.subject_id {
        Some(id) => store::subject_by_id(conn, id).await,
        None => Err(Error::conflict(format!(
            "request #{} has no data subject: nothing is held on the address it came from; \
             complete it with `privacy dsar refuse {} --reason \"no personal data held\"` or answer that nothing is held",
            r.id, r.id
        ))),
    }
}

pub(super) async fn lock_request_for(
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

pub(super) async fn finish_request(
    ctx: &Ctx,
    conn: &mut PgConnection,
    r: &mut Request,
    status: RequestStatus,
    outcome: String,
    actor: &str,
) -> Result<()> {
    let now = ctx.now();
    let mut saved = r.clone();
    saved.status = status.as_str().into();
    saved.completed_at = Some(now);
    saved.completed_by = Some(actor.into());
    saved.outcome = Some(outcome.clone());
    saved.updated_at = now;
    store::save_request(conn, &saved).await?;
    r.completed_at = saved.completed_at;
    r.completed_by = saved.completed_by;
    r.outcome = saved.outcome;
    r.updated_at = now;
    // The request's own clocks only: a breach with the same number shares
    // the workflow and the entity id.
    let from = std::mem::replace(&mut r.status, status.as_str().into());
    stop_request_clocks(conn, r.id).await?;
    timers::cancel(conn, WORKFLOW, &r.id.to_string(), Some(VERIFY_STALL_TIMER)).await?;
    let on_time = now <= r.due_at;
    event(ctx, conn, "request", r.id, &format!("request_{status}"), actor, |e| {
        e.transition(Some(from), status)
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
    /// access (Art. 15) or portability (Art. 20).
    pub kind: String,
    /// Set when nothing is held (a request by an unknown address).
    pub note: Option<String>,
    pub personal_data: BTreeMap<String, ExportField>,
    pub other_data: Vec<store::AnalyticsRow>,
    /// Art. 15(1): per category held, the purposes, legal basis,
    /// recipients, retention, transfers and source.
    pub processing: BTreeMap<String, crate::privacy::ropa::Record>,
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
    complete_export(ctx, key, id, RequestKind::Access, actor).await
}

/// Access (Art. 15) and portability (Art. 20): the export, then completed.
pub(super) async fn complete_export(
    ctx: &Ctx,
    key: &MasterKey,
    id: i64,
    kind: RequestKind,
    actor: &str,
) -> Result<Export> {
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let mut r = lock_request_for(ctx, &mut tx, id, actor, "execute data-subject requests").await?;
    if r.kind()? != kind {
        return Err(Error::invalid(format!(
            "request #{id} is a {} request, not {kind}",
            r.kind
        )));
    }
    let status = model::decide_request(r.state()?, RequestCommand::Complete, now)
        .map_err(|e| Error::invalid(e.0))?;
    let export = build_export(ctx, &mut tx, key, &r, actor).await?;
    finish_request(
        ctx,
        &mut tx,
        &mut r,
        status,
        format!(
            "export of {} personal-data field(s) and {} other record(s)",
            export.personal_data.len(),
            export.other_data.len()
        ),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(export)
}

/// Everything held on the request's subject, decrypted (the read logged
/// with the purpose `dsar`); for portability only the data the person
/// provided. A request without a subject gets an empty export saying so.
pub(super) async fn build_export(
    ctx: &Ctx,
    tx: &mut PgConnection,
    key: &MasterKey,
    r: &Request,
    actor: &str,
) -> Result<Export> {
    let now = ctx.now();
    let id = r.id;
    let cfg = crate::privacy::config::settings(&ctx.config)?;
    let kind = r.kind()?;
    let Some(subject_id) = r.subject_id else {
        return Ok(Export {
            subject: store::NO_SUBJECT.into(),
            status: "none".into(),
            generated_at: now,
            request_id: id,
            kind: kind.as_str().into(),
            note: Some("no personal data is held on the address this request came from".into()),
            personal_data: BTreeMap::new(),
            other_data: Vec::new(),
            processing: BTreeMap::new(),
            accesses: Vec::new(),
            requests: Vec::new(),
            retention: BTreeMap::new(),
            erased_at: None,
        });
    };
    let subject = store::subject_by_id(&mut *tx, subject_id).await?;
    let purpose = format!("dsar: {kind} request #{id}");
    let mut personal_data = BTreeMap::new();
    let rows = store::pii_rows(&mut *tx, subject.id).await?;
    if !subject.erased() && !rows.is_empty() {
        let master = master_version(&mut *tx, key, actor, now).await?;
        let (dek, _) = data_key(&mut *tx, key, master, &subject, false, now).await?;
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
            &mut *tx,
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
    let other_data = store::analytics_rows(&mut *tx, subject.id).await?;
    // Portability covers what the person provided: their data, not our
    // records about it.
    let portability = kind == RequestKind::Portability;
    let (accesses, requests) = if portability {
        (Vec::new(), Vec::new())
    } else {
        let accesses = store::access_log(
            &mut *tx,
            &store::AccessFilter {
                subject_ref: Some(subject.r#ref.clone()),
                limit: 10_000,
                ..Default::default()
            },
        )
        .await?;
        let requests = store::requests(&mut *tx, false, Some(subject.id))
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
        (accesses, requests)
    };
    let mut held: Vec<&str> = personal_data
        .values()
        .map(|f| f.category.as_str())
        .chain(other_data.iter().map(|a| a.category.as_str()))
        .collect();
    held.sort_unstable();
    held.dedup();
    let processing = if portability {
        BTreeMap::new()
    } else {
        crate::privacy::ropa::records(cfg)
            .into_iter()
            .filter(|rec| held.contains(&rec.category.as_str()))
            .map(|rec| (rec.category.clone(), rec))
            .collect()
    };
    let retention = cfg
        .categories
        .iter()
        .map(|(k, c)| (k.clone(), c.retention.to_string()))
        .collect();
    Ok(Export {
        subject: subject.r#ref,
        status: subject.status,
        generated_at: now,
        request_id: id,
        kind: kind.as_str().into(),
        note: None,
        personal_data,
        other_data,
        processing,
        accesses,
        requests,
        retention,
        erased_at: subject.erased_at,
    })
}

impl Export {
    /// The data as CSV (`field,category,value,collected_at`), one row per
    /// personal-data field and per other record: the portable format.
    pub fn to_csv(&self) -> String {
        fn cell(s: &str) -> String {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        }
        let mut out = String::from("field,category,value,collected_at\n");
        for (field, f) in &self.personal_data {
            out.push_str(&format!(
                "{},{},{},{}\n",
                cell(field),
                cell(&f.category),
                cell(&f.value),
                f.collected_at.to_rfc3339()
            ));
        }
        for a in &self.other_data {
            out.push_str(&format!(
                "{},{},{},{}\n",
                cell(&a.field),
                cell(&a.category),
                cell(&a.value),
                a.collected_at.to_rfc3339()
            ));
        }
        out
    }
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
    let subject = subject_of(&mut tx, &r).await?;
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
            if name == super::intake::EMAIL_FIELD {
                let master = master_version(&mut tx, key, actor, now).await?;
                super::intake::index_email(&mut tx, key, master, &subject, value).await?;
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

/// The approvals entity of an erasure's four-eyes approval.
pub fn erasure_entity(id: i64) -> String {
    format!("erasure:{id}")
}

/// Carry out an erasure request, four eyes: the officer's request goes to
/// a second person (one of the erasure approvers, never the requester)
/// through the engine's approvals, and the request waits in progress. The
/// data key is destroyed when they approve (`decide_erasure`).
pub async fn complete_erasure(
    ctx: &Ctx,
    id: i64,
    actor: &str,
) -> Result<(Request, approvals::ApprovalRequest)> {
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let mut r = lock_request_for(ctx, &mut tx, id, actor, "execute data-subject requests").await?;
    if r.kind()? != RequestKind::Erasure {
        return Err(Error::invalid(format!(
            "request #{id} is a {} request, not erasure",
            r.kind
        )));
    }
    let to = model::decide_request(r.state()?, RequestCommand::Start, now)
        .map_err(|e| Error::invalid(e.0))?;
    let subject = subject_of(&mut tx, &r).await?;
    let approval = approvals::request(
        ctx,
        &mut tx,
        &NewApproval {
            workflow: WORKFLOW.into(),
            entity_id: erasure_entity(id),
            subject_version: 1,
            title: format!("Erase subject {} (request #{id})", subject.r#ref),
            requested_by: actor.into(),
            eligible: roles(&crate::privacy::config::settings(&ctx.config)?.erasure_approvers),
            required: 1,
            must_include: Vec::new(),
            deadline: None,
        },
    )
    .await?;
    let from = std::mem::replace(&mut r.status, to.as_str().into());
    r.approval_id = Some(approval.id);
    r.updated_at = now;
    store::save_request(&mut tx, &r).await?;
    event(
        ctx,
        &mut tx,
        "request",
        id,
        "erasure_requested",
        actor,
        |e| {
            e.transition(Some(from), to)
                .reason(format!(
                    "erasure of {} awaits a second person's approval",
                    subject.r#ref
                ))
                .payload(
                    serde_json::json!({ "approval_id": approval.id, "subject": subject.r#ref }),
                )
        },
    )
    .await?;
    tx.commit().await?;
    Ok((r, approval))
}

/// Decide an erasure's approval (through the engine's approvals: roles,
/// no self-approval). Approved: the subject is crypto-shredded and the
/// request completed; refused: it goes back to verified.
pub async fn decide_erasure(
    ctx: &Ctx,
    id: i64,
    approver: &str,
    decision: Decision,
    comment: &str,
) -> Result<(Request, Outcome, Option<Erased>)> {
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let mut r = store::request(&mut tx, id, true).await?;
    let approval = match (r.approval_id, r.status()?) {
        (Some(a), RequestStatus::InProgress) => a,
        _ => {
            return Err(Error::invalid(format!(
                "request #{id} has no erasure waiting for approval"
            )));
        }
    };
    let (_, outcome) =
        approvals::decide(ctx, &mut tx, approval, approver, decision, comment, None).await?;
    let mut erased = None;
    match outcome {
        Outcome::Approved => {
            let status = model::decide_request(r.state()?, RequestCommand::Complete, now)
                .map_err(|e| Error::invalid(e.0))?;
            let subject = subject_of(&mut tx, &r).await?;
            let (sealed_fields, unlinked_records) =
                shred(ctx, &mut tx, &subject, Some(id), approver).await?;
            finish_request(
                ctx,
                &mut tx,
                &mut r,
                status,
                format!(
                    "data key destroyed: {sealed_fields} sealed field(s) unreadable, {unlinked_records} record(s) unlinked"
                ),
                approver,
            )
            .await?;
            erased = Some(Erased {
                request: r.clone(),
                subject: subject.r#ref,
                sealed_fields,
                unlinked_records,
            });
        }
        Outcome::Rejected | Outcome::ChangesRequested => {
            let to = model::decide_request(r.state()?, RequestCommand::SendBack, now)
                .map_err(|e| Error::invalid(e.0))?;
            let from = std::mem::replace(&mut r.status, to.as_str().into());
            r.approval_id = None;
            r.updated_at = now;
            store::save_request(&mut tx, &r).await?;
            event(
                ctx,
                &mut tx,
                "request",
                id,
                "erasure_refused",
                approver,
                |e| {
                    e.transition(Some(from), to)
                        .reason(comment)
                        .payload(serde_json::json!({ "approval_id": approval }))
                },
            )
            .await?;
        }
        Outcome::Pending { .. } | Outcome::AlreadyApproved => {}
    }
    tx.commit().await?;
    Ok((r, outcome, erased))
}

pub(super) async fn shred(
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
    // The blind index of their address goes too: nothing finds them again.
    store::delete_email_index(conn, subject.id).await?;
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
