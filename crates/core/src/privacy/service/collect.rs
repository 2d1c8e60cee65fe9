//! Collection and reads of personal data: every field classified, PII
//! sealed under the subject's data key, non-PII to analytics in clear;
//! every read checked against the category's readers and logged with its
//! purpose, refusals included.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::keys::{data_key, master_version};
use super::{check_ref, crypto_failure, event, no_pii_in};
use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::privacy::classify::{Classified, Classifier, purpose_of};
use crate::privacy::crypto::{DataKey, FieldBinding, MasterKey};
use crate::privacy::store::{self, Subject};
use crate::privacy::timers::ensure_audit_scheduled;

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
    let classified = Classifier::new(crate::privacy::config::settings(&ctx.config)?)
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
            let id = store::next_subject_id(&mut tx).await?;
            let r = subject_ref
                .map(str::to_string)
                .unwrap_or_else(|| format!("C{id:06}"));
            store::insert_subject(&mut tx, id, &r, now, actor).await?;
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
                if name == super::intake::EMAIL_FIELD {
                    super::intake::index_email(&mut tx, key, master, &subject, value).await?;
                }
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
                store::insert_analytics(&mut tx, subject.id, name, &class.category, value, now)
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
pub(super) async fn store_pii(
    conn: &mut PgConnection,
    dek: &DataKey,
    key_version: i32,
    subject: &Subject,
    field: &str,
    category: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let row_id = match store::pii_row_id(conn, subject.id, field).await? {
        Some(id) => id,
        None => store::next_pii_id(conn).await?,
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
    store::upsert_pii(
        conn,
        &store::NewPii {
            id: row_id,
            subject_id: subject.id,
            field,
            category,
            ciphertext: &sealed,
            key_version,
            at: now,
        },
    )
    .await
}

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
    let purposes = &crate::privacy::config::settings(&ctx.config)?.purposes;
    if purpose.is_empty() {
        return Ok(Err((
            Error::invalid(format!(
                "a read of personal data needs a purpose (--purpose NAME or \"NAME: detail\"; purposes: {})",
                purposes.join(", ")
            )),
            attempt,
        )));
    }
    if let Err(e) = no_pii_in(ctx, "the purpose", purpose) {
        return Ok(Err((e, attempt)));
    }
    if purpose_of(purposes, purpose).is_none() {
        return Ok(Err((
            Error::invalid(format!(
                "{:?} is not a purpose personal data may be read for: name one of {} (--purpose NAME or \"NAME: detail\")",
                attempt.purpose,
                purposes.join(", ")
            )),
            attempt,
        )));
    }
    if subject.restricted_at.is_some() {
        let allowed = &crate::privacy::config::settings(&ctx.config)?.restricted_purposes;
        let named = purpose_of(purposes, purpose);
        if !named.is_some_and(|p| allowed.contains(&p)) {
            return Ok(Err((
                Error::forbidden(format!(
                    "processing of {}'s data is restricted (GDPR Art. 18): reads only for {}",
                    subject.r#ref,
                    allowed.join(", ")
                )),
                attempt,
            )));
        }
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
    let classifier = Classifier::new(crate::privacy::config::settings(&ctx.config)?);
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
