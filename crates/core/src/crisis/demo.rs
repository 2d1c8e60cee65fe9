//! Demo incidents in every state, made through the real services with a
//! clock set in the past, so their timelines, escalations and timers are
//! exactly what live use would leave behind.

use std::sync::Arc;

use chrono::TimeDelta;

use super::Severity;
use super::service::{self, Audience, NewIncident, PostmortemText, Source};
use crate::clock::SimClock;
use crate::engine::Ctx;
use crate::error::Result;

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
