//! Customer journey commands: touches and scoring, the hand-off to Sales,
//! contact, conversion, support, feedback, referrals and the upsell loop.

use serde::Serialize;
use sqlx::PgConnection;

use super::model::{self, LeadCommand, LeadStatus, TicketCommand};
use super::{WORKFLOW, store, timers};
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::engine::handoffs;
use crate::engine::outbox::{self, NewNotification};
use crate::error::{Error, Result};

pub const LEAD_HANDOFF: &str = "lead";

pub use super::store::{Prospect, Ticket};

pub async fn get(ctx: &Ctx, key: &str) -> Result<Prospect> {
    let mut conn = ctx.pool.acquire().await?;
    store::get(&mut conn, key).await
}

/// The person acting, who must belong to the department configured for
/// `part` of the journey; the refusal names the department as the org does
/// and says what it does (`why`).
fn member_of<'a>(
    ctx: &'a Ctx,
    actor: &str,
    department: &str,
    why: &str,
) -> Result<&'a crate::org::Person> {
    let person = ctx.org.actor(actor)?;
    if person.department == department {
        return Ok(person);
    }
    Err(Error::forbidden(format!(
        "{} is not in {}{why}",
        person.label(),
        department_name(ctx, department)
    )))
}

/// A department as people call it ("Sales").
fn department_name<'a>(ctx: &'a Ctx, key: &'a str) -> &'a str {
    ctx.org.department(key).map_or(key, |d| d.name.as_str())
}

fn check_channel(ctx: &Ctx, channel: &str) -> Result<()> {
    let channels = &super::config::settings(&ctx.config)?.channels;
    if channels.iter().any(|c| c == channel) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "unknown channel {channel:?} (channels: {})",
        channels.join(", ")
    )))
}

#[derive(Debug, Clone)]
pub struct NewTouch {
    pub prospect: String,
    pub channel: String,
    pub kind: String,
    /// The same key twice scores once (replays, retries).
    pub idempotency_key: String,
    /// Segment for a first touch (default "general").
    pub segment: Option<String>,
    pub content_id: Option<i64>,
}

/// What a touch did.
#[derive(Debug, Clone, Serialize)]
pub struct Touched {
    pub prospect: Prospect,
    /// False when the idempotency key was seen before.
    pub scored: bool,
    pub points: i32,
    pub handed_off: Option<i64>,
    pub alerted: bool,
}

/// Record a touch and score it; a first touch creates the prospect.
pub async fn touch(ctx: &Ctx, t: &NewTouch, source: &str) -> Result<Touched> {
    let cfg = super::config::settings(&ctx.config)?;
    check_channel(ctx, &t.channel)?;
    if !model::KINDS.contains(&t.kind.as_str()) {
        return Err(Error::invalid(format!(
            "touch kind {:?} is not in the scoring rules ({})",
            t.kind,
            model::KINDS.join(", ")
        )));
    }
    if t.prospect.trim().is_empty() || t.idempotency_key.trim().is_empty() {
        return Err(Error::invalid(
            "a touch needs a prospect key and an idempotency key",
        ));
    }
    crate::privacy::service::refuse_marketing(ctx, &t.prospect).await?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    store::insert_prospect_if_new(
        &mut tx,
        &t.prospect,
        t.segment.as_deref().unwrap_or("general"),
        &t.channel,
        now,
    )
    .await?;
    let mut p = store::lock_key(&mut tx, &t.prospect).await?;
    let points = model::points(cfg, &t.kind, p.clicks).map_err(Error::invalid)?;
    let inserted = store::insert_touch(
        &mut tx,
        p.id,
        &t.channel,
        &t.kind,
        points,
        t.content_id,
        &t.idempotency_key,
        now,
    )
    .await?;
    if !inserted {
        tx.commit().await?;
        return Ok(Touched {
            prospect: p,
            scored: false,
            points: 0,
            handed_off: None,
            alerted: false,
        });
    }
    let half_life = cfg.decay_half_life.delta().num_seconds() as f64;
    let from_stage = p.stage.clone();
    p.score = model::decay(p.score, p.score_at, now, half_life) + f64::from(points);
    p.score_at = now;
    p.stage = model::stage(cfg, p.score);
    p.last_channel = t.channel.clone();
    if t.kind == "clicked" {
        p.clicks += 1;
    }
    let mut handed_off = None;
    if p.score >= f64::from(cfg.handoff_score)
        && let Ok(to) = model::decide_lead(&p.key, p.status, LeadCommand::HandOff)
    {
        handed_off = Some(hand_to_sales(ctx, &mut tx, &mut p, to, source).await?);
    }
    let mut alerted = false;
    if !p.alerted && p.score >= f64::from(cfg.alert_score) {
        p.alerted = true;
        alerted = true;
        if let Some(director) = ctx.org.director_of(&cfg.departments.sales) {
            let n = NewNotification::to_person(
                &director.handle,
                WORKFLOW,
                &p.key,
                format!("Qualified lead: {} scored {:.0}", p.key, p.score),
            )
            .body(format!(
                "Segment {}, first touch {}, stage {}.",
                p.segment, p.first_channel, p.stage
            ))
            .severity("warning")
            .dedupe(format!("journey:{}:qualified", p.id))
            .payload(serde_json::json!({ "prospect": p.key, "kind": "qualified_lead" }));
            outbox::enqueue(ctx, &mut tx, &n).await?;
        }
    }
    store::save(&mut tx, &p).await?;
    if p.stage != from_stage {
        events::append(
            &mut tx,
            &NewEvent::new(WORKFLOW, "prospect", &p.key, "stage_changed", source)
                .transition(Some(from_stage.as_str()), p.stage.as_str())
                .payload(
                    serde_json::json!({ "score": p.score, "touch": t.kind, "channel": t.channel }),
                ),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Touched {
        prospect: p,
        scored: true,
        points,
        handed_off,
        alerted,
    })
}

/// Open the lead hand-off to Sales and move the prospect to `to` (handed
/// off, as the machine said).
async fn hand_to_sales(
    ctx: &Ctx,
    conn: &mut PgConnection,
    p: &mut Prospect,
    to: LeadStatus,
    actor: &str,
) -> Result<i64> {
    let correlation = Some(format!("lead:{}", p.key));
    let open = crate::collab::Open::new(
        LEAD_HANDOFF,
        format!("Lead {} ({}, score {:.0})", p.key, p.segment, p.score),
    )
    .field("score", p.score)
    .field("stage", p.stage.clone())
    .field("segment", p.segment.clone())
    .from_workflow(WORKFLOW, &p.key, correlation.clone());
    let h = crate::collab::open(ctx, conn, &open, actor).await?;
    let now = ctx.now();
    events::append(
        conn,
        &NewEvent::new(WORKFLOW, "prospect", &p.key, "handed_to_sales", actor)
            .transition(Some(p.status.as_str()), to.as_str())
            .correlation(correlation)
            .payload(serde_json::json!({ "handoff_id": h.id, "score": p.score })),
        now,
    )
    .await?;
    p.status = to;
    p.handed_off_at = Some(now);
    Ok(h.id)
}

/// Ask the lead's pure state machine whether `command` may happen now: the
/// status it leads to, or the refusal (a conflict when someone got there
/// first).
fn lead_move(p: &Prospect, command: LeadCommand) -> Result<LeadStatus> {
    model::decide_lead(&p.key, p.status, command).map_err(|r| {
        if r.conflict {
            Error::conflict(r.why)
        } else {
            Error::invalid(r.why)
        }
    })
}

/// Hand a lead to Sales before it reaches the threshold (a marketer's call).
pub async fn handoff(ctx: &Ctx, key: &str, actor: &str) -> Result<Prospect> {
    let d = &super::config::settings(&ctx.config)?.departments;
    member_of(
        ctx,
        actor,
        &d.marketing,
        &format!(", which hands leads to {}", department_name(ctx, &d.sales)),
    )?;
    let mut tx = ctx.pool.begin().await?;
    let mut p = store::lock_key(&mut tx, key).await?;
    let to = lead_move(&p, LeadCommand::HandOff)?;
    hand_to_sales(ctx, &mut tx, &mut p, to, actor).await?;
    store::save(&mut tx, &p).await?;
    tx.commit().await?;
    Ok(p)
}

/// Sales has contacted the lead: this acknowledges the hand-off.
pub async fn contact(ctx: &Ctx, key: &str, actor: &str, note: &str) -> Result<Prospect> {
    let d = &super::config::settings(&ctx.config)?.departments;
    member_of(ctx, actor, &d.sales, "")?;
    let mut tx = ctx.pool.begin().await?;
    let mut p = store::lock_key(&mut tx, key).await?;
    let from = p.status;
    let contacted = lead_move(&p, LeadCommand::Contact)?;
    if let Some(h) = handoffs::latest_for(&mut tx, WORKFLOW, key, LEAD_HANDOFF).await?
        && h.status == "open"
    {
        handoffs::acknowledge(ctx, &mut tx, h.id, actor).await?;
    }
    let now = ctx.now();
    p.status = contacted;
    p.contacted_at = Some(now);
    p.contacted_by = Some(actor.into());
    store::save(&mut tx, &p).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "prospect", key, "contacted", actor)
            .transition(Some(from.as_str()), contacted.as_str())
            .maybe_reason((!note.trim().is_empty()).then(|| note.trim().to_string())),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// An order: the prospect becomes (or stays) a customer.
pub async fn convert(ctx: &Ctx, key: &str, value_cents: i64, actor: &str) -> Result<Prospect> {
    ctx.org.actor(actor)?;
    if value_cents <= 0 {
        return Err(Error::invalid(
            "a conversion needs an order value above zero",
        ));
    }
    let mut tx = ctx.pool.begin().await?;
    let mut p = store::lock_key(&mut tx, key).await?;
    let now = ctx.now();
    let from = p.status;
    let customer = lead_move(&p, LeadCommand::Convert)?;
    store::insert_order(&mut tx, &p, value_cents, actor, now).await?;
    if p.converted_at.is_none() {
        p.converted_at = Some(now);
    }
    p.status = customer;
    store::save(&mut tx, &p).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "prospect", key, "converted", actor)
            .transition(Some(from.as_str()), customer.as_str())
            .payload(serde_json::json!({ "value_cents": value_cents, "first_channel": p.first_channel, "last_channel": p.last_channel })),
        now,
    )
    .await?;
    crate::collab::service::deal_insight(
        ctx,
        &mut tx,
        key,
        value_cents,
        &p.segment,
        actor,
        (WORKFLOW, key),
        Some(format!("lead:{key}")),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// A support request with the support SLA.
pub async fn ticket(ctx: &Ctx, key: &str, subject: &str, actor: &str) -> Result<Ticket> {
    ctx.org.actor(actor)?;
    if subject.trim().is_empty() {
        return Err(Error::invalid("a ticket needs a subject"));
    }
    let mut tx = ctx.pool.begin().await?;
    let p = store::lock_key(&mut tx, key).await?;
    let now = ctx.now();
    let due = now + super::config::settings(&ctx.config)?.support_sla.delta();
    let t = store::insert_ticket(&mut tx, p.id, subject.trim(), due, actor, now).await?;
    timers::start_sla(&mut tx, t.id, due, now).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "ticket", t.id, "ticket_opened", actor)
            .transition(None::<&str>, t.status.as_str())
            .reason(subject.trim().to_string())
            .payload(serde_json::json!({ "prospect": key, "due_at": due })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// Resolve a ticket (once).
pub async fn resolve(ctx: &Ctx, ticket_id: i64, actor: &str, resolution: &str) -> Result<Ticket> {
    ctx.org.actor(actor)?;
    if resolution.trim().is_empty() {
        return Err(Error::invalid("say how it was resolved"));
    }
    let mut tx = ctx.pool.begin().await?;
    let mut t = store::lock_ticket(&mut tx, ticket_id).await?;
    let from = t.status;
    t.status = model::decide_ticket(
        ticket_id,
        from,
        TicketCommand::Resolve,
        t.resolved_by.as_deref(),
    )
    .map_err(Error::conflict)?;
    let now = ctx.now();
    t.resolved_by = Some(actor.into());
    t.resolved_at = Some(now);
    t.resolution = Some(resolution.trim().into());
    store::save_ticket(&mut tx, &t).await?;
    timers::cancel_sla(&mut tx, ticket_id).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "ticket", ticket_id, "ticket_resolved", actor)
            .transition(Some(from.as_str()), t.status.as_str())
            .reason(resolution.trim().to_string())
            .payload(serde_json::json!({ "within_sla": now <= t.due_at })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// NPS (0-10) and/or CSAT (1-5) from a customer.
pub async fn feedback(
    ctx: &Ctx,
    key: &str,
    nps: Option<i32>,
    csat: Option<i32>,
    comment: &str,
) -> Result<()> {
    if nps.is_none() && csat.is_none() {
        return Err(Error::invalid("give an NPS (0-10), a CSAT (1-5) or both"));
    }
    if nps.is_some_and(|n| !(0..=10).contains(&n)) {
        return Err(Error::invalid("NPS is a score from 0 to 10"));
    }
    if csat.is_some_and(|c| !(1..=5).contains(&c)) {
        return Err(Error::invalid("CSAT is a score from 1 to 5"));
    }
    let mut tx = ctx.pool.begin().await?;
    let p = store::lock_key(&mut tx, key).await?;
    let now = ctx.now();
    store::insert_feedback(&mut tx, p.id, nps, csat, comment.trim(), now).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "prospect", key, "feedback", "customer")
            .payload(serde_json::json!({ "nps": nps, "csat": csat })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A customer refers someone: the referred person starts their journey.
pub async fn refer(ctx: &Ctx, key: &str, referred_key: &str) -> Result<Prospect> {
    if referred_key.trim().is_empty() || referred_key == key {
        return Err(Error::invalid("a referral names someone else"));
    }
    let mut tx = ctx.pool.begin().await?;
    let p = store::lock_key(&mut tx, key).await?;
    let now = ctx.now();
    let referred = store::insert_referred(&mut tx, referred_key, &p.segment, p.id, now)
        .await?
        .ok_or_else(|| Error::conflict(format!("{referred_key} is already known")))?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "prospect", key, "referred", "customer")
            .payload(serde_json::json!({ "referred": referred_key })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(referred)
}

#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub audience: Vec<String>,
    pub content_id: i64,
}

/// Marketing starts an upsell or cross-sell campaign for satisfied customers
/// (NPS or CSAT at the configured level; customers who referred someone
/// first). It plans the campaign's e-mail in the content workflow.
pub async fn campaign(ctx: &Ctx, name: &str, kind: &str, actor: &str) -> Result<Campaign> {
    let cfg = super::config::settings(&ctx.config)?;
    member_of(
        ctx,
        actor,
        &cfg.departments.marketing,
        ", which runs campaigns",
    )?;
    if !matches!(kind, "upsell" | "cross_sell") {
        return Err(Error::invalid(format!(
            "campaign kind {kind:?} is not upsell or cross_sell"
        )));
    }
    let audience = {
        let mut conn = ctx.pool.acquire().await?;
        store::satisfied_customers(&mut conn, cfg.satisfied_nps, cfg.satisfied_csat).await?
    };
    if audience.is_empty() {
        return Err(Error::invalid(
            "no satisfied customers yet: the campaign would reach nobody",
        ));
    }
    let item = crate::content::service::create(
        ctx,
        &crate::content::service::NewContent {
            kind: "email".into(),
            title: format!("{name} ({})", kind.replace('_', "-")),
            body: format!(
                "Brief: {kind} offer for {} satisfied customers.",
                audience.len()
            ),
            owner: actor.into(),
            channel: "email".into(),
            campaign: None,
            cost_cents: 0,
        },
        actor,
    )
    .await?;
    let ids: Vec<i64> = audience.iter().map(|(id, _)| *id).collect();
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let id = store::insert_campaign(&mut tx, name, kind, &ids, item.id, actor, now).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "campaign", id, "campaign_started", actor)
            .reason(name.to_string())
            .payload(
                serde_json::json!({ "kind": kind, "audience": ids.len(), "content_id": item.id }),
            ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Campaign {
        id,
        name: name.into(),
        kind: kind.into(),
        audience: audience.into_iter().map(|(_, k)| k).collect(),
        content_id: item.id,
    })
}
