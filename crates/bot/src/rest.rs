//! A small Discord REST client over `config.discord.api_base` (tests point it
//! at a local server). It does not retry on its own: a rate limit comes back
//! as [`RestError::RateLimited`] with Discord's `retry_after`, so the outbox
//! can schedule the retry durably instead of a task sleeping on it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::model::{Message, Response};

#[derive(Debug, Clone, thiserror::Error)]
pub enum RestError {
    /// HTTP 429: try again after this long.
    #[error("Discord rate limit on {route}: retry after {after:?}")]
    RateLimited { route: String, after: Duration },
    /// HTTP 5xx: Discord's side; try again later.
    #[error("Discord answered {status} on {route}")]
    Server { route: String, status: u16 },
    /// Any other 4xx: this request will never succeed as it is.
    #[error("Discord refused {route}: {status} {message}")]
    Refused {
        route: String,
        status: u16,
        message: String,
    },
    /// No answer (connection refused, timeout, TLS).
    #[error("cannot reach Discord ({route}): {reason}")]
    Network { route: String, reason: String },
    /// A call that needs the bot token was made without one.
    #[error("DISCORD_TOKEN is not set: {route} needs the bot token")]
    NoToken { route: String },
    /// Discord's answer was not what its documentation says.
    #[error("unexpected answer from Discord on {route}: {reason}")]
    Unexpected { route: String, reason: String },
}

impl RestError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, RestError::Refused { status: 404, .. })
    }
}

#[derive(Clone)]
pub struct Rest {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Rest")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "set"))
            .finish()
    }
}

/// The REST client could not be built (TLS backend).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the Discord HTTP client: {0}")]
pub struct ClientError(String);

impl Rest {
    pub fn new(api_base: &str, token: Option<String>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "DiscordBot (https://github.com/vividwalls, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError(e.to_string()))?;
        Ok(Self {
            http,
            base: api_base.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.trim().is_empty()),
        })
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call(
        &self,
        method: Method,
        route: &str,
        body: Option<&Value>,
        bot_auth: bool,
    ) -> Result<Value, RestError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{route}", self.base));
        if bot_auth {
            let token = self.token.as_ref().ok_or_else(|| RestError::NoToken {
                route: route.to_string(),
            })?;
            req = req.header("Authorization", format!("Bot {token}"));
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        // Interaction tokens sit in webhook routes: keep them out of errors and logs.
        let shown = redact_route(&method, route);
        let resp = req.send().await.map_err(|e| RestError::Network {
            route: shown.clone(),
            reason: e.without_url().to_string(),
        })?;
        let status = resp.status();
        let retry_header = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok());
        let text = resp.text().await.unwrap_or_default();
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(json);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let secs = json
                .get("retry_after")
                .and_then(Value::as_f64)
                .or(retry_header)
                .unwrap_or(1.0);
            return Err(RestError::RateLimited {
                route: shown,
                after: Duration::from_secs_f64(secs.clamp(0.0, 3600.0)),
            });
        }
        if status.is_server_error() {
            return Err(RestError::Server {
                route: shown,
                status: status.as_u16(),
            });
        }
        let message = match &json {
            Value::Object(o) => {
                let msg = o.get("message").and_then(Value::as_str).unwrap_or("");
                match o.get("code").and_then(Value::as_i64) {
                    Some(code) => format!("{msg} (code {code})"),
                    None => msg.to_string(),
                }
            }
            Value::String(s) => s.chars().take(200).collect(),
            _ => String::new(),
        };
        Err(RestError::Refused {
            route: shown,
            status: status.as_u16(),
            message,
        })
    }

    fn id_of(route: &str, v: &Value) -> Result<String, RestError> {
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| RestError::Unexpected {
                route: route.to_string(),
                reason: "no id in the answer".into(),
            })
    }

    /// Post a message to a channel; returns the message id.
    pub async fn create_message(&self, channel_id: &str, m: &Message) -> Result<String, RestError> {
        let route = format!("/channels/{channel_id}/messages");
        let v = self
            .call(Method::POST, &route, Some(&m.to_json()), true)
            .await?;
        Self::id_of(&route, &v)
    }

    pub async fn edit_message(
        &self,
        channel_id: &str,
        message_id: &str,
        m: &Message,
    ) -> Result<(), RestError> {
        let route = format!("/channels/{channel_id}/messages/{message_id}");
        self.call(Method::PATCH, &route, Some(&m.to_json()), true)
            .await
            .map(drop)
    }

    /// The direct-message channel with a user (Discord returns the same one each time).
    pub async fn dm_channel(&self, user_id: &str) -> Result<String, RestError> {
        let route = "/users/@me/channels";
        let v = self
            .call(
                Method::POST,
                route,
                Some(&json!({ "recipient_id": user_id })),
                true,
            )
            .await?;
        Self::id_of(route, &v)
    }

    /// The first answer to a gateway interaction.
    pub async fn interaction_callback(
        &self,
        interaction_id: &str,
        token: &str,
        r: &Response,
    ) -> Result<(), RestError> {
        let route = format!("/interactions/{interaction_id}/{token}/callback");
        self.call(Method::POST, &route, Some(&r.to_json()), false)
            .await
            .map(drop)
    }

    /// Replace the original (deferred) response.
    pub async fn edit_original(
        &self,
        application_id: &str,
        token: &str,
        m: &Message,
    ) -> Result<(), RestError> {
        let route = format!("/webhooks/{application_id}/{token}/messages/@original");
        self.call(Method::PATCH, &route, Some(&m.to_json()), false)
            .await
            .map(drop)
    }

    pub async fn delete_original(
        &self,
        application_id: &str,
        token: &str,
    ) -> Result<(), RestError> {
        let route = format!("/webhooks/{application_id}/{token}/messages/@original");
        self.call(Method::DELETE, &route, None, false)
            .await
            .map(drop)
    }

    /// A further message after the first response (may be ephemeral).
    pub async fn followup(
        &self,
        application_id: &str,
        token: &str,
        m: &Message,
    ) -> Result<(), RestError> {
        let route = format!("/webhooks/{application_id}/{token}");
        self.call(Method::POST, &route, Some(&m.to_json()), false)
            .await
            .map(drop)
    }

    /// The application id behind the bot token.
    pub async fn application_id(&self) -> Result<String, RestError> {
        let route = "/applications/@me";
        let v = self.call(Method::GET, route, None, true).await?;
        Self::id_of(route, &v)
    }

    /// Replace every command of the application (in one guild, or globally).
    pub async fn register_commands(
        &self,
        application_id: &str,
        guild_id: Option<&str>,
        commands: &Value,
    ) -> Result<Value, RestError> {
        let route = match guild_id {
            Some(g) => format!("/applications/{application_id}/guilds/{g}/commands"),
            None => format!("/applications/{application_id}/commands"),
        };
        self.call(Method::PUT, &route, Some(commands), true).await
    }
}

fn redact_route(method: &Method, route: &str) -> String {
    let mut parts: Vec<&str> = route.split('/').collect();
    // /webhooks/{app}/{token}/... and /interactions/{id}/{token}/callback
    if matches!(parts.get(1), Some(&"webhooks") | Some(&"interactions"))
        && let Some(t) = parts.get_mut(3)
    {
        *t = "{token}";
    }
    format!("{method} {}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interaction_tokens_are_kept_out_of_messages() {
        assert_eq!(
            redact_route(&Method::PATCH, "/webhooks/1/secret/messages/@original"),
            "PATCH /webhooks/1/{token}/messages/@original"
        );
        assert_eq!(
            redact_route(&Method::POST, "/interactions/9/secret/callback"),
            "POST /interactions/9/{token}/callback"
        );
        assert_eq!(
            redact_route(&Method::POST, "/channels/5/messages"),
            "POST /channels/5/messages"
        );
    }

    #[test]
    fn the_token_is_not_printed() {
        let rest = Rest::new("http://127.0.0.1:1/", Some("sekrit".into()));
        let shown = format!("{rest:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert_eq!(
            rest.map(|r| r.base().to_string()).ok().as_deref(),
            Some("http://127.0.0.1:1")
        );
    }
}
