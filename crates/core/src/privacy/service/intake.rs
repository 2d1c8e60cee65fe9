//! Intake by e-mail without the address in clear: a blind index (keyed
//! HMAC-SHA256 of the normalised address, the key derived from the master
//! key) kept beside the subject when their `email` field is collected, found
//! by `privacy subjects find --email`, rebuilt when the master key rotates,
//! removed on erasure.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::{crypto_failure, require};
use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::privacy::crypto::{DataKey, FieldBinding, MasterKey, normalize_email};
use crate::privacy::store::{self, Subject};

/// The collected field whose value is the person's e-mail address.
pub const EMAIL_FIELD: &str = "email";

fn normalized(email: &str) -> Result<String> {
    normalize_email(email).ok_or_else(|| {
        Error::invalid("that is not an e-mail address (name@example.com)".to_string())
    })
}

/// The subjects whose address is `email` (normally one). A wrong master key
/// is refused; on a database that never held personal data, nobody.
pub(crate) async fn subjects_by_email(
    conn: &mut PgConnection,
    key: &MasterKey,
    email: &str,
) -> Result<Vec<Subject>> {
    let address = normalized(email)?;
    match store::current_master(conn, false).await? {
        None => Ok(Vec::new()),
        Some(m) if key.matches(m.version, &m.check_value) => {
            let index = key.blind_index_key().index(&address);
            store::subjects_by_email_index(conn, &index).await
        }
        Some(m) => Err(Error::invalid(format!(
            "VIVID_MASTER_KEY is not this database's master key (version {})",
            m.version
        ))),
    }
}

/// A subject found by e-mail (never the address).
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub subject: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub restricted: bool,
    pub objected: bool,
}

/// `privacy subjects find --email`: who holds this address. For the people
/// who handle requests.
pub async fn find_by_email(
    ctx: &Ctx,
    key: &MasterKey,
    email: &str,
    actor: &str,
) -> Result<Vec<Found>> {
    let person = ctx.org.actor(actor)?.clone();
    require(
        ctx,
        &person,
        &crate::privacy::config::settings(&ctx.config)?.request_handlers,
        "look up data subjects by e-mail",
    )?;
    let mut conn = ctx.pool.acquire().await?;
    Ok(subjects_by_email(&mut conn, key, email)
        .await?
        .into_iter()
        .map(|s| Found {
            restricted: s.restricted_at.is_some(),
            objected: s.objected_at.is_some(),
            subject: s.r#ref,
            status: s.status,
            created_at: s.created_at,
        })
        .collect())
}

/// Keep the blind index in step with a collected (or corrected) address.
pub(super) async fn index_email(
    conn: &mut PgConnection,
    key: &MasterKey,
    master: i32,
    subject: &Subject,
    value: &str,
) -> Result<()> {
    // An address that is not one is still sealed, but nothing finds it.
    if let Some(address) = normalize_email(value) {
        let index = key.blind_index_key().index(&address);
        store::set_email_index(conn, subject.id, &index, master).await?;
    }
    Ok(())
}

/// Re-key one subject's blind index under a new master key (rotation): the
/// sealed address is opened with the subject's data key.
pub(super) async fn reindex(
    conn: &mut PgConnection,
    new: &MasterKey,
    master: i32,
    subject_id: i64,
    dek: &DataKey,
) -> Result<bool> {
    let Some(row) = store::pii_field(conn, subject_id, EMAIL_FIELD).await? else {
        return Ok(false);
    };
    let value = dek
        .open(
            &row.ciphertext,
            &FieldBinding {
                row_id: row.id,
                subject_id,
                field: &row.field,
                key_version: row.key_version,
            },
        )
        .map_err(|e| crypto_failure("cannot open an address to re-index it", e))?;
    match normalize_email(&value) {
        Some(address) => {
            let index = new.blind_index_key().index(&address);
            store::set_email_index(conn, subject_id, &index, master).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}
