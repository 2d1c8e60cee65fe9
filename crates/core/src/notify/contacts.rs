//! Contact methods of staff: added, listed (masked), removed and tested by
//! people; revealed only to the delivery of a page.
//!
//! A detail is sealed with a data key of its own (AES-256-GCM, the envelope
//! encryption of `privacy::crypto`), wrapped by the master key of the
//! process (`VIVID_MASTER_KEY`). The associated data binds the ciphertext to
//! its row and method; the wrap uses the negated row id as its subject, so a
//! contact's key can never pass for a customer's. Only a masked hint is kept
//! in clear. Removing a contact deletes the row, key and all.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Connection, PgConnection};
use zeroize::Zeroizing;

use super::model::{self, Method};
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification, Page};
use crate::error::{Error, Result};
use crate::privacy::crypto::{DataKey, FieldBinding, MasterKey, WrapBinding, ambient_key};

/// The event log's workflow name for contact changes.
pub const WORKFLOW: &str = "notify";

/// A contact method as people may see it: masked.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Contact {
    pub id: i64,
    pub person: String,
    #[sqlx(try_from = "String")]
    pub method: MethodText,
    pub hint: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A method read back from the database (an unknown one is an internal fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MethodText(pub Method);

impl TryFrom<String> for MethodText {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
        s.parse().map(MethodText)
    }
}

/// A contact's detail in clear, for one delivery. Wiped when dropped; its
/// Debug never shows it.
pub struct Revealed {
    pub id: i64,
    pub person: String,
    pub method: Method,
    pub detail: Zeroizing<String>,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revealed")
            .field("id", &self.id)
            .field("person", &self.person)
            .field("method", &self.method)
            .field("detail", &"(redacted)")
            .finish()
    }
}

const KEY_VERSION: i32 = 1;

fn field(method: Method) -> String {
    format!("contact.{method}")
}

fn master_key() -> Result<MasterKey> {
    ambient_key()?.ok_or_else(|| {
        Error::invalid(
            "VIVID_MASTER_KEY is not set: contact details are personal data, sealed with the master key \
             (`vivid privacy keygen` prints a new one)",
        )
    })
}

fn sealing(e: crate::privacy::crypto::CryptoError) -> Error {
    Error::internal(format!("cannot seal a contact detail: {e}"))
}

/// Add a contact method for `person`. `to` is the address, number, topic or
/// URL (nothing for discord). Returns it masked.
pub async fn add(
    ctx: &Ctx,
    person: &str,
    method: Method,
    to: &str,
    actor: &str,
) -> Result<Contact> {
    ctx.org.actor(actor)?;
    let who = ctx.org.actor(person)?.handle.clone();
    may_manage(ctx, actor, &who)?;
    let detail = Zeroizing::new(model::check_detail(method, to).map_err(Error::invalid)?);
    if method == Method::Discord
        && ctx
            .org
            .person(&who)
            .and_then(|p| p.discord_id.as_ref())
            .is_none()
    {
        return Err(Error::invalid(format!(
            "{who} has no Discord account in the org directory (people.discord_id); a direct message cannot reach them"
        )));
    }
    let hint = model::mask(method, &detail);
    let now = ctx.now();
    let key = if method.has_detail() {
        Some(master_key()?)
    } else {
        None
    };
    let mut conn = ctx.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let duplicate: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM contact_methods WHERE person = $1 AND method = $2 AND hint = $3 LIMIT 1",
    )
    .bind(&who)
    .bind(method.as_str())
    .bind(&hint)
    .fetch_optional(&mut *tx)
    .await?;
    if method == Method::Discord && duplicate.is_some() {
        return Err(Error::conflict(format!(
            "{who} already has a discord contact (#{})",
            duplicate.unwrap_or_default()
        )));
    }
    let id: i64 =
        sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('contact_methods', 'id'))")
            .fetch_one(&mut *tx)
            .await?;
    let (master_version, wrapped, sealed) = match &key {
        Some(key) => {
            let version = crate::privacy::service::master_version(&mut tx, key, actor, now).await?;
            let data_key = DataKey::generate().map_err(sealing)?;
            let wrapped = key
                .wrap(
                    &data_key,
                    &WrapBinding {
                        subject_id: -id,
                        key_version: KEY_VERSION,
                        master_version: version,
                    },
                )
                .map_err(sealing)?;
            let name = field(method);
            let sealed = data_key
                .seal(
                    &detail,
                    &FieldBinding {
                        row_id: id,
                        subject_id: -id,
                        field: &name,
                        key_version: KEY_VERSION,
                    },
                )
                .map_err(sealing)?;
            (Some(version), Some(wrapped), Some(sealed))
        }
        None => (None, None, None),
    };
    let contact: Contact = sqlx::query_as(
        "INSERT INTO contact_methods (id, person, method, hint, master_version, wrapped_key, sealed, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id, person, method, hint, created_by, created_at",
    )
    .bind(id)
    .bind(&who)
    .bind(method.as_str())
    .bind(&hint)
    .bind(master_version)
    .bind(wrapped)
    .bind(sealed)
    .bind(actor)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "contact", id, "contact_added", actor)
            .payload(serde_json::json!({ "person": who, "method": method, "hint": hint })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(contact)
}

/// People manage their own contacts; directors and business managers
/// (`role:director`, `role:business_manager`) manage anyone's.
fn may_manage(ctx: &Ctx, actor: &str, person: &str) -> Result<()> {
    if actor == person {
        return Ok(());
    }
    let p = ctx.org.actor(actor)?;
    if p.roles.iter().any(|r| {
        matches!(
            r,
            crate::org::Role::Director
                | crate::org::Role::BusinessManager
                | crate::org::Role::Operator
        )
    }) {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "{actor} may not change {person}'s contact methods (only their own; directors, business managers and operators manage anyone's)"
    )))
}

/// Contact methods, masked: one person's, or everybody's.
pub async fn list(ctx: &Ctx, person: Option<&str>) -> Result<Vec<Contact>> {
    if let Some(p) = person {
        ctx.org.actor(p)?;
    }
    let mut conn = ctx.pool.acquire().await?;
    Ok(sqlx::query_as(
        "SELECT id, person, method, hint, created_by, created_at FROM contact_methods
         WHERE $1::text IS NULL OR person = $1 ORDER BY person, id LIMIT 10000",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await?)
}

/// Remove a contact method (its sealed detail and key go with it).
pub async fn remove(ctx: &Ctx, id: i64, actor: &str) -> Result<Contact> {
    ctx.org.actor(actor)?;
    let mut conn = ctx.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let found: Option<Contact> = sqlx::query_as(
        "SELECT id, person, method, hint, created_by, created_at FROM contact_methods WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let c = found.ok_or_else(|| Error::not_found(format!("no contact method #{id}")))?;
    may_manage(ctx, actor, &c.person)?;
    sqlx::query("DELETE FROM contact_methods WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "contact", id, "contact_removed", actor)
            .payload(serde_json::json!({ "person": c.person, "method": c.method, "hint": c.hint })),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

/// Queue a test page on every contact method of `person` (or only one
/// method). Returns the ids of the pages queued.
pub async fn test(ctx: &Ctx, person: &str, only: Option<Method>, actor: &str) -> Result<Vec<i64>> {
    ctx.org.actor(actor)?;
    let who = ctx.org.actor(person)?.handle.clone();
    may_manage(ctx, actor, &who)?;
    let contacts: Vec<Contact> = list(ctx, Some(&who))
        .await?
        .into_iter()
        .filter(|c| only.is_none_or(|m| c.method.0 == m))
        .collect();
    if contacts.is_empty() {
        return Err(Error::invalid(format!(
            "{who} has no contact method{} to test (add one with `vivid contact add {who} --method ... --to ...`)",
            only.map(|m| format!(" of kind {m}")).unwrap_or_default()
        )));
    }
    let now = ctx.now();
    let pages: Vec<NewNotification> = contacts
        .iter()
        .map(|c| {
            NewNotification::to_person(&who, WORKFLOW, c.id, "Test page from VividWalls")
                .body(format!(
                    "This is a test of your {} contact method, sent by {actor}. Nothing needs acknowledging.",
                    c.method.0
                ))
                .severity("info")
                .dedupe(format!("contact-test:{}:{}", c.id, now.timestamp_micros()))
                .payload(serde_json::json!({ "kind": "contact_test", "method": c.method.0 }))
                .page(Page {
                    channel: Some(c.method.0),
                    contact_id: Some(c.id),
                    escalation_id: None,
                    level: 0,
                    round: 0,
                })
        })
        .collect();
    let mut conn = ctx.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let ids = outbox::enqueue_many(ctx, &mut tx, &pages).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "person", &who, "contact_test_queued", actor)
            .payload(serde_json::json!({ "pages": ids })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ids)
}

/// Contact methods (id, method) of several people, in one query.
pub async fn methods_of(
    conn: &mut PgConnection,
    people: &[String],
) -> Result<std::collections::HashMap<String, Vec<(i64, Method)>>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, person, method FROM contact_methods WHERE person = ANY($1) ORDER BY id",
    )
    .bind(people)
    .fetch_all(conn)
    .await?;
    let mut out: std::collections::HashMap<String, Vec<(i64, Method)>> = Default::default();
    for (id, person, method) in rows {
        let m: Method = method
            .parse()
            .map_err(|e: String| Error::internal(format!("contact #{id}: {e}")))?;
        out.entry(person).or_default().push((id, m));
    }
    Ok(out)
}

/// A contact's detail in clear, for the delivery of one page. Needs the
/// master key of the process.
pub async fn reveal(ctx: &Ctx, id: i64) -> Result<Revealed> {
    type Row = (
        i64,
        String,
        String,
        Option<i32>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );
    let mut conn = ctx.pool.acquire().await?;
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, person, method, master_version, wrapped_key, sealed FROM contact_methods WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let (id, person, method, master_version, wrapped, sealed) =
        row.ok_or_else(|| Error::not_found(format!("contact method #{id} was removed")))?;
    let method: Method = method
        .parse()
        .map_err(|e: String| Error::internal(format!("contact #{id}: {e}")))?;
    let detail =
        match (master_version, wrapped, sealed) {
            (Some(version), Some(wrapped), Some(sealed)) => {
                let key = master_key()?;
                let opened = || {
                    let data_key = key.unwrap_key(
                        &wrapped,
                        &WrapBinding {
                            subject_id: -id,
                            key_version: KEY_VERSION,
                            master_version: version,
                        },
                    )?;
                    data_key.open(
                        &sealed,
                        &FieldBinding {
                            row_id: id,
                            subject_id: -id,
                            field: &field(method),
                            key_version: KEY_VERSION,
                        },
                    )
                };
                Zeroizing::new(opened().map_err(|e| {
                    Error::invalid(format!("cannot open contact method #{id}: {e}"))
                })?)
            }
            _ => Zeroizing::new(String::new()),
        };
    Ok(Revealed {
        id,
        person,
        method,
        detail,
    })
}

/// How test pages (or any pages) fared: method, masked contact, state, reason.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PageOutcome {
    pub id: i64,
    pub method: Option<String>,
    pub hint: Option<String>,
    pub status: String,
    pub error: Option<String>,
}

pub async fn outcomes(ctx: &Ctx, ids: &[i64]) -> Result<Vec<PageOutcome>> {
    let mut conn = ctx.pool.acquire().await?;
    Ok(sqlx::query_as(
        "SELECT o.id, o.channel AS method, c.hint,
                CASE o.status WHEN 'dead' THEN 'failed' WHEN 'pending' THEN 'queued' ELSE o.status END AS status,
                o.last_error AS error
         FROM outbox o LEFT JOIN contact_methods c ON c.id = o.contact_id
         WHERE o.id = ANY($1) ORDER BY o.id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?)
}

/// Re-wrap the data key of every sealed contact method from `current` (key
/// version `from`) to `new` (version `to`), in the caller's transaction (the
/// master key rotation's). The sealed details are not touched. A contact
/// still wrapped by an older version (before rotation re-wrapped contacts)
/// cannot be opened by either key and is left as it is. Returns how many
/// were re-wrapped.
pub(crate) async fn rewrap(
    conn: &mut PgConnection,
    current: &MasterKey,
    new: &MasterKey,
    from: i32,
    to: i32,
) -> Result<u64> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT id, wrapped_key FROM contact_methods
         WHERE master_version = $1 AND wrapped_key IS NOT NULL ORDER BY id FOR UPDATE",
    )
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    let (mut ids, mut wrapped) = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    for (id, old) in rows {
        let binding = |master_version| WrapBinding {
            subject_id: -id,
            key_version: KEY_VERSION,
            master_version,
        };
        let data_key = current.unwrap_key(&old, &binding(from)).map_err(|e| {
            Error::internal(format!(
                "cannot unwrap the key of contact method #{id}: {e}"
            ))
        })?;
        let fresh = new.wrap(&data_key, &binding(to)).map_err(sealing)?;
        ids.push(id);
        wrapped.push(fresh);
    }
    if ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE contact_methods c SET wrapped_key = u.w, master_version = $3
         FROM UNNEST($1::int8[], $2::bytea[]) AS u(id, w) WHERE c.id = u.id",
    )
    .bind(&ids)
    .bind(&wrapped)
    .bind(to)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
