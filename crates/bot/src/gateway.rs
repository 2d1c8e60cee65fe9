//! The gateway transport (serenity): interactions arriving over the bot's
//! websocket are converted into the same [`Interaction`] the HTTP endpoint
//! parses, answered by the same handler, and the answer is sent with the
//! interaction callback on the configured API base.

use std::time::Duration;

use serde_json::{Value, json};
use serenity::all::{
    ActionRowComponent, Client, CommandDataOption, CommandDataOptionValue, CommandInteraction,
    Context as GatewayContext, EventHandler, GatewayIntents, Interaction as GatewayInteraction,
    Ready,
};
use serenity::async_trait;
use tokio::sync::watch;
use vivid_core::Ctx;

use crate::model::{Interaction, Invocation, Kind, OptionValue};
use crate::respond;
use crate::rest::Rest;

struct Handler {
    ctx: Ctx,
    rest: Rest,
    budget: Duration,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _: GatewayContext, ready: Ready) {
        tracing::info!(bot = %ready.user.name, guilds = ready.guilds.len(), "connected to the Discord gateway");
    }

    async fn interaction_create(&self, _: GatewayContext, interaction: GatewayInteraction) {
        let Some(i) = convert(&interaction) else {
            return;
        };
        let first = respond::first(&self.ctx, &i, self.budget).await;
        if let Err(e) = self
            .rest
            .interaction_callback(&i.id, &i.token, &first.response)
            .await
        {
            tracing::warn!(error = %e, "cannot answer a gateway interaction");
            if let Some(p) = first.pending {
                p.abort();
            }
            return;
        }
        if let Some(pending) = first.pending {
            respond::finish(&self.rest, &i, &first.response, pending).await;
        }
    }
}

/// Connect to the gateway and serve interactions until `shutdown` turns true.
pub async fn run(
    ctx: Ctx,
    rest: Rest,
    token: &str,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), serenity::Error> {
    // Interactions need no privileged intents (and no message content).
    let mut client = Client::builder(token, GatewayIntents::empty())
        .event_handler(Handler {
            ctx,
            rest,
            budget: respond::DEFAULT_BUDGET,
        })
        .await?;
    let shards = client.shard_manager.clone();
    tokio::spawn(async move {
        while !*shutdown.borrow_and_update() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
        shards.shutdown_all().await;
    });
    client.start().await
}

fn value(v: &CommandDataOptionValue) -> Value {
    match v {
        CommandDataOptionValue::Boolean(b) => json!(b),
        CommandDataOptionValue::Integer(n) => json!(n),
        CommandDataOptionValue::Number(n) => json!(n),
        CommandDataOptionValue::String(s) => json!(s),
        CommandDataOptionValue::Autocomplete { value, .. } => json!(value),
        CommandDataOptionValue::User(id) => json!(id.to_string()),
        CommandDataOptionValue::Channel(id) => json!(id.to_string()),
        CommandDataOptionValue::Role(id) => json!(id.to_string()),
        CommandDataOptionValue::Mentionable(id) => json!(id.to_string()),
        CommandDataOptionValue::Attachment(id) => json!(id.to_string()),
        _ => Value::Null,
    }
}

fn invocation(c: &CommandInteraction) -> Invocation {
    let mut inv = Invocation {
        name: c.data.name.clone(),
        ..Invocation::default()
    };
    let mut level: &[CommandDataOption] = &c.data.options;
    // Subcommands (and groups) nest; their names join into one path.
    while let Some(first) = level.first() {
        let nested = match &first.value {
            CommandDataOptionValue::SubCommand(o) | CommandDataOptionValue::SubCommandGroup(o) => o,
            _ => break,
        };
        inv.subcommand = Some(match inv.subcommand.take() {
            Some(prefix) => format!("{prefix} {}", first.name),
            None => first.name.clone(),
        });
        level = nested;
    }
    inv.options = level
        .iter()
        .map(|o| OptionValue {
            name: o.name.clone(),
            value: value(&o.value),
            focused: matches!(o.value, CommandDataOptionValue::Autocomplete { .. }),
        })
        .collect();
    inv
}

/// serenity's interaction as the bot's own; None for what the bot ignores.
pub fn convert(i: &GatewayInteraction) -> Option<Interaction> {
    let common = |id: String,
                  app: String,
                  token: &str,
                  user: String,
                  guild: Option<String>,
                  channel: String| Interaction {
        id,
        application_id: app,
        token: token.to_string(),
        user_id: Some(user),
        guild_id: guild,
        channel_id: Some(channel),
        message_id: None,
        kind: Kind::Ping,
    };
    Some(match i {
        GatewayInteraction::Command(c) | GatewayInteraction::Autocomplete(c) => {
            let inv = invocation(c);
            Interaction {
                kind: if matches!(i, GatewayInteraction::Command(_)) {
                    Kind::Command(inv)
                } else {
                    Kind::Autocomplete(inv)
                },
                ..common(
                    c.id.to_string(),
                    c.application_id.to_string(),
                    &c.token,
                    c.user.id.to_string(),
                    c.guild_id.map(|g| g.to_string()),
                    c.channel_id.to_string(),
                )
            }
        }
        GatewayInteraction::Component(c) => Interaction {
            message_id: Some(c.message.id.to_string()),
            kind: Kind::Component {
                custom_id: c.data.custom_id.clone(),
            },
            ..common(
                c.id.to_string(),
                c.application_id.to_string(),
                &c.token,
                c.user.id.to_string(),
                c.guild_id.map(|g| g.to_string()),
                c.channel_id.to_string(),
            )
        },
        GatewayInteraction::Modal(m) => Interaction {
            message_id: m.message.as_ref().map(|msg| msg.id.to_string()),
            kind: Kind::ModalSubmit {
                custom_id: m.data.custom_id.clone(),
                fields: m
                    .data
                    .components
                    .iter()
                    .flat_map(|row| row.components.iter())
                    .filter_map(|c| match c {
                        ActionRowComponent::InputText(t) => {
                            Some((t.custom_id.clone(), t.value.clone().unwrap_or_default()))
                        }
                        _ => None,
                    })
                    .collect(),
            },
            ..common(
                m.id.to_string(),
                m.application_id.to_string(),
                &m.token,
                m.user.id.to_string(),
                m.guild_id.map(|g| g.to_string()),
                m.channel_id.to_string(),
            )
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    /// What Discord sends over the gateway carries more than the bot reads.
    fn full(mut v: Value) -> Value {
        v["locale"] = json!("en-GB");
        v["guild_locale"] = json!("en-US");
        v["app_permissions"] = json!("0");
        v["entitlements"] = json!([]);
        v["authorizing_integration_owners"] = json!({});
        v["attachment_size_limit"] = json!(10_485_760);
        v["member"] = json!({
            "user": { "id": "100000000000000004", "username": "omar", "discriminator": "0", "global_name": null, "avatar": null },
            "roles": [], "joined_at": "2026-01-05T14:00:00+00:00", "deaf": false, "mute": false, "flags": 0,
            "permissions": "0"
        });
        if v.get("message").is_some() {
            v["message"] = json!({
                "id": "300000000000000001", "channel_id": "200000000000000001", "type": 0,
                "author": { "id": "1100000000000000001", "username": "vivid", "discriminator": "0", "global_name": null, "avatar": null, "bot": true },
                "content": "", "timestamp": "2026-12-02T15:00:00+00:00", "edited_timestamp": null, "tts": false,
                "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
                "pinned": false, "flags": 0, "components": []
            });
        }
        v
    }

    #[test]
    fn gateway_interactions_become_the_same_interaction_as_http_ones() {
        let payloads = [
            testing::command(
                "100000000000000004",
                "crisis",
                Some("resolve"),
                json!([{ "name": "id", "type": 4, "value": 42 }, { "name": "note", "type": 3, "value": "rolled back" }]),
            ),
            testing::command("100000000000000004", "oncall", None, json!([])),
            testing::autocomplete(
                "100000000000000004",
                "crisis",
                Some("ack"),
                "id",
                json!("4"),
            ),
            testing::component("100000000000000004", "crisis:ack:42", "300000000000000001"),
            testing::modal_submit(
                "100000000000000004",
                "crisis:resolve:42",
                &[("note", "fixed")],
                Some("300000000000000001"),
            ),
        ];
        for p in payloads {
            let p = full(p);
            let http = Interaction::from_json(p.to_string().as_bytes());
            let gateway: Result<GatewayInteraction, _> = serde_json::from_value(p.clone());
            match (http, gateway) {
                (Ok(h), Ok(g)) => assert_eq!(convert(&g), Some(h), "{p}"),
                (h, g) => panic!("cannot parse {p}: {:?} / {:?}", h.err(), g.err()),
            }
        }
    }
}
