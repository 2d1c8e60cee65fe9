//! Deciding an approval request from any front end: the decision goes
//! through the workflow that owns the request, so its state moves with it
//! (an approved content version becomes Approved). One path for the CLI,
//! the control room and the bot.

use crate::engine::Ctx;
use crate::engine::approvals::{self, ApprovalRequest, Decision, Outcome};
use crate::error::{Error, Result};

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
    match request.workflow.as_str() {
        crate::content::WORKFLOW => {
            let id: i64 = request.entity_id.parse().map_err(|_| {
                Error::invalid(format!("approval #{request_id} names no content item"))
            })?;
            let decided = crate::content::service::decide(
                ctx,
                id,
                approver,
                decision,
                comment,
                version.or(Some(request.subject_version)),
            )
            .await?;
            let mut conn = ctx.pool.acquire().await?;
            Ok((
                approvals::get(&mut conn, request_id).await?,
                decided.outcome,
            ))
        }
        crate::privacy::WORKFLOW => {
            let id: i64 = request
                .entity_id
                .strip_prefix("breach:")
                .and_then(|i| i.parse().ok())
                .ok_or_else(|| Error::invalid(format!("approval #{request_id} names no breach")))?;
            let (_, outcome) =
                crate::privacy::service::decide_closeout(ctx, id, approver, decision, comment)
                    .await?;
            let mut conn = ctx.pool.acquire().await?;
            Ok((approvals::get(&mut conn, request_id).await?, outcome))
        }
        // Workflows without their own state for approvals use the engine's.
        _ => {
            let mut tx = ctx.pool.begin().await?;
            let out = approvals::decide(
                ctx, &mut tx, request_id, approver, decision, comment, version,
            )
            .await?;
            tx.commit().await?;
            Ok(out)
        }
    }
}
