//! The outbox: notifications are queued in the transaction of the change that
//! caused them and delivered afterwards by the engine, with retries and
//! exponential backoff, to a pluggable target (the log now; Discord later).
//! Delivery is at-least-once: a claimed row is leased, not locked, so an
//! engine that dies mid-delivery hands it to another after the lease.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::Ctx;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    Person,
    /// A department's director (resolved to a person when queued).
    Director,
    /// A department as a whole (its channel).
    Department,
    /// A named channel (e.g. "incidents").
    Channel,
}

impl Recipient {
    fn as_str(self) -> &'static str {
        match self {
            Recipient::Person => "person",
            Recipient::Director => "director",
            Recipient::Department => "department",
            Recipient::Channel => "channel",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewNotification {
    pub recipient_kind: Recipient,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub workflow: String,
    pub entity_id: String,
    pub severity: &'static str,
    pub payload: serde_json::Value,
    /// Queue at most once per key (e.g. "approval:7:remind:maya").
    pub dedupe_key: Option<String>,
}

impl NewNotification {
    pub fn to_person(
        handle: &str,
        workflow: impl Into<String>,
        entity_id: impl ToString,
        subject: impl Into<String>,
    ) -> Self {
        Self {
            recipient_kind: Recipient::Person,
            recipient: handle.to_string(),
            subject: subject.into(),
            body: String::new(),
            workflow: workflow.into(),
            entity_id: entity_id.to_string(),
            severity: "info",
            payload: serde_json::Value::Object(Default::default()),
            dedupe_key: None,
        }
    }

    pub fn to_channel(
        channel: &str,
        workflow: impl Into<String>,
        entity_id: impl ToString,
        subject: impl Into<String>,
    ) -> Self {
        Self {
            recipient_kind: Recipient::Channel,
            ..Self::to_person(channel, workflow, entity_id, subject)
        }
    }

    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    pub fn severity(mut self, severity: &'static str) -> Self {
        self.severity = severity;
        self
    }

    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }
}

/// Queue a notification in the caller's transaction. Returns its id, or None
/// when its dedupe key was already queued.
pub async fn enqueue(
    ctx: &Ctx,
    conn: &mut PgConnection,
    n: &NewNotification,
) -> Result<Option<i64>> {
    let person = match n.recipient_kind {
        Recipient::Person => Some(ctx.org.actor(&n.recipient)?.handle.clone()),
        Recipient::Director => Some(
            ctx.org
                .director_of(&n.recipient)
                .ok_or_else(|| {
                    Error::not_found(format!("department {:?} has no director", n.recipient))
                })?
                .handle
                .clone(),
        ),
        Recipient::Department | Recipient::Channel => None,
    };
    let now = ctx.now();
    let id: Option<i64> = sqlx::query_scalar(
        "WITH ins AS (
            INSERT INTO outbox (recipient_kind, recipient, person, subject, body, workflow, entity_id, severity,
                                payload, dedupe_key, next_attempt_at, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING id)
         SELECT id FROM ins, LATERAL (SELECT pg_notify('vivid_wake', '')) n",
    )
    .bind(n.recipient_kind.as_str())
    .bind(&n.recipient)
    .bind(person)
    .bind(&n.subject)
    .bind(&n.body)
    .bind(&n.workflow)
    .bind(&n.entity_id)
    .bind(n.severity)
    .bind(&n.payload)
    .bind(&n.dedupe_key)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

/// A queued notification handed to a target.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub recipient_kind: String,
    pub recipient: String,
    pub person: Option<String>,
    pub subject: String,
    pub body: String,
    pub workflow: String,
    pub entity_id: String,
    pub severity: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later (after the given delay when the target said so).
    #[error("{reason}")]
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Will never succeed: stop trying.
    #[error("{0}")]
    Permanent(String),
}

pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// Where notifications go.
pub trait DeliveryTarget: Send + Sync {
    fn name(&self) -> &'static str;
    fn deliver<'a>(&'a self, ctx: &'a Ctx, n: &'a Notification) -> DeliveryFuture<'a>;
}

/// Writes each notification to the log (tracing, target `vivid::notify`).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogTarget;

impl DeliveryTarget for LogTarget {
    fn name(&self) -> &'static str {
        "log"
    }

    fn deliver<'a>(&'a self, _ctx: &'a Ctx, n: &'a Notification) -> DeliveryFuture<'a> {
        Box::pin(async move {
            tracing::info!(
                target: "vivid::notify",
                id = n.id,
                to = %format!("{}:{}", n.recipient_kind, n.recipient),
                workflow = %n.workflow,
                entity = %n.entity_id,
                severity = %n.severity,
                "{}",
                n.subject
            );
            Ok(())
        })
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliverReport {
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
}

/// Exponential backoff: base * 2^(attempt-1), capped.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    base.saturating_mul(factor).min(max)
}

/// Claim one batch of due notifications (leasing them) and deliver them.
pub async fn deliver_due(
    ctx: &Ctx,
    target: &dyn DeliveryTarget,
    batch: i64,
) -> Result<DeliverReport> {
    let now = ctx.now();
    let engine = &ctx.config.engine;
    let lease = engine.outbox_lease.delta();
    let claimed: Vec<Notification> = sqlx::query_as(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2
         WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1
                      ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id, recipient_kind, recipient, person, subject, body, workflow, entity_id, severity, payload,
                   attempts, created_at",
    )
    .bind(now)
    .bind(now + lease)
    .bind(batch)
    .fetch_all(&ctx.pool)
    .await?;
    let mut report = DeliverReport::default();
    for n in &claimed {
        match target.deliver(ctx, n).await {
            Ok(()) => {
                sqlx::query(
                    "UPDATE outbox SET status = 'delivered', delivered_at = $2, delivered_via = $3, last_error = NULL
                     WHERE id = $1",
                )
                .bind(n.id)
                .bind(ctx.now())
                .bind(target.name())
                .execute(&ctx.pool)
                .await?;
                report.delivered += 1;
            }
            Err(e) => {
                let attempts = u32::try_from(n.attempts).unwrap_or(u32::MAX);
                let give_up = matches!(e, DeliveryError::Permanent(_))
                    || attempts >= engine.outbox_max_attempts;
                let wait = match &e {
                    DeliveryError::Retry {
                        after: Some(after), ..
                    } => *after,
                    _ => backoff(
                        engine.outbox_backoff.std(),
                        engine.outbox_backoff_max.std(),
                        attempts,
                    ),
                };
                let next =
                    ctx.now() + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX);
                sqlx::query("UPDATE outbox SET status = $2, last_error = $3, next_attempt_at = $4 WHERE id = $1")
                    .bind(n.id)
                    .bind(if give_up { "dead" } else { "pending" })
                    .bind(e.to_string())
                    .bind(next)
                    .execute(&ctx.pool)
                    .await?;
                if give_up {
                    tracing::error!(id = n.id, attempts, error = %e, "notification undeliverable; marked dead");
                    report.dead += 1;
                } else {
                    tracing::warn!(id = n.id, attempts, error = %e, retry_in = ?wait, "notification delivery failed; will retry");
                    report.retried += 1;
                }
            }
        }
    }
    Ok(report)
}

/// Notifications for one person, newest first (for tests and the UI).
pub async fn for_person(
    conn: &mut PgConnection,
    handle: &str,
    limit: i64,
) -> Result<Vec<Notification>> {
    Ok(sqlx::query_as(
        "SELECT id, recipient_kind, recipient, person, subject, body, workflow, entity_id, severity, payload,
                attempts, created_at
         FROM outbox WHERE person = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(handle)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        assert_eq!(backoff(base, max, 1), Duration::from_secs(2));
        assert_eq!(backoff(base, max, 2), Duration::from_secs(4));
        assert_eq!(backoff(base, max, 5), Duration::from_secs(32));
        assert_eq!(backoff(base, max, 6), Duration::from_secs(60));
        assert_eq!(backoff(base, max, 500), Duration::from_secs(60));
    }
}
