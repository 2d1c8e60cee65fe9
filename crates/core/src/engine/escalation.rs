//! Escalation that workflows share: ordered levels of targets (people, roles,
//! on-call schedules, departments), a delay before each, repeated up to N
//! times. The next level is notified only while nobody has acknowledged.
//!
//! A running escalation keeps a snapshot of its policy, so a config change
//! does not alter escalations already under way.
//!
//! A level whose targets reach nobody at the moment it is due (a person who
//! has left, a schedule with nobody on call, a role nobody holds) is never
//! recorded as notified: the next level that reaches someone is notified at
//! once in its place, and when no later level does, the business manager
//! (`role:business_manager`). The `escalated` event says so (`fallback`,
//! `unresolved` and a reason).

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::events::{self, NewEvent};
use super::outbox;
use super::timers::{self, HandlerFuture, NewTimer, Timer};
use super::{Ctx, oncall};
use crate::error::{Error, Result};
use crate::notify::{self, Urgency};
use crate::org::Schedule;

pub const STEP_TIMER: &str = "escalation.step";

/// Who is paged when no remaining level of a ladder reaches anyone.
pub const LAST_RESORT: &str = "role:business_manager";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub levels: Vec<Level>,
    pub repeat: u32,
    pub repeat_after_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    pub delay_secs: i64,
    /// Target strings ("schedule:operations-primary", ...), checked at load.
    pub targets: Vec<String>,
}

impl Policy {
    /// The named policy from config.
    pub fn named(ctx: &Ctx, name: &str) -> Result<Self> {
        let p = ctx
            .config
            .escalation
            .policies
            .get(name)
            .ok_or_else(|| Error::not_found(format!("unknown escalation policy {name:?}")))?;
        Ok(Self {
            name: name.to_string(),
            levels: p
                .levels
                .iter()
                .map(|l| Level {
                    delay_secs: l.delay.delta().num_seconds(),
                    targets: l.targets.clone(),
                })
                .collect(),
            repeat: p.repeat,
            repeat_after_secs: p.repeat_after.delta().num_seconds(),
        })
    }

    /// A policy built in code (a workflow's own ladder).
    pub fn custom(
        name: &str,
        levels: Vec<(TimeDelta, Vec<String>)>,
        repeat: u32,
        repeat_after: TimeDelta,
    ) -> Self {
        Self {
            name: name.to_string(),
            levels: levels
                .into_iter()
                .map(|(d, t)| Level {
                    delay_secs: d.num_seconds(),
                    targets: t,
                })
                .collect(),
            repeat,
            repeat_after_secs: repeat_after.num_seconds(),
        }
    }
}

/// Where an escalation goes next, from where it is: pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// -1 before the first level has been notified.
    pub level: i32,
    pub round: u32,
}

/// The level to notify now, and when the one after it is due (None: this is
/// the last notification of the ladder).
pub fn advance(policy: &Policy, at: Position) -> Option<(Position, Option<TimeDelta>)> {
    let len = i32::try_from(policy.levels.len()).unwrap_or(i32::MAX);
    if len == 0 {
        return None;
    }
    let next = if at.level + 1 < len {
        Position {
            level: at.level + 1,
            round: at.round,
        }
    } else if at.round < policy.repeat {
        Position {
            level: 0,
            round: at.round + 1,
        }
    } else {
        return None;
    };
    Some((next, wait_after(policy, next)))
}

/// How long after notifying `at` the next notification is due (None: `at`
/// is the last notification of the ladder).
pub fn wait_after(policy: &Policy, at: Position) -> Option<TimeDelta> {
    let len = i32::try_from(policy.levels.len()).unwrap_or(i32::MAX);
    if at.level + 1 < len {
        usize::try_from(at.level + 1)
            .ok()
            .and_then(|i| policy.levels.get(i))
            .map(|l| TimeDelta::seconds(l.delay_secs))
    } else if at.round < policy.repeat {
        Some(TimeDelta::seconds(policy.repeat_after_secs))
    } else {
        None
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Escalation {
    pub id: i64,
    pub workflow: String,
    pub entity_id: String,
    pub subject: String,
    #[sqlx(json)]
    pub policy: Policy,
    pub departments: Vec<String>,
    pub level: i32,
    pub round: i32,
    pub status: String,
    pub acknowledged_by: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// "high" or "low": which notification rule pages its people.
    pub urgency: String,
}

impl Escalation {
    pub fn urgency(&self) -> Urgency {
        Urgency::parse(&self.urgency).unwrap_or(Urgency::High)
    }
}

const SELECT: &str = "SELECT id, workflow, entity_id, subject, policy, departments, level, round, status, acknowledged_by, started_at, updated_at, urgency FROM escalations";

/// What to escalate and how.
#[derive(Debug, Clone)]
pub struct Start<'a> {
    pub workflow: &'a str,
    pub entity_id: &'a str,
    pub subject: &'a str,
    pub policy: &'a Policy,
    /// Departments concerned, for `concerned:ROLE` targets.
    pub departments: &'a [String],
    /// Levels already notified elsewhere: 0 starts at level one, 1 at level
    /// two, and so on.
    pub skip_levels: u32,
    /// Wait before the first notified level instead of its configured delay.
    pub first_delay: Option<TimeDelta>,
    /// Which notification rule pages the people (`[notify.rules]`).
    pub urgency: Urgency,
}

impl<'a> Start<'a> {
    pub fn new(
        workflow: &'a str,
        entity_id: &'a str,
        subject: &'a str,
        policy: &'a Policy,
    ) -> Self {
        Self {
            workflow,
            entity_id,
            subject,
            policy,
            departments: &[],
            skip_levels: 0,
            first_delay: None,
            urgency: Urgency::High,
        }
    }
}

/// Start escalating an entity (superseding an escalation still running for
/// it). The first level is notified after its delay (at once when zero: the
/// timer is due now). Returns the escalation's id.
pub async fn start(ctx: &Ctx, conn: &mut PgConnection, spec: &Start<'_>) -> Result<i64> {
    let policy = spec.policy;
    let skip = usize::try_from(spec.skip_levels).unwrap_or(usize::MAX);
    let first = policy
        .levels
        .get(skip.min(policy.levels.len().saturating_sub(1)))
        .ok_or_else(|| {
            Error::internal(format!("escalation policy {:?} has no levels", policy.name))
        })?;
    let reached = i32::try_from(skip.min(policy.levels.len().saturating_sub(1))).unwrap_or(0) - 1;
    let now = ctx.now();
    cancel(
        ctx,
        conn,
        spec.workflow,
        spec.entity_id,
        "engine",
        "superseded by a new escalation",
    )
    .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO escalations (workflow, entity_id, subject, policy, departments, level, started_at, updated_at, urgency)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING id",
    )
    .bind(spec.workflow)
    .bind(spec.entity_id)
    .bind(spec.subject)
    .bind(sqlx::types::Json(policy))
    .bind(spec.departments)
    .bind(reached)
    .bind(now)
    .bind(spec.urgency.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let delay = spec
        .first_delay
        .unwrap_or(TimeDelta::seconds(first.delay_secs));
    timers::schedule(
        conn,
        &NewTimer::new(STEP_TIMER, spec.workflow, spec.entity_id, now + delay)
            .payload(serde_json::json!({ "escalation_id": id })),
        now,
    )
    .await?;
    events::append(
        conn,
        &NewEvent::new(spec.workflow, "escalation", spec.entity_id, "escalation_started", "engine")
            .payload(serde_json::json!({ "escalation_id": id, "policy": policy.name, "from_level": reached + 2 })),
        now,
    )
    .await?;
    Ok(id)
}

/// The active escalation of an entity, if any.
pub async fn active(
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
) -> Result<Option<Escalation>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE workflow = $1 AND entity_id = $2 AND status = 'active'"
    )))
    .bind(workflow)
    .bind(entity_id)
    .fetch_optional(conn)
    .await?)
}

/// The latest escalation of an entity, whatever its status.
pub async fn latest(
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
) -> Result<Option<Escalation>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE workflow = $1 AND entity_id = $2 ORDER BY id DESC LIMIT 1"
    )))
    .bind(workflow)
    .bind(entity_id)
    .fetch_optional(conn)
    .await?)
}

/// The latest escalation of each of several entities, in one query.
pub async fn latest_of_many(
    conn: &mut PgConnection,
    workflow: &str,
    entity_ids: &[String],
) -> Result<std::collections::HashMap<String, Escalation>> {
    let rows: Vec<Escalation> = sqlx::query_as(
        "SELECT DISTINCT ON (entity_id) id, workflow, entity_id, subject, policy, departments, level, round,
                status, acknowledged_by, started_at, updated_at, urgency
         FROM escalations WHERE workflow = $1 AND entity_id = ANY($2)
         ORDER BY entity_id, id DESC",
    )
    .bind(workflow)
    .bind(entity_ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|e| (e.entity_id.clone(), e)).collect())
}

/// Stop escalating: somebody acknowledged. Returns false if none was active.
pub async fn acknowledge(
    ctx: &Ctx,
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    by: &str,
) -> Result<bool> {
    finish(ctx, conn, workflow, entity_id, by, "acknowledged", None).await
}

/// Stop escalating without an acknowledgement (resolved, superseded).
pub async fn cancel(
    ctx: &Ctx,
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    by: &str,
    reason: &str,
) -> Result<bool> {
    finish(
        ctx,
        conn,
        workflow,
        entity_id,
        by,
        "cancelled",
        Some(reason),
    )
    .await
}

async fn finish(
    ctx: &Ctx,
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    by: &str,
    status: &str,
    reason: Option<&str>,
) -> Result<bool> {
    let now = ctx.now();
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE escalations SET status = $3, acknowledged_by = CASE WHEN $3 = 'acknowledged' THEN $4 END, updated_at = $5
         WHERE workflow = $1 AND entity_id = $2 AND status = 'active' RETURNING id",
    )
    .bind(workflow)
    .bind(entity_id)
    .bind(status)
    .bind(by)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else {
        return Ok(false);
    };
    timers::cancel(conn, workflow, entity_id, Some(STEP_TIMER)).await?;
    // The remaining steps of the people's notification rules stop too.
    let why = match reason {
        Some(r) => format!("{status}: {r}"),
        None => format!("{status} by {by}"),
    };
    outbox::cancel_pages(conn, id, &why).await?;
    let action = if status == "acknowledged" {
        "escalation_acknowledged"
    } else {
        "escalation_cancelled"
    };
    events::append(
        conn,
        &NewEvent::new(workflow, "escalation", entity_id, action, by)
            .maybe_reason(reason.map(str::to_string))
            .payload(serde_json::json!({ "escalation_id": id })),
        now,
    )
    .await?;
    Ok(true)
}

/// Notify the next level now instead of waiting ("escalate now").
pub async fn escalate_now(
    ctx: &Ctx,
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    actor: &str,
) -> Result<Vec<String>> {
    let esc: Option<Escalation> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE workflow = $1 AND entity_id = $2 AND status = 'active' FOR UPDATE"
    )))
    .bind(workflow)
    .bind(entity_id)
    .fetch_optional(&mut *conn)
    .await?;
    let esc = esc
        .ok_or_else(|| Error::invalid("nothing is escalating: no active escalation to advance"))?;
    timers::cancel(conn, workflow, entity_id, Some(STEP_TIMER)).await?;
    // The engine's own escalations (a phase past its time box) keep a
    // low-urgency ladder paused outside support hours; a person asking to
    // escalate is obeyed (the pages still wait for support hours).
    if actor == "engine"
        && let Some(pause) = paused_until(ctx, &esc, ctx.now())
    {
        write_steps(ctx, conn, &[pause], ctx.now()).await?;
        return Ok(Vec::new());
    }
    let overrides = oncall::overrides_at(conn, ctx.now()).await?;
    step(ctx, conn, esc, actor, &overrides, None).await
}

/// Notify the next level and schedule the one after; returns who was notified.
///
/// Bounded round trips whatever the ladder: the people's contact methods
/// (one query), their pages (one bulk insert), and the escalation's update,
/// next timer and event (one statement). The caller hands in the on-call
/// overrides in force (loaded with the escalation row, not per level).
async fn step(
    ctx: &Ctx,
    conn: &mut PgConnection,
    esc: Escalation,
    actor: &str,
    overrides: &HashMap<String, String>,
    unreachable: Option<&str>,
) -> Result<Vec<String>> {
    let now = ctx.now();
    let Some(planned) = plan_step(ctx, &esc, actor, overrides, unreachable, now)? else {
        sqlx::query("UPDATE escalations SET status = 'exhausted', updated_at = $2 WHERE id = $1")
            .bind(esc.id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        return Err(Error::invalid(
            "the escalation has already reached its last level",
        ));
    };
    write_steps(ctx, conn, std::slice::from_ref(&planned), now).await?;
    Ok(planned.people)
}

/// One escalation step worked out (pure), before it is written.
struct Planned {
    esc_id: i64,
    workflow: String,
    entity_id: String,
    /// Who is paged (none for a pause).
    people: Vec<String>,
    subject: String,
    body: String,
    urgency: Urgency,
    /// The position after the step (0-based level).
    level: i32,
    round: i32,
    page_payload: serde_json::Value,
    status: &'static str,
    next_due: Option<DateTime<Utc>>,
    event: NewEvent,
}

/// The step an escalation takes now: whom the next level reaches (or the
/// level standing in for it), what they are told, and when the one after is
/// due. None when the ladder has no level left.
fn plan_step(
    ctx: &Ctx,
    esc: &Escalation,
    actor: &str,
    overrides: &HashMap<String, String>,
    unreachable: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Planned>> {
    let position = Position {
        level: esc.level,
        round: u32::try_from(esc.round).unwrap_or(0),
    };
    let Some((next, wait)) = advance(&esc.policy, position) else {
        return Ok(None);
    };
    let len = i32::try_from(esc.policy.levels.len()).unwrap_or(i32::MAX);
    let level_targets = |level: i32| {
        usize::try_from(level)
            .ok()
            .and_then(|i| esc.policy.levels.get(i))
            .map(|l| l.targets.as_slice())
            .ok_or_else(|| {
                Error::internal(format!(
                    "escalation #{} has no level {} in its policy {:?}",
                    esc.id,
                    level + 1,
                    esc.policy.name
                ))
            })
    };
    let due = reach(
        ctx,
        level_targets(next.level)?,
        &esc.departments,
        now,
        overrides,
    );
    let mut unresolved = due.unresolved;
    let mut people = due.people;
    let (mut at, mut wait) = (next, wait);
    // Which targets stood in for a level that reaches nobody: "level 3", or
    // LAST_RESORT; and the last level found empty on the way.
    let mut fallback: Option<String> = None;
    let mut last_empty = next.level;
    if people.is_empty() {
        // The next level that reaches someone, at once.
        for later in next.level + 1..len {
            let r = reach(ctx, level_targets(later)?, &esc.departments, now, overrides);
            unresolved.extend(r.unresolved);
            if r.people.is_empty() {
                last_empty = later;
                continue;
            }
            at = Position {
                level: later,
                round: next.round,
            };
            wait = wait_after(&esc.policy, at);
            people = r.people;
            fallback = Some(format!("level {}", later + 1));
            break;
        }
        if people.is_empty() {
            // The ladder keeps its pace: the levels still to come are tried
            // again when they are due.
            people = reach(ctx, &[LAST_RESORT.to_string()], &[], now, overrides).people;
            fallback = Some(LAST_RESORT.to_string());
        }
    }
    let level_no = at.level + 1;
    // "level 1 reaches nobody (person:ghost)", "levels 1 to 3 reach nobody (...)"
    let empty = fallback.as_ref().map(|_| {
        let skipped: Vec<&str> = (next.level..=last_empty)
            .filter_map(|l| level_targets(l).ok())
            .flatten()
            .map(String::as_str)
            .collect();
        let levels = if last_empty == next.level {
            format!("level {} reaches", next.level + 1)
        } else {
            format!("levels {} to {} reach", next.level + 1, last_empty + 1)
        };
        format!("{levels} nobody ({})", skipped.join(", "))
    });
    let mut reason = empty.as_ref().zip(fallback.as_ref()).map(|(empty, f)| {
        if people.is_empty() {
            format!("{empty}; nobody could be notified")
        } else {
            format!("{empty}; fell back to {f}")
        }
    });
    if let Some(why) = unreachable {
        let skipped = format!("level {} could not be reached ({why})", esc.level + 1);
        reason = Some(match reason {
            Some(r) => format!("{skipped}; {r}"),
            None => skipped,
        });
    }
    if people.is_empty() {
        tracing::warn!(
            escalation = esc.id,
            level = next.level + 1,
            unresolved = ?unresolved,
            "an escalation reached nobody, not even {LAST_RESORT}"
        );
    }
    let mut body = format!(
        "Nobody has acknowledged this yet. You are at escalation level {level_no} of {} (round {}).",
        esc.policy.levels.len(),
        next.round + 1
    );
    if let Some(empty) = &empty {
        body.push_str(&format!(" You are paged because {empty}."));
    }
    if unreachable.is_some() {
        body.push_str(&format!(
            " You are paged because level {} could not be reached.",
            esc.level + 1
        ));
    }
    let round = i32::try_from(at.round).unwrap_or(i32::MAX);
    let status = if wait.is_some() {
        "active"
    } else {
        "exhausted"
    };
    let mut payload = serde_json::json!({
        "escalation_id": esc.id, "level": level_no, "round": at.round + 1, "notified": people,
    });
    if !unresolved.is_empty() {
        payload["unresolved"] = serde_json::json!(unresolved);
    }
    if let Some(f) = &fallback {
        payload["fallback"] = serde_json::json!(f);
    }
    if let Some(why) = unreachable {
        payload["unreachable"] = serde_json::json!(why);
    }
    let event = NewEvent::new(
        esc.workflow.clone(),
        "escalation",
        &esc.entity_id,
        "escalated",
        actor,
    )
    .transition(Some(esc.level + 1), level_no)
    .maybe_reason(reason)
    .payload(payload);
    Ok(Some(Planned {
        esc_id: esc.id,
        workflow: esc.workflow.clone(),
        entity_id: esc.entity_id.clone(),
        people,
        subject: format!("[escalation L{level_no}] {}", esc.subject),
        body,
        urgency: esc.urgency(),
        level: at.level,
        round,
        page_payload: serde_json::json!({ "escalation_id": esc.id, "level": level_no }),
        status,
        next_due: wait.map(|wait| now + wait),
        event,
    }))
}

/// A low-urgency ladder whose rule keeps to support hours does not climb
/// outside them: the step waits for the next opening (None inside them, or
/// for a ladder that may climb at any hour).
fn paused_until(ctx: &Ctx, esc: &Escalation, now: DateTime<Utc>) -> Option<Planned> {
    let notify = &ctx.config.notify;
    if esc.urgency() != Urgency::Low || !notify.rule(Urgency::Low).support_hours_only {
        return None;
    }
    let support = notify.support_calendar(&ctx.calendar);
    let opens = notify::model::open_at(&support, now);
    if opens <= now {
        return None;
    }
    let event = NewEvent::new(
        esc.workflow.clone(),
        "escalation",
        &esc.entity_id,
        "escalation_paused",
        "engine",
    )
    .reason(format!(
        "low urgency waits for support hours: the next level is paged at {}",
        ctx.calendar.format_local(opens)
    ))
    .payload(serde_json::json!({
        "escalation_id": esc.id, "level": esc.level + 1, "until": opens,
    }));
    Some(Planned {
        esc_id: esc.id,
        workflow: esc.workflow.clone(),
        entity_id: esc.entity_id.clone(),
        people: Vec::new(),
        subject: String::new(),
        body: String::new(),
        urgency: esc.urgency(),
        level: esc.level,
        round: esc.round,
        page_payload: serde_json::Value::Null,
        status: "active",
        next_due: Some(opens),
        event,
    })
}

/// Write planned steps, however many, in three round trips: the people's
/// contact methods (one query), their pages (one bulk insert), and each
/// escalation's update, next timer and event (one statement).
async fn write_steps(
    ctx: &Ctx,
    conn: &mut PgConnection,
    planned: &[Planned],
    now: DateTime<Utc>,
) -> Result<()> {
    if planned.is_empty() {
        return Ok(());
    }
    let mut everyone: Vec<String> = planned.iter().flat_map(|p| p.people.clone()).collect();
    everyone.sort_unstable();
    everyone.dedup();
    if !everyone.is_empty() {
        let contacts = notify::contacts::methods_of(conn, &everyone).await?;
        let mut pages = Vec::new();
        for p in planned.iter().filter(|p| !p.people.is_empty()) {
            let spec = notify::pages::LevelPages {
                escalation_id: p.esc_id,
                workflow: &p.workflow,
                entity_id: &p.entity_id,
                subject: &p.subject,
                body: &p.body,
                urgency: p.urgency,
                level: p.level,
                round: p.round,
                payload: p.page_payload.clone(),
            };
            pages.extend(notify::pages::build(ctx, &spec, &p.people, &contacts, now));
        }
        outbox::enqueue_many(ctx, conn, &pages).await?;
    }
    record_steps(conn, planned, now).await
}

/// Each escalation's new position, its next timer and its event, in one
/// statement for all (the same rows `timers::schedule` and `events::append`
/// write).
async fn record_steps(
    conn: &mut PgConnection,
    planned: &[Planned],
    now: DateTime<Utc>,
) -> Result<()> {
    let n = planned.len();
    let mut id = Vec::with_capacity(n);
    let mut level = Vec::with_capacity(n);
    let mut round = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut due = Vec::with_capacity(n);
    let mut timer_payload = Vec::with_capacity(n);
    let (mut workflow, mut entity) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut etype, mut action, mut from, mut to) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut actor, mut reason, mut payload, mut correlation) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for p in planned {
        id.push(p.esc_id);
        level.push(p.level);
        round.push(p.round);
        status.push(p.status);
        due.push(p.next_due);
        timer_payload.push(serde_json::json!({ "escalation_id": p.esc_id }));
        workflow.push(p.workflow.as_str());
        entity.push(p.entity_id.as_str());
        let e = &p.event;
        etype.push(e.entity_type.as_str());
        action.push(e.action.as_str());
        from.push(e.from_state.as_deref());
        to.push(e.to_state.as_deref());
        actor.push(e.actor.as_str());
        reason.push(e.reason.as_deref());
        payload.push(e.payload.clone());
        correlation.push(e.correlation_id.as_deref());
    }
    sqlx::query(
        "WITH u AS (
            SELECT * FROM UNNEST($1::int8[], $2::int4[], $3::int4[], $4::text[], $5::timestamptz[], $6::jsonb[],
                                 $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                                 $13::text[], $14::text[], $15::jsonb[], $16::text[])
                 WITH ORDINALITY AS u(id, level, round, status, due, tpayload, workflow, entity_id, etype, action,
                                      from_state, to_state, actor, reason, payload, correlation_id, ord)),
         esc AS (
            UPDATE escalations e SET level = u.level, round = u.round, status = u.status, updated_at = $17
            FROM u WHERE e.id = u.id RETURNING e.id),
         tm AS (
            INSERT INTO timers (kind, workflow, entity_id, dedupe_key, due_at, payload, created_at)
            SELECT $18, u.workflow, u.entity_id, '', u.due, u.tpayload, $17 FROM u WHERE u.due IS NOT NULL
            ON CONFLICT (kind, workflow, entity_id, dedupe_key) WHERE status = 'pending'
            DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload
            RETURNING id),
         ev AS (
            INSERT INTO events (workflow, entity_type, entity_id, action, from_state, to_state, actor, reason, payload, occurred_at, correlation_id)
            SELECT u.workflow, u.etype, u.entity_id, u.action, u.from_state, u.to_state, u.actor, u.reason, u.payload, $17, u.correlation_id
            FROM u ORDER BY u.ord
            RETURNING id, workflow, entity_type, entity_id, action)
         SELECT (SELECT count(*) FROM esc), (SELECT count(*) FROM tm),
                pg_notify('vivid_wake', ''),
                pg_notify('vivid_events', json_build_object('id', ev.id, 'workflow', ev.workflow,
                    'entity_type', ev.entity_type, 'entity_id', ev.entity_id, 'action', ev.action)::text)
         FROM ev",
    )
    .bind(&id)
    .bind(&level)
    .bind(&round)
    .bind(&status)
    .bind(&due)
    .bind(&timer_payload)
    .bind(&workflow)
    .bind(&entity)
    .bind(&etype)
    .bind(&action)
    .bind(&from)
    .bind(&to)
    .bind(&actor)
    .bind(&reason)
    .bind(&payload)
    .bind(&correlation)
    .bind(now)
    .bind(STEP_TIMER)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every person paged at `level` could not be reached: page the next level
/// now (if the escalation is still there and still at that level).
pub async fn skip_unreachable(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    level: i32,
    round: i32,
    why: &str,
) -> Result<()> {
    let Some((esc, overrides)) = load_for_step(ctx, conn, id).await? else {
        return Ok(());
    };
    if esc.status != "active" || esc.level != level || esc.round != round {
        return Ok(());
    }
    timers::cancel(conn, &esc.workflow, &esc.entity_id, Some(STEP_TIMER)).await?;
    match step(ctx, conn, esc, "engine", &overrides, Some(why)).await {
        Ok(_) => Ok(()),
        // The last level could not be reached: nothing further to page.
        Err(Error::Invalid(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// An escalation (locked) and the on-call overrides in force now, in one
/// round trip.
async fn load_for_step(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<(Escalation, HashMap<String, String>)>> {
    let (mut rows, overrides) = load_many_for_step(ctx, conn, &[id]).await?;
    Ok(rows.pop().map(|e| (e, overrides)))
}

/// Escalations (locked, in id order) and the on-call overrides in force
/// now, in one round trip whatever their number.
async fn load_many_for_step(
    ctx: &Ctx,
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<(Vec<Escalation>, HashMap<String, String>)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        esc: Escalation,
        overrides: sqlx::types::Json<HashMap<String, String>>,
    }
    // The overrides as `oncall::overrides_at` reads them (an uncorrelated
    // subquery: computed once for all rows).
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT e.id, e.workflow, e.entity_id, e.subject, e.policy, e.departments, e.level, e.round, e.status,
                e.acknowledged_by, e.started_at, e.updated_at, e.urgency,
                (SELECT coalesce(json_object_agg(o.schedule, o.person), '{}'::json)
                 FROM (SELECT DISTINCT ON (schedule) schedule, person FROM oncall_overrides
                       WHERE starts_at <= $2 AND ends_at > $2
                       ORDER BY schedule, created_at DESC, id DESC) o) AS overrides
         FROM escalations e WHERE e.id = ANY($1) ORDER BY e.id FOR UPDATE OF e",
    )
    .bind(ids)
    .bind(ctx.now())
    .fetch_all(conn)
    .await?;
    let mut overrides = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        overrides = r.overrides.0;
        out.push(r.esc);
    }
    Ok((out, overrides))
}

/// Whom some targets reach at `now`.
struct Reach {
    /// Distinct people of the org directory, in target order.
    people: Vec<String>,
    /// Targets that reach nobody: a person no longer in the directory, a
    /// schedule with nobody on call, a role or department nobody holds.
    unresolved: Vec<String>,
}

fn reach(
    ctx: &Ctx,
    targets: &[String],
    departments: &[String],
    now: DateTime<Utc>,
    overrides: &HashMap<String, String>,
) -> Reach {
    let on_call = |s: &Schedule| {
        overrides
            .get(&s.name)
            .cloned()
            .or_else(|| s.rotation_at(now).map(str::to_string))
    };
    let mut out = Reach {
        people: Vec::new(),
        unresolved: Vec::new(),
    };
    for text in targets {
        let found = match ctx.org.check_target(text) {
            Ok(target) => ctx
                .org
                .resolve(std::slice::from_ref(&target), departments, &on_call),
            Err(_) => Vec::new(),
        };
        // An on-call override may name someone who has since left.
        let found: Vec<String> = found
            .into_iter()
            .filter(|h| ctx.org.person(h).is_some())
            .collect();
        if found.is_empty() {
            out.unresolved.push(text.clone());
        }
        for h in found {
            if !out.people.contains(&h) {
                out.people.push(h);
            }
        }
    }
    out
}

fn escalation_of(timer: &Timer) -> Result<i64> {
    timer
        .payload
        .get("escalation_id")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| {
            Error::internal(format!(
                "escalation timer {} has no escalation_id",
                timer.id
            ))
        })
}

/// Timer handler for `escalation.step`. A low-urgency ladder whose rule
/// keeps to support hours does not climb outside them: the step waits for
/// the next opening (`escalation_paused`).
pub fn on_step<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    timer: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id = escalation_of(timer)?;
        let Some((esc, overrides)) = load_for_step(ctx, conn, id).await? else {
            return Ok(());
        };
        // Acknowledged or cancelled meanwhile: nothing to do.
        if esc.status != "active" {
            return Ok(());
        }
        if let Some(pause) = paused_until(ctx, &esc, ctx.now()) {
            return write_steps(ctx, conn, &[pause], ctx.now()).await;
        }
        step(ctx, conn, esc, "engine", &overrides, None)
            .await
            .map(|_| ())
    })
}

/// Batch handler for `escalation.step`: a storm of due steps in a fixed
/// number of round trips (the escalations and on-call overrides, the
/// people's contact methods, the pages, and every update, next timer and
/// event), with the effect of [`on_step`] on each in turn. A timer naming an
/// escalation (or entity) already stepped in this batch is fired after, one
/// by one, as it would have been; a ladder with no level left fails the
/// batch, which the engine then fires timer by timer.
pub fn on_steps<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    timers: &'a [Timer],
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let mut ids = Vec::with_capacity(timers.len());
        let mut seen = std::collections::HashSet::new();
        for t in timers {
            let id = escalation_of(t)?;
            if seen.insert(id) {
                ids.push(id);
            }
        }
        let now = ctx.now();
        let (escalations, overrides) = load_many_for_step(ctx, conn, &ids).await?;
        let mut planned = Vec::with_capacity(escalations.len());
        let mut entities = std::collections::HashSet::new();
        let mut again = Vec::new();
        for esc in escalations {
            // Acknowledged or cancelled meanwhile: nothing to do.
            if esc.status != "active" {
                continue;
            }
            // One step per entity per statement (its next timer is one row).
            if !entities.insert((esc.workflow.clone(), esc.entity_id.clone())) {
                again.push(esc.id);
                continue;
            }
            if let Some(pause) = paused_until(ctx, &esc, now) {
                planned.push(pause);
                continue;
            }
            match plan_step(ctx, &esc, "engine", &overrides, None, now)? {
                Some(p) => planned.push(p),
                None => {
                    return Err(Error::internal(format!(
                        "escalation #{} has no level left to step to",
                        esc.id
                    )));
                }
            }
        }
        write_steps(ctx, conn, &planned, now).await?;
        // The rest, in their order: the second timer of an escalation, and
        // the escalations of an entity already stepped above.
        let mut firsts = std::collections::HashSet::new();
        for t in timers {
            let id = escalation_of(t)?;
            if firsts.insert(id) && !again.contains(&id) {
                continue;
            }
            on_step(ctx, conn, t).await?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(repeat: u32) -> Policy {
        Policy::custom(
            "t",
            vec![
                (TimeDelta::zero(), vec!["person:a".into()]),
                (TimeDelta::minutes(15), vec!["person:b".into()]),
                (TimeDelta::minutes(10), vec!["person:c".into()]),
            ],
            repeat,
            TimeDelta::minutes(30),
        )
    }

    #[test]
    fn walks_the_ladder_then_stops() {
        let p = policy(0);
        let mut at = Position {
            level: -1,
            round: 0,
        };
        let mut waits = Vec::new();
        while let Some((next, wait)) = advance(&p, at) {
            waits.push((next.level, wait.map(|w| w.num_minutes())));
            at = next;
        }
        assert_eq!(waits, vec![(0, Some(15)), (1, Some(10)), (2, None)]);
    }

    #[test]
    fn repeats_after_the_last_level() {
        let p = policy(1);
        let mut at = Position {
            level: -1,
            round: 0,
        };
        let mut seen = Vec::new();
        while let Some((next, wait)) = advance(&p, at) {
            seen.push((next.round, next.level, wait.map(|w| w.num_minutes())));
            at = next;
        }
        assert_eq!(
            seen,
            vec![
                (0, 0, Some(15)),
                (0, 1, Some(10)),
                (0, 2, Some(30)),
                (1, 0, Some(15)),
                (1, 1, Some(10)),
                (1, 2, None)
            ]
        );
    }
}
