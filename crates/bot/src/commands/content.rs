//! `/content`: the review queue, one item, approve / reject / request
//! changes; the Approve and Request changes buttons on the review card (and
//! on the "Approval needed" direct messages); the live review card posted to
//! the content-review channel and edited on every change.
//!
//! A decision names the version it was made on: buttons carry the version
//! the card showed (`content:approve:7:3`), the slash commands take an
//! optional `version`, and core refuses a superseded one. Rejecting or
//! requesting changes needs a comment: the `comment` option, or from the
//! button a modal that asks for it.

use serde_json::json;
use vivid_core::Ctx;
use vivid_core::content::WORKFLOW;
use vivid_core::content::service::{self, Decided, Detail, QueueEntry};
use vivid_core::content::store::Item;
use vivid_core::engine::approvals::{ApprovalRequest, Decision, Outcome};
use vivid_core::engine::outbox::Notification;
use vivid_core::org::Person;

use crate::model::{
    Button, Choice, Embed, Invocation, Message, Modal, Response, Style, TextInput, truncate,
};
use crate::registry::{
    BoxFuture, Call, CommandDef, CommandGroup, CustomId, Failure, OptionDef, Reply,
};
use crate::render::{self, GREEN, GREY, ORANGE, RED, YELLOW, name, relative};

pub struct Content;

const NAME: &str = "content";
const COMMENT_MAX: u16 = 1000;
/// How much of the version under review the card shows.
const EXCERPT: usize = 400;

fn id_option() -> OptionDef {
    OptionDef::int("id", "The content item number, e.g. 7")
        .required()
        .autocomplete()
}

fn version_option() -> OptionDef {
    OptionDef::int(
        "version",
        "The version you reviewed: refused if another is now up for review",
    )
}

impl CommandGroup for Content {
    fn definition(&self) -> CommandDef {
        CommandDef {
            name: NAME,
            description: "Content reviews: your queue, one item, approve, reject, request changes",
            options: vec![
                OptionDef::sub(
                    "queue",
                    "What waits on your review, oldest first, with deadlines",
                    vec![],
                ),
                OptionDef::sub(
                    "show",
                    "One content item: version, state, approvals so far and the deadline",
                    vec![id_option()],
                ),
                OptionDef::sub(
                    "approve",
                    "Approve the version up for review",
                    vec![
                        id_option(),
                        OptionDef::string("comment", "Anything to add, for the owner")
                            .max_length(COMMENT_MAX),
                        version_option(),
                    ],
                ),
                OptionDef::sub(
                    "reject",
                    "Reject the version up for review, saying why",
                    vec![
                        id_option(),
                        OptionDef::string("comment", "Why it is rejected")
                            .required()
                            .max_length(COMMENT_MAX),
                        version_option(),
                    ],
                ),
                OptionDef::sub(
                    "changes",
                    "Request changes to the version up for review",
                    vec![
                        id_option(),
                        OptionDef::string("comment", "What should change")
                            .required()
                            .max_length(COMMENT_MAX),
                        version_option(),
                    ],
                ),
            ],
        }
    }

    fn ephemeral(&self, inv: &Invocation) -> bool {
        // A decision is announced to the channel; reading is private.
        !matches!(
            inv.subcommand.as_deref(),
            Some("approve" | "reject" | "changes")
        )
    }

    fn run<'a>(&'a self, call: Call<'a>, inv: &'a Invocation) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            match inv.subcommand.as_deref() {
                Some("queue") => {
                    let entries = service::queue(ctx, &call.actor.handle).await?;
                    Ok(Response::Message(
                        Message::embed(queue_embed(ctx, &entries)).ephemeral(),
                    ))
                }
                Some("show") => {
                    let d = service::detail(ctx, item_id(inv)?).await?;
                    Ok(Response::Message(content_message(ctx, &d).ephemeral()))
                }
                Some("approve") => decide(call, inv, Decision::Approve).await,
                Some("reject") => decide(call, inv, Decision::Reject).await,
                Some("changes") => decide(call, inv, Decision::RequestChanges).await,
                other => Err(Failure::usage(format!(
                    "/content {} is not a subcommand: use queue, show, approve, reject or changes",
                    other.unwrap_or("(none)")
                ))),
            }
        })
    }

    fn component<'a>(&'a self, call: Call<'a>, id: CustomId<'a>) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let (item, version) = parse_target(id.arg)?;
            match id.action {
                "approve" => {
                    let done = service::decide(
                        call.ctx,
                        item,
                        &call.actor.handle,
                        Decision::Approve,
                        "",
                        version,
                    )
                    .await?;
                    updated(call.ctx, &done).await
                }
                "changes" => Ok(comment_form(Decision::RequestChanges, item, version)),
                "reject" => Ok(comment_form(Decision::Reject, item, version)),
                other => Err(Failure::usage(format!("unknown content button {other:?}"))),
            }
        })
    }

    fn modal<'a>(
        &'a self,
        call: Call<'a>,
        id: CustomId<'a>,
        fields: &'a [(String, String)],
    ) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let decision = match id.action {
                "changes" => Decision::RequestChanges,
                "reject" => Decision::Reject,
                other => {
                    return Err(Failure::usage(format!("unknown content form {other:?}")));
                }
            };
            let (item, version) = parse_target(id.arg)?;
            let comment = fields
                .iter()
                .find(|(k, _)| k == "comment")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            let done = service::decide(
                call.ctx,
                item,
                &call.actor.handle,
                decision,
                comment,
                version,
            )
            .await?;
            if call.interaction.message_id.is_some() {
                return updated(call.ctx, &done).await;
            }
            announce(call.ctx, call.actor, &done, comment).await
        })
    }

    fn autocomplete<'a>(
        &'a self,
        call: Call<'a>,
        inv: &'a Invocation,
    ) -> BoxFuture<'a, Vec<Choice>> {
        Box::pin(async move {
            let typed = inv
                .focused()
                .map(|o| match &o.value {
                    serde_json::Value::String(s) => s.trim().trim_start_matches('#').to_lowercase(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            let matches = |item: &Item| {
                typed.is_empty()
                    || item.id.to_string().starts_with(&typed)
                    || item.title.to_lowercase().contains(&typed)
            };
            if inv.subcommand.as_deref() == Some("show") {
                // Any item, most recently changed first.
                let Ok(items) = service::list(call.ctx, None, None).await else {
                    return Vec::new();
                };
                return items
                    .iter()
                    .filter(|i| matches(i))
                    .take(25)
                    .map(|i| Choice {
                        name: format!("#{} v{} {} — {}", i.id, i.version, i.state, i.title),
                        value: json!(i.id),
                    })
                    .collect();
            }
            // Deciding: what waits on the asker.
            let Ok(queue) = service::queue(call.ctx, &call.actor.handle).await else {
                return Vec::new();
            };
            queue
                .iter()
                .filter(|q| matches(&q.item))
                .take(25)
                .map(|q| Choice {
                    name: format!(
                        "#{} v{} {}/{} approved — {}",
                        q.item.id,
                        q.approval.subject_version,
                        q.approvals_so_far,
                        q.approval.required,
                        q.item.title
                    ),
                    value: json!(q.item.id),
                })
                .collect()
        })
    }

    fn workflow(&self) -> Option<&'static str> {
        Some(WORKFLOW)
    }

    fn posts(&self, n: &Notification) -> bool {
        n.workflow == WORKFLOW
            && n.payload.get("kind").and_then(|k| k.as_str()) == Some("content_review")
    }

    fn render_entity<'a>(
        &'a self,
        ctx: &'a Ctx,
        entity_id: &'a str,
    ) -> BoxFuture<'a, Result<Message, vivid_core::Error>> {
        Box::pin(async move {
            let id: i64 = entity_id.parse().map_err(|_| {
                vivid_core::Error::invalid(format!("{entity_id:?} is not a content item number"))
            })?;
            let d = service::detail(ctx, id).await?;
            Ok(content_message(ctx, &d))
        })
    }

    /// Approve / Request changes on "Approval needed" and reminders sent to a
    /// reviewer, while that request is still open.
    fn notification_buttons<'a>(
        &'a self,
        ctx: &'a Ctx,
        n: &'a Notification,
    ) -> BoxFuture<'a, Vec<Vec<Button>>> {
        Box::pin(async move {
            let Some(approval_id) = n.payload.get("approval_id").and_then(|v| v.as_i64()) else {
                return Vec::new();
            };
            let Ok(id) = n.entity_id.parse::<i64>() else {
                return Vec::new();
            };
            let recipient = n.person.as_deref().unwrap_or(&n.recipient);
            match service::detail(ctx, id).await {
                Ok(d)
                    if d.approval.as_ref().is_some_and(|a| {
                        a.id == approval_id && a.status == "pending" && a.requested_by != recipient
                    }) =>
                {
                    buttons(&d)
                }
                _ => Vec::new(),
            }
        })
    }
}

fn item_id(inv: &Invocation) -> Result<i64, Failure> {
    inv.int("id")
        .ok_or_else(|| Failure::usage("say which content item: id:7"))
}

/// "7:3" is item 7 as version 3 showed it; "7" names no version.
fn parse_target(arg: &str) -> Result<(i64, Option<i32>), Failure> {
    let (item, version) = match arg.split_once(':') {
        Some((i, v)) => (i, Some(v)),
        None => (arg, None),
    };
    let item = item
        .parse()
        .map_err(|_| Failure::usage(format!("{item:?} is not a content item number")))?;
    let version = match version {
        Some(v) => Some(
            v.parse()
                .map_err(|_| Failure::usage(format!("{v:?} is not a version number")))?,
        ),
        None => None,
    };
    Ok((item, version))
}

async fn decide(call: Call<'_>, inv: &Invocation, decision: Decision) -> Reply {
    let id = item_id(inv)?;
    let version = match inv.int("version") {
        Some(v) => Some(i32::try_from(v).map_err(|_| {
            Failure::usage(format!(
                "{v} is not a version number: use the one /content show id:{id} shows"
            ))
        })?),
        None => None,
    };
    let comment = inv.str("comment").unwrap_or_default();
    let done =
        service::decide(call.ctx, id, &call.actor.handle, decision, comment, version).await?;
    announce(call.ctx, call.actor, &done, comment).await
}

/// A decision made by a slash command: announced in the channel with the card.
async fn announce(ctx: &Ctx, actor: &Person, done: &Decided, comment: &str) -> Reply {
    let d = service::detail(ctx, done.item.id).await?;
    let version = d
        .approval
        .as_ref()
        .map(|a| a.subject_version)
        .unwrap_or(d.item.version);
    let what = match done.outcome {
        Outcome::Pending {
            approvals,
            required,
        } => format!(
            "✅ **{}** approved v{version} of #{} ({approvals} of {required} approvals)",
            actor.name, d.item.id
        ),
        Outcome::Approved => format!(
            "✅ **{}** approved v{version} of #{}: it is approved and can be published",
            actor.name, d.item.id
        ),
        Outcome::AlreadyApproved => format!(
            "✅ **{}** approved v{version} of #{} (it was already approved)",
            actor.name, d.item.id
        ),
        Outcome::Rejected => {
            format!(
                "⛔ **{}** rejected v{version} of #{}",
                actor.name, d.item.id
            )
        }
        Outcome::ChangesRequested => format!(
            "✏️ **{}** requested changes to v{version} of #{}",
            actor.name, d.item.id
        ),
    };
    let comment = comment.trim();
    let line = if comment.is_empty() {
        format!("{what}.")
    } else {
        format!("{what} — {}", truncate(comment, 500))
    };
    Ok(Response::Message(content_message(ctx, &d).content(line)))
}

/// A decision made by a button: the message it sits on shows the new state.
async fn updated(ctx: &Ctx, done: &Decided) -> Reply {
    let d = service::detail(ctx, done.item.id).await?;
    Ok(Response::Update(content_message(ctx, &d)))
}

fn comment_form(decision: Decision, item: i64, version: Option<i32>) -> Response {
    let (action, title, label, placeholder) = match decision {
        Decision::Reject => (
            "reject",
            "Reject",
            "Why is it rejected?",
            "e.g. off-brand for the spring collection",
        ),
        _ => (
            "changes",
            "Request changes to",
            "What should change?",
            "e.g. a shorter subject line",
        ),
    };
    let (arg, shown) = match version {
        Some(v) => (format!("{item}:{v}"), format!("#{item} v{v}")),
        None => (item.to_string(), format!("#{item}")),
    };
    Response::Modal(Modal {
        custom_id: format!("{NAME}:{action}:{arg}"),
        title: format!("{title} {shown}"),
        inputs: vec![TextInput {
            custom_id: "comment".into(),
            label: label.into(),
            paragraph: true,
            required: true,
            max_length: COMMENT_MAX,
            placeholder: Some(placeholder.into()),
        }],
    })
}

fn kind_label(kind: &str) -> String {
    kind.replace('_', " ")
}

fn approvals_so_far(d: &Detail) -> usize {
    d.decisions
        .iter()
        .filter(|x| x.decision == "approve")
        .count()
}

fn status_icon(a: Option<&ApprovalRequest>) -> &'static str {
    match a.map(|a| a.display_status()) {
        Some("pending") => "📝",
        Some("approved") => "✅",
        Some("changes_requested") => "✏️",
        Some("rejected") => "⛔",
        Some("escalated") => "⏫",
        _ => "📄",
    }
}

fn colour(ctx: &Ctx, a: Option<&ApprovalRequest>) -> u32 {
    match a.map(|a| (a.display_status(), a.deadline)) {
        Some(("pending", deadline)) if deadline < ctx.now() => RED,
        Some(("pending", _)) => YELLOW,
        Some(("approved", _)) => GREEN,
        Some(("changes_requested", _)) => ORANGE,
        Some(("rejected" | "escalated", _)) => RED,
        _ => GREY,
    }
}

/// "1 of 2 · including one of director:finance, business_manager".
fn approvals_field(d: &Detail, a: &ApprovalRequest) -> String {
    let mut s = format!("{} of {}", approvals_so_far(d), a.required);
    if !a.must_include.is_empty() {
        s.push_str(&format!("\nincluding one of {}", a.must_include.join(", ")));
    }
    let status = match a.display_status() {
        "pending" => None,
        "escalated" => Some(format!("re-routed to {}", a.escalate_to.join(", "))),
        "cancelled" => Some("superseded by a newer version".to_string()),
        other => Some(other.replace('_', " ")),
    };
    if let Some(status) = status {
        s.push_str(&format!(" · {status}"));
    }
    s
}

fn deadline_field(ctx: &Ctx, a: &ApprovalRequest) -> String {
    match a.status.as_str() {
        "pending" if a.deadline >= ctx.now() && a.is_rerouted() => format!(
            "⚠ overdue: re-routed to {}, due {}",
            a.escalate_to.join(", "),
            relative(a.deadline)
        ),
        "pending" if a.deadline >= ctx.now() => format!("due {}", relative(a.deadline)),
        "pending" => format!("⚠ passed {}: being re-routed", relative(a.deadline)),
        _ => match a.decided_at {
            Some(t) => format!("decided {}", relative(t)),
            None => format!("was {}", relative(a.deadline)),
        },
    }
}

fn decisions_field(ctx: &Ctx, d: &Detail) -> String {
    d.decisions
        .iter()
        .map(|x| {
            let (icon, verb) = match x.decision.as_str() {
                "approve" => ("✅", "approved"),
                "reject" => ("⛔", "rejected"),
                "request_changes" => ("✏️", "requested changes"),
                other => ("•", other),
            };
            let comment = x.comment.trim();
            let comment = if comment.is_empty() {
                String::new()
            } else {
                format!(": {}", truncate(comment, 200))
            };
            format!(
                "{icon} {} {verb} {}{comment}",
                name(ctx, &x.approver),
                relative(x.decided_at)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The review card: what is reviewed, by whom so far, and until when.
pub fn content_embed(ctx: &Ctx, d: &Detail) -> Embed {
    let item = &d.item;
    let approval = d.approval.as_ref();
    let reviewed = approval.map(|a| a.subject_version).unwrap_or(item.version);
    let excerpt = d
        .versions
        .iter()
        .find(|v| v.version == reviewed)
        .map(|v| truncate(v.body.trim(), EXCERPT))
        .filter(|b| !b.is_empty());
    let state = item.state.label();
    let mut version = format!("v{}", item.version);
    if reviewed != item.version {
        version.push_str(&format!(" (review is of v{reviewed})"));
    }
    match item.approved_version {
        Some(v) if v == item.version => version.push_str(" (approved)"),
        Some(v) => version.push_str(&format!(" · v{v} approved")),
        None => {}
    }
    let mut e = Embed {
        title: Some(format!(
            "{} {} #{} {}",
            status_icon(approval),
            kind_label(&item.kind),
            item.id,
            item.title
        )),
        description: excerpt,
        colour: Some(colour(ctx, approval)),
        timestamp: Some(item.updated_at.to_rfc3339()),
        ..Embed::default()
    }
    .field("Kind", kind_label(&item.kind), true)
    .field("Channel", item.channel.clone(), true)
    .field("Owner", name(ctx, &item.owner), true)
    .field("Version", version, true)
    .field("State", state, true);
    match approval {
        Some(a) => {
            e = e.field("Approvals", approvals_field(d, a), true).field(
                "Deadline",
                deadline_field(ctx, a),
                true,
            );
            if !d.decisions.is_empty() {
                e = e.field("Decisions", decisions_field(ctx, d), false);
            }
        }
        None => e = e.field("Approvals", "not submitted for review yet", true),
    }
    if let Ok(review) = d.review()
        && let Some(base) = review.base_version
        && !review.diff.is_empty()
    {
        e = e.field(
            format!("Changes since v{base}"),
            diff_excerpt(&review.diff),
            false,
        );
    }
    e.footer = Some(match approval {
        Some(a) => format!("content #{} · approval #{}", item.id, a.id),
        None => format!("content #{}", item.id),
    });
    e
}

/// Room for the diff in a card field (Discord allows 1,024 characters).
const DIFF_EXCERPT: usize = 900;

/// The changed lines of a unified diff, in a diff code block, cut to fit a
/// field; the file headers are left out (the field's name says the versions).
fn diff_excerpt(diff: &str) -> String {
    let mut body = String::new();
    let mut cut = false;
    for line in diff
        .lines()
        .filter(|l| !l.starts_with("+++") && !l.starts_with("---"))
    {
        let line = line.replace("```", "'''");
        if body.chars().count() + line.chars().count() + 1 > DIFF_EXCERPT {
            cut = true;
            break;
        }
        body.push_str(&line);
        body.push('\n');
    }
    let more = if cut {
        "\n… the whole diff: `vivid content diff`"
    } else {
        ""
    };
    format!("```diff\n{body}```{more}")
}

/// Approve / Request changes while the review is open, naming the version.
pub fn buttons(d: &Detail) -> Vec<Vec<Button>> {
    let Some(a) = d.approval.as_ref().filter(|a| a.status == "pending") else {
        return Vec::new();
    };
    let arg = format!("{}:{}", d.item.id, a.subject_version);
    vec![vec![
        Button::new("Approve", format!("{NAME}:approve:{arg}"), Style::Success),
        Button::new(
            "Request changes",
            format!("{NAME}:changes:{arg}"),
            Style::Secondary,
        ),
    ]]
}

/// The card with its buttons, as posted to the content-review channel.
pub fn content_message(ctx: &Ctx, d: &Detail) -> Message {
    Message {
        content: None,
        embeds: vec![content_embed(ctx, d)],
        components: buttons(d),
        ephemeral: false,
    }
}

/// What waits on one reviewer, oldest first.
pub fn queue_embed(ctx: &Ctx, entries: &[QueueEntry]) -> Embed {
    let now = ctx.now();
    let mut lines = Vec::new();
    let mut used = 0;
    for (i, q) in entries.iter().enumerate() {
        let due = if q.approval.deadline >= now {
            format!("due {}", relative(q.approval.deadline))
        } else {
            format!("⚠ overdue since {}", relative(q.approval.deadline))
        };
        let line = format!(
            "📝 **#{} {}** · v{}\n└ {} · {} · by {} · {}/{} approved · {due}",
            q.item.id,
            truncate(&q.item.title, 80),
            q.approval.subject_version,
            kind_label(&q.item.kind),
            q.item.channel,
            name(ctx, &q.item.owner),
            q.approvals_so_far,
            q.approval.required,
        );
        if used + line.len() > 3800 {
            lines.push(format!("…and {} more", entries.len() - i));
            break;
        }
        used += line.len() + 1;
        lines.push(line);
    }
    let overdue = entries.iter().any(|q| q.approval.deadline < now);
    Embed {
        title: Some(format!("Waiting on your review ({})", entries.len())),
        description: Some(if lines.is_empty() {
            "Nothing waits on you. 🎉".into()
        } else {
            lines.join("\n")
        }),
        colour: Some(if entries.is_empty() {
            GREEN
        } else if overdue {
            render::RED
        } else {
            YELLOW
        }),
        footer: Some("/content show id:N for one item · /content approve id:N".into()),
        ..Embed::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_ids_carry_the_item_and_the_version() {
        assert_eq!(parse_target("12:3").ok(), Some((12, Some(3))));
        assert_eq!(parse_target("12").ok(), Some((12, None)));
        assert!(parse_target("x:3").is_err());
        assert!(parse_target("12:v3").is_err());
        let Response::Modal(m) = comment_form(Decision::RequestChanges, 12, Some(3)) else {
            panic!("not a modal")
        };
        assert_eq!(m.custom_id, "content:changes:12:3");
        assert_eq!(m.title, "Request changes to #12 v3");
        let Response::Modal(m) = comment_form(Decision::Reject, 12, None) else {
            panic!("not a modal")
        };
        assert_eq!(m.custom_id, "content:reject:12");
    }

    #[test]
    fn the_card_shows_what_changed_within_a_field() {
        let diff = "--- v1 (lena)\n+++ v2 (lena)\n@@ -1 +1 @@\n-10% off\n+20% off\n";
        let field = diff_excerpt(diff);
        assert_eq!(field, "```diff\n@@ -1 +1 @@\n-10% off\n+20% off\n```");
        let long: String = (0..200).map(|i| format!("+line {i} ```\n")).collect();
        let field = diff_excerpt(&long);
        assert!(field.chars().count() <= 1024, "{}", field.chars().count());
        assert!(field.ends_with("`vivid content diff`"), "{field}");
        assert_eq!(
            field.matches("```").count(),
            2,
            "a fence in the text cannot break the block"
        );
    }
}
