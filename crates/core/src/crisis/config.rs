//! The `[crisis]` section: severities, phase time boxes, KPI rules, who
//! responds and who commands.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Section;
use crate::duration::HumanDuration;
use crate::org::RoleRef;

/// Crisis management: severities, phase time boxes, KPI triggers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrisisConfig {
    /// Exactly P1, P2, P3 and P4.
    pub severities: BTreeMap<String, SeverityConfig>,
    /// Per-department overrides: "P2:technology" = "policy-name".
    #[serde(default)]
    pub department_policies: BTreeMap<String, String>,
    pub phases: PhaseBoxes,
    /// Channel that receives incident announcements and status updates.
    pub channel: String,
    /// Channel for customer-facing status updates.
    pub customer_channel: String,
    /// The department an incident concerns when its opener names none.
    pub default_department: String,
    pub roles: CrisisRoles,
    #[serde(default)]
    pub triggers: Vec<TriggerConfig>,
    /// Monitoring alerts (Alertmanager, Grafana, any JSON sender) to incidents.
    #[serde(default)]
    pub alerts: AlertsConfig,
}

/// `[crisis.alerts]`: how alerts from monitoring become incidents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// The label (Alertmanager, Grafana) whose value says how bad it is.
    pub severity_label: String,
    /// That label's values to severities; "P1".."P4" are understood as is.
    pub severities: BTreeMap<String, String>,
    /// Severity when the alert says none the map knows.
    pub default_severity: String,
    /// The label whose value names the department concerned.
    pub department_label: String,
    /// Department when the alert names none the org knows.
    pub default_department: String,
    /// Resolve the incident when every alert attached to it is resolved
    /// (only where the protocol allows: P1/P2 walk their phases by hand).
    pub auto_resolve: bool,
    /// An alert firing again this soon after its incident was resolved
    /// reopens that incident instead of opening a new one.
    pub reopen_within: HumanDuration,
    /// A storm: more than this many new alerts from one source within
    /// `storm_window` join one storm incident instead of paging each.
    pub storm_alerts: u32,
    pub storm_window: HumanDuration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        let minutes = |m: u64| HumanDuration::from_secs(m * 60);
        Self {
            severity_label: "severity".into(),
            severities: [
                ("critical", "P1"),
                ("high", "P2"),
                ("error", "P2"),
                ("warning", "P3"),
                ("info", "P4"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            default_severity: "P3".into(),
            department_label: "team".into(),
            default_department: "technology".into(),
            auto_resolve: true,
            reopen_within: minutes(60),
            storm_alerts: 20,
            storm_window: minutes(5),
        }
    }
}

/// Who may do what to an incident, as role references ("operator",
/// "director:*", "team_lead:technology"); checked against the org at load.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrisisRoles {
    /// Acknowledge, resolve, reopen, advance phases, escalate, post status
    /// updates, write the post-mortem, assign roles; be the commander.
    pub respond: Vec<String>,
    /// Besides the incident's own commander: close it and change its severity.
    pub command: Vec<String>,
}

impl CrisisRoles {
    pub fn respond_refs(&self) -> crate::Result<Vec<RoleRef>> {
        role_refs("crisis.roles.respond", &self.respond)
    }

    pub fn command_refs(&self) -> crate::Result<Vec<RoleRef>> {
        role_refs("crisis.roles.command", &self.command)
    }
}

/// Parsed role references; the load checked them, so a failure here means
/// the section was changed after loading.
fn role_refs(key: &str, list: &[String]) -> crate::Result<Vec<RoleRef>> {
    list.iter()
        .map(|r| {
            r.parse()
                .map_err(|e| crate::Error::internal(format!("{key}: {e}")))
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityConfig {
    pub description: String,
    /// Time to acknowledge: a duration, or "next_business_day" (by the close
    /// of the next business day in the org's time zone).
    pub ack: AckDeadline,
    /// An acknowledged incident with no progress for this long re-triggers.
    pub unack_timeout: HumanDuration,
    /// Escalation policy (from `escalation.policies`).
    pub policy: String,
    /// Must walk every phase and write a post-mortem before closing.
    pub full_protocol: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckDeadline {
    Within(HumanDuration),
    NextBusinessDay,
}

impl Serialize for AckDeadline {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AckDeadline::Within(d) => d.serialize(s),
            AckDeadline::NextBusinessDay => s.serialize_str("next_business_day"),
        }
    }
}

impl<'de> Deserialize<'de> for AckDeadline {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "next_business_day" {
            return Ok(AckDeadline::NextBusinessDay);
        }
        s.parse()
            .map(AckDeadline::Within)
            .map_err(|e| serde::de::Error::custom(format!("{e}, or \"next_business_day\"")))
    }
}

/// The seed's crisis timeline: a time box per phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseBoxes {
    pub detection: HumanDuration,
    pub triage: HumanDuration,
    pub internal_comms: HumanDuration,
    pub customer_comms: HumanDuration,
    pub implement_fix: HumanDuration,
    pub follow_up: HumanDuration,
    pub post_mortem: HumanDuration,
    pub update_protocols: HumanDuration,
}

/// A KPI rule that opens an incident on its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfig {
    pub name: String,
    pub metric: String,
    /// "below", "above", "below_trailing_average" or "above_ratio_of".
    pub when: String,
    /// For below / above.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// For below_trailing_average / above_ratio_of.
    #[serde(default)]
    pub ratio: Option<f64>,
    /// For below_trailing_average, e.g. "7d".
    #[serde(default)]
    pub window: Option<HumanDuration>,
    /// For above_ratio_of: the other metric.
    #[serde(default)]
    pub other: Option<String>,
    pub severity: String,
    pub departments: Vec<String>,
    pub title: String,
}

impl Section for CrisisConfig {
    const KEY: &'static str = "crisis";
}

/// The `[crisis]` section of the running configuration.
pub fn settings(config: &crate::config::Config) -> crate::Result<&CrisisConfig> {
    config.section()
}
