//! Deciding an approval request from any front end: the decision goes
//! through the workflow that owns the request, so its state moves with it
//! (an approved content version becomes Approved). One path for the CLI,
//! the control room and the bot. A request whose workflow has no decision
//! route is refused: deciding it through the bare engine would leave the
//! workflow's own state behind.

use crate::engine::Ctx;
use crate::engine::approvals::{self, ApprovalRequest, Decision, Outcome};
use crate::error::{Error, Result};
use crate::workflow::{self, ApprovalDecision, ReviewText};

/// Decide request `request_id` as `approver`.
pub async fn decide_request(
    ctx: &Ctx,
    request_id: i64,
    approver: &str,
    decision: Decision,
    comment: &str,
    version: Option<i32>,
) -> Result<(ApprovalRequest, Outcome)> {
    let request = {
        let mut conn = ctx.pool.acquire().await?;
        approvals::get(&mut conn, request_id).await?
    };
    let owner = workflow::get(&request.workflow).ok_or_else(|| {
        Error::invalid(format!(
            "approval #{request_id} belongs to {:?}, which is not a workflow this binary runs",
            request.workflow
        ))
    })?;
    let asked = ApprovalDecision {
        request: &request,
        approver,
        decision,
        comment,
        version,
    };
    let Some(route) = owner.decide(ctx, &asked) else {
        return Err(Error::invalid(format!(
            "approval #{request_id} belongs to {}, which takes no approval decisions",
            owner.title()
        )));
    };
    let outcome = route.await?;
    let mut conn = ctx.pool.acquire().await?;
    Ok((approvals::get(&mut conn, request_id).await?, outcome))
}

/// What the approvers of request `request_id` read: the text under review
/// and its diff, from the workflow that owns it. `None` when that workflow
/// has nothing beyond the request's title.
pub async fn review_text(ctx: &Ctx, request_id: i64) -> Result<Option<ReviewText>> {
    let request = {
        let mut conn = ctx.pool.acquire().await?;
        approvals::get(&mut conn, request_id).await?
    };
    let Some(owner) = workflow::get(&request.workflow) else {
        return Ok(None);
    };
    match owner.review(ctx, &request) {
        Some(read) => Ok(Some(read.await?)),
        None => Ok(None),
    }
}
