//! The one registry of slash commands. Each command group (one module under
//! `commands/`) defines its command — name, description, options with types
//! and choices — and handles its invocations, its buttons and modals
//! (custom ids start with the group's name) and, when it posts live messages
//! for a workflow's entities, renders them. From the registry come the JSON
//! Discord expects for registration, the manifest in `assets/bot/commands.json`
//! and the dispatch.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};
use vivid_core::Ctx;
use vivid_core::engine::outbox::Notification;
use vivid_core::org::Person;

use crate::model::{Button, Choice, Interaction, Invocation, Message, Response};

/// Discord's application command option types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionType {
    SubCommand = 1,
    String = 3,
    Integer = 4,
    Boolean = 5,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OptionDef {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: OptionType,
    pub required: bool,
    /// Fixed choices (at most 25).
    pub choices: Vec<(&'static str, Value)>,
    /// Suggestions are computed as the user types.
    pub autocomplete: bool,
    pub max_length: Option<u16>,
    /// Options of a subcommand.
    pub options: Vec<OptionDef>,
}

impl OptionDef {
    fn new(name: &'static str, description: &'static str, kind: OptionType) -> Self {
        Self {
            name,
            description,
            kind,
            required: false,
            choices: Vec::new(),
            autocomplete: false,
            max_length: None,
            options: Vec::new(),
        }
    }

    pub fn sub(name: &'static str, description: &'static str, options: Vec<OptionDef>) -> Self {
        Self {
            options,
            ..Self::new(name, description, OptionType::SubCommand)
        }
    }

    pub fn int(name: &'static str, description: &'static str) -> Self {
        Self::new(name, description, OptionType::Integer)
    }

    pub fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, description, OptionType::String)
    }

    pub fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, description, OptionType::Boolean)
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn autocomplete(mut self) -> Self {
        self.autocomplete = true;
        self
    }

    pub fn max_length(mut self, n: u16) -> Self {
        self.max_length = Some(n);
        self
    }

    pub fn choices(mut self, choices: &[(&'static str, &'static str)]) -> Self {
        self.choices = choices.iter().map(|(n, v)| (*n, json!(v))).collect();
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "type": self.kind as u8,
            "name": self.name,
            "description": self.description,
        });
        if self.kind == OptionType::SubCommand {
            v["options"] = json!(self.options.iter().map(Self::to_json).collect::<Vec<_>>());
            return v;
        }
        if self.required {
            v["required"] = json!(true);
        }
        if !self.choices.is_empty() {
            v["choices"] = json!(
                self.choices
                    .iter()
                    .map(|(n, val)| json!({ "name": n, "value": val }))
                    .collect::<Vec<_>>()
            );
        }
        if self.autocomplete {
            v["autocomplete"] = json!(true);
        }
        if let Some(n) = self.max_length {
            v["max_length"] = json!(n);
        }
        v
    }
}

/// A top-level slash command.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandDef {
    pub name: &'static str,
    pub description: &'static str,
    pub options: Vec<OptionDef>,
}

impl CommandDef {
    /// The registration JSON of one command (type 1: a slash command).
    pub fn to_json(&self) -> Value {
        json!({
            "type": 1,
            "name": self.name,
            "description": self.description,
            "options": self.options.iter().map(OptionDef::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Why a handler did not do what was asked; shown to the asker only.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A core service refused or failed; its sentence is the reply.
    #[error(transparent)]
    Core(#[from] vivid_core::Error),
    /// The interaction itself was incomplete (a missing option, a stale button).
    #[error("{0}")]
    Usage(String),
}

impl Failure {
    pub fn usage(msg: impl Into<String>) -> Self {
        Failure::Usage(msg.into())
    }
}

pub type Reply = Result<Response, Failure>;
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One interaction from a known person.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub ctx: &'a Ctx,
    /// The person the Discord user is in the org directory.
    pub actor: &'a Person,
    pub interaction: &'a Interaction,
}

/// A component's custom id, "group:action:argument".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomId<'a> {
    pub group: &'a str,
    pub action: &'a str,
    pub arg: &'a str,
}

impl<'a> CustomId<'a> {
    pub fn parse(s: &'a str) -> Option<Self> {
        let mut parts = s.splitn(3, ':');
        Some(Self {
            group: parts.next()?,
            action: parts.next()?,
            arg: parts.next().unwrap_or_default(),
        })
    }
}

/// A command group: one module, one top-level slash command.
pub trait CommandGroup: Send + Sync {
    fn definition(&self) -> CommandDef;

    /// Whether a reply to this invocation goes to the asker only (also the
    /// kind of "thinking…" shown when the reply must be deferred).
    fn ephemeral(&self, _invocation: &Invocation) -> bool {
        true
    }

    fn run<'a>(&'a self, call: Call<'a>, invocation: &'a Invocation) -> BoxFuture<'a, Reply>;

    /// A button with a custom id starting "NAME:".
    fn component<'a>(&'a self, _call: Call<'a>, id: CustomId<'a>) -> BoxFuture<'a, Reply> {
        let msg = format!(
            "this button ({}:{}) is no longer handled",
            id.group, id.action
        );
        Box::pin(async move { Err(Failure::Usage(msg)) })
    }

    /// A submitted modal with a custom id starting "NAME:".
    fn modal<'a>(
        &'a self,
        _call: Call<'a>,
        id: CustomId<'a>,
        _fields: &'a [(String, String)],
    ) -> BoxFuture<'a, Reply> {
        let msg = format!(
            "this form ({}:{}) is no longer handled",
            id.group, id.action
        );
        Box::pin(async move { Err(Failure::Usage(msg)) })
    }

    /// Suggestions for the option being typed.
    fn autocomplete<'a>(
        &'a self,
        _call: Call<'a>,
        _invocation: &'a Invocation,
    ) -> BoxFuture<'a, Vec<Choice>> {
        Box::pin(async { Vec::new() })
    }

    /// The core workflow whose entities this group posts as live messages.
    fn workflow(&self) -> Option<&'static str> {
        None
    }

    /// Whether a channel notification announces an entity this group posts
    /// as a live message (edited on every later change).
    fn posts(&self, _n: &Notification) -> bool {
        false
    }

    /// The live message of one entity of [`Self::workflow`].
    fn render_entity<'a>(
        &'a self,
        _ctx: &'a Ctx,
        entity_id: &'a str,
    ) -> BoxFuture<'a, Result<Message, vivid_core::Error>> {
        let msg = format!("no live message for {entity_id}");
        Box::pin(async move { Err(vivid_core::Error::invalid(msg)) })
    }

    /// Buttons to attach to a notification of this group's workflow (e.g.
    /// Acknowledge on a page sent as a direct message).
    fn notification_buttons<'a>(
        &'a self,
        _ctx: &'a Ctx,
        _n: &'a Notification,
    ) -> BoxFuture<'a, Vec<Vec<Button>>> {
        Box::pin(async { Vec::new() })
    }
}

/// Every command group the bot serves.
/// Add a group here (and regenerate the manifest) to serve it.
pub fn groups() -> &'static [&'static dyn CommandGroup] {
    &[
        &crate::commands::crisis::Crisis,
        &crate::commands::oncall::Oncall,
        &crate::commands::content::Content,
        &crate::commands::experiment::Experiment,
        &crate::commands::journey::Journey,
        &crate::commands::lead::Lead,
        &crate::commands::budget::Budget,
        &crate::commands::vendor::Vendor,
        &crate::commands::collab::Handoff,
    ]
}

pub fn group(name: &str) -> Option<&'static dyn CommandGroup> {
    groups()
        .iter()
        .copied()
        .find(|g| g.definition().name == name)
}

/// The group that posts live messages for a workflow.
pub fn for_workflow(workflow: &str) -> Option<&'static dyn CommandGroup> {
    groups()
        .iter()
        .copied()
        .find(|g| g.workflow() == Some(workflow))
}

/// The registration body: every command, as Discord's bulk overwrite takes it.
pub fn commands_json() -> Value {
    json!(
        groups()
            .iter()
            .map(|g| g.definition().to_json())
            .collect::<Vec<_>>()
    )
}

/// The manifest checked in as `assets/bot/commands.json`.
pub fn manifest() -> String {
    let mut text = serde_json::to_string_pretty(&commands_json()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKED_IN: &str = include_str!("../../../assets/bot/commands.json");

    #[test]
    fn the_manifest_is_up_to_date() {
        if std::env::var_os("VIVID_BLESS").is_some() {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../assets/bot/commands.json"
            );
            if let Err(e) = std::fs::write(path, manifest()) {
                panic!("cannot write {path}: {e}");
            }
            return;
        }
        assert!(
            CHECKED_IN == manifest(),
            "assets/bot/commands.json is out of date: run `vivid bot commands > assets/bot/commands.json` \
             (or VIVID_BLESS=1 cargo test -p vivid-bot the_manifest_is_up_to_date)"
        );
    }

    fn check_option(o: &OptionDef, path: &str) {
        let name = format!("{path} {}", o.name);
        assert!(
            !o.name.is_empty()
                && o.name.len() <= 32
                && o.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
            "{name}: names are 1-32 lowercase characters"
        );
        assert!(
            (1..=100).contains(&o.description.chars().count()),
            "{name}: descriptions are 1-100 characters"
        );
        assert!(o.choices.len() <= 25, "{name}: at most 25 choices");
        assert!(
            o.choices.is_empty() || !o.autocomplete,
            "{name}: choices or autocomplete, not both"
        );
        assert!(o.options.len() <= 25, "{name}: at most 25 options");
        // Discord wants required options before optional ones.
        let first_optional = o.options.iter().position(|x| !x.required);
        let last_required = o.options.iter().rposition(|x| x.required);
        if let (Some(f), Some(l)) = (first_optional, last_required) {
            assert!(l < f, "{name}: required options come first");
        }
        for sub in &o.options {
            check_option(sub, &name);
        }
    }

    #[test]
    fn every_command_obeys_discords_rules() {
        let mut names = std::collections::HashSet::new();
        for g in groups() {
            let d = g.definition();
            assert!(names.insert(d.name), "duplicate command {}", d.name);
            assert!((1..=100).contains(&d.description.chars().count()));
            for o in &d.options {
                check_option(o, d.name);
            }
        }
    }

    #[test]
    fn custom_ids_split_into_three_parts() {
        assert_eq!(
            CustomId::parse("crisis:ack:42"),
            Some(CustomId {
                group: "crisis",
                action: "ack",
                arg: "42"
            })
        );
        assert_eq!(
            CustomId::parse("crisis:resolve:4:2").map(|c| c.arg),
            Some("4:2")
        );
        assert_eq!(CustomId::parse("crisis"), None);
    }
}
