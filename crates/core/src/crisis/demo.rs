//! Demo incidents in every state, made through the real services with a
//! clock set in the past, so their timelines, escalations and timers are
//! exactly what live use would leave behind.

use std::sync::Arc;

use chrono::TimeDelta;

use super::service::{self, Audience, NewIncident, PostmortemText, Source};
use super::{Severity, Status};
use crate::clock::SimClock;
use crate::engine::Ctx;
use crate::error::Result;
use crate::rng::Rng;
use crate::simulate::SimReport;
use crate::workflow::{BoxFuture, SimStep};

fn incident(
    title: &str,
    description: &str,
    severity: Severity,
    departments: &[&str],
) -> NewIncident {
    NewIncident {
        title: title.into(),
        description: description.into(),
        severity,
        source: Source::Manual,
        source_ref: None,
        departments: departments.iter().map(|d| d.to_string()).collect(),
        commander: None,
        trigger_key: None,
    }
}

/// Load the demo incidents. The caller marks the part loaded.
pub async fn seed(live: &Ctx) -> Result<()> {
    let now = live.now();
    let clock = SimClock::at(now - TimeDelta::days(3));
    let ctx = Ctx {
        clock: Arc::new(clock.clone()),
        ..live.clone()
    };

    // Closed P2 with its post-mortem, three days ago.
    let inc = service::open(
        &ctx,
        &incident(
            "Print partner API timeouts delayed 140 orders",
            "Orders stuck in 'sent to printer' since 09:10.",
            Severity::P2,
            &["operations", "vendor"],
        ),
        "olu",
    )
    .await?;
    if let Some(inc) = inc {
        clock.advance(TimeDelta::minutes(7));
        service::acknowledge(&ctx, inc.id, "olu").await?;
        for (minutes, note) in [
            (20, "partner status page shows degraded API"),
            (25, ""),
            (30, ""),
            (40, ""),
        ] {
            clock.advance(TimeDelta::minutes(minutes));
            service::advance_phase(
                &ctx,
                inc.id,
                "olu",
                None,
                (!note.is_empty()).then_some(note),
            )
            .await?;
        }
        service::status_update(
            &ctx,
            inc.id,
            "olu",
            Audience::Customer,
            "Some orders are shipping a day late; no action is needed on your side.",
            TimeDelta::hours(2),
        )
        .await?;
        clock.advance(TimeDelta::minutes(95));
        service::resolve(
            &ctx,
            inc.id,
            "olu",
            "Switched to the backup print partner and replayed the queue",
        )
        .await?;
        clock.advance(TimeDelta::hours(3));
        service::advance_phase(&ctx, inc.id, "olu", None, None).await?;
        service::write_postmortem(
            &ctx,
            inc.id,
            "omar",
            &PostmortemText {
                overview: "For 3h15m new orders did not reach our print partner; 140 orders shipped a day late.".into(),
                what_happened: "The partner's API began timing out at 09:10. Our retry queue filled and stopped accepting orders.".into(),
                contributing_factors: "No alert on queue depth; the backup partner switch was manual and undocumented.".into(),
                resolution: "Switched to the backup partner and replayed the queue.".into(),
                impact: "140 orders late by one day; 9 support tickets; no lost revenue.".into(),
            },
        )
        .await?;
        service::add_action_item(
            &ctx,
            inc.id,
            "omar",
            "victor",
            ctx.now() + TimeDelta::days(2),
            "Agree an API uptime SLA with the print partner",
        )
        .await?;
        service::add_action_item(
            &ctx,
            inc.id,
            "omar",
            "kai",
            ctx.now() + TimeDelta::days(10),
            "Alert when the print queue is deeper than 50 orders",
        )
        .await?;
        clock.advance(TimeDelta::hours(1));
        service::advance_phase(&ctx, inc.id, "omar", None, None).await?;
        service::close(&ctx, inc.id, "omar").await?;
    }

    // Resolved P3 in follow-up, yesterday.
    clock.set(now - TimeDelta::hours(20));
    if let Some(inc) = service::open(
        &ctx,
        &incident(
            "Gift-card codes rejected at checkout",
            "About 1 in 10 gift cards fail validation.",
            Severity::P3,
            &["technology", "customer_experience"],
        ),
        "jun",
    )
    .await?
    {
        clock.advance(TimeDelta::minutes(12));
        service::acknowledge(&ctx, inc.id, "kai").await?;
        clock.advance(TimeDelta::minutes(50));
        service::note(
            &ctx,
            inc.id,
            "kai",
            "Codes with a lowercase prefix fail a case-sensitive lookup",
        )
        .await?;
        clock.advance(TimeDelta::minutes(30));
        service::resolve(&ctx, inc.id, "kai", "Lookup made case-insensitive").await?;
    }

    // Acknowledged P2 in Internal Comms, this hour.
    clock.set(now - TimeDelta::minutes(50));
    if let Some(inc) = service::open(
        &ctx,
        &incident(
            "Framing studio backlog above capacity",
            "Holiday orders exceed the framing line's throughput.",
            Severity::P2,
            &["operations", "customer_experience"],
        ),
        "omar",
    )
    .await?
    {
        clock.advance(TimeDelta::minutes(6));
        service::acknowledge(&ctx, inc.id, "omar").await?;
        clock.advance(TimeDelta::minutes(20));
        service::advance_phase(
            &ctx,
            inc.id,
            "omar",
            None,
            Some("Backlog at 2.3x capacity; second shift being called in"),
        )
        .await?;
        clock.advance(TimeDelta::minutes(15));
        service::advance_phase(&ctx, inc.id, "omar", None, None).await?;
        service::assign(
            &ctx,
            inc.id,
            "omar",
            super::model::IncidentRole::Liaison,
            "cleo",
        )
        .await?;
    }

    // Triggered P1, minutes ago: still escalating.
    clock.set(now - TimeDelta::minutes(4));
    service::open(
        &ctx,
        &incident(
            "Checkout returns 502 for card payments",
            "Card payments fail since a payment-gateway certificate rotation.",
            Severity::P1,
            &["technology", "sales"],
        ),
        "kai",
    )
    .await?;

    // Triggered P4, handled next business day.
    clock.set(now - TimeDelta::minutes(30));
    service::open(
        &ctx,
        &incident(
            "Blog images load slowly on mobile",
            "Lighthouse score dropped from 92 to 71.",
            Severity::P4,
            &["marketing", "technology"],
        ),
        "lena",
    )
    .await?;
    Ok(())
}

/// The simulator's share of crisis management: business metrics walk
/// (through the KPI rules, so a bad enough reading opens an incident) and
/// responders work on open incidents.
#[derive(Debug, Clone)]
pub struct Simulation {
    sessions: f64,
    conversion: f64,
    roas: f64,
    sentiment: f64,
}

impl Default for Simulation {
    fn default() -> Self {
        Self {
            sessions: 5200.0,
            conversion: 0.021,
            roas: 2.6,
            sentiment: 0.12,
        }
    }
}

impl SimStep for Simulation {
    fn step<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        rng: &'a mut Rng,
        report: &'a mut SimReport,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.record_metric(ctx, rng, report).await?;
            if rng.f64() < 0.05 {
                incident_activity(rng, ctx, report).await?;
            }
            Ok(())
        })
    }
}

impl Simulation {
    /// One business metric reading from random walks with mean reversion.
    async fn record_metric(
        &mut self,
        ctx: &Ctx,
        rng: &mut Rng,
        report: &mut SimReport,
    ) -> Result<()> {
        self.sessions =
            (self.sessions + 0.05 * (5200.0 - self.sessions) + 120.0 * rng.normal()).max(100.0);
        self.conversion =
            (self.conversion + 0.05 * (0.021 - self.conversion) + 0.0008 * rng.normal())
                .clamp(0.002, 0.08);
        self.roas = (self.roas + 0.05 * (2.6 - self.roas) + 0.08 * rng.normal()).max(0.1);
        self.sentiment =
            (self.sentiment + 0.05 * (0.12 - self.sentiment) + 0.01 * rng.normal()).clamp(0.0, 1.0);
        // Now and then something goes wrong: ad spend stops paying off or a
        // bad review spreads. Mean reversion brings it back over time.
        if rng.f64() < 0.004 {
            if rng.f64() < 0.5 {
                self.roas = 1.2;
            } else {
                self.sentiment = 0.36;
            }
        }
        let orders = (self.sessions * self.conversion).round();
        let revenue = (orders * rng.range(105.0, 135.0)).round();
        let reading = match rng.below(6) {
            0 => ("sessions", self.sessions.round()),
            1 => ("orders", orders),
            2 => ("daily_revenue", revenue),
            3 => ("roas", (self.roas * 100.0).round() / 100.0),
            4 => (
                "negative_sentiment",
                (self.sentiment * 1000.0).round() / 1000.0,
            ),
            _ => ("order_backlog", (orders * rng.range(0.6, 1.1)).round()),
        };
        let recorded =
            super::triggers::record_metric(ctx, reading.0, reading.1, "simulator").await?;
        report.add("metric_readings", 1);
        report.add("incidents_opened", recorded.opened.len() as u64);
        report.events += 1;
        Ok(())
    }
}

/// Responders at work: sometimes a new minor incident is reported;
/// otherwise one of the simulator's own open incidents moves on
/// (acknowledged, a phase, resolved).
async fn incident_activity(rng: &mut Rng, ctx: &Ctx, report: &mut SimReport) -> Result<()> {
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
    // Only the simulator's own incidents: hand-made ones are never touched.
    let open = {
        let mut conn = ctx.pool.acquire().await?;
        super::store::list_simulated(
            &mut conn,
            &[Status::Triggered, Status::Acknowledged, Status::Resolved]
                .map(|s| s.as_str().to_string()),
        )
        .await?
    };
    let responders = ["olu", "tess", "kai", "omar"];
    let actor = rng.pick(&responders).copied().unwrap_or("olu");
    if open.len() < 6 && rng.f64() < 0.3 {
        if let Some((title, sev, depts)) = rng
            .pick(REPORTS)
            .filter(|(t, _, _)| !open.iter().any(|i| i.title == *t))
        {
            let new = service::NewIncident {
                title: title.to_string(),
                description: "Reported by the simulator.".into(),
                severity: sev.parse().unwrap_or(Severity::P3),
                source: service::Source::Manual,
                source_ref: None,
                departments: depts.iter().map(|d| d.to_string()).collect(),
                commander: None,
                trigger_key: None,
            };
            // Opened inside the simulator's step: marked simulated.
            if service::open(ctx, &new, actor).await?.is_some() {
                report.add("incidents_opened", 1);
                report.events += 1;
            }
        }
        return Ok(());
    }
    let Some(inc) = rng.pick(&open) else {
        return Ok(());
    };
    // A refused move (e.g. a P1 not yet at Implement Fix) is a normal part of the day.
    let result = match inc.status {
        Status::Triggered => service::acknowledge(ctx, inc.id, actor).await.map(|_| ()),
        Status::Acknowledged if rng.f64() < 0.3 => service::resolve(
            ctx,
            inc.id,
            actor,
            "Fixed and verified by the on-call responder",
        )
        .await
        .map(|_| ()),
        Status::Acknowledged => service::advance_phase(ctx, inc.id, actor, None, None)
            .await
            .map(|_| ()),
        _ if matches!(inc.severity, Severity::P3 | Severity::P4) => {
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
