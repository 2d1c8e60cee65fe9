//! Who is on call: the rotation from config, unless an override stored in
//! the database covers the moment.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::Ctx;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnCall {
    pub schedule: String,
    pub department: String,
    pub person: String,
    /// "rotation" or "override"
    pub via: &'static str,
}

/// Overrides in force at `at`, by schedule (the newest wins).
pub async fn overrides_at(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
) -> Result<HashMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (schedule) schedule, person FROM oncall_overrides
         WHERE starts_at <= $1 AND ends_at > $1 ORDER BY schedule, created_at DESC, id DESC",
    )
    .bind(at)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Who is on call on every schedule at `at`.
pub async fn all_at(ctx: &Ctx, conn: &mut PgConnection, at: DateTime<Utc>) -> Result<Vec<OnCall>> {
    let overrides = overrides_at(conn, at).await?;
    Ok(ctx
        .org
        .schedules
        .iter()
        .filter_map(|s| {
            let (person, via) = match overrides.get(&s.name) {
                Some(p) => (p.clone(), "override"),
                None => (s.rotation_at(at)?.to_string(), "rotation"),
            };
            Some(OnCall {
                schedule: s.name.clone(),
                department: s.department.clone(),
                person,
                via,
            })
        })
        .collect())
}

/// Resolve escalation targets to people at `at`, honouring overrides.
pub async fn resolve_targets(
    ctx: &Ctx,
    conn: &mut PgConnection,
    targets: &[crate::org::Target],
    concerned: &[String],
    at: DateTime<Utc>,
) -> Result<Vec<String>> {
    let overrides = overrides_at(conn, at).await?;
    Ok(ctx.org.resolve(targets, concerned, &|s| {
        overrides
            .get(&s.name)
            .cloned()
            .or_else(|| s.rotation_at(at).map(str::to_string))
    }))
}

/// Put `person` on call for `schedule` between two moments.
pub async fn add_override(
    ctx: &Ctx,
    conn: &mut PgConnection,
    schedule: &str,
    person: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    actor: &str,
) -> Result<i64> {
    ctx.org.actor(actor)?;
    ctx.org.actor(person)?;
    if ctx.org.schedule(schedule).is_none() {
        return Err(Error::not_found(format!(
            "unknown on-call schedule {schedule:?}"
        )));
    }
    if ends_at <= starts_at {
        return Err(Error::invalid("an override must end after it starts"));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO oncall_overrides (schedule, person, starts_at, ends_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(schedule)
    .bind(person)
    .bind(starts_at)
    .bind(ends_at)
    .bind(actor)
    .bind(ctx.now())
    .fetch_one(&mut *conn)
    .await?;
    let event =
        super::events::NewEvent::new("oncall", "schedule", schedule, "override_added", actor)
            .payload(
                serde_json::json!({ "person": person, "starts_at": starts_at, "ends_at": ends_at }),
            );
    super::events::append(conn, &event, ctx.now()).await?;
    Ok(id)
}
