//! The shared engine every workflow uses: the event log, timers, the
//! notification outbox, approvals, escalation and on-call, plus the loop that
//! fires due timers and delivers notifications.

pub mod approvals;
pub mod deadlines;
pub mod escalation;
pub mod events;
pub mod handoffs;
pub mod oncall;
pub mod outbox;
pub mod timers;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use tokio::sync::watch;

pub use crate::ctx::Ctx;
use crate::error::Result;

/// The engine's own timer handlers (escalation steps, approval deadlines,
/// hand-off SLAs and the built-ins); workflows add theirs through the
/// workflow list, which hands the engine the whole registry in [`Ctx`].
pub fn register_timers(r: &mut timers::Registry) {
    timers::register_builtin(r);
    r.register(deadlines::TIMER, deadlines::on_stage);
    r.register(escalation::STEP_TIMER, escalation::on_step);
    r.register_batch(escalation::STEP_TIMER, escalation::on_steps);
    r.register(approvals::REMIND_TIMER, approvals::on_remind);
    r.register(approvals::DEADLINE_TIMER, approvals::on_deadline);
    r.clock_owner(approvals::CLOCK_OWNER, approvals::Clocks);
    r.register(handoffs::SLA_TIMER, handoffs::on_sla);
    r.clock_owner(handoffs::WORKFLOW, handoffs::Clocks);
}

/// A name for this engine process: host, pid and a random suffix.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{host}:{}:{:04x}", std::process::id(), nanos & 0xffff)
}

/// What one pass of the engine did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PassReport {
    pub timers_fired: u64,
    pub timers_failed: u64,
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
}

/// The engine: fires due timers and delivers notifications until stopped.
pub struct Engine {
    ctx: Ctx,
    registry: Arc<timers::Registry>,
    target: Arc<dyn outbox::DeliveryTarget>,
    worker: String,
}

impl Engine {
    pub fn new(ctx: Ctx, target: Arc<dyn outbox::DeliveryTarget>) -> Self {
        Self {
            registry: ctx.timers.clone(),
            ctx,
            target,
            worker: worker_name(),
        }
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Fire everything due and deliver what is queued, until nothing is left.
    pub async fn run_pass(&self) -> Result<PassReport> {
        let mut report = PassReport::default();
        let batch = i64::from(self.ctx.config.engine.timer_batch.max(1));
        loop {
            let r = timers::fire_due_batch(&self.ctx, &self.registry, &self.worker, batch).await?;
            report.timers_fired += r.fired;
            report.timers_failed += r.failed;
            if r.fired + r.failed == 0 {
                break;
            }
        }
        let obatch = i64::from(self.ctx.config.engine.outbox_batch.max(1));
        loop {
            let r = outbox::deliver_due(&self.ctx, self.target.as_ref(), obatch).await?;
            report.delivered += r.delivered;
            report.retried += r.retried;
            report.dead += r.dead;
            if r.delivered + r.retried + r.dead == 0 {
                break;
            }
        }
        Ok(report)
    }

    async fn heartbeat(&self, started: DateTime<Utc>) -> Result<()> {
        let (host, pid) = (
            self.worker
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string(),
            std::process::id(),
        );
        sqlx::query(
            "INSERT INTO engine_workers (worker, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (worker) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at",
        )
        .bind(&self.worker)
        .bind(host)
        .bind(i32::try_from(pid).unwrap_or(0))
        .bind(started)
        .bind(self.ctx.now())
        .execute(&self.ctx.pool)
        .await?;
        Ok(())
    }

    /// Run until `shutdown` turns true. Wakes on NOTIFY when new work is
    /// queued, otherwise polls; survives database outages by retrying.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        let started = self.ctx.now();
        let poll = self
            .ctx
            .config
            .engine
            .poll_interval
            .std()
            .max(Duration::from_millis(50));
        let heartbeat_every = self
            .ctx
            .config
            .engine
            .heartbeat
            .std()
            .max(Duration::from_secs(1));
        let mut listener: Option<PgListener> = None;
        let mut last_beat: Option<std::time::Instant> = None;
        tracing::info!(worker = %self.worker, "engine started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            if last_beat.is_none_or(|t| t.elapsed() >= heartbeat_every) {
                if let Err(e) = self.heartbeat(started).await {
                    tracing::warn!(error = %e, "engine heartbeat failed");
                }
                last_beat = Some(std::time::Instant::now());
            }
            if listener.is_none() {
                listener = match PgListener::connect_with(&self.ctx.pool).await {
                    Ok(mut l) => match l.listen(timers::WAKE_CHANNEL).await {
                        Ok(()) => Some(l),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot LISTEN; polling only");
                            None
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot connect a listener; polling only");
                        None
                    }
                };
            }
            match self.run_pass().await {
                Ok(r) if r != PassReport::default() => tracing::debug!(?r, "engine pass"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "engine pass failed; retrying"),
            }
            // Sleep until the next timer is due, new work is announced, or the poll interval passes.
            let mut wait = poll;
            if let Ok(mut conn) = self.ctx.pool.acquire().await
                && let Ok(Some(next)) = timers::next_due(&mut conn).await
            {
                let until = (next - self.ctx.now()).to_std().unwrap_or(Duration::ZERO);
                wait = wait.min(until);
            }
            let woke = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                r = woke => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "listener lost; reconnecting");
                        listener = None;
                    }
                }
                _ = shutdown.changed() => {}
            }
        }
        sqlx::query("DELETE FROM engine_workers WHERE worker = $1")
            .bind(&self.worker)
            .execute(&self.ctx.pool)
            .await
            .ok();
        tracing::info!(worker = %self.worker, "engine stopped");
        Ok(())
    }
}
