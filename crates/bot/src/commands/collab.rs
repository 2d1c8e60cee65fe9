//! `/handoff`: cross-functional collaboration from Discord — the hand-offs
//! waiting on your department, asking another department for work, one
//! hand-off, acknowledge and done; the hand-off card posted to the
//! receiving department's channel with Ack / Done buttons (also on the
//! direct messages that announce a hand-off, its imminent and breached
//! notices).

use serde_json::json;
use vivid_core::Ctx;
use vivid_core::collab::WORKFLOW;
use vivid_core::collab::model::{Command, State};
use vivid_core::collab::service::{self, View};
use vivid_core::engine::outbox::Notification;

use crate::model::{Button, Choice, Embed, Invocation, Message, Response, Style};
use crate::registry::{
    BoxFuture, Call, CommandDef, CommandGroup, CustomId, Failure, OptionDef, Reply,
};
use crate::render::{self, GREEN, GREY, ORANGE, RED, YELLOW, relative};

pub struct Handoff;

const NAME: &str = "handoff";

fn id_option() -> OptionDef {
    OptionDef::int("id", "The hand-off number, e.g. 12").required()
}

impl CommandGroup for Handoff {
    fn definition(&self) -> CommandDef {
        CommandDef {
            name: NAME,
            description: "Hand-offs between departments: your queue, request work, ack, done",
            options: vec![
                OptionDef::sub(
                    "list",
                    "Hand-offs waiting on your department, soonest due first",
                    vec![],
                ),
                OptionDef::sub(
                    "request",
                    "Ask another department for work (a typed hand-off)",
                    vec![
                        OptionDef::string("kind", "The hand-off kind, e.g. campaign_data")
                            .required()
                            .autocomplete(),
                        OptionDef::string("title", "What you need, in a line")
                            .required()
                            .max_length(200),
                        OptionDef::string("fields", "Payload fields: name=value; name=value")
                            .max_length(1500),
                        OptionDef::string("to", "A person of the receiving department"),
                    ],
                ),
                OptionDef::sub("show", "One hand-off", vec![id_option()]),
                OptionDef::sub(
                    "ack",
                    "Acknowledge a hand-off (first response)",
                    vec![id_option()],
                ),
                OptionDef::sub("done", "Mark a hand-off done", vec![id_option()]),
            ],
        }
    }

    fn run<'a>(&'a self, call: Call<'a>, inv: &'a Invocation) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            let actor = &call.actor.handle;
            match inv.subcommand.as_deref() {
                Some("list") => {
                    let d = &call.actor.department;
                    let q = service::queue(ctx, d).await?;
                    Ok(Response::Message(
                        Message::embed(queue_embed(ctx, d, &q)).ephemeral(),
                    ))
                }
                Some("request") => {
                    let kind = inv
                        .str("kind")
                        .ok_or_else(|| Failure::usage("say which kind of hand-off"))?;
                    let title = inv.str("title").unwrap_or_default();
                    let fields: Vec<String> = inv
                        .str("fields")
                        .unwrap_or_default()
                        .split(';')
                        .map(str::trim)
                        .filter(|f| !f.is_empty())
                        .map(str::to_string)
                        .collect();
                    let h =
                        service::request(ctx, kind, title, &fields, inv.str("to"), actor).await?;
                    let v = View::of(&h)?;
                    Ok(Response::Message(card(ctx, &v).ephemeral()))
                }
                Some("show") => {
                    let id = id_of(inv)?;
                    let d = service::detail(ctx, id).await?;
                    Ok(Response::Message(card(ctx, &d.handoff).ephemeral()))
                }
                Some("ack") => act(ctx, id_of(inv)?, Command::Acknowledge, actor).await,
                Some("done") => act(ctx, id_of(inv)?, Command::Done, actor).await,
                other => Err(Failure::usage(format!(
                    "/handoff {} is not a subcommand: use list, request, show, ack or done",
                    other.unwrap_or("(none)")
                ))),
            }
        })
    }

    fn component<'a>(&'a self, call: Call<'a>, id: CustomId<'a>) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let handoff: i64 = id
                .arg
                .parse()
                .map_err(|_| Failure::usage(format!("{:?} is not a hand-off number", id.arg)))?;
            let command = match id.action {
                "ack" => Command::Acknowledge,
                "done" => Command::Done,
                other => return Err(Failure::usage(format!("unknown hand-off button {other:?}"))),
            };
            let h = service::act(call.ctx, handoff, command, &call.actor.handle, None).await?;
            Ok(Response::Update(card(call.ctx, &View::of(&h)?)))
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
                .and_then(|o| o.value.as_str())
                .unwrap_or_default()
                .to_lowercase();
            let Ok(kinds) = service::kinds(call.ctx) else {
                return Vec::new();
            };
            kinds
                .into_iter()
                .filter(|k| k.name.contains(&typed) || k.title.to_lowercase().contains(&typed))
                .take(25)
                .map(|k| Choice {
                    name: format!("{} ({} → {})", k.title, k.from, k.to),
                    value: json!(k.name),
                })
                .collect()
        })
    }

    fn workflow(&self) -> Option<&'static str> {
        Some(WORKFLOW)
    }

    fn posts(&self, n: &Notification) -> bool {
        n.workflow == WORKFLOW && n.payload.get("card").and_then(|k| k.as_str()) == Some("handoff")
    }

    fn render_entity<'a>(
        &'a self,
        ctx: &'a Ctx,
        entity_id: &'a str,
    ) -> BoxFuture<'a, Result<Message, vivid_core::Error>> {
        Box::pin(async move {
            let id: i64 = entity_id.parse().map_err(|_| {
                vivid_core::Error::invalid(format!("{entity_id:?} is not a hand-off number"))
            })?;
            let d = service::detail(ctx, id).await?;
            Ok(card(ctx, &d.handoff))
        })
    }

    /// Ack / Done on the notices about a hand-off still live.
    fn notification_buttons<'a>(
        &'a self,
        ctx: &'a Ctx,
        n: &'a Notification,
    ) -> BoxFuture<'a, Vec<Vec<Button>>> {
        Box::pin(async move {
            let Some(id) = n.payload.get("handoff_id").and_then(|v| v.as_i64()) else {
                return Vec::new();
            };
            match service::detail(ctx, id).await {
                Ok(d) => buttons(&d.handoff),
                Err(_) => Vec::new(),
            }
        })
    }
}

fn id_of(inv: &Invocation) -> Result<i64, Failure> {
    inv.int("id")
        .ok_or_else(|| Failure::usage("say which hand-off (id)"))
}

async fn act(ctx: &Ctx, id: i64, command: Command, actor: &str) -> Reply {
    let h = service::act(ctx, id, command, actor, None).await?;
    Ok(Response::Message(card(ctx, &View::of(&h)?).ephemeral()))
}

fn buttons(v: &View) -> Vec<Vec<Button>> {
    let mut row = Vec::new();
    if v.state == State::Open {
        row.push(Button::new(
            "Ack",
            format!("{NAME}:ack:{}", v.id),
            Style::Primary,
        ));
    }
    if matches!(
        v.state,
        State::Acknowledged | State::InProgress | State::Waiting
    ) {
        row.push(Button::new(
            "Done",
            format!("{NAME}:done:{}", v.id),
            Style::Success,
        ));
    }
    if row.is_empty() {
        Vec::new()
    } else {
        vec![row]
    }
}

fn colour(v: &View, ctx: &Ctx) -> u32 {
    match v.state {
        State::Done => GREEN,
        State::Declined | State::Cancelled => GREY,
        _ if v.overdue(ctx.now()) => RED,
        _ if v.imminent => ORANGE,
        _ => YELLOW,
    }
}

/// The hand-off card: kind, edge, state, clocks, payload.
fn card(ctx: &Ctx, v: &View) -> Message {
    let mut e = Embed {
        title: Some(format!("Hand-off #{} · {}", v.id, v.title)),
        description: Some(format!(
            "{} → {} · {} · {}",
            render::department(ctx, &v.from),
            render::department(ctx, &v.to),
            v.kind,
            v.state.label()
        )),
        colour: Some(colour(v, ctx)),
        ..Embed::default()
    };
    if v.state == State::Open {
        e = e.field("Respond", relative(v.response_due_at), true);
    }
    if let (Some(r), false) = (v.resolution_due_at, v.state.is_terminal()) {
        e = e.field("Resolve", relative(r), true);
    }
    if v.state == State::Waiting {
        e = e.field("Clock", "paused: waiting on the requester", true);
    }
    if let Some(a) = &v.assignee {
        e = e.field("Assignee", render::name(ctx, a), true);
    }
    e = e.field("Accountable", render::name(ctx, &v.raci.accountable), true);
    if let Some(obj) = v.payload.as_object() {
        for (k, val) in obj.iter().take(10) {
            let text = val
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| val.to_string());
            e = e.field(k.clone(), text, false);
        }
    }
    if let Some(r) = &v.reason {
        e = e.field("Reason", r.clone(), false);
    }
    Message {
        components: buttons(v),
        ..Message::embed(e)
    }
}

fn queue_embed(ctx: &Ctx, department: &str, q: &[View]) -> Embed {
    let mut e = Embed {
        title: Some(format!(
            "Hand-offs waiting on {}",
            render::department(ctx, department)
        )),
        colour: Some(if q.iter().any(|v| v.overdue(ctx.now())) {
            RED
        } else {
            YELLOW
        }),
        ..Embed::default()
    };
    if q.is_empty() {
        e.description = Some("Nothing waits on your department.".into());
        return e;
    }
    for v in q.iter().take(20) {
        let due = match v.state {
            State::Open => format!("respond {}", relative(v.response_due_at)),
            State::Waiting => "paused: waiting on the requester".into(),
            _ => v
                .resolution_due_at
                .map(|r| format!("resolve {}", relative(r)))
                .unwrap_or_default(),
        };
        e = e.field(
            format!("#{} · {} · {}", v.id, v.kind, v.state.label()),
            format!(
                "{}\nfrom {} · {due}",
                v.title,
                render::department(ctx, &v.from)
            ),
            false,
        );
    }
    e
}
