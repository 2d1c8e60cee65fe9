//! Cross-functional collaboration's commands, one transaction each, and
//! [`open`]: the one function every workflow calls to open a typed hand-off
//! inside its own transaction, with its correlation id.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::PgConnection;

use super::WORKFLOW;
use super::config::{self, KindConfig};
use super::model::{self, Command, Field, State};
use crate::engine::Ctx;
use crate::engine::handoffs::{self, Comment, Handoff, NewHandoff, Raci};
use crate::engine::oncall;
use crate::error::{Error, Result};
use crate::org::Role;

/// A hand-off to open from any workflow.
#[derive(Debug, Clone, Default)]
pub struct Open {
    /// A kind from `[collab.kinds]`.
    pub kind: String,
    pub title: String,
    /// Checked against the kind's schema (fields by name).
    pub payload: Map<String, Value>,
    /// A person of the receiving department; `None`: its triage rule.
    pub assignee: Option<String>,
    /// The opening workflow (its events); `None`: "collab".
    pub workflow: Option<String>,
    /// The opener's entity; `None`: the hand-off's own id.
    pub entity_id: Option<String>,
    /// The story it is part of; `None`: a new one (`handoff:<id>`).
    pub correlation_id: Option<String>,
    /// The requesting department, for kinds whose `from` is `"*"` (else
    /// it must be the kind's own, or `None`).
    pub from_department: Option<String>,
    /// The receiving department, for kinds whose `to` is `"*"` (else it
    /// must be the kind's own, or `None`).
    pub to_department: Option<String>,
}

impl Open {
    pub fn new(kind: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            title: title.into(),
            ..Self::default()
        }
    }

    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.payload.insert(name.into(), value.into());
        self
    }

    /// Opened by this workflow, about this entity of it, in this story.
    pub fn from_workflow(
        mut self,
        workflow: &str,
        entity_id: impl ToString,
        correlation_id: Option<String>,
    ) -> Self {
        self.workflow = Some(workflow.into());
        self.entity_id = Some(entity_id.to_string());
        self.correlation_id = correlation_id;
        self
    }

    /// From one department to another (kinds that name theirs when opened).
    pub fn between(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.from_department = Some(from.into());
        self.to_department = Some(to.into());
        self
    }
}

/// The departments of a hand-off of kind `k`: the kind's own, or those the
/// opener names for a `"*"` side.
fn departments(ctx: &Ctx, name: &str, k: &KindConfig, o: &Open) -> Result<(String, String)> {
    let side = |side: &str, fixed: &str, given: Option<&String>| -> Result<String> {
        match (fixed == model::ANY_DEPARTMENT, given) {
            (true, None) => Err(Error::invalid(format!(
                "a {name} hand-off names its {side} department when opened"
            ))),
            (true, Some(d)) => {
                if ctx.org.department(d).is_none() {
                    return Err(Error::invalid(format!(
                        "unknown department {d:?} (see `vivid org list`)"
                    )));
                }
                Ok(d.clone())
            }
            (false, Some(d)) if d != fixed => Err(Error::invalid(format!(
                "{name} hand-offs go {side} {fixed}, not {d}"
            ))),
            (false, _) => Ok(fixed.to_string()),
        }
    };
    let from = side("from", &k.from, o.from_department.as_ref())?;
    let to = side("to", &k.to, o.to_department.as_ref())?;
    if from == to {
        return Err(Error::invalid(format!(
            "a hand-off goes to another department (both are {from})"
        )));
    }
    Ok((from, to))
}

/// The kind named, or a refusal listing the kinds there are.
pub fn kind<'a>(ctx: &'a Ctx, name: &str) -> Result<&'a KindConfig> {
    let c = config::settings(&ctx.config)?;
    c.kinds.get(name).ok_or_else(|| {
        Error::invalid(format!(
            "unknown hand-off kind {name:?}; kinds: {}",
            c.kinds.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })
}

/// Open a typed hand-off in the caller's transaction: the payload is checked
/// against the kind's schema (a refusal names the field), the RACI resolved,
/// the receiving department's triage rule applied, the response and
/// resolution clocks started on the kind's calendar, and the `handed_off`
/// event written under `correlation_id`. Any workflow may call it.
pub async fn open(ctx: &Ctx, conn: &mut PgConnection, o: &Open, actor: &str) -> Result<Handoff> {
    let k = kind(ctx, &o.kind)?;
    let title = o.title.trim();
    if title.is_empty() {
        return Err(Error::invalid("a hand-off needs a title"));
    }
    if title.chars().count() > 200 {
        return Err(Error::invalid("a hand-off title is at most 200 characters"));
    }
    let fields = model::schema(k);
    let payload = model::check_payload(&o.kind, &fields, &o.payload)
        .map_err(|e| Error::invalid(e.to_string()))?;
    let cfg = config::settings(&ctx.config)?;
    let (from, to) = departments(ctx, &o.kind, k, o)?;
    let assignee = match &o.assignee {
        Some(a) => Some(a.clone()),
        None => triage(ctx, conn, &to).await?,
    };
    let raci: Raci = model::resolve_raci_between(&o.kind, &k.raci, &ctx.org, &from, &to)
        .map_err(Error::invalid)?;
    let new = NewHandoff {
        kind: o.kind.clone(),
        from_department: from,
        to_department: to.clone(),
        workflow: o.workflow.clone().unwrap_or_else(|| WORKFLOW.into()),
        entity_id: o.entity_id.clone().unwrap_or_default(),
        subject: title.to_string(),
        assignee,
        payload: Value::Object(payload),
        response_sla: k.response_sla,
        resolution_sla: k.resolution_sla,
        calendar: model::calendar_to(k, &to),
        raci,
        policy: k.policy.clone(),
        correlation_id: o.correlation_id.clone(),
        channel: cfg.channels.get(&to).cloned(),
    };
    let h = handoffs::create(ctx, conn, &new, actor).await?;
    super::timers::ensure_review(ctx, conn).await?;
    Ok(h)
}

/// Who takes an unassigned hand-off of a department: its triage rule.
async fn triage(ctx: &Ctx, conn: &mut PgConnection, department: &str) -> Result<Option<String>> {
    let cfg = config::settings(&ctx.config)?;
    match cfg.triage.get(department).map(String::as_str) {
        None | Some("queue") => Ok(None),
        Some("oncall") => {
            let now = ctx.now();
            let on = oncall::all_at(ctx, conn, now).await?;
            Ok(on
                .into_iter()
                .find(|o| o.department == department)
                .map(|o| o.person))
        }
        Some(handle) => Ok(Some(handle.to_string())),
    }
}

/// A person asks another department for work (`vivid collab request`).
pub async fn request(
    ctx: &Ctx,
    kind_name: &str,
    title: &str,
    fields: &[String],
    to: Option<&str>,
    actor: &str,
) -> Result<Handoff> {
    let person = ctx.org.actor(actor)?;
    let k = kind(ctx, kind_name)?;
    // A kind open on a side takes the requester's department and the
    // department of the person asked (`--to`).
    let from = (k.from == model::ANY_DEPARTMENT).then(|| person.department.clone());
    let to_department = if k.to == model::ANY_DEPARTMENT {
        let Some(p) = to.and_then(|h| ctx.org.person(h)) else {
            return Err(Error::invalid(format!(
                "a {kind_name} hand-off goes to any department: name the person asked with --to PERSON"
            )));
        };
        Some(p.department.clone())
    } else {
        None
    };
    if k.from != model::ANY_DEPARTMENT
        && person.department != k.from
        && !person.has_role(Role::BusinessManager)
    {
        return Err(Error::forbidden(format!(
            "{} is not in {}, which opens {kind_name} hand-offs (to {})",
            person.label(),
            k.from,
            k.to
        )));
    }
    let payload = model::parse_fields(kind_name, &model::schema(k), fields)
        .map_err(|e| Error::invalid(e.to_string()))?;
    let o = Open {
        kind: kind_name.into(),
        title: title.into(),
        payload,
        assignee: to.map(str::to_string),
        from_department: from,
        to_department,
        ..Open::default()
    };
    let mut tx = ctx.pool.begin().await?;
    let h = open(ctx, &mut tx, &o, actor).await?;
    tx.commit().await?;
    Ok(h)
}

/// Move a hand-off: ack, start, wait (reason), resume, done, decline
/// (reason), cancel.
pub async fn act(
    ctx: &Ctx,
    id: i64,
    command: Command,
    actor: &str,
    reason: Option<&str>,
) -> Result<Handoff> {
    ctx.org.actor(actor)?;
    let mut tx = ctx.pool.begin().await?;
    let h = handoffs::transition(ctx, &mut tx, id, command, actor, reason).await?;
    tx.commit().await?;
    Ok(h)
}

pub async fn assign(ctx: &Ctx, id: i64, to: &str, actor: &str) -> Result<Handoff> {
    ctx.org.actor(actor)?;
    let to = (!matches!(to, "queue" | "-" | "")).then_some(to);
    let mut tx = ctx.pool.begin().await?;
    let h = handoffs::assign(ctx, &mut tx, id, to, actor).await?;
    tx.commit().await?;
    Ok(h)
}

pub async fn comment(ctx: &Ctx, id: i64, body: &str, actor: &str) -> Result<Comment> {
    let mut tx = ctx.pool.begin().await?;
    let c = handoffs::comment(ctx, &mut tx, id, actor, body).await?;
    tx.commit().await?;
    Ok(c)
}

/// A kind as `collab kinds --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct KindView {
    pub name: String,
    pub title: String,
    pub from: String,
    pub to: String,
    pub fields: Vec<Field>,
    /// Seconds.
    pub response_sla: u64,
    pub resolution_sla: Option<u64>,
    /// "business" or "24x7".
    pub calendar: String,
    pub raci: RaciView,
    pub policy: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RaciView {
    pub responsible: Vec<String>,
    pub accountable: String,
    pub consulted: Vec<String>,
    pub informed: Vec<String>,
}

pub fn kinds(ctx: &Ctx) -> Result<Vec<KindView>> {
    let c = config::settings(&ctx.config)?;
    Ok(c.kinds
        .iter()
        .map(|(name, k)| KindView {
            name: name.clone(),
            title: if k.title.is_empty() {
                name.replace('_', " ")
            } else {
                k.title.clone()
            },
            from: k.from.clone(),
            to: k.to.clone(),
            fields: model::schema(k),
            response_sla: k.response_sla.as_secs(),
            resolution_sla: k.resolution_sla.map(|d| d.as_secs()),
            calendar: if model::calendar_kind(k) == crate::calendar::CalendarKind::AroundTheClock {
                "24x7".into()
            } else {
                "business".into()
            },
            raci: RaciView {
                responsible: k.raci.responsible.clone(),
                accountable: k.raci.accountable.first().cloned().unwrap_or_default(),
                consulted: k.raci.consulted.clone(),
                informed: k.raci.informed.clone(),
            },
            policy: k.policy.clone(),
        })
        .collect())
}

/// A hand-off as the front ends show it (`collab show --json`).
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub from: String,
    pub to: String,
    pub state: State,
    pub assignee: Option<String>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub response_due_at: DateTime<Utc>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub waiting_since: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub paused_seconds: i64,
    pub imminent: bool,
    pub response_breached: bool,
    pub resolution_breached: bool,
    pub reason: Option<String>,
    pub payload: Value,
    pub raci: Raci,
    pub workflow: String,
    pub entity_id: String,
    pub correlation_id: Option<String>,
    /// "business" or "24x7".
    pub calendar: String,
}

impl View {
    pub fn of(h: &Handoff) -> Result<Self> {
        Ok(Self {
            id: h.id,
            kind: h.kind.clone(),
            title: h.subject.clone(),
            from: h.from_department.clone(),
            to: h.to_department.clone(),
            state: h.state()?,
            assignee: h.assignee.clone(),
            requested_by: h.created_by.clone(),
            requested_at: h.created_at,
            response_due_at: h.due_at,
            resolution_due_at: h.resolution_due_at,
            acknowledged_at: h.acknowledged_at,
            acknowledged_by: h.acknowledged_by.clone(),
            started_at: h.started_at,
            waiting_since: h.waiting_since,
            done_at: h.completed_at,
            closed_at: h.closed_at,
            paused_seconds: h.paused_seconds,
            imminent: h.imminent,
            response_breached: h.breached,
            resolution_breached: h.resolution_breached,
            reason: h.reason.clone(),
            payload: h.payload.clone(),
            raci: h.raci.0.clone(),
            workflow: h.workflow.clone(),
            entity_id: h.entity_id.clone(),
            correlation_id: h.correlation_id.clone(),
            calendar: match h.calendar() {
                Some(crate::calendar::CalendarKind::AroundTheClock) => "24x7".into(),
                _ => "business".into(),
            },
        })
    }

    /// Past a due time now, counting only clocks still running.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.response_breached
            || self.resolution_breached
            || (self.state == State::Open && self.response_due_at < now)
            || (!self.state.is_terminal() && self.resolution_due_at.is_some_and(|d| d < now))
    }
}

/// A hand-off with its thread.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub handoff: View,
    pub comments: Vec<Comment>,
}

pub async fn detail(ctx: &Ctx, id: i64) -> Result<Detail> {
    let mut conn = ctx.pool.acquire().await?;
    let h = handoffs::get(&mut conn, id).await?;
    let comments = handoffs::comments(&mut conn, id).await?;
    Ok(Detail {
        handoff: View::of(&h)?,
        comments,
    })
}

/// Hand-offs to or from a department (all live ones when no state is given).
pub async fn list(ctx: &Ctx, department: Option<&str>, state: Option<&str>) -> Result<Vec<View>> {
    if let Some(d) = department
        && ctx.org.department(d).is_none()
    {
        return Err(Error::invalid(format!(
            "unknown department {d:?} (see `vivid org list`)"
        )));
    }
    let state = state
        .map(|s| {
            State::parse(s).ok_or_else(|| {
                Error::invalid(format!(
                    "unknown state {s:?}; states: {}",
                    State::ALL.map(State::as_str).join(", ")
                ))
            })
        })
        .transpose()?;
    let mut conn = ctx.pool.acquire().await?;
    let rows = handoffs::list(&mut conn, department, state, 200).await?;
    rows.iter().map(View::of).collect()
}

/// The live queue of a department, soonest due first.
pub async fn queue(ctx: &Ctx, department: &str) -> Result<Vec<View>> {
    let mut conn = ctx.pool.acquire().await?;
    let rows = handoffs::queue(&mut conn, department, 100).await?;
    rows.iter().map(View::of).collect()
}

/// A sale worth at least `[collab] deal_insight_cents` (when set) sends deal
/// insights to Finance: called by the workflow that records the sale, in
/// its transaction and story. `None` below the threshold.
#[allow(clippy::too_many_arguments)]
pub async fn deal_insight(
    ctx: &Ctx,
    conn: &mut PgConnection,
    deal: &str,
    value_cents: i64,
    customer: &str,
    actor: &str,
    (workflow, entity_id): (&str, &str),
    correlation_id: Option<String>,
) -> Result<Option<Handoff>> {
    let threshold = config::settings(&ctx.config)?.deal_insight_cents;
    if threshold <= 0 || value_cents < threshold || kind(ctx, "deal_insights").is_err() {
        return Ok(None);
    }
    let o = Open::new("deal_insights", format!("Deal insights: {deal}"))
        .field("deal", deal)
        .field("value", value_cents)
        .field("customer", customer)
        .from_workflow(workflow, entity_id, correlation_id);
    open(ctx, conn, &o, actor).await.map(Some)
}
