//! `[notify]`: urgency by severity, notification rules per urgency, the
//! channels' settings (secrets only by the names of environment variables)
//! and delivery limits. Checked when the configuration loads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{Method, Rule, Step, Urgency};
use crate::calendar::{Calendar, CalendarKind};
use crate::config::Config;
use crate::duration::HumanDuration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Severity (as a workflow names it, e.g. "P1") -> urgency.
    pub urgency: BTreeMap<String, Urgency>,
    /// Whose business hours are support hours ("" = the organisation's).
    pub support_department: String,
    /// The notification rule of each urgency.
    pub rules: BTreeMap<String, RuleConfig>,
    /// How to acknowledge, per workflow; `{id}` is the entity, `{person}` the
    /// person paged. Pages of other workflows say `acknowledge_default`.
    pub acknowledge: BTreeMap<String, String>,
    pub acknowledge_default: String,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub push: PushConfig,
    pub webhook: WebhookConfig,
    /// Pages per minute per channel from one engine process.
    pub rate_per_minute: BTreeMap<String, u32>,
    /// How long one delivery attempt may take.
    pub timeout: HumanDuration,
    /// Attempts before a page is marked failed (the engine's
    /// `outbox_max_attempts` is for other notifications).
    pub page_max_attempts: u32,
    /// Notifications one engine delivers at the same time.
    pub parallel_deliveries: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        let step = |after: u64, methods: &[Method]| StepConfig {
            after: HumanDuration::from_secs(after),
            methods: methods.to_vec(),
        };
        Self {
            urgency: BTreeMap::new(),
            support_department: String::new(),
            rules: BTreeMap::from([
                (
                    "high".to_string(),
                    RuleConfig {
                        steps: vec![
                            step(0, &[Method::Discord, Method::Push, Method::Webhook]),
                            step(300, &[Method::Sms]),
                            step(600, &[Method::Email]),
                        ],
                        support_hours_only: false,
                    },
                ),
                (
                    "low".to_string(),
                    RuleConfig {
                        steps: vec![step(0, &[Method::Discord])],
                        support_hours_only: true,
                    },
                ),
            ]),
            acknowledge: BTreeMap::new(),
            acknowledge_default: "Acknowledge it in the control room (vivid tui) or in Discord."
                .into(),
            email: EmailConfig::default(),
            sms: SmsConfig::default(),
            push: PushConfig::default(),
            webhook: WebhookConfig::default(),
            rate_per_minute: BTreeMap::new(),
            timeout: HumanDuration::from_secs(10),
            page_max_attempts: 3,
            parallel_deliveries: 8,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub steps: Vec<StepConfig>,
    #[serde(default)]
    pub support_hours_only: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    pub after: HumanDuration,
    pub methods: Vec<Method>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (a relay on the same host; tests).
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub from: String,
    /// Names of the environment variables holding the SMTP credentials
    /// (no authentication when the first is unset).
    pub username_env: String,
    pub password_env: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 587,
            security: Security::Starttls,
            from: "VividWalls on-call <oncall@vividwalls.example>".into(),
            username_env: "VIVID_SMTP_USERNAME".into(),
            password_env: "VIVID_SMTP_PASSWORD".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// A Twilio-compatible API: POST {base_url}/2010-04-01/Accounts/{sid}/Messages.json
    pub base_url: String,
    /// The sending number.
    pub from: String,
    pub account_env: String,
    pub token_env: String,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.twilio.com".into(),
            from: String::new(),
            account_env: "VIVID_SMS_ACCOUNT_SID".into(),
            token_env: "VIVID_SMS_AUTH_TOKEN".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// The ntfy server for contacts given as a bare topic.
    pub server: String,
    /// Optional access token (environment variable name) for the server.
    pub token_env: String,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            server: "https://ntfy.sh".into(),
            token_env: "VIVID_NTFY_TOKEN".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// The environment variable holding the HMAC-SHA256 signing secret.
    pub secret_env: String,
    /// The header carrying `sha256=<hex>`.
    pub header: String,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            secret_env: "VIVID_WEBHOOK_SECRET".into(),
            header: "X-Vivid-Signature".into(),
        }
    }
}

impl NotifyConfig {
    /// The urgency pages of this severity go out at (high when unmapped).
    pub fn urgency_of(&self, severity: &str) -> Urgency {
        self.urgency.get(severity).copied().unwrap_or(Urgency::High)
    }

    /// The rule of an urgency (validated to exist for every urgency used).
    pub fn rule(&self, urgency: Urgency) -> Rule {
        let steps = self
            .rules
            .get(urgency.as_str())
            .map(|r| {
                r.steps
                    .iter()
                    .map(|s| Step {
                        after: s.after.delta(),
                        methods: s.methods.clone(),
                    })
                    .collect()
            })
            .unwrap_or_else(|| {
                vec![Step {
                    after: chrono::TimeDelta::zero(),
                    methods: vec![Method::Discord],
                }]
            });
        Rule {
            steps,
            support_hours_only: self
                .rules
                .get(urgency.as_str())
                .is_some_and(|r| r.support_hours_only),
        }
    }

    /// Support hours on the business calendar.
    pub fn support_calendar(&self, calendar: &Calendar) -> Calendar {
        calendar.for_kind(&CalendarKind::BusinessHours {
            department: (!self.support_department.is_empty())
                .then(|| self.support_department.clone()),
        })
    }

    /// The sentence that tells a paged person how to acknowledge.
    pub fn how_to_acknowledge(&self, workflow: &str, entity_id: &str, person: &str) -> String {
        self.acknowledge
            .get(workflow)
            .unwrap_or(&self.acknowledge_default)
            .replace("{id}", entity_id)
            .replace("{person}", person)
    }

    /// Pages per minute a channel may send (None: unlimited).
    pub fn rate(&self, method: Method) -> Option<u32> {
        self.rate_per_minute.get(method.as_str()).copied()
    }
}

/// Checks `[notify]` against the rest of the configuration.
pub fn validate(config: &Config) -> Result<(), (String, String)> {
    let n = &config.notify;
    let err = |key: &str, reason: String| Err((format!("notify.{key}"), reason));
    for key in n.rules.keys() {
        if Urgency::parse(key).is_none() {
            return err(
                &format!("rules.{key}"),
                "a rule is for urgency high or low".into(),
            );
        }
    }
    for urgency in [Urgency::High, Urgency::Low] {
        let used = urgency == Urgency::High || n.urgency.values().any(|u| *u == urgency);
        let Some(rule) = n.rules.get(urgency.as_str()) else {
            if used {
                return err(
                    &format!("rules.{urgency}"),
                    format!(
                        "severities page at {urgency} urgency but no [notify.rules.{urgency}] rule says how"
                    ),
                );
            }
            continue;
        };
        if rule.steps.is_empty() {
            return err(
                &format!("rules.{urgency}.steps"),
                "a rule needs at least one step".into(),
            );
        }
        let mut last = None;
        let mut seen = Vec::new();
        for (i, step) in rule.steps.iter().enumerate() {
            let key = format!("rules.{urgency}.steps[{i}]");
            if step.methods.is_empty() {
                return err(&key, "a step names at least one method".into());
            }
            if last.is_some_and(|l| step.after < l) {
                return err(
                    &format!("{key}.after"),
                    format!(
                        "steps run in order: {} comes before the previous step's {}",
                        step.after,
                        last.map(|l: HumanDuration| l.to_string())
                            .unwrap_or_default()
                    ),
                );
            }
            last = Some(step.after);
            for m in &step.methods {
                if seen.contains(m) {
                    return err(
                        &format!("{key}.methods"),
                        format!("{m} appears in two steps of the {urgency} rule"),
                    );
                }
                seen.push(*m);
            }
        }
    }
    if !n.support_department.is_empty()
        && !config
            .org
            .departments
            .iter()
            .any(|d| d.key == n.support_department)
    {
        return err(
            "support_department",
            format!("no department {:?} in [org]", n.support_department),
        );
    }
    if n.email.port == 0 {
        return err("email.port", "the SMTP port must be 1 to 65535".into());
    }
    if n.email.host.trim().is_empty() {
        return err("email.host", "the SMTP host is empty".into());
    }
    for (key, url) in [
        ("sms.base_url", &n.sms.base_url),
        ("push.server", &n.push.server),
    ] {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return err(key, format!("{url:?} is not an http:// or https:// URL"));
        }
    }
    for (m, r) in &n.rate_per_minute {
        if let Err(e) = m.parse::<Method>() {
            return err(&format!("rate_per_minute.{m}"), e);
        }
        if *r == 0 {
            return err(
                &format!("rate_per_minute.{m}"),
                "a rate of 0 would never deliver; remove the key for no limit".into(),
            );
        }
    }
    if n.page_max_attempts == 0 {
        return err(
            "page_max_attempts",
            "a page needs at least one attempt".into(),
        );
    }
    if n.parallel_deliveries == 0 || n.parallel_deliveries > 256 {
        return err("parallel_deliveries", "between 1 and 256".into());
    }
    if n.timeout.is_zero() {
        return err("timeout", "a delivery attempt needs some time".into());
    }
    for (workflow, text) in &n.acknowledge {
        if text.trim().is_empty() {
            return err(
                &format!("acknowledge.{workflow}"),
                "say how to acknowledge".into(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extra: &str) -> Result<Config, crate::config::ConfigError> {
        let text = format!("{}\n{extra}", crate::config::EMBEDDED_DEFAULT);
        Config::from_toml_str("test.toml", &text)
    }

    #[test]
    fn the_default_rules_load() {
        let c = load("").expect("default config");
        let high = c.notify.rule(Urgency::High);
        assert_eq!(high.steps.len(), 3);
        assert!(!high.support_hours_only);
        assert!(c.notify.rule(Urgency::Low).support_hours_only);
        assert_eq!(c.notify.urgency_of("P1"), Urgency::High);
        assert_eq!(c.notify.urgency_of("P4"), Urgency::Low);
    }

    #[test]
    fn bad_rules_are_refused_with_the_key() {
        let cases = [
            (
                "[notify.rules.high]\nsteps = []\n",
                "notify.rules.high.steps",
            ),
            (
                "[notify.rules.high]\nsteps = [{ after = \"5m\", methods = [\"sms\"] }, { after = \"1m\", methods = [\"email\"] }]\n",
                "notify.rules.high.steps[1].after",
            ),
            (
                "[notify.rules.high]\nsteps = [{ after = \"0m\", methods = [\"sms\"] }, { after = \"1m\", methods = [\"sms\"] }]\n",
                "notify.rules.high.steps[1].methods",
            ),
            (
                "[notify.rate_per_minute]\nsms = 0\n",
                "notify.rate_per_minute.sms",
            ),
        ];
        for (extra, key) in cases {
            // The default file has [notify.rules.high]; replace it.
            let base = crate::config::EMBEDDED_DEFAULT;
            let text = strip_table(base, extra);
            let e =
                Config::from_toml_str("test.toml", &format!("{text}\n{extra}")).expect_err(extra);
            assert_eq!(e.key, key, "{extra}: {e}");
        }
        let text = strip_table(crate::config::EMBEDDED_DEFAULT, "[notify.rules.high]");
        let e = Config::from_toml_str(
            "t",
            &format!("{text}\n[notify.rules.high]\nsteps = [{{ after = \"0m\", methods = [\"pager\"] }}]\n"),
        )
        .expect_err("unknown method");
        assert!(e.reason.contains("pager"), "{e}");
    }

    /// The default file without the table the extra text redefines.
    fn strip_table(base: &str, extra: &str) -> String {
        let header = extra.lines().next().unwrap_or_default().trim();
        let mut out = Vec::new();
        let mut skipping = false;
        for line in base.lines() {
            if line.trim_start().starts_with('[') {
                skipping = line.trim() == header;
            }
            if !skipping {
                out.push(line);
            }
        }
        out.join("\n")
    }
}
