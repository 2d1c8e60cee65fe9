//! Approvals that workflows share: a request bound to one version of a thing,
//! the roles that may decide, N of M approvals, no self-approval, a comment
//! with every refusal, and a deadline that reminds and then escalates.
//!
//! The owning workflow calls [`request`] and [`decide`] inside its own
//! transaction and acts on the [`Outcome`] (e.g. content moves to Approved).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::Ctx;
use super::deadlines::{self, ClockOwner, Reached, Reaction, Stage};
use super::escalation::{self, Policy};
use super::events::{self, NewEvent};
use super::outbox::{self, NewNotification};
use super::timers::{self, HandlerFuture, Timer};
use crate::error::{Error, Result};
use crate::org::{Org, Person, Role, RoleRef};
use crate::workflow::BoxFuture;

/// Timer kinds of older binaries (approvals now run on deadline clocks).
pub const REMIND_TIMER: &str = "approval.remind";
pub const DEADLINE_TIMER: &str = "approval.deadline";
/// The owner of approval clocks, and the clock's name.
pub const CLOCK_OWNER: &str = "approvals";
const DECISION_CLOCK: &str = "decision";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
    RequestChanges,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::RequestChanges => "request_changes",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            "request_changes" => Some(Decision::RequestChanges),
            _ => None,
        }
    }
}

/// What a decision did to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// More approvals are needed.
    Pending {
        approvals: u32,
        required: u32,
    },
    Approved,
    /// A concurrent approver got there first: the decision is recorded, the
    /// request was already approved.
    AlreadyApproved,
    Rejected,
    ChangesRequested,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApprovalRequest {
    pub id: i64,
    pub workflow: String,
    pub entity_id: String,
    pub subject_version: i32,
    pub title: String,
    pub requested_by: String,
    pub eligible_roles: Vec<String>,
    pub required: i32,
    pub must_include: Vec<String>,
    pub status: String,
    pub deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The people an overdue request was re-routed to: each may decide it
    /// alone (the deciding roles' directors, then the Business Manager).
    pub escalate_to: Vec<String>,
}

impl ApprovalRequest {
    /// Pending and past its first deadline: re-routed to someone who may
    /// decide it alone.
    pub fn is_rerouted(&self) -> bool {
        self.status == "pending" && !self.escalate_to.is_empty()
    }

    /// The status a person reads: "escalated" once re-routed.
    pub fn display_status(&self) -> &str {
        if self.is_rerouted() {
            "escalated"
        } else {
            &self.status
        }
    }

    /// May this person decide, by role or because the request was re-routed to them?
    pub fn is_decider(&self, org: &Org, person: &Person) -> bool {
        org.holds_any(person, &self.deciding_roles()) || self.escalate_to.contains(&person.handle)
    }

    pub fn eligible(&self) -> Vec<RoleRef> {
        self.eligible_roles
            .iter()
            .filter_map(|r| r.parse().ok())
            .collect()
    }

    /// Roles of which at least one approver must hold one (may be empty).
    pub fn must_include(&self) -> Vec<RoleRef> {
        self.must_include
            .iter()
            .filter_map(|r| r.parse().ok())
            .collect()
    }

    /// Everyone who may decide: the eligible roles and the must-include ones.
    pub fn deciding_roles(&self) -> Vec<RoleRef> {
        let mut all = self.eligible();
        all.extend(self.must_include());
        all
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DecisionRecord {
    pub approver: String,
    pub decision: String,
    pub comment: String,
    pub decided_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT id, workflow, entity_id, subject_version, title, requested_by, eligible_roles, required, must_include, status, deadline, created_at, decided_at, escalate_to FROM approval_requests";

/// Who may decide, and the rule for N of M.
#[derive(Debug, Clone)]
pub struct NewApproval {
    pub workflow: String,
    pub entity_id: String,
    pub subject_version: i32,
    pub title: String,
    pub requested_by: String,
    pub eligible: Vec<RoleRef>,
    pub required: u32,
    /// At least one approval must come from one of these roles (they may
    /// decide too). Empty: any eligible approver counts.
    pub must_include: Vec<RoleRef>,
    /// Default: now + `approvals.deadline` from config.
    pub deadline: Option<DateTime<Utc>>,
}

/// Check a decision against the request and the decisions so far: pure.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    org: &Org,
    req: &ApprovalRequest,
    prior: &[DecisionRecord],
    approver: &Person,
    decision: Decision,
    comment: &str,
    version: Option<i32>,
) -> Result<Outcome> {
    if approver.handle == req.requested_by {
        return Err(Error::forbidden(format!(
            "{} requested this approval and cannot decide it: no self-approval",
            approver.label()
        )));
    }
    if !req.is_decider(org, approver) {
        let mut roles: Vec<String> = req.deciding_roles().iter().map(|r| r.to_string()).collect();
        roles.extend(req.escalate_to.iter().cloned());
        return Err(Error::forbidden(format!(
            "{} may not decide {:?}: it needs one of these roles or people: {}",
            approver.label(),
            req.title,
            roles.join(", ")
        )));
    }
    if let Some(v) = version
        && v != req.subject_version
    {
        return Err(Error::conflict(format!(
            "version {v} is superseded: the request is for version {}",
            req.subject_version
        )));
    }
    if decision != Decision::Approve && comment.trim().is_empty() {
        return Err(Error::invalid(
            "a rejection or a request for changes needs a comment saying why",
        ));
    }
    if let Some(mine) = prior.iter().find(|d| d.approver == approver.handle) {
        return Err(Error::conflict(format!(
            "{} already decided ({}) at {}",
            approver.label(),
            mine.decision,
            mine.decided_at.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    match req.status.as_str() {
        "pending" => {}
        "approved" if decision == Decision::Approve => return Ok(Outcome::AlreadyApproved),
        "cancelled" => {
            return Err(Error::conflict(
                "this approval request was superseded by a newer version".to_string(),
            ));
        }
        other => {
            return Err(Error::conflict(format!(
                "the request is already {}",
                other.replace('_', " ")
            )));
        }
    }
    // A decision after the deadline is still taken: the deadline re-routes
    // the request to more deciders, it never makes it undecidable.
    let rerouted_to_approver = req.escalate_to.contains(&approver.handle);
    Ok(match decision {
        Decision::Approve if rerouted_to_approver => Outcome::Approved,
        Decision::Approve => {
            let approvals = prior.iter().filter(|d| d.decision == "approve").count() as u32 + 1;
            let required = u32::try_from(req.required).unwrap_or(1);
            let must = req.must_include();
            let included = must.is_empty()
                || org.holds_any(approver, &must)
                || prior
                    .iter()
                    .filter(|d| d.decision == "approve")
                    .filter_map(|d| org.person(&d.approver))
                    .any(|p| org.holds_any(p, &must));
            if approvals >= required && included {
                Outcome::Approved
            } else {
                Outcome::Pending {
                    approvals,
                    required,
                }
            }
        }
        Decision::Reject => Outcome::Rejected,
        Decision::RequestChanges => Outcome::ChangesRequested,
    })
}

/// Open an approval request (superseding a pending one for an older version
/// of the same entity), schedule its reminder and deadline, and notify the
/// people who may decide.
pub async fn request(
    ctx: &Ctx,
    conn: &mut PgConnection,
    new: &NewApproval,
) -> Result<ApprovalRequest> {
    let now = ctx.now();
    let requester = ctx.org.actor(&new.requested_by)?;
    if new.required == 0 {
        return Err(Error::invalid("an approval needs at least one approver"));
    }
    let deciders: Vec<&Person> = ctx
        .org
        .people
        .iter()
        .filter(|p| {
            p.handle != requester.handle
                && (ctx.org.holds_any(p, &new.eligible) || ctx.org.holds_any(p, &new.must_include))
        })
        .collect();
    if (deciders.len() as u32) < new.required {
        return Err(Error::invalid(format!(
            "{} approvals are needed but only {} people other than the requester hold the roles",
            new.required,
            deciders.len()
        )));
    }
    let deadline = new
        .deadline
        .unwrap_or(now + ctx.config.approvals.deadline.delta());
    if deadline <= now {
        return Err(Error::invalid(
            "the approval deadline must be in the future",
        ));
    }
    supersede(ctx, conn, &new.workflow, &new.entity_id, &new.requested_by).await?;
    let roles: Vec<String> = new.eligible.iter().map(|r| r.to_string()).collect();
    let must: Vec<String> = new.must_include.iter().map(|r| r.to_string()).collect();
    let req: ApprovalRequest = sqlx::query_as(
        "INSERT INTO approval_requests (workflow, entity_id, subject_version, title, requested_by, eligible_roles, required, must_include, deadline, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $10, $8, $9)
         RETURNING id, workflow, entity_id, subject_version, title, requested_by, eligible_roles, required, must_include, status, deadline, created_at, decided_at, escalate_to",
    )
    .bind(&new.workflow)
    .bind(&new.entity_id)
    .bind(new.subject_version)
    .bind(&new.title)
    .bind(&new.requested_by)
    .bind(&roles)
    .bind(i32::try_from(new.required).unwrap_or(i32::MAX))
    .bind(deadline)
    .bind(now)
    .bind(&must)
    .fetch_one(&mut *conn)
    .await?;
    let remind_at = deadline - ctx.config.approvals.remind_before.delta();
    deadlines::start(
        ctx,
        conn,
        &deadlines::Clock::new(CLOCK_OWNER, req.id, DECISION_CLOCK, deadline)
            .remind_at([remind_at]),
    )
    .await?;
    for p in &deciders {
        let n = NewNotification::to_person(
            &p.handle,
            new.workflow.clone(),
            &new.entity_id,
            format!("Approval needed: {}", new.title),
        )
        .body(format!(
            "{} asks for approval of version {} (needs {} of {}). Decide by {}.",
            requester.label(),
            new.subject_version,
            new.required,
            deciders.len(),
            ctx.calendar.format_local(deadline)
        ))
        .dedupe(format!("approval:{}:request:{}", req.id, p.handle))
        .payload(serde_json::json!({ "approval_id": req.id }));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    events::append(
        conn,
        &NewEvent::new(
            new.workflow.clone(),
            "approval",
            &new.entity_id,
            "approval_requested",
            &new.requested_by,
        )
        .payload(serde_json::json!({
            "approval_id": req.id, "version": new.subject_version, "required": new.required,
            "eligible": roles, "deadline": deadline,
        })),
        now,
    )
    .await?;
    Ok(req)
}

/// Cancel the pending request of an entity (a new version supersedes it).
pub async fn supersede(
    ctx: &Ctx,
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    actor: &str,
) -> Result<Option<i64>> {
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE approval_requests SET status = 'cancelled', decided_at = $3
         WHERE workflow = $1 AND entity_id = $2 AND status = 'pending' RETURNING id",
    )
    .bind(workflow)
    .bind(entity_id)
    .bind(ctx.now())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        timers::cancel(conn, "approvals", &id.to_string(), None).await?;
        events::append(
            conn,
            &NewEvent::new(
                workflow,
                "approval",
                entity_id,
                "approval_superseded",
                actor,
            )
            .payload(serde_json::json!({ "approval_id": id })),
            ctx.now(),
        )
        .await?;
    }
    Ok(id)
}

/// Lock and load a request.
async fn lock(conn: &mut PgConnection, id: i64) -> Result<ApprovalRequest> {
    let req: Option<ApprovalRequest> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    req.ok_or_else(|| Error::not_found(format!("no approval request #{id}")))
}

pub async fn get(conn: &mut PgConnection, id: i64) -> Result<ApprovalRequest> {
    let req: Option<ApprovalRequest> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    req.ok_or_else(|| Error::not_found(format!("no approval request #{id}")))
}

/// The latest request for an entity.
pub async fn latest_for(
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
) -> Result<Option<ApprovalRequest>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE workflow = $1 AND entity_id = $2 ORDER BY id DESC LIMIT 1"
    )))
    .bind(workflow)
    .bind(entity_id)
    .fetch_optional(conn)
    .await?)
}

pub async fn decisions(conn: &mut PgConnection, request_id: i64) -> Result<Vec<DecisionRecord>> {
    Ok(sqlx::query_as(
        "SELECT approver, decision, comment, decided_at FROM approval_decisions WHERE request_id = $1 ORDER BY id",
    )
    .bind(request_id)
    .fetch_all(conn)
    .await?)
}

/// Record a decision. The request row is locked, so two approvers deciding
/// at the same instant are serialised: both are recorded, the request is
/// approved once.
pub async fn decide(
    ctx: &Ctx,
    conn: &mut PgConnection,
    request_id: i64,
    approver: &str,
    decision: Decision,
    comment: &str,
    version: Option<i32>,
) -> Result<(ApprovalRequest, Outcome)> {
    let now = ctx.now();
    let person = ctx.org.actor(approver)?.clone();
    let mut req = lock(conn, request_id).await?;
    let prior = decisions(conn, request_id).await?;
    let outcome = evaluate(&ctx.org, &req, &prior, &person, decision, comment, version)?;
    sqlx::query(
        "INSERT INTO approval_decisions (request_id, approver, decision, comment, decided_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(request_id)
    .bind(approver)
    .bind(decision.as_str())
    .bind(comment)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let new_status = match outcome {
        Outcome::Approved => Some("approved"),
        Outcome::Rejected => Some("rejected"),
        Outcome::ChangesRequested => Some("changes_requested"),
        Outcome::Pending { .. } | Outcome::AlreadyApproved => None,
    };
    if let Some(status) = new_status {
        sqlx::query("UPDATE approval_requests SET status = $2, decided_at = $3 WHERE id = $1")
            .bind(request_id)
            .bind(status)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        timers::cancel(conn, "approvals", &request_id.to_string(), None).await?;
        // Paging about an overdue request stops once someone decides it.
        escalation::cancel(
            ctx,
            conn,
            &req.workflow,
            &format!("approval:{request_id}"),
            approver,
            "the approval was decided",
        )
        .await?;
        let n = NewNotification::to_person(
            &req.requested_by,
            req.workflow.clone(),
            &req.entity_id,
            format!("{}: {}", req.title, status.replace('_', " ")),
        )
        .body(format!(
            "{} decided: {}. {}",
            person.label(),
            decision.as_str().replace('_', " "),
            comment
        ))
        .dedupe(format!("approval:{request_id}:outcome"))
        .payload(serde_json::json!({ "approval_id": request_id }));
        outbox::enqueue(ctx, conn, &n).await?;
        req.status = status.to_string();
        req.decided_at = Some(now);
    }
    let from = new_status.map(|_| "pending");
    events::append(
        conn,
        &NewEvent::new(req.workflow.clone(), "approval", &req.entity_id, format!("approval_{}", decision.as_str()), approver)
            .transition(from, new_status.unwrap_or(req.status.as_str()))
            .reason(comment)
            .payload(serde_json::json!({ "approval_id": request_id, "version": req.subject_version, "outcome": outcome })),
        now,
    )
    .await?;
    Ok((req, outcome))
}

/// Pending requests that `handle` may decide and has not, oldest first.
pub async fn queue_for(
    ctx: &Ctx,
    conn: &mut PgConnection,
    handle: &str,
) -> Result<Vec<ApprovalRequest>> {
    let person = ctx.org.actor(handle)?;
    let pending: Vec<ApprovalRequest> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} r WHERE status = 'pending' AND requested_by <> $1
           AND NOT EXISTS (SELECT 1 FROM approval_decisions d WHERE d.request_id = r.id AND d.approver = $1)
         ORDER BY created_at, id"
    )))
    .bind(handle)
    .fetch_all(conn)
    .await?;
    Ok(pending
        .into_iter()
        .filter(|r| r.is_decider(&ctx.org, person))
        .collect())
}

/// The approvals' deadline clocks: remind the approvers who have not
/// decided, then escalate a request still undecided at its deadline.
#[derive(Debug, Clone, Copy)]
pub struct Clocks;

impl ClockOwner for Clocks {
    fn reached<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
        r: &'a Reached<'a>,
    ) -> BoxFuture<'a, Result<Reaction>> {
        Box::pin(async move {
            let id: i64 = r
                .entity_id
                .parse()
                .map_err(|_| Error::internal(format!("approval clock on {:?}", r.entity_id)))?;
            match r.stage {
                Stage::Reminder => remind_waiting(ctx, conn, id).await,
                Stage::Breach => escalate_overdue(ctx, conn, id).await,
                Stage::Escalation => Ok(Reaction::Stale),
            }
        })
    }
}

fn approval_id(timer: &Timer) -> Result<i64> {
    timer
        .entity_id
        .parse()
        .map_err(|_| Error::internal(format!("approval timer {} has a bad id", timer.id)))
}

/// Timers an older binary scheduled before approvals ran on deadline clocks.
pub fn on_remind<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    timer: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        remind_waiting(ctx, conn, approval_id(timer)?).await?;
        Ok(())
    })
}

/// Timers an older binary scheduled before approvals ran on deadline clocks.
pub fn on_deadline<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
    timer: &'a Timer,
) -> HandlerFuture<'a> {
    Box::pin(async move {
        escalate_overdue(ctx, conn, approval_id(timer)?).await?;
        Ok(())
    })
}

/// Remind the approvers who have not decided yet.
async fn remind_waiting(ctx: &Ctx, conn: &mut PgConnection, id: i64) -> Result<Reaction> {
    let req = lock(conn, id).await?;
    if req.status != "pending" {
        return Ok(Reaction::Stale);
    }
    let prior = decisions(conn, id).await?;
    let waiting: Vec<String> = ctx
        .org
        .people
        .iter()
        .filter(|p| p.handle != req.requested_by && req.is_decider(&ctx.org, p))
        .filter(|p| !prior.iter().any(|d| d.approver == p.handle))
        .map(|p| p.handle.clone())
        .collect();
    for handle in &waiting {
        let n = NewNotification::to_person(
            handle,
            req.workflow.clone(),
            &req.entity_id,
            format!("Reminder: {} needs your decision", req.title),
        )
        .body(format!(
            "Decide by {}.",
            ctx.calendar.format_local(req.deadline)
        ))
        .dedupe(format!("approval:{id}:remind:{handle}"))
        .payload(serde_json::json!({ "approval_id": id }));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    events::append(
        conn,
        &NewEvent::new(
            req.workflow.clone(),
            "approval",
            &req.entity_id,
            "approval_reminded",
            "engine",
        )
        .payload(serde_json::json!({ "approval_id": id, "reminded": waiting })),
        ctx.now(),
    )
    .await?;
    Ok(Reaction::Recorded)
}

/// Who an overdue request goes to next: the directors of the deciding
/// roles' departments, then the Business Manager. Nobody twice, never the
/// requester. Empty when every level has had it. Pure.
pub fn next_deciders(org: &Org, req: &ApprovalRequest) -> Vec<String> {
    let fresh = |p: &&Person| p.handle != req.requested_by && !req.escalate_to.contains(&p.handle);
    let mut departments: Vec<String> = req
        .deciding_roles()
        .into_iter()
        .filter_map(|r| r.department)
        .collect();
    departments.sort();
    departments.dedup();
    let mut directors: Vec<String> = departments
        .iter()
        .filter_map(|d| org.director_of(d))
        .filter(fresh)
        .map(|p| p.handle.clone())
        .collect();
    directors.dedup();
    let managers_had_it = org
        .people
        .iter()
        .any(|p| p.has_role(Role::BusinessManager) && req.escalate_to.contains(&p.handle));
    if !directors.is_empty() && !managers_had_it {
        return directors;
    }
    org.people
        .iter()
        .filter(|p| p.has_role(Role::BusinessManager))
        .filter(fresh)
        .map(|p| p.handle.clone())
        .collect()
}

/// The deadline passed undecided: re-route the request to the next level
/// of deciders (each may decide alone) with a fresh deadline. When every
/// level has had it, page by the overdue policy; the request stays open
/// either way, so an item is never left undecidable.
async fn escalate_overdue(ctx: &Ctx, conn: &mut PgConnection, id: i64) -> Result<Reaction> {
    let req = lock(conn, id).await?;
    if req.status != "pending" {
        return Ok(Reaction::Stale);
    }
    let now = ctx.now();
    let next = next_deciders(&ctx.org, &req);
    if next.is_empty() {
        events::append(
            conn,
            &NewEvent::new(
                req.workflow.clone(),
                "approval",
                &req.entity_id,
                "approval_escalated",
                "engine",
            )
            .reason("every level of deciders let the deadline pass: paging by the overdue policy")
            .payload(serde_json::json!({ "approval_id": id, "deciders": req.escalate_to })),
            now,
        )
        .await?;
        let policy = Policy::named(ctx, &ctx.config.approvals.escalation_policy)?;
        let entity = format!("approval:{id}");
        let subject = format!("Overdue approval: {}", req.title);
        escalation::start(
            ctx,
            conn,
            &escalation::Start::new(&req.workflow, &entity, &subject, &policy),
        )
        .await?;
        return Ok(Reaction::Recorded);
    }
    let deadline = now + ctx.config.approvals.reroute_window.delta();
    sqlx::query(
        "UPDATE approval_requests SET escalate_to = escalate_to || $2, deadline = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(&next)
    .bind(deadline)
    .execute(&mut *conn)
    .await?;
    let level = req.escalate_to.len() + next.len();
    events::append(
        conn,
        &NewEvent::new(
            req.workflow.clone(),
            "approval",
            &req.entity_id,
            "approval_escalated",
            "engine",
        )
        .reason(format!(
            "the approval deadline passed without a decision: re-routed to {}, who may decide alone",
            next.join(", ")
        ))
        .payload(serde_json::json!({ "approval_id": id, "rerouted_to": next, "deadline": deadline })),
        now,
    )
    .await?;
    for handle in &next {
        let n = NewNotification::to_person(
            handle,
            req.workflow.clone(),
            &req.entity_id,
            format!("Overdue approval re-routed to you: {}", req.title),
        )
        .body(format!(
            "Nobody decided by the deadline. You may now decide alone (approve, reject or ask for changes). Decide by {}.",
            ctx.calendar.format_local(deadline)
        ))
        .severity("warning")
        .dedupe(format!("approval:{id}:rerouted:{handle}"))
        .payload(serde_json::json!({ "approval_id": id }));
        outbox::enqueue(ctx, conn, &n).await?;
    }
    // A new clock per level: the one that fired is still being handled.
    let remind_at = deadline - ctx.config.approvals.remind_before.delta();
    deadlines::start(
        ctx,
        conn,
        &deadlines::Clock::new(
            CLOCK_OWNER,
            id,
            format!("{DECISION_CLOCK}{level}"),
            deadline,
        )
        .remind_at([remind_at]),
    )
    .await?;
    Ok(Reaction::Recorded)
}

/// May `person` decide `request` now? Not the requester, holds a deciding
/// role, has not decided yet, and the request is still pending. The one
/// rule every front end shows (core checks it again when they act).
pub fn may_decide(
    org: &Org,
    person: &Person,
    request: &ApprovalRequest,
    decisions: &[DecisionRecord],
) -> bool {
    request.status == "pending"
        && person.handle != request.requested_by
        && request.is_decider(org, person)
        && !decisions.iter().any(|d| d.approver == person.handle)
}

/// A request still to decide, with the decisions so far.
#[derive(Debug, Clone, Serialize)]
pub struct OpenRequest {
    pub request: ApprovalRequest,
    pub decisions: Vec<DecisionRecord>,
}

impl OpenRequest {
    /// Approvals so far.
    pub fn approvals(&self) -> usize {
        self.decisions
            .iter()
            .filter(|d| d.decision == "approve")
            .count()
    }
}

/// Pending requests, soonest deadline first (`ids`: only these), with their
/// decisions: two queries however many there are.
pub async fn open_requests(
    conn: &mut PgConnection,
    ids: Option<&[i64]>,
) -> Result<Vec<OpenRequest>> {
    let requests: Vec<ApprovalRequest> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE status = 'pending' AND ($1::bigint[] IS NULL OR id = ANY($1))
         ORDER BY deadline, id"
    )))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    decisions_of(conn, requests).await
}

/// The given requests with their decisions, in one more query.
pub async fn decisions_of(
    conn: &mut PgConnection,
    requests: Vec<ApprovalRequest>,
) -> Result<Vec<OpenRequest>> {
    let ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    let rows: Vec<(i64, String, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT request_id, approver, decision, comment, decided_at FROM approval_decisions
         WHERE request_id = ANY($1) ORDER BY request_id, id",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_request: std::collections::HashMap<i64, Vec<DecisionRecord>> =
        std::collections::HashMap::new();
    for (request_id, approver, decision, comment, decided_at) in rows {
        by_request
            .entry(request_id)
            .or_default()
            .push(DecisionRecord {
                approver,
                decision,
                comment,
                decided_at,
            });
    }
    Ok(requests
        .into_iter()
        .map(|request| OpenRequest {
            decisions: by_request.remove(&request.id).unwrap_or_default(),
            request,
        })
        .collect())
}

/// Requests by id, whatever their status (the reviews a screen shows).
pub async fn requests_by_id(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<ApprovalRequest>> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = ANY($1)")))
            .bind(ids)
            .fetch_all(conn)
            .await?,
    )
}

/// How long until the deadline (negative when past), for display.
pub fn time_left(req: &ApprovalRequest, now: DateTime<Utc>) -> TimeDelta {
    req.deadline - now
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, EMBEDDED_DEFAULT};

    fn org() -> Org {
        let config =
            Config::from_toml_str("default", EMBEDDED_DEFAULT).unwrap_or_else(|e| panic!("{e}"));
        Org::from_config(&config).unwrap_or_else(|(k, r)| panic!("{k}: {r}"))
    }

    fn req(required: i32, status: &str) -> ApprovalRequest {
        let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
        ApprovalRequest {
            id: 1,
            workflow: "content".into(),
            entity_id: "7".into(),
            subject_version: 3,
            title: "Spring sale e-mail".into(),
            requested_by: "lena".into(),
            eligible_roles: vec!["director:marketing".into(), "director:creative".into()],
            required,
            must_include: vec![],
            status: status.into(),
            deadline: now + TimeDelta::hours(24),
            created_at: now,
            decided_at: None,
            escalate_to: vec![],
        }
    }

    fn rec(who: &str, what: &str) -> DecisionRecord {
        DecisionRecord {
            approver: who.into(),
            decision: what.into(),
            comment: String::new(),
            decided_at: DateTime::from_timestamp(1_780_000_100, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn n_of_m_counts_approvals() {
        let org = org();
        let maya = org
            .person("maya")
            .cloned()
            .unwrap_or_else(|| panic!("maya"));
        let iris = org
            .person("iris")
            .cloned()
            .unwrap_or_else(|| panic!("iris"));
        let r = req(2, "pending");
        let first = evaluate(&org, &r, &[], &maya, Decision::Approve, "", Some(3));
        assert_eq!(
            first.ok(),
            Some(Outcome::Pending {
                approvals: 1,
                required: 2
            })
        );
        let second = evaluate(
            &org,
            &r,
            &[rec("maya", "approve")],
            &iris,
            Decision::Approve,
            "ok",
            Some(3),
        );
        assert_eq!(second.ok(), Some(Outcome::Approved));
    }

    #[test]
    fn refuses_self_role_version_and_repeat() {
        let org = org();
        let lena = org
            .person("lena")
            .cloned()
            .unwrap_or_else(|| panic!("lena"));
        let sam = org.person("sam").cloned().unwrap_or_else(|| panic!("sam"));
        let maya = org
            .person("maya")
            .cloned()
            .unwrap_or_else(|| panic!("maya"));
        let r = req(1, "pending");
        let own = evaluate(&org, &r, &[], &lena, Decision::Approve, "", None);
        assert!(matches!(own, Err(Error::Forbidden(m)) if m.contains("self-approval")));
        let role = evaluate(&org, &r, &[], &sam, Decision::Approve, "", None);
        assert!(matches!(role, Err(Error::Forbidden(m)) if m.contains("director:marketing")));
        let old = evaluate(&org, &r, &[], &maya, Decision::Approve, "", Some(2));
        assert!(matches!(old, Err(Error::Conflict(m)) if m.contains("superseded")));
        let twice = evaluate(
            &org,
            &r,
            &[rec("maya", "approve")],
            &maya,
            Decision::Approve,
            "",
            None,
        );
        assert!(matches!(twice, Err(Error::Conflict(_))));
        let no_comment = evaluate(&org, &r, &[], &maya, Decision::Reject, " ", None);
        assert!(matches!(no_comment, Err(Error::Invalid(_))));
    }

    #[test]
    fn an_overdue_request_goes_to_the_directors_then_the_business_manager() {
        let org = org();
        let mut r = req(2, "pending");
        assert_eq!(next_deciders(&org, &r), vec!["iris", "maya"]);
        r.escalate_to = vec!["iris".into(), "maya".into()];
        assert_eq!(next_deciders(&org, &r), vec!["bea"]);
        r.escalate_to.push("bea".into());
        assert!(next_deciders(&org, &r).is_empty(), "every level had it");
        // The requester is never made a decider of their own request.
        let mut own = req(1, "pending");
        own.requested_by = "maya".into();
        assert_eq!(next_deciders(&org, &own), vec!["iris"]);
        // Roles without a department go straight to the Business Manager.
        let mut bm = req(1, "pending");
        bm.eligible_roles = vec!["business_manager".into()];
        bm.requested_by = "maya".into();
        assert_eq!(next_deciders(&org, &bm), vec!["bea"]);
    }

    #[test]
    fn a_rerouted_decider_decides_alone_even_after_the_deadline() {
        let org = org();
        let bea = org.person("bea").cloned().unwrap_or_else(|| panic!("bea"));
        let maya = org
            .person("maya")
            .cloned()
            .unwrap_or_else(|| panic!("maya"));
        let mut r = req(2, "pending");
        // Before re-routing the Business Manager holds no deciding role.
        let before = evaluate(&org, &r, &[], &bea, Decision::Approve, "", None);
        assert!(matches!(before, Err(Error::Forbidden(_))));
        r.escalate_to = vec!["bea".into()];
        assert!(r.is_rerouted());
        assert_eq!(r.display_status(), "escalated");
        let alone = evaluate(&org, &r, &[], &bea, Decision::Approve, "", None);
        assert_eq!(
            alone.ok(),
            Some(Outcome::Approved),
            "2 of 2 needed, bea decides alone"
        );
        // An original approver still counts toward N of M.
        let maya_vote = evaluate(&org, &r, &[], &maya, Decision::Approve, "", None);
        assert_eq!(
            maya_vote.ok(),
            Some(Outcome::Pending {
                approvals: 1,
                required: 2
            })
        );
        assert!(may_decide(&org, &bea, &r, &[]));
    }

    #[test]
    fn a_concurrent_second_approval_is_recorded_not_reapplied() {
        let org = org();
        let iris = org
            .person("iris")
            .cloned()
            .unwrap_or_else(|| panic!("iris"));
        let r = req(1, "approved");
        let out = evaluate(
            &org,
            &r,
            &[rec("maya", "approve")],
            &iris,
            Decision::Approve,
            "",
            None,
        );
        assert_eq!(out.ok(), Some(Outcome::AlreadyApproved));
        let rej = evaluate(
            &org,
            &r,
            &[rec("maya", "approve")],
            &iris,
            Decision::Reject,
            "no",
            None,
        );
        assert!(matches!(rej, Err(Error::Conflict(_))));
    }
}
