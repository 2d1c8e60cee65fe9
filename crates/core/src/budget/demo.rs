//! Demo budget: the current period's lines (Marketing split across its
//! channels, four campaigns, Operations and a hard-limited Technology
//! line), expenses so far with one line over budget (a spend review
//! waiting for Finance), reported revenue, a pending spend request; and the
//! simulator's stream of expenses and revenue.

use chrono::{Datelike, NaiveDate};

use super::config::settings;
use super::model::Period;
use super::service::{self, NewExpense, NewRequest, SetLine};
use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::simulate::SimReport;
use crate::workflow::{BoxFuture, SimStep};

const FINANCE: &str = "felix";
const MARKETING: &str = "maya";

/// (campaign, channel, budget $, spend $, revenue $)
const CAMPAIGNS: &[(&str, &str, i64, i64, i64)] = &[
    ("holiday-ads", "ads", 1_000, 1_000, 4_200),
    ("gift-guide-social", "social", 1_000, 1_000, 4_000),
    ("winter-email", "email", 1_000, 1_000, 2_500),
    ("ar-preview-test", "experiments", 1_000, 1_000, 2_000),
];

fn day(p: &Period, today: NaiveDate, n: u32) -> NaiveDate {
    let d = p.start.with_day(n).unwrap_or(p.start);
    d.min(today)
}

/// Load the demo budget (idempotent by the caller's seed mark).
pub async fn seed(ctx: &Ctx) -> Result<()> {
    let c = settings(&ctx.config)?;
    let today = ctx.calendar.local_date(ctx.now());
    let p = Period::containing(c.period, today);
    service::split(ctx, "marketing", 3_000_000, None, FINANCE).await?;
    for (dept, amount, hard) in [
        ("operations", 800_000, false),
        ("technology", 500_000, true),
        ("customer_experience", 300_000, false),
    ] {
        service::set_line(
            ctx,
            &SetLine {
                department: dept.into(),
                amount_cents: amount,
                channel: None,
                campaign: None,
                period: None,
                hard,
                rollover: Some(super::model::Rollover::Positive),
            },
            FINANCE,
        )
        .await?;
    }
    for (name, channel, budget, spend, revenue) in CAMPAIGNS {
        if let Err(e) =
            service::new_campaign(ctx, name, "marketing", channel, budget * 100, FINANCE).await
            && !matches!(e, Error::Conflict(_))
        {
            return Err(e);
        }
        service::record_expense(
            ctx,
            &NewExpense {
                department: "marketing".into(),
                amount_cents: spend * 100,
                on: day(&p, today, 1),
                r#ref: format!("DEMO-{name}-1"),
                channel: Some((*channel).into()),
                campaign: Some((*name).into()),
                vendor: Some("Meta".into()),
            },
            MARKETING,
        )
        .await?;
        service::record_revenue(
            ctx,
            name,
            revenue * 100,
            day(&p, today, 1),
            &format!("DEMO-REV-{name}"),
            MARKETING,
        )
        .await?;
    }
    // Ads running hot: over its line, so a spend review waits for Finance.
    for (i, (amount, vendor)) in [
        (620_000, "Google Ads"),
        (540_000, "Meta"),
        (120_000, "TikTok"),
    ]
    .into_iter()
    .enumerate()
    {
        service::record_expense(
            ctx,
            &NewExpense {
                department: "marketing".into(),
                amount_cents: amount,
                on: day(&p, today, 1 + i as u32),
                r#ref: format!("DEMO-ADS-{}-{i}", p.key()),
                channel: Some("ads".into()),
                campaign: None,
                vendor: Some(vendor.into()),
            },
            MARKETING,
        )
        .await?;
    }
    for (dept, amount, vendor) in [
        ("operations", 210_000, "ShipFast"),
        ("technology", 180_000, "CloudCo"),
        ("customer_experience", 40_000, "HelpDesk"),
    ] {
        service::record_expense(
            ctx,
            &NewExpense {
                department: dept.into(),
                amount_cents: amount,
                on: day(&p, today, 1),
                r#ref: format!("DEMO-{dept}-{}", p.key()),
                channel: None,
                campaign: None,
                vendor: Some(vendor.into()),
            },
            FINANCE,
        )
        .await?;
    }
    // One request Finance must decide, one approved automatically.
    for (amount, reason) in [
        (250_000, "Print run for the pop-up shop"),
        (30_000, "Stock photography"),
    ] {
        service::request_spend(
            ctx,
            &NewRequest {
                department: "marketing".into(),
                amount_cents: amount,
                reason: reason.into(),
                channel: Some("social".into()),
                campaign: None,
                r#ref: None,
            },
            MARKETING,
        )
        .await?;
    }
    Ok(())
}

/// The simulator's budget stream: expenses on marketing channels and
/// operations, revenue for the campaigns.
#[derive(Debug, Default)]
pub struct Simulation {
    n: u64,
}

impl SimStep for Simulation {
    fn step<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        rng: &'a mut Rng,
        report: &'a mut SimReport,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if rng.f64() > 0.15 {
                return Ok(());
            }
            self.n += 1;
            let today = ctx.calendar.local_date(ctx.now());
            let seed = rng.below(u64::MAX / 2);
            let channels = ["ads", "social", "email", "experiments"];
            let channel = rng.pick(&channels).copied().unwrap_or("ads");
            let amount = (rng.range(40.0, 900.0) * 100.0).round() as i64;
            let r = service::record_expense(
                ctx,
                &NewExpense {
                    department: "marketing".into(),
                    amount_cents: amount,
                    on: today,
                    r#ref: format!("SIM-{seed:x}-{}", self.n),
                    channel: Some(channel.into()),
                    campaign: None,
                    vendor: Some("Simulated vendor".into()),
                },
                MARKETING,
            )
            .await;
            match r {
                Ok(out) => {
                    report.add("budget_expenses", 1);
                    report.add("budget_alerts", out.fired.len() as u64);
                    report.events += 1;
                }
                // No line this period yet: allocate the default split.
                Err(Error::NotFound(_)) => {
                    service::split(ctx, "marketing", 3_000_000, None, FINANCE).await?;
                    report.add("budget_lines", 4);
                }
                Err(e) => return Err(e),
            }
            if rng.f64() < 0.3 {
                let (name, ..) = CAMPAIGNS[rng.below(CAMPAIGNS.len() as u64) as usize];
                let amount = (rng.range(100.0, 1500.0) * 100.0).round() as i64;
                if service::record_revenue(
                    ctx,
                    name,
                    amount,
                    today,
                    &format!("SIM-REV-{seed:x}-{}", self.n),
                    MARKETING,
                )
                .await
                .is_ok()
                {
                    report.add("budget_revenue", 1);
                }
            }
            Ok(())
        })
    }
}
