//! Operator actions, performed through core services as the operator.

use vivid_core::Ctx;
use vivid_core::crisis::service as crisis;
use vivid_core::decisions;
use vivid_core::engine::approvals::Outcome;
use vivid_core::workflow::ReviewText;

use crate::app::{CrisisCmd, CrisisOp, DecideCmd, Fetched, HandoffCmd, HandoffOp};

fn require_operator(operator: &str) -> Result<(), String> {
    if operator.is_empty() {
        return Err(
            "no operator is configured: set `operator` in the configuration \
                    (e.g. config/local.toml) to act from the control room"
                .into(),
        );
    }
    Ok(())
}

/// Decide an approval; returns what happened, or core's sentence why not.
/// Core routes the decision through the workflow that owns the request, so
/// an approved content version moves to Approved with it.
pub async fn decide(ctx: &Ctx, operator: &str, cmd: &DecideCmd) -> Result<String, String> {
    require_operator(operator)?;
    decisions::decide_request(
        ctx,
        cmd.request_id,
        operator,
        cmd.decision,
        &cmd.comment,
        Some(cmd.version),
    )
    .await
    .map(|(_, outcome)| describe(cmd, outcome))
    .map_err(|e| e.to_string())
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

/// An incident command; returns what happened (or, for a repeated
/// acknowledgement, who was first), or core's sentence why not.
pub async fn crisis(ctx: &Ctx, operator: &str, cmd: &CrisisCmd) -> Result<String, String> {
    require_operator(operator)?;
    let id = cmd.id;
    let done = match &cmd.op {
        CrisisOp::Acknowledge => crisis::acknowledge(ctx, id, operator).await,
        CrisisOp::Resolve { note } => crisis::resolve(ctx, id, operator, note).await,
        CrisisOp::Escalate => crisis::escalate(ctx, id, operator, None).await,
    }
    .map_err(|e| e.to_string())?;
    if let Some(why) = done.unchanged {
        return Ok(why);
    }
    let title = &cmd.title;
    Ok(match &cmd.op {
        CrisisOp::Acknowledge => format!("acknowledged #{id} “{title}”: you have it"),
        CrisisOp::Resolve { .. } => format!("resolved #{id} “{title}”"),
        CrisisOp::Escalate if done.notified.is_empty() => {
            format!("escalated #{id}: nobody new to notify")
        }
        CrisisOp::Escalate => format!(
            "escalated #{id}: notified {}",
            done.notified
                .iter()
                .map(|h| format!("@{h}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// Read an incident's detail for its overlay.
pub async fn load_incident(ctx: &Ctx, id: i64) -> Fetched<crisis::Detail> {
    Fetched {
        id,
        result: crisis::detail(ctx, id)
            .await
            .map(Box::new)
            .map_err(|e| e.to_string()),
    }
}

/// What an approval's deciders read, through the workflow that owns it.
pub async fn load_review(ctx: &Ctx, request_id: i64) -> Fetched<Option<ReviewText>> {
    Fetched {
        id: request_id,
        result: decisions::review_text(ctx, request_id)
            .await
            .map(Box::new)
            .map_err(|e| e.to_string()),
    }
}

/// A hand-off command; returns what happened, or core's sentence why not.
pub async fn handoff(ctx: &Ctx, operator: &str, cmd: &HandoffCmd) -> Result<String, String> {
    require_operator(operator)?;
    use vivid_core::collab::model::Command;
    let command = match cmd.op {
        HandoffOp::Acknowledge => Command::Acknowledge,
        HandoffOp::Done => Command::Done,
    };
    vivid_core::collab::service::act(ctx, cmd.id, command, operator, None)
        .await
        .map(|h| {
            format!(
                "hand-off #{} “{}” is {}",
                h.id,
                cmd.title,
                h.status.replace('_', " ")
            )
        })
        .map_err(|e| e.to_string())
}
