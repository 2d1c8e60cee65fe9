//! Who is on call: the rotation from config, unless a live override stored
//! in the database covers the moment.
//!
//! The rules an override obeys (`add_override`): it is set by the person
//! taking the shift, or by a team lead or the director of the schedule's
//! department; it puts on call only someone whose role may respond (the
//! caller's list: the engine names no workflow); it does not overlap
//! another live override of the schedule unless it replaces it explicitly.
//! Every change is an event on the schedule.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::Ctx;
use super::events::{self, NewEvent};
use crate::error::{Error, Result};
use crate::org::{Person, Role, RoleRef, Schedule, or_list};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnCall {
    pub schedule: String,
    pub department: String,
    pub person: String,
    /// The person's name, as people read it.
    pub name: String,
    /// "rotation" or "override"
    pub via: &'static str,
    /// The schedule's layer that puts them on call (None: the base rotation
    /// or an override).
    pub layer: Option<String>,
    /// When this person's cover ends: the override's end, or the shift's
    /// hand-over (None when the rotation cannot say).
    pub until: Option<DateTime<Utc>>,
}

/// A live override, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Override {
    pub id: i64,
    pub schedule: String,
    pub person: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
}

/// Who live overrides put on call at `at`, by schedule (the newest wins).
pub async fn overrides_at(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
) -> Result<HashMap<String, String>> {
    Ok(live_overrides_at(conn, at)
        .await?
        .into_iter()
        .map(|(k, o)| (k, o.person))
        .collect())
}

/// Live overrides in force at `at`, by schedule (the newest wins).
pub async fn live_overrides_at(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
) -> Result<HashMap<String, Override>> {
    let rows: Vec<Override> = sqlx::query_as(
        "SELECT DISTINCT ON (schedule) id, schedule, person, starts_at, ends_at, created_by
         FROM oncall_overrides
         WHERE starts_at <= $1 AND ends_at > $1 AND cancelled_at IS NULL
         ORDER BY schedule, created_at DESC, id DESC",
    )
    .bind(at)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|o| (o.schedule.clone(), o)).collect())
}

/// When the cover under way at `at` may pass to someone else: the shift's
/// hand-over, the end of its layer's hours or the start of a higher layer's.
pub fn shift_end(s: &Schedule, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    s.cover_at(at)?.until
}

/// Who is on call on every schedule at `at`, and until when.
pub async fn all_at(ctx: &Ctx, conn: &mut PgConnection, at: DateTime<Utc>) -> Result<Vec<OnCall>> {
    let overrides = live_overrides_at(conn, at).await?;
    Ok(ctx
        .org
        .schedules
        .iter()
        .filter_map(|s| {
            let (person, via, until, layer) = match overrides.get(&s.name) {
                Some(o) => (o.person.clone(), "override", Some(o.ends_at), None),
                None => {
                    let c = s.cover_at(at)?;
                    let layer = c.layer.map(str::to_string);
                    (c.person.to_string(), "rotation", c.until, layer)
                }
            };
            Some(OnCall {
                schedule: s.name.clone(),
                department: s.department.clone(),
                name: ctx
                    .org
                    .person(&person)
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                person,
                via,
                layer,
                until,
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

/// A request to put someone on call for a while.
#[derive(Debug, Clone)]
pub struct NewOverride<'a> {
    pub schedule: &'a str,
    pub person: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub actor: &'a str,
    /// Replace the live overrides it overlaps (they are cancelled, kept as
    /// records) instead of being refused.
    pub replace: bool,
}

/// What `add_override` did.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    pub id: i64,
    pub schedule: String,
    pub person: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The overrides it replaced.
    pub replaced: Vec<Override>,
}

/// May `actor` change who covers `schedule`? The person taking the shift
/// themselves, or a team lead or the director of the schedule's department.
fn may_set(actor: &Person, schedule: &Schedule, person: &str) -> bool {
    actor.handle == person || manages(actor, schedule)
}

fn manages(actor: &Person, schedule: &Schedule) -> bool {
    actor.department == schedule.department
        && (actor.has_role(Role::TeamLead) || actor.has_role(Role::Director))
}

/// Put `person` on call for a schedule between two moments. `eligible`
/// are the roles that may respond (the caller's rules: crisis passes its
/// `[crisis.roles] respond`). Runs in the caller's transaction.
pub async fn add_override(
    ctx: &Ctx,
    conn: &mut PgConnection,
    req: &NewOverride<'_>,
    eligible: &[RoleRef],
) -> Result<Added> {
    let actor = ctx.org.actor(req.actor)?;
    let person = ctx.org.actor(req.person)?;
    let Some(schedule) = ctx.org.schedule(req.schedule) else {
        let known: Vec<&str> = ctx.org.schedules.iter().map(|s| s.name.as_str()).collect();
        return Err(Error::not_found(format!(
            "unknown on-call schedule {:?}; schedules: {}",
            req.schedule,
            known.join(", ")
        )));
    };
    if req.ends_at <= req.starts_at {
        return Err(Error::invalid("an override must end after it starts"));
    }
    if !may_set(actor, schedule, &person.handle) {
        let dept = ctx
            .org
            .department(&schedule.department)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| schedule.department.clone());
        return Err(Error::forbidden(format!(
            "{} cannot put {} on call for {}: only the person taking the shift, a {dept} team lead or the {dept} director may",
            actor.label(),
            person.label(),
            schedule.name
        )));
    }
    if !ctx.org.holds_any(person, eligible) {
        let who: Vec<String> = eligible.iter().map(|r| ctx.org.describe_role(r)).collect();
        return Err(Error::forbidden(format!(
            "{} cannot be put on call: being on call means responding to incidents, which takes {}",
            person.label(),
            or_list(&who)
        )));
    }
    // One writer per schedule at a time, so two overlapping requests
    // cannot both see no overlap.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('oncall:' || $1))")
        .bind(&schedule.name)
        .execute(&mut *conn)
        .await?;
    let overlapping: Vec<Override> = sqlx::query_as(
        "SELECT id, schedule, person, starts_at, ends_at, created_by FROM oncall_overrides
         WHERE schedule = $1 AND cancelled_at IS NULL AND starts_at < $3 AND ends_at > $2
         ORDER BY starts_at, id",
    )
    .bind(&schedule.name)
    .bind(req.starts_at)
    .bind(req.ends_at)
    .fetch_all(&mut *conn)
    .await?;
    let describe = |o: &Override| {
        format!(
            "#{} @{} {} to {}",
            o.id,
            o.person,
            ctx.calendar.format_local(o.starts_at),
            ctx.calendar.format_local(o.ends_at)
        )
    };
    if !overlapping.is_empty() {
        let list: Vec<String> = overlapping.iter().map(describe).collect();
        if !req.replace {
            return Err(Error::conflict(format!(
                "{} already has an override then ({}); add --replace to replace it",
                schedule.name,
                list.join("; ")
            )));
        }
        // Taking a shift yourself replaces only your own cover.
        if !manages(actor, schedule)
            && let Some(other) = overlapping.iter().find(|o| o.person != actor.handle)
        {
            return Err(Error::forbidden(format!(
                "{} cannot replace {}'s cover ({}): only a team lead or the director of its department may",
                actor.label(),
                other.person,
                describe(other)
            )));
        }
    }
    let now = ctx.now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO oncall_overrides (schedule, person, starts_at, ends_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&schedule.name)
    .bind(&person.handle)
    .bind(req.starts_at)
    .bind(req.ends_at)
    .bind(&actor.handle)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    for old in &overlapping {
        sqlx::query(
            "UPDATE oncall_overrides SET cancelled_at = $2, cancelled_by = $3, replaced_by = $4 WHERE id = $1",
        )
        .bind(old.id)
        .bind(now)
        .bind(&actor.handle)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        let event = NewEvent::new(
            "oncall",
            "schedule",
            &schedule.name,
            "override_replaced",
            &actor.handle,
        )
        .reason(format!("{} replaced by #{id}", describe(old)))
        .payload(serde_json::json!({
            "override": old.id, "person": old.person, "starts_at": old.starts_at,
            "ends_at": old.ends_at, "replaced_by": id,
        }));
        events::append(conn, &event, now).await?;
    }
    let event = NewEvent::new(
        "oncall",
        "schedule",
        &schedule.name,
        "override_added",
        &actor.handle,
    )
    .reason(format!(
        "@{} on call {} to {}",
        person.handle,
        ctx.calendar.format_local(req.starts_at),
        ctx.calendar.format_local(req.ends_at)
    ))
    .payload(serde_json::json!({
        "override": id, "person": person.handle, "starts_at": req.starts_at,
        "ends_at": req.ends_at, "replaced": overlapping.iter().map(|o| o.id).collect::<Vec<_>>(),
    }));
    events::append(conn, &event, now).await?;
    Ok(Added {
        id,
        schedule: schedule.name.clone(),
        person: person.handle.clone(),
        starts_at: req.starts_at,
        ends_at: req.ends_at,
        replaced: overlapping,
    })
}

/// Cancel a live override (same rules as setting it: the person covering,
/// or a team lead or the director of the schedule's department).
pub async fn cancel_override(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    actor: &str,
) -> Result<Override> {
    let actor = ctx.org.actor(actor)?;
    let row: Option<Override> = sqlx::query_as(
        "SELECT id, schedule, person, starts_at, ends_at, created_by FROM oncall_overrides
         WHERE id = $1 AND cancelled_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(o) = row else {
        return Err(Error::not_found(format!("no live on-call override #{id}")));
    };
    let allowed = match ctx.org.schedule(&o.schedule) {
        Some(s) => may_set(actor, s, &o.person),
        None => actor.handle == o.person,
    };
    if !allowed {
        return Err(Error::forbidden(format!(
            "{} cannot cancel override #{id}: only @{}, a team lead or the director of its department may",
            actor.label(),
            o.person
        )));
    }
    let now = ctx.now();
    sqlx::query("UPDATE oncall_overrides SET cancelled_at = $2, cancelled_by = $3 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(&actor.handle)
        .execute(&mut *conn)
        .await?;
    let event = NewEvent::new(
        "oncall",
        "schedule",
        &o.schedule,
        "override_cancelled",
        &actor.handle,
    )
    .payload(serde_json::json!({
        "override": id, "person": o.person, "starts_at": o.starts_at, "ends_at": o.ends_at,
    }));
    events::append(conn, &event, now).await?;
    Ok(o)
}
