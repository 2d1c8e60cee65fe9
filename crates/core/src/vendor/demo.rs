//! Demo vendors, made through the real services with a clock set in the
//! past: an RFP with three bidders and an award approved by Operations and
//! Finance, contracts, three months of deliveries and reviews (one vendor
//! on an improvement plan, one renewal coming due), and a simulator step
//! that keeps deliveries arriving.

use std::sync::Arc;

use chrono::{Months, NaiveDate, TimeDelta};

use super::model::Period;
use super::service::{self, NewContract, NewDelivery, NewRfp, NewVendor};
use crate::clock::SimClock;
use crate::engine::Ctx;
use crate::engine::approvals::Decision;
use crate::error::Result;
use crate::rng::Rng;
use crate::simulate::SimReport;
use crate::workflow::{BoxFuture, SimStep};

/// The demo's vendor manager (team lead of Operations) and owner.
const MANAGER: &str = "olu";
const OWNER: &str = "victor";

struct Demo {
    name: &'static str,
    category: &'static str,
    critical: bool,
    monthly_cents: i64,
    /// Share of orders on time, share in full, defects per order of 1,000.
    on_time: f64,
    in_full: f64,
    defects: i64,
    /// Contract months (a short one comes due for renewal).
    months: u32,
}

const VENDORS: [Demo; 4] = [
    Demo {
        name: "Lumen Print Lab",
        category: "print_lab",
        critical: true,
        monthly_cents: 350_000,
        on_time: 1.0,
        in_full: 1.0,
        defects: 2,
        months: 12,
    },
    Demo {
        name: "Oakline Framing",
        category: "framing",
        critical: false,
        monthly_cents: 180_000,
        on_time: 0.9,
        in_full: 1.0,
        defects: 6,
        months: 4,
    },
    Demo {
        name: "BoxCraft Packaging",
        category: "packaging",
        critical: false,
        monthly_cents: 90_000,
        on_time: 0.6,
        in_full: 0.8,
        defects: 30,
        months: 12,
    },
    Demo {
        name: "Northline Freight",
        category: "carrier",
        critical: true,
        monthly_cents: 420_000,
        on_time: 1.0,
        in_full: 1.0,
        defects: 0,
        months: 12,
    },
];

/// Run an RFP for `winner` (with `rivals` bidding), award it and have the
/// award approved.
async fn onboard(
    ctx: &Ctx,
    clock: &SimClock,
    winner: &str,
    rivals: &[&str],
    price: i64,
) -> Result<()> {
    let (rfp, _) = service::new_rfp(
        ctx,
        &NewRfp {
            title: format!("{winner} sourcing"),
            requirements: "Quality, price and lead time for VividWalls' 2026 volumes.".into(),
            criteria: vec![
                ("quality".into(), 40),
                ("price".into(), 30),
                ("lead_time".into(), 30),
            ],
            deal_breakers: vec!["insured".into()],
            evaluators: vec![OWNER.into(), MANAGER.into()],
            due_at: Some(ctx.now() + TimeDelta::days(14)),
        },
        OWNER,
    )
    .await?;
    let key = rfp.id.to_string();
    for (i, v) in std::iter::once(&winner).chain(rivals).enumerate() {
        service::invite(ctx, &key, v, MANAGER).await?;
        service::propose(
            ctx,
            &key,
            v,
            price + (i as i64) * 400_000,
            "net 30",
            MANAGER,
        )
        .await?;
        let base = if i == 0 { 9.0 } else { 7.0 - i as f64 };
        for who in [OWNER, MANAGER] {
            service::score(
                ctx,
                &key,
                v,
                &[
                    ("quality".into(), base),
                    ("price".into(), base - 1.0),
                    ("lead_time".into(), base - 0.5),
                    ("insured".into(), if i == 2 { 2.0 } else { 10.0 }),
                ],
                who,
            )
            .await?;
        }
    }
    clock.advance(TimeDelta::days(2));
    let asked = service::award(ctx, &key, winner, OWNER).await?;
    for who in ["omar", "felix", "bea"] {
        let done = service::decide_award(ctx, asked.rfp.id, who, Decision::Approve, "agreed").await;
        if matches!(done, Ok(ref d) if d.rfp.state == super::model::RfpState::Awarded) {
            break;
        }
    }
    Ok(())
}

/// Load the demo vendors. The caller marks the part loaded.
pub async fn seed(live: &Ctx) -> Result<()> {
    let now = live.now();
    let clock = SimClock::at(now - TimeDelta::days(110));
    let ctx = Ctx {
        clock: Arc::new(clock.clone()),
        ..live.clone()
    };
    let mut rng = Rng::new(ctx.config.simulate.seed ^ 0x7e4d);
    for d in &VENDORS {
        service::add(
            &ctx,
            &NewVendor {
                name: d.name.into(),
                category: d.category.into(),
                critical: d.critical,
            },
            MANAGER,
        )
        .await?;
    }
    for extra in ["Atelier Giclée", "QuickPrint Co"] {
        service::add(
            &ctx,
            &NewVendor {
                name: extra.into(),
                category: "print_lab".into(),
                critical: false,
            },
            MANAGER,
        )
        .await?;
    }
    onboard(
        &ctx,
        &clock,
        VENDORS[0].name,
        &["Atelier Giclée", "QuickPrint Co"],
        4_200_000,
    )
    .await?;
    for d in &VENDORS[1..] {
        onboard(&ctx, &clock, d.name, &[], d.monthly_cents * 12).await?;
    }
    // Contracts from the first of next month.
    let today = service::today(&ctx);
    let start = Period::of(today).next().first_day().unwrap_or(today);
    clock.set(ctx.calendar.start_of_day(start) + TimeDelta::hours(10));
    for d in &VENDORS {
        let end = start
            .checked_add_months(Months::new(d.months))
            .and_then(|e| e.pred_opt())
            .unwrap_or(start);
        service::new_contract(
            &ctx,
            &NewContract {
                vendor: d.name.into(),
                start,
                end,
                monthly_cents: d.monthly_cents,
                auto_renew: d.months == 12,
                notice: None,
                budget: Some(("operations".into(), d.category.into())),
            },
            MANAGER,
        )
        .await?;
    }
    // Months of service, each reviewed on the 2nd of the next.
    let mut period = Period::of(start);
    let mut po = 1000;
    while let Some(next_first) = period.next().first_day() {
        if ctx.calendar.start_of_day(next_first) + TimeDelta::days(1) > now {
            break;
        }
        clock.set(ctx.calendar.start_of_day(next_first) + TimeDelta::hours(9));
        for d in &VENDORS {
            for k in 0..10u32 {
                po += 1;
                let day = 1 + k * 2 + u32::try_from(rng.below(2)).unwrap_or(0);
                let promised = NaiveDate::from_ymd_opt(period.year, period.month, day.min(28))
                    .unwrap_or(start);
                // Deterministic shares, so a critical vendor is never late twice in a row.
                let late = f64::from(k) >= d.on_time * 10.0;
                let short = f64::from(k) >= d.in_full * 10.0;
                let delivered = if late {
                    promised + TimeDelta::days(2)
                } else {
                    promised
                };
                let ordered = 1000;
                let received = if short { 900 } else { 1000 };
                service::deliver(
                    &ctx,
                    &NewDelivery {
                        vendor: d.name.into(),
                        po: format!("PO-{po}"),
                        promised,
                        delivered: delivered.min(next_first.pred_opt().unwrap_or(delivered)),
                        ordered,
                        received,
                        defective: d.defects.min(received),
                        amount_cents: Some(d.monthly_cents / 10),
                    },
                    MANAGER,
                )
                .await?;
            }
            clock.advance(TimeDelta::minutes(5));
            service::review(
                &ctx,
                d.name,
                period,
                &[(
                    "responsiveness".into(),
                    if d.on_time < 0.8 { 55.0 } else { 90.0 },
                )],
                MANAGER,
            )
            .await?;
        }
        period = period.next();
    }
    Ok(())
}

/// The simulator's share: deliveries keep arriving from vendors in service.
#[derive(Debug, Default)]
pub struct Simulation {
    po: u64,
}

impl SimStep for Simulation {
    fn step<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        rng: &'a mut Rng,
        report: &'a mut SimReport,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if rng.f64() > 0.3 {
                return Ok(());
            }
            let vendors: Vec<_> = service::list(ctx, None)
                .await?
                .into_iter()
                .filter(|v| v.state.serving())
                .collect();
            let Some(v) = rng.pick(&vendors) else {
                return Ok(());
            };
            let today = service::today(ctx);
            self.po += 1;
            let late = rng.f64() < 0.1;
            let ordered = 100 + i64::try_from(rng.below(400)).unwrap_or(0);
            let received = if rng.f64() < 0.1 {
                ordered * 9 / 10
            } else {
                ordered
            };
            let promised = if late {
                today - TimeDelta::days(1)
            } else {
                today
            };
            let done = service::deliver(
                ctx,
                &NewDelivery {
                    vendor: v.name.clone(),
                    po: format!("SIM-{}-{}", ctx.now().timestamp(), self.po),
                    promised,
                    delivered: today,
                    ordered,
                    received,
                    defective: i64::try_from(rng.below(3)).unwrap_or(0).min(received),
                    amount_cents: None,
                },
                MANAGER,
            )
            .await;
            match done {
                Ok(d) => {
                    report.events += 1;
                    report.add("vendor_deliveries", 1);
                    report.add("incidents_opened", d.incidents.len() as u64);
                }
                // A vendor standing very poorly gets no new purchase orders.
                Err(e) if e.is_user_error() => report.add("vendor_orders_refused", 1),
                Err(e) => return Err(e),
            }
            Ok(())
        })
    }
}
