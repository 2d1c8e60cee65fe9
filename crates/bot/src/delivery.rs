//! The outbox's Discord target. Channel notifications go to the channel
//! configured for their logical name (`[discord.channels]`); an announcement
//! of an entity a command group posts live (a new incident) becomes that
//! entity's message with its buttons, remembered so later changes edit it.
//! Notifications for a person go as direct messages to their Discord id.
//!
//! Discord's answers map onto the outbox's retry rules: 429 retries after
//! Discord's `retry_after`, 5xx and network failures retry with backoff, any
//! other 4xx is permanent.

use std::collections::HashMap;
use std::sync::Mutex;

use vivid_core::Ctx;
use vivid_core::config::DiscordConfig;
use vivid_core::engine::outbox::{DeliveryError, DeliveryFuture, DeliveryTarget, Notification};

use crate::live::{self, LiveError};
use crate::model::{Embed, Message};
use crate::registry;
use crate::render::notification_colour;
use crate::rest::{ClientError, Rest, RestError};
use crate::secrets;

pub struct DiscordTarget {
    rest: Rest,
    /// Discord user id -> DM channel id; Discord returns the same channel every time.
    dm_channels: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for DiscordTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordTarget")
            .field("rest", &self.rest)
            .finish_non_exhaustive()
    }
}

impl DiscordTarget {
    pub fn new(rest: Rest) -> Self {
        Self {
            rest,
            dm_channels: Mutex::new(HashMap::new()),
        }
    }

    /// The target when `DISCORD_TOKEN` is set, else None (the engine keeps
    /// its log target).
    pub fn from_env(config: &DiscordConfig) -> Result<Option<Self>, ClientError> {
        let Some(token) = secrets::token() else {
            return Ok(None);
        };
        Ok(Some(Self::new(Rest::new(&config.api_base, Some(token))?)))
    }

    async fn dm_channel(&self, user_id: &str) -> Result<String, RestError> {
        if let Some(c) = self
            .dm_channels
            .lock()
            .ok()
            .and_then(|m| m.get(user_id).cloned())
        {
            return Ok(c);
        }
        let channel = self.rest.dm_channel(user_id).await?;
        if let Ok(mut m) = self.dm_channels.lock() {
            m.insert(user_id.to_string(), channel.clone());
        }
        Ok(channel)
    }

    async fn send(&self, ctx: &Ctx, n: &Notification) -> Result<(), DeliveryError> {
        match n.recipient_kind.as_str() {
            "channel" | "department" => {
                let channel = ctx.config.discord.channels.get(&n.recipient).ok_or_else(|| {
                    DeliveryError::Permanent(format!(
                        "no Discord channel is configured for {:?}: add it under [discord.channels]",
                        n.recipient
                    ))
                })?;
                if let Some((group, entity_id)) = live_card(n) {
                    return match live::post(ctx, &self.rest, group, &entity_id, channel).await {
                        Ok(_) => Ok(()),
                        Err(LiveError::Rest(e)) => Err(from_rest(e)),
                        // The entity is gone or unreadable: a plain message still tells people.
                        Err(LiveError::Core(e)) if e.is_user_error() => {
                            tracing::warn!(error = %e, id = n.id, "cannot render the live message; posting the notification as text");
                            self.post_plain(ctx, channel, n, false).await
                        }
                        // Its stored state is one this binary cannot read: retrying will not help.
                        Err(LiveError::Core(e @ vivid_core::Error::Internal(_))) => {
                            tracing::error!(error = %e, id = n.id, "cannot render the live message; posting the notification as text");
                            self.post_plain(ctx, channel, n, false).await
                        }
                        Err(LiveError::Core(e)) => Err(DeliveryError::Retry {
                            reason: e.to_string(),
                            after: None,
                        }),
                    };
                }
                // The live card carries the buttons; a channel post (or a
                // customer status page) must not.
                self.post_plain(ctx, channel, n, false).await
            }
            _ => {
                let handle = n.person.as_deref().unwrap_or(&n.recipient);
                let person = ctx.org.person(handle).ok_or_else(|| {
                    DeliveryError::Permanent(format!("@{handle} is not in the org directory"))
                })?;
                if !ctx.config.discord.direct_messages {
                    return Err(DeliveryError::Permanent(
                        "direct messages are turned off ([discord] direct_messages = false)".into(),
                    ));
                }
                let user = person.discord_id.as_deref().ok_or_else(|| {
                    DeliveryError::Permanent(format!(
                        "{} has no Discord id in the org directory (org.people discord_id)",
                        person.label()
                    ))
                })?;
                let channel = self.dm_channel(user).await.map_err(from_rest)?;
                // A page in a DM can be acknowledged right there.
                self.post_plain(ctx, &channel, n, true).await
            }
        }
    }

    async fn post_plain(
        &self,
        ctx: &Ctx,
        channel: &str,
        n: &Notification,
        buttons: bool,
    ) -> Result<(), DeliveryError> {
        let mut message = notification_message(n);
        if buttons && let Some(group) = registry::for_workflow(&n.workflow) {
            message.components = group.notification_buttons(ctx, n).await;
        }
        self.rest
            .create_message(channel, &message)
            .await
            .map(drop)
            .map_err(from_rest)
    }
}

/// The live card a channel notification becomes, and the entity it shows:
/// a hand-off's card (Ack / Done) whichever workflow opened the hand-off
/// (a crisis, the journey, a budget), else its workflow's own card.
fn live_card(n: &Notification) -> Option<(&'static dyn registry::CommandGroup, String)> {
    let handoff = n
        .payload
        .get("card")
        .and_then(|c| c.as_str())
        .filter(|c| *c == "handoff")
        .and_then(|_| n.payload.get("handoff_id"))
        .and_then(|id| id.as_i64());
    if let Some(id) = handoff {
        return registry::for_workflow(vivid_core::collab::WORKFLOW).map(|g| (g, id.to_string()));
    }
    registry::for_workflow(&n.workflow)
        .filter(|g| g.posts(n))
        .map(|g| (g, n.entity_id.clone()))
}

/// A notification as a message: its subject, body and severity colour.
pub fn notification_message(n: &Notification) -> Message {
    Message::embed(Embed {
        title: Some(n.subject.clone()),
        description: Some(n.body.clone()).filter(|b| !b.trim().is_empty()),
        colour: Some(notification_colour(&n.severity)),
        footer: Some(format!("{} · {}", n.workflow, n.entity_id)),
        timestamp: Some(n.created_at.to_rfc3339()),
        ..Embed::default()
    })
}

/// Discord's answer in the outbox's terms.
pub fn from_rest(e: RestError) -> DeliveryError {
    match e {
        RestError::RateLimited { after, .. } => DeliveryError::Retry {
            reason: e.to_string(),
            after: Some(after),
        },
        RestError::Server { .. } | RestError::Network { .. } | RestError::Unexpected { .. } => {
            DeliveryError::Retry {
                reason: e.to_string(),
                after: None,
            }
        }
        RestError::Refused { .. } | RestError::NoToken { .. } => {
            DeliveryError::Permanent(e.to_string())
        }
    }
}

impl DeliveryTarget for DiscordTarget {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn deliver<'a>(&'a self, ctx: &'a Ctx, n: &'a Notification) -> DeliveryFuture<'a> {
        Box::pin(self.send(ctx, n))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn discord_answers_map_to_outbox_rules() {
        let r = |e| match from_rest(e) {
            DeliveryError::Retry { after, .. } => format!("retry {after:?}"),
            DeliveryError::Permanent(_) => "permanent".into(),
        };
        let route = || "POST /channels/1/messages".to_string();
        assert_eq!(
            r(RestError::RateLimited {
                route: route(),
                after: Duration::from_millis(1500)
            }),
            "retry Some(1.5s)"
        );
        assert_eq!(
            r(RestError::Server {
                route: route(),
                status: 502
            }),
            "retry None"
        );
        assert_eq!(
            r(RestError::Refused {
                route: route(),
                status: 403,
                message: "Missing Access (code 50001)".into()
            }),
            "permanent"
        );
    }
}
