//! Privacy commands. Each state change is one transaction: it writes the
//! entity, appends the event, schedules or cancels timers and queues
//! notifications. Reads of PII are logged in the same transaction as the
//! decryption, refusals included (the refusal commits, then the error is
//! returned). Events, notifications and logs carry field names, categories,
//! counts and pseudonymous subject references: never a value.
//!
//! The commands are split by concern: `collect` (collection and reads of
//! personal data), `keys` (the master key and data keys), `requests`
//! (data-subject requests), `breaches`, `findings`. This file holds what
//! they share. Clocks are in `timers.rs`, read models in `read.rs`, SQL in
//! `store.rs`.

mod breaches;
mod collect;
mod findings;
mod intake;
mod keys;
mod requests;
mod rights;

pub use breaches::{
    BreachInfoUpdate, NewBreach, add_task, closeout_entity, complete_task, decide_closeout,
    exempt_breach, notify_authority, open_breach, request_close, update_breach,
};
pub use collect::{Collected, PiiRead, ReadRequest, collect, read};
pub use findings::resolve_finding;
pub use intake::{EMAIL_FIELD, Found, find_by_email};
pub use keys::{KeyStatus, MasterVersion, Rotation, check_key, master_version, rotate_master};
pub use requests::{
    Erased, Export, ExportField, ExportRequest, NewRequest, complete_access, complete_erasure,
    complete_rectification, decide_erasure, erasure_entity, extend_request, open_request,
    open_request_by_email, refuse_request,
};
pub use rights::{
    Verification, complete_objection, complete_portability, complete_restriction, export_request,
    may_market, refuse_marketing, verify_request,
};

use sqlx::PgConnection;

use super::WORKFLOW;
use super::classify::Classifier;
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::error::{Error, Result};
use crate::org::{Person, RoleRef};

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
