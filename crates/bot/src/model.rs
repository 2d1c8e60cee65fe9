//! The slice of Discord's interaction model the bot uses, independent of the
//! transport: the HTTP endpoint parses Discord's JSON into [`Interaction`],
//! the gateway converts serenity's types into it, and every handler answers
//! with a [`Response`] that serialises to Discord's callback JSON.

use serde::Deserialize;
use serde_json::{Value, json};

/// Discord's `flags` bit for a message only the asker sees.
pub const EPHEMERAL: u64 = 1 << 6;

/// An interaction, whatever transport brought it.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    pub id: String,
    pub application_id: String,
    /// Authorises the callback and the webhook edits for 15 minutes.
    pub token: String,
    /// The Discord user who acted (`member.user.id` in a guild, `user.id` in a DM).
    pub user_id: Option<String>,
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    /// The message a component or a modal launched from a component sits on.
    pub message_id: Option<String>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Ping,
    Command(Invocation),
    Autocomplete(Invocation),
    Component {
        custom_id: String,
    },
    ModalSubmit {
        custom_id: String,
        /// (text input custom_id, value), in the modal's order.
        fields: Vec<(String, String)>,
    },
}

/// A slash command with its subcommand path flattened: `/crisis ack id:42`
/// is name "crisis", subcommand "ack", options `[id = 42]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Invocation {
    pub name: String,
    pub subcommand: Option<String>,
    pub options: Vec<OptionValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OptionValue {
    pub name: String,
    pub value: Value,
    /// The option the user is typing (autocomplete only).
    pub focused: bool,
}

impl Invocation {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.options
            .iter()
            .find(|o| o.name == name)
            .map(|o| &o.value)
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Value::Number(n) => n.as_i64(),
            // Autocomplete sends what has been typed so far as a string.
            Value::String(s) => s.trim().trim_start_matches('#').parse().ok(),
            _ => None,
        }
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name)?.as_str()
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name)?.as_bool()
    }

    /// The option being typed, for autocomplete.
    pub fn focused(&self) -> Option<&OptionValue> {
        self.options.iter().find(|o| o.focused)
    }

    /// "crisis ack", for messages.
    pub fn display(&self) -> String {
        match &self.subcommand {
            Some(s) => format!("{} {s}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Why a request body is not an interaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Discord interaction: {0}")]
pub struct ParseError(pub String);

#[derive(Deserialize)]
struct RawInteraction {
    id: String,
    application_id: String,
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    token: String,
    data: Option<RawData>,
    member: Option<RawMember>,
    user: Option<RawUser>,
    guild_id: Option<String>,
    channel_id: Option<String>,
    message: Option<RawMessage>,
}

#[derive(Deserialize)]
struct RawData {
    name: Option<String>,
    #[serde(default)]
    options: Vec<RawOption>,
    custom_id: Option<String>,
    #[serde(default)]
    components: Vec<RawRow>,
}

#[derive(Deserialize)]
struct RawOption {
    name: String,
    #[serde(rename = "type")]
    kind: u8,
    value: Option<Value>,
    #[serde(default)]
    options: Vec<RawOption>,
    #[serde(default)]
    focused: bool,
}

#[derive(Deserialize)]
struct RawRow {
    #[serde(default)]
    components: Vec<RawInput>,
}

#[derive(Deserialize)]
struct RawInput {
    custom_id: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct RawMember {
    user: Option<RawUser>,
}

#[derive(Deserialize)]
struct RawUser {
    id: String,
}

#[derive(Deserialize)]
struct RawMessage {
    id: String,
}

const SUB_COMMAND: u8 = 1;
const SUB_COMMAND_GROUP: u8 = 2;

fn flatten(name: String, options: Vec<RawOption>) -> Invocation {
    let mut inv = Invocation {
        name,
        ..Invocation::default()
    };
    let mut level = options;
    // Groups and subcommands nest; their names join into one path.
    while let Some(first) = level.first() {
        if first.kind != SUB_COMMAND && first.kind != SUB_COMMAND_GROUP {
            break;
        }
        let mut taken = std::mem::take(&mut level);
        let sub = taken.swap_remove(0);
        inv.subcommand = Some(match inv.subcommand.take() {
            Some(prefix) => format!("{prefix} {}", sub.name),
            None => sub.name,
        });
        level = sub.options;
    }
    inv.options = level
        .into_iter()
        .map(|o| OptionValue {
            name: o.name,
            value: o.value.unwrap_or(Value::Null),
            focused: o.focused,
        })
        .collect();
    inv
}

impl Interaction {
    /// Parse Discord's interaction JSON.
    pub fn from_json(body: &[u8]) -> Result<Self, ParseError> {
        let raw: RawInteraction =
            serde_json::from_slice(body).map_err(|e| ParseError(e.to_string()))?;
        let data = raw.data;
        let need_data = || ParseError(format!("interaction type {} without data", raw.kind));
        let kind = match raw.kind {
            1 => Kind::Ping,
            2 | 4 => {
                let d = data.ok_or_else(need_data)?;
                let name = d
                    .name
                    .ok_or_else(|| ParseError("a command without a name".into()))?;
                let inv = flatten(name, d.options);
                if raw.kind == 2 {
                    Kind::Command(inv)
                } else {
                    Kind::Autocomplete(inv)
                }
            }
            3 => Kind::Component {
                custom_id: data
                    .ok_or_else(need_data)?
                    .custom_id
                    .ok_or_else(|| ParseError("a component without a custom_id".into()))?,
            },
            5 => {
                let d = data.ok_or_else(need_data)?;
                Kind::ModalSubmit {
                    custom_id: d
                        .custom_id
                        .ok_or_else(|| ParseError("a modal without a custom_id".into()))?,
                    fields: d
                        .components
                        .into_iter()
                        .flat_map(|r| r.components)
                        .filter_map(|c| Some((c.custom_id?, c.value.unwrap_or_default())))
                        .collect(),
                }
            }
            other => return Err(ParseError(format!("unknown interaction type {other}"))),
        };
        let user_id = raw.member.and_then(|m| m.user).or(raw.user).map(|u| u.id);
        Ok(Self {
            id: raw.id,
            application_id: raw.application_id,
            token: raw.token,
            user_id,
            guild_id: raw.guild_id,
            channel_id: raw.channel_id,
            message_id: raw.message.map(|m| m.id),
            kind,
        })
    }
}

/// What the bot answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// Type 1: the answer to Discord's PING.
    Pong,
    /// Type 4: a new message in the channel (or only for the asker).
    Message(Message),
    /// Type 5: "thinking…"; the message follows by a webhook edit.
    Deferred { ephemeral: bool },
    /// Type 6: a component was pressed; its message is edited later.
    DeferredUpdate,
    /// Type 7: edit the message the component sits on.
    Update(Message),
    /// Type 8: autocomplete suggestions.
    Choices(Vec<Choice>),
    /// Type 9: ask for input.
    Modal(Modal),
}

impl Response {
    /// A private reply: errors, refusals and lists only the asker needs.
    pub fn ephemeral(text: impl Into<String>) -> Self {
        Response::Message(Message::text(text).ephemeral())
    }

    pub fn kind(&self) -> u8 {
        match self {
            Response::Pong => 1,
            Response::Message(_) => 4,
            Response::Deferred { .. } => 5,
            Response::DeferredUpdate => 6,
            Response::Update(_) => 7,
            Response::Choices(_) => 8,
            Response::Modal(_) => 9,
        }
    }

    /// Discord's interaction callback JSON.
    pub fn to_json(&self) -> Value {
        let data = match self {
            Response::Pong | Response::DeferredUpdate => None,
            Response::Message(m) | Response::Update(m) => Some(m.to_json()),
            Response::Deferred { ephemeral } => Some(if *ephemeral {
                json!({ "flags": EPHEMERAL })
            } else {
                json!({})
            }),
            Response::Choices(c) => Some(json!({
                "choices": c.iter().map(Choice::to_json).collect::<Vec<_>>()
            })),
            Response::Modal(m) => Some(m.to_json()),
        };
        match data {
            Some(d) => json!({ "type": self.kind(), "data": d }),
            None => json!({ "type": self.kind() }),
        }
    }
}

/// A message: text, embeds and rows of buttons.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    pub content: Option<String>,
    pub embeds: Vec<Embed>,
    pub components: Vec<Vec<Button>>,
    pub ephemeral: bool,
}

impl Message {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            content: Some(text.into()),
            ..Self::default()
        }
    }

    pub fn embed(embed: Embed) -> Self {
        Self {
            embeds: vec![embed],
            ..Self::default()
        }
    }

    pub fn ephemeral(mut self) -> Self {
        self.ephemeral = true;
        self
    }

    pub fn content(mut self, text: impl Into<String>) -> Self {
        self.content = Some(text.into());
        self
    }

    /// The message body for callbacks, channel posts and edits. Components
    /// and embeds are always sent so an edit can remove them.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "content": self.content.as_deref().map(|c| truncate(c, 2000)).unwrap_or_default(),
            "embeds": self.embeds.iter().map(Embed::to_json).collect::<Vec<_>>(),
            "components": self.components.iter().map(|row| json!({
                "type": 1,
                "components": row.iter().map(Button::to_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            // Incident titles come from people and KPI rules: never ping from them.
            "allowed_mentions": { "parse": [] },
        });
        if self.ephemeral {
            v["flags"] = json!(EPHEMERAL);
        }
        v
    }

    /// All the text a person would read, for tests and logs.
    pub fn plain_text(&self) -> String {
        let mut out = self.content.clone().unwrap_or_default();
        for e in &self.embeds {
            for part in [&e.title, &e.description, &e.footer].into_iter().flatten() {
                out.push('\n');
                out.push_str(part);
            }
            for f in &e.fields {
                out.push_str(&format!("\n{}: {}", f.name, f.value));
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embed {
    pub title: Option<String>,
    pub description: Option<String>,
    pub colour: Option<u32>,
    pub fields: Vec<Field>,
    pub footer: Option<String>,
    /// RFC 3339; shown by Discord in the reader's time zone.
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

impl Embed {
    pub fn field(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        inline: bool,
    ) -> Self {
        let value = value.into();
        self.fields.push(Field {
            name: name.into(),
            // Discord refuses an empty field value.
            value: if value.trim().is_empty() {
                "—".into()
            } else {
                value
            },
            inline,
        });
        self
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({});
        if let Some(t) = &self.title {
            v["title"] = json!(truncate(t, 256));
        }
        if let Some(d) = &self.description {
            v["description"] = json!(truncate(d, 4096));
        }
        if let Some(c) = self.colour {
            v["color"] = json!(c);
        }
        if !self.fields.is_empty() {
            v["fields"] = json!(
                self.fields
                    .iter()
                    .take(25)
                    .map(|f| json!({
                        "name": truncate(&f.name, 256),
                        "value": truncate(&f.value, 1024),
                        "inline": f.inline,
                    }))
                    .collect::<Vec<_>>()
            );
        }
        if let Some(f) = &self.footer {
            v["footer"] = json!({ "text": truncate(f, 2048) });
        }
        if let Some(t) = &self.timestamp {
            v["timestamp"] = json!(t);
        }
        v
    }
}

/// Discord's button styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Primary = 1,
    Secondary = 2,
    Success = 3,
    Danger = 4,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub label: String,
    pub custom_id: String,
    pub style: Style,
    pub disabled: bool,
}

impl Button {
    pub fn new(label: impl Into<String>, custom_id: impl Into<String>, style: Style) -> Self {
        Self {
            label: label.into(),
            custom_id: custom_id.into(),
            style,
            disabled: false,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "type": 2,
            "style": self.style as u8,
            "label": truncate(&self.label, 80),
            "custom_id": self.custom_id,
            "disabled": self.disabled,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub name: String,
    pub value: Value,
}

impl Choice {
    pub fn to_json(&self) -> Value {
        json!({ "name": truncate(&self.name, 100), "value": self.value })
    }
}

/// A form with text inputs (at most five).
#[derive(Debug, Clone, PartialEq)]
pub struct Modal {
    pub custom_id: String,
    pub title: String,
    pub inputs: Vec<TextInput>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TextInput {
    pub custom_id: String,
    pub label: String,
    /// Several lines rather than one.
    pub paragraph: bool,
    pub required: bool,
    pub max_length: u16,
    pub placeholder: Option<String>,
}

impl Modal {
    pub fn to_json(&self) -> Value {
        json!({
            "custom_id": self.custom_id,
            "title": truncate(&self.title, 45),
            "components": self.inputs.iter().map(|i| {
                let mut input = json!({
                    "type": 4,
                    "custom_id": i.custom_id,
                    "label": truncate(&i.label, 45),
                    "style": if i.paragraph { 2 } else { 1 },
                    "required": i.required,
                    "max_length": i.max_length,
                });
                if let Some(p) = &i.placeholder {
                    input["placeholder"] = json!(truncate(p, 100));
                }
                json!({ "type": 1, "components": [input] })
            }).collect::<Vec<_>>(),
        })
    }
}

/// Cut to Discord's limit on characters, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Interaction {
        match Interaction::from_json(v.to_string().as_bytes()) {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_guild_command_flattens_its_subcommand() {
        let i = parse(json!({
            "id": "1", "application_id": "2", "type": 2, "token": "t", "guild_id": "9",
            "member": { "user": { "id": "100000000000000004" } },
            "data": { "id": "5", "name": "crisis", "type": 1, "options": [
                { "name": "resolve", "type": 1, "options": [
                    { "name": "id", "type": 4, "value": 42 },
                    { "name": "note", "type": 3, "value": "rolled back" }
                ]}
            ]}
        }));
        assert_eq!(i.user_id.as_deref(), Some("100000000000000004"));
        let Kind::Command(inv) = i.kind else {
            panic!("not a command")
        };
        assert_eq!(inv.display(), "crisis resolve");
        assert_eq!(inv.int("id"), Some(42));
        assert_eq!(inv.str("note"), Some("rolled back"));
        assert_eq!(inv.int("missing"), None);
    }

    #[test]
    fn a_dm_component_and_a_modal_parse() {
        let c = parse(json!({
            "id": "1", "application_id": "2", "type": 3, "token": "t",
            "user": { "id": "7" }, "message": { "id": "88" },
            "data": { "custom_id": "crisis:ack:3", "component_type": 2 }
        }));
        assert_eq!(c.user_id.as_deref(), Some("7"));
        assert_eq!(c.message_id.as_deref(), Some("88"));
        assert_eq!(
            c.kind,
            Kind::Component {
                custom_id: "crisis:ack:3".into()
            }
        );
        let m = parse(json!({
            "id": "1", "application_id": "2", "type": 5, "token": "t", "user": { "id": "7" },
            "data": { "custom_id": "crisis:resolve:3", "components": [
                { "type": 1, "components": [{ "type": 4, "custom_id": "note", "value": "fixed" }] }
            ]}
        }));
        assert_eq!(
            m.kind,
            Kind::ModalSubmit {
                custom_id: "crisis:resolve:3".into(),
                fields: vec![("note".into(), "fixed".into())]
            }
        );
    }

    #[test]
    fn autocomplete_reads_the_typed_text() {
        let i = parse(json!({
            "id": "1", "application_id": "2", "type": 4, "token": "t", "user": { "id": "7" },
            "data": { "name": "crisis", "options": [{ "name": "ack", "type": 1, "options": [
                { "name": "id", "type": 4, "value": "#4", "focused": true }
            ]}]}
        }));
        let Kind::Autocomplete(inv) = i.kind else {
            panic!("not autocomplete")
        };
        assert_eq!(inv.focused().map(|o| o.name.as_str()), Some("id"));
        assert_eq!(inv.int("id"), Some(4));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [
            &b"{"[..],
            br#"{"id":"1","application_id":"2","type":2}"#,
            br#"{"id":"1","application_id":"2","type":77,"data":{}}"#,
            br#"[1,2]"#,
        ] {
            assert!(Interaction::from_json(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn responses_serialise_to_discord_callbacks() {
        assert_eq!(Response::Pong.to_json(), json!({ "type": 1 }));
        let e = Response::ephemeral("no").to_json();
        assert_eq!(e["type"], 4);
        assert_eq!(e["data"]["flags"], 64);
        assert_eq!(e["data"]["content"], "no");
        assert_eq!(
            Response::Deferred { ephemeral: true }.to_json()["data"]["flags"],
            64
        );
        let modal = Response::Modal(Modal {
            custom_id: "crisis:resolve:1".into(),
            title: "Resolve".into(),
            inputs: vec![TextInput {
                custom_id: "note".into(),
                label: "How".into(),
                paragraph: true,
                required: true,
                max_length: 1000,
                placeholder: None,
            }],
        })
        .to_json();
        assert_eq!(modal["type"], 9);
        assert_eq!(modal["data"]["components"][0]["components"][0]["style"], 2);
    }

    #[test]
    fn long_text_is_cut_to_discords_limits() {
        let long = "x".repeat(300);
        let e = Embed {
            title: Some(long),
            ..Embed::default()
        }
        .to_json();
        assert_eq!(e["title"].as_str().map(|t| t.chars().count()), Some(256));
        let f = Embed::default().field("empty", "  ", true);
        assert_eq!(f.fields[0].value, "—");
    }
}
