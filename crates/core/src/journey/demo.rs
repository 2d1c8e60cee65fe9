//! A fortnight of customer journeys, through the real services with a clock
//! set in the past: touches, leads handed to Sales (one hand-off breached),
//! orders, tickets, feedback, a referral and an upsell campaign.

use std::sync::Arc;

use chrono::TimeDelta;

use super::service::{self, NewTouch};
use crate::clock::SimClock;
use crate::engine::Ctx;
use crate::error::Result;
use crate::rng::Rng;
use crate::simulate::SimReport;
use crate::workflow::{BoxFuture, SimStep};

const SEGMENTS: [&str; 3] = ["interior-designers", "first-home", "gift-buyers"];
const CHANNELS: [&str; 5] = ["ad", "content", "email", "social", "site"];
const KINDS: [(&str, f64); 5] = [
    ("delivered", 0.35),
    ("opened", 0.3),
    ("clicked", 0.2),
    ("reply", 0.05),
    ("form_submitted", 0.1),
];

pub async fn seed(live: &Ctx) -> Result<()> {
    let now = live.now();
    let clock = SimClock::at(now - TimeDelta::days(14));
    let ctx = Ctx {
        clock: Arc::new(clock.clone()),
        ..live.clone()
    };
    let mut rng = Rng::new(ctx.config.simulate.seed ^ 0x10u64);
    let engine =
        crate::engine::Engine::new(ctx.clone(), Arc::new(crate::engine::outbox::LogTarget));
    let mut n = 0u64;
    for day in 0..14 {
        // Each business day starts at 09:00 (in the demo's UTC clock).
        let start = (now - TimeDelta::days(14 - day))
            .date_naive()
            .and_hms_opt(9, 0, 0)
            .unwrap_or_default()
            .and_utc();
        clock.set(start);
        for i in 0..3 {
            let key = format!("cust-{day:02}{i}");
            let segment = rng.pick(&SEGMENTS).copied().unwrap_or("general");
            for _ in 0..(2 + rng.below(6)) {
                n += 1;
                clock.advance(TimeDelta::minutes(17));
                let roll = rng.f64();
                let mut acc = 0.0;
                let kind = KINDS
                    .iter()
                    .find(|(_, p)| {
                        acc += p;
                        roll < acc
                    })
                    .map(|(k, _)| *k)
                    .unwrap_or("opened");
                let channel = rng.pick(&CHANNELS).copied().unwrap_or("email");
                let touched = service::touch(
                    &ctx,
                    &NewTouch {
                        prospect: key.clone(),
                        channel: channel.into(),
                        kind: kind.into(),
                        idempotency_key: format!("demo-{n}"),
                        segment: Some(segment.into()),
                        content_id: None,
                    },
                    "demo",
                )
                .await?;
                if touched.handed_off.is_none() {
                    continue;
                }
                // Sales calls within the SLA, except one lead it misses.
                let wait = if day == 5 {
                    TimeDelta::hours(3)
                } else {
                    TimeDelta::minutes(15 + rng.below(90) as i64)
                };
                clock.advance(wait);
                engine.run_pass().await?;
                service::contact(
                    &ctx,
                    &key,
                    if i % 2 == 0 { "nico" } else { "sam" },
                    "Intro call",
                )
                .await?;
                if rng.f64() < 0.6 {
                    clock.advance(TimeDelta::hours(2));
                    service::convert(&ctx, &key, 8_000 + (rng.below(40) as i64) * 1_000, "nico")
                        .await?;
                    if rng.f64() < 0.3 {
                        let t =
                            service::ticket(&ctx, &key, "Delivery date question", "jun").await?;
                        clock.advance(TimeDelta::hours(3));
                        service::resolve(&ctx, t.id, "jun", "Answered: ships in 3 days").await?;
                    }
                    service::feedback(
                        &ctx,
                        &key,
                        Some(6 + rng.below(5) as i32),
                        Some(3 + rng.below(3) as i32),
                        "",
                    )
                    .await?;
                }
                break;
            }
        }
        engine.run_pass().await?;
    }
    // A happy customer brings a friend; Marketing starts an upsell.
    let happy = super::store::first_promoter(&mut *ctx.pool.acquire().await?).await?;
    if let Some(happy) = happy {
        service::refer(&ctx, &happy, "cust-referral-1").await?;
        service::campaign(
            &ctx,
            "Gallery wall bundles for happy customers",
            "upsell",
            "lena",
        )
        .await?;
    }
    Ok(())
}

/// The simulator's share of the customer journey: prospects engage and
/// Sales follows up on the leads handed to it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Simulation;

impl SimStep for Simulation {
    fn step<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        rng: &'a mut Rng,
        report: &'a mut SimReport,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if rng.f64() < 0.5 {
                touch(rng, ctx, report).await?;
            }
            Ok(())
        })
    }
}

/// A prospect engages; Sales follows up on leads handed to it.
async fn touch(rng: &mut Rng, ctx: &Ctx, report: &mut SimReport) -> Result<()> {
    let prospect = format!("sim-cust-{}", rng.below(400));
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
    let kind = rng.pick(&kinds).copied().unwrap_or("opened");
    let channel = rng.pick(&channels).copied().unwrap_or("email");
    let key = format!("sim-{:x}", rng.next_u64());
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
    report.add("touches", 1);
    report.events += 1;
    if touched.handed_off.is_some() && rng.f64() < 0.8 {
        // Most leads are called quickly; some wait and breach the SLA.
        if let Err(e) = service::contact(ctx, &touched.prospect.key, "nico", "Simulated call").await
        {
            tracing::debug!(error = %e, "simulated contact refused");
        }
    }
    Ok(())
}
