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
use crate::org::Role;

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

/// What a touch may add beyond [`NewTouch`]: the campaign it came from and,
/// on a first touch, the prospect's region and profile attributes.
#[derive(Debug, Clone, Default)]
pub struct TouchExtra {
    pub campaign: Option<String>,
    pub region: Option<String>,
    pub attributes: Vec<String>,
}

/// Record a touch and score it; a first touch creates the prospect.
pub async fn touch(ctx: &Ctx, t: &NewTouch, source: &str) -> Result<Touched> {
    touch_with(ctx, t, &TouchExtra::default(), source).await
}

fn clean_word(what: &str, v: &str) -> Result<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 80 || v.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{what} {v:?} must be 1 to 80 characters of plain text"
        )));
    }
    Ok(v.to_string())
}

/// [`touch`] with a campaign, region and profile attributes.
pub async fn touch_with(
    ctx: &Ctx,
    t: &NewTouch,
    extra: &TouchExtra,
    source: &str,
) -> Result<Touched> {
    let cfg = super::config::settings(&ctx.config)?;
    let campaign = extra
        .campaign
        .as_deref()
        .map(|c| clean_word("campaign", c))
        .transpose()?;
    let region = extra
        .region
        .as_deref()
        .map(|c| clean_word("region", c))
        .transpose()?;
    let attributes = check_attributes(ctx, &extra.attributes)?;
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
        campaign.as_deref(),
        now,
    )
    .await?;
    let mut p = store::lock_key(&mut tx, &t.prospect).await?;
    if p.source_campaign.is_none() {
        p.source_campaign = campaign.clone();
    }
    if region.is_some() {
        p.region = region;
    }
    if !attributes.is_empty() {
        for a in attributes {
            if !p.attributes.contains(&a) {
                p.attributes.push(a);
            }
        }
        let orders = store::order_total(&mut tx, p.id).await?;
        p.fit = model::fit(cfg, &p.attributes, orders).0;
    }
    let points = model::points(cfg, &t.kind, p.clicks).map_err(Error::invalid)?;
    let inserted = store::insert_touch(
        &mut tx,
        p.id,
        &t.channel,
        &t.kind,
        points,
        t.content_id,
        &t.idempotency_key,
        campaign.as_deref(),
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
    if let Some(rule) = model::qualifies(cfg, p.score, p.fit)
        && let Ok(to) = model::decide_lead(&p.key, p.status, LeadCommand::HandOff)
    {
        handed_off = Some(hand_to_sales(ctx, &mut tx, &mut p, to, source, Some(rule)).await?);
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
                "Segment {}, first touch {}{}, stage {}, fit {:.0}, owner {}. \
                 Why: `vivid journey lead show {}` (engagement by touch, timeline, next content).",
                p.segment,
                p.first_channel,
                p.source_campaign
                    .as_ref()
                    .map(|c| format!(" (campaign {c})"))
                    .unwrap_or_default(),
                p.stage,
                p.fit,
                p.owner
                    .as_deref()
                    .map_or_else(|| "not yet assigned".to_string(), |o| format!("@{o}")),
                p.key
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

/// The profile attributes given, each one the fit config knows.
fn check_attributes(ctx: &Ctx, given: &[String]) -> Result<Vec<String>> {
    let known = &super::config::settings(&ctx.config)?.fit.attributes;
    let mut out = Vec::new();
    for a in given {
        let a = a.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        if !known.contains_key(&a) {
            return Err(Error::invalid(format!(
                "unknown profile attribute {a:?} (attributes: {})",
                known.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// The lead's story in the event log.
fn story(key: &str) -> Option<String> {
    Some(format!("lead:{key}"))
}

/// Choose the lead's owner among Sales (rule, else round-robin with
/// capacity): (owner, how).
async fn route(
    ctx: &Ctx,
    conn: &mut PgConnection,
    p: &Prospect,
) -> Result<Option<(String, String)>> {
    let cfg = super::config::settings(&ctx.config)?;
    let owners: Vec<String> = if cfg.routing.owners.is_empty() {
        let mut v: Vec<String> = ctx
            .org
            .people
            .iter()
            .filter(|x| x.department == cfg.departments.sales)
            .map(|x| x.handle.clone())
            .collect();
        v.sort();
        v
    } else {
        cfg.routing.owners.clone()
    };
    let last = store::lock_routing(conn).await?;
    let loads = store::open_leads_by_owner(conn).await?;
    let load = |o: &str| loads.iter().find(|(h, _)| h == o).map_or(0, |(_, n)| *n);
    let chosen = model::route(
        &cfg.routing.rules,
        &owners,
        cfg.routing.capacity,
        &load,
        last.as_deref(),
        &p.segment,
        p.region.as_deref(),
    );
    if let Some((owner, how)) = &chosen
        && how == "round-robin"
    {
        store::save_routing(conn, owner).await?;
    }
    Ok(chosen)
}

/// Open the lead hand-off to Sales and move the prospect to `to` (handed
/// off, as the machine said): its owner routed, its brief (score
/// breakdown, fit, timeline, source, next content) in the hand-off.
async fn hand_to_sales(
    ctx: &Ctx,
    conn: &mut PgConnection,
    p: &mut Prospect,
    to: LeadStatus,
    actor: &str,
    rule: Option<String>,
) -> Result<i64> {
    let correlation = story(&p.key);
    // The brief reads the prospect as it stands now (its new score saved).
    store::save(conn, p).await?;
    let brief = super::read::brief_in(ctx, conn, p).await?;
    let routed = route(ctx, conn, p).await?;
    let fmt = |t| ctx.calendar.format_local(t);
    let mut open = crate::collab::Open::new(
        LEAD_HANDOFF,
        format!(
            "Lead {} ({}, engagement {:.0}, fit {:.0})",
            p.key, p.segment, brief.engagement, brief.fit
        ),
    )
    .field("score", p.score)
    .field("stage", p.stage.clone())
    .field("segment", p.segment.clone())
    .field("engagement", (brief.engagement * 10.0).round() / 10.0)
    .field("fit", brief.fit)
    .field("source_channel", p.first_channel.clone())
    .from_workflow(WORKFLOW, &p.key, correlation.clone());
    let lists = [
        ("breakdown", brief.breakdown_lines()),
        ("fit_breakdown", brief.fit_lines()),
        ("timeline", brief.timeline_lines(&fmt)),
    ];
    for (name, lines) in lists {
        if !lines.is_empty() {
            open = open.field(name, lines);
        }
    }
    for (name, v) in [
        ("campaign", p.source_campaign.clone()),
        ("region", p.region.clone()),
        (
            "next_content",
            brief
                .next_content
                .as_ref()
                .map(|(id, t)| format!("#{id} {t}")),
        ),
        ("owner", routed.as_ref().map(|(o, _)| o.clone())),
        ("routed_by", routed.as_ref().map(|(_, how)| how.clone())),
        ("rule", rule.clone()),
    ] {
        if let Some(v) = v {
            open = open.field(name, v);
        }
    }
    open.assignee = routed.as_ref().map(|(o, _)| o.clone());
    let h = crate::collab::open(ctx, conn, &open, actor).await?;
    let now = ctx.now();
    events::append(
        conn,
        &NewEvent::new(WORKFLOW, "prospect", &p.key, "handed_to_sales", actor)
            .transition(Some(p.status.as_str()), to.as_str())
            .correlation(correlation)
            .payload(serde_json::json!({
                "handoff_id": h.id,
                "score": p.score,
                "engagement": brief.engagement,
                "fit": brief.fit,
                "rule": rule,
                "owner": routed.as_ref().map(|(o, _)| o),
                "routed_by": routed.as_ref().map(|(_, how)| how),
            })),
        now,
    )
    .await?;
    p.status = to;
    p.handed_off_at = Some(now);
    p.owner = routed.map(|(o, _)| o);
    super::timers::ensure_review(ctx, conn).await?;
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
    hand_to_sales(ctx, &mut tx, &mut p, to, actor, None).await?;
    store::save(&mut tx, &p).await?;
    tx.commit().await?;
    Ok(p)
}

/// The lead's open hand-off (not done, declined or cancelled), if any.
async fn live_handoff(conn: &mut PgConnection, key: &str) -> Result<Option<handoffs::Handoff>> {
    let h = handoffs::latest_for(conn, WORKFLOW, key, LEAD_HANDOFF).await?;
    Ok(h.filter(|h| h.state().is_ok_and(|s| !s.is_terminal())))
}

/// Append a lead event in its story.
#[allow(clippy::too_many_arguments)]
async fn lead_event(
    ctx: &Ctx,
    conn: &mut PgConnection,
    key: &str,
    kind: &str,
    actor: &str,
    from: LeadStatus,
    to: LeadStatus,
    reason: Option<String>,
    payload: serde_json::Value,
) -> Result<()> {
    events::append(
        conn,
        &NewEvent::new(WORKFLOW, "prospect", key, kind, actor)
            .transition(Some(from.as_str()), to.as_str())
            .correlation(story(key))
            .maybe_reason(reason)
            .payload(payload),
        ctx.now(),
    )
    .await?;
    Ok(())
}

/// Sales accepts a lead handed to it (MQL → SQL): the hand-off is
/// acknowledged (its response clock stops); an unowned lead becomes the
/// acceptor's.
pub async fn accept(ctx: &Ctx, key: &str, actor: &str) -> Result<Prospect> {
    let d = &super::config::settings(&ctx.config)?.departments;
    member_of(ctx, actor, &d.sales, ", which accepts leads")?;
    let mut tx = ctx.pool.begin().await?;
    let mut p = store::lock_key(&mut tx, key).await?;
    let from = p.status;
    let to = lead_move(&p, LeadCommand::Accept)?;
    if let Some(h) = live_handoff(&mut tx, key).await?
        && h.status == "open"
    {
        handoffs::acknowledge(ctx, &mut tx, h.id, actor).await?;
    }
    let now = ctx.now();
    p.status = to;
    p.accepted_at = Some(now);
    p.accepted_by = Some(actor.into());
    if p.owner.is_none() {
        p.owner = Some(actor.into());
    }
    store::save(&mut tx, &p).await?;
    let owner = p.owner.clone();
    lead_event(
        ctx,
        &mut tx,
        key,
        "accepted",
        actor,
        from,
        to,
        None,
        serde_json::json!({ "owner": owner }),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// Sales has contacted the lead (it becomes an opportunity): this
/// acknowledges the hand-off if nobody had; a lead contacted straight from
/// the hand-off is accepted by the contact.
pub async fn contact(ctx: &Ctx, key: &str, actor: &str, note: &str) -> Result<Prospect> {
    let d = &super::config::settings(&ctx.config)?.departments;
    member_of(ctx, actor, &d.sales, "")?;
    let mut tx = ctx.pool.begin().await?;
    let mut p = store::lock_key(&mut tx, key).await?;
    let from = p.status;
    let contacted = lead_move(&p, LeadCommand::Contact)?;
    if let Some(h) = live_handoff(&mut tx, key).await?
        && h.status == "open"
    {
        handoffs::acknowledge(ctx, &mut tx, h.id, actor).await?;
    }
    let now = ctx.now();
    p.status = contacted;
    p.contacted_at = Some(now);
    p.contacted_by = Some(actor.into());
    if p.accepted_at.is_none() {
        p.accepted_at = Some(now);
        p.accepted_by = Some(actor.into());
    }
    if p.owner.is_none() {
        p.owner = Some(actor.into());
    }
    store::save(&mut tx, &p).await?;
    lead_event(
        ctx,
        &mut tx,
        key,
        "contacted",
        actor,
        from,
        contacted,
        (!note.trim().is_empty()).then(|| note.trim().to_string()),
        serde_json::json!({ "owner": p.owner }),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// Sales turns a lead down, with a reason: its hand-off is declined and
/// it returns to nurture after `recycle_after` (a timer).
pub async fn disqualify(ctx: &Ctx, key: &str, reason: &str, actor: &str) -> Result<Prospect> {
    let cfg = super::config::settings(&ctx.config)?;
    member_of(
        ctx,
        actor,
        &cfg.departments.sales,
        ", which disqualifies leads",
    )?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "disqualifying a lead needs a reason (--reason TEXT): Marketing learns from it",
        ));
    }
    ctx.config.limits.note("the reason", reason)?;
    let mut tx = ctx.pool.begin().await?;
    let mut p = store::lock_key(&mut tx, key).await?;
    let from = p.status;
    let to = lead_move(&p, LeadCommand::Disqualify)?;
    if let Some(h) = live_handoff(&mut tx, key).await? {
        handoffs::transition(
            ctx,
            &mut tx,
            h.id,
            handoffs::Command::Decline,
            actor,
            Some(&format!("lead disqualified: {reason}")),
        )
        .await?;
    }
    let now = ctx.now();
    let due = now + cfg.recycle_after.delta();
    p.status = to;
    p.disqualified_at = Some(now);
    p.disqualified_by = Some(actor.into());
    p.disqualify_reason = Some(reason.into());
    store::save(&mut tx, &p).await?;
    super::timers::start_recycle(&mut tx, key, due, now).await?;
    lead_event(
        ctx,
        &mut tx,
        key,
        "disqualified",
        actor,
        from,
        to,
        Some(reason.into()),
        serde_json::json!({ "recycle_at": due }),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// Back to nurture now (Sales or Marketing): the hand-off, if still open,
/// is declined (by Sales) or cancelled (by Marketing); the engagement score
/// starts again from zero and the lead loses its owner.
pub async fn recycle(ctx: &Ctx, key: &str, actor: &str) -> Result<Prospect> {
    let d = &super::config::settings(&ctx.config)?.departments;
    let person = ctx.org.actor(actor)?;
    if person.department != d.sales && person.department != d.marketing {
        return Err(Error::forbidden(format!(
            "{} is not in {} or {}, which recycle leads to nurture",
            person.label(),
            department_name(ctx, &d.sales),
            department_name(ctx, &d.marketing)
        )));
    }
    let mut tx = ctx.pool.begin().await?;
    // Refuse before touching anything: the machine says whether it may.
    let p = store::lock_key(&mut tx, key).await?;
    lead_move(&p, LeadCommand::Recycle)?;
    if let Some(h) = live_handoff(&mut tx, key).await? {
        let command = if person.department == d.sales {
            handoffs::Command::Decline
        } else {
            handoffs::Command::Cancel
        };
        handoffs::transition(
            ctx,
            &mut tx,
            h.id,
            command,
            actor,
            Some("lead recycled to nurture"),
        )
        .await?;
    }
    recycle_in(ctx, &mut tx, key, actor).await?;
    let p = store::lock_key(&mut tx, key).await?;
    tx.commit().await?;
    Ok(p)
}

/// Recycle in the caller's transaction (the timer's path too): a lead
/// that is no longer recyclable is left alone when the engine asks.
pub(super) async fn recycle_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    key: &str,
    actor: &str,
) -> Result<()> {
    let mut p = match store::lock_key(conn, key).await {
        Ok(p) => p,
        Err(Error::NotFound(_)) if actor == "engine" => return Ok(()),
        Err(e) => return Err(e),
    };
    let from = p.status;
    let to = match lead_move(&p, LeadCommand::Recycle) {
        Ok(to) => to,
        Err(_) if actor == "engine" => return Ok(()),
        Err(e) => return Err(e),
    };
    let now = ctx.now();
    p.status = to;
    p.score = 0.0;
    p.score_at = now;
    p.clicks = 0;
    p.alerted = false;
    p.stage = model::stage(super::config::settings(&ctx.config)?, 0.0);
    p.owner = None;
    p.recycled_at = Some(now);
    p.recycles += 1;
    store::save(conn, &p).await?;
    super::timers::cancel_recycle(conn, key).await?;
    lead_event(
        ctx,
        conn,
        key,
        "recycled",
        actor,
        from,
        to,
        Some("back to nurture".into()),
        serde_json::json!({ "recycles": p.recycles }),
    )
    .await
}

/// Give a lead to another Sales member: its owner (handing it on) or the
/// Sales director or a team lead. The hand-off follows.
pub async fn assign(ctx: &Ctx, key: &str, to: &str, actor: &str) -> Result<Prospect> {
    let d = &super::config::settings(&ctx.config)?.departments;
    let by = member_of(ctx, actor, &d.sales, ", which owns leads")?;
    let target = ctx.org.actor(to.trim())?;
    if target.department != d.sales {
        return Err(Error::invalid(format!(
            "{} is not in {}: leads are owned by Sales",
            target.label(),
            department_name(ctx, &d.sales)
        )));
    }
    let mut tx = ctx.pool.begin().await?;
    let mut p = store::lock_key(&mut tx, key).await?;
    let may = by.has_role(Role::Director)
        || by.has_role(Role::TeamLead)
        || p.owner.as_deref() == Some(actor);
    if !may {
        return Err(Error::forbidden(format!(
            "{} may not reassign {}: its owner, a team lead or the director may",
            by.label(),
            p.key
        )));
    }
    if !p.status.is_open_with_sales() {
        return Err(Error::invalid(format!(
            "{} is {}: only a lead with Sales has an owner",
            p.key,
            p.status.words()
        )));
    }
    if p.owner.as_deref() == Some(target.handle.as_str()) {
        return Err(Error::conflict(format!(
            "{} is already owned by {}",
            p.key,
            target.label()
        )));
    }
    let before = p.owner.clone();
    if let Some(h) = live_handoff(&mut tx, key).await? {
        handoffs::assign(ctx, &mut tx, h.id, Some(&target.handle), actor).await?;
    }
    p.owner = Some(target.handle.clone());
    store::save(&mut tx, &p).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "prospect", key, "lead_assigned", actor)
            .correlation(story(key))
            .payload(serde_json::json!({ "from": before, "to": p.owner })),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// The actor recording a sale on behalf of the shop (its order feed).
pub const SYSTEM: &str = "system";

/// An order: the prospect becomes (or stays) a customer. Recorded by Sales
/// or by the system (the shop's order feed, [`SYSTEM`]), nobody else. A
/// person from Sales closes the lead hand-off as done.
pub async fn convert(ctx: &Ctx, key: &str, value_cents: i64, actor: &str) -> Result<Prospect> {
    let cfg = super::config::settings(&ctx.config)?;
    let person = if actor == SYSTEM {
        None
    } else {
        Some(member_of(
            ctx,
            actor,
            &cfg.departments.sales,
            ", which records sales (or the shop's order feed, as the system)",
        )?)
    };
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
    if person.is_some()
        && let Some(h) = live_handoff(&mut tx, key).await?
    {
        if h.status == "open" {
            handoffs::transition(ctx, &mut tx, h.id, handoffs::Command::Start, actor, None).await?;
        }
        handoffs::transition(ctx, &mut tx, h.id, handoffs::Command::Done, actor, None).await?;
    }
    let orders = store::order_total(&mut tx, p.id).await?;
    p.fit = model::fit(cfg, &p.attributes, orders).0;
    p.status = customer;
    super::timers::cancel_recycle(&mut tx, key).await?;
    store::save(&mut tx, &p).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "prospect", key, "converted", actor)
            .transition(Some(from.as_str()), customer.as_str())
            .correlation(story(key))
            .payload(serde_json::json!({ "value_cents": value_cents, "first_channel": p.first_channel, "last_channel": p.last_channel, "campaign": p.source_campaign })),
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
        story(key),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// A prospect's profile: attributes the fit score counts (replacing the
/// old ones), region, segment. Marketing or Sales. A lead that now
/// qualifies under the hand-off rule is handed over.
pub async fn profile(
    ctx: &Ctx,
    key: &str,
    attributes: Option<&[String]>,
    region: Option<&str>,
    segment: Option<&str>,
    actor: &str,
) -> Result<Touched> {
    let cfg = super::config::settings(&ctx.config)?;
    let d = &cfg.departments;
    let person = ctx.org.actor(actor)?;
    if person.department != d.sales && person.department != d.marketing {
        return Err(Error::forbidden(format!(
            "{} is not in {} or {}, which keep prospects' profiles",
            person.label(),
            department_name(ctx, &d.marketing),
            department_name(ctx, &d.sales)
        )));
    }
    let attributes = attributes.map(|a| check_attributes(ctx, a)).transpose()?;
    let region = region.map(|r| clean_word("region", r)).transpose()?;
    let segment = segment.map(|r| clean_word("segment", r)).transpose()?;
    let mut tx = ctx.pool.begin().await?;
    let mut p = store::lock_key(&mut tx, key).await?;
    if let Some(a) = attributes {
        p.attributes = a;
    }
    if region.is_some() {
        p.region = region;
    }
    if let Some(s) = segment {
        p.segment = s;
    }
    let orders = store::order_total(&mut tx, p.id).await?;
    let before = p.fit;
    p.fit = model::fit(cfg, &p.attributes, orders).0;
    let now = ctx.now();
    let half_life = cfg.decay_half_life.delta().num_seconds() as f64;
    let engagement = model::decay(p.score, p.score_at, now, half_life);
    let mut handed_off = None;
    if let Some(rule) = model::qualifies(cfg, engagement, p.fit)
        && let Ok(to) = model::decide_lead(&p.key, p.status, LeadCommand::HandOff)
    {
        handed_off = Some(hand_to_sales(ctx, &mut tx, &mut p, to, actor, Some(rule)).await?);
    }
    store::save(&mut tx, &p).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "prospect", key, "profile_updated", actor)
            .correlation(story(key))
            .payload(serde_json::json!({
                "attributes": p.attributes, "region": p.region, "segment": p.segment,
                "fit_from": before, "fit": p.fit,
            })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Touched {
        prospect: p,
        scored: false,
        points: 0,
        handed_off,
        alerted: false,
    })
}

/// Say which segments and stages a content item suits (Marketing): the
/// next touch prefers it for those leads.
pub async fn target_content(
    ctx: &Ctx,
    content_id: i64,
    segments: &[String],
    stages: &[String],
    actor: &str,
) -> Result<()> {
    let cfg = super::config::settings(&ctx.config)?;
    member_of(
        ctx,
        actor,
        &cfg.departments.marketing,
        ", which targets content",
    )?;
    let segments: Vec<String> = segments
        .iter()
        .map(|s| clean_word("segment", s))
        .collect::<Result<_>>()?;
    for st in stages {
        if !cfg.stages.contains_key(st.trim()) {
            return Err(Error::invalid(format!(
                "unknown stage {st:?} (stages: {})",
                model::stage_order(cfg).join(", ")
            )));
        }
    }
    let stages: Vec<String> = stages.iter().map(|s| s.trim().to_string()).collect();
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    if !store::content_exists(&mut tx, content_id).await? {
        return Err(Error::not_found(format!("no content item #{content_id}")));
    }
    store::set_content_target(&mut tx, content_id, &segments, &stages, actor, now).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "content", content_id, "content_targeted", actor)
            .payload(serde_json::json!({ "segments": segments, "stages": stages })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A lead's contact details for the Sales member working it: a
/// purpose-bound read through the privacy workflow ("sales_contact"),
/// logged in its access log; nothing is copied into the journey.
pub async fn contact_details(
    ctx: &Ctx,
    master: &crate::privacy::crypto::MasterKey,
    key: &str,
    actor: &str,
) -> Result<crate::privacy::service::PiiRead> {
    let d = &super::config::settings(&ctx.config)?.departments;
    member_of(ctx, actor, &d.sales, ", which contacts leads")?;
    let p = get(ctx, key).await?;
    if !p.status.is_open_with_sales() && p.status != LeadStatus::Customer {
        return Err(Error::invalid(format!(
            "{} is {}: Sales reads contact details of leads handed to it",
            p.key,
            p.status.words()
        )));
    }
    crate::privacy::service::read(
        ctx,
        master,
        &crate::privacy::service::ReadRequest {
            subject: &p.key,
            fields: None,
            purpose: CONTACT_PURPOSE,
            actor,
        },
    )
    .await
}

/// The purpose of Sales' reads of a lead's contact details.
pub const CONTACT_PURPOSE: &str = "sales_contact";

/// A support request with the support SLA.
pub async fn ticket(ctx: &Ctx, key: &str, subject: &str, actor: &str) -> Result<Ticket> {
    ticket_with(ctx, key, subject, &[], None, actor).await
}

/// Tags a ticket may carry: "feature" sends a feature request to Product.
pub const TICKET_TAGS: [&str; 1] = ["feature"];
/// Tags feedback may carry: "product" sends product feedback to Product.
pub const FEEDBACK_TAGS: [&str; 1] = ["product"];

fn check_tags(tags: &[String], known: &[&str], what: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for t in tags {
        let t = t.trim().to_ascii_lowercase();
        if !known.contains(&t.as_str()) {
            return Err(Error::invalid(format!(
                "unknown {what} tag {t:?} (tags: {})",
                known.join(", ")
            )));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// A support request with the support SLA; tagged "feature", it also asks
/// Product for the feature (a `feature_request` hand-off from Support, in
/// the ticket's story `ticket:ID`).
pub async fn ticket_with(
    ctx: &Ctx,
    key: &str,
    subject: &str,
    tags: &[String],
    impact: Option<&str>,
    actor: &str,
) -> Result<Ticket> {
    ctx.org.actor(actor)?;
    let tags = check_tags(tags, &TICKET_TAGS, "ticket")?;
    if subject.trim().is_empty() {
        return Err(Error::invalid("a ticket needs a subject"));
    }
    ctx.config.limits.title("the subject", subject)?;
    if let Some(i) = impact {
        ctx.config.limits.note("the customer impact", i)?;
    }
    let mut tx = ctx.pool.begin().await?;
    let p = store::lock_key(&mut tx, key).await?;
    let now = ctx.now();
    let due = now + super::config::settings(&ctx.config)?.support_sla.delta();
    let t = store::insert_ticket(&mut tx, p.id, subject.trim(), due, actor, now).await?;
    timers::start_sla(&mut tx, t.id, due, now).await?;
    let correlation = Some(format!("ticket:{}", t.id));
    let mut feature = None;
    if tags.iter().any(|t| t == "feature") {
        let impact = impact
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("asked for by customer {} (ticket #{})", p.key, t.id));
        let o = crate::collab::Open::new(
            "feature_request",
            format!("Feature request: {}", subject.trim()),
        )
        .field("title", subject.trim())
        .field("customer_impact", impact)
        .field("frequency", 1)
        .field("tickets", vec![format!("#{}", t.id)])
        .from_workflow(WORKFLOW, format!("ticket:{}", t.id), correlation.clone());
        feature = Some(crate::collab::open(ctx, &mut tx, &o, actor).await?.id);
    }
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "ticket", t.id, "ticket_opened", actor)
            .transition(None::<&str>, t.status.as_str())
            .correlation(correlation)
            .reason(subject.trim().to_string())
            .payload(serde_json::json!({ "prospect": key, "due_at": due, "tags": tags, "feature_request": feature })),
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
    feedback_with(ctx, key, nps, csat, comment, &[], None)
        .await
        .map(|_| ())
}

/// Feedback as [`feedback`]; tagged "product", the comment also goes to
/// Product as product feedback (a `product_feedback` hand-off from
/// Marketing, in the lead's story). Returns that hand-off's id.
pub async fn feedback_with(
    ctx: &Ctx,
    key: &str,
    nps: Option<i32>,
    csat: Option<i32>,
    comment: &str,
    tags: &[String],
    product: Option<&str>,
) -> Result<Option<i64>> {
    let tags = check_tags(tags, &FEEDBACK_TAGS, "feedback")?;
    let to_product = tags.iter().any(|t| t == "product");
    let has_words = to_product && !comment.trim().is_empty();
    if nps.is_none() && csat.is_none() && !has_words {
        return Err(Error::invalid("give an NPS (0-10), a CSAT (1-5) or both"));
    }
    if nps.is_some_and(|n| !(0..=10).contains(&n)) {
        return Err(Error::invalid("NPS is a score from 0 to 10"));
    }
    if csat.is_some_and(|c| !(1..=5).contains(&c)) {
        return Err(Error::invalid("CSAT is a score from 1 to 5"));
    }
    ctx.config.limits.note("the comment", comment)?;
    if to_product && comment.trim().is_empty() {
        return Err(Error::invalid(
            "feedback tagged product needs the customer's words (--comment TEXT) for Product",
        ));
    }
    let product = product
        .map(|p| clean_word("product", p))
        .transpose()?
        .unwrap_or_else(|| "VividWalls".into());
    let mut tx = ctx.pool.begin().await?;
    let p = store::lock_key(&mut tx, key).await?;
    let now = ctx.now();
    store::insert_feedback(&mut tx, p.id, nps, csat, comment.trim(), now).await?;
    let mut handoff = None;
    if to_product {
        let marketing = &super::config::settings(&ctx.config)?.departments.marketing;
        // Marketing owns customer feedback; its director sends it on.
        let sender = ctx
            .org
            .director_of(marketing)
            .map_or_else(|| "customer".to_string(), |d| d.handle.clone());
        let o =
            crate::collab::Open::new("product_feedback", format!("Product feedback: {product}"))
                .field("product", product.clone())
                .field("feedback", comment.trim())
                .field("source", format!("journey feedback from {}", p.key))
                .field("customers", 1)
                .from_workflow(WORKFLOW, &p.key, story(&p.key));
        handoff = Some(crate::collab::open(ctx, &mut tx, &o, &sender).await?.id);
    }
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "prospect", key, "feedback", "customer")
            .correlation(story(key))
            .payload(serde_json::json!({ "nps": nps, "csat": csat, "tags": tags, "product_feedback": handoff })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(handoff)
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
    /// The campaign data hand-off to Sales.
    pub handoff_id: i64,
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
    let name = ctx.config.limits.title("the campaign name", name)?;
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
    let correlation = Some(format!("campaign:{id}"));
    // Campaign launch → campaign data to Sales (issue 15's edge).
    let o = crate::collab::Open::new("campaign_data", format!("Campaign data: {name}"))
        .field("campaign", name.to_string())
        .field(
            "period",
            format!("from {}", ctx.calendar.local_date(now).format("%Y-%m-%d")),
        )
        .field(
            "metrics",
            format!(
                "{} audience: {} satisfied customers; e-mail is content #{}",
                kind.replace('_', "-"),
                ids.len(),
                item.id
            ),
        )
        .from_workflow(WORKFLOW, format!("campaign:{id}"), correlation.clone());
    let handoff = crate::collab::open(ctx, &mut tx, &o, actor).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "campaign", id, "campaign_started", actor)
            .reason(name.to_string())
            .correlation(correlation)
            .payload(
                serde_json::json!({ "kind": kind, "audience": ids.len(), "content_id": item.id, "campaign_data": handoff.id }),
            ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Campaign {
        handoff_id: handoff.id,
        id,
        name: name.into(),
        kind: kind.into(),
        audience: audience.into_iter().map(|(_, k)| k).collect(),
        content_id: item.id,
    })
}
