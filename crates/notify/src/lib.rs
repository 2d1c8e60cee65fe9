//! vivid-notify: the transports that carry pages to people — e-mail over
//! SMTP (`lettre`), SMS through a Twilio-compatible REST API, push through
//! ntfy, and JSON webhooks signed with HMAC-SHA256. Core decides who is paged,
//! how and when (`vivid_core::notify`); this crate only sends.
//!
//! [`Router`] is the engine's delivery target: a page whose method is one of
//! these goes out here; everything else (Discord pages, channel messages)
//! goes to the target it wraps (Discord or the log).
//!
//! Contact details are never logged and never put in an error: failures say
//! the status or code the other side gave, not to whom.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use vivid_core::Ctx;
use vivid_core::engine::outbox::{DeliveryError, DeliveryFuture, DeliveryTarget, Notification};
use vivid_core::notify::Method;
use vivid_core::notify::config::{NotifyConfig, Security};
use vivid_core::notify::delivery::{self, Outgoing};
use vivid_core::notify::model;

/// The engine's delivery target: pages by their method, the rest to `base`.
pub struct Router {
    base: Arc<dyn DeliveryTarget>,
    http: reqwest::Client,
    smtp: Result<AsyncSmtpTransport<Tokio1Executor>, String>,
    config: NotifyConfig,
    secrets: Secrets,
}

/// The channels' secrets, read from the environment variables `[notify]`
/// names. Never printed.
#[derive(Clone, Default)]
pub struct Secrets {
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    pub sms_account: Option<String>,
    pub sms_token: Option<String>,
    pub push_token: Option<String>,
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(redacted)")
    }
}

impl Secrets {
    pub fn from_env(config: &NotifyConfig) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            smtp_username: var(&config.email.username_env),
            smtp_password: var(&config.email.password_env),
            sms_account: var(&config.sms.account_env),
            sms_token: var(&config.sms.token_env),
            push_token: var(&config.push.token_env),
            webhook_secret: var(&config.webhook.secret_env),
        }
    }
}

impl Router {
    /// Build the transports from `[notify]`, secrets from the environment.
    pub fn new(config: &NotifyConfig, base: Arc<dyn DeliveryTarget>) -> Result<Self, String> {
        Self::with_secrets(config, Secrets::from_env(config), base)
    }

    /// Build the transports with the secrets given.
    pub fn with_secrets(
        config: &NotifyConfig,
        secrets: Secrets,
        base: Arc<dyn DeliveryTarget>,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout.std())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            base,
            http,
            smtp: smtp_transport(config, &secrets),
            config: config.clone(),
            secrets,
        })
    }

    async fn send(&self, ctx: &Ctx, n: &Notification) -> Result<(), DeliveryError> {
        let out = delivery::prepare(ctx, n).await?;
        match out.method {
            Method::Email => self.email(&out).await,
            Method::Sms => self.sms(&out).await,
            Method::Push => self.push(&out).await,
            Method::Webhook => self.webhook(&out).await,
            // Pages by Discord go through the Discord target.
            Method::Discord => self.base.deliver(ctx, n).await,
        }
    }

    async fn email(&self, out: &Outgoing) -> Result<(), DeliveryError> {
        let smtp = self.smtp.as_ref().map_err(|e| permanent(e.clone()))?;
        let from = self
            .config
            .email
            .from
            .parse()
            .map_err(|_| permanent("[notify.email] from is not a valid address"))?;
        let to = out
            .to
            .parse()
            .map_err(|_| permanent("the e-mail contact is not a valid address"))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(out.title.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(out.body.clone())
            .map_err(|e| permanent(format!("cannot build the e-mail: {e}")))?;
        match smtp.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e
                    .status()
                    .map(|c| format!(" (SMTP {c})"))
                    .unwrap_or_default();
                if e.is_permanent() {
                    Err(permanent(format!("the mail server refused the page{code}")))
                } else {
                    let what = if e.is_transient() {
                        "the mail server deferred the page"
                    } else {
                        "cannot reach the mail server"
                    };
                    Err(retry(format!("{what}{code}"), None))
                }
            }
        }
    }

    async fn sms(&self, out: &Outgoing) -> Result<(), DeliveryError> {
        let c = &self.config.sms;
        let sid = secret(&self.secrets.sms_account, &c.account_env)?;
        let token = secret(&self.secrets.sms_token, &c.token_env)?;
        let url = format!(
            "{}/2010-04-01/Accounts/{sid}/Messages.json",
            c.base_url.trim_end_matches('/')
        );
        let text = format!("{}\n{}", out.title, out.body);
        let req = self.http.post(url).basic_auth(&sid, Some(&token)).form(&[
            ("To", out.to.as_str()),
            ("From", c.from.as_str()),
            ("Body", &text),
        ]);
        http_outcome("the SMS API", req.send().await)
    }

    async fn push(&self, out: &Outgoing) -> Result<(), DeliveryError> {
        let url = if out.to.starts_with("http://") || out.to.starts_with("https://") {
            out.to.to_string()
        } else {
            format!(
                "{}/{}",
                self.config.push.server.trim_end_matches('/'),
                out.to.as_str()
            )
        };
        let mut req = self
            .http
            .post(url)
            .header("Title", header_text(&out.title))
            .header("Priority", out.priority)
            .header("Tags", "rotating_light")
            .body(out.body.clone());
        if let Some(token) = &self.secrets.push_token {
            req = req.bearer_auth(token);
        }
        http_outcome("the push server", req.send().await)
    }

    async fn webhook(&self, out: &Outgoing) -> Result<(), DeliveryError> {
        let c = &self.config.webhook;
        let secret = secret(&self.secrets.webhook_secret, &c.secret_env)?;
        let body = serde_json::to_vec(&out.json)
            .map_err(|e| permanent(format!("cannot encode the webhook body: {e}")))?;
        let signature = model::sign(secret.as_bytes(), &body);
        let req = self
            .http
            .post(out.to.as_str())
            .header("Content-Type", "application/json")
            .header(c.header.as_str(), signature)
            .body(body);
        http_outcome("the webhook", req.send().await)
    }
}

impl DeliveryTarget for Router {
    fn name(&self) -> &'static str {
        self.base.name()
    }

    fn deliver<'a>(&'a self, ctx: &'a Ctx, n: &'a Notification) -> DeliveryFuture<'a> {
        Box::pin(async move {
            match n.channel.as_deref() {
                None | Some("discord") => self.base.deliver(ctx, n).await,
                Some(_) => self.send(ctx, n).await,
            }
        })
    }
}

fn smtp_transport(
    config: &NotifyConfig,
    secrets: &Secrets,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let c = &config.email;
    let builder = match c.security {
        Security::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)
            .map_err(|e| format!("[notify.email] cannot use {:?}: {e}", c.host))?,
        Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)
            .map_err(|e| format!("[notify.email] cannot use {:?}: {e}", c.host))?,
        Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
    };
    let mut builder = builder.port(c.port).timeout(Some(config.timeout.std()));
    if let Some(user) = &secrets.smtp_username {
        let password = secrets.smtp_password.clone().unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

fn secret(value: &Option<String>, var: &str) -> Result<String, DeliveryError> {
    value
        .clone()
        .ok_or_else(|| permanent(format!("{var} is not set")))
}

/// A header value: plain ASCII as is, anything else RFC 2047-encoded
/// (which ntfy decodes).
fn header_text(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        s.to_string()
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
        )
    }
}

/// 2xx delivered; 429 and 5xx (and no answer) retried, honouring
/// Retry-After; other statuses refused for good.
fn http_outcome(
    what: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<(), DeliveryError> {
    match sent {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => {
            let status = r.status();
            let after = r
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_secs_f64(s.min(3600.0)));
            if status.as_u16() == 429 || status.is_server_error() {
                Err(retry(format!("{what} answered {status}"), after))
            } else {
                Err(permanent(format!("{what} refused the page: {status}")))
            }
        }
        // Without the URL: it may hold a topic or a token.
        Err(e) => Err(retry(
            format!("cannot reach {what}: {}", e.without_url()),
            None,
        )),
    }
}

fn permanent(reason: impl Into<String>) -> DeliveryError {
    DeliveryError::Permanent(reason.into())
}

fn retry(reason: String, after: Option<Duration>) -> DeliveryError {
    DeliveryError::Retry { reason, after }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_stay_ascii() {
        assert_eq!(header_text("P1 checkout down"), "P1 checkout down");
        assert_eq!(header_text("café"), "=?UTF-8?B?Y2Fmw6k=?=");
    }
}
