//! Demo privacy data, made through the real services with a clock set in
//! the past: customers with PII, marketing data past its retention, two
//! weeks of ordinary reads and a burst that trips the next audit, and open
//! requests with deadlines. Plus the simulator's privacy traffic.

use std::sync::Arc;

use chrono::{Months, TimeDelta};

use super::crypto::{self, MasterKey};
use super::model::RequestKind;
use super::service::{self, NewRequest, ReadRequest};
use crate::clock::SimClock;
use crate::engine::Ctx;
use crate::error::Result;
use crate::rng::Rng;
use crate::simulate::SimReport;
use crate::workflow::{BoxFuture, SimStep};

const FIRST: &[&str] = &[
    "Ana", "Bruno", "Chloe", "Daniel", "Elif", "Farah", "Gustavo", "Hana", "Ines", "Jonas",
    "Keiko", "Luca", "Mina", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara",
];
const LAST: &[&str] = &[
    "Almeida", "Bauer", "Costa", "Duarte", "Eriksen", "Fontaine", "Garcia", "Hughes", "Ito",
    "Jansen", "Kowal", "Lopes", "Moreau", "Nakamura", "Okoye", "Pereira",
];
const STREETS: &[&str] = &[
    "Rua das Flores",
    "Maple Avenue",
    "Kastanienallee",
    "Rue de la Paix",
    "Harbour Road",
    "Calle Mayor",
];
const COUNTRIES: &[&str] = &["PT", "US", "DE", "FR", "GB", "ES", "NL"];
const SEGMENTS: &[&str] = &["new", "repeat", "vip", "trade"];

/// A made-up customer. E-mail addresses use the reserved example domains.
fn customer(rng: &mut Rng, n: u64) -> Vec<(String, String)> {
    let first = rng.pick(FIRST).copied().unwrap_or("Ana");
    let last = rng.pick(LAST).copied().unwrap_or("Lima");
    let street = rng.pick(STREETS).copied().unwrap_or("Main Street");
    let country = rng.pick(COUNTRIES).copied().unwrap_or("PT");
    let fields = [
        ("full_name", format!("{first} {last}")),
        (
            "email",
            format!(
                "{}.{}{n}@example.com",
                first.to_lowercase(),
                last.to_lowercase()
            ),
        ),
        (
            "phone",
            format!(
                "+351 91{} {:03} {:03}",
                rng.below(10),
                rng.below(1000),
                rng.below(1000)
            ),
        ),
        (
            "shipping_address",
            format!("{street} {}, {}", 1 + rng.below(200), country),
        ),
        ("ip_address", format!("198.51.100.{}", 1 + rng.below(254))),
        ("country", country.to_string()),
        ("order_total_cents", (5_000 + rng.below(30_000)).to_string()),
        ("newsletter_opt_in", (rng.f64() < 0.6).to_string()),
        (
            "marketing_segment",
            rng.pick(SEGMENTS).copied().unwrap_or("new").to_string(),
        ),
    ];
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

fn at(live: &Ctx, clock: &SimClock) -> Ctx {
    Ctx {
        clock: Arc::new(clock.clone()),
        ..live.clone()
    }
}

/// Load the demo privacy data. The caller marks the part loaded.
pub async fn seed(live: &Ctx, key: &MasterKey) -> Result<()> {
    let now = live.now();
    let mut rng = Rng::new(live.config.simulate.seed ^ 0x9817_ac3e);
    let clock = SimClock::at(
        now.checked_sub_months(Months::new(26))
            .unwrap_or(now - TimeDelta::days(800)),
    );
    let ctx = at(live, &clock);
    // Customers from two years ago: their marketing data is past retention.
    for n in 1..=3u64 {
        let r = format!("C{:06}", 900 + n);
        let fields: Vec<(String, String)> = customer(&mut rng, n)
            .into_iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "email" | "full_name" | "newsletter_opt_in" | "marketing_segment"
                )
            })
            .collect();
        service::collect(&ctx, key, Some(&r), &fields, "olu").await?;
        clock.advance(TimeDelta::days(3));
    }
    // This month's customers.
    clock.set(now - TimeDelta::days(20));
    let mut refs = Vec::new();
    for n in 4..=15u64 {
        let r = format!("C{:06}", 900 + n);
        service::collect(&ctx, key, Some(&r), &customer(&mut rng, n), "olu").await?;
        refs.push(r);
        clock.advance(TimeDelta::hours(9));
    }
    // Two weeks of ordinary work: support looks up a few customers a day,
    // operations checks a shipping address now and then.
    for day in (1..=14i64).rev() {
        let base = now - TimeDelta::days(day) + TimeDelta::hours(2);
        for i in 0..(2 + rng.below(3)) {
            clock.set(base + TimeDelta::minutes(i64::try_from(i).unwrap_or(0) * 47));
            let Some(r) = rng.pick(&refs) else { continue };
            let fields = ["email".to_string(), "phone".to_string()];
            service::read(
                &ctx,
                key,
                &ReadRequest {
                    subject: r,
                    fields: Some(&fields),
                    purpose: "support: order status question",
                    actor: "jun",
                },
            )
            .await?;
        }
        if rng.f64() < 0.5 {
            clock.set(base + TimeDelta::hours(4));
            if let Some(r) = rng.pick(&refs) {
                let fields = ["shipping_address".to_string()];
                service::read(
                    &ctx,
                    key,
                    &ReadRequest {
                        subject: r,
                        fields: Some(&fields),
                        purpose: "fulfilment: courier could not deliver, confirm the address",
                        actor: "omar",
                    },
                )
                .await?;
            }
        }
    }
    // Someone from Creative tries to read contact data: refused, and logged.
    clock.set(now - TimeDelta::hours(5));
    if let Some(r) = refs.first() {
        let refused = service::read(
            &ctx,
            key,
            &ReadRequest {
                subject: r,
                fields: None,
                purpose: "marketing: a testimonial to quote",
                actor: "remy",
            },
        )
        .await;
        if let Err(e) = refused
            && !e.is_user_error()
        {
            return Err(e);
        }
    }
    // This morning: a burst of reads far above the baseline.
    let burst_start = now - TimeDelta::hours(3);
    let contact = [
        "full_name".to_string(),
        "email".to_string(),
        "phone".to_string(),
    ];
    for i in 0..45usize {
        clock.set(burst_start + TimeDelta::minutes(i64::try_from(i * 3).unwrap_or(0)));
        let Some(r) = refs.get(i % refs.len().max(1)) else {
            continue;
        };
        service::read(
            &ctx,
            key,
            &ReadRequest {
                subject: r,
                fields: Some(&contact),
                purpose: "marketing: export for a mailing list",
                actor: "jun",
            },
        )
        .await?;
    }
    // Open data-subject requests with their deadlines.
    let requests: [(usize, RequestKind, i64, &str); 3] = [
        (
            0,
            RequestKind::Access,
            26,
            "asked by e-mail for a copy of their data",
        ),
        (1, RequestKind::Rectification, 12, "new shipping address"),
        (2, RequestKind::Erasure, 3, "closed their account"),
    ];
    for (i, kind, days_ago, note) in requests {
        let Some(r) = refs.get(i) else { continue };
        clock.set(now - TimeDelta::days(days_ago) + TimeDelta::hours(1));
        let req = service::open_request(
            &ctx,
            &NewRequest {
                subject: r,
                kind,
                note,
                received_at: None,
            },
            "jun",
        )
        .await?;
        if kind == RequestKind::Rectification {
            clock.advance(TimeDelta::days(2));
            service::extend_request(
                &ctx,
                req.id,
                1,
                "the new address must be verified with the courier first",
                "ivy",
            )
            .await?;
        }
    }
    // The first audit runs as soon as an engine does.
    let mut conn = live.pool.acquire().await?;
    super::timers::schedule_audit_at(live, &mut conn, now).await?;
    Ok(())
}

/// One burst of privacy traffic for the simulator: a new customer, a read
/// with a purpose (now and then one without the role), a request. Returns
/// the events produced; nothing without a master key.
pub async fn activity(ctx: &Ctx, rng: &mut Rng) -> Result<u64> {
    let Some(key) = crypto::ambient_key()? else {
        return Ok(0);
    };
    let roll = rng.f64();
    let subjects = super::read::subjects(ctx, 0).await?;
    let active: Vec<&str> = subjects
        .iter()
        .filter(|s| s.status == "active" && !s.pii_fields.is_empty())
        .map(|s| s.r#ref.as_str())
        .collect();
    if roll < 0.3 || active.is_empty() {
        let n = rng.next_u64() % 1_000_000;
        service::collect(ctx, &key, None, &customer(rng, n), "olu").await?;
        return Ok(1);
    }
    let Some(subject) = rng.pick(&active).copied() else {
        return Ok(0);
    };
    let result = if roll < 0.85 {
        let (actor, fields, purpose): (&str, &[&str], &str) = match rng.below(3) {
            0 => ("jun", &["email"], "support: reply to a ticket"),
            1 => (
                "omar",
                &["shipping_address"],
                "fulfilment: re-ship a damaged print",
            ),
            _ => (
                "felix",
                &["full_name"],
                "billing: match a bank transfer to an order",
            ),
        };
        let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        service::read(
            ctx,
            &key,
            &ReadRequest {
                subject,
                fields: Some(&fields),
                purpose,
                actor,
            },
        )
        .await
        .map(|_| ())
    } else if roll < 0.93 {
        service::read(
            ctx,
            &key,
            &ReadRequest {
                subject,
                fields: None,
                purpose: "marketing: curious about a customer",
                actor: "remy",
            },
        )
        .await
        .map(|_| ())
    } else {
        let open = super::read::requests(ctx, true).await?;
        if open.len() >= 6 {
            return Ok(0);
        }
        service::open_request(
            ctx,
            &NewRequest {
                subject,
                kind: RequestKind::Access,
                note: "asked for a copy of their data",
                received_at: None,
            },
            "jun",
        )
        .await
        .map(|_| ())
    };
    match result {
        Ok(()) => Ok(1),
        // A refused read is logged: that is the point of it.
        Err(e) if e.is_user_error() => Ok(1),
        Err(e) => Err(e),
    }
}

/// The simulator's share of privacy: people's data is collected and read.
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
            if rng.f64() < 0.1 {
                report.events += activity(ctx, rng).await?;
            }
            Ok(())
        })
    }
}
