//! `vivid simulate`: a stream of realistic business events for the demo and
//! for load tests. Each workflow adds its generators here.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::engine::Ctx;
use crate::error::Result;
use crate::metrics;
use crate::rng::Rng;

/// What the simulator has produced so far.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SimReport {
    pub events: u64,
    pub metric_readings: u64,
}

/// The simulator's state: random walks of the business metrics.
#[derive(Debug, Clone)]
pub struct Simulator {
    rng: Rng,
    sessions: f64,
    conversion: f64,
    roas: f64,
    sentiment: f64,
}

impl Simulator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            sessions: 5200.0,
            conversion: 0.021,
            roas: 2.6,
            sentiment: 0.12,
        }
    }

    /// Produce one business event.
    pub async fn step(&mut self, ctx: &Ctx, report: &mut SimReport) -> Result<()> {
        // Random walks with mean reversion keep the numbers plausible.
        self.sessions =
            (self.sessions + 0.05 * (5200.0 - self.sessions) + 120.0 * self.rng.normal())
                .max(100.0);
        self.conversion =
            (self.conversion + 0.05 * (0.021 - self.conversion) + 0.0008 * self.rng.normal())
                .clamp(0.002, 0.08);
        self.roas = (self.roas + 0.05 * (2.6 - self.roas) + 0.08 * self.rng.normal()).max(0.1);
        self.sentiment =
            (self.sentiment + 0.05 * (0.12 - self.sentiment) + 0.01 * self.rng.normal())
                .clamp(0.0, 1.0);
        let orders = (self.sessions * self.conversion).round();
        let revenue = (orders * self.rng.range(105.0, 135.0)).round();
        let reading = match self.rng.below(6) {
            0 => ("sessions", self.sessions.round()),
            1 => ("orders", orders),
            2 => ("daily_revenue", revenue),
            3 => ("roas", (self.roas * 100.0).round() / 100.0),
            4 => (
                "negative_sentiment",
                (self.sentiment * 1000.0).round() / 1000.0,
            ),
            _ => ("order_backlog", (orders * self.rng.range(0.6, 1.1)).round()),
        };
        metrics::record_now(ctx, reading.0, reading.1, "simulator").await?;
        report.metric_readings += 1;
        report.events += 1;
        Ok(())
    }
}

/// Produce `rate` events per second until `limit` events (if any) or shutdown.
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
