//! The append-only event log. Every state change of every workflow writes one
//! row here, in the same transaction as the change, and wakes live views with
//! `pg_notify` (delivered on commit, never for a rolled-back change).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::error::Result;

/// The NOTIFY channel live views LISTEN on.
pub const CHANNEL: &str = "vivid_events";

/// One state change, about to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub workflow: String,
    pub entity_type: String,
    pub entity_id: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub actor: String,
    pub reason: Option<String>,
    pub payload: serde_json::Value,
    /// Links the events of every workflow one story touches (`vivid events
    /// tail --correlation ID`).
    pub correlation_id: Option<String>,
}

impl NewEvent {
    pub fn new(
        workflow: impl Into<String>,
        entity_type: impl Into<String>,
        entity_id: impl ToString,
        action: impl Into<String>,
        actor: impl Into<String>,
    ) -> Self {
        Self {
            workflow: workflow.into(),
            entity_type: entity_type.into(),
            entity_id: entity_id.to_string(),
            action: action.into(),
            from_state: None,
            to_state: None,
            actor: actor.into(),
            reason: None,
            payload: serde_json::Value::Object(Default::default()),
            correlation_id: None,
        }
    }

    /// Part of this story (`None` leaves it on its own).
    pub fn correlation(mut self, id: Option<String>) -> Self {
        if id.is_some() {
            self.correlation_id = id;
        }
        self
    }

    pub fn transition(mut self, from: Option<impl ToString>, to: impl ToString) -> Self {
        self.from_state = from.map(|f| f.to_string());
        self.to_state = Some(to.to_string());
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn maybe_reason(mut self, reason: Option<String>) -> Self {
        self.reason = reason;
        self
    }

    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }
}

/// A recorded event.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub workflow: String,
    pub entity_type: String,
    pub entity_id: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub actor: String,
    pub reason: Option<String>,
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    pub correlation_id: Option<String>,
}

/// Append one event and notify live views; returns its id.
pub async fn append(conn: &mut PgConnection, event: &NewEvent, at: DateTime<Utc>) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "WITH ins AS (
            INSERT INTO events (workflow, entity_type, entity_id, action, from_state, to_state, actor, reason, payload, occurred_at, correlation_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            RETURNING id)
         SELECT id FROM ins, LATERAL (SELECT pg_notify('vivid_events',
            json_build_object('id', ins.id, 'workflow', $1::text, 'entity_type', $2::text, 'entity_id', $3::text, 'action', $4::text)::text)) n",
    )
    .bind(&event.workflow)
    .bind(&event.entity_type)
    .bind(&event.entity_id)
    .bind(&event.action)
    .bind(&event.from_state)
    .bind(&event.to_state)
    .bind(&event.actor)
    .bind(&event.reason)
    .bind(&event.payload)
    .bind(at)
    .bind(&event.correlation_id)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// What to read from the log.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub workflow: Option<String>,
    pub entity_id: Option<String>,
    /// Only events with a larger id (for tailing).
    pub after_id: Option<i64>,
    /// Only the events of one story.
    pub correlation_id: Option<String>,
    pub limit: i64,
}

/// Events matching the filter, oldest first. Without `after_id`, the newest
/// `limit` events.
pub async fn list(conn: &mut PgConnection, filter: &Filter) -> Result<Vec<Event>> {
    let limit = if filter.limit <= 0 { 100 } else { filter.limit };
    let rows: Vec<Event> = if let Some(after) = filter.after_id {
        sqlx::query_as(
            "SELECT id, workflow, entity_type, entity_id, action, from_state, to_state, actor, reason, payload, occurred_at, correlation_id
             FROM events
             WHERE id > $1 AND ($2::text IS NULL OR workflow = $2) AND ($3::text IS NULL OR entity_id = $3)
               AND ($5::text IS NULL OR correlation_id = $5)
             ORDER BY id LIMIT $4",
        )
        .bind(after)
        .bind(&filter.workflow)
        .bind(&filter.entity_id)
        .bind(limit)
        .bind(&filter.correlation_id)
        .fetch_all(conn)
        .await?
    } else {
        let mut rows: Vec<Event> = sqlx::query_as(
            "SELECT id, workflow, entity_type, entity_id, action, from_state, to_state, actor, reason, payload, occurred_at, correlation_id
             FROM events
             WHERE ($1::text IS NULL OR workflow = $1) AND ($2::text IS NULL OR entity_id = $2)
               AND ($4::text IS NULL OR correlation_id = $4)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(&filter.workflow)
        .bind(&filter.entity_id)
        .bind(limit)
        .bind(&filter.correlation_id)
        .fetch_all(conn)
        .await?;
        rows.reverse();
        rows
    };
    Ok(rows)
}

/// A change announced on a live channel: an event committed (its id,
/// workflow and entity), or a business metric recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Change {
    #[serde(default)]
    pub id: Option<i64>,
    pub workflow: String,
    #[serde(default)]
    pub entity_type: String,
    #[serde(default)]
    pub entity_id: String,
    #[serde(default)]
    pub action: String,
}

/// The workflow name a metric reading's change carries.
pub const METRICS: &str = "metrics";

impl Change {
    /// A notification's meaning, from its channel and payload.
    pub fn parse(channel: &str, payload: &str) -> Option<Self> {
        match channel {
            CHANNEL => serde_json::from_str(payload).ok(),
            crate::metrics::CHANNEL => Some(Change {
                id: None,
                workflow: METRICS.into(),
                entity_type: "metric".into(),
                entity_id: payload.to_string(),
                action: "recorded".into(),
            }),
            _ => None,
        }
    }
}

/// The newest event's id (0 for an empty log): where a live tail starts.
pub async fn last_id(conn: &mut PgConnection) -> Result<i64> {
    Ok(
        sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM events")
            .fetch_one(conn)
            .await?
            .unwrap_or(0),
    )
}

/// Live changes: LISTEN on the event and metric channels. Notifications sent
/// while the connection is down are lost, so after [`Subscription::next`]
/// reports a lost connection, re-read everything.
pub struct Subscription {
    listener: sqlx::postgres::PgListener,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    pub async fn open(pool: &sqlx::PgPool) -> Result<Self> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        // Report a lost connection at once instead of reconnecting silently,
        // so the subscriber knows to re-read.
        listener.eager_reconnect(false);
        listener
            .listen_all([CHANNEL, crate::metrics::CHANNEL])
            .await?;
        Ok(Self { listener })
    }

    /// The next change, waiting for it; `Ok(None)`: the connection was lost.
    pub async fn next(&mut self) -> Result<Option<Change>> {
        loop {
            match self.listener.try_recv().await? {
                None => return Ok(None),
                Some(n) => {
                    if let Some(c) = Change::parse(n.channel(), n.payload()) {
                        return Ok(Some(c));
                    }
                }
            }
        }
    }

    /// The changes already received, without waiting.
    pub fn drain(&mut self) -> Vec<Change> {
        let mut out = Vec::new();
        while let Some(n) = self.listener.next_buffered() {
            if let Some(c) = Change::parse(n.channel(), n.payload()) {
                out.push(c);
            }
        }
        out
    }
}
