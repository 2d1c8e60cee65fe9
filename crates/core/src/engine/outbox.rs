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
    /// A page: its channel, contact and escalation level (see `notify`).
    pub page: Option<Page>,
    /// Not before this moment (a later step of a notification rule).
    pub not_before: Option<DateTime<Utc>>,
}

/// What makes a notification a page: the method that carries it (None: the
/// default target, Discord or the log), the contact method row, and the
/// escalation level that paged the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub channel: Option<crate::notify::Method>,
    pub contact_id: Option<i64>,
    pub escalation_id: Option<i64>,
    /// 0-based level and round of the escalation.
    pub level: i32,
    pub round: i32,
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
            page: None,
            not_before: None,
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

    pub fn page(mut self, page: Page) -> Self {
        self.page = Some(page);
        self
    }

    pub fn not_before(mut self, at: DateTime<Utc>) -> Self {
        self.not_before = Some(at);
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
    Ok(enqueue_many(ctx, conn, std::slice::from_ref(n))
        .await?
        .into_iter()
        .next())
}

/// Queue several notifications in one statement (a storm of pages costs one
/// round trip). Returns the ids of those queued (a dedupe key already queued
/// is skipped).
pub async fn enqueue_many(
    ctx: &Ctx,
    conn: &mut PgConnection,
    batch: &[NewNotification],
) -> Result<Vec<i64>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let now = ctx.now();
    let mut cols = Columns::default();
    for n in batch {
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
        cols.kind.push(n.recipient_kind.as_str());
        cols.recipient.push(n.recipient.clone());
        cols.person.push(person);
        cols.subject.push(n.subject.clone());
        cols.body.push(n.body.clone());
        cols.workflow.push(n.workflow.clone());
        cols.entity.push(n.entity_id.clone());
        cols.severity.push(n.severity);
        cols.payload.push(n.payload.clone());
        cols.dedupe.push(n.dedupe_key.clone());
        cols.due.push(n.not_before.unwrap_or(now).max(now));
        let page = n.page.as_ref();
        cols.channel
            .push(page.and_then(|p| p.channel).map(|m| m.as_str()));
        cols.contact.push(page.and_then(|p| p.contact_id));
        cols.escalation.push(page.and_then(|p| p.escalation_id));
        cols.level.push(page.map(|p| p.level));
        cols.round.push(page.map(|p| p.round));
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "WITH ins AS (
            INSERT INTO outbox (recipient_kind, recipient, person, subject, body, workflow, entity_id, severity,
                                payload, dedupe_key, next_attempt_at, created_at, channel, contact_id,
                                escalation_id, esc_level, esc_round)
            SELECT k, r, p, s, b, w, e, sev, pl, d, due, $11, ch, ct, esc, lvl, rnd
            FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                        $8::text[], $9::jsonb[], $10::text[], $12::timestamptz[], $13::text[], $14::int8[],
                        $15::int8[], $16::int4[], $17::int4[])
                 AS u(k, r, p, s, b, w, e, sev, pl, d, due, ch, ct, esc, lvl, rnd)
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING id)
         SELECT id FROM ins, LATERAL (SELECT pg_notify('vivid_wake', '')) n",
    )
    .bind(&cols.kind)
    .bind(&cols.recipient)
    .bind(&cols.person)
    .bind(&cols.subject)
    .bind(&cols.body)
    .bind(&cols.workflow)
    .bind(&cols.entity)
    .bind(&cols.severity)
    .bind(&cols.payload)
    .bind(&cols.dedupe)
    .bind(now)
    .bind(&cols.due)
    .bind(&cols.channel)
    .bind(&cols.contact)
    .bind(&cols.escalation)
    .bind(&cols.level)
    .bind(&cols.round)
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

/// A batch of notifications, column by column (for UNNEST).
#[derive(Default)]
struct Columns {
    kind: Vec<&'static str>,
    recipient: Vec<String>,
    person: Vec<Option<String>>,
    subject: Vec<String>,
    body: Vec<String>,
    workflow: Vec<String>,
    entity: Vec<String>,
    severity: Vec<&'static str>,
    payload: Vec<serde_json::Value>,
    dedupe: Vec<Option<String>>,
    due: Vec<DateTime<Utc>>,
    channel: Vec<Option<&'static str>>,
    contact: Vec<Option<i64>>,
    escalation: Vec<Option<i64>>,
    level: Vec<Option<i32>>,
    round: Vec<Option<i32>>,
}

/// Stop the pages of an escalation not yet delivered (somebody acknowledged,
/// or it was cancelled). Returns how many were stopped.
pub async fn cancel_pages(conn: &mut PgConnection, escalation_id: i64, why: &str) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'cancelled', last_error = $2
         WHERE escalation_id = $1 AND status = 'pending'",
    )
    .bind(escalation_id)
    .bind(why)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
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
    /// The method of a page (None: the default target).
    pub channel: Option<String>,
    pub contact_id: Option<i64>,
    pub escalation_id: Option<i64>,
    pub esc_level: Option<i32>,
    pub esc_round: Option<i32>,
}

/// The columns of [`Notification`].
const COLUMNS: &str =
    "id, recipient_kind, recipient, person, subject, body, workflow, entity_id, severity, payload,
                attempts, created_at, channel, contact_id, escalation_id, esc_level, esc_round";

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

/// Claim one batch of due notifications (leasing them) and deliver them,
/// several at a time. A page's method may be rate limited (`[notify]
/// rate_per_minute`): over the limit it waits without spending an attempt.
/// A page that fails for good tells `notify`, which moves the escalation on
/// when everyone at the level is out of reach.
pub async fn deliver_due(
    ctx: &Ctx,
    target: &dyn DeliveryTarget,
    batch: i64,
) -> Result<DeliverReport> {
    deliver(ctx, target, batch, None).await
}

/// Deliver these queued notifications now, if due (a test page).
pub async fn deliver_now(
    ctx: &Ctx,
    target: &dyn DeliveryTarget,
    ids: &[i64],
) -> Result<DeliverReport> {
    let batch = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    deliver(ctx, target, batch, Some(ids)).await
}

async fn deliver(
    ctx: &Ctx,
    target: &dyn DeliveryTarget,
    batch: i64,
    only: Option<&[i64]>,
) -> Result<DeliverReport> {
    use futures_util::StreamExt;
    let now = ctx.now();
    let engine = &ctx.config.engine;
    let lease = engine.outbox_lease.delta();
    let claimed: Vec<Notification> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2
         WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1
                        AND ($4::int8[] IS NULL OR id = ANY($4))
                      ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    )))
    .bind(now)
    .bind(now + lease)
    .bind(batch)
    .bind(only)
    .fetch_all(&ctx.pool)
    .await?;
    let mut report = DeliverReport::default();
    let mut ready = Vec::with_capacity(claimed.len());
    // Per channel, one atomic take from its bucket (shared by every engine).
    let mut by_channel: Vec<(Option<String>, Vec<Notification>)> = Vec::new();
    for n in claimed {
        match by_channel.iter_mut().find(|(c, _)| *c == n.channel) {
            Some((_, list)) => list.push(n),
            None => by_channel.push((n.channel.clone(), vec![n])),
        }
    }
    let mut held: Vec<(i64, DateTime<Utc>)> = Vec::new();
    for (channel, mut list) in by_channel {
        let mut conn = ctx.pool.acquire().await?;
        let admitted =
            crate::notify::delivery::admit(ctx, &mut conn, channel.as_deref(), list.len(), now)
                .await?;
        let rest = list.split_off(admitted.granted.min(list.len()));
        ready.extend(list);
        held.extend(
            rest.iter()
                .zip(admitted.waits)
                .map(|(n, wait)| (n.id, now + wait)),
        );
    }
    if !held.is_empty() {
        // Over the channel's rate: back in the queue, attempt not spent.
        let (ids, at): (Vec<i64>, Vec<DateTime<Utc>>) = held.into_iter().unzip();
        sqlx::query(
            "UPDATE outbox o SET attempts = attempts - 1, next_attempt_at = u.at
             FROM UNNEST($1::int8[], $2::timestamptz[]) AS u(id, at)
             WHERE o.id = u.id AND o.status = 'pending'",
        )
        .bind(&ids)
        .bind(&at)
        .execute(&ctx.pool)
        .await?;
    }
    let parallel = usize::try_from(ctx.config.notify.parallel_deliveries.max(1)).unwrap_or(1);
    let outcomes: Vec<(Notification, std::result::Result<(), DeliveryError>)> =
        futures_util::stream::iter(ready)
            .map(|n| async move {
                let r = target.deliver(ctx, &n).await;
                (n, r)
            })
            .buffer_unordered(parallel)
            .collect()
            .await;
    for (n, outcome) in &outcomes {
        match outcome {
            Ok(()) => {
                sqlx::query(
                    "UPDATE outbox SET status = 'delivered', delivered_at = $2, delivered_via = $3, last_error = NULL
                     WHERE id = $1",
                )
                .bind(n.id)
                .bind(ctx.now())
                .bind(n.channel.as_deref().unwrap_or(target.name()))
                .execute(&ctx.pool)
                .await?;
                report.delivered += 1;
            }
            Err(e) => {
                let attempts = u32::try_from(n.attempts).unwrap_or(u32::MAX);
                let max = if n.channel.is_some() {
                    ctx.config.notify.page_max_attempts
                } else {
                    engine.outbox_max_attempts
                };
                let give_up = matches!(e, DeliveryError::Permanent(_)) || attempts >= max;
                let wait = match e {
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
                // A page cancelled meanwhile (acknowledged) stays cancelled.
                sqlx::query(
                    "UPDATE outbox SET status = $2, last_error = $3, next_attempt_at = $4
                     WHERE id = $1 AND status = 'pending'",
                )
                .bind(n.id)
                .bind(if give_up { "dead" } else { "pending" })
                .bind(e.to_string())
                .bind(next)
                .execute(&ctx.pool)
                .await?;
                if give_up {
                    tracing::error!(id = n.id, attempts, channel = ?n.channel, error = %e, "notification undeliverable; marked dead");
                    report.dead += 1;
                    if n.escalation_id.is_some() {
                        crate::notify::pages::on_failed(ctx, n).await?;
                    }
                } else {
                    tracing::warn!(id = n.id, attempts, channel = ?n.channel, error = %e, retry_in = ?wait, "notification delivery failed; will retry");
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
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM outbox WHERE person = $1 ORDER BY id DESC LIMIT $2"
    )))
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
