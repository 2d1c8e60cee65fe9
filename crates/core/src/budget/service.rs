//! Budget commands: one transaction each (lock the period and the line, ask
//! the model, write line/expense/event, approvals and notifications). Who
//! may do what comes from `[budget]`: the Finance director allocates,
//! closes and approves; department heads spend on their own lines; the
//! Business Manager is the second layer and the escalation.
//!
//! [`record_commitment`] is the public door for other workflows (vendor
//! contracts, content costs): it runs inside the caller's transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::config::{BudgetConfig, settings};
use super::model::{
    self, Alarm, Layers, Period, PeriodCommand, PeriodState, ReviewDecision, ReviewState, Rollover,
    format_cents,
};
use super::store::{self, Expense, Line, PeriodRow, Reallocation};
use super::{WORKFLOW, timers};
use crate::engine::Ctx;
use crate::engine::approvals::{self, ApprovalRequest, Decision, NewApproval, Outcome};
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::error::{Error, Result};
use crate::org::{Person, RoleRef};

// ---------------------------------------------------------------------------
// Helpers

fn refusal(r: model::Refusal) -> Error {
    Error::invalid(r.0)
}

/// Parse a dollar amount typed by a person, with the `[budget]` rules.
pub fn parse_amount(ctx: &Ctx, text: &str) -> Result<i64> {
    let c = settings(&ctx.config)?;
    model::parse_amount(text, &c.currency, c.max_amount_cents).map_err(refusal)
}

/// The period `key` (or the one containing now, in the org's time zone).
pub fn period_of(ctx: &Ctx, key: Option<&str>) -> Result<Period> {
    let c = settings(&ctx.config)?;
    match key {
        Some(k) => Period::parse(c.period, k).map_err(refusal),
        None => Ok(Period::containing(
            c.period,
            ctx.calendar.local_date(ctx.now()),
        )),
    }
}

fn is_finance(c: &BudgetConfig, ctx: &Ctx, p: &Person) -> Result<bool> {
    Ok(ctx.org.holds_any(p, &[c.finance_ref()?]))
}

fn is_manager(c: &BudgetConfig, ctx: &Ctx, p: &Person) -> Result<bool> {
    Ok(ctx.org.holds_any(p, &[c.manager_ref()?]))
}

/// Finance, the Business Manager, or the head of `department`.
fn require_head_or_finance(ctx: &Ctx, p: &Person, department: &str, what: &str) -> Result<()> {
    let c = settings(&ctx.config)?;
    if is_finance(c, ctx, p)? || is_manager(c, ctx, p)? || p.is_director_of(department) {
        return Ok(());
    }
    // Team leads spend for their own department too.
    if what == "spend" && p.department == department && p.has_role(crate::org::Role::TeamLead) {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "{} cannot {what} for {department}: it takes the {department} director, the Finance director or the Business Manager",
        p.label()
    )))
}

fn require_finance(ctx: &Ctx, p: &Person, what: &str) -> Result<()> {
    let c = settings(&ctx.config)?;
    if is_finance(c, ctx, p)? || is_manager(c, ctx, p)? {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "{} cannot {what}: it takes the Finance director (or the Business Manager)",
        p.label()
    )))
}

fn check_department(ctx: &Ctx, department: &str) -> Result<()> {
    if ctx.org.department(department).is_none() {
        let known: Vec<&str> = ctx.org.departments.iter().map(|d| d.key.as_str()).collect();
        return Err(Error::invalid(format!(
            "unknown department {department:?} (departments: {})",
            known.join(", ")
        )));
    }
    Ok(())
}

fn check_channel(c: &BudgetConfig, channel: &str) -> Result<()> {
    if !channel.is_empty() && !c.channels.iter().any(|x| x == channel) {
        return Err(Error::invalid(format!(
            "unknown channel {channel:?} (channels: {})",
            c.channels.join(", ")
        )));
    }
    Ok(())
}

/// The approval for an amount: who decides and how many. A requester who
/// is the Finance director leaves the decision to the Business Manager.
fn approval_for(
    ctx: &Ctx,
    c: &BudgetConfig,
    requester: &Person,
    layers: Layers,
    entity: String,
    title: String,
    deadline: Option<DateTime<Utc>>,
) -> Result<NewApproval> {
    let finance = c.finance_ref()?;
    let manager = c.manager_ref()?;
    let requester_is_finance = is_finance(c, ctx, requester)?;
    let (required, must_include) = match layers {
        Layers::FinanceAndManager if !requester_is_finance => (2, vec![manager.clone()]),
        Layers::FinanceAndManager => (1, vec![manager.clone()]),
        _ if requester_is_finance => (1, vec![manager.clone()]),
        _ => (1, Vec::new()),
    };
    Ok(NewApproval {
        workflow: WORKFLOW.into(),
        entity_id: entity,
        subject_version: 1,
        title,
        requested_by: requester.handle.clone(),
        eligible: vec![finance, manager],
        required,
        must_include,
        deadline,
    })
}

#[allow(clippy::too_many_arguments)]
async fn event(
    ctx: &Ctx,
    conn: &mut PgConnection,
    entity_type: &str,
    id: i64,
    action: &str,
    actor: &str,
    reason: Option<String>,
    payload: serde_json::Value,
    correlation: Option<String>,
) -> Result<()> {
    let e = NewEvent::new(WORKFLOW, entity_type, id, action, actor)
        .maybe_reason(reason)
        .payload(payload)
        .correlation(correlation);
    events::append(conn, &e, ctx.now()).await?;
    Ok(())
}

/// Open the period (creating it, with its clocks, when new); refuse a closed one.
async fn open_period(ctx: &Ctx, conn: &mut PgConnection, p: &Period) -> Result<PeriodRow> {
    let (row, created) = store::ensure_period(conn, p, ctx.now()).await?;
    if created {
        timers::start_period(ctx, conn, p).await?;
        event(
            ctx,
            conn,
            "period",
            0,
            "period_opened",
            "engine",
            None,
            serde_json::json!({ "period": p.key(), "starts_on": p.start, "ends_on": p.end }),
            None,
        )
        .await?;
    }
    model::decide_period(row.state, PeriodCommand::Change, &row.key).map_err(refusal)?;
    Ok(row)
}

// ---------------------------------------------------------------------------
// Alerts and spend reviews

/// A line's pacing as of `at`.
pub fn pacing_of(ctx: &Ctx, line: &Line, period: &Period, at: DateTime<Utc>) -> model::Pacing {
    let today = ctx.calendar.local_date(at);
    model::pacing(
        line.budget_cents,
        line.spent_cents,
        line.committed_cents,
        period.elapsed_days(today),
        period.total_days(),
    )
}

/// What evaluating a line's alerts did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evaluated {
    pub fired: Vec<Alarm>,
    pub cleared: Vec<Alarm>,
    /// The spend review opened, when one was.
    pub review_id: Option<i64>,
}

/// Re-evaluate a (locked, current) line's alarms now: fire what is newly
/// crossed, re-arm what fell back, open a spend review on crossing 100%
/// actual. Saves the line.
pub(super) async fn evaluate(
    ctx: &Ctx,
    conn: &mut PgConnection,
    line: &mut Line,
    period: &Period,
    correlation: Option<String>,
) -> Result<Evaluated> {
    let c = settings(&ctx.config)?;
    let now = ctx.now();
    let pace = pacing_of(ctx, line, period, now);
    let before: Vec<Alarm> = line
        .alarms
        .iter()
        .filter_map(|k| Alarm::parse_key(k))
        .collect();
    let alarms_now = model::alarms(&pace, &c.thresholds);
    let t = model::transitions(&before, &alarms_now);
    line.alarms = alarms_now.iter().map(Alarm::key).collect();
    line.updated_at = now;
    store::save_line(conn, line).await?;
    for a in &t.fired {
        let figure = match a.basis {
            model::Basis::Actual => pace.utilization,
            model::Basis::Forecast => pace.forecast_utilization,
        };
        let subject = format!(
            "Budget alarm: {} {} at {:.0}% (threshold {:.0}%)",
            line.label(),
            a.basis.as_str(),
            figure * 100.0,
            a.threshold * 100.0
        );
        let body = format!(
            "Budget {}, spent {}, committed {}, forecast {} (expected to date {}).",
            format_cents(line.budget_cents),
            format_cents(line.spent_cents),
            format_cents(line.committed_cents),
            format_cents(pace.forecast_cents),
            format_cents(pace.expected_to_date_cents)
        );
        let payload = serde_json::json!({
            "line_id": line.id, "basis": a.basis, "threshold": a.threshold, "figure": figure,
            "budget_cents": line.budget_cents, "spent_cents": line.spent_cents,
            "committed_cents": line.committed_cents, "forecast_cents": pace.forecast_cents,
        });
        let e = NewEvent::new(WORKFLOW, "line", line.id, "alert_fired", "engine")
            .transition(Some("ok"), "alarm")
            .reason(subject.clone())
            .payload(payload.clone())
            .correlation(correlation.clone());
        let event_id = events::append(conn, &e, now).await?;
        let severity = if a.threshold >= 1.0 {
            "warning"
        } else {
            "info"
        };
        let mut to: Vec<String> = Vec::new();
        if let Some(head) = ctx.org.director_of(&line.department) {
            to.push(head.handle.clone());
        }
        for p in ctx.org.with_role(&c.finance_ref()?) {
            if !to.contains(&p.handle) {
                to.push(p.handle.clone());
            }
        }
        for h in &to {
            let n = NewNotification::to_person(h, WORKFLOW, line.id, subject.clone())
                .body(body.clone())
                .severity(severity)
                .dedupe(format!("budget:alert:{event_id}:{h}"))
                .payload(payload.clone());
            outbox::enqueue(ctx, conn, &n).await?;
        }
        let n = NewNotification::to_channel(&c.channel, WORKFLOW, line.id, subject.clone())
            .body(body.clone())
            .severity(severity)
            .dedupe(format!("budget:alert:{event_id}:channel"))
            .payload(payload);
        outbox::enqueue(ctx, conn, &n).await?;
    }
    for a in &t.cleared {
        let e = NewEvent::new(WORKFLOW, "line", line.id, "alert_cleared", "engine")
            .transition(Some("alarm"), "ok")
            .reason(format!(
                "{} fell back below {:.0}% ({})",
                line.label(),
                a.threshold * 100.0,
                a.basis.as_str()
            ))
            .payload(serde_json::json!({ "line_id": line.id, "basis": a.basis, "threshold": a.threshold }))
            .correlation(correlation.clone());
        events::append(conn, &e, now).await?;
    }
    let mut review_id = None;
    if model::opens_review(&t.fired) && store::open_review_of(conn, line.id).await?.is_none() {
        review_id = Some(open_review(ctx, conn, line, &pace, correlation).await?);
    }
    Ok(Evaluated {
        fired: t.fired,
        cleared: t.cleared,
        review_id,
    })
}

/// Open a spend review: the Finance director decides by the deadline, else
/// the shared approvals escalate it to the Business Manager.
async fn open_review(
    ctx: &Ctx,
    conn: &mut PgConnection,
    line: &Line,
    pace: &model::Pacing,
    correlation: Option<String>,
) -> Result<i64> {
    let c = settings(&ctx.config)?;
    let now = ctx.now();
    let top = store::top_expenses(conn, line.id, 5).await?;
    let inputs = serde_json::json!({
        "line": line.label(),
        "budget_cents": line.budget_cents,
        "spent_cents": line.spent_cents,
        "committed_cents": line.committed_cents,
        "forecast_cents": pace.forecast_cents,
        "expected_to_date_cents": pace.expected_to_date_cents,
        "utilization": pace.utilization,
        "forecast_utilization": pace.forecast_utilization,
        "top_expenses": top.iter().map(|e| serde_json::json!({
            "ref": e.r#ref, "amount_cents": e.amount_cents, "vendor": e.vendor,
            "campaign": e.campaign, "spent_on": e.spent_on,
        })).collect::<Vec<_>>(),
    });
    let deadline = now + c.review_deadline.delta();
    let mut review = store::insert_review(conn, line.id, &inputs, deadline, now).await?;
    let finance = c.finance_ref()?;
    let manager = c.manager_ref()?;
    // The head of the overspending department asks; Finance decides (no
    // self-approval: on Finance's own line the Business Manager decides).
    let head = ctx
        .org
        .director_of(&line.department)
        .or_else(|| ctx.org.with_role(&manager).next())
        .ok_or_else(|| Error::internal("no one in the org can open a spend review"))?;
    let eligible = if ctx.org.holds_any(head, std::slice::from_ref(&finance)) {
        vec![finance, manager.clone()]
    } else {
        vec![finance]
    };
    let req = approvals::request(
        ctx,
        conn,
        &NewApproval {
            workflow: WORKFLOW.into(),
            entity_id: format!("review:{}", review.id),
            subject_version: 1,
            title: format!(
                "Spend review #{}: {} over budget ({} of {})",
                review.id,
                line.label(),
                format_cents(line.spent_cents.saturating_add(line.committed_cents)),
                format_cents(line.budget_cents)
            ),
            requested_by: head.handle.clone(),
            eligible,
            required: 1,
            must_include: Vec::new(),
            deadline: Some(deadline),
        },
    )
    .await?;
    review.approval_id = Some(req.id);
    store::save_review(conn, &review).await?;
    let e = NewEvent::new(WORKFLOW, "review", review.id, "review_opened", "engine")
        .transition(None::<&str>, ReviewState::Open.as_str())
        .reason(format!("{} crossed 100% of its budget", line.label()))
        .payload(serde_json::json!({ "line_id": line.id, "approval_id": req.id, "deadline": deadline, "inputs": inputs }))
        .correlation(correlation);
    events::append(conn, &e, now).await?;
    let n = NewNotification::to_channel(
        &c.channel,
        WORKFLOW,
        format!("review:{}", review.id),
        format!("Spend review #{} opened: {}", review.id, line.label()),
    )
    .body(format!(
        "Spent {} + committed {} of {}; forecast {}. The Finance director decides by {} (approval #{}), else it escalates to the Business Manager.",
        format_cents(line.spent_cents),
        format_cents(line.committed_cents),
        format_cents(line.budget_cents),
        format_cents(pace.forecast_cents),
        ctx.calendar.format_local(deadline),
        req.id
    ))
    .severity("warning")
    .dedupe(format!("budget:review:{}:opened", review.id))
    .payload(serde_json::json!({ "review_id": review.id, "approval_id": req.id }));
    outbox::enqueue(ctx, conn, &n).await?;
    Ok(review.id)
}

// ---------------------------------------------------------------------------
// Lines

#[derive(Debug, Clone)]
pub struct SetLine {
    pub department: String,
    pub amount_cents: i64,
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub period: Option<String>,
    pub hard: bool,
    pub rollover: Option<Rollover>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineSet {
    pub line: Line,
    /// Set when the change waits for approval.
    pub approval: Option<ApprovalRequest>,
}

/// Set or change a line. Above `line_approval_above_cents` the change waits
/// for Finance (and above `line_manager_above_cents` also the Business
/// Manager); until then the line keeps its old amount.
pub async fn set_line(ctx: &Ctx, s: &SetLine, actor: &str) -> Result<LineSet> {
    let mut tx = ctx.pool.begin().await?;
    let out = set_line_in(ctx, &mut tx, s, actor).await?;
    tx.commit().await?;
    Ok(out)
}

async fn set_line_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    s: &SetLine,
    actor: &str,
) -> Result<LineSet> {
    let c = settings(&ctx.config)?;
    let person = ctx.org.actor(actor)?.clone();
    check_department(ctx, &s.department)?;
    require_head_or_finance(ctx, &person, &s.department, "set budget lines")?;
    let channel = s.channel.clone().unwrap_or_default();
    check_channel(c, &channel)?;
    let campaign = s.campaign.clone().unwrap_or_default();
    if !campaign.is_empty() && !store::campaign_exists(conn, &campaign).await? {
        return Err(Error::not_found(format!(
            "unknown campaign {campaign:?} (create it with vivid budget campaign new)"
        )));
    }
    if s.amount_cents < 0 || s.amount_cents > c.max_amount_cents {
        return Err(Error::invalid(format!(
            "a line is between $0 and {}",
            format_cents(c.max_amount_cents)
        )));
    }
    let period = period_of(ctx, s.period.as_deref())?;
    open_period(ctx, conn, &period).await?;
    let now = ctx.now();
    let existing =
        store::find_line(conn, &period.key(), &s.department, &channel, &campaign).await?;
    let needs_approval = s.amount_cents > c.line_approval_above_cents
        && existing
            .as_ref()
            .is_none_or(|l| l.budget_cents != s.amount_cents);
    let mut line = match existing {
        Some(mut l) => {
            l.hard = s.hard || l.hard;
            if let Some(r) = s.rollover {
                l.rollover = r;
            }
            l
        }
        None => {
            store::insert_line(
                conn,
                &Line {
                    id: 0,
                    period: period.key(),
                    department: s.department.clone(),
                    channel: channel.clone(),
                    campaign: campaign.clone(),
                    budget_cents: 0,
                    spent_cents: 0,
                    committed_cents: 0,
                    hard: s.hard,
                    rollover: s.rollover.unwrap_or(Rollover::None),
                    paused: false,
                    pending_cents: None,
                    approval_id: None,
                    alarms: Vec::new(),
                    mid_forecast_cents: None,
                    created_by: actor.into(),
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?
        }
    };
    let from = line.budget_cents;
    if needs_approval {
        let layers = if s.amount_cents > c.line_manager_above_cents {
            Layers::FinanceAndManager
        } else {
            Layers::Finance
        };
        let new = approval_for(
            ctx,
            c,
            &person,
            layers,
            format!("line:{}", line.id),
            format!(
                "Budget line {}: {} → {}",
                line.label(),
                format_cents(from),
                format_cents(s.amount_cents)
            ),
            None,
        )?;
        let req = approvals::request(ctx, conn, &new).await?;
        line.pending_cents = Some(s.amount_cents);
        line.approval_id = Some(req.id);
        line.updated_at = now;
        store::save_line(conn, &line).await?;
        event(
            ctx,
            conn,
            "line",
            line.id,
            "line_change_requested",
            actor,
            None,
            serde_json::json!({ "line": line.label(), "from_cents": from, "to_cents": s.amount_cents, "approval_id": req.id }),
            None,
        )
        .await?;
        return Ok(LineSet {
            line,
            approval: Some(req),
        });
    }
    line.budget_cents = s.amount_cents;
    line.pending_cents = None;
    event(
        ctx,
        conn,
        "line",
        line.id,
        "line_set",
        actor,
        None,
        serde_json::json!({ "line": line.label(), "from_cents": from, "to_cents": s.amount_cents, "hard": line.hard, "rollover": line.rollover }),
        None,
    )
    .await?;
    evaluate(ctx, conn, &mut line, &period, None).await?;
    Ok(LineSet {
        line,
        approval: None,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct SplitPart {
    pub channel: String,
    pub amount_cents: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SplitResult {
    pub department: String,
    pub period: String,
    pub parts: Vec<SplitPart>,
    pub lines: Vec<LineSet>,
}

/// The default split of `[budget.split]`, pure: parts that add up to the whole.
pub fn split_parts(ctx: &Ctx, amount: i64) -> Result<Vec<SplitPart>> {
    let c = settings(&ctx.config)?;
    Ok(model::split(amount, &c.weights())
        .map_err(refusal)?
        .into_iter()
        .map(|(channel, amount_cents)| SplitPart {
            channel,
            amount_cents,
        })
        .collect())
}

/// Split a department's amount across the channels and set each channel's
/// line, in one transaction.
pub async fn split(
    ctx: &Ctx,
    department: &str,
    amount: i64,
    period: Option<&str>,
    actor: &str,
) -> Result<SplitResult> {
    let parts = split_parts(ctx, amount)?;
    let p = period_of(ctx, period)?;
    let mut tx = ctx.pool.begin().await?;
    let mut lines = Vec::new();
    for part in &parts {
        lines.push(
            set_line_in(
                ctx,
                &mut tx,
                &SetLine {
                    department: department.into(),
                    amount_cents: part.amount_cents,
                    channel: Some(part.channel.clone()),
                    campaign: None,
                    period: Some(p.key()),
                    hard: false,
                    rollover: None,
                },
                actor,
            )
            .await?,
        );
    }
    tx.commit().await?;
    Ok(SplitResult {
        department: department.into(),
        period: p.key(),
        parts,
        lines,
    })
}

/// A campaign with its own budget line in the current period.
pub async fn new_campaign(
    ctx: &Ctx,
    name: &str,
    department: &str,
    channel: &str,
    amount: i64,
    actor: &str,
) -> Result<LineSet> {
    let c = settings(&ctx.config)?;
    let key = name.trim();
    if key.is_empty() || key.len() > 80 || key.contains('/') {
        return Err(Error::invalid(
            "a campaign needs a name (up to 80 characters, no '/')",
        ));
    }
    check_department(ctx, department)?;
    check_channel(c, channel)?;
    if channel.is_empty() {
        return Err(Error::invalid("a campaign runs on a channel (--channel)"));
    }
    let mut tx = ctx.pool.begin().await?;
    if store::campaign_exists(&mut tx, key).await? {
        return Err(Error::conflict(format!("campaign {key:?} exists already")));
    }
    store::insert_campaign(
        &mut tx,
        key,
        key,
        channel,
        department,
        ctx.calendar.local_date(ctx.now()),
    )
    .await?;
    let out = set_line_in(
        ctx,
        &mut tx,
        &SetLine {
            department: department.into(),
            amount_cents: amount,
            channel: Some(channel.into()),
            campaign: Some(key.into()),
            period: None,
            hard: false,
            rollover: None,
        },
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

// ---------------------------------------------------------------------------
// Commitments (the door for other workflows) and spend requests

/// A commitment from another workflow (a vendor contract, a content cost).
#[derive(Debug, Clone)]
pub struct NewCommitment {
    pub department: String,
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub amount_cents: i64,
    /// External reference: an expense with the same reference replaces it.
    pub r#ref: String,
    /// The local date it falls on (its period).
    pub on: NaiveDate,
    pub source_workflow: String,
    pub source_entity: String,
    pub correlation_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Committed {
    pub line_id: i64,
    pub period: String,
    /// False when the reference was already committed (nothing changed).
    pub recorded: bool,
    pub fired: Vec<Alarm>,
    pub review_id: Option<i64>,
}

/// Record a commitment against a department's line, inside the caller's
/// transaction (vendor contracts, content costs). Idempotent by reference;
/// refused over a hard limit or into a closed period; fires alerts.
pub async fn record_commitment(
    ctx: &Ctx,
    conn: &mut PgConnection,
    c: &NewCommitment,
    actor: &str,
) -> Result<Committed> {
    let cfg = settings(&ctx.config)?;
    check_department(ctx, &c.department)?;
    if c.amount_cents < 0 || c.amount_cents > cfg.max_amount_cents {
        return Err(Error::invalid(format!(
            "a commitment is between $0 and {}",
            format_cents(cfg.max_amount_cents)
        )));
    }
    if c.r#ref.trim().is_empty() {
        return Err(Error::invalid("a commitment needs a reference"));
    }
    let period = Period::containing(cfg.period, c.on);
    open_period(ctx, conn, &period).await?;
    let channel = c.channel.clone().unwrap_or_default();
    let campaign = c.campaign.clone().unwrap_or_default();
    let mut line = store::line_for_spend(conn, &period.key(), &c.department, &channel, &campaign)
        .await?
        .ok_or_else(|| no_line(&c.department, &channel, &period))?;
    model::check_hard_limit(
        line.hard,
        line.budget_cents,
        line.spent_cents,
        line.committed_cents,
        c.amount_cents,
        &line.label(),
    )
    .map_err(refusal)?;
    let now = ctx.now();
    let id = store::insert_commitment(
        conn,
        line.id,
        c.r#ref.trim(),
        c.amount_cents,
        &c.source_workflow,
        &c.source_entity,
        c.correlation_id.as_deref(),
        now,
    )
    .await?;
    if id.is_none() {
        return Ok(Committed {
            line_id: line.id,
            period: period.key(),
            recorded: false,
            fired: Vec::new(),
            review_id: None,
        });
    }
    line.committed_cents = line
        .committed_cents
        .checked_add(c.amount_cents)
        .ok_or_else(|| Error::invalid("the commitment does not fit the line"))?;
    event(
        ctx,
        conn,
        "line",
        line.id,
        "commitment_recorded",
        actor,
        None,
        serde_json::json!({
            "line": line.label(), "ref": c.r#ref, "amount_cents": c.amount_cents,
            "source_workflow": c.source_workflow, "source_entity": c.source_entity,
        }),
        c.correlation_id.clone(),
    )
    .await?;
    let ev = evaluate(ctx, conn, &mut line, &period, c.correlation_id.clone()).await?;
    Ok(Committed {
        line_id: line.id,
        period: period.key(),
        recorded: true,
        fired: ev.fired,
        review_id: ev.review_id,
    })
}

fn no_line(department: &str, channel: &str, period: &Period) -> Error {
    Error::not_found(format!(
        "no budget line for {department}{}{} in {}: set one first (vivid budget set {department} AMOUNT{})",
        if channel.is_empty() { "" } else { "/" },
        channel,
        period.key(),
        if channel.is_empty() {
            String::new()
        } else {
            format!(" --channel {channel}")
        }
    ))
}

#[derive(Debug, Clone)]
pub struct NewRequest {
    pub department: String,
    pub amount_cents: i64,
    pub reason: String,
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub r#ref: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestOutcome {
    pub request: store::Request,
    /// "approved" (automatically) or "pending".
    pub state: String,
    pub approval: Option<ApprovalRequest>,
}

/// Ask for money before spending. Below the auto-approve threshold it is a
/// commitment at once; otherwise the approval layers decide.
pub async fn request_spend(ctx: &Ctx, r: &NewRequest, actor: &str) -> Result<RequestOutcome> {
    let c = settings(&ctx.config)?;
    let person = ctx.org.actor(actor)?.clone();
    check_department(ctx, &r.department)?;
    require_head_or_finance(ctx, &person, &r.department, "spend")?;
    if r.reason.trim().is_empty() {
        return Err(Error::invalid("a spend request needs a reason (--reason)"));
    }
    if r.amount_cents <= 0 {
        return Err(Error::invalid("a spend request is for a positive amount"));
    }
    let channel = r.channel.clone().unwrap_or_default();
    check_channel(c, &channel)?;
    let campaign = r.campaign.clone().unwrap_or_default();
    let period = period_of(ctx, None)?;
    let mut tx = ctx.pool.begin().await?;
    open_period(ctx, &mut tx, &period).await?;
    let line = store::line_for_spend(&mut tx, &period.key(), &r.department, &channel, &campaign)
        .await?
        .ok_or_else(|| no_line(&r.department, &channel, &period))?;
    if line.paused {
        return Err(Error::conflict(format!(
            "{} is paused by a spend review: no new spend",
            line.label()
        )));
    }
    model::check_hard_limit(
        line.hard,
        line.budget_cents,
        line.spent_cents,
        line.committed_cents,
        r.amount_cents,
        &line.label(),
    )
    .map_err(refusal)?;
    let now = ctx.now();
    let mut req = store::insert_request(
        &mut tx,
        line.id,
        r.r#ref.as_deref(),
        r.amount_cents,
        r.reason.trim(),
        actor,
        now,
    )
    .await?;
    let layers = model::layers(
        r.amount_cents,
        c.auto_approve_below_cents,
        c.request_manager_above_cents,
    );
    event(
        ctx,
        &mut tx,
        "request",
        req.id,
        "spend_requested",
        actor,
        Some(req.reason.clone()),
        serde_json::json!({ "line": line.label(), "line_id": line.id, "amount_cents": r.amount_cents, "ref": req.r#ref, "layers": layers }),
        None,
    )
    .await?;
    if layers == Layers::Auto {
        approve_request(ctx, &mut tx, &mut req, "auto", &period).await?;
        tx.commit().await?;
        return Ok(RequestOutcome {
            state: req.state.clone(),
            request: req,
            approval: None,
        });
    }
    let new = approval_for(
        ctx,
        c,
        &person,
        layers,
        format!("request:{}", req.id),
        format!(
            "Spend request #{}: {} on {} ({})",
            req.id,
            format_cents(r.amount_cents),
            line.label(),
            req.reason
        ),
        None,
    )?;
    let appr = approvals::request(ctx, &mut tx, &new).await?;
    req.approval_id = Some(appr.id);
    store::save_request(&mut tx, &req).await?;
    tx.commit().await?;
    Ok(RequestOutcome {
        state: req.state.clone(),
        request: req,
        approval: Some(appr),
    })
}

/// An approved request becomes a commitment on its line.
async fn approve_request(
    ctx: &Ctx,
    conn: &mut PgConnection,
    req: &mut store::Request,
    approver: &str,
    period: &Period,
) -> Result<()> {
    let now = ctx.now();
    let mut line = store::lock_line(conn, req.line_id).await?;
    model::check_hard_limit(
        line.hard,
        line.budget_cents,
        line.spent_cents,
        line.committed_cents,
        req.amount_cents,
        &line.label(),
    )
    .map_err(refusal)?;
    req.state = "approved".into();
    req.decided_at = Some(now);
    store::save_request(conn, req).await?;
    let inserted = store::insert_commitment(
        conn,
        line.id,
        &req.r#ref,
        req.amount_cents,
        WORKFLOW,
        &format!("request:{}", req.id),
        None,
        now,
    )
    .await?;
    if inserted.is_some() {
        line.committed_cents = line.committed_cents.saturating_add(req.amount_cents);
    }
    let e = NewEvent::new(WORKFLOW, "request", req.id, "spend_approved", approver)
        .transition(Some("pending"), "approved")
        .payload(serde_json::json!({ "line_id": line.id, "amount_cents": req.amount_cents, "ref": req.r#ref }));
    events::append(conn, &e, now).await?;
    let n = NewNotification::to_person(
        &req.requested_by,
        WORKFLOW,
        format!("request:{}", req.id),
        format!(
            "Spend request #{} approved: {} on {}",
            req.id,
            format_cents(req.amount_cents),
            line.label()
        ),
    )
    .body(format!(
        "Committed under reference {}; an expense with that reference replaces the commitment.",
        req.r#ref
    ))
    .dedupe(format!("budget:request:{}:approved", req.id));
    outbox::enqueue(ctx, conn, &n).await?;
    let p = store::get_period(conn, &line.period)
        .await?
        .map(|r| r.period())
        .unwrap_or(*period);
    evaluate(ctx, conn, &mut line, &p, None).await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Expenses

#[derive(Debug, Clone)]
pub struct NewExpense {
    pub department: String,
    pub amount_cents: i64,
    pub on: NaiveDate,
    pub r#ref: String,
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub vendor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpenseOutcome {
    /// None when the reference was known already (nothing changed).
    pub expense: Option<Expense>,
    pub duplicate: bool,
    pub line: Line,
    /// The commitment this expense replaced, in cents.
    pub replaced_commitment_cents: Option<i64>,
    pub fired: Vec<Alarm>,
    pub review_id: Option<i64>,
}

/// Record one expense, idempotent by reference. An open commitment with
/// the same reference is replaced by it.
pub async fn record_expense(ctx: &Ctx, x: &NewExpense, actor: &str) -> Result<ExpenseOutcome> {
    let c = settings(&ctx.config)?;
    let person = ctx.org.actor(actor)?.clone();
    check_department(ctx, &x.department)?;
    require_head_or_finance(ctx, &person, &x.department, "spend")?;
    let r = x.r#ref.trim();
    if r.is_empty() {
        return Err(Error::invalid("an expense needs a reference (--ref)"));
    }
    if x.amount_cents < 0 || x.amount_cents > c.max_amount_cents {
        return Err(Error::invalid(format!(
            "an expense is between $0 and {}",
            format_cents(c.max_amount_cents)
        )));
    }
    let channel = x.channel.clone().unwrap_or_default();
    check_channel(c, &channel)?;
    let campaign = x.campaign.clone().unwrap_or_default();
    let period = Period::containing(c.period, x.on);
    let mut tx = ctx.pool.begin().await?;
    open_period(ctx, &mut tx, &period).await?;
    let mut line =
        store::line_for_spend(&mut tx, &period.key(), &x.department, &channel, &campaign)
            .await?
            .ok_or_else(|| no_line(&x.department, &channel, &period))?;
    let now = ctx.now();
    let inserted = store::insert_expense(
        &mut tx,
        &Expense {
            id: 0,
            line_id: line.id,
            r#ref: r.into(),
            spent_on: x.on,
            campaign: campaign.clone(),
            vendor: x.vendor.clone().unwrap_or_default(),
            amount_cents: x.amount_cents,
            source: "manual".into(),
            recorded_by: actor.into(),
            created_at: now,
        },
    )
    .await?;
    let Some(expense) = inserted else {
        return Ok(ExpenseOutcome {
            expense: None,
            duplicate: true,
            line,
            replaced_commitment_cents: None,
            fired: Vec::new(),
            review_id: None,
        });
    };
    line.spent_cents = line
        .spent_cents
        .checked_add(x.amount_cents)
        .ok_or_else(|| Error::invalid("the expense does not fit the line"))?;
    let replaced = store::replace_commitment(&mut tx, r, now).await?;
    if let Some((cl, amount)) = replaced {
        if cl == line.id {
            line.committed_cents = line.committed_cents.saturating_sub(amount);
        } else {
            store::add_totals(&mut tx, cl, 0, -amount, now).await?;
        }
    }
    event(
        ctx,
        &mut tx,
        "line",
        line.id,
        "expense_recorded",
        actor,
        None,
        serde_json::json!({
            "line": line.label(), "ref": r, "amount_cents": x.amount_cents, "spent_on": x.on,
            "vendor": expense.vendor, "campaign": expense.campaign,
            "replaced_commitment_cents": replaced.map(|x| x.1),
        }),
        None,
    )
    .await?;
    let ev = evaluate(ctx, &mut tx, &mut line, &period, None).await?;
    tx.commit().await?;
    Ok(ExpenseOutcome {
        expense: Some(expense),
        duplicate: false,
        line,
        replaced_commitment_cents: replaced.map(|x| x.1),
        fired: ev.fired,
        review_id: ev.review_id,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct BadRow {
    /// 1-based line number in the file.
    pub line: usize,
    pub error: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub rows: usize,
    pub imported: usize,
    /// Rows whose reference was known already (importing twice changes nothing).
    pub duplicates: usize,
    pub imported_cents: i64,
    pub bad: Vec<BadRow>,
    pub alerts_fired: usize,
    pub reviews_opened: Vec<i64>,
}

/// Split one CSV line into fields (double quotes allowed, "" inside them).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

/// Import expenses from CSV (`ref,date,department,channel,campaign,vendor,amount`):
/// idempotent by reference, bad rows reported by line number while good
/// rows are kept. One transaction; rows go in in batches.
pub async fn import_csv(ctx: &Ctx, text: &str, actor: &str) -> Result<ImportReport> {
    let c = settings(&ctx.config)?;
    let person = ctx.org.actor(actor)?.clone();
    require_finance(ctx, &person, "import expenses").or_else(|_| {
        if person.has_role(crate::org::Role::Director) {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "{} cannot import expenses: it takes a director or the Finance director",
                person.label()
            )))
        }
    })?;
    let mut report = ImportReport::default();
    let mut tx = ctx.pool.begin().await?;
    let now = ctx.now();
    // (period, department, channel, campaign) -> line id, or why not.
    let mut lines: std::collections::HashMap<
        (String, String, String, String),
        std::result::Result<i64, String>,
    > = std::collections::HashMap::new();
    let mut periods: std::collections::HashMap<String, std::result::Result<Period, String>> =
        std::collections::HashMap::new();
    let mut batch: Vec<store::ImportRow> = Vec::new();
    let mut touched: std::collections::BTreeMap<i64, (i64, i64)> = Default::default();
    let mut seen_refs: std::collections::HashSet<String> = Default::default();
    const BATCH: usize = 20_000;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        let f = csv_fields(raw);
        if n == 1 && f.first().is_some_and(|x| x.eq_ignore_ascii_case("ref")) {
            continue;
        }
        report.rows += 1;
        let row = (|| -> std::result::Result<store::ImportRow, String> {
            if f.len() != 7 {
                return Err(format!(
                    "expected 7 fields (ref,date,department,channel,campaign,vendor,amount), found {}",
                    f.len()
                ));
            }
            let r = f[0].clone();
            if r.is_empty() {
                return Err("empty reference".into());
            }
            let on = NaiveDate::parse_from_str(&f[1], "%Y-%m-%d")
                .map_err(|_| format!("date {:?} is not YYYY-MM-DD", f[1]))?;
            let dept = f[2].clone();
            if ctx.org.department(&dept).is_none() {
                return Err(format!("unknown department {dept:?}"));
            }
            let channel = f[3].clone();
            if !channel.is_empty() && !c.channels.contains(&channel) {
                return Err(format!("unknown channel {channel:?}"));
            }
            let amount =
                model::parse_amount(&f[6], &c.currency, c.max_amount_cents).map_err(|e| e.0)?;
            let period = Period::containing(c.period, on);
            let key = (period.key(), dept.clone(), channel.clone(), f[4].clone());
            let line_id = match lines.get(&key) {
                Some(r) => r.clone()?,
                None => return Err(format!("\u{0}{}", period.key())),
            };
            Ok(store::ImportRow {
                line_id,
                r#ref: r,
                spent_on: on,
                campaign: f[4].clone(),
                vendor: f[5].clone(),
                amount_cents: amount,
            })
        })();
        // A line not yet looked up: look it up (and its period) once.
        let row = match row {
            Err(e) if e.starts_with('\u{0}') => {
                let on = NaiveDate::parse_from_str(&f[1], "%Y-%m-%d").unwrap_or_default();
                let period = Period::containing(c.period, on);
                let pk = period.key();
                if !periods.contains_key(&pk) {
                    let st = match store::get_period(&mut tx, &pk).await? {
                        Some(p) if p.state == PeriodState::Closed => {
                            Err(format!("period {pk} is closed"))
                        }
                        _ => Ok(period),
                    };
                    if st.is_ok() {
                        open_period(ctx, &mut tx, &period).await?;
                    }
                    periods.insert(pk.clone(), st);
                }
                let key = (pk.clone(), f[2].clone(), f[3].clone(), f[4].clone());
                let found = match periods.get(&pk) {
                    Some(Err(e)) => Err(e.clone()),
                    _ => match store::line_for_spend(&mut tx, &pk, &f[2], &f[3], &f[4]).await? {
                        Some(l) => Ok(l.id),
                        None => Err(no_line(&f[2], &f[3], &period).to_string()),
                    },
                };
                lines.insert(key, found.clone());
                found.map(|line_id| store::ImportRow {
                    line_id,
                    r#ref: f[0].clone(),
                    spent_on: on,
                    campaign: f[4].clone(),
                    vendor: f[5].clone(),
                    amount_cents: model::parse_amount(&f[6], &c.currency, c.max_amount_cents)
                        .unwrap_or(0),
                })
            }
            other => other,
        };
        match row {
            Ok(r) => {
                if !seen_refs.insert(r.r#ref.clone()) {
                    report.duplicates += 1;
                    continue;
                }
                batch.push(r);
                if batch.len() >= BATCH {
                    flush(&mut tx, &mut batch, actor, now, &mut report, &mut touched).await?;
                }
            }
            Err(error) => report.bad.push(BadRow { line: n, error }),
        }
    }
    flush(&mut tx, &mut batch, actor, now, &mut report, &mut touched).await?;
    for (line_id, (spent, committed_back)) in &touched {
        store::add_totals(&mut tx, *line_id, *spent, -*committed_back, now).await?;
    }
    for line_id in touched.keys() {
        let mut line = store::lock_line(&mut tx, *line_id).await?;
        let period = match store::get_period(&mut tx, &line.period).await? {
            Some(p) => p.period(),
            None => continue,
        };
        let ev = evaluate(ctx, &mut tx, &mut line, &period, None).await?;
        report.alerts_fired += ev.fired.len();
        report.reviews_opened.extend(ev.review_id);
    }
    event(
        ctx,
        &mut tx,
        "import",
        0,
        "expenses_imported",
        actor,
        None,
        serde_json::json!({ "rows": report.rows, "imported": report.imported, "duplicates": report.duplicates,
            "bad": report.bad.len(), "imported_cents": report.imported_cents }),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

async fn flush(
    conn: &mut PgConnection,
    batch: &mut Vec<store::ImportRow>,
    actor: &str,
    now: DateTime<Utc>,
    report: &mut ImportReport,
    touched: &mut std::collections::BTreeMap<i64, (i64, i64)>,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let inserted = store::insert_expenses_bulk(conn, batch, actor, now).await?;
    report.duplicates += batch.len() - inserted.len();
    report.imported += inserted.len();
    let mut refs = Vec::with_capacity(inserted.len());
    for (line_id, r, amount) in inserted {
        report.imported_cents = report.imported_cents.saturating_add(amount);
        let e = touched.entry(line_id).or_default();
        e.0 = e.0.saturating_add(amount);
        refs.push(r);
    }
    for (line_id, amount) in store::replace_commitments(conn, &refs, now).await? {
        let e = touched.entry(line_id).or_default();
        e.1 = e.1.saturating_add(amount);
    }
    batch.clear();
    Ok(())
}

/// Revenue reported elsewhere for a campaign (idempotent by reference).
pub async fn record_revenue(
    ctx: &Ctx,
    campaign: &str,
    amount: i64,
    on: NaiveDate,
    r: &str,
    actor: &str,
) -> Result<bool> {
    ctx.org.actor(actor)?;
    if r.trim().is_empty() {
        return Err(Error::invalid("revenue needs a reference (--ref)"));
    }
    let mut tx = ctx.pool.begin().await?;
    if !store::campaign_exists(&mut tx, campaign).await? {
        return Err(Error::not_found(format!("unknown campaign {campaign:?}")));
    }
    let new =
        store::insert_revenue(&mut tx, campaign, r.trim(), on, amount, actor, ctx.now()).await?;
    if new {
        event(
            ctx,
            &mut tx,
            "campaign",
            0,
            "revenue_recorded",
            actor,
            None,
            serde_json::json!({ "campaign": campaign, "amount_cents": amount, "earned_on": on, "ref": r }),
            None,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(new)
}

// ---------------------------------------------------------------------------
// Reallocation

/// A line named by a person: "#12", "12", or "department[/channel[/campaign]]".
pub async fn resolve_line(ctx: &Ctx, spec: &str, period: Option<&str>) -> Result<i64> {
    let s = spec.trim().trim_start_matches('#');
    if let Ok(id) = s.parse::<i64>() {
        return Ok(id);
    }
    let p = period_of(ctx, period)?;
    let mut parts = s.splitn(3, '/');
    let dept = parts.next().unwrap_or_default();
    let channel = parts.next().unwrap_or_default();
    let campaign = parts.next().unwrap_or_default();
    let mut conn = ctx.pool.acquire().await?;
    let l = store::find_line(&mut conn, &p.key(), dept, channel, campaign).await?;
    l.map(|l| l.id).ok_or_else(|| {
        Error::not_found(format!(
            "no budget line {spec:?} in {} (name it department[/channel[/campaign]] or #id)",
            p.key()
        ))
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Reallocated {
    pub reallocation: Reallocation,
    pub approval: Option<ApprovalRequest>,
}

/// Move `amount` from one line to another of the same period: bounded by
/// the target's share, the total unchanged, small moves applied at once,
/// others decided by Finance. Every move is an event with its inputs.
pub async fn reallocate(
    ctx: &Ctx,
    from: i64,
    to: i64,
    amount: i64,
    reason: &str,
    actor: &str,
) -> Result<Reallocated> {
    let c = settings(&ctx.config)?;
    let person = ctx.org.actor(actor)?.clone();
    if reason.trim().is_empty() {
        return Err(Error::invalid("a reallocation needs a reason (--reason)"));
    }
    if from == to {
        return Err(Error::invalid(
            "a reallocation moves between two different lines",
        ));
    }
    let mut tx = ctx.pool.begin().await?;
    let (a, b) = (from.min(to), from.max(to));
    let first = store::lock_line(&mut tx, a).await?;
    let second = store::lock_line(&mut tx, b).await?;
    let (src, dst) = if first.id == from {
        (first, second)
    } else {
        (second, first)
    };
    require_head_or_finance(ctx, &person, &src.department, "move funds")?;
    if src.period != dst.period {
        return Err(Error::invalid(format!(
            "both lines must be in the same period ({} vs {})",
            src.period, dst.period
        )));
    }
    let prow = store::lock_period(&mut tx, &src.period).await?;
    model::decide_period(prow.state, PeriodCommand::Change, &prow.key).map_err(refusal)?;
    let period = prow.period();
    let used = src.spent_cents.saturating_add(src.committed_cents);
    model::check_move(
        amount,
        src.budget_cents,
        used,
        dst.budget_cents,
        c.reallocation_max_share,
    )
    .map_err(refusal)?;
    let now = ctx.now();
    let ps = pacing_of(ctx, &src, &period, now);
    let pd = pacing_of(ctx, &dst, &period, now);
    let inputs = serde_json::json!({
        "from": { "line": src.label(), "budget_cents": src.budget_cents, "spent_cents": src.spent_cents,
                  "committed_cents": src.committed_cents, "forecast_cents": ps.forecast_cents },
        "to": { "line": dst.label(), "budget_cents": dst.budget_cents, "spent_cents": dst.spent_cents,
                "committed_cents": dst.committed_cents, "forecast_cents": pd.forecast_cents },
        "bound_cents": (dst.budget_cents as f64 * c.reallocation_max_share).floor() as i64,
        "max_share": c.reallocation_max_share,
    });
    let auto = amount < c.reallocation_auto_below_cents;
    let mut r = store::insert_reallocation(
        &mut tx,
        &Reallocation {
            id: 0,
            from_line: src.id,
            to_line: dst.id,
            amount_cents: amount,
            reason: reason.trim().into(),
            inputs,
            state: "pending".into(),
            proposed_by: actor.into(),
            approver: None,
            approval_id: None,
            created_at: now,
            decided_at: None,
        },
    )
    .await?;
    event(
        ctx,
        &mut tx,
        "reallocation",
        r.id,
        "reallocation_proposed",
        actor,
        Some(r.reason.clone()),
        serde_json::json!({ "from": src.label(), "to": dst.label(), "amount_cents": amount, "inputs": r.inputs }),
        None,
    )
    .await?;
    if auto {
        apply_reallocation(ctx, &mut tx, &mut r, "auto").await?;
        tx.commit().await?;
        return Ok(Reallocated {
            reallocation: r,
            approval: None,
        });
    }
    let new = approval_for(
        ctx,
        c,
        &person,
        Layers::Finance,
        format!("realloc:{}", r.id),
        format!(
            "Reallocation #{}: {} from {} to {}",
            r.id,
            format_cents(amount),
            src.label(),
            dst.label()
        ),
        None,
    )?;
    let appr = approvals::request(ctx, &mut tx, &new).await?;
    r.approval_id = Some(appr.id);
    store::save_reallocation(&mut tx, &r).await?;
    tx.commit().await?;
    Ok(Reallocated {
        reallocation: r,
        approval: Some(appr),
    })
}

async fn apply_reallocation(
    ctx: &Ctx,
    conn: &mut PgConnection,
    r: &mut Reallocation,
    approver: &str,
) -> Result<()> {
    let c = settings(&ctx.config)?;
    let now = ctx.now();
    let mut src = store::lock_line(conn, r.from_line.min(r.to_line)).await?;
    let mut dst = store::lock_line(conn, r.from_line.max(r.to_line)).await?;
    if src.id != r.from_line {
        std::mem::swap(&mut src, &mut dst);
    }
    let used = src.spent_cents.saturating_add(src.committed_cents);
    model::check_move(
        r.amount_cents,
        src.budget_cents,
        used,
        dst.budget_cents,
        c.reallocation_max_share,
    )
    .map_err(refusal)?;
    let total_before = src.budget_cents.saturating_add(dst.budget_cents);
    src.budget_cents -= r.amount_cents;
    dst.budget_cents = dst
        .budget_cents
        .checked_add(r.amount_cents)
        .ok_or_else(|| Error::invalid("the move does not fit the target line"))?;
    debug_assert_eq!(total_before, src.budget_cents + dst.budget_cents);
    r.state = "applied".into();
    r.approver = Some(approver.into());
    r.decided_at = Some(now);
    store::save_reallocation(conn, r).await?;
    let e = NewEvent::new(WORKFLOW, "reallocation", r.id, "reallocated", approver)
        .transition(Some("pending"), "applied")
        .reason(r.reason.clone())
        .payload(serde_json::json!({
            "from": src.label(), "to": dst.label(), "from_line": src.id, "to_line": dst.id,
            "amount_cents": r.amount_cents, "reason": r.reason, "approver": approver,
            "proposed_by": r.proposed_by, "inputs": r.inputs,
        }));
    events::append(conn, &e, now).await?;
    let period = store::get_period(conn, &src.period)
        .await?
        .map(|p| p.period())
        .ok_or_else(|| Error::internal(format!("line #{} has no period", src.id)))?;
    evaluate(ctx, conn, &mut src, &period, None).await?;
    evaluate(ctx, conn, &mut dst, &period, None).await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Decisions (spend reviews, requests, line changes, reallocations)

/// What `budget decide` says.
#[derive(Debug, Clone)]
pub enum DecideAs {
    Approve { raise_cents: Option<i64> },
    Deny,
    Adjust { campaigns: Vec<String> },
    Reallocate { from: i64, amount_cents: i64 },
}

#[derive(Debug, Clone, Serialize)]
pub struct Decided {
    pub approval_id: i64,
    pub subject: String,
    pub outcome: Outcome,
    /// The subject's state after the decision.
    pub state: String,
}

/// Decide the budget approval `approval_id` (a spend review, a spend
/// request, a line change or a reallocation), in one transaction.
pub async fn decide(
    ctx: &Ctx,
    approval_id: i64,
    actor: &str,
    how: &DecideAs,
    reason: &str,
) -> Result<Decided> {
    let mut tx = ctx.pool.begin().await?;
    let out = decide_in(ctx, &mut tx, approval_id, actor, how, reason).await?;
    tx.commit().await?;
    Ok(out)
}

async fn decide_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    approval_id: i64,
    actor: &str,
    how: &DecideAs,
    reason: &str,
) -> Result<Decided> {
    let c = settings(&ctx.config)?;
    let person = ctx.org.actor(actor)?.clone();
    let req = approvals::get(conn, approval_id).await?;
    if req.workflow != WORKFLOW {
        return Err(Error::not_found(format!(
            "approval #{approval_id} is not a budget decision (it belongs to {})",
            req.workflow
        )));
    }
    let (kind, id) = req
        .entity_id
        .split_once(':')
        .and_then(|(k, i)| i.parse::<i64>().ok().map(|i| (k.to_string(), i)))
        .ok_or_else(|| {
            Error::internal(format!("approval #{approval_id} names no budget subject"))
        })?;
    if kind == "review" {
        return decide_review(ctx, conn, &req, id, &person, how, reason).await;
    }
    let decision = match how {
        DecideAs::Approve { .. } => Decision::Approve,
        DecideAs::Deny => Decision::Reject,
        _ => {
            return Err(Error::invalid(
                "adjust and reallocate decide spend reviews; approve or deny this one",
            ));
        }
    };
    let (_, outcome) =
        approvals::decide(ctx, conn, approval_id, actor, decision, reason, None).await?;
    let now = ctx.now();
    let state = match kind.as_str() {
        "request" => {
            let mut r = store::lock_request(conn, id).await?;
            match outcome {
                Outcome::Approved if r.state == "pending" => {
                    let l = store::lock_line(conn, r.line_id).await?;
                    let p = store::get_period(conn, &l.period)
                        .await?
                        .map(|p| p.period())
                        .ok_or_else(|| Error::internal("a line without a period"))?;
                    approve_request(ctx, conn, &mut r, actor, &p).await?;
                }
                Outcome::Rejected if r.state == "pending" => {
                    r.state = "denied".into();
                    r.decided_at = Some(now);
                    store::save_request(conn, &r).await?;
                    event(
                        ctx,
                        conn,
                        "request",
                        r.id,
                        "spend_denied",
                        actor,
                        Some(reason.into()),
                        serde_json::json!({ "approval_id": approval_id }),
                        None,
                    )
                    .await?;
                }
                _ => {}
            }
            r.state
        }
        "line" => {
            let mut l = store::lock_line(conn, id).await?;
            if l.approval_id == Some(approval_id) {
                match outcome {
                    Outcome::Approved => {
                        let from = l.budget_cents;
                        l.budget_cents = l.pending_cents.unwrap_or(l.budget_cents);
                        l.pending_cents = None;
                        event(ctx, conn, "line", l.id, "line_set", actor, Some(reason.into()),
                            serde_json::json!({ "line": l.label(), "from_cents": from, "to_cents": l.budget_cents, "approval_id": approval_id }), None).await?;
                        let p = store::get_period(conn, &l.period)
                            .await?
                            .map(|p| p.period())
                            .ok_or_else(|| Error::internal("a line without a period"))?;
                        evaluate(ctx, conn, &mut l, &p, None).await?;
                    }
                    Outcome::Rejected | Outcome::ChangesRequested => {
                        l.pending_cents = None;
                        l.updated_at = now;
                        store::save_line(conn, &l).await?;
                        event(
                            ctx,
                            conn,
                            "line",
                            l.id,
                            "line_change_denied",
                            actor,
                            Some(reason.into()),
                            serde_json::json!({ "approval_id": approval_id }),
                            None,
                        )
                        .await?;
                    }
                    _ => {}
                }
            }
            if l.pending_cents.is_some() {
                "pending".into()
            } else {
                "set".into()
            }
        }
        "realloc" => {
            let mut r = store::lock_reallocation(conn, id).await?;
            match outcome {
                Outcome::Approved if r.state == "pending" => {
                    apply_reallocation(ctx, conn, &mut r, actor).await?;
                }
                Outcome::Rejected if r.state == "pending" => {
                    r.state = "denied".into();
                    r.approver = Some(actor.into());
                    r.decided_at = Some(now);
                    store::save_reallocation(conn, &r).await?;
                    event(
                        ctx,
                        conn,
                        "reallocation",
                        r.id,
                        "reallocation_denied",
                        actor,
                        Some(reason.into()),
                        serde_json::json!({ "approval_id": approval_id }),
                        None,
                    )
                    .await?;
                }
                _ => {}
            }
            r.state
        }
        other => {
            return Err(Error::internal(format!(
                "approval #{approval_id} names an unknown budget subject {other:?}"
            )));
        }
    };
    let _ = c;
    Ok(Decided {
        approval_id,
        subject: req.entity_id.clone(),
        outcome,
        state,
    })
}

async fn decide_review(
    ctx: &Ctx,
    conn: &mut PgConnection,
    req: &ApprovalRequest,
    review_id: i64,
    person: &Person,
    how: &DecideAs,
    reason: &str,
) -> Result<Decided> {
    let c = settings(&ctx.config)?;
    let now = ctx.now();
    let mut review = store::lock_review(conn, review_id).await?;
    let mut line = store::lock_line(conn, review.line_id).await?;
    // The shared approvals escalate an undecided review; then the Business
    // Manager (whom the escalation reached) decides it here.
    let escalated = req.is_rerouted() || req.status == "escalated";
    if escalated && review.state == ReviewState::Open {
        review.state = ReviewState::Escalated;
    }
    let overspend = line
        .spent_cents
        .saturating_add(line.committed_cents)
        .saturating_sub(line.budget_cents)
        .max(1);
    let decision = match how {
        DecideAs::Approve { raise_cents } => ReviewDecision::Approve {
            raise_cents: raise_cents.unwrap_or(overspend),
        },
        DecideAs::Deny => ReviewDecision::Deny,
        DecideAs::Adjust { campaigns } => ReviewDecision::Adjust {
            campaigns: campaigns.clone(),
        },
        DecideAs::Reallocate { amount_cents, .. } => ReviewDecision::Reallocate {
            amount_cents: *amount_cents,
        },
    };
    let to = model::decide_review(review.state, &decision, reason).map_err(|r| {
        Error::invalid(format!(
            "spend review #{review_id} ({}): {}",
            review.state.as_str(),
            r.0
        ))
    })?;
    let engine_decision = match decision {
        ReviewDecision::Deny => Decision::Reject,
        _ => Decision::Approve,
    };
    let outcome = if escalated {
        if !is_manager(c, ctx, person)? && !is_finance(c, ctx, person)? {
            return Err(Error::forbidden(format!(
                "spend review #{review_id} was escalated: the Business Manager decides it now, not {}",
                person.label()
            )));
        }
        // Close the shared request too, so its re-routing clock stops: as a
        // decision when this person is one of its deciders, else superseded
        // by the review's own decision.
        if req.status == "pending" {
            let recorded = if req.is_decider(&ctx.org, person) && person.handle != req.requested_by
            {
                approvals::decide(
                    ctx,
                    conn,
                    req.id,
                    &person.handle,
                    engine_decision,
                    reason,
                    None,
                )
                .await
                .is_ok()
            } else {
                false
            };
            if !recorded {
                approvals::supersede(ctx, conn, &req.workflow, &req.entity_id, &person.handle)
                    .await?;
            }
        }
        Outcome::Approved
    } else {
        let (_, o) = approvals::decide(
            ctx,
            conn,
            req.id,
            &person.handle,
            engine_decision,
            reason,
            None,
        )
        .await?;
        o
    };
    let from = review.state;
    let mut detail = serde_json::json!({ "approval_id": req.id, "inputs": review.inputs });
    match &decision {
        ReviewDecision::Approve { raise_cents } => {
            let before = line.budget_cents;
            line.budget_cents = line
                .budget_cents
                .checked_add(*raise_cents)
                .ok_or_else(|| Error::invalid("the raise does not fit the line"))?;
            detail["raise_cents"] = (*raise_cents).into();
            detail["from_cents"] = before.into();
            detail["to_cents"] = line.budget_cents.into();
        }
        ReviewDecision::Adjust { campaigns } => {
            let mut paused = Vec::new();
            for name in campaigns {
                let Some(mut cl) = store::campaign_line(conn, &line.period, name).await? else {
                    return Err(Error::not_found(format!(
                        "no line for campaign {name:?} in {}",
                        line.period
                    )));
                };
                if cl.id == line.id {
                    line.paused = true;
                } else {
                    let mut l2 = store::lock_line(conn, cl.id).await?;
                    l2.paused = true;
                    l2.updated_at = now;
                    store::save_line(conn, &l2).await?;
                    cl.paused = true;
                }
                paused.push(name.clone());
            }
            detail["paused"] = serde_json::json!(paused);
        }
        ReviewDecision::Reallocate { amount_cents } => {
            let DecideAs::Reallocate { from: src_id, .. } = how else {
                return Err(Error::internal("reallocation without a source line"));
            };
            let mut src = store::lock_line(conn, *src_id).await?;
            if src.period != line.period || src.id == line.id {
                return Err(Error::invalid(
                    "reallocate from another line of the same period",
                ));
            }
            let used = src.spent_cents.saturating_add(src.committed_cents);
            model::check_move(
                *amount_cents,
                src.budget_cents,
                used,
                line.budget_cents,
                c.reallocation_max_share,
            )
            .map_err(refusal)?;
            src.budget_cents -= amount_cents;
            line.budget_cents = line.budget_cents.saturating_add(*amount_cents);
            src.updated_at = now;
            store::save_line(conn, &src).await?;
            let r = store::insert_reallocation(
                conn,
                &Reallocation {
                    id: 0,
                    from_line: src.id,
                    to_line: line.id,
                    amount_cents: *amount_cents,
                    reason: reason.into(),
                    inputs: review.inputs.clone(),
                    state: "applied".into(),
                    proposed_by: person.handle.clone(),
                    approver: Some(person.handle.clone()),
                    approval_id: Some(req.id),
                    created_at: now,
                    decided_at: Some(now),
                },
            )
            .await?;
            event(ctx, conn, "reallocation", r.id, "reallocated", &person.handle, Some(reason.into()),
                serde_json::json!({ "from": src.label(), "to": line.label(), "amount_cents": amount_cents,
                    "reason": reason, "approver": person.handle, "review_id": review.id }), None).await?;
            detail["from_line"] = src.id.into();
            detail["amount_cents"] = (*amount_cents).into();
        }
        ReviewDecision::Deny | ReviewDecision::Escalate => {}
    }
    review.state = to;
    review.decided_at = Some(now);
    review.decided_by = Some(person.handle.clone());
    review.reason = Some(reason.into());
    store::save_review(conn, &review).await?;
    let e = NewEvent::new(
        WORKFLOW,
        "review",
        review.id,
        format!("review_{}", to.as_str()),
        &person.handle,
    )
    .transition(Some(from.as_str()), to.as_str())
    .reason(reason)
    .payload(detail);
    events::append(conn, &e, now).await?;
    let period = store::get_period(conn, &line.period)
        .await?
        .map(|p| p.period())
        .ok_or_else(|| Error::internal("a line without a period"))?;
    evaluate(ctx, conn, &mut line, &period, None).await?;
    let n = NewNotification::to_channel(
        &c.channel,
        WORKFLOW,
        format!("review:{}", review.id),
        format!(
            "Spend review #{} {}: {}",
            review.id,
            to.as_str(),
            line.label()
        ),
    )
    .body(format!("{} decided: {reason}", person.label()))
    .dedupe(format!("budget:review:{}:decided", review.id));
    outbox::enqueue(ctx, conn, &n).await?;
    Ok(Decided {
        approval_id: req.id,
        subject: req.entity_id.clone(),
        outcome,
        state: to.as_str().into(),
    })
}

/// The route for approval decisions taken in Discord or the control room.
pub async fn decide_from_engine(
    ctx: &Ctx,
    request: &ApprovalRequest,
    approver: &str,
    decision: Decision,
    comment: &str,
) -> Result<Outcome> {
    let how = match decision {
        Decision::Approve => DecideAs::Approve { raise_cents: None },
        _ => DecideAs::Deny,
    };
    let reason = if comment.trim().is_empty() {
        format!("{} from the control room", decision.as_str())
    } else {
        comment.to_string()
    };
    Ok(decide(ctx, request.id, approver, &how, &reason)
        .await?
        .outcome)
}

// ---------------------------------------------------------------------------
// Period close

#[derive(Debug, Clone, Serialize)]
pub struct NextLine {
    pub department: String,
    pub channel: String,
    pub campaign: String,
    pub rollover: Rollover,
    pub budget_cents: i64,
    pub spent_cents: i64,
    pub planned_cents: i64,
    pub next_cents: i64,
    pub uncovered_cents: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Closed {
    pub period: String,
    pub next_period: String,
    /// The proposed allocation of the next period (set as its lines).
    pub next: Vec<NextLine>,
}

/// Close (lock) a period: Finance only. The next period's lines are set
/// from the carry-over policy of each line (its planned amount is the next
/// line when one exists, else this line's budget); the Finance director
/// accepts or edits them with `budget set`.
pub async fn close_period(ctx: &Ctx, key: &str, actor: &str) -> Result<Closed> {
    let c = settings(&ctx.config)?;
    let person = ctx.org.actor(actor)?.clone();
    if !is_finance(c, ctx, &person)? {
        return Err(Error::forbidden(format!(
            "{} cannot close a period: it takes the Finance director",
            person.label()
        )));
    }
    let p = Period::parse(c.period, key).map_err(refusal)?;
    let mut tx = ctx.pool.begin().await?;
    let row = store::lock_period(&mut tx, &p.key()).await?;
    model::decide_period(row.state, PeriodCommand::Close, &row.key).map_err(refusal)?;
    let now = ctx.now();
    store::close_period(&mut tx, &row.key, actor, now).await?;
    let next = p.next();
    open_period(ctx, &mut tx, &next).await?;
    let mut out = Vec::new();
    for l in store::lines(&mut tx, &p.key(), None).await? {
        let existing =
            store::find_line(&mut tx, &next.key(), &l.department, &l.channel, &l.campaign).await?;
        let planned = existing
            .as_ref()
            .map(|x| x.budget_cents)
            .unwrap_or(l.budget_cents);
        let co = model::carry_over(l.rollover, planned, l.budget_cents, l.spent_cents)
            .ok_or_else(|| Error::invalid("the carry-over does not fit"))?;
        let mut nl = match existing {
            Some(x) => x,
            None => {
                store::insert_line(
                    &mut tx,
                    &Line {
                        id: 0,
                        period: next.key(),
                        department: l.department.clone(),
                        channel: l.channel.clone(),
                        campaign: l.campaign.clone(),
                        budget_cents: 0,
                        spent_cents: 0,
                        committed_cents: 0,
                        hard: l.hard,
                        rollover: l.rollover,
                        paused: false,
                        pending_cents: None,
                        approval_id: None,
                        alarms: Vec::new(),
                        mid_forecast_cents: None,
                        created_by: actor.into(),
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?
            }
        };
        nl.budget_cents = co.next_cents;
        nl.updated_at = now;
        store::save_line(&mut tx, &nl).await?;
        out.push(NextLine {
            department: l.department.clone(),
            channel: l.channel.clone(),
            campaign: l.campaign.clone(),
            rollover: l.rollover,
            budget_cents: l.budget_cents,
            spent_cents: l.spent_cents,
            planned_cents: planned,
            next_cents: co.next_cents,
            uncovered_cents: co.uncovered_cents,
        });
    }
    let e = NewEvent::new(WORKFLOW, "period", 0, "period_closed", actor)
        .transition(
            Some(PeriodState::Open.as_str()),
            PeriodState::Closed.as_str(),
        )
        .payload(serde_json::json!({ "period": p.key(), "next_period": next.key(), "next": out }));
    events::append(&mut tx, &e, now).await?;
    let uncovered: i64 = out.iter().map(|n| n.uncovered_cents).sum();
    let n = NewNotification::to_channel(
        &c.channel,
        WORKFLOW,
        format!("period:{}", p.key()),
        format!("Budget period {} closed by {}", p.key(), person.label()),
    )
    .body(format!(
        "{} lines carried into {}; uncovered overspend {}.",
        out.len(),
        next.key(),
        format_cents(uncovered)
    ))
    .dedupe(format!("budget:period:{}:closed", p.key()));
    outbox::enqueue(ctx, &mut tx, &n).await?;
    tx.commit().await?;
    Ok(Closed {
        period: p.key(),
        next_period: next.key(),
        next: out,
    })
}

/// The role reference of the Finance director (front ends show who decides).
pub fn finance_role(ctx: &Ctx) -> Result<RoleRef> {
    settings(&ctx.config)?.finance_ref()
}
