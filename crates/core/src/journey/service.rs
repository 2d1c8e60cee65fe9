//! Customer journey commands: touches and scoring, the hand-off to Sales,
//! contact, conversion, support, feedback, referrals and the upsell loop.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::WORKFLOW;
use super::model;
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::engine::handoffs;
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};

pub const TICKET_TIMER: &str = "journey.ticket_sla";
pub const LEAD_HANDOFF: &str = "lead";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Prospect {
    pub id: i64,
    pub key: String,
    pub segment: String,
    pub first_channel: String,
    pub last_channel: String,
    pub status: String,
    pub stage: String,
    pub score: f64,
    pub score_at: DateTime<Utc>,
    pub clicks: i32,
    pub alerted: bool,
    pub referred_by: Option<i64>,
    pub handed_off_at: Option<DateTime<Utc>>,
    pub contacted_at: Option<DateTime<Utc>>,
    pub contacted_by: Option<String>,
    pub converted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, key, segment, first_channel, last_channel, status, stage, score, score_at, clicks, alerted,
    referred_by, handed_off_at, contacted_at, contacted_by, converted_at, created_at";

async fn lock_key(conn: &mut PgConnection, key: &str) -> Result<Prospect> {
    let sql = format!("SELECT {COLUMNS} FROM prospects WHERE key = $1 FOR UPDATE");
    let row: Option<Prospect> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("unknown prospect {key:?}")))
}

pub async fn get(ctx: &Ctx, key: &str) -> Result<Prospect> {
    let sql = format!("SELECT {COLUMNS} FROM prospects WHERE key = $1");
    let row: Option<Prospect> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(&ctx.pool)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("unknown prospect {key:?}")))
}

async fn save(conn: &mut PgConnection, p: &Prospect) -> Result<()> {
    sqlx::query(
        "UPDATE prospects SET last_channel = $2, status = $3, stage = $4, score = $5, score_at = $6, clicks = $7, alerted = $8,
            handed_off_at = $9, contacted_at = $10, contacted_by = $11, converted_at = $12 WHERE id = $1",
    )
    .bind(p.id)
    .bind(&p.last_channel)
    .bind(&p.status)
    .bind(&p.stage)
    .bind(p.score)
    .bind(p.score_at)
    .bind(p.clicks)
    .bind(p.alerted)
    .bind(p.handed_off_at)
    .bind(p.contacted_at)
    .bind(&p.contacted_by)
    .bind(p.converted_at)
    .execute(conn)
    .await?;
    Ok(())
}

fn check_channel(ctx: &Ctx, channel: &str) -> Result<()> {
    if super::config::settings(&ctx.config)?
        .channels
        .iter()
        .any(|c| c == channel)
    {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "unknown channel {channel:?} (channels: {})",
        super::config::settings(&ctx.config)?.channels.join(", ")
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
    let cfg = &super::config::settings(&ctx.config)?;
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
    sqlx::query(
        "INSERT INTO prospects (key, segment, first_channel, last_channel, status, stage, score_at, created_at)
         VALUES ($1, $2, $3, $3, 'prospect', 'new', $4, $4) ON CONFLICT (key) DO NOTHING",
    )
    .bind(&t.prospect)
    .bind(t.segment.as_deref().unwrap_or("general"))
    .bind(&t.channel)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let mut p = lock_key(&mut tx, &t.prospect).await?;
    let points = model::points(cfg, &t.kind, p.clicks).map_err(Error::invalid)?;
    let inserted = sqlx::query(
        "INSERT INTO touches (prospect_id, channel, kind, points, content_id, idempotency_key, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(p.id)
    .bind(&t.channel)
    .bind(&t.kind)
    .bind(points)
    .bind(t.content_id)
    .bind(&t.idempotency_key)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
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
    if p.score >= f64::from(cfg.handoff_score) && lead_move(&p, model::LeadCommand::HandOff).is_ok()
    {
        handed_off = Some(hand_to_sales(ctx, &mut tx, &mut p, source).await?);
    }
    let mut alerted = false;
    if !p.alerted && p.score >= f64::from(cfg.alert_score) {
        p.alerted = true;
        alerted = true;
        if let Some(director) = ctx.org.director_of("sales") {
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
    save(&mut tx, &p).await?;
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

async fn hand_to_sales(
    ctx: &Ctx,
    conn: &mut PgConnection,
    p: &mut Prospect,
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
            .transition(Some(p.status.as_str()), "handed_off")
            .correlation(correlation)
            .payload(serde_json::json!({ "handoff_id": h.id, "score": p.score })),
        now,
    )
    .await?;
    p.status = model::LeadStatus::HandedOff.as_str().into();
    p.handed_off_at = Some(now);
    Ok(h.id)
}

/// Ask the lead's pure state machine whether `command` may happen now: the
/// status it leads to, or the refusal (a conflict when someone got there
/// first). A stored status no machine knows is an internal fault.
fn lead_move(p: &Prospect, command: model::LeadCommand) -> Result<model::LeadStatus> {
    let from = model::LeadStatus::parse(&p.status).ok_or_else(|| {
        Error::internal(format!(
            "prospect {} has an unknown status {:?} in the database",
            p.key, p.status
        ))
    })?;
    model::decide_lead(&p.key, from, command).map_err(|r| {
        if r.conflict {
            Error::conflict(r.why)
        } else {
            Error::invalid(r.why)
        }
    })
}

/// Hand a lead to Sales before it reaches the threshold (a marketer's call).
pub async fn handoff(ctx: &Ctx, key: &str, actor: &str) -> Result<Prospect> {
    let person = ctx.org.actor(actor)?;
    if person.department != "marketing" {
        return Err(Error::forbidden(format!(
            "{} is not in Marketing, which hands leads to Sales",
            person.label()
        )));
    }
    let mut tx = ctx.pool.begin().await?;
    let mut p = lock_key(&mut tx, key).await?;
    lead_move(&p, model::LeadCommand::HandOff)?;
    hand_to_sales(ctx, &mut tx, &mut p, actor).await?;
    save(&mut tx, &p).await?;
    tx.commit().await?;
    Ok(p)
}

/// Sales has contacted the lead: this acknowledges the hand-off.
pub async fn contact(ctx: &Ctx, key: &str, actor: &str, note: &str) -> Result<Prospect> {
    let person = ctx.org.actor(actor)?;
    if person.department != "sales" {
        return Err(Error::forbidden(format!(
            "{} is not in Sales",
            person.label()
        )));
    }
    let mut tx = ctx.pool.begin().await?;
    let mut p = lock_key(&mut tx, key).await?;
    let contacted = lead_move(&p, model::LeadCommand::Contact)?;
    if let Some(h) = handoffs::latest_for(&mut tx, WORKFLOW, key, LEAD_HANDOFF).await?
        && h.status == "open"
    {
        handoffs::acknowledge(ctx, &mut tx, h.id, actor).await?;
    }
    let now = ctx.now();
    p.status = contacted.as_str().into();
    p.contacted_at = Some(now);
    p.contacted_by = Some(actor.into());
    save(&mut tx, &p).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "prospect", key, "contacted", actor)
            .transition(Some("handed_off"), "contacted")
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
    let mut p = lock_key(&mut tx, key).await?;
    let now = ctx.now();
    sqlx::query(
        "INSERT INTO orders (prospect_id, value_cents, first_channel, last_channel, created_by, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(p.id)
    .bind(value_cents)
    .bind(&p.first_channel)
    .bind(&p.last_channel)
    .bind(actor)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let from = p.status.clone();
    let customer = lead_move(&p, model::LeadCommand::Convert)?;
    if p.converted_at.is_none() {
        p.converted_at = Some(now);
    }
    p.status = customer.as_str().into();
    save(&mut tx, &p).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "prospect", key, "converted", actor)
            .transition(Some(from.as_str()), "customer")
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

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Ticket {
    pub id: i64,
    pub prospect_id: i64,
    pub subject: String,
    pub status: String,
    pub due_at: DateTime<Utc>,
    pub breached: bool,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

const TICKET_COLUMNS: &str = "id, prospect_id, subject, status, due_at, breached, opened_by, opened_at, resolved_by, resolved_at, resolution";

/// A support request with the support SLA.
pub async fn ticket(ctx: &Ctx, key: &str, subject: &str, actor: &str) -> Result<Ticket> {
    ctx.org.actor(actor)?;
    if subject.trim().is_empty() {
        return Err(Error::invalid("a ticket needs a subject"));
    }
    let mut tx = ctx.pool.begin().await?;
    let p = lock_key(&mut tx, key).await?;
    let now = ctx.now();
    let due = now + super::config::settings(&ctx.config)?.support_sla.delta();
    let sql = format!(
        "INSERT INTO tickets (prospect_id, subject, due_at, opened_by, opened_at) VALUES ($1, $2, $3, $4, $5) RETURNING {TICKET_COLUMNS}"
    );
    let t: Ticket = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(p.id)
        .bind(subject.trim())
        .bind(due)
        .bind(actor)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    timers::schedule(
        &mut tx,
        &NewTimer::new(TICKET_TIMER, WORKFLOW, t.id, due),
        now,
    )
    .await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "ticket", t.id, "ticket_opened", actor)
            .transition(None::<&str>, "open")
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
    let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1 FOR UPDATE");
    let t: Option<Ticket> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ticket_id)
        .fetch_optional(&mut *tx)
        .await?;
    let mut t = t.ok_or_else(|| Error::not_found(format!("no ticket #{ticket_id}")))?;
    if t.status == "resolved" {
        return Err(Error::conflict(format!(
            "ticket #{ticket_id} was already resolved by @{}",
            t.resolved_by.clone().unwrap_or_default()
        )));
    }
    let now = ctx.now();
    sqlx::query("UPDATE tickets SET status = 'resolved', resolved_by = $2, resolved_at = $3, resolution = $4 WHERE id = $1")
        .bind(ticket_id)
        .bind(actor)
        .bind(now)
        .bind(resolution.trim())
        .execute(&mut *tx)
        .await?;
    timers::cancel(
        &mut tx,
        WORKFLOW,
        &ticket_id.to_string(),
        Some(TICKET_TIMER),
    )
    .await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "ticket", ticket_id, "ticket_resolved", actor)
            .transition(Some("open"), "resolved")
            .reason(resolution.trim().to_string())
            .payload(serde_json::json!({ "within_sla": now <= t.due_at })),
        now,
    )
    .await?;
    tx.commit().await?;
    t.status = "resolved".into();
    t.resolved_by = Some(actor.into());
    t.resolved_at = Some(now);
    t.resolution = Some(resolution.trim().into());
    Ok(t)
}

/// Timer handler: a ticket ran past its SLA: Customer Experience leads hear.
pub fn on_ticket_sla<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    t: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id: i64 = t
            .entity_id
            .parse()
            .map_err(|_| Error::internal("ticket timer without an id"))?;
        let updated = sqlx::query(
            "UPDATE tickets SET breached = true WHERE id = $1 AND status = 'open' AND NOT breached",
        )
        .bind(id)
        .execute(&mut *conn)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(());
        }
        let mut to: Vec<String> = ctx
            .org
            .people
            .iter()
            .filter(|p| {
                p.department == "customer_experience"
                    && (p.has_role(crate::org::Role::TeamLead)
                        || p.has_role(crate::org::Role::Director))
            })
            .map(|p| p.handle.clone())
            .collect();
        to.sort();
        for h in to {
            let n = NewNotification::to_person(
                &h,
                WORKFLOW,
                id,
                format!("Support ticket #{id} is past its SLA"),
            )
            .severity("warning")
            .dedupe(format!("ticket:{id}:breach:{h}"))
            .payload(serde_json::json!({ "ticket_id": id }));
            outbox::enqueue(ctx, conn, &n).await?;
        }
        events::append(
            conn,
            &NewEvent::new(WORKFLOW, "ticket", id, "ticket_sla_breached", "engine")
                .reason("not resolved within the support SLA"),
            ctx.now(),
        )
        .await?;
        Ok(())
    })
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
    let p = lock_key(&mut tx, key).await?;
    let now = ctx.now();
    sqlx::query("INSERT INTO feedback (prospect_id, nps, csat, comment, given_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(p.id)
        .bind(nps)
        .bind(csat)
        .bind(comment.trim())
        .bind(now)
        .execute(&mut *tx)
        .await?;
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
    let p = lock_key(&mut tx, key).await?;
    let now = ctx.now();
    let sql = format!(
        "INSERT INTO prospects (key, segment, first_channel, last_channel, status, stage, score_at, referred_by, created_at)
         VALUES ($1, $2, 'referral', 'referral', 'prospect', 'new', $3, $4, $3) ON CONFLICT (key) DO NOTHING RETURNING {COLUMNS}"
    );
    let referred: Option<Prospect> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(referred_key)
        .bind(&p.segment)
        .bind(now)
        .bind(p.id)
        .fetch_optional(&mut *tx)
        .await?;
    let referred =
        referred.ok_or_else(|| Error::conflict(format!("{referred_key} is already known")))?;
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
    let person = ctx.org.actor(actor)?;
    if person.department != "marketing" {
        return Err(Error::forbidden(format!(
            "{} is not in Marketing, which runs campaigns",
            person.label()
        )));
    }
    if !matches!(kind, "upsell" | "cross_sell") {
        return Err(Error::invalid(format!(
            "campaign kind {kind:?} is not upsell or cross_sell"
        )));
    }
    let cfg = &super::config::settings(&ctx.config)?;
    let audience: Vec<(i64, String)> = sqlx::query_as(
        "SELECT p.id, p.key FROM prospects p
         WHERE p.status = 'customer' AND EXISTS (
             SELECT 1 FROM feedback f WHERE f.prospect_id = p.id AND (f.nps >= $1 OR f.csat >= $2))
         ORDER BY EXISTS (SELECT 1 FROM prospects r WHERE r.referred_by = p.id) DESC, p.id",
    )
    .bind(cfg.satisfied_nps)
    .bind(cfg.satisfied_csat)
    .fetch_all(&ctx.pool)
    .await?;
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
    let mut tx = ctx.pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO journey_campaigns (name, kind, audience, content_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(name)
    .bind(kind)
    .bind(&ids)
    .bind(item.id)
    .bind(actor)
    .bind(ctx.now())
    .fetch_one(&mut *tx)
    .await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "campaign", id, "campaign_started", actor)
            .reason(name.to_string())
            .payload(
                serde_json::json!({ "kind": kind, "audience": ids.len(), "content_id": item.id }),
            ),
        ctx.now(),
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

/// The published content item to send next: the configured kind for the
/// prospect's stage, best click-through first.
pub async fn next_content(ctx: &Ctx, key: &str) -> Result<Option<(i64, String)>> {
    let p = get(ctx, key).await?;
    let Some(kind) = super::config::settings(&ctx.config)?
        .content_by_stage
        .get(&p.stage)
    else {
        return Ok(None);
    };
    Ok(sqlx::query_as(
        "SELECT c.id, c.title FROM content_items c
         LEFT JOIN (SELECT item_id, sum(clicks)::float8 / nullif(sum(views), 0) AS ctr FROM content_metrics GROUP BY item_id) m ON m.item_id = c.id
         WHERE c.kind = $1 AND c.state IN ('published', 'performance', 'maintenance')
         ORDER BY m.ctr DESC NULLS LAST, c.id LIMIT 1",
    )
    .bind(kind)
    .fetch_optional(&ctx.pool)
    .await?)
}

/// Funnel KPIs over a period.
#[derive(Debug, Clone, Serialize)]
pub struct Funnel {
    pub from: DateTime<Utc>,
    pub prospects: i64,
    /// (stage, prospects at or beyond it, share of all)
    pub stages: Vec<(String, i64, f64)>,
    pub handed_off: i64,
    pub contacted: i64,
    pub customers: i64,
    pub conversion_rate: Option<f64>,
    pub mean_time_to_first_contact_secs: Option<i64>,
    pub lead_handoff_sla_compliance: Option<f64>,
    pub support_sla_compliance: Option<f64>,
    pub nps: Option<f64>,
    pub csat: Option<f64>,
    pub referral_rate: Option<f64>,
    /// (channel, revenue by first touch, revenue by last touch), cents.
    pub revenue_by_channel: Vec<(String, i64, i64)>,
}

pub async fn funnel(ctx: &Ctx, since: TimeDelta) -> Result<Funnel> {
    let now = ctx.now();
    let from = now - since;
    let mut conn = ctx.pool.acquire().await?;
    let order = model::stage_order(super::config::settings(&ctx.config)?);
    let by_stage: Vec<(String, i64)> = sqlx::query_as(
        "SELECT stage, count(*) FROM prospects WHERE created_at >= $1 GROUP BY stage",
    )
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    let total: i64 = by_stage.iter().map(|(_, n)| n).sum();
    let mut stages = Vec::new();
    for (i, s) in order.iter().enumerate() {
        let at_or_beyond: i64 = by_stage
            .iter()
            .filter(|(st, _)| order.iter().position(|o| o == st).is_some_and(|p| p >= i))
            .map(|(_, n)| n)
            .sum();
        stages.push((
            s.clone(),
            at_or_beyond,
            if total > 0 {
                at_or_beyond as f64 / total as f64
            } else {
                0.0
            },
        ));
    }
    let (handed, contacted, customers, ttfc): (i64, i64, i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE handed_off_at IS NOT NULL), count(*) FILTER (WHERE contacted_at IS NOT NULL),
                count(*) FILTER (WHERE converted_at IS NOT NULL),
                avg(extract(epoch FROM contacted_at - handed_off_at)::float8) FILTER (WHERE contacted_at IS NOT NULL AND handed_off_at IS NOT NULL)
         FROM prospects WHERE created_at >= $1",
    )
    .bind(from)
    .fetch_one(&mut *conn)
    .await?;
    let lead_sla = handoffs::sla_compliance(&mut conn, LEAD_HANDOFF, from, now).await?;
    let (due, met): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE due_at <= $2 OR resolved_at IS NOT NULL), count(*) FILTER (WHERE resolved_at IS NOT NULL AND resolved_at <= due_at)
         FROM tickets WHERE opened_at >= $1",
    )
    .bind(from)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let (promoters, detractors, nps_n, csat): (i64, i64, i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE nps >= 9), count(*) FILTER (WHERE nps <= 6), count(nps), avg(csat)::float8 FROM feedback WHERE given_at >= $1",
    )
    .bind(from)
    .fetch_one(&mut *conn)
    .await?;
    let referrers: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT referred_by) FROM prospects WHERE referred_by IS NOT NULL AND created_at >= $1",
    )
    .bind(from)
    .fetch_one(&mut *conn)
    .await?;
    let first: Vec<(String, i64)> = sqlx::query_as("SELECT first_channel, sum(value_cents)::bigint FROM orders WHERE occurred_at >= $1 GROUP BY 1")
        .bind(from)
        .fetch_all(&mut *conn)
        .await?;
    let last: Vec<(String, i64)> = sqlx::query_as("SELECT last_channel, sum(value_cents)::bigint FROM orders WHERE occurred_at >= $1 GROUP BY 1")
        .bind(from)
        .fetch_all(&mut *conn)
        .await?;
    let revenue_by_channel = super::config::settings(&ctx.config)?
        .channels
        .iter()
        .map(|c| {
            let f = first
                .iter()
                .find(|(k, _)| k == c)
                .map(|(_, v)| *v)
                .unwrap_or(0);
            let l = last
                .iter()
                .find(|(k, _)| k == c)
                .map(|(_, v)| *v)
                .unwrap_or(0);
            (c.clone(), f, l)
        })
        .filter(|(_, f, l)| *f > 0 || *l > 0)
        .collect();
    Ok(Funnel {
        from,
        prospects: total,
        stages,
        handed_off: handed,
        contacted,
        customers,
        conversion_rate: (total > 0).then(|| customers as f64 / total as f64),
        mean_time_to_first_contact_secs: ttfc.map(|s| s.round() as i64),
        lead_handoff_sla_compliance: lead_sla,
        support_sla_compliance: (due > 0).then(|| met as f64 / due as f64),
        nps: (nps_n > 0).then(|| (promoters - detractors) as f64 * 100.0 / nps_n as f64),
        csat,
        referral_rate: (customers > 0).then(|| referrers as f64 / customers as f64),
        revenue_by_channel,
    })
}
