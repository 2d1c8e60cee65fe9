//! Hand-offs between departments that workflows share: a typed piece of work
//! passed from one department to another with a response SLA. The receiving
//! side acknowledges it; if nobody has by the due time, the hand-off is
//! marked breached and escalated through the shared escalation.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::Ctx;
use super::escalation::{self, Policy, Start};
use super::events::{self, NewEvent};
use super::outbox::{self, NewNotification};
use super::timers::{self, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};
use crate::org::Role;

pub const SLA_TIMER: &str = "handoff.sla";

/// Check `[handoffs.kinds]` against the org and the escalation policies.
/// Errors are (key, reason).
pub fn validate_config(
    config: &crate::config::Config,
    org: &crate::org::Org,
) -> Result<(), (String, String)> {
    for (name, k) in &config.handoffs.kinds {
        for (field, d) in [("from", &k.from), ("to", &k.to)] {
            if org.department(d).is_none() {
                return Err((
                    format!("handoffs.kinds.{name}.{field}"),
                    format!("unknown department {d:?}"),
                ));
            }
        }
        if !config.escalation.policies.contains_key(&k.policy) {
            return Err((
                format!("handoffs.kinds.{name}.policy"),
                format!("unknown escalation policy {:?}", k.policy),
            ));
        }
        if k.sla.is_zero() {
            return Err((
                format!("handoffs.kinds.{name}.sla"),
                "must be longer than zero".into(),
            ));
        }
    }
    Ok(())
}
const WORKFLOW: &str = "handoffs";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Handoff {
    pub id: i64,
    pub kind: String,
    pub from_department: String,
    pub to_department: String,
    pub workflow: String,
    pub entity_id: String,
    pub subject: String,
    pub assignee: Option<String>,
    pub status: String,
    pub due_at: DateTime<Utc>,
    pub breached: bool,
    pub payload: serde_json::Value,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, from_department, to_department, workflow, entity_id, subject, assignee, status, due_at, breached,
    payload, created_by, created_at, acknowledged_by, acknowledged_at, completed_by, completed_at";

/// What is handed over, by whom, to whom.
#[derive(Debug, Clone)]
pub struct NewHandoff {
    /// A kind from `[handoffs.kinds]` (its departments, SLA and policy).
    pub kind: String,
    pub workflow: String,
    pub entity_id: String,
    pub subject: String,
    pub assignee: Option<String>,
    pub payload: serde_json::Value,
}

/// Hand work over. The receiving department (or its assignee) is told, and
/// the SLA clock starts.
pub async fn create(
    ctx: &Ctx,
    conn: &mut PgConnection,
    new: &NewHandoff,
    actor: &str,
) -> Result<Handoff> {
    let kind = ctx
        .config
        .handoffs
        .kinds
        .get(&new.kind)
        .ok_or_else(|| Error::invalid(format!("unknown hand-off kind {:?}", new.kind)))?;
    if let Some(a) = &new.assignee {
        let p = ctx.org.actor(a)?;
        if p.department != kind.to {
            return Err(Error::invalid(format!(
                "{} is not in {}, which receives {} hand-offs",
                p.label(),
                kind.to,
                new.kind
            )));
        }
    }
    let now = ctx.now();
    let due = now + kind.sla.delta();
    let sql = format!(
        "INSERT INTO handoffs (kind, from_department, to_department, workflow, entity_id, subject, assignee, due_at, payload, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
    );
    let h: Handoff = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&new.kind)
        .bind(&kind.from)
        .bind(&kind.to)
        .bind(&new.workflow)
        .bind(&new.entity_id)
        .bind(&new.subject)
        .bind(&new.assignee)
        .bind(due)
        .bind(&new.payload)
        .bind(actor)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
    let key = h.id.to_string();
    timers::schedule(conn, &NewTimer::new(SLA_TIMER, WORKFLOW, &key, due), now).await?;
    let recipients: Vec<String> = match &h.assignee {
        Some(a) => vec![a.clone()],
        None => receivers(ctx, &h.to_department),
    };
    for r in &recipients {
        let n = NewNotification::to_person(
            r,
            h.workflow.clone(),
            &h.entity_id,
            format!("Hand-off from {}: {}", h.from_department, h.subject),
        )
        .body(format!(
            "Acknowledge by {}.",
            due.format("%Y-%m-%d %H:%M UTC")
        ))
        .dedupe(format!("handoff:{}:new:{r}", h.id))
        .payload(serde_json::json!({ "handoff_id": h.id, "kind": h.kind }));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    events::append(
        conn,
        &NewEvent::new(h.workflow.clone(), "handoff", &h.entity_id, "handed_off", actor)
            .transition(None::<&str>, "open")
            .reason(h.subject.clone())
            .payload(serde_json::json!({ "handoff_id": h.id, "kind": h.kind, "to": h.to_department, "due_at": due })),
        now,
    )
    .await?;
    Ok(h)
}

/// Who hears about an unassigned hand-off: the department's team leads, else its director.
fn receivers(ctx: &Ctx, department: &str) -> Vec<String> {
    let leads: Vec<String> = ctx
        .org
        .people
        .iter()
        .filter(|p| p.department == department && p.has_role(Role::TeamLead))
        .map(|p| p.handle.clone())
        .collect();
    if !leads.is_empty() {
        return leads;
    }
    ctx.org
        .director_of(department)
        .map(|d| vec![d.handle.clone()])
        .unwrap_or_default()
}

async fn lock(conn: &mut PgConnection, id: i64) -> Result<Handoff> {
    let sql = format!("SELECT {COLUMNS} FROM handoffs WHERE id = $1 FOR UPDATE");
    let row: Option<Handoff> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no hand-off #{id}")))
}

pub async fn get(conn: &mut PgConnection, id: i64) -> Result<Handoff> {
    let sql = format!("SELECT {COLUMNS} FROM handoffs WHERE id = $1");
    let row: Option<Handoff> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no hand-off #{id}")))
}

/// The latest hand-off of a kind for an entity.
pub async fn latest_for(
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    kind: &str,
) -> Result<Option<Handoff>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM handoffs WHERE workflow = $1 AND entity_id = $2 AND kind = $3 ORDER BY id DESC LIMIT 1"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(workflow)
        .bind(entity_id)
        .bind(kind)
        .fetch_optional(conn)
        .await?)
}

/// Hand-offs waiting on a department, oldest due first.
pub async fn open_for(conn: &mut PgConnection, department: Option<&str>) -> Result<Vec<Handoff>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM handoffs WHERE status = 'open' AND ($1::text IS NULL OR to_department = $1) ORDER BY due_at, id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(department)
        .fetch_all(conn)
        .await?)
}

/// The receiving side has it. Late acknowledgements are allowed (and stay
/// marked breached); they stop the escalation.
pub async fn acknowledge(ctx: &Ctx, conn: &mut PgConnection, id: i64, by: &str) -> Result<Handoff> {
    let person = ctx.org.actor(by)?.clone();
    let mut h = lock(conn, id).await?;
    if person.department != h.to_department
        && h.assignee.as_deref() != Some(by)
        && !person.has_role(Role::BusinessManager)
    {
        return Err(Error::forbidden(format!(
            "{} is not in {}, which this hand-off goes to",
            person.label(),
            h.to_department
        )));
    }
    if h.status != "open" {
        return Err(Error::conflict(format!(
            "hand-off #{id} was already acknowledged by @{}",
            h.acknowledged_by.clone().unwrap_or_default()
        )));
    }
    let now = ctx.now();
    sqlx::query("UPDATE handoffs SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = $3 WHERE id = $1")
        .bind(id)
        .bind(by)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    timers::cancel(conn, WORKFLOW, &id.to_string(), Some(SLA_TIMER)).await?;
    escalation::acknowledge(ctx, conn, &h.workflow, &format!("handoff:{id}"), by).await?;
    events::append(
        conn,
        &NewEvent::new(
            h.workflow.clone(),
            "handoff",
            &h.entity_id,
            "handoff_acknowledged",
            by,
        )
        .transition(Some("open"), "acknowledged")
        .payload(serde_json::json!({ "handoff_id": id, "late": now > h.due_at })),
        now,
    )
    .await?;
    h.status = "acknowledged".into();
    h.acknowledged_by = Some(by.into());
    h.acknowledged_at = Some(now);
    Ok(h)
}

/// Timer handler: the SLA ran out with nobody acknowledging.
pub fn on_sla<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id: i64 = t
            .entity_id
            .parse()
            .map_err(|_| Error::invalid("hand-off timer without an id"))?;
        let h = lock(conn, id).await?;
        if h.status != "open" || h.breached {
            return Ok(());
        }
        let now = ctx.now();
        sqlx::query("UPDATE handoffs SET breached = true WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        events::append(
            conn,
            &NewEvent::new(
                h.workflow.clone(),
                "handoff",
                &h.entity_id,
                "handoff_breached",
                "engine",
            )
            .reason(format!(
                "not acknowledged within its SLA (due {})",
                h.due_at.format("%Y-%m-%d %H:%M UTC")
            ))
            .payload(serde_json::json!({ "handoff_id": id, "kind": h.kind })),
            now,
        )
        .await?;
        let policy_name = ctx
            .config
            .handoffs
            .kinds
            .get(&h.kind)
            .map(|k| k.policy.clone())
            .unwrap_or_default();
        let policy = Policy::named(ctx, &policy_name)?;
        let entity = format!("handoff:{id}");
        let subject = format!("Hand-off SLA breached: {}", h.subject);
        let departments = vec![h.to_department.clone()];
        let mut start = Start::new(&h.workflow, &entity, &subject, &policy);
        start.departments = &departments;
        escalation::start(ctx, conn, &start).await?;
        Ok(())
    })
}

/// Share of hand-offs acknowledged within their SLA, over those due so far.
pub async fn sla_compliance(
    conn: &mut PgConnection,
    kind: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<f64>> {
    let (due, met): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE due_at <= $3 OR acknowledged_at IS NOT NULL),
                count(*) FILTER (WHERE acknowledged_at IS NOT NULL AND acknowledged_at <= due_at)
         FROM handoffs WHERE kind = $1 AND created_at >= $2",
    )
    .bind(kind)
    .bind(since)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok((due > 0).then(|| met as f64 / due as f64))
}

/// Seconds from hand-off to acknowledgement, averaged.
pub async fn mean_response(
    conn: &mut PgConnection,
    kind: &str,
    since: DateTime<Utc>,
) -> Result<Option<TimeDelta>> {
    let secs: Option<f64> = sqlx::query_scalar(
        "SELECT avg(extract(epoch FROM acknowledged_at - created_at)::float8) FROM handoffs
         WHERE kind = $1 AND created_at >= $2 AND acknowledged_at IS NOT NULL",
    )
    .bind(kind)
    .bind(since)
    .fetch_one(conn)
    .await?;
    Ok(secs.map(|s| TimeDelta::seconds(s.round() as i64)))
}
