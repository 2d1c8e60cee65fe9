//! Content commands: one transaction each (lock the item, ask the state
//! machine, write item/version/event, approvals and timers, notify). Who may
//! edit comes from `[content.roles]`, who approves from `[content.types]`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::config::role_refs;
use super::model::{self, Command, KINDS, State};
use super::store::{self, Item, Totals, Version};
use super::{WORKFLOW, timers};
use crate::engine::Ctx;
use crate::engine::approvals::{self, ApprovalRequest, Decision, NewApproval, Outcome};
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::error::{Error, Result};
use crate::org::{Person, or_list};
use crate::workflow::ReviewText;

pub use super::model::Reading;

#[derive(Debug, Clone)]
pub struct NewContent {
    pub kind: String,
    pub title: String,
    /// The brief (version 1).
    pub body: String,
    pub owner: String,
    pub channel: String,
    pub campaign: Option<String>,
    pub cost_cents: i64,
}

/// An item's owner works on it; so does anyone in `[content.roles] edit`.
fn require_editor(ctx: &Ctx, person: &Person, item: &Item) -> Result<()> {
    let editors = super::config::settings(&ctx.config)?.roles.edit_refs()?;
    if person.handle == item.owner || ctx.org.holds_any(person, &editors) {
        return Ok(());
    }
    let who: Vec<String> = std::iter::once(format!("its owner (@{})", item.owner))
        .chain(editors.iter().map(|r| ctx.org.describe_role(r)))
        .collect();
    Err(Error::forbidden(format!(
        "{} cannot change content #{}: it takes {}",
        person.label(),
        item.id,
        or_list(&who)
    )))
}

/// The state machine's refusal, naming the item.
pub(super) fn refusal(r: model::Refusal, item: &Item) -> Error {
    Error::invalid(format!(
        "content #{} ({}): {}",
        item.id,
        item.state.as_str(),
        r.0
    ))
}

/// Append the event of a change to `item` (now in its new state) from `from`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn record(
    ctx: &Ctx,
    conn: &mut PgConnection,
    item: &Item,
    action: &str,
    actor: &str,
    from: State,
    reason: Option<String>,
    payload: serde_json::Value,
) -> Result<()> {
    let event = NewEvent::new(WORKFLOW, "content", item.id, action, actor)
        .transition(Some(from.as_str()), item.state.as_str())
        .maybe_reason(reason)
        .payload(payload);
    events::append(conn, &event, ctx.now()).await?;
    Ok(())
}

/// Create an item in Planning with its brief as version 1.
pub async fn create(ctx: &Ctx, new: &NewContent, actor: &str) -> Result<Item> {
    ctx.org.actor(actor)?;
    ctx.org.actor(&new.owner)?;
    if !KINDS.contains(&new.kind.as_str())
        || !super::config::settings(&ctx.config)?
            .types
            .contains_key(&new.kind)
    {
        return Err(Error::invalid(format!(
            "unknown content type {:?} (types: {})",
            new.kind,
            KINDS.join(", ")
        )));
    }
    if !super::config::settings(&ctx.config)?
        .channels
        .contains_key(&new.channel)
    {
        let channels: Vec<&str> = super::config::settings(&ctx.config)?
            .channels
            .keys()
            .map(String::as_str)
            .collect();
        return Err(Error::invalid(format!(
            "unknown channel {:?} (channels: {})",
            new.channel,
            channels.join(", ")
        )));
    }
    if new.title.trim().is_empty() {
        return Err(Error::invalid("content needs a title"));
    }
    ctx.config.limits.title("the title", &new.title)?;
    ctx.config.limits.body("the body", &new.body)?;
    if new.cost_cents < 0 {
        return Err(Error::invalid("cost cannot be negative"));
    }
    let mut tx = ctx.pool.begin().await?;
    if let Some(c) = &new.campaign
        && !store::campaign_exists(&mut tx, c).await?
    {
        return Err(Error::not_found(format!("unknown campaign {c:?}")));
    }
    let now = ctx.now();
    let item = store::insert(
        &mut tx,
        &Item {
            id: 0,
            kind: new.kind.clone(),
            title: new.title.trim().into(),
            owner: new.owner.clone(),
            channel: new.channel.clone(),
            campaign: new.campaign.clone(),
            cost_cents: new.cost_cents,
            state: State::Planning,
            version: 1,
            approved_version: None,
            approval_id: None,
            revision_rounds: 0,
            created_by: actor.into(),
            created_at: now,
            updated_at: now,
            last_edit_at: now,
            published_at: None,
            archived_at: None,
        },
    )
    .await?;
    store::add_version(
        &mut tx,
        &Version {
            item_id: item.id,
            version: 1,
            title: item.title.clone(),
            body: new.body.clone(),
            author: actor.into(),
            note: Some("brief".into()),
            created_at: now,
        },
    )
    .await?;
    let event = NewEvent::new(WORKFLOW, "content", item.id, "created", actor)
        .transition(None::<&str>, State::Planning.as_str())
        .reason(item.title.clone())
        .payload(serde_json::json!({ "kind": item.kind, "channel": item.channel, "owner": item.owner, "cost_cents": item.cost_cents }));
    events::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(item)
}

/// A new version. The first draft moves Planning to Creation.
pub async fn edit(
    ctx: &Ctx,
    id: i64,
    actor: &str,
    title: Option<&str>,
    body: &str,
    note: Option<&str>,
) -> Result<Item> {
    let person = ctx.org.actor(actor)?.clone();
    let mut tx = ctx.pool.begin().await?;
    let mut item = store::lock(&mut tx, id).await?;
    require_editor(ctx, &person, &item)?;
    let from = item.state;
    let to = model::decide(from, Command::Edit).map_err(|r| refusal(r, &item))?;
    if body.trim().is_empty() {
        return Err(Error::invalid("a version needs a body"));
    }
    ctx.config.limits.body("the body", body)?;
    if let Some(t) = title.filter(|t| !t.trim().is_empty()) {
        ctx.config.limits.title("the title", t)?;
    }
    let now = ctx.now();
    item.version += 1;
    if let Some(t) = title.filter(|t| !t.trim().is_empty()) {
        item.title = t.trim().into();
    }
    item.state = to;
    item.updated_at = now;
    item.last_edit_at = now;
    store::add_version(
        &mut tx,
        &Version {
            item_id: id,
            version: item.version,
            title: item.title.clone(),
            body: body.into(),
            author: actor.into(),
            note: note.map(str::to_string),
            created_at: now,
        },
    )
    .await?;
    store::save(&mut tx, &item).await?;
    record(
        ctx,
        &mut tx,
        &item,
        "edited",
        actor,
        from,
        note.map(str::to_string),
        serde_json::json!({ "version": item.version }),
    )
    .await?;
    tx.commit().await?;
    Ok(item)
}

/// Ask for approval of the current version. After the revision cap the
/// final say (the Marketing director) decides alone.
pub async fn submit(ctx: &Ctx, id: i64, actor: &str) -> Result<(Item, ApprovalRequest)> {
    let person = ctx.org.actor(actor)?.clone();
    let mut tx = ctx.pool.begin().await?;
    let mut item = store::lock(&mut tx, id).await?;
    require_editor(ctx, &person, &item)?;
    let from = item.state;
    let escalated = match item.approval_id {
        Some(a) => approvals::get(&mut tx, a).await?.is_rerouted(),
        None => false,
    };
    let to = model::decide(
        from,
        Command::Submit {
            approval_escalated: escalated,
        },
    )
    .map_err(|r| refusal(r, &item))?;
    if from == State::Optimization && item.approved_version == Some(item.version) {
        return Err(Error::invalid(format!(
            "version {} is already approved: publish it",
            item.version
        )));
    }
    let cfg = &super::config::settings(&ctx.config)?;
    let kind = cfg
        .types
        .get(&item.kind)
        .ok_or_else(|| Error::invalid(format!("content type {:?} is not configured", item.kind)))?;
    let capped = item.revision_rounds >= i32::try_from(cfg.max_revision_rounds).unwrap_or(i32::MAX);
    let (eligible, required, must_include) = if capped {
        (
            role_refs("content.final_say", std::slice::from_ref(&cfg.final_say))?,
            1,
            Vec::new(),
        )
    } else {
        let must = if item.cost_cents > cfg.finance_threshold_cents {
            role_refs("content.finance_approvers", &cfg.finance_approvers)?
        } else {
            Vec::new()
        };
        let extra = u32::from(!must.is_empty());
        let approvers = role_refs(
            &format!("content.types.{}.approvers", item.kind),
            &kind.approvers,
        )?;
        (approvers, kind.required + extra, must)
    };
    let now = ctx.now();
    let request = approvals::request(
        ctx,
        &mut tx,
        &NewApproval {
            workflow: WORKFLOW.into(),
            entity_id: id.to_string(),
            subject_version: item.version,
            title: format!(
                "{} #{}: {} (v{})",
                item.kind.replace('_', " "),
                id,
                item.title,
                item.version
            ),
            requested_by: item.owner.clone(),
            eligible,
            required,
            must_include,
            deadline: Some(now + cfg.approval_deadline.delta()),
        },
    )
    .await?;
    item.state = to;
    item.approval_id = Some(request.id);
    item.updated_at = now;
    store::save(&mut tx, &item).await?;
    let reason = capped.then(|| {
        format!(
            "{} rounds of changes: {} decides alone",
            item.revision_rounds, cfg.final_say
        )
    });
    record(
        ctx,
        &mut tx,
        &item,
        "submitted",
        actor,
        from,
        reason,
        serde_json::json!({ "version": item.version, "approval_id": request.id }),
    )
    .await?;
    let n = NewNotification::to_channel(&cfg.review_channel, WORKFLOW, id, format!("Review requested: {}", request.title))
        .body(format!("Needs {} approval(s) by {}.", request.required, ctx.calendar.format_local(request.deadline)))
        .payload(serde_json::json!({ "content_id": id, "approval_id": request.id, "kind": "content_review" }));
    outbox::enqueue(ctx, &mut tx, &n).await?;
    tx.commit().await?;
    Ok((item, request))
}

/// What a review decision did.
#[derive(Debug, Clone, Serialize)]
pub struct Decided {
    pub item: Item,
    pub outcome: Outcome,
}

/// Approve, reject or request changes on the item's pending approval. A
/// rejection sends the version back to Creation like a request for changes,
/// recorded as a rejection.
pub async fn decide(
    ctx: &Ctx,
    id: i64,
    actor: &str,
    decision: Decision,
    comment: &str,
    version: Option<i32>,
) -> Result<Decided> {
    ctx.org.actor(actor)?;
    let mut tx = ctx.pool.begin().await?;
    let mut item = store::lock(&mut tx, id).await?;
    if item.owner == actor {
        return Err(Error::forbidden(format!(
            "@{actor} owns content #{id} and cannot review it: no self-approval"
        )));
    }
    let request_id = item.approval_id.ok_or_else(|| {
        Error::invalid(format!("content #{id} has not been submitted for review"))
    })?;
    let from = item.state;
    if !matches!(from, State::Review | State::Optimization | State::Approved) {
        return Err(Error::invalid(format!(
            "content #{id} is in {from}: there is nothing to review"
        )));
    }
    let (request, outcome) =
        approvals::decide(ctx, &mut tx, request_id, actor, decision, comment, version).await?;
    let now = ctx.now();
    let command = match outcome {
        Outcome::Approved => Some(Command::Approve),
        Outcome::Rejected | Outcome::ChangesRequested => Some(Command::RevisionsNeeded),
        Outcome::Pending { .. } | Outcome::AlreadyApproved => None,
    };
    if let Some(command) = command {
        let to = model::decide(from, command).map_err(|r| refusal(r, &item))?;
        item.state = to;
        item.updated_at = now;
        match command {
            Command::Approve => item.approved_version = Some(request.subject_version),
            _ => item.revision_rounds += 1,
        }
        store::save(&mut tx, &item).await?;
        let action = match outcome {
            Outcome::Approved => "approved",
            Outcome::Rejected => "rejected",
            _ => "changes_requested",
        };
        let untracked = match command {
            Command::Approve => commit_cost(ctx, &mut tx, &item, actor).await?,
            _ => None,
        };
        record(
            ctx,
            &mut tx,
            &item,
            action,
            actor,
            from,
            (!comment.trim().is_empty()).then(|| comment.trim().to_string()),
            serde_json::json!({
                "version": request.subject_version, "approval_id": request_id,
                "revision_rounds": item.revision_rounds, "budget_untracked": untracked,
            }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Decided { item, outcome })
}

/// Money flows one way: an approved piece's cost is committed on its
/// owner's department's budget line (most specific: campaign, channel,
/// department), once per item, in the approval's transaction. Refused over
/// a hard limit; without a line, the reason it is not tracked.
async fn commit_cost(
    ctx: &Ctx,
    conn: &mut PgConnection,
    item: &Item,
    actor: &str,
) -> Result<Option<String>> {
    if item.cost_cents <= 0 {
        return Ok(None);
    }
    let department = ctx
        .org
        .person(&item.owner)
        .map(|p| p.department.clone())
        .unwrap_or_else(|| "marketing".into());
    let commitment = crate::budget::service::NewCommitment {
        department,
        channel: Some(item.channel.clone()),
        campaign: item.campaign.clone(),
        amount_cents: item.cost_cents,
        r#ref: format!("content-{}", item.id),
        on: ctx.calendar.local_date(ctx.now()),
        source_workflow: WORKFLOW.into(),
        source_entity: item.id.to_string(),
        correlation_id: Some(format!("content:{}", item.id)),
    };
    match crate::budget::service::record_commitment(ctx, conn, &commitment, actor).await {
        Ok(_) => Ok(None),
        Err(Error::NotFound(why)) => Ok(Some(why)),
        Err(e) => Err(e),
    }
}

/// Go live. Approved → Published; an optimised version (Optimization) goes
/// back to Performance. Either needs the current version approved.
pub async fn publish(ctx: &Ctx, id: i64, actor: &str) -> Result<Item> {
    let person = ctx.org.actor(actor)?.clone();
    let mut tx = ctx.pool.begin().await?;
    let mut item = store::lock(&mut tx, id).await?;
    require_editor(ctx, &person, &item)?;
    let from = item.state;
    let approved = item.approved_version == Some(item.version);
    let to = model::decide(
        from,
        Command::Publish {
            current_version_approved: approved,
        },
    )
    .map_err(|r| refusal(r, &item))?;
    let now = ctx.now();
    item.state = to;
    item.updated_at = now;
    if item.published_at.is_none() {
        item.published_at = Some(now);
    }
    store::save(&mut tx, &item).await?;
    timers::start_review(ctx, &mut tx, id).await?;
    record(
        ctx,
        &mut tx,
        &item,
        "published",
        actor,
        from,
        None,
        serde_json::json!({ "version": item.version, "channel": item.channel }),
    )
    .await?;
    tx.commit().await?;
    Ok(item)
}

/// Record performance numbers; the first ones move Published to Performance.
pub async fn record_metrics(ctx: &Ctx, id: i64, reading: Reading, source: &str) -> Result<Item> {
    if reading.views < 0
        || reading.clicks < 0
        || reading.conversions < 0
        || reading.revenue_cents < 0
    {
        return Err(Error::invalid("performance numbers cannot be negative"));
    }
    if reading.clicks > reading.views {
        return Err(Error::invalid(format!(
            "{} clicks from {} views is not possible",
            reading.clicks, reading.views
        )));
    }
    let mut tx = ctx.pool.begin().await?;
    let mut item = store::lock(&mut tx, id).await?;
    let from = item.state;
    let to = model::decide(from, Command::Measure).map_err(|r| refusal(r, &item))?;
    let now = ctx.now();
    store::insert_reading(&mut tx, id, &reading, now, source).await?;
    if to != from {
        item.state = to;
        item.updated_at = now;
        store::save(&mut tx, &item).await?;
        record(
            ctx,
            &mut tx,
            &item,
            "measuring",
            source,
            from,
            None,
            serde_json::json!({ "first_reading": reading.views }),
        )
        .await?;
    } else {
        // Live views want to know, but a reading is not a state change.
        store::notify_reading(&mut tx, id).await?;
    }
    tx.commit().await?;
    Ok(item)
}

/// Retire content in Maintenance by hand (Content Stale → Archival).
pub async fn archive(ctx: &Ctx, id: i64, actor: &str, reason: &str) -> Result<Item> {
    let person = ctx.org.actor(actor)?.clone();
    if reason.trim().is_empty() {
        return Err(Error::invalid("say why it is archived (--reason)"));
    }
    let mut tx = ctx.pool.begin().await?;
    let mut item = store::lock(&mut tx, id).await?;
    require_editor(ctx, &person, &item)?;
    let from = item.state;
    let to = model::decide(from, Command::ContentStale).map_err(|r| refusal(r, &item))?;
    let now = ctx.now();
    item.state = to;
    item.archived_at = Some(now);
    item.updated_at = now;
    store::save(&mut tx, &item).await?;
    timers::cancel_review(&mut tx, id).await?;
    record(
        ctx,
        &mut tx,
        &item,
        "archived",
        actor,
        from,
        Some(reason.trim().into()),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(item)
}

/// An item with its versions, approval and performance.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    pub item: Item,
    pub versions: Vec<Version>,
    pub approval: Option<ApprovalRequest>,
    pub decisions: Vec<approvals::DecisionRecord>,
    pub totals: Totals,
    pub baseline_ctr: Option<f64>,
}

pub async fn detail(ctx: &Ctx, id: i64) -> Result<Detail> {
    let mut conn = ctx.pool.acquire().await?;
    let item = store::get(&mut conn, id).await?;
    let versions = store::versions(&mut conn, id).await?;
    let (approval, decisions) = match item.approval_id {
        Some(a) => (
            Some(approvals::get(&mut conn, a).await?),
            approvals::decisions(&mut conn, a).await?,
        ),
        None => (None, Vec::new()),
    };
    let since = DateTime::<Utc>::UNIX_EPOCH;
    let totals = store::totals(&mut conn, id, since).await?;
    let baseline_ctr = super::config::settings(&ctx.config)?
        .channels
        .get(&item.channel)
        .map(|c| c.baseline_ctr);
    Ok(Detail {
        item,
        versions,
        approval,
        decisions,
        totals,
        baseline_ctr,
    })
}

/// One entry of a reviewer's queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueEntry {
    pub item: Item,
    pub approval: ApprovalRequest,
    pub approvals_so_far: usize,
}

/// What waits on `person`, oldest first, with deadlines.
pub async fn queue(ctx: &Ctx, person: &str) -> Result<Vec<QueueEntry>> {
    let mut conn = ctx.pool.acquire().await?;
    let pending = approvals::queue_for(ctx, &mut conn, person).await?;
    let mut out = Vec::new();
    for approval in pending.into_iter().filter(|a| a.workflow == WORKFLOW) {
        let Ok(id) = approval.entity_id.parse::<i64>() else {
            continue;
        };
        let item = store::get(&mut conn, id).await?;
        if item.owner == person {
            continue;
        }
        let approvals_so_far = approvals::decisions(&mut conn, approval.id)
            .await?
            .iter()
            .filter(|d| d.decision == "approve")
            .count();
        out.push(QueueEntry {
            item,
            approval,
            approvals_so_far,
        });
    }
    Ok(out)
}

/// A readable unified diff between two versions (default: previous → current).
pub async fn diff(ctx: &Ctx, id: i64, from: Option<i32>, to: Option<i32>) -> Result<String> {
    let mut conn = ctx.pool.acquire().await?;
    let item = store::get(&mut conn, id).await?;
    let versions = store::versions(&mut conn, id).await?;
    let to = to.unwrap_or(item.version);
    let from = from.unwrap_or((to - 1).max(1));
    let find = |v: i32| {
        versions.iter().find(|x| x.version == v).ok_or_else(|| {
            Error::not_found(format!(
                "content #{id} has no version {v} (it has 1 to {})",
                item.version
            ))
        })
    };
    let (a, b) = (find(from)?, find(to)?);
    Ok(super::diff::unified(
        &format!("v{from} ({})", a.author),
        &a.body,
        &format!("v{to} ({})", b.author),
        &b.body,
    ))
}

/// What a reviewer reads: version `version`'s text and its diff against
/// the last approved version before it (else the previous version).
pub async fn review_text(ctx: &Ctx, id: i64, version: i32) -> Result<ReviewText> {
    let mut conn = ctx.pool.acquire().await?;
    let item = store::get(&mut conn, id).await?;
    let versions = store::versions(&mut conn, id).await?;
    review_of(&item, &versions, version)
}

impl Detail {
    /// What the reviewers of the open approval (else of the current
    /// version) read.
    pub fn review(&self) -> Result<ReviewText> {
        let version = self
            .approval
            .as_ref()
            .map_or(self.item.version, |a| a.subject_version);
        review_of(&self.item, &self.versions, version)
    }
}

/// [`review_text`] from what is already read: pure.
fn review_of(item: &Item, versions: &[Version], version: i32) -> Result<ReviewText> {
    let under_review = versions
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(|| {
            Error::not_found(format!(
                "content #{} has no version {version} (it has 1 to {})",
                item.id, item.version
            ))
        })?;
    let base = item
        .approved_version
        .filter(|&a| a < version)
        .or_else(|| (version > 1).then_some(version - 1))
        .and_then(|b| versions.iter().find(|v| v.version == b));
    let diff = match base {
        Some(b) => super::diff::unified(
            &format!("v{} ({})", b.version, b.author),
            &b.body,
            &format!("v{version} ({})", under_review.author),
            &under_review.body,
        ),
        None => String::new(),
    };
    Ok(ReviewText {
        version,
        body: under_review.body.clone(),
        base_version: base.map(|b| b.version),
        diff,
    })
}

pub async fn list(ctx: &Ctx, state: Option<State>, owner: Option<&str>) -> Result<Vec<Item>> {
    let mut conn = ctx.pool.acquire().await?;
    store::list(&mut conn, state, owner, 1000).await
}
