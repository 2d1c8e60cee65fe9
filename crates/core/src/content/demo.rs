//! Demo content in every state, made through the real services with a clock
//! set in the past, with performance streams for the live items.

use std::sync::Arc;

use chrono::TimeDelta;

use super::service::{self, NewContent, Reading};
use crate::clock::SimClock;
use crate::engine::Ctx;
use crate::engine::approvals::Decision;
use crate::error::Result;
use crate::rng::Rng;

fn item(
    kind: &str,
    title: &str,
    owner: &str,
    channel: &str,
    campaign: Option<&str>,
    cost_cents: i64,
) -> NewContent {
    NewContent {
        kind: kind.into(),
        title: title.into(),
        body: format!(
            "Brief: {title}.\nAudience: existing customers and lookalikes.\nCall to action: shop the collection."
        ),
        owner: owner.into(),
        channel: channel.into(),
        campaign: campaign.map(str::to_string),
        cost_cents,
    }
}

fn draft(title: &str, round: u32) -> String {
    format!(
        "# {title}\n\nOur new pieces bring the light of the coast into your home.\nFramed in oak, printed on archival paper.\n\nRevision {round}: tightened the opening and the offer.\nShop now — free shipping over $150.\n"
    )
}

/// Load the demo content. The caller marks the part loaded.
pub async fn seed(live: &Ctx) -> Result<()> {
    let now = live.now();
    let clock = SimClock::at(now - TimeDelta::days(40));
    let ctx = Ctx {
        clock: Arc::new(clock.clone()),
        ..live.clone()
    };
    let mut rng = Rng::new(ctx.config.simulate.seed ^ 0xc0de);

    // In maintenance: published 40 days ago, performing well.
    let evergreen = service::create(
        &ctx,
        &item(
            "blog_post",
            "How to hang a gallery wall",
            "lena",
            "web",
            None,
            0,
        ),
        "lena",
    )
    .await?;
    service::edit(
        &ctx,
        evergreen.id,
        "lena",
        None,
        &draft("How to hang a gallery wall", 1),
        Some("first draft"),
    )
    .await?;
    service::submit(&ctx, evergreen.id, "lena").await?;
    clock.advance(TimeDelta::hours(3));
    service::decide(
        &ctx,
        evergreen.id,
        "maya",
        Decision::Approve,
        "Great evergreen piece",
        None,
    )
    .await?;
    service::publish(&ctx, evergreen.id, "lena").await?;

    // Underperforming ad creative, being optimised.
    let ad = service::create(
        &ctx,
        &item(
            "ad_creative",
            "Coastal collection carousel ad",
            "remy",
            "ads",
            Some("coastal-launch"),
            45_000,
        ),
        "remy",
    )
    .await?;
    service::edit(
        &ctx,
        ad.id,
        "remy",
        None,
        &draft("Coastal collection carousel", 1),
        None,
    )
    .await?;
    service::submit(&ctx, ad.id, "remy").await?;
    clock.advance(TimeDelta::hours(5));
    service::decide(&ctx, ad.id, "iris", Decision::Approve, "Colours work", None).await?;
    service::publish(&ctx, ad.id, "remy").await?;

    // Performance streams: a reading a day for the two live items.
    for _ in 0..12 {
        clock.advance(TimeDelta::days(1));
        let views = 900 + i64::try_from(rng.below(400)).unwrap_or(0);
        let clicks = (views as f64 * rng.range(0.024, 0.034)).round() as i64;
        service::record_metrics(
            &ctx,
            evergreen.id,
            Reading {
                views,
                clicks,
                conversions: clicks / 12,
                revenue_cents: clicks / 12 * 14_900,
            },
            "analytics",
        )
        .await?;
        let views = 4000 + i64::try_from(rng.below(1500)).unwrap_or(0);
        let clicks = (views as f64 * rng.range(0.003, 0.005)).round() as i64;
        service::record_metrics(
            &ctx,
            ad.id,
            Reading {
                views,
                clicks,
                conversions: clicks / 30,
                revenue_cents: clicks / 30 * 12_900,
            },
            "ads-api",
        )
        .await?;
        // The weekly review cycle runs as it would in the engine.
        crate::engine::Engine::new(ctx.clone(), Arc::new(crate::engine::outbox::LogTarget))
            .run_pass()
            .await?;
    }
    service::edit(
        &ctx,
        ad.id,
        "remy",
        None,
        &draft("Coastal collection carousel — brighter first frame", 2),
        Some("optimisation: new first frame"),
    )
    .await?;

    // In review, waiting on two directors: the holiday newsletter.
    clock.set(now - TimeDelta::hours(6));
    let newsletter = service::create(
        &ctx,
        &item(
            "newsletter",
            "December newsletter: gifts under $100",
            "lena",
            "email",
            Some("gift-guide"),
            0,
        ),
        "lena",
    )
    .await?;
    service::edit(
        &ctx,
        newsletter.id,
        "lena",
        None,
        &draft("Gifts under $100", 1),
        None,
    )
    .await?;
    service::submit(&ctx, newsletter.id, "lena").await?;
    clock.advance(TimeDelta::hours(1));
    service::decide(
        &ctx,
        newsletter.id,
        "maya",
        Decision::RequestChanges,
        "Lead with the free gift wrap",
        None,
    )
    .await?;
    service::edit(
        &ctx,
        newsletter.id,
        "lena",
        None,
        &draft("Gifts under $100 — now with free gift wrap", 2),
        Some("led with gift wrap"),
    )
    .await?;
    service::submit(&ctx, newsletter.id, "lena").await?;
    clock.advance(TimeDelta::hours(2));
    service::decide(
        &ctx,
        newsletter.id,
        "maya",
        Decision::Approve,
        "Better",
        None,
    )
    .await?;

    // An expensive ad waiting for Finance.
    clock.set(now - TimeDelta::hours(2));
    let big = service::create(
        &ctx,
        &item(
            "ad_creative",
            "Holiday retargeting video (6 markets)",
            "remy",
            "ads",
            Some("retarget-q4"),
            250_000,
        ),
        "remy",
    )
    .await?;
    service::edit(
        &ctx,
        big.id,
        "remy",
        None,
        &draft("Holiday retargeting video", 1),
        None,
    )
    .await?;
    service::submit(&ctx, big.id, "remy").await?;

    // Approved, ready to publish.
    clock.set(now - TimeDelta::hours(30));
    let social = service::create(
        &ctx,
        &item(
            "social_post",
            "Behind the frame: our oak workshop",
            "remy",
            "social",
            None,
            0,
        ),
        "remy",
    )
    .await?;
    service::edit(
        &ctx,
        social.id,
        "remy",
        None,
        &draft("Behind the frame", 1),
        None,
    )
    .await?;
    service::submit(&ctx, social.id, "remy").await?;
    clock.advance(TimeDelta::hours(4));
    service::decide(&ctx, social.id, "maya", Decision::Approve, "", None).await?;

    // Creation and planning.
    clock.set(now - TimeDelta::hours(3));
    let page = service::create(
        &ctx,
        &item(
            "product_page",
            "Northern Lights Over Tromsø — product page",
            "lena",
            "web",
            None,
            0,
        ),
        "lena",
    )
    .await?;
    service::edit(
        &ctx,
        page.id,
        "lena",
        None,
        &draft("Northern Lights Over Tromsø", 1),
        None,
    )
    .await?;
    service::create(
        &ctx,
        &item(
            "email",
            "January clearance announcement",
            "lena",
            "email",
            None,
            0,
        ),
        "lena",
    )
    .await?;
    Ok(())
}
