//! `/crisis`: list, status, open, ack, phase, note, severity, commander,
//! update, resolve, escalate (the same core services as the CLI and the
//! control room, so the same rules); the Acknowledge /
//! Resolve / Escalate buttons on incident messages; the live incident
//! message posted to the incidents channel and edited on every change.
//!
//! Resolving needs a note. From a slash command it is the `note` option;
//! from the Resolve button a modal (type 9) asks for it, so the note is typed
//! where the button was pressed and the incident message is edited in place
//! when the form is sent.

use chrono::{DateTime, Utc};
use serde_json::json;
use vivid_core::Ctx;
use vivid_core::crisis::service::{self, Detail, Done};
use vivid_core::crisis::store::{Incident, ListFilter};
use vivid_core::crisis::{Severity, Status, WORKFLOW};
use vivid_core::duration::format_delta;
use vivid_core::engine::outbox::Notification;

use crate::model::{Button, Choice, Embed, Invocation, Message, Modal, Response, Style, TextInput};
use crate::registry::{
    BoxFuture, Call, CommandDef, CommandGroup, CustomId, Failure, OptionDef, Reply,
};
use crate::render::{self, GREEN, GREY, absolute, name, relative};

pub struct Crisis;

const NAME: &str = "crisis";
const NOTE_MAX: u16 = 1000;

const SEVERITIES: &[(&str, &str)] = &[
    ("P1 critical", "P1"),
    ("P2 major", "P2"),
    ("P3 minor", "P3"),
    ("P4 low", "P4"),
];

fn severity_option() -> OptionDef {
    OptionDef::string("severity", "P1 critical … P4 low").choices(SEVERITIES)
}

fn id_option() -> OptionDef {
    OptionDef::int("id", "The incident number, e.g. 42")
        .required()
        .autocomplete()
}

impl CommandGroup for Crisis {
    fn definition(&self) -> CommandDef {
        CommandDef {
            name: NAME,
            description: "Incidents: open, acknowledge, advance, update, resolve, escalate",
            options: vec![
                OptionDef::sub(
                    "list",
                    "Open incidents, most urgent first",
                    vec![
                        OptionDef::string("severity", "Only this severity").choices(SEVERITIES),
                        OptionDef::boolean("all", "Include resolved and closed incidents"),
                    ],
                ),
                OptionDef::sub(
                    "status",
                    "One incident: status, phase and its time box, who acknowledged",
                    vec![id_option()],
                ),
                OptionDef::sub(
                    "open",
                    "Open an incident",
                    vec![
                        OptionDef::string("title", "What is wrong, in a few words")
                            .required()
                            .max_length(200),
                        severity_option().required(),
                        OptionDef::string("description", "What you see").max_length(NOTE_MAX),
                        OptionDef::string("department", "The department concerned (key or name)"),
                    ],
                ),
                OptionDef::sub(
                    "ack",
                    "Acknowledge an incident: you have it",
                    vec![id_option()],
                ),
                OptionDef::sub(
                    "phase",
                    "Advance an incident to its next phase (phases are never skipped)",
                    vec![
                        id_option(),
                        OptionDef::string("note", "What was done, for the timeline")
                            .max_length(NOTE_MAX),
                    ],
                ),
                OptionDef::sub(
                    "note",
                    "Add a note to an incident's timeline",
                    vec![
                        id_option(),
                        OptionDef::string("text", "The note")
                            .required()
                            .max_length(NOTE_MAX),
                    ],
                ),
                OptionDef::sub(
                    "severity",
                    "Change an incident's severity (its commander, a director or the Business Manager)",
                    vec![
                        id_option(),
                        severity_option().required(),
                        OptionDef::string("reason", "Why")
                            .required()
                            .max_length(NOTE_MAX),
                    ],
                ),
                OptionDef::sub(
                    "commander",
                    "Hand over command of an incident",
                    vec![
                        id_option(),
                        OptionDef::string("person", "Who takes command (handle, e.g. kai)")
                            .required(),
                        OptionDef::string("note", "For the timeline").max_length(NOTE_MAX),
                    ],
                ),
                OptionDef::sub(
                    "update",
                    "Post a status update (internal or to customers) and promise the next",
                    vec![
                        id_option(),
                        OptionDef::string("message", "The update")
                            .required()
                            .max_length(NOTE_MAX),
                        OptionDef::string("audience", "Who it is for (default internal)")
                            .choices(&[("internal", "internal"), ("customers", "customer")]),
                        OptionDef::string("next", "Next update within, e.g. 30m (default 1h)"),
                    ],
                ),
                OptionDef::sub(
                    "resolve",
                    "The fix is in: resolve an incident with a note",
                    vec![
                        id_option(),
                        OptionDef::string("note", "How it was resolved")
                            .required()
                            .max_length(NOTE_MAX),
                    ],
                ),
                OptionDef::sub(
                    "escalate",
                    "Notify the next escalation level now",
                    vec![
                        id_option(),
                        OptionDef::string("reason", "Why, for the timeline").max_length(NOTE_MAX),
                    ],
                ),
            ],
        }
    }

    fn ephemeral(&self, inv: &Invocation) -> bool {
        // What changes an incident is announced to the channel; reading is private.
        !matches!(
            inv.subcommand.as_deref(),
            Some(
                "open"
                    | "ack"
                    | "phase"
                    | "note"
                    | "severity"
                    | "commander"
                    | "update"
                    | "resolve"
                    | "escalate"
            )
        )
    }

    fn run<'a>(&'a self, call: Call<'a>, inv: &'a Invocation) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            let me = call.actor.handle.as_str();
            match inv.subcommand.as_deref() {
                Some("list") => list(ctx, inv).await,
                Some("status") => {
                    let d = service::detail(ctx, incident_id(inv)?).await?;
                    Ok(Response::Message(incident_message(ctx, &d).ephemeral()))
                }
                Some("ack") => {
                    let done = service::acknowledge(ctx, incident_id(inv)?, me).await?;
                    announce(
                        ctx,
                        &done,
                        format!("👀 **{}** acknowledged", call.actor.name),
                    )
                    .await
                }
                Some("open") => {
                    let inc = open_incident(ctx, inv, me).await?;
                    let done = Done {
                        incident: inc,
                        unchanged: None,
                        notified: Vec::new(),
                    };
                    announce(ctx, &done, format!("🚨 **{}** opened", call.actor.name)).await
                }
                Some("phase") => {
                    let id = incident_id(inv)?;
                    let note = inv.str("note").map(str::trim).filter(|n| !n.is_empty());
                    let done = service::advance_phase(ctx, id, me, None, note).await?;
                    let line = format!(
                        "⏭ **{}** moved it to {}",
                        call.actor.name,
                        done.incident.phase.label()
                    );
                    announce(ctx, &done, line).await
                }
                Some("note") => {
                    let id = incident_id(inv)?;
                    let text = inv.str("text").unwrap_or_default();
                    let done = service::note(ctx, id, me, text).await?;
                    let line = format!("📝 **{}** noted — {}", call.actor.name, text.trim());
                    announce(ctx, &done, line).await
                }
                Some("severity") => {
                    let id = incident_id(inv)?;
                    let to = parse_severity(inv.str("severity"))?;
                    let reason = inv.str("reason").unwrap_or_default();
                    let done = service::change_severity(ctx, id, me, to, reason).await?;
                    let line = format!(
                        "⚖ **{}** set severity {} — {}",
                        call.actor.name,
                        done.incident.severity,
                        reason.trim()
                    );
                    announce(ctx, &done, line).await
                }
                Some("commander") => {
                    let id = incident_id(inv)?;
                    let person = find_person(ctx, inv.str("person").unwrap_or_default())?;
                    let done =
                        service::hand_over_command(ctx, id, me, &person, inv.str("note")).await?;
                    let line = format!(
                        "🎖 **{}** handed command to {}",
                        call.actor.name,
                        name(ctx, &person)
                    );
                    announce(ctx, &done, line).await
                }
                Some("update") => {
                    let id = incident_id(inv)?;
                    let audience = match inv.str("audience").unwrap_or("internal") {
                        "customer" => service::Audience::Customer,
                        _ => service::Audience::Internal,
                    };
                    let next = match inv.str("next").map(str::trim).filter(|n| !n.is_empty()) {
                        Some(n) => n
                            .parse::<vivid_core::duration::HumanDuration>()
                            .map_err(|e| {
                                Failure::usage(format!("next: {n:?} is not a duration ({e})"))
                            })?
                            .delta(),
                        None => chrono::TimeDelta::hours(1),
                    };
                    let message = inv.str("message").unwrap_or_default();
                    let (done, _) =
                        service::status_update(ctx, id, me, audience, message, next).await?;
                    let line = format!(
                        "📣 **{}** posted a status update — next by {}",
                        call.actor.name,
                        done.incident
                            .next_update_at
                            .map(relative)
                            .unwrap_or_else(|| "-".into())
                    );
                    announce(ctx, &done, line).await
                }
                Some("resolve") => {
                    let id = incident_id(inv)?;
                    let note = inv.str("note").unwrap_or_default();
                    let done = service::resolve(ctx, id, me, note).await?;
                    let line = format!("✅ **{}** resolved — {}", call.actor.name, note.trim());
                    announce(ctx, &done, line).await
                }
                Some("escalate") => {
                    let id = incident_id(inv)?;
                    let done = service::escalate(ctx, id, me, inv.str("reason")).await?;
                    let line = format!(
                        "⏫ **{}** escalated{}",
                        call.actor.name,
                        notified(ctx, &done)
                    );
                    announce(ctx, &done, line).await
                }
                other => Err(Failure::usage(format!(
                    "/crisis {} is not a subcommand: use list, status, open, ack, phase, note, severity, commander, update, resolve or escalate",
                    other.unwrap_or("(none)")
                ))),
            }
        })
    }

    fn component<'a>(&'a self, call: Call<'a>, id: CustomId<'a>) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            let me = call.actor.handle.as_str();
            let incident = parse_id(id.arg)?;
            let done = match id.action {
                "ack" => service::acknowledge(ctx, incident, me).await?,
                "escalate" => service::escalate(ctx, incident, me, None).await?,
                "phase" => service::advance_phase(ctx, incident, me, None, None).await?,
                "resolve" => return Ok(resolve_form(incident)),
                other => {
                    return Err(Failure::usage(format!("unknown incident button {other:?}")));
                }
            };
            updated(ctx, &done).await
        })
    }

    fn modal<'a>(
        &'a self,
        call: Call<'a>,
        id: CustomId<'a>,
        fields: &'a [(String, String)],
    ) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            if id.action != "resolve" {
                return Err(Failure::usage(format!(
                    "unknown incident form {:?}",
                    id.action
                )));
            }
            let incident = parse_id(id.arg)?;
            let note = fields
                .iter()
                .find(|(k, _)| k == "note")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            let done = service::resolve(call.ctx, incident, &call.actor.handle, note).await?;
            if call.interaction.message_id.is_some() {
                return updated(call.ctx, &done).await;
            }
            let line = format!("✅ **{}** resolved — {}", call.actor.name, note.trim());
            announce(call.ctx, &done, line).await
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
            // Status may look at resolved incidents; the actions are for open ones.
            let statuses = match inv.subcommand.as_deref() {
                Some("status") => vec![],
                Some("resolve" | "escalate" | "note" | "severity" | "commander" | "update") => {
                    vec!["triggered".into(), "acknowledged".into()]
                }
                Some("phase") => vec!["triggered".into(), "acknowledged".into(), "resolved".into()],
                _ => vec!["triggered".into()],
            };
            let filter = ListFilter {
                statuses,
                limit: 200,
                ..ListFilter::default()
            };
            let Ok(list) = service::list(call.ctx, &filter).await else {
                return Vec::new();
            };
            let mut list = list;
            if inv.subcommand.as_deref() == Some("status") {
                // Newest first: the one being asked about is usually recent.
                list.sort_by_key(|i| std::cmp::Reverse(i.id));
            }
            list.iter()
                .filter(|i| {
                    typed.is_empty()
                        || i.id.to_string().starts_with(&typed)
                        || i.title.to_lowercase().contains(&typed)
                })
                .take(25)
                .map(|i| Choice {
                    name: format!("#{} {} {} — {}", i.id, i.severity, i.status, i.title),
                    value: json!(i.id),
                })
                .collect()
        })
    }

    fn workflow(&self) -> Option<&'static str> {
        Some(WORKFLOW)
    }

    fn posts(&self, n: &Notification) -> bool {
        n.workflow == WORKFLOW
            && n.payload.get("kind").and_then(|k| k.as_str()) == Some("incident_opened")
    }

    fn render_entity<'a>(
        &'a self,
        ctx: &'a Ctx,
        entity_id: &'a str,
    ) -> BoxFuture<'a, Result<Message, vivid_core::Error>> {
        Box::pin(async move {
            let id: i64 = entity_id.parse().map_err(|_| {
                vivid_core::Error::invalid(format!("{entity_id:?} is not an incident number"))
            })?;
            let d = service::detail(ctx, id).await?;
            Ok(incident_message(ctx, &d))
        })
    }

    fn notification_buttons<'a>(
        &'a self,
        ctx: &'a Ctx,
        n: &'a Notification,
    ) -> BoxFuture<'a, Vec<Vec<Button>>> {
        Box::pin(async move {
            let Ok(id) = n.entity_id.parse::<i64>() else {
                return Vec::new();
            };
            match service::detail(ctx, id).await {
                Ok(d) => buttons(&d.incident),
                Err(_) => Vec::new(),
            }
        })
    }
}

fn incident_id(inv: &Invocation) -> Result<i64, Failure> {
    inv.int("id")
        .ok_or_else(|| Failure::usage("say which incident: id:42"))
}

fn parse_id(arg: &str) -> Result<i64, Failure> {
    arg.parse()
        .map_err(|_| Failure::usage(format!("{arg:?} is not an incident number")))
}

fn notified(ctx: &Ctx, done: &Done) -> String {
    if done.notified.is_empty() {
        return String::new();
    }
    let names: Vec<String> = done.notified.iter().map(|h| name(ctx, h)).collect();
    format!(" — notified {}", names.join(", "))
}

/// A change made by a slash command: announced in the channel with the
/// incident card; "nothing changed" goes to the asker only.
///
/// The reply comes from the command's own result: the action has
/// committed, so a failing follow-up read (the card's timeline and ladder)
/// only makes the card shorter; it never reports the action as failed.
async fn announce(ctx: &Ctx, done: &Done, line: String) -> Reply {
    if let Some(why) = &done.unchanged {
        return Ok(Response::ephemeral(why.clone()));
    }
    Ok(Response::Message(
        committed_message(ctx, done)
            .await
            .content(format!("{line} #{}.", done.incident.id)),
    ))
}

/// A change made by a button: the message the button sits on shows the new state.
async fn updated(ctx: &Ctx, done: &Done) -> Reply {
    if let Some(why) = &done.unchanged {
        return Ok(Response::ephemeral(why.clone()));
    }
    Ok(Response::Update(committed_message(ctx, done).await))
}

/// The card after a committed change: in full when it can be read, else
/// from the incident the command returned.
async fn committed_message(ctx: &Ctx, done: &Done) -> Message {
    match service::detail(ctx, done.incident.id).await {
        Ok(d) => incident_message(ctx, &d),
        Err(e) => {
            tracing::warn!(incident = done.incident.id, error = %e, "card read after a committed change failed");
            Message {
                content: None,
                embeds: vec![embed(ctx, &done.incident, None, None)],
                components: buttons(&done.incident),
                ephemeral: false,
            }
        }
    }
}

fn parse_severity(s: Option<&str>) -> Result<Severity, Failure> {
    s.unwrap_or_default()
        .parse::<Severity>()
        .map_err(|e| Failure::Core(vivid_core::Error::invalid(e)))
}

/// A person by handle ("kai", "@kai"), Discord mention ("<@1000…>") or name.
fn find_person(ctx: &Ctx, typed: &str) -> Result<String, Failure> {
    let t = typed.trim();
    let mention = t
        .strip_prefix("<@")
        .and_then(|r| r.strip_suffix('>'))
        .map(|r| r.trim_start_matches('!'));
    let handle = t.trim_start_matches('@').to_lowercase();
    ctx.org
        .people
        .iter()
        .find(|p| match mention {
            Some(id) => p.discord_id.as_deref() == Some(id),
            None => p.handle == handle || p.name.eq_ignore_ascii_case(t),
        })
        .map(|p| p.handle.clone())
        .ok_or_else(|| {
            Failure::Core(vivid_core::Error::not_found(format!(
                "unknown person {t:?}: give a handle such as kai"
            )))
        })
}

/// `/crisis open`: a manual incident through the same service as the CLI.
async fn open_incident(ctx: &Ctx, inv: &Invocation, me: &str) -> Result<Incident, Failure> {
    let severity = parse_severity(inv.str("severity"))?;
    let departments = match inv
        .str("department")
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        Some(d) => {
            let lower = d.to_lowercase();
            let key = ctx
                .org
                .departments
                .iter()
                .find(|x| x.key == lower || x.name.to_lowercase() == lower)
                .map(|x| x.key.clone())
                .unwrap_or(lower);
            vec![key]
        }
        None => Vec::new(),
    };
    let new = service::NewIncident {
        title: inv.str("title").unwrap_or_default().to_string(),
        description: inv.str("description").unwrap_or_default().to_string(),
        severity,
        source: service::Source::Manual,
        source_ref: None,
        departments,
        commander: None,
        trigger_key: None,
    };
    service::open(ctx, &new, me).await?.ok_or_else(|| {
        Failure::Core(vivid_core::Error::conflict(
            "an incident for this condition is already open",
        ))
    })
}

fn resolve_form(id: i64) -> Response {
    Response::Modal(Modal {
        custom_id: format!("{NAME}:resolve:{id}"),
        title: format!("Resolve incident #{id}"),
        inputs: vec![TextInput {
            custom_id: "note".into(),
            label: "How was it resolved?".into(),
            paragraph: true,
            required: true,
            max_length: NOTE_MAX,
            placeholder: Some("e.g. rolled back the checkout deploy".into()),
        }],
    })
}

async fn list(ctx: &Ctx, inv: &Invocation) -> Reply {
    let all = inv.bool("all").unwrap_or(false);
    let severity = match inv.str("severity") {
        Some(s) => Some(
            s.parse::<Severity>()
                .map_err(vivid_core::Error::invalid)?
                .to_string(),
        ),
        None => None,
    };
    let filter = ListFilter {
        statuses: if all {
            vec![]
        } else {
            vec!["triggered".into(), "acknowledged".into(), "resolved".into()]
        },
        severity,
        department: None,
        limit: 1000,
        include_simulated: false,
    };
    let incidents = service::list(ctx, &filter).await?;
    Ok(Response::Message(
        Message::embed(incident_list(ctx, &incidents, all)).ephemeral(),
    ))
}

fn severity_colour(inc: &Incident) -> u32 {
    match inc.status {
        Status::Resolved => GREEN,
        Status::Closed => GREY,
        _ => match inc.severity {
            Severity::P1 => render::RED,
            Severity::P2 => render::ORANGE,
            Severity::P3 => render::YELLOW,
            Severity::P4 => render::BLUE,
        },
    }
}

fn status_icon(inc: &Incident) -> &'static str {
    match inc.status {
        Status::Triggered => "🚨",
        Status::Acknowledged => "👀",
        Status::Resolved => "✅",
        Status::Closed => "🔒",
    }
}

fn status_label(inc: &Incident) -> String {
    let mut s = inc.status.as_str().to_string();
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

fn phase_label(inc: &Incident) -> &'static str {
    inc.phase.label()
}

/// "Triage & Severity · box ends in 2 hours" / "… over its 2h box since …".
fn phase_clock(ctx: &Ctx, inc: &Incident, now: DateTime<Utc>) -> String {
    if inc.status == Status::Closed {
        return "closed".into();
    }
    match service::phase_deadline(ctx, inc) {
        Some(end) if end >= now => format!("ends {}", relative(end)),
        Some(end) => format!(
            "⚠ over its {} time box since {}",
            format_delta(end - inc.phase_started_at),
            relative(end)
        ),
        None => String::new(),
    }
}

fn ack_clock(ctx: &Ctx, inc: &Incident, now: DateTime<Utc>) -> String {
    match (
        inc.responder.as_ref().or(inc.acknowledged_by.as_ref()),
        inc.acknowledged_at,
    ) {
        (Some(by), Some(at)) if inc.status != Status::Triggered => {
            format!("{} {}", name(ctx, by), relative(at))
        }
        _ if inc.ack_deadline >= now => format!("not yet — due {}", relative(inc.ack_deadline)),
        _ => format!("⚠ not yet — overdue since {}", relative(inc.ack_deadline)),
    }
}

/// The incident card: readable on a phone, clocks in the reader's zone.
pub fn incident_embed(ctx: &Ctx, d: &Detail) -> Embed {
    embed(ctx, &d.incident, d.escalation.as_ref(), d.timeline.last())
}

fn embed(
    ctx: &Ctx,
    inc: &Incident,
    escalation: Option<&vivid_core::engine::escalation::Escalation>,
    last: Option<&vivid_core::engine::events::Event>,
) -> Embed {
    let now = ctx.now();
    let mut e = Embed {
        title: Some(format!(
            "{} {} · #{} {}",
            status_icon(inc),
            inc.severity,
            inc.id,
            inc.title
        )),
        description: Some(inc.description.clone()).filter(|s| !s.trim().is_empty()),
        colour: Some(severity_colour(inc)),
        timestamp: Some(inc.updated_at.to_rfc3339()),
        ..Embed::default()
    }
    .field("Status", status_label(inc), true)
    .field(
        "Phase",
        format!("{}\n{}", phase_label(inc), phase_clock(ctx, inc, now)),
        true,
    )
    .field("Acknowledged", ack_clock(ctx, inc, now), true);
    if let Some(c) = &inc.commander {
        e = e.field("Commander", name(ctx, c), true);
    }
    if let Some(esc) = escalation {
        let level = if esc.level < 0 {
            "starting".to_string()
        } else {
            format!("level {} of {}", esc.level + 1, esc.policy.levels.len())
        };
        e = e.field("Escalation", format!("{level} · {}", esc.status), true);
    }
    let departments: Vec<String> = inc
        .departments
        .iter()
        .map(|k| render::department(ctx, k))
        .collect();
    e = e.field("Departments", departments.join(", "), true);
    if let (Some(by), Some(at)) = (&inc.resolved_by, inc.resolved_at) {
        e = e.field(
            "Resolved",
            format!("{} {}", name(ctx, by), relative(at)),
            true,
        );
    }
    e = e.field(
        "Opened",
        format!(
            "{} by {}",
            absolute(inc.opened_at),
            name(ctx, &inc.opened_by)
        ),
        false,
    );
    if let Some(at) = inc.next_update_at.filter(|_| inc.status.is_open()) {
        e = e.field("Next update", format!("by {}", relative(at)), true);
    }
    e.footer = Some(match last {
        Some(ev) => format!(
            "#{} · last: {} by {}",
            inc.id,
            render::action_label(&ev.action),
            name(ctx, &ev.actor)
        ),
        None => format!("#{}", inc.id),
    });
    e
}

/// Acknowledge / Next phase / Resolve / Escalate while the incident is
/// open. Next phase shows while the protocol still has a phase before the
/// fix (a P1/P2 resolves only from Implement Fix).
pub fn buttons(inc: &Incident) -> Vec<Vec<Button>> {
    let s = inc.status;
    if !s.is_open() {
        return Vec::new();
    }
    let id = inc.id;
    let mut ack = Button::new("Acknowledge", format!("{NAME}:ack:{id}"), Style::Primary);
    ack.disabled = s != Status::Triggered;
    let mut row = vec![ack];
    if let Some(next) = inc.phase.next().filter(|p| !p.after_resolution()) {
        let mut phase = Button::new(
            format!("Next: {}", next.label()),
            format!("{NAME}:phase:{id}"),
            Style::Secondary,
        );
        phase.disabled = s != Status::Acknowledged;
        row.push(phase);
    }
    row.push(Button::new(
        "Resolve",
        format!("{NAME}:resolve:{id}"),
        Style::Success,
    ));
    row.push(Button::new(
        "Escalate",
        format!("{NAME}:escalate:{id}"),
        Style::Danger,
    ));
    vec![row]
}

/// The card with its buttons, as posted to the incidents channel.
pub fn incident_message(ctx: &Ctx, d: &Detail) -> Message {
    Message {
        content: None,
        embeds: vec![incident_embed(ctx, d)],
        components: buttons(&d.incident),
        ephemeral: false,
    }
}

/// One line per incident, most urgent first.
pub fn incident_list(ctx: &Ctx, incidents: &[Incident], all: bool) -> Embed {
    let now = ctx.now();
    let title = if all { "Incidents" } else { "Open incidents" };
    let mut lines = Vec::new();
    let mut used = 0;
    for (i, inc) in incidents.iter().enumerate() {
        let clock = match inc.status {
            Status::Triggered => ack_clock(ctx, inc, now),
            Status::Acknowledged | Status::Resolved => phase_clock(ctx, inc, now),
            Status::Closed => String::new(),
        };
        let line = format!(
            "{} **{} #{}** {}\n└ {} · {} · {}",
            status_icon(inc),
            inc.severity,
            inc.id,
            crate::model::truncate(&inc.title, 80),
            inc.status,
            phase_label(inc),
            clock
        );
        // Stay inside Discord's 4096 characters with room for the tail.
        if used + line.len() > 3800 {
            lines.push(format!(
                "…and {} more: narrow with severity:",
                incidents.len() - i
            ));
            break;
        }
        used += line.len() + 1;
        lines.push(line);
    }
    Embed {
        title: Some(format!("{title} ({})", incidents.len())),
        description: Some(if lines.is_empty() {
            "None. 🎉".into()
        } else {
            lines.join("\n")
        }),
        colour: Some(incidents.first().map(severity_colour).unwrap_or(GREEN)),
        footer: Some("/crisis status id:N for one incident".into()),
        ..Embed::default()
    }
}
