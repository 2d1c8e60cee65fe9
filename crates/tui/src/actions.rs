//! Operator actions, performed through core services as the operator.

use vivid_core::engine::approvals::{self, Outcome};
use vivid_core::{Ctx, Error, content};

use crate::app::DecideCmd;

/// Decide an approval; returns what happened, or core's sentence why not.
pub async fn decide(ctx: &Ctx, operator: &str, cmd: &DecideCmd) -> Result<String, String> {
    if operator.is_empty() {
        return Err(
            "no operator is configured: set `operator` in the configuration \
                    (e.g. config/local.toml) to act from the control room"
                .into(),
        );
    }
    decide_in_core(ctx, operator, cmd)
        .await
        .map(|outcome| describe(cmd, outcome))
        .map_err(|e| e.to_string())
}

/// Through the owning workflow's service when it has one, so the workflow
/// moves with its approval (content goes to Approved); otherwise through
/// the shared approvals engine in a transaction of its own.
async fn decide_in_core(ctx: &Ctx, operator: &str, cmd: &DecideCmd) -> vivid_core::Result<Outcome> {
    let version = Some(cmd.version);
    if cmd.workflow == content::WORKFLOW {
        let id: i64 = cmd.entity_id.parse().map_err(|_| {
            Error::invalid(format!("content id {:?} is not a number", cmd.entity_id))
        })?;
        let decided =
            content::service::decide(ctx, id, operator, cmd.decision, &cmd.comment, version)
                .await?;
        return Ok(decided.outcome);
    }
    let mut tx = ctx.pool.begin().await?;
    let (_, outcome) = approvals::decide(
        ctx,
        &mut tx,
        cmd.request_id,
        operator,
        cmd.decision,
        &cmd.comment,
        version,
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

fn describe(cmd: &DecideCmd, outcome: Outcome) -> String {
    let id = cmd.request_id;
    match outcome {
        Outcome::Pending {
            approvals,
            required,
        } => format!("approved #{id}: {approvals} of {required} approvals so far"),
        Outcome::Approved => format!("#{id} “{}” is approved", cmd.title),
        Outcome::AlreadyApproved => {
            format!("#{id} was already approved; your approval is recorded")
        }
        Outcome::Rejected => format!("#{id} “{}” is rejected", cmd.title),
        Outcome::ChangesRequested => format!("changes requested on #{id} “{}”", cmd.title),
    }
}
