//! Timers are rows. An engine claims due timers with `FOR UPDATE SKIP LOCKED`,
//! marks them fired and runs their handlers in the same transaction, so a
//! timer takes effect exactly once even if the process dies at any instant,
//! and any number of engines can share the database.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Connection, PgConnection};

use super::Ctx;
use super::deadlines::ClockOwner;
use crate::error::{Error, Result};

/// NOTIFY channel that wakes idle engines when new work is scheduled.
pub const WAKE_CHANNEL: &str = "vivid_wake";

#[derive(Debug, Clone)]
pub struct NewTimer {
    pub kind: &'static str,
    pub workflow: String,
    pub entity_id: String,
    /// Distinguishes several pending timers of one kind on one entity.
    pub dedupe_key: String,
    pub due_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

impl NewTimer {
    pub fn new(
        kind: &'static str,
        workflow: impl Into<String>,
        entity_id: impl ToString,
        due_at: DateTime<Utc>,
    ) -> Self {
        Self {
            kind,
            workflow: workflow.into(),
            entity_id: entity_id.to_string(),
            dedupe_key: String::new(),
            due_at,
            payload: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = key.into();
        self
    }

    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Timer {
    pub id: i64,
    pub kind: String,
    pub workflow: String,
    pub entity_id: String,
    pub dedupe_key: String,
    pub due_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    pub attempts: i32,
}

/// Schedule a timer. A pending timer with the same (kind, workflow, entity,
/// key) is moved to the new due time instead of duplicated.
pub async fn schedule(
    conn: &mut PgConnection,
    timer: &NewTimer,
    now: DateTime<Utc>,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "WITH up AS (
            INSERT INTO timers (kind, workflow, entity_id, dedupe_key, due_at, payload, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (kind, workflow, entity_id, dedupe_key) WHERE status = 'pending'
            DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload
            RETURNING id)
         SELECT id FROM up, LATERAL (SELECT pg_notify('vivid_wake', '')) n",
    )
    .bind(timer.kind)
    .bind(&timer.workflow)
    .bind(&timer.entity_id)
    .bind(&timer.dedupe_key)
    .bind(timer.due_at)
    .bind(&timer.payload)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Cancel pending timers of an entity (of one kind, or all), whatever their
/// keys; [`cancel_key`] cancels one keyed timer.
pub async fn cancel(
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    kind: Option<&str>,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE timers SET status = 'cancelled'
         WHERE status = 'pending' AND workflow = $1 AND entity_id = $2 AND ($3::text IS NULL OR kind = $3)",
    )
    .bind(workflow)
    .bind(entity_id)
    .bind(kind)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Cancel the one pending timer of a kind on an entity that was scheduled
/// with `key` ([`NewTimer::key`]), leaving its siblings (other keys) alone.
pub async fn cancel_key(
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    kind: &str,
    key: &str,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE timers SET status = 'cancelled'
         WHERE status = 'pending' AND workflow = $1 AND entity_id = $2 AND kind = $3 AND dedupe_key = $4",
    )
    .bind(workflow)
    .bind(entity_id)
    .bind(kind)
    .bind(key)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Cancel the pending timers of one kind on an entity whose key starts with
/// `key_prefix` (a deadline clock's stages, one action item's reminder).
pub async fn cancel_keyed(
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    kind: &str,
    key_prefix: &str,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE timers SET status = 'cancelled'
         WHERE status = 'pending' AND workflow = $1 AND entity_id = $2 AND kind = $3
           AND starts_with(dedupe_key, $4)",
    )
    .bind(workflow)
    .bind(entity_id)
    .bind(kind)
    .bind(key_prefix)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// What a timer does when it fires. It runs inside the transaction that marks
/// the timer fired: everything it writes commits with it, or not at all.
pub trait TimerHandler: Send + Sync {
    fn fire<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
        timer: &'a Timer,
    ) -> HandlerFuture<'a>;
}

impl<F> TimerHandler for F
where
    F: for<'a> Fn(&'a Ctx, &'a mut PgConnection, &'a Timer) -> HandlerFuture<'a> + Send + Sync,
{
    fn fire<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
        timer: &'a Timer,
    ) -> HandlerFuture<'a> {
        self(ctx, conn, timer)
    }
}

/// What a run of due timers of one kind does when they fire together (a
/// storm of escalation steps in a few statements instead of a few per
/// timer). It runs inside the transaction that marks them fired, and must
/// have the effect of firing each with the kind's [`TimerHandler`] in turn:
/// that handler is still needed, for the timers retried one by one when a
/// batch fails.
pub trait BatchHandler: Send + Sync {
    fn fire_all<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
        timers: &'a [Timer],
    ) -> HandlerFuture<'a>;
}

impl<F> BatchHandler for F
where
    F: for<'a> Fn(&'a Ctx, &'a mut PgConnection, &'a [Timer]) -> HandlerFuture<'a> + Send + Sync,
{
    fn fire_all<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
        timers: &'a [Timer],
    ) -> HandlerFuture<'a> {
        self(ctx, conn, timers)
    }
}

/// Handlers by timer kind, and the owners of deadline clocks by workflow.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn TimerHandler>>,
    batch_handlers: HashMap<&'static str, Arc<dyn BatchHandler>>,
    clock_owners: HashMap<&'static str, Arc<dyn ClockOwner>>,
}

impl Registry {
    pub fn register(&mut self, kind: &'static str, handler: impl TimerHandler + 'static) {
        self.handlers.insert(kind, Arc::new(handler));
    }

    /// Fire consecutive due timers of a kind together (the kind keeps its
    /// one-by-one handler from [`Registry::register`] for retries).
    pub fn register_batch(&mut self, kind: &'static str, handler: impl BatchHandler + 'static) {
        self.batch_handlers.insert(kind, Arc::new(handler));
    }

    /// Who reacts to the deadline clocks a workflow (or engine mechanism) starts.
    pub fn clock_owner(&mut self, workflow: &'static str, owner: impl ClockOwner + 'static) {
        self.clock_owners.insert(workflow, Arc::new(owner));
    }

    pub fn owner_of_clocks(&self, workflow: &str) -> Option<Arc<dyn ClockOwner>> {
        self.clock_owners.get(workflow).cloned()
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<_> = self.handlers.keys().copied().collect();
        k.sort_unstable();
        k
    }

    fn get(&self, kind: &str) -> Option<&Arc<dyn TimerHandler>> {
        self.handlers.get(kind)
    }

    fn get_batch(&self, kind: &str) -> Option<&Arc<dyn BatchHandler>> {
        self.batch_handlers.get(kind)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FireReport {
    pub fired: u64,
    pub failed: u64,
}

const CLAIM_SQL: &str =
    "SELECT id, kind, workflow, entity_id, dedupe_key, due_at, payload, attempts
     FROM timers WHERE status = 'pending' AND due_at <= $1
     ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED";

/// Claim and fire one batch of due timers. Returns what happened; zero fired
/// and zero failed means nothing was due.
pub async fn fire_due_batch(
    ctx: &Ctx,
    registry: &Registry,
    worker: &str,
    batch: i64,
) -> Result<FireReport> {
    let now = ctx.now();
    let mut conn = ctx.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let timers: Vec<Timer> = sqlx::query_as(CLAIM_SQL)
        .bind(now)
        .bind(batch)
        .fetch_all(&mut *tx)
        .await?;
    if timers.is_empty() {
        tx.commit().await?;
        return Ok(FireReport::default());
    }
    // Mark fired first: a handler that schedules the next timer of the same
    // kind for the same entity must not collide with this one.
    let ids: Vec<i64> = timers.iter().map(|t| t.id).collect();
    mark_fired(&mut tx, &ids, now, worker).await?;
    let mut failure = None;
    let mut i = 0;
    while i < timers.len() {
        let kind = timers[i].kind.as_str();
        // Consecutive timers of a kind with a batch handler fire together
        // (the order of the batch is kept across kinds).
        let (end, done) = match registry.get_batch(kind) {
            Some(batch) => {
                let end = timers[i..]
                    .iter()
                    .position(|t| t.kind != kind)
                    .map_or(timers.len(), |n| i + n);
                (end, batch.fire_all(ctx, &mut tx, &timers[i..end]).await)
            }
            None => (i + 1, run_handler(ctx, registry, &mut tx, &timers[i]).await),
        };
        if let Err(e) = done {
            failure = Some((timers[i].id, e));
            break;
        }
        i = end;
    }
    match failure {
        None => {
            tx.commit().await?;
            Ok(FireReport {
                fired: timers.len() as u64,
                failed: 0,
            })
        }
        Some((id, e)) => {
            tx.rollback().await?;
            tracing::warn!(timer = id, error = %e, "a timer failed; firing its batch one by one");
            drop(conn);
            let mut report = FireReport::default();
            for timer in &timers {
                if fire_one(ctx, registry, worker, timer.id).await? {
                    report.fired += 1;
                } else {
                    report.failed += 1;
                }
            }
            Ok(report)
        }
    }
}

async fn mark_fired(
    conn: &mut PgConnection,
    ids: &[i64],
    now: DateTime<Utc>,
    worker: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE timers SET status = 'fired', fired_at = $2, fired_by = $3, attempts = attempts + 1
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(now)
    .bind(worker)
    .execute(conn)
    .await?;
    Ok(())
}

async fn run_handler(
    ctx: &Ctx,
    registry: &Registry,
    conn: &mut PgConnection,
    timer: &Timer,
) -> Result<()> {
    let handler = registry.get(&timer.kind).ok_or_else(|| {
        Error::internal(format!(
            "no handler for timer kind {:?} in this binary",
            timer.kind
        ))
    })?;
    handler.fire(ctx, conn, timer).await
}

/// Fire one timer in its own transaction. On failure, record the error and
/// retry later with backoff, or mark it failed after the last attempt.
/// Returns true when it fired.
async fn fire_one(ctx: &Ctx, registry: &Registry, worker: &str, id: i64) -> Result<bool> {
    let now = ctx.now();
    let mut conn = ctx.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let timer: Option<Timer> = sqlx::query_as(
        "SELECT id, kind, workflow, entity_id, dedupe_key, due_at, payload, attempts
         FROM timers WHERE id = $1 AND status = 'pending' FOR UPDATE SKIP LOCKED",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(timer) = timer else {
        tx.commit().await?;
        return Ok(false);
    };
    mark_fired(&mut tx, &[id], now, worker).await?;
    match run_handler(ctx, registry, &mut tx, &timer).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(e) => {
            tx.rollback().await?;
            let attempts = timer.attempts + 1;
            let max = i32::try_from(ctx.config.engine.timer_max_attempts).unwrap_or(i32::MAX);
            let status = if attempts >= max { "failed" } else { "pending" };
            let backoff = chrono::TimeDelta::seconds(
                2_i64.saturating_pow(u32::try_from(attempts).unwrap_or(0).min(16)),
            );
            tracing::error!(timer = id, kind = %timer.kind, attempts, error = %e, "timer handler failed");
            sqlx::query(
                "UPDATE timers SET attempts = $2, last_error = $3, status = $4, due_at = $5 WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(attempts)
            .bind(e.to_string())
            .bind(status)
            .bind(now + backoff)
            .execute(&mut *conn)
            .await?;
            Ok(false)
        }
    }
}

/// The due time of the next pending timer, if any.
pub async fn next_due(conn: &mut PgConnection) -> Result<Option<DateTime<Utc>>> {
    Ok(
        sqlx::query_scalar("SELECT min(due_at) FROM timers WHERE status = 'pending'")
            .fetch_one(conn)
            .await?,
    )
}

/// Built-in handlers every engine has.
pub fn register_builtin(registry: &mut Registry) {
    registry.register("engine.noop", noop);
    registry.register("engine.probe", probe);
}

/// Does nothing: benchmarks and smoke tests.
fn noop<'a>(_: &'a Ctx, _: &'a mut PgConnection, _: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async { Ok(()) })
}

/// Appends one event: proves a timer's effect lands exactly once.
fn probe<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let event =
            super::events::NewEvent::new("engine", "timer", &t.entity_id, "probe_fired", "engine")
                .payload(serde_json::json!({ "timer_id": t.id }));
        super::events::append(conn, &event, ctx.now()).await?;
        Ok(())
    })
}
