//! `vivid simulate`: a stream of realistic business events for the demo and
//! for load tests. Each workflow contributes its own step through the
//! workflow list; the simulator only keeps time and one random stream, so a
//! run is reproducible from its seed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::engine::Ctx;
use crate::error::Result;
use crate::rng::Rng;
use crate::workflow::{self, SimStep};

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

    /// One tick: every workflow's step, in the list's order.
    pub async fn step(&mut self, ctx: &Ctx, report: &mut SimReport) -> Result<()> {
        for step in &mut self.steps {
            step.step(ctx, &mut self.rng, report).await?;
        }
        Ok(())
    }
}

/// Produce `rate` ticks per second until `limit` events (if any) or shutdown.
pub async fn run(
    ctx: &Ctx,
    rate: f64,
    limit: Option<u64>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SimReport> {
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
