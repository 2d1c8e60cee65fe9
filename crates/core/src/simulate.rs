//! `vivid simulate`: a stream of realistic business events for the demo and
//! for load tests. Each workflow adds its generators here.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::engine::Ctx;
use crate::error::Result;
use crate::rng::Rng;

/// What the simulator has produced so far.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SimReport {
    pub events: u64,
    pub metric_readings: u64,
    pub incidents_opened: u64,
    pub exposures: u64,
    pub touches: u64,
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
        // Now and then something goes wrong: ad spend stops paying off or a
        // bad review spreads. Mean reversion brings it back over time.
        if self.rng.f64() < 0.004 {
            if self.rng.f64() < 0.5 {
                self.roas = 1.2;
            } else {
                self.sentiment = 0.36;
            }
        }
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
        // Through the KPI rules: a bad enough reading opens an incident.
        let recorded =
            crate::crisis::triggers::record_metric(ctx, reading.0, reading.1, "simulator").await?;
        report.metric_readings += 1;
        report.incidents_opened += recorded.opened.len() as u64;
        report.events += 1;
        if self.rng.f64() < 0.05 {
            self.incident_activity(ctx, report).await?;
        }
        if self.rng.f64() < 0.5 {
            self.experiment_traffic(ctx, report).await?;
        }
        if self.rng.f64() < 0.1 {
            report.events += crate::privacy::demo::activity(ctx, &mut self.rng).await?;
        }
        if self.rng.f64() < 0.5 {
            self.journey_touch(ctx, report).await?;
        }
        Ok(())
    }

    /// A prospect engages; Sales follows up on leads handed to it.
    async fn journey_touch(&mut self, ctx: &Ctx, report: &mut SimReport) -> Result<()> {
        use crate::journey::service;
        let prospect = format!("sim-cust-{}", self.rng.below(400));
        let kinds = [
            "delivered",
            "delivered",
            "opened",
            "opened",
            "clicked",
            "clicked",
            "reply",
            "form_submitted",
            "unsubscribed",
        ];
        let channels = ["ad", "content", "email", "social", "site"];
        let kind = self.rng.pick(&kinds).copied().unwrap_or("opened");
        let channel = self.rng.pick(&channels).copied().unwrap_or("email");
        let key = format!("sim-{:x}", self.rng.next_u64());
        let touched = service::touch(
            ctx,
            &service::NewTouch {
                prospect,
                channel: channel.into(),
                kind: kind.into(),
                idempotency_key: key,
                segment: Some("general".into()),
                content_id: None,
            },
            "simulator",
        )
        .await?;
        report.touches += 1;
        report.events += 1;
        if touched.handed_off.is_some() && self.rng.f64() < 0.8 {
            // Most leads are called quickly; some wait and breach the SLA.
            if let Err(e) =
                service::contact(ctx, &touched.prospect.key, "nico", "Simulated call").await
            {
                tracing::debug!(error = %e, "simulated contact refused");
            }
        }
        Ok(())
    }

    /// Visitors reach a running experiment; a few of them buy. Variations
    /// after the control convert a little better, so effects emerge over time.
    async fn experiment_traffic(&mut self, ctx: &Ctx, report: &mut SimReport) -> Result<()> {
        use crate::experiments::service;
        let running = service::list(ctx, Some("running")).await?;
        let Some(exp) = self.rng.pick(&running) else {
            return Ok(());
        };
        let mut conn = ctx.pool.acquire().await?;
        let vars = service::variations(&mut conn, exp.id).await?;
        let batch = self.rng.next_u64();
        let units: Vec<String> = (0..20).map(|i| format!("sim-{batch:x}-{i}")).collect();
        let chosen = service::assign_many(ctx, &mut conn, exp, &units).await?;
        let mut events = Vec::new();
        for (u, v) in units.iter().zip(&chosen) {
            let position = vars.iter().position(|x| &x.key == v).unwrap_or(0);
            let rate = 0.03 * (1.0 + 0.15 * position as f64);
            if self.rng.f64() < rate {
                events.push((u.clone(), exp.metric.clone(), 1.0));
            }
        }
        service::record_many(ctx, &mut conn, exp, &events).await?;
        report.exposures += units.len() as u64;
        report.events += 1;
        Ok(())
    }

    /// Responders at work: sometimes a new minor incident is reported;
    /// otherwise an open one moves on (acknowledged, a phase, resolved).
    async fn incident_activity(&mut self, ctx: &Ctx, report: &mut SimReport) -> Result<()> {
        use crate::crisis::service;
        const REPORTS: &[(&str, &str, &[&str])] = &[
            (
                "Product images missing on two collection pages",
                "P3",
                &["technology", "creative"],
            ),
            (
                "Order confirmation e-mails delayed",
                "P3",
                &["technology", "customer_experience"],
            ),
            (
                "Discount code stacking lets orders through at a loss",
                "P2",
                &["finance", "marketing"],
            ),
            (
                "Courier pickup missed at the framing studio",
                "P3",
                &["operations", "vendor"],
            ),
            (
                "Size guide shows centimetres as inches",
                "P4",
                &["product", "creative"],
            ),
        ];
        let open = service::list(
            ctx,
            &crate::crisis::store::ListFilter {
                statuses: vec!["triggered".into(), "acknowledged".into(), "resolved".into()],
                ..Default::default()
            },
        )
        .await?;
        let responders = ["olu", "tess", "kai", "omar"];
        let actor = self.rng.pick(&responders).copied().unwrap_or("olu");
        if open.len() < 6 && self.rng.f64() < 0.3 {
            if let Some((title, sev, depts)) = self
                .rng
                .pick(REPORTS)
                .filter(|(t, _, _)| !open.iter().any(|i| i.title == *t))
            {
                let new = service::NewIncident {
                    title: title.to_string(),
                    description: "Reported by the simulator.".into(),
                    severity: sev.parse().unwrap_or(crate::crisis::Severity::P3),
                    source: service::Source::Manual,
                    source_ref: None,
                    departments: depts.iter().map(|d| d.to_string()).collect(),
                    commander: None,
                    trigger_key: None,
                };
                if service::open(ctx, &new, actor).await?.is_some() {
                    report.incidents_opened += 1;
                    report.events += 1;
                }
            }
            return Ok(());
        }
        let Some(inc) = self.rng.pick(&open) else {
            return Ok(());
        };
        // A refused move (e.g. a P1 not yet at Implement Fix) is a normal part of the day.
        let result = match inc.status.as_str() {
            "triggered" => service::acknowledge(ctx, inc.id, actor).await.map(|_| ()),
            "acknowledged" if self.rng.f64() < 0.3 => service::resolve(
                ctx,
                inc.id,
                actor,
                "Fixed and verified by the on-call responder",
            )
            .await
            .map(|_| ()),
            "acknowledged" => service::advance_phase(ctx, inc.id, actor, None, None)
                .await
                .map(|_| ()),
            _ if matches!(inc.severity.as_str(), "P3" | "P4") => {
                service::close(ctx, inc.id, "omar").await.map(|_| ())
            }
            _ => Ok(()),
        };
        match result {
            Ok(()) => report.events += 1,
            Err(e) if e.is_user_error() => {
                tracing::debug!(incident = inc.id, error = %e, "simulated move refused")
            }
            Err(e) => return Err(e),
        }
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
