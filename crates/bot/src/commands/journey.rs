//! `/journey`: the customer journey from Discord, for Sales — the queue of
//! leads handed off and waiting for contact (soonest due first, late ones
//! in red), one lead's card, and "Contacted" (a subcommand, and a button on
//! the queue and on the card). Core decides who may contact a lead and
//! acknowledges the lead hand-off; the bot only lays it out.

use serde_json::json;
use vivid_core::Ctx;
use vivid_core::journey::model::LeadStatus;
use vivid_core::journey::read::{self, Lead, QueuedLead};
use vivid_core::journey::service;

use crate::model::{Button, Choice, Embed, Invocation, Message, Response, Style, truncate};
use crate::registry::{
    BoxFuture, Call, CommandDef, CommandGroup, CustomId, Failure, OptionDef, Reply,
};
use crate::render::{self, BLUE, GREEN, GREY, RED, YELLOW, relative};

pub struct Journey;

const NAME: &str = "journey";

/// Leads shown in the queue (and buttons under it: one row of five).
const QUEUE_SHOWN: usize = 15;
const QUEUE_BUTTONS: usize = 5;

/// Discord's limit on a custom id is 100 characters.
pub const MAX_KEY_IN_BUTTON: usize = 80;

fn key_option() -> OptionDef {
    OptionDef::string("key", "The prospect's key, e.g. cust-ava")
        .required()
        .autocomplete()
        .max_length(80)
}

impl CommandGroup for Journey {
    fn definition(&self) -> CommandDef {
        CommandDef {
            name: NAME,
            description: "Customer journey: leads waiting on Sales, one lead, mark a lead contacted",
            options: vec![
                OptionDef::sub(
                    "leads",
                    "Leads handed to Sales and waiting for contact, soonest due first",
                    vec![],
                ),
                OptionDef::sub(
                    "lead",
                    "One lead: score, stage, hand-off clock, next content",
                    vec![key_option()],
                ),
                OptionDef::sub(
                    "contact",
                    "Sales contacted the lead (acknowledges its hand-off)",
                    vec![
                        key_option(),
                        OptionDef::string("note", "What was said, in a line").max_length(500),
                    ],
                ),
            ],
        }
    }

    fn run<'a>(&'a self, call: Call<'a>, inv: &'a Invocation) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            match inv.subcommand.as_deref() {
                Some("leads") => {
                    let queue = read::lead_queue(ctx, QUEUE_SHOWN as i64 + 1).await?;
                    Ok(Response::Message(queue_message(ctx, &queue).ephemeral()))
                }
                Some("lead") => {
                    let lead = read::lead(ctx, key_of(inv)?).await?;
                    Ok(Response::Message(card(ctx, &lead).ephemeral()))
                }
                Some("contact") => {
                    let key = key_of(inv)?;
                    let note = inv.str("note").unwrap_or_default();
                    service::contact(ctx, key, &call.actor.handle, note).await?;
                    let lead = read::lead(ctx, key).await?;
                    Ok(Response::Message(card(ctx, &lead).ephemeral()))
                }
                other => Err(Failure::usage(format!(
                    "/journey {} is not a subcommand: use leads, lead or contact",
                    other.unwrap_or("(none)")
                ))),
            }
        })
    }

    /// "Contacted" under a card edits the card; under the queue, the queue.
    fn component<'a>(&'a self, call: Call<'a>, id: CustomId<'a>) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            let key = id.arg.trim();
            if key.is_empty() {
                return Err(Failure::usage("this button names no lead"));
            }
            match id.action {
                "contact" => {
                    service::contact(ctx, key, &call.actor.handle, "").await?;
                    let lead = read::lead(ctx, key).await?;
                    Ok(Response::Update(card(ctx, &lead)))
                }
                "queue-contact" => {
                    service::contact(ctx, key, &call.actor.handle, "").await?;
                    let queue = read::lead_queue(ctx, QUEUE_SHOWN as i64 + 1).await?;
                    let mut m = queue_message(ctx, &queue);
                    m.content = Some(format!(
                        "{key} contacted by {}.",
                        render::name(ctx, &call.actor.handle)
                    ));
                    Ok(Response::Update(m))
                }
                other => Err(Failure::usage(format!("unknown journey button {other:?}"))),
            }
        })
    }

    /// Keys of the leads waiting on Sales that contain what is typed.
    fn autocomplete<'a>(
        &'a self,
        call: Call<'a>,
        inv: &'a Invocation,
    ) -> BoxFuture<'a, Vec<Choice>> {
        Box::pin(async move {
            let typed = inv
                .focused()
                .and_then(|o| o.value.as_str())
                .unwrap_or_default()
                .trim()
                .to_lowercase();
            let Ok(queue) = read::lead_queue(call.ctx, 100).await else {
                return Vec::new();
            };
            queue
                .iter()
                .filter(|q| typed.is_empty() || q.prospect.key.to_lowercase().contains(&typed))
                .take(25)
                .map(|q| Choice {
                    name: truncate(
                        &format!(
                            "{} — {}, score {:.0}",
                            q.prospect.key, q.prospect.segment, q.prospect.score
                        ),
                        100,
                    ),
                    value: json!(q.prospect.key),
                })
                .collect()
        })
    }
}

fn key_of(inv: &Invocation) -> Result<&str, Failure> {
    inv.str("key")
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Failure::usage("say which lead: key:cust-ava"))
}

/// "due <t:…:R>", or "late since <t:…:R>" once the hand-off's SLA ran out.
fn clock(ctx: &Ctx, due: Option<chrono::DateTime<chrono::Utc>>, breached: bool) -> String {
    match due {
        Some(d) if breached || d < ctx.now() => format!("🔴 late since {}", relative(d)),
        Some(d) => format!("contact {}", relative(d)),
        None => "no hand-off clock".into(),
    }
}

/// The queue: one field per lead, late ones first by due time; a
/// "Contacted" button for the first few.
pub fn queue_message(ctx: &Ctx, queue: &[QueuedLead]) -> Message {
    let late = queue
        .iter()
        .filter(|q| q.breached || q.due_at.is_some_and(|d| d < ctx.now()))
        .count();
    let mut e = Embed {
        title: Some(if queue.len() > QUEUE_SHOWN {
            format!("Leads waiting on Sales ({QUEUE_SHOWN}+)")
        } else {
            format!("Leads waiting on Sales ({})", queue.len())
        }),
        colour: Some(match (queue.is_empty(), late) {
            (true, _) => GREEN,
            (false, 0) => YELLOW,
            _ => RED,
        }),
        footer: Some("/journey lead key:KEY for one lead".into()),
        ..Embed::default()
    };
    if queue.is_empty() {
        e.description = Some("No lead waits for contact.".into());
        return Message::embed(e);
    }
    if late > 0 {
        e.description = Some(format!(
            "{late} past the hand-off SLA: the Sales director has been told."
        ));
    }
    for q in queue.iter().take(QUEUE_SHOWN) {
        let p = &q.prospect;
        let handed = p
            .handed_off_at
            .map(|t| format!(" · handed off {}", relative(t)))
            .unwrap_or_default();
        e = e.field(
            format!("{} · {} · score {:.0}", p.key, p.stage, p.score),
            format!(
                "{}{handed}\nsegment {} · first touch {}",
                clock(ctx, q.due_at, q.breached),
                p.segment,
                p.first_channel
            ),
            false,
        );
    }
    let row: Vec<Button> = queue
        .iter()
        .filter(|q| q.prospect.key.len() <= MAX_KEY_IN_BUTTON)
        .take(QUEUE_BUTTONS)
        .map(|q| {
            Button::new(
                format!("Contacted {}", q.prospect.key),
                format!("{NAME}:queue-contact:{}", q.prospect.key),
                Style::Primary,
            )
        })
        .collect();
    Message {
        components: if row.is_empty() {
            Vec::new()
        } else {
            vec![row]
        },
        ..Message::embed(e)
    }
}

/// One lead: where it stands (lifecycle, owner), why it is worth a call
/// (engagement by touch kind with decay, fit, source, last touches), its
/// hand-off clock, the content to send next; Accept / Contacted /
/// Disqualify while it is with Sales.
pub fn card(ctx: &Ctx, lead: &Lead) -> Message {
    let p = &lead.prospect;
    let b = &lead.brief;
    let waiting = p.status == LeadStatus::HandedOff;
    let late = waiting
        && lead
            .handoff
            .as_ref()
            .is_some_and(|h| h.breached || h.due_at < ctx.now());
    let mut e = Embed {
        title: Some(format!("Lead {}", p.key)),
        description: Some(format!(
            "**{}** ({}) · stage {} · engagement {:.0} · fit {:.0}",
            p.status.words(),
            p.status.lifecycle(),
            p.stage,
            b.engagement,
            b.fit
        )),
        colour: Some(match p.status {
            LeadStatus::Prospect => GREY,
            LeadStatus::HandedOff if late => RED,
            LeadStatus::HandedOff => YELLOW,
            LeadStatus::Accepted | LeadStatus::Contacted => BLUE,
            LeadStatus::Customer => GREEN,
            LeadStatus::Disqualified => GREY,
        }),
        ..Embed::default()
    }
    .field("Segment", p.segment.clone(), true)
    .field(
        "Owner",
        p.owner
            .as_deref()
            .map_or_else(|| "unowned".to_string(), |o| render::name(ctx, o)),
        true,
    )
    .field(
        "Source",
        format!(
            "{}{}",
            b.source_channel,
            b.campaign
                .as_ref()
                .map(|c| format!(" · {c}"))
                .unwrap_or_default()
        ),
        true,
    )
    .field(
        "Touches",
        format!("first {} · last {}", p.first_channel, p.last_channel),
        true,
    );
    if !b.breakdown.is_empty() {
        e = e.field(
            "Engagement by touch (decay applied)",
            truncate(&b.breakdown_lines().join("\n"), 1000),
            false,
        );
    }
    if !b.fit_breakdown.is_empty() {
        e = e.field("Fit", truncate(&b.fit_lines().join(", "), 1000), false);
    }
    if !b.timeline.is_empty() {
        let lines = b.timeline_lines(&|t| relative(t));
        e = e.field(
            "Last touches",
            truncate(
                &lines.into_iter().take(5).collect::<Vec<_>>().join("\n"),
                1000,
            ),
            false,
        );
    }
    if let Some(h) = &lead.handoff {
        let value = if waiting {
            clock(ctx, Some(h.due_at), h.breached)
        } else {
            format!("hand-off #{} · {}", h.id, h.status.replace('_', " "))
        };
        e = e.field(format!("Hand-off #{}", h.id), value, true);
    }
    if let (Some(by), Some(at)) = (&p.contacted_by, p.contacted_at) {
        e = e.field(
            "Contacted",
            format!("{} {}", render::name(ctx, by), relative(at)),
            true,
        );
    }
    if let Some(r) = &p.disqualify_reason
        && p.status == LeadStatus::Disqualified
    {
        e = e.field("Disqualified", truncate(r, 500), false);
    }
    if let Some(at) = p.converted_at {
        e = e.field("Customer since", relative(at), true);
    }
    if let Some((id, title)) = &lead.next_content {
        e = e.field(
            "Next touch",
            format!("content #{id} {}", truncate(title, 200)),
            false,
        );
    }
    Message {
        components: super::lead::buttons(&p.key, p.status),
        ..Message::embed(e)
    }
}
