//! Operator actions, performed through core services as the operator.

use chrono::TimeDelta;
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
        CrisisOp::Open { text } => return open_incident(ctx, operator, text).await,
        CrisisOp::AdvancePhase => crisis::advance_phase(ctx, id, operator, None, None).await,
        CrisisOp::Note { text } => crisis::note(ctx, id, operator, text).await,
        CrisisOp::Severity { text } => {
            let (severity, reason) = severity_and_rest(text)?;
            crisis::change_severity(ctx, id, operator, severity, reason).await
        }
        CrisisOp::Commander { text } => {
            let (who, note) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
            let who = who.trim_start_matches('@');
            let note = Some(note.trim()).filter(|n| !n.is_empty());
            crisis::hand_over_command(ctx, id, operator, who, note).await
        }
        CrisisOp::Update { text, customer } => {
            let audience = if *customer {
                crisis::Audience::Customer
            } else {
                crisis::Audience::Internal
            };
            crisis::status_update(ctx, id, operator, audience, text, TimeDelta::hours(1))
                .await
                .map(|(done, _)| done)
        }
    }
    .map_err(|e| e.to_string())?;
    if let Some(why) = done.unchanged {
        return Ok(why);
    }
    let title = &cmd.title;
    let inc = &done.incident;
    Ok(match &cmd.op {
        CrisisOp::Acknowledge => format!("acknowledged #{id} “{title}”: you have it"),
        CrisisOp::Resolve { .. } => format!("resolved #{id} “{title}”"),
        CrisisOp::Open { .. } => format!("opened #{} “{}”", inc.id, inc.title),
        CrisisOp::AdvancePhase => format!("#{id} is now in {}", inc.phase.label()),
        CrisisOp::Note { .. } => format!("noted on #{id}"),
        CrisisOp::Severity { .. } => format!("#{id} is now {}", inc.severity),
        CrisisOp::Commander { .. } => format!(
            "@{} now commands #{id}",
            inc.commander.as_deref().unwrap_or_default()
        ),
        CrisisOp::Update { .. } => format!(
            "status update posted on #{id}; next due {}",
            inc.next_update_at
                .map(|t| ctx.calendar.format_local(t))
                .unwrap_or_else(|| "-".into())
        ),
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

/// "P1 Checkout fails": a severity, then the rest.
fn severity_and_rest(text: &str) -> Result<(vivid_core::crisis::Severity, &str), String> {
    let text = text.trim();
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    let severity = first
        .parse()
        .map_err(|e| format!("{e}: start with the severity, e.g. “P1 checkout fails”"))?;
    Ok((severity, rest.trim()))
}

/// Open an incident from "P1 Checkout fails" as the operator.
async fn open_incident(ctx: &Ctx, operator: &str, text: &str) -> Result<String, String> {
    let (severity, title) = severity_and_rest(text)?;
    let new = crisis::NewIncident {
        title: title.to_string(),
        description: String::new(),
        severity,
        source: crisis::Source::Manual,
        source_ref: None,
        departments: Vec::new(),
        commander: None,
        trigger_key: None,
    };
    match crisis::open(ctx, &new, operator).await {
        Ok(Some(inc)) => Ok(format!(
            "opened #{} {} “{}”: acknowledge by {}",
            inc.id,
            inc.severity,
            inc.title,
            ctx.calendar.format_local(inc.ack_deadline)
        )),
        Ok(None) => Err("an incident for this condition is already open".into()),
        Err(e) => Err(e.to_string()),
    }
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
