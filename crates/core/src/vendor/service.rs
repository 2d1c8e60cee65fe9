//! Vendor commands: one transaction each (lock the vendor, ask the state
//! machine, write rows, the event, approvals, clocks and notifications).
//! Who may act comes from `[vendor]`; awards and failed improvement plans
//! are decided through the engine's approvals.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::config::{ScoreCriterion, VendorConfig, role_refs, settings};
use super::model::{
    self, Command, CriterionResult, CriterionScore, DeliveryStats, Notice, Period, ProposalStatus,
    Receipt, RfpState, State,
};
use super::store::{self, Contract, Plan, Proposal, Rfp, ScorecardRow, Vendor};
use super::{WORKFLOW, timers};
use crate::crisis::Severity;
use crate::crisis::service::{NewIncident, Source};
use crate::engine::Ctx;
use crate::engine::approvals::{self, ApprovalRequest, Decision, NewApproval, Outcome};
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::error::{Error, Result};
use crate::org::{Person, RoleRef, or_list};

// ---- roles and helpers -----------------------------------------------------------------

fn cfg(ctx: &Ctx) -> Result<&VendorConfig> {
    settings(&ctx.config)
}

/// `[vendor] manage`: add vendors, run RFPs, record deliveries and reviews.
fn require_manager(ctx: &Ctx, actor: &str, what: &str) -> Result<Person> {
    let person = ctx.org.actor(actor)?.clone();
    let roles = role_refs("vendor.manage", &cfg(ctx)?.manage)?;
    if ctx.org.holds_any(&person, &roles) {
        return Ok(person);
    }
    let who: Vec<String> = roles.iter().map(|r| ctx.org.describe_role(r)).collect();
    Err(Error::forbidden(format!(
        "{} cannot {what}: it takes {}",
        person.label(),
        or_list(&who)
    )))
}

/// Renewals and ends: the owner department's director or the business manager.
fn require_decider(ctx: &Ctx, actor: &str, what: &str) -> Result<Person> {
    let person = ctx.org.actor(actor)?.clone();
    let dept = &cfg(ctx)?.owner_department;
    let roles = role_refs(
        "vendor.owner_department",
        &[format!("director:{dept}"), "business_manager".to_string()],
    )?;
    if ctx.org.holds_any(&person, &roles) {
        return Ok(person);
    }
    let who: Vec<String> = roles.iter().map(|r| ctx.org.describe_role(r)).collect();
    Err(Error::forbidden(format!(
        "{} cannot {what}: it takes {}",
        person.label(),
        or_list(&who)
    )))
}

fn refusal(r: model::Refusal, v: &Vendor) -> Error {
    Error::invalid(format!("vendor {} ({}): {}", v.name, v.state, r.0))
}

/// Move a vendor with `command`; returns where it was.
fn apply(v: &mut Vendor, command: Command, now: DateTime<Utc>) -> Result<State> {
    let from = v.state;
    v.state = model::decide(from, command).map_err(|r| refusal(r, v))?;
    if v.state != from {
        v.updated_at = now;
    }
    Ok(from)
}

/// Append an event on the vendor (now in its new state) moved from `from`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn record(
    ctx: &Ctx,
    conn: &mut PgConnection,
    v: &Vendor,
    action: &str,
    actor: &str,
    from: Option<State>,
    reason: Option<String>,
    payload: serde_json::Value,
) -> Result<()> {
    let event = NewEvent::new(WORKFLOW, "vendor", v.id, action, actor)
        .transition(from.map(|s| s.as_str()), v.state.as_str())
        .maybe_reason(reason)
        .correlation(Some(format!("vendor:{}", v.id)))
        .payload(payload);
    events::append(conn, &event, ctx.now()).await?;
    Ok(())
}

/// Everyone holding any of these roles (role references from config).
pub(super) fn people_in(ctx: &Ctx, key: &str, roles: &[String]) -> Result<Vec<String>> {
    let refs = role_refs(key, roles)?;
    let mut out: Vec<String> = Vec::new();
    for r in &refs {
        for p in ctx.org.with_role(r) {
            if !out.contains(&p.handle) {
                out.push(p.handle.clone());
            }
        }
    }
    Ok(out)
}

/// The local date today in the org's time zone.
pub fn today(ctx: &Ctx) -> NaiveDate {
    ctx.calendar.local_date(ctx.now())
}

// ---- vendors ----------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct NewVendor {
    pub name: String,
    pub category: String,
    pub critical: bool,
}

/// Add a vendor as a prospect.
pub async fn add(ctx: &Ctx, new: &NewVendor, actor: &str) -> Result<Vendor> {
    require_manager(ctx, actor, "add vendors")?;
    let name = new.name.trim();
    if name.is_empty() || name.len() > 120 || name.starts_with('#') {
        return Err(Error::invalid(
            "a vendor needs a name (at most 120 characters, not starting with #)",
        ));
    }
    let c = cfg(ctx)?;
    let category = new.category.trim().to_ascii_lowercase();
    if !c.categories.contains(&category) {
        return Err(Error::invalid(format!(
            "unknown vendor category {:?} (categories: {})",
            new.category,
            c.categories.join(", ")
        )));
    }
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let v = store::insert_vendor(&mut tx, name, &category, new.critical, actor, now).await?;
    record(
        ctx,
        &mut tx,
        &v,
        "created",
        actor,
        None,
        Some(v.name.clone()),
        serde_json::json!({ "category": v.category, "critical": v.critical }),
    )
    .await?;
    timers::ensure_review_cycle(ctx, &mut tx).await?;
    tx.commit().await?;
    Ok(v)
}

/// What recording a contact stored: the privacy subject and field names
/// (never the values).
#[derive(Debug, Clone, Serialize)]
pub struct ContactRecorded {
    pub vendor: String,
    pub subject: String,
    pub fields: Vec<String>,
    pub pii_fields: Vec<String>,
}

/// Record a vendor contact's personal data through the privacy workflow
/// (classified, PII sealed under the subject `vendor-ID`); the vendor keeps
/// only the subject reference.
pub async fn set_contact(
    ctx: &Ctx,
    key: &crate::privacy::crypto::MasterKey,
    vendor: &str,
    fields: &[(String, String)],
    actor: &str,
) -> Result<ContactRecorded> {
    require_manager(ctx, actor, "record vendor contacts")?;
    if fields.is_empty() {
        return Err(Error::invalid(
            "name a contact field (--contact-name, --contact-email, --contact-phone)",
        ));
    }
    let v = {
        let mut conn = ctx.pool.acquire().await?;
        store::vendor(&mut conn, vendor, false).await?
    };
    let subject = format!("vendor-{}", v.id);
    let collected =
        crate::privacy::service::collect(ctx, key, Some(&subject), fields, actor).await?;
    let mut tx = ctx.pool.begin().await?;
    let mut v = store::vendor_by_id(&mut tx, v.id, true).await?;
    v.contact_subject = Some(collected.subject.clone());
    v.updated_at = ctx.now();
    store::save_vendor(&mut tx, &v).await?;
    let names: Vec<String> = collected.fields.iter().map(|f| f.field.clone()).collect();
    let pii: Vec<String> = collected
        .fields
        .iter()
        .filter(|f| f.pii)
        .map(|f| f.field.clone())
        .collect();
    record(
        ctx,
        &mut tx,
        &v,
        "contact_recorded",
        actor,
        Some(v.state),
        None,
        serde_json::json!({ "subject": collected.subject, "fields": names, "pii_fields": pii }),
    )
    .await?;
    tx.commit().await?;
    Ok(ContactRecorded {
        vendor: v.name,
        subject: collected.subject,
        fields: names,
        pii_fields: pii,
    })
}

pub async fn list(ctx: &Ctx, state: Option<State>) -> Result<Vec<Vendor>> {
    let mut conn = ctx.pool.acquire().await?;
    store::list_vendors(&mut conn, state, 1000).await
}

/// A vendor with its contract, latest scorecards, open plan and KPIs.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    pub vendor: Vendor,
    pub contract: Option<Contract>,
    pub contracts: Vec<Contract>,
    pub scorecards: Vec<ScorecardRow>,
    pub plan: Option<Plan>,
    pub checkins: Vec<store::Checkin>,
    /// The current period's delivery figures (null where there is no data).
    pub current: DeliveryStats,
    pub period: Period,
}

pub async fn detail(ctx: &Ctx, name: &str) -> Result<Detail> {
    let mut conn = ctx.pool.acquire().await?;
    let vendor = store::vendor(&mut conn, name, false).await?;
    let contracts = store::contracts_of(&mut conn, vendor.id).await?;
    let contract = contracts
        .iter()
        .find(|c| c.status == "active" || c.status == "ending")
        .cloned();
    let scorecards = store::scorecards(&mut conn, vendor.id, 24).await?;
    let plan = store::plans(&mut conn, Some(vendor.id), 1)
        .await?
        .into_iter()
        .next();
    let checkins = match &plan {
        Some(p) => store::checkins(&mut conn, p.id).await?,
        None => Vec::new(),
    };
    let period = Period::of(today(ctx));
    let (current, _) = period_stats(ctx, &mut conn, &vendor, period).await?;
    Ok(Detail {
        vendor,
        contract,
        contracts,
        scorecards,
        plan,
        checkins,
        current,
        period,
    })
}

// ---- RFPs -------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct NewRfp {
    pub title: String,
    pub requirements: String,
    /// (name, weight) pairs; weights total 100.
    pub criteria: Vec<(String, u32)>,
    pub deal_breakers: Vec<String>,
    /// People who score proposals (default: the owner).
    pub evaluators: Vec<String>,
    pub due_at: Option<DateTime<Utc>>,
}

/// Open an RFP owned by `actor`.
pub async fn new_rfp(ctx: &Ctx, new: &NewRfp, actor: &str) -> Result<(Rfp, Vec<model::Criterion>)> {
    require_manager(ctx, actor, "open RFPs")?;
    let title = new.title.trim();
    if title.is_empty() {
        return Err(Error::invalid("an RFP needs a title"));
    }
    let criteria =
        model::rfp_criteria(&new.criteria, &new.deal_breakers).map_err(|r| Error::invalid(r.0))?;
    let mut evaluators: Vec<String> = Vec::new();
    for e in &new.evaluators {
        let p = ctx.org.actor(e.trim())?;
        if !evaluators.contains(&p.handle) {
            evaluators.push(p.handle.clone());
        }
    }
    if evaluators.is_empty() {
        evaluators.push(actor.to_string());
    }
    let now = ctx.now();
    if let Some(d) = new.due_at
        && d <= now
    {
        return Err(Error::invalid("the RFP's due date must be in the future"));
    }
    let mut tx = ctx.pool.begin().await?;
    let rfp = store::insert_rfp(
        &mut tx,
        title,
        actor,
        new.requirements.trim(),
        &evaluators,
        new.due_at,
        &criteria,
        now,
    )
    .await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "rfp", rfp.id, "rfp_opened", actor)
            .transition(None::<&str>, RfpState::Open.as_str())
            .reason(rfp.title.clone())
            .correlation(Some(format!("rfp:{}", rfp.id)))
            .payload(serde_json::json!({ "criteria": criteria, "evaluators": evaluators })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((rfp, criteria))
}

pub async fn rfps(ctx: &Ctx) -> Result<Vec<Rfp>> {
    let mut conn = ctx.pool.acquire().await?;
    store::list_rfps(&mut conn, 200).await
}

fn open_rfp(rfp: &Rfp) -> Result<()> {
    match rfp.state {
        RfpState::Open => Ok(()),
        RfpState::Awarding => Err(Error::conflict(format!(
            "RFP #{} is waiting for its award's approval",
            rfp.id
        ))),
        RfpState::Awarded => Err(Error::conflict(format!(
            "RFP #{} is awarded already",
            rfp.id
        ))),
    }
}

async fn rfp_event(
    ctx: &Ctx,
    conn: &mut PgConnection,
    rfp: &Rfp,
    action: &str,
    actor: &str,
    payload: serde_json::Value,
) -> Result<()> {
    events::append(
        conn,
        &NewEvent::new(WORKFLOW, "rfp", rfp.id, action, actor)
            .correlation(Some(format!("rfp:{}", rfp.id)))
            .payload(payload),
        ctx.now(),
    )
    .await?;
    Ok(())
}

/// Invite a vendor to an RFP.
pub async fn invite(ctx: &Ctx, rfp_key: &str, vendor: &str, actor: &str) -> Result<Vendor> {
    require_manager(ctx, actor, "invite vendors")?;
    let mut tx = ctx.pool.begin().await?;
    let rfp = store::rfp(&mut tx, rfp_key, true).await?;
    open_rfp(&rfp)?;
    let mut v = store::vendor(&mut tx, vendor, true).await?;
    if store::proposal(&mut tx, rfp.id, v.id).await?.is_some() {
        return Err(Error::conflict(format!(
            "{} is invited to RFP #{} already",
            v.name, rfp.id
        )));
    }
    let now = ctx.now();
    let from = apply(&mut v, Command::Invite, now)?;
    store::insert_proposal(&mut tx, rfp.id, v.id, now).await?;
    store::save_vendor(&mut tx, &v).await?;
    record(
        ctx,
        &mut tx,
        &v,
        "invited",
        actor,
        Some(from),
        Some(format!("RFP #{} {}", rfp.id, rfp.title)),
        serde_json::json!({ "rfp_id": rfp.id }),
    )
    .await?;
    tx.commit().await?;
    Ok(v)
}

/// Record a vendor's proposal: its price and terms.
pub async fn propose(
    ctx: &Ctx,
    rfp_key: &str,
    vendor: &str,
    price_cents: i64,
    terms: &str,
    actor: &str,
) -> Result<Proposal> {
    require_manager(ctx, actor, "record proposals")?;
    if price_cents < 0 {
        return Err(Error::invalid("a price cannot be negative"));
    }
    let mut tx = ctx.pool.begin().await?;
    let rfp = store::rfp(&mut tx, rfp_key, true).await?;
    open_rfp(&rfp)?;
    let mut v = store::vendor(&mut tx, vendor, true).await?;
    let mut p = store::proposal(&mut tx, rfp.id, v.id)
        .await?
        .ok_or_else(|| {
            Error::invalid(format!(
                "{} is not invited to RFP #{}: vivid vendor rfp invite {} {:?}",
                v.name, rfp.id, rfp.id, v.name
            ))
        })?;
    if !matches!(p.status, ProposalStatus::Invited | ProposalStatus::Proposed) {
        return Err(Error::conflict(format!(
            "{}'s proposal to RFP #{} is {}",
            v.name,
            rfp.id,
            p.status.as_str()
        )));
    }
    let now = ctx.now();
    let from = apply(&mut v, Command::Propose, now)?;
    p.status = ProposalStatus::Proposed;
    p.price_cents = Some(price_cents);
    p.terms = terms.trim().to_string();
    p.proposed_at = Some(now);
    store::save_proposal(&mut tx, &p).await?;
    store::save_vendor(&mut tx, &v).await?;
    record(
        ctx,
        &mut tx,
        &v,
        "proposed",
        actor,
        Some(from),
        None,
        serde_json::json!({ "rfp_id": rfp.id, "price_cents": price_cents }),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// One evaluator scores criteria of one proposal (0-10 each). Criteria
/// not named stay unscored; they are never zero.
pub async fn score(
    ctx: &Ctx,
    rfp_key: &str,
    vendor: &str,
    scores: &[(String, f64)],
    actor: &str,
) -> Result<Ranking> {
    ctx.org.actor(actor)?;
    if scores.is_empty() {
        return Err(Error::invalid("give at least one --criterion NAME=SCORE"));
    }
    let mut tx = ctx.pool.begin().await?;
    let rfp = store::rfp(&mut tx, rfp_key, true).await?;
    open_rfp(&rfp)?;
    if !rfp.evaluators.iter().any(|e| e == actor) {
        return Err(Error::forbidden(format!(
            "@{actor} is not an evaluator of RFP #{} (evaluators: {})",
            rfp.id,
            rfp.evaluators.join(", ")
        )));
    }
    let v = store::vendor(&mut tx, vendor, false).await?;
    let p = store::proposal(&mut tx, rfp.id, v.id)
        .await?
        .ok_or_else(|| Error::invalid(format!("{} has no proposal in RFP #{}", v.name, rfp.id)))?;
    if p.status != ProposalStatus::Proposed {
        return Err(Error::conflict(format!(
            "{}'s proposal is {}: only proposals are scored",
            v.name,
            p.status.as_str()
        )));
    }
    let criteria = store::criteria(&mut tx, rfp.id).await?;
    let now = ctx.now();
    for (name, s) in scores {
        if !criteria.iter().any(|c| &c.name == name) {
            let names: Vec<&str> = criteria.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::invalid(format!(
                "RFP #{} has no criterion {name:?} (criteria: {})",
                rfp.id,
                names.join(", ")
            )));
        }
        model::check_rfp_score(name, *s).map_err(|r| Error::invalid(r.0))?;
        store::put_score(&mut tx, rfp.id, v.id, name, actor, *s, now).await?;
    }
    let given: BTreeMap<&str, f64> = scores.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    rfp_event(
        ctx,
        &mut tx,
        &rfp,
        "scored",
        actor,
        serde_json::json!({ "vendor_id": v.id, "scores": given }),
    )
    .await?;
    let ranking = ranking_in(ctx, &mut tx, rfp).await?;
    tx.commit().await?;
    Ok(ranking)
}

/// The RFP owner overrides the consensus of one criterion, with a reason.
pub async fn override_consensus(
    ctx: &Ctx,
    rfp_key: &str,
    vendor: &str,
    criterion: &str,
    score: f64,
    reason: &str,
    actor: &str,
) -> Result<Ranking> {
    ctx.org.actor(actor)?;
    if reason.trim().is_empty() {
        return Err(Error::invalid("an override needs a reason (--reason)"));
    }
    model::check_rfp_score(criterion, score).map_err(|r| Error::invalid(r.0))?;
    let mut tx = ctx.pool.begin().await?;
    let rfp = store::rfp(&mut tx, rfp_key, true).await?;
    open_rfp(&rfp)?;
    if rfp.owner != actor {
        return Err(Error::forbidden(format!(
            "only the RFP's owner (@{}) overrides a consensus",
            rfp.owner
        )));
    }
    let v = store::vendor(&mut tx, vendor, false).await?;
    if store::proposal(&mut tx, rfp.id, v.id).await?.is_none() {
        return Err(Error::invalid(format!(
            "{} has no proposal in RFP #{}",
            v.name, rfp.id
        )));
    }
    let criterion = criterion.trim().to_ascii_lowercase();
    if !store::criteria(&mut tx, rfp.id)
        .await?
        .iter()
        .any(|c| c.name == criterion)
    {
        return Err(Error::invalid(format!(
            "RFP #{} has no criterion {criterion:?}",
            rfp.id
        )));
    }
    let now = ctx.now();
    store::put_override(
        &mut tx,
        rfp.id,
        v.id,
        &criterion,
        score,
        reason.trim(),
        actor,
        now,
    )
    .await?;
    rfp_event(
        ctx,
        &mut tx,
        &rfp,
        "consensus_overridden",
        actor,
        serde_json::json!({ "vendor_id": v.id, "criterion": criterion, "score": score, "reason": reason.trim() }),
    )
    .await?;
    let ranking = ranking_in(ctx, &mut tx, rfp).await?;
    tx.commit().await?;
    Ok(ranking)
}

/// One proposal in the ranking.
#[derive(Debug, Clone, Serialize)]
pub struct RankEntry {
    pub rank: Option<usize>,
    pub vendor: String,
    pub vendor_id: i64,
    pub status: ProposalStatus,
    pub price_cents: Option<i64>,
    /// Weighted total 0-100; null while a weighted criterion is unscored.
    pub total: Option<f64>,
    pub out: bool,
    pub failed_deal_breakers: Vec<String>,
    pub criteria: Vec<CriterionResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    pub rfp: Rfp,
    pub criteria: Vec<store::CriterionRow>,
    pub entries: Vec<RankEntry>,
}

pub async fn rank(ctx: &Ctx, rfp_key: &str) -> Result<Ranking> {
    let mut conn = ctx.pool.acquire().await?;
    let rfp = store::rfp(&mut conn, rfp_key, false).await?;
    ranking_in(ctx, &mut conn, rfp).await
}

async fn ranking_in(ctx: &Ctx, conn: &mut PgConnection, rfp: Rfp) -> Result<Ranking> {
    let min = cfg(ctx)?.award.deal_breaker_min;
    let criteria = store::criteria(conn, rfp.id).await?;
    let proposals = store::proposals(conn, rfp.id).await?;
    let scores = store::scores(conn, rfp.id).await?;
    let overrides = store::overrides(conn, rfp.id).await?;
    let mut entries: Vec<RankEntry> = proposals
        .into_iter()
        .map(|p| {
            let results: Vec<CriterionResult> = criteria
                .iter()
                .map(|c| {
                    let given: BTreeMap<String, f64> = scores
                        .iter()
                        .filter(|s| s.vendor_id == p.vendor_id && s.criterion == c.name)
                        .map(|s| (s.evaluator.clone(), s.score))
                        .collect();
                    let listed: Vec<Option<f64>> = rfp
                        .evaluators
                        .iter()
                        .map(|e| given.get(e).copied())
                        .chain(
                            given
                                .iter()
                                .filter(|(e, _)| !rfp.evaluators.contains(e))
                                .map(|(_, s)| Some(*s)),
                        )
                        .collect();
                    let o = overrides
                        .iter()
                        .find(|o| o.vendor_id == p.vendor_id && o.criterion == c.name);
                    CriterionResult {
                        name: c.name.clone(),
                        weight: u32::try_from(c.weight).unwrap_or(0),
                        deal_breaker: c.deal_breaker,
                        scores: given,
                        consensus: o.map(|o| o.score).or_else(|| model::consensus(&listed)),
                        overridden: o.is_some(),
                    }
                })
                .collect();
            let failed = model::failed_deal_breakers(&results, min);
            let out = !failed.is_empty() || p.status == ProposalStatus::Out;
            RankEntry {
                rank: None,
                vendor: p.vendor.clone(),
                vendor_id: p.vendor_id,
                status: p.status,
                price_cents: p.price_cents,
                total: model::weighted_total(&results),
                out,
                failed_deal_breakers: failed,
                criteria: results,
            }
        })
        .collect();
    let competing = |e: &RankEntry| {
        !e.out
            && matches!(
                e.status,
                ProposalStatus::Proposed | ProposalStatus::Awarding | ProposalStatus::Awarded
            )
    };
    entries.sort_by(|a, b| {
        competing(b)
            .cmp(&competing(a))
            .then(b.total.is_some().cmp(&a.total.is_some()))
            .then(b.total.unwrap_or(0.0).total_cmp(&a.total.unwrap_or(0.0)))
            .then(a.price_cents.cmp(&b.price_cents))
    });
    let mut n = 0;
    for e in entries.iter_mut() {
        if competing(e) && e.total.is_some() {
            n += 1;
            e.rank = Some(n);
        }
    }
    Ok(Ranking {
        rfp,
        criteria,
        entries,
    })
}

/// What asking for an award did.
#[derive(Debug, Clone, Serialize)]
pub struct AwardAsked {
    pub rfp: Rfp,
    pub vendor: Vendor,
    pub approval: ApprovalRequest,
}

/// Ask to award an RFP to a vendor: approval by every award approver, and
/// the business manager too above the configured value.
pub async fn award(ctx: &Ctx, rfp_key: &str, vendor: &str, actor: &str) -> Result<AwardAsked> {
    require_manager(ctx, actor, "award RFPs")?;
    let c = cfg(ctx)?;
    let mut tx = ctx.pool.begin().await?;
    let mut rfp = store::rfp(&mut tx, rfp_key, true).await?;
    open_rfp(&rfp)?;
    let mut v = store::vendor(&mut tx, vendor, true).await?;
    let ranking = ranking_in(ctx, &mut tx, rfp.clone()).await?;
    let entry = ranking
        .entries
        .iter()
        .find(|e| e.vendor_id == v.id)
        .ok_or_else(|| Error::invalid(format!("{} has no proposal in RFP #{}", v.name, rfp.id)))?;
    if entry.status != ProposalStatus::Proposed {
        return Err(Error::invalid(format!(
            "{}'s proposal is {}: only a proposal can be awarded",
            v.name,
            entry.status.as_str()
        )));
    }
    if entry.out {
        return Err(Error::invalid(format!(
            "{} fails the deal breaker(s) {}: it is out",
            v.name,
            entry.failed_deal_breakers.join(", ")
        )));
    }
    if entry.total.is_none() {
        return Err(Error::invalid(format!(
            "{}'s proposal is not fully scored: every weighted criterion needs a score",
            v.name
        )));
    }
    let price = entry.price_cents.unwrap_or(0);
    let mut roles = c.award.approvers.clone();
    if price > c.award.above_cents {
        roles.extend(c.award.also_above.iter().cloned());
    }
    let eligible = role_refs("vendor.award.approvers", &roles)?;
    let now = ctx.now();
    let approval = approvals::request(
        ctx,
        &mut tx,
        &NewApproval {
            workflow: WORKFLOW.into(),
            entity_id: format!("rfp:{}", rfp.id),
            subject_version: i32::try_from(v.id).unwrap_or(0),
            title: format!(
                "Award RFP #{} {} to {} ({})",
                rfp.id,
                rfp.title,
                v.name,
                model::money(price)
            ),
            requested_by: actor.into(),
            required: u32::try_from(eligible.len()).unwrap_or(1),
            eligible,
            must_include: Vec::new(),
            deadline: Some(now + c.award.approval_deadline.delta()),
        },
    )
    .await?;
    let from = apply(&mut v, Command::Award, now)?;
    let mut p = store::proposal(&mut tx, rfp.id, v.id)
        .await?
        .ok_or_else(|| Error::internal("the proposal vanished"))?;
    p.status = ProposalStatus::Awarding;
    store::save_proposal(&mut tx, &p).await?;
    rfp.state = RfpState::Awarding;
    rfp.approval_id = Some(approval.id);
    rfp.updated_at = now;
    store::save_rfp(&mut tx, &rfp).await?;
    store::save_vendor(&mut tx, &v).await?;
    record(
        ctx,
        &mut tx,
        &v,
        "award_requested",
        actor,
        Some(from),
        Some(format!("RFP #{} {}", rfp.id, rfp.title)),
        serde_json::json!({ "rfp_id": rfp.id, "approval_id": approval.id, "price_cents": price, "total": entry.total }),
    )
    .await?;
    tx.commit().await?;
    Ok(AwardAsked {
        rfp,
        vendor: v,
        approval,
    })
}

/// What an award decision did.
#[derive(Debug, Clone, Serialize)]
pub struct AwardDecided {
    pub rfp: Rfp,
    pub outcome: Outcome,
}

/// Decide an RFP's pending award (through the approvals engine).
pub async fn decide_award(
    ctx: &Ctx,
    rfp_id: i64,
    actor: &str,
    decision: Decision,
    comment: &str,
) -> Result<AwardDecided> {
    ctx.org.actor(actor)?;
    let mut tx = ctx.pool.begin().await?;
    let mut rfp = store::rfp_by_id(&mut tx, rfp_id, true).await?;
    let request_id = match (rfp.state, rfp.approval_id) {
        (RfpState::Awarding, Some(a)) => a,
        _ => {
            return Err(Error::invalid(format!(
                "RFP #{rfp_id} has no award waiting for approval"
            )));
        }
    };
    let (_req, outcome) =
        approvals::decide(ctx, &mut tx, request_id, actor, decision, comment, None).await?;
    let now = ctx.now();
    let proposals = store::proposals(&mut tx, rfp.id).await?;
    let Some(winner) = proposals
        .iter()
        .find(|p| p.status == ProposalStatus::Awarding)
        .cloned()
    else {
        return Err(Error::internal(format!(
            "RFP #{rfp_id} is awarding but no proposal is"
        )));
    };
    match outcome {
        Outcome::Approved => {
            let min = cfg(ctx)?.award.deal_breaker_min;
            let ranking = ranking_in(ctx, &mut tx, rfp.clone()).await?;
            for mut p in proposals {
                let mut v = store::vendor_by_id(&mut tx, p.vendor_id, true).await?;
                let (status, command, action) = if p.vendor_id == winner.vendor_id {
                    (ProposalStatus::Awarded, Command::AwardApproved, "awarded")
                } else if matches!(p.status, ProposalStatus::Invited | ProposalStatus::Proposed) {
                    let out = ranking
                        .entries
                        .iter()
                        .any(|e| e.vendor_id == p.vendor_id && e.out);
                    (
                        if out {
                            ProposalStatus::Out
                        } else {
                            ProposalStatus::Refused
                        },
                        Command::Lose,
                        "refused",
                    )
                } else {
                    continue;
                };
                p.status = status;
                store::save_proposal(&mut tx, &p).await?;
                let from = apply(&mut v, command, now)?;
                store::save_vendor(&mut tx, &v).await?;
                record(
                    ctx,
                    &mut tx,
                    &v,
                    action,
                    actor,
                    Some(from),
                    Some(format!("RFP #{} {}", rfp.id, rfp.title)),
                    serde_json::json!({ "rfp_id": rfp.id, "approval_id": request_id, "deal_breaker_min": min }),
                )
                .await?;
            }
            rfp.state = RfpState::Awarded;
            rfp.awarded_vendor_id = Some(winner.vendor_id);
        }
        Outcome::Rejected | Outcome::ChangesRequested => {
            let mut p = winner.clone();
            p.status = ProposalStatus::Proposed;
            store::save_proposal(&mut tx, &p).await?;
            let mut v = store::vendor_by_id(&mut tx, p.vendor_id, true).await?;
            let from = apply(&mut v, Command::AwardRejected, now)?;
            store::save_vendor(&mut tx, &v).await?;
            record(
                ctx,
                &mut tx,
                &v,
                "award_rejected",
                actor,
                Some(from),
                (!comment.trim().is_empty()).then(|| comment.trim().to_string()),
                serde_json::json!({ "rfp_id": rfp.id, "approval_id": request_id }),
            )
            .await?;
            rfp.state = RfpState::Open;
            rfp.approval_id = None;
        }
        Outcome::Pending { .. } | Outcome::AlreadyApproved => {}
    }
    rfp.updated_at = now;
    store::save_rfp(&mut tx, &rfp).await?;
    tx.commit().await?;
    Ok(AwardDecided { rfp, outcome })
}

// ---- contracts ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct NewContract {
    pub vendor: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub monthly_cents: i64,
    pub auto_renew: bool,
    /// Default: `[vendor.contract] default_notice`.
    pub notice: Option<String>,
    /// The budget line (department, channel) its billing is committed to.
    pub budget: Option<(String, String)>,
}

/// Sign a contract with an awarded (or serving) vendor. Its notice date is
/// end − notice; its renewal clock starts; it starts the vendor's service
/// on its start date.
pub async fn new_contract(ctx: &Ctx, new: &NewContract, actor: &str) -> Result<Contract> {
    require_manager(ctx, actor, "sign contracts")?;
    let c = cfg(ctx)?;
    if new.end < new.start {
        return Err(Error::invalid(format!(
            "the contract ends ({}) before it starts ({})",
            new.end, new.start
        )));
    }
    if new.monthly_cents < 0 {
        return Err(Error::invalid("the monthly amount cannot be negative"));
    }
    let notice_text = new
        .notice
        .clone()
        .unwrap_or(c.contract.default_notice.clone());
    let notice = Notice::parse(&notice_text).map_err(|r| Error::invalid(r.0))?;
    let notice_date = model::notice_date(new.end, notice)
        .ok_or_else(|| Error::invalid("the notice date is out of range"))?;
    if notice_date < new.start {
        return Err(Error::invalid(format!(
            "the notice date ({notice_date}) falls before the start ({}): shorten the notice",
            new.start
        )));
    }
    if let Some((dept, channel)) = &new.budget {
        if ctx.org.department(dept).is_none() {
            return Err(Error::not_found(format!("unknown department {dept:?}")));
        }
        if channel.trim().is_empty() {
            return Err(Error::invalid("--budget is DEPARTMENT:CHANNEL"));
        }
    }
    let value = new
        .monthly_cents
        .checked_mul(model::term_months(new.start, new.end))
        .ok_or_else(|| Error::invalid("the contract value is too large"))?;
    let mut tx = ctx.pool.begin().await?;
    let mut v = store::vendor(&mut tx, &new.vendor, true).await?;
    if !v.state.under_contract() {
        return Err(Error::invalid(format!(
            "{} is {}: a contract follows an approved award",
            v.name, v.state
        )));
    }
    if let Some(cur) = store::current_contract(&mut tx, v.id, false).await? {
        return Err(Error::conflict(format!(
            "{} has contract #{} until {}: renew or end it",
            v.name, cur.id, cur.end_date
        )));
    }
    let now = ctx.now();
    let rfp_id = store::latest_award(&mut tx, v.id).await?;
    let contract = store::insert_contract(
        &mut tx,
        &Contract {
            id: 0,
            vendor_id: v.id,
            rfp_id,
            start_date: new.start,
            end_date: new.end,
            monthly_cents: new.monthly_cents,
            value_cents: value,
            auto_renew: new.auto_renew,
            notice: notice.text(),
            notice_date,
            department: new.budget.as_ref().map(|b| b.0.clone()),
            channel: new.budget.as_ref().map(|b| b.1.clone()),
            status: "active".into(),
            decision: None,
            previous_id: None,
            created_by: actor.into(),
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    // Money flows one way: the first month's billing is committed on the
    // budget line the contract names, in this transaction (refused over a
    // hard limit or into a closed period). Without such a line yet, the
    // contract stands and its event says the money is not tracked.
    let mut untracked = None;
    if let (Some(department), Some(channel)) = (&contract.department, &contract.channel) {
        let committed = crate::budget::service::record_commitment(
            ctx,
            &mut tx,
            &crate::budget::service::NewCommitment {
                department: department.clone(),
                channel: Some(channel.clone()),
                campaign: None,
                amount_cents: contract.monthly_cents,
                r#ref: format!(
                    "vendor-contract-{}-{}",
                    contract.id,
                    contract.start_date.format("%Y-%m")
                ),
                on: contract.start_date,
                source_workflow: WORKFLOW.into(),
                source_entity: format!("contract:{}", contract.id),
                correlation_id: Some(format!("vendor:{}", v.id)),
            },
            actor,
        )
        .await;
        match committed {
            Ok(_) => {}
            Err(Error::NotFound(why)) => untracked = Some(why),
            Err(e) => return Err(e),
        }
    }
    timers::start_renewal_clock(ctx, &mut tx, &contract).await?;
    let from = v.state;
    if new.start <= today(ctx) {
        apply(&mut v, Command::Start, now)?;
    } else {
        timers::schedule_start(ctx, &mut tx, &contract).await?;
    }
    store::save_vendor(&mut tx, &v).await?;
    record(
        ctx,
        &mut tx,
        &v,
        "contract_signed",
        actor,
        Some(from),
        None,
        serde_json::json!({
            "contract_id": contract.id, "start": contract.start_date, "end": contract.end_date,
            "monthly_cents": contract.monthly_cents, "value_cents": contract.value_cents,
            "auto_renew": contract.auto_renew, "notice": contract.notice, "notice_date": contract.notice_date,
            "department": contract.department, "channel": contract.channel,
            "budget_untracked": untracked,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(contract)
}

/// What a renewal or an end did.
#[derive(Debug, Clone, Serialize)]
pub struct ContractChange {
    pub vendor: Vendor,
    pub contract: Contract,
    /// The next term, for a renewal.
    pub next: Option<Contract>,
}

/// Renew the vendor's current contract: the next term (same length and
/// price) starts the day after it ends.
pub async fn renew(ctx: &Ctx, vendor: &str, actor: &str) -> Result<ContractChange> {
    require_decider(ctx, actor, "renew vendor contracts")?;
    let mut tx = ctx.pool.begin().await?;
    let v = store::vendor(&mut tx, vendor, true).await?;
    let change = renew_in(ctx, &mut tx, v, actor, None).await?;
    tx.commit().await?;
    Ok(change)
}

pub(super) async fn renew_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    mut v: Vendor,
    actor: &str,
    reason: Option<String>,
) -> Result<ContractChange> {
    let mut cur = store::current_contract(conn, v.id, true)
        .await?
        .ok_or_else(|| Error::invalid(format!("{} has no current contract to renew", v.name)))?;
    if cur.status == "ending" {
        return Err(Error::conflict(format!(
            "{}'s contract #{} is ending (decision: {})",
            v.name,
            cur.id,
            cur.decision.as_deref().unwrap_or("end")
        )));
    }
    let now = ctx.now();
    let from = apply(&mut v, Command::Renew, now)?;
    let (start, end) = model::next_term(cur.start_date, cur.end_date)
        .ok_or_else(|| Error::invalid("the next term is out of range"))?;
    let notice = Notice::parse(&cur.notice).map_err(|r| Error::internal(r.0))?;
    let notice_date =
        model::notice_date(end, notice).ok_or_else(|| Error::invalid("notice out of range"))?;
    let value = cur
        .monthly_cents
        .checked_mul(model::term_months(start, end))
        .ok_or_else(|| Error::invalid("the contract value is too large"))?;
    cur.status = "renewed".into();
    cur.decision = Some("renew".into());
    cur.updated_at = now;
    store::save_contract(conn, &cur).await?;
    timers::stop_contract_clocks(conn, &cur).await?;
    let next = store::insert_contract(
        conn,
        &Contract {
            id: 0,
            start_date: start,
            end_date: end,
            value_cents: value,
            notice_date,
            status: "active".into(),
            decision: None,
            previous_id: Some(cur.id),
            created_by: actor.into(),
            created_at: now,
            updated_at: now,
            ..cur.clone()
        },
    )
    .await?;
    timers::start_renewal_clock(ctx, conn, &next).await?;
    store::save_vendor(conn, &v).await?;
    record(
        ctx,
        conn,
        &v,
        if actor == "engine" { "auto_renewed" } else { "renewed" },
        actor,
        Some(from),
        reason,
        serde_json::json!({ "contract_id": cur.id, "next_contract_id": next.id, "start": start, "end": end, "notice_date": notice_date }),
    )
    .await?;
    Ok(ContractChange {
        vendor: v,
        contract: cur,
        next: Some(next),
    })
}

/// End the relationship: with `now` (or no contract) at once; otherwise the
/// current contract is not renewed and the vendor ends on its end date.
pub async fn end(
    ctx: &Ctx,
    vendor: &str,
    actor: &str,
    reason: &str,
    now_: bool,
) -> Result<ContractChange> {
    require_decider(ctx, actor, "end vendor contracts")?;
    let mut tx = ctx.pool.begin().await?;
    let v = store::vendor(&mut tx, vendor, true).await?;
    let change = end_in(ctx, &mut tx, v, actor, reason, now_).await?;
    tx.commit().await?;
    Ok(change)
}

pub(super) async fn end_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    mut v: Vendor,
    actor: &str,
    reason: &str,
    immediately: bool,
) -> Result<ContractChange> {
    let now = ctx.now();
    let cur = store::current_contract(conn, v.id, true).await?;
    let reason = (!reason.trim().is_empty()).then(|| reason.trim().to_string());
    match cur {
        Some(mut c) if !immediately && c.end_date >= today(ctx) => {
            // Notice given: the contract runs to its end date.
            model::decide(v.state, Command::End).map_err(|r| refusal(r, &v))?;
            c.status = "ending".into();
            c.decision = Some("end".into());
            c.updated_at = now;
            store::save_contract(conn, &c).await?;
            timers::stop_renewal_clock(conn, &c).await?;
            timers::schedule_end(ctx, conn, &c).await?;
            record(
                ctx,
                conn,
                &v,
                "notice_given",
                actor,
                Some(v.state),
                reason,
                serde_json::json!({ "contract_id": c.id, "ends": c.end_date }),
            )
            .await?;
            Ok(ContractChange {
                vendor: v,
                contract: c,
                next: None,
            })
        }
        cur => {
            let from = apply(&mut v, Command::End, now)?;
            let mut contract = None;
            if let Some(mut c) = cur {
                c.status = "ended".into();
                if c.decision.is_none() {
                    c.decision = Some("end".into());
                }
                c.updated_at = now;
                store::save_contract(conn, &c).await?;
                timers::stop_contract_clocks(conn, &c).await?;
                contract = Some(c);
            }
            if let Some(mut p) = store::open_plan(conn, v.id).await? {
                p.status = "ended".into();
                p.outcome = Some("vendor ended".into());
                p.closed_at = Some(now);
                store::save_plan(conn, &p).await?;
                timers::stop_plan_clock(conn, &p).await?;
            }
            store::save_vendor(conn, &v).await?;
            record(
                ctx,
                conn,
                &v,
                "ended",
                actor,
                Some(from),
                reason,
                serde_json::json!({ "contract_id": contract.as_ref().map(|c| c.id) }),
            )
            .await?;
            let contract = match contract {
                Some(c) => c,
                None => {
                    return Err(Error::invalid(format!("{} has no contract to end", v.name)));
                }
            };
            Ok(ContractChange {
                vendor: v,
                contract,
                next: None,
            })
        }
    }
}

/// Contracts whose notice date falls within the due window, soonest first.
pub async fn renewals_due(ctx: &Ctx) -> Result<Vec<(Contract, String)>> {
    let window = cfg(ctx)?.contract.due_window.delta();
    let before = ctx.calendar.local_date(ctx.now() + window);
    let mut conn = ctx.pool.acquire().await?;
    store::renewals_due(&mut conn, before).await
}

// ---- deliveries --------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub vendor: String,
    pub po: String,
    pub promised: NaiveDate,
    pub delivered: NaiveDate,
    pub ordered: i64,
    pub received: i64,
    pub defective: i64,
    pub amount_cents: Option<i64>,
}

/// What recording a delivery did.
#[derive(Debug, Clone, Serialize)]
pub struct Delivered {
    pub delivery_id: i64,
    pub vendor: String,
    pub po: String,
    /// The promise the statistics use (the PO's original one).
    pub promised: NaiveDate,
    /// The promise given now, when it moved.
    pub rescheduled: Option<NaiveDate>,
    pub late: bool,
    /// A standing's warning about the vendor.
    pub warning: Option<String>,
    /// Crisis incidents this delivery opened.
    pub incidents: Vec<i64>,
    /// This period's figures after it.
    pub period: Period,
    pub stats: DeliveryStats,
}

/// Record one receipt against a purchase order.
pub async fn deliver(ctx: &Ctx, new: &NewDelivery, actor: &str) -> Result<Delivered> {
    require_manager(ctx, actor, "record deliveries")?;
    let po = new.po.trim();
    if po.is_empty() || po.len() > 64 {
        return Err(Error::invalid(
            "a delivery names its purchase order (--po, at most 64 characters)",
        ));
    }
    if new.ordered <= 0 {
        return Err(Error::invalid("the ordered quantity must be at least 1"));
    }
    if new.received < 0 || new.defective < 0 {
        return Err(Error::invalid("quantities cannot be negative"));
    }
    if new.defective > new.received {
        return Err(Error::invalid(format!(
            "{} defective of {} received is not possible",
            new.defective, new.received
        )));
    }
    if new.amount_cents.is_some_and(|a| a < 0) {
        return Err(Error::invalid("an amount cannot be negative"));
    }
    if new.delivered > today(ctx) {
        return Err(Error::invalid(format!(
            "the delivered date {} is in the future",
            new.delivered
        )));
    }
    let c = cfg(ctx)?;
    let mut tx = ctx.pool.begin().await?;
    let v = store::vendor(&mut tx, &new.vendor, true).await?;
    if !v.state.under_contract() {
        return Err(Error::invalid(format!(
            "{} is {}: deliveries come from vendors under contract",
            v.name, v.state
        )));
    }
    let existing = store::po_promise(&mut tx, v.id, po).await?;
    let standing_rule = v
        .standing
        .as_deref()
        .and_then(|s| c.scorecard.standings.iter().find(|r| r.name == s));
    let mut warning = None;
    if let Some(rule) = standing_rule {
        match rule.action.as_str() {
            "refuse_po" if existing.is_none() => {
                return Err(Error::forbidden(format!(
                    "{} stands {:?}: new purchase orders are refused (deliveries against earlier POs are still recorded)",
                    v.name, rule.name
                )));
            }
            "warn" | "refuse_po" => {
                warning = Some(format!("{} stands {:?}", v.name, rule.name));
            }
            _ => {}
        }
    }
    let (promised, rescheduled, ordered) = match existing {
        Some((original, ordered)) => (
            original,
            (new.promised != original).then_some(new.promised),
            ordered,
        ),
        None => (new.promised, None, new.ordered),
    };
    let receipt = Receipt {
        po: po.to_string(),
        promised,
        delivered: new.delivered,
        ordered,
        received: new.received,
        defective: new.defective,
        amount_cents: new.amount_cents,
    };
    let now = ctx.now();
    let id = store::insert_delivery(&mut tx, v.id, &receipt, rescheduled, actor, now).await?;
    let period = Period::of(new.delivered);
    let (stats, _) = period_stats(ctx, &mut tx, &v, period).await?;
    let incidents = crisis_link(ctx, &mut tx, &v, period, &stats).await?;
    record(
        ctx,
        &mut tx,
        &v,
        "delivered",
        actor,
        Some(v.state),
        None,
        serde_json::json!({
            "delivery_id": id, "po": po, "promised": promised, "rescheduled": rescheduled,
            "delivered": new.delivered, "ordered": ordered, "received": new.received,
            "defective": new.defective, "incidents": incidents,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Delivered {
        delivery_id: id,
        vendor: v.name,
        po: po.to_string(),
        promised,
        rescheduled,
        late: model::late(&receipt),
        warning,
        incidents,
        period,
        stats,
    })
}

/// A critical vendor's late deliveries open one crisis incident per
/// condition, through the crisis workflow's own service (its trigger key
/// de-duplicates while the incident is open).
async fn crisis_link(
    ctx: &Ctx,
    conn: &mut PgConnection,
    v: &Vendor,
    period: Period,
    stats: &DeliveryStats,
) -> Result<Vec<i64>> {
    if !v.critical {
        return Ok(Vec::new());
    }
    let c = &cfg(ctx)?.crisis;
    let mut conditions: Vec<(String, String)> = Vec::new();
    if c.late_in_a_row > 0 {
        let n = i64::from(c.late_in_a_row);
        let latest = store::latest_receipts(conn, v.id, n).await?;
        if latest.len() as i64 == n && latest.iter().all(model::late) {
            conditions.push((
                format!("vendor-{}-late-in-a-row", v.id),
                format!("its last {n} deliveries were late"),
            ));
        }
    }
    if let Some(otd) = stats.on_time_rate
        && stats.orders >= c.min_orders
        && otd < c.otd_below
    {
        conditions.push((
            format!("vendor-{}-otd", v.id),
            format!(
                "on-time delivery {:.0}% in {period} is below {:.0}% ({} orders)",
                otd * 100.0,
                c.otd_below * 100.0,
                stats.orders
            ),
        ));
    }
    let severity: Severity = c
        .severity
        .parse()
        .map_err(|_| Error::internal("vendor.crisis.severity"))?;
    let mut opened = Vec::new();
    for (key, why) in conditions {
        let new = NewIncident {
            title: format!("Critical vendor {} is delivering late", v.name),
            description: format!("{} ({}, critical): {why}.", v.name, v.category),
            severity,
            source: Source::KpiTrigger,
            source_ref: Some(format!("vendor:{}", v.id)),
            departments: c.departments.clone(),
            commander: None,
            trigger_key: Some(key),
        };
        if let Some(inc) = crate::crisis::service::open_in(ctx, conn, &new, "engine").await? {
            opened.push(inc.id);
        }
    }
    Ok(opened)
}

/// Delivery figures of a vendor for a period, and the cost variance
/// against its contract's monthly price.
pub(super) async fn period_stats(
    ctx: &Ctx,
    conn: &mut PgConnection,
    v: &Vendor,
    period: Period,
) -> Result<(DeliveryStats, Option<f64>)> {
    let (Some(from), Some(to)) = (period.first_day(), period.next().first_day()) else {
        return Err(Error::invalid(format!("period {period} is out of range")));
    };
    let receipts: Vec<Receipt> = store::receipts(conn, Some(&[v.id]), from, to)
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let stats = model::delivery_stats(&receipts, cfg(ctx)?.delivery.min_fill);
    let monthly = store::current_contract(conn, v.id, false)
        .await?
        .map(|c| c.monthly_cents);
    Ok((stats, cost_variance(&stats, monthly)))
}

/// (spend − contract price) / contract price, when both are known.
pub fn cost_variance(stats: &DeliveryStats, monthly_cents: Option<i64>) -> Option<f64> {
    match monthly_cents {
        Some(m) if m > 0 && stats.spend_cents > 0 => {
            Some((stats.spend_cents - m) as f64 / m as f64)
        }
        _ => None,
    }
}

// ---- scorecards --------------------------------------------------------------------------

/// The criteria scores of a period: KPI criteria from the figures, judged
/// ones from the reviewer. No deliveries: nothing is scored.
pub fn criteria_scores(
    criteria: &[ScoreCriterion],
    stats: &DeliveryStats,
    cost_variance: Option<f64>,
    judged: &BTreeMap<String, f64>,
) -> Vec<CriterionScore> {
    criteria
        .iter()
        .map(|c| {
            let score = if stats.orders == 0 {
                None
            } else {
                match c.kpi.as_deref() {
                    Some(kpi) => {
                        let value = match kpi {
                            "on_time_rate" => stats.on_time_rate,
                            "otif_rate" => stats.otif_rate,
                            "in_full_rate" => stats.in_full_rate,
                            "ppm" => stats.ppm,
                            "cost_variance" => cost_variance,
                            _ => None,
                        };
                        match (value, c.target, c.floor) {
                            (Some(v), Some(t), Some(f)) => {
                                Some(model::round1(model::kpi_score(v, t, f)))
                            }
                            _ => None,
                        }
                    }
                    None => judged.get(&c.name).copied(),
                }
            };
            CriterionScore {
                name: c.name.clone(),
                weight: c.weight,
                score,
            }
        })
        .collect()
}

/// The scorecard as `vendor scorecard --json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    pub vendor: String,
    pub period: Period,
    pub criteria: Vec<CriterionScore>,
    pub period_score: Option<f64>,
    pub overall_score: Option<f64>,
    pub standing: Option<String>,
    pub kpis: Kpis,
    /// Stored by a review (false: a preview of figures so far).
    pub reviewed: bool,
    /// The improvement plan this review opened.
    pub plan_opened: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kpis {
    pub on_time_rate: Option<f64>,
    pub otif_rate: Option<f64>,
    pub in_full_rate: Option<f64>,
    pub ppm: Option<f64>,
    pub defect_rate: Option<f64>,
    pub cost_variance: Option<f64>,
    pub orders: i64,
}

impl Kpis {
    fn of(s: &DeliveryStats, cost_variance: Option<f64>) -> Self {
        Kpis {
            on_time_rate: s.on_time_rate,
            otif_rate: s.otif_rate,
            in_full_rate: s.in_full_rate,
            ppm: s.ppm,
            defect_rate: s.defect_rate,
            cost_variance,
            orders: s.orders,
        }
    }
}

/// Score a vendor for a period: KPI criteria from its deliveries, judged
/// criteria from `judged` (0-100). A period without deliveries is skipped
/// (no score). A period score below `[vendor.plan] below` opens an
/// improvement plan.
pub async fn review(
    ctx: &Ctx,
    vendor: &str,
    period: Period,
    judged: &[(String, f64)],
    actor: &str,
) -> Result<Scorecard> {
    if actor != "engine" {
        require_manager(ctx, actor, "review vendors")?;
    }
    let c = cfg(ctx)?;
    let mut judged_map = BTreeMap::new();
    for (name, s) in judged {
        let Some(crit) = c.scorecard.criteria.iter().find(|x| &x.name == name) else {
            let names: Vec<&str> = c
                .scorecard
                .criteria
                .iter()
                .map(|x| x.name.as_str())
                .collect();
            return Err(Error::invalid(format!(
                "no scorecard criterion {name:?} (criteria: {})",
                names.join(", ")
            )));
        };
        if crit.kpi.is_some() {
            return Err(Error::invalid(format!(
                "{name} is scored from its KPI ({}); only judged criteria take --score",
                crit.kpi.as_deref().unwrap_or("")
            )));
        }
        if !(0.0..=100.0).contains(s) {
            return Err(Error::invalid(format!("{name}={s}: a score is 0 to 100")));
        }
        judged_map.insert(name.clone(), *s);
    }
    if period > Period::of(today(ctx)) {
        return Err(Error::invalid(format!("{period} has not begun")));
    }
    let mut tx = ctx.pool.begin().await?;
    let v = store::vendor(&mut tx, vendor, true).await?;
    let card = review_in(ctx, &mut tx, v, period, &judged_map, actor).await?;
    tx.commit().await?;
    Ok(card)
}

pub(super) async fn review_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    mut v: Vendor,
    period: Period,
    judged: &BTreeMap<String, f64>,
    actor: &str,
) -> Result<Scorecard> {
    let c = cfg(ctx)?;
    if !v.state.under_contract() {
        return Err(Error::invalid(format!(
            "{} is {}: only vendors under contract are reviewed",
            v.name, v.state
        )));
    }
    let (stats, variance) = period_stats(ctx, conn, &v, period).await?;
    let criteria = criteria_scores(&c.scorecard.criteria, &stats, variance, judged);
    let period_score = model::period_score(&criteria);
    let mut history: Vec<(Period, f64)> = store::scorecards(conn, v.id, 60)
        .await?
        .into_iter()
        .filter_map(|s| Some((s.period.parse::<Period>().ok()?, s.period_score?)))
        .filter(|(p, _)| *p < period)
        .collect();
    if let Some(s) = period_score {
        history.push((period, s));
    }
    let overall = model::overall_score(&history, period, c.scorecard.decay_periods);
    let standing = overall
        .and_then(|o| model::standing(o, &c.scorecard.standings))
        .map(|r| r.name.clone());
    let now = ctx.now();
    let kpis = Kpis::of(&stats, variance);
    store::put_scorecard(
        conn,
        &ScorecardRow {
            vendor_id: v.id,
            period: period.to_string(),
            criteria: sqlx::types::Json(criteria.clone()),
            period_score,
            overall_score: overall,
            standing: standing.clone(),
            kpis: sqlx::types::Json(serde_json::to_value(&kpis).unwrap_or_default()),
            reviewer: actor.into(),
            reviewed_at: now,
        },
    )
    .await?;
    v.overall_score = overall.or(v.overall_score);
    if standing.is_some() {
        v.standing = standing.clone();
    }
    v.updated_at = now;
    let mut plan_opened = None;
    let from = v.state;
    if let Some(s) = period_score
        && s < c.plan.below
        && v.state.serving()
        && store::open_plan(conn, v.id).await?.is_none()
    {
        apply(&mut v, Command::PoorScore, now)?;
        let plan = open_plan(ctx, conn, &v, period, s, &criteria).await?;
        plan_opened = Some(plan.id);
    }
    store::save_vendor(conn, &v).await?;
    record(
        ctx,
        conn,
        &v,
        if period_score.is_some() { "reviewed" } else { "review_skipped" },
        actor,
        Some(from),
        period_score
            .is_none()
            .then(|| format!("no deliveries in {period}: not scored")),
        serde_json::json!({ "period": period, "period_score": period_score, "overall_score": overall,
            "standing": standing, "plan_id": plan_opened }),
    )
    .await?;
    Ok(Scorecard {
        vendor: v.name.clone(),
        period,
        criteria,
        period_score,
        overall_score: overall,
        standing,
        kpis,
        reviewed: true,
        plan_opened,
    })
}

/// A vendor's scorecard for a period (default: the latest reviewed; a
/// period not reviewed yet is a preview from its deliveries so far).
pub async fn scorecard(ctx: &Ctx, vendor: &str, period: Option<Period>) -> Result<Scorecard> {
    let c = cfg(ctx)?;
    let mut conn = ctx.pool.acquire().await?;
    let v = store::vendor(&mut conn, vendor, false).await?;
    let cards = store::scorecards(&mut conn, v.id, 60).await?;
    let stored = match period {
        Some(p) => cards.iter().find(|s| s.period == p.to_string()),
        None => cards.first(),
    };
    if let Some(s) = stored {
        let period: Period = s
            .period
            .parse()
            .map_err(|_| Error::internal(format!("scorecard period {:?}", s.period)))?;
        let kpis: Kpis = Kpis {
            on_time_rate: s.kpis.0.get("on_time_rate").and_then(|x| x.as_f64()),
            otif_rate: s.kpis.0.get("otif_rate").and_then(|x| x.as_f64()),
            in_full_rate: s.kpis.0.get("in_full_rate").and_then(|x| x.as_f64()),
            ppm: s.kpis.0.get("ppm").and_then(|x| x.as_f64()),
            defect_rate: s.kpis.0.get("defect_rate").and_then(|x| x.as_f64()),
            cost_variance: s.kpis.0.get("cost_variance").and_then(|x| x.as_f64()),
            orders: s.kpis.0.get("orders").and_then(|x| x.as_i64()).unwrap_or(0),
        };
        return Ok(Scorecard {
            vendor: v.name,
            period,
            criteria: s.criteria.0.clone(),
            period_score: s.period_score,
            overall_score: s.overall_score,
            standing: s.standing.clone(),
            kpis,
            reviewed: true,
            plan_opened: None,
        });
    }
    let period = period.unwrap_or_else(|| Period::of(today(ctx)));
    let (stats, variance) = period_stats(ctx, &mut conn, &v, period).await?;
    let criteria = criteria_scores(&c.scorecard.criteria, &stats, variance, &BTreeMap::new());
    let period_score = model::period_score(&criteria);
    let mut history: Vec<(Period, f64)> = cards
        .iter()
        .filter_map(|s| Some((s.period.parse::<Period>().ok()?, s.period_score?)))
        .filter(|(p, _)| *p < period)
        .collect();
    if let Some(s) = period_score {
        history.push((period, s));
    }
    let overall = model::overall_score(&history, period, c.scorecard.decay_periods);
    Ok(Scorecard {
        vendor: v.name,
        period,
        criteria,
        period_score,
        overall_score: overall,
        standing: overall
            .and_then(|o| model::standing(o, &c.scorecard.standings))
            .map(|r| r.name.clone()),
        kpis: Kpis::of(&stats, variance),
        reviewed: false,
        plan_opened: None,
    })
}

// ---- improvement plans ---------------------------------------------------------------------

async fn open_plan(
    ctx: &Ctx,
    conn: &mut PgConnection,
    v: &Vendor,
    period: Period,
    score: f64,
    criteria: &[CriterionScore],
) -> Result<Plan> {
    let c = cfg(ctx)?;
    let owner_role: RoleRef = role_refs("vendor.plan.owner", std::slice::from_ref(&c.plan.owner))?
        .into_iter()
        .next()
        .ok_or_else(|| Error::internal("vendor.plan.owner"))?;
    let owner = ctx
        .org
        .with_role(&owner_role)
        .next()
        .map(|p| p.handle.clone())
        .ok_or_else(|| Error::internal(format!("nobody holds {}", c.plan.owner)))?;
    let below: Vec<serde_json::Value> = c
        .scorecard
        .criteria
        .iter()
        .filter(|sc| {
            criteria
                .iter()
                .any(|x| x.name == sc.name && x.score.is_some_and(|s| s < c.plan.below))
        })
        .map(|sc| serde_json::json!({ "criterion": sc.name, "kpi": sc.kpi, "target": sc.target }))
        .collect();
    let targets = serde_json::json!({ "period_score": c.plan.below, "criteria": below });
    let now = ctx.now();
    let deadline = now + c.plan.deadline.delta();
    let plan = store::insert_plan(
        conn,
        v.id,
        &owner,
        &period.to_string(),
        Some(score),
        &targets,
        deadline,
        now,
    )
    .await?;
    timers::start_plan_clock(ctx, conn, &plan, v).await?;
    let n = NewNotification::to_person(
        &owner,
        WORKFLOW,
        v.id,
        format!("Improvement plan #{} for {}", plan.id, v.name),
    )
    .body(format!(
        "{period} scored {score:.1} (below {:.0}). You own the plan; re-score by {}.",
        c.plan.below,
        ctx.calendar.format_local(deadline)
    ))
    .severity("warning")
    .payload(serde_json::json!({ "vendor_id": v.id, "plan_id": plan.id, "kind": "vendor_plan" }));
    outbox::enqueue(ctx, conn, &n).await?;
    Ok(plan)
}

/// Note progress on the vendor's open plan.
pub async fn checkin(ctx: &Ctx, vendor: &str, note: &str, actor: &str) -> Result<Plan> {
    let person = ctx.org.actor(actor)?.clone();
    if note.trim().is_empty() {
        return Err(Error::invalid("a check-in needs a note"));
    }
    let mut tx = ctx.pool.begin().await?;
    let v = store::vendor(&mut tx, vendor, false).await?;
    let plan = store::open_plan(&mut tx, v.id)
        .await?
        .ok_or_else(|| Error::invalid(format!("{} has no open improvement plan", v.name)))?;
    if plan.owner != actor {
        require_manager(ctx, &person.handle, "check in on improvement plans")?;
    }
    let now = ctx.now();
    store::add_checkin(&mut tx, plan.id, actor, note.trim(), now).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "plan", plan.id, "plan_checkin", actor)
            .reason(note.trim())
            .correlation(Some(format!("vendor:{}", v.id))),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(plan)
}

pub async fn plans(ctx: &Ctx, vendor: Option<&str>) -> Result<Vec<Plan>> {
    let mut conn = ctx.pool.acquire().await?;
    let id = match vendor {
        Some(n) => Some(store::vendor(&mut conn, n, false).await?.id),
        None => None,
    };
    store::plans(&mut conn, id, 200).await
}

/// The plan's deadline: re-score on the latest review after it opened; met
/// returns the vendor to Active, missed asks the deciders to extend or end.
pub(super) async fn plan_deadline(
    ctx: &Ctx,
    conn: &mut PgConnection,
    plan_id: i64,
) -> Result<bool> {
    let c = cfg(ctx)?;
    let mut plan = store::plan(conn, plan_id).await?;
    if plan.status != "open" {
        return Ok(false);
    }
    let mut v = store::vendor_by_id(conn, plan.vendor_id, true).await?;
    let rescore = store::scorecards(conn, v.id, 12)
        .await?
        .into_iter()
        .find(|s| s.period > plan.period && s.period_score.is_some());
    let now = ctx.now();
    let score = rescore.as_ref().and_then(|s| s.period_score);
    let from = v.state;
    if score.is_some_and(|s| s >= c.plan.below) {
        apply(&mut v, Command::PlanMet, now)?;
        plan.status = "met".into();
        plan.outcome = Some(format!(
            "re-scored {:.1} in {}",
            score.unwrap_or_default(),
            rescore.as_ref().map(|s| s.period.as_str()).unwrap_or("")
        ));
        plan.closed_at = Some(now);
        store::save_plan(conn, &plan).await?;
        timers::stop_plan_clock(conn, &plan).await?;
        store::save_vendor(conn, &v).await?;
        record(
            ctx,
            conn,
            &v,
            "plan_met",
            "engine",
            Some(from),
            plan.outcome.clone(),
            serde_json::json!({ "plan_id": plan.id, "score": score }),
        )
        .await?;
        return Ok(true);
    }
    let eligible = role_refs("vendor.plan.deciders", &c.plan.deciders)?;
    // The plan's owner asks; the other deciders decide (no self-approval).
    let requester = plan.owner.clone();
    let deciders = people_in(ctx, "vendor.plan.deciders", &c.plan.deciders)?;
    let required = deciders.iter().filter(|h| **h != requester).count().max(1);
    let approval = approvals::request(
        ctx,
        conn,
        &NewApproval {
            workflow: WORKFLOW.into(),
            entity_id: format!("plan:{}", plan.id),
            subject_version: 1,
            title: format!(
                "{}: improvement plan #{} missed ({}): approve to extend, reject to end",
                v.name,
                plan.id,
                match score {
                    Some(s) => format!("re-scored {s:.1}"),
                    None => "no re-score".into(),
                }
            ),
            requested_by: requester,
            eligible,
            required: u32::try_from(required).unwrap_or(1),
            must_include: Vec::new(),
            // The clock escalates first (after `escalate_after`); the
            // approval's own overdue escalation comes after that.
            deadline: Some(now + c.plan.escalate_after.delta() * 2),
        },
    )
    .await?;
    plan.status = "deciding".into();
    plan.approval_id = Some(approval.id);
    store::save_plan(conn, &plan).await?;
    events::append(
        conn,
        &NewEvent::new(WORKFLOW, "plan", plan.id, "plan_missed", "engine")
            .transition(Some("open"), "deciding")
            .reason(format!("deadline reached; {}", approval.title))
            .correlation(Some(format!("vendor:{}", v.id)))
            .payload(serde_json::json!({ "plan_id": plan.id, "score": score, "approval_id": approval.id })),
        now,
    )
    .await?;
    Ok(true)
}

/// Decide a missed plan: approve extends it, reject ends the vendor.
pub async fn decide_plan(
    ctx: &Ctx,
    plan_id: i64,
    actor: &str,
    decision: Decision,
    comment: &str,
) -> Result<Outcome> {
    ctx.org.actor(actor)?;
    if decision == Decision::RequestChanges {
        return Err(Error::invalid(
            "a missed plan is extended (approve) or the vendor ended (reject)",
        ));
    }
    let c = cfg(ctx)?;
    let mut tx = ctx.pool.begin().await?;
    let mut plan = store::plan(&mut tx, plan_id).await?;
    let request_id = match (plan.status.as_str(), plan.approval_id) {
        ("deciding", Some(a)) => a,
        _ => {
            return Err(Error::invalid(format!(
                "improvement plan #{plan_id} has no decision pending"
            )));
        }
    };
    let (_req, outcome) =
        approvals::decide(ctx, &mut tx, request_id, actor, decision, comment, None).await?;
    let now = ctx.now();
    let mut v = store::vendor_by_id(&mut tx, plan.vendor_id, true).await?;
    match outcome {
        Outcome::Approved => {
            let from = apply(&mut v, Command::PlanExtended, now)?;
            plan.status = "open".into();
            plan.outcome = Some(format!("extended by {actor}"));
            plan.approval_id = None;
            plan.deadline = now + c.plan.deadline.delta();
            store::save_plan(&mut tx, &plan).await?;
            timers::start_plan_clock(ctx, &mut tx, &plan, &v).await?;
            store::save_vendor(&mut tx, &v).await?;
            record(
                ctx,
                &mut tx,
                &v,
                "plan_extended",
                actor,
                Some(from),
                (!comment.trim().is_empty()).then(|| comment.trim().to_string()),
                serde_json::json!({ "plan_id": plan.id, "deadline": plan.deadline }),
            )
            .await?;
        }
        Outcome::Rejected | Outcome::ChangesRequested => {
            plan.status = "ended".into();
            plan.outcome = Some(format!("ended by {actor}"));
            plan.closed_at = Some(now);
            store::save_plan(&mut tx, &plan).await?;
            timers::stop_plan_clock(&mut tx, &plan).await?;
            if let Some(mut cur) = store::current_contract(&mut tx, v.id, true).await? {
                cur.status = "ended".into();
                cur.decision = Some("end".into());
                cur.updated_at = now;
                store::save_contract(&mut tx, &cur).await?;
                timers::stop_contract_clocks(&mut tx, &cur).await?;
            }
            let from = apply(&mut v, Command::PlanEnded, now)?;
            store::save_vendor(&mut tx, &v).await?;
            record(
                ctx,
                &mut tx,
                &v,
                "plan_ended",
                actor,
                Some(from),
                Some(comment.trim().to_string()),
                serde_json::json!({ "plan_id": plan.id }),
            )
            .await?;
        }
        Outcome::Pending { .. } | Outcome::AlreadyApproved => {}
    }
    tx.commit().await?;
    Ok(outcome)
}
