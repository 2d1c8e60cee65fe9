//! Demo experiments with real exposure and conversion streams: one running
//! with a true effect, one with a planted sample-ratio mismatch, a decided
//! and documented one, and a draft that follows from it.

use std::sync::Arc;

use chrono::TimeDelta;

use super::service::{self, NewExperiment};
use crate::clock::SimClock;
use crate::engine::Ctx;
use crate::error::Result;
use crate::rng::Rng;
use crate::simulate::SimReport;
use crate::stats::{Difference, Engine, MetricKind};
use crate::workflow::{BoxFuture, SimStep};

fn design(
    key: &str,
    name: &str,
    hypothesis: &str,
    metric: &str,
    baseline: f64,
    variations: &[(&str, f64)],
) -> NewExperiment {
    NewExperiment {
        key: key.into(),
        name: name.into(),
        hypothesis: hypothesis.into(),
        owner: "ana".into(),
        metric: metric.into(),
        metric_kind: MetricKind::Binomial,
        guardrails: vec!["refund:binomial".into()],
        secondary: vec![],
        texts: vec![],
        engine: Engine::Frequentist,
        difference: Difference::Relative,
        sequential: false,
        alpha: 0.05,
        power: 0.8,
        mde: 0.15,
        baseline,
        baseline_variance: None,
        daily_traffic: 1200,
        variations: variations
            .iter()
            .map(|(k, w)| (k.to_string(), *w))
            .collect(),
        content_id: None,
        follows: None,
    }
}

/// Expose `n` visitors and convert them at each variation's rate.
async fn stream(
    ctx: &Ctx,
    key: &str,
    prefix: &str,
    n: usize,
    rates: &[(&str, f64)],
    rng: &mut Rng,
) -> Result<()> {
    let mut conn = ctx.pool.acquire().await?;
    let exp = service::find(&mut conn, key).await?;
    let units: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let chosen = service::assign_many(ctx, &mut conn, &exp, &units).await?;
    let mut events = Vec::new();
    for (u, v) in units.iter().zip(&chosen) {
        let rate = rates
            .iter()
            .find(|(k, _)| k == v)
            .map(|(_, r)| *r)
            .unwrap_or(0.0);
        if rng.f64() < rate {
            events.push((u.clone(), "purchase".to_string(), 1.0));
        }
        if rng.f64() < 0.01 {
            events.push((u.clone(), "refund".to_string(), 1.0));
        }
    }
    service::record_many(ctx, &mut conn, &exp, &events).await
}

pub async fn seed(live: &Ctx) -> Result<()> {
    let now = live.now();
    let clock = SimClock::at(now - TimeDelta::days(30));
    let ctx = Ctx {
        clock: Arc::new(clock.clone()),
        ..live.clone()
    };
    let mut rng = Rng::new(ctx.config.simulate.seed ^ 0xab);

    // Decided and documented: trust badges at checkout won.
    service::create(
        &ctx,
        &design(
            "checkout-trust-badges",
            "Trust badges at checkout",
            "If we show secure-payment and free-returns badges at checkout, more visitors complete their purchase, because hesitation at payment is our biggest drop-off.",
            "purchase",
            0.3,
            &[("control", 0.5), ("badges", 0.5)],
        ),
        "ana",
    )
    .await?;
    service::start(&ctx, "checkout-trust-badges", "ana").await?;
    for day in 0..14 {
        clock.advance(TimeDelta::days(1));
        stream(
            &ctx,
            "checkout-trust-badges",
            &format!("d{day}"),
            1200,
            &[("control", 0.30), ("badges", 0.345)],
            &mut rng,
        )
        .await?;
    }
    service::decide(
        &ctx,
        "checkout-trust-badges",
        "ana",
        Some("badges"),
        "Significant lift, refunds unchanged",
    )
    .await?;
    service::document(
        &ctx,
        "checkout-trust-badges",
        "ana",
        "Trust signals at the point of payment lifted completed checkouts by about 15% with no change in refunds. Reassurance works best where the money is asked for; test free-returns messaging on product pages next.",
    )
    .await?;
    // The next hypothesis follows from it: still a draft.
    let mut next = design(
        "free-returns-on-product-pages",
        "Free-returns message on product pages",
        "If product pages say 'free 30-day returns' under the price, more visitors add to cart, because the checkout test showed reassurance converts.",
        "add_to_cart",
        0.08,
        &[("control", 0.5), ("returns-message", 0.5)],
    );
    next.follows = Some(
        service::find(&mut *ctx.pool.acquire().await?, "checkout-trust-badges")
            .await?
            .id,
    );
    service::create(&ctx, &next, "ana").await?;

    // Running with a real effect: free-shipping banner, ten days in.
    clock.set(now - TimeDelta::days(10));
    service::create(
        &ctx,
        &design(
            "free-shipping-banner",
            "Free-shipping threshold banner",
            "If the header announces free shipping over $150, average orders cross the threshold more often and more visitors buy.",
            "purchase",
            0.03,
            &[("control", 0.5), ("banner", 0.5)],
        ),
        "ana",
    )
    .await?;
    service::start(&ctx, "free-shipping-banner", "ana").await?;
    for day in 0..10 {
        clock.advance(TimeDelta::days(1));
        stream(
            &ctx,
            "free-shipping-banner",
            &format!("v{day}"),
            1100,
            &[("control", 0.030), ("banner", 0.036)],
            &mut rng,
        )
        .await?;
    }

    // Running with a broken split: a caching bug serves the control to part of
    // the hero-image audience without logging it.
    clock.set(now - TimeDelta::days(6));
    service::create(
        &ctx,
        &design(
            "hero-image-lifestyle",
            "Lifestyle hero image",
            "If the home page hero shows framed art in a living room instead of on a white wall, more visitors click into collections.",
            "purchase",
            0.03,
            &[("control", 0.5), ("lifestyle", 0.5)],
        ),
        "dana",
    )
    .await?;
    service::start(&ctx, "hero-image-lifestyle", "dana").await?;
    let mut conn = ctx.pool.acquire().await?;
    let hero = service::find(&mut conn, "hero-image-lifestyle").await?;
    for day in 0..6 {
        clock.advance(TimeDelta::days(1));
        stream(
            &ctx,
            "hero-image-lifestyle",
            &format!("h{day}"),
            900,
            &[("control", 0.03), ("lifestyle", 0.031)],
            &mut rng,
        )
        .await?;
        // The planted mismatch: extra control exposures outside the hash.
        let extra: Vec<String> = (0..120).map(|i| format!("cached-{day}-{i}")).collect();
        let variations = vec!["control".to_string(); extra.len()];
        super::store::expose_many(&mut conn, hero.id, &extra, &variations, ctx.now()).await?;
    }
    Ok(())
}

/// The simulator's share of A/B testing: visitors reach running experiments.
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
                traffic(rng, ctx, report).await?;
            }
            Ok(())
        })
    }
}

/// Visitors reach a running experiment; a few of them buy. Variations
/// after the control convert a little better, so effects emerge over time.
async fn traffic(rng: &mut Rng, ctx: &Ctx, report: &mut SimReport) -> Result<()> {
    let running = service::list(ctx, Some(super::model::State::Running)).await?;
    let Some(exp) = rng.pick(&running) else {
        return Ok(());
    };
    let mut conn = ctx.pool.acquire().await?;
    let vars = service::variations(&mut conn, exp.id).await?;
    let batch = rng.next_u64();
    let units: Vec<String> = (0..20).map(|i| format!("sim-{batch:x}-{i}")).collect();
    let chosen = service::assign_many(ctx, &mut conn, exp, &units).await?;
    let mut events = Vec::new();
    for (u, v) in units.iter().zip(&chosen) {
        let position = vars.iter().position(|x| &x.key == v).unwrap_or(0);
        let rate = 0.03 * (1.0 + 0.15 * position as f64);
        if rng.f64() < rate {
            events.push((u.clone(), exp.metric.clone(), 1.0));
        }
    }
    service::record_many(ctx, &mut conn, exp, &events).await?;
    report.add("exposures", units.len() as u64);
    report.events += 1;
    Ok(())
}
