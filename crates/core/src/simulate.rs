//! `vivid simulate`: a stream of realistic business events for the demo and
//! for load tests. Each workflow contributes its own step through the
//! workflow list; the simulator only keeps time and one random stream, so a
//! run is reproducible from its seed.
//!
//! It never touches real records: it refuses to run on a database that
//! `vivid demo` / `vivid seed demo` did not create (the seed's `demo` mark)
//! unless forced, and each workflow's step acts only on what the simulator
//! itself created (crisis: incidents marked `simulated`, left out of
//! MTTA/MTTR unless asked for).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::workflow::{self, SimStep};

tokio::task_local! {
    static SIMULATING: bool;
}

/// True inside a simulator step: records created now are the simulator's
/// (crisis marks its incidents `simulated`, whichever workflow opens them).
pub fn simulating() -> bool {
    SIMULATING.try_with(|s| *s).unwrap_or(false)
}

/// What the simulator has produced so far.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SimReport {
    /// Business events produced (a metric reading, an incident moved, a
    /// batch of exposures, a touch, ...).
    pub events: u64,
    /// What the workflows produced, by name ("metric_readings",
    /// "incidents_opened", "exposures", "touches", ...).
    pub counts: BTreeMap<String, u64>,
}

impl SimReport {
    /// Count `n` more of `what` (and one more event when `event` is set).
    pub fn add(&mut self, what: &str, n: u64) {
        *self.counts.entry(what.to_string()).or_default() += n;
    }

    pub fn count(&self, what: &str) -> u64 {
        self.counts.get(what).copied().unwrap_or(0)
    }
}

/// The simulator: one random stream and each workflow's step.
pub struct Simulator {
    rng: Rng,
    steps: Vec<Box<dyn SimStep>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("steps", &self.steps.len())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            steps: workflow::all()
                .iter()
                .filter_map(|w| w.simulator())
                .collect(),
        }
    }

    /// One tick: every workflow's step, in the list's order. Whatever the
    /// steps create is marked as the simulator's (see [`simulating`]).
    pub async fn step(&mut self, ctx: &Ctx, report: &mut SimReport) -> Result<()> {
        let Self { rng, steps } = self;
        SIMULATING
            .scope(true, async move {
                for step in steps.iter_mut() {
                    step.step(ctx, rng, report).await?;
                }
                Ok(())
            })
            .await
    }
}

/// Was this database made by `vivid demo` / `vivid seed demo`?
pub async fn is_demo_database(ctx: &Ctx) -> Result<bool> {
    let mark: Option<i32> = sqlx::query_scalar("SELECT 1 FROM seed_marks WHERE name = $1")
        .bind(crate::seed::DEMO_MARK)
        .fetch_optional(&ctx.pool)
        .await?;
    Ok(mark.is_some())
}

/// Refuse a database the demo seed did not create, unless `force`.
pub async fn check_database(ctx: &Ctx, force: bool) -> Result<()> {
    if force || is_demo_database(ctx).await? {
        return Ok(());
    }
    Err(Error::forbidden(
        "this database was not created by `vivid demo` or `vivid seed demo`: the simulator makes up \
         business events and will not run on it. Use a demo database, or pass --force if you mean it \
         (even then it acts only on records it creates)",
    ))
}

/// Produce `rate` ticks per second until `limit` events (if any) or
/// shutdown, on a demo database (or anywhere when `force`).
pub async fn run(
    ctx: &Ctx,
    rate: f64,
    limit: Option<u64>,
    force: bool,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SimReport> {
    check_database(ctx, force).await?;
    let mut sim =
        Simulator::new(ctx.config.simulate.seed ^ ctx.now().timestamp_millis().unsigned_abs());
    let mut report = SimReport::default();
    let interval = Duration::from_secs_f64(1.0 / rate.clamp(0.01, 100_000.0));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        if limit.is_some_and(|l| report.events >= l) || *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = ticker.tick() => sim.step(ctx, &mut report).await?,
            _ = shutdown.changed() => {}
        }
    }
    Ok(report)
}
