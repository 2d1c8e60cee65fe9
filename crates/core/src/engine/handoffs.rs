//! Hand-offs between departments, one mechanism for every workflow: a typed
//! piece of work passed from one department to another, with a response SLA
//! (first acknowledgement) and a resolution SLA counted on the business
//! calendar (the receiving department's hours, or around the clock), a RACI,
//! a comment thread and a correlation id linking it to the story it is part
//! of.
//!
//! Two axes: the hand-off's [`State`] (a pure state machine, [`decide`]) and
//! its two clocks (the calendar's [`SlaClock`], run on the engine's deadline
//! clocks). The clocks pause while the hand-off waits on its requester;
//! at 75% of an SLA the Responsible people are told it is imminent, at 100%
//! it is breached and the kind's escalation policy starts (the receiving
//! director, then the Business Manager).
//!
//! The caller says what the kind is ([`NewHandoff`] carries its departments,
//! SLAs, calendar, RACI and policy); the row keeps that snapshot, so a
//! changed configuration never moves a hand-off already under way. The
//! engine names no workflow: the kinds live in the configuration of the
//! workflow that owns them (cross-functional collaboration's `[collab.kinds]`).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;

use super::Ctx;
use super::deadlines::{self, ClockOwner, Reached, Reaction, Stage};
use super::escalation::{self, Policy, Start};
use super::events::{self, NewEvent};
use super::outbox::{self, NewNotification};
use super::timers::{self, HandlerFuture, Timer};
use crate::calendar::{CalendarKind, SlaClock};
use crate::duration::HumanDuration;
use crate::error::{Error, Result};
use crate::org::Role;
use crate::workflow::BoxFuture;

/// The timer kind of older binaries (hand-offs now run on deadline clocks).
pub const SLA_TIMER: &str = "handoff.sla";

/// Hand-off kinds used to live in `[handoffs.kinds]`; they now live with the
/// workflow that owns them (`[collab.kinds]`). Refuse the old table so a
/// stale local file is noticed, not silently ignored.
pub fn validate_config(
    config: &crate::config::Config,
    _org: &crate::org::Org,
) -> Result<(), (String, String)> {
    if let Some(name) = config.handoffs.kinds.keys().next() {
        return Err((
            format!("handoffs.kinds.{name}"),
            format!("hand-off kinds moved to [collab.kinds.{name}]"),
        ));
    }
    Ok(())
}

/// The owner of hand-off clocks.
pub const WORKFLOW: &str = "handoffs";
const RESPONSE_CLOCK: &str = "response";
const RESOLUTION_CLOCK: &str = "resolution";
/// Share of an SLA after which the hand-off is imminent.
pub const IMMINENT_AT: f64 = 0.75;

// ---------------------------------------------------------------------------
// The pure state machine

/// Where a hand-off is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Requested; nobody on the receiving side has answered yet.
    Open,
    /// First response given: the response clock stopped.
    Acknowledged,
    InProgress,
    /// Waiting on the requester: the resolution clock stands still.
    Waiting,
    Done,
    Declined,
    Cancelled,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Open,
        State::Acknowledged,
        State::InProgress,
        State::Waiting,
        State::Done,
        State::Declined,
        State::Cancelled,
    ];
    /// States still under way.
    pub const LIVE: [State; 4] = [
        State::Open,
        State::Acknowledged,
        State::InProgress,
        State::Waiting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Acknowledged => "acknowledged",
            State::InProgress => "in_progress",
            State::Waiting => "waiting",
            State::Done => "done",
            State::Declined => "declined",
            State::Cancelled => "cancelled",
        }
    }

    /// For people: "in progress", "waiting on requester".
    pub fn label(self) -> &'static str {
        match self {
            State::InProgress => "in progress",
            State::Waiting => "waiting on requester",
            s => s.as_str(),
        }
    }

    /// A state typed by a person ("in-progress", "requested" and "resolved" too).
    pub fn parse(text: &str) -> Option<State> {
        let t = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        match t.as_str() {
            "open" | "requested" => Some(State::Open),
            "acknowledged" | "ack" => Some(State::Acknowledged),
            "in_progress" | "started" => Some(State::InProgress),
            "waiting" | "waiting_on_requester" => Some(State::Waiting),
            "done" | "resolved" | "completed" => Some(State::Done),
            "declined" => Some(State::Declined),
            "cancelled" | "canceled" => Some(State::Cancelled),
            _ => None,
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, State::Done | State::Declined | State::Cancelled)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What someone asks of a hand-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Acknowledge,
    Start,
    Wait,
    Resume,
    Done,
    Decline,
    Cancel,
}

impl Command {
    pub const ALL: [Command; 7] = [
        Command::Acknowledge,
        Command::Start,
        Command::Wait,
        Command::Resume,
        Command::Done,
        Command::Decline,
        Command::Cancel,
    ];

    pub fn verb(self) -> &'static str {
        match self {
            Command::Acknowledge => "acknowledge",
            Command::Start => "start",
            Command::Wait => "wait on the requester for",
            Command::Resume => "resume",
            Command::Done => "finish",
            Command::Decline => "decline",
            Command::Cancel => "cancel",
        }
    }

    /// Who may give the command: the receiving side, or the requesting side.
    pub fn side(self) -> Side {
        match self {
            Command::Cancel => Side::Requester,
            Command::Resume => Side::Either,
            _ => Side::Receiver,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Receiver,
    Requester,
    Either,
}

/// What a transition does besides changing the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// First response: the response clock stops; Consulted people are asked.
    StopResponse,
    /// The resolution clock stands still.
    Pause,
    /// The resolution clock runs again.
    Resume,
    /// Closed: every clock stops (Informed people are told when done).
    Close,
}

/// A transition refused, in words a person can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the hand-off is already {0}; nothing more can happen to it")]
    Closed(&'static str),
    #[error("the hand-off is already {0}")]
    Already(&'static str),
    #[error("acknowledge the hand-off first: it is still open")]
    NotAcknowledged,
    #[error("the hand-off is not waiting on the requester (it is {0})")]
    NotWaiting(&'static str),
    #[error("the hand-off is waiting on the requester: resume it first")]
    IsWaiting,
}

/// The lifecycle, edge for edge:
///
/// ```text
/// open --ack--> acknowledged --start--> in_progress --wait--> waiting
///   |  --start (acknowledges)-------------^   ^--------resume-----'
/// acknowledged | in_progress | waiting --done--> done
/// any live state --decline--> declined, --cancel--> cancelled
/// ```
pub fn decide(state: State, command: Command) -> Result<(State, Vec<Effect>), Refusal> {
    use Command as C;
    use State as S;
    if state.is_terminal() {
        return Err(Refusal::Closed(state.label()));
    }
    let ok = |s: State, e: &[Effect]| Ok((s, e.to_vec()));
    match (state, command) {
        (S::Open, C::Acknowledge) => ok(S::Acknowledged, &[Effect::StopResponse]),
        (S::Open, C::Start) => ok(S::InProgress, &[Effect::StopResponse]),
        (S::Open, C::Wait | C::Done) => Err(Refusal::NotAcknowledged),
        (S::Acknowledged, C::Acknowledge) => Err(Refusal::Already("acknowledged")),
        (S::InProgress, C::Acknowledge) => Err(Refusal::Already("in progress")),
        (S::Waiting, C::Acknowledge | C::Start) => Err(Refusal::IsWaiting),
        (S::Acknowledged, C::Start) => ok(S::InProgress, &[]),
        (S::InProgress, C::Start) => Err(Refusal::Already("in progress")),
        (S::Acknowledged | S::InProgress, C::Wait) => ok(S::Waiting, &[Effect::Pause]),
        (S::Waiting, C::Wait) => Err(Refusal::Already("waiting on the requester")),
        (S::Waiting, C::Resume) => ok(S::InProgress, &[Effect::Resume]),
        (s, C::Resume) => Err(Refusal::NotWaiting(s.label())),
        (S::Acknowledged | S::InProgress, C::Done) => ok(S::Done, &[Effect::Close]),
        (S::Waiting, C::Done) => ok(S::Done, &[Effect::Resume, Effect::Close]),
        (S::Open, C::Decline) => ok(S::Declined, &[Effect::StopResponse, Effect::Close]),
        (_, C::Decline) => ok(S::Declined, &[Effect::Close]),
        (S::Waiting, C::Cancel) => ok(S::Cancelled, &[Effect::Resume, Effect::Close]),
        (_, C::Cancel) => ok(S::Cancelled, &[Effect::Close]),
        // Terminal states returned above.
        (S::Done | S::Declined | S::Cancelled, _) => Err(Refusal::Closed(state.label())),
    }
}

// ---------------------------------------------------------------------------
// Kinds, RACI and the row

/// The people of a hand-off's RACI, resolved when it was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raci {
    pub accountable: String,
    pub responsible: Vec<String>,
    #[serde(default)]
    pub consulted: Vec<String>,
    #[serde(default)]
    pub informed: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow)]
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
    /// When the first response is due (the response clock's target).
    pub due_at: DateTime<Utc>,
    /// The response SLA was missed.
    pub breached: bool,
    pub payload: serde_json::Value,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub response_clock: Option<Json<SlaClock>>,
    pub resolution_clock: Option<Json<SlaClock>>,
    /// `None` while paused, or when the kind has no resolution SLA.
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub resolution_breached: bool,
    /// 75% of a running SLA is used.
    pub imminent: bool,
    pub raci: Json<Raci>,
    pub policy: String,
    pub correlation_id: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub waiting_since: Option<DateTime<Utc>>,
    /// Calendar time not counted because it waited on the requester.
    pub paused_seconds: i64,
    /// Why it waits, was declined or cancelled.
    pub reason: Option<String>,
    pub response_seconds: Option<i64>,
    pub resolution_seconds: Option<i64>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Handoff {
    /// The state stored; a value no state machine knows is an internal error.
    pub fn state(&self) -> Result<State> {
        State::parse(&self.status).ok_or_else(|| {
            Error::internal(format!(
                "hand-off #{} has an unknown status {:?}",
                self.id, self.status
            ))
        })
    }

    /// The calendar its clocks count on.
    pub fn calendar(&self) -> Option<&CalendarKind> {
        self.response_clock.as_ref().map(|c| &c.0.calendar)
    }
}

const COLUMNS: &str = "id, kind, from_department, to_department, workflow, entity_id, subject, assignee, status, due_at, breached,
    payload, created_by, created_at, acknowledged_by, acknowledged_at, completed_by, completed_at,
    response_clock, resolution_clock, resolution_due_at, resolution_breached, imminent, raci, policy, correlation_id,
    started_at, waiting_since, paused_seconds, reason, response_seconds, resolution_seconds, closed_at";

/// What is handed over, by whom, to whom, on which terms (the kind, as its
/// owner's configuration says).
#[derive(Debug, Clone)]
pub struct NewHandoff {
    pub kind: String,
    pub from_department: String,
    pub to_department: String,
    /// The workflow that opens it (its events are that workflow's).
    pub workflow: String,
    /// The opener's entity; empty: the hand-off's own id.
    pub entity_id: String,
    pub subject: String,
    pub assignee: Option<String>,
    /// Already checked against the kind's schema by the caller.
    pub payload: serde_json::Value,
    pub response_sla: HumanDuration,
    pub resolution_sla: Option<HumanDuration>,
    pub calendar: CalendarKind,
    pub raci: Raci,
    /// Escalation policy started on a breach.
    pub policy: String,
    /// The story it belongs to; `None`: a new one, `handoff:<id>`.
    pub correlation_id: Option<String>,
    /// Discord channel the card goes to, if any.
    pub channel: Option<String>,
}

/// When a clock is due and when it becomes imminent (75%), on the calendar.
pub fn due_and_imminent(
    clock: &SlaClock,
    cal: &crate::calendar::Calendar,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let due = clock.due_at(cal)?;
    let mut early = clock.clone();
    let secs = (clock.target.as_secs() as f64 * IMMINENT_AT).round() as u64;
    early.target = HumanDuration::from_secs(secs);
    let imminent = early.due_at(cal).unwrap_or(due);
    Some((due, imminent))
}

/// Hand work over, in the caller's transaction. The receiving side (its
/// assignee, else its Responsible people) is told and both clocks start.
pub async fn create(
    ctx: &Ctx,
    conn: &mut PgConnection,
    new: &NewHandoff,
    actor: &str,
) -> Result<Handoff> {
    for d in [&new.from_department, &new.to_department] {
        if ctx.org.department(d).is_none() {
            return Err(Error::invalid(format!("unknown department {d:?}")));
        }
    }
    if new.response_sla.is_zero() {
        return Err(Error::invalid("a hand-off needs a response SLA"));
    }
    if let Some(a) = &new.assignee {
        let p = ctx.org.actor(a)?;
        if p.department != new.to_department {
            return Err(Error::invalid(format!(
                "{} is not in {}, which receives {} hand-offs",
                p.label(),
                new.to_department,
                new.kind
            )));
        }
    }
    let now = ctx.now();
    let response = SlaClock::start(new.response_sla, new.calendar.clone(), now);
    let resolution = new
        .resolution_sla
        .map(|t| SlaClock::start(t, new.calendar.clone(), now));
    let (due, imminent) = due_and_imminent(&response, &ctx.calendar)
        .ok_or_else(|| Error::internal("a fresh clock has no due time"))?;
    let resolution_due = resolution
        .as_ref()
        .and_then(|c| due_and_imminent(c, &ctx.calendar));
    let sql = format!(
        "INSERT INTO handoffs (kind, from_department, to_department, workflow, entity_id, subject, assignee, due_at, payload,
            created_by, created_at, response_clock, resolution_clock, resolution_due_at, raci, policy, correlation_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING {COLUMNS}"
    );
    let mut h: Handoff = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&new.kind)
        .bind(&new.from_department)
        .bind(&new.to_department)
        .bind(&new.workflow)
        .bind(&new.entity_id)
        .bind(&new.subject)
        .bind(&new.assignee)
        .bind(due)
        .bind(&new.payload)
        .bind(actor)
        .bind(now)
        .bind(Json(&response))
        .bind(resolution.as_ref().map(Json))
        .bind(resolution_due.map(|(d, _)| d))
        .bind(Json(&new.raci))
        .bind(&new.policy)
        .bind(&new.correlation_id)
        .fetch_one(&mut *conn)
        .await?;
    if h.entity_id.is_empty() || h.correlation_id.is_none() {
        let entity = if h.entity_id.is_empty() {
            h.id.to_string()
        } else {
            h.entity_id.clone()
        };
        let correlation = h
            .correlation_id
            .clone()
            .unwrap_or_else(|| format!("handoff:{}", h.id));
        sqlx::query("UPDATE handoffs SET entity_id = $2, correlation_id = $3 WHERE id = $1")
            .bind(h.id)
            .bind(&entity)
            .bind(&correlation)
            .execute(&mut *conn)
            .await?;
        h.entity_id = entity;
        h.correlation_id = Some(correlation);
    }
    start_clock(ctx, conn, &h, RESPONSE_CLOCK, due, imminent).await?;
    if let Some((d, i)) = resolution_due {
        start_clock(ctx, conn, &h, RESOLUTION_CLOCK, d, i).await?;
    }
    let recipients: Vec<String> = match &h.assignee {
        Some(a) => vec![a.clone()],
        None => receivers(ctx, &h),
    };
    let local_due = ctx.calendar.format_local(due);
    for r in &recipients {
        let n = NewNotification::to_person(
            r,
            h.workflow.clone(),
            &h.entity_id,
            format!("Hand-off from {}: {}", h.from_department, h.subject),
        )
        .body(format!("Acknowledge by {local_due}."))
        .dedupe(format!("handoff:{}:new:{r}", h.id))
        .payload(serde_json::json!({ "handoff_id": h.id, "kind": h.kind }));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    if let Some(channel) = &new.channel {
        let n = NewNotification::to_channel(
            channel,
            h.workflow.clone(),
            &h.entity_id,
            format!(
                "Hand-off #{} from {}: {}",
                h.id, h.from_department, h.subject
            ),
        )
        .body(format!("{} hand-off; acknowledge by {local_due}.", h.kind))
        .dedupe(format!("handoff:{}:card", h.id))
        .payload(serde_json::json!({
            "handoff_id": h.id, "kind": h.kind, "card": "handoff",
            "actions": ["ack", "done"],
        }));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    events::append(
        conn,
        &NewEvent::new(
            h.workflow.clone(),
            "handoff",
            &h.entity_id,
            "handed_off",
            actor,
        )
        .transition(None::<&str>, State::Open)
        .reason(h.subject.clone())
        .correlation(h.correlation_id.clone())
        .payload(serde_json::json!({
            "handoff_id": h.id, "kind": h.kind, "from": h.from_department,
            "to": h.to_department, "due_at": due, "resolution_due_at": h.resolution_due_at,
        })),
        now,
    )
    .await?;
    Ok(h)
}

async fn start_clock(
    ctx: &Ctx,
    conn: &mut PgConnection,
    h: &Handoff,
    name: &str,
    due: DateTime<Utc>,
    imminent: DateTime<Utc>,
) -> Result<()> {
    deadlines::start(
        ctx,
        conn,
        &deadlines::Clock::new(WORKFLOW, h.id, name, due)
            .remind_at([imminent])
            .correlation(h.correlation_id.clone()),
    )
    .await
}

/// Who hears about an unassigned hand-off: its Responsible people, else the
/// department's team leads, else its director.
fn receivers(ctx: &Ctx, h: &Handoff) -> Vec<String> {
    if !h.raci.responsible.is_empty() {
        return h.raci.responsible.clone();
    }
    let department = &h.to_department;
    let leads: Vec<String> = ctx
        .org
        .people
        .iter()
        .filter(|p| &p.department == department && p.has_role(Role::TeamLead))
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

pub async fn lock(conn: &mut PgConnection, id: i64) -> Result<Handoff> {
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

/// Hand-offs not yet acknowledged, for a department or all, oldest due first.
pub async fn open_for(conn: &mut PgConnection, department: Option<&str>) -> Result<Vec<Handoff>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM handoffs WHERE status = 'open' AND ($1::text IS NULL OR to_department = $1) ORDER BY due_at, id LIMIT 500"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(department)
        .fetch_all(conn)
        .await?)
}

/// A bounded list: by receiving (or requesting) department and state, newest first.
pub async fn list(
    conn: &mut PgConnection,
    department: Option<&str>,
    state: Option<State>,
    limit: i64,
) -> Result<Vec<Handoff>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM handoffs
         WHERE ($1::text IS NULL OR to_department = $1 OR from_department = $1)
           AND ($2::text IS NULL OR status = $2)
           AND ($2::text IS NOT NULL OR status IN ('open', 'acknowledged', 'in_progress', 'waiting'))
         ORDER BY id DESC LIMIT $3"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(department)
        .bind(state.map(State::as_str))
        .bind(limit.clamp(1, 1000))
        .fetch_all(conn)
        .await?)
}

/// The live hand-offs a department must act on, soonest due first.
pub async fn queue(conn: &mut PgConnection, department: &str, limit: i64) -> Result<Vec<Handoff>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM handoffs
         WHERE to_department = $1 AND status IN ('open', 'acknowledged', 'in_progress', 'waiting')
         ORDER BY CASE WHEN status = 'open' THEN due_at ELSE coalesce(resolution_due_at, 'infinity') END, id
         LIMIT $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(department)
        .bind(limit.clamp(1, 1000))
        .fetch_all(conn)
        .await?)
}

/// Check that `by` may give `command` on `h`.
fn check_actor(ctx: &Ctx, h: &Handoff, by: &str, command: Command) -> Result<()> {
    let person = ctx.org.actor(by)?;
    if person.has_role(Role::BusinessManager) {
        return Ok(());
    }
    let receiver = person.department == h.to_department || h.assignee.as_deref() == Some(by);
    let requester = person.department == h.from_department || h.created_by == by;
    let allowed = match command.side() {
        Side::Receiver => receiver,
        Side::Requester => requester,
        Side::Either => receiver || requester,
    };
    if allowed {
        return Ok(());
    }
    let who = match command.side() {
        Side::Receiver => format!("{}, which this hand-off goes to", h.to_department),
        Side::Requester => format!("{}, which asked for this hand-off", h.from_department),
        Side::Either => format!("{} or {}", h.from_department, h.to_department),
    };
    Err(Error::forbidden(format!(
        "{} may not {} hand-off #{}: only people in {who} (or the Business Manager) may",
        person.label(),
        command.verb(),
        h.id
    )))
}

/// Move a hand-off through its lifecycle, in the caller's transaction: the
/// state machine decides, the clocks follow, the event is written, and the
/// Consulted (on first response) or Informed (on done) are told.
pub async fn transition(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    command: Command,
    by: &str,
    reason: Option<&str>,
) -> Result<Handoff> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if matches!(command, Command::Decline | Command::Wait) && reason.is_none() {
        return Err(Error::invalid(match command {
            Command::Decline => "declining a hand-off needs a reason (--reason TEXT)",
            _ => {
                "waiting on the requester needs a reason: what is needed from them (--reason TEXT)"
            }
        }));
    }
    let mut h = lock(conn, id).await?;
    check_actor(ctx, &h, by, command)?;
    let from = h.state()?;
    let (to, effects) =
        decide(from, command).map_err(|r| Error::conflict(format!("hand-off #{id}: {r}")))?;
    let now = ctx.now();
    let entity = id.to_string();
    for effect in &effects {
        match effect {
            Effect::StopResponse => {
                timers::cancel(conn, WORKFLOW, &entity, Some(SLA_TIMER)).await?;
                deadlines::stop(conn, WORKFLOW, &entity, RESPONSE_CLOCK).await?;
                escalation::acknowledge(ctx, conn, &h.workflow, &format!("handoff:{id}"), by)
                    .await?;
                if let Some(c) = &h.response_clock {
                    h.response_seconds = Some(c.0.elapsed(&ctx.calendar, now).num_seconds());
                } else {
                    h.response_seconds = Some((now - h.created_at).num_seconds());
                }
                h.acknowledged_by = Some(by.into());
                h.acknowledged_at = Some(now);
                h.imminent = false;
            }
            Effect::Pause => {
                if let Some(c) = h.resolution_clock.as_mut() {
                    c.0.pause(now)
                        .map_err(|e| Error::conflict(format!("hand-off #{id}: {e}")))?;
                }
                deadlines::stop(conn, WORKFLOW, &entity, RESOLUTION_CLOCK).await?;
                h.resolution_due_at = None;
                h.waiting_since = Some(now);
            }
            Effect::Resume => {
                let mut next = None;
                if let Some(c) = h.resolution_clock.as_mut() {
                    if c.0.is_paused() {
                        c.0.resume(now)
                            .map_err(|e| Error::conflict(format!("hand-off #{id}: {e}")))?;
                    }
                    h.paused_seconds = paused_seconds(&c.0, &ctx.calendar, now);
                    next = due_and_imminent(&c.0, &ctx.calendar);
                }
                if let Some((due, soon)) = next {
                    h.resolution_due_at = Some(due);
                    if to != State::Done && to != State::Cancelled && !h.resolution_breached {
                        start_clock(ctx, conn, &h, RESOLUTION_CLOCK, due, soon).await?;
                    }
                }
                h.waiting_since = None;
            }
            Effect::Close => {
                deadlines::stop(conn, WORKFLOW, &entity, RESPONSE_CLOCK).await?;
                deadlines::stop(conn, WORKFLOW, &entity, RESOLUTION_CLOCK).await?;
                timers::cancel(conn, WORKFLOW, &entity, Some(SLA_TIMER)).await?;
                for e in [format!("handoff:{id}"), format!("handoff:{id}:resolution")] {
                    escalation::cancel(
                        ctx,
                        conn,
                        &h.workflow,
                        &e,
                        by,
                        &format!("hand-off {}", to.label()),
                    )
                    .await?;
                }
                if to == State::Done {
                    h.completed_by = Some(by.into());
                    h.completed_at = Some(now);
                    h.resolution_seconds = Some(match &h.resolution_clock {
                        Some(c) => c.0.elapsed(&ctx.calendar, now).num_seconds(),
                        None => (now - h.created_at).num_seconds(),
                    });
                }
                h.closed_at = Some(now);
                h.imminent = false;
            }
        }
    }
    if command == Command::Start && h.started_at.is_none() {
        h.started_at = Some(now);
    }
    if let Some(r) = reason {
        h.reason = Some(r.to_string());
    }
    h.status = to.as_str().into();
    save(conn, &h).await?;
    // Consulted people are asked before work starts; Informed told on done.
    let (tell, why) = match (effects.contains(&Effect::StopResponse), to) {
        (true, State::InProgress | State::Acknowledged) => (
            h.raci.consulted.clone(),
            "Your input is asked before work starts",
        ),
        (_, State::Done) => (h.raci.informed.clone(), "Done"),
        _ => (Vec::new(), ""),
    };
    for p in tell.iter().filter(|p| p.as_str() != by) {
        let n = NewNotification::to_person(
            p,
            h.workflow.clone(),
            &h.entity_id,
            format!("Hand-off #{id} ({}): {}", h.kind, h.subject),
        )
        .body(format!(
            "{why} ({} → {}).",
            h.from_department, h.to_department
        ))
        .dedupe(format!("handoff:{id}:{}:{p}", to.as_str()))
        .payload(serde_json::json!({ "handoff_id": id, "kind": h.kind, "state": to }));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    let tell_requester = (to.is_terminal() || to == State::Waiting)
        && h.created_by != by
        && !tell.contains(&h.created_by)
        && ctx.org.person(&h.created_by).is_some();
    if tell_requester {
        let n = NewNotification::to_person(
            &h.created_by,
            h.workflow.clone(),
            &h.entity_id,
            format!("Hand-off #{id} {}: {}", to.label(), h.subject),
        )
        .body(h.reason.clone().unwrap_or_default())
        .dedupe(format!("handoff:{id}:{}:{}", to.as_str(), now.timestamp()))
        .payload(serde_json::json!({ "handoff_id": id, "state": to }));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    let action = match command {
        Command::Acknowledge => "handoff_acknowledged",
        Command::Start => "handoff_started",
        Command::Wait => "handoff_waiting",
        Command::Resume => "handoff_resumed",
        Command::Done => "handoff_done",
        Command::Decline => "handoff_declined",
        Command::Cancel => "handoff_cancelled",
    };
    events::append(
        conn,
        &NewEvent::new(h.workflow.clone(), "handoff", &h.entity_id, action, by)
            .transition(Some(from), to)
            .maybe_reason(reason.map(str::to_string))
            .correlation(h.correlation_id.clone())
            .payload(serde_json::json!({
                "handoff_id": id, "kind": h.kind, "late": now > h.due_at && h.acknowledged_at == Some(now),
                "resolution_due_at": h.resolution_due_at, "paused_seconds": h.paused_seconds,
            })),
        now,
    )
    .await?;
    Ok(h)
}

/// Calendar time the clock stood still, up to `now`.
pub fn paused_seconds(c: &SlaClock, cal: &crate::calendar::Calendar, now: DateTime<Utc>) -> i64 {
    let cal = cal.for_kind(&c.calendar);
    c.pauses
        .iter()
        .map(|p| {
            let until = p.until.unwrap_or(now).min(now);
            if until > p.from {
                cal.business_duration_between(p.from, until)
            } else {
                TimeDelta::zero()
            }
        })
        .sum::<TimeDelta>()
        .num_seconds()
}

async fn save(conn: &mut PgConnection, h: &Handoff) -> Result<()> {
    sqlx::query(
        "UPDATE handoffs SET status = $2, acknowledged_by = $3, acknowledged_at = $4, completed_by = $5,
            completed_at = $6, resolution_clock = $7, resolution_due_at = $8, imminent = $9, started_at = $10,
            waiting_since = $11, paused_seconds = $12, reason = $13, response_seconds = $14,
            resolution_seconds = $15, closed_at = $16, assignee = $17
         WHERE id = $1",
    )
    .bind(h.id)
    .bind(&h.status)
    .bind(&h.acknowledged_by)
    .bind(h.acknowledged_at)
    .bind(&h.completed_by)
    .bind(h.completed_at)
    .bind(&h.resolution_clock)
    .bind(h.resolution_due_at)
    .bind(h.imminent)
    .bind(h.started_at)
    .bind(h.waiting_since)
    .bind(h.paused_seconds)
    .bind(&h.reason)
    .bind(h.response_seconds)
    .bind(h.resolution_seconds)
    .bind(h.closed_at)
    .bind(&h.assignee)
    .execute(conn)
    .await?;
    Ok(())
}

/// The receiving side has it (first response). Late acknowledgements are
/// allowed (and stay marked breached); they stop the escalation.
pub async fn acknowledge(ctx: &Ctx, conn: &mut PgConnection, id: i64, by: &str) -> Result<Handoff> {
    transition(ctx, conn, id, Command::Acknowledge, by, None).await
}

/// Give a hand-off to a named person of the receiving department (or back
/// to its queue with `None`).
pub async fn assign(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    to: Option<&str>,
    by: &str,
) -> Result<Handoff> {
    let mut h = lock(conn, id).await?;
    check_actor(ctx, &h, by, Command::Start)?;
    let state = h.state()?;
    if state.is_terminal() {
        return Err(Error::conflict(format!(
            "hand-off #{id} is already {}; it cannot be reassigned",
            state.label()
        )));
    }
    if let Some(a) = to {
        let p = ctx.org.actor(a)?;
        if p.department != h.to_department {
            return Err(Error::invalid(format!(
                "{} is not in {}, which receives this hand-off",
                p.label(),
                h.to_department
            )));
        }
    }
    let before = h.assignee.clone();
    h.assignee = to.map(str::to_string);
    save(conn, &h).await?;
    let now = ctx.now();
    if let Some(a) = to.filter(|a| *a != by) {
        let n = NewNotification::to_person(
            a,
            h.workflow.clone(),
            &h.entity_id,
            format!("Hand-off #{id} assigned to you: {}", h.subject),
        )
        .body(format!(
            "Respond by {}.",
            ctx.calendar.format_local(h.due_at)
        ))
        .dedupe(format!("handoff:{id}:assign:{a}:{}", now.timestamp()))
        .payload(serde_json::json!({ "handoff_id": id, "kind": h.kind }));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    events::append(
        conn,
        &NewEvent::new(
            h.workflow.clone(),
            "handoff",
            &h.entity_id,
            "handoff_assigned",
            by,
        )
        .correlation(h.correlation_id.clone())
        .payload(serde_json::json!({ "handoff_id": id, "from": before, "to": h.assignee })),
        now,
    )
    .await?;
    Ok(h)
}

/// One comment of a hand-off's thread.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Comment {
    pub id: i64,
    pub handoff_id: i64,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Add to the thread: either side, anyone in its RACI, or the Business Manager.
pub async fn comment(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    by: &str,
    body: &str,
) -> Result<Comment> {
    let body = body.trim();
    if body.is_empty() {
        return Err(Error::invalid("a comment needs some text"));
    }
    if body.chars().count() > 4000 {
        return Err(Error::invalid("a comment is at most 4000 characters"));
    }
    let h = lock(conn, id).await?;
    let person = ctx.org.actor(by)?;
    let r = &h.raci.0;
    let in_raci = r.accountable == by
        || [&r.responsible, &r.consulted, &r.informed]
            .iter()
            .any(|l| l.iter().any(|p| p == by));
    if !(in_raci
        || person.department == h.to_department
        || person.department == h.from_department
        || h.created_by == by
        || person.has_role(Role::BusinessManager))
    {
        return Err(Error::forbidden(format!(
            "{} is in neither {} nor {} nor the hand-off's RACI",
            person.label(),
            h.from_department,
            h.to_department
        )));
    }
    let now = ctx.now();
    let c: Comment = sqlx::query_as(
        "INSERT INTO handoff_comments (handoff_id, author, body, created_at) VALUES ($1, $2, $3, $4)
         RETURNING id, handoff_id, author, body, created_at",
    )
    .bind(id)
    .bind(by)
    .bind(body)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    events::append(
        conn,
        &NewEvent::new(
            h.workflow.clone(),
            "handoff",
            &h.entity_id,
            "handoff_commented",
            by,
        )
        .correlation(h.correlation_id.clone())
        .payload(serde_json::json!({ "handoff_id": id, "comment_id": c.id })),
        now,
    )
    .await?;
    Ok(c)
}

/// A hand-off's thread, oldest first (at most 200).
pub async fn comments(conn: &mut PgConnection, id: i64) -> Result<Vec<Comment>> {
    Ok(sqlx::query_as(
        "SELECT id, handoff_id, author, body, created_at FROM handoff_comments
         WHERE handoff_id = $1 ORDER BY id LIMIT 200",
    )
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// The hand-offs' deadline clocks: at 75% the Responsible are told it is
/// imminent; at 100% the hand-off is breached and its policy starts.
#[derive(Debug, Clone, Copy)]
pub struct Clocks;

impl ClockOwner for Clocks {
    fn reached<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
        r: &'a Reached<'a>,
    ) -> BoxFuture<'a, Result<Reaction>> {
        Box::pin(async move {
            let id: i64 = r
                .entity_id
                .parse()
                .map_err(|_| Error::internal(format!("hand-off clock on {:?}", r.entity_id)))?;
            let resolution = r.clock == RESOLUTION_CLOCK;
            match r.stage {
                Stage::Reminder => imminent(ctx, conn, id, resolution).await,
                Stage::Breach => breach(ctx, conn, id, resolution).await,
                Stage::Escalation => Ok(Reaction::Stale),
            }
        })
    }
}

/// A timer an older binary scheduled before hand-offs ran on deadline clocks.
pub fn on_sla<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id: i64 = t
            .entity_id
            .parse()
            .map_err(|_| Error::internal(format!("hand-off timer {} has a bad id", t.id)))?;
        breach(ctx, conn, id, false).await?;
        Ok(())
    })
}

/// Is the clock still running?
fn clock_runs(h: &Handoff, resolution: bool) -> Result<bool> {
    let s = h.state()?;
    Ok(if resolution {
        !s.is_terminal() && s != State::Waiting && !h.resolution_breached
    } else {
        s == State::Open && !h.breached
    })
}

async fn imminent(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: i64,
    resolution: bool,
) -> Result<Reaction> {
    let h = lock(conn, id).await?;
    if !clock_runs(&h, resolution)? {
        return Ok(Reaction::Stale);
    }
    sqlx::query("UPDATE handoffs SET imminent = true WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let which = if resolution { "resolution" } else { "response" };
    let due = if resolution {
        h.resolution_due_at.unwrap_or(h.due_at)
    } else {
        h.due_at
    };
    let mut people = match &h.assignee {
        Some(a) => vec![a.clone()],
        None => Vec::new(),
    };
    for p in receivers(ctx, &h) {
        if !people.contains(&p) {
            people.push(p);
        }
    }
    for p in &people {
        let n = NewNotification::to_person(
            p,
            h.workflow.clone(),
            &h.entity_id,
            format!("Hand-off #{id} {which} SLA imminent: {}", h.subject),
        )
        .body(format!("Due {}.", ctx.calendar.format_local(due)))
        .severity("warning")
        .dedupe(format!("handoff:{id}:imminent:{which}:{}", due.timestamp()))
        .payload(serde_json::json!({ "handoff_id": id, "kind": h.kind, "clock": which }));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    events::append(
        conn,
        &NewEvent::new(h.workflow.clone(), "handoff", &h.entity_id, "handoff_imminent", "engine")
            .reason(format!("75% of the {which} SLA used"))
            .correlation(h.correlation_id.clone())
            .payload(serde_json::json!({ "handoff_id": id, "clock": which, "due_at": due, "notified": people })),
        ctx.now(),
    )
    .await?;
    Ok(Reaction::Recorded)
}

/// An SLA ran out: mark it and start the kind's escalation policy.
async fn breach(ctx: &Ctx, conn: &mut PgConnection, id: i64, resolution: bool) -> Result<Reaction> {
    let h = lock(conn, id).await?;
    if !clock_runs(&h, resolution)? {
        return Ok(Reaction::Stale);
    }
    let now = ctx.now();
    let (sql, which, due, entity) = if resolution {
        (
            "UPDATE handoffs SET resolution_breached = true WHERE id = $1",
            "resolution",
            h.resolution_due_at.unwrap_or(now),
            format!("handoff:{id}:resolution"),
        )
    } else {
        (
            "UPDATE handoffs SET breached = true WHERE id = $1",
            "response",
            h.due_at,
            format!("handoff:{id}"),
        )
    };
    sqlx::query(sql).bind(id).execute(&mut *conn).await?;
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
            "{which} SLA missed (due {})",
            ctx.calendar.format_local(due)
        ))
        .correlation(h.correlation_id.clone())
        .payload(serde_json::json!({ "handoff_id": id, "kind": h.kind, "clock": which })),
        now,
    )
    .await?;
    let policy = Policy::named(ctx, &h.policy)?;
    let subject = if resolution {
        format!("Hand-off resolution SLA breached: {}", h.subject)
    } else {
        format!("Hand-off SLA breached: {}", h.subject)
    };
    let departments = vec![h.to_department.clone()];
    let mut start = Start::new(&h.workflow, &entity, &subject, &policy);
    start.departments = &departments;
    escalation::start(ctx, conn, &start).await?;
    Ok(Reaction::Recorded)
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
         FROM handoffs WHERE kind = $1 AND created_at >= $2 AND status <> 'cancelled'",
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (state, command) pair: the diagram, and nothing leaves it.
    #[test]
    fn the_lifecycle_is_exactly_the_diagram() {
        use Command as C;
        use State as S;
        let expected: &[(State, Command, State)] = &[
            (S::Open, C::Acknowledge, S::Acknowledged),
            (S::Open, C::Start, S::InProgress),
            (S::Open, C::Decline, S::Declined),
            (S::Open, C::Cancel, S::Cancelled),
            (S::Acknowledged, C::Start, S::InProgress),
            (S::Acknowledged, C::Wait, S::Waiting),
            (S::Acknowledged, C::Done, S::Done),
            (S::Acknowledged, C::Decline, S::Declined),
            (S::Acknowledged, C::Cancel, S::Cancelled),
            (S::InProgress, C::Wait, S::Waiting),
            (S::InProgress, C::Done, S::Done),
            (S::InProgress, C::Decline, S::Declined),
            (S::InProgress, C::Cancel, S::Cancelled),
            (S::Waiting, C::Resume, S::InProgress),
            (S::Waiting, C::Done, S::Done),
            (S::Waiting, C::Decline, S::Declined),
            (S::Waiting, C::Cancel, S::Cancelled),
        ];
        for s in State::ALL {
            for c in Command::ALL {
                let want = expected
                    .iter()
                    .find(|(f, cmd, _)| *f == s && *cmd == c)
                    .map(|(_, _, t)| *t);
                match (decide(s, c), want) {
                    (Ok((to, _)), Some(w)) => assert_eq!(to, w, "{s:?} {c:?}"),
                    (Err(r), None) => assert!(!r.to_string().is_empty()),
                    (got, want) => panic!("{s:?} {c:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn clocks_follow_the_transitions() {
        let effects = |s, c| decide(s, c).map(|(_, e)| e).unwrap_or_default();
        assert_eq!(
            effects(State::Open, Command::Acknowledge),
            vec![Effect::StopResponse]
        );
        assert_eq!(
            effects(State::InProgress, Command::Wait),
            vec![Effect::Pause]
        );
        assert_eq!(
            effects(State::Waiting, Command::Resume),
            vec![Effect::Resume]
        );
        assert!(effects(State::InProgress, Command::Done).contains(&Effect::Close));
        assert_eq!(
            decide(State::Open, Command::Wait),
            Err(Refusal::NotAcknowledged)
        );
        assert!(
            decide(State::Done, Command::Cancel)
                .err()
                .map(|r| r.to_string())
                .unwrap_or_default()
                .contains("already done")
        );
    }

    #[test]
    fn states_round_trip_and_aliases_parse() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("requested"), Some(State::Open));
        assert_eq!(State::parse("In progress"), Some(State::InProgress));
        assert_eq!(State::parse("resolved"), Some(State::Done));
        assert_eq!(State::parse("bogus"), None);
    }
}
