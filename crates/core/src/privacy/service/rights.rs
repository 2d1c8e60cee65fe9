//! Identity verification, and the rights beyond access, rectification and
//! erasure: restriction (Art. 18), portability (Art. 20), objection to
//! direct marketing (Art. 21); the export of an access or portability
//! request; the check other workflows make before marketing to a person.

use super::requests::{
    build_export, complete_export, finish_request, lock_request_for, subject_of,
};
use super::{event, no_pii_in};
use crate::engine::Ctx;
use crate::engine::timers;
use crate::error::{Error, Result};
use crate::privacy::WORKFLOW;
use crate::privacy::config::ClockStarts;
use crate::privacy::crypto::MasterKey;
use crate::privacy::deadline;
use crate::privacy::model::{self, RequestCommand, RequestKind, RequestStatus};
use crate::privacy::service::Export;
use crate::privacy::store::{self, Request};
use crate::privacy::timers::{VERIFY_STALL_TIMER, schedule_request_clocks};

/// A step of identity verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Proof of identity was asked for.
    Started,
    /// The identity is established.
    Verified,
}

/// Record a verification step with how the identity is checked (never
/// the evidence). With `requests.clock_starts = "verification"` the month
/// starts now.
pub async fn verify_request(
    ctx: &Ctx,
    id: i64,
    step: Verification,
    method: &str,
    actor: &str,
) -> Result<Request> {
    let method = method.trim();
    if method.is_empty() {
        return Err(Error::invalid(
            "say how the identity is checked (--method), without the evidence itself",
        ));
    }
    no_pii_in(ctx, "the method", method)?;
    let now = ctx.now();
    let cfg = crate::privacy::config::settings(&ctx.config)?;
    let mut tx = ctx.pool.begin().await?;
    let mut r = lock_request_for(ctx, &mut tx, id, actor, "verify data-subject requests").await?;
    let cmd = match step {
        Verification::Started => RequestCommand::StartVerification,
        Verification::Verified => RequestCommand::Verify,
    };
    let to = model::decide_request(r.state()?, cmd, now)
        .map_err(|e| Error::invalid(format!("request #{id}: {}", e.0)))?;
    let from = std::mem::replace(&mut r.status, to.as_str().into());
    r.verification = Some(method.to_string());
    if step == Verification::Verified {
        r.verified_at = Some(now);
        r.verified_by = Some(actor.into());
        if cfg.requests.clock_starts == ClockStarts::Verification {
            let extended = u32::try_from(r.extended_months).unwrap_or(0);
            r.first_due_at = deadline::request_deadline(&ctx.calendar, now, cfg.requests.months);
            r.due_at =
                deadline::request_deadline(&ctx.calendar, now, cfg.requests.months + extended);
            schedule_request_clocks(ctx, &mut tx, &r).await?;
        }
        timers::cancel(&mut tx, WORKFLOW, &id.to_string(), Some(VERIFY_STALL_TIMER)).await?;
    }
    r.updated_at = now;
    store::save_request(&mut tx, &r).await?;
    let action = match step {
        Verification::Started => "verification_started",
        Verification::Verified => "request_verified",
    };
    event(ctx, &mut tx, "request", id, action, actor, |e| {
        e.transition(Some(from), to)
            .reason(method)
            .payload(serde_json::json!({ "due_at": r.due_at }))
    })
    .await?;
    tx.commit().await?;
    Ok(r)
}

/// Restriction (Art. 18) or objection (Art. 21): the subject is flagged.
async fn complete_flag(ctx: &Ctx, id: i64, kind: RequestKind, actor: &str) -> Result<Request> {
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
    let subject = subject_of(&mut tx, &r).await?;
    let (action, outcome) = if kind == RequestKind::Restriction {
        store::set_restricted(&mut tx, subject.id, Some(now)).await?;
        let allowed = &crate::privacy::config::settings(&ctx.config)?.restricted_purposes;
        (
            "restricted",
            format!(
                "processing restricted: reads only for {}; no marketing",
                allowed.join(", ")
            ),
        )
    } else {
        store::set_objected(&mut tx, subject.id, Some(now)).await?;
        (
            "objected",
            "objection to direct marketing: no journey touches, no campaigns".to_string(),
        )
    };
    event(
        ctx,
        &mut tx,
        "subject",
        &subject.r#ref,
        action,
        actor,
        |e| {
            e.reason(outcome.clone())
                .payload(serde_json::json!({ "request": id }))
        },
    )
    .await?;
    finish_request(ctx, &mut tx, &mut r, status, outcome, actor).await?;
    tx.commit().await?;
    Ok(r)
}

/// Restrict the person's processing (Art. 18): reads are refused except
/// for `restricted_purposes`; marketing skips them.
pub async fn complete_restriction(ctx: &Ctx, id: i64, actor: &str) -> Result<Request> {
    complete_flag(ctx, id, RequestKind::Restriction, actor).await
}

/// The person objects to direct marketing (Art. 21): the journey records
/// no more touches for them and no campaign targets them.
pub async fn complete_objection(ctx: &Ctx, id: i64, actor: &str) -> Result<Request> {
    complete_flag(ctx, id, RequestKind::Objection, actor).await
}

/// Complete a portability request (Art. 20): the data the person provided,
/// decrypted, as JSON (`Export`) or CSV (`Export::to_csv`).
pub async fn complete_portability(
    ctx: &Ctx,
    key: &MasterKey,
    id: i64,
    actor: &str,
) -> Result<Export> {
    complete_export(ctx, key, id, RequestKind::Portability, actor).await
}

/// The export of an access or portability request, once the identity is
/// verified (again after completion, for delivery). The read is logged.
pub async fn export_request(ctx: &Ctx, key: &MasterKey, id: i64, actor: &str) -> Result<Export> {
    let mut tx = ctx.pool.begin().await?;
    let r = lock_request_for(ctx, &mut tx, id, actor, "export data-subject requests").await?;
    if !matches!(r.kind()?, RequestKind::Access | RequestKind::Portability) {
        return Err(Error::invalid(format!(
            "request #{id} is a {} request: only access and portability requests have an export",
            r.kind
        )));
    }
    match r.status()? {
        RequestStatus::Verified | RequestStatus::InProgress | RequestStatus::Completed => {}
        RequestStatus::Received | RequestStatus::Verifying => {
            return Err(Error::invalid(format!(
                "request #{id} is {}: verify the person's identity before exporting their data",
                r.status
            )));
        }
        RequestStatus::Refused => {
            return Err(Error::conflict(format!("request #{id} was refused")));
        }
    }
    let export = build_export(ctx, &mut tx, key, &r, actor).await?;
    tx.commit().await?;
    Ok(export)
}

/// May the person with this reference be marketed to? Not after an
/// objection (Art. 21) or while processing is restricted (Art. 18). A
/// reference privacy does not know is not a person who objected.
pub async fn may_market(ctx: &Ctx, subject_ref: &str) -> Result<bool> {
    let mut conn = ctx.pool.acquire().await?;
    Ok(!store::marketing_stopped(&mut conn, subject_ref).await?)
}

/// For the journey and campaigns: refuse a marketing touch for a person
/// who objected or whose processing is restricted.
pub async fn refuse_marketing(ctx: &Ctx, subject_ref: &str) -> Result<()> {
    if may_market(ctx, subject_ref).await? {
        return Ok(());
    }
    Err(Error::conflict(format!(
        "{subject_ref} objected to direct marketing or restricted their processing (GDPR Art. 21/18): no touch is recorded"
    )))
}
