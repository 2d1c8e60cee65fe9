//! `/lead`: Sales' lead queue from Discord — `/lead list` (leads with
//! Sales, by state and owner), `/lead show` (the lead card: why it is worth
//! a call — engagement by touch, fit, last touches, source, owner, the
//! hand-off clock, next content) and the card's buttons: Accept, Contacted,
//! Disqualify (a form asks the reason). Core decides who may do what; the
//! bot lays it out.

use serde_json::json;
use vivid_core::Ctx;
use vivid_core::journey::model::LeadStatus;
use vivid_core::journey::read::{self, QueuedLead};
use vivid_core::journey::service;

use super::journey::{MAX_KEY_IN_BUTTON, card};
use crate::model::{
    Button, Choice, Embed, Invocation, Message, Modal, Response, Style, TextInput, truncate,
};
use crate::registry::{
    BoxFuture, Call, CommandDef, CommandGroup, CustomId, Failure, OptionDef, Reply,
};
use crate::render::{GREEN, RED, YELLOW, relative};

pub struct Lead;

pub const NAME: &str = "lead";

const SHOWN: usize = 15;
const REASON_MAX: u16 = 500;

fn key_option() -> OptionDef {
    OptionDef::string("key", "The prospect's key, e.g. cust-ava")
        .required()
        .autocomplete()
        .max_length(80)
}

impl CommandGroup for Lead {
    fn definition(&self) -> CommandDef {
        CommandDef {
            name: NAME,
            description: "Leads for Sales: the queue, one lead's card, accept / contacted / disqualify",
            options: vec![
                OptionDef::sub(
                    "list",
                    "Leads with Sales (mql, sql, opportunity), soonest due first",
                    vec![
                        OptionDef::string("state", "Only leads in this state").choices(&[
                            ("mql (handed off)", "handed_off"),
                            ("sql (accepted)", "accepted"),
                            ("opportunity (contacted)", "contacted"),
                            ("disqualified", "disqualified"),
                        ]),
                        OptionDef::boolean("mine", "Only the leads I own"),
                    ],
                ),
                OptionDef::sub(
                    "show",
                    "One lead: engagement by touch, fit, timeline, source, owner, next content",
                    vec![key_option()],
                ),
            ],
        }
    }

    fn run<'a>(&'a self, call: Call<'a>, inv: &'a Invocation) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            match inv.subcommand.as_deref() {
                Some("list") => {
                    let states =
                        match inv.str("state") {
                            Some(s) => vec![LeadStatus::parse(s).ok_or_else(|| {
                                Failure::usage(format!("unknown lead state {s:?}"))
                            })?],
                            None => Vec::new(),
                        };
                    let mine = inv.bool("mine").unwrap_or(false);
                    let owner = mine.then_some(call.actor.handle.as_str());
                    let leads = read::leads(ctx, &states, owner, SHOWN as i64 + 1).await?;
                    Ok(Response::Message(list_message(ctx, &leads).ephemeral()))
                }
                Some("show") => {
                    let key = inv
                        .str("key")
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .ok_or_else(|| Failure::usage("say which lead: key:cust-ava"))?;
                    let lead = read::lead(ctx, key).await?;
                    Ok(Response::Message(card(ctx, &lead).ephemeral()))
                }
                other => Err(Failure::usage(format!(
                    "/lead {} is not a subcommand: use list or show",
                    other.unwrap_or("(none)")
                ))),
            }
        })
    }

    /// Accept and Contacted act and update the card; Disqualify asks why.
    fn component<'a>(&'a self, call: Call<'a>, id: CustomId<'a>) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            let key = id.arg.trim();
            if key.is_empty() {
                return Err(Failure::usage("this button names no lead"));
            }
            let me = &call.actor.handle;
            match id.action {
                "accept" => {
                    service::accept(ctx, key, me).await?;
                }
                "contact" => {
                    service::contact(ctx, key, me, "").await?;
                }
                "disqualify" => return Ok(disqualify_form(key)),
                other => return Err(Failure::usage(format!("unknown lead button {other:?}"))),
            }
            let lead = read::lead(ctx, key).await?;
            Ok(Response::Update(card(ctx, &lead)))
        })
    }

    fn modal<'a>(
        &'a self,
        call: Call<'a>,
        id: CustomId<'a>,
        fields: &'a [(String, String)],
    ) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            if id.action != "disqualify" {
                return Err(Failure::usage(format!("unknown lead form {:?}", id.action)));
            }
            let key = id.arg.trim();
            let reason = fields
                .iter()
                .find(|(k, _)| k == "reason")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            service::disqualify(call.ctx, key, reason, &call.actor.handle).await?;
            let lead = read::lead(call.ctx, key).await?;
            if call.interaction.message_id.is_some() {
                return Ok(Response::Update(card(call.ctx, &lead)));
            }
            Ok(Response::Message(card(call.ctx, &lead).ephemeral()))
        })
    }

    /// Keys of leads with Sales that contain what is typed.
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
            let Ok(leads) = read::leads(call.ctx, &[], None, 100).await else {
                return Vec::new();
            };
            leads
                .iter()
                .filter(|q| typed.is_empty() || q.prospect.key.to_lowercase().contains(&typed))
                .take(25)
                .map(|q| Choice {
                    name: truncate(
                        &format!(
                            "{} — {}, {}",
                            q.prospect.key,
                            q.prospect.status.lifecycle(),
                            q.prospect.owner.as_deref().unwrap_or("unowned")
                        ),
                        100,
                    ),
                    value: json!(q.prospect.key),
                })
                .collect()
        })
    }
}

fn disqualify_form(key: &str) -> Response {
    Response::Modal(Modal {
        custom_id: format!("{NAME}:disqualify:{key}"),
        title: truncate(&format!("Disqualify {key}"), 45),
        inputs: vec![TextInput {
            custom_id: "reason".into(),
            label: "Why? (Marketing learns from it)".into(),
            paragraph: true,
            required: true,
            max_length: REASON_MAX,
            placeholder: Some("e.g. student project, no budget".into()),
        }],
    })
}

/// The buttons a Sales member may press on a lead in this state.
pub fn buttons(key: &str, status: LeadStatus) -> Vec<Vec<Button>> {
    if key.len() > MAX_KEY_IN_BUTTON || !status.is_open_with_sales() {
        return Vec::new();
    }
    let mut row = Vec::new();
    if status == LeadStatus::HandedOff {
        row.push(Button::new(
            "Accept",
            format!("{NAME}:accept:{key}"),
            Style::Success,
        ));
    }
    if matches!(status, LeadStatus::HandedOff | LeadStatus::Accepted) {
        row.push(Button::new(
            "Contacted",
            format!("{NAME}:contact:{key}"),
            Style::Primary,
        ));
    }
    row.push(Button::new(
        "Disqualify",
        format!("{NAME}:disqualify:{key}"),
        Style::Danger,
    ));
    vec![row]
}

/// `/lead list`: one line per lead — state, owner, scores, the clock.
pub fn list_message(ctx: &Ctx, leads: &[QueuedLead]) -> Message {
    let now = ctx.now();
    let late = leads
        .iter()
        .filter(|q| {
            q.prospect.status == LeadStatus::HandedOff
                && (q.breached || q.due_at.is_some_and(|d| d < now))
        })
        .count();
    let mut e = Embed {
        title: Some(if leads.len() > SHOWN {
            format!("Leads with Sales ({SHOWN}+)")
        } else {
            format!("Leads with Sales ({})", leads.len())
        }),
        colour: Some(match (leads.is_empty(), late) {
            (true, _) => GREEN,
            (false, 0) => YELLOW,
            _ => RED,
        }),
        footer: Some("/lead show key:KEY for the card and its buttons".into()),
        ..Embed::default()
    };
    if leads.is_empty() {
        e.description = Some("No lead matches.".into());
        return Message::embed(e);
    }
    if late > 0 {
        e.description = Some(format!("{late} past the hand-off SLA."));
    }
    for q in leads.iter().take(SHOWN) {
        let p = &q.prospect;
        let clock = match (p.status, q.due_at) {
            (LeadStatus::HandedOff, Some(d)) if q.breached || d < now => {
                format!("🔴 late since {}", relative(d))
            }
            (LeadStatus::HandedOff, Some(d)) => format!("accept {}", relative(d)),
            _ => p
                .handed_off_at
                .map(|t| format!("handed off {}", relative(t)))
                .unwrap_or_default(),
        };
        e = e.field(
            format!(
                "{} · {} · engagement {:.0} · fit {:.0}",
                p.key,
                p.status.lifecycle(),
                p.score,
                p.fit
            ),
            format!(
                "owner {} · {clock}\nsegment {} · source {}{}",
                p.owner
                    .as_deref()
                    .map_or("-".to_string(), |o| format!("@{o}")),
                p.segment,
                p.first_channel,
                p.source_campaign
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
            false,
        );
    }
    Message::embed(e)
}
