//! Demo hand-offs on every seed edge, made through the real services with a
//! clock set in the past, and the simulator's share: departments ask each
//! other for work and answer.

use std::sync::Arc;

use chrono::TimeDelta;
use serde_json::{Map, Value};

use super::model::{Command, FieldType};
use super::service::{self, Open};
use super::{WORKFLOW, config};
use crate::clock::SimClock;
use crate::engine::Ctx;
use crate::engine::handoffs;
use crate::error::Result;
use crate::rng::Rng;
use crate::simulate::SimReport;
use crate::workflow::{BoxFuture, SimStep};

/// A plausible payload for a kind: every field filled by its type.
pub fn sample_payload(ctx: &Ctx, kind: &str, n: u64) -> Result<Map<String, Value>> {
    let k = service::kind(ctx, kind)?;
    let today = ctx.calendar.local_date(ctx.now());
    let mut m = Map::new();
    for f in super::model::schema(k) {
        let v = match f.kind {
            FieldType::Text => Value::from(format!("{} {}", f.name.replace('_', " "), n % 97)),
            FieldType::Number => Value::from(1.0 + (n % 40) as f64 / 10.0),
            FieldType::Integer => Value::from(1 + (n % 30) as i64),
            FieldType::Money => Value::from(50_000 + (n % 20) as i64 * 25_000),
            FieldType::Date => Value::from(today.to_string()),
            FieldType::Url => Value::from(format!("https://drive.vividwalls.example/{kind}/{n}")),
            FieldType::Bool => Value::Bool(n.is_multiple_of(2)),
            FieldType::List => Value::from(vec![format!("T-{}", 1000 + n % 500)]),
        };
        m.insert(f.name, v);
    }
    Ok(m)
}

/// The kinds the demo opens: the seed's edges (not the journey's leads,
/// nor the kinds whose departments are named when opened).
fn edge_kinds(ctx: &Ctx) -> Result<Vec<String>> {
    let any = super::model::ANY_DEPARTMENT;
    Ok(config::settings(&ctx.config)?
        .kinds
        .iter()
        .filter(|(name, k)| name.as_str() != "lead" && k.from != any && k.to != any)
        .map(|(name, _)| name.clone())
        .collect())
}

fn requester(ctx: &Ctx, department: &str) -> String {
    ctx.org
        .director_of(department)
        .map(|p| p.handle.clone())
        .unwrap_or_else(|| "engine".into())
}

fn receiver(ctx: &Ctx, department: &str) -> String {
    ctx.org
        .people
        .iter()
        .find(|p| p.department == department && p.has_role(crate::org::Role::TeamLead))
        .or_else(|| ctx.org.director_of(department))
        .map(|p| p.handle.clone())
        .unwrap_or_else(|| "engine".into())
}

async fn open_one(ctx: &Ctx, kind: &str, title: &str, n: u64) -> Result<handoffs::Handoff> {
    let k = service::kind(ctx, kind)?.clone();
    let o = Open {
        payload: sample_payload(ctx, kind, n)?,
        ..Open::new(kind, title)
    };
    let mut tx = ctx.pool.begin().await?;
    let h = service::open(ctx, &mut tx, &o, &requester(ctx, &k.from)).await?;
    tx.commit().await?;
    Ok(h)
}

/// Load the demo hand-offs: some done in the past weeks (the matrix has
/// history), some live now in every state. The caller marks the part loaded.
pub async fn seed(live: &Ctx) -> Result<()> {
    let now = live.now();
    let clock = SimClock::at(now - TimeDelta::days(21));
    let ctx = Ctx {
        clock: Arc::new(clock.clone()),
        ..live.clone()
    };
    let kinds = edge_kinds(&ctx)?;
    let mut rng = Rng::new(ctx.config.simulate.seed ^ 0x00c0_11ab);
    // History: three weeks of hand-offs answered and done.
    for (i, kind) in kinds.iter().cycle().take(30).enumerate() {
        let h = open_one(
            &ctx,
            kind,
            &format!("Weekly {}", kind.replace('_', " ")),
            i as u64,
        )
        .await?;
        let who = receiver(&ctx, &h.to_department);
        clock.advance(TimeDelta::minutes(10 + rng.below(80) as i64));
        service::act(&ctx, h.id, Command::Start, &who, None).await?;
        clock.advance(TimeDelta::hours(2 + rng.below(20) as i64));
        if i % 7 == 3 {
            service::act(
                &ctx,
                h.id,
                Command::Decline,
                &who,
                Some("Out of scope this quarter"),
            )
            .await?;
        } else {
            service::act(&ctx, h.id, Command::Done, &who, None).await?;
        }
        clock.advance(TimeDelta::hours(10));
    }
    // Live now: open, acknowledged, in progress, waiting.
    clock.set(now - TimeDelta::minutes(50));
    let fresh = open_one(
        &ctx,
        "campaign_data",
        "Holiday campaign results for Sales",
        1,
    )
    .await?;
    service::comment(&ctx, fresh.id, "Deck attached; numbers are final.", "maya").await?;
    let fr = open_one(&ctx, "feature_request", "Bulk framing for hotels", 2).await?;
    service::act(&ctx, fr.id, Command::Acknowledge, "priya", None).await?;
    let roi = open_one(&ctx, "budget_roi", "Q4 paid social ROI", 3).await?;
    service::act(&ctx, roi.id, Command::Start, "felix", None).await?;
    service::act(
        &ctx,
        roi.id,
        Command::Wait,
        "felix",
        Some("Need the agency invoice for November"),
    )
    .await?;
    let deal = open_one(&ctx, "deal_insights", "Harbor Hotels enterprise deal", 4).await?;
    service::act(&ctx, deal.id, Command::Start, "felix", None).await?;
    Ok(())
}

/// The simulator's collaboration: new requests now and then, and the
/// receiving side answering those waiting.
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
                let kinds = edge_kinds(ctx)?;
                if let Some(kind) = rng.pick(&kinds) {
                    let n = rng.below(10_000);
                    open_one(ctx, kind, &format!("{} #{n}", kind.replace('_', " ")), n).await?;
                    report.add("handoffs_opened", 1);
                    report.events += 1;
                }
            }
            if rng.f64() < 0.2 {
                let mut conn = ctx.pool.acquire().await?;
                let live = handoffs::list(&mut conn, None, None, 50).await?;
                drop(conn);
                let Some(h) = rng.pick(&live) else {
                    return Ok(());
                };
                let who = receiver(ctx, &h.to_department);
                let next = match h.state()? {
                    super::model::State::Open => Command::Acknowledge,
                    super::model::State::Acknowledged => Command::Start,
                    super::model::State::Waiting => Command::Resume,
                    _ => Command::Done,
                };
                if h.workflow == WORKFLOW {
                    service::act(ctx, h.id, next, &who, None).await?;
                    report.add("handoffs_moved", 1);
                    report.events += 1;
                }
            }
            Ok(())
        })
    }
}
