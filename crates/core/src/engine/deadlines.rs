//! Deadline clocks, one mechanism for every workflow: a moment something
//! must happen by, reminders before it, a breach when it passes and,
//! optionally, an escalation some time after. Approvals, hand-offs and the
//! workflows' own clocks (data-subject requests, breach notification,
//! service levels, improvement plans) all run on it.
//!
//! A clock is a set of timers of one kind, keyed `"{clock}:{stage}"` on the
//! owner's entity, so starting a clock again moves it and stopping it
//! cancels every stage at once. When a stage is reached, the engine asks the
//! clock's owner (registered per workflow in the timer registry) what to do:
//! the owner notifies whom it must, or says the clock no longer matters (the
//! thing was done in the meantime) and nothing is recorded. The engine then
//! writes one event per stage reached (`deadline_reminded`,
//! `deadline_breached`, `deadline_escalated`) and, for an escalation stage,
//! starts the escalation policy the clock names.
//!
//! Callers compute instants on the business calendar; this module only
//! keeps them.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::Ctx;
use super::escalation::{self, Policy, Start};
use super::events::{self, NewEvent};
use super::timers::{self, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};
use crate::workflow::BoxFuture;

/// The one timer kind every deadline clock uses.
pub const TIMER: &str = "deadline";

/// A clock to start (or move).
#[derive(Debug, Clone)]
pub struct Clock {
    /// The owner: a workflow's name, or an engine mechanism ("approvals").
    pub workflow: String,
    pub entity_id: String,
    /// Which of the entity's clocks: "decision", "response", "notify", ...
    pub name: String,
    pub due_at: DateTime<Utc>,
    /// Reminders before `due_at`; those already past are skipped.
    pub reminders: Vec<DateTime<Utc>>,
    /// An escalation started some time after the breach, unless the clock
    /// is stopped first.
    pub escalation: Option<EscalateAfter>,
    /// Links the events this clock writes to the story they belong to.
    pub correlation_id: Option<String>,
}

impl Clock {
    pub fn new(
        workflow: impl Into<String>,
        entity_id: impl ToString,
        name: impl Into<String>,
        due_at: DateTime<Utc>,
    ) -> Self {
        Self {
            workflow: workflow.into(),
            entity_id: entity_id.to_string(),
            name: name.into(),
            due_at,
            reminders: Vec::new(),
            escalation: None,
            correlation_id: None,
        }
    }

    pub fn remind_at(mut self, at: impl IntoIterator<Item = DateTime<Utc>>) -> Self {
        self.reminders.extend(at);
        self
    }

    pub fn escalate(mut self, escalation: EscalateAfter) -> Self {
        self.escalation = Some(escalation);
        self
    }

    pub fn correlation(mut self, id: Option<String>) -> Self {
        self.correlation_id = id;
        self
    }
}

/// Start this escalation policy `after` the breach.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EscalateAfter {
    pub after_secs: i64,
    pub policy: String,
    /// What the escalation says ("Hand-off SLA breached: ...").
    pub subject: String,
    /// Departments concerned, for `concerned:ROLE` targets.
    #[serde(default)]
    pub departments: Vec<String>,
}

impl EscalateAfter {
    pub fn new(after: TimeDelta, policy: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            after_secs: after.num_seconds().max(0),
            policy: policy.into(),
            subject: subject.into(),
            departments: Vec::new(),
        }
    }

    pub fn departments(mut self, departments: Vec<String>) -> Self {
        self.departments = departments;
        self
    }
}

/// The stages of a clock, in the order they are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Reminder,
    Breach,
    Escalation,
}

impl Stage {
    fn action(self) -> &'static str {
        match self {
            Stage::Reminder => "deadline_reminded",
            Stage::Breach => "deadline_breached",
            Stage::Escalation => "deadline_escalated",
        }
    }
}

/// What a stage's timer carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Payload {
    clock: String,
    stage: Stage,
    due_at: DateTime<Utc>,
    /// Which reminder (0 = the earliest), for reminders.
    #[serde(default)]
    reminder: usize,
    #[serde(default)]
    escalation: Option<EscalateAfter>,
    #[serde(default)]
    correlation_id: Option<String>,
}

/// A stage reached, as its owner sees it.
#[derive(Debug, Clone)]
pub struct Reached<'a> {
    pub workflow: &'a str,
    pub entity_id: &'a str,
    pub clock: &'a str,
    pub stage: Stage,
    pub due_at: DateTime<Utc>,
    /// Which reminder (0 = the earliest).
    pub reminder: usize,
    pub correlation_id: Option<&'a str>,
}

/// What the owner did about a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {
    /// The clock no longer matters (done in the meantime): nothing is
    /// recorded and the clock's later stages are cancelled.
    Stale,
    /// Handled: these people were told. The engine records the stage.
    Handled { notified: Vec<String> },
    /// Handled, and the owner recorded it in its own words (an event on its
    /// own entity); the engine records nothing more.
    Recorded,
}

impl Reaction {
    pub fn notified(people: Vec<String>) -> Self {
        Reaction::Handled { notified: people }
    }
}

/// Whoever owns clocks: reacts to their stages inside the transaction that
/// marks the stage's timer fired.
pub trait ClockOwner: Send + Sync {
    fn reached<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
        reached: &'a Reached<'a>,
    ) -> BoxFuture<'a, Result<Reaction>>;
}

fn key(clock: &str, stage: &str) -> String {
    format!("{clock}:{stage}")
}

/// Start a clock, or move it: its pending stages are replaced.
pub async fn start(ctx: &Ctx, conn: &mut PgConnection, clock: &Clock) -> Result<()> {
    if clock.name.is_empty() || clock.name.contains(':') {
        return Err(Error::internal(format!(
            "a deadline clock needs a name without ':' (got {:?})",
            clock.name
        )));
    }
    let now = ctx.now();
    stop(conn, &clock.workflow, &clock.entity_id, &clock.name).await?;
    let payload = |stage: Stage, reminder: usize| Payload {
        clock: clock.name.clone(),
        stage,
        due_at: clock.due_at,
        reminder,
        escalation: clock.escalation.clone(),
        correlation_id: clock.correlation_id.clone(),
    };
    let mut reminders: Vec<DateTime<Utc>> = clock
        .reminders
        .iter()
        .copied()
        .filter(|at| *at > now && *at < clock.due_at)
        .collect();
    reminders.sort();
    reminders.dedup();
    for (i, at) in reminders.iter().enumerate() {
        schedule(
            conn,
            clock,
            key(&clock.name, &format!("remind{i}")),
            *at,
            &payload(Stage::Reminder, i),
            now,
        )
        .await?;
    }
    schedule(
        conn,
        clock,
        key(&clock.name, "breach"),
        clock.due_at,
        &payload(Stage::Breach, 0),
        now,
    )
    .await?;
    if let Some(e) = &clock.escalation {
        let at = clock.due_at + TimeDelta::seconds(e.after_secs);
        schedule(
            conn,
            clock,
            key(&clock.name, "escalate"),
            at,
            &payload(Stage::Escalation, 0),
            now,
        )
        .await?;
    }
    Ok(())
}

async fn schedule(
    conn: &mut PgConnection,
    clock: &Clock,
    key: String,
    at: DateTime<Utc>,
    payload: &Payload,
    now: DateTime<Utc>,
) -> Result<()> {
    let payload = serde_json::to_value(payload)
        .map_err(|e| Error::internal(format!("deadline payload: {e}")))?;
    timers::schedule(
        conn,
        &NewTimer::new(TIMER, clock.workflow.clone(), &clock.entity_id, at)
            .key(key)
            .payload(payload),
        now,
    )
    .await?;
    Ok(())
}

/// Stop a clock: every stage still pending is cancelled. Returns how many.
pub async fn stop(
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    clock: &str,
) -> Result<u64> {
    timers::cancel_keyed(conn, workflow, entity_id, TIMER, &format!("{clock}:")).await
}

/// The engine's handler for every clock's stages.
pub fn on_stage<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p: Payload = serde_json::from_value(t.payload.clone()).map_err(|e| {
            Error::internal(format!("deadline timer {} has a bad payload: {e}", t.id))
        })?;
        let owner = ctx.timers.owner_of_clocks(&t.workflow).ok_or_else(|| {
            Error::internal(format!(
                "no owner of {:?} deadline clocks in this binary",
                t.workflow
            ))
        })?;
        let reached = Reached {
            workflow: &t.workflow,
            entity_id: &t.entity_id,
            clock: &p.clock,
            stage: p.stage,
            due_at: p.due_at,
            reminder: p.reminder,
            correlation_id: p.correlation_id.as_deref(),
        };
        let (notified, record) = match owner.reached(ctx, conn, &reached).await? {
            Reaction::Stale => {
                stop(conn, &t.workflow, &t.entity_id, &p.clock).await?;
                return Ok(());
            }
            Reaction::Handled { notified } => (notified, true),
            Reaction::Recorded => (Vec::new(), false),
        };
        let now = ctx.now();
        let mut payload = serde_json::json!({
            "clock": p.clock, "due_at": p.due_at, "notified": notified,
        });
        if p.stage == Stage::Escalation
            && let Some(e) = &p.escalation
        {
            let policy = Policy::named(ctx, &e.policy)?;
            let entity = format!("{}:{}", p.clock, t.entity_id);
            let mut start = Start::new(&t.workflow, &entity, &e.subject, &policy);
            start.departments = &e.departments;
            let id = escalation::start(ctx, conn, &start).await?;
            payload["escalation_id"] = serde_json::json!(id);
            payload["policy"] = serde_json::json!(e.policy);
        }
        if !record {
            return Ok(());
        }
        let reason = match p.stage {
            Stage::Reminder => format!("{} is due soon", p.clock),
            Stage::Breach => format!("{} passed its deadline", p.clock),
            Stage::Escalation => format!("{} is still overdue: escalated", p.clock),
        };
        events::append(
            conn,
            &NewEvent::new(
                t.workflow.clone(),
                "deadline",
                &t.entity_id,
                p.stage.action(),
                "engine",
            )
            .reason(reason)
            .correlation(p.correlation_id.clone())
            .payload(payload),
            now,
        )
        .await?;
        Ok(())
    })
}
