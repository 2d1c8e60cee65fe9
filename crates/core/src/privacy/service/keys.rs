//! The master key and the per-subject data keys: proving a key, unwrapping
//! and creating data keys, and rotation (every data key re-wrapped).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::{crypto_failure, event, require};
use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::privacy::crypto::{DataKey, MasterKey, WrapBinding};
use crate::privacy::store::{self, Subject};

pub use crate::privacy::store::MasterVersion;

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
    if let Some(m) = store::current_master(conn, false).await? {
        return if key.matches(m.version, &m.check_value) {
            Ok(m.version)
        } else {
            Err(wrong_key(m.version))
        };
    }
    store::register_first_master(conn, &key.check_value(1)?, now, actor).await?;
    // Someone else may have registered a different key at the same instant.
    match store::current_master(conn, false).await? {
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
    let version = match store::current_master(&mut conn, false).await? {
        Some(m) if key.matches(m.version, &m.check_value) => Some(m.version),
        Some(m) => return Err(wrong_key(m.version)),
        None => None,
    };
    let (data_keys, destroyed_keys) = store::data_key_counts(&mut conn).await?;
    Ok(KeyStatus {
        version,
        data_keys,
        destroyed_keys,
    })
}

/// The subject's data key, created (and wrapped) on first use.
pub(crate) async fn data_key(
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
            store::insert_data_key(conn, subject.id, master, &wrapped, now).await?;
            Ok((dek, 1))
        }
        None => Err(Error::not_found(format!(
            "subject {} has no personal data",
            subject.r#ref
        ))),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Rotation {
    pub from_version: i32,
    pub to_version: i32,
    pub rewrapped: u64,
    /// E-mail blind-index entries re-keyed under the new master key.
    pub reindexed: u64,
    /// Subjects whose keys were already destroyed (nothing to re-wrap).
    pub destroyed: i64,
    /// Staff contact methods (`vivid contact`) whose keys were re-wrapped.
    pub contacts_rewrapped: u64,
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
        &crate::privacy::config::settings(&ctx.config)?.key_custodians,
        "rotate the master key",
    )?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let from = match store::current_master(&mut tx, true).await? {
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
    store::retire_master(&mut tx, from.version, now).await?;
    store::insert_master(&mut tx, to, &new.check_value(to)?, now, actor).await?;
    let rows = store::live_data_keys(&mut tx).await?;
    let mut rewrapped = 0u64;
    let mut reindexed = 0u64;
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
        store::rewrap_data_key(&mut tx, row.subject_id, &fresh, to, now).await?;
        // The blind index's key is derived from the master key: re-key it.
        if super::intake::reindex(&mut tx, new, to, row.subject_id, &dek).await? {
            reindexed += 1;
        }
        rewrapped += 1;
    }
    let contacts_rewrapped =
        crate::notify::contacts::rewrap(&mut tx, current, new, from.version, to).await?;
    let (_, destroyed) = store::data_key_counts(&mut tx).await?;
    event(
        ctx,
        &mut tx,
        "master_key",
        to,
        "master_key_rotated",
        actor,
        |e| {
            e.transition(Some(from.version), to)
                .payload(serde_json::json!({ "rewrapped": rewrapped, "reindexed": reindexed, "destroyed": destroyed, "contacts_rewrapped": contacts_rewrapped }))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Rotation {
        from_version: from.version,
        to_version: to,
        rewrapped,
        reindexed,
        destroyed,
        contacts_rewrapped,
    })
}
